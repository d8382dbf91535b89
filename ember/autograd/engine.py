"""Reverse-mode sweep: ``backward`` and ``grad``.

Nodes are visited in decreasing creation order (a heap keyed by sequence number): every consumer of
a node is created after it, so this is a topological order without a separate dependency pass, it
is deterministic, and it needs no recursion. Saved arrays and intermediate gradients are dropped as
soon as the sweep passes their node, so memory falls while backward runs.

Gradients flow as NumPy arrays. Under ``create_graph`` they flow as Tensors and every node's
backward is itself recorded (grad mode is on during the sweep, as in PyTorch), so the gradients
can be differentiated again.
"""
import heapq
import operator
import threading
import warnings
import weakref
from collections.abc import Mapping
from sys import getrefcount

import numpy as np

from .. import _threads
from .._dtype import from_numpy_dtype, repr_prefix
from .._hooks import RemovableHandle
from .._layout import empty_strided, gradient_strides, obeys_gradient_layout
from ..tensor import Size, Tensor, warn_once
from .._grad_state import GradState, _grad_state
from .anomaly_mode import is_anomaly_check_nan_enabled, is_anomaly_enabled
from .function import SAVED_TENSOR_HOOKS_REFUSED, _transforms, torch_named
from .node import next_positions, saved_tensors_hooks_state
from .views import refresh_view


# ---- hooks ------------------------------------------------------------------------------------
class _RetainGrad:
    """What ``retain_grad()`` adds: accumulates a non-leaf's gradient into its ``.grad``; it runs
    after the tensor's own hooks, as in PyTorch."""

    def __init__(self, tensor):
        self._tensor = weakref.ref(tensor)

    def __call__(self, grad):
        tensor = self._tensor()
        if tensor is None:
            return
        if tensor._grad is None:
            tensor._grad = grad.clone() if grad._requires_grad else Tensor._wrap(grad._data.copy())
        elif grad._requires_grad or tensor._grad._requires_grad:
            tensor._grad = tensor._grad + grad
        else:
            tensor._grad._data = tensor._grad._data + grad._data


# warnings.warn's stacklevel that names this module's caller: built by ember._native, this
# module's functions run without a Python frame of their own.
_CALLER = 2 if __file__.endswith(".py") else 1

def add_tensor_hook(tensor, hook):
    """Register ``hook(grad)`` on ``tensor``: on a leaf's own dict, or on its node's per-output
    dict for a non-leaf (so the hook sees the gradient reaching that output)."""
    if tensor.grad_fn is None:
        if tensor._hooks is None:
            tensor._hooks = {}
        hooks = tensor._hooks
    else:
        node = tensor.grad_fn
        if node._tensor_hooks is None:
            node._tensor_hooks = {}
        node._hooked = True
        hooks = node._tensor_hooks.setdefault(tensor._output_nr, {})
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def retain_grad(tensor):
    """Keep ``.grad`` for the non-leaf ``tensor`` after backward."""
    node = tensor.grad_fn
    if node._retained is None:
        node._retained = {}
    node._hooked = True
    node._retained[tensor._output_nr] = _RetainGrad(tensor)


def _run_hooks(hooks, grad, retained=None):
    """Run ``hook(grad)`` in registration order; a non-None result replaces the gradient."""
    as_tensor = isinstance(grad, Tensor)
    for hook in list(hooks.values()) if hooks else ():
        result = hook(grad if as_tensor else Tensor._wrap(grad))
        if result is None:
            continue
        if not isinstance(result, Tensor):
            raise TypeError(f"expected Variable, but hook returned '{type(result).__name__}'")
        if result._data.shape != grad.shape:
            raise RuntimeError(f"hook '{getattr(hook, '__name__', 'hook')}' has changed the size "
                               f"of value")
        grad = result if as_tensor else result._data
    if retained is not None:
        retained(grad if as_tensor else Tensor._wrap(grad))
    return grad


# Leaf id -> hooks run after its .grad is updated (DistributedDataParallel's readiness signal).
# Kept here rather than in a Tensor slot so the hot constructor stays unchanged.
_post_accumulate_hooks = {}


