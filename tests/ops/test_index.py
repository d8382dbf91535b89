"""ember.ops.index: indexing and indexed assignment, gather, where, masked ops, scatter and
the index_* family, selection by mask, searching and counting."""
import contextlib
import warnings

import numpy as np
import pytest

import ember
from ember.ops import index
from tests.conftest import assert_raises_like_torch, assert_same_outcome_as_torch, outcome

from .op_table import (
    BINARY, BINARY_SHAPES, BadInputChecks, Case, CaseChecks, GradGradChecks, HalfChecks, MATRIX,
    UNARY, ValueChecks, ints)


def _setitem_basic(fw, a, b):
    out = a * 1
    out[1:3] = b
    return out


def _setitem_repeated_rows(fw, a, b):
    out = a * 1
    out[fw.tensor([0, 2])] = b
    return out


def _setitem_mask(fw, a):
    out = a * 1
    out[a > 0] = 0.5
    return out


def _setitem_scalar_index(fw, a, b):
    out = a * 1
    out[1, 2] = b
    return out


def _scatter_(fw, a, index, b):
    return (a * 1).scatter_(1, index, b)


def _scatter_add_(fw, a, index, b):
    return (a * 1).scatter_add_(1, index, b)


def _index_add_(fw, a, b):
    return (a * 1).index_add_(0, fw.tensor([0, 2, 0]), b, alpha=2)


def _index_fill_(fw, a):
    return (a * 1).index_fill_(1, fw.tensor([1, 3]), -1.5)


def _index_copy_(fw, a, b):
    return (a * 1).index_copy_(1, fw.tensor([3, 0]), b)


def _masked_scatter_(fw, a, b):
    return (a * 1).masked_scatter_(a > 0, b)


def _fill_diagonal_(fw, a):
    return (a * 1).fill_diagonal_(-2.0, wrap=True)


def _index_put_(fw, a, b):
    return (a * 1).index_put_((fw.tensor([0, 2, 0]), fw.tensor([1, 1, 1])), b, accumulate=True)


def _scatter_reduce(reduce, include_self):
    def function(fw, a, index, b):
        return fw.scatter_reduce(a, 1, index, b, reduce, include_self=include_self)
    return function


OPS_MODULES = (index,)

CASES = [
    Case("where", lambda fw, a, b: fw.where(a > 0, a, b), BINARY_SHAPES),
    Case("where_scalar", lambda fw, a: fw.where(a > 0, a, 0.5), UNARY),
    Case("gather", lambda fw, a: a.gather(1, fw.tensor([[0, 0], [3, 1], [2, 2]])), [((3, 4),)]),
    Case("take_along_dim", lambda fw, a: fw.take_along_dim(a, fw.tensor([[1], [0], [3]]),
                                                           dim=1), [((3, 4),)]),
    Case("index_select", lambda fw, a: a.index_select(1, fw.tensor([3, 0, 3])), [((3, 4),)]),
    Case("masked_fill", lambda fw, a: a.masked_fill(a > 0.5, -1.0), [((3, 4),), ((),)]),
    Case("masked_fill_broadcast", lambda fw, a: a.masked_fill(fw.tensor([True, False, True,
                                                                         False]), 0.0),
         [((3, 4),)]),
    Case("masked_fill_", lambda fw, a: (a * 1).masked_fill_(a < 0, 2.0), [((3, 4),)]),
    Case("index_int", lambda fw, a: a[1], [((3, 4),)]),
    Case("index_slices", lambda fw, a: a[:, 1:3], [((3, 4),), ((2, 4, 3),)]),
    Case("index_step", lambda fw, a: a[::2, 1], [((5, 4),)]),
    Case("index_negative", lambda fw, a: a[-1, -2:], [((3, 4),)]),
    Case("index_none_ellipsis", lambda fw, a: a[None, ..., 0], [((3, 4),)]),
    Case("index_repeated_list", lambda fw, a: a[[0, 0, 2, 0]], [((3, 4),)]),
    Case("index_repeated_tensor", lambda fw, a: a[fw.tensor([1, 1, 1])], [((3, 4),)]),
    Case("index_pairs", lambda fw, a: a[[0, 2, 2], [1, 3, 3]], [((3, 4),)]),
    Case("index_mixed", lambda fw, a: a[1:, [0, 0, 3]], [((3, 4),)]),
    Case("index_bool_mask", lambda fw, a: a[a > 0], [((3, 4),), ((5,),)]),
    Case("index_bool_rows", lambda fw, a: a[fw.tensor([True, False, True])], [((3, 4),)]),
    Case("setitem_slice", _setitem_basic, [((4, 3), (2, 3)), ((4, 3), (3,)), ((4, 3), ())]),
    Case("setitem_rows", _setitem_repeated_rows, [((4, 3), (2, 3))]),
    Case("setitem_mask", _setitem_mask, [((4, 3),)]),
    Case("setitem_element", _setitem_scalar_index, [((4, 3), ())]),
    Case("scatter", lambda fw, a, index, b: fw.scatter(a, 1, index, b),
         [((3, 4), (3, 2), (3, 2))], ("real", "index3", "real"), check_grad=False),
    Case("scatter_", _scatter_, [((3, 4), (3, 2), (3, 2))], ("real", "index3", "real"),
         check_grad=False),
    Case("scatter_add", lambda fw, a, index, b: fw.scatter_add(a, 1, index, b),
         [((3, 4), (3, 5), (3, 5)), ((3, 4), (2, 2), (2, 2))], ("real", "index3", "real")),
    Case("scatter_add_", _scatter_add_, [((3, 4), (3, 5), (3, 5))], ("real", "index3", "real")),
    Case("index_add_", _index_add_, [((3, 4), (3, 4))]),
    Case("index_fill_", _index_fill_, [((3, 4),)]),
    Case("masked_select", lambda fw, a, b: fw.masked_select(a, b > 0), BINARY[1:4]),
    Case("take", lambda fw, a: fw.take(a, fw.tensor([[0, 5], [-1, 5]])), MATRIX),
    Case("index_copy_", _index_copy_, [((3, 4), (3, 2))]),
    Case("index_copy", lambda fw, a, b: a.index_copy(0, fw.tensor([1]), b), [((3, 4), (1, 4))]),
    Case("masked_scatter_", _masked_scatter_, [((3, 4), (3, 4)), ((3, 4), (14,))]),
    Case("fill_diagonal_", _fill_diagonal_, [((3, 4),), ((7, 3),), ((3, 3, 3),)]),
    Case("index_put_accumulate", _index_put_, [((3, 4), (3,)), ((3, 4), ())]),
    Case("index_put", lambda fw, a, b: a.index_put((fw.tensor([2, 0]),), b),
         [((3, 4), (2, 4)), ((3, 4), (4,))]),
    Case("scatter_reduce_ties", lambda fw, a, index, b: (a * 0).scatter_reduce_(
        1, index, b * 0, "amax"), [((3, 4), (3, 5), (3, 5))], ("real", "index3", "real"),
        check_grad=False),
]
CASES += [
    Case(f"scatter_reduce_{reduce}_{include_self}", _scatter_reduce(reduce, include_self),
         [((3, 4), (3, 5), (3, 5))], ("real" if reduce != "prod" else "positive", "index3",
                                      "real" if reduce != "prod" else "positive"))
    for reduce in ("sum", "mean", "amax", "amin", "prod") for include_self in (True, False)
]


