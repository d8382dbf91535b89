"""Rounding: floor, ceil, round, trunc, frac, nan_to_num, and fake quantization (rounding to a
quantized grid and back, for quantization-aware training)."""
import numpy as np

from ..._dtype import is_floating, scalar_type_name
from ..._layout import unary_layout
from ...autograd.function import Op, torch_named
from ...tensor import Tensor, _normalize_dim
from ._operands import _not_implemented, _not_tensor, _unary, _widened
from .arithmetic import sub

__all__ = ["ceil", "fake_quantize_per_channel_affine", "fake_quantize_per_tensor_affine", "floor",
           "frac", "nan_to_num", "round", "trunc"]


class _Stepwise(Op):
    """Piecewise-constant rounding: the gradient is zero almost everywhere (PyTorch's too)."""

    output_layout = staticmethod(unary_layout)
    ufunc = None
    _next_order = (0,)  # PyTorch lists the input, not the decimals
    differentiable_backward = True

    @classmethod
    def forward(cls, ctx, x, decimals=0):
        if decimals:
            ctx._torch_name = "RoundBackward1"
            if not is_floating(x.dtype):  # PyTorch rounds to decimals in floating kernels only
                raise _not_implemented("round_cpu" if x.dtype.kind != "c" else "round_vml_cpu",
                                       x.dtype)
            # x * 10**decimals, rounded, scaled back: float16 in float32 (PyTorch).
            return np.asarray(np.round(_widened(x), decimals)).astype(x.dtype, copy=False)
        if not is_floating(x.dtype):
            if x.dtype == np.bool_ or (x.dtype.kind == "c" and cls is Round):
                raise _not_implemented(f"{cls.__name__.lower()}_vml_cpu", x.dtype)
            if x.dtype.kind == "c":
                raise NotImplementedError(f"{cls.__name__.lower()} is not supported for complex "
                                          f"inputs")
            return x.copy()  # integers are already whole
        return np.asarray(cls.ufunc(x))

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.zeros_like(grad)  # decimals, when given, gets None


class Floor(_Stepwise):
    ufunc = staticmethod(np.floor)


floor = _unary(Floor, "floor")


class Ceil(_Stepwise):
    ufunc = staticmethod(np.ceil)


ceil = _unary(Ceil, "ceil")


class Round(_Stepwise):
    ufunc = staticmethod(np.round)  # half to even, as PyTorch


def round(input, decimals=0):
    if not isinstance(input, Tensor):
        raise _not_tensor("round", input)
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise TypeError(f"round(): argument 'decimals' must be int, not "
                        f"{type(decimals).__name__}")
    return Round.apply(input, decimals)


class Trunc(_Stepwise):
    ufunc = staticmethod(np.trunc)


trunc = _unary(Trunc, "trunc")


def frac(input):
    """x - trunc(x), keeping the sign of x."""
    if not isinstance(input, Tensor):
        raise _not_tensor("frac", input)
    if not is_floating(input._data.dtype):
        raise _not_implemented("frac_cpu", input._data.dtype)
    return sub(input, trunc(input))


