"""Malformed checkpoints: every one raises CheckpointError from ember.load, and `ember inspect`
answers 0 or 2, never anything else.

A seeded corpus of mutations of real checkpoints (truncations, byte flips, edits of the safetensors
header, edits of the object tree re-sealed with a valid checksum so the decoder itself is reached),
the crafted files that escaped as other exceptions before, and hypothesis-generated headers.
"""
import collections
import contextlib
import io
import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from ember.cli.main import main
from ember.io import CheckpointError, checkpoint

safetensors_numpy = pytest.importorskip("safetensors.numpy")

SEED = 20240613


def _corpus():
    """Valid checkpoints to mutate: a training-style object tree, a flat state_dict, a tiny tree."""
    weight = ember.randn(3, 4)
    rich = {"model": {"fc.weight": weight, "fc.bias": ember.zeros(4),
                      "bn.num_batches_tracked": ember.tensor(7),
                      "mask": ember.tensor([True, False])},
            "optimizer": {"state": {0: {"step": 3, "exp_avg": ember.ones(2, dtype=ember.float64)}},
                          "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0]}]},
            "epoch": 2, "floats": [float("nan"), -0.0, 1e300], "dtype": ember.float16,
            "numpy": {"scalar": np.float32(0.5), "int": np.int8(-3), "flag": np.bool_(True)},
            "ordered": collections.OrderedDict([("z", 1)]),
            "keys": {1: "one", (2, "b"): "tuple"}, "shared": [weight, weight],
            "parameter": ember.nn.Parameter(ember.ones(2)),
            "grad": ember.ones(3, requires_grad=True), "array": np.arange(4, dtype=np.int16),
            "values": [{1, 2}, frozenset({"a"}), 1 - 2j, b"\x00\xff", bytearray(b"ab"),
                       ember.Size([2, 3]), ember.device("cuda", 1)],
            "counter": collections.Counter("aab"),
            "rng": np.random.RandomState(0).get_state(),
            "state_dict": ember.nn.Linear(1, 1).state_dict()}
    flat = {"layer.0.weight": ember.randn(2, 3), "layer.0.bias": ember.randn(2),
            "steps": ember.tensor(3, dtype=ember.int32)}
    tiny = {"epoch": 1}
    return {"rich": rich, "flat": flat, "tiny": tiny}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    files = {}
    for name, obj in _corpus().items():
        path = folder / f"{name}.safetensors"
        ember.save(obj, path)
        files[name] = path.read_bytes()
    return files


def _split(data):
    """(header dict, data section) of a valid file."""
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + length]), data[8 + length:]


def _join(header, data_section, raw_header=None):
    encoded = raw_header if raw_header is not None else json.dumps(header).encode("utf-8")
    return struct.pack("<Q", len(encoded)) + encoded + data_section


def _sealed(tree, arrays):
    """A file whose object tree is ``tree`` with a valid checksum: the decoder is what reads it."""
    tree_json = json.dumps(tree)
    metadata = {"ember": tree_json, "ember.crc32": checkpoint._checksum(tree_json, arrays)}
    return safetensors_numpy.save(arrays, metadata=metadata)


def _outcome(path):
    """'loaded' or 'rejected'; any exception other than CheckpointError fails the test."""
    try:
        ember.load(path)
    except CheckpointError as error:
        assert str(path) in str(error)
        assert ".tmp" not in str(error)
        return "rejected"
    return "loaded"


def _inspect_status(path):
    """`ember inspect` in this process: 0 or 2, one error line, nothing raised."""
    output, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(errors):
        status = main(["inspect", str(path)])
    assert status in (0, 2)
    if status == 2:
        assert errors.getvalue().count("\n") == 1 and errors.getvalue().startswith("ember: error:")
    output.getvalue().encode("utf-8")  # printable: no lone surrogates reach the terminal
    return status


# ---- the cases that escaped as other exceptions before -----------------------------------------

