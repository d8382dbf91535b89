"""``Op``, the base of ember's own differentiable ops, and ``Function``, the user-facing adapter.

An ``Op``'s forward and backward take and return NumPy arrays (no Tensor wrapping inside kernels).
``Function`` is ``torch.autograd.Function``: forward and backward on Tensors. ``apply`` is the same
for both, in three steps: collect the inputs, run forward, record the node.
"""
import functools
import threading

import numpy as np

from .._dtype import _repr_prefix, from_numpy_dtype, is_differentiable
from .._layout import LayoutStorage, pointwise_layout, row_major_layout, unary_layout
from ..tensor import Tensor, mark_unrecorded_view
from .._grad_state import _grad_state
from .grad_mode import no_grad
from .node import BatchedForward, Node, _sequence, saved_tensors_hooks_state
from .views import record_view, refresh_view

# ember.onnx sets this while it traces a model: called as ``_tracer(cls, ctx, args, results)``
# after every op; None otherwise (one global check per op).
_tracer = None
# ember.autograd.forward_ad sets this while a dual level is open: called as
# ``_forward_ad_hook(ctx, args, results)`` after each recorded custom Function that defines
# ``jvp`` and no ``backward``.
_forward_ad_hook = None
# Set by the forward-mode transforms (ember.func.jvp, jacfwd, forward_ad) while they transpose a
# graph by the double-vjp trick: a custom Function's node then stands for its ``jvp`` (see
# _TransposedJvp). Its value is a check of the Function's class (jacfwd's vmap support), or True.
_forward_mode = None
class _Transforms(threading.local):
    depth = 0  # the ember.func transforms calling a user function in this thread
    # Per grad-type transform in progress (grad, vjp, jvp and those built on them), outermost
    # first: the ids of the tensors it passed to the user's function, and of the vmap levels
    # in progress when it started.
    arguments = ()
    vmap_levels = ()
    reverse = 0  # the reverse-mode transforms among them (grad, vjp, jacrev)


# PyTorch's refusal of saved tensor hooks (non-reentrant checkpoint, save_on_cpu) while a
# reverse-mode transform runs.
SAVED_TENSOR_HOOKS_REFUSED = ("torch.func.{grad, vjp, jacrev, hessian} don't yet support saved "
                              "tensor hooks. Please open an issue with your use case.")


def grad_transform_within(level_id):
    """Whether a grad-type transform started inside the vmap level ``level_id`` is running."""
    for levels in _transforms.vmap_levels:
        if level_id in levels:
            return True
    return False


def refuse_captured_mutation(tensor, operation):
    """PyTorch's refusal to change in place, inside a grad-type transform, a tensor that is not
    an argument of every such transform in progress (one the function captured)."""
    for arguments in _transforms.arguments:
        if id(tensor) not in arguments:
            raise RuntimeError(f"During a grad (vjp, jvp, grad, etc) transform, the function "
                               f"provided attempted to call in-place operation ({operation}) "
                               f"that would mutate a captured Tensor. This is not supported; "
                               f"please rewrite the function being transformed to explicitly "
                               f"accept the mutated Tensor(s) as inputs.")


_transforms = _Transforms()
# Set by ember.func's forward-mode transforms while they call the user's function, which PyTorch
# runs on dual tensors (batched under jacfwd and hessian): ``check(function_class, args)`` of
# each custom Function applied (its jvp, its vmap support).
_forward_check = None
# ember.func's BatchedTensor: a custom Function given one hands itself to vmap's dispatch, which
# applies PyTorch's rules for custom Functions under vmap (their ``vmap`` or generated rule).
_batched_tensor_type = None
# True while saved_tensors_hooks are active in some thread (ember.autograd.graph sets it): the
# one check a recorded op makes for them.
_saved_tensors_hooks = False


# PyTorch's name of the node of a gradient that has no derivative formula of its own.
NOT_IMPLEMENTED = "torch::autograd::NotImplemented"


