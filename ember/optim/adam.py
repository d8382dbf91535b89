"""Adam and AdamW (decoupled weight decay), with amsgrad and maximize."""
import numpy as np

from ..tensor import Tensor
from ._foreach import add_product_, add_scaled_
from .optimizer import Optimizer, _check_adam_options, _check_unsupported, _new_step

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam with PyTorch's update: bias corrections go into the step size and the denominator."""

    _loaded_group_defaults = {"amsgrad": False, "maximize": False, "foreach": None,
                              "capturable": False, "differentiable": False,
                              "decoupled_weight_decay": False, "fused": None}

    _foreach_update = True
    _sparse_name = "Adam"  # AdamW's refusal says Adam too, as PyTorch's
    _sparse_hint = ", please consider SparseAdam instead"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        if isinstance(lr, Tensor) and foreach and not capturable:
            raise ValueError("lr as a Tensor is not supported for capturable=False and "
                             "foreach=True")
        _check_adam_options(lr, eps, betas, weight_decay)
        # Adam and AdamW only (not the rest of the family), after the range checks, as PyTorch
        if not (all(isinstance(beta, float) for beta in betas[:2])
                or all(isinstance(beta, Tensor) for beta in betas[:2])):
            raise ValueError("betas must be either both floats or both Tensors")
        _check_unsupported(type(self).__name__, differentiable=differentiable, fused=fused,
                           foreach=foreach)
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _init_state(self, state, data, options):
        _start_state(state, data, "exp_avg", "exp_avg_sq")
        if options.amsgrad:
            state["max_exp_avg_sq"] = _zeros_like(data)

    def _update(self, data, grad, state, options):
        beta1, beta2 = options.betas
        exp_avg, exp_avg_sq = _update_moments(state, grad, beta1, beta2)
        _, bias_correction1, bias_correction2 = _bias_corrections(state, beta1, beta2)
        step_size = options.lr / bias_correction1
        bias_correction2_sqrt = bias_correction2 ** 0.5
        if options.amsgrad:
            max_exp_avg_sq = state["max_exp_avg_sq"]._data
            np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            denominator = np.sqrt(max_exp_avg_sq, out=np.empty_like(data))
        else:
            denominator = np.sqrt(exp_avg_sq, out=np.empty_like(data))
        denominator /= bias_correction2_sqrt
        denominator += options.eps
        # PyTorch's addcdiv_(exp_avg, denominator, value=-step_size): (value * exp_avg) / denom
        update = np.multiply(exp_avg, -step_size, dtype=data.dtype)
        update /= denominator
        data += update


class AdamW(Adam):
    """Adam with decoupled weight decay: ``param *= 1 - lr * weight_decay`` before the Adam step."""

    _loaded_group_overrides = {"decoupled_weight_decay": True}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)


def _zeros_like(array):
    return Tensor._wrap(np.zeros_like(array))


def _start_state(state, data, *zero_names):
    """A step count, then a zero array like ``data`` under each of ``zero_names``, in that order
    (the order of PyTorch's state keys)."""
    state["step"] = _new_step()
    for name in zero_names:
        state[name] = _zeros_like(data)


def _update_moments(state, grad, beta1, beta2):
    """Adam's running averages of the gradient and of its square, updated in place (PyTorch's
    rounding); returns the two arrays."""
    exp_avg = state["exp_avg"]._data
    exp_avg_sq = state["exp_avg_sq"]._data
    _lerp_(exp_avg, grad, 1 - beta1)
    _square_average_(exp_avg_sq, grad, beta2)
    return exp_avg, exp_avg_sq


def _bias_corrections(state, beta1, beta2):
    """The step count and Adam's bias corrections ``1 - beta1 ** step``, ``1 - beta2 ** step``."""
    step = float(state["step"]._data)
    return step, 1 - beta1 ** step, 1 - beta2 ** step


def _square_average_(average, values, decay):
    """``average = decay * average + (1 - decay) * values**2`` in place, rounded like PyTorch's
    ``average.mul_(decay).addcmul_(values, values, value=1 - decay)`` (a fused multiply-add)."""
    average *= decay
    add_product_(average, values * (1 - decay), values)


def _lerp_(start, end, weight):
    """``start += weight * (end - start)`` in place, rounded like PyTorch's lerp kernel: the
    difference rounded, then one fused multiply-add onto ``start`` (small weights) or onto
    ``end`` with ``weight - 1``."""
    difference = end - start
    if weight < 0.5:
        add_scaled_(start, difference, weight)
    else:
        np.copyto(start, end)
        add_scaled_(start, difference, start.dtype.type(weight) - start.dtype.type(1))
