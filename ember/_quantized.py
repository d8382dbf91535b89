"""Quantized tensors (per-tensor affine): integers of a quantized dtype with a scale and a zero
point, as the weights of quantized modules and ``torch.quantize_per_tensor`` hold them.

They are not ember Tensors (no autograd, no ops): PyTorch's quantized tensors support few ops
either, and what scripts call on them is here: ``int_repr``, ``dequantize``, ``q_scale``,
``q_zero_point``, ``qscheme``, the shape queries and PyTorch's repr.
"""
import numpy as np

from . import _device
from ._dtype import _QUANTIZED, float32, per_tensor_affine, to_dtype
from ._tensor_str import format_values
from .tensor import Size, Tensor, _normalize_dim

__all__ = ["QuantizedTensor", "quantize_per_tensor"]

# The integer range of each quantized dtype (the packed sub-byte types are not supported).
_RANGES = {"qint8": (-128, 127), "quint8": (0, 255), "qint32": (-(1 << 31), (1 << 31) - 1)}


class QuantizedTensor:
    """A per-tensor affine quantized tensor: ``real = (integer - zero_point) * scale``."""

    is_quantized = True
    requires_grad = False
    grad_fn = None
    is_sparse = False

    def __init__(self, integers, scale, zero_point, dtype):
        self._integers = integers
        self._scale = float(scale)
        self._zero_point = int(zero_point)
        self.dtype = dtype

    def int_repr(self):
        """The stored integers as a tensor of the underlying integer dtype (int8 for qint8)."""
        return Tensor._wrap(self._integers.copy())

    def dequantize(self):
        """The real values, float32: ``(integer - zero_point) * scale``, the difference taken
        in int32 (wrapping at qint32's ends, as PyTorch's does) and the product rounded once."""
        difference = (self._integers.astype(np.int64) - self._zero_point).astype(np.int32)
        return Tensor._wrap(difference.astype(np.float32) * np.float32(self._scale))

    def q_scale(self):
        return self._scale

    def q_zero_point(self):
        return self._zero_point

    def qscheme(self):
        return per_tensor_affine

    @property
    def shape(self):
        return Size(self._integers.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._integers.shape)
        return self._integers.shape[_normalize_dim(dim, self._integers.ndim)]

    @property
    def ndim(self):
        return self._integers.ndim

    def dim(self):
        return self._integers.ndim

    def numel(self):
        return self._integers.size

    def element_size(self):
        return self._integers.itemsize

    @property
    def device(self):
        return _device.CPU

    def detach(self):
        return self

    def clone(self):
        return QuantizedTensor(self._integers.copy(), self._scale, self._zero_point, self.dtype)

    def __len__(self):
        if self._integers.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._integers.shape[0]

    def __repr__(self):
        suffixes = [f"size={tuple(self._integers.shape)}", f"dtype={self.dtype!r}",
                    f"quantization_scheme={per_tensor_affine!r}", f"scale={self._scale!r}",
                    f"zero_point={self._zero_point}"]
        return format_values(self.dequantize()._data, suffixes)


def quantize_array(values, scale, zero_point, dtype):
    """float32 values quantized as PyTorch's CPU kernel does (fbgemm's non-legacy Quantize):
    ``zero_point + rint(value * float32(1 / scale))``, the reciprocal taken in float32, then
    clamped to the dtype's range."""
    lowest, highest = _RANGES[dtype.name]
    inverse = np.float32(1) / np.float32(scale)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.rint(values.astype(np.float32) * inverse).astype(np.float64)
    return np.clip(scaled + zero_point, lowest, highest).astype(dtype.storage)


def quantize_per_tensor(input, scale, zero_point, dtype):
    """``input`` (a float32 tensor) as a quantized tensor of ``dtype`` (qint8, quint8 or
    qint32) with one scale and zero point, as torch.quantize_per_tensor."""
    dtype = to_dtype(dtype)
    if dtype not in _QUANTIZED or dtype.name not in _RANGES:
        raise RuntimeError(f"quantize_per_tensor: expected a quantized dtype (qint8, quint8 or "
                           f"qint32), got {dtype!r}")
    if not isinstance(input, Tensor) or input.dtype is not float32:
        got = input.dtype if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(f"quantize_per_tensor: expected a float32 tensor, got {got}")
    integers = quantize_array(input._data, scale, zero_point, dtype)
    return QuantizedTensor(integers, scale, zero_point, dtype)
