"""Dropout functions: element, channel (1d/2d/3d) and alpha dropout, active only when
``training`` is passed as True (they never read a module's mode)."""
import warnings

import numpy as np

from ... import _random
from ..._dtype import is_floating, scalar_type_name
from .._kernels import dropout as _dropout_ops
from ._activation import _apply

__all__ = ["alpha_dropout", "dropout", "dropout1d", "dropout2d", "dropout3d",
           "feature_alpha_dropout"]


def check_probability(p):
    """The one check of a dropout probability (F's functions and the Dropout layers)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout(input, p, training, inplace, feature, alpha, generator=None):
    """The shared dropout rule: the input itself when not training, p == 0 or empty; otherwise
    _drop."""
    check_probability(p)
    if not training or p == 0 or input.numel() == 0:
        return input
    if not is_floating(input._data.dtype):
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{scalar_type_name(input._data.dtype)}")
    return _drop(input, p, inplace, feature, alpha, generator)


def _drop(input, p, inplace=False, feature=False, alpha=False, generator=None):
    """Dropout with 0 < p <= 1, always applied: zeros (``x * 0``) when p == 1, otherwise one fused
    node with a freshly drawn mask (also attention's dropout of its weights)."""
    if p == 1:
        return _apply(input, inplace, "mul_", lambda: input * 0)
    data = input._data
    if type(data) is not np.ndarray and not (feature or alpha):
        # batched by ember.func.vmap(randomness="different"): every sample's mask at once
        scaled_mask = _random.batched_draw(
            lambda batch_shape: _dropout_ops.dropout_masks(
                np.empty(batch_shape, data.dtype), p, generator, False, False)[0], data.shape)
        if scaled_mask is not None:
            return _apply(input, inplace, "dropout_",
                          lambda: _dropout_ops.Dropout.apply(input, scaled_mask, None))
    scaled_mask, shift = _dropout_ops.dropout_masks(data, p, generator, feature, alpha)
    return _apply(input, inplace, "dropout_",
                  lambda: _dropout_ops.Dropout.apply(input, scaled_mask, shift))


def dropout(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero each element with probability p and scale the rest by 1/(1-p) when ``training``."""
    return _dropout(input, p, training, inplace, False, False, generator)


def alpha_dropout(input, p=0.5, training=False, inplace=False, generator=None):
    """Dropout for SELU networks: dropped values go to SELU's saturation and an affine correction
    keeps zero mean and unit variance. Off unless ``training=True`` (PyTorch's default)."""
    return _dropout(input, p, training, inplace, False, True, generator)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False, generator=None):
    """AlphaDropout of whole channels (one draw per sample and channel)."""
    return _dropout(input, p, training, inplace, True, True, generator)


def dropout1d(input, p=0.5, training=True, inplace=False, generator=None):
    """Channel dropout for (N, C, L) or (C, L) inputs."""
    check_probability(p)
    dims = input.dim()
    if dims not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {dims}D input. Note that "
            f"dropout1d exists to provide channel-wise dropout on inputs with 1 spatial "
            f"dimension, a channel dimension, and an optional batch dimension (i.e. 2D or 3D "
            f"inputs).")
    if dims == 3:
        return _dropout(input, p, training, inplace, True, False, generator)
    return _unbatched_channel_dropout(input, p, training, inplace, generator)


def _unbatched_channel_dropout(input, p, training, inplace, generator):
    """Channel dropout of one sample: add a batch dimension, drop, remove it again."""
    batched = input.unsqueeze(0)
    result = _dropout(batched, p, training, False, True, False, generator)
    if result is batched:
        return input
    if inplace:
        return input.copy_(result.squeeze(0))
    return result.squeeze(0)


def dropout2d(input, p=0.5, training=True, inplace=False, generator=None):
    """Channel dropout for (N, C, H, W) inputs; a 3-D input is taken as (N, C, L), as in PyTorch."""
    dims = _checked_rank("dropout2d", input, p, 2)
    if dims == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2)
    return _dropout(input, p, training, inplace, True, False, generator)


def dropout3d(input, p=0.5, training=True, inplace=False, generator=None):
    """Channel dropout for (N, C, D, H, W) or (C, D, H, W) inputs."""
    dims = _checked_rank("dropout3d", input, p, 3)
    if dims == 5:
        return _dropout(input, p, training, inplace, True, False, generator)
    return _unbatched_channel_dropout(input, p, training, inplace, generator)


def _checked_rank(name, input, p, spatial_dims):
    """``input``'s rank, after dropout2d's and dropout3d's checks: the probability, and PyTorch's
    deprecation warning (shown at their caller) for a rank other than spatial_dims + 1 or + 2."""
    check_probability(p)
    dims = input.dim()
    if dims not in (spatial_dims + 1, spatial_dims + 2):
        warnings.warn(
            f"{name}: Received a {dims}-D input to {name}, which is deprecated and will result in "
            f"an error in a future release. To retain the behavior and silence this warning, "
            f"please use dropout instead. Note that {name} exists to provide channel-wise dropout "
            f"on inputs with {spatial_dims} spatial dimensions, a channel dimension, and an "
            f"optional batch dimension (i.e. {spatial_dims + 1}D or {spatial_dims + 2}D inputs).",
            stacklevel=3)
    return dims