def _header_cases():
    one_float = b"\0" * 4
    return {
        "65 dimensions": ({"t": {"dtype": "F32", "shape": [1] * 65, "data_offsets": [0, 4]}},
                          one_float),
        "zero times 10**30": ({"t": {"dtype": "F32", "shape": [0, 10 ** 30],
                                     "data_offsets": [0, 0]}}, b""),
        "zero times 2**62": ({"t": {"dtype": "F32", "shape": [0, 2 ** 62],
                                    "data_offsets": [0, 0]}}, b""),
        "offset 2**70": ({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 2 ** 70]}},
                         one_float),
        "float size": ({"t": {"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}},
                       one_float),
        "boolean size": ({"t": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}},
                         one_float),
        "lone surrogate name": ({"\ud800": {"dtype": "F32", "shape": [1],
                                            "data_offsets": [0, 4]}}, one_float),
        "lone surrogate metadata": ({"__metadata__": {"\udfff": "x"}}, b""),
        "dtype as a list": ({"t": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}},
                            one_float),
        "metadata list": ({"__metadata__": ["ember"]}, b""),
        "entry is a list": ({"t": [1, 2, 3]}, b""),
    }


def test_duplicate_names_in_the_header(tmp_path):
    entry = b'{"dtype":"F32","shape":[1],"data_offsets":[0,4]}'
    path = tmp_path / "twice.safetensors"
    path.write_bytes(_join(None, b"\0" * 4, raw_header=b'{"t":' + entry + b',"t":' + entry + b"}"))
    with pytest.raises(CheckpointError, match="names 't' twice"):
        ember.load(path)


_INTEGERS = {"a": np.zeros(2, np.int64)}
_FLOATS = {"a": np.zeros(2, np.float32)}


def _tree_cases():
    return {
        "int8 scalar 10**30": ({"x": {"$scalar": "int8", "$value": 10 ** 30}}, {}),
        "uint8 scalar -1": ({"x": {"$scalar": "uint8", "$value": -1}}, {}),
        "float32 scalar 1e300": ({"x": {"$scalar": "float32", "$value": 1e300}}, {}),
        "float64 scalar 10**400": ({"x": {"$scalar": "float64", "$value": 10 ** 400}}, {}),
        "bool scalar 2": ({"x": {"$scalar": "bool", "$value": 2}}, {}),
        "object scalar": ({"x": {"$scalar": "object", "$value": 1}}, {}),
        "scalar dtype list": ({"x": {"$scalar": ["int8"], "$value": 1}}, {}),
        "integer $parameter": ({"x": {"$tensor": "a", "$parameter": 1}}, _FLOATS),
        "integer $requires_grad": ({"x": {"$tensor": "a", "$requires_grad": 1}}, _FLOATS),
        "$requires_grad on int64": ({"x": {"$tensor": "a", "$requires_grad": True}}, _INTEGERS),
        "parameter requiring grad on int64": (
            {"x": {"$tensor": "a", "$parameter": True, "$requires_grad": True}}, _INTEGERS),
        "missing tensor": ({"x": {"$tensor": "b"}}, _FLOATS),
        "tensor name is a list": ({"x": {"$tensor": ["a"]}}, _FLOATS),
        "ndarray name is a number": ({"x": {"$ndarray": 3}}, _FLOATS),
        "unhashable key": ({"$dict": [[[1, 2], "v"]]}, {}),
        "dict key": ({"$dict": [[{"k": 1}, "v"]]}, {}),
        "pair of three": ({"$dict": [[1, 2, 3]]}, {}),
        "pairs not a list": ({"$odict": {"a": 1}}, {}),
        "tuple of a dict": ({"x": {"$tuple": {"a": 1}}}, {}),
        "unknown dtype": ({"x": {"$dtype": "float128"}}, {}),
        "dtype is a number": ({"x": {"$dtype": 5}}, {}),
        "finite $float": ({"x": {"$float": "1.5"}}, {}),
        "$float is a list": ({"x": {"$float": ["nan"]}}, {}),
        "unknown marker": ({"x": {"$pickle": "os.system"}}, {}),
        "marker with extra keys": ({"x": {"$float": "nan", "y": 1}}, {}),
        "two markers": ({"x": {"$tensor": "a", "$ndarray": "a"}}, _FLOATS),
        "set of lists": ({"x": {"$set": [[1]]}}, {}),
        "set of a dict": ({"x": {"$set": {"a": 1}}}, {}),
        "size of floats": ({"x": {"$size": [1.5]}}, {}),
        "size of a string": ({"x": {"$size": "12"}}, {}),
        "complex of three": ({"x": {"$complex": [1, 2, 3]}}, {}),
        "complex of strings": ({"x": {"$complex": ["1", "2"]}}, {}),
        "bytes not base64": ({"x": {"$bytes": "!!!"}}, {}),
        "bytes not text": ({"x": {"$bytearray": 5}}, {}),
        "bytes with a surrogate": ({"x": {"$bytes": "\ud800"}}, {}),
        "unknown device": ({"x": {"$device": "warp:1"}}, {}),
        "device is a number": ({"x": {"$device": 0}}, {}),
        "attributes on a plain dict": ({"x": {"$dict": [], "$attributes": {}}}, {}),
        "attribute hides a method": ({"x": {"$odict": [], "$attributes": {"items": 1}}}, {}),
        "dunder attribute": ({"x": {"$counter": [], "$attributes": {"__class__": 1}}}, {}),
        "attributes not a dict": ({"x": {"$odict": [], "$attributes": [1]}}, {}),
    }


