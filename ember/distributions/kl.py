"""``torch.distributions.kl``: kl_divergence(p, q) dispatched on the pair of types through a
registry (``register_kl``), the most specific registered pair winning, as PyTorch's."""
import functools
import math
import warnings

from .._factories import full_like
from ..linalg import solve, solve_triangular
from ..nn.functional import softplus
from ..ops import (abs, broadcast_shapes, diag_embed, digamma, erf, exp, lgamma, log, log1p,
                   logical_or, where, xlogy)
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .categorical import Categorical
from .cauchy import Cauchy
from .continuous_bernoulli import ContinuousBernoulli
from .dirichlet import Dirichlet
from .distribution import Distribution, euler_constant, sum_rightmost
from .exp_family import ExponentialFamily
from .exponential import Exponential
from .gamma import Gamma
from .geometric import Geometric
from .gumbel import Gumbel
from .half_normal import HalfNormal
from .independent import Independent
from .laplace import Laplace
from .lowrank_multivariate_normal import LowRankMultivariateNormal
from .multivariate_normal import MultivariateNormal, _mahalanobis
from .normal import Normal
from .one_hot_categorical import OneHotCategorical
from .pareto import Pareto
from .poisson import Poisson
from .transformed_distribution import TransformedDistribution
from .uniform import Uniform

__all__ = ["kl_divergence", "register_kl"]

_KL_REGISTRY = {}
_KL_MEMOIZE = {}


def register_kl(type_p, type_q):
    """Decorator: register ``function(p, q)`` as the KL divergence of ``type_p`` from
    ``type_q`` (Distribution subclasses)."""
    for name, given in (("type_p", type_p), ("type_q", type_q)):
        if not (isinstance(given, type) and issubclass(given, Distribution)):
            raise TypeError(f"Expected {name} to be a Distribution subclass but got {given}")

    def decorator(function):
        _KL_REGISTRY[type_p, type_q] = function
        _KL_MEMOIZE.clear()  # a new pair can change which match is the most specific
        return function

    return decorator


@functools.total_ordering
class _Match:
    """A registered pair, ordered so that the most specific (by subclassing, p first) is least."""

    __slots__ = ("types",)

    def __init__(self, *types):
        self.types = types

    def __eq__(self, other):
        return self.types == other.types

    def __le__(self, other):
        for mine, theirs in zip(self.types, other.types):
            if not issubclass(mine, theirs):
                return False
            if mine is not theirs:
                break
        return True


def _dispatch_kl(type_p, type_q):
    matches = [(super_p, super_q) for super_p, super_q in _KL_REGISTRY
               if issubclass(type_p, super_p) and issubclass(type_q, super_q)]
    if not matches:
        return NotImplemented
    left_p, left_q = min(_Match(*match) for match in matches).types
    right_q, right_p = min(_Match(*reversed(match)) for match in matches).types
    left = _KL_REGISTRY[left_p, left_q]
    right = _KL_REGISTRY[right_p, right_q]
    if left is not right:
        warnings.warn(f"Ambiguous kl_divergence({type_p.__name__}, {type_q.__name__}). "
                      f"Please register_kl({left_p.__name__}, {right_q.__name__})",
                      RuntimeWarning, stacklevel=3)
    return left


def kl_divergence(p, q):
    """KL(p || q), one value per batch element."""
    key = (type(p), type(q))
    if key not in _KL_MEMOIZE:
        _KL_MEMOIZE[key] = _dispatch_kl(*key)
    function = _KL_MEMOIZE[key]
    if function is NotImplemented:
        raise NotImplementedError(f"No KL(p || q) is implemented for p type "
                                  f"{type(p).__name__} and q type {type(q).__name__}")
    return function(p, q)


