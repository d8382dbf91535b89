"""Tensor factories: tensor/as_tensor/from_numpy, filled and ranged tensors, random tensors, and
PyTorch's legacy typed constructors (FloatTensor, LongTensor, ...).

Arguments are checked as PyTorch checks them, before anything is made: sizes are ints (NumPy
ints and one-element integer tensors too) given one by one, as one sequence, or as ``size=``;
dtypes are ember dtypes or the Python types float (float64), int (int64) and bool; a bad
argument is PyTorch's TypeError naming the function and the argument. ``out=`` writes the
result into a given tensor, as PyTorch does.
"""
import functools
import math
import warnings

import numpy as np

from . import _device, _dtype, _random
from ._device import check_cpu
from ._dtype import (from_numpy_dtype, get_default_dtype, is_floating, overflow_error,
                     scalar_overflows, scalar_type_name, set_default_dtype, to_dtype)
from ._layout import (arrange, check_memory_format, contiguous_format, layout as layout_type,
                      preserve_format, strided)
from ._storage import UntypedStorage
from .autograd.function import NOT_IMPLEMENTED, Op
from .autograd.node import BatchedForward
from .ops._broadcast import mismatch_error
from .ops.reduce import linspace_array
from .tensor import (Size, Tensor, _to_array, integer_size, legacy_new, named_type,
                     size_entries, warn_once)
from .tensor import check_numpy_strides as _check_numpy_strides

__all__ = ["BFloat16Tensor", "BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor",
           "HalfTensor", "IntTensor", "LongTensor", "ShortTensor", "arange", "as_tensor",
           "bartlett_window", "bernoulli", "blackman_window", "empty", "empty_like",
           "empty_strided", "eye", "from_numpy", "frombuffer", "full", "full_like", "hamming_window",
           "hann_window", "kaiser_window", "linspace", "logspace", "multinomial", "normal", "ones", "ones_like",
           "binomial", "poisson", "rand",
           "rand_like", "randint", "randint_like", "randn", "randn_like", "randperm",
           "set_default_tensor_type", "tensor", "zeros", "zeros_like"]


# ---- argument checks ---------------------------------------------------------------------------
# PyTorch's signatures of the size-first random factories, listed in its argument error.
_DRAWING = {name: (f" * (tuple of ints size, *, torch.Generator generator, Tensor out = None, "
                   f"torch.dtype dtype = None, torch.layout layout = None, torch.device device = "
                   f"None, bool pin_memory = False, bool requires_grad = False)\n"
                   f" * (tuple of ints size, *, Tensor out = None, torch.dtype dtype = None, "
                   f"torch.layout layout = None, torch.device device = None, bool pin_memory = "
                   f"False, bool requires_grad = False)\n") for name in ("rand", "randn")}


def _varargs_size(name, size, keyword):
    """The shape given as ``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``."""
    if keyword is not None:
        if size:
            raise TypeError(f"{name}() got multiple values for argument 'size'")
        size = (keyword,)
    elif not size:
        # PyTorch's size is required (the shape () is spelled zeros(()) or zeros([]))
        if name in _DRAWING:
            raise TypeError(f"{name}() received an invalid combination of arguments - got (), but "
                            f"expected one of:\n{_DRAWING[name]}")
        raise TypeError(f'{name}() missing 1 required positional arguments: "size"')
    if len(size) == 1 and integer_size(size[0]) is None:
        single = size[0]
        if not isinstance(single, (tuple, list, Size)):
            raise TypeError(f"{name}(): argument 'size' (position 1) must be tuple of ints, not "
                            f"{named_type(single)}")
        size = tuple(single)
    elif len(size) > 1 and isinstance(size[0], (tuple, list, Size)):
        raise TypeError(f"{name}() takes 1 positional argument but {len(size)} were given")
    return _non_negative(name, size_entries(name, size))


def _sequence_size(name, size, position, argument="size"):
    """A ``size`` argument that must be a sequence of ints (``full``, ``randint``, ...)."""
    if not isinstance(size, (tuple, list, Size)):
        raise TypeError(f"{name}(): argument '{argument}' (position {position}) must be tuple of "
                        f"ints, not {named_type(size)}")
    shape = []
    for index, value in enumerate(size):
        entry = integer_size(value)
        if entry is None:
            raise TypeError(f"{name}(): argument '{argument}' (position {position}) must be tuple "
                            f"of ints, but found element of type {named_type(value)} at pos "
                            f"{index}")
        shape.append(entry)
    return _non_negative(name, shape)


def _non_negative(name, shape):
    for size in shape:
        if size < 0:
            if name == "zeros":  # PyTorch's zeros words it its own way
                raise RuntimeError("zeros: Dimension size must be non-negative.")
            raise RuntimeError(f"Trying to create tensor with negative dimension {size}: {shape}")
    return tuple(shape)


def _dtype_argument(name, dtype):
    """An ember dtype, or the Python types float (float64), int (int64) and bool; None stays."""
    if dtype is None or isinstance(dtype, _dtype.dtype):
        return dtype
    if dtype in (float, int, bool):
        return to_dtype(dtype)
    raise TypeError(f"{name}(): argument 'dtype' must be torch.dtype, not {named_type(dtype)}")


def _flag_argument(name, argument, value):
    if not isinstance(value, bool):
        raise TypeError(f"{name}(): argument '{argument}' must be bool, not {named_type(value)}")
    return value


def _number_argument(name, argument, position, value):
    """A Number argument (a Python or NumPy number, or a one-element tensor) as a Python one."""
    if isinstance(value, Tensor) and value._data.ndim == 0:
        return value._data.item()
    if isinstance(value, np.generic) and isinstance(value.item(), (bool, int, float, complex)):
        return value.item()
    if not isinstance(value, (bool, int, float, complex)):
        raise TypeError(f"{name}(): argument '{argument}' (position {position}) must be Number, "
                        f"not {named_type(value)}")
    return value


def _check_device(device):
    check_cpu(device, "factory")


def _check_layout(name, layout, pin_memory=False):
    """``layout=`` and ``pin_memory=``: ember makes strided CPU tensors (sparse ones come from
    sparse_coo_tensor); pinning, a CUDA transfer aid, changes nothing (as Tensor.pin_memory)."""
    if layout is not None and not isinstance(layout, layout_type):
        raise TypeError(f"{name}(): argument 'layout' must be {_dtype.repr_prefix()}.layout, not "
                        f"{named_type(layout)}")
    if layout is not None and layout is not strided:
        raise RuntimeError(f"{name}(): layout={layout!r} is not supported by ember's factories; "
                           f"make sparse tensors with sparse_coo_tensor (or .to_sparse())")
    _flag_argument(name, "pin_memory", pin_memory)


