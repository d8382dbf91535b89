"""Sparse COO tensors against PyTorch: construction and its errors, coalescing, conversions,
products and sums with their gradients (to the dense operand, to the values, to a sparse leaf),
printing, refusals of unsupported ops, float64 gradchecks and a graph convolution trained like
PyTorch's."""
import copy
import io
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from tests.conftest import assert_close, float64_tensor

pytest.importorskip("scipy")

INDICES = [[0, 1, 1, 0, 2], [2, 0, 2, 2, 1]]  # (0, 2) appears twice: not coalesced
VALUES = [3.0, 4.0, 5.0, 6.0, -1.5]


@pytest.fixture(autouse=True)
def _quiet_torch():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse invariant checks")
        yield


def _both(torch, indices, values, size=None, **kwargs):
    ours = ember.sparse_coo_tensor(indices, values, size, **kwargs)
    theirs = _torch_sparse(torch, indices, values, size, **kwargs)
    return ours, theirs


def _torch_sparse(torch, indices, values, size=None, **kwargs):
    """torch.sparse_coo_tensor, whose argument parser refuses an explicit size=None."""
    if size is None:
        return torch.sparse_coo_tensor(indices, values, **kwargs)
    return torch.sparse_coo_tensor(indices, values, size, **kwargs)


def _torch_repr(tensor):
    return repr(tensor).replace("torch.", "ember.")


def _assert_same_sparse(ours, theirs, coalesced_flag=True):
    assert ours.is_sparse and theirs.is_sparse
    assert ours.layout is ember.sparse_coo
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours._nnz() == theirs._nnz()
    if coalesced_flag:
        assert ours.is_coalesced() == theirs.is_coalesced()
    assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
    assert_close(ours._indices(), theirs._indices())
    assert_close(ours._values(), theirs._values())


# ---- construction ---------------------------------------------------------------------------
CONSTRUCTIONS = {
    "float values, size": (INDICES, VALUES, (3, 3), {}),
    "inferred size": (INDICES, VALUES, None, {}),
    "integer values": (INDICES, [1, 2, 3, 4, 5], (3, 4), {}),
    "float64 by dtype": (INDICES, VALUES, (3, 3), {"dtype": "float64"}),
    "hybrid values": (INDICES, np.arange(10.0, dtype=np.float32).reshape(5, 2), None, {}),
    "hybrid with size": (INDICES, np.ones((5, 2), np.float32), (3, 5, 2), {}),
    "one entry": ([[1], [2]], [7.0], (2, 3), {}),
    "empty": (np.zeros((2, 0), np.int64), np.zeros(0, np.float32), (3, 3), {}),
    "empty inferred": (np.zeros((2, 0), np.int64), np.zeros(0, np.float32), None, {}),
    "1-D": ([[4, 0, 4]], [1.0, 2.0, 3.0], None, {}),
    "3-D": ([[0, 1], [1, 0], [2, 2]], [1.0, 2.0], (2, 2, 3), {}),
    "int32 indices": (np.array(INDICES, np.int32), VALUES, (3, 3), {}),
    "marked coalesced": ([[0, 1], [1, 0]], [1.0, 2.0], (2, 2), {"is_coalesced": True}),
    "requires grad": (INDICES, VALUES, (3, 3), {"requires_grad": True}),
}


def _arguments(torch, case, library):
    indices, values, size, kwargs = CONSTRUCTIONS[case]
    kwargs = dict(kwargs)
    if "dtype" in kwargs:
        kwargs["dtype"] = getattr(library, kwargs["dtype"])
    make = library.tensor
    return make(np.asarray(indices)), make(np.asarray(values)), size, kwargs


@pytest.mark.parametrize("case", sorted(CONSTRUCTIONS))
def test_construction_matches_torch(torch, case):
    indices, values, size, kwargs = _arguments(torch, case, ember)
    ours = ember.sparse_coo_tensor(indices, values, size, **kwargs)
    indices, values, size, kwargs = _arguments(torch, case, torch)
    theirs = _torch_sparse(torch, indices, values, size, **kwargs)
    _assert_same_sparse(ours, theirs)
    assert repr(ours) == _torch_repr(theirs)
    assert ours.requires_grad == theirs.requires_grad and ours.is_leaf == theirs.is_leaf
    assert ours.sparse_dim() == theirs.sparse_dim() and ours.dense_dim() == theirs.dense_dim()
    assert_close(ours.to_dense(), theirs.to_dense())


