"""ember.linalg: torch.linalg's norms (vector_norm, norm; of the matrix norms only Frobenius),
inv, det, slogdet, cholesky, eigh/eigvalsh, solve, matrix_power, multi_dot, cross and vecdot."""
from .ops import linalg as _ops_linalg
from .ops.elementwise.casting import autocast_op
from .ops.reduce import vector_norm
from .ops.shape import require_tensor

__all__ = ["cholesky", "cross", "det", "eigh", "eigvalsh", "inv", "matrix_power", "multi_dot",
           "norm", "slogdet", "solve", "vecdot", "vector_norm"]


def norm(input, ord=None, dim=None, keepdim=False, *, dtype=None):
    """The 2-norm of all elements (``ord=None``), the Frobenius norm over two dims, or a vector
    norm over one dim."""
    require_tensor(input, "linalg_norm")
    if ord is None:
        return vector_norm(input, 2, dim, keepdim, dtype=dtype)
    if ord == "fro":
        if dim is None:
            if input.ndim != 2:
                raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input "
                                   f"must be 1D or 2D. Got {input.ndim}D.")
            dim = (-2, -1)
        return vector_norm(input, 2, dim, keepdim, dtype=dtype)
    if isinstance(ord, str):
        raise NotImplementedError(f"linalg.norm: ord='{ord}' is not implemented in ember")
    if isinstance(dim, int) or (dim is None and input.ndim == 1):
        return vector_norm(input, ord, dim, keepdim, dtype=dtype)
    if isinstance(dim, (tuple, list)) and len(dim) == 1:
        return vector_norm(input, ord, dim, keepdim, dtype=dtype)
    raise NotImplementedError(f"linalg.norm: the matrix norm ord={ord} is not implemented in ember "
                              f"(use ord=None or 'fro', or a vector norm over one dim)")


def cross(input, other, *, dim=-1):
    return _ops_linalg.cross(input, other, dim)


@autocast_op("vecdot")
def vecdot(x, y, *, dim=-1):
    return (x * y).sum(dim)


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
    return _ops_linalg.slogdet(A)


def cholesky(A, *, upper=False):
    return _ops_linalg.cholesky(A, upper=upper)


def eigh(A, UPLO="L"):
    return _ops_linalg.eigh(A, UPLO)


def eigvalsh(A, UPLO="L"):
    return _ops_linalg.eigvalsh(A, UPLO)
