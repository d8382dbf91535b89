"""Shape ops: reshape/view, permute/transpose, expand, repeat, squeeze/unsqueeze, cat/stack, split."""
import builtins
import itertools
import math
import operator

import numpy as np

from .._grad_state import _grad_state
from .._dtype import (
    _FROM_NUMPY, dtype as ember_dtype, repr_prefix, result_type, scalar_type_name)
from .._layout import (arrange, check_memory_format, contiguous_format, has_memory_format,
                       format_strides, preserve_format, suggest_memory_format, with_strides)
from ..autograd import function as function_module
from ..autograd.function import Op, torch_named
from ..autograd.views import check_inplace, nothing_recorded, unrecorded_view, view_result
from ..tensor import Size, Tensor, _normalize_dim, mark_unrecorded_view, named_type, warn_once
from ._broadcast import broadcast_view, expanded_shape, mismatch_error, unbroadcast
from .elementwise._operands import _check_tensor_elements
from .elementwise.casting import autocast_op
from .index import getitem, index_select, require_tensor

__all__ = ["as_strided", "as_strided_", "as_strided_scatter", "atleast_1d", "atleast_2d", "atleast_3d", "block_diag",
           "broadcast_shapes", "broadcast_tensors", "broadcast_to", "cartesian_prod", "cat",
           "chunk", "column_stack", "combinations", "concat", "concatenate", "diag", "diag_embed",
           "diagflat", "diagonal", "diagonal_scatter", "diff", "dsplit", "dstack", "expand",
           "flatten", "flip", "fliplr", "flipud", "gradient", "hsplit", "hstack", "is_complex",
           "is_floating_point", "is_nonzero", "is_same_size", "is_tensor", "meshgrid", "moveaxis",
           "movedim", "narrow", "narrow_copy", "numel", "permute", "ravel", "repeat", "repeat_interleave",
           "reshape", "roll", "rot90", "row_stack", "select", "select_scatter", "slice_scatter",
           "split", "squeeze", "stack", "swapaxes", "swapdims", "t", "tensor_split", "tile",
           "trace", "transpose", "tril", "triu", "unbind", "unflatten", "unravel_index",
           "unsqueeze", "vander", "vsplit", "vstack"]


def _shape_arg(shape, operation, argument="size"):
    """Sizes given as ``*sizes`` or as one sequence, as a tuple of ints; PyTorch's TypeError for
    anything else (a float is not truncated)."""
    as_sequence = len(shape) == 1 and isinstance(shape[0], (tuple, list))
    sizes = shape[0] if as_sequence else shape
    try:
        return tuple([operator.index(size) for size in sizes])
    except TypeError:
        pass
    raise TypeError(_sizes_error(shape, sizes, as_sequence, operation, argument))


def _sizes_error(shape, sizes, as_sequence, operation, argument):
    """PyTorch's argument parser's words for sizes that are not ints (method forms, where the
    sizes are argument 1): which it says depends on where the first bad one is."""
    if len(shape) == 1 and not as_sequence:
        # one argument that is neither a sequence nor an int: an array or a tensor of sizes
        return (f"{operation}(): argument '{argument}' (position 1) must be tuple of ints, not "
                f"{named_type(shape[0])}")
    position = next(position for position, size in enumerate(sizes) if not _is_index(size))
    if position > 0:
        return (f"{operation}(): argument '{argument}' failed to unpack the object at pos "
                f"{position + 1} with error \"type must be tuple of ints,but got "
                f"{named_type(sizes[position])}\"")
    if as_sequence:
        return (f"{operation}(): argument '{argument}' (position 1) must be tuple of ints, but "
                f"found element of type {named_type(sizes[0])} at pos 0")
    # a first size that is not an int is not taken as the start of ``*sizes``
    return f"{operation}() takes 1 positional argument but {len(shape)} were given"


def _is_index(value):
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def _sizes_argument(positional, keyword, operation, argument):
    """The sizes of a ``*sizes`` op given positionally or by PyTorch's keyword ``argument``;
    PyTorch's TypeError when both or neither are given."""
    if keyword is not None:
        if positional:
            raise TypeError(f"{operation}() got multiple values for argument '{argument}'")
        positional = (keyword,)
    if not positional:
        raise TypeError(f'{operation}() missing 1 required positional arguments: "{argument}"')
    return _shape_arg(positional, operation, argument)


def require_int(value, operation, argument, position):
    """PyTorch's TypeError when an argument that must be an int is not one (floats included)."""
    if not hasattr(value, "__index__") or isinstance(value, Tensor) and \
            value._data.dtype.kind not in "iu":
        raise TypeError(f"{operation}(): argument '{argument}' (position {position}) must be "
                        f"int, not {type(value).__name__}")
    return operator.index(value)


def _infer_shape(shape, numel):
    """Resolve one -1 in ``shape``; RuntimeError naming the shape when it can't fit ``numel``."""
    if (shape and min(shape) >= 0) and math.prod(shape) == numel:
        return shape  # every size given and fitting: nothing to resolve or report
    unknown = [index for index, size in enumerate(shape) if size == -1]
    if len(unknown) > 1:
        raise RuntimeError("only one dimension can be inferred")
    for index, size in enumerate(shape):
        if size < -1:
            raise RuntimeError(f"invalid shape dimension {size} at index {index} of shape "
                               f"{list(shape)}")
    known = 1
    for size in shape:
        if size != -1:
            known *= size
    if unknown:
        if known == 0 and numel == 0:
            raise RuntimeError(f"cannot reshape tensor of 0 elements into shape {list(shape)} "
                               f"because the unspecified dimension size -1 can be any value and "
                               f"is ambiguous")
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = list(shape)
        shape[unknown[0]] = numel // known
        return tuple(shape)
    if known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _op_in_backward(ctx, op_class, grad, *args):
    """``op_class`` applied to ``grad`` inside a backward (ops whose backward is another op): its
    NumPy kernel on the first-order path, the recorded op under create_graph."""
    if ctx.xp is np:
        return op_class.forward(object.__new__(op_class), grad, *args)
    return op_class.apply(grad, *args)


class Reshape(Op):
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    is_view = True
    differentiable_backward = True
    _torch_name = "ViewBackward0"

    @staticmethod
    def forward(ctx, x, shape, strict_view):
        ctx.shape = x.shape
        if strict_view:
            try:
                return x.reshape(shape, copy=False)
            except ValueError:
                raise RuntimeError("view size is not compatible with input tensor's size and "
                                   "stride (at least one dimension spans across two contiguous "
                                   "subspaces). Use .reshape(...) instead.") from None
        out = x.reshape(shape)
        if not x.flags.c_contiguous and out.size > 1:
            # PyTorch's reshape of a non-contiguous input: an alias of the input with new
            # strides (_reshape_alias), or a copy (UnsafeView), which is no view
            if np.may_share_memory(out, x):
                ctx._torch_name = "ReshapeAliasBackward0"
            else:
                ctx._torch_name = "UnsafeViewBackward0"
                ctx.copied = True
        return out

    @staticmethod
    def backward(ctx, grad):
        if ctx.xp is np:
            return grad.reshape(ctx.shape), None, None
        return ctx.xp.reshape(grad, ctx.shape), None, None


class Permute(Op):
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    is_view = True
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        dims = ctx.dims
        inverse = [0] * len(dims)
        for position, axis in enumerate(dims):
            inverse[axis % len(dims)] = position
        return ctx.xp.permute_dims(grad, tuple(inverse)), None


class Expand(Op):
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    is_view = True
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        view = broadcast_view(x, shape)
        if view.size == x.size and x.size and x.flags.writeable:
            # Only size-1 dims were added or expanded: no element is seen twice, so the view
            # is written through as PyTorch allows (``arange(n).expand(1, -1).copy_(...)``).
            if x.flags.c_contiguous:
                return np.ndarray(view.shape, x.dtype, x, 0, view.strides)
            return np.lib.stride_tricks.as_strided(x, view.shape, view.strides)
        return view

    @staticmethod
    def backward(ctx, grad):
        return unbroadcast(grad, ctx.shape), None


class Repeat(Op):
    _next_order = (0,)  # PyTorch lists the tensor inputs, not the options
    differentiable_backward = True

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
        summed = ctx.xp.sum(grad.reshape(interleaved), axis=tuple(range(0, len(interleaved), 2)))
        return summed.reshape(ctx.shape), None