BAD_CONSTRUCTIONS = {
    "nnz mismatch": (INDICES, [1.0, 2.0], (3, 3), {}),
    "size too short": (INDICES, VALUES, (3,), {}),
    "hybrid size too short": (INDICES, np.ones((5, 2)), (3, 3), {}),
    "dense size wrong": (INDICES, np.ones((5, 2)), (3, 3, 4), {}),
    "negative index, inferred": ([[0, -1], [1, 1]], [1.0, 2.0], None, {}),
    "1-D indices": ([0, 1, 2], [1.0, 2.0, 3.0], None, {}),
    "3-D indices": (np.zeros((2, 3, 1), np.int64), [1.0, 2.0, 3.0], None, {}),
    "integer requires grad": (INDICES, [1, 2, 3, 4, 5], (3, 3), {"requires_grad": True}),
}


@pytest.mark.parametrize("case", sorted(BAD_CONSTRUCTIONS))
def test_construction_errors_match_torch(torch, case):
    indices, values, size, kwargs = BAD_CONSTRUCTIONS[case]
    with pytest.raises(Exception) as expected:
        _torch_sparse(torch, torch.tensor(np.asarray(indices)),
                      torch.tensor(np.asarray(values)), size, **kwargs)
    with pytest.raises(type(expected.value)) as raised:
        ember.sparse_coo_tensor(ember.tensor(np.asarray(indices)),
                                ember.tensor(np.asarray(values)), size, **kwargs)
    assert str(raised.value) == str(expected.value)


def test_indices_outside_the_size_are_refused_as_torch_checks_invariants(torch):
    """PyTorch accepts them unless invariant checks are on; ember always checks (an index
    outside the size would otherwise corrupt memory in torch and fail later in ember)."""
    for indices, message_case in (([[0, 3], [1, 1]], "large"), ([[0, -1], [1, 1]], "negative")):
        with pytest.raises(RuntimeError) as expected:
            torch.sparse_coo_tensor(indices, [1.0, 2.0], (3, 3), check_invariants=True)
        with pytest.raises(RuntimeError) as raised:
            ember.sparse_coo_tensor(indices, [1.0, 2.0], (3, 3))
        assert str(raised.value) == str(expected.value), message_case


def test_legacy_constructor_as_graph_scripts_call_it(torch):
    indices = np.array(INDICES)
    ours = ember.sparse.FloatTensor(ember.tensor(indices), ember.tensor(VALUES),
                                    ember.Size([3, 3]))
    theirs = torch.sparse.FloatTensor(torch.tensor(indices), torch.tensor(VALUES),
                                      torch.Size([3, 3]))
    _assert_same_sparse(ours, theirs)


def test_legacy_constructor_forms_dtypes_and_deprecations(torch):
    """(indices, values) keeps the values' dtype (DoubleTensor of float32 values is float32 in
    PyTorch too); sizes alone give an empty tensor of the type; each form warns once a process
    with PyTorch's text (PyTorch's own once-a-process state is shared with the other tests)."""
    from ember.tensor import _warned_once
    _warned_once.clear()
    indices = np.array(INDICES)
    calls = [("FloatTensor", (indices, np.array(VALUES), (3, 3))),
             ("DoubleTensor", (indices, np.array(VALUES, np.float32))),
             ("LongTensor", (2, 3)), ("DoubleTensor", (4, 1)), ("FloatTensor", ())]
    messages = []
    for _ in range(2):
        for name, arguments in calls:
            results = []
            for framework in (ember, torch):
                given = [framework.tensor(a) if isinstance(a, np.ndarray) else a
                         for a in arguments]
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    result = getattr(framework.sparse, name)(*given)
                if framework is ember:
                    messages += [str(warning.message) for warning in caught]
                results.append((str(result.dtype).split(".")[1], tuple(result.shape),
                                result._nnz(), result.to_dense().tolist()))
            assert results[0] == results[1], name
    assert [message.split("(")[1].split(")")[0] for message in messages] == [
        "indices, values, shape, *, device=", "indices, values, *, device=",
        "shape, *, device=", ""]
    assert messages[0] == ("torch.sparse.SparseTensor(indices, values, shape, *, device=) is "
                           "deprecated.  Please use torch.sparse_coo_tensor(indices, values, "
                           "shape, dtype=, device=).")
    with pytest.raises(TypeError):
        ember.sparse.FloatTensor(ember.tensor(indices), VALUES)


