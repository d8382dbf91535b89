"""cholesky_solve, cholesky_inverse, triangular_solve (legacy), linalg.lu_factor(_ex),
linalg.lu, lu_unpack, linalg.lu_solve and the legacy torch.lu / torch.lu_solve against
PyTorch: values, pivots, gradients, float64 gradchecks and errors."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from tests.conftest import assert_close, assert_raises_like_torch


def _positive_definite_factor(shape, seed=0, upper=False):
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal(shape)
    symmetric = matrix @ np.swapaxes(matrix, -1, -2) + np.eye(shape[-1]) * shape[-1]
    lower = np.linalg.cholesky(symmetric)
    return np.swapaxes(lower, -1, -2).copy() if upper else lower


def _run(torch, build):
    return build(ember), build(torch)


@pytest.mark.parametrize("shape, b_shape", [((3, 3), (3, 2)), ((2, 4, 4), (4, 3)),
                                            ((4, 4), (2, 4, 1))])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_solve_and_inverse_match_torch(torch, shape, b_shape, upper):
    factor = _positive_definite_factor(shape, upper=upper).astype(np.float32)
    right = np.random.default_rng(1).standard_normal(b_shape).astype(np.float32)

    def build(framework):
        f = framework.tensor(factor, requires_grad=True)
        b = framework.tensor(right, requires_grad=True)
        solution = framework.cholesky_solve(b, f, upper)
        inverse = f.cholesky_inverse(upper)
        ((solution * solution).sum() + (inverse * inverse).sum()).backward()
        return solution, inverse, b.cholesky_solve(f, upper), f.grad, b.grad
    for ours, theirs in zip(*_run(torch, build)):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_solve_gradcheck(upper):
    # PyTorch's gradient for the factor is a full matrix while only its triangle is read (as
    # torch's own gradchecks do, the factor passes through its triangle first).
    factor = ember.tensor(_positive_definite_factor((3, 3), upper=upper), requires_grad=True)
    right = ember.tensor(np.random.default_rng(2).standard_normal((3, 2)), requires_grad=True)

    def triangle(f):
        return f.triu() if upper else f.tril()
    assert gradcheck(lambda b, f: ember.cholesky_solve(b, triangle(f), upper), [right, factor])
    assert gradgradcheck(lambda b, f: ember.cholesky_solve(b, triangle(f), upper),
                         [right, factor])
    assert gradcheck(lambda f: ember.cholesky_inverse(triangle(f), upper), [factor])


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("unitriangular", [False, True])
def test_triangular_solve_matches_torch(torch, upper, transpose, unitriangular):
    coefficient = _positive_definite_factor((4, 4), upper=upper).astype(np.float32)
    right = np.random.default_rng(3).standard_normal((2, 4, 3)).astype(np.float32)

    def build(framework):
        a = framework.tensor(coefficient, requires_grad=True)
        b = framework.tensor(right, requires_grad=True)
        solution, cloned = framework.triangular_solve(b, a, upper, transpose, unitriangular)
        (solution.sum() + (cloned * cloned).sum()).backward()
        method = b.triangular_solve(a, upper, transpose, unitriangular)
        return solution, cloned, method.solution, method.cloned_coefficient, a.grad, b.grad
    for ours, theirs in zip(*_run(torch, build)):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


def test_triangular_solve_gradcheck():
    coefficient = ember.tensor(_positive_definite_factor((3, 3)), requires_grad=True)
    right = ember.tensor(np.random.default_rng(4).standard_normal((3, 2)), requires_grad=True)
    assert gradcheck(lambda b, a: ember.triangular_solve(b, a, False, True)[0],
                     [right, coefficient])


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 5, 5), (3, 5), (5, 3), (1, 1)])
def test_lu_factorizations_match_torch(torch, shape):
    values = np.random.default_rng(5).standard_normal(shape).astype(np.float32)

    def build(framework):
        a = framework.tensor(values)
        packed, pivots = framework.linalg.lu_factor(a)
        ex = framework.linalg.lu_factor_ex(a)
        permutation, lower, upper = framework.linalg.lu(a)
        unpacked = framework.lu_unpack(packed, pivots)
        legacy = framework.lu(a, get_infos=True)
        return (packed, pivots, ex.LU, ex.pivots, ex.info, permutation, lower, upper, *unpacked,
                *legacy, a.lu()[0])
    for ours, theirs in zip(*_run(torch, build)):
        assert_close(ours, theirs)


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3)])
def test_lu_gradients_match_torch(torch, shape):
    rng = np.random.default_rng(6)
    values = rng.standard_normal(shape).astype(np.float32)
    weights = rng.standard_normal(shape).astype(np.float32)

    def build(framework):
        first = framework.tensor(values, requires_grad=True)
        packed, _ = framework.linalg.lu_factor(first)
        (packed * framework.tensor(weights)).sum().backward()
        second = framework.tensor(values, requires_grad=True)
        _, lower, upper = framework.linalg.lu(second)
        (lower * framework.tensor(weights) + upper * upper).sum().backward()
        return first.grad, second.grad
    for ours, theirs in zip(*_run(torch, build)):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


def test_lu_gradcheck():
    a = ember.tensor(np.random.default_rng(7).standard_normal((3, 3)), requires_grad=True)
    assert gradcheck(lambda a: ember.linalg.lu_factor(a).LU, [a])
    assert gradcheck(lambda a: ember.linalg.lu(a)[1:], [a])
    assert gradgradcheck(lambda a: ember.linalg.lu_factor(a).LU, [a])


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [True, False])
@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3)])
def test_lu_solve_matches_torch(torch, left, adjoint, shape):
    rng = np.random.default_rng(8)
    values = rng.standard_normal(shape).astype(np.float32)
    right = rng.standard_normal(shape[:-1] + (2,)).astype(np.float32)
    if not left:
        right = np.swapaxes(right, -1, -2).copy()

    def build(framework):
        a = framework.tensor(values, requires_grad=True)
        b = framework.tensor(right, requires_grad=True)
        packed, pivots = framework.linalg.lu_factor(a)
        solution = framework.linalg.lu_solve(packed, pivots, b, left=left, adjoint=adjoint)
        (solution * solution).sum().backward()
        return solution, a.grad, b.grad
    for ours, theirs in zip(*_run(torch, build)):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


def test_legacy_lu_solve_matches_torch(torch):
    rng = np.random.default_rng(9)
    values = rng.standard_normal((3, 3)).astype(np.float32)
    right = rng.standard_normal((3, 2)).astype(np.float32)

    def build(framework):
        packed, pivots = framework.linalg.lu_factor(framework.tensor(values))
        b = framework.tensor(right)
        return framework.lu_solve(b, packed, pivots), b.lu_solve(packed, pivots)
    for ours, theirs in zip(*_run(torch, build)):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


def test_lu_solve_gradcheck():
    rng = np.random.default_rng(10)
    a = ember.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    b = ember.tensor(rng.standard_normal((3, 2)), requires_grad=True)

    def function(a, b):
        packed, pivots = ember.linalg.lu_factor(a)
        return ember.linalg.lu_solve(packed, pivots, b, adjoint=True)
    assert gradcheck(function, [a, b])


def test_singular_lu_reports_zero_pivot(torch):
    ours = ember.linalg.lu_factor_ex(ember.zeros(2, 2))
    theirs = torch.linalg.lu_factor_ex(torch.zeros(2, 2))
    assert_close(ours.info, theirs.info)
    assert_close(ours.pivots, theirs.pivots)
    assert_raises_like_torch(lambda: torch.linalg.lu_factor(torch.zeros(3, 3)),
                             lambda: ember.linalg.lu_factor(ember.zeros(3, 3)), RuntimeError)


@pytest.mark.parametrize("call", [
    "cholesky_solve(B, randn(3))", "cholesky_solve(randn(3), A)",
    "cholesky_solve(B, randn(2, 3))", "cholesky_solve(B.double(), A)",
    "cholesky_solve(randn(2, 2), A)", "cholesky_inverse(randn(3))",
    "cholesky_inverse(randn(2, 3))", "cholesky_inverse(randn(2, 2).long())",
    "linalg.lu_factor(randn(3))", "linalg.lu_factor(randn(3, 3).long())",
    "linalg.lu_factor(randn(2, 3), pivot=False)", "linalg.lu(randn(3))",
    "linalg.lu_solve(A, tensor([1, 2, 3], dtype=int32), randn(4, 2))",
    "linalg.lu_solve(A, tensor([1, 2, 3]), B)",
    "linalg.lu_solve(A, tensor([1, 2, 3], dtype=int32), randn(3))",
    "linalg.lu_solve(randn(2, 3), tensor([1, 2], dtype=int32), B)",
    "lu_unpack(A, tensor([1, 2, 3]))", "lu_unpack(A, tensor([1, 2, 5], dtype=int32))",
    "triangular_solve(B, randn(3))", "triangular_solve(randn(3), A)",
    "triangular_solve(randn(2, 2), A)", "triangular_solve(B, randn(2, 3))",
    "triangular_solve(B.double(), A)"])
def test_errors_match_torch(torch, call):
    def run(framework):
        names = {name: getattr(framework, name) for name in (
            "cholesky_solve", "cholesky_inverse", "linalg", "lu_unpack", "triangular_solve",
            "randn", "tensor", "int32")}
        return eval(call, {**names, "A": framework.eye(3), "B": framework.ones(3, 2)})
    assert_raises_like_torch(lambda: run(torch), lambda: run(ember), same_type=True)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (2, 3, 5), (2, 5, 3), (4, 1)])
def test_lu_of_wide_and_tall_matrices_has_torchs_gradient(torch, shape):
    """A = P L [U1 U2] and A = P [L1; L2] U: the gradients of L and U (through linalg.lu) and of
    the packed factor equal torch's, and ember's own gradcheck agrees."""
    rng = np.random.default_rng(11)
    values = rng.standard_normal(shape)
    results = []
    for m in (ember, torch):
        a = m.tensor(values, requires_grad=True)
        _, lower, upper = m.linalg.lu(a)
        lower_weights = m.linspace(0.5, 1.5, lower.numel(), dtype=m.float64).reshape(lower.shape)
        upper_weights = m.linspace(-1.0, 2.0, upper.numel(), dtype=m.float64).reshape(upper.shape)
        through_unpack, = m.autograd.grad((lower * lower_weights).sum()
                                          + (upper * upper_weights).sum(), a)
        packed, _ = m.linalg.lu_factor(a)
        through_packed, = m.autograd.grad((packed * packed).sum(), a)
        results.append((through_unpack.numpy(), through_packed.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    a = ember.tensor(values, requires_grad=True)
    assert gradcheck(lambda x: ember.linalg.lu(x)[1:], (a,))
