"""Matrix decompositions and what is built on them: SVD, QR, the pseudo-inverse, triangular
solves, the matrix exponential, least squares, matrix norms, rank and condition numbers.

Every differentiable result has its backward written once against ``ctx.xp`` (so create_graph
works); the formulas are PyTorch's (FunctionsManual.cpp: svd_backward, linalg_qr_backward,
pinv_backward, linalg_solve_triangular's and matrix_exp's), cited at each op."""
import math

import numpy as np

from .._dtype import is_floating
from ..autograd.function import Op
from ..tensor import Tensor
from ._broadcast import unbroadcast
from ._return_types import _return_type
from .linalg import _check_square, inverse, matmul
from .reduce import amax, amin, sum as reduce_sum, vector_norm
from .shape import require_tensor

__all__ = ["cholesky_inverse", "cholesky_solve", "cond", "lstsq", "matrix_exp", "matrix_norm", "matrix_rank", "pinv", "pinverse",
           "qr", "qr_legacy", "solve_triangular", "svd", "svd_legacy", "svdvals", "vander"]

SVDResult = _return_type("SVDResult", "(U, S, Vh), like torch.return_types.linalg_svd.", "U",
                         "S", "Vh")
QRResult = _return_type("QRResult", "(Q, R), like torch.return_types.linalg_qr.", "Q", "R")
LstsqResult = _return_type("LstsqResult", "(solution, residuals, rank, singular_values), like "
                           "torch.return_types.linalg_lstsq.", "solution", "residuals", "rank",
                           "singular_values")


def _check_matrices(input, operation):
    """PyTorch's checks of a decomposition's input: a floating tensor of at least 2 dims."""
    require_tensor(input, operation.replace(".", "_"), "A")
    if input._data.ndim < 2:
        raise RuntimeError(f"{operation}: The input tensor A must have at least 2 dimensions.")
    if not is_floating(input._data.dtype):
        raise RuntimeError(f"{operation}: Expected a floating point or complex tensor as input. "
                           f"Got {input.dtype._scalar_type}")


def _identity(size, dtype):
    return np.eye(size, dtype=dtype)


