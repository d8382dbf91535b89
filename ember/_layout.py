"""Tensor layouts (PyTorch's ``torch.layout``): ``strided`` for NumPy-backed tensors and
``sparse_coo`` and ``sparse_csr``, whose tensors hold a storage object in place of the NumPy array; and memory
formats (``torch.memory_format``): the order of a strided tensor's dimensions in memory."""
import math

import numpy as np

from ._dtype import repr_prefix

__all__ = ["channels_last", "channels_last_3d", "contiguous_format", "jagged", "layout",
           "memory_format", "preserve_format", "sparse_bsc", "sparse_bsr", "sparse_coo",
           "sparse_csc", "sparse_csr", "strided"]


class _Named:
    """A constant compared by identity, printed as ``ember.<name>``, pickled as the global of
    this module that holds it."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"{repr_prefix()}.{self.name}"

    def __reduce__(self):
        return self.name


class layout(_Named):
    """How a tensor's elements are stored."""

    __slots__ = ()


class memory_format(_Named):
    """The order of a strided tensor's dimensions in memory: row-major (contiguous_format), NHWC
    (channels_last, 4-D) or NDHWC (channels_last_3d, 5-D); preserve_format keeps the input's."""

    __slots__ = ()


strided = layout("strided")
sparse_coo = layout("sparse_coo")
sparse_csr = layout("sparse_csr")
# PyTorch's other layouts, named for layout checks: ember makes no tensors in them.
sparse_csc = layout("sparse_csc")
sparse_bsr = layout("sparse_bsr")
sparse_bsc = layout("sparse_bsc")
jagged = layout("jagged")
contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")

# The order of the dimensions in memory, outermost first, of the formats that fix one.
_CHANNELS_LAST_ORDERS = {channels_last: (0, 2, 3, 1), channels_last_3d: (0, 2, 3, 4, 1)}


def check_memory_format(name, value):
    """PyTorch's TypeError for a ``memory_format=`` argument that is not a memory format."""
    if not isinstance(value, memory_format):
        raise TypeError(f"{name}(): argument 'memory_format' must be {repr_prefix()}."
                        f"memory_format, not {type(value).__name__}")
    return value


def _memory_order(fmt, ndim):
    """The axis order in memory that ``fmt`` asks of an ``ndim``-D array (None: row-major)."""
    order = _CHANNELS_LAST_ORDERS.get(fmt)
    if order is not None and ndim != len(order):
        raise RuntimeError(f"required rank {len(order)} tensor to use {fmt.name} format")
    return order


def has_memory_format(array, fmt):
    """Whether ``array`` is laid out densely in the order ``fmt`` names (size-1 dims and empty
    arrays match any order, as in PyTorch; preserve_format asks for row-major, as PyTorch)."""
    order = _CHANNELS_LAST_ORDERS.get(fmt)
    if order is None:
        return array.flags.c_contiguous
    return array.ndim == len(order) and array.transpose(order).flags.c_contiguous


def suggest_memory_format(array):
    """PyTorch's ``suggest_memory_format``: channels_last(_3d) when a 4-D (5-D) array's strides
    are ordered like that format's (channels innermost), else contiguous_format."""
    for fmt, order in _CHANNELS_LAST_ORDERS.items():
        if array.ndim == len(order) and _strides_ordered(array, order[::-1]):
            return fmt
    return contiguous_format


def _strides_ordered(array, innermost_first):
    """c10's is_channels_last_strides test: strides grow along ``innermost_first`` (size-1 dims
    may tie), channels' stride non-zero, and an all-ones tail not read as channels last."""
    smallest = 0
    strides = array.strides
    if strides[1] == 0:
        return False
    for axis in innermost_first:
        if array.shape[axis] == 0 or strides[axis] < smallest:
            return False
        if axis == 0 and smallest == strides[1]:
            return False
        smallest = strides[axis] * max(array.shape[axis], 1)
    return True


def _insertion_sorted(dims, comparison):
    """``dims`` sorted in place by TensorIterator's insertion sort: each dim moves outward past
    the dims ``comparison`` orders after it (> 0) and stops at the first it orders before
    (< 0); ties (0) are passed over, so the sort is not a plain stable sort."""
    for position in range(1, len(dims)):
        moving = position
        for earlier in range(position - 1, -1, -1):
            order = comparison(dims[earlier], dims[moving])
            if order > 0:
                dims[earlier], dims[moving] = dims[moving], dims[earlier]
                moving = earlier
            elif order < 0:
                break
    return dims


