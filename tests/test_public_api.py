"""The public API survives restructuring: every public name that ember, ember.ops, ember.nn and
ember.nn.functional had before the renovation (tests/public_api.json, recorded on main) is still
there, and each package's ``__all__`` is exactly the union of its families' lists."""
import inspect
import json
import pathlib
import types

import pytest

import ember
import ember.nn.functional as F
from ember import ops

RECORDED = json.loads((pathlib.Path(__file__).parent / "public_api.json").read_text())
NAMESPACES = {"ember": ember, "ember.ops": ops, "ember.nn": ember.nn, "ember.nn.functional": F}
# Names recorded on main that were never API: submodules of ops that moved to ember.nn._kernels
# and ember.nn.functional, and modules or helpers that nn/functional.py happened to import.
MOVED_OR_ACCIDENTAL = {
    "ember.ops": {"activation", "attention", "conv", "dropout", "fold", "loss", "nn_linear",
                  "normalization", "padding", "pooling", "recurrent", "sampling"},
    "ember.nn.functional": {"np", "numpy_generator", "warnings"},
}


@pytest.mark.parametrize("namespace", sorted(NAMESPACES))
def test_no_public_name_disappeared(namespace):
    module = NAMESPACES[namespace]
    expected = set(RECORDED[namespace]) - MOVED_OR_ACCIDENTAL.get(namespace, set())
    missing = sorted(name for name in expected if not hasattr(module, name))
    assert not missing, f"{namespace} lost {missing}"


def _families(package, names):
    return [getattr(package, name) for name in names]


@pytest.mark.parametrize("package, families", [
    (ops, ("elementwise", "index", "shape", "reduce", "linalg")),
    (ops.elementwise, ("arithmetic", "bitwise", "casting", "comparison", "complex_parts",
                       "exp_log", "extrema", "gamma", "rounding", "special", "trigonometric")),
    (F, ("_activation", "_attention", "_conv", "_distance", "_dropout", "_linear", "_loss",
         "_normalization", "_padding", "_pooling", "_sparse", "_unpooling", "_vision")),
], ids=["ops", "ops.elementwise", "nn.functional"])
def test_package_all_is_the_union_of_its_families(package, families):
    modules = _families(package, families)
    listed = [name for module in modules for name in module.__all__]
    assert len(listed) == len(set(listed)), "a name is listed by two families"
    assert sorted(package.__all__) == sorted(listed)
    for module in modules:
        for name in module.__all__:
            assert getattr(package, name) is getattr(module, name), f"{module.__name__}.{name}"


def test_ember_exports_every_top_level_op():
    for name in ops.__all__:
        # ember's may take NumPy's argument names in front of the op (numpy_names)
        assert inspect.unwrap(getattr(ember, name)) is inspect.unwrap(getattr(ops, name)), name


def test_family_lists_hold_functions_not_modules():
    for package in (ops, F):
        for name in package.__all__:
            assert not isinstance(getattr(package, name), types.ModuleType), name
