"""Checkpoints without pickle: tensors in a safetensors file, everything else as JSON in its header.

A flat ``{name: Tensor}`` dict (a ``state_dict``) is stored under its own keys, so the file loads
in PyTorch with ``safetensors.torch.load_file``. Any other object tree (optimizer and scheduler
state, epoch, RNG state, ...) goes to the header's ``__metadata__`` as one JSON string in which
every tensor is replaced by a reference to its safetensors name. A CRC-32 over that JSON and every
tensor (name, dtype, shape, bytes) catches corruption; writes are atomic.

This layer knows tensors and nothing above them: a caller that wants ``nn.Parameter`` entries
marked and rebuilt passes the class as ``parameter_type`` (``ember.save``/``ember.load`` do).
"""
import collections
import contextlib
import json
import math
import struct
import zlib

import numpy as np
import safetensors.numpy

from .._dtype import _BY_NAME, dtype as _ember_dtype
from ..tensor import Tensor
from .files import (CheckpointError, Truncated, check_path, open_regular, read_into, save_target,
                    write_atomic)

_TREE_KEY = "ember"
_CHECKSUM_KEY = "ember.crc32"
_RESERVED_NAME = "__metadata__"
_MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors library's own limit
_MAX_DIMENSIONS = 64  # NumPy's limit
_MAX_ARRAY_BYTES = 2 ** 63 - 1  # NumPy's: the product of the non-zero sizes times the itemsize