class Op(Node):
    """One differentiable op: ``forward(ctx, *arrays)`` and ``backward(ctx, *grads)`` on arrays,
    side by side; ``YourOp.apply(*args)`` runs forward and records the node when grad is on.

    ``is_view``: output 0 shares memory and version counter with input 0.

    A backward written against ``ctx.xp`` (NumPy's array-API namespace) rather than ``np``, and
    marked ``differentiable_backward``, also runs under create_graph: there ``ctx.xp`` is ember's
    namespace of differentiable ops and grads and saved values are Tensors, so the backward
    itself is recorded.
    """

    is_view = False
    # Set on a view op's node whose forward had to copy (a reshape of a non-viewable layout):
    # its output is then a new tensor, not a view of the input, as PyTorch's _unsafe_view.
    copied = False
    # True where PyTorch's backward of the op is its own node that keeps the op's input (relu's
    # threshold_backward, max pooling's backward, ...): under create_graph the input gradients
    # then depend on the input, with derivative 0, so a further grad gives zeros, not an error.
    backward_keeps_input = False
    # True where PyTorch's backward is one fused node (convolution_backward,
    # native_layer_norm_backward, ...): under create_graph all its gradients require grad, even
    # one made from grad_output alone (the bias's), whose own gradient is then None.
    backward_is_one_node = False
    # (exception type, message) where PyTorch's backward of the op has no derivative: under
    # create_graph the gradients require grad, and differentiating them raises this.
    double_backward_error = None
    # PyTorch's name of the refusing gradients' node where its backward is an op of its own
    # (PdistBackwardBackward0); None: the generic NOT_IMPLEMENTED node.
    double_backward_name = None
    # (exception type, message) where PyTorch has no forward-mode derivative for the op: raised
    # when a forward-mode transform reaches an op that also has a double_backward_error.
    forward_ad_error = None
    # An elementwise op with a double_backward_error whose forward mode PyTorch has: its
    # Jacobian being diagonal, forward-mode transforms apply its backward to the tangent; a
    # further derivative of that raises ``backward_forward_ad_error`` under a Hessian.
    forward_ad_by_backward = False
    backward_forward_ad_error = None
    # False where PyTorch's backward of the op does not take the op's inputs: the gradients made
    # under create_graph then depend on the grad_outputs alone (see without_double_backward).
    double_backward_takes_inputs = True
    accepts_layouts = False  # True for ember.sparse's ops, whose inputs may be layout storages
    _tensor_level = False  # True for Function: forward and backward on Tensors (the adapter)
    xp = np
    differentiable_backward = False
    # ``output_layout(output, arrays)``: each output array laid out as PyTorch lays out the op's
    # result for these inputs (ember._layout: pointwise_layout, spatial_layout); None: as is.
    output_layout = None

    @classmethod
    def apply(cls, *args):
        # Hot path of every op: plain loops, no generator expressions.
        # 1. Collect: the arrays, which inputs need grad, and whether to record at all.
        grad_enabled, inference = _grad_state.get()
        ctx = object.__new__(cls._backward_cls if cls._tensor_level else cls)
        if not grad_enabled or inference:
            # Nothing is recorded: only the arrays are needed.
            arrays = [arg._data if isinstance(arg, Tensor) else arg for arg in args]
            any_needs = False
        else:
            arrays = []
            needs = []
            edges = []
            any_needs = False
            for arg in args:
                if isinstance(arg, Tensor):
                    arrays.append(arg._data)
                    if arg._requires_grad:
                        any_needs = True
                        node = arg.grad_fn
                        if node is None:
                            if arg._view_creation is not None and \
                                    not arg._view_creation.leaf_edge():
                                needs.append(False)  # a view made unrecorded: no edge
                                edges.append(None)
                                continue
                            needs.append(True)
                            edges.append((arg, 0))
                            continue
                        needs.append(True)
                        if node._view_of is not None:
                            refresh_view(arg, node)
                            node = arg.grad_fn
                        edges.append((node, arg._output_nr))
                        continue
                else:
                    arrays.append(arg)
                needs.append(False)
                edges.append(None)
        recording = any_needs and grad_enabled and not inference
        ctx._recording = recording
        if recording:
            ctx.needs_input_grad = tuple(needs)
            ctx._inputs = args
        else:
            ctx.needs_input_grad = _nothing_needed(len(args))
        # 2. Run forward. The try costs nothing unless something is raised (zero-cost
        # exceptions): a value batched by ember.func.vmap raises when its data is touched, and
        # a kernel given a sparse tensor's storage fails naming the op.
        try:
            if cls._tensor_level:
                output = ctx._forward_on_tensors(args)
            else:
                output = cls.forward(ctx, *arrays)
        except BatchedForward:
            return BatchedForward.dispatch(cls, args)
        except Exception as error:
            if not cls._tensor_level:
                _raise_for_layout(ctx, arrays, error)
            raise
        layout = cls.output_layout
        if layout is not None and layout in _AS_IS_FOR_ROW_MAJOR and (
                layout is pointwise_layout
                or type(output) is np.ndarray and output.flags.c_contiguous):
            # the common case inline: row-major operands leave NumPy's row-major result as is
            for array in arrays:
                if type(array) is np.ndarray and not array.flags.c_contiguous:
                    break
            else:
                layout = None
        if layout is not None:
            if type(output) is np.ndarray:
                laid_out = cls.output_layout(output, arrays)
                if laid_out is not output:
                    output = _saved_as_laid_out(ctx, output, laid_out)
            elif type(output) is tuple:
                output = tuple([_saved_as_laid_out(ctx, item, cls.output_layout(item, arrays))
                                if type(item) is np.ndarray else item for item in output])
        if recording or cls._tensor_level:
            ctx._inputs = None
        single = type(output) is not tuple
        if single:
            result = Tensor._wrap(output) if type(output) is np.ndarray else _wrap_output(output)
            results = (result,)
        else:
            results = tuple([_wrap_output(item) for item in output])
        if inference or cls.is_view:
            _mark_inference_and_views(cls, ctx, args, results, inference, recording)
        if cls._tensor_level:
            ctx._remember_tensor_io(args, output, results)
            if ctx._dirty is not None:
                results = ctx._returned_dirty_inputs(output, results, recording)
                result = results[0]
        # 3. Record: edges to the inputs' nodes, this node as the outputs' grad_fn.
        if recording:
            ctx._sequence_nr = next(_sequence)
            ctx._num_outputs = len(results)
            ctx.next_edges = tuple(edges)
            if single and ctx._non_differentiable is None:
                dtype = result._data.dtype
                if dtype.kind == "f" or is_differentiable(dtype):
                    result._requires_grad = True
                    result.grad_fn = ctx
            else:
                _attach_outputs(ctx, output, results)
            if ctx._saved_unmatched:
                ctx._match_saved_outputs(results)
            if _saved_tensors_hooks and not saved_tensors_hooks_state.inplace:
                ctx._pack_saved(results)
            # (a dual's consumers are recorded: dual tensors require grad in ember)
            if _forward_ad_hook is not None and cls._tensor_level and \
                    cls.jvp is not Function.jvp and cls.backward is Function.backward and \
                    cls.vjp is Function.vjp:
                _forward_ad_hook(ctx, args, results)
        if _tracer is not None:
            _tracer(cls, ctx, args, results)
        return result if single else results

    def _backward_with_history(self, grad_outputs):
        if self.double_backward_error is not None:
            if _forward_mode is not None:
                if self.forward_ad_error is not None:
                    raise self.forward_ad_error[0](self.forward_ad_error[1])
                if self.forward_ad_by_backward:
                    return _DiagonalTranspose.linked(self, grad_outputs)
            return self._backward_without_derivative(grad_outputs)
        if not self.differentiable_backward:
            return Node._backward_with_history(self, grad_outputs)
        for grad in grad_outputs:
            if grad is not None:
                self.xp = grad.__array_namespace__()
                break
        self._unpack_as_tensors = True
        try:
            result = self.backward(self, *grad_outputs)
        finally:
            self._unpack_as_tensors = False
            del self.xp
        if self.backward_is_one_node:
            inputs = tuple([edge for edge in self.next_edges if edge is not None])
            results = result if type(result) is tuple else (result,)
            return tuple([_BackwardOutput.link(gradient, inputs, self.name(), None)
                          if isinstance(gradient, Tensor) and not gradient._requires_grad
                          and edge is not None else gradient
                          for gradient, edge in zip(results, self.next_edges)])
        if not self.backward_keeps_input:
            return result
        results = result if type(result) is tuple else (result,)
        return tuple([_InputLink.link(gradient, edge)
                      if isinstance(gradient, Tensor) and edge is not None else gradient
                      for gradient, edge in zip(results, self.next_edges)])

    def _backward_without_derivative(self, grad_outputs):
        """The array backward's gradients, each made the output of a node (with this op's
        inputs and grad_outputs as its inputs) whose backward raises ``double_backward_error``."""
        arrays = [grad._data if isinstance(grad, Tensor) else grad for grad in grad_outputs]
        result = self.backward(self, *arrays)
        results = result if type(result) is tuple else (result,)
        inputs = tuple([(grad.grad_fn, grad._output_nr) if grad.grad_fn is not None else (grad, 0)
                        for grad in grad_outputs
                        if isinstance(grad, Tensor) and grad._requires_grad])
        if self.double_backward_takes_inputs:
            inputs += tuple([edge for edge in self.next_edges if edge is not None])
        if not inputs:  # nothing to differentiate the gradients with respect to
            return tuple([None if gradient is None or edge is None else Tensor._wrap(gradient)
                          for gradient, edge in zip(results, self.next_edges)])
        name = self.double_backward_name or NOT_IMPLEMENTED
        return tuple([_BackwardOutput.link(Tensor._wrap(gradient), inputs, name,
                                           self.double_backward_error,
                                           self.forward_ad_error or self.backward_forward_ad_error)
                      if gradient is not None and edge is not None else None
                      for gradient, edge in zip(results, self.next_edges)])


