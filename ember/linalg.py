"""ember.linalg: torch.linalg over real tensors: norms, inverses and solves, determinants,
Cholesky, eigh, eig (complex results), SVD, QR, pseudo-inverse, triangular solves, least
squares, the matrix exponential, LU, LDL (LAPACK's, through SciPy). (Decompositions of complex
matrices are not provided; inv, det, solve, matrix_exp, eigh, cholesky, svdvals and
matrix_norm take complex ones.)"""
import numpy as np

from ._dtype import is_floating
from .ops import linalg as _ops_linalg
from .ops._return_types import _LinalgSignLogAbsDet, _return_type
from .ops.decompositions import (  # noqa: F401
    cond, householder_product, lstsq, lu, lu_factor, lu_factor_ex, lu_solve, matrix_exp, matrix_norm, matrix_rank,
    pinv, qr, solve_triangular, svd, svdvals, vander)
from .ops.elementwise._operands import recorded_without_derivative
from .ops.elementwise.casting import autocast_op
from .ops.linalg import LinAlgError, matmul  # noqa: F401
from .ops.reduce import vector_norm
from .ops.shape import diagonal as _diagonal, require_tensor
from ._tensor_methods import numpy_names as _numpy_names
from .tensor import Tensor

__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "ldl_factor", "ldl_factor_ex", "ldl_solve", "cond", "cross", "det", "diagonal", "eig", "eigh",
           "eigvals", "eigvalsh", "householder_product",
           "inv", "inv_ex", "lstsq", "lu", "lu_factor", "lu_factor_ex", "lu_solve", "matmul",
           "matrix_exp", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet", "solve", "solve_ex",
           "solve_triangular", "svd", "svdvals", "tensorinv", "tensorsolve", "vander", "vecdot",
           "vector_norm"]


def norm(input, ord=None, dim=None, keepdim=False, *, dtype=None):
    """The 2-norm of all elements (``ord=None``), the Frobenius norm over two dims, or a vector
    norm over one dim."""
    require_tensor(input, "linalg_norm")
    # PyTorch's dispatch: a matrix norm for a string ord, or a numeric one over two dims (given,
    # or those of a 2-D input); else a vector norm
    dims = None if dim is None else [dim] if isinstance(dim, int) else list(dim)
    if dims is not None:
        if len(dims) not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. "
                               f"Got {dims}")
    elif ord is not None and input.ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {input.ndim}D.")
    if ord is None:
        return vector_norm(input, 2, dim, keepdim, dtype=dtype)
    if isinstance(ord, str) or (dims is None and input.ndim == 2) or (dims and len(dims) == 2):
        return matrix_norm(input, ord, (0, 1) if dims is None else tuple(dims), keepdim,
                           dtype=dtype)
    return vector_norm(input, ord, dim, keepdim, dtype=dtype)


def cross(input, other, *, dim=-1):
    return _ops_linalg.cross(input, other, dim)


@autocast_op("vecdot")
def vecdot(x, y, *, dim=-1):
    """The dot products of x's and y's vectors along ``dim``, conjugating x (complex)."""
    if not (is_floating(x._data.dtype) or x._data.dtype.kind == "c"):
        raise RuntimeError(f"linalg.vecdot: Expected a floating point or complex tensor as "
                           f"input. Got {x.dtype._scalar_type}")
    if x._data.dtype != y._data.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x "
                           f"of type {x.dtype._scalar_type} and y of type "
                           f"{y.dtype._scalar_type} instead")
    return (x.conj() * y).sum(dim)


def inv(A):
    return _ops_linalg.inverse(A)


def det(A):
    return _ops_linalg.det(A)


def solve(A, B, *, left=True):
    return _ops_linalg.solve(A, B, left=left)


def matrix_power(A, n):
    return _ops_linalg.matrix_power(A, n)


def multi_dot(tensors):
    return _ops_linalg.multi_dot(tensors)


def slogdet(A):
    return _LinalgSignLogAbsDet(_ops_linalg.slogdet(A))


def cholesky(A, *, upper=False):
    return _ops_linalg.linalg_cholesky(A, upper=upper)


def eigh(A, UPLO="L"):
    return _ops_linalg.eigh(A, UPLO)


def eigvalsh(A, UPLO="L"):
    return _ops_linalg.eigvalsh(A, UPLO)


def eig(A):
    return _ops_linalg.eig(A)


def eigvals(A):
    return _ops_linalg.eigvals(A)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return _diagonal(A, offset, dim1, dim2)


def _info(failed):
    """The int32 ``info`` of the ``*_ex`` functions: 0 where the matrix was fine."""
    return Tensor._result(np.asarray(failed, dtype=np.int32))


