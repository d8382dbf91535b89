"""ember._jit: numba is optional and loaded on a kernel's first call; EMBER_JIT=0 and
``disabled()`` turn every kernel off so callers take their NumPy paths."""
import subprocess
import sys

import numpy as np
import pytest

from ember import _jit


@_jit.kernel
def _scaled_sum(values, scale, out):
    for row in range(values.shape[0]):
        total = 0.0
        for column in range(values.shape[1]):
            total += values[row, column]
        out[row] = total * scale


@_jit.kernel(parallel=True)
def _squares(values, out):
    for index in _jit.prange(values.shape[0]):
        out[index] = values[index] * values[index]


def _run(code, **env):
    import os
    environment = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], env=environment).returncode


def test_import_ember_does_not_load_numba():
    assert _run("import sys, ember, ember.nn; assert 'numba' not in sys.modules") == 0


def test_environment_switch_turns_kernels_off():
    code = ("import sys; from ember import _jit; assert not _jit.available(); "
            "assert 'numba' not in sys.modules")
    assert _run(code, EMBER_JIT="0") == 0


def test_kernels_compute_and_disabled_returns_none():
    pytest.importorskip("numba")
    values = np.arange(12, dtype=np.float64).reshape(3, 4)
    out = np.empty(3)
    _scaled_sum.compiled()(values, 0.5, out)
    np.testing.assert_array_equal(out, values.sum(axis=1) * 0.5)
    squares = np.empty(5, dtype=np.float32)
    _squares.compiled()(np.arange(5, dtype=np.float32), squares)
    np.testing.assert_array_equal(squares, np.arange(5, dtype=np.float32) ** 2)
    assert _jit.available()
    with _jit.disabled():
        assert _scaled_sum.compiled() is None and not _jit.available()
        with _jit.disabled():
            assert _squares.compiled() is None
        assert _squares.compiled() is None
    assert _scaled_sum.compiled() is not None and _jit.available()


def test_parallel_kernels_follow_ember_thread_count():
    numba = pytest.importorskip("numba")
    import ember
    before = ember.get_num_threads()
    try:
        ember.set_num_threads(1)
        _squares.compiled()
        assert numba.get_num_threads() == 1
    finally:
        ember.set_num_threads(before)
