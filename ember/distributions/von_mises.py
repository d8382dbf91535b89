"""``torch.distributions.VonMises``: the circular normal distribution of an angle."""
import math

import numpy as np

from .. import _random
from ..ops import cos, where
from ..tensor import Size, Tensor
from . import constraints
from .distribution import Distribution, broadcast_all, lazy_property

__all__ = ["VonMises"]

# Abramowitz and Stegun 9.8.1-9.8.4: I_n(x) as a polynomial in (x / 3.75)^2 below 3.75 (times x
# for I_1), and x^(-1/2) e^x times a polynomial in 3.75 / x above. PyTorch uses the same ones.
_SMALL_COEFFICIENTS = (
    (1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732, 0.0360768, 0.0045813),
    (0.5, 0.87890594, 0.51498869, 0.15084934, 0.02658733, 0.00301532, 0.00032411))
_LARGE_COEFFICIENTS = (
    (0.39894228, 0.01328592, 0.00225319, -0.00157565, 0.00916281, -0.02057706, 0.02635537,
     -0.01647633, 0.00392377),
    (0.39894228, -0.03988024, -0.00362018, 0.00163801, -0.01031555, 0.02282967, -0.02895312,
     0.01787654, -0.00420059))


def _polynomial(variable, coefficients):
    """sum_k coefficients[k] variable^k, by Horner's rule."""
    result = coefficients[-1]
    for coefficient in reversed(coefficients[:-1]):
        result = result * variable + coefficient
    return result


def log_modified_bessel(x, order=0):
    """log I_order(x) for x > 0 and order 0 or 1 (differentiable in x)."""
    if order not in (0, 1):
        raise ValueError(f"log_modified_bessel: order must be 0 or 1, got {order}")
    small = _polynomial((x / 3.75) ** 2, _SMALL_COEFFICIENTS[order])
    if order == 1:
        small = x.abs() * small
    large = x - 0.5 * x.log() + _polynomial(3.75 / x, _LARGE_COEFFICIENTS[order]).log()
    return where(x < 3.75, small.log(), large)


def _best_fisher_draws(loc, concentration, shape):
    """Best and Fisher's (1979) rejection sampler, in float64 (small concentrations need it):
    angles in [-pi, pi), centred on ``loc``."""
    loc = np.broadcast_to(loc, shape)
    kappa = np.broadcast_to(concentration, shape)
    tau = 1 + np.sqrt(1 + 4 * kappa ** 2)
    rho = (tau - np.sqrt(2 * tau)) / (2 * kappa)
    with np.errstate(divide="ignore", invalid="ignore"):
        proposal = np.where(kappa < 1e-5, 1 / kappa + kappa, (1 + rho ** 2) / (2 * rho))
    angles = np.zeros(shape)
    pending = np.ones(shape, dtype=bool)
    while pending.any():
        # PyTorch's rounds: float64 uniforms for every element, and each acceptance (even of
        # an element accepted before) takes the round's angle
        u1, u2, u3 = _random.uniform(None, (3,) + tuple(shape), np.float64)
        z = np.cos(math.pi * u1)
        f = (1 + proposal * z) / (proposal + z)
        c = kappa * (proposal - f)
        with np.errstate(divide="ignore", invalid="ignore"):
            accept = ((c * (2 - c) - u2) > 0) | (np.log(c / u2) + 1 - c >= 0)
        angles = np.where(accept, np.sign(u3 - 0.5) * np.arccos(np.clip(f, -1, 1)), angles)
        pending &= ~accept
    return (angles + math.pi + loc) % (2 * math.pi) - math.pi


class VonMises(Distribution):
    """The von Mises distribution of an angle (radians, any real read modulo 2 pi) with mean
    direction ``loc`` and concentration ``concentration``; mean and variance are the circular
    ones."""

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, Size(), validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expanded(VonMises, batch_shape, _instance, ("loc", "concentration"))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (self.concentration * cos(value - self.loc) - math.log(2 * math.pi)
                - log_modified_bessel(self.concentration, order=0))

    def sample(self, sample_shape=Size()):
        shape = tuple(self._extended_shape(sample_shape))
        draws = _best_fisher_draws(self.loc.detach().numpy().astype(np.float64),
                                   self.concentration.detach().numpy().astype(np.float64), shape)
        return Tensor._wrap(draws.astype(self.loc._data.dtype))

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @lazy_property
    def variance(self):
        return 1 - (log_modified_bessel(self.concentration, order=1)
                    - log_modified_bessel(self.concentration, order=0)).exp()
