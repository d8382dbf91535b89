"""Non-linear activations: fused kernels (ember.nn._kernels.activation), the softmax family and
relu/sigmoid/tanh from ember.ops, and composites; ``inplace=True`` forms write into the input."""
import warnings

import numpy as np

from ... import _random, ops as _ops
from ..._dtype import is_floating, scalar_type_name
from ...autograd import function as function_module
from ...autograd.function import torch_named
from ...autograd.views import nothing_recorded
from ...ops.elementwise.casting import autocast_op
from ...tensor import Tensor
from .._kernels import activation as _activation

__all__ = ["celu", "celu_", "elu", "elu_", "gelu", "glu", "gumbel_softmax", "hardshrink",
           "hardsigmoid", "hardswish", "hardtanh", "hardtanh_", "leaky_relu", "leaky_relu_",
           "log_softmax", "logsigmoid", "mish", "prelu", "relu", "relu6", "relu_", "rrelu",
           "rrelu_", "selu", "selu_", "sigmoid", "silu", "softmax", "softmin", "softplus",
           "softshrink", "softsign", "tanh", "tanhshrink", "threshold", "threshold_"]


def _apply(input, inplace, name, compute, inplace_node=None):
    """``compute()``, or the same written into ``input`` in place when ``inplace`` (its node
    named ``inplace_node`` where PyTorch's in-place form has a node of its own, one that saves
    the result: EluBackward1 for elu_)."""
    if inplace:
        result = input._inplace(name, compute)
        return result if inplace_node is None else torch_named(result, inplace_node)
    return compute()


# SELU's constants (Klambauer et al., 2017), as PyTorch uses them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def relu(input, inplace=False):
    if inplace:
        return input.relu_()
    return _ops.relu(input)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _apply(input, inplace, "hardtanh_",
                  lambda: _activation.Hardtanh.apply(input, min_val, max_val))


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _apply(input, inplace, "leaky_relu_",
                  lambda: _activation.LeakyRelu.apply(input, negative_slope, inplace),
                  "LeakyReluBackward1")


def elu(input, alpha=1.0, inplace=False):
    return _apply(input, inplace, "elu_", lambda: _activation.Elu.apply(input, alpha, 1.0, inplace),
                  "EluBackward1")


def selu(input, inplace=False):
    return _apply(input, inplace, "selu_", lambda: _activation.Elu.apply(
        input, SELU_ALPHA, SELU_SCALE, inplace), "EluBackward1")


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    if (type(input) is Tensor and function_module._tracer is None
            and nothing_recorded(input)):
        output = _activation.untracked_gelu(input._data, approximate)
        if output is not None:
            return Tensor._wrap(output)
    return _activation.Gelu.apply(input, approximate)


def silu(input, inplace=False):
    return _apply(input, inplace, "silu_", lambda: _activation.Silu.apply(input))


def mish(input, inplace=False):
    return _apply(input, inplace, "mish_", lambda: _activation.Mish.apply(input))


def softplus(input, beta=1.0, threshold=20.0):
    return _activation.Softplus.apply(input, beta, threshold)


def sigmoid(input):
    return _ops.sigmoid(input)


def tanh(input):
    return _ops.tanh(input)


def _implicit_softmax_dim(name, ndim):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  f"include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _implicit_softmax_dim("softmax", input.dim())
    return _ops.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _implicit_softmax_dim("log_softmax", input.dim())
    return _ops.log_softmax(input, dim, dtype=dtype)


def logsigmoid(input):
    """log(sigmoid(x)), computed without overflow."""
    return _activation.LogSigmoid.apply(input)


def hardsigmoid(input, inplace=False):
    return _apply(input, inplace, "hardsigmoid_", lambda: _activation.Hardsigmoid.apply(input))


def hardswish(input, inplace=False):
    return _apply(input, inplace, "hardswish_", lambda: _activation.Hardswish.apply(input))


def softsign(input):
    """x / (1 + |x|) (composite)."""
    return input / (input.abs() + 1)


