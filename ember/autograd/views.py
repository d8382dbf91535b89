"""Views and in-place changes: how a change made through one tensor reaches, in the graph as in
memory, every tensor that shares its storage (PyTorch's view tracking and CopySlices).

Every in-place op runs through ``apply_inplace``: refuse what PyTorch refuses, compute the new
value with the out-of-place op, write it into the storage, bump the shared version counter, and
move the tensor (and the base of a view) onto the new history.
"""
import numpy as np

from .._dtype import from_numpy_dtype, scalar_type_name
from ..tensor import Tensor, mark_unrecorded_view
from .._grad_state import _grad_state, fast_paths
from .node import BatchedForward, Node, _sequence, saved_tensors_hooks_state


def record_view(node, op_class, args, counter):
    """Remember on ``node`` (the node of ``op_class`` applied to ``args``) how to rebuild the view
    from its root base, as ``node._view_of = (base, chain, version)``: the root base tensor, the
    view ops from base to view (``((op class, extra args), ...)``) and the shared version now.
    The base is held strongly, as PyTorch's ``view._base``: a stale view must still reach its
    history. (A plain tuple: a namedtuple costs about 300 ns to build.)"""
    source = args[0].grad_fn
    parent = source._view_of if source is not None else None
    step = ((op_class, args[1:]),)
    if parent is None:
        node._view_of = (args[0], step, counter.value)
    else:
        base, chain, _ = parent
        node._view_of = (base, chain + step, counter.value)


def refresh_view(view, node):
    """A view whose base changed in place after the view's node was made (the shared version
    moved on) gets a fresh node chain from the base's current history, as PyTorch regenerates a
    view's grad_fn."""
    base, chain, version = node._view_of
    counter = view._vc
    if counter is None or counter.value == version or _grad_state.get().inference:
        return
    if not base._requires_grad or not np.may_share_memory(base._data, view._data):
        return
    current = base
    for op_class, extra_args in chain:
        current = op_class.apply(current, *extra_args)
    view.grad_fn = current.grad_fn
    view._output_nr = current._output_nr


class CopySlices(Node):
    """A base's new value after one of its views was changed in place: the view's region comes
    from the in-place op, everything else from the base's previous history (PyTorch's node)."""

    def name(self):
        return "torch::autograd::CopySlices"  # PyTorch's name, as AccumulateGrad's

    @staticmethod
    def backward(ctx, grad):
        rest = np.array(grad, copy=True)
        region = _replay_on_array(ctx._replay, rest)
        grad_view = np.array(region, copy=True)
        region[...] = 0
        return (rest if ctx.needs_input_grad[0] else None), grad_view

    def _backward_with_history(self, grad_outputs):
        """Under create_graph: the view's part through the recorded view ops, the rest as the
        gradient times a constant mask that is 0 on the view's region."""
        (grad,) = grad_outputs
        grad_view = grad
        for op_class, extra_args in self._replay:
            grad_view = op_class.apply(grad_view, *extra_args)
        if not self.needs_input_grad[0]:
            return None, grad_view
        keep = np.ones(grad._data.shape, grad._data.dtype)
        _replay_on_array(self._replay, keep)[...] = 0
        return grad * keep, grad_view


def _replay_on_array(chain, array):
    """The view ops of ``chain`` applied to ``array``: the region, as a view into it."""
    for op_class, extra_args in chain:
        array = op_class.forward(object.__new__(op_class), array, *extra_args)
    return array


# ---- the in-place protocol ---------------------------------------------------------------------
def check_inplace(tensor):
    """Refuse in-place changes PyTorch refuses; return whether the change must be recorded."""
    grad_enabled, inference = _grad_state.get()
    if tensor._is_inference and not inference:
        raise RuntimeError("Inplace update to inference tensor outside InferenceMode is not "
                           "allowed.You can make a clone to get a normal tensor before doing "
                           "inplace update.See https://github.com/pytorch/rfcs/pull/17 for more "
                           "details.")
    recording = grad_enabled and not inference
    if recording and tensor._requires_grad:
        if tensor._view_creation is not None:
            raise RuntimeError(tensor._view_creation.error(tensor, "is being"))
        node = tensor.grad_fn
        if getattr(node, "multiple_views", False):
            raise RuntimeError(f"Output {tensor._output_nr} of {node.name()[:-9]} is a view and "
                               f"is being modified inplace. This view is the output of a "
                               f"function that returns multiple views. Such functions do not "
                               f"allow the output views to be modified inplace. You should "
                               f"replace the inplace operation by an out-of-place one.")
        if node is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                               "operation.")
        base = node._view_of[0] if node._view_of is not None else None
        if base is not None and base.grad_fn is None and base._requires_grad:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
    return recording


