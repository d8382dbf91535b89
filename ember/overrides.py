"""PyTorch's ``__torch_function__`` protocol (``torch.overrides``): Tensor subclasses, and modes
entered with ``TorchFunctionMode``, see every call of ember's public functions and Tensor's
methods with them, and results on a subclass keep its type.

It costs nothing until a program defines such a subclass or enters a mode: then, once, the
functions of ember's public modules and Tensor's methods and operators are wrapped by
dispatchers that look for overriding arguments (PyTorch makes that check in C on every call).
``ember.special``, loaded lazily, wraps its functions when it loads after that.
"""
import functools
import sys
import threading
import types as _types

from ._dtype import _repr_prefix
from .tensor import Tensor, set_program_subclass_hook

__all__ = ["BaseTorchFunctionMode", "TorchFunctionMode", "enable_reentrant_dispatch",
           "get_default_nowrap_functions", "get_ignored_functions", "get_overridable_functions",
           "handle_torch_function",
           "has_torch_function", "has_torch_function_unary", "has_torch_function_variadic",
           "is_tensor_like", "is_tensor_method_or_property", "resolve_name",
           "wrap_torch_function"]


class _State(threading.local):
    def __init__(self):
        self.disabled = 0  # 1: subclasses' __torch_function__ off (modes still on); 2: all off
        self.modes = []


_state = _State()
_active = [False]
_replaced = []  # (owner, name, original) of every attribute _activate wrapped
_dispatchers = {}  # function -> its dispatcher
# type -> whether its instances override (a Tensor subclass or a tensor-like whose
# __torch_function__ is not the disabled one, and not one of ember's own subclasses)
_verdicts = {Tensor: False}


def _disabled_torch_function_impl(func, types, args=(), kwargs=None):
    """The ``__torch_function__`` of classes that opt out (``nn.Parameter``): calls run as on
    plain tensors and return plain tensors."""
    return func(*args, **(kwargs or {}))


def _overrides(kind):
    verdict = _verdicts.get(kind)
    if verdict is None:
        implementation = getattr(kind, "__torch_function__", None)
        verdict = implementation is not None and \
            getattr(implementation, "__func__", implementation) is not \
            _disabled_torch_function_impl and \
            not (issubclass(kind, Tensor) and kind._ember_own)
        _verdicts[kind] = verdict
    return verdict


def _collect(argument, found):
    kind = type(argument)
    if kind is Tensor or not _overrides(kind):
        return found
    if found is None:
        return [argument]
    if any(type(other) is kind for other in found):
        return found
    # subclasses before their superclasses, otherwise left to right (PyTorch's order)
    for index, other in enumerate(found):
        if issubclass(kind, type(other)):
            found.insert(index, argument)
            return found
    found.append(argument)
    return found


_PLAIN = frozenset([int, float, bool, str, type(None), complex, slice, type(Ellipsis)])


def _overloaded_args(arguments):
    """The arguments (looking one level into lists and tuples) whose types override, in the
    order their ``__torch_function__`` is tried; None when there are none."""
    found = None
    for argument in arguments:
        kind = type(argument)
        if kind is Tensor or kind in _PLAIN:
            continue
        if kind is list or kind is tuple:
            for item in argument:
                if type(item) is not Tensor:
                    found = _collect(item, found)
        else:
            found = _collect(argument, found)
    return found


def _qualified_name(func):
    """``torch.add``, ``torch.Tensor.sum``: the public spelling of a dispatched function (its
    module and name for a program's own)."""
    public = resolve_name(func)
    if public is not None:
        return public
    module = getattr(func, "__module__", None) or ""
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func))
    return f"{module}.{name}" if module else name


def _dispatch(public, overloaded, args, kwargs):
    """Try the innermost mode, then each overriding argument's ``__torch_function__``."""
    types = tuple(type(argument) for argument in overloaded or ())
    state = _state
    if state.modes and state.disabled < 2:
        mode = state.modes.pop()
        try:
            result = mode.__torch_function__(public, types, args, kwargs)
        finally:
            state.modes.append(mode)
        if result is not NotImplemented:
            return result
    for argument in overloaded or ():
        result = argument.__torch_function__(public, types, args, kwargs)
        if result is not NotImplemented:
            return result
    handlers = "".join(f"\n  - {'tensor subclass' if issubclass(kind, Tensor) else 'object'} "
                       f"{kind}" for kind in types)
    raise TypeError(f"Multiple dispatch failed for '{_qualified_name(public)}'; all "
                    f"__torch_function__ handlers returned NotImplemented:\n{handlers}\n\n"
                    f"For more information, try re-running with TORCH_LOGS=not_implemented")


