"""In-place initialisers (PyTorch's torch.nn.init): untracked, drawing from ember's generators."""
import math
import warnings

import numpy as np

from .. import _random
from .._dtype import is_floating, scalar_type_name
from .._factories import empty_like
from ..autograd.grad_mode import no_grad
from ..ops import where
from ..tensor import Tensor


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (the scale that keeps activations' variance)."""
    linear_names = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                    "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear_names or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4  # PyTorch's value, chosen empirically for self-normalising networks
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out): input/output feature maps times the receptive field size."""
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         "dimensions")
    shape = tensor.shape
    receptive_field_size = 1
    for size in shape[2:]:
        receptive_field_size *= size
    return shape[1] * receptive_field_size, shape[0] * receptive_field_size


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor, values):
    """Write ``values`` into the tensor's storage (cast to its dtype) without recording history."""
    with no_grad():
        tensor.copy_(Tensor._wrap(np.asarray(values, dtype=tensor._data.dtype)))
    return tensor


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b)."""
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std^2)."""
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def _check_floating(tensor):
    """PyTorch's error for the Gaussian initialisers of an integer or bool tensor."""
    if not is_floating(tensor._data.dtype):
        raise NotImplementedError(f'"normal_kernel_cpu" not implemented for '
                                  f"'{scalar_type_name(tensor._data.dtype)}'")


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std^2) truncated to [a, b] by PyTorch's rejection sampling: normal
    draws, each whole-size redraw replacing the values outside [a, b], when the interval holds
    over 30% of the mass; else uniform proposals on [a, b] accepted with the density's ratio."""
    _check_floating(tensor)
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)

    def cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    with no_grad():
        if cdf((b - mean) / std) - cdf((a - mean) / std) > 0.3:
            low, high = (float(tensor._data.dtype.type(bound)) for bound in (a, b))
            result = tensor.normal_(mean, std, generator=generator)
            while True:
                outside = (result < low) | (result > high)
                if not outside.any():
                    break
                result = where(outside, empty_like(result).normal_(mean, std,
                                                                    generator=generator), result)
            if result is not tensor:
                tensor.copy_(result)
            return tensor
        log_peak = -0.5 * ((max(a, min(mean, b)) - mean) / std) ** 2

        def log_density(candidates):
            return candidates.sub(mean).div_(std).pow_(2).mul_(-0.5).sub_(log_peak)

        def rejected(candidates):
            return empty_like(tensor).uniform_(generator=generator).log_().gt(
                log_density(candidates))

        tensor.uniform_(a, b, generator=generator)
        pending = rejected(tensor)
        result = tensor
        while pending.any():
            candidates = empty_like(tensor).uniform_(a, b, generator=generator)
            result = where(pending, candidates, result)
            pending = where(pending, rejected(candidates), pending)
        if result is not tensor:
            tensor.copy_(result)
    return tensor


def _no_grad_uniform_(tensor, a, b, generator=None):
    """PyTorch's private helper of the same name (timm-style code imports it)."""
    return uniform_(tensor, a, b, generator)


def _no_grad_normal_(tensor, mean, std, generator=None):
    """PyTorch's private helper of the same name."""
    return normal_(tensor, mean, std, generator)


def _no_grad_trunc_normal_(tensor, mean, std, a, b, generator=None):
    """PyTorch's private helper of the same name."""
    with no_grad():
        return trunc_normal_(tensor, mean, std, a, b, generator)


def constant_(tensor, val):
    """Fill with the value ``val``."""
    return _fill(tensor, val)


def ones_(tensor):
    return _fill(tensor, 1)


def zeros_(tensor):
    return _fill(tensor, 0)


def eye_(tensor):
    """Fill a 2-D tensor with the identity (ones on the diagonal)."""
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill(tensor, np.eye(*tensor._data.shape))


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: U(-bound, bound), bound = gain * sqrt(3 / fan)."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: N(0, std^2), std = gain / sqrt(fan)."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor, gain=1, generator=None):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one, sign-corrected so
    it is uniformly distributed; dimensions after the first are flattened."""
    if tensor.dim() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    _check_floating(tensor)
    rows = tensor.shape[0]
    columns = tensor.numel() // rows
    # PyTorch's steps: normal_ on a (rows, columns) tensor of the same dtype, QR of it (or of
    # its transpose), signs of R's diagonal
    flattened = tensor.new_empty((rows, columns)).normal_(0, 1, generator=generator)._data
    if rows < columns:
        flattened = flattened.T
    q, r = np.linalg.qr(flattened)
    q = q * np.sign(np.diag(r))
    if rows < columns:
        q = q.T
    with no_grad():
        _fill(tensor, q.reshape(tensor._data.shape))
        tensor.mul_(gain)
    return tensor


def dirac_(tensor, groups=1):
    """The identity of a convolution: per group, out channel d passes in channel d through the
    kernel's centre (3-, 4- or 5-D weights)."""
    if tensor.dim() not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    shape = tensor._data.shape
    if shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    per_group = shape[0] // groups
    values = np.zeros(shape)
    centre = tuple(size // 2 for size in shape[2:])
    for group in range(groups):
        for channel in range(min(per_group, shape[1])):
            values[(group * per_group + channel, channel) + centre] = 1
    return _fill(tensor, values)


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """N(0, std^2) values with ceil(sparsity * rows) zeros in every column of a 2-D tensor."""
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, columns = tensor._data.shape
    zeros_per_column = int(math.ceil(sparsity * rows))
    with no_grad():
        values = tensor.normal_(0, std, generator=generator)._data.copy()
    for column in range(columns):
        # PyTorch permutes the rows with the default generator, not the given one
        values[_random.permutation(None, rows)[:zeros_per_column], column] = 0
    return _fill(tensor, values)


def _deprecated(function):
    """PyTorch's old names without the trailing underscore: the same function, with its
    FutureWarning."""
    old_name = function.__name__[:-1]

    def deprecated(*args, **kwargs):
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of "
                      f"`nn.init.{function.__name__}`.", FutureWarning, stacklevel=2)
        return function(*args, **kwargs)
    deprecated.__name__ = deprecated.__qualname__ = old_name
    deprecated.__doc__ = f"Deprecated spelling of ``{function.__name__}``."
    return deprecated


# uniform, normal, constant, eye, dirac, xavier_*, kaiming_*, orthogonal, sparse.
globals().update({function.__name__[:-1]: _deprecated(function) for function in (
    uniform_, normal_, constant_, eye_, dirac_, xavier_uniform_, xavier_normal_,
    kaiming_uniform_, kaiming_normal_, orthogonal_, sparse_)})
