"""Sparse COO tensors: the storage (indices, values, size), the Tensor subclass that holds it, and
the ops on it, each one Op with forward and backward side by side.

A sparse tensor's ``_data`` is a ``SparseCOOStorage``. Its gradient flows through the engine as an
array aligned with its values (one row per stored entry), which is PyTorch's gradient of a sparse
operand masked to its indices (``grad.sparse_mask(self)``); a leaf's ``.grad`` is built from it
on the coalesced pattern, as PyTorch's sparse ``.grad``. Products go through ``scipy.sparse``,
an optional extra imported when the first sparse tensor is made.
"""
import numpy as np

from .._device import check_cpu
from .._extras import install_hint
from .._dtype import from_numpy_dtype, get_default_dtype, promote_types, scalar_type_name, to_dtype
from .._layout import LayoutStorage, sparse_coo, strided
from .._tensor_str import _format_array
from ..autograd.function import Op
from ..tensor import Tensor, _to_array
from ..ops.shape import squeeze, transpose, unsqueeze

# Rows of the (nnz x columns) gathers in the values' gradient of a product, per chunk.
_CHUNK_ELEMENTS = 1 << 22


def _scipy_sparse():
    try:
        # scipy is an optional extra (`sparse`): imported when the first sparse tensor
        # is made, never by `import ember`.
        import scipy.sparse
    except ImportError as error:
        raise ImportError(f"ember's sparse tensors need SciPy: {install_hint('sparse')} "
                          f"(or pip install 'scipy>=1.10')") from error
    return scipy.sparse


class SparseCOOStorage(LayoutStorage):
    """``indices`` (int64, sparse_dim x nnz), ``values`` (nnz x dense sizes) and the size;
    ``coalesced`` when the indices are unique and in row-major order."""

    __slots__ = ("indices", "values", "shape", "coalesced", "_csr")
    layout = sparse_coo

    def __init__(self, indices, values, shape, coalesced):
        self.indices = indices
        self.values = values
        self.shape = tuple(shape)
        self.coalesced = coalesced
        self._csr = None

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def itemsize(self):
        return self.values.itemsize

    @property
    def nbytes(self):
        return self.indices.nbytes + self.values.nbytes

    @property
    def sparse_dim(self):
        return self.indices.shape[0]

    @property
    def nnz(self):
        return self.indices.shape[1]

    def flat_indices(self):
        """Each entry's position in the row-major order of the sparse dims."""
        sizes = self.shape[:self.sparse_dim]
        if not sizes:
            return np.zeros(self.nnz, np.int64)
        return np.ravel_multi_index(tuple(self.indices), sizes)

    def csr_structure(self):
        """(indptr, columns, order) of the CSR matrix of a 2-D storage, where ``order`` puts the
        entries in row order (None when they already are); kept, since the indices never
        change while the values may (their in-place changes are seen by the next product)."""
        if self._csr is None:
            rows, columns = self.indices
            order = None if self.coalesced else np.argsort(rows, kind="stable")
            if order is not None:
                rows = rows[order]
                columns = columns[order]
            small = max(self.nnz, *self.shape) < np.iinfo(np.int32).max
            index_type = np.int32 if small else np.int64
            counts = np.bincount(rows, minlength=self.shape[0])
            indptr = np.concatenate([[0], np.cumsum(counts)]).astype(index_type)
            self._csr = (indptr, columns.astype(index_type), order)
        return self._csr

    def csr(self):
        """This 2-D storage as a ``scipy.sparse.csr_matrix`` (duplicates are kept: a product
        sums them, as it would after coalescing)."""
        indptr, columns, order = self.csr_structure()
        data = self.values if order is None else self.values[order]
        return _scipy_sparse().csr_matrix((data, columns, indptr), shape=self.shape)


def _storage(indices, values, shape, coalesced):
    return SparseCOOStorage(indices, values, shape, coalesced)


def _coalesce_plan(storage):
    """The unique indices in row-major order, and each entry's position among them."""
    flat = storage.flat_indices()
    unique, inverse = np.unique(flat, return_inverse=True)
    sizes = storage.shape[:storage.sparse_dim]
    indices = np.stack(np.unravel_index(unique, sizes)).astype(np.int64) if sizes else \
        np.zeros((0, unique.size), np.int64)
    return indices.reshape(storage.sparse_dim, unique.size), inverse.reshape(-1)


def _sum_rows(values, inverse, count):
    out = np.zeros((count,) + values.shape[1:], values.dtype)
    np.add.at(out, inverse, values)
    return out


# ---- ops --------------------------------------------------------------------------------------
class _SameValues(Op):
    """An op whose output holds its input's values in the same order: the values' gradient
    passes through unchanged (the other arguments are constants)."""

    accepts_layouts = True

    @staticmethod
    def backward(ctx, grad):
        return grad


class SparseCooTensorWithDimsAndTensors(_SameValues):
    """A sparse tensor from its values (the indices and size are constants)."""

    @staticmethod
    def forward(ctx, values, indices, shape, coalesced):
        return _storage(indices, values, shape, coalesced)


class Coalesce(Op):
    accepts_layouts = True

    @staticmethod
    def forward(ctx, storage):
        indices, inverse = _coalesce_plan(storage)
        ctx.inverse = inverse
        values = _sum_rows(storage.values, inverse, indices.shape[1])
        return _storage(indices, values, storage.shape, True)

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.inverse]


