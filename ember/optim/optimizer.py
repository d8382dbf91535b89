"""Optimizer: parameter groups, per-parameter state, state_dict in PyTorch's format, step hooks.

The base wraps every ``step`` so that the step hooks run around it and the update itself runs with
grad mode off (on for ``differentiable``, as in PyTorch). Its own ``step`` visits each parameter
that has a gradient, creates its state, counts the step and applies weight decay; an optimizer
gives the rest of the math in ``_update``, which changes ``param._data`` in place.
"""
import functools
import numbers
import types
import typing
import warnings
from collections import OrderedDict, defaultdict

import numpy as np

from .._dtype import float32 as _float32, float64, from_numpy_dtype, get_default_dtype, real_dtype
from .._hooks import RemovableHandle, add_hook as _add_hook
from .._layout import LayoutStorage
from ..autograd.grad_mode import enable_grad, set_grad_enabled
from ..nn.modules.module import _new_args_kwargs, _zero_grad
from ..sparse._coo import cast as cast_sparse, negated_storage
from ..tensor import Tensor
from ._foreach import FlatPlan, add_scaled_, dense_gradients

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook",
           "register_optimizer_step_post_hook"]

# PyTorch's alias of what ``params`` may be, in custom optimizers' signatures.
ParamsT = typing.Union[typing.Iterable[Tensor], typing.Iterable[typing.Dict[str, typing.Any]],
                       typing.Iterable[typing.Tuple[str, Tensor]]]

# The per-optimizer state_dict / load_state_dict hook dicts, under PyTorch's attribute names.
_STATE_DICT_HOOKS = ("_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks")
_global_pre_hooks = OrderedDict()
_global_post_hooks = OrderedDict()


class _RequiredParameter:
    """Marks a hyper-parameter with no default (a group must give it)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def register_optimizer_step_pre_hook(hook):
    """Register ``hook(optimizer, args, kwargs)`` to run before every optimizer's step."""
    handle = RemovableHandle(_global_pre_hooks)
    _global_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook):
    """Register ``hook(optimizer, args, kwargs)`` to run after every optimizer's step."""
    handle = RemovableHandle(_global_post_hooks)
    _global_post_hooks[handle.id] = hook
    return handle


