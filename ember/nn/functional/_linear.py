"""Linear maps: linear (one fused kernel node) and bilinear (a composite of matmuls)."""
from .._kernels.linear import Linear
from ...ops.elementwise.casting import autocast_op

__all__ = ["bilinear", "linear"]


@autocast_op("linear")
def linear(input, weight, bias=None):
    """input @ weight.T + bias, as one fused node."""
    return Linear.apply(input, weight, bias)


@autocast_op("bilinear")
def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o] (composite)."""
    if input1.dim() != input2.dim():
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.dim()} and "
                           f"{input2.dim()}")
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got "
                           f"{list(input1.shape[:-1])} and {list(input2.shape[:-1])}")
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
