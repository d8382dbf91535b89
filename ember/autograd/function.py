"""``Function``: one differentiable op, forward and backward side by side; ``apply`` records the node.

ember's own ops set ``array_io = True``: their forward and backward take and return NumPy arrays
(fast, no Tensor wrapping inside kernels). User subclasses keep the default and work on Tensors,
exactly like ``torch.autograd.Function``.
"""
import itertools

import numpy as np

from ..tensor import Tensor
from .grad_mode import _grad_state, no_grad

_sequence = itertools.count()
# Bytes of arrays currently saved for backward by live nodes (ember.autograd.saved_bytes()).
_saved_bytes = [0]


class Function:
    """Base of every differentiable op. Subclass with ``forward(ctx, *args)`` and
    ``backward(ctx, *grad_outputs)`` static methods and call ``YourOp.apply(*args)``.

    The instance created for a call is both ``ctx`` and the graph node (``grad_fn``).
    """

    array_io = False
    is_view = False  # output 0 shares memory and version counter with input 0

    __slots__ = ("next_edges", "needs_input_grad", "_sequence_nr", "_recording", "_num_outputs",
                 "__dict__", "__weakref__")
    # Rarely written per-node state: class-level defaults keep node creation cheap.
    saved = None
    _saved_checks = ()
    _saved_nbytes = 0
    _released = False
    _inputs = None
    _tensor_hooks = None
    _non_differentiable = None
    # On a view's node: (the root base tensor, ((view class, view args), ...), the shared version
    # when this node was made): the chain of view ops from base to view. The base is held
    # strongly, as PyTorch's view._base: a stale view must still reach its base's history.
    _view_of = None

    # ---- ctx API -----------------------------------------------------------------------------
    def save_for_backward(self, *items):
        """Keep arrays (or Tensors) for backward; in-place changes to saved inputs or outputs
        are detected when backward unpacks them. Under no_grad this does nothing."""
        if not self._recording:
            return
        checks = []
        nbytes = 0
        inputs = self._inputs
        for index, item in enumerate(items):
            if isinstance(item, np.ndarray):
                nbytes += item.nbytes
                source = None
                for candidate in inputs:
                    if isinstance(candidate, Tensor) and candidate._data is item:
                        source = candidate
                        break
                if source is None:
                    checks.append((index, None, 0, None, 0))  # matched against outputs in apply
                    continue
            elif isinstance(item, Tensor):
                nbytes += item._data.nbytes
                source = item
            else:
                continue
            if source._is_inference:
                raise RuntimeError(
                    "Inference tensors cannot be saved for backward. To work around you can "
                    "make a clone to get a normal tensor and use it in autograd.")
            counter = source._version_counter()
            # The input tensor itself: an error names its grad_fn as it is then (as PyTorch).
            checks.append((index, counter, counter.value, source, 0))
        self.saved = items
        self._saved_checks = checks
        self._saved_nbytes = nbytes
        _saved_bytes[0] += nbytes

    @property
    def saved_tensors(self):
        """The saved items, after checking none was modified in place since it was saved."""
        if self._released:
            raise RuntimeError(_SECOND_BACKWARD)
        self._check_versions()
        return self.saved if self.saved is not None else ()

    def _unshare_saved(self, array):
        """Give this node a private copy of ``array`` if it saved it: an in-place op is about to
        overwrite its own input, which backward needs as it was (PyTorch saves the original)."""
        saved = self.saved
        positions = [index for index, item in enumerate(saved) if item is array]
        if not positions:
            return
        private = array.copy()
        self.saved = tuple(private if index in positions else item
                           for index, item in enumerate(saved))
        self._saved_checks = tuple(check for check in self._saved_checks
                                   if check[0] not in positions)

    def _views_leaf(self):
        """Whether this view node's output is a view of a leaf that requires grad: in-place
        changes to it are refused, as PyTorch refuses them."""
        base = self._view_of[0]
        return base.grad_fn is None and base._requires_grad

    def _propagate_to_base(self, view):
        """``view`` (whose grad_fn is this node) was just changed in place: give its base a
        CopySlices node so that the base's later uses see the new values' history."""
        base, view_chain, _ = self._view_of
        if not np.may_share_memory(base._data, view._data):
            return  # a reshape that had to copy is not a view of its input's memory
        previous = base.grad_fn
        if previous is not None:
            base_edge = (previous, base._output_nr)
        else:
            base_edge = (base, 0) if base._requires_grad else None
        node = object.__new__(CopySlices)
        node._recording = True
        node.needs_input_grad = (base_edge is not None, True)
        node.next_edges = (base_edge, (self, view._output_nr))
        node._sequence_nr = next(_sequence)
        node._num_outputs = 1
        node._replay = view_chain
        base.grad_fn = node
        base._output_nr = 0
        base._requires_grad = True

    def _rebind_saved_output(self, array, tensor):
        """An in-place op's result ``array`` was copied into ``tensor``: what this node saved of
        it now lives in ``tensor``, checked against its version counter (PyTorch saves self), so
        later in-place changes to ``tensor`` are detected and the result array can be freed."""
        saved = self.saved
        positions = [index for index, item in enumerate(saved) if item is array]
        if not positions:
            return
        counter = tensor._version_counter()
        self.saved = tuple(tensor._data if index in positions else item
                           for index, item in enumerate(saved))
        self._saved_checks = [check for check in self._saved_checks
                              if check[0] not in positions]
        self._saved_checks += [(index, counter, counter.value, self, tensor._output_nr)
                               for index in positions]

    def mark_non_differentiable(self, *outputs):
        self._non_differentiable = {id(output) for output in outputs}

    # ---- node API ----------------------------------------------------------------------------
    def name(self):
        return type(self).__name__ + "Backward0"

    @property
    def next_functions(self):
        """((node_or_leaf_accumulator, output_nr), ...) as in PyTorch; leaves appear as tensors."""
        return tuple(edge if edge is not None else (None, 0) for edge in self.next_edges)

    def register_hook(self, hook):
        """hook(grad_inputs, grad_outputs) is not supported; use Tensor.register_hook."""
        raise NotImplementedError("Node.register_hook: use Tensor.register_hook on the output")

    def _check_versions(self):
        for index, counter, expected, owner, output_nr in self._saved_checks:
            if counter is not None and counter.value != expected:
                if isinstance(owner, Tensor):  # a saved input
                    grad_fn, output_nr = owner.grad_fn, owner._output_nr
                else:  # a saved output of ``owner``
                    grad_fn = owner
                item = self.saved[index]
                array = item._data if isinstance(item, Tensor) else item
                from ..tensor import _type_name
                description = f"[{_type_name(array.dtype)} {list(array.shape)}]"
                if grad_fn is not None:
                    operation = grad_fn.name().removesuffix("Backward0")
                    description += f", which is output {output_nr} of {operation},"
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: {description} is at version {counter.value}; "
                    f"expected version {expected} instead. Hint: the backtrace further above "
                    "shows the operation that failed to compute its gradient. The variable in "
                    "question was changed in there or anywhere later. Good luck!")

    def _release(self):
        """Drop saved arrays after backward (retain_graph=False)."""
        if self.saved is not None:
            _saved_bytes[0] -= self._saved_nbytes
            self._saved_nbytes = 0
            self.saved = None
            self._saved_checks = ()
            self._released = True

    def __del__(self):
        if self.saved is not None:
            _saved_bytes[0] -= self._saved_nbytes

    def _run_backward(self, grad_outputs):
        """Call backward with array gradients; return one array-or-None per input edge."""
        if self._released:
            raise RuntimeError(_SECOND_BACKWARD)
        if self._saved_checks:
            self._check_versions()
        if self.array_io:
            result = self.backward(self, *grad_outputs)
        else:
            # Like PyTorch, Tensor-level backward gets zeros for outputs that received no grad.
            wrapped = [Tensor._wrap(np.zeros(shape, dtype) if g is None else g)
                       for g, (shape, dtype) in zip(grad_outputs, self._output_meta)]
            with no_grad():
                result = self.backward(self, *wrapped)
        if not isinstance(result, tuple):
            result = (result,)
        count = len(self.next_edges)
        if len(result) != count:
            if len(result) > count or any(self.needs_input_grad[len(result):]):
                raise RuntimeError(f"function {self.name()} returned an incorrect number of "
                                   f"gradients (expected {count}, got {len(result)})")
            result = result + (None,) * (count - len(result))
        if not self.array_io:
            result = tuple([_validate_gradient(self, index, gradient, meta)
                            for index, (gradient, meta) in enumerate(zip(result,
                                                                         self._input_meta))])
        return result

    def __repr__(self):
        return f"<{self.name().rpartition('::')[2]} object at {id(self):#x}>"

    # ---- recording ---------------------------------------------------------------------------
    @classmethod
    def apply(cls, *args):
        # Hot path of every op: plain loops and list comprehensions, no generator expressions.
        grad_enabled, inference = _grad_state.get()
        ctx = object.__new__(cls)
        # One pass over the arguments collects both the arrays and which inputs need grad.
        arrays = []
        needs = []
        recording = False
        for arg in args:
            if isinstance(arg, Tensor):
                arrays.append(arg._data)
                if arg._requires_grad:
                    recording = True
                    needs.append(True)
                    node = arg.grad_fn
                    if node is not None and node._view_of is not None and grad_enabled:
                        _refresh_view(arg, node)
                else:
                    needs.append(False)
            else:
                arrays.append(arg)
                needs.append(False)
        recording = recording and grad_enabled and not inference
        ctx._recording = recording
        if recording:
            ctx.needs_input_grad = tuple(needs)
            ctx._inputs = args
        else:
            ctx.needs_input_grad = _nothing_needed(len(args))
        array_io = cls.array_io
        if array_io:
            output = cls.forward(ctx, *arrays)
        else:
            ctx._inputs = args
            with no_grad():
                output = cls.forward(ctx, *args)
        if recording or not array_io:
            ctx._inputs = None
        single = type(output) is not tuple
        if single:
            result = Tensor._wrap(output if type(output) is np.ndarray else _as_array(output))
            results = (result,)
        else:
            results = tuple([Tensor._wrap(_as_array(item)) for item in output])
        is_view = cls.is_view and isinstance(args[0], Tensor)
        if inference and not (is_view and not args[0]._is_inference):
            # Made in inference_mode: inference tensors, except views of normal tensors.
            for tensor in results:
                tensor._is_inference = True
        if is_view:
            if args[0]._is_inference:
                results[0]._is_inference = True  # a view of an inference tensor is one too
            counter = results[0]._vc = args[0]._version_counter()
            if recording:
                source = args[0].grad_fn
                parent = source._view_of if source is not None else None
                if parent is None:
                    ctx._view_of = (args[0], ((cls, args[1:]),), counter.value)
                else:
                    ctx._view_of = (parent[0], parent[1] + ((cls, args[1:]),), counter.value)
        if not array_io:
            _remember_user_io(ctx, args, (output,) if single else output, results)
        if recording:
            ctx._sequence_nr = next(_sequence)
            ctx._num_outputs = len(results)
            ctx.next_edges = tuple([
                ((arg.grad_fn, arg._output_nr) if arg.grad_fn is not None else (arg, 0))
                if needed else None for arg, needed in zip(args, needs)])
            non_differentiable = ctx._non_differentiable
            if single and non_differentiable is None:
                if result._data.dtype.kind == "f":
                    result._requires_grad = True
                    result.grad_fn = ctx
                if ctx._saved_checks:
                    _match_saved_outputs(ctx, results)
                return result
            for number, tensor in enumerate(results):
                if non_differentiable and id(output if single else output[number]) in \
                        non_differentiable:
                    continue
                if tensor._data.dtype.kind == "f":
                    tensor._requires_grad = True
                    tensor.grad_fn = ctx
                    tensor._output_nr = number
            if ctx._saved_checks:
                _match_saved_outputs(ctx, results)
        return results[0] if single else results


