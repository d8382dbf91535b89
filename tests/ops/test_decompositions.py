"""SVD, QR, pinv, solve_triangular, cholesky_solve/inverse, matrix_exp, lstsq, matrix norms,
rank and cond against PyTorch (values, first and second derivatives of gauge-invariant
functions, errors), plus float64 gradchecks and gradgradchecks that need nothing but ember."""
import math

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from tests.conftest import assert_raises_like_torch

from .op_table import dtype_name


def _random(shape, seed=0, dtype="float64"):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _leaf(module, values):
    return module.tensor(values, requires_grad=True)


def _compare_gradients(torch, function, shapes, rtol=1e-7, atol=1e-9, second=True):
    """function(module, *tensors) -> a scalar; gradients (and, with second, the gradients of
    the gradients' squared sum) equal torch's."""
    arrays = [_random(shape, seed) for seed, shape in enumerate(shapes)]
    results = []
    for module in (ember, torch):
        leaves = [_leaf(module, array) for array in arrays]
        value = function(module, *leaves)
        grads = module.autograd.grad(value, leaves, create_graph=second)
        row = [value.detach().numpy()] + [grad.detach().numpy() for grad in grads]
        if second:
            total = sum((grad * grad).sum() for grad in grads)
            row += [grad.detach().numpy() for grad in module.autograd.grad(total, leaves)]
        results.append(row)
    for mine, theirs in zip(*results):
        np.testing.assert_allclose(mine, theirs, rtol=rtol, atol=atol)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 4, 4), (3, 3)])
def test_svd_values_and_gradients_match_torch(torch, shape):
    array = _random(shape)
    mine = ember.linalg.svd(ember.tensor(array), full_matrices=False)
    theirs = torch.linalg.svd(torch.tensor(array), full_matrices=False)
    np.testing.assert_allclose(mine.S.numpy(), theirs.S.numpy(), rtol=1e-12)
    rebuilt = (mine.U * mine.S.unsqueeze(-2)) @ mine.Vh
    np.testing.assert_allclose(rebuilt.numpy(), array, atol=1e-12)
    # Gauge-invariant uses of U and Vh: |U|^2 weighted, U S Vh, projections.
    weights = _random(shape[:-2] + (shape[-2], min(shape[-2:])), seed=7)
    weights_v = _random(shape[:-2] + (min(shape[-2:]), shape[-1]), seed=8)

    def loss(module, a):
        u, s, vh = module.linalg.svd(a, full_matrices=False)
        return ((u * u) * module.tensor(weights)).sum() + (s ** 3).sum() + \
            ((vh * vh) * module.tensor(weights_v)).sum()
    _compare_gradients(torch, loss, [shape], rtol=1e-6, atol=1e-8)


def test_svd_full_matrices_and_legacy_forms_match_torch(torch):
    array = _random((5, 3))
    for module in (ember, torch):
        u, s, vh = module.linalg.svd(module.tensor(array))
        assert tuple(u.shape) == (5, 5) and tuple(vh.shape) == (3, 3)
        legacy = module.svd(module.tensor(array))
        assert tuple(legacy.V.shape) == (3, 3) and tuple(legacy.U.shape) == (5, 3)
        empty = module.svd(module.tensor(array), compute_uv=False)
        assert tuple(empty.U.shape) == (5, 5) and not empty.U.numpy().any()
        np.testing.assert_allclose(empty.S.numpy(), np.linalg.svd(array, compute_uv=False))

    def loss(module, a):
        u, s, vh = module.linalg.svd(a, full_matrices=True)
        return (u[:, :3] * u[:, :3]).sum() * 0.0 + s.sum() + (u[:, :3] @ module.diag(s) @ vh)[0, 0]
    _compare_gradients(torch, loss, [(5, 3)], rtol=1e-6, atol=1e-8)
    _compare_gradients(torch, lambda m, a: m.linalg.svdvals(a).pow(2).sum(), [(3, 4)])


@pytest.mark.parametrize("shape,mode", [((5, 3), "reduced"), ((3, 3), "complete"),
                                        ((3, 5), "reduced"), ((2, 4, 3), "reduced")])
