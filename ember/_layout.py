"""Tensor layouts (PyTorch's ``torch.layout``): ``strided`` for NumPy-backed tensors and
``sparse_coo`` and ``sparse_csr``, whose tensors hold a storage object in place of the NumPy array; and memory
formats (``torch.memory_format``): the order of a strided tensor's dimensions in memory."""
import numpy as np

from ._dtype import repr_prefix

__all__ = ["channels_last", "channels_last_3d", "contiguous_format", "layout", "memory_format",
           "preserve_format", "sparse_coo", "sparse_csr", "strided"]


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


def strided_order(shape, strides):
    """The dims of a strided array from outermost to innermost as PyTorch orders them: the order
    in which TensorIterator walks a tensor (random fills go so) and the layout ``empty_like``
    gives a tensor that is not dense (infer_dense_strides). A stable insertion sort from the
    row-major order: a smaller stride goes inner, of equal strides the larger size goes outer,
    and a dim of stride 0 compares with none."""
    innermost_first = list(range(len(shape)))[::-1]

    def comparison(first, second):
        first_stride, second_stride = strides[first], strides[second]
        if first_stride == 0 or second_stride == 0:
            return 0
        if first_stride != second_stride:
            return -1 if first_stride < second_stride else 1
        return 1 if shape[first] > shape[second] else 0

    for position in range(1, len(shape)):
        moving = position
        for earlier in range(position - 1, -1, -1):
            order = comparison(innermost_first[earlier], innermost_first[moving])
            if order > 0:
                innermost_first[earlier], innermost_first[moving] = \
                    innermost_first[moving], innermost_first[earlier]
                moving = earlier
            elif order < 0:
                break
    return innermost_first[::-1]


def _non_overlapping_and_dense(array):
    """c10's is_non_overlapping_and_dense: the dims of size 2 or more, by stride, tile memory."""
    required = array.itemsize
    for stride, size in sorted((stride, size) for size, stride in
                               zip(array.shape, array.strides) if size >= 2):
        if stride != required:
            return False
        required *= size
    return True


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