def _wrap_step(step):
    """Run the step hooks around ``step`` and the step itself with grad mode off."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if getattr(self, "_in_step", False):
            # A subclass's step calling super().step(): the hooks already ran once.
            return step(self, *args, **kwargs)
        self._in_step = True
        try:
            return _run_step(self, step, args, kwargs)
        finally:
            self._in_step = False

    wrapper._ember_step_wrapped = True
    return wrapper


def _run_step(optimizer, step, args, kwargs):
    """Pre-hooks, the step with grad mode off (on for a differentiable optimizer), post-hooks."""
    if _global_pre_hooks or optimizer._optimizer_step_pre_hooks:
        for hook in (*_global_pre_hooks.values(), *optimizer._optimizer_step_pre_hooks.values()):
            result = hook(optimizer, args, kwargs)
            if result is not None:
                args, kwargs = _new_args_kwargs(result, hook)
    optimizer._opt_called = True
    with set_grad_enabled(bool(optimizer.defaults.get("differentiable", False))):
        output = step(optimizer, *args, **kwargs)
    if _global_post_hooks or optimizer._optimizer_step_post_hooks:
        for hook in (*optimizer._optimizer_step_post_hooks.values(), *_global_post_hooks.values()):
            hook(optimizer, args, kwargs)
    return output


def _call_closure(closure):
    """Evaluate a step closure with grad mode on (the step itself runs with it off)."""
    if closure is None:
        return None
    with enable_grad():
        return closure()


class Optimizer:
    """Base class: ``param_groups`` (dicts of params and options) and per-parameter ``state``."""

    # what PyTorch's __setstate__ (run by load_state_dict) sets in each loaded group
    _loaded_group_defaults = {}
    _loaded_group_overrides = {}

    # True where ``_update`` is elementwise and the state is shaped like the parameter (plus a
    # 'step'): then a group may be updated through flat arrays (``_foreach.py``).
    _foreach_update = False
    # False where ``_update`` applies the group's weight decay itself (Adafactor decays the
    # parameter after reading its norm).
    _step_applies_weight_decay = True
    # Optimizers that take sparse gradients (SGD, Adagrad) say so here and give the update in
    # ``_update_sparse``; the others refuse them in PyTorch's words, naming ``_sparse_name``.
    _accepts_sparse_grads = False
    _sparse_name = None
    _sparse_hint = ""
    _sparse_weight_decay_error = "weight_decay option is not compatible with sparse gradients"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_ember_step_wrapped", False):
            cls.step = _wrap_step(step)

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        for name in _STATE_DICT_HOOKS:
            setattr(self, name, OrderedDict())
        self._opt_called = False
        self._in_step = False
        self._foreach_plans = {}  # id(group) -> FlatPlan, for optimizers with _foreach_update
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {params.type()}")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self):
        # The multi-tensor plans hold views of the state; a copy rebuilds its own.
        state = dict(self.__dict__)
        state.pop("_foreach_plans", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._foreach_plans = {}
        for name in _STATE_DICT_HOOKS:
            self.__dict__.setdefault(name, OrderedDict())

    def __repr__(self):
        lines = [self.__class__.__name__ + " ("]
        for index, group in enumerate(self.param_groups):
            if index:
                lines.append("")  # PyTorch leaves a blank line between groups
            lines.append(f"Parameter Group {index}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    # ---- parameter groups ------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group of params with its own options; missing options come from the defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)
        names = [param[0] for param in params if isinstance(param, tuple)]
        params = [param[1] if isinstance(param, tuple) else param for param in params]
        if names and len(names) != len(params):
            raise ValueError("all optimizer params should be with/without names. Some param names "
                             "are missing")
        for param in params:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(param))
            if not param.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group = dict(param_group)
        group["params"] = params
        if names:
            group["param_names"] = names
        named = "param_names" in group
        if self.param_groups and named != ("param_names" in self.param_groups[0]):
            raise ValueError("all optimizer param groups should be with/without names.")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        if len(params) != len({id(param) for param in params}):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see github.com/pytorch/pytorch/"
                          "issues/40967 for more information", stacklevel=3)
        existing = {id(param) for other in self.param_groups for param in other["params"]}
        if any(id(param) in existing for param in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Reset every parameter's ``.grad`` (to None by default, else to zeros)."""
        _zero_grad((param for group in self.param_groups for param in group["params"]),
                   set_to_none)

    # ---- the update ------------------------------------------------------------------------
    @_wrap_step
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss.

        Per parameter: its state is created on first use (``_init_state``), ``state['step']``
        (where kept) counts this step, weight decay is added to the gradient (or, with
        ``decoupled_weight_decay``, shrinks the parameter first), then ``_update`` does the rest.
        """
        if type(self)._update is Optimizer._update:
            raise NotImplementedError(f"{type(self).__name__} defines neither step() nor "
                                      f"_update()")
        loss = _call_closure(closure)
        state = self.state
        for group in self.param_groups:
            options = _hyperparameters(group)
            weight_decay = options.__dict__.get("weight_decay", 0.0)
            if not self._step_applies_weight_decay:
                weight_decay = 0.0
            decoupled = options.__dict__.get("decoupled_weight_decay", False)
            if self._foreach_update and options.__dict__.get("foreach") is not False:
                prepared = self._foreach_plan(group, options)
                if prepared is not None:
                    plan, gradients = prepared
                    plan.step(self, gradients, options, weight_decay, decoupled,
                              group.get("maximize", False))
                    continue
            for param, data, grad in self._gradients(group):
                param_state = state.get(param)
                if not param_state:
                    param_state = {}
                    self._init_state(param_state, data, options)
                step = param_state.get("step")
                if step is not None:
                    step._data += 1
                if isinstance(grad, LayoutStorage):  # a sparse .grad
                    if weight_decay != 0:
                        raise RuntimeError(self._sparse_weight_decay_error)
                    self._update_sparse(data, grad, param_state, options)
                    param._bump_version()
                    state[param] = param_state
                    continue
                complex_param = data.dtype.kind == "c"
                if complex_param:
                    # PyTorch updates a complex parameter as its real view (real and imaginary
                    # parts as separate entries), its state kept complex
                    data, grad = _real_view(data), _real_view(grad)
                    update_state = {key: Tensor._wrap(_real_view(value._data))
                                    if isinstance(value, Tensor) and value.is_complex() else value
                                    for key, value in param_state.items()}
                else:
                    update_state = param_state
                if weight_decay != 0:
                    if decoupled:
                        data *= 1 - options.lr * weight_decay
                    else:
                        grad = add_scaled_(grad.copy(), data, weight_decay)
                self._update(data, grad, update_state, options)
                if complex_param:
                    _keep_complex_state(param_state, update_state, param._data)
                param._bump_version()
                if param_state:  # SGD without momentum keeps no state, like PyTorch
                    state[param] = param_state
        return loss

    def _foreach_plan(self, group, options):
        """(plan, gradients): the group's multi-tensor plan (``_foreach.py``) and this step's
        gradient arrays, or None when the group takes the per-parameter loop (a parameter
        without a gradient, mixed dtypes, step counts that differ)."""
        plans = self._foreach_plans
        plan = plans.get(id(group))
        gradients = None if plan is None else plan.gradients(group, self.state)
        if gradients is None:
            plans.pop(id(group), None)
            if any(param._data.dtype.kind == "c" for param in group["params"]):
                return None  # complex parameters update as real views, one by one
            gradients = dense_gradients(group["params"])
            if gradients is None:
                return None
            plan = FlatPlan.build(self, group, options, self.state)
            if plan is None:
                return None
            plans[id(group)] = plan
        if not plan.steps_agree():
            return None
        return plan, gradients

    def _init_state(self, state, data, options):
        """Fill the empty ``state`` dict of a parameter (its array ``data``) before its first
        update, with PyTorch's keys in PyTorch's order."""

    def _update(self, data, grad, state, options):
        """Update ``data`` in place from ``grad`` (weight decay and maximize already applied)."""
        raise NotImplementedError

    def _update_sparse(self, data, grad, state, options):
        """Update ``data`` in place from the sparse COO storage ``grad`` (maximize applied)."""
        raise NotImplementedError

    def _gradients(self, group):
        """(param, data, grad) for each parameter of ``group`` that has a gradient, the gradient
        negated when the group maximizes: an array, or the storage of a sparse ``.grad``, which
        an optimizer without ``_update_sparse`` refuses before any parameter changes."""
        maximize = group.get("maximize", False)
        gradients = []
        for param in group["params"]:
            grad_tensor = param._grad
            if grad_tensor is None:
                continue
            grad = grad_tensor._data
            if type(grad) is not np.ndarray and grad_tensor.is_sparse:
                if not self._accepts_sparse_grads:
                    name = self._sparse_name or type(self).__name__
                    raise RuntimeError(f"{name} does not support sparse gradients"
                                       f"{self._sparse_hint}")
                if maximize:
                    grad = negated_storage(grad)
                gradients.append((param, param._data, grad))
                continue
            gradients.append((param, param._data, -grad if maximize else grad))
        return gradients

    @staticmethod
    def _state_shape(key, param_shape):
        """The shape of a parameter's state tensor ``key`` (checked by ``load_state_dict``):
        the parameter's own, unless the optimizer keeps a reduced form."""
        return param_shape

    # ---- hooks -----------------------------------------------------------------------------
    def register_step_pre_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` runs before ``step``; may return (args, kwargs)."""
        handle = RemovableHandle(self._optimizer_step_pre_hooks)
        self._optimizer_step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` runs after ``step``."""
        handle = RemovableHandle(self._optimizer_step_post_hooks)
        self._optimizer_step_post_hooks[handle.id] = hook
        return handle

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer)`` runs before ``state_dict`` packs the state."""
        return _add_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict)`` runs on the packed state; a non-None result is
        returned instead."""
        return _add_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict)`` runs before ``load_state_dict`` reads its argument (a
        shallow copy); a non-None result is loaded instead."""
        return _add_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer)`` runs after ``load_state_dict`` has loaded."""
        return _add_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ---- state_dict ------------------------------------------------------------------------
    def state_dict(self):
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``.

        Params are replaced by their position across groups; state tensors are the live ones
        (like PyTorch), options are plain Python values.
        """
        for hook in list(self._optimizer_state_dict_pre_hooks.values()):
            hook(self)
        index_of = {}
        packed_groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            indices = []
            for param in group["params"]:
                if id(param) not in index_of:
                    index_of[id(param)] = len(index_of)
                indices.append(index_of[id(param)])
            packed["params"] = indices
            packed_groups.append(packed)
        packed_state = {}
        for key, value in self.state.items():
            packed_key = index_of[id(key)] if isinstance(key, Tensor) else key
            packed_state[packed_key] = dict(value) if isinstance(value, dict) else value
        state_dict = {"state": packed_state, "param_groups": packed_groups}
        for hook in list(self._optimizer_state_dict_post_hooks.values()):
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict):
        """Load a ``state_dict()``: everything is checked before anything changes."""
        if self._optimizer_load_state_dict_pre_hooks and isinstance(state_dict, dict):
            state_dict = state_dict.copy()
            for hook in list(self._optimizer_load_state_dict_pre_hooks.values()):
                result = hook(self, state_dict)
                if result is not None:
                    state_dict = result
        if not isinstance(state_dict, dict):
            raise ValueError(f"{type(self).__name__}.load_state_dict: expected a dict with 'state' "
                             f"and 'param_groups', got {_describe(state_dict)}")
        groups = self.param_groups
        saved_groups = state_dict["param_groups"]  # PyTorch's KeyError where it is missing
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(group["params"]) != len(saved["params"])
               for group, saved in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the "
                             "size of optimizer's group")
        if "state" not in state_dict:
            raise KeyError("state")  # read after the groups' checks, as in PyTorch
        param_of = {}
        for group, saved in zip(groups, saved_groups):
            for saved_index, param in zip(saved["params"], group["params"]):
                param_of[int(saved_index)] = param
        new_state = defaultdict(dict)
        problems = []
        # A program's own optimizer keeps state of any shape and type (Adafactor's row and
        # column statistics, a Python int 'step'): as in PyTorch, it is cast, not checked.
        state_shape = self._state_shape if type(self).__module__.startswith("ember.") else None
        for key, value in state_dict["state"].items():
            index = _as_index(key)
            if index is not None and index in param_of:
                param = param_of[index]
                new_state[param] = _cast_state(param, value, f"state[{key!r}]", problems,
                                               state_shape)
            else:
                new_state[key] = value
        if problems:
            raise ValueError(f"{type(self).__name__}.load_state_dict: " + "; ".join(problems))
        new_groups = []
        for group, saved in zip(groups, saved_groups):
            new_group = {}
            for key, value in saved.items():
                if key == "params":
                    continue
                default = self.defaults.get(key)
                if isinstance(default, tuple) and isinstance(value, list):
                    value = tuple(value)  # a JSON round trip turns betas into a list
                new_group[key] = value
            new_group["params"] = group["params"]
            # the options each PyTorch optimizer's __setstate__ fills in (or forces)
            for key, value in self._loaded_group_defaults.items():
                new_group.setdefault(key, value)
            new_group.update(self._loaded_group_overrides)
            new_groups.append(new_group)
        self.state = new_state
        self.param_groups = new_groups
        self.defaults.setdefault("differentiable", False)  # PyTorch's __setstate__ adds it
        self._foreach_plans = {}
        for hook in list(self._optimizer_load_state_dict_post_hooks.values()):
            hook(self)


