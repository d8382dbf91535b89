"""Sparse functions against PyTorch: one_hot, and EmbeddingBag with every mode and option."""
import contextlib

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.nn._kernels.sparse import BagSum
from tests.conftest import (
    assert_close, assert_raises_like_torch, compare_with_torch, float_array, gradcheck_arrays,
    load_torch_state)


@pytest.mark.parametrize("values, num_classes", [([1, 0, 3], -1), ([[1, 2], [0, 0]], 5),
                                                 ([], 3)])
def test_one_hot_matches_torch(torch, values, num_classes):
    ours = F.one_hot(ember.tensor(values, dtype=ember.int64), num_classes)
    theirs = torch.nn.functional.one_hot(torch.tensor(values, dtype=torch.int64), num_classes)
    assert_close(ours, theirs)
    by_keyword = F.one_hot(input=ember.tensor(values, dtype=ember.int64), num_classes=num_classes)
    their_keyword = torch.nn.functional.one_hot(input=torch.tensor(values, dtype=torch.int64),
                                                num_classes=num_classes)
    assert_close(by_keyword, their_keyword)


@pytest.mark.parametrize("values, num_classes, dtype", [
    ([1, -1], -1, "int64"), ([1, 4], 3, "int64"), ([], -1, "int64"), ([1, 2], 3, "int32")])
def test_one_hot_errors_match_torch(torch, values, num_classes, dtype):
    assert_raises_like_torch(
        lambda: torch.nn.functional.one_hot(torch.tensor(values, dtype=getattr(torch, dtype)),
                                            num_classes),
        lambda: F.one_hot(ember.tensor(values, dtype=getattr(ember, dtype)), num_classes),
        RuntimeError)


BAG_INDICES = np.array([1, 2, 4, 5, 4, 3, 2, 9])
EMBEDDING_BAG_CASES = [
    ({}, np.array([0, 2, 2, 5])),
    ({"mode": "sum"}, np.array([0, 2, 2, 5])),
    ({"mode": "max"}, np.array([0, 2, 2, 5])),
    ({"mode": "mean", "padding_idx": 4}, np.array([0, 3, 5])),
    ({"mode": "sum", "include_last_offset": True}, np.array([0, 2, 5, 8])),
    ({"mode": "max"}, None),
]


@pytest.mark.parametrize("options, offsets", EMBEDDING_BAG_CASES, ids=str)
def test_embedding_bag_matches_torch_with_its_weights(torch, options, offsets):
    theirs = torch.nn.EmbeddingBag(10, 3, **options)
    ours = nn.EmbeddingBag(10, 3, **options)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    load_torch_state(ours, theirs)
    indices = BAG_INDICES.reshape(2, 4) if offsets is None else BAG_INDICES
    our_args = [ember.tensor(indices)] + ([] if offsets is None else [ember.tensor(offsets)])
    their_args = [torch.tensor(indices)] + ([] if offsets is None else [torch.tensor(offsets)])
    our_out = ours(*our_args)
    their_out = theirs(*their_args)
    assert_close(our_out.detach(), their_out.detach())
    weights = np.random.default_rng(3).standard_normal(tuple(their_out.shape)).astype(np.float32)
    (our_out * ember.tensor(weights)).sum().backward()
    (their_out * torch.tensor(weights)).sum().backward()
    assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["mean", "sum"])
