"""Complex tensors' own ops: their parts, conjugate, polar form, and real views of complex data.

Gradients follow PyTorch's convention for complex inputs: the gradient is dL/dRe + i dL/dIm of a
real loss L (the conjugate Wirtinger derivative, doubled), so the backward of a holomorphic op
multiplies by the conjugate of its derivative, and a real input of an op with a complex result
gets the real part of its gradient.
"""
import builtins

import numpy as np

from ..._dtype import complex_dtype, real_dtype, scalar_type_name
from ..._layout import pointwise_layout
from ...autograd.function import Op
from ...tensor import Tensor
from .._broadcast import unbroadcast
from ._operands import _not_tensor

__all__ = ["complex", "conj", "conj_physical", "imag", "polar", "real", "view_as_complex",
           "view_as_real"]


def conj_of(value):
    """``value``'s conjugate when it is complex (an array, Tensor or number), else ``value``
    (also None, a gradient's unsaved operand)."""
    if type(value) is np.ndarray:  # the first-order path: one check for real arrays
        return np.conj(value) if value.dtype.kind == "c" else value
    if value is None or isinstance(value, (int, float)):
        return value
    if isinstance(value, builtins.complex):
        return value.conjugate()
    if isinstance(value, Tensor):
        return Conj.apply(value) if value._data.dtype.kind == "c" else value
    return np.conj(value) if value.dtype.kind == "c" else value


def real_part_for(grad, numpy_dtype):
    """The gradient of an input of ``numpy_dtype``: its real part when the input is real and the
    gradient complex (PyTorch's rule for real inputs of ops with complex results)."""
    if numpy_dtype is not None and numpy_dtype.kind != "c":
        if type(grad) is np.ndarray:
            if grad.dtype.kind == "c":
                return np.ascontiguousarray(grad.real)
        elif isinstance(grad, Tensor) and grad.is_complex():
            return Real.apply(grad)
    return grad


class Conj(Op):
    """The conjugate, as a new array (PyTorch's is a lazy view; its values are the same)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        return np.conj(x)

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.conj(grad) if ctx.xp is not np else np.conj(grad)


class Real(Op):
    """The real part of complex data, a view."""

    is_view = True
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.source = x.dtype
        return x.real

    @staticmethod
    def backward(ctx, grad):
        if ctx.xp is not np:
            return Complex.apply(grad, grad * 0)
        return grad.astype(ctx.source)


class Imag(Op):
    """The imaginary part of complex data, a view; its gradient enters as i * grad."""

    is_view = True
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.source = x.dtype
        return x.imag

    @staticmethod
    def backward(ctx, grad):
        if ctx.xp is not np:
            return Complex.apply(grad * 0, grad)
        out = np.zeros(grad.shape, ctx.source)
        out.imag = grad
        return out


class ViewAsReal(Op):
    """Complex (...) as real (..., 2): the parts side by side, a view of the same memory."""

    is_view = True
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        # a trailing axis of size 1 lets NumPy split each element whatever the strides
        return x[..., None].view(real_dtype(x.dtype)).reshape(x.shape + (2,))

    @staticmethod
    def backward(ctx, grad):
        if ctx.xp is not np:
            return ViewAsComplex.apply(grad.contiguous())
        return _as_complex(np.ascontiguousarray(grad))


class ViewAsComplex(Op):
    """Real (..., 2) as complex (...), a view of the same memory."""

    is_view = True
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        return _as_complex(x)

    @staticmethod
    def backward(ctx, grad):
        if ctx.xp is not np:
            return ViewAsReal.apply(grad)
        return ViewAsReal.forward(ctx, grad)


def _as_complex(x):
    return x.view(complex_dtype(x.dtype)).reshape(x.shape[:-1])


class Polar(Op):
    """abs * (cos(angle) + i sin(angle))."""

    output_layout = staticmethod(pointwise_layout)
    differentiable_backward = True

    @staticmethod
    def forward(ctx, magnitude, angle):
        unit = np.empty(angle.shape, complex_dtype(angle.dtype))
        np.cos(angle, out=unit.real)
        np.sin(angle, out=unit.imag)
        ctx.save_for_backward(magnitude, angle, unit)
        return magnitude * unit

    @staticmethod
    def backward(ctx, grad):
        magnitude, angle, unit = ctx.saved_tensors
        xp = ctx.xp
        if xp is not np:
            unit = Complex.apply(xp.cos(angle), xp.sin(angle))  # recorded: it depends on the angle
        # dL/dabs = Re(conj(unit) g); dL/dangle = Re(conj(i abs unit) g) = abs * Im(conj(unit) g)
        turned = conj_of(unit) * grad
        grad_magnitude = xp.real(turned) if xp is not np else turned.real
        grad_angle = magnitude * (xp.imag(turned) if xp is not np else turned.imag)
        return (unbroadcast(grad_magnitude, magnitude.shape),
                unbroadcast(grad_angle, unit.shape))


class Complex(Op):
    """real + i imag, from two real tensors of one floating dtype."""

    output_layout = staticmethod(pointwise_layout)
    differentiable_backward = True

    @staticmethod
    def forward(ctx, real_part, imaginary_part):
        shape = np.broadcast_shapes(real_part.shape, imaginary_part.shape)
        out = np.empty(shape, complex_dtype(real_part.dtype))
        out.real = real_part
        out.imag = imaginary_part
        ctx.shapes = (real_part.shape, imaginary_part.shape)
        return out

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        real_grad = xp.real(grad) if xp is not np else grad.real
        imaginary_grad = xp.imag(grad) if xp is not np else grad.imag
        return unbroadcast(real_grad, ctx.shapes[0]), unbroadcast(imaginary_grad, ctx.shapes[1])


def _require(value, operation):
    if not isinstance(value, Tensor):
        raise _not_tensor(operation, value)


def real(input):
    """The real part: a view of a complex tensor's real parts; a real tensor itself."""
    _require(input, "real")
    return Real.apply(input) if input._data.dtype.kind == "c" else input


