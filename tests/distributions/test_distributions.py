"""ember.distributions against torch.distributions 2.13 on the same parameters: log_prob,
entropy, moments, cdf/icdf and their gradients to the parameters; sample shapes and statistics
(ember draws other numbers than torch); reparameterised gradients; float64 gradchecks;
validation errors with PyTorch's texts."""
import math

import numpy as np
import pytest

import ember
import ember.distributions as distributions
from ember.autograd import gradcheck
from tests.conftest import assert_close, assert_raises_like_torch

RANDOM = np.random.default_rng(3)
LOC = RANDOM.normal(size=(2, 3))
SCALE = RANDOM.uniform(0.5, 2.0, size=(2, 3))
PROBS = RANDOM.uniform(0.1, 0.9, size=(2, 3))
WEIGHTS = RANDOM.uniform(0.1, 1.0, size=(2, 4))
LOGITS = RANDOM.normal(size=(2, 4))
LOW = RANDOM.uniform(-2.0, -0.5, size=(2, 3))
HIGH = LOW + RANDOM.uniform(0.5, 2.0, size=(2, 3))
RATE = RANDOM.uniform(0.5, 2.0, size=(2, 3))
_FACTOR = RANDOM.normal(size=(2, 3, 3))
COVARIANCE = _FACTOR @ np.swapaxes(_FACTOR, -1, -2) + np.eye(3)
SCALE_TRIL = np.linalg.cholesky(COVARIANCE)
MVN_LOC = RANDOM.normal(size=(2, 3))
CONCENTRATION = RANDOM.uniform(0.3, 3.0, size=(2, 3))
DF = RANDOM.uniform(5.0, 8.0, size=(2, 3))
COUNT = RANDOM.uniform(1.0, 6.0, size=(2, 3))
ALPHA = RANDOM.uniform(0.5, 3.0, size=(2, 4))
_SIMPLEX = RANDOM.uniform(0.1, 1.0, size=(5, 2, 4))


def _multivariate_normal(parameter):
    def build(module, loc, matrix):
        return module.MultivariateNormal(loc, **{parameter: matrix})
    return build


