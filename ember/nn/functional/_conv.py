"""Convolution functions: conv1d/2d/3d and conv_transpose1d/2d/3d (argument checks, then one
kernel node each), and unfold/fold, the im2col pair."""
import math

import numpy as np

from ..._dtype import cpp_type_name, is_floating, scalar_type_name
from ...autograd.function import torch_named
from ...ops import linalg as _linalg
from ...ops.shape import cat
from ...ops.elementwise.casting import autocast_op, computed_in_float32
from ...tensor import Tensor, warn_once
from .._kernels.conv import ConvNd, ConvTransposeNd, Fold, Geometry, Unfold

__all__ = ["conv1d", "conv2d", "conv3d", "conv_tbc", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "fold", "unfold"]


def int_tuple(value, count, name, mismatch):
    """``value`` (an int, or a sequence of one or ``count`` ints) as ``count`` ints; TypeError for
    anything but ints (PyTorch's argument parser refuses floats and bools), the error
    ``mismatch(value)`` for any other length. Convolution's and pooling's size arguments."""
    if isinstance(value, (int, float, np.number, str)) or not hasattr(value, "__iter__"):
        items = (value,)  # a single value (``...`` included) is checked as one item
    else:
        items = value
    for item in items:
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)):
            raise TypeError(f"argument '{name}' must be an int or a tuple of ints, but got "
                            f"{type(item).__name__} ({value!r})")
    if isinstance(value, (int, np.integer)):
        return (int(value),) * count
    value = tuple(int(item) for item in value)
    if len(value) == 1:
        return value * count
    if len(value) != count:
        raise mismatch(value)
    return value


def _tuple(value, count, name):
    return int_tuple(value, count, name, lambda got: RuntimeError(
        f"expected {name} to be a single integer value or a list of {count} values to match "
        f"the convolution dimensions, but got {name}={list(got)}"))


def check_tensors(operation, error=TypeError, **arguments):
    """PyTorch's error for an argument that is not a Tensor (None allowed for a bias): its
    argument parser's TypeError, or the AttributeError of the functions written in Python."""
    for position, (name, value) in enumerate(arguments.items(), start=1):
        if isinstance(value, Tensor) or (name == "bias" and value is None):
            continue
        if error is TypeError:
            raise TypeError(f"{operation}(): argument '{name}' (position {position}) must be "
                            f"Tensor, not {type(value).__name__}")
        raise error(f"{operation}(): expected a Tensor as '{name}', but got "
                    f"{type(value).__name__}")


def _batched(input, spatial_dims, operation):
    """Check the rank of ``input``; return whether it lacks the batch dim."""
    array = input._data
    if array.ndim == spatial_dims + 1:
        return True
    if array.ndim == spatial_dims + 2:
        return False
    raise RuntimeError(f"Expected {spatial_dims + 1}D (unbatched) or {spatial_dims + 2}D "
                       f"(batched) input to {operation}, but got input of size: "
                       f"{list(array.shape)}")


