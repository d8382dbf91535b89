"""``LinearCrossEntropyOptions``: PyTorch 2.13's settings for chunking linear_cross_entropy's
batch. ember checks and resolves them as PyTorch does (the same errors, chunk sizes and policies);
its computation is the reference one, whose values the chunked path reproduces."""
import dataclasses

from ..._dtype import bfloat16, float16, float32, float64

__all__ = ["LinearCrossEntropyOptions"]

# The "auto" picks of PyTorch by (device type, input dtype), and the pick for the others.
_AUTO_DEFAULTS = {("cuda", bfloat16): ("compact", "aspect_ratio:2"),
                  ("cuda", float16): ("compact", "aspect_ratio:2"),
                  ("cpu", bfloat16): ("accurate", "aspect_ratio"),
                  ("cpu", float16): ("accurate", "aspect_ratio")}
_AUTO_FALLBACK = ("compact", "aspect_ratio:2")
_ACC_DTYPES = (float16, bfloat16, float32, float64)


@dataclasses.dataclass(slots=True, frozen=True)
class LinearCrossEntropyOptions:
    """How linear_cross_entropy chunks its batch: ``batch_chunk_size`` rows per chunk, or a
    ``chunking_method`` ("auto", "aspect_ratio[:N]") that picks it; ``acc_policy`` and
    ``acc_dtype`` the precision of the accumulations; ``allow_retain_graph`` a second
    backward."""

    allow_retain_graph: bool = False
    batch_chunk_size: int = None
    chunking_method: str = "auto"
    acc_policy: str = "auto"
    acc_dtype: object = None

    def __post_init__(self):
        if self.acc_policy not in {"auto", "accurate", "balanced", "compact"}:
            raise ValueError(f"invalid acc_policy: {self.acc_policy!r}")
        if self.chunking_method is not None and self.chunking_method != "auto":
            name, separator, factor = self.chunking_method.partition(":")
            if not separator:
                factor = "1"
            if not (name == "aspect_ratio" and factor.isdigit() and int(factor) > 0):
                raise ValueError(f"invalid chunking_method: {self.chunking_method!r}")
        if not (self.batch_chunk_size is None or (isinstance(self.batch_chunk_size, int)
                                                  and self.batch_chunk_size > 0)):
            raise ValueError(f"batch_chunk_size must be positive int or None, got "
                             f"{self.batch_chunk_size!r}")
        if self.acc_dtype is not None and self.acc_dtype not in _ACC_DTYPES:
            raise ValueError(f"acc_dtype must be one of {{None, torch.float16, torch.bfloat16, "
                             f"torch.float32, torch.float64}}, got {self.acc_dtype!r}. Pass "
                             f"acc_dtype=None to let the op pick automatically.")

    @staticmethod
    def _compute_chunk(num_batches, in_features, num_classes, method):
        """The rows per chunk of ``method``: chunks whose (rows, classes) logits are about the
        size of the (batch, in_features) input, divided by the method's factor."""
        factor = int(method.split(":", 1)[1]) if ":" in method else 1
        target = -(-num_batches // -(-num_classes // in_features))
        chunk = 1 << (target - 1).bit_length()  # the next power of 2 >= target
        return min(chunk // factor, num_batches)

    def _adjust(self, num_batches, in_features, num_classes, dtype, device=None):
        """These options resolved for one call: "auto" picks, the chunk size, the accumulation
        dtype (float32 for half-precision inputs on the CPU under "auto")."""
        acc_policy, chunking_method = self.acc_policy, self.chunking_method
        if chunking_method == "auto" and self.batch_chunk_size is not None:
            chunking_method = None
        if acc_policy == "auto" or chunking_method == "auto":
            picks = (_AUTO_DEFAULTS.get((device.type, dtype), _AUTO_FALLBACK)
                     if device is not None else _AUTO_FALLBACK)
            acc_policy = picks[0] if acc_policy == "auto" else acc_policy
            chunking_method = picks[1] if chunking_method == "auto" else chunking_method
        chunk = (num_batches if self.batch_chunk_size is None
                 else min(self.batch_chunk_size, num_batches))
        if chunking_method is not None:
            chunk = self._compute_chunk(num_batches, in_features, num_classes, chunking_method)
            if self.batch_chunk_size is not None and self.batch_chunk_size != chunk:
                raise ValueError(f"batch_chunk_size (={self.batch_chunk_size}) and "
                                 f"chunking_method ('{chunking_method}') give different chunk "
                                 f"sizes ({self.batch_chunk_size} vs {chunk}); pass only one.")
        acc_dtype = self.acc_dtype
        if acc_dtype is None:
            half = dtype in (float16, bfloat16) and device is not None and device.type == "cpu"
            acc_dtype = float32 if self.acc_policy == "auto" and half else dtype
        return dataclasses.replace(self, acc_policy=acc_policy, chunking_method=chunking_method,
                                   batch_chunk_size=max(1, chunk), acc_dtype=acc_dtype)
