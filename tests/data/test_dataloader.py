"""DataLoader: batching, shuffling, collation (vs torch's default_collate), workers, errors."""
import collections
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from ember.data import (
    BatchSampler, DataLoader, Dataset, IterableDataset, SequentialSampler, Subset, TensorDataset,
    default_collate, default_convert, get_worker_info, random_split)


class Samples(Dataset):
    """Samples that mix every collatable type."""

    def __init__(self, size):
        self.size = size

    def __getitem__(self, index):
        image = np.full((2, 3), index, dtype=np.float32)
        return {"image": ember.tensor(image), "label": index % 3, "weight": index / 2,
                "name": f"item{index}", "array": np.arange(3) + index}

    def __len__(self):
        return self.size


class Stream(IterableDataset):
    def __init__(self, size):
        self.size = size

    def __iter__(self):
        return iter(range(self.size))

    def __len__(self):
        return self.size


def _tensor_dataset(size=10):
    features = ember.arange(size * 3, dtype=ember.float32).reshape(size, 3)
    labels = ember.arange(size)
    return TensorDataset(features, labels)


def _labels(loader):
    return [batch[1].numpy().tolist() for batch in loader]


def test_batches_of_a_tensor_dataset():
    loader = DataLoader(_tensor_dataset(), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert isinstance(batches[0], list)
    assert batches[0][0].shape == (4, 3) and batches[0][0].dtype == ember.float32
    assert batches[0][1].dtype == ember.int64
    assert _labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    dropped = DataLoader(_tensor_dataset(), batch_size=4, drop_last=True)
    assert len(dropped) == 2 and _labels(dropped) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_len_matches_torch(torch):
    for size, batch_size, drop_last in [(10, 4, False), (10, 4, True), (8, 4, True), (3, 5, False)]:
        expected = len(torch.utils.data.DataLoader(range(size), batch_size=batch_size,
                                                   drop_last=drop_last))
        assert len(DataLoader(list(range(size)), batch_size=batch_size,
                              drop_last=drop_last)) == expected


def test_shuffle_is_seeded_and_complete():
    first = _labels(DataLoader(_tensor_dataset(), batch_size=3, shuffle=True,
                               generator=ember.Generator().manual_seed(4)))
    second = _labels(DataLoader(_tensor_dataset(), batch_size=3, shuffle=True,
                                generator=ember.Generator().manual_seed(4)))
    assert first == second
    assert sorted(sum(first, [])) == list(range(10))
    assert sum(first, []) != list(range(10))
    ember.manual_seed(9)
    loader = DataLoader(_tensor_dataset(), batch_size=3, shuffle=True)
    epoch_one = _labels(loader)
    epoch_two = _labels(loader)
    assert epoch_one != epoch_two
    ember.manual_seed(9)
    assert _labels(DataLoader(_tensor_dataset(), batch_size=3, shuffle=True)) == epoch_one


def test_sampler_and_batch_sampler():
    loader = DataLoader(_tensor_dataset(), batch_size=2, sampler=[9, 0, 5])
    assert _labels(loader) == [[9, 0], [5]]
    batch_sampler = [[1, 2, 3], [7], [0, 9]]
    loader = DataLoader(_tensor_dataset(), batch_sampler=batch_sampler)
    assert _labels(loader) == batch_sampler
    assert len(loader) == 3
    loader = DataLoader(_tensor_dataset(), batch_sampler=BatchSampler(
        SequentialSampler(range(10)), 6, drop_last=True))
    assert _labels(loader) == [[0, 1, 2, 3, 4, 5]]


def test_fast_path_equals_per_sample_collation():
    dataset = _tensor_dataset(17)
    train, _ = random_split(dataset, [12, 5], generator=ember.Generator().manual_seed(0))
    for source in (dataset, train, Subset(train, [3, 1, 4, 1, 5])):
        fast = list(DataLoader(source, batch_size=5, shuffle=True,
                               generator=ember.Generator().manual_seed(1)))
        slow = list(DataLoader(source, batch_size=5, shuffle=True,
                               generator=ember.Generator().manual_seed(1),
                               collate_fn=lambda batch: default_collate(batch)))
        assert len(fast) == len(slow)
        for fast_batch, slow_batch in zip(fast, slow):
            assert type(fast_batch) is type(slow_batch)
            for fast_tensor, slow_tensor in zip(fast_batch, slow_batch):
                assert fast_tensor.dtype == slow_tensor.dtype
                np.testing.assert_array_equal(fast_tensor.numpy(), slow_tensor.numpy())


def test_batches_do_not_alias_the_dataset():
    dataset = _tensor_dataset(4)
    batch = next(iter(DataLoader(dataset, batch_size=4)))
    batch[0].mul_(0)
    assert float(dataset.tensors[0].sum()) == sum(range(12))


def _describe(value, library):
    """A structural description of a collated value: containers, dtypes, shapes, values."""
    if isinstance(value, library.Tensor):
        return ("tensor", str(value.dtype).split(".")[-1], tuple(value.shape),
                value.detach().numpy().tolist())
    if isinstance(value, dict):
        return ("dict", {key: _describe(item, library) for key, item in value.items()})
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (type(value).__name__, [_describe(item, library) for item in value])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_describe(item, library) for item in value])
    return ("value", value)


