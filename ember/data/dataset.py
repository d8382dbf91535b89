"""Datasets: the map-style and iterable protocols, tensors as a dataset, subsets, concatenation."""
import bisect
import itertools
import math
import warnings
from typing import Generic, Iterable, TypeVar

import numpy as np

from .. import _random
from ..tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
           "ChainDataset", "Subset", "random_split"]

# Datasets are generic in their sample type, as in PyTorch:
# ``class Pairs(Dataset[tuple[Tensor, int]])``
T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """A map-style dataset: ``__getitem__(index)`` returns one sample, ``__len__`` their count."""

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co], Iterable[T_co]):
    """A stream of samples: ``__iter__`` yields them (no indexing, no sampler, no shuffle)."""

    def __iter__(self):
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset[tuple[Tensor, ...]]):
    """Samples are ``tuple(tensor[index] for tensor in tensors)``; all share the first dimension."""

    def __init__(self, *tensors):
        # PyTorch compares tensors[0].size(0) with each tensor's in turn: the first failure
        # (a non-tensor's AttributeError, a 0-d tensor's IndexError, a mismatch) is raised.
        if any(_leading_size(tensors[0]) != _leading_size(tensor) for tensor in tensors):
            # AssertionError, as PyTorch (raised, not asserted: python -O keeps it).
            raise AssertionError("Size mismatch between tensors")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(tensor[index] for tensor in self.tensors)

    def __len__(self):
        return self.tensors[0]._data.shape[0]


def _leading_size(value):
    """``value.size(0)``, with PyTorch's IndexError for a 0-d tensor."""
    if isinstance(value, Tensor):
        if value._data.ndim == 0:
            raise IndexError("Dimension specified as 0 but tensor has no dimensions")
        return value._data.shape[0]
    return value.size(0)


class StackDataset(Dataset[T_co]):
    """Zip datasets of equal length: samples are tuples (positional) or dicts (keyword)."""

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("Supported either ``tuple``- (via ``args``) or``dict``- (via "
                             "``kwargs``) like input/output, but both types are given.")
        datasets = args or tuple(kwargs.values())
        if not datasets:
            raise ValueError("At least one dataset should be passed")
        self._length = len(datasets[0])
        if any(self._length != len(dataset) for dataset in datasets):
            raise ValueError("Size mismatch between datasets")
        self.datasets = args if args else kwargs

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {key: dataset[index] for key, dataset in self.datasets.items()}
        return tuple(dataset[index] for dataset in self.datasets)

    def __getitems__(self, indices):
        """A batch of samples, fetched with each dataset's own ``__getitems__`` where it has one
        (as PyTorch's, which the DataLoader calls for a whole batch)."""
        named = isinstance(self.datasets, dict)
        datasets = self.datasets.items() if named else enumerate(self.datasets)
        columns = {}
        for key, dataset in datasets:
            if callable(getattr(dataset, "__getitems__", None)):
                items = dataset.__getitems__(indices)
                if len(items) != len(indices):
                    raise ValueError(f"Nested dataset's output size mismatch. Expected "
                                     f"{len(indices)}, got {len(items)}")
                columns[key] = items
            else:
                columns[key] = [dataset[index] for index in indices]
        if named:
            return [{key: column[row] for key, column in columns.items()}
                    for row in range(len(indices))]
        return [tuple(column[row] for column in columns.values()) for row in range(len(indices))]

    def __len__(self):
        return self._length


class ConcatDataset(Dataset[T_co]):
    """Several map-style datasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if len(self.datasets) == 0:
            raise AssertionError("datasets should not be an empty iterable")
        for dataset in self.datasets:
            if isinstance(dataset, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(dataset)
                                                          for dataset in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if index < 0:
            if -index > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            index = len(self) + index
        dataset_index = bisect.bisect_right(self.cumulative_sizes, index)
        if dataset_index == len(self.datasets):
            raise IndexError("list index out of range")  # PyTorch's datasets[dataset_index]
        sample_index = index if dataset_index == 0 else \
            index - self.cumulative_sizes[dataset_index - 1]
        return self.datasets[dataset_index][sample_index]


class ChainDataset(IterableDataset):
    """Several iterable datasets chained."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for dataset in self.datasets:
            _check_iterable(dataset)
            yield from dataset

    def __len__(self):
        total = 0
        for dataset in self.datasets:
            _check_iterable(dataset)
            total += len(dataset)
        return total


def _check_iterable(dataset):
    if not isinstance(dataset, IterableDataset):
        raise AssertionError("ChainDataset only supports IterableDataset")


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[position] for position in index]]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices):
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return getitems([self.indices[position] for position in indices])
        return [self.dataset[self.indices[position]] for position in indices]

    def __len__(self):
        return len(self.indices)


def random_split(dataset, lengths, generator=None):
    """Split into disjoint random subsets of the given lengths, or of fractions summing to 1.

    Fractions are floored and the remainder handed out one by one from the first subset, as in
    PyTorch. The permutation is drawn from ``generator`` (the default generator when None).
    """
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for index, fraction in enumerate(lengths):
            if fraction < 0 or fraction > 1:
                raise ValueError(f"Fraction at index {index} is not between 0 and 1")
        subset_lengths = [int(math.floor(len(dataset) * fraction)) for fraction in lengths]
        remainder = len(dataset) - sum(subset_lengths)
        for index in range(remainder):
            subset_lengths[index % len(subset_lengths)] += 1
        lengths = subset_lengths
        for index, length in enumerate(lengths):
            if length == 0:
                warnings.warn(f"Length of split at index {index} is 0. This might result in an "
                              "empty dataset.", stacklevel=2)
    if any(length < 0 for length in lengths):
        # PyTorch slices its permutation with them and returns overlapping subsets (a silent
        # data leak between splits): ember refuses them
        raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
    if sum(lengths) != len(dataset):
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    permutation = _random.permutation(generator, sum(lengths)).tolist()
    subsets = []
    offset = 0
    for length in lengths:
        subsets.append(Subset(dataset, permutation[offset:offset + length]))
        offset += length
    return subsets


def _tensor_rows(dataset, indices):
    """Fast path: the rows of a (Subset of a) TensorDataset as arrays, or None if not applicable."""
    while type(dataset) is Subset:
        source = dataset.indices
        if isinstance(source, Tensor):
            source = source._data
        indices = np.asarray(source)[indices] if isinstance(source, np.ndarray) else \
            [source[position] for position in indices]
        dataset = dataset.dataset
    if type(dataset) is not TensorDataset:
        return None
    if any(tensor._requires_grad for tensor in dataset.tensors):
        return None
    index_array = np.asarray(indices, dtype=np.int64)
    return [tensor._data[index_array] for tensor in dataset.tensors]