def _describe(value):
    return f"{type(value).__name__}"


def _as_index(key):
    """State keys are ints; a JSON round trip makes them strings."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return int(key)
    if isinstance(key, str) and key.lstrip("-").isdigit():
        return int(key)
    return None


def _cast_state(param, value, where, problems, state_shape, key=None):
    """Copy a saved state value for ``param``: tensors to its dtype ('step' stays as saved),
    each of the shape ``state_shape(key, param_shape)`` gives (unchecked when it is None)."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if key == "step" and (state_shape is not None or isinstance(item, Tensor)):
                result[key] = _as_step(item, f"{where}['step']", problems)
            else:
                result[key] = _cast_state(param, item, f"{where}[{key!r}]", problems,
                                          state_shape, key)
        return result
    if isinstance(value, Tensor) and value.is_sparse:  # SGD's momentum buffer of sparse grads
        if state_shape is not None and tuple(value.shape) != param._data.shape:
            problems.append(f"{where} has shape {list(value.shape)} but the parameter has shape "
                            f"{list(param._data.shape)}")
            return None
        copied = value.detach().clone()
        if copied._data.dtype != param._data.dtype and param._data.dtype.kind == "f":
            copied = cast_sparse(copied, from_numpy_dtype(param._data.dtype))
        return copied
    if isinstance(value, (Tensor, np.ndarray)):
        array = value._data if isinstance(value, Tensor) else value
        expected = array.shape if state_shape is None else state_shape(key, param._data.shape)
        if array.ndim > 0 and array.shape != expected:
            owner = "the parameter" if expected == param._data.shape else "its state"
            problems.append(f"{where} has shape {list(array.shape)} but {owner} has shape "
                            f"{list(expected)}")
            return None
        if array.dtype.kind == "f" and param._data.dtype.kind == "f":
            array = array.astype(param._data.dtype, copy=True)
        else:
            array = array.copy()
        return Tensor._wrap(array)
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_state(param, item, where, problems, state_shape, key)
                           for item in value)
    return value


