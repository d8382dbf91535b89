"""ember dtypes, their NumPy counterparts, PyTorch's names for them (the one table of those), the
default dtype and PyTorch's type-promotion rules."""
import math

import numpy as np

__all__ = ["bfloat16", "bits16", "bits1x8", "bits2x4", "bits4x2", "bits8", "cdouble", "cfloat",
           "chalf", "complex128", "complex32", "complex64", "dtype", "finfo", "float16",
           "float4_e2m1fn_x2", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2",
           "float8_e5m2fnuz", "float8_e8m0fnu", "int1", "int2", "int3", "int4", "int5", "int6",
           "int7", "uint1", "uint2", "uint3", "uint4", "uint5", "uint6", "uint7",
           "float32", "float64", "get_default_dtype", "iinfo", "int16", "int32", "int64", "int8",
           "per_channel_affine", "per_channel_affine_float_qparams", "per_channel_symmetric",
           "per_tensor_affine", "per_tensor_symmetric", "promote_types", "qint32", "qint8",
           "qscheme", "quint2x4", "quint4x2", "quint8", "set_default_dtype", "uint16", "uint32",
           "uint64", "uint8"]


# The package name that reprs print: "torch" while ember.compat resolves ``import torch`` to
# ember, so a PyTorch program that prints or compares str(x.dtype), x.shape or x.type() sees what
# PyTorch shows it; "ember" otherwise.
_repr_prefix = ["ember"]


def repr_prefix():
    """"ember", or "torch" under ember.compat's install()."""
    return _repr_prefix[0]


def set_repr_prefix(name):
    _repr_prefix[0] = name


class dtype:
    """A tensor element type; compares by identity, prints like ``ember.float32``."""

    __slots__ = ("name", "numpy", "is_floating_point", "is_complex", "is_signed", "itemsize",
                 "_category", "_scalar_type", "_cpp_type")

    # float8 and shell dtypes, which PyTorch's promotion refuses or treats apart
    _unusual = False

    def __init__(self, name, numpy_type, category, scalar_type, cpp_type):
        self.name = name
        self.numpy = np.dtype(numpy_type)
        self.is_floating_point = category == 2
        self.is_complex = category == 3
        self.is_signed = name != "bool" and not name.startswith("uint")
        self.itemsize = self.numpy.itemsize
        # 0 bool < 1 integer < 2 floating < 3 complex: the categories of PyTorch's promotion
        # rules.
        self._category = category
        self._scalar_type = scalar_type
        self._cpp_type = cpp_type

    def __repr__(self):
        return f"{_repr_prefix[0]}.{self.name}"

    def __reduce__(self):
        # Pickled as the global of this module that holds it, so unpickling (and copy) gives
        # the same object; bool's is bool_, since a global named bool would hide the builtin.
        return "bool_" if self.name == "bool" else self.name

    @property
    def abbr(self):
        """PyTorch's short name of the dtype ('f32', 'bf16', 'c64', 'i64', 'b8', ...)."""
        return _abbreviation(self.name)

    def to_real(self):
        """The real dtype of a complex one's parts; a real dtype itself."""
        return _REAL_PARTS.get(self.name, self)

    def to_complex(self):
        """The complex dtype with parts of this floating dtype (complex dtypes themselves)."""
        if self.is_complex:
            return self
        found = _COMPLEX_OF.get(self.name)
        if found is None:
            raise RuntimeError(f"Unknown Complex ScalarType for {self._scalar_type}")
        return globals()[found]


# With PyTorch's names for each: its ScalarType ("Float", also the stem of "FloatTensor") and the
# C++ type that some of its messages print.
bool_ = dtype("bool", np.bool_, 0, "Bool", "bool")
uint8 = dtype("uint8", np.uint8, 1, "Byte", "unsigned char")
# PyTorch's "shell" unsigned types: created, converted, copied, indexed and printed, with few
# kernels and no promotion with other integer types.
uint16 = dtype("uint16", np.uint16, 1, "UInt16", "uint16_t")
uint32 = dtype("uint32", np.uint32, 1, "UInt32", "uint32_t")
uint64 = dtype("uint64", np.uint64, 1, "UInt64", "uint64_t")
int8 = dtype("int8", np.int8, 1, "Char", "signed char")
int16 = dtype("int16", np.int16, 1, "Short", "short int")
int32 = dtype("int32", np.int32, 1, "Int", "int")
int64 = dtype("int64", np.int64, 1, "Long", "long int")
float16 = dtype("float16", np.float16, 2, "Half", "c10::Half")
float32 = dtype("float32", np.float32, 2, "Float", "float")
float64 = dtype("float64", np.float64, 2, "Double", "double")
complex64 = dtype("complex64", np.complex64, 3, "ComplexFloat", "c10::complex<float>")
complex128 = dtype("complex128", np.complex128, 3, "ComplexDouble", "c10::complex<double>")
cfloat = complex64
cdouble = complex128



