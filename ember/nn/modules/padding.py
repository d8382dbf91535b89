"""Padding layers: constant (ZeroPad, ConstantPad), reflection, replication and circular."""
from .. import functional as F
from .module import Module


def _expand(padding, dims):
    """An int pads every side; a tuple lists (left, right) pairs from the last dimension (kept
    as given, like PyTorch, which checks its length only in F.pad)."""
    if isinstance(padding, int):
        return (padding,) * (2 * dims)
    return tuple(padding)


class _PadNd(Module):
    mode = "constant"
    dims = 1

    def __init__(self, padding):
        super().__init__()
        self.padding = _expand(padding, self.dims)

    def forward(self, input):
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    dims = 1


class ConstantPad2d(_ConstantPadNd):
    dims = 2


class ConstantPad3d(_ConstantPadNd):
    dims = 3


class _ZeroPad:
    """Constant padding with zeros: no value argument, and the repr shows only the padding."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad1d(_ZeroPad, ConstantPad1d):
    pass


class ZeroPad2d(_ZeroPad, ConstantPad2d):
    pass


class ReflectionPad1d(_PadNd):
    mode = "reflect"
    dims = 1


class ReflectionPad2d(_PadNd):
    mode = "reflect"
    dims = 2


class ReplicationPad1d(_PadNd):
    mode = "replicate"
    dims = 1


class ReplicationPad2d(_PadNd):
    mode = "replicate"
    dims = 2


class CircularPad1d(_PadNd):
    mode = "circular"
    dims = 1


class CircularPad2d(_PadNd):
    mode = "circular"
    dims = 2


class ZeroPad3d(_ZeroPad, ConstantPad3d):
    pass


class ReflectionPad3d(_PadNd):
    mode = "reflect"
    dims = 3


class ReplicationPad3d(_PadNd):
    mode = "replicate"
    dims = 3


class CircularPad3d(_PadNd):
    mode = "circular"
    dims = 3
