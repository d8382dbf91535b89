"""Reverse-mode sweep: ``backward`` and ``grad``.

Nodes are visited in decreasing creation order (a heap keyed by sequence number): every consumer of
a node is created after it, so this is a topological order without a separate dependency pass, it
is deterministic, and it needs no recursion. Saved arrays and intermediate gradients are dropped as
soon as the sweep passes their node, so memory falls while backward runs.
"""
import heapq
import threading

import numpy as np

from ..tensor import Size, Tensor
from .function import _refresh_view


class _RemovableHandle:
    """Returned by register_hook; ``remove()`` unregisters."""

    __slots__ = ("_hooks", "_hook")

    def __init__(self, hooks, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class _RetainGrad:
    """The hook behind ``retain_grad()``: accumulates a non-leaf's gradient into its ``.grad``."""

    def __init__(self, tensor):
        import weakref
        self._tensor = weakref.ref(tensor)

    def __call__(self, grad):
        tensor = self._tensor()
        if tensor is not None:
            if tensor._grad is None:
                tensor._grad = Tensor._wrap(grad._data.copy())
            else:
                tensor._grad._data = tensor._grad._data + grad._data
        return None


def _add_tensor_hook(tensor, hook):
    if tensor.grad_fn is None:
        if tensor._hooks is None:
            tensor._hooks = []
        hooks = tensor._hooks
    else:
        node = tensor.grad_fn
        if node._tensor_hooks is None:
            node._tensor_hooks = {}
        hooks = node._tensor_hooks.setdefault(tensor._output_nr, [])
    # retain_grad's hook runs after the user's hooks, as in PyTorch.
    if isinstance(hook, _RetainGrad) or not hooks or not isinstance(hooks[-1], _RetainGrad):
        hooks.append(hook)
    else:
        hooks.insert(len(hooks) - 1, hook)
    return _RemovableHandle(hooks, hook)


def _run_hooks(hooks, grad):
    for hook in list(hooks):
        result = hook(Tensor._wrap(grad))
        if result is not None:
            if not isinstance(result, Tensor):
                raise TypeError(f"hook returned {type(result).__name__}, expected a Tensor or None")
            if result._data.shape != grad.shape:
                raise RuntimeError(f"hook 'hook' has changed the size of value: expected "
                                   f"{list(grad.shape)}, got {list(result._data.shape)}")
            grad = result._data
    return grad


def _accumulate_leaf(tensor, grad, owned):
    """Add ``grad`` into ``tensor.grad`` in place (PyTorch's AccumulateGrad)."""
    if tensor._hooks:
        grad = _run_hooks(tensor._hooks, grad)
        owned = False
    if grad.dtype != tensor._data.dtype:
        grad = grad.astype(tensor._data.dtype)
        owned = True
    existing = tensor._grad
    if existing is None:
        if not owned or grad.shape != tensor._data.shape:
            grad = np.array(np.broadcast_to(grad, tensor._data.shape), copy=True)
        tensor._grad = Tensor._wrap(grad)
    elif existing._data.flags.writeable:
        existing._data += grad
    else:
        existing._data = existing._data + grad
    if _post_accumulate_hooks:
        for hook in list(_post_accumulate_hooks.get(id(tensor), ())):
            hook(tensor)


# Leaf id -> hooks run after its .grad is updated (DistributedDataParallel's readiness signal).
# Kept here rather than in a Tensor slot so the hot constructor stays unchanged.
_post_accumulate_hooks = {}


def _add_post_accumulate_hook(tensor, hook):
    import weakref
    key = id(tensor)
    hooks = _post_accumulate_hooks.get(key)
    if hooks is None:
        hooks = _post_accumulate_hooks[key] = []
        weakref.finalize(tensor, _post_accumulate_hooks.pop, key, None)
    hooks.append(hook)
    return _RemovableHandle(hooks, hook)


class _Callbacks(threading.local):
    queue = None  # a list while a backward sweep runs in this thread


_callbacks = _Callbacks()


def queue_callback(callback):
    """Run ``callback()`` once the backward sweep now running finishes (PyTorch's
    ``Variable._execution_engine.queue_callback``); DDP waits for its all-reduces there."""
    if _callbacks.queue is None:
        raise RuntimeError("queue_callback: no backward pass is running")
    _callbacks.queue.append(callback)


class _Pending:
    """Gradient being summed for one node: one slot per output."""

    __slots__ = ("grads", "owned")

    def __init__(self, count):
        self.grads = [None] * count
        self.owned = [False] * count

    def add(self, number, grad, owned):
        current = self.grads[number]
        if current is None:
            self.grads[number] = grad
            self.owned[number] = owned
        elif self.owned[number] and current.dtype == grad.dtype and (
                current.shape == grad.shape
                or current.shape == np.broadcast_shapes(current.shape, grad.shape)):
            current += grad
        else:
            self.grads[number] = current + grad
            self.owned[number] = True


def run_backward(roots, root_grads, retain_graph, capture=None):
    """``_sweep``, then the callbacks queued during it, in order."""
    outer_queue = _callbacks.queue
    _callbacks.queue = queue = []
    try:
        _sweep(roots, root_grads, retain_graph, capture)
        while queue:
            queue.pop(0)()
    finally:
        _callbacks.queue = outer_queue


def _sweep(roots, root_grads, retain_graph, capture=None):
    """Propagate ``root_grads`` from ``roots``. ``capture`` maps leaf tensors (by id) and
    (node, output_nr) pairs to slots for ``grad()``; with it nothing is accumulated into .grad."""
    heap = []
    pending = {}
    handed_out = set()
    # Leaves with hooks: their contributions are summed first, so each hook runs once on the
    # total gradient (as PyTorch's AccumulateGrad does), at the end of the sweep.
    deferred = {}

    def deliver(target, number, grad, owned):
        if isinstance(target, Tensor):
            if capture is not None:
                key = id(target)
                if key in capture:
                    capture[key] = grad if capture[key] is None else capture[key] + grad
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
        handed_out.add(id(grad))
        if tensor.grad_fn is None:
            deliver(tensor, 0, grad, False)
        else:
            deliver(tensor.grad_fn, tensor._output_nr, grad, False)

    while heap:
        _, node = heapq.heappop(heap)
        entry = pending.pop(node)
        grads = entry.grads
        if node._tensor_hooks:
            for number, hooks in node._tensor_hooks.items():
                if grads[number] is not None and hooks:
                    grads[number] = _run_hooks(hooks, grads[number])
        if capture is not None:
            for number, grad in enumerate(grads):
                key = (id(node), number)
                if key in capture and grad is not None:
                    capture[key] = grad if capture[key] is None else capture[key] + grad
        for grad in grads:
            if grad is not None:
                break
        else:
            continue  # no gradient reached any output of this node
        input_grads = node._run_backward(grads)
        del grads, entry
        if not retain_graph:
            node._release()
        for edge, grad in zip(node.next_edges, input_grads):
            if edge is None or grad is None:
                continue
            if not isinstance(grad, np.ndarray):
                grad = np.asarray(grad)
            key = id(grad)
            owned = key not in handed_out and grad.flags.owndata and grad.flags.writeable
            handed_out.add(key)
            deliver(edge[0], edge[1], grad, owned)
    for target, grad, owned in deferred.values():
        _accumulate_leaf(target, grad, owned)


def _make_root_grads(tensors, grad_tensors, caller):
    for tensor in tensors:
        node = tensor.grad_fn
        if node is not None and node._view_of is not None:
            _refresh_view(tensor, node)  # a view whose base changed since: start from the base
    grads = []
    for index, (tensor, gradient) in enumerate(zip(tensors, grad_tensors)):
        if not tensor._requires_grad:
            raise RuntimeError(f"element {index} of tensors does not require grad and does not "
                               f"have a grad_fn")
        if gradient is None:
            if tensor._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            grads.append(np.ones(tensor._data.shape, dtype=tensor._data.dtype))
            continue
        array = gradient._data if isinstance(gradient, Tensor) else np.asarray(gradient)
        if array.shape != tensor._data.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{index}] has a shape of "
                               f"{Size(array.shape)} and output[{index}] has a shape of "
                               f"{Size(tensor._data.shape)}.")
        if array.dtype != tensor._data.dtype:
            array = array.astype(tensor._data.dtype)
        grads.append(array)
    return grads


