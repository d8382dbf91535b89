"""``torch.distributions.Laplace``."""
from .._dtype import finfo
from .._factories import empty
from ..ops import abs, expm1, log, log1p
from ..tensor import Size
from .distribution import LocationScale

__all__ = ["Laplace"]


class Laplace(LocationScale):
    """The Laplace distribution with location ``loc`` and scale ``scale``."""

    def __init__(self, loc, scale, validate_args=None):
        # its own signature, so that a missing argument names this class, as in PyTorch
        super().__init__(loc, scale, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expanded(Laplace, batch_shape, _instance, ("loc", "scale"))

    @property
    def variance(self):
        return 2 * self.scale.pow(2)

    @property
    def stddev(self):
        return (2 ** 0.5) * self.scale

    def rsample(self, sample_shape=Size()):
        # u uniform on (-1, 1), kept off -1 so that log1p(-|u|) stays finite.
        lower = finfo(self.loc.dtype).eps - 1
        uniform = empty(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        uniform = uniform.uniform_(lower, 1)
        return self.loc - self.scale * uniform.sign() * log1p(-uniform.abs())

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -log(2 * self.scale) - abs(value - self.loc) / self.scale

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 - 0.5 * (value - self.loc).sign() * expm1(-abs(value - self.loc) / self.scale)

    def icdf(self, value):
        term = value - 0.5
        return self.loc - self.scale * term.sign() * log1p(-2 * term.abs())

    def entropy(self):
        return 1 + log(2 * self.scale)