class SVD(Op):
    """A = U diag(S) Vh. Backward (PyTorch's svd_backward, real case): with skew(X) = X - X^T
    and E_jk = S_k^2 - S_j^2, gA = U [(skew(U^T gU) S + S skew(V^T gV)) / E + diag(gS)] Vh plus
    the projections of gU and gV onto the complements of U's and V's columns."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, full_matrices):
        u, s, vh = np.linalg.svd(x, full_matrices=full_matrices)
        ctx.full_matrices = full_matrices
        ctx.dtype = x.dtype
        ctx.save_for_backward(u, s, vh)
        return u, s, vh

    @staticmethod
    def backward(ctx, grad_u, grad_s, grad_vh):
        u, s, vh = ctx.saved_tensors
        return svd_backward(ctx.xp, ctx.dtype, u, s, vh, grad_u, grad_s, grad_vh), None


def svd_backward(xp, dtype, u, s, vh, grad_u, grad_s, grad_vh):
    """The gradient of A from those of U, S and Vh (any of them may be None)."""
    rows, columns = u.shape[-2], vh.shape[-1]
    rank = s.shape[-1]
    if u.shape[-1] != rank or vh.shape[-2] != rank:
        # full_matrices=True: only the first k columns of U and rows of Vh depend on A.
        u, vh = u[..., :rank], vh[..., :rank, :]
        grad_u = None if grad_u is None else grad_u[..., :rank]
        grad_vh = None if grad_vh is None else grad_vh[..., :rank, :]
    identity = _identity(rank, dtype)
    if grad_u is None and grad_vh is None:
        if grad_s is None:
            return None
        return (u * xp.expand_dims(grad_s, -2)) @ vh
    v, grad_v = vh.mT, None if grad_vh is None else grad_vh.mT
    squares = s * s
    gaps = xp.expand_dims(squares, -2) - xp.expand_dims(squares, -1) + identity
    inner = None
    if grad_u is not None:
        projected_u = u.mT @ grad_u
        skew_u = projected_u - projected_u.mT
        inner = skew_u * xp.expand_dims(s, -2) / gaps
    if grad_v is not None:
        projected_v = v.mT @ grad_v
        skew_v = projected_v - projected_v.mT
        term = xp.expand_dims(s, -1) * skew_v / gaps
        inner = term if inner is None else inner + term
    if grad_s is not None:
        inner = inner + xp.expand_dims(grad_s, -2) * identity
    if rows > rank and grad_u is not None:
        scaled = grad_u / xp.expand_dims(s, -2)
        middle = u @ inner + scaled - u @ (u.mT @ scaled)
        return middle @ vh
    if columns > rank and grad_v is not None:
        scaled = grad_vh / xp.expand_dims(s, -1)
        middle = inner @ vh + scaled - (scaled @ v) @ vh
        return u @ middle
    return u @ inner @ vh


def svd(A, full_matrices=True, *, driver=None):
    """torch.linalg.svd: (U, S, Vh) with S descending."""
    _check_matrices(A, "linalg.svd")
    u, s, vh = SVD.apply(A, bool(full_matrices))
    return SVDResult((u, s, vh))


SVDLegacyResult = _return_type("SVDLegacyResult", "(U, S, V), like torch.return_types.svd.",
                               "U", "S", "V")


def svd_legacy(input, some=True, compute_uv=True):
    """torch.svd (and Tensor.svd): (U, S, V) with V = Vh^T; U and V are zeros (of the full
    sizes) when compute_uv is False."""
    _check_matrices(input, "linalg.svd")
    if not compute_uv:
        values = svdvals(input)
        shape = input._data.shape
        zeros_u = Tensor._result(np.zeros(shape[:-1] + (shape[-2],), dtype=input._data.dtype))
        zeros_v = Tensor._result(np.zeros(shape[:-2] + (shape[-1],) * 2, dtype=input._data.dtype))
        return SVDLegacyResult((zeros_u, values, zeros_v))
    u, s, vh = SVD.apply(input, not some)
    return SVDLegacyResult((u, s, vh.mT))


def svdvals(A, *, driver=None):
    _check_matrices(A, "linalg.svdvals")
    return SVD.apply(A, False)[1]


class QR(Op):
    """A = Q R by Householder reflections (LAPACK geqrf/orgqr, as PyTorch). Backward (PyTorch's
    linalg_qr_backward): for m >= n, gA = [gQ + Q copyltu(M)] R^-T with M = R gR^T - gQ^T Q;
    for m < n, A = [X | Y] is split and X = Q U handled as square."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, mode):
        q, r = np.linalg.qr(x, mode="complete" if mode == "complete" else "reduced")
        ctx.mode = mode
        ctx.shape = x.shape
        ctx.dtype = x.dtype
        ctx.save_for_backward(q, r)
        if mode == "r":
            return np.zeros(x.shape[:-2] + (0,), dtype=x.dtype), r
        return q, r

    @staticmethod
    def backward(ctx, grad_q, grad_r):
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you "
                               "are going to differentiate through linalg.qr.")
        rows, columns = ctx.shape[-2:]
        if ctx.mode == "complete" and rows > columns:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' "
                               "and nrows > ncols.")
        q, r = ctx.saved_tensors
        xp = ctx.xp
        if rows >= columns:
            return _qr_backward_tall(xp, ctx.dtype, q, r, grad_q, grad_r), None
        square_r, rest_r = r[..., :rows], r[..., rows:]
        grad_square_r = grad_rest = None
        if grad_r is not None:
            grad_square_r, grad_rest = grad_r[..., :rows], grad_r[..., rows:]
        # Y = Q V: the gradient of Y is Q gV, and V's dependence on Q adds Y gV^T to gQ.
        if grad_rest is not None:
            rest = q @ rest_r
            correction = rest @ grad_rest.mT
            grad_q = correction if grad_q is None else grad_q + correction
        grad_x = _qr_backward_tall(xp, ctx.dtype, q, square_r, grad_q, grad_square_r)
        grad_y = q @ grad_rest if grad_rest is not None else xp.zeros_like(rest_r)
        if grad_x is None:
            grad_x = xp.zeros_like(square_r)
        return xp.concat([grad_x, grad_y], axis=-1), None


