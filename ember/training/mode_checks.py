"""The checks behind ``ModeWarning``: they warn once per model about the two classic slips,
evaluating in training mode under no_grad, and stepping an optimizer while Dropout/BatchNorm are
in eval mode.

They run from hooks registered by ``register_mode_checks()`` in ``ember/__init__.py``: nn's
top-level call hook (after each outermost module call on a thread that returned) checks that
call, and optim's global step pre-hook checks the models recently trained. Inside the deliberate mode tools (evaluating,
training_mode, mc_dropout, update_bn) they stay silent.
"""
import os
import sys
import warnings
import weakref
from collections import OrderedDict

from ..autograd.grad_mode import is_grad_enabled, is_inference_mode_enabled
from ..nn.modules.batchnorm import _BatchNorm
from ..nn.modules.module import children_changes, register_top_level_call_hook
from ..nn.utils.modes import _deliberate_depth, _mode_sensitive_layers
from ..optim.optimizer import register_optimizer_step_pre_hook

__all__ = ["ModeWarning", "set_mode_checks", "register_mode_checks"]


class ModeWarning(UserWarning):
    """A train/eval mode that is most likely a mistake (e.g. evaluating without ``eval()``)."""


_checks_enabled = True


def set_mode_checks(enabled):
    """Turn the ModeWarning checks on or off for the whole process (they are on by default)."""
    global _checks_enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"set_mode_checks(): expected a bool, got {type(enabled).__name__}")
    _checks_enabled = enabled


def _checks_active():
    """Switched on and outside every deliberate mode tool."""
    return _checks_enabled and _deliberate_depth.get() == 0


def register_mode_checks():
    """Register the checks on nn's top-level call hooks and optim's global step pre-hooks;
    returns their handles."""
    return (register_top_level_call_hook(_after_top_level_call),
            register_optimizer_step_pre_hook(_check_step))


def _after_top_level_call(module):
    if _checks_active():
        _check_forward(module)


# ---- the checks ---------------------------------------------------------------------------------

# Top-level modules recently run with grad enabled (id -> weak reference), newest last: the models
# an optimizer step is most likely training.
_recently_trained = OrderedDict()
_RECENT_LIMIT = 8
# Modules already warned about, by id (a module class may define __eq__ and lose hashing).
_warned_forward = weakref.WeakValueDictionary()
_warned_step = weakref.WeakValueDictionary()

_PACKAGE_PREFIX = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _warn(message):
    """Issue a ModeWarning pointing at the first caller outside the ember package."""
    frame = sys._getframe(1)
    level = 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_PREFIX):
        frame = frame.f_back
        level += 1
    warnings.warn(message, ModeWarning, stacklevel=level)


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


# The Dropout/BatchNorm layers of recently checked models: id -> [weak reference to the model,
# children_changes when found, the layers, uses left before a fresh walk]. Each step's check then
# reads a few flags instead of walking the model; a walk every _REWALK uses also catches children
# that code put into a ``_modules`` dict directly.
_layer_cache = {}
_REWALK = 64


def _sensitive_layers(module):
    """``_mode_sensitive_layers(module)``, reused while no module's children changed."""
    key = id(module)
    entry = _layer_cache.get(key)
    if entry is not None and entry[0]() is module and entry[1] == children_changes[0] \
            and entry[3]:
        entry[3] -= 1
        return entry[2]
    layers = _mode_sensitive_layers(module)
    for stale in [key for key, entry in _layer_cache.items() if entry[0]() is None]:
        del _layer_cache[stale]  # the layers of models gone since: not kept alive here
    _layer_cache[key] = [weakref.ref(module), children_changes[0], layers, _REWALK]
    while len(_layer_cache) > 2 * _RECENT_LIMIT:
        del _layer_cache[next(iter(_layer_cache))]
    return layers


def _checked_layers(module):
    """The layers whose mode changes what ``module`` computes: every BatchNorm, and each Dropout
    that drops something (p > 0; transformer layers built with dropout=0.0 have many that do not)."""
    return [layer for layer in _sensitive_layers(module)
            if isinstance(layer, _BatchNorm) or layer.p > 0]


def _check_forward(module):
    """After a top-level call: remember it if it recorded a graph, otherwise warn (once) when
    unlocked Dropout/BatchNorm layers ran in training mode."""
    if is_grad_enabled() and not is_inference_mode_enabled():
        _remember_trained(module)
        return
    if not module.training or _warned_forward.get(id(module)) is module:
        return  # an eval-mode model with some layers switched on by hand is deliberate
    training_layers = [layer for layer in _checked_layers(module)
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
    _warn(f"{type(module).__name__} ran in training mode with gradients disabled (no_grad or "
          f"inference_mode), most likely an evaluation that forgot eval(): "
          f"{'; '.join(effects)}. Call model.eval() first, or evaluate inside "
          f"`with ember.evaluating(model):` (eval mode and no_grad, both restored afterwards). "
          f"Shown once per module; turn off with ember.set_mode_checks(False).")


def _check_step(optimizer, args, kwargs):
    """Before a step: warn (once per model) when a model recently run with grad enabled shares
    parameters with ``optimizer`` and has unlocked Dropout/BatchNorm layers in eval mode."""
    if not _recently_trained or not _checks_active():
        return
    parameter_ids = None
    for reference in list(_recently_trained.values()):
        model = reference()
        if model is None or _warned_step.get(id(model)) is model:
            continue
        eval_layers = [layer for layer in _checked_layers(model)
                       if not layer.training and layer._mode_lock is None]
        if not eval_layers:
            continue
        if parameter_ids is None:
            parameter_ids = {id(parameter) for group in optimizer.param_groups
                             for parameter in group["params"]}
        if not any(id(parameter) in parameter_ids for parameter in model.parameters()):
            continue
        _warned_step[id(model)] = model
        _warn(f"{type(optimizer).__name__}.step() is updating parameters of "
              f"{type(model).__name__} while its Dropout/BatchNorm layers "
              f"{_layer_names(model, eval_layers)} are in eval mode, most likely training after "
              f"an evaluation that forgot train(): Dropout is off and BatchNorm neither uses batch "
              f"statistics nor updates its running ones. Call model.train() before training (and "
              f"evaluate inside `with ember.evaluating(model):`, which restores the modes); to "
              f"keep layers in eval on purpose, pin them with layer.lock_mode(False) or "
              f"ember.nn.utils.freeze_batchnorm(model). Shown once per module; turn off with "
              f"ember.set_mode_checks(False).")
