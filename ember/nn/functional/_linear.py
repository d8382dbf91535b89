"""Linear maps: linear (one fused kernel node) and bilinear (a composite of matmuls)."""
import math

import numpy as np

from ..._dtype import cpp_type_name
from ...autograd import function as function_module
from ...autograd.views import nothing_recorded
from ...ops import matmul
from ...ops._broadcast import mismatch_error
from ...tensor import Tensor
from .._kernels.linear import Linear, untracked_linear
from ._conv import check_tensors
from ...ops.elementwise.casting import autocast_op

__all__ = ["bilinear", "linear"]


@autocast_op("linear")
def linear(input, weight, bias=None):
    """input @ weight.T + bias, as one fused node (a 1-D weight is a dot product, as in
    PyTorch)."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor) or \
            (bias is not None and not isinstance(bias, Tensor)):
        check_tensors("linear", input=input, weight=weight, bias=bias)
    if input._data.ndim == 0 or weight._data.ndim == 0:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are "
                           f"{input._data.ndim}D and {weight._data.ndim}D")
    if weight._data.ndim == 1 or (bias is not None and bias._data.shape != weight._data.shape[:1]):
        return _linear_composite(input, weight, bias)
    if function_module._tracer is None and nothing_recorded(input, weight, bias):
        # no_grad, or frozen weights, and no ONNX trace: Linear's product without its node
        out = untracked_linear(input._data, weight._data, None if bias is None else bias._data)
        if out is not None:
            return Tensor._wrap(out)
    return Linear.apply(input, weight, bias)


def _linear_composite(input, weight, bias):
    """linear with a 1-D weight, or a bias that broadcasts (shape (1,)), as matmul + add."""
    output = matmul(input, weight if weight._data.ndim == 1 else weight.t())
    if bias is None:
        return output
    out_shape = tuple(output.shape)
    try:
        compatible = np.broadcast_shapes(tuple(bias.shape), out_shape) == out_shape
    except ValueError:
        compatible = False
    if not compatible:
        if bias.dim() == 1:
            # PyTorch's addmm of a row-major (or 2-D) input flattened to rows expands the bias
            # to (rows, out); otherwise the bias is added to matmul's result.
            if input.dim() <= 2 or input.is_contiguous():
                rows = math.prod(input.shape[:-1])
                raise RuntimeError(f"The expanded size of the tensor ({out_shape[-1]}) must "
                                   f"match the existing size ({bias.shape[0]}) at non-singleton "
                                   f"dimension 1.  Target sizes: [{rows}, {out_shape[-1]}].  "
                                   f"Tensor sizes: [{bias.shape[0]}]")
            raise mismatch_error(out_shape, tuple(bias.shape))
        raise RuntimeError(f"linear(): bias of size {list(bias.shape)} does not broadcast to "
                           f"the output of size {list(out_shape)}")
    return output + bias


@autocast_op("bilinear")
def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o] (composite)."""
    check_tensors("bilinear", input1=input1, input2=input2, weight=weight, bias=bias)
    operands = {"input1": input1, "input2": input2, "weight": weight}
    if bias is not None:
        operands["bias"] = bias
    if any(tensor._data.dtype != input1._data.dtype for tensor in operands.values()):
        listed = ", ".join(f"{name}: {cpp_type_name(tensor._data.dtype)}"
                           for name, tensor in operands.items())
        raise RuntimeError(f"All tensors must have the same dtype, got {listed}")
    if input1.dim() != input2.dim():
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.dim()} and "
                           f"{input2.dim()}")
    for dim, (size1, size2) in enumerate(zip(input1.shape[:-1], input2.shape[:-1])):
        if size1 != size2:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {dim}: "
                               f"got {size1} and {size2}")
    if weight.dim() != 3:
        raise RuntimeError(f"bilinear(): weight must be three-dimensional, got {weight.dim()}")
    out_features, in1_features, in2_features = weight.shape
    if input1.shape[-1] != in1_features:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{input1.shape[-1]} but expected {in1_features}")
    if input2.shape[-1] != in2_features:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{input2.shape[-1]} but expected {in2_features}")
    batch_shape = tuple(input1.shape[:-1])
    left = input1.reshape(-1, in1_features)
    right = input2.reshape(-1, in2_features)
    # (B, in1) @ (in1, out * in2) -> (B, out, in2), then contract in2 against input2.
    mixed = left.matmul(weight.permute(1, 0, 2).reshape(in1_features, -1))
    out = (mixed.reshape(-1, out_features, in2_features) * right.unsqueeze(1)).sum(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(batch_shape + (out_features,))