# name, constructor (given the distributions module and the parameter tensors), parameters,
# values to evaluate log_prob at (broadcast against the batch).
CASES = [
    ("Normal", lambda module, loc, scale: module.Normal(loc, scale), [LOC, SCALE],
     RANDOM.normal(size=(5, 2, 3))),
    ("Laplace", lambda module, loc, scale: module.Laplace(loc, scale), [LOC, SCALE],
     RANDOM.normal(size=(5, 2, 3))),
    ("Exponential", lambda module, rate: module.Exponential(rate), [RATE],
     RANDOM.uniform(0.0, 3.0, size=(5, 2, 3))),
    ("Uniform", lambda module, low, high: module.Uniform(low, high), [LOW, HIGH],
     (LOW + HIGH) / 2 + RANDOM.uniform(-0.2, 0.2, size=(5, 2, 3))),
    ("Bernoulli(probs)", lambda module, probs: module.Bernoulli(probs=probs), [PROBS],
     RANDOM.integers(0, 2, size=(5, 2, 3)).astype(float)),
    ("Bernoulli(logits)", lambda module, logits: module.Bernoulli(logits=logits), [LOC],
     RANDOM.integers(0, 2, size=(5, 2, 3)).astype(float)),
    ("Categorical(probs)", lambda module, probs: module.Categorical(probs=probs), [WEIGHTS],
     RANDOM.integers(0, 4, size=(5, 2)).astype(float)),
    ("Categorical(logits)", lambda module, logits: module.Categorical(logits=logits), [LOGITS],
     RANDOM.integers(0, 4, size=(5, 2)).astype(float)),
    ("OneHotCategorical", lambda module, probs: module.OneHotCategorical(probs=probs), [WEIGHTS],
     np.eye(4)[RANDOM.integers(0, 4, size=(5, 2))]),
    ("MultivariateNormal(scale_tril)", _multivariate_normal("scale_tril"), [MVN_LOC, SCALE_TRIL],
     RANDOM.normal(size=(5, 2, 3))),
    ("MultivariateNormal(covariance_matrix)", _multivariate_normal("covariance_matrix"),
     [MVN_LOC, COVARIANCE], RANDOM.normal(size=(5, 2, 3))),
    ("MultivariateNormal(precision_matrix)", _multivariate_normal("precision_matrix"),
     [MVN_LOC, np.linalg.inv(COVARIANCE)], RANDOM.normal(size=(5, 2, 3))),
    ("Independent(Normal)",
     lambda module, loc, scale: module.Independent(module.Normal(loc, scale), 1), [LOC, SCALE],
     RANDOM.normal(size=(5, 2, 3))),
    ("Gamma", lambda module, concentration, rate: module.Gamma(concentration, rate),
     [CONCENTRATION, RATE], RANDOM.uniform(0.05, 4.0, size=(5, 2, 3))),
    ("Chi2", lambda module, df: module.Chi2(df), [DF], RANDOM.uniform(0.5, 12.0, size=(5, 2, 3))),
    ("Beta", lambda module, concentration1, concentration0: module.Beta(concentration1,
                                                                        concentration0),
     [CONCENTRATION, RATE], RANDOM.uniform(0.05, 0.95, size=(5, 2, 3))),
    ("Dirichlet", lambda module, concentration: module.Dirichlet(concentration), [ALPHA],
     _SIMPLEX / _SIMPLEX.sum(-1, keepdims=True)),
    ("Cauchy", lambda module, loc, scale: module.Cauchy(loc, scale), [LOC, SCALE],
     RANDOM.normal(size=(5, 2, 3))),
    ("StudentT", lambda module, df, loc, scale: module.StudentT(df, loc, scale),
     [DF, LOC, SCALE], RANDOM.normal(size=(5, 2, 3))),
    ("Poisson", lambda module, rate: module.Poisson(rate), [RATE],
     RANDOM.integers(0, 6, size=(5, 2, 3)).astype(float)),
    ("Geometric", lambda module, probs: module.Geometric(probs=probs), [PROBS],
     RANDOM.integers(0, 6, size=(5, 2, 3)).astype(float)),
    ("Binomial", lambda module, probs: module.Binomial(10, probs=probs), [PROBS],
     RANDOM.integers(0, 11, size=(5, 2, 3)).astype(float)),
    ("Binomial(logits)", lambda module, count, logits: module.Binomial(count, logits=logits),
     [np.full((2, 3), 7.0), LOC], RANDOM.integers(0, 8, size=(5, 2, 3)).astype(float)),
    ("NegativeBinomial", lambda module, count, probs: module.NegativeBinomial(count, probs),
     [COUNT, PROBS / 2], RANDOM.integers(0, 6, size=(5, 2, 3)).astype(float)),
    ("Multinomial", lambda module, probs: module.Multinomial(10, probs=probs), [WEIGHTS],
     RANDOM.multinomial(10, [0.1, 0.2, 0.3, 0.4], size=(5, 2)).astype(float)),
    ("LogNormal", lambda module, loc, scale: module.LogNormal(loc, scale), [LOC, SCALE / 3],
     RANDOM.uniform(0.1, 4.0, size=(5, 2, 3))),
    ("HalfNormal", lambda module, scale: module.HalfNormal(scale), [SCALE],
     RANDOM.uniform(0.0, 3.0, size=(5, 2, 3))),
    ("HalfCauchy", lambda module, scale: module.HalfCauchy(scale), [SCALE],
     RANDOM.uniform(0.0, 3.0, size=(5, 2, 3))),
    ("Gumbel", lambda module, loc, scale: module.Gumbel(loc, scale), [LOC, SCALE],
     RANDOM.normal(size=(5, 2, 3))),
    ("Weibull", lambda module, scale, concentration: module.Weibull(scale, concentration),
     [SCALE, CONCENTRATION + 0.5], RANDOM.uniform(0.1, 3.0, size=(5, 2, 3))),
    ("Pareto", lambda module, scale, alpha: module.Pareto(scale, alpha), [SCALE / 4, DF],
     RANDOM.uniform(0.5, 3.0, size=(5, 2, 3))),
    ("TransformedDistribution(Normal, [Tanh, Affine])",
     lambda module, loc, scale: module.TransformedDistribution(
         module.Normal(loc, scale),
         [module.TanhTransform(), module.AffineTransform(1.0, scale, event_dim=0)]),
     [LOC, SCALE], 1.0 + SCALE * RANDOM.uniform(-0.9, 0.9, size=(5, 2, 3))),
    ("ContinuousBernoulli", lambda module, probs: module.ContinuousBernoulli(probs=probs),
     [np.array([[0.1, 0.4995, 0.7]] * 2)], RANDOM.uniform(0.05, 0.95, size=(5, 2, 3))),
    ("ContinuousBernoulli(logits)",
     lambda module, logits: module.ContinuousBernoulli(logits=logits), [LOC],
     RANDOM.uniform(0.05, 0.95, size=(5, 2, 3))),
    ("LowRankMultivariateNormal", lambda module, loc, factor, diag:
     module.LowRankMultivariateNormal(loc, factor, diag),
     [MVN_LOC, RANDOM.normal(size=(2, 3, 2)), RANDOM.uniform(0.5, 2.0, size=(2, 3))],
     RANDOM.normal(size=(5, 2, 3))),
    ("MixtureSameFamily", lambda module, logits, loc, scale: module.MixtureSameFamily(
        module.Categorical(logits=logits), module.Normal(loc, scale)),
     [LOGITS[:, :3], LOC, SCALE], RANDOM.normal(size=(5, 2))),
    ("MixtureSameFamily(Independent)", lambda module, logits, loc, scale:
     module.MixtureSameFamily(module.Categorical(logits=logits),
                              module.Independent(module.Normal(loc, scale), 1)),
     [LOGITS[0, :2], LOC, SCALE], RANDOM.normal(size=(5, 1, 3))),
    ("VonMises", lambda module, loc, concentration: module.VonMises(loc, concentration),
     [LOC, np.array([[0.5, 2.0, 3.7], [3.8, 6.0, 12.0]])], RANDOM.uniform(-4, 4, size=(5, 2, 3))),
    ("InverseGamma", lambda module, concentration, rate: module.InverseGamma(concentration,
                                                                            rate),
     [DF, RATE], RANDOM.uniform(0.05, 2.0, size=(5, 2, 3))),
    ("LogisticNormal", lambda module, loc, scale: module.LogisticNormal(loc, scale),
     [LOC, SCALE], _SIMPLEX / _SIMPLEX.sum(-1, keepdims=True)),
    ("FisherSnedecor", lambda module, df1, df2: module.FisherSnedecor(df1, df2),
     [DF, DF + 12], RANDOM.uniform(0.1, 3.0, size=(5, 2, 3))),
    ("Kumaraswamy", lambda module, concentration1, concentration0: module.Kumaraswamy(
        concentration1, concentration0), [CONCENTRATION + 0.5, RATE],
     RANDOM.uniform(0.05, 0.95, size=(5, 2, 3))),
    ("OneHotCategoricalStraightThrough", lambda module, probs:
     module.OneHotCategoricalStraightThrough(probs=probs), [WEIGHTS],
     np.eye(4)[RANDOM.integers(0, 4, size=(5, 2))]),
    ("GeneralizedPareto", lambda module, loc, scale, concentration: module.GeneralizedPareto(
        loc, scale, concentration), [LOC, SCALE, np.array([[0.1, -0.2, 0.05], [0.15, -0.1, 0.2]])],
     LOC + SCALE * RANDOM.uniform(0.05, 1.5, size=(5, 2, 3))),
    ("RelaxedBernoulli", lambda module, temperature, probs: module.RelaxedBernoulli(
        temperature, probs=probs), [np.array(0.7), PROBS],
     RANDOM.uniform(0.05, 0.95, size=(5, 2, 3))),
    ("RelaxedBernoulli(logits)", lambda module, temperature, logits: module.RelaxedBernoulli(
        temperature, logits=logits), [np.array(1.3), LOC],
     RANDOM.uniform(0.05, 0.95, size=(5, 2, 3))),
    ("RelaxedOneHotCategorical", lambda module, temperature, probs:
     module.RelaxedOneHotCategorical(temperature, probs=probs), [np.array(0.6), WEIGHTS],
     _SIMPLEX / _SIMPLEX.sum(-1, keepdims=True)),
    ("TransformedDistribution(Normal, StickBreaking)",
     lambda module, loc, scale: module.TransformedDistribution(
         module.Normal(loc, scale), module.StickBreakingTransform()),
     [LOC, SCALE], _SIMPLEX / _SIMPLEX.sum(-1, keepdims=True)),
]
IDS = [case[0] for case in CASES]
# Parameters that are not differentiable in torch either (the category counts of a value).
DISCRETE_VALUES = ("Bernoulli", "Categorical", "OneHotCategorical")
# Distributions without a finite (or a known, or a linear: VonMises is circular) mean or variance:
# their draws' statistics are checked elsewhere or not at all.
WITHOUT_MOMENTS = ("Cauchy", "HalfCauchy", "VonMises", "LogisticNormal", "RelaxedBernoulli",
                   "RelaxedBernoulli(logits)", "RelaxedOneHotCategorical",
                   "TransformedDistribution(Normal, [Tanh, Affine])",
                   "TransformedDistribution(Normal, StickBreaking)")


def _pair(torch, build, parameters, dtype="float32"):
    ours = [ember.tensor(parameter.astype(dtype), requires_grad=True) for parameter in parameters]
    theirs = [torch.tensor(parameter.astype(dtype), requires_grad=True)
              for parameter in parameters]
    return ours, theirs, build(distributions, *ours), build(torch.distributions, *theirs)


def _value(name, value, module, dtype="float32"):
    if name.startswith("Categorical"):
        return module.tensor(value.astype("int64"))
    return module.tensor(value.astype(dtype))


