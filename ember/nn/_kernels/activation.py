"""Activation kernels: one Op per activation, forward and backward side by side.

Kernels save their output instead of their input wherever the derivative can be read off the
output, so that the ``inplace=True`` forms (which overwrite the input) still differentiate.
Every backward is written once against ``ctx.xp`` (NumPy, or ember's array-API namespace under
create_graph), so second derivatives come from the same formulas.
"""
import math

import numpy as np

from ... import _halfcast, _jit, _threads
from ..._dtype import accumulation_dtype, is_floating, scalar_type_name
from ..._layout import unary_layout
from ...autograd.function import Op, linked_to_input
from ...ops._broadcast import unbroadcast
from ...ops._select import select, where
from ...ops.elementwise._operands import _widened
from ...ops.elementwise.exp_log import one_plus_exp_negated, sigmoid, sigmoid_array
from ...ops.elementwise.special import erf as erf_op
from ...ops.elementwise.special import erf_array

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_COEFFICIENT = 0.044715
# erf(x) ~ x * P(x^2) / Q(x^2) on [-4, 4] (beyond it float32 erf is +-1): the rational fit that
# Eigen and XLA use for float32, a few ulp from the true value; highest powers first.
_ERF_NUMERATOR = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
                  -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
                  -1.60960333262415e-02)
_ERF_DENOMINATOR = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
                    -7.37332916720468e-03, -1.42647390514189e-02)


def _check_floating(x, name):
    """PyTorch's error for an activation kernel given integer or bool input (its kernel name)."""
    if not is_floating(x.dtype):
        raise NotImplementedError(f'"{name}" not implemented for '
                                  f"'{scalar_type_name(x.dtype)}'")


def _polynomial(square, coefficients):
    """Horner's rule in the array's dtype, in place on one temporary."""
    value = square * square.dtype.type(coefficients[0])
    value += square.dtype.type(coefficients[1])
    for coefficient in coefficients[2:]:
        value *= square
        value += square.dtype.type(coefficient)
    return value


def _erf_float32(x):
    """erf of a float32 array in float32 (about 20 vectorised passes, no float64 detour)."""
    clipped = np.clip(x, x.dtype.type(-4), x.dtype.type(4))
    square = clipped * clipped
    numerator = _polynomial(square, _ERF_NUMERATOR)
    numerator *= clipped
    numerator /= _polynomial(square, _ERF_DENOMINATOR)
    return numerator


def _erf(xp, x):
    """erf on either path: NumPy has none, so ember's kernels on arrays (the float32 fit, the
    float64 series, float16 through float32) and ember's differentiable erf on Tensors."""
    if xp is not np:
        return erf_op(x)
    if x.dtype == np.float64:
        return erf_array(x)
    if x.dtype == np.float32:
        return _erf_float32(x)
    return _erf_float32(x.astype(np.float32)).astype(x.dtype)


def _rescaled(coefficients, scale):
    """Coefficients of p(scale * s) as a polynomial in s, highest powers first (float64)."""
    degree = len(coefficients) - 1
    return [value * scale ** (degree - power) for power, value in enumerate(coefficients)]


def _cdf_coefficients():
    """Phi(x) = 0.5 + 0.5 * erf(x / sqrt(2)) = 0.5 + x * P(x^2) / Q(x^2) with Q monic: the erf
    fit above with x / sqrt(2) and the factor 0.5 folded into the coefficients, so the float32
    kernels spend no pass on scaling x or the result; rounded to float32 once."""
    numerator = _rescaled(_ERF_NUMERATOR, 0.5)
    denominator = _rescaled(_ERF_DENOMINATOR, 0.5)
    leading = denominator[0]
    numerator = [value * 0.5 * _SQRT_HALF / leading for value in numerator]
    denominator = [value / leading for value in denominator[1:]]
    return tuple(map(np.float32, numerator)), tuple(map(np.float32, denominator))


_CDF_BOUND = np.float32(4 * math.sqrt(2.0))
_CDF_NUMERATOR, _CDF_DENOMINATOR = _cdf_coefficients()
_HALF = np.float32(0.5)
_ZERO = np.float32(0)
_ONE = np.float32(1)
_MINUS_HALF = np.float32(-0.5)
_INV_SQRT_2PI_32 = np.float32(_INV_SQRT_2PI)

# Elements per slice of the float32 GELU kernels: a slice and its two scratch buffers stay in
# the CPU's L1/L2 cache across the ~30 passes of the formula.
_CHUNK = 65536


def _normal_cdf_float32(x, out, clipped, square):
    """Phi(x) of a float32 slice into ``out`` (same shape), with two scratch buffers: 26
    in-place passes, no allocation."""
    np.clip(x, -_CDF_BOUND, _CDF_BOUND, out=clipped)
    np.multiply(clipped, clipped, out=square)
    np.multiply(square, _CDF_NUMERATOR[0], out=out)
    out += _CDF_NUMERATOR[1]
    for coefficient in _CDF_NUMERATOR[2:]:
        out *= square
        out += coefficient
    out *= clipped
    # The monic denominator reuses ``clipped``, no longer needed.
    denominator = np.add(square, _CDF_DENOMINATOR[0], out=clipped)
    for coefficient in _CDF_DENOMINATOR[1:]:
        denominator *= square
        denominator += coefficient
    out /= denominator
    out += _HALF
    # The fit overshoots 0 and 1 by an ulp at the clipping bounds: exact 0 and 1 in the tails,
    # as 1 + erf(x) is there, so GELU of a very negative x is 0, not ulp * x.
    np.clip(out, _ZERO, _ONE, out=out)
    return out


