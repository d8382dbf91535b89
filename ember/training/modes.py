"""Scoped modes that restore exactly (evaluating, training_mode) and Monte-Carlo prediction.

``evaluating``/``training_mode`` snapshot every submodule's own ``training`` flag and put each one
back on exit, so a layer deliberately left in eval stays in eval (``model.train(was_training)``
would switch it on).
"""
import numpy as np

from ..autograd.grad_mode import no_grad
from ..nn.modules.module import Module
from ..nn.utils.modes import _ScopedModes, mc_dropout
from ..tensor import Tensor

__all__ = ["evaluating", "training_mode", "mc_predict"]


class _WholeModelMode(_ScopedModes):
    """``train(_training)`` on each of ``modules`` for a block."""

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
        super().__init__(*modules)

    def _switch(self):
        for module in self.modules:
            module.train(self._training)


class evaluating(_WholeModelMode):
    """Eval mode plus no_grad for a block, a function or a generator: afterwards every submodule
    has its own previous ``training`` flag back, and the previous grad mode, even after an
    exception. Locked modules keep their locked mode. ``with ember.evaluating(model):``"""

    _training = False

    def _grad_switch(self):
        return no_grad()


class training_mode(_WholeModelMode):
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