def _dispatcher(func):
    """``func`` behind the protocol's check; the dispatcher itself is what a
    ``__torch_function__`` receives (so ``func is ember.add`` holds there)."""

    @functools.wraps(func)
    def dispatcher(*args, **kwargs):
        state = _state
        if state.disabled == 2:
            return func(*args, **kwargs)
        overloaded = None
        if not state.disabled:
            overloaded = _overloaded_args(args)
            if kwargs:
                overloaded = _merged(overloaded, _overloaded_args(kwargs.values()))
        if overloaded is None and not state.modes:
            return func(*args, **kwargs)
        return _dispatch(dispatcher, overloaded, args, kwargs)

    dispatcher.__wrapped_for_torch_function__ = func
    return dispatcher


def _merged(found, more):
    if more is None:
        return found
    for argument in more:
        found = _collect(argument, found)
    return found


# ---- activation --------------------------------------------------------------------------------
# ember's public modules whose functions dispatch once the protocol is active (those loaded then).
_MODULES = ("ember", "ember.nn.functional", "ember.linalg", "ember.fft", "ember.special")
# Tensor attributes that never dispatch: construction, attribute machinery, pickling and
# NumPy interop, which ember's own code relies on.
_NEVER = frozenset(["__new__", "__init__", "__init_subclass__", "__getattribute__", "__getattr__",
                    "__setattr__", "__delattr__", "__dir__", "__sizeof__", "__reduce__",
                    "__reduce_ex__", "__getstate__", "__setstate__", "__deepcopy__", "__copy__",
                    "__del__", "__hash__", "__array__", "__array_wrap__", "__array_function__",
                    "__array_ufunc__", "__torch_function__", "__subclasshook__", "__class__",
                    "__class_getitem__", "__dlpack__", "__dlpack_device__", "__format__",
                    "as_subclass", "_make_subclass"])
# Properties dispatched through their getter as in PyTorch (which names it ``__get__``).
_PROPERTIES = ("T", "mT", "H", "mH", "data", "real", "imag", "shape", "dtype", "device", "ndim",
               "grad", "requires_grad", "is_leaf", "grad_fn", "layout")
# What PyTorch never dispatches (torch.overrides.get_ignored_functions): functions without tensor
# inputs (factories, seeds, settings) and a few Tensor methods whose results keep no subclass.
_IGNORED = {
    "ember": ("tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "empty", "full",
              "arange", "range", "linspace", "logspace", "eye", "rand", "randn", "randint",
              "randperm", "manual_seed", "is_tensor", "rand_like", "randn_like", "normal",
              "get_default_dtype", "is_grad_enabled", "save", "load", "compile", "frombuffer",
              "tril_indices", "triu_indices", "empty_strided", "scalar_tensor",
              "sparse_coo_tensor", "promote_types", "result_type", "can_cast", "is_storage",
              "typename", "set_printoptions", "broadcast_shapes", "use_deterministic_algorithms",
              "get_rng_state", "set_rng_state", "initial_seed", "seed"),
    "ember.fft": ("fftfreq", "rfftfreq"),
    # the protocol's own helpers, which F re-exports as PyTorch's does
    "ember.nn.functional": ("handle_torch_function", "has_torch_function",
                            "has_torch_function_unary", "has_torch_function_variadic"),
    "Tensor": ("__iter__", "__delitem__", "new", "new_empty", "new_empty_strided", "new_full",
               "new_ones", "new_tensor", "new_zeros", "stride", "unflatten", "to_sparse_coo",
               "to_sparse_csr", "to_sparse_csc", "to_sparse_bsr", "to_sparse_bsc"),
}


def _activate():
    """Wrap ember's public functions and Tensor's methods in dispatchers (once)."""
    if _active[0]:
        return
    _active[0] = True
    for name, value in list(vars(Tensor).items()):
        if name in _NEVER or name in _IGNORED["Tensor"] or (
                name.startswith("_") and not (name.startswith("__") and name.endswith("__"))):
            continue
        if isinstance(value, (_types.FunctionType, _types.BuiltinFunctionType)):
            dispatcher = _dispatcher(value)
            if name.startswith("__") and not isinstance(vars(Tensor).get(value.__name__),
                                                        _types.FunctionType):
                # what __torch_function__ sees: "__getitem__", but "add" for __add__ (PyTorch)
                dispatcher.__name__ = dispatcher.__qualname__ = name
            dispatcher._public_name = f"Tensor.{name}"
            _replace(Tensor, name, value, dispatcher)
        elif isinstance(value, property) and name in _PROPERTIES and value.fget is not None:
            getter = _dispatcher(value.fget)
            getter.__name__ = getter.__qualname__ = "__get__"
            getter._public_name = f"Tensor.{name}.__get__"
            _replace(Tensor, name, value, property(getter, value.fset, value.fdel,
                                                   value.__doc__))
    for module_name in _MODULES:
        module = sys.modules.get(module_name)
        if module is not None:
            wrap_module(module)
    _dispatch_module_functionals(_dispatchers)