def _qr_backward_tall(xp, dtype, q, r, grad_q, grad_r):
    """gA for A = Q R with m >= n (Q m x n, R n x n)."""
    if grad_q is None and grad_r is None:
        return None
    size = r.shape[-1]
    middle = None
    if grad_r is not None:
        middle = r @ grad_r.mT
    if grad_q is not None:
        term = -(grad_q.mT @ q)
        middle = term if middle is None else middle + term
    # copyltu(M): M's strict lower triangle mirrored above the diagonal, the diagonal kept.
    strict_lower = xp.tril(middle, -1)
    symmetric = strict_lower + strict_lower.mT + middle * _identity(size, dtype)
    left = q @ symmetric
    if grad_q is not None:
        left = left + grad_q
    # B R^-T = (R^-1 B^T)^T: a triangular solve, here a general one.
    return xp.linalg.solve(r, left.mT).mT


_QR_MODES = ("reduced", "complete", "r")


def qr(A, mode="reduced"):
    """torch.linalg.qr: (Q, R); mode 'r' leaves Q empty."""
    _check_matrices(A, "linalg.qr")
    if mode not in _QR_MODES:
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    q, r = QR.apply(A, mode)
    return QRResult((q, r))


def qr_legacy(input, some=True):
    """torch.qr (and Tensor.qr): the reduced QR, or the complete one when some is False."""
    return qr(input, "reduced" if some else "complete")


