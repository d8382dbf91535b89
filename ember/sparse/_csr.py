"""Sparse CSR matrices (``layout=ember.sparse_csr``): 2-D, no dense or batch dims. They exist for
what programs do with them (build from a dense or COO matrix or from crow/col/values, multiply
a dense matrix, convert back), with PyTorch's gradients: a CSR operand's gradient is a dense
matrix of its size, unmasked through products and masked to its pattern through ``to_dense``
and ``values``, as PyTorch computes them."""
import numpy as np

from .._device import check_cpu
from .._dtype import from_numpy_dtype, get_default_dtype, scalar_type_name
from .._layout import LayoutStorage, sparse_coo, sparse_csc, sparse_csr, strided
from .._tensor_str import _format_array
from ..autograd.function import Op, torch_named
from ..tensor import Tensor, _to_array
from ..ops.shape import squeeze, unsqueeze
from ._coo import (ARRAY_METHODS, SparseLayoutMethods, SparseTensor, _entry_products,
                   _scipy_sparse, _storage as _coo_storage, refuse_array_methods, to_sparse)


class SparseCSRStorage(LayoutStorage):
    """``crow_indices`` (int64, rows + 1), ``col_indices`` (int64, nnz), ``values`` (nnz) and
    the 2-D size; the columns of each row are in increasing order."""

    __slots__ = ("crow_indices", "col_indices", "values", "shape")
    layout = sparse_csr

    def __init__(self, crow_indices, col_indices, values, shape):
        self.crow_indices = crow_indices
        self.col_indices = col_indices
        self.values = values
        self.shape = tuple(shape)

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def ndim(self):
        return 2

    @property
    def size(self):
        return self.shape[0] * self.shape[1]

    @property
    def itemsize(self):
        return self.values.itemsize

    @property
    def nbytes(self):
        return self.crow_indices.nbytes + self.col_indices.nbytes + self.values.nbytes

    @property
    def nnz(self):
        return self.col_indices.shape[0]

    def rows(self):
        """Each entry's row index."""
        return np.repeat(np.arange(self.shape[0], dtype=np.int64), np.diff(self.crow_indices))

    def matrix(self):
        """This storage as a ``scipy.sparse.csr_matrix`` sharing its arrays."""
        return _scipy_sparse().csr_matrix((self.values, self.col_indices, self.crow_indices),
                                          shape=self.shape)


def _from_coo_structure(rows, columns, values, shape):
    """A CSR storage from row-major sorted, unique (row, column) entries."""
    counts = np.bincount(rows, minlength=shape[0])
    crow_indices = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return SparseCSRStorage(crow_indices, columns.astype(np.int64), values, shape)


def _pattern_gather(storage, grad):
    """A dense gradient read at the stored entries: the values' gradient."""
    return grad[storage.rows(), storage.col_indices]


def _pattern_scatter(storage, values_grad):
    """A values' gradient placed at the stored entries of a dense zero matrix."""
    out = np.zeros(storage.shape, values_grad.dtype)
    out[storage.rows(), storage.col_indices] = values_grad
    return out


# ---- ops --------------------------------------------------------------------------------------
class SparseCompressedTensor(Op):
    """A CSR matrix from its values (the indices and size are constants)."""

    accepts_layouts = True

    @staticmethod
    def forward(ctx, values, crow_indices, col_indices, shape):
        storage = SparseCSRStorage(crow_indices, col_indices, values, shape)
        ctx.storage = storage
        return storage

    @staticmethod
    def backward(ctx, grad):
        return _pattern_gather(ctx.storage, grad), None, None, None


class DenseToCsr(Op):
    """A dense matrix's nonzero entries; its gradient is the CSR gradient itself (dense)."""

    accepts_layouts = True

    @staticmethod
    def forward(ctx, array):
        rows, columns = np.nonzero(array)
        return _from_coo_structure(rows, columns, array[rows, columns], array.shape)

    @staticmethod
    def backward(ctx, grad):
        return grad

    def name(self):
        return "ToSparseCsrBackward0"


