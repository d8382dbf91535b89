"""Muon (Jordan et al., 2024) as PyTorch 2.9+ implements it: SGD momentum whose update is
orthogonalised by a quintic Newton-Schulz iteration in bfloat16, for 2-D parameters only."""
import math

import numpy as np

from .._dtype import bfloat16
from ..tensor import Tensor
from ._foreach import add_scaled_
from .adam import _lerp_
from .optimizer import Optimizer, _call_closure, _hyperparameters

__all__ = ["Muon"]



class Muon(Optimizer):
    """Muon with PyTorch's defaults, state (``momentum_buffer``) and learning-rate adjustment
    ("original": sqrt(max(1, rows / cols)); "match_rms_adamw": 0.2 sqrt(max(rows, cols)))."""

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5,
                 adjust_lr_fn=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum,
                    "nesterov": nesterov, "ns_coefficients": ns_coefficients, "eps": eps,
                    "ns_steps": ns_steps, "adjust_lr_fn": adjust_lr_fn}
        super().__init__(params, defaults)
        for group in self.param_groups:
            for param in group["params"]:
                if param.ndim != 2:
                    raise ValueError(f"Muon only supports 2D parameters whereas we found a "
                                     f"parameter with size: {param.size()}")

    def step(self, closure=None):
        """One Muon update of every parameter with a gradient; returns the closure's loss."""
        loss = _call_closure(closure)
        for group in self.param_groups:
            options = _hyperparameters(group)
            # PyTorch checks a group's parameters before updating any of them.
            with_grad = []
            for param in group["params"]:
                if param._grad is None:
                    continue
                if param.is_complex():
                    raise RuntimeError("Muon does not support complex parameters")
                if param._grad.is_sparse:
                    raise RuntimeError("Muon does not support sparse gradients")
                with_grad.append(param)
            for param in with_grad:
                self._update_one(param, options, group["ns_steps"])
        return loss

    def _update_one(self, param, options, steps):
        grad = param._grad._data
        if grad.ndim != 2:
            raise ValueError("Param gradient must be a 2D matrix")
        state = self.state[param]
        buffer_tensor = state.get("momentum_buffer")
        if buffer_tensor is None:
            buffer_tensor = state["momentum_buffer"] = Tensor._wrap(np.zeros_like(grad))
        buffer = buffer_tensor._data
        _lerp_(buffer, grad, 1 - options.momentum)
        if options.nesterov:
            update = np.array(grad, copy=True)
            _lerp_(update, buffer, options.momentum)
        else:
            update = buffer
        update = zeropower_via_newtonschulz(update, options.ns_coefficients, steps, options.eps)
        data = param._data
        data *= 1 - options.lr * options.weight_decay
        add_scaled_(data, update, -_adjusted_lr(options.lr, options.adjust_lr_fn, data.shape))
        param._bump_version()


def zeropower_via_newtonschulz(grad, coefficients, steps, eps):
    """The quintic Newton-Schulz iteration of a 2-D array (Muon's orthogonalisation), in
    bfloat16 as PyTorch runs it: every product and sum in float32, rounded to bfloat16 once
    (its bfloat16 addmm); returns float32 holding bfloat16 values."""
    if steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if grad.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = (np.float32(value) for value in coefficients)
    x = _bfloat16(grad)
    tall = grad.shape[0] > grad.shape[1]
    if tall:
        x = np.ascontiguousarray(x.T)
    norm = _bfloat16(np.sqrt(np.sum(np.square(x, dtype=np.float32), dtype=np.float32)))
    x = _bfloat16(x / max(norm, _bfloat16(np.float32(eps))))
    for _ in range(steps):
        gram = _bfloat16(x @ x.T)
        gram_update = _bfloat16(b * gram + c * (gram @ gram))
        x = _bfloat16(a * x + gram_update @ x)
    return x.T if tall else x


def _bfloat16(values):
    """float32 values rounded to bfloat16 (kept as float32 for the next float32 product)."""
    return np.asarray(values, np.float32).astype(bfloat16.numpy).astype(np.float32)


def _adjusted_lr(lr, adjust_lr_fn, shape):
    rows, columns = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / columns))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, columns))
    else:
        ratio = 1.0
    return lr * ratio
