"""Datasets, random_split and samplers."""
import numpy as np
import pytest

import ember
from ember.data import (
    BatchSampler, ConcatDataset, Dataset, RandomSampler, SequentialSampler, StackDataset, Subset,
    SubsetRandomSampler, TensorDataset, WeightedRandomSampler, random_split)
from tests.conftest import assert_raises_like_torch


class Squares(Dataset):
    def __init__(self, size):
        self.size = size

    def __getitem__(self, index):
        if not 0 <= index < self.size:
            raise IndexError(index)
        return index * index

    def __len__(self):
        return self.size


def test_tensor_dataset():
    features = ember.arange(12, dtype=ember.float32).reshape(4, 3)
    labels = ember.tensor([0, 1, 0, 1])
    dataset = TensorDataset(features, labels)
    assert len(dataset) == 4
    feature, label = dataset[2]
    np.testing.assert_array_equal(feature.numpy(), [6.0, 7.0, 8.0])
    assert int(label) == 0
    assert dataset[-1][1].item() == 1


def test_tensor_dataset_errors():
    with pytest.raises(AssertionError, match="^Size mismatch between tensors$"):
        TensorDataset(ember.zeros(3, 2), ember.zeros(4))
    with pytest.raises(IndexError, match="Dimension specified as 0 but tensor has no dimensions"):
        TensorDataset(ember.tensor(1.0))
    with pytest.raises(TypeError, match="'int' object is not callable"):
        TensorDataset(np.zeros(3))  # PyTorch calls its .size(0)


def test_subset_and_concat():
    squares = Squares(5)
    subset = Subset(squares, [4, 0, 2])
    assert len(subset) == 3
    assert [subset[index] for index in range(3)] == [16, 0, 4]
    combined = ConcatDataset([squares, Squares(3), subset])
    assert len(combined) == 11
    assert [combined[index] for index in range(11)] == [0, 1, 4, 9, 16, 0, 1, 4, 16, 0, 4]
    assert combined[-1] == 4 and combined[-11] == 0
    assert combined.cumulative_sizes == [5, 8, 11]
    with pytest.raises(ValueError, match="absolute value of index should not exceed"):
        combined[-12]
    with pytest.raises(IndexError):
        combined[11]
    added = squares + Squares(2)
    assert isinstance(added, ConcatDataset) and len(added) == 7
    with pytest.raises(AssertionError, match="datasets should not be an empty iterable"):
        ConcatDataset([])


def test_stack_dataset():
    dataset = StackDataset(Squares(3), Squares(3))
    assert dataset[2] == (4, 4)
    named = StackDataset(a=Squares(2), b=Squares(2))
    assert named[1] == {"a": 1, "b": 1}
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        StackDataset(Squares(2), Squares(3))


def test_base_dataset_must_be_subclassed():
    with pytest.raises(NotImplementedError):
        Dataset()[0]


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.33, 0.33, 0.34], [0.5, 0.5],
                                     [1, 2, 3, 4], [0.25, 0.25, 0.25, 0.25]])
def test_random_split_is_disjoint_and_complete(torch, lengths):
    splits = random_split(Squares(10), lengths, generator=ember.Generator().manual_seed(1))
    torch_splits = torch.utils.data.random_split(range(10), lengths)
    assert [len(split) for split in splits] == [len(split) for split in torch_splits]
    indices = [index for split in splits for index in split.indices]
    assert sorted(indices) == list(range(10))
    for split in splits:
        assert isinstance(split, Subset)


def test_random_split_is_reproducible():
    first = random_split(Squares(20), [5, 15], generator=ember.Generator().manual_seed(3))
    second = random_split(Squares(20), [5, 15], generator=ember.Generator().manual_seed(3))
    assert first[0].indices == second[0].indices
    ember.manual_seed(11)
    third = random_split(Squares(20), [0.5, 0.5])
    ember.manual_seed(11)
    fourth = random_split(Squares(20), [0.5, 0.5])
    assert third[1].indices == fourth[1].indices
    assert third[0].indices != list(range(10))


def test_random_split_errors():
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length"):
        random_split(Squares(10), [3, 3])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(Squares(2), [0.99, 0.01])


