"""Deliberate per-layer modes: frozen BatchNorm, Monte-Carlo dropout, exact BatchNorm recalibration,
and the scoped switch of modes that they and ``ember.evaluating``/``training_mode`` share.

Each tool restores what it changed, and none of them triggers a ``ModeWarning``.
"""
import contextvars
import itertools

import numpy as np

from ...autograd._contextlib import DecoratorContextManager
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from ..modules.batchnorm import _BatchNorm
from ..modules.dropout import _DropoutNd
from ..modules.module import Module

__all__ = ["freeze_batchnorm", "unfreeze_batchnorm", "mc_dropout", "update_bn"]

# The layers whose output depends on ``training``: what the mode checks look at.
_MODE_SENSITIVE = (_DropoutNd, _BatchNorm)

# Where freeze_batchnorm remembers what it changed on a BatchNorm, for unfreeze_batchnorm.
_FROZEN_STATE = "_frozen_batchnorm_state"

# How many scoped mode switches are open in this thread / asyncio task: the mode checks
# (ember.training.mode_checks) stay silent inside them, the modes there are deliberate.
_deliberate_depth = contextvars.ContextVar("_deliberate_depth", default=0)


def _check_module(function_name, module):
    if not isinstance(module, Module):
        raise TypeError(f"{function_name}(): expected an ember.nn.Module, got "
                        f"{type(module).__name__}")


def _mode_sensitive_layers(module):
    """The Dropout and BatchNorm layers in ``module`` (itself included), each once."""
    found = []
    seen = set()
    stack = [module]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _MODE_SENSITIVE):
            found.append(current)
        stack.extend(child for child in current._modules.values() if child is not None)
    return found


def _snapshot_modes(modules):
    """(module, training) for every module in and below ``modules``, each once."""
    seen = set()
    snapshot = []
    for top in modules:
        for module in top.modules():
            if id(module) not in seen:
                seen.add(id(module))
                snapshot.append((module, module.training))
    return snapshot


def _restore_modes(snapshot):
    """Put back each module's own flag; a module locked meanwhile keeps its locked mode."""
    for module, training in snapshot:
        lock = module._mode_lock
        module.training = training if lock is None else lock


class _ScopedModes(DecoratorContextManager):
    """Switch the modes of ``modules`` for a block (``_switch``), then give every module in them
    its own previous ``training`` flag back, even after an exception; the mode checks are silent
    inside. The one snapshot-and-restore behind mc_dropout, update_bn, evaluating and
    training_mode."""

    def __init__(self, *modules):
        self.modules = modules
        self._saved = []  # a stack, so one instance can be entered again while entered

    def _switch(self):
        raise NotImplementedError

    def _grad_switch(self):
        """A grad-mode context entered after the switch (evaluating's no_grad), or None."""
        return None

    def __enter__(self):
        snapshot = _snapshot_modes(self.modules)
        _deliberate_depth.set(_deliberate_depth.get() + 1)
        try:
            self._switch()
        except BaseException:
            # A train()/eval() override failed: leave nothing half-switched.
            _restore_modes(snapshot)
            _deliberate_depth.set(_deliberate_depth.get() - 1)
            raise
        grad_switch = self._grad_switch()
        if grad_switch is not None:
            grad_switch.__enter__()
        self._saved.append((snapshot, grad_switch))
        return self.modules[0] if len(self.modules) == 1 else self.modules

    def __exit__(self, exception_type, exception_value, traceback):
        snapshot, grad_switch = self._saved.pop()
        if grad_switch is not None:
            grad_switch.__exit__(exception_type, exception_value, traceback)
        _restore_modes(snapshot)
        _deliberate_depth.set(_deliberate_depth.get() - 1)
        return False

    def clone(self):
        return type(self)(*self.modules)


def _batchnorms(model):
    return [module for module in model.modules() if isinstance(module, _BatchNorm)]


def freeze_batchnorm(model, affine=True):
    """Lock every BatchNorm of ``model`` in eval mode, so ``model.train()`` no longer updates its
    running statistics; with ``affine`` also stop its weight and bias from requiring grad.
    ``unfreeze_batchnorm`` undoes exactly this. Returns ``model``."""
    _check_module("freeze_batchnorm", model)
    if not isinstance(affine, bool):
        raise TypeError(f"freeze_batchnorm(): affine must be a bool, got {type(affine).__name__}")
    for norm in _batchnorms(model):
        state = norm.__dict__.get(_FROZEN_STATE)
        if state is None:
            state = {"lock": norm._mode_lock, "training": norm.training, "requires_grad": {}}
            object.__setattr__(norm, _FROZEN_STATE, state)
        norm.lock_mode(False)
        if affine:
            for name in ("weight", "bias"):
                parameter = norm._parameters.get(name)
                if parameter is None:
                    continue
                state["requires_grad"].setdefault(name, parameter.requires_grad)
                parameter.requires_grad_(False)
    return model


