"""Matrix decompositions and what is built on them: SVD, QR, the pseudo-inverse, triangular
solves, the matrix exponential, least squares, matrix norms, rank and condition numbers.

Every differentiable result has its backward written once against ``ctx.xp`` (so create_graph
works); the formulas are PyTorch's (FunctionsManual.cpp: svd_backward, linalg_qr_backward,
pinv_backward, linalg_solve_triangular's and matrix_exp's), cited at each op."""
import math

import numpy as np

from .._dtype import is_floating, real_dtype, scalar_type_name
from ..autograd.function import Op
from ..tensor import Tensor, warn_once
from ._broadcast import unbroadcast
from ._return_types import _return_type
from ..autograd.grad_mode import no_grad
from .elementwise.complex import conj_of
from .elementwise.extrema import maximum
from .linalg import _check_square, _lu_arrays, eigvalsh, inverse, matmul
from . import reduce as _reduce
from .reduce import amax, amin, sum as reduce_sum, vector_norm
from .shape import cat, require_tensor, tril

__all__ = ["cholesky_inverse", "cholesky_solve", "cond", "geqrf", "householder_product",
           "lstsq", "lu", "lu_factor", "lu_factor_ex", "lu_legacy", "lu_solve", "lu_solve_legacy", "lu_unpack", "matrix_exp",
           "matrix_norm", "matrix_rank", "ormqr", "pinv", "pinverse", "qr", "qr_legacy", "solve_triangular",
           "svd", "svd_legacy", "svdvals", "triangular_solve", "vander"]

SVDResult = _return_type("linalg_svd", "(U, S, Vh), like torch.return_types.linalg_svd.", "U",
                         "S", "Vh")
QRResult = _return_type("linalg_qr", "(Q, R), like torch.return_types.linalg_qr.", "Q", "R")
QRLegacyResult = _return_type("qr", "(Q, R), like torch.return_types.qr.", "Q", "R")
LstsqResult = _return_type("linalg_lstsq", "(solution, residuals, rank, singular_values), like "
                           "torch.return_types.linalg_lstsq.", "solution", "residuals", "rank",
                           "singular_values")


# matrix_rank's and lstsq's refusal of other dtypes than float32/64 (and complex)
_FLOAT_AND_DOUBLE_ONLY = "This function doesn't handle types other than float and double"


def _check_matrices(input, operation, complex_ok=False, kernel=None, argument="A", driver=None):
    """PyTorch's checks of a decomposition's input: a floating tensor of at least 2 dims
    (complex ones only where ``complex_ok``); float16 and bfloat16 refused as PyTorch's CPU
    ``kernel`` refuses them, where one is named (or with ``_FLOAT_AND_DOUBLE_ONLY``); svd's
    ``driver``, a cuSOLVER option, refused on the CPU."""
    require_tensor(input, operation.removeprefix("torch.").replace(".", "_"), argument)
    data = input._data
    if data.ndim < 2:
        raise RuntimeError(f"{operation}: The input tensor {argument} must have at least 2 "
                           f"dimensions.")
    if driver is not None:
        raise RuntimeError("torch.linalg.svd: keyword argument `driver=` is only supported on "
                           "CUDA inputs with cuSOLVER backend.")
    if data.dtype.kind == "c" and not complex_ok:
        raise NotImplementedError(f"{operation}: ember does not support complex matrices")
    if kernel is _FLOAT_AND_DOUBLE_ONLY and data.dtype.kind != "c" and \
            data.dtype not in (np.float32, np.float64):
        raise RuntimeError(_FLOAT_AND_DOUBLE_ONLY)
    if not is_floating(data.dtype) and data.dtype.kind != "c":
        raise RuntimeError(f"{operation}: Expected a floating point or complex tensor as input. "
                           f"Got {input.dtype._scalar_type}")
    if kernel is not None and data.dtype.kind != "c" and data.dtype.itemsize == 2:
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{input.dtype._scalar_type}'")


def _identity(size, dtype):
    return np.eye(size, dtype=dtype)


class SVD(Op):
    """A = U diag(S) Vh. Backward (PyTorch's svd_backward, real case): with skew(X) = X - X^T
    and E_jk = S_k^2 - S_j^2, gA = U [(skew(U^T gU) S + S skew(V^T gV)) / E + diag(gS)] Vh plus
    the projections of gU and gV onto the complements of U's and V's columns."""

    _torch_name = "LinalgSvdBackward0"
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
    """The gradient of A from those of U, S and Vh (any of them may be None); for complex
    matrices with conjugate transposes, and the imaginary diagonal of U^H gU - gU^H U over 2 S
    added, as PyTorch's svd_backward."""
    rows, columns = u.shape[-2], vh.shape[-1]
    rank = s.shape[-1]
    if u.shape[-1] != rank or vh.shape[-2] != rank:
        # full_matrices=True: only the first k columns of U and rows of Vh depend on A.
        u, vh = u[..., :rank], vh[..., :rank, :]
        grad_u = None if grad_u is None else grad_u[..., :rank]
        grad_vh = None if grad_vh is None else grad_vh[..., :rank, :]
    identity = _identity(rank, real_dtype(dtype))
    if grad_u is None and grad_vh is None:
        if grad_s is None:
            return None
        return (u * xp.expand_dims(grad_s, -2)) @ vh
    complex_input = dtype.kind == "c"
    v, grad_v = _adjoint(vh), None if grad_vh is None else _adjoint(grad_vh)
    squares = s * s
    gaps = xp.expand_dims(squares, -2) - xp.expand_dims(squares, -1) + identity
    inner = None
    if grad_u is not None:
        projected_u = _adjoint(u) @ grad_u
        skew_u = projected_u - _adjoint(projected_u)
        inner = skew_u * xp.expand_dims(s, -2) / gaps
        if complex_input:
            # skew_u's diagonal is imaginary (a phase of each singular pair), 0 for real A
            inner = inner + xp.expand_dims(xp.diagonal(skew_u, 0, -2, -1) / (2 * s), -2) * \
                identity
    if grad_v is not None:
        projected_v = _adjoint(v) @ grad_v
        skew_v = projected_v - _adjoint(projected_v)
        term = xp.expand_dims(s, -1) * skew_v / gaps
        inner = term if inner is None else inner + term
    if grad_s is not None:
        inner = inner + xp.expand_dims(grad_s, -2) * identity
    if rows > rank and grad_u is not None:
        scaled = grad_u / xp.expand_dims(s, -2)
        middle = u @ inner + scaled - u @ (_adjoint(u) @ scaled)
        return middle @ vh
    if columns > rank and grad_v is not None:
        scaled = grad_vh / xp.expand_dims(s, -1)
        middle = inner @ vh + scaled - (scaled @ v) @ vh
        return u @ middle
    return u @ inner @ vh


