"""BatchNorm1d/2d/3d: batch statistics in training, running statistics in eval (PyTorch's rules)."""
import numpy as np

from ... import _dtype, _factories
from ...autograd.function import refuse_captured_mutation
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from .. import functional as F
from .. import init
from .module import Module, _optional_parameter


def _add_affine(module, affine, bias, channels, dtype, device):
    """Per-channel weight and bias Parameters where ``affine`` (the bias only where ``bias`` too),
    else None, as the BatchNorms, InstanceNorms and GroupNorm have them."""
    _optional_parameter(module, "weight", affine, (channels,), dtype, device)
    _optional_parameter(module, "bias", affine and bias, (channels,), dtype, device)


def _reset_affine(module):
    """weight = 1 and bias = 0, each where the norm layer has it (PyTorch's default)."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _NormBase(Module):
    """Parameters, running-statistics buffers and checkpoint upgrade shared by the BatchNorms."""

    _version = 2  # version 2 added num_batches_tracked

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _add_affine(self, affine, bias, num_features, dtype, device)
        if track_running_stats:
            self.register_buffer("running_mean",
                                 _factories.zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var",
                                 _factories.ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked",
                                 _factories.tensor(0, dtype=_dtype.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        """running_mean = 0, running_var = 1, num_batches_tracked = 0 (when tracking)."""
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self):
        """Reset the running statistics, and weight to 1 and bias to 0."""
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input_dim(self, input):
        raise NotImplementedError

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        version = local_metadata.get("version", None)
        if (version is None or version < 2) and self.track_running_stats:
            # Checkpoints from before version 2 have no num_batches_tracked: keep the current count.
            key = prefix + "num_batches_tracked"
            if key not in state_dict:
                state_dict[key] = (self.num_batches_tracked.clone()
                                   if self.num_batches_tracked is not None
                                   else _factories.tensor(0, dtype=_dtype.int64))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


def _count_batch(counter):
    """``num_batches_tracked.add_(1)`` without recording: on the array itself (and its version)
    for a plain tensor, else through add_."""
    data = counter._data
    if (type(counter) is Tensor and type(data) is np.ndarray and data.ndim == 0
            and data.dtype == np.int64 and data.flags.writeable and not counter._is_inference):
        data += 1
        counter._bump_version()
        return
    with no_grad():
        counter.add_(1)


class _BatchNorm(_NormBase):
    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        counting = (self.training and self.track_running_stats
                    and self.num_batches_tracked is not None)
        if counting and self.momentum is None:
            factor = 1.0 / float(self.num_batches_tracked.item() + 1)
        # Batch statistics in training, and in eval when there are no running buffers at all.
        use_batch_statistics = self.training or (self.running_mean is None
                                                 and self.running_var is None)
        # Buffers are passed only when they are to be used or updated: a layer whose
        # track_running_stats was switched off after construction normalises with batch
        # statistics in training without touching its (stale) buffers, which eval still uses.
        pass_buffers = not self.training or self.track_running_stats
        if counting:
            refuse_captured_mutation(self.num_batches_tracked, "aten::add_.Tensor")
        output = self._batch_norm(input, self.running_mean if pass_buffers else None,
                                  self.running_var if pass_buffers else None,
                                  use_batch_statistics, factor)
        if counting:  # after the call, so that a refused input changes no buffer
            _count_batch(self.num_batches_tracked)
        return output

    def _batch_norm(self, input, running_mean, running_var, use_batch_statistics, momentum):
        """F.batch_norm with this layer's weight, bias and eps (SyncBatchNorm computes the
        training statistics over every rank here instead)."""
        return F.batch_norm(input, running_mean, running_var, self.weight, self.bias,
                            use_batch_statistics, momentum, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L), per channel C."""

    def _check_input_dim(self, input):
        if input.dim() != 2 and input.dim() != 3:
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W), per channel C."""

    def _check_input_dim(self, input):
        if input.dim() != 4:
            raise ValueError(f"expected 4D input (got {input.dim()}D input)")


class BatchNorm3d(_BatchNorm):
    """Batch normalisation over (N, C, D, H, W), per channel C."""

    def _check_input_dim(self, input):
        if input.dim() != 5:
            raise ValueError(f"expected 5D input (got {input.dim()}D input)")