def imag(input):
    """The imaginary part of a complex tensor, a view."""
    _require(input, "imag")
    if input._data.dtype.kind != "c":
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return Imag.apply(input)


def conj(input):
    """The complex conjugate (a real tensor is its own)."""
    _require(input, "conj")
    return Conj.apply(input) if input._data.dtype.kind == "c" else input


conj_physical = conj


def view_as_real(input):
    """A complex tensor as a real one with a last dim of 2 (real, imaginary), sharing memory."""
    _require(input, "view_as_real")
    if input._data.dtype.kind != "c":
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return ViewAsReal.apply(input)


def view_as_complex(input):
    """A float tensor whose last dim is 2 (real, imaginary) as a complex one, sharing memory."""
    _require(input, "view_as_complex")
    data = input._data
    if data.dtype == np.float16:
        raise RuntimeError("view_as_complex: ember has no complex32 (ComplexHalf) dtype; convert "
                           "the tensor to float32 first")
    if data.dtype != np.float32 and data.dtype != np.float64:
        raise RuntimeError(f"view_as_complex is only supported for half, float and double "
                           f"tensors, but got a tensor of scalar type: "
                           f"{scalar_type_name(data.dtype)}")
    if data.ndim == 0 or data.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    if data.strides[-1] != data.itemsize:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(stride % (2 * data.itemsize) for stride in data.strides[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    return ViewAsComplex.apply(input)


def polar(abs, angle):
    """The complex tensor abs * (cos(angle) + i sin(angle))."""
    _require(abs, "polar")
    _require(angle, "polar")
    _check_parts(abs, angle, "polar")
    return Polar.apply(abs, angle)


def complex(real, imag):
    """The complex tensor real + i imag (two real tensors of one floating dtype)."""
    _require(real, "complex")
    _require(imag, "complex")
    _check_parts(real, imag, "complex")
    return Complex.apply(real, imag)


def _check_parts(first, second, operation):
    """PyTorch's checks of the two real parts of ``complex`` and ``polar``."""
    first_dtype, second_dtype = first._data.dtype, second._data.dtype
    if first_dtype != second_dtype:
        raise RuntimeError(f"Expected object of scalar type {scalar_type_name(first_dtype)} but "
                           f"got scalar type {scalar_type_name(second_dtype)} for second argument")
    if first_dtype != np.float32 and first_dtype != np.float64:
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{scalar_type_name(first_dtype)} and {scalar_type_name(second_dtype)}")
    np.broadcast_shapes(first._data.shape, second._data.shape)
