"""pad: constant (negative widths crop), reflect, replicate and circular padding; argument
checks here, one gather/scatter kernel (ember.nn._kernels.padding) for every mode."""
import numpy as np

from ...autograd.function import keep_input_in_gradient, torch_named
from ...tensor import Tensor
from .._kernels.padding import GatherAxes, border_slices, index_map
from ._conv import check_tensors

__all__ = ["pad"]


_NON_CONSTANT_MODES = ("reflect", "replicate", "circular")
_SUPPORTED_DIMS = "\n".join([
    "Supported combinations for non-constant padding:",
    "  - 2D or 3D input: padding size = 2 (pads last dimension)",
    "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)",
    "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"])


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad) // 2 dimensions; ``pad`` lists (left, right) pairs from the last
    dimension backwards, as in PyTorch."""
    check_tensors("pad", input=input)
    for position, width in enumerate(pad):
        if isinstance(width, Tensor):
            _check_width_tensor(width, position)
        elif isinstance(width, (bool, np.bool_)) or not isinstance(width, (int, np.integer)):
            raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, but "
                            f"found element of type {type(width).__name__} at pos {position}")
    pad = [int(width) for width in pad]
    ndim = input.dim()
    if len(pad) % 2 != 0:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) > 2 * ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{ndim}")
    shape = tuple(input.shape)
    pairs = [(ndim - 1 - number, pad[2 * number], pad[2 * number + 1])
             for number in range(len(pad) // 2)]
    if mode == "constant":
        for axis, left, right in pairs:
            if shape[axis] + left + right < 0:
                raise RuntimeError("narrow(): length must be non-negative.")
        fill = np.asarray(0 if value is None else value).astype(input._data.dtype)
    elif mode in _NON_CONSTANT_MODES:
        _check_non_constant(shape, pairs, mode, value, len(pad))
        fill = 0
    else:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    moved = [pair for pair in pairs if pair[1] != 0 or pair[2] != 0]
    border = None
    if mode == "constant" and moved:
        index_maps = None  # built from the widths only if a recorded backward needs them
        border = border_slices(shape, moved)
    else:
        index_maps = tuple((axis, index_map(shape[axis], left, right, mode))
                           for axis, left, right in moved)
    output = GatherAxes.apply(input, index_maps, fill, border)
    if mode == "constant":
        torch_named(output, "ConstantPadNdBackward0")
    elif mode in ("reflect", "replicate"):
        kind = "Reflection" if mode == "reflect" else "Replication"
        torch_named(output, f"{kind}Pad{len(pad) // 2}DBackward0")
    if mode in ("reflect", "replicate"):
        # PyTorch's reflection and replication pads have backward ops that keep the input
        return keep_input_in_gradient(output)
    return output


def _check_width_tensor(width, position):
    """A one-element integer tensor is a width, as PyTorch's int-list arguments take it
    (Pytorch-UNet pads by ``torch.tensor([diff]) // 2``); others are refused as PyTorch does."""
    data = width._data
    if data.size != 1 or data.dtype.kind not in "iub":
        raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, but found "
                        f"element of type Tensor at pos {position}")
    if data.dtype.kind == "b":
        raise RuntimeError("Expected scalar.isIntegral( false) to be true, but got false.  "
                           "(Could this error message be improved?  If so, please report an "
                           "enhancement request to PyTorch.)")


def _check_non_constant(shape, pairs, mode, value, pad_length):
    ndim = len(shape)
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if ndim not in (pad_length // 2 + 1, pad_length // 2 + 2) or pad_length > 6:
        raise NotImplementedError(f"Padding size {pad_length} is not supported for {ndim}D "
                                  f"input tensor.\n{_SUPPORTED_DIMS}")
    spatial = pad_length // 2
    if mode in ("reflect", "replicate") and 0 in shape[ndim - spatial - 1:]:
        # only a batch dim (one more than the channels and spatial dims) may be empty
        raise RuntimeError(f"Expected {spatial + 1}D or {spatial + 2}D (batch mode) tensor with "
                           f"possibly 0 batch size and other non-zero dimensions for input, but "
                           f"got: {list(shape)}")
    for number, (axis, left, right) in enumerate(pairs):
        if mode == "reflect" and (left >= shape[axis] or right >= shape[axis]):
            raise RuntimeError(f"Argument #{4 + 2 * number}: Padding size should be less than "
                               f"the corresponding input dimension, but got: padding ({left}, "
                               f"{right}) at dimension {axis} of input {list(shape)}")
        if mode == "circular":
            if left > shape[axis] or right > shape[axis]:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            if shape[axis] + min(left, 0) + min(right, 0) <= 0:
                raise RuntimeError("Negative padding value is resulting in an empty dimension")
