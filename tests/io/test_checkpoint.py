"""ember.save / ember.load: exact round trips, safetensors compatibility, atomicity, corruption."""
import collections
import io
import math
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from ember.io import CheckpointError

safetensors_numpy = pytest.importorskip("safetensors.numpy")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _same(left, right):
    """Structural equality that also compares types, tensors by value/dtype and NaN to NaN."""
    if type(left) is not type(right):
        return False
    if isinstance(left, ember.Tensor):
        return (left.dtype is right.dtype and left.shape == right.shape
                and left.requires_grad == right.requires_grad
                and np.array_equal(left.detach().numpy(), right.detach().numpy(), equal_nan=True))
    if isinstance(left, np.ndarray):
        return left.dtype == right.dtype and np.array_equal(left, right, equal_nan=True)
    if isinstance(left, float):
        return (math.isnan(left) and math.isnan(right)) or (
            left == right and math.copysign(1, left) == math.copysign(1, right))
    if isinstance(left, np.generic):
        return left.dtype == right.dtype and (left == right or (np.isnan(left) and np.isnan(right)))
    if isinstance(left, complex):
        return _same(left.real, right.real) and _same(left.imag, right.imag)
    if isinstance(left, (list, tuple)):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right))
    if isinstance(left, dict):
        return (list(left.keys()) == list(right.keys())
                and all(type(a) is type(b) for a, b in zip(left, right))
                and all(_same(left[key], right[key]) for key in left))
    return left == right


def _rich_object():
    weight = ember.randn(3, 4)
    return {
        "model": {"fc.weight": weight, "fc.bias": ember.zeros(4), "bn.num_batches_tracked":
                  ember.tensor(7)},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": ember.ones(2, dtype=ember.float64)},
                                1: {}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                                        "amsgrad": False, "foreach": None}]},
        "floats": [float("nan"), float("inf"), float("-inf"), -0.0, 1e300, 5e-324, 0.1],
        "keys": {1: "int", 2.5: "float", (1, "a"): "tuple", None: "none", False: "bool",
                 "$dollar": "escaped"},
        "nested": {"a": [(), [()], {"b": ({},)}], "$tensor": "not a tensor"},
        "ordered": collections.OrderedDict([("z", 1), ("a", 2)]),
        "numpy": {"scalar": np.float32(0.1), "int": np.int64(-3), "bool": np.bool_(True),
                  "array": np.arange(6, dtype=np.int16).reshape(2, 3)},
        "dtype": ember.float64,
        "rng": ember.get_rng_state(),
        "shared": [weight, weight],
        "grad": ember.ones(2, requires_grad=True),
        "text": "héllo \"quoted\" \n",
        "big": 2 ** 80,
        "sets": [{1, "a", (2, 3)}, frozenset({None, 2.5}), set()],
        "complex": [1 + 2j, complex(float("nan"), -0.0)],
        "bytes": [b"\x00\xffab", bytearray(b"xyz"), b""],
        "size": ember.Size([2, 0, 3]),
        "devices": [ember.device("cpu"), ember.device("cuda", 1)],
        "counter": collections.Counter({"a": 2, 3: 1}),
        "numpy_rng": np.random.RandomState(5).get_state(),
    }


def test_nested_object_round_trips_exactly(tmp_path):
    original = _rich_object()
    path = tmp_path / "rich.safetensors"
    ember.save(original, path)
    loaded = ember.load(path, weights_only=False)  # it holds NumPy values, as torch.load needs
    assert _same(original, loaded)
    assert loaded["shared"][0] is loaded["shared"][1]  # one stored tensor, one loaded object
    assert loaded["model"]["fc.weight"] is loaded["shared"][0]


def test_loaded_tensors_are_independent_and_writable(tmp_path):
    original = {"a": ember.arange(4.0), "b": ember.zeros(2)}
    ember.save(original, tmp_path / "x.safetensors")
    loaded = ember.load(tmp_path / "x.safetensors")
    loaded["a"].add_(1.0)
    assert loaded["a"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert loaded["b"].tolist() == [0.0, 0.0]
    assert original["a"].tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int16", "int32", "int64", "float16",
                                   "float32", "float64", "uint16", "uint32", "uint64"])
