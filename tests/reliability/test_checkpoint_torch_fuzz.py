"""torch.save-format files crafted by hand (no torch needed): every malicious pickle is refused
with UnsafeCheckpointError and runs nothing, every malformed pickle or zip is a CheckpointError,
and nothing else ever escapes ember.load.

Pickles are assembled opcode by opcode (as torch.save writes them, protocol 2), archives with
zipfile (stored records, as torch writes them). Where torch is installed, the crafted files that
torch can read are compared with torch.load (location tags, big-endian data, old format).
"""
import collections
import functools
import io
import os
import pickle
import struct
import sys
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from ember.io import CheckpointError, UnsafeCheckpointError

SEED = 20240614


# ---- a pickle assembler ------------------------------------------------------------------------

def glob(module, name):
    return b"c" + f"{module}\n{name}\n".encode()


def text(value):
    data = value.encode("utf-8", "surrogatepass")
    return b"X" + struct.pack("<I", len(data)) + data


def integer(value):
    return b"J" + struct.pack("<i", value) if -2 ** 31 <= value < 2 ** 31 else (
        b"\x8a" + bytes([8]) + value.to_bytes(8, "little", signed=True))


def tup(*parts):
    return b"(" + b"".join(parts) + b"t"


def call(function, *arguments):
    return function + tup(*arguments) + b"R"


def dictionary(*pairs):
    return b"}(" + b"".join(key + value for key, value in pairs) + b"u"


def ordered_dict():
    return call(glob("collections", "OrderedDict"))


def storage(key, numel, kind="FloatStorage", location="cpu"):
    return tup(text("storage"), glob("torch", kind), text(key), text(location),
               integer(numel)) + b"Q"


def tensor(key, numel, offset, size, stride, kind="FloatStorage", requires_grad=False,
           location="cpu", hooks=None, rebuild="_rebuild_tensor_v2"):
    return call(glob("torch._utils", rebuild), storage(key, numel, kind, location),
                integer(offset), tup(*map(integer, size)), tup(*map(integer, stride)),
                b"\x88" if requires_grad else b"\x89", hooks or ordered_dict())


def program(body):
    return b"\x80\x02" + body + b"."