def _grads_of_pieces(ctx, pieces):
    """cat/stack backward: the grad's pieces, each in its input's dtype, for the inputs that
    need one (the leading None is for the axis argument)."""
    xp = ctx.xp
    grads = [None]
    for piece, dtype, needed in zip(pieces, ctx.dtypes, ctx.needs_input_grad[1:]):
        if not needed:
            grads.append(None)
        elif xp is np:  # the ndarray method: np.astype's Python wrapper costs ~1 us a piece
            grads.append(piece if piece.dtype == dtype else piece.astype(dtype))
        else:
            grads.append(xp.astype(piece, dtype, copy=False))
    return tuple(grads)


def _common_format(arrays):
    """The memory format that every array suggests, else contiguous_format (PyTorch's choice
    for cat's result)."""
    formats = {suggest_memory_format(array) for array in arrays}
    return formats.pop() if len(formats) == 1 else contiguous_format


def _concatenated_layout(output, arrays):
    """cat's result laid out as PyTorch's: in the memory format that every input suggests
    (channels_last when all are), else row-major. NumPy follows the inputs' strides, so a cat of
    transposed pieces came out transposed (and a later dropout drew its mask in that order)."""
    fmt = _common_format(arrays)
    if fmt is contiguous_format:
        return np.ascontiguousarray(output)
    return with_strides(output, format_strides(output.shape, fmt))


def _stacked_layout(output, arrays, axis):
    """stack's result laid out as PyTorch's, which concatenates along ``axis`` and views the
    result with the new dimension split off (unsqueezes and concatenates at the end)."""
    if axis == arrays[0].ndim:
        # unsqueezed as PyTorch does at the end: the new dimension's stride is one element
        return _concatenated_layout(output, [
            np.lib.stride_tricks.as_strided(array, array.shape + (1,),
                                            array.strides + (array.itemsize,))
            for array in arrays])
    fmt = _common_format(arrays)
    if fmt is contiguous_format:
        return np.ascontiguousarray(output)
    concatenated = np.concatenate(arrays, axis=axis)
    return with_strides(concatenated, format_strides(concatenated.shape, fmt)) \
        .reshape(output.shape)


class Cat(Op):
    _next_order = slice(1, None)  # PyTorch lists the tensors, not the axis
    differentiable_backward = True

    @staticmethod
    def forward(ctx, axis, *arrays):
        ctx.axis = axis
        ctx.sizes = [array.shape[axis] if array.ndim else 0 for array in arrays]
        ctx.dtypes = [array.dtype for array in arrays]
        output = np.concatenate(arrays, axis=axis)
        if not output.flags.c_contiguous:
            output = _concatenated_layout(output, arrays)
        return output

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        if xp is np:  # slices of grad, without np.split's Python-level work (~10 us)
            leading = (slice(None),) * ctx.axis
            pieces = []
            end = 0
            for size in ctx.sizes:
                start = end
                end += size
                pieces.append(grad[leading + (slice(start, end),)])
            return _grads_of_pieces(ctx, pieces)
        offsets = np.cumsum(ctx.sizes)[:-1].tolist()
        pieces = xp.split(grad, offsets, axis=ctx.axis)
        return _grads_of_pieces(ctx, pieces)


class Stack(Op):
    _next_order = slice(1, None)  # PyTorch lists the tensors, not the axis
    differentiable_backward = True

    @staticmethod
    def forward(ctx, axis, *arrays):
        ctx.axis = axis
        ctx.dtypes = [array.dtype for array in arrays]
        output = np.stack(arrays, axis=axis)
        if not output.flags.c_contiguous:
            output = _stacked_layout(output, arrays, axis)
        return output

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        pieces = xp.unstack(grad, axis=ctx.axis)
        return _grads_of_pieces(ctx, pieces)


class Contiguous(Op):
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    _torch_name = "CloneBackward0"

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, memory_format):
        return arrange(x, memory_format)

    @staticmethod
    def backward(ctx, grad):
        return grad, None


class Flip(Op):
    _next_order = (0,)  # PyTorch lists the tensor inputs, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        if x.flags.c_contiguous:
            return np.flip(x, axes).copy()
        return arrange(np.flip(x, axes), preserve_format, like=x)  # PyTorch's empty_like

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.flip(grad, axis=ctx.axes), None


# ---- functional API ------------------------------------------------------------------------------
def reshape(input, *sizes, shape=None):
    require_tensor(input, "reshape")
    shape = _infer_shape(_sizes_argument(sizes, shape, "reshape", "shape"), input._data.size)
    if shape == input._data.shape:
        return Reshape.apply(input, shape, False)
    return Reshape.apply(input, shape, False)


def view(input, *shape, size=None, dtype=None):
    if size is None and dtype is None and type(input) is Tensor and \
            type(input._data) is np.ndarray:
        # The common call: NumPy's reshape resolves the -1 and checks the sizes (ints only, no
        # bools or floats); NumPy reads any negative size as -1, PyTorch only -1. Anything
        # else takes the path below, which raises PyTorch's error.
        sizes = shape[0] if len(shape) == 1 and type(shape[0]) in (tuple, Size) else shape
        if sizes:
            data = input._data
            try:
                # a row-major array reshapes to a view whatever the sizes (copy=False, which
                # refuses a copy otherwise, costs 0.2 us to parse)
                array = data.reshape(sizes) if data.flags.c_contiguous else \
                    data.reshape(sizes, copy=False)
            except Exception:  # noqa: BLE001 - the Op below raises PyTorch's error for it
                array = None  # not expressible as a view, sizes that are not ints, a bad -1
            if array is not None and (array.shape == sizes or -1 in sizes):
                if unrecorded_view(input):
                    return view_result(input, array)
                return Reshape.apply(input, array.shape, True)
    require_tensor(input, "view")
    if dtype is not None and not shape:
        shape = (dtype,)
    if len(shape) == 1 and isinstance(shape[0], ember_dtype):
        return _view_as_dtype(input, shape[0])
    shape = _infer_shape(_sizes_argument(shape, size, "view", "size"), input._data.size)
    return Reshape.apply(input, shape, True)


def _view_as_dtype(input, target):
    """The same bytes read as ``target`` (no gradient, one version counter with ``input``).
    Between element sizes the last dim must be contiguous and it is what grows or shrinks,
    with PyTorch's checks (the bit-level idiom of quantisation code: ``w.view(torch.uint8)``)."""
    array = input._data
    old_size, new_size = array.itemsize, target.numpy.itemsize
    if old_size != new_size:
        source = input.dtype._scalar_type
        what = f"to view {source} as {target._scalar_type} (different element sizes)"
        if array.ndim == 0:
            raise RuntimeError(f"self.dim() cannot be 0 {what}")
        strides = input.stride()
        ratio = new_size // old_size
        if new_size > old_size and array.shape[-1] % ratio:
            raise RuntimeError(f"self.size(-1) must be divisible by {ratio} {what}, but got "
                               f"{array.shape[-1]}")
        if strides[-1] != 1:
            raise RuntimeError(f"self.stride(-1) must be 1 {what}, but got {strides[-1]}")
        if new_size > old_size:
            offset = input.storage_offset()
            if offset % ratio:
                raise RuntimeError(f"self.storage_offset() must be divisible by {ratio} {what}, "
                                   f"but got {offset}")
            for dim, stride in enumerate(strides[:-1]):
                if stride % ratio:
                    raise RuntimeError(f"self.stride({dim}) must be divisible by {ratio} {what}, "
                                       f"but got {stride}")
    view = Tensor._wrap(array.view(target.numpy))
    counter = input._vc
    view._vc = input._version_counter() if counter is None else counter
    return view


def flatten(input, start_dim=0, end_dim=-1):
    require_tensor(input, "flatten")
    ndim = input._data.ndim
    if ndim == 0:
        _normalize_dim(start_dim, 0)  # a 0-d tensor's dims are 0 and -1
        _normalize_dim(end_dim, 0)
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
    require_tensor(input, "unflatten")
    if not isinstance(sizes, (tuple, list, Size)):
        raise TypeError(f"unflatten(): argument 'sizes' (position 2) must be tuple of ints, not "
                        f"{type(sizes).__name__}")
    sizes = tuple(sizes)
    for position, size in enumerate(sizes):
        try:
            operator.index(size)
        except TypeError:
            raise TypeError(f"unflatten(): argument 'sizes' (position 2) must be tuple of ints, "
                            f"but found element of type {type(size).__name__} at pos "
                            f"{position}") from None
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    axis = _normalize_dim(dim, input._data.ndim)
    shape = input._data.shape
    if sizes.count(-1) == 1:
        known = math.prod(size for size in sizes if size != -1)
        if known == 0 or shape[axis] % known:
            raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                               f"size of dim {dim} ({shape[axis]}) in the input tensor")
    inferred = _infer_shape(sizes, shape[axis]) if -1 in sizes else sizes
    product = 1
    for size in inferred:
        product *= size
    if product != shape[axis]:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size "
                           f"of dim {dim} ({shape[axis]}) in the input tensor")
    # splitting one dim is always a view (PyTorch's unflatten is one: ViewBackward0)
    return Reshape.apply(input, shape[:axis] + tuple(inferred) + shape[axis + 1:], True)


