"""Shape ops: reshape/view, permute/transpose, expand, repeat, squeeze/unsqueeze, cat/stack, split."""
import itertools

import numpy as np

from .._dtype import _FROM_NUMPY, result_type, tensor_type_name, to_dtype
from ..autograd.function import Op
from ..tensor import Size, Tensor, _normalize_dim
from ._broadcast import unbroadcast
from .elementwise.casting import autocast_op
from .index import getitem, setitem

__all__ = ["atleast_1d", "atleast_2d", "atleast_3d", "block_diag", "broadcast_shapes",
           "broadcast_tensors", "broadcast_to", "cartesian_prod", "cat", "chunk", "column_stack",
           "combinations", "concat", "concatenate", "diag", "diag_embed", "diagflat", "diagonal",
           "diff", "dsplit", "dstack", "expand", "flatten", "flip", "fliplr", "flipud", "hsplit",
           "hstack", "is_complex", "is_floating_point", "is_nonzero", "is_same_size", "is_tensor",
           "meshgrid", "moveaxis", "movedim", "narrow", "numel", "permute", "ravel", "repeat",
           "repeat_interleave", "reshape", "roll", "rot90", "row_stack", "select", "split",
           "squeeze", "stack", "swapaxes", "swapdims", "t", "tensor_split", "tile", "trace",
           "transpose", "tril", "triu", "unbind", "unflatten", "unravel_index", "unsqueeze",
           "vander", "vsplit", "vstack"]


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(size) for size in shape)


def _infer_shape(shape, numel):
    """Resolve one -1 in ``shape``; RuntimeError naming the shape when it can't fit ``numel``."""
    unknown = [index for index, size in enumerate(shape) if size == -1]
    if len(unknown) > 1:
        raise RuntimeError("only one dimension can be inferred")
    for size in shape:
        if size < -1:
            raise RuntimeError(f"invalid shape dimension {size}")
    known = 1
    for size in shape:
        if size != -1:
            known *= size
    if unknown:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = list(shape)
        shape[unknown[0]] = numel // known
        return tuple(shape)
    if known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


class Reshape(Op):
    is_view = True

    @staticmethod
    def forward(ctx, x, shape, strict_view):
        ctx.shape = x.shape
        if strict_view:
            try:
                return np.reshape(x, shape, copy=False)
            except ValueError:
                raise RuntimeError("view size is not compatible with input tensor's size and "
                                   "stride (at least one dimension spans across two contiguous "
                                   "subspaces). Use .reshape(...) instead.") from None
        return np.reshape(x, shape)

    @staticmethod
    def backward(ctx, grad):
        return np.reshape(grad, ctx.shape), None, None


class Permute(Op):
    is_view = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.inverse = tuple(np.argsort(dims))
        return np.transpose(x, dims)

    @staticmethod
    def backward(ctx, grad):
        return np.transpose(grad, ctx.inverse), None


class Expand(Op):
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, grad):
        return unbroadcast(grad, ctx.shape), None


class Repeat(Op):
    @staticmethod
    def forward(ctx, x, repeats):
        padded = (1,) * (len(repeats) - x.ndim) + x.shape
        ctx.padded = padded
        ctx.shape = x.shape
        ctx.repeats = repeats
        return np.tile(x.reshape(padded), repeats)

    @staticmethod
    def backward(ctx, grad):
        # Split each axis into (repeat, size) and sum over the repeat axes.
        interleaved = []
        for repeat, size in zip(ctx.repeats, ctx.padded):
            interleaved += [repeat, size]
        summed = grad.reshape(interleaved).sum(axis=tuple(range(0, len(interleaved), 2)))
        return summed.reshape(ctx.shape), None


