"""``torch._dynamo._trace_wrapped_higher_order_op``: TransformGetItemToIndex, the mode that
transformers enters around masks built with vmap (``padding_mask[batch_idx, kv_idx]`` with
index tensors)."""
import numpy

from .overrides import TorchFunctionMode
from .tensor import Tensor

__all__ = ["TransformGetItemToIndex"]


class TransformGetItemToIndex(TorchFunctionMode):
    """Inside it, indexing a tensor by ints and tensors only is advanced indexing by int64
    tensors (an int becomes a 0-d tensor), so a 0-d index tensor is never read as a Python int
    (``.item()``, which vmap refuses) to make a view."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is Tensor.__getitem__:
            indexed = args[0]
            if not isinstance(indexed, Tensor):
                raise AssertionError(f"expected torch.Tensor, got {type(indexed)}")
            indices = args[1] if isinstance(args[1], tuple) else (args[1],)
            if all(isinstance(index, (Tensor, int)) for index in indices):
                as_tensors = tuple(index if isinstance(index, Tensor)
                                   else Tensor._wrap(numpy.array(index, dtype=numpy.int64))
                                   for index in indices)
                return func(indexed, as_tensors)
        return func(*args, **(kwargs or {}))
