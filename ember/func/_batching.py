"""What ``vmap`` computes on: batched values and the batching rules of ember's ops.

Inside a batched call each input that vmap maps over is a ``BatchedTensor``: a Tensor whose array
is a stand-in (``BatchedArray``) that holds the whole batch (``value``, batch dimension first) and
reports the shape and dtype of one sample. Op wrappers read only that metadata, so they compute
their arguments (axes, target shapes) for one sample as usual; when an op's forward then touches
the data, ``Op.apply`` hands the op to ``dispatch``, which runs its rule: the same op once on the
whole batch, with the batch dimension in front (broadcasting aligned, axes shifted by one). An op
without a rule, or code that reads the data outside an op, raises instead, and vmap falls back to
one call per sample (ember/func/_vmap.py).

Nested vmaps nest these values: a level's ``value`` may itself be batched at an enclosing level.
Level ids grow inward, and a rule only unwraps the highest level among its arguments.
"""
import contextlib
import itertools
import string
import threading

import numpy as np

from .. import ops
from .._random import current_batch_draws
from ..autograd import function as function_module
from ..autograd.function import BatchedForward, Function, FunctionCtx, grad_transform_within
from ..autograd.views import apply_inplace
from ..autograd.node import Node
from ..nn._kernels import activation as activation_kernels
from ..nn._kernels import attention as attention_kernels
from ..nn._kernels import conv as conv_kernels
from ..nn._kernels import dropout as dropout_kernels
from ..nn._kernels import loss as loss_kernels
from ..nn._kernels import normalization as normalization_kernels
from ..nn._kernels import padding as padding_kernels
from ..nn._kernels import pooling as pooling_kernels
from ..nn._kernels import recurrent as recurrent_kernels
from ..nn._kernels import sparse as sparse_kernels
from ..nn._kernels.linear import Linear
from ..nn.functional._loss import _check_targets
from ..ops import decompositions as decomposition_ops
from ..ops import index as index_ops
from ..ops import linalg as linalg_ops
from ..ops import reduce as reduce_ops
from ..ops import shape as shape_ops
from ..ops import spectral as spectral_ops
from ..ops.elementwise import (arithmetic, casting, exp_log, extrema, gamma, rounding, special,
                               trigonometric)
from ..ops.elementwise.complex import (Complex, Conj, Imag, Polar, Real, ViewAsComplex,
                                       ViewAsReal)
from ..ops.elementwise._operands import _Binary, _OfInput, _OfOutput
from ..tensor import Tensor


class Unbatchable(Exception):
    """No batching rule covers ``what``: vmap runs the function once per sample instead."""

    def __init__(self, what):
        super().__init__(what)
        self.what = what


def refusal(message):
    """What vmap refuses as PyTorch does (``.item()``, data-dependent control flow, ...), rather
    than falling back to one call per sample: PyTorch's very RuntimeError, marked for vmap."""
    error = RuntimeError(message)
    error.vmap_refusal = True
    return error


# ---- levels -----------------------------------------------------------------------------------
class Level:
    """One batched vmap call in progress: its id, batch size and randomness mode."""

    __slots__ = ("id", "size", "randomness")

    def __init__(self, id, size, randomness):
        self.id = id
        self.size = size
        self.randomness = randomness


class _Levels(threading.local):
    active = ()  # the levels of the batched calls in progress in this thread, outermost first


_levels = _Levels()
_ids = itertools.count(1)


@contextlib.contextmanager
def batching(size, randomness):
    """Enter a new innermost level for one batched call."""
    level = Level(next(_ids), size, randomness)
    _levels.active = _levels.active + (level,)
    try:
        yield level
    finally:
        _levels.active = _levels.active[:-1]


def active_levels():
    return _levels.active


# ---- batched values ---------------------------------------------------------------------------
class BatchedArray:
    """Stand-in for the array of a batched tensor: the per-sample metadata op wrappers read, and
    ``BatchedForward`` for everything that would touch the data."""

    __slots__ = ("value", "level", "shape", "ndim", "size", "dtype", "itemsize")
    __hash__ = object.__hash__

    def __init__(self, value, level):
        self.value = value
        self.level = level
        self.shape = tuple(value._data.shape[1:])
        self.ndim = len(self.shape)
        self.size = int(np.prod(self.shape, dtype=np.int64))
        self.dtype = value._data.dtype
        self.itemsize = self.dtype.itemsize

    @property
    def nbytes(self):
        return self.size * self.itemsize

    @property
    def strides(self):
        """A sample's strides, for the layout queries of op wrappers (memory format)."""
        return self.value._data.strides[1:]

    @property
    def flags(self):
        """The whole batch's flags: contiguous when it is, then so is every sample."""
        return self.value._data.flags

    def whole_batch(self):
        """The batch's array, for an op wrapper's check of every sample's index values."""
        return self.value._data

    def replaced(self, array):
        """A stand-in for ``array``, the whole batch after such a check (wrapped indices)."""
        return BatchedArray(Tensor._wrap(array), self.level)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __getattr__(self, name):
        raise BatchedForward(name)

    def __array__(self, dtype=None, copy=None):
        raise BatchedForward("__array__")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise BatchedForward(ufunc.__name__)

    def __array_function__(self, function, types, args, kwargs):
        raise BatchedForward(function.__name__)


def _refuse(name):
    def refuse(self, *args, **kwargs):
        raise BatchedForward(name)
    refuse.__name__ = name
    return refuse


for _name in ("__getitem__", "__setitem__", "__iter__", "__bool__", "__float__", "__int__",
              "__index__", "__complex__", "__contains__", "__eq__", "__ne__", "__lt__", "__le__",
              "__gt__", "__ge__", "__neg__", "__pos__", "__abs__", "__invert__", "__add__",
              "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
              "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__",
              "__rpow__", "__matmul__", "__rmatmul__", "__and__", "__rand__", "__or__", "__ror__",
              "__xor__", "__rxor__", "__lshift__", "__rshift__"):
    setattr(BatchedArray, _name, _refuse(_name))


class _BatchedNode(Node):
    """The grad_fn of every batched value. Batched values are never recorded by the physical
    graph (the rules record ops on the whole batch); it marks them as non-leaves that require
    grad, so op wrappers skip their no-grad shortcuts and reach ``Op.apply``."""

    saved = None
    _view_of = None

    def __init__(self):
        self.next_edges = ()
        self.needs_input_grad = ()
        self._sequence_nr = -1
        self._num_outputs = 1
        self._recording = False

    def name(self):
        return "BatchedBackward"

    def _run_backward(self, grad_outputs, create_graph):
        raise BatchedForward("backward")


_BATCHED_NODE = _BatchedNode()

_ITEM = ("vmap: It looks like you're calling .item() on a Tensor. We don't support vmap over "
         "calling .item() on a Tensor, please try to rewrite what you're doing with other "
         "operations. If error is occurring somewhere inside PyTorch internals, please file a "
         "bug report.")
_CONTROL_FLOW = ("vmap: It looks like you're attempting to use a Tensor in some data-dependent "
                 "control flow. We don't support that yet, please file an issue at "
                 "https://github.com/pytorch/pytorch/issues .")
_NO_STORAGE = "Cannot access data pointer of Tensor that doesn't have storage"
_BACKWARD = ("backward() called inside a functorch transform. This is not supported, please use "
             "functorch.grad or functorch.vjp instead or call backward() outside of functorch "
             "transforms.")
