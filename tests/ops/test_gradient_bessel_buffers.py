"""torch.gradient, nextafter, the modified Bessel functions (i0, special.i0e/i1/i1e),
frombuffer and resize_/resize_as_ against PyTorch."""
import array

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from tests.conftest import assert_close, assert_raises_like_torch, float64_tensor


def _spacing(framework, spacing):
    if isinstance(spacing, list) and spacing and isinstance(spacing[0], list):
        return [framework.tensor(values) for values in spacing]
    return spacing


@pytest.mark.parametrize("options", [
    {}, {"spacing": 2.0}, {"dim": 1, "edge_order": 2}, {"spacing": [0.5, 3.0]},
    {"spacing": [[0.0, 1.0, 3.0], [0.0, 0.5, 1.0, 4.0]]},
    {"spacing": [[0.0, 1.0, 3.0], [0.0, 0.5, 1.0, 4.0]], "edge_order": 2},
    {"spacing": (2,), "dim": -1}, {"dim": [1, 0], "edge_order": 2}])
def test_gradient_matches_torch(torch, options):
    values = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    results = []
    for framework in (ember, torch):
        kwargs = dict(options)
        if "spacing" in kwargs:
            kwargs["spacing"] = _spacing(framework, kwargs["spacing"])
        x = framework.tensor(values, requires_grad=True)
        pieces = framework.gradient(x, **kwargs)
        sum(piece.sum() * (number + 2) for number, piece in enumerate(pieces)).backward()
        results.append((*pieces, x.grad))
    assert len(results[0]) == len(results[1])
    for ours, theirs in zip(*results):
        assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_gradient_gradcheck():
    x = float64_tensor((3, 5))
    coordinates = ember.tensor([0.0, 0.3, 1.0, 1.2, 2.0], dtype=ember.float64)
    assert gradcheck(lambda x: ember.gradient(x, edge_order=2), [x])
    assert gradcheck(lambda x: ember.gradient(x, spacing=[coordinates], dim=1, edge_order=2),
                     [x])


@pytest.mark.parametrize("call", [
    "gradient(x, edge_order=3)", "gradient(x[:, :2], edge_order=2)",
    "gradient(x, spacing=[1., 2., 3.])", "gradient(x, spacing=[1., 2., 3.], dim=1)",
    "gradient(x, dim=(0, 0))"])