def write(tensor, array, cast=False):
    """Copy ``array`` into ``tensor``'s storage after PyTorch's shape, dtype and overlap checks
    (the version counter is the caller's to bump). ``cast``: any dtype converts, as copy_ does;
    otherwise a float result never lands in an integer or bool tensor."""
    target = tensor._data
    if array.shape != target.shape:
        try:
            array = np.broadcast_to(array, target.shape)
        except ValueError:
            raise RuntimeError(f"output with shape {list(target.shape)} doesn't match the "
                               f"broadcast shape {list(array.shape)}") from None
    if not cast and array.dtype != target.dtype and \
            from_numpy_dtype(array.dtype)._category > tensor.dtype._category:
        # PyTorch's canCast: never floating to integral or bool, never integral to bool.
        raise RuntimeError(f"result type {scalar_type_name(array.dtype)} can't be cast to the "
                           f"desired output type {scalar_type_name(target.dtype)}")
    if not target.flags.writeable:
        raise RuntimeError("unsupported operation: more than one element of the written-to "
                           "tensor refers to a single memory location. Please clone() the tensor "
                           "before performing the operation.")
    np.copyto(target, array, casting="unsafe")


def refuse_overlap(tensor, operand):
    """PyTorch's refusal of an in-place op whose contiguous operand shares memory with the
    contiguous tensor it writes (where either is strided, PyTorch does not look)."""
    target = tensor._data
    other = operand._data
    if (type(target) is np.ndarray and type(other) is np.ndarray and target.size and other.size
            and target.flags.c_contiguous and other.flags.c_contiguous
            and np.may_share_memory(target, other)):
        raise RuntimeError("unsupported operation: some elements of the input tensor and the "
                           "written-to tensor refer to a single memory location. Please clone() "
                           "the tensor before performing the operation.")


def apply_inplace(tensor, operation, compute, fast=None, operand=None):
    """Store the result of ``compute()`` (the out-of-place op) in ``tensor`` and return it.
    ``operation`` names the op at the call (PyTorch's errors for these checks do not name it).

    ``fast(array)`` applies the change with a NumPy ``out=`` ufunc when nothing needs recording.
    """
    recording = check_inplace(tensor)
    operand_requires_grad = isinstance(operand, Tensor) and operand._requires_grad
    needs_graph = recording and (tensor._requires_grad or operand_requires_grad)
    if fast is not None and not needs_graph:
        if not tensor._data.flags.writeable:
            write(tensor, tensor._data)  # raises the PyTorch error
        try:
            fast(tensor._data)
        except BatchedForward:  # a vmap batch: its rule writes the batched result
            return BatchedForward.inplace(tensor, compute())
        tensor._bump_version()
        return tensor
    view_of = tensor.grad_fn._view_of if tensor.grad_fn is not None else None
    hooks = saved_tensors_hooks_state
    packing = bool(hooks.stack)
    if packing:
        hooks.inplace = True  # the node is packed below, once it saves what it should
        try:
            result = compute()
        finally:
            hooks.inplace = False
    else:
        result = compute()
    node = result.grad_fn
    if node is not None and node.saved is not None:
        _unshare_saved(node, tensor)  # backward needs this tensor as it was before
    try:
        write(tensor, result._data)
    except BatchedForward:  # a vmap batch: its rule writes the batched result
        return BatchedForward.inplace(tensor, result)
    tensor._bump_version()
    if node is None:
        return tensor
    tensor.grad_fn = node
    tensor._output_nr = result._output_nr
    tensor._requires_grad = True
    if node.saved is not None and tensor._data.dtype == result._data.dtype:
        _rebind_saved_output(node, result._data, tensor)
    if packing:
        outputs = [None] * tensor._output_nr + [tensor]  # what a saved output is, by number
        node._pack_saved(outputs)
    if view_of is not None:
        # This tensor is a view: its base's history must include the change (PyTorch rebases
        # the base onto a CopySlices node).
        base, chain, _ = view_of
        node._view_of = (base, chain, tensor._vc.value)
        _propagate_to_base(node, tensor)
    return tensor


