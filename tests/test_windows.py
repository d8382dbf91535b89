"""The window functions (hann, hamming, blackman, bartlett, kaiser) against PyTorch: values,
lengths 0 and 1, periodic and symmetric, dtypes, requires_grad and errors."""
import numpy as np
import pytest

import ember
from tests.conftest import assert_close, assert_raises_like_torch

WINDOWS = ["hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window"]


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("length", [0, 1, 2, 3, 8, 17, 100])
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_window_matches_torch(torch, name, length, periodic, dtype):
    ours = getattr(ember, name)(length, periodic, dtype=getattr(ember, dtype))
    theirs = getattr(torch, name)(length, periodic, dtype=getattr(torch, dtype))
    assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("call", ["hamming_window(9, False, 0.6, 0.3)",
                                  "hamming_window(8, True, 0.5)",
                                  "kaiser_window(9, False, 3.0)", "kaiser_window(6, True, 0.5)",
                                  "hann_window(5)"])
def test_window_parameters_and_default_dtype_match_torch(torch, call):
    assert_close(eval(call, vars(ember)), eval(call, {name: getattr(torch, name)
                                                      for name in WINDOWS}))


def test_symmetric_windows_are_symmetric_and_periodic_ones_drop_the_last_value():
    for name in WINDOWS:
        symmetric = getattr(ember, name)(9, periodic=False, dtype=ember.float64).numpy()
        np.testing.assert_allclose(symmetric, symmetric[::-1], atol=1e-12)
        periodic = getattr(ember, name)(8, periodic=True, dtype=ember.float64).numpy()
        np.testing.assert_allclose(periodic, symmetric[:8], atol=1e-12)


@pytest.mark.parametrize("name", WINDOWS)
def test_window_requires_grad(name):
    window = getattr(ember, name)(4, requires_grad=True)
    assert window.requires_grad and window.is_leaf and window.dtype == ember.float32
    with ember.no_grad():
        assert getattr(ember, name)(1, requires_grad=True).requires_grad


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("arguments", ["(-1)", "(3, dtype=int64)", "(4, dtype=int32)",
                                       "(2.0)"])
def test_window_errors_match_torch(torch, name, arguments):
    def run(framework):
        return eval(f"window{arguments}", {"window": getattr(framework, name),
                                           "int64": framework.int64, "int32": framework.int32})
    assert_raises_like_torch(lambda: run(torch), lambda: run(ember), same_type=True)


# torch.signal.windows: keyword ``sym`` and each window's own parameters.
SIGNAL_WINDOWS = {"bartlett": {}, "blackman": {}, "cosine": {}, "exponential": {"tau": 3.0},
                  "gaussian": {"std": 2.5}, "general_cosine": {"a": [0.5, 0.3, 0.2]},
                  "general_hamming": {"alpha": 0.6}, "hamming": {}, "hann": {},
                  "kaiser": {"beta": 5.0}, "nuttall": {}}


@pytest.mark.parametrize("name", sorted(SIGNAL_WINDOWS))
@pytest.mark.parametrize("length", [0, 1, 2, 7, 16])
@pytest.mark.parametrize("sym", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_signal_window_matches_torch(torch, name, length, sym, dtype):
    ours = getattr(ember.signal.windows, name)(length, sym=sym, dtype=getattr(ember, dtype),
                                               **SIGNAL_WINDOWS[name])
    theirs = getattr(torch.signal.windows, name)(length, sym=sym, dtype=getattr(torch, dtype),
                                                 **SIGNAL_WINDOWS[name])
    assert_close(ours, theirs, rtol=1e-6 if dtype == "float32" else 1e-12, atol=1e-7)


def test_signal_windows_defaults_centre_and_requires_grad_match_torch(torch):
    for call in ("exponential(6, center=1.0, sym=False)", "gaussian(5)", "kaiser(9)",
                 "hann(4, requires_grad=True)", "general_hamming(6)"):
        ours = eval(call, vars(ember.signal.windows))
        theirs = eval(call, vars(torch.signal.windows))
        assert_close(ours, theirs)
        assert ours.requires_grad == theirs.requires_grad


@pytest.mark.parametrize("call", ["hann(-1)", "gaussian(3, std=0)",
                                  "exponential(3, center=1.)", "kaiser(3, beta=-1)",
                                  "general_cosine(3, a=[])", "general_cosine(3, a=1.0)",
                                  "exponential(3, tau=0)"])
def test_signal_window_errors_match_torch(torch, call):
    def run(framework):
        return eval(call, {**vars(framework.signal.windows), "fw": framework})
    assert_raises_like_torch(lambda: run(torch), lambda: run(ember), same_type=True)


def test_signal_window_refuses_integer_dtypes():
    with pytest.raises(ValueError, match="kaiser expects float32 or float64 dtypes, got: "
                                         "ember.int32"):
        ember.signal.windows.kaiser(3, dtype=ember.int32)