def wrap_module(module):
    """Wrap the public functions of ``module`` (one of ``_MODULES``, perhaps loaded after
    activation: ember's lazy ``special``) in dispatchers, if the protocol is on."""
    if not _active[0] or module.__name__ not in _MODULES:
        return
    ignored = _IGNORED.get(module.__name__, ())
    for name, value in list(vars(module).items()):
        if name.startswith("_") or name in ignored or \
                not isinstance(value, _types.FunctionType) or \
                hasattr(value, "__wrapped_for_torch_function__"):
            continue
        # one dispatcher per function, so aliases stay one object (special.gammaln, lgamma)
        dispatcher = _dispatchers.get(value)
        if dispatcher is None:
            dispatcher = _dispatchers[value] = _dispatcher(value)
            dispatcher._public_name = f"{module.__name__}.{name}".partition(".")[2] or name
        _replace(module, name, value, dispatcher)


def _dispatch_module_functionals(dispatchers):
    """nn's layers that keep their functional as a class attribute (``MaxPool2d._functional``)
    call it through its dispatcher too."""
    nn = sys.modules.get("ember.nn")
    if nn is None:
        return
    for layer in list(vars(nn).values()):
        if not isinstance(layer, type):
            continue
        for name, value in list(vars(layer).items()):
            if isinstance(value, staticmethod) and value.__func__ in dispatchers:
                _replace(layer, name, value, staticmethod(dispatchers[value.__func__]))


def unwrapped(func):
    """``func`` itself, or the function behind its ``__torch_function__`` dispatcher."""
    return getattr(func, "__wrapped_for_torch_function__", func)


def _replace(owner, name, original, replacement):
    _replaced.append((owner, name, original))
    setattr(owner, name, replacement)
    for hook in replaced_hooks:
        hook(name)


# ``hook(name)`` after each function the protocol wraps or unwraps: the drop-in import's alias
# modules forget their copies of that name (ember.compat).
replaced_hooks = []


def _deactivate():
    """Undo ``_activate`` (for tests: the protocol stays on in a program once turned on)."""
    while _replaced:
        owner, name, original = _replaced.pop()
        setattr(owner, name, original)
        for hook in replaced_hooks:
            hook(name)
    _active[0] = False
    _dispatchers.clear()
    _verdicts.clear()
    _verdicts[Tensor] = False


def _subclass_defined(cls):
    """Called for each Tensor subclass a program defines: one that does not opt out turns the
    protocol on."""
    if _overrides(cls):
        _activate()


# ---- the default __torch_function__ and subclass results --------------------------------------
def _default_torch_function(cls, func, types, args=(), kwargs=None):
    """Tensor's own ``__torch_function__``: run ``func`` with subclass dispatch off and give its
    tensor results the type ``cls``."""
    if kwargs is None:
        kwargs = {}
    if not all(issubclass(cls, kind) for kind in types):
        return NotImplemented
    with DisableTorchFunctionSubclass():
        result = func(*args, **kwargs)
        if func in get_default_nowrap_functions():
            return result
        return _convert(result, cls)


def _convert(result, cls):
    if cls is Tensor:
        return result
    if isinstance(result, Tensor) and not isinstance(result, cls):
        return result.as_subclass(cls)
    if isinstance(result, (tuple, list)):
        items = [_convert(item, cls) for item in result]
        if hasattr(type(result), "_fields"):  # named result tuples (return_types.max, ...)
            return type(result)(*items)
        return type(result)(items)
    return result


def get_default_nowrap_functions():
    """Functions whose results the default ``__torch_function__`` leaves as they are (the
    ``.grad`` getter: a subclass's gradient stays what backward made)."""
    grad = vars(Tensor)["grad"]
    return {grad.__get__, grad.fget}


# ---- switches ---------------------------------------------------------------------------------
class _Disabled:
    level = 0

    def __enter__(self):
        self._previous = _state.disabled
        _state.disabled = max(self._previous, self.level)
        return self

    def __exit__(self, *exc):
        _state.disabled = self._previous
        return False


class DisableTorchFunctionSubclass(_Disabled):
    """Within it, subclasses' ``__torch_function__`` is not called (modes still are)."""
    level = 1