def squeeze(input, dim=None):
    require_tensor(input, "squeeze")
    shape = input._data.shape
    if dim is None:
        new_shape = tuple(size for size in shape if size != 1)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        axes = set()
        for d in dims:
            axis = _normalize_dim(d, input._data.ndim)
            if axis in axes:
                raise RuntimeError(f"dim {axis} appears multiple times in the list of dims")
            axes.add(axis)
        new_shape = tuple(size for axis, size in enumerate(shape)
                          if not (axis in axes and size == 1))
    variant = 0 if dim is None else 1 if isinstance(dim, int) else 2
    return torch_named(Reshape.apply(input, new_shape, False), f"SqueezeBackward{variant}")


def unsqueeze(input, dim):
    require_tensor(input, "unsqueeze")
    if type(dim) is not int:
        dim = require_int(dim, "unsqueeze", "dim", 1)
    ndim = input._data.ndim
    if not -(ndim + 1) <= dim <= ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-(ndim + 1)}, "
                         f"{ndim}], but got {dim})")
    axis = dim % (ndim + 1)
    shape = input._data.shape
    return torch_named(Reshape.apply(input, shape[:axis] + (1,) + shape[axis:], False),
                       "UnsqueezeBackward0")


def permute(input, *order, dims=None):
    require_tensor(input, "permute")
    dims = _sizes_argument(order, dims, "permute", "dims")
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
    if type(dim0) is int and type(dim1) is int and unrecorded_view(input):
        ndim = input._data.ndim
        if -ndim <= dim0 < ndim and -ndim <= dim1 < ndim:
            return view_result(input, input._data.swapaxes(dim0, dim1))
    require_tensor(input, "transpose")
    ndim = input._data.ndim
    if ndim == 0:
        _normalize_dim(dim0, 0)
        _normalize_dim(dim1, 0)
        return Permute.apply(input, ())
    dims = list(range(ndim))
    a = _normalize_dim(dim0, ndim)
    b = _normalize_dim(dim1, ndim)
    dims[a], dims[b] = dims[b], dims[a]
    return torch_named(Permute.apply(input, tuple(dims)), "TransposeBackward0")


swapaxes = transpose


def movedim(input, source, destination):
    require_tensor(input, "movedim")
    ndim = input._data.ndim
    sources = [_normalize_dim(axis, ndim) for axis in _dims_arg(source, "movedim", "source")]
    destinations = [_normalize_dim(axis, ndim)
                    for axis in _dims_arg(destination, "movedim", "destination")]
    if len(sources) != len(destinations):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({sources} "
                           f"dims) should contain the same number of dims as destination "
                           f"({destinations} dims)")
    for name, dims in (("source", sources), ("destination", destinations)):
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({dims})")
    order = [axis for axis in range(ndim) if axis not in sources]
    for target, axis in sorted(zip(destinations, sources)):
        order.insert(target, axis)
    return Permute.apply(input, tuple(int(axis) for axis in order))


def _dims_arg(dims, operation, argument):
    """One dim or a sequence of dims, as a list of ints (PyTorch's TypeError otherwise)."""
    if isinstance(dims, (tuple, list)):
        return list(_shape_arg((dims,), operation, argument))
    return [require_int(dims, operation, argument, 2)]


def t(input):
    require_tensor(input, "t")
    ndim = input._data.ndim
    if ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {ndim}D")
    return torch_named(Permute.apply(input, tuple(reversed(range(ndim)))), "TBackward0")


def expand(input, *sizes, size=None):
    if size is None and sizes and type(input) is Tensor:
        # The common call: plain int sizes, one per dim, each kept or stretching a 1.
        target = sizes[0] if len(sizes) == 1 and type(sizes[0]) in (tuple, Size) else sizes
        shape = input._data.shape
        if len(target) == len(shape):
            for wanted, existing in zip(target, shape):
                if type(wanted) is not int or wanted != existing and (existing != 1 or wanted < 0):
                    break
            else:
                return Expand.apply(input, tuple(target))
    require_tensor(input, "expand")
    sizes = _sizes_argument(sizes, size, "expand", "size")
    return Expand.apply(input, expanded_shape(input._data, sizes))


def expand_as(input, other):
    require_tensor(other, "expand_as", "other")
    return expand(input, other._data.shape)


def repeat(input, *counts, repeats=None):
    require_tensor(input, "repeat")
    repeats = _sizes_argument(counts, repeats, "repeat", "repeats")
    if len(repeats) < input._data.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of "
                           "dimensions of tensor")
    if any(count < 0 for count in repeats):
        # PyTorch checks the result's sizes: a negative count of an empty dim makes it empty
        padded = (1,) * (len(repeats) - input._data.ndim) + input._data.shape
        target = [size * count for size, count in zip(padded, repeats)]
        negative = [size for size in target if size < 0]
        if negative:
            raise RuntimeError(f"Trying to create tensor with negative dimension {negative[0]}: "
                               f"{target}")
        repeats = tuple(builtins.max(count, 0) for count in repeats)
    return Repeat.apply(input, repeats)


def _check_sequence(tensors, operation):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{operation}(): argument 'tensors' (position 1) must be tuple of "
                        f"Tensors, not {type(tensors).__name__}")
    if len(tensors) == 0:
        if operation == "cat":
            raise ValueError(f"{repr_prefix()}.cat(): expected a non-empty list of Tensors")
        raise RuntimeError(f"{operation} expects a non-empty TensorList")
    for position, tensor in enumerate(tensors):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"expected Tensor as element {position} in argument 0, but got "
                            f"{named_type(tensor)}")


def _promoted(tensors):
    dtypes = [_FROM_NUMPY[tensor._data.dtype] for tensor in tensors]
    target = result_type(dtypes)
    return [tensor if tensor._data.dtype == target.numpy else tensor.to(target)
            for tensor in tensors]


def cat(tensors, dim=0):
    kind = type(tensors)
    if (kind is list or kind is tuple) and tensors and type(dim) is int and \
            type(tensors[0]) is Tensor:
        # The common call: dense tensors of one dtype and rank, none a legacy empty (0,)
        reference = tensors[0]._data
        ndim = reference.ndim
        if type(reference) is np.ndarray and ndim and -ndim <= dim < ndim:
            axis = dim % ndim
            shape = reference.shape
            dtype = reference.dtype
            before = shape[:axis]
            after = shape[axis + 1:]
            for tensor in tensors:
                if type(tensor) is not Tensor:
                    break
                array = tensor._data
                if type(array) is not np.ndarray or array.dtype is not dtype or \
                        array.ndim != ndim or not array.shape[axis]:
                    break
                if ndim > 1 and (array.shape[:axis] != before or array.shape[axis + 1:] != after):
                    break
            else:
                if function_module._tracer is None and nothing_recorded(*tensors):
                    # nothing recorded (a growing sequence of token ids): Cat's product alone
                    output = np.concatenate([tensor._data for tensor in tensors], axis=axis)
                    if output.flags.c_contiguous:
                        return Tensor._wrap(output)
                return Cat.apply(axis, *tensors)
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
    if len(kept) == len(tensors):
        return Cat.apply(axis, *_promoted(kept))
    # The legacy empties still take part in the result's dtype and in the graph (their gradient
    # is empty), as in PyTorch: each joins as an empty piece of the others' rank.
    empty_piece = reference.shape[:axis] + (0,) + reference.shape[axis + 1:]
    pieces = [reshape(promoted, empty_piece) if promoted._data.shape == (0,) else promoted
              for promoted in _promoted(list(tensors))]
    return Cat.apply(axis, *pieces)


concat = concatenate = cat


def stack(tensors, dim=0):
    _check_sequence(tensors, "stack")
    shape = tensors[0]._data.shape
    for number, tensor in enumerate(tensors):
        if tensor._data.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(tensor._data.shape)} at "
                               f"entry {number}")
    dim = require_int(dim, "stack", "dim", 2)
    ndim = len(shape) + 1
    if not -ndim <= dim < ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, "
                         f"{ndim - 1}], but got {dim})")
    return Stack.apply(dim % ndim, *_promoted(list(tensors)))


