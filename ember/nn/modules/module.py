"""Module: the base of every layer; registers parameters, buffers and submodules, holds the
train/eval flag, runs forward between hooks and saves/loads state_dicts with PyTorch's keys."""
import functools
import itertools
import threading
import typing
import warnings
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from ... import __future__ as _future, _device, _dtype, _factories
from ..._hooks import RemovableHandle, add_hook as _add_hook
from ...autograd.grad_mode import no_grad
from ..._dtype import tensor_type_name
from ...tensor import Size, Tensor, swap_tensors
from ..parameter import Buffer, Parameter
from ._backward_hooks import BackwardHookState, attach_non_full_hooks

__all__ = ["Module", "register_module_backward_hook", "register_module_buffer_registration_hook",
           "register_module_forward_hook", "register_module_forward_pre_hook",
           "register_module_full_backward_hook", "register_module_full_backward_pre_hook",
           "register_module_module_registration_hook",
           "register_module_parameter_registration_hook"]


# The ids of the global hook dicts that hold a hook now: empty unless a global forward or
# backward hook is registered, so a module call checks all of them at once.
_global_hooks_in_use = set()


class _GlobalHooks(dict):
    """Hooks by handle id, with ``snapshot``, the tuple of its items remade on every change
    (rare): every module call reads it without copying, and a hook may add or remove hooks while
    it runs."""

    def __init__(self, around_forward=True):
        super().__init__()
        self.snapshot = ()
        # True for the hooks _call_with_hooks runs (forward and backward hooks)
        self.around_forward = around_forward

    def _changed(self):
        self.snapshot = tuple(self.items())
        if self and self.around_forward:
            _global_hooks_in_use.add(id(self))
        else:
            _global_hooks_in_use.discard(id(self))

    def __setitem__(self, hook_id, hook):
        super().__setitem__(hook_id, hook)
        self._changed()

    def __delitem__(self, hook_id):
        super().__delitem__(hook_id)
        self._changed()

    def pop(self, hook_id, *default):
        hook = super().pop(hook_id, *default)
        self._changed()
        return hook

    def clear(self):
        super().clear()
        self._changed()


# Hooks that run for every module call, before each module's own hooks (PyTorch's global hooks).
_global_forward_pre_hooks = _GlobalHooks()
_global_forward_hooks = _GlobalHooks()
_global_forward_hooks_with_kwargs = set()
_global_forward_hooks_always_called = set()
_global_backward_hooks = _GlobalHooks()
_MIXED_BACKWARD_HOOKS = ("Cannot use both regular backward hooks and full backward hooks on a "
                         "single Module. Please use only one of them.")
_global_backward_pre_hooks = _GlobalHooks()
# hook(module, name, value) when any module registers a parameter, buffer or child module; a
# non-None result is registered instead.
_global_parameter_registration_hooks = _GlobalHooks(around_forward=False)
_global_buffer_registration_hooks = _GlobalHooks(around_forward=False)
_global_module_registration_hooks = _GlobalHooks(around_forward=False)


def register_module_forward_pre_hook(hook):
    """Register ``hook(module, args)`` to run before the forward of every module, ahead of the
    module's own pre-hooks; a non-None result replaces the positional args."""
    handle = RemovableHandle(_global_forward_pre_hooks)
    _global_forward_pre_hooks[handle.id] = hook
    return handle


def register_module_forward_hook(hook, *, with_kwargs=False, always_call=False):
    """Register ``hook(module, args, output)`` (with ``with_kwargs``: ``hook(module, args, kwargs,
    output)``) to run after the forward of every module, ahead of the module's own forward hooks;
    a non-None result replaces the output. ``always_call`` runs it even when the call raises."""
    handle = RemovableHandle(_global_forward_hooks, _global_forward_hooks_with_kwargs,
                             _global_forward_hooks_always_called)
    _global_forward_hooks[handle.id] = hook
    if with_kwargs:
        _global_forward_hooks_with_kwargs.add(handle.id)
    if always_call:
        _global_forward_hooks_always_called.add(handle.id)
    return handle


def register_module_full_backward_pre_hook(hook):
    """Register ``hook(module, grad_output)`` for every module, ahead of each module's own
    backward pre-hooks; a non-None result replaces grad_output."""
    handle = RemovableHandle(_global_backward_pre_hooks)
    _global_backward_pre_hooks[handle.id] = hook
    return handle


def register_module_full_backward_hook(hook):
    """Register ``hook(module, grad_input, grad_output)`` for every module, ahead of each
    module's own backward hooks; a non-None result replaces grad_input."""
    handle = RemovableHandle(_global_backward_hooks)
    _global_backward_hooks[handle.id] = hook
    return handle


def register_module_backward_hook(hook):
    """The deprecated global form: called as ``register_module_full_backward_hook``'s are."""
    return register_module_full_backward_hook(hook)


def _registration_hook_adder(hooks):
    def register(hook):
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle
    return register


register_module_parameter_registration_hook = _registration_hook_adder(
    _global_parameter_registration_hooks)
