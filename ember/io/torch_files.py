"""Files written by ``torch.save``, read without torch and without running their pickles.

A torch.save file is a zip archive (``NAME/data.pkl``, a pickle of the object tree whose tensors
point to storages by key, and ``NAME/data/KEY``, each storage's bytes), or, before PyTorch 1.6, a
sequence of pickles followed by the storages. The pickle is read by a restricted unpickler that
knows only data instructions and the globals torch's ``weights_only=True`` unpickler allows
(tensor and parameter rebuild functions, storage types, dtypes, ``torch.Size``, ``torch.device``,
``OrderedDict``, ``Counter``, ``set``, ``complex``, bytes), each implemented here: nothing is
imported or called by name. Any other global or instruction is an ``Unsafe`` error naming it,
unless the user allowed that global (``add_safe_globals``, torch.serialization's API): ember then
calls it as torch does, the user's decision.
"""
import collections
import math
import mmap as mmap_module
import os
import struct
import warnings
import zlib
from typing import NamedTuple

import numpy as np

from .._device import device as ember_device
from .._dtype import _BY_NAME, _QUANTIZED, _SHELL, dtype as _ember_dtype
from ..tensor import Size, Tensor
from .files import MAX_ARRAY_BYTES, MAX_DIMENSIONS, Corrupt, Source, Unsafe, read_into, short
from .locations import Storage, UnknownLocation, restore_array

_MAX_DIRECTORY_BYTES = 256 * 1024 * 1024
_MAX_LINE_BYTES = 4096  # a GLOBAL's module or name
_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
_LEGACY_PROTOCOL = 1001

# torch's canonical dtype names (str(dtype) without 'torch.'); ember holds some of them.
_TORCH_DTYPES = {
    "float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8",
    "bool", "complex32", "complex64", "complex128", "uint16", "uint32", "uint64", "qint8",
    "quint8", "qint32", "quint4x2", "quint2x4", "float8_e4m3fn", "float8_e5m2",
    "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2", "bits1x8",
    "bits2x4", "bits4x2", "bits8", "bits16",
    *(f"int{bits}" for bits in range(1, 8)), *(f"uint{bits}" for bits in range(1, 8))}
_STORAGE_DTYPES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool", "ComplexDoubleStorage": "complex128",
    "ComplexFloatStorage": "complex64", "QUInt8Storage": "quint8", "QInt8Storage": "qint8",
    "QInt32Storage": "qint32", "QUInt4x2Storage": "quint4x2", "QUInt2x4Storage": "quint2x4"}
# The rebuild functions torch allows that ember has no tensors for.
_UNSUPPORTED_REBUILDS = {
    "_rebuild_qtensor": "quantized tensors", "_rebuild_sparse_tensor": "sparse tensors",
    "_rebuild_nested_tensor": "nested tensors", "_rebuild_wrapper_subclass": "tensor subclasses",
    "_rebuild_meta_tensor_no_storage": "meta tensors",
    "_rebuild_device_tensor_from_numpy": "tensors saved from a device without storage",
    "_rebuild_device_tensor_from_cpu_tensor": "tensors saved from a device without storage"}
_QUANTIZATION_SCHEMES = {"per_tensor_affine", "per_tensor_symmetric", "per_channel_affine",
                         "per_channel_symmetric", "per_channel_affine_float_qparams"}
# Module names as Python 2 and PyTorch before 1.8 wrote them.
_MODULE_ALIASES = {"__builtin__": "builtins", "torch.tensor": "torch._tensor"}
_BLOCKED_MODULES = ("sys", "os", "posix", "nt")  # never allowed, even by the user (as torch)
_user_globals = {}  # what add_safe_globals was given -> its "module.qualname"


# ---- the user's allowlist (torch.serialization.add_safe_globals) --------------------------------

def add_safe_globals(safe_globals):
    """Allow these classes or functions in torch.save files (a pair ``(object, "module.name")``
    names one whose own name differs): ember.load then calls them, as torch.load does. Only for
    files you trust."""
    for item in safe_globals:
        if isinstance(item, tuple):
            if len(item) != 2:
                raise ValueError(f"Expected tuple of length 2 (global, str of callable full "
                                 f"path), but got tuple of length: {len(item)}")
            if type(item[1]) is not str:
                raise TypeError(f"Expected second item in tuple to be str of callable full "
                                f"path, but got: {type(item[1])}")
            _user_globals[item] = item[1]
        else:
            _user_globals[item] = f"{item.__module__}.{item.__qualname__}"


def get_safe_globals():
    return list(_user_globals)


def remove_safe_globals(safe_globals):
    for item in safe_globals:
        _user_globals.pop(item, None)


def clear_safe_globals():
    _user_globals.clear()


class safe_globals:
    """``with safe_globals([...]):`` allows those globals inside the block only."""

    def __init__(self, safe_globals):
        self.safe_globals = safe_globals

    def __enter__(self):
        add_safe_globals(self.safe_globals)

    def __exit__(self, *exception):
        remove_safe_globals(self.safe_globals)


def _allowed_by_user():
    """name -> object, from the pairs and objects given to add_safe_globals."""
    return {name: item[0] if isinstance(item, tuple) else item
            for item, name in _user_globals.items()}


def numpy_dtype_for(name):
    """(the NumPy dtype a torch dtype's bytes are stored as, the dtype ember loads it as)."""
    if name == "bfloat16" and "bfloat16" not in _BY_NAME:
        return np.dtype(np.uint16), np.dtype(np.float32)
    found = _BY_NAME.get(name)
    if found is None or found.name != name or found in _QUANTIZED or found in _SHELL:
        raise Corrupt(f"it holds a tensor of dtype torch.{name}, which ember does not have")
    return found.numpy, found.numpy


# ---- zip archives ------------------------------------------------------------------------------

_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_ZIP64_LOCATOR = struct.Struct("<IIQI")
_ZIP64_END = struct.Struct("<IQHHIIQQQQ")


class _Record(NamedTuple):
    """One entry of a zip archive's central directory."""

    name: str
    header_offset: int
    size: int
    crc: int
    compressed_size: int
    method: int
    flags: int