# ---- structure: coalesce, indices, values -----------------------------------------------------
def test_coalesce_indices_values_match_torch(torch):
    ours, theirs = _both(torch, INDICES, VALUES, (3, 3))
    for method in ("indices", "values"):
        with pytest.raises(RuntimeError) as expected:
            getattr(theirs, method)()
        with pytest.raises(RuntimeError) as raised:
            getattr(ours, method)()
        assert str(raised.value) == str(expected.value)
    ours_coalesced = ours.coalesce()
    theirs_coalesced = theirs.coalesce()
    _assert_same_sparse(ours_coalesced, theirs_coalesced)
    assert_close(ours_coalesced.indices(), theirs_coalesced.indices())
    assert_close(ours_coalesced.values(), theirs_coalesced.values())
    assert ours_coalesced.coalesce() is ours_coalesced


def test_hybrid_coalesce_sums_rows(torch):
    values = np.arange(10.0, dtype=np.float32).reshape(5, 2)
    ours, theirs = _both(torch, INDICES, values, (3, 3, 2))
    _assert_same_sparse(ours.coalesce(), theirs.coalesce())


def test_strided_tensors_answer_layout_questions_as_torch(torch):
    ours = ember.ones(2, 3)
    theirs = torch.ones(2, 3)
    assert ours.layout is ember.strided and repr(ours.layout) == "ember.strided"
    assert repr(ember.sparse_coo) == "ember.sparse_coo"
    assert not ours.is_sparse and not theirs.is_sparse
    assert ours.to_dense() is ours
    assert ours.sparse_dim() == theirs.sparse_dim() == 0
    assert ours.dense_dim() == theirs.dense_dim() == 2
    for method in ("coalesce", "indices", "values", "is_coalesced"):
        with pytest.raises(RuntimeError) as expected:
            getattr(theirs, method)()
        with pytest.raises(RuntimeError) as raised:
            getattr(ours, method)()
        assert str(raised.value) == str(expected.value)


@pytest.mark.parametrize("sparse_dim", [None, 1, 2])
def test_to_sparse_matches_torch(torch, sparse_dim):
    array = np.array([[[0.0, 1.0], [0.0, 0.0]], [[2.0, 0.0], [0.0, -3.0]]], np.float32)
    arguments = () if sparse_dim is None else (sparse_dim,)
    ours = ember.tensor(array).to_sparse(*arguments)
    theirs = torch.tensor(array).to_sparse(*arguments)
    _assert_same_sparse(ours, theirs)
    assert repr(ours) == _torch_repr(theirs)
    assert ours.to_sparse() is ours


def test_to_sparse_backward_matches_torch(torch):
    array = np.array([[0.0, 1.5], [2.0, 0.0]], np.float32)
    weights = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    ours = ember.tensor(array, requires_grad=True)
    theirs = torch.tensor(array, requires_grad=True)
    (ours.to_sparse().to_dense() * ember.tensor(weights)).sum().backward()
    (theirs.to_sparse().to_dense() * torch.tensor(weights)).sum().backward()
    assert_close(ours.grad, theirs.grad)


def test_conversions_keep_the_pattern(torch):
    ours, theirs = _both(torch, INDICES, VALUES, (3, 3))
    _assert_same_sparse(ours.double(), theirs.double())
    _assert_same_sparse(ours.to(ember.float64), theirs.to(torch.float64))
    _assert_same_sparse(ours.t(), theirs.t())
    _assert_same_sparse(ours * 2, theirs * 2)
    _assert_same_sparse(ours.clone(), theirs.clone())
    _assert_same_sparse(ours.detach(), theirs.detach())
    with pytest.raises(RuntimeError) as expected:
        theirs.to_dense(torch.float64)
    with pytest.raises(RuntimeError) as raised:
        ours.to_dense(ember.float64)
    assert str(raised.value) == str(expected.value)


# ---- printing ---------------------------------------------------------------------------------
def test_repr_with_history_matches_torch(torch):
    values = np.array(VALUES, np.float32)
    ours_values = ember.tensor(values, requires_grad=True)
    theirs_values = torch.tensor(values, requires_grad=True)
    ours = ember.sparse_coo_tensor(INDICES, ours_values, (3, 3))
    theirs = torch.sparse_coo_tensor(INDICES, theirs_values, (3, 3))
    assert repr(ours) == _torch_repr(theirs)
    assert repr(ours.coalesce()) == _torch_repr(theirs.coalesce())
    wide = np.arange(40.0, dtype=np.float64)
    ours = ember.sparse_coo_tensor([list(range(40))], ember.tensor(wide), requires_grad=True)
    theirs = torch.sparse_coo_tensor([list(range(40))], torch.tensor(wide), requires_grad=True)
    assert repr(ours) == _torch_repr(theirs)