@pytest.mark.parametrize("shape", [(), (0,), (2, 0, 3), (3, 4)])
def test_every_dtype_and_shape(tmp_path, dtype, shape):
    array = np.asarray(np.abs(np.random.default_rng(1).standard_normal(shape)) * 5).astype(dtype)
    tensor = ember.from_numpy(array)
    ember.save({"t": tensor}, tmp_path / "t.safetensors")
    loaded = ember.load(tmp_path / "t.safetensors")["t"]
    assert loaded.dtype is tensor.dtype and loaded.shape == tensor.shape
    assert np.array_equal(loaded.numpy(), array)


def test_non_contiguous_tensors_are_saved_by_value(tmp_path):
    base = ember.arange(12.0).reshape(3, 4)
    view = base.t()[::2]
    flags = np.array([True, False, False, True])[1::2]  # a strided NumPy view
    ember.save({"view": view, "bool": ember.from_numpy(flags)}, tmp_path / "v.safetensors")
    loaded = ember.load(tmp_path / "v.safetensors")
    assert loaded["view"].tolist() == view.tolist()
    assert loaded["bool"].tolist() == [False, True]


def test_flat_state_dict_is_a_plain_safetensors_file(tmp_path):
    state = {"fc.weight": ember.randn(2, 3), "fc.bias": ember.randn(2),
             "bn.num_batches_tracked": ember.tensor(4)}
    path = tmp_path / "sd.safetensors"
    ember.save(state, path)
    plain = safetensors_numpy.load_file(str(path))
    assert set(plain) == set(state)
    for name, tensor in state.items():
        assert np.array_equal(plain[name], tensor.numpy())


def test_flat_state_dict_loads_in_torch(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    state = {"layer.0.weight": ember.randn(2, 3), "layer.0.bias": ember.randn(2)}
    ember.save(state, tmp_path / "sd.safetensors")
    loaded = safetensors_torch.load_file(str(tmp_path / "sd.safetensors"))
    assert list(sorted(loaded)) == sorted(state)
    for name, tensor in state.items():
        assert loaded[name].dtype == torch.float32
        assert np.array_equal(loaded[name].numpy(), tensor.numpy())


def test_plain_safetensors_file_loads_as_flat_dict(tmp_path):
    arrays = {"w": np.ones((2, 2), np.float32), "steps": np.array(3, np.int64)}
    safetensors_numpy.save_file(arrays, str(tmp_path / "plain.safetensors"))
    loaded = ember.load(tmp_path / "plain.safetensors")
    assert set(loaded) == {"w", "steps"}
    assert loaded["w"].dtype is ember.float32 and loaded["steps"].dtype is ember.int64
    assert loaded["steps"].item() == 3


def test_save_rejects_objects_that_would_need_pickle(tmp_path):
    import argparse
    path = tmp_path / "bad.safetensors"
    point = collections.namedtuple("Point", "x y")
    cases = [
        ({"a": {"b": point(1, 2)}}, r"value of type 'Point' at key 'a.b'.*tuple\(value\) or "
                                    r"value._asdict\(\)"),
        ([lambda: 0], r"value of type 'function' at key '0': ember writes no pickle"),
        ({ember.zeros(1): 1}, "dict keys"),
        ({"args": argparse.Namespace(lr=0.1)}, r"'Namespace' at key 'args'.*vars\(value\)"),
        ({"d": collections.defaultdict(list)}, r"'defaultdict'.*dict\(value\)"),
        ({"optimizer": ember.optim.SGD([ember.zeros(1, requires_grad=True)], lr=0.1)},
         r"'SGD' at key 'optimizer': ember writes no pickle \(loading a pickle can run any "
         r"code\), so optimizers, schedulers and other stateful objects cannot be saved whole "
         r"\(modules can\); save its state_dict\(\) instead"),
        (ember.optim.SGD([ember.zeros(1, requires_grad=True)], lr=0.1),
         "at the top level.*state_dict"),
        ({"x": np.zeros(2, dtype=object)}, "array of dtype object"),
    ]
    for obj, message in cases:
        with pytest.raises(TypeError, match=message):
            ember.save(obj, path)
        buffer = io.BytesIO(b"keep")
        buffer.seek(4)
        with pytest.raises(TypeError, match=message):
            ember.save(obj, buffer)
        assert buffer.getvalue() == b"keep"  # nothing written
    assert not path.exists()
    ember.save({"v": 1}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="state_dict"):
        ember.save(ember.optim.SGD([ember.zeros(1, requires_grad=True)], lr=0.1), path)
    assert path.read_bytes() == before  # not truncated
    with pytest.raises(AttributeError, match="expected 'f' to be string, path, or a file-like "
                                             "object with a 'write' attribute"):
        ember.save({}, 3)


@settings(max_examples=40, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda children: (st.lists(children, max_size=3) | st.tuples(children, children)
                      | st.dictionaries(st.text(max_size=3) | st.integers() | st.booleans(),
                                        children, max_size=3)),
    max_leaves=12))