def _compare_with_grads(ours, theirs, our_inputs, their_inputs, rtol=2e-5, atol=2e-6):
    assert_close(ours, theirs, rtol=rtol, atol=atol)
    weights = np.random.default_rng(5).standard_normal(tuple(theirs.shape)).astype(np.float32)
    our_grads = ember.autograd.grad((ours * ember.tensor(weights)).sum(), our_inputs,
                                    allow_unused=True)
    their_grads = torch_grad(theirs, their_inputs, weights)
    for our_grad, their_grad in zip(our_grads, their_grads):
        if their_grad is None:
            assert our_grad is None or not our_grad.detach().numpy().any()
        else:
            assert_close(our_grad, their_grad, rtol=rtol * 5, atol=atol * 10)


def torch_grad(output, inputs, weights):
    import torch  # the tests that reach here hold the torch fixture: torch is installed
    return torch.autograd.grad((output * torch.tensor(weights)).sum(), inputs, allow_unused=True)


@pytest.mark.parametrize("name, build, parameters, values", CASES, ids=IDS)
def test_shapes_match_torch(torch, name, build, parameters, values):
    _, _, ours, theirs = _pair(torch, build, parameters)
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape)
    assert tuple(ours.event_shape) == tuple(theirs.event_shape)
    for sample_shape in ((), (4,), (2, 5)):
        assert tuple(ours.sample(sample_shape).shape) == tuple(theirs.sample(sample_shape).shape)
    assert ours.has_rsample == theirs.has_rsample
    assert sorted(ours.arg_constraints) == sorted(theirs.arg_constraints)
    for key, constraint in ours.arg_constraints.items():
        assert type(constraint).__name__ == type(theirs.arg_constraints[key]).__name__
    assert type(ours.support).__name__ == type(theirs.support).__name__
    assert ours.support.event_dim == theirs.support.event_dim
    assert ours.support.is_discrete == theirs.support.is_discrete
    if "tensor" not in repr(theirs.support):
        assert repr(ours.support) == repr(theirs.support)
    assert ours.has_enumerate_support == theirs.has_enumerate_support
    expanded = ours.expand((7,) + tuple(ours.batch_shape))
    assert tuple(expanded.batch_shape) == (7,) + tuple(theirs.batch_shape)
    assert tuple(expanded.sample().shape) == tuple(
        theirs.expand((7,) + tuple(theirs.batch_shape)).sample().shape)


@pytest.mark.parametrize("name, build, parameters, values", CASES, ids=IDS)
def test_log_prob_matches_torch_with_gradients(torch, name, build, parameters, values):
    our_inputs, their_inputs, ours, theirs = _pair(torch, build, parameters)
    _compare_with_grads(ours.log_prob(_value(name, values, ember)),
                        theirs.log_prob(_value(name, values, torch)), our_inputs, their_inputs)


@pytest.mark.parametrize("name, build, parameters, values", CASES, ids=IDS)
@pytest.mark.parametrize("statistic", ["entropy", "mean", "variance", "stddev", "mode"])
def test_statistics_match_torch_with_gradients(torch, name, build, parameters, values,
                                               statistic):
    our_inputs, their_inputs, ours, theirs = _pair(torch, build, parameters)

    def statistic_of(distribution):
        return distribution.entropy() if statistic == "entropy" else getattr(distribution,
                                                                             statistic)

    try:
        their_value = statistic_of(theirs)
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            statistic_of(ours)
        return
    our_value = statistic_of(ours)
    if not their_value.requires_grad:
        assert_close(our_value, their_value)
        return
    _compare_with_grads(our_value, their_value, our_inputs, their_inputs)


CDF_CASES = [case for case in CASES
             if case[0] in ("Normal", "Laplace", "Exponential", "Uniform", "Cauchy", "LogNormal",
                            "HalfNormal", "HalfCauchy", "ContinuousBernoulli",
                            "GeneralizedPareto")]


@pytest.mark.parametrize("name, build, parameters, values", CDF_CASES,
                         ids=[case[0] for case in CDF_CASES])
def test_cdf_and_icdf_match_torch(torch, name, build, parameters, values):
    our_inputs, their_inputs, ours, theirs = _pair(torch, build, parameters)
    _compare_with_grads(ours.cdf(_value(name, values, ember)),
                        theirs.cdf(_value(name, values, torch)), our_inputs, their_inputs)
    quantiles = np.random.default_rng(2).uniform(0.05, 0.95, size=(5, 2, 3))
    # fresh distributions: a parameter derived in __init__ (ContinuousBernoulli's clamped probs)
    # holds graph state that the first backward freed
    our_inputs, their_inputs, ours, theirs = _pair(torch, build, parameters)
    _compare_with_grads(ours.icdf(ember.tensor(quantiles.astype("float32"))),
                        theirs.icdf(torch.tensor(quantiles.astype("float32"))),
                        our_inputs, their_inputs)


STATISTICS_CASES = [case for case in CASES if case[0] not in WITHOUT_MOMENTS]


@pytest.mark.parametrize("name, build, parameters, values", STATISTICS_CASES,
                         ids=[case[0] for case in STATISTICS_CASES])
def test_sample_statistics(name, build, parameters, values):
    distribution = build(distributions, *[ember.tensor(parameter) for parameter in parameters])
    draws = distribution.sample((40000,)).double()
    assert not draws.requires_grad
    mean = distribution.mean.double()
    variance = distribution.variance.double()
    if name.startswith("Categorical"):
        probs = distribution.probs.numpy()
        frequencies = np.stack([(draws.numpy() == k).mean(0) for k in range(4)], axis=-1)
        np.testing.assert_allclose(frequencies, probs, atol=0.012)
        return
    tolerance = 5 * np.sqrt(variance.numpy() / 40000) + 1e-9
    np.testing.assert_array_less(np.abs(draws.mean(0).numpy() - mean.numpy()), tolerance)
    spread = draws.var(0).numpy()
    # Tail index near 5 (Pareto's alpha 5-8, GeneralizedPareto's 1/0.2): the sample variance's
    # relative standard error is sqrt((kurtosis + 2) / n), about 4% at 40000 draws (excess
    # kurtosis 71 at alpha 5), so 5 standard errors take 20%.
    rtol = 0.2 if name in ("Pareto", "GeneralizedPareto") else 0.05
    np.testing.assert_allclose(spread, variance.numpy(), rtol=rtol)
    assert bool(distribution.support.check(draws.to(mean.dtype)).all())


RSAMPLE_CASES = [case for case in CASES if case[0] in (
    "Normal", "Laplace", "Exponential", "Uniform", "MultivariateNormal(scale_tril)",
    "MultivariateNormal(covariance_matrix)", "Independent(Normal)", "Gamma", "Chi2", "Beta",
    "Dirichlet", "StudentT", "LogNormal", "HalfNormal", "Gumbel", "Weibull", "Pareto",
    "ContinuousBernoulli(logits)", "LowRankMultivariateNormal", "InverseGamma", "FisherSnedecor",
    "Kumaraswamy", "GeneralizedPareto")]