def _infinite_like(value):
    return full_like(value, math.inf)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    variance_ratio = (p.scale / q.scale).pow(2)
    mean_term = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (variance_ratio + mean_term - 1 - log(variance_ratio))


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    ones = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    ones = where(q.probs == 0, math.inf, ones)
    ones = where(p.probs == 0, 0.0, ones)
    zeros = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    zeros = where(q.probs == 1, math.inf, zeros)
    zeros = where(p.probs == 1, 0.0, zeros)
    return ones + zeros


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    terms = p.probs * (p.logits - q.logits)
    terms = where((q.probs == 0).expand_as(terms), math.inf, terms)
    terms = where((p.probs == 0).expand_as(terms), 0.0, terms)
    return terms.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical_onehotcategorical(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    rate_ratio = q.rate / p.rate
    return -log(rate_ratio) + rate_ratio - 1


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    scale_ratio = p.scale / q.scale
    loc_distance = abs(p.loc - q.loc)
    return (-log(scale_ratio) + loc_distance / q.scale
            + scale_ratio * exp(-loc_distance / p.scale) - 1)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = log((q.high - q.low) / (p.high - p.low))
    outside = logical_or(q.low > p.low, q.high < p.high)
    return where(outside, math.inf, result)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_multivariatenormal_multivariatenormal(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different "
                         "event shapes cannot be computed")
    p_tril = p._unbroadcasted_scale_tril
    q_tril = q._unbroadcasted_scale_tril
    log_det_difference = q._half_log_det() - p._half_log_det()
    # trace(Sigma_q^-1 Sigma_p) = |L_q^-1 L_p|_F^2
    whitened = solve(q_tril.tril(), p_tril)
    trace = whitened.pow(2).sum((-2, -1))
    distance = _mahalanobis(q_tril, q.loc - p.loc)
    size = p.event_shape[0]
    return log_det_difference + 0.5 * (trace + distance - size)


def _squared_norm(matrix):
    """trace(X X^T): the squared Frobenius norm of each matrix."""
    return matrix.pow(2).sum((-2, -1))


def _check_event_shapes(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two (Low Rank) Multivariate Normals with "
                         "different event shapes cannot be computed")


def _common_batch(matrix, other, columns):
    """``matrix`` expanded to the batch it shares with ``other`` (for the triangular solves)."""
    batch = broadcast_shapes(tuple(matrix.shape[:-2]), tuple(other.shape[:-2]))
    return matrix.expand(tuple(batch) + (matrix.shape[-2], columns))


# The Gaussian KL, 0.5 (log|S_q| - log|S_p| + trace(S_q^-1 S_p) + |mu_q - mu_p|^2_(S_q^-1) - n),
# with a low-rank covariance's inverse written D^-1 - A^T A (see _inverse_correction).
@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
def _kl_lowrank_lowrank(p, q):
    _check_event_shapes(p, q)
    correction = q._inverse_correction()
    trace = ((p._unbroadcasted_cov_diag / q._unbroadcasted_cov_diag).sum(-1)
             + _squared_norm(p._unbroadcasted_cov_factor
                             * q._unbroadcasted_cov_diag.rsqrt().unsqueeze(-1))
             - _squared_norm(correction * p._unbroadcasted_cov_diag.sqrt().unsqueeze(-2))
             - _squared_norm(correction @ p._unbroadcasted_cov_factor))
    return 0.5 * (q._log_det() - p._log_det() + trace + q._mahalanobis(q.loc - p.loc)
                  - p.event_shape[0])


@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _kl_multivariatenormal_lowrank(p, q):
    _check_event_shapes(p, q)
    p_tril = p._unbroadcasted_scale_tril
    trace = (_squared_norm(p_tril * q._unbroadcasted_cov_diag.rsqrt().unsqueeze(-1))
             - _squared_norm(q._inverse_correction() @ p_tril))
    return 0.5 * (q._log_det() - 2 * p._half_log_det() + trace
                  + q._mahalanobis(q.loc - p.loc) - p.event_shape[0])


@register_kl(LowRankMultivariateNormal, MultivariateNormal)
def _kl_lowrank_multivariatenormal(p, q):
    _check_event_shapes(p, q)
    size = p.event_shape[0]
    q_tril = q._unbroadcasted_scale_tril
    factor = p._unbroadcasted_cov_factor
    root_diag = diag_embed(p._unbroadcasted_cov_diag.sqrt())
    trace = (_squared_norm(solve_triangular(_common_batch(q_tril, factor, size),
                                            _common_batch(factor, q_tril, factor.shape[-1]),
                                            upper=False))
             + _squared_norm(solve_triangular(_common_batch(q_tril, root_diag, size),
                                              _common_batch(root_diag, q_tril, size),
                                              upper=False)))
    return 0.5 * (2 * q._half_log_det() - p._log_det() + trace
                  + _mahalanobis(q_tril, q.loc - p.loc) - size)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    width = p.high - p.low
    log_term = log(math.sqrt(math.pi * 2) * q.scale / width)
    spread = width.pow(2) / 12
    offset = ((p.high + p.low - 2 * q.loc) / 2).pow(2)
    return log_term + 0.5 * (spread + offset) / q.scale.pow(2)


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    result = q.rate * (p.high + p.low) / 2 - log((p.high - p.low) * q.rate)
    return where(p.low < 0, math.inf, result)


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p, q):
    variance = q.scale.pow(2)
    rate_squared = p.rate.pow(2)
    log_term = 0.5 * log(rate_squared * variance * 2 * math.pi)
    return log_term - 1 + (rate_squared.reciprocal() - q.loc / p.rate
                           + q.loc.pow(2) * 0.5) / variance


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    variance = q.scale.pow(2)
    ratio = p.scale.pow(2) / variance
    log_term = 0.5 * log(2 * ratio / math.pi)
    return -log_term + ratio + (0.5 * (p.loc - q.loc).pow(2)) / variance - 1


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    loc_difference = p.loc - q.loc
    scale_ratio = p.scale / q.scale
    standardized = loc_difference / p.scale
    spread = math.sqrt(2 / math.pi) * p.scale * exp(-0.5 * standardized.pow(2))
    shift = loc_difference * erf(math.sqrt(0.5) * standardized)
    return -log(scale_ratio) + (spread + shift) / q.scale - 0.5 * (1 + math.log(0.5 * math.pi))


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_continuous_bernoulli_continuous_bernoulli(p, q):
    return (p.mean * (p.logits - q.logits) + p._cont_bern_log_norm() + log1p(-p.probs)
            - q._cont_bern_log_norm() - log1p(-q.probs))


