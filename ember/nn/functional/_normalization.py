"""Normalisation functions: batch_norm (one fused kernel node; SyncBatchNorm shares it),
layer_norm (one fused node with its affine map), rms_norm (a composite), group_norm (that node, then the per-channel
affine map), instance_norm (batch_norm
on the input seen as one sample), local_response_norm and normalize (composites)."""
import math

import numpy as np

from ..._dtype import bfloat16, finfo, float16, float32, float64, is_floating, scalar_type_name
from ...autograd import function as function_module
from ...autograd.grad_mode import is_grad_enabled, no_grad
from ...autograd.views import check_inplace, nothing_recorded
from ...ops import vector_norm
from ...ops.shape import keep_memory_format
from ...tensor import Size, Tensor
from .._kernels.normalization import (LayerNorm, RMSNorm, apply_batch_norm,
                                      untracked_layer_norm)
from ._padding import pad
from ._pooling import avg_pool2d, avg_pool3d

__all__ = ["batch_norm", "group_norm", "instance_norm", "layer_norm", "local_response_norm",
           "normalize", "rms_norm"]


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation over every dim but 1 (channels).

    In training the batch statistics are used, and given running buffers are updated in place
    (whatever the grad mode) with ``momentum`` and the unbiased batch variance; otherwise the
    running statistics are used (still differentiable with respect to input, weight and bias).
    """
    array = input._data
    if array.ndim < 2:
        raise ValueError(f"batch_norm: expected 2D or higher input (got {array.ndim}D input)")
    if training and eps <= 0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    if eps < 0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    channels = array.shape[1]
    if momentum is None or isinstance(momentum, bool):
        raise TypeError(f"batch_norm(): argument 'momentum' (position 7) must be float, not "
                        f"{type(momentum).__name__}")
    if not _plain_parameters(channels, running_mean, running_var, weight, bias):
        for name, tensor in (("running_mean", running_mean), ("running_var", running_var),
                             ("weight", weight), ("bias", bias)):
            if tensor is not None and tensor._data.size != channels:
                raise RuntimeError(f"{name} should contain {channels} elements not "
                                   f"{tensor._data.size}")
        if weight is not None and weight._data.ndim != 1:
            weight = weight.reshape(-1)
        if bias is not None and bias._data.ndim != 1:
            bias = bias.reshape(-1)
    if training:
        if channels and array.size // channels == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {Size(array.shape)!r}")
        for buffer in (running_mean, running_var):
            if buffer is not None and buffer._is_inference:
                check_inplace(buffer)  # updated in place: PyTorch's refusal outside inference
    elif running_mean is None:
        raise RuntimeError("running_mean must be defined in evaluation mode")
    elif running_var is None:
        raise RuntimeError("running_var must be defined in evaluation mode")
    if array.size:
        # PyTorch's native_batch_norm refuses, before its kernel's checks, running statistics
        # that require grad (in evaluation too); an empty input never reaches it
        for name, buffer in (("running_mean", running_mean), ("running_var", running_var)):
            if buffer is not None and buffer.requires_grad and is_grad_enabled():
                raise RuntimeError(f"The function 'native_batch_norm' is not differentiable "
                                   f"with respect to argument '{name}'. This input cannot have "
                                   f"requires_grad True.")
        _check_floating(array, "batch_norm")
        _check_parameter_dtypes(input, weight, bias, running_mean, running_var)
    else:
        return _empty_batch_norm(input, weight, bias)
    if array.dtype.kind == "V" and input.dtype == bfloat16:
        # NumPy's einsum has no bfloat16: computed in float32 and rounded once, as PyTorch's
        # kernel accumulates bfloat16 in float32 (the running buffers keep their dtype).
        weight, bias = (None if tensor is None else tensor.to(float32) for tensor in (weight, bias))
        return apply_batch_norm(input.to(float32), running_mean, running_var, weight, bias,
                                training, momentum, eps).to(bfloat16)
    return apply_batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                            eps)


def _plain_parameters(channels, *tensors):
    """Whether every given parameter and buffer is a vector of ``channels`` elements (the
    common call: nothing to check further or reshape)."""
    for tensor in tensors:
        if tensor is not None and tensor._data.shape != (channels,):
            return False
    return True


def _check_floating(array, kernel):
    """PyTorch's error for a normalisation kernel given integer or bool input."""
    if not is_floating(array.dtype):
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{scalar_type_name(array.dtype)}'")


