"""``torch.nn.attention.bias``: causal masks for ``scaled_dot_product_attention`` whose diagonal
is aligned to the upper-left or the lower-right corner when queries and keys differ in length
(decoding with a cache uses the lower-right one)."""
import enum

import numpy as np

from ...tensor import Tensor, _init

__all__ = ["CausalBias", "CausalVariant", "causal_lower_right", "causal_upper_left"]


class CausalVariant(enum.IntEnum):
    """Where the causal diagonal starts: the mask's upper-left or lower-right corner."""

    UPPER_LEFT = 1
    LOWER_RIGHT = 2


class CausalBias(Tensor):
    """The boolean mask of one causal variant (True where a query may attend), with the variant
    and lengths it was made from; ``scaled_dot_product_attention`` takes it as ``attn_mask``."""

    __slots__ = ("variant", "seq_len_q", "seq_len_kv")

    def __init__(self, variant, seq_len_q, seq_len_kv):
        if not isinstance(variant, CausalVariant):
            raise AssertionError(f"variant must be a CausalVariant, got {variant!r}")
        offset = 0 if variant == CausalVariant.UPPER_LEFT else seq_len_kv - seq_len_q
        _init(self, np.tri(seq_len_q, seq_len_kv, offset, dtype=np.bool_))
        self.variant = variant
        self.seq_len_q = seq_len_q
        self.seq_len_kv = seq_len_kv

    def _materialize(self, device=None):
        """The mask as a plain boolean tensor."""
        return Tensor._wrap(self._data.copy())


def causal_upper_left(*size):
    """The causal mask of ``size`` = (queries, keys) aligned to the upper-left corner."""
    if len(size) != 2:
        raise AssertionError("causal_upper_left only supports 2D tensors")
    return CausalBias(CausalVariant.UPPER_LEFT, size[0], size[1])


def causal_lower_right(*size):
    """The causal mask of ``size`` = (queries, keys) aligned to the lower-right corner."""
    if len(size) != 2:
        raise AssertionError("causal_lower_right only supports 2D tensors")
    return CausalBias(CausalVariant.LOWER_RIGHT, size[0], size[1])