def archive(pickle_bytes, records=None, byteorder=b"little", name="archive",
            compression=zipfile.ZIP_STORED):
    """A torch.save-style zip: data.pkl, byteorder, then each storage record."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as file:
        file.writestr(f"{name}/data.pkl", pickle_bytes)
        if byteorder is not None:
            file.writestr(f"{name}/byteorder", byteorder)
        for key, data in (records or {}).items():
            file.writestr(f"{name}/data/{key}", data)
        file.writestr(f"{name}/version", b"3\n")
    return buffer.getvalue()


def floats(*values, order="<"):
    return np.array(values, dtype=np.dtype("float32").newbyteorder(order)).tobytes()


def _valid_checkpoint():
    """{'w': 2x3 view at offset 1 of a 7-float storage, 'b': the same storage's first two,
    'steps': int64 scalar, 'meta': plain values} and its expected content."""
    body = dictionary(
        (text("w"), tensor("0", 7, 1, (2, 3), (3, 1))),
        (text("b"), tensor("0", 7, 0, (2,), (1,))),
        (text("t"), tensor("0", 7, 1, (3, 2), (1, 3))),
        (text("steps"), tensor("1", 1, 0, (), (), kind="LongStorage")),
        (text("meta"), dictionary((integer(0), tup(text("a"), integer(-5))),
                                  (text("lr"), b"G" + struct.pack(">d", 0.5)))))
    records = {"0": floats(0, 1, 2, 3, 4, 5, 6), "1": np.array([9], "<i8").tobytes()}
    return archive(program(body), records)


def _check_valid(loaded):
    assert loaded["w"].tolist() == [[1, 2, 3], [4, 5, 6]]
    assert loaded["b"].tolist() == [0, 1]
    assert loaded["t"].tolist() == [[1, 4], [2, 5], [3, 6]]
    assert loaded["steps"].dtype is ember.int64 and loaded["steps"].item() == 9
    assert loaded["meta"] == {0: ("a", -5), "lr": 0.5}


def _load_bytes(tmp_path, data, name="crafted.pt", **options):
    path = tmp_path / name
    path.write_bytes(data)
    return ember.load(path, **options)


def test_the_crafted_checkpoint_loads(tmp_path):
    _check_valid(_load_bytes(tmp_path, _valid_checkpoint()))
    loaded = ember.load(io.BytesIO(_valid_checkpoint()))
    _check_valid(loaded)
    loaded["w"].zero_()  # one storage: the views see it
    assert loaded["b"].tolist() == [0, 0] and loaded["t"].tolist() == [[0, 0]] * 3


def test_zip64_archives_load(tmp_path, monkeypatch):
    # torch writes zip64 records past 4 GiB; zipfile writes them for any size past its limit.
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 10)
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 2)
    data = _valid_checkpoint()
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data  # zip64 end record and locator
    _check_valid(_load_bytes(tmp_path, data))
    for length in range(len(data) - 120, len(data)):  # the zip64 end records, cut anywhere
        with pytest.raises(CheckpointError):
            _load_bytes(tmp_path, data[:length])


def test_the_crafted_checkpoint_loads_in_torch_as_in_ember(torch, tmp_path):
    path = tmp_path / "crafted.pt"
    path.write_bytes(_valid_checkpoint())
    expected = torch.load(str(path), weights_only=True)
    loaded = ember.load(path)
    for key in ("w", "b", "t", "steps"):
        assert loaded[key].tolist() == expected[key].tolist()
    assert loaded["meta"] == expected["meta"]


def test_big_endian_records_are_swapped(tmp_path, torch_if_present):
    body = dictionary((text("w"), tensor("0", 3, 0, (3,), (1,))),
                      (text("i"), tensor("1", 2, 0, (2,), (1,), kind="ShortStorage")))
    data = archive(program(body), {"0": floats(1.5, -2, 2.0 ** 30, order=">"),
                                   "1": np.array([-3, 258], ">i2").tobytes()}, byteorder=b"big")
    loaded = _load_bytes(tmp_path, data)
    assert loaded["w"].tolist() == [1.5, -2.0, 2.0 ** 30] and loaded["i"].tolist() == [-3, 258]
    if torch_if_present is not None:
        expected = torch_if_present.load(str(tmp_path / "crafted.pt"), weights_only=True)
        assert expected["w"].tolist() == loaded["w"].tolist()
        assert expected["i"].tolist() == loaded["i"].tolist()


@pytest.fixture
def torch_if_present():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _cuda_checkpoint():
    body = dictionary((text("w"), tensor("0", 2, 0, (2,), (1,), location="cuda:1")))
    return archive(program(body), {"0": floats(1, 2)})


def test_storages_tagged_with_a_gpu_need_map_location(tmp_path, torch_if_present):
    data = _cuda_checkpoint()
    with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA device "
                                           "but ember.cuda.is_available.. is False") as raised:
        _load_bytes(tmp_path, data)
    assert not isinstance(raised.value, CheckpointError)
    for map_location in ("cpu", ember.device("cpu"), {"cuda:1": "cpu"},
                         lambda storage, location: storage):
        assert _load_bytes(tmp_path, data, map_location=map_location)["w"].tolist() == [1, 2]
    for map_location in ({"cuda:0": "cpu"}, lambda storage, location: None, "cuda:0"):
        with pytest.raises(RuntimeError, match="CUDA"):
            _load_bytes(tmp_path, data, map_location=map_location)
    if torch_if_present is not None:  # torch on this CPU-only machine does the same
        path = str(tmp_path / "crafted.pt")
        with pytest.raises(RuntimeError, match="torch.cuda.is_available.. is False"):
            torch_if_present.load(path, weights_only=True)
        assert torch_if_present.load(path, map_location={"cuda:1": "cpu"})["w"].tolist() == [1, 2]


def test_location_tags_that_name_no_device(tmp_path):
    for tag in ("npu:0", "c\x1dpu", "cpu:x"):
        body = dictionary((text("w"), tensor("0", 2, 0, (2,), (1,), location=tag)))
        data = archive(program(body), {"0": floats(1, 2)})
        with pytest.raises(CheckpointError, match="which names no device .map_location='cpu' "
                                                  "loads it anyway"):
            _load_bytes(tmp_path, data)
        assert _load_bytes(tmp_path, data, map_location="cpu")["w"].tolist() == [1, 2]
    # A tag that the caller's map_location names is the caller's error, not the file's.
    with pytest.raises(RuntimeError, match="tagged with 'gpu'") as raised:
        _load_bytes(tmp_path, _cuda_checkpoint(), map_location={"cuda:1": "gpu"})
    assert not isinstance(raised.value, CheckpointError)


def test_map_location_errors_are_the_callers_not_a_checkpoint_error(tmp_path):
    def broken(storage, location):
        raise KeyError("from the user's callable")

    with pytest.raises(KeyError, match="from the user's callable"):
        _load_bytes(tmp_path, _valid_checkpoint(), map_location=broken)
    with pytest.raises(TypeError, match="map_location must return a storage or None, got int"):
        _load_bytes(tmp_path, _valid_checkpoint(), map_location=lambda storage, location: 3)


# ---- the old format ----------------------------------------------------------------------------

def legacy(body, storages):
    """The pre-1.6 format: magic, version, system info, the tree, the keys, then the storages
    (element count and bytes each); ``storages`` is [(key, element count, bytes)]."""
    header = b"".join(pickle.dumps(value, protocol=2) for value in (
        0x1950a86a20f9469cfc6c, 1001, {"protocol_version": 1001, "little_endian": True,
                                       "type_sizes": {"short": 2, "int": 4, "long": 4}}))
    keys = pickle.dumps([key for key, _, _ in storages], protocol=2)
    data = b"".join(struct.pack("<q", count) + payload for _, count, payload in storages)
    return header + program(body) + keys + data


def legacy_tensor(key, numel, offset, size, stride, kind="FloatStorage", view=b"N"):
    reference = tup(text("storage"), glob("torch", kind), text(key), text("cpu"),
                    integer(numel), view) + b"Q"
    return call(glob("torch._utils", "_rebuild_tensor_v2"), reference, integer(offset),
                tup(*map(integer, size)), tup(*map(integer, stride)), b"\x89", ordered_dict())


def _valid_legacy():
    body = dictionary((text("w"), legacy_tensor("9", 4, 1, (3,), (1,))),
                      (text("v"), legacy_tensor("9", 4, 0, (2,), (2,))),
                      (text("s"), legacy_tensor("9", 4, 0, (2,), (1,),
                                                view=tup(text("10"), integer(2), integer(2)))),
                      (text("i"), legacy_tensor("5", 2, 0, (2,), (1,), kind="BoolStorage")))
    return legacy(body, [("5", 2, b"\x01\x00"), ("9", 4, floats(0, 1, 2, 3))])


def test_the_crafted_old_format_loads(tmp_path, torch_if_present):
    loaded = _load_bytes(tmp_path, _valid_legacy())
    assert loaded["w"].tolist() == [1, 2, 3] and loaded["v"].tolist() == [0, 2]
    assert loaded["s"].tolist() == [2, 3]  # a view of the storage from its element 2
    assert loaded["i"].tolist() == [True, False]
    if torch_if_present is not None:
        expected = torch_if_present.load(str(tmp_path / "crafted.pt"), weights_only=True)
        for key in ("w", "v", "s", "i"):
            assert loaded[key].tolist() == expected[key].tolist(), key


# ---- malicious pickles: refused, nothing runs --------------------------------------------------

def _malicious(marker):
    command = text(f"touch {marker}")
    code = text(f"open({str(marker)!r}, 'w').close()")
    tensor_bytes = {"0": floats(1, 2)}
    good_tensor = tensor("0", 2, 0, (2,), (1,))
    return {
        "os.system": call(glob("os", "system"), command),
        "posix.system": call(glob("posix", "system"), command),
        "builtins.eval": call(glob("builtins", "eval"), code),
        "__builtin__.exec": call(glob("__builtin__", "exec"), code),
        "builtins.getattr": call(glob("builtins", "getattr"), glob("builtins", "object"),
                                 text("__subclasses__")),
        "subprocess.Popen": call(glob("subprocess", "Popen"), tup(text("touch"),
                                                                  text(str(marker)))),
        "STACK_GLOBAL os.system": (b"\x8c\x02os\x8c\x06system\x93" + tup(command) + b"R"),
        "INST": b"(" + command + b"ios\nsystem\n",
        "OBJ": b"(" + glob("os", "system") + command + b"o",
        "EXT1": b"\x82\x01",
        "REDUCE on torch.Tensor": call(glob("torch", "Tensor"), integer(3)),
        "REDUCE on a string": text("os.system") + tup(command) + b"R",
        "NEWOBJ torch.Tensor": glob("torch", "Tensor") + tup() + b"\x81",
        "BUILD on a dict": b"}" + dictionary((text("a"), integer(1))) + b"b",
        "BUILD on a list": b"]" + dictionary((text("a"), integer(1))) + b"b",
        "BUILD on a tensor": good_tensor + dictionary((text("a"), integer(1))) + b"b",
        "BUILD hides OrderedDict.items": ordered_dict() + dictionary((text("items"),
                                                                      integer(1))) + b"b",
        "BUILD sets __class__": ordered_dict() + dictionary((text("__class__"),
                                                             integer(1))) + b"b",
        "APPEND to a dict": b"}" + integer(1) + b"a",
        "SETITEM on a list": b"]" + integer(0) + integer(1) + b"s",
        "persistent module": tup(text("module"), glob("torch.nn", "Linear"), text(""),
                                 text("")) + b"Q",
        "persistent string": text("storage") + b"Q",
        "_codecs.encode rot13": call(glob("_codecs", "encode"), text("x"), text("rot13")),
        "rebuild_from_type with OrderedDict": call(
            glob("torch._tensor", "_rebuild_from_type_v2"), glob("collections", "OrderedDict"),
            glob("torch", "Tensor"), tup(), dictionary()),
        "rebuild_from_type to a dict": call(
            glob("torch._tensor", "_rebuild_from_type_v2"),
            glob("torch._utils", "_rebuild_tensor_v2"), glob("builtins", "dict"), tup(),
            dictionary()),
        "a global returned itself": glob("collections", "OrderedDict"),
        "numpy reconstruct": call(glob("numpy.core.multiarray", "_reconstruct"),
                                  glob("numpy", "ndarray"), tup(integer(0)), text("b")),
        "never-imported module": call(glob("tabnanny", "check"), text(".")),
        "_codecs.encode with a tensor as encoding": call(glob("_codecs", "encode"), text("x"),
                                                         good_tensor),
        "rebuild_from_type with a tensor as function": call(
            glob("torch._tensor", "_rebuild_from_type_v2"), good_tensor, glob("torch", "Tensor"),
            tup(), dictionary()),
    }, tensor_bytes


@pytest.mark.parametrize("case", list(_malicious("marker")[0]))
def test_malicious_pickles_are_refused_and_run_nothing(tmp_path, case):
    marker = tmp_path / "pwned"
    cases, records = _malicious(marker)
    modules_before = set(sys.modules)
    with pytest.raises(UnsafeCheckpointError) as raised:
        _load_bytes(tmp_path, archive(program(cases[case]), records))
    assert isinstance(raised.value, pickle.UnpicklingError)
    assert "crafted.pt" in str(raised.value)
    assert not marker.exists()
    assert set(sys.modules) == modules_before  # nothing was imported
    # The same pickle in the old format is refused too.
    with pytest.raises(UnsafeCheckpointError):
        _load_bytes(tmp_path, legacy(cases[case], []))
    assert not marker.exists()


def test_refusals_name_the_global(tmp_path):
    cases, records = _malicious(tmp_path / "pwned")
    with pytest.raises(UnsafeCheckpointError, match=r"names the global os.system, which ember "
                                                    r"never loads"):
        _load_bytes(tmp_path, archive(program(cases["os.system"]), records))
    with pytest.raises(UnsafeCheckpointError, match=r"names the global builtins.exec"):
        _load_bytes(tmp_path, archive(program(cases["__builtin__.exec"]), records))
    with pytest.raises(UnsafeCheckpointError, match="instruction INST"):
        _load_bytes(tmp_path, archive(program(cases["INST"]), records))


def test_malicious_pickles_torch_refuses_too(torch, tmp_path):
    cases, records = _malicious(tmp_path / "pwned")
    for case in ("os.system", "builtins.eval", "INST", "BUILD on a list", "numpy reconstruct"):
        path = tmp_path / "crafted.pt"
        path.write_bytes(archive(program(cases[case]), records))
        with pytest.raises(pickle.UnpicklingError):
            torch.load(str(path), weights_only=True)
        with pytest.raises(UnsafeCheckpointError):
            ember.load(path)
    assert not (tmp_path / "pwned").exists()


# ---- malformed pickles and archives: CheckpointError ------------------------------------------

def _malformed_pickles():
    two = {"0": floats(1, 2)}
    ints = {"0": np.array([1, 2], "<i8").tobytes()}
    return {
        "numel 2**60": (tensor("0", 2 ** 60, 0, (2,), (1,)), two, "record of 8 bytes"),
        "size past the storage": (tensor("0", 2, 0, (2 ** 40,), (1,)), two, "needs"),
        "huge size product": (tensor("0", 2, 0, (2 ** 40, 2 ** 40), (0, 0)), two,
                              "too large"),
        "negative stride": (tensor("0", 2, 1, (2,), (-1,)), two, "stride"),
        "negative offset": (tensor("0", 2, -1, (1,), (1,)), two, "storage offset"),
        "size and stride lengths differ": (tensor("0", 2, 0, (2,), (1, 1)), two, "size"),
        "65 dimensions": (tensor("0", 2, 0, (1,) * 65, (1,) * 65), two, "size"),
        "offset past the storage": (tensor("0", 2, 3, (1,), (1,)), two, "needs 4 elements"),
        "requires_grad on integers": (tensor("0", 2, 0, (2,), (1,), kind="LongStorage",
                                             requires_grad=True), ints, "requires grad"),
        "requires_grad is an int": (call(glob("torch._utils", "_rebuild_tensor_v2"),
                                         storage("0", 2), integer(0), tup(integer(2)),
                                         tup(integer(1)), integer(1), ordered_dict()), two,
                                    "requires_grad=1"),
        "backward hooks": (tensor("0", 2, 0, (2,), (1,), hooks=dictionary(
            (integer(1), integer(2)))), two, "backward hooks"),
        "storage type is a string": (tup(text("storage"), text("FloatStorage"), text("0"),
                                         text("cpu"), integer(2)) + b"Q", two, "type"),
        "missing record": (tensor("7", 2, 0, (2,), (1,)), two, "no record"),
        "one key, two dtypes": (tup(tensor("0", 2, 0, (2,), (1,)),
                                    tensor("0", 1, 0, (1,), (1,), kind="DoubleStorage")), two,
                                "two different types"),
        "bool storage holding 2": (tensor("0", 2, 0, (2,), (1,), kind="BoolStorage"),
                                   {"0": b"\x01\x02"}, "not booleans"),
        "bfloat16 record of odd size": (tensor("0", 2, 0, (2,), (1,), kind="BFloat16Storage"),
                                        {"0": b"\x00\x00\x00"}, "record of 3 bytes"),
        "complex half storage": (tensor("0", 1, 0, (1,), (1,), kind="ComplexHalfStorage"),
                                 two, "ComplexHalfStorage"),
        "quantized tensor": (call(glob("torch._utils", "_rebuild_qtensor")), {},
                             "quantized tensors"),
        "sparse layout": (call(glob("torch.serialization", "_get_layout"),
                               text("torch.sparse_coo")), {}, "layouts"),
        "quantization scheme": (glob("torch", "per_tensor_affine"), {}, "quantized"),
        "bad device": (call(glob("torch", "device"), text("warp:9")), {}, "torch.device"),
        "Size of strings": (call(glob("torch", "Size"), tup(text("a"))), {}, "torch.Size"),
        "bytes beyond latin-1": (call(glob("_codecs", "encode"), text("\u20ac"),
                                      text("latin1")), {}, "latin-1"),
        "a bare storage": (storage("0", 2), two, "bare storage"),
        "unknown opcode": (b"\xff", {}, "unknown instruction 0xff"),
        "protocol 0 INT": (b"I1\n", {}, "protocol 0 instruction INT"),
        "string past the end": (b"X\xff\xff\xff\xff", {}, "past its end"),
        "negative LONG4 length": (b"\x8b\xff\xff\xff\xff", {}, "negative integer length"),
        "missing memo entry": (b"h\x05", {}, "malformed pickle"),
        "stack underflow": (b"R", {}, "malformed pickle"),
        "odd dict items": (b"(" + integer(1) + b"d", {}, "odd number"),
        "unhashable key": (b"}]" + integer(1) + b"s", {}, "malformed pickle"),
        "unterminated GLOBAL": (b"ctorch", {}, "unterminated line"),
        "non-UTF-8 GLOBAL": (b"c\xff\n\xfe\n", {}, "malformed pickle"),
        "protocol 9": (b"\x80\x09", {}, "newer than 5"),
        "stop with an empty stack": (b"", {}, "empty stack"),
        "a tensor as dtype": (call(glob("torch._utils", "_rebuild_tensor_v3"), storage("0", 2),
                                   integer(0), tup(integer(2)), tup(integer(1)), b"\x89",
                                   ordered_dict(), tensor("0", 2, 0, (2,), (1,))), two,
                              "has the dtype"),
        "a tensor as NEWOBJ_EX keywords": (glob("collections", "OrderedDict") + tup()
                                           + tensor("0", 2, 0, (2,), (1,)) + b"\x92", two,
                                           "malformed arguments"),
        "a tensor as Parameter's requires_grad": (call(glob("torch._utils", "_rebuild_parameter"),
                                                       tensor("0", 2, 0, (2,), (1,)),
                                                       tensor("0", 2, 0, (2,), (1,)),
                                                       ordered_dict()), two, "requires_grad="),
    }


@pytest.mark.parametrize("case", list(_malformed_pickles()))
def test_malformed_pickles_are_checkpoint_errors(tmp_path, case):
    body, records, message = _malformed_pickles()[case]
    with pytest.raises(CheckpointError, match=message) as raised:
        _load_bytes(tmp_path, archive(program(body), records))
    assert "crafted.pt' is not a valid checkpoint" in str(raised.value)


def test_a_pickle_without_stop_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="past its end"):
        _load_bytes(tmp_path, archive(b"\x80\x02" + integer(1)))


def test_an_expanded_tensor_loads_without_allocating_its_size(tmp_path):
    # 2**40 elements of one storage element: a read-only view, as torch makes it.
    data = archive(program(tensor("0", 1, 0, (2 ** 20, 2 ** 20), (0, 0))), {"0": floats(7)})
    loaded = _load_bytes(tmp_path, data)
    assert loaded.shape == (2 ** 20, 2 ** 20)
    assert loaded[123, 456].item() == 7.0
    assert not loaded.numpy().flags.writeable


def _overlapping_records(count, size):
    """A zip whose storage records all start in the same region and run over one another, each
    with a valid header and CRC: read naively, ``count`` times ``size`` bytes for a file of about
    ``size``."""
    body = tup(*[tensor(str(key), size // 4, 0, (1,), (1,)) for key in range(count)])
    records = [("archive/data.pkl", program(body))]
    local = bytearray()
    headers = []
    for name in ["archive/data.pkl"] + [f"archive/data/{key}" for key in range(count)]:
        headers.append((name, len(local)))
        local += struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0)
        local += name.encode()
        if name == "archive/data.pkl":
            local += records[0][1]
    local += b"\0" * size
    directory = bytearray()
    for name, offset in headers:
        start = offset + 30 + len(name)
        length = len(records[0][1]) if name == "archive/data.pkl" else size
        crc = zlib.crc32(bytes(local[start:start + length]))
        directory += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, 0, 0, 0, crc,
                                 length, length, len(name), 0, 0, 0, 0, 0, offset)
        directory += name.encode()
    end = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, len(headers), len(headers),
                      len(directory), len(local), 0)
    return bytes(local + directory + end)


@functools.lru_cache(maxsize=1)
def _zip_cases():
    valid = _valid_checkpoint()
    end = valid.rindex(b"PK\x05\x06")
    directory = valid.index(b"PK\x01\x02")

    def patched(offset, value, form):
        data = bytearray(valid)
        struct.pack_into(form, data, offset, value)
        return bytes(data)

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as file:
        file.writestr("archive/data.pkl", program(b"N") + b"\0" * (64 * 1024 * 1024))
    duplicate = io.BytesIO()
    with zipfile.ZipFile(duplicate, "w") as file, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name it writes
        file.writestr("archive/data.pkl", program(b"N"))
        file.writestr("archive/data.pkl", program(b"N"))
    missing = io.BytesIO()
    with zipfile.ZipFile(missing, "w") as file:
        file.writestr("archive/other.pkl", program(b"N"))
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").close()
    return {
        "zip bomb (deflated data.pkl)": (bomb.getvalue(), "compressed"),
        "records that overlap": (_overlapping_records(200, 2 ** 16), "does not fit in the file"),
        "deflated storage": (archive(program(tensor("0", 2, 0, (2,), (1,))),
                                     {"0": floats(1, 2)}, compression=zipfile.ZIP_DEFLATED),
                             "compressed"),
        "duplicate names": (duplicate.getvalue(), "twice"),
        "no data.pkl": (missing.getvalue(), "no archive/data.pkl"),
        "empty archive": (empty.getvalue(), "empty"),
        "no end record": (valid[:end], "no end record"),
        "bytes after the end record": (valid + b"junk", "no end record"),
        "directory offset past the end": (patched(end + 16, len(valid), "<I"), "runs past"),
        "directory size past the end": (patched(end + 12, len(valid), "<I"), "runs past"),
        "a million entries": (patched(end + 10, 0xFFFE, "<H"), "cannot hold"),
        "record size 2**32-2": (patched(directory + 24, 0xFFFFFFFE, "<I"), "sizes differ"),
        "record offset into the directory": (patched(directory + 42, directory, "<I"),
                                             "runs into the directory"),
        "encrypted record": (patched(directory + 8, 0x1, "<H"), "encrypted"),
        "zip64 without its locator": (patched(end + 16, 0xFFFFFFFF, "<I"), "zip64"),
        "two disks": (patched(end + 4, 1, "<H"), "several disks"),
        "local header mismatch": (patched(valid.index(b"PK\x03\x04", 1), 0, "<I"),
                                  "no matching local header"),
    }


@pytest.mark.parametrize("case", list(_zip_cases()))
def test_malformed_archives_are_checkpoint_errors(tmp_path, case):
    data, message = _zip_cases()[case]
    with pytest.raises(CheckpointError, match=message):
        _load_bytes(tmp_path, data)


def _malformed_legacy():
    body = dictionary((text("w"), legacy_tensor("9", 4, 0, (4,), (1,))))
    good = [("9", 4, floats(0, 1, 2, 3))]
    return {
        "count differs": (legacy(body, [("9", 3, floats(0, 1, 2))]), "holds 3 elements"),
        "keys differ": (legacy(body, [("8", 4, floats(0, 1, 2, 3))]), "does not match"),
        "truncated storage": (legacy(body, good)[:-3], "past the end"),
        "bytes after the storages": (legacy(body, good) + b"\0", "follow the last storage"),
        "storage larger than the file": (legacy(dictionary((text("w"), legacy_tensor(
            "9", 2 ** 40, 0, (1,), (1,)))), good), "does not fit in the file"),
        "view outside its storage": (legacy(dictionary((text("w"), legacy_tensor(
            "9", 4, 0, (1,), (1,), view=tup(text("1"), integer(3), integer(5))))), good),
            "outside its storage"),
        "wrong magic": (pickle.dumps(0x1950a86a20f9469cfc6d, protocol=2) + b"\x80\x02N.\x80\x02N.",
                        "not a torch.save file"),
        "a global in the header": (b"\x80\x02\x8a\x0a" + bytes(10) + b"." + program(
            call(glob("os", "system"), text("x"))), "header pickle names the global"),
    }


@pytest.mark.parametrize("case", list(_malformed_legacy()))
def test_malformed_old_format_files_are_checkpoint_errors(tmp_path, case):
    data, message = _malformed_legacy()[case]
    with pytest.raises(CheckpointError, match=message):
        _load_bytes(tmp_path, data)


def test_tar_files_of_pytorch_0_3_are_named(tmp_path):
    import tarfile
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("storages")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"\0" * 4))
    with pytest.raises(CheckpointError, match="tar format"):
        _load_bytes(tmp_path, buffer.getvalue())


# ---- mutations of valid files ------------------------------------------------------------------

def _outcome(path, check):
    """'loaded' (and then the data is right) or 'rejected'; any other exception fails."""
    try:
        loaded = ember.load(path)
    except CheckpointError as error:
        assert str(path) in str(error)
        return "rejected"
    check(loaded)
    return "loaded"


def _check_nothing(loaded):
    """The old format has no checksums: a flipped data byte loads a different value."""


@pytest.mark.parametrize("make, check, rejected", [(_valid_checkpoint, _check_valid, 0.5),
                                                   (_valid_legacy, _check_nothing, 0.0)],
                         ids=["zip", "pre-1.6"])
def test_every_truncation_and_byte_flip(tmp_path, make, check, rejected):
    data = make()
    path = tmp_path / "mutant.pt"
    rng = np.random.default_rng(SEED)
    outcomes = collections.Counter()
    for length in range(len(data)):
        path.write_bytes(data[:length])
        assert _outcome(path, check) == "rejected", length
    for position in range(len(data)):
        flipped = bytearray(data)
        flipped[position] ^= int(rng.integers(1, 256))
        path.write_bytes(bytes(flipped))
        outcomes[_outcome(path, check)] += 1
    # Flips in fields nobody reads (zip timestamps, the version record) load the same data.
    assert outcomes["rejected"] >= rejected * len(data)


# ---- hypothesis: arbitrary pickles from torch.save's vocabulary --------------------------------

_FRAGMENTS = [
    b"(", b"t", b")", b"\x85", b"\x86", b"\x87", b"]", b"}", b"a", b"e", b"s", b"u", b"R", b"b",
    b"\x81", b"Q", b"0", b"1", b"2", b"N", b"\x88", b"\x89", b"q\x00", b"q\x01", b"h\x00",
    b"h\x01", b"\x8f", b"\x90", b"\x91", b"\x94", integer(0), integer(1), integer(2),
    integer(-1), integer(2 ** 40), text("storage"), text("0"), text("cpu"), text("cuda:0"),
    text("_metadata"), glob("torch._utils", "_rebuild_tensor_v2"),
    glob("torch._utils", "_rebuild_parameter"), glob("torch", "FloatStorage"),
    glob("torch", "BoolStorage"), glob("collections", "OrderedDict"), glob("torch", "Size"),
    glob("torch", "device"), glob("builtins", "set"), glob("builtins", "complex"),
    glob("_codecs", "encode"), glob("os", "system"), glob("builtins", "eval"),
    glob("torch", "Tensor"), glob("torch", "float16"), storage("0", 2), ordered_dict(),
    tensor("0", 2, 0, (2,), (1,)), b"G" + struct.pack(">d", 1.5), b"\x8a\x01\x05",
    b"C\x02ab", b"\x8c\x02os\x8c\x06system\x93",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=40), st.booleans())
def test_arbitrary_pickles_load_or_are_checkpoint_errors(tmp_path_factory, fragments, legacy_form):
    folder = tmp_path_factory.mktemp("hypothesis")
    marker = folder / "pwned"
    body = b"".join(fragments)
    pickle_bytes = program(body)
    data = legacy(body, []) if legacy_form else archive(pickle_bytes, {"0": floats(1, 2)})
    path = folder / "generated.pt"
    path.write_bytes(data)
    try:
        ember.load(path, map_location="cpu")
    except CheckpointError as error:
        assert str(path) in str(error)
    assert not marker.exists()
    assert not os.path.exists("pwned")
