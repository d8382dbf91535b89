"""``torch.distributions.Gamma``, and the reparameterised standard-gamma draw that Gamma, Chi2
and FisherSnedecor share (``torch._standard_gamma`` and its gradient)."""
import numpy as np

from .. import _random
from .._dtype import finfo
from .._factories import _check_tensor_input, as_tensor
from ..autograd.function import Op
from ..ops import digamma, lgamma, log, xlogy
from ..special import gammainc
from ..tensor import Size, Tensor, named_type
from . import constraints
from .distribution import batch_shape_of, broadcast_all
from .exp_family import ExponentialFamily

__all__ = ["Gamma"]

# Cephes' asymptotic digamma series in 1/x^2, and digamma(10).
_DIGAMMA_SERIES = (8.33333333333333333333e-2, -2.10927960927960927961e-2,
                   7.57575757575757575758e-3, -4.16666666666666666667e-3,
                   3.96825396825396825397e-3, -8.33333333333333333333e-3,
                   8.33333333333333333333e-2)
_PSI_10 = 2.25175258906672110764

# ATen's rational fit of log(d draw / d alpha) in u = log(x / alpha), v = log(alpha): row k
# holds u^k's coefficients, the first four of the numerator's cubic in v, the last four of the
# denominator's.
_GAMMA_GRAD_RATIONAL = np.array([
    [0.16009398, -0.094634809, 0.025146376, -0.0030648343,
     1, 0.32668115, 0.10406089, 0.0014179084],
    [0.53487893, 0.1298071, 0.065735949, -0.0015649758,
     0.16639465, 0.020070113, -0.0035938915, -0.00058392623],
    [0.040121004, -0.0065914022, -0.0026286047, -0.0013441777,
     0.017050642, -0.0021309326, 0.00085092367, -1.5247877e-07]])

# ATen compares with float literals (0.8f, 0.9f, 1.1f): their float64 values.
_SMALL_DRAW = float(np.float32(0.8))
_NEAR_LOW = float(np.float32(0.9))
_NEAR_HIGH = float(np.float32(1.1))


def rounded_log(x):
    """log in x's dtype, rounded from float64: as C's logf rounds float32 logs (NumPy's own
    float32 log is off by a last bit more often), which ATen's float32 series take."""
    return np.log(x.astype(np.float64)).astype(x.dtype)


def rounded_power(base, exponent):
    """base ** exponent in base's dtype, rounded from float64, as C's powf (see rounded_log)."""
    return np.power(base.astype(np.float64), exponent.astype(np.float64)).astype(base.dtype)


def digamma_one(x):
    """Digamma of positive ``x`` as ATen's reparameterised gradients take it (Cephes: recur up
    to 10, then the asymptotic series), in the steps of x's dtype with a float64 running sum, so
    float32 gradients round as PyTorch's do."""
    x = np.array(x, copy=True)
    zero = x == 0
    recurrence = np.zeros(x.shape, np.float64)
    below = x < 10
    while below.any():
        recurrence[below] -= 1 / x[below]
        x[below] += 1
        below = x < 10
    with np.errstate(all="ignore"):
        inverse_square = 1.0 / (x * x).astype(np.float64)
        series = np.full(x.shape, _DIGAMMA_SERIES[0])
        for coefficient in _DIGAMMA_SERIES[1:]:
            series = series * inverse_square + coefficient
        series = np.where(x < 1e17, inverse_square * series, 0.0)
        value = (recurrence + rounded_log(x).astype(np.float64)
                 - (0.5 / x).astype(np.float64) - series)
    value = np.where(x == 10, recurrence + _PSI_10, value)
    return np.where(zero, np.inf, value).astype(x.dtype)


def _gamma_grad_small_draw(alpha, x):
    """-dP(alpha, x)/dalpha / p(x; alpha) from six terms of P's power series (x < 0.8)."""
    numerator = np.ones_like(x)
    denominator = alpha.copy()
    series1 = numerator / denominator
    series2 = numerator / (denominator * denominator)
    for index in range(1, 6):
        numerator = numerator * (-x / index)
        denominator = denominator + 1
        series1 = series1 + numerator / denominator
        series2 = series2 + numerator / (denominator * denominator)
    pow_x_alpha = x ** alpha
    pdf = x ** (alpha - 1) * np.exp(-x)
    cdf = pow_x_alpha * series1
    cdf_alpha = (np.log(x) - digamma_one(alpha)) * cdf - pow_x_alpha * series2
    result = -cdf_alpha / pdf
    return np.where(np.isnan(result), 0.0, result)


def _gamma_grad_large_alpha(alpha, x):
    """Rice's saddle-point expansion for alpha > 8; a polynomial within 10% of alpha, where the
    expansion's terms are singular."""
    near = (_NEAR_LOW * alpha <= x) & (x <= _NEAR_HIGH * alpha)
    numer_1 = 1 + 24 * alpha * (1 + 12 * alpha)
    numer_2 = (1440 * (alpha * alpha) + 6 * x * (53 - 120 * x) - 65 * x * x / alpha
               + alpha * (107 + 3600 * x))
    near_value = numer_1 * numer_2 / (1244160 * (alpha * alpha) * (alpha * alpha))
    denominator = np.sqrt(8 * alpha)
    term2 = denominator / (alpha - x)
    term3 = (x - alpha - alpha * np.log(x / alpha)) ** -1.5
    term23 = np.where(x < alpha, term2 - term3, term2 + term3)
    term1 = (np.log(x / alpha) * term23
             - np.sqrt(2 / alpha) * (alpha + x) / ((alpha - x) * (alpha - x)))
    stirling = 1 + 1 / (12 * alpha) * (1 + 1 / (24 * alpha))
    far_value = -stirling * (x * term1) / denominator
    return np.where(near, near_value, far_value)


