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
from tests.conftest import assert_close, assert_raises_like_torch

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


def test_skip_init_draws_no_random_numbers_like_torch(torch):
    """PyTorch's docstring example: later draws are those of a program without the call."""
    def draws(library):
        library.manual_seed(0)
        library.nn.utils.skip_init(library.nn.Linear, 5, 1)
        library.nn.utils.skip_init(library.nn.Conv2d, 2, 3, 3)
        return library.rand(4).numpy()

    np.testing.assert_array_equal(draws(ember), draws(torch))


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


def _lrn_input(library):
    return library.tensor(np.random.default_rng(3).standard_normal((2, 6, 3, 3)))


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_cross_map_lrn2d_forward_and_gradient_like_torch(torch, size):
    """Lua Torch's LRN as PyTorch keeps it, channel 0's square in every window included, and
    its backward."""
    ours = nn.CrossMapLRN2d(size, 0.3, 0.75, 1.5)(_lrn_input(ember))
    theirs = torch.nn.CrossMapLRN2d(size, 0.3, 0.75, 1.5)(_lrn_input(torch))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    assert repr(nn.CrossMapLRN2d(size)) == repr(torch.nn.CrossMapLRN2d(size))
    with pytest.raises(ValueError, match="Expected input to be 4D, got 3D instead"):
        nn.CrossMapLRN2d(size)(ember.ones(2, 3, 4))
    # PyTorch's hand-written backward, not this forward's derivative (ember had given the
    # derivative); size 1 fails in it
    gradients = []
    for fw in (torch, ember):
        x = _lrn_input(fw).requires_grad_()
        loss = fw.nn.CrossMapLRN2d(size, 0.3, 0.75, 1.5)(x).sin().sum()
        gradients.append(lambda fw=fw, loss=loss, x=x: fw.autograd.grad(loss, x)[0].numpy())
    if size == 1:
        assert_raises_like_torch(*gradients, RuntimeError)
        return
    np.testing.assert_allclose(gradients[1](), gradients[0](), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("call", ["create_graph", "vmap", "jacrev"])
def test_cross_map_lrn2d_refuses_what_torch_refuses(torch, call):
    # PyTorch's legacy Function: out= ops in its backward, no setup_context for torch.func
    def attempt(fw):
        layer = fw.nn.CrossMapLRN2d(3, 0.3, 0.75, 1.5)
        x = _lrn_input(fw).requires_grad_()
        if call == "create_graph":
            return lambda: fw.autograd.grad(layer(x).sum(), x, create_graph=True)
        if call == "vmap":
            return lambda: fw.func.vmap(layer)(x.detach().unsqueeze(0))
        return lambda: fw.func.jacrev(layer)(x.detach())
    assert_raises_like_torch(attempt(torch), attempt(ember), RuntimeError, same_type=True)


def test_container_and_factory_kwargs_like_torch(torch):
    for library in (ember, torch):
        with pytest.warns(FutureWarning, match="nn.Container` is deprecated"):
            container = library.nn.Container(a=library.nn.Linear(2, 3))
        assert list(container.state_dict()) == ["a.weight", "a.bias"]
        assert library.nn.factory_kwargs(None) == {}
        assert library.nn.factory_kwargs({"device": "cpu", "dtype": library.float64}) == {
            "device": "cpu", "dtype": library.float64}
        assert library.nn.factory_kwargs({"factory_kwargs": {"dtype": library.float16}}) == {
            "dtype": library.float16}
        with pytest.raises(TypeError, match="unexpected kwargs"):
            library.nn.factory_kwargs({"foo": 1})


def test_functional_spellings_like_torch(torch):
    generator = np.random.default_rng(4)
    values = {"seq": generator.standard_normal((5, 2, 3)), "kernel": generator.standard_normal(
        (3, 3, 4)), "bias": generator.standard_normal(4),
        "volume": generator.standard_normal((1, 2, 4, 4, 4)),
        "image": generator.standard_normal((1, 2, 8, 8))}

    def run(library):
        F = library.nn.functional
        t = {name: library.tensor(value) for name, value in values.items()}
        results = [F.conv_tbc(t["seq"], t["kernel"], t["bias"], pad) for pad in (0, 1, 2, -1)]
        results += list(F.adaptive_max_pool3d_with_indices(t["volume"], 2))
        samples = library.tensor([[[0.3, 0.6], [0.2, 0.9]]], dtype=library.float64)
        results += list(F.fractional_max_pool2d_with_indices(t["image"], 2, output_size=4,
                                                              _random_samples=samples))
        results.append(F.native_channel_shuffle(library.arange(8.0).reshape(1, 4, 2), 2))
        results = [result.numpy() for result in results]
        return results, F.GRID_SAMPLE_INTERPOLATION_MODES, F.GRID_SAMPLE_PADDING_MODES
    ours, theirs = run(ember), run(torch)
    assert ours[1:] == theirs[1:]
    for mine, expected in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)
    with pytest.raises(RuntimeError, match="Input dim 2 \\(input channels\\) is not == dim 1"):
        ember.nn.functional.conv_tbc(ember.ones(5, 2, 3), ember.ones(3, 4, 4), ember.ones(4))
    seq = ember.tensor(values["seq"], requires_grad=True)
    kernel = ember.tensor(values["kernel"], requires_grad=True)
    assert ember.autograd.gradcheck(
        lambda a, w: ember.nn.functional.conv_tbc(a, w, ember.zeros(4, dtype=ember.float64), 1),
        (seq, kernel))