class _BFloat16(dtype):
    """bfloat16, whose NumPy dtype comes from ml_dtypes: imported on first use (the import
    costs about a second), so ``import ember`` does not pay for it."""

    __slots__ = ("_resolved",)

    def __init__(self):
        self.name = "bfloat16"
        self.is_floating_point = True
        self.is_complex = False
        self.is_signed = True
        self.itemsize = 2
        self._category = 2
        self._scalar_type = "BFloat16"
        self._cpp_type = "c10::BFloat16"
        self._resolved = None

    @property
    def numpy(self):
        if self._resolved is None:
            # The one place ml_dtypes is imported: only bfloat16 users pay for its import.
            import ml_dtypes
            self._resolved = np.dtype(ml_dtypes.bfloat16)
            _FROM_NUMPY[self._resolved] = self
        return self._resolved


bfloat16 = _BFloat16()

class _Float8(dtype):
    """An 8-bit float (torch.float8_e4m3fn, ...): its NumPy dtype is ml_dtypes', imported on
    first use as bfloat16's. PyTorch's CPU kernels create, convert, copy, index, compare and
    print these; they take part in no type promotion."""

    __slots__ = ("_resolved",)
    _unusual = True

    def __init__(self, name, scalar_type, signed=True):
        self.name = name
        self.is_floating_point = True
        self.is_complex = False
        self.is_signed = signed
        self.itemsize = 1
        self._category = 2
        self._scalar_type = scalar_type
        self._cpp_type = f"c10::{scalar_type}"
        self._resolved = None

    @property
    def numpy(self):
        if self._resolved is None:
            import ml_dtypes  # loaded by the first float8 tensor only, as for bfloat16
            self._resolved = np.dtype(getattr(ml_dtypes, self.name))
            _FROM_NUMPY[self._resolved] = self
        return self._resolved


float8_e4m3fn = _Float8("float8_e4m3fn", "Float8_e4m3fn")
float8_e5m2 = _Float8("float8_e5m2", "Float8_e5m2")
float8_e4m3fnuz = _Float8("float8_e4m3fnuz", "Float8_e4m3fnuz")
float8_e5m2fnuz = _Float8("float8_e5m2fnuz", "Float8_e5m2fnuz")
float8_e8m0fnu = _Float8("float8_e8m0fnu", "Float8_e8m0fnu", signed=False)
_FLOAT8 = (float8_e4m3fn, float8_e5m2, float8_e4m3fnuz, float8_e5m2fnuz, float8_e8m0fnu)


class _ShellDtype(dtype):
    """A dtype PyTorch names but has no CPU kernels for (sub-byte integers, bits, packed
    float4, complex32 here): it compares, prints and answers its properties; a tensor of it
    cannot be made."""

    __slots__ = ()
    _unusual = True

    def __init__(self, name, scalar_type, floating=False, complex_=False, signed=True,
                 itemsize=1):
        self.name = name
        self.is_floating_point = floating
        self.is_complex = complex_
        self.itemsize = itemsize
        self._category = 3 if complex_ else 2 if floating else 1
        self._scalar_type = scalar_type
        self._cpp_type = f"c10::{scalar_type}"
        if signed is not None:
            self.is_signed = signed

    @property
    def numpy(self):
        raise NotImplementedError(f'"copy_" not implemented for \'{self._scalar_type}\'')


class _BitsDtype(_ShellDtype):
    __slots__ = ()

    @property
    def is_signed(self):
        raise RuntimeError("Bits types are undefined")


