"""Lazy layers: LazyLinear, LazyConv*, LazyConvTranspose*, LazyBatchNorm*, LazyInstanceNorm*.
Their input size (in_features, in_channels, num_features) is read from the first input; until
then their weights are UninitializedParameters. After that first call (or a load_state_dict that
gives the shapes) each becomes the plain layer it stands for (``cls_to_become``)."""
from ... import _dtype, _factories
from ...autograd.grad_mode import no_grad
from ..parameter import UninitializedBuffer, UninitializedParameter
from .batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from .conv import (
    Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)
from .linear import Linear
from .normalization import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d

__all__ = ["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConv1d", "LazyConv2d",
           "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
           "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d", "LazyLinear",
           "LazyModuleMixin"]


def _uninitialized(tensor):
    return isinstance(tensor, (UninitializedParameter, UninitializedBuffer))


class LazyModuleMixin:
    """Infers the shapes of uninitialized parameters and buffers from the first input (a
    forward pre-hook calling ``initialize_parameters``), then turns the module into
    ``cls_to_become``."""

    cls_to_become = None

    def _start_lazy(self):
        """Call at the end of a lazy layer's constructor."""
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters,
                                                               with_kwargs=True)

    def has_uninitialized_params(self):
        tensors = list(self._parameters.values()) + list(self._buffers.values())
        return any(_uninitialized(tensor) for tensor in tensors)

    def reset_parameters(self):
        # During the plain layer's constructor (sizes 0) and before the shapes are known there
        # is nothing to initialise.
        if "_parameters" in self.__dict__ and not self.has_uninitialized_params() and \
                self._inferred_size() != 0:
            super().reset_parameters()

    def _infer_parameters(self, module, args, kwargs=None):
        with no_grad():
            self.initialize_parameters(*args, **(kwargs or {}))
        if self.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        self._become()

    def _become(self):
        self._initialize_hook.remove()
        del self._initialize_hook
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # A checkpoint gives the shapes: the tensors take them, then load as usual.
        for table in (self._parameters, self._buffers):
            for name, tensor in table.items():
                key = prefix + name
                if _uninitialized(tensor) and key in state_dict:
                    tensor.materialize(tuple(state_dict[key].shape))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
        if not self.has_uninitialized_params() and "_initialize_hook" in self.__dict__:
            self._set_inferred_size()
            self._become()


class LazyLinear(LazyModuleMixin, Linear):
    """Linear whose in_features is the last size of its first input."""

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, 0, False, device, dtype)
        self.weight = UninitializedParameter(dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(dtype=dtype)
        self._start_lazy()

    def _inferred_size(self):
        return self.in_features

    def _set_inferred_size(self):
        self.in_features = self.weight.shape[1]

    def initialize_parameters(self, input):
        if self.has_uninitialized_params():
            self.in_features = input.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()


class _LazyConvMixin(LazyModuleMixin):
    """in_channels from the first input's channel dim (dim 1, or 0 when unbatched)."""

    def _inferred_size(self):
        return self.in_channels

    def _set_inferred_size(self):
        axis = 0 if self.transposed else 1
        self.in_channels = self.weight.shape[axis] * (self.groups if not self.transposed else 1)

    def initialize_parameters(self, input, *args, **kwargs):
        if not self.has_uninitialized_params():
            return
        unbatched = input.dim() == self._spatial_dims + 1
        self.in_channels = input.shape[0 if unbatched else 1]
        if self.in_channels % self.groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if self.transposed:
            shape = (self.in_channels, self.out_channels // self.groups)
        else:
            shape = (self.out_channels, self.in_channels // self.groups)
        self.weight.materialize(shape + tuple(self.kernel_size))
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()


def _lazy_conv(base, transposed):
    """The lazy form of a convolution class: ``Lazy<base>(out_channels, kernel_size, ...)``."""
    if transposed:
        def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                     groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                     dtype=None):
            base.__init__(self, 0, 0, kernel_size, stride, padding, output_padding, groups,
                          False, dilation, padding_mode, device, dtype)
            _lazy_conv_parameters(self, out_channels, bias, dtype)
    else:
        def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                     bias=True, padding_mode="zeros", device=None, dtype=None):
            base.__init__(self, 0, 0, kernel_size, stride, padding, dilation, groups, False,
                          padding_mode, device, dtype)
            _lazy_conv_parameters(self, out_channels, bias, dtype)
    return _lazy_class(base, _LazyConvMixin, __init__, "in_channels")


def _lazy_class(base, mixin, __init__, inferred):
    """The class ``Lazy<base>``: ``mixin`` before ``base``, becoming ``base`` once ``inferred``
    is known."""
    name = "Lazy" + base.__name__
    lazy = type(name, (mixin, base), {
        "__init__": __init__, "cls_to_become": base, "__module__": __name__,
        "__doc__": f"{base.__name__} whose {inferred} is read from the first input."})
    lazy.__qualname__ = name
    return lazy


def _lazy_conv_parameters(module, out_channels, bias, dtype):
    module.weight = UninitializedParameter(dtype=dtype)
    module.out_channels = out_channels
    if bias:
        module.bias = UninitializedParameter(dtype=dtype)
    module._start_lazy()


LazyConv1d = _lazy_conv(Conv1d, False)
LazyConv2d = _lazy_conv(Conv2d, False)
LazyConv3d = _lazy_conv(Conv3d, False)
LazyConvTranspose1d = _lazy_conv(ConvTranspose1d, True)
LazyConvTranspose2d = _lazy_conv(ConvTranspose2d, True)
LazyConvTranspose3d = _lazy_conv(ConvTranspose3d, True)


class _LazyNormMixin(LazyModuleMixin):
    """num_features from the first input's channel dim; the running statistics are
    uninitialized buffers until then."""

    def _inferred_size(self):
        return self.num_features

    def _set_inferred_size(self):
        found = self.weight if self.weight is not None else self.running_mean
        self.num_features = found.shape[0]

    def initialize_parameters(self, input):
        if not self.has_uninitialized_params():
            return
        unbatched = input.dim() == self._get_no_batch_dim() \
            if hasattr(self, "_get_no_batch_dim") else False
        self.num_features = input.shape[0 if unbatched else 1]
        for tensor in (self.weight, self.bias, self.running_mean, self.running_var):
            if tensor is not None and _uninitialized(tensor):
                tensor.materialize((self.num_features,))
        self.reset_parameters()


def _lazy_norm(base):
    """The lazy form of a norm layer; as PyTorch's, affine and tracking by default (the
    instance norms too)."""
    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None):
        base.__init__(self, 0, eps, momentum, False, False, device, dtype)
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = UninitializedParameter(dtype=dtype)
            self.bias = UninitializedParameter(dtype=dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(dtype=dtype)
            self.running_var = UninitializedBuffer(dtype=dtype)
            self.num_batches_tracked = _factories.tensor(0, dtype=_dtype.int64)
        self._start_lazy()
    return _lazy_class(base, _LazyNormMixin, __init__, "num_features")


LazyBatchNorm1d = _lazy_norm(BatchNorm1d)
LazyBatchNorm2d = _lazy_norm(BatchNorm2d)
LazyBatchNorm3d = _lazy_norm(BatchNorm3d)
LazyInstanceNorm1d = _lazy_norm(InstanceNorm1d)
LazyInstanceNorm2d = _lazy_norm(InstanceNorm2d)
LazyInstanceNorm3d = _lazy_norm(InstanceNorm3d)
