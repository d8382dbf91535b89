"""Convolution layers: Conv1d/2d/3d and ConvTranspose1d/2d/3d with PyTorch's parameters and init."""
import math

from ... import _factories
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .linear import check_size
from .module import Module, _optional_parameter
from .utils import _Family, _changed_options

_PADDING_STRINGS = {"same", "valid"}
_PADDING_MODES = {"zeros", "reflect", "replicate", "circular"}


def _ntuple(value, count):
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,) * count


class _ConvNd(_Family, Module):
    """Shared constructor, init and repr of the convolution layers."""

    _spatial_dims = 0

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 transposed, output_padding, groups, bias, padding_mode, device=None, dtype=None):
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        count = self._spatial_dims
        kernel_size = _ntuple(kernel_size, count)
        stride = _ntuple(stride, count)
        dilation = _ntuple(dilation, count)
        if isinstance(padding, str):
            if padding not in _PADDING_STRINGS:
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 f"{_PADDING_STRINGS}")
            if padding == "same" and any(step != 1 for step in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        else:
            padding = _ntuple(padding, count)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {_PADDING_MODES}, but got "
                             f"padding_mode='{padding_mode}'")
        layer = type(self).__name__
        for name, size in (("in_channels", in_channels), ("out_channels", out_channels),
                           ("groups", groups)):
            check_size(layer, name, size)
        for size in kernel_size:
            check_size(layer, "kernel_size", size)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, count)
        self.groups = groups
        self.padding_mode = padding_mode
        # Per spatial dim (before, after): 'same' puts the odd extra element after.
        if padding == "same":
            self._padding_pairs = tuple(
                (gap * (kernel - 1) // 2, gap * (kernel - 1) - gap * (kernel - 1) // 2)
                for gap, kernel in zip(dilation, kernel_size))
        elif padding == "valid":
            self._padding_pairs = ((0, 0),) * count
        else:
            self._padding_pairs = tuple((pad, pad) for pad in padding)
        if transposed:
            shape = (in_channels, out_channels // groups) + kernel_size
        else:
            shape = (out_channels, in_channels // groups) + kernel_size
        self.weight = Parameter(_factories.empty(*shape, dtype=dtype, device=device))
        _optional_parameter(self, "bias", bias, (out_channels,), dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) weight, bias U(-1/sqrt(fan_in), ...)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        count = self._spatial_dims
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        text += _changed_options(self, (("padding", (0,) * count), ("dilation", (1,) * count),
                                        ("output_padding", (0,) * count), ("groups", 1)))
        if self.bias is None:
            text += ", bias=False"
        return text + _changed_options(self, (("padding_mode", "zeros"),))


class _ConvForward(_ConvNd):
    """forward() for the (non-transposed) convolutions: zero padding inside the kernel, other
    padding modes by padding the input first."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, False,
                         0, groups, bias, padding_mode, device, dtype)

    def forward(self, input):
        if self.padding_mode == "zeros":
            return type(self)._functional(input, self.weight, self.bias, self.stride,
                                          self.padding, self.dilation, self.groups)
        # F.pad lists (before, after) pairs from the last dimension backwards.
        widths = [width for pair in reversed(self._padding_pairs) for width in pair]
        padded = F.pad(input, widths, mode=self.padding_mode)
        return type(self)._functional(padded, self.weight, self.bias, self.stride, 0,
                                      self.dilation, self.groups)


class Conv1d(_ConvForward, spatial_dims=1, functional=F.conv1d):
    """1-D convolution over (N, C_in, L); weight (C_out, C_in / groups, k)."""


class Conv2d(_ConvForward, spatial_dims=2, functional=F.conv2d):
    """2-D convolution over (N, C_in, H, W); weight (C_out, C_in / groups, kH, kW)."""


class Conv3d(_ConvForward, spatial_dims=3, functional=F.conv3d):
    """3-D convolution over (N, C_in, D, H, W); weight (C_out, C_in / groups, kD, kH, kW)."""


class _ConvTransposeNd(_ConvNd):
    """Transposed convolutions; ``forward(input, output_size=None)`` picks the output_padding."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, True,
                         output_padding, groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size):
        if output_size is None:
            return self.output_padding
        count = self._spatial_dims
        leading = input.dim() - count
        output_size = list(output_size)
        if len(output_size) == leading + count:
            output_size = output_size[leading:]
        if len(output_size) != count:
            raise ValueError(f"ConvTranspose{count}D: for {input.dim()}D input, output_size must "
                             f"have {count} or {leading + count} elements (got "
                             f"{len(output_size)})")
        minimum = []
        maximum = []
        for dim in range(count):
            size = ((input.shape[leading + dim] - 1) * self.stride[dim] - 2 * self.padding[dim]
                    + self.dilation[dim] * (self.kernel_size[dim] - 1) + 1)
            minimum.append(size)
            maximum.append(size + self.stride[dim] - 1)
        for dim in range(count):
            if not minimum[dim] <= output_size[dim] <= maximum[dim]:
                raise ValueError(f"requested an output size of {tuple(output_size)}, but valid "
                                 f"sizes range from {minimum} to {maximum} (for an input of "
                                 f"{input.shape[leading:]!r})")
        return tuple(output_size[dim] - minimum[dim] for dim in range(count))

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return type(self)._functional(input, self.weight, self.bias, self.stride, self.padding,
                                      output_padding, self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd, spatial_dims=1, functional=F.conv_transpose1d):
    """1-D transposed convolution; weight (C_in, C_out / groups, k)."""


class ConvTranspose2d(_ConvTransposeNd, spatial_dims=2, functional=F.conv_transpose2d):
    """2-D transposed convolution; weight (C_in, C_out / groups, kH, kW)."""


class ConvTranspose3d(_ConvTransposeNd, spatial_dims=3, functional=F.conv_transpose3d):
    """3-D transposed convolution; weight (C_in, C_out / groups, kD, kH, kW)."""