# PyTorch's experimental 1- to 7-bit integers, its bit containers and its packed float4.
uint1, uint2, uint3, uint4, uint5, uint6, uint7 = (
    _ShellDtype(f"uint{bits}", f"UInt{bits}", signed=False) for bits in range(1, 8))
int1, int2, int3, int4, int5, int6, int7 = (
    _ShellDtype(f"int{bits}", f"Int{bits}") for bits in range(1, 8))
bits8 = _BitsDtype("bits8", "Bits8", signed=None)
bits16 = _BitsDtype("bits16", "Bits16", signed=None, itemsize=2)
bits1x8 = _BitsDtype("bits1x8", "Bits1x8", signed=None)
bits2x4 = _BitsDtype("bits2x4", "Bits2x4", signed=None)
bits4x2 = _BitsDtype("bits4x2", "Bits4x2", signed=None)
float4_e2m1fn_x2 = _ShellDtype("float4_e2m1fn_x2", "Float4_e2m1fn_x2", floating=True)
# complex32 (PyTorch's experimental ComplexHalf) has no NumPy counterpart, so no tensors here.
complex32 = _ShellDtype("complex32", "ComplexHalf", complex_=True, itemsize=4)
chalf = complex32
_SUB_BYTE = (uint1, uint2, uint3, uint4, uint5, uint6, uint7, int1, int2, int3, int4, int5, int6,
             int7)
_SHELL = _SUB_BYTE + (bits8, bits16, bits1x8, bits2x4, bits4x2, float4_e2m1fn_x2, complex32)


class _QuantizedDtype(dtype):
    """A quantized element type (torch.qint8, ...): the dtype of quantized weights and of
    ``quantize_per_tensor``'s results, never of an ember Tensor, so it has no NumPy type and
    stays out of promotion; ``storage`` is the NumPy type of its integer values."""

    __slots__ = ("storage",)

    def __init__(self, name, storage_type, scalar_type, cpp_type):
        self.name = name
        self.storage = np.dtype(storage_type)
        self.is_floating_point = False
        self.is_complex = False
        self.itemsize = self.storage.itemsize
        self._category = 1
        self._scalar_type = scalar_type
        self._cpp_type = cpp_type

    @property
    def numpy(self):
        raise NotImplementedError(f"ember tensors cannot have dtype {self!r}: quantized values "
                                  f"live in quantized modules and quantize_per_tensor's results")

    @property
    def is_signed(self):
        raise RuntimeError("isSignedType not supported for quantized types")


# The packed 4- and 2-bit types store their values in uint8, as PyTorch does.
qint8 = _QuantizedDtype("qint8", np.int8, "QInt8", "c10::qint8")
quint8 = _QuantizedDtype("quint8", np.uint8, "QUInt8", "c10::quint8")
qint32 = _QuantizedDtype("qint32", np.int32, "QInt32", "c10::qint32")
quint4x2 = _QuantizedDtype("quint4x2", np.uint8, "QUInt4x2", "c10::quint4x2")
quint2x4 = _QuantizedDtype("quint2x4", np.uint8, "QUInt2x4", "c10::quint2x4")
_QUANTIZED = (qint8, quint8, qint32, quint4x2, quint2x4)


