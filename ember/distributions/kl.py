"""``torch.distributions.kl``: kl_divergence(p, q) dispatched on the pair of types through a
registry (``register_kl``), the most specific registered pair winning, as PyTorch's."""
import functools
import math
import warnings

from ..linalg import solve
from ..nn.functional import softplus
from .._factories import full_like
from ..ops import abs, erf, exp, log, logical_or, where
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution, sum_rightmost
from .exponential import Exponential
from .independent import Independent
from .laplace import Laplace
from .multivariate_normal import MultivariateNormal, _mahalanobis
from .normal import Normal
from .one_hot_categorical import OneHotCategorical
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


@register_kl(Normal, Exponential)
@register_kl(Normal, Uniform)
@register_kl(Laplace, Exponential)
@register_kl(Laplace, Uniform)
def _kl_real_support_infinity(p, q):
    return _infinite_like(p.loc)


@register_kl(Exponential, Uniform)
def _kl_exponential_infinity(p, q):
    return _infinite_like(p.rate)
