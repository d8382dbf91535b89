"""What a graph holds: the nodes behind a tensor and the bytes they keep for backward; hooks
on what it saves (``torch.autograd.graph``)."""
import contextlib
import threading
from collections import namedtuple

from .._hooks import RemovableHandle
from ..tensor import Tensor
from . import function
from .engine import _callbacks, queue_callback
from .node import Node, _saved_bytes, saved_tensors_hooks_state

__all__ = ["GraphStats", "allow_mutation_on_saved_tensors", "disable_saved_tensors_hooks",
           "graph_stats", "increment_version",
           "region_activation_memory_budget", "register_multi_grad_hook", "save_on_cpu",
           "saved_bytes", "saved_tensors_hooks"]


class GraphStats(namedtuple("GraphStats", ["nodes", "saved_bytes"])):
    """``nodes``: graph nodes (``grad_fn`` objects) behind a tensor, each counted once;
    ``saved_bytes``: bytes of the arrays those nodes still hold for backward."""

    __slots__ = ()


def graph_stats(tensor):
    """Count the nodes behind ``tensor`` and the bytes they saved for backward (0 and 0 for a
    tensor made under no_grad; the bytes drop to 0 once ``backward()`` has freed them)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"graph_stats(): expected a Tensor, got {type(tensor).__name__}")
    root = tensor.grad_fn
    if root is None:
        return GraphStats(0, 0)
    seen = {id(root)}
    stack = [root]
    nodes = 0
    total_bytes = 0
    while stack:
        node = stack.pop()
        nodes += 1
        if node.saved is not None:
            total_bytes += node._saved_nbytes
        for edge in getattr(node, "next_edges", None) or ():
            if edge is None:
                continue
            parent = edge[0]
            # Leaves appear in the edges as tensors; only nodes count here.
            if isinstance(parent, Node) and id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return GraphStats(nodes, total_bytes)


def saved_bytes():
    """Bytes of arrays saved for backward by every live graph in the process."""
    return _saved_bytes[0]


# ---- saved tensors hooks -----------------------------------------------------------------------
_active_lock = threading.Lock()
_active = [0]  # saved_tensors_hooks contexts open in any thread


class saved_tensors_hooks:
    """Within the block, every tensor an op saves for backward is replaced by
    ``pack_hook(tensor)``, and backward gets ``unpack_hook(packed)`` back in its place (this
    thread only; the innermost block's hooks apply). Saved tensors so packed are not checked for
    in-place changes, as in PyTorch."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        state = saved_tensors_hooks_state
        if state.disabled is not None:
            raise RuntimeError(state.disabled)
        if function._transforms.reverse:
            raise RuntimeError(function.SAVED_TENSOR_HOOKS_REFUSED)
        state.stack = state.stack + ((_unchanging(self.pack_hook), self.unpack_hook),)
        with _active_lock:
            _active[0] += 1
            function._saved_tensors_hooks = True

    def __exit__(self, exception_type, exception_value, traceback):
        state = saved_tensors_hooks_state
        state.stack = state.stack[:-1]
        with _active_lock:
            _active[0] -= 1
            function._saved_tensors_hooks = _active[0] > 0


def _unchanging(pack_hook):
    """``pack_hook`` refused, as PyTorch refuses it, where it changes its input in place."""
    def pack(tensor):
        version = tensor._version
        packed = pack_hook(tensor)
        if tensor._version != version:
            raise RuntimeError("A saved tensor pack hook is modifying its input in place. Tensors "
                               "provided as input to pack hook cannot be modified by in-place "
                               "operations as this can lead to unexpected side-effects. Please "
                               "open an issue if you need to perform in-place operations on the "
                               "input to a pack hook.")
        return packed
    return pack


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors kept on the CPU and moved back to their device for backward; ember
    computes on the CPU, so they stay as they are (``pin_memory`` changes nothing)."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack_to_cpu(tensor):
            return tensor.device, tensor.cpu()

        def unpack_from_cpu(packed):
            device, tensor = packed
            return tensor.to(device)

        super().__init__(pack_to_cpu, unpack_from_cpu)


class _AllowMutationOnSavedContext:
    """The object ``allow_mutation_on_saved_tensors`` yields: whether its block is still open."""

    def __init__(self):
        self.open = True


# Whether an allow_mutation_on_saved_tensors block is open (PyTorch's flag is global too).
_mutation_allowed = [False]


@contextlib.contextmanager
def allow_mutation_on_saved_tensors():
    """Within the block, tensors saved for backward may be changed in place afterwards: backward
    sees them as they were when saved. ember copies each saved tensor as it is saved (PyTorch
    copies only those later mutated; the gradients are the same); backward of such a graph
    after the block has closed is PyTorch's AssertionError."""
    if _mutation_allowed[0]:
        raise RuntimeError("allow_mutation_on_saved_tensors contexts cannot be nested")
    context = _AllowMutationOnSavedContext()

    def pack(tensor):
        return tensor.detach().clone()

    def unpack(saved):
        if not context.open:
            raise AssertionError("Trying to backward outside of the "
                                 "'allow_mutation_on_saved_tensors' contextin which the graph "
                                 "was originally recorded.")
        return saved

    _mutation_allowed[0] = True
    try:
        with saved_tensors_hooks(pack, unpack):
            yield context
    finally:
        context.open = False
        _mutation_allowed[0] = False


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message):
    """Within the block, entering ``saved_tensors_hooks`` raises RuntimeError(error_message)."""
    state = saved_tensors_hooks_state
    previous = state.disabled
    state.disabled = error_message
    try:
        yield
    finally:
        state.disabled = previous


