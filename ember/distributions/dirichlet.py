"""``torch.distributions.Dirichlet``, and its reparameterised draw (``torch._sample_dirichlet``
with PyTorch's gradient, ``torch._dirichlet_grad``)."""
import numpy as np

from .. import _random
from .._factories import _check_tensor_input, _drawn, eye
from ..autograd.function import NOT_IMPLEMENTED, Op
from ..ops import digamma, lgamma, where, xlogy
from ..tensor import Size, Tensor, named_type
from . import constraints
from .exp_family import ExponentialFamily
from .gamma import digamma_one, rounded_log, rounded_power

__all__ = ["Dirichlet"]

# ATen's rational correction of its Dirichlet gradient: [numerator, denominator][power of
# u = log x][power of a = log(alpha / x)] -> a cubic in b = log(total) - a.
_DIRICHLET_GRAD_RATIONAL = np.array([
    [[[1.003668233, -0.01061107488, -0.0657888334, 0.01201642863],
      [0.6336835991, -0.3557432599, 0.05486251648, -0.001465281033],
      [-0.03276231906, 0.004474107445, 0.002429354597, -0.0001557569013]],
     [[0.221950385, -0.3187676331, 0.01799915743, 0.01074823814],
      [-0.2951249643, 0.06219954479, 0.01535556598, 0.001550077057],
      [0.02155310298, 0.004170831599, 0.001292462449, 6.976601077e-05]],
     [[-0.05980841433, 0.008441916499, 0.01085618172, 0.002319392565],
      [0.02911413504, 0.01400243777, -0.002721828457, 0.000751041181],
      [0.005900514878, -0.001936558688, -9.495446725e-06, 5.385558597e-05]]],
    [[[1, -0.02924021934, -0.04438342661, 0.007285809825],
      [0.6357567472, -0.3473456711, 0.05454656494, -0.002407477521],
      [-0.03301322327, 0.004845219414, 0.00231480583, -0.0002307248149]],
     [[0.5925320577, -0.1757678135, 0.01505928619, 0.000564515273],
      [0.1014815858, -0.06589186703, 0.01272886114, -0.0007316646956],
      [-0.007258481865, 0.001096195486, 0.0003934994223, -4.12701925e-05]],
     [[0.06469649321, -0.0236701437, 0.002902096474, -5.896963079e-05],
      [0.001925008108, -0.002869809258, 0.0008000589141, -6.063713228e-05],
      [-0.0003477407336, 6.959756487e-05, 1.097287507e-05, -1.650964693e-06]]]])


def _beta_grad_alpha_small(x, alpha, beta):
    """d x / d alpha of a Beta(alpha, beta) draw near 0: eleven terms of the incomplete beta's
    power series, in x's dtype (as ATen computes it)."""
    factor = digamma_one(alpha) - digamma_one(alpha + beta) - rounded_log(x)
    numerator = np.ones_like(x)
    series = numerator / alpha * (factor + 1 / alpha)
    for index in range(1, 11):
        numerator = numerator * ((index - beta) * x / index)
        denominator = alpha + index
        series = series + numerator / denominator * (factor + 1 / denominator)
    result = x * rounded_power(1 - x, -beta) * series
    return np.where(np.isnan(result), 0, result)


def _beta_grad_beta_small(x, alpha, beta):
    """d x / d beta of a Beta(alpha, beta) draw near 0: nine terms of the incomplete beta's
    power series, in x's dtype (as ATen computes it)."""
    factor = digamma_one(alpha + beta) - digamma_one(beta)
    numerator = np.ones_like(x)
    betas = np.ones_like(x)
    dbetas = np.zeros_like(x)
    series = factor / alpha
    for index in range(1, 9):
        numerator = numerator * (-x / index)
        dbetas = dbetas * (beta - index) + betas
        betas = betas * (beta - index)
        series = series + numerator / (alpha + index) * (dbetas + factor * betas)
    result = -rounded_power(1 - x, 1 - beta) * series
    return np.where(np.isnan(result), 0, result)