def _check_tensor_input(name, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{named_type(input)}")


def _fill_array(shape, value, target):
    """``shape`` filled with ``value`` converted to ``target``, refusing a value the type cannot
    hold (also a finite float beyond a float type's range, which ``tensor()`` makes inf)."""
    if scalar_overflows(value, target.numpy):
        raise overflow_error(target.numpy)
    if target.numpy.kind in "iu":
        value = np.array(int(value), dtype=np.int64).astype(target.numpy)  # wraps as PyTorch
    with np.errstate(over="ignore"):
        return np.full(shape, value, dtype=target.numpy)


# ---- results ---------------------------------------------------------------------------------
def _new(array, requires_grad=False):
    """Wrap a freshly made array; ``requires_grad`` is honoured even under no_grad (PyTorch).
    Inside a meta block the tensor reports the meta device."""
    tensor = Tensor._result(array)
    if _device.meta_blocks_open and _device.in_meta_block():
        tensor._on_meta = True
    if requires_grad:
        tensor._require_grad_on_creation()
    return tensor


def _finish(name, array, requires_grad, out):
    """The new tensor, or ``out`` holding its values (resized as PyTorch resizes it)."""
    if out is None:
        return _new(array, requires_grad)
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {named_type(out)}")
    if out.requires_grad or requires_grad:
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                           f"differentiation, but one of the arguments requires grad.")
    if out._data.shape == array.shape:
        np.copyto(out._data, array, casting="unsafe")
    else:
        if out._data.size:
            warnings.warn(f"An output with one or more elements was resized since it had shape "
                          f"{list(out._data.shape)}, which does not match the required output "
                          f"shape {list(array.shape)}. This behavior is deprecated, and in a "
                          f"future PyTorch release outputs will not be resized unless they have "
                          f"zero elements. You can explicitly reuse an out tensor t by resizing "
                          f"it, inplace, to zero elements with t.resize_(0).", UserWarning,
                          stacklevel=3)
        out._data = array.astype(out._data.dtype)
    out._bump_version()
    return out


def _target(dtype, out, default):
    """The dtype to make: ``dtype``, else ``out``'s, else ``default``."""
    if dtype is not None:
        if isinstance(out, Tensor) and out._data.dtype != dtype.numpy:
            raise RuntimeError(f"dtype {scalar_type_name(dtype.numpy)} does not match dtype of "
                               f"out parameter ({scalar_type_name(out._data.dtype)})")
        return dtype
    if isinstance(out, Tensor):
        return from_numpy_dtype(out._data.dtype)
    return default


# ---- from data -------------------------------------------------------------------------------
_COPY_CONSTRUCT_WARNING = (
    "To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() or "
    "sourceTensor.detach().clone().requires_grad_(True), rather than "
    "torch.tensor(sourceTensor).")
def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor copying ``data``; Python floats become the default dtype, ints int64."""
    if isinstance(data, Tensor):
        warnings.warn(_COPY_CONSTRUCT_WARNING, UserWarning, stacklevel=2)
    return _copied(data, dtype, device, requires_grad)


def _copied(data, dtype=None, device=None, requires_grad=False):
    """``tensor`` without its warning for a tensor argument (asarray's copy)."""
    _check_device(device)
    dtype = _dtype_argument("tensor", dtype)
    if type(data) is np.ndarray:
        _check_numpy_strides(data)
    array = _to_array(data, dtype)
    source = data._data if isinstance(data, Tensor) else data
    if isinstance(source, np.ndarray) and np.may_share_memory(array, source):
        array = array.copy()
    return _new(array, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a NumPy array or tensor when no conversion is
    needed."""
    _check_device(device)
    dtype = _dtype_argument("as_tensor", dtype)
    if isinstance(data, Tensor):
        return data if dtype is None or dtype.numpy == data._data.dtype else data.to(dtype)
    if isinstance(data, np.ndarray):
        from_numpy_dtype(data.dtype)
        _check_numpy_strides(data)
        if dtype is not None and dtype.numpy != data.dtype:
            return _new(data.astype(dtype.numpy))
        _warn_if_read_only(data)
        return _new(data)
    if isinstance(data, UntypedStorage):
        return _new(data._elements(dtype))
    return _new(_to_array(data, dtype))


def from_numpy(array):
    """A tensor sharing memory with ``array`` (in-place changes are seen by both)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {named_type(array)})")
    from_numpy_dtype(array.dtype)
    _check_numpy_strides(array)
    _warn_if_read_only(array)
    return Tensor._result(array)  # NumPy's memory: on the CPU even in a meta block


def _warn_if_read_only(array):
    """PyTorch's warning, once, at the caller of from_numpy or as_tensor."""
    if not array.flags.writeable:
        warn_once("The given NumPy array is not writable, and PyTorch does not support "
                  "non-writable tensors. This means writing to this tensor will result in "
                  "undefined behavior. You may want to copy the array to protect its data or "
                  "make it writable before converting it to a tensor. This type of warning "
                  "will be suppressed for the rest of this program.", stacklevel=3)


_warned_read_only_buffer = []


def frombuffer(buffer, *, dtype=None, count=-1, offset=0, requires_grad=False):
    """A 1-D tensor over the memory of an object with the buffer protocol (``count`` items of
    ``dtype`` from byte ``offset``; all that follow when -1), sharing it."""
    if dtype is None:
        raise TypeError('frombuffer() missing 1 required positional arguments: "dtype"')
    target = _dtype_argument("frombuffer", dtype)
    try:
        view = memoryview(buffer)
    except TypeError:
        raise ValueError("object does not implement Python buffer protocol.") from None
    length = view.nbytes
    itemsize = target.numpy.itemsize
    if length == 0 or count == 0:
        raise ValueError(f"both buffer length ({length}) and count ({count}) must not be 0")
    if not 0 <= offset < length:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than "
                         f"buffer length ({length} bytes) minus 1")
    if count < 0:
        if (length - offset) % itemsize:
            raise ValueError(f"buffer length ({length - offset} bytes) after offset ({offset} "
                             f"bytes) must be a multiple of element size ({itemsize})")
        count = (length - offset) // itemsize
    elif offset + count * itemsize > length:
        raise ValueError(f"requested buffer length ({count} * {itemsize} bytes) after offset "
                         f"({offset} bytes) must not be greater than actual buffer length "
                         f"({length} bytes)")
    if view.readonly and not _warned_read_only_buffer:
        _warned_read_only_buffer.append(True)
        warnings.warn("The given buffer is not writable, and PyTorch does not support "
                      "non-writable tensors. This means you can write to the underlying "
                      "(supposedly non-writable) buffer using the tensor. You may want to copy "
                      "the buffer to protect its data or make it writable before converting it "
                      "to a tensor. This type of warning will be suppressed for the rest of "
                      "this program.", UserWarning, stacklevel=2)
    array = np.frombuffer(view.cast("B"), dtype=target.numpy, count=count, offset=offset)
    return _new(array, requires_grad)