# Layouts that keep a row-major result as it is when every operand is row-major (a
# pointwise result whatever its own layout), checked inline by Op.apply.
_AS_IS_FOR_ROW_MAJOR = frozenset([pointwise_layout, unary_layout, row_major_layout])


def _saved_as_laid_out(ctx, output, laid_out):
    """``laid_out``, the forward's ``output`` laid out by ``output_layout``; where the forward
    saved that output for backward, it is saved as laid out."""
    if laid_out is not output and ctx._saved_unmatched:
        ctx.saved = tuple([laid_out if item is output else item for item in ctx.saved])
    return laid_out


class _InputLink(Node):
    """A gradient made under create_graph, also linked to the forward input it is the gradient
    of, with derivative 0 there (see ``Op.backward_keeps_input``)."""

    def name(self):
        return "InputLinkBackward0"

    zeros_meta = None  # (shape, dtype) of the input where it is not the gradient's

    @classmethod
    def link(cls, gradient, input_edge, input_meta=None):
        if type(gradient._data) is not np.ndarray:
            return gradient  # a vmap batch's stand-in: its graph is the batch's, not linked
        node = object.__new__(cls)
        node.zeros_meta = input_meta
        if gradient.grad_fn is not None:
            gradient_edge = (gradient.grad_fn, gradient._output_nr)
        else:
            gradient_edge = (gradient, 0) if gradient._requires_grad else None
        node._recording = True
        node.needs_input_grad = (gradient_edge is not None, True)
        node.next_edges = (gradient_edge, input_edge)
        node._sequence_nr = next(_sequence)
        node._num_outputs = 1
        linked = Tensor._wrap(gradient._data, True)
        linked.grad_fn = node
        return linked

    def _zeros(self, grad):
        if self.zeros_meta is None:
            return np.zeros_like(grad)
        return np.zeros(*self.zeros_meta)

    @staticmethod
    def backward(ctx, grad):
        return (grad if ctx.needs_input_grad[0] else None), ctx._zeros(grad)

    def _backward_with_history(self, grad_outputs):
        (grad,) = grad_outputs
        zeros = Tensor._wrap(self._zeros(grad._data))
        return (grad if self.needs_input_grad[0] else None), zeros