def _propagate_to_base(node, view):
    """``view`` (whose grad_fn is ``node``) was just changed in place: give its base a CopySlices
    node so that the base's later uses see the new values' history."""
    base, chain, _ = node._view_of
    if not np.may_share_memory(base._data, view._data):
        return  # a reshape that had to copy is not a view of its input's memory
    previous = base.grad_fn
    if previous is not None:
        base_edge = (previous, base._output_nr)
    else:
        base_edge = (base, 0) if base._requires_grad else None
    copy_slices = object.__new__(CopySlices)
    copy_slices._recording = True
    copy_slices.needs_input_grad = (base_edge is not None, True)
    copy_slices.next_edges = (base_edge, (node, view._output_nr))
    copy_slices._sequence_nr = next(_sequence)
    copy_slices._num_outputs = 1
    copy_slices._replay = chain
    base.grad_fn = copy_slices
    base._output_nr = 0
    base._requires_grad = True


def _unshare_saved(node, tensor):
    """``node`` is about to overwrite ``tensor``, which it may have saved: give it a private copy
    of the old value (PyTorch saves the original), still linked to the old history."""
    array = tensor._data
    saved = node.saved
    positions = [index for index, item in enumerate(saved) if item is array]
    if not positions:
        return
    private = array.copy()
    before = Tensor._wrap(private, tensor._requires_grad)
    before.grad_fn = tensor.grad_fn
    before._output_nr = tensor._output_nr
    node.saved = tuple(private if index in positions else item for index, item in enumerate(saved))
    counter = before._version_counter()
    node._saved_checks = [check for check in node._saved_checks if check[0] not in positions]
    node._saved_checks += [(index, counter, 0, before, 0) for index in positions]


def _rebind_saved_output(node, array, tensor):
    """An in-place op's result ``array`` was copied into ``tensor``: what ``node`` saved of it
    now lives in ``tensor``, checked against its version counter (PyTorch saves self), so later
    in-place changes to ``tensor`` are detected and the result array can be freed."""
    saved = node.saved
    positions = [index for index, item in enumerate(saved) if item is array]
    if not positions:
        return
    counter = tensor._version_counter()
    node.saved = tuple(tensor._data if index in positions else item
                       for index, item in enumerate(saved))
    node._saved_checks = [check for check in node._saved_checks if check[0] not in positions]
    node._saved_checks += [(index, counter, counter.value, None, tensor._output_nr)
                           for index in positions]


def unrecorded_view(input):
    """Whether a view of ``input`` may skip the Op bookkeeping (the views of generation and
    evaluation code): nothing is recorded (grad off, or the input needs none), no inference
    mode, no profiler, and a plain dense tensor (not a vmap stand-in or a sparse storage)."""
    if type(input) is not Tensor or input._is_inference or type(input._data) is not np.ndarray:
        return False
    # nothing_recorded(input), inline: every view of generation code asks
    grad_enabled, inference = _grad_state.get()
    return not inference and fast_paths[0] and not (grad_enabled and input._requires_grad)


def nothing_recorded(*tensors):
    """Whether an op of ``tensors`` records nothing (grad off, or none of them needs grad) and
    may skip its node: not in inference mode, and no profiler or flop counter watching the ops
    (their ``fast_paths`` switch). An ONNX trace is the caller's to check."""
    grad_enabled, inference = _grad_state.get()
    if inference or not fast_paths[0]:
        return False
    if grad_enabled:
        for tensor in tensors:
            if tensor is not None and tensor._requires_grad:
                return False
    return True


def view_result(input, array):
    """``array``, a view of ``input``'s data, as a tensor sharing its version counter."""
    view = Tensor._wrap(array)
    counter = input._vc
    if counter is None:
        counter = input._version_counter()
    view._vc = counter
    if input._requires_grad:  # made in no_grad: PyTorch's view still requires grad
        mark_unrecorded_view(view, counter, False)
    return view