@_jit.kernel
def _gelu_float32_kernel(x, grad, out, backward):
    """The float32 GELU of flat arrays in one pass, the same float32 operations in the same
    order as the NumPy passes: x * Phi(x), or with ``backward`` grad * (Phi(x) + x * phi(x)),
    whose exp(-x^2 / 2) is ember._jit.exp_float32 (within 2 ulp of NumPy's exp)."""
    for index in range(x.size):
        value = x[index]
        clipped = value
        if clipped > _CDF_BOUND:
            clipped = _CDF_BOUND
        if clipped < -_CDF_BOUND:
            clipped = -_CDF_BOUND
        square = clipped * clipped
        cdf = square * _CDF_NUMERATOR[0] + _CDF_NUMERATOR[1]
        for power in range(2, len(_CDF_NUMERATOR)):
            cdf = cdf * square + _CDF_NUMERATOR[power]
        cdf *= clipped
        denominator = square + _CDF_DENOMINATOR[0]
        for power in range(1, len(_CDF_DENOMINATOR)):
            denominator = denominator * square + _CDF_DENOMINATOR[power]
        cdf = cdf / denominator + _HALF
        if cdf < _ZERO:
            cdf = _ZERO
        if cdf > _ONE:
            cdf = _ONE
        if backward:
            density = _jit.exp_float32(value * _MINUS_HALF * value)
            out[index] = (cdf + density * value * _INV_SQRT_2PI_32) * grad[index]
        else:
            out[index] = cdf * value


def _cdf_in_slices(x, finish, grad=None):
    """Phi(x) of a float32 array slice by slice into one output, each slice then completed in
    place by ``finish(target, values, grad_slice, scratch)`` while it is in cache."""
    flat = x.reshape(-1)
    grad_flat = None if grad is None else np.ascontiguousarray(grad, np.float32).reshape(-1)
    out = np.empty_like(flat)
    clipped = np.empty(min(flat.size, _CHUNK), np.float32)
    square = np.empty_like(clipped)
    for start in range(0, flat.size, _CHUNK):
        values = flat[start:start + _CHUNK]
        stop = start + values.size
        target = _normal_cdf_float32(values, out[start:stop], clipped[:values.size],
                                     square[:values.size])
        finish(target, values, None if grad_flat is None else grad_flat[start:stop],
               square[:values.size])
    return out.reshape(x.shape)


def _times_input(target, values, grad, scratch):
    target *= values


def _derivative_times_grad(target, values, grad, scratch):
    """(Phi(x) + x * phi(x)) * grad from Phi(x) in ``target``; x * phi(x) from the unclipped x."""
    density = np.multiply(values, _MINUS_HALF, out=scratch)
    density *= values
    _jit.exp_float32_array(density, density)
    density *= values
    density *= _INV_SQRT_2PI_32
    target += density
    target *= grad


def _gelu_float32(x):
    """x * Phi(x) of a C-contiguous float32 array."""
    compiled = _gelu_float32_kernel.compiled()
    if compiled is None:
        return _cdf_in_slices(x, _times_input)
    flat = x.reshape(-1)
    out = np.empty_like(flat)

    def gelu(start, stop):
        values = flat[start:stop]
        compiled(values, values, out[start:stop], False)

    _threads.run(gelu, _threads.row_ranges(flat.size, _threads.chunk_count(flat.size)))
    return out.reshape(x.shape)


def _gelu_backward_float32(grad, x):
    """grad * (Phi(x) + x * phi(x)) of float32 arrays (x C-contiguous)."""
    compiled = _gelu_float32_kernel.compiled()
    if compiled is None:
        return _cdf_in_slices(x, _derivative_times_grad, grad)
    flat = x.reshape(-1)
    grad_flat = np.ascontiguousarray(grad, np.float32).reshape(-1)
    out = np.empty_like(flat)

    def differentiate(first, last):
        compiled(flat[first:last], grad_flat[first:last], out[first:last], True)

    _threads.run(differentiate, _threads.row_ranges(flat.size, _threads.chunk_count(flat.size)))
    return out.reshape(x.shape)


def _gelu(xp, x):
    return 0.5 * x * (1 + _erf(xp, x * _SQRT_HALF))


def _gelu_derivative(xp, x):
    """Phi(x) + x * phi(x)."""
    return 0.5 * (1 + _erf(xp, x * _SQRT_HALF)) + x * xp.exp(-0.5 * x * x) * _INV_SQRT_2PI


def _gelu_tanh_derivative(xp, x):
    if xp is np:
        return _gelu_tanh_derivative_array(x)
    x_squared = x * x
    tanh_inner = xp.tanh(_SQRT_2_OVER_PI * (x + _GELU_TANH_COEFFICIENT * x_squared * x))
    inner_derivative = _SQRT_2_OVER_PI * (1 + 3 * _GELU_TANH_COEFFICIENT * x_squared)
    return 0.5 * (1 + tanh_inner) + 0.5 * x * (1 - tanh_inner * tanh_inner) * inner_derivative


def _gelu_tanh_derivative_array(x):
    """_gelu_tanh_derivative of an array in three buffers, in place: the same roundings (products
    reordered only where exact: commuted, or scaled by 0.5), 1.15 -> 0.45 ms on 131k float32."""
    # (buffers given as out=, so that a 0-d x gives arrays, not NumPy scalars)
    slope = np.multiply(x, x, out=np.empty(x.shape, x.dtype))
    tanh_inner = np.multiply(slope, _GELU_TANH_COEFFICIENT, out=np.empty(x.shape, x.dtype))
    tanh_inner *= x
    tanh_inner += x
    tanh_inner *= _SQRT_2_OVER_PI
    np.tanh(tanh_inner, out=tanh_inner)
    slope *= 3 * _GELU_TANH_COEFFICIENT
    slope += 1
    slope *= _SQRT_2_OVER_PI  # the inner derivative
    out = np.multiply(tanh_inner, tanh_inner, out=np.empty(x.shape, x.dtype))
    np.subtract(1, out, out=out)
    out *= x
    out *= 0.5
    out *= slope
    tanh_inner += 1
    tanh_inner *= 0.5
    out += tanh_inner
    return out