BAD_INPUTS = {
    "index_out_of_range": lambda fw: fw.ones(3)[5],
    "index_too_many": lambda fw: fw.ones(3)[0, 0],
    "index_float_tensor": lambda fw: fw.ones(3)[fw.tensor([1.0])],
    "index_list_out_of_range": lambda fw: fw.ones(3)[[0, 3]],
    "index_zero_dim": lambda fw: fw.ones(())[0],
    "bool_mask_wrong_shape": lambda fw: fw.ones(3)[fw.tensor([True, False])],
    "where_float_condition": lambda fw: fw.where(fw.ones(2), fw.ones(2), fw.ones(2)),
    "gather_float_index": lambda fw: fw.ones(2, 2).gather(1, fw.ones(2, 2)),
    "gather_index_out_of_range": lambda fw: fw.ones(2, 3).gather(1, fw.tensor([[5]])),
    "gather_negative_index": lambda fw: fw.ones(2, 3).gather(1, fw.tensor([[-1]])),
    "gather_dim_out_of_range": lambda fw: fw.ones(2, 3).gather(2, fw.tensor([[0]])),
    "gather_rank_mismatch": lambda fw: fw.ones(2, 3).gather(1, fw.tensor([0])),
    "gather_index_too_large": lambda fw: fw.ones(2, 3).gather(1, fw.zeros(3, 1, dtype=fw.int64)),
    "setitem_shape_mismatch": lambda fw: fw.ones(3, 2).__setitem__(0, fw.ones(3)),
    "scatter_float_index": lambda fw: fw.zeros(2, 3).scatter(1, fw.ones(2, 1), 1.0),
    "scatter_rank_mismatch": lambda fw: fw.zeros(2, 3).scatter(1, fw.tensor([0, 1]), 1.0),
    "scatter_index_out_of_range": lambda fw: fw.zeros(2, 3).scatter(1, fw.tensor([[5]]), 1.0),
    "scatter_add_dtype": lambda fw: fw.zeros(2, 3).scatter_add(1, fw.tensor([[0]]),
                                                               fw.ones(1, 1, dtype=fw.float64)),
    "index_add_shape": lambda fw: fw.zeros(3, 2).index_add_(0, fw.tensor([0, 1]),
                                                            fw.ones(3, 2)),
    "index_fill_index_dtype": lambda fw: fw.zeros(3, 2).index_fill_(0, fw.tensor([0.0]), 1.0),
    "scatter_reduce_bad_reduce": lambda fw: fw.zeros(3).scatter_reduce(
        0, fw.tensor([0]), fw.ones(1), "median"),
    "index_put_float_index": lambda fw: fw.zeros(3).index_put_((fw.tensor([0.0]),),
                                                               fw.tensor(1.0)),
    "index_put_dtype": lambda fw: fw.zeros(3).index_put_((fw.tensor([0]),),
                                                         fw.tensor([1], dtype=fw.float64)),
    "index_copy_count": lambda fw: fw.zeros(3, 2).index_copy_(0, fw.tensor([0, 1]), fw.ones(1, 2)),
    "masked_scatter_short_source": lambda fw: fw.zeros(3).masked_scatter_(
        fw.tensor([True, True, False]), fw.ones(1)),
    "fill_diagonal_unequal_3d": lambda fw: fw.zeros(2, 3, 3).fill_diagonal_(1.0),
    "masked_select_float_mask": lambda fw: fw.masked_select(fw.ones(2), fw.ones(2)),
    "take_out_of_range": lambda fw: fw.take(fw.ones(2, 2), fw.tensor([4])),
    "bincount_negative": lambda fw: fw.bincount(fw.tensor([-1, 2])),
    "bincount_2d": lambda fw: fw.bincount(fw.tensor([[1, 2]])),
}


MESSAGES = {
    "gather_index_out_of_range": "index 5 is out of bounds for dimension 1 with size 3",
    "gather_negative_index": "index -1 is out of bounds for dimension 1 with size 3",
    "gather_dim_out_of_range": "Dimension out of range (expected to be in range of [-2, 1], but "
                               "got 2)",
    "gather_rank_mismatch": "Index tensor must have the same number of dimensions as input "
                            "tensor",
    "gather_index_too_large": "Size does not match at dimension 0 expected index [3, 1] to be no "
                              "larger than self [2, 3] apart from dimension 1",
}


VALUES = {
    "where_number_number": lambda fw: fw.where(fw.tensor([True, False]), 1, 0.0),
    "where_float64_number": lambda fw: fw.where(fw.tensor([True, False]),
                                                fw.ones(2, dtype=fw.float64), 0.0),
    "where_int_float": lambda fw: fw.where(fw.tensor([True, False, True]), ints(fw), fw.ones(3)),
    "scatter_value": lambda fw: fw.zeros(2, 4).scatter(1, fw.tensor([[1, 3], [0, 0]]), 2.5),
    "scatter_reduce_add": lambda fw: fw.ones(2, 4).scatter_(1, fw.tensor([[1, 1], [0, 2]]),
                                                            fw.ones(2, 2), reduce="add"),
    "scatter_reduce_multiply": lambda fw: fw.full((2, 4), 2.0).scatter_(
        1, fw.tensor([[1, 1], [0, 2]]), fw.full((2, 2), 3.0), reduce="multiply"),
    "index_add_int": lambda fw: fw.zeros(3, dtype=fw.int64).index_add_(
        0, fw.tensor([0, 0, 2]), fw.tensor([1, 2, 3])),
    "argwhere": lambda fw: fw.argwhere(fw.tensor([[0, 1], [2, 0]])),
    "isin": lambda fw: fw.isin(fw.tensor([1, 2, 3, 4]), fw.tensor([2, 4, 6])),
    "bincount": lambda fw: fw.bincount(fw.tensor([0, 3, 1, 1]), minlength=6),
    "bincount_weights": lambda fw: fw.bincount(fw.tensor([0, 2, 2]), fw.tensor([0.5, 1.0, 2.0])),
    "searchsorted": lambda fw: fw.searchsorted(fw.tensor([1, 3, 5, 7]),
                                               fw.tensor([[0, 3], [6, 9]])),
    "searchsorted_right_2d": lambda fw: fw.searchsorted(
        fw.tensor([[1.0, 3.0, 5.0], [-2.0, 4.0, 6.0]]), fw.tensor([[3.0, 5.5], [-3.0, 4.0]]),
        right=True),
    "bucketize": lambda fw: (fw.bucketize(fw.tensor([1, 5, 9]), fw.tensor([1, 3, 5, 7])),
                             fw.bucketize(fw.tensor([1, 5, 9]), fw.tensor([1, 3, 5, 7]),
                                          right=True)),
    "tril_triu_indices": lambda fw: (fw.tril_indices(3, 4), fw.triu_indices(4, 3, 1),
                                     fw.tril_indices(3, 3, -1)),
    "scatter_reduce_int_mean": lambda fw: fw.tensor([5, 7, 9]).scatter_reduce(
        0, fw.tensor([0, 0, 2]), fw.tensor([2, 4, 4]), "mean"),
    "scatter_reduce_int_amin": lambda fw: fw.tensor([5, 7, 9]).scatter_reduce(
        0, fw.tensor([0, 0, 2]), fw.tensor([2, 4, 40]), "amin", include_self=False),
    "index_put_bool_mask": lambda fw: fw.zeros(2, 3).index_put_(
        (fw.tensor([[True, False, True], [False, True, False]]),), fw.tensor(2.0)),
}


class TestIndex(CaseChecks, GradGradChecks, HalfChecks, BadInputChecks, ValueChecks):
    """The op-table checks of every entry above."""


def test_repeated_integer_indices_accumulate_gradients():
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])


def test_boolean_mask_gradient_is_zero_outside_mask():
    x = ember.tensor([[1.0, -2.0], [-3.0, 4.0]], requires_grad=True)
    selected = x[x > 0]
    np.testing.assert_array_equal(selected.detach().numpy(), [1.0, 4.0])
    (selected * ember.tensor([2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2.0, 0.0], [0.0, 3.0]])