def _adjoint(matrix):
    """The conjugate transpose (the transpose of a real matrix)."""
    return conj_of(matrix).mT


def svd(A, full_matrices=True, *, driver=None):
    """torch.linalg.svd: (U, S, Vh) with S descending."""
    _check_matrices(A, "linalg.svd", kernel="linalg_svd_cpu", driver=driver)
    u, s, vh = SVD.apply(A, bool(full_matrices))
    return SVDResult((u, s, vh))


SVDLegacyResult = _return_type("svd", "(U, S, V), like torch.return_types.svd.",
                               "U", "S", "V")


def svd_legacy(input, some=True, compute_uv=True):
    """torch.svd (and Tensor.svd): (U, S, V) with V = Vh^T; U and V are zeros (of the full
    sizes) when compute_uv is False."""
    _check_matrices(input, "linalg.svd", kernel="linalg_svd_cpu")
    if not compute_uv:
        values = svdvals(input)
        shape = input._data.shape
        zeros_u = Tensor._result(np.zeros(shape[:-1] + (shape[-2],), dtype=input._data.dtype))
        zeros_v = Tensor._result(np.zeros(shape[:-2] + (shape[-1],) * 2, dtype=input._data.dtype))
        return SVDLegacyResult((zeros_u, values, zeros_v))
    u, s, vh = SVD.apply(input, not some)
    return SVDLegacyResult((u, s, vh.mT))


def svdvals(A, *, driver=None):
    """The singular values, descending (real for complex A): their gradient U diag(gS) V^H
    needs no phase convention, so complex matrices are taken here, unlike linalg.svd."""
    _check_matrices(A, "linalg.svd", complex_ok=True, kernel="linalg_svd_cpu", driver=driver)
    return SVD.apply(A, False)[1]


class QR(Op):
    """A = Q R by Householder reflections (LAPACK geqrf/orgqr, as PyTorch). Backward (PyTorch's
    linalg_qr_backward): for m >= n, gA = [gQ + Q copyltu(M)] R^-T with M = R gR^T - gQ^T Q;
    for m < n, A = [X | Y] is split and X = Q U handled as square."""

    _torch_name = "LinalgQrBackward0"
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
    _check_matrices(A, "linalg.qr", kernel="geqrf_cpu")
    if mode not in _QR_MODES:
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    q, r = QR.apply(A, mode)
    return QRResult((q, r))


def qr_legacy(input, some=True):
    """torch.qr (and Tensor.qr): the reduced QR, or the complete one when some is False."""
    warn_once("torch.qr is deprecated in favor of torch.linalg.qr and will be removed in a future "
              "PyTorch release.\nThe boolean parameter 'some' has been replaced with a string "
              "parameter 'mode'.\nQ, R = torch.qr(A, some)\nshould be replaced with\nQ, R = "
              "torch.linalg.qr(A, 'reduced' if some else 'complete')")
    return QRLegacyResult(qr(input, "reduced" if some else "complete"))


GeqrfResult = _return_type("GeqrfResult", "(a, tau), like torch.return_types.geqrf.", "a", "tau")


class Geqrf(Op):
    """LAPACK's geqrf: R on and above the diagonal, the Householder vectors below it, and their
    scales ``tau``. PyTorch has no derivative for it."""

    @staticmethod
    def forward(ctx, x):
        reflectors, tau = np.linalg.qr(x, mode="raw")  # reflectors in LAPACK's column order
        return np.ascontiguousarray(np.swapaxes(reflectors, -1, -2)), tau

    @staticmethod
    def backward(ctx, grad_a, grad_tau):
        raise NotImplementedError("the derivative for 'geqrf' is not implemented.")


def geqrf(input):
    """torch.geqrf: the QR decomposition in LAPACK's compact form (a, tau), for
    ``linalg.householder_product``; not differentiable."""
    _check_matrices(input, "geqrf")
    return GeqrfResult(Geqrf.apply(input))