def _as_tensor_tuple(value, name):
    if isinstance(value, Tensor):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(item, Tensor) for item in value):
        return tuple(value)
    raise TypeError(f"{name}: expected a Tensor or a sequence of Tensors, got "
                    f"{type(value).__name__}")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad`` (``torch.autograd.backward``)."""
    if create_graph:
        raise NotImplementedError("backward(create_graph=True): ember does not support "
                                  "higher-order gradients")
    tensors = _as_tensor_tuple(tensors, "backward")
    if grad_tensors is None:
        grad_tensors = (None,) * len(tensors)
    elif isinstance(grad_tensors, Tensor):
        grad_tensors = (grad_tensors,)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"got {len(grad_tensors)} gradients for {len(tensors)} tensors")
    if retain_graph is None:
        retain_graph = create_graph
    root_grads = _make_root_grads(tensors, grad_tensors, "backward")
    if inputs is not None:
        inputs = _as_tensor_tuple(inputs, "backward(inputs=)")
        results = grad(tensors, inputs, grad_outputs=[Tensor._wrap(g) for g in root_grads],
                       retain_graph=retain_graph, allow_unused=True)
        for tensor, result in zip(inputs, results):
            if result is not None:
                _accumulate_leaf(tensor, result._data, True)
        return
    run_backward(tensors, root_grads, retain_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    """Return d(outputs)/d(inputs) without touching any ``.grad`` (``torch.autograd.grad``)."""
    if create_graph:
        raise NotImplementedError("grad(create_graph=True): ember does not support higher-order "
                                  "gradients")
    outputs = _as_tensor_tuple(outputs, "grad(outputs)")
    inputs = _as_tensor_tuple(inputs, "grad(inputs)")
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,)
    if retain_graph is None:
        retain_graph = create_graph
    for tensor in inputs:
        if not tensor._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    root_grads = _make_root_grads(outputs, grad_outputs, "grad")
    capture = {}
    keys = []
    for tensor in inputs:
        key = id(tensor) if tensor.grad_fn is None else (id(tensor.grad_fn), tensor._output_nr)
        capture[key] = None
        keys.append(key)
    run_backward(outputs, root_grads, retain_graph, capture)
    for tensor, key in zip(inputs, keys):
        if tensor.grad_fn is None and tensor._hooks and capture[key] is not None:
            capture[key] = _run_hooks(tensor._hooks, capture[key])  # leaf hooks, as PyTorch
    results = []
    for index, (tensor, key) in enumerate(zip(inputs, keys)):
        value = capture[key]
        if value is None:
            if not allow_unused and not materialize_grads:
                raise RuntimeError(f"The differentiated Tensor at index {index} appears to not "
                                   f"have been used in the graph. Set allow_unused=True if this "
                                   f"is the desired behavior.")
            if materialize_grads:
                value = np.zeros_like(tensor._data)
        results.append(None if value is None else
                       Tensor._wrap(np.array(np.broadcast_to(value, tensor._data.shape))
                                    .astype(tensor._data.dtype, copy=False)))
    return tuple(results)

