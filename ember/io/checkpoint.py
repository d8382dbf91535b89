"""Checkpoints without pickle: tensors in a safetensors file, everything else as JSON in its header.

A flat ``{name: Tensor}`` dict (a ``state_dict``) is stored under its own keys, so the file loads
in PyTorch with ``safetensors.torch.load_file``. Any other object tree (optimizer and scheduler
state, epoch, RNG state, ...) goes to the header's ``__metadata__`` as one JSON string in which
every tensor is replaced by a reference to its safetensors name. A CRC-32 over that JSON and every
tensor (name, dtype, shape, bytes) catches corruption; writes are atomic.
"""
import collections
import json
import math
import os
import secrets
import struct
import zlib

import numpy as np

from .._dtype import _BY_NAME, dtype as _ember_dtype
from ..tensor import Tensor

_TREE_KEY = "ember"
_CHECKSUM_KEY = "ember.crc32"
_RESERVED_NAME = "__metadata__"
_MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors library's own limit
_WRITE_CHUNK_BYTES = 16 * 1024 * 1024

# safetensors dtype codes <-> NumPy; only the dtypes ember tensors can hold.
_DTYPE_TO_NUMPY = {"BOOL": np.dtype(np.bool_), "U8": np.dtype(np.uint8), "I8": np.dtype(np.int8),
                   "I16": np.dtype("<i2"), "I32": np.dtype("<i4"), "I64": np.dtype("<i8"),
                   "F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
_NUMPY_TO_DTYPE = {value.newbyteorder("="): code for code, value in _DTYPE_TO_NUMPY.items()}


class CheckpointError(RuntimeError):
    """A checkpoint file that is missing, truncated, corrupt or not an ember/safetensors file."""


# ---- encoding the object tree ------------------------------------------------------------------
# JSON has no tuples, non-string keys, NaN or tensors: those become single-purpose objects whose
# keys all start with "$" (a plain dict that has such a key is stored in the "$dict" pair form).

class _Encoder:
    def __init__(self):
        self.arrays = {}          # safetensors name -> contiguous array
        self.names_by_id = {}     # id(Tensor or ndarray) -> name (shared tensors are stored once)
        self.keep_alive = []      # the objects whose ids are in names_by_id

    def encode(self, value, path):
        if value is None or isinstance(value, (bool, str)):
            return value
        if type(value) is int:
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, Tensor):
            reference = {"$tensor": self._store(value, value._data, path)}
            if value.requires_grad:
                reference["$requires_grad"] = True
            if type(value).__name__ == "Parameter":
                reference["$parameter"] = True
            return reference
        if isinstance(value, np.ndarray):
            return {"$ndarray": self._store(value, value, path)}
        if isinstance(value, np.generic):
            return self._encode_numpy_scalar(value, path)
        if isinstance(value, list):
            return [self.encode(item, path + (str(index),)) for index, item in enumerate(value)]
        if isinstance(value, tuple):
            return {"$tuple": [self.encode(item, path + (str(index),))
                               for index, item in enumerate(value)]}
        if isinstance(value, dict):
            return self._encode_dict(value, path)
        if isinstance(value, _ember_dtype):
            return {"$dtype": value.name}
        raise TypeError(f"ember.save: cannot store a value of type '{type(value).__name__}' at "
                        f"{_describe(path)}; supported: Tensor, ndarray, dict, list, tuple, str, "
                        f"int, float, bool, None, NumPy scalars and ember dtypes (no pickle)")

    def _encode_numpy_scalar(self, value, path):
        if value.dtype not in _NUMPY_TO_DTYPE:
            raise TypeError(f"ember.save: cannot store a NumPy scalar of dtype {value.dtype} at "
                            f"{_describe(path)}")
        return {"$scalar": value.dtype.name, "$value": self.encode(value.item(), path)}

    def _encode_dict(self, value, path):
        ordered = type(value) is collections.OrderedDict
        plain = all(isinstance(key, str) and not key.startswith("$") for key in value)
        if plain and not ordered:
            return {key: self.encode(item, path + (key,)) for key, item in value.items()}
        pairs = []
        for key, item in value.items():
            if isinstance(key, (Tensor, np.ndarray)):
                raise TypeError(f"ember.save: tensors cannot be dict keys (at {_describe(path)})")
            pairs.append([self.encode(key, path), self.encode(item, path + (str(key),))])
        return {"$odict" if ordered else "$dict": pairs}

    def _store(self, owner, array, path):
        name = self.names_by_id.get(id(owner))
        if name is not None:
            return name
        if array.dtype not in _NUMPY_TO_DTYPE:
            raise TypeError(f"ember.save: cannot store an array of dtype {array.dtype} at "
                            f"{_describe(path)}")
        name = ".".join(path) if path else "tensor"
        if name in self.arrays or name == _RESERVED_NAME:
            suffix = 2
            while f"{name}#{suffix}" in self.arrays:
                suffix += 1
            name = f"{name}#{suffix}"
        # np.ascontiguousarray would turn a 0-d array into 1-d: copy(order="C") keeps the shape.
        contiguous = array if array.flags.c_contiguous else array.copy(order="C")
        self.arrays[name] = contiguous.astype(array.dtype.newbyteorder("<"), copy=False)
        self.names_by_id[id(owner)] = name
        self.keep_alive.append(owner)
        return name