# ---- filled ----------------------------------------------------------------------------------
def _filled(name, fill, size, keyword, dtype, device, requires_grad, out):
    _check_device(device)
    shape = _varargs_size(name, size, keyword)
    target = _target(_dtype_argument(name, dtype), out, get_default_dtype())
    _flag_argument(name, "requires_grad", requires_grad)
    array = np.zeros(shape, dtype=target.numpy) if fill is None else \
        np.full(shape, fill, dtype=target.numpy)
    return _finish(name, array, requires_grad, out)


def zeros(*size, out=None, dtype=None, device=None, requires_grad=False, **kwargs):
    """Zeros of the given shape (``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros(size=(2, 3))``)."""
    return _filled("zeros", 0, size, _keyword_size("zeros", kwargs), dtype, device,
                   requires_grad, out)


def ones(*size, out=None, dtype=None, device=None, requires_grad=False, **kwargs):
    """Ones of the given shape."""
    return _filled("ones", 1, size, _keyword_size("ones", kwargs), dtype, device,
                   requires_grad, out)


def empty(*size, out=None, dtype=None, device=None, requires_grad=False,
          memory_format=contiguous_format, **kwargs):
    """A tensor of the given shape; ember fills it with zeros (PyTorch leaves it
    uninitialised), so results never depend on stale memory."""
    check_memory_format("empty", memory_format)
    if memory_format is preserve_format:
        raise RuntimeError("unsupported memory format Preserve")
    made = _filled("empty", None, size, _keyword_size("empty", kwargs), dtype, device,
                   requires_grad, out)
    if memory_format is not contiguous_format and out is None:
        made._data = arrange(made._data, memory_format)
    return made


def _keyword_size(name, kwargs):
    """``size=``, and the ``layout=``/``pin_memory=`` that PyTorch's size-first factories take."""
    size = kwargs.pop("size", None)
    _check_layout(name, kwargs.pop("layout", None), kwargs.pop("pin_memory", False))
    for key in kwargs:
        raise TypeError(f"{name}() got an unexpected keyword argument '{key}'")
    return size


def full(size, fill_value, *, out=None, dtype=None, device=None, requires_grad=False, layout=None,
         pin_memory=False):
    """``size`` filled with ``fill_value``; the dtype follows the value (bool, int64, or the
    default float dtype) unless given."""
    _check_layout("full", layout, pin_memory)
    _check_device(device)
    shape = _sequence_size("full", size, 1)
    value = _number_argument("full", "fill_value", 2, fill_value)
    dtype = _dtype_argument("full", dtype)
    _flag_argument("full", "requires_grad", requires_grad)
    if dtype is None and out is None:
        dtype = _dtype.bool_ if isinstance(value, bool) else (
            _dtype.int64 if isinstance(value, int) else
            _dtype.default_complex() if isinstance(value, complex) else get_default_dtype())
    target = _target(dtype, out, get_default_dtype())
    return _finish("full", _fill_array(shape, value, target), requires_grad, out)


def _like(name, input, dtype, device=None, layout=None, memory_format=preserve_format):
    """The dtype of a ``*_like`` result, after PyTorch's checks of its arguments."""
    _check_tensor_input(name, input)
    _check_device(device)
    _check_layout(name, layout)
    if memory_format is not preserve_format:
        check_memory_format(name, memory_format)
    dtype = _dtype_argument(name, dtype)
    return from_numpy_dtype(input._data.dtype) if dtype is None else dtype


def _like_result(input, array, memory_format, requires_grad=False):
    """``array`` laid out as ``memory_format`` asks (by default as ``input`` lies in memory)."""
    if isinstance(input._data, np.ndarray):
        array = arrange(array, memory_format, like=input._data)
    return _new(array, requires_grad)


def zeros_like(input, dtype=None, device=None, requires_grad=False, layout=None,
               memory_format=preserve_format):
    target = _like("zeros_like", input, dtype, device, layout, memory_format)
    array = np.zeros(input._data.shape, dtype=target.numpy)
    return _like_result(input, array, memory_format, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False, layout=None,
              memory_format=preserve_format):
    target = _like("ones_like", input, dtype, device, layout, memory_format)
    array = np.ones(input._data.shape, dtype=target.numpy)
    return _like_result(input, array, memory_format, requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False, layout=None,
               memory_format=preserve_format):
    """Zeros shaped like ``input`` (PyTorch leaves them uninitialised)."""
    target = _like("empty_like", input, dtype, device, layout, memory_format)
    array = np.zeros(input._data.shape, dtype=target.numpy)
    return _like_result(input, array, memory_format, requires_grad)


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                  pin_memory=False):
    """A tensor with the given sizes and strides (in elements) over storage of its own; ember
    fills it with zeros (PyTorch leaves it uninitialised)."""
    _check_layout("empty_strided", layout, pin_memory)
    _check_device(device)
    shape = _sequence_size("empty_strided", size, 1)
    # Checked as sizes for their type only: a negative stride gets its own error below.
    unsigned = [abs(step) for step in stride] if isinstance(stride, (tuple, list, Size)) \
        else stride
    _sequence_size("empty_strided", unsigned, 2, "stride")
    strides = tuple(stride)
    if len(shape) != len(strides):
        raise RuntimeError(f"dimensionality of sizes ({len(shape)}) must match dimensionality of "
                           f"strides ({len(strides)})")
    if min(strides, default=0) < 0:
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(shape)} and "
                           f"strides={list(strides)}")
    target = _dtype_argument("empty_strided", dtype) or get_default_dtype()
    _flag_argument("empty_strided", "requires_grad", requires_grad)
    storage_size = 0
    if min(shape, default=1) > 0:
        storage_size = 1 + sum((length - 1) * step for length, step in zip(shape, strides))
    storage = np.zeros(storage_size, target.numpy)
    itemsize = storage.itemsize
    array = np.ndarray(shape, target.numpy, buffer=storage,
                       strides=tuple(step * itemsize for step in strides))
    return _new(array, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False, layout=None,
              memory_format=preserve_format):
    target = _like("full_like", input, dtype, device, layout, memory_format)
    value = _number_argument("full_like", "fill_value", 2, fill_value)
    array = _fill_array(input._data.shape, value, target)
    return _like_result(input, array, memory_format, requires_grad)