def add_post_accumulate_hook(tensor, hook):
    """Register ``hook(tensor)``, run after backward has updated the leaf's ``.grad``."""
    key = id(tensor)
    hooks = _post_accumulate_hooks.get(key)
    if hooks is None:
        hooks = _post_accumulate_hooks[key] = {}
        weakref.finalize(tensor, _post_accumulate_hooks.pop, key, None)
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


class _Callbacks(threading.local):
    queue = None  # a list while a backward sweep runs in this thread
    capturing = False  # True while the sweep running here is grad()'s or backward(inputs=...)'s


_callbacks = _Callbacks()


def queue_callback(callback):
    """Run ``callback()`` once the backward sweep now running finishes (PyTorch's
    ``Variable._execution_engine.queue_callback``); DDP waits for its all-reduces there."""
    if _callbacks.queue is None:
        raise RuntimeError("queue_callback: no backward pass is running")
    _callbacks.queue.append(callback)


def _references_of_a_result():
    """sys.getrefcount of an array held only by a backward's result tuple, read as the sweep
    reads it (the tuple, the loop's name, getrefcount's argument)."""
    input_grads = (np.empty(0),)
    for index in range(1):
        grad = input_grads[index]
        return getrefcount(grad)


_UNSHARED = _references_of_a_result()


# ---- the sweep --------------------------------------------------------------------------------
class _Pending:
    """Gradient being summed for one node: one slot per output. ``owned`` arrays were made by
    the sweep itself, so later contributions may be added into them in place."""

    __slots__ = ("grads", "owned")

    def __init__(self, count):
        self.grads = [None] * count
        self.owned = [False] * count

    def add(self, number, grad, owned):
        current = self.grads[number]
        if current is None:
            self.grads[number] = grad
            self.owned[number] = owned
        else:
            self.grads[number] = _summed(current, self.owned[number], grad)
            self.owned[number] = True


def _summed(current, owned, grad):
    """``current + grad``: into ``current`` itself when it is an array the sweep made (``owned``)
    and the sum keeps its shape and dtype, else a new value (a recorded sum for the Tensors of a
    create_graph sweep)."""
    if owned and type(current) is np.ndarray and current.dtype == grad.dtype and (
            current.shape == grad.shape
            or current.shape == np.broadcast_shapes(current.shape, grad.shape)):
        if current.size >= _threads.ELEMENT_GRAIN:
            _threads.binary(np.add, current, grad, out=current)
        else:
            current += grad
        return current
    return current + grad


def run_backward(roots, root_grads, retain_graph, create_graph, capture=None, fresh=None):
    """``_sweep`` with grad mode set to ``create_graph``, then the callbacks queued during it."""
    state = _grad_state.get()
    token = _grad_state.set(GradState(create_graph, state.inference))
    outer_queue = _callbacks.queue
    outer_capturing = _callbacks.capturing
    _callbacks.queue = queue = []
    _callbacks.capturing = capture is not None
    try:
        needed = None if capture is None else _needed_edges(roots, capture)
        _sweep(roots, root_grads, retain_graph, create_graph, capture, needed, fresh)
        while queue:
            queue.pop(0)()
    finally:
        _callbacks.queue = outer_queue
        _callbacks.capturing = outer_capturing
        _grad_state.reset(token)


def _needed_edges(roots, capture):
    """For ``grad()``: which nodes lead to a captured input, and through which of their edges
    (PyTorch's exec_info). Maps each such node to True when every edge it has leads to an
    input, else to one bool per edge; a node absent from the map has no path to an input and is
    not run, and the gradients a run node's backward computes only for other edges are skipped
    (its ``needs_input_grad`` is narrowed while it runs)."""
    nodes = []
    seen = set()
    stack = []
    for tensor in roots:
        if tensor.grad_fn is not None:
            stack.append(tensor.grad_fn)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        nodes.append(node)
        for edge in node.next_edges:
            if edge is not None and not isinstance(edge[0], Tensor) and edge[0] not in seen:
                stack.append(edge[0])
    # Every node is created after the nodes its edges point to: ascending creation order visits
    # each edge's target before the node itself.
    nodes.sort(key=_creation_order)
    needed = {}
    for node in nodes:
        mask = []
        any_needed = False
        every_needed = True
        for edge in node.next_edges:
            if edge is None:
                mask.append(False)
                continue
            target = edge[0]
            if isinstance(target, Tensor):
                hit = id(target) in capture
            else:
                hit = target in needed or (id(target), edge[1]) in capture
            mask.append(hit)
            if hit:
                any_needed = True
            else:
                every_needed = False
        if every_needed and any_needed:
            needed[node] = True
        elif any_needed:
            needed[node] = tuple(mask)
    return needed


