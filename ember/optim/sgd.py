"""Stochastic gradient descent with momentum, dampening, Nesterov, weight decay and maximize."""
import numpy as np

from ..tensor import Tensor
from ._foreach import add_scaled_
from .optimizer import Optimizer, _check_unsupported

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD with PyTorch's update: the first momentum buffer is the gradient (no dampening)."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_unsupported("SGD", differentiable=differentiable, fused=fused)
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)

    def _update(self, data, grad, state, options):
        momentum = options.momentum
        if momentum != 0:
            buffer_tensor = state.get("momentum_buffer")
            if buffer_tensor is None:
                buffer = np.array(grad, copy=True)
                state["momentum_buffer"] = Tensor._wrap(buffer)
            else:
                buffer = buffer_tensor._data
                buffer *= momentum
                if options.dampening == 0:
                    buffer += grad
                else:
                    add_scaled_(buffer, grad, 1 - options.dampening)
            if options.nesterov:
                grad = add_scaled_(np.array(grad, copy=True), buffer, momentum)
            else:
                grad = buffer
        add_scaled_(data, grad, -options.lr)
