"""``torch.testing`` on ember: ``assert_close`` with PyTorch's rules and messages, and
``make_tensor`` for test inputs.

Inputs are compared pairwise through nested sequences and mappings; each pair is None, booleans,
Python or NumPy numbers, or tensor-likes (tensors and arrays, compared elementwise as
``|actual - expected| <= atol + rtol * |expected|``). The first mismatch is an AssertionError
with PyTorch's wording; inputs that cannot be compared are a TypeError or ValueError.
"""
import collections.abc
import math
import warnings

import numpy as np

from ._dtype import finfo, iinfo, promote_types, repr_prefix, to_dtype
from ._factories import as_tensor, empty, randint
from .tensor import Tensor

__all__ = ["assert_allclose", "assert_close", "make_tensor"]

# dtype name -> (rtol, atol), PyTorch's defaults; other dtypes (integers, bool) compare exactly.
_TOLERANCES = {
    "float16": (0.001, 1e-5),
    "bfloat16": (0.016, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
    "complex64": (1.3e-6, 1e-5),
    "complex128": (1e-7, 1e-7),
}
_NUMBER_DTYPES = {int: "int64", float: "float64", complex: "complex128"}


class _Mismatch(Exception):
    """One failed comparison: the exception type to raise, its message, and where (the keys and
    indices into the nested inputs)."""

    def __init__(self, error_type, message, where=()):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.where = where

    def to_error(self, msg=None):
        if isinstance(msg, str):
            return self.error_type(msg)
        message = self.message
        if self.where:
            message += "\n\nThe failure occurred for item " + \
                "".join(str([item]) for item in self.where)
        return self.error_type(msg(message) if callable(msg) else message)


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    """Assert that ``actual`` and ``expected`` are close, as ``torch.testing.assert_close``:
    same structure, types, shapes and (by default) dtypes, values within tolerance."""
    __tracebackhide__ = True  # noqa: F841 (pytest hides this frame)
    options = dict(allow_subclasses=allow_subclasses, rtol=rtol, atol=atol,
                   equal_nan=equal_nan, check_dtype=check_dtype, check_stride=check_stride)
    try:
        pairs = _pairs(actual, expected, ())
    except _Mismatch as mismatch:
        raise mismatch.to_error() from None
    for actual_item, expected_item, where in pairs:
        try:
            _compare(actual_item, expected_item, where, options)
        except _Mismatch as mismatch:
            raise mismatch.to_error(msg) from None


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    """Deprecated since PyTorch 1.12 (FutureWarning): ``assert_close`` without the dtype check,
    with looser default tolerances."""
    warnings.warn("`torch.testing.assert_allclose()` is deprecated since 1.12 and will be "
                  "removed in a future release. Please use `torch.testing.assert_close()` "
                  "instead. You can find detailed upgrade instructions in "
                  "https://github.com/pytorch/pytorch/issues/61844.", FutureWarning,
                  stacklevel=2)
    if not isinstance(actual, Tensor):
        actual = as_tensor(actual)
    if not isinstance(expected, Tensor):
        expected = as_tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        loose = {"float16": (1e-3, 1e-3), "float32": (1e-4, 1e-5), "float64": (1e-5, 1e-8)}
        found = [loose.get(tensor.dtype.name, (0.0, 0.0)) for tensor in (actual, expected)]
        rtol = max(pair[0] for pair in found)
        atol = max(pair[1] for pair in found)
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=False,
                 msg=msg or None)


def _is_sequence(value):
    return isinstance(value, collections.abc.Sequence) and not isinstance(value, str)


