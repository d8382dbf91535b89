"""Pooling functions: max, average, adaptive and power-average (lp) pooling over 1 to 3 spatial
dims: argument checks and output geometry here, the window arithmetic in ember.nn._kernels."""
import math

import numpy as np

from ..._dtype import accumulation_dtype, from_numpy_dtype, is_floating, scalar_type_name
from ..._factories import rand
from ..._layout import spatial_layout
from ...autograd.function import keep_input_in_gradient, torch_named
from ...ops.elementwise.casting import autocast_op
from ...tensor import Tensor
from .._kernels.padding import GatherAxes
from .._kernels.pooling import (
    AvgPoolNd, GatherSpatial, MaxPoolNd, adaptive_max_indices, averaging_matrix, avg_divisor,
    fractional_max_indices)
from ._activation import relu
from ._conv import check_tensors, int_tuple

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "avg_pool1d",
           "avg_pool2d", "avg_pool3d", "fractional_max_pool2d", "fractional_max_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_pool1d", "max_pool2d", "max_pool3d"]


def _pool_size(size, kernel, stride, padding, dilation, ceil_mode):
    """Output length along one dim, with PyTorch's ceil_mode rule (last window starts inside)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if ceil_mode:
        count = -(-span // stride) + 1
        if (count - 1) * stride >= size + padding:
            count -= 1
    else:
        count = span // stride + 1
    return count


def _tuple(value, count, name):
    return int_tuple(value, count, name, lambda got: RuntimeError(
        f"{name} must either be a single int, or a tuple of {count} ints"))


def _prepare(input, spatial_dims, operation, dtypes="f", kernel=None):
    """Check the type, dtype and rank; return (batched input, whether it was unbatched).
    ``dtypes``: the NumPy kinds the op accepts besides floating point, or "l" for int64 only;
    ``kernel``: the name PyTorch's dtype refusal gives (``operation`` by default)."""
    # PyTorch's Python-level adaptive and power pooling fail reading an attribute.
    python_level = operation.startswith(("adaptive_max", "lp_", "adaptive_avg_pool2d",
                                         "adaptive_avg_pool3d"))
    check_tensors(operation, AttributeError if python_level else TypeError, input=input)
    dtype = input._data.dtype
    if not (is_floating(dtype) or dtype.kind in dtypes or (dtypes == "l" and dtype == np.int64)):
        raise NotImplementedError(f'"{kernel or operation}" not implemented for '
                                  f"'{scalar_type_name(dtype)}'")
    ndim = input._data.ndim
    if ndim < 3 and operation in ("avg_pool2d", "lp_pool2d"):
        # PyTorch reads input.size(-3) first.
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got -3)")
    if ndim == spatial_dims + 1:
        return input.unsqueeze(0), True
    if ndim == spatial_dims + 2:
        return input, False
    shape = list(input._data.shape)
    if operation in ("avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d"):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {ndim}-dimensional tensor for "
                           f"argument #1 'self' (while checking arguments for {operation})")
    if operation.startswith("adaptive"):
        colon = ":" if operation.startswith("adaptive_max") else ""
        raise RuntimeError(f"{operation}(): Expected {spatial_dims + 1}D or {spatial_dims + 2}D "
                           f"tensor, but got{colon} {shape}")
    if spatial_dims == 1:
        raise RuntimeError(f"{operation}: Expected 2D or 3D (batch mode) tensor with optional 0 "
                           f"dim batch size for input, but got:{shape}")
    raise RuntimeError(f"non-empty {spatial_dims + 1}D or {spatial_dims + 2}D (batch mode) tensor "
                       f"expected for input")


