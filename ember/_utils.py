"""``torch._utils``: the private helpers that public code imports from it, chiefly the
flattening of gradients into one buffer for a collective and back (``_flatten_dense_tensors``,
``_unflatten_dense_tensors``, as DDP-style all-reduce code does)."""
import warnings

from . import ops
from ._device import device as _device

__all__ = ["_element_size", "_flatten_dense_tensors", "_get_device_index",
           "_unflatten_dense_tensors", "is_compiling"]


def _flatten_dense_tensors(tensors):
    """The tensors' elements in one 1-D tensor, in order (a view of a single tensor)."""
    if len(tensors) == 1:
        return ops.contiguous(tensors[0]).view(-1)
    return ops.cat([ops.contiguous(tensor).view(-1) for tensor in tensors])


def _unflatten_dense_tensors(flat, tensors):
    """Views of ``flat`` shaped as ``tensors``, one after another (the inverse of
    ``_flatten_dense_tensors``)."""
    outputs = []
    offset = 0
    for tensor in tensors:
        count = tensor.numel()
        outputs.append(flat.narrow(0, offset, count).view_as(tensor))
        offset += count
    return tuple(outputs)


def _get_device_index(device, optional=False, allow_cpu=False):
    """The index of ``device`` (an int, a name or a device): -1 for the CPU where allowed."""
    if isinstance(device, str):
        device = _device(device)
    if isinstance(device, _device):
        if device.type == "cpu":
            if not allow_cpu:
                raise ValueError(f"Expected a non cpu device, but got: {device}")
            return -1
        if device.index is not None:
            return device.index
    elif isinstance(device, int) and not isinstance(device, bool):
        return device
    if optional:
        return 0
    raise ValueError(f"Expected a torch.device with a specified index or an integer, but got:"
                     f"{device}")


def _element_size(dtype):
    """The bytes of one element of ``dtype``."""
    return dtype.itemsize


def is_compiling():
    warnings.warn("`torch._utils.is_compiling` is deprecated. Use "
                  "`torch.compiler.is_compiling` instead.", stacklevel=2)
    return False