class Split(Op):
    """Consecutive pieces of ``x`` along ``axis`` (``sizes``), views of its memory, as one node
    (PyTorch's split): backward joins the pieces' gradients into one array, where slicing piece
    by piece would allocate a full-size gradient per piece. Its outputs are views that do not
    allow in-place changes while recorded (``multiple_views``), as PyTorch's."""
    _next_order = (0,)  # PyTorch lists the tensor inputs, not the options

    differentiable_backward = True
    multiple_views = True

    @staticmethod
    def forward(ctx, x, axis, sizes):
        ctx.dtype = x.dtype
        ctx.axis = axis
        ctx.stacked = sizes is None
        prefix = (slice(None),) * axis
        if sizes is None:  # unbind: one piece per index, the axis dropped
            pieces = tuple([x[prefix + (index,)] for index in range(x.shape[axis])])
        else:
            pieces = []
            start = 0
            for size in sizes:
                pieces.append(x[prefix + (slice(start, start + size),)])
                start += size
            pieces = tuple(pieces)
        ctx.piece_shapes = [piece.shape for piece in pieces]
        return pieces

    @staticmethod
    def backward(ctx, *grad_pieces):
        xp = ctx.xp
        pieces = [xp.asarray(np.zeros(shape, ctx.dtype)) if piece is None else piece
                  for piece, shape in zip(grad_pieces, ctx.piece_shapes)]
        if ctx.stacked:
            return xp.stack(pieces, axis=ctx.axis), None, None
        return xp.concat(pieces, axis=ctx.axis), None, None


class SplitWithSizes(Split):
    pass


class Unbind(Split):
    pass


def split_pieces(op_class, tensor, axis, sizes):
    """``op_class`` (Split, SplitWithSizes, Unbind) applied: the pieces share the version
    counter of ``tensor``, as views do."""
    if unrecorded_view(tensor):
        arrays = op_class.forward(object.__new__(op_class), tensor._data, axis, sizes)
        return tuple([view_result(tensor, array) for array in arrays])
    pieces = op_class.apply(tensor, axis, sizes)
    if not tensor._is_inference:
        counter = tensor._version_counter()
        unrecorded = tensor._requires_grad and pieces and pieces[0].grad_fn is None
        for piece in pieces:
            piece._vc = counter
            piece._is_inference = False  # views of a normal tensor, even in inference mode
            if unrecorded:
                mark_unrecorded_view(piece, counter, _grad_state.get().inference)
    return pieces


def split(tensor, split_size_or_sections, dim=0):
    if (type(split_size_or_sections) is int and type(dim) is int and split_size_or_sections > 0
            and unrecorded_view(tensor)):
        # the common split into equal pieces, nothing recorded (a projection into q, k, v):
        # Split's views without its node
        data = tensor._data
        ndim = data.ndim
        if -ndim <= dim < ndim and data.shape[dim]:
            prefix = (slice(None),) * (dim % ndim)
            size = split_size_or_sections
            return tuple([view_result(tensor, data[prefix + (slice(start, start + size),)])
                          for start in range(0, data.shape[dim], size)])
    require_tensor(tensor, "split", "tensor")
    if isinstance(split_size_or_sections, int) and tensor._data.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    if isinstance(split_size_or_sections, int) and split_size_or_sections < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got "
                           f"split_size={split_size_or_sections}")
    axis = _normalize_dim(dim, tensor._data.ndim)
    length = tensor._data.shape[axis]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0 and not (size == 0 and length == 0):
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {length}")
        # an empty dim splits into one empty piece (PyTorch)
        sizes = [min(size, length - start) for start in range(0, length, size)] if length else [0]
        return split_pieces(Split, tensor, axis, tuple(sizes))
    sizes = list(_shape_arg((split_size_or_sections,), "split_with_sizes", "split_sizes"))
    if any(size < 0 for size in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative "
                           f"entries, but got split_sizes={sizes}")
    if sum(sizes) != length:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {length} "
                           f"(input tensor's size at dimension {axis}), but got "
                           f"split_sizes={sizes}")
    return split_pieces(SplitWithSizes, tensor, axis, tuple(int(size) for size in sizes))


def chunk(input, chunks, dim=0):
    require_tensor(input, "chunk")
    if input._data.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    axis = _normalize_dim(dim, input._data.ndim)
    length = input._data.shape[axis]
    size = -(-length // chunks) if length else 0
    if size == 0:
        return split(input, 1, axis) if length else (input,)
    return split(input, size, axis)


def contiguous(input, memory_format=contiguous_format):
    """``input`` itself when it already lies in memory as ``memory_format`` asks, else a copy
    that does (row-major, or channels_last/channels_last_3d for 4-D/5-D tensors)."""
    require_tensor(input, "contiguous")
    if memory_format is contiguous_format:
        return input if input._data.flags.c_contiguous else Contiguous.apply(input, memory_format)
    check_memory_format("contiguous", memory_format)
    if memory_format is preserve_format:
        if input._data.flags.c_contiguous:
            return input
        raise RuntimeError("preserve memory format is unsupported by the contiguous operator")
    if has_memory_format(input._data, memory_format):
        return input
    return Contiguous.apply(input, memory_format)


def keep_memory_format(output, input):
    """``output`` of a composite spatial op in ``input``'s channels_last(_3d) format where
    ``input`` suggests one (``suggest_memory_format``), as PyTorch's kernels return it."""
    memory_format = suggest_memory_format(input._data)
    if memory_format is contiguous_format or output._data.ndim != input._data.ndim:
        return output
    return contiguous(output, memory_format)


def flip(input, *order, dims=None):
    """Reverse ``input`` along ``dims``: one sequence or, as ``Tensor.flip(0, 1)``, several."""
    require_tensor(input, "flip")
    axes = tuple(_normalize_dim(d, input._data.ndim)
                 for d in _sizes_argument(order, dims, "flip", "dims"))
    for axis in axes:
        if axes.count(axis) > 1:
            raise RuntimeError(f"dim {axis} appears multiple times in the list of dims")
    return Flip.apply(input, axes)


# ---- triangles, diagonals, rolls and other rearrangements ----------------------------------------
def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    require_tensor(input, "numel")
    return input._data.size


def is_floating_point(input):
    require_tensor(input, "is_floating_point")
    return input._data.dtype.kind == "f"


class Triangle(Op):
    """tril/triu over the last two dims: the gradient keeps the same triangle."""

    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, diagonal, upper):
        ctx.diagonal_upper = (diagonal, upper)
        # row-major whatever the input's layout, as PyTorch allocates it
        return np.ascontiguousarray(np.triu(x, diagonal) if upper else np.tril(x, diagonal))

    @staticmethod
    def backward(ctx, grad):
        diagonal, upper = ctx.diagonal_upper
        xp = ctx.xp
        return (xp.triu(grad, diagonal) if upper else xp.tril(grad, diagonal)), None, None


def _triangle(input, diagonal, upper, operation):
    require_tensor(input, operation)
    diagonal = require_int(diagonal, operation, "diagonal", 2)
    if input._data.ndim < 2:
        raise RuntimeError(f"{operation}: input tensor must have at least 2 dimensions")
    return Triangle.apply(input, diagonal, upper)


def tril(input, diagonal=0):
    return torch_named(_triangle(input, diagonal, False, "tril"), "TrilBackward0")


def triu(input, diagonal=0):
    return torch_named(_triangle(input, diagonal, True, "triu"), "TriuBackward0")


def diag(input, diagonal=0):
    require_tensor(input, "diag")
    if input._data.ndim not in (1, 2):
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input._data.ndim}D")
    if input._data.ndim == 2:
        return Diagonal.apply(input, diagonal, 0, 1)
    size = input._data.shape[0] + abs(diagonal)
    return DiagonalScatter.apply(input, (size, size), diagonal, 0, 1)


@autocast_op("trace")
def trace(input):
    require_tensor(input, "trace")
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input._data.ndim}")
    return Diagonal.apply(input, 0, 0, 1).sum()


class Roll(Op):
    _next_order = (0,)  # PyTorch lists the tensor inputs, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, shifts, axes):
        ctx.shifts_axes = (shifts, axes)
        if axes is None:
            return np.roll(x.reshape(-1), shifts).reshape(x.shape)
        output = np.roll(x, shifts, axes)
        if not output.flags.c_contiguous:
            # PyTorch rolls by concatenating two slices of the input: cat's layout
            output = _concatenated_layout(output, [x])
        return output

    @staticmethod
    def backward(ctx, grad):
        shifts, axes = ctx.shifts_axes
        back = tuple(-shift for shift in shifts) if isinstance(shifts, tuple) else -shifts
        return ctx.xp.roll(grad, back, axis=axes), None, None