def _arguments(input, kernel_size, stride, padding, dilation, ceil_mode, spatial_dims,
               operation, max_indices=None, given_shape=None):
    kernel_size = _tuple(kernel_size, spatial_dims, "kernel_size")
    stride = kernel_size if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else _tuple(stride, spatial_dims, "stride")
    padding = _tuple(padding, spatial_dims, "padding")
    dilation = _tuple(dilation, spatial_dims, "dilation")
    # PyTorch's max_pool1d checks for empty dims first, and the kernel before the stride; the
    # others the stride first and empty dims last
    kernel_first = operation == "max_pool1d"
    if kernel_first and max_indices is False and given_shape is not None:
        _check_non_batch_sizes(given_shape, spatial_dims, operation)
    plain_max_pool1d = kernel_first and max_indices is False  # its own checks, kernel first
    if plain_max_pool1d and any(kernel <= 0 for kernel in kernel_size):
        raise RuntimeError(f"{operation}() kernel_size must be greater than zero, but got "
                           f"{_dims(kernel_size)}")
    if plain_max_pool1d and stride[0] <= 0:
        raise RuntimeError(f"max_pool1d() stride must be greater than zero, but got {stride[0]}")
    # PyTorch's output-size computation refuses a zero stride; its shape check then refuses
    # kernel sizes, then strides, below one (1-D pooling runs as 2-D with a height of 1)
    if any(jump == 0 for jump in stride):
        raise RuntimeError("stride should not be zero")
    if any(kernel <= 0 for kernel in kernel_size):
        raise RuntimeError(f"kernel size should be greater than zero, but got "
                           f"{_named_dims('k', kernel_size)}")
    if any(jump < 0 for jump in stride):
        raise RuntimeError(f"stride should be greater than zero, but got "
                           f"{_named_dims('d', stride)}")
    if any(gap <= 0 for gap in dilation):
        if operation == "max_pool1d":
            raise RuntimeError(f"max_pool1d() dilation must be greater than zero, but got "
                               f"{dilation[0]}")
        if operation in ("max_pool2d", "max_pool3d"):
            names = ("dilationT", "dilationH", "dilationW")[3 - spatial_dims:]
            raise RuntimeError("dilation should be greater than zero, but got " + " ".join(
                f"{name}: {gap}" for name, gap in zip(names, dilation)))
        raise RuntimeError(f"{operation}: dilation must be greater than zero, but got "
                           f"{_dims(dilation)}")
    for pad in padding:
        if pad < 0:
            if kernel_first and max_indices is False:
                raise RuntimeError(f"max_pool1d() padding must be non-negative, but got {pad}")
            raise RuntimeError(f"pad must be non-negative, but got pad: {pad}")
    if max_indices is not None:  # max pooling (with or without indices)
        _check_plain_padding(padding, kernel_size, dilation, with_indices=max_indices)
    for pad, kernel, gap in zip(padding, kernel_size, dilation):
        if pad < 0 or pad > (gap * (kernel - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={pad}, kernel_size={kernel} and dilation={gap}")
    if given_shape is not None:
        _check_non_batch_sizes(given_shape, spatial_dims, operation)
    sizes = input._data.shape[2:]
    out_size = tuple(_pool_size(size, kernel, jump, pad, gap, ceil_mode) for size, kernel, jump,
                     pad, gap in zip(sizes, kernel_size, stride, padding, dilation))
    if any(count <= 0 for count in out_size):
        if max_indices is False and spatial_dims == 1:
            raise RuntimeError(f"max_pool1d() Invalid computed output size: {out_size[0]}")
        given = input._data.shape[1:]
        calculated = input._data.shape[1:2] + out_size
        if spatial_dims == 1:  # PyTorch runs it as a 2-D pooling over (C, 1, L)
            given = given[:1] + (1,) + given[1:]
            calculated = calculated[:1] + (1,) + calculated[1:]
        raise RuntimeError(f"Given input size: ({'x'.join(str(size) for size in given)}). "
                           f"Calculated output size: "
                           f"({'x'.join(str(size) for size in calculated)}). "
                           f"Output size is too small")
    return kernel_size, stride, padding, dilation, out_size


def _check_non_batch_sizes(shape, spatial_dims, operation):
    """PyTorch's refusal of max and average pooling over an input (of the caller's ``shape``)
    with an empty non-batch dim, in each kernel's words."""
    first = 1 if len(shape) == spatial_dims + 2 else 0
    if all(shape[first:]):
        return
    if spatial_dims == 3:
        label = "max_pool3d_with_indices_out_cpu_template" if operation == "max_pool3d" else \
            operation
        # (PyTorch's message names non-batch dimension 0 whichever is empty)
        raise RuntimeError(f"{label}(): Expected input's non-batch dimensions to have positive "
                           f"length, but input has a shape of {list(shape)} and non-batch "
                           f"dimension 0 has length zero!")
    if operation == "max_pool1d":
        raise RuntimeError(f"max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 "
                           f"dim batch size for input, but got:{list(shape)}")
    if spatial_dims == 1:  # average pooling of one dim runs as 2-D pooling over (C, 1, L)
        shape = list(shape[:-1]) + [1, shape[-1]]
    raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size "
                       f"for input, but got:{list(shape)}")


def _check_plain_padding(padding, kernel_size, dilation, with_indices):
    """PyTorch bounds max pooling's padding by half the kernel size itself (stricter than half
    the dilated size) for max_pool1d without indices and for dilated 1-D/2-D max pooling."""
    if all(pad <= kernel // 2 for pad, kernel in zip(padding, kernel_size)):
        return
    if len(kernel_size) == 1 and not with_indices:
        raise RuntimeError(f"max_pool1d() padding should be at most half of kernel size, but got "
                           f"padding={padding[0]} and kernel_size={kernel_size[0]}")
    if len(kernel_size) <= 2 and any(gap != 1 for gap in dilation):
        # 1-D pooling runs as 2-D pooling over (C, 1, L).
        padding = (0,) * (2 - len(padding)) + tuple(padding)
        kernel_size = (1,) * (2 - len(kernel_size)) + tuple(kernel_size)
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got "
                           f"padW = {padding[1]}, padH = {padding[0]}, kW = {kernel_size[1]}, "
                           f"kH = {kernel_size[0]}")


def _dims(values):
    return " ".join(str(value) for value in values)


def _named_dims(letter, values):
    """'kH: 2 kW: 3' as PyTorch's pooling shape checks print sizes (1-D as a height of 1)."""
    values = (1,) + tuple(values) if len(values) == 1 else tuple(values)
    names = ("T", "H", "W")[3 - len(values):]
    return " ".join(f"{letter}{name}: {value}" for name, value in zip(names, values))


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
              spatial_dims, operation):
    # max_pool1d without indices takes floating point only (its kernel max_pool1d_impl), the
    # others any integer type too (1-D with indices runs as max_pool2d)
    plain_1d = spatial_dims == 1 and not return_indices
    kernel = "max_pool1d_impl" if plain_1d else "max_pool2d" if spatial_dims == 1 else None
    batched, unbatched = _prepare(input, spatial_dims, operation, "f" if plain_1d else "iu",
                                  kernel)
    kernel_size, stride, padding, dilation, out_size = _arguments(
        batched, kernel_size, stride, padding, dilation, ceil_mode, spatial_dims, operation,
        max_indices=bool(return_indices), given_shape=tuple(input._data.shape))
    result = MaxPoolNd.apply(batched, kernel_size, stride, padding, dilation, out_size,
                             bool(return_indices))
    if spatial_dims > 1:
        torch_named(result[0] if return_indices else result,
                    f"MaxPool{spatial_dims}DWithIndicesBackward0")
    if not return_indices:
        return result.squeeze(0) if unbatched else result
    output, indices = result
    if unbatched:
        return output.squeeze(0), Tensor._wrap(indices._data[0])
    return output, indices


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling over (N, C, L) or (C, L); indices index the flattened L."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1,
                     "max_pool1d")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling over (N, C, H, W) or (C, H, W); indices index the flattened H*W."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2,
                     "max_pool2d")