def householder_product(A, tau):
    """torch.linalg.householder_product: the first n columns of H_1 ... H_k, where
    H_i = I - tau_i v_i v_i^H and v_i is column i of ``A`` below the diagonal with a 1 on it
    (a composite of matrix products, one per reflector, so it is differentiable in both)."""
    operation = "torch.linalg.householder_product"
    require_tensor(A, "linalg_householder_product", "input")
    require_tensor(tau, "linalg_householder_product", "tau", position=2)
    if A._data.ndim < 2:
        raise RuntimeError(f"{operation}: input must have at least 2 dimensions.")
    rows, columns = A._data.shape[-2:]
    if rows < columns:
        raise RuntimeError(f"{operation}: input.shape[-2] must be greater than or equal to "
                           f"input.shape[-1]")
    if tau._data.ndim != A._data.ndim - 1:
        raise RuntimeError(f"{operation}: Expected tau to have one dimension less than input, "
                           f"but got tau.ndim equal to {tau._data.ndim} and input.ndim is equal "
                           f"to {A._data.ndim}")
    count = tau._data.shape[-1]
    if columns < count:
        raise RuntimeError(f"{operation}: input.shape[-1] must be greater than or equal to "
                           f"tau.shape[-1]")
    if tau._data.dtype != A._data.dtype:
        raise RuntimeError(f"{operation}: tau dtype {scalar_type_name(tau._data.dtype)} does "
                           f"not match input dtype {scalar_type_name(A._data.dtype)}")
    if tau._data.shape[:-1] != A._data.shape[:-2]:
        raise RuntimeError(f"{operation}: Expected batch dimensions of tau to be equal to "
                           f"input.shape[:-2], but got {list(tau._data.shape[:-1])}")
    identity = Tensor._wrap(np.eye(rows, columns, dtype=A._data.dtype))
    vectors = tril(A, -1) + identity
    result = identity.expand(*A._data.shape)
    # Applied right to left, so each reflector acts on an m x n block: H_i Q = Q - tau v (v^T Q).
    for index in reversed(range(count)):
        vector = vectors[..., :, index:index + 1]
        scale = tau[..., index:index + 1].unsqueeze(-1)
        result = result - (scale * vector) @ (conj_of(vector).mT @ result)
    return result


class Pinv(Op):
    """The Moore-Penrose pseudo-inverse from the SVD, singular values at or below
    max(atol, rtol * S_max) dropped. Backward: PyTorch's pinv_backward (Golub and Pereyra's
    derivative of a constant-rank pseudo-inverse)."""

    _torch_name = "LinalgPinvBackward0"
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, atol, rtol, hermitian):
        if hermitian:
            values, vectors = np.linalg.eigh(x)
            magnitudes = np.abs(values)
            cutoff = _cutoff(magnitudes.max(axis=-1, initial=0.0), atol, rtol)
            kept = magnitudes > cutoff[..., None]
            inverse_values = np.where(kept, 1 / np.where(kept, values, 1), 0).astype(x.dtype)
            out = (vectors * inverse_values[..., None, :]) @ conj_of(vectors).mT
        else:
            u, s, vh = np.linalg.svd(x, full_matrices=False)
            cutoff = _cutoff(s[..., 0] if s.shape[-1] else np.zeros(s.shape[:-1], s.dtype),
                             atol, rtol)
            kept = s > cutoff[..., None]
            inverse_s = np.where(kept, 1 / np.where(kept, s, 1), 0).astype(x.dtype)
            out = (conj_of(vh).mT * inverse_s[..., None, :]) @ conj_of(u).mT
        ctx.save_for_backward(x, out)
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        a, pinv_a = ctx.saved_tensors
        rows, columns = a.shape[-2:]
        pinv_t, grad_t = conj_of(pinv_a).mT, conj_of(grad).mT  # conjugate transposes
        if rows <= columns:
            k = grad_t @ pinv_a
            k_pinv_t = k @ pinv_t
            result = -conj_of(pinv_a @ k).mT + k_pinv_t - (a @ pinv_a) @ k_pinv_t + \
                (pinv_t @ pinv_a) @ (grad_t - k @ a)
        else:
            k = pinv_a @ grad_t
            pinv_t_k = pinv_t @ k
            result = -conj_of(k @ pinv_a).mT + (grad_t - a @ k) @ pinv_a @ pinv_t + pinv_t_k - \
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


# The dtypes PyTorch's LAPACK-backed CPU kernels take (not float16, bfloat16, integers, bool).
_LAPACK_DTYPES = tuple(np.dtype(name)
                       for name in ("float32", "float64", "complex64", "complex128"))


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """torch.linalg.pinv."""
    if not isinstance(A, Tensor) or A._data.ndim < 2 or A._data.dtype not in _LAPACK_DTYPES:
        shape = list(A._data.shape) if isinstance(A, Tensor) else type(A).__name__
        kind = A.dtype._scalar_type if isinstance(A, Tensor) else ""
        raise RuntimeError(f"linalg.pinv({kind}{{{shape}}}): expected a tensor with 2 or more "
                           f"dimensions of float, double, cfloat or cdouble types")
    if hermitian and A._data.shape[-1] != A._data.shape[-2]:  # PyTorch's pinv goes through eigh
        raise RuntimeError(f"linalg.eigh: A must be batches of square matrices, but they are "
                           f"{A._data.shape[-2]} by {A._data.shape[-1]} matrices")
    atol_value, rtol_value = _tolerances(A, atol, rtol)
    return Pinv.apply(A, atol_value, rtol_value, bool(hermitian))