def test_sequential_sampler():
    sampler = SequentialSampler(Squares(4))
    assert list(sampler) == [0, 1, 2, 3] and len(sampler) == 4


def test_random_sampler_permutation_and_seeding():
    sampler = RandomSampler(Squares(10), generator=ember.Generator().manual_seed(0))
    first = list(sampler)
    second = list(sampler)
    assert sorted(first) == list(range(10)) and sorted(second) == list(range(10))
    assert first != second
    again = list(RandomSampler(Squares(10), generator=ember.Generator().manual_seed(0)))
    assert again == first
    ember.manual_seed(5)
    from_default = list(RandomSampler(Squares(10)))
    ember.manual_seed(5)
    assert list(RandomSampler(Squares(10))) == from_default
    assert all(isinstance(index, int) for index in first)


def test_random_sampler_num_samples_and_replacement():
    longer = list(RandomSampler(Squares(4), num_samples=10))
    assert len(longer) == 10
    assert sorted(longer[:8]) == [0, 0, 1, 1, 2, 2, 3, 3]
    drawn = list(RandomSampler(Squares(3), replacement=True, num_samples=50))
    assert len(drawn) == 50 and set(drawn) <= {0, 1, 2}


def test_random_sampler_errors_match_torch(torch):
    for kwargs in ({"replacement": 1}, {"num_samples": 0}, {"num_samples": 2.5}):
        with pytest.raises(Exception) as torch_error:
            torch.utils.data.RandomSampler(range(3), **kwargs)
        with pytest.raises(Exception) as ember_error:
            RandomSampler(Squares(3), **kwargs)
        assert type(ember_error.value) is type(torch_error.value)
        assert str(ember_error.value) == str(torch_error.value)


def test_subset_random_sampler():
    sampler = SubsetRandomSampler([10, 20, 30, 40], generator=ember.Generator().manual_seed(2))
    drawn = list(sampler)
    assert sorted(drawn) == [10, 20, 30, 40] and len(sampler) == 4


def test_weighted_random_sampler():
    generator = ember.Generator().manual_seed(0)
    sampler = WeightedRandomSampler([0.0, 1.0, 3.0], 200, generator=generator)
    drawn = np.array(list(sampler))
    assert len(drawn) == 200 and 0 not in drawn
    assert 0.6 < np.mean(drawn == 2) < 0.9
    unique = list(WeightedRandomSampler([1.0, 1.0, 1.0, 1.0], 4, replacement=False))
    assert sorted(unique) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        WeightedRandomSampler([1.0], 0)
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1.0]], 1)
    too_many = WeightedRandomSampler([1.0, 1.0], 3, replacement=False)  # checked at iter, as torch
    with pytest.raises(RuntimeError, match="without replacement"):
        list(too_many)


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("size, batch_size", [(10, 3), (9, 3), (2, 5), (0, 2)])
def test_batch_sampler_matches_torch(torch, size, batch_size, drop_last):
    expected = list(torch.utils.data.BatchSampler(range(size), batch_size, drop_last))
    torch_length = len(torch.utils.data.BatchSampler(range(size), batch_size, drop_last))
    for sampler in (SequentialSampler(Squares(size)), list(range(size))):
        batches = BatchSampler(sampler, batch_size, drop_last)
        assert list(batches) == expected
        assert len(batches) == torch_length


def test_batch_sampler_errors():
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        BatchSampler([0, 1], 0, False)
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        BatchSampler([0, 1], True, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        BatchSampler([0, 1], 1, 0)


_GENERIC_CLASSES = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "ChainDataset",
                    "Subset", "StackDataset", "Sampler", "SequentialSampler", "RandomSampler",
                    "BatchSampler", "SubsetRandomSampler", "WeightedRandomSampler", "DataLoader"]


def _subscripted(data, name):
    """What ``data.<name>[int]`` gives: subscriptable, or the TypeError's kind (not its text,
    which names the module)."""
    try:
        getattr(data, name)[int]
    except TypeError as error:
        return "not generic" if "not a generic class" in str(error) else str(error)
    return "generic"