# ---- ranges ----------------------------------------------------------------------------------
def arange(start, end=None, step=1, *, out=None, dtype=None, device=None, requires_grad=False,
           layout=None, pin_memory=False):
    """Values in [start, end) by ``step``; int64 unless an argument is a float."""
    if (type(start) is int and type(end) is int and type(step) is int and step == 1
            and 0 <= start <= end < 2 ** 63 and (dtype is None or dtype is _dtype.int64)
            and out is None and device is None and layout is None and not pin_memory
            and not requires_grad):
        # the usual positions 0..n-1 (a sequence model's every step): none of the checks below
        # can fail
        return Tensor._result(np.arange(start, end, dtype=np.int64))
    _check_layout("arange", layout, pin_memory)
    _check_device(device)
    names = ("end",) if end is None else ("start", "end", "step")
    given = (start,) if end is None else (start, end, step)
    values = [_number_argument("arange", argument, position, value)
              for position, (argument, value) in enumerate(zip(names, given), start=1)]
    if end is None:
        values = [0, values[0], _number_argument("arange", "step", 3, step)]
    dtype = _dtype_argument("arange", dtype)
    if any(isinstance(value, int) and not -2 ** 63 <= value < 2 ** 63 for value in values):
        raise OverflowError("int too big to convert")
    if values[2] == 0:
        raise RuntimeError("step must be nonzero")
    if not all(math.isfinite(value) for value in values[:2]):
        raise RuntimeError(f"unsupported range: {_compact(values[0])} -> {_compact(values[1])}")
    if (values[1] - values[0]) / values[2] < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    is_float = any(isinstance(value, float) for value in values)
    default = get_default_dtype() if is_float else _dtype.int64
    target = _target(dtype, out, default)
    if target is _dtype.bool_:
        raise NotImplementedError("\"arange_cpu\" not implemented for 'Bool'")
    count = max(math.ceil((values[1] - values[0]) / values[2]), 0)
    if target in (_dtype.float32, _dtype.float64):
        array = _floating_range(float(values[0]), float(values[2]), count, target.numpy)
    elif is_float and not target.is_floating_point and not target.is_complex:
        array = _integer_range_of_floats(values, count, target)
    elif target.is_floating_point or is_float:
        # Computed in float64 then cast, as PyTorch computes start + i * step in double.
        array = values[0] + np.arange(count, dtype=np.float64) * values[2]
    else:
        array = np.arange(values[0], values[1], values[2], dtype=np.int64)
    return _finish("arange", np.asarray(array).astype(target.numpy), requires_grad, out)


def _integer_range_of_floats(values, count, target):
    """An integer arange given floats, as PyTorch computes it: start and step truncated to
    int64 (the values start + i * step wrap into ``target``); int64 also truncates the end and
    counts in integers, the narrower types count ceil((end - start) / step) of the floats."""
    start, end, step = (int(value) for value in values)
    if target is _dtype.int64:
        if step == 0:
            raise ValueError("step must be nonzero")
        span = end - start + step - ((step > 0) - (step < 0))
        count = max(abs(span) // abs(step) * (1 if (span >= 0) == (step > 0) else -1), 0)
    return (start + step * np.arange(count, dtype=np.int64)).astype(target.numpy)


# PyTorch's CPU arange fills float32 in vectors of 8 and float64 in vectors of 4, two vectors
# per pass: each vector starts at start + step * i in double, its lanes add step * lane to that
# start (rounded to the dtype first), and the elements after the last pair take
# start + step * i; the compiler fuses each multiply-add, so each rounds once.
_ARANGE_LANES = {np.dtype(np.float32): 8, np.dtype(np.float64): 4}


def _fused_multiply_add(a, b, c):
    """a * b + c of float64 arrays with one rounding (to within the rare double-rounding case):
    the product's rounding error from Dekker's split, the sum's from Knuth's two-sum."""
    product = a * b
    a_split = 134217729.0 * a  # 2^27 + 1
    a_high = a_split - (a_split - a)
    a_low = a - a_high
    b_split = 134217729.0 * b
    b_high = b_split - (b_split - b)
    b_low = b - b_high
    product_error = ((a_high * b_high - product) + a_high * b_low + a_low * b_high) + a_low * b_low
    total = product + c
    c_part = total - product
    sum_error = (product - (total - c_part)) + (c - c_part)
    return total + (sum_error + product_error)


def _floating_range(start, step, count, numpy_dtype):
    """arange's float32/float64 values bit for bit as PyTorch's (one thread)."""
    numpy_dtype = np.dtype(numpy_dtype)
    if start.is_integer() and step.is_integer() and abs(start) + abs(step) * count < 2 ** 53:
        # Every product and sum is exact in double: nothing to round.
        return (start + np.arange(count, dtype=np.float64) * step).astype(numpy_dtype)
    lanes = _ARANGE_LANES[numpy_dtype]
    vectorised = count // (2 * lanes) * 2 * lanes
    with np.errstate(over="ignore", invalid="ignore"):
        firsts = np.arange(0, vectorised, lanes, dtype=np.float64)
        vector_starts = _fused_multiply_add(np.float64(step), firsts, np.float64(start))
        vector_starts = vector_starts.astype(numpy_dtype).astype(np.float64)
        lane_offsets = np.arange(lanes, dtype=np.float64)
        body = _fused_multiply_add(np.float64(step), lane_offsets[None, :], vector_starts[:, None])
        tail = _fused_multiply_add(np.float64(step), np.arange(vectorised, count, dtype=np.float64),
                                   np.float64(start))
    return np.concatenate([body.reshape(-1), tail]).astype(numpy_dtype)


def _compact(value):
    """A number as PyTorch's range error prints it (0 for 0.0, inf, nan)."""
    return int(value) if math.isfinite(value) and value == int(value) else value


def _number(value):
    if isinstance(value, Tensor):
        return value.item()
    return value


def _steps_argument(name, steps):
    count = integer_size(steps)
    if count is None:
        raise TypeError(f"{name}() received an invalid combination of arguments - got steps of "
                        f"type {named_type(steps)}, but expected (Tensor start, Tensor end, int "
                        f"steps, ...)")
    if count < 0:
        raise RuntimeError("number of steps must be non-negative")
    return count


def _endpoint(name, which, value):
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"{name} only supports 0-dimensional start and end tensors, but "
                               f"got {which} with {value._data.ndim} dimension(s).")
        return value.item()
    if not isinstance(value, (bool, int, float, np.number)):
        raise TypeError(f"{name}() received an invalid combination of arguments - got {which} "
                        f"of type {named_type(value)}, but expected (Tensor start, Tensor end, "
                        f"int steps, ...)")
    return value


def linspace(start, end, steps, *, out=None, dtype=None, device=None, requires_grad=False,
             layout=None, pin_memory=False):
    _check_layout("linspace", layout, pin_memory)
    _check_device(device)
    start = _endpoint("linspace", "start", start)
    end = _endpoint("linspace", "end", end)
    steps = _steps_argument("linspace", steps)
    target = _target(_dtype_argument("linspace", dtype), out, get_default_dtype())
    if target.numpy == np.bool_:
        raise NotImplementedError("\"linspace_cpu\" not implemented for 'Bool'")
    array = linspace_array(start, end, steps, target.numpy)
    return _finish("linspace", array, requires_grad, out)


