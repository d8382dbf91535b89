"""``torch.distributions.HalfCauchy``."""
import math

from .._factories import full
from .cauchy import Cauchy
from .half_normal import Folded

__all__ = ["HalfCauchy"]


class HalfCauchy(Folded):
    """|X| for X ~ Cauchy(0, ``scale``)."""

    base_family = Cauchy

    @property
    def mean(self):
        return full(self._extended_shape(), math.inf, dtype=self.scale.dtype)

    @property
    def variance(self):
        return self.base_dist.variance