register_module_buffer_registration_hook = _registration_hook_adder(
    _global_buffer_registration_hooks)
register_module_module_registration_hook = _registration_hook_adder(
    _global_module_registration_hooks)
for _register, _kind in ((register_module_parameter_registration_hook, "parameter"),
                         (register_module_buffer_registration_hook, "buffer"),
                         (register_module_module_registration_hook, "module")):
    _register.__name__ = _register.__qualname__ = f"register_module_{_kind}_registration_hook"
    _register.__doc__ = (f"Register ``hook(module, name, {_kind})``, run whenever any module "
                         f"registers a {_kind}; a non-None result is registered instead.")
del _register, _kind


def _registered(hooks, module, name, value):
    """``value`` after each global registration hook in ``hooks``."""
    for _, hook in hooks.snapshot:
        output = hook(module, name, value)
        if output is not None:
            value = output
    return value


class _CallDepth(threading.local):
    depth = 0  # module calls in progress on this thread


_call_depth = _CallDepth()
# ``hook(module)`` after every top-level module call (none in progress around it on its thread)
# that returned: ember's own, for checks of a whole model call (training.mode_checks). Nested
# calls pay one counter update instead of two global hooks' calls.
_top_level_call_hooks = _GlobalHooks(around_forward=False)


# Counts the changes ember makes to any module's children (assignment, add_module, deletion,
# the containers' insertions): walks over a model's tree may be reused while it stands still
# (training.mode_checks). A change made by writing a ``_modules`` dict directly is not counted.
children_changes = [0]


def register_top_level_call_hook(hook):
    """Register ``hook(module)`` to run after each top-level module call that returns normally
    (not PyTorch API: ember's mode checks use it); returns a RemovableHandle."""
    handle = RemovableHandle(_top_level_call_hooks)
    _top_level_call_hooks[handle.id] = hook
    return handle


def _zero_grad(parameters, set_to_none):
    """``zero_grad`` of modules and optimizers: each gradient set to None, or detached from any
    graph and filled with zeros in place."""
    for parameter in parameters:
        grad = parameter._grad
        if grad is None:
            continue
        if set_to_none:
            parameter._grad = None
            continue
        if grad.grad_fn is not None:
            grad.detach_()
        else:
            grad.requires_grad_(False)
        grad.zero_()


def _new_args_kwargs(result, hook_name):
    """The non-None result of a pre-hook that sees kwargs: (new_args, new_kwargs)."""
    if not (isinstance(result, tuple) and len(result) == 2):
        raise RuntimeError(f"{hook_name} must return None or a tuple of (new_args, new_kwargs), "
                           f"but got {result}.")
    return result


def _optional_parameter(module, name, present, shape, dtype=None, device=None):
    """Register ``name`` on ``module``: a new parameter of ``shape`` (filled later by
    reset_parameters) when ``present``, else None, so the key is known either way."""
    if present:
        setattr(module, name, Parameter(_factories.empty(*shape, dtype=dtype, device=device)))
    else:
        module.register_parameter(name, None)


def _storage_free(tensor):
    """A read-only stand-in of ``tensor``'s shape and dtype that holds no memory (one zero seen
    through zero strides): what ``Module.to('meta')`` leaves in place of parameters and buffers."""
    stand_in = Tensor._wrap(np.broadcast_to(np.zeros((), tensor._data.dtype), tensor._data.shape))
    stand_in._on_meta = True
    return stand_in


def _storage_given(tensor):
    """``tensor`` where it holds memory, else new zeros of its shape and dtype: what
    ``Module.to_empty`` leaves in place of the stand-ins ``Module.to('meta')`` made."""
    if tensor._data.flags.writeable:
        return tensor
    return Tensor._wrap(np.zeros(tensor._data.shape, tensor._data.dtype))


def _with_grads(tensors):
    """``tensors`` followed by the gradients they hold."""
    tensors = list(tensors)
    return tensors + [tensor._grad for tensor in tensors if tensor._grad is not None]


def _typename(value):
    """PyTorch's torch.typename: 'ember.FloatTensor' for tensors, the qualified class otherwise."""
    if isinstance(value, Tensor):
        return tensor_type_name(value._data.dtype)
    cls = type(value)
    module = cls.__module__
    if module in ("builtins", "__builtin__", None):
        return cls.__qualname__
    return module + "." + cls.__qualname__


def _add_indent(text, spaces):
    """Every line after the first indented by ``spaces``; blank lines stay empty (PyTorch 2.x)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    first = lines.pop(0)
    return first + "\n" + "\n".join(" " * spaces + line if line.strip() else ""
                                     for line in lines)


_addindent = _add_indent  # PyTorch's name, imported by custom reprs


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it did not find and the ones it did not use."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class _LoadErrors(list):
    """The error list of one ``load_state_dict`` call; it also carries the validated copies, which
    run only once every module has been checked (a failed load changes nothing)."""

    def __init__(self):
        super().__init__()
        self.pending = []


class _HookDict:
    """A Module's hook dict that is made on first access: an empty OrderedDict stored on the
    instance (which then shadows this descriptor), as PyTorch's modules always have one."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        hooks = OrderedDict()
        instance.__dict__[self.name] = hooks
        return hooks