def roll(input, shifts, dims=None):
    require_tensor(input, "roll")
    shifts = _dims_arg(shifts, "roll", "shifts")
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                               f"dims:0")
        return Roll.apply(input, shifts[0], None)
    dims = _dims_arg(dims, "roll", "dims")
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(dims)}")
    axes = tuple(_normalize_dim(dim, input._data.ndim) for dim in dims)
    return Roll.apply(input, tuple(shifts), axes)


def tile(input, dims):
    require_tensor(input, "tile")
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    dims = (1,) * (input._data.ndim - len(dims)) + dims
    return repeat(input, dims)


def broadcast_to(input, *size):
    require_tensor(input, "broadcast_to")
    if len(size) == 1 and not isinstance(size[0], int):
        size = size[0]  # one sequence of sizes, or sizes one by one as PyTorch's methods take
    return expand(input, tuple(size))


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-D tensors ('ij': matrix indexing, the default; 'xy':
    Cartesian)."""
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warn_once("torch.meshgrid: in an upcoming release, it will be required to pass the "
                  "indexing argument.")
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    _check_tensor_elements(tensors, 0, "meshgrid")
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
    require_tensor(input, "narrow")
    if isinstance(start, Tensor):
        if start._data.ndim or start._data.dtype.kind not in "iu":
            raise RuntimeError("start must be an 0-dim integral Tensor.")
        start = start.item()
    start = require_int(start, "narrow", "start", 3)
    length = require_int(length, "narrow", "length", 4)
    if input._data.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    axis = _normalize_dim(require_int(dim, "narrow", "dim", 2), input._data.ndim)
    size = input._data.shape[axis]
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], but "
                         f"got {start})")
    start = start % size if start < 0 else start
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return getitem(input, (slice(None),) * axis + (slice(start, start + length),))


def narrow_copy(input, dim, start, length):
    """narrow's slice as a new tensor (not a view)."""
    return narrow(input, dim, start, length).clone()


def unbind(input, dim=0):
    require_tensor(input, "unbind")
    if input._data.ndim == 0:
        axis = _normalize_dim(dim, 0)  # its range error first
        raise IndexError(f"Dimension specified as {axis} but tensor has no dimensions")
    return split_pieces(Unbind, input, _normalize_dim(dim, input._data.ndim), None)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each element (or slice along ``dim``) repeated ``repeats`` times, consecutively; with
    ``input`` alone (1-D counts), each index repeated its count times."""
    require_tensor(input, "repeat_interleave")
    if repeats is None:
        counts = input._data
        if counts.ndim != 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        if counts.dtype.kind not in "iu":
            raise NotImplementedError(f'"repeat_interleave_cpu" not implemented for '
                                      f"'{scalar_type_name(counts.dtype)}'")
        input = Tensor._wrap(np.arange(counts.size, dtype=np.int64))
        repeats = Tensor._wrap(counts)
    if dim is None:
        input = reshape(input, -1)
        axis = 0
    else:
        axis = _normalize_dim(dim, input._data.ndim)
    size = input._data.shape[axis]
    counts = repeats._data if isinstance(repeats, Tensor) else np.asarray(repeats)
    if counts.dtype.kind not in "iu":
        raise TypeError(f"repeat_interleave(): repeats must be an int or a tensor of ints, got "
                        f"{type(repeats).__name__} of {counts.dtype}")
    if counts.ndim == 1 and counts.size != size and counts.size != 1:
        raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                           f"repeats.size(0) = {counts.size} and input.size({axis}) = {size}")
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative" if counts.ndim else
                           "Repeats must be non-negative")
    positions = np.repeat(np.arange(size), counts.reshape(-1) if counts.ndim else counts)
    if output_size is not None and output_size != positions.size:
        if counts.ndim:
            raise RuntimeError("allocated size does not match required size")
        raise RuntimeError(f"repeat_interleave: Invalid output_size, expected {positions.size} "
                           f"but got {output_size}")
    # PyTorch's result is row-major: index_select's for counts, a copy of an expanded view
    # (hence its ViewBackward0) for one repeat count
    result = index_select(input, axis, Tensor._wrap(positions))
    return torch_named(result, "IndexSelectBackward0" if counts.ndim else "ViewBackward0")


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The ``n``-th forward difference along ``dim`` (with optional prepended/appended values)."""
    require_tensor(input, "diff")
    if input._data.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    axis = _normalize_dim(dim, input._data.ndim)
    for value in (prepend, append):
        if isinstance(value, Tensor) and value._data.ndim != input._data.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
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


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """Estimates of the partial derivatives of ``input`` along each of ``dim`` (every dim when
    None) by central differences in the interior and one-sided ones (first or second order) at
    the ends; ``spacing`` is one step for all dims, a step per dim, or coordinate tensors.
    Composed of slices and arithmetic in PyTorch's order of operations, so it is
    differentiable."""
    require_tensor(input, "gradient")
    ndim = input._data.ndim
    given_dim = dim is not None
    if dim is None:
        axes = list(range(ndim))
    else:
        axes = [dim] if isinstance(dim, int) else list(dim)
        axes = [_normalize_dim(axis, ndim) for axis in axes]
        for axis in axes:
            if axes.count(axis) > 1:
                raise RuntimeError(f"dim {axis} appears multiple times in the list of dims")
    if isinstance(spacing, (tuple, list)):
        if len(spacing) != len(axes):
            if given_dim:
                raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar "
                                   f"or it's spacing and dim arguments to have the same length, "
                                   f"but got a spacing argument of length {len(spacing)} and a "
                                   f"dim argument of length {len(axes)}.")
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar, or "
                               f"a list of length equal to 'self.dim() = {ndim}', since dim "
                               f"argument was not given, but got a list of length "
                               f"{len(spacing)}")
        steps = list(spacing)
    else:
        steps = [spacing.item() if isinstance(spacing, Tensor) else spacing] * len(axes)
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    for axis in axes:
        if input._data.shape[axis] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least "
                               "edge_order+1")
    return tuple(_gradient_along(input, axis, step, edge_order) for axis, step in zip(axes, steps))


def _gradient_along(input, axis, step, edge_order):
    def part(start, stop=None):
        length = input._data.shape[axis]
        start = start % length if start < 0 else start
        stop = length if stop is None else (stop % length if stop < 0 else stop)
        return narrow(input, axis, start, stop - start)
    if not isinstance(step, Tensor):
        center = (part(2) - part(0, -2)) / step / 2
        if edge_order == 1:
            first = (part(1, 2) - part(0, 1)) / step
            last = (part(-1) - part(-2, -1)) / step
        else:
            first = (-1.5 * part(0, 1) + 2 * part(1, 2) - 0.5 * part(2, 3)) / step
            last = (0.5 * part(-3, -2) - 2 * part(-2, -1) + 1.5 * part(-1)) / step
        return cat([first, center, last], axis)
    steps = diff(step, 1, 0)
    shape = [1] * input._data.ndim
    shape[axis] = -1
    left = narrow(steps, 0, 0, steps._data.shape[0] - 1)
    right = narrow(steps, 0, 1, steps._data.shape[0] - 1)
    below = (-right / (left * (left + right))).reshape(shape)
    middle = ((right - left) / (left * right)).reshape(shape)
    above = (left / (right * (left + right))).reshape(shape)
    center = below * part(0, -2) + middle * part(1, -1) + above * part(2)
    if edge_order == 1:
        first = (part(1, 2) - part(0, 1)) / steps[0]
        last = (part(-1) - part(-2, -1)) / steps[-1]
    else:
        near, far = steps[0], steps[1]
        first = (-(2.0 * near + far) / (near * (near + far)) * part(0, 1)
                 + (near + far) / (near * far) * part(1, 2)
                 + (-near) / (far * (near + far)) * part(2, 3))
        near, far = steps[-1], steps[-2]
        last = (near / (far * (near + far)) * part(-3, -2)
                - (near + far) / (near * far) * part(-2, -1)
                + (2 * near + far) / (near * (near + far)) * part(-1))
    return cat([first, center, last], axis)


def _tensor_list(tensors):
    """The Tensors given as ``*tensors`` or as one sequence; PyTorch's TypeError for others."""
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tensors[0]
    _check_tensor_elements(tensors, 0)
    return tensors


def atleast_1d(*tensors):
    tensors = _tensor_list(tensors)
    out = tuple(reshape(tensor, (1,)) if tensor._data.ndim == 0 else tensor for tensor in tensors)
    return out[0] if len(out) == 1 else out


