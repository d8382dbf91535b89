"""ember.ops.elementwise.special: erf, erfc and erfinv."""
import numpy as np
import pytest

import ember
from ember import _jit

from ..op_table import Case, CaseChecks, HalfChecks, SecondDerivativeChecks, UNARY, ValueChecks
from . import ELEMENTWISE_MODULES


# Ops of this family: their double backward must never be skipped as another family's.
OPS_MODULES = ELEMENTWISE_MODULES

CASES = [
    Case("erf", lambda fw, a: fw.erf(a * 1.5), UNARY),
    Case("erfc", lambda fw, a: fw.erfc(a * 2), UNARY),
    Case("erfc_far", lambda fw, a: (a * 3 + 6).erfc(), UNARY[1:3], "positive"),
    Case("erfinv", lambda fw, a: fw.erfinv(a), UNARY, "unit"),
]


VALUES = {
    "erf_int": lambda fw: fw.erf(fw.tensor([0, 1, 2])),
    "erfinv_edges": lambda fw: fw.erfinv(fw.tensor([-1.0, 1.0, 0.0, 1.5, 0.999999])),
    "erfc_int": lambda fw: fw.erfc(fw.tensor([0, 1, 3])),
}


class TestSpecial(CaseChecks, SecondDerivativeChecks, HalfChecks, ValueChecks):
    """The op-table checks of every entry above."""


def test_erf_float32_is_accurate_near_zero(torch):
    array = np.array([1e-6, -3e-4, 0.01, 0.5, 2.0, 4.0], np.float32)
    np.testing.assert_allclose(ember.erf(ember.tensor(array)).numpy(),
                               torch.erf(torch.tensor(array)).numpy(), rtol=3e-7, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["erf", "erfc"])
def test_erf_compiled_and_numpy_paths_match_torch(torch, dtype, name):
    # the compiled kernel (the C library's erf) where numba is present, the NumPy series and
    # continued fraction otherwise: both within a few ulp of torch, non-finite values included
    values = np.concatenate([np.linspace(-6, 6, 301), [0.0, -0.0, 1e-30, 30.0, -30.0, np.inf,
                                                      -np.inf, np.nan]]).astype(dtype)
    theirs = getattr(torch, name)(torch.tensor(values)).numpy()
    for disabled in (False, True):
        if disabled:
            with _jit.disabled():
                ours = getattr(ember, name)(ember.tensor(values)).numpy()
        else:
            ours = getattr(ember, name)(ember.tensor(values)).numpy()
        assert ours.dtype == dtype
        # float64: the series and fraction of the NumPy path keep about 12 digits in the tail
        rtol = 4e-7 if dtype == np.float32 else (1e-11 if disabled else 1e-14)
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=1e-37)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erfinv_compiled_and_numpy_paths_match_torch(torch, dtype):
    # Giles' fit and Halley's steps, on the C library's erf (compiled) or NumPy's series: both
    # within float32 rounding / float64 precision of torch, out to 1 - |x| = 1e-16 and the edges
    tail = 1 - np.logspace(-16 if dtype == np.float64 else -7, -1, 60)
    values = np.concatenate([np.linspace(-1, 1, 2001), tail, -tail,
                             [0.0, -0.0, 1e-30, 1.5, -2.0, np.inf, np.nan]]).astype(dtype)
    theirs = torch.erfinv(torch.tensor(values)).numpy()
    for disabled in (False, True):
        if disabled:
            with _jit.disabled():
                ours = ember.erfinv(ember.tensor(values)).numpy()
        else:
            ours = ember.erfinv(ember.tensor(values)).numpy()
        assert ours.dtype == dtype
        rtol = 2.5e-7 if dtype == np.float32 else (1e-11 if disabled else 1e-14)
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=1e-37)
        infinite = np.isinf(theirs)
        np.testing.assert_array_equal(np.signbit(ours[infinite]), np.signbit(theirs[infinite]))
    shaped = values[:2000].reshape(40, 50)[:, ::3]  # not contiguous
    np.testing.assert_array_equal(ember.erfinv(ember.tensor(shaped)).numpy(),
                                  ember.erfinv(ember.tensor(shaped.copy())).numpy())