def _check_weight(input, weight, bias, groups, spatial_dims, transposed, operation, stride):
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)):
        raise TypeError(f"{operation}(): argument 'groups' must be int, not "
                        f"{type(groups).__name__}")
    if weight._data.ndim < 3:
        raise RuntimeError("weight should have at least three dimensions")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if weight._data.ndim != spatial_dims + 2:
        # PyTorch's convolution takes its dimensionality from the weight: the stride the
        # argument parser made (one value per dim of this op) fails to match it, or, with one
        # spatial dim, the input's rank does.
        weight_dims = weight._data.ndim
        if spatial_dims > 1:
            raise RuntimeError(f"expected stride to be a single integer value or a list of "
                               f"{weight_dims - 2} values to match the convolution dimensions, "
                               f"but got stride={list(stride)}")
        raise RuntimeError(f"Expected {weight_dims}-dimensional input for {weight_dims}-"
                           f"dimensional weight {list(weight._data.shape)}, but got "
                           f"{input._data.ndim}-dimensional input of size "
                           f"{list(input._data.shape)} instead")
    dtype = input._data.dtype
    if bias is not None and bias._data.dtype != dtype:
        raise RuntimeError(f"Input type ({cpp_type_name(dtype)}) and bias type "
                           f"({cpp_type_name(bias._data.dtype)}) should be the same")
    if dtype != weight._data.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(dtype)} but found "
                           f"{scalar_type_name(weight._data.dtype)}")
    if dtype.kind not in "fiu":
        raise NotImplementedError(f'"{operation}" not implemented for '
                                  f"'{scalar_type_name(dtype)}'")
    kernel_size = weight._data.shape[2:]
    if min(kernel_size) <= 0:
        raise RuntimeError(f"{operation}: kernel size should be greater than zero, but got "
                           f"{' x '.join(str(size) for size in kernel_size)} (weight of size "
                           f"{list(weight._data.shape)})")
    if weight._data.shape[1 if transposed else 0] == 0:  # no output channels
        dimension = 1 if transposed else 0
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least 1 at "
                           f"dimension {dimension}, but got weight of size "
                           f"{list(weight._data.shape)} instead")
    in_channels = input._data.shape[1]
    weight_shape = list(weight._data.shape)
    if weight_shape[0] < groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at "
                           f"dimension 0, but got weight of size {weight_shape} instead")
    if weight_shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by "
                           f"{groups} at dimension 0, but got weight of size "
                           f"[{weight_shape}] instead")
    if transposed:
        expected = weight_shape[0]
        if in_channels != expected:
            raise RuntimeError(f"Given transposed=1, weight of size {weight_shape}, expected "
                               f"input{list(input._data.shape)} to have {expected} channels, "
                               f"but got {in_channels} channels instead")
        out_channels = weight_shape[1] * groups
    else:
        expected = weight_shape[1] * groups
        if in_channels != expected:
            raise RuntimeError(f"Given groups={groups}, weight of size {weight_shape}, expected "
                               f"input{list(input._data.shape)} to have {expected} channels, "
                               f"but got {in_channels} channels instead")
        out_channels = weight_shape[0]
    if bias is not None and (bias._data.ndim != 1 or bias._data.shape[0] != out_channels):
        raise RuntimeError(f"Given weight of size {weight_shape}, expected bias to be "
                           f"1-dimensional with {out_channels} elements, but got bias of size "
                           f"{list(bias._data.shape)} instead")