class ToDense(Op):
    accepts_layouts = True

    @staticmethod
    def forward(ctx, storage):
        flat = storage.flat_indices()
        ctx.flat = flat
        ctx.sparse_dim = storage.sparse_dim
        dense_sizes = storage.shape[storage.sparse_dim:]
        out = np.zeros((int(np.prod(storage.shape[:storage.sparse_dim], dtype=np.int64)),)
                       + dense_sizes, storage.dtype)
        np.add.at(out, flat, storage.values)
        return out.reshape(storage.shape)

    @staticmethod
    def backward(ctx, grad):
        rows = grad.reshape((-1,) + grad.shape[ctx.sparse_dim:])
        return rows[ctx.flat]


class ToSparse(Op):
    """A dense tensor's nonzero entries (of its first ``sparse_dim`` dims) as a coalesced
    sparse tensor."""

    accepts_layouts = True

    @staticmethod
    def forward(ctx, array, sparse_dim):
        nonzero = array != 0
        if sparse_dim < array.ndim:
            nonzero = nonzero.any(axis=tuple(range(sparse_dim, array.ndim)))
        indices = np.stack(np.nonzero(nonzero)).astype(np.int64).reshape(sparse_dim, -1)
        ctx.indices = indices
        ctx.shape = array.shape
        values = array[tuple(indices)]
        return _storage(indices, values, array.shape, True)

    @staticmethod
    def backward(ctx, grad):
        out = np.zeros(ctx.shape, grad.dtype)
        out[tuple(ctx.indices)] = grad
        return out, None

    def name(self):
        return "ToSparseBackward1"


class Values(_SameValues):
    """The values of a sparse tensor, as a dense tensor."""

    @staticmethod
    def forward(ctx, storage):
        return storage.values


class T(_SameValues):
    """The transpose of a 2-D sparse tensor: rows and columns swapped."""

    @staticmethod
    def forward(ctx, storage):
        return _storage(storage.indices[::-1].copy(), storage.values,
                        (storage.shape[1], storage.shape[0]) + storage.shape[2:], False)


class Clone(_SameValues):
    @staticmethod
    def forward(ctx, storage):
        return _storage(storage.indices.copy(), storage.values.copy(), storage.shape,
                        storage.coalesced)


class ToCopy(Op):
    """The values converted to another dtype."""

    accepts_layouts = True

    @staticmethod
    def forward(ctx, storage, numpy_dtype):
        ctx.input_dtype = storage.dtype
        return _storage(storage.indices, storage.values.astype(numpy_dtype), storage.shape,
                        storage.coalesced)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.input_dtype), None


class Mul(Op):
    """A sparse tensor times a Python number: the values scaled."""

    accepts_layouts = True

    @staticmethod
    def forward(ctx, storage, factor):
        factor = np.asarray(factor, storage.dtype)
        ctx.factor = factor
        return _storage(storage.indices, storage.values * factor, storage.shape,
                        storage.coalesced)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.factor, None


class Div(Op):
    """A sparse tensor divided by a number: each value divided (not scaled by the reciprocal,
    which rounds differently)."""

    accepts_layouts = True

    @staticmethod
    def forward(ctx, storage, divisor):
        divisor = np.asarray(divisor, storage.dtype)
        ctx.divisor = divisor
        return _storage(storage.indices, storage.values / divisor, storage.shape,
                        storage.coalesced)

    @staticmethod
    def backward(ctx, grad):
        return grad / ctx.divisor, None


class SparseAdd(Op):
    """``first + alpha * second`` for two sparse tensors of one size: the entries merged as
    coalescing merges them, marked coalesced when both inputs are (PyTorch's flag)."""

    accepts_layouts = True

    @staticmethod
    def forward(ctx, first, second, alpha):
        scaled = second.values if alpha == 1 else second.values * np.asarray(alpha, second.dtype)
        both = _storage(np.concatenate([first.indices, second.indices], axis=1),
                        np.concatenate([first.values, scaled]), first.shape, False)
        indices, inverse = _coalesce_plan(both)
        ctx.inverse = inverse
        ctx.split = first.nnz
        ctx.alpha = alpha
        return _storage(indices, _sum_rows(both.values, inverse, indices.shape[1]), first.shape,
                        first.coalesced and second.coalesced)

    @staticmethod
    def backward(ctx, grad):
        rows = grad[ctx.inverse]
        second = rows[ctx.split:]
        return rows[:ctx.split], second if ctx.alpha == 1 else second * ctx.alpha, None


class DensePlusSparse(Op):
    """``dense + alpha * sparse`` of one size, a dense result in the promoted dtype (GCN code adds
    a sparse adjacency to ``eye``); the sparse operand's gradient is the result's gradient at its
    entries."""

    accepts_layouts = True

    @staticmethod
    def forward(ctx, dense, storage, alpha, dtype):
        result = dense.astype(dtype, copy=True)
        values = storage.values.astype(dtype, copy=False)
        if alpha != 1:
            values = values * np.asarray(alpha, dtype)
        if storage.coalesced:
            result[tuple(storage.indices)] += values
        else:
            np.add.at(result, tuple(storage.indices), values)
        ctx.indices = storage.indices
        ctx.alpha = alpha
        return result

    @staticmethod
    def backward(ctx, grad):
        needs_dense, needs_sparse = ctx.needs_input_grad[:2]
        grad_values = None
        if needs_sparse:
            grad_values = grad[tuple(ctx.indices)]
            if ctx.alpha != 1:
                grad_values = grad_values * np.asarray(ctx.alpha, grad.dtype)
        return grad if needs_dense else None, grad_values, None, None