class CooToCsr(Op):
    """A coalesced 2-D COO tensor as CSR (same entries, same order); the COO gradient is
    aligned with its values, so the dense CSR gradient is read at the entries."""

    accepts_layouts = True

    @staticmethod
    def forward(ctx, storage):
        rows, columns = storage.indices
        result = _from_coo_structure(rows, columns, storage.values, storage.shape)
        ctx.storage = result
        return result

    @staticmethod
    def backward(ctx, grad):
        return _pattern_gather(ctx.storage, grad)

    def name(self):
        return "ToSparseCsrBackward0"


class CsrToCoo(Op):
    accepts_layouts = True

    @staticmethod
    def forward(ctx, storage):
        ctx.storage = storage
        indices = np.stack([storage.rows(), storage.col_indices])
        return _coo_storage(indices, storage.values, storage.shape, True)

    @staticmethod
    def backward(ctx, grad):
        return _pattern_scatter(ctx.storage, grad)

    def name(self):
        return "ToSparseBackward0"


class CsrToDense(Op):
    """The dense matrix; the gradient is masked to the stored entries, as PyTorch's."""

    accepts_layouts = True

    @staticmethod
    def forward(ctx, storage):
        ctx.storage = storage
        return _pattern_scatter(storage, storage.values)

    @staticmethod
    def backward(ctx, grad):
        return _pattern_scatter(ctx.storage, _pattern_gather(ctx.storage, grad))

    def name(self):
        return "ToDenseBackward0"


class CsrValues(Op):
    accepts_layouts = True

    @staticmethod
    def forward(ctx, storage):
        ctx.storage = storage
        return storage.values

    @staticmethod
    def backward(ctx, grad):
        return _pattern_scatter(ctx.storage, grad)

    def name(self):
        return "ValuesBackward0"


class CsrToCopy(Op):
    """The values converted to another dtype."""

    accepts_layouts = True

    @staticmethod
    def forward(ctx, storage, numpy_dtype):
        ctx.input_dtype = storage.dtype
        return SparseCSRStorage(storage.crow_indices, storage.col_indices,
                                storage.values.astype(numpy_dtype), storage.shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.input_dtype), None


class CsrMm(Op):
    """(CSR) @ (2-D dense) through scipy. The CSR operand's gradient is the dense
    ``grad @ dense.T``: unmasked, as PyTorch's MmBackward gives it, or masked to the stored
    entries (``masked``), as its SparseAddmmBackward (torch.sparse.mm) gives it."""

    accepts_layouts = True

    @staticmethod
    def forward(ctx, storage, dense, masked):
        matrix = storage.matrix()
        needs_sparse, needs_dense, _ = ctx.needs_input_grad
        ctx.matrix = matrix if needs_dense else None
        ctx.masked = masked
        ctx.storage = storage if masked and needs_sparse else None
        ctx.save_for_backward(dense if needs_sparse else None)
        return np.asarray(matrix @ dense, dtype=storage.dtype)

    @staticmethod
    def backward(ctx, grad):
        (dense,) = ctx.saved_tensors
        needs_sparse, needs_dense, _ = ctx.needs_input_grad
        grad_sparse = grad_dense = None
        if needs_sparse and ctx.masked:
            storage = ctx.storage
            indices = np.stack([storage.rows(), storage.col_indices])
            grad_sparse = _pattern_scatter(storage, _entry_products(indices, grad, dense))
        elif needs_sparse:
            grad_sparse = grad @ dense.T
        if needs_dense:
            grad_dense = np.asarray(ctx.matrix.T @ grad, dtype=grad.dtype)
        return grad_sparse, grad_dense, None

    def name(self):
        return "SparseAddmmBackward0" if self.masked else "MmBackward0"