def test_protocol_helpers_are_reexported(torch):
    for library in (ember, torch):
        for namespace in (library.nn.functional, library.autograd):
            assert not namespace.has_torch_function((library.ones(1),))
            assert namespace.handle_torch_function is library.overrides.handle_torch_function
        assert library.autograd.is_tensor_like(library.ones(1))


def test_ldl_factor_and_solve_like_torch(torch):
    """LAPACK's Bunch-Kaufman LD and pivots, the solve, info of a singular matrix, and the
    node without derivative that PyTorch records."""
    matrices = np.array([[[1.0, 2, 3], [2, 1, 0], [3, 0, -4]],
                         [[4.0, 1, 2], [1, 3, 0], [2, 0, 5]]])
    right = np.random.default_rng(5).standard_normal((2, 3, 2))
    results = []
    for library in (ember, torch):
        A = library.tensor(matrices, requires_grad=True)
        LD, pivots = library.linalg.ldl_factor(A)
        X = library.linalg.ldl_solve(LD, pivots, library.tensor(right))
        singular = library.linalg.ldl_factor_ex(library.zeros(2, 2))
        results.append({"LD": LD.detach().numpy(), "X": X.detach().numpy(),
                        "pivots": (pivots.tolist(), str(pivots.dtype).split(".")[1]),
                        "singular": [item.tolist() for item in singular],
                        "node": X.grad_fn.name().endswith("NotImplemented")})
    ours, theirs = results
    np.testing.assert_allclose(ours.pop("LD"), theirs.pop("LD"), rtol=1e-12)
    np.testing.assert_allclose(ours.pop("X"), theirs.pop("X"), rtol=1e-10)
    assert ours == theirs
    with pytest.raises(ember.linalg.LinAlgError):
        ember.linalg.cholesky(-ember.eye(2))
    assert issubclass(ember.linalg.LinAlgError, RuntimeError)


def test_autograd_checkpoint_and_utils_spellings_like_torch(torch):
    for library in (ember, torch):
        autograd = library.autograd
        assert autograd.is_multithreading_enabled() is True
        with autograd.set_multithreading_enabled(False):
            assert autograd.is_multithreading_enabled() is False
        assert autograd.is_multithreading_enabled() is True
        assert autograd.is_view_replay_enabled() is False and autograd.kineto_available()
        assert issubclass(autograd.NestedIOFunction, autograd.Function)
        with pytest.raises(RuntimeError, match="SavedTensor object from Python is forbidden"):
            autograd.SavedTensor()
        checkpoint = library.utils.checkpoint
        assert issubclass(checkpoint.CheckpointError, RuntimeError)
        assert [policy.name for policy in checkpoint.CheckpointPolicy] == [
            "MUST_SAVE", "PREFER_SAVE", "MUST_RECOMPUTE", "PREFER_RECOMPUTE", "MUST_CPU_OFFLOAD",
            "PREFER_CPU_OFFLOAD"]
        with pytest.raises(TypeError, match="must be either a function or a list of ops"):
            checkpoint.create_selective_checkpoint_contexts(3)
        x = library.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
        policy = lambda ctx, op, *args, **kwargs: checkpoint.CheckpointPolicy.MUST_SAVE  # noqa
        y = checkpoint.checkpoint(lambda a: (a @ a).sin(), x, use_reentrant=False,
                                  context_fn=lambda: checkpoint.create_selective_checkpoint_contexts(
                                      policy))
        y.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), (
            np.cos(x.detach().numpy() @ x.detach().numpy()) @ x.detach().numpy().T +
            x.detach().numpy().T @ np.cos(x.detach().numpy() @ x.detach().numpy())), rtol=1e-6)
        params = library.nn.attention.SDPAParams(x, x, x, None, 0.0, False, False)
        assert not library.nn.attention.can_use_flash_attention(params)
        assert not library.nn.attention.can_use_efficient_attention(params)

        def function():
            pass
        library.utils.set_module(function, "somewhere.else")
        assert function.__module__ == "somewhere.else"
        with pytest.raises(TypeError, match="The mod argument should be a string"):
            library.utils.set_module(function, 3)
        first, second = library.ones(2), library.zeros(3, requires_grad=True)
        first.tag = "first"
        library.utils.swap_tensors(first, second)
        assert first.tolist() == [0.0, 0.0, 0.0] and first.requires_grad
        assert second.tag == "first" and not hasattr(first, "tag")
        parameter, plain = library.nn.Parameter(library.ones(2)), library.zeros(2)
        library.utils.swap_tensors(parameter, plain)
        assert type(plain).__name__ == "Parameter" and type(parameter).__name__ == "Tensor"
        batch = library.func.vmap(lambda t: library.func.debug_unwrap(t).sum() * t)(
            library.ones(3, 2))
        assert batch.tolist() == [[6.0, 6.0]] * 3
        model = library.nn.Sequential(library.nn.Conv2d(2, 2, 3),
                                      library.nn.ConvTranspose2d(2, 2, 3))
        assert library.nn.utils.convert_conv2d_weight_memory_format(
            model, library.channels_last) is model
        assert [layer.weight.stride() for layer in model] == [(18, 1, 6, 2)] * 2