def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, device=None,
             requires_grad=False, layout=None,
             pin_memory=False):
    """``steps`` values from base**start to base**end, evenly spaced in the exponent."""
    _check_layout("logspace", layout, pin_memory)
    _check_device(device)
    start = _endpoint("logspace", "start", start)
    end = _endpoint("logspace", "end", end)
    steps = _steps_argument("logspace", steps)
    target = _target(_dtype_argument("logspace", dtype), out, get_default_dtype())
    if target.numpy == np.bool_:
        raise NotImplementedError("\"logspace_cpu\" not implemented for 'Bool'")
    exponents = np.linspace(start, end, steps, dtype=np.float64)
    return _finish("logspace", np.power(float(base), exponents).astype(target.numpy),
                   requires_grad, out)


def eye(n, m=None, *, out=None, dtype=None, device=None, requires_grad=False, layout=None,
        pin_memory=False):
    _check_layout("eye", layout, pin_memory)
    _check_device(device)
    rows = integer_size(n)
    if rows is None:
        raise TypeError(f"eye(): argument 'n' (position 1) must be int, not {named_type(n)}")
    columns = rows if m is None else integer_size(m)
    if columns is None:
        raise TypeError(f"eye(): argument 'm' (position 2) must be int, not {named_type(m)}")
    if rows < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {rows}")
    if columns < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {columns}")
    target = _target(_dtype_argument("eye", dtype), out, get_default_dtype())
    return _finish("eye", np.eye(rows, columns, dtype=target.numpy), requires_grad, out)


# ---- random ----------------------------------------------------------------------------------
def rand(*size, generator=None, out=None, dtype=None, device=None, requires_grad=False,
         **kwargs):
    """Uniform on [0, 1)."""
    return _draw("rand", "random", size, _keyword_size("rand", kwargs), generator, dtype,
                 device, requires_grad, out)


def randn(*size, generator=None, out=None, dtype=None, device=None, requires_grad=False,
          **kwargs):
    """Standard normal."""
    return _draw("randn", "standard_normal", size, _keyword_size("randn", kwargs), generator,
                 dtype, device, requires_grad, out)


# The kernels whose absence PyTorch reports for a non-floating dtype.
_KERNELS = {"random": "check_uniform_bounds", "standard_normal": "normal_kernel_cpu"}


def _floating_only(method, target):
    if not target.is_floating_point and not target.is_complex:
        raise NotImplementedError(f"\"{_KERNELS[method]}\" not implemented for "
                                  f"'{target._scalar_type}'")


def _draw(name, method, size, keyword, generator, dtype, device, requires_grad, out):
    """Floats from the generator's ``method``, drawn in float32/float64 directly (NumPy draws
    no other float dtype: those are drawn in float64 and cast)."""
    _check_device(device)
    shape = _varargs_size(name, size, keyword)
    target = _target(_dtype_argument(name, dtype), out, get_default_dtype())
    _flag_argument(name, "requires_grad", requires_grad)
    _floating_only(method, target)
    if out is None and not requires_grad:
        batched = _random.batched_draw(
            lambda batch_shape: _drawn_floats(method, batch_shape, generator, target), shape)
        if batched is not None:
            return batched
    return _finish(name, _drawn_floats(method, shape, generator, target), requires_grad, out)


def _drawn_floats(method, shape, generator, target):
    """rand's (``method`` "random") or randn's values of ``shape`` in ``target``'s dtype."""
    if target.is_complex:
        # PyTorch fills the real view: parts side by side, normal ones with std 1/sqrt(2) each,
        # so that E|z|^2 = 1
        parts_type = _dtype.real_dtype(target.numpy)
        parts = (_random.uniform(generator, shape + (2,), parts_type) if method == "random"
                 else _random.normal(generator, shape + (2,), parts_type, 0.0, np.sqrt(0.5)))
        return parts.view(target.numpy).reshape(shape)
    return (_random.uniform(generator, shape, target.numpy) if method == "random"
            else _random.normal(generator, shape, target.numpy))


def randint(low, high=None, size=None, *, generator=None, out=None, dtype=None, device=None,
            requires_grad=False, layout=None,
            pin_memory=False):
    """Integers uniform in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``;
    int64 unless ``dtype`` says otherwise."""
    _check_layout("randint", layout, pin_memory)
    _check_device(device)
    if size is None and high is not None and not isinstance(high, (tuple, list, Size)) and \
            integer_size(high) is not None and low is not None:
        raise TypeError(f"randint(): argument 'size' (position 2) must be tuple of ints, not "
                        f"{named_type(high)}")
    if size is None:
        if high is None:
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = None, low, high
    elif high is None:
        low, high = None, low
    position = 2 if low is None else 3
    arguments = (("high", high, 1),) if low is None else (("low", low, 1), ("high", high, 2))
    for argument, value, place in arguments:
        if integer_size(value) is None:
            raise TypeError(f"randint(): argument '{argument}' (position {place}) must be int, "
                            f"not {named_type(value)}")
    low, high = (0 if low is None else integer_size(low)), integer_size(high)
    if not (-2 ** 63 <= low < 2 ** 63 and -2 ** 63 <= high < 2 ** 63):
        raise ValueError("Overflow when unpacking long long")
    shape = _sequence_size("randint", size, position)
    target = _target(_dtype_argument("randint", dtype), out, _dtype.int64)
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    if target.numpy.kind in "iub":
        lowest, highest = _integer_range(target.numpy)
        if low < lowest:
            raise RuntimeError(f"from is out of bounds for {target._cpp_type}")
        if high - 1 > highest:
            raise RuntimeError(f"to - 1 is out of bounds for {target._cpp_type}")
    if out is None and not requires_grad:
        batched = _random.batched_draw(
            lambda batch_shape: _random.integers(generator, low, high, batch_shape).astype(
                target.numpy), shape)
        if batched is not None:
            return batched
    array = _random.integers(generator, low, high, shape)
    return _finish("randint", array.astype(target.numpy), requires_grad, out)


@functools.lru_cache(maxsize=None)
def _integer_range(numpy_dtype):
    """(lowest, highest) value randint may draw for an integer or bool dtype."""
    if numpy_dtype.kind == "b":
        return 0, 1
    limits = np.iinfo(numpy_dtype)
    return int(limits.min), int(limits.max)


def randperm(n, *, generator=None, out=None, dtype=None, device=None, requires_grad=False,
             layout=None, pin_memory=False):
    _check_layout("randperm", layout, pin_memory)
    _check_device(device)
    count = integer_size(n)
    if count is None:
        raise TypeError(f"randperm(): argument 'n' (position 1) must be int, not "
                        f"{named_type(n)}")
    if count < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {count}: [{count}]")
    target = _target(_dtype_argument("randperm", dtype), out, _dtype.int64)
    if target is _dtype.bool_:
        raise NotImplementedError("\"randperm\" not implemented for 'Bool'")
    array = _random.permutation(generator, count).astype(target.numpy)
    return _finish("randperm", array, requires_grad, out)


