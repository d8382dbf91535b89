"""``torch.library``'s Python custom operators: ``custom_op`` turns a function into an op that
autograd differentiates through the backward given to ``register_autograd`` (PyTorch's
"Python Custom Operators" tutorial), reachable as ``torch.ops.<namespace>.<name>``.

ember runs every op eagerly on the CPU, so a fake (meta) implementation is only kept and checked
by ``opcheck``, and a kernel registered for the CPU replaces the function's body."""
import functools
import inspect

from .autograd.function import Function
from .autograd.grad_mode import no_grad
from .tensor import Tensor

__all__ = ["CustomOpDef", "custom_op", "opcheck", "register_autograd", "register_fake",
           "register_kernel"]

_REGISTRY = {}  # "namespace::name" -> CustomOpDef


class CustomOpDef:
    """A custom operator: call it like the function it was made from."""

    def __init__(self, namespace, name, function, mutates_args):
        self._namespace = namespace
        self._name = name
        self._init_fn = function
        self._signature = inspect.signature(function)
        self._mutates_args = mutates_args
        self._cpu_kernel = None
        self._fake_fn = None
        self._backward = None
        self._setup_context = None
        self._function_class = None

    def __repr__(self):
        return f"<CustomOpDef({self._namespace}::{self._name})>"

    @property
    def default(self):
        """``torch.ops.<namespace>.<name>.default``: the op's one overload."""
        return self

    def register_fake(self, fn):
        """Keep ``fn(*args)``, which returns empty outputs of the right shapes and dtypes."""
        self._fake_fn = fn
        return fn

    def register_kernel(self, device_types, fn=None):
        """Use ``fn`` as the op's body on ``device_types`` (only the CPU's is ever run here)."""
        def register(function):
            types = (device_types,) if isinstance(device_types, str) or device_types is None \
                else tuple(device_types)
            if None in types or "cpu" in types:
                self._cpu_kernel = function
            return function
        return register if fn is None else register(fn)

    def register_autograd(self, backward, *, setup_context=None):
        """``backward(ctx, *grad_outputs)`` gives one gradient per input (None for those without
        one); ``setup_context(ctx, inputs, output)`` saves what it needs."""
        self._backward = backward
        self._setup_context = setup_context
        self._function_class = None

    def __call__(self, *args, **kwargs):
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = tuple(bound.arguments.values())
        if self._function_class is None:
            self._function_class = self._make_function()
        return self._function_class.apply(*values)

    def _run(self, values):
        """The op's body on the bound arguments, keyword-only ones passed by keyword."""
        function = self._cpu_kernel or self._init_fn
        positional = []
        keywords = {}
        for (name, parameter), value in zip(self._signature.parameters.items(), values):
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
                keywords[name] = value
            else:
                positional.append(value)
        return function(*positional, **keywords)

    def _make_function(self):
        op = self
        qualified = f"{self._namespace}.{self._name}.default"

        def forward(*values):
            # The body runs below autograd, as PyTorch runs an op's kernel: on detached inputs
            # (sharing storage, so declared mutations land in the arguments).
            return op._run([value.detach() if isinstance(value, Tensor) else value
                            for value in values])

        def setup_context(ctx, inputs, output):
            if op._setup_context is not None:
                op._setup_context(ctx, inputs, output)

        def backward(ctx, *grad_outputs):
            if op._backward is None:
                raise RuntimeError(f"Trying to backward through {qualified} but no autograd "
                                   f"formula was registered. Please use register_autograd to "
                                   f"add one.")
            return op._backward(ctx, *grad_outputs)

        name = f"GeneratedBackwardFor_{self._namespace}_{self._name}_default"
        return type(name, (Function,), {
            "forward": staticmethod(forward), "setup_context": staticmethod(setup_context),
            "backward": staticmethod(backward), "generate_vmap_rule": True})