class Pinv(Op):
    """The Moore-Penrose pseudo-inverse from the SVD, singular values at or below
    max(atol, rtol * S_max) dropped. Backward: PyTorch's pinv_backward (Golub and Pereyra's
    derivative of a constant-rank pseudo-inverse)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, atol, rtol, hermitian):
        if hermitian:
            values, vectors = np.linalg.eigh(x)
            magnitudes = np.abs(values)
            cutoff = _cutoff(magnitudes.max(axis=-1, initial=0.0), atol, rtol)
            kept = magnitudes > cutoff[..., None]
            inverse_values = np.where(kept, 1 / np.where(kept, values, 1), 0).astype(x.dtype)
            out = (vectors * inverse_values[..., None, :]) @ vectors.mT
        else:
            u, s, vh = np.linalg.svd(x, full_matrices=False)
            cutoff = _cutoff(s[..., 0] if s.shape[-1] else np.zeros(s.shape[:-1], x.dtype),
                             atol, rtol)
            kept = s > cutoff[..., None]
            inverse_s = np.where(kept, 1 / np.where(kept, s, 1), 0).astype(x.dtype)
            out = (vh.mT * inverse_s[..., None, :]) @ u.mT
        ctx.save_for_backward(x, out)
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        a, pinv_a = ctx.saved_tensors
        rows, columns = a.shape[-2:]
        pinv_t, grad_t = pinv_a.mT, grad.mT
        if rows <= columns:
            k = grad_t @ pinv_a
            k_pinv_t = k @ pinv_t
            result = -(pinv_a @ k).mT + k_pinv_t - (a @ pinv_a) @ k_pinv_t + \
                (pinv_t @ pinv_a) @ (grad_t - k @ a)
        else:
            k = pinv_a @ grad_t
            pinv_t_k = pinv_t @ k
            result = -(k @ pinv_a).mT + (grad_t - a @ k) @ pinv_a @ pinv_t + pinv_t_k - \
                pinv_t_k @ pinv_a @ a
        return result, None, None, None


def _cutoff(largest, atol, rtol):
    """max(atol, rtol * largest), per matrix of the batch."""
    return np.maximum(np.asarray(atol, dtype=largest.dtype), rtol * largest)


def _tolerances(A, atol, rtol):
    """PyTorch's defaults: rtol = eps * max(m, n) when neither is given, else 0 for the one not
    given (tensor tolerances broadcast over the batch)."""
    eps = float(np.finfo(A._data.dtype).eps)
    atol_value = atol._data if isinstance(atol, Tensor) else atol
    rtol_value = rtol._data if isinstance(rtol, Tensor) else rtol
    if rtol_value is None:
        rtol_value = eps * max(A._data.shape[-2:]) if atol_value is None or \
            np.all(np.asarray(atol_value) <= 0) else 0.0
    return (0.0 if atol_value is None else atol_value), rtol_value


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """torch.linalg.pinv."""
    if not isinstance(A, Tensor) or A._data.ndim < 2 or not is_floating(A._data.dtype):
        shape = list(A._data.shape) if isinstance(A, Tensor) else type(A).__name__
        kind = A.dtype._scalar_type if isinstance(A, Tensor) else ""
        raise RuntimeError(f"linalg.pinv({kind}{{{shape}}}): expected a tensor with 2 or more "
                           f"dimensions of float, double, cfloat or cdouble types")
    atol_value, rtol_value = _tolerances(A, atol, rtol)
    return Pinv.apply(A, atol_value, rtol_value, bool(hermitian))


def pinverse(input, rcond=1e-15):
    """torch.pinverse (and Tensor.pinverse): pinv with singular values at or below
    rcond * S_max dropped."""
    return pinv(input, rtol=rcond)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """The number of singular values above max(atol, rtol * S_max), as int64."""
    _check_matrices(A, "linalg.matrix_rank")
    atol_value, rtol_value = _tolerances(A, atol, rtol)
    data = A._data
    values = np.abs(np.linalg.eigvalsh(data)) if hermitian else \
        np.linalg.svd(data, compute_uv=False)
    largest = values.max(axis=-1, initial=0.0)
    counts = (values > _cutoff(largest, atol_value, rtol_value)[..., None]).sum(axis=-1)
    return Tensor._result(np.asarray(counts, dtype=np.int64))


class SolveTriangular(Op):
    """X with A X = B (left) or X A = B, A triangular. Backward (PyTorch): gB = A^-T gX (the
    transposed triangle), gA = -gB X^T restricted to A's triangle (its diagonal dropped when
    unitriangular)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, a, b, upper, left, unitriangular):
        triangle = _triangle(np, a, upper, unitriangular, a.dtype)
        if left:
            out = np.linalg.solve(triangle, b)
        else:
            out = np.linalg.solve(triangle.mT, b.mT).mT
        ctx.options = (upper, left, unitriangular)
        ctx.dtype = a.dtype
        ctx.shapes = (a.shape, b.shape)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        xp = ctx.xp
        upper, left, unitriangular = ctx.options
        triangle = _triangle(xp, a, upper, unitriangular, ctx.dtype)
        if left:
            grad_b = xp.linalg.solve(triangle.mT, grad)
            grad_a = -(grad_b @ out.mT)
        else:
            grad_b = xp.linalg.solve(triangle, grad.mT).mT
            grad_a = -(out.mT @ grad_b)
        grad_a = xp.triu(grad_a, 1 if unitriangular else 0) if upper else \
            xp.tril(grad_a, -1 if unitriangular else 0)
        a_shape, b_shape = ctx.shapes
        return unbroadcast(grad_a, a_shape), unbroadcast(grad_b, b_shape), None, None, None