def _stride_comparison(shape, strides):
    """TensorIterator's order of two dims: -1 when the first goes inner (smaller stride), 1
    when it goes outer, 0 for a tie; of equal strides the larger size goes outer, and a dim of
    stride 0 compares with none."""
    def comparison(first, second):
        first_stride, second_stride = strides[first], strides[second]
        if first_stride == 0 or second_stride == 0:
            return 0
        if first_stride != second_stride:
            return -1 if first_stride < second_stride else 1
        return 1 if shape[first] > shape[second] else 0

    return comparison


def strided_order(shape, strides):
    """The dims of a strided array from outermost to innermost as PyTorch orders them: the order
    in which TensorIterator walks a tensor (random fills go so) and the layout ``empty_like``
    gives a tensor that is not dense (infer_dense_strides). A stable insertion sort from the
    row-major order by ``_stride_comparison``."""
    innermost_first = list(range(len(shape)))[::-1]
    return _insertion_sorted(innermost_first, _stride_comparison(shape, strides))[::-1]


_AMBIGUITY_CHECK_TYPE = "The ambiguity_check argument must be a bool or a list of memory formats."


def dim_order(array, ambiguity_check=False):
    """Tensor.dim_order: row-major or channels_last where the array is exactly one of them, else
    ``strided_order``. ``ambiguity_check`` (True, or memory formats of which exactly one must fit)
    raises where size-1 dims, equal neighbouring strides or ties leave the order open."""
    if not isinstance(ambiguity_check, bool) and (
            not isinstance(ambiguity_check, list)
            or not all(isinstance(fmt, memory_format) for fmt in ambiguity_check)):
        raise TypeError(_AMBIGUITY_CHECK_TYPE)
    shape, strides = array.shape, _element_strides(array)
    formats = ambiguity_check if isinstance(ambiguity_check, list) else []
    several = 1 in shape or any(outer == inner for outer, inner in zip(strides, strides[1:]))
    if ambiguity_check is not False and several and \
            sum(has_memory_format(array, fmt) for fmt in formats) != 1:
        raise RuntimeError("The tensor does not have unique dim order, or cannot map to exact one "
                           "of the given memory formats.")
    if array.ndim <= 1:
        return tuple(range(array.ndim))
    row_major = array.flags.c_contiguous
    channels_last_order = has_memory_format(array, channels_last)
    if row_major != channels_last_order:
        return tuple(range(array.ndim)) if row_major else (0, *range(2, array.ndim), 1)
    order = strided_order(shape, strides)
    if ambiguity_check:
        comparison = _stride_comparison(shape, strides)
        if any(comparison(inner, outer) != -1 for outer, inner in zip(order, order[1:])):
            raise RuntimeError("The tensor does not have unique dim order.")
    return tuple(order)


def _non_overlapping_and_dense(array):
    """c10's is_non_overlapping_and_dense: the dims of size 2 or more, by stride, tile memory."""
    required = array.itemsize
    for stride, size in sorted((stride, size) for size, stride in
                               zip(array.shape, array.strides) if size >= 2):
        if stride != required:
            return False
        required *= size
    return True


def memory_order(array):
    """The axes of a dense array from outermost to innermost in memory (its transpose by them is
    C-contiguous, e.g. (0, 2, 3, 1) for channels_last), or None when it has gaps or overlaps or is
    C-contiguous already."""
    if array.flags.c_contiguous or not array.ndim:
        return None
    order = tuple(sorted(range(array.ndim), key=lambda axis: -array.strides[axis]))
    if not array.transpose(order).flags.c_contiguous:
        return None
    return order


def format_strides(shape, fmt):
    """The element strides PyTorch gives a dense tensor of ``shape`` laid out as ``fmt``."""
    order = _memory_order(fmt, len(shape)) or tuple(range(len(shape)))
    return _dense_strides(shape, order[::-1])


def _dense_strides(shape, innermost_first):
    """Element strides of a dense array whose dims lie in memory in ``innermost_first`` order (a
    dim of size 0 or 1 still multiplies by its size at least 1, as PyTorch's strides do)."""
    strides = [0] * len(shape)
    step = 1
    for axis in innermost_first:
        strides[axis] = step
        step *= max(shape[axis], 1)
    return tuple(strides)


