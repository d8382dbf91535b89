"""``torch.nn.attention.flex_attention``: attention whose scores a user function edits
(``score_mod``) and whose pattern a boolean function selects (``mask_mod``, held by a
``BlockMask``). ember computes it as PyTorch's eager reference does: the full score matrix, the
functions applied to it at once, a softmax that gives zero to rows with no visible key.

PyTorch maps each function over the batch, head, query and key indices with vmap; ember calls it
once with index tensors shaped to broadcast against the scores ((B,1,1,1), (1,H,1,1), (1,1,L,1),
(1,1,1,S)), which gives the same values for the elementwise and indexing code these functions
hold, and carries gradients into tensors they capture.
"""
import inspect
import itertools
import math
import warnings
from typing import NamedTuple

import numpy as np

from ... import _factories
from ..._dtype import bool_ as bool_dtype, float32, float64
from ...ops import logsumexp, matmul, repeat_interleave, softmax, where
from ...tensor import Tensor

__all__ = ["AuxOutput", "AuxRequest", "BlockMask", "and_masks", "create_block_mask", "create_mask",
           "flex_attention", "noop_mask", "or_masks"]

_DEFAULT_SPARSE_BLOCK_SIZE = 128


class AuxRequest(NamedTuple):
    """Which extra outputs ``flex_attention(..., return_aux=...)`` returns."""

    lse: bool = False
    max_scores: bool = False


class AuxOutput(NamedTuple):
    """The extra outputs asked for by an AuxRequest (None where not asked)."""

    lse: Tensor = None
    max_scores: Tensor = None


def noop_mask(batch, head, token_q, token_kv):
    """The mask_mod that keeps every score."""
    return batch.new_ones(size=(), dtype=bool_dtype)


def _identity(score, batch, head, token_q, token_kv):
    return score


def or_masks(*mask_mods):
    """The mask_mod that keeps a score where any of ``mask_mods`` keeps it."""
    if not all(callable(mask_mod) for mask_mod in mask_mods):
        raise RuntimeError(f"All inputs should be callable mask_mods: {mask_mods}")

    def or_mask(batch, head, token_q, token_kv):
        result = batch.new_zeros((), dtype=bool_dtype)
        for mask_mod in mask_mods:
            result = result | mask_mod(batch, head, token_q, token_kv)
        return result
    return or_mask


def and_masks(*mask_mods):
    """The mask_mod that keeps a score where all of ``mask_mods`` keep it."""
    if not all(callable(mask_mod) for mask_mod in mask_mods):
        raise RuntimeError(f"All inputs should be callable mask_mods: {mask_mods}")

    def and_mask(batch, head, token_q, token_kv):
        result = batch.new_ones((), dtype=bool_dtype)
        for mask_mod in mask_mods:
            result = result & mask_mod(batch, head, token_q, token_kv)
        return result
    return and_mask


