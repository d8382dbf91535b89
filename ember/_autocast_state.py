"""The autocast state (per thread and asyncio task, per device type) and the one table of the ops
that autocast casts. ``ember.amp`` holds the switches; the ops of ``AUTOCAST_POLICY`` read it."""
import contextvars
from collections import namedtuple

from ._dtype import bfloat16, float16

# PyTorch's CPU autocast lists (the "CPU Ops that can autocast to bfloat16/float32" of its AMP
# documentation), restricted to the ops ember has. "lower": floating inputs other than float64
# are cast to the autocast dtype; "float32": lower-precision floating inputs are cast to float32;
# "kernel": inputs as given, for ember composites of ops that PyTorch computes in one kernel
# outside the lists (bilinear, GRU): the matmuls inside must not be cast. Each op carries
# ``@autocast_op(name)``, and runs its body with autocast off, as PyTorch runs a cast op's kernel.
# Every other op runs in the dtype it is given.
LOWER_PRECISION = "lower"
FLOAT32 = "float32"
KERNEL = "kernel"
AUTOCAST_POLICY = {
    **dict.fromkeys((
        "addbmm", "addmm", "baddbmm", "bmm", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
        "conv_transpose2d", "conv_transpose3d", "linear", "matmul", "mm", "prelu",
        "scaled_dot_product_attention", "vecdot"), LOWER_PRECISION),
    **dict.fromkeys((
        "avg_pool3d", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cdist",
        "cosine_embedding_loss", "cross_entropy", "hinge_embedding_loss", "huber_loss", "kl_div",
        "l1_loss", "margin_ranking_loss", "max_pool3d", "mse_loss", "multi_margin_loss",
        "multilabel_margin_loss", "nll_loss", "poisson_nll_loss", "prod", "smooth_l1_loss",
        "soft_margin_loss", "trace", "triplet_margin_loss", "adaptive_avg_pool3d", "ctc_loss"),
        FLOAT32),
    **dict.fromkeys(("adaptive_avg_pool1d", "adaptive_avg_pool2d", "bilinear", "gru"), KERNEL),
}

# get_autocast_dtype's answer for a device type whose dtype was never set, as in PyTorch.
DEFAULT_DTYPES = {
    "cpu": bfloat16, "cuda": float16, "hpu": bfloat16, "ipu": float16, "maia": bfloat16,
    "mps": float16, "mtia": float16, "privateuseone": float16, "xla": bfloat16, "xpu": float16,
}


class AutocastState(namedtuple("AutocastState", ["enabled", "dtypes", "cache_enabled"])):
    """``enabled``: the device types with autocast on (a frozenset); ``dtypes``: the dtype set
    per device type (a dict, replaced and never mutated); ``cache_enabled``: PyTorch's weight-cast
    cache flag (ember casts afresh each time, the values are the same)."""

    __slots__ = ()


# A ContextVar, so a new thread starts with autocast off and every asyncio task has its own copy.
_autocast_state = contextvars.ContextVar(
    "_autocast_state", default=AutocastState(frozenset(), {}, True))
