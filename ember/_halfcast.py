"""float32 <-> float16 / bfloat16 conversions as compiled passes over the bit patterns: the
values NumPy's and ml_dtypes' ``astype`` give (round to nearest even; the same infinities,
subnormals and NaNs; checked on every float32 pattern), 3-10 times faster (their loops convert
one element at a time).
Anything else, and arrays too small or strided, go to ``astype``."""
import numpy as np

from . import _jit

_FLOAT16 = np.dtype(np.float16)
_FLOAT32 = np.dtype(np.float32)
# The largest finite float16 and bfloat16 (by NumPy kind).
_LARGEST = {"f": 65504.0, "V": 3.3895313892515355e38}
# Below this many elements astype's own loop is as quick as a kernel call.
_MIN_ELEMENTS = 1 << 11


def astype(array, dtype):
    """``array.astype(dtype)``, compiled for float32 <-> float16 and bfloat16."""
    dtype = np.dtype(dtype)
    source = array.dtype
    if (array.size >= _MIN_ELEMENTS and type(array) is np.ndarray
            and array.flags.c_contiguous and (source == _FLOAT32 or dtype == _FLOAT32)):
        if source == _FLOAT32:
            # (bfloat16 by name: ml_dtypes, which defines it, loads only when it is used)
            kernel = (_to_half if dtype == _FLOAT16 else
                      _to_bfloat16 if dtype.name == "bfloat16" else None)
        else:
            kernel = (_from_half if source == _FLOAT16 else
                      _from_bfloat16 if source.name == "bfloat16" else None)
        compiled = kernel.compiled() if kernel is not None else None
        if compiled is not None:
            out = np.empty(array.shape, dtype)
            if source == _FLOAT32:
                compiled(array.reshape(-1).view(np.uint32), out.reshape(-1).view(np.uint16))
            else:
                compiled(array.reshape(-1).view(np.uint16), out.reshape(-1).view(np.uint32))
            return out
    if dtype.itemsize == 1 and dtype.name.startswith("float8"):
        return _to_float8(array, dtype)
    return array.astype(dtype)


def widened(array):
    """A float16 or bfloat16 array in float32 (exactly), through the compiled pass whatever its
    layout: a transposed matrix converts as its row-major transpose."""
    if not array.flags.c_contiguous and array.flags.f_contiguous:
        return astype(array.T, _FLOAT32).T
    return astype(np.ascontiguousarray(array), _FLOAT32)


def binary(ufunc, a, b):
    """``ufunc(a, b)`` where an operand is a float16 or bfloat16 array of at least
    ``_MIN_ELEMENTS`` and the other an array of its dtype or a number: computed in float32 and
    rounded once to that dtype, which is what NumPy's and ml_dtypes' own loops compute, element
    by element and 10-50 times slower (a Python number is first cast to the dtype, as NumPy
    casts a weak scalar). With a float32 scalar (PyTorch's opmath number) the result stays
    float32, as NumPy's; a comparison's comes back as it is. None where this does not
    apply: the caller runs the ufunc."""
    reduced = a if type(a) is np.ndarray else b
    if type(reduced) is not np.ndarray:
        return None
    dtype = reduced.dtype
    if dtype.itemsize != 2 or dtype.kind not in "fV" or reduced.size < _MIN_ELEMENTS or (
            dtype.kind == "V" and dtype.name != "bfloat16"):
        return None
    operands = []
    rounded = True
    for operand in (a, b):
        kind = type(operand)
        if kind is np.ndarray:
            if operand.dtype != dtype:
                return None
            operand = widened(operand)
        elif kind is float or kind is int or kind is bool:
            if not abs(operand) <= _LARGEST[dtype.kind]:
                return None  # NaN, or out of range: NumPy's own cast decides
            operand = np.float32(dtype.type(operand))
        elif kind is np.float32:
            rounded = False  # NumPy's result is float32 then
        else:
            return None
        operands.append(operand)
    result = ufunc(operands[0], operands[1])
    if not rounded or type(result) is not np.ndarray or result.dtype != _FLOAT32:
        return result
    return astype(result, dtype)


