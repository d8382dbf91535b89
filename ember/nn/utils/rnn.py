"""Variable-length batches for the recurrent layers: PackedSequence and its pack/pad helpers.

A packed sequence stores, time step after time step, only the rows of the sequences still
running (sorted by decreasing length), so an RNN skips the padding.
"""
from collections import namedtuple

import numpy as np

from ... import _dtype as dtypes
from ... import _factories
from ... import ops
from ...autograd.grad_mode import is_grad_enabled
from ...ops._broadcast import mismatch_error
from ...tensor import Tensor, named_type


def _as_int_array(values):
    """Sequence lengths as a 1-D int64 array (PyTorch's error for any other shape)."""
    array = values._data if isinstance(values, Tensor) else np.asarray(values)
    if array.ndim != 1:
        raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                           f"{array.ndim}D tensor")
    if array.dtype.kind not in "iub" and not (array.dtype.kind == "f"
                                               and np.all(array == np.floor(array))):
        raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                           f"{array.dtype} values")
    return array.astype(np.int64)


def _check_sequences(sequences):
    """A non-empty list of Tensors (PyTorch's errors otherwise)."""
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    for position, sequence in enumerate(sequences):
        if not isinstance(sequence, Tensor):
            raise TypeError(f"expected Tensor as element {position} in argument 0, but got "
                            f"{named_type(sequence)}")
    return sequences


def invert_permutation(permutation):
    """The permutation that undoes ``permutation`` (None stays None)."""
    if permutation is None:
        return None
    order = np.asarray(permutation._data, dtype=np.int64)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size, dtype=np.int64)
    return Tensor._wrap(inverse)


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """(data, batch_sizes, sorted_indices, unsorted_indices): ``data`` holds the running rows of
    each time step in turn; ``batch_sizes[t]`` says how many; the indices map batch order to
    length order and back (None when the batch was already sorted)."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            raise ValueError("PackedSequence: batch_sizes is required (build packed sequences "
                             "with pack_padded_sequence or pack_sequence)")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    @property
    def is_cuda(self):
        return False

    def is_pinned(self):
        return False

    def to(self, *args, **kwargs):
        """The same sequence with ``data`` converted (``batch_sizes`` stays int64)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def _with_data(self, data):
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self):
        return self._with_data(self.data.cpu())

    def cuda(self, *args, **kwargs):
        return self._with_data(self.data.cuda(*args, **kwargs))

    def pin_memory(self):
        return self._with_data(self.data.pin_memory())

    # PyTorch's dtype shorthands: ``data`` converted, the indices left as they are
    def double(self):
        return self.to(dtype=dtypes.float64)

    def float(self):
        return self.to(dtype=dtypes.float32)

    def half(self):
        return self.to(dtype=dtypes.float16)

    def long(self):
        return self.to(dtype=dtypes.int64)

    def int(self):
        return self.to(dtype=dtypes.int32)

    def short(self):
        return self.to(dtype=dtypes.int16)

    def char(self):
        return self.to(dtype=dtypes.int8)

    def byte(self):
        return self.to(dtype=dtypes.uint8)


