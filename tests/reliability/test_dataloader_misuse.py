"""DataLoader, sampler and dataset misuse side by side with PyTorch: the same exception type, and
the same message where PyTorch's says what went wrong."""
import numpy as np
import pytest

import ember


class _Classes:
    """The classes a case needs, from ``torch.utils.data`` or ``ember.data``."""

    def __init__(self, package, tensors):
        self.package = package
        self.tensors = tensors

        class NoLength(package.Dataset):
            def __getitem__(self, index):
                return index

        class Stream(package.IterableDataset):
            def __iter__(self):
                return iter(range(5))

        self.NoLength = NoLength
        self.Stream = Stream

    def __getattr__(self, name):
        return getattr(self.package, name)


DATA = list(range(10))

# name -> (case, whether ember's message must equal torch's)
CASES = {
    "batch_size 0": (lambda d: d.DataLoader(DATA, batch_size=0), True),
    "batch_size -1": (lambda d: d.DataLoader(DATA, batch_size=-1), True),
    "batch_size 2.5": (lambda d: d.DataLoader(DATA, batch_size=2.5), True),
    "batch_size str": (lambda d: d.DataLoader(DATA, batch_size="4"), True),
    "batch_size True": (lambda d: len(d.DataLoader(DATA, batch_size=True)), True),
    "batch_size None with drop_last": (lambda d: d.DataLoader(DATA, batch_size=None,
                                                              drop_last=True), True),
    "num_workers -1": (lambda d: d.DataLoader(DATA, num_workers=-1), True),
    "num_workers 1.5": (lambda d: list(d.DataLoader(DATA, num_workers=1.5)), True),
    "num_workers str": (lambda d: d.DataLoader(DATA, num_workers="2"), True),
    "timeout -1": (lambda d: d.DataLoader(DATA, timeout=-1), True),
    "timeout str": (lambda d: d.DataLoader(DATA, timeout="5"), True),
    "timeout without workers": (lambda d: iter(d.DataLoader(DATA, timeout=5)), True),
    "timeout None": (lambda d: d.DataLoader(DATA, timeout=None), True),
    "prefetch without workers": (lambda d: d.DataLoader(DATA, prefetch_factor=2), True),
    "prefetch -1": (lambda d: d.DataLoader(DATA, num_workers=1, prefetch_factor=-1), True),
    "persistent without workers": (lambda d: d.DataLoader(DATA, persistent_workers=True), True),
    "sampler and shuffle": (lambda d: d.DataLoader(DATA, sampler=[0, 1], shuffle=True), True),
    "batch_sampler and batch_size": (lambda d: d.DataLoader(DATA, batch_sampler=[[0]],
                                                            batch_size=2), True),
    "batch_sampler and drop_last": (lambda d: d.DataLoader(DATA, batch_sampler=[[0]],
                                                           drop_last=True), True),
    "drop_last str": (lambda d: d.DataLoader(DATA, drop_last="yes"), True),
    "shuffle str": (lambda d: len(d.DataLoader(DATA, shuffle="yes")), True),
    "dataset without len": (lambda d: d.DataLoader(d.NoLength()), True),
    "len of a loader without len": (lambda d: len(d.DataLoader(d.NoLength(), sampler=[0])),
                                    True),
    "stream with shuffle": (lambda d: d.DataLoader(d.Stream(), shuffle=True), False),
    "stream with sampler": (lambda d: d.DataLoader(d.Stream(), sampler=[0]), False),
    "len of a stream": (lambda d: len(d.DataLoader(d.Stream())), True),
    "collate_fn not callable": (lambda d: list(d.DataLoader(DATA, collate_fn=3)), True),
    "context without workers": (lambda d: d.DataLoader(DATA, multiprocessing_context="spawn"),
                                True),
    "unknown context": (lambda d: d.DataLoader(DATA, num_workers=1,
                                               multiprocessing_context="nope"), True),
    "context of a wrong type": (lambda d: d.DataLoader(DATA, num_workers=1,
                                                       multiprocessing_context=3), True),
    "generator of a wrong type": (lambda d: list(d.DataLoader(DATA, shuffle=True,
                                                              generator=3)), False),
    "batch_size set after init": (lambda d: setattr(d.DataLoader(DATA), "batch_size", 3), True),
    "no dataset": (lambda d: d.DataLoader(None), True),
    "tensors of different lengths": (lambda d: d.TensorDataset(d.tensors.zeros(3),
                                                               d.tensors.zeros(4)), False),
    "0-d tensor": (lambda d: d.TensorDataset(d.tensors.tensor(1.0)), False),
    "no datasets to concatenate": (lambda d: d.ConcatDataset([]), True),
    "concatenated stream": (lambda d: d.ConcatDataset([d.Stream()]), True),
    "concatenated index out of range": (lambda d: d.ConcatDataset([DATA, DATA])[20], False),
    "concatenated index below -len": (lambda d: d.ConcatDataset([DATA, DATA])[-21], True),
    "subset index out of range": (lambda d: d.Subset(DATA, [0, 11])[1], True),
    "split lengths not summing": (lambda d: d.random_split(DATA, [3, 3]), True),
    "split fractions not summing": (lambda d: d.random_split(DATA, [0.5, 0.6]), True),
    "split fraction above 1": (lambda d: d.random_split(DATA, [1.5, -0.5]), True),
    "stacked lengths differ": (lambda d: d.StackDataset(DATA, list(range(3))), True),
    "nothing stacked": (lambda d: d.StackDataset(), True),
    "stacked both ways": (lambda d: d.StackDataset(DATA, a=DATA), True),
    "chained map-style dataset": (lambda d: list(d.ChainDataset([DATA])), True),
    "len of chained map-style": (lambda d: len(d.ChainDataset([DATA])), True),
}