Point = collections.namedtuple("Point", ["x", "y"])


def _batches(library):
    return [
        [library.tensor([1.0, 2.0]), library.tensor([3.0, 4.0])],
        [np.array([1, 2], dtype=np.int32), np.array([3, 4], dtype=np.int32)],
        [np.float32(1.5), np.float32(2.5)],
        [np.int64(3), np.int64(4)],
        [1.5, 2.5],
        [1, 2],
        [True, False],
        ["a", "b"],
        [(1, 2.0), (3, 4.0)],
        [[1, "x"], [2, "y"]],
        [Point(1, 2.0), Point(3, 4.0)],
        [{"a": 1, "b": [np.float64(0.5)]}, {"a": 2, "b": [np.float64(1.5)]}],
    ]


def test_default_collate_matches_torch(torch):
    from torch.utils.data import default_collate as torch_collate
    for ember_batch, torch_batch in zip(_batches(ember), _batches(torch)):
        expected = _describe(torch_collate(torch_batch), torch)
        actual = _describe(default_collate(ember_batch), ember)
        assert actual == expected, (ember_batch, actual, expected)


def test_default_convert_matches_torch(torch):
    from torch.utils.data import default_convert as torch_convert
    for sample in ([np.array([1.0, 2.0]), (np.int32(3), "s")], {"k": np.zeros(2)},
                   Point(np.float32(1.0), 2)):
        assert _describe(default_convert(sample), ember) == _describe(torch_convert(sample), torch)


def test_collate_errors():
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])


def test_mixed_samples_through_a_loader():
    batch = next(iter(DataLoader(Samples(5), batch_size=4)))
    assert batch["image"].shape == (4, 2, 3) and batch["image"].dtype == ember.float32
    assert batch["label"].dtype == ember.int64
    assert batch["weight"].dtype == ember.float64
    assert batch["name"] == ["item0", "item1", "item2", "item3"]
    assert batch["array"].shape == (4, 3) and batch["array"].dtype == ember.int64


def test_batch_size_none_converts_samples():
    loader = DataLoader(Samples(3), batch_size=None)
    items = list(loader)
    assert len(loader) == 3 and len(items) == 3
    assert isinstance(items[1]["array"], ember.Tensor)
    assert items[1]["label"] == 1


class SlowSquares(Dataset):
    """A dataset whose samples take a little NumPy work, for the worker tests."""

    def __getitem__(self, index):
        values = np.sin(np.arange(2000, dtype=np.float64) * (index + 1))
        return ember.tensor(values[:4].astype(np.float32)), index

    def __len__(self):
        return 37


