"""Tensor factories: tensor/as_tensor/from_numpy, filled and ranged tensors, random tensors."""
import math

import numpy as np

from ._device import check_cpu
from ._dtype import from_numpy_dtype, get_default_dtype, to_dtype
from ._random import numpy_generator
from .tensor import Tensor, _to_array

__all__ = ["arange", "as_tensor", "bernoulli", "empty", "empty_like", "eye", "from_numpy", "full",
           "full_like", "linspace", "logspace", "multinomial", "normal", "ones", "ones_like",
           "rand", "rand_like", "randint", "randint_like", "randn", "randn_like", "randperm",
           "tensor", "zeros", "zeros_like"]


def _check_device(device):
    check_cpu(device, "factory")


def _new(array, requires_grad=False):
    """Wrap a freshly made array; ``requires_grad`` is honoured even under no_grad (PyTorch)."""
    tensor = Tensor._result(array)
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = tuple(int(dim) for dim in size)
    for dim in shape:
        if dim < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {dim}: "
                               f"{list(shape)}")
    return shape


def _float_dtype(dtype):
    return get_default_dtype().numpy if dtype is None else to_dtype(dtype).numpy


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor copying ``data``; Python floats become the default dtype, ints int64."""
    _check_device(device)
    array = _to_array(data, dtype)
    source = data._data if isinstance(data, Tensor) else data
    if isinstance(source, np.ndarray) and np.may_share_memory(array, source):
        array = array.copy()
    return _new(array, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a NumPy array or tensor when no conversion is needed."""
    _check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None or to_dtype(dtype).numpy == data._data.dtype else \
            data.to(dtype)
    if isinstance(data, np.ndarray):
        from_numpy_dtype(data.dtype)
        if dtype is not None and to_dtype(dtype).numpy != data.dtype:
            return _new(data.astype(to_dtype(dtype).numpy))
        return _new(data)
    return _new(_to_array(data, dtype))


def from_numpy(array):
    """A tensor sharing memory with ``array`` (in-place changes are seen by both)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    from_numpy_dtype(array.dtype)
    return _new(array)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    return _new(np.zeros(_size(size), dtype=_float_dtype(dtype)), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    return _new(np.ones(_size(size), dtype=_float_dtype(dtype)), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    return _new(np.empty(_size(size), dtype=_float_dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    if dtype is None:
        if isinstance(fill_value, bool):
            numpy_dtype = np.bool_
        elif isinstance(fill_value, int):
            numpy_dtype = np.int64
        else:
            numpy_dtype = get_default_dtype().numpy
    else:
        numpy_dtype = to_dtype(dtype).numpy
    return _new(np.full(_size((size,) if isinstance(size, int) else tuple(size)), fill_value,
                        dtype=numpy_dtype), requires_grad)


def _like(input, dtype):
    return input._data.dtype if dtype is None else to_dtype(dtype).numpy


def zeros_like(input, dtype=None, device=None, requires_grad=False):
    return _new(np.zeros(input._data.shape, dtype=_like(input, dtype)), requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False):
    return _new(np.ones(input._data.shape, dtype=_like(input, dtype)), requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False):
    return _new(np.empty(input._data.shape, dtype=_like(input, dtype)), requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    return _new(np.full(input._data.shape, fill_value, dtype=_like(input, dtype)), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values in [start, end) by ``step``; int64 unless an argument is a float."""
    _check_device(device)
    if end is None:
        start, end = 0, start
    values = [_number(value) for value in (start, end, step)]
    if values[2] == 0:
        raise RuntimeError("step must be nonzero")
    if (values[1] - values[0]) / values[2] < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        is_float = any(isinstance(value, float) for value in values)
        numpy_dtype = get_default_dtype().numpy if is_float else np.int64
    else:
        numpy_dtype = to_dtype(dtype).numpy
    count = max(math.ceil((values[1] - values[0]) / values[2]), 0)
    # Computed in float64 then cast, as PyTorch computes start + i * step in double.
    array = (values[0] + np.arange(count, dtype=np.float64) * values[2]) if \
        np.dtype(numpy_dtype).kind == "f" or any(isinstance(v, float) for v in values) else \
        np.arange(values[0], values[1], values[2], dtype=np.int64)
    return _new(np.asarray(array).astype(numpy_dtype), requires_grad)