def _dense_plus_sparse(dense, sparse, alpha):
    """PyTorch's dense-sparse add/sub: sizes must match (no broadcasting), the result is dense."""
    if not isinstance(dense, Tensor):
        raise NotImplementedError(f"add: ember adds sparse tensors to tensors only, got "
                                  f"{type(dense).__name__}; convert with .to_dense() first")
    if tuple(dense.shape) != sparse._data.shape:
        raise RuntimeError(f"add: expected 'self' and 'other' to have same size, but self has "
                           f"size {list(dense.shape)} while other has size "
                           f"{list(sparse._data.shape)} (FYI: dense-sparse addition does not "
                           f"currently support broadcasting)")
    dtype = promote_types(from_numpy_dtype(dense._data.dtype),
                          from_numpy_dtype(sparse._data.dtype)).numpy
    return DensePlusSparse.apply(dense, sparse, alpha, dtype)


class SparseAddmm(Op):
    """(2-D sparse) @ (2-D dense) through scipy's CSR product; the sparse operand's gradient is
    PyTorch's ``(grad @ dense.T).sparse_mask(sparse)``, one value per stored entry."""

    accepts_layouts = True

    @staticmethod
    def forward(ctx, storage, dense):
        matrix = storage.csr()
        needs_sparse, needs_dense = ctx.needs_input_grad
        ctx.storage = storage if needs_sparse else None
        ctx.matrix = matrix if needs_dense else None
        ctx.save_for_backward(dense if needs_sparse else None)
        return np.asarray(matrix @ dense, dtype=storage.dtype)

    @staticmethod
    def backward(ctx, grad):
        (dense,) = ctx.saved_tensors
        needs_sparse, needs_dense = ctx.needs_input_grad
        grad_values = grad_dense = None
        if needs_sparse:
            grad_values = _entry_products(ctx.storage.indices, grad, dense)
        if needs_dense:
            grad_dense = np.asarray(ctx.matrix.T @ grad, dtype=grad.dtype)
        return grad_values, grad_dense