@pytest.mark.parametrize("num_workers", [1, 2, 3])
def test_workers_do_not_change_order_or_values(num_workers):
    def load(workers):
        loader = DataLoader(SlowSquares(), batch_size=5, shuffle=True, num_workers=workers,
                            generator=ember.Generator().manual_seed(7))
        return list(loader)

    serial = load(0)
    parallel = load(num_workers)
    assert len(serial) == len(parallel) == 8
    for serial_batch, parallel_batch in zip(serial, parallel):
        np.testing.assert_array_equal(serial_batch[0].numpy(), parallel_batch[0].numpy())
        np.testing.assert_array_equal(serial_batch[1].numpy(), parallel_batch[1].numpy())


def test_worker_init_and_worker_info():
    seen = []
    lock = threading.Lock()

    class Recording(Dataset):
        def __getitem__(self, index):
            info = get_worker_info()
            with lock:
                seen.append((info.id, info.num_workers))
            return index

        def __len__(self):
            return 12

    initialised = []
    loader = DataLoader(Recording(), batch_size=2, num_workers=2,
                        worker_init_fn=lambda worker_id: initialised.append(worker_id))
    assert [batch.tolist() for batch in loader] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9],
                                                     [10, 11]]
    assert set(initialised) <= {0, 1} and initialised
    assert {number for _, number in seen} == {2}
    assert get_worker_info() is None


def test_breaking_out_of_a_threaded_loader():
    loader = DataLoader(SlowSquares(), batch_size=2, num_workers=2)
    for index, _ in enumerate(loader):
        if index == 1:
            break
    assert len(list(loader)) == 19


def test_worker_errors_reach_the_caller():
    class Broken(Dataset):
        def __getitem__(self, index):
            raise KeyError("broken sample")

        def __len__(self):
            return 4

    with pytest.raises(KeyError, match="broken sample"):
        list(DataLoader(Broken(), batch_size=2, num_workers=2))


def test_iterable_dataset():
    loader = DataLoader(Stream(10), batch_size=4)
    assert [batch.tolist() for batch in loader] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(loader) == 3
    dropped = DataLoader(Stream(10), batch_size=4, drop_last=True)
    assert [batch.tolist() for batch in dropped] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(dropped) == 2
    unbatched = DataLoader(Stream(3), batch_size=None)
    assert list(unbatched) == [0, 1, 2]


