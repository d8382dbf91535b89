"""ember.load of files written by torch.save (torch 2.13): values, dtypes, types and sharing equal
to what torch.load(weights_only=True) returns; torch's errors where torch refuses; ember never
imports torch to do it."""
import argparse
import collections
import io
import os
import pickle
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ember
from ember.io import CheckpointError, UnsafeCheckpointError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(REPO, "docs", "checkpoints.md")


def _assert_same(ember_value, torch_value, torch):
    """ember's result equals torch.load's: containers of the same types (ember.Size for
    torch.Size, ember dtypes and devices for torch's), tensors with equal values and dtypes."""
    if isinstance(torch_value, torch.Tensor):
        assert isinstance(ember_value, ember.Tensor)
        expected = torch_value.detach()
        if expected.dtype == torch.bfloat16:
            expected = expected.float()
        assert str(ember_value.dtype).split(".")[1] == str(expected.dtype).split(".")[1]
        assert ember_value.shape == tuple(expected.shape)
        assert ember_value.requires_grad == torch_value.requires_grad
        assert isinstance(ember_value, ember.nn.Parameter) == isinstance(torch_value,
                                                                         torch.nn.Parameter)
        assert np.array_equal(ember_value.detach().numpy(), expected.numpy(), equal_nan=True)
    elif isinstance(torch_value, torch.Size):
        assert type(ember_value) is ember.Size and tuple(ember_value) == tuple(torch_value)
    elif isinstance(torch_value, torch.dtype):
        assert ember_value is getattr(ember, str(torch_value).split(".")[1])
    elif isinstance(torch_value, torch.device):
        assert type(ember_value) is ember.device and str(ember_value) == str(torch_value)
    elif isinstance(torch_value, dict):
        assert type(ember_value) is type(torch_value)
        assert list(ember_value) == list(torch_value)
        for key in torch_value:
            _assert_same(ember_value[key], torch_value[key], torch)
        assert vars(ember_value) == vars(torch_value) if hasattr(torch_value, "__dict__") else True
    elif isinstance(torch_value, (list, tuple)):
        assert type(ember_value) is type(torch_value) and len(ember_value) == len(torch_value)
        for ember_item, torch_item in zip(ember_value, torch_value):
            _assert_same(ember_item, torch_item, torch)
    else:
        assert type(ember_value) is type(torch_value)
        assert ember_value == torch_value or (ember_value != ember_value
                                              and torch_value != torch_value)


def _save_and_compare(torch, obj, path, **save_arguments):
    torch.save(obj, str(path), **save_arguments)
    expected = torch.load(str(path), weights_only=True)
    loaded = ember.load(path)
    _assert_same(loaded, expected, torch)
    return loaded


def _cnn(torch):
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 3))


def _trained(torch, model, optimizer_class, **options):
    optimizer = optimizer_class(model.parameters(), **options)
    for _ in range(2):
        optimizer.zero_grad()
        model(torch.randn(5, 1, 6, 6)).square().mean().backward()
        optimizer.step()
    return model, optimizer


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "pre-1.6"])
def test_training_checkpoint_round_trips_with_every_type(torch, tmp_path, legacy):
    model, optimizer = _trained(torch, _cnn(torch), torch.optim.Adam, lr=1e-3, betas=(0.8, 0.9))
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    scheduler.step()
    args = argparse.Namespace(lr=0.1, layers=[1, 2], name="run", seed=None, flag=True)
    checkpoint = {
        "epoch": 7, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(), "args": vars(args), "best": float("nan"),
        "history": [(1, 0.5), (2, 0.25)], "rng": torch.get_rng_state(),
        "extras": {"size": torch.Size([2, 3]), "dtype": torch.float16, "device":
                   torch.device("cpu"), "complex": 1 - 2j, "bytes": b"\x00\xff", "set": {1, 2},
                   "big": -2 ** 100, "text": "héllo", 3: "int key", (1, "a"): "tuple key"},
        "counter": collections.Counter("abracadabra"),
    }
    loaded = _save_and_compare(torch, checkpoint, tmp_path / "checkpoint.pt",
                               _use_new_zipfile_serialization=not legacy)
    assert list(loaded["optimizer"]["state"]) == [0, 1, 2, 3, 4, 5]  # int keys stay ints
    assert type(loaded["model"]) is collections.OrderedDict
    assert loaded["model"]._metadata == model.state_dict()._metadata
    ember_model = ember.nn.Sequential(
        ember.nn.Conv2d(1, 4, 3, padding=1), ember.nn.BatchNorm2d(4), ember.nn.ReLU(),
        ember.nn.Flatten(), ember.nn.Linear(4 * 6 * 6, 3))
    ember_model.load_state_dict(loaded["model"])
    ember_optimizer = ember.optim.Adam(ember_model.parameters())
    ember_optimizer.load_state_dict(loaded["optimizer"])
    assert ember_optimizer.param_groups[0]["betas"] == (0.8, 0.9)