def _entry_products(indices, grad, dense):
    """grad[row] . dense[column] for every entry (row, column), in bounded chunks."""
    rows, columns = indices
    out = np.empty(rows.shape[0], np.result_type(grad.dtype, dense.dtype))
    step = max(1, _CHUNK_ELEMENTS // max(1, dense.shape[1]))
    for start in range(0, rows.shape[0], step):
        stop = start + step
        out[start:stop] = np.einsum("ij,ij->i", grad[rows[start:stop]],
                                    dense[columns[start:stop]])
    return out


class SparseSum(Op):
    """The sum over ``dims`` (sparse and dense dims): a dense result when no sparse dim is
    left, else a coalesced sparse one."""

    accepts_layouts = True

    @staticmethod
    def forward(ctx, storage, dims, numpy_dtype):
        sparse_dim = storage.sparse_dim
        values = storage.values.astype(numpy_dtype, copy=False)
        ctx.input_dtype = storage.dtype
        ctx.values_shape = storage.values.shape
        dense_axes = tuple(1 + dim - sparse_dim for dim in dims if dim >= sparse_dim)
        ctx.dense_axes = dense_axes
        if dense_axes:
            values = values.sum(axis=dense_axes)
        kept = [dim for dim in range(sparse_dim) if dim not in dims]
        dense_sizes = tuple(size for dim, size in enumerate(storage.shape)
                            if dim >= sparse_dim and dim not in dims)
        if not kept:
            ctx.inverse = None
            return values.sum(axis=0).astype(numpy_dtype, copy=False)
        reduced = _storage(storage.indices[kept], values,
                           tuple(storage.shape[dim] for dim in kept) + dense_sizes, False)
        indices, inverse = _coalesce_plan(reduced)
        ctx.inverse = inverse
        return _storage(indices, _sum_rows(values, inverse, indices.shape[1]), reduced.shape,
                        True)

    @staticmethod
    def backward(ctx, grad):
        rows = np.broadcast_to(grad, (ctx.values_shape[0],) + grad.shape) if ctx.inverse is None \
            else grad[ctx.inverse]
        if ctx.dense_axes:
            rows = np.expand_dims(rows, ctx.dense_axes)
        grad_values = np.broadcast_to(rows, ctx.values_shape).astype(ctx.input_dtype)
        return grad_values, None, None

    def name(self):
        return "SumBackward0"


class SparseSoftmax(Op):
    """torch.sparse.softmax / log_softmax along ``dim``: over the specified entries only (the
    unspecified ones count as -inf), so the result keeps the coalesced input's indices. Along a
    sparse dim the entries that share every other sparse index form one group."""

    accepts_layouts = True

    @staticmethod
    def forward(ctx, storage, dim, log):
        ctx.inverse = None
        indices, values = storage.indices, storage.values
        if not storage.coalesced:
            indices, ctx.inverse = _coalesce_plan(storage)
            values = _sum_rows(values, ctx.inverse, indices.shape[1])
        sparse_dim = storage.sparse_dim
        if dim >= sparse_dim:  # a dense dim: an ordinary softmax of each entry's values
            axis = 1 + dim - sparse_dim
            shifted = values - values.max(axis=axis, keepdims=True)
            ctx.group = None
            ctx.axis = axis
        else:
            others = [row for row in range(sparse_dim) if row != dim]
            sizes = tuple(storage.shape[row] for row in others)
            flat = np.ravel_multi_index(tuple(indices[others]), sizes) if others else \
                np.zeros(indices.shape[1], np.int64)
            _, group = np.unique(flat, return_inverse=True)
            group = group.reshape(-1)
            count = int(group.max()) + 1 if group.size else 0
            peak = np.full((count,) + values.shape[1:], -np.inf, values.dtype)
            np.maximum.at(peak, group, values)
            shifted = values - peak[group]
            ctx.group = group
            ctx.count = count
        exponentials = np.exp(shifted)
        totals = _group_sums(ctx, exponentials)
        output = shifted - np.log(totals) if log else exponentials / totals
        ctx.log = log
        ctx.save_for_backward(output)
        return _storage(indices, output.astype(values.dtype, copy=False), storage.shape, True)

    @staticmethod
    def backward(ctx, grad):
        (output,) = ctx.saved_tensors
        if ctx.log:
            grad_values = grad - np.exp(output) * _group_sums(ctx, grad)
        else:
            grad_values = output * (grad - _group_sums(ctx, grad * output))
        if ctx.inverse is not None:  # every duplicate of an entry added into its value
            grad_values = grad_values[ctx.inverse]
        return grad_values, None, None

    def name(self):
        return "SparseLogSoftmaxBackward0" if self.log else "SparseSoftmaxBackward0"


def _group_sums(ctx, values):
    """Each entry's group total of ``values`` (along the dense axis for a dense softmax dim)."""
    if ctx.group is None:
        return values.sum(axis=ctx.axis, keepdims=True)
    totals = np.zeros((ctx.count,) + values.shape[1:], values.dtype)
    np.add.at(totals, ctx.group, values)
    return totals[ctx.group]


# ---- the Tensor subclass ----------------------------------------------------------------------
class SparseLayoutMethods:
    """What every sparse layout's tensor does alike: no NumPy view, never contiguous, products
    through its own module's ``_matmul`` (ops sit below the sparse package)."""

    __slots__ = ()
    _layout_name = "Sparse"

    def _nnz(self):
        return self._data.nnz

    def is_contiguous(self, memory_format=None):
        return False

    def numpy(self, force=False):
        raise TypeError(f"can't convert {self._layout_name} layout tensor to numpy. Use "
                        f"Tensor.to_dense() first.")

    def __array__(self, dtype=None, copy=None):
        return self.numpy()

    def mm(self, mat2):
        return self._matmul(self, mat2, "mm")

    def matmul(self, other):
        return self._matmul(self, other)

    def __matmul__(self, other):
        return self._matmul(self, other)

    def __rmatmul__(self, other):
        return self._matmul(other, self)

    @classmethod
    def _product(cls, input, other, operation):
        """``ember.mm``/``matmul`` with an operand of this layout."""
        return cls._matmul(input, other, operation)


class SparseTensor(SparseLayoutMethods, Tensor):
    """A tensor with ``layout=ember.sparse_coo`` (``torch.sparse_coo_tensor``'s result)."""

    __slots__ = ()
    is_sparse = True

    @staticmethod
    def _matmul(input, other, operation="matmul"):
        return matmul(input, other, operation)

    def smm(self, mat):
        """This sparse matrix times a dense one, as a sparse result holding every column of
        each row that has an entry here (zeros included, uncoalesced, as PyTorch's)."""
        product = matmul(self, mat, "smm")
        rows = np.unique(self.coalesce()._indices()._data[0])
        columns = product.shape[1]
        indices = np.stack([np.repeat(rows, columns), np.tile(np.arange(columns), rows.size)])
        values = product[Tensor._wrap(indices[0]), Tensor._wrap(indices[1])]
        return sparse_coo_tensor(Tensor._wrap(indices), values, tuple(product.shape),
                                 is_coalesced=False)

    @staticmethod
    def _from_storage(storage, requires_grad=False):
        tensor = Tensor._wrap(storage, requires_grad)
        tensor.__class__ = SparseTensor
        return tensor

    @property
    def layout(self):
        return sparse_coo

    # ---- structure ---------------------------------------------------------------------------
    def sparse_dim(self):
        return self._data.sparse_dim

    def dense_dim(self):
        return len(self._data.shape) - self._data.sparse_dim

    def is_coalesced(self):
        return self._data.coalesced

    def coalesce(self):
        """Unique indices in row-major order, duplicates summed (self when already so)."""
        if self._data.coalesced:
            return self
        return Coalesce.apply(self)

    def indices(self):
        if not self._data.coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call "
                               ".coalesce() first")
        return Tensor._wrap(self._data.indices)

    def values(self):
        if not self._data.coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call "
                               ".coalesce() first")
        return Values.apply(self)

    def _indices(self):
        return Tensor._wrap(self._data.indices)

    def _values(self):
        """The values as stored (duplicates included), without history, as PyTorch's."""
        return Tensor._wrap(self._data.values)

    # ---- conversions -------------------------------------------------------------------------
    def to_dense(self, dtype=None, *, masked_grad=True):
        if not masked_grad and self._requires_grad:
            raise NotImplementedError("to_dense(masked_grad=False): ember's sparse gradients "
                                      "are masked to the indices; use masked_grad=True")
        if dtype is not None:
            raise RuntimeError("dtype argument is not supported by sparse_to_dense")
        return ToDense.apply(self)

    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
        if layout not in (None, sparse_coo) or blocksize is not None:
            raise NotImplementedError(f"to_sparse: ember converts a COO tensor to {layout} "
                                      f"through to_sparse_csr() only")
        if dense_dim is not None:
            sparse_dim = len(self._data.shape) - dense_dim
        if sparse_dim is not None and sparse_dim != self._data.sparse_dim:
            raise NotImplementedError("to_sparse: changing the sparse_dim of a sparse tensor is "
                                      "not supported by ember")
        return self

    def clone(self, *, memory_format=None):
        return Clone.apply(self)

    def detach(self):
        return SparseTensor._from_storage(self._data)

    @property
    def data(self):
        return SparseTensor._from_storage(self._data)

    @data.setter
    def data(self, value):
        if not isinstance(value, SparseTensor):
            raise TypeError(f"data: a sparse tensor's data must be a sparse tensor, got "
                            f"{type(value).__name__}")
        self._data = value._data

    def t(self):
        if len(self._data.shape) != 2 or self._data.sparse_dim != 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 sparse and 0 dense dimensions, "
                               f"but got {self._data.sparse_dim} sparse and "
                               f"{self.dense_dim()} dense dimensions")
        return T.apply(self)

    # ---- products and reductions -------------------------------------------------------------
    def mul(self, other):
        if isinstance(other, Tensor) or not isinstance(other, (int, float)) or \
                isinstance(other, bool):
            raise NotImplementedError(f"mul: ember multiplies sparse tensors by Python numbers "
                                      f"only, got {type(other).__name__}")
        return Mul.apply(self, other)

    __mul__ = mul
    __rmul__ = mul

    def __truediv__(self, other):
        if not isinstance(other, (int, float)) or isinstance(other, bool):
            raise NotImplementedError(f"div: ember divides sparse tensors by Python numbers "
                                      f"only, got {type(other).__name__}")
        return Div.apply(self, other)

    def add(self, other, *, alpha=1):
        """sparse + sparse (GCN code adds self-loops to an adjacency this way); sparse + dense
        is PyTorch's refusal."""
        if isinstance(other, SparseTensor):
            return _sparse_sum_of(self, other, alpha)
        # a number is a dense 0-d tensor to PyTorch here
        raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) "
                           "instead.")

    def sub(self, other, *, alpha=1):
        if isinstance(other, SparseTensor):
            return _sparse_sum_of(self, other, -alpha)
        return self.add(other, alpha=-alpha)

    __add__ = add
    __sub__ = sub

    def __radd__(self, other):
        return _dense_plus_sparse(other, self, 1)

    def __rsub__(self, other):
        return _dense_plus_sparse(other, self, -1)

    def __neg__(self):
        return Mul.apply(self, -1)

    def sum(self, dim=None, keepdim=False, dtype=None):
        if keepdim:
            raise NotImplementedError("sum: keepdim=True is not supported for sparse tensors")
        return sparse_sum(self, dim, dtype=dtype)

    # ---- autograd ----------------------------------------------------------------------------
    def _grad_from_values(self, grad):
        """A gradient aligned with the values as a sparse tensor on the coalesced pattern (every
        copy of a duplicated index received the same gradient: keep the first). Like PyTorch's
        sparse_mask result it is not marked coalesced."""
        if isinstance(grad, Tensor):
            grad = grad._data
        storage = self._data
        grad = np.asarray(grad, storage.dtype)
        if storage.coalesced:
            return _sparse_grad(storage.indices, grad, storage.shape)
        _, first = np.unique(storage.flat_indices(), return_index=True)
        return _sparse_grad(storage.indices[:, first], grad[first], storage.shape)

    def _accumulate_values_grad(self, grad):
        """AccumulateGrad for a sparse leaf: ``.grad`` is a sparse tensor."""
        fresh = self._grad_from_values(grad)
        existing = self._grad
        if existing is None:
            self._grad = fresh
            return
        if not existing.is_sparse:
            existing._data = existing._data + fresh.to_dense()._data
            return
        both = _storage(np.concatenate([existing._data.indices, fresh._data.indices], axis=1),
                        np.concatenate([existing._data.values, fresh._data.values]),
                        fresh._data.shape, False)
        indices, inverse = _coalesce_plan(both)
        self._grad = _sparse_grad(indices, _sum_rows(both.values, inverse, indices.shape[1]),
                                  both.shape)

    def zero_(self):
        """Drop every entry (nnz becomes 0, the size stays), as PyTorch's sparse zero_."""
        storage = self._data
        self._data = _storage(np.zeros((storage.sparse_dim, 0), np.int64),
                              np.zeros((0,) + storage.values.shape[1:], storage.dtype),
                              storage.shape, True)
        self._bump_version()
        return self

    def register_hook(self, hook):
        raise NotImplementedError("register_hook: not supported on sparse tensors by ember")

    def retain_grad(self):
        raise NotImplementedError("retain_grad: not supported on sparse tensors by ember")

    def __reduce_ex__(self, protocol):
        storage = self._data
        return (_rebuild, (storage.indices, storage.values, storage.shape, storage.coalesced,
                           self._requires_grad))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support "
                               "the deepcopy protocol at the moment.")
        storage = self._data
        out = SparseTensor._from_storage(_storage(storage.indices.copy(), storage.values.copy(),
                                                  storage.shape, storage.coalesced),
                                         self._requires_grad)
        memo[id(self)] = out
        return out

    def __repr__(self):
        return _format_sparse(self)