def test_setitem_with_grad_routes_gradients():
    base = ember.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    value = ember.tensor([10.0, 20.0], requires_grad=True)
    out = base * 1
    out[1:3] = value
    (out * ember.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(base.grad.numpy(), [1.0, 0.0, 0.0, 4.0])
    np.testing.assert_array_equal(value.grad.numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(out.detach().numpy(), [1.0, 10.0, 20.0, 4.0])


@pytest.mark.parametrize("case", ["rows", "negative", "middle_axis", "ellipsis",
                                  "broadcast_values", "number_values", "empty", "two_arrays",
                                  "integers"])
def test_add_at_sums_repeats_as_numpys_add_at(case):
    random = np.random.default_rng(7)
    shape, key, values_shape = {
        "rows": ((10, 4), (random.integers(0, 10, 25),), (25, 4)),
        "negative": ((10, 4), (random.integers(-10, 10, 25),), (25, 4)),
        "middle_axis": ((3, 10, 4), (slice(None), random.integers(0, 10, 25)), (3, 25, 4)),
        "ellipsis": ((3, 10, 4), (slice(None), random.integers(0, 10, 25), Ellipsis), (25, 4)),
        "broadcast_values": ((3, 10, 4), (slice(None), random.integers(0, 10, 25)), (1, 25, 1)),
        "number_values": ((10, 4), (random.integers(0, 10, 25),), ()),
        "empty": ((10, 4), (np.zeros(0, np.int64),), (0, 4)),
        "two_arrays": ((5, 6), (random.integers(0, 5, (3, 1)), random.integers(0, 6, (3, 2))),
                       (3, 2)),
        "integers": ((10, 4), (random.integers(0, 10, 25),), (25, 4)),
    }[case]
    dtype = np.int64 if case == "integers" else np.float64
    values = (random.standard_normal(values_shape) * 10).astype(dtype)
    start = random.standard_normal(shape).astype(dtype)
    ours, theirs = start.copy(), start.copy()
    index.add_at(ours, key, values)
    np.add.at(theirs, key, values)
    np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=1e-14)


def test_row_gathers_and_index_add_accumulate_repeats_as_torch(torch):
    random = np.random.default_rng(8)
    rows = random.standard_normal((50, 6)).astype(np.float32)
    picks = random.integers(-50, 50, 300)
    source = random.standard_normal((300, 6)).astype(np.float32)
    ours = ember.tensor(rows, requires_grad=True)
    theirs = torch.tensor(rows, requires_grad=True)
    grad = random.standard_normal((300, 6)).astype(np.float32)
    ours[ember.tensor(picks)].backward(ember.tensor(grad))
    theirs[torch.tensor(picks)].backward(torch.tensor(grad))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-5)
    positive = np.abs(picks) % 50
    added = ember.tensor(rows).index_add(0, ember.tensor(positive), ember.tensor(source), alpha=2)
    expected = torch.tensor(rows).index_add(0, torch.tensor(positive), torch.tensor(source),
                                            alpha=2)
    np.testing.assert_allclose(added.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64", "bool", "int64"])
def test_index_add_adds_repeats_one_after_another_as_torch(torch, dtype):
    # (x + v1) + v2, PyTorch's order: bit for bit, even where the sum first would round up
    random = np.random.default_rng(9)
    rows = np.ones((6, 4)) if dtype.startswith("float") else random.integers(0, 2, (6, 4))
    source = (np.full((40, 4), 4e-8) if dtype.startswith("float")
              else random.integers(0, 2, (40, 4)))
    picks = random.integers(0, 6, 40)
    ours = ember.tensor(rows.astype(dtype)).index_add(0, ember.tensor(picks),
                                                      ember.tensor(source.astype(dtype)))
    theirs = torch.tensor(rows.astype(dtype)).index_add(0, torch.tensor(picks),
                                                        torch.tensor(source.astype(dtype)))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


SEARCHES = {
    "rows_with_infinities": lambda fw: fw.searchsorted(
        fw.tensor([[1.0, 2, np.inf], [-np.inf, 0, 1]]), fw.tensor([[2.5, np.inf], [-1.0, 0.5]])),
    "rows_of_large_integers": lambda fw: fw.searchsorted(
        fw.tensor([[2**60, 2**60 + 2], [0, 1]]), fw.tensor([[2**60 + 1], [1]])),
    "rows_right_with_ties": lambda fw: fw.searchsorted(
        fw.tensor([[1.0, 2, 2], [0, 0, 1]]), fw.tensor([[2.0], [0.0]]), right=True),
    "rows_with_sorter": lambda fw: fw.searchsorted(
        fw.tensor([[3.0, 1, 2], [0, 2, 1]]), fw.tensor([[2.5], [1.5]]),
        sorter=fw.tensor([[1, 2, 0], [0, 2, 1]])),
}


@pytest.mark.parametrize("name", sorted(SEARCHES))
def test_searchsorted_over_rows_matches_torch(torch, name):
    """Row-wise searches were one search over offset values: infinities and integers beyond
    2**53 gave wrong (even negative) positions."""
    np.testing.assert_array_equal(SEARCHES[name](ember).numpy(), SEARCHES[name](torch).numpy())


def test_searchsorted_side_and_right_opposites_raise_like_torch(torch):
    assert_raises_like_torch(
        lambda: torch.searchsorted(torch.tensor([1.0, 2]), torch.tensor([2.0]), side="left",
                                   right=True),
        lambda: ember.searchsorted(ember.tensor([1.0, 2]), ember.tensor([2.0]), side="left",
                                   right=True), RuntimeError)


def test_ranges_and_tuples_inside_an_index_are_sequences_as_torch(torch):
    # forward-forward's overlay writes x_[range(batch), labels] = x.max()
    array = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    labels = np.array([1, 2, 3])
    reads = [lambda lib, x: x[range(3), [0, 1, 2]], lambda lib, x: x[(0, 2), 1],
             lambda lib, x: x[range(1, 3)], lambda lib, x: x[:, range(0, 4, 2)]]
    for read in reads:
        np.testing.assert_array_equal(read(ember, ember.tensor(array)).numpy(),
                                      read(torch, torch.tensor(array)).numpy())
    ours = ember.tensor(array)
    theirs = torch.tensor(array)
    ours[range(3), ember.tensor(labels)] = -1.0
    theirs[range(3), torch.tensor(labels)] = -1.0
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(IndexError):
        ember.tensor(array)[range(5)]


@pytest.mark.parametrize("values, size, fill", [
    ([[0, 1.0], [2, 0]], 3, -1), ([[0, 1.0], [2, 0]], 1, -5), (0.0, 2, -1), (3.0, 2, -1),
    (np.zeros((0, 2)), 2, 7)])
def test_nonzero_static_matches_pytorch(torch, values, size, fill):
    expected = torch.nonzero_static(torch.tensor(values), size=size, fill_value=fill)
    got = ember.nonzero_static(ember.tensor(values), size=size, fill_value=fill)
    assert got.shape == tuple(expected.shape) and got.tolist() == expected.tolist()
    assert ember.tensor(values).nonzero_static(size=size, fill_value=fill).tolist() == \
        expected.tolist()


def test_narrow_copy_and_conversions():
    x = ember.tensor([[0, 1.0], [2, 0]])
    copied = x.narrow_copy(0, 1, 1)
    copied[0, 0] = 5.0
    assert copied.tolist() == [[5.0, 0.0]] and x.tolist() == [[0, 1.0], [2, 0]]
    assert x.cfloat().dtype == ember.complex64 and x.cdouble().dtype == ember.complex128
    assert x.to_sparse_coo().is_sparse


@pytest.mark.parametrize("grad_mode", ["enabled", "no_grad"])
def test_indexing_an_element_is_a_view_as_in_torch(torch, grad_mode):
    """x[i] (one element) is a 0-d view: writing to it changes x and both versions move, as in
    PyTorch, on the path that records nothing and on the recorded one."""
    for library in (ember, torch):
        data = library.arange(6.0).reshape(2, 3)
        leaf = library.arange(4.0, requires_grad=True)
        context = library.no_grad() if grad_mode == "no_grad" else library.enable_grad()
        with context:
            element = data[1, 2]
            element.add_(10)
            picked = leaf[2]
        assert data.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 15.0]]
        assert data._version == element._version == 1
        assert picked.requires_grad and picked.shape == ()
        if grad_mode == "enabled":
            (picked * 3).backward()
            assert leaf.grad.tolist() == [0.0, 0.0, 3.0, 0.0]