class qscheme:
    """How a quantized tensor maps integers to reals (torch.qscheme): compares by identity,
    prints like ``torch.per_tensor_affine``."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"{_repr_prefix[0]}.{self.name}"

    def __reduce__(self):
        return self.name


per_tensor_affine = qscheme("per_tensor_affine")
per_channel_affine = qscheme("per_channel_affine")
per_tensor_symmetric = qscheme("per_tensor_symmetric")
per_channel_symmetric = qscheme("per_channel_symmetric")
per_channel_affine_float_qparams = qscheme("per_channel_affine_float_qparams")


_ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64, complex64, complex128,
        uint16, uint32, uint64)
_SHELL_UNSIGNED = (uint16, uint32, uint64)
_FROM_NUMPY = {d.numpy: d for d in _ALL}
# The dtypes whose NumPy type is ml_dtypes' (loaded lazily), by that type's name.
_ML_DTYPES_BY_NAME = {d.name: d for d in (bfloat16,) + _FLOAT8}
# The names of NumPy's kind-'V' types that are floating in ember: bfloat16 and the float8s.
_V_FLOATING = frozenset(name for name in _ML_DTYPES_BY_NAME)
_BY_NAME = {d.name: d for d in _ALL + (bfloat16,) + _QUANTIZED + _FLOAT8 + _SHELL}
_BY_NAME.update({"float": float32, "double": float64, "half": float16, "long": int64,
                 "int": int32, "short": int16, "cfloat": complex64, "cdouble": complex128,
                 "chalf": complex32})


def _lookup(numpy_dtype):
    """The ember dtype of a NumPy dtype, or None; an ml_dtypes bfloat16 made before ember
    resolved its own is recognised too."""
    numpy_dtype = np.dtype(numpy_dtype)
    found = _FROM_NUMPY.get(numpy_dtype)
    if found is None and numpy_dtype.name in _ML_DTYPES_BY_NAME:
        candidate = _ML_DTYPES_BY_NAME[numpy_dtype.name]
        if numpy_dtype == candidate.numpy:
            found = candidate
    return found


def is_floating(numpy_dtype):
    """Whether a NumPy dtype is one of ember's floating dtypes (bfloat16's NumPy kind is 'V')."""
    return numpy_dtype.kind == "f" or (numpy_dtype.kind == "V" and
                                       numpy_dtype.name in _V_FLOATING)


def is_differentiable(numpy_dtype):
    """Whether tensors of a NumPy dtype can require grad: floating or complex."""
    return numpy_dtype.kind == "f" or numpy_dtype.kind == "c" or (
        numpy_dtype.kind == "V" and numpy_dtype.name in _V_FLOATING)


def real_dtype(numpy_dtype):
    """The real dtype of a complex NumPy dtype's parts (float32 for complex64); others as given."""
    if numpy_dtype.kind == "c":
        return np.dtype(np.float32 if numpy_dtype == np.complex64 else np.float64)
    return numpy_dtype


def complex_dtype(numpy_dtype):
    """The complex NumPy dtype with parts of a floating dtype (complex64 for float32 and the
    half types, which NumPy has no complex type for); complex dtypes as given."""
    if numpy_dtype.kind == "c":
        return numpy_dtype
    return np.dtype(np.complex128 if numpy_dtype == np.float64 else np.complex64)


def default_complex():
    """The complex dtype that Python complex numbers become: parts of the default dtype."""
    return complex128 if _default_float is float64 else complex64


def accumulation_dtype(numpy_dtype):
    """The NumPy dtype that PyTorch computes sums and matrix products of ``numpy_dtype`` in on
    the CPU: float32 for bfloat16 and float16 (rounded once at the end), the dtype itself
    otherwise."""
    if (numpy_dtype.kind != "f" and numpy_dtype.kind != "V") or numpy_dtype.itemsize > 2:
        return numpy_dtype
    if numpy_dtype == np.float16 or numpy_dtype.name == "bfloat16":
        return np.dtype(np.float32)
    return numpy_dtype


_default_float = float32


def get_default_dtype():
    """The dtype that float factories and Python floats produce (float32 unless changed)."""
    return _default_float


def set_default_dtype(new_dtype):
    """Set the default floating dtype (float32 or float64), as torch.set_default_dtype."""
    global _default_float
    new_dtype = to_dtype(new_dtype)
    if not new_dtype.is_floating_point:
        raise TypeError(f"set_default_dtype(): only floating-point types are supported as the "
                        f"default type, got {new_dtype}")
    _default_float = new_dtype


def from_numpy_dtype(numpy_dtype):
    """The ember dtype of a NumPy dtype; TypeError for types ember does not support."""
    found = _lookup(numpy_dtype)
    if found is None:
        name = np.dtype(numpy_dtype).type.__name__
        raise TypeError(f"can't convert np.ndarray of type numpy.{name}. The only supported "
                        f"types are: float64, float32, float16, complex64, complex128, int64, "
                        f"int32, int16, int8, uint64, uint32, uint16, uint8, and bool.")
    return found


def scalar_type_name(numpy_dtype):
    """PyTorch's ScalarType name of a NumPy dtype ("Float", "Long", ...), as its error messages
    print it; NumPy's name for a type ember lacks."""
    found = _lookup(numpy_dtype)
    return found._scalar_type if found is not None else np.dtype(numpy_dtype).name


