"""DistributedSampler: lengths, padding and rank structure as PyTorch's; shuffles per epoch."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember.distributed as dist
from ember.distributed import DistributedSampler, UnpaddedDistributedSampler


class _Sized:
    def __init__(self, length):
        self.length = length

    def __len__(self):
        return self.length


CASES = [(length, replicas) for length in (0, 1, 2, 5, 7, 10, 11) for replicas in (1, 2, 3, 4)]


def _shards(length, replicas, **options):
    return [list(DistributedSampler(_Sized(length), num_replicas=replicas, rank=rank, **options))
            for rank in range(replicas)]


@pytest.mark.parametrize("length,replicas", CASES)
@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_indices_equal_torch(length, replicas, drop_last):
    torch_sampler = pytest.importorskip("torch.utils.data.distributed")
    for rank in range(replicas):
        ours = DistributedSampler(_Sized(length), replicas, rank, shuffle=False,
                                  drop_last=drop_last)
        theirs = torch_sampler.DistributedSampler(_Sized(length), replicas, rank, shuffle=False,
                                                  drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)
        assert ours.total_size == theirs.total_size


@pytest.mark.parametrize("length,replicas", CASES)
def test_shuffled_lengths_equal_torch(length, replicas):
    torch_sampler = pytest.importorskip("torch.utils.data.distributed")
    for drop_last in (False, True):
        ours = DistributedSampler(_Sized(length), replicas, 0, drop_last=drop_last)
        theirs = torch_sampler.DistributedSampler(_Sized(length), replicas, 0,
                                                  drop_last=drop_last)
        assert len(list(ours)) == len(ours) == len(theirs) == len(list(theirs))


@pytest.mark.parametrize("length,replicas", [(10, 3), (11, 4), (2, 3), (1, 4), (12, 4)])
def test_padded_shards_cover_the_dataset_with_the_start_repeated(length, replicas):
    for epoch in (0, 1):
        samplers = [DistributedSampler(_Sized(length), replicas, rank, seed=3)
                    for rank in range(replicas)]
        for sampler in samplers:
            sampler.set_epoch(epoch)
        shards = [list(sampler) for sampler in samplers]
        assert len({len(shard) for shard in shards}) == 1
        # Interleave back to the padded global order: a permutation, then its start repeated.
        total = sum(len(shard) for shard in shards)
        order = [shards[position % replicas][position // replicas] for position in range(total)]
        assert sorted(order[:length]) == list(range(length))
        padding = order[length:]
        assert padding == (order[:length] * replicas)[:len(padding)]


@pytest.mark.parametrize("length,replicas", [(10, 3), (11, 4), (9, 3), (5, 2)])
def test_drop_last_shards_are_disjoint_and_equal_sized(length, replicas):
    shards = _shards(length, replicas, drop_last=True)
    flat = [index for shard in shards for index in shard]
    assert len(flat) == len(set(flat)) == replicas * (length // replicas)
    assert len({len(shard) for shard in shards}) == 1


def test_set_epoch_changes_the_shuffle_and_seed_epoch_fix_it():
    sampler = DistributedSampler(_Sized(50), num_replicas=2, rank=1, seed=7)
    first = list(sampler)
    assert list(sampler) == first
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first
    assert sorted(first + list(DistributedSampler(_Sized(50), 2, 0, seed=7))) == list(range(50))
    again = DistributedSampler(_Sized(50), num_replicas=2, rank=1, seed=7)
    again.set_epoch(1)
    assert list(again) == second
    other_seed = DistributedSampler(_Sized(50), num_replicas=2, rank=1, seed=8)
    assert list(other_seed) != first


def test_shuffle_is_a_function_of_seed_plus_epoch():
    # PyTorch seeds its generator with seed + epoch, so (seed 2, epoch 3) == (seed 5, epoch 0).
    sampler = DistributedSampler(_Sized(30), num_replicas=3, rank=2, seed=2)
    sampler.set_epoch(3)
    assert list(sampler) == list(DistributedSampler(_Sized(30), num_replicas=3, rank=2, seed=5))


def test_invalid_rank_is_a_value_error_like_torch():
    with pytest.raises(ValueError,
                       match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"):
        DistributedSampler(_Sized(5), num_replicas=3, rank=3)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(_Sized(5), num_replicas=3, rank=-1)


def test_replicas_and_rank_come_from_the_process_group():
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(_Sized(5))
    dist.init_process_group()
    try:
        sampler = DistributedSampler(_Sized(5), shuffle=False)
        assert (sampler.num_replicas, sampler.rank) == (1, 0)
        assert list(sampler) == [0, 1, 2, 3, 4]
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("length,replicas", [(10, 3), (11, 4), (2, 3), (0, 2), (8, 4)])
def test_unpadded_sampler_partitions_the_dataset_exactly(length, replicas):
    for shuffle in (False, True):
        shards = [list(UnpaddedDistributedSampler(_Sized(length), replicas, rank, shuffle=shuffle))
                  for rank in range(replicas)]
        flat = sorted(index for shard in shards for index in shard)
        assert flat == list(range(length))
        assert [len(shard) for shard in shards] == [
            len(UnpaddedDistributedSampler(_Sized(length), replicas, rank))
            for rank in range(replicas)]


@settings(max_examples=60, deadline=None)
@given(length=st.integers(0, 40), replicas=st.integers(1, 6), drop_last=st.booleans(),
       seed=st.integers(0, 1000), epoch=st.integers(0, 5))
def test_property_shards_have_torch_structure(length, replicas, drop_last, seed, epoch):
    samplers = [DistributedSampler(_Sized(length), replicas, rank, seed=seed,
                                   drop_last=drop_last) for rank in range(replicas)]
    for sampler in samplers:
        sampler.set_epoch(epoch)
    shards = [list(sampler) for sampler in samplers]
    assert all(len(shard) == len(samplers[0]) for shard in shards)
    flat = [index for shard in shards for index in shard]
    if drop_last:
        assert len(flat) == len(set(flat)) == replicas * (length // replicas)
    else:
        assert set(flat) == set(range(length))
        assert len(flat) == replicas * -(-length // replicas)
