"""ember.ops.linalg: matrix products, einsum and the contractions built on it, inverse,
determinant, solve, cholesky and eigh."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ember
from ember.autograd.gradcheck import gradcheck, gradgradcheck
from ember.ops import linalg as linalg_ops
from ember.tensor import _warned_once
from tests.conftest import assert_raises_like_torch

from .op_table import (
    BINARY, BadInputChecks, Case, CaseChecks, ValueChecks, assert_float16_matches_torch,
    assert_second_derivatives_match_torch)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _inplace_matrix(fw, a, b, c):
    return (a * 1).addmm_(b, c, beta=0.5).tril_(1).triu_(-1).cumsum_(0).fmod_(1.5)


def _positive_definite(fw, a):
    return a @ a.mT + 3 * fw.eye(a.shape[-1], dtype=a.dtype)


def _symmetric(fw, a):
    return a + a.mT


def _eigh_invariants(fw, a):
    """Eigenvectors are defined up to sign: compare what does not depend on it."""
    values, vectors = fw.linalg.eigh(_symmetric(fw, a))
    weights = fw.arange(1.0, a.shape[-1] + 1.0, dtype=a.dtype)
    return values, (vectors * weights) @ vectors.mT, vectors.abs()


# Ops of this family: their double backward must never be skipped as another family's.
OPS_MODULES = (linalg_ops,)

CASES = [
    Case("matmul", lambda fw, a, b: a @ b,
         [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((3, 4), (4, 5)), ((2, 3, 4), (4, 5)),
          ((4,), (2, 4, 5)), ((2, 1, 3, 4), (3, 4, 2)), ((2, 3, 4), (2, 4, 5)), ((0, 4), (4, 2))],
         numpy=np.matmul),
    Case("matmul_function", lambda fw, a, b: fw.matmul(a, b), [((3, 4), (4, 5))]),
    Case("mm", lambda fw, a, b: fw.mm(a, b), [((3, 4), (4, 5))]),
    Case("bmm", lambda fw, a, b: fw.bmm(a, b), [((2, 3, 4), (2, 4, 5))]),
    Case("outer", lambda fw, a, b: fw.outer(a, b), [((3,), (4,))]),
    Case("dot", lambda fw, a, b: fw.dot(a, b), [((4,), (4,))]),
    Case("mv", lambda fw, a, b: fw.mv(a, b), [((3, 4), (4,))]),
    Case("einsum_matmul", lambda fw, a, b: fw.einsum("ij,jk->ik", a, b), [((3, 4), (4, 2))]),
    Case("einsum_batched", lambda fw, a, b: fw.einsum("bij,bkj->bik", a, b),
         [((2, 3, 4), (2, 5, 4))]),
    Case("einsum_implicit_outer", lambda fw, a, b: fw.einsum("i,j", a, b), [((3,), (4,))]),
    Case("einsum_sum_and_broadcast", lambda fw, a, b: fw.einsum("...ij,j->...", a, b),
         [((2, 3, 4), (4,))]),
    Case("einsum_trace_diagonal", lambda fw, a: fw.einsum("ii->i", a), [((4, 4),)]),
    Case("einsum_trace", lambda fw, a: fw.einsum("ii", a), [((4, 4),)]),
    Case("einsum_three", lambda fw, a, b, c: fw.einsum("ij,jk,kl->il", a, b, c),
         [((2, 3), (3, 4), (4, 2))]),
    Case("einsum_list", lambda fw, a, b: fw.einsum("ij,ij->i", [a, b]), [((3, 4), (3, 4))]),
    Case("tensordot", lambda fw, a, b: fw.tensordot(a, b, dims=2), [((2, 3, 4), (3, 4, 5))]),
    Case("tensordot_pairs", lambda fw, a, b: fw.tensordot(a, b, dims=([0, 2], [2, 0])),
         [((2, 3, 4), (4, 5, 2))]),
    Case("addmm", lambda fw, c, a, b: fw.addmm(c, a, b), [((3, 2), (3, 4), (4, 2)),
                                                         ((2,), (3, 4), (4, 2))]),
    Case("addmm_scaled", lambda fw, c, a, b: c.addmm(a, b, beta=0.5, alpha=2.0),
         [((3, 2), (3, 4), (4, 2))]),
    Case("kron", lambda fw, a, b: fw.kron(a, b), [((2, 3), (3, 2)), ((2,), (3, 1))]),
    Case("inplace_matrix_chain", _inplace_matrix, [((3, 3), (3, 4), (4, 3))]),
    Case("baddbmm", lambda fw, c, a, b: fw.baddbmm(c, a, b, beta=0.5, alpha=2),
         [((2, 3, 2), (2, 3, 4), (2, 4, 2)), ((3, 1), (2, 3, 4), (2, 4, 2))]),
    Case("inner", lambda fw, a, b: fw.inner(a, b), [((3, 4), (2, 4)), ((4,), (4,)), ((), (3,))]),
    Case("vdot", lambda fw, a, b: fw.vdot(a, b), [((4,), (4,))]),
    Case("cross", lambda fw, a, b: fw.cross(a, b, dim=1),
         [((2, 3), (2, 3)), ((4, 3, 2), (1, 3, 2))]),
    Case("linalg_cross", lambda fw, a, b: fw.linalg.cross(a, b), [((2, 3), (2, 3))]),
    Case("dist", lambda fw, a, b: (fw.dist(a, b), fw.dist(a, b, 1)), BINARY[1:4]),
    # PyTorch's _cdist_backward has no derivative (test_cdist_double_backward_like_torch)
    Case("cdist", lambda fw, a, b: fw.cdist(a, b), [((4, 3), (5, 3)), ((2, 4, 3), (2, 2, 3))],
         check_gradgrad=False),
    Case("cdist_p1", lambda fw, a, b: fw.cdist(a, b, p=1.0), [((4, 3), (5, 3))],
         check_gradgrad=False),
    # p = 2 beyond 25 rows, or when asked: PyTorch's matrix-product form and its backward
    Case("cdist_mm", lambda fw, a, b: fw.cdist(a, b),
         [((30, 3), (27, 3)), ((2, 26, 3), (2, 4, 3)), ((2, 1, 26, 3), (3, 5, 3))]),
    Case("cdist_forced_mm", lambda fw, a, b: fw.cdist(a, b, compute_mode="use_mm_for_euclid_dist"),
         [((4, 3), (5, 3))]),
    Case("cdist_no_mm", lambda fw, a, b: fw.cdist(a, b,
                                                  compute_mode="donot_use_mm_for_euclid_dist"),
         [((30, 3), (27, 3))], check_gradgrad=False),
    Case("inverse", lambda fw, a: fw.inverse(a + 3 * fw.eye(3)), [((3, 3),), ((2, 3, 3),)],
         atol=1e-5),
    Case("linalg_inv_det", lambda fw, a: (fw.linalg.inv(a + 3 * fw.eye(3)), fw.linalg.det(a)),
         [((3, 3),), ((2, 3, 3),)], atol=1e-5),
    Case("det_method", lambda fw, a: a.det(), [((4, 4),), ((1, 1),)], atol=1e-5),
    Case("det_singular", lambda fw, a: fw.det(fw.stack([a[0], a[1], a[0] + a[1]])), [((3, 3),)],
         atol=1e-5),
    Case("solve", lambda fw, a, b: fw.linalg.solve(a + 3 * fw.eye(3), b),
         [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (2, 3)), ((2, 3, 3), (3, 4))],
         atol=1e-5),
    Case("solve_right", lambda fw, a, b: fw.linalg.solve(a + 3 * fw.eye(3), b, left=False),
         [((3, 3), (2, 3)), ((2, 3, 3), (4, 3)), ((3, 3), (2, 4, 3))], atol=1e-5),
    Case("addmv_addr", lambda fw, c, m, v, w: (fw.addmv(c, m, v, beta=0.5), fw.addr(
        m, c, v, alpha=2)), [((3,), (3, 4), (4,), (4,))]),
    Case("addbmm", lambda fw, c, a, b: fw.addbmm(c, a, b, alpha=0.5), [((3, 2), (4, 3, 5),
                                                                       (4, 5, 2))]),
    Case("matrix_power", lambda fw, a: tuple(fw.linalg.matrix_power(a, n) for n in (1, 3, -2)),
         [((3, 3),), ((2, 3, 3),)], atol=1e-5),
    Case("multi_dot", lambda fw, a, b, c: (fw.linalg.multi_dot([a, b, c]),
                                           fw.chain_matmul(b.t(), b, c)),
         [((3,), (3, 4), (4, 2))]),
    Case("slogdet_logdet", lambda fw, a: fw.linalg.slogdet(a) + (
        fw.logdet(_positive_definite(fw, a)),), [((3, 3),), ((2, 4, 4),)], atol=1e-5),
    Case("slogdet_method", lambda fw, a: a.slogdet()[1], [((3, 3),)], atol=1e-5),
    Case("cholesky", lambda fw, a: fw.linalg.cholesky(_positive_definite(fw, a)),
         [((3, 3),), ((2, 4, 4),)], atol=1e-5),
    Case("cholesky_upper", lambda fw, a: fw.linalg.cholesky(_positive_definite(fw, a),
                                                             upper=True), [((3, 3),)], atol=1e-5),
    Case("ger", lambda fw, a, b: fw.ger(a, b), [((3,), (4,))]),
    Case("eigh", _eigh_invariants, [((3, 3),), ((2, 4, 4),)], atol=1e-5),
    Case("eigvalsh_upper", lambda fw, a: fw.linalg.eigvalsh(_symmetric(fw, a), UPLO="U"),
         [((3, 3),)], atol=1e-5),
]


BAD_INPUTS = {
    "matmul_inner_mismatch": lambda fw: fw.ones(2, 3) @ fw.ones(4, 5),
    "matmul_vectors_mismatch": lambda fw: fw.ones(3) @ fw.ones(4),
    "matmul_zero_dim": lambda fw: fw.ones(()) @ fw.ones(3),
    "matmul_dtype_mismatch": lambda fw: fw.ones(2, 3) @ fw.ones(3, 2, dtype=fw.float64),
    "matmul_batch_mismatch": lambda fw: fw.ones(2, 3, 4) @ fw.ones(3, 4, 5),
    "mm_vector": lambda fw: fw.mm(fw.ones(3), fw.ones(3, 2)),
    "bmm_batch_mismatch": lambda fw: fw.bmm(fw.ones(2, 3, 4), fw.ones(3, 4, 5)),
    "einsum_operand_count": lambda fw: fw.einsum("ij,jk->ik", fw.ones(2, 3)),
    "einsum_repeated_output": lambda fw: fw.einsum("ii->ii", fw.ones(2, 2)),
    "einsum_size_mismatch": lambda fw: fw.einsum("ij,jk->ik", fw.ones(2, 3), fw.ones(2, 3)),
    "tensordot_mismatch": lambda fw: fw.tensordot(fw.ones(2, 3), fw.ones(2, 3), dims=1),
    "addmm_shapes": lambda fw: fw.addmm(fw.ones(2, 2), fw.ones(2, 3), fw.ones(2, 2)),
    "eigh_uplo": lambda fw: fw.linalg.eigh(fw.eye(2), UPLO="X"),
    "eigh_not_square": lambda fw: fw.linalg.eigh(fw.ones(2, 3)),
    "cholesky_not_positive_definite": lambda fw: fw.linalg.cholesky(-fw.eye(2)),
    "slogdet_not_square": lambda fw: fw.linalg.slogdet(fw.ones(2, 3)),
    "matrix_power_not_square": lambda fw: fw.linalg.matrix_power(fw.ones(2, 3), 2),
    "multi_dot_one": lambda fw: fw.linalg.multi_dot([fw.ones(2, 2)]),
    "inverse_singular": lambda fw: fw.linalg.inv(fw.zeros(2, 2)),
    "inverse_not_square": lambda fw: fw.linalg.inv(fw.ones(2, 3)),
    "inverse_int": lambda fw: fw.inverse(fw.ones(2, 2, dtype=fw.int64)),
    "det_not_square": lambda fw: fw.det(fw.ones(2, 3)),
    "solve_singular": lambda fw: fw.linalg.solve(fw.zeros(2, 2), fw.ones(2)),
    "solve_shapes": lambda fw: fw.linalg.solve(fw.eye(2), fw.ones(3, 1)),
    "solve_right_vector": lambda fw: fw.linalg.solve(fw.eye(3), fw.ones(3), left=False),
    "cdist_columns": lambda fw: fw.cdist(fw.ones(2, 3), fw.ones(2, 4)),
    "cdist_compute_mode": lambda fw: fw.cdist(fw.ones(2, 3), fw.ones(2, 3), compute_mode="mm"),
    "cdist_int_x2": lambda fw: fw.cdist(fw.ones(30, 3), fw.ones(2, 3, dtype=fw.int64)),
    "cdist_mixed_floats": lambda fw: fw.cdist(fw.ones(2, 3), fw.ones(2, 3, dtype=fw.float64)),
    "cross_no_size_3": lambda fw: fw.linalg.cross(fw.ones(2, 4), fw.ones(2, 4)),
    "inner_mismatch": lambda fw: fw.inner(fw.ones(2, 3), fw.ones(3, 2)),
}


VALUES = {
    "matmul_float64": lambda fw: fw.ones(2, 3, dtype=fw.float64) @ fw.ones(3, dtype=fw.float64),
    "einsum_int": lambda fw: fw.einsum("ij,j->i", fw.ones(2, 3, dtype=fw.int64),
                                       fw.tensor([1, 2, 3])),
    "logdet_signs": lambda fw: (fw.logdet(fw.tensor([[0.0, 1.0], [1.0, 0.0]])),
                                fw.logdet(fw.zeros(2, 2)), fw.logdet(2 * fw.eye(2))),
    "matrix_power_int": lambda fw: fw.linalg.matrix_power(fw.tensor([[1, 1], [0, 1]]), 5),
    "matrix_power_zero": lambda fw: fw.linalg.matrix_power(fw.ones(2, 3, 3), 0),
}


class TestLinalg(CaseChecks, BadInputChecks, ValueChecks):
    """The op-table checks of every entry above."""


@pytest.mark.parametrize("equation, shapes", [
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]), ("...ij,...jk", [(1, 3, 4), (5, 4, 2)]),
    ("b...i,b...i->b...", [(2, 1, 3), (2, 4, 3)]), ("...,...->...", [(3, 1), (1, 4)]),
    ("...i,...i,...i->...", [(1, 3), (4, 3), (4, 1, 3)]), ("a...b,...b->a...", [(2, 1, 4), (3, 4)])])
def test_einsum_gradients_through_broadcast_ellipsis_dims_match_torch(torch, equation, shapes):
    """An operand whose ellipsis dim is 1 where another's is n gets its gradient summed over
    that dim, as PyTorch's; first and second derivatives checked in float64."""
    arrays = [np.random.default_rng(index).standard_normal(shape)
              for index, shape in enumerate(shapes)]
    results = []
    for library in (torch, ember):
        tensors = [library.tensor(array, requires_grad=True) for array in arrays]
        out = library.einsum(equation, *tensors)
        (out * library.arange(out.numel(), dtype=library.float64).reshape(out.shape)).sum() \
            .backward()
        results.append([out.detach().numpy()] + [tensor.grad.numpy() for tensor in tensors])
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    tensors = [ember.tensor(array, requires_grad=True) for array in arrays]
    assert ember.autograd.gradgradcheck(lambda *operands: ember.einsum(equation, *operands),
                                        tensors)


