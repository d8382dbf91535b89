"""Checkpoints without pickle: tensors in a safetensors file, everything else as JSON in its header.

A flat ``{name: Tensor}`` dict (a ``state_dict``) is stored under its own keys, so the file loads
in PyTorch with ``safetensors.torch.load_file``. Any other object tree (optimizer and scheduler
state, epoch, RNG state, ...) goes to the header's ``__metadata__`` as one JSON string in which
every tensor is replaced by a reference to its safetensors name. A CRC-32 over that JSON and every
tensor (name, dtype, shape, bytes) catches corruption; writes are atomic.

``load`` also reads files written by ``torch.save`` (torch_files.py), never running their pickles.

This layer knows tensors and nothing above them: a caller that wants ``nn.Parameter`` entries
marked and rebuilt passes the class as ``parameter_type`` (``ember.save``/``ember.load`` do).
"""
import base64
import collections
import contextlib
import importlib
import json
import math
import operator
import struct
import types
import zlib

import numpy as np
import safetensors.numpy

from .._device import device as _ember_device
from .._dtype import _BY_NAME, _FROM_NUMPY, _QUANTIZED, bfloat16, dtype as _ember_dtype
from .._quantized import QuantizedTensor
from ..tensor import Size, Tensor
from . import torch_files
from .files import (MAX_ARRAY_BYTES, MAX_DIMENSIONS, CheckpointError, Corrupt, Truncated, Unsafe,
                    UnsafeCheckpointError, check_path, is_path, open_source, read_into,
                    save_target, short, write_atomic, write_file_object)
from .locations import restore_array, restorer

_TREE_KEY = "ember"
_CHECKSUM_KEY = "ember.crc32"
_RESERVED_NAME = "__metadata__"
_MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors library's own limit

# safetensors dtype codes <-> NumPy: the dtypes ember tensors can hold, and for NumPy arrays (such
# as np.random.get_state()'s uint32 key) the wider unsigned integers.
_DTYPE_TO_NUMPY = {"BOOL": np.dtype(np.bool_), "U8": np.dtype(np.uint8), "I8": np.dtype(np.int8),
                   "I16": np.dtype("<i2"), "I32": np.dtype("<i4"), "I64": np.dtype("<i8"),
                   "F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "F64": np.dtype("<f8"),
                   "U16": np.dtype("<u2"), "U32": np.dtype("<u4"), "U64": np.dtype("<u8"),
                   "C64": np.dtype("<c8")}
_NUMPY_TO_DTYPE = {value.newbyteorder("="): code for code, value in _DTYPE_TO_NUMPY.items()}
# bfloat16's bits are read as uint16 and viewed as ember's bfloat16 (ml_dtypes, imported only
# when a file holds one).
_DTYPE_TO_NUMPY["BF16"] = np.dtype("<u2")


def _code(numpy_dtype):
    """The safetensors dtype code of an array dtype, or None where there is none."""
    if numpy_dtype.kind == "V" and numpy_dtype.name == "bfloat16":
        return "BF16"
    return _NUMPY_TO_DTYPE.get(numpy_dtype.newbyteorder("="))
_SUPPORTED = ("tensors, NumPy arrays and scalars, dict, OrderedDict, Counter, list, tuple, set, "
              "frozenset, str, bytes, bytearray, int, float, complex, bool, None, ember.Size, "
              "dtypes and devices")


# ---- encoding the object tree ------------------------------------------------------------------
# JSON has no tuples, sets, bytes, non-string keys, NaN or tensors: those become single-purpose
# objects whose keys all start with "$" (a plain dict that has such a key is stored in the "$dict"
# pair form). Containers are stored by exact type, so each comes back as the type it was.

