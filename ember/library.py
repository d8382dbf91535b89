"""``torch.library``'s Python custom operators: ``custom_op`` turns a function into an op that
autograd differentiates through the backward given to ``register_autograd`` (PyTorch's
"Python Custom Operators" tutorial), reachable as ``torch.ops.<namespace>.<name>``.

ember runs every op eagerly on the CPU, so a fake (meta) implementation is only kept and checked
by ``opcheck``, and a kernel registered for the CPU replaces the function's body."""
import dataclasses
import functools
import inspect
import sys

import numpy as np

from .autograd.function import Function
from .autograd.grad_mode import no_grad
from .tensor import Tensor

__all__ = ["CustomOpDef", "custom_op", "opcheck", "register_autograd", "register_fake",
           "register_kernel", "register_vmap"]

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
        self._vmap_rule = None
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

    def register_vmap(self, func=None):
        """Batch the op under vmap with ``func(info, in_dims, *args, **kwargs)``, which returns
        ``(output, out_dims)`` (one in_dim per positional argument; None: not batched)."""
        def register(rule):
            self._vmap_rule = rule
            self._function_class = None
            return rule
        return register if func is None else register(func)

    def __call__(self, *args, **kwargs):
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = tuple(bound.arguments.values())
        if self._function_class is None:
            self._function_class = self._make_function()
        return self._function_class.apply(*values)

    def _run(self, values):
        """The op's body on the bound arguments, keyword-only ones passed by keyword."""
        positional, keywords = self._split(values)
        return (self._cpu_kernel or self._init_fn)(*positional, **keywords)

    def _split(self, values):
        """The bound arguments as (positional, keyword-only by name)."""
        positional = []
        keywords = {}
        for (name, parameter), value in zip(self._signature.parameters.items(), values):
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
                keywords[name] = value
            else:
                positional.append(value)
        return positional, keywords

    def _make_function(self):
        op = self
        qualified = f"{self._namespace}.{self._name}.default"

        def forward(*values):
            # The body runs below autograd, as PyTorch runs an op's kernel: on detached inputs
            # (sharing storage, so declared mutations land in the arguments).
            output = op._run([value.detach() if isinstance(value, Tensor) else value
                              for value in values])
            _check_no_aliasing(op, values, output)
            return output

        def setup_context(ctx, inputs, output):
            if op._setup_context is not None:
                op._setup_context(ctx, inputs, output)

        def backward(ctx, *grad_outputs):
            if op._backward is None:
                raise RuntimeError(f"Trying to backward through {qualified} but no autograd "
                                   f"formula was registered. Please use register_autograd to "
                                   f"add one.")
            return op._backward(ctx, *grad_outputs)

        def vmap(info, in_dims, *values):
            positional, keywords = op._split(values)
            return op._vmap_rule(info, tuple(in_dims[:len(positional)]), *positional,
                                 **keywords)

        name = f"GeneratedBackwardFor_{self._namespace}_{self._name}_default"
        methods = {"forward": staticmethod(forward), "setup_context": staticmethod(setup_context),
                   "backward": staticmethod(backward), "generate_vmap_rule": True}
        if self._vmap_rule is not None:
            methods.update(vmap=staticmethod(vmap), generate_vmap_rule=False)
        return type(name, (Function,), methods)


def custom_op(name, fn=None, /, *, mutates_args, device_types=None, schema=None, tags=None):
    """Make ``fn`` the op ``"namespace::name"``; used bare (``@custom_op(name, ...)``) it
    decorates. ``mutates_args`` names the arguments it writes to ("unknown": any); ``tags``
    (PyTorch's compiler hints) change nothing here."""
    if not isinstance(name, str) or name.count("::") != 1:
        raise ValueError(f"Expected a qualified name 'namespace::name', got {name!r}")
    if mutates_args != "unknown" and isinstance(mutates_args, str):
        raise ValueError("mutates_args must be a tuple of argument names or 'unknown', got a "
                         "string")
    namespace, op_name = name.split("::")

    def make(function):
        if schema is None:
            _check_annotations(function)
        op = CustomOpDef(namespace, op_name, function, mutates_args)
        if device_types is not None:
            op.register_kernel(device_types, function)
        _REGISTRY[name] = op
        return op
    return make if fn is None else make(fn)


def _check_annotations(function):
    """PyTorch infers an op's schema from the annotations: every parameter and the return
    need one."""
    signature = inspect.signature(function)
    for name, parameter in signature.parameters.items():
        if parameter.annotation is inspect.Parameter.empty:
            raise ValueError(f"infer_schema(func): Parameter {name} must have a type "
                             f"annotation. Got func with signature {signature})")
    if signature.return_annotation is inspect.Signature.empty:
        raise ValueError(f"infer_schema(func): No return type annotation was provided. Please "
                         f"add one. Got func with signature {signature})")


