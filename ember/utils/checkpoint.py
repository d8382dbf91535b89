"""``torch.utils.checkpoint``: activation checkpointing. The checkpointed function's activations
are not kept for backward; backward runs the function again (with the random state it first
saw) and differentiates the recomputed graph.

``use_reentrant=False`` (PyTorch's recommended variant): gradients reach every tensor the
function uses, arguments, keyword arguments and the leaves it reads (a module's parameters),
through ``backward()`` and ``autograd.grad()`` alike, and under ``create_graph``. The function
runs once with grad recording to find those tensors, and that graph is dropped before
checkpoint returns. ``use_reentrant=True`` (the default where it is not passed, with PyTorch's
warning): backward recomputes and calls ``backward()`` inside, so parameters receive their
gradients in ``.grad`` and only the arguments' gradients flow on through the graph.
"""
import contextlib
import enum
import warnings

from .._random import get_rng_state, set_rng_state
from ..autograd.engine import _is_checkpoint_valid
from ..autograd.engine import backward as run_backward
from ..autograd.engine import grad as compute_grad
from ..autograd.function import SAVED_TENSOR_HOOKS_REFUSED, Function, _transforms
from ..autograd.grad_mode import enable_grad, is_grad_enabled
from ..autograd.node import Node, _sequence
from ..nn.modules.container import Sequential
from ..nn.utils.modes import _deliberate_depth
from ..tensor import Tensor

__all__ = ["CheckpointError", "CheckpointPolicy", "SelectiveCheckpointContext", "checkpoint",
           "check_backward_validity", "checkpoint_sequential",
           "create_selective_checkpoint_contexts", "detach_variable", "noop_context_fn",
           "set_checkpoint_debug_enabled", "set_checkpoint_early_stop"]

# Settings of set_checkpoint_early_stop and set_checkpoint_debug_enabled (None: checkpoint's own
# ``debug`` argument decides).
_early_stop = True
_debug_enabled = None


class CheckpointError(RuntimeError):
    """A recomputation that did not reproduce the checkpointed forward."""


class CheckpointPolicy(enum.Enum):
    """What selective checkpointing does with an op's output: keep it or recompute it."""

    MUST_SAVE = 0
    PREFER_SAVE = 1
    MUST_RECOMPUTE = 2
    PREFER_RECOMPUTE = 3
    MUST_CPU_OFFLOAD = 4
    PREFER_CPU_OFFLOAD = 5


class SelectiveCheckpointContext:
    """The context a selective-checkpoint policy function is given: whether it runs in the
    recomputation."""

    def __init__(self, *, is_recompute, op_output=None):
        self.is_recompute = is_recompute
        self.op_output = op_output


def create_selective_checkpoint_contexts(policy_fn_or_list, allow_cache_entry_mutation=False):
    """The ``context_fn`` pair of selective checkpointing (ops to save instead of recompute).
    ember's checkpoint recomputes every op, which gives the same values and gradients, so the
    policy is checked and the contexts are empty ones."""
    if not (callable(policy_fn_or_list) or isinstance(policy_fn_or_list, list)):
        raise TypeError("policy_fn_or_list must be either a function or a list of ops.")
    return contextlib.nullcontext(), contextlib.nullcontext()

_USE_REENTRANT_WARNING = (
    "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. Starting "
    "in PyTorch 2.9, calling checkpoint without use_reentrant will raise an exception. "
    "use_reentrant=False is recommended, but if you need to preserve the current default "
    "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
    "differences between the two variants.")
_SEQUENTIAL_USE_REENTRANT_WARNING = (
    "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed "
    "explicitly. In version 2.9 we will raise an exception if use_reentrant is not passed. "
    "use_reentrant=False is recommended, but if you need to preserve the current default "
    "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
    "differences between the two variants.")


@contextlib.contextmanager
def set_checkpoint_early_stop(enable):
    """Whether non-reentrant checkpoints made inside may stop recomputing once the saved tensors
    backward needs are back. ember's recomputation runs the whole function either way, so the
    setting changes no result; it is kept (and restored on exit) as PyTorch's is."""
    global _early_stop
    previous = _early_stop
    _early_stop = enable
    try:
        yield
    finally:
        _early_stop = previous


@contextlib.contextmanager
def set_checkpoint_debug_enabled(enabled):
    """Overrides checkpoint's ``debug`` argument inside (None defers to the argument)."""
    global _debug_enabled
    previous = _debug_enabled
    _debug_enabled = enabled
    try:
        yield
    finally:
        _debug_enabled = previous