def atleast_2d(*tensors):
    tensors = _tensor_list(tensors)
    out = tuple(reshape(tensor, (1,) * (2 - tensor._data.ndim) + tensor._data.shape)
                if tensor._data.ndim < 2 else tensor for tensor in tensors)
    return out[0] if len(out) == 1 else out


def atleast_3d(*tensors):
    tensors = _tensor_list(tensors)
    shapes = {0: lambda shape: (1, 1, 1), 1: lambda shape: (1,) + shape + (1,),
              2: lambda shape: shape + (1,)}
    out = tuple(reshape(tensor, shapes[tensor._data.ndim](tensor._data.shape))
                if tensor._data.ndim < 3 else tensor for tensor in tensors)
    return out[0] if len(out) == 1 else out


def _as_list(tensors, operation):
    if not isinstance(tensors, (tuple, list)):
        raise TypeError(f"{operation}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                        f"not {type(tensors).__name__}")
    return list(_tensor_list((tensors,)))


def _non_empty(tensors, operation):
    """The list of tensors, which PyTorch's stacking composites refuse empty."""
    tensors = _as_list(tensors, operation)
    if not tensors:
        raise RuntimeError(f"{operation} expects a non-empty TensorList")
    return tensors


def hstack(tensors):
    tensors = [atleast_1d(tensor) for tensor in _non_empty(tensors, "hstack")]
    return cat(tensors, 0 if tensors and tensors[0]._data.ndim == 1 else 1)


def vstack(tensors):
    return cat([atleast_2d(tensor) for tensor in _non_empty(tensors, "vstack")], 0)


row_stack = vstack


def dstack(tensors):
    return cat([atleast_3d(tensor) for tensor in _non_empty(tensors, "dstack")], 2)


def column_stack(tensors):
    columns = [reshape(tensor, (-1, 1)) if tensor._data.ndim <= 1 else tensor
               for tensor in _non_empty(tensors, "column_stack")]
    return cat(columns, 1)


def fliplr(input):
    require_tensor(input, "fliplr")
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input):
    require_tensor(input, "flipud")
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``dims`` (from the first towards the
    second)."""
    require_tensor(input, "rot90")
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
    require_tensor(input, "select")
    index = require_int(index, "select", "index", 3)
    if input._data.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    axis = _normalize_dim(require_int(dim, "select", "dim", 2), input._data.ndim)
    size = input._data.shape[axis]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input._data.shape)} at dimension {axis}")
    return getitem(input, (slice(None),) * axis + (index,))


class Diagonal(Op):
    """The diagonal of the (axis1, axis2) planes, as a new last dim (a copy)."""

    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, offset, axis1, axis2):
        ctx.shape = x.shape
        ctx.layout = (offset, axis1, axis2)
        return np.diagonal(x, offset, axis1, axis2).copy()

    @staticmethod
    def backward(ctx, grad):
        offset, axis1, axis2 = ctx.layout
        full = _op_in_backward(ctx, DiagonalScatter, grad, ctx.shape, offset, axis1, axis2)
        return full, None, None, None


class DiagonalView(Diagonal):
    """``diagonal()``: the diagonal as a view of the input's memory, as PyTorch's (writes to it
    reach the input); ``diag`` and ``trace`` keep Diagonal's copy."""

    is_view = True
    _torch_name = "DiagonalBackward0"

    @staticmethod
    def forward(ctx, x, offset, axis1, axis2):
        ctx.shape = x.shape
        ctx.layout = (offset, axis1, axis2)
        if offset >= 0:
            length = max(0, min(x.shape[axis1], x.shape[axis2] - offset))
            shift = offset * x.strides[axis2]
        else:
            length = max(0, min(x.shape[axis1] + offset, x.shape[axis2]))
            shift = -offset * x.strides[axis1]
        kept = [axis for axis in range(x.ndim) if axis not in (axis1, axis2)]
        shape = tuple(x.shape[axis] for axis in kept) + (length,)
        strides = tuple(x.strides[axis] for axis in kept) + (x.strides[axis1] + x.strides[axis2],)
        # Made over the owner's buffer, as AsStrided's views, so that storage_offset and a
        # later as_strided find the owner (NumPy's as_strided would hide it).
        root, _ = _storage_root(x)
        start = 0
        if 0 not in shape:
            start = (x.__array_interface__["data"][0] + shift -
                     root.__array_interface__["data"][0])
        try:
            view = np.ndarray(shape, x.dtype, buffer=root, offset=start, strides=strides)
        except ValueError:  # an owner that is no single block (a strided root): NumPy's view
            key = [slice(None)] * x.ndim
            key[axis2 if offset >= 0 else axis1] = slice(abs(offset), None)
            view = np.lib.stride_tricks.as_strided(x[tuple(key)], shape, strides)
        if not x.flags.writeable:
            view.flags.writeable = False
        return view


class DiagonalScatter(Op):
    """Zeros of ``shape`` with the last dim of ``values`` on the diagonal of the (axis1, axis2)
    planes: Diagonal's adjoint (diag of a vector, diag_embed, Diagonal's backward)."""

    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, values, shape, offset, axis1, axis2):
        ctx.layout = (offset, axis1, axis2)
        full = np.zeros(shape, dtype=values.dtype)
        planes = np.moveaxis(full, (axis1, axis2), (-2, -1))
        rows = np.arange(values.shape[-1]) + max(-offset, 0)
        planes[..., rows, rows + offset] = values
        return full

    @staticmethod
    def backward(ctx, grad):
        offset, axis1, axis2 = ctx.layout
        return _op_in_backward(ctx, Diagonal, grad, offset, axis1, axis2), None, None, None, None


def diagonal(input, offset=0, dim1=0, dim2=1):
    require_tensor(input, "diagonal")
    offset = require_int(offset, "diagonal", "offset", 2)
    dim1 = require_int(dim1, "diagonal", "dim1", 3)
    dim2 = require_int(dim2, "diagonal", "dim2", 4)
    ndim = input._data.ndim
    axis1 = _normalize_dim(dim1, ndim)
    axis2 = _normalize_dim(dim2, ndim)
    if axis1 == axis2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return DiagonalView.apply(input, offset, axis1, axis2)


def broadcast_shapes(*shapes):
    """The shape that all ``shapes`` broadcast to (an int is a 1-d shape, None is skipped), with
    PyTorch's errors naming the first argument that does not fit."""
    shapes = [(shape,) if isinstance(shape, int) else shape for shape in shapes
              if shape is not None]
    for shape in shapes:
        if not isinstance(shape, (tuple, list, Size)):
            raise RuntimeError(f"Input shapes should be of type ints, a tuple of ints, or a list "
                               f"of ints, got {shape}")
    common = [1] * max((len(shape) for shape in shapes), default=0)
    for index, shape in enumerate(shapes):
        for axis in range(-1, -1 - len(shape), -1):
            size = shape[axis]
            if size == common[axis]:
                continue
            if common[axis] == 1:
                if size < 0:
                    raise ValueError("Attempting to broadcast a dimension with negative length!")
                common[axis] = size
            elif size != 1:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {size} at "
                                   f"{axis}! Mismatching argument at index {index} had {shape}; "
                                   f"but expected shape should be broadcastable to {common}")
    return Size(common)


def broadcast_tensors(*tensors):
    """The tensors expanded to one shape; one already of that shape comes back itself, as in
    PyTorch (no view, no ExpandBackward node: ``Normal(loc, scale).loc is loc``)."""
    shapes = [tensor._data.shape for tensor in tensors]
    try:
        shape = np.broadcast_shapes(*shapes)
    except ValueError:
        # PyTorch folds the shapes left to right and names the pair that fails
        shape = shapes[0]
        for other in shapes[1:]:
            mismatch = mismatch_error(shape, other)
            if mismatch is not None:
                raise mismatch from None
            shape = np.broadcast_shapes(shape, other)
        raise
    return tuple(tensor if tensor._data.shape == shape else expand(tensor, shape)
                 for tensor in tensors)


def tensor_split(input, indices_or_sections, dim=0):
    """Split into ``n`` nearly equal parts (the first ``size % n`` one longer), or at indices."""
    require_tensor(input, "tensor_split")
    if isinstance(indices_or_sections, Tensor):
        if indices_or_sections._data.dtype != np.int64:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have dtype of "
                               f"long, but got "
                               f"{scalar_type_name(indices_or_sections._data.dtype)}")
        if indices_or_sections._data.ndim > 1:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a "
                               f"zero-dimensional or one-dimensional tensor, but got a tensor "
                               f"with {indices_or_sections._data.ndim} dims")
        indices_or_sections = indices_or_sections.tolist()
    axis = _normalize_dim(dim, input._data.ndim)
    size = input._data.shape[axis]
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
    require_tensor(input, "ravel")
    return reshape(input, (-1,))