def test_unrecorded_indexing_matches_torch(torch):
    """Indexing tensors that need no gradient skips the op: views share memory and version,
    advanced indices copy, errors are PyTorch's."""
    array = np.arange(24.0, dtype=np.float32).reshape(4, 6)
    ours, theirs = ember.tensor(array), torch.tensor(array)
    keys = [1, (slice(1, 3), 2), (Ellipsis, 0), (None, 2), [0, 3], (slice(None), [1, 1, 5])]
    for key in keys:
        np.testing.assert_array_equal(ours[key].numpy(), theirs[key].numpy())
    view, copy = ours[1:3], ours[[1, 2]]
    view.mul_(2)
    assert ours._version == view._version == 1 and copy._version == 0
    assert copy.tolist() == array[[1, 2]].tolist()
    assert_raises_like_torch(lambda: theirs[9], lambda: ours[9], IndexError, same_type=True)


@pytest.mark.parametrize("make_key", [
    lambda fw: (range(5), range(3)),
    lambda fw: ([0, 1], slice(None), [0, 1, 2]),
    lambda fw: (fw.tensor([[0, 1]]), fw.tensor([0, 1, 2])),
])
def test_unbroadcastable_advanced_indices_raise_like_torch(torch, make_key):
    """d2l's bilinear_kernel with in_channels != out_channels indexes with two ranges that do
    not broadcast: PyTorch's IndexError names the index shapes as lists."""
    def read(fw):
        return fw.zeros(5, 4, 3)[make_key(fw)]

    def write(fw):
        target = fw.zeros(5, 4, 3)
        target[make_key(fw)] = 1.0

    for action in (read, write):
        assert_raises_like_torch(lambda: action(torch), lambda: action(ember), IndexError,
                                 same_type=True)


_INT_KEYS = [
    lambda fw: (0, slice(None), [0, 1]),
    lambda fw: (1, slice(1, 3), [[0, 1], [2, 3]]),
    lambda fw: (0, Ellipsis, [1, 2]),
    lambda fw: (0, None, slice(None), [0, 4]),
    lambda fw: (-1, slice(None, None, 2), fw.tensor([4, 0])),
    lambda fw: (slice(None), 1, [0, 1]),
    lambda fw: ([0, 2], 1, [1, 2]),
]


@pytest.mark.parametrize("make_key", _INT_KEYS)
def test_an_integer_selects_before_index_arrays_as_in_torch(torch, make_key):
    """``x[0, :, idx]``: PyTorch selects with the integer first, so idx's dim stays after the
    slice's; NumPy put it first (the values transposed). Reading, writing and the gradient."""
    outcomes = []
    for fw in (torch, ember):
        x = fw.arange(60.0, dtype=fw.float64).reshape(3, 4, 5)
        read = x[make_key(fw)]
        written = x.clone()
        written[make_key(fw)] = -fw.arange(float(read.numel()), dtype=fw.float64) \
            .reshape(read.shape)
        leaf = x.clone().requires_grad_()
        weights = fw.arange(float(read.numel()), dtype=fw.float64).reshape(read.shape)
        (leaf[make_key(fw)] * weights).sum().backward()
        outcomes.append([read.numpy(), written.numpy(), leaf.grad.numpy()])
    for theirs, mine in zip(*outcomes):
        assert mine.shape == theirs.shape
        np.testing.assert_array_equal(mine, theirs)


_TRANSPOSED = lambda fw: fw.arange(120.0).reshape(4, 5, 6).transpose(1, 2)  # noqa: E731
_CHANNELS_LAST = lambda fw: fw.arange(120.0).reshape(2, 3, 4, 5).to(  # noqa: E731
    memory_format=fw.channels_last)


@pytest.mark.parametrize("make, operation", [
    (_TRANSPOSED, lambda fw, x: x[:, fw.tensor([0, 2])]),
    (_TRANSPOSED, lambda fw, x: x[..., fw.tensor([0, 2])]),
    (_TRANSPOSED, lambda fw, x: x[fw.tensor([0, 2])]),
    (_TRANSPOSED, lambda fw, x: x[:, fw.tensor([0, 2]), fw.tensor([1, 3])]),
    (_TRANSPOSED, lambda fw, x: x[fw.tensor([0, 2]), :, fw.tensor([1, 3])]),
    (_TRANSPOSED, lambda fw, x: x[:, fw.tensor([True, False, True, True, False, False])]),
    (_TRANSPOSED, lambda fw, x: x[1:-1, fw.tensor([0, 2])]),
    (_TRANSPOSED, lambda fw, x: x[1::2, None, fw.tensor([3, 0])]),
    (_TRANSPOSED, lambda fw, x: x[fw.tensor([1, 2]), -1]),
    (_CHANNELS_LAST, lambda fw, x: x[:, :, fw.tensor([0, 2])]),
    (_CHANNELS_LAST, lambda fw, x: x[fw.tensor([1, 0, 1])]),
    (_TRANSPOSED, lambda fw, x: x.index_select(0, fw.tensor([0, 2]))),
    (_CHANNELS_LAST, lambda fw, x: x.index_select(0, fw.tensor([1, 0]))),
    (_TRANSPOSED, lambda fw, x: x.repeat_interleave(2, 0)),
    (_TRANSPOSED, lambda fw, x: x.repeat_interleave(fw.tensor([1, 2, 0, 1, 3, 1]), dim=1)),
    (_TRANSPOSED, lambda fw, x: x.masked_fill(x > 50, 0.0)),
    (_CHANNELS_LAST, lambda fw, x: x.masked_fill(x > 50, 0.0)),
    (_CHANNELS_LAST, lambda fw, x: x.tril()),
    (_CHANNELS_LAST, lambda fw, x: x.triu(1)),
    (_TRANSPOSED, lambda fw, x: x.roll(1, 1)),
    (_TRANSPOSED, lambda fw, x: x.roll((1, 2), (1, 2))),
    (_CHANNELS_LAST, lambda fw, x: x.roll(1, 2)),
])
def test_results_are_laid_out_like_torch(torch, make, operation):
    """Indexing, index_select, repeat_interleave, masked_fill, tril/triu and roll of a
    transposed or channels_last tensor: PyTorch's strides (mostly row-major), so that
    ``.view`` works where it works in PyTorch."""
    mine = operation(ember, make(ember))
    theirs = operation(torch, make(torch))
    assert mine.stride() == theirs.stride()
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    if theirs.is_contiguous():
        assert mine.view(-1).shape == theirs.view(-1).shape


def test_repeat_interleave_records_torchs_node_names(torch):
    names = []
    for fw in (torch, ember):
        x = fw.ones(2, 3, requires_grad=True)
        names.append((x.repeat_interleave(2, dim=1).grad_fn.name(),
                      x.repeat_interleave(fw.tensor([1, 2]), dim=0).grad_fn.name(),
                      x.index_select(1, fw.tensor([0, 2])).grad_fn.name(),
                      x.masked_fill(x > 0, 0.0).grad_fn.name()))
    assert names[0] == names[1]


INDEX_FORMS = {
    "list of lists": lambda x: x[[[0, 1], [1, 2]]],
    "int and list in a list": lambda x: x[[0, [1, 2]]],
    "list of tensors": lambda x: x[[x.new_tensor([0, 1]).long(), x.new_tensor([1, 2]).long()]],
    "slice in a list": lambda x: x[[slice(None), 1]],
    "None in a list": lambda x: x[[None]],
    "plain list": lambda x: x[[0, 2]],
    "2-d NumPy index": lambda x: x[np.array([[0, 1], [1, 2]])],
    "negative step": lambda x: x[::-1],
    "zero step": lambda x: x[:, ::0],
    "step 2": lambda x: x[:, ::2],
}


