"""torch.svd_lowrank and torch.pca_lowrank: randomized SVD (Halko, Martinsson and Tropp 2009,
Algorithms 4.4 and 5.1) built on randn, QR and SVD, drawing PyTorch's Gaussian test matrix from
the default generator so a seeded program gets PyTorch's factors."""
from . import _dtype, _factories, linalg
from .ops import matmul, mean

__all__ = ["pca_lowrank", "svd_lowrank"]


def _floating_dtype(A):
    """The dtype of the test matrix: A's own when floating (bfloat16 excepted, as in PyTorch),
    float32 otherwise."""
    if A.dtype in (_dtype.float16, _dtype.float32, _dtype.float64):
        return A.dtype
    return _dtype.float32


def _approximate_basis(A, q, niter, M):
    """Q with orthonormal columns such that Q Q^H (A - M) approximates A - M (niter subspace
    iterations)."""
    dtype = A.dtype if A.is_complex() else _floating_dtype(A)
    test_matrix = _factories.randn(A.shape[-1], q, dtype=dtype)
    X = matmul(A, test_matrix)
    if M is not None:
        X = X - matmul(M, test_matrix)
    Q = linalg.qr(X).Q
    for _ in range(niter):
        X = matmul(A.mH, Q)
        if M is not None:
            X = X - matmul(M.mH, Q)
        Q = linalg.qr(X).Q
        X = matmul(A, Q)
        if M is not None:
            X = X - matmul(M, Q)
        Q = linalg.qr(X).Q
    return Q


def svd_lowrank(A, q=6, niter=2, M=None):
    """(U, S, V) with A - M ~= U diag(S) V^H, of rank ``q``, by randomized subspace iteration."""
    q = 6 if q is None else q
    niter = 2 if niter is None else niter
    rows, columns = A.shape[-2:]
    if M is not None:
        M = M.broadcast_to(A.size())
    if rows < columns:
        A = A.mH
        if M is not None:
            M = M.mH
    Q = _approximate_basis(A, q, niter, M)
    B = matmul(Q.mH, A)
    if M is not None:
        B = B - matmul(Q.mH, M)
    U, S, Vh = linalg.svd(B, full_matrices=False)
    V = Vh.mH
    U = Q.matmul(U)
    if rows < columns:
        U, V = V, U
    return U, S, V


def pca_lowrank(A, q=None, center=True, niter=2):
    """svd_lowrank of A less its column means (``center``): V's columns are the principal
    directions, S ** 2 / (m - 1) the variances along them."""
    rows, columns = A.shape[-2:]
    if q is None:
        q = min(6, rows, columns)
    elif not 0 <= q <= min(rows, columns):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than "
                         f"min(m, n)={min(rows, columns)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return svd_lowrank(A, q, niter=niter)
    return svd_lowrank(A - mean(A, dim=(-2,), keepdim=True), q, niter=niter)
