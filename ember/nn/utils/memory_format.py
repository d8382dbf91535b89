"""Converting the weights of convolution layers to a memory format (channels_last), as
torch.nn.utils.memory_format does before running a model in that format."""
from ..modules.conv import Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def _converted(module, memory_format, kinds):
    if isinstance(module, kinds):
        module.weight.data = module.weight.detach().clone().contiguous(
            memory_format=memory_format)
    for child in module.children():
        _converted(child, memory_format, kinds)
    return module


def convert_conv2d_weight_memory_format(module, memory_format):
    """Lay out the weight of every Conv2d and ConvTranspose2d in ``module`` (recursively) in
    ``memory_format``; returns ``module``."""
    return _converted(module, memory_format, (Conv2d, ConvTranspose2d))


def convert_conv3d_weight_memory_format(module, memory_format):
    """``convert_conv2d_weight_memory_format`` for Conv3d and ConvTranspose3d."""
    return _converted(module, memory_format, (Conv3d, ConvTranspose3d))