_creation_order = operator.attrgetter("_sequence_nr")


def _is_checkpoint_valid():
    """False inside a sweep that computes only some gradients (``grad()``, ``backward(inputs=)``):
    a reentrant checkpoint's inner backward() would accumulate into every leaf's .grad there."""
    return not _callbacks.capturing


def _sweep(roots, root_grads, retain_graph, create_graph, capture, needed=None, fresh=None):
    """Propagate ``root_grads`` from ``roots``. ``capture`` maps leaf tensors (by id) and
    (node id, output_nr) pairs to slots for ``grad()``; with it nothing is accumulated into .grad,
    and only the nodes and edges in ``needed`` (``_needed_edges``) are followed. The keys of
    captured arrays that the sweep made itself (no other reference) are added to ``fresh``."""
    heap = []
    pending = {}
    # Nodes (by id) with a captured output: grad() of a non-leaf.
    captured_nodes = () if capture is None else {key[0] for key in capture if type(key) is tuple}
    # Leaves with hooks: their contributions are summed first, so each hook runs once on the
    # total gradient (as PyTorch's AccumulateGrad does), at the end of the sweep.
    deferred = {}

    def deliver(target, number, grad, owned):
        if isinstance(target, Tensor):
            if capture is not None:
                key = id(target)
                if key in capture:
                    _capture(capture, key, grad, owned, fresh)
                return
            if target._hooks or _post_accumulate_hooks and id(target) in _post_accumulate_hooks:
                slot = deferred.get(id(target))
                if slot is None:
                    deferred[id(target)] = [target, grad, owned]
                else:
                    slot[1] = slot[1] + grad
                    slot[2] = True
                return
            _accumulate_leaf(target, grad, owned)
            return
        entry = pending.get(target)
        if entry is None:
            entry = pending[target] = _Pending(target._num_outputs)
            heapq.heappush(heap, (-target._sequence_nr, target))
        entry.add(number, grad, owned)

    for tensor, grad in zip(roots, root_grads):
        if tensor.grad_fn is None:
            deliver(tensor, 0, grad, False)
        else:
            deliver(tensor.grad_fn, tensor._output_nr, grad, False)

    check_nan = is_anomaly_enabled() and is_anomaly_check_nan_enabled()
    heappop = heapq.heappop
    heappush = heapq.heappush
    ndarray = np.ndarray
    while heap:
        _, node = heappop(heap)
        entry = pending.pop(node)
        grads = entry.grads
        hooked = node._hooked
        if hooked:
            _run_node_hooks(node, grads)
        if captured_nodes and id(node) in captured_nodes:
            for number, grad in enumerate(grads):
                key = (id(node), number)
                if key in capture and grad is not None:
                    _capture(capture, key, grad, False, fresh)
        for grad in grads:
            if grad is not None:
                break
        else:
            continue  # no gradient reached any output of this node
        mask = True if needed is None else needed.get(node)
        if mask is True:
            input_grads = node._run_backward(grads, create_graph)
            edges = node.next_edges
        elif mask is None:
            continue  # a captured output whose node leads to no other input
        else:
            input_grads = _run_narrowed(node, mask, grads, create_graph)
            edges = [edge if wanted else None for edge, wanted in zip(node.next_edges, mask)]
        if hooked and node._post_hooks:
            input_grads = _run_post_hooks(node, input_grads, grads)
        del grads, entry
        if not retain_graph and node.saved is not None:
            node._release()
        if check_nan:  # after the release, as PyTorch: a retry meets the freed node
            _check_nan(node, input_grads)
        for index in range(len(edges)):
            edge = edges[index]
            grad = input_grads[index]
            if edge is None or grad is None:
                continue
            if create_graph:
                if not isinstance(grad, Tensor):
                    grad = Tensor._wrap(np.asarray(grad))
                owned = False
            else:
                if type(grad) is not ndarray:
                    grad = np.asarray(grad)
                    owned = False
                else:
                    # An array that owns its data and that nothing but this backward's result
                    # refers to (not the user, a saved tensor, another edge, a view) may take
                    # later contributions in place.
                    owned = (getrefcount(grad) == _UNSHARED and grad.base is None
                             and grad.flags.writeable)
            target = edge[0]
            if isinstance(target, Tensor):
                deliver(target, 0, grad, owned)
                continue
            # deliver() for a node, inlined: the sweep's hottest path.
            entry = pending.get(target)
            if entry is None:
                entry = pending[target] = _Pending(target._num_outputs)
                heappush(heap, (-target._sequence_nr, target))
                entry.grads[edge[1]] = grad
                entry.owned[edge[1]] = owned
            else:
                entry.add(edge[1], grad, owned)
    for target, grad, owned in deferred.values():
        _accumulate_leaf(target, grad, owned)