@pytest.mark.parametrize("name", sorted(INDEX_FORMS))
def test_sequence_indices_and_steps_as_torch(torch, name):
    """A short list holding sequences, slices, tensors or None is a tuple of indices (with
    PyTorch's deprecation warning); a negative or zero slice step is refused."""
    import warnings
    outcomes = []
    for library in (ember, torch):
        x = library.arange(12.0).reshape(3, 4)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = ("value", INDEX_FORMS[name](x).tolist())
            except ValueError as error:
                result = ("error", str(error))
        messages = [str(w.message).split(" (Triggered internally")[0] for w in caught]
        outcomes.append((result, messages))
    assert outcomes[0] == outcomes[1]


def test_a_list_of_lists_assigns_as_a_tuple_index(torch):
    results = []
    for library in (ember, torch):
        x = library.arange(12.0).reshape(3, 4)
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x[[[0, 1], [1, 2]]] = -1.0
        results.append(x.tolist())
    assert results[0] == results[1]


SETITEM_VALUES = {
    "numpy_float32": np.float32(5.0), "numpy_float64": np.float64(5.0), "numpy_int32": np.int32(2),
    "numpy_bool": np.bool_(True), "numpy_float16": np.float16(1.0), "numpy_0d_array": np.array(3.0),
    "numpy_complex64": np.complex64(1), "numpy_complex128": np.complex128(1j), "complex": 2j,
    "list": [1.0, 2.0], "none": None, "string": "a", "bool": True, "numpy_uint8": np.uint8(3),
}


@pytest.mark.parametrize("name", sorted(SETITEM_VALUES))
def test_setitem_takes_the_values_torch_takes(torch, name):
    """``t[i] = v`` takes Python numbers (np.float64 and np.complex128 are such) and integers;
    NumPy's float32, bool and arrays are TypeErrors naming both types (CS231n-style code mixes
    NumPy scalars into tensors); complex numbers fit complex and bool tensors only."""
    value = SETITEM_VALUES[name]
    for dtype_name in ("float32", "int64", "complex64", "bool"):
        outcomes = []
        for library in (torch, ember):
            target = library.zeros(3, dtype=getattr(library, dtype_name))
            try:
                target[0] = value
                outcomes.append(("value", target.tolist()))
            except (TypeError, RuntimeError) as error:
                outcomes.append((type(error).__name__, str(error).replace("ember.", "torch.")))
        assert outcomes[1] == outcomes[0], dtype_name


@pytest.mark.parametrize("value", [np.array(1.0), np.zeros(2), [1.0]], ids=["0d", "1d", "list"])
def test_fill_refuses_arrays_and_lists_like_torch(torch, value):
    with pytest.raises(TypeError) as theirs:
        torch.zeros(2).fill_(value)
    with pytest.raises(TypeError) as ours:
        ember.zeros(2).fill_(value)
    if not isinstance(value, list):  # PyTorch describes a list by its items' types
        assert str(ours.value) == str(theirs.value)
    ours_filled = ember.zeros(2).fill_(np.float32(1.5))
    np.testing.assert_array_equal(ours_filled.numpy(), torch.zeros(2).fill_(np.float32(1.5)).numpy())


def test_nonzero_is_column_major_like_torch(torch):
    """PyTorch fills nonzero's (N, ndim) result column by column: ``.view(-1)`` of it fails and
    its ``.t()`` (an edge list, as GNN code takes it) is contiguous."""
    mask = np.random.default_rng(4).random((4, 5, 3)) > 0.5
    for library in (torch, ember):
        found = library.tensor(mask).nonzero()
        assert found.stride() == (1, found.shape[0])
        assert found.t().is_contiguous()
        with pytest.raises(RuntimeError, match="view size is not compatible"):
            found.view(-1)
    np.testing.assert_array_equal(ember.tensor(mask).nonzero().numpy(),
                                  torch.tensor(mask).nonzero().numpy())
    np.testing.assert_array_equal(ember.argwhere(ember.tensor(mask[0])).numpy(),
                                  torch.argwhere(torch.tensor(mask[0])).numpy())