@pytest.mark.parametrize("name", _GENERIC_CLASSES)
def test_data_classes_are_generic_like_torch(torch, name):
    # timm: class ScheduledBatchSampler(Sampler[List[Tuple[Any, int]]]) at import time
    assert _subscripted(ember.data, name) == _subscripted(torch.utils.data, name)


def test_subclassing_a_parameterized_dataset_and_sampler():
    from ember.distributed import DistributedSampler

    class Pairs(Dataset[tuple]):
        def __getitem__(self, index):
            return index, index * 2

        def __len__(self):
            return 3

    class Batches(ember.data.Sampler[list]):
        def __iter__(self):
            return iter([[0, 1], [2]])

    loader = ember.data.DataLoader(Pairs(), batch_sampler=Batches())
    assert [batch[1].tolist() for batch in loader] == [[0, 2], [4]]
    assert DistributedSampler[int] is not None
    assert isinstance(Pairs(), Dataset) and isinstance(loader, ember.data.DataLoader)


@pytest.mark.parametrize("lengths", [[2, 3], [5, 0], [1, 1, 3]])
def test_random_split_draws_as_torch(torch, lengths):
    """The same splits from the same seed (negative lengths: see
    tests/reliability/test_dataloader_misuse.py)."""
    ours = ember.utils.data.random_split(range(5), lengths,
                                         generator=ember.Generator().manual_seed(0))
    theirs = torch.utils.data.random_split(range(5), lengths,
                                           generator=torch.Generator().manual_seed(0))
    assert [list(split) for split in ours] == [list(split) for split in theirs]


@pytest.mark.parametrize("index", [5, 9, -6])
def test_concat_dataset_index_out_of_range_fails_like_torch(torch, index):
    assert_raises_like_torch(
        lambda: torch.utils.data.ConcatDataset([range(2), range(3)])[index],
        lambda: ember.utils.data.ConcatDataset([range(2), range(3)])[index],
        Exception, same_type=True)


@pytest.mark.parametrize("make", [
    lambda lib: lib.utils.data.TensorDataset(lib.ones(2), [1, 2]),
    lambda lib: lib.utils.data.TensorDataset([1, 2], lib.ones(2)),
    lambda lib: lib.utils.data.TensorDataset(lib.ones(2), lib.ones(3), [1]),
    lambda lib: lib.utils.data.TensorDataset(lib.ones(2), lib.tensor(1.0)),
    lambda lib: lib.utils.data.TensorDataset(lib.tensor(1.0)),
    lambda lib: lib.utils.data.TensorDataset(lib.ones(2), np.ones(2)),
], ids=["list second", "list first", "mismatch before list", "0-d second", "0-d", "ndarray"])
def test_tensor_dataset_misuse_fails_like_torch(torch, make):
    """PyTorch compares tensors[0].size(0) with each tensor's in turn; the first failure wins."""
    assert_raises_like_torch(lambda: make(torch), lambda: make(ember), Exception, same_type=True)


class _Batched:
    """A dataset with its own __getitems__ that returns ``count`` items at most."""

    def __init__(self, count):
        self.count = count

    def __len__(self):
        return 3

    def __getitem__(self, index):
        return index * 10

    def __getitems__(self, indices):
        return [index * 100 for index in indices][:self.count]


@pytest.mark.parametrize("named", [False, True])
def test_stack_dataset_getitems_uses_each_datasets_batch_fetch_like_torch(torch, named):
    """StackDataset.__getitems__ (which the DataLoader calls per batch) fetches through a nested
    dataset's own __getitems__, as PyTorch's: its values, not __getitem__'s, reach the batch."""
    def batches(library):
        data = library.utils.data
        stacked = (data.StackDataset(a=_Batched(5), b=range(3)) if named
                   else data.StackDataset(_Batched(5), range(3)))
        loader = data.DataLoader(stacked, batch_size=2, collate_fn=lambda batch: batch)
        return stacked.__getitems__([0, 2]), list(loader)

    assert batches(ember) == batches(torch)
    assert_raises_like_torch(
        lambda: torch.utils.data.StackDataset(_Batched(1), range(3)).__getitems__([0, 2]),
        lambda: ember.utils.data.StackDataset(_Batched(1), range(3)).__getitems__([0, 2]),
        ValueError, same_type=True)