def _beta_grad_alpha_mid(x, alpha, beta):
    """d x / d alpha of a Beta(alpha, beta) draw for alpha, beta > 6: Rice's saddle-point
    expansion, a polynomial within a tenth of a standard deviation of the mean (float64)."""
    total = alpha + beta
    mean = alpha / total
    std = np.sqrt(alpha * beta / (total + 1)) / total
    near = (mean - 0.1 * std <= x) & (x <= mean + 0.1 * std)
    beta2 = beta * beta
    poly = 47 * x * beta2 * beta2 + alpha * (
        (43 + 20 * (16 + 27 * beta) * x) * beta2 * beta + alpha * (
            3 * (59 + 180 * beta - 90 * x) * beta2 + alpha * (
                (453 + 1620 * beta * (1 - x) - 455 * x) * beta + alpha * (
                    8 * (1 - x) * (135 * beta - 11)))))
    prefactor_num = (1 + 12 * alpha) * (1 + 12 * beta) / (total * total)
    prefactor_den = 12960 * alpha * alpha * alpha * beta * beta * (1 + 12 * total)
    near_value = prefactor_num / (1 - x) * poly / prefactor_den
    prefactor = -x / np.sqrt(2 * alpha * beta / total)
    stirling = ((1 + 1 / (12 * alpha) + 1 / (288 * alpha * alpha))
                * (1 + 1 / (12 * beta) + 1 / (288 * beta * beta))
                / (1 + 1 / (12 * total) + 1 / (288 * total * total)))
    term1_num = 2 * (alpha * alpha) * (x - 1) + alpha * beta * (x - 1) - x * beta2
    axbx = alpha * (x - 1) + beta * x
    term1_den = np.sqrt(2 * alpha / beta) * total ** 1.5 * axbx * axbx
    term1 = term1_num / term1_den
    term2 = 0.5 * np.log(alpha / (total * x))
    term3 = np.sqrt(8 * alpha * beta / total) / (beta * x + alpha * (x - 1))
    term4_base = (beta * np.log(beta / (total * (1 - x)))
                  + alpha * np.log(alpha / (total * x)))
    term4 = term4_base ** -1.5
    term1234 = term1 + term2 * (term3 + np.where(x < mean, term4, -term4))
    return np.where(near, near_value, stirling * prefactor * term1234)


def _dirichlet_grad_rational(x, alpha, total, beta, digamma_difference):
    """ATen's rational correction p / q to x (digamma(total) - digamma(alpha)) / beta."""
    u = np.log(x)
    a = np.log(alpha) - u
    b = np.log(total) - a
    numerator = np.zeros_like(x)
    denominator = np.zeros_like(x)
    coefficients = _DIRICHLET_GRAD_RATIONAL
    for i, power_u in enumerate((1.0, u, u * u)):
        for j, power_a in enumerate((1.0, a, a * a)):
            for sums, (c0, c1, c2, c3) in ((numerator, coefficients[0, i, j]),
                                           (denominator, coefficients[1, i, j])):
                sums += power_u * power_a * (c0 + b * (c1 + b * (c2 + b * c3)))
    return numerator / denominator * (x * digamma_difference / beta)


def dirichlet_gradient(x, alpha, total):
    """(d x_i / d alpha_i) / (1 - x_i) of Dirichlet draws x, each a draw of its Beta(alpha_i,
    total - alpha_i) marginal differentiated in alpha_i alone (so d x_j / d alpha_i is this
    times delta_ij - x_j), by PyTorch's approximation (ATen's dirichlet_grad_one: series near 0
    and 1, a saddle-point expansion where both Beta parameters pass 6, a rational fit
    elsewhere), in x's dtype, rounding as PyTorch's."""
    x, alpha, total = np.broadcast_arrays(x, alpha, total)
    beta = total - alpha
    boundary = total * x * (1 - x)
    x64, alpha64, total64 = (array.astype(np.float64) for array in (x, alpha, total))
    beta64 = total64 - alpha64
    gradient = np.empty(x.shape, np.float64)
    near_zero = (x <= 0.5) & (boundary < 2.5)
    near_one = ~near_zero & (x >= 0.5) & (boundary < 0.75)
    both_large = ~near_zero & ~near_one & (alpha > 6) & (beta > 6)
    rational = ~near_zero & ~near_one & ~both_large
    with np.errstate(all="ignore"):
        if near_zero.any():
            mask = near_zero
            gradient[mask] = _beta_grad_alpha_small(x[mask], alpha[mask], beta[mask])
        if near_one.any():
            mask = near_one
            gradient[mask] = -_beta_grad_beta_small(1 - x[mask], beta[mask], alpha[mask])
        if both_large.any():
            mask = both_large
            gradient[mask] = _beta_grad_alpha_mid(x64[mask], alpha64[mask], beta64[mask])
        if rational.any():
            mask = rational
            # ATen takes both digammas, and their difference, in x's dtype
            difference = digamma_one(total[mask]) - digamma_one(alpha[mask])
            gradient[mask] = _dirichlet_grad_rational(
                x64[mask], alpha64[mask], total64[mask], beta64[mask],
                difference.astype(np.float64))
    return gradient.astype(x.dtype)