def test_module_device_refusals_and_class_attributes_like_torch(torch):
    for library in (ember, torch):
        layer = library.nn.Linear(2, 2)
        empty = library.nn.ReLU()
        for name, error, words in (("xpu", AssertionError, "not compiled with XPU"),
                                   ("mtia", AssertionError, "not compiled with MTIA"),
                                   ("ipu", RuntimeError, "not linked with support for ipu")):
            with pytest.raises(error, match=words):
                getattr(layer, name)()
            assert getattr(empty, name)() is empty
        module_class = library.nn.Module
        assert (module_class.call_super_init, module_class.dump_patches) == (False, False)
        assert module_class.T_destination.__name__ == "T_destination"


def test_dtype_conversions_and_abbreviations_like_torch(torch):
    names = ["float32", "float64", "float16", "bfloat16", "complex64", "complex128", "complex32",
             "int64", "bool", "uint8", "float8_e4m3fn", "int8", "uint16", "qint8", "uint4",
             "bits8", "bits16", "float4_e2m1fn_x2", "quint4x2"]

    def facts(library):
        answers = []
        for name in names:
            dtype = getattr(library, name)
            row = [dtype.abbr, str(dtype.to_real()).split(".")[1]]
            try:
                row.append(str(dtype.to_complex()).split(".")[1])
            except RuntimeError as error:
                row.append(str(error))
            answers.append(row)
        return answers
    assert facts(ember) == facts(torch)


def _conversion_facts(library, flag):
    """What module.double() and load_state_dict do to the parameter objects under a
    torch.__future__ switch (None: the default)."""
    future = library.__future__
    setter = getattr(future, f"set_{flag}_module_params_on_conversion") if flag else None
    if setter:
        setter(True)
    try:
        layer = library.nn.Linear(2, 2)
        weight = layer.weight
        layer.weight.grad = library.ones(2, 2)
        grad = layer.weight.grad
        layer.double()
        facts = [layer.weight is weight, layer.weight.dtype == library.float64,
                 weight.dtype == library.float64, type(layer.weight).__name__,
                 layer.weight.grad is grad, layer.weight.grad.dtype == library.float64,
                 grad.dtype == library.float64]
        state = {key: value.detach().clone() * 0 + 7 for key, value in layer.state_dict().items()}
        before = layer.weight
        layer.load_state_dict(state)
        facts += [layer.weight is before, layer.weight.tolist(), type(layer.weight).__name__,
                  layer.weight.requires_grad]
        return facts
    finally:
        if setter:
            setter(False)


@pytest.mark.parametrize("flag", [None, "overwrite", "swap"])
def test_future_module_conversion_switches_like_torch(torch, flag):
    assert _conversion_facts(ember, flag) == _conversion_facts(torch, flag)
    assert not ember.__future__.get_swap_module_params_on_conversion()
    assert not ember.__future__.get_overwrite_module_params_on_conversion()
