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
    """The compiled select, or None where it does not apply: ``condition`` a C-contiguous bool
    array, ``a`` and ``b`` C-contiguous arrays of its shape and one float dtype, or one of them
    a Python number (which takes the array's dtype, as NumPy's weak scalars do)."""
    if (type(condition) is not np.ndarray or condition.dtype != np.bool_
            or condition.size < _MIN_ELEMENTS or not condition.flags.c_contiguous):
        return None
    if type(a) is np.ndarray and type(b) is np.ndarray:
        if not (_fits(a, condition) and _fits(b, condition) and a.dtype == b.dtype):
            return None
        kernel = _select_arrays.compiled()
        if kernel is None:
            return None
        out = np.empty(a.shape, a.dtype)
        kernel(condition.reshape(-1), a.reshape(-1), b.reshape(-1), out.reshape(-1))
        return out
    if type(a) is np.ndarray and _plain_number(b):
        array, number, number_where = a, b, False
    elif type(b) is np.ndarray and _plain_number(a):
        array, number, number_where = b, a, True
    else:
        return None
    if not _fits(array, condition):
        return None
    kernel = _select_number.compiled()
    if kernel is None:
        return None
    out = np.empty(array.shape, array.dtype)
    kernel(condition.reshape(-1), array.reshape(-1), array.dtype.type(number), number_where,
           out.reshape(-1))
    return out


def _fits(array, condition):
    return (array.shape == condition.shape and array.dtype in _DTYPES
            and array.flags.c_contiguous)


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