def _capture(capture, key, grad, owned, fresh):
    """Sum a gradient into grad()'s slot ``key``."""
    current = capture[key]
    if current is None:
        capture[key] = grad
    else:
        capture[key] = _summed(current, fresh is not None and key in fresh, grad)
        owned = True  # summed into an array the sweep made, or a new sum
    if owned and fresh is not None:
        fresh.add(key)


def _run_narrowed(node, mask, grads, create_graph):
    """``node``'s backward asked only for the gradients of the edges in ``mask``. A custom
    Function keeps the ``needs_input_grad`` of its forward, as in PyTorch."""
    needs = node.needs_input_grad
    narrowed = tuple([need and wanted for need, wanted in zip(needs, mask)])
    if narrowed == needs or getattr(node, "_tensor_level", True):
        return node._run_backward(grads, create_graph)
    node.needs_input_grad = narrowed
    try:
        return node._run_backward(grads, create_graph)
    finally:
        node.needs_input_grad = needs


def _check_nan(node, input_grads):
    """Anomaly detection's check: a backward function's NaN output is an error naming it."""
    for number, grad in enumerate(input_grads):
        if grad is None:
            continue
        values = grad._data if isinstance(grad, Tensor) else np.asarray(grad)
        if np.isnan(values).any():
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its "
                               f"{number}th output.")


def _run_node_hooks(node, grads):
    """What runs before the node's backward, in PyTorch's order: the hooks registered on the
    node's outputs (user hooks, then retain_grad's), then the node's own pre-hooks."""
    hooks_by_output = node._tensor_hooks or {}
    retained_by_output = node._retained or {}
    for number in range(len(grads)):
        grad = grads[number]
        if grad is None:
            continue
        hooks = hooks_by_output.get(number)
        retained = retained_by_output.get(number)
        if hooks or retained is not None:
            grads[number] = _run_hooks(hooks, grad, retained)
    for hook in list(node._pre_hooks.values()) if node._pre_hooks else ():
        result = hook(_as_tensors(grads))
        if result is not None:
            grads[:] = _replacement(hook, result, grads)


def _run_post_hooks(node, input_grads, grads):
    """The node's hooks ``hook(grad_inputs, grad_outputs)``, after its backward."""
    grad_outputs = _as_tensors(grads)
    # Gradients of inputs that need none are None to the hooks, whatever backward computed.
    input_grads = tuple([None if edge is None else grad
                         for grad, edge in zip(input_grads, node.next_edges)])
    # The hooks see the inputs that next_functions lists (not an op's non-tensor options).
    order = node._next_order
    if order is not None:
        order = next_positions(order, len(input_grads))
    seen = input_grads if order is None else tuple([input_grads[index] for index in order])
    for hook in list(node._post_hooks.values()):
        result = hook(_as_tensors(seen), grad_outputs)
        if result is not None:
            seen = _replacement(hook, result, seen)
    if order is None:
        return seen
    input_grads = list(input_grads)
    for position, index in enumerate(order):
        input_grads[index] = seen[position]
    return tuple(input_grads)


