"""``torch.distributions.GeneralizedPareto``."""
import math

from .._factories import rand
from ..ops import broadcast_to, exp, expm1, isclose, log, log1p, where
from ..tensor import Size
from . import constraints
from .distribution import Distribution, batch_shape_of, broadcast_all

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(Distribution):
    """The generalised Pareto distribution of peaks over ``loc``: an exponential tail at
    concentration 0, heavier above, bounded below."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        super().__init__(batch_shape_of((loc, scale, concentration), self.loc),
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expanded(GeneralizedPareto, batch_shape, _instance,
                              ("loc", "scale", "concentration"))

    def _safe_concentration(self):
        """(concentration == 0, the concentration with its zeros replaced by 1): each formula
        divides by the concentration and takes its limit at 0 separately."""
        is_zero = isclose(self.concentration, self.concentration.new_zeros(()))
        return is_zero, where(is_zero, 1.0, self.concentration)

    def rsample(self, sample_shape=Size()):
        return self.icdf(rand(self._extended_shape(sample_shape), dtype=self.loc.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        standardized = (value - self.loc) / self.scale
        is_zero, concentration = self._safe_concentration()
        exponent = 1 / concentration + 1
        nonzero = where(exponent == 0, exponent, exponent * log1p(concentration * standardized))
        return -self.scale.log() - where(is_zero, standardized, nonzero)

    def log_survival_function(self, value):
        if self._validate_args:
            self._validate_sample(value)
        standardized = (value - self.loc) / self.scale
        is_zero, concentration = self._safe_concentration()
        return where(is_zero, -standardized, -log1p(concentration * standardized) / concentration)

    def log_cdf(self, value):
        return log1p(-exp(self.log_survival_function(value)))

    def cdf(self, value):
        return exp(self.log_cdf(value))

    def icdf(self, value):
        is_zero, concentration = self._safe_concentration()
        log_survival = log1p(-value)
        nonzero = self.loc + self.scale / concentration * expm1(-concentration * log_survival)
        return where(is_zero, self.loc - self.scale * log_survival, nonzero)

    @property
    def mean(self):
        valid = self.concentration < 1
        concentration = where(valid, self.concentration, 0.5)
        return where(valid, self.loc + self.scale / (1 - concentration), math.nan)

    @property
    def variance(self):
        valid = self.concentration < 0.5
        concentration = where(valid, self.concentration, 0.25)
        variance = self.scale ** 2 / ((1 - concentration) ** 2 * (1 - 2 * concentration))
        return where(valid, variance, math.nan)

    def entropy(self):
        return broadcast_to(log(self.scale) + self.concentration + 1, tuple(self._batch_shape))

    @property
    def mode(self):
        return self.loc

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        upper = where(self.concentration < 0, self.loc - self.scale / self.concentration,
                      math.inf)
        return constraints.interval(self.loc, upper)