# ---- products ---------------------------------------------------------------------------------
PRODUCTS = {
    "sparse.mm": lambda library, sparse, dense: library.sparse.mm(sparse, dense),
    "spmm": lambda library, sparse, dense: library.spmm(sparse, dense),
    "mm": lambda library, sparse, dense: library.mm(sparse, dense),
    "matmul": lambda library, sparse, dense: library.matmul(sparse, dense),
    "@": lambda library, sparse, dense: sparse @ dense,
    "Tensor.mm": lambda library, sparse, dense: sparse.mm(dense),
    "dense @ sparse": lambda library, sparse, dense: dense.t() @ sparse.t(),
    "mm(dense, sparse)": lambda library, sparse, dense: library.mm(dense.t(), sparse.t()),
    "@ vector": lambda library, sparse, dense: sparse @ dense[:, 0],
    "coalesced first": lambda library, sparse, dense: library.sparse.mm(sparse.coalesce(), dense),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("product", sorted(PRODUCTS))
def test_products_and_their_gradients_match_torch(torch, product, dtype):
    random = np.random.default_rng(1)
    values = random.standard_normal(5).astype(dtype)
    dense = random.standard_normal((3, 4)).astype(dtype)
    weights = random.standard_normal((4, 4)).astype(dtype)
    results = []
    for library in (ember, torch):
        values_leaf = library.tensor(values, requires_grad=True)
        dense_leaf = library.tensor(dense, requires_grad=True)
        sparse = library.sparse_coo_tensor(INDICES, values_leaf, (3, 3))
        out = PRODUCTS[product](library, sparse, dense_leaf)
        weight = library.tensor(weights[:out.shape[0], :out.shape[-1]] if out.ndim == 2
                                else weights[0, :out.shape[0]])
        (out * weight).sum().backward()
        results.append((out, values_leaf.grad, dense_leaf.grad))
    for ours, theirs in zip(*results):
        assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("product", ["sparse.mm", "mm"])
def test_sparse_leaf_gradient_is_sparse_on_the_coalesced_pattern(torch, product):
    """torch.sparse.mm gives a sparse leaf a sparse .grad (PyTorch's mm gives a dense one there:
    ember gives the sparse gradient for both, see docs/sparse.md)."""
    dense = np.random.default_rng(2).standard_normal((3, 2)).astype(np.float32)
    ours = ember.sparse_coo_tensor(INDICES, VALUES, (3, 3), requires_grad=True)
    theirs = torch.sparse_coo_tensor(INDICES, VALUES, (3, 3), requires_grad=True)
    getattr(ember.sparse if product == "sparse.mm" else ember, "mm")(
        ours, ember.tensor(dense)).sum().backward()
    torch.sparse.mm(theirs, torch.tensor(dense)).sum().backward()
    _assert_same_sparse(ours.grad, theirs.grad)
    # A second backward accumulates into the same pattern.
    ember.sparse.mm(ours, ember.tensor(dense)).sum().backward()
    torch.sparse.mm(theirs, torch.tensor(dense)).sum().backward()
    _assert_same_sparse(ours.grad, theirs.grad)


def test_to_dense_and_sum_gradients_of_a_sparse_leaf_match_torch(torch):
    weights = np.arange(9.0, dtype=np.float32).reshape(3, 3)
    ours = ember.sparse_coo_tensor(INDICES, VALUES, (3, 3), requires_grad=True)
    theirs = torch.sparse_coo_tensor(INDICES, VALUES, (3, 3), requires_grad=True)
    (ours.to_dense() * ember.tensor(weights)).sum().backward()
    (theirs.to_dense() * torch.tensor(weights)).sum().backward()
    _assert_same_sparse(ours.grad, theirs.grad)
    ours.grad = None
    theirs.grad = None
    ember.sparse.sum(ours).backward()
    torch.sparse.sum(theirs).backward()
    # torch marks this one gradient coalesced; ember's sparse .grad is never marked so.
    _assert_same_sparse(ours.grad, theirs.grad, coalesced_flag=False)
    (gradient,) = ember.autograd.grad(ember.sparse.sum(ours), ours)
    _assert_same_sparse(gradient, theirs.grad, coalesced_flag=False)


def test_product_errors_match_torch(torch):
    cases = [
        lambda library, sparse: library.sparse.mm(sparse, library.ones(2, 2)),
        lambda library, sparse: library.mm(sparse, library.ones(2, 2)),
        lambda library, sparse: sparse @ library.ones(2, 2),
        lambda library, sparse: library.sparse.mm(sparse, library.ones(3, 2,
                                                                       dtype=library.float64)),
        lambda library, sparse: library.sparse.mm(sparse, library.ones(3)),
    ]
    ours, theirs = _both(torch, INDICES, VALUES, (3, 3))
    for case in cases:
        with pytest.raises(Exception) as expected:
            case(torch, theirs)
        with pytest.raises(type(expected.value)) as raised:
            case(ember, ours)
        assert str(raised.value) == str(expected.value)


def test_products_see_in_place_changes_of_the_values():
    values = ember.tensor([1.0, 2.0])
    sparse = ember.sparse_coo_tensor([[0, 1], [1, 0]], values, (2, 2))
    dense = ember.tensor([[1.0], [10.0]])
    assert ember.sparse.mm(sparse, dense).tolist() == [[10.0], [2.0]]
    with ember.no_grad():
        values.mul_(3)
    assert ember.sparse.mm(sparse, dense).tolist() == [[30.0], [6.0]]


# ---- sums ---------------------------------------------------------------------------------------
SUMS = [None, 0, 1, -1, (0, 1), 2, (1, 2), (0, 2)]


@pytest.mark.parametrize("dim", SUMS)
def test_sparse_sum_and_its_gradient_match_torch(torch, dim):
    values = np.arange(10.0, dtype=np.float32).reshape(5, 2) - 4.5
    results = []
    for library in (ember, torch):
        leaf = library.tensor(values, requires_grad=True)
        sparse = library.sparse_coo_tensor(INDICES, leaf, (3, 3, 2))
        out = library.sparse.sum(sparse) if dim is None else library.sparse.sum(sparse, dim)
        dense = out.to_dense() if out.is_sparse else out
        (dense * (library.arange(dense.numel(), dtype=library.float32).reshape(dense.shape)
                  + 1)).sum().backward()
        results.append((out, leaf.grad))
    (ours, ours_grad), (theirs, theirs_grad) = results
    if theirs.is_sparse:
        _assert_same_sparse(ours, theirs)
    else:
        assert_close(ours, theirs)
    assert_close(ours_grad, theirs_grad)


def test_sparse_sum_dtype_and_errors_match_torch(torch):
    ours, theirs = _both(torch, INDICES, VALUES, (3, 3))
    assert_close(ember.sparse.sum(ours, dtype=ember.float64),
                 torch.sparse.sum(theirs, dtype=torch.float64))
    with pytest.raises(IndexError) as expected:
        torch.sparse.sum(theirs, 5)
    with pytest.raises(IndexError) as raised:
        ember.sparse.sum(ours, 5)
    assert str(raised.value) == str(expected.value)


# ---- unsupported ops ----------------------------------------------------------------------------
@pytest.mark.parametrize("operation, name", [
    (lambda sparse: ember.exp(sparse), "Exp"),
    (lambda sparse: sparse.view(9), "view"), (lambda sparse: sparse[0], "getitem"),
    (lambda sparse: ember.cat([sparse, sparse]), "Cat"),
    (lambda sparse: ember.nn.functional.linear(sparse, ember.ones(2, 3)), "Linear"),
    (lambda sparse: sparse @ sparse, "matmul"),
    (lambda sparse: ember.add(sparse, ember.ones(3, 3)), "Add"),
    (lambda sparse: ember.tensor(sparse), "tensor"),
    (lambda sparse: ember.sum(sparse), "Sum"),
])
def test_unsupported_ops_raise_naming_the_op(operation, name):
    sparse = ember.sparse_coo_tensor(INDICES, VALUES, (3, 3))
    with pytest.raises(NotImplementedError, match=name):
        operation(sparse)


def test_numpy_is_refused_as_torch(torch):
    ours, theirs = _both(torch, INDICES, VALUES, (3, 3))
    with pytest.raises(TypeError) as expected:
        theirs.numpy()
    with pytest.raises(TypeError) as raised:
        ours.numpy()
    assert str(raised.value) == str(expected.value)


def test_save_refuses_a_sparse_tensor_before_writing(tmp_path):
    sparse = ember.sparse_coo_tensor(INDICES, VALUES, (3, 3))
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(TypeError, match="sparse tensor"):
        ember.save({"adjacency": sparse}, path)
    assert not path.exists()
    with pytest.raises(TypeError, match="sparse tensor"):
        ember.save(sparse, io.BytesIO())


def test_pickle_and_deepcopy_keep_the_sparse_tensor():
    sparse = ember.sparse_coo_tensor(INDICES, VALUES, (3, 3), requires_grad=True)
    for copied in (pickle.loads(pickle.dumps(sparse)), copy.deepcopy(sparse)):
        assert copied.is_sparse and copied.requires_grad and not copied.is_coalesced()
        assert copied._indices().tolist() == INDICES
        assert copied._values().tolist() == VALUES


def test_import_ember_does_not_import_scipy():
    code = "import sys, ember; print('scipy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


# ---- float64 gradchecks ---------------------------------------------------------------------------
GRADCHECKS = {
    "sparse.mm": lambda values, dense: ember.sparse.mm(
        ember.sparse_coo_tensor(INDICES, values, (3, 3)), dense),
    "dense @ sparse": lambda values, dense: dense.t() @ ember.sparse_coo_tensor(
        INDICES, values, (3, 3)),
    "coalesce then mm": lambda values, dense: ember.sparse.mm(
        ember.sparse_coo_tensor(INDICES, values, (3, 3)).coalesce(), dense),
    "to_dense": lambda values, dense: ember.sparse_coo_tensor(
        INDICES, values, (3, 3)).to_dense() @ dense,
    "values of coalesced": lambda values, dense: ember.sparse_coo_tensor(
        INDICES, values, (3, 3)).coalesce().values() * dense.sum(),
    "sparse.sum over a dim": lambda values, dense: ember.sparse.sum(
        ember.sparse_coo_tensor(INDICES, values, (3, 3)), 1).to_dense() * dense[:, 0],
    "transpose, scale": lambda values, dense: ember.sparse.mm(
        ember.sparse_coo_tensor(INDICES, values, (3, 3)).t() * 2.5, dense),
    "to_sparse": lambda values, dense: (dense.to_sparse().to_dense() * values[:4]).sum(),
}


@pytest.mark.parametrize("case", sorted(GRADCHECKS))
def test_gradcheck_float64(case):
    values = float64_tensor((5,), seed=3)
    dense = float64_tensor((3, 4), seed=4)
    assert gradcheck(GRADCHECKS[case], (values, dense))


# ---- a graph convolution trained like PyTorch's ----------------------------------------------------
def _normalized_adjacency(library, nodes, edges):
    """D^-1/2 (A + I) D^-1/2 as a sparse COO tensor, built the way GCN scripts build it."""
    rows = np.concatenate([edges[0], edges[1], np.arange(nodes)])
    columns = np.concatenate([edges[1], edges[0], np.arange(nodes)])
    degree = np.bincount(rows, minlength=nodes).astype(np.float32)
    weights = (degree[rows] ** -0.5) * (degree[columns] ** -0.5)
    return library.sparse_coo_tensor(library.tensor(np.stack([rows, columns])),
                                     library.tensor(weights.astype(np.float32)),
                                     (nodes, nodes))


def _train_gcn(library, adjacency, features, labels, first, second, steps):
    first = library.tensor(first, requires_grad=True)
    second = library.tensor(second, requires_grad=True)
    optimizer = library.optim.Adam([first, second], lr=0.01)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        hidden = library.relu(library.spmm(adjacency, features @ first))
        logits = library.sparse.mm(adjacency, hidden @ second)
        loss = library.nn.functional.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_two_layer_gcn_trains_as_torch(torch):
    random = np.random.default_rng(5)
    nodes, feature_count, hidden_count, classes = 40, 12, 16, 3
    edges = random.integers(0, nodes, size=(2, 120))
    features = random.standard_normal((nodes, feature_count)).astype(np.float32)
    labels = random.integers(0, classes, size=nodes)
    first = (random.standard_normal((feature_count, hidden_count)) * 0.3).astype(np.float32)
    second = (random.standard_normal((hidden_count, classes)) * 0.3).astype(np.float32)
    losses = {}
    for library in (ember, torch):
        adjacency = _normalized_adjacency(library, nodes, edges)
        losses[library.__name__] = _train_gcn(library, adjacency, library.tensor(features),
                                              library.tensor(labels), first, second, steps=20)
    np.testing.assert_allclose(losses["ember"], losses["torch"], rtol=2e-5, atol=1e-6)
    assert losses["ember"][-1] < losses["ember"][0]


@pytest.mark.parametrize("dim", [0, 1])
@pytest.mark.parametrize("log", [False, True])
def test_sparse_softmax_over_specified_entries_like_torch(torch, dim, log):
    """torch.sparse.softmax / log_softmax (graph attention, KGAT's A_in): over the specified
    entries of each row (dim 1) or column (dim 0), duplicates summed first; values and the
    values' gradient as PyTorch's (PyTorch's own backward is wrong for a negative dim)."""
    indices = [[0, 0, 1, 2, 2, 2, 0], [1, 3, 0, 0, 2, 3, 1]]
    values = np.random.default_rng(4).standard_normal(7)
    results = []
    for framework in (ember, torch):
        leaf = framework.tensor(values, requires_grad=True)
        sparse = framework.sparse_coo_tensor(framework.tensor(indices), leaf, (4, 4))
        function = framework.sparse.log_softmax if log else framework.sparse.softmax
        out = function(sparse, dim)
        weights = framework.arange(6, dtype=framework.float64)
        (grad,) = framework.autograd.grad((out.coalesce().values() * weights).sum(), leaf)
        results.append((out.coalesce().indices().tolist(), out.coalesce().values().detach(),
                        grad, out.grad_fn.name(), out.is_coalesced()))
    (ours, theirs) = results
    assert ours[0] == theirs[0] and ours[3:] == theirs[3:]
    for mine, reference in zip(ours[1:3], theirs[1:3]):
        np.testing.assert_allclose(mine.numpy(), reference.numpy(), rtol=1e-12, atol=1e-14)
    hybrid = np.random.default_rng(5).standard_normal((3, 2)).astype(np.float32)
    dense = []
    for framework in (ember, torch):
        tensor = framework.sparse_coo_tensor(framework.tensor([[0, 1, 1]]),
                                             framework.tensor(hybrid), (3, 2))
        dense.append([framework.sparse.softmax(tensor, d).to_dense().numpy() for d in (0, 1)])
    for mine, reference in zip(*dense):
        np.testing.assert_allclose(mine, reference, rtol=1e-6)
    with pytest.raises(NotImplementedError):
        ember.sparse.softmax(ember.ones(2, 2), 1)


def test_sparse_softmax_gradcheck():
    indices = ember.tensor([[0, 0, 1, 2, 2], [1, 3, 0, 0, 2]])
    values = float64_tensor((5,), seed=6)
    for function in (ember.sparse.softmax, ember.sparse.log_softmax):
        assert gradcheck(lambda v: function(ember.sparse_coo_tensor(indices, v, (3, 4)), 1)
                         .coalesce().values(), (values,))


@pytest.mark.parametrize("source", [
    "a + a", "a + b", "a.coalesce() + b.coalesce()", "a - b", "a.add(b, alpha=2)",
    "a.sub(b, alpha=0.5)", "a / 3", "a.coalesce() / 3", "-a"])
def test_sparse_sums_and_division_like_torch(torch, source):
    """sparse + sparse merges the entries (GCN code's ``adj + eye``), marked coalesced only when
    both operands are; division divides each value; gradients reach both operands' values."""
    results = []
    for framework in (ember, torch):
        first = framework.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        second = framework.tensor([5.0, 6.0], requires_grad=True)
        a = framework.sparse_coo_tensor(framework.tensor([[0, 1, 1, 2], [1, 0, 2, 2]]), first,
                                        (3, 3))
        b = framework.sparse_coo_tensor(framework.tensor([[0, 2], [1, 0]]), second, (3, 3))
        out = eval(source)
        loss = framework.sparse.mm(out, framework.arange(6.0).reshape(3, 2)).sum()
        grads = framework.autograd.grad(loss, (first, second), allow_unused=True)
        results.append((out.is_coalesced(), out._indices().tolist(),
                        out._values().detach().numpy(),
                        [None if g is None else g.numpy() for g in grads]))
    ours, theirs = results
    assert ours[:2] == theirs[:2]
    np.testing.assert_array_equal(ours[2], theirs[2])
    for mine, reference in zip(ours[3], theirs[3]):
        assert (mine is None) == (reference is None)
        if mine is not None:
            np.testing.assert_allclose(mine, reference, rtol=1e-6)


def test_sparse_sum_refusals_like_torch(torch):
    for framework in (ember, torch):
        a = framework.sparse_coo_tensor(framework.tensor([[0], [1]]), framework.tensor([1.0]),
                                        (3, 3))
        for dense in (framework.ones(3, 3), 1, 2.5):
            with pytest.raises(RuntimeError, match="Use add\\(dense, sparse\\)"):
                a + dense
            with pytest.raises(RuntimeError, match="Use add\\(dense, sparse\\)"):
                a - dense
        with pytest.raises(RuntimeError, match="sizes of 'self' and 'other' to match"):
            a + framework.sparse_coo_tensor(framework.tensor([[0], [1]]),
                                            framework.tensor([1.0]), (4, 4))


@pytest.mark.parametrize("source", [
    "eye + a", "eye - a", "torch.add(eye, a, alpha=2)", "eye.sub(a, alpha=0.5)",
    "eye.add(a.coalesce())", "ints + a.long()", "eye.double() + a", "ints + a"])
def test_dense_plus_sparse_is_dense_like_torch(torch, source):
    """dense +/- sparse (pytorch/examples' GCN and GAT: ``torch.eye(V) + adjacency``) is a dense
    tensor in the promoted dtype, duplicates each added; the values get the result's gradient at
    their entries, the dense operand all of it."""
    results = []
    for framework in (ember, torch):
        values = framework.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=framework.float64,
                                  requires_grad=True)
        eye = framework.eye(3, dtype=framework.float32).requires_grad_()
        a = framework.sparse_coo_tensor(framework.tensor(INDICES), values, (3, 3))
        ints = framework.ones(3, 3, dtype=framework.int64)
        out = eval(source.replace("torch.", "framework."))
        record = [str(out.dtype).split(".")[-1], out.layout == framework.strided,
                  out.detach().numpy()]
        if out.requires_grad:
            weights = framework.arange(9.0, dtype=out.dtype).reshape(3, 3)
            leaves = (values, eye) if out.dtype.is_floating_point else (values,)
            grads = framework.autograd.grad((out * weights).sum(), leaves, allow_unused=True)
            record.append([None if g is None else g.numpy() for g in grads])
        results.append(record)
    ours, theirs = results
    assert ours[:2] == theirs[:2]
    np.testing.assert_array_equal(ours[2], theirs[2])
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours[3:], theirs[3:]):
        for grad, expected in zip(mine, reference):
            assert (grad is None) == (expected is None)
            if grad is not None:
                np.testing.assert_array_equal(grad, expected)