def _as_tensors(grads):
    """Gradients as a node hook sees them: a tuple of Tensors, None where none flowed."""
    return tuple([grad if grad is None or isinstance(grad, Tensor) else Tensor._wrap(grad)
                  for grad in grads])


def _replacement(hook, result, grads):
    """The gradients a node hook returned, checked against those it was given, in their form
    (arrays, or Tensors under create_graph)."""
    if type(result) is not tuple:
        raise TypeError(f"expected tuple, but hook returned '{type(result).__name__}'")
    name = getattr(hook, "__name__", type(hook).__name__)
    if len(result) != len(grads):
        raise RuntimeError(f"hook '{name}' has returned an incorrect number of values (got "
                           f"{len(result)}, but expected {len(grads)})")
    as_tensors = _grad_state.get()[0]  # grad mode is create_graph while the sweep runs
    replaced = []
    for value, grad in zip(result, grads):
        if value is None:
            replaced.append(None)
            continue
        if not isinstance(value, Tensor):
            raise TypeError(f"expected Variable or None (got {type(value).__name__})")
        if grad is not None and tuple(value.shape) != tuple(grad.shape):
            raise RuntimeError(f"hook '{name}' has changed the size of value")
        replaced.append(value if as_tensors else value._data)
    return tuple(replaced)


def _accumulate_leaf(tensor, grad, owned):
    """Add ``grad`` into ``tensor.grad`` (PyTorch's AccumulateGrad): in place for arrays; out of
    place, recorded, for the Tensors of a create_graph sweep."""
    if tensor.is_sparse:
        # A sparse leaf's gradient arrives aligned with its values; the tensor builds its .grad.
        tensor._accumulate_values_grad(grad)
        return
    if tensor._hooks:
        grad = _run_hooks(tensor._hooks, grad)
        owned = False
    if isinstance(grad, Tensor):
        _accumulate_leaf_tensor(tensor, grad)
    else:
        _accumulate_leaf_array(tensor, grad, owned)
    run_post_accumulate_hooks(tensor)


def run_post_accumulate_hooks(tensor):
    """The leaf's post-accumulate-grad hooks, which must return None (PyTorch's check)."""
    hooks = _post_accumulate_hooks.get(id(tensor)) if _post_accumulate_hooks else None
    if hooks:
        for hook in list(hooks.values()):
            if hook(tensor) is not None:
                raise RuntimeError("Tensor post accumulate grad hooks should return None.")


def _accumulate_leaf_array(tensor, grad, owned):
    if grad.dtype != tensor._data.dtype:
        grad = grad.astype(tensor._data.dtype)
        owned = True
    existing = tensor._grad
    if existing is None:
        if not owned or grad.shape != tensor._data.shape or (
                type(tensor._data) is np.ndarray and not obeys_gradient_layout(grad, tensor._data)):
            grad = _array_like(grad, tensor._data)
        tensor._grad = Tensor._wrap(grad)
    elif existing._requires_grad:
        # a .grad with history (from backward(create_graph=True)) is added to in place, as
        # PyTorch does without grad mode: the same tensor, its grad_fn kept, its version bumped
        if existing._data.flags.writeable:
            existing._data += grad
        else:
            existing._data = existing._data + grad
        existing._bump_version()
    elif existing._data.flags.writeable:
        existing._data += grad
    else:
        existing._data = existing._data + grad


def _accumulate_leaf_tensor(tensor, grad):
    if grad._data.dtype != tensor._data.dtype:
        grad = grad.to(from_numpy_dtype(tensor._data.dtype))
    if grad._data.shape != tensor._data.shape:
        grad = grad.expand(*tensor._data.shape)
    existing = tensor._grad
    if existing is None:
        # PyTorch stores a copy, made by copy_ into a new tensor (CopyBackwards)
        tensor._grad = torch_named(grad.clone(), "CopyBackwards")
    else:
        tensor._grad = existing + grad


