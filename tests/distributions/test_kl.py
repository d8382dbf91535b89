"""kl_divergence against torch 2.13 for every pair ember registers (values and gradients to
both distributions' parameters), and the registry: register_kl, the most specific match,
PyTorch's errors."""
import numpy as np
import pytest

import ember
import ember.distributions as distributions
from tests.conftest import assert_close

RANDOM = np.random.default_rng(4)


def _positive(low=0.5, high=2.0, shape=(2, 3)):
    return RANDOM.uniform(low, high, size=shape)


_FACTORS = RANDOM.normal(size=(2, 2, 3, 3))
_COVARIANCES = _FACTORS @ np.swapaxes(_FACTORS, -1, -2) + np.eye(3)

# family -> (constructor given the module and parameter tensors, parameters of p, of q)
FAMILIES = {
    "Normal": (lambda module, loc, scale: module.Normal(loc, scale),
               [RANDOM.normal(size=(2, 3)), _positive()],
               [RANDOM.normal(size=(2, 3)), _positive()]),
    "Laplace": (lambda module, loc, scale: module.Laplace(loc, scale),
                [RANDOM.normal(size=(2, 3)), _positive()],
                [RANDOM.normal(size=(2, 3)), _positive()]),
    "Exponential": (lambda module, rate: module.Exponential(rate), [_positive()], [_positive()]),
    "Uniform": (lambda module, low, high: module.Uniform(low, high),
                [np.full((2, 3), 0.25), _positive(1.0, 1.5)],
                [np.array([[0.0, 0.5, 0.0]] * 2), _positive(1.6, 2.5)]),
    "Bernoulli": (lambda module, probs: module.Bernoulli(probs=probs),
                  [RANDOM.uniform(0.1, 0.9, size=(2, 3))],
                  [RANDOM.uniform(0.1, 0.9, size=(2, 3))]),
    "Categorical": (lambda module, logits: module.Categorical(logits=logits),
                    [RANDOM.normal(size=(2, 4))], [RANDOM.normal(size=(2, 4))]),
    "OneHotCategorical": (lambda module, probs: module.OneHotCategorical(probs=probs),
                          [RANDOM.uniform(0.1, 1.0, size=(2, 4))],
                          [RANDOM.uniform(0.1, 1.0, size=(2, 4))]),
    "MultivariateNormal": (lambda module, loc, covariance: module.MultivariateNormal(
        loc, covariance_matrix=covariance), [RANDOM.normal(size=(2, 3)), _COVARIANCES[0]],
        [RANDOM.normal(size=(3,)), _COVARIANCES[1]]),
    "Independent": (lambda module, loc, scale: module.Independent(module.Normal(loc, scale), 1),
                    [RANDOM.normal(size=(2, 3)), _positive()],
                    [RANDOM.normal(size=(2, 3)), _positive()]),
    "UnitUniform": (lambda module, low, high: module.Uniform(low, high),
                    [_positive(0.1, 0.3), _positive(0.5, 0.9)],
                    [_positive(0.1, 0.3), _positive(0.5, 0.9)]),
    "Beta": (lambda module, concentration1, concentration0: module.Beta(concentration1,
                                                                        concentration0),
             [_positive(), _positive()], [_positive(), _positive()]),
    "Binomial": (lambda module, probs: module.Binomial(5, probs=probs),
                 [RANDOM.uniform(0.1, 0.9, size=(2, 3))], [RANDOM.uniform(0.1, 0.9, size=(2, 3))]),
    "Dirichlet": (lambda module, concentration: module.Dirichlet(concentration),
                  [_positive(shape=(2, 4))], [_positive(shape=(2, 4))]),
    "Gamma": (lambda module, concentration, rate: module.Gamma(concentration, rate),
              [_positive(), _positive()], [_positive(), _positive()]),
    "Gumbel": (lambda module, loc, scale: module.Gumbel(loc, scale),
               [RANDOM.normal(size=(2, 3)), _positive()],
               [RANDOM.normal(size=(2, 3)), _positive()]),
    "Geometric": (lambda module, probs: module.Geometric(probs=probs),
                  [RANDOM.uniform(0.1, 0.9, size=(2, 3))],
                  [RANDOM.uniform(0.1, 0.9, size=(2, 3))]),
    "HalfNormal": (lambda module, scale: module.HalfNormal(scale), [_positive()], [_positive()]),
    "Pareto": (lambda module, scale, alpha: module.Pareto(scale, alpha),
               [_positive(0.5, 1.0), _positive(2.5, 4.0)],
               [np.array([[0.4, 0.6, 1.5]] * 2), _positive(2.5, 4.0)]),
    "Poisson": (lambda module, rate: module.Poisson(rate), [_positive()], [_positive()]),
    "Cauchy": (lambda module, loc, scale: module.Cauchy(loc, scale),
               [RANDOM.normal(size=(2, 3)), _positive()],
               [RANDOM.normal(size=(2, 3)), _positive()]),
    "LogNormal": (lambda module, loc, scale: module.LogNormal(loc, scale),
                  [RANDOM.normal(size=(2, 3)), _positive()],
                  [RANDOM.normal(size=(2, 3)), _positive()]),
    "LowRankMultivariateNormal": (lambda module, loc, factor, diag:
                                  module.LowRankMultivariateNormal(loc, factor, diag),
                                  [RANDOM.normal(size=(2, 3)), RANDOM.normal(size=(3, 2)),
                                   _positive(shape=(2, 3))],
                                  [RANDOM.normal(size=(3,)), RANDOM.normal(size=(2, 3, 1)),
                                   _positive(shape=(3,))]),
    "ContinuousBernoulli": (lambda module, probs: module.ContinuousBernoulli(probs=probs),
                            [np.array([[0.2, 0.4995, 0.8]] * 2)],
                            [np.array([[0.7, 0.3, 0.5002]] * 2)]),
    "WideUniform": (lambda module, low, high: module.Uniform(low, high),
                    [np.array([[-0.5, 0.2, -1.0]] * 2), np.array([[1.5, 0.9, 2.0]] * 2)],
                    [np.array([[-0.5, 0.2, -1.0]] * 2), np.array([[1.5, 0.9, 2.0]] * 2)]),
}
# UnitUniform and WideUniform are Uniforms placed for the cross pairs
PAIRS = [(family, family) for family in FAMILIES
         if family not in ("UnitUniform", "WideUniform")] + [
    ("Uniform", "Normal"), ("Uniform", "Exponential"), ("Exponential", "Normal"),
    ("Laplace", "Normal"), ("Normal", "Laplace"), ("Normal", "Exponential"),
    ("Normal", "Uniform"), ("Laplace", "Exponential"), ("Laplace", "Uniform"),
    ("Exponential", "Uniform"), ("Bernoulli", "Poisson"), ("Beta", "Pareto"),
    ("Beta", "Exponential"), ("Beta", "Gamma"), ("Beta", "Normal"), ("Beta", "Uniform"),
    ("Beta", "UnitUniform"), ("Exponential", "Beta"), ("Exponential", "Pareto"),
    ("Exponential", "Gamma"), ("Exponential", "Gumbel"), ("Gamma", "Beta"), ("Gamma", "Pareto"),
    ("Gamma", "Uniform"), ("Gamma", "Exponential"), ("Gamma", "Gumbel"), ("Gamma", "Normal"),
    ("Gumbel", "Beta"), ("Gumbel", "Exponential"), ("Gumbel", "Gamma"), ("Gumbel", "Pareto"),
    ("Gumbel", "Uniform"), ("Gumbel", "Normal"), ("Laplace", "Beta"), ("Laplace", "Gamma"),
    ("Laplace", "Pareto"), ("Normal", "Beta"), ("Normal", "Gamma"), ("Normal", "Pareto"),
    ("Normal", "Gumbel"), ("Pareto", "Beta"), ("Pareto", "Uniform"), ("Pareto", "Exponential"),
    ("Pareto", "Gamma"), ("Pareto", "Normal"), ("Poisson", "Bernoulli"), ("Poisson", "Binomial"),
    ("UnitUniform", "Beta"), ("Uniform", "Beta"), ("Uniform", "Gamma"), ("Uniform", "Gumbel"),
    ("Uniform", "Pareto"), ("MultivariateNormal", "LowRankMultivariateNormal"),
    ("LowRankMultivariateNormal", "MultivariateNormal"), ("Beta", "ContinuousBernoulli"),
    ("UnitUniform", "ContinuousBernoulli"), ("Uniform", "ContinuousBernoulli"),
    ("ContinuousBernoulli", "Exponential"), ("ContinuousBernoulli", "Normal"),
    ("ContinuousBernoulli", "Uniform"), ("ContinuousBernoulli", "WideUniform"),
    ("ContinuousBernoulli", "Pareto")] + [
    (family, "ContinuousBernoulli")
    for family in ("Exponential", "Gamma", "Gumbel", "Laplace", "Normal", "Pareto")]


