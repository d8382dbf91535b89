"""``Tensor.untyped_storage()`` and ``Tensor.storage()``: read-only views of the memory a tensor
lives in (the outermost NumPy array its data is a view of), for code that compares storages
(``data_ptr()``), sizes them or reads their elements. ember allocates through NumPy, so storages
are not resized or shared by hand."""
import os
import warnings

import numpy as np

from . import _dtype
from ._device import device as _device

__all__ = ["BFloat16Storage", "BoolStorage", "ByteStorage", "CharStorage",
           "ComplexDoubleStorage", "ComplexFloatStorage", "DoubleStorage", "FloatStorage",
           "HalfStorage", "IntStorage", "LongStorage", "ShortStorage", "Storage", "TypedStorage",
           "UntypedStorage"]

_TYPED_WARNING = ("TypedStorage is deprecated. It will be removed in the future and "
                  "UntypedStorage will be the only storage class. This should only matter to "
                  "you if you are using storages directly.  To access UntypedStorage directly, "
                  "use tensor.untyped_storage() instead of tensor.storage()")
_warned = [False]


def _root(array):
    """The outermost ndarray whose memory ``array`` views."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def mapped_bytes(filename, shared, nbytes):
    """The first ``nbytes`` bytes of a file as a uint8 array mapped onto it (copy-on-write
    unless ``shared``)."""
    available = os.path.getsize(filename)
    if nbytes > available:
        raise RuntimeError(f"file <{filename}> size <{available}> is smaller than the required "
                           f"mapping size <{nbytes}>")
    if nbytes == 0:
        return np.zeros(0, np.uint8)
    return np.memmap(filename, dtype=np.uint8, mode="r+" if shared else "c", shape=(nbytes,))


class UntypedStorage:
    """The bytes of a tensor's memory block."""

    def __init__(self, root):
        self._root = root

    @property
    def device(self):
        return _device("cpu")

    @property
    def dtype(self):
        return _dtype.uint8

    def data_ptr(self):
        return self._root.__array_interface__["data"][0]

    def nbytes(self):
        return self._root.nbytes

    def size(self):
        return self._root.nbytes

    def __len__(self):
        return self._root.nbytes

    def element_size(self):
        return 1

    def _bytes(self):
        return np.ascontiguousarray(self._root).reshape(-1).view(np.uint8)

    def __getitem__(self, index):
        """A byte as an int; a slice is the storage of those bytes (sharing them)."""
        if isinstance(index, slice):
            if index.step not in (None, 1):
                raise RuntimeError(f"Trying to slice with a step of {index.step}, but only a "
                                   f"step of 1 is supported")
            return UntypedStorage(self._bytes()[index])
        return int(self._bytes()[index])

    @classmethod
    def from_file(cls, filename, shared=False, nbytes=0):
        """The first ``nbytes`` bytes of a file, mapped: writes reach the file when ``shared``,
        else they stay private (copy-on-write)."""
        return cls(mapped_bytes(filename, shared, nbytes))

    def _elements(self, dtype):
        """The bytes read as whole elements of ``dtype`` (int64 when None), sharing memory:
        what ``torch.asarray(storage)`` holds."""
        numpy_dtype = (dtype or _dtype.int64).numpy
        data = self._bytes()
        return data[:data.size - data.size % numpy_dtype.itemsize].view(numpy_dtype)

    def tolist(self):
        return self._bytes().tolist()

    def untyped(self):
        return self

    def is_shared(self):
        return False

    def __repr__(self):
        body = "\n".join(f" {value}" for value in self._bytes().tolist()) or " "
        return (f"{body}\n[{_dtype.repr_prefix()}.storage.UntypedStorage(device=cpu) of size "
                f"{len(self)}]")


class TypedStorage:
    """The elements of a tensor's memory block, in its dtype (PyTorch deprecates this form)."""

    def __init__(self, root, dtype):
        self._root = root
        self.dtype = dtype

    @property
    def device(self):
        return _device("cpu")

    def _values(self):
        flat = np.ascontiguousarray(self._root).reshape(-1).view(np.uint8)
        return flat[:flat.size - flat.size % self.element_size()].view(self.dtype.numpy)

    def data_ptr(self):
        return self._root.__array_interface__["data"][0]

    def element_size(self):
        return self.dtype.itemsize

    def nbytes(self):
        return self._root.nbytes

    def size(self):
        return self._root.nbytes // self.element_size()

    def __len__(self):
        return self.size()

    def __getitem__(self, index):
        return self._values()[index].item()

    def tolist(self):
        return self._values().tolist()

    def untyped(self):
        return UntypedStorage(self._root)

    def fill_(self, value):
        self._values()[...] = value
        return self

    def is_shared(self):
        return False

    def __repr__(self):
        body = "\n".join(f" {value}" for value in self.tolist()) or " "
        return (f"{body}\n[{_dtype.repr_prefix()}.storage.TypedStorage(dtype={self.dtype}, "
                f"device=cpu) of size {len(self)}]")