def _triangle(xp, a, upper, unitriangular, dtype):
    """A's triangle (its diagonal replaced by ones when unitriangular)."""
    if unitriangular:
        strict = xp.triu(a, 1) if upper else xp.tril(a, -1)
        return strict + _identity(a.shape[-1], dtype)
    return xp.triu(a) if upper else xp.tril(a)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """torch.linalg.solve_triangular."""
    _check_matrices(A, "linalg.solve_triangular")
    require_tensor(B, "linalg_solve_triangular", "B", 2)
    if B._data.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 "
                           "dimensions.")
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(f"linalg.solve_triangular: Expected A and B to have the same dtype, "
                           f"but found A of type {A.dtype._scalar_type} and B of type "
                           f"{B.dtype._scalar_type} instead")
    _check_square(A, "linalg.solve_triangular")
    size = A._data.shape[-1]
    if (B._data.shape[-2] if left else B._data.shape[-1]) != size:
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the "
                           f"equation {'AX = B' if left else 'XA = B'} ({size}x{size} and "
                           f"{B._data.shape[-2]}x{B._data.shape[-1]})")
    return SolveTriangular.apply(A, B, bool(upper), bool(left), bool(unitriangular))



def cholesky_solve(B, L, upper=False):
    """torch.cholesky_solve: X with A X = B for A = L L^T (U^T U when ``upper``), by two
    triangular solves (a composite: its gradient is theirs)."""
    require_tensor(B, "cholesky_solve", "input", 1)
    require_tensor(L, "cholesky_solve", "input2", 2)
    for name, matrix in (("b", B), ("u", L)):
        if matrix._data.ndim < 2:
            raise RuntimeError(f"{name} should have at least 2 dimensions, but has "
                               f"{matrix._data.ndim} dimensions instead")
    lower = L.mT if upper else L
    halfway = solve_triangular(lower, B, upper=False)
    return solve_triangular(lower.mT, halfway, upper=True)


def cholesky_inverse(L, upper=False):
    """torch.cholesky_inverse: the inverse of A = L L^T (U^T U when ``upper``)."""
    _check_matrices(L, "cholesky_inverse")
    size = L._data.shape[-1]
    identity = Tensor._wrap(np.broadcast_to(_identity(size, L._data.dtype),
                                            L._data.shape).copy())
    return cholesky_solve(identity, L, upper)

class MatrixExp(Op):
    """exp(A) by scaling and squaring of a degree-18 Taylor polynomial in float64 (accurate to
    rounding for the norms met in practice). Backward: exp([[A^T, G], [0, A^T]])'s upper-right
    block (Najfeld and Havel), itself a matrix exponential, so it is differentiable again."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _expm(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xp = ctx.xp
        size = x.shape[-1]
        transposed = x.mT
        zeros = xp.zeros_like(transposed)
        top = xp.concat([transposed, grad], axis=-1)
        bottom = xp.concat([zeros, transposed], axis=-1)
        block = xp.concat([top, bottom], axis=-2)
        exponential = _matrix_exp_of(xp, block)
        return exponential[..., :size, size:]


def _matrix_exp_of(xp, block):
    """exp of a block inside a backward: arrays directly, recorded Tensors through the op."""
    return _expm(block) if xp is np else MatrixExp.apply(block)


def _expm(x):
    """exp(x) for a batch of square arrays: Taylor to degree 18 after scaling by 2^-s with
    ||x / 2^s||_1 <= 0.5, then s squarings; computed in float64, returned in x's dtype."""
    work = x.astype(np.float64)
    norms = np.abs(work).sum(axis=-2).max(axis=-1, initial=0.0)
    largest = float(np.max(norms, initial=0.0))
    squarings = max(0, math.ceil(math.log2(largest / 0.5))) if largest > 0.5 else 0
    scaled = work / (2.0 ** squarings)
    identity = np.broadcast_to(np.eye(work.shape[-1]), work.shape)
    result = identity.copy()
    term = identity.copy()
    for degree in range(1, 19):
        term = term @ scaled / degree
        result = result + term
    for _ in range(squarings):
        result = result @ result
    return result.astype(x.dtype)