class _BackwardOutput(Node):
    """A gradient made under create_graph by a backward that PyTorch records as one node over
    the op's inputs: differentiating it gives None for them (``error`` None) or raises."""

    @classmethod
    def link(cls, gradient, input_edges, owner_name, error, forward_ad_error=None):
        node = object.__new__(cls)
        node._recording = True
        node.needs_input_grad = (True,) * len(input_edges)
        node.next_edges = input_edges
        node._sequence_nr = next(_sequence)
        node._num_outputs = 1
        node._torch_name = (owner_name if error is not None
                            else owner_name[:-1] + "Backward0")
        node.error = error
        node.forward_ad_error = forward_ad_error
        linked = Tensor._wrap(gradient._data, True)
        linked.grad_fn = node
        return linked

    @staticmethod
    def backward(ctx, grad):
        if ctx.error is not None:
            error_type, message = ctx.error
            if ctx.forward_ad_error is not None and (
                    _forward_mode is not None or _forward_check is not None):
                error_type, message = ctx.forward_ad_error  # PyTorch got here by forward mode
            raise error_type(message)
        return (None,) * len(ctx.next_edges)

    def _backward_with_history(self, grad_outputs):
        return self.backward(self, *grad_outputs)


class _DiagonalTranspose(Node):
    """Under a forward-mode transform's first sweep, the input gradient of an elementwise op
    whose backward PyTorch cannot differentiate (``forward_ad_by_backward``): as a function of
    grad_output only, whose vjp along a tangent is the op's backward of that tangent (the
    Jacobian is diagonal, so its transpose is itself): the op's forward-mode derivative."""

    def name(self):
        return NOT_IMPLEMENTED

    @classmethod
    def linked(cls, owner, grad_outputs):
        (grad,) = grad_outputs
        node = object.__new__(cls)
        node.owner = owner
        node._recording = True
        node.needs_input_grad = (True,)
        node.next_edges = ((grad.grad_fn, grad._output_nr) if grad.grad_fn is not None
                           else (grad, 0),)
        node._sequence_nr = next(_sequence)
        node._num_outputs = 1
        gradient = Tensor._wrap(node._applied(grad._data), True)
        gradient.grad_fn = node
        return (gradient,) + (None,) * (len(owner.next_edges) - 1)

    def _applied(self, grad):
        result = self.owner.backward(self.owner, grad)
        return result[0] if type(result) is tuple else result

    @staticmethod
    def backward(ctx, grad):
        return (ctx._applied(grad),)

    def _backward_with_history(self, grad_outputs):
        (grad,) = grad_outputs
        owner = self.owner
        inputs = tuple([edge for edge in (self.next_edges + owner.next_edges)
                        if edge is not None])
        if isinstance(grad, Tensor) and grad._requires_grad:
            inputs = ((grad.grad_fn, grad._output_nr) if grad.grad_fn is not None
                      else (grad, 0),) + inputs
        array = self._applied(grad._data if isinstance(grad, Tensor) else grad)
        return (_BackwardOutput.link(Tensor._wrap(array), inputs, NOT_IMPLEMENTED,
                                     owner.double_backward_error,
                                     owner.backward_forward_ad_error),)


def transposing_for_forward_mode():
    """Whether the first sweep of a forward-mode transform is running: backwards there stand
    for their op's forward derivative (transposed), which may differ from its gradient."""
    return _forward_mode is not None


def forward_mode_active():
    """Whether a forward-mode transform's first sweep is running (see ``_forward_mode``), or
    ember.func.hessian (PyTorch's is forward over reverse)."""
    return _forward_mode is not None or _forward_check is not None


def forward_ad_unsupported(name):
    """PyTorch's refusal of forward mode (jvp, jacfwd, forward AD, its Hessian) for ``name``."""
    return (NotImplementedError,
            f"Trying to use forward AD with {name} that does not support it because it has not "
            f"been implemented yet.\nPlease file an issue to PyTorch at "
            f"https://github.com/pytorch/pytorch/issues/new?template=feature-request.yml so "
            f"that we can prioritize its implementation or submit a PR adding the "
            f"implementation to derivatives.yaml")


def torch_named(output, name):
    """Give the node that made ``output`` (if recorded) PyTorch's name for what the call did,
    where one ember op serves several PyTorch ops (view and unsqueeze are both a reshape);
    returns ``output``."""
    physical = output
    while _batched_tensor_type is not None and type(physical) is _batched_tensor_type:
        physical = physical._data.value  # under vmap: the op ran on the whole batch
    node = physical.grad_fn
    if node is not None:
        node._torch_name = name
    return output


def keep_input_in_gradient(output):
    """Mark the op that made ``output`` as one whose backward keeps its input (see
    ``Op.backward_keeps_input``), for an op that does so only in some of its uses (reflect
    padding, not constant padding); returns ``output``."""
    if isinstance(output.grad_fn, Op):
        output.grad_fn.backward_keeps_input = True
    return output


