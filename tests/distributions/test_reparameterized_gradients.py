"""Reparameterised gradients of the gamma-based draws (Gamma, Chi2, FisherSnedecor, Beta,
Dirichlet) against torch 2.13 per sample after the same seed, and against the exact implicit
derivative of the draws' quantiles (PyTorch's gradients are approximations of it)."""
import math

import numpy as np
import pytest

import ember
import ember.distributions as distributions

# Concentration rows that reach each of ATen's Dirichlet-gradient regimes: draws near 0 and 1
# (series), both Beta parameters above 6 (saddle point), and the rational fit in between.
DIRICHLET_CONCENTRATIONS = [
    [0.05, 0.05], [0.05, 1.0], [0.3, 2.0, 5.0], [1.0, 1.0], [2.0, 3.0], [0.5, 100.0],
    [10.0, 20.0], [100.0, 100.0], [0.05, 0.2, 100.0], [7.0, 8.0, 9.0], [3.0, 50.0]]
# float64 matches to rounding; float32 takes ATen's series in float32 steps, which ember
# follows, but the last bits of logs, powers and sums differ
TOLERANCES = {"float64": 1e-9, "float32": 5e-5}


def _dirichlet_gradients(module, concentration, dtype, count):
    module.manual_seed(7)
    rows = module.tensor([concentration] * count, dtype=getattr(module, dtype),
                         requires_grad=True)
    draws = module.distributions.Dirichlet(rows).rsample()
    draws.pow(2).sum().backward()
    return draws.detach().numpy(), rows.grad.numpy()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("concentration", DIRICHLET_CONCENTRATIONS)
def test_dirichlet_rsample_gradients_match_torch_per_sample(torch, concentration, dtype):
    """The same draws, and per draw the gradient of PyTorch's _Dirichlet backward."""
    our_draws, ours = _dirichlet_gradients(ember, concentration, dtype, 400)
    their_draws, theirs = _dirichlet_gradients(torch, concentration, dtype, 400)
    np.testing.assert_array_equal(our_draws, their_draws)
    np.testing.assert_allclose(ours, theirs, rtol=TOLERANCES[dtype],
                               atol=TOLERANCES[dtype] * 1e-3 * np.abs(theirs).max())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("concentrations", [(0.05, 0.05), (0.5, 100.0), (2.0, 3.0),
                                            (10.0, 20.0), (100.0, 100.0), (1.0, 0.1)])
def test_beta_rsample_gradients_match_torch_per_sample(torch, concentrations, dtype):
    """Beta draws are the first coordinate of a two-way Dirichlet, as in PyTorch."""
    results = []
    for module in (ember, torch):
        module.manual_seed(11)
        first = module.full((300,), concentrations[0], dtype=getattr(module, dtype),
                            requires_grad=True)
        second = module.full((300,), concentrations[1], dtype=getattr(module, dtype),
                             requires_grad=True)
        draws = module.distributions.Beta(first, second).rsample()
        (draws * module.linspace(-1, 2, 300, dtype=draws.dtype)).sum().backward()
        results.append((draws.detach().numpy(), first.grad.numpy(), second.grad.numpy()))
    (our_draws, *ours), (their_draws, *theirs) = results
    np.testing.assert_array_equal(our_draws, their_draws)
    for our_gradient, their_gradient in zip(ours, theirs):
        np.testing.assert_allclose(our_gradient, their_gradient, rtol=TOLERANCES[dtype],
                                   atol=TOLERANCES[dtype] * 1e-3 * np.abs(their_gradient).max())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_dirichlet_grad_matches_torch_in_every_regime(torch, dtype):
    """torch._dirichlet_grad on points chosen for each branch (x near 0 or 1, both marginal
    parameters above 6 near and away from the mean, the rational fit), total broadcast."""
    x = np.array([1e-6, 0.01, 0.3, 0.999, 0.95, 0.5, 0.52, 0.3, 0.7, 0.2, 0.6, 0.9, 0.45])
    alpha = np.array([0.05, 0.5, 0.2, 3.0, 1.0, 50.0, 50.0, 30.0, 70.0, 1.0, 4.0, 9.0, 2.0])
    total = np.array([1.0, 2.0, 1.0, 3.1, 1.5, 100.0, 100.0, 100.0, 100.0, 4.0, 7.0, 12.0, 5.0])
    ours = ember._dirichlet_grad(*(ember.tensor(a, dtype=getattr(ember, dtype))
                                   for a in (x, alpha, total)))
    theirs = torch._dirichlet_grad(*(torch.tensor(a, dtype=getattr(torch, dtype))
                                     for a in (x, alpha, total)))
    assert ours.dtype == getattr(ember, dtype)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=TOLERANCES[dtype])
    broadcast = ember._dirichlet_grad(ember.tensor([0.3, 0.7]), ember.tensor([0.5, 2.0]),
                                      ember.tensor([2.5]))
    np.testing.assert_allclose(broadcast.numpy(), torch._dirichlet_grad(
        torch.tensor([0.3, 0.7]), torch.tensor([0.5, 2.0]), torch.tensor([2.5])).numpy(),
        rtol=1e-6)