def _packing_index(lengths_sorted, max_length):
    """(time, batch) coordinates of the packed rows, step by step, and the batch sizes."""
    running = np.arange(max_length)[:, None] < lengths_sorted[None, :]
    time_index, batch_index = np.nonzero(running)
    return time_index, batch_index, running.sum(axis=1)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded (T, B, *) batch (B, T, * with ``batch_first``) of the given lengths."""
    lengths = _as_int_array(lengths)
    batch_size = input.shape[0 if batch_first else 1]
    if lengths.size != batch_size:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lengths.size} (batch_size={batch_size})")
    if enforce_sorted:
        if np.any(lengths[:-1] < lengths[1:]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        sorted_indices = None
        lengths_sorted = lengths
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_indices = Tensor._wrap(order.astype(np.int64))
        lengths_sorted = lengths[order]
        input = ops.index_select(input, 0 if batch_first else 1, sorted_indices)
    if lengths.size and lengths_sorted[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if batch_first:
        input = ops.transpose(input, 0, 1)
    if lengths.size and lengths_sorted[0] > input.shape[0]:
        raise RuntimeError(f"Expected the longest sequence to have at most {input.shape[0]} "
                           f"steps (the padded length), but got a length of "
                           f"{lengths_sorted[0]}")
    max_length = int(lengths_sorted[0]) if lengths.size else 0
    time_index, batch_index, batch_sizes = _packing_index(lengths_sorted, max_length)
    data = input[Tensor._wrap(time_index), Tensor._wrap(batch_index)]
    return PackedSequence(data, Tensor._wrap(batch_sizes.astype(np.int64)), sorted_indices,
                          None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo pack_padded_sequence: returns (padded batch, lengths in the original order)."""
    batch_sizes = np.asarray(sequence.batch_sizes._data, dtype=np.int64)
    max_length = batch_sizes.size
    if total_length is not None:
        if total_length < max_length:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {max_length}")
        max_length = total_length
    batch_size = int(batch_sizes[0])
    lengths_sorted = (np.arange(batch_size)[:, None] < batch_sizes[None, :]).sum(axis=1)
    time_index, batch_index, _ = _packing_index(lengths_sorted, max_length)
    data = sequence.data
    features = tuple(data.shape[1:])
    # each padded (t, b) reads its packed row, or the appended padding row
    rows = np.full((max_length, batch_size), data.shape[0], dtype=np.int64)
    rows[time_index, batch_index] = np.arange(time_index.size)
    padding = _factories.full((1,) + features, padding_value, dtype=data.dtype)
    padded = ops.cat([data, padding], 0)[Tensor._wrap(rows)]
    lengths = lengths_sorted.astype(np.int64)
    if sequence.unsorted_indices is not None:
        padded = ops.index_select(padded, 1, sequence.unsorted_indices)
        lengths = lengths[np.asarray(sequence.unsorted_indices._data)]
    if batch_first:
        padded = ops.transpose(padded, 0, 1)
    return padded, Tensor._wrap(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack (L_i, *) tensors into (max L, B, *) (or (B, max L, *)), padding the short ones."""
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    sequences = _check_sequences(sequences)
    max_length = max(sequence.shape[0] for sequence in sequences)
    first = sequences[0]
    trailing = tuple(first.shape[1:])
    if any(tuple(sequence.shape[1:]) != trailing for sequence in sequences):
        # PyTorch copies each sequence into a buffer shaped by the first: broadcast, or its error
        for position, sequence in enumerate(sequences):
            place = (sequence.shape[0],) + trailing
            error = mismatch_error(place, tuple(sequence.shape))
            if error is not None:
                raise error
            broadcast = tuple(np.broadcast_shapes(place, tuple(sequence.shape)))
            if broadcast != place:  # copy_'s check: the source may not grow the buffer
                raise RuntimeError(f"output with shape {list(place)} doesn't match the "
                                   f"broadcast shape {list(broadcast)}")
            sequences[position] = sequence.expand(*place)
    if not (is_grad_enabled() and any(sequence.requires_grad for sequence in sequences)) and all(
            sequence.dtype == first.dtype and sequence.shape[1:] == first.shape[1:]
            and type(sequence._data) is np.ndarray for sequence in sequences):
        # nothing to record (a collate_fn's batch): one buffer of the padding, each sequence
        # copied into its place, instead of a padding tensor, a cat and a stack per sequence
        count = len(sequences)
        shape = (count, max_length) if batch_first else (max_length, count)
        out = _factories.full(shape + tuple(first.shape[1:]), padding_value, dtype=first.dtype)
        rows = out._data if batch_first else np.swapaxes(out._data, 0, 1)
        for row, sequence in zip(rows, sequences):
            length = sequence.shape[0]
            if padding_side == "right":
                row[:length] = sequence._data
            elif length:
                row[max_length - length:] = sequence._data
        return out
    padded = []
    for sequence in sequences:
        missing = max_length - sequence.shape[0]
        if missing:
            fill = _factories.full((missing,) + tuple(sequence.shape[1:]), padding_value,
                                   dtype=sequence.dtype)
            parts = [sequence, fill] if padding_side == "right" else [fill, sequence]
            sequence = ops.cat(parts, 0)
        padded.append(sequence)
    return ops.stack(padded, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of (L_i, *) tensors (decreasing lengths unless ``enforce_sorted=False``)."""
    sequences = _check_sequences(sequences)
    lengths = [sequence.shape[0] for sequence in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of unpadded sequences of a padded batch, each a copy (a boolean-mask index).
    As PyTorch's, a time-first batch is transposed in place (the caller's tensor becomes
    batch-first), and ``lengths`` must have one entry per sequence (ValueError)."""
    if not batch_first:
        padded_sequences.transpose_(0, 1)
    positions = _factories.arange(padded_sequences.shape[1])
    return [sequence[positions < length]
            for sequence, length in zip(padded_sequences, lengths, strict=True)]


def unpack_sequence(packed_sequences):
    """The list of sequences of a packed batch, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