def test_qr_values_and_gradients_match_torch(torch, shape, mode):
    array = _random(shape)
    mine = ember.linalg.qr(ember.tensor(array), mode=mode)
    theirs = torch.linalg.qr(torch.tensor(array), mode=mode)
    np.testing.assert_allclose(np.abs(mine.R.numpy()), np.abs(theirs.R.numpy()), atol=1e-12)
    np.testing.assert_allclose((mine.Q @ mine.R).numpy(), array, atol=1e-12)
    weights = _random(tuple(mine.Q.shape), seed=5)
    weights_r = _random(tuple(mine.R.shape), seed=6)

    def loss(module, a):
        q, r = module.linalg.qr(a, mode=mode)
        # Q's and R's signs are fixed together by Householder: Q R and sign-free terms.
        return ((q @ r) * module.tensor(_random(shape, 9))).sum() + \
            ((q * q) * module.tensor(weights)).sum() + ((r * r) * module.tensor(weights_r)).sum()
    _compare_gradients(torch, loss, [shape], rtol=1e-6, atol=1e-8)


def test_qr_errors_match_torch(torch):
    for module in (ember, torch):
        with pytest.raises(RuntimeError, match="mode='r'"):
            module.linalg.qr(_leaf(module, _random((3, 3))), mode="r").R.sum().backward()
        with pytest.raises(RuntimeError, match="nrows > ncols"):
            module.linalg.qr(_leaf(module, _random((4, 2))), mode="complete").Q.sum().backward()
        with pytest.raises(RuntimeError, match="unrecognized mode 'x'"):
            module.linalg.qr(module.ones(3, 3), mode="x")
        with pytest.raises(RuntimeError, match="at least 2 dimensions"):
            module.linalg.qr(module.ones(3))
        with pytest.raises(RuntimeError, match="Expected a floating point"):
            module.linalg.svd(module.ones(3, 3, dtype=module.int64))


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (3, 3), (2, 3, 4)])
def test_pinv_matches_torch(torch, shape):
    array = _random(shape)
    np.testing.assert_allclose(ember.linalg.pinv(ember.tensor(array)).numpy(),
                               torch.linalg.pinv(torch.tensor(array)).numpy(), atol=1e-12)
    _compare_gradients(torch, lambda m, a: (m.linalg.pinv(a) ** 2).sum(), [shape], rtol=1e-6)
    symmetric = array[..., :3, :3] + np.swapaxes(array[..., :3, :3], -1, -2)
    np.testing.assert_allclose(
        ember.linalg.pinv(ember.tensor(symmetric), hermitian=True).numpy(),
        torch.linalg.pinv(torch.tensor(symmetric), hermitian=True).numpy(), atol=1e-10)
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_allclose(ember.pinverse(ember.tensor(singular)).numpy(),
                               torch.pinverse(torch.tensor(singular)).numpy(), atol=1e-12)


def test_matrix_rank_and_cond_match_torch(torch):
    low_rank = _random((5, 2)) @ _random((2, 4), 1)
    cases = [low_rank, _random((3, 3)), np.stack([low_rank, _random((5, 4), 2)])]
    for array in cases:
        assert ember.linalg.matrix_rank(ember.tensor(array)).tolist() == \
            torch.linalg.matrix_rank(torch.tensor(array)).tolist()
        assert ember.linalg.matrix_rank(ember.tensor(array), atol=1.0, rtol=0.0).tolist() == \
            torch.linalg.matrix_rank(torch.tensor(array), atol=1.0, rtol=0.0).tolist()
    square = _random((4, 4))
    for p in [None, 2, -2, 1, -1, math.inf, -math.inf, "fro", "nuc"]:
        np.testing.assert_allclose(ember.linalg.cond(ember.tensor(square), p).numpy(),
                                   torch.linalg.cond(torch.tensor(square), p).numpy(),
                                   rtol=1e-10)


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf])
def test_matrix_norms_match_torch(torch, ord):
    array = _random((2, 4, 3))
    for dim, keepdim in [((-2, -1), False), ((0, 2), True), ((2, 1), False)]:
        mine = ember.linalg.matrix_norm(ember.tensor(array), ord, dim, keepdim)
        theirs = torch.linalg.matrix_norm(torch.tensor(array), ord, dim, keepdim)
        assert tuple(mine.shape) == tuple(theirs.shape)
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ember.linalg.norm(ember.tensor(array[0]), ord).numpy(),
                               torch.linalg.norm(torch.tensor(array[0]), ord).numpy(),
                               rtol=1e-12)
    _compare_gradients(torch, lambda m, a: m.linalg.matrix_norm(a, ord).sum(), [(3, 4)],
                       rtol=1e-6, second=ord in ("fro", "nuc"))