class Cat(Op):
    @staticmethod
    def forward(ctx, axis, *arrays):
        ctx.axis = axis
        ctx.sizes = [array.shape[axis] if array.ndim else 0 for array in arrays]
        ctx.dtypes = [array.dtype for array in arrays]
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        offsets = np.cumsum(ctx.sizes)[:-1]
        pieces = np.split(grad, offsets, axis=ctx.axis)
        return (None,) + tuple(piece.astype(dtype, copy=False) if needed else None
                               for piece, dtype, needed in zip(pieces, ctx.dtypes,
                                                               ctx.needs_input_grad[1:]))


class Stack(Op):
    @staticmethod
    def forward(ctx, axis, *arrays):
        ctx.axis = axis
        ctx.dtypes = [array.dtype for array in arrays]
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        pieces = np.moveaxis(grad, ctx.axis, 0)
        return (None,) + tuple(piece.astype(dtype, copy=False) if needed else None
                               for piece, dtype, needed in zip(pieces, ctx.dtypes,
                                                               ctx.needs_input_grad[1:]))


class Contiguous(Op):
    @staticmethod
    def forward(ctx, x):
        return np.ascontiguousarray(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


class Flip(Op):
    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return np.flip(x, axes).copy()

    @staticmethod
    def backward(ctx, grad):
        return np.flip(grad, ctx.axes), None


# ---- functional API ------------------------------------------------------------------------------
def reshape(input, *shape):
    shape = _infer_shape(_shape_arg(shape), input._data.size)
    if shape == input._data.shape:
        return Reshape.apply(input, shape, False)
    return Reshape.apply(input, shape, False)


def view(input, *shape):
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int, np.integer)):
        target = to_dtype(shape[0])
        if target.numpy.itemsize != input._data.itemsize:
            raise RuntimeError("view(dtype): only dtypes of the same size are supported in ember")
        return Tensor._result(input._data.view(target.numpy))
    shape = _infer_shape(_shape_arg(shape), input._data.size)
    return Reshape.apply(input, shape, True)


def flatten(input, start_dim=0, end_dim=-1):
    ndim = input._data.ndim
    if ndim == 0:
        return reshape(input, (1,))
    start = _normalize_dim(start_dim, ndim)
    end = _normalize_dim(end_dim, ndim)
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = input._data.shape
    middle = 1
    for size in shape[start:end + 1]:
        middle *= size
    return reshape(input, shape[:start] + (middle,) + shape[end + 1:])


def unflatten(input, dim, sizes):
    axis = _normalize_dim(dim, input._data.ndim)
    shape = input._data.shape
    sizes = tuple(sizes)
    inferred = _infer_shape(sizes, shape[axis]) if -1 in sizes else sizes
    product = 1
    for size in inferred:
        product *= size
    if product != shape[axis]:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size "
                           f"of dim {dim} ({shape[axis]}) in the input tensor")
    return reshape(input, shape[:axis] + tuple(inferred) + shape[axis + 1:])


def squeeze(input, dim=None):
    shape = input._data.shape
    if dim is None:
        new_shape = tuple(size for size in shape if size != 1)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        axes = {_normalize_dim(d, input._data.ndim) for d in dims} if input._data.ndim else set()
        new_shape = tuple(size for axis, size in enumerate(shape)
                          if not (axis in axes and size == 1))
    return Reshape.apply(input, new_shape, False)


def unsqueeze(input, dim):
    ndim = input._data.ndim
    if not -(ndim + 1) <= dim <= ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-(ndim + 1)}, "
                         f"{ndim}], but got {dim})")
    axis = dim % (ndim + 1)
    shape = input._data.shape
    return Reshape.apply(input, shape[:axis] + (1,) + shape[axis:], False)


def permute(input, *dims):
    dims = _shape_arg(dims)
    ndim = input._data.ndim
    if len(dims) != ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {ndim} is not equal to len(dims) = {len(dims)}")
    normalized = tuple(_normalize_dim(d, ndim) for d in dims)
    if len(set(normalized)) != len(normalized):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return Permute.apply(input, normalized)