def _describe(path):
    return "the top level" if not path else "key '" + ".".join(path) + "'"


def _checksum(tree_json, arrays):
    """CRC-32 of the JSON tree and of every tensor's name, dtype, shape and bytes, in name order."""
    crc = zlib.crc32(tree_json.encode("utf-8"))
    for name in sorted(arrays):
        array = arrays[name]
        description = f"{name}\0{_NUMPY_TO_DTYPE[array.dtype.newbyteorder('=')]}\0{array.shape}\0"
        crc = zlib.crc32(description.encode("utf-8"), crc)
        crc = zlib.crc32(array.reshape(-1).view(np.uint8), crc)
    return f"{crc:08x}"


class _Decoder:
    def __init__(self, arrays):
        self.arrays = arrays
        self.tensors = {}  # name -> Tensor, so a tensor saved twice comes back as one object

    def decode(self, value):
        if isinstance(value, list):
            return [self.decode(item) for item in value]
        if not isinstance(value, dict):
            return value
        markers = [key for key in value if key.startswith("$")]
        if not markers:
            return {key: self.decode(item) for key, item in value.items()}
        kind = markers[0]
        if kind == "$tensor":
            return self._tensor(value)
        if kind == "$ndarray":
            return self._array(value["$ndarray"])
        if kind == "$float":
            if value["$float"] not in ("nan", "inf", "-inf"):
                raise ValueError(f"bad non-finite float {value['$float']!r}")
            return float(value["$float"])
        if kind == "$tuple":
            return tuple(self.decode(item) for item in value["$tuple"])
        if kind in ("$dict", "$odict"):
            result = collections.OrderedDict() if kind == "$odict" else {}
            for key, item in value[kind]:
                result[self._key(self.decode(key))] = self.decode(item)
            return result
        if kind == "$scalar":
            return np.dtype(_scalar_dtype(value["$scalar"])).type(self.decode(value["$value"]))
        if kind == "$dtype":
            return _BY_NAME[value["$dtype"]]
        raise ValueError(f"unknown entry {kind!r}")

    @staticmethod
    def _key(key):
        hash(key)  # a list or dict key means a corrupt tree: TypeError, reported by the caller
        return key

    def _array(self, name):
        if name not in self.arrays:
            raise ValueError(f"reference to a missing tensor {name!r}")
        return self.arrays[name]

    def _tensor(self, reference):
        name = reference["$tensor"]
        tensor = self.tensors.get(name)
        if tensor is not None:
            return tensor
        array = self._array(name)
        requires_grad = reference.get("$requires_grad", False) is True
        if reference.get("$parameter", False) is True:
            from ..nn.parameter import Parameter
            tensor = Parameter(Tensor._wrap(array), requires_grad=requires_grad)
        else:
            tensor = Tensor._wrap(array, requires_grad)
        self.tensors[name] = tensor
        return tensor