_CholeskyEx = _return_type("linalg_cholesky_ex", "(L, info), like "
                           "torch.return_types.linalg_cholesky_ex.", "L", "info")
_InvEx = _return_type("linalg_inv_ex", "(inverse, info), like torch.return_types.linalg_inv_ex.",
                      "inverse", "info")
_SolveEx = _return_type("linalg_solve_ex", "(result, info), like "
                        "torch.return_types.linalg_solve_ex.", "result", "info")


def cholesky_ex(A, *, upper=False, check_errors=False):
    """(L, info): info is 0, or (with check_errors=False) the order of the first leading minor
    that is not positive-definite, L then holding NaN."""
    _ops_linalg._check_square(A, "linalg.cholesky")
    try:
        factor = _ops_linalg.linalg_cholesky(A, upper=upper)
        return _CholeskyEx((factor, _info(np.zeros(A.shape[:-2]))))
    except LinAlgError as error:
        if check_errors:
            raise LinAlgError(str(error).replace("linalg.cholesky:", "linalg.cholesky_ex:",
                                                 1)) from None
    data = A._data
    failed = np.zeros(data.shape[:-2], dtype=np.int32)
    for index in np.ndindex(*data.shape[:-2]):
        for order in range(1, data.shape[-1] + 1):
            if np.any(np.linalg.eigvalsh(data[index][:order, :order]) <= 0):
                failed[index] = order
                break
    nans = Tensor._result(np.full(data.shape, np.nan, dtype=data.dtype))
    return _CholeskyEx((nans, _info(failed)))


def inv_ex(A, *, check_errors=False):
    """(inverse, info): info is getrf's first zero pivot (1-based) of each matrix, 0 for an
    invertible one, whose inverse is computed as usual; a singular one's inverse is NaN."""
    try:
        inverse = _ops_linalg.inverse(A)
        return _InvEx((inverse, _info(np.zeros(A.shape[:-2]))))
    except LinAlgError:
        pass
    data = A._data
    info = _ops_linalg._lu_arrays(data)[2].reshape(data.shape[:-2])
    if check_errors:
        raise _ops_linalg.singular_inverse_error("linalg.inv_ex", info, data.shape[-1])
    matrices = data.reshape((-1,) + data.shape[-2:])
    inverses = np.full(matrices.shape, np.nan, dtype=data.dtype)
    invertible = info.reshape(-1) == 0
    for index in np.flatnonzero(invertible):
        try:
            inverses[index] = np.linalg.inv(matrices[index])
        except np.linalg.LinAlgError:
            info.reshape(-1)[index] = data.shape[-1]
    return _InvEx((Tensor._result(inverses.reshape(data.shape)), _info(info)))


def solve_ex(A, B, *, left=True, check_errors=False):
    try:
        result = _ops_linalg.solve(A, B, left=left)
        return _SolveEx((result, _info(np.zeros(A.shape[:-2]))))
    except RuntimeError:
        if check_errors:
            raise
    shape = np.broadcast_shapes(A.shape[:-2], B.shape[:-2] if B.ndim > 1 else ()) + \
        tuple(B.shape[-2:] if B.ndim > 1 else B.shape)
    data = A._data
    singular = np.linalg.matrix_rank(data) < data.shape[-1]
    nans = Tensor._result(np.full(shape, np.nan, dtype=data.dtype))
    return _SolveEx((nans, _info(np.where(singular, data.shape[-1], 0))))


def tensorinv(A, ind=2):
    """The inverse of A for tensordot over its first ``ind`` dims."""
    require_tensor(A, "linalg_tensorinv", "A")
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    rows_shape, columns_shape = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    rows = int(np.prod(rows_shape))
    if rows != int(np.prod(columns_shape)):
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {int(np.prod(columns_shape))} != "
                           f"{rows}")
    return inv(A.reshape(rows, rows)).reshape(columns_shape + rows_shape)


def tensorsolve(A, B, dims=None):
    """X with tensordot(A, X, X.ndim) = B."""
    require_tensor(A, "linalg_tensorsolve", "A")
    if dims is not None:
        dims = [axis % A.ndim for axis in dims]
        A = A.movedim(dims, list(range(A.ndim - len(dims), A.ndim)))
    result_shape = tuple(A.shape[B.ndim:])
    rows = int(np.prod(B.shape))
    return solve(A.reshape(rows, -1), B.reshape(rows)).reshape(result_shape)


_LDLFactor = _return_type("linalg_ldl_factor", "(LD, pivots), like "
                          "torch.return_types.linalg_ldl_factor.", "LD", "pivots")
