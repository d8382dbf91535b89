"""SyncBatchNorm: batch normalisation with statistics over the global batch of all ranks.

Training with more than one rank equals BatchNorm on the concatenation of the ranks' batches: one
all-reduce of per-channel [sum, sum of squares] and the count in forward, one all-reduce of
[sum of grad, sum of grad * x_hat] in backward. Evaluation, and a world of one, is plain BatchNorm.
"""
import numpy as np

from ..autograd.function import Op
from ..autograd.grad_mode import no_grad
from ..nn import functional as F
from ..nn.modules.batchnorm import _BatchNorm
from . import comm
from .comm import ReduceOp


def _channel_axes(array):
    return (0,) + tuple(range(2, array.ndim))


def _channel_shape(array):
    return (1, -1) + (1,) * (array.ndim - 2)


def _global_statistics(input_array, backend):
    """Per-channel mean, biased variance and element count over every rank's batch.

    The sums travel in float64: E[x^2] - E[x]^2 loses too much in float32.
    """
    axes = _channel_axes(input_array)
    channels = input_array.shape[1]
    packed = np.empty(2 * channels + 1, dtype=np.float64)
    packed[:channels] = input_array.sum(axis=axes, dtype=np.float64)
    rows = input_array.reshape(input_array.shape[0], channels, -1)
    packed[channels:2 * channels] = np.einsum("ncl,ncl->c", rows, rows, dtype=np.float64)
    packed[-1] = input_array.size // channels
    # Ranks with different channel counts fail the engine's cross-rank check with this label.
    backend.allreduce(packed, ReduceOp.SUM, label=f"SyncBatchNorm statistics, {channels} channels")
    count = packed[-1]
    mean = packed[:channels] / count
    variance = np.maximum(packed[channels:2 * channels] / count - mean * mean, 0.0)
    return mean, variance, int(count)


def _blend(buffer, batch_value, factor):
    """buffer <- (1 - factor) * buffer + factor * batch_value, in place, outside autograd."""
    target = buffer._data
    np.copyto(target, target * (1.0 - factor) + batch_value * factor, casting="unsafe")
    buffer._bump_version()


class _SyncBatchNormFunction(Op):
    """``(x - mean) * invstd * weight + bias`` with the global batch's ``mean`` and ``invstd``.

    Its own fused Function (memory and speed, as BatchNorm's) because backward needs the global
    per-channel sums of grad and grad * x_hat: one all-reduce in the middle of the formula. Weight
    and bias gradients stay local (DistributedDataParallel averages them). Saves the input and
    per-channel vectors, never a normalised copy.
    """

    @staticmethod
    def forward(ctx, input, weight, bias, mean, invstd, count, backend):
        shape = _channel_shape(input)
        scale = invstd if weight is None else invstd * weight
        output = input - mean.reshape(shape)
        output *= scale.reshape(shape)
        if bias is not None:
            output += bias.reshape(shape)
        needs_input, needs_weight = ctx.needs_input_grad[:2]
        if needs_input or needs_weight:
            ctx.save_for_backward(input, weight, mean, invstd)
        ctx.count = count
        ctx.backend = backend
        return output

    @staticmethod
    def backward(ctx, grad):
        input, weight, mean, invstd = ctx.saved_tensors
        needs_input, needs_weight, needs_bias = ctx.needs_input_grad[:3]
        batch, channels = input.shape[:2]
        shape = _channel_shape(input)
        grad_rows = grad.reshape(batch, channels, -1)
        centered = input - mean.reshape(shape)
        sums = np.empty(2 * channels, dtype=np.float64)
        sums[:channels] = grad_rows.sum(axis=2).sum(axis=0, dtype=np.float64)
        # sum(grad * (x - mean)) per channel; times invstd it is sum(grad * x_hat).
        sums[channels:] = np.einsum("ncl,ncl->nc", grad_rows,
                                    centered.reshape(batch, channels, -1)).sum(
            axis=0, dtype=np.float64) * invstd
        grad_weight = sums[channels:].astype(grad.dtype) if needs_weight else None
        grad_bias = sums[:channels].astype(grad.dtype) if needs_bias else None
        grad_input = None
        if needs_input:
            ctx.backend.allreduce(sums, ReduceOp.SUM,
                                  label=f"SyncBatchNorm gradient sums, {channels} channels")
            means = sums / ctx.count  # global mean of grad, and of grad * x_hat
            scale = invstd if weight is None else invstd * weight
            # dx = scale * (g - mean(g) - x_hat * mean(g * x_hat))
            coefficient = (scale * invstd * means[channels:]).astype(grad.dtype)
            grad_input = centered
            grad_input *= -coefficient.reshape(shape)
            grad_input += (-scale * means[:channels]).astype(grad.dtype).reshape(shape)
            grad_input += grad * scale.reshape(shape)
        return grad_input, grad_weight, grad_bias, None, None, None, None


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over N-D input whose training statistics span every rank's batch
    (``torch.nn.SyncBatchNorm``); ``convert_sync_batchnorm`` swaps it into an existing model."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None, *,
                 bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats,
                         device=device, dtype=dtype, bias=bias)
        if process_group is not None:
            raise ValueError("SyncBatchNorm: ember has only the default process group; pass "
                             "process_group=None")
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        if input.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.item())
        batch_statistics = self.training or (self.running_mean is None
                                             and self.running_var is None)
        running_mean = self.running_mean if not self.training or self.track_running_stats \
            else None
        running_var = self.running_var if not self.training or self.track_running_stats else None
        backend = comm._default_backend()
        if not (batch_statistics and self.training and backend is not None
                and backend.world_size > 1):
            return F.batch_norm(input, running_mean, running_var, self.weight, self.bias,
                                batch_statistics, factor, self.eps)
        mean, variance, count = _global_statistics(input._data, backend)
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {list(input.shape)} on each of {backend.world_size} ranks")
        if running_mean is not None:
            _blend(running_mean, mean, factor)
            _blend(running_var, variance * (count / (count - 1)), factor)
        dtype = input._data.dtype
        invstd = (1.0 / np.sqrt(variance + self.eps)).astype(dtype)
        return _SyncBatchNormFunction.apply(input, self.weight, self.bias, mean.astype(dtype),
                                            invstd, count, backend)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Return ``module`` with every BatchNorm*d replaced by a SyncBatchNorm sharing its
        parameters, buffers and training flag (a new SyncBatchNorm when ``module`` is one)."""
        converted = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group,
                            bias=module.bias is not None)
            if module.affine:
                converted.weight = module.weight
                converted.bias = module.bias
            converted.running_mean = module.running_mean
            converted.running_var = module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
            converted.training = module.training
        for name, child in module.named_children():
            converted.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return converted
