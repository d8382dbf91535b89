"""torch.quasirandom.SobolEngine: the direction numbers, the scrambling and every drawn point
bit for bit as PyTorch's, through draw, draw_base2, fast_forward and reset."""
import numpy as np
import pytest

import ember
from tests.conftest import assert_raises_like_torch

pytest.importorskip("scipy")  # the Joe-Kuo direction numbers are read from SciPy's copy


@pytest.mark.parametrize("dimension", [1, 2, 7, 300, 21201])
def test_direction_numbers_are_torchs(torch, dimension):
    ours = ember.quasirandom.SobolEngine(dimension).sobolstate
    theirs = torch.quasirandom.SobolEngine(dimension).sobolstate
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours.dtype is ember.int64


@pytest.mark.parametrize("dimension, scramble, seed, dtype", [
    (3, False, None, None), (3, True, 0, None), (7, True, 123, "float64"), (40, True, 5, None),
    (2, True, 9, "float64")])
def test_points_are_torchs_bit_for_bit(torch, dimension, scramble, seed, dtype):
    ours = ember.quasirandom.SobolEngine(dimension, scramble=scramble, seed=seed)
    theirs = torch.quasirandom.SobolEngine(dimension, scramble=scramble, seed=seed)
    np.testing.assert_array_equal(ours.shift.numpy(), theirs.shift.numpy())
    np.testing.assert_array_equal(ours.sobolstate.numpy(), theirs.sobolstate.numpy())
    steps = [("draw", 1), ("draw", 5), ("fast_forward", 3), ("draw", 17), ("reset",),
             ("draw", 8), ("draw_base2", 3), ("fast_forward", 1), ("draw", 1)]
    for method, *arguments in steps:
        if method in ("reset", "fast_forward"):
            getattr(ours, method)(*arguments)
            getattr(theirs, method)(*arguments)
            continue
        mine = getattr(ours, method)(*arguments, dtype=dtype and getattr(ember, dtype))
        expected = getattr(theirs, method)(*arguments, dtype=dtype and getattr(torch, dtype))
        assert mine.dtype.itemsize == expected.dtype.itemsize
        np.testing.assert_array_equal(mine.numpy(), expected.numpy())
    np.testing.assert_array_equal(ours.quasi.numpy(), theirs.quasi.numpy())
    assert ours.num_generated == theirs.num_generated
    assert repr(ours) == repr(theirs)


def test_unseeded_scrambling_draws_from_the_default_generator(torch):
    torch.manual_seed(3)
    ember.manual_seed(3)
    ours = ember.quasirandom.SobolEngine(4, scramble=True).draw(6)
    theirs = torch.quasirandom.SobolEngine(4, scramble=True).draw(6)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(ember.rand(3).numpy(), torch.rand(3).numpy())


def test_draw_into_out(torch):
    for library in (ember, torch):
        out = library.empty(0)
        assert library.quasirandom.SobolEngine(2).draw(4, out=out) is out
        assert tuple(out.shape) == (4, 2)


@pytest.mark.parametrize("call", ["SobolEngine(0)", "SobolEngine(21202)",
                                  "SobolEngine(2).draw(3, dtype=fw.int32)",
                                  "draw_then_base2(SobolEngine(2))"])
def test_errors_match_torch(torch, call):
    def run(framework):
        def draw_then_base2(engine):
            engine.draw(3)
            return engine.draw_base2(2)
        return eval(call, {"SobolEngine": framework.quasirandom.SobolEngine, "fw": framework,
                           "draw_then_base2": draw_then_base2})
    assert_raises_like_torch(lambda: run(torch), lambda: run(ember), same_type=True)