def _crafted_files():
    """label -> bytes of every crafted case: headers as written, trees sealed with a checksum."""
    files = {f"header: {label}": _join(header, data)
             for label, (header, data) in _header_cases().items()}
    files.update({f"tree: {label}": _sealed(tree, arrays)
                  for label, (tree, arrays) in _tree_cases().items()})
    return files


@pytest.mark.parametrize("case", list(_crafted_files()))
def test_crafted_files_are_checkpoint_errors(tmp_path, case):
    path = tmp_path / "crafted.safetensors"
    path.write_bytes(_crafted_files()[case])
    with pytest.raises(CheckpointError, match="crafted.safetensors' is not a valid checkpoint"):
        ember.load(path)
    assert _inspect_status(path) == 2


def test_deeply_nested_tree_is_a_checkpoint_error(tmp_path):
    tree_json = "[" * 200000 + "]" * 200000  # written by hand: json.dumps would recurse too
    metadata = {"ember": tree_json, "ember.crc32": checkpoint._checksum(tree_json, {})}
    path = tmp_path / "deep.safetensors"
    path.write_bytes(safetensors_numpy.save({}, metadata=metadata))
    with pytest.raises(CheckpointError, match="cannot be decoded"):
        ember.load(path)


def test_lone_surrogates_inside_the_tree_round_trip_and_inspect_prints(tmp_path):
    path = tmp_path / "surrogate.safetensors"
    ember.save({"name\ud800": "value\udfff", "w": ember.ones(1)}, path)
    assert ember.load(path)["name\ud800"] == "value\udfff"
    assert _inspect_status(path) == 0


# ---- the seeded corpus of mutations ------------------------------------------------------------

_BAD_VALUES = [None, True, -1, 1.5, "x", [], {}, [-1], [1] * 65, [0, 10 ** 30], [2 ** 64],
               [2 ** 62, 4], 2 ** 64, "\ud800", [0, 1, 2], {"$tensor": 1}]


def _header_mutations(header, rng):
    """Copies of ``header`` with one field of one entry replaced by an adversarial value."""
    names = list(header)
    for _ in range(120):
        mutated = json.loads(json.dumps(header))
        name = names[rng.integers(len(names))]
        if name == "__metadata__":
            key = list(mutated[name])[rng.integers(len(mutated[name]))]
            mutated[name][key] = _BAD_VALUES[rng.integers(len(_BAD_VALUES))]
        else:
            field = ["dtype", "shape", "data_offsets", "extra", "name"][rng.integers(5)]
            value = _BAD_VALUES[rng.integers(len(_BAD_VALUES))]
            if field == "name":
                mutated[str(value)] = mutated.pop(name)
            elif field == "extra":
                mutated[name]["extra"] = value
            else:
                mutated[name][field] = value
        yield mutated


