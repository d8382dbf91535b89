"""Stochastic gradient descent with momentum, dampening, Nesterov, weight decay and maximize."""
import numpy as np

from ..sparse._coo import SparseCOOStorage, SparseTensor, add_to_dense, coalesced_storage
from ..tensor import Tensor
from ._foreach import add_scaled_
from .optimizer import Optimizer, _check_lr_elements, _check_unsupported

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD with PyTorch's update: the first momentum buffer is the gradient (no dampening)."""

    _loaded_group_defaults = {"nesterov": False, "maximize": False, "foreach": None,
                              "differentiable": False, "fused": False}

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None):
        _check_lr_elements(lr)
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_unsupported("SGD", differentiable=differentiable, fused=fused, foreach=foreach)
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)

    _accepts_sparse_grads = True
    _sparse_weight_decay_error = ("add(sparse, dense) is not supported. Use add(dense, sparse) "
                                  "instead.")

    def _update_sparse(self, data, grad, state, options):
        """PyTorch's SGD on a sparse gradient: a first momentum buffer is sparse too (kept
        coalesced here; a dense one stays dense), and the parameter takes ``-lr`` times the
        step at its indices."""
        momentum = options.momentum
        if momentum != 0:
            buffer_tensor = state.get("momentum_buffer")
            if buffer_tensor is not None and not buffer_tensor.is_sparse:
                buffer = buffer_tensor._data
                buffer *= momentum
                add_to_dense(buffer, grad, 1 - options.dampening)
                if options.nesterov:
                    add_to_dense(data, grad, -options.lr)
                    add_scaled_(data, buffer, -options.lr * momentum)
                else:
                    add_scaled_(data, buffer, -options.lr)
                return
            if buffer_tensor is None:
                buffer = coalesced_storage(grad)
                buffer = SparseCOOStorage(buffer.indices, buffer.values.copy(), buffer.shape, True)
            else:
                buffer = _sparse_sum(buffer_tensor._data, momentum, grad,
                                     1 - options.dampening)
            state["momentum_buffer"] = SparseTensor._from_storage(buffer)
            grad = _sparse_sum(grad, 1, buffer, momentum) if options.nesterov else buffer
        add_to_dense(data, grad, -options.lr)

    def _update(self, data, grad, state, options):
        momentum = options.momentum
        if momentum != 0:
            buffer_tensor = state.get("momentum_buffer")
            if buffer_tensor is not None and buffer_tensor.is_sparse:
                buffer_tensor = state["momentum_buffer"] = buffer_tensor.to_dense()
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



def _sparse_sum(first, first_scale, second, second_scale):
    """``first_scale * first + second_scale * second`` of two sparse storages, coalesced."""
    dtype = first.values.dtype.type
    values = [first.values * dtype(first_scale) if first_scale != 1 else first.values,
              second.values * dtype(second_scale) if second_scale != 1 else second.values]
    return coalesced_storage(SparseCOOStorage(
        np.concatenate([first.indices, second.indices], axis=1), np.concatenate(values),
        first.shape, False))