def _sharded_stream(library):
    """PyTorch's documented sharding of a stream between workers, by get_worker_info()."""
    class Sharded(library.utils.data.IterableDataset):
        def __init__(self, start, end):
            self.start, self.end = start, end

        def __iter__(self):
            info = library.utils.data.get_worker_info()
            if info is None:
                return iter(range(self.start, self.end))
            per_worker = -(-(self.end - self.start) // info.num_workers)
            low = self.start + info.id * per_worker
            return iter(range(low, min(low + per_worker, self.end)))

    return Sharded


def _plain_stream(library):
    class Plain(library.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(7))

    return Plain


def _shift_range(library):
    def worker_init_fn(worker_id):
        dataset = library.utils.data.get_worker_info().dataset
        dataset.start += 100 * worker_id
        dataset.end += 100 * worker_id
    return worker_init_fn


@pytest.mark.parametrize("kwargs", [
    {"batch_size": 3, "num_workers": 2}, {"batch_size": 2, "num_workers": 3, "drop_last": True},
    {"batch_size": None, "num_workers": 2}, {"batch_size": 4, "num_workers": 2, "unsharded": True},
    {"batch_size": 3, "num_workers": 2, "shift": True}])
def test_iterable_dataset_workers_read_their_own_copies_like_torch(torch, kwargs):
    # each worker iterates its own copy of the dataset (unsharded, every item comes once per
    # worker) and the batches alternate between the workers still running
    kwargs = dict(kwargs)
    unsharded = kwargs.pop("unsharded", False)
    shift = kwargs.pop("shift", False)
    results = []
    for library in (torch, ember):
        dataset = _sharded_stream(library)(3, 17)
        if unsharded:
            dataset = _plain_stream(library)()
        loader = library.utils.data.DataLoader(
            dataset, worker_init_fn=_shift_range(library) if shift else None, **kwargs)
        results.append([batch.tolist() if hasattr(batch, "tolist") else batch
                        for batch in loader])
    assert results[1] == results[0]
    if shift:
        assert results[1][1][0] >= 100 and dataset.start == 3  # the workers changed copies


def _random_samples(library):
    class RandomSamples(library.utils.data.Dataset):
        def __getitem__(self, index):
            return library.rand(1).item() + index

        def __len__(self):
            return 6

    return RandomSamples


@pytest.mark.parametrize("persistent", [False, True])
def test_persistent_workers_keep_their_streams_across_epochs_like_torch(torch, persistent):
    # PyTorch draws the workers' base seed when it starts them: every pass without
    # persistent_workers, once with them (the workers' streams then go on between passes)
    results = []
    for library in (torch, ember):
        library.manual_seed(0)
        loader = library.utils.data.DataLoader(_random_samples(library)(), batch_size=2,
                                               num_workers=2, persistent_workers=persistent)
        epochs = [[batch.tolist() for batch in loader] for _ in range(2)]
        results.append((epochs, library.rand(1).item()))
    np.testing.assert_allclose(np.array(results[1][0]), np.array(results[0][0]), rtol=1e-6)
    assert results[1][1] == results[0][1]


def _global_streams_in_workers(library):
    """Samples drawn from Python's and NumPy's global generators in two workers: seeded as
    PyTorch seeds its worker processes, reseeded by the reproducibility recipe's
    ``seed_worker``, their streams kept across passes by persistent workers; and the main
    process's draws afterwards, which the workers' never reach."""
    import random

    class GlobalDraws(library.utils.data.Dataset):
        def __getitem__(self, index):
            return library.tensor([index, np.random.rand(), random.random(),
                                   library.rand(1).item()], dtype=library.float64)

        def __len__(self):
            return 6

    def seed_worker(worker_id):
        worker_seed = library.initial_seed() % 2 ** 32
        np.random.seed(worker_seed)
        random.seed(worker_seed)

    library.manual_seed(0)
    np.random.seed(1)
    random.seed(2)
    generator = library.Generator()
    passes = []
    for options in ({}, {"worker_init_fn": seed_worker, "generator": generator},
                    {"worker_init_fn": seed_worker, "generator": generator},
                    {"persistent_workers": True}):
        generator.manual_seed(0)
        loader = library.utils.data.DataLoader(GlobalDraws(), batch_size=2, num_workers=2,
                                               **options)
        passes.append([[batch.tolist() for batch in loader] for _ in range(2)])
    return passes, np.random.rand(), random.random()


def test_workers_draw_from_their_own_python_and_numpy_streams_like_torch(torch):
    ours = _global_streams_in_workers(ember)
    theirs = _global_streams_in_workers(torch)
    np.testing.assert_allclose(np.array(ours[0]), np.array(theirs[0]), rtol=1e-6)
    assert ours[1:] == theirs[1:]
    assert ours[0][1] == ours[0][2]  # seed_worker makes a pass reproducible


def test_persistent_workers_run_worker_init_fn_once():
    started = []
    lock = threading.Lock()

    def worker_init_fn(worker_id):
        with lock:
            started.append(worker_id)

    class Ids(Dataset):
        def __getitem__(self, index):
            return get_worker_info().seed

        def __len__(self):
            return 4

    loader = DataLoader(Ids(), batch_size=1, num_workers=2, persistent_workers=True,
                        worker_init_fn=worker_init_fn)
    seeds = [[batch.item() for batch in loader] for _ in range(3)]
    assert sorted(started) == [0, 1]
    assert seeds[0] == seeds[1] == seeds[2] and seeds[0][1] == seeds[0][0] + 1


def test_iterable_dataset_worker_errors_reach_the_caller_and_a_break_stops_the_workers():
    class Failing(IterableDataset):
        def __iter__(self):
            yield 1
            raise KeyError("bad item")

    with pytest.raises(KeyError, match="bad item"):
        list(DataLoader(Failing(), batch_size=None, num_workers=2))
    for batch in DataLoader(Stream(10 ** 6), batch_size=2, num_workers=2):
        break
    assert batch.tolist() == [0, 1]


@pytest.mark.parametrize("kwargs", [
    {"shuffle": True, "sampler": [0, 1]},
    {"batch_sampler": [[0]], "batch_size": 2},
    {"batch_sampler": [[0]], "shuffle": True},
    {"batch_sampler": [[0]], "drop_last": True},
    {"batch_sampler": [[0]], "sampler": [0]},
    {"batch_size": None, "drop_last": True},
    {"num_workers": -1},
    {"prefetch_factor": 2},
    {"persistent_workers": True},
    {"timeout": -1},
])
def test_argument_conflicts_match_torch(torch, kwargs):
    with pytest.raises(Exception) as torch_error:
        torch.utils.data.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(Exception) as ember_error:
        DataLoader(list(range(4)), **kwargs)
    assert type(ember_error.value) is type(torch_error.value)
    assert str(ember_error.value) == str(torch_error.value)


def test_iterable_dataset_conflicts_match_torch(torch):
    class TorchStream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(3))

    for kwargs in ({"shuffle": True}, {"sampler": [0]}, {"batch_sampler": [[0]]}):
        with pytest.raises(ValueError) as torch_error:
            torch.utils.data.DataLoader(TorchStream(), **kwargs)
        with pytest.raises(ValueError) as ember_error:
            DataLoader(Stream(3), **kwargs)
        assert str(ember_error.value).split(", but got")[0] == \
            str(torch_error.value).split(", but got")[0]