# ---- hooks on several tensors ------------------------------------------------------------------
class _MultiHandle(RemovableHandle):
    """The handle of ``register_multi_grad_hook``: removes the hook from every tensor."""

    def __init__(self, handles):
        super().__init__()
        self.handles = handles

    def remove(self):
        for handle in self.handles:
            handle.remove()


def register_multi_grad_hook(tensors, fn, *, mode="all"):
    """mode 'all': ``fn(grads)`` once per backward that computes a gradient of any of
    ``tensors``, with the list of their gradients (None where that backward computed none);
    ember calls it when the backward sweep ends. mode 'any': ``fn(grad)`` with the first of
    those gradients in each backward."""
    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of ('all', 'any') but got {mode}")
    tensors = tuple(tensors)
    # The backward sweep (its callback queue, one list per sweep) this hook last saw, and the
    # gradients gathered in it.
    state = {"sweep": None, "grads": None}
    lock = threading.Lock()

    def hook_for(index):
        def hook(grad):
            sweep = _callbacks.queue
            with lock:
                first = sweep is None or state["sweep"] is not sweep
                if first:
                    state["sweep"] = sweep
                    state["grads"] = [None] * len(tensors)
                grads = state["grads"]
            if mode == "any":
                if first:
                    fn(grad)
                return
            grads[index] = grad
            if sweep is None:  # a leaf's hook that grad() runs after its sweep
                fn(grads)
            elif first:
                queue_callback(lambda: fn(grads))
        return hook

    return _MultiHandle([tensor.register_hook(hook_for(index))
                         for index, tensor in enumerate(tensors)])


def region_activation_memory_budget(budget):
    """PyTorch's activation-memory budget for a region of a ``torch.compile`` graph. ember
    compiles nothing (its ``torch.compile`` runs eagerly), so after PyTorch's checks of
    ``budget`` this is PyTorch's eager-mode RuntimeError."""
    name = "torch.autograd.graph.region_activation_memory_budget"
    if isinstance(budget, bool) or not isinstance(budget, (int, float)):
        raise TypeError(f"{name}: expects a float, got {type(budget).__name__}")
    if not 0.0 <= budget <= 1.0:
        raise ValueError(f"{name}: must be in [0, 1], got {budget}")
    raise RuntimeError(f"{name} can only be used inside a torch.compile region; it has no "
                       f"effect in eager mode.")


def increment_version(tensor):
    """Record an in-place change made behind autograd's back (a kernel writing a tensor's
    memory) on a tensor or each of an iterable of tensors; inference tensors have no counter."""
    if isinstance(tensor, Tensor):
        tensor = (tensor,)
    try:
        tensors = list(tensor)
    except TypeError:
        raise RuntimeError("increment_version expect a Iterable[Tensor] as input") from None
    if not all(isinstance(item, Tensor) for item in tensors):
        raise RuntimeError("increment_version expects each element of the iterable to be a "
                           "tensor")
    for item in tensors:
        item._bump_version()
