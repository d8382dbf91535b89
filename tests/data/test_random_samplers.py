"""Samplers draw lazily (PyTorch's chunks): huge ``num_samples`` cost nothing up front; lengths
equal PyTorch's; the draws have the right distribution. Orders with a given seed are ember's own
(another random generator than PyTorch's). Misuse: tests/reliability/test_dataloader_misuse.py."""
import itertools

import numpy as np
import pytest

import ember
from ember.data import BatchSampler, DataLoader, RandomSampler, WeightedRandomSampler

HUGE = 10 ** 10


def _first(sampler, count):
    return list(itertools.islice(iter(sampler), count))


def test_huge_num_samples_cost_nothing_up_front():
    with_replacement = RandomSampler(range(7), replacement=True, num_samples=HUGE)
    assert len(with_replacement) == HUGE
    assert all(0 <= index < 7 for index in _first(with_replacement, 100))
    repeated = RandomSampler(range(7), num_samples=HUGE)  # permutation after permutation
    first = _first(repeated, 14)
    assert sorted(first[:7]) == sorted(first[7:]) == list(range(7))
    weighted = WeightedRandomSampler([0.0, 1.0, 2.0], HUGE)
    assert len(weighted) == HUGE and set(_first(weighted, 100)) <= {1, 2}
    batches = BatchSampler(with_replacement, 5, drop_last=False)
    assert len(batches) == HUGE // 5
    assert [len(batch) for batch in _first(batches, 3)] == [5, 5, 5]
    loader = DataLoader(list(range(7)), batch_size=4, sampler=with_replacement)
    assert len(loader) == HUGE // 4 and len(next(iter(loader))) == 4


@pytest.mark.parametrize("num_samples", [1, 31, 32, 33, 100])
def test_lengths_and_counts_match_torch(torch, num_samples):
    for replacement in (True, False):
        ours = RandomSampler(range(10), replacement=replacement, num_samples=num_samples)
        theirs = torch.utils.data.RandomSampler(range(10), replacement=replacement,
                                                num_samples=num_samples)
        assert len(ours) == len(theirs) == num_samples
        assert len(list(ours)) == len(list(theirs))
    weighted = WeightedRandomSampler([1.0, 2.0], num_samples)
    assert len(weighted) == len(list(weighted)) == num_samples


def test_without_replacement_each_block_of_n_is_a_permutation():
    drawn = list(RandomSampler(range(5), num_samples=13, generator=ember.Generator()))
    assert sorted(drawn[:5]) == sorted(drawn[5:10]) == list(range(5))
    assert len(set(drawn[10:])) == 3


def test_a_seeded_generator_repeats_and_the_default_one_is_read_once_per_epoch():
    def draws():
        return list(RandomSampler(range(50), replacement=True, num_samples=100,
                                  generator=ember.Generator().manual_seed(3)))

    assert draws() == draws()
    ember.manual_seed(5)
    uninterrupted = list(RandomSampler(range(50), replacement=True, num_samples=100))
    ember.manual_seed(5)
    iterator = iter(RandomSampler(range(50), replacement=True, num_samples=100))
    first = _first(iterator, 40)
    ember.rand(1000)  # e.g. dropout between batches: it must not change the rest of the epoch
    assert first + list(iterator) == uninterrupted


def test_weighted_draws_follow_the_weights():
    weights = np.array([0.0, 1.0, 2.0, 0.0, 5.0])
    drawn = np.array(list(WeightedRandomSampler(weights, 80000,
                                                generator=ember.Generator().manual_seed(0))))
    frequencies = np.bincount(drawn, minlength=5) / drawn.size
    np.testing.assert_allclose(frequencies, weights / weights.sum(), atol=0.01)
    assert frequencies[0] == frequencies[3] == 0.0


def test_weighted_without_replacement_takes_positive_weights_first_like_torch(torch):
    weights = [0.0, 3.0, 0.0, 1.0]
    for seed in range(20):
        ours = list(WeightedRandomSampler(weights, 3, replacement=False,
                                          generator=ember.Generator().manual_seed(seed)))
        theirs = list(torch.utils.data.WeightedRandomSampler(
            weights, 3, replacement=False, generator=torch.Generator().manual_seed(seed)))
        assert sorted(ours[:2]) == sorted(theirs[:2]) == [1, 3]
        assert len(set(ours)) == 3 and ours[2] in (0, 2)
    heavy_first = [list(WeightedRandomSampler([1.0, 9.0], 2, replacement=False))[0]
                   for _ in range(400)]
    assert 0.85 < heavy_first.count(1) / 400 < 0.95