# ---- backward() and grad() --------------------------------------------------------------------
def _root_grads(tensors, grad_tensors, create_graph):
    """The gradients the sweep starts from, checked against the roots' shapes."""
    for tensor in tensors:
        node = tensor.grad_fn
        if node is not None and node._view_of is not None:
            refresh_view(tensor, node)  # a view whose base changed since: start from the base
    grads = []
    for index, (tensor, gradient) in enumerate(zip(tensors, grad_tensors)):
        if not tensor._requires_grad:
            raise RuntimeError(f"element {index} of tensors does not require grad and does not "
                               f"have a grad_fn")
        if gradient is None:
            if tensor._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if tensor._data.dtype.kind == "c":
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs "
                                   f"but got {tensor.dtype}")
            array = np.ones(tensor._data.shape, dtype=tensor._data.dtype)
            grads.append(Tensor._wrap(array) if create_graph else array)
            continue
        if isinstance(gradient, Tensor):
            array = gradient._data
        elif type(gradient) is np.ndarray:  # ember's own callers
            array = gradient
        else:
            raise TypeError(f"gradients can be either Tensors or None, but got "
                            f"{type(gradient).__name__}")
        if array.shape != tensor._data.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{index}] has a shape of "
                               f"{Size(array.shape)} and output[{index}] has a shape of "
                               f"{Size(tensor._data.shape)}.")
        if create_graph:
            gradient = gradient if isinstance(gradient, Tensor) else Tensor._wrap(array)
            if array.dtype != tensor._data.dtype:
                gradient = gradient.to(from_numpy_dtype(tensor._data.dtype))
            grads.append(gradient)
            continue
        if array.dtype != tensor._data.dtype:
            array = array.astype(tensor._data.dtype)
        grads.append(array)
    return grads


def _as_tensor_tuple(value, name, inputs=False):
    """A Tensor or any iterable of them (``model.parameters()``, as PyTorch takes) as a tuple,
    with PyTorch's errors: a TypeError for what is not iterable, then a RuntimeError for an input
    that is not a Tensor, an AssertionError for an output (its ``_make_grads`` assert)."""
    if isinstance(value, Tensor):
        return (value,)
    values = tuple(value)  # "'float' object is not iterable", as PyTorch's
    for item in values:
        if not isinstance(item, Tensor):
            if inputs:
                raise RuntimeError(f"all inputs have to be Tensors or GradientEdges, but got "
                                   f"{type(item).__name__}")
            raise AssertionError(f"Expected output to be a {repr_prefix()}.Tensor")
    return values


def _grad_tuple(grad_tensors, count):
    """The gradients of ``count`` tensors: PyTorch pairs them up (zip), so extra gradients are
    ignored and missing ones are its engine's error."""
    if grad_tensors is None:
        return (None,) * count
    gradients = (grad_tensors,) if isinstance(grad_tensors, Tensor) else tuple(grad_tensors)
    if len(gradients) < count:
        raise RuntimeError(f"got {count} tensors and {len(gradients)} gradients")
    return gradients[:count]