def _build(module, family, parameters, dtype="float64"):
    constructor = FAMILIES[family][0]
    tensors = [module.tensor(parameter.astype(dtype), requires_grad=True)
               for parameter in parameters]
    return tensors, constructor(module.distributions, *tensors)


@pytest.mark.parametrize("family_p, family_q", PAIRS, ids=[f"{p}-{q}" for p, q in PAIRS])
def test_kl_divergence_matches_torch_with_gradients(torch, family_p, family_q):
    parameters_p = FAMILIES[family_p][1]
    parameters_q = FAMILIES[family_q][2]
    our_p_inputs, our_p = _build(ember, family_p, parameters_p)
    our_q_inputs, our_q = _build(ember, family_q, parameters_q)
    their_p_inputs, their_p = _build(torch, family_p, parameters_p)
    their_q_inputs, their_q = _build(torch, family_q, parameters_q)
    ours = distributions.kl_divergence(our_p, our_q)
    theirs = torch.distributions.kl_divergence(their_p, their_q)
    assert_close(ours, theirs, rtol=1e-10, atol=1e-12)
    if not theirs.requires_grad or not np.isfinite(theirs.detach().numpy()).all():
        return
    our_grads = ember.autograd.grad(ours.sum(), our_p_inputs + our_q_inputs, allow_unused=True)
    their_grads = torch.autograd.grad(theirs.sum(), their_p_inputs + their_q_inputs,
                                      allow_unused=True)
    for our_grad, their_grad in zip(our_grads, their_grads):
        if their_grad is None:
            assert our_grad is None or not our_grad.numpy().any()
        else:
            assert_close(our_grad, their_grad, rtol=1e-8, atol=1e-10)