def _element_strides(array):
    return tuple(stride // array.itemsize for stride in array.strides)


def iterator_strides(shape, operands):
    """The element strides PyTorch's TensorIterator gives the output of an elementwise op of
    ``operands`` (arrays, and Python or NumPy numbers as 0-d operands, in argument order):
    contiguous when every operand is, channels_last when every (4-D, same-shape) operand is, an
    operand's own strides when all are dense with equal strides, else dense strides in the
    order its stride comparison sorts the dims into (the first operand whose strides tell two
    dims apart decides; broadcast dims tell nothing)."""
    ndim = len(shape)
    arrays = [operand for operand in operands if type(operand) is np.ndarray]
    if len(arrays) == len(operands) and all(array.shape == shape for array in arrays):
        if all(array.flags.c_contiguous for array in arrays):
            return _dense_strides(shape, range(ndim - 1, -1, -1))
        if ndim == 4 and all(has_memory_format(array, channels_last) for array in arrays):
            return format_strides(shape, channels_last)
        if all(_non_overlapping_and_dense(array) for array in arrays) and \
                len({_element_strides(array) for array in arrays}) == 1:
            return _element_strides(arrays[-1])
    operand_strides = []
    for array in arrays:
        offset = ndim - array.ndim
        operand_strides.append([0] * offset + [
            0 if size == 1 and shape[offset + axis] != 1 else stride
            for axis, (size, stride) in enumerate(zip(array.shape, array.strides))])

    def comparison(first, second):
        for strides in operand_strides:
            first_stride, second_stride = strides[first], strides[second]
            if first_stride == 0 or second_stride == 0:
                continue
            if first_stride != second_stride:
                return -1 if first_stride < second_stride else 1
            if shape[first] > shape[second]:
                return 1
        return 0

    return _dense_strides(shape, _insertion_sorted(list(range(ndim - 1, -1, -1)), comparison))


def with_strides(array, strides):
    """``array`` itself when its element strides are ``strides`` (dense ones), else a copy that
    has them."""
    if _element_strides(array) == strides:
        return array
    laid_out = empty_strided(array.shape, strides, array.dtype)
    laid_out[...] = array
    return laid_out


def empty_strided(shape, strides, dtype):
    """A new array of ``shape`` with the dense element ``strides`` (``torch.empty_strided``)."""
    dtype = np.dtype(dtype)
    return np.lib.stride_tricks.as_strided(
        np.empty(max(math.prod(shape), 1), dtype), shape,
        [stride * dtype.itemsize for stride in strides])


def obeys_gradient_layout(grad, data):
    """PyTorch's gradient layout contract (obeys_layout_contract): the .grad of a dense leaf has
    the leaf's strides (a dim of size 1 any but 0), of any other leaf row-major ones."""
    if data.flags.c_contiguous or not _non_overlapping_and_dense(data) or min(data.strides) < 0:
        return grad.flags.c_contiguous
    for size, grad_stride, data_stride in zip(data.shape, grad.strides, data.strides):
        if grad_stride != data_stride if size != 1 else grad_stride == 0:
            return False
    return True


def gradient_strides(data):
    """The element strides of a new .grad for the leaf array ``data`` (PyTorch's
    clone_obey_contract): the leaf's own where it is dense, else row-major ones."""
    if _non_overlapping_and_dense(data) and min(data.strides, default=0) >= 0:
        return _element_strides(data)
    return _dense_strides(data.shape, range(data.ndim - 1, -1, -1))


def _row_major(operands):
    """Whether every array among ``operands`` is row-major (numbers and None pass)."""
    for operand in operands:
        if type(operand) is np.ndarray and not operand.flags.c_contiguous:
            return False
    return True


def _row_major_ordered(operands, shape):
    """Whether no operand's strides order two dims against the row-major order in
    ``iterator_strides``' comparison: the strides of its dims that are not broadcast (stride 0)
    never grow inward, and of equal ones the inner dim is not the larger. Broadcast gradients
    (an expanded sum's or mean's) and slices are such operands; the order is then row-major.
    Dims of size 1 count: their strides take part in the comparison."""
    ndim = len(shape)
    for operand in operands:
        if type(operand) is not np.ndarray:
            continue
        offset = ndim - operand.ndim
        outer_stride = outer_size = None
        for axis, size in enumerate(operand.shape):
            stride = operand.strides[axis]
            if stride == 0 or size == 1 and shape[offset + axis] != 1:
                continue
            if stride < 0 or outer_stride is not None and (
                    stride > outer_stride or stride == outer_stride and size > outer_size):
                return False
            outer_stride, outer_size = stride, size
    return True


def pointwise_layout(result, operands):
    """``result`` of an elementwise op of ``operands`` laid out as PyTorch lays it out
    (``iterator_strides``); a copy only when the layouts differ, none when all are row-major."""
    if _row_major(operands):
        return result  # row-major operands: NumPy's result is row-major too
    if result.ndim < 2:
        return result
    if result.flags.c_contiguous and _row_major_ordered(operands, result.shape):
        return result
    if _laid_out_as_operands(result, operands):
        return result
    return with_strides(result, iterator_strides(result.shape, operands))


def _laid_out_as_operands(result, operands):
    """Whether ``result`` (a fresh, dense array: NumPy's K-ordered output) has the element
    strides of every array operand, all of its shape without dims of size 1: then its dims'
    order is theirs, which is TensorIterator's, and a dense layout in that order is unique
    (a channels_last activation's pointwise ops then skip iterator_strides, ~3-5 us)."""
    if result.base is not None or 1 in result.shape or 0 in result.shape:
        return False
    strides = _element_strides(result)
    for operand in operands:
        if type(operand) is np.ndarray and (operand.shape != result.shape
                                            or _element_strides(operand) != strides):
            return False
    return True


def unary_layout(result, operands):
    """``pointwise_layout`` of an op whose numbers are parameters, not operands (activations)."""
    if result.flags.c_contiguous and _row_major(operands):
        return result
    return pointwise_layout(result, [operand for operand in operands
                                     if type(operand) is np.ndarray])


def row_major_layout(result, operands):
    """``result`` of a reduction, softmax or scan row-major, as PyTorch allocates those whatever
    the input's layout (dims of size 1 with row-major strides too); nothing to do when every
    operand is row-major (NumPy's results then are)."""
    if result.flags.c_contiguous and _row_major(operands):
        return result
    strides = _dense_strides(result.shape, range(result.ndim - 1, -1, -1))
    if _element_strides(result) == strides:
        return result
    if result.flags.c_contiguous:  # only dims of size 1 differ: the same memory, restrided
        return np.lib.stride_tricks.as_strided(
            result, result.shape, [stride * result.itemsize for stride in strides])
    return with_strides(result, strides)


def spatial_layout(result, operands):
    """``result`` of a spatial kernel (convolution, pooling, normalization, resampling, padding)
    laid out as PyTorch's: channels_last (channels_last_3d) with that format's exact strides
    when the input or the weight (4-D or 5-D arrays among the first two ``operands``) suggests
    it (``suggest_memory_format``), else as computed."""
    if result.ndim not in (4, 5):
        return result
    for operand in operands[:2]:
        if type(operand) is np.ndarray and operand.ndim == result.ndim:
            fmt = suggest_memory_format(operand)
            if fmt is not contiguous_format:
                return with_strides(result, format_strides(result.shape, fmt))
    return result


def arrange(array, fmt, like=None):
    """``array``'s values laid out as ``fmt`` asks (channels_last formats: always a copy);
    preserve_format takes the layout of ``like`` as PyTorch's ``empty_like`` does: a dense
    input's strides, else dense strides in the input's order (``strided_order``)."""
    if fmt is preserve_format:
        if like is None or like.flags.c_contiguous or array.ndim != like.ndim:
            return array
        if _non_overlapping_and_dense(like) or min(like.strides) < 0:
            arranged = np.empty_like(like, dtype=array.dtype)
        else:
            order = strided_order(like.shape, like.strides)
            arranged = np.empty([like.shape[axis] for axis in order], dtype=array.dtype) \
                .transpose(np.argsort(order))
        arranged[...] = array
        return arranged
    order = _memory_order(fmt, array.ndim)
    if order is None:
        return np.ascontiguousarray(array)
    # Always a fresh copy: its strides are the format's own, size-1 dimensions included.
    return np.array(array.transpose(order), order="C").transpose(np.argsort(order))


class LayoutStorage:
    """Base of the storages that stand in a tensor's ``_data`` for layouts other than strided.
    They carry the metadata that Tensor reads (shape, dtype, ndim, size, itemsize, nbytes) and
    name the Tensor subclass that holds them; NumPy refuses them, so a dense op given one fails
    (``ember.autograd.function.Op`` then names the op)."""

    __slots__ = ()
    tensor_type = None
    layout = None

    @staticmethod
    def dense_plus(dense, other, alpha):
        """``dense + alpha * other`` for a dense tensor and a tensor of this layout, called by
        the dense add/sub once their op has refused the storage; the layout module sets it."""
        raise NotImplementedError(f"add: ember does not add tensors of this layout to dense ones; "
                                  f"convert with .to_dense() first")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise TypeError(f"numpy.{ufunc.__name__} got a {self.layout.name} tensor's storage: this "
                        f"operation does not support {self.layout.name} tensors; convert with "
                        f".to_dense() first")

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"can't convert {self.layout.name} layout tensor to numpy. Use "
                        f"Tensor.to_dense() first.")

    def __array_function__(self, function, types, args, kwargs):
        raise TypeError(f"numpy.{function.__name__} got a {self.layout.name} tensor's storage: "
                        f"this operation does not support {self.layout.name} tensors; convert "
                        f"with .to_dense() first")
