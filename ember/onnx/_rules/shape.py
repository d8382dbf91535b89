"""Shape ops and indexing: reshape, transpose, expand, tile, concatenation, flips, triangles,
basic and single-array indexing, gather."""
import numpy as np

from .._graph import INT64_MAX, INT64_MIN
from .._symbolic import Unknown
from ..errors import UnsupportedOperatorError
from . import is_value, rule, static


def same_size(first, second):
    """Whether two sizes (ints, Dims or Unknowns) are known to be equal."""
    if isinstance(first, Unknown) or isinstance(second, Unknown):
        return (isinstance(first, Unknown) and isinstance(second, Unknown)
                and first.values == second.values)
    return first == second


@rule("op", "Reshape")
def reshape(g, event):
    x, shape = event.args[:2]
    target = list(shape)
    varying = [axis for axis, size in enumerate(target) if not isinstance(size, int)]
    if varying and 0 not in target:
        # ONNX's 0 copies the input's size at the same axis.
        for axis in list(varying):
            if axis < len(x.shape) and same_size(x.shape[axis], target[axis]):
                target[axis] = 0
                varying.remove(axis)
    if len(varying) == 1:
        target[varying[0]] = -1  # inferred by ONNX from the element count
        varying = []
    allow_zero = 1 if 0 in shape and not varying else None
    return g.op("Reshape", g.name_of(x), g.dims(target), allowzero=allow_zero)


@rule("op", "Permute")
def permute(g, event):
    x, order = event.args
    if not order:
        return g.op("Identity", g.name_of(x))
    return g.op("Transpose", g.name_of(x), perm=list(order))


@rule("op", "Expand")
def expand(g, event):
    x, shape = event.args
    padded = (1,) * (len(shape) - len(x.shape)) + tuple(x.shape)
    # Expand broadcasts both ways: a 1 keeps the input's size.
    target = [1 if same_size(existing, size) else size for existing, size in zip(padded, shape)]
    return g.op("Expand", g.name_of(x), g.dims(target))


@rule("op", "Repeat")
def repeat(g, event):
    x, repeats = event.args
    name = g.name_of(x)
    extra = len(repeats) - len(x.shape)
    if extra:
        name = g.unsqueeze(name, list(range(extra)))
    return g.op("Tile", name, g.dims(repeats))


@rule("op", "Cat")
def concatenate(g, event):
    axis = event.args[0]
    return g.op("Concat", *(g.name_of(value) for value in event.args[1:]), axis=axis)


@rule("op", "Stack")
def stack(g, event):
    axis = event.args[0]
    pieces = [g.unsqueeze(g.name_of(value), [axis]) for value in event.args[1:]]
    return g.op("Concat", *pieces, axis=axis)


@rule("op", "Split", "SplitWithSizes", "Unbind")
def split(g, event):
    # One ONNX Split (sizes as its second input, opset 13+); unbind squeezes each piece.
    x, axis, sizes = event.args
    unbind = sizes is None
    if unbind:
        sizes = [1] * static(x.shape[axis], "the size of the unbound dim")
    sizes = [static(size, "a split size") for size in sizes]
    if len(sizes) == 1:
        names = [g.op("Identity", g.name_of(x))]
    else:
        names = g.op("Split", g.name_of(x), g.int64s(sizes), outputs=len(sizes), axis=axis)
    if unbind:
        names = [g.squeeze(name, [axis]) for name in names]
    return names


@rule("op", "Flip")
def flip(g, event):
    x, axes = event.args
    count = len(axes)
    return g.op("Slice", g.name_of(x), g.int64s([-1] * count), g.int64s([INT64_MIN] * count),
                g.int64s(list(axes)), g.int64s([-1] * count))


@rule("op", "Triangle")
def triangle(g, event):
    x, diagonal, upper = event.args
    if g.opset >= 14:
        return g.op("Trilu", g.name_of(x), g.scalar(diagonal, np.int64), upper=int(upper))
    rows = static(x.shape[-2], "a triangle's rows")
    columns = static(x.shape[-1], "a triangle's columns")
    keep = (np.triu if upper else np.tril)(np.ones((rows, columns), np.bool_), diagonal)
    return g.op("Where", g.constant(keep), g.name_of(x), g.scalar(0, x.dtype))


@rule("op", "Gather")
def gather(g, event):
    x, axis, index = event.args
    return g.op("GatherElements", g.name_of(x), g.name_of(index), axis=axis)


def _expanded_key(key, rank):
    """The index with its Ellipsis spelled out as full slices (numpy's rule)."""
    consumed = sum(1 for item in key if item is not None and item is not Ellipsis)
    items = []
    expanded = False
    for item in key:
        if item is Ellipsis and not expanded:
            items.extend([slice(None)] * (rank - consumed))
            expanded = True
        elif item is not Ellipsis:
            items.append(item)
    if not expanded:
        items.extend([slice(None)] * (rank - consumed))
    return items


@rule("op", "BasicIndex")
def basic_index(g, event):
    # One Slice for every slice and integer, then a Squeeze of the integers' axes and an
    # Unsqueeze for each None.
    x, key = event.args
    items = _expanded_key(key, len(x.shape))
    starts, ends, axes, steps, squeezed, inserted = [], [], [], [], [], []
    axis = 0
    position = 0
    for item in items:
        if item is None:
            inserted.append(position)
            position += 1
            continue
        if isinstance(item, slice):
            step = 1 if item.step is None else static(item.step, "a slice's step")
            if not (item.start in (None, 0) and item.stop is None and step == 1):
                starts.append(item.start if item.start is not None else (
                    0 if step > 0 else INT64_MAX))
                ends.append(item.stop if item.stop is not None else (
                    INT64_MAX if step > 0 else INT64_MIN))
                axes.append(axis)
                steps.append(step)
            position += 1
        else:
            starts.append(item)
            ends.append(item + 1 if not isinstance(item, int) or item != -1 else INT64_MAX)
            axes.append(axis)
            steps.append(1)
            squeezed.append(axis)
        axis += 1
    name = g.name_of(x)
    if axes:
        name = g.op("Slice", name, g.dims(starts), g.dims(ends), g.int64s(axes),
                    g.int64s(steps))
    if squeezed:
        name = g.squeeze(name, squeezed)
    if inserted:
        name = g.unsqueeze(name, inserted)
    if not (axes or squeezed or inserted):
        name = g.op("Identity", name)
    return name


@rule("op", "AdvancedIndex", "IndexSelect")
def advanced_index(g, event):
    x, key = event.args
    items = _expanded_key(key, len(x.shape))
    arrays = [axis for axis, item in enumerate(items) if is_value(item)]
    plain = all(is_value(item) or item == slice(None) for item in items)
    if len(arrays) != 1 or not plain or np.dtype(items[arrays[0]].dtype) == np.bool_:
        raise UnsupportedOperatorError(
            "'AdvancedIndexBackward0'/'AdvancedIndex'", g.opset,
            "only indexing with one integer tensor (with full slices elsewhere) is translated, "
            "not boolean masks or several index tensors")
    axis = arrays[0]
    return g.op("Gather", g.name_of(x), g.name_of(items[axis]), axis=axis)

