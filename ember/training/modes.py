"""Scoped modes that restore exactly (evaluating, training_mode), Monte-Carlo prediction, and the
checks behind ``ModeWarning``.

``evaluating``/``training_mode`` snapshot every submodule's own ``training`` flag and put each one
back on exit, so a layer deliberately left in eval stays in eval (``model.train(was_training)``
would switch it on). The checks warn once per model about the two classic slips: evaluating in
training mode under no_grad, and stepping an optimizer while Dropout/BatchNorm are in eval mode.
"""
import weakref
from collections import OrderedDict

import numpy as np

from .. import _warnings
from ..autograd._contextlib import DecoratorContextManager
from .._grad_state import _grad_state
from ..autograd.grad_mode import no_grad
from ..nn.modules.batchnorm import _BatchNorm
from ..nn.modules.module import Module
from ..nn.utils.modes import _mode_sensitive_layers, _restore_modes, _snapshot_modes, mc_dropout
from ..optim import optimizer as _optimizer
from ..tensor import Tensor

__all__ = ["evaluating", "training_mode", "mc_predict"]


class _ScopedModes(DecoratorContextManager):
    """Switch ``modules`` to one mode for a block and restore every submodule's flag after it."""

    _training = True

    def __init__(self, *modules):
        name = type(self).__name__
        if not modules:
            raise ValueError(f"{name}() needs at least one module, e.g. {name}(model)")
        for module in modules:
            if not isinstance(module, Module):
                raise TypeError(f"{name}() expects ember.nn.Module arguments, got "
                                f"{type(module).__name__}; as a decorator write "
                                f"@ember.{name}(model)")
        self.modules = modules
        self._saved = []  # a stack, so one instance can be entered again while entered

    def _grad_switch(self):
        return None

    def __enter__(self):
        snapshot = _snapshot_modes(self.modules)
        quiet = _warnings.deliberate()
        grad_switch = self._grad_switch()
        quiet.__enter__()
        try:
            for module in self.modules:
                module.train(self._training)
        except BaseException:
            # A train() override failed: leave nothing half-switched.
            _restore_modes(snapshot)
            quiet.__exit__(None, None, None)
            raise
        self._saved.append((snapshot, quiet, grad_switch))
        if grad_switch is not None:
            grad_switch.__enter__()
        return self.modules[0] if len(self.modules) == 1 else self.modules

    def __exit__(self, exception_type, exception_value, traceback):
        snapshot, quiet, grad_switch = self._saved.pop()
        if grad_switch is not None:
            grad_switch.__exit__(exception_type, exception_value, traceback)
        _restore_modes(snapshot)
        quiet.__exit__(exception_type, exception_value, traceback)
        return False

    def clone(self):
        return type(self)(*self.modules)


class evaluating(_ScopedModes):
    """Eval mode plus no_grad for a block, a function or a generator: afterwards every submodule
    has its own previous ``training`` flag back, and the previous grad mode, even after an
    exception. Locked modules keep their locked mode. ``with ember.evaluating(model):``"""

    _training = False

    def _grad_switch(self):
        return no_grad()


class training_mode(_ScopedModes):
    """Train mode for a block, a function or a generator; the grad mode is left untouched.
    Afterwards every submodule has its own previous ``training`` flag back, even after an
    exception. Locked modules keep their locked mode. ``with ember.training_mode(model):``"""

    _training = True


def mc_predict(model, x, samples=20):
    """Mean and unbiased variance (like ``Tensor.var``) of ``model(x)`` over ``samples``
    stochastic forward passes with Dropout active and BatchNorm in eval mode, under no_grad."""
    if not isinstance(model, Module):
        raise TypeError(f"mc_predict(): expected an ember.nn.Module, got {type(model).__name__}")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
        raise ValueError(f"mc_predict(): samples must be an int >= 2 (the variance needs two), "
                         f"got {samples!r}")
    mean = None
    squared_deviations = None
    with no_grad(), mc_dropout(model):
        for count in range(1, samples + 1):
            output = model(x)
            if not isinstance(output, Tensor):
                raise TypeError(f"mc_predict(): the model must return a Tensor, got "
                                f"{type(output).__name__}")
            values = output._data.astype(np.float64)
            if mean is None:
                dtype = output._data.dtype
                mean = values
                squared_deviations = np.zeros_like(values)
                continue
            # Welford's running update, in float64.
            delta = values - mean
            mean = mean + delta / count
            squared_deviations += delta * (values - mean)
    variance = squared_deviations / (samples - 1)
    return Tensor._wrap(mean.astype(dtype)), Tensor._wrap(variance.astype(dtype))