def _pairs(actual, expected, where):
    """The leaves to compare, in order; structural mismatches fail before any value does."""
    if _is_sequence(actual) and _is_sequence(expected):
        if len(actual) != len(expected):
            raise _Mismatch(AssertionError, f"The length of the sequences mismatch: "
                                            f"{len(actual)} != {len(expected)}", where)
        pairs = []
        for index in range(len(actual)):
            pairs.extend(_pairs(actual[index], expected[index], (*where, index)))
        return pairs
    if isinstance(actual, collections.abc.Mapping) and \
            isinstance(expected, collections.abc.Mapping):
        actual_keys = set(actual.keys())
        expected_keys = set(expected.keys())
        if actual_keys != expected_keys:
            raise _Mismatch(AssertionError,
                            f"The keys of the mappings do not match:\n"
                            f"Missing keys in the actual mapping: "
                            f"{sorted(expected_keys - actual_keys)}\n"
                            f"Additional keys in the actual mapping: "
                            f"{sorted(actual_keys - expected_keys)}", where)
        try:
            keys = sorted(actual_keys)
        except TypeError:
            keys = list(actual_keys)
        pairs = []
        for key in keys:
            pairs.extend(_pairs(actual[key], expected[key], (*where, key)))
        return pairs
    return [(actual, expected, where)]


def _tolerances(dtype_names, rtol, atol, where):
    if (rtol is None) != (atol is None):
        raise _Mismatch(ValueError, f"Both 'rtol' and 'atol' must be either specified or "
                                    f"omitted, but got no {'rtol' if rtol is None else 'atol'}.",
                        where)
    if rtol is not None:
        return rtol, atol
    found = [_TOLERANCES.get(name, (0.0, 0.0)) for name in dtype_names]
    return max(pair[0] for pair in found), max(pair[1] for pair in found)


def _compare(actual, expected, where, options):
    if actual is None or expected is None:
        if not (actual is None and expected is None):
            raise _Mismatch(AssertionError, f"None mismatch: {actual} is not {expected}", where)
        return
    booleans = (bool, np.bool_)
    if isinstance(actual, booleans) and isinstance(expected, booleans):
        if bool(actual) is not bool(expected):
            raise _Mismatch(AssertionError, f"Booleans mismatch: {bool(actual)} is not "
                                            f"{bool(expected)}", where)
        return
    numbers = (int, float, complex, np.number)
    if isinstance(actual, numbers) and isinstance(expected, numbers):
        _compare_numbers(actual, expected, where, options)
        return
    related = isinstance(actual, type(expected)) or isinstance(expected, type(actual))
    if related and (options["allow_subclasses"] or type(actual) is type(expected)):
        tensors = _as_tensors(actual, expected)
        if tensors is not None:
            _compare_tensors(*tensors, where, options)
            return
    raise _Mismatch(TypeError, f"No comparison pair was able to handle inputs of type "
                               f"{_type_text(actual)} and {_type_text(expected)}.", where)


def _type_text(value):
    """``str(type(value))`` as PyTorch prints it: ember's classes under their torch paths
    (``<class 'torch.Tensor'>``, not ember.tensor.Tensor) when ember stands in for torch."""
    kind = type(value)
    module = kind.__module__
    if module != "ember" and not module.startswith("ember."):
        return str(kind)
    if module == "ember.tensor":
        module = "ember"  # PyTorch's Tensor lives in torch itself
    return f"<class '{repr_prefix()}{module[len('ember'):]}.{kind.__qualname__}'>"


def _as_tensors(actual, expected):
    try:
        return tuple(value if isinstance(value, Tensor) else as_tensor(value)
                     for value in (actual, expected))
    except (TypeError, ValueError, RuntimeError):
        return None


def _compare_numbers(actual, expected, where, options):
    actual, expected = (value.item() if isinstance(value, np.number) else value
                        for value in (actual, expected))
    rtol, atol = _tolerances([_NUMBER_DTYPES[type(value)] for value in (actual, expected)],
                             options["rtol"], options["atol"], where)
    if options["check_dtype"] and type(actual) is not type(expected):
        raise _Mismatch(AssertionError, f"The (d)types do not match: {type(actual)} != "
                                        f"{type(expected)}.", where)
    if actual == expected:
        return
    if options["equal_nan"] and _is_nan(actual) and _is_nan(expected):
        return
    difference = abs(actual - expected)
    if _is_finite(difference) and difference <= atol + rtol * abs(expected):
        return
    raise _Mismatch(AssertionError, _scalar_message(actual, expected, rtol, atol), where)


def _is_nan(value):
    return value != value


