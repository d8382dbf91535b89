"""``torch.nn.grad``: the gradients of a convolution with respect to its input and its weight as
functions of their own (for custom autograd Functions that fuse a convolution with what follows
it). Each is the convolution's own backward kernel, recorded, so it is differentiable too."""
from ._kernels.conv import ConvTransposeNd, ConvWeightGrad, Geometry
from .functional._conv import _tuple

__all__ = ["conv1d_input", "conv1d_weight", "conv2d_input", "conv2d_weight", "conv3d_input",
           "conv3d_weight"]


def _geometry(input_size, kernel_size, grad_output, stride, padding, dilation, groups, dims,
              operation):
    """The Geometry of the convolution whose output gradient is ``grad_output``, checked
    against the output size that input size, kernel and options give."""
    spatial = tuple(int(size) for size in tuple(input_size)[2:])
    kernel = tuple(int(size) for size in tuple(kernel_size)[2:])
    stride = _tuple(stride, dims, "stride")
    padding = _tuple(padding, dims, "padding")
    dilation = _tuple(dilation, dims, "dilation")
    if len(spatial) != dims or len(kernel) != dims or grad_output.ndim != dims + 2:
        raise RuntimeError(f"{operation}: expected {dims + 2}-D input size, weight and "
                           f"grad_output, got input size {list(input_size)}, weight size "
                           f"{list(kernel_size)} and grad_output of size "
                           f"{list(grad_output.shape)}")
    out_size = tuple((size + 2 * pad - gap * (extent - 1) - 1) // jump + 1
                     for size, extent, jump, pad, gap in zip(spatial, kernel, stride, padding,
                                                             dilation))
    if tuple(grad_output.shape[2:]) != out_size:
        raise RuntimeError(f"{operation}: grad_output of size {list(grad_output.shape)} does not "
                           f"match the convolution's output size "
                           f"{list(grad_output.shape[:2]) + list(out_size)}")
    return Geometry(spatial, kernel, stride, tuple((pad, pad) for pad in padding), dilation,
                    groups, out_size)


def _input_gradient(input_size, weight, grad_output, stride, padding, dilation, groups, dims):
    operation = f"conv{dims}d_input"
    geometry = _geometry(input_size, weight.shape, grad_output, stride, padding, dilation,
                         groups, dims, operation)
    return ConvTransposeNd.apply(grad_output, weight, None, geometry)


def _weight_gradient(input, weight_size, grad_output, stride, padding, dilation, groups, dims):
    operation = f"conv{dims}d_weight"
    geometry = _geometry(input.shape, weight_size, grad_output, stride, padding, dilation,
                         groups, dims, operation)
    return ConvWeightGrad.apply(input, grad_output, geometry)


def conv1d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of conv1d with respect to an input of ``input_size``."""
    return _input_gradient(input_size, weight, grad_output, stride, padding, dilation, groups, 1)


def conv1d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of conv1d with respect to a weight of ``weight_size``."""
    return _weight_gradient(input, weight_size, grad_output, stride, padding, dilation, groups, 1)


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of conv2d with respect to an input of ``input_size``."""
    return _input_gradient(input_size, weight, grad_output, stride, padding, dilation, groups, 2)


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of conv2d with respect to a weight of ``weight_size``."""
    return _weight_gradient(input, weight_size, grad_output, stride, padding, dilation, groups, 2)


def conv3d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of conv3d with respect to an input of ``input_size``."""
    return _input_gradient(input_size, weight, grad_output, stride, padding, dilation, groups, 3)


def conv3d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of conv3d with respect to a weight of ``weight_size``."""
    return _weight_gradient(input, weight_size, grad_output, stride, padding, dilation, groups, 3)