def tensor_type_name(numpy_dtype):
    """The tensor type name of a NumPy dtype, PyTorch's "torch.FloatTensor" with ember's prefix
    (Tensor.type(), torch.typename); "ember.Tensor" for a type ember lacks."""
    found = _lookup(numpy_dtype)
    return f"{_repr_prefix[0]}." + (found._scalar_type + "Tensor" if found is not None else "Tensor")


def cpp_type_name(numpy_dtype):
    """The C++ type PyTorch prints for a NumPy dtype ("float", "long int", ...)."""
    found = _lookup(numpy_dtype)
    return found._cpp_type if found is not None else np.dtype(numpy_dtype).name


# The C++ type names in PyTorch's "value cannot be converted to type ... without overflow".
_CONVERT_TYPE_NAMES = {"bool": "bool", "uint8": "uint8_t", "uint16": "uint16_t",
                       "uint32": "uint32_t", "uint64": "uint64_t", "int8": "int8_t", "int16": "int16_t",
                       "int32": "int", "int64": "int64_t", "float16": "c10::Half",
                       "bfloat16": "c10::BFloat16", "float32": "float", "float64": "double"}
# (lowest, highest) of each integer dtype: the Python ints it holds without wrapping.
_INTEGER_RANGES = {np.dtype(kind): (int(np.iinfo(kind).min), int(np.iinfo(kind).max))
                   for kind in (np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16,
                                np.int32, np.int64)}
# (lowest, highest, floating) of every dtype but bool and bfloat16, for ``scalar_overflows``;
# bfloat16's (its largest finite value) is apart, as its NumPy type loads lazily.
_SCALAR_LIMITS = {numpy_dtype: limits + (False,) for numpy_dtype, limits in _INTEGER_RANGES.items()}
_SCALAR_LIMITS.update({np.dtype(kind): (None, float(np.finfo(kind).max), True)
                       for kind in (np.float16, np.float32, np.float64)})
_BFLOAT16_LIMITS = (None, 3.3895313892515355e38, True)


def scalar_overflows(value, numpy_dtype):
    """PyTorch's range check (c10's ``overflows``) of a Python number converted to a dtype: a
    finite float beyond a float type's range; for an integer type a value outside it, except
    that an unsigned type also takes negatives down to -max (they wrap); bool takes anything."""
    limits = _SCALAR_LIMITS.get(numpy_dtype)
    if limits is None:
        numpy_dtype = np.dtype(numpy_dtype)
        limits = _SCALAR_LIMITS.get(numpy_dtype)
        if limits is None:
            if numpy_dtype.kind != "V":  # bool
                return False
            limits = _BFLOAT16_LIMITS
    lowest, highest, floating = limits
    if floating:
        return abs(value) > highest and math.isfinite(value)
    if isinstance(value, float):
        return not lowest <= value <= highest
    if lowest == 0:
        lowest = -highest
    return not lowest <= value <= highest


def overflow_error(numpy_dtype):
    """PyTorch's RuntimeError for a number that ``scalar_overflows`` the dtype."""
    name = _CONVERT_TYPE_NAMES.get(np.dtype(numpy_dtype).name, np.dtype(numpy_dtype).name)
    return RuntimeError(f"value cannot be converted to type {name} without overflow")


def checked_scalar(value, numpy_dtype):
    """A Python number converted to a dtype as PyTorch fills with it: RuntimeError where it
    ``scalar_overflows``, integers otherwise wrapped through int64 (uint8 takes -1 as 255)."""
    if scalar_overflows(value, numpy_dtype):
        raise overflow_error(numpy_dtype)
    numpy_dtype = np.dtype(numpy_dtype)
    if numpy_dtype.kind in "iu" and not isinstance(value, float):
        return np.array(int(value), np.int64).astype(numpy_dtype)[()]
    with np.errstate(over="ignore", invalid="ignore"):
        return np.array(value).astype(numpy_dtype)[()]


def wrapped_int(value, numpy_dtype):
    """A Python int operand of integer arithmetic as PyTorch uses it: converted to the tensor's
    integer dtype through int64, so out-of-range values wrap (uint8 + 300 adds 44)."""
    lowest, highest = _INTEGER_RANGES[np.dtype(numpy_dtype)]
    if lowest <= value <= highest:
        return value
    if not -(1 << 63) <= value < (1 << 63):
        raise OverflowError("int too big to convert")
    return int(np.array(value, np.int64).astype(numpy_dtype))


