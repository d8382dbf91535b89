"""Adagrad with learning-rate decay, an initial accumulator value, weight decay and maximize."""
import numpy as np

from ..sparse._coo import coalesced_storage
from ..tensor import Tensor
from ._foreach import add_product_
from .optimizer import (
    Optimizer, _check_non_negative, _check_unsupported, _hyperparameters, _new_step)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad with PyTorch's update; like PyTorch, state is created when the optimizer is."""

    _loaded_group_defaults = {"foreach": None, "maximize": False, "differentiable": False,
                              "fused": None}

    _foreach_update = True

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_non_negative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                            initial_accumulator_value=initial_accumulator_value, eps=eps)
        _check_unsupported("Adagrad", differentiable=differentiable, fused=fused,
                           foreach=foreach)
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        for group in self.param_groups:
            options = _hyperparameters(group)
            for param in group["params"]:
                self._init_state(self.state[param], param._data, options)

    def _init_state(self, state, data, options):
        state["step"] = _new_step()
        state["sum"] = Tensor._wrap(np.full_like(data, options.initial_accumulator_value))

    _accepts_sparse_grads = True

    def _update_sparse(self, data, grad, state, options):
        """PyTorch's Adagrad on a sparse gradient: duplicates summed first (the update is not
        linear), then the sum of squares and the parameter change at the gradient's indices."""
        step = float(state["step"]._data)
        clr = options.lr / (1 + (step - 1) * options.lr_decay)
        grad = coalesced_storage(grad)
        where = tuple(grad.indices)
        accumulator = state["sum"]._data
        accumulator[where] += grad.values * grad.values
        standard_deviation = np.sqrt(accumulator[where])
        standard_deviation += options.eps
        data[where] += (grad.values / standard_deviation) * data.dtype.type(-clr)

    def _update(self, data, grad, state, options):
        step = float(state["step"]._data)
        clr = options.lr / (1 + (step - 1) * options.lr_decay)
        accumulator = state["sum"]._data
        add_product_(accumulator, grad, grad)  # PyTorch's addcmul_: one rounding
        standard_deviation = np.sqrt(accumulator, out=np.empty_like(data))
        standard_deviation += options.eps
        # PyTorch's addcdiv_(grad, std, value=-clr): (value * grad) / std
        update = np.multiply(grad, -clr, dtype=data.dtype)
        update /= standard_deviation
        data += update
