"""Elementwise ops: arithmetic, unary math, clamp, where, casts, and the activations' kernels."""
import math

import numpy as np

from .._graph import onnx_type
from . import is_value, rule

_UNARY = {"Neg": "Neg", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt", "Sin": "Sin", "Cos": "Cos",
          "Tanh": "Tanh", "Sigmoid": "Sigmoid", "Relu": "Relu", "Abs": "Abs", "Sign": "Sign",
          "Erf": "Erf", "Tan": "Tan", "Asin": "Asin", "Acos": "Acos", "Atan": "Atan",
          "Sinh": "Sinh", "Cosh": "Cosh", "Asinh": "Asinh", "Acosh": "Acosh", "Atanh": "Atanh",
          "Reciprocal": "Reciprocal"}
_BINARY = {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Pow": "Pow",
           "Maximum": "Max", "Minimum": "Min"}


def floating_input(g, event):
    """The first argument in the output's dtype (unary math on integers computes in float)."""
    return g.operand(event.args[0], event.outputs[0].dtype)


@rule("op", *_UNARY)
def unary(g, event):
    return g.op(_UNARY[event.name], floating_input(g, event))


@rule("op", *_BINARY)
def binary(g, event):
    dtype = event.outputs[0].dtype
    left, right = event.args
    return g.op(_BINARY[event.name], g.operand(left, dtype), g.operand(right, dtype))


@rule("op", "Log1p", "Expm1", "Rsqrt", "Exp2", "Log2", "Log10")
def composed_unary(g, event):
    dtype = event.outputs[0].dtype
    x = floating_input(g, event)
    one = g.scalar(1, dtype)
    if event.name == "Log1p":
        return g.op("Log", g.op("Add", x, one))
    if event.name == "Expm1":
        return g.op("Sub", g.op("Exp", x), one)
    if event.name == "Rsqrt":
        return g.op("Reciprocal", g.op("Sqrt", x))
    if event.name == "Exp2":
        return g.op("Pow", g.scalar(2, dtype), x)
    base = {"Log2": math.log(2.0), "Log10": math.log(10.0)}[event.name]
    return g.op("Div", g.op("Log", x), g.scalar(base, dtype))


@rule("op", "FloorDivide")
def floor_divide(g, event):
    dtype = event.outputs[0].dtype
    left, right = (g.operand(item, dtype) for item in event.args)
    if np.dtype(dtype).kind == "f":
        return g.op("Floor", g.op("Div", left, right))
    # Integer Div truncates: step down where the remainder is non-zero and the signs differ.
    quotient = g.op("Div", left, right)
    zero = g.scalar(0, dtype)
    inexact = g.op("Not", g.op("Equal", g.op("Mod", left, right, fmod=1), zero))
    signs_differ = g.op("Xor", g.op("Less", left, zero), g.op("Less", right, zero))
    return g.op("Where", g.op("And", inexact, signs_differ),
                g.op("Sub", quotient, g.scalar(1, dtype)), quotient)


@rule("op", "Remainder", "Fmod")
def remainder(g, event):
    dtype = event.outputs[0].dtype
    left, right = (g.operand(item, dtype) for item in event.args)
    if event.name == "Fmod":
        return g.op("Mod", left, right, fmod=1)
    if np.dtype(dtype).kind != "f":
        return g.op("Mod", left, right, fmod=0)  # the divisor's sign, as Python's %
    return g.op("Sub", left, g.op("Mul", right, g.op("Floor", g.op("Div", left, right))))


@rule("op", "Floor", "Ceil", "Round", "Trunc")
def stepwise(g, event):
    x, *rest = event.args  # Round alone takes decimals
    decimals = rest[0] if rest else 0
    name = g.name_of(x)
    if np.dtype(x.dtype).kind != "f":
        return g.op("Identity", name)
    scale = None
    if decimals:
        scale = g.scalar(10.0 ** decimals, x.dtype)
        name = g.op("Mul", name, scale)
    if event.name == "Trunc":
        name = g.op("Sub", name, g.op("Mod", name, g.scalar(1, x.dtype), fmod=1))
    else:
        name = g.op(event.name, name)
    return g.op("Div", name, scale) if scale is not None else name


@rule("op", "Clamp", "Hardtanh")
def clamp(g, event):
    x, low, high = event.args
    dtype = event.outputs[0].dtype
    name = g.operand(x, dtype)
    if is_value(low) or is_value(high):
        if low is not None:
            name = g.op("Max", name, g.operand(low, dtype))
        if high is not None:
            name = g.op("Min", name, g.operand(high, dtype))
        return name
    return g.op("Clip", name, g.operand(low, dtype), g.operand(high, dtype))