class ZipArchive:
    """The records of a zip archive as torch writes it: uncompressed, unencrypted, one disk.
    Every offset and size is checked against the file before anything is read."""

    def __init__(self, source):
        self.source = source
        self.directory_offset, self.records = self._read_directory()

    def _read_directory(self):
        source = self.source
        if source.size < _END.size:
            raise Corrupt(f"file is {source.size} bytes, too short for a zip archive")
        tail_length = min(source.size, _END.size + 0xFFFF)
        tail_start = source.size - tail_length
        tail = source.read_at(tail_start, tail_length)
        position = tail.rfind(b"PK\x05\x06")
        # The end record (with its comment) ends the file: nothing may follow it.
        while position >= 0 and (position + _END.size > len(tail) or position + _END.size
                                 + _END.unpack_from(tail, position)[7] != len(tail)):
            position = tail.rfind(b"PK\x05\x06", 0, position)
        if position < 0:
            raise Corrupt("zip archive has no end record (truncated?)")
        (_, disk, directory_disk, _, entries, directory_size, directory_offset,
         _) = _END.unpack_from(tail, position)
        directory_end = tail_start + position
        if disk != 0 or directory_disk != 0:
            raise Corrupt("zip archive spans several disks")
        if entries == 0xFFFF or directory_size == 0xFFFFFFFF or directory_offset == 0xFFFFFFFF:
            entries, directory_size, directory_offset, directory_end = self._zip64_end(
                directory_end)
        if directory_offset + directory_size > directory_end:
            raise Corrupt(f"zip directory at {directory_offset} (+{directory_size} bytes) runs "
                          f"past its end record at {directory_end}")
        if directory_size > _MAX_DIRECTORY_BYTES or entries * _CENTRAL_HEADER.size > directory_size:
            raise Corrupt(f"zip directory of {directory_size} bytes cannot hold {entries} records")
        directory = source.read_at(directory_offset, directory_size)
        records = {}
        position = 0
        for _ in range(entries):
            record, position = self._parse_entry(directory, position, directory_offset)
            if record.name in records:
                raise Corrupt(f"zip archive names {record.name!r} twice")
            records[record.name] = record
        return directory_offset, records

    def _zip64_end(self, end_offset):
        if end_offset < _ZIP64_LOCATOR.size:
            raise Corrupt("zip64 archive without its locator")
        signature, _, record_offset, _ = _ZIP64_LOCATOR.unpack(
            self.source.read_at(end_offset - _ZIP64_LOCATOR.size, _ZIP64_LOCATOR.size))
        if signature != 0x07064b50 or record_offset + _ZIP64_END.size > end_offset:
            raise Corrupt("zip64 end locator is invalid")
        (signature, _, _, _, disk, directory_disk, _, entries, directory_size,
         directory_offset) = _ZIP64_END.unpack(self.source.read_at(record_offset, _ZIP64_END.size))
        if signature != 0x06064b50 or disk != 0 or directory_disk != 0:
            raise Corrupt("zip64 end record is invalid")
        return entries, directory_size, directory_offset, record_offset

    @staticmethod
    def _parse_entry(directory, position, directory_offset):
        if position + _CENTRAL_HEADER.size > len(directory):
            raise Corrupt("zip directory ends inside a record")
        (signature, _, _, flags, method, _, _, crc, compressed_size, size, name_length,
         extra_length, comment_length, _, _, _, header_offset) = _CENTRAL_HEADER.unpack_from(
            directory, position)
        if signature != 0x02014b50:
            raise Corrupt(f"zip directory record at byte {directory_offset + position} is invalid")
        name_start = position + _CENTRAL_HEADER.size
        extra_start = name_start + name_length
        end = extra_start + extra_length + comment_length
        if end > len(directory):
            raise Corrupt("zip directory ends inside a record")
        try:
            name = directory[name_start:extra_start].decode("utf-8")
        except UnicodeDecodeError:
            raise Corrupt("zip record name is not UTF-8") from None
        sizes = [size, compressed_size, header_offset]
        if 0xFFFFFFFF in sizes:
            sizes = _zip64_sizes(directory[extra_start:extra_start + extra_length], sizes, name)
        size, compressed_size, header_offset = sizes
        if header_offset + _LOCAL_HEADER.size + compressed_size > directory_offset:
            raise Corrupt(f"zip record {name!r} ({compressed_size} bytes at {header_offset}) "
                          f"runs into the directory at {directory_offset}")
        return _Record(name, header_offset, size, crc, compressed_size, method, flags), end

    def data_offset(self, record):
        """Where the record's bytes start: after its local header, which must agree. Only
        records stored as torch.save writes them can be read (no compression, no bombs)."""
        if record.flags & 0x1:
            raise Corrupt(f"zip record {record.name!r} is encrypted")
        if record.method != 0:
            raise Corrupt(f"zip record {record.name!r} is compressed (method {record.method}); "
                          f"torch.save writes records uncompressed")
        if record.compressed_size != record.size:
            raise Corrupt(f"zip record {record.name!r} is stored but its sizes differ "
                          f"({record.compressed_size} and {record.size})")
        header = self.source.read_at(record.header_offset, _LOCAL_HEADER.size)
        signature, *_, name_length, extra_length = _LOCAL_HEADER.unpack(header)
        start = record.header_offset + _LOCAL_HEADER.size + name_length + extra_length
        name = self.source.read_at(record.header_offset + _LOCAL_HEADER.size, name_length)
        if signature != 0x04034b50 or name != record.name.encode("utf-8"):
            raise Corrupt(f"zip record {record.name!r} has no matching local header")
        if start + record.size > self.directory_offset:
            raise Corrupt(f"zip record {record.name!r} runs into the directory")
        return start

    def read(self, record):
        data = self.source.read_at(self.data_offset(record), record.size)
        _check_crc(record, zlib.crc32(data))
        return data

    def read_into(self, record, view):
        self.source.seek(self.data_offset(record))
        read_into(self.source, view)
        _check_crc(record, zlib.crc32(view))


class PyTorchFileReader:
    """``torch.PyTorchFileReader``: the records of a torch.save archive by name (the archive's
    folder left out), as code that reads checkpoints lazily asks for them."""

    def __init__(self, file):
        if isinstance(file, (str, os.PathLike)):
            file = open(file, "rb")  # noqa: SIM115 (kept open while the reader lives)
        start = file.tell()
        size = file.seek(0, os.SEEK_END) - start
        self._archive = ZipArchive(Source(file, start, size, short(str(file)), None))
        names = list(self._archive.records)
        self._prefix = names[0].split("/", 1)[0] + "/" if names else ""

    def _record(self, name):
        record = self._archive.records.get(self._prefix + name)
        if record is None:
            raise RuntimeError(f"PytorchStreamReader failed locating file {name}: file not "
                               f"found")
        return record

    def get_all_records(self):
        return [name[len(self._prefix):] for name in self._archive.records]

    def has_record(self, name):
        return self._prefix + name in self._archive.records

    def get_record(self, name):
        return self._archive.read(self._record(name))

    def get_record_size(self, name):
        return self._record(name).size

    def get_storage_from_record(self, name, numel, dtype):
        """An empty tensor over a storage of the record's ``numel`` values of ``dtype`` (bytes
        for a storage class), as PyTorch returns it: ``untyped_storage()`` holds the values."""
        numpy_dtype = dtype.numpy if isinstance(dtype, _ember_dtype) else np.dtype(np.uint8)
        array = np.frombuffer(bytearray(self.get_record(name)), dtype=numpy_dtype, count=numel)
        return Tensor._wrap(array)[:0]


def _zip64_sizes(extra, sizes, name):
    """Replace the 0xFFFFFFFF fields (size, compressed size, offset, in that order) from the
    zip64 extra field."""
    position = 0
    while position + 4 <= len(extra):
        block_id, block_length = struct.unpack_from("<HH", extra, position)
        block = extra[position + 4:position + 4 + block_length]
        position += 4 + block_length
        if block_id != 0x0001:
            continue
        values = list(sizes)
        cursor = 0
        for index, value in enumerate(sizes):
            if value == 0xFFFFFFFF:
                if cursor + 8 > len(block):
                    break
                values[index] = struct.unpack_from("<Q", block, cursor)[0]
                cursor += 8
        else:
            return values
    raise Corrupt(f"zip record {name!r} lacks its zip64 sizes")