@pytest.mark.parametrize("upper,left,unitriangular", [(True, True, False), (False, True, True),
                                                      (True, False, False),
                                                      (False, False, True)])
def test_solve_triangular_matches_torch(torch, upper, left, unitriangular):
    a = _random((3, 3)) + 3 * np.eye(3)
    b_shape = (3, 2) if left else (2, 3)

    def solve(module, a_leaf, b_leaf):
        x = module.linalg.solve_triangular(a_leaf, b_leaf, upper=upper, left=left,
                                           unitriangular=unitriangular)
        return (x * x).sum() + x.sum()
    arrays = [a, _random(b_shape, 3)]
    results = []
    for module in (ember, torch):
        leaves = [_leaf(module, array) for array in arrays]
        value = solve(module, *leaves)
        grads = module.autograd.grad(value, leaves, create_graph=True)
        second = module.autograd.grad(sum((g * g).sum() for g in grads), leaves)
        results.append([value.detach().numpy()] + [g.detach().numpy() for g in grads + second])
    for mine, theirs in zip(*results):
        np.testing.assert_allclose(mine, theirs, rtol=1e-8, atol=1e-10)
    with pytest.raises(TypeError):
        ember.linalg.solve_triangular(ember.ones(3, 3), ember.ones(3, 2))
    with pytest.raises(RuntimeError, match="Incompatible shapes"):
        ember.linalg.solve_triangular(ember.ones(3, 3), ember.ones(2, 2), upper=True)


def _factor(module, a, upper):
    """The Cholesky factor of a positive definite matrix built from ``a``."""
    spd = a @ a.mT + 0.5 * module.eye(a.shape[-1], dtype=a.dtype)
    return module.linalg.cholesky(spd, upper=upper)


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("shapes", [[(3, 3), (3, 2)], [(3, 3), (2, 3, 4)], [(2, 3, 3), (3, 1)]])
def test_cholesky_solve_and_inverse_match_torch_to_second_order(torch, upper, shapes):
    _compare_gradients(torch, lambda module, a, b: (
        module.cholesky_solve(b.tanh(), _factor(module, a, upper), upper=upper).exp().sum()
        + _factor(module, a, upper).cholesky_inverse(upper).pow(2).sum()), shapes)


@pytest.mark.parametrize("bad", ["vector_b", "vector_factor", "dtypes", "sizes", "inverse_1d"])
def test_cholesky_solve_and_inverse_errors_match_torch(torch, bad):
    def call(module):
        eye = module.eye(3, dtype=module.float64)
        ones = module.ones(3, 2, dtype=module.float64)
        return {"vector_b": lambda: module.cholesky_solve(ones[:, 0], eye),
                "vector_factor": lambda: module.cholesky_solve(ones, eye[0]),
                "dtypes": lambda: module.cholesky_solve(ones.float(), eye),
                "sizes": lambda: module.cholesky_solve(ones[:2], eye),
                "inverse_1d": lambda: module.cholesky_inverse(eye[0])}[bad]
    assert_raises_like_torch(call(torch), call(ember), same_type=True)


def test_matrix_exp_matches_torch(torch):
    for array in [_random((3, 3)), 5 * _random((2, 4, 4), 1), np.zeros((2, 2)),
                  _random((3, 3), 2).astype("float32")]:
        np.testing.assert_allclose(ember.linalg.matrix_exp(ember.tensor(array)).numpy(),
                                   torch.linalg.matrix_exp(torch.tensor(array)).numpy(),
                                   rtol=1e-5 if array.dtype == np.float32 else 1e-11,
                                   atol=1e-6 if array.dtype == np.float32 else 1e-12)
    _compare_gradients(torch, lambda m, a: (m.linalg.matrix_exp(a) ** 2).sum(), [(3, 3)],
                       rtol=1e-8)
    with pytest.raises(RuntimeError, match="square"):
        ember.linalg.matrix_exp(ember.ones(3, 2))


