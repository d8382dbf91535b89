"""Sparse CSR matrices against PyTorch: construction and its checks, conversions from dense and
COO, products in both orders with their gradients (dense and unmasked for the CSR operand,
masked through to_dense and values), printing, refusals, float64 gradchecks."""
import copy
import pickle
import warnings

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from tests.conftest import assert_close, float64_tensor

pytest.importorskip("scipy")

DENSE = [[0.0, 1.5, 0.0, -2.0], [3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.5, 0.0, 4.0, 1.0],
         [0.0, -1.0, 0.0, 0.0]]
CROW = [0, 2, 3, 3, 6, 7]
COLUMNS = [1, 3, 0, 0, 2, 3, 1]
VALUES = [1.5, -2.0, 3.0, 0.5, 4.0, 1.0, -1.0]


@pytest.fixture(autouse=True)
def _quiet_torch():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse (invariant checks|CSR tensor support)")
        yield


def _torch_repr(tensor):
    return repr(tensor).replace("torch.", "ember.")


def _assert_same_csr(ours, theirs):
    assert ours.layout is ember.sparse_csr and ours.is_sparse_csr and not ours.is_sparse
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours._nnz() == theirs._nnz()
    assert_close(ours.crow_indices(), theirs.crow_indices())
    assert_close(ours.col_indices(), theirs.col_indices())
    assert_close(ours.values(), theirs.values())
    assert repr(ours) == _torch_repr(theirs)


CONSTRUCTIONS = {
    "from indices": lambda library: library.sparse_csr_tensor(CROW, COLUMNS, VALUES, (5, 4)),
    "size inferred": lambda library: library.sparse_csr_tensor(CROW, COLUMNS, VALUES),
    "int values": lambda library: library.sparse_csr_tensor(
        library.tensor(CROW), library.tensor(COLUMNS), library.tensor([1, 2, 3, 4, 5, 6, 7])),
    "float64": lambda library: library.sparse_csr_tensor(CROW, COLUMNS, VALUES, (5, 6),
                                                         dtype=library.float64),
    "requires grad": lambda library: library.sparse_csr_tensor(CROW, COLUMNS, VALUES,
                                                               requires_grad=True),
    "dense": lambda library: library.tensor(DENSE).to_sparse_csr(),
    "uncoalesced coo": lambda library: library.sparse_coo_tensor(
        [[3, 0, 1, 3, 0, 3], [0, 1, 0, 2, 1, 0]], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        (4, 3)).to_sparse_csr(),
    "empty": lambda library: library.zeros(3, 0).to_sparse_csr(),
    "dense with history": lambda library: library.tensor(DENSE, requires_grad=True)
    .to_sparse_csr(),
    "to float64": lambda library: library.tensor(DENSE).to_sparse_csr().to(library.float64),
}


@pytest.mark.parametrize("case", sorted(CONSTRUCTIONS))
def test_construction_and_repr_match_torch(torch, case):
    _assert_same_csr(CONSTRUCTIONS[case](ember), CONSTRUCTIONS[case](torch))


@pytest.mark.parametrize("crow, columns", [
    ([0, 2, 3, 3, 6, 8], COLUMNS), ([1, 2, 3, 3, 6, 7], COLUMNS), ([0, 2, 3, 3, 6, 7],
                                                                   [1, 3, 0, 0, 2, 4, 1]),
    ([0, 2, 3, 1, 6, 7], COLUMNS)])
def test_index_checks_match_torch_with_check_invariants(torch, crow, columns):
    with pytest.raises(RuntimeError) as expected:
        torch.sparse_csr_tensor(crow, columns, VALUES, (5, 4), check_invariants=True)
    with pytest.raises(RuntimeError) as raised:
        ember.sparse_csr_tensor(crow, columns, VALUES, (5, 4))
    assert str(raised.value) == str(expected.value)


def test_strided_tensors_refuse_csr_accessors_as_torch(torch):
    for method in ("crow_indices", "col_indices"):
        with pytest.raises(RuntimeError) as expected:
            getattr(torch.ones(2, 2), method)()
        with pytest.raises(RuntimeError) as raised:
            getattr(ember.ones(2, 2), method)()
        assert str(raised.value) == str(expected.value)
    assert not ember.ones(2).is_sparse_csr and repr(ember.sparse_csr) == "ember.sparse_csr"


def test_conversions_round_trip_as_torch(torch):
    for library in (ember, torch):
        csr = library.tensor(DENSE).to_sparse_csr()
        assert csr.to_sparse_csr() is csr
        assert_close(csr.to_dense(), np.array(DENSE, np.float32))
    ours = ember.tensor(DENSE).to_sparse_csr().to_sparse()
    theirs = torch.tensor(DENSE).to_sparse_csr().to_sparse()
    assert ours.is_sparse and ours.is_coalesced()
    assert repr(ours) == _torch_repr(theirs)