def _scalar_dtype(name):
    dtype = np.dtype(name)
    if dtype not in _NUMPY_TO_DTYPE:
        raise ValueError(f"unsupported scalar dtype {name!r}")
    return dtype


# ---- writing -----------------------------------------------------------------------------------

def save(obj, path):
    """Write ``obj`` (a tensor, or dicts/lists/tuples of tensors and JSON-able values) to ``path``.

    The write is atomic: a crash at any moment leaves either the previous file or the new one.
    """
    path = _check_path(path, "ember.save")
    import safetensors.numpy  # optional dependency: imported only when a checkpoint is written

    encoder = _Encoder()
    tree = encoder.encode(obj, ())
    tree_json = json.dumps(tree, separators=(",", ":"), allow_nan=False)
    metadata = {_TREE_KEY: tree_json, _CHECKSUM_KEY: _checksum(tree_json, encoder.arrays)}
    data = safetensors.numpy.save(encoder.arrays, metadata=metadata)
    _write_atomic(path, data)


def _check_path(path, operation):
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{operation}: expected a file path (str or os.PathLike), "
                        f"got {type(path).__name__}")
    return os.fspath(path)


def _write_chunk(file, chunk):
    """One write call; a seam for the crash-during-save tests."""
    file.write(chunk)


def _write_atomic(path, data):
    """Temporary file in the same directory, fsync, rename over ``path``, fsync the directory."""
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    temporary = os.path.join(directory, f".{base}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # os.open with mode 0o666 lets the umask decide the permissions, like a plain open() would.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(temporary, flags, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            view = memoryview(data)
            for start in range(0, len(view), _WRITE_CHUNK_BYTES):
                _write_chunk(file, view[start:start + _WRITE_CHUNK_BYTES])
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    if os.name != "posix":
        return  # Windows cannot open a directory for fsync; os.replace is already atomic there
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# ---- reading -----------------------------------------------------------------------------------

def load(path):
    """Read a file written by ``save`` (or any safetensors file: a flat ``{name: Tensor}`` dict).

    Everything is validated before anything is returned; a bad file raises ``CheckpointError``.
    """
    path = _check_path(path, "ember.load")
    buffer = _read(path, "ember.load")
    try:
        return _parse(buffer)
    except _Corrupt as error:
        raise CheckpointError(f"ember.load: '{path}' is not a valid checkpoint: {error}") from None


def _read(path, operation):
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            buffer = bytearray(size)
            read = file.readinto(buffer)
    except FileNotFoundError:
        raise CheckpointError(f"{operation}: no such file: '{path}'") from None
    except IsADirectoryError:
        raise CheckpointError(f"{operation}: '{path}' is a directory, not a checkpoint") from None
    except OSError as error:
        raise CheckpointError(f"{operation}: cannot read '{path}': {error.strerror}") from None
    if read != size:
        raise CheckpointError(f"{operation}: '{path}' changed while being read")
    return buffer


class _Corrupt(Exception):
    pass


def read_header(path):
    """The tensors ``{name: (safetensors dtype, shape)}`` and raw metadata of ``path``, unvalidated
    beyond the header (``load`` checks the data)."""
    path = _check_path(path, "ember.io.read_header")
    buffer = _read(path, "ember.io.read_header")
    try:
        entries, metadata, _ = _parse_header(buffer)
    except _Corrupt as error:
        raise CheckpointError(f"ember.io.read_header: '{path}' is not a valid checkpoint: "
                              f"{error}") from None
    return {name: (entry["dtype"], tuple(entry["shape"])) for name, entry in entries}, metadata


def _parse_header(buffer):
    """Validate the safetensors layout; returns ([(name, entry)], metadata, data start)."""
    if len(buffer) < 8:
        raise _Corrupt(f"file is {len(buffer)} bytes, too short for a safetensors header")
    (header_length,) = struct.unpack("<Q", bytes(buffer[:8]))
    if header_length > min(len(buffer) - 8, _MAX_HEADER_BYTES):
        _refuse_pickle(buffer)
        raise _Corrupt(f"header length {header_length} exceeds the file size {len(buffer)} "
                       f"(truncated?)")
    try:
        header = json.loads(bytes(buffer[8:8 + header_length]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        _refuse_pickle(buffer)
        raise _Corrupt(f"header is not valid JSON ({error})") from None
    if not isinstance(header, dict):
        raise _Corrupt("header is not a JSON object")
    metadata = header.pop(_RESERVED_NAME, None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(key, str) and isinstance(value, str)
                                                 for key, value in metadata.items()):
        raise _Corrupt("__metadata__ is not a string-to-string map")
    entries = []
    for name, entry in header.items():
        entries.append((name, _check_entry(name, entry)))
    data_start = 8 + header_length
    data_length = len(buffer) - data_start
    # The tensors tile the data section exactly: no gap, no overlap, nothing after the last one.
    position = 0
    for name, entry in sorted(entries, key=lambda item: item[1]["data_offsets"]):
        begin, end = entry["data_offsets"]
        if begin != position:
            raise _Corrupt(f"tensor '{name}' starts at byte {begin}, expected {position}")
        position = end
    if position != data_length:
        raise _Corrupt(f"data section is {data_length} bytes but the tensors describe {position}"
                       + (" (truncated)" if data_length < position else ""))
    return entries, metadata, data_start


def _refuse_pickle(buffer):
    """A clearer message for torch.save files (a zip archive, or a pickle from protocol 2 on)."""
    if bytes(buffer[:4]) == b"PK\x03\x04" or (buffer[:1] == b"\x80" and 2 <= buffer[1] <= 5):
        raise _Corrupt("it looks like a torch.save/pickle file, which ember never loads (loading "
                       "a pickle can run code); re-save it with safetensors.torch.save_file")


def _check_entry(name, entry):
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise _Corrupt(f"tensor '{name}' has a malformed description")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in _DTYPE_TO_NUMPY:
        raise _Corrupt(f"tensor '{name}' has dtype {dtype!r}, which ember cannot hold")
    if not isinstance(shape, list) or not all(type(size) is int and size >= 0 for size in shape):
        raise _Corrupt(f"tensor '{name}' has an invalid shape {shape!r}")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(type(offset) is int and offset >= 0 for offset in offsets)
            or offsets[0] > offsets[1]):
        raise _Corrupt(f"tensor '{name}' has invalid data offsets {offsets!r}")
    expected = math.prod(shape) * _DTYPE_TO_NUMPY[dtype].itemsize
    if offsets[1] - offsets[0] != expected:
        raise _Corrupt(f"tensor '{name}' of dtype {dtype} and shape {shape} needs {expected} "
                       f"bytes, its offsets span {offsets[1] - offsets[0]}")
    return entry


def _parse(buffer):
    entries, metadata, data_start = _parse_header(buffer)
    arrays = {}
    for name, entry in entries:
        begin, end = entry["data_offsets"]
        numpy_dtype = _DTYPE_TO_NUMPY[entry["dtype"]]
        count = (end - begin) // numpy_dtype.itemsize
        array = np.frombuffer(buffer, dtype=numpy_dtype, count=count, offset=data_start + begin)
        array = array.reshape(entry["shape"])
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        if entry["dtype"] == "BOOL" and array.view(np.uint8).max(initial=0) > 1:
            raise _Corrupt(f"tensor '{name}' holds bytes that are not booleans")
        arrays[name] = array
    tree_json = metadata.get(_TREE_KEY)
    if tree_json is None and _CHECKSUM_KEY in metadata:
        raise _Corrupt(f"metadata has a checksum but no '{_TREE_KEY}' entry")
    if tree_json is None:
        # A plain safetensors file (e.g. from safetensors.torch.save_file): a flat state_dict.
        return {name: Tensor._wrap(arrays[name]) for name, _ in entries}
    checksum = metadata.get(_CHECKSUM_KEY)
    if checksum is None or checksum != _checksum(tree_json, arrays):
        raise _Corrupt("checksum mismatch (the file was modified or damaged)")
    try:
        tree = json.loads(tree_json)
        return _Decoder(arrays).decode(tree)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as error:
        raise _Corrupt(f"object tree cannot be decoded ({error})") from None