@pytest.mark.parametrize("name, build, parameters, values", RSAMPLE_CASES,
                         ids=[case[0] for case in RSAMPLE_CASES])
def test_rsample_gradients_estimate_torch_exact_ones(torch, name, build, parameters, values):
    """d/dparameter of the Monte-Carlo mean of x^2 over reparameterised draws estimates
    d/dparameter of E[x^2] = variance + mean^2, which torch gives exactly."""
    our_inputs, their_inputs, ours, theirs = _pair(torch, build, parameters, dtype="float64")
    estimate = ours.rsample((200000,)).pow(2).mean(0).sum()
    exact = (theirs.variance + theirs.mean.pow(2)).sum()
    our_grads = ember.autograd.grad(estimate, our_inputs)
    their_grads = torch.autograd.grad(exact, their_inputs)
    for our_grad, their_grad in zip(our_grads, their_grads):
        if "covariance" in name and their_grad.dim() == 3:
            # Only the symmetric part of a covariance gradient is determined.
            their_grad = (their_grad + their_grad.mT) / 2
            our_grad = (our_grad + our_grad.mT) / 2
        np.testing.assert_allclose(our_grad.numpy(), their_grad.numpy(), atol=0.08, rtol=0.05)


@pytest.mark.parametrize("name, build, parameters, values", CASES, ids=IDS)
def test_float64_gradcheck_of_log_prob_and_entropy(name, build, parameters, values):
    # a count must stay an integer: it is held, not perturbed
    inputs = [ember.tensor(parameter[:1] if parameter.ndim else parameter,
                           requires_grad=not name.startswith("Binomial")
                           or index > 0 or len(parameters) == 1)
              for index, parameter in enumerate(parameters)]
    value = _value(name, values[:2, :1], ember, dtype="float64")

    def log_prob_and_entropy(*tensors):
        distribution = build(distributions, *tensors)
        try:
            entropy = distribution.entropy().sum()
        except NotImplementedError:  # as in torch (Poisson, NegativeBinomial)
            entropy = 0
        return distribution.log_prob(value).sum() + entropy

    if "scale_tril" in name:
        # finite differences also perturb the zeros above the diagonal
        def log_prob_and_entropy(loc, matrix, function=log_prob_and_entropy):
            return function(loc, matrix.tril())
    if "covariance" in name or "precision" in name:
        # a symmetric perturbation keeps the matrix a covariance
        base = inputs[1]
        inputs = [inputs[0]]

        def log_prob_and_entropy(loc, function=log_prob_and_entropy, matrix=base.detach()):
            return function(loc, matrix)
    assert gradcheck(log_prob_and_entropy, inputs)


def test_rsample_of_normal_is_loc_plus_noise_times_scale():
    loc = ember.tensor([0.5, -1.0], requires_grad=True)
    scale = ember.tensor([2.0, 0.5], requires_grad=True)
    draws = distributions.Normal(loc, scale).rsample((3,))
    draws.sum().backward()
    assert_close(loc.grad, ember.tensor([3.0, 3.0]))
    assert_close(scale.grad, ((draws.detach() - loc.detach()) / scale.detach()).sum(0))


def test_sampling_follows_the_generator():
    normal = distributions.Normal(ember.zeros(3), ember.ones(3))
    ember.manual_seed(11)
    first = normal.sample((2,))
    ember.manual_seed(11)
    assert_close(normal.sample((2,)), first)


def test_scalar_parameters_give_an_empty_batch_and_the_default_dtype(torch):
    ours = distributions.Normal(0.0, 1.0)
    theirs = torch.distributions.Normal(0.0, 1.0)
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape) == ()
    assert ours.loc.dtype == ember.float32
    assert_close(ours.log_prob(ember.tensor(0.3)), theirs.log_prob(torch.tensor(0.3)))
    float64 = distributions.Normal(ember.tensor([0.0], dtype=ember.float64), 2.0)
    assert float64.scale.dtype == ember.float64


def test_categorical_normalises_as_torch(torch):
    weights = np.array([[1.0, 3.0, 4.0], [2.0, 2.0, 0.0]], dtype=np.float32)
    ours = distributions.Categorical(probs=ember.tensor(weights))
    theirs = torch.distributions.Categorical(probs=torch.tensor(weights))
    assert_close(ours.probs, theirs.probs)
    assert_close(ours.logits, theirs.logits)
    assert_close(ours.entropy(), theirs.entropy())
    ours = distributions.Categorical(logits=ember.tensor(weights))
    theirs = torch.distributions.Categorical(logits=torch.tensor(weights))
    assert_close(ours.logits, theirs.logits)
    assert_close(ours.probs, theirs.probs)
    assert_close(ours.enumerate_support(), theirs.enumerate_support())
    assert_close(ours.enumerate_support(expand=False), theirs.enumerate_support(expand=False))


@pytest.mark.parametrize("family", ["Categorical", "Bernoulli", "OneHotCategorical"])
def test_entropy_after_sample_carries_the_gradient_as_torch(torch, family):
    """sample() reads the derived probs under no_grad; PyTorch computes lazy properties with grad
    enabled, so a later entropy() (the PPO pattern) still reaches the logits."""
    def gradient(library):
        logits = library.tensor([[0.3, -1.2, 2.0], [1.5, 0.1, -0.4]], requires_grad=True)
        distribution = getattr(library.distributions, family)(logits=logits)
        library.manual_seed(0)
        distribution.sample()
        distribution.entropy().sum().backward()
        return logits.grad

    ours, theirs = gradient(ember), gradient(torch)
    assert theirs.abs().max() > 0.01
    assert_close(ours, theirs)


def test_bernoulli_mode_and_support(torch):
    probs = np.array([0.2, 0.5, 0.9], dtype=np.float32)
    ours = distributions.Bernoulli(probs=ember.tensor(probs))
    theirs = torch.distributions.Bernoulli(probs=torch.tensor(probs))
    assert_close(ours.mode, theirs.mode)
    assert_close(ours.logits, theirs.logits)
    assert_close(ours.enumerate_support(), theirs.enumerate_support())


def test_one_hot_categorical_support(torch):
    probs = np.array([[0.2, 0.3, 0.5]], dtype=np.float32)
    ours = distributions.OneHotCategorical(probs=ember.tensor(probs))
    theirs = torch.distributions.OneHotCategorical(probs=torch.tensor(probs))
    assert_close(ours.enumerate_support(), theirs.enumerate_support())
    assert_close(ours.mode, theirs.mode)
    assert bool(ours.support.check(ours.sample((10,))).all())


