"""index_reduce, put/put_, renorm, nanquantile (and quantile with NaN) and histogram against
PyTorch: values, dtypes, gradients, float64 gradchecks and errors."""
import warnings

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from tests.conftest import assert_close, assert_raises_like_torch, float64_tensor


def _both(torch, build):
    """``build(framework)`` run with ember and with torch (index_reduce's beta warning off)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build(ember), build(torch)


# (reduce, include_self, dim, index, source shape)
INDEX_REDUCE_CASES = [
    ("prod", True, 0, [0, 0, 2], (3, 4)),
    ("prod", False, 1, [3, 1, 3], (3, 3)),
    ("mean", True, 0, [1, 1, 0], (3, 4)),
    ("mean", False, 1, [0, 0, 2], (3, 3)),
    ("amax", True, 0, [2, 0, 2], (3, 4)),
    ("amax", False, 0, [2, 0, 2], (3, 4)),
    ("amin", True, 1, [1, 1, 1], (3, 3)),
    ("amin", False, -1, [0, 2, 0], (3, 3)),
]


@pytest.mark.parametrize("reduce, include_self, dim, index, source_shape", INDEX_REDUCE_CASES)
def test_index_reduce_matches_torch(torch, reduce, include_self, dim, index, source_shape):
    rng = np.random.default_rng(3)
    values = rng.standard_normal((3, 4)).astype(np.float32)
    source = rng.standard_normal(source_shape).astype(np.float32)
    weights = rng.standard_normal((3, 4)).astype(np.float32)

    def build(framework):
        x = framework.tensor(values, requires_grad=True)
        src = framework.tensor(source, requires_grad=True)
        out = x.index_reduce(dim, framework.tensor(index), src, reduce,
                             include_self=include_self)
        (out * framework.tensor(weights)).sum().backward()
        in_place = framework.tensor(values).index_reduce_(dim, framework.tensor(index),
                                                          framework.tensor(source), reduce,
                                                          include_self=include_self)
        return out, in_place, x.grad, src.grad
    for ours, theirs in zip(*_both(torch, build)):
        assert_close(ours, theirs)


def test_index_reduce_integer_mean_floors_like_torch(torch):
    ours, theirs = _both(torch, lambda framework: framework.tensor([5, 7, 9]).index_reduce(
        0, framework.tensor([0, 0, 1]), framework.tensor([2, 3, 4]), "mean"))
    assert_close(ours, theirs)


@pytest.mark.parametrize("reduce, include_self", [("prod", True), ("prod", False),
                                                  ("mean", True), ("amax", True),
                                                  ("amin", False)])
def test_index_reduce_gradcheck(reduce, include_self):
    index = ember.tensor([0, 2, 0])

    def function(x, source):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return x.index_reduce(0, index, source, reduce, include_self=include_self)
    inputs = [float64_tensor((3, 2)), float64_tensor((3, 2), seed=1)]
    assert gradcheck(function, inputs)
    if reduce in ("mean", "prod"):
        assert gradgradcheck(function, inputs)


@pytest.mark.parametrize("call", [
    "x.index_reduce(0, tensor([0, 2]), s, 'sum')", "x.index_reduce(0, tensor([0, 3]), s, 'amax')",
    "x.index_reduce(0, tensor([0., 2]), s, 'amax')", "x.index_reduce(0, tensor([0, 2, 1]), s, 'amax')",
    "x.index_reduce(1, tensor([0, 2]), s, 'amax')", "x.index_reduce(0, tensor([[0, 2]]), s, 'amax')",
    "x.index_reduce(0, tensor([0, 2]), s.double(), 'amax')",
    "x.index_reduce(0, tensor([0, -1]), s, 'amax')",
    "tensor(3.).index_reduce(0, tensor([0, 0]), tensor([2., 3]), 'prod')"])
def test_index_reduce_errors_match_torch(torch, call):
    def run(framework):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return eval(call, {"x": framework.ones(3, 4), "tensor": framework.tensor,
                               "s": framework.arange(8.0).view(2, 4)})
    assert_raises_like_torch(lambda: run(torch), lambda: run(ember), same_type=True)


def test_index_reduce_warns_it_is_beta():
    with pytest.warns(UserWarning, match="index_reduce\\(\\) is in beta"):
        ember.ones(2).index_reduce(0, ember.tensor([0]), ember.ones(1), "prod")


@pytest.mark.parametrize("index, accumulate", [([[0, 5], [-1, 1]], False), ([0, 0, 3, 0], True),
                                               ([4, -2, 1, 0], False), ([], True)])
def test_put_matches_torch(torch, index, accumulate):
    values = np.arange(6, dtype=np.float32).reshape(2, 3) + 1
    count = int(np.asarray(index).size)
    source = np.linspace(-1, 1, count).astype(np.float32).reshape(np.asarray(index).shape)

    def build(framework):
        x = framework.tensor(values, requires_grad=True)
        src = framework.tensor(source, requires_grad=True)
        positions = framework.tensor(index, dtype=framework.int64)
        out = framework.put(x, positions, src, accumulate)
        (out * framework.arange(6.0).view(2, 3)).sum().backward()
        in_place = framework.tensor(values).put_(positions, framework.tensor(source), accumulate)
        return out, x.put(positions, src, accumulate=accumulate), in_place, x.grad, src.grad
    for ours, theirs in zip(*_both(torch, build)):
        assert_close(ours, theirs)


@pytest.mark.parametrize("accumulate", [False, True])
def test_put_gradcheck(accumulate):
    positions = ember.tensor([4, 0, -1])
    inputs = [float64_tensor((2, 3)), float64_tensor((3,), seed=1)]
    assert gradcheck(lambda x, source: x.put(positions, source, accumulate), inputs)
    assert gradgradcheck(lambda x, source: x.put(positions, source, accumulate), inputs)


@pytest.mark.parametrize("call", [
    "x.put(tensor([0, 6]), tensor([1., 2]))", "x.put(tensor([0, -7]), tensor([1., 2]))",
    "x.put(tensor([0, 1]), tensor([1., 2, 3]))", "x.put(tensor([0., 1]), tensor([1., 2]))",
    "x.put(tensor([0, 1], dtype=int32), tensor([1., 2]))",
    "x.put(tensor([0, 1]), tensor([1., 2], dtype=float64))",
    "zeros(0).put(tensor([0]), tensor([1.]))"])
def test_put_errors_match_torch(torch, call):
    def run(framework):
        return eval(call, {"x": framework.zeros(2, 3), "tensor": framework.tensor,
                           "zeros": framework.zeros, "int32": framework.int32,
                           "float64": framework.float64})
    assert_raises_like_torch(lambda: run(torch), lambda: run(ember), same_type=True)


@pytest.mark.parametrize("p, dim, maxnorm", [(2, 0, 5.0), (1, 1, 10.0), (float("inf"), 0, 5.0),
                                             (0.5, -1, 5.0), (3, 1, 1e6)])
def test_renorm_matches_torch(torch, p, dim, maxnorm):
    values = np.random.default_rng(4).standard_normal((3, 4, 2)).astype(np.float32) * 4

    def build(framework):
        x = framework.tensor(values, requires_grad=True)
        out = framework.renorm(x, p, dim, maxnorm)
        (out * framework.tensor(values)).sum().backward()
        in_place = framework.tensor(values).renorm_(p, dim, maxnorm)
        return out, x.renorm(p, dim, maxnorm), in_place, x.grad
    for ours, theirs in zip(*_both(torch, build)):
        assert_close(ours, theirs)


def test_renorm_gradcheck():
    x = float64_tensor((3, 4), low=-2, high=2)
    assert gradcheck(lambda x: ember.renorm(x, 2, 0, 1.0), [x])
    assert gradgradcheck(lambda x: ember.renorm(x, 2, 0, 1.0), [x])


@pytest.mark.parametrize("call", ["x.renorm(0, 0, 5)", "x.renorm(2, 0, -1)", "x.renorm(2, 2, 5)",
                                  "arange(4.).renorm(2, 0, 1)"])
def test_renorm_errors_match_torch(torch, call):
    def run(framework):
        return eval(call, {"x": framework.ones(3, 4), "arange": framework.arange})
    assert_raises_like_torch(lambda: run(torch), lambda: run(ember), same_type=True)


def _with_nans():
    values = np.random.default_rng(5).standard_normal((3, 5, 4)).astype(np.float32)
    values[0, 1, 2] = np.nan
    values[1, :, 3] = np.nan
    values[2, 0, :] = np.nan
    return values


@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "nearest", "midpoint"])
@pytest.mark.parametrize("q", [0.3, [0.0, 0.25, 0.5, 1.0]])
@pytest.mark.parametrize("dim, keepdim", [(None, False), (None, True), (1, False), (-1, True)])
def test_quantiles_with_nan_match_torch(torch, name, interpolation, q, dim, keepdim):
    values = _with_nans()

    def build(framework):
        levels = framework.tensor(q) if isinstance(q, list) else q
        x = framework.tensor(values)
        return (getattr(framework, name)(x, levels, dim, keepdim, interpolation=interpolation),
                getattr(x, name)(levels, dim, keepdim, interpolation=interpolation))
    for ours, theirs in zip(*_both(torch, build)):
        assert_close(ours, theirs)


@pytest.mark.parametrize("interpolation", ["linear", "midpoint", "nearest"])
def test_nanquantile_grads_match_torch(torch, interpolation):
    values = np.random.default_rng(6).standard_normal((4, 6)).astype(np.float32)
    values[1, 2] = np.nan

    def build(framework):
        x = framework.tensor(values, requires_grad=True)
        out = framework.nanquantile(x, framework.tensor([0.2, 0.9]), 1,
                                    interpolation=interpolation)
        (out * framework.arange(8.0).view(2, 4)).sum().backward()
        return out, x.grad
    for ours, theirs in zip(*_both(torch, build)):
        assert_close(ours, theirs)


def test_nanquantile_gradcheck():
    x = float64_tensor((3, 5))
    with ember.no_grad():
        x[0, 1] = float("nan")
    assert gradcheck(lambda x: ember.nanquantile(x[1:], 0.35, 1), [x])
    assert gradcheck(lambda x: ember.nanquantile(x, ember.tensor([0.1, 0.7],
                                                                 dtype=ember.float64), 1)[:, 1:],
                     [x])


@pytest.mark.parametrize("call", ["nanquantile(x, 1.5)", "nanquantile(x, 0.5, interpolation='x')",
                                  "nanquantile(x.long(), 0.5)", "nanquantile(x[:0], 0.5)",
                                  "nanquantile(x, tensor([[0.5]]))",
                                  "nanquantile(x, tensor([0.5], dtype=float64))"])
def test_nanquantile_errors_match_torch(torch, call):
    def run(framework):
        return eval(call, {"x": framework.ones(3, 4), "tensor": framework.tensor,
                           "nanquantile": framework.nanquantile, "float64": framework.float64})
    assert_raises_like_torch(lambda: run(torch), lambda: run(ember), same_type=True)


@pytest.mark.parametrize("bins, options", [
    (4, {}), (7, {"range": (-1.0, 1.5)}), (5, {"density": True}),
    ([-3.0, -0.5, 0.0, 0.2, 3.0], {}), ([-1.0, 0.0, 2.0], {"density": True}),
    (6, {"weight": True}), ([-2.0, 0.5, 1.0], {"weight": True, "density": True}),
    (3, {"range": (0.25, 0.25)})])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_histogram_matches_torch(torch, bins, options, dtype):
    rng = np.random.default_rng(7)
    values = rng.standard_normal((4, 5)).astype(dtype)
    values[0, 0] = 0.25
    weight_values = rng.uniform(0, 2, (4, 5)).astype(dtype)

    def build(framework):
        kwargs = dict(options)
        if kwargs.get("weight"):
            kwargs["weight"] = framework.tensor(weight_values)
        edges = framework.tensor(bins, dtype=getattr(framework, dtype)) \
            if isinstance(bins, list) else bins
        x = framework.tensor(values)
        hist, bin_edges = framework.histogram(x, edges, **kwargs)
        method = x.histogram(edges, **kwargs)
        return hist, bin_edges, method.hist, method.bin_edges
    for ours, theirs in zip(*_both(torch, build)):
        assert_close(ours, theirs)


@pytest.mark.parametrize("call", [
    "histogram(tensor([1., 2]), 0)", "histogram(tensor([1, 2]), 2)",
    "histogram(tensor([1., 2]), 2, range=(3., 1.))",
    "histogram(tensor([1., 2]), 2, weight=tensor([1.]))",
    "histogram(tensor([1., 2]), tensor([[2., 1.]]))",
    "histogram(tensor([1., nan]), 2)", "histogram(tensor([1., 2]), 2, range=(0., inf))",
    "histogram(tensor([1., 2], dtype=float64), 2, weight=tensor([1., 1.]))"])
def test_histogram_errors_match_torch(torch, call):
    def run(framework):
        return eval(call, {"tensor": framework.tensor, "histogram": framework.histogram,
                           "nan": float("nan"), "inf": float("inf"),
                           "float64": framework.float64})
    assert_raises_like_torch(lambda: run(torch), lambda: run(ember), same_type=True)


def test_scatter_with_reduce_records_a_graph_without_a_derivative_as_torch(torch):
    """The legacy scatter(reduce='add'|'multiply'): PyTorch's values, a result that requires
    grad when an input does, whose backward raises PyTorch's error; its deprecation warning
    for a Tensor src."""
    index = [[0, 1, 2, 0]]
    calls = [lambda fw, y: fw.ones(3, 4).scatter(0, fw.tensor(index), y[:1] * 2,
                                                 reduce="multiply"),
             lambda fw, y: y.scatter(0, fw.tensor(index), 2.0, reduce="add"),
             lambda fw, y: fw.ones(3, 4).scatter_(0, fw.tensor(index), fw.full((1, 4), 3.0),
                                                  reduce="multiply")]
    for call in calls:
        outcomes = []
        for library in (torch, ember):
            result = call(library, library.ones(3, 4, requires_grad=True))
            outcomes.append((result.tolist(), result.requires_grad))
            if result.requires_grad:
                with pytest.raises(RuntimeError,
                                   match="derivative for aten::scatter is not implemented"):
                    result.sum().backward()
        assert outcomes[1] == outcomes[0]