@pytest.mark.parametrize("padding_idx", [None, 3])
def test_embedding_bag_segment_sums_match_torch(torch, mode, padding_idx):
    """The bags' segment sums (empty bags inside and at the end, a bag of padding only), in
    float64 to torch's values and gradients, and a gradcheck; the compiled segment sums (row
    after row) and np.add.reduceat's agree to float32 rounding."""
    from ember import _jit
    rows = np.random.default_rng(8).standard_normal((40, 5)).astype(np.float32)
    bag_of = np.repeat(np.arange(8), [0, 5, 5, 4, 0, 16, 10, 0])
    scale = (np.arange(40) % 3 != 0).astype(np.float32)
    compiled = BagSum.apply(ember.tensor(rows), bag_of, scale, None, 9).numpy()
    with _jit.disabled():
        plain = BagSum.apply(ember.tensor(rows), bag_of, scale, None, 9).numpy()
    np.testing.assert_allclose(compiled, plain, rtol=1e-6, atol=1e-6)
    rng = np.random.default_rng(7)
    indices = rng.integers(0, 12, 40)
    indices[10:14] = 3
    offsets = np.array([0, 0, 5, 10, 14, 14, 30, 40, 40])
    weight = rng.standard_normal((12, 5))
    ours = ember.tensor(weight, requires_grad=True)
    theirs = torch.tensor(weight, requires_grad=True)
    our_out = F.embedding_bag(ember.tensor(indices), ours, ember.tensor(offsets), mode=mode,
                              padding_idx=padding_idx)
    their_out = torch.nn.functional.embedding_bag(torch.tensor(indices), theirs,
                                                  torch.tensor(offsets), mode=mode,
                                                  padding_idx=padding_idx)
    np.testing.assert_allclose(our_out.detach().numpy(), their_out.detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    weights = rng.standard_normal(tuple(their_out.shape))
    (our_out * ember.tensor(weights)).sum().backward()
    (their_out * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert ember.autograd.gradcheck(
        lambda w: F.embedding_bag(ember.tensor(indices), w, ember.tensor(offsets), mode=mode,
                                  padding_idx=padding_idx),
        (ember.tensor(weight, requires_grad=True),))


def test_embedding_bag_per_sample_weights_match_torch(torch):
    weight = float_array((10, 3))
    sample_weights = float_array((8,), seed=4)
    offsets = np.array([0, 3])

    def ours(table, scale):
        return F.embedding_bag(ember.tensor(BAG_INDICES), table, ember.tensor(offsets),
                               mode="sum", per_sample_weights=scale)

    def theirs(table, scale):
        return torch.nn.functional.embedding_bag(torch.tensor(BAG_INDICES), table,
                                                 torch.tensor(offsets), mode="sum",
                                                 per_sample_weights=scale)

    compare_with_torch(torch, ours, theirs, [weight, sample_weights])
    gradcheck_arrays(ours, [weight, sample_weights])


def test_embedding_bag_errors_match_torch(torch):
    for call, error in [
            (lambda lib: lib.nn.functional.embedding_bag(lib.tensor([1, 2]), lib.zeros(4, 2)),
             ValueError),
            (lambda lib: lib.nn.functional.embedding_bag(lib.tensor([1, 2]), lib.zeros(4, 2),
                                                         lib.tensor([0]), mode="median"),
             ValueError),
            (lambda lib: lib.nn.functional.embedding_bag(
                lib.tensor([1, 2]), lib.zeros(4, 2), lib.tensor([0]),
                per_sample_weights=lib.ones(2)), NotImplementedError),
            (lambda lib: lib.nn.functional.embedding_bag(lib.tensor([1, 7]), lib.zeros(4, 2),
                                                         lib.tensor([0])), RuntimeError)]:
        assert_raises_like_torch(lambda: call(torch), lambda: call(ember), error)


def _bag_outcome(lib, input_kind, offsets_kind, weights_kind, mode, flags, weight_rank):
    """F.embedding_bag's result (or error type and message) and the weight afterwards."""
    scale_grad_by_freq, sparse, max_norm = flags
    input = {"1d": lib.tensor([1, 2, 4, 5, 4, 3]), "2d": lib.tensor([[1, 2, 4], [5, 4, 3]]),
             "3d": lib.tensor([[[1, 2]]])}[input_kind]
    offsets = {None: None, "ok": lib.tensor([0, 2]), "2d": lib.tensor([[0, 2]]),
               "nonzero first": lib.tensor([1, 2]), "past end": lib.tensor([0, 7])}[offsets_kind]
    weight = lib.tensor(np.arange(40.0).reshape(10, 4).astype(np.float32))
    if weight_rank == 1:
        weight = weight[:, 0].contiguous()
    per_sample_weights = {None: None, "match": lib.ones(input.shape),
                          "mismatch": lib.ones(7)}[weights_kind]
    try:
        output = lib.nn.functional.embedding_bag(
            input, weight, offsets, max_norm=max_norm, scale_grad_by_freq=scale_grad_by_freq,
            mode=mode, sparse=sparse, per_sample_weights=per_sample_weights)
        result = output.detach().numpy().round(4).tolist()
    except Exception as error:  # the error itself is the result compared
        message = str(error).replace("torch.Size", "ember.Size").replace("torch.", "ember.")
        result = (type(error).__name__, message.replace("ember.tensor.Tensor", "ember.Tensor"))
    return result, weight.numpy().round(3).tolist()


def test_embedding_bag_check_order_matches_torch(torch):
    """Where an input breaks several of PyTorch's rules, the same error comes first (shape of
    per_sample_weights, weight rank, offsets, mode, max_norm's renorm, per_sample_weights' mode,
    offsets' values), and the weight is renormed as far as PyTorch gets."""
    import itertools
    import warnings
    flag_sets = [(False, False, None), (True, False, None), (False, True, None),
                 (False, False, 1.0)]
    for case in itertools.product(["1d", "2d", "3d"],
                                  [None, "ok", "2d", "nonzero first", "past end"],
                                  [None, "match", "mismatch"], ["sum", "mean", "max", "median"],
                                  flag_sets, [2, 1]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = _bag_outcome(torch, *case)
        assert _bag_outcome(ember, *case) == theirs, case


# ---- sparse gradients: Embedding(sparse=True), EmbeddingBag(sparse=True) ----------------------
def _sparse_pair(torch, rows, columns, **options):
    weight = np.random.default_rng(3).standard_normal((rows, columns)).astype(np.float32)
    ours = nn.Embedding(rows, columns, sparse=True, **options)
    theirs = torch.nn.Embedding(rows, columns, sparse=True, **options)
    theirs.load_state_dict({"weight": torch.tensor(weight)})
    load_torch_state(ours, theirs)
    return ours, theirs


def _assert_sparse_like_torch(ours, theirs):
    """The same COO tensor entry for entry (indices, values, size, coalesced flag)."""
    assert ours.is_sparse and theirs.is_sparse
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.is_coalesced() == theirs.is_coalesced()
    assert_close(ours._indices(), theirs._indices())
    assert_close(ours._values(), theirs._values())


@pytest.mark.parametrize("options", [{}, {"padding_idx": 2}, {"padding_idx": -1},
                                     {"max_norm": 1.0}])
def test_sparse_embedding_grad_is_torchs_coo_tensor(torch, options):
    ours, theirs = _sparse_pair(torch, 6, 3, **options)
    lookups = [[1, 2, 1], [4, 0, 5]]
    weights = np.linspace(-1, 1, 18, dtype=np.float32).reshape(2, 3, 3)
    (ours(ember.tensor(lookups)) * ember.tensor(weights)).pow(2).sum().backward()
    (theirs(torch.tensor(lookups)) * torch.tensor(weights)).pow(2).sum().backward()
    _assert_sparse_like_torch(ours.weight.grad, theirs.weight.grad)
    assert_close(ours.weight, theirs.weight.detach())  # max_norm renormalised the same rows
    # A second backward concatenates the entries (uncoalesced), as PyTorch's sparse add does
    # here; its in-place add merges some neighbouring equal indices in other cases (padding),
    # so there only the coalesced and dense forms are compared.
    ours(ember.tensor([5, 1])).sum().backward()
    theirs(torch.tensor([5, 1])).sum().backward()
    if not options:
        _assert_sparse_like_torch(ours.weight.grad, theirs.weight.grad)
    grad, their_grad = ours.weight.grad, theirs.weight.grad
    _assert_sparse_like_torch(grad.coalesce(), their_grad.coalesce())
    assert_close(grad.to_dense(), their_grad.to_dense())


def test_sparse_embedding_single_and_empty_lookups_match_torch(torch):
    ours, theirs = _sparse_pair(torch, 4, 2)
    ours(ember.tensor([3])).sum().backward()
    theirs(torch.tensor([3])).sum().backward()
    _assert_sparse_like_torch(ours.weight.grad, theirs.weight.grad)  # nnz 1: coalesced
    ours.weight.grad = None
    theirs.weight.grad = None
    empty = np.zeros(0, dtype=np.int64)
    ours(ember.tensor(empty)).sum().backward()
    theirs(torch.tensor(empty)).sum().backward()
    _assert_sparse_like_torch(ours.weight.grad, theirs.weight.grad)


def test_sparse_grad_adds_into_an_existing_dense_grad(torch):
    ours, theirs = _sparse_pair(torch, 4, 2)
    ours.weight.grad = ember.ones(4, 2)
    theirs.weight.grad = torch.ones(4, 2)
    ours(ember.tensor([1, 1, 3])).sum().backward()
    theirs(torch.tensor([1, 1, 3])).sum().backward()
    assert not ours.weight.grad.is_sparse
    assert_close(ours.weight.grad, theirs.weight.grad)


def test_sparse_grad_zero_grad_keeps_an_empty_sparse_grad(torch):
    ours, theirs = _sparse_pair(torch, 4, 2)
    ours(ember.tensor([1, 2])).sum().backward()
    theirs(torch.tensor([1, 2])).sum().backward()
    ours.zero_grad(set_to_none=False)
    theirs.zero_grad(set_to_none=False)
    _assert_sparse_like_torch(ours.weight.grad, theirs.weight.grad)


def test_sparse_embedding_scale_grad_by_freq_refused_at_backward_like_torch(torch):
    ours, theirs = _sparse_pair(torch, 4, 2, scale_grad_by_freq=True)
    their_output = theirs(torch.tensor([1, 1])).sum()
    our_output = ours(ember.tensor([1, 1])).sum()
    assert_raises_like_torch(their_output.backward, our_output.backward, RuntimeError)


def test_sparse_embedding_through_grad_gives_the_dense_values(torch):
    # autograd.grad carries dense arrays in ember: the sparse tensor's dense form (PyTorch
    # returns the COO tensor itself).
    weight = ember.tensor(np.arange(8.0).reshape(4, 2), requires_grad=True)
    output = F.embedding(ember.tensor([1, 1, 3]), weight, sparse=True)
    (grad,) = ember.autograd.grad((output * output).sum(), weight)
    their_weight = torch.tensor(np.arange(8.0).reshape(4, 2), requires_grad=True)
    their_output = torch.nn.functional.embedding(torch.tensor([1, 1, 3]), their_weight,
                                                 sparse=True)
    (their_grad,) = torch.autograd.grad((their_output * their_output).sum(), their_weight)
    assert_close(grad, their_grad.to_dense())
    assert weight.grad is None


def test_sparse_embedding_float64_gradcheck_and_sparse_grad_agree():
    weight = ember.tensor(np.random.default_rng(0).standard_normal((5, 3)), requires_grad=True)
    lookups = ember.tensor([[0, 4, 4], [2, 0, 1]])
    assert ember.autograd.gradcheck(
        lambda table: F.embedding(lookups, table, sparse=True).sin(), (weight,))
    F.embedding(lookups, weight, padding_idx=1, sparse=True).sin().sum().backward()
    dense = weight.detach().clone().requires_grad_(True)
    F.embedding(lookups, dense, padding_idx=1).sin().sum().backward()
    assert weight.grad.is_sparse and weight.grad.dtype == ember.float64
    np.testing.assert_allclose(weight.grad.to_dense().numpy(), dense.grad.numpy(), rtol=1e-12)


def test_sparse_embedding_post_accumulate_hook_sees_the_sparse_grad():
    embedding = nn.Embedding(4, 2, sparse=True)
    seen = []
    embedding.weight.register_post_accumulate_grad_hook(
        lambda parameter: seen.append(parameter.grad._nnz()))
    embedding(ember.tensor([0, 3, 3])).sum().backward()
    assert seen == [3]


@pytest.mark.parametrize("mode, per_sample, padding_idx", [
    ("sum", False, None), ("mean", False, None), ("sum", True, 1), ("mean", False, 1)])
def test_sparse_embedding_bag_grad_matches_torch(torch, mode, per_sample, padding_idx):
    weight = np.random.default_rng(1).standard_normal((6, 2)).astype(np.float32)
    ours = nn.EmbeddingBag(6, 2, mode=mode, sparse=True, padding_idx=padding_idx)
    theirs = torch.nn.EmbeddingBag(6, 2, mode=mode, sparse=True, padding_idx=padding_idx)
    theirs.load_state_dict({"weight": torch.tensor(weight)})
    load_torch_state(ours, theirs)
    lookups, offsets = [1, 2, 1, 4, 0], [0, 2]
    sample_weights = np.arange(5, dtype=np.float32) if per_sample else None
    our_output = ours(ember.tensor(lookups), ember.tensor(offsets),
                      per_sample_weights=None if sample_weights is None
                      else ember.tensor(sample_weights))
    their_output = theirs(torch.tensor(lookups), torch.tensor(offsets),
                          per_sample_weights=None if sample_weights is None
                          else torch.tensor(sample_weights))
    our_output.pow(2).sum().backward()
    their_output.pow(2).sum().backward()
    _assert_sparse_like_torch(ours.weight.grad, theirs.weight.grad)


def test_sparse_embedding_bag_max_mode_refused_like_torch(torch):
    assert_raises_like_torch(
        lambda: torch.nn.EmbeddingBag(4, 2, mode="max", sparse=True)(
            torch.tensor([1, 2]), torch.tensor([0])),
        lambda: nn.EmbeddingBag(4, 2, mode="max", sparse=True)(
            ember.tensor([1, 2]), ember.tensor([0])), ValueError)


@pytest.mark.parametrize("path", ["compiled", "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx, scale", [(None, False), (3, False), (None, True),
                                                (7, True)])
def test_embedding_dense_gradient_matches_torch(torch, path, dtype, padding_idx, scale):
    # the compiled loop adds each index's rows in lookup order, as PyTorch's CPU backward: the
    # same bits without scaling (PyTorch fuses the scaling into a multiply-add: an ulp there);
    # the NumPy path sums runs of a sort, within rounding
    random = np.random.default_rng(2)
    indices = random.integers(0, 50, (8, 30))
    indices[0, :5], indices[1, :3] = 3, 7
    weight = random.standard_normal((50, 16)).astype(dtype)
    grad = random.standard_normal((8, 30, 16)).astype(dtype)
    with (contextlib.nullcontext() if path == "compiled" else ember._jit.disabled()):
        leaf = ember.tensor(weight, requires_grad=True)
        F.embedding(ember.tensor(indices), leaf, padding_idx=padding_idx,
                    scale_grad_by_freq=scale).backward(ember.tensor(grad))
    expected = torch.tensor(weight, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(indices), expected, padding_idx=padding_idx,
                                  scale_grad_by_freq=scale).backward(torch.tensor(grad))
    if path == "compiled" and not scale:
        np.testing.assert_array_equal(leaf.grad.numpy(), expected.grad.numpy())
    tolerance = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(leaf.grad.numpy(), expected.grad.numpy(), rtol=tolerance,
                               atol=tolerance)


@pytest.mark.parametrize("dtype, indices", [
    (dtype, indices) for dtype in ("uint8", "int8", "int16", "int32", "int64", "float32")
    for indices in ([3, 9], [10], [-1], [[0, 4]]) if not (dtype == "uint8" and indices == [-1])])
def test_embedding_index_dtypes_and_bounds_as_torch(dtype, indices):
    # Long and Int indices only (PyTorch's message otherwise); an index outside [0, rows) of
    # either sign is refused with its IndexError
    torch = pytest.importorskip("torch")
    outcomes = []
    for fw in (torch, ember):
        layer = fw.nn.Embedding(10, 3)
        with fw.no_grad():
            layer.weight.copy_(fw.arange(30.0).reshape(10, 3))
        try:
            outcomes.append(layer(fw.tensor(indices, dtype=getattr(fw, dtype))).detach().numpy())
        except (RuntimeError, IndexError) as error:
            outcomes.append((type(error), str(error).split(" instead")[0].replace("torch.", "")))
    expected, got = outcomes
    if isinstance(expected, tuple):
        assert got[0] is expected[0]
        assert got[1].replace("ember.", "") == expected[1]
    else:
        np.testing.assert_array_equal(got, expected)


def _scaled_embedding_derivatives(fw, weight_array, indices):
    """Second derivatives through embedding(scale_grad_by_freq=True, padding_idx=1): reverse
    over reverse (autograd.grad), forward over reverse (func.hessian) and the jvp."""
    weight = fw.tensor(weight_array, requires_grad=True)
    lookups = fw.tensor(indices)

    def loss(table):
        rows = fw.nn.functional.embedding(lookups, table, padding_idx=1, scale_grad_by_freq=True)
        return (rows * rows * rows.new_tensor(np.linspace(0.5, 2.0, 3))).sum()

    (grad,) = fw.autograd.grad(loss(weight), weight, create_graph=True)
    direction = np.cos(np.arange(weight_array.size)).reshape(weight_array.shape)
    (second,) = fw.autograd.grad((grad * fw.tensor(direction)).sum(), weight)
    hessian = fw.func.hessian(loss)(weight.detach())
    tangent = fw.tensor(direction)
    _, jvp = fw.func.jvp(lambda table: fw.nn.functional.embedding(
        lookups, table, padding_idx=1, scale_grad_by_freq=True), (weight.detach(),), (tangent,))
    return [value.detach().numpy() for value in (grad, second, hessian, jvp)]


def test_scaled_embedding_second_derivatives_match_torch(torch):
    # PyTorch's double backward of the scaled gradient picks its rows unscaled, while its jvp
    # scales (ember had divided by the counts twice in the double backward), and the lookup's
    # jvp keeps padding_idx's rows (ember had zeroed them)
    weight = np.random.default_rng(0).standard_normal((4, 3))
    indices = [[0, 2, 1, 2], [2, 1, 3, 2]]
    ours = _scaled_embedding_derivatives(ember, weight, indices)
    theirs = _scaled_embedding_derivatives(torch, weight, indices)
    for name, mine, expected in zip(("grad", "grad of grad", "hessian", "jvp"), ours, theirs):
        np.testing.assert_allclose(mine, expected, rtol=1e-12, atol=1e-12, err_msg=name)