_REQUIRES_GRAD = ("You are attempting to call Tensor.requires_grad_() (or perhaps using "
                  "torch.autograd.functional.* APIs) inside of a function being transformed by a "
                  "functorch transform. This is unsupported, please attempt to use the functorch "
                  "transforms (e.g. grad, vjp, jacrev, jacfwd, hessian) or call requires_grad_() "
                  "outside of a function being transformed instead.")


def _refuse_like_torch(message):
    def refuse(self, *args, **kwargs):
        raise refusal(message)
    return refuse


def _pointwise_method(name, reflected=False):
    function = getattr(ops, name)

    def method(self, other):
        return pointwise(function, other, self) if reflected else pointwise(function, self, other)
    method.__name__ = name
    return method


def _elementwise_method(name):
    """A Tensor method that maps each element on its own and records nothing (``~``, isnan),
    run on the whole batch."""
    function = getattr(Tensor, name)

    def method(self):
        return pointwise(function, self)
    method.__name__ = name
    return method


class BatchedTensor(Tensor):
    """A tensor batched by vmap: behaves as one sample (shape, dtype, ops) while its array holds
    the whole batch; see the module docstring."""

    __slots__ = ()

    @property
    def requires_grad(self):
        return self._data.value.requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        raise refusal(_REQUIRES_GRAD)

    @property
    def grad(self):
        return None

    @property
    def data(self):
        return self.detach()

    def detach(self):
        return wrap(self._data.value.detach(), self._data.level)

    def __repr__(self):
        value = "\n".join("    " + line for line in repr(self._data.value).splitlines())
        return f"BatchedTensor(lvl={self._data.level}, bdim=0, value=\n{value}\n)"

    # Operators reach the ops through ``pointwise``, so they batch under no_grad too, where the
    # ops' no-grad shortcuts would otherwise read the data.
    __add__ = __radd__ = _pointwise_method("add")
    __sub__ = _pointwise_method("sub")
    __rsub__ = _pointwise_method("sub", reflected=True)
    __mul__ = __rmul__ = _pointwise_method("mul")
    __truediv__ = _pointwise_method("div")
    __rtruediv__ = _pointwise_method("div", reflected=True)
    __floordiv__ = _pointwise_method("floor_divide")
    __rfloordiv__ = _pointwise_method("floor_divide", reflected=True)
    __mod__ = _pointwise_method("remainder")
    __rmod__ = _pointwise_method("remainder", reflected=True)
    __pow__ = _pointwise_method("pow")
    __rpow__ = _pointwise_method("pow", reflected=True)
    __and__ = __rand__ = _pointwise_method("bitwise_and")
    __or__ = __ror__ = _pointwise_method("bitwise_or")
    __xor__ = __rxor__ = _pointwise_method("bitwise_xor")
    __invert__ = _elementwise_method("__invert__")
    isnan = _elementwise_method("isnan")
    isinf = _elementwise_method("isinf")
    isfinite = _elementwise_method("isfinite")
    logical_not = _elementwise_method("logical_not")
    __eq__ = _pointwise_method("eq")
    __ne__ = _pointwise_method("ne")
    __lt__ = _pointwise_method("lt")
    __le__ = _pointwise_method("le")
    __gt__ = _pointwise_method("gt")
    __ge__ = _pointwise_method("ge")
    __hash__ = Tensor.__hash__

    requires_grad_ = _refuse_like_torch(_REQUIRES_GRAD)
    item = __float__ = __int__ = _refuse_like_torch(_ITEM)
    __bool__ = __index__ = _refuse_like_torch(_CONTROL_FLOW)
    tolist = numpy = __array__ = data_ptr = _refuse_like_torch(_NO_STORAGE)
    backward = _refuse_like_torch(_BACKWARD)
    detach_ = _refuse("detach_")


def wrap(value, level):
    """``value`` (batch dimension first) as a batched tensor at ``level``."""
    tensor = Tensor._wrap(BatchedArray(value, level), requires_grad=True)
    tensor.__class__ = BatchedTensor  # the same slots: only the methods change
    tensor.grad_fn = _BATCHED_NODE
    return tensor


def _batch_of(value):
    """The BatchedArray of a batched tensor, or None. A plain Tensor holding one was made by
    code that passed a batched value through without an op (a custom autograd.Function's
    forward on Tensors): its graph is not the batch's, so it cannot be batched."""
    if not isinstance(value, Tensor) or type(value._data) is not BatchedArray:
        return None
    if type(value) is not BatchedTensor:
        node = value.grad_fn
        raise Unbatchable(describe(getattr(node, "_forward_cls", None) or type(node))
                          if node is not None else
                          "an op that returns a batched input unchanged")
    return value._data


def level_of(value):
    """The level ``value`` is batched at (0 for plain values)."""
    batch = _batch_of(value)
    return 0 if batch is None else batch.level


def unwrap(value, level):
    """(the whole batch, True) when ``value`` is batched at ``level``, else (value, False)."""
    batch = _batch_of(value)
    if batch is not None and batch.level == level:
        return batch.value, True
    return value, False


def whole_batch_of(value, level, size):
    """``value``'s physical tensor at ``level``, its batch dim broadcast where it has none."""
    physical, batched = unwrap(value, level)
    return physical if batched else broadcast_batch(physical, size)


def broadcast_batch(value, size):
    """An unbatched value as a batch of ``size`` identical samples (a view)."""
    return value.unsqueeze(0).expand((size,) + tuple(value.shape))


def write_inplace(tensor, result):
    """An in-place op on a batched tensor: the result's batch written in place into the tensor's
    batch (its value, which takes the result's history; views of it see the change). A batched
    result for an unbatched tensor is refused (ember/func/_vmap.py names the op)."""
    batch = tensor._data
    if type(batch) is not BatchedArray:
        raise BatchedForward("inplace")
    value, batched = unwrap(result, batch.level)
    if not batched:
        value = broadcast_batch(value, batch.value.shape[0])
    apply_inplace(batch.value, "copy_", lambda: value)
    return tensor


# ---- dispatch ---------------------------------------------------------------------------------
def batched_draw(draw, shape):
    """A factory's draws inside vmap(randomness="different"): ``draw`` of every sample's values
    at once (one leading dim per "different" level in progress, as PyTorch draws them), batched
    at those levels; "same" levels share them."""
    levels = [level for level in _levels.active if level.randomness == "different"]
    value = Tensor._wrap(draw(tuple(level.size for level in levels) + tuple(shape)))
    for level in levels:
        value = wrap(value, level.id)
    return value


def dispatch(op_class, args):
    """Run the batching rule of ``op_class`` at the innermost level among ``args`` (an index
    array batched by vmap counts for the ops whose rules take one)."""
    level = max([level_of(arg) for arg in args], default=0)
    if op_class in _TAKES_BATCHED_INDEX:
        level = max([level] + [arg.level for arg in args if type(arg) is BatchedArray])
    if not level:
        raise Unbatchable(describe(op_class))
    for cls in op_class.__mro__:
        rule = _RULES.get(cls)
        if rule is not None:
            draws = current_batch_draws()
            if draws is None:
                return rule(op_class, args, level)
            draws.batched += 1  # a random op's rule draws for its whole batch (dropout's)
            try:
                return rule(op_class, args, level)
            finally:
                draws.batched -= 1
    raise Unbatchable(describe(op_class))