def test_einsum_implicit_output_lists_capitals_first_like_torch(torch):
    # PyTorch numbers subscripts A-Z then a-z; an implicit output follows that order
    data = np.arange(24.0).reshape(2, 3, 4)
    for equation in ("bA", "Ab", "aBc", "zZa"):
        operand = data if len(equation) == 3 else data[0]
        expected = torch.einsum(equation, torch.tensor(operand)).numpy()
        got = ember.einsum(equation, ember.tensor(operand)).numpy()
        np.testing.assert_array_equal(got, expected)
    assert ember.einsum("bA", ember.ones(2, 3)).shape == (3, 2)


PAIR_LAYOUTS = [
    ("ij,jk->ik", (3, 4), (4, 5)), ("ij,jk->ki", (3, 4), (4, 5)), ("ij,kj->ik", (3, 4), (5, 4)),
    ("bhqd,bhkd->bhqk", (2, 3, 4, 5), (2, 3, 6, 5)), ("bhqd,bkhd->bqhk", (2, 3, 4, 5), (2, 6, 3, 5)),
    ("bijh,bjhc->bihc", (3, 4, 6, 2), (3, 6, 2, 5)), ("bhc,hc->bh", (7, 2, 4), (2, 4)),
    ("nchw,oc->nohw", (2, 3, 4, 5), (6, 3)), ("ibk,bkj->jbi", (2, 3, 4), (3, 4, 5)),
    ("xaky,kbz->zbyax", (2, 3, 4, 5), (4, 6, 7)), ("xaky,kbz->byzax", (2, 3, 4, 5), (4, 6, 7)),
    ("bfd,fcg->gd", (5, 2, 4), (2, 5, 3)), ("...ij,...jk->...ik", (2, 1, 3, 4), (1, 5, 4, 2)),
]


@pytest.mark.parametrize("equation, left_shape, right_shape", PAIR_LAYOUTS,
                         ids=[row[0] for row in PAIR_LAYOUTS])
def test_einsum_pair_result_has_torchs_memory_layout(torch, equation, left_shape, right_shape):
    """A later ``view`` and a dropout mask (drawn in memory order, as UvA's GAT tutorial applies
    it to an einsum's result) depend on the layout of the result, not only its values."""
    rng = np.random.default_rng(3)
    left = rng.standard_normal(left_shape).astype(np.float32)
    right = rng.standard_normal(right_shape).astype(np.float32)
    expected = torch.einsum(equation, torch.tensor(left), torch.tensor(right))
    got = ember.einsum(equation, ember.tensor(left), ember.tensor(right))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    assert got.is_contiguous() == expected.is_contiguous()
    assert [stride for stride, size in zip(got.stride(), got.shape) if size > 1] == \
        [stride for stride, size in zip(expected.stride(), expected.shape) if size > 1]
    torch.manual_seed(0)
    ember.manual_seed(0)
    their_mask = torch.nn.functional.dropout(expected, 0.5) == 0
    our_mask = ember.nn.functional.dropout(got, 0.5) == 0
    np.testing.assert_array_equal(our_mask.numpy(), their_mask.numpy())