@pytest.mark.parametrize("name", ["lstm", "transformer", "embedding_bag"])
def test_state_dicts_of_torch_models(torch, tmp_path, name):
    models = {"lstm": lambda: torch.nn.LSTM(4, 8, num_layers=2, bidirectional=True),
              "transformer": lambda: torch.nn.TransformerEncoderLayer(8, 2, 16),
              "embedding_bag": lambda: torch.nn.EmbeddingBag(10, 3)}
    model = models[name]()
    _save_and_compare(torch, model.state_dict(), tmp_path / "model.pt")
    _save_and_compare(torch, model.state_dict(keep_vars=True), tmp_path / "vars.pt")
    _save_and_compare(torch, list(model.parameters()), tmp_path / "parameters.pt")


def test_optimizer_state_dicts(torch, tmp_path):
    for optimizer_class, options in [(torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
                                     (torch.optim.AdamW, {"lr": 1e-3, "amsgrad": True}),
                                     (torch.optim.RMSprop, {"lr": 1e-2, "centered": True})]:
        _, optimizer = _trained(torch, _cnn(torch), optimizer_class, **options)
        _save_and_compare(torch, optimizer.state_dict(), tmp_path / "optimizer.pt")


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int8", "int16", "int32",
                                   "int64", "uint8", "bool"])
def test_every_dtype_ember_has(torch, tmp_path, dtype):
    values = (torch.randn(3, 5) * 50).to(getattr(torch, dtype))
    loaded = _save_and_compare(torch, {"t": values, "scalar": values[1, 2].clone(),
                                       "empty": values[:0]}, tmp_path / "dtype.pt")
    assert loaded["t"].dtype is getattr(ember, dtype)