class DenseCsrMm(Op):
    """(2-D dense) @ (CSR), computed as (CSR.T @ dense.T).T."""

    accepts_layouts = True

    @staticmethod
    def forward(ctx, dense, storage):
        matrix = storage.matrix()
        needs_dense, needs_sparse = ctx.needs_input_grad
        ctx.matrix = matrix if needs_dense else None
        ctx.save_for_backward(dense if needs_sparse else None)
        return np.asarray((matrix.T @ dense.T).T, dtype=storage.dtype)

    @staticmethod
    def backward(ctx, grad):
        (dense,) = ctx.saved_tensors
        needs_dense, needs_sparse = ctx.needs_input_grad
        grad_dense = np.asarray((ctx.matrix @ grad.T).T, dtype=grad.dtype) if needs_dense \
            else None
        grad_sparse = dense.T @ grad if needs_sparse else None
        return grad_dense, grad_sparse

    def name(self):
        return "MmBackward0"


# ---- the Tensor subclass ----------------------------------------------------------------------
class SparseCsrTensor(SparseLayoutMethods, Tensor):
    """A tensor with ``layout=ember.sparse_csr`` (``torch.sparse_csr_tensor``'s result)."""

    __slots__ = ()
    is_sparse_csr = True
    _layout_name = "SparseCsr"

    @staticmethod
    def _matmul(input, other, operation="matmul"):
        return matmul(input, other, operation)

    @property
    def layout(self):
        return sparse_csr

    def sparse_dim(self):
        return 2

    def dense_dim(self):
        return 0

    def crow_indices(self):
        return Tensor._wrap(self._data.crow_indices)

    def col_indices(self):
        return Tensor._wrap(self._data.col_indices)

    def values(self):
        return CsrValues.apply(self)

    def to_dense(self, dtype=None, *, masked_grad=True):
        if dtype is not None:
            raise RuntimeError("dtype argument is not supported by sparse_csr_to_dense")
        return CsrToDense.apply(self)

    def to_sparse(self, sparse_dim=None):
        if sparse_dim not in (None, 2):
            raise NotImplementedError("to_sparse: a CSR matrix converts to a COO tensor with "
                                      "sparse_dim 2 only in ember")
        return CsrToCoo.apply(self)

    def to_sparse_csr(self, dense_dim=None):
        return self

    def clone(self, *, memory_format=None):
        return CsrToCopy.apply(self, self._data.dtype)

    def detach(self):
        return _wrap(self._data)

    @property
    def data(self):
        return _wrap(self._data)

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support "
                               "the deepcopy protocol at the moment.")
        storage = self._data
        out = _wrap(SparseCSRStorage(storage.crow_indices.copy(), storage.col_indices.copy(),
                                     storage.values.copy(), storage.shape), self._requires_grad)
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol):
        storage = self._data
        return (_rebuild, (storage.crow_indices, storage.col_indices, storage.values,
                           storage.shape, self._requires_grad))

    def __repr__(self):
        return _format_csr(self)


SparseCSRStorage.tensor_type = SparseCsrTensor


def _wrap(storage, requires_grad=False):
    tensor = Tensor._wrap(storage, requires_grad)
    tensor.__class__ = SparseCsrTensor
    return tensor


def _rebuild(crow_indices, col_indices, values, shape, requires_grad):
    return _wrap(SparseCSRStorage(crow_indices, col_indices, values, shape), requires_grad)


# COO's refusals, and what CSR has no op for (COO's elementwise products and sums among them).
refuse_array_methods(SparseCsrTensor, ARRAY_METHODS + (
    "t", "__mul__", "__rmul__", "__truediv__", "__neg__", "sum", "coalesce", "indices",
    "_indices", "_values"), "sparse CSR tensors (layout=ember.sparse_csr)")
SparseCsrTensor.__hash__ = Tensor.__hash__