def test_dirichlet_grad_refuses_mixed_dtypes_as_torch(torch):
    arguments = ([0.3, 0.7], [0.5, 2.0], [2.5, 2.5])
    with pytest.raises(RuntimeError) as theirs:
        torch._dirichlet_grad(torch.tensor(arguments[0]),
                              torch.tensor(arguments[1], dtype=torch.float64),
                              torch.tensor(arguments[2]))
    with pytest.raises(RuntimeError) as ours:
        ember._dirichlet_grad(ember.tensor(arguments[0]),
                              ember.tensor(arguments[1], dtype=ember.float64),
                              ember.tensor(arguments[2]))
    assert str(ours.value) == str(theirs.value)


def test_sample_dirichlet_and_standard_gamma_match_torch(torch):
    """torch._sample_dirichlet draws (kept inside (0, 1) in float32) and has no derivative;
    torch._standard_gamma is differentiable; a Dirichlet's gradient is once differentiable."""
    concentration = [0.02, 0.5, 2.0, 0.01]
    results = []
    for module in (ember, torch):
        module.manual_seed(5)
        rows = module.tensor([concentration] * 50, requires_grad=True)
        draws = module._sample_dirichlet(rows)
        with pytest.raises(RuntimeError) as refused:
            draws.sum().backward()
        gammas = module._standard_gamma(rows)
        gammas.sum().backward()
        rsample = module.distributions.Dirichlet(rows).rsample()
        gradient, = module.autograd.grad(rsample[:, 0].sum(), rows, create_graph=True)
        with pytest.raises(RuntimeError) as twice:
            gradient.sum().backward()
        results.append((draws.detach().numpy(), str(refused.value), gammas.detach().numpy(),
                        rows.grad.numpy(), gradient.detach().numpy(), str(twice.value),
                        rsample.grad_fn.name()))
    ours, theirs = results
    for our_item, their_item in zip(ours, theirs):
        if isinstance(their_item, str):
            assert our_item == their_item
        else:
            np.testing.assert_allclose(our_item, their_item, rtol=1e-5, atol=1e-30)
    assert (ours[0] > 0).all() and (ours[0] < 1).all()


def test_standard_gamma_grad_matches_torch_in_every_regime(torch):
    """torch._standard_gamma_grad(alpha, x): draws below 0.8 (series), concentrations above 8
    within and beyond 10% of alpha (saddle point), the rational fit, in both dtypes."""
    alpha = np.array([0.05, 0.3, 1.0, 1.0, 2.5, 7.0, 20.0, 100.0, 100.0, 400.0, 1000.0, 9.0])
    x = np.array([1e-5, 0.2, 0.5, 3.0, 2.0, 9.0, 25.0, 80.0, 105.0, 420.0, 1100.0, 0.5])
    for dtype in ("float64", "float32"):
        ours = ember._standard_gamma_grad(ember.tensor(alpha, dtype=getattr(ember, dtype)),
                                          ember.tensor(x, dtype=getattr(ember, dtype)))
        theirs = torch._standard_gamma_grad(torch.tensor(alpha, dtype=getattr(torch, dtype)),
                                            torch.tensor(x, dtype=getattr(torch, dtype)))
        assert ours.dtype == getattr(ember, dtype)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=TOLERANCES[dtype])


