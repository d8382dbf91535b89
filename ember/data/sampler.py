"""Samplers: which dataset indices to visit, in which order, and how to group them into batches."""
import itertools
from typing import Generic, TypeVar

import numpy as np

from .. import _random
from .._random import Generator
from ..tensor import Tensor

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]

# Samplers are generic in what they yield, as in PyTorch (``Sampler[list[int]]``)
T_co = TypeVar("T_co", covariant=True)


class Sampler(Generic[T_co]):
    """Base class: ``__iter__`` yields indices (or lists of indices, for a batch sampler)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler[int]):
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
# WeightedRandomSampler draws up to this many indices at once, as PyTorch draws all of them.
_EAGER = 1 << 20


def _private_stream(generator):
    """The generator an iteration draws from: ``generator``, or (as PyTorch does) a fresh one
    seeded by one int64 ``random_()`` draw from the default generator, so that an epoch's lazy
    draws do not interleave with the model's (dropout) draws from the default generator."""
    if generator is not None:
        return generator
    return Generator().manual_seed(int(_random.full_range(None, (), np.int64)))


class RandomSampler(Sampler[int]):
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
                yield from _random.integers(rng, 0, size, (_CHUNK,)).tolist()
            yield from _random.integers(rng, 0, size, (self.num_samples % _CHUNK,)).tolist()
        else:
            for _ in range(self.num_samples // size):
                yield from _random.permutation(rng, size).tolist()
            yield from _random.permutation(rng, size)[:self.num_samples % size].tolist()

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given indices in a random order."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        for position in _random.permutation(self.generator, len(self.indices)).tolist():
            yield self.indices[position]

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


class WeightedRandomSampler(Sampler[int]):
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
        if not self.replacement and self.num_samples > weights.shape[0]:
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        # PyTorch's torch.multinomial of the float64 weights, every index drawn when iteration
        # starts; past _EAGER draws with replacement, 32 at a time as they are consumed (the
        # same indices, unless something else draws from the generator meanwhile).
        if not self.replacement or self.num_samples <= _EAGER:
            yield from _random.multinomial_rows(self.generator, weights[None], self.num_samples,
                                                self.replacement)[0].tolist()
            return
        for _ in range(self.num_samples // _CHUNK):
            yield from _random.multinomial_rows(self.generator, weights[None], _CHUNK,
                                                True)[0].tolist()
        if self.num_samples % _CHUNK:
            yield from _random.multinomial_rows(self.generator, weights[None],
                                                self.num_samples % _CHUNK, True)[0].tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
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
