"""MaxUnpool1d/2d/3d: max pooling's partial inverse, given the pooling's indices."""
from .. import functional as F
from ..functional._conv import int_tuple
from .module import Module

__all__ = ["MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d"]


class _MaxUnpoolNd(Module):
    _dims = None

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        dims = self._dims
        sizes = [int_tuple(value, dims, name, lambda got, name=name: RuntimeError(
            f"{name} must either be a single int, or a tuple of {dims} ints"))
            for name, value in (("kernel_size", kernel_size),
                                ("stride", kernel_size if stride is None else stride),
                                ("padding", padding))]
        self.kernel_size, self.stride, self.padding = sizes

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input, indices, output_size=None):
        functional = (F.max_unpool1d, F.max_unpool2d, F.max_unpool3d)[self._dims - 1]
        return functional(input, indices, self.kernel_size, self.stride, self.padding,
                          output_size)


class MaxUnpool1d(_MaxUnpoolNd):
    _dims = 1


class MaxUnpool2d(_MaxUnpoolNd):
    _dims = 2


class MaxUnpool3d(_MaxUnpoolNd):
    _dims = 3
