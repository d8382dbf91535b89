"""``torch.distributions.StudentT``."""
import math

from .._factories import randn
from ..ops import digamma, lgamma, log, log1p, rsqrt, where
from ..tensor import Size
from . import constraints
from .chi2 import Chi2
from .distribution import Distribution, broadcast_all

__all__ = ["StudentT"]


class StudentT(Distribution):
    """Student's t distribution with ``df`` degrees of freedom, shifted by ``loc`` and scaled by
    ``scale``."""

    arg_constraints = {"df": constraints.positive, "loc": constraints.real,
                       "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df)
        super().__init__(self.df.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._expanded(StudentT, batch_shape, _instance, ("df", "loc", "scale"))
        new._chi2 = self._chi2.expand(batch_shape)
        return new

    @property
    def mean(self):
        return where(self.df > 1, self.loc, math.nan)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        finite = self.scale.pow(2) * self.df / (self.df - 2)
        infinite_or_nan = where(self.df > 1, math.inf, math.nan)
        return where(self.df > 2, finite, infinite_or_nan)

    def rsample(self, sample_shape=Size()):
        # X / sqrt(Z / df), X standard normal and Z chi-squared with df degrees of freedom.
        normal = randn(self._extended_shape(sample_shape), dtype=self.df.dtype)
        chi2 = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * normal * rsqrt(chi2 / self.df)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        standardized = (value - self.loc) / self.scale
        normalizer = (log(self.scale) + 0.5 * log(self.df) + 0.5 * math.log(math.pi)
                      + lgamma(0.5 * self.df) - lgamma(0.5 * (self.df + 1.0)))
        return -0.5 * (self.df + 1.0) * log1p(standardized ** 2 / self.df) - normalizer

    def entropy(self):
        log_beta = lgamma(0.5 * self.df) + math.lgamma(0.5) - lgamma(0.5 * (self.df + 1))
        return (log(self.scale)
                + 0.5 * (self.df + 1) * (digamma(0.5 * (self.df + 1)) - digamma(0.5 * self.df))
                + 0.5 * log(self.df) + log_beta)