SparseCOOStorage.tensor_type = SparseTensor
SparseCOOStorage.dense_plus = staticmethod(_dense_plus_sparse)


def _sparse_sum_of(first, second, alpha):
    """``first + alpha * second`` after PyTorch's checks of the two sparse operands."""
    if first._data.shape != second._data.shape:
        raise RuntimeError(f"add: expected sizes of 'self' and 'other' to match, but "
                           f"{list(first._data.shape)} != {list(second._data.shape)}")
    if first._data.sparse_dim != second._data.sparse_dim or \
            first._data.dtype != second._data.dtype:
        raise NotImplementedError("add: ember adds sparse tensors of one dtype and one number of "
                                  "sparse dims; convert with .to_dense() first")
    return SparseAdd.apply(first, second, alpha)


def _sparse_grad(indices, values, shape):
    return SparseTensor._from_storage(_storage(indices, values, shape, False))


def accumulate_sparse_grad(leaf, indices, values):
    """PyTorch's AccumulateGrad of a sparse gradient (``values[k]`` at ``indices[:, k]``) into the
    dense leaf ``leaf`` (the weight of ``Embedding(sparse=True)``): the first becomes ``.grad``;
    a dense ``.grad`` takes it in place; a sparse one is concatenated with it, uncoalesced, as
    PyTorch's sparse add leaves it."""
    values = values.astype(leaf._data.dtype, copy=False)
    existing = leaf._grad
    if existing is None:
        leaf._grad = SparseTensor._from_storage(
            _storage(indices, values, leaf._data.shape, indices.shape[1] <= 1))
    elif not existing.is_sparse:
        if existing._requires_grad:
            raise RuntimeError("accumulating a sparse gradient into a .grad that requires grad "
                               "is not supported by ember")
        if not existing._data.flags.writeable:
            existing._data = existing._data.copy()
        np.add.at(existing._data, tuple(indices), values)
    else:
        storage = existing._data
        both_indices = np.concatenate([storage.indices, indices], axis=1)
        leaf._grad = SparseTensor._from_storage(
            _storage(both_indices, np.concatenate([storage.values, values]), storage.shape,
                     both_indices.shape[1] <= 1))


