"""SyncBatchNorm: batch normalisation with statistics over the global batch of all ranks.

Training with more than one rank equals BatchNorm on the concatenation of the ranks' batches: it
runs BatchNorm's own kernel with an all-reduce as the kernel's reduce hook, so there is one
all-reduce of per-channel [sum, sum of squares] and the count in forward and one of [sum of grad,
sum of grad * (x - mean)] in backward. Evaluation, and a world of one, is plain BatchNorm.
"""
from ..nn._kernels.normalization import apply_batch_norm
from ..nn.modules.batchnorm import _BatchNorm
from . import comm
from .comm import ReduceOp


class _SumOverRanks:
    """The BatchNorm kernel's reduce hook: sums a float64 array in place over every rank."""

    def __init__(self, backend):
        self.backend = backend
        self.world_size = backend.world_size

    def __call__(self, array, what):
        # Ranks with different channel counts fail the engine's cross-rank check with this label.
        self.backend.allreduce(array, ReduceOp.SUM, label=f"SyncBatchNorm {what}")


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
        if input.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")

    def _batch_norm(self, input, running_mean, running_var, use_batch_statistics, momentum):
        backend = comm._default_backend()
        if not (self.training and backend is not None and backend.world_size > 1):
            return super()._batch_norm(input, running_mean, running_var, use_batch_statistics,
                                       momentum)
        return apply_batch_norm(input, running_mean, running_var, self.weight, self.bias, True,
                                momentum, self.eps, reduce=_SumOverRanks(backend))

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
