"""PyTorch spellings that programs import: torch.nn.attention (sdpa_kernel, SDPBackend, the causal
masks of torch.nn.attention.bias), nn.utils.skip_init, nn.utils.stateless.functional_call and
nn.NLLLoss2d."""
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.backends import cuda as cuda_backends
from ember.nn.attention import SDPBackend, sdpa_kernel
from tests.conftest import assert_close

SWITCHES = (cuda_backends.flash_sdp_enabled, cuda_backends.mem_efficient_sdp_enabled,
            cuda_backends.math_sdp_enabled, cuda_backends.cudnn_sdp_enabled)


def _switches():
    return tuple(switch() for switch in SWITCHES)


@pytest.mark.parametrize("backends, inside", [
    (SDPBackend.MATH, (False, False, True, False)),
    ([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION], (True, True, False, False)),
    ([SDPBackend.CUDNN_ATTENTION], (False, False, False, True))])
def test_sdpa_kernel_sets_and_restores_the_switches_as_torch(torch, backends, inside):
    assert _switches() == (True, True, True, True)
    with sdpa_kernel(backends, set_priority=True):
        assert _switches() == inside
    with torch.nn.attention.sdpa_kernel(getattr(torch.nn.attention.SDPBackend, backends.name)
                                        if isinstance(backends, SDPBackend) else
                                        [getattr(torch.nn.attention.SDPBackend, backend.name)
                                         for backend in backends]):
        theirs = (torch.backends.cuda.flash_sdp_enabled(),
                  torch.backends.cuda.mem_efficient_sdp_enabled(),
                  torch.backends.cuda.math_sdp_enabled(), torch.backends.cuda.cudnn_sdp_enabled())
    assert theirs == inside
    assert _switches() == (True, True, True, True)


def test_sdpa_kernel_leaves_attention_values_unchanged_and_restores_after_errors():
    query, key, value = (ember.randn(2, 3, 4) for _ in range(3))
    expected = nn.functional.scaled_dot_product_attention(query, key, value)
    with pytest.raises(ValueError):
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            assert_close(nn.functional.scaled_dot_product_attention(query, key, value), expected)
            raise ValueError
    assert _switches() == (True, True, True, True)


def test_sdpa_kernel_refuses_other_arguments_like_torch(torch):
    with pytest.raises(AssertionError) as theirs:
        with torch.nn.attention.sdpa_kernel("math"):
            pass
    with pytest.raises(AssertionError) as ours:
        with sdpa_kernel("math"):
            pass
    assert str(ours.value) == str(theirs.value)
    assert {member.name: int(member) for member in SDPBackend} == \
        {name: int(value) for name, value in torch.nn.attention.SDPBackend.__members__.items()}


def test_skip_init_makes_the_module_and_checks_like_torch(torch):
    layer = nn.utils.skip_init(nn.Linear, 3, 4, bias=False)
    assert isinstance(layer, nn.Linear) and layer.weight.shape == (4, 3) and layer.bias is None
    for framework, module in ((torch, torch.nn), (ember, nn)):
        with pytest.raises(RuntimeError, match="Module must support a 'device' arg"):
            module.utils.skip_init(module.ReLU)
        with pytest.raises(RuntimeError, match="Expected a Module; got"):
            module.utils.skip_init(int)


def test_stateless_functional_call_warns_and_calls_like_torch(torch):
    layer = nn.Linear(3, 2)
    weight = ember.ones(2, 3)
    x = ember.arange(6.0).view(2, 3)
    with pytest.warns(FutureWarning, match="torch.func.functional_call"):
        out = nn.utils.stateless.functional_call(layer, {"weight": weight}, (x,))
    assert_close(out, ember.func.functional_call(layer, {"weight": weight}, (x,)))
    assert_close(out, x @ weight.t() + layer.bias)
    their_layer = torch.nn.Linear(3, 2)
    with pytest.warns(FutureWarning, match="torch.func.functional_call"):
        torch.nn.utils.stateless.functional_call(their_layer, {}, (torch.ones(1, 3),))


def test_nll_loss_2d_is_nll_loss_with_torch_deprecation(torch):
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    target = rng.integers(0, 3, (2, 4, 5))
    results = []
    for framework in (ember, torch):
        with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated"):
            loss = framework.nn.NLLLoss2d(ignore_index=1, reduction="sum")
        assert isinstance(loss, framework.nn.NLLLoss)
        results.append(loss(framework.tensor(scores).log_softmax(1), framework.tensor(target)))
    assert_close(*results)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.NLLLoss()


def _causal_biases(lib):
    from importlib import import_module
    bias = import_module(f"{lib.__name__}.nn.attention.bias")
    generator = np.random.default_rng(3)
    query = lib.tensor(generator.standard_normal((1, 2, 3, 4)))
    key = lib.tensor(generator.standard_normal((1, 2, 5, 4)))
    results = []
    for make in (bias.causal_upper_left, bias.causal_lower_right):
        mask = make(3, 5)
        attended = lib.nn.functional.scaled_dot_product_attention(query, key, key,
                                                                  attn_mask=mask)
        results.append((type(mask).__name__, mask.variant.name, mask.seq_len_q,
                        mask.seq_len_kv, mask._materialize().tolist(), attended.numpy()))
    return results


def test_causal_bias_masks_match_torch(torch):
    for ours, theirs in zip(_causal_biases(ember), _causal_biases(torch)):
        assert ours[:5] == theirs[:5]
        np.testing.assert_allclose(ours[5], theirs[5], rtol=1e-10)