@rule("op", "Where", "MaskedFill")
def where(g, event):
    condition, left, right = event.args
    dtype = event.outputs[0].dtype
    return g.op("Where", g.name_of(condition), g.operand(left, dtype), g.operand(right, dtype))


@rule("op", "Cast")
def cast(g, event):
    x = event.args[0]
    return g.op("Cast", g.name_of(x), to=onnx_type(event.outputs[0].dtype))


@rule("op", "Clone", "Contiguous")
def identity(g, event):
    return g.op("Identity", g.name_of(event.args[0]))


@rule("op", "CopyInto")
def copy_into(g, event):
    destination, source = event.args
    return g.op("Expand", g.operand(source, destination.dtype), g.dims(destination.shape))


@rule("op", "FillLike")
def fill_like(g, event):
    x, fill = event.args
    if is_value(fill):
        return g.op("Expand", g.operand(fill, x.dtype), g.dims(x.shape))
    return g.filled(x.shape, fill, x.dtype)


# ---- activations -----------------------------------------------------------------------------
@rule("op", "LeakyRelu", "Celu")
def one_parameter_activation(g, event):
    # leaky_relu's negative_slope and celu's alpha are both ONNX's alpha (leaky_relu's
    # ``inplace`` flag follows)
    x, alpha = event.args[:2]
    return g.op(event.name, g.name_of(x), alpha=float(alpha))


@rule("op", "Elu")
def elu(g, event):
    x, alpha, scale = event.args[:3]  # then the ``inplace`` flag
    # scale * elu(x, alpha) is ONNX's Selu with gamma = scale (SELU's constants are ember's)
    if scale == 1:
        return g.op("Elu", g.name_of(x), alpha=float(alpha))
    return g.op("Selu", g.name_of(x), alpha=float(alpha), gamma=float(scale))


@rule("op", "Gelu")
def gelu(g, event):
    x, approximate = event.args
    name = g.name_of(x)
    if g.opset >= 20:
        return g.op("Gelu", name, approximate=approximate)
    half = g.scalar(0.5, x.dtype)
    one = g.scalar(1.0, x.dtype)
    if approximate == "tanh":
        cube = g.op("Mul", g.op("Mul", name, name), name)
        inner = g.op("Add", name, g.op("Mul", cube, g.scalar(0.044715, x.dtype)))
        inner = g.op("Mul", inner, g.scalar(math.sqrt(2.0 / math.pi), x.dtype))
        gate = g.op("Add", g.op("Tanh", inner), one)
    else:
        gate = g.op("Add", g.op("Erf", g.op("Mul", name, g.scalar(math.sqrt(0.5), x.dtype))),
                    one)
    return g.op("Mul", g.op("Mul", name, half), gate)


@rule("op", "Softplus")
def softplus(g, event):
    # Above the threshold softplus(x) and x differ by less than exp(-threshold): like torch's
    # exporter, the threshold is left out.
    x, beta, _ = event.args
    name = g.name_of(x)
    if beta == 1:
        return g.op("Softplus", name)
    beta_name = g.scalar(beta, x.dtype)
    return g.op("Div", g.op("Softplus", g.op("Mul", name, beta_name)), beta_name)


@rule("op", "Mish")
def mish(g, event):
    name = g.name_of(event.args[0])
    if g.opset >= 18:
        return g.op("Mish", name)
    return g.op("Mul", name, g.op("Tanh", g.op("Softplus", name)))


@rule("op", "LogSigmoid")
def log_sigmoid(g, event):
    return g.op("Neg", g.op("Softplus", g.op("Neg", g.name_of(event.args[0]))))


@rule("op", "Hardsigmoid")
def hardsigmoid(g, event):
    return g.op("HardSigmoid", g.name_of(event.args[0]), alpha=1.0 / 6, beta=0.5)


@rule("op", "Hardswish")
def hardswish(g, event):
    name = g.name_of(event.args[0])
    if g.opset >= 14:
        return g.op("HardSwish", name)
    return g.op("Mul", name, g.op("HardSigmoid", name, alpha=1.0 / 6, beta=0.5))


@rule("op", "Silu")
def silu(g, event):
    name = g.name_of(event.args[0])
    return g.op("Mul", name, g.op("Sigmoid", name))


@rule("op", "Threshold")
def threshold(g, event):
    x, limit, fill = event.args
    name = g.name_of(x)
    return g.op("Where", g.op("Greater", name, g.scalar(limit, x.dtype)), name,
                g.scalar(fill, x.dtype))



@rule("op", "Hardshrink", "Softshrink")
def shrink(g, event):
    # ONNX's Shrink subtracts bias towards zero beyond +-lambd: softshrink's bias is lambd.
    x, lambd = event.args
    bias = float(lambd) if event.name == "Softshrink" else 0.0
    return g.op("Shrink", g.name_of(x), bias=bias, lambd=float(lambd))
