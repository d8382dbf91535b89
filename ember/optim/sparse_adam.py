"""SparseAdam: Adam's update applied only where a sparse gradient has entries (the moments and
the parameter elsewhere are left as they are), for ``Embedding(sparse=True)`` weights."""
import math

import numpy as np

from ..sparse._coo import coalesced_storage, negated_storage
from ..tensor import Tensor
from .optimizer import Optimizer, _call_closure

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """PyTorch's masked Adam: dense parameters, sparse gradients (dense ones are refused), the
    step count a Python int."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "maximize": maximize}
        super().__init__(params, defaults)
        sparse_params = []
        complex_params = []
        for group_index, group in enumerate(self.param_groups):
            for param_index, param in enumerate(group["params"]):
                if param.is_sparse:
                    sparse_params.append([group_index, param_index])
                if param.is_complex():
                    complex_params.append([group_index, param_index])
        if sparse_params:
            raise ValueError(f"Sparse params at indices {sparse_params}: SparseAdam requires "
                             f"dense parameter tensors")
        if complex_params:
            raise ValueError(f"Complex params at indices {complex_params}: SparseAdam does not "
                             f"support complex parameters")

    def step(self, closure=None):
        """One masked Adam update of every parameter with a (sparse) gradient."""
        loss = _call_closure(closure)
        for group in self.param_groups:
            with_grad = [param for param in group["params"] if param._grad is not None]
            for param in with_grad:
                if not param._grad.is_sparse:
                    raise RuntimeError("SparseAdam does not support dense gradients, please "
                                       "consider Adam instead")
            for param in with_grad:
                self._update_param(param, group)
        return loss

    def _update_param(self, param, group):
        beta1, beta2 = group["betas"]
        data = param._data
        state = self.state[param]
        if len(state) == 0:
            state["step"] = 0
            state["exp_avg"] = Tensor._wrap(np.zeros_like(data))
            state["exp_avg_sq"] = Tensor._wrap(np.zeros_like(data))
        step = state["step"]
        state["step"] = step = (int(step.item()) if isinstance(step, Tensor) else step) + 1
        grad = param._grad._data
        if group.get("maximize", False):
            grad = negated_storage(grad)
        grad = coalesced_storage(grad)  # the update is not linear: unique indices first
        if grad.nnz == 0:
            return
        scalar = data.dtype.type
        where = tuple(grad.indices)
        values = grad.values
        exp_avg = state["exp_avg"]._data
        exp_avg_sq = state["exp_avg_sq"]._data
        # PyTorch's rounding: each moment moves by (new - old) * (1 - beta) at the indices, and
        # the step uses old + that move (not the stored sum).
        old_average = exp_avg[where]
        average_change = (values - old_average) * scalar(1 - beta1)
        exp_avg[where] += average_change
        old_square = exp_avg_sq[where]
        square_change = (values * values - old_square) * scalar(1 - beta2)
        exp_avg_sq[where] += square_change
        numerator = average_change + old_average
        denominator = np.sqrt(square_change + old_square)
        denominator += scalar(group["eps"])
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = float(group["lr"]) * math.sqrt(bias_correction2) / bias_correction1
        data[where] += scalar(-step_size) * (numerator / denominator)
        param._bump_version()