class _LegacyStorageType(type):
    """``isinstance(tensor.storage(), FloatStorage)`` holds for any TypedStorage of its dtype,
    as in PyTorch."""

    def __instancecheck__(cls, instance):
        if cls is _LegacyStorage:
            return type.__instancecheck__(cls, instance)
        return isinstance(instance, TypedStorage) and instance.dtype is cls.dtype


class _LegacyStorage(TypedStorage, metaclass=_LegacyStorageType):
    """PyTorch's typed storage classes of one dtype (``torch.FloatStorage(3)``,
    ``torch.LongStorage([1, 2])``): new memory of that many elements (zeros here, where PyTorch
    leaves it uninitialised) or holding the sequence's values."""

    dtype = None

    def __init__(self, *args, **kwargs):
        if kwargs or len(args) > 1:
            raise TypeError(f"{type(self).__name__}(): expected at most one argument (a size or "
                            f"a sequence), got {len(args) + len(kwargs)}")
        if not args:
            values = np.zeros(0, self.dtype.numpy)
        elif isinstance(args[0], int) and not isinstance(args[0], bool):
            values = np.zeros(args[0], self.dtype.numpy)
        else:
            values = np.array(list(args[0]), dtype=self.dtype.numpy)
        super().__init__(values, type(self).dtype)


def _legacy(name, dtype):
    return _LegacyStorageType(name, (_LegacyStorage,), {"dtype": dtype, "__module__": "ember",
                                                        "__qualname__": name})


BFloat16Storage = _legacy("BFloat16Storage", _dtype.bfloat16)
BoolStorage = _legacy("BoolStorage", _dtype.bool_)
ByteStorage = _legacy("ByteStorage", _dtype.uint8)
CharStorage = _legacy("CharStorage", _dtype.int8)
ComplexDoubleStorage = _legacy("ComplexDoubleStorage", _dtype.complex128)
ComplexFloatStorage = _legacy("ComplexFloatStorage", _dtype.complex64)
DoubleStorage = _legacy("DoubleStorage", _dtype.float64)
FloatStorage = _legacy("FloatStorage", _dtype.float32)
HalfStorage = _legacy("HalfStorage", _dtype.float16)
IntStorage = _legacy("IntStorage", _dtype.int32)
LongStorage = _legacy("LongStorage", _dtype.int64)
ShortStorage = _legacy("ShortStorage", _dtype.int16)
Storage = FloatStorage
_LEGACY_BY_DTYPE = {storage.dtype.name: storage for storage in (
    BFloat16Storage, BoolStorage, ByteStorage, CharStorage, ComplexDoubleStorage,
    ComplexFloatStorage, DoubleStorage, FloatStorage, HalfStorage, IntStorage, LongStorage,
    ShortStorage)}


def storage_type(tensor):
    """The legacy storage class of the tensor's dtype (``FloatStorage`` for float32)."""
    return _LEGACY_BY_DTYPE[_dtype.from_numpy_dtype(tensor._data.dtype).name]


def untyped_storage(tensor):
    return UntypedStorage(_root(tensor._data))


def typed_storage(tensor):
    if not _warned[0]:
        _warned[0] = True
        warnings.warn(_TYPED_WARNING, UserWarning, stacklevel=3)
    return TypedStorage(_root(tensor._data), _dtype.from_numpy_dtype(tensor._data.dtype))


def is_storage(value):
    return isinstance(value, (UntypedStorage, TypedStorage))


def elements(storage, numpy_dtype, offset, shape, strides, strides_given=True):
    """A writable NumPy view of ``storage``'s memory as ``numpy_dtype`` elements with the
    geometry (``shape``, ``strides`` and ``offset`` in elements), checked against its size as
    PyTorch's setStorage checks it."""
    itemsize = np.dtype(numpy_dtype).itemsize
    if len(shape) != len(strides):
        raise RuntimeError(f"unequal size length ({len(shape)}) and stride length "
                           f"({len(strides)})")
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    root = storage._root
    needed = 0
    if min(shape, default=1) > 0:
        needed = offset + 1 + sum((length - 1) * step for length, step in zip(shape, strides))
    if needed * itemsize > root.nbytes:
        shown = list(strides) if strides_given else []
        raise RuntimeError(f"setStorage: sizes {list(shape)}, strides {shown}, storage "
                           f"offset {offset}, and itemsize {itemsize} requiring a storage size "
                           f"of {needed * itemsize} are out of bounds for storage of size "
                           f"{root.nbytes}")
    memory = root.reshape(-1, order="A").view(np.uint8)
    return np.ndarray(tuple(shape), numpy_dtype, buffer=memory, offset=offset * itemsize,
                      strides=tuple(step * itemsize for step in strides))