def _is_finite(value):
    return not (_is_nan(value) or abs(value) == math.inf)


def _compare_tensors(actual, expected, where, options):
    rtol, atol = _tolerances([actual.dtype.name, expected.dtype.name], options["rtol"],
                             options["atol"], where)
    if actual.shape != expected.shape:
        _attribute_mismatch("shape", actual.shape, expected.shape, where)
    if options["check_stride"] and actual.stride() != expected.stride():
        _attribute_mismatch("stride()", actual.stride(), expected.stride(), where)
    if options["check_dtype"] and actual.dtype is not expected.dtype:
        _attribute_mismatch("dtype", actual.dtype, expected.dtype, where)
    actual_array = actual._data
    expected_array = expected._data
    if actual.dtype is not expected.dtype:
        common = promote_types(actual.dtype, expected.dtype).numpy
        actual_array = actual_array.astype(common)
        expected_array = expected_array.astype(common)
    matches = _is_close(actual_array, expected_array, rtol, atol, options["equal_nan"])
    if matches.all():
        return
    if actual_array.ndim == 0:
        message = _scalar_message(actual_array.item(), expected_array.item(), rtol, atol)
    else:
        message = _tensor_message(actual_array, expected_array, matches, rtol, atol)
    raise _Mismatch(AssertionError, message, where)


def _attribute_mismatch(name, actual_value, expected_value, where):
    raise _Mismatch(AssertionError, f"The values for attribute '{name}' do not match: "
                                    f"{actual_value} != {expected_value}.", where)


def _is_floating(array):
    """Floating or complex: compared within tolerances, in the arrays' own dtype."""
    return array.dtype.kind in "fc" or array.dtype.name == "bfloat16"


def _is_close(actual, expected, rtol, atol, equal_nan):
    """torch.isclose: equal, or finite and within ``atol + rtol * |expected|`` computed in the
    inputs' dtype (integers in float64 here, exact for the values tests use)."""
    equal = actual == expected
    if _is_floating(actual):
        work = actual.dtype if actual.dtype.kind in "fc" else np.float32
        actual_values = actual.astype(work, copy=False)
        expected_values = expected.astype(work, copy=False)
    else:
        actual_values = actual.astype(np.float64)
        expected_values = expected.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(actual_values - expected_values)
        allowed = atol + np.abs(rtol * expected_values)
        close = equal | (np.isfinite(error) & (error <= allowed))
    if equal_nan:
        close |= np.isnan(actual_values) & np.isnan(expected_values)
    return close