def test_einsum_sublist_form_matches_torch(torch):
    # einsum(op1, sublist1, op2, sublist2[, output sublist]): ints 0-51 (A-Z, a-z), Ellipsis
    rng = np.random.default_rng(0)
    a_data, b_data = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5))
    forms = [lambda a, b: ([a, [0, 1, 2], b, [2, 3], [0, 3, 1]]),
             lambda a, b: ([a, [Ellipsis, 2], b, [2, 30]]),
             lambda a, b: ([a, [26, 0, 1]]),
             lambda a, b: ([a, [0, 1, 2], [2, 0]])]
    for form in forms:
        results = []
        for library in (torch, ember):
            a = library.tensor(a_data, requires_grad=True)
            out = library.einsum(*form(a, library.tensor(b_data)))
            (out * out).sum().backward()
            results.append((out.detach().numpy(), a.grad.numpy()))
        np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12)
        np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12)
    a = ember.ones(2, 3)
    with pytest.raises(ValueError, match=r"not within the valid range \[0, 52\)"):
        ember.einsum(a, [52, 1])
    with pytest.raises(ValueError, match="at least one operand and its subscripts list"):
        ember.einsum(a)


SECOND_DERIVATIVES = {
    "matmul_broadcast": (lambda fw, a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)]),
    "matmul_vectors": (lambda fw, a, b, c: (a @ b, b @ c, a @ c, b @ b), [(2, 3), (3,), (3, 2)]),
    "einsum": (lambda fw, a, b, c: (fw.einsum("bij,bkj->bik", a, b), fw.einsum("bii->bi", a),
                                    fw.einsum("...ij,j->...", a, c)),
               [(2, 3, 3), (2, 4, 3), (3,)]),
    "inverse": (lambda fw, a: fw.linalg.inv(a + 3 * fw.eye(3, dtype=a.dtype)), [(2, 3, 3)]),
    "det": (lambda fw, a: fw.linalg.det(a), [(2, 3, 3)]),
    "det_singular": (lambda fw, a, b: fw.linalg.det(a @ b), [(3, 2), (2, 3)]),
    "slogdet_solve": (lambda fw, a, b: (fw.linalg.slogdet(a @ a.mT + fw.eye(3, dtype=a.dtype))[1],
                                        fw.linalg.solve(a + 3 * fw.eye(3, dtype=a.dtype), b)),
                      [(3, 3), (2, 3, 2)]),
    "solve_right": (lambda fw, a, b: fw.linalg.solve(a + 3 * fw.eye(3, dtype=a.dtype), b,
                                                     left=False), [(3, 3), (2, 2, 3)]),
    "cholesky": (lambda fw, a: (fw.linalg.cholesky(_positive_definite(fw, a)),
                                fw.linalg.cholesky(_positive_definite(fw, a), upper=True)),
                 [(2, 3, 3)]),
    "eigh": (lambda fw, a: _eigh_invariants(fw, a)[:2], [(3, 3)]),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(SECOND_DERIVATIVES))
def test_second_derivatives_match_torch(name, dtype, torch):
    fn, shapes = SECOND_DERIVATIVES[name]
    assert_second_derivatives_match_torch(torch, fn, shapes, dtype, sys.modules[__name__],
                                          rtol=2e-3 if dtype == "float32" else 1e-7,
                                          atol=1e-4 if dtype == "float32" else 1e-9)


FLOAT16 = {
    "matmul": (lambda fw, a, b: a @ b, [(3, 4), (4, 5)]),
    "matmul_broadcast": (lambda fw, a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)]),
    "matmul_vector": (lambda fw, a, b: (a @ b, b.mT @ a), [(4,), (4, 5)]),
    "bmm_mm_mv_dot": (lambda fw, a, b: (fw.bmm(a, b), fw.mm(a[0], b[0]),
                                        fw.mv(a[0], b[0, :, 0]), fw.dot(a[0, 0], b[0, :, 0])),
                      [(2, 3, 4), (2, 4, 5)]),
    "einsum": (lambda fw, a, b: fw.einsum("bij,bjk->bik", a, b), [(2, 3, 4), (2, 4, 5)]),
    "outer_kron_tensordot": (lambda fw, a, b: (fw.outer(a[0], b[0]), fw.kron(a, b),
                                               fw.tensordot(a, b.mT, 1)), [(3, 4), (3, 4)]),
    "addmm_baddbmm": (lambda fw, c, a, b: (fw.addmm(c, a, b),
                                           fw.baddbmm(c[None], a[None], b[None], beta=0.5)),
                      [(3, 5), (3, 4), (4, 5)]),
}


@pytest.mark.parametrize("name", sorted(FLOAT16))
def test_float16_matches_torch(name, torch):
    fn, shapes = FLOAT16[name]
    assert_float16_matches_torch(torch, fn, shapes)


@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((1, 3, 4), (2, 4, 5))])
def test_transposed_products_of_backward_match_matmul_of_transposes(transpose_a, transpose_b,
                                                                     shapes):
    # MatMul's transpose flags (what its create_graph backward records instead of transposes).
    rng = np.random.default_rng(0)
    a_shape, b_shape = shapes
    a_array = rng.standard_normal(a_shape[:-2] + (a_shape[-1], a_shape[-2]) if transpose_a
                                  else a_shape)
    b_array = rng.standard_normal(b_shape[:-2] + (b_shape[-1], b_shape[-2]) if transpose_b
                                  else b_shape)
    a = ember.tensor(a_array, requires_grad=True)
    b = ember.tensor(b_array, requires_grad=True)
    product = linalg_ops.MatMul.apply(a, b, transpose_a, transpose_b)
    expected = (a.mT if transpose_a else a) @ (b.mT if transpose_b else b)
    np.testing.assert_allclose(product.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    assert ember.autograd.gradcheck(
        lambda x, y: linalg_ops.MatMul.apply(x, y, transpose_a, transpose_b), (a, b))
    assert ember.autograd.gradgradcheck(
        lambda x, y: linalg_ops.MatMul.apply(x, y, transpose_a, transpose_b), (a, b))


def test_create_graph_backward_of_matmul_records_only_products():
    a = ember.randn(3, 4, dtype=ember.float64, requires_grad=True)
    b = ember.randn(4, 5, dtype=ember.float64, requires_grad=True)
    grad_a, grad_b = ember.autograd.grad((a @ b).sum(), (a, b), create_graph=True)
    assert type(grad_a.grad_fn) is linalg_ops.MatMul
    assert type(grad_b.grad_fn) is linalg_ops.MatMul
    inputs = [edge[0] for edge in grad_a.grad_fn.next_edges + grad_b.grad_fn.next_edges
              if edge is not None]
    assert not [node for node in inputs if type(node).__name__ == "Permute"]


def test_cdist_matrix_product_gives_zero_at_coincident_points_as_torch(torch):
    # PyTorch clamps the squared distance at 0: coincident points are exactly 0 apart, and the
    # gradient there is its subgradient 0 (small integers: every product and sum is exact)
    array = np.random.default_rng(3).integers(-4, 5, (30, 3)).astype(np.float32)
    array[5] = array[0]
    ours = ember.tensor(array, requires_grad=True)
    theirs = torch.tensor(array, requires_grad=True)
    our_distances, their_distances = ember.cdist(ours, ours), torch.cdist(theirs, theirs)
    np.testing.assert_array_equal(np.diag(our_distances.detach().numpy()), np.zeros(30))
    assert our_distances.detach().numpy()[0, 5] == their_distances.detach().numpy()[0, 5] == 0
    our_distances.sum().backward()
    their_distances.sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("part", ["values", "vectors", "both"])
def test_eig_values_and_gradients_match_pytorch(torch, part):
    rng = np.random.default_rng(3)
    matrices = rng.standard_normal((2, 4, 4))
    weights = rng.standard_normal((4, 4))
    results = []
    for fw in (torch, ember):
        a = fw.tensor(matrices, requires_grad=True)
        values, vectors = fw.linalg.eig(a)
        loss = 0
        if part in ("values", "both"):
            loss = loss + (values.real ** 2).sum() + (values.imag * 3).sum()
        if part in ("vectors", "both"):  # |v|^2 does not depend on the phase of each vector
            loss = loss + ((vectors.abs() ** 2) * fw.tensor(weights)).sum()
        loss.backward()
        results.append((np.sort_complex(values.detach().numpy().ravel()), a.grad.numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0], atol=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], atol=1e-12)


def test_eigvals_are_complex_and_reconstruct_the_matrix():
    a = ember.tensor(np.random.default_rng(4).standard_normal((3, 3)))
    assert ember.linalg.eigvals(a.float()).dtype == ember.complex64
    values, vectors = ember.linalg.eig(a)
    rebuilt = (vectors * values.unsqueeze(0)).numpy() @ np.linalg.inv(vectors.numpy())
    np.testing.assert_allclose(rebuilt, a.numpy(), atol=1e-12)
    np.testing.assert_allclose(np.sort_complex(ember.linalg.eigvals(a).numpy()),
                               np.sort_complex(np.linalg.eigvals(a.numpy())), atol=1e-12)


