"""The fused linear layer: x @ W.T + b as one node."""
import numpy as np

from ..._dtype import accumulation_dtype, scalar_type_name
from ...autograd.function import Op
from ...ops.linalg import matmul_arrays


class Linear(Op):
    """One node for x @ W.T + b (the hottest op of MLPs): BLAS on 2-D views, saving only x and W,
    and only the one each requested gradient needs."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        in_features = weight.shape[-1]
        if x.ndim == 0 or weight.ndim != 2 or x.shape[-1] != in_features:
            rows = x.size // x.shape[-1] if x.ndim and x.shape[-1] else 1
            mat1 = f"{rows}x{x.shape[-1]}" if x.ndim else "1x1"
            mat2 = "x".join(str(size) for size in reversed(weight.shape))
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({mat1} and {mat2})")
        if x.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
            other = bias if x.dtype == weight.dtype else x
            raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                               f"{scalar_type_name(other.dtype)} and "
                               f"{scalar_type_name(weight.dtype)}")
        x_2d = x.reshape(-1, in_features)
        work = accumulation_dtype(x.dtype)
        if work == x.dtype:
            out = np.matmul(x_2d, weight.T)
            if bias is not None:
                out += bias
        else:
            # Half precision: the product and the bias sum in float32, rounded once (PyTorch).
            out = np.matmul(x_2d.astype(work), weight.T.astype(work))
            if bias is not None:
                out += bias.astype(work)
            out = out.astype(x.dtype)
        needs_x, needs_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        ctx.save_for_backward(x if needs_weight else None, weight if needs_x else None)
        return out.reshape(x.shape[:-1] + (weight.shape[0],))

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        out_features = grad.shape[-1] if grad.ndim else 1
        grad_2d = grad.reshape(-1, out_features)
        grad_x = grad_weight = grad_bias = None
        needs_x, needs_weight, needs_bias = ctx.needs_input_grad
        if needs_x:
            grad_x = matmul_arrays(grad_2d, weight).reshape(grad.shape[:-1] + (weight.shape[1],))
        if needs_weight:
            grad_weight = matmul_arrays(grad_2d.T, x.reshape(-1, x.shape[-1]))
        if needs_bias:
            work = accumulation_dtype(grad_2d.dtype)
            grad_bias = grad_2d.sum(axis=0, dtype=work).astype(grad_2d.dtype, copy=False)
        return grad_x, grad_weight, grad_bias