def pinverse(input, rcond=1e-15):
    """torch.pinverse (and Tensor.pinverse): pinv with singular values at or below
    rcond * S_max dropped."""
    return pinv(input, rtol=rcond)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """The number of singular values above max(atol, rtol * S_max), as int64."""
    _check_matrices(A, "torch.linalg.matrix_rank", complex_ok=True,
                    kernel=_FLOAT_AND_DOUBLE_ONLY, argument="input")
    atol_value, rtol_value = _tolerances(A, atol, rtol)
    # through the ops (no graph), so that it batches under ember.func.vmap
    with no_grad():
        values = eigvalsh(A).abs() if hermitian else svdvals(A)
        dtype = values._data.dtype
        if values.shape[-1] == 0:
            return Tensor._result(np.zeros(tuple(values.shape[:-1]), np.int64))
        largest = amax(values, -1)
        cutoff = maximum(Tensor._wrap(np.asarray(atol_value, dtype=dtype)),
                         largest * Tensor._wrap(np.asarray(rtol_value, dtype=dtype)))
        return reduce_sum(values > cutoff.unsqueeze(-1), -1)


class SolveTriangular(Op):
    """X with A X = B (left) or X A = B, A triangular. Backward (PyTorch): gB = A^-T gX (the
    transposed triangle), gA = -gB X^T restricted to A's triangle (its diagonal dropped when
    unitriangular)."""

    _torch_name = "LinalgSolveTriangularBackward0"
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
    require_tensor(A, "linalg_solve_triangular", "A")
    if A._data.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor A must have at least 2 "
                           "dimensions.")
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


class MatrixExp(Op):
    """exp(A) by scaling and squaring of a degree-18 Taylor polynomial in float64 (complex128
    for complex A; accurate to rounding for the norms met in practice). Backward:
    exp([[A^H, G], [0, A^H]])'s upper-right block (Najfeld and Havel), itself a matrix
    exponential, so it is differentiable again."""

    _torch_name = "LinalgMatrixExpBackward0"
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
        transposed = conj_of(x).mT
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
    ||x / 2^s||_1 <= 0.5, then s squarings; computed in float64 (complex128), returned in x's
    dtype."""
    work = x.astype(np.complex128 if x.dtype.kind == "c" else np.float64)
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
    sums) and inf/-inf (row sums), composed of differentiable ops; complex A too."""
    if isinstance(ord, str) and ord not in ("fro", "nuc"):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    _check_matrices(A, "linalg.matrix_norm", complex_ok=True)
    if dtype is not None:
        if not (is_floating(dtype.numpy) or dtype.numpy.kind == "c"):
            raise RuntimeError(f"linalg.matrix_norm: dtype should be floating point or complex, "
                               f"but got {scalar_type_name(dtype.numpy)}")
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
    require_tensor(A, "linalg_cond", "A")
    data = A._data
    # PyTorch's checks: the rank (the matrix norms' own check for 'fro' and 'nuc'), then the
    # singular values' or, for the other orders, squareness under "linalg.cond(ord=p)" and
    # the inverse's (the nuclear norm's: the SVD's) dtype checks
    if data.ndim < 2 and not isinstance(p, str):
        raise RuntimeError("linalg.cond: The input tensor must have at least 2 dimensions.")
    if p in (None, 2, -2):
        values = svdvals(A)
        if values._data.shape[-1] == 0:  # empty matrices: PyTorch's zeros
            return Tensor._result(np.zeros(values._data.shape[:-1], values._data.dtype))
        largest, smallest = amax(values, -1), amin(values, -1)
        return largest / smallest if p != -2 else smallest / largest
    if data.ndim < 2:
        raise RuntimeError(f"linalg.cond(ord={p}): The input tensor A must have at least 2 "
                           f"dimensions.")
    if data.shape[-1] != data.shape[-2]:
        raise RuntimeError(f"linalg.cond(ord={p}): A must be batches of square matrices, but "
                           f"they are {data.shape[-2]} by {data.shape[-1]} matrices")
    if p not in ("fro", "nuc", 1, -1, math.inf, -math.inf):
        shown = int(p) if isinstance(p, float) and p.is_integer() else p
        raise RuntimeError(f"linalg.cond got an invalid norm type: {shown}")
    if p == "nuc":
        _check_matrices(A, "linalg.svd", complex_ok=True, kernel="linalg_svd_cpu")
    inverted = inverse(A)
    return matrix_norm(A, p) * matrix_norm(inverted, p)


def lstsq(A, B, rcond=None, *, driver=None):
    """torch.linalg.lstsq (CPU drivers, default 'gelsy'): the minimum-norm solution (through the
    pseudo-inverse, so differentiable), and what the driver reports as PyTorch does: the rank
    (not for 'gels'), the singular values ('gelsd', 'gelss'), the squared residuals of each
    column when A is tall ('gels'; 'gelsd' and 'gelss' only when every matrix has full rank)."""
    _check_matrices(A, "linalg.lstsq", kernel=_FLOAT_AND_DOUBLE_ONLY)
    require_tensor(B, "linalg_lstsq", "B", 2)
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(f"torch.linalg.lstsq: Expected input and other to have the same "
                           f"dtype, but got input's dtype {A.dtype._scalar_type} and other's "
                           f"dtype {B.dtype._scalar_type}")
    if driver is None:
        driver = "gelsy"
    if driver not in ("gelsy", "gels", "gelsd", "gelss"):
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, "
                           "gelsy, gelsd, gelss)")
    if not 0 <= A._data.ndim - B._data.ndim <= 1:
        raise RuntimeError("torch.linalg.lstsq: input.dim() must be greater or equal to "
                           "other.dim() and (input.dim() - other.dim()) <= 1")
    vector = B._data.ndim == A._data.ndim - 1
    columns = B.unsqueeze(-1) if vector else B
    if columns._data.shape[-2] != A._data.shape[-2]:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    rows, cols = A._data.shape[-2:]
    rtol = float(np.finfo(A._data.dtype).eps) * max(rows, cols) if rcond is None else rcond
    solution = matmul(pinv(A, rtol=rtol), columns)
    real = real_dtype(A._data.dtype)
    empty = Tensor._result(np.zeros((0,), dtype=real))
    if driver == "gels":
        rank = Tensor._result(np.zeros((0,), dtype=np.int64))
    else:
        rank = matrix_rank(A, rtol=rtol)
    singular_values = svdvals(A.detach()) if driver in ("gelsd", "gelss") else empty
    residuals = empty
    if rows > cols and driver != "gelsy" and (
            driver == "gels" or bool((rank._data == cols).all())):
        residuals = reduce_sum((matmul(A, solution) - columns) ** 2, -2)
    if vector:
        solution = solution.squeeze(-1)  # (the residuals keep their one column, as PyTorch's)
    return LstsqResult((solution, residuals, rank, singular_values))


