"""``torch.distributions.Binomial``."""
import numpy as np

from .. import _random
from .._factories import arange
from ..autograd.grad_mode import no_grad
from ..ops import abs, exp, lgamma, log1p
from ..tensor import Size, Tensor
from . import constraints
from .bernoulli import _one_of
from .distribution import BinaryProbsOrLogits, Distribution, broadcast_all

__all__ = ["Binomial"]


def set_count_and_probs_or_logits(distribution, total_count, probs, logits):
    """Broadcast ``total_count`` (cast to the parameter's dtype) with whichever of probs and
    logits is given, and store both on ``distribution`` (Binomial, NegativeBinomial)."""
    given = _one_of(probs, logits)
    total_count, parameter = broadcast_all(total_count, given)
    distribution.total_count = total_count.type_as(parameter)
    if probs is not None:
        distribution.probs = parameter
    else:
        distribution.logits = parameter
    distribution._param = parameter


def expanded_count_and_probs(distribution, cls, batch_shape, _instance):
    """``distribution.expand`` for Binomial and NegativeBinomial: the count and the parameter
    given, both expanded."""
    new = distribution._expanded_probs_or_logits(cls, batch_shape, _instance)
    new.total_count = distribution.total_count.expand(batch_shape)
    return new


def _clamp_by_zero(value):
    """max(value, 0) with gradient 1/2 at 0, as PyTorch's."""
    return (value.clamp(min=0) + value - value.clamp(max=0)) / 2


class Binomial(BinaryProbsOrLogits, Distribution):
    """The number of successes in ``total_count`` Bernoulli(``probs``) trials."""

    arg_constraints = {"total_count": constraints.nonnegative_integer,
                       "probs": constraints.unit_interval, "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        set_count_and_probs_or_logits(self, total_count, probs, logits)
        super().__init__(self._param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return expanded_count_and_probs(self, Binomial, batch_shape, _instance)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        with no_grad():
            counts = self.total_count.expand(shape)._data
            probs = self.probs.expand(shape)._data
            draws = _random.binomial(None, counts, probs, single=probs.dtype == np.float32)
            return Tensor._wrap(draws.astype(probs.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_factorial_n = lgamma(self.total_count + 1)
        log_factorial_k = lgamma(value + 1)
        log_factorial_n_minus_k = lgamma(self.total_count - value + 1)
        # n log(1 + exp(logits)), written so that large |logits| neither overflow nor cancel.
        normalizer = (self.total_count * _clamp_by_zero(self.logits)
                      + self.total_count * log1p(exp(-abs(self.logits))) - log_factorial_n)
        return value * self.logits - log_factorial_k - log_factorial_n_minus_k - normalizer

    def _homogeneous_count(self, operation):
        total_count = int(self.total_count.max())
        if not bool(self.total_count.min() == total_count):
            raise NotImplementedError(f"Inhomogeneous total count not supported by `{operation}`.")
        return total_count

    def entropy(self):
        self._homogeneous_count("entropy")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(exp(log_prob) * log_prob).sum(0)

    def enumerate_support(self, expand=True):
        total_count = self._homogeneous_count("enumerate_support")
        values = arange(1 + total_count, dtype=self._param.dtype)
        values = values.view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values