def _format_csr(tensor):
    """PyTorch's repr of a CSR tensor: crow_indices, col_indices and values on their own lines,
    then size, nnz, dtype (when not a default one), layout and autograd state, wrapped at 80."""
    storage = tensor._data
    indent = len("tensor(")
    parts = []
    for label, array in (("crow_indices", storage.crow_indices),
                         ("col_indices", storage.col_indices), ("values", storage.values)):
        text = _format_array(array, indent + len(label) + len("=tensor("))
        if array.size == 0:
            text += f", size={tuple(array.shape)}"
        parts.append(f"{label}=tensor({text})")
    text = "tensor(" + (",\n" + " " * indent).join(parts)
    suffixes = [f"size={tuple(storage.shape)}", f"nnz={storage.nnz}"]
    if storage.dtype not in (get_default_dtype().numpy, np.int64, np.bool_):
        suffixes.append(f"dtype={from_numpy_dtype(storage.dtype)!r}")
    suffixes.append(f"layout={sparse_csr!r}")
    if tensor.grad_fn is not None:
        suffixes.append(f"grad_fn=<{tensor.grad_fn.name()}>")
    elif tensor._requires_grad:
        suffixes.append("requires_grad=True")
    # PyTorch counts the last line two characters longer than it is.
    line_length = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if line_length + len(suffix) + 2 > 80:
            text += ",\n" + " " * indent + suffix
            line_length = indent + len(suffix)
        else:
            text += ", " + suffix
            line_length += len(suffix) + 2
    return text + ")"


# ---- public functions -------------------------------------------------------------------------
def _index_vector(value, name):
    array = value._data if isinstance(value, Tensor) else np.asarray(value)
    if array.size == 0:
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise RuntimeError(f"{name} must be an int32 or int64 tensor, got {array.dtype}")
    if array.ndim != 1:
        raise NotImplementedError(f"sparse_csr_tensor: ember's CSR tensors are 2-D matrices "
                                  f"(1-D {name}), got {name} of {array.ndim} dims")
    return array.astype(np.int64)


def sparse_csr_tensor(crow_indices, col_indices, values, size=None, *, dtype=None, device=None,
                      requires_grad=False, check_invariants=None):
    """A 2-D sparse CSR matrix (torch.sparse_csr_tensor): row ``r`` holds the entries
    ``crow_indices[r]:crow_indices[r + 1]`` of ``col_indices`` and ``values``. ember always
    checks the indices (PyTorch's ``check_invariants=True``)."""
    check_cpu(device, "sparse_csr_tensor")
    _scipy_sparse()
    crow = _index_vector(crow_indices, "crow_indices")
    columns = _index_vector(col_indices, "col_indices")
    if not isinstance(values, Tensor):
        values = Tensor._wrap(_to_array(values, dtype))
    elif dtype is not None:
        values = values.to(dtype)
    if values._data.ndim != 1:
        raise NotImplementedError(f"sparse_csr_tensor: ember's CSR values are 1-D (no dense or "
                                  f"batch dims), got {values._data.ndim}-D values")
    nnz = columns.shape[0]
    if values._data.shape[0] != nnz:
        raise RuntimeError(f"col_indices and values must have the same number of elements, but "
                           f"got col_indices.size(-1) = {nnz}, values.size(-1) = "
                           f"{values._data.shape[0]}")
    if size is None:
        shape = (crow.shape[0] - 1, int(columns.max()) + 1 if nnz else 0)
    else:
        shape = tuple(int(length) for length in size)
        if len(shape) != 2:
            raise NotImplementedError(f"sparse_csr_tensor: ember's CSR tensors are 2-D, got size "
                                      f"{shape}")
        if crow.shape[0] != shape[0] + 1:
            raise RuntimeError(f"crow_indices.size(-1) == nrows + 1 is not satisfied: "
                               f"crow_indices.size(-1) = {crow.shape[0]}, nrows = {shape[0]}")
    if crow[0] != 0:
        raise RuntimeError("`crow_indices[..., 0] == 0` is not satisfied.")
    if crow[-1] != nnz:
        raise RuntimeError("`crow_indices[..., -1] == nnz` is not satisfied.")
    steps = np.diff(crow)
    if np.any(steps < 0) or np.any(steps > shape[1]):
        raise RuntimeError("`0 <= crow_indices[..., 1:] - crow_indices[..., :-1] <= ncols` is "
                           "not satisfied.")
    if nnz and (columns.min() < 0 or columns.max() >= shape[1]):
        raise RuntimeError("`0 <= col_indices < ncols` is not satisfied.")
    if requires_grad and values._data.dtype.kind != "f":
        raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                           "gradients")
    if requires_grad and not values._requires_grad:
        values = values.detach()
    result = SparseCompressedTensor.apply(values, crow, columns, shape)
    if requires_grad and result.grad_fn is None:
        result.requires_grad_()
    return result