def vander(x, *, N=None):
    """torch.linalg.vander: columns x^0, x^1, ..., x^(N-1) (N defaults to x's last size)."""
    require_tensor(x, "linalg_vander", "x")
    if x._data.ndim < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension")
    dtype = x._data.dtype
    if dtype.kind not in "iuc" and dtype not in _LAPACK_DTYPES:  # bool, float16, bfloat16
        raise RuntimeError(f"linalg.vander supports floating point, complex, and integer tensors, "
                           f"but got {x.dtype._scalar_type}")
    count = x._data.shape[-1] if N is None else N
    if count < 0:
        raise RuntimeError("N must be non-negative.")
    powers = Tensor._result(np.arange(count, dtype=np.int64))
    return x.unsqueeze(-1) ** powers


# ---- Cholesky solves, LU and triangular_solve --------------------------------------------------
def _check_solve_pair(b, A, operation):
    """The shared checks of cholesky_solve and triangular_solve (PyTorch's words)."""
    prefix = "torch.triangular_solve: " if operation == "triangular_solve" else ""
    names = ("A", "b") if operation == "triangular_solve" else ("u", "b")
    require_tensor(b, operation, "input", 1)
    require_tensor(A, operation, names[0] if operation != "triangular_solve" else "A", 2)
    for value, name in ((A, names[0]), (b, "b")):
        if value._data.ndim < 2:
            if prefix:
                raise RuntimeError(f"{prefix}Expected {name} to have at least 2 dimensions, but "
                                   f"it has {value._data.ndim} dimensions instead")
            raise RuntimeError(f"{name} should have at least 2 dimensions, but has "
                               f"{value._data.ndim} dimensions instead")
    if b._data.dtype != A._data.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{b.dtype._scalar_type} and A of type {A.dtype._scalar_type} "
                           f"instead.")
    rows, columns = A._data.shape[-2:]
    if rows != columns:
        raise RuntimeError(f"A must be batches of square matrices, but they are {rows} by "
                           f"{columns} matrices")
    if b._data.shape[-2] != rows:
        raise RuntimeError(f"Incompatible matrix sizes for {operation}: each A matrix is {rows} "
                           f"by {columns} but each b matrix is {b._data.shape[-2]} by "
                           f"{b._data.shape[-1]}")
    if not is_floating(A._data.dtype) and A._data.dtype.kind != "c":
        raise NotImplementedError(f'"{operation}_out_cpu" not implemented for '
                                  f"'{A.dtype._scalar_type}'")


def _solve_with_factor(xp, factor, b, upper):
    """X with A X = b, A = U^H U (``upper``) or L L^H, by two solves with the factor."""
    lower = conj_of(factor).mT if upper else factor
    lower = xp.tril(lower)
    return xp.linalg.solve(conj_of(lower).mT, xp.linalg.solve(lower, b))


class CholeskySolve(Op):
    """X with A X = B, A = L L^H (or U^H U). Backward (PyTorch's cholesky_solve_backward):
    gB = A^-1 gX and gL = -(S + S^H) L (S = gB X^H), its full matrix, not only the triangle."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, b, factor, upper):
        shape = np.broadcast_shapes(b.shape[:-2], factor.shape[:-2])
        b_full = np.broadcast_to(b, shape + b.shape[-2:])
        factor_full = np.broadcast_to(factor, shape + factor.shape[-2:])
        out = _solve_with_factor(np, factor_full, b_full, upper)
        ctx.layout = (upper, b.shape, factor.shape)
        ctx.save_for_backward(factor, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        factor, out = ctx.saved_tensors
        upper, b_shape, factor_shape = ctx.layout
        xp = ctx.xp
        grad_b = _solve_with_factor(xp, factor, grad, upper)
        grad_factor = None
        if ctx.needs_input_grad[1]:
            common = grad_b @ conj_of(out).mT
            common = common + conj_of(common).mT
            grad_factor = -(factor @ common) if upper else -(common @ factor)
            grad_factor = unbroadcast(grad_factor, factor_shape)
        grad_b = unbroadcast(grad_b, b_shape) if ctx.needs_input_grad[0] else None
        return grad_b, grad_factor, None


def cholesky_solve(input, input2, upper=False):
    """X with A X = ``input``, given A's Cholesky factor ``input2`` (lower, or upper)."""
    _check_solve_pair(input, input2, "cholesky_solve")
    return CholeskySolve.apply(input, input2, bool(upper))