def _number(value):
    if isinstance(value, Tensor):
        return value.item()
    return value


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    numpy_dtype = _float_dtype(dtype)
    start, end, steps = _number(start), _number(end), int(steps)
    if steps == 1 or np.dtype(numpy_dtype).kind != "f":
        array = np.linspace(start, end, steps, dtype=np.float64).astype(numpy_dtype)
        return _new(array, requires_grad)
    # PyTorch's kernel: the step in the output dtype; the first half steps up from start, the
    # second half down from end (both ends exact), each value a fused multiply-add (emulated in
    # a wider type, then rounded once).
    kind = np.dtype(numpy_dtype).type
    wide = np.float64 if numpy_dtype == np.float32 else np.longdouble
    step = wide((kind(end) - kind(start)) / kind(steps - 1))
    index = np.arange(steps).astype(wide)
    halfway = steps // 2
    array = np.where(index < halfway, wide(kind(start)) + step * index,
                     wide(kind(end)) - step * (wide(steps - 1) - index)).astype(numpy_dtype)
    return _new(array, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    return _new(np.eye(n, n if m is None else m, dtype=_float_dtype(dtype)), requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1)."""
    return _draw("random", size, generator, dtype, device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal."""
    return _draw("standard_normal", size, generator, dtype, device, requires_grad)


def _draw(method, size, generator, dtype, device, requires_grad):
    """Floats from the generator's ``method``, drawn in float32/float64 directly (NumPy draws
    no other float dtype: those are drawn in float64 and cast)."""
    _check_device(device)
    numpy_dtype = _float_dtype(dtype)
    draw = getattr(numpy_generator(generator), method)
    if numpy_dtype in (np.float32, np.float64):
        array = draw(_size(size), dtype=numpy_dtype)
    else:
        array = draw(_size(size)).astype(numpy_dtype)
    return _new(array, requires_grad)


def randint(low, high=None, size=None, generator=None, dtype=None, device=None,
            requires_grad=False):
    """Integers uniform in [low, high); int64 unless ``dtype`` says otherwise."""
    _check_device(device)
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    numpy_dtype = np.int64 if dtype is None else to_dtype(dtype).numpy
    array = numpy_generator(generator).integers(low, high, size=_size(tuple(size)))
    return _new(array.astype(numpy_dtype), requires_grad)


def randperm(n, generator=None, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    if n < 0:
        raise RuntimeError(f"n must be non-negative, got{n}")
    numpy_dtype = np.int64 if dtype is None else to_dtype(dtype).numpy
    return _new(numpy_generator(generator).permutation(n).astype(numpy_dtype), requires_grad)


def rand_like(input, generator=None, dtype=None, requires_grad=False):
    return rand(input._data.shape, generator=generator,
                dtype=dtype or from_numpy_dtype(input._data.dtype), requires_grad=requires_grad)


def randn_like(input, generator=None, dtype=None, requires_grad=False):
    return randn(input._data.shape, generator=generator,
                 dtype=dtype or from_numpy_dtype(input._data.dtype), requires_grad=requires_grad)


def randint_like(input, low, high=None, generator=None, dtype=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, input._data.shape, generator=generator,
                   dtype=dtype or from_numpy_dtype(input._data.dtype))


def bernoulli(input, p=None, generator=None):
    probability = input._data if p is None else p
    draws = numpy_generator(generator).random(input._data.shape) < probability
    return _new(draws.astype(input._data.dtype))


def multinomial(input, num_samples, replacement=False, generator=None):
    """Sample category indices from (rows of) non-negative weights."""
    weights = np.asarray(input._data, dtype=np.float64)
    rows = weights.reshape(-1, weights.shape[-1])
    rng = numpy_generator(generator)
    picks = []
    for row in rows:  # one draw call per distribution row, never per sample
        probabilities = row / row.sum()
        picks.append(rng.choice(row.shape[0], size=num_samples, replace=replacement,
                                p=probabilities))
    result = np.stack(picks).astype(np.int64)
    return _new(result.reshape(weights.shape[:-1] + (num_samples,)))


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    """``steps`` values from base**start to base**end, evenly spaced in the exponent."""
    _check_device(device)
    numpy_dtype = _float_dtype(dtype)
    exponents = np.linspace(_number(start), _number(end), int(steps), dtype=np.float64)
    return _new(np.power(float(base), exponents).astype(numpy_dtype), requires_grad)


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False):
    """Normal samples: ``normal(mean, std, size)`` for numbers, or elementwise means and
    standard deviations from tensors (broadcast together); not differentiable."""
    _check_device(device)
    mean_array = mean._data if isinstance(mean, Tensor) else None
    std_array = std._data if isinstance(std, Tensor) else None
    if std_array is None and std < 0 or std_array is not None and (std_array < 0).any():
        found = std if std_array is None else std_array.min()
        raise RuntimeError(f"normal expects std >= 0.0, but found std {found}")
    if mean_array is None and std_array is None:
        if size is None:
            raise TypeError("normal(): with a number mean and std, size must be given")
        numpy_dtype = _float_dtype(dtype)
        shape = _size((size,) if isinstance(size, int) else tuple(size))
    else:
        shape = np.broadcast_shapes(*[array.shape for array in (mean_array, std_array)
                                      if array is not None])
        numpy_dtype = next(array.dtype for array in (mean_array, std_array) if array is not None)
    draws = numpy_generator(generator).standard_normal(shape)
    mean_values = mean if mean_array is None else mean_array
    std_values = std if std_array is None else std_array
    return _new((draws * std_values + mean_values).astype(numpy_dtype), requires_grad)
