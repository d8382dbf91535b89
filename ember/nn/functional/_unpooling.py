"""Max unpooling (the partial inverse of max pooling: each value back at its argmax, zeros
elsewhere) and the ``*_with_indices`` spellings of max pooling."""
import math

import numpy as np

from ...tensor import Tensor
from ... import ops
from ._conv import int_tuple
from ._pooling import (adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d,
                       fractional_max_pool2d, fractional_max_pool3d, max_pool1d, max_pool2d,
                       max_pool3d)

__all__ = ["adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d_with_indices",
           "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
           "max_unpool1d", "max_unpool2d", "max_unpool3d"]


def _unpool_size(input, kernel_size, stride, padding, output_size, dims):
    """The spatial output size: (in - 1) * stride - 2 * padding + kernel, or ``output_size``
    (spatial, or with the batch and channel sizes in front) within one stride of it."""
    kernel = int_tuple(kernel_size, dims, "kernel_size", _size_error("kernel_size", dims))
    step = kernel if stride is None else int_tuple(stride, dims, "stride",
                                                   _size_error("stride", dims))
    pad = int_tuple(padding, dims, "padding", _size_error("padding", dims))
    spatial = input.shape[-dims:]
    default = [(spatial[d] - 1) * step[d] - 2 * pad[d] + kernel[d] for d in range(dims)]
    if output_size is None:
        return tuple(default)
    given = list(output_size)
    if len(given) == dims + 2:
        given = given[2:]
    if len(given) != dims:
        raise ValueError(f"output_size should be a sequence containing {dims} or {dims + 2} "
                         f"elements, but it has a length of '{len(given)}'")
    for d in range(dims):
        low, high = default[d] - step[d], default[d] + step[d]
        if not low < given[d] < high:
            raise ValueError(f'invalid output_size "{tuple(output_size)}" (dim {d} must be '
                             f'between {low} and {high})')
    return tuple(int(size) for size in given)


def _size_error(name, dims):
    return lambda got: RuntimeError(f"{name} must either be a single int, or a tuple of {dims} "
                                    f"ints")


def _max_unpool(input, indices, kernel_size, stride, padding, output_size, dims):
    if not isinstance(input, Tensor) or not isinstance(indices, Tensor):
        raise TypeError(f"max_unpool{dims}d(): expected Tensor arguments for input and indices")
    if indices._data.dtype != np.int64:
        raise RuntimeError(f"elements in indices should be type int64 but got: "
                           f"{indices.dtype._scalar_type}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: "
                           f"{list(indices.shape)}")
    if input.dim() not in (dims + 1, dims + 2):
        raise RuntimeError(f"max_unpool{dims}d: Expected a {dims + 1}D or {dims + 2}D input, but "
                           f"got {input.dim()}D")
    out_spatial = _unpool_size(input, kernel_size, stride, padding, output_size, dims)
    volume = math.prod(out_spatial)
    flat_indices = indices._data
    invalid = (flat_indices < 0) | (flat_indices >= volume)
    if invalid.any():
        bad = flat_indices[invalid][0]  # the first in memory order, as PyTorch reports it
        raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size "
                           f"{'x'.join(map(str, out_spatial))})")
    leading = tuple(input.shape[:-dims])
    planes = input.reshape(leading + (-1,))
    zeros = Tensor._result(np.zeros(leading + (volume,), dtype=input._data.dtype))
    scattered = ops.scatter(zeros, -1, indices.reshape(leading + (-1,)), planes)
    return scattered.reshape(leading + out_spatial)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Values of (N, C, L) or (C, L) placed at their flattened max_pool1d indices."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Values of (N, C, H, W) or (C, H, W) placed at their flattened max_pool2d indices."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 3)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool3d(input, output_size, True)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)