# safetensors dtype codes <-> NumPy; only the dtypes ember tensors can hold.
_DTYPE_TO_NUMPY = {"BOOL": np.dtype(np.bool_), "U8": np.dtype(np.uint8), "I8": np.dtype(np.int8),
                   "I16": np.dtype("<i2"), "I32": np.dtype("<i4"), "I64": np.dtype("<i8"),
                   "F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
_NUMPY_TO_DTYPE = {value.newbyteorder("="): code for code, value in _DTYPE_TO_NUMPY.items()}


# ---- encoding the object tree ------------------------------------------------------------------
# JSON has no tuples, non-string keys, NaN or tensors: those become single-purpose objects whose
# keys all start with "$" (a plain dict that has such a key is stored in the "$dict" pair form).

class _Encoder:
    def __init__(self, parameter_type):
        self.parameter_type = parameter_type
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
            if self.parameter_type is not None and isinstance(value, self.parameter_type):
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


# ---- decoding: every malformed entry is a _Corrupt, never another exception ---------------------

class _Corrupt(Exception):
    pass


_MARKER_KEYS = {"$tensor": {"$tensor", "$requires_grad", "$parameter"}, "$ndarray": {"$ndarray"},
                "$float": {"$float"}, "$tuple": {"$tuple"}, "$dict": {"$dict"},
                "$odict": {"$odict"}, "$scalar": {"$scalar", "$value"}, "$dtype": {"$dtype"}}


class _Decoder:
    def __init__(self, arrays, parameter_type):
        self.arrays = arrays
        self.parameter_type = parameter_type
        self.tensors = {}  # name -> Tensor, so a tensor saved twice comes back as one object

    def decode(self, value):
        if isinstance(value, list):
            return [self.decode(item) for item in value]
        if not isinstance(value, dict):
            return value
        markers = [key for key in value if key.startswith("$")]
        if not markers:
            return {key: self.decode(item) for key, item in value.items()}
        kind = next((key for key in markers if key in _MARKER_KEYS), markers[0])
        if kind not in _MARKER_KEYS or not set(value) <= _MARKER_KEYS[kind] or (
                kind != "$tensor" and set(value) != _MARKER_KEYS[kind]):
            raise _Corrupt(f"unknown entry with keys {sorted(value)}")
        content = value[kind]
        if kind == "$tensor":
            return self._tensor(value)
        if kind == "$ndarray":
            return self._array(content)
        if kind == "$float":
            if content not in ("nan", "inf", "-inf"):
                raise _Corrupt(f"bad non-finite float {content!r}")
            return float(content)
        if kind == "$tuple":
            return tuple(self.decode(item) for item in _list(content, kind))
        if kind == "$scalar":
            return self._scalar(content, self.decode(value["$value"]))
        if kind == "$dtype":
            if not isinstance(content, str) or content not in _BY_NAME:
                raise _Corrupt(f"unknown dtype {content!r}")
            return _BY_NAME[content]
        result = collections.OrderedDict() if kind == "$odict" else {}
        for pair in _list(content, kind):
            if not isinstance(pair, list) or len(pair) != 2:
                raise _Corrupt(f"{kind} holds {pair!r}, not a [key, value] pair")
            key = self.decode(pair[0])
            try:
                hash(key)
            except TypeError:
                raise _Corrupt(f"{kind} has an unhashable key of type "
                               f"{type(key).__name__}") from None
            result[key] = self.decode(pair[1])
        return result

    def _array(self, name):
        if not isinstance(name, str) or name not in self.arrays:
            raise _Corrupt(f"reference to a missing tensor {name!r}")
        return self.arrays[name]

    def _tensor(self, reference):
        array = self._array(reference["$tensor"])
        requires_grad = reference.get("$requires_grad", False)
        parameter = reference.get("$parameter", False)
        if type(requires_grad) is not bool or type(parameter) is not bool:
            raise _Corrupt(f"tensor {reference['$tensor']!r} has non-boolean flags")
        if requires_grad and array.dtype.kind != "f":
            raise _Corrupt(f"tensor {reference['$tensor']!r} of dtype {array.dtype} is marked "
                           f"requires_grad (only floating-point tensors can require gradients)")
        tensor = self.tensors.get(reference["$tensor"])
        if tensor is not None:
            return tensor
        if parameter and self.parameter_type is not None:
            tensor = self.parameter_type(Tensor._wrap(array), requires_grad=requires_grad)
        else:
            tensor = Tensor._wrap(array, requires_grad)
        self.tensors[reference["$tensor"]] = tensor
        return tensor

    @staticmethod
    def _scalar(name, value):
        numpy_dtype = np.dtype(name) if isinstance(name, str) and name in _SCALAR_DTYPES else None
        if numpy_dtype is None:
            raise _Corrupt(f"unsupported scalar dtype {name!r}")
        if numpy_dtype.kind == "b":
            valid = type(value) is bool
        elif numpy_dtype.kind in "iu":
            limits = np.iinfo(numpy_dtype)
            valid = type(value) is int and limits.min <= value <= limits.max
        else:
            # abs(int) <= float compares exactly; math.isfinite of a huge int would overflow.
            valid = type(value) in (int, float) and (
                (type(value) is float and not math.isfinite(value))
                or abs(value) <= float(np.finfo(numpy_dtype).max))
        if not valid:
            raise _Corrupt(f"{_short(value)} is not a value of dtype {name}")
        return numpy_dtype.type(value)


_SCALAR_DTYPES = {value.name for value in _NUMPY_TO_DTYPE}


def _list(content, kind):
    if not isinstance(content, list):
        raise _Corrupt(f"{kind} holds a {type(content).__name__}, not a list")
    return content


# ---- writing -----------------------------------------------------------------------------------

def save(obj, path, *, parameter_type=None):
    """Write ``obj`` (a tensor, or dicts/lists/tuples of tensors and JSON-able values) to ``path``.

    The write is atomic: a crash at any moment leaves either the previous file or the new one. A
    symlink is written through (its target is replaced), an existing file keeps its permissions.
    Instances of ``parameter_type`` are marked, so ``load`` rebuilds them as that class.
    """
    target = save_target(check_path(path, "ember.save"), "ember.save")
    encoder = _Encoder(parameter_type)
    tree = encoder.encode(obj, ())
    tree_json = json.dumps(tree, separators=(",", ":"), allow_nan=False)
    metadata = {_TREE_KEY: tree_json, _CHECKSUM_KEY: _checksum(tree_json, encoder.arrays)}
    data = safetensors.numpy.save(encoder.arrays, metadata=metadata)
    write_atomic(target, data, "ember.save")


# ---- reading -----------------------------------------------------------------------------------
# The header is read and checked against the file size before any tensor data; then exactly the
# tensors' bytes are read, each into its own array. No memory map: the checksum reads every byte
# anyway, and a mapped file that another process truncates kills the reader with SIGBUS.

def load(path, *, parameter_type=None):
    """Read a file written by ``save`` (or any safetensors file: a flat ``{name: Tensor}`` dict).

    Everything is validated before anything is returned; a bad file raises ``CheckpointError``.
    Entries saved as parameters come back as ``parameter_type`` (plain tensors when None).
    """
    with _reading(path, "ember.load") as (file, size):
        entries, metadata = _read_header(file, size)
        return _decode(entries, metadata, _read_tensors(file, entries), parameter_type)


def read_header(path):
    """The tensors ``{name: (safetensors dtype, shape)}`` and raw metadata of ``path``, unvalidated
    beyond the header (``load`` checks the data); reads nothing past the header."""
    with _reading(path, "ember.io.read_header") as (file, size):
        entries, metadata = _read_header(file, size)
    return {name: (entry["dtype"], tuple(entry["shape"])) for name, entry in entries}, metadata


@contextlib.contextmanager
def _reading(path, operation):
    """Open ``path`` as a regular file; a malformed or shrinking file becomes a CheckpointError
    that names it."""
    display = check_path(path, operation)
    with open_regular(display, operation) as (file, size):
        try:
            yield file, size
        except _Corrupt as error:
            raise CheckpointError(f"{operation}: '{display}' is not a valid checkpoint: "
                                  f"{error}") from None
        except Truncated:
            raise CheckpointError(f"{operation}: '{display}' changed while being read") from None


def _read_header(file, size):
    """Read and validate the safetensors header; returns ([(name, entry)] in data order, metadata).

    Checks that the tensors tile the rest of the file exactly before any of it is read.
    """
    if size < 8:
        raise _Corrupt(f"file is {size} bytes, too short for a safetensors header")
    prefix = bytearray(8)
    read_into(file, memoryview(prefix))
    (header_length,) = struct.unpack("<Q", prefix)
    if header_length > min(size - 8, _MAX_HEADER_BYTES):
        _refuse_pickle(prefix)
        raise _Corrupt(f"header length {header_length} exceeds the file size {size} "
                       f"(truncated?)")
    header_bytes = bytearray(header_length)
    read_into(file, memoryview(header_bytes))
    try:
        header = json.loads(header_bytes.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        _refuse_pickle(prefix)
        raise _Corrupt(f"header is not valid JSON ({error})") from None
    if not isinstance(header, dict):
        raise _Corrupt("header is not a JSON object")
    metadata = header.pop(_RESERVED_NAME, None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in metadata.items()):
        raise _Corrupt("__metadata__ is not a string-to-string map")
    for text in [*metadata, *metadata.values(), *header]:
        _check_text(text)
    entries = sorted(((name, _check_entry(name, entry)) for name, entry in header.items()),
                     key=lambda item: item[1]["data_offsets"])
    # The tensors tile the data section exactly: no gap, no overlap, nothing after the last one.
    data_length = size - 8 - header_length
    position = 0
    for name, entry in entries:
        begin, end = entry["data_offsets"]
        if begin != position:
            raise _Corrupt(f"tensor {name!r} starts at byte {begin}, expected {position}")
        position = end
    if position != data_length:
        raise _Corrupt(f"data section is {data_length} bytes but the tensors describe {position}"
                       + (" (truncated)" if data_length < position else ""))
    return entries, metadata


def _unique_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise _Corrupt(f"header names {key!r} twice")
        result[key] = value
    return result


def _check_text(text):
    """Names must be valid Unicode: a lone surrogate (legal in JSON escapes) cannot be printed."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Corrupt(f"name {text!r} is not valid Unicode (lone surrogate)") from None


def _refuse_pickle(prefix):
    """A clearer message for torch.save files (a zip archive, or a pickle from protocol 2 on)."""
    if bytes(prefix[:4]) == b"PK\x03\x04" or (prefix[:1] == b"\x80" and 2 <= prefix[1] <= 5):
        raise _Corrupt("it looks like a torch.save/pickle file, which ember never loads (loading "
                       "a pickle can run code); re-save it with safetensors.torch.save_file")


def _check_entry(name, entry):
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise _Corrupt(f"tensor {name!r} has a malformed description")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in _DTYPE_TO_NUMPY:
        raise _Corrupt(f"tensor {name!r} has dtype {dtype!r}, which ember cannot hold")
    if not isinstance(shape, list) or not all(type(size) is int and size >= 0 for size in shape):
        raise _Corrupt(f"tensor {name!r} has an invalid shape {shape!r}")
    itemsize = _DTYPE_TO_NUMPY[dtype].itemsize
    if len(shape) > _MAX_DIMENSIONS:
        raise _Corrupt(f"tensor {name!r} has {len(shape)} dimensions, more than "
                       f"{_MAX_DIMENSIONS}")
    if math.prod(max(size, 1) for size in shape) * itemsize > _MAX_ARRAY_BYTES:
        raise _Corrupt(f"tensor {name!r} has a shape {_short(shape)} too large for any array")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(type(offset) is int and offset >= 0 for offset in offsets)
            or offsets[0] > offsets[1]):
        raise _Corrupt(f"tensor {name!r} has invalid data offsets {_short(offsets)}")
    expected = math.prod(shape) * itemsize
    if offsets[1] - offsets[0] != expected:
        raise _Corrupt(f"tensor {name!r} of dtype {dtype} and shape {_short(shape)} needs "
                       f"{expected} bytes, its offsets span {offsets[1] - offsets[0]}")
    return entry


def _short(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _read_tensors(file, entries):
    """Each tensor's bytes into an array of its own (the header was checked against the size)."""
    arrays = {}
    for name, entry in entries:
        stored = _DTYPE_TO_NUMPY[entry["dtype"]]
        array = np.empty(entry["shape"], dtype=stored)
        read_into(file, memoryview(array.reshape(-1).view(np.uint8)))
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        if entry["dtype"] == "BOOL" and array.view(np.uint8).max(initial=0) > 1:
            raise _Corrupt(f"tensor {name!r} holds bytes that are not booleans")
        arrays[name] = array
    return arrays


def _decode(entries, metadata, arrays, parameter_type):
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
        return _Decoder(arrays, parameter_type).decode(json.loads(tree_json))
    except (ValueError, TypeError, RecursionError) as error:
        raise _Corrupt(f"object tree cannot be decoded ({error})") from None