def test_multivariate_normal_derived_matrices_match_torch(torch):
    loc = MVN_LOC.astype(np.float64)
    ours = distributions.MultivariateNormal(ember.tensor(loc),
                                            covariance_matrix=ember.tensor(COVARIANCE))
    theirs = torch.distributions.MultivariateNormal(torch.tensor(loc),
                                                    covariance_matrix=torch.tensor(COVARIANCE))
    for name in ("scale_tril", "covariance_matrix", "precision_matrix"):
        assert_close(getattr(ours, name), getattr(theirs, name), rtol=1e-10, atol=1e-12)
    batched = distributions.MultivariateNormal(ember.zeros(3, dtype=ember.float64),
                                               scale_tril=ember.tensor(SCALE_TRIL))
    assert tuple(batched.batch_shape) == (2,)
    assert tuple(batched.loc.shape) == (2, 3)


@pytest.fixture
def validating_torch(torch):
    """torch with argument validation on: importing torch._dynamo (torch.compile, ...) turns
    PyTorch's default off for the rest of the process."""
    default = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(True)
    yield torch
    torch.distributions.Distribution.set_default_validate_args(default)


def _messages(torch, ours_call, theirs_call, error=ValueError):
    with pytest.raises(error) as our_error:
        ours_call(distributions)
    with pytest.raises(error) as their_error:
        theirs_call(torch.distributions)
    return str(our_error.value).replace("ember.", "torch."), str(their_error.value)


VALIDATION = [
    ("negative scale", lambda module, t: module.Normal(t([0.0, 1.0]), t([1.0, -1.0]))),
    ("probs above 1", lambda module, t: module.Bernoulli(probs=t([0.5, 1.5]))),
    ("both probs and logits", lambda module, t: module.Bernoulli(probs=t([0.5]),
                                                                 logits=t([0.0]))),
    ("neither probs nor logits", lambda module, t: module.Categorical()),
    ("0-d probs", lambda module, t: module.Categorical(probs=t(0.5))),
    ("negative category weight", lambda module, t: module.Categorical(probs=t([0.5, -0.1]))),
    ("low above high", lambda module, t: module.Uniform(t([0.0, 2.0]), t([1.0, 1.0]))),
    ("non-positive rate", lambda module, t: module.Exponential(t([0.0]))),
    ("two matrices", lambda module, t: module.MultivariateNormal(
        t([0.0, 0.0]), covariance_matrix=t([[1.0, 0.0], [0.0, 1.0]]),
        scale_tril=t([[1.0, 0.0], [0.0, 1.0]]))),
    ("0-d loc", lambda module, t: module.MultivariateNormal(t(0.0), scale_tril=t([[1.0]]))),
    ("not lower triangular", lambda module, t: module.MultivariateNormal(
        t([0.0, 0.0]), scale_tril=t([[1.0, 0.5], [0.0, 1.0]]))),
    ("not positive definite", lambda module, t: module.MultivariateNormal(
        t([0.0, 0.0]), covariance_matrix=t([[1.0, 2.0], [2.0, 1.0]]))),
    ("too many reinterpreted dims", lambda module, t: module.Independent(
        module.Normal(t([0.0]), t([1.0])), 2)),
    ("negative gamma rate", lambda module, t: module.Gamma(t([1.0]), t([-1.0]))),
    ("negative beta concentration", lambda module, t: module.Beta(t([1.0, -2.0]), t([1.0, 1.0]))),
    ("0-d dirichlet", lambda module, t: module.Dirichlet(t(1.0))),
    ("negative df", lambda module, t: module.StudentT(t([-1.0]))),
    ("negative poisson rate", lambda module, t: module.Poisson(t([-1.0]))),
    ("zero geometric probs", lambda module, t: module.Geometric(t([0.5, 0.0]))),
    ("fractional binomial count", lambda module, t: module.Binomial(t([2.5]), t([0.5]))),
    ("negative binomial probs of 1", lambda module, t: module.NegativeBinomial(t([2.0]),
                                                                               t([1.0]))),
    ("multinomial probs", lambda module, t: module.Multinomial(3, t([0.5, -0.5]))),
    ("wishart df", lambda module, t: module.Wishart(t([1.0]), covariance_matrix=t(
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))),
    ("lkj dim", lambda module, t: module.LKJCholesky(1, t(1.0))),
]


@pytest.mark.parametrize("what, build", VALIDATION, ids=[row[0] for row in VALIDATION])
def test_invalid_parameters_raise_torch_value_errors(validating_torch, what, build):
    torch = validating_torch
    ours, theirs = _messages(torch, lambda module: build(module, ember.tensor),
                             lambda module: build(module, torch.tensor))
    assert ours == theirs


SAMPLE_VALIDATION = [
    ("outside the support", lambda module, t: module.Exponential(t([1.0])), lambda t: t([-1.0])),
    ("not a tensor", lambda module, t: module.Normal(t([0.0]), t([1.0])), lambda t: 0.5),
    ("event shape", lambda module, t: module.MultivariateNormal(
        t([0.0, 0.0]), scale_tril=t([[1.0, 0.0], [0.0, 1.0]])), lambda t: t([1.0, 2.0, 3.0])),
    ("not broadcastable", lambda module, t: module.Normal(t([0.0, 1.0]), t([1.0, 1.0])),
     lambda t: t([1.0, 2.0, 3.0])),
    ("not a category", lambda module, t: module.Categorical(probs=t([0.5, 0.5])),
     lambda t: t([2])),
    ("not a count", lambda module, t: module.Poisson(t([1.0])), lambda t: t([1.5])),
    ("more than total_count", lambda module, t: module.Binomial(3, t([0.5])), lambda t: t([4.0])),
    ("off the simplex", lambda module, t: module.Dirichlet(t([1.0, 2.0])),
     lambda t: t([0.5, 0.6])),
    ("outside [0, 1]", lambda module, t: module.Beta(t([1.0]), t([2.0])), lambda t: t([1.5])),
]


@pytest.mark.parametrize("what, build, value", SAMPLE_VALIDATION,
                         ids=[row[0] for row in SAMPLE_VALIDATION])
def test_invalid_values_raise_torch_value_errors(validating_torch, what, build, value):
    torch = validating_torch
    ours, theirs = _messages(torch,
                             lambda module: build(module, ember.tensor).log_prob(
                                 value(ember.tensor)),
                             lambda module: build(module, torch.tensor).log_prob(
                                 value(torch.tensor)))
    assert ours == theirs


def test_validate_args_false_skips_the_checks(torch):
    ours = distributions.Normal(ember.tensor([0.0]), ember.tensor([-1.0]), validate_args=False)
    theirs = torch.distributions.Normal(torch.tensor([0.0]), torch.tensor([-1.0]),
                                        validate_args=False)
    assert_close(ours.log_prob(ember.tensor([0.3])), theirs.log_prob(torch.tensor([0.3])))


def test_set_default_validate_args():
    distributions.Distribution.set_default_validate_args(False)
    try:
        distributions.Exponential(ember.tensor([-1.0]))
    finally:
        distributions.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        distributions.Exponential(ember.tensor([-1.0]))
    with pytest.raises(ValueError):
        distributions.Distribution.set_default_validate_args(2)


