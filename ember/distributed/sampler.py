"""Samplers that give each rank its own shard of a dataset (PyTorch's DistributedSampler)."""
import math

import numpy as np

from .. import _random
from .._random import Generator
from ..data.sampler import Sampler, T_co
from . import comm


def _replicas_and_rank(num_replicas, rank):
    if num_replicas is None:
        num_replicas = comm.get_world_size()
    if rank is None:
        rank = comm.get_rank()
    if rank >= num_replicas or rank < 0:
        raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                         f"[0, {num_replicas - 1}]")
    return num_replicas, rank


class DistributedSampler(Sampler[T_co]):
    """Rank ``rank``'s indices: every ``num_replicas``-th of a (seed, epoch) permutation.

    As in PyTorch, the list is padded by repeating its start (or, with ``drop_last``, trimmed) to a
    multiple of ``num_replicas``, so every rank sees the same number of samples; call
    ``set_epoch`` each epoch for a new shuffle that is identical on all ranks.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        num_replicas, rank = _replicas_and_rank(num_replicas, rank)
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        length = len(dataset)
        if drop_last and length % num_replicas != 0:
            # Drop the tail so every rank gets the same number of distinct samples.
            self.num_samples = math.ceil((length - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(length / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def _ordered_indices(self):
        """All indices in this epoch's order, identical on every rank."""
        length = len(self.dataset)
        if not self.shuffle:
            return np.arange(length, dtype=np.int64)
        generator = Generator()
        generator.manual_seed(self.seed + self.epoch)
        return _random.permutation(generator, length)

    def __iter__(self):
        indices = self._ordered_indices()
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding > 0:
                repeats = math.ceil(padding / len(indices))
                indices = np.concatenate([indices, np.tile(indices, repeats)[:padding]])
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Reshuffle for ``epoch`` (call before each epoch's iterator, on every rank)."""
        self.epoch = epoch


class UnpaddedDistributedSampler(DistributedSampler):
    """For evaluation: each index on exactly one rank, no padding, so shards may differ by one.

    Summing per-rank totals (``all_reduce_metrics``) then gives exactly the single-process
    metrics, which PyTorch's padded sampler does not (it counts a few samples twice).
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=False, seed=0):
        super().__init__(dataset, num_replicas, rank, shuffle=shuffle, seed=seed, drop_last=False)
        length = len(dataset)
        self.num_samples = len(range(self.rank, length, self.num_replicas))
        self.total_size = length

    def __iter__(self):
        indices = self._ordered_indices()
        return iter(indices[self.rank::self.num_replicas].tolist())