def negated_storage(storage):
    """The storage of ``-sparse`` (an optimizer's maximize)."""
    return _storage(storage.indices, -storage.values, storage.shape, storage.coalesced)


def coalesced_storage(storage):
    """``storage`` with unique indices in row-major order, duplicates summed."""
    if storage.coalesced:
        return storage
    indices, inverse = _coalesce_plan(storage)
    return _storage(indices, _sum_rows(storage.values, inverse, indices.shape[1]),
                    storage.shape, True)


def add_to_dense(array, storage, alpha=1.0):
    """``array += alpha * sparse`` in place (PyTorch's ``dense.add_(sparse, alpha=alpha)``):
    each entry scaled in the array's dtype, duplicated indices each added."""
    scaled = storage.values * array.dtype.type(alpha) if alpha != 1.0 else storage.values
    if storage.coalesced:
        array[tuple(storage.indices)] += scaled
    else:
        np.add.at(array, tuple(storage.indices), scaled)


def _rebuild(indices, values, shape, coalesced, requires_grad):
    return SparseTensor._from_storage(_storage(indices, values, shape, coalesced), requires_grad)


def refuse_array_methods(tensor_class, names, description):
    """Give ``tensor_class`` each of ``names`` (methods that read or write a tensor's array
    directly, not through an op) as one that raises NotImplementedError naming the operation
    and ``description`` (the layout)."""
    for name in names:
        # x + sparse runs sparse.__radd__ first (a subclass's reflected operator wins): say "add".
        reflected = name.startswith("__r") and name != "__rmatmul__"
        setattr(tensor_class, name, _unsupported(name.strip("_")[1 if reflected else 0:],
                                                 description))


def _unsupported(name, description):
    def method(self, *args, **kwargs):
        raise NotImplementedError(f"{name}: not supported for {description} by ember; convert "
                                  f"with .to_dense() first")
    method.__name__ = name
    return method


ARRAY_METHODS = (
    "view", "reshape", "view_as", "reshape_as", "__getitem__", "__setitem__", "tolist", "item",
    "__iter__", "copy_", "fill_", "add_", "sub_", "mul_", "div_", "__iadd__", "__isub__",
    "__imul__", "__itruediv__", "stride", "data_ptr", "contiguous", "flatten", "expand",
    "permute", "transpose", "squeeze", "unsqueeze", "__rtruediv__",
    "__pow__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__")
refuse_array_methods(SparseTensor, ARRAY_METHODS, "sparse tensors (layout=ember.sparse_coo)")
SparseTensor.__hash__ = Tensor.__hash__  # defining __eq__ above would otherwise drop it