def test_repr_and_constraints_repr_match_torch(torch):
    ours = distributions.Normal(ember.tensor(0.0), ember.tensor(1.0))
    theirs = torch.distributions.Normal(torch.tensor(0.0), torch.tensor(1.0))
    assert repr(ours) == repr(theirs)
    ours = distributions.Independent(distributions.Uniform(ember.zeros(2), ember.ones(2)), 1)
    theirs = torch.distributions.Independent(
        torch.distributions.Uniform(torch.zeros(2), torch.ones(2)), 1)
    assert repr(ours).replace("ember.", "torch.") == repr(theirs)
    for name in ("real", "positive", "unit_interval", "simplex", "boolean", "lower_cholesky",
                 "positive_definite", "real_vector", "nonnegative", "one_hot"):
        assert repr(getattr(distributions.constraints, name)) == \
            repr(getattr(torch.distributions.constraints, name))
    assert repr(ours.support) == repr(theirs.support).replace("tensor", "tensor")


def test_standard_gamma_gradient_is_the_derivative_of_the_quantile():
    """d draw / d a at a fixed CDF value u is d/da of the quantile P^-1(a, u): a central finite
    difference of the quantile, found by bisection on the series of the CDF. The gradient is
    PyTorch's approximation: its six-term series (draws below 0.8) good to about 1e-5 there, its
    saddle-point expansion (a > 8) and rational fit to about 1e-4."""
    from ember.distributions.gamma import standard_gamma_gradient

    def lower_regularized_gamma(a, x):
        # exp(-x) sum_n x^(a+n) / Gamma(a+n+1), summed in float64
        term = np.exp(a * np.log(x) - x - math.lgamma(a + 1))
        total = term
        for n in range(1, 400):
            term = term * x / (a + n)
            total += term
        return total

    def quantile(a, u):
        low, high = 1e-12, 120.0
        for _ in range(200):
            middle = (low + high) / 2
            if lower_regularized_gamma(a, middle) < u:
                low = middle
            else:
                high = middle
        return (low + high) / 2

    for a, x, rtol in ((1.0, 0.7, 1e-5), (0.4, 0.05, 1e-5), (3.0, 4.5, 2e-4), (0.5, 2.0, 2e-4),
                       (12.0, 10.0, 2e-4), (12.0, 12.5, 2e-4), (30.0, 50.0, 2e-4)):
        u = lower_regularized_gamma(a, x)
        step = 1e-5
        expected = (quantile(a + step, u) - quantile(a - step, u)) / (2 * step)
        np.testing.assert_allclose(standard_gamma_gradient(np.array([a]), np.array([x])),
                                   [expected], rtol=rtol)


def test_relaxed_draws_round_to_their_discrete_distributions():
    """The Gumbel-max property: the argmax of a RelaxedOneHotCategorical draw is
    Categorical(probs) at any temperature, and a RelaxedBernoulli draw exceeds 1/2 with
    probability probs."""
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    relaxed = distributions.RelaxedOneHotCategorical(ember.tensor(2.0), probs=ember.tensor(probs))
    draws = relaxed.sample((40000,))
    assert bool(relaxed.support.check(draws).all())
    frequencies = np.bincount(draws.argmax(-1).numpy(), minlength=4) / 40000
    np.testing.assert_allclose(frequencies, probs, atol=0.012)
    bernoulli_probs = np.array([0.2, 0.7])
    relaxed = distributions.RelaxedBernoulli(ember.tensor(0.5), probs=ember.tensor(bernoulli_probs))
    draws = relaxed.rsample((40000,))
    np.testing.assert_allclose((draws.numpy() > 0.5).mean(0), bernoulli_probs, atol=0.012)


def test_von_mises_draws_have_the_circular_moments():
    """E[cos(x - loc)] = I1(k) / I0(k) = 1 - circular variance, and E[sin(x - loc)] = 0."""
    loc = np.array([0.5, -2.0, 3.0])
    concentration = np.array([0.3, 2.0, 20.0])
    von_mises = distributions.VonMises(ember.tensor(loc), ember.tensor(concentration))
    draws = von_mises.sample((40000,)).numpy()
    assert ((draws >= -np.pi) & (draws < np.pi)).all()
    np.testing.assert_allclose(np.cos(draws - loc).mean(0), 1 - von_mises.variance.numpy(),
                               atol=0.01)
    np.testing.assert_allclose(np.sin(draws - loc).mean(0), 0.0, atol=0.01)


def test_straight_through_gradient_matches_torch(torch):
    """rsample is the one-hot draw forward and the probabilities' gradient backward, whatever
    was drawn."""
    weights = np.random.default_rng(1).standard_normal((5, 2, 4))
    ours_input = ember.tensor(WEIGHTS, requires_grad=True)
    theirs_input = torch.tensor(WEIGHTS, requires_grad=True)
    ours = distributions.OneHotCategoricalStraightThrough(probs=ours_input).rsample((5,))
    theirs = torch.distributions.OneHotCategoricalStraightThrough(
        probs=theirs_input).rsample((5,))
    assert bool(distributions.constraints.one_hot.check(ours.detach()).all())
    (our_grad,) = ember.autograd.grad((ours * ember.tensor(weights)).sum(), [ours_input])
    (their_grad,) = torch.autograd.grad((theirs * torch.tensor(weights)).sum(), [theirs_input])
    assert_close(our_grad, their_grad, rtol=1e-10, atol=1e-12)


def test_lkj_cholesky_matches_torch(torch):
    """log_prob and its gradient to the concentration as torch's; draws are correlation
    Cholesky factors whose correlations have the LKJ marginal, Beta(eta - 1 + d / 2) on
    [-1, 1], mean 0 and variance 1 / (2 eta + d - 1)."""
    concentration = np.array([0.5, 2.0])
    our_concentration = ember.tensor(concentration, requires_grad=True)
    their_concentration = torch.tensor(concentration, requires_grad=True)
    ours = distributions.LKJCholesky(3, our_concentration)
    theirs = torch.distributions.LKJCholesky(3, their_concentration)
    assert tuple(ours.event_shape) == tuple(theirs.event_shape) == (3, 3)
    values = theirs.sample((4,)).numpy()
    our_log_prob = ours.log_prob(ember.tensor(values))
    their_log_prob = theirs.log_prob(torch.tensor(values))
    assert_close(our_log_prob, their_log_prob, rtol=1e-10, atol=1e-12)
    (our_grad,) = ember.autograd.grad(our_log_prob.sum(), [our_concentration])
    (their_grad,) = torch.autograd.grad(their_log_prob.sum(), [their_concentration])
    assert_close(our_grad, their_grad, rtol=1e-10, atol=1e-12)
    draws = ours.sample((20000,))
    assert tuple(draws.shape) == (20000, 2, 3, 3)
    assert bool(ours.support.check(draws).all())
    correlations = (draws @ draws.mT).numpy()[..., 1, 0]
    np.testing.assert_allclose(correlations.mean(0), 0.0, atol=0.02)
    np.testing.assert_allclose(correlations.var(0), 1 / (2 * concentration + 2), rtol=0.05)
    assert tuple(ours.expand((5, 2)).sample().shape) == (5, 2, 3, 3)