@pytest.mark.parametrize("reduce", ["sum", "mean", "prod", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_scatter_reduce_compiled_and_ufunc_at_paths_match_torch(torch, reduce, include_self,
                                                                 dtype):
    """The compiled pass over flat positions combines in np.ufunc.at's order (the same values,
    NaN and ties included); both match torch's values and gradients (index smaller than the
    input along another dim, many repeats)."""
    from ember import _jit
    rng = np.random.default_rng(4)
    base = rng.integers(-3, 4, (4, 9)).astype(dtype)
    source = rng.integers(-3, 4, (3, 5)).astype(dtype)
    if dtype != np.int64:
        base = base + rng.standard_normal(base.shape).astype(dtype) * (reduce != "amax")
        if reduce in ("amax", "amin"):
            source[0, 2] = np.nan
    index = rng.integers(0, 6, (3, 5))  # rows 0-2 of 4, columns 0-5 of 9
    results = []
    for disabled in (False, True):
        with _jit.disabled() if disabled else contextlib.nullcontext():
            results.append(ember.tensor(base).scatter_reduce(
                1, ember.tensor(index), ember.tensor(source), reduce,
                include_self=include_self).numpy())
    theirs = torch.tensor(base).scatter_reduce(1, torch.tensor(index), torch.tensor(source),
                                               reduce, include_self=include_self).numpy()
    np.testing.assert_array_equal(results[0], results[1])
    tolerance = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(results[0], theirs, rtol=tolerance, atol=tolerance)
    if dtype == np.int64:
        return
    source[0, 2] = 0.5
    ours_leaves = [ember.tensor(base, requires_grad=True), ember.tensor(source, requires_grad=True)]
    their_leaves = [torch.tensor(base, requires_grad=True),
                    torch.tensor(source, requires_grad=True)]
    weights = rng.standard_normal(base.shape).astype(dtype)
    for fw, (x, src) in ((ember, ours_leaves), (torch, their_leaves)):
        out = x.scatter_reduce(1, fw.tensor(index), src, reduce, include_self=include_self)
        (out * fw.tensor(weights)).sum().backward()
    for ours, theirs in zip(ours_leaves, their_leaves):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5,
                                   atol=1e-5)


@pytest.mark.parametrize("name", ["triu_indices", "tril_indices"])
@pytest.mark.parametrize("row, col, offset", [
    (64, 64, 0), (5, 3, 1), (3, 5, -2), (4, 4, 10), (4, 4, -10), (0, 3, 0), (3, 0, 0),
    (1, 1, 0), (6, 2, -1)])
def test_triangle_indices_compiled_and_numpy_paths_match_torch(torch, name, row, col, offset):
    from ember import _jit
    theirs = getattr(torch, name)(row, col, offset).numpy()
    for disabled in (False, True):
        with _jit.disabled() if disabled else contextlib.nullcontext():
            ours = getattr(ember, name)(row, col, offset).numpy()
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(ours, theirs)
        assert ours.shape == theirs.shape


@pytest.mark.parametrize("shape", [(64, 33), (3, 4, 5, 2), (7,), (0, 3), (2, 0, 3), (), (1,)])
def test_nonzero_from_flat_positions_matches_torch(torch, shape):
    """nonzero's coordinates split from the flat positions: torch's, for transposed
    (non-contiguous) inputs and as a tuple too."""
    array = np.random.default_rng(12).integers(0, 2, shape).astype(np.float32)
    for data in (array, array.T):
        ours = ember.tensor(data).nonzero()
        theirs = torch.tensor(data).nonzero()
        assert ours.dtype == ember.int64
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert ours.shape == theirs.shape
        if ours.numel():
            assert ours.stride() == theirs.stride()
        for mine, other in zip(ember.tensor(data).nonzero(as_tuple=True),
                               torch.tensor(data).nonzero(as_tuple=True), strict=True):
            np.testing.assert_array_equal(mine.numpy(), other.numpy())


@pytest.mark.parametrize("path", ["compiled", "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("shape, axis, index_shape", [
    ((64, 256), 1, (64, 256)),  # along the last axis: the kernels' one-loop case
    ((5, 7, 3), 1, (5, 11, 3)),  # repeats, more indices than the axis has
    ((5, 7, 3), 0, (9, 7, 3)),
    ((12, 6), 1, (12, 3)),
    ((6, 4, 5), 2, (6, 4, 9)),
    ((4, 6), 0, (2, 3)),  # smaller off the axis: NumPy's indexing, not the kernels
])
def test_gather_and_scatter_add_equal_torch_bit_for_bit(torch, path, dtype, shape, axis,
                                                         index_shape):
    # the compiled loops add repeated positions in np.add.at's (and PyTorch's) order
    random = np.random.default_rng(3)
    values = (random.standard_normal(shape) * 10).astype(dtype)
    index_array = random.integers(0, shape[axis], index_shape)
    source = (random.standard_normal(index_shape) * 10).astype(dtype)
    with (contextlib.nullcontext() if path == "compiled" else ember._jit.disabled()):
        gathered = ember.tensor(values).gather(axis, ember.tensor(index_array))
        added = ember.tensor(values).scatter_add(axis, ember.tensor(index_array),
                                                 ember.tensor(source))
        if dtype != np.int64:
            leaf = ember.tensor(values, requires_grad=True)
            leaf.gather(axis, ember.tensor(index_array)).backward(ember.tensor(source))
    np.testing.assert_array_equal(
        gathered.numpy(), torch.tensor(values).gather(axis, torch.tensor(index_array)).numpy())
    np.testing.assert_array_equal(
        added.numpy(), torch.tensor(values).scatter_add(axis, torch.tensor(index_array),
                                                        torch.tensor(source)).numpy())
    # scatter: positions written once each (PyTorch leaves repeated writes' order unspecified)
    unique = np.argsort(random.random(values.shape), axis=axis)
    unique = np.take(unique, np.arange(min(index_shape[axis], shape[axis])), axis=axis)
    with (contextlib.nullcontext() if path == "compiled" else ember._jit.disabled()):
        written = ember.tensor(values).scatter(axis, ember.tensor(unique), ember.tensor(values))
    np.testing.assert_array_equal(
        written.numpy(), torch.tensor(values).scatter(axis, torch.tensor(unique),
                                                      torch.tensor(values)).numpy())
    if dtype != np.int64:
        expected = torch.tensor(values, requires_grad=True)
        expected.gather(axis, torch.tensor(index_array)).backward(torch.tensor(source))
        np.testing.assert_array_equal(leaf.grad.numpy(), expected.grad.numpy())


def test_gather_takes_a_0d_index_on_a_vector_like_torch(torch):
    """PyTorch counts a 0-d index as 1-d against a 1-d input: the value comes back 0-d, with its
    gradient; a 0-d index against a matrix stays an error."""
    values = np.array([0.5, -1.0, 2.0, 3.5], dtype=np.float32)
    results = []
    for fw in (ember, torch):
        x = fw.tensor(values, requires_grad=True)
        picked = x.gather(0, fw.tensor(2))
        picked.backward()
        results.append((tuple(picked.shape), picked.item(), x.grad.numpy().tolist()))
        with pytest.raises(RuntimeError, match="Index tensor must have the same number of "
                                               "dimensions as input tensor"):
            fw.zeros(2, 3).gather(1, fw.tensor(1))
    assert results[0] == results[1]


def test_scatters_take_a_0d_index_and_src_beside_a_vector_like_torch(torch):
    """As gather, PyTorch's scatters count a 0-d index or src as 1-d; their shape errors carry
    no op prefix."""
    def run(fw):
        x = fw.arange(4.0)
        results = [x.scatter(0, fw.tensor(1), fw.tensor(9.0)), x.scatter(0, fw.tensor(2), 7.0),
                   x.scatter_add(0, fw.tensor(1), fw.tensor(5.0)),
                   x.scatter(0, fw.tensor(1), fw.tensor([9.0, 8.0])),
                   x.scatter_reduce(0, fw.tensor(3), fw.tensor(2.0), "sum"),
                   x.scatter(0, fw.tensor([1]), fw.tensor(3.0))]
        messages = []
        for bad in (lambda: fw.zeros(2, 2).scatter(0, fw.tensor(1), 1.0),
                    lambda: fw.zeros(2, 2).scatter_add(0, fw.zeros(1, 1, 1, dtype=fw.int64),
                                                       fw.ones(1, 1, 1)),
                    lambda: fw.zeros(2, 2).scatter(0, fw.zeros(1, 1, dtype=fw.int64),
                                                   fw.ones(1, 1, 1)),
                    lambda: fw.zeros(2, 2).scatter(0, fw.zeros(3, 1, dtype=fw.int64),
                                                   fw.ones(1, 1))):
            with pytest.raises(RuntimeError) as error:
                bad()
            messages.append(str(error.value))
        return [value.tolist() for value in results], messages
    assert run(ember) == run(torch)


@pytest.mark.parametrize("key", [2, -1, 7, (1, 2), (-1, 0), (1, 9), (0, 1, 2)], ids=repr)
def test_int_keys_in_grad_mode_match_torch(torch, key):
    """x[i] and x[i, j] take a fast path: same values, view, node name, error and gradient."""
    data = np.arange(20.0).reshape(4, 5)
    results = {}
    for fw in (ember, torch):
        x = fw.tensor(data, requires_grad=True)
        try:
            out = x[key]
        except IndexError as error:
            results[fw] = (IndexError, str(error))
            continue
        name = out.grad_fn.name()
        (out * 3).sum().backward()
        results[fw] = (out.detach().numpy().tolist(), name, out._version, x.grad.numpy().tolist())
    assert results[ember] == results[torch]


def test_int_key_of_a_zero_dim_tensor_raises_like_torch(torch):
    assert_raises_like_torch(lambda: torch.tensor(1.0, requires_grad=True)[0],
                             lambda: ember.tensor(1.0, requires_grad=True)[0], IndexError)


@pytest.mark.parametrize("key", [
    "([], [])", "([0, 2.7],)", "([[0, 1], [2.5, 1]],)", "([True, 0, 1],)", "([-1.5, 0], [1, 2])",
    "([], slice(None))", "(np.array([0, 2.7]),)", "(np.array([0, 1], dtype=np.int16),)",
    "(np.array([0, 1], dtype=np.uint16), [3, 0])",
    "([[]],)"])
def test_lists_and_arrays_in_an_index_become_long_or_masks_as_torch(torch, key):
    """PyTorch makes a sequence or NumPy array inside an index int64 (floats truncated, an empty
    list an empty index) unless it holds bools; reading and writing through it match."""
    results = []
    for framework in (ember, torch):
        base = framework.arange(12.0).reshape(3, 4)
        index = eval(key)
        index = index[0] if len(index) == 1 else index
        read = base[index]
        base[index] = -1.0
        results.append((read.tolist(), tuple(read.shape), base.tolist()))
    assert results[0] == results[1]


@pytest.mark.parametrize("key, error", [("[1e20]", RuntimeError), ("[float('nan')]", RuntimeError),
                                        ("[1 + 0j]", TypeError)])
def test_unconvertible_sequence_indices_raise_like_torch(torch, key, error):
    for framework in (ember, torch):
        with pytest.raises(error):
            framework.arange(4.0)[eval(key)]


@pytest.mark.parametrize("source", [
    "x[m]", "x[m, None]", "x[m.numpy()]", "x.clone().__setitem__(m, 7.0)",
    "x.clone().__setitem__(m, x[:2] * 0 + 5)", "x.clone().__setitem__((m, None), 9.0)",
    "x.masked_fill(m, 1.0)", "x.clone().masked_fill_(m, 1.0)", "x.masked_select(m)",
    "lib.where(m, x, -x)", "x.masked_scatter(m, x)",
    "x.clone().index_put_((m,), lib.tensor(1.0))", "x.clone().index_put_((m,), x[:2])"])
def test_byte_masks_warn_or_refuse_like_torch(torch, source):
    """uint8 masks: PyTorch warns where it still reads them as masks, and refuses them where
    its path is masked_fill_ (one value for a mask) or masked_scatter_; nothing is written
    before a refusal."""
    outcomes = []
    for lib in (ember, torch):
        x = lib.arange(4.0)
        m = lib.tensor([1, 0, 1, 0], dtype=lib.uint8)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = eval(source)
                value = None if result is None else result.tolist()
            except RuntimeError as error:
                value = str(error)
        outcomes.append((value, x.tolist(),
                         [str(w.message).split(" (Triggered")[0] for w in caught]))
    assert outcomes[0] == outcomes[1]


def test_index_add_in_place_on_row_views_matches_torch(torch):
    """CleanRL's C51 projection: ``target[i].index_add_(0, l[i].long(), d[i])`` row by row under
    no_grad adds straight into storage; repeats in order, alpha, 0-d as torch, and an operand
    sharing the written memory refused as torch refuses it."""
    random = np.random.default_rng(10)
    b = random.uniform(0, 10, (5, 11)).astype(np.float32)
    pmfs = random.uniform(0, 1, (5, 11)).astype(np.float32)
    results = []
    for fw in (ember, torch):
        lower = fw.tensor(b).floor()
        mass = fw.tensor(pmfs) * 1e-7 + 1
        target = fw.zeros(5, 11)
        with fw.no_grad():
            for row in range(5):
                target[row].index_add_(0, lower[row].long(), mass[row])
                target[row].index_add_(0, lower[row].long(), mass[row], alpha=0.5)
        version = target._version
        alias = fw.arange(6.0, dtype=fw.float64)
        alias[:3].index_add_(0, fw.tensor([2, 0, 2]), alias[3:])
        with pytest.raises(RuntimeError, match="refer to a single memory location"):
            alias.index_add_(0, fw.tensor([5, 0, 5]), alias[:3])
        counts = fw.arange(6)
        with pytest.raises(RuntimeError, match="refer to a single memory location"):
            counts.index_add_(0, counts[:2], counts[2:4])
        scalar = fw.tensor(1.5)
        scalar.index_add_(0, fw.tensor([0]), fw.tensor(2.0), alpha=2)
        results.append((target.numpy().copy(), version, alias.numpy().copy(), scalar.item()))
    (ours, our_version, our_alias, our_scalar), (theirs, their_version, their_alias,
                                                 their_scalar) = results
    np.testing.assert_array_equal(ours, theirs)
    assert our_version == their_version
    np.testing.assert_array_equal(our_alias, their_alias)
    assert our_scalar == their_scalar


def test_index_add_in_place_records_a_graph_only_when_needed(torch):
    ours = []
    for fw in (ember, torch):
        source = fw.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=fw.float64, requires_grad=True)
        target = fw.ones(3, 2, dtype=fw.float64)
        target.index_add_(0, fw.tensor([2, 2]), source, alpha=3)
        (target * fw.tensor([[1.0], [2.0], [5.0]], dtype=fw.float64)).sum().backward()
        plain = fw.ones(3, 2)
        plain.index_add_(0, fw.tensor([1]), fw.ones(1, 2))
        ours.append((target.detach().numpy(), source.grad.numpy(), target.grad_fn is None,
                     plain.grad_fn is None, plain.numpy()))
    for mine, theirs in zip(*ours):
        np.testing.assert_array_equal(mine, theirs)
    with pytest.raises(IndexError, match="index out of range in self"):
        ember.zeros(3).index_add_(0, ember.tensor([3]), ember.ones(1))
    with pytest.raises(RuntimeError, match="must have the same scalar type"):
        ember.zeros(3).index_add_(0, ember.tensor([1]), ember.ones(1, dtype=ember.float64))