def _drawn_like(input, target, memory_format, requires_grad, draw):
    """A ``*_like`` random tensor: PyTorch fills ``empty_like(input)``, laid out as the input
    lies in memory (by default), in memory order; ``draw(contiguous, shape)`` gives the values
    in draw order, told whether the result is contiguous (normal draws depend on it)."""
    shape = input._data.shape
    if not requires_grad:
        batched = _random.batched_draw(lambda batch_shape: draw(True, batch_shape), shape)
        if batched is not None:
            return batched
    result = np.empty(shape, dtype=target.numpy)
    if isinstance(input._data, np.ndarray):
        result = arrange(result, memory_format, like=input._data)
    result[...] = _random.in_memory_order(result, draw(result.flags.c_contiguous, shape))
    return _new(result, requires_grad)


def rand_like(input, generator=None, dtype=None, requires_grad=False, device=None, layout=None,
              memory_format=preserve_format):
    target = _like("rand_like", input, dtype, device, layout, memory_format)
    _floating_only("random", target)
    return _drawn_like(input, target, memory_format, requires_grad,
                       lambda contiguous, shape: _drawn_floats("random", shape, generator, target))


def randn_like(input, generator=None, dtype=None, requires_grad=False, device=None, layout=None,
               memory_format=preserve_format):
    target = _like("randn_like", input, dtype, device, layout, memory_format)
    _floating_only("standard_normal", target)

    def draw(contiguous, shape):
        if contiguous or target.is_complex:
            return _drawn_floats("standard_normal", shape, generator, target)
        # a non-contiguous result gets PyTorch's scalar normals, as normal_ fills it
        return _random.normal(generator, shape, target.numpy, contiguous=False)
    return _drawn_like(input, target, memory_format, requires_grad, draw)


def randint_like(input, low=None, high=None, generator=None, dtype=None, requires_grad=False,
                 device=None, layout=None, memory_format=preserve_format):
    """Integers uniform in [low, high) shaped like ``input``: ``randint_like(input, high)``,
    ``randint_like(input, high=high)`` or ``randint_like(input, low, high)``."""
    if high is None:
        if low is None:
            raise TypeError("randint_like() received an invalid combination of arguments - got "
                            "(Tensor), but expected one of:\n * (Tensor input, int low, int "
                            "high, ...)\n * (Tensor input, int high, ...)")
        low, high = 0, low
    elif low is None:
        low = 0
    target = _like("randint_like", input, dtype, device, layout, memory_format)
    randint(low, high, (0,), dtype=target)  # randint's checks of the bounds for the dtype
    return _drawn_like(input, target, memory_format, requires_grad,
                       lambda contiguous, shape: _random.integers(
                           generator, low, high, shape).astype(target.numpy))


def bernoulli(input, p=None, generator=None):
    """0/1 draws with probability ``p`` (or ``input``'s values) of a 1."""
    _check_tensor_input("bernoulli", input)
    if not input.is_floating_point():
        raise NotImplementedError(f"\"bernoulli_tensor_cpu_p_\" not implemented for "
                                  f"'{input.dtype._scalar_type}'")
    if p is not None and not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    if p is None and not ((input._data >= 0) & (input._data <= 1)).all():
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could "
                           "this error message be improved?  If so, please report an "
                           "enhancement request to PyTorch.)")
    data = input._data
    if p is not None and type(data) is not np.ndarray:
        # batched by ember.func.vmap: every sample's draws at once under randomness="different";
        # otherwise, as PyTorch, no rule ("same" then refuses a batched input)
        drawn = _random.batched_draw(lambda batch_shape: _random.bernoulli(
            generator, float(p), batch_shape).astype(data.dtype), data.shape)
        if drawn is None:
            raise BatchedForward("bernoulli")
        return drawn
    draws = (_random.bernoulli(generator, data) if p is None
             else _random.bernoulli(generator, float(p), data.shape))
    if input.requires_grad:
        if p is None:
            return _drawn(draws.astype(data.dtype), "BernoulliBackward0", input)
        return _drawn(draws.astype(data.dtype), NOT_IMPLEMENTED, input,
                      refused="bernoulli")
    return _new(draws.astype(data.dtype))


class _Drawn(Op):
    """Draws whose distribution parameters require grad: recorded as PyTorch records them, with
    a zero gradient (poisson, bernoulli, normal) or a backward that raises where PyTorch's op
    has no derivative (binomial, bernoulli with a number p)."""

    refused = None  # the op that PyTorch's error names, set on the node

    @staticmethod
    def forward(ctx, draws, *parameters):
        ctx.shapes = [parameter.shape if isinstance(parameter, np.ndarray) else None
                      for parameter in parameters]
        return draws

    @staticmethod
    def backward(ctx, grad):
        if ctx.refused is not None:
            raise RuntimeError(f"derivative for aten::{ctx.refused} is not implemented")
        return (None,) + tuple(None if shape is None else np.zeros(shape, grad.dtype)
                               for shape in ctx.shapes)


def _drawn(draws, name, *parameters, refused=None):
    """``draws`` as a tensor, recorded against ``parameters`` where one requires grad."""
    result = _Drawn.apply(draws, *parameters)
    if result.grad_fn is not None:
        result.grad_fn._torch_name = name
        result.grad_fn.refused = refused
    return result


def poisson(input, generator=None):
    """Poisson draws with the rates in ``input`` (its dtype and shape)."""
    _check_tensor_input("poisson", input)
    rates = input._data
    if not is_floating(rates.dtype):
        raise NotImplementedError(f"\"poisson_cpu\" not implemented for "
                                  f"'{input.dtype._scalar_type}'")
    if not (rates >= 0).all():  # NaN fails too
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    if not np.isfinite(rates).all():
        raise RuntimeError("invalid Poisson rate, expected rate to be finite")
    draws = _random.poisson(generator, rates).astype(rates.dtype)
    return _drawn(draws, "PoissonBackward0", input)


def binomial(count, prob, generator=None):
    """Binomial draws: ``count`` trials with success probability ``prob`` (float tensors of one
    dtype, broadcast together)."""
    _check_tensor_input("binomial", count)
    _check_tensor_input("binomial", prob)
    if not is_floating(count._data.dtype):
        raise ValueError(f"binomial only supports floating-point dtypes for count, got: "
                         f"{count.dtype._scalar_type}")
    if prob._data.dtype != count._data.dtype:
        raise RuntimeError(f"Found dtype {prob.dtype._scalar_type} but expected "
                           f"{count.dtype._scalar_type}")
    error = mismatch_error(count._data.shape, prob._data.shape)
    if error is not None:
        raise error
    # PyTorch's CPU kernel gives 0 for a count or probability of 0 and below and the count for a
    # probability of 1 and above; a NaN count (on which its sampler never ends) counts as 0.
    shape = np.broadcast_shapes(count._data.shape, prob._data.shape)
    counts = np.broadcast_to(np.nan_to_num(count._data.astype(np.float64), nan=0.0), shape)
    probabilities = np.broadcast_to(prob._data, shape)
    draws = _random.binomial(generator, counts, probabilities,
                             single=count._data.dtype == np.float32)
    return _drawn(draws.astype(count._data.dtype), NOT_IMPLEMENTED, count, prob,
                  refused="binomial")


