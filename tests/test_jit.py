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


def test_a_kernels_first_call_keeps_warnings_shown_once(tmp_path):
    pytest.importorskip("numba")
    script = tmp_path / "once.py"
    script.write_text(
        "import warnings\n"
        "import numpy as np\n"
        "from ember import _jit\n"
        "def deprecated():\n"
        "    warnings.warn('shown once', FutureWarning)\n"
        "@_jit.kernel\n"
        "def plus_one(x):\n"
        "    return x + 1\n"
        "for value in (np.float32(1), np.float64(1), np.float32(2)):\n"
        "    deprecated()\n"
        "    plus_one.compiled()(value)\n"
        "deprecated()\n")
    for _ in range(2):  # compiled, then loaded from numba's cache
        result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                                cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stderr.count("FutureWarning: shown once") == 1, result.stderr


_WIDE_CHECK = """
import numpy as np, llvmlite.binding as binding, ember
from ember.nn._kernels import activation
values = np.linspace(-9.0, 9.0, 4099, dtype=np.float32)
result = activation._gelu_float32(values)
import numba
features = numba.core.config.CPU_FEATURES
host = binding.get_host_cpu_features()
np.save({path!r}, result)
print(features if features is None else features.rpartition(",")[2], bool(host.get("avx512f")))
"""


def _wide_check(tmp_path, name, **env):
    import os
    path = str(tmp_path / f"{name}.npy")
    output = subprocess.run([sys.executable, "-c", _WIDE_CHECK.format(path=path)],
                            env=dict(os.environ, **env), capture_output=True, text=True)
    assert output.returncode == 0, output.stderr
    return output.stdout.split(), np.load(path)


def test_kernels_may_use_512_bit_vectors_with_the_same_values(tmp_path):
    pytest.importorskip("numba")
    import llvmlite.binding as binding
    (last_feature, avx512), wide = _wide_check(tmp_path, "wide")
    # ember lifts LLVM's 256-bit preference on AVX-512 hosts, and only there
    assert last_feature == ("-prefer-256-bit" if avx512 == "True" else "None")
    # a user's own choice of features is kept
    host = binding.get_host_cpu_features().flatten()
    (kept, _), narrow = _wide_check(tmp_path, "narrow", NUMBA_CPU_FEATURES=host)
    assert kept == host.rpartition(",")[2]
    # the GELU kernel's operations round alike at either vector width
    np.testing.assert_array_equal(wide, narrow)


@_jit.kernel
def _exponentials(values, out):
    for index in range(values.shape[0]):
        out[index] = _jit.exp_float32(values[index])


def _exp_inputs():
    random = np.random.default_rng(3)
    values = random.uniform(-100.0, 100.0, 4000).astype(np.float32)
    # around the lowest argument with a normal exp: below it the kernels compute exp(0), then 0
    lowest = _jit._EXP_LOWEST
    edges = np.array([np.nextafter(lowest, -np.inf), lowest, np.nextafter(lowest, np.inf), -87.0],
                     np.float32)
    return np.concatenate([values, edges, np.array([np.nan, np.inf, -np.inf, 0.0, -87.3, 88.7, 88.8],
                                            np.float32)])


def test_exp_float32_array_within_two_ulp_of_exp_and_its_edges():
    values = _exp_inputs()
    out = _jit.exp_float32_array(values, np.empty_like(values))
    exact = np.exp(values.astype(np.float64))
    tiny, largest = np.finfo(np.float32).tiny, np.finfo(np.float32).max
    normal = (exact >= tiny) & (exact <= largest)
    ulp = np.spacing(exact[normal].astype(np.float32)).astype(np.float64)
    assert (np.abs(out[normal] - exact[normal]) <= 2 * ulp).all()
    # 0 below the lowest argument; from it up to exp's first normal (a float32 step) the
    # subnormal computed, not 0 and not the exp(0) that the kernels compute there and discard
    below = values < _jit._EXP_LOWEST
    assert (out[below] == 0).all()
    just_above = ~below & (exact < tiny)
    assert just_above.any()
    np.testing.assert_allclose(out[just_above], exact[just_above], rtol=1e-5)
    assert (out[np.isinf(exact) & (exact > 0)] == np.inf).all()
    assert np.isnan(out[-7]) and out[-6] == np.inf and out[-5] == 0 and out[-4] == 1
    # in place gives the same bits; so do the scalar form and the compiled kernels
    in_place = values.copy()
    np.testing.assert_array_equal(_jit.exp_float32_array(in_place, in_place), out)
    with np.errstate(over="ignore"):
        scalars = np.array([_jit.exp_float32(value) for value in values[:200]], np.float32)
    np.testing.assert_array_equal(scalars, out[:200])
    kernel = _exponentials.compiled()
    if kernel is not None:
        compiled = np.empty_like(values)
        kernel(values, compiled)
        np.testing.assert_array_equal(compiled, out)