def _cross_entropy_continuous_bernoulli(p, q):
    """-E_p[log q] for q ContinuousBernoulli and p on [0, 1]: linear in p's mean."""
    return -p.mean * q.logits - log1p(-q.probs) - q._cont_bern_log_norm()


@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_continuous_bernoulli(p, q):
    return -p.entropy() + _cross_entropy_continuous_bernoulli(p, q)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_continuous_bernoulli(p, q):
    result = -p.entropy() + _cross_entropy_continuous_bernoulli(p, q)
    outside = logical_or(p.high >= q.support.upper_bound, p.low <= q.support.lower_bound)
    return where(outside, math.inf, result)


@register_kl(ContinuousBernoulli, Exponential)
def _kl_continuous_bernoulli_exponential(p, q):
    return -p.entropy() - log(q.rate) + q.rate * p.mean


@register_kl(ContinuousBernoulli, Normal)
def _kl_continuous_bernoulli_normal(p, q):
    return (-p.entropy() + 0.5 * (math.log(2.0 * math.pi) + (q.loc / q.scale).square())
            + log(q.scale)
            + (p.variance + p.mean.square() - 2.0 * q.loc * p.mean) / (2.0 * q.scale.square()))


@register_kl(ContinuousBernoulli, Uniform)
def _kl_continuous_bernoulli_uniform(p, q):
    result = -p.entropy() + log(q.high - q.low)
    outside = logical_or(q.low >= p.support.lower_bound, q.high <= p.support.upper_bound)
    return where(outside, math.inf, result)


# Pairs where p puts mass outside q's support: KL is infinite, shaped like p's parameter named.
_OUTSIDE_THE_SUPPORT = {
    "loc": [(p_type, q_type) for p_type in (Normal, Laplace, Gumbel)
            for q_type in (Beta, ContinuousBernoulli, Exponential, Gamma, Pareto, Uniform)],
    "rate": [(Exponential, Beta), (Exponential, ContinuousBernoulli), (Exponential, Pareto),
             (Exponential, Uniform), (Poisson, Bernoulli), (Poisson, Binomial)],
    "concentration": [(Gamma, Beta), (Gamma, ContinuousBernoulli), (Gamma, Pareto),
                      (Gamma, Uniform)],
    "concentration1": [(Beta, Pareto)],
    "probs": [(ContinuousBernoulli, Pareto)],
    "scale": [(Pareto, Beta), (Pareto, ContinuousBernoulli), (Pareto, Uniform)],
}


def _infinite_kl(parameter):
    def kl_outside_the_support(p, q):
        return _infinite_like(getattr(p, parameter))
    return kl_outside_the_support


for _parameter, _pairs in _OUTSIDE_THE_SUPPORT.items():
    for _p_type, _q_type in _pairs:
        register_kl(_p_type, _q_type)(_infinite_kl(_parameter))


def _x_log_x(value):
    return xlogy(value, value)  # 0 at 0, as PyTorch's (a Uniform from 0 has a finite KL)


