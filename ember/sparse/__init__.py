"""Sparse COO tensors (``torch.sparse``): ``ember.sparse_coo_tensor``, ``Tensor.to_sparse``,
``sparse.mm``, ``sparse.sum`` and sparse @ dense products, with gradients to the dense operand
and to the values; and 2-D CSR matrices (``ember.sparse_csr_tensor``, ``Tensor.to_sparse_csr``)
for products with dense matrices. Both run on ``scipy.sparse`` (the ``sparse`` extra, imported
when the first sparse tensor is made)."""
from .._dtype import float32, float64, int64
from ._coo import (  # noqa: F401
    SparseTensor, cast, matmul, mm, sparse_coo_tensor, sparse_sum, spmm, to_sparse)
from ._csr import SparseCsrTensor, sparse_csr_tensor, to_sparse_csr  # noqa: F401
from ._csr import cast as csr_cast  # noqa: F401

__all__ = ["DoubleTensor", "FloatTensor", "LongTensor", "mm", "sum"]

sum = sparse_sum


def _legacy_constructor(dtype):
    def constructor(indices, values, size=None):
        """PyTorch's legacy ``torch.sparse.<Type>Tensor(indices, values, size)``."""
        return sparse_coo_tensor(indices, values, size, dtype=dtype)
    constructor.__name__ = dtype._scalar_type + "Tensor"
    return constructor


FloatTensor = _legacy_constructor(float32)
DoubleTensor = _legacy_constructor(float64)
LongTensor = _legacy_constructor(int64)
