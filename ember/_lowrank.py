"""torch.svd_lowrank and torch.pca_lowrank: randomized SVD (Halko, Martinsson and Tropp 2009,
Algorithms 4.4 and 5.1) built on randn, QR and SVD, drawing PyTorch's Gaussian test matrix from
the default generator so a seeded program gets PyTorch's factors."""
from . import _dtype, _factories, linalg
from .autograd.function import _BackwardOutput
from .autograd.grad_mode import is_grad_enabled, no_grad
from .ops import matmul, mean

__all__ = ["lobpcg", "pca_lowrank", "svd_lowrank"]


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


def lobpcg(A, k=None, B=None, X=None, n=None, iK=None, niter=None, tol=None, largest=None,
           method=None, tracker=None, ortho_iparams=None, ortho_fparams=None,
           ortho_bparams=None):
    """The ``k`` largest (or smallest) eigenpairs of the symmetric problem A x = lambda B x, as
    torch.lobpcg converges to them: computed here by a dense symmetric eigendecomposition
    (through B's Cholesky factor), so the result is exact and differentiable; the
    iteration's options (X's start, iK, niter, tol, method, tracker) change nothing but the
    count. Eigenvector signs are the decomposition's."""
    rows = A.shape[-1]
    if A.shape[-2] != rows:
        raise AssertionError(f"A must be square, got shape {A.shape}")
    if k is None:
        k = 1 if X is None else X.shape[-1]
    requested = max(k, X.shape[-1] if X is not None else (n or k))
    if rows < 3 * requested:
        raise ValueError(f"LOBPCG algorithm is not applicable when the number of A rows "
                         f"(={rows}) is smaller than 3 x the number of requested eigenpairs "
                         f"(={requested})")
    if B is None:
        values, vectors = linalg.eigh(A)
    else:
        with no_grad():
            factor = linalg.cholesky(B)
            whitened = linalg.solve_triangular(factor, A, upper=False)
            whitened = linalg.solve_triangular(factor, whitened.mT, upper=False).mT
            values, vectors = linalg.eigh(whitened)
            vectors = linalg.solve_triangular(factor.mT, vectors, upper=True)
        edges = tuple((tensor.grad_fn, tensor._output_nr) if tensor.grad_fn is not None
                      else (tensor, 0) for tensor in (A, B) if tensor.requires_grad)
        if edges and is_grad_enabled():
            # PyTorch's lobpcg has no backward for a generalized problem
            error = (ValueError, "lobpcg.backward does not support backward with B != I yet.")
            values, vectors = (_BackwardOutput.link(result, edges, "LOBPCGAutogradFunction",
                                                    error) for result in (values, vectors))
    if largest is None or largest:
        return values[..., -k:].flip(-1), vectors[..., -k:].flip(-1)
    return values[..., :k], vectors[..., :k]