def transpose(input, dim0, dim1):
    ndim = input._data.ndim
    if ndim == 0:
        _normalize_dim(dim0, 0)
        _normalize_dim(dim1, 0)
        return Permute.apply(input, ())
    dims = list(range(ndim))
    a = _normalize_dim(dim0, ndim)
    b = _normalize_dim(dim1, ndim)
    dims[a], dims[b] = dims[b], dims[a]
    return Permute.apply(input, tuple(dims))


swapaxes = transpose


def movedim(input, source, destination):
    ndim = input._data.ndim
    sources = [int(axis) % max(ndim, 1) for axis in np.atleast_1d(source)]
    destinations = [int(axis) % max(ndim, 1) for axis in np.atleast_1d(destination)]
    order = [axis for axis in range(ndim) if axis not in sources]
    for target, axis in sorted(zip(destinations, sources)):
        order.insert(target, axis)
    return Permute.apply(input, tuple(int(axis) for axis in order))


def t(input):
    ndim = input._data.ndim
    if ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {ndim}D")
    return Permute.apply(input, tuple(reversed(range(ndim))))


def expand(input, *sizes):
    sizes = _shape_arg(sizes)
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand({tensor_type_name(input._data.dtype)}{{{list(shape)}}}, "
                           f"size={list(sizes)}): the number of sizes "
                           f"provided ({len(sizes)}) must be greater or equal to the number of "
                           f"dimensions in the tensor ({len(shape)})")
    padded = (1,) * (len(sizes) - len(shape)) + shape
    target = []
    for axis, (size, existing) in enumerate(zip(sizes, padded)):
        if size == -1:
            if axis < len(sizes) - len(shape):
                raise RuntimeError("The expanded size of the tensor (-1) isn't allowed in a "
                                   "leading, non-existing dimension 0")
            size = existing
        if existing != 1 and size != existing:
            raise RuntimeError(f"The expanded size of the tensor ({size}) must match the existing "
                               f"size ({existing}) at non-singleton dimension {axis}.  Target "
                               f"sizes: {list(sizes)}.  Tensor sizes: {list(shape)}")
        target.append(size)
    return Expand.apply(input, tuple(target))


def expand_as(input, other):
    return expand(input, other._data.shape)


def repeat(input, *repeats):
    repeats = _shape_arg(repeats)
    if len(repeats) < input._data.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of "
                           "dimensions of tensor")
    return Repeat.apply(input, repeats)


def _check_sequence(tensors, operation):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{operation}(): argument 'tensors' must be tuple of Tensors, not "
                        f"{type(tensors).__name__}")
    if len(tensors) == 0:
        if operation == "cat":
            raise ValueError("cat(): expected a non-empty list of Tensors")
        raise RuntimeError(f"{operation} expects a non-empty TensorList")
    for tensor in tensors:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{operation}(): expected Tensor as element in argument 'tensors', "
                            f"but got {type(tensor).__name__}")


def _promoted(tensors):
    dtypes = [_FROM_NUMPY[tensor._data.dtype] for tensor in tensors]
    target = result_type(dtypes)
    return [tensor if tensor._data.dtype == target.numpy else tensor.to(target)
            for tensor in tensors]


def cat(tensors, dim=0):
    _check_sequence(tensors, "cat")
    # PyTorch skips legacy empty 1-D tensors of shape (0,).
    kept = [tensor for tensor in tensors if not (tensor._data.ndim == 1
                                                 and tensor._data.shape[0] == 0)]
    if not kept:
        return _promoted(list(tensors))[0].clone() if len(tensors) == 1 else \
            Cat.apply(0, *_promoted(list(tensors)))
    reference = kept[0]._data
    if reference.ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    axis = _normalize_dim(dim, reference.ndim)
    for number, tensor in enumerate(kept):
        array = tensor._data
        if array.ndim != reference.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got "
                               f"{reference.ndim} and {array.ndim}")
        for d in range(reference.ndim):
            if d != axis and array.shape[d] != reference.shape[d]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {axis}. "
                                   f"Expected size {reference.shape[d]} but got size "
                                   f"{array.shape[d]} for tensor number {number} in the list.")
    return Cat.apply(axis, *_promoted(kept))