def matrix_exp(A):
    """torch.linalg.matrix_exp."""
    require_tensor(A, "linalg_matrix_exp", "A")
    _check_square(A, "linalg.matrix_exp")
    return MatrixExp.apply(A)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """torch.linalg.matrix_norm: 'fro', 'nuc', 2/-2 (extreme singular values), 1/-1 (column
    sums) and inf/-inf (row sums), composed of differentiable ops."""
    _check_matrices(A, "linalg.matrix_norm")
    if dtype is not None:
        A = A.to(dtype)
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                           f"{' '.join(map(str, dim))}")
    rows, columns = (axis % A._data.ndim for axis in dim)
    if rows == columns:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord == "fro":
        return vector_norm(A, 2, dim, keepdim)
    if ord in ("nuc", 2, -2):
        moved = A.movedim((rows, columns), (-2, -1))
        values = svdvals(moved)
        result = reduce_sum(values, -1) if ord == "nuc" else \
            (amax(values, -1) if ord == 2 else amin(values, -1))
        if keepdim:
            for axis in sorted((rows, columns)):
                result = result.unsqueeze(axis)
        return result
    if ord in (1, -1, math.inf, -math.inf):
        summed_axis, extreme_axis = (rows, columns) if ord in (1, -1) else (columns, rows)
        sums = reduce_sum(A.abs(), summed_axis, keepdim=True)
        extreme = amax if ord > 0 else amin
        result = extreme(sums, extreme_axis, keepdim=True)
        if not keepdim:
            result = result.squeeze((rows, columns))
        return result
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def cond(A, p=None):
    """torch.linalg.cond: S_max / S_min for p in (None, 2, -2 reversed), else
    norm(A, p) * norm(inv(A), p)."""
    _check_matrices(A, "linalg.cond")
    if p in (None, 2, -2):
        values = svdvals(A)
        largest, smallest = amax(values, -1), amin(values, -1)
        return largest / smallest if p != -2 else smallest / largest
    _check_square(A, "linalg.cond")
    return matrix_norm(A, p) * matrix_norm(inverse(A), p)


def lstsq(A, B, rcond=None, *, driver=None):
    """torch.linalg.lstsq with its CPU default driver 'gelsy': the minimum-norm solution
    (through the pseudo-inverse, so differentiable), the rank; residuals and singular values
    empty, as gelsy returns them."""
    _check_matrices(A, "linalg.lstsq")
    require_tensor(B, "linalg_lstsq", "B", 2)
    if driver not in (None, "gelsy", "gels", "gelsd", "gelss"):
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, "
                           "gelsy, gelsd, gelss)")
    vector = B._data.ndim == A._data.ndim - 1
    columns = B.unsqueeze(-1) if vector else B
    if columns._data.shape[-2] != A._data.shape[-2]:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    rtol = float(np.finfo(A._data.dtype).eps) * max(A._data.shape[-2:]) if rcond is None \
        else rcond
    solution = matmul(pinv(A, rtol=rtol), columns)
    if vector:
        solution = solution.squeeze(-1)
    rank = matrix_rank(A, rtol=rtol)
    empty = Tensor._result(np.zeros((0,), dtype=A._data.dtype))
    return LstsqResult((solution, empty, rank, empty))


def vander(x, *, N=None):
    """torch.linalg.vander: columns x^0, x^1, ..., x^(N-1) (N defaults to x's last size)."""
    require_tensor(x, "linalg_vander", "x")
    if x._data.ndim < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension")
    count = x._data.shape[-1] if N is None else N
    if count < 0:
        raise RuntimeError("N must be non-negative.")
    powers = Tensor._result(np.arange(count, dtype=np.int64))
    return x.unsqueeze(-1) ** powers