def test_json_like_trees_round_trip(tmp_path_factory, tree):
    path = tmp_path_factory.mktemp("tree") / "tree.safetensors"
    ember.save({"tree": tree}, path)
    assert _same({"tree": tree}, ember.load(path))


# ---- atomic writes -----------------------------------------------------------------------------

_CRASHING_SAVE = textwrap.dedent("""
    import os, sys
    import ember
    import ember.io.files as files
    path = sys.argv[1]
    def crash_half_way(file, chunk):
        file.write(chunk[: len(chunk) // 2])
        file.flush()
        os._exit(17)  # the process dies mid-write: no cleanup, no rename
    files.write_chunk = crash_half_way
    ember.save({"version": 2, "weight": ember.full((64, 64), 2.0)}, path)
""")


def test_crash_mid_save_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "model.safetensors"
    ember.save({"version": 1, "weight": ember.ones(64, 64)}, path)
    result = subprocess.run([sys.executable, "-c", _CRASHING_SAVE, str(path)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": REPO}, capture_output=True, timeout=60)
    assert result.returncode == 17, result.stderr.decode()
    loaded = ember.load(path)
    assert loaded["version"] == 1 and loaded["weight"].sum().item() == 64 * 64
    leftovers = [name for name in os.listdir(tmp_path) if name != "model.safetensors"]
    assert len(leftovers) == 1 and leftovers[0].endswith(".tmp")  # the dead writer's temp file
    ember.save({"version": 3}, path)  # the next save removes it: its writer is gone
    assert os.listdir(tmp_path) == ["model.safetensors"]
    assert ember.load(path) == {"version": 3}


def test_failed_save_keeps_old_file_and_removes_temporary(tmp_path, monkeypatch):
    import ember.io.files as files
    path = tmp_path / "model.safetensors"
    ember.save({"version": 1}, path)

    def disk_full(file, chunk):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "write_chunk", disk_full)
    with pytest.raises(CheckpointError) as raised:
        ember.save({"version": 2}, path)
    # The user's path, not the hidden temporary file the write actually failed on.
    assert str(raised.value) == f"ember.save: cannot write '{path}': No space left on device"
    assert ember.load(path) == {"version": 1}
    assert os.listdir(tmp_path) == ["model.safetensors"]


def test_saved_file_permissions_follow_the_umask(tmp_path):
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    ember.save({"a": 1}, tmp_path / "a.safetensors")
    with open(tmp_path / "plain", "wb"):
        pass
    assert os.stat(tmp_path / "a.safetensors").st_mode == os.stat(tmp_path / "plain").st_mode


# ---- corrupt and missing files -----------------------------------------------------------------

def test_missing_file_and_directory(tmp_path):
    with pytest.raises(CheckpointError, match=r"no such file: '.*nope.safetensors'"):
        ember.load(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match="is a directory"):
        ember.load(tmp_path)
    assert issubclass(CheckpointError, RuntimeError)


def test_a_missing_file_is_also_the_file_not_found_error_torch_load_raises(tmp_path, torch):
    """Resume logic written for PyTorch catches FileNotFoundError to start fresh."""
    for library in (torch, ember):
        with pytest.raises(FileNotFoundError):
            library.load(tmp_path / "nope.pt")


@pytest.mark.parametrize("content", [b"", b"hello", b"not a checkpoint at all, just text\n",
                                     b"\x08\x00\x00\x00\x00\x00\x00\x00[1, 2]  ",
                                     b"\x02\x00\x00\x00\x00\x00\x00\x00{]",
                                     b"\xff" * 64])
def test_foreign_files_are_rejected(tmp_path, content):
    path = tmp_path / "foreign.bin"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="foreign.bin' is not a valid checkpoint"):
        ember.load(path)


def _small_checkpoint(tmp_path):
    obj = {"model": {"w": ember.randn(3, 2), "mask": ember.tensor([True, False]),
                     "count": ember.tensor(5)},
           "epoch": 2, "lr": 0.5, "betas": (0.9, 0.99)}
    path = tmp_path / "small.safetensors"
    ember.save(obj, path)
    return obj, path, path.read_bytes()