def _check_parameter_dtypes(input, *parameters):
    """PyTorch's CPU normalisation kernels take parameters of the input's dtype, or float32
    ones with a float16/bfloat16 input (mixed type); anything else is a RuntimeError."""
    dtype = input._data.dtype
    for tensor in parameters:
        if tensor is not None and tensor._data.dtype != dtype:
            break
    else:
        return
    given = [tensor._data.dtype for tensor in parameters if tensor is not None]
    if all(other == np.float32 for other in given) and input.dtype in (float16, bfloat16):
        return
    first = given[0]
    if first == dtype:
        other = next(other for other in given if other != dtype)
        raise RuntimeError(f"expected scalar type {scalar_type_name(dtype)} but found "
                           f"{scalar_type_name(other)}")
    if any(other != np.float32 for other in given):
        raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
    raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")


def _empty_batch_norm(input, weight, bias):
    """An empty batch: an empty output, the running statistics left as they are (PyTorch)."""
    shape = (1, input._data.shape[1]) + (1,) * (input._data.ndim - 2)
    output = input * 1 if weight is None else input * weight.reshape(shape)
    return output if bias is None else output + bias.reshape(shape)


def _checked_normalized_shape(input, normalized_shape, parameters, kernel_name, star):
    """``normalized_shape`` as a tuple, checked against the affine ``parameters`` (name ->
    tensor or None), then the input, in PyTorch's order and with its messages (``kernel_name``
    the function's); ``star`` is how the expected shape starts (layer_norm writes ``[*, 4]``,
    rms_norm ``[*4]``)."""
    if isinstance(normalized_shape, (int, np.integer)):
        raise TypeError(f"{kernel_name}(): argument 'normalized_shape' (position 2) must be "
                        f"tuple of ints, not {type(normalized_shape).__name__}")
    normalized_shape = tuple(map(int, normalized_shape))
    shape = tuple(input._data.shape)
    count = len(normalized_shape)
    if count == 0:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., "
                           "containing at least one element, but got normalized_shape = []")
    for name, tensor in parameters.items():
        if tensor is not None and tuple(tensor._data.shape) != normalized_shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got "
                               f"{name} of shape {list(tensor._data.shape)} and normalized_shape "
                               f"= {list(normalized_shape)}")
    if len(shape) < count or shape[len(shape) - count:] != normalized_shape:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input "
                           f"with shape [{star}{', '.join(str(size) for size in normalized_shape)}]"
                           f", but got input of size{list(shape)}")
    return normalized_shape


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` dims (biased variance), then affine."""
    if _plain_layer_norm(input, normalized_shape, weight, bias):
        if (type(input) is Tensor and function_module._tracer is None
                and nothing_recorded(input, weight, bias)):
            output = untracked_layer_norm(input._data, None if weight is None else weight._data,
                                          None if bias is None else bias._data,
                                          len(normalized_shape), eps)
            if output is not None:
                return Tensor._wrap(output)
        return LayerNorm.apply(input, weight, bias, len(normalized_shape), eps)
    first = weight if weight is not None else bias
    if first is not None and first._data.dtype != input._data.dtype:
        # PyTorch checks a mixed-dtype call (parameters unlike the input) before the shapes
        _check_parameter_dtypes(input, weight, bias)
    normalized_shape = _checked_normalized_shape(
        input, normalized_shape, {"weight": weight, "bias": bias}, "layer_norm", "*, ")
    _check_parameter_dtypes(input, weight, bias)
    _check_floating(input._data, "LayerNormKernelImpl")
    return LayerNorm.apply(input, weight, bias, len(normalized_shape), eps)


def _plain_layer_norm(input, normalized_shape, weight, bias):
    """The common call that the checks below would all pass: a LayerNorm module's tuple shape
    equal to a float input's trailing dims, and weight and bias of that shape and dtype."""
    if type(normalized_shape) is not tuple or not normalized_shape:
        return False
    data = input._data
    shape = data.shape
    count = len(normalized_shape)
    if (len(shape) < count or shape[len(shape) - count:] != normalized_shape
            or data.dtype.kind != "f"):
        return False
    for tensor in (weight, bias):
        if tensor is not None and (tensor._data.shape != normalized_shape
                                   or tensor._data.dtype != data.dtype):
            return False
    return True


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Divide by the root mean square over the trailing ``normalized_shape`` dims, then scale.
    Half precision computes in float32 (the weight's product too) and rounds once; ``eps=None`` is the machine epsilon of
    that computing dtype (PyTorch's)."""
    normalized_shape = _checked_normalized_shape(input, normalized_shape, {"weight": weight},
                                                 "rms_norm", "*")
    _check_floating(input._data, "rms_norm")
    computing = input if input.dtype in (float32, float64) else input.to(float32)
    if eps is None:
        eps = finfo(computing.dtype).eps
    if computing is input and (weight is None or weight.dtype == input.dtype):
        return RMSNorm.apply(input, weight, len(normalized_shape), eps)
    dims = tuple(range(-len(normalized_shape), 0))
    output = computing * (computing.pow(2).mean(dims, keepdim=True) + eps).rsqrt()
    if weight is not None:
        output = output * weight
    # As PyTorch: scaled in the computing dtype, then rounded once to the input's dtype,
    # whatever the weight's (a float32 weight on bfloat16 activations gives bfloat16).
    return output.to(input.dtype)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each sample over groups of ``C / num_groups`` channels, then per-channel affine."""
    shape = tuple(input._data.shape)
    if len(shape) < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{len(shape)}")
    channels = shape[1]
    _check_floating(input._data, "GroupNormKernelImpl")
    if num_groups <= 0 or channels % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {list(shape)} and num_groups={num_groups}")
    for name, tensor in (("weight", weight), ("bias", bias)):
        if tensor is not None and (tensor._data.ndim != 1 or tensor._data.shape[0] != channels):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape "
                               f"{list(tensor._data.shape)} and input of shape {list(shape)}")
    _check_parameter_dtypes(input, weight, bias)
    batch = shape[0]
    rows = input.reshape(batch * num_groups, math.prod(shape[1:]) // num_groups)
    output = LayerNorm.apply(rows, None, None, 1, eps).reshape(shape)
    affine_shape = (channels,) + (1,) * (len(shape) - 2)
    if weight is not None:
        output = output * weight.reshape(affine_shape)
    if bias is not None:
        output = output + bias.reshape(affine_shape)
    # float32 parameters of a half-precision input: the affine map in float32, rounded once.
    return keep_memory_format(output.to(input.dtype), input)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalise each (sample, channel) over its spatial positions: batch_norm on the input
    seen as one sample of N * C channels; running statistics are averaged over the samples."""
    shape = tuple(input.shape)
    if use_input_stats and math.prod(shape[2:]) == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{Size(shape)!r}")
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when "
                           "use_input_stats is false")
    batch, channels = shape[0], shape[1]
    folded = input.reshape((1, batch * channels) + shape[2:])
    repeated = []
    for tensor in (weight, bias):
        repeated.append(tensor.repeat(batch) if tensor is not None else None)
    running = []
    for buffer in (running_mean, running_var):
        # (requiring grad as the buffer does: batch_norm then refuses it as PyTorch's does)
        running.append(Tensor._wrap(np.tile(buffer._data, batch), buffer.requires_grad)
                       if buffer is not None else None)
    output = batch_norm(folded, running[0], running[1], repeated[0], repeated[1],
                        use_input_stats, momentum, eps)
    with no_grad():
        for buffer, tiled in zip((running_mean, running_var), running):
            if buffer is not None:
                buffer.copy_(tiled.reshape(batch, channels).mean(0))
    return output.reshape(shape)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p over ``dim``, eps)."""
    if out is not None:
        raise NotImplementedError("normalize: ember does not support out=")
    norm = vector_norm(input, p, dim, keepdim=True).clamp(min=eps)
    return input / norm.expand_as(input)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """x / (k + alpha * mean of x^2 over ``size`` neighbouring channels)^beta (composite)."""
    dims = input.dim()
    if dims < 3:
        # PyTorch's message, including the run of spaces left by its line continuation.
        raise ValueError(f"Expected 3D or higher dimensionality{' ' * 26}input (got {dims} "
                         f"dimensions)")
    if input.numel() == 0:
        return input
    squared = (input * input).unsqueeze(1)
    if dims == 3:
        squared = pad(squared, (0, 0, size // 2, (size - 1) // 2))
        average = avg_pool2d(squared, (size, 1), stride=1).squeeze(1)
    else:
        shape = tuple(input.shape)
        squared = squared.reshape(shape[0], 1, shape[1], shape[2], -1)
        squared = pad(squared, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        average = avg_pool3d(squared, (size, 1, 1), stride=1).squeeze(1).reshape(shape)
    return input / (average * alpha + k).pow(beta)