@autocast_op("max_pool3d")
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """3-D max pooling over (N, C, D, H, W) or (C, D, H, W)."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 3,
                     "max_pool3d")


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
              spatial_dims, operation):
    # (1-D pooling runs as avg_pool2d; avg_pool3d's kernel has no float16 or bfloat16)
    kernel = "avg_pool2d" if spatial_dims == 1 else "avg_pool3d_out_frame" \
        if spatial_dims == 3 else None
    batched, unbatched = _prepare(input, spatial_dims, operation, "l", kernel)
    if spatial_dims == 3 and batched._data.dtype.itemsize == 2 and is_floating(
            batched._data.dtype):
        raise NotImplementedError(f'"avg_pool3d_out_frame" not implemented for '
                                  f"'{scalar_type_name(batched._data.dtype)}'")
    kernel_size, stride, padding, _, out_size = _arguments(
        batched, kernel_size, stride, padding, 1, ceil_mode, spatial_dims, operation,
        given_shape=tuple(input._data.shape))
    dtype = batched._data.dtype
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError("divisor must be not zero")
        divisor = dtype.type(divisor_override)
    else:
        divisor = avg_divisor(batched._data.shape[2:], kernel_size, stride, padding, out_size,
                               count_include_pad, dtype)
        if np.all(divisor == divisor.flat[0]):
            divisor = dtype.type(divisor.flat[0])
    output = AvgPoolNd.apply(batched, kernel_size, stride, padding, out_size, divisor)
    if spatial_dims > 1:
        torch_named(output, f"AvgPool{spatial_dims}DBackward0")
    return output.squeeze(0) if unbatched else output


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1-D average pooling over (N, C, L) or (C, L)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1,
                     "avg_pool1d")


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling over (N, C, H, W) or (C, H, W)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 2, "avg_pool2d")


@autocast_op("avg_pool3d")
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """3-D average pooling over (N, C, D, H, W) or (C, D, H, W)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 3, "avg_pool3d")


