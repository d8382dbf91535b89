"""Muon: its bfloat16 Newton-Schulz iteration and update against PyTorch, its errors, and the
orthogonalisation it is for (without torch)."""
import numpy as np
import pytest

import ember
from ember.optim.muon import zeropower_via_newtonschulz

COEFFICIENTS = (3.4445, -4.775, 2.0315)


def _train(library, weights, inputs, steps, **options):
    parameter = library.tensor(weights.copy(), requires_grad=True)
    data = library.tensor(inputs)
    optimizer = library.optim.Muon([parameter], **options)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = ((data @ parameter.T).tanh() ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    buffer = optimizer.state[parameter]["momentum_buffer"]
    return np.array(losses), parameter.detach().numpy(), buffer.numpy()


@pytest.mark.parametrize("shape", [(24, 40), (40, 24), (16, 16), (64, 128)])
@pytest.mark.parametrize("steps", [0, 1, 2])
def test_newton_schulz_equals_torch_bit_for_bit(shape, steps):
    torch = pytest.importorskip("torch")
    from torch.optim._muon import _zeropower_via_newtonschulz
    grad = np.random.default_rng(sum(shape) + steps).standard_normal(shape).astype(np.float32)
    expected = _zeropower_via_newtonschulz(torch.tensor(grad), COEFFICIENTS, steps, 1e-7)
    np.testing.assert_array_equal(zeropower_via_newtonschulz(grad, COEFFICIENTS, steps, 1e-7),
                                  expected.float().numpy())


@pytest.mark.parametrize("options", [
    {"lr": 0.02},
    {"lr": 0.02, "nesterov": False, "weight_decay": 0.0},
    {"lr": 0.01, "momentum": 0.9, "adjust_lr_fn": "match_rms_adamw"},
    {"lr": 0.02, "ns_steps": 3, "ns_coefficients": (2.0, -1.5, 0.5)},
])
@pytest.mark.parametrize("shape", [(24, 40), (40, 24)])
def test_training_matches_torch(options, shape):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    rng = np.random.default_rng(3)
    weights = rng.standard_normal(shape).astype(np.float32) * 0.3
    inputs = rng.standard_normal((32, shape[1])).astype(np.float32)
    expected = _train(torch, weights, inputs, 8, **options)
    got = _train(ember, weights, inputs, 8, **options)
    # Updates may differ by a bfloat16 ulp where BLAS and MKL sum a float32 product in
    # different orders and land on either side of a rounding boundary.
    np.testing.assert_allclose(got[0][0], expected[0][0], rtol=1e-6)
    np.testing.assert_allclose(got[0], expected[0], rtol=2e-3)
    np.testing.assert_allclose(got[1], expected[1], atol=3e-3)
    np.testing.assert_allclose(got[2], expected[2], rtol=1e-2, atol=1e-5)


def test_errors_match_torch():
    torch = pytest.importorskip("torch")
    for library in (torch, ember):
        with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
            library.optim.Muon([library.zeros(3, requires_grad=True)])
        with pytest.raises(ValueError, match="Learning rate should be >= 0 but is: -1"):
            library.optim.Muon([library.zeros(2, 2, requires_grad=True)], lr=-1)
        with pytest.raises(ValueError, match="Adjust learning rate function x is not supported"):
            library.optim.Muon([library.zeros(2, 2, requires_grad=True)], adjust_lr_fn="x")
        parameter = library.zeros(2, 2, requires_grad=True)
        optimizer = library.optim.Muon([parameter], ns_steps=100)
        parameter.grad = library.ones(2, 2)
        with pytest.raises(ValueError, match="Number of steps must be less than 100"):
            optimizer.step()


def test_update_is_nearly_orthogonal():
    """What Muon is for: the update's singular values are pushed towards 1 (the quintic's fixed
    band is roughly 0.5 to 1.2; PyTorch: "S' ~ Uniform(0.5, 1.5)"), over a 1000x spread."""
    rng = np.random.default_rng(0)
    grad = (rng.standard_normal((32, 8)) @ np.diag([100, 10, 1, 0.1, 1, 1, 5, 50])
            @ rng.standard_normal((8, 48))).astype(np.float32)
    singular = np.linalg.svd(zeropower_via_newtonschulz(grad, COEFFICIENTS, 5, 1e-7),
                             compute_uv=False)
    assert singular[:8].min() > 0.45 and singular[:8].max() < 1.25


def test_state_and_decoupled_weight_decay_without_torch():
    parameter = ember.ones(4, 4, requires_grad=True)
    optimizer = ember.optim.Muon([parameter], lr=0.1, weight_decay=0.5)
    parameter.grad = ember.zeros(4, 4)
    optimizer.step()
    # zero gradient: the update is zero and only the decay 1 - lr * wd acts
    np.testing.assert_array_equal(parameter.detach().numpy(), np.full((4, 4), 0.95, np.float32))
    assert list(optimizer.state[parameter]) == ["momentum_buffer"]
    assert optimizer.state_dict()["param_groups"][0]["ns_steps"] == 5