def detach_variable(inputs):
    """A tuple of the inputs with each tensor detached, keeping its ``requires_grad``."""
    if not isinstance(inputs, tuple):
        raise RuntimeError(f"Only tuple of tensors is supported. Got Unsupported input type: "
                           f"{type(inputs).__name__}")
    detached = []
    for value in inputs:
        if isinstance(value, Tensor):
            copy = value.detach()
            copy.requires_grad = value.requires_grad
            value = copy
        detached.append(value)
    return tuple(detached)


def check_backward_validity(inputs):
    """Warns when no tensor among ``inputs`` requires grad (its gradients would all be None)."""
    if not any(value.requires_grad for value in inputs if isinstance(value, Tensor)):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=2)


def noop_context_fn():
    """The default ``context_fn``: no context around the forward or the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


def checkpoint(function, *args, use_reentrant=None, context_fn=noop_context_fn,
               determinism_check="default", debug=False, early_stop=True, **kwargs):
    """``function(*args, **kwargs)`` whose activations are recomputed in backward instead of
    kept. ``preserve_rng_state`` (default True) replays the random draws (dropout masks)."""
    if use_reentrant is None:
        warnings.warn(_USE_REENTRANT_WARNING, stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when "
                             "use_reentrant=False.")
        return _reentrant(function, preserve, args)
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be one of ['default', 'none'], but got "
                         f"{determinism_check}")
    return _non_reentrant(function, preserve, context_fn, args, kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (a Sequential or a list of callables) in order, checkpointing all but
    the last of ``segments`` equal segments."""
    if use_reentrant is None:
        warnings.warn(_SEQUENTIAL_USE_REENTRANT_WARNING, stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if isinstance(functions, Sequential):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(_run_segment(functions, start, end), input,
                           use_reentrant=use_reentrant, preserve_rng_state=preserve)
    return _run_segment(functions, end + 1, len(functions) - 1)(input)


def _run_segment(functions, start, end):
    def forward(input):
        for index in range(start, end + 1):
            input = functions[index](input)
        return input

    return forward


@contextlib.contextmanager
def _replayed_rng(state):
    """The default generator at ``state`` inside, back where it was after (None: untouched)."""
    if state is None:
        yield
        return
    current = get_rng_state()
    set_rng_state(state)
    try:
        yield
    finally:
        set_rng_state(current)


@contextlib.contextmanager
def _deliberately_without_grad():
    """The reentrant forward runs a training-mode model under no_grad on purpose: the mode checks
    (ModeWarning) stay silent."""
    _deliberate_depth.set(_deliberate_depth.get() + 1)
    try:
        yield
    finally:
        _deliberate_depth.set(_deliberate_depth.get() - 1)


def _detached(value):
    """A Tensor cut from its graph (requiring grad as it did); anything else as is."""
    if isinstance(value, Tensor):
        return value.detach().requires_grad_(value.requires_grad)
    return value


def _as_tuple(outputs):
    return outputs if isinstance(outputs, tuple) else (outputs,)


# ---- use_reentrant=True ----------------------------------------------------------------------
class _ReentrantCheckpoint(Function):
    """Forward without recording; backward recomputes and runs backward() through the
    recomputed graph, so tensors the function reads get their gradients accumulated."""

    @staticmethod
    def forward(ctx, function, preserve, *args):
        ctx.function = function
        ctx.rng_state = get_rng_state() if preserve else None
        ctx.positions = [index for index, arg in enumerate(args) if isinstance(arg, Tensor)]
        ctx.others = [None if isinstance(arg, Tensor) else arg for arg in args]
        ctx.save_for_backward(*[args[index] for index in ctx.positions])
        with _deliberately_without_grad():
            return function(*args)

    @staticmethod
    def backward(ctx, *grad_outputs):
        if not _is_checkpoint_valid():
            raise RuntimeError(
                "When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() or "
                "passing an `inputs` parameter to .backward(). To resolve this error, you can "
                "either set use_reentrant=False, or call .backward() without passing the "
                "`inputs` argument.")
        arguments = list(ctx.others)
        for index, tensor in zip(ctx.positions, ctx.saved_tensors):
            arguments[index] = _detached(tensor)
        with _replayed_rng(ctx.rng_state), enable_grad():
            outputs = _as_tuple(ctx.function(*arguments))
        pairs = [(output, grad) for output, grad in zip(outputs, grad_outputs)
                 if isinstance(output, Tensor) and output.requires_grad]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is "
                               "not necessary")
        run_backward([output for output, _ in pairs], [grad for _, grad in pairs])
        grads = [argument.grad if isinstance(argument, Tensor) else None
                 for argument in arguments]
        return (None, None) + tuple(grads)


def _reentrant(function, preserve, args):
    if is_grad_enabled() and not any(isinstance(arg, Tensor) and arg.requires_grad
                                     for arg in args):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=3)
    return _ReentrantCheckpoint.apply(function, preserve, *args)