def _check_crc(record, crc):
    if crc != record.crc:
        raise Corrupt(f"zip record {record.name!r} fails its CRC-32 check (damaged)")


# ---- the restricted unpickler ------------------------------------------------------------------

class _Stream:
    """Sequential reads from a Source (or bytes) up to ``end``, in 64 KiB chunks; a read past
    ``end`` is Corrupt before anything is allocated for it."""

    def __init__(self, source, position, end, data=None):
        self.source = source
        self.position = position
        self.end = end
        self.buffer = data if data is not None else b""
        self.buffer_start = 0 if data is not None else position

    @classmethod
    def of_bytes(cls, data):
        return cls(None, 0, len(data), data)

    def _fill(self, count):
        offset = self.position - self.buffer_start
        if offset + count <= len(self.buffer):
            return offset
        length = min(max(count, 1 << 16), self.end - self.position)
        self.buffer = self.source.read_at(self.position, length)
        self.buffer_start = self.position
        return 0

    def read(self, count):
        if count > self.end - self.position:
            raise Corrupt(f"pickle wants {count} bytes at byte {self.position}, past its end "
                          f"(truncated?)")
        offset = self._fill(count)
        self.position += count
        return self.buffer[offset:offset + count]

    def readline(self):
        offset = self._fill(min(_MAX_LINE_BYTES, self.end - self.position))
        newline = self.buffer.find(b"\n", offset, offset + _MAX_LINE_BYTES)
        if newline < 0:
            raise Corrupt(f"pickle has an unterminated line at byte {self.position}")
        line = self.buffer[offset:newline]
        self.position += newline + 1 - offset
        return line


class _Global:
    """A global that a pickle named and that ember implements: ``call`` for REDUCE, ``new`` for
    NEWOBJ (None where the object cannot be made that way)."""

    __slots__ = ("name", "call", "new")

    def __init__(self, name, call=None, new=None):
        self.name = name
        self.call = call
        self.new = new

    def __repr__(self):
        return self.name


class _UserGlobal(_Global):
    """A global the user allowed (add_safe_globals): called or instantiated as itself, and
    passed as itself where a call takes it as an argument (numpy's ``_reconstruct(ndarray,
    ...)``, a class given to a function), as pickle would."""

    __slots__ = ("allowed",)

    def __init__(self, name, allowed):
        super().__init__(name, lambda *arguments: allowed(*_unwrapped(arguments)),
                         (lambda *arguments: allowed.__new__(allowed, *_unwrapped(arguments)))
                         if isinstance(allowed, type) else None)
        self.allowed = allowed


def _unwrapped(arguments):
    return [argument.allowed if isinstance(argument, _UserGlobal) else argument
            for argument in arguments]


class _StorageType:
    __slots__ = ("dtype_name",)  # None for UntypedStorage (bytes)

    def __init__(self, dtype_name):
        self.dtype_name = dtype_name


