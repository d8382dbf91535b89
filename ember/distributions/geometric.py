"""``torch.distributions.Geometric``."""
from .._dtype import finfo
from .._factories import rand, zeros_like
from ..autograd.grad_mode import no_grad
from ..nn.functional import binary_cross_entropy_with_logits
from ..ops import log, log1p, where
from ..tensor import Size
from . import constraints
from .bernoulli import set_probs_or_logits
from .distribution import BinaryProbsOrLogits, Distribution, broadcast_all

__all__ = ["Geometric"]


class Geometric(BinaryProbsOrLogits, Distribution):
    """The number of failures before the first success of Bernoulli(``probs``) trials."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        batch_shape = set_probs_or_logits(self, probs, logits)
        super().__init__(batch_shape, validate_args=validate_args)
        if self._validate_args and probs is not None:
            valid = self.probs > 0
            if not bool(valid.all()):
                raise ValueError(
                    f"Expected parameter probs ({type(self.probs).__name__} of shape "
                    f"{tuple(self.probs.shape)}) of distribution {self!r} to be positive but "
                    f"found invalid values:\n{self.probs.detach()[~valid]}")

    def expand(self, batch_shape, _instance=None):
        return self._expanded_probs_or_logits(Geometric, batch_shape, _instance)

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=Size()):
        # floor(log(u) / log(1 - p)), u uniform on [tiny, 1): the inverse of the CDF.
        tiny = finfo(self.probs.dtype).tiny
        with no_grad():
            uniform = rand(self._extended_shape(sample_shape), dtype=self.probs.dtype)
            uniform = uniform * (1 - tiny) + tiny
            return (log(uniform) / log1p(-self.probs)).floor()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        # p = 1 with no failure has probability 1: 0 * log(0) is taken as 0.
        probs = where((probs == 1) & (value == 0), 0.0, probs)
        return value * log1p(-probs) + log(self.probs)

    def entropy(self):
        return (binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")
                / self.probs)