class _Encoder:
    def __init__(self, parameter_type, module_type=None):
        self.parameter_type = parameter_type
        self.module_type = module_type
        self.arrays = {}          # safetensors name -> contiguous array
        self.names_by_id = {}     # id(Tensor or ndarray) -> name (shared tensors are stored once)
        self.keep_alive = []      # the objects whose ids are in names_by_id
        self.inside_module = 0    # how many whole modules enclose the value being encoded

    def encode(self, value, path):
        kind = type(value)
        if value is None or isinstance(value, (bool, str)) or kind is int:
            return value
        if kind is float:
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, Tensor):
            if value.is_sparse:
                raise TypeError(f"ember.save: cannot store a sparse tensor at {_describe(path)}: "
                                f"ember's checkpoints hold strided tensors; save its "
                                f"_indices(), _values() and size instead")
            reference = {"$tensor": self._store(value, value._data, path)}
            if value.requires_grad:
                reference["$requires_grad"] = True
            if self.parameter_type is not None and isinstance(value, self.parameter_type):
                reference["$parameter"] = True
            return reference
        if isinstance(value, np.ndarray):
            return {"$ndarray": self._store(value, value, path)}
        if kind is QuantizedTensor:  # its integers, dtype, scale and zero point
            return {"$qtensor": self._store(value, value._integers, path),
                    "$qdtype": value.dtype.name, "$scale": value.q_scale(),
                    "$zero_point": value.q_zero_point()}
        if isinstance(value, np.generic):
            return self._encode_numpy_scalar(value, path)
        if kind is list:
            return self._encode_items(value, path)
        if kind in _SEQUENCE_MARKERS:
            return {_SEQUENCE_MARKERS[kind]: self._encode_items(value, path)}
        if kind in (dict, collections.OrderedDict, collections.Counter):
            return self._encode_dict(value, path)
        if kind is Size:
            return {"$size": [operator.index(size) for size in value]}
        if kind is complex:
            return {"$complex": [self.encode(value.real, path), self.encode(value.imag, path)]}
        if kind in (bytes, bytearray):
            marker = "$bytes" if kind is bytes else "$bytearray"
            return {marker: base64.b64encode(value).decode("ascii")}
        if isinstance(value, _ember_dtype):
            return {"$dtype": value.name}
        if isinstance(value, _ember_device):
            return {"$device": str(value)}
        if self.module_type is not None and isinstance(value, self.module_type):
            return self._encode_module(value, path)
        if self.inside_module and isinstance(value, _FUNCTION_TYPES):
            return {"$function": _function_reference(value, path)}
        raise _unsupported(value, path)

    def _encode_module(self, module, path):
        """A whole module (torch.save(model)): its class by import path and its attributes as
        data; ``load`` rebuilds it only when asked to (weights_only=False)."""
        cls = type(module)
        if "<locals>" in cls.__qualname__:
            raise TypeError(f"ember.save: cannot store the module at {_describe(path)}: its class "
                            f"{cls.__qualname__} is defined inside a function, so it cannot be "
                            f"found again when loading; save its state_dict() instead")
        state = {}
        self.inside_module += 1
        for key, item in vars(module).items():
            try:
                state[key] = self.encode(item, path + (key,))
            except TypeError as error:
                raise TypeError(f"ember.save: cannot store {cls.__name__}.{key} (a "
                                f"{type(item).__name__}) of the module at {_describe(path)}; "
                                f"save its state_dict() instead ({error})") from None
        self.inside_module -= 1
        return {"$module": f"{cls.__module__}:{cls.__qualname__}", "$state": state}

    def _encode_items(self, value, path):
        return [self.encode(item, path + (str(index),)) for index, item in enumerate(value)]

    def _encode_numpy_scalar(self, value, path):
        if value.dtype not in _NUMPY_TO_DTYPE:
            raise TypeError(f"ember.save: cannot store a NumPy scalar of dtype {value.dtype} at "
                            f"{_describe(path)}")
        return {"$scalar": value.dtype.name, "$value": self.encode(value.item(), path)}

    def _encode_dict(self, value, path):
        plain = all(isinstance(key, str) and not key.startswith("$") for key in value)
        if plain and type(value) is dict:
            return {key: self.encode(item, path + (key,)) for key, item in value.items()}
        pairs = []
        for key, item in value.items():
            if isinstance(key, (Tensor, np.ndarray)):
                raise TypeError(f"ember.save: tensors cannot be dict keys (at {_describe(path)})")
            pairs.append([self.encode(key, path), self.encode(item, path + (str(key),))])
        encoded = {_DICT_MARKERS[type(value)]: pairs}
        attributes = getattr(value, "__dict__", None)
        if attributes:  # a state_dict's _metadata (module versions), as torch.save keeps it
            encoded["$attributes"] = self._encode_dict(dict(attributes), path)
        return encoded

    def _store(self, owner, array, path):
        name = self.names_by_id.get(id(owner))
        if name is not None:
            return name
        if _code(array.dtype) is None:
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