class Op(Function):
    """Base of ember's own ops: forward and backward take and return NumPy arrays."""

    array_io = True


_NOTHING_NEEDED = [(False,) * count for count in range(8)]


def _nothing_needed(count):
    if count < 8:
        return _NOTHING_NEEDED[count]
    return (False,) * count


def _as_array(item):
    if isinstance(item, Tensor):
        return item._data
    if isinstance(item, np.ndarray):
        return item
    return np.asarray(item)


def _refresh_view(view, node):
    """A view whose base changed in place after the view's node was made (its shared version
    moved on) gets a fresh node chain from the base's current history, as PyTorch regenerates a
    view's grad_fn."""
    base, view_chain, version = node._view_of
    counter = view._vc
    if counter is None or counter.value == version or _grad_state.get()[1]:
        return
    if not base._requires_grad or not np.may_share_memory(base._data, view._data):
        return
    current = base
    for view_class, view_args in view_chain:
        current = view_class.apply(current, *view_args)
    view.grad_fn = current.grad_fn
    view._output_nr = current._output_nr


class CopySlices(Op):
    """A base's new value after one of its views was changed in place: the view's region comes
    from the in-place op, everything else from the base's previous history (PyTorch's node)."""

    def name(self):
        return "ember::autograd::CopySlices"

    @staticmethod
    def backward(ctx, grad):
        rest = np.array(grad, copy=True)
        # Replaying the view ops on the gradient gives the region as a view into it.
        region = rest
        for view_class, view_args in ctx._replay:
            region = view_class.forward(object.__new__(view_class), region, *view_args)
        grad_view = np.array(region, copy=True)
        region[...] = 0
        return (rest if ctx.needs_input_grad[0] else None), grad_view