class inside_transform:
    """Marks a function transform's call of the user's function: ``backward()`` there is refused,
    as PyTorch refuses it inside its functorch transforms (the transform owns the sweep). A
    grad-type transform gives the tensors it passes (``arguments``): the others count as
    captured there (function.refuse_captured_mutation); a ``reverse`` one refuses saved tensor
    hooks, as PyTorch."""

    def __init__(self, arguments=None, vmap_levels=(), reverse=False):
        self.arguments = arguments
        self.vmap_levels = vmap_levels
        self.reverse = reverse

    def __enter__(self):
        if self.reverse and saved_tensors_hooks_state.stack:
            raise RuntimeError(SAVED_TENSOR_HOOKS_REFUSED)
        _transforms.depth += 1
        _transforms.reverse += self.reverse
        if self.arguments is not None:
            _transforms.arguments = _transforms.arguments + (
                frozenset(id(value) for value in self.arguments),)
            _transforms.vmap_levels = _transforms.vmap_levels + (frozenset(self.vmap_levels),)

    def __exit__(self, *exception):
        _transforms.depth -= 1
        _transforms.reverse -= self.reverse
        if self.arguments is not None:
            _transforms.arguments = _transforms.arguments[:-1]
            _transforms.vmap_levels = _transforms.vmap_levels[:-1]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             grad_variables=None, inputs=None):
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad`` (``torch.autograd.backward``).
    With ``create_graph`` the gradients carry their own history (higher-order derivatives).
    ``inputs`` may be a dict of tensors; ``grad_variables`` is the deprecated ``grad_tensors``."""
    if _transforms.depth:
        raise RuntimeError("backward() called inside a functorch transform. This is not "
                           "supported, please use functorch.grad or functorch.vjp instead or "
                           "call backward() outside of functorch transforms.")
    if grad_variables is not None:
        warnings.warn("`grad_variables` is deprecated. Use `grad_tensors` instead.",
                      FutureWarning, stacklevel=_CALLER)
        if grad_tensors is not None:
            raise RuntimeError("`grad_tensors` and `grad_variables` (deprecated) arguments both "
                               "passed to `backward()`. Please only use `grad_tensors`.")
        grad_tensors = grad_variables
    if type(inputs) is dict:
        inputs = tuple(inputs.values())
    elif isinstance(inputs, Mapping):
        raise TypeError(f"`inputs` argument to `backward()` must be a dict, not "
                        f"{type(inputs).__name__}. Other Mapping types are not supported.")
    if inputs is not None:
        inputs = _as_tensor_tuple(inputs, "backward(inputs=)", inputs=True)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    tensors = _as_tensor_tuple(tensors, "backward")
    grad_tensors = _grad_tuple(grad_tensors, len(tensors))
    if create_graph:
        warn_once("Using backward() with create_graph=True will create a reference cycle "
                  "between the parameter and its gradient which can cause a memory leak. We "
                  "recommend using autograd.grad when creating the graph to avoid this. If you "
                  "have to use this function, make sure to reset the .grad fields of your "
                  "parameters to None after use to break the cycle and avoid the leak.")
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        results = grad(tensors, inputs, grad_outputs=grad_tensors, retain_graph=retain_graph,
                       create_graph=create_graph, allow_unused=True)
        for tensor, result in zip(inputs, results):
            if result is None:
                continue
            if create_graph:
                _accumulate_leaf_tensor(tensor, result)
            else:
                _accumulate_leaf_array(tensor, result._data, True)
        return
    root_grads = _root_grads(tensors, grad_tensors, create_graph)
    run_backward(tensors, root_grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Return d(outputs)/d(inputs) without touching any ``.grad`` (``torch.autograd.grad``).
    With ``create_graph`` the results carry their own history (higher-order derivatives).
    ``inputs`` given as a dict (``dict(model.named_parameters())``) gives a dict by its keys;
    ``is_grads_batched``: dim 0 of each grad_output indexes a batch of vector-Jacobian
    products; ``only_inputs`` is deprecated and ignored, as in PyTorch."""
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    if not only_inputs:
        warnings.warn("only_inputs argument is deprecated and is ignored now (defaults to True). "
                      "To accumulate gradient for other parts of the graph, please use "
                      "torch.autograd.backward.", FutureWarning, stacklevel=_CALLER)
    if type(inputs) is dict:
        names = tuple(inputs)
        results = grad(outputs, tuple(inputs.values()), grad_outputs, retain_graph,
                       create_graph, allow_unused=allow_unused,
                       is_grads_batched=is_grads_batched, materialize_grads=materialize_grads)
        return dict(zip(names, results))
    if isinstance(inputs, Mapping):
        raise TypeError(f"`inputs` argument to `grad()` must be a dict, not "
                        f"{type(inputs).__name__}. Other Mapping types are not supported.")
    outputs = _as_tensor_tuple(outputs, "grad(outputs)")
    inputs = _as_tensor_tuple(inputs, "grad(inputs)", inputs=True)
    if not inputs:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    grad_outputs = _grad_tuple(grad_outputs, len(outputs))
    if is_grads_batched:
        return _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph,
                             allow_unused, materialize_grads)
    if retain_graph is None:
        retain_graph = create_graph
    # PyTorch checks the outputs before the inputs.
    root_grads = _root_grads(outputs, grad_outputs, create_graph)
    for tensor in inputs:
        if not tensor._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    capture = {}
    fresh = set()
    keys = []
    for tensor in inputs:
        key = id(tensor) if tensor.grad_fn is None else (id(tensor.grad_fn), tensor._output_nr)
        capture[key] = None
        keys.append(key)
    run_backward(outputs, root_grads, retain_graph, create_graph, capture, fresh)
    for tensor, key in zip(inputs, keys):
        if tensor.grad_fn is None and tensor._hooks and capture[key] is not None:
            capture[key] = _run_hooks(tensor._hooks, capture[key])  # leaf hooks, as PyTorch
            fresh.discard(key)
    results = []
    for index, (tensor, key) in enumerate(zip(inputs, keys)):
        value = capture[key]
        if value is None:
            if not allow_unused and not materialize_grads:
                raise RuntimeError(f"The differentiated Tensor at index {index} appears to not "
                                   f"have been used in the graph. Set allow_unused=True if this "
                                   f"is the desired behavior.")
            # PyTorch's materialized zeros require grad under create_graph.
            results.append(Tensor._wrap(np.zeros_like(tensor._data)).requires_grad_(create_graph)
                           if materialize_grads else None)
        elif tensor.is_sparse:
            results.append(tensor._grad_from_values(value))
        elif isinstance(value, Tensor):
            results.append(_shaped_like(value, tensor))
        elif (key in fresh and value.shape == tensor._data.shape
              and value.dtype == tensor._data.dtype):
            fresh.discard(key)  # an input listed twice gets its own copy the second time
            results.append(Tensor._wrap(value))  # made by the sweep: no copy needed
        else:
            results.append(Tensor._wrap(_array_like(value, tensor._data)))
    return tuple(results)