# A whole module's attribute may be a plain function (LSTNet's ``self.output = F.sigmoid``):
# stored by import path like the module's class, and found again only where whole modules load.
_FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType)


def _function_reference(function, path):
    """``module:qualname`` of a function that importing finds again as the same object."""
    module_name = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", "")
    found = None
    if module_name and "<" not in qualname:
        try:
            found = _resolve(module_name, qualname)
        except (ImportError, AttributeError):
            pass
    if found is not function:
        raise TypeError(f"ember.save: cannot store the function {qualname or function!r} at "
                        f"{_describe(path)}: only functions defined at the top level of a module "
                        f"can be found again by name when loading (not lambdas or local "
                        f"functions)")
    return f"{module_name}:{qualname}"


def _resolve(module_name, qualname):
    found = importlib.import_module(module_name)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def _imported(location, what):
    """The object a file names as "module:qualname" (``what`` it is, for the errors)."""
    if not isinstance(location, str) or location.count(":") != 1:
        raise Corrupt(f"bad {what} reference {short(location)}")
    try:
        return _resolve(*location.split(":"))
    except (ImportError, AttributeError) as error:
        raise Corrupt(f"its {what} {location} cannot be found ({error})") from None


_SEQUENCE_MARKERS = {tuple: "$tuple", set: "$set", frozenset: "$frozenset"}
_DICT_MARKERS = {dict: "$dict", collections.OrderedDict: "$odict", collections.Counter: "$counter"}


def _describe(path):
    return "the top level" if not path else "key '" + ".".join(path) + "'"


def _unsupported(value, path):
    """Why ``value`` cannot be saved, and what to save instead."""
    kind = type(value).__name__
    prefix = (f"ember.save: cannot store a value of type '{kind}' at {_describe(path)}: ember "
              f"writes no pickle (loading a pickle can run any code)")
    if callable(getattr(value, "state_dict", None)):
        return TypeError(f"{prefix}, so optimizers, schedulers and other stateful objects cannot "
                         f"be saved whole (modules can); save its state_dict() instead: "
                         f"ember.save(obj.state_dict(), f), and restore it with "
                         f"obj.load_state_dict(ember.load(f))")
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        hint = "; store tuple(value) or value._asdict() instead"
    elif isinstance(value, (dict, list, tuple, set)):
        base = next(base for base in (dict, list, tuple, set) if isinstance(value, base))
        hint = f"; store {base.__name__}(value) instead"
    elif hasattr(value, "__dict__") and not callable(value):
        hint = "; store vars(value), a dict of its attributes, instead"
    else:
        hint = ""
    return TypeError(f"{prefix}{hint}; supported: {_SUPPORTED}")


def _checksum(tree_json, arrays):
    """CRC-32 of the JSON tree and of every tensor's name, dtype, shape and bytes, in name order."""
    crc = zlib.crc32(tree_json.encode("utf-8"))
    for name in sorted(arrays):
        array = arrays[name]
        description = f"{name}\0{_code(array.dtype)}\0{array.shape}\0"
        crc = zlib.crc32(description.encode("utf-8"), crc)
        crc = zlib.crc32(array.reshape(-1).view(np.uint8), crc)
    return f"{crc:08x}"


# ---- decoding: every malformed entry is a Corrupt, never another exception ----------------------

# marker -> (keys it must have, keys it may have)
_MARKER_KEYS = {
    "$tensor": ({"$tensor"}, {"$requires_grad", "$parameter"}), "$ndarray": ({"$ndarray"}, set()),
    "$float": ({"$float"}, set()), "$tuple": ({"$tuple"}, set()), "$set": ({"$set"}, set()),
    "$frozenset": ({"$frozenset"}, set()), "$dict": ({"$dict"}, set()),
    "$odict": ({"$odict"}, {"$attributes"}), "$counter": ({"$counter"}, {"$attributes"}),
    "$scalar": ({"$scalar", "$value"}, set()), "$dtype": ({"$dtype"}, set()),
    "$device": ({"$device"}, set()), "$size": ({"$size"}, set()),
    "$complex": ({"$complex"}, set()), "$bytes": ({"$bytes"}, set()),
    "$bytearray": ({"$bytearray"}, set()), "$module": ({"$module", "$state"}, set()),
    "$function": ({"$function"}, set()),
    "$qtensor": ({"$qtensor", "$qdtype", "$scale", "$zero_point"}, set())}