class DisableTorchFunction(_Disabled):
    """Within it, neither subclasses' ``__torch_function__`` nor modes are called."""
    level = 2


class TorchFunctionMode:
    """Intercepts every dispatched call made while it is entered: ``__torch_function__(func,
    types, args, kwargs)``, with the mode itself off during the call (so it may call ``func``)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        raise NotImplementedError

    def __enter__(self):
        _activate()
        _state.modes.append(self)
        return self

    def __exit__(self, *exc):
        _state.modes.remove(self)
        return False

    @classmethod
    def push(cls, *args, **kwargs):
        mode = cls(*args, **kwargs)
        _activate()
        _state.modes.append(mode)
        return mode


class BaseTorchFunctionMode(TorchFunctionMode):
    """A mode that runs every call as it is (a base for modes that handle only some)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


def resolve_name(func):
    """The public name of a dispatched function (``torch.add``, ``torch.Tensor.add``), or None
    for one that does not dispatch."""
    public = getattr(func, "_public_name", None)
    name = getattr(func, "__name__", None)
    if public is None and name is not None:
        if vars(Tensor).get(name) is func:
            public = f"Tensor.{name}"
        for module_name in _MODULES:
            module = sys.modules.get(module_name)
            if public is None and module is not None and vars(module).get(name) is func:
                public = f"{module_name}.{name}".partition(".")[2] or name
    return None if public is None else f"{_repr_prefix[0]}.{public}"


def _is_torch_function_mode_enabled():
    return bool(_state.modes) and _state.disabled < 2


# ---- torch.overrides' functions ---------------------------------------------------------------
def has_torch_function(relevant_args):
    """Whether any of ``relevant_args`` overrides, or a mode is entered."""
    if _state.disabled == 2:
        return False
    if _state.modes:
        return True
    return not _state.disabled and _overloaded_args(relevant_args) is not None


def has_torch_function_unary(argument):
    return has_torch_function((argument,))


def has_torch_function_variadic(*arguments):
    return has_torch_function(arguments)


def handle_torch_function(public_api, relevant_args, *args, **kwargs):
    """Call the ``__torch_function__`` of the overriding ``relevant_args`` (or the mode's) for
    ``public_api(*args, **kwargs)``."""
    _activate()
    overloaded = None if _state.disabled else _overloaded_args(relevant_args)
    return _dispatch(public_api, overloaded, args, kwargs)


def is_tensor_like(inp):
    """A Tensor, or an object whose type has ``__torch_function__``."""
    return type(inp) is Tensor or hasattr(inp, "__torch_function__")


def is_tensor_method_or_property(func):
    """Whether ``func`` is one of Tensor's methods or property getters."""
    name = getattr(func, "__name__", None)
    if name is None:
        return False
    attribute = vars(Tensor).get(name)
    if isinstance(attribute, property):
        return func in (attribute.fget, getattr(attribute, "__get__", None))
    return attribute is func


def wrap_torch_function(dispatcher):
    """Decorator making a user function overridable: ``dispatcher(*args, **kwargs)`` names the
    arguments to check."""
    def decorator(func):
        @functools.wraps(func)
        def wrapped(*args, **kwargs):
            relevant = dispatcher(*args, **kwargs)
            if has_torch_function(relevant):
                return handle_torch_function(wrapped, relevant, *args, **kwargs)
            return func(*args, **kwargs)
        return wrapped
    return decorator


def get_ignored_functions():
    """Public functions that never dispatch (factories, seeds, settings and a few methods, as
    in PyTorch)."""
    ignored = set()
    for owner_name, names in _IGNORED.items():
        owner = Tensor if owner_name == "Tensor" else sys.modules.get(owner_name)
        for name in names:
            value = getattr(owner, name, None) if owner is not None else None
            if callable(value):
                ignored.add(value)
    return ignored | {Tensor.__init__, Tensor.__new__, Tensor.__torch_function__,
                      Tensor.as_subclass, Tensor._make_subclass}


def get_overridable_functions():
    """{module or Tensor: [functions]} that dispatch to ``__torch_function__``."""
    result = {}
    for module_name in _MODULES:
        module = sys.modules.get(module_name)
        if module is not None:
            result[module] = [value for name, value in vars(module).items()
                              if not name.startswith("_") and callable(value)
                              and not isinstance(value, type)]
    result[Tensor] = [value for name, value in vars(Tensor).items()
                      if callable(value) and name not in _NEVER and not name.startswith("_")]
    return result


class enable_reentrant_dispatch:
    """PyTorch's switch for dispatching again from inside a Python dispatcher: nothing to do
    in ember, whose dispatch is all Python."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


set_program_subclass_hook(_subclass_defined)
