"""``torch.distributions.HalfCauchy``."""
import math

from .._factories import full
from .cauchy import Cauchy
from .half_normal import Folded

__all__ = ["HalfCauchy"]


class HalfCauchy(Folded):
    """|X| for X ~ Cauchy(0, ``scale``)."""

    base_family = Cauchy

    def __init__(self, scale, validate_args=None):
        # its own signature, so that a missing argument names this class, as in PyTorch
        super().__init__(scale, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(HalfCauchy, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def mean(self):
        return full(self._extended_shape(), math.inf, dtype=self.scale.dtype)

    @property
    def variance(self):
        return self.base_dist.variance