class _WholeModule(Unsafe):
    """A whole module in a file read without weights_only=False: a valid file, refused."""


class _Decoder:
    def __init__(self, arrays, parameter_type, module_type=None, weights_only=False):
        self.arrays = arrays
        self.parameter_type = parameter_type
        self.module_type = module_type  # None: whole modules are refused
        self.weights_only = weights_only  # torch.load's: NumPy values need allowed globals
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
        required, optional = _MARKER_KEYS.get(kind, (None, None))
        if required is None or not required <= set(value) <= required | optional:
            raise Corrupt(f"unknown entry with keys {sorted(value)}")
        content = value[kind]
        if kind == "$tensor":
            return self._tensor(value)
        if kind == "$module":
            return self._module(content, value["$state"])
        if kind == "$function":
            return self._function(content)
        if kind == "$ndarray":
            array = self._array(content)
            self._check_numpy_allowed(_ARRAY_GLOBALS, array.dtype)
            return array
        if kind == "$qtensor":
            return self._quantized(value)
        if kind == "$float":
            if content not in ("nan", "inf", "-inf"):
                raise Corrupt(f"bad non-finite float {content!r}")
            return float(content)
        if kind in ("$tuple", "$set", "$frozenset"):
            items = [self.decode(item) for item in _list(content, kind)]
            return {"$tuple": tuple, "$set": set, "$frozenset": frozenset}[kind](items)
        if kind == "$scalar":
            scalar = self._scalar(content, self.decode(value["$value"]))
            self._check_numpy_allowed(_SCALAR_GLOBALS, scalar.dtype)
            return scalar
        if kind == "$dtype":
            if not isinstance(content, str) or content not in _BY_NAME:
                raise Corrupt(f"unknown dtype {content!r}")
            return _BY_NAME[content]
        if kind in _VALUE_DECODERS:
            return _VALUE_DECODERS[kind](self.decode(content))
        result = {"$dict": dict, "$odict": collections.OrderedDict,
                  "$counter": collections.Counter}[kind]()
        if "$attributes" in value:
            torch_files.set_attributes(result, self.decode(value["$attributes"]))
        for pair in _list(content, kind):
            if not isinstance(pair, list) or len(pair) != 2:
                raise Corrupt(f"{kind} holds {pair!r}, not a [key, value] pair")
            key = self.decode(pair[0])
            try:
                hash(key)
            except TypeError:
                raise Corrupt(f"{kind} has an unhashable key of type "
                              f"{type(key).__name__}") from None
            result[key] = self.decode(pair[1])
        return result

    def _check_numpy_allowed(self, functions, dtype):
        """NumPy arrays and scalars load as torch.load's weights_only unpickler gives them: with
        weights_only=False, or once the globals its pickle would name are allowed (the first
        missing one is named, as torch does)."""
        if not self.weights_only:
            return
        allowed = torch_files.get_safe_globals()
        for item in (*functions, np.ndarray, np.dtype, type(dtype)):
            if item is None or item in allowed:
                continue
            if item is np.ndarray and functions is _SCALAR_GLOBALS:
                continue
            name = f"{item.__module__}.{item.__qualname__}"
            raise _WholeModule(
                f"holds NumPy values, which load only with weights_only=False or with their "
                f"globals allowed: Weights only load failed. WeightsUnpickler error: "
                f"Unsupported global: GLOBAL {name} was not an allowed global by default. "
                f"Please use `torch.serialization.add_safe_globals([{name}])` or the "
                f"`torch.serialization.safe_globals([{name}])` context manager to allowlist "
                f"this global if you trust this class/function.")

    def _function(self, location):
        """A function a whole module held, imported by name as its class is."""
        if self.module_type is None:
            raise _WholeModule(f"holds a function ({location}), which loads only with "
                               f"weights_only=False: Weights only load failed. Re-running load "
                               f"with `weights_only` set to `False` will import it; do that only "
                               f"if you trust the source of the checkpoint")
        function = _imported(location, "function")
        if not isinstance(function, _FUNCTION_TYPES):
            raise Unsafe(f"{location} is not a function")
        return function

    def _module(self, location, state):
        """A whole module: its class imported by name (it must be an nn.Module subclass) and
        made without calling __init__, its attributes set from the file, as unpickling does."""
        if self.module_type is None:
            raise _WholeModule(f"holds a whole module ({location}), which loads only with "
                               f"weights_only=False: Weights only load failed. Re-running load "
                               f"with `weights_only` set to `False` will rebuild it (it imports "
                               f"the module that defines the class); do that only if you trust "
                               f"the source of the checkpoint, or save and load its "
                               f"state_dict() instead")
        cls = _imported(location, "module class")
        if not isinstance(cls, type) or not issubclass(cls, self.module_type):
            raise Unsafe(f"{location} is not a module class")
        attributes = self.decode(state)
        if not isinstance(attributes, dict):
            raise Corrupt(f"module {location} has no attribute dict")
        module = cls.__new__(cls)
        module.__dict__.update(attributes)
        return module

    def _array(self, name):
        if not isinstance(name, str) or name not in self.arrays:
            raise Corrupt(f"reference to a missing tensor {name!r}")
        return self.arrays[name]

    def _quantized(self, reference):
        array = self._array(reference["$qtensor"])
        dtype = _BY_NAME.get(reference["$qdtype"]) if isinstance(reference["$qdtype"], str) \
            else None
        scale = reference["$scale"]
        zero_point = reference["$zero_point"]
        if dtype not in _QUANTIZED or array.dtype != dtype.storage:
            raise Corrupt(f"quantized tensor {reference['$qtensor']!r} has dtype "
                          f"{reference['$qdtype']!r} over {array.dtype} values")
        if type(scale) is not float or not math.isfinite(scale) or type(zero_point) is not int:
            raise Corrupt(f"quantized tensor {reference['$qtensor']!r} has a bad scale or zero "
                          f"point")
        return QuantizedTensor(array, scale, zero_point, dtype)

    def _tensor(self, reference):
        array = self._array(reference["$tensor"])
        if array.dtype not in _FROM_NUMPY:
            raise Corrupt(f"tensor {reference['$tensor']!r} has dtype {array.dtype}, which ember "
                          f"tensors cannot hold")
        requires_grad = reference.get("$requires_grad", False)
        parameter = reference.get("$parameter", False)
        if type(requires_grad) is not bool or type(parameter) is not bool:
            raise Corrupt(f"tensor {reference['$tensor']!r} has non-boolean flags")
        if requires_grad and array.dtype.kind != "f":
            raise Corrupt(f"tensor {reference['$tensor']!r} of dtype {array.dtype} is marked "
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
            raise Corrupt(f"unsupported scalar dtype {name!r}")
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
            raise Corrupt(f"{short(value)} is not a value of dtype {name}")
        return numpy_dtype.type(value)


_SCALAR_DTYPES = {value.name for value in _NUMPY_TO_DTYPE}
# The functions torch.save's pickle names to rebuild a NumPy array or scalar (numpy._core in
# NumPy 2, numpy.core before it).
_NUMPY_MULTIARRAY = getattr(np, "_core", getattr(np, "core", None)).multiarray
_ARRAY_GLOBALS = (_NUMPY_MULTIARRAY._reconstruct,)
_SCALAR_GLOBALS = (_NUMPY_MULTIARRAY.scalar,)


def _decode_size(content):
    if not isinstance(content, list) or not all(type(size) is int for size in content):
        raise Corrupt(f"$size holds {short(content)}, not a list of integers")
    return Size(content)


def _decode_complex(content):
    if (not isinstance(content, list) or len(content) != 2
            or not all(type(part) in (int, float) for part in content)):
        raise Corrupt(f"$complex holds {short(content)}, not [real, imaginary]")
    return complex(*content)


def _decode_bytes(content):
    if not isinstance(content, str):
        raise Corrupt(f"bytes are stored as a {type(content).__name__}, not base64 text")
    try:
        return base64.b64decode(content.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise Corrupt(f"bytes {short(content)} are not valid base64") from None


def _decode_device(content):
    if not isinstance(content, str):
        raise Corrupt(f"$device holds {short(content)}, not a device string")
    try:
        return _ember_device(content)
    except (RuntimeError, TypeError):
        raise Corrupt(f"$device holds {short(content)}, not a device") from None


_VALUE_DECODERS = {"$size": _decode_size, "$complex": _decode_complex, "$bytes": _decode_bytes,
                   "$bytearray": lambda content: bytearray(_decode_bytes(content)),
                   "$device": _decode_device}


def _list(content, kind):
    if not isinstance(content, list):
        raise Corrupt(f"{kind} holds a {type(content).__name__}, not a list")
    return content


# ---- writing -----------------------------------------------------------------------------------

def save(obj, f, *, parameter_type=None, module_type=None):
    """Write ``obj`` (tensors, arrays and plain Python values in dicts, lists, tuples, sets) to
    ``f``, a path or a binary file object; the object is encoded before anything is written.

    A path is written atomically: a crash at any moment leaves either the previous file or the
    new one. A symlink is written through (its target is replaced), an existing file keeps its
    permissions. Instances of ``parameter_type`` are marked, so ``load`` rebuilds them as that
    class; instances of ``module_type`` (whole modules) are stored by class and attributes.
    """
    if is_path(f):
        target = save_target(check_path(f, "ember.save"), "ember.save")
    elif not hasattr(f, "write"):
        raise AttributeError("expected 'f' to be string, path, or a file-like object with a "
                             "'write' attribute")
    encoder = _Encoder(parameter_type, module_type)
    tree = encoder.encode(obj, ())
    tree_json = json.dumps(tree, separators=(",", ":"), allow_nan=False)
    metadata = {_TREE_KEY: tree_json, _CHECKSUM_KEY: _checksum(tree_json, encoder.arrays)}
    data = safetensors.numpy.save(encoder.arrays, metadata=metadata)
    if is_path(f):
        write_atomic(target, data, "ember.save")
    else:
        write_file_object(f, data, "ember.save")


# ---- reading -----------------------------------------------------------------------------------
# The header is read and checked against the file size before any tensor data; then exactly the
# tensors' bytes are read, each into its own array. No memory map: the checksum reads every byte
# anyway, and a mapped file that another process truncates kills the reader with SIGBUS.

def load(f, *, parameter_type=None, map_location=None, memory_map=False, encoding="utf-8",
         module_type=None, weights_only=False):
    """Read ``f`` (a path or a seekable binary file object): a file written by ``save``, any
    safetensors file (a flat ``{name: Tensor}`` dict), or a file written by ``torch.save``.

    Everything is validated before anything is returned; a bad file raises ``CheckpointError``
    (``UnsafeCheckpointError`` for a pickle that asks for more than data). Entries saved as
    parameters come back as ``parameter_type`` (plain tensors when None). ``map_location`` is
    torch.load's; ``memory_map`` maps a torch.save zip file instead of reading it (ember's own
    files are always read); ``encoding`` decodes Python 2 strings in old torch.save pickles.
    Whole modules in ember's files are rebuilt as subclasses of ``module_type`` when it is
    given, and refused (``UnsafeCheckpointError``) when it is None. ``weights_only`` (torch.load's
    default) refuses NumPy arrays and scalars unless their globals were allowed, as torch does.
    """
    restore = restorer(map_location)
    with _reading(f, "ember.load") as source:
        prefix = source.read_at(0, min(source.size, 512))
        if prefix[:2] == b"PK":
            if memory_map and source.path is None:
                raise ValueError("f must be a file path in order to use the mmap argument")
            return torch_files.load_zip(source, restore, parameter_type, encoding, memory_map)
        if torch_files.is_legacy(prefix):
            if memory_map:
                raise RuntimeError("mmap can only be used with files saved with "
                                   "`torch.save(_use_new_zipfile_serialization=True), please "
                                   "torch.save your checkpoint with this option in order to use "
                                   "mmap.")
            return torch_files.load_legacy(source, restore, parameter_type, encoding)
        if torch_files.is_tar(prefix):
            raise Corrupt("it is a torch.save file of the tar format (PyTorch 0.1-0.3), which "
                          "ember does not load (torch refuses it with weights_only=True too)")
        source.seek(0)
        entries, metadata = _read_header(source)
        arrays = _read_tensors(source, entries)
        if map_location is not None:  # every storage of ember's files is on the CPU
            arrays = {name: restore_array(restore, array.reshape(-1), "cpu").reshape(array.shape)
                      for name, array in arrays.items()}
        return _decode(entries, metadata, arrays, parameter_type, module_type, weights_only)


def read_header(f):
    """The tensors ``{name: (safetensors dtype, shape)}`` and raw metadata of a safetensors file,
    unvalidated beyond the header (``load`` checks the data); reads nothing past the header."""
    with _reading(f, "ember.io.read_header") as source:
        entries, metadata = _read_header(source)
    return {name: (entry["dtype"], tuple(entry["shape"])) for name, entry in entries}, metadata


def list_tensors(f, loaded):
    """``(format, {name: (safetensors dtype, shape)})`` of the tensors in the file ``f``, where
    ``loaded`` is what ``load(f)`` returned: a safetensors file's from its header; a torch.save
    file (format 'torch.save zip' or 'torch.save legacy') has none, so its loaded tensors are
    listed under the names ``save`` would give them."""
    with _reading(f, "ember.io.list_tensors") as source:
        prefix = source.read_at(0, min(source.size, 512))
    if prefix[:2] == b"PK":
        file_format = "torch.save zip"
    elif torch_files.is_legacy(prefix):
        file_format = "torch.save legacy"
    else:
        return "safetensors", read_header(f)[0]
    encoder = _Encoder(None)
    encoder.encode(loaded, ())
    return file_format, {name: (_code(array.dtype), array.shape)
                         for name, array in encoder.arrays.items()}


@contextlib.contextmanager
def _reading(f, operation):
    """Open ``f`` (a regular file by path, or a file object); a malformed or shrinking file
    becomes a CheckpointError that names it."""
    with open_source(f, operation) as source:
        try:
            yield source
        except _WholeModule as error:
            raise UnsafeCheckpointError(f"{operation}: {source.display} {error}") from None
        except Unsafe as error:
            raise UnsafeCheckpointError(f"{operation}: {source.display} is not a valid "
                                        f"checkpoint: {error}") from None
        except Corrupt as error:
            raise CheckpointError(f"{operation}: {source.display} is not a valid checkpoint: "
                                  f"{error}") from None
        except Truncated:
            raise CheckpointError(f"{operation}: {source.display} changed while being "
                                  f"read") from None


def _read_header(source):
    """Read and validate the safetensors header; returns ([(name, entry)] in data order, metadata).

    Checks that the tensors tile the rest of the file exactly before any of it is read.
    """
    size = source.size
    if size < 8:
        raise Corrupt(f"file is {size} bytes, too short for a safetensors header")
    prefix = bytearray(8)
    read_into(source, memoryview(prefix))
    (header_length,) = struct.unpack("<Q", prefix)
    if header_length > min(size - 8, _MAX_HEADER_BYTES):
        _refuse_pickle(prefix)
        raise Corrupt(f"header length {header_length} exceeds the file size {size} "
                      f"(truncated?)")
    header_bytes = bytearray(header_length)
    read_into(source, memoryview(header_bytes))
    try:
        header = json.loads(header_bytes.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        _refuse_pickle(prefix)
        raise Corrupt(f"header is not valid JSON ({error})") from None
    if not isinstance(header, dict):
        raise Corrupt("header is not a JSON object")
    metadata = header.pop(_RESERVED_NAME, None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in metadata.items()):
        raise Corrupt("__metadata__ is not a string-to-string map")
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
            raise Corrupt(f"tensor {name!r} starts at byte {begin}, expected {position}")
        position = end
    if position != data_length:
        raise Corrupt(f"data section is {data_length} bytes but the tensors describe {position}"
                      + (" (truncated)" if data_length < position else ""))
    return entries, metadata


def _unique_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise Corrupt(f"header names {key!r} twice")
        result[key] = value
    return result


def _check_text(text):
    """Names must be valid Unicode: a lone surrogate (legal in JSON escapes) cannot be printed."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Corrupt(f"name {text!r} is not valid Unicode (lone surrogate)") from None


def _refuse_pickle(prefix):
    """A clearer message for a torch.save zip (which read_header does not read) and for a
    pickle (protocol 2 on) that is not torch.save's."""
    if bytes(prefix[:2]) == b"PK":
        raise Corrupt("it is a torch.save file (a zip archive): ember.load reads it, but it has "
                      "no safetensors header")
    if prefix[:1] == b"\x80" and 2 <= prefix[1] <= 5:
        raise Corrupt("it looks like a pickle file (not written by torch.save), which ember "
                      "never loads: loading a pickle can run code")


def _check_entry(name, entry):
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise Corrupt(f"tensor {name!r} has a malformed description")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in _DTYPE_TO_NUMPY:
        raise Corrupt(f"tensor {name!r} has dtype {dtype!r}, which ember cannot hold")
    if not isinstance(shape, list) or not all(type(size) is int and size >= 0 for size in shape):
        raise Corrupt(f"tensor {name!r} has an invalid shape {shape!r}")
    itemsize = _DTYPE_TO_NUMPY[dtype].itemsize
    if len(shape) > MAX_DIMENSIONS:
        raise Corrupt(f"tensor {name!r} has {len(shape)} dimensions, more than "
                      f"{MAX_DIMENSIONS}")
    if math.prod(max(size, 1) for size in shape) * itemsize > MAX_ARRAY_BYTES:
        raise Corrupt(f"tensor {name!r} has a shape {short(shape)} too large for any array")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(type(offset) is int and offset >= 0 for offset in offsets)
            or offsets[0] > offsets[1]):
        raise Corrupt(f"tensor {name!r} has invalid data offsets {short(offsets)}")
    expected = math.prod(shape) * itemsize
    if offsets[1] - offsets[0] != expected:
        raise Corrupt(f"tensor {name!r} of dtype {dtype} and shape {short(shape)} needs "
                      f"{expected} bytes, its offsets span {offsets[1] - offsets[0]}")
    return entry


def _read_tensors(source, entries):
    """Each tensor's bytes into an array of its own (the header was checked against the size)."""
    arrays = {}
    for name, entry in entries:
        stored = _DTYPE_TO_NUMPY[entry["dtype"]]
        array = np.empty(entry["shape"], dtype=stored)
        read_into(source, memoryview(array.reshape(-1).view(np.uint8)))
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        if entry["dtype"] == "BOOL" and array.view(np.uint8).max(initial=0) > 1:
            raise Corrupt(f"tensor {name!r} holds bytes that are not booleans")
        if entry["dtype"] == "BF16":
            array = array.view(bfloat16.numpy)
        arrays[name] = array
    return arrays


def _decode(entries, metadata, arrays, parameter_type, module_type=None, weights_only=False):
    tree_json = metadata.get(_TREE_KEY)
    if tree_json is None and _CHECKSUM_KEY in metadata:
        raise Corrupt(f"metadata has a checksum but no '{_TREE_KEY}' entry")
    if tree_json is None:
        # A plain safetensors file (e.g. from safetensors.torch.save_file): a flat state_dict.
        for name, _ in entries:
            if arrays[name].dtype not in _FROM_NUMPY:
                raise Corrupt(f"tensor {name!r} has dtype {arrays[name].dtype}, which ember "
                              f"tensors cannot hold")
        return {name: Tensor._wrap(arrays[name]) for name, _ in entries}
    checksum = metadata.get(_CHECKSUM_KEY)
    if checksum is None or checksum != _checksum(tree_json, arrays):
        raise Corrupt("checksum mismatch (the file was modified or damaged)")
    try:
        return _Decoder(arrays, parameter_type, module_type, weights_only).decode(
            json.loads(tree_json))
    except (ValueError, TypeError, RecursionError) as error:
        raise Corrupt(f"object tree cannot be decoded ({error})") from None