concat = concatenate = cat


def stack(tensors, dim=0):
    _check_sequence(tensors, "stack")
    shape = tensors[0]._data.shape
    for number, tensor in enumerate(tensors):
        if tensor._data.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(tensor._data.shape)} at "
                               f"entry {number}")
    ndim = len(shape) + 1
    if not -ndim <= dim < ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, "
                         f"{ndim - 1}], but got {dim})")
    return Stack.apply(dim % ndim, *_promoted(list(tensors)))


def split(tensor, split_size_or_sections, dim=0):
    axis = _normalize_dim(dim, tensor._data.ndim)
    length = tensor._data.shape[axis]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0 and not (size == 0 and length == 0):
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {length}")
        bounds = list(range(0, length, size)) if size else [0]
        sections = [(start, min(start + size, length)) for start in bounds]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != length:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {length} "
                               f"(input tensor's size at dimension {axis}), but got "
                               f"split_sizes={sizes}")
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
        sections = [(int(start), int(start) + size) for start, size in zip(starts, sizes)]
    prefix = (slice(None),) * axis
    return tuple(getitem(tensor, prefix + (slice(start, stop),)) for start, stop in sections)


def chunk(input, chunks, dim=0):
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    axis = _normalize_dim(dim, input._data.ndim)
    length = input._data.shape[axis]
    size = -(-length // chunks) if length else 0
    if size == 0:
        return split(input, 1, axis) if length else (input,)
    return split(input, size, axis)


def contiguous(input):
    if input._data.flags.c_contiguous:
        return input
    return Contiguous.apply(input)


def flip(input, dims):
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    axes = tuple(_normalize_dim(d, input._data.ndim) for d in dims)
    return Flip.apply(input, axes)


# ---- triangles, diagonals, rolls and other rearrangements ----------------------------------------
def is_tensor(obj):
    return isinstance(obj, Tensor)


def _require_tensor(input, operation):
    if not isinstance(input, Tensor):
        raise TypeError(f"{operation}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")


def numel(input):
    _require_tensor(input, "numel")
    return input._data.size


def is_floating_point(input):
    _require_tensor(input, "is_floating_point")
    return input._data.dtype.kind == "f"


class Triangle(Op):
    """tril/triu over the last two dims: the gradient keeps the same triangle."""

    @staticmethod
    def forward(ctx, x, diagonal, upper):
        ctx.diagonal_upper = (diagonal, upper)
        return np.triu(x, diagonal) if upper else np.tril(x, diagonal)

    @staticmethod
    def backward(ctx, grad):
        diagonal, upper = ctx.diagonal_upper
        return (np.triu(grad, diagonal) if upper else np.tril(grad, diagonal)), None, None


def tril(input, diagonal=0):
    if input._data.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return Triangle.apply(input, diagonal, False)


def triu(input, diagonal=0):
    if input._data.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return Triangle.apply(input, diagonal, True)


class Diag(Op):
    """A vector to a (square) matrix with it on the ``diagonal``-th diagonal, or a matrix's
    diagonal as a vector."""

    @staticmethod
    def forward(ctx, x, diagonal):
        ctx.shape = x.shape
        ctx.diagonal = diagonal
        return np.diag(x, diagonal).copy()

    @staticmethod
    def backward(ctx, grad):
        if len(ctx.shape) == 1:
            return np.diagonal(grad, ctx.diagonal).copy(), None
        full = np.zeros(ctx.shape, dtype=grad.dtype)
        rows = np.arange(grad.shape[0]) + max(-ctx.diagonal, 0)
        full[rows, rows + ctx.diagonal] = grad
        return full, None


def diag(input, diagonal=0):
    if input._data.ndim not in (1, 2):
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input._data.ndim}D")
    return Diag.apply(input, diagonal)


