"""The fused linear layer: x @ W.T + b as one node."""
import math

import numpy as np

from ... import _halfcast, _threads
from ..._dtype import accumulation_dtype, cpp_type_name, scalar_type_name
from ...autograd.function import Op
from ...ops.elementwise.complex import conj_of
from ...ops.linalg import _product_transposed, matmul_arrays


# PyTorch's grad_fn names of linear by (input dims, up to 3; bias given).
_LINEAR_NAMES = {(1, True): "ViewBackward0", (1, False): "SqueezeBackward4",
                 (2, True): "AddmmBackward0", (2, False): "MmBackward0",
                 (3, True): "ViewBackward0", (3, False): "UnsafeViewBackward0"}


class Linear(Op):
    """One node for x @ W.T + b (the hottest op of MLPs): BLAS on 2-D views, saving only x and W,
    and only the one each requested gradient needs. Its backward is matmuls written against
    ``ctx.xp``, so it is differentiable (create_graph)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, weight, bias):
        in_features = weight.shape[-1]
        if x.ndim == 0 or weight.ndim != 2 or x.shape[-1] != in_features:
            rows = x.size // x.shape[-1] if x.ndim and x.shape[-1] else 1
            mat1 = f"{rows}x{x.shape[-1]}" if x.ndim else "1x1"
            mat2 = "x".join(str(size) for size in reversed(weight.shape))
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({mat1} and {mat2})")
        # PyTorch's messages: addmm's for the bias, then the input's; mm's without a bias
        if bias is not None and bias.dtype != weight.dtype:
            raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                               f"{scalar_type_name(bias.dtype)} and "
                               f"{scalar_type_name(weight.dtype)}")
        if x.dtype != weight.dtype:
            if bias is None:
                raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                                   f"{cpp_type_name(x.dtype)} != {cpp_type_name(weight.dtype)}")
            raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                               f"{scalar_type_name(x.dtype)} and "
                               f"{scalar_type_name(weight.dtype)}")
        batch_shape = x.shape[:-1]
        # Explicit row count: reshape(-1, 0) cannot infer it for Linear(0, n).
        x_2d = x.reshape(math.prod(batch_shape), in_features)
        work = accumulation_dtype(x.dtype)
        if work != x.dtype:
            # float16/bfloat16: products and the bias accumulated in float32, rounded once.
            out = np.matmul(_halfcast.widened(x_2d), _halfcast.widened(weight).T)
            if bias is not None:
                out += _halfcast.widened(bias)
            out = _halfcast.astype(out, x.dtype)
        else:
            out = _threads.matmul(x_2d, weight.T, bias)
        needs_x, needs_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        ctx.save_for_backward(x if needs_weight else None, weight if needs_x else None)
        if ctx._recording:
            ctx._torch_name = _LINEAR_NAMES[min(x.ndim, 3), bias is not None]
            if x.ndim == 2:
                # addmm(bias, x, weight.T) / mm(x, weight.T): PyTorch's order of the edges
                ctx._next_order = (2, 0, 1) if bias is not None else (0, 1)
        return out.reshape(batch_shape + (weight.shape[0],))

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        x, weight = ctx.saved_tensors
        x, weight = conj_of(x), conj_of(weight)  # complex operands: their conjugates
        batch_shape = grad.shape[:-1]
        rows = math.prod(batch_shape)
        # Arrays reshape through their method (np.reshape's wrapper costs ~1 us a call).
        reshape = np.ndarray.reshape if xp is np else xp.reshape
        grad_2d = reshape(grad, (rows, grad.shape[-1]))
        grad_x = grad_weight = grad_bias = None
        needs_x, needs_weight, needs_bias = ctx.needs_input_grad
        if needs_x:
            grad_x = reshape(_product(xp, grad_2d, weight), batch_shape + (weight.shape[1],))
        if needs_weight:
            # grad^T x: one product node under create_graph (no separate transpose node)
            grad_weight = _product_transposed(grad_2d, reshape(x, (rows, x.shape[-1])), True,
                                              False)
        if needs_bias:
            grad_bias = bias_gradient(xp, grad_2d)
        return grad_x, grad_weight, grad_bias


def untracked_linear(x, weight, bias):
    """Linear.forward's x @ W.T + b, for row-major float32/float64 arrays of matching shapes and
    one dtype where nothing is recorded (no node, no saved arrays); None for anything else,
    which Linear.apply checks and computes."""
    if (type(x) is not np.ndarray or type(weight) is not np.ndarray or x.ndim == 0
            or weight.ndim != 2 or x.shape[-1] != weight.shape[1] or x.dtype != weight.dtype
            or (x.dtype != np.float32 and x.dtype != np.float64) or not x.flags.c_contiguous
            or (bias is not None and (type(bias) is not np.ndarray or bias.dtype != x.dtype))):
        return None
    batch_shape = x.shape[:-1]
    out = _threads.matmul(x.reshape(math.prod(batch_shape), weight.shape[1]), weight.T, bias)
    return out.reshape(batch_shape + (weight.shape[0],))


def bias_gradient(xp, grad_2d):
    """The column sums of a (rows, features) gradient: a bias's gradient."""
    if xp is not np:
        return xp.sum(grad_2d, axis=0)
    work = accumulation_dtype(grad_2d.dtype)
    if work == grad_2d.dtype:
        # ones @ grad: one BLAS pass, faster than sum(axis=0) and summed in vector lanes
        # (closer to the exact sum)
        return _ones(grad_2d.shape[0], grad_2d.dtype) @ grad_2d
    return grad_2d.sum(axis=0, dtype=work).astype(grad_2d.dtype, copy=False)


_ONES = {}


def _ones(count, dtype):
    """A read-only vector of ``count`` ones, kept for the next call (np.ones costs ~1 us)."""
    ones = _ONES.get((count, dtype))
    if ones is None:
        if len(_ONES) > 64:
            _ONES.clear()
        ones = _ONES[count, dtype] = np.ones(count, dtype)
        ones.flags.writeable = False
    return ones


def _product(xp, a, b):
    """a @ b in a backward: float16/bfloat16 arrays in float32, recorded Tensors under
    create_graph."""
    return matmul_arrays(a, b) if xp is np else xp.matmul(a, b)
