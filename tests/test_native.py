"""The compiled autograd core (ember._native): used only where built for the source in the tree,
off with EMBER_NATIVE=0, and computing exactly what the Python source computes."""
import os
import re
import subprocess
import sys
import warnings

import pytest

import ember
from ember import _native, _native_build

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A few training steps whose every loss is printed in full: a PINN (create_graph twice, Adam),
# a 2-layer LSTM (SGD, clipping) and a small convolutional net with BatchNorm and dropout.
_TRAJECTORIES = r"""
import math
import numpy as np
import ember
from ember import nn
from benchmarks.higher_order import build_pinn, pinn_problem, pinn_step

ember.manual_seed(0)
model = build_pinn(ember)
optimizer = ember.optim.Adam(model.parameters(), lr=1e-3)
x, boundary, forcing = pinn_problem(ember, 32)
print([pinn_step(ember, model, optimizer, x, boundary, forcing).item() for _ in range(20)])

lstm, head = nn.LSTM(8, 16, num_layers=2), nn.Linear(16, 5)
parameters = list(lstm.parameters()) + list(head.parameters())
optimizer = ember.optim.SGD(parameters, lr=0.5, momentum=0.9)
tokens = ember.randn(7, 3, 8)
targets = ember.randint(0, 5, (7 * 3,))
for _ in range(5):
    optimizer.zero_grad()
    output, _ = lstm(tokens)
    loss = nn.functional.cross_entropy(head(output).reshape(-1, 5), targets)
    loss.backward()
    nn.utils.clip_grad_norm_(parameters, 0.25)
    optimizer.step()
    print(repr(loss.item()))

net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.3),
                    nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
optimizer = ember.optim.AdamW(net.parameters(), lr=1e-2)
images, labels = ember.randn(6, 1, 8, 8), ember.tensor([0, 1, 2, 0, 1, 2])
for _ in range(5):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(net(images), labels)
    loss.backward()
    optimizer.step()
    print(repr(loss.item()))
net.eval()
with ember.no_grad():
    print(net(images).numpy().tobytes().hex())
print(ember._native.loaded())
"""


def _run(code, native):
    environment = dict(os.environ, EMBER_NATIVE="1" if native else "0",
                       PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=300)


def _all_built():
    return all(os.path.exists(_native.built_path(name)) for name in _native.MODULES)


def test_each_module_runs_from_its_build_where_one_exists_for_its_source():
    for name in _native.MODULES:
        built = os.path.exists(_native.built_path(name))
        expected = _native.built_path(name) if built and _native.enabled() \
            else _native.source_path(name)
        assert sys.modules[name].__file__ == expected, name


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="CI builds the core first (make test)")
def test_ci_tests_the_compiled_core():
    assert _native.loaded() == _native.MODULES


def test_a_build_made_from_other_source_is_not_loaded(monkeypatch):
    finder = _native._BuildFinder()
    monkeypatch.setattr(_native, "RECIPE", "an older recipe")
    assert [finder.find_spec(name) for name in _native.MODULES] == [None] * len(_native.MODULES)
    assert finder.find_spec("ember.tensor_of_no_such_name") is None


def test_the_python_source_computes_exactly_what_the_build_computes():
    python = _run(_TRAJECTORIES, native=False)
    assert python.returncode == 0, python.stderr
    lines = python.stdout.splitlines()
    assert lines[-1] == "()"  # EMBER_NATIVE=0: nothing compiled was loaded
    assert len(lines) == 13
    first = eval(lines[0])
    assert len(first) == 20 and first[-1] < first[0]
    if not _all_built():
        pytest.skip("the core is not built here (python -m ember._native_build)")
    native = _run(_TRAJECTORIES, native=True)
    assert native.returncode == 0, native.stderr
    assert eval(native.stdout.splitlines()[-1]) == _native.MODULES
    assert native.stdout.splitlines()[:-1] == lines[:-1]


def test_the_python_sources_own_tests_pass_without_the_build():
    # The autograd core's own tests, run on its Python source.
    tests = ["tests/autograd/test_engine.py", "tests/autograd/test_function.py",
             "tests/autograd/test_create_graph.py", "tests/autograd/test_node_hooks.py",
             "tests/autograd/test_graph.py", "tests/test_threads.py"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-p", "no:cacheprovider", *tests],
        cwd=ROOT, env=dict(os.environ, EMBER_NATIVE="0"), capture_output=True, text=True,
        timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"\n\d+ passed", result.stdout) and "failed" not in result.stdout


def test_warnings_name_the_callers_line_compiled_or_not():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ember.autograd.grad((x * x).sum(), x, only_inputs=False)
        ember.autograd.backward([x * 3], grad_variables=[ember.tensor([1.0, 0.5])])
    assert [warning.filename for warning in caught] == [__file__, __file__]
    assert [warning.category for warning in caught] == [FutureWarning, FutureWarning]


def test_build_without_cython_says_so_and_leaves_the_python_source(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(_native, "BUILD_DIR", str(tmp_path))
    monkeypatch.setitem(sys.modules, "Cython", None)
    assert _native_build.main([]) == 0
    assert "native build skipped (Cython is not installed)" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_build_skips_what_is_built_for_the_current_source(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(_native, "BUILD_DIR", str(tmp_path))
    for name in _native.MODULES:
        open(_native.built_path(name), "wb").close()
    assert _native_build.main([]) == 0
    assert capsys.readouterr().out == "ember: native build up to date\n"


def test_installing_a_build_is_atomic_and_old_builds_are_pruned(monkeypatch, tmp_path):
    monkeypatch.setattr(_native, "BUILD_DIR", str(tmp_path / "builds"))
    os.makedirs(_native.BUILD_DIR)
    suffix = _native._SUFFIX
    fresh = tmp_path / "node.so"
    fresh.write_bytes(b"compiled")
    target = _native_build._install("ember.autograd.node", str(fresh), "1234567890abcdef")
    assert target == os.path.join(_native.BUILD_DIR, f"ember.autograd.node.1234567890abcdef{suffix}")
    with open(target, "rb") as built:
        assert built.read() == b"compiled"
    current = _native.built_path("ember.autograd.engine")
    stale = [os.path.join(_native.BUILD_DIR, f"ember.no_longer_compiled.0000000000000000{suffix}"),
             target]  # not the digest of node.py
    for path in (current, stale[0]):
        open(path, "wb").close()
    _native_build._prune({name: _native.digest(name) for name in _native.MODULES})
    assert os.listdir(_native.BUILD_DIR) == [os.path.basename(current)]
