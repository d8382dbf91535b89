"""``torch.distributions.Kumaraswamy``."""
import math

from .._factories import full_like
from ..ops import digamma, exp, lgamma, log, where
from . import constraints
from .distribution import broadcast_all, euler_constant
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, PowerTransform
from .uniform import Uniform

__all__ = ["Kumaraswamy"]


def _moment(concentration1, concentration0, order):
    """E[X^order] = b B(1 + order / a, b)."""
    shifted = 1 + order / concentration1
    log_beta = lgamma(shifted) + lgamma(concentration0) - lgamma(shifted + concentration0)
    return concentration0 * exp(log_beta)


class Kumaraswamy(TransformedDistribution):
    """The Kumaraswamy distribution on [0, 1]: (1 - U^(1/b))^(1/a), U uniform."""

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        base_dist = Uniform(full_like(self.concentration0, 0), full_like(self.concentration0, 1),
                            validate_args=validate_args)
        transforms = [PowerTransform(exponent=self.concentration0.reciprocal()),
                      AffineTransform(loc=1.0, scale=-1.0),
                      PowerTransform(exponent=self.concentration1.reciprocal())]
        super().__init__(base_dist, transforms, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Kumaraswamy, _instance)
        new.concentration1 = self.concentration1.expand(batch_shape)
        new.concentration0 = self.concentration0.expand(batch_shape)
        return super().expand(batch_shape, _instance=new)

    @property
    def mean(self):
        return _moment(self.concentration1, self.concentration0, 1)

    @property
    def mode(self):
        # PyTorch's expression, NaN where either concentration is below 1.
        log_mode = (self.concentration0.reciprocal() * (-self.concentration0).log1p()
                    - (-self.concentration0 * self.concentration1).log1p())
        below_one = (self.concentration0 < 1) | (self.concentration1 < 1)
        return where(below_one, math.nan, log_mode).exp()

    @property
    def variance(self):
        return _moment(self.concentration1, self.concentration0, 2) - self.mean.pow(2)

    def entropy(self):
        t1 = 1 - self.concentration1.reciprocal()
        t0 = 1 - self.concentration0.reciprocal()
        harmonic = digamma(self.concentration0 + 1) + euler_constant
        return t0 + t1 * harmonic - log(self.concentration1) - log(self.concentration0)