def tanhshrink(input):
    """x - tanh(x) (composite)."""
    return input - input.tanh()


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x): weights that favour the smallest entries."""
    if dim is None:
        dim = _implicit_softmax_dim("softmin", input.dim())
    if dtype is not None:
        input = input.to(dtype)
    return _ops.softmax(-input, dim)


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _apply(input, inplace, "celu_", lambda: _activation.Celu.apply(input, alpha, inplace),
                  "CeluBackward1")


def _threshold(input, threshold, value, inplace=False):
    """x where x > threshold, otherwise ``value``."""
    return _apply(input, inplace, "threshold_",
                  lambda: _activation.Threshold.apply(input, threshold, value),
                  "ThresholdBackward1")


threshold = _threshold  # PyTorch's F.threshold is _threshold (its argument errors say so)


def glu(input, dim=-1):
    """Gated linear unit: first half of ``dim`` times sigmoid of the second half."""
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    if not -input.dim() <= dim < input.dim():
        raise IndexError(f"Dimension out of range (expected to be in range of [{-input.dim()}, "
                         f"{input.dim() - 1}], but got {dim})")
    axis = dim % input.dim()
    size = input.shape[axis]
    if size % 2 != 0:
        raise RuntimeError(f"Halving dimension must be even, but dimension {axis} is size {size}")
    return _activation.Glu.apply(input, axis)


@autocast_op("prelu")
def prelu(input, weight):
    """max(0, x) + weight * min(0, x), one weight per channel (dimension 1) or one shared."""
    if input._data.dtype != weight._data.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got "
                           f"{scalar_type_name(input._data.dtype)} and "
                           f"{scalar_type_name(weight._data.dtype)}")
    channels = input.shape[1] if input.dim() >= 2 else 1
    count = weight.numel()
    if count != 1:
        if count != channels:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {count} and channel size = {channels}.")
        weight = weight.reshape((channels,) + (1,) * (input.dim() - 2))
    elif weight.dim() > 0:
        weight = weight.reshape(())
    return _activation.Prelu.apply(input, weight)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    return _activation.Hardshrink.apply(input, lambd)


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    return _activation.Softshrink.apply(input, lambd)


def _grad_transform_innermost():
    """Whether the innermost function transform running is a grad-type one (grad, vjp, jacrev):
    it started with every vmap in progress already running."""
    started_within = function_module._transforms.vmap_levels
    return bool(started_within) and len(started_within[-1]) == _random.vmap_depth()


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky ReLU with slopes drawn from U(lower, upper) per element in training, and their mean
    in evaluation."""
    if _random.inside_vmap():
        # PyTorch has no batching rule for rrelu: under vmap it refuses in every randomness
        # mode, in evaluation too, and also for inputs that vmap does not map over (under a
        # forward-mode transform too, where it is decomposed to rrelu_with_noise first, as under
        # a grad transform started inside the innermost vmap)
        decomposed = function_module.forward_mode_active() or _grad_transform_innermost()
        name = "rrelu_with_noise" if decomposed else "rrelu"
        name = name + "_" if inplace else name
        error = RuntimeError(f"vmap: we do not yet support aten::{name}. Please file an issue")
        error.vmap_refusal = True  # raised, not run once per sample
        raise error
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if not training:
        result = leaky_relu(input, (lower + upper) / 2, inplace)
        return torch_named(result, "RreluWithNoiseBackward1" if inplace else
                           "RreluWithNoiseBackward0")
    dtype = input._data.dtype
    if dtype != np.float32 and dtype != np.float64 and dtype.name != "bfloat16":
        raise NotImplementedError(f'"rrelu_with_noise_out_cpu" not implemented for '
                                  f"'{scalar_type_name(dtype)}'")
    # PyTorch draws one float64 U(lower, upper) per non-positive element, in order, with the
    # bounds first rounded to the input's compute type (float32 below float64), and multiplies
    # by the slope in that type (bfloat16's noise, for backward, is rounded)
    negative = input._data <= 0
    compute = np.float64 if dtype == np.float64 else np.float32
    slopes = np.ones(input._data.shape, compute)
    slopes[negative] = _random.uniform(None, (int(negative.sum()),), np.float64,
                                       float(compute(lower)), float(compute(upper)))
    noise = type(input)._wrap(slopes)
    return _apply(input, inplace, "rrelu_", lambda: torch_named(
        _activation.RreluWithNoise.apply(input, noise, inplace), "RreluWithNoiseBackward0"),
                  "RreluWithNoiseBackward1")


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + Gumbel noise) / tau); with ``hard`` the one-hot argmax in the forward
    pass and the soft sample's gradient (straight-through)."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    if not is_floating(logits._data.dtype):
        raise RuntimeError(f"Exponential distribution is a continuous probability distribution. "
                           f"dtype must be a floating point but you specified "
                           f"{scalar_type_name(logits._data.dtype)}")
    # -log of exponential_() draws in the logits' dtype, as PyTorch's
    noise = _random.exponential(None, tuple(logits.shape)).astype(logits._data.dtype)
    gumbels = type(logits)._wrap(-np.log(noise))
    soft = _ops.softmax((logits + gumbels) / tau, dim)
    if not hard:
        return soft
    winners = np.argmax(soft._data, axis=dim)
    one_hot_array = np.zeros_like(soft._data)
    np.put_along_axis(one_hot_array, np.expand_dims(winners, dim), 1, axis=dim)
    return type(logits)._wrap(one_hot_array) - soft.detach() + soft


# ---- in-place forms --------------------------------------------------------------------------
def relu_(input):
    return relu(input, inplace=True)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def selu_(input):
    return selu(input, inplace=True)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def threshold_(input, threshold, value):
    return _apply(input, True, "threshold_",
                  lambda: _activation.Threshold.apply(input, threshold, value),
                  "ThresholdBackward1")


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)