def stable_sigmoid(xp, x):
    """The logistic function in the values' dtype. On Tensors (a recorded backward) the sigmoid
    op, whose gradient out * (1 - out) stays finite and is right at 0 too."""
    if xp is np:
        return sigmoid_array(x)
    return sigmoid(x)


def softplus_of(xp, x):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), without overflow. On arrays, in one
    buffer (np.logaddexp is not vectorised: 20 ms against 4.6 ms on 1M floats); on Tensors
    -log_sigmoid(-x), whose derivatives are right at 0 (|x| has slope 0 there)."""
    if xp is np:
        out = np.empty(x.shape, x.dtype)
        np.abs(x, out=out)
        np.negative(out, out=out)
        np.exp(out, out=out)
        np.log1p(out, out=out)
        out += np.clip(x, 0.0, np.inf)  # maximum with a scalar has no vector loop
        return out
    return -LogSigmoid.apply(-x)


def _at_most(x, bound):
    """np.minimum(x, bound) for a number bound, by NumPy's clip, which has vector loops where
    minimum with a scalar has none (1M float32: 97 against 320 us); -0.0 stays -0.0, as in
    PyTorch's kernels."""
    return np.clip(x, -np.inf, bound)


def _once(array, dtype):
    """A float32 result of float16/bfloat16 math rounded back once (PyTorch's opmath); other
    dtypes as they are (an array even for a 0-d result)."""
    array = np.asarray(array)
    return array if array.dtype == dtype else _halfcast.astype(array, dtype)


def _dense(grad, like):
    """``grad`` row-major where it is a float32 gradient of ``like``'s shape laid out otherwise:
    a broadcast one (sum's backward gives it) would miss the compiled kernels, which take
    row-major arrays (leaky_relu of (64, 1024) then sum: 272 -> 55 us a step)."""
    if (type(grad) is np.ndarray and not grad.flags.c_contiguous and grad.dtype == np.float32
            and grad.shape == like.shape):
        return np.ascontiguousarray(grad)
    return grad


class _Activation(Op):
    """Base of the activations: every subclass's backward is written against ``ctx.xp``."""
    _next_order = (0,)  # PyTorch lists the input, not the options

    output_layout = staticmethod(unary_layout)
    differentiable_backward = True


@_jit.kernel
def _hardtanh_float32_kernel(x, grad, low, high, out, backward):
    """hardtanh of flat float32 arrays in one pass (NumPy's clip, or compare, compare, and,
    select): x clamped to [low, high] as np.clip (NaN kept, ties kept as x), or with
    ``backward`` grad strictly inside the edges, else 0 (NaN too: PyTorch's vectorised loop
    zeroes it; only its scalar tail of fewer than a vector's elements passes it)."""
    for index in range(x.size):
        value = x[index]
        if backward:
            out[index] = grad[index] if low < value < high else 0
        else:
            # max then min, as np.clip: with low > high every value becomes high
            clamped = low if value < low else value
            out[index] = high if clamped > high else clamped