class Unfold(Op):
    """Every ``size``-long window along ``axis``, ``step`` apart, as a new last dim: a view of
    the input (windows overlap when step < size), with PyTorch's strides."""

    is_view = True
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, axis, size, step):
        ctx.shape = x.shape
        ctx.layout = (axis, size, step)
        windows = np.lib.stride_tricks.sliding_window_view(x, size, axis=axis,
                                                           writeable=x.flags.writeable)
        picked = (slice(None),) * axis + (slice(None, None, step),)
        return windows[picked]

    @staticmethod
    def backward(ctx, grad):
        axis, size, step = ctx.layout
        full = _op_in_backward(ctx, UnfoldBackward, grad, ctx.shape, axis, size, step)
        return full, None, None, None


class UnfoldBackward(Op):
    """The windows summed back onto ``shape``: Unfold's adjoint."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, windows, shape, axis, size, step):
        ctx.layout = (axis, size, step)
        full = np.zeros(shape, dtype=windows.dtype)
        count = windows.shape[axis]
        for offset in range(size):  # a loop over the window, not over elements
            span = slice(offset, offset + step * (count - 1) + 1, step)
            full[(slice(None),) * axis + (span,)] += windows[..., offset]
        return full

    @staticmethod
    def backward(ctx, grad):
        axis, size, step = ctx.layout
        return _op_in_backward(ctx, Unfold, grad, axis, size, step), None, None, None, None


def unfold(input, dimension, size, step):
    """Tensor.unfold: windows of ``size`` along ``dimension``, ``step`` apart, as a view."""
    require_tensor(input, "unfold")
    dimension = require_int(dimension, "unfold", "dimension", 1)
    size = require_int(size, "unfold", "size", 2)
    step = require_int(step, "unfold", "step", 3)
    ndim = input._data.ndim
    axis = _normalize_dim(dimension, ndim) if ndim else 0
    length = input._data.shape[axis] if ndim else 1
    if size < 0:
        raise RuntimeError(f"unfold(): size is {size} but must be >= 0")
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
    _check_tensor_elements(tensors, 0, "block_diag")
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
    for tensor in tensors:
        if isinstance(tensor, Tensor) and tensor._data.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(tensor._data.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([reshape(grid, (-1,)) for grid in grids], 1)


def hsplit(input, indices_or_sections):
    require_tensor(input, "hsplit")
    if input._data.ndim < 1:
        raise RuntimeError(f"{repr_prefix()}.hsplit requires a tensor with at least 1 dimension, "
                           f"but got a tensor with {input._data.ndim} dimensions!")
    axis = 1 if input._data.ndim > 1 else 0
    _check_divisible("hsplit", input, indices_or_sections, axis)
    return tensor_split(input, indices_or_sections, axis)


def _check_divisible(operation, input, sections, axis):
    """hsplit/vsplit/dsplit into a number of sections must divide the dim evenly."""
    if type(sections) is int and (sections == 0 or input._data.shape[axis] % sections):
        raise RuntimeError(f"{repr_prefix()}.{operation} attempted to split along dimension "
                           f"{axis}, but the size of the dimension {input._data.shape[axis]} is "
                           f"not divisible by the split_size {sections}!")


def vsplit(input, indices_or_sections):
    require_tensor(input, "vsplit")
    if input._data.ndim < 2:
        raise RuntimeError(f"torch.vsplit requires a tensor with at least 2 dimension, but got a "
                           f"tensor with {input._data.ndim} dimensions!")
    _check_divisible("vsplit", input, indices_or_sections, 0)
    return tensor_split(input, indices_or_sections, 0)


def dsplit(input, indices_or_sections):
    require_tensor(input, "dsplit")
    if input._data.ndim < 3:
        raise RuntimeError(f"torch.dsplit requires a tensor with at least 3 dimension, but got a "
                           f"tensor with {input._data.ndim} dimensions!")
    _check_divisible("dsplit", input, indices_or_sections, 2)
    return tensor_split(input, indices_or_sections, 2)


def sum_to_size(input, *sizes, size=None):
    """Sum ``input`` down to ``size`` (which ``input`` must be expandable from)."""
    require_tensor(input, "sum_to_size")
    size = _sizes_argument(sizes, size, "sum_to_size", "size")
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
    require_tensor(input, "diag_embed")
    size = input._data.shape[-1] + abs(offset)
    ndim = input._data.ndim + 1
    axis1 = _normalize_dim(dim1, ndim)
    axis2 = _normalize_dim(dim2, ndim)
    if axis1 == axis2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    shape = list(input._data.shape[:-1])
    for axis in sorted((axis1, axis2)):
        shape.insert(axis, size)
    return torch_named(DiagonalScatter.apply(input, tuple(shape), offset, axis1, axis2),
                       "DiagEmbedBackward0")


def diagflat(input, offset=0):
    require_tensor(input, "diagflat")
    return diag(reshape(input, (-1,)), offset)


def vander(x, N=None, increasing=False):
    """Columns of powers of the 1-D ``x`` (decreasing unless ``increasing``)."""
    require_tensor(x, "vander", "x")
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
    require_tensor(input, "is_complex")
    return input._data.dtype.kind == "c"


def is_same_size(input, other):
    return input._data.shape == other._data.shape


def combinations(input, r=2, with_replacement=False):
    """Every length-``r`` combination of the 1-D ``input``'s elements, one per row."""
    require_tensor(input, "combinations")
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


# ---- strided views and scatters into a view's region -----------------------------------------
def _storage_root(array):
    """The array that owns ``array``'s memory, and where ``array`` starts in it (elements)."""
    root = array
    while isinstance(root.base, np.ndarray):
        root = root.base
    start = array.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    return root, start // array.itemsize


def _storage_positions(shape, strides, offset):
    """The storage index of every element of the geometry (``shape``, ``strides``, ``offset``),
    as an int64 array of ``shape``."""
    positions = np.full(shape, offset, np.int64)
    for axis, (size, stride) in enumerate(zip(shape, strides)):
        steps = np.arange(size, dtype=np.int64) * stride
        positions += steps.reshape((size,) + (1,) * (len(shape) - axis - 1))
    return positions


class AsStrided(Op):
    """A view of the input's storage with the given sizes, strides (in elements) and storage
    offset. Its gradient is the output's summed onto the storage elements it reads, read back
    in the input's geometry (divided among input elements that share storage, as PyTorch)."""

    is_view = True
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, shape, strides, offset):
        root, start = _storage_root(x)
        itemsize = x.itemsize
        ctx.geometry = (shape, strides, offset, x.shape,
                        tuple(step // itemsize for step in x.strides), start)
        ctx.layout_dtype = x.dtype
        # A view made over the owner's buffer has that owner as its base, so it is found again
        # by the next as_strided and by storage_offset (NumPy's as_strided hides it).
        empty = 0 in shape
        view = np.ndarray(shape, x.dtype, buffer=root, offset=0 if empty else offset * itemsize,
                          strides=tuple(stride * itemsize for stride in strides))
        if any(size > 1 and stride == 0 for size, stride in zip(shape, strides)):
            view.flags.writeable = False
        return view

    @staticmethod
    def backward(ctx, grad):
        shape, strides, offset, input_shape, input_strides, start = ctx.geometry
        read = _storage_positions(shape, strides, offset)
        held = _storage_positions(input_shape, input_strides, start)
        sharing = np.bincount(held.reshape(-1), minlength=int(held.max(initial=-1)) + 1)[held]
        share = None
        if sharing.size and sharing.max() > 1:
            share = (1 / sharing).astype(ctx.layout_dtype)
        restrided = _op_in_backward(ctx, StorageRestride, grad, read, held, None, share)
        return restrided, None, None, None


class StorageRestride(Op):
    """``values`` scaled by ``before``, summed per storage position (``source`` gives each
    value's), read back at the positions ``target`` and scaled by ``after``: a linear map whose
    transpose is the same op with the roles swapped, so it is its own backward. AsStrided's
    backward is one, with ``after`` dividing among elements that share storage."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, values, source, target, before, after):
        ctx.layout = (source, target, before, after)
        if before is not None:
            values = values * before
        length = max(int(source.max(initial=-1)), int(target.max(initial=-1))) + 1
        summed = np.bincount(source.reshape(-1), values.reshape(-1), minlength=length)
        out = summed[target].astype(values.dtype, copy=False)
        return out if after is None else out * after

    @staticmethod
    def backward(ctx, grad):
        source, target, before, after = ctx.layout
        return (_op_in_backward(ctx, StorageRestride, grad, target, source, after, before),
                None, None, None, None)


def as_strided(input, size, stride, storage_offset=None):
    """A view of ``input``'s storage with the given sizes and strides (in elements), starting
    ``storage_offset`` elements in (``input``'s own offset when None); it shares memory."""
    require_tensor(input, "as_strided")
    shape = _shape_arg((size,), "as_strided", "size")
    strides = _shape_arg((stride,), "as_strided", "stride")
    root, start = _storage_root(input._data)
    offset = start if storage_offset is None else \
        require_int(storage_offset, "as_strided", "storage_offset", 4)
    if len(shape) != len(strides):
        raise RuntimeError("mismatch in length of strides and shape")
    if min(shape, default=0) < 0:
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(shape)} and "
                           f"strides={list(strides)}")
    if min(strides, default=0) < 0:
        raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, got "
                           f"strides: {list(strides)}")
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    needed = 0
    if min(shape, default=1) > 0:
        needed = offset + 1 + sum((length - 1) * step for length, step in zip(shape, strides))
    itemsize = input._data.itemsize
    if needed > root.size:
        raise _out_of_storage(shape, strides, offset, itemsize, needed, root.size)
    return AsStrided.apply(input, shape, strides, offset)


