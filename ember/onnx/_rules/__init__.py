"""The translations: one rule per op class (keyed by class name, which stays put when kernels
move between modules), per public function (results made outside Op.apply) and per layer
translated whole. A rule is ``rule(graph, event)`` and returns the graph names of the event's
outputs (a name, or a sequence with one entry per output)."""
from .._symbolic import Dim, Unknown
from .._trace import Value
from ..errors import OnnxExporterError

_TABLES = {"op": {}, "function": {}, "module": {}}
_VOLATILE = {}
_INTERCEPTS = {}


def rule(kind, *names, volatile=(), intercept=None):
    """Register the decorated function for ``names``. ``volatile``: argument positions whose
    constants may differ between runs (random masks, per-size tables) without harm.
    ``intercept`` (functions only): ``claims(name, bound_arguments)`` says whether this call
    is translated whole, its inner ops left unrecorded."""
    def register(function):
        for name in names:
            _TABLES[kind][name] = function
            if volatile:
                _VOLATILE[(kind, name)] = frozenset(volatile)
            if intercept is not None:
                _INTERCEPTS[name] = intercept
        return function
    return register


def intercept(name):
    """The claims predicate of a function translated whole, or None."""
    return _INTERCEPTS.get(name)


def lookup(kind, name):
    return _TABLES[kind].get(name)


def has_rule(kind, name):
    return name in _TABLES[kind]


def volatile(kind, name):
    return _VOLATILE.get((kind, name))


def static(size, what):
    """``size`` as an int; OnnxExporterError when it follows the dynamic axes."""
    if isinstance(size, Unknown):
        raise size.error()
    if isinstance(size, Dim):
        raise OnnxExporterError(f"ember.onnx.export: {what} changes with the dynamic axes "
                                f"({size}); this translation needs it fixed")
    return size


def is_value(item):
    return isinstance(item, Value)


# Registration happens on import.
from . import elementwise, functions, layers, recurrent, reduce, shape  # noqa: E402,F401