@pytest.mark.parametrize("shape, scale", [((3, 3), 0.5), ((2, 4, 4), 2.0), ((5, 5), 6.0)])
def test_complex_matrix_exp_and_its_gradient_match_torch(torch, shape, scale):
    """exp of complex matrices (unitary from skew-Hermitian ones) with PyTorch's values and its
    gradient convention for a real loss; first and second derivatives checked in complex128."""
    rng = np.random.default_rng(0)
    array = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * scale / shape[-1]
    weights = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    results = []
    for library in (torch, ember):
        x = library.tensor(array, requires_grad=True)
        value = library.linalg.matrix_exp(x)
        (value * library.tensor(weights)).real.sum().backward()
        single = library.linalg.matrix_exp(library.tensor(array.astype(np.complex64)))
        results.append((value.detach().numpy(), x.grad.numpy(), single.numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(results[1][2], results[0][2], rtol=1e-5, atol=1e-5)
    assert results[1][2].dtype == np.complex64
    x = ember.tensor(array, requires_grad=True)
    assert gradcheck(ember.linalg.matrix_exp, (x,))
    assert gradgradcheck(ember.linalg.matrix_exp, (x,))
    skew = array - array.conj().swapaxes(-1, -2)
    unitary = ember.linalg.matrix_exp(ember.tensor(skew)).numpy()
    np.testing.assert_allclose(unitary @ unitary.conj().swapaxes(-1, -2),
                               np.broadcast_to(np.eye(shape[-1]), shape), atol=1e-12)


def test_lstsq_matches_torch(torch):
    a, b = _random((6, 3)), _random((6, 2), 1)
    mine = ember.linalg.lstsq(ember.tensor(a), ember.tensor(b))
    theirs = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b))
    np.testing.assert_allclose(mine.solution.numpy(), theirs.solution.numpy(), rtol=1e-10)
    assert mine.rank.item() == theirs.rank.item()
    assert tuple(mine.residuals.shape) == tuple(theirs.residuals.shape)
    _compare_gradients(torch, lambda m, x, y: m.linalg.lstsq(x, y).solution.pow(2).sum(),
                       [(6, 3), (6, 2)], rtol=1e-7)


@pytest.mark.parametrize("driver", ["gels", "gelsy", "gelsd", "gelss"])
def test_lstsq_reports_what_each_driver_reports_like_torch(torch, driver):
    # rank (not gels), singular values (gelsd, gelss), squared residuals of a tall A (not
    # gelsy; gelsd and gelss only when every matrix has full rank); a vector b keeps one column
    tall, wide, b = _random((2, 6, 3)), _random((2, 2, 6), 1), _random((2, 6, 2), 2)
    deficient = tall.copy()
    deficient[1, :, 2] = deficient[1, :, 1]
    cases = [(tall, b), (tall[0], b[0]), (wide, b[:, :2]), (tall[0], b[0, :, 0])]
    if driver != "gels":
        cases.append((deficient, b))
    for a, rhs in cases:
        mine = ember.linalg.lstsq(ember.tensor(a), ember.tensor(rhs), driver=driver)
        theirs = torch.linalg.lstsq(torch.tensor(a), torch.tensor(rhs), driver=driver)
        for name in ("solution", "residuals", "rank", "singular_values"):
            got, want = getattr(mine, name), getattr(theirs, name)
            assert tuple(got.shape) == tuple(want.shape), name
            assert dtype_name(got.dtype) == dtype_name(want.dtype), name
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-8, atol=1e-10,
                                       err_msg=name)
    with pytest.raises(RuntimeError, match="input.dim\\(\\) must be greater or equal"):
        ember.linalg.lstsq(ember.ones(6, 3), ember.ones(2, 6, 2))


def test_lstsq_residuals_are_the_squared_residual_norms():
    a = ember.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=ember.float64,
                     requires_grad=True)
    b = ember.tensor([[1.0], [1.0], [0.0]], dtype=ember.float64)
    result = ember.linalg.lstsq(a, b, driver="gelsd")
    # x = (1/3, 1/3): residual (2/3, 2/3, -2/3), squared norm 4/3
    np.testing.assert_allclose(result.residuals.detach().numpy(), [4 / 3], rtol=1e-12)
    result.residuals.sum().backward()
    assert a.grad is not None and a.grad.shape == (3, 2)