def test_generalized_pareto_at_concentration_zero_matches_torch(torch):
    """At concentration 0 every formula takes its limit, the exponential tail (float32: torch
    2.13's GeneralizedPareto compares float64 parameters with a float32 zero and fails)."""
    parameters = (np.array([0.5, -1.0], dtype=np.float32), np.array([2.0, 0.5], dtype=np.float32),
                  np.zeros(2, dtype=np.float32))
    ours = distributions.GeneralizedPareto(*[ember.tensor(p) for p in parameters])
    theirs = torch.distributions.GeneralizedPareto(*[torch.tensor(p) for p in parameters])
    values = np.array([[0.7, -0.5], [3.0, 0.2]], dtype=np.float32)
    quantiles = np.array([0.1, 0.9], dtype=np.float32)
    assert_close(ours.log_prob(ember.tensor(values)), theirs.log_prob(torch.tensor(values)))
    assert_close(ours.cdf(ember.tensor(values)), theirs.cdf(torch.tensor(values)))
    assert_close(ours.icdf(ember.tensor(quantiles)), theirs.icdf(torch.tensor(quantiles)))
    assert_close(ours.entropy(), theirs.entropy())


WISHART_PARAMETERS = ["covariance_matrix", "precision_matrix", "scale_tril"]


@pytest.mark.parametrize("parameter", WISHART_PARAMETERS)
def test_wishart_matches_torch(torch, parameter):
    """log_prob, entropy, moments and their gradients as torch's; draws average to the mean
    df * covariance."""
    matrix = {"covariance_matrix": COVARIANCE, "precision_matrix": np.linalg.inv(COVARIANCE),
              "scale_tril": SCALE_TRIL}[parameter]
    df = np.array([4.5, 6.0])
    our_inputs = [ember.tensor(df, requires_grad=True), ember.tensor(matrix)]
    their_inputs = [torch.tensor(df, requires_grad=True), torch.tensor(matrix)]
    ours = distributions.Wishart(our_inputs[0], **{parameter: our_inputs[1]})
    theirs = torch.distributions.Wishart(their_inputs[0], **{parameter: their_inputs[1]})
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape) == (2,)
    for name in ("scale_tril", "covariance_matrix", "precision_matrix", "mean", "mode",
                 "variance"):
        assert_close(getattr(ours, name), getattr(theirs, name), rtol=1e-9, atol=1e-10)
    values = (COVARIANCE * 3 + np.eye(3))[None].repeat(4, 0)
    for our_value, their_value in ((ours.log_prob(ember.tensor(values)),
                                    theirs.log_prob(torch.tensor(values))),
                                   (ours.entropy(), theirs.entropy())):
        assert_close(our_value, their_value, rtol=1e-9, atol=1e-10)
        (our_grad,) = ember.autograd.grad(our_value.sum(), our_inputs[:1])
        (their_grad,) = torch.autograd.grad(their_value.sum(), their_inputs[:1])
        assert_close(our_grad, their_grad, rtol=1e-8, atol=1e-10)
    draws = ours.sample((20000,))
    assert bool(ours.support.check(draws).all())
    mean = ours.mean.detach().numpy()
    np.testing.assert_allclose(draws.mean(0).numpy(), mean, atol=0.05 * np.abs(mean).max())


def test_wishart_rsample_gradient_estimates_torch_exact_one(torch):
    """d/d df of the Monte-Carlo mean of the draws' trace estimates d/d df of df * trace(S)."""
    df = ember.tensor([4.5], requires_grad=True)
    draws = distributions.Wishart(df, covariance_matrix=ember.tensor(COVARIANCE[0])).rsample(
        (40000,))
    (our_grad,) = ember.autograd.grad(draws.diagonal(dim1=-2, dim2=-1).sum(-1).mean(), [df])
    np.testing.assert_allclose(our_grad.numpy(), [np.trace(COVARIANCE[0])], rtol=0.05)


@pytest.mark.parametrize("dtype", ["int64", "int32", "float32", "bool"])
def test_integer_interval_support_checks_actions_as_torch(validating_torch, dtype):
    """CleanRL's PPO: ``Categorical(logits=...).log_prob(actions)`` with int64 actions (sampled),
    float ones (a stored buffer cast with .long() or not), and out-of-range or fractional ones."""
    torch = validating_torch
    random = np.random.default_rng(11)
    logits = random.standard_normal((6, 3)).astype(np.float32)
    actions = np.array([0, 2, 1, 1, 0, 2]).astype(dtype if dtype != "bool" else "int64")
    if dtype == "bool":
        actions = actions.astype(bool)
    for values in (actions, np.array([0, 3, 1, 1, 0, 2]).astype(actions.dtype)):
        results = []
        for fw in (ember, torch):
            support = fw.distributions.Categorical(logits=fw.tensor(logits)).support
            inside = support.check(fw.tensor(values))
            try:
                log_prob = fw.distributions.Categorical(logits=fw.tensor(logits)).log_prob(
                    fw.tensor(values)).numpy()
            except ValueError as error:
                log_prob = type(error)
            results.append((inside.numpy(), log_prob))
        (our_inside, our_log_prob), (their_inside, their_log_prob) = results
        np.testing.assert_array_equal(our_inside, their_inside)
        if isinstance(their_log_prob, type):
            assert our_log_prob is their_log_prob
        else:
            np.testing.assert_allclose(our_log_prob, their_log_prob, rtol=1e-6)
    half = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(
        distributions.constraints.integer_interval(0, 2).check(ember.tensor(half)).numpy(),
        torch.distributions.constraints.integer_interval(0, 2).check(torch.tensor(half)).numpy())


def test_categorical_log_prob_broadcasts_values_as_torch(torch):
    """Values of the batch shape gather directly; others broadcast against the batch first."""
    logits = np.linspace(-2, 2, 18).reshape(6, 3)
    for values in ([0, 2, 1, 1, 0, 2], [[0, 2, 1, 1, 0, 2], [1, 1, 1, 0, 0, 0]], [2], 1):
        ours = distributions.Categorical(logits=ember.tensor(logits)).log_prob(
            ember.tensor(values))
        theirs = torch.distributions.Categorical(logits=torch.tensor(logits)).log_prob(
            torch.tensor(values))
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    picks = ember.tensor([[0, 2, 1, 1, 0, 2], [1, 1, 1, 0, 0, 0]])
    for taken in (picks[0], picks):
        assert gradcheck(lambda x: distributions.Categorical(logits=x).log_prob(taken),
                         (ember.tensor(logits, requires_grad=True),))