def test_every_truncation_is_a_clear_error(tmp_path):
    _, _, data = _small_checkpoint(tmp_path)
    broken = tmp_path / "broken.safetensors"
    for length in range(len(data)):
        broken.write_bytes(data[:length])
        with pytest.raises(CheckpointError, match="broken.safetensors"):
            ember.load(broken)


def test_appended_bytes_are_a_clear_error(tmp_path):
    _, _, data = _small_checkpoint(tmp_path)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(data + b"\0")
    with pytest.raises(CheckpointError, match="data section"):
        ember.load(broken)


def test_random_byte_flips_never_load_wrong_data(tmp_path):
    original, _, data = _small_checkpoint(tmp_path)
    header_end = 8 + int.from_bytes(data[:8], "little")
    broken = tmp_path / "broken.safetensors"
    rng = np.random.default_rng(1234)
    # Every position of the length prefix and of the data section, and 400 places in the header.
    positions = list(range(8)) + list(range(header_end, len(data)))
    positions += rng.integers(8, header_end, size=400).tolist()
    rejected = 0
    for position in positions:
        corrupted = bytearray(data)
        corrupted[position] ^= int(rng.integers(1, 256))
        broken.write_bytes(bytes(corrupted))
        try:
            loaded = ember.load(broken)
        except CheckpointError as error:
            assert "broken.safetensors" in str(error)
            rejected += 1
        else:
            # Only harmless changes may load (e.g. a padding space turned into a tab).
            assert _same(original, loaded), f"flip at byte {position} loaded different data"
    assert rejected >= len(positions) * 0.9