def _check_sizes_against_input(input, output_size):
    """PyTorch's Python-level adaptive pooling fills the Nones of a sequence ``output_size`` from
    the input's trailing sizes, first refusing an input without more dims than it has."""
    if isinstance(input, Tensor) and not isinstance(output_size, (int, np.integer)) and \
            output_size is not None and input._data.ndim <= len(output_size):
        raise ValueError(f"Input dimension should be at least {len(output_size) + 1}")


def _adaptive_output_size(input, output_size, spatial_dims, operation):
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * spatial_dims
    output_size = tuple(output_size)
    if len(output_size) != spatial_dims:
        raise _output_size_length_error(operation, spatial_dims, len(output_size))
    sizes = input._data.shape[-spatial_dims:]
    output_size = tuple(size if count is None else int(count)
                        for size, count in zip(sizes, output_size))
    if operation.startswith("adaptive_max"):  # checked before the output is made
        _check_adaptive_sizes(input, operation)
    if any(count < 0 for count in output_size):
        if operation.startswith("adaptive_max"):
            # (1-D pooling runs as 2-D over (N, C, 1, L))
            shape = list(input._data.shape[:-spatial_dims]) + [1] * (spatial_dims == 1)
            raise RuntimeError(f"Trying to create tensor with negative dimension "
                               f"{min(output_size)}: {shape + list(output_size)}")
        # PyTorch's own spacing: "{-1, -1}" in 2-D, "{-1, -1,-1}" in 3-D
        shown = ", ".join(map(str, output_size)) if spatial_dims < 3 else \
            f"{output_size[0]}, {output_size[1]},{output_size[2]}"
        raise RuntimeError(f"{operation}: elements of output_size must be greater than or equal "
                           f"to 0 but received {{{shown}}}")
    _check_adaptive_sizes(input, operation)
    return output_size


def _output_size_length_error(operation, spatial_dims, length):
    """PyTorch's error for an adaptive pooling ``output_size`` of ``length`` elements."""
    if spatial_dims == 1:  # its argument parser's
        return RuntimeError(f"{operation}() argument 'output_size' should contain one int (got "
                            f"{length})")
    if operation.startswith("adaptive_max"):
        return RuntimeError(f"{operation}(): internal error: output_size.size() must be "
                            f"{spatial_dims}")
    return RuntimeError(f"{operation}: output_size must be {spatial_dims}")


def _check_one_dim_output_size(output_size, operation):
    """The argument parser's TypeError for a None in a 1-D pooling's ``output_size``."""
    if not isinstance(output_size, (int, np.integer)) and output_size is not None:
        for position, count in enumerate(output_size):
            if count is None:
                raise TypeError(f"{operation}(): argument 'output_size' (position 2) must be "
                                f"tuple of ints, but found element of type NoneType at pos "
                                f"{position}")


