"""as_strided, empty_strided, new_empty_strided and the scatters into a view's region
(slice_scatter, select_scatter, diagonal_scatter): values, memory sharing, gradients (float64
gradcheck and gradgradcheck) and errors against PyTorch."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from tests.conftest import assert_close, assert_raises_like_torch, float64_tensor

# (input shape, how the input is made from a contiguous base, size, stride, storage_offset)
AS_STRIDED_CASES = [
    ((9,), "plain", (3, 4), (1, 1), None),          # overlapping windows
    ((9,), "plain", (3, 3), (3, 1), 0),
    ((12,), "slice", (2, 2), (1, 2), None),         # offset taken from the view
    ((6,), "transpose", (2, 2), (1, 1), 1),         # input not contiguous
    ((3,), "expand", (3,), (1,), None),             # input elements share storage
    ((9,), "plain", (2, 3), (0, 2), 1),             # a zero stride
    ((9,), "plain", (0, 5), (1, 1), 20),            # empty: no bound on the offset
    ((4,), "plain", (), (), 3),
]


def _made(framework, base, how):
    if how == "slice":
        return base[2:]
    if how == "transpose":
        return base.view(2, 3).t()
    if how == "expand":
        return base.expand(2, 3)
    return base


@pytest.mark.parametrize("shape, how, size, stride, offset", AS_STRIDED_CASES)
def test_as_strided_values_and_grads_match_torch(torch, shape, how, size, stride, offset):
    values = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    results = []
    for framework in (ember, torch):
        base = framework.tensor(values, requires_grad=True)
        out = _made(framework, base, how).as_strided(size, stride, offset)
        weights = framework.tensor(np.arange(out.numel(), dtype=np.float32).reshape(size))
        (out * weights).sum().backward()
        results.append((out, base.grad, out.storage_offset(), out.stride()))
    (our_out, our_grad, our_offset, our_stride), (their_out, their_grad, their_offset,
                                                  their_stride) = results
    assert_close(our_out, their_out)
    assert_close(our_grad, their_grad)
    assert our_stride == their_stride
    if our_out.numel():  # an empty view keeps no position in ember's storage
        assert our_offset == their_offset


def test_as_strided_is_a_view_sharing_memory():
    base = ember.zeros(6)
    view = ember.as_strided(base, (2, 2), (1, 2))
    view.add_(1)
    assert base.tolist() == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    base[3] = 7.0
    assert view.tolist() == [[1.0, 1.0], [1.0, 7.0]]
    assert view._version == base._version


def test_as_strided_in_place_through_view_reaches_base_history(torch):
    grads = []
    for framework in (ember, torch):
        leaf = framework.arange(6.0, requires_grad=True)
        base = leaf * 1
        view = base.as_strided((2, 2), (1, 2), 1)
        view.mul_(3)
        (base * framework.arange(6.0)).sum().backward()
        grads.append(leaf.grad)
    assert_close(grads[0], grads[1])


@pytest.mark.parametrize("how, size, stride, offset", [
    ("plain", (3, 4), (1, 1), 0), ("transpose", (2, 2), (1, 1), 1), ("expand", (3,), (1,), 0)])
def test_as_strided_gradcheck(how, size, stride, offset):
    def function(x):
        return _made(ember, x, how).as_strided(size, stride, offset)
    shape = (9,) if how == "plain" else ((6,) if how == "transpose" else (3,))
    x = float64_tensor(shape)
    assert gradcheck(function, [x])
    assert gradgradcheck(function, [x])


@pytest.mark.parametrize("args", [
    ((3, 3), (3, 1), 1), ((2,), (1,), -1), ((2, 2), (1,)), ((2, -1), (1, 1)), ((2, 2), (-1, 1))])
def test_as_strided_errors_match_torch(torch, args):
    assert_raises_like_torch(lambda: torch.arange(9.0).as_strided(*args),
                             lambda: ember.arange(9.0).as_strided(*args), RuntimeError)


def test_as_strided_in_place_changes_the_tensor_itself():
    x = ember.arange(12.0)
    assert x.as_strided_((3, 2), (2, 1)) is x
    assert (x.shape, x.stride(), x.storage_offset(), x._version) == ((3, 2), (2, 1), 0, 1)
    assert x.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    x.as_strided_((2, 2), (1, 3), 1)
    assert x.tolist() == [[1.0, 4.0], [2.0, 5.0]] and x.storage_offset() == 1
    x.as_strided_((2,), (1,))  # the offset is kept
    assert x.tolist() == [1.0, 2.0] and x.storage_offset() == 1
    base = ember.arange(6.0)
    view = base.view(2, 3)
    view.as_strided_((3,), (2,))
    view[0] = 10.0  # still the same memory
    assert base.tolist() == [10.0, 1.0, 2.0, 3.0, 4.0, 5.0] and view.tolist() == [10.0, 2.0, 4.0]
    leaf = ember.ones(4, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        leaf.as_strided_((2,), (1,))
    with ember.no_grad():
        leaf.as_strided_((2,), (1,))
    assert leaf.requires_grad and leaf.is_leaf and leaf.shape == (2,)


def test_as_strided_in_place_matches_torch(torch):
    def run(lib):
        values = []
        x = lib.arange(12.0)[2:]
        x.as_strided_((2, 2), (2, 1))
        values.append((x.tolist(), x.storage_offset(), x._version))
        x.as_strided_((2, 2), (2, 1), 0)
        values.append((x.tolist(), x.storage_offset(), x._version))
        leaf = lib.ones(4, requires_grad=True)
        result = leaf * 2
        result.as_strided_((2,), (2,))
        values.append((result.tolist(), result.grad_fn.name(), result._version))
        result.sum().backward()
        values.append(leaf.grad.tolist())
        return values
    assert run(ember) == run(torch)
    for args in (((3, 3), (1, 1)), ((2,), (1,), -1), ((2,), (-1,)), ((2, 2), (1,))):
        assert_raises_like_torch(lambda: torch.arange(4.0).as_strided_(*args),
                                 lambda: ember.arange(4.0).as_strided_(*args), RuntimeError)


def test_as_strided_writing_overlapping_view_is_refused_like_torch(torch):
    for framework in (torch, ember):
        view = framework.zeros(4).as_strided((3, 2), (1, 0))
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            view.add_(1)


@pytest.mark.parametrize("size, stride", [((2, 3), (1, 2)), ((2, 3), (0, 1)), ((0, 4), (4, 1)),
                                          ((), ())])
def test_empty_strided_shape_strides_dtype(torch, size, stride):
    ours = ember.empty_strided(size, stride, dtype=ember.float64)
    theirs = torch.empty_strided(size, stride, dtype=torch.float64)
    assert (tuple(ours.shape), ours.stride(), str(ours.dtype)[6:]) == \
        (tuple(theirs.shape), theirs.stride(), str(theirs.dtype)[6:])
    like = ember.zeros(2, dtype=ember.int32).new_empty_strided(size, stride)
    assert like.dtype == ember.int32 and like.stride() == theirs.stride()
    grad = ember.empty_strided(size, stride, requires_grad=True)
    assert grad.requires_grad and grad.dtype == ember.float32


@pytest.mark.parametrize("args", [((2, 3), (1,)), ((2, 3), (1, -2)), ((2, -3), (1, 2))])
def test_empty_strided_errors_match_torch(torch, args):
    assert_raises_like_torch(lambda: torch.empty_strided(*args),
                             lambda: ember.empty_strided(*args), RuntimeError)


@pytest.mark.parametrize("args", [((2, 3), 3), (2, (1,))])
def test_empty_strided_type_errors_match_torch(torch, args):
    assert_raises_like_torch(lambda: torch.empty_strided(*args),
                             lambda: ember.empty_strided(*args), TypeError)


# (function name, input shape, src shape, extra positional arguments)
SCATTER_CASES = [
    ("slice_scatter", (3, 4), (3, 2), (1, 0, 2)),
    ("slice_scatter", (3, 4), (3, 2), (1, 0, 4, 2)),
    ("slice_scatter", (3, 4), (3, 2), (1, -2)),
    ("slice_scatter", (3, 4), (2, 4), (0, 1, 10)),
    ("slice_scatter", (3, 4), (3, 0), (1, 5, 6)),
    ("slice_scatter", (4,), (4,), ()),
    ("select_scatter", (3, 4), (4,), (0, 1)),
    ("select_scatter", (3, 4, 2), (3, 2), (1, -1)),
    ("select_scatter", (5,), (), (0, 2)),
    ("diagonal_scatter", (3, 4), (3,), ()),
    ("diagonal_scatter", (3, 4), (3,), (1,)),
    ("diagonal_scatter", (3, 4), (2,), (-1,)),
    ("diagonal_scatter", (2, 3, 4), (4, 2), (0, 0, 1)),
    ("diagonal_scatter", (2, 3, 4), (3, 1), (1, -1, 0)),
]


@pytest.mark.parametrize("name, shape, src_shape, args", SCATTER_CASES)
def test_scatter_into_region_matches_torch(torch, name, shape, src_shape, args):
    rng = np.random.default_rng(1)
    values = rng.standard_normal(shape).astype(np.float32)
    source = rng.standard_normal(src_shape).astype(np.float32)
    weight_values = rng.standard_normal(shape).astype(np.float32)
    results = []
    for framework in (ember, torch):
        x = framework.tensor(values, requires_grad=True)
        src = framework.tensor(source, requires_grad=True)
        out = getattr(framework, name)(x, src, *args)
        method = getattr(x, name)(src, *args)
        weights = framework.tensor(weight_values)
        (out * weights).sum().backward()
        results.append((out, method, x.grad, src.grad))
    for ours, theirs in zip(*results):
        assert_close(ours, theirs)


@pytest.mark.parametrize("name, shape, src_shape, args", SCATTER_CASES)
def test_scatter_into_region_gradcheck(name, shape, src_shape, args):
    def function(x, src):
        return getattr(ember, name)(x, src, *args)
    inputs = [float64_tensor(shape), float64_tensor(src_shape, seed=1)]
    assert gradcheck(function, inputs)
    assert gradgradcheck(function, inputs)


def test_scatter_into_region_casts_src_and_keeps_its_grad_dtype(torch):
    for framework in (ember, torch):
        x = framework.zeros(3, 4, requires_grad=True)
        src = framework.ones(3, 2, dtype=framework.float64, requires_grad=True)
        out = framework.slice_scatter(x, src, 1, 1, 3)
        out.sum().backward()
        assert str(out.dtype)[-7:] == "float32" and str(src.grad.dtype)[-7:] == "float64"


@pytest.mark.parametrize("call", [
    "slice_scatter(x, ones(3, 3), 1, 0, 2)", "slice_scatter(x, ones(3, 2), 1, None, None, -1)",
    "slice_scatter(x, ones(3, 2), 2)", "slice_scatter(x, 1.0)",
    "select_scatter(x, ones(3), 0, 1)", "select_scatter(x, ones(4), 0, 5)",
    "select_scatter(x, ones(1, 4), 0, 1)", "diagonal_scatter(x, ones(4))",
    "diagonal_scatter(x, ones(3), 0, 0, 0)"])
def test_scatter_into_region_errors_match_torch(torch, call):
    def run(framework):
        return eval(call, {"x": framework.zeros(3, 4), "ones": framework.ones,
                           **{name: getattr(framework, name) for name in
                              ("slice_scatter", "select_scatter", "diagonal_scatter")}})
    assert_raises_like_torch(lambda: run(torch), lambda: run(ember), same_type=True)


def test_diagonal_is_a_view_like_torch(torch):
    def run(lib):
        leaf = lib.ones(3, 4, requires_grad=True)
        base = leaf * 2
        base.diagonal(1).mul_(3)
        (base * base).sum().backward()
        plain = lib.zeros(2, 3, 4)
        plain.diagonal(offset=-1, dim1=2, dim2=1).add_(1)
        view = plain.diagonal(1, 1, 2)
        return (leaf.grad.tolist(), plain.tolist(), view.storage_offset(), view.stride(),
                plain.diagonal(-1, 1, 2).shape == (2, 2))
    assert run(ember) == run(torch)


def test_diagonal_writes_reach_the_base_and_diag_stays_a_copy():
    matrix = ember.zeros(3, 3)
    matrix.diagonal().fill_(1.0)
    assert matrix.tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    copied = ember.diag(matrix)
    copied.fill_(5.0)
    assert matrix.trace().item() == 3.0