def describe(op_class):
    return f"{op_class.__module__}.{op_class.__name__}"


def _wrap_outputs(result, level):
    if type(result) is tuple:
        return tuple(wrap(item, level) if isinstance(item, Tensor) else item for item in result)
    return wrap(result, level)


def _aligned(operands, level, what):
    """Broadcasting operands with each batch in front: batched ones get size-1 dims after the
    batch dimension so that every sample lines up with the unbatched ones."""
    arrays = [operand for operand in operands if isinstance(operand, (Tensor, np.ndarray))]
    rank = max([array.ndim for array in arrays], default=0)
    dtypes = {array.dtype for array in arrays}
    aligned = []
    for operand in operands:
        value, batched = unwrap(operand, level)
        if batched:
            sample_ndim = value.ndim - 1
            if len(dtypes) > 1 and sample_ndim == 0 and rank > 0:
                # A 0-dim sample promotes as a scalar, a batch of them would not.
                raise Unbatchable(what)
            if sample_ndim < rank:
                value = value.reshape((value.shape[0],) + (1,) * (rank - sample_ndim)
                                      + tuple(value.shape[1:]))
        aligned.append(value)
    return aligned


def pointwise(function, *operands):
    """``function`` (a broadcasting elementwise op) on operands of which some are batched."""
    level = max(level_of(operand) for operand in operands)
    if not level:
        return function(*operands)
    return wrap(function(*_aligned(operands, level, function.__name__)), level)


# ---- rules --------------------------------------------------------------------------------------
def _elementwise(op_class, args, level):
    """Elementwise ops, broadcasting included: the op once on the aligned batch."""
    return _wrap_outputs(op_class.apply(*_aligned(args, level, describe(op_class))), level)


def _first_batched(op_class, args, level):
    """The batch of args[0]; refuses a batched value anywhere else."""
    for arg in args[1:]:
        if level_of(arg) == level:
            raise Unbatchable(describe(op_class))
    value, batched = unwrap(args[0], level)
    if not batched:
        raise Unbatchable(describe(op_class))
    return value


def _shifted(axis):
    return axis + 1 if axis >= 0 else axis


def _axes_at(position, none_is_all=False):
    """Rule for ops whose args[position] is an axis or a tuple of axes of a sample."""
    def rule(op_class, args, level):
        value = _first_batched(op_class, args, level)
        axes = args[position]
        if axes is None:
            if not none_is_all:
                raise Unbatchable(describe(op_class))
            axes = tuple(range(value.ndim - 1))
        axes = tuple(_shifted(axis) for axis in axes) if isinstance(axes, tuple) \
            else _shifted(axes)
        shifted = list(args)
        shifted[0] = value
        shifted[position] = axes
        return _wrap_outputs(op_class.apply(*shifted), level)
    return rule


def _extreme(op_class, args, level):
    """amax/amin-style reductions, and max/min along a dim at batched indices (ArgExtreme's)."""
    value, axes, keepdim, indices, evenly = args
    if indices is None:
        return _axes_at(1)(op_class, args, level)
    index_values, batched = unwrap(indices, level)
    if not batched or level_of(value) != level:
        raise Unbatchable(describe(op_class))
    values, _ = unwrap(value, level)
    shifted = tuple(_shifted(axis) for axis in axes)
    return wrap(op_class.apply(values, shifted, keepdim, index_values, evenly), level)


def _arg_extreme(op_class, args, level):
    """argmax/argmin: along the shifted axis, or over each sample's elements when axis is None."""
    value = _first_batched(op_class, args, level)
    _, reducer, axis, keepdim = args
    if axis is not None:
        return wrap(op_class.apply(value, reducer, _shifted(axis), keepdim), level)
    size = value.shape[0]
    flat = op_class.apply(value.reshape(size, -1), reducer, 1, False)
    if keepdim:
        flat = flat.reshape((size,) + (1,) * (value.ndim - 1))
    return wrap(flat, level)


def _diagonal(op_class, args, level):
    value = _first_batched(op_class, args, level)
    _, offset, axis1, axis2 = args
    return wrap(op_class.apply(value, offset, _shifted(axis1), _shifted(axis2)), level)


def _prod(op_class, args, level):
    value = _first_batched(op_class, args, level)
    _, axis, keepdim = args
    if axis is not None:
        return wrap(op_class.apply(value, _shifted(axis), keepdim), level)
    if keepdim:
        raise Unbatchable(describe(op_class))
    return wrap(op_class.apply(value.reshape(value.shape[0], -1), 1, False), level)


def _reshape(op_class, args, level):
    value = _first_batched(op_class, args, level)
    _, shape, strict = args
    return wrap(op_class.apply(value, (value.shape[0],) + tuple(shape), strict), level)


def _permute(op_class, args, level):
    value = _first_batched(op_class, args, level)
    return wrap(op_class.apply(value, (0,) + tuple(axis + 1 for axis in args[1])), level)


def _expand(op_class, args, level):
    value = _lifted(_first_batched(op_class, args, level), len(args[1]))
    return wrap(op_class.apply(value, (value.shape[0],) + tuple(args[1])), level)


def _lifted(value, rank):
    """A batch whose samples get leading size-1 dims up to ``rank``."""
    missing = rank - (value.ndim - 1)
    if missing <= 0:
        return value
    return value.reshape((value.shape[0],) + (1,) * missing + tuple(value.shape[1:]))


def _repeat(op_class, args, level):
    value = _lifted(_first_batched(op_class, args, level), len(args[1]))
    return wrap(op_class.apply(value, (1,) + tuple(args[1])), level)


def _joined(op_class, args, level):
    """cat and stack: unbatched pieces are broadcast to the batch, the axis moves by one."""
    axis, *pieces = args
    size = None
    values = []
    for piece in pieces:
        value, batched = unwrap(piece, level)
        if batched:
            size = value.shape[0]
        values.append((value, batched))
    batch = [value if batched else broadcast_batch(value, size) for value, batched in values]
    return wrap(op_class.apply(axis + 1, *batch), level)


def _basic_index(op_class, args, level):
    value = _first_batched(op_class, args, level)
    return wrap(op_class.apply(value, (slice(None),) + tuple(args[1])), level)


def _advanced_index(op_class, args, level):
    """Index arrays that sit next to each other keep their place behind the batch dimension;
    NumPy moves separated ones to the front, which batching would change."""
    value = _first_batched(op_class, args, level)
    key = tuple(args[1])
    advanced = [position for position, item in enumerate(key)
                if isinstance(item, (np.ndarray, bool))]
    for item in key:
        if isinstance(item, BatchedArray):
            raise Unbatchable(describe(op_class))
    if advanced and advanced[-1] - advanced[0] + 1 != len(advanced):
        raise Unbatchable(describe(op_class))
    return wrap(op_class.apply(value, (slice(None),) + key), level)


