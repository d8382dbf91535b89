"""Matrix products: matmul (1-D, 2-D, batched with broadcasting) and its named special cases."""
import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor
from ._broadcast import unbroadcast

_NAMES = {"float32": "float", "float64": "double", "int64": "long int", "int32": "int",
          "float16": "c10::Half", "bool": "bool"}


class MatMul(Function):
    array_io = True

    @staticmethod
    def forward(ctx, a, b):
        needs_a, needs_b = ctx.needs_input_grad
        ctx.save_for_backward(b if needs_a else None, a if needs_b else None)
        ctx.shapes = (a.shape, b.shape)
        return np.asarray(np.matmul(a, b))

    @staticmethod
    def backward(ctx, grad):
        b, a = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes
        needs_a, needs_b = ctx.needs_input_grad
        # Promote 1-D operands to matrices as matmul does, then undo it on the gradients.
        a_matrix = a_shape if len(a_shape) > 1 else (1,) + a_shape
        b_matrix = b_shape if len(b_shape) > 1 else b_shape + (1,)
        grad_shape = np.broadcast_shapes(a_matrix[:-2], b_matrix[:-2]) + (a_matrix[-2],
                                                                         b_matrix[-1])
        grad = grad.reshape(grad_shape)
        grad_a = grad_b = None
        if needs_a:
            b_view = b.reshape(b_matrix)
            grad_a = np.matmul(grad, np.swapaxes(b_view, -1, -2))
            grad_a = unbroadcast(grad_a, a_matrix).reshape(a_shape)
        if needs_b:
            a_view = a.reshape(a_matrix)
            grad_b = np.matmul(np.swapaxes(a_view, -1, -2), grad)
            grad_b = unbroadcast(grad_b, b_matrix).reshape(b_shape)
        return grad_a, grad_b


def matmul(input, other):
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"matmul(): argument 'other' must be Tensor, not "
                        f"{type(other if isinstance(input, Tensor) else input).__name__}")
    a = input._data
    b = other._data
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_NAMES.get(a.dtype.name, a.dtype.name)} != "
                           f"{_NAMES.get(b.dtype.name, b.dtype.name)}")
    inner_a = a.shape[-1]
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        if a.ndim == 1 and b.ndim == 1:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
                               f"[{b.shape[0]}] to have the same number of elements, but got "
                               f"{a.shape[0]} and {b.shape[0]} elements respectively")
        rows = a.shape[-2] if a.ndim > 1 else 1
        left = f"{rows}x{inner_a}" if a.ndim <= 2 else f"{int(np.prod(a.shape[:-1]))}x{inner_a}"
        right = f"{inner_b}x{b.shape[-1] if b.ndim > 1 else 1}"
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({left} and {right})")
    if a.ndim > 2 or b.ndim > 2:
        batch_a = a.shape[:-2]
        batch_b = b.shape[:-2] if b.ndim > 1 else ()
        rank = max(len(batch_a), len(batch_b))
        for offset in range(1, rank + 1):
            size_a = batch_a[-offset] if offset <= len(batch_a) else 1
            size_b = batch_b[-offset] if offset <= len(batch_b) else 1
            if size_a != size_b and size_a != 1 and size_b != 1:
                raise RuntimeError(f"The size of tensor a ({size_a}) must match the size of "
                                   f"tensor b ({size_b}) at non-singleton dimension "
                                   f"{rank - offset}")
    return MatMul.apply(input, other)


def mm(input, mat2):
    if input._data.ndim != 2 or mat2._data.ndim != 2:
        raise RuntimeError(f"self must be a matrix" if input._data.ndim != 2 else
                           "mat2 must be a matrix")
    return matmul(input, mat2)


def bmm(input, mat2):
    if input._data.ndim != 3 or mat2._data.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor" if input._data.ndim != 3 else
                           "batch2 must be a 3D tensor")
    if input._data.shape[0] != mat2._data.shape[0]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input._data.shape[0]}, {input._data.shape[2]}] but got: "
                           f"[{mat2._data.shape[0]}, {mat2._data.shape[1]}].")
    return matmul(input, mat2)


def mv(input, vec):
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError("vector + matrix @ vector expected, got "
                           f"{input._data.ndim}, {vec._data.ndim}")
    return matmul(input, vec)


def dot(input, other):
    if input._data.ndim != 1 or other._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input._data.ndim}D and "
                           f"{other._data.ndim}D tensors")
    return matmul(input, other)


def outer(input, vec2):
    from .shape import unsqueeze
    return unsqueeze(input, 1) * unsqueeze(vec2, 0)
