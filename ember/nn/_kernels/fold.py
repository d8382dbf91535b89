"""unfold (im2col) and fold (col2im), each the other's adjoint, over the 2-D kernel windows that
convolution uses (ember/ops/conv.py's strided-view helpers)."""
import math

from ..autograd.function import Op
from .conv import _col2im, _im2col, _interior, _pad


def _pair(value, name):
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name}: expected an int or a pair, got {value}")
        return tuple(int(item) for item in value)
    return (int(value), int(value))


def _blocks(spatial, kernel_size, dilation, padding, stride):
    """Number of sliding blocks along each spatial dimension."""
    return tuple((size + 2 * pad - gap * (kernel - 1) - 1) // jump + 1
                 for size, kernel, gap, pad, jump in zip(spatial, kernel_size, dilation, padding,
                                                         stride))


class Unfold(Op):
    """(N, C, H, W) -> (N, C * kh * kw, L): every kernel window as a column."""

    @staticmethod
    def forward(ctx, x, kernel_size, dilation, padding, stride, out_size):
        pairs = tuple((pad, pad) for pad in padding)
        padded = _pad(x, pairs)
        ctx.geometry = (x.shape, padded.shape, pairs, kernel_size, dilation, stride, out_size)
        return _im2col(padded, kernel_size, stride, dilation, out_size)

    @staticmethod
    def backward(ctx, grad):
        shape, padded_shape, pairs, kernel_size, dilation, stride, out_size = ctx.geometry
        columns = grad.reshape(shape[:2] + kernel_size + out_size)
        image = _col2im(columns, padded_shape, kernel_size, stride, dilation, out_size)
        return image[_interior(shape, pairs)], None, None, None, None, None


class Fold(Op):
    """(N, C * kh * kw, L) -> (N, C, H, W): columns summed back into their windows."""

    @staticmethod
    def forward(ctx, columns, output_size, kernel_size, dilation, padding, stride, blocks):
        batch = columns.shape[0]
        channels = columns.shape[1] // math.prod(kernel_size)
        pairs = tuple((pad, pad) for pad in padding)
        shape = (batch, channels) + output_size
        padded_shape = (batch, channels) + tuple(size + 2 * pad
                                                 for size, pad in zip(output_size, padding))
        ctx.geometry = (columns.shape, padded_shape, pairs, kernel_size, dilation, stride, blocks)
        grouped = columns.reshape((batch, channels) + kernel_size + blocks)
        image = _col2im(grouped, padded_shape, kernel_size, stride, dilation, blocks)
        return image[_interior(shape, pairs)].copy()

    @staticmethod
    def backward(ctx, grad):
        columns_shape, _, pairs, kernel_size, dilation, stride, blocks = ctx.geometry
        columns = _im2col(_pad(grad, pairs), kernel_size, stride, dilation, blocks)
        return columns.reshape(columns_shape), None, None, None, None, None, None


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding local blocks of a (N, C, H, W) or (C, H, W) input as columns (N, C*kh*kw, L)."""
    if input.dim() not in (3, 4):
        raise RuntimeError(f"Input Error: Only 3D or 4D input Tensors are supported (got "
                           f"{input.dim()}D)")
    kernel_size = _pair(kernel_size, "unfold")
    dilation = _pair(dilation, "unfold")
    padding = _pair(padding, "unfold")
    stride = _pair(stride, "unfold")
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    spatial = tuple(input.shape[2:])
    blocks = _blocks(spatial, kernel_size, dilation, padding, stride)
    if min(blocks) < 1:
        raise RuntimeError(f"Given input with spatial size {spatial}, kernel_size={kernel_size}, "
                           f"dilation={dilation}, padding={padding}, calculated shape of the "
                           f"array of sliding blocks as {blocks}, but its components must be at "
                           f"least one.")
    output = Unfold.apply(input, kernel_size, dilation, padding, stride, blocks)
    return output.squeeze(0) if unbatched else output


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum columns (N, C*kh*kw, L) or (C*kh*kw, L) back into an image of ``output_size``."""
    if input.dim() not in (2, 3):
        raise RuntimeError(f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 "
                           f"batch size and non-zero dimensions for input, but got: "
                           f"{list(input.shape)}")
    output_size = _pair(output_size, "fold")
    kernel_size = _pair(kernel_size, "fold")
    dilation = _pair(dilation, "fold")
    padding = _pair(padding, "fold")
    stride = _pair(stride, "fold")
    unbatched = input.dim() == 2
    if unbatched:
        input = input.unsqueeze(0)
    if input.shape[1] % math.prod(kernel_size) != 0:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={input.shape[1]} and "
                           f"kernel_size={kernel_size}.")
    blocks = _blocks(output_size, kernel_size, dilation, padding, stride)
    if input.shape[2] != math.prod(blocks):
        raise RuntimeError(f"Given output_size={output_size}, kernel_size={kernel_size}, "
                           f"dilation={dilation}, padding={padding}, stride={stride}, expected "
                           f"size of input's dimension 2 to match the calculated number of "
                           f"sliding blocks {blocks[0]} * {blocks[1]} = {math.prod(blocks)}, "
                           f"but got input.size(2)={input.shape[2]}.")
    output = Fold.apply(input, output_size, kernel_size, dilation, padding, stride, blocks)
    return output.squeeze(0) if unbatched else output