NO_SAMPLE_COUNT = object()  # multinomial's num_samples left out


def multinomial(input, num_samples=NO_SAMPLE_COUNT, replacement=False, generator=None):
    """Sample category indices from (rows of) non-negative weights."""
    if num_samples is NO_SAMPLE_COUNT:
        # PyTorch's parser words it so (pre-0.4 code called probs.multinomial() with no count)
        raise TypeError('multinomial() missing 1 required positional arguments: "num_samples"')
    _check_tensor_input("multinomial", input)
    if not hasattr(num_samples, "__index__") or isinstance(num_samples, bool):
        raise TypeError(f"multinomial(): argument 'num_samples' (position 2) must be int, not "
                        f"{type(num_samples).__name__}")
    if input._data.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    weights = np.asarray(input._data, dtype=np.float64)
    rows = weights.reshape(-1, weights.shape[-1])
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > rows.shape[-1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    totals = np.add.reduce(rows, axis=-1)
    # one pass for the usual valid weights: no NaN (it would make the minimum NaN), none below
    # zero, so no -inf; finite row sums, so no inf; the detailed checks give the error
    if not (rows.size and np.minimum.reduce(rows, axis=None) >= 0.0
            and math.isfinite(np.add.reduce(totals)) and np.minimum.reduce(totals) > 0.0):
        if not np.isfinite(rows).all() or (rows < 0).any():
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if (totals <= 0).any():
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    keys = input._data.reshape(rows.shape)
    result = _random.multinomial_rows(generator, keys, num_samples, replacement)
    return _new(result.astype(np.int64).reshape(weights.shape[:-1] + (num_samples,)))


def normal(mean, std=1.0, size=None, *, generator=None, out=None, dtype=None, device=None,
           requires_grad=False):
    """Normal samples: ``normal(mean, std, size)`` for numbers, or elementwise means and
    standard deviations from tensors (broadcast together); not differentiable."""
    _check_device(device)
    mean_array = mean._data if isinstance(mean, Tensor) else None
    std_array = std._data if isinstance(std, Tensor) else None
    for value, array in ((mean, mean_array), (std, std_array)):
        if array is None and not isinstance(value, (int, float, np.number)):
            raise TypeError(f"normal() received an invalid combination of arguments - got "
                            f"{named_type(value)} where a Tensor or float belongs")
    std_values = std_array
    if std_array is not None and hasattr(type(std_array), "whole_batch"):
        std_values = std_array.whole_batch()  # batched by ember.func.vmap: every sample checked
    if std_array is None and std < 0 or std_array is not None and (std_values < 0).any():
        if std_array is not None:
            raise RuntimeError("normal expects all elements of std >= 0.0")
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_compact(std)}")
    if mean_array is None and std_array is None:
        if size is None:
            raise TypeError("normal(): with a number mean and std, size must be given")
        shape = _sequence_size("normal", (size,) if isinstance(size, int) else size, 3)
        target = _target(_dtype_argument("normal", dtype), out, get_default_dtype())
    else:
        arrays = [array for array in (mean_array, std_array) if array is not None]
        shape = _broadcast_shapes(*(array.shape for array in arrays))
        target = from_numpy_dtype(arrays[0].dtype)
        if not target.is_floating_point:
            raise NotImplementedError(f"\"normal_kernel_cpu\" not implemented for "
                                      f"'{target._scalar_type}'")
    # PyTorch draws normal_(0, std) for a number std (normal_(mean, std) when both are
    # numbers), else normal_(0, 1) times std, then adds the mean, in the result's dtype.
    base = mean if mean_array is None and std_array is None else 0.0
    scale = 1.0 if std_array is not None else std
    if out is None and not requires_grad:
        drawn = _random.batched_draw(
            lambda batch_shape: _random.normal(generator, batch_shape, target.numpy, base, scale),
            shape)
        if drawn is not None:  # under vmap(randomness="different"): the same steps on tensors
            if std_array is not None:
                drawn = drawn * std.to(target)
            if mean_array is not None:
                return drawn + mean.to(target)
            return drawn + target.numpy.type(mean) if std_array is not None else drawn
    draws = _random.normal(generator, shape, target.numpy, base, scale)
    if std_array is not None:
        draws = draws * std_array.astype(target.numpy, copy=False)
    if mean_array is not None:
        draws = draws + mean_array.astype(target.numpy, copy=False)
    elif std_array is not None:
        draws = draws + target.numpy.type(mean)
    if out is None and (mean_array is not None and mean.requires_grad
                        or std_array is not None and std.requires_grad):
        # PyTorch's NormalBackward1 (tensor mean), 2 (tensor std), 3 (both): zero gradients
        overload = 3 if mean_array is not None and std_array is not None else \
            (1 if mean_array is not None else 2)
        return _drawn(draws.astype(target.numpy, copy=False), f"NormalBackward{overload}",
                      mean, std)
    return _finish("normal", draws.astype(target.numpy, copy=False), requires_grad, out)


def _broadcast_shapes(first, second=None):
    """Shapes broadcast together, with PyTorch's message when they cannot be."""
    if second is None:
        return first
    try:
        return np.broadcast_shapes(first, second)
    except ValueError:
        for dim in range(1, max(len(first), len(second)) + 1):
            a = first[-dim] if dim <= len(first) else 1
            b = second[-dim] if dim <= len(second) else 1
            if a != b and a != 1 and b != 1:
                raise RuntimeError(f"The size of tensor a ({a}) must match the size of tensor b "
                                   f"({b}) at non-singleton dimension "
                                   f"{max(len(first), len(second)) - dim}") from None
        raise


# ---- legacy typed constructors ----------------------------------------------------------------
class _TensorType(type):
    """The type of ``FloatTensor`` and its kin, as PyTorch's ``torch.tensortype``: calling one is
    the legacy constructor of its dtype, ``isinstance(x, FloatTensor)`` asks whether ``x`` is a
    float32 tensor; tensors themselves are all ``Tensor``."""

    def __call__(cls, *args, **kwargs):
        return legacy_new(cls.dtype, args, kwargs)

    def __instancecheck__(cls, instance):
        return isinstance(instance, Tensor) and _dtype._lookup(instance._data.dtype) is cls.dtype

    def __repr__(cls):
        return f"<class '{_dtype.repr_prefix()}.{cls.__name__}'>"