def _log_beta_function(concentration1, concentration0):
    return lgamma(concentration1) + lgamma(concentration0) - lgamma(concentration1
                                                                   + concentration0)


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    total_p = p.concentration1 + p.concentration0
    total_q = q.concentration1 + q.concentration0
    return (_log_beta_function(q.concentration1, q.concentration0)
            - _log_beta_function(p.concentration1, p.concentration0)
            + (p.concentration1 - q.concentration1) * digamma(p.concentration1)
            + (p.concentration0 - q.concentration0) * digamma(p.concentration0)
            + (total_q - total_p) * digamma(total_p))


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    if bool((p.total_count < q.total_count).any()):
        raise NotImplementedError("KL between Binomials where q.total_count > p.total_count is "
                                  "not implemented")
    result = p.total_count * (p.probs * (p.logits - q.logits) + log1p(-p.probs)
                              - log1p(-q.probs))
    return where(p.total_count > q.total_count, math.inf, result)


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    total_p = p.concentration.sum(-1)
    total_q = q.concentration.sum(-1)
    log_normalizers = lgamma(total_p) - lgamma(total_q) - (
        lgamma(p.concentration) - lgamma(q.concentration)).sum(-1)
    expected_log = digamma(p.concentration) - digamma(total_p).unsqueeze(-1)
    return log_normalizers + ((p.concentration - q.concentration) * expected_log).sum(-1)


@register_kl(ExponentialFamily, ExponentialFamily)
def _kl_expfamily_expfamily(p, q):
    # The Bregman divergence of the log normaliser: F(theta_q) - F(theta_p)
    # - <theta_q - theta_p, dF/dtheta(theta_p)>.
    if type(p) is not type(q):
        # PyTorch's text keeps the indentation of its source line's continuation
        raise NotImplementedError("The cross KL-divergence between different exponential "
                                  "families cannot " + " " * 28 + "be computed using Bregman "
                                  "divergences")
    log_normalizer, p_natural_params, gradients = p._log_normalizer_and_gradients()
    result = q._log_normalizer(*q._natural_params) - log_normalizer
    for p_parameter, q_parameter, gradient in zip(p_natural_params, q._natural_params,
                                                  gradients):
        result = result - sum_rightmost((q_parameter - p_parameter) * gradient,
                                        len(q.event_shape))
    return result


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    return (q.concentration * log(p.rate / q.rate) + lgamma(q.concentration)
            - lgamma(p.concentration)
            + (p.concentration - q.concentration) * digamma(p.concentration)
            + (q.rate - p.rate) * (p.concentration / p.rate))


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    scale_ratio = p.scale / q.scale
    q_loc_ratio = q.loc / q.scale
    p_loc_ratio = p.loc / q.scale
    return (-log(scale_ratio) - q_loc_ratio + p_loc_ratio + scale_ratio * euler_constant
            + exp(q_loc_ratio + lgamma(1 + scale_ratio) - p_loc_ratio) - (1 + euler_constant))


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - log1p(-q.probs) / p.probs - q.logits


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    alpha_ratio = q.alpha / p.alpha
    result = q.alpha * log(p.scale / q.scale) - log(alpha_ratio) + alpha_ratio - 1
    return where(p.support.lower_bound < q.support.lower_bound, math.inf, result)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (log(p.rate) - log(q.rate)) - (p.rate - q.rate)


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    return (log((p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2))
            - log(4 * p.scale * q.scale))


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    if p.transforms != q.transforms or p.event_shape != q.event_shape:
        raise NotImplementedError
    return kl_divergence(p.base_dist, q.base_dist)


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    return -p.entropy() - (p.probs * log(q.rate) - q.rate)


def _beta_mean(p):
    return p.concentration1 / (p.concentration1 + p.concentration0)


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p, q):
    return -p.entropy() - log(q.rate) + q.rate * _beta_mean(p)


def _gamma_log_normalizer(q):
    return lgamma(q.concentration) - q.concentration * log(q.rate)


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    expected_log = digamma(p.concentration1) - digamma(p.concentration1 + p.concentration0)
    return (-p.entropy() + _gamma_log_normalizer(q) - (q.concentration - 1) * expected_log
            + q.rate * _beta_mean(p))