class Hardtanh(_Activation):
    """clamp to [min_val, max_val] (integers too, as PyTorch); the gradient is zero at and
    beyond the edges. It saves its input (the in-place form a copy of it), as PyTorch's, so its
    output may be changed in place before backward."""

    backward_keeps_input = True

    @staticmethod
    def forward(ctx, x, min_val, max_val):
        if x.dtype == np.bool_:
            raise RuntimeError("Bool inputs not supported for hardtanh")
        if x.dtype.kind == "u" and min_val < 0:
            raise RuntimeError("cannot do hardtanh on an unsigned type with negative limits")
        if x.dtype.kind == "c":
            raise NotImplementedError("clamp is not supported for complex types")
        ctx.save_for_backward(x)
        ctx.bounds = (min_val, max_val)
        compiled = _jit.compiled_float32(_hardtanh_float32_kernel, x)
        if compiled is not None:
            out = np.empty(x.shape, np.float32)
            flat = x.reshape(-1)
            # Python floats meet float32 arrays as float32 in NumPy (weak scalars) too
            compiled(flat, flat, np.float32(min_val), np.float32(max_val), out.reshape(-1),
                     False)
            return out
        # an array even for 0-d x; NumPy clips bfloat16 into float32
        return np.asarray(np.clip(x, min_val, max_val)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (saved,) = ctx.saved_tensors
        min_val, max_val = ctx.bounds
        if ctx.xp is np:
            grad = _dense(grad, saved)
            compiled = _jit.compiled_float32(_hardtanh_float32_kernel, saved, grad)
            if compiled is not None:
                out = np.empty(grad.shape, np.float32)
                compiled(saved.reshape(-1), grad.reshape(-1), np.float32(min_val),
                         np.float32(max_val), out.reshape(-1), True)
                return out, None, None
        return where(ctx.xp, (saved > min_val) & (saved < max_val), grad, 0.0), None, None


@_jit.kernel
def _leaky_relu_float32_kernel(x, grad, slope, out, backward):
    """leaky_relu of flat float32 arrays in one pass (NumPy's three: compare, multiply,
    select): x > 0 ? x : x * slope, or with ``backward`` x > 0 ? grad : grad * slope, the
    slope a float32 as in PyTorch's kernel."""
    for index in range(x.size):
        if backward:
            out[index] = grad[index] if x[index] > 0 else grad[index] * slope
        else:
            out[index] = x[index] if x[index] > 0 else x[index] * slope


_NEGATIVE_SLOPE_IN_PLACE = (
    "In-place leakyReLu backward calculation is triggered with a negative slope which is not "
    "supported. This is caused by calling in-place forward function with a negative slope, "
    "please call out-of-place version instead. File an issue at "
    "https://github.com/pytorch/pytorch if you do require supporting in-place leakRelu backward "
    "calculation with negative slope")


class LeakyRelu(_Activation):
    """x where positive, else negative_slope * x; the in-place form saves its output (as
    PyTorch's), the out-of-place form its input, which leaves the output free to change."""

    backward_keeps_input = True

    @staticmethod
    def forward(ctx, x, negative_slope, inplace=False):
        _check_floating(x, "leaky_relu_cpu")
        out = np.empty(x.shape, x.dtype)
        compiled = _jit.compiled_float32(_leaky_relu_float32_kernel, x, out)
        if compiled is not None:
            flat = x.reshape(-1)
            compiled(flat, flat, np.float32(negative_slope), out.reshape(-1), False)
        else:
            out = select(x > 0, x, _once(_widened(x) * negative_slope, x.dtype))
        # With a non-negative slope, out > 0 exactly where x > 0, so the output serves as well.
        ctx.save_for_backward(out if inplace and negative_slope >= 0 else x)
        ctx.negative_slope = negative_slope
        # PyTorch's leaky_relu_ differentiates its result, leaky_relu its input (see backward)
        ctx.backward_keeps_input = not inplace
        ctx.inplace = inplace
        return out

    @staticmethod
    def backward(ctx, grad):
        if ctx.inplace and ctx.negative_slope < 0:
            # PyTorch's leaky_relu_ derives from its result, which a negative slope makes
            # ambiguous: its backward refuses
            raise RuntimeError(_NEGATIVE_SLOPE_IN_PLACE)
        (saved,) = ctx.saved_tensors
        if ctx.xp is np:
            grad = _dense(grad, saved)
            compiled = _jit.compiled_float32(_leaky_relu_float32_kernel, saved, grad)
            if compiled is not None:
                out = np.empty(grad.shape, np.float32)
                compiled(saved.reshape(-1), grad.reshape(-1), np.float32(ctx.negative_slope),
                         out.reshape(-1), True)
                return out, None, None
        sloped = grad * ctx.negative_slope if ctx.xp is not np else \
            _once(_widened(grad) * ctx.negative_slope, grad.dtype)
        grad_input = where(ctx.xp, saved > 0, grad, sloped)
        if ctx.xp is not np and ctx.inplace:
            # under create_graph the gradient depends on the in-place result (derivative 0), so
            # a further grad runs this backward again, as PyTorch's for leaky_relu_
            grad_input = linked_to_input(grad_input, (ctx, 0), None)
        return grad_input, None, None


@_jit.kernel
def _elu_backward_float32(x, grad, scale, coefficient, out):
    """ELU's (and SELU's) gradient from its float32 input in one pass: grad * scale above 0,
    else grad * (exp(x) * coefficient), the NumPy path's float32 steps with
    ember._jit.exp_float32 (within 2 ulp of NumPy's exp)."""
    for index in range(x.size):
        value = x[index]
        if value > 0:
            out[index] = grad[index] * scale
        else:
            out[index] = grad[index] * (_jit.exp_float32(value) * coefficient)


class RreluWithNoise(_Activation):
    """x * noise, the slopes rrelu drew in training (1 above 0). PyTorch's backward takes the
    input (derivative 0), the in-place form's its result: under create_graph the gradient is
    linked to whichever it takes, so a further grad of the in-place form runs this again."""

    @staticmethod
    def forward(ctx, x, noise, inplace):
        ctx.save_for_backward(_once(noise, x.dtype))  # noise: the slopes in x's compute type
        ctx.inplace = inplace
        ctx.backward_keeps_input = not inplace
        return _once(_widened(x) * _widened(noise), x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (noise,) = ctx.saved_tensors
        if ctx.xp is np:
            return _once(_widened(grad) * _widened(noise), grad.dtype), None, None
        grad_input = grad * noise
        if ctx.inplace:
            grad_input = linked_to_input(grad_input, (ctx, 0), None)
        return grad_input, None, None


class Elu(_Activation):
    """scale * (x if x > 0 else alpha * (exp(x) - 1)): ELU (scale 1) and SELU share it."""

    @staticmethod
    def forward(ctx, x, alpha, scale, inplace=False):
        _check_floating(x, "elu_cpu")
        wide = _widened(x)
        negative = np.expm1(_at_most(wide, 0.0)) * (alpha * scale)
        out = select(x > 0, _once(wide * scale, x.dtype), _once(negative, x.dtype))
        ctx.alpha_scale = (alpha, scale)
        # For alpha >= 0, out > 0 exactly where x > 0 and d/dx = out + alpha * scale below zero;
        # only the in-place form saves the output (as PyTorch's), leaving elu(x)'s free to change.
        ctx.from_output = inplace and alpha >= 0
        ctx.save_for_backward(out if ctx.from_output else x)
        return out

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        (saved,) = ctx.saved_tensors
        alpha, scale = ctx.alpha_scale
        dtype = grad.dtype
        if xp is np and not ctx.from_output:
            grad = _dense(grad, saved)
            compiled = _jit.compiled_float32(_elu_backward_float32, saved, grad)
            if compiled is not None:
                out = np.empty(grad.shape, np.float32)
                compiled(saved.reshape(-1), grad.reshape(-1), np.float32(scale),
                         np.float32(alpha * scale), out.reshape(-1))
                return out, None, None, None
        if xp is np:  # float16 and bfloat16 in float32, rounded once (PyTorch's opmath)
            saved, grad = _widened(saved), _widened(grad)
        below = saved
        if xp is not np:
            # PyTorch's second derivative is masked by x < 0: at 0 the slope is a constant
            below = xp.where(saved < 0, saved, 0.0)
        if ctx.from_output:
            slope_below = below + alpha * scale
        else:
            slope_below = xp.exp(_at_most(below, 0.0) if xp is np else xp.minimum(below, 0.0)) \
                * (alpha * scale)
        out = where(xp, saved > 0, grad * scale, grad * slope_below)
        return (out if xp is not np else _once(out, dtype)), None, None, None


def untracked_gelu(x, approximate):
    """Gelu.forward where nothing is recorded, for a C-contiguous float32/float64 array of at
    least one dim that one thread computes: the float32 kernel called directly, the NumPy
    passes of the other forms in two buffers; None elsewhere (the node's path)."""
    if type(x) is not np.ndarray or not x.ndim or not x.flags.c_contiguous:
        return None
    dtype = x.dtype
    if dtype is not _FLOAT32 and dtype is not _FLOAT64:
        return None
    if approximate == "tanh":
        # Gelu.forward's tanh formula, each operation in the same order, in place
        inner = np.multiply(x, _GELU_TANH_COEFFICIENT)
        inner *= x
        inner *= x
        inner += x
        inner *= _SQRT_2_OVER_PI
        np.tanh(inner, out=inner)
        inner += 1
        output = np.multiply(x, 0.5)
        output *= inner
        return output
    if dtype is _FLOAT64:
        return _gelu(np, x)
    compiled = _gelu_float32_kernel.compiled()
    if compiled is None or _threads.chunk_count(x.size) != 1:
        return None
    flat = x.reshape(-1)
    output = np.empty_like(flat)
    compiled(flat, flat, output, False)
    return output.reshape(x.shape)


_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)


class Gelu(_Activation):
    """x * Phi(x) (exact, via erf) or its tanh approximation."""

    @staticmethod
    def forward(ctx, x, approximate):
        _check_floating(x, "GeluKernelImpl")
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        if x.dtype == np.float32 and approximate != "tanh":
            # np.asarray, not np.ascontiguousarray: a 0-d x keeps its shape
            return _gelu_float32(np.asarray(x, order="C"))
        wide = _widened(x)  # float16 and bfloat16 in float32, rounded once (PyTorch's opmath)
        if approximate == "tanh":
            inner = _SQRT_2_OVER_PI * (wide + _GELU_TANH_COEFFICIENT * wide * wide * wide)
            return _once(0.5 * wide * (1 + np.tanh(inner)), x.dtype)
        return _once(_gelu(np, wide), x.dtype)

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        (x,) = ctx.saved_tensors
        derivative = _gelu_tanh_derivative if ctx.approximate == "tanh" else _gelu_derivative
        if xp is np and ctx.approximate != "tanh" and x.dtype == np.float32:
            return _gelu_backward_float32(grad, np.asarray(x, order="C")), None
        if xp is np:
            slope = derivative(np, _widened(x))
            wide_grad = _widened(grad)
            if (type(slope) is np.ndarray and slope.shape == wide_grad.shape
                    and slope.dtype == wide_grad.dtype):
                return _once(np.multiply(wide_grad, slope, out=slope), grad.dtype), None
            return _once(wide_grad * slope, grad.dtype), None
        return grad * derivative(xp, x), None


@_jit.kernel
def _silu_float32_kernel(x, grad, out, backward):
    """SiLU of flat float32 arrays in one pass, as PyTorch's CPU kernel writes it: x / (1 +
    exp(-x)), or with ``backward`` grad * s * (1 + x * (1 - s)), s = 1 / (1 + exp(-x)); exp
    is ember._jit.exp_float32 (within 2 ulp of NumPy's)."""
    for index in range(x.size):
        value = x[index]
        denominator = _ONE + _jit.exp_float32(-value)
        if backward:
            sigmoid = _ONE / denominator
            out[index] = grad[index] * sigmoid * (_ONE + value * (_ONE - sigmoid))
        else:
            out[index] = value / denominator


class Silu(_Activation):
    """x * sigmoid(x), fused so backward needs only x."""

    @staticmethod
    def forward(ctx, x):
        _check_floating(x, "silu_cpu")
        ctx.save_for_backward(x)
        wide = _widened(x)
        out = np.empty(wide.shape, wide.dtype)
        compiled = _jit.compiled_float32(_silu_float32_kernel, wide, out)
        if compiled is not None:
            flat = wide.reshape(-1)
            compiled(flat, flat, out.reshape(-1), False)
            return _once(out, x.dtype)
        # x / (1 + exp(-x)), PyTorch's formula, in the one buffer
        denominator = one_plus_exp_negated(wide, out)
        with np.errstate(invalid="ignore"):  # -inf / inf: NaN, as in PyTorch
            return _once(np.divide(wide, denominator, out=out), x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        if ctx.xp is np:
            dtype, x, grad = grad.dtype, _widened(x), _dense(_widened(grad), x)
            compiled = _jit.compiled_float32(_silu_float32_kernel, x, grad)
            if compiled is not None:
                out = np.empty(x.shape, np.float32)
                compiled(x.reshape(-1), grad.reshape(-1), out.reshape(-1), True)
                return _once(out, dtype)
            sigmoid = stable_sigmoid(np, x)
            return _once(grad * sigmoid * (1 + x * (1 - sigmoid)), dtype)
        sigmoid = stable_sigmoid(ctx.xp, x)
        return grad * sigmoid * (1 + x * (1 - sigmoid))


class Mish(_Activation):
    """x * tanh(softplus(x)), fused so backward needs only x."""

    @staticmethod
    def forward(ctx, x):
        _check_floating(x, "mish_cpu")
        ctx.save_for_backward(x)
        wide = _widened(x)
        return _once(wide * np.tanh(softplus_of(np, wide)), x.dtype)

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        (x,) = ctx.saved_tensors
        dtype = grad.dtype
        if xp is np:
            x, grad = _widened(x), _widened(grad)
        tanh_softplus = xp.tanh(softplus_of(xp, x))
        slope = tanh_softplus + x * stable_sigmoid(xp, x) * (1 - tanh_softplus * tanh_softplus)
        return grad * slope if xp is not np else _once(grad * slope, dtype)


class Glu(_Activation):
    """a * sigmoid(b) for the halves a, b of ``axis``: one node over the input (PyTorch's
    GluBackward0) where a split, a sigmoid and a product were recorded; float16/bfloat16 in
    float32, rounded once. Saves the input only."""

    _torch_name = "GluBackward0"
    output_layout = None  # the result keeps the halves' memory order, as PyTorch's

    @staticmethod
    def forward(ctx, x, axis):
        _check_floating(x, "glu_cpu")
        first, second = _halves(np, x, axis)
        ctx.axis = axis
        ctx.save_for_backward(x)
        wide = _widened(second)
        gate = sigmoid_array(wide, out=np.empty_like(wide))  # in the halves' memory order
        return _once(np.multiply(_widened(first), gate, out=gate), x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xp = ctx.xp
        first, second = _halves(xp, x, ctx.axis)
        if xp is np:
            dtype, grad = grad.dtype, _widened(grad)
            first, second = _widened(first), _widened(second)
            # PyTorch's glu_backward: s = sigmoid(b) in the input's dtype, then s * grad and
            # (1 - s) * s * a * grad (float16/bfloat16 in float32 from the rounded s)
            gate = _widened(_once(sigmoid_array(second, out=np.empty(second.shape,
                                                                      second.dtype)), dtype))
            grad_second = (1 - gate) * gate * first * grad
            return np.concatenate([_once(gate * grad, dtype), _once(grad_second, dtype)],
                                  axis=ctx.axis), None
        gate = stable_sigmoid(xp, second)
        return xp.concat([gate * grad, (1 - gate) * gate * first * grad], axis=ctx.axis), None


def _halves(xp, x, axis):
    """The two halves of ``x`` along ``axis`` (views)."""
    half = x.shape[axis] // 2
    lead = (slice(None),) * axis
    return x[lead + (slice(0, half),)], x[lead + (slice(half, None),)]


class Softplus(_Activation):
    """log(1 + exp(beta x)) / beta, reverting to x where beta x > threshold (PyTorch's rule)."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        _check_floating(x, "softplus_cpu")
        scaled = _widened(x) * beta
        below = _once(softplus_of(np, scaled) / beta, x.dtype)
        out = select(scaled > threshold, x, below)
        ctx.save_for_backward(x)
        ctx.beta_threshold = (beta, threshold)
        return out

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        beta, threshold = ctx.beta_threshold
        if ctx.xp is np:
            # PyTorch's z / (z + 1), z = exp(beta x): far left it keeps the subnormal values
            # that 1 / (1 + exp(-beta x)) rounds to 0 (exp(-beta x) overflows there); float16
            # in float32 (its exp overflows above 11), rounded once
            scaled = _widened(x) * beta
            with np.errstate(over="ignore", invalid="ignore"):
                exp = np.exp(_at_most(scaled, threshold))
                below = (_widened(grad) * exp / (exp + 1)).astype(grad.dtype, copy=False)
        else:
            scaled = x * beta
            # PyTorch's second derivative is masked by beta x < threshold (strictly)
            below = grad * stable_sigmoid(ctx.xp, ctx.xp.where(scaled < threshold, scaled,
                                                               float(threshold)))
        return where(ctx.xp, scaled > threshold, grad, below), None, None


class LogSigmoid(_Activation):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), fused for stability at large |x|."""

    @staticmethod
    def forward(ctx, x):
        _check_floating(x, "log_sigmoid_cpu")
        ctx.save_for_backward(x)
        wide = _widened(x)
        return _once(_at_most(wide, 0.0) - np.log1p(np.exp(-np.abs(wide))), x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xp = ctx.xp
        if xp is not np:
            return grad * stable_sigmoid(xp, -x)
        # PyTorch's log_sigmoid_backward: with z = exp(-|x|), 1 - z / (1 + z) below zero and
        # z / (1 + z) above, which keeps the subnormal tail far right (float16 in float32)
        wide = _widened(x)
        z = np.exp(-np.abs(wide))
        fraction = z / (1 + z)
        slope = select(wide < 0, 1 - fraction, fraction)
        return (_widened(grad) * slope).astype(grad.dtype, copy=False)


def _summed_to(gradient, shape):
    """``gradient`` summed to the broadcast operand's ``shape`` (reduced floats accumulate in
    float32, as PyTorch's sums do)."""
    if type(gradient) is not np.ndarray or gradient.shape == tuple(shape):
        return unbroadcast(gradient, tuple(shape))
    wide = accumulation_dtype(gradient.dtype)
    if wide == gradient.dtype:
        return unbroadcast(gradient, tuple(shape))
    return unbroadcast(gradient.astype(wide), tuple(shape)).astype(gradient.dtype)


class Prelu(Op):
    """x where x > 0, else weight * x (weight broadcast against x). PyTorch's prelu is one
    kernel with a backward of its own (PreluBackward), whose second derivatives treat x = 0
    as positive: a composite of where and mul would differ there."""

    output_layout = staticmethod(unary_layout)
    differentiable_backward = True

    def name(self):
        return "PreluKernelBackward0"

    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        return np.asarray(np.where(x > 0, x, weight * x)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        needs_x, needs_weight = ctx.needs_input_grad
        if ctx.xp is np:
            positive = x > 0
            grad_x = np.where(positive, grad, weight * grad).astype(x.dtype, copy=False) \
                if needs_x else None
            grad_weight = _summed_to(np.where(positive, 0, x * grad).astype(x.dtype, copy=False),
                                     weight.shape) if needs_weight else None
            return grad_x, grad_weight
        grad_x, grad_weight = PreluBackward.apply(grad, x, weight)
        return grad_x if needs_x else None, grad_weight if needs_weight else None


class PreluBackward(Op):
    """prelu's input and weight gradients as one node (PyTorch's prelu kernel backward), with
    PyTorch's derivatives of them: x >= 0 takes the positive branch."""

    differentiable_backward = True

    def name(self):
        return "PreluKernelBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, x, weight):
        ctx.save_for_backward(grad, x, weight)
        positive = x > 0
        grad_x = np.where(positive, grad, weight * grad).astype(x.dtype, copy=False)
        grad_weight = np.where(positive, 0, x * grad).astype(x.dtype, copy=False)
        return grad_x, _summed_to(grad_weight, weight.shape)

    @staticmethod
    def backward(ctx, grad_grad_x, grad_grad_weight):
        grad, x, weight = ctx.saved_tensors
        xp = ctx.xp
        needs_grad, needs_x, needs_weight = ctx.needs_input_grad
        positive = x >= 0
        if grad_grad_weight is not None:
            grad_grad_weight = xp.broadcast_to(grad_grad_weight, x.shape)
        for_grad = for_x = for_weight = None
        if needs_grad:
            negative = 0.0
            if grad_grad_x is not None:
                negative = grad_grad_x * weight
            if grad_grad_weight is not None:
                negative = negative + grad_grad_weight * x
            for_grad = where(xp, positive, 0.0 if grad_grad_x is None else grad_grad_x,
                             negative)
        # zeros, not None, where a gradient gets nothing: the node keeps x and weight
        if needs_x:
            for_x = xp.zeros_like(x) if grad_grad_weight is None else \
                where(xp, positive, 0.0, grad * grad_grad_weight)
        if needs_weight:
            for_weight = xp.zeros_like(weight) if grad_grad_x is None else \
                _summed_to(where(xp, positive, 0.0, grad * grad_grad_x), weight.shape)
        return for_grad, for_x, for_weight


# PyTorch's hardsigmoid gradient multiplies by the float literal 1.0f / 6.0f, float64 too.
_ONE_SIXTH = float(np.float32(1.0) / np.float32(6.0))
_ONE_SIXTH_32 = np.float32(_ONE_SIXTH)


@_jit.kernel
def _hard_float32(x, grad, out, swish, backward):
    """hardsigmoid (or with ``swish`` hardswish) of flat float32 arrays in one pass, or with
    ``backward`` their gradient, in the NumPy passes' float32 operations and order."""
    three = np.float32(3.0)
    six = np.float32(6.0)
    for index in range(x.size):
        value = x[index]
        if backward:
            if swish:  # (NaN takes the middle formula, as in PyTorch)
                if value <= -three:
                    out[index] = np.float32(0.0)
                elif value >= three:
                    out[index] = grad[index]
                else:
                    out[index] = grad[index] * (value / three + np.float32(0.5))
            else:
                out[index] = grad[index] * _ONE_SIXTH_32 if -three < value < three \
                    else np.float32(0.0)
        else:
            clipped = value + three
            if clipped < 0:
                clipped = np.float32(0.0)
            elif clipped > six:
                clipped = six
            out[index] = value * clipped / six if swish else clipped / six


def _hard_activation(x, grad, swish, backward):
    """``_hard_float32``'s result, or None where it does not apply (not float32 arrays of one
    shape, or numba absent)."""
    arrays = (x,) if grad is None else (x, grad)
    compiled = _jit.compiled_float32(_hard_float32, *arrays)
    if compiled is None:
        return None
    out = np.empty(x.shape, np.float32)
    flat = x.reshape(-1)
    compiled(flat, flat if grad is None else grad.reshape(-1), out.reshape(-1), swish, backward)
    return out


class Hardsigmoid(_Activation):
    """clamp(x + 3, 0, 6) / 6; the gradient is 1/6 on the open interval (-3, 3) only."""

    double_backward_error = (RuntimeError,
                             "derivative for aten::hardsigmoid_backward is not implemented")
    forward_ad_by_backward = True
    backward_forward_ad_error = (NotImplementedError, "Trying to use forward AD with "
                                 "aten::hardsigmoid_backward that does not support it.")

    @staticmethod
    def forward(ctx, x):
        _check_floating(x, "hardsigmoid_cpu")
        ctx.save_for_backward(x)
        out = _hard_activation(x, None, False, False)
        if out is not None:
            return out
        # float16 and bfloat16 in float32, rounded once (PyTorch's opmath)
        wide = x.astype(accumulation_dtype(x.dtype), copy=False)
        return (np.clip(wide + 3, 0, 6) / 6).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xp = ctx.xp
        if xp is np:
            out = _hard_activation(x, grad, False, True)
            if out is not None:
                return out
        # float16 in float32, rounded once (PyTorch's opmath)
        scaled = (grad * _ONE_SIXTH if xp is not np
                  else (_widened(grad) * _ONE_SIXTH).astype(grad.dtype, copy=False))
        return where(xp, (x > -3) & (x < 3), scaled, 0.0)


class Hardswish(_Activation):
    """x * clamp(x + 3, 0, 6) / 6; at the edges PyTorch takes the outer slopes (0 and 1)."""

    @staticmethod
    def forward(ctx, x):
        _check_floating(x, "hardswish_cpu")
        ctx.save_for_backward(x)
        out = _hard_activation(x, None, True, False)
        if out is not None:
            return out
        wide = x.astype(accumulation_dtype(x.dtype), copy=False)  # as hardsigmoid
        return (wide * np.clip(wide + 3, 0, 6) / 6).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        (x,) = ctx.saved_tensors
        if xp is np:
            out = _hard_activation(x, grad, True, True)
            if out is not None:
                return out
        middle = grad * (x / 3 + 0.5) if xp is not np else \
            _once(_widened(grad) * (_widened(x) / 3 + 0.5), grad.dtype)
        # (NaN takes the middle formula, as in PyTorch)
        return where(xp, x <= -3, 0.0, where(xp, x >= 3, grad, middle))


class Celu(_Activation):
    """x if x > 0 else alpha * (exp(x / alpha) - 1); the slope below zero is exp(x / alpha).
    As in PyTorch (ELU with input scale 1 / alpha): forward multiplies by 1 / alpha, and
    backward by 1 / float32(alpha) (derivatives.yaml: 1.0 / alpha.toFloat())."""

    @staticmethod
    def forward(ctx, x, alpha, inplace=False):
        _check_floating(x, "elu_cpu")
        negative = np.expm1(_at_most(_widened(x), 0.0) * (1.0 / alpha)) * alpha
        out = select(x > 0, x, _once(negative, x.dtype))
        # the in-place form saves the output, as PyTorch's celu_ (elu_ with input scale
        # 1 / alpha): below zero the slope is (out + alpha) / alpha
        ctx.from_output = inplace and alpha >= 0
        ctx.save_for_backward(out if ctx.from_output else x)
        ctx.alpha = alpha
        return out

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        (x,) = ctx.saved_tensors
        alpha = ctx.alpha
        input_scale = 1.0 / float(np.float32(alpha))
        if ctx.from_output:
            out = x
            if xp is np:
                below = _once(_widened(grad) * input_scale * (_widened(out) + alpha), grad.dtype)
            else:
                below = grad * input_scale * (xp.where(out < 0, out, 0.0) + alpha)
            return where(xp, out > 0, grad, below), None, None
        if xp is np:
            below = _once(_widened(grad) * input_scale * alpha
                          * np.exp(_at_most(_widened(x), 0.0) * input_scale), grad.dtype)
        else:
            # PyTorch's second derivative is masked by x < 0: at 0 the slope is a constant
            below = grad * input_scale * alpha * xp.exp(xp.where(x < 0, x, 0.0) * input_scale)
        return where(xp, x > 0, grad, below), None, None


class Threshold(_Activation):
    """value where x <= threshold, else x; the gradient is 0 there, else passes (NaN is kept,
    with its gradient, as PyTorch's)."""

    backward_keeps_input = True

    @staticmethod
    def forward(ctx, x, threshold, value):
        replaced = np.asarray(x <= threshold)  # an array even for 0-d x (a saved constant)
        ctx.save_for_backward(replaced)
        return np.where(replaced, np.asarray(value, dtype=x.dtype), x)

    @staticmethod
    def backward(ctx, grad):
        (replaced,) = ctx.saved_tensors
        return where(ctx.xp, replaced, 0.0, grad), None, None


class Hardshrink(_Activation):
    """0 where -lambd <= x <= lambd, else x (NaN passes, with gradient 1, as PyTorch's)."""

    backward_keeps_input = True

    @staticmethod
    def forward(ctx, x, lambd):
        _check_floating(x, "hardshrink_cpu")
        inside = np.asarray((x >= -lambd) & (x <= lambd))  # an array even for 0-d x
        ctx.save_for_backward(inside)
        return np.where(inside, x.dtype.type(0), x)

    @staticmethod
    def backward(ctx, grad):
        (inside,) = ctx.saved_tensors
        return where(ctx.xp, inside, 0.0, grad), None


class Softshrink(_Activation):
    """x - lambd above lambd, x + lambd below -lambd, x * 0 between (a signed zero; NaN passes
    with gradient 1, as PyTorch's)."""

    backward_keeps_input = True

    @staticmethod
    def forward(ctx, x, lambd):
        _check_floating(x, "softshrink_check")
        if lambd < 0:
            raise RuntimeError(f"lambda must be in range [0, {float(np.finfo(x.dtype).max):g}] "
                               f"for input dtype {scalar_type_name(x.dtype)}, but found "
                               f"{lambd:g}")
        inside = np.asarray((x >= -lambd) & (x <= lambd))  # an array even for 0-d x
        ctx.save_for_backward(inside)
        shift = x.dtype.type(lambd)
        zero = np.copysign(x.dtype.type(0), x)
        return np.where(inside, zero, np.where(x > shift, x - shift, x + shift))

    @staticmethod
    def backward(ctx, grad):
        (inside,) = ctx.saved_tensors
        return where(ctx.xp, inside, 0.0, grad), None