def test_bfloat16_loads_as_bfloat16_exactly(torch, tmp_path):
    values = torch.randn(4, 3).to(torch.bfloat16)
    values[0, 0] = float("inf")
    values[0, 1] = float("nan")
    torch.save({"w": values}, str(tmp_path / "bf16.pt"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = ember.load(tmp_path / "bf16.pt")
    assert loaded["w"].dtype is ember.bfloat16
    assert np.array_equal(loaded["w"].float().numpy(), values.float().numpy(), equal_nan=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ember.load(_write(torch, {"w": torch.ones(2)}, tmp_path / "plain.pt"))


def _write(torch, obj, path, **save_arguments):
    torch.save(obj, str(path), **save_arguments)
    return path


@pytest.mark.parametrize("dtype", ["complex32"])
def test_dtypes_ember_lacks_are_named(torch, tmp_path, dtype):
    """Tensors of the dtypes ember names but cannot hold are refused; the dtypes load."""
    path = _write(torch, {"t": torch.zeros(2, dtype=getattr(torch, dtype))}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match=f"dtype torch.{dtype}, which ember does not have"):
        ember.load(path)
    path = _write(torch, {"dtype": getattr(torch, dtype)}, tmp_path / "d.pt")
    assert ember.load(path)["dtype"] is getattr(ember, dtype)


@pytest.mark.parametrize("dtype", ["float8_e5m2", "float8_e4m3fn"])
def test_float8_tensors_load_with_their_bits(torch, tmp_path, dtype):
    saved = torch.tensor([1.5, -300.0, 0.3, 448.0]).to(getattr(torch, dtype))
    loaded = ember.load(_write(torch, {"t": saved, "dtype": saved.dtype}, tmp_path / "f8.pt"))
    assert loaded["t"].dtype is getattr(ember, dtype) and loaded["dtype"] is loaded["t"].dtype
    assert loaded["t"].view(ember.uint8).tolist() == saved.view(torch.uint8).tolist()


def test_unsigned_shell_dtypes_load_with_their_values(torch, tmp_path):
    saved = {"u16": torch.tensor([1, 65535], dtype=torch.uint16),
             "u32": torch.tensor([7, 2 ** 32 - 1], dtype=torch.uint32),
             "u64": torch.tensor([2 ** 64 - 1, 0], dtype=torch.uint64), "dtype": torch.uint32}
    loaded = ember.load(_write(torch, saved, tmp_path / "unsigned.pt"))
    for name in ("u16", "u32", "u64"):
        assert loaded[name].dtype is getattr(ember, str(saved[name].dtype).split(".")[1])
        assert loaded[name].tolist() == saved[name].tolist()
    assert loaded["dtype"] is ember.uint32


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "pre-1.6"])
def test_views_offsets_strides_and_shared_storage(torch, tmp_path, legacy):
    base = torch.arange(24.0).reshape(4, 6)
    obj = {"base": base, "row": base[2], "column": base[:, 3], "transposed": base.t(),
           "stepped": base[1:, ::2], "offset": base.view(-1)[5:11], "expanded":
           torch.arange(3.0).expand(4, 3), "scalar_view": base[3, 4]}
    loaded = _save_and_compare(torch, obj, tmp_path / "views.pt",
                               _use_new_zipfile_serialization=not legacy)
    # One storage, as in torch: a write through one tensor shows in the others.
    loaded["base"].mul_(-1.0)
    assert loaded["row"].tolist() == (-base[2]).tolist()
    assert loaded["transposed"].tolist() == (-base.t()).tolist()
    assert loaded["offset"].tolist() == (-base.view(-1)[5:11]).tolist()
    with pytest.raises(Exception):  # an expanded tensor cannot be written, as in torch
        loaded["expanded"].add_(1.0)
    assert loaded["expanded"].tolist() == obj["expanded"].tolist()


def test_the_same_tensor_twice_is_one_object(torch, tmp_path):
    weight = torch.randn(3, 3)
    loaded = _save_and_compare(torch, {"encoder": weight, "decoder": weight, "list": [weight]},
                               tmp_path / "tied.pt")
    assert loaded["encoder"] is loaded["decoder"] is loaded["list"][0]


def test_requires_grad_and_parameters(torch, tmp_path):
    leaf = torch.ones(2, requires_grad=True)
    obj = {"leaf": leaf, "parameter": torch.nn.Parameter(torch.randn(2)),
           "frozen": torch.nn.Parameter(torch.ones(1), requires_grad=False),
           "detached": leaf.detach()}
    loaded = _save_and_compare(torch, obj, tmp_path / "grad.pt")
    assert type(loaded["parameter"]) is ember.nn.Parameter and loaded["parameter"].is_leaf
    assert type(loaded["leaf"]) is ember.Tensor and loaded["leaf"].requires_grad


def test_file_objects_and_path_likes(torch, tmp_path):
    state = _cnn(torch).state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    expected = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    buffer.seek(0)
    _assert_same(ember.load(buffer), expected, torch)
    path = tmp_path / "model.pt"
    path.write_bytes(buffer.getvalue())
    with open(path, "rb") as file:
        _assert_same(ember.load(file), expected, torch)
    _assert_same(ember.load(str(path)), expected, torch)
    # A file object is read from where it stands, as torch.load reads it.
    offset = io.BytesIO()
    offset.write(b"header")
    torch.save(state, offset)
    offset.seek(6)
    _assert_same(ember.load(offset), expected, torch)


def test_map_location_forms_torch_accepts_for_the_cpu(torch, tmp_path):
    path = _write(torch, {"w": torch.arange(4.0)}, tmp_path / "w.pt")
    seen = []

    def remember(storage, location):
        seen.append((location, storage.device.type, len(storage)))
        return storage

    for map_location in ["cpu", torch.device("cpu"), {"cpu": "cpu"}, {"cuda:0": "cpu"},
                         lambda storage, location: storage, lambda storage, location: None,
                         remember]:
        assert ember.load(path, map_location=map_location)["w"].tolist() == [0, 1, 2, 3]
        assert torch.load(str(path), map_location=map_location)["w"].tolist() == [0, 1, 2, 3]
    # Once per storage, with the storage's bytes (an UntypedStorage in torch), in each framework.
    assert seen == [("cpu", "cpu", 16), ("cpu", "cpu", 16)]
    assert ember.load(path, map_location=ember.device("cpu"))["w"].tolist() == [0, 1, 2, 3]


def test_map_location_to_a_device_ember_lacks_fails_as_torch_does(torch, tmp_path):
    path = _write(torch, {"w": torch.arange(4.0)}, tmp_path / "w.pt")
    for map_location in ["cuda", "cuda:1", {"cpu": "cuda:0"},
                         lambda storage, location: storage.cuda()]:
        with pytest.raises(RuntimeError) as raised:
            ember.load(path, map_location=map_location)
        assert not isinstance(raised.value, CheckpointError)
        assert re.search("CUDA", str(raised.value))
        with pytest.raises((RuntimeError, TypeError)):  # torch's own errors on a CPU build
            torch.load(str(path), map_location=map_location)
    with pytest.raises(TypeError, match="map_location should be a str, a device, a dict or a "
                                        "callable"):
        ember.load(path, map_location=5)


def test_weights_only_false_is_still_restricted(torch, tmp_path):
    path = _write(torch, {"args": argparse.Namespace(lr=0.1)}, tmp_path / "namespace.pt")
    with pytest.raises(pickle.UnpicklingError, match="argparse.Namespace"):
        torch.load(str(path), weights_only=True)
    for weights_only in (None, True, False):
        with pytest.raises(UnsafeCheckpointError, match=r"names the global argparse.Namespace, "
                                                        r"which ember never loads") as raised:
            ember.load(path, weights_only=weights_only)
        assert isinstance(raised.value, pickle.UnpicklingError)
        assert isinstance(raised.value, CheckpointError)


def test_whole_modules_saved_by_torch_are_refused(torch, tmp_path):
    path = _write(torch, torch.nn.Linear(2, 2), tmp_path / "module.pt")
    with pytest.raises(UnsafeCheckpointError, match="torch.nn.modules.linear.Linear"):
        ember.load(path)
    scripted = torch.jit.script(torch.nn.Linear(2, 2))
    torch.jit.save(scripted, str(tmp_path / "scripted.pt"))
    with pytest.raises(CheckpointError, match="TorchScript archive"):
        ember.load(tmp_path / "scripted.pt")


def test_numpy_arrays_inside_torch_save_are_refused_as_torch_refuses_them(torch, tmp_path):
    path = _write(torch, {"array": np.arange(3)}, tmp_path / "numpy.pt")
    with pytest.raises(pickle.UnpicklingError):
        torch.load(str(path), weights_only=True)
    with pytest.raises(UnsafeCheckpointError, match="numpy"):
        ember.load(path)


def test_load_arguments_as_torch_checks_them(torch, tmp_path):
    path = _write(torch, {"w": torch.ones(2)}, tmp_path / "w.pt")
    message = "Can not safely load weights when explicit pickle_module is specified"
    with pytest.raises(RuntimeError, match=message):
        torch.load(str(path), pickle_module=pickle, weights_only=True)
    with pytest.raises(RuntimeError, match=message):
        ember.load(path, pickle_module=pickle, weights_only=True)
    assert ember.load(path, pickle_module=pickle)["w"].tolist() == [1.0, 1.0]
    with pytest.warns(UserWarning, match="pickle_load_args only works if `weights_only=False`"):
        ember.load(path, encoding="latin1")
    with pytest.raises(TypeError, match="unexpected keyword argument 'errors'"):
        ember.load(path, errors="strict")


class _Stream(io.RawIOBase):
    """A readable stream that cannot seek (as a socket or a pipe wrapped by a library)."""

    def __init__(self, data):
        self.data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        return self.data.readinto(buffer)


def test_non_seekable_file_objects_fail_as_in_torch(torch, tmp_path):
    data = _write(torch, {"w": torch.ones(2)}, tmp_path / "w.pt").read_bytes()
    for loader, name in ((torch.load, "torch.load"), (ember.load, "ember.load")):
        with pytest.raises(io.UnsupportedOperation, match=f"You can only {name} from a file "
                                                          f"that is seekable"):
            loader(io.BufferedReader(_Stream(data)))
        with pytest.raises(AttributeError, match=f"'int' object has no attribute 'seek'. You can "
                                                 f"only {name} from a file that is seekable"):
            loader(3)


def test_mmap_maps_the_file_copy_on_write(torch, tmp_path):
    path = _write(torch, {"w": torch.arange(6.0), "half": torch.ones(3, dtype=torch.float16)},
                  tmp_path / "w.pt")
    before = path.read_bytes()
    loaded = ember.load(path, mmap=True)
    assert loaded["w"].tolist() == [0, 1, 2, 3, 4, 5]
    assert not loaded["w"].numpy().flags.owndata
    loaded["w"].add_(1.0)
    assert loaded["w"].tolist() == [1, 2, 3, 4, 5, 6]
    assert path.read_bytes() == before  # writes stay in this process
    with pytest.raises(ValueError, match="f must be a file path in order to use the mmap"):
        ember.load(io.BytesIO(before), mmap=True)
    legacy = _write(torch, {"w": torch.ones(1)}, tmp_path / "legacy.pt",
                    _use_new_zipfile_serialization=False)
    with pytest.raises(RuntimeError, match="mmap can only be used with files saved with"):
        torch.load(str(legacy), mmap=True)
    with pytest.raises(RuntimeError, match="mmap can only be used with files saved with"):
        ember.load(legacy, mmap=True)


def test_loading_needs_no_torch(torch, tmp_path):
    model = _cnn(torch)
    _, optimizer = _trained(torch, model, torch.optim.SGD, lr=0.1, momentum=0.9)
    path = _write(torch, {"model": model.state_dict(), "optimizer": optimizer.state_dict()},
                  tmp_path / "checkpoint.pt")
    expected = sum(float(tensor.double().sum()) for tensor in model.state_dict().values())
    code = ("import sys; sys.modules['torch'] = None\n"  # any `import torch` now fails
            "import ember\n"
            f"state = ember.load({str(path)!r})\n"
            "print(sum(float(t.double().sum()) for t in state['model'].values()))\n"
            "print(sorted(state['optimizer']['state']))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": REPO}, timeout=120)
    assert result.returncode == 0, result.stderr
    total, keys = result.stdout.splitlines()
    assert float(total) == pytest.approx(expected, rel=1e-12)
    assert keys == "[0, 1, 2, 3, 4, 5]"