def _is_score_mod(function):
    """PyTorch tells the two kinds apart by their positional parameters without defaults:
    five for a score_mod (score, b, h, q_idx, kv_idx), four for a mask_mod."""
    parameters = inspect.signature(function).parameters.values()
    required = [parameter for parameter in parameters
                if parameter.default is inspect.Parameter.empty
                and parameter.kind in (inspect.Parameter.POSITIONAL_ONLY,
                                       inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    return len(required) == 5


def _indices(batch, heads, q_len, kv_len):
    """The batch, head, query and key indices, each shaped to broadcast against the scores."""
    return (_factories.arange(batch).reshape(batch, 1, 1, 1),
            _factories.arange(heads).reshape(1, heads, 1, 1),
            _factories.arange(q_len).reshape(1, 1, q_len, 1),
            _factories.arange(kv_len).reshape(1, 1, 1, kv_len))


def create_mask(mod_fn, B, H, Q_LEN, KV_LEN, device=None):
    """The dense (B, H, Q_LEN, KV_LEN) bool mask of a mask_mod, or of a score_mod (True where
    it leaves the score finite)."""
    B = 1 if B is None else B
    H = 1 if H is None else H
    indices = _indices(B, H, Q_LEN, KV_LEN)
    if _is_score_mod(mod_fn):
        scores = mod_fn(_factories.zeros(B, H, Q_LEN, KV_LEN), *indices)
        mask = ~scores.isneginf()
    else:
        mask = _as_tensor(mod_fn(*indices))
    return mask.expand(B, H, Q_LEN, KV_LEN).contiguous()


def _as_tensor(value):
    return value if isinstance(value, Tensor) else _factories.tensor(value)


def _ordered(dense_blocks):
    """Per row of blocks: how many are set, and their column indices first (stable order)."""
    counts = dense_blocks.sum(axis=-1).astype(np.int32)
    order = np.argsort(-dense_blocks, axis=-1, kind="stable").astype(np.int32)
    return Tensor._wrap(counts), Tensor._wrap(order)


def _dense(counts, indices, columns):
    """The 0/1 int32 block matrix of ordered (counts, indices)."""
    counts, indices = counts._data, indices._data
    dense = np.zeros(indices.shape[:-1] + (columns,), dtype=np.int32)
    valid = np.arange(indices.shape[-1]) < counts[..., None]
    positions = np.nonzero(valid)
    dense[positions[:-1] + (indices[positions],)] = 1
    return dense


class BlockMask:
    """Which (Q_BLOCK_SIZE x KV_BLOCK_SIZE) tiles of the scores take part (partly or fully),
    with the mask_mod that decides each score inside them. ember's computation reads only
    ``mask_mod``; the block tables describe the pattern as PyTorch's kernels would see it."""

    def __init__(self, seq_lengths, kv_num_blocks, kv_indices, full_kv_num_blocks,
                 full_kv_indices, q_num_blocks, q_indices, full_q_num_blocks, full_q_indices,
                 BLOCK_SIZE, mask_mod):
        self.seq_lengths = tuple(seq_lengths)
        self.kv_num_blocks = kv_num_blocks
        self.kv_indices = kv_indices
        self.full_kv_num_blocks = full_kv_num_blocks
        self.full_kv_indices = full_kv_indices
        self.q_num_blocks = q_num_blocks
        self.q_indices = q_indices
        self.full_q_num_blocks = full_q_num_blocks
        self.full_q_indices = full_q_indices
        self.BLOCK_SIZE = tuple(BLOCK_SIZE)
        self.mask_mod = mask_mod

    @classmethod
    def from_kv_blocks(cls, kv_num_blocks, kv_indices, full_kv_num_blocks=None,
                       full_kv_indices=None, BLOCK_SIZE=_DEFAULT_SPARSE_BLOCK_SIZE,
                       mask_mod=None, seq_lengths=None, compute_q_blocks=True):
        """A BlockMask from its key-side tables; the query-side ones are their transpose."""
        if kv_indices.dim() < 2:
            raise RuntimeError("BlockMask must have at least 2 dimensions")
        if (full_kv_num_blocks is None) != (full_kv_indices is None):
            raise AssertionError("full_kv_num_blocks and full_kv_indices must be both provided "
                                 "or omitted")
        q_tables = (None, None)
        full_q_tables = (None, None)
        if compute_q_blocks:
            q_tables = _transposed(kv_num_blocks, kv_indices)
            if full_kv_num_blocks is not None:
                full_q_tables = _transposed(full_kv_num_blocks, full_kv_indices)
        if isinstance(BLOCK_SIZE, int):
            BLOCK_SIZE = (BLOCK_SIZE, BLOCK_SIZE)
        if seq_lengths is None:
            seq_lengths = (kv_indices.shape[-2] * BLOCK_SIZE[0],
                           kv_indices.shape[-1] * BLOCK_SIZE[1])
        return cls(seq_lengths, kv_num_blocks, kv_indices, full_kv_num_blocks, full_kv_indices,
                   *q_tables, *full_q_tables, BLOCK_SIZE,
                   noop_mask if mask_mod is None else mask_mod)

    @property
    def shape(self):
        return tuple(self.kv_indices.shape[:-2]) + self.seq_lengths

    def numel(self):
        """The number of scores the mask covers (sparsity not counted)."""
        return math.prod(self.shape)

    def sparsity(self):
        """The percentage of the scores in blocks that are skipped."""
        computed = int(self.kv_num_blocks._data.sum())
        if self.full_kv_num_blocks is not None:
            computed += int(self.full_kv_num_blocks._data.sum())
        computed_size = computed * self.BLOCK_SIZE[0] * self.BLOCK_SIZE[1]
        return 100 * (1 - computed_size / self.numel())

    def to_dense(self):
        """The int32 block matrix: 1 where a block takes part."""
        dense = _dense(self.kv_num_blocks, self.kv_indices, self.kv_indices.shape[-1])
        if self.full_kv_num_blocks is not None:
            dense = dense | _dense(self.full_kv_num_blocks, self.full_kv_indices,
                                   self.full_kv_indices.shape[-1])
        return Tensor._wrap(dense)

    def to_string(self, grid_size=(20, 20), limit=4):
        """A picture of the block pattern per (batch, head), at most ``grid_size`` cells ("██"
        every block of a cell kept, "░░" some, blank none); ``-1`` draws every block."""
        dense = self.to_dense()._data
        *batch_dims, rows, columns = dense.shape
        if isinstance(grid_size, int) and grid_size != -1:
            max_rows = max_columns = grid_size
        elif grid_size == -1:
            max_rows, max_columns = rows, columns
        else:
            max_rows, max_columns = grid_size
        row_step = max(1, -(-rows // max_rows))
        column_step = max(1, -(-columns // max_columns))
        pictures = []
        for count, index in enumerate(itertools.product(*(range(size) for size in batch_dims))):
            if count == limit:
                pictures += ["...", "To print out more, set BlockMask.to_string(limit=N)",
                             "You can also index (BlockMask[batch, head]) to choose a specific "
                             "batch or head"]
                break
            mask = dense[index]
            lines = [f"{index}"]
            for row in range(0, rows, row_step):
                cells = []
                for column in range(0, columns, column_step):
                    kept = mask[row:row + row_step, column:column + column_step].mean()
                    cells.append("█" if kept == 1 else " " if kept == 0 else "░")
                lines.append("".join(cell * 2 for cell in cells))
            pictures.append("\n".join(lines) + "\n")
        return "\n".join(pictures)

    def __str__(self):
        return (f"BlockMask(shape={self.shape}, sparsity={self.sparsity():.2f}%, \n"
                f"{self.to_string().strip()}\n)")

    def _adjust(self, new_q_len, new_kv_len):
        """This mask cropped to its upper-left (new_q_len, new_kv_len) corner."""
        rows = -(-new_q_len // self.BLOCK_SIZE[0])
        columns = -(-new_kv_len // self.BLOCK_SIZE[1])

        def cropped(counts, indices):
            if counts is None:
                return None, None
            dense = _dense(counts, indices, indices.shape[-1])
            return _ordered(dense[..., :rows, :columns])
        return BlockMask.from_kv_blocks(*cropped(self.kv_num_blocks, self.kv_indices),
                                        *cropped(self.full_kv_num_blocks, self.full_kv_indices),
                                        BLOCK_SIZE=self.BLOCK_SIZE, mask_mod=self.mask_mod,
                                        seq_lengths=(new_q_len, new_kv_len))

    def to(self, device):
        """The mask itself: its tables already live on the CPU."""
        return self

    def __repr__(self):
        def shape_or_none(tensor):
            return None if tensor is None else tensor.shape
        name = getattr(self.mask_mod, "__name__", self.mask_mod)
        return (f"BlockMask(\n"
                f"    kv_num_blocks={self.kv_num_blocks.shape},\n"
                f"    kv_indices={self.kv_indices.shape},\n"
                f"    full_kv_num_blocks={shape_or_none(self.full_kv_num_blocks)},\n"
                f"    full_kv_indices={shape_or_none(self.full_kv_indices)},\n"
                f"    q_num_blocks={shape_or_none(self.q_num_blocks)},\n"
                f"    q_indices={shape_or_none(self.q_indices)},\n"
                f"    full_q_num_blocks={shape_or_none(self.full_q_num_blocks)},\n"
                f"    full_q_indices={shape_or_none(self.full_q_indices)},\n"
                f"    BLOCK_SIZE={self.BLOCK_SIZE},\n"
                f"    shape={self.shape},\n"
                f"    sparsity={self.sparsity():.2f}%,\n"
                f"    mask_mod={name}\n"
                f")")


def _transposed(counts, indices):
    dense = _dense(counts, indices, indices.shape[-1])
    return _ordered(np.swapaxes(dense, -2, -1))


def create_block_mask(mask_mod, B, H, Q_LEN, KV_LEN, device=None,
                      BLOCK_SIZE=_DEFAULT_SPARSE_BLOCK_SIZE, _compile=False,
                      separate_full_blocks=True, **kwargs):
    """The BlockMask of ``mask_mod`` over (B, H, Q_LEN, KV_LEN): blocks that are partly kept
    and, with ``separate_full_blocks``, those kept entirely, tabled separately."""
    if _is_score_mod(mask_mod):
        raise AssertionError(f"create-block_mask requires a mask_mod function! Got {mask_mod}")
    if _compile:
        warnings.warn("_compile flag on create_block_mask was originally added to work around a "
                      "torch.compile limitation. That limitation has since been addressed. So, "
                      "to compile create_block_mask, we suggest doing "
                      "torch.compile(create_block_mask). This still works for now, but will be "
                      "removed in the future.", DeprecationWarning, stacklevel=2)
    q_block, kv_block = (BLOCK_SIZE, BLOCK_SIZE) if isinstance(BLOCK_SIZE, int) else BLOCK_SIZE
    mask = create_mask(mask_mod, B, H, Q_LEN, KV_LEN, device)._data
    q_blocks = -(-Q_LEN // q_block)
    kv_blocks = -(-KV_LEN // kv_block)
    padded = np.zeros(mask.shape[:2] + (q_blocks * q_block, kv_blocks * kv_block), dtype=np.int64)
    padded[:, :, :Q_LEN, :KV_LEN] = mask
    kept = padded.reshape(mask.shape[:2] + (q_blocks, q_block, kv_blocks, kv_block)).sum(
        axis=(3, 5))
    if separate_full_blocks:
        full = (kept == q_block * kv_block).astype(np.int8)
        partial = ((kept > 0) & (kept < q_block * kv_block)).astype(np.int8)
        full_tables = _ordered(full)
    else:
        partial = (kept > 0).astype(np.int8)
        full_tables = (None, None)
    return BlockMask.from_kv_blocks(*_ordered(partial), *full_tables,
                                    BLOCK_SIZE=(q_block, kv_block), mask_mod=mask_mod,
                                    seq_lengths=(Q_LEN, KV_LEN))


def _check_inputs(query, key, value, block_mask, enable_gqa):
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise ValueError(f"Expected query, key, and value to all be  at least 2 dimensional, but "
                         f"got query.dim: {query.dim()}, key.dim: {key.dim()} and value.dim: "
                         f"{value.dim()} instead.")
    if query.size(-1) != key.size(-1):
        raise ValueError(f"Expect query and key/value to have the same embedding dimension but "
                         f"got E={query.size(-1)} and E={key.size(-1)}.")
    if query.requires_grad or key.requires_grad or value.requires_grad:
        # PyTorch's CPU build has no backward for it (its compiled kernels are GPU ones)
        raise NotImplementedError("FlexAttention does not support backward on CPU. Please set "
                                  "the input requires_grad to False or use another device.")
    if query.dim() != 4 or key.dim() != 4 or value.dim() != 4:
        raise NotImplementedError("NYI: query, key, and value must be 4D tensors")
    if not enable_gqa and query.size(-3) != key.size(-3):
        raise ValueError(f"Expect query and key/value to have the same number of heads but got "
                         f"Hq={query.size(-3)} and Hkv={key.size(-3)}. Try setting "
                         f"enable_gqa=True for GQA.")
    if enable_gqa and query.size(1) % key.size(1) != 0:
        raise ValueError(f"Expect number of query heads to be a multiple of kv heads for GQA but "
                         f"got Hq={query.size(1)} and Hkv={key.size(1)}.")
    if query.size(0) != key.size(0) and block_mask is None:
        raise ValueError(f"Expect query and key/value to have the same batch size, or non-none "
                         f"block_mask, but got block_mask=None, Bq={query.size(0)}, and "
                         f"Bkv={key.size(0)}.")
    if block_mask is not None:
        q_len, kv_len = block_mask.shape[-2:]
        if query.size(-2) > q_len or key.size(-2) > kv_len:
            raise ValueError(f"block_mask was created for block_mask.shape={block_mask.shape} "
                             f"but got q_len={query.size(-2)} and kv_len={key.size(-2)}. As the "
                             f"block mask was created for a smaller length than you're using "
                             f"it for, you likely need to create a new block mask.")
        if query.size(-2) != q_len or key.size(-2) != kv_len:
            raise ValueError(f"block_mask was created for block_mask.shape={block_mask.shape} "
                             f"but got q_len={query.size(-2)} and kv_len={key.size(-2)}. As the "
                             f"block mask was created for a larger length than you're using it "
                             f"for, you can either 1. create a new block mask with the correct "
                             f"length, or 2. 'adjust' the existing block mask to the correct "
                             f"length by calling block_mask._adjust(q_len, kv_len). This "
                             f"essentially 'crops' the block mask to the upper left corner, "
                             f"which does not work for all mask_mods!")


def flex_attention(query, key, value, score_mod=None, block_mask=None, scale=None,
                   enable_gqa=False, return_lse=False, kernel_options=None, *, return_aux=None):
    """softmax(score_mod(query @ key^T * scale) where mask_mod, else -inf) @ value, over
    (B, H, L, E) tensors; rows where every key is masked give zeros (and an lse of -inf).
    ``return_aux=AuxRequest(lse=True)`` also returns the natural-log logsumexp of each row.
    As PyTorch's CPU build, it has no backward for ``query``, ``key`` or ``value``."""
    _check_inputs(query, key, value, block_mask, enable_gqa)
    if return_lse and return_aux is not None:
        raise ValueError("Cannot specify both return_lse and return_aux. return_lse is "
                         "deprecated, please use return_aux=AuxRequest(lse=True) instead.")
    if return_lse:
        warnings.warn("return_lse is deprecated and will be removed in v2.10. Please use "
                      "return_aux=AuxRequest(lse=True) instead.", FutureWarning, stacklevel=2)
    backend = (kernel_options or {}).get("BACKEND", "AUTO")
    if backend not in ("AUTO", "TRITON", "FLASH", "TRITON_DECODE"):
        raise ValueError(f"Invalid BACKEND value '{backend}'. Must be one of ('AUTO', 'TRITON', "
                         f"'FLASH', 'TRITON_DECODE')")
    if return_aux is not None and return_aux.max_scores:
        raise NotImplementedError("Returning max scores is not supported on CPU/MPS.")
    score_mod = _identity if score_mod is None else score_mod
    mask_mod = noop_mask if block_mask is None else block_mask.mask_mod
    scale = 1.0 / math.sqrt(query.size(-1)) if scale is None else scale
    groups = query.size(1) // key.size(1)
    if groups > 1:
        key = repeat_interleave(key, groups, dim=1)
        value = repeat_interleave(value, groups, dim=1)
    key = key.expand((query.size(0),) + tuple(key.shape[1:]))
    value = value.expand((query.size(0),) + tuple(value.shape[1:]))
    # PyTorch's reference: float32 scores (float64 for float64 inputs), scaled after the product
    working = float64 if query.dtype == float64 else float32
    scores = matmul(query.to(working), key.to(working).transpose(-2, -1))
    scores = (scores * scale).to(working)
    indices = _indices(*scores.shape)
    kept = _as_tensor(mask_mod(*indices))
    scores = where(kept, score_mod(scores, *indices),
                   _factories.tensor(-math.inf, dtype=working))
    masked_rows = (scores == -math.inf).all(dim=-1, keepdim=True)
    # a row with no visible key: softmax over zeros, then zeroed (no NaN, no gradient)
    safe_scores = where(masked_rows, _factories.zeros((), dtype=working), scores)
    probabilities = where(masked_rows, _factories.zeros((), dtype=working),
                          softmax(safe_scores, dim=-1))
    output = matmul(probabilities.to(query.dtype), value.to(query.dtype))
    lse = None
    if return_lse or (return_aux is not None and return_aux.lse):
        lse = where(masked_rows.squeeze(-1), _factories.tensor(-math.inf, dtype=working),
                    logsumexp(safe_scores, dim=-1))
    if return_aux is not None:
        return output, AuxOutput(lse=lse)
    if return_lse:
        return output, lse
    return output
