"""Parametrizations PyTorch ships (torch.nn.utils.parametrizations): orthogonal, and weight_norm
and spectral_norm as registered parametrizations (the successors of the hook-based forms in
ember.nn.utils.weight_norm)."""
import numpy as np

from ... import ops
from ..._dtype import from_numpy_dtype
from ..._factories import eye, randn
from ...linalg import householder_product, matrix_exp, solve
from ...ops.decompositions import geqrf
from ...autograd.grad_mode import no_grad
from .. import functional as F
from ..modules.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from ..modules.module import Module
from ...tensor import Tensor
from . import parametrize
from .weight_norm import norm_except_dim, power_iterations

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]

_ORTHOGONAL_MAPS = ("matrix_exp", "cayley", "householder")


def _is_orthogonal(matrix):
    """PyTorch's test: Q^H Q is the identity within 10 n eps (and rtol 1e-5)."""
    rows, columns = matrix.shape[-2:]
    tolerance = 10.0 * rows * np.finfo(matrix.dtype).eps
    product = np.swapaxes(matrix, -1, -2).conj() @ matrix
    return bool(np.allclose(product, np.eye(columns, dtype=matrix.dtype), rtol=1e-5,
                            atol=tolerance))


def _make_orthogonal(matrix):
    """The Q of a tall matrix's QR with R's diagonal made non-negative (a column whose R
    diagonal is 0 becomes 0, as PyTorch's sgn)."""
    q, r = np.linalg.qr(matrix)
    signs = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
    return (q * signs[..., None, :]).astype(matrix.dtype)


class _Orthogonal(Module):
    """Q(X): exp or the Cayley map of the skew-symmetric part of tril(X), or a product of the
    Householder reflectors below X's diagonal; with ``use_trivialization`` a buffer ``base``
    multiplies it (PyTorch's dynamic trivialization, reset on every assignment)."""

    def __init__(self, weight, orthogonal_map, *, use_trivialization=True):
        super().__init__()
        if weight.is_complex() and orthogonal_map == "householder":
            raise ValueError("The householder parametrization does not support complex "
                             "tensors.")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X):
        rows, columns = X.shape[-2], X.shape[-1]
        transposed = rows < columns
        if transposed:
            X = X.mT
            rows, columns = columns, rows
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            X = X.tril()
            if rows != columns:
                padding = X.new_zeros(rows, rows - columns).expand(*X.shape[:-2], -1, -1)
                X = ops.cat([X, padding], dim=-1)
            A = X - X.mH
            if self.orthogonal_map == "matrix_exp":
                Q = matrix_exp(A)
            else:
                identity = eye(rows, dtype=A.dtype)
                Q = solve(identity - 0.5 * A, identity + 0.5 * A)
            if rows != columns:
                Q = Q[..., :columns]
        else:
            A = X.tril(diagonal=-1)
            tau = 2.0 / (1.0 + (A * A).sum(dim=-2))
            Q = householder_product(A, tau)
            Q = Q * X.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)
        if "base" in self._buffers:
            Q = self.base @ Q
        if transposed:
            Q = Q.mT
        return Q

    def right_inverse(self, Q):
        """An X with Q(X) = Q: with the trivialization, ``base`` becomes Q (orthogonalised,
        completed to a square matrix with random columns when Q is not square) and X the
        negated identity, which maps to the identity; without it (householder only) the
        reflectors of Q's QR, their diagonal the signs that undo R's."""
        if Q.shape != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {Q.shape}.")
        with no_grad():
            array = Q._data
            rows, columns = array.shape[-2:]
            transposed = rows < columns
            if transposed:
                array = np.swapaxes(array, -1, -2)
                rows, columns = columns, rows
            if "base" not in self._buffers:
                if self.orthogonal_map in ("cayley", "matrix_exp"):
                    raise NotImplementedError(
                        "It is not possible to assign to the matrix exponential or the Cayley "
                        "parametrizations when use_trivialization=False.")
                reflectors, tau = geqrf(Tensor._wrap(np.ascontiguousarray(array)))
                result = reflectors._data
                diagonal = np.sign(np.diagonal(result, axis1=-2, axis2=-1))
                diagonal = np.where(tau._data == 0.0, -diagonal, diagonal)
                index = np.arange(diagonal.shape[-1])
                result[..., index, index] = diagonal
                if transposed:
                    result = np.swapaxes(result, -1, -2)
                return Tensor._wrap(np.ascontiguousarray(result))
            if rows == columns:
                base = array.copy() if _is_orthogonal(array) else _make_orthogonal(array)
            else:
                extra = randn(*(array.shape[:-2] + (rows, rows - columns)),
                                  dtype=from_numpy_dtype(array.dtype))._data
                base = _make_orthogonal(np.concatenate([array, extra], axis=-1))
            self.base = Tensor._wrap(np.ascontiguousarray(base))
            negated_identity = np.zeros(Q.shape, dtype=Q._data.dtype)
            index = np.arange(min(Q.shape[-2:]))
            negated_identity[..., index, index] = -1.0
            return Tensor._wrap(negated_identity)