def _check_adaptive_sizes(input, operation):
    """PyTorch's refusal of adaptive pooling over an empty non-batch dim: the first dim is taken
    as the batch (may be empty), even of an unbatched input; 2-D average pooling checks its
    spatial dims only."""
    first = input._data.ndim - 2 if operation == "adaptive_avg_pool2d" else 1
    for dim in range(first - input._data.ndim, 0):
        if input._data.shape[dim] == 0:
            raise RuntimeError(f"{operation}(): Expected input to have non-zero size for "
                               f"non-batch dimensions, but input has sizes "
                               f"{list(input._data.shape)} with dimension {input._data.ndim + dim}"
                               f" being empty")


def _adaptive_avg_pool(input, output_size, spatial_dims, operation):
    kernel = "adaptive_avg_pool2d" if spatial_dims == 1 else "adaptive_avg_pool3d_cpu" \
        if spatial_dims == 3 else None
    if spatial_dims > 1:
        _check_sizes_against_input(input, output_size)
        # the kernel checks the output size's length before the input's rank
        if not isinstance(output_size, (int, np.integer)) and output_size is not None and \
                len(tuple(output_size)) != spatial_dims:
            raise _output_size_length_error(operation, spatial_dims, len(tuple(output_size)))
    else:
        _check_one_dim_output_size(output_size, operation)
    _prepare(input, spatial_dims, operation, kernel=kernel)
    if spatial_dims == 1:
        # PyTorch pools one dim as two, the new one of size 1 (its node is SqueezeBackward1),
        # checked as adaptive_avg_pool2d
        if isinstance(output_size, (int, np.integer)) or output_size is None:
            output_size = (output_size,)
        if len(tuple(output_size)) != 1:
            raise RuntimeError(f"adaptive_avg_pool1d() argument 'output_size' should contain one "
                               f"int (got {len(tuple(output_size))})")
        pooled = _adaptive_avg_pool(input.unsqueeze(-2), (1,) + tuple(output_size), 2,
                                    "adaptive_avg_pool2d")
        return pooled.squeeze(-2)
    output_size = _adaptive_output_size(input, output_size, spatial_dims, operation)
    dtype = input._data.dtype
    ndim = input._data.ndim
    work = accumulation_dtype(dtype)
    if (work == dtype and input._data.flags.c_contiguous
            and all(count == 1 for count in output_size)):
        # Global average pooling is a mean over the spatial dims, as in PyTorch (MeanBackward1):
        # one reduction instead of a matrix product per dim, and a broadcast for its gradient.
        return input.mean(dim=tuple(range(-spatial_dims, 0)), keepdim=True)
    # Adaptive averaging is separable: one small averaging matrix per spatial dim, applied by
    # the per-axis map op that padding and interpolate use.
    maps = tuple((axis, averaging_matrix(input._data.shape[axis], count, work))
                 for axis, count in zip(range(ndim - spatial_dims, ndim), output_size))
    # PyTorch's adaptive pooling backward keeps the input (under create_graph)
    name = f"AdaptiveAvgPool{spatial_dims}DBackward0"
    if work != dtype:
        # float16/bfloat16: averaged in float32 and rounded once, as PyTorch's kernel does.
        pooled = GatherAxes.apply(input.to(work), maps, 0)
        return keep_input_in_gradient(torch_named(pooled, name)).to(dtype)
    return keep_input_in_gradient(torch_named(GatherAxes.apply(input, maps, 0), name))


@autocast_op("adaptive_avg_pool1d")
def adaptive_avg_pool1d(input, output_size):
    """Average over PyTorch's adaptive windows to length ``output_size``."""
    return _adaptive_avg_pool(input, output_size, 1, "adaptive_avg_pool1d")


@autocast_op("adaptive_avg_pool2d")
def adaptive_avg_pool2d(input, output_size):
    """Average over PyTorch's adaptive windows to ``output_size`` (int, or pair with None)."""
    return _adaptive_avg_pool(input, output_size, 2, "adaptive_avg_pool2d")