# ---- printing ---------------------------------------------------------------------------------
def _format_sparse(tensor):
    """PyTorch's repr of a sparse tensor: indices and values, then size, nnz, dtype (when not a
    default one), layout and autograd state, the first on a new line and the rest wrapped at
    80 columns."""
    storage = tensor._data
    indent = len("tensor(")
    indices_text = _format_array(storage.indices, indent + len("indices=tensor("))
    if storage.indices.size == 0:
        indices_text += f", size={tuple(storage.indices.shape)}"
    values_text = _format_array(storage.values, indent + len("values=tensor("))
    if storage.values.size == 0:
        values_text += f", size={tuple(storage.values.shape)}"
    text = (f"tensor(indices=tensor({indices_text}),\n" + " " * indent
            + f"values=tensor({values_text})")
    suffixes = [f"size={tuple(storage.shape)}", f"nnz={storage.nnz}"]
    if storage.dtype not in (get_default_dtype().numpy, np.int64, np.bool_):
        suffixes.append(f"dtype={from_numpy_dtype(storage.dtype)!r}")
    suffixes.append(f"layout={sparse_coo!r}")
    if tensor.grad_fn is not None:
        suffixes.append(f"grad_fn=<{tensor.grad_fn.name()}>")
    elif tensor._requires_grad:
        suffixes.append("requires_grad=True")
    line_length = 0
    force_newline = True
    for suffix in suffixes:
        if force_newline or line_length + len(suffix) + 2 > 80:
            text += ",\n" + " " * indent + suffix
            line_length = indent + len(suffix)
            force_newline = False
        else:
            text += ", " + suffix
            line_length += len(suffix) + 2
    return text + ")"


# ---- public functions -------------------------------------------------------------------------
def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None,
                      requires_grad=False, check_invariants=None, is_coalesced=None):
    """A sparse COO tensor with ``values[k]`` at ``indices[:, k]`` (torch.sparse_coo_tensor);
    the size is inferred from the indices when not given. ember always checks the indices
    against the size (PyTorch's ``check_invariants=True``)."""
    check_cpu(device, "sparse_coo_tensor")
    _scipy_sparse()
    index_array = _index_array(indices)
    if not isinstance(values, Tensor):
        values = Tensor._wrap(_to_array(values, dtype))
    elif dtype is not None and to_dtype(dtype).numpy != values._data.dtype:
        values = values.to(dtype)
    if values._data.ndim == 0:
        raise RuntimeError(f"values has incorrect size, expected [{index_array.shape[1]}], got "
                           f"{list(values.shape)}")
    shape = _checked_size(index_array, values._data.shape, size)
    if requires_grad and values._data.dtype.kind != "f":
        raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                           "gradients")
    coalesced = bool(is_coalesced) or index_array.shape[1] <= 1
    if requires_grad and not values._requires_grad:
        values = values.detach()
    result = SparseCooTensorWithDimsAndTensors.apply(values, index_array, shape, coalesced)
    if requires_grad and result.grad_fn is None:
        result.requires_grad_()
    return result


def _index_array(indices):
    array = indices._data if isinstance(indices, Tensor) else np.asarray(indices)
    if array.dtype.kind not in "iuf" or array.dtype.kind == "f" and array.size and \
            not np.all(np.isfinite(array)):
        raise RuntimeError(f"indices must be an int64 tensor, got {array.dtype}")
    if array.ndim != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(array.shape)}")
    return array.astype(np.int64)


def _checked_size(indices, values_shape, size):
    """The size (inferred when None) after PyTorch's checks of indices, values and size."""
    sparse_dim, nnz = indices.shape
    if values_shape[0] != nnz:
        raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: "
                           f"{nnz}, nnz from values: {values_shape[0]}")
    dense_sizes = tuple(values_shape[1:])
    if nnz:
        lowest = indices.min(axis=1)
        highest = indices.max(axis=1)
        for dim in range(sparse_dim):
            if lowest[dim] < 0:
                raise RuntimeError(f"found negative index {int(lowest[dim])} for dim {dim}")
    if size is None:
        inferred = tuple(int(value) + 1 for value in highest) if nnz else (0,) * sparse_dim
        return inferred + dense_sizes
    shape = tuple(int(length) for length in size)
    if len(shape) != sparse_dim + len(dense_sizes):
        raise RuntimeError(f"'len(size) == sparse_dim + dense_dim' is not satisfied: len(size) "
                           f"= {len(shape)}, sparse_dim = {sparse_dim}, dense_dim = "
                           f"{len(dense_sizes)}")
    if shape[sparse_dim:] != dense_sizes:
        raise RuntimeError(f"values has incorrect size, expected {[nnz, *shape[sparse_dim:]]}, "
                           f"got {list(values_shape)}")
    for dim in range(sparse_dim if nnz else 0):
        if highest[dim] >= shape[dim]:
            raise RuntimeError(f"size is inconsistent with indices: for dim {dim}, size is "
                               f"{shape[dim]} but found index {int(highest[dim])}")
    return shape


def cast(input, dtype):
    """The sparse tensor with its values converted to ``dtype`` (Tensor.to's sparse case)."""
    return ToCopy.apply(input, dtype.numpy)


def to_sparse(input, sparse_dim=None):
    """A dense tensor's nonzero entries as a coalesced sparse COO tensor (Tensor.to_sparse)."""
    if input.is_sparse:
        return input.to_sparse(sparse_dim)
    _scipy_sparse()
    ndim = input._data.ndim
    sparse_dim = ndim if sparse_dim is None else sparse_dim
    if not 0 < sparse_dim <= ndim:
        raise RuntimeError(f"sparse_dim must be in [1, {ndim}] for a {ndim}-D tensor, got "
                           f"{sparse_dim}")
    return ToSparse.apply(input, sparse_dim)