class _MissingDtype:
    """A torch dtype that ember lacks: only a bfloat16 storage may use it (loaded as float32)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


class _MapLocationError(Exception):
    """Carries an error of the user's map_location (or of a device it names) out of the
    unpickler, which would otherwise report it as a malformed pickle."""

    def __init__(self, error):
        super().__init__(error)
        self.error = error


class _Unpickler:
    """Python's pickle machine restricted to data: every instruction that would import or call
    something goes through ``globals`` (a dict of _Global) or is refused."""

    def __init__(self, stream, resolve_global, persistent_load, encoding, user_types=()):
        self.stream = stream
        self.resolve_global = resolve_global
        self.persistent_load = persistent_load
        self.encoding = encoding
        self.user_types = user_types
        self.memo = {}
        self.stack = []
        self.metastack = []

    def load(self):
        start = self.stream.position
        try:
            while True:
                opcode = self.stream.read(1)[0]
                handler = _OPCODES.get(opcode)
                if handler is None:
                    _refuse_opcode(opcode, self.stream.position - 1)
                if handler(self):
                    if not self.stack:
                        raise Corrupt("pickle stops with an empty stack")
                    return self.stack.pop()
        except (IndexError, KeyError, TypeError, ValueError, AttributeError, OverflowError,
                struct.error, RecursionError, UnicodeDecodeError) as error:
            raise Corrupt(f"malformed pickle ({type(error).__name__}: {error}) near byte "
                          f"{self.stream.position - start}") from None

    # -- helpers
    def _pop_mark(self):
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def _push(self, value):
        self.stack.append(value)

    def _unpack(self, form):
        return struct.unpack(form, self.stream.read(struct.calcsize(form)))[0]

    def _text(self, length):
        return str(self.stream.read(length), "utf-8", "surrogatepass")

    def _python2_string(self, length):
        data = self.stream.read(length)
        return data if self.encoding == "bytes" else data.decode(self.encoding)

    def _long(self, length):
        if length < 0:
            raise Corrupt("pickle has a negative integer length")
        return int.from_bytes(self.stream.read(length), "little", signed=True)

    # -- instructions: each returns True only for STOP
    def op_proto(self):
        if self.stream.read(1)[0] > 5:
            raise Corrupt("pickle protocol is newer than 5")

    def op_frame(self):
        self.stream.read(8)

    def op_stop(self):
        return True

    def op_mark(self):
        self.metastack.append(self.stack)
        self.stack = []

    def op_pop(self):
        self.stack.pop()

    def op_pop_mark(self):
        self._pop_mark()

    def op_dup(self):
        self._push(self.stack[-1])

    def op_none(self):
        self._push(None)

    def op_true(self):
        self._push(True)

    def op_false(self):
        self._push(False)

    def op_binint(self):
        self._push(self._unpack("<i"))

    def op_binint1(self):
        self._push(self.stream.read(1)[0])

    def op_binint2(self):
        self._push(self._unpack("<H"))

    def op_long1(self):
        self._push(self._long(self.stream.read(1)[0]))

    def op_long4(self):
        self._push(self._long(self._unpack("<i")))

    def op_binfloat(self):
        self._push(self._unpack(">d"))

    def op_binunicode(self):
        self._push(self._text(self._unpack("<I")))

    def op_short_binunicode(self):
        self._push(self._text(self.stream.read(1)[0]))

    def op_binunicode8(self):
        self._push(self._text(self._unpack("<Q")))

    def op_binstring(self):
        length = self._unpack("<i")
        if length < 0:
            raise Corrupt("pickle has a negative string length")
        self._push(self._python2_string(length))

    def op_short_binstring(self):
        self._push(self._python2_string(self.stream.read(1)[0]))

    def op_binbytes(self):
        self._push(self.stream.read(self._unpack("<I")))

    def op_short_binbytes(self):
        self._push(self.stream.read(self.stream.read(1)[0]))

    def op_binbytes8(self):
        self._push(self.stream.read(self._unpack("<Q")))

    def op_bytearray8(self):
        self._push(bytearray(self.stream.read(self._unpack("<Q"))))

    def op_empty_tuple(self):
        self._push(())

    def op_tuple(self):
        self._push(tuple(self._pop_mark()))

    def op_tuple1(self):
        self.stack[-1] = (self.stack[-1],)

    def op_tuple2(self):
        self.stack[-2:] = [(self.stack[-2], self.stack[-1])]

    def op_tuple3(self):
        self.stack[-3:] = [(self.stack[-3], self.stack[-2], self.stack[-1])]

    def op_empty_list(self):
        self._push([])

    def op_list(self):
        self._push(self._pop_mark())

    def op_append(self):
        item = self.stack.pop()
        _require_type(self.stack[-1], (list,), "APPEND")
        self.stack[-1].append(item)

    def op_appends(self):
        items = self._pop_mark()
        _require_type(self.stack[-1], (list,), "APPENDS")
        self.stack[-1].extend(items)

    def op_empty_dict(self):
        self._push({})

    def op_dict(self):
        items = self._pop_mark()
        if len(items) % 2:
            raise Corrupt("pickle builds a dict from an odd number of items")
        self._push({items[index]: items[index + 1] for index in range(0, len(items), 2)})

    def op_setitem(self):
        value = self.stack.pop()
        key = self.stack.pop()
        _require_type(self.stack[-1], _DICT_TYPES, "SETITEM")
        self.stack[-1][key] = value

    def op_setitems(self):
        items = self._pop_mark()
        _require_type(self.stack[-1], _DICT_TYPES, "SETITEMS")
        if len(items) % 2:
            raise Corrupt("pickle sets an odd number of dict items")
        for index in range(0, len(items), 2):
            self.stack[-1][items[index]] = items[index + 1]

    def op_empty_set(self):
        self._push(set())

    def op_additems(self):
        items = self._pop_mark()
        _require_type(self.stack[-1], (set,), "ADDITEMS")
        self.stack[-1].update(items)

    def op_frozenset(self):
        self._push(frozenset(self._pop_mark()))

    def op_binget(self):
        self._push(self.memo[self.stream.read(1)[0]])

    def op_long_binget(self):
        self._push(self.memo[self._unpack("<I")])

    def op_binput(self):
        self.memo[self.stream.read(1)[0]] = self.stack[-1]

    def op_long_binput(self):
        self.memo[self._unpack("<I")] = self.stack[-1]

    def op_memoize(self):
        self.memo[len(self.memo)] = self.stack[-1]

    def op_global(self):
        module = self.stream.readline().decode("utf-8")
        name = self.stream.readline().decode("utf-8")
        self._push(self.resolve_global(module, name))

    def op_stack_global(self):
        name = self.stack.pop()
        module = self.stack.pop()
        if type(module) is not str or type(name) is not str:
            raise Corrupt("pickle's STACK_GLOBAL names are not strings")
        self._push(self.resolve_global(module, name))

    def op_reduce(self):
        arguments = self.stack.pop()
        function = self.stack[-1]
        if not isinstance(function, _Global) or function.call is None:
            raise Unsafe(f"its pickle calls {_describe_callee(function)}, which ember never "
                         f"calls")
        if type(arguments) is not tuple:
            raise Corrupt(f"pickle calls {function.name} with a {type(arguments).__name__}, "
                          f"not a tuple of arguments")
        self.stack[-1] = function.call(*arguments)

    def op_newobj(self):
        arguments = self.stack.pop()
        self._new(self.stack.pop(), arguments, {})

    def op_newobj_ex(self):
        keywords = self.stack.pop()
        arguments = self.stack.pop()
        self._new(self.stack.pop(), arguments, keywords)

    def _new(self, cls, arguments, keywords):
        if not isinstance(cls, _Global) or cls.new is None:
            raise Unsafe(f"its pickle creates an instance of {_describe_callee(cls)}, which "
                         f"ember never creates")
        if type(arguments) is not tuple or type(keywords) is not dict or keywords:
            raise Corrupt(f"pickle creates {cls.name} from malformed arguments")
        self._push(cls.new(*arguments))

    def op_build(self):
        state = self.stack.pop()
        instance = self.stack[-1]
        if type(instance) in self.user_types:
            _build_allowed(instance, state)
            return
        if type(instance) not in (collections.OrderedDict, collections.Counter):
            raise Unsafe(f"its pickle sets the state of a {type(instance).__name__} (BUILD), "
                         f"which ember allows only for OrderedDict and Counter")
        if state is not None:
            set_attributes(instance, state)

    def op_binpersid(self):
        self._push(self.persistent_load(self.stack.pop()))


_DICT_TYPES = (dict, collections.OrderedDict, collections.Counter)

_OPCODES = {
    0x80: _Unpickler.op_proto, 0x95: _Unpickler.op_frame, ord("."): _Unpickler.op_stop,
    ord("("): _Unpickler.op_mark, ord("0"): _Unpickler.op_pop, ord("1"): _Unpickler.op_pop_mark,
    ord("2"): _Unpickler.op_dup, ord("N"): _Unpickler.op_none, 0x88: _Unpickler.op_true,
    0x89: _Unpickler.op_false, ord("J"): _Unpickler.op_binint, ord("K"): _Unpickler.op_binint1,
    ord("M"): _Unpickler.op_binint2, 0x8a: _Unpickler.op_long1, 0x8b: _Unpickler.op_long4,
    ord("G"): _Unpickler.op_binfloat, ord("X"): _Unpickler.op_binunicode,
    0x8c: _Unpickler.op_short_binunicode, 0x8d: _Unpickler.op_binunicode8,
    ord("T"): _Unpickler.op_binstring, ord("U"): _Unpickler.op_short_binstring,
    ord("B"): _Unpickler.op_binbytes, ord("C"): _Unpickler.op_short_binbytes,
    0x8e: _Unpickler.op_binbytes8, 0x96: _Unpickler.op_bytearray8,
    ord(")"): _Unpickler.op_empty_tuple, ord("t"): _Unpickler.op_tuple,
    0x85: _Unpickler.op_tuple1, 0x86: _Unpickler.op_tuple2, 0x87: _Unpickler.op_tuple3,
    ord("]"): _Unpickler.op_empty_list, ord("l"): _Unpickler.op_list,
    ord("a"): _Unpickler.op_append, ord("e"): _Unpickler.op_appends,
    ord("}"): _Unpickler.op_empty_dict, ord("d"): _Unpickler.op_dict,
    ord("s"): _Unpickler.op_setitem, ord("u"): _Unpickler.op_setitems,
    0x8f: _Unpickler.op_empty_set, 0x90: _Unpickler.op_additems, 0x91: _Unpickler.op_frozenset,
    ord("h"): _Unpickler.op_binget, ord("j"): _Unpickler.op_long_binget,
    ord("q"): _Unpickler.op_binput, ord("r"): _Unpickler.op_long_binput,
    0x94: _Unpickler.op_memoize, ord("c"): _Unpickler.op_global,
    0x93: _Unpickler.op_stack_global, ord("R"): _Unpickler.op_reduce,
    0x81: _Unpickler.op_newobj, 0x92: _Unpickler.op_newobj_ex, ord("b"): _Unpickler.op_build,
    ord("Q"): _Unpickler.op_binpersid,
}
# Instructions that build objects of any class, or that ember does not read.
_REFUSED_OPCODES = {ord("i"): "INST", ord("o"): "OBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4",
                    ord("P"): "PERSID", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER"}
_TEXT_OPCODES = {ord("I"): "INT", ord("L"): "LONG", ord("F"): "FLOAT", ord("S"): "STRING",
                 ord("V"): "UNICODE", ord("g"): "GET", ord("p"): "PUT"}


def _refuse_opcode(opcode, position):
    if opcode in _REFUSED_OPCODES:
        raise Unsafe(f"its pickle uses the instruction {_REFUSED_OPCODES[opcode]} (byte "
                     f"{position}), which can build objects of any class; ember never runs it")
    if opcode in _TEXT_OPCODES:
        raise Corrupt(f"its pickle uses the protocol 0 instruction {_TEXT_OPCODES[opcode]}; "
                      f"ember reads pickles of protocol 2 and later (torch.save's default)")
    raise Corrupt(f"pickle has an unknown instruction 0x{opcode:02x} at byte {position}")


def _require_type(target, types, instruction):
    if type(target) not in types:
        raise Unsafe(f"its pickle uses {instruction} on a {type(target).__name__}")


def _describe_callee(value):
    if isinstance(value, _Global):
        return value.name
    return f"a {type(value).__name__}"


def _build_allowed(instance, state):
    """BUILD on an instance of a class the user allowed: pickle's own rules (torch's too)."""
    setstate = getattr(instance, "__setstate__", None)
    if setstate is not None:
        setstate(state)
        return
    slot_state = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slot_state = state
    if state:
        vars(instance).update(state)
    if slot_state:
        for name, value in slot_state.items():
            setattr(instance, name, value)


def set_attributes(instance, state):
    """An OrderedDict's attributes (a state_dict's ``_metadata``) from a saved dict; names that
    would hide a method or a special attribute are refused."""
    if not isinstance(state, dict):
        raise Corrupt(f"attributes of a {type(instance).__name__} are a "
                      f"{type(state).__name__}, not a dict")
    for name in state:
        if type(name) is not str or name.startswith("__") or hasattr(type(instance), name):
            raise Unsafe(f"it sets the attribute {name!r} of a {type(instance).__name__}, "
                         f"which ember refuses (it would hide a method)")
    vars(instance).update(state)


# ---- what torch.save files contain -------------------------------------------------------------

class TorchReader:
    """One torch.save file being read: its globals, storages and tensors."""

    def __init__(self, read_storage, restore, parameter_type, encoding, byteorder):
        self.read_storage = read_storage  # (key, dtype name or None, numel, raw dtype) -> array
        self.restore = restore
        self.parameter_type = parameter_type
        self.encoding = encoding
        self.byteorder = byteorder
        self.storages = {}
        self.untyped_views = {}
        self.converted_bfloat16 = False
        self.globals = self._globals()
        self.user_globals = _allowed_by_user()

    def unpickle(self, stream):
        user_types = {value for value in self.user_globals.values() if isinstance(value, type)}
        try:
            result = _Unpickler(stream, self.resolve_global, self.persistent_load,
                                self.encoding, user_types).load()
        except _MapLocationError as wrapper:
            raise wrapper.error from None
        _check_tree(result)
        return result

    # -- globals
    def _globals(self):
        table = {
            "collections.OrderedDict": _Global(
                "collections.OrderedDict", _container(collections.OrderedDict),
                lambda *arguments: collections.OrderedDict()),
            "collections.Counter": _Global(
                "collections.Counter", _container(collections.Counter),
                lambda *arguments: collections.Counter()),
            "builtins.set": _Global("builtins.set", _container(set), lambda *arguments: set()),
            "builtins.bytearray": _Global("builtins.bytearray", _make_bytearray,
                                          lambda *arguments: bytearray()),
            "builtins.complex": _Global("builtins.complex", _make_complex, _make_complex),
            "_codecs.encode": _Global("_codecs.encode", _encode_latin1),
            "torch.Size": _Global("torch.Size", _make_size, _make_size),
            "torch.device": _Global("torch.device", _make_device, _make_device),
            "torch.Tensor": _Global("torch.Tensor"),
            "torch.nn.parameter.Parameter": _Global(
                "torch.nn.parameter.Parameter", self.make_parameter, self.make_parameter),
            "torch._utils._rebuild_tensor": _Global("torch._utils._rebuild_tensor",
                                                    self.rebuild_tensor),
            "torch._utils._rebuild_tensor_v2": _Global("torch._utils._rebuild_tensor_v2",
                                                       self.rebuild_tensor_v2),
            "torch._utils._rebuild_tensor_v3": _Global("torch._utils._rebuild_tensor_v3",
                                                       self.rebuild_tensor_v3),
            "torch._utils._rebuild_parameter": _Global("torch._utils._rebuild_parameter",
                                                       self.rebuild_parameter),
            "torch._utils._rebuild_parameter_with_state": _Global(
                "torch._utils._rebuild_parameter_with_state", self.rebuild_parameter_with_state),
            "torch._tensor._rebuild_from_type_v2": _Global("torch._tensor._rebuild_from_type_v2",
                                                           self.rebuild_from_type_v2),
        }
        for name, what in _UNSUPPORTED_REBUILDS.items():
            table[f"torch._utils.{name}"] = _Global(f"torch._utils.{name}",
                                                    _unsupported(what))
        table["torch.serialization._get_layout"] = _Global(
            "torch.serialization._get_layout", _unsupported("tensor layouts (sparse tensors)"))
        return table

    def resolve_global(self, module, name):
        module = _MODULE_ALIASES.get(module, module)
        full_name = f"{module}.{name}"
        if module in _BLOCKED_MODULES:
            raise Unsafe(f"its pickle names the global {full_name}, which ember never loads "
                         f"(its module {module} is blocked, even for add_safe_globals)")
        found = self.globals.get(full_name)
        if found is not None:
            return found
        allowed = self.user_globals.get(full_name)
        if allowed is not None:
            return _UserGlobal(full_name, allowed)
        if module == "torch" and name in _TORCH_DTYPES:
            dtype = _BY_NAME.get(name)
            return dtype if dtype is not None and dtype.name == name else _MissingDtype(name)
        if module in ("torch", "torch.cuda") and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if full_name in ("torch.UntypedStorage", "torch.storage.UntypedStorage"):
            return _StorageType(None)
        if module == "torch" and name in _QUANTIZATION_SCHEMES:
            raise Corrupt(f"it holds quantized tensors (torch.{name}), which ember does not "
                          f"have")
        raise Unsafe(f"its pickle names the global {full_name}, which ember never loads: it "
                     f"rebuilds only tensors, storages, dtypes, devices, Size, OrderedDict and "
                     f"plain Python values (a pickle can run any code; ember never does, even "
                     f"with weights_only=False). If you trust this file, allow the global with "
                     f"ember.serialization.add_safe_globals([{full_name}])")

    # -- storages
    def persistent_load(self, saved_id):
        if type(saved_id) is not tuple or not saved_id:
            raise Unsafe(f"its pickle asks for the persistent object {short(saved_id)}; only "
                         f"storages are allowed")
        kind = _ascii(saved_id[0])
        if kind != "storage":
            raise Unsafe(f"its pickle asks for a persistent {kind!r}; only storages are "
                         f"allowed (a 'module' is a whole nn.Module, which ember never loads)")
        if len(saved_id) == 5:
            return self._storage(*saved_id[1:], None)
        if len(saved_id) == 6:
            return self._storage(*saved_id[1:])
        raise Corrupt(f"storage reference has {len(saved_id)} fields")

    def _storage(self, storage_type, key, location, numel, view):
        key = _ascii(key)
        location = _ascii(location)
        if not isinstance(storage_type, _StorageType):
            raise Corrupt(f"storage {key!r} has the type {short(storage_type)}")
        if type(numel) is not int or numel < 0:
            raise Corrupt(f"storage {key!r} has size {short(numel)}")
        if key in self.storages:
            storage, dtype_name, size = self.storages[key]
            if dtype_name != storage_type.dtype_name or size != numel:
                raise Corrupt(f"storage {key!r} is named with two different types or sizes")
        else:
            raw_dtype = np.dtype(np.uint8)
            if storage_type.dtype_name is not None:
                raw_dtype, _ = numpy_dtype_for(storage_type.dtype_name)
            array = self.read_storage(key, storage_type.dtype_name, numel, raw_dtype)
            try:
                storage = Storage(restore_array(self.restore, array, location))
            except UnknownLocation as error:
                if error.tag == location:  # the file's own tag, not one map_location gave
                    raise Corrupt(f"storage {key!r} is tagged with the location "
                                  f"{short(location)}, which names no device "
                                  f"(map_location='cpu' loads it anyway)") from None
                raise _MapLocationError(error) from None
            except Exception as error:
                raise _MapLocationError(error) from None
            self.storages[key] = (storage, storage_type.dtype_name, numel)
        if view is None:
            return storage
        return _storage_view(storage, view, key)

    def decode(self, raw, dtype_name):
        """Bytes of a storage as stored -> the array ember holds: native byte order, bfloat16
        widened to float32, booleans checked."""
        if dtype_name is None:
            return raw
        stored, loaded = numpy_dtype_for(dtype_name)
        array = raw.view(stored.newbyteorder("<" if self.byteorder == "little" else ">"))
        if not array.dtype.isnative:
            array = array.astype(stored)
        if stored != loaded:
            self._note_bfloat16()
            array = (array.astype(np.uint32) << 16).view(np.float32)
        if loaded == np.bool_ and raw.max(initial=0) > 1:
            raise Corrupt("a bool storage holds bytes that are not booleans")
        return array

    def _note_bfloat16(self):
        self.converted_bfloat16 = True

    def warn(self):
        """After loading: say once that bfloat16 became float32 (at the caller of ember.load)."""
        if self.converted_bfloat16:
            warnings.warn("ember.load: bfloat16 tensors are loaded as float32 (exactly: every "
                          "bfloat16 value is a float32 value); ember has no bfloat16 dtype",
                          UserWarning, stacklevel=4)

    # -- tensors
    def rebuild_tensor(self, storage, storage_offset, size, stride):
        return self._tensor(storage, storage_offset, size, stride, False, None, None)

    def rebuild_tensor_v2(self, storage, storage_offset, size, stride, requires_grad,
                          backward_hooks, metadata=None):
        return self._tensor(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                            metadata)

    def rebuild_tensor_v3(self, storage, storage_offset, size, stride, requires_grad,
                          backward_hooks, dtype, metadata=None):
        if not isinstance(storage, Storage):
            raise Corrupt(f"a tensor is rebuilt from a {type(storage).__name__}, not a storage")
        name = dtype.name if isinstance(dtype, (_MissingDtype, _ember_dtype)) else None
        if name not in _TORCH_DTYPES:
            raise Corrupt(f"a tensor has the dtype {short(dtype)}")
        storage = self._retyped(storage, name)
        return self._tensor(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                            metadata)

    def _retyped(self, storage, dtype_name):
        """An UntypedStorage (bytes) seen as ``dtype_name`` (torch's _rebuild_tensor_v3)."""
        if storage.array.dtype != np.uint8:
            stored, loaded = numpy_dtype_for(dtype_name)
            if storage.array.dtype != loaded:
                raise Corrupt(f"a {storage.array.dtype} storage is read as torch.{dtype_name}")
            return storage
        cache_key = (id(storage), dtype_name)
        if cache_key not in self.untyped_views:
            stored, _ = numpy_dtype_for(dtype_name)
            if storage.array.size % stored.itemsize:
                raise Corrupt(f"a storage of {storage.array.size} bytes is not a whole number "
                              f"of torch.{dtype_name} values")
            self.untyped_views[cache_key] = (storage, Storage(self.decode(storage.array,
                                                                          dtype_name)))
        return self.untyped_views[cache_key][1]

    def _tensor(self, storage, storage_offset, size, stride, requires_grad, backward_hooks,
                metadata):
        if not isinstance(storage, Storage):
            raise Corrupt(f"a tensor is rebuilt from a {type(storage).__name__}, not a storage")
        if type(requires_grad) is not bool:
            raise Corrupt(f"a tensor has requires_grad={short(requires_grad)}")
        if not _empty(backward_hooks):
            raise Corrupt("a tensor has backward hooks, which ember does not load")
        if not _empty(metadata):
            raise Corrupt(f"a tensor has metadata {short(metadata)}, which ember does not load")
        array = tensor_view(storage.array, storage_offset, size, stride)
        if requires_grad and array.dtype.kind != "f":
            raise Corrupt(f"a tensor of dtype {array.dtype} requires grad (only floating-point "
                          f"tensors can)")
        return Tensor._wrap(array, requires_grad)

    def rebuild_parameter(self, data, requires_grad, backward_hooks):
        if not _empty(backward_hooks):
            raise Corrupt("a parameter has backward hooks, which ember does not load")
        return self.make_parameter(data, requires_grad)

    def rebuild_parameter_with_state(self, data, requires_grad, backward_hooks, state):
        if not _empty(state):
            raise Corrupt(f"a parameter has Python attributes {short(state)}, which ember "
                          f"tensors cannot hold")
        return self.rebuild_parameter(data, requires_grad, backward_hooks)

    def make_parameter(self, data=None, requires_grad=True):
        if not isinstance(data, Tensor) or type(requires_grad) is not bool:
            raise Corrupt(f"a parameter is made of {short(data)}, requires_grad="
                          f"{short(requires_grad)}")
        if requires_grad and data._data.dtype.kind != "f":
            raise Corrupt(f"a parameter of dtype {data._data.dtype} requires grad (only "
                          f"floating-point tensors can)")
        if self.parameter_type is None:
            return Tensor._wrap(data._data, requires_grad)
        return self.parameter_type(data, requires_grad=requires_grad)

    def rebuild_from_type_v2(self, function, new_type, arguments, state):
        """A tensor of a class (Tensor or Parameter) with Python attributes (``state``)."""
        rebuilds = (self.globals["torch._utils._rebuild_tensor_v2"],
                    self.globals["torch._utils._rebuild_tensor_v3"],
                    self.globals["torch._utils._rebuild_tensor"],
                    self.globals["torch._utils._rebuild_parameter"])
        parameter = self.globals["torch.nn.parameter.Parameter"]
        # Identity, not ==: the pickle's values (tensors) must not be compared.
        if not any(function is rebuild for rebuild in rebuilds) or type(arguments) is not tuple:
            raise Unsafe(f"its pickle rebuilds a tensor with {_describe_callee(function)}")
        if new_type is not self.globals["torch.Tensor"] and new_type is not parameter:
            raise Unsafe(f"its pickle makes a tensor of class {_describe_callee(new_type)}")
        if not (_empty(state) or (type(state) is tuple and len(state) == 2
                                  and _empty(state[0]) and _empty(state[1]))):
            raise Corrupt(f"a tensor has Python attributes {short(state)}, which ember tensors "
                          f"cannot hold")
        result = function.call(*arguments)
        if new_type is parameter and (self.parameter_type is None
                                      or not isinstance(result, self.parameter_type)):
            result = self.make_parameter(result, result.requires_grad)
        return result


def _storage_view(storage, view, key):
    """A slice of a storage (the pre-1.6 format's view_metadata: key, offset, size)."""
    if type(view) is not tuple or len(view) != 3:
        raise Corrupt(f"storage {key!r} has a malformed view {short(view)}")
    _, offset, size = view
    if type(offset) is not int or type(size) is not int or offset < 0 or size < 0 or (
            offset + size > storage.array.size):
        raise Corrupt(f"storage view {short(view)} lies outside its storage of "
                      f"{storage.array.size} elements")
    return Storage(storage.array[offset:offset + size])


def tensor_view(array, storage_offset, size, stride):
    """The tensor that torch's ``set_(storage, offset, size, stride)`` makes, as a view of the
    storage's array. A view that overlaps itself (an expanded tensor) is read-only, as writing
    to one is an error in torch too."""
    if type(storage_offset) is not int or storage_offset < 0:
        raise Corrupt(f"a tensor has storage offset {short(storage_offset)}")
    size = _int_tuple(size, "size")
    stride = _int_tuple(stride, "stride")
    if len(size) != len(stride) or len(size) > MAX_DIMENSIONS:
        raise Corrupt(f"a tensor has size {short(size)} and stride {short(stride)}")
    itemsize = array.itemsize
    if math.prod(max(length, 1) for length in size) * itemsize > MAX_ARRAY_BYTES:
        raise Corrupt(f"a tensor has a size {short(size)} too large for any array")
    if 0 in size:
        if storage_offset > array.size:
            raise Corrupt(f"an empty tensor starts at {storage_offset}, past its storage of "
                          f"{array.size} elements")
        return np.empty(size, dtype=array.dtype)
    extent = storage_offset + 1 + sum((length - 1) * step for length, step in zip(size, stride))
    if extent > array.size:
        raise Corrupt(f"a tensor of size {short(size)}, stride {short(stride)} at offset "
                      f"{storage_offset} needs {extent} elements; its storage has {array.size}")
    base = array[storage_offset:]
    if stride == _contiguous_strides(size):
        return base[:math.prod(size)].reshape(size)
    view = np.lib.stride_tricks.as_strided(
        base, shape=size, strides=tuple(step * itemsize for step in stride),
        writeable=not _overlaps(size, stride))
    return view


def _empty(value):
    """None or an empty dict: no hooks, metadata or attributes."""
    return value is None or (type(value) in (dict, collections.OrderedDict) and not value)


def _int_tuple(value, what):
    if type(value) not in (tuple, list, Size) or not all(
            type(item) is int and item >= 0 for item in value):
        raise Corrupt(f"a tensor has {what} {short(value)}")
    return tuple(value)


def _contiguous_strides(size):
    strides = []
    step = 1
    for length in reversed(size):
        strides.append(step)
        step *= length
    return tuple(reversed(strides))


def _overlaps(size, stride):
    """Whether two indices of the view reach one element (strides sorted, each must step over
    everything the smaller ones span)."""
    span = 1
    for step, length in sorted((step, length) for length, step in zip(size, stride)
                               if length > 1):
        if step < span:
            return True
        span = step * length
    return False


# ---- the plain values torch's allowed globals build --------------------------------------------

def _container(kind):
    def make(*arguments):
        if len(arguments) > 1:
            raise Corrupt(f"{kind.__name__} is made from {len(arguments)} arguments")
        return kind(*arguments)
    return make


def _make_bytearray(*arguments):
    if arguments and (len(arguments) > 2 or not isinstance(arguments[0], (str, bytes))):
        raise Corrupt(f"bytearray is made from {short(arguments)}")
    if len(arguments) == 2:
        return bytearray(_encode_latin1(*arguments))
    return bytearray(*arguments)


def _encode_latin1(text, encoding="utf-8"):
    """``_codecs.encode(text, 'latin1')``, how protocol 2 pickles bytes."""
    if type(text) is not str or type(encoding) is not str or encoding not in ("latin1",
                                                                          "latin-1"):
        raise Unsafe(f"its pickle calls _codecs.encode with {short((text, encoding))}; ember "
                     f"allows it only to make bytes (a str and 'latin1')")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        raise Corrupt("bytes are pickled with characters beyond latin-1") from None


def _make_complex(real=0.0, imaginary=0.0):
    if not all(type(part) in (int, float) for part in (real, imaginary)):
        raise Corrupt(f"complex is made from {short((real, imaginary))}")
    return complex(real, imaginary)


def _make_size(sizes=()):
    if type(sizes) not in (tuple, list) or not all(type(size) is int for size in sizes):
        raise Corrupt(f"torch.Size is made from {short(sizes)}")
    return Size(sizes)


def _make_device(*arguments):
    if not 1 <= len(arguments) <= 2 or type(arguments[0]) is not str or (
            len(arguments) == 2 and arguments[1] is not None and type(arguments[1]) is not int):
        raise Corrupt(f"torch.device is made from {short(arguments)}")
    try:
        return ember_device(*arguments)
    except (RuntimeError, TypeError) as error:
        raise Corrupt(f"torch.device{short(arguments)}: {error}") from None


def _unsupported(what):
    def refuse(*arguments):
        raise Corrupt(f"it holds {what}, which ember does not load")
    return refuse


def _ascii(value):
    if isinstance(value, bytes):  # Python 2 pickles read with encoding='bytes'
        try:
            return value.decode("ascii")
        except UnicodeDecodeError:
            raise Corrupt(f"storage field {short(value)} is not ASCII") from None
    if type(value) is not str:
        raise Corrupt(f"storage field {short(value)} is not a string")
    return value


_INTERNAL = (_Global, _StorageType, _MissingDtype, Storage)


def _check_tree(result):
    """Nothing internal (a global, a storage, a dtype ember lacks) may reach the caller."""
    seen = set()
    pending = [result]
    while pending:
        value = pending.pop()
        if isinstance(value, (list, tuple, set, frozenset, dict)):
            if id(value) in seen:
                continue
            seen.add(id(value))
            if isinstance(value, dict):
                pending.extend(value.keys())
                pending.extend(value.values())
                if hasattr(value, "__dict__"):
                    pending.extend(vars(value).values())
            else:
                pending.extend(value)
        elif isinstance(value, _MissingDtype):
            raise Corrupt(f"it holds the dtype torch.{value.name}, which ember does not have")
        elif isinstance(value, Storage):
            raise Corrupt("it holds a bare storage (not a tensor), which ember does not load")
        elif isinstance(value, _INTERNAL):
            raise Unsafe(f"its pickle returns the global {_describe_callee(value)} itself, "
                         f"which ember never hands out")


# ---- the two file formats ----------------------------------------------------------------------

def load_zip(source, restore, parameter_type, encoding, memory_map):
    """A torch.save file (PyTorch 1.6 and later): the archive's records checked, then the
    pickle read; each storage is read (or mapped) when the pickle first names it."""
    archive = ZipArchive(source)
    names = list(archive.records)
    if not names:
        raise Corrupt("zip archive is empty")
    prefix = names[0].split("/", 1)[0] + "/"
    if f"{prefix}constants.pkl" in archive.records:
        raise Corrupt("it is a TorchScript archive (torch.jit.save), which ember does not load")
    pickle_record = archive.records.get(f"{prefix}data.pkl")
    if pickle_record is None:
        raise Corrupt(f"zip archive has no {prefix}data.pkl: not a torch.save file")
    byteorder = "little"
    byteorder_record = archive.records.get(f"{prefix}byteorder")
    if byteorder_record is not None:
        byteorder = archive.read(byteorder_record).decode("ascii", "replace")
        if byteorder not in ("little", "big"):
            raise Corrupt(f"byteorder record is {byteorder!r}")
    mapped = _map(source) if memory_map else None
    budget = _Budget(source.size)

    def read_storage(key, dtype_name, numel, raw_dtype):
        record = archive.records.get(f"{prefix}data/{key}")
        if record is None:
            raise Corrupt(f"storage {key!r} has no record {prefix}data/{key}")
        if record.size != numel * raw_dtype.itemsize:
            raise Corrupt(f"storage {key!r} of {numel} x {raw_dtype.itemsize} bytes has a "
                          f"record of {record.size} bytes")
        budget.spend(record.size, key)
        if mapped is not None:
            raw = np.frombuffer(mapped, dtype=np.uint8, count=record.size,
                                offset=archive.data_offset(record))
        else:
            raw = np.empty(record.size, dtype=np.uint8)
            archive.read_into(record, memoryview(raw))
        return reader.decode(raw, dtype_name)

    reader = TorchReader(read_storage, restore, parameter_type, encoding, byteorder)
    result = reader.unpickle(_Stream.of_bytes(archive.read(pickle_record)))
    reader.warn()
    return result


class _Budget:
    """The storages' bytes all lie in the file, side by side: together they cannot exceed it
    (records that overlap, or sizes made up, would make ember allocate more than the file)."""

    def __init__(self, size):
        self.left = size

    def spend(self, nbytes, key):
        self.left -= nbytes
        if self.left < 0:
            raise Corrupt(f"storage {key!r} of {nbytes} bytes does not fit in the file with the "
                          f"storages before it")


def _map(source):
    """The whole file mapped copy-on-write: tensors read it lazily, writes stay private."""
    return mmap_module.mmap(source.file.fileno(), 0, access=mmap_module.ACCESS_COPY)


def is_legacy(prefix):
    """Whether ``prefix`` (the first bytes) starts the pre-1.6 format: a pickled magic number."""
    return bytes(prefix[:4]) == b"\x80\x02\x8a\x0a"


def load_legacy(source, restore, parameter_type, encoding):
    """The pre-1.6 format: pickles of the magic number, the version and system information, the
    object tree, the list of storage keys; then each storage's element count and bytes."""
    stream = _Stream(source, 0, source.size)
    pending = {}
    budget = _Budget(source.size)

    def read_storage(key, dtype_name, numel, raw_dtype):
        # The bytes come after the pickles: allocate now (bounded by the file), fill later.
        budget.spend(numel * raw_dtype.itemsize, key)
        _, loaded = numpy_dtype_for(dtype_name) if dtype_name is not None else (None, raw_dtype)
        array = np.empty(numel, dtype=loaded)
        pending[key] = (array, dtype_name, raw_dtype)
        return array

    reader = TorchReader(read_storage, restore, parameter_type, encoding, "little")
    header = [_Unpickler(stream, _no_globals, _no_persistent, encoding).load() for _ in range(3)]
    if header[0] != _LEGACY_MAGIC or header[1] != _LEGACY_PROTOCOL or type(header[2]) is not dict:
        raise Corrupt("it is a pickle but not a torch.save file (ember never loads plain "
                      "pickles: loading a pickle can run code)")
    result = reader.unpickle(stream)
    keys = _Unpickler(stream, _no_globals, _no_persistent, encoding).load()
    if type(keys) is not list:
        raise Corrupt("its list of storages is not a list")
    keys = [_ascii(key) for key in keys]
    if sorted(keys) != sorted(pending):
        raise Corrupt("its list of storages does not match the storages its pickle names")
    position = stream.position
    for key in keys:
        _, dtype_name, raw_dtype = pending[key]
        array = reader.storages[key][0].array  # what map_location returned
        (count,) = struct.unpack("<q", source.read_at(position, 8))
        if count != array.size:
            raise Corrupt(f"storage {key!r} holds {count} elements, its pickle says "
                          f"{array.size}")
        position += 8
        nbytes = count * raw_dtype.itemsize
        if position + nbytes > source.size:
            raise Corrupt(f"storage {key!r} runs past the end of the file (truncated)")
        raw = np.empty(nbytes, dtype=np.uint8)
        source.seek(position)
        read_into(source, memoryview(raw))
        position += nbytes
        # The views made from the array see the data once it is copied in.
        array[...] = reader.decode(raw, dtype_name)
    if position != source.size:
        raise Corrupt(f"{source.size - position} bytes follow the last storage")
    reader.warn()
    return result


def _no_globals(module, name):
    raise Unsafe(f"its header pickle names the global {module}.{name}")


def _no_persistent(saved_id):
    raise Unsafe("its header pickle asks for a persistent object")


def is_tar(prefix):
    return len(prefix) >= 262 and bytes(prefix[257:262]) == b"ustar"