@pytest.mark.parametrize("name", ["Gamma", "Chi2", "FisherSnedecor"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gamma_family_rsample_gradients_match_torch_per_sample(torch, name, dtype):
    """Gamma draws (a small concentration with a rate above 1 clamps some draws to the
    smallest normal number, whose gradients PyTorch keeps), Chi2 and FisherSnedecor."""
    build = {"Gamma": lambda module, c: module.distributions.Gamma(c, c * 0 + 10.0),
             "Chi2": lambda module, c: module.distributions.Chi2(c),
             "FisherSnedecor": lambda module, c: module.distributions.FisherSnedecor(c, 2 * c)}
    # (FisherSnedecor's numerator underflows for df1 = 0.02, where PyTorch's gradients are nan)
    smallest = 0.1 if name == "FisherSnedecor" else 0.02
    values = np.repeat([smallest, 0.4, 3.0, 9.5, 60.0], 60)
    results = []
    for module in (ember, torch):
        module.manual_seed(13)
        concentration = module.tensor(values, dtype=getattr(module, dtype), requires_grad=True)
        draws = build[name](module, concentration).rsample()
        draws.pow(2).sum().backward()
        results.append((draws.detach().numpy(), concentration.grad.numpy()))
    (our_draws, ours), (their_draws, theirs) = results
    np.testing.assert_array_equal(our_draws, their_draws)
    # FisherSnedecor's gradient subtracts nearly equal terms: float32 rounding is relative to
    # the largest gradient of each concentration
    scale = np.abs(theirs).reshape(5, 60).max(axis=1).repeat(60)
    assert (np.abs(ours - theirs) <= TOLERANCES[dtype] * (np.abs(theirs) + 1e-2 * scale)).all()


def _regularized_incomplete_beta(x, a, b):
    """I_x(a, b) = x^a (1 - x)^b / (a B(a, b)) / (1 + d1 / (1 + d2 / (1 + ...))), the
    continued fraction of DLMF 8.17.22 by Lentz's method, reflected past its fast-converging
    side, in float64."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _regularized_incomplete_beta(1.0 - x, b, a)
    log_beta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    fraction, numerator, denominator = 1.0, 1.0, 0.0
    for j in range(1, 2000):
        m = j // 2
        if j % 2:
            d = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        else:
            d = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        denominator = 1.0 / (1.0 + d * denominator)
        numerator = 1.0 + d / numerator
        fraction *= numerator * denominator
        if abs(numerator * denominator - 1.0) < 1e-16:
            break
    return math.exp(a * math.log(x) + b * math.log1p(-x) - log_beta) / (a * fraction)


def _beta_quantile(u, a, b):
    low, high = 0.0, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        if _regularized_incomplete_beta(middle, a, b) < u:
            low = middle
        else:
            high = middle
    return (low + high) / 2


@pytest.mark.parametrize("x, alpha, total", [
    (0.01, 0.5, 2.0), (0.2, 0.3, 1.0), (0.97, 3.0, 3.5), (0.5, 40.0, 80.0), (0.35, 40.0, 80.0),
    (0.3, 1.5, 4.0), (0.6, 4.0, 7.0), (0.8, 9.0, 12.0), (0.1, 0.8, 30.0)])
def test_dirichlet_grad_approximates_the_quantile_derivative(x, alpha, total):
    """_dirichlet_grad is (dx/dalpha) / (1 - x) for a draw x of Beta(alpha, beta), beta =
    total - alpha held fixed (raising alpha_i raises the total): a central difference of the
    quantile at x's CDF value, found by bisection. ATen's series agree to rounding, its
    saddle-point and rational fits to about 5e-4 here."""
    beta = total - alpha
    u = _regularized_incomplete_beta(x, alpha, beta)
    step = 1e-5 * alpha
    derivative = (_beta_quantile(u, alpha + step, beta)
                  - _beta_quantile(u, alpha - step, beta)) / (2 * step)
    ours = ember._dirichlet_grad(ember.tensor([x], dtype=ember.float64),
                                 ember.tensor([alpha], dtype=ember.float64),
                                 ember.tensor([total], dtype=ember.float64))
    np.testing.assert_allclose(ours.numpy(), [derivative / (1 - x)], rtol=1e-3)


def test_dirichlet_rsample_gradient_has_the_mean_derivative():
    """E[dL/dalpha] for L = sum_i w_i x_i is d/dalpha of sum_i w_i alpha_i / total, i.e.
    (w_j - sum_i w_i alpha_i / total) / total: Monte Carlo over 20000 draws."""
    alpha = np.array([0.4, 1.5, 6.0])
    weights = np.array([1.0, -2.0, 0.5])
    count = 20000
    ember.manual_seed(2)
    concentration = ember.tensor(alpha, dtype=ember.float64, requires_grad=True)
    draws = distributions.Dirichlet(concentration).rsample((count,))
    (draws * ember.tensor(weights)).sum().div(count).backward()
    total = alpha.sum()
    expected = (weights - (weights * alpha).sum() / total) / total
    np.testing.assert_allclose(concentration.grad.numpy(), expected, atol=0.01)
    assert np.abs(expected).min() > 0.05


def test_beta_rsample_gradient_has_the_mean_derivative():
    """d E[x] / d(a, b) of Beta(a, b) draws is (b, -a) / (a + b)^2: Monte Carlo."""
    count = 20000
    ember.manual_seed(4)
    first = ember.tensor(0.7, dtype=ember.float64, requires_grad=True)
    second = ember.tensor(2.5, dtype=ember.float64, requires_grad=True)
    distributions.Beta(first, second).rsample((count,)).mean().backward()
    expected = np.array([2.5, -0.7]) / 3.2 ** 2
    np.testing.assert_allclose([first.grad.item(), second.grad.item()], expected, atol=0.005)