class Module:
    """Base class of all layers: assign Parameters, Modules and buffers as attributes to register
    them; ``forward`` holds the computation and calling the module runs it between its hooks."""

    _version = 1  # stored in state_dict()._metadata; subclasses bump it when their format changes
    # PyTorch's class attributes: whether __init__ passes its extra arguments to super(), the
    # legacy flag of source-change warnings on load, and state_dict's type variable.
    call_super_init = False
    dump_patches = False
    T_destination = typing.TypeVar("T_destination", bound=Mapping)
    _mode_lock = None  # a bool pins ``training`` against train()/eval() (see lock_mode)
    # Backward, state_dict and load_state_dict hooks by handle id: each an empty OrderedDict
    # made on first access (most modules never have one).
    _backward_hooks = _HookDict()
    _backward_pre_hooks = _HookDict()
    _state_dict_pre_hooks = _HookDict()
    _state_dict_hooks = _HookDict()
    _load_state_dict_pre_hooks = _HookDict()
    _load_state_dict_post_hooks = _HookDict()
    _is_full_backward_hook = None
    training: bool

    def __init__(self):
        set_attribute = object.__setattr__
        set_attribute(self, "training", True)
        set_attribute(self, "_parameters", {})
        set_attribute(self, "_buffers", {})
        set_attribute(self, "_non_persistent_buffers_set", set())
        set_attribute(self, "_modules", {})
        set_attribute(self, "_forward_pre_hooks", OrderedDict())
        set_attribute(self, "_forward_hooks", OrderedDict())
        set_attribute(self, "_forward_hooks_with_kwargs", set())
        set_attribute(self, "_forward_hooks_always_called", set())
        set_attribute(self, "_forward_pre_hooks_with_kwargs", set())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"forward" function')

    def __call__(self, *args, **kwargs):
        hooked = (self._forward_pre_hooks or self._forward_hooks or _global_hooks_in_use
                  or self._backward_hooks or self._backward_pre_hooks)
        calls = _call_depth
        if not hooked and (not _top_level_call_hooks or calls.depth):
            # no hooks, and no top-level hook or a call already in progress that counts for
            # this one: only the outermost call keeps the depth
            return self.forward(*args, **kwargs)
        depth = calls.depth
        calls.depth = depth + 1
        try:
            if hooked:
                output = self._call_with_hooks(args, kwargs)
            else:
                output = self.forward(*args, **kwargs)
        finally:
            calls.depth = depth
        if not depth:
            for _, hook in _top_level_call_hooks.snapshot:
                hook(self)
        return output

    def _call_with_hooks(self, args, kwargs):
        """forward between the hooks, global ones first; if anything raises, the ``always_call``
        forward hooks not yet run still run before the exception propagates."""
        output = None
        forward_hooks = None
        started = 0  # how many of forward_hooks have been called
        backward_state = None
        non_full_hooks = ()
        module_hooks = tuple(self._backward_hooks.values())
        if self._is_full_backward_hook is False:
            non_full_hooks, module_hooks = module_hooks, ()
        if module_hooks or self._backward_pre_hooks or _global_backward_hooks \
                or _global_backward_pre_hooks:
            backward_state = BackwardHookState(
                self, tuple(hook for _, hook in _global_backward_hooks.snapshot) + module_hooks,
                tuple(hook for _, hook in _global_backward_pre_hooks.snapshot)
                + tuple(self._backward_pre_hooks.values()))
        try:
            pre_hooks = _global_forward_pre_hooks.snapshot
            if self._forward_pre_hooks:
                pre_hooks += tuple(self._forward_pre_hooks.items())
            for hook_id, hook in pre_hooks:
                if hook_id in self._forward_pre_hooks_with_kwargs:
                    result = hook(self, args, kwargs)
                    if result is not None:
                        args, kwargs = _new_args_kwargs(result, "forward pre-hook")
                else:
                    result = hook(self, args)
                    if result is not None:
                        args = result if isinstance(result, tuple) else (result,)
            if backward_state is not None:
                args = backward_state.setup_inputs(args)
            output = self.forward(*args, **kwargs)
            if backward_state is not None:
                output = backward_state.setup_outputs(output)
            forward_hooks = _global_forward_hooks.snapshot
            if self._forward_hooks:
                forward_hooks += tuple(self._forward_hooks.items())
            for hook_id, hook in forward_hooks:
                started += 1
                if (hook_id in _global_forward_hooks_with_kwargs
                        or hook_id in self._forward_hooks_with_kwargs):
                    result = hook(self, args, kwargs, output)
                else:
                    result = hook(self, args, output)
                if result is not None:
                    output = result
            if non_full_hooks:
                attach_non_full_hooks(self, non_full_hooks, args, output)
            return output
        except Exception:
            # As PyTorch: an interrupt (KeyboardInterrupt, SystemExit) skips these hooks.
            if forward_hooks is None:
                forward_hooks = _global_forward_hooks.snapshot + tuple(self._forward_hooks.items())
            self._run_always_called_hooks(forward_hooks[started:], args, kwargs, output)
            raise

    def _run_always_called_hooks(self, hooks, args, kwargs, output):
        """After a failed call: each ``always_call`` hook of ``hooks``, its own error only warned
        about (the first error is the one that propagates)."""
        for hook_id, hook in hooks:
            if hook_id in _global_forward_hooks_always_called:
                kind = "global module"
            elif hook_id in self._forward_hooks_always_called:
                kind = "module"
            else:
                continue
            try:
                if (hook_id in _global_forward_hooks_with_kwargs
                        or hook_id in self._forward_hooks_with_kwargs):
                    result = hook(self, args, kwargs, output)
                else:
                    result = hook(self, args, output)
            except Exception as error:
                warnings.warn(f"{kind} forward hook with ``always_call=True`` raised an exception "
                              f"that was silenced as another error was raised in forward: {error}",
                              stacklevel=2)
                continue
            if result is not None:
                output = result

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args)`` runs before forward; a non-None result replaces the args."""
        handle = RemovableHandle(self._forward_pre_hooks, self._forward_pre_hooks_with_kwargs)
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs.add(handle.id)
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """``hook(module, args, output)`` runs after forward; a non-None result replaces output.
        ``always_call`` runs it even when the call raises."""
        handle = RemovableHandle(self._forward_hooks, self._forward_hooks_with_kwargs,
                                 self._forward_hooks_always_called)
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs.add(handle.id)
        if always_call:
            self._forward_hooks_always_called.add(handle.id)
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_hook(self, hook, prepend=False):
        """``hook(module, grad_input, grad_output)`` runs when the gradients with respect to the
        module's tensor inputs are computed; a non-None result replaces grad_input."""
        if self._is_full_backward_hook is False:
            raise RuntimeError(_MIXED_BACKWARD_HOOKS)
        self._is_full_backward_hook = True
        return _add_hook(self._backward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """``hook(module, grad_output)`` runs when the gradients with respect to the module's
        outputs are computed; a non-None result replaces grad_output."""
        return _add_hook(self._backward_pre_hooks, hook, prepend)

    def register_backward_hook(self, hook):
        """The deprecated form: ``hook(module, grad_input, grad_output)`` runs on the node that
        made the module's output (see ``_backward_hooks.attach_non_full_hooks``)."""
        if self._is_full_backward_hook is True:
            raise RuntimeError(_MIXED_BACKWARD_HOOKS)
        self._is_full_backward_hook = False
        return _add_hook(self._backward_hooks, hook, False)

    # ---- registration ------------------------------------------------------------------------
    def __setattr__(self, name, value):
        parameters = self.__dict__.get("_parameters")
        modules = self.__dict__.get("_modules")
        buffers = self.__dict__.get("_buffers")
        if isinstance(value, Parameter):
            if parameters is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep=self._parameters)
            self.register_parameter(name, value)
        elif parameters is not None and name in parameters:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                f"({_dtype.repr_prefix()}.nn.Parameter or None expected)")
            parameters[name] = None
        elif isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep=modules)
            if _global_module_registration_hooks:
                value = _registered(_global_module_registration_hooks, self, name, value)
            modules[name] = value
            children_changes[0] += 1
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                f"({_dtype.repr_prefix()}.nn.Module or None expected)")
            modules[name] = None
            children_changes[0] += 1
        elif isinstance(value, Buffer):
            if buffers is None:
                raise AttributeError("cannot assign buffer before Module.__init__() call")
            self._forget(name, keep=buffers)
            self.register_buffer(name, value, persistent=value.persistent)
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                f"({_dtype.repr_prefix()}.nn.Buffer, {_dtype.repr_prefix()}.Tensor "
                                f"or None expected)")
            if _global_buffer_registration_hooks:
                value = _registered(_global_buffer_registration_hooks, self, name, value)
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name, keep):
        """Drop ``name`` from the instance dict and every registry but ``keep`` (where it keeps
        its position) before it is registered again."""
        for registry in (self.__dict__, self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        children_changes[0] += 1
        self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name):
        # Only reached when normal lookup fails: parameters, buffers and submodules live here.
        state = self.__dict__
        if "_parameters" in state:
            if name in state["_parameters"]:
                return state["_parameters"][name]
            if name in state["_buffers"]:
                return state["_buffers"][name]
            if name in state["_modules"]:
                return state["_modules"][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
            children_changes[0] += 1
        else:
            object.__delattr__(self, name)

    def _check_name(self, kind, name, registry):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {_typename(name)}")
        if "." in name:
            suffix = f", got: {name}" if kind == "module" else ""
            raise KeyError(f"{kind} name can't contain \".\"{suffix}")
        if name == "":
            raise KeyError(f"{kind} name can't be empty string \"\"")
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter or None) under ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name("parameter", name, self._parameters)
        if param is not None:
            if not isinstance(param, Parameter):
                raise TypeError(f"cannot assign '{_typename(param)}' object to parameter "
                                f"'{name}' (torch.nn.Parameter or None required)")
            if param.grad_fn is not None:
                raise ValueError(
                    f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must "
                    f"be created explicitly. To express '{name}' as a function of another Tensor, "
                    f"compute the value in the forward() method.")
        if _global_parameter_registration_hooks:
            param = _registered(_global_parameter_registration_hooks, self, name, param)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Register a tensor (or None) that is state but not a parameter, e.g. running statistics;
        a non-persistent buffer is left out of ``state_dict``."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            f"({_dtype.repr_prefix()} Tensor or None required)")
        if _global_buffer_registration_hooks:
            tensor = _registered(_global_buffer_registration_hooks, self, name, tensor)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Register a child module (or None) under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if "_modules" not in self.__dict__:
            raise AttributeError("cannot assign module before Module.__init__() call")
        self._check_name("module", name, self._modules)
        if _global_module_registration_hooks:
            module = _registered(_global_module_registration_hooks, self, name, module)
        self._modules[name] = module
        children_changes[0] += 1

    register_module = add_module

    def get_submodule(self, target):
        """The submodule at a dotted path ('' is this module)."""
        if target == "":
            return self
        module = self
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def set_submodule(self, target, module, strict=False):
        """Put ``module`` at a dotted path; with ``strict`` the last name must already be a
        submodule."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        *path, name = target.split(".")
        parent = self.get_submodule(".".join(path))
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def get_extra_state(self):
        """Extra state for state_dict (a module that overrides this and ``set_extra_state``
        saves it under ``_extra_state``)."""
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never be "
                           "called.")

    def set_extra_state(self, state):
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never be "
                           "called.")

    def get_parameter(self, target):
        """The parameter at a dotted path such as 'encoder.0.weight'."""
        module, name = self._owner_of(target)
        parameter = getattr(module, name)
        if not isinstance(parameter, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return parameter

    def get_buffer(self, target):
        """The buffer at a dotted path such as 'bn.running_mean'."""
        module, name = self._owner_of(target)
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return module._buffers[name]

    def _owner_of(self, target):
        """(submodule, attribute name) for a dotted path, checking that the attribute exists."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        return module, name

    # ---- traversal ---------------------------------------------------------------------------
    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        if not self._modules:
            return iter(())  # a leaf: no generator to start (train() asks every module)
        return (module for _, module in self.named_children())

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(dotted name, module) for this module and all below it, depth first, each once."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            child_prefix = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, child_prefix, remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def _named_members(self, registry_name, prefix, recurse, remove_duplicate):
        seen = set()
        if recurse:
            modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
        else:
            modules = [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry_name).items():
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, parameter) pairs; a parameter shared by several modules appears once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, parameter in self.named_parameters(recurse=recurse):
            yield parameter

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, buffer) pairs, non-persistent buffers included."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # ---- modes -------------------------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode here and in every current child; a locked module keeps its mode."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        lock = self._mode_lock
        training = mode if lock is None else lock
        if type(self).__setattr__ is Module.__setattr__:
            # What Module.__setattr__ ends in for 'training' (no registry may hold that name),
            # without its registry checks: train() runs every step in many training loops.
            object.__setattr__(self, "training", training)
        else:
            self.training = training
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def lock_mode(self, training):
        """Pin this module's ``training`` flag: train()/eval() leave it (not its children) alone."""
        if not isinstance(training, bool):
            raise ValueError("training mode is expected to be boolean")
        self._mode_lock = training
        self.training = training
        return self

    def unlock_mode(self):
        """Let train()/eval() change this module's mode again."""
        self._mode_lock = None
        return self

    def requires_grad_(self, requires_grad=True):
        for parameter in self.parameters():
            parameter.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset every parameter's gradient: to None by default, else to zeros in place."""
        _zero_grad(self.parameters(), set_to_none)

    def apply(self, fn):
        """Call ``fn`` on every submodule (children first) and then on this module."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ---- dtype conversion --------------------------------------------------------------------
    def _apply(self, convert):
        """Convert every parameter (in place: ``param.data = converted``, identity kept), gradient
        and buffer with ``convert``, children first."""
        for module in self.children():
            module._apply(convert)
        return self._apply_here(convert)

    def _apply_here(self, convert):
        """``_apply`` to this module's own parameters, gradients and buffers."""
        flags = _future._flags
        for key, parameter in self._parameters.items():
            if parameter is None:
                continue
            with no_grad():
                converted = convert(parameter)
                grad = parameter._grad
                converted_grad = None if grad is None else convert(grad)
            if flags["swap"] or flags["overwrite"]:
                self._replace_parameter(key, parameter, converted, grad, converted_grad,
                                        flags["swap"])
                continue
            parameter.data = converted
            if grad is not None:
                grad.data = converted_grad
        for name, buffer in self._buffers.items():
            if buffer is not None:
                self._buffers[name] = convert(buffer)
        return self

    def _replace_parameter(self, key, parameter, converted, grad, converted_grad, swap):
        """torch.__future__'s conversions: a new Parameter for ``key`` (overwrite), or the
        converted one swapped into the existing object (swap)."""
        replacement = Parameter(converted, parameter.requires_grad)
        if swap:
            if converted_grad is not None:
                swap_tensors(grad, converted_grad)
                replacement._grad = grad
            swap_tensors(parameter, replacement)
            return
        if converted_grad is not None:
            replacement._grad = converted_grad
        self._parameters[key] = replacement

    def to(self, *args, **kwargs):
        """Convert floating parameters and buffers to a floating dtype (``to(ember.float64)``,
        ``to(tensor)``, ``to('cpu')``); integer buffers are left as they are. ``to('meta')``
        frees their memory, keeping shapes and dtypes, for a module that only serves as the
        structure of ``func.functional_call`` (PyTorch's model-ensembling recipe)."""
        target = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        memory_format = kwargs.pop("memory_format", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() received an invalid combination of arguments: "
                            f"{sorted(kwargs)}")
        if memory_format is not None:
            # As PyTorch: the format is applied to the 4-D and 5-D parameters and buffers only.
            self.to(*args, dtype=target, device=device)
            return self._apply(lambda tensor: tensor.to(memory_format=memory_format)
                               if tensor.dim() in (4, 5) else tensor)
        for arg in args:
            if isinstance(arg, Tensor):
                target = arg.dtype
            elif isinstance(arg, _dtype.dtype):
                target = arg
            else:
                device = arg
        if device is not None and _device.device(device).type == "meta":
            if target is not None:
                self.to(target)
            self._apply(_storage_free)
            for tensor in _with_grads(self.parameters()):
                tensor._on_meta = True
            return self
        if self._holds_tensors():
            _device.check_cpu(device, "Module.to")
        elif device is not None and not isinstance(device, _device.device):
            _device.device(device)  # a bad name still raises; there is nothing to move
        if target is None:
            return self
        target = _dtype.to_dtype(target)
        if not target.is_floating_point:
            raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but got "
                            f"desired dtype={target}")
        return self._apply(lambda tensor: tensor.to(target) if tensor.is_floating_point()
                           else tensor)

    def float(self):
        return self._apply(lambda tensor: tensor.float() if tensor.is_floating_point() else tensor)

    def double(self):
        return self._apply(lambda tensor: tensor.double() if tensor.is_floating_point() else tensor)

    def half(self):
        return self._apply(lambda tensor: tensor.half() if tensor.is_floating_point() else tensor)

    def bfloat16(self):
        return self._apply(lambda tensor: tensor.bfloat16() if tensor.is_floating_point()
                           else tensor)

    def type(self, dst_type):
        """Every parameter and buffer converted to ``dst_type``."""
        return self._apply(lambda tensor: tensor.type(dst_type))

    def cpu(self):
        return self

    def to_empty(self, *, device=None, recurse=True):
        """PyTorch moves meta-device modules to ``device``; ember's live on the CPU already, and
        those built in a meta block stop reporting the meta device."""
        _device.check_cpu(device, "Module.to_empty")
        for module in self.modules() if recurse else (self,):
            module._apply_here(_storage_given)
        for tensor in _with_grads((*self.parameters(recurse), *self.buffers(recurse))):
            tensor.__dict__.pop("_on_meta", None)
        return self

    def share_memory(self):
        """Each parameter's, gradient's and buffer's ``share_memory_()``: processes forked or
        spawned afterwards with the module train the same parameters (Hogwild)."""
        return self._apply(lambda tensor: tensor.share_memory_())

    def compile(self, *args, **kwargs):
        """``torch.compile`` of this module's calls: ember runs them eagerly, unchanged."""

    def cuda(self, device=None):
        if not self._holds_tensors():
            return self  # PyTorch moves nothing, so a loss module's .cuda() works without CUDA
        raise _device.CudaUnavailableError("Module.cuda: ember runs on the CPU only "
                                           "(ember.cuda.is_available() is False); keep modules "
                                           "on 'cpu'")

    def xpu(self, device=None):
        if not self._holds_tensors():
            return self
        raise AssertionError("Torch not compiled with XPU enabled")

    def mtia(self, device=None):
        if not self._holds_tensors():
            return self
        raise AssertionError("Torch not compiled with MTIA enabled")

    def ipu(self, device=None):
        if not self._holds_tensors():
            return self
        raise RuntimeError("PyTorch is not linked with support for ipu devices")

    def _holds_tensors(self):
        """Whether this module or a descendant has a parameter or buffer (for to()/cuda())."""
        return next(self.parameters(), None) is not None or next(self.buffers(), None) is not None

    # ---- state_dict --------------------------------------------------------------------------
    def register_state_dict_pre_hook(self, hook):
        """``hook(module, prefix, keep_vars)`` runs before ``state_dict`` saves this module."""
        return _add_hook(self._state_dict_pre_hooks, hook, False)

    def register_state_dict_post_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata)`` runs after this module and its
        children are saved; it may edit ``state_dict`` in place and must return None."""
        hook._from_public_api = True
        return _add_hook(self._state_dict_hooks, hook, False)

    def _register_state_dict_hook(self, hook):
        """PyTorch's older post-hook: a non-None result replaces the state dict."""
        if getattr(hook, "_from_public_api", False):
            raise RuntimeError("Cannot register the same function as the state dict post hook "
                               "that was previously registered via "
                               "register_state_dict_post_hook")
        return _add_hook(self._state_dict_hooks, hook, False)

    def register_load_state_dict_pre_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` runs before this module's entries are loaded; it may
        rename or add keys of ``state_dict`` in place (old checkpoints)."""
        return self._register_load_state_dict_pre_hook(hook, with_module=True)

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        """As ``register_load_state_dict_pre_hook``, without the module argument unless
        ``with_module``."""
        if with_module:
            hook = functools.partial(hook, self)
        return _add_hook(self._load_state_dict_pre_hooks, hook, False)

    def register_load_state_dict_post_hook(self, hook):
        """``hook(module, incompatible_keys)`` runs after ``load_state_dict`` loaded this module
        and its children; it may clear keys from the lists in place before they are reported,
        and must return None."""
        return _add_hook(self._load_state_dict_post_hooks, hook, False)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, parameter in self._parameters.items():
            if parameter is not None:
                destination[prefix + name] = parameter if keep_vars else parameter.detach()
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buffer if keep_vars else buffer.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + _EXTRA_STATE_KEY_SUFFIX] = self.get_extra_state()

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """An ordered dict of parameters and persistent buffers by dotted name, PyTorch's keys and
        order (per module: parameters, buffers, then children); values share storage, detached.
        Old code's positional (destination, prefix, keep_vars) work, with PyTorch's warning."""
        if args:
            warnings.warn("Positional args are being deprecated, use kwargs instead. Refer to "
                          "https://pytorch.org/docs/main/generated/torch.nn.Module.html"
                          "#torch.nn.Module.state_dict for details.", FutureWarning,
                          stacklevel=2)
            names = ("destination", "prefix", "keep_vars")
            if len(args) > len(names):
                raise TypeError(f"state_dict() takes at most {len(names)} positional arguments "
                                f"but {len(args)} were given")
            positional = dict(zip(names, args))
            destination = positional.get("destination", destination)
            prefix = positional.get("prefix", prefix)
            keep_vars = positional.get("keep_vars", keep_vars)
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        local_metadata = {"version": self._version}
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        if self._state_dict_pre_hooks:
            for hook in list(self._state_dict_pre_hooks.values()):
                hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        if self._state_dict_hooks:
            for hook in list(self._state_dict_hooks.values()):
                result = hook(self, destination, prefix, local_metadata)
                if getattr(hook, "_from_public_api", False):
                    if result is not None:
                        raise RuntimeError("state_dict post-hook must return None")
                elif result is not None:
                    destination = result
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        """Check this module's own entries of ``state_dict`` (keys ``prefix + name``).

        Appends to ``missing_keys``, ``unexpected_keys`` and ``error_msgs``; the copies are queued
        on ``error_msgs.pending`` and run by ``load_state_dict`` after every module passed.
        Override to adapt old checkpoints before calling super(): ``local_metadata['version']`` is
        the ``_version`` the checkpoint was saved with (None if unknown), and ``state_dict`` is
        this module's private copy, so inserting a missing key (e.g. BatchNorm's
        ``num_batches_tracked``) is safe. Called directly with a plain list, it copies at once.
        """
        if self._load_state_dict_pre_hooks:
            for hook in list(self._load_state_dict_pre_hooks.values()):
                hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                     error_msgs)
        assign = local_metadata.get("assign_to_params_buffers", False)
        pending = getattr(error_msgs, "pending", None)
        deferred = pending is not None
        if not deferred:
            pending = []
        local_state = {name: value for name, value in itertools.chain(
            self._parameters.items(),
            ((name, buffer) for name, buffer in self._buffers.items()
             if name not in self._non_persistent_buffers_set)) if value is not None}
        for name, current in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = state_dict[key]
            if isinstance(value, Tensor):
                array = value._data
            elif isinstance(value, np.ndarray):
                array = value
            else:
                # PyTorch's words (a NumPy array, which ember also takes, is Tensor-like)
                error_msgs.append(f'While copying the parameter named "{key}", expected '
                                  f'{_dtype.repr_prefix()}.Tensor or Tensor-like object from '
                                  f'checkpoint but received {type(value)}')
                continue
            if current._data.ndim == 0 and array.ndim == 1 and array.shape[0] == 1:
                array = array.reshape(())  # checkpoints from before 0-d tensors existed
            if array.shape != current._data.shape:
                error_msgs.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{Size(array.shape)!r} from checkpoint, the shape in current "
                                  f"model is {Size(current._data.shape)!r}.")
                continue
            if current._on_meta and not assign:
                # a meta tensor has nothing to copy into (PyTorch's no-op)
                if not (isinstance(value, Tensor) and value._on_meta):
                    warnings.warn(f"for {key}: copying from a non-meta parameter in the "
                                  f"checkpoint to a meta parameter in the current model, which "
                                  f"is a no-op. (Did you mean to pass `assign=True` to assign "
                                  f"items in the state dictionary to their corresponding key in "
                                  f"the module instead of copying them in place?)")
                continue
            pending.append((self, name, current, array, assign))
        extra_key = prefix + _EXTRA_STATE_KEY_SUFFIX
        extra = type(self).set_extra_state is not Module.set_extra_state
        if extra:
            if extra_key in state_dict:
                pending.append((self, _EXTRA_STATE_KEY_SUFFIX, None, state_dict[extra_key], assign))
            elif strict:
                missing_keys.append(extra_key)
        if strict:
            for key in state_dict:
                if key.startswith(prefix):
                    head = key[len(prefix):].split(".", 1)[0]
                    if head not in self._modules and head not in local_state and \
                            not (extra and key == extra_key):
                        unexpected_keys.append(key)
        if not deferred:
            _run_copies(pending)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy ``state_dict`` into this module's parameters and buffers (storage kept, values cast
        to their dtype). Every missing, unexpected or mis-shaped key is reported in one
        RuntimeError, and nothing is changed unless the whole load is valid."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing_keys = []
        unexpected_keys = []
        error_msgs = _LoadErrors()
        metadata = getattr(state_dict, "_metadata", None)
        # With load post-hooks anywhere, PyTorch's order: each module's hooks run right after
        # its subtree is loaded, with the values in place (they may re-tie or recompute from
        # them) and the keys found missing so far, which they may clear in place.
        hooked = any(module._load_state_dict_post_hooks for module in _post_order(self))
        incompatible = _IncompatibleKeys(missing_keys, unexpected_keys)

        def load(module, local_state_dict, prefix):
            local_metadata = {} if metadata is None else dict(metadata.get(prefix[:-1], {}))
            local_metadata.setdefault("version", None)
            if assign:
                local_metadata["assign_to_params_buffers"] = True
            module._load_from_state_dict(local_state_dict, prefix, local_metadata, True,
                                         missing_keys, unexpected_keys, error_msgs)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {key: value for key, value in local_state_dict.items()
                                 if key.startswith(child_prefix)}, child_prefix)
            if hooked and module._load_state_dict_post_hooks:
                if not list(error_msgs):
                    _run_copies(error_msgs.pending)
                    error_msgs.pending = []
                for hook in list(module._load_state_dict_post_hooks.values()):
                    if hook(module, incompatible) is not None:
                        raise AssertionError(
                            "Hooks registered with ``register_load_state_dict_post_hook`` are "
                            "not expected to return new values, if incompatible_keys need to "
                            "be modified, it should be done inplace.")

        load(self, dict(state_dict), "")
        messages = list(error_msgs)
        if strict:
            if unexpected_keys:
                messages.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{key}"' for key in unexpected_keys)))
            if missing_keys:
                messages.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{key}"' for key in missing_keys)))
        if messages:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(messages)))
        _run_copies(error_msgs.pending)
        return _IncompatibleKeys(missing_keys, unexpected_keys)

    # ---- repr --------------------------------------------------------------------------------
    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        """One line (or several) describing this module's settings, shown inside its repr."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _add_indent(repr(module), 2)
                       for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"


_EXTRA_STATE_KEY_SUFFIX = "_extra_state"  # the state_dict key of get_extra_state()'s value


def _post_order(module):
    """``module`` and its submodules, each after its children (load_state_dict's order)."""
    order = []
    stack = [(module, False)]
    while stack:
        current, expanded = stack.pop()
        if expanded:
            order.append(current)
            continue
        stack.append((current, True))
        stack.extend((child, False) for child in reversed(list(current._modules.values()))
                     if child is not None)
    return order


def _run_copies(pending):
    """Write validated state_dict values into parameters and buffers."""
    with no_grad():
        for module, name, current, array, assign in pending:
            if callable(name):  # a module's own restore step (quantized layers' packed weights)
                name(array)
                continue
            if name == _EXTRA_STATE_KEY_SUFFIX:
                module.set_extra_state(array)
                continue
            if assign:
                replacement = Tensor._wrap(array)
                if isinstance(current, Parameter):
                    replacement = Parameter(replacement, requires_grad=current.requires_grad)
                    module._parameters[name] = replacement
                else:
                    module._buffers[name] = replacement
                continue
            if _future._flags["swap"]:
                loaded = current.module_load(Tensor._wrap(array))
                if isinstance(current, Parameter):
                    loaded = Parameter(loaded, requires_grad=current.requires_grad)
                swap_tensors(current, loaded)
                continue
            np.copyto(current._data, array, casting="unsafe")
            current._bump_version()