@autocast_op("trace")
def trace(input):
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input._data.ndim}")
    return Diag.apply(input, 0).sum()


class Roll(Op):
    @staticmethod
    def forward(ctx, x, shifts, axes):
        ctx.shifts_axes = (shifts, axes)
        if axes is None:
            return np.roll(x.reshape(-1), shifts).reshape(x.shape)
        return np.roll(x, shifts, axes)

    @staticmethod
    def backward(ctx, grad):
        shifts, axes = ctx.shifts_axes
        back = tuple(-shift for shift in shifts) if isinstance(shifts, tuple) else -shifts
        if axes is None:
            return np.roll(grad.reshape(-1), back).reshape(grad.shape), None, None
        return np.roll(grad, back, axes), None, None


def roll(input, shifts, dims=None):
    if dims is None:
        if isinstance(shifts, (tuple, list)):
            if len(shifts) != 1:
                raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                                   f"dims:0")
            shifts = shifts[0]
        return Roll.apply(input, int(shifts), None)
    shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(dims)}")
    axes = tuple(_normalize_dim(dim, input._data.ndim) for dim in dims)
    return Roll.apply(input, shifts, axes)


def tile(input, dims):
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    dims = (1,) * (input._data.ndim - len(dims)) + dims
    return repeat(input, dims)


def broadcast_to(input, size):
    return expand(input, tuple(size))


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors ('ij': matrix indexing, 'xy': Cartesian)."""
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    for tensor in tensors:
        if tensor._data.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got: {tensor._data.ndim}D")
    swap = indexing == "xy" and len(tensors) >= 2
    ordered = list(tensors)
    if swap:
        ordered[0], ordered[1] = ordered[1], ordered[0]
    shape = tuple(tensor._data.size for tensor in ordered)
    grids = []
    for axis, tensor in enumerate(ordered):
        view_shape = [1] * len(ordered)
        view_shape[axis] = -1
        grids.append(expand(reshape(tensor, tuple(view_shape)), shape))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def narrow(input, dim, start, length):
    axis = _normalize_dim(dim, input._data.ndim)
    size = input._data.shape[axis]
    if isinstance(start, Tensor):
        start = start.item()
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], but "
                         f"got {start})")
    start = start % size if start < 0 else start
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return getitem(input, (slice(None),) * axis + (slice(start, start + length),))


def unbind(input, dim=0):
    axis = _normalize_dim(dim, input._data.ndim)
    return tuple(getitem(input, (slice(None),) * axis + (position,))
                 for position in range(input._data.shape[axis]))


def repeat_interleave(input, repeats, dim=None):
    """Each element (or slice along ``dim``) repeated ``repeats`` times, consecutively."""
    if dim is None:
        input = reshape(input, -1)
        axis = 0
    else:
        axis = _normalize_dim(dim, input._data.ndim)
    size = input._data.shape[axis]
    counts = repeats._data if isinstance(repeats, Tensor) else np.asarray(repeats)
    if counts.ndim == 1 and counts.size != size and counts.size != 1:
        raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                           f"repeats.size(0) = {counts.size} and input.size(0) = {size}")
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    positions = np.repeat(np.arange(size), counts.reshape(-1) if counts.ndim else counts)
    return getitem(input, (slice(None),) * axis + (positions,))


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The ``n``-th forward difference along ``dim`` (with optional prepended/appended values)."""
    if input._data.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    axis = _normalize_dim(dim, input._data.ndim)
    pieces = [value for value in (prepend, input, append) if value is not None]
    if len(pieces) > 1:
        input = cat(pieces, axis)
    for _ in range(n):
        length = input._data.shape[axis]
        if length == 0:
            break
        later = narrow(input, axis, 1, length - 1)
        earlier = narrow(input, axis, 0, length - 1)
        input = (later != earlier) if input._data.dtype == np.bool_ else later - earlier
    return input