def test_dense_plus_sparse_refusals_like_torch(torch):
    for framework in (ember, torch):
        a = framework.sparse_coo_tensor(framework.tensor(INDICES), framework.tensor(VALUES),
                                        (3, 3))
        with pytest.raises(RuntimeError, match="dense-sparse addition does not currently "
                                               "support broadcasting"):
            framework.ones(3) + a
        with pytest.raises(RuntimeError, match=r"add\(sparse, dense\) is not supported"):
            a + framework.ones(3, 3)


def test_dense_plus_sparse_gradcheck():
    dense = float64_tensor((3, 3), seed=5)
    values = float64_tensor((5,), seed=6)
    assert gradcheck(lambda d, v: dense_minus(d, v) * d, (dense, values))


def dense_minus(dense, values):
    return ember.sub(dense, ember.sparse_coo_tensor(INDICES, values, (3, 3)), alpha=1.5)


@pytest.mark.parametrize("call", [
    "x.to_sparse(layout=sparse_coo)", "x.to_sparse(layout=sparse_coo, dense_dim=1)",
    "x.to_sparse(layout=strided)", "x.to_sparse(layout=sparse_csr)",
    "x.to_sparse(layout=sparse_coo).to_sparse(layout=sparse_coo)", "x.to_sparse(1)",
    "x.to_sparse(1, layout=sparse_coo)", "x.to_sparse(layout=sparse_coo, blocksize=(1, 1))"])
def test_to_sparse_keyword_form_picks_the_layout_as_torch(torch, call):
    def run(module):
        names = {name: getattr(module, name) for name in ("sparse_coo", "sparse_csr", "strided")}
        names["x"] = module.tensor([[1, 0], [0, 0], [2, 3]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out = eval(call, names)
            except (RuntimeError, TypeError) as error:
                return type(error).__name__, str(error)
        return str(out.layout).split(".")[-1], out.to_dense().tolist(), \
            out.sparse_dim() if out.layout == names["sparse_coo"] else None
    assert run(ember) == run(torch)