def _to_float8(array, dtype):
    """``array`` as a float8 type the way PyTorch converts: through float32 (as its Float8
    types take a float), finite values beyond float8_e4m3fn's range and infinities saturated to
    its largest (ml_dtypes makes them NaN), and float8_e8m0fnu (unsigned, exponent only) taking
    the magnitude."""
    if array.dtype.kind == "c":
        array = array.real
    values = array.astype(_FLOAT32)
    if dtype.name == "float8_e4m3fn":
        values = np.clip(values, -448.0, 448.0)
    elif dtype.name == "float8_e8m0fnu":
        values = np.maximum(np.abs(values), np.float32(2.0 ** -127))  # 0 is 2^-127's code
    out = values.astype(dtype)
    if dtype.name == "float8_e5m2":
        missing = np.isnan(values)
        if missing.any():  # PyTorch's NaN has every mantissa bit set (ml_dtypes' one less)
            out.view(np.uint8)[missing] |= 0x7F
    return out


@_jit.kernel
def _to_half(bits, out):
    # IEEE binary16 from binary32, round to nearest even. NaNs keep their top 10 payload bits
    # (a NaN whose kept payload is 0 gets payload 1, still a NaN), as NumPy converts them.
    for index in range(bits.size):
        value = bits[index]
        sign = (value >> 16) & 0x8000
        magnitude = value & 0x7FFFFFFF
        if magnitude >= 0x7F800000:
            if magnitude == 0x7F800000:
                half = 0x7C00
            else:
                half = 0x7C00 | ((magnitude >> 13) & 0x3FF)
                if half == 0x7C00:
                    half = 0x7C01
        elif magnitude >= 0x38800000:  # a normal half (2^-14 and up), or an overflow
            exponent_and_mantissa = (magnitude - 0x38000000) >> 13
            rest = magnitude & 0x1FFF
            if rest > 0x1000 or (rest == 0x1000 and (exponent_and_mantissa & 1)):
                exponent_and_mantissa += 1
            half = exponent_and_mantissa if exponent_and_mantissa < 0x7C00 else 0x7C00
        elif magnitude >= 0x33000000:  # a subnormal half: 2^-25 rounds up to the smallest
            shift = 126 - (magnitude >> 23)
            significand = (magnitude & 0x007FFFFF) | 0x00800000
            half = significand >> shift
            rest = significand & ((1 << shift) - 1)
            halfway = 1 << (shift - 1)
            if rest > halfway or (rest == halfway and (half & 1)):
                half += 1
        else:
            half = 0
        out[index] = sign | half


@_jit.kernel
def _from_half(bits, out):
    # binary32 from binary16, exact: subnormals normalised, NaN payloads moved up.
    for index in range(bits.size):
        value = np.uint32(bits[index])
        sign = (value & 0x8000) << 16
        exponent = (value >> 10) & 0x1F
        mantissa = value & 0x3FF
        if exponent == 0x1F:
            result = 0x7F800000 | (mantissa << 13)
        elif exponent:
            result = ((exponent + 112) << 23) | (mantissa << 13)
        elif mantissa:
            shift = 0
            while not (mantissa & 0x400):
                mantissa <<= 1
                shift += 1
            result = ((113 - shift) << 23) | ((mantissa & 0x3FF) << 13)
        else:
            result = 0
        out[index] = sign | result


@_jit.kernel
def _to_bfloat16(bits, out):
    # The top half of the binary32 pattern, rounded to nearest even; a NaN becomes the quiet
    # NaN of its sign, as ml_dtypes converts it.
    for index in range(bits.size):
        value = bits[index]
        if (value & 0x7FFFFFFF) > 0x7F800000:
            out[index] = ((value >> 16) & 0x8000) | 0x7FC0
        else:
            out[index] = (value + 0x7FFF + ((value >> 16) & 1)) >> 16


@_jit.kernel
def _from_bfloat16(bits, out):
    # exact: the pattern in the top half
    for index in range(bits.size):
        out[index] = np.uint32(bits[index]) << 16