def _outcome(call):
    try:
        result = call()
    except Exception as error:  # noqa: BLE001 (the test compares whatever is raised)
        return type(error).__name__, str(error)
    return "ok", result if isinstance(result, int) else None


@pytest.mark.parametrize("name", list(CASES))
def test_misuse_matches_torch(torch, name):
    case, same_message = CASES[name]
    expected = _outcome(lambda: case(_Classes(torch.utils.data, torch)))
    got = _outcome(lambda: case(_Classes(ember.data, ember)))
    assert got[0] == expected[0], (got, expected)
    if got[0] == "ok" or same_message:
        assert got[1] == expected[1]


SAMPLER_CASES = {
    "no samples": lambda s: s.RandomSampler([]),
    "num_samples 0": lambda s: s.RandomSampler(range(3), num_samples=0),
    "num_samples -1": lambda s: s.RandomSampler(range(3), num_samples=-1),
    "num_samples 2.0": lambda s: s.RandomSampler(range(3), num_samples=2.0),
    "num_samples True": lambda s: len(s.RandomSampler(range(3), num_samples=True)),
    "num_samples int64": lambda s: s.RandomSampler(range(3), num_samples=np.int64(3)),
    "replacement 1": lambda s: s.RandomSampler(range(3), replacement=1),
    "empty with replacement": lambda s: list(s.RandomSampler([], True, num_samples=3)),
    "empty without": lambda s: list(s.RandomSampler([], num_samples=3)),
    "weighted num_samples 0": lambda s: s.WeightedRandomSampler([1, 2], 0),
    "weighted num_samples True": lambda s: s.WeightedRandomSampler([1, 2], True),
    "weighted replacement str": lambda s: s.WeightedRandomSampler([1, 2], 2, replacement="x"),
    "weighted 2d": lambda s: s.WeightedRandomSampler([[1, 2]], 2),
    "weighted 0d": lambda s: s.WeightedRandomSampler(3.0, 2),
    "weighted negative": lambda s: list(s.WeightedRandomSampler([-1.0, 2.0], 2)),
    "weighted negative built": lambda s: len(s.WeightedRandomSampler([-1.0, 2.0], 2)),
    "weighted nan": lambda s: list(s.WeightedRandomSampler([float("nan"), 2.0], 2)),
    "weighted inf": lambda s: list(s.WeightedRandomSampler([float("inf"), 2.0], 2)),
    "weighted zeros": lambda s: list(s.WeightedRandomSampler([0.0, 0.0], 2)),
    "weighted empty": lambda s: list(s.WeightedRandomSampler([], 2)),
    "weighted too many": lambda s: list(s.WeightedRandomSampler([1.0, 2.0], 3, False)),
    "batch 0": lambda s: s.BatchSampler(range(3), 0, False),
    "batch True": lambda s: s.BatchSampler(range(3), True, False),
    "batch drop_last str": lambda s: s.BatchSampler(range(3), 2, "no"),
    "batch len of iterator": lambda s: len(s.BatchSampler(iter(range(3)), 2, False)),
}


@pytest.mark.parametrize("case", list(SAMPLER_CASES))
def test_sampler_misuse_matches_torch(torch, case):
    expected = _outcome(lambda: SAMPLER_CASES[case](torch.utils.data))
    got = _outcome(lambda: SAMPLER_CASES[case](ember.data))
    assert got[0] == expected[0], (got, expected)
    if got[0] == "ok":
        assert got[1] == expected[1]
    elif case != "empty with replacement":
        assert got[1] == expected[1]  # ember says more for this one, in torch's type


def test_negative_split_lengths_are_refused_where_torch_returns_overlapping_subsets(torch):
    subsets = torch.utils.data.random_split(DATA, [-1, 11])
    assert [len(subset) for subset in subsets] == [9, 1]  # not the lengths asked for
    with pytest.raises(ValueError, match=r"lengths must be non-negative, got \[-1, 11\]"):
        ember.data.random_split(DATA, [-1, 11])


def test_an_integer_numpy_batch_size_is_refused_like_torch(torch):
    with pytest.raises(ValueError) as expected:
        torch.utils.data.DataLoader(DATA, batch_size=np.int64(2))
    with pytest.raises(ValueError) as got:
        ember.data.DataLoader(DATA, batch_size=np.int64(2))
    assert str(got.value) == str(expected.value)