@autocast_op("adaptive_avg_pool3d")
def adaptive_avg_pool3d(input, output_size):
    """Average over PyTorch's adaptive windows to a 3-D ``output_size``."""
    return _adaptive_avg_pool(input, output_size, 3, "adaptive_avg_pool3d")


def _adaptive_max_pool(input, output_size, return_indices, spatial_dims, operation):
    kernel = "adaptive_max_pool2d" if spatial_dims == 1 else "adaptive_max_pool3d_cpu" \
        if spatial_dims == 3 else None
    if spatial_dims > 1:
        _check_sizes_against_input(input, output_size)
    else:
        _check_one_dim_output_size(output_size, operation)
    batched, unbatched = _prepare(input, spatial_dims, operation, kernel=kernel)
    output_size = _adaptive_output_size(input, output_size, spatial_dims, operation)
    indices = np.ascontiguousarray(adaptive_max_indices(batched._data, output_size))
    indices = spatial_layout(indices, (batched._data,))  # as PyTorch's (channels_last too)
    output = keep_input_in_gradient(GatherSpatial.apply(batched, indices))
    indices_tensor = Tensor._wrap(indices)
    if unbatched:
        output = output.squeeze(0)
        indices_tensor = Tensor._wrap(indices[0])
    if return_indices:
        return output, indices_tensor
    return output


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Maximum over PyTorch's adaptive windows to length ``output_size``."""
    return _adaptive_max_pool(input, output_size, return_indices, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Maximum over PyTorch's adaptive windows to ``output_size``; indices as max_pool2d's."""
    return _adaptive_max_pool(input, output_size, return_indices, 2, "adaptive_max_pool2d")


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Maximum over PyTorch's adaptive windows to a 3-D ``output_size``; indices flattened over
    the input's depth, height and width, as max_pool3d's."""
    return _adaptive_max_pool(input, output_size, return_indices, 3, "adaptive_max_pool3d")


def _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, pool, window):
    """(window * avg_pool(x^p))^(1/p), with the sign/relu guard PyTorch applies (composite)."""
    check_tensors("lp_pool", AttributeError, input=input)
    powered = input.pow(norm_type)
    if stride is not None:
        pooled = pool(powered, kernel_size, stride, 0, ceil_mode)
    else:
        pooled = pool(powered, kernel_size, padding=0, ceil_mode=ceil_mode)
    return (pooled.sign() * relu(pooled.abs())).mul(window).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over 1-D windows: (sum of x^p over the window)^(1/p)."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, avg_pool1d, kernel_size)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over 2-D windows: (sum of x^p over the window)^(1/p)."""
    height, width = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, avg_pool2d,
                    height * width)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over 3-D windows: (sum of x^p over the window)^(1/p)."""
    sizes = (kernel_size,) * 3 if isinstance(kernel_size, int) else tuple(kernel_size)
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, avg_pool3d,
                    math.prod(sizes))


# ---- fractional max pooling -------------------------------------------------------------------
_FRACTIONAL_DIM_NAMES = {2: ("height", "width"), 3: ("time", "height", "width")}


def _fractional_sizes(value, count, name, operation):
    """kernel_size/output_size as ``count`` ints (PyTorch's RuntimeError for another length)."""
    return int_tuple(value, count, name, lambda got: RuntimeError(
        f"{operation}: {name} must either be a single Int or tuple of Ints"))


def _fractional_max_pool(input, kernel_size, output_size, output_ratio, return_indices,
                         _random_samples, spatial_dims):
    """Max over windows of ``kernel_size`` whose starts advance by pseudo-random fractional
    steps (Graham's fractional max pooling), with PyTorch's windows for the same
    ``_random_samples`` (one uniform draw per batch item, channel and dim, drawn from ember's
    generator when not given). A gather at the argmax, as adaptive max pooling."""
    operation = f"fractional_max_pool{spatial_dims}d"
    if output_size is None and output_ratio is None:
        raise ValueError(f"{operation} requires specifying either an output_size or an "
                         f"output_ratio")
    if output_size is None:
        if spatial_dims == 2 and isinstance(output_ratio, (list, tuple)) and \
                len(output_ratio) > 2:
            raise ValueError("fractional_max_pool2d requires output_ratio to either be a single "
                             "Int or tuple of Ints.")
        ratios = tuple(output_ratio) if isinstance(output_ratio, (list, tuple)) else \
            (output_ratio,) * spatial_dims
        output_size = [int(input.size(dim - spatial_dims) * ratios[dim])
                       for dim in range(spatial_dims)]
    if _random_samples is None:
        batch = 1 if input.dim() == spatial_dims + 1 else input.size(0)
        _random_samples = rand(batch, input.size(-spatial_dims - 1), spatial_dims,
                               dtype=input.dtype)
    # PyTorch's kernel names the 3-D op by its out= form.
    kernel_name = operation if spatial_dims == 2 else operation + "_out"
    kernel_size = _fractional_sizes(kernel_size, spatial_dims, "kernel_size", operation)
    output_size = _fractional_sizes(output_size, spatial_dims, "output_size", operation)
    samples = _random_samples._data
    dtype = input._data.dtype
    if samples.dtype != dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    ndim = input._data.ndim
    shape = list(input._data.shape)
    if ndim not in (spatial_dims + 1, spatial_dims + 2):
        raise RuntimeError(f"{kernel_name}(): Expected {spatial_dims + 1}D or "
                           f"{spatial_dims + 2}D tensor, but got: {shape}")
    if samples.ndim != 3:
        raise RuntimeError(f"Expect _random_samples to have 3 dimensions, got {samples.ndim}")
    batched = input if ndim == spatial_dims + 2 else input.unsqueeze(0)
    if samples.shape[0] < batched.shape[0]:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    if samples.shape[1] != batched.shape[1]:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if samples.shape[2] != spatial_dims:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to {spatial_dims}; got "
                           f"{samples.shape[2]}.")
    for dim in range(ndim - spatial_dims - 1, ndim):
        if shape[dim] == 0:
            raise RuntimeError(f"{kernel_name}(): Expected input to have non-zero size for "
                               f"non-batch dimensions, but got{shape} with dimension {dim} "
                               f"being empty.")
    sizes = batched._data.shape[2:]
    for name, size, count, pool in zip(_FRACTIONAL_DIM_NAMES[spatial_dims], sizes,
                                       output_size, kernel_size):
        if count + pool - 1 > size:
            raise RuntimeError(f"{kernel_name}(): pool {name} {pool} too large relative to "
                               f"input {name} {size}")
    for count in output_size:
        if count < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {count}: "
                               f"{list(batched.shape[:2]) + list(output_size)}")
    if not is_floating(dtype):
        raise NotImplementedError(f'"{operation}_out_frame" not implemented for '
                                  f"'{scalar_type_name(dtype)}'")
    if any(pool <= 0 for pool in kernel_size):
        raise RuntimeError(f"{operation}: kernel_size must be greater than zero, but got "
                           f"{list(kernel_size)}")
    # The 2-D op draws (width, height); the 3-D one (time, height, width).
    per_dim = [samples[..., 1], samples[..., 0]] if spatial_dims == 2 else \
        [samples[..., dim] for dim in range(3)]
    indices = np.ascontiguousarray(fractional_max_indices(batched._data, kernel_size,
                                                          output_size, per_dim))
    output = torch_named(keep_input_in_gradient(GatherSpatial.apply(batched, indices)),
                         f"FractionalMaxPool{spatial_dims}DBackward0")
    indices_tensor = Tensor._wrap(indices)
    if ndim == spatial_dims + 1:
        output = output.squeeze(0)
        indices_tensor = Tensor._wrap(indices[0])
    if return_indices:
        return output, indices_tensor
    return output


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """2-D fractional max pooling over (N, C, H, W) or (C, H, W) to ``output_size`` (or
    ``output_ratio`` times the input size); indices index the flattened H*W."""
    return _fractional_max_pool(input, kernel_size, output_size, output_ratio, return_indices,
                                _random_samples, 2)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """3-D fractional max pooling over (N, C, T, H, W) or (C, T, H, W); indices index the
    flattened T*H*W."""
    return _fractional_max_pool(input, kernel_size, output_size, output_ratio, return_indices,
                                _random_samples, 3)