def to_dtype(value):
    """Accept an ember dtype, a NumPy dtype or type, a name, or a Python type (float/int/bool)."""
    if isinstance(value, dtype):
        return value
    if value is float:  # a Python float is a double, whatever the default dtype
        return float64
    if value is int:
        return int64
    if value is bool:
        return bool_
    if value is complex:
        return complex128
    if isinstance(value, str) and value in _BY_NAME:
        return _BY_NAME[value]
    try:
        return from_numpy_dtype(np.dtype(value))
    except (TypeError, ValueError):
        raise TypeError(f"expected an ember dtype, got {value!r}") from None


def _promote_same_kind(a, b):
    """Promotion of two dtypes on PyTorch's lattice (NumPy's within a category)."""
    if a is b:
        return a
    if a._unusual or b._unusual:
        unusual = _promote_unusual(a, b)
        if unusual is not None:
            return unusual
    # Across categories the higher one's dtype wins (int64 + float32 is float32, unlike NumPy),
    # but complex takes the wider parts of a floating partner (complex64 + float64: complex128).
    if a._category != b._category:
        higher, lower = (a, b) if a._category > b._category else (b, a)
        if higher._category == 3 and lower._category == 2 and lower.itemsize > 4:
            return complex128
        return higher
    if a in _SHELL_UNSIGNED or b in _SHELL_UNSIGNED:
        if a._category == 1 and b._category == 1:
            raise RuntimeError(f"Promotion for uint16, uint32, uint64 types is not supported, "
                               f"attempted to promote {a._scalar_type} and {b._scalar_type}")
    if a is bfloat16 or b is bfloat16:
        other = b if a is bfloat16 else a
        # bfloat16 with float16 is float32: neither holds the other's values.
        return float32 if other is float16 else other if other.itemsize > 2 else bfloat16
    return _FROM_NUMPY[np.promote_types(a.numpy, b.numpy)]


def _promote_unusual(a, b):
    """Promotion where one side is a float8, shell or complex32 dtype (None: the usual rules):
    PyTorch refuses float8s, bit containers and sub-byte integers with any other type."""
    if isinstance(a, _BitsDtype) or isinstance(b, _BitsDtype):
        raise RuntimeError(f"Promotion from {a._scalar_type} and {b._scalar_type} is "
                           f"unsupported.")
    if a in _FLOAT8 or b in _FLOAT8:
        raise RuntimeError(f"Promotion for Float8 Types is not supported, attempted to promote "
                           f"{a._scalar_type} and {b._scalar_type}")
    if a is complex32 or b is complex32:
        other = b if a is complex32 else a
        if other in (float64, complex128):
            return complex128
        return complex64 if other in (float32, complex64) else complex32
    for side, other in ((a, b), (b, a)):
        if side in _SUB_BYTE:
            if side.is_signed or other._category == 1:
                raise RuntimeError(f"Promotion for uint16, uint32, uint64 types is not "
                                   f"supported, attempted to promote {a._scalar_type} and "
                                   f"{b._scalar_type}" if not side.is_signed else
                                   f"Promotion from {a._scalar_type} and {b._scalar_type} is "
                                   f"unsupported.")
            if other._category == 2:
                return other
            raise RuntimeError(f"Promotion for uint16, uint32, uint64 types is not supported, "
                               f"attempted to promote {a._scalar_type} and {b._scalar_type}")
    if isinstance(a, _ShellDtype) or isinstance(b, _ShellDtype):
        raise RuntimeError(f"Promotion from {a._scalar_type} and {b._scalar_type} is "
                           f"unsupported.")
    return None


def promote_types(type1, type2):
    """The dtype of arithmetic between tensors of ``type1`` and ``type2`` of equal rank."""
    return _promote_same_kind(to_dtype(type1), to_dtype(type2))


