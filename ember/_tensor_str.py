"""Printing tensors in PyTorch's format: one width for all values, 4 decimals or scientific
notation as PyTorch chooses, ``...`` for the middle of long dimensions."""
import math

import numpy as np

from ._dtype import default_complex, from_numpy_dtype, get_default_dtype, is_floating

__all__ = ["format_tensor", "format_values", "get_printoptions", "set_printoptions"]

# PyTorch's print options (set_printoptions); process-wide, as PyTorch's.
_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}
_options = {**_PROFILES["default"], "sci_mode": None}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """How tensors print: decimals, the element count above which they are summarized, the
    items kept at each end when summarized, the line width, a profile ('default', 'short',
    'full') applied first, and scientific notation forced on or off (None: chosen per tensor;
    every call sets it)."""
    if profile is not None:
        _options.update(_PROFILES.get(profile, {}))
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            _options[name] = value
    _options["sci_mode"] = sci_mode


def get_printoptions():
    """The current print options, as a dict of set_printoptions' keywords."""
    return dict(_options)


def format_tensor(tensor):
    """``repr(tensor)`` exactly as PyTorch prints it."""
    array = tensor._data
    # a program's Tensor subclass prints under its own name (PyTorch's)
    kind = type(tensor)
    prefix = "tensor(" if kind._ember_own else f"{kind.__name__}("
    if tensor._on_meta:
        # a meta tensor has no values: its size and dtype stand in for them (PyTorch's)
        body = "..."
        suffixes = ["device='meta'", f"size={tuple(array.shape)}"]
        if array.dtype != get_default_dtype().numpy:
            suffixes.append(f"dtype={from_numpy_dtype(array.dtype)!r}")
    else:
        body, suffixes = _values_and_suffixes(array, len(prefix))
    if tensor.grad_fn is not None:
        suffixes.append(f"grad_fn=<{tensor.grad_fn.name().rpartition('::')[2]}>")
    elif tensor._requires_grad:
        suffixes.append("requires_grad=True")
    return prefix + body + _suffixes(prefix + body, suffixes, len(prefix)) + ")"


def _values_and_suffixes(array, indent):
    """The printed values of ``array`` and the dtype and size suffixes PyTorch adds to them."""
    # bfloat16 values print as the float32 values they are (exactly representable there).
    shown = array.astype(np.float32) if is_floating(array.dtype) and array.dtype.kind != "f" \
        else array
    body = _format_array(shown, indent)
    suffixes = []
    default = get_default_dtype().numpy
    if array.dtype not in (default, default_complex().numpy, np.int64, np.bool_) or \
            array.size == 0 and array.dtype != default:
        suffixes.append(f"dtype={from_numpy_dtype(array.dtype)!r}")
    if array.size == 0 and array.ndim != 1:
        suffixes.insert(0, f"size={tuple(array.shape)}")
    return body, suffixes


def format_values(array, suffixes):
    """``tensor(<values>, <suffixes>)`` in PyTorch's layout, for tensor-like objects that print
    real values and their own suffixes (a quantized tensor prints its dequantized values)."""
    prefix = "tensor("
    body = _format_array(array, len(prefix))
    return prefix + body + _suffixes(prefix + body, suffixes, len(prefix)) + ")"


def _suffixes(text, suffixes, indent):
    """``, dtype=...`` after the values, or on a line of its own (indented) where it would run
    past the line width, as PyTorch places them."""
    parts = []
    last_line = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > _options["linewidth"]:
            parts.append(",\n" + " " * indent + suffix)
            last_line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line += len(suffix) + 2
    return "".join(parts)


def _format_array(array, indent):
    """PyTorch's layout: one formatter (width) for all printed values, a fixed number of
    elements per line, and ``...`` for the middle of long dimensions."""
    if array.size == 0:
        return "[]"
    summarize = array.size > _options["threshold"]
    values = _summary_values(array) if summarize else array.reshape(-1)
    formatter = _ComplexFormatter(values) if array.dtype.kind == "c" else _Formatter(values)
    return _format_nested(array, indent, summarize, formatter)


