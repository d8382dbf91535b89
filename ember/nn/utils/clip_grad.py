"""Gradient clipping by total norm or by value, in place on ``.grad`` (PyTorch's formulas)."""
import math
import types
import warnings

import numpy as np

from ..._dtype import get_default_dtype, real_dtype
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]


def _as_list(parameters, operation):
    if isinstance(parameters, Tensor):
        return [parameters]
    is_generator = isinstance(parameters, types.GeneratorType)
    parameters = list(parameters)
    if is_generator and len(parameters) == 0:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                      stacklevel=3)
    for parameter in parameters:
        if not isinstance(parameter, Tensor):
            raise TypeError(f"{operation}: expected an iterable of Tensors, got an element of "
                            f"type {type(parameter).__name__}")
    return parameters


def _vector_norm(array, norm_type):
    """The norm of the flattened array, in its own dtype (a complex array's: in the real dtype
    of its parts, over its magnitudes)."""
    if array.dtype.kind == "c":
        parts = np.ascontiguousarray(array).reshape(-1).view(real_dtype(array.dtype))
        if norm_type == 2.0:  # sum |z|^2 is the sum of the squared parts
            return _vector_norm(parts, 2.0)
        return _vector_norm(np.abs(array), norm_type)
    flat = array.reshape(-1)
    if flat.size == 0:
        return np.zeros((), dtype=array.dtype)
    if norm_type == 2.0:
        return np.sqrt(np.dot(flat, flat))
    absolute = np.abs(flat)
    if norm_type == math.inf:
        return absolute.max()
    if norm_type == -math.inf:
        return absolute.min()
    if norm_type == 0.0:
        return np.asarray(np.count_nonzero(flat), dtype=array.dtype)
    if norm_type == 1.0:
        return absolute.sum()
    return (absolute ** norm_type).sum() ** (1.0 / norm_type)


def _refuse_sparse(tensors, operator):
    """PyTorch's norm and clamp have no sparse kernels: its NotImplementedError, shortened."""
    for tensor in tensors:
        if tensor.is_sparse:
            raise NotImplementedError(f"Could not run 'aten::{operator}' with arguments from "
                                      f"the 'SparseCPU' backend.")


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of the per-tensor norms: the norm of all the tensors concatenated."""
    tensors = _as_list(tensors, "get_total_norm")
    norm_type = float(norm_type)
    if len(tensors) == 0:
        # PyTorch's torch.tensor(0.0): the default dtype.
        return Tensor._wrap(np.zeros((), dtype=get_default_dtype().numpy))
    _refuse_sparse(tensors, "linalg_vector_norm")
    dtype = real_dtype(np.result_type(*[tensor._data.dtype for tensor in tensors]))
    with np.errstate(invalid="ignore", over="ignore"):
        norms = [_vector_norm(tensor._data, norm_type) for tensor in tensors]
        stacked = np.array(norms, dtype=dtype)
        total_norm = np.asarray(_vector_norm(stacked, norm_type), dtype=dtype)
    if error_if_nonfinite and not np.isfinite(total_norm):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           "is non-finite, so it cannot be clipped. To disable this error and "
                           "scale the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`")
    return Tensor._wrap(total_norm)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale every ``.grad`` by ``min(max_norm / (total_norm + 1e-6), 1)``."""
    parameters = _as_list(parameters, "clip_grads_with_norm_")
    grads = [parameter._grad for parameter in parameters if parameter._grad is not None]
    if len(grads) == 0:
        return
    total = total_norm._data if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    clip_coefficient = float(max_norm) / (total + 1e-6)
    clip_coefficient = np.minimum(clip_coefficient, np.asarray(1.0, dtype=total.dtype))
    # A coefficient of exactly 1 (the norm within max_norm) leaves every value as it is: the
    # multiplication is skipped, the version still moves as after PyTorch's in-place mul_.
    unchanged = clip_coefficient == 1
    with np.errstate(invalid="ignore", over="ignore"):  # a non-finite norm scales like PyTorch
        for grad in grads:
            if not unchanged:
                target = grad._data.values if grad.is_sparse else grad._data
                target *= clip_coefficient.astype(target.dtype)
            grad._bump_version()


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Rescale the gradients so that their total norm is at most ``max_norm``; return that norm.

    The norm is taken over all gradients together, as if concatenated into one vector.
    """
    parameters = _as_list(parameters, "clip_grad_norm_")
    grads = [parameter._grad for parameter in parameters if parameter._grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every ``.grad`` into ``[-clip_value, clip_value]`` in place."""
    parameters = _as_list(parameters, "clip_grad_value_")
    clip_value = float(clip_value)
    _refuse_sparse([parameter._grad for parameter in parameters if parameter._grad is not None],
                   "clamp_")
    for parameter in parameters:
        grad = parameter._grad
        if grad is None:
            continue
        np.clip(grad._data, -clip_value, clip_value, out=grad._data)
        grad._bump_version()
