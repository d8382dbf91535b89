"""``torch.distributions.Bernoulli``."""
import math
import numbers

from .._factories import arange, bernoulli
from ..autograd.grad_mode import no_grad
from ..nn.functional import binary_cross_entropy_with_logits
from ..ops import exp, log1p, logit, where
from ..tensor import Size
from . import constraints
from .distribution import BinaryProbsOrLogits, broadcast_all
from .exp_family import ExponentialFamily

__all__ = ["Bernoulli"]


def _one_of(probs, logits):
    """The parameter given, checking that exactly one of probs and logits is."""
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    return probs if probs is not None else logits


def set_probs_or_logits(distribution, probs, logits):
    """Store whichever of probs and logits is given (broadcast to a Tensor) on ``distribution``
    as its parameter; the batch shape, () when it is a number."""
    given = _one_of(probs, logits)
    (parameter,) = broadcast_all(given)
    if probs is not None:
        distribution.probs = parameter
    else:
        distribution.logits = parameter
    distribution._param = parameter
    return Size() if isinstance(given, numbers.Number) else parameter.size()


class Bernoulli(BinaryProbsOrLogits, ExponentialFamily):
    """A 0/1 draw that is 1 with probability ``probs`` (or ``sigmoid(logits)``)."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True
    _mean_carrier_measure = 0

    def __init__(self, probs=None, logits=None, validate_args=None):
        batch_shape = set_probs_or_logits(self, probs, logits)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expanded_probs_or_logits(Bernoulli, batch_shape, _instance)

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        mode = (self.probs >= 0.5).to(self.probs.dtype)
        return where(self.probs == 0.5, math.nan, mode)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        with no_grad():
            return bernoulli(self.probs.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self):
        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand=True):
        values = arange(2, dtype=self._param.dtype)
        values = values.view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values

    @property
    def _natural_params(self):
        return (logit(self.probs),)

    def _log_normalizer(self, x):
        return log1p(exp(x))
