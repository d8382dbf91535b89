"""Reductions, softmax and cumulative sums."""
from .._symbolic import product
from . import rule

_REDUCERS = {"Sum": "ReduceSum", "Mean": "ReduceMean", "Max": "ReduceMax", "Min": "ReduceMin",
             "LogSumExp": "ReduceLogSumExp"}


@rule("op", "Sum", "Mean", "LogSumExp")
@rule("op", "Max", "Min", volatile=(3,))  # the argmax indices of max(x, dim): not needed
def reduction(g, event):
    x, axes, keepdim = event.args[:3]
    name = g.operand(x, event.outputs[0].dtype)
    if not x.shape:
        return g.op("Identity", name)
    return g.reduce(_REDUCERS[event.name], name, tuple(axes), keepdim)


@rule("op", "Prod")
def prod(g, event):
    x, axis, keepdim = event.args
    name = g.operand(x, event.outputs[0].dtype)
    if not x.shape:
        return g.op("Identity", name)
    return g.reduce("ReduceProd", name, None if axis is None else (axis,), keepdim)


@rule("op", "Var", "Std")
def variance(g, event):
    # Two passes, as ember computes it: the mean, then the summed squares of the deviations.
    x, axes, correction, keepdim = event.args[:4]
    name = g.name_of(x)
    axes = tuple(axes)
    centered = g.op("Sub", name, g.reduce("ReduceMean", name, axes, True))
    squares = g.reduce("ReduceSum", g.op("Mul", centered, centered), axes, keepdim)
    count = product(x.shape[axis] for axis in axes)
    divisor = g.op("Max", g.op("Sub", g.size_as(count, x.dtype),
                               g.scalar(correction, x.dtype)), g.scalar(0, x.dtype))
    variance = g.op("Div", squares, divisor)
    return g.op("Sqrt", variance) if event.name == "Std" else variance


@rule("op", "Softmax", "LogSoftmax")
def softmax(g, event):
    x, axis = event.args
    name = g.name_of(x)
    if not x.shape:
        return g.squeeze(g.op(event.name, g.unsqueeze(name, [0]), axis=0), [0])
    return g.op(event.name, name, axis=axis)


@rule("op", "CumSum")
def cumsum(g, event):
    x, axis = event.args
    name = g.operand(x, event.outputs[0].dtype)
    if axis is None:
        return g.op("Identity", name)
    return g.op("CumSum", name, g.scalar(axis, "int64"))