def to_sparse_csr(input, dense_dim=None):
    """A dense or COO matrix as a CSR matrix (Tensor.to_sparse_csr)."""
    if dense_dim is not None:
        raise NotImplementedError("to_sparse_csr: ember's CSR tensors have no dense dims")
    if input.is_sparse_csr:
        return input
    _scipy_sparse()
    if input._data.ndim != 2:
        raise NotImplementedError(f"to_sparse_csr: ember's CSR tensors are 2-D matrices, got a "
                                  f"{input._data.ndim}-D tensor")
    if isinstance(input, SparseTensor):
        if input._data.sparse_dim != 2:
            raise RuntimeError("to_sparse_csr: expected a COO tensor with 2 sparse dims")
        return CooToCsr.apply(input.coalesce())
    return DenseToCsr.apply(input)


def to_sparse_layout(input, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
    """Tensor.to_sparse: COO with ``sparse_dim`` sparse dims, or, in its keyword form, the
    ``layout`` asked for (COO keeps ``dense_dim`` trailing dims dense; strided is the tensor)."""
    if layout is None and blocksize is None and dense_dim is None:
        return to_sparse(input, sparse_dim)
    if sparse_dim is not None:
        raise TypeError("to_sparse() takes 0 positional arguments but 1 was given")
    if layout is strided:
        return input
    if blocksize is not None and layout in (None, sparse_coo, sparse_csr, sparse_csc):
        raise RuntimeError("dense_to_sparse: conversion from Strided to Sparse with blocksize "
                           "argument given is not supported")
    if layout in (None, sparse_coo):
        return to_sparse(input, input._data.ndim - (dense_dim or 0))
    if layout is sparse_csr:
        return to_sparse_csr(input, dense_dim)
    raise NotImplementedError(f"to_sparse: ember has no {layout} tensors (COO and CSR only)")


def matmul(input, other, operation="matmul"):
    """CSR @ dense and dense @ CSR (2-D, or a 1-D dense vector with matmul); ``operation``
    "sparse.mm" is torch.sparse.mm, whose CSR gradient is masked to the stored entries."""
    for position, value in enumerate((input, other), 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"{operation}(): argument '{'input' if position == 1 else 'mat2'}' "
                            f"(position {position}) must be Tensor, not {type(value).__name__}")
    if input.layout is not strided and other.layout is not strided:
        raise NotImplementedError(f"{operation}: sparse @ sparse is not supported by ember; "
                                  f"convert one operand with .to_dense()")
    sparse, dense = (input, other) if input.is_sparse_csr else (other, input)
    if dense._data.ndim == 1 and operation == "matmul":
        if sparse is input:
            return torch_named(squeeze(matmul(input, unsqueeze(other, 1)), 1), "MvBackward0")
        return torch_named(squeeze(matmul(unsqueeze(input, 0), other), 0), "SqueezeBackward4")
    if dense._data.ndim != 2:
        raise RuntimeError(f"{operation}: expected a 2-D dense matrix, got "
                           f"{dense._data.ndim}-D")
    if dense._data.dtype != sparse._data.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(input._data.dtype)} but found "
                           f"{scalar_type_name(other._data.dtype)}")
    if input.shape[1] != other.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({input.shape[0]}x"
                           f"{input.shape[1]} and {other.shape[0]}x{other.shape[1]})")
    if sparse is input:
        return CsrMm.apply(input, other, operation == "sparse.mm")
    return DenseCsrMm.apply(input, other)


def cast(input, dtype):
    """The CSR matrix with its values converted to ``dtype`` (Tensor.to's CSR case)."""
    return CsrToCopy.apply(input, dtype.numpy)
