"""``torch.distributions.Gamma``, and the reparameterised standard-gamma draw that Gamma, Chi2,
Beta and Dirichlet share."""
import numpy as np

from .. import _random
from .._dtype import finfo
from ..autograd.function import Op
from ..ops import digamma, lgamma, log, xlogy
from ..ops.elementwise.gamma import polygamma_array
from ..tensor import Size
from . import constraints
from .distribution import batch_shape_of, broadcast_all
from .exp_family import ExponentialFamily

__all__ = ["Gamma"]

# Above this draw the series below needs too many terms (and its partial sums overflow near
# x = 700); such draws come from large concentrations, where Wilson-Hilferty is accurate.
_SERIES_LIMIT = 150.0


def _series_gradient(x, concentration):
    """dx/dconcentration at fixed CDF: -dP(a, x)/da / p(x; a), with P the regularised lower
    incomplete gamma written as the series exp(-x) sum_n x^(a+n) / Gamma(a+n+1). Divided by the
    density, the n-th term becomes r_n = x^(n+1) Gamma(a) / Gamma(a+n+1), a running product."""
    log_x = np.log(x)
    term = x / concentration
    psi = polygamma_array(0, concentration + 1)
    total = term * (psi - log_x)
    terms_sum = term.copy()
    n = 0
    while True:
        n += 1
        psi = psi + 1 / (concentration + n)
        term = term * x / (concentration + n)
        total += term * (psi - log_x)
        terms_sum += term
        if n > x.max() and bool((term <= 1e-17 * terms_sum).all()):
            return total


def _wilson_hilferty_gradient(x, concentration):
    """dx/dconcentration at fixed z of x = a (1 - 1/(9a) + z / (3 sqrt(a)))^3, the cube-root
    normal approximation of a large gamma draw."""
    root = np.sqrt(concentration)
    cube_root = np.cbrt(x / concentration)
    z = (cube_root - 1 + 1 / (9 * concentration)) * 3 * root
    w = 1 - 1 / (9 * concentration) + z / (3 * root)
    dw = 1 / (9 * concentration ** 2) - z / (6 * concentration * root)
    return w ** 3 + 3 * concentration * w ** 2 * dw


def standard_gamma_gradient(x, concentration):
    """The implicit reparameterisation gradient d draw / d concentration of Gamma(a, 1) draws
    (float64 inside, the draws' dtype out)."""
    x64 = np.asarray(x, dtype=np.float64)
    concentration64 = np.broadcast_to(np.asarray(concentration, dtype=np.float64), x64.shape)
    gradient = np.empty_like(x64)
    series = x64 <= _SERIES_LIMIT
    if series.any():
        gradient[series] = _series_gradient(x64[series], concentration64[series])
    if not series.all():
        gradient[~series] = _wilson_hilferty_gradient(x64[~series], concentration64[~series])
    return gradient.astype(np.asarray(x).dtype, copy=False)


class StandardGamma(Op):
    """Gamma(concentration, 1) draws from ember's generator, kept above the dtype's smallest
    normal number (as PyTorch's), differentiable by implicit reparameterisation."""

    @staticmethod
    def forward(ctx, concentration, in_float64=False):
        # PyTorch's sampler in the concentration's precision (its Dirichlet's in float64, then
        # kept above float64's smallest normal and normalised before the cast)
        single = concentration.dtype == np.float32 and not in_float64
        draws = _random.standard_gamma(None, concentration, single=single)
        if not in_float64:
            draws = draws.astype(concentration.dtype)
        draws = np.maximum(draws, np.finfo(draws.dtype).tiny)
        ctx.save_for_backward(draws, concentration)
        return draws

    @staticmethod
    def backward(ctx, grad):
        draws, concentration = ctx.saved_tensors
        gradient = grad * standard_gamma_gradient(draws, concentration)
        return gradient.astype(concentration.dtype, copy=False), None


class Gamma(ExponentialFamily):
    """The gamma distribution with shape ``concentration`` and inverse scale ``rate``."""

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(batch_shape_of((concentration, rate), self.concentration),
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expanded(Gamma, batch_shape, _instance, ("concentration", "rate"))

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        draws = StandardGamma.apply(self.concentration.expand(shape))
        value = draws / self.rate.expand(shape)
        return value.clamp(min=finfo(value.dtype).tiny)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (xlogy(self.concentration, self.rate) + xlogy(self.concentration - 1, value)
                - self.rate * value - lgamma(self.concentration))

    def entropy(self):
        return (self.concentration - log(self.rate) + lgamma(self.concentration)
                + (1.0 - self.concentration) * digamma(self.concentration))

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return lgamma(x + 1) + (x + 1) * log(-y.reciprocal())
