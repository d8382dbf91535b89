"""Conv/Linear + BatchNorm fusion against PyTorch and against the unfused pair in eval mode."""
import warnings

import numpy as np
import pytest

import ember


def _trained_pair(module, kind, bias):
    module.manual_seed(0)
    if kind == "conv":
        layer, norm = module.nn.Conv2d(2, 3, 3, bias=bias), module.nn.BatchNorm2d(3)
        shape = (4, 2, 5, 5)
    elif kind == "transpose":
        layer, norm = module.nn.ConvTranspose2d(2, 3, 3, bias=bias), module.nn.BatchNorm2d(3)
        shape = (4, 2, 4, 4)
    else:
        layer, norm = module.nn.Linear(5, 3, bias=bias), module.nn.BatchNorm1d(3)
        shape = (6, 5)
    return layer, norm, shape


@pytest.mark.parametrize("kind", ["conv", "transpose", "linear"])
@pytest.mark.parametrize("bias", [True, False])
def test_fusion_matches_torch_and_the_pair(torch, kind, bias):
    results = []
    states = None
    for module in (torch, ember):
        layer, norm, shape = _trained_pair(module, kind, bias)
        pair = module.nn.Sequential(layer, norm)
        if states is None:
            rng = np.random.default_rng(0)
            norm.weight.data.uniform_(0.5, 1.5)
            norm.bias.data.uniform_(-0.5, 0.5)
            pair.train()
            pair(module.tensor(rng.standard_normal(shape).astype("float32")))
            states = {key: value.numpy().copy() for key, value in pair.state_dict().items()}
        else:
            pair.load_state_dict({key: ember.tensor(value) for key, value in states.items()})
        pair.eval()
        utils = module.nn.utils
        fused = utils.fuse_linear_bn_eval(layer, norm) if kind == "linear" else \
            utils.fuse_conv_bn_eval(layer, norm, transpose=kind == "transpose")
        inputs = module.tensor(np.random.default_rng(1).standard_normal(shape).astype("float32"))
        results.append((fused(inputs).detach().numpy(), pair(inputs).detach().numpy(),
                        fused.weight.detach().numpy(), fused.bias.detach().numpy(),
                        type(fused.weight).__name__))
    theirs, mine = results
    for one, other in zip(mine[:4], theirs[:4]):
        np.testing.assert_allclose(one, other, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mine[0], mine[1], rtol=1e-4, atol=1e-5)
    assert mine[4] == theirs[4] == "Parameter"


def test_fusion_refuses_training_mode_and_deprecated_clip_warns(torch):
    for module in (ember, torch):
        with pytest.raises(AssertionError, match="Fusion only for eval!"):
            module.nn.utils.fuse_conv_bn_eval(module.nn.Conv2d(1, 2, 3),
                                              module.nn.BatchNorm2d(2))
        parameter = module.nn.Parameter(module.ones(2))
        parameter.grad = module.ones(2) * 3
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            norm = module.nn.utils.clip_grad_norm([parameter], 1.0)
        assert caught[0].category is FutureWarning
        assert "clip_grad_norm_" in str(caught[0].message)
        assert abs(float(norm) - np.sqrt(18)) < 1e-5