def _embed(op_class, args, level):
    """The backward of reading at ``key``: each sample's values written into zeros of the
    sample's shape, the key behind the batch dimension (keys that batching would reorder, as
    for indexing, are refused)."""
    values, shape, key, accumulate = args
    parts = key if isinstance(key, tuple) else (key,)
    advanced = [position for position, item in enumerate(parts)
                if isinstance(item, (np.ndarray, bool))]
    if any(isinstance(item, BatchedArray) for item in parts) or (
            advanced and advanced[-1] - advanced[0] + 1 != len(advanced)):
        raise Unbatchable(describe(op_class))
    batch = _first_batched(op_class, args, level)
    region = np.broadcast_to(np.empty((), np.int8), tuple(shape))[key]
    batch = _lifted(batch, region.ndim)
    return wrap(op_class.apply(batch, (batch.shape[0],) + tuple(shape), (slice(None),) + parts,
                               accumulate), level)


def _gather(op_class, args, level):
    """gather: unbatched indices repeated along the batch (a view), batched ones (sort's, made
    by an op) taken as they are."""
    source, axis, index = args
    if type(index) is BatchedArray:  # a per-sample index given to gather
        indices, indices_batched = index.whole_batch(), index.level == level
        if not indices_batched or type(indices) is not np.ndarray:
            raise Unbatchable(describe(op_class))
    else:
        indices, indices_batched = unwrap(index, level)
    values, batched = unwrap(source, level)
    if not batched:
        values = broadcast_batch(values, _batch_size(level))
    if not indices_batched:
        indices = np.broadcast_to(index, (values.shape[0],) + tuple(np.shape(index)))
    return wrap(op_class.apply(values, axis + 1, indices), level)


def _index_put(op_class, args, level):
    """``x[key] = value`` (out of place) on a batch: the key behind the batch dimension, as for
    indexing, and a batched value lined up with the indexed region of each sample."""
    target, value, key = args
    key = key if isinstance(key, tuple) else (key,)
    advanced = [position for position, item in enumerate(key)
                if isinstance(item, (np.ndarray, bool))]
    if any(isinstance(item, BatchedArray) for item in key) or (
            advanced and advanced[-1] - advanced[0] + 1 != len(advanced)):
        raise Unbatchable(describe(op_class))
    size = max(unwrap(operand, level)[0].shape[0] for operand in (target, value)
               if level_of(operand) == level)
    targets, batched = unwrap(target, level)
    if not batched:
        targets = broadcast_batch(targets, size)
    values, batched = unwrap(value, level)
    if batched:
        region = np.broadcast_to(np.empty((), np.int8), tuple(target.shape))[key]
        values = _lifted(values, region.ndim)
    return wrap(op_class.apply(targets, values, (slice(None),) + key), level)


def _batch_size(level):
    return next(current.size for current in _levels.active if current.id == level)


def _scatter(op_class, args, level):
    """scatter, scatter_add, scatter_reduce: along the shifted axis, with the index batched as
    the values (a per-sample index array included); unbatched operands repeat along the batch."""
    x, axis, index, src, *options = args
    size = _batch_size(level)
    if type(index) is BatchedArray:
        indices = index.whole_batch()
        if index.level != level or type(indices) is not np.ndarray:
            raise Unbatchable(describe(op_class))
    else:
        indices = np.broadcast_to(index, (size,) + index.shape)
    values = whole_batch_of(x, level, size)
    if isinstance(src, Tensor):
        src = whole_batch_of(src, level, size)
    return wrap(op_class.apply(values, axis + 1, indices, src, *options), level)


def _index_slices(op_class, args, level):
    """index_add, index_copy, index_fill: slices at the shifted axis for one index vector for
    the whole batch; a per-sample one (rows of indices) becomes the scatter of each sample's
    slices (scatter_add for index_add, scatter for the others)."""
    x, axis, index, source, *options = args
    size = _batch_size(level)
    values = whole_batch_of(x, level, size)
    if isinstance(source, Tensor):
        source = whole_batch_of(source, level, size)
    if type(index) is not BatchedArray:
        return wrap(op_class.apply(values, axis + 1, index, source, *options), level)
    rows = index.whole_batch()
    if index.level != level or type(rows) is not np.ndarray:
        raise Unbatchable(describe(op_class))
    # each sample's index vector spread along the other dims of its slices
    target = list(values.shape if not isinstance(source, Tensor) else source.shape)
    target[axis + 1] = rows.shape[1]
    along = [size] + [1] * (len(target) - 1)
    along[axis + 1] = rows.shape[1]
    spread = np.broadcast_to(rows.reshape(along), tuple(target))
    if op_class is index_ops.IndexAdd:
        alpha = options[0]
        added = source if alpha == 1 else source * alpha
        return wrap(index_ops.ScatterAdd.apply(values, axis + 1, spread, added), level)
    return wrap(index_ops.Scatter.apply(values, axis + 1, spread, source), level)


def _matmul(op_class, args, level):
    """Both operands as batched stacks of matrices (1-D ones as a row or a column, undone after),
    their matrix-stack dims aligned behind the batch dimension. The transposes a backward's
    products ask for (matrices only) become transposes of the samples first."""
    left, right = args[0], args[1]
    if len(args) > 2:
        left = left.mT if args[2] else left
        right = right.mT if args[3] else right
    left_ndim, right_ndim = left.ndim, right.ndim
    left_value, left_batched = unwrap(left, level)
    right_value, right_batched = unwrap(right, level)
    if left_ndim == 1:
        left_value = left_value.unsqueeze(-2)
    if right_ndim == 1:
        right_value = right_value.unsqueeze(-1)
    left_stack = max(left_ndim, 2) - 2
    right_stack = max(right_ndim, 2) - 2
    stack = max(left_stack, right_stack)
    left_value = _stacked(left_value, left_batched, stack - left_stack)
    right_value = _stacked(right_value, right_batched, stack - right_stack)
    out = op_class.apply(left_value, right_value)
    if right_ndim == 1:
        out = out.squeeze(-1)
    if left_ndim == 1:
        out = out.squeeze(-1 if right_ndim == 1 else -2)
    return wrap(out, level)


def _einsum(op_class, args, level):
    """einsum: the batch dimension is one more letter, leading the batched operands' subscripts
    and the output's."""
    subscripts, output, *operands = args
    used = set("".join(subscripts) + output)
    letter = next(letter for letter in string.ascii_letters if letter not in used)
    batched_subscripts = []
    values = []
    for subscript, operand in zip(subscripts, operands):
        value, batched = unwrap(operand, level)
        batched_subscripts.append(letter + subscript if batched else subscript)
        values.append(value)
    return wrap(op_class.apply(tuple(batched_subscripts), letter + output, *values), level)


def _stacked(value, batched, missing):
    """A matrix operand with ``missing`` size-1 stack dims, and a size-1 batch dim if unbatched."""
    if batched:
        shape = tuple(value.shape)
        return value.reshape(shape[:1] + (1,) * missing + shape[1:]) if missing else value
    return value.reshape((1,) * (missing + 1) + tuple(value.shape))


def _linear(op_class, args, level):
    """x @ W.T + b: one fused op on the batch of inputs when the weights are shared; batched
    weights (per-sample gradients) go through the matmul rule."""
    input, weight, bias = args
    if level_of(weight) != level and level_of(bias) != level:
        value = _first_batched(op_class, args, level)
        return wrap(op_class.apply(value, weight, bias), level)
    out = ops.matmul(input, weight.transpose(0, 1))
    return out if bias is None else pointwise(ops.add, out, bias)


