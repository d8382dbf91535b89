"""``torch.compile`` and ``torch.compiler`` on ember, which runs eagerly: ``compile`` checks
PyTorch's arguments and returns the module or function itself, and nothing is ever being
compiled or exported."""
import contextlib
import functools

__all__ = ["allow_in_graph", "assume_constant_result", "compile", "cudagraph_mark_step_begin",
           "disable", "is_compiling", "is_dynamo_compiling", "is_exporting", "list_backends",
           "reset", "set_stance", "substitute_in_graph"]

_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")


def compile(model=None, *, fullgraph=False, dynamic=None, backend=None, mode=None,
            options=None, name=None, disable=False, recompile_limit=None,
            isolate_recompiles=False, shapes_spec=None):
    """What PyTorch's torch.compile returns, run eagerly (eager execution is what a compiled
    model computes): a module wrapped in an OptimizedModule, a function wrapped in one that
    calls it; ``disable=True`` gives ``model`` itself. Without a model, a decorator."""
    if model is None:
        def decorate(function):
            if function is None:
                raise RuntimeError("Model can't be None")
            return compile(function, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                           mode=mode, options=options, name=name, disable=disable)
        return decorate
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be "
                           "specified at the same time.")
    if mode is not None and mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(_MODES)}")
    if not callable(model):
        # PyTorch's own check is an assertion; the type is kept.
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")
    if disable:
        return model
    # torch.compile wraps an nn.Module in torch._dynamo's OptimizedModule, a Module itself
    from ._dynamo_eval_frame import wrap_module
    if (wrapped := wrap_module(model)) is not None:
        return wrapped

    @functools.wraps(model)
    def compiled(*args, **kwargs):
        return model(*args, **kwargs)
    compiled._torchdynamo_orig_callable = model
    return compiled


def is_compiling():
    return False


def is_dynamo_compiling():
    return False


def is_exporting():
    return False


def reset():
    """Nothing is cached: nothing was compiled."""


def list_backends(exclude_tags=("debug", "experimental")):
    """No compiler backends: ember runs eagerly."""
    return []


def cudagraph_mark_step_begin():
    """No CUDA graphs to mark."""


def _identity_decorator(function=None, *args, **kwargs):
    return function


allow_in_graph = _identity_decorator
assume_constant_result = _identity_decorator


def substitute_in_graph(original, *, can_constant_fold_through=False, skip_signature_check=False):
    """A decorator that returns the substitute unchanged (there is no graph to substitute in)."""
    return lambda substitute: substitute


def disable(fn=None, recursive=True, *, reason=None):
    """``fn`` unchanged (it already runs eagerly), or, without one, a no-op decorator."""
    if fn is None:
        return _identity_decorator
    return fn


class set_stance(contextlib.ContextDecorator):
    """Compiler stances change nothing in eager execution; usable as a call, ``with`` block or
    decorator, as in PyTorch."""

    def __init__(self, stance="default", *, skip_guard_eval_unsafe=False, force_backend=None):
        self.stance = stance

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False
