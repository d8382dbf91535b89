"""ember.linalg: torch.linalg's norms (vector_norm, norm; of the matrix norms only Frobenius),
inv, det, slogdet, cholesky, eigh/eigvalsh, solve, matrix_power, multi_dot, cross and vecdot."""
from .ops.reduce import vector_norm

__all__ = ["cholesky", "cross", "det", "eigh", "eigvalsh", "inv", "matrix_power", "multi_dot",
           "norm", "slogdet", "solve", "vecdot", "vector_norm"]


def norm(input, ord=None, dim=None, keepdim=False, *, dtype=None):
    """The 2-norm of all elements (``ord=None``), the Frobenius norm over two dims, or a vector
    norm over one dim."""
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
    from .ops.linalg import cross as cross_product
    return cross_product(input, other, dim)


def vecdot(x, y, *, dim=-1):
    return (x * y).sum(dim)


def inv(A):
    from .ops.linalg import inverse
    return inverse(A)


def det(A):
    from .ops.linalg import det as determinant
    return determinant(A)


def solve(A, B, *, left=True):
    from .ops.linalg import solve as solve_system
    return solve_system(A, B, left=left)


def matrix_power(A, n):
    from .ops.linalg import matrix_power as power
    return power(A, n)


def multi_dot(tensors):
    from .ops.linalg import multi_dot as chain
    return chain(tensors)


def slogdet(A):
    from .ops.linalg import slogdet as sign_and_log
    return sign_and_log(A)


def cholesky(A, *, upper=False):
    from .ops.linalg import cholesky as factor
    return factor(A, upper=upper)


def eigh(A, UPLO="L"):
    from .ops.linalg import eigh as decompose
    return decompose(A, UPLO)


def eigvalsh(A, UPLO="L"):
    from .ops.linalg import eigvalsh as eigenvalues
    return eigenvalues(A, UPLO)
