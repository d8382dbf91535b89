"""``unbroadcast``: the one place where broadcasting is undone in backward."""
import numpy as np


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
        grad = xp.sum(grad, axis=axes, keepdims=True)
    if extra:
        grad = xp.reshape(grad, grad.shape[extra:])
    if grad.shape != shape:
        grad = xp.broadcast_to(grad, shape)
    return grad