def cholesky_inverse(input, upper=False):
    """A^-1 from A's Cholesky factor (lower, or upper): cholesky_solve of the identity, whose
    gradient is PyTorch's cholesky_inverse_backward."""
    require_tensor(input, "cholesky_inverse")
    data = input._data
    if data.ndim < 2:
        raise RuntimeError("cholesky_inverse: The input tensor A must have at least 2 "
                           "dimensions.")
    if data.shape[-1] != data.shape[-2]:
        raise RuntimeError(f"cholesky_inverse: A must be batches of square matrices, but they "
                           f"are {data.shape[-2]} by {data.shape[-1]} matrices")
    if not is_floating(data.dtype) and data.dtype.kind != "c":
        raise NotImplementedError(f"\"cholesky_inverse_out_cpu\" not implemented for "
                                  f"'{input.dtype._scalar_type}'")
    identity = Tensor._wrap(np.broadcast_to(_identity(data.shape[-1], data.dtype), data.shape))
    return CholeskySolve.apply(identity, input, bool(upper))


TriangularSolveResult = _return_type("triangular_solve", "(solution, cloned_coefficient), "
                                     "like torch.return_types.triangular_solve.", "solution",
                                     "cloned_coefficient")


def triangular_solve(input, A, upper=True, transpose=False, unitriangular=False):
    """PyTorch's legacy triangular solve: X with op(A) X = ``input`` (op(A) = A or A^T), and a
    copy of A (broadcast to the batch shape, as PyTorch's)."""
    _check_solve_pair(input, A, "triangular_solve")
    coefficient = A.mT if transpose else A
    solution = solve_triangular(coefficient, input, upper=bool(upper) != bool(transpose),
                                unitriangular=unitriangular)
    batch = np.broadcast_shapes(input._data.shape[:-2], A._data.shape[:-2])
    return TriangularSolveResult((solution, A.expand(batch + A._data.shape[-2:]).clone()))


LUFactorResult = _return_type("linalg_lu_factor", "(LU, pivots), like "
                              "torch.return_types.linalg_lu_factor.", "LU", "pivots")
LUFactorExResult = _return_type("linalg_lu_factor_ex", "(LU, pivots, info), like "
                                "torch.return_types.linalg_lu_factor_ex.", "LU", "pivots", "info")
LUResult = _return_type("linalg_lu", "(P, L, U), like torch.return_types.linalg_lu.", "P", "L",
                        "U")
LUUnpackResult = _return_type("lu_unpack", "(P, L, U), like torch.return_types.lu_unpack.", "P",
                              "L", "U")


def _permutation(pivots, rows, dtype):
    """P (with A = P L U) from LAPACK's 1-based row swaps, for a batch of pivot vectors."""
    batch = pivots.shape[:-1]
    flat = pivots.reshape((math.prod(batch), pivots.shape[-1])).astype(np.int64) - 1
    order = np.broadcast_to(np.arange(rows), (flat.shape[0], rows)).copy()
    every = np.arange(flat.shape[0])
    for step in range(flat.shape[1]):
        target = flat[:, step]
        kept = order[every, step].copy()
        order[every, step] = order[every, target]
        order[every, target] = kept
    # Row i of P^T A is row order[i] of A, so P^T = I[order] and P is its transpose.
    transposed = np.eye(rows, dtype=dtype)[order]
    return np.swapaxes(transposed, -1, -2).reshape(batch + (rows, rows))


class LUFactor(Op):
    """The packed LU factorization with partial pivoting (LAPACK's getrf) and its pivots.
    Backward (PyTorch's linalg_lu_backward), with gL, gU the strictly lower and upper parts of
    gLU: square A, gA = P L^-T (tril(L^T gL, -1) + triu(gU U^T)) U^-T; wide A = P L [U1 U2],
    the first block so with -gU2 U2^T added inside tril, the second P L^-T gU2; tall
    A = P [L1; L2] U, the first block with -L2^T gL2 inside triu, the second P gL2 U^-T."""

    _torch_name = "LinalgLuFactorExBackward0"
    differentiable_backward = True

    @staticmethod
    def forward(ctx, a):
        lu, pivots, info = _lu_arrays(a)
        ctx.permutation = _permutation(pivots, a.shape[-2], a.dtype)
        ctx.save_for_backward(lu)
        ctx.mark_non_differentiable(pivots, info)
        return lu, pivots, info

    @staticmethod
    def backward(ctx, grad, grad_pivots, grad_info):
        (lu,) = ctx.saved_tensors
        xp = ctx.xp
        rows, columns = lu.shape[-2:]
        size = min(rows, columns)
        identity = _identity(size, ctx.permutation.dtype)
        square_lu, square_grad = lu[..., :size, :size], grad[..., :size, :size]
        lower = xp.tril(square_lu, -1) + identity
        upper = xp.triu(square_lu)
        strict_lower = lower.mT @ xp.tril(square_grad, -1)
        upper_part = xp.triu(square_grad) @ upper.mT
        if rows < columns:
            strict_lower = strict_lower - grad[..., :, size:] @ lu[..., :, size:].mT
        elif rows > columns:
            upper_part = upper_part - lu[..., size:, :].mT @ grad[..., size:, :]
        phi = xp.tril(strict_lower, -1) + xp.triu(upper_part)
        first = xp.linalg.solve(upper, xp.linalg.solve(lower.mT, phi).mT).mT
        if rows < columns:
            first = xp.concat([first, xp.linalg.solve(lower.mT, grad[..., :, size:])], axis=-1)
        elif rows > columns:
            first = xp.concat([first, xp.linalg.solve(upper, grad[..., size:, :].mT).mT],
                              axis=-2)
        return xp.asarray(ctx.permutation) @ first