def test_parameter_checks_of_tensors_requiring_grad_match_torch(validating_torch):
    """minimalRL's PPO builds Categorical(probs) from a softmax output that requires grad: the
    simplex check (run without recording) accepts it and refuses bad ones as torch does."""
    torch = validating_torch
    for fw in (ember, torch):
        logits = fw.tensor([0.5, -1.0, 2.0], requires_grad=True)
        probs = fw.softmax(logits, 0)
        dist = fw.distributions.Categorical(probs)
        assert dist.probs.grad_fn is not None
        dist.log_prob(fw.tensor(2)).backward()
        np.testing.assert_allclose(logits.grad.numpy(), (np.eye(3)[2] - probs.detach().numpy()),
                                   rtol=1e-6, atol=1e-7)
        with pytest.raises(ValueError, match="Expected parameter probs"):
            fw.distributions.Categorical(probs=fw.tensor([[0.5, -0.1]], requires_grad=True) * 1)
        with pytest.raises(ValueError, match="Expected parameter scale"):
            fw.distributions.Normal(fw.zeros(2), fw.tensor([1.0, -1.0], requires_grad=True))


def test_poisson_samples_refuse_integer_rates_as_torch(torch):
    """Poisson.sample draws through torch.poisson, which has no integer or bool kernel."""
    for values in ([2, 5], [True, False]):
        with pytest.raises(NotImplementedError) as ours:
            distributions.Poisson(ember.tensor(values)).sample()
        with pytest.raises(NotImplementedError) as theirs:
            torch.distributions.Poisson(torch.tensor(values)).sample()
        assert str(ours.value) == str(theirs.value)
    ember.manual_seed(3)
    torch.manual_seed(3)
    assert distributions.Poisson(ember.tensor([2.0, 5.0])).sample((3,)).tolist() == \
        torch.distributions.Poisson(torch.tensor([2.0, 5.0])).sample((3,)).tolist()


@pytest.mark.parametrize("name, args", [
    ("Normal", ()), ("Normal", (0.0,)), ("Laplace", (0.0,)), ("Cauchy", ()), ("HalfNormal", ()),
    ("HalfCauchy", ()), ("Normal", (0.0, 1.0, 1.0, 1.0)), ("HalfNormal", (1.0, 1.0, 1.0))])
def test_wrong_argument_count_names_the_distribution_like_torch(torch, name, args):
    """Each family has its own __init__, so Python's TypeError names it ('Normal.__init__()
    missing 1 required positional argument: 'scale''), as PyTorch's."""
    assert_raises_like_torch(lambda: getattr(torch.distributions, name)(*args),
                             lambda: getattr(distributions, name)(*args), TypeError,
                             same_type=True)


@pytest.mark.parametrize("name", ["Normal", "Laplace", "Cauchy", "HalfNormal", "HalfCauchy"])
def test_subclass_with_own_init_must_define_expand_like_torch(torch, name):
    """expand() of a subclass whose __init__ differs from the family's is refused, naming the
    family; a plain subclass expands to its own type."""
    def expanded(library, custom):
        family = getattr(library.distributions, name)
        half = name.startswith("Half")
        parameters = (library.ones(2),) if half else (library.zeros(2), library.ones(2))
        namespace = {"__init__": lambda self, *values: family.__init__(self, *values)}
        subclass = type("Mine", (family,), namespace if custom else {})
        result = subclass(*parameters).expand((3, 2))
        return type(result).__name__, tuple(result.batch_shape), result.mean.numpy()

    assert_raises_like_torch(lambda: expanded(torch, True), lambda: expanded(ember, True),
                             NotImplementedError)
    ours, theirs = expanded(ember, False), expanded(torch, False)
    assert ours[:2] == theirs[:2]
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-6)


@pytest.mark.parametrize("name", ["scale_tril", "covariance_matrix", "precision_matrix"])
def test_multivariate_normal_one_dimensional_matrix_fails_like_torch(torch, name):
    assert_raises_like_torch(
        lambda: torch.distributions.MultivariateNormal(torch.zeros(2), **{name: torch.ones(2)}),
        lambda: distributions.MultivariateNormal(ember.zeros(2), **{name: ember.ones(2)}),
        ValueError, same_type=True)


def test_gamma_cdf_and_its_gradients_match_torch(torch):
    """Gamma.cdf is gammainc(concentration, rate * value): gradients in rate and value only."""
    concentration = [0.5, 2.0, 3.0]
    rate = [1.0, 0.5, 2.0]
    value = [0.3, 1.0, 4.0]
    results = []
    for library in (ember, torch):
        rate_tensor = library.tensor(rate, dtype=library.float64, requires_grad=True)
        value_tensor = library.tensor(value, dtype=library.float64, requires_grad=True)
        gamma = library.distributions.Gamma(library.tensor(concentration, dtype=library.float64),
                                            rate_tensor)
        cdf = gamma.cdf(value_tensor)
        cdf.sum().backward()
        results.append([cdf.detach().numpy(), rate_tensor.grad.numpy(),
                        value_tensor.grad.numpy()])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    assert_raises_like_torch(
        lambda: torch.distributions.Gamma(torch.tensor(1.0), torch.tensor(1.0),
                                          validate_args=True).cdf(torch.tensor(-1.0)),
        lambda: distributions.Gamma(ember.tensor(1.0), ember.tensor(1.0),
                                    validate_args=True).cdf(ember.tensor(-1.0)),
        ValueError, same_type=True)


def test_gamma_cdf_is_not_differentiable_in_concentration_like_torch(torch):
    assert_raises_like_torch(
        lambda: torch.distributions.Gamma(torch.tensor(2.0, requires_grad=True),
                                          torch.tensor(1.0)).cdf(torch.tensor(1.0)).backward(),
        lambda: distributions.Gamma(ember.tensor(2.0, requires_grad=True),
                                    ember.tensor(1.0)).cdf(ember.tensor(1.0)).backward(),
        NotImplementedError, same_type=True)


@pytest.mark.parametrize("family", ["Gamma", "Chi2"])
@pytest.mark.parametrize("value", ["float64", "int64", "number", "list"])
def test_gamma_log_prob_converts_the_value_to_the_rates_dtype_like_torch(torch, family, value):
    """PyTorch's Gamma.log_prob (and Chi2's) takes as_tensor(value, dtype=rate.dtype) first:
    numbers and lists are taken, and a float64 value gives a float32 result, with its gradient
    back in float64."""
    results = []
    for library in (ember, torch):
        values = {"float64": library.tensor([0.5, 1.5], dtype=library.float64,
                                            requires_grad=True),
                  "int64": library.tensor([1, 2]), "number": 0.5, "list": [0.5, 1.0]}
        concentration = library.tensor([2.0, 3.0])
        distribution = (library.distributions.Gamma(concentration, library.tensor([1.0, 2.0]),
                                                    validate_args=True)
                        if family == "Gamma" else
                        library.distributions.Chi2(concentration, validate_args=True))
        log_prob = distribution.log_prob(values[value])
        gradient = None
        if value == "float64":
            log_prob.sum().backward()
            gradient = values[value].grad.numpy()
        results.append((log_prob.detach().numpy(), str(log_prob.dtype).split(".")[-1],
                        gradient))
    ours, theirs = results
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)
    assert ours[1] == theirs[1]
    if ours[2] is not None:
        np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-6)