CDIST_DOUBLE_BACKWARD = {
    "cdist": (lambda fw, a, b: fw.cdist(a, b), (4, 3), (5, 3)),
    "cdist_p1": (lambda fw, a, b: fw.cdist(a, b, p=1.0), (4, 3), (5, 3)),
    "cdist_p3_batched": (lambda fw, a, b: fw.cdist(a, b, p=3.0), (2, 4, 3), (2, 2, 3)),
    "cdist_mm": (lambda fw, a, b: fw.cdist(a, b), (30, 3), (5, 3)),
    "pdist": (lambda fw, a, b: fw.nn.functional.pdist(a), (4, 3), (1, 3)),
}


@pytest.mark.parametrize("name", list(CDIST_DOUBLE_BACKWARD))
def test_cdist_double_backward_like_torch(torch, name):
    """PyTorch's _cdist_backward and _pdist_backward have no derivative (NotImplementedError on
    the second grad); past 25 rows cdist's p = 2 is a matrix product, differentiable twice."""
    function, *shapes = CDIST_DOUBLE_BACKWARD[name]
    random = np.random.default_rng(0)
    arrays = [random.standard_normal(shape) for shape in shapes]
    results = []
    for fw in (torch, ember):
        leaves = [fw.tensor(array, requires_grad=True) for array in arrays]
        output = function(fw, *leaves)
        weight = fw.tensor(np.cos(np.arange(output.numel())).reshape(tuple(output.shape)))
        first = fw.autograd.grad((output * weight).sum(), leaves, create_graph=True,
                                 allow_unused=True)
        penalty = sum((grad * grad).sum() for grad in first if grad is not None)
        try:
            second = fw.autograd.grad(penalty, leaves, allow_unused=True)
            outcome = [None if grad is None else grad.numpy() for grad in second]
        except NotImplementedError as error:
            outcome = str(error)
        results.append(([None if grad is None else grad.detach().numpy() for grad in first],
                        outcome))
    (their_first, theirs), (our_first, ours) = results
    for mine, expected in zip(our_first, their_first):
        assert (mine is None) == (expected is None)
        if expected is not None:
            np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)
    if isinstance(theirs, str):
        assert ours == theirs
    else:
        for mine, expected in zip(ours, theirs):
            np.testing.assert_allclose(mine, expected, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("call", [
    lambda fw: fw.dot(fw.tensor([1, 2]), fw.tensor([1.0, 2.0])),
    lambda fw: fw.dot(fw.ones(2), fw.ones(3, dtype=fw.int64)),
    lambda fw: fw.vdot(fw.tensor([1, 2]), fw.tensor([1.0, 2.0])),
    lambda fw: fw.matmul(fw.ones(2), fw.ones(2, dtype=fw.int64)),
    lambda fw: fw.mv(fw.ones(2, 2, dtype=fw.int64), fw.ones(2)),
    lambda fw: fw.mv(fw.ones(2, 2, dtype=fw.float64), fw.ones(2)),
    lambda fw: fw.matmul(fw.ones(2, 2), fw.ones(2, dtype=fw.int64)),
    lambda fw: fw.matmul(fw.ones(3, 2, 2), fw.ones(2, dtype=fw.int64)),
    lambda fw: fw.matmul(fw.ones(2), fw.ones(2, 2, dtype=fw.int64)),
    lambda fw: fw.mm(fw.ones(2, 2), fw.ones(2, 2, dtype=fw.int64)),
    lambda fw: fw.bmm(fw.ones(1, 2, 2), fw.ones(1, 2, 2, dtype=fw.int64)),
    lambda fw: fw.inner(fw.ones(2, 3), fw.ones(3, dtype=fw.int64)),
    lambda fw: fw.tensordot(fw.ones(2, 3), fw.ones(3, dtype=fw.int64), dims=1),
])
def test_products_of_mixed_dtypes_raise_like_torch(torch, call):
    """d2l's torch.dot of an arange and a float vector: each product names the dtypes as
    PyTorch's kernel does (dot, addmv under mv, bmm, tensordot)."""
    assert_raises_like_torch(lambda: call(torch), lambda: call(ember), RuntimeError)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_complex_hermitian_eigh_and_its_gradient_match_torch(torch, shape):
    """Real eigenvalues and complex eigenvectors of Hermitian matrices; the gradient of a loss
    that depends on the vectors only through their phase-free parts (|v|^2, V V^H) as
    PyTorch's; first and second derivatives checked through a Hermitian parametrisation."""
    rng = np.random.default_rng(1)
    array = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    array = array + array.conj().swapaxes(-1, -2)
    weights = rng.standard_normal(shape)
    results = []
    for library in (torch, ember):
        x = library.tensor(array, requires_grad=True)
        values, vectors = library.linalg.eigh(x)
        loss = (values * library.arange(shape[-1], dtype=library.float64)).sum() + \
            (vectors.abs() ** 2 * library.tensor(weights)).sum() + \
            (vectors @ vectors.mH).real.sum()
        loss.backward()
        single = library.linalg.eigvalsh(library.tensor(array.astype(np.complex64)))
        results.append((values.detach().numpy(), np.abs(vectors.detach().numpy()),
                        x.grad.numpy(), single.numpy(), vectors.dtype.itemsize))
    for ours, theirs in zip(results[1][:3], results[0][:3]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(results[1][3], results[0][3], rtol=1e-5, atol=1e-5)
    assert results[1][3].dtype == np.float32 and results[1][4] == results[0][4]

    def phase_free(raw):
        values, vectors = ember.linalg.eigh(raw + raw.mH)
        return values, vectors.abs() ** 2
    x = ember.tensor(array, requires_grad=True)
    assert gradcheck(phase_free, (x,))
    assert gradgradcheck(phase_free, (x,))


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
@pytest.mark.parametrize("upper", [False, True])
def test_complex_cholesky_and_its_gradient_match_torch(torch, shape, upper):
    """L with A = L L^H of Hermitian positive-definite matrices (U = L^H for upper), and
    PyTorch's gradient of a real loss, the imaginary part of its diagonal term included."""
    rng = np.random.default_rng(3)
    factor = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    array = factor @ factor.conj().swapaxes(-1, -2) + 3 * np.eye(shape[-1])
    weights = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    results = []
    for library in (torch, ember):
        x = library.tensor(array, requires_grad=True)
        value = library.linalg.cholesky(x, upper=upper)
        (value * library.tensor(weights)).real.sum().backward()
        results.append((value.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-10, atol=1e-12)
    diagonal = np.diagonal(results[1][0], axis1=-2, axis2=-1)
    assert not np.signbit(diagonal.imag).any()  # printed as 2.+0.j, as PyTorch's

    def hermitian(raw):
        return ember.linalg.cholesky((raw + raw.mH) * 0.5, upper=upper)
    x = ember.tensor(array, requires_grad=True)
    assert gradcheck(hermitian, (x,))
    assert gradgradcheck(hermitian, (x,))


def _not_positive_definite(library):
    batch = library.eye(3).repeat(4, 1, 1)
    batch[2, 1, 1] = -1.0
    batch[3, 0, 0] = -1.0
    nan_first = library.tensor([[float("nan"), 0.0], [0.0, 1.0]])
    return [batch, library.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=library.float64), nan_first]


@pytest.mark.parametrize("spelling", ["linalg", "legacy", "method"])
def test_cholesky_not_positive_definite_messages_match_torch(torch, spelling):
    """PyTorch names the first failing batch element and LAPACK's order of the leading minor,
    under the name of the function called (the deprecated torch.cholesky is 'cholesky')."""
    messages = []
    for library in (ember, torch):
        call = {"linalg": library.linalg.cholesky, "legacy": library.cholesky,
                "method": lambda a: a.cholesky()}[spelling]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for matrix in _not_positive_definite(library):
                with pytest.raises(library.linalg.LinAlgError) as raised:
                    call(matrix)
                messages.append(str(raised.value))
    assert messages[:3] == messages[3:]


def test_legacy_cholesky_takes_upper_positionally_and_warns_once(torch):
    array = np.array([[4.0, 2.0], [2.0, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = torch.cholesky(torch.tensor(array), True).numpy()
    _warned_once.discard(_CHOLESKY_DEPRECATION)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        upper = ember.cholesky(ember.tensor(array), True)
        method_upper = ember.tensor(array).cholesky(True)
    np.testing.assert_allclose(upper.numpy(), expected, rtol=1e-15)
    np.testing.assert_allclose(method_upper.numpy(), expected, rtol=1e-15)
    assert [str(warning.message) for warning in caught] == [_CHOLESKY_DEPRECATION]


# PyTorch 2.13's TORCH_WARN_ONCE text (BatchLinearAlgebra.cpp), less its "Triggered internally"
_CHOLESKY_DEPRECATION = (
    "torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in a "
    "future PyTorch release.\nL = torch.cholesky(A)\nshould be replaced with\n"
    "L = torch.linalg.cholesky(A)\nand\nU = torch.cholesky(A, upper=True)\nshould be replaced "
    "with\nU = torch.linalg.cholesky(A).mH\nThis transform will produce equivalent results for "
    "all valid (symmetric positive definite) inputs.")


@pytest.mark.parametrize("call", [
    lambda fw, a: fw.symeig(a, eigenvectors=True), lambda fw, a: fw.eig(a),
    lambda fw, a: fw.solve(a, a), lambda fw, a: fw.lstsq(a, a), lambda fw, a: fw.matrix_rank(a),
    lambda fw, a: a.symeig(True), lambda fw, a: a.eig(), lambda fw, a: a.solve(a),
    lambda fw, a: a.lstsq(a)])
def test_functions_removed_from_torch_raise_its_runtime_error(torch, call):
    """Old scripts (ACKTR's KFAC calls torch.symeig) stop with PyTorch's RuntimeError naming the
    replacement, not an AttributeError."""
    with pytest.raises(RuntimeError) as theirs:
        call(torch, torch.eye(2))
    with pytest.raises(RuntimeError) as ours:
        call(ember, ember.eye(2))
    assert str(ours.value) == str(theirs.value)


FACTOR_FIRST_PRODUCTS = [
    "a.addmm(2, m, m)", "a.addmm(2, -1, m, m)", "torch.addmm(2, a, m, m)",
    "torch.addmm(2, a, -1, m, m)", "a.clone().addmm_(1, -2, m, m.t())", "v.addmv(2, m, v)",
    "v.clone().addmv_(2, -1, m, v)", "torch.addmv(0.5, v, m, v)", "a.addr(2, -1, v, v)",
    "a.clone().addr_(2, v, v)", "torch.addr(2, a, v, v)", "b.baddbmm(2, b, b)",
    "b.clone().baddbmm_(2, -1, b, b)", "torch.baddbmm(2, b, -1, b, b)", "a.addbmm(2, b, b)",
    "a.clone().addbmm_(2, 3, b, b)", "torch.addbmm(2, a, b, b)",
    "a.addmm(torch.tensor(2.0), m, m)"]


@pytest.mark.parametrize("source", FACTOR_FIRST_PRODUCTS)
def test_deprecated_factor_first_products_compute_as_torch(torch, source):
    """The add* products' deprecated (beta, [alpha,] operand, operand) overloads, as the center
    loss's ``distmat.addmm_(1, -2, x, centers.t())`` calls them."""
    rng = np.random.default_rng(3)
    values = {"a": rng.standard_normal((3, 3)), "m": rng.standard_normal((3, 3)),
              "v": rng.standard_normal(3), "b": rng.standard_normal((2, 3, 3))}
    results = []
    for framework in (torch, ember):
        names = {key: framework.tensor(value, dtype=framework.float32)
                 for key, value in values.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            results.append(eval(source, {"torch": framework, **names}))
    theirs, ours = results
    assert str(ours.dtype) == str(theirs.dtype).replace("torch", "ember")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="takes 3 positional arguments"):
        ember.ones(2, 2).addmm(ember.eye(2), ember.eye(2), ember.eye(2))


def test_deprecated_factor_first_product_warns_once_with_torchs_text(torch, tmp_path):
    script = tmp_path / "factor_first.py"
    script.write_text(
        "import warnings, torch\n"
        "x = torch.ones(3, 2, requires_grad=True); c = torch.ones(4, 2, requires_grad=True)\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    d = (x ** 2).sum(1, keepdim=True).expand(3, 4).clone()\n"
        "    d.addmm_(1, -2, x, c.t())\n"
        "    e = torch.addmm(2, d, x, c.t()).add(2, d)\n"
        "e.sum().backward()\n"
        "print([str(w.message).split(' (Triggered')[0] for w in caught], x.grad.tolist(),\n"
        "      c.grad.tolist())\n")
    outputs = []
    for runner in ([sys.executable, str(script)],
                   [sys.executable, "-m", "ember.run", str(script)]):
        completed = subprocess.run(runner, capture_output=True, text=True, timeout=120,
                                   env={**os.environ, "PYTHONPATH": REPO})
        outputs.append(completed.stdout.strip() or completed.stderr[-2000:])
    assert outputs[1] == outputs[0]
    assert "addmm_(Number beta, Number alpha, Tensor mat1, Tensor mat2)" in outputs[0]


def test_linalg_grad_fn_names_match_torch(torch):
    """grad_fn=<...> of the linalg ops carries PyTorch's node name (printed in reprs)."""
    cases = {
        "solve": lambda L, a, b: L.solve(a, b), "solve_ex": lambda L, a, b: L.solve_ex(a, b)[0],
        "matrix_exp": lambda L, a, b: L.matrix_exp(a), "inv": lambda L, a, b: L.inv(a),
        "det": lambda L, a, b: L.det(a), "slogdet": lambda L, a, b: L.slogdet(a)[1],
        "cholesky": lambda L, a, b: L.cholesky(a), "eigh": lambda L, a, b: L.eigh(a)[0],
        "svd": lambda L, a, b: L.svd(a)[1], "svdvals": lambda L, a, b: L.svdvals(a),
        "qr": lambda L, a, b: L.qr(a)[0], "pinv": lambda L, a, b: L.pinv(a),
        "lu_factor": lambda L, a, b: L.lu_factor(a)[0], "eig": lambda L, a, b: L.eig(a)[0],
        "solve_triangular": lambda L, a, b: L.solve_triangular(a, b, upper=True),
    }
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    a = a @ a.T + 3 * np.eye(3)
    b = rng.standard_normal((3, 2))
    for name, call in cases.items():
        names = []
        for framework in (ember, torch):
            matrix = framework.tensor(a, requires_grad=True)
            names.append(call(framework.linalg, matrix, framework.tensor(b)).grad_fn.name())
        assert names[0] == names[1], name


_SINGULAR_CASES = {
    "last_pivot": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]],
    "zeros": [[0.0, 0.0], [0.0, 0.0]],
    "ones": [[1.0, 1.0], [1.0, 1.0]],
    "batch": [[[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]],
}


@pytest.mark.parametrize("case", sorted(_SINGULAR_CASES))
@pytest.mark.parametrize("call", ["linalg.inv", "inverse", "linalg.inv_ex_checked"])
def test_singular_inverse_error_names_the_zero_pivot_as_torch(torch, case, call):
    """getrf's first zero pivot (1-based) and the failing batch element, in torch's words."""
    def run(module):
        matrix = module.tensor(_SINGULAR_CASES[case])
        if call == "linalg.inv_ex_checked":
            return module.linalg.inv_ex(matrix, check_errors=True)
        if call == "inverse":
            return module.inverse(matrix)
        return module.linalg.inv(matrix)
    assert_raises_like_torch(lambda: run(torch), lambda: run(ember), RuntimeError)


def test_inv_ex_info_and_inverses_of_a_partly_singular_batch(torch):
    ours = ember.linalg.inv_ex(ember.tensor(_SINGULAR_CASES["batch"]))
    theirs = torch.linalg.inv_ex(torch.tensor(_SINGULAR_CASES["batch"]))
    assert ours.info.tolist() == theirs.info.tolist() == [0, 2, 1]
    assert ours.info.dtype == ember.int32
    np.testing.assert_allclose(ours.inverse[0].numpy(), theirs.inverse[0].numpy())


def test_matrix_power_zero_stays_in_the_graph_as_torch(torch):
    """A^0 of a grad-requiring A is I copied into A's clone: recorded, with a zero gradient."""
    values = np.random.default_rng(8).standard_normal((2, 3, 3))
    results = []
    for m in (ember, torch):
        a = m.tensor(values, requires_grad=True)
        out = m.linalg.matrix_power(a.mT, 0)
        grad, = m.autograd.grad(out.sum(), a)
        plain = m.linalg.matrix_power(a.detach(), 0)
        results.append((out.detach().numpy(), out.requires_grad, out.is_contiguous(),
                        grad.numpy(), plain.requires_grad))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][3], results[1][3])
    assert results[0][1:3] + results[0][4:] == results[1][1:3] + results[1][4:]


_PHASE_CASES = {
    "eig_real_part": ("general", "fw.linalg.eig(a)[1].real.sum()"),
    "eig_moduli": ("general", "(fw.linalg.eig(a)[1].abs() ** 2 * fw.arange(3.0)).sum()"),
    "eigh_real_part": ("hermitian", "fw.linalg.eigh(a)[1].real.sum()"),
    "eigh_moduli": ("hermitian", "(fw.linalg.eigh(a)[1].abs() ** 2 * fw.arange(3.0)).sum()"),
}


@pytest.mark.parametrize("case", sorted(_PHASE_CASES))
def test_eigenvector_losses_that_depend_on_the_phase_are_refused_as_torch(torch, case):
    """A loss of complex eigenvectors must not depend on their phases: torch checks the
    imaginary diagonal of V^H gV and raises; phase-free losses get torch's gradient."""
    rng = np.random.default_rng(9)
    values = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    kind, call = _PHASE_CASES[case]
    if kind == "hermitian":
        values = values + values.conj().T

    def run(fw):
        a = fw.tensor(values, requires_grad=True)
        try:
            eval(call, {"fw": fw, "a": a}).backward()
        except RuntimeError as error:
            return str(error)
        return a.grad.numpy()
    ours, theirs = run(ember), run(torch)
    if isinstance(theirs, str):
        assert ours == theirs
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss", ["eigvalsh", "eigenvalues_squared", "vector_magnitudes"])
def test_complex_eigh_double_backward_matches_torch(torch, loss):
    # with only eigenvalue gradients the recorded backward mixed real and complex matrices in
    # one matmul (ember had raised its dtype error under create_graph)
    values = np.random.default_rng(0).standard_normal((3, 3)) \
        + 1j * np.random.default_rng(1).standard_normal((3, 3))
    results = []
    for fw in (torch, ember):
        a = fw.tensor(values, requires_grad=True)
        hermitian = a @ a.mH
        output = {"eigvalsh": lambda: fw.linalg.eigvalsh(hermitian).sum(),
                  "eigenvalues_squared": lambda: (fw.linalg.eigh(hermitian)[0] ** 2).sum(),
                  "vector_magnitudes": lambda: fw.linalg.eigh(hermitian)[1].abs().sum()}[loss]()
        (grad,) = fw.autograd.grad(output, a, create_graph=True)
        (second,) = fw.autograd.grad(fw.view_as_real(grad).pow(2).sum(), a)
        results.append([value.detach().resolve_conj().resolve_neg().numpy()
                        for value in (grad, second)])
    for mine, expected in zip(results[1], results[0]):
        np.testing.assert_allclose(mine, expected, rtol=1e-9, atol=1e-9)


def _complex_matrix(shape, seed):
    generator = np.random.default_rng(seed)
    return generator.standard_normal(shape) + 1j * generator.standard_normal(shape)


COMPLEX_SECOND_DERIVATIVES = {
    "svdvals": lambda fw, a: fw.linalg.svdvals(a).pow(2).sum() + fw.linalg.svdvals(a).prod(),
    "svdvals_cubed": lambda fw, a: fw.linalg.svdvals(a).pow(3).sum(),
    "matrix_norm_nuc": lambda fw, a: (fw.linalg.matrix_norm(a, "nuc") ** 2).sum(),
    "norm_nuc": lambda fw, a: (fw.norm(a, "nuc", dim=(-2, -1)) ** 2).sum(),
    "linalg_norm_nuc": lambda fw, a: (fw.linalg.norm(a, "nuc", dim=(-2, -1)) ** 3).sum(),
    "eigvals": lambda fw, a: fw.linalg.eigvals(a).abs().pow(3).sum(),
    "eig_values": lambda fw, a: (fw.linalg.eig(a)[0] ** 2).real.sum()
    + fw.linalg.eig(a)[0].imag.sum(),
    "eig_vector_magnitudes": lambda fw, a: (fw.linalg.eig(a)[1].abs().pow(2) * fw.arange(
        a.shape[-1] ** 2, dtype=fw.float64).reshape(a.shape[-1], -1)).sum(),
    "eig_both": lambda fw, a: (fw.linalg.eig(a)[1].abs()
                               * fw.linalg.eig(a)[0].abs().unsqueeze(-2)).sum(),
}


@pytest.mark.parametrize("name, shape", [
    (name, shape) for name in COMPLEX_SECOND_DERIVATIVES
    for shape in [(3, 3), (3, 4), (4, 3), (2, 3, 3)]
    if not name.startswith("eig") or shape[-1] == shape[-2]])  # eig takes square matrices
@pytest.mark.parametrize("kind", ["complex", "real"])
def test_svdvals_nuclear_norm_and_eig_second_derivatives_match_torch(torch, name, shape, kind):
    """Double backward of svdvals and the nuclear norm (complex ones take conjugate transposes
    and the phase term of PyTorch's svd_backward) and of eig (its backward written again as
    differentiable ops), complex and real, against torch's gradient and Hessian-vector
    product."""
    array = _complex_matrix(shape, 11) if kind == "complex" else _complex_matrix(shape, 11).real
    direction = np.cos(np.arange(array.size)).reshape(shape) + (
        1j * np.sin(np.arange(array.size)).reshape(shape) if kind == "complex" else 0)
    results = []
    for fw in (torch, ember):
        a = fw.tensor(array, requires_grad=True)
        value = COMPLEX_SECOND_DERIVATIVES[name](fw, a)
        (grad,) = fw.autograd.grad(value, a, create_graph=True)
        product = (grad * fw.tensor(direction)).real.sum() if kind == "complex" else \
            (grad * fw.tensor(direction)).sum()
        (second,) = fw.autograd.grad(product, a)
        results.append([tensor.detach().resolve_conj().numpy() for tensor in (grad, second)])
    for mine, expected in zip(results[1], results[0]):
        np.testing.assert_allclose(mine, expected, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("name", ["svdvals", "eig_vector_magnitudes", "eig_values"])
def test_complex_svdvals_and_eig_gradgradcheck(name):
    a = ember.tensor(_complex_matrix((3, 3), 12), requires_grad=True)
    assert gradgradcheck(lambda x: COMPLEX_SECOND_DERIVATIVES[name](ember, x), (a,))


SQUARE_MATRIX_OPS = {
    "inv": lambda fw, a: fw.linalg.inv(a),
    "det": lambda fw, a: fw.linalg.det(a),
    "slogdet": lambda fw, a: fw.linalg.slogdet(a),
    "cholesky": lambda fw, a: fw.linalg.cholesky(a),
    "eigh": lambda fw, a: fw.linalg.eigh(a),
    "eigvalsh": lambda fw, a: fw.linalg.eigvalsh(a),
    "eig": lambda fw, a: fw.linalg.eig(a),
    "eigvals": lambda fw, a: fw.linalg.eigvals(a),
    "matrix_exp": lambda fw, a: fw.linalg.matrix_exp(a),
    "solve": lambda fw, a: fw.linalg.solve(a, fw.ones(a.shape[:-1], dtype=a.dtype)),
    "solve_triangular": lambda fw, a: fw.linalg.solve_triangular(
        a, fw.ones(a.shape, dtype=a.dtype), upper=True),
    "svd": lambda fw, a: fw.linalg.svd(a),
    "svdvals": lambda fw, a: fw.linalg.svdvals(a),
    "qr": lambda fw, a: fw.linalg.qr(a),
    "cond": lambda fw, a: fw.linalg.cond(a),
    "cond_1": lambda fw, a: fw.linalg.cond(a, 1),
    "cond_fro": lambda fw, a: fw.linalg.cond(a, "fro"),
    "cond_nuc": lambda fw, a: fw.linalg.cond(a, "nuc"),
}
BAD_MATRICES = {
    "vector": lambda fw: fw.ones(3), "scalar": lambda fw: fw.ones(()),
    "integer": lambda fw: fw.ones(3, 3, dtype=fw.int64),
    "integer_vector": lambda fw: fw.ones(3, dtype=fw.int64),
    "integer_wide": lambda fw: fw.ones(2, 3, dtype=fw.int64),
    "bool": lambda fw: fw.ones(3, 3, dtype=fw.bool),
    "int8": lambda fw: fw.ones(3, 3, dtype=fw.int8),
    "half": lambda fw: fw.eye(3, dtype=fw.float16), "half_wide": lambda fw: fw.ones(2, 3).half(),
    "half_vector": lambda fw: fw.ones(3).half(),
    "bfloat16": lambda fw: fw.eye(3, dtype=fw.bfloat16),
    "bfloat16_wide": lambda fw: fw.ones(2, 3).bfloat16(),
}


@pytest.mark.parametrize("name, matrix", [
    (name, matrix) for name in SQUARE_MATRIX_OPS for matrix in BAD_MATRICES
    # PyTorch computes a half-precision matrix_exp in that precision (NaN for moderate
    # inputs); ember refuses it (test_half_precision_matrix_exp_is_refused)
    if not (name == "matrix_exp" and matrix in ("half", "bfloat16"))])
def test_matrix_input_checks_match_torch(torch, name, matrix):
    """Each op's checks in PyTorch's order (rank, squareness, then the dtype as its CPU kernel
    refuses it; eig's and solve's dtype first) with its messages."""

    def call(fw):
        return lambda: SQUARE_MATRIX_OPS[name](fw, BAD_MATRICES[matrix](fw))
    try:
        call(torch)()
    except Exception:  # noqa: BLE001 - torch's error decides what ember must raise
        assert_raises_like_torch(call(torch), call(ember), same_type=True)
        return
    call(ember)()  # where torch computes (svd of a wide matrix), ember does too


LINALG_ERRORS = {
    "solve_vector_mismatch": lambda fw: fw.linalg.solve(fw.eye(3), fw.ones(4)),
    "solve_dtypes": lambda fw: fw.linalg.solve(fw.eye(3), fw.ones(3, dtype=fw.float64)),
    "matrix_power_vector": lambda fw: fw.linalg.matrix_power(fw.ones(3), 2),
    "matrix_power_wide": lambda fw: fw.linalg.matrix_power(fw.ones(2, 3), 2),
    "multi_dot_shapes": lambda fw: fw.linalg.multi_dot([fw.ones(3, 3), fw.ones(4, 3)]),
    "multi_dot_vector_shapes": lambda fw: fw.linalg.multi_dot([fw.ones(3), fw.ones(2, 3)]),
    "multi_dot_dtypes": lambda fw: fw.linalg.multi_dot([fw.ones(3, 3),
                                                        fw.ones(3, 3, dtype=fw.float64)]),
    "vecdot_integers": lambda fw: fw.linalg.vecdot(fw.ones(3, dtype=fw.int64), fw.ones(3)),
    "vecdot_dtypes": lambda fw: fw.linalg.vecdot(fw.ones(3).half(), fw.ones(3)),
    "cholesky_ex_vector": lambda fw: fw.linalg.cholesky_ex(fw.ones(3)),
    "cholesky_ex_wide": lambda fw: fw.linalg.cholesky_ex(fw.ones(2, 3)),
    "cholesky_ex_integers": lambda fw: fw.linalg.cholesky_ex(fw.ones(3, 3, dtype=fw.int64)),
    "cholesky_ex_half": lambda fw: fw.linalg.cholesky_ex(fw.eye(3).half()),
    "vector_norm_empty_inf": lambda fw: fw.linalg.vector_norm(fw.zeros(0), float("inf")),
    "vector_norm_empty_negative": lambda fw: fw.linalg.vector_norm(fw.zeros(0, 3), -0.5),
    "vector_norm_empty_dim": lambda fw: fw.linalg.vector_norm(fw.zeros(0, 3), -1, dim=-2),
    "vector_norm_empty_dims": lambda fw: fw.linalg.vector_norm(fw.zeros(3, 0), -1e10,
                                                               dim=(0, 1)),
    "vector_norm_string_ord": lambda fw: fw.linalg.vector_norm(fw.ones(3), "fro"),
    "vector_norm_none_ord": lambda fw: fw.linalg.vector_norm(fw.ones(3), None),
    "lstsq_dtypes": lambda fw: fw.linalg.lstsq(fw.ones(3, 3), fw.ones(4, 2).double()),
    "lstsq_integers": lambda fw: fw.linalg.lstsq(fw.ones(3, 3, dtype=fw.int64),
                                                 fw.ones(3, 2, dtype=fw.int64)),
    "matrix_rank_vector": lambda fw: fw.linalg.matrix_rank(fw.ones(3)),
    "matrix_rank_integers": lambda fw: fw.linalg.matrix_rank(fw.ones(3, 3, dtype=fw.int64)),
    "matrix_rank_half": lambda fw: fw.linalg.matrix_rank(fw.ones(3, 3).half()),
    "lu_factor_half": lambda fw: fw.linalg.lu_factor(fw.eye(3).half()),
    "lu_bfloat16": lambda fw: fw.linalg.lu(fw.eye(3).bfloat16()),
}


@pytest.mark.parametrize("name", list(LINALG_ERRORS))
def test_linalg_errors_match_torch(torch, name):
    assert_raises_like_torch(lambda: LINALG_ERRORS[name](torch), lambda: LINALG_ERRORS[name](ember),
                             same_type=True)


@pytest.mark.parametrize("call", [
    lambda fw: fw.linalg.cholesky(fw.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda fw: fw.linalg.cholesky(fw.stack([fw.eye(2), -fw.eye(2)])),
    lambda fw: fw.linalg.cholesky_ex(-fw.eye(3), check_errors=True)])
def test_cholesky_failures_name_the_minor_like_torch(torch, call):
    """LAPACK's report: the first leading minor that is not positive-definite, and the batch
    element (torch's _LinAlgError and ember's LinAlgError are both RuntimeErrors)."""
    assert_raises_like_torch(lambda: call(torch), lambda: call(ember), RuntimeError)


def test_vecdot_conjugates_its_first_argument_like_torch(torch):
    x = np.array([1 + 2j, -0.5j, 3.0]), np.array([2 - 1j, 1 + 1j, -1j])
    ours = ember.linalg.vecdot(ember.tensor(x[0]), ember.tensor(x[1]))
    theirs = torch.linalg.vecdot(torch.tensor(x[0]), torch.tensor(x[1]))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    assert ours.dtype == ember.complex128


@pytest.mark.parametrize("shape", [(0, 0), (2, 0, 0), (0, 3, 3), (3, 0), (0, 3)])
@pytest.mark.parametrize("name", ["lu_factor", "lu", "lu_factor_ex", "cond"])
def test_lu_and_cond_of_empty_matrices_like_torch(torch, name, shape):
    """Empty matrices factor to empty factors, and their condition number is 0 (PyTorch's)."""
    results = []
    for fw in (torch, ember):
        result = getattr(fw.linalg, name)(fw.ones(shape))
        result = result if isinstance(result, tuple) else (result,)
        results.append([(tuple(part.shape), part.numpy().tolist()) for part in result])
    assert results[1] == results[0]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_matrix_exp_is_refused(dtype):
    """ember's one departure from PyTorch's matrix_exp: half precision is refused (PyTorch
    computes it in that precision and returns NaN for moderate inputs)."""
    with pytest.raises(NotImplementedError, match="matrix_exp"):
        ember.linalg.matrix_exp(ember.eye(3, dtype=getattr(ember, dtype)))


DTYPE_CHECKED_CALLS = {
    "ldl_factor_half": lambda fw: fw.linalg.ldl_factor(fw.eye(3, dtype=fw.half)),
    "ldl_factor_bfloat16": lambda fw: fw.linalg.ldl_factor(fw.eye(3, dtype=fw.bfloat16)),
    "ldl_factor_integer": lambda fw: fw.linalg.ldl_factor(fw.eye(3, dtype=fw.int64)),
    "ldl_factor_ex_half": lambda fw: fw.linalg.ldl_factor_ex(fw.eye(3, dtype=fw.half)),
    "ldl_factor_vector": lambda fw: fw.linalg.ldl_factor(fw.ones(3)),
    "ldl_factor_integer_wide": lambda fw: fw.linalg.ldl_factor(fw.ones(2, 3, dtype=fw.int64)),
    "vander_half": lambda fw: fw.linalg.vander(fw.ones(3, dtype=fw.half)),
    "vander_bfloat16": lambda fw: fw.linalg.vander(fw.ones(3, dtype=fw.bfloat16)),
    "vander_bool": lambda fw: fw.linalg.vander(fw.ones(3, dtype=fw.bool)),
    "pinv_half": lambda fw: fw.linalg.pinv(fw.eye(3, dtype=fw.half)),
    "pinv_bfloat16": lambda fw: fw.linalg.pinv(fw.eye(3, dtype=fw.bfloat16)),
    "householder_product_number_tau": lambda fw: fw.linalg.householder_product(fw.eye(3), 2),
}


@pytest.mark.parametrize("name", list(DTYPE_CHECKED_CALLS))
def test_dtype_checks_of_ldl_vander_pinv_like_torch(torch, name):
    """Half precision, bool and integers where PyTorch's kernels refuse them, in its words
    (pinv had let NumPy's own TypeError through; vander and ldl_factor computed)."""
    call = DTYPE_CHECKED_CALLS[name]
    assert_raises_like_torch(lambda: call(torch), lambda: call(ember), same_type=True)


def test_vander_of_integers_and_floats_still_computes_like_torch(torch):
    for dtype in ("int64", "uint8", "float32", "complex64"):
        x = np.array([1, 2, 3]).astype(dtype)
        ours = ember.linalg.vander(ember.tensor(x)).numpy()
        theirs = torch.linalg.vander(torch.tensor(x)).numpy()
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("call", [
    lambda fw: fw.linalg.pinv(fw.ones(2, 3), hermitian=True),
    lambda fw: fw.linalg.svd(fw.eye(3), driver="gesvd"),
    lambda fw: fw.linalg.svdvals(fw.eye(3), driver="gesvd"),
    lambda fw: fw.linalg.svd(fw.ones(3), driver="gesvd"),
], ids=["pinv_hermitian_wide", "svd_driver", "svdvals_driver", "svd_driver_vector"])
def test_pinv_hermitian_and_svd_driver_checks_like_torch(torch, call):
    """pinv(hermitian=True) goes through eigh's squareness check; svd's driver= is refused on
    the CPU after the rank check (NumPy's LinAlgError had escaped; driver was ignored)."""
    assert_raises_like_torch(lambda: call(torch), lambda: call(ember), RuntimeError)


# (left shape, right shape, left requires grad, right requires grad, left made transposed)
_MATMUL_MISFITS = [
    ((4,), (5,), False, False, False), ((3, 4), (5,), False, False, False),
    ((4,), (5, 6), False, False, False), ((3, 4), (5, 6), False, False, False),
    ((2, 3, 4), (2, 3, 5), False, False, False), ((2, 2, 3, 4), (2, 2, 5, 6), False, False, False),
    ((2, 3, 4), (3, 5, 6), False, False, False), ((2, 3, 4), (3, 4, 5), False, False, False),
    ((2, 1, 3, 4), (3, 5, 6), False, False, False),
    # folded onto a matrix: the larger operand's leading dims contiguous ...
    ((2, 3, 4), (5, 6), False, False, False), ((2, 3, 4), (5,), False, False, False),
    ((4,), (2, 1, 6), False, False, False),
    # ... or the smaller one requiring grad
    ((2, 3, 4), (5, 6), True, False, True), ((2, 3, 4), (5,), False, True, True),
    ((4,), (2, 5, 6), True, False, False), ((3, 4), (2, 5, 6), True, False, False),
    # not folded: bmm after broadcasting
    ((2, 3, 4), (5, 6), False, False, True), ((2, 3, 4), (5,), False, False, True),
    ((4,), (2, 5, 6), False, False, False), ((3, 4), (2, 5, 6), False, False, False),
    ((3, 4), (2, 1, 6), False, False, False), ((2, 3), (4, 2, 5, 6), False, False, False),
]


@pytest.mark.parametrize("left, right, left_grad, right_grad, transposed", _MATMUL_MISFITS)
def test_matmul_shape_errors_name_the_kernel_torch_picks(torch, left, right, left_grad,
                                                         right_grad, transposed):
    def call(fw):
        if transposed:  # same shape, leading dims not contiguous
            a = fw.zeros(left[1], left[0], *left[2:]).transpose(0, 1)
        else:
            a = fw.zeros(*left)
        a.requires_grad_(left_grad)
        b = fw.zeros(*right, requires_grad=right_grad)
        return lambda: fw.matmul(a, b)
    assert_raises_like_torch(call(torch), call(ember), RuntimeError, same_type=True)


# einsum equations and operands whose error (or result) ember gave differently from PyTorch 2.13
EINSUM_MISUSES = [
    ("i1,i->", [(2,), (2,)]),
    ("i->i->i", [(2,)]),
    ("i ,i- > ", [(2,), (2,)]),
    ("i.,i->", [(2,), (2,)]),
    ("...i...->", [(2,)]),
    ("i,i->.", [(2,), (2,)]),
    ("...i,i->......", [(2,), (2,)]),
    ("i,i->1", [(2,), (2,)]),
    ("i,,i->", [(2,), (2,)]),
    ("ij...,j->", [(2,), (2,)]),
    ("iji->", [(2, 2, 3)]),
    ("ii->i", [(2, 3)]),
    ("...i,...i->...", [(2, 3), (4, 3)]),
    ("a...,a...->...", [(2, 3, 5), (2, 4, 5)]),
    ("i,i->", [(2,), (2, "double")]),
    ("i,i->", [(2, "double"), (2,)]),
    ("ij,jk->ik", [(2, 2), (2, 2, "double")]),
    ("i,i,i->", [(2,), (2,), (2, "double")]),
    ("i,j->ij", [(2,), (2, "double")]),
    ("i,i->i", [(2,), (2, "long")]),
    ("i,->i", [(2,), ((), "double")]),
]


def _einsum_operand(fw, spec):
    shape = spec[0] if isinstance(spec[0], tuple) else tuple(x for x in spec if type(x) is int)
    dtype = getattr(fw, spec[-1]) if isinstance(spec[-1], str) else fw.float32
    return (fw.arange(float(max(1, int(np.prod(shape))))).reshape(shape) + 1).to(dtype)


@pytest.mark.parametrize("equation, specs", EINSUM_MISUSES)
def test_einsum_misuse_like_torch(torch, equation, specs):
    def run(fw):
        return fw.einsum(equation, *[_einsum_operand(fw, spec) for spec in specs])
    try:
        expected = run(torch)
    except RuntimeError as error:
        with pytest.raises(RuntimeError) as ours:
            run(ember)
        assert str(ours.value) == str(error)
        return
    result = run(ember)
    assert str(result.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    np.testing.assert_array_equal(result.numpy(), expected.numpy())


def test_einsum_of_mixed_dtypes_differentiates_each_operand_in_its_dtype(torch):
    # an outer product of float32 and float64 promotes; each gradient keeps its operand's dtype
    grads = []
    for fw in (torch, ember):
        a = fw.tensor([1.0, 2.0], requires_grad=True)
        b = fw.tensor([3.0, 4.0, 5.0], dtype=fw.float64, requires_grad=True)
        fw.einsum("i,j->ij", a, b).pow(2).sum().backward()
        grads.append((a.grad, b.grad))
    (their_a, their_b), (our_a, our_b) = grads
    assert our_a.dtype == ember.float32 and our_b.dtype == ember.float64
    np.testing.assert_allclose(our_a.numpy(), their_a.numpy(), rtol=1e-6)
    np.testing.assert_allclose(our_b.numpy(), their_b.numpy(), rtol=1e-12)


# linalg.norm / matrix_norm / cond arguments whose error (or result) ember gave differently
NORM_MISUSES = [
    lambda fw: fw.linalg.norm(fw.ones(3, 3, 3), dim=(0, 1, 2)),
    lambda fw: fw.linalg.norm(fw.ones(3, 3, 3), ord="fro", dim=(0, 1, 2)),
    lambda fw: fw.linalg.norm(fw.ones(3, 3), ord="fro", dim=0),
    lambda fw: fw.linalg.norm(fw.ones(3, 3), ord="nuc", dim=(0,)),
    lambda fw: fw.linalg.norm(fw.ones(3), ord="fro"),
    lambda fw: fw.linalg.norm(fw.ones(3), ord="nuc"),
    lambda fw: fw.linalg.norm(fw.ones(3), ord="bad"),
    lambda fw: fw.linalg.norm(fw.ones(3, 3), ord="bad"),
    lambda fw: fw.linalg.matrix_norm(fw.ones(3, 3), dtype=fw.long),
    lambda fw: fw.linalg.cond(fw.ones(2, 2), p="bad"),
    lambda fw: fw.linalg.cond(fw.ones(2), p="bad"),
    lambda fw: fw.linalg.cond(fw.ones(2, 3), p="bad"),
    lambda fw: fw.linalg.cond(fw.ones(2), p=1),
    lambda fw: fw.linalg.cond(fw.eye(2), p=1.5),
    lambda fw: fw.linalg.cond(fw.eye(2), p=3.0),
    lambda fw: fw.linalg.cond(fw.eye(2), p=0),
    lambda fw: fw.linalg.cond(fw.eye(2) * 2, p=-1.0),
    lambda fw: fw.linalg.norm(fw.arange(12.0).reshape(3, 4), ord=1, dim=(1, 0)),
    lambda fw: fw.linalg.norm(fw.arange(12.0).reshape(3, 4), ord=3, dim=1),
    lambda fw: fw.linalg.norm(fw.arange(24.0).reshape(2, 3, 4), ord=float("inf"), dim=(0, 2),
                              keepdim=True),
    lambda fw: fw.linalg.norm(fw.tensor([[2.0, 1.0, 0.0, 0.0], [0.0, 3.0, 1.0, 0.0],
                                         [1.0, 0.0, 4.0, 1.0]]), ord=-2),
]


@pytest.mark.parametrize("case", range(len(NORM_MISUSES)))
def test_norm_misuse_like_torch(torch, case):
    mistake = NORM_MISUSES[case]
    try:
        expected = mistake(torch)
    except RuntimeError as error:
        with pytest.raises(RuntimeError) as ours:
            mistake(ember)
        assert str(ours.value) == str(error)
        return
    np.testing.assert_allclose(mistake(ember).numpy(), expected.numpy(), rtol=1e-5)


@pytest.mark.parametrize("a_batch, b_shape", [((3,), (4, 2, 1)), ((5, 3), (4, 2, 2)),
                                              ((3,), (4, 2))])
def test_solve_batch_mismatch_names_b_first_like_torch(torch, a_batch, b_shape):
    def solve(fw):
        return fw.linalg.solve(fw.eye(2).expand(*a_batch, 2, 2), fw.ones(*b_shape))
    with pytest.raises(RuntimeError) as theirs:
        solve(torch)
    with pytest.raises(RuntimeError) as ours:
        solve(ember)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape, rows", [((3, 4, 30, 16), 30), ((7, 9, 5), 9), ((2, 3, 33, 32), 33),
                                         ((5, 8, 64), 8), ((2, 3, 40, 16), 1)])
def test_batched_product_with_a_transposed_operand_matches_torch(torch, dtype, shape, rows):
    # q @ k^T over batches of small matrices (b stored transposed, copied before BLAS up to a
    # depth of 32 unless a few query rows meet many keys; 64 stays a view): values and both
    # gradients as torch
    random = np.random.default_rng(shape[-1])
    key, value = (random.standard_normal(shape).astype(dtype) for _ in range(2))
    query, upstream = (random.standard_normal(shape).astype(dtype)[..., :rows, :]
                       for _ in range(2))
    results = []
    for fw in (ember, torch):
        leaves = [fw.tensor(array, requires_grad=True) for array in (query, key, value)]
        scores = leaves[0] @ leaves[1].transpose(-2, -1)
        out = scores.softmax(-1) @ leaves[2]
        # backward: grad @ value^T, transposed again, and scores^T @ grad
        (out * fw.tensor(upstream)).sum().backward()
        results.append([scores.detach().numpy(), out.detach().numpy()]
                       + [leaf.grad.numpy() for leaf in leaves])
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    for mine, theirs in zip(*results):
        assert mine.dtype == theirs.dtype
        np.testing.assert_allclose(mine, theirs, rtol=tolerance, atol=tolerance)