_LDLFactorEx = _return_type("linalg_ldl_factor_ex", "(LD, pivots, info), like "
                            "torch.return_types.linalg_ldl_factor_ex.", "LD", "pivots", "info")


def _lapack(name, dtype):
    """SciPy's LAPACK routine ``name`` (sytrf, sytrs) for a float dtype."""
    from scipy.linalg import lapack  # SciPy loads only when an LDL routine is first used
    if dtype not in (np.float32, np.float64):
        raise RuntimeError(f"linalg.ldl: expected a float32 or float64 input, got {dtype}")
    return getattr(lapack, ("s" if dtype == np.float32 else "d") + name)


def ldl_factor_ex(A, *, hermitian=False, check_errors=False):
    """(LD, pivots, info) of the Bunch-Kaufman factorization P A P^T = L D L^T of symmetric
    matrices (LAPACK's sytrf, lower triangle): D and L packed in LD, pivots 1-based as LAPACK
    gives them, info > 0 where D is singular."""
    require_tensor(A, "linalg.ldl_factor_ex")
    if A.dim() < 2:
        raise RuntimeError("torch.linalg.ldl_factor_ex: The input tensor A must have at least 2 "
                           "dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"torch.linalg.ldl_factor_ex: A must be batches of square matrices, "
                           f"but they are {A.shape[-2]} by {A.shape[-1]} matrices")
    data = A._data
    if not (is_floating(data.dtype) or data.dtype.kind == "c"):
        raise RuntimeError(f"torch.linalg.ldl_factor_ex: Expected a floating point or complex "
                           f"tensor as input. Got {A.dtype._scalar_type}")
    if data.dtype.kind != "c" and data.dtype.itemsize == 2:
        # float16 and bfloat16: PyTorch's CPU kernel has no such instantiation
        raise NotImplementedError(f'"ldl_factor_kernel_cpu" not implemented for '
                                  f"'{A.dtype._scalar_type}'")
    factor = _lapack("sytrf", data.dtype)
    packed = np.zeros_like(data)
    pivots = np.zeros(data.shape[:-1], np.int32)
    info = np.zeros(data.shape[:-2], np.int32)
    for index in np.ndindex(*data.shape[:-2]):  # LAPACK factors one matrix per call
        ldu, ipiv, status = factor(data[index], lower=1)
        packed[index] = np.tril(ldu)
        pivots[index] = ipiv
        info[index] = status
    if check_errors and info.any():
        raise LinAlgError(f"torch.linalg.ldl_factor_ex: The factorization could not be "
                          f"completed because the input is singular (info "
                          f"{int(info.reshape(-1)[np.flatnonzero(info)[0]])}).")
    LD = recorded_without_derivative(Tensor._result(packed), "aten::linalg_ldl_factor_ex", A)
    return _LDLFactorEx((LD, Tensor._result(pivots), Tensor._result(info)))


def ldl_factor(A, *, hermitian=False):
    """(LD, pivots) of ``ldl_factor_ex``; LinAlgError where D is singular."""
    LD, pivots, info = ldl_factor_ex(A, hermitian=hermitian)
    if info._data.any():
        raise LinAlgError(f"torch.linalg.ldl_factor: The factorization could not be completed "
                          f"because the input is singular (info "
                          f"{int(info._data.reshape(-1)[np.flatnonzero(info._data)[0]])}).")
    return _LDLFactor((LD, pivots))


def ldl_solve(LD, pivots, B, *, hermitian=False):
    """X with A X = B, from ``ldl_factor``'s LD and pivots (LAPACK's sytrs)."""
    require_tensor(LD, "linalg.ldl_solve")
    solve = _lapack("sytrs", LD._data.dtype)
    batch = np.broadcast_shapes(LD.shape[:-2], B.shape[:-2])
    factors = np.broadcast_to(LD._data, batch + LD.shape[-2:])
    steps = np.broadcast_to(pivots._data, batch + pivots.shape[-1:])
    right = np.broadcast_to(B._data, batch + B.shape[-2:])
    solution = np.empty(batch + B.shape[-2:], np.result_type(LD._data.dtype, B._data.dtype))
    for index in np.ndindex(*batch):  # LAPACK solves one system per call
        solution[index] = solve(factors[index], steps[index], right[index], lower=1)[0]
    return recorded_without_derivative(Tensor._result(solution), "aten::linalg_ldl_solve", LD, B)


def _taking_numpy_names():
    """axis=/keepdims= for dim=/keepdim=, as PyTorch's linalg functions take them
    (``linalg.norm(A, ord=1, axis=0)``)."""
    for name in __all__:
        globals()[name] = _numpy_names(globals()[name])


_taking_numpy_names()

