"""Padding: constant (negative widths crop), reflect, replicate and circular, as F.pad does.

Each padded dimension gets an index map from output to input positions; the forward gathers
through it and the backward scatter-adds through it, so all four modes share one kernel.
"""
import numpy as np

from ...autograd.function import Op


class Pad(Op):
    """Gather through per-dimension index maps; the constant fills positions mapped to -1."""

    @staticmethod
    def forward(ctx, x, index_maps, value):
        out = x
        for axis, index in index_maps:
            out = np.take(out, np.maximum(index, 0), axis=axis)
            outside = index < 0
            if np.any(outside):
                selector = [slice(None)] * out.ndim
                selector[axis] = outside
                out[tuple(selector)] = value
        ctx.index_maps = index_maps
        ctx.input_shape = x.shape
        if out is x:
            return x.copy()
        return np.ascontiguousarray(out)

    @staticmethod
    def backward(ctx, grad):
        for axis, index in reversed(ctx.index_maps):
            grad = scatter_add_axis(grad, index, ctx.input_shape[axis], axis)
        return grad, None, None


def scatter_add_axis(values, index, size, axis):
    """result[..., index[i], ...] += values[..., i, ...] along ``axis`` (entries with index -1
    are dropped). The longest stretch where the index rises by one (a pad's interior) is one
    slice copy; the rest is a sort and one np.add.reduceat (np.add.at is far slower)."""
    moved = np.moveaxis(values, axis, 0)
    result = np.zeros((size,) + moved.shape[1:], dtype=values.dtype)
    run_start, run_stop = _longest_unit_run(index)
    if run_stop > run_start:
        first = index[run_start]
        result[first:first + run_stop - run_start] = moved[run_start:run_stop]
    rest = np.ones(index.shape[0], dtype=bool)
    rest[run_start:run_stop] = False
    rest &= index >= 0
    remaining = np.flatnonzero(rest)
    if remaining.size:
        order = remaining[np.argsort(index[remaining], kind="stable")]
        targets = index[order]
        starts = np.flatnonzero(np.diff(targets, prepend=-1))
        result[targets[starts]] += np.add.reduceat(moved[order], starts, axis=0)
    return np.moveaxis(result, 0, axis)


def _longest_unit_run(index):
    """(start, stop) of the longest run of non-negative entries that rise by exactly one."""
    if index.shape[0] == 0:
        return 0, 0
    rising = np.concatenate(([False], (np.diff(index) == 1) & (index[:-1] >= 0), [False]))
    edges = np.flatnonzero(np.diff(rising.astype(np.int8)))
    if edges.size == 0:
        return (0, 1) if index[0] >= 0 else (0, 0)
    run_starts = edges[::2]
    run_stops = edges[1::2]
    longest = int(np.argmax(run_stops - run_starts))
    # ``rising[i]`` links positions i - 1 and i: a run of links [a, b) covers positions a-1..b-1.
    return int(run_starts[longest]), int(run_stops[longest]) + 1


def index_map(size, left, right, mode):
    """Input position for each output position along one dimension (-1: the constant)."""
    if mode == "circular":
        # PyTorch crops first (negative widths), then wraps around the cropped extent.
        start = max(-left, 0)
        kept = size - start - max(-right, 0)
        left = max(left, 0)
        right = max(right, 0)
        positions = np.arange(kept + left + right) - left
        return start + np.mod(positions, kept)
    positions = np.arange(size + left + right) - left
    if mode == "reflect":
        positions = np.abs(positions)
        return np.where(positions >= size, 2 * (size - 1) - positions, positions)
    if mode == "replicate":
        return np.clip(positions, 0, size - 1)
    return np.where((positions >= 0) & (positions < size), positions, -1)