def _merged(op_class, args, level):
    """Kernels over a stack of independent rows (N, ...): the batch joins N, so a batch of B
    calls on N rows is one call on B * N rows (convolution, pooling, layer normalisation)."""
    value = _first_batched(op_class, args, level)
    if value.ndim < 2:
        raise Unbatchable(describe(op_class))
    size, rows = value.shape[0], value.shape[1]
    result = op_class.apply(value.reshape((size * rows,) + tuple(value.shape[2:])), *args[1:])
    outputs = result if type(result) is tuple else (result,)
    unmerged = tuple(wrap(output.reshape((size, rows) + tuple(output.shape[1:])), level)
                     for output in outputs)
    return unmerged if type(result) is tuple else unmerged[0]


def _convolution(op_class, args, level):
    """ConvNd and ConvTransposeNd: shared weights merge the batch into N (``_merged``); per-sample
    weights (vmap of a gradient over the parameters, model ensembles) make one grouped
    convolution, sample b's channels the groups b * groups to (b + 1) * groups - 1."""
    input, weight, bias, geometry = args
    if level_of(weight) != level and (bias is None or level_of(bias) != level):
        return _merged(op_class, args, level)
    weights, _ = unwrap(weight, level)
    size = weights.shape[0]
    if not level_of(weight) == level:
        weights = broadcast_batch(weights, size)
    value = _channels_into_groups(input, level, size)
    weights = weights.reshape((size * weights.shape[1],) + tuple(weights.shape[2:]))
    if bias is not None:
        biases, batched = unwrap(bias, level)
        biases = biases.reshape(-1) if batched else biases.repeat(size)
    else:
        biases = None
    out = op_class.apply(value, weights, biases, geometry._replace(groups=geometry.groups * size))
    return wrap(_groups_into_batch(out, size), level)