def _storage(array):
    """The array that owns ``array``'s memory (PyTorch's storage, shared by all its views)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _check_no_aliasing(op, values, output):
    """PyTorch's rule: an op's outputs are new tensors, sharing memory with no input and with
    no other output."""
    outputs = output if isinstance(output, (tuple, list)) else (output,)
    seen = {id(_storage(value._data)) for value in values if isinstance(value, Tensor)}
    for value in outputs:
        if not isinstance(value, Tensor):
            continue
        storage = id(_storage(value._data))
        if storage in seen:
            raise RuntimeError(
                f"{op._name} (with implementation in {sys.modules[__name__]!r}): The output "
                f"of this custom operator (1) must not also be an input to this custom "
                f"operator and (2) may not alias any inputs to this custom operator or other "
                f"returns. The most common way to trigger this error is if we have y = "
                f"custom_op(x) and y and x are the same Tensor. Please instead return a clone "
                f"of the offending output tensor(s) (e.g. return x.clone()) or refactor the "
                f"custom operator to not return y.")
        seen.add(storage)


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


# The checks opcheck runs by default, and all it knows, in PyTorch's order.
DEFAULT_TEST_UTILS = ("test_schema", "test_autograd_registration", "test_faketensor",
                      "test_aot_dispatch_dynamic")
_ALL_TEST_UTILS = ("test_schema", "test_autograd_registration", "test_faketensor",
                   "test_aot_dispatch_static", "test_aot_dispatch_dynamic")


class OpCheckError(Exception):
    """What ``opcheck`` raises when one of its checks fails (PyTorch's exception type)."""


@dataclasses.dataclass
class MetadataMismatchError(RuntimeError):
    """A fake implementation's output whose shape or dtype is not the real output's."""

    reason: str

    def __str__(self):
        return self.reason


def register_vmap(op, func=None, /, *, lib=None):
    """``register_vmap("namespace::name", func)``, or as a decorator without ``func``."""
    return _lookup(op, "register_vmap").register_vmap(func)


def opcheck(op, args, kwargs=None, *, test_utils=DEFAULT_TEST_UTILS, raise_exception=True,
            atol=None, rtol=None):
    """PyTorch's checks of a custom op on these inputs, as far as an eager CPU framework has
    them: arguments not declared as mutated stay unchanged (test_schema); the fake
    implementation's outputs have the real outputs' shapes and dtypes (test_faketensor); the op
    can be traced (it has a fake) and, with inputs that require grad, differentiated (the
    test_aot_dispatch checks). Each check's result is "SUCCESS" or the exception it failed with."""
    definition = _lookup(op, "opcheck")
    kwargs = kwargs or {}
    if isinstance(test_utils, str):
        test_utils = (test_utils,)
    if not set(test_utils).issubset(_ALL_TEST_UTILS):
        raise ValueError(f"opcheck(op, ..., test_utils={test_utils}), expected test_utils to be "
                         f"subset of {_ALL_TEST_UTILS} but it was not")
    checks = {"test_schema": _check_schema, "test_autograd_registration": lambda *_: None,
              "test_faketensor": _check_fake, "test_aot_dispatch_static": _check_traceable,
              "test_aot_dispatch_dynamic": _check_traceable}
    results = {}
    for name in test_utils:
        try:
            checks[name](definition, args, kwargs)
        except Exception as error:
            if raise_exception:
                raise OpCheckError(f"opcheck(op, ...): {name} failed with {error} (scroll up "
                                   f"for stack trace)") from error
            results[name] = error
        else:
            results[name] = "SUCCESS"
    return results


def _check_schema(definition, args, kwargs):
    bound = definition._signature.bind(*args, **kwargs)
    versions = {name: value._version for name, value in bound.arguments.items()
                if isinstance(value, Tensor)}
    with no_grad():
        definition(*args, **kwargs)
    declared = definition._mutates_args
    for name, version in versions.items():
        if bound.arguments[name]._version != version and declared != "unknown" and \
                name not in declared:
            raise RuntimeError(f"Argument {name} is not defined as mutable but was mutated")


def _fake_outputs(definition, args, kwargs):
    """The registered fake's outputs; an op that mutates its arguments and returns nothing has
    PyTorch's generated trivial fake."""
    if definition._fake_fn is not None:
        return definition._fake_fn(*args, **kwargs)
    if definition._signature.return_annotation in (None, type(None)) and \
            definition._mutates_args:
        return None
    raise RuntimeError(f"There was no fake impl registered for {definition!r}. This is "
                       f"necessary for torch.compile/export/fx tracing to work. Please use "
                       f"`{definition._name}.register_fake` to add an fake impl.")


def _check_fake(definition, args, kwargs):
    fake = _fake_outputs(definition, args, kwargs)
    with no_grad():
        output = definition(*args, **kwargs)
    if fake is None:
        return
    context = (f"When comparing the output of {definition._namespace}.{definition._name}.default "
               f"on FakeTensor and concrete Tensors, found")
    real_items = output if isinstance(output, (tuple, list)) else (output,)
    fake_items = fake if isinstance(fake, (tuple, list)) else (fake,)
    if len(real_items) != len(fake_items):
        raise AssertionError(f"{context} mismatch in number of returns {len(fake_items)} != "
                             f"{len(real_items)}")
    for index, (real, made) in enumerate(zip(real_items, fake_items)):
        if isinstance(real, Tensor) != isinstance(made, Tensor):
            raise AssertionError(f"{context} mismatched number of tensor outputs")
        if not isinstance(real, Tensor):
            continue
        if real.shape != made.shape:
            problem = f"Shapes {real.shape} and {made.shape} are not equal!"
        elif real.dtype != made.dtype:
            problem = f"Dtypes {real.dtype} and {made.dtype} are not equal!"
        else:
            continue
        where = "" if len(real_items) == 1 else f" for output[{index}]"
        raise MetadataMismatchError(f"{context} mismatched tensor metadata{where}: {problem}")


def _check_traceable(definition, args, kwargs):
    """What compiling the op needs of it: a backward where an input requires grad (checked
    first, as PyTorch does), and a fake."""
    inputs = (*args, *kwargs.values())
    if definition._backward is None and any(isinstance(value, Tensor) and value.requires_grad
                                            for value in inputs):
        raise RuntimeError(f"Trying to backward through {definition._namespace}."
                           f"{definition._name}.default but no autograd formula was registered. "
                           f"Please use register_autograd to add one.")
    _fake_outputs(definition, args, kwargs)


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