def _grad_of_grad(fw, function):
    """Differentiate twice (create_graph) a loss of ``function(x, y)``: the second call is where
    PyTorch refuses ops it has no derivative of."""
    x = fw.tensor([1.5, -2.0, 3.0], dtype=fw.float64, requires_grad=True)
    y = fw.tensor([0.7, 1.1, 2.0], dtype=fw.float64, requires_grad=True)
    out = function(fw, x, y)
    grads = fw.autograd.grad((out * out).sum(), (x, y), create_graph=True, allow_unused=True)
    return lambda: fw.autograd.grad(sum((grad * 1.3).sum() for grad in grads
                                        if grad is not None and grad.requires_grad), (x, y),
                                    allow_unused=True)


def test_scatter_with_reduce_refuses_create_graph_like_torch(torch):
    # PyTorch's NotImplemented node raises under create_graph too (ember had raised its generic
    # "double backward is not implemented" from a node of another name)
    def function(fw, x, y):
        return x.scatter(0, fw.tensor([0, 1]), y[:2], reduce="multiply")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_raises_like_torch(lambda: _grad_of_grad(torch, function)(),
                                 lambda: _grad_of_grad(ember, function)(), RuntimeError,
                                 same_type=True)
    their_node = function(torch, torch.ones(3, requires_grad=True), torch.ones(3)).grad_fn
    our_node = function(ember, ember.ones(3, requires_grad=True), ember.ones(3)).grad_fn
    assert our_node.name() == their_node.name()


@pytest.mark.parametrize("name", ["masked_fill", "index_fill", "scatter"])
def test_complex_values_fill_complex_tensors_like_torch(torch, name):
    # ember had refused any complex value, complex tensors too
    def fill(fw):
        tensor = fw.tensor([1 + 1j, 2, 3j])
        return {"masked_fill": lambda: tensor.masked_fill(fw.tensor([True, False, True]), 1j),
                "index_fill": lambda: tensor.index_fill(0, fw.tensor([1]), 2 - 1j),
                "scatter": lambda: tensor.scatter(0, fw.tensor([2]), 1j)}[name]().numpy()
    np.testing.assert_array_equal(fill(ember), fill(torch))


def _grid(fw):
    return fw.arange(6.).reshape(2, 3)