def _convolution_weight_grad(op_class, args, level):
    """A convolution's weight gradient per sample: the grouped convolution's weight gradient,
    (B * C_out, C_in / groups, *kernel) read as (B, C_out, C_in / groups, *kernel)."""
    first, second, geometry = args
    size = max(unwrap(value, level)[0].shape[0] for value in (first, second)
               if level_of(value) == level)
    result = op_class.apply(_channels_into_groups(first, level, size),
                            _channels_into_groups(second, level, size),
                            geometry._replace(groups=geometry.groups * size))
    return wrap(result.reshape((size, result.shape[0] // size) + tuple(result.shape[1:])), level)


def _channels_into_groups(value, level, size):
    """A (B, N, C, *spatial) batch (an unbatched (N, C, *spatial) repeated B times) as
    (N, B * C, *spatial)."""
    array, batched = unwrap(value, level)
    if not batched:
        array = broadcast_batch(array, size)
    shape = tuple(array.shape)
    return array.transpose(0, 1).reshape((shape[1], size * shape[2]) + shape[3:])


def _groups_into_batch(value, size):
    """(N, B * C, *spatial) back to the batch (B, N, C, *spatial)."""
    shape = tuple(value.shape)
    return value.reshape((shape[0], size, shape[1] // size) + shape[2:]).transpose(0, 1)


def _classification_loss(op_class, args, level):
    """cross_entropy / nll_loss per sample: the samples' rows merged into one call without
    reduction, then each sample's losses reduced on their own ('mean' divides by the sample's
    summed target weights, as the loss of that sample alone would)."""
    input, target, weight, ignore_index, smoothing, reduction, from_logits = args
    size = max(unwrap(value, level)[0].shape[0] for value in (input, target)
               if level_of(value) == level)
    inputs, batched = unwrap(input, level)
    if not batched:
        inputs = broadcast_batch(inputs, size)
    targets, batched = unwrap(target, level)
    if not batched:
        targets = broadcast_batch(targets, size)
    shape = tuple(inputs.shape)
    probabilities = tuple(targets.shape) == shape
    merged_input = inputs.reshape((size * shape[1],) + shape[2:])
    merged_target = targets.reshape((size * shape[1],) + tuple(targets.shape)[2:])
    classes = shape[2]
    _check_targets(merged_input._data, merged_target._data, classes, ignore_index,
                   probabilities, from_logits)
    losses = op_class.apply(merged_input, merged_target, weight, ignore_index, smoothing, "none",
                            from_logits)
    if reduction == "none":
        return wrap(losses.reshape((size, shape[1]) + shape[3:]), level)
    per_sample = losses.reshape((size, -1)).sum(1)
    if reduction == "sum":
        return wrap(per_sample, level)
    dtype = merged_input._data.dtype
    if probabilities:
        denominators = np.full(size, merged_target._data.size // (size * classes), np.float64)
    else:
        chosen = loss_kernels._Targets(merged_target._data, weight, ignore_index, smoothing,
                                       classes, dtype).chosen_weight
        denominators = chosen.reshape(size, -1).sum(axis=1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return wrap(per_sample / Tensor._wrap(denominators.astype(dtype)), level)


def _binary_cross_entropy(op_class, args, level):
    """binary_cross_entropy: the range checks of its functional on the batch, then the op on
    input and target of one shape (its backward does not unbroadcast), unbatched ones repeated."""
    size = max(unwrap(value, level)[0].shape[0] for value in args if level_of(value) == level)
    batches = []
    for name, value in zip(("input", "target"), args):
        batch, batched = unwrap(value, level)
        if type(batch._data) is not np.ndarray:
            raise Unbatchable(describe(op_class))
        if np.any((batch._data < 0) | (batch._data > 1)):
            raise RuntimeError(f"all elements of {name} should be between 0 and 1")
        batches.append(batch if batched else broadcast_batch(batch, size))
    return wrap(op_class.apply(*batches), level)


def _mse_loss(op_class, args, level):
    """mse_loss per sample: the squared errors of the aligned batch, each sample's reduced on
    its own."""
    input, target, reduction = args
    first, second = _aligned((input, target), level, describe(op_class))
    losses = op_class.apply(first, second, "none")
    if reduction == "none":
        return wrap(losses, level)
    size = losses.shape[0]
    per_sample = losses.reshape((size, -1)).sum(1)
    if reduction == "mean":
        per_sample = per_sample / (losses[0].numel() if losses.ndim > 1 else 1)
    return wrap(per_sample, level)


def _leading(op_class, args, level):
    """Kernels over trailing dims (layer_norm): the batch is one more leading dim of rows.
    Batched affine parameters (per-sample gradients, ensembles) apply after the kernel."""
    input, weight, bias = args[:3]
    if level_of(weight) != level and level_of(bias) != level:
        value = _first_batched(op_class, args, level)
        return wrap(op_class.apply(value, *args[1:]), level)
    normalized = op_class.apply(input, None, None, *args[3:])
    return _affine(normalized, weight, bias, ())


def _affine(normalized, weight, bias, trailing):
    """``normalized * weight + bias`` on logical tensors, the parameters shaped by
    ``trailing`` (size-1 dims after the channel), either of them None."""
    if weight is not None:
        normalized = pointwise(ops.mul, normalized, weight.reshape(weight.shape + trailing))
    if bias is not None:
        normalized = pointwise(ops.add, normalized, bias.reshape(bias.shape + trailing))
    return normalized


def _batch_norm(op_class, args, level):
    """Evaluation with running statistics normalises each row on its own; batch statistics
    (training) would mix the samples."""
    running_mean, running_var, training = args[3], args[4], args[5]
    if training and level_of(args[0]) == level and any(
            stat is not None and level_of(stat) != level for stat in (running_mean, running_var)):
        # One update per sample of buffers shared by the whole batch: PyTorch refuses it.
        raise refusal("Batch norm got a batched tensor as input while the running_mean or "
                        "running_var, which will be updated in place, were not batched.\nIf you "
                        "are using a module and do not need eval mode, please set "
                        "`track_running_stats` to be False.If you are using a prebuilt module "
                        "and do not need eval mode, please see the functorch website for "
                        "resources on how to patch your module to work with vmap")
    input, weight, bias, running_mean, running_var, training, _, eps, reduce = args
    parameters_batched = level_of(weight) == level or level_of(bias) == level
    statistics_batched = level_of(running_mean) == level or level_of(running_var) == level
    if reduce is not None or (training and running_mean is not None):
        raise Unbatchable(describe(op_class))
    if not (training or parameters_batched or statistics_batched):
        return _merged(op_class, args, level)
    # Batched parameters or statistics, or batch statistics of each sample's own rows (batch
    # norm without running statistics): the normalisation on logical tensors.
    trailing = (1,) * (input.dim() - 2)
    if training:
        axes = (0,) + tuple(range(2, input.dim()))
        mean = input.mean(axes, keepdim=True)
        centered = input - mean
        variance = (centered * centered).mean(axes, keepdim=True)
    else:
        centered = input - running_mean.reshape(running_mean.shape + trailing)
        variance = running_var.reshape(running_var.shape + trailing)
    return _affine(centered * (variance + eps).rsqrt(), weight, bias, trailing)


def _embedding(op_class, args, level):
    """Rows of a shared table for a batch of indices: one lookup. A batched table (per-sample
    gradients, ensembles): the tables joined into one of B * V rows, sample b's indices offset
    by b * V; a padding row's lookups are detached so that it gets no gradient."""
    indices, weight, padding_idx, scale_grad_by_freq, sparse = args
    index_values, indices_batched = unwrap(indices, level)
    if type(index_values._data) is not np.ndarray:
        raise Unbatchable(describe(op_class))
    array = index_values._data
    if array.size and (array.min() < 0 or array.max() >= weight.shape[0]):
        raise IndexError("index out of range in self")
    if level_of(weight) != level:
        return wrap(op_class.apply(index_values, weight, padding_idx, scale_grad_by_freq, sparse),
                    level)
    if sparse:
        raise Unbatchable(describe(op_class))
    tables, _ = unwrap(weight, level)
    size, rows = tables.shape[0], tables.shape[1]
    if not indices_batched:
        index_values = broadcast_batch(index_values, size)
    offsets = np.arange(size, dtype=np.int64).reshape((size,) + (1,) * (index_values.ndim - 1))
    shifted = pointwise(ops.add, index_values, Tensor._wrap(offsets * rows))
    joined = tables.reshape((size * rows,) + tuple(tables.shape[2:]))
    out = op_class.apply(shifted, joined, None, scale_grad_by_freq, False)
    if padding_idx is not None:
        padding = pointwise(ops.eq, index_values, padding_idx).unsqueeze(-1)
        out = pointwise(ops.where, padding, out.detach(), out)
    return wrap(out, level)


def _attention(op_class, args, level):
    """scaled_dot_product_attention: the batch is one more leading dim of query, key and value
    (unbatched ones repeated as views, all expanded to common leading dims) and of the masks."""
    query, key, value, float_mask, blocked, scale, dropout_p, stream = args
    if dropout_p > 0.0:
        raise Unbatchable(describe(op_class))
    operands = (query, key, value)
    size = max(unwrap(operand, level)[0].shape[0] for operand in operands + (float_mask, blocked)
               if level_of(operand) == level)
    leading = tuple(np.broadcast_shapes(*[tuple(operand.shape[:-2]) for operand in operands]))
    batches = []
    for operand in operands:
        batch, batched = unwrap(operand, level)
        if not batched:
            batch = broadcast_batch(batch, size)
        batch = _lifted(batch, len(leading) + 2)
        batches.append(batch.expand((size,) + leading + tuple(batch.shape[-2:])))
    masks = []
    for mask in (float_mask, blocked):
        mask_value, batched = unwrap(mask, level)
        masks.append(_lifted(mask_value, len(leading) + 2) if batched else mask_value)
    return wrap(op_class.apply(*batches, *masks, scale, dropout_p, stream), level)


def _recurrence(op_class, args, level):
    """An RNN/LSTM/GRU layer over a padded sequence: shared weights merge the batch into the
    sequences' batch (T, B * N, G); batched weights (per-sample gradients, ensembles) run the
    layer once per sample here, the rest of the function staying batched."""
    projections, hidden, cell, weight_hh, bias_hh, mode, batch_sizes, reverse = args
    if batch_sizes is not None:
        raise Unbatchable(describe(op_class))
    states = (projections, hidden, cell)
    size = max(unwrap(value, level)[0].shape[0] for value in states + (weight_hh, bias_hh)
               if value is not None and level_of(value) == level)
    batches = []
    for value in states:
        batch, batched = (None, False) if value is None else unwrap(value, level)
        batches.append(batch if batched or batch is None else broadcast_batch(batch, size))
    if level_of(weight_hh) != level and level_of(bias_hh) != level:
        sequences, hidden_batch, cell_batch = batches
        steps, rows = sequences.shape[1], sequences.shape[2]
        merged = sequences.transpose(0, 1).reshape((steps, size * rows) + tuple(
            sequences.shape[3:]))
        results = op_class.apply(
            merged, hidden_batch.reshape((size * rows,) + tuple(hidden_batch.shape[2:])),
            None if cell_batch is None else cell_batch.reshape(
                (size * rows,) + tuple(cell_batch.shape[2:])),
            weight_hh, bias_hh, mode, batch_sizes, reverse)
        outputs = results[0].reshape((steps, size, rows) + tuple(results[0].shape[2:]))
        return tuple([wrap(outputs.transpose(0, 1), level)] + [
            wrap(state.reshape((size, rows) + tuple(state.shape[1:])), level)
            for state in results[1:]])
    parameters = []
    for value in (weight_hh, bias_hh):
        batch, batched = (None, False) if value is None else unwrap(value, level)
        parameters.append(batch if batched or batch is None else broadcast_batch(batch, size))
    per_sample = [op_class.apply(*[None if batch is None else batch[index]
                                   for batch in batches + parameters],
                                 mode, batch_sizes, reverse) for index in range(size)]
    return tuple(wrap(shape_ops.stack(list(results)), level) for results in zip(*per_sample))


def _padding(op_class, args, level):
    value = _first_batched(op_class, args, level)
    _, index_maps, fill, *border = args
    if index_maps is None:  # a constant pad given by its widths (border_slices): its maps
        index_maps = tuple(
            (axis, padding_kernels.index_map(value.shape[axis + 1], left, right, "constant"))
            for axis, left, right in border[0][3])
    shifted = tuple((axis + 1, index) for axis, index in index_maps)
    return wrap(op_class.apply(value, shifted, fill), level)


_EXTENDING = "For more details, please see https://pytorch.org/docs/main/notes/extending.func.html"


class VmapInfo:
    """What a custom Function's ``vmap`` staticmethod is told: the batch size and randomness."""

    __slots__ = ("batch_size", "randomness")

    def __init__(self, batch_size, randomness):
        self.batch_size = batch_size
        self.randomness = randomness


class _UserContext(FunctionCtx):
    """The ``ctx`` a custom Function's forward, setup_context, backward and jvp see under its
    generated vmap rule: what they save, on batched values."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._saved = ()

    def save_for_backward(self, *tensors):
        self._saved = tensors

    @property
    def saved_tensors(self):
        if getattr(self, "_in_jvp", False):
            return self._saved_for_forward or ()
        return self._saved

    def mark_non_differentiable(self, *outputs):
        pass  # PyTorch's generated rule too leaves the batched outputs differentiable

    _saved_for_forward = None
    _materialize_grads = True


def physical(tensor, levels):
    """``tensor`` as one plain tensor with a leading dimension per level (outermost first),
    broadcast along the levels it is not batched at."""
    for level in reversed(levels):
        value, batched = unwrap(tensor, level.id)
        tensor = value if batched else broadcast_batch(tensor, level.size)
    return tensor


def logical(tensor, levels):
    """The inverse of ``physical``."""
    for level in levels:
        tensor = wrap(tensor, level.id)
    return tensor


@contextlib.contextmanager
def _entered(levels):
    """``levels`` active again, where a generated rule's backward runs after their call."""
    missing = tuple(level for level in levels if level not in _levels.active)
    if not missing:
        yield
        return
    _levels.active = _levels.active + missing
    try:
        yield
    finally:
        _levels.active = tuple(level for level in _levels.active if level not in missing)


def _both_ways(values, levels, to_logical):
    converted = []
    for value in values:
        if isinstance(value, Tensor):
            value = logical(value, levels) if to_logical else physical(value, levels)
        converted.append(value)
    return converted


class _GeneratedRule(Function):
    """A custom Function with ``generate_vmap_rule`` under vmap, as PyTorch runs it: one node
    on the whole batch (every level in progress) whose forward runs the Function's forward and
    setup_context on the batched inputs, its backward the Function's backward and its jvp the
    Function's jvp, on batched values. The Function's own derivatives are kept (per-sample
    gradients of a straight-through estimator are its backward's, not its forward ops')."""

    _runs_in_transforms = True

    @staticmethod
    def forward(ctx, function, levels, *values):
        ctx.function = function
        ctx.levels = levels
        user = _UserContext(tuple(isinstance(value, Tensor) and value.requires_grad
                                  for value in values))
        user._forward_cls = function
        ctx.user = user
        with _entered(levels):
            inputs = tuple(_both_ways(values, levels, True))
            if function.generate_vmap_rule:
                outputs = function.forward(*inputs)
            else:  # its vmap staticmethod gives the outputs (its backward is still its own)
                outputs = _user_rule(function, inputs, levels[-1].id)
            function.setup_context(user, inputs, outputs)
            single = not isinstance(outputs, tuple)
            ctx.single = single
            results = _both_ways((outputs,) if single else outputs, levels, False)
        return results[0] if single else tuple(results)

    @staticmethod
    def backward(ctx, *grads):
        levels = ctx.levels
        with _entered(levels):
            results = ctx.function.backward(ctx.user, *_both_ways(grads, levels, True))
            results = results if isinstance(results, tuple) else (results,)
            return (None, None) + tuple(_both_ways(results, levels, False))

    @staticmethod
    def jvp(ctx, _function, _levels_tangent, *tangents):
        levels = ctx.levels
        user = ctx.user
        with _entered(levels):
            user._in_jvp = True
            try:
                results = ctx.function.jvp(user, *_both_ways(tangents, levels, True))
            finally:
                user._in_jvp = False
            single = not isinstance(results, tuple)
            results = _both_ways((results,) if single else results, levels, False)
        return results[0] if single else tuple(results)


def _generated_rule(op_class, args, level):
    """The generated vmap rule of a custom Function: its _GeneratedRule node on the batch of
    every level in progress (nested vmaps included)."""
    levels = _levels.active
    outputs = _GeneratedRule.apply(op_class, levels, *_both_ways(args, levels, False))
    single = not isinstance(outputs, tuple)
    results = _both_ways((outputs,) if single else outputs, levels, True)
    return results[0] if single else tuple(results)


def check_vmappable(op_class):
    """PyTorch's refusals of a custom Function under vmap (also under jacfwd, which PyTorch runs
    through vmap): no setup_context, no vmap rule, or both kinds of rule."""
    name = op_class.__name__
    if op_class is _GeneratedRule:
        return  # a vmapped Function's node, checked when vmap made it
    if op_class.setup_context is Function.setup_context:
        raise refusal("In order to use an autograd.Function with functorch transforms (vmap, "
                      "grad, jvp, jacrev, ...), it must override the setup_context "
                      "staticmethod. " + _EXTENDING)
    has_rule = op_class.vmap is not Function.vmap
    if op_class.generate_vmap_rule and has_rule:
        raise refusal(f"You tried to vmap over {name}, but it has both "
                      f"generate_vmap_rule=True and an overridden vmap staticmethod. "
                      f"Please set generate_vmap_rule=False or delete the overridden "
                      f"vmap staticmethod to avoid ambiguity. " + _EXTENDING)
    if not op_class.generate_vmap_rule and not has_rule:
        raise refusal(f"You tried to vmap over {name}, but it does not have vmap support. "
                      f"Please override and implement the vmap staticmethod or set "
                      f"generate_vmap_rule=True. " + _EXTENDING)


def _matrix_stack(*core_ranks):
    """Rule for linear-algebra ops on stacks of matrices (the leading dims broadcast): each
    tensor argument's sample dims lined up behind the batch dimension (an unbatched one
    broadcasts as it is); ``core_ranks`` gives the trailing dims each tensor argument's op
    works on, or a function of the args that does (Solve's vector or matrix right side)."""
    def rule(op_class, args, level):
        ranks = core_ranks[0](args) if callable(core_ranks[0]) else core_ranks
        tensors = [position for position, arg in enumerate(args) if isinstance(arg, Tensor)]
        if len(tensors) != len(ranks) or any(isinstance(arg, BatchedArray) for arg in args):
            raise Unbatchable(describe(op_class))
        stack_rank = max(args[position].ndim - rank for position, rank in zip(tensors, ranks))
        lined_up = list(args)
        for position, rank in zip(tensors, ranks):
            value, batched = unwrap(args[position], level)
            if batched:
                lined_up[position] = _lifted(value, stack_rank + rank)
        return _wrap_outputs(op_class.apply(*lined_up), level)
    return rule


def _pinv(op_class, args, level):
    """pinv with number tolerances (tensor ones would be batched along the stack)."""
    if any(isinstance(tolerance, (np.ndarray, BatchedArray, Tensor)) for tolerance in args[1:3]):
        raise Unbatchable(describe(op_class))
    return _matrix_stack(2)(op_class, args, level)


def _spectral(op_class, args, level):
    """fft transforms: the (non-negative) axes of a sample shifted behind the batch dim."""
    value = _first_batched(op_class, args, level)
    _, kind, axes, sizes, norm, inverse = args
    axes = tuple(axis + 1 for axis in axes)
    return wrap(op_class.apply(value, kind, axes, sizes, norm, inverse), level)


def _custom_function(op_class, args, level):
    """A user's autograd.Function under vmap, by PyTorch's rules: its ``vmap`` staticmethod on
    the unbatched inputs, or with ``generate_vmap_rule`` its ``forward`` on the batched ones."""
    check_vmappable(op_class)
    if op_class.generate_vmap_rule or grad_transform_within(level):
        # (a grad transform inside this vmap differentiates through the Function's backward)
        return _generated_rule(op_class, args, level)
    return _user_rule(op_class, args, level)


def _user_rule(op_class, args, level):
    """A custom Function's own ``vmap`` staticmethod on the unbatched inputs at ``level``."""
    name = op_class.__name__
    values = []
    in_dims = []
    for arg in args:
        value, batched = unwrap(arg, level)
        values.append(value)
        in_dims.append(0 if batched else None)
    size = next(current.size for current in _levels.active if current.id == level)
    randomness = next(current.randomness for current in _levels.active if current.id == level)
    result = op_class.vmap(VmapInfo(size, randomness), tuple(in_dims), *values)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise refusal(f"Expected the vmap staticmethod of {name} to return a tuple of two "
                        f"elements (output, out_dims), got: {type(result).__name__}")
    outputs, out_dims = result
    single = not isinstance(outputs, tuple)
    outputs = (outputs,) if single else outputs
    if not isinstance(out_dims, tuple):
        out_dims = (out_dims,) * len(outputs)
    if len(out_dims) != len(outputs):
        raise refusal(f"The vmap staticmethod of {name} returned an incompatible (output, "
                        f"out_dims) tuple: {len(outputs)} outputs, out_dims={out_dims}")
    wrapped = []
    for output, out_dim in zip(outputs, out_dims):
        if not isinstance(output, Tensor):
            wrapped.append(output)
        elif out_dim is None:
            wrapped.append(wrap(broadcast_batch(output, size), level))
        else:
            wrapped.append(wrap(output.movedim(out_dim, 0) if out_dim else output, level))
    return wrapped[0] if single else tuple(wrapped)


_RULES = {}


def _register(rule, *op_classes):
    for op_class in op_classes:
        _RULES[op_class] = rule


_register(_elementwise, _Binary, _OfInput, _OfOutput, rounding._Stepwise, rounding.NanToNum,
          arithmetic.Neg, arithmetic.Abs, arithmetic.Sign, arithmetic.Lerp, casting.Cast,
          casting.Clone, casting.FillLike, exp_log.Sigmoid, exp_log.Logit, extrema.Clamp,
          extrema.Relu, special.Erf, special.Erfc, special.Erfinv, trigonometric.Sinc,
          gamma.Polygamma, gamma.Mvlgamma,
          trigonometric.TanhBackwardOut,
          index_ops.Where, index_ops.MaskedFill, shape_ops.Contiguous, shape_ops.Triangle,
          activation_kernels.Hardtanh, activation_kernels.LeakyRelu, activation_kernels.Elu,
          activation_kernels.Gelu, activation_kernels.Silu, activation_kernels.Mish,
          activation_kernels.Softplus, activation_kernels.LogSigmoid,
          activation_kernels.Hardsigmoid, activation_kernels.Hardswish, activation_kernels.Celu,
          activation_kernels.Threshold, activation_kernels.Hardshrink,
          activation_kernels.Softshrink, dropout_kernels.Dropout)
_register(_axes_at(1, none_is_all=True), reduce_ops.Sum, reduce_ops.Mean, reduce_ops.Var,
          reduce_ops.LogSumExp)
_register(_axes_at(1), reduce_ops.Softmax, reduce_ops.LogSoftmax, reduce_ops.CumSum,
          reduce_ops.CumProd, reduce_ops.LogCumSumExp, shape_ops.Flip, shape_ops.Unfold,
          shape_ops.Split)
_register(_axes_at(2), reduce_ops.VectorNorm, shape_ops.Roll)
_register(_extreme, reduce_ops._Extreme)
_register(_arg_extreme, reduce_ops.ArgExtreme)
_register(_axes_at(1), reduce_ops.SortIndices)
_register(_prod, reduce_ops.Prod)
_register(_diagonal, shape_ops.Diagonal)
_register(_reshape, shape_ops.Reshape)
_register(_permute, shape_ops.Permute)
_register(_expand, shape_ops.Expand)
_register(_repeat, shape_ops.Repeat)
_register(_joined, shape_ops.Cat, shape_ops.Stack)
_register(_basic_index, index_ops.BasicIndex)
_register(_advanced_index, index_ops.AdvancedIndex, index_ops.IndexSelect)
_register(_index_put, index_ops.IndexPut)
_register(_gather, index_ops.Gather)
_register(_embed, index_ops.Embed)
_register(_matmul, linalg_ops.MatMul)
_register(_einsum, linalg_ops.Einsum)
_register(_linear, Linear)
_register(_convolution, conv_kernels.ConvNd, conv_kernels.ConvTransposeNd)
_register(_convolution_weight_grad, conv_kernels.ConvWeightGrad)
_register(_merged, pooling_kernels.MaxPoolNd, pooling_kernels.AvgPoolNd)
_register(_leading, normalization_kernels.LayerNorm)
_register(_classification_loss, loss_kernels.ClassificationLoss)
_register(_mse_loss, loss_kernels.MseLoss)
_register(_binary_cross_entropy, loss_kernels.BinaryCrossEntropy)
_register(_elementwise, loss_kernels.BinaryCrossEntropyWithLogits)
_register(_batch_norm, normalization_kernels.BatchNorm)
_register(_padding, padding_kernels.GatherAxes)
_register(_embedding, sparse_kernels.Embedding)
_register(_attention, attention_kernels.ScaledDotProductAttention)
_register(_recurrence, recurrent_kernels.Recurrence)
_register(_matrix_stack(2), linalg_ops.Inverse, linalg_ops.Det, linalg_ops.LogAbsDet,
          linalg_ops.Cholesky, linalg_ops.Eigh, linalg_ops.Eig, decomposition_ops.SVD,
          decomposition_ops.QR, decomposition_ops.MatrixExp, decomposition_ops.LUFactor)
_register(_matrix_stack(lambda args: (2, 1 if args[2] else 2)), linalg_ops.Solve)
_register(_matrix_stack(2, 2), decomposition_ops.SolveTriangular,
          decomposition_ops.CholeskySolve)
_register(_pinv, decomposition_ops.Pinv)
_register(_spectral, spectral_ops._Transform)
_register(_elementwise, Conj, Real, Imag, ViewAsReal, ViewAsComplex, Polar, Complex)
_register(_scatter, index_ops.Scatter, index_ops.ScatterAdd, index_ops.ScatterReduce)
_register(_index_slices, index_ops.IndexAdd, index_ops.IndexCopy, index_ops.IndexFill)
_TAKES_BATCHED_INDEX = frozenset([index_ops.Scatter, index_ops.ScatterAdd,
                                  index_ops.ScatterReduce, index_ops.Gather, index_ops.IndexAdd,
                                  index_ops.IndexCopy, index_ops.IndexFill])
_register(_custom_function, Function)

BatchedForward.dispatch = staticmethod(dispatch)
BatchedForward.inplace = staticmethod(write_inplace)
function_module._batched_tensor_type = BatchedTensor