def orthogonal(module, name="weight", orthogonal_map=None, *, use_trivialization=True):
    """Make ``module.<name>`` (a matrix or a batch of them) orthogonal: orthonormal columns when
    tall, rows when wide. ``orthogonal_map`` defaults to "matrix_exp" for square or complex
    matrices, "householder" otherwise."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of "
                         f"{weight.ndim} dimensions.")
    if orthogonal_map is None:
        square = weight.size(-2) == weight.size(-1)
        orthogonal_map = "matrix_exp" if square or weight.is_complex() else "householder"
    if orthogonal_map not in _ORTHOGONAL_MAPS:
        raise ValueError(f'orthogonal_map has to be one of "matrix_exp", "cayley", '
                         f'"householder". Got: {orthogonal_map}')
    parametrization = _Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, parametrization, unsafe=True)
    return module


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / norm_except_dim(weight_v, 2, self.dim))

    def right_inverse(self, weight):
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """w = g v / ||v||, with g and v stored as ``parametrizations.<name>.original0`` and
    ``original1``."""
    if dim is not None:
        ndim = getattr(module, name).dim()
        if not -ndim <= dim < ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, "
                             f"{ndim - 1}], but got {dim})")
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.dim()
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, "
                             f"{ndim - 1}] but got {dim})")
        power_iterations(n_power_iterations)
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            matrix = self._matrix(weight)
            height, width = matrix.shape
            u = matrix.new_empty(height).normal_(0, 1)
            v = matrix.new_empty(width).normal_(0, 1)
            self.register_buffer("_u", F.normalize(u, dim=0, eps=self.eps))
            self.register_buffer("_v", F.normalize(v, dim=0, eps=self.eps))
            self._power_method(matrix, 15)

    def _matrix(self, weight):
        if self.dim != 0:
            weight = weight.permute(self.dim, *(axis for axis in range(weight.dim())
                                                if axis != self.dim))
        return weight.flatten(1)

    def _power_method(self, matrix, iterations):
        with no_grad():
            for _ in range(iterations):
                self._u.copy_(F.normalize(ops.mv(matrix, self._v), dim=0, eps=self.eps))
                self._v.copy_(F.normalize(ops.mv(matrix.t(), self._u), dim=0, eps=self.eps))

    def forward(self, weight):
        if weight.dim() == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        matrix = self._matrix(weight)
        if self.training:
            self._power_method(matrix, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = ops.vdot(u, ops.mv(matrix, v))
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """w = W / sigma(W) with sigma from power iteration (updated in training mode only); the
    vectors are buffers ``parametrizations.<name>.0._u`` and ``._v``."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        transposed = (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)
        dim = 1 if isinstance(module, transposed) else 0
    parametrize.register_parametrization(module, name,
                                         _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