def linked_to_input(gradient, input_edge, input_meta):
    """``gradient`` (made under create_graph) also depending on the op input at ``input_edge``
    with derivative zeros of ``input_meta`` (shape, dtype): where PyTorch's backward node
    takes that input although this gradient does not vary with it."""
    return _InputLink.link(gradient, input_edge, input_meta)


def without_double_backward(output, error_type, message, forward_ad_error=None,
                            takes_inputs=True):
    """Mark the op that made ``output`` as one whose backward PyTorch cannot differentiate in
    this use (see ``Op.double_backward_error``), and, with ``forward_ad_error``, one that
    PyTorch's forward mode refuses; returns ``output``."""
    if isinstance(output.grad_fn, Op):
        output.grad_fn.double_backward_error = (error_type, message)
        output.grad_fn.forward_ad_error = forward_ad_error
        output.grad_fn.double_backward_takes_inputs = takes_inputs
    return output


def _nothing_needed(count):
    if count < len(_NOTHING_NEEDED):
        return _NOTHING_NEEDED[count]
    return (False,) * count


_NOTHING_NEEDED = [(False,) * count for count in range(8)]


def _wrap_output(item):
    """A forward's output as a new Tensor: arrays and Tensors' arrays wrapped, a storage of
    another layout (ember.sparse) in the Tensor subclass that it names."""
    from_tensor = isinstance(item, Tensor)
    if from_tensor:
        item = item._data
    if isinstance(item, LayoutStorage):
        tensor = Tensor._wrap(item)
        tensor.__class__ = item.tensor_type
        return tensor
    # A Tensor's data is kept as it is (under ember.func.vmap it is a batched stand-in).
    return Tensor._wrap(item if from_tensor or isinstance(item, np.ndarray) else np.asarray(item))


def _raise_for_layout(ctx, arrays, error):
    """A dense op's forward that failed on the storage of a sparse tensor: NotImplementedError
    naming the op (only reached when a forward raises, so the dense path pays nothing)."""
    if ctx.accepts_layouts:
        return
    for array in arrays:
        if isinstance(array, LayoutStorage):
            operation = ctx.name().removesuffix("Backward0")
            raise NotImplementedError(
                f"{operation}: ember does not support tensors with layout={array.layout!r} in "
                f"this operation; convert with .to_dense() first (ember.sparse supports "
                f"construction, coalesce, to_dense, sum and sparse @ dense products)") from error


def _mark_inference_and_views(cls, ctx, args, results, inference, recording):
    """Outputs made in inference_mode are inference tensors, except views of normal tensors; a
    view shares its input's version counter and, when recorded, remembers its base; made
    unrecorded of a tensor that requires grad, it requires grad too (PyTorch's views)."""
    is_view = cls.is_view and isinstance(args[0], Tensor) and not ctx.copied
    if is_view and not recording and (inference or args[0]._requires_grad):
        is_view = np.may_share_memory(args[0]._data, results[0]._data)  # a reshape may copy
    if inference and not (is_view and not args[0]._is_inference):
        for tensor in results:
            tensor._is_inference = True
    if is_view:
        base = args[0]
        if base._is_inference:
            results[0]._is_inference = True  # a view of an inference tensor is one too
        counter = results[0]._vc = base._version_counter()
        if recording:
            record_view(ctx, cls, args, counter)
            if base._view_creation is not None:
                # PyTorch's view of such a view keeps its creation mode (for in-place errors).
                results[0]._view_creation = base._view_creation
        elif base._requires_grad and not base._is_inference:
            mark_unrecorded_view(results[0], counter, inference)


def _attach_outputs(ctx, output, results):
    """Make ``ctx`` the grad_fn of every floating output not marked non-differentiable."""
    non_differentiable = ctx._non_differentiable
    outputs = output if type(output) is tuple else (output,)
    for number, tensor in enumerate(results):
        if non_differentiable and id(outputs[number]) in non_differentiable:
            continue
        if is_differentiable(tensor._data.dtype):
            tensor._requires_grad = True
            tensor.grad_fn = ctx
            tensor._output_nr = number


class FunctionCtx:
    """What ``ctx`` offers a custom Function beyond a node's ``save_for_backward`` and
    ``mark_non_differentiable`` (PyTorch's FunctionCtx, a base of both Function and its nodes)."""

    def save_for_backward(self, *tensors):
        """Node.save_for_backward, refusing what is neither a Tensor nor None (PyTorch)."""
        for position, item in enumerate(tensors):
            if item is not None and not isinstance(item, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument "
                                f"{position} is of type {type(item).__name__}")
        Node.save_for_backward(self, *tensors)

    def save_for_forward(self, *tensors):
        """Keep tensors for ``jvp``, where ``ctx.saved_tensors`` returns them."""
        self._saved_for_forward = tensors

    def mark_dirty(self, *tensors):
        """Declare inputs that forward modified in place (and returns): the call gives back
        those very tensors, their history now running through this node."""
        self._dirty = {id(tensor) for tensor in tensors}

    def set_materialize_grads(self, value):
        """With False, backward receives None (not zeros) for outputs that got no gradient."""
        self._materialize_grads = bool(value)