def atleast_1d(*tensors):
    tensors = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)) else tensors
    out = tuple(reshape(tensor, (1,)) if tensor._data.ndim == 0 else tensor for tensor in tensors)
    return out[0] if len(out) == 1 else out


def atleast_2d(*tensors):
    tensors = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)) else tensors
    out = tuple(reshape(tensor, (1,) * (2 - tensor._data.ndim) + tensor._data.shape)
                if tensor._data.ndim < 2 else tensor for tensor in tensors)
    return out[0] if len(out) == 1 else out


def atleast_3d(*tensors):
    tensors = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)) else tensors
    shapes = {0: lambda shape: (1, 1, 1), 1: lambda shape: (1,) + shape + (1,),
              2: lambda shape: shape + (1,)}
    out = tuple(reshape(tensor, shapes[tensor._data.ndim](tensor._data.shape))
                if tensor._data.ndim < 3 else tensor for tensor in tensors)
    return out[0] if len(out) == 1 else out


def _as_list(tensors, operation):
    if not isinstance(tensors, (tuple, list)):
        raise TypeError(f"{operation}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                        f"not {type(tensors).__name__}")
    return list(tensors)


def hstack(tensors):
    tensors = [atleast_1d(tensor) for tensor in _as_list(tensors, "hstack")]
    return cat(tensors, 0 if tensors and tensors[0]._data.ndim == 1 else 1)


def vstack(tensors):
    return cat([atleast_2d(tensor) for tensor in _as_list(tensors, "vstack")], 0)


row_stack = vstack


def dstack(tensors):
    return cat([atleast_3d(tensor) for tensor in _as_list(tensors, "dstack")], 2)


def column_stack(tensors):
    columns = [reshape(tensor, (-1, 1)) if tensor._data.ndim <= 1 else tensor
               for tensor in _as_list(tensors, "column_stack")]
    return cat(columns, 1)


def fliplr(input):
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input):
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``dims`` (from the first towards the
    second)."""
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input._data.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input._data.ndim}")
    first, second = (_normalize_dim(dim, input._data.ndim) for dim in dims)
    if first == second:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {first} and "
                           f"dim1 = {second}")
    k %= 4
    if k == 1:
        return transpose(flip(input, (second,)), first, second)
    if k == 2:
        return flip(input, (first, second))
    if k == 3:
        return transpose(flip(input, (first,)), first, second)
    return input.clone()


def select(input, dim, index):
    axis = _normalize_dim(dim, input._data.ndim)
    size = input._data.shape[axis]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input._data.shape)} at dimension {axis}")
    return getitem(input, (slice(None),) * axis + (index,))


class Diagonal(Op):
    """The diagonal of the (dim1, dim2) planes, as a new last dim."""

    @staticmethod
    def forward(ctx, x, offset, axis1, axis2):
        ctx.shape = x.shape
        ctx.layout = (offset, axis1, axis2)
        return np.diagonal(x, offset, axis1, axis2).copy()

    @staticmethod
    def backward(ctx, grad):
        offset, axis1, axis2 = ctx.layout
        full = np.zeros(ctx.shape, dtype=grad.dtype)
        planes = np.moveaxis(full, (axis1, axis2), (-2, -1))
        positions = np.arange(grad.shape[-1])
        rows = positions + max(-offset, 0)
        planes[..., rows, rows + offset] = grad
        return full, None, None, None


def diagonal(input, offset=0, dim1=0, dim2=1):
    ndim = input._data.ndim
    axis1 = _normalize_dim(dim1, ndim)
    axis2 = _normalize_dim(dim2, ndim)
    if axis1 == axis2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return Diagonal.apply(input, offset, axis1, axis2)


def broadcast_shapes(*shapes):
    try:
        return Size(np.broadcast_shapes(*[(shape,) if isinstance(shape, int) else tuple(shape)
                                          for shape in shapes]))
    except ValueError:
        raise RuntimeError(f"Shape mismatch: objects cannot be broadcast to a single shape: "
                           f"{[list(shape) for shape in shapes]}") from None


def broadcast_tensors(*tensors):
    shape = broadcast_shapes(*[tensor._data.shape for tensor in tensors])
    return tuple(expand(tensor, shape) for tensor in tensors)


def tensor_split(input, indices_or_sections, dim=0):
    """Split into ``n`` nearly equal parts (the first ``size % n`` one longer), or at indices."""
    axis = _normalize_dim(dim, input._data.ndim)
    size = input._data.shape[axis]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        sections = indices_or_sections
        if sections <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
        small, extra = divmod(size, sections)
        bounds = [0]
        for part in range(sections):
            bounds.append(bounds[-1] + small + (1 if part < extra else 0))
    else:
        bounds = [0] + [min(max(index if index >= 0 else index + size, 0), size)
                        for index in indices_or_sections] + [size]
    pieces = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        stop = max(stop, start)
        pieces.append(narrow(input, axis, start, stop - start))
    return tuple(pieces)


swapdims = swapaxes
moveaxis = movedim


def ravel(input):
    return reshape(input, (-1,))


class Unfold(Op):
    """Every ``size``-long window along ``axis``, ``step`` apart, as a new last dim."""

    @staticmethod
    def forward(ctx, x, axis, size, step):
        ctx.shape = x.shape
        ctx.layout = (axis, size, step)
        windows = np.lib.stride_tricks.sliding_window_view(x, size, axis=axis)
        picked = (slice(None),) * axis + (slice(None, None, step),)
        return np.ascontiguousarray(windows[picked])

    @staticmethod
    def backward(ctx, grad):
        axis, size, step = ctx.layout
        full = np.zeros(ctx.shape, dtype=grad.dtype)
        count = grad.shape[axis]
        for offset in range(size):  # a loop over the window, not over elements
            span = slice(offset, offset + step * (count - 1) + 1, step)
            full[(slice(None),) * axis + (span,)] += grad[..., offset]
        return full, None, None, None


def unfold(input, dimension, size, step):
    """Tensor.unfold: windows of ``size`` along ``dimension``, ``step`` apart (a copy here)."""
    ndim = input._data.ndim
    axis = _normalize_dim(dimension, ndim) if ndim else 0
    length = input._data.shape[axis] if ndim else 1
    if size > length:
        raise RuntimeError(f"maximum size for tensor at dimension {axis} is {length} but size is "
                           f"{size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if ndim == 0:
        return reshape(input, (1,))
    return Unfold.apply(input, axis, size, step)


def block_diag(*tensors):
    """The tensors (0-, 1- or 2-D) as blocks along the diagonal of one matrix."""
    blocks = []
    for tensor in tensors:
        if tensor._data.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {len(blocks)} has {tensor._data.ndim} "
                               f"dimensions")
        blocks.append(reshape(tensor, (1, -1)) if tensor._data.ndim < 2 else tensor)
    if not blocks:
        return Tensor._wrap(np.zeros((1, 0), np.float32))
    blocks = _promoted(blocks)
    dtype = blocks[0]._data.dtype
    width = sum(block._data.shape[1] for block in blocks)
    rows = []
    before = 0
    for block in blocks:
        height, columns = block._data.shape
        left = Tensor._wrap(np.zeros((height, before), dtype))
        right = Tensor._wrap(np.zeros((height, width - before - columns), dtype))
        rows.append(cat([left, block, right], 1))
        before += columns
    return cat(rows, 0)


def cartesian_prod(*tensors):
    """Every combination of the 1-D tensors' elements, one per row."""
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([reshape(grid, (-1,)) for grid in grids], 1)