def _dirichlet_draws(concentration, generator):
    """Dirichlet draws as PyTorch's _sample_dirichlet makes them: float64 gamma draws (kept
    above float64's smallest normal), normalised, then cast and kept within
    [smallest normal, largest number below 1] of the concentration's dtype."""
    gammas = _random.standard_gamma(generator, concentration)
    gammas = np.maximum(gammas, np.finfo(np.float64).tiny)
    draws = (gammas / gammas.sum(-1, keepdims=True)).astype(concentration.dtype)
    below_one = np.nextafter(concentration.dtype.type(1), concentration.dtype.type(0))
    return np.clip(draws, np.finfo(concentration.dtype).tiny, below_one)


class DirichletRsample(Op):
    """Dirichlet draws differentiable in the concentration as PyTorch's ``_Dirichlet``:
    dL/dalpha_i = dx_i/dalpha_i (grad_i - sum_j x_j grad_j), with dx_i/dalpha_i the Beta
    marginal's gradient (``_dirichlet_grad``)."""

    _torch_name = "_DirichletBackward"
    # @once_differentiable: gradients depend on the grad_outputs alone and refuse a derivative
    double_backward_takes_inputs = False
    double_backward_name = "Error"
    double_backward_error = (RuntimeError, "trying to differentiate twice a function that was "
                                           "marked with @once_differentiable")

    @staticmethod
    def forward(ctx, concentration):
        draws = _dirichlet_draws(concentration, None)
        ctx.save_for_backward(draws, concentration)
        return draws

    @staticmethod
    def backward(ctx, grad):
        draws, concentration = ctx.saved_tensors
        total = concentration.sum(-1, keepdims=True)
        marginal = dirichlet_gradient(draws, concentration, total)
        return marginal * (grad - (draws * grad).sum(-1, keepdims=True))


def _sample_dirichlet(input, generator=None):
    """``torch._sample_dirichlet``: Dirichlet(input) draws over the last dim (no derivative,
    as in PyTorch; ``Dirichlet.rsample`` has one)."""
    _check_tensor_input("_sample_dirichlet", input)
    draws = _dirichlet_draws(input._data, generator)
    return _drawn(draws, NOT_IMPLEMENTED, input, refused="_sample_dirichlet")


def _dirichlet_grad(x, alpha, total):
    """``torch._dirichlet_grad``: d x / d alpha of Dirichlet draws ``x`` (see
    dirichlet_gradient), ``alpha`` and ``total`` broadcast to x's shape, all of x's dtype."""
    for position, (name, argument) in enumerate((("x", x), ("alpha", alpha), ("total", total))):
        if not isinstance(argument, Tensor):
            raise TypeError(f"_dirichlet_grad(): argument '{name}' (position {position + 1}) "
                            f"must be Tensor, not {named_type(argument)}")
    for argument in (alpha, total):
        if argument._data.dtype != x._data.dtype:
            raise RuntimeError(f"Found dtype {argument.dtype._scalar_type} but expected "
                               f"{x.dtype._scalar_type}")
    shape = x._data.shape
    gradient = dirichlet_gradient(x._data, np.broadcast_to(alpha._data, shape),
                                  np.broadcast_to(total._data, shape))
    return Tensor._wrap(np.ascontiguousarray(gradient))


class Dirichlet(ExponentialFamily):
    """The Dirichlet distribution over the simplex of the last dim of ``concentration``."""

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Dirichlet, _instance)
        batch_shape = Size(batch_shape)
        new.concentration = self.concentration.expand(tuple(batch_shape) + tuple(self.event_shape))
        return self._init_expanded(new, batch_shape)

    def rsample(self, sample_shape=Size()):
        concentration = self.concentration.expand(self._extended_shape(sample_shape))
        return DirichletRsample.apply(concentration)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (xlogy(self.concentration - 1.0, value).sum(-1)
                + lgamma(self.concentration.sum(-1)) - lgamma(self.concentration).sum(-1))

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        excess = (self.concentration - 1).clamp(min=0.0)
        mode = excess / excess.sum(-1, keepdim=True)
        # Where every concentration is below 1 PyTorch puts the mode at a vertex: the argmax of
        # the 0/0 row, its first entry.
        all_below_one = (self.concentration < 1).all(dim=-1, keepdim=True)
        vertex = eye(excess.shape[-1], dtype=mode.dtype)[mode.argmax(-1)]
        return where(all_below_one, vertex, mode)

    @property
    def variance(self):
        total = self.concentration.sum(-1, keepdim=True)
        return (self.concentration * (total - self.concentration)
                / (total.pow(2) * (total + 1)))

    def entropy(self):
        count = self.concentration.size(-1)
        total = self.concentration.sum(-1)
        return (lgamma(self.concentration).sum(-1) - lgamma(total)
                - (count - total) * digamma(total)
                - ((self.concentration - 1.0) * digamma(self.concentration)).sum(-1))

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return lgamma(x).sum(-1) - lgamma(x.sum(-1))