class BackwardCFunction(FunctionCtx, Node):
    """The node of one call of a custom Function, and the ``ctx`` its forward, setup_context,
    backward and jvp receive: each Function ``F`` gets its subclass ``FBackward`` (PyTorch's
    class and name), whose ``_forward_cls`` is ``F``."""

    _forward_cls = None
    _tensor_level = True
    _materialize_grads = True
    _dirty = None
    _saved_for_forward = None  # what save_for_forward kept; saved_tensors while jvp runs
    _in_jvp = False
    xp = np

    @staticmethod
    def backward(ctx, *grad_outputs):
        return ctx._forward_cls.backward(ctx, *grad_outputs)

    def apply(self, *grad_outputs):
        """The Function's backward on this node (PyTorch's ``grad_fn.apply``)."""
        return self._forward_cls.backward(self, *grad_outputs)

    @property
    def saved_tensors(self):
        if self._in_jvp:
            return self._saved_for_forward or ()
        return Node.saved_tensors.fget(self)

    def name(self):
        """PyTorch's name of a custom Function's node: the class name and ``Backward`` (no
        number, unlike its built-in ops' nodes)."""
        name = self._torch_name
        return name if name is not None else type(self).__name__

    def __repr__(self):
        return f"<{_repr_prefix[0]}.autograd.function.{self.name()} object at {id(self):#x}>"

    def _returned_dirty_inputs(self, output, results, recording):
        """``results`` with each output that is a dirty input replaced by that input itself."""
        outputs = output if type(output) is tuple else (output,)
        if not self._dirty <= {id(item) for item in outputs}:
            raise RuntimeError("Some elements marked as dirty during the forward method were not "
                               "returned as output. The inputs that are modified inplace must "
                               "all be outputs of the Function.")
        replaced = list(results)
        for number, item in enumerate(outputs):
            if not isinstance(item, Tensor) or id(item) not in self._dirty:
                continue
            if recording and item.grad_fn is None and item._requires_grad:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
            if recording:
                item.grad_fn = None
                item._requires_grad = False
                item._output_nr = number
            # PyTorch counts the Function's change once more; a saved copy of it stays valid.
            counter = item._version_counter() if not item._is_inference else None
            item._bump_version()
            if counter is not None and self._saved_checks:
                self._saved_checks = [
                    (index, owned, counter.value if owned is counter else version, owner, output)
                    for index, owned, version, owner, output in self._saved_checks]
            replaced[number] = item
        return tuple(replaced)

    def _forward_on_tensors(self, args):
        function = self._forward_cls
        self._inputs = args
        if _batched_tensor_type is not None:
            for arg in args:
                if type(arg) is _batched_tensor_type:
                    raise BatchedForward(function.__name__)
        if _forward_check is not None:
            _forward_check(function, args)
        with no_grad():
            if function.setup_context is Function.setup_context:
                if _transforms.depth and not function._runs_in_transforms:
                    raise RuntimeError(
                        "In order to use an autograd.Function with functorch transforms (vmap, "
                        "grad, jvp, jacrev, ...), it must override the setup_context "
                        "staticmethod. For more details, please see "
                        "https://pytorch.org/docs/main/notes/extending.func.html")
                return function.forward(self, *args)
            output = function.forward(*args)
            function.setup_context(self, args, output)
            return output

    def _remember_tensor_io(self, args, output, results):
        """An output returned as a Tensor keeps that Tensor's version counter (so saving it is
        checked); saved outputs are tied to this node; shapes and dtypes are kept to validate
        the gradients backward returns."""
        outputs = output if type(output) is tuple else (output,)
        for item, result in zip(outputs, results):
            if isinstance(item, Tensor) and not item._is_inference:
                result._vc = item._version_counter()
        if self._saved_checks:
            positions = {id(item): number for number, item in enumerate(outputs)}
            checks = []
            for index, counter, version, owner, output_nr in self._saved_checks:
                if id(owner) in positions:  # a saved output: owned by this node
                    owner, output_nr = None, positions[id(owner)]
                checks.append((index, counter, version, owner, output_nr))
            self._saved_checks = checks
        self._input_meta = tuple([(arg._data.shape, arg._data.dtype) if isinstance(arg, Tensor)
                                 else None for arg in args])
        self._output_meta = tuple([(result._data.shape, result._data.dtype)
                                  for result in results])

    def _run_backward(self, grad_outputs, create_graph):
        grads = []
        for grad, (shape, dtype) in zip(grad_outputs, self._output_meta):
            if grad is None:
                # PyTorch gives Tensor-level backward zeros for outputs that received no grad.
                grad = Tensor._wrap(np.zeros(shape, dtype)) if self._materialize_grads else None
            elif not isinstance(grad, Tensor):
                grad = Tensor._wrap(grad)
            grads.append(grad)
        self._unpack_as_tensors = create_graph
        try:
            result = Node._run_backward(self, grads, create_graph)
        finally:
            self._unpack_as_tensors = False
        return tuple([_validate_gradient(self, index, gradient, meta, create_graph)
                      for index, (gradient, meta) in enumerate(zip(result, self._input_meta))])

    def _backward_with_history(self, grad_outputs):
        if _forward_mode is not None:
            return self._transposed_jvp(grad_outputs)
        return self.backward(self, *grad_outputs)  # the engine runs it with grad mode on

    def _transposed_jvp(self, grad_outputs):
        """Under a forward-mode transform: this call's transposed Jacobian as the node of
        _TransposedJvp, so that the transform's tangents go through the Function's ``jvp`` (as
        PyTorch's forward AD does), never its backward; NotImplementedError without a jvp."""
        function = self._forward_cls
        if callable(_forward_mode):
            _forward_mode(function)
        if function.jvp is Function.jvp:
            function.jvp(self)
        grads = [Tensor._wrap(np.zeros(shape, dtype)) if grad is None else grad
                 for grad, (shape, dtype) in zip(grad_outputs, self._output_meta)]
        transposed = _TransposedJvp.apply(self, *grads)
        transposed = iter(transposed if type(transposed) is tuple else (transposed,))
        return tuple([None if edge is None else next(transposed) for edge in self.next_edges])


