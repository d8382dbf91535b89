"""Broadcasting's rules that ops share: ``unbroadcast``, the one place where it is undone in
backward, ``expanded_shape``, what expand checks, and ``mismatch_error``, PyTorch's error for
shapes that do not broadcast."""
import numpy as np

from .._dtype import tensor_type_name


def broadcast_view(array, shape):
    """``np.broadcast_to(array, shape)`` (a read-only view) for an array known to broadcast to
    ``shape``: a C-contiguous one is viewed directly, without np.broadcast_to's checks and
    iterator (about 3 us a call, more than the small ops whose backward broadcasts)."""
    if type(array) is not np.ndarray or not array.flags.c_contiguous or not array.size:
        return np.broadcast_to(array, shape)
    extra = len(shape) - array.ndim
    strides = (0,) * extra + tuple([0 if size == 1 else stride
                                    for size, stride in zip(array.shape, array.strides)])
    view = np.ndarray(shape, array.dtype, array, 0, strides)
    view.flags.writeable = False
    return view


def expanded_shape(array, sizes):
    """The shape ``array`` expands to for ``sizes`` (-1 keeps a size), with PyTorch's errors
    (expand, and a value copied into an indexed region)."""
    shape = array.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand({tensor_type_name(array.dtype)}{{{list(shape)}}}, "
                           f"size={list(sizes)}): the number of sizes "
                           f"provided ({len(sizes)}) must be greater or equal to the number of "
                           f"dimensions in the tensor ({len(shape)})")
    leading = len(sizes) - len(shape)
    padded = (1,) * leading + shape
    target = [0] * len(sizes)
    # PyTorch checks from the last dimension back, so the last bad dimension is the one named
    for axis in range(len(sizes) - 1, -1, -1):
        size = sizes[axis]
        existing = padded[axis]
        if size == -1:
            if axis < leading:
                raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a "
                                   f"leading, non-existing dimension {axis}")
            size = existing
        if existing != 1 and size != existing:
            raise RuntimeError(f"The expanded size of the tensor ({size}) must match the existing "
                               f"size ({existing}) at non-singleton dimension {axis}.  Target "
                               f"sizes: {list(sizes)}.  Tensor sizes: {list(shape)}")
        target[axis] = size
    if min(target, default=0) < 0:
        raise RuntimeError(f"expand({tensor_type_name(array.dtype)}{{{list(shape)}}}, "
                           f"size={list(sizes)}): the expanded size {min(target)} is negative "
                           f"(only -1, keep the size, is allowed)")
    return tuple(target)


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``. Works on
    arrays and, under create_graph, on Tensors (through their array-API namespace)."""
    if grad.shape == shape:
        return grad
    xp = np if type(grad) is np.ndarray else grad.__array_namespace__()
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + axis for axis, size in enumerate(shape) if size == 1 and grad.shape[extra + axis] != 1)
    if axes:
        # np.add.reduce is np.sum without its Python-level dispatch
        grad = np.add.reduce(grad, axis=axes, keepdims=True) if xp is np else \
            xp.sum(grad, axis=axes, keepdims=True)
    if extra:
        grad = xp.reshape(grad, grad.shape[extra:])
    if grad.shape != shape:
        grad = broadcast_view(grad, shape) if xp is np else xp.broadcast_to(grad, shape)
    return grad


def mismatch_error(shape_a, shape_b):
    """PyTorch's RuntimeError for two shapes that do not broadcast, naming the first mismatching
    dimension from the right; None when they broadcast."""
    rank = max(len(shape_a), len(shape_b))
    for offset in range(1, rank + 1):
        size_a = shape_a[-offset] if offset <= len(shape_a) else 1
        size_b = shape_b[-offset] if offset <= len(shape_b) else 1
        if size_a != size_b and size_a != 1 and size_b != 1:
            return RuntimeError(f"The size of tensor a ({size_a}) must match the size of tensor "
                                f"b ({size_b}) at non-singleton dimension {rank - offset}")
    return None