# ---- products ---------------------------------------------------------------------------------
PRODUCTS = {
    "@": lambda library, csr, dense: csr @ dense,
    "sparse.mm": lambda library, csr, dense: library.sparse.mm(csr, dense),
    "mm": lambda library, csr, dense: library.mm(csr, dense),
    "Tensor.matmul": lambda library, csr, dense: csr.matmul(dense),
    "@ vector": lambda library, csr, dense: csr @ dense[:, 0],
    "dense @": lambda library, csr, dense: dense.t() @ csr.to_dense().t().to_sparse_csr(),
    "vector @": lambda library, csr, dense: dense[:, 1] @ csr.to_dense().t().to_sparse_csr(),
    "mm(dense, csr)": lambda library, csr, dense: library.mm(dense.t()[:2, :4], csr.to_dense()
                                                             .t().to_sparse_csr()),
}
SOURCES = {
    "constructor values": lambda library, values: library.sparse_csr_tensor(CROW, COLUMNS,
                                                                            values, (5, 4)),
    "dense": lambda library, values: library.sparse_coo_tensor(
        [[0, 0, 1, 3, 3, 3, 4], COLUMNS], values, (5, 4)).to_dense().to_sparse_csr(),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("product", sorted(PRODUCTS))
def test_products_and_their_gradients_match_torch(torch, product, source, dtype):
    random = np.random.default_rng(1)
    values = random.standard_normal(7).astype(dtype)
    dense = random.standard_normal((4, 3)).astype(dtype)
    weights = random.standard_normal((5, 5)).astype(dtype)
    results = []
    for library in (ember, torch):
        values_leaf = library.tensor(values, requires_grad=True)
        dense_leaf = library.tensor(dense, requires_grad=True)
        csr = SOURCES[source](library, values_leaf)
        out = PRODUCTS[product](library, csr, dense_leaf)
        weight = library.tensor(weights[:out.shape[0], :out.shape[-1]] if out.ndim == 2
                                else weights[0, :out.shape[0]])
        (out * weight).sum().backward()
        results.append((out, values_leaf.grad, dense_leaf.grad))
    assert results[0][0].grad_fn.name() == type(results[1][0].grad_fn).__name__
    for ours, theirs in zip(*results):
        assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_gradients_of_the_dense_source_and_of_a_csr_leaf_match_torch(torch):
    """Through a product the CSR operand's gradient is dense and unmasked; through to_dense,
    values() and torch.sparse.mm it is masked to the pattern; a CSR leaf's .grad is a dense
    matrix that accumulates."""
    weights = np.arange(20.0, dtype=np.float32).reshape(5, 4)
    grads = []
    for library in (ember, torch):
        source = library.tensor(DENSE, requires_grad=True)
        (source.to_sparse_csr() @ library.ones(4, 2)).sum().backward()
        through_product = source.grad.clone()
        source.grad = None
        (source.to_sparse_csr().to_dense() * library.tensor(weights)).sum().backward()
        through_to_dense = source.grad.clone()
        source.grad = None
        (source.to_sparse_csr().values() * library.arange(7.0)).sum().backward()
        through_values = source.grad
        source.grad = None
        library.sparse.mm(source.to_sparse_csr(), library.tensor(weights[:4, :3])).sum().backward()
        through_sparse_mm = source.grad
        leaf = library.tensor(DENSE).to_sparse_csr().requires_grad_()
        for _ in range(2):
            (leaf @ library.tensor(weights[:4, :3])).sum().backward()
        assert leaf.grad.layout is library.strided
        grads.append((through_product, through_to_dense, through_values, through_sparse_mm,
                      leaf.grad))
    for ours, theirs in zip(*grads):
        assert_close(ours, theirs)


def test_product_errors_match_torch(torch):
    for library in (ember, torch):
        csr = library.tensor(DENSE).to_sparse_csr()
        with pytest.raises(RuntimeError, match="cannot be multiplied"):
            csr @ library.ones(3, 2)
        with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
            csr @ library.ones(4, 2, dtype=library.float64)


GRADCHECKS = {
    "csr @ dense": lambda values, dense: ember.sparse_csr_tensor(CROW, COLUMNS, values,
                                                                 (5, 4)) @ dense,
    "dense @ csr": lambda values, dense: dense.t() @ ember.sparse_csr_tensor(
        [0, 2, 3, 3, 6, 7], COLUMNS, values, (5, 4)).to_dense().t().to_sparse_csr(),
    "to_dense": lambda values, dense: ember.sparse_csr_tensor(CROW, COLUMNS, values,
                                                              (5, 4)).to_dense() * dense.sum(),
}


@pytest.mark.parametrize("case", sorted(GRADCHECKS))
def test_gradcheck_float64(case):
    values = float64_tensor((7,), seed=3)
    dense = float64_tensor((4, 3), seed=4)
    assert gradcheck(GRADCHECKS[case], (values, dense))


# ---- refusals and copies ----------------------------------------------------------------------
@pytest.mark.parametrize("operation", [
    lambda csr: csr + csr, lambda csr: csr[0], lambda csr: csr.sum(), lambda csr: csr.t(),
    lambda csr: csr * 2.0, lambda csr: ember.relu(csr), lambda csr: csr @ csr,
])
def test_unsupported_ops_raise_not_implemented(operation):
    csr = ember.tensor(DENSE).to_sparse_csr()
    with pytest.raises(NotImplementedError):
        operation(csr)


def test_numpy_is_refused_as_torch(torch):
    with pytest.raises(TypeError) as expected:
        torch.tensor(DENSE).to_sparse_csr().numpy()
    with pytest.raises(TypeError) as raised:
        ember.tensor(DENSE).to_sparse_csr().numpy()
    assert str(raised.value) == str(expected.value)


def test_pickle_deepcopy_and_detach_keep_the_csr_matrix():
    csr = ember.sparse_csr_tensor(CROW, COLUMNS, VALUES, (5, 4), requires_grad=True)
    for copied in (pickle.loads(pickle.dumps(csr)), copy.deepcopy(csr)):
        assert copied.is_sparse_csr and copied.requires_grad
        assert copied.crow_indices().tolist() == CROW
        assert copied.values().tolist() == VALUES
    detached = csr.detach()
    assert detached.is_sparse_csr and not detached.requires_grad
    assert_close(detached.to_dense(), np.array(DENSE, np.float32))