def test_float32_kl_matches_torch(torch):
    parameters_p = FAMILIES["Normal"][1]
    parameters_q = FAMILIES["Normal"][2]
    _, our_p = _build(ember, "Normal", parameters_p, dtype="float32")
    _, our_q = _build(ember, "Normal", parameters_q, dtype="float32")
    _, their_p = _build(torch, "Normal", parameters_p, dtype="float32")
    _, their_q = _build(torch, "Normal", parameters_q, dtype="float32")
    assert_close(distributions.kl_divergence(our_p, our_q),
                 torch.distributions.kl_divergence(their_p, their_q))


def test_kl_edge_cases_match_torch(torch):
    """Probabilities of 0 and 1, and a Uniform outside another, give PyTorch's 0s and infs."""
    probs_p = np.array([0.0, 1.0, 0.3, 0.3])
    probs_q = np.array([0.5, 0.5, 0.0, 1.0])
    assert_close(distributions.kl_divergence(distributions.Bernoulli(ember.tensor(probs_p)),
                                             distributions.Bernoulli(ember.tensor(probs_q))),
                 torch.distributions.kl_divergence(
                     torch.distributions.Bernoulli(torch.tensor(probs_p)),
                     torch.distributions.Bernoulli(torch.tensor(probs_q))))
    weights_p = np.array([[0.0, 0.5, 0.5], [0.2, 0.3, 0.5]])
    weights_q = np.array([[0.2, 0.3, 0.5], [0.0, 0.5, 0.5]])
    assert_close(distributions.kl_divergence(distributions.Categorical(ember.tensor(weights_p)),
                                             distributions.Categorical(ember.tensor(weights_q))),
                 torch.distributions.kl_divergence(
                     torch.distributions.Categorical(torch.tensor(weights_p)),
                     torch.distributions.Categorical(torch.tensor(weights_q))))
    low = np.array([0.0, -1.0])
    high = np.array([1.0, 2.0])
    assert_close(distributions.kl_divergence(
        distributions.Uniform(ember.tensor(low), ember.tensor(high)),
        distributions.Uniform(ember.tensor([-0.5, 0.0]), ember.tensor([1.5, 3.0]))),
        torch.distributions.kl_divergence(
            torch.distributions.Uniform(torch.tensor(low), torch.tensor(high)),
            torch.distributions.Uniform(torch.tensor([-0.5, 0.0]), torch.tensor([1.5, 3.0]))))


def test_an_unregistered_pair_is_not_implemented():
    with pytest.raises(NotImplementedError, match="p type Laplace and q type Bernoulli"):
        distributions.kl_divergence(distributions.Laplace(ember.tensor([0.0]),
                                                          ember.tensor([1.0])),
                                    distributions.Bernoulli(ember.tensor([0.5])))