def test_header_with_valid_json_but_bad_layout(tmp_path):
    def write(header, data=b""):
        import json
        encoded = json.dumps(header).encode()
        path = tmp_path / "crafted.safetensors"
        path.write_bytes(len(encoded).to_bytes(8, "little") + encoded + data)
        return path

    cases = [
        ({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4, "needs 8"),
        ({"t": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}, b"\0", "F8_E4M3"),
        ({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "shape"),
        ({"t": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8, "starts at"),
        ({"t": {"dtype": "F32", "shape": [1]}}, b"\0" * 4, "malformed"),
        ({"t": {"dtype": "BOOL", "shape": [1], "data_offsets": [0, 1]}}, b"\x07", "booleans"),
        ({"__metadata__": {"ember": 3}}, b"", "string-to-string"),
        ({"__metadata__": {"ember": "{}"}}, b"", "checksum"),
    ]
    for header, data, message in cases:
        with pytest.raises(CheckpointError, match=message):
            ember.load(write(header, data))


def test_parameters_and_requires_grad_come_back(tmp_path):
    from ember.nn import Parameter
    saved = {"weight": Parameter(ember.randn(2, 2)), "frozen": Parameter(ember.ones(1),
                                                                         requires_grad=False),
             "leaf": ember.zeros(3, requires_grad=True), "plain": ember.zeros(3)}
    ember.save(saved, tmp_path / "p.safetensors")
    loaded = ember.load(tmp_path / "p.safetensors")
    assert type(loaded["weight"]) is Parameter and loaded["weight"].requires_grad
    assert type(loaded["frozen"]) is Parameter and not loaded["frozen"].requires_grad
    assert type(loaded["leaf"]) is ember.Tensor and loaded["leaf"].requires_grad
    assert loaded["leaf"].is_leaf and not loaded["plain"].requires_grad
    assert loaded["weight"].tolist() == saved["weight"].tolist()


def test_plain_pickle_files_are_refused(tmp_path):
    import pickle
    path = tmp_path / "model.pkl"
    for protocol in (2, 3, 4, 5):
        path.write_bytes(pickle.dumps({"w": 1}, protocol=protocol))
        with pytest.raises(CheckpointError, match="model.pkl' is not a valid checkpoint: it "
                                                  "looks like a pickle file .not written by "
                                                  "torch.save., which ember never loads"):
            ember.load(path)


# ---- file objects and torch.load's arguments ---------------------------------------------------

class _ReadSeekOnly:
    """A file object with read/seek/tell but no readinto (some wrappers have only these)."""

    def __init__(self, data):
        self.buffer = io.BytesIO(data)

    def read(self, count=-1):
        return self.buffer.read(count)

    def seek(self, position, whence=0):
        return self.buffer.seek(position, whence)

    def tell(self):
        return self.buffer.tell()


def test_file_objects_round_trip(tmp_path):
    original = _rich_object()
    buffer = io.BytesIO()
    buffer.write(b"prefix")
    ember.save(original, buffer)
    assert buffer.tell() == len(buffer.getvalue())
    buffer.seek(6)
    assert _same(original, ember.load(buffer, weights_only=False))
    assert _same(original, ember.load(_ReadSeekOnly(buffer.getvalue()[6:]), weights_only=False))
    path = tmp_path / "object.safetensors"
    with open(path, "wb") as file:
        ember.save(original, file)
    with open(path, "rb") as file:
        assert _same(original, ember.load(file, weights_only=False))
    assert _same(original, ember.load(str(path), weights_only=False))


def test_file_object_errors(tmp_path):
    path = tmp_path / "text.safetensors"
    ember.save({"a": 1}, path)
    with open(path, encoding="latin-1") as file:
        with pytest.raises(TypeError, match="is opened in text mode; open it with 'rb'"):
            ember.load(file)
    with pytest.raises(CheckpointError, match=r"ember.load: <BytesIO> is not a valid checkpoint: "
                                              r"file is 3 bytes"):
        ember.load(io.BytesIO(b"abc"))

    class Full(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            raise OSError(28, "No space left on device")

    with pytest.raises(CheckpointError, match="ember.save: cannot write <Full>: No space left"):
        ember.save({"a": 1}, Full())

    class Partial(io.RawIOBase):
        """Writes at most 3 bytes per call, as a raw file may."""

        def __init__(self):
            self.data = bytearray()

        def writable(self):
            return True

        def write(self, data):
            self.data += bytes(data[:3])
            return min(3, len(data))

    partial = Partial()
    ember.save({"w": ember.arange(5.0)}, partial)
    assert ember.load(io.BytesIO(bytes(partial.data)))["w"].tolist() == [0, 1, 2, 3, 4]


def test_map_location_and_mmap_on_ember_files(tmp_path):
    path = tmp_path / "m.safetensors"
    ember.save({"w": ember.arange(3.0), "n": 2}, path)
    seen = []

    def remember(storage, location):
        seen.append(location)
        return storage

    for map_location in ("cpu", ember.device("cpu"), {"cuda:0": "cpu"}, remember,
                         lambda storage, location: None):
        assert ember.load(path, map_location=map_location)["w"].tolist() == [0.0, 1.0, 2.0]
    assert seen == ["cpu"]
    with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA device"):
        ember.load(path, map_location="cuda:0")
    with pytest.raises(RuntimeError, match="CUDA"):
        ember.load(path, map_location={"cpu": "cuda"})
    assert ember.load(path, mmap=True)["n"] == 2  # ember's files are read, not mapped


def test_ordered_dict_attributes_round_trip(tmp_path):
    state = ember.nn.Sequential(ember.nn.Linear(2, 2), ember.nn.BatchNorm1d(2)).state_dict()
    ember.save({"model": state}, tmp_path / "s.safetensors")
    loaded = ember.load(tmp_path / "s.safetensors")["model"]
    assert type(loaded) is collections.OrderedDict
    assert loaded._metadata == state._metadata and list(loaded) == list(state)


@pytest.mark.parametrize("value", [np.arange(3.0), {"best_acc": np.float64(0.5)}],
                         ids=["array", "scalar"])
def test_numpy_values_need_weights_only_false_or_allowed_globals_as_torch(value):
    """torch.load's default (weights_only) refuses NumPy arrays and scalars, naming the first
    global to allow (pytorch/examples' time_sequence_prediction loads an array so); allowed
    globals or weights_only=False load them."""
    torch = pytest.importorskip("torch")
    messages = []
    for framework in (ember, torch):
        buffer = io.BytesIO()
        framework.save(value, buffer)
        buffer.seek(0)
        with pytest.raises(pickle.UnpicklingError) as caught:
            framework.load(buffer)
        messages.append(str(caught.value).split("WeightsUnpickler error: ")[1].splitlines()[0])
        buffer.seek(0)
        loaded = framework.load(buffer, weights_only=False)
        assert type(loaded) is type(value)
        buffer.seek(0)
        multiarray = np._core.multiarray
        needed = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype,
                  type(np.dtype(np.float64))]
        with framework.serialization.safe_globals(needed):
            again = framework.load(buffer)
        np.testing.assert_array_equal(np.asarray(again if type(value) is not dict
                                                 else again["best_acc"]),
                                      np.asarray(value if type(value) is not dict
                                                 else value["best_acc"]))
    assert messages[0] == messages[1]