def _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                  materialize_grads):
    """One vector-Jacobian product per index of the grad_outputs' dim 0, stacked (PyTorch
    vmaps a single backward; one backward per row gives the same values)."""
    sizes = {len(gradient) for gradient in grad_outputs if gradient is not None}
    if len(sizes) != 1:
        raise RuntimeError("grad(is_grads_batched=True): every grad_output must be a Tensor "
                           "with the same size of dim 0")
    (size,) = sizes
    if retain_graph is None:
        retain_graph = create_graph
    rows = []
    for index in range(size):
        row_outputs = tuple(None if gradient is None else gradient[index]
                            for gradient in grad_outputs)
        rows.append(grad(outputs, inputs, row_outputs, retain_graph or index < size - 1,
                         create_graph, allow_unused=allow_unused or materialize_grads))
    results = []
    for column, tensor in zip(zip(*rows), inputs):
        if column[0] is None:
            # PyTorch materializes an unused input's gradient unbatched: zeros like the input
            results.append(Tensor._wrap(np.zeros_like(tensor._data)) if materialize_grads
                           else None)
            continue
        # Stacked by the tensors' own namespace (ember's ops): recorded under create_graph.
        results.append(column[0].__array_namespace__().stack(column))
    return tuple(results)


def _array_like(value, data):
    """A first-order gradient as a new array in the shape, dtype and layout of ``data``
    (``gradient_layout``)."""
    if value.shape != data.shape:
        value = np.broadcast_to(value, data.shape)
    if data.flags.c_contiguous:
        result = np.array(value, dtype=data.dtype, order="C")
        # a size-1 dim's stride is free in a contiguous array: the leaf's may differ from
        # NumPy's own, and the gradient keeps the leaf's (empty_strided costs ~10 us)
        if data.ndim < 2 or 1 not in data.shape or result.strides == data.strides:
            return result
    result = empty_strided(data.shape, gradient_strides(data), data.dtype)
    result[...] = value
    return result


def _shaped_like(value, tensor):
    """A create_graph gradient in its input's shape and dtype (still recorded)."""
    if value._data.shape != tensor._data.shape:
        value = value.expand(*tensor._data.shape)
    if value._data.dtype != tensor._data.dtype:
        value = value.to(from_numpy_dtype(tensor._data.dtype))
    return value