def test_register_kl_the_most_specific_match_wins():
    class MyNormal(distributions.Normal):
        pass

    p = MyNormal(ember.tensor([0.0]), ember.tensor([1.0]))
    q = distributions.Normal(ember.tensor([1.0]), ember.tensor([1.0]))
    assert_close(distributions.kl_divergence(p, q), ember.tensor([0.5]))

    @distributions.register_kl(MyNormal, distributions.Normal)
    def _kl_mine(p, q):
        return ember.tensor([42.0])

    assert_close(distributions.kl_divergence(p, q), ember.tensor([42.0]))
    assert_close(distributions.kl_divergence(q, q), ember.tensor([0.0]))


def test_an_ambiguous_match_warns():
    class BaseP(distributions.Normal):
        pass

    class DerivedP(BaseP):
        pass

    class DerivedQ(distributions.Normal):
        pass

    distributions.register_kl(BaseP, DerivedQ)(lambda p, q: ember.tensor(1.0))
    distributions.register_kl(DerivedP, distributions.Normal)(lambda p, q: ember.tensor(2.0))
    p = DerivedP(ember.tensor(0.0), ember.tensor(1.0))
    q = DerivedQ(ember.tensor(0.0), ember.tensor(1.0))
    with pytest.warns(RuntimeWarning, match=r"Please register_kl\(DerivedP, DerivedQ\)"):
        distributions.kl_divergence(p, q)


def test_register_kl_refuses_a_non_distribution():
    with pytest.raises(TypeError, match="Expected type_p to be a Distribution subclass"):
        distributions.register_kl(int, distributions.Normal)


EXPONENTIAL_FAMILIES = ["Normal", "Bernoulli", "Exponential", "Gamma", "Poisson", "Beta",
                        "Dirichlet", "ContinuousBernoulli"]


@pytest.mark.parametrize("family", EXPONENTIAL_FAMILIES)
def test_bregman_entropy_and_kl_match_torch(torch, family):
    """ExponentialFamily's entropy and KL, through the log normaliser's gradient, as torch's
    (where the family defines its carrier measure; KL for every family)."""
    _, our_p = _build(ember, family, FAMILIES[family][1])
    _, our_q = _build(ember, family, FAMILIES[family][2])
    _, their_p = _build(torch, family, FAMILIES[family][1])
    _, their_q = _build(torch, family, FAMILIES[family][2])
    assert isinstance(our_p, distributions.ExponentialFamily)
    try:
        their_entropy = torch.distributions.ExponentialFamily.entropy(their_p)
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            distributions.ExponentialFamily.entropy(our_p)
    else:
        assert_close(distributions.ExponentialFamily.entropy(our_p), their_entropy,
                     rtol=1e-10, atol=1e-12)
    from ember.distributions.kl import _kl_expfamily_expfamily
    from torch.distributions.kl import _kl_expfamily_expfamily as torch_kl
    assert_close(_kl_expfamily_expfamily(our_p, our_q), torch_kl(their_p, their_q),
                 rtol=1e-9, atol=1e-10)


def test_an_unregistered_pair_of_exponential_families_is_not_implemented(torch):
    messages = []
    for library in (ember, torch):
        D = library.distributions
        with pytest.raises(NotImplementedError, match="different exponential families") as raised:
            D.kl_divergence(D.Poisson(library.tensor([1.0])),
                            D.Normal(library.tensor([0.0]), library.tensor([1.0])))
        messages.append(str(raised.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("target", ["Gamma", "Chi2", "Beta", "Exponential"])
def test_kl_of_a_uniform_from_zero_is_finite_like_torch(torch, target):
    """PyTorch's x log x is xlogy(x, x), 0 at x = 0: KL(Uniform(0, h) || Gamma) is finite (ember
    gave NaN from 0 * log 0); the values and gradients match torch's."""
    results = []
    for library in (ember, torch):
        float64 = library.float64
        low = library.tensor([0.0, 0.5], dtype=float64, requires_grad=True)
        high = library.tensor([1.0, 1.0], dtype=float64, requires_grad=True)
        two = library.tensor([2.0, 3.0], dtype=float64)
        targets = {"Gamma": lambda: library.distributions.Gamma(two, two - 1),
                   "Chi2": lambda: library.distributions.Chi2(two),
                   "Beta": lambda: library.distributions.Beta(two, two - 1),
                   "Exponential": lambda: library.distributions.Exponential(two)}
        divergence = library.distributions.kl_divergence(
            library.distributions.Uniform(low, high), targets[target]())
        divergence.sum().backward()
        results.append([divergence.detach().numpy(), low.grad.numpy(), high.grad.numpy()])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)