def test_vander_tensorinv_tensorsolve_and_ex_forms_match_torch(torch):
    x = _random((2, 4))
    for n in (None, 3):
        np.testing.assert_allclose(ember.linalg.vander(ember.tensor(x), N=n).numpy(),
                                   torch.linalg.vander(torch.tensor(x), N=n).numpy())
    a = _random((4, 6, 8, 3))
    np.testing.assert_allclose(ember.linalg.tensorinv(ember.tensor(a), ind=2).numpy(),
                               torch.linalg.tensorinv(torch.tensor(a), ind=2).numpy(),
                               rtol=1e-9, atol=1e-9)
    a, b = _random((2, 3, 6)), _random((2, 3), 1)
    np.testing.assert_allclose(ember.linalg.tensorsolve(ember.tensor(a), ember.tensor(b)).numpy(),
                               torch.linalg.tensorsolve(torch.tensor(a), torch.tensor(b)).numpy(),
                               rtol=1e-9)
    good = _random((3, 3)) @ _random((3, 3)).T + np.eye(3)
    bad = np.diag([1.0, -1.0, 2.0])
    for matrix in (good, bad):
        for name in ("cholesky_ex", "inv_ex"):
            mine = getattr(ember.linalg, name)(ember.tensor(matrix))
            theirs = getattr(torch.linalg, name)(torch.tensor(matrix))
            if name == "cholesky_ex" or matrix is good:
                assert mine[1].item() == theirs[1].item(), name
            if theirs[1].item() == 0:
                np.testing.assert_allclose(mine[0].numpy(), theirs[0].numpy(), rtol=1e-10)