def _tree_mutations(tree, rng):
    """Copies of ``tree`` with one node (anywhere in it) replaced by an adversarial value."""
    def nodes(value, path):
        yield path
        children = value.items() if isinstance(value, dict) else (
            enumerate(value) if isinstance(value, list) else ())
        for key, child in children:
            yield from nodes(child, path + (key,))

    paths = list(nodes(tree, ()))[1:]
    replacements = _BAD_VALUES + [
        {"$scalar": "int8", "$value": 300}, {"$scalar": "float16", "$value": 1e6},
        {"$tensor": "model.mask", "$requires_grad": True}, {"$parameter": True},
        {"$dict": [[[], 1]]}, {"$float": "1.0"}, {"$dtype": "nope"}, {"$odict": 5},
        {"$tuple": {}}, {"$ndarray": "missing"}, {"$tensor": "model.fc.bias", "$parameter": 2},
        {"$set": [[]]}, {"$size": [None]}, {"$complex": [1]}, {"$bytes": "a"},
        {"$device": "gpu"}, {"$odict": [], "$attributes": {"keys": 1}}, {"$tensor": "rng.1"}]
    for _ in range(150):
        mutated = json.loads(json.dumps(tree))
        *parents, last = paths[rng.integers(len(paths))]
        node = mutated
        for key in parents:
            node = node[key]
        node[last] = replacements[rng.integers(len(replacements))]
        yield mutated


def test_seeded_mutations_never_escape_as_other_exceptions(tmp_path, corpus):
    rng = np.random.default_rng(SEED)
    path = tmp_path / "mutant.safetensors"
    outcomes = {"loaded": 0, "rejected": 0}
    inspected = 0
    for name, data in corpus.items():
        header, data_section = _split(data)
        arrays = safetensors_numpy.load(data)
        mutants = []
        mutants += [data[:length] for length in rng.integers(0, len(data), size=60)]
        for position in rng.integers(0, len(data), size=200):
            flipped = bytearray(data)
            flipped[position] ^= int(rng.integers(1, 256))
            mutants.append(bytes(flipped))
        mutants += [_join(mutated, data_section) for mutated in _header_mutations(header, rng)]
        if "ember" in header.get("__metadata__", {}):
            tree = json.loads(header["__metadata__"]["ember"])
            mutants += [_sealed(mutated, arrays) for mutated in _tree_mutations(tree, rng)]
        for index, mutant in enumerate(mutants):
            path.write_bytes(mutant)
            outcomes[_outcome(path)] += 1
            if index % 5 == 0:
                _inspect_status(path)
                inspected += 1
    # Every kind of mutation was exercised, and most of them were caught.
    assert outcomes["rejected"] > 0.8 * sum(outcomes.values())
    assert inspected > 200


# ---- hypothesis: arbitrary headers -------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2 ** 70, max_value=2 ** 70)
    | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4),
                                                                       children, max_size=3),
    max_leaves=8)
_entries = st.fixed_dictionaries(
    {"dtype": st.sampled_from(["F32", "I64", "BOOL", "F16", "U8", "BF16"]) | _json_values,
     "shape": st.lists(st.integers(min_value=-2, max_value=2 ** 66), max_size=70) | _json_values,
     "data_offsets": st.lists(st.integers(min_value=-2, max_value=2 ** 66), min_size=2,
                              max_size=2) | _json_values})


@settings(max_examples=150, deadline=None)
@given(header=st.dictionaries(st.text(max_size=3), _entries | _json_values, max_size=3),
       data_length=st.integers(min_value=0, max_value=64))
def test_arbitrary_headers_are_loaded_or_rejected(tmp_path_factory, header, data_length):
    path = tmp_path_factory.mktemp("hypothesis") / "generated.safetensors"
    path.write_bytes(_join(header, bytes(range(data_length))))
    _outcome(path)