def _as_step(value, where, problems):
    """'step' is a 0-d float32 tensor, like PyTorch's; accept a saved number too."""
    if isinstance(value, Tensor):
        return Tensor._wrap(np.array(value._data, dtype=value._data.dtype))
    if isinstance(value, np.ndarray):
        return Tensor._wrap(np.array(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Tensor._wrap(np.array(value, dtype=np.float32))
    problems.append(f"{where} must be a number or a tensor, got {type(value).__name__}")
    return None


def _new_step():
    """A new 'step': float64 when that is the default dtype, float32 otherwise (PyTorch's
    scalar dtype for optimizer state)."""
    dtype = np.float64 if get_default_dtype() == float64 else np.float32
    return Tensor._wrap(np.zeros((), dtype=dtype))


# ---- PyTorch's private helpers that optimizers written after its own import -----------------
def _use_grad_for_differentiable(step):
    """A step runs with grad mode on only for a ``differentiable`` optimizer (as ember's own
    steps do)."""
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        with set_grad_enabled(bool(self.defaults.get("differentiable", False))):
            return step(self, *args, **kwargs)
    return wrapper


def _get_value(x):
    """A step count or hyperparameter as a Python number (a 0-d tensor's item)."""
    return x.item() if isinstance(x, Tensor) else x


def _get_scalar_dtype(is_fused=None):
    """The dtype of optimizer step counts: float64 when the default dtype is, else float32."""
    return float64 if get_default_dtype() == float64 else _float32


def _default_to_fused_or_foreach(params, differentiable, use_fused=False):
    """(fused, foreach) as PyTorch decides them: its kernels are for accelerators, so any CPU
    tensor (every ember tensor) turns both off; only an empty or all-None list leaves them."""
    if differentiable:
        return False, False
    none = all(param is None for param in params)
    fused = bool(use_fused) and none
    return fused, not fused and none


def _check_lr_elements(lr):
    """PyTorch's first constructor check: a Tensor learning rate holds one number."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")


def _check_non_negative(**values):
    """PyTorch's constructor checks, in the order given: each hyper-parameter must be >= 0
    (a Tensor lr first must hold one number)."""
    for name, value in values.items():
        if name == "lr":
            _check_lr_elements(value)
        if not 0.0 <= value:
            label = {"lr": "learning rate", "eps": "epsilon value"}.get(name, name + " value")
            raise ValueError(f"Invalid {label}: {value}")


def _typename(obj):
    """``torch.typename`` of a non-tensor: its qualified name, the module left out for builtins."""
    kind = type(obj)
    module = kind.__module__
    return kind.__qualname__ if module in ("", "builtins") else f"{module}.{kind.__qualname__}"


def _check_adam_options(lr, eps, betas, weight_decay):
    """The Adam family's constructor checks, in PyTorch's order."""
    _check_non_negative(lr=lr, eps=eps)
    for index in (0, 1):
        if not 0.0 <= betas[index] < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {betas[index]}")
    _check_non_negative(weight_decay=weight_decay)


class _Options(types.SimpleNamespace):
    """A group's options as attributes; a missing one (a group loaded from another optimizer's
    state_dict) is the KeyError of PyTorch's ``group[name]``."""

    def __getattr__(self, name):
        raise KeyError(name)


def _hyperparameters(group):
    """A group's options as attributes, numbers as Python floats (NumPy scalars and 0-d tensors
    too): a NumPy float64 learning rate must not turn a float32 update into float64."""
    return _Options(**{key: _as_float(value) for key, value in group.items()
                       if key != "params"})


def _as_float(value):
    kind = type(value)
    if kind is float or kind is bool or kind is str or value is None:  # the common cases, fast
        return value
    if kind is int:
        return float(value)
    if kind is tuple:
        return tuple([_as_float(item) for item in value])
    if isinstance(value, tuple):
        return tuple(_as_float(item) for item in value)
    if isinstance(value, (bool, np.bool_)):
        return value
    if isinstance(value, numbers.Real) or (isinstance(value, Tensor) and value.ndim == 0):
        return float(value)
    return value


def _check_unsupported(name, differentiable=False, fused=None, foreach=None):
    """ember's optimizers update arrays in place: no differentiable variant. ``fused=True``
    (which PyTorch's CPU build has for Adam, AdamW, SGD and Adagrad) runs ember's one update,
    equal to PyTorch's fused one up to the last bit of float32."""
    if fused and differentiable:
        raise RuntimeError("`fused` does not support `differentiable`")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    if differentiable:
        raise ValueError(f"{name}: differentiable=True is not supported by ember")


def _real_view(array):
    """A complex array's real view: its parts side by side in a last dim of 2."""
    return array[..., None].view(real_dtype(array.dtype)).reshape(array.shape + (2,))


def _keep_complex_state(state, updated, complex_data):
    """State entries that an update made or replaced (instead of changing in place): those of
    the parameter's real-view shape back as complex tensors, as PyTorch keeps them."""
    view_shape = complex_data.shape + (2,)
    for key, value in updated.items():
        current = state.get(key)
        if value is current or not isinstance(value, Tensor):
            continue
        if isinstance(current, Tensor) and np.may_share_memory(value._data, current._data):
            continue
        if value._data.shape == view_shape and value._data.dtype.kind == "f":
            state[key] = Tensor._wrap(np.ascontiguousarray(value._data).view(
                complex_data.dtype).reshape(complex_data.shape))
        else:
            state[key] = value