# ---- the ModeWarning checks ---------------------------------------------------------------------

# Top-level modules recently run with grad enabled (id -> weak reference), newest last: the models
# an optimizer step is most likely training.
_recently_trained = OrderedDict()
_RECENT_LIMIT = 8
# Modules already warned about, by id (a module class may define __eq__ and lose hashing).
_warned_forward = weakref.WeakValueDictionary()
_warned_step = weakref.WeakValueDictionary()


def _layer_names(model, layers):
    wanted = {id(layer) for layer in layers}
    names = [f"'{name}'" if name else "(the module itself)"
             for name, module in model.named_modules() if id(module) in wanted]
    if len(names) > 4:
        names = names[:4] + [f"... ({len(names) - 4} more)"]
    return ", ".join(names)


def _remember_trained(module):
    key = id(module)
    reference = _recently_trained.get(key)
    if reference is not None and reference() is module:
        return
    _recently_trained[key] = weakref.ref(module)
    while len(_recently_trained) > _RECENT_LIMIT:
        _recently_trained.popitem(last=False)


def _check_forward(module):
    """After a top-level call: remember it if it recorded a graph, otherwise warn (once) when
    unlocked Dropout/BatchNorm layers ran in training mode."""
    grad_enabled, inference = _grad_state.get()
    if grad_enabled and not inference:
        _remember_trained(module)
        return
    if not module.training or _warned_forward.get(id(module)) is module:
        return  # an eval-mode model with some layers switched on by hand is deliberate
    training_layers = [layer for layer in _mode_sensitive_layers(module)
                       if layer.training and layer._mode_lock is None]
    if not training_layers:
        return
    _warned_forward[id(module)] = module
    updating = [layer for layer in training_layers
                if isinstance(layer, _BatchNorm) and layer.track_running_stats
                and layer.running_mean is not None]
    effects = []
    if updating:
        effects.append(f"the running statistics of BatchNorm {_layer_names(module, updating)} "
                       f"were just updated with this data")
    updating_ids = {id(layer) for layer in updating}
    batch_statistics = [layer for layer in training_layers
                        if isinstance(layer, _BatchNorm) and id(layer) not in updating_ids]
    if batch_statistics:
        effects.append(f"BatchNorm {_layer_names(module, batch_statistics)} normalised with "
                       f"batch statistics")
    dropouts = [layer for layer in training_layers if not isinstance(layer, _BatchNorm)]
    if dropouts:
        effects.append(f"Dropout {_layer_names(module, dropouts)} zeroed activations at random")
    _warnings.warn(
        f"{type(module).__name__} ran in training mode with gradients disabled (no_grad or "
        f"inference_mode), most likely an evaluation that forgot eval(): "
        f"{'; '.join(effects)}. Call model.eval() first, or evaluate inside "
        f"`with ember.evaluating(model):` (eval mode and no_grad, both restored afterwards). "
        f"Shown once per module; turn off with ember.set_mode_checks(False).")


def _check_step(optimizer):
    """Before a step: warn (once per model) when a model recently run with grad enabled shares
    parameters with ``optimizer`` and has unlocked Dropout/BatchNorm layers in eval mode."""
    if not _recently_trained or not _warnings.mode_checks_active():
        return
    parameter_ids = None
    for reference in list(_recently_trained.values()):
        model = reference()
        if model is None or _warned_step.get(id(model)) is model:
            continue
        eval_layers = [layer for layer in _mode_sensitive_layers(model)
                       if not layer.training and layer._mode_lock is None]
        if not eval_layers:
            continue
        if parameter_ids is None:
            parameter_ids = {id(parameter) for group in optimizer.param_groups
                             for parameter in group["params"]}
        if not any(id(parameter) in parameter_ids for parameter in model.parameters()):
            continue
        _warned_step[id(model)] = model
        _warnings.warn(
            f"{type(optimizer).__name__}.step() is updating parameters of "
            f"{type(model).__name__} while its Dropout/BatchNorm layers "
            f"{_layer_names(model, eval_layers)} are in eval mode, most likely training after "
            f"an evaluation that forgot train(): Dropout is off and BatchNorm neither uses batch "
            f"statistics nor updates its running ones. Call model.train() before training (and "
            f"evaluate inside `with ember.evaluating(model):`, which restores the modes); to keep "
            f"layers in eval on purpose, pin them with layer.lock_mode(False) or "
            f"ember.nn.utils.freeze_batchnorm(model). Shown once per module; turn off with "
            f"ember.set_mode_checks(False).")


_warnings._forward_check = _check_forward
if _check_step not in _optimizer._step_pre_hooks:
    _optimizer._step_pre_hooks.append(_check_step)