def test_gradgradcheck_of_the_decompositions():
    a = ember.tensor(_random((4, 3)), requires_grad=True)
    square = ember.tensor(_random((3, 3), 1) + 3 * np.eye(3), requires_grad=True)
    functions = [
        (lambda t: ember.linalg.svdvals(t), (a,)),
        (lambda t: ember.linalg.pinv(t), (a,)),
        (lambda t: tuple(ember.linalg.qr(t)), (a,)),
        (lambda t: ember.linalg.matrix_exp(t * 0.3), (square,)),
        (lambda t: ember.linalg.solve_triangular(t, t.T, upper=False), (square,)),
    ]
    for function, inputs in functions:
        assert gradcheck(function, inputs)
        assert gradgradcheck(function, inputs)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_solve_and_inverse_match_torch_with_gradients(torch, upper):
    rng = np.random.default_rng(0)
    matrices = rng.standard_normal((2, 4, 4))
    spd = matrices @ matrices.transpose(0, 2, 1) + 4 * np.eye(4)
    rhs = rng.standard_normal((2, 4, 3))
    results = []
    for library in (ember, torch):
        a = library.tensor(spd, requires_grad=True)
        b = library.tensor(rhs, requires_grad=True)
        factor = library.linalg.cholesky(a, upper=upper)
        solution = library.cholesky_solve(b, factor, upper=upper)
        inverse = factor[0].cholesky_inverse(upper=upper)
        (solution.pow(2).sum() + inverse.sum()).backward()
        results.append((solution.detach().numpy(), inverse.detach().numpy(), a.grad.numpy(),
                        b.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    for arguments in ((np.zeros(3), np.eye(3)), (np.zeros((3, 1)), np.zeros(3))):
        assert_raises_like_torch(
            lambda: torch.cholesky_solve(*[torch.tensor(a) for a in arguments]),
            lambda: ember.cholesky_solve(*[ember.tensor(a) for a in arguments]), RuntimeError)


@pytest.mark.parametrize("shape", [(5, 3), (4, 4), (2, 6, 2), (3, 0)])
def test_geqrf_and_householder_product_match_torch(torch, shape):
    array = _random(shape, 11)
    ours = ember.geqrf(ember.tensor(array))
    theirs = torch.geqrf(torch.tensor(array))
    assert type(ours).__name__ == "GeqrfResult"
    for mine, their in zip(ours, theirs):
        np.testing.assert_allclose(mine.numpy(), their.numpy(), rtol=1e-12, atol=1e-12)
    for count in range(shape[-1] + 1):
        np.testing.assert_allclose(
            ember.linalg.householder_product(ours.a, ours.tau[..., :count]).numpy(),
            torch.linalg.householder_product(theirs.a, theirs.tau[..., :count]).numpy(),
            rtol=1e-12, atol=1e-12)
    if shape[-1]:  # orgqr is householder_product; float32 stays float32
        single = [tensor.float() for tensor in ours]
        result = ember.orgqr(*single)
        assert result.dtype == ember.float32
        np.testing.assert_allclose(result.numpy(), torch.orgqr(*[tensor.float() for tensor in
                                                                 theirs]).numpy(), atol=1e-5)


def test_householder_product_gradients_match_torch_and_gradcheck(torch):
    def product(module, A, tau):
        return (module.linalg.householder_product(A, tau) ** 3).sum()
    _compare_gradients(torch, product, [(5, 3), (2,)])
    assert gradcheck(ember.linalg.householder_product,
                     (_leaf(ember, _random((2, 4, 3), 1)), _leaf(ember, _random((2, 3), 2))))


def test_geqrf_has_no_derivative_and_householder_product_errors_match_torch(torch):
    def backward_through_geqrf(module):
        module.geqrf(module.ones(3, 2, dtype=module.float64, requires_grad=True)).a.sum() \
            .backward()
    assert_raises_like_torch(lambda: backward_through_geqrf(torch),
                             lambda: backward_through_geqrf(ember), NotImplementedError)
    for A, tau in [((3, 4), (2,)), ((4, 3), (4,)), ((4,), (1,)), ((4, 3), (2, 3))]:
        assert_raises_like_torch(
            lambda: torch.linalg.householder_product(torch.ones(A), torch.ones(tau)),
            lambda: ember.linalg.householder_product(ember.ones(A), ember.ones(tau)),
            RuntimeError)
    assert_raises_like_torch(
        lambda: torch.linalg.householder_product(torch.ones(4, 3),
                                                 torch.ones(3, dtype=torch.float64)),
        lambda: ember.linalg.householder_product(ember.ones(4, 3),
                                                 ember.ones(3, dtype=ember.float64)),
        RuntimeError)


@pytest.mark.parametrize("shape", [(12, 5), (4, 9)])
def test_pca_and_svd_lowrank_draw_torchs_test_matrix(torch, shape):
    data = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
    for name, arguments in (("pca_lowrank", dict(q=3, niter=3)),
                            ("svd_lowrank", dict(q=3, niter=1)),
                            ("pca_lowrank", dict(center=False))):
        torch.manual_seed(0)
        expected = getattr(torch, name)(torch.tensor(data), **arguments)
        ember.manual_seed(0)
        got = getattr(ember, name)(ember.tensor(data), **arguments)
        # the signs of singular vectors are LAPACK's choice (PyTorch's and NumPy's differ on
        # wide matrices), so the factors are compared up to sign
        for ember_part, torch_part in zip(got, expected):
            np.testing.assert_allclose(np.abs(ember_part.numpy()), np.abs(torch_part.numpy()),
                                       rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(((got[0] * got[1]) @ got[2].mT).numpy(),
                                   ((expected[0] * expected[1]) @ expected[2].mT).numpy(),
                                   rtol=1e-4, atol=1e-5)


def test_pca_lowrank_of_a_low_rank_matrix_is_its_svd():
    ember.manual_seed(0)
    factors = ember.randn(20, 2, dtype=ember.float64) @ ember.randn(2, 6, dtype=ember.float64)
    U, S, V = ember.pca_lowrank(factors, q=2)
    centered = factors - factors.mean(0, keepdim=True)
    np.testing.assert_allclose(S.numpy(), ember.linalg.svdvals(centered)[:2].numpy(),
                               rtol=1e-10)
    np.testing.assert_allclose((U * S) @ V.mT, centered.numpy(), atol=1e-10)
    with pytest.raises(ValueError, match=r"q\(=7\) must be non-negative integer and not "
                                         r"greater than min\(m, n\)=6"):
        ember.pca_lowrank(factors, q=7)


@pytest.mark.parametrize("call", [
    "fw.linalg.svdvals(x)", "fw.linalg.matrix_norm(x, 2)", "fw.linalg.matrix_norm(x, 'nuc')",
    "fw.linalg.matrix_norm(x, -2)", "fw.linalg.matrix_norm(x)", "fw.linalg.matrix_norm(x, 1)",
    "fw.linalg.matrix_norm(x, float('inf'), keepdim=True)", "fw.linalg.norm(x, 2, dim=(-2, -1))"])
@pytest.mark.parametrize("shape", [(3, 4), (2, 5, 3)])
def test_complex_singular_values_and_matrix_norms_match_torch(torch, call, shape):
    """Singular values (real) of complex matrices and the norms built on them, with PyTorch's
    gradient U diag(gS) V^H; complex64 kept single."""
    rng = np.random.default_rng(2)
    array = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    results = []
    for library in (torch, ember):
        x = library.tensor(array, requires_grad=True)
        value = eval(call, {"fw": library, "x": x})
        weights = library.linspace(0.5, 1.5, value.numel(), dtype=library.float64)
        (value * weights.reshape(value.shape)).sum().backward()
        single = eval(call, {"fw": library, "x": library.tensor(array.astype(np.complex64))})
        results.append((value.detach().numpy(), x.grad.numpy(), single.numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(results[1][2], results[0][2], rtol=1e-5)
    assert results[1][2].dtype == results[0][2].dtype
    x = ember.tensor(array, requires_grad=True)
    assert gradcheck(lambda a: eval(call, {"fw": ember, "x": a}), (x,))


_COMPLEX_CALLS = {
    "eigvals": "fw.linalg.eigvals(x)",
    "eigenvector_moduli": "fw.linalg.eig(x)[1].abs() ** 2",
    "cholesky_solve": "fw.cholesky_solve(b, fw.linalg.cholesky(x @ x.mH + eye))",
    "cholesky_solve_upper": "fw.cholesky_solve(b, fw.linalg.cholesky(x @ x.mH + eye).mH, "
                            "upper=True)",
    "cholesky_inverse": "fw.cholesky_inverse(fw.linalg.cholesky(x @ x.mH + eye))",
    "pinv": "fw.linalg.pinv(x)",
    "pinv_hermitian": "fw.linalg.pinv(x @ x.mH + eye, hermitian=True)",
    "cond": "fw.linalg.cond(x)",
    "householder_product": "fw.linalg.householder_product(x, tau)",
}


@pytest.mark.parametrize("name", sorted(_COMPLEX_CALLS))
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
def test_complex_decompositions_and_solves_match_torch(torch, name, shape):
    """Complex input to eig, cholesky_solve/inverse, pinv, cond and householder_product: values
    and gradients of a real loss equal torch's, and ember's complex gradcheck passes."""
    rng = np.random.default_rng(5)
    def complex_array(shape):
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    array, right, reflector_scales = complex_array(shape), complex_array(shape[:-1] + (2,)), \
        complex_array(shape[:-1])

    def namespace(library, x):
        return {"fw": library, "x": x, "b": library.tensor(right),
                "tau": library.tensor(reflector_scales),
                "eye": library.eye(shape[-1], dtype=library.complex128)}
    results = []
    for library in (torch, ember):
        x = library.tensor(array, requires_grad=True)
        value = eval(_COMPLEX_CALLS[name], namespace(library, x))
        loss = value.real.sum() + (value.imag * 2).sum() if value.is_complex() else value.sum()
        loss.backward()
        results.append((value.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-9, atol=1e-11)
    assert results[1][0].dtype == results[0][0].dtype
    x = ember.tensor(array, requires_grad=True)
    assert gradcheck(lambda a: eval(_COMPLEX_CALLS[name], namespace(ember, a)), (x,))


@pytest.mark.parametrize("hermitian", [False, True])
def test_complex_matrix_rank_matches_torch(torch, hermitian):
    rng = np.random.default_rng(6)
    factor = rng.standard_normal((2, 4, 2)) + 1j * rng.standard_normal((2, 4, 2))
    array = factor @ np.conj(np.swapaxes(factor, -1, -2))  # rank 2, Hermitian
    ours = ember.linalg.matrix_rank(ember.tensor(array), hermitian=hermitian)
    theirs = torch.linalg.matrix_rank(torch.tensor(array), hermitian=hermitian)
    assert ours.tolist() == theirs.tolist() == [2, 2] and ours.dtype == ember.int64


@pytest.mark.parametrize("p", [None, -2, 1, -1, "fro", "nuc", math.inf])
def test_complex_cond_matches_torch(torch, p):
    """Values only: torch's own backward of cond(A, p) for complex A fails for p through inv."""
    rng = np.random.default_rng(7)
    array = rng.standard_normal((2, 3, 3)) + 1j * rng.standard_normal((2, 3, 3))
    ours = ember.linalg.cond(ember.tensor(array), p)
    theirs = torch.linalg.cond(torch.tensor(array), p)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10)
    assert ours.dtype == ember.float64
