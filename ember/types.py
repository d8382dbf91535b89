"""``torch.types``: the type aliases PyTorch's signatures use (numbers, sizes, devices), which
user code imports for its own annotations."""
from typing import List, Sequence, Tuple, Union

from ._device import device as _device_class
from ._dtype import dtype as _dtype_class
from .tensor import Size, Tensor

__all__ = ["Device", "Number", "Storage", "_bool", "_complex", "_device", "_dtype", "_float",
           "_int", "_layout", "_qscheme", "_size"]

_int = int
_float = float
_bool = bool
_complex = complex
_dtype = _dtype_class
_device = _device_class
_layout = object
_qscheme = object
_size = Union[Size, List[int], Tuple[int, ...]]
_shape = Union[Size, Sequence[int]]
Number = Union[int, float, bool]
PySymInt = int
Device = Union[_device_class, str, int, None]
Storage = object
_TensorOrTensors = Union[Tensor, Sequence[Tensor]]