class NanToNum(Op):
    """NaN and infinities replaced by numbers; the gradient flows only through finite entries."""

    output_layout = staticmethod(unary_layout)
    _next_order = (0,)  # PyTorch lists the input, not the replacements
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        if not is_floating(x.dtype):
            return x.copy()
        ctx.save_for_backward(np.asarray(np.isfinite(x)))
        info = np.finfo(x.dtype)
        posinf = info.max if posinf is None else posinf
        neginf = info.min if neginf is None else neginf
        if x.dtype.kind == "f":
            return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)
        # np.nan_to_num leaves bfloat16 (not a NumPy inexact type) untouched
        out = np.where(np.isnan(x), x.dtype.type(nan), x)
        out = np.where(np.isinf(x) & (x > 0), x.dtype.type(posinf), out)
        return np.where(np.isinf(x) & (x < 0), x.dtype.type(neginf), out).astype(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (finite,) = ctx.saved_tensors
        return grad * finite, None, None, None


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    if not isinstance(input, Tensor):
        raise _not_tensor("nan_to_num", input)
    for name, value in (("nan", nan), ("posinf", posinf), ("neginf", neginf)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise TypeError(f"nan_to_num(): argument '{name}' must be float, not "
                            f"{type(value).__name__}")
    return NanToNum.apply(input, 0.0 if nan is None else nan, posinf, neginf)


class FakeQuantize(Op):
    """x rounded onto the grid ``scale * (q - zero_point)``, q an integer in [quant_min,
    quant_max]; the gradient passes straight through where the unclamped q was in range.

    PyTorch's CPU kernels, step for step: q = zero_point + rint(x * (1 / scale)) with 1/scale in
    float32 and the product in x's precision (float32 for half types), clamped with fmin/fmax
    (NaN goes to quant_min); the per-tensor kernel rounds (q - zero_point) * scale to float32,
    the per-channel one computes it in double. A floating zero point (per channel) is added
    before rounding: q = rint(zero_point + x / scale), in float32."""

    output_layout = staticmethod(unary_layout)
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, scale, zero_point, quant_min, quant_max, per_tensor):
        work = x if x.dtype == np.float64 else x.astype(np.float32)
        inverse = (np.float32(1.0) / scale.astype(np.float32)).astype(work.dtype)
        with np.errstate(invalid="ignore", over="ignore"):
            if is_floating(zero_point.dtype):
                unclamped = np.rint((zero_point.astype(np.float32) + work * inverse)
                                    .astype(np.float32))
            else:
                unclamped = zero_point.astype(work.dtype) + np.rint(work * inverse)
            clamped = np.fmin(np.fmax(unclamped, quant_min), quant_max)
            out = (clamped.astype(np.float64) - zero_point.astype(np.float64)) \
                * scale.astype(np.float32).astype(np.float64)
        if per_tensor:
            out = out.astype(np.float32)
        ctx.save_for_backward((unclamped >= quant_min) & (unclamped <= quant_max))
        return out.astype(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (inside,) = ctx.saved_tensors
        return grad * inside, None, None, None, None, None


def _check_quant_range(quant_min, quant_max, zero_points):
    if quant_min > quant_max:
        raise RuntimeError("`quant_min` should be less than or         equal to `quant_max`.")
    if zero_points.size and (zero_points.min() < quant_min or zero_points.max() > quant_max):
        raise RuntimeError("`zero_point` must be between `quant_min` and `quant_max`.")


def fake_quantize_per_tensor_affine(input, scale, zero_point, quant_min, quant_max):
    """Quantize to one (scale, zero_point) and dequantize at once; scale and zero_point may be
    numbers or one-element tensors."""
    if not isinstance(input, Tensor):
        raise _not_tensor("fake_quantize_per_tensor_affine", input)
    tensor_qparams = isinstance(scale, Tensor) or isinstance(zero_point, Tensor)
    scale = scale.item() if isinstance(scale, Tensor) else scale
    zero_point = int(zero_point.item() if isinstance(zero_point, Tensor) else zero_point)
    _check_quant_range(quant_min, quant_max, np.asarray([zero_point]))
    if not is_floating(input._data.dtype):
        raise _not_implemented("fake_quantize_tensor_cachemask_kernel_type_handling",
                               input._data.dtype)
    out = FakeQuantize.apply(input, np.float32(scale), np.int64(zero_point), quant_min,
                             quant_max, True)
    name = "FakeQuantizePerTensorAffineCachemask" + ("TensorQparams" if tensor_qparams else "")
    return torch_named(out, name + "Backward0")


def fake_quantize_per_channel_affine(input, scale, zero_point, axis, quant_min, quant_max):
    """Quantize with one (scale, zero_point) per index along ``axis``, and dequantize."""
    if not isinstance(input, Tensor):
        raise _not_tensor("fake_quantize_per_channel_affine", input)
    scales, zero_points = scale._data, zero_point._data
    if scale.dtype.name not in ("float32", "bfloat16"):
        raise RuntimeError(f"Scale must be Float or BFloat16, found "
                           f"{scalar_type_name(scales.dtype)}")
    if zero_point.dtype.name not in ("int32", "float32", "float16"):
        raise RuntimeError(f"Zero-point must be Int32, Float or Half, found "
                           f"{scalar_type_name(zero_points.dtype)}")
    if scales.ndim != 1:
        raise RuntimeError("scale should be a 1-D tensor")
    if zero_points.ndim != 1:
        raise RuntimeError("zero point should be a 1-D tensor")
    if scales.size != zero_points.size:
        raise RuntimeError("scale and zero-point need to have the same dimensions")
    ndim = input._data.ndim
    if ndim == 0:
        raise IndexError(f"Dimension specified as {axis} but tensor has no dimensions")
    if scales.size != input._data.shape[_normalize_dim(axis, ndim)]:
        raise RuntimeError("dimensions of scale and zero-point are not consistent with input "
                           "tensor")
    _check_quant_range(quant_min, quant_max, np.trunc(zero_points.astype(np.float64)))
    if not 0 <= axis <= ndim:
        raise RuntimeError("`axis` must be between 0 and number of dimensions of input")
    if not is_floating(input._data.dtype):
        raise _not_implemented("fake_quantize_channel_cachemask_cpu_type_handling",
                               input._data.dtype)
    shape = [1] * ndim
    shape[axis] = scales.size
    out = FakeQuantize.apply(input, scales.reshape(shape), zero_points.reshape(shape), quant_min,
                             quant_max, False)
    return torch_named(out, "FakeQuantizePerChannelAffineCachemaskBackward0")