def _out_of_storage(shape, strides, offset, itemsize, needed, available):
    """PyTorch's error for a strided view reaching ``needed`` elements of a storage that holds
    ``available``."""
    return RuntimeError(f"setStorage: sizes {list(shape)}, strides {list(strides)}, storage "
                        f"offset {offset}, and itemsize {itemsize} requiring a storage size of "
                        f"{needed * itemsize} are out of bounds for storage of size "
                        f"{available * itemsize}")


def as_strided_(input, size, stride, storage_offset=None):
    """``as_strided`` in place: ``input`` itself becomes that view of its storage (its own
    offset kept when ``storage_offset`` is None), a change recorded as PyTorch's
    AsStridedBackward1 and counted by the version counter."""
    require_tensor(input, "as_strided_")
    check_inplace(input)
    result = as_strided(input, size, stride, storage_offset)
    node = result.grad_fn
    input._data = result._data
    input._bump_version()
    if node is not None:
        node._torch_name = "AsStridedBackward1"
        if node._view_of is not None and node._view_of[0] is input:
            node._view_of = None  # not a view of another tensor: nothing to rebuild it from
        input.grad_fn = node
        input._output_nr = 0
        input._requires_grad = True
    return input


class ScatterIntoRegion(Op):
    """``input`` with the region that ``locate`` addresses replaced by ``source``: the
    out-of-place write through a view (slice_scatter, select_scatter, diagonal_scatter).
    ``locate(array)`` gives ``(array or a view of it, key)``, the region being ``view[key]``."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, source, locate):
        ctx.locate = locate
        ctx.source_dtype = source.dtype
        out = x.copy()
        view, key = locate(out)
        view[key] = source
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_input = grad_source = None
        if ctx.needs_input_grad[0]:
            empty = np.zeros((), _array_of(grad).dtype)
            grad_input = _op_in_backward(ctx, ScatterIntoRegion, grad, empty, ctx.locate)
        if ctx.needs_input_grad[1]:
            grad_source = _op_in_backward(ctx, TakeRegion, grad, ctx.locate)
            grad_source = ctx.xp.astype(grad_source, ctx.source_dtype, copy=False)
        return grad_input, grad_source, None


class TakeRegion(Op):
    """A copy of the region that ``locate`` addresses (ScatterIntoRegion's source gradient)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, locate):
        ctx.locate = locate
        ctx.shape = x.shape
        view, key = locate(x)
        return np.array(view[key], copy=True)

    @staticmethod
    def backward(ctx, grad):
        zeros = np.zeros(ctx.shape, _array_of(grad).dtype)
        if ctx.xp is np:
            return ScatterIntoRegion.forward(object.__new__(ScatterIntoRegion), zeros, grad,
                                             ctx.locate), None
        return ScatterIntoRegion.apply(zeros, grad, ctx.locate), None


def _array_of(value):
    return value._data if isinstance(value, Tensor) else value


def _scatter_into_region(operation, input, source, locate):
    """Check that ``source`` has the region's shape and scatter it there."""
    require_tensor(input, operation)
    require_tensor(source, operation, "src", 2)
    view, key = locate(input._data)
    region_shape = view[key].shape
    if tuple(source._data.shape) != region_shape:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{list(source._data.shape)}, slice size = {list(region_shape)}")
    return ScatterIntoRegion.apply(input, source, locate)


class _StridedRegion:
    """The elements that ``as_strided(size, stride, storage_offset)`` reads from a copy of an
    array laid out as that array is, as a key of logical indices (so it addresses the same
    elements of a gradient of any layout)."""

    def __init__(self, array, shape, strides, offset):
        clone = np.empty_like(array, order="K")
        itemsize = clone.itemsize
        positions = _storage_positions(clone.shape, [step // itemsize for step in clone.strides],
                                       0)
        logical = np.empty(clone.size, np.int64)
        logical[positions.reshape(-1)] = np.arange(clone.size)
        read = _storage_positions(shape, strides, offset)
        if read.size and int(read.max()) >= clone.size:
            raise _out_of_storage(shape, strides, offset, itemsize, int(read.max()) + 1,
                                  clone.size)
        self.key = np.unravel_index(logical[read], clone.shape)

    def __call__(self, array):
        return array, self.key


def as_strided_scatter(input, src, size, stride, storage_offset=None):
    """``input`` with the elements that ``as_strided(size, stride, storage_offset)`` views in a
    copy of it (laid out as ``input`` is, offset 0) replaced by ``src``."""
    require_tensor(input, "as_strided_scatter")
    shape = _shape_arg((size,), "as_strided_scatter", "size")
    strides = _shape_arg((stride,), "as_strided_scatter", "stride")
    offset = 0 if storage_offset is None else \
        require_int(storage_offset, "as_strided_scatter", "storage_offset", 5)
    if len(shape) != len(strides):
        raise RuntimeError("mismatch in length of strides and shape")
    if min(strides, default=0) < 0:
        raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, got "
                           f"strides: {list(strides)}")
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    region = _StridedRegion(input._data, shape, strides, offset)
    return _scatter_into_region("as_strided_scatter", input, src, region)


class _Region:
    """A region of an array as ``(view, key)``: a basic-index key, or the diagonal of two axes
    given as ``(offset, axis1, axis2)``)."""

    def __init__(self, key=None, diagonal=None):
        self.key = key
        self.diagonal = diagonal

    def __call__(self, array):
        if self.diagonal is None:
            return array, self.key
        offset, axis1, axis2 = self.diagonal
        planes = np.moveaxis(array, (axis1, axis2), (-2, -1))
        rows, columns = planes.shape[-2:]
        length = max(min(rows + min(offset, 0), columns - max(offset, 0)), 0)
        start = np.arange(length)
        return planes, (Ellipsis, start + max(-offset, 0), start + max(offset, 0))


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """``input`` with ``input[..., start:end:step, ...]`` (along ``dim``) replaced by ``src``."""
    require_tensor(input, "slice_scatter")
    axis = _normalize_dim(require_int(dim, "slice_scatter", "dim", 3), input._data.ndim)
    step = require_int(step, "slice_scatter", "step", 6)
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    key = (slice(None),) * axis + (slice(start, end, step),)
    return _scatter_into_region("slice_scatter", input, src, _Region(key))


def select_scatter(input, src, dim, index):
    """``input`` with ``input.select(dim, index)`` replaced by ``src``."""
    require_tensor(input, "select_scatter")
    axis = _normalize_dim(require_int(dim, "select_scatter", "dim", 3), input._data.ndim)
    index = require_int(index, "select_scatter", "index", 4)
    size = input._data.shape[axis]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input._data.shape)} at dimension {axis}")
    key = (slice(None),) * axis + (index,)
    return _scatter_into_region("select_scatter", input, src, _Region(key))


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """``input`` with ``input.diagonal(offset, dim1, dim2)`` replaced by ``src``."""
    require_tensor(input, "diagonal_scatter")
    offset = require_int(offset, "diagonal_scatter", "offset", 3)
    ndim = input._data.ndim
    axis1 = _normalize_dim(require_int(dim1, "diagonal_scatter", "dim1", 4), ndim)
    axis2 = _normalize_dim(require_int(dim2, "diagonal_scatter", "dim2", 5), ndim)
    if axis1 == axis2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return _scatter_into_region("diagonal_scatter", input, src,
                                _Region(diagonal=(offset, axis1, axis2)))