def _check_mm_operands(sparse, dense, operation):
    storage = sparse._data
    if storage.sparse_dim != 2 or len(storage.shape) != 2:
        raise RuntimeError(f"{operation}: expected a 2-D sparse matrix with no dense dimensions, "
                           f"got size {list(storage.shape)} with sparse_dim "
                           f"{storage.sparse_dim}")
    if dense._data.ndim != 2:
        raise RuntimeError(f"{operation}: expected a 2-D dense matrix, got "
                           f"{dense._data.ndim}-D")
    if dense._data.dtype != storage.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(storage.dtype)} but found "
                           f"{scalar_type_name(dense._data.dtype)}")
    if dense._data.shape[0] != storage.shape[1]:
        raise RuntimeError(f"addmm: Argument #3 (dense): Expected dim 0 size "
                           f"{storage.shape[1]}, got {dense._data.shape[0]}")


def matmul(input, other, operation="matmul"):
    """sparse @ dense, dense @ sparse (2-D, or a 1-D dense vector with matmul), with gradients
    to the dense operand and to the sparse operand's values."""
    for position, value in enumerate((input, other), 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"{operation}(): argument '{'input' if position == 1 else 'mat2'}' "
                            f"(position {position}) must be Tensor, not {type(value).__name__}")
    if input.is_sparse_csr != other.is_sparse_csr:  # torch.sparse.mm of a CSR matrix
        return (input if input.is_sparse_csr else other)._product(input, other, operation)
    if input.layout is not strided and other.layout is not strided:
        raise NotImplementedError(f"{operation}: sparse @ sparse is not supported by ember; "
                                  f"convert one operand with .to_dense()")
    if input.is_sparse:
        if other._data.ndim == 1 and operation == "matmul":
            return squeeze(matmul(input, unsqueeze(other, 1)), 1)
        if other._data.ndim == 1:
            raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but "
                             "got 1)")
        _check_mm_operands(input, other, operation)
        return SparseAddmm.apply(input, other)
    if input._data.ndim == 1 and operation == "matmul":
        return squeeze(matmul(unsqueeze(input, 0), other), 0)
    if input._data.ndim != 2:
        raise RuntimeError(f"{operation}: expected a 2-D dense matrix, got "
                           f"{input._data.ndim}-D")
    # dense @ sparse = (sparse.T @ dense.T).T: the transpose keeps the values' order.
    return transpose(matmul(other.t(), transpose(input, 0, 1), operation), 0, 1)


def mm(mat1, mat2, reduce=None):
    """torch.sparse.mm: a sparse matrix times a dense or sparse one."""
    if reduce is not None:
        raise NotImplementedError("sparse.mm: the reduce argument is not supported by ember")
    if mat1.is_sparse_csr or mat2.is_sparse_csr:
        return (mat1 if mat1.is_sparse_csr else mat2)._product(mat1, mat2, "sparse.mm")
    return matmul(mat1, mat2, "mm")


def spmm(input, mat2):
    """torch.spmm: sparse @ dense."""
    return matmul(input, mat2, "mm")


def _sparse_softmax(input, dim, dtype, log):
    operation = "log_softmax" if log else "softmax"
    if not isinstance(input, Tensor) or not input.is_sparse:
        raise NotImplementedError(f"Could not run 'aten::_sparse_{operation}' with arguments "
                                  f"from the 'CPU' backend: torch.sparse.{operation} takes a "
                                  f"sparse COO tensor (F.{operation} takes a strided one)")
    ndim = len(input._data.shape)
    if not -ndim <= dim < ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, "
                         f"{ndim - 1}], but got {dim})")
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f'"{operation}" not implemented for '
                                  f"'{scalar_type_name(input._data.dtype)}'")
    return SparseSoftmax.apply(input, dim % ndim, log)


def softmax(input, dim, *, dtype=None):
    """torch.sparse.softmax: softmax over the specified entries along ``dim``."""
    return _sparse_softmax(input, dim, dtype, False)


def log_softmax(input, dim, *, dtype=None):
    """torch.sparse.log_softmax: log_softmax over the specified entries along ``dim``."""
    return _sparse_softmax(input, dim, dtype, True)


def sparse_sum(input, dim=None, dtype=None):
    """torch.sparse.sum: the sum over ``dim`` (all dims when None); dense when no sparse dim
    is left, sparse otherwise."""
    if not input.is_sparse:
        return input.sum(dim) if dim is not None else input.sum()
    storage = input._data
    ndim = len(storage.shape)
    if dim is None:
        dims = tuple(range(ndim))
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        normalized = []
        for value in dims:
            if not -ndim <= value < ndim:
                raise IndexError(f"Dimension out of range (expected to be in range of "
                                 f"[{-ndim}, {ndim - 1}], but got {value})")
            normalized.append(value % ndim)
        if len(set(normalized)) != len(normalized):
            raise RuntimeError("sparse.sum: duplicate dims are not allowed")
        dims = tuple(sorted(normalized))
    target = storage.dtype if dtype is None else to_dtype(dtype).numpy
    if dtype is None and storage.dtype.kind in "bi" and storage.dtype != np.int64:
        target = np.dtype(np.int64)
    return SparseSum.apply(input, dims, target)