def test_attributes_are_locked_after_init():
    loader = DataLoader(_tensor_dataset(), batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader"):
        loader.batch_size = 3
    loader.num_workers = 1
    assert loader.num_workers == 1


def test_alias_module():
    import ember.utils.data as alias
    assert alias.DataLoader is DataLoader
    assert alias.TensorDataset is TensorDataset


@settings(max_examples=40, deadline=None)
@given(size=st.integers(0, 40), batch_size=st.integers(1, 12), drop_last=st.booleans(),
       shuffle=st.booleans(), seed=st.integers(0, 2 ** 32 - 1))
def test_every_sample_once_per_epoch(size, batch_size, drop_last, shuffle, seed):
    dataset = TensorDataset(ember.arange(size))
    if size == 0 and shuffle:
        with pytest.raises(ValueError, match="num_samples should be a positive integer"):
            DataLoader(dataset, shuffle=True)
        return
    loader = DataLoader(dataset, batch_size=batch_size, drop_last=drop_last, shuffle=shuffle,
                        generator=ember.Generator().manual_seed(seed))
    batches = [batch[0].numpy().tolist() for batch in loader]
    assert len(batches) == len(loader)
    assert all(len(batch) == batch_size for batch in batches[:-1])
    seen = sum(batches, [])
    expected_count = size - size % batch_size if drop_last else size
    assert len(seen) == expected_count == len(set(seen))
    if not shuffle:
        assert seen == list(range(expected_count))


@pytest.mark.parametrize("workers", [0, 2])
def test_iterator_draws_and_shape_like_torch(torch, workers):
    """PyTorch's iterator with workers hands out its first batches when it is made, so a
    sampler's draws come before the program's next ones (DeepFM's iter(loader_val) before
    training, then dropout); without workers they come at the first batch. Both iterators
    have a len() and the class names PyTorch's error messages show."""
    seen = []
    for framework in (ember, torch):
        data = framework.utils.data
        dataset = data.TensorDataset(framework.arange(40.0))
        framework.manual_seed(0)
        subset = data.DataLoader(dataset, batch_size=4, num_workers=workers,
                                 sampler=data.SubsetRandomSampler(list(range(10))))
        iterator = iter(subset)
        after_iter = framework.rand(1).item()
        first = next(iterator)[0].tolist()
        framework.manual_seed(0)
        shuffled = data.DataLoader(dataset, batch_size=4, shuffle=True, num_workers=workers)
        iterator = iter(shuffled)
        draw = framework.rand(1).item()
        batches = [batch[0].tolist() for batch in iterator]
        seen.append((after_iter, first, draw, batches, type(iterator).__name__, len(iterator),
                     iterator._dataset is dataset))
    assert seen[0] == seen[1]
