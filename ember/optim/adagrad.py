"""Adagrad with learning-rate decay, an initial accumulator value, weight decay and maximize."""
import numpy as np

from ..tensor import Tensor
from .optimizer import (
    Optimizer, _call_closure, _check_non_negative, _check_unsupported, _gradients, _new_step)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad with PyTorch's update; like PyTorch, state is created when the optimizer is."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_non_negative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, initial_accumulator_value=initial_accumulator_value, eps=eps)
        _check_unsupported("Adagrad", differentiable=differentiable, fused=fused)
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        for group in self.param_groups:
            for param in group["params"]:
                self._init_state(param, group)

    def _init_state(self, param, group):
        param_state = self.state[param]
        param_state["step"] = _new_step()
        param_state["sum"] = Tensor._wrap(
            np.full_like(param._data, group["initial_accumulator_value"]))
        return param_state

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = _call_closure(closure)
        state = self.state
        for group in self.param_groups:
            lr = float(group["lr"])
            lr_decay = float(group["lr_decay"])
            eps = float(group["eps"])
            weight_decay = float(group["weight_decay"])
            for param, data, grad in _gradients(group):
                param_state = state[param]
                if len(param_state) == 0:
                    param_state = self._init_state(param, group)
                step_array = param_state["step"]._data
                step_array += 1
                step = float(step_array)
                if weight_decay != 0:
                    grad = grad + data * weight_decay
                clr = lr / (1 + (step - 1) * lr_decay)
                accumulator = param_state["sum"]._data
                accumulator += grad * grad
                standard_deviation = np.sqrt(accumulator, out=np.empty_like(data))
                standard_deviation += eps
                np.divide(grad, standard_deviation, out=standard_deviation)
                standard_deviation *= -clr
                data += standard_deviation
                param._bump_version()
        return loss