def test_the_documented_torch_example_runs(torch, tmp_path, monkeypatch):
    """docs/checkpoints.md shows loading a torch.save file in a block the docs test cannot run
    without torch: it runs here."""
    page = open(DOCS).read()
    match = re.search(r"```py\n(.*?)```\n\n```text\n(.*?)```", page, re.DOTALL)
    assert match is not None
    monkeypatch.chdir(tmp_path)
    output = io.StringIO()
    with warnings.catch_warnings(), __import__("contextlib").redirect_stdout(output):
        exec(compile(match.group(1), DOCS, "exec"), {"__name__": "__docs__"})
    assert output.getvalue() == match.group(2)


def test_globals_the_user_allows_load_as_in_torch(torch, tmp_path):
    path = _write(torch, {"args": argparse.Namespace(lr=0.1, layers=[2, 3]),
                          "count": collections.Counter("aab")}, tmp_path / "namespace.pt")
    with torch.serialization.safe_globals([argparse.Namespace]):
        expected = torch.load(str(path), weights_only=True)
    with ember.serialization.safe_globals([argparse.Namespace]):
        assert ember.serialization.get_safe_globals() == [argparse.Namespace]
        loaded = ember.load(path)
    assert ember.serialization.get_safe_globals() == []
    assert type(loaded["args"]) is argparse.Namespace
    assert vars(loaded["args"]) == vars(expected["args"]) == {"lr": 0.1, "layers": [2, 3]}
    with pytest.raises(UnsafeCheckpointError, match=r"add_safe_globals\(\[argparse.Namespace\]\)"):
        ember.load(path)
    ember.serialization.add_safe_globals([(argparse.Namespace, "argparse.Namespace")])
    try:
        assert ember.load(path)["args"].lr == 0.1
    finally:
        ember.serialization.clear_safe_globals()
    with pytest.raises(ValueError, match="Expected tuple of length 2"):
        ember.serialization.add_safe_globals([(argparse.Namespace,)])


