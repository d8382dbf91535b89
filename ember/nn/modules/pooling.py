"""Pooling layers: max, average and adaptive pooling, thin wrappers over F's pooling functions."""
from .. import functional as F
from .module import Module
from .utils import _Family


def _single(value):
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


class _PoolNd(_Family, Module):
    """The window options of the max and average pooling layers (stride defaults to the
    kernel size)."""

    def __init__(self, kernel_size, stride, padding, ceil_mode):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _MaxPoolNd(_PoolNd):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation = dilation
        self.return_indices = return_indices

    def extra_repr(self):
        return f"{super().extra_repr()}, dilation={self.dilation}, ceil_mode={self.ceil_mode}"

    def forward(self, input):
        return type(self)._functional(input, self.kernel_size, self.stride, self.padding,
                                      self.dilation, ceil_mode=self.ceil_mode,
                                      return_indices=self.return_indices)


class MaxPool1d(_MaxPoolNd, functional=F.max_pool1d):
    """1-D max pooling over (N, C, L) or (C, L); ``return_indices`` also gives the argmax."""


class MaxPool2d(_MaxPoolNd, functional=F.max_pool2d):
    """2-D max pooling over (N, C, H, W) or (C, H, W); indices index the flattened H*W."""


class MaxPool3d(_MaxPoolNd, functional=F.max_pool3d):
    """3-D max pooling over (N, C, D, H, W) or (C, D, H, W)."""


class AvgPool1d(_PoolNd):
    """1-D average pooling over (N, C, L) or (C, L)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        stride = stride if stride is not None else kernel_size
        super().__init__(_single(kernel_size), _single(stride), _single(padding), ceil_mode)
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding,
                            self.ceil_mode, self.count_include_pad)


class _AvgPoolNd(_PoolNd):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return type(self)._functional(input, self.kernel_size, self.stride, self.padding,
                                      self.ceil_mode, self.count_include_pad,
                                      self.divisor_override)


class AvgPool2d(_AvgPoolNd, functional=F.avg_pool2d):
    """2-D average pooling over (N, C, H, W) or (C, H, W)."""


class AvgPool3d(_AvgPoolNd, functional=F.avg_pool3d):
    """3-D average pooling over (N, C, D, H, W) or (C, D, H, W)."""


class _AdaptiveAvgPoolNd(_Family, Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"

    def forward(self, input):
        return type(self)._functional(input, self.output_size)


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd, functional=F.adaptive_avg_pool1d):
    """Average over adaptive windows to length ``output_size``."""


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd, functional=F.adaptive_avg_pool2d):
    """Average over adaptive windows to ``output_size`` (an int, or a pair with None entries)."""


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd, functional=F.adaptive_avg_pool3d):
    """Average over adaptive windows to a 3-D ``output_size``."""


class _AdaptiveMaxPoolNd(_Family, Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def extra_repr(self):
        return f"output_size={self.output_size}"

    def forward(self, input):
        return type(self)._functional(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd, functional=F.adaptive_max_pool1d):
    """Maximum over adaptive windows to length ``output_size``."""


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd, functional=F.adaptive_max_pool2d):
    """Maximum over adaptive windows to ``output_size``; indices as MaxPool2d's."""


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd, functional=F.adaptive_max_pool3d):
    """Maximum over adaptive windows to a 3-D ``output_size``; indices as MaxPool3d's."""


class _LPPoolNd(_Family, Module):
    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")

    def forward(self, input):
        return type(self)._functional(input, self.norm_type, self.kernel_size, self.stride,
                                      self.ceil_mode)


class LPPool1d(_LPPoolNd, functional=F.lp_pool1d):
    """Power-average pooling over 1-D windows."""


class LPPool2d(_LPPoolNd, functional=F.lp_pool2d):
    """Power-average pooling over 2-D windows."""


class LPPool3d(_LPPoolNd, functional=F.lp_pool3d):
    """Power-average pooling over 3-D windows."""


class _FractionalMaxPoolNd(_Family, Module):
    """The options of fractional max pooling: a window size, and the output size or its ratio
    to the input size; ``_random_samples`` (a buffer, None unless given) fixes the windows."""

    _spatial_dims = None

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        dims = self._spatial_dims
        name = type(self).__name__
        if dims == 3 and ((isinstance(kernel_size, int) and kernel_size <= 0) or (
                isinstance(kernel_size, (tuple, list)) and not all(k > 0 for k in kernel_size))):
            raise ValueError(f"kernel_size must be greater than 0, but got {kernel_size}")
        self.kernel_size = _repeat(kernel_size, dims)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = _repeat(output_size, dims) if output_size is not None else None
        self.output_ratio = _repeat(output_ratio, dims) if output_ratio is not None else None
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a pooling "
                             f"ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None:
            if not all(0 < ratio < 1 for ratio in self.output_ratio):
                raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):
        return type(self)._functional(input, self.kernel_size, self.output_size,
                                      self.output_ratio, self.return_indices,
                                      _random_samples=self._random_samples)


def _repeat(value, count):
    """PyTorch's _pair/_triple: an iterable as a tuple, anything else repeated."""
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,) * count


class FractionalMaxPool2d(_FractionalMaxPoolNd, functional=F.fractional_max_pool2d,
                          spatial_dims=2):
    """2-D fractional max pooling (Graham): windows at pseudo-random fractional steps."""


class FractionalMaxPool3d(_FractionalMaxPoolNd, functional=F.fractional_max_pool3d,
                          spatial_dims=3):
    """3-D fractional max pooling over (N, C, T, H, W) or (C, T, H, W)."""
