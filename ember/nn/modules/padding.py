"""Padding layers: constant (ZeroPad, ConstantPad), reflection, replication and circular."""
from .. import functional as F
from .module import Module
from .utils import _Family


def _expand(padding, dims):
    """An int pads every side; a tuple lists (left, right) pairs from the last dimension (kept
    as given, like PyTorch, which checks its length only in F.pad)."""
    if isinstance(padding, int):
        return (padding,) * (2 * dims)
    return tuple(padding)


class _PadNd(_Family, Module):
    """F.pad in one mode over the last ``dims`` dimensions (both set by class keyword)."""

    _mode = "constant"
    _dims = 1

    def __init__(self, padding):
        super().__init__()
        self.padding = _expand(padding, self._dims)

    def forward(self, input):
        return F.pad(input, self.padding, self._mode)

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


class ConstantPad1d(_ConstantPadNd, dims=1):
    """Pad the last dimension with ``value``."""


class ConstantPad2d(_ConstantPadNd, dims=2):
    """Pad the last two dimensions with ``value``."""


class ConstantPad3d(_ConstantPadNd, dims=3):
    """Pad the last three dimensions with ``value``."""


class _ZeroPad:
    """Constant padding with zeros: no value argument, and the repr shows only the padding."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad1d(_ZeroPad, ConstantPad1d):
    """Pad the last dimension with zeros."""


class ZeroPad2d(_ZeroPad, ConstantPad2d):
    """Pad the last two dimensions with zeros."""


class ZeroPad3d(_ZeroPad, ConstantPad3d):
    """Pad the last three dimensions with zeros."""


class ReflectionPad1d(_PadNd, mode="reflect", dims=1):
    """Pad the last dimension with its reflection at each edge (the edge not repeated)."""


class ReflectionPad2d(_PadNd, mode="reflect", dims=2):
    """Pad the last two dimensions with their reflection at each edge."""


class ReflectionPad3d(_PadNd, mode="reflect", dims=3):
    """Pad the last three dimensions with their reflection at each edge."""


class ReplicationPad1d(_PadNd, mode="replicate", dims=1):
    """Pad the last dimension by repeating its edge values."""


class ReplicationPad2d(_PadNd, mode="replicate", dims=2):
    """Pad the last two dimensions by repeating their edge values."""


class ReplicationPad3d(_PadNd, mode="replicate", dims=3):
    """Pad the last three dimensions by repeating their edge values."""


class CircularPad1d(_PadNd, mode="circular", dims=1):
    """Pad the last dimension by wrapping around (the far end continues at the near edge)."""


class CircularPad2d(_PadNd, mode="circular", dims=2):
    """Pad the last two dimensions by wrapping around."""


class CircularPad3d(_PadNd, mode="circular", dims=3):
    """Pad the last three dimensions by wrapping around."""