def _gamma_grad_rational(alpha, x):
    """ATen's bivariate rational fit, exp(p(u, v) / q(u, v)), between the other two regimes."""
    u = np.log(x / alpha)
    v = np.log(alpha)
    rows = _GAMMA_GRAD_RATIONAL
    coefficients = [rows[0, k] + u * (rows[1, k] + u * rows[2, k]) for k in range(8)]
    p = coefficients[0] + v * (coefficients[1] + v * (coefficients[2] + v * coefficients[3]))
    q = coefficients[4] + v * (coefficients[5] + v * (coefficients[6] + v * coefficients[7]))
    return np.exp(p / q)


def standard_gamma_gradient(concentration, draws):
    """d draw / d concentration of Gamma(concentration, 1) draws at a fixed CDF value, by
    PyTorch's approximation (ATen's standard_gamma_grad_one: a series for draws below 0.8, a
    saddle-point expansion for concentrations above 8, a rational fit between), in float64,
    returned in the draws' dtype."""
    dtype = np.result_type(concentration, draws)
    alpha, x = np.broadcast_arrays(np.asarray(concentration, np.float64),
                                   np.asarray(draws, np.float64))
    gradient = np.empty(x.shape, np.float64)
    small = x < _SMALL_DRAW
    large = ~small & (alpha > 8)
    rational = ~small & ~large
    with np.errstate(all="ignore"):
        for mask, regime in ((small, _gamma_grad_small_draw), (large, _gamma_grad_large_alpha),
                             (rational, _gamma_grad_rational)):
            if mask.any():
                gradient[mask] = regime(alpha[mask], x[mask])
    return gradient.astype(dtype, copy=False)


class StandardGamma(Op):
    """Gamma(concentration, 1) draws from ember's generator, kept above the dtype's smallest
    normal number (as PyTorch's), differentiable by implicit reparameterisation."""

    @staticmethod
    def forward(ctx, concentration, generator=None):
        single = concentration.dtype == np.float32
        draws = _random.standard_gamma(generator, concentration, single=single)
        draws = np.maximum(draws.astype(concentration.dtype), np.finfo(concentration.dtype).tiny)
        ctx.save_for_backward(draws, concentration)
        return draws

    @staticmethod
    def backward(ctx, grad):
        draws, concentration = ctx.saved_tensors
        gradient = grad * standard_gamma_gradient(concentration, draws)
        return gradient.astype(concentration.dtype, copy=False), None


def _standard_gamma(input, generator=None):
    """``torch._standard_gamma``: Gamma(input, 1) draws, differentiable in ``input``."""
    _check_tensor_input("_standard_gamma", input)
    return StandardGamma.apply(input, generator)


def _standard_gamma_grad(input, output):
    """``torch._standard_gamma_grad``: d output / d input of Gamma(input, 1) draws ``output``,
    in ``input``'s shape and dtype (not differentiable, as in PyTorch)."""
    _check_tensor_input("_standard_gamma_grad", input)
    if not isinstance(output, Tensor):
        raise TypeError(f"_standard_gamma_grad(): argument 'output' (position 2) must be "
                        f"Tensor, not {named_type(output)}")
    alpha = input._data
    x = np.broadcast_to(output._data, alpha.shape)
    gradient = standard_gamma_gradient(alpha, x).astype(alpha.dtype, copy=False)
    return Tensor._wrap(np.ascontiguousarray(gradient))


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
        # kept above the smallest normal number outside the graph, as PyTorch's: a clamped
        # draw keeps its gradient
        value.detach().clamp_(min=finfo(value.dtype).tiny)
        return value

    def log_prob(self, value):
        # PyTorch's Gamma (and Chi2) converts the value to the rate's dtype first: a number or
        # a list is taken, a float64 value gives a float32 result for float32 parameters
        value = as_tensor(value, dtype=self.rate.dtype, device=self.rate.device)
        if self._validate_args:
            self._validate_sample(value)
        return (xlogy(self.concentration, self.rate) + xlogy(self.concentration - 1, value)
                - self.rate * value - lgamma(self.concentration))

    def cdf(self, value):
        """The regularised lower incomplete gamma function at ``rate * value`` (differentiable in
        ``value`` and ``rate``, not in ``concentration``, as PyTorch's)."""
        if self._validate_args:
            self._validate_sample(value)
        return gammainc(self.concentration, self.rate * value)

    def entropy(self):
        return (self.concentration - log(self.rate) + lgamma(self.concentration)
                + (1.0 - self.concentration) * digamma(self.concentration))

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return lgamma(x + 1) + (x + 1) * log(-y.reciprocal())