def _tensor_message(actual, expected, matches, rtol, atol):
    """PyTorch's tensor mismatch report: the count, then the greatest absolute and relative
    differences among the mismatches and where they are."""
    total = matches.size
    mismatched = total - int(matches.sum())
    extra = f"Mismatched elements: {mismatched} / {total} ({mismatched / total:.1%})"
    if _is_floating(actual):
        work = actual.dtype if actual.dtype.kind in "fc" else np.float32
        actual_flat = actual.reshape(-1).astype(work)
        expected_flat = expected.reshape(-1).astype(work)
        divide = np.divide
    else:
        actual_flat = actual.reshape(-1).astype(np.int64)
        expected_flat = expected.reshape(-1).astype(np.int64)

        # An int64 quotient is float32 in PyTorch (true division gives the default dtype).
        def divide(numerator, denominator):
            return (numerator / denominator).astype(np.float32)
    matches_flat = matches.reshape(-1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        absolute = np.abs(actual_flat - expected_flat)
        absolute[matches_flat] = 0
        relative = divide(absolute, np.abs(expected_flat))
        relative[matches_flat] = 0
    absolute_index = _first_max(absolute)
    relative_index = _first_max(relative)
    return _mismatch_message("Tensor-likes", extra, absolute[absolute_index].item(),
                             np.unravel_index(absolute_index, matches.shape), atol,
                             relative[relative_index].item(),
                             np.unravel_index(relative_index, matches.shape), rtol)


def _first_max(values):
    """torch.max's index: NaN is the maximum; the first of equal maxima."""
    nan = np.isnan(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)
    if nan.any():
        return int(np.argmax(nan))
    return int(np.argmax(values))


def _scalar_message(actual, expected, rtol, atol):
    difference = abs(actual - expected)
    relative = math.inf if expected == 0 else difference / abs(expected)
    return _mismatch_message("Scalars", f"Expected {expected} but got {actual}.", difference,
                             None, atol, relative, None, rtol)


def _mismatch_message(identifier, extra, absolute, absolute_index, atol, relative,
                      relative_index, rtol):
    equality = rtol == 0 and atol == 0

    def line(kind, difference, index, tolerance):
        if index is None:
            text = f"{kind.title()} difference: {difference}"
        else:
            text = f"Greatest {kind} difference: {difference} at index " \
                   f"{tuple(int(position) for position in index)}"
        if not equality:
            text += f" (up to {tolerance} allowed)"
        return text + "\n"

    message = f"{identifier} are not {'equal' if equality else 'close'}!\n\n{extra.strip()}\n"
    message += line("absolute", absolute, absolute_index, atol)
    message += line("relative", relative, relative_index, rtol)
    return message.strip()


def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False,
                noncontiguous=False, exclude_zero=False, memory_format=None):
    """A tensor of ``shape`` with values uniform in ``[low, high)`` (defaults by dtype: bool
    [0, 2), unsigned [0, 10), signed [-9, 10), floating [-9, 9)), as torch.testing.make_tensor;
    drawn from ember's default generator."""
    dtype = to_dtype(dtype)
    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = shape[0]
    shape = tuple(shape)
    if noncontiguous and memory_format is not None:
        raise ValueError(f"The parameters `noncontiguous` and `memory_format` are mutually "
                         f"exclusive, but got noncontiguous={noncontiguous} and "
                         f"memory_format={memory_format}")
    if requires_grad and not dtype.is_floating_point:
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral "
                         f"dtypes, but got dtype={dtype}")
    noncontiguous = noncontiguous and math.prod(shape) > 1
    if noncontiguous:
        shape = (*shape[:-1], 2 * shape[-1])
    if dtype.is_floating_point:
        info = finfo(dtype)
        low, high = _limits(low, high, dtype, info.min, info.max, -9, 9)
        result = empty(shape, dtype=dtype, device=device)
        if high - low >= info.max:  # the span itself would overflow the dtype
            result.uniform_(low / 2, high / 2).mul_(2)
        else:
            result.uniform_(low, high)
    else:
        if dtype.name == "bool":
            lowest, highest, default_low = 0, 2, 0
        else:
            info = iinfo(dtype)
            lowest = info.min
            highest = info.max + (1 if dtype.name != "int64" else 0)
            default_low = 0 if dtype.name == "uint8" else -9
        low, high = _limits(low, high, dtype, lowest, highest, default_low,
                            2 if dtype.name == "bool" else 10)
        result = randint(low, high, shape, dtype=dtype, device=device)
    if noncontiguous:
        result = result[..., 1::2]
    if exclude_zero:
        replacement = finfo(dtype).tiny if dtype.is_floating_point else 1
        result[result == 0] = replacement
    if dtype.is_floating_point:
        result.requires_grad = requires_grad
    return result


def _limits(low, high, dtype, lowest_inclusive, highest_exclusive, default_low, default_high):
    low = default_low if low is None else low
    high = default_high if high is None else high
    if any(isinstance(value, float) and math.isnan(value) for value in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if low == high and dtype.is_floating_point:
        warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or "
                      "complex types is deprecated since 2.1 and will be removed in 2.3. Use "
                      "`torch.full(...)` instead.", FutureWarning, stacklevel=3)
    elif low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    elif high < lowest_inclusive or low >= highest_exclusive:
        raise ValueError(f"The value interval specified by `low` and `high` is [{low}, {high}), "
                         f"but {dtype} only supports [{lowest_inclusive}, {highest_exclusive})")
    low = min(max(low, lowest_inclusive), highest_exclusive)
    high = min(max(high, lowest_inclusive), highest_exclusive)
    if not dtype.is_floating_point:
        return math.ceil(low), math.ceil(high)
    return low, high