def _format_nested(array, indent, summarize, formatter):
    if array.ndim == 0:
        return formatter.format(array.item())
    if array.ndim == 1:
        element_length = formatter.width + 2
        per_line = max(1, (_options["linewidth"] - indent) // element_length)
        if summarize and array.shape[0] > 2 * _options["edgeitems"]:
            items = ([formatter.format(value) for value in array[:_options["edgeitems"]].tolist()] + [" ..."]
                     + [formatter.format(value) for value in array[-_options["edgeitems"]:].tolist()])
        else:
            items = [formatter.format(value) for value in array.tolist()]
        lines = [", ".join(items[start:start + per_line])
                 for start in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    if summarize and array.shape[0] > 2 * _options["edgeitems"]:
        rows = ([_format_nested(array[row], indent + 1, summarize, formatter)
                 for row in range(_options["edgeitems"])] + ["..."]
                + [_format_nested(array[row], indent + 1, summarize, formatter)
                   for row in range(array.shape[0] - _options["edgeitems"], array.shape[0])])
    else:
        rows = [_format_nested(array[row], indent + 1, summarize, formatter)
                for row in range(array.shape[0])]
    return "[" + ("," + "\n" * (array.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _summary_values(array):
    """The values that a summarized print shows (the first and last items of every dim)."""
    if array.ndim == 0:
        return array.reshape(1)
    if array.shape[0] > 2 * _options["edgeitems"]:
        pieces = [array[:_options["edgeitems"]], array[-_options["edgeitems"]:]]
    else:
        pieces = [array]
    if array.ndim == 1:
        return np.concatenate([piece.reshape(-1) for piece in pieces])
    return np.concatenate([_summary_values(row) for piece in pieces for row in piece])


class _ComplexFormatter:
    """PyTorch's complex printing: the real parts formatted (and padded) as a real tensor's
    values, then the imaginary parts' own format with their sign and a ``j``."""

    def __init__(self, values):
        self.real = _Formatter(np.ascontiguousarray(values.real))
        self.imaginary = _Formatter(np.ascontiguousarray(values.imag))
        # PyTorch's element length for line breaks: both widths and the sign
        self.width = self.real.width + self.imaginary.width + 1

    def format(self, value):
        imaginary = (self.imaginary.format(value.imag) + "j").lstrip()
        if imaginary[0] not in "+-":
            imaginary = "+" + imaginary
        return self.real.format(value.real) + imaginary


class _Formatter:
    """PyTorch's float printing: integral values as ``1.``, else ``precision`` decimals,
    scientific when the nonzero finite magnitudes span more than 1000x or leave [1e-4, 1e8]
    (unless sci_mode says otherwise); all padded to one width."""

    def __init__(self, values):
        self.kind = values.dtype.kind
        self.precision = _options["precision"]
        self.integral = True  # also when there is no nonzero finite value: zeros print as 0.
        self.scientific = False
        self.width = 1
        if self.kind != "f":
            for value in values.tolist():
                self.width = max(self.width, len(str(value)))
            return
        finite = values[np.isfinite(values) & (values != 0)].astype(np.float64)
        if finite.size:
            magnitudes = np.abs(finite)
            largest = float(magnitudes.max())
            smallest = float(magnitudes.min())
            self.integral = bool(np.all(finite == np.ceil(finite)))
            self.scientific = largest / smallest > 1000.0 or largest > 1.0e8 or \
                smallest < 1.0e-4
            if _options["sci_mode"] is not None:
                self.scientific = _options["sci_mode"]
            if self.scientific:
                texts = [f"{value:.{self.precision}e}" for value in finite.tolist()]
            elif self.integral:
                texts = [f"{value:.0f}." for value in finite.tolist()]
            else:
                texts = [f"{value:.{self.precision}f}" for value in finite.tolist()]
            self.width = max(len(text) for text in texts)

    def format(self, value):
        if self.kind != "f":
            text = str(value)
        elif self.scientific:
            text = f"{value:.{self.precision}e}"
        elif self.integral:
            text = f"{value:.0f}"
            if not (math.isinf(value) or math.isnan(value)):
                text += "."
        else:
            text = f"{value:.{self.precision}f}"
        return " " * (self.width - len(text)) + text