def test_gradient_errors_match_torch(torch, call):
    def run(framework):
        return eval(call, {"gradient": framework.gradient, "x": framework.ones(3, 4)})
    assert_raises_like_torch(lambda: run(torch), lambda: run(ember), same_type=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nextafter_matches_torch(torch, dtype):
    values = [[1.0, 2.0, 0.0, -1.0], [3.0, -0.0, 1e30, 5.0]]
    results = []
    for framework in (ember, torch):
        x = framework.tensor(values[0], dtype=getattr(framework, dtype), requires_grad=True)
        other = framework.tensor(values[1], dtype=getattr(framework, dtype), requires_grad=True)
        out = framework.nextafter(x, other)
        (out * framework.arange(4.0, dtype=getattr(framework, dtype))).sum().backward()
        in_place = x.detach().clone().nextafter_(other.detach())
        results.append((out, x.nextafter(other), in_place, x.grad, other.grad))
    for ours, theirs in zip(*results):
        assert_close(ours, theirs, rtol=0, atol=0)


@pytest.mark.parametrize("call", ["nextafter(tensor([1, 2]), tensor([3, 0]))",
                                  "nextafter(tensor([1.]), 2.0)"])
def test_nextafter_errors_match_torch(torch, call):
    def run(framework):
        return eval(call, {"nextafter": framework.nextafter, "tensor": framework.tensor})
    assert_raises_like_torch(lambda: run(torch), lambda: run(ember), same_type=True)


BESSEL = [("i0", "i0"), ("special.i0", "special.i0"), ("special.i0e", "special.i0e"),
          ("special.i1", "special.i1"), ("special.i1e", "special.i1e")]


def _function(framework, path):
    target = framework
    for part in path.split("."):
        target = getattr(target, part)
    return target


@pytest.mark.parametrize("path", [path for path, _ in BESSEL])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bessel_functions_match_torch(torch, path, dtype):
    values = [0.0, 1e-3, 0.5, -2.0, 3.75, 8.0, -15.0, 29.9, 30.1, -85.0, 700.0, 800.0]
    results = []
    for framework in (ember, torch):
        x = framework.tensor(values, dtype=getattr(framework, dtype), requires_grad=True)
        out = _function(framework, path)(x)
        out.sum().backward()
        results.append((out, x.grad))
    tolerance = {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-9, "atol": 0}
    for ours, theirs in zip(*results):
        assert_close(ours, theirs, **tolerance)


def test_bessel_integer_input_and_in_place_match_torch(torch):
    for path, _ in BESSEL:
        ours = _function(ember, path)(ember.tensor([1, 2, -3]))
        theirs = _function(torch, path)(torch.tensor([1, 2, -3]))
        assert_close(ours, theirs)
    assert_close(ember.tensor([0.5, 4.0]).i0_(), torch.tensor([0.5, 4.0]).i0_())


@pytest.mark.parametrize("path", [path for path, _ in BESSEL])
def test_bessel_gradcheck(path):
    x = ember.tensor([0.0, 0.7, -1.3, 4.0, 35.0, -40.0], dtype=ember.float64,
                     requires_grad=True)
    function = _function(ember, path)
    assert gradcheck(function, [x])
    away_from_zero = x[1:].detach().requires_grad_()  # the scaled ones have a kink at 0
    assert gradgradcheck(function, [away_from_zero])


def test_frombuffer_shares_memory_and_matches_torch(torch):
    ours_buffer = bytearray(np.array([1.0, 2.0, 3.0], np.float32).tobytes())
    theirs_buffer = bytearray(ours_buffer)
    ours = ember.frombuffer(ours_buffer, dtype=ember.float32, count=2, offset=4)
    theirs = torch.frombuffer(theirs_buffer, dtype=torch.float32, count=2, offset=4)
    assert_close(ours, theirs)
    ours[0] = 7.0
    theirs[0] = 7.0
    assert ours_buffer == theirs_buffer
    made = ember.frombuffer(array.array("f", [1, 2]), dtype=ember.float32, requires_grad=True)
    assert made.requires_grad and made.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("call", [
    "frombuffer(buffer, dtype=float32, offset=2)", "frombuffer(buffer, dtype=float32, count=4)",
    "frombuffer(buffer, dtype=float32, offset=12)", "frombuffer(buffer, dtype=int16, count=0)",
    "frombuffer([1, 2], dtype=int16)", "frombuffer(buffer, dtype=float32, offset=-1)",
    "frombuffer(buffer)"])
def test_frombuffer_errors_match_torch(torch, call):
    def run(framework):
        return eval(call, {"frombuffer": framework.frombuffer, "buffer": bytearray(12),
                           "float32": framework.float32, "int16": framework.int16})
    assert_raises_like_torch(lambda: run(torch), lambda: run(ember), same_type=True)


def test_resize_keeps_the_prefix_and_shapes_like_torch(torch):
    results = []
    for framework in (ember, torch):
        x = framework.arange(6.0)
        steps = [x.resize_(2, 2).clone(), x.resize_(3, 3).flatten()[:4].clone(),
                 tuple(x.shape), x.resize_as_(framework.zeros(2)).clone(), x.is_contiguous()]
        strided = framework.arange(6.0)[::2]
        steps.append(strided.resize_(2).clone())
        results.append(steps)
    for ours, theirs in zip(*results):
        if isinstance(ours, ember.Tensor):
            assert_close(ours, theirs)
        else:
            assert tuple(ours) == tuple(theirs) if isinstance(ours, tuple) else ours == theirs


def test_resize_refuses_what_torch_refuses(torch):
    assert_raises_like_torch(lambda: torch.ones(2, requires_grad=True).resize_(3),
                             lambda: ember.ones(2, requires_grad=True).resize_(3), RuntimeError)