def custom_op(name, fn=None, /, *, mutates_args, device_types=None, schema=None):
    """Make ``fn`` the op ``"namespace::name"``; used bare (``@custom_op(name, ...)``) it
    decorates. ``mutates_args`` names the arguments it writes to ("unknown": any)."""
    if not isinstance(name, str) or name.count("::") != 1:
        raise ValueError(f"Expected a qualified name 'namespace::name', got {name!r}")
    if mutates_args != "unknown" and isinstance(mutates_args, str):
        raise ValueError("mutates_args must be a tuple of argument names or 'unknown', got a "
                         "string")
    namespace, op_name = name.split("::")

    def make(function):
        op = CustomOpDef(namespace, op_name, function, mutates_args)
        if device_types is not None:
            op.register_kernel(device_types, function)
        _REGISTRY[name] = op
        return op
    return make if fn is None else make(fn)


def _lookup(op, caller):
    if isinstance(op, CustomOpDef):
        return op
    if op in _REGISTRY:
        return _REGISTRY[op]
    raise ValueError(f"{caller}: {op!r} is not a custom op made by torch.library.custom_op")


def register_fake(op, fn=None, /, *, lib=None, _stacklevel=1):
    """``register_fake("namespace::name")`` as a decorator, or with ``fn``."""
    definition = _lookup(op, "register_fake")
    return definition.register_fake if fn is None else definition.register_fake(fn)


def register_kernel(op, device_types, fn=None, /, *, lib=None):
    return _lookup(op, "register_kernel").register_kernel(device_types, fn)


def register_autograd(op, backward, /, *, setup_context=None, lib=None):
    _lookup(op, "register_autograd").register_autograd(backward, setup_context=setup_context)


def opcheck(op, args, kwargs=None, *, test_utils=None, raise_exception=True):
    """Check what ember can of a custom op on these inputs: arguments it did not declare as
    mutated are unchanged; outputs need grad when inputs do and a backward is registered; the
    fake implementation gives the real outputs' shapes and dtypes."""
    definition = _lookup(op, "opcheck")
    kwargs = kwargs or {}
    results = {}
    bound = definition._signature.bind(*args, **kwargs)
    versions = {name: value._version for name, value in bound.arguments.items()
                if isinstance(value, Tensor)}
    with no_grad():
        output = definition(*args, **kwargs)
    declared = definition._mutates_args
    changed = [name for name, version in versions.items()
               if bound.arguments[name]._version != version
               and declared != "unknown" and name not in declared]
    results["test_schema"] = (f"{definition!r} changed {changed} without declaring them in "
                              f"mutates_args") if changed else "SUCCESS"
    results["test_autograd_registration"] = "SUCCESS"
    if definition._fake_fn is None:
        results["test_faketensor"] = (f"There was no fake impl registered for {definition!r}. "
                                      f"Please use `{definition._name}.register_fake` to add a "
                                      f"fake impl.")
    else:
        fake = definition._fake_fn(*args, **kwargs)
        real_items = output if isinstance(output, (tuple, list)) else (output,)
        fake_items = fake if isinstance(fake, (tuple, list)) else (fake,)
        same = len(real_items) == len(fake_items) and all(
            not isinstance(real, Tensor) or (isinstance(made, Tensor) and real.shape == made.shape
                                             and real.dtype == made.dtype)
            for real, made in zip(real_items, fake_items))
        results["test_faketensor"] = "SUCCESS" if same else (
            "the fake impl's outputs differ in shape or dtype from the op's")
    failures = {name: message for name, message in results.items() if message != "SUCCESS"}
    if failures and raise_exception:
        name, message = next(iter(failures.items()))
        raise RuntimeError(f"opcheck(op, ...): {name} failed with {message}")
    return results


class _Namespace:
    """``torch.ops.<namespace>``: the custom ops registered under it."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, name):
        op = _REGISTRY.get(f"{self._name}::{name}")
        if op is None:
            raise AttributeError(f"torch.ops.{self._name}.{name} is not provided by ember (it "
                                 f"has only the custom ops made by torch.library.custom_op; "
                                 f"no attribute '{name}')")
        return op


@functools.lru_cache(maxsize=None)
def namespace(name):
    return _Namespace(name)


def registered_namespaces():
    """The namespaces that hold at least one custom op."""
    return {qualified.partition("::")[0] for qualified in _REGISTRY}