def test_allowed_numpy_globals_load_numpy_state_as_in_torch(torch, tmp_path):
    """A checkpoint with NumPy's RNG state and a NumPy scalar loads once NumPy's globals are
    allowed, as torch.load's weights_only unpickler does: the allowed ndarray class reaches
    _reconstruct as the class itself (ember passed its own wrapper, a malformed-pickle error)."""
    multiarray = getattr(np, "_core", getattr(np, "core", None)).multiarray
    allowed = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype,
               type(np.dtype(np.uint32)), type(np.dtype(np.float64))]
    generator = np.random.RandomState(3)
    path = _write(torch, {"numpy_rng": generator.get_state(), "best": np.float64(0.25),
                          "epoch": 4}, tmp_path / "numpy_state.pt")
    with torch.serialization.safe_globals(allowed):
        expected = torch.load(str(path), weights_only=True)
    with ember.serialization.safe_globals(allowed):
        loaded = ember.load(path)
    assert type(loaded["best"]) is np.float64 and loaded["best"] == expected["best"] == 0.25
    assert loaded["epoch"] == 4
    name, keys, position, has_gauss, cached = loaded["numpy_rng"]
    assert (name, position, has_gauss, cached) == (expected["numpy_rng"][0],
                                                    *expected["numpy_rng"][2:])
    assert keys.dtype == np.uint32 and np.array_equal(keys, expected["numpy_rng"][1])
    resumed = np.random.RandomState()
    resumed.set_state(loaded["numpy_rng"])
    assert resumed.rand() == generator.rand()


def test_blocked_modules_stay_blocked_when_allowed(torch, tmp_path):
    class Runs:
        def __reduce__(self):
            return (os.system, ("true",))

    path = _write(torch, {"x": Runs()}, tmp_path / "system.pt")
    with ember.serialization.safe_globals([os.system]):
        with pytest.raises(UnsafeCheckpointError, match="its module (posix|nt) is blocked"):
            ember.load(path)
    with torch.serialization.safe_globals([os.system]):
        with pytest.raises(pickle.UnpicklingError, match="blocked"):
            torch.load(str(path), weights_only=True)