def _remember_user_io(ctx, args, outputs, results):
    """Tensor-level Functions: an output returned as a Tensor keeps that Tensor's version counter
    (so saving it is checked), and the node keeps shapes and dtypes to validate gradients."""
    for item, result in zip(outputs, results):
        if isinstance(item, Tensor) and not item._is_inference:
            result._vc = item._version_counter()
    ctx._input_meta = tuple([(arg._data.shape, arg._data.dtype) if isinstance(arg, Tensor)
                             else None for arg in args])
    ctx._output_meta = tuple([(result._data.shape, result._data.dtype) for result in results])


def _validate_gradient(node, index, gradient, meta):
    """A user backward's gradient as an array of its input's shape (summing broadcast dims, as
    PyTorch does) and dtype; RuntimeError when the shapes are incompatible."""
    if isinstance(gradient, Tensor):
        gradient = gradient._data
    if gradient is None or meta is None:
        return gradient
    shape, dtype = meta
    gradient = np.asarray(gradient)
    if gradient.shape != shape:
        try:
            compatible = np.broadcast_shapes(shape, gradient.shape) == gradient.shape
        except ValueError:
            compatible = False
        if not compatible:
            raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index "
                               f"{index} - got {list(gradient.shape)} but expected shape "
                               f"compatible with {list(shape)}")
        extra = gradient.ndim - len(shape)
        axes = tuple(range(extra)) + tuple(extra + axis for axis, size in enumerate(shape)
                                           if size == 1 and gradient.shape[extra + axis] != 1)
        gradient = gradient.sum(axis=axes, keepdims=True).reshape(shape)
    if gradient.dtype != dtype:
        gradient = gradient.astype(dtype)
    return gradient


def _match_saved_outputs(ctx, results):
    """Tie saved arrays that are outputs of this node to the outputs' version counters (arrays
    that are neither inputs nor outputs are private to the node and need no check)."""
    saved = ctx.saved
    matched = []
    for check in ctx._saved_checks:
        if check[1] is not None:
            matched.append(check)
            continue
        item = saved[check[0]]
        number = 0
        for tensor in results:
            if tensor._data is item:
                counter = tensor._version_counter()
                matched.append((check[0], counter, counter.value, ctx, number))
                break
            number += 1
    ctx._saved_checks = matched


_SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward.")
