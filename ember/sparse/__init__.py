"""Sparse COO tensors (``torch.sparse``): ``ember.sparse_coo_tensor``, ``Tensor.to_sparse``,
``sparse.mm``, ``sparse.sum`` and sparse @ dense products, with gradients to the dense operand
and to the values; and 2-D CSR matrices (``ember.sparse_csr_tensor``, ``Tensor.to_sparse_csr``)
for products with dense matrices. Both run on ``scipy.sparse`` (the ``sparse`` extra, imported
when the first sparse tensor is made)."""
import numpy as np

from .._dtype import float32, float64, int64
from ..tensor import Tensor, warn_once
from ._coo import (  # noqa: F401
    SparseTensor, cast, log_softmax, matmul, mm, softmax, sparse_coo_tensor, sparse_sum, spmm,
    to_sparse)
from ._csr import SparseCsrTensor, sparse_csr_tensor, to_sparse_csr, to_sparse_layout  # noqa: F401
from ._csr import cast as csr_cast  # noqa: F401

__all__ = ["DoubleTensor", "FloatTensor", "LongTensor", "log_softmax", "mm", "softmax", "sum"]

sum = sparse_sum


def _legacy_constructor(dtype):
    def constructor(*args, device=None):
        """PyTorch's deprecated ``torch.sparse.<Type>Tensor``: ``(indices, values[, size])``
        keeps the values' dtype (as PyTorch does); ``(*size)`` or ``()`` is an empty tensor of
        the type."""
        if len(args) >= 2 and isinstance(args[0], Tensor):
            if not isinstance(args[1], Tensor) or len(args) > 3:
                raise TypeError(f"new() received an invalid combination of arguments; expected "
                                f"(Tensor indices, Tensor values[, tuple of ints size]), got "
                                f"{tuple(type(arg).__name__ for arg in args)}")
            if len(args) == 3:
                warn_once("torch.sparse.SparseTensor(indices, values, shape, *, device=) is "
                          "deprecated.  Please use torch.sparse_coo_tensor(indices, values, "
                          "shape, dtype=, device=).")
            else:
                warn_once("torch.sparse.SparseTensor(indices, values, *, device=) is deprecated."
                          "  Please use torch.sparse_coo_tensor(indices, values, dtype=, "
                          "device=).")
            return sparse_coo_tensor(*args, device=device)
        if not args:
            warn_once("torch.sparse.SparseTensor() is deprecated.  Please use "
                      "torch.sparse_coo_tensor((0,), dtype=).")
            size = (0,)
        else:
            warn_once("torch.sparse.SparseTensor(shape, *, device=) is deprecated.  Please use "
                      "torch.sparse_coo_tensor(shape, dtype=, device=).")
            size = tuple(args[0]) if len(args) == 1 and not isinstance(args[0], int) else args
        return sparse_coo_tensor(np.zeros((len(size), 0), np.int64),
                                 Tensor._wrap(np.zeros(0, dtype.numpy)), size, device=device)
    constructor.__name__ = dtype._scalar_type + "Tensor"
    return constructor


FloatTensor = _legacy_constructor(float32)
DoubleTensor = _legacy_constructor(float64)
LongTensor = _legacy_constructor(int64)