def _tensor_type(dtype):
    return _TensorType(f"{dtype._scalar_type}Tensor", (), {
        "dtype": dtype, "is_cuda": False, "is_sparse": False, "__module__": "ember",
        "__doc__": f"Legacy constructor of {dtype!r} tensors (``torch.{dtype._scalar_type}"
                   f"Tensor``)."})


FloatTensor = _tensor_type(_dtype.float32)
DoubleTensor = _tensor_type(_dtype.float64)
HalfTensor = _tensor_type(_dtype.float16)
BFloat16Tensor = _tensor_type(_dtype.bfloat16)
ByteTensor = _tensor_type(_dtype.uint8)
CharTensor = _tensor_type(_dtype.int8)
ShortTensor = _tensor_type(_dtype.int16)
IntTensor = _tensor_type(_dtype.int32)
LongTensor = _tensor_type(_dtype.int64)
BoolTensor = _tensor_type(_dtype.bool_)
TENSOR_TYPES = {tensor_type.__name__: tensor_type for tensor_type in (
    FloatTensor, DoubleTensor, HalfTensor, BFloat16Tensor, ByteTensor, CharTensor, ShortTensor, IntTensor,
    LongTensor, BoolTensor)}


def tensor_type_dtype(value):
    """The dtype that a tensor type names: a legacy class (``LongTensor``) or its name
    (``'torch.LongTensor'``, ``'ember.LongTensor'``); None for anything else."""
    if isinstance(value, _TensorType):
        return value.dtype
    if not isinstance(value, str):
        return None
    module, _, name = value.rpartition(".")
    if module in ("torch.cuda", "ember.cuda"):
        raise RuntimeError(f"type {value} not available: ember runs on the CPU only "
                           f"(ember.cuda.is_available() is False)")
    if module not in ("torch", "ember") or name not in TENSOR_TYPES:
        raise ValueError(f"invalid type: '{value}'")
    return TENSOR_TYPES[name].dtype


def set_default_tensor_type(t):
    """Deprecated in PyTorch 2.1 (UserWarning): set the default dtype from a floating tensor
    type (``torch.DoubleTensor`` or ``'torch.DoubleTensor'``)."""
    warn_once("torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
              "torch.set_default_dtype() and torch.set_default_device() as alternatives.")
    dtype = tensor_type_dtype(t)
    if dtype is None:
        raise TypeError(f"invalid type: {t!r}")
    if not dtype.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    set_default_dtype(dtype)



# ---- window functions ------------------------------------------------------------------------
# The C++ type names PyTorch prints for non-floating dtypes in its window functions' errors.
_CPP_TYPE_NAMES = {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
                   "uint8": "unsigned char", "bool": "bool"}


def _window(name, window_length, periodic, dtype, layout, device, requires_grad, formula):
    """A window of ``window_length`` values from ``formula(n, N)`` (``n`` = 0..N-1 as an array of
    the window's dtype, ``N`` the symmetric length), computed as PyTorch computes it: a periodic
    window is the symmetric window one longer, without its last value."""
    _check_layout(name, layout)
    _check_device(device)
    length = integer_size(window_length)
    if length is None:
        raise TypeError(f"{name}(): argument 'window_length' (position 1) must be int, not "
                        f"{named_type(window_length)}")
    target = _dtype_argument(name, dtype) or get_default_dtype()
    _flag_argument(name, "requires_grad", requires_grad)
    if length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got "
                           f"window_length={length}")
    numpy_dtype = target.numpy
    if numpy_dtype.kind != "f":
        raise RuntimeError(f"{name} expects floating point dtypes, got: TensorOptions(dtype="
                           f"{_CPP_TYPE_NAMES.get(numpy_dtype.name, numpy_dtype.name)}, "
                           f"device=cpu, layout=Strided (default), requires_grad=false "
                           f"(default), pinned_memory=false, memory_format=(nullopt))")
    if length <= 1:
        return _new(np.ones(length, numpy_dtype), requires_grad)
    symmetric_length = length + 1 if periodic else length
    positions = np.arange(symmetric_length, dtype=numpy_dtype)
    array = formula(positions, symmetric_length).astype(numpy_dtype, copy=False)[:length]
    return _new(np.ascontiguousarray(array), requires_grad)


def _cosine_sum(coefficients):
    """``sum_k (-1)^k a_k cos(2 pi k n / (N - 1))``: the Hann, Hamming and Blackman windows."""
    def formula(positions, length):
        kind = positions.dtype.type
        angle = positions * kind(2 * math.pi / (length - 1))
        total = np.full(positions.shape, kind(coefficients[0]), positions.dtype)
        for order, coefficient in enumerate(coefficients[1:], start=1):
            total = total + kind((-1) ** order * coefficient) * np.cos(angle * kind(order))
        return total
    return formula


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                requires_grad=False, pin_memory=False):
    """The Hann window ``0.5 - 0.5 cos(2 pi n / (N - 1))``."""
    return _window("hann_window", window_length, periodic, dtype, layout, device, requires_grad,
                   _cosine_sum((0.5, 0.5)))


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   layout=None, device=None, requires_grad=False, pin_memory=False):
    """The Hamming window ``alpha - beta cos(2 pi n / (N - 1))``."""
    return _window("hamming_window", window_length, periodic, dtype, layout, device,
                   requires_grad, _cosine_sum((alpha, beta)))


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False, pin_memory=False):
    """The Blackman window ``0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))``."""
    return _window("blackman_window", window_length, periodic, dtype, layout, device,
                   requires_grad, _cosine_sum((0.42, 0.5, 0.08)))


def _bartlett(positions, length):
    kind = positions.dtype.type
    rising = positions * kind(2.0 / (length - 1))
    first_half = ((length - 1) >> 1) + 1
    return np.where(np.arange(length) < first_half, rising, kind(2) - rising)


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False, pin_memory=False):
    """The triangular Bartlett window ``1 - |2n / (N - 1) - 1|``."""
    return _window("bartlett_window", window_length, periodic, dtype, layout, device,
                   requires_grad, _bartlett)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None,
                  device=None, requires_grad=False, pin_memory=False):
    """The Kaiser window ``I0(beta sqrt(1 - ((n - a) / a)^2)) / I0(beta)``, ``a = (N - 1) / 2``
    (I0 the modified Bessel function of order 0, evaluated in float64)."""
    def formula(positions, length):
        half = (length - 1) / 2.0
        ratio = (positions.astype(np.float64) - half) / half
        return np.i0(beta * np.sqrt(np.maximum(1 - ratio * ratio, 0))) / np.i0(beta)
    return _window("kaiser_window", window_length, periodic, dtype, layout, device,
                   requires_grad, formula)
