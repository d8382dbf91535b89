"""Samplers: which dataset indices to visit, in which order, and how to group them into batches."""
import itertools

import numpy as np

from .._random import Generator, numpy_generator
from ..tensor import Tensor

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]


class Sampler:
    """Base class: ``__iter__`` yields indices (or lists of indices, for a batch sampler)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


# Draws with replacement are made lazily, this many at a time (PyTorch's RandomSampler does the
# same), so ``num_samples=10**10`` costs nothing up front.
_CHUNK = 32


def _private_stream(generator):
    """The NumPy stream an iteration draws from: ``generator``'s, or (as PyTorch does) a fresh
    one seeded by one draw from the default generator, so that an epoch's lazy draws do not
    interleave with the model's (dropout) draws from the default generator."""
    if generator is not None:
        return numpy_generator(generator)
    seed = int(numpy_generator(None).integers(0, 2 ** 63, dtype=np.int64))
    return numpy_generator(Generator().manual_seed(seed))


class RandomSampler(Sampler):
    """A random permutation (or ``num_samples`` draws with replacement), fresh at every ``iter``.

    Draws from ``generator``, else from a stream seeded by the default generator, so
    ``ember.manual_seed`` makes the order reproducible. Indices are drawn as they are consumed:
    one permutation of the data source at a time, or 32 draws with replacement at a time.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError("replacement should be a boolean value, but got "
                            f"replacement={self.replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self):
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def __iter__(self):
        size = len(self.data_source)
        rng = _private_stream(self.generator)
        if self.replacement:
            if size == 0:
                raise RuntimeError(f"RandomSampler: random_ expects 'from' to be less than 'to', "
                                   f"but got from=0 >= to=0 (num_samples={self.num_samples} "
                                   f"draws from an empty data_source)")
            for _ in range(self.num_samples // _CHUNK):
                yield from rng.integers(0, size, size=_CHUNK, dtype=np.int64).tolist()
            yield from rng.integers(0, size, size=self.num_samples % _CHUNK,
                                    dtype=np.int64).tolist()
        else:
            for _ in range(self.num_samples // size):
                yield from rng.permutation(size).tolist()
            yield from rng.permutation(size)[:self.num_samples % size].tolist()

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        order = numpy_generator(self.generator).permutation(len(self.indices))
        return iter([self.indices[position] for position in order.tolist()])

    def __len__(self):
        return len(self.indices)


def _check_weights(weights):
    """PyTorch's multinomial checks, in its order."""
    if not (weights >= 0).all():  # NaN fails this too, as in PyTorch
        raise RuntimeError("invalid multinomial distribution (encountering probability entry < 0)")
    if np.isinf(weights).any():
        raise RuntimeError("invalid multinomial distribution (encountering probability entry = "
                           "infinity or NaN)")
    if not weights.sum() > 0:
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights``.

    With replacement the draws are made 32 at a time as they are consumed (inverse CDF), so a
    huge ``num_samples`` costs nothing up front; without, all at once by PyTorch's method (the
    largest ``weight / Exponential(1)`` keys), which returns zero-weight indices last once the
    positive ones run out. The weights are checked when iteration starts, as in PyTorch.
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError("replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        weights_array = np.asarray(weights._data if isinstance(weights, Tensor) else weights,
                                   dtype=np.float64)
        if weights_array.ndim != 1:
            raise ValueError("weights should be a 1d sequence but given weights have shape "
                             f"{tuple(weights_array.shape)}")
        self.weights = Tensor._wrap(weights_array)
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        weights = self.weights._data
        _check_weights(weights)
        rng = numpy_generator(self.generator)
        if not self.replacement:
            if self.num_samples > weights.shape[0]:
                raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                                   "replacement")
            with np.errstate(divide="ignore"):
                keys = weights / rng.exponential(size=weights.shape[0])
            yield from np.argsort(-keys, kind="stable")[:self.num_samples].tolist()
            return
        cumulative = np.cumsum(weights)
        # A draw that rounds up to the total must not pick a zero-weight index past the last
        # positive one.
        last = int(np.flatnonzero(weights > 0)[-1])

        def draw(count):
            points = rng.random(count) * cumulative[-1]
            return np.minimum(np.searchsorted(cumulative, points, side="right"), last).tolist()

        for _ in range(self.num_samples // _CHUNK):
            yield from draw(_CHUNK)
        yield from draw(self.num_samples % _CHUNK)

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Group another sampler's indices into lists of ``batch_size`` (the last may be shorter)."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError("batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        # islice takes each batch in C from the index stream, which may be lazy and long.
        indices = iter(self.sampler)
        while True:
            batch = list(itertools.islice(indices, self.batch_size))
            if len(batch) < self.batch_size:
                if batch and not self.drop_last:
                    yield batch
                return
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