class FunctionMeta(type):
    """The metaclass of Function: gives each Function ``F`` its node class ``FBackward``
    (``F._backward_cls``), a BackwardCFunction whose ``_forward_cls`` is ``F``."""

    def __init__(cls, name, bases, attributes):
        backward_name = name + "Backward"
        cls._backward_cls = type(backward_name, (BackwardCFunction,), {
            "_forward_cls": cls, "__module__": __name__, "__qualname__": backward_name})
        super().__init__(name, bases, attributes)


class Function(FunctionCtx, Op, metaclass=FunctionMeta):
    """Base class for custom differentiable operations (``torch.autograd.Function``): subclass
    with ``forward(ctx, *args)`` (or ``forward(*args)`` and ``setup_context(ctx, inputs,
    output)``) and ``backward(ctx, *grad_outputs)`` static methods on Tensors and call
    ``YourFunction.apply(*args)``. Each call's ``ctx`` is also its graph node (``grad_fn``): an
    instance of ``YourFunction._backward_cls``, a BackwardCFunction."""

    _tensor_level = True
    # Under ``torch.func.vmap``: True runs ``forward`` on the batched inputs (PyTorch's generated
    # rule); otherwise the Function needs its own ``vmap`` staticmethod.
    generate_vmap_rule = False
    # ember's own Functions, which ember.func's transforms run as they are: True
    _runs_in_transforms = False

    @staticmethod
    def vmap(info, in_dims, *args):
        """The batching rule: outputs and their batch dims (``out_dims``) from the unbatched
        inputs, ``in_dims`` saying where each input's batch dimension is (None: not batched)."""
        raise NotImplementedError("To use autograd.Function with vmap, you must either override "
                                  "the vmap staticmethod or set generate_vmap_rule=True.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        """The reverse-mode derivative: input gradients from output gradients (``vjp`` is its
        other name, as in PyTorch)."""
        function = ctx._forward_cls
        if function.vjp is not Function.vjp:
            return function.vjp(ctx, *grad_outputs)
        raise NotImplementedError("You must implement either the backward or vjp method for your "
                                  "custom autograd.Function to use it with backward mode AD.")

    @staticmethod
    def vjp(ctx, *grad_outputs):
        """``backward``'s other name: a Function defines one of them."""
        return Function.backward(ctx, *grad_outputs)

    @staticmethod
    def jvp(ctx, *grad_inputs):
        """The forward-mode derivative: output tangents from input tangents (forward AD)."""
        error = NotImplementedError("You must implement the jvp function for custom "
                                    "autograd.Function to use it with forward mode AD.")
        error.vmap_refusal = True  # under ember.func.vmap too: raised, not run per sample
        raise error

    def __call__(self, *args, **kwargs):
        raise RuntimeError("Legacy autograd function with non-static forward method is "
                           "deprecated. Please use new-style autograd function with static "
                           "forward method. (Example: https://pytorch.org/docs/stable/"
                           "autograd.html#torch.autograd.Function)")

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Save what backward needs, when ``forward`` is written without ``ctx``
        (``forward(*args)``); PyTorch's form for Functions used under ``torch.func``."""
        raise NotImplementedError("You must implement the setup_context() method of your "
                                  "custom autograd.Function to use it with torch.func.")


class forward_mode:
    """Context in which the engine's sweep transposes custom Functions through their ``jvp``
    (the forward-mode transforms' first backward); ``check(function_class)`` may refuse one.
    With ``on_apply``, instead checks each custom Function applied (``check(function_class,
    args)``)."""

    def __init__(self, check=True, on_apply=False):
        self.check = check
        self.on_apply = on_apply
        self.previous = None

    def __enter__(self):
        global _forward_mode, _forward_check
        if self.on_apply:
            self.previous, _forward_check = _forward_check, self.check
        else:
            self.previous, _forward_mode = _forward_mode, self.check

    def __exit__(self, *exception):
        global _forward_mode, _forward_check
        if self.on_apply:
            _forward_check = self.previous
        else:
            _forward_mode = self.previous


def call_jvp(node, tangents):
    """The custom Function's ``jvp`` of one call (``node``): output tangents as a tuple, from
    one tangent per forward input (None for non-tensor inputs, as PyTorch passes)."""
    node._in_jvp = True
    try:
        output_tangents = node._forward_cls.jvp(node, *tangents)
    finally:
        node._in_jvp = False
    if not isinstance(output_tangents, tuple):
        output_tangents = (output_tangents,)
    for tangent in output_tangents:
        if tangent is not None and not isinstance(tangent, Tensor):
            raise TypeError(f"{node._forward_cls.__name__}.jvp must return Tensors, got "
                            f"{type(tangent).__name__}")
    return output_tangents


class _TransposedJvp(Function):
    """The transpose of a custom Function's ``jvp`` at one call: inputs are the call's
    grad_outputs, outputs its input gradients, and the vjp along input tangents is the jvp.
    Its value is zeros: forward-mode transforms transpose at zero cotangents (the double-vjp
    trick), where any linear map gives zeros."""

    _runs_in_transforms = True

    @staticmethod
    def forward(node, *grad_outputs):
        zeros = tuple([Tensor._wrap(np.zeros(*node._input_meta[position]))
                       for position, edge in enumerate(node.next_edges) if edge is not None])
        return zeros[0] if len(zeros) == 1 else zeros

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.node = inputs[0]

    @staticmethod
    def backward(ctx, *input_tangents):
        node = ctx.node
        input_tangents = iter(input_tangents)
        tangents = []
        for edge, meta in zip(node.next_edges, node._input_meta):
            if edge is not None:
                tangents.append(next(input_tangents))
            elif meta is not None:
                tangents.append(Tensor._wrap(np.zeros(*meta)))
            else:
                tangents.append(None)
        output_tangents = call_jvp(node, tangents)
        return (None,) + tuple([Tensor._wrap(np.zeros(*meta)) if tangent is None else tangent
                                for tangent, meta in zip(output_tangents, node._output_meta)])


class InplaceFunction(Function):
    """A Function that may work in place (PyTorch's, kept for old code): ``inplace`` is kept."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace


class NestedIOFunction(Function):
    """PyTorch's legacy base for Functions with nested inputs and outputs; ember supports
    only the name (its old-style instances cannot be applied)."""


def _validate_gradient(node, index, gradient, meta, create_graph):
    """A user backward's gradient in its input's shape (summing broadcast dims, as PyTorch does)
    and dtype: an array, or a Tensor under create_graph; RuntimeError for incompatible shapes."""
    if gradient is None or meta is None:
        return None if gradient is None else _plain(gradient, create_graph)
    if not isinstance(gradient, (Tensor, np.ndarray)):
        raise RuntimeError(f"expected Variable or None (got {type(gradient).__name__})")
    shape, dtype = meta
    if create_graph and isinstance(gradient, Tensor):
        array = gradient._data
    else:
        gradient = np.asarray(gradient._data if isinstance(gradient, Tensor) else gradient)
        array = gradient
    if array.shape != shape:
        try:
            compatible = np.broadcast_shapes(shape, array.shape) == array.shape
        except ValueError:
            compatible = False
        if not compatible:
            raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index "
                               f"{index} - got {list(array.shape)} but expected shape "
                               f"compatible with {list(shape)}")
        extra = array.ndim - len(shape)
        axes = tuple(range(extra)) + tuple(extra + axis for axis, size in enumerate(shape)
                                           if size == 1 and array.shape[extra + axis] != 1)
        gradient = gradient.sum(axes, keepdim=True) if isinstance(gradient, Tensor) else \
            gradient.sum(axis=axes, keepdims=True)
        gradient = gradient.reshape(shape)
    if isinstance(gradient, Tensor):
        if gradient._data.dtype != dtype:
            gradient = gradient.to(from_numpy_dtype(dtype))
        return gradient
    return gradient.astype(dtype) if gradient.dtype != dtype else gradient


def _plain(gradient, create_graph):
    if create_graph and isinstance(gradient, Tensor):
        return gradient
    return np.asarray(gradient._data if isinstance(gradient, Tensor) else gradient)


def once_differentiable(backward):
    """Decorate a custom Function's backward that is not itself differentiable: it runs on
    plain values, and differentiating through it raises (PyTorch's decorator)."""
    @functools.wraps(backward)
    def wrapper(ctx, *grad_outputs):
        with no_grad():
            result = backward(ctx, *grad_outputs)
        if not _grad_state.get().grad_enabled:
            return result
        needs_graph = any(isinstance(grad, Tensor) and grad._requires_grad
                          for grad in grad_outputs)
        if not needs_graph:
            return result
        # Outputs that point at a node whose backward raises, as PyTorch's DelayedError.
        results = result if isinstance(result, tuple) else (result,)
        marked = []
        for gradient in results:
            if isinstance(gradient, Tensor):
                marked.append(_DelayedError.apply(gradient.detach().requires_grad_()))
            else:
                marked.append(gradient)
        return tuple(marked) if isinstance(result, tuple) else marked[0]
    return wrapper


class _DelayedError(Op):
    """Identity whose backward raises: what a once_differentiable backward's outputs carry."""

    def name(self):
        return "DelayedError"

    @staticmethod
    def forward(ctx, gradient):
        return gradient

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")


class NestedIOFunction(Function):
    """PyTorch's legacy Function for nested inputs and outputs, kept there (and here) only so
    code that names it loads: define a Function with static ``forward``/``backward`` instead."""


class SavedTensor:
    """The type of a node's raw saved tensors in PyTorch (``grad_fn._raw_saved_self``), named for
    ``isinstance`` checks; ember's nodes do not hand such objects out."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("Trying to create a SavedTensor object from Python is forbidden.")
