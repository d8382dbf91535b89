"""torchvision.ops.drop_block2d/3d: DropBlock (Ghiasi et al.), dropping contiguous square (cubic)
regions of feature maps rather than single units, rescaled to keep the mean."""
from ... import nn
from ..._factories import empty
from ...nn import functional as F

__all__ = ["DropBlock2d", "DropBlock3d", "drop_block2d", "drop_block3d"]


def _drop_block(input, p, block_size, inplace, eps, training, spatial):
    """Block centres drawn Bernoulli(gamma) over the positions a whole block fits, grown into
    blocks by a stride-1 max pool; gamma makes the expected dropped share p."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}.")
    if input.ndim != spatial + 2:
        raise ValueError(f"input should be {spatial + 2} dimensional. Got {input.ndim} "
                         f"dimensions.")
    if not training or p == 0.0:
        return input
    sizes = input.shape[2:]
    block_size = min(block_size, *sizes)
    if block_size % 2 == 0:
        raise ValueError(f"block size should be odd. Got {block_size} which is even.")
    area = 1
    fits = 1
    for size in sizes:
        area *= size
        fits *= size - block_size + 1
    gamma = (p * area) / ((block_size ** spatial) * fits)
    noise = empty(tuple(input.shape[:2]) + tuple(size - block_size + 1 for size in sizes),
                  dtype=input.dtype).bernoulli_(gamma)
    noise = F.pad(noise, [block_size // 2] * (2 * spatial), value=0)
    pool = F.max_pool2d if spatial == 2 else F.max_pool3d
    noise = pool(noise, stride=(1,) * spatial, kernel_size=(block_size,) * spatial,
                 padding=block_size // 2)
    noise = 1 - noise
    scale = noise.numel() / (eps + noise.sum())
    if inplace:
        return input.mul_(noise).mul_(scale)
    return input * noise * scale


def drop_block2d(input, p, block_size, inplace=False, eps=1e-06, training=True):
    """DropBlock over the last two dims of an (N, C, H, W) input."""
    return _drop_block(input, p, block_size, inplace, eps, training, 2)


def drop_block3d(input, p, block_size, inplace=False, eps=1e-06, training=True):
    """DropBlock over the last three dims of an (N, C, D, H, W) input."""
    return _drop_block(input, p, block_size, inplace, eps, training, 3)


class DropBlock2d(nn.Module):
    """The module form of ``drop_block2d``, active in training mode."""

    def __init__(self, p, block_size, inplace=False, eps=1e-06):
        super().__init__()
        self.p = p
        self.block_size = block_size
        self.inplace = inplace
        self.eps = eps

    def forward(self, input):
        return drop_block2d(input, self.p, self.block_size, self.inplace, self.eps, self.training)

    def __repr__(self):
        return (f"{type(self).__name__}(p={self.p}, block_size={self.block_size}, "
                f"inplace={self.inplace})")


class DropBlock3d(DropBlock2d):
    """The module form of ``drop_block3d``."""

    def forward(self, input):
        return drop_block3d(input, self.p, self.block_size, self.inplace, self.eps, self.training)
