"""``torch.distributions.Cauchy``."""
import math

from .._factories import full
from .. import _random
from ..ops import atan, log, log1p, tan
from ..tensor import Size, Tensor
from .distribution import LocationScale

__all__ = ["Cauchy"]


class Cauchy(LocationScale):
    """The Cauchy (Lorentz) distribution with median ``loc`` and half-width ``scale``: it has no
    mean and no variance (NaN and infinity, as PyTorch's)."""

    def __init__(self, loc, scale, validate_args=None):
        # its own signature, so that a missing argument names this class, as in PyTorch
        super().__init__(loc, scale, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expanded(Cauchy, batch_shape, _instance, ("loc", "scale"))

    @property
    def mean(self):
        return full(self._extended_shape(), math.nan, dtype=self.loc.dtype)

    @property
    def variance(self):
        return full(self._extended_shape(), math.inf, dtype=self.loc.dtype)

    def rsample(self, sample_shape=Size()):
        shape = tuple(self._extended_shape(sample_shape))
        noise = _random.cauchy(None, shape, 0.0, 1.0).astype(self.loc._data.dtype)
        return self.loc + Tensor._wrap(noise) * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (-math.log(math.pi) - log(self.scale)
                - log1p(((value - self.loc) / self.scale) ** 2))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return atan((value - self.loc) / self.scale) / math.pi + 0.5

    def icdf(self, value):
        return tan(math.pi * (value - 0.5)) * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + log(self.scale)