def result_type(tensor_dtypes, scalar_dtypes=(), python_scalars=()):
    """PyTorch's promotion: dimensioned tensors win over 0-dim tensors, which win over Python
    numbers, unless a lower-priority operand is of a higher category (bool < int < float).

    ``tensor_dtypes`` are the dtypes of tensors with ndim > 0, ``scalar_dtypes`` those of 0-dim
    tensors, ``python_scalars`` the Python numbers themselves.
    """
    result = None
    for d in tensor_dtypes:
        result = d if result is None else _promote_same_kind(result, d)
    zero_dim = None
    for d in scalar_dtypes:
        zero_dim = d if zero_dim is None else _promote_same_kind(zero_dim, d)
    if zero_dim is not None:
        if result is None:
            result = zero_dim
        elif zero_dim._category > result._category:
            result = _lifted(result, zero_dim)
    for value in python_scalars:
        category = 0 if isinstance(value, (bool, np.bool_)) else (
            2 if isinstance(value, (float, np.floating)) else
            3 if isinstance(value, (complex, np.complexfloating)) else 1)
        if result is None:
            result = (bool_, int64, _default_float, default_complex())[category]
        elif category > result._category:
            result = _lifted(result, (None, int64, _default_float, default_complex())[category])
    return result


def _lifted(dimensioned, higher):
    """A lower-priority operand of a higher category sets the category; a floating tensor
    lifted to complex keeps its parts' width (float64 with a complex number is complex128)."""
    if higher._category == 3 and dimensioned._category == 2:
        return complex128 if dimensioned is float64 else complex64
    return higher


class finfo:
    """Machine limits of a floating dtype (the default dtype when none is given)."""

    def __init__(self, type=None):
        target = get_default_dtype() if type is None else to_dtype(type)
        if target is complex32:
            target = float16  # the type of its parts, as for complex64 and complex128
        if target is float4_e2m1fn_x2:
            raise TypeError("bad argument type for built-in operation")
        if not (target.is_floating_point or target.is_complex):
            raise TypeError("torch.finfo() requires a floating point input type. Use "
                            "torch.iinfo to handle 'torch.finfo'")
        if target.name in _ML_DTYPES_BY_NAME:
            # ml_dtypes is imported by the dtype's numpy already; its finfo knows the type.
            import ml_dtypes
            info = ml_dtypes.finfo(target.numpy)
        else:
            info = np.finfo(target.numpy)
        self.bits = int(info.bits)
        # PyTorch's epsilon of float8_e5m2fnuz is half of the type's spacing at 1
        self.eps = float(info.eps) / (2 if target is float8_e5m2fnuz else 1)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = float(info.tiny)
        self.smallest_normal = float(info.smallest_normal)
        # 10^-digits10: the decimal digits that the significand always holds
        self.resolution = 10.0 ** -math.floor(int(info.nmant) * math.log10(2))
        self.dtype = np.dtype(info.dtype).name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Limits of an integer dtype."""

    def __init__(self, type):
        target = to_dtype(type)
        if isinstance(target, _ShellDtype) or np.dtype(target.numpy).kind not in "iub":
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to "
                            "handle 'torch.iinfo'")
        info = np.iinfo(np.uint8 if np.dtype(target.numpy).kind == "b" else target.numpy)
        self.bits = int(info.bits)
        self.min = int(info.min)
        self.max = int(info.max)
        self.dtype = np.dtype(target.numpy).name

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"


_REAL_PARTS = {}
_COMPLEX_OF = {"float16": "complex32", "bfloat16": "complex64", "float32": "complex64",
               "float64": "complex128"}
_SPECIAL_ABBREVIATIONS = {"bool": "b8", "bits8": "b8x1", "bits16": "b16x1", "bits1x8": "b1x8",
                          "bits2x4": "b2x4", "bits4x2": "b4x2",
                          "float4_e2m1fn_x2": "f4e2m1fnx2"}


def _abbreviation(name):
    """'f32' for float32, 'bf16', 'c64', 'i64', 'u8', 'f8e4m3fn'; sub-byte integers and
    quantized types keep their names."""
    if name in _SPECIAL_ABBREVIATIONS:
        return _SPECIAL_ABBREVIATIONS[name]
    for prefix, short in (("bfloat", "bf"), ("float8_", "f8"), ("float", "f"),
                          ("complex", "c"), ("uint", "u"), ("int", "i")):
        rest = name[len(prefix):]
        if name.startswith(prefix) and (prefix == "float8_" or int(rest) >= 8):
            return short + rest
    return name


_REAL_PARTS.update({"complex32": float16, "complex64": float32, "complex128": float64})