def _check_lu_input(A, operation, pivot=True):
    require_tensor(A, operation.replace(".", "_"), "A")
    if A._data.ndim < 2:
        raise RuntimeError(f"{operation}: Expected tensor with 2 or more dimensions. Got size: "
                           f"{list(A._data.shape)} instead")
    if not is_floating(A._data.dtype) or A._data.dtype.itemsize == 2:
        raise NotImplementedError(f"\"lu_cpu\" not implemented for '{A.dtype._scalar_type}'")
    if not pivot:
        name = operation.replace("torch.linalg.", "linalg.").replace("torch.", "linalg.")
        raise RuntimeError(f"{name}: LU without pivoting is not implemented on the CPU")


def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """(LU, pivots, info): A = P L U packed as LAPACK's getrf packs it; info > 0 names the first
    zero pivot (1-based)."""
    _check_lu_input(A, "torch.linalg.lu_factor_ex", pivot)
    lu, pivots, info = LUFactor.apply(A)
    if check_errors and (info._data > 0).any():
        raise RuntimeError(f"torch.linalg.lu_factor_ex: U[{int(info._data.max())},"
                           f"{int(info._data.max())}] is zero and using it on lu_solve would "
                           f"result in a division by zero.")
    return LUFactorExResult((lu, pivots, info))


def lu_factor(A, *, pivot=True):
    """(LU, pivots) of linalg.lu_factor_ex; a zero pivot is a RuntimeError."""
    _check_lu_input(A, "torch.lu_factor", pivot)
    lu, pivots, info = LUFactor.apply(A)
    _refuse_zero_pivot(info, A._data.ndim == 2)
    return LUFactorResult((lu, pivots))