def hsplit(input, indices_or_sections):
    return tensor_split(input, indices_or_sections, 1 if input._data.ndim > 1 else 0)


def vsplit(input, indices_or_sections):
    if input._data.ndim < 2:
        raise RuntimeError(f"torch.vsplit requires a tensor with at least 2 dimension, but got a "
                           f"tensor with {input._data.ndim} dimensions!")
    return tensor_split(input, indices_or_sections, 0)


def dsplit(input, indices_or_sections):
    if input._data.ndim < 3:
        raise RuntimeError(f"torch.dsplit requires a tensor with at least 3 dimension, but got a "
                           f"tensor with {input._data.ndim} dimensions!")
    return tensor_split(input, indices_or_sections, 2)


def sum_to_size(input, *size):
    """Sum ``input`` down to ``size`` (which ``input`` must be expandable from)."""
    size = _shape_arg(size)
    shape = input._data.shape
    leading = len(shape) - len(size)
    if leading < 0 or any(target not in (1, have) for target, have in zip(size, shape[leading:])):
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size "
                           f"{{{list(shape)}}}.")
    axes = tuple(range(leading)) + tuple(
        leading + position for position, (target, have) in enumerate(zip(size, shape[leading:]))
        if target == 1 and have != 1)
    if not axes:
        return input
    return reshape(input.sum(axes, keepdim=True), size)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Matrices whose (dim1, dim2) diagonals are the last dim of ``input``."""
    size = input._data.shape[-1] + abs(offset)
    ndim = input._data.ndim + 1
    axis1 = _normalize_dim(dim1, ndim)
    axis2 = _normalize_dim(dim2, ndim)
    if axis1 == axis2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    batch = input._data.shape[:-1]
    out = Tensor._wrap(np.zeros(batch + (size, size), input._data.dtype))
    positions = np.arange(input._data.shape[-1])
    rows = positions + max(-offset, 0)
    setitem(out, (Ellipsis, rows, rows + offset), input)
    # The two new dims sit last; move them to (axis1, axis2).
    rest = [axis for axis in range(ndim) if axis not in (axis1, axis2)]
    order = [0] * ndim
    for source, target in enumerate(rest + [axis1, axis2]):
        order[target] = source
    return permute(out, order)


def diagflat(input, offset=0):
    return diag(reshape(input, (-1,)), offset)


def vander(x, N=None, increasing=False):
    """Columns of powers of the 1-D ``x`` (decreasing unless ``increasing``)."""
    if x._data.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    count = x._data.shape[0] if N is None else N
    if count < 0:
        raise RuntimeError("N must be non-negative.")
    exponents = np.arange(count) if increasing else np.arange(count)[::-1].copy()
    base = x if x._data.dtype.kind == "f" else x.to(_FROM_NUMPY[np.dtype(np.int64)])
    return reshape(base, (-1, 1)) ** Tensor._wrap(exponents.astype(base._data.dtype))


def is_nonzero(input):
    return input.is_nonzero()


def is_complex(input):
    _require_tensor(input, "is_complex")
    return False


def is_same_size(input, other):
    return input._data.shape == other._data.shape


def combinations(input, r=2, with_replacement=False):
    """Every length-``r`` combination of the 1-D ``input``'s elements, one per row."""
    if input._data.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input._data.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    choose = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    rows = np.array(list(choose(range(input._data.shape[0]), r)), dtype=np.int64)
    if r == 0 or rows.size == 0:
        return Tensor._wrap(np.zeros((0,) if r == 0 else (0, r), input._data.dtype))
    return getitem(input, (rows,))


def unravel_index(indices, shape):
    """The coordinates in ``shape`` of flat ``indices``, one int64 tensor per dim."""
    flat = indices._data if isinstance(indices, Tensor) else np.asarray(indices)
    if flat.dtype.kind not in "iu":
        raise TypeError("expected 'indices' to be integer dtype, but got "
                        f"{getattr(indices, 'dtype', flat.dtype)}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    size = int(np.prod(shape))
    if flat.size and (flat.min() < -size or flat.max() >= size):
        raise ValueError("index out of bounds for the given shape")
    coordinates = np.unravel_index(np.where(flat < 0, flat + size, flat), shape)
    return tuple(Tensor._result(np.asarray(axis, dtype=np.int64)) for axis in coordinates)