# ---- use_reentrant=False ---------------------------------------------------------------------
class _Checkpoint(Function):
    """One node standing for the whole checkpointed function: its inputs are every tensor the
    function reads that requires grad; backward recomputes and differentiates."""

    @staticmethod
    def forward(ctx, recompute, argument_count, outputs, *inputs):
        ctx.recompute = recompute
        ctx.argument_count = argument_count
        ctx.save_for_backward(*inputs)
        return tuple(output.detach() for output in outputs)

    @staticmethod
    def backward(ctx, *grad_outputs):
        inputs = ctx.saved_tensors
        create_graph = is_grad_enabled()
        count = ctx.argument_count
        # The arguments are cut from the graph before them (backward need not sweep it again),
        # except under create_graph, where the gradients must stay differentiable with respect
        # to them. The leaves are the function's own (a module's parameters): it reads them as
        # they are.
        arguments = inputs[:count] if create_graph else tuple(
            _detached(tensor) for tensor in inputs[:count])
        sources = tuple(arguments) + tuple(inputs[count:])
        with enable_grad():
            outputs = ctx.recompute(arguments)
        pairs = [(output, grad) for output, grad in zip(outputs, grad_outputs)
                 if output.requires_grad and grad is not None]
        wanted = [index for index, tensor in enumerate(sources) if tensor.requires_grad]
        grads = [None] * len(sources)
        if pairs and wanted:
            found = compute_grad([output for output, _ in pairs], [sources[i] for i in wanted],
                                 [grad for _, grad in pairs], create_graph=create_graph,
                                 allow_unused=True)
            for index, gradient in zip(wanted, found):
                grads[index] = gradient
        return (None, None, None) + tuple(grads)


def _graph_leaves(outputs, first_sequence, own):
    """Leaves requiring grad that the graph of ``outputs`` reaches through nodes made since
    ``first_sequence`` (the function's own), other than the tensors in ``own``."""
    seen = set()
    leaves = []
    owned = {id(tensor) for tensor in own}
    stack = [output.grad_fn for output in outputs if output.grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node._sequence_nr < first_sequence:
            raise RuntimeError(
                "checkpoint: the function reads a tensor that requires grad and was computed "
                "outside it without being passed to it; pass that tensor as an argument")
        for edge in node.next_edges or ():
            if edge is None:
                continue
            parent = edge[0]
            if isinstance(parent, Node):
                stack.append(parent)
            elif isinstance(parent, Tensor) and id(parent) not in owned:
                owned.add(id(parent))
                leaves.append(parent)
    return leaves


def _non_reentrant(function, preserve, context_fn, args, kwargs):
    if _transforms.reverse:  # PyTorch's checkpoint packs through saved tensor hooks
        raise RuntimeError(SAVED_TENSOR_HOOKS_REFUSED)
    if not is_grad_enabled() or _transforms.depth:
        # nothing to recompute for, or vmap and forward-mode transforms, which run it as it is
        return function(*args, **kwargs)
    forward_context, recompute_context = context_fn()
    rng_state = get_rng_state() if preserve else None
    keys = list(kwargs)
    given = list(args) + [kwargs[key] for key in keys]
    positions = [index for index, value in enumerate(given) if isinstance(value, Tensor)]
    arguments = [_detached(value) for value in given]
    first_sequence = next(_sequence)
    with forward_context:
        outputs = function(*arguments[:len(args)], **dict(zip(keys, arguments[len(args):])))
    results = _as_tuple(outputs)
    tracked = [index for index, value in enumerate(results)
               if isinstance(value, Tensor) and value.requires_grad]
    if not tracked:
        return outputs
    own = [arguments[index] for index in positions]
    leaves = _graph_leaves([results[index] for index in tracked], first_sequence, own)

    def recompute(arguments):
        """The tracked outputs of the function run again on the argument tensors
        ``arguments``, with the random state of the first run."""
        rerun = list(given)
        for index, source in zip(positions, arguments):
            rerun[index] = source
        with _replayed_rng(rng_state), recompute_context:
            again = _as_tuple(function(*rerun[:len(args)],
                                       **dict(zip(keys, rerun[len(args):]))))
        return tuple(again[index] for index in tracked)

    inputs = [given[index] for index in positions] + leaves
    recorded = _Checkpoint.apply(recompute, len(positions), [results[index] for index in tracked],
                                 *inputs)
    recorded = _as_tuple(recorded)
    replaced = list(results)
    for index, value in zip(tracked, recorded):
        replaced[index] = value
    if isinstance(outputs, tuple):
        return tuple(replaced)
    return replaced[0]