# Mistakes whose error ember words or orders as PyTorch 2.13 does (a sweep found them different)
INDEX_MISUSES = {
    "index_put values dtype": lambda fw: _grid(fw).index_put_(
        (fw.tensor([1]),), fw.tensor(1.0, dtype=fw.float64)),
    "index_copy dtype": lambda fw: _grid(fw).index_copy(0, fw.tensor([0]),
                                                        fw.ones(1, 3, dtype=fw.float64)),
    "index_copy count": lambda fw: _grid(fw).index_copy(0, fw.tensor([0]), fw.ones(2, 3)),
    "index_add count": lambda fw: _grid(fw).index_add(0, fw.tensor([0]), fw.ones(2, 3)),
    "index_add 1-d source counted first": lambda fw: _grid(fw).index_add(
        0, fw.tensor([0]), fw.ones(3)),
    "index_add other dims": lambda fw: _grid(fw).index_add(0, fw.tensor([0]), fw.ones(1)),
    "index_add dim beyond source": lambda fw: _grid(fw).index_add(1, fw.tensor([0]), fw.ones(3)),
    "index_add 0-d source": lambda fw: _grid(fw).index_add(0, fw.tensor([0]), fw.tensor(1.0)),
    "index_add dtype before shape": lambda fw: _grid(fw).index_add(
        0, fw.tensor([0]), fw.ones(2, 3, dtype=fw.float64)),
    "index_add negative index 2-d": lambda fw: _grid(fw).index_add(
        0, fw.tensor([-1]), fw.ones(1, 3)),
    "index_add index past 2-d": lambda fw: _grid(fw).index_add(0, fw.tensor([2]), fw.ones(1, 3)),
    "index_add index past 1-d": lambda fw: fw.zeros(3).index_add(0, fw.tensor([3]), fw.ones(1)),
    "index_fill 2-d index": lambda fw: _grid(fw).index_fill(0, fw.tensor([[0]]), 1.0),
    "index_fill 2-d float index": lambda fw: _grid(fw).index_fill(0, fw.tensor([[0.0]]), 1.0),
    "masked_scatter float mask": lambda fw: _grid(fw).masked_scatter(fw.ones(2, 3), fw.ones(6)),
    "masked_scatter source dtype": lambda fw: _grid(fw).masked_scatter(
        fw.ones(2, 3, dtype=fw.bool), fw.ones(6, dtype=fw.float64)),
    "masked_scatter mask shape": lambda fw: _grid(fw).masked_scatter(
        fw.ones(4, dtype=fw.bool), fw.ones(6)),
    "masked_scatter_ larger mask": lambda fw: fw.ones(3).masked_scatter_(
        fw.ones(2, 3, dtype=fw.bool), fw.ones(6)),
    "masked_scatter_ mask shape": lambda fw: _grid(fw).masked_scatter_(
        fw.ones(4, dtype=fw.bool), fw.ones(6)),
    "masked_select mask shape": lambda fw: _grid(fw).masked_select(fw.ones(4, dtype=fw.bool)),
    "masked_select larger mask": lambda fw: fw.ones(3).masked_select(
        fw.ones(2, 4, dtype=fw.bool)),
    "masked_fill_ broadcast mask": lambda fw: fw.ones(3).masked_fill_(
        fw.ones(2, 3, dtype=fw.bool), 1.0),
    "masked_fill_ mask shape": lambda fw: fw.ones(3).masked_fill_(
        fw.ones(2, 4, dtype=fw.bool), 1.0),
    "scatter reduce sum": lambda fw: _grid(fw).scatter(0, fw.tensor([[0]]), 1.0, reduce="sum"),
    "gather index too large": lambda fw: _grid(fw).gather(0, fw.zeros(2, 4, dtype=fw.long)),
    "take from empty": lambda fw: fw.ones(0).take(fw.tensor([0])),
    "take_along_dim ranks": lambda fw: fw.take_along_dim(_grid(fw), fw.tensor([0]), dim=0),
    "take_along_dim broadcast": lambda fw: fw.take_along_dim(
        _grid(fw), fw.zeros(3, 1, dtype=fw.long), dim=1),
}


@pytest.mark.parametrize("name", sorted(INDEX_MISUSES))
def test_index_misuse_raises_like_torch(torch, name):
    mistake = INDEX_MISUSES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert outcome(mistake, torch)[0] == "raised"
        assert_same_outcome_as_torch(torch, mistake)


def _cube(fw):
    return fw.arange(24.).reshape(2, 3, 4)


# Advanced indexing past a dim: PyTorch names the index tensor's position among the index
# tensors, not the dim it indexes; index_put's own checks
ADVANCED_MISUSES = {
    "one index tensor on dim 1": lambda fw: _cube(fw)[:, fw.tensor([3])],
    "one index tensor on dim 2": lambda fw: _cube(fw)[:, :, fw.tensor([4])],
    "after an integer": lambda fw: _cube(fw)[0, fw.tensor([3])],
    "the second index tensor": lambda fw: _cube(fw)[fw.tensor([0]), fw.tensor([3])],
    "index tensors apart": lambda fw: _cube(fw)[fw.tensor([0]), :, fw.tensor([4])],
    "after an ellipsis": lambda fw: _cube(fw)[..., fw.tensor([4])],
    "after a mask": lambda fw: _cube(fw)[fw.tensor([True, False]), fw.tensor([3])],
    "a list on dim 1": lambda fw: _cube(fw)[:, [0, 3]],
    "a list apart from an integer": lambda fw: _cube(fw)[1, :, [4]],
    "after None": lambda fw: _cube(fw)[None, :, fw.tensor([3])],
    "negative": lambda fw: _cube(fw)[:, fw.tensor([-4])],
    "setitem on dim 1": lambda fw: fw.zeros(2, 3).__setitem__((slice(None), fw.tensor([3])), 1.0),
    "index_put on dim 1": lambda fw: fw.zeros(2, 3).index_put_(
        (fw.tensor([0]), fw.tensor([3])), fw.tensor(1.0)),
    "index_put too many": lambda fw: fw.zeros(2, 3).index_put_(
        (fw.tensor([0]), fw.tensor([0]), fw.tensor([0])), fw.tensor(1.0)),
    "index_put_ not a tuple": lambda fw: fw.zeros(2, 3).index_put_(fw.tensor([1]),
                                                                   fw.tensor(1.0)),
    "index_put not a tuple": lambda fw: fw.zeros(2, 3).index_put(fw.tensor([1]), fw.tensor(1.0)),
    "index_put mask shape": lambda fw: fw.zeros(2, 3).index_put_(
        [fw.tensor([True, False, True])], fw.tensor(1.0)),
    "a string": lambda fw: fw.zeros(2, 3)["a"],
    "a string after an integer": lambda fw: fw.zeros(2, 3)[1, "a"],
}


@pytest.mark.parametrize("name", sorted(ADVANCED_MISUSES))
def test_advanced_index_misuse_like_torch(torch, name):
    mistake = ADVANCED_MISUSES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert outcome(mistake, torch)[0] == "raised"
        assert_same_outcome_as_torch(torch, mistake)


_ATTENTION_MASKS = {
    # (scores shape, mask shape): a causal mask over (T, T), a padding mask over keys, a full one
    "causal": ((3, 2, 37, 37), (1, 1, 37, 37)),
    "padding": ((5, 4, 19, 19), (5, 1, 1, 19)),
    "rows": ((6, 300), (300,)),
    "full": ((4, 3, 25), (4, 3, 25)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(_ATTENTION_MASKS))
@pytest.mark.parametrize("fill", ["-inf", "nan", "tensor", "where"])
def test_masked_fill_and_where_with_broadcast_masks_match_torch(torch, dtype, name, fill):
    # the compiled select takes a broadcast mask and a 0-d value (masked_fill's): the same
    # values and gradients as torch
    shape, mask_shape = _ATTENTION_MASKS[name]
    random = np.random.default_rng(len(shape) + mask_shape[0])
    scores = random.standard_normal(shape).astype(dtype)
    hidden = random.random(mask_shape) < 0.4
    upstream = random.standard_normal(shape).astype(dtype)
    results = []
    for fw in (ember, torch):
        x = fw.tensor(scores, requires_grad=True)
        mask = fw.tensor(hidden)
        if fill == "tensor":
            value = fw.tensor(-2.5, dtype=getattr(fw, dtype), requires_grad=True)
            out = x.masked_fill(mask, value)
        elif fill == "where":
            other = fw.tensor(upstream[..., ::-1].copy(), requires_grad=True)
            out = fw.where(mask, x, other)
        else:
            out = x.masked_fill(mask, float(fill))
        finite = fw.tensor(np.where(np.broadcast_to(hidden, shape), 0, upstream))
        loss = (fw.nan_to_num(out, nan=0.0, neginf=0.0) * finite).sum()
        loss.backward()
        grads = [x.grad.numpy()]
        if fill == "tensor":
            grads.append(value.grad.numpy())
        if fill == "where":
            grads.append(other.grad.numpy())
        results.append((out.detach().numpy(), *grads))
    for mine, theirs in zip(*results):
        assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
        np.testing.assert_array_equal(mine, theirs)
