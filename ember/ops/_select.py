"""``select``: np.where for the ops' and kernels' hot paths. NumPy's where over an unpredictable
mask is not vectorised (1M float32: 5.3 ms, against 0.5 ms for a compiled select); where the
operands fit it, one compiled pass computes the same values."""
import numpy as np

from .. import _jit

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# Below this many elements the checks cost what the kernel saves.
_MIN_ELEMENTS = 256
# Python ints that every float32 holds exactly (larger ones: NumPy's own conversion rules).
_EXACT_INT = 1 << 24


def select(condition, a, b):
    """``np.where(condition, a, b)``: the same values and dtype."""
    out = _compiled_select(condition, a, b)
    return np.where(condition, a, b) if out is None else out


def where(xp, condition, a, b):
    """``xp.where``, through ``select`` on arrays (a backward written against ``ctx.xp``)."""
    return select(condition, a, b) if xp is np else xp.where(condition, a, b)


def _compiled_select(condition, a, b):
    """The compiled select, or None where it does not apply: ``condition`` a bool array that
    broadcasts to the result, ``a`` and ``b`` C-contiguous arrays of the result's shape and one
    float dtype, or one of them a Python number (which takes the array's dtype, as NumPy's weak
    scalars do) or a 0-d array of the other's dtype (masked_fill's value)."""
    if type(condition) is not np.ndarray or condition.dtype != np.bool_:
        return None
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim and b.ndim:
        if not (_fits(a) and a.shape == b.shape and _fits(b) and a.dtype == b.dtype):
            return None
        condition = _spread(condition, a.shape)
        kernel = None if condition is None else _select_arrays.compiled()
        if kernel is None:
            return None
        out = np.empty(a.shape, a.dtype)
        kernel(condition.reshape(-1), a.reshape(-1), b.reshape(-1), out.reshape(-1))
        return out
    if type(a) is np.ndarray and a.ndim and _number_for(b, a) is not None:
        array, number, number_where = a, _number_for(b, a), False
    elif type(b) is np.ndarray and b.ndim and _number_for(a, b) is not None:
        array, number, number_where = b, _number_for(a, b), True
    else:
        return None
    if not _fits(array):
        return None
    condition = _spread(condition, array.shape)
    kernel = None if condition is None else _select_number.compiled()
    if kernel is None:
        return None
    out = np.empty(array.shape, array.dtype)
    kernel(condition.reshape(-1), array.reshape(-1), array.dtype.type(number), number_where,
           out.reshape(-1))
    return out


def _fits(array):
    return (array.dtype in _DTYPES and array.size >= _MIN_ELEMENTS
            and array.flags.c_contiguous)


def _spread(condition, shape):
    """``condition`` as a C-contiguous bool array of ``shape``: itself, or its broadcast copied
    (an attention mask of (1, 1, T, T) or (B, 1, 1, T) against (B, H, T, T) scores: a bool
    copy costs a fraction of np.where's unvectorised pass). None where it does not broadcast
    to exactly ``shape``."""
    if condition.shape != shape:
        if condition.ndim > len(shape) or any(
                size not in (1, full) for size, full in
                zip(condition.shape[::-1], shape[::-1])):
            return None
        return np.ascontiguousarray(np.broadcast_to(condition, shape))
    return condition if condition.flags.c_contiguous else np.ascontiguousarray(condition)


def _number_for(value, array):
    """``value`` as the number a select kernel takes beside ``array``: a plain Python number,
    or the element of a 0-d array of ``array``'s dtype (np.where keeps that dtype); else None."""
    if _plain_number(value):
        return value
    if type(value) is np.ndarray and value.ndim == 0 and value.dtype == array.dtype:
        return value[()]
    return None


def _plain_number(value):
    return type(value) is float or (type(value) is int and -_EXACT_INT <= value <= _EXACT_INT)


@_jit.kernel
def _select_arrays(condition, a, b, out):
    for index in range(out.size):
        out[index] = a[index] if condition[index] else b[index]


@_jit.kernel
def _select_number(condition, array, number, number_where, out):
    for index in range(out.size):
        out[index] = number if condition[index] == number_where else array[index]