@register_kl(Beta, Normal)
def _kl_beta_normal(p, q):
    mean = _beta_mean(p)
    variance = q.scale.pow(2)
    second_moment = (mean * (1 - mean) / (p.concentration1 + p.concentration0 + 1)
                     + mean.pow(2)) * 0.5
    return (-p.entropy() + 0.5 * log(variance * 2 * math.pi)
            + (second_moment - q.loc * mean + q.loc.pow(2) * 0.5) / variance)


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    result = -p.entropy() + log(q.high - q.low)
    outside = (q.low > p.support.lower_bound) | (q.high < p.support.upper_bound)
    return where(outside, math.inf, result)


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    ratio = q.rate / p.rate
    return (-q.concentration * log(ratio) + ratio + lgamma(q.concentration)
            + q.concentration * euler_constant - (1 + euler_constant))


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    rate_scale = p.rate * q.scale
    loc_ratio = q.loc / q.scale
    return (log(rate_scale) - 1 - loc_ratio + exp(loc_ratio) * rate_scale / (rate_scale + 1)
            + rate_scale.reciprocal())


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() - log(q.rate) + q.rate * p.concentration / p.rate


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    rate_scale = p.rate * q.scale
    loc_ratio = q.loc / q.scale
    return ((p.concentration - 1) * digamma(p.concentration) - lgamma(p.concentration)
            - p.concentration + log(rate_scale) + p.concentration / rate_scale
            + exp(loc_ratio) * (1 + rate_scale.reciprocal()).pow(-p.concentration) - loc_ratio)


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    variance = q.scale.pow(2)
    rate_squared = p.rate.pow(2)
    moments = (0.5 * (p.concentration.pow(2) + p.concentration) / rate_squared
               - q.loc * p.concentration / p.rate + 0.5 * q.loc.pow(2))
    return (0.5 * log(rate_squared * variance * 2 * math.pi) - p.concentration
            - lgamma(p.concentration) + (p.concentration - 1) * digamma(p.concentration)
            + moments / variance)


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    scale_ratio = p.scale / q.scale
    return (-log(scale_ratio / math.sqrt(2 * math.pi)) + (math.pi * scale_ratio * 0.5).pow(2) / 3
            + ((p.loc + p.scale * euler_constant - q.loc) / q.scale).pow(2) * 0.5
            - (euler_constant + 1))


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    mean_ratio = p.loc / q.scale
    variance_ratio = (p.scale / q.scale).pow(2)
    loc_ratio = q.loc / q.scale
    return (-0.5 * log(variance_ratio) + mean_ratio - loc_ratio
            + exp(-mean_ratio + 0.5 * variance_ratio + loc_ratio)
            - 0.5 * (1 + math.log(2 * math.pi)))


@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p, q):
    scale_rate = p.scale * q.rate
    result = (log(p.alpha / scale_rate) - p.alpha.reciprocal()
              + p.alpha * scale_rate / (p.alpha - 1) - 1)
    return where(p.alpha <= 1, math.inf, result)


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    expected_log = log(p.scale) + p.alpha.reciprocal()
    result = (log(p.alpha) - expected_log + _gamma_log_normalizer(q)
              + (1 - q.concentration) * expected_log
              + q.rate * p.alpha * p.scale / (p.alpha - 1) - 1)
    return where(p.alpha <= 1, math.inf, result)


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p, q):
    twice_variance = 2 * q.scale.pow(2)
    spread = p.scale / (p.alpha - 1)
    result = (log(math.sqrt(2 * math.pi) * q.scale * p.alpha / p.scale) - p.alpha.reciprocal()
              + (p.alpha * spread.pow(2) / (p.alpha - 2) + (p.alpha * spread - q.loc).pow(2))
              / twice_variance - 1)
    return where(p.alpha <= 2, math.inf, result)


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    width = p.high - p.low
    expected_log = (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
    expected_log_complement = (_x_log_x(1 - p.high) - _x_log_x(1 - p.low) + width) / width
    result = ((q.concentration0 - 1) * expected_log_complement
              + _log_beta_function(q.concentration1, q.concentration0) - log(width)
              - (q.concentration1 - 1) * expected_log)
    outside = (p.high > q.support.upper_bound) | (p.low < q.support.lower_bound)
    return where(outside, math.inf, result)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    width = p.high - p.low
    expected_log = (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
    result = (-log(width) + _gamma_log_normalizer(q) + (1 - q.concentration) * expected_log
              + q.rate * (p.high + p.low) / 2)
    return where(p.low < q.support.lower_bound, math.inf, result)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    scale_ratio = q.scale / (p.high - p.low)
    high_standardized = (p.high - q.loc) / q.scale
    low_standardized = (p.low - q.loc) / q.scale
    return (log(scale_ratio) + 0.5 * (high_standardized + low_standardized)
            - scale_ratio * (exp(-high_standardized) - exp(-low_standardized)))


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    width = p.high - p.low
    expected_log = (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
    result = expected_log * (q.alpha + 1) - log(q.alpha * q.scale.pow(q.alpha) * width)
    return where(p.low < q.support.lower_bound, math.inf, result)
