"""Public functions whose results bypass Op.apply: comparisons, logic, argmax, the no-grad fast
path of arithmetic, and ranges (arguments by parameter name, in ``event.kwargs``)."""
import numpy as np

from ..._dtype import from_numpy_dtype, result_type
from ..errors import UnsupportedOperatorError
from . import is_value, rule

_ARITHMETIC = {"add": "Add", "sub": "Sub", "subtract": "Sub", "mul": "Mul", "multiply": "Mul",
               "div": "Div", "divide": "Div", "true_divide": "Div"}
_COMPARISONS = {"eq": ("Equal", False), "ne": ("Equal", True), "not_equal": ("Equal", True),
                "lt": ("Less", False), "less": ("Less", False),
                "le": ("LessOrEqual", False), "less_equal": ("LessOrEqual", False),
                "gt": ("Greater", False), "greater": ("Greater", False),
                "ge": ("GreaterOrEqual", False), "greater_equal": ("GreaterOrEqual", False)}
_LOGICAL = {"logical_and": "And", "logical_or": "Or", "logical_xor": "Xor"}
_BITWISE = {"bitwise_and": ("And", "BitwiseAnd"), "bitwise_or": ("Or", "BitwiseOr"),
            "bitwise_xor": ("Xor", "BitwiseXor")}


def common_dtype(*items):
    """The dtype ember promotes these operands (Values or Python numbers) to."""
    tensors = [from_numpy_dtype(item.dtype) for item in items if is_value(item) and item.shape]
    zero_dim = [from_numpy_dtype(item.dtype) for item in items
                if is_value(item) and not item.shape]
    numbers = [item for item in items if not is_value(item) and item is not None]
    return result_type(tensors, zero_dim, numbers).numpy


@rule("function", *_ARITHMETIC)
def arithmetic(g, event):
    arguments = event.kwargs
    dtype = event.outputs[0].dtype
    left = g.operand(arguments["input"], dtype)
    right = g.operand(arguments["other"], dtype)
    if arguments.get("alpha", 1) != 1:
        right = g.op("Mul", right, g.scalar(arguments["alpha"], dtype))
    result = g.op(_ARITHMETIC[event.name], left, right)
    rounding = arguments.get("rounding_mode")
    if rounding == "floor":
        return g.op("Floor", result)
    if rounding == "trunc":
        return g.op("Sub", result, g.op("Mod", result, g.scalar(1, dtype), fmod=1))
    return result


@rule("function", *_COMPARISONS)
def compare(g, event):
    left, right = event.kwargs["input"], event.kwargs["other"]
    dtype = common_dtype(left, right)
    op_type, negated = _COMPARISONS[event.name]
    result = g.op(op_type, g.operand(left, dtype), g.operand(right, dtype))
    return g.op("Not", result) if negated else result


@rule("function", *_LOGICAL)
def logical(g, event):
    left, right = event.kwargs["input"], event.kwargs["other"]
    return g.op(_LOGICAL[event.name], g.operand(left, np.bool_), g.operand(right, np.bool_))


@rule("function", *_BITWISE)
def bitwise(g, event):
    left, right = event.kwargs["input"], event.kwargs["other"]
    dtype = event.outputs[0].dtype
    logical, bitwise_op = _BITWISE[event.name]
    if np.dtype(dtype) == np.bool_:
        return g.op(logical, g.operand(left, dtype), g.operand(right, dtype))
    if g.opset < 18:
        raise UnsupportedOperatorError(f"'{event.name}'", g.opset,
                                       "integer bitwise ops need opset 18")
    return g.op(bitwise_op, g.operand(left, dtype), g.operand(right, dtype))


@rule("function", "logical_not", "bitwise_not")
def negation(g, event):
    x = event.kwargs["input"]
    if event.name == "logical_not" or np.dtype(x.dtype) == np.bool_:
        return g.op("Not", g.operand(x, np.bool_))
    if g.opset >= 18:
        return g.op("BitwiseNot", g.name_of(x))
    return g.op("Sub", g.op("Neg", g.name_of(x)), g.scalar(1, x.dtype))  # ~x == -x - 1


@rule("function", "isnan", "isinf", "isfinite")
def classify(g, event):
    name = g.name_of(event.kwargs["input"])
    if event.name == "isnan":
        return g.op("IsNaN", name)
    if event.name == "isinf":
        return g.op("IsInf", name)
    return g.op("Not", g.op("Or", g.op("IsNaN", name), g.op("IsInf", name)))


def _arg_extreme(g, x, dim, keepdim, op_type):
    name = g.name_of(x)
    rank = len(x.shape)
    if dim is None:
        flat = g.op("Reshape", name, g.int64s([-1]))
        index = g.op(op_type, flat, axis=0, keepdims=0)
        return g.op("Reshape", index, g.int64s([1] * rank)) if keepdim else index
    return g.op(op_type, name, axis=dim % max(rank, 1), keepdims=int(bool(keepdim)))


@rule("function", "argmax", "argmin")
def arg_extreme(g, event):
    arguments = event.kwargs
    op_type = "ArgMax" if event.name == "argmax" else "ArgMin"
    return _arg_extreme(g, arguments["input"], arguments["dim"], arguments["keepdim"], op_type)


@rule("function", "max", "min")
def extreme_with_indices(g, event):
    # max(x, dim) records the values as an op; only the indices come through here.
    arguments = event.kwargs
    op_type = "ArgMax" if event.name == "max" else "ArgMin"
    indices = _arg_extreme(g, arguments["input"], arguments["dim"], arguments["keepdim"],
                           op_type)
    return [None, indices]


@rule("function", "all", "any")
def all_any(g, event):
    arguments = event.kwargs
    x = arguments["input"]
    as_numbers = g.cast(g.operand(x, np.bool_), np.bool_, np.int32)
    dim = arguments["dim"]
    axes = None if dim is None else ((dim,) if isinstance(dim, int) else tuple(dim))
    reduced = g.reduce("ReduceMin" if event.name == "all" else "ReduceMax", as_numbers,
                       None if axes is None else [axis % len(x.shape) for axis in axes],
                       arguments["keepdim"])
    return g.cast(reduced, np.int32, np.bool_)


@rule("function", "arange")
def arange(g, event):
    arguments = event.kwargs
    start, end, step = arguments["start"], arguments["end"], arguments["step"]
    if end is None:
        start, end = 0, start
    dtype = event.outputs[0].dtype
    bounds = [g.cast(g.size_as(item, np.int64), np.int64, dtype) if not isinstance(item, float)
              else g.scalar(item, dtype) for item in (start, end, step)]
    return g.op("Range", *bounds)


def _sorts_tensor(name, arguments):
    return arguments["input"].dim() > 0


@rule("function", "sort", "argsort", "topk", intercept=_sorts_tensor)
def sorting(g, event):
    # TopK over the whole dim sorts; ties come out in index order, as ember's stable sort.
    arguments = event.kwargs
    x = arguments["input"]
    axis = arguments["dim"] % len(x.shape)
    if event.name == "topk":
        count, largest = arguments["k"], arguments["largest"]
    else:
        count, largest = x.shape[axis], arguments["descending"]
    values, indices = g.op("TopK", g.name_of(x), g.dims([count]), outputs=2, axis=axis,
                           largest=int(bool(largest)), sorted=1)
    return indices if event.name == "argsort" else [values, indices]
