"""``torch.jit`` on ember, which has no TorchScript: ``script`` and ``trace`` return what they
are given where PyTorch's result is called the same way (a module, a function), warning as
PyTorch 2.13 does that TorchScript is deprecated. ``save`` stores the (eager) module whole, as
``ember.save`` does, and ``load`` rebuilds such a file; PyTorch's TorchScript archives are
refused with a clear error. ``is_scripting()`` and ``is_tracing()`` are False."""
import typing
import warnings

from .futures import Future

__all__ = ["Attribute", "Final", "Future", "ScriptModule", "annotate", "export", "fork", "freeze",
           "ignore", "interface", "is_scripting", "is_tracing", "load", "optimize_for_inference",
           "save", "script", "script_method", "trace", "trace_module", "unused", "wait"]

Final = typing.Final


def _deprecated(name):
    # attributed to the torch.jit function, as PyTorch's is: a script's default warning
    # filters hide a DeprecationWarning raised outside __main__
    warnings.warn(f"`torch.jit.{name}` is deprecated. Please switch to `torch.compile` or "
                  f"`torch.export`.", DeprecationWarning, stacklevel=2)


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """``obj`` itself: a scripted module or function is called as the original is."""
    _deprecated("script")
    if not callable(obj):
        raise RuntimeError(f"Type '{type(obj)}' cannot be compiled since it is not a function, "
                           f"class or module")
    return _with_save(obj)


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None,
          check_tolerance=1e-5, strict=True, _force_outplace=False, _module_class=None,
          _compilation_unit=None, example_kwarg_inputs=None, _store_inputs=True):
    """``func`` itself, run eagerly (a traced function would replay the path it took for the
    example inputs; eager execution takes the path of each call's inputs)."""
    _deprecated("trace")
    if not callable(func):
        raise RuntimeError(f"Type '{type(func)}' cannot be traced since it is not a function "
                           f"or module")
    return _with_save(func)


def trace_module(mod, inputs, *args, **kwargs):
    """``mod`` itself (see ``trace``)."""
    _deprecated("trace_module")
    return _with_save(mod)


def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    return mod


def optimize_for_inference(mod, other_methods=None):
    return mod


_saving_classes = {}  # a module class -> its subclass with save()


def _save_method(self, f, _extra_files=None):
    """``scripted.save(f)``: ``torch.jit.save(scripted, f)``."""
    save(self, f, _extra_files)


def _with_save(obj):
    """A module as PyTorch's scripted and traced modules are used: with a ``save(f)`` method
    (d2l's ``net = torch.jit.script(net); net.save('my_mlp')``). The module itself, its class
    swapped for a subclass of its own that adds the method under the same names (its
    checkpoints name the original class); anything else, or a class with a ``save`` of its own,
    is returned as it is."""
    from .nn import Module  # nn stands above the jit shims
    kind = type(obj)
    if not isinstance(obj, Module) or hasattr(kind, "save"):
        return obj
    subclass = _saving_classes.get(kind)
    if subclass is None:
        subclass = type(kind.__name__, (kind,), {
            "save": _save_method, "__module__": kind.__module__, "__qualname__": kind.__qualname__,
            "__doc__": kind.__doc__})
        _saving_classes[kind] = subclass
    obj.__class__ = subclass
    return obj


def save(m, f, _extra_files=None):
    """Write the module ``m`` (what ``script``/``trace`` returned: the module itself) whole, in
    ember's checkpoint format, for ``load``."""
    from . import serialization  # checkpoints and nn stand above the jit shims
    if _extra_files:
        raise RuntimeError("torch.jit.save: _extra_files are not stored by ember")
    serialization.save(m, f)


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    """The module that ``save`` wrote (rebuilt as ``ember.load(f, weights_only=False)`` does);
    PyTorch's TorchScript archives need its C++ runtime and are refused."""
    from . import serialization  # checkpoints and nn stand above the jit shims
    from .io.files import open_source  # (the same: the checkpoint reader's file checks)
    start = f.tell() if hasattr(f, "tell") else None
    with open_source(f, "torch.jit.load") as source:
        is_zip = source.read_at(0, min(source.size, 2)) == b"PK"
    if is_zip:
        raise RuntimeError("torch.jit.load is not provided by ember for PyTorch's TorchScript "
                           "archives: they need PyTorch's C++ runtime. Save the model's "
                           "state_dict() with torch.save and load it into the model's class "
                           "instead.")
    if start is not None:
        f.seek(start)
    return serialization.load(f, map_location=map_location, weights_only=False)


def is_scripting():
    return False


def is_tracing():
    return False


def annotate(the_type, the_value):
    """``the_value``: the type only guides the TorchScript compiler."""
    return the_value


def Attribute(value, type):  # noqa: N802 (PyTorch's name)
    return value


def _passthrough(fn=None, *args, **kwargs):
    """A TorchScript decorator with no effect in eager execution (``@ignore``, ``@ignore()``,
    ``@unused``, ``@export``, ``@interface``)."""
    if fn is None or not callable(fn):
        return lambda function: function
    return fn


ignore = _passthrough
unused = _passthrough
export = _passthrough
interface = _passthrough


def script_method(fn):
    """``fn`` itself: a ScriptModule's methods run eagerly (PyTorch warns that it is deprecated)."""
    _deprecated("script_method")
    return fn


_script_module = []  # the ScriptModule class, made on first use


def __getattr__(name):
    """``ScriptModule``: the base class of the legacy TorchScript modules, an eager nn.Module
    here (its subclasses define ``__init__`` and ``forward`` as any module does)."""
    if name != "ScriptModule":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _script_module:
        from .nn import Module  # nn stands above the jit shims
        _script_module.append(type("ScriptModule", (Module,), {
            "__module__": __name__, "__qualname__": "ScriptModule",
            "__doc__": "A module written for TorchScript, run eagerly."}))
    return _script_module[0]


def fork(func, *args, **kwargs):
    """torch.jit.fork run eagerly: ``func(*args, **kwargs)`` now, its result in a completed
    Future."""
    future = Future()
    future.set_result(func(*args, **kwargs))
    return future


def wait(future):
    """The value of a ``fork``'s Future."""
    return future.wait()