def _convolution(input, weight, bias, stride, padding, dilation, groups, spatial_dims, operation):
    check_tensors(operation, input=input, weight=weight, bias=bias)
    unbatched = _batched(input, spatial_dims, operation)
    if unbatched:
        input = input.unsqueeze(0)
    stride = _tuple(stride, spatial_dims, "stride")
    dilation = _tuple(dilation, spatial_dims, "dilation")
    _check_weight(input, weight, bias, groups, spatial_dims, False, operation, stride)
    kernel_size = weight._data.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pairs = ((0, 0),) * spatial_dims
        elif padding == "same":
            if any(jump != 1 for jump in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            # The total padding d * (k - 1) is split with the odd extra element on the right.
            if any(gap * (kernel - 1) % 2 for gap, kernel in zip(dilation, kernel_size)):
                warn_once("Using padding='same' with even kernel lengths and odd dilation may "
                          "require a zero-padded copy of the input be created")
            pairs = tuple((gap * (kernel - 1) // 2, gap * (kernel - 1) - gap * (kernel - 1) // 2)
                          for gap, kernel in zip(dilation, kernel_size))
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        pairs = tuple((pad, pad) for pad in _tuple(padding, spatial_dims, "padding"))
    if any(jump <= 0 for jump in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(pad < 0 for pair in pairs for pad in pair):
        raise RuntimeError("negative padding is not supported")
    if any(gap <= 0 for gap in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got {list(dilation)}")
    padded_size = [size + before + after
                   for size, (before, after) in zip(input._data.shape[2:], pairs)]
    reach = [gap * (kernel - 1) + 1 for gap, kernel in zip(dilation, kernel_size)]
    if any(size < extent for size, extent in zip(padded_size, reach)):
        raise RuntimeError(f"Calculated padded input size per channel: "
                           f"({' x '.join(str(size) for size in padded_size)}). Kernel size: "
                           f"({' x '.join(str(extent) for extent in reach)}). Kernel size can't "
                           f"be greater than actual input size")
    out_size = tuple((size - extent) // jump + 1
                     for size, extent, jump in zip(padded_size, reach, stride))
    geometry = Geometry(tuple(input._data.shape[2:]), tuple(kernel_size), stride, pairs, dilation,
                        groups, out_size)
    output = ConvNd.apply(input, weight, bias, geometry)
    return output.squeeze(0) if unbatched else output


@autocast_op("conv1d")
@computed_in_float32
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation over (N, C_in, L) or unbatched (C_in, L)."""
    return _convolution(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


@autocast_op("conv2d")
@computed_in_float32
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation over (N, C_in, H, W) or unbatched (C_in, H, W)."""
    return _convolution(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


@autocast_op("conv3d")
@computed_in_float32
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D cross-correlation over (N, C_in, D, H, W) or unbatched (C_in, D, H, W)."""
    return _convolution(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


def _transposed(input, weight, bias, stride, padding, output_padding, groups, dilation,
                spatial_dims, operation):
    check_tensors(operation, input=input, weight=weight, bias=bias)
    unbatched = _batched(input, spatial_dims, operation)
    if unbatched:
        input = input.unsqueeze(0)
    stride = _tuple(stride, spatial_dims, "stride")
    padding = _tuple(padding, spatial_dims, "padding")
    output_padding = _tuple(output_padding, spatial_dims, "output_padding")
    dilation = _tuple(dilation, spatial_dims, "dilation")
    _check_weight(input, weight, bias, groups, spatial_dims, True, operation, stride)
    if any(jump <= 0 for jump in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(pad < 0 for pad in padding):
        raise RuntimeError("negative padding is not supported")
    if any(gap <= 0 for gap in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got {list(dilation)}")
    for extra, jump, gap in zip(output_padding, stride, dilation):
        if extra < 0 or (extra >= jump and extra >= gap):
            # 1-D runs as 2-D in PyTorch, so its message names a height of (0, 1, 1).
            names = ("depth", "height", "width")[-max(spatial_dims, 2):]
            values = {"output_padding": output_padding, "stride": stride, "dilation": dilation}
            if spatial_dims == 1:
                values = {"output_padding": (0,) + output_padding, "stride": (1,) + stride,
                          "dilation": (1,) + dilation}
            described = " ".join(f"{key}_{name}: {value}" for key, row in values.items()
                                 for name, value in zip(names, row))
            raise RuntimeError(f"output padding must be smaller than either stride or dilation, "
                               f"but got {described}")
    kernel_size = weight._data.shape[2:]
    out_size = [(size - 1) * jump - 2 * pad + gap * (kernel - 1) + extra + 1
                for size, kernel, jump, pad, gap, extra in zip(
                    input._data.shape[2:], kernel_size, stride, padding, dilation, output_padding)]
    if any(size <= 0 for size in out_size):
        raise RuntimeError(f"Given input size per channel: "
                           f"({' x '.join(str(size) for size in input._data.shape[2:])}). "
                           f"Calculated output size per channel: "
                           f"({' x '.join(str(size) for size in out_size)}). Output size is too "
                           f"small")
    # The convolution this one transposes: its input is this output, its output this input.
    geometry = Geometry(tuple(out_size), tuple(kernel_size), stride,
                        tuple((pad, pad) for pad in padding), dilation, groups,
                        tuple(input._data.shape[2:]))
    output = ConvTransposeNd.apply(input, weight, bias, geometry)
    return output.squeeze(0) if unbatched else output


@autocast_op("conv_transpose1d")
@computed_in_float32
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-D transposed convolution: the gradient of conv1d with respect to its input."""
    return _transposed(input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
                       "conv_transpose1d")


@autocast_op("conv_transpose2d")
@computed_in_float32
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution: the gradient of conv2d with respect to its input."""
    return _transposed(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                       "conv_transpose2d")


@autocast_op("conv_transpose3d")
@computed_in_float32
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """3-D transposed convolution: the gradient of conv3d with respect to its input."""
    return _transposed(input, weight, bias, stride, padding, output_padding, groups, dilation, 3,
                       "conv_transpose3d")


def _window_arguments(operation, **arguments):
    """unfold's and fold's size arguments as pairs: kernel, stride and dilation positive, padding
    not negative (PyTorch's im2col checks)."""
    pairs = {}
    for name, value in arguments.items():
        pair = int_tuple(value, 2, name, lambda got, name=name: RuntimeError(
            f"{operation}(): It is expected {name} equals to 2, but got size {len(got)}"))
        lowest = 0 if name == "padding" else 1
        if min(pair) < lowest:
            word = "non-negative" if name == "padding" else "greater than zero"
            raise RuntimeError(f"{operation}(): {name} should be {word}, but got "
                               f"{name}={pair}")
        pairs[name] = pair
    return pairs


def _blocks(spatial, kernel_size, dilation, padding, stride):
    """Number of sliding blocks along each spatial dimension."""
    return tuple((size + 2 * pad - gap * (kernel - 1) - 1) // jump + 1
                 for size, kernel, gap, pad, jump in zip(spatial, kernel_size, dilation, padding,
                                                         stride))


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding local blocks of a (N, C, H, W) or (C, H, W) input as columns (N, C*kh*kw, L)."""
    check_tensors("unfold", input=input)
    # PyTorch's argument parser checks the sizes before im2col looks at the input.
    sizes = _window_arguments("unfold", kernel_size=kernel_size, dilation=dilation,
                              padding=padding, stride=stride)
    if input.dim() < 3:
        # PyTorch reads input.size(2) first.
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-max(input.dim(), 1)}, {max(input.dim(), 1) - 1}], but got 2)")
    if input.dim() > 4:
        raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with possibly 0 batch size "
                           f"and other non-zero dimensions for input, but got: "
                           f"{list(input.shape)}")
    kernel_size, dilation, padding, stride = sizes.values()
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    spatial = tuple(input.shape[2:])
    blocks = _blocks(spatial, kernel_size, dilation, padding, stride)
    if min(blocks) < 1:
        raise RuntimeError(f"Given input with spatial size {spatial}, kernel_size={kernel_size}, "
                           f"dilation={dilation}, padding={padding}, calculated shape of the "
                           f"array of sliding blocks as {blocks}, but its components must be at "
                           f"least one.")
    _check_window_dtype(input, "im2col_out_cpu")
    output = Unfold.apply(input, kernel_size, dilation, padding, stride, blocks)
    return output.squeeze(0) if unbatched else output


def _check_window_dtype(input, kernel):
    """PyTorch's im2col/col2im kernels take floating point, complex and bool tensors only."""
    dtype = input._data.dtype
    if not (is_floating(dtype) or dtype.kind in "cb"):
        raise NotImplementedError(f'"{kernel}" not implemented for \'{scalar_type_name(dtype)}\'')


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum columns (N, C*kh*kw, L) or (C*kh*kw, L) back into an image of ``output_size``."""
    check_tensors("fold", input=input)
    sizes = _window_arguments("fold", output_size=output_size, kernel_size=kernel_size,
                              dilation=dilation, padding=padding, stride=stride)
    if input.dim() not in (2, 3):
        raise RuntimeError(f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 "
                           f"batch size and non-zero dimensions for input, but got: "
                           f"{list(input.shape)}")
    output_size, kernel_size, dilation, padding, stride = sizes.values()
    unbatched = input.dim() == 2
    if unbatched:
        input = input.unsqueeze(0)
    if input.shape[1] % math.prod(kernel_size) != 0:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={input.shape[1]} and "
                           f"kernel_size={kernel_size}.")
    blocks = _blocks(output_size, kernel_size, dilation, padding, stride)
    if input.shape[2] != math.prod(blocks):
        raise RuntimeError(f"Given output_size={output_size}, kernel_size={kernel_size}, "
                           f"dilation={dilation}, padding={padding}, stride={stride}, expected "
                           f"size of input's dimension 2 to match the calculated number of "
                           f"sliding blocks {blocks[0]} * {blocks[1]} = {math.prod(blocks)}, "
                           f"but got input.size(2)={input.shape[2]}.")
    _check_window_dtype(input, "col2im_out_cpu")
    output = Fold.apply(input, output_size, kernel_size, dilation, padding, stride, blocks)
    return output.squeeze(0) if unbatched else output


def conv_tbc(input, weight, bias, pad=0):
    """A 1-D convolution of a time-major (T, B, C_in) input with a (K, C_in, C_out) weight and
    ``pad`` steps of zeros at both ends (fairseq's layout)."""
    if input.dim() != 3:
        raise RuntimeError("Input must have 3 dims: time, batch, in_channel")
    if weight.dim() != 3:
        raise RuntimeError("Weight tensor must have 3 dims: kernel_width, in_channels, "
                           "out_channels.")
    if bias.dim() != 1:
        raise RuntimeError("Bias must be 1-D")
    if input.shape[2] != weight.shape[1]:
        raise RuntimeError("Input dim 2 (input channels) is not == dim 1 in the weight tensor")
    if bias.shape[0] != weight.shape[2]:
        raise RuntimeError("Bias size must equal dim 2 in the weight tensor (output channels).")
    if pad < 0:  # a negative pad crops the sequence instead
        input = input[-pad:input.shape[0] + pad]
        pad = 0
    if pad:
        zeros = input.new_zeros((pad,) + tuple(input.shape[1:]))
        input = cat([zeros, input, zeros])
    # Composite (a contraction of the kernel-wide windows, plus the bias) rather than conv1d's
    # one-node backward: PyTorch's conv_tbc_backward is made of differentiable ops, so under
    # create_graph the bias gradient depends on grad_output alone, the weight's on the input
    # and grad_output, the input's on the weight and grad_output.
    windows = input.unfold(0, weight.shape[0], 1)  # (T_out, B, C_in, K)
    output = _linalg.tensordot(windows, weight, dims=([2, 3], [1, 0])) + bias
    return torch_named(output, "ConvTbcBackward0")