def _refuse_zero_pivot(info, single):
    """lu_factor's RuntimeError naming the first zero pivot, if there is one."""
    failed = info._data.reshape(-1)
    if (failed > 0).any():
        first = int(failed[failed > 0][0])
        batch = "" if single else \
            f"(Batch element {int(np.flatnonzero(failed > 0)[0])}): "
        raise RuntimeError(f"torch.linalg.lu_factor: {batch}U[{first},{first}] is zero and "
                           f"using it on lu_solve would result in a division by zero. If you "
                           f"still want to perform the factorization, consider calling "
                           f"linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """(P, L, U) from a packed LU and its pivots: L unit lower (m x k), U upper (k x n)."""
    require_tensor(LU_data, "lu_unpack", "LU_data", 1)
    require_tensor(LU_pivots, "lu_unpack", "LU_pivots", 2)
    if LU_pivots._data.dtype != np.int32:
        raise RuntimeError("torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of "
                           "torch.int32 dtype.\nNote: this function is intended to be used with "
                           "the output produced by torch.linalg.lu_factor")
    data = LU_data._data
    rows, columns = data.shape[-2:]
    count = min(rows, columns)
    empty = Tensor._wrap(np.zeros(0, data.dtype))
    lower = upper = permutation = empty
    if unpack_data:
        lower = LU_data[..., :, :count].tril(-1) + Tensor._wrap(np.eye(rows, count,
                                                                       dtype=data.dtype))
        upper = LU_data[..., :count, :].triu()
    if unpack_pivots:
        pivots = LU_pivots._data
        if pivots.size and (pivots.min() < 1 or pivots.max() > rows):
            raise RuntimeError("pivots passed to lu_unpack must be between 1 and LU.size(-2) "
                               "inclusive.Did you properly pass the result of lu_factor?")
        permutation = Tensor._wrap(_permutation(pivots, rows, data.dtype))
    return LUUnpackResult((permutation, lower, upper))


def lu(A, *, pivot=True):
    """linalg.lu: (P, L, U) with A = P L U."""
    _check_lu_input(A, "linalg.lu", pivot)
    lu_data, pivots, _ = LUFactor.apply(A)
    return LUResult(lu_unpack(lu_data, pivots))


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """X with A X = B (or A^T X = B with ``adjoint``; X A = B when not ``left``), A given by
    linalg.lu_factor; triangular solves, so LU's gradient is the unpacked factors'."""
    require_tensor(LU, "linalg_lu_solve", "LU", 1)
    require_tensor(B, "linalg_lu_solve", "B", 3)
    if pivots._data.dtype != np.int32:
        raise RuntimeError("linalg.lu_solve: pivots should be a Tensor of scalar type torch.int32")
    if B._data.ndim < 2:
        raise RuntimeError("linalg.lu_solve: The input tensor B must have at least 2 "
                           "dimensions.")
    rows, columns = LU._data.shape[-2:]
    if rows != columns:
        raise RuntimeError(f"torch.linalg.lu_solve: A must be batches of square matrices, but "
                           f"they are {rows} by {columns} matrices")
    size = B._data.shape[-2] if left else B._data.shape[-1]
    if size != rows:
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({rows}x{columns} and "
                           f"{B._data.shape[-2]}x{B._data.shape[-1]})")
    if not left:
        return lu_solve(LU, pivots, B.mT, adjoint=not adjoint).mT
    permutation, lower, upper = lu_unpack(LU, pivots)
    if adjoint:
        middle = solve_triangular(lower.mT, solve_triangular(upper.mT, B, upper=False),
                                  upper=True, unitriangular=True)
        return matmul(permutation, middle)
    permuted = matmul(permutation.mT, B)
    return solve_triangular(upper, solve_triangular(lower, permuted, upper=False,
                                                    unitriangular=True), upper=True)


LUWithInfo = _return_type("_lu_with_info", "(LU, pivots, info), like "
                          "torch.return_types._lu_with_info.", "LU", "pivots", "info")


def lu_legacy(A, pivot=True, get_infos=False):
    """PyTorch's legacy torch.lu: (LU, pivots), with the infos when ``get_infos``."""
    warn_once("torch.lu is deprecated in favor of torch.linalg.lu_factor / "
              "torch.linalg.lu_factor_ex and will be removed in a future PyTorch release.\nLU, "
              "pivots = torch.lu(A, compute_pivots)\nshould be replaced with\nLU, pivots = "
              "torch.linalg.lu_factor(A, compute_pivots)\nand\nLU, pivots, info = torch.lu(A, "
              "compute_pivots, get_infos=True)\nshould be replaced with\nLU, pivots, info = "
              "torch.linalg.lu_factor_ex(A, compute_pivots)")
    if get_infos:
        return LUWithInfo(lu_factor_ex(A, pivot=pivot))
    return tuple(lu_factor(A, pivot=pivot))


def lu_solve_legacy(b, LU_data, LU_pivots):
    """PyTorch's legacy torch.lu_solve(b, LU_data, LU_pivots)."""
    return lu_solve(LU_data, LU_pivots, b)


# torch.norm(input, 'nuc', dim) is the matrix norm over those dims (registered with the reductions)
_reduce.nuclear_norm_of[0] = lambda input, dims, keepdim: matrix_norm(input, "nuc", dims, keepdim)


# ---- removed in PyTorch 1.9+: callable, raising PyTorch's RuntimeError with its replacement ---
_REMOVED = "This function was deprecated since version 1.9 and is now removed. "


def symeig_removed(input, eigenvectors=False, upper=True, *, out=None):
    """torch.symeig (removed): PyTorch's error pointing at linalg.eigh / eigvalsh."""
    raise RuntimeError(
        _REMOVED + "The default behavior has changed from using the upper triangular portion of "
        "the matrix by default to using the lower triangular portion.\n\nL, _ = "
        "torch.symeig(A, upper=upper) should be replaced with:\nL = torch.linalg.eigvalsh(A, "
        "UPLO='U' if upper else 'L')\n\nand\n\nL, V = torch.symeig(A, eigenvectors=True) should "
        "be replaced with:\nL, V = torch.linalg.eigh(A, UPLO='U' if upper else 'L')")


def eig_removed(input, eigenvectors=False, *, e=None, v=None):
    """torch.eig (removed): PyTorch's error pointing at linalg.eig / eigvals."""
    raise RuntimeError(
        _REMOVED + "`torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` "
        "rather than real tensors mimicking complex tensors.\n\nL, _ = torch.eig(A) should be "
        "replaced with:\nL_complex = torch.linalg.eigvals(A)\n\nand\n\nL, V = torch.eig(A, "
        "eigenvectors=True) should be replaced with:\nL_complex, V_complex = torch.linalg.eig(A)")


def solve_removed(input, A, *, out=None):
    """torch.solve (removed): PyTorch's error pointing at linalg.solve."""
    raise RuntimeError(
        _REMOVED + "`torch.solve` is deprecated in favor of `torch.linalg.solve`. "
        "`torch.linalg.solve` has its arguments reversed and does not return the LU "
        "factorization.\n\nTo get the LU factorization see `torch.lu`, which can be used with "
        "`torch.lu_solve` or `torch.lu_unpack`.\nX = torch.solve(B, A).solution should be "
        "replaced with:\nX = torch.linalg.solve(A, B)")


def lstsq_removed(input, A, *, out=None):
    """torch.lstsq (removed): PyTorch's error pointing at linalg.lstsq."""
    raise RuntimeError(
        _REMOVED + "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n"
        "`torch.linalg.lstsq` has reversed arguments and does not return the QR decomposition in "
        "the returned tuple (although it returns other information about the problem).\n\nTo "
        "get the QR decomposition consider using `torch.linalg.qr`.\n\nThe returned solution in "
        "`torch.lstsq` stored the residuals of the solution in the last m - n columns of the "
        "returned value whenever m > n. In torch.linalg.lstsq, the residuals are in the field "
        "'residuals' of the returned named tuple.\n\nThe unpacking of the solution, as in\nX, _ "
        "= torch.lstsq(B, A).solution[:A.size(1)]\nshould be replaced with:\nX = "
        "torch.linalg.lstsq(A, B).solution")


def matrix_rank_removed(input, tol=None, symmetric=False, *, out=None):
    """torch.matrix_rank (removed): PyTorch's error pointing at linalg.matrix_rank."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed.\nPlease use the "
        "`torch.linalg.matrix_rank` function instead. The parameter 'symmetric' was renamed in "
        "`torch.linalg.matrix_rank()` to 'hermitian'.")


def ormqr(input, tau, other, left=True, transpose=False):
    """op(Q) @ other (``left``) or other @ op(Q), Q the square product of the Householder
    reflectors (``input``, ``tau``) that geqrf gives and op a transpose where asked: Q is made
    whole by householder_product with identity reflectors (tau 0) after the given ones, so the
    result is differentiable in all three."""
    require_tensor(input, "ormqr", "input")
    require_tensor(tau, "ormqr", "tau")
    require_tensor(other, "ormqr", "other")
    rows = input.shape[-2]
    reflectors = _padded(input[..., :, :min(input.shape[-1], rows)], rows)
    scales = _padded(tau[..., :rows], rows)
    Q = householder_product(reflectors, scales)
    if transpose:
        Q = Q.mT
    return matmul(Q, other) if left else matmul(other, Q)


def _padded(tensor, length):
    """``tensor`` with zeros appended along its last dim up to ``length``."""
    missing = length - tensor.shape[-1]
    if not missing:
        return tensor
    zeros = Tensor._wrap(np.zeros(tuple(tensor.shape[:-1]) + (missing,), tensor._data.dtype))
    return cat([tensor, zeros], -1)
