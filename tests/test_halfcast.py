"""float32 <-> float16 / bfloat16 conversions (ember._halfcast): the compiled passes give NumPy's
and ml_dtypes' bit patterns, and PyTorch's values."""
import ml_dtypes
import numpy as np
import pytest

import ember
from ember import _halfcast, _jit

BFLOAT16 = np.dtype(ml_dtypes.bfloat16)


def _float32_patterns():
    """Random float32 bit patterns plus every one near the edges: half's subnormal and overflow
    thresholds, the largest finite values, infinities and NaNs, both signs."""
    rng = np.random.default_rng(0)
    bits = np.concatenate([
        rng.integers(0, 1 << 32, 400_000, dtype=np.uint64).astype(np.uint32),
        np.arange(0x32FFF000, 0x33001000, dtype=np.uint32),  # below half's smallest subnormal
        np.arange(0x387FF000, 0x38801000, dtype=np.uint32),  # half's subnormal/normal edge
        np.arange(0x477FE000, 0x47801000, dtype=np.uint32),  # half's overflow
        np.arange(0x7F7FF000, 0x7F801000, dtype=np.uint32),  # float32's top, inf, NaNs
        np.arange(0x7FBFF000, 0x7FC01000, dtype=np.uint32),  # signalling/quiet NaNs
        np.arange(0, 0x1000, dtype=np.uint32)])  # float32 subnormals
    return np.concatenate([bits, bits | np.uint32(0x80000000)]).view(np.float32)


@pytest.mark.parametrize("dtype", [np.float16, BFLOAT16], ids=["float16", "bfloat16"])
def test_compiled_conversions_give_astype_bit_patterns(dtype):
    if not _jit.available():
        pytest.skip("numba absent: astype itself runs")
    values = _float32_patterns()
    with np.errstate(all="ignore"):
        expected = values.astype(dtype)
    narrowed = _halfcast.astype(values, dtype)
    np.testing.assert_array_equal(narrowed.view(np.uint16), expected.view(np.uint16))
    every = np.arange(1 << 16, dtype=np.uint16).view(dtype)
    np.testing.assert_array_equal(_halfcast.astype(every, np.float32).view(np.uint32),
                                  every.astype(np.float32).view(np.uint32))


def test_tensor_conversions_match_torch(torch):
    rng = np.random.default_rng(1)
    values = (rng.standard_normal(5000) * 10.0 ** rng.integers(-9, 6, 5000)).astype(np.float32)
    values[:4] = [np.inf, -np.inf, 7e4, -1e-8]
    ours, theirs = ember.tensor(values.reshape(50, 100)), torch.tensor(values.reshape(50, 100))
    for method in ("half", "bfloat16"):
        narrowed = getattr(ours, method)()
        expected = getattr(theirs, method)()
        np.testing.assert_array_equal(narrowed.float().numpy(), expected.float().numpy())
        assert str(narrowed.dtype).split(".")[1] == str(expected.dtype).split(".")[1]
    with _jit.disabled():  # the NumPy path: the same values
        np.testing.assert_array_equal(ours.half().float().numpy(), theirs.half().float().numpy())


@pytest.mark.parametrize("dtype", [np.float16, BFLOAT16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("ufunc", [np.add, np.subtract, np.multiply, np.true_divide, np.less])
def test_binary_in_float32_gives_the_dtypes_own_loops(dtype, ufunc):
    """Half-precision ufuncs computed in float32 and rounded once give NumPy's (ml_dtypes')
    own element loops bit for bit: array pairs, a broadcast row, strided views, weak numbers
    (cast to the dtype first), infinities and NaNs."""
    if not _jit.available():
        pytest.skip("numba absent: the ufuncs run as they are")
    rng = np.random.default_rng(2)
    values = (rng.standard_normal((64, 96)) * 10.0 ** rng.integers(-6, 4, (64, 96)))
    values[0, :4] = [np.inf, -np.inf, np.nan, 0.0]
    a = values.astype(np.float32).astype(dtype)
    b = (rng.standard_normal((64, 96)) * 3).astype(np.float32).astype(dtype)
    b[1, :3] = [0.0, -0.0, np.inf]
    cases = [(a, b), (a, b[0]), (a.T, b.T), (a[:, ::2], b[:, 1::2]), (a, 0.1), (1.7, a),
             (a, 3), (a, np.float32(0.3))]
    for x, y in cases:
        with np.errstate(all="ignore"):
            expected = ufunc(x, y)
            ours = _halfcast.binary(ufunc, x, y)
        assert ours is not None and ours.dtype == expected.dtype and ours.shape == expected.shape
        np.testing.assert_array_equal(np.ascontiguousarray(ours).view(np.uint8),
                                      np.ascontiguousarray(expected).view(np.uint8))


def test_binary_leaves_what_it_does_not_cover_to_the_caller():
    small = np.ones(10, np.float16)
    large = np.ones(4096, np.float16)
    assert _halfcast.binary(np.add, small, small) is None  # below the kernels' size
    assert _halfcast.binary(np.add, large, large.astype(np.float32)) is None  # mixed dtypes
    assert _halfcast.binary(np.add, large, 1e6) is None  # beyond float16: NumPy's cast decides
    assert _halfcast.binary(np.add, large.astype(np.float32), 1.0) is None


@pytest.mark.parametrize("method", ["half", "bfloat16"])
def test_half_precision_arithmetic_matches_torch(torch, method):
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 48, 80)).astype(np.float32)
    results = []
    for library in (ember, torch):
        x = getattr(library.tensor(a), method)().requires_grad_(True)
        y = getattr(library.tensor(b), method)()
        out = (x * y + 0.3) / (y - 2.5) - x * 0.7
        out.float().sum().backward()
        with library.no_grad():
            plain = x * y + x - y / 1.5
        results.append((out.float().detach().numpy(), x.grad.float().numpy(),
                        plain.float().numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)