def unfreeze_batchnorm(model):
    """Undo ``freeze_batchnorm``: each BatchNorm gets back its previous lock and the
    ``requires_grad`` flags that freezing changed; an unlocked one follows its parent's mode.
    Returns ``model``."""
    _check_module("unfreeze_batchnorm", model)
    parents = {}
    for module in model.modules():
        for child in module.children():
            parents[id(child)] = module
    for norm in _batchnorms(model):
        state = norm.__dict__.pop(_FROZEN_STATE, None)
        if state is None:
            continue
        for name, requires_grad in state["requires_grad"].items():
            parameter = norm._parameters.get(name)
            if parameter is not None:
                parameter.requires_grad_(requires_grad)
        if state["lock"] is not None:
            norm.lock_mode(state["lock"])
            continue
        norm.unlock_mode()
        parent = parents.get(id(norm))
        norm.training = state["training"] if parent is None else parent.training
    return model


class mc_dropout(_ScopedModes):
    """Monte-Carlo dropout: ``model`` in eval mode (BatchNorm uses its running statistics) except
    its Dropout layers, which stay active; every module's flag comes back on exit. The grad mode is
    left as it is. Locked layers keep their locked mode."""

    def __init__(self, model):
        _check_module("mc_dropout", model)
        super().__init__(model)
        self.model = model

    def _switch(self):
        self.model.eval()
        for module in self.model.modules():
            if isinstance(module, _DropoutNd) and module._mode_lock is None:
                module.training = True


class _Recalibration(_ScopedModes):
    """update_bn's modes: every module of ``model`` in eval mode (locks ignored) except the
    BatchNorm layers ``norms``, in training mode."""

    def __init__(self, model, norms):
        super().__init__(model)
        self.norms = norms

    def _switch(self):
        for module in self.modules[0].modules():
            module.training = False
        for norm in self.norms:
            norm.training = True

    def clone(self):
        return type(self)(self.modules[0], self.norms)


class _Moments:
    """Per-channel count, mean and sum of squared deviations in float64, merged batch by batch
    with Chan et al.'s pairwise update (exact, and stabler than sum of squares minus n mean^2)."""

    def __init__(self):
        self.count = 0
        self.batches = 0
        self.mean = None
        self.squared_deviations = None

    def __call__(self, module, args):
        values = args[0]._data if isinstance(args[0], Tensor) else np.asarray(args[0])
        axes = (0,) + tuple(range(2, values.ndim))
        count = values.size // values.shape[1] if values.ndim > 1 else 0
        self.batches += 1
        if count == 0:
            return None
        values = values.astype(np.float64)
        batch_mean = values.mean(axis=axes)
        shape = (1, -1) + (1,) * (values.ndim - 2)
        centred = values - batch_mean.reshape(shape)
        batch_squared_deviations = (centred * centred).sum(axis=axes)
        if self.count == 0:
            self.mean = batch_mean
            self.squared_deviations = batch_squared_deviations
        else:
            total = self.count + count
            delta = batch_mean - self.mean
            self.mean = self.mean + delta * (count / total)
            self.squared_deviations = (self.squared_deviations + batch_squared_deviations
                                       + delta * delta * (self.count * count / total))
        self.count += count
        return None


def update_bn(loader, model, max_batches=None):
    """Recompute every BatchNorm's running statistics as the exact mean and unbiased variance of
    its inputs over all the data ``loader`` yields (its first ``max_batches`` batches).

    During the pass Dropout is off (the model is in eval mode) while the BatchNorm layers normalise
    with batch statistics, as in training, so each layer sees the features it saw in training.
    Items of ``loader`` are input tensors or (input, target, ...) sequences. Afterwards every
    module's mode is restored; ``num_batches_tracked`` is the number of batches the layer saw.
    Returns ``model``.
    """
    _check_module("update_bn", model)
    if max_batches is not None and (isinstance(max_batches, bool)
                                    or not isinstance(max_batches, int) or max_batches < 0):
        raise ValueError(f"update_bn(): max_batches must be None or a non-negative int, got "
                         f"{max_batches!r}")
    norms = [norm for norm in _batchnorms(model)
             if norm.running_mean is not None and norm.running_var is not None]
    if not norms:
        return model
    tracking = [(norm, norm.track_running_stats) for norm in norms]
    moments = [_Moments() for _ in norms]
    handles = [norm.register_forward_pre_hook(moment) for norm, moment in zip(norms, moments)]
    batches = loader if max_batches is None else itertools.islice(loader, max_batches)
    try:
        for norm in norms:
            # Batch statistics for the forward pass, buffers left alone until the end.
            norm.track_running_stats = False
        with _Recalibration(model, norms), no_grad():
            for batch in batches:
                inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
                model(inputs)
    finally:
        for handle in handles:
            handle.remove()
        for norm, track_running_stats in tracking:
            norm.track_running_stats = track_running_stats
    with no_grad():
        for norm, moment in zip(norms, moments):
            if moment.count < 2:
                continue
            dtype = norm.running_mean._data.dtype
            variance = moment.squared_deviations / (moment.count - 1)
            norm.running_mean.copy_(Tensor._wrap(moment.mean.astype(dtype)))
            norm.running_var.copy_(Tensor._wrap(variance.astype(dtype)))
            if norm.num_batches_tracked is not None:
                norm.num_batches_tracked.fill_(moment.batches)
    return model
