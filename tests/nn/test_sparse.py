"""Sparse functions against PyTorch: one_hot, and EmbeddingBag with every mode and option."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from tests.conftest import (
    assert_close, assert_raises_like_torch, compare_with_torch, float_array, gradcheck_arrays,
    load_torch_state)


@pytest.mark.parametrize("values, num_classes", [([1, 0, 3], -1), ([[1, 2], [0, 0]], 5),
                                                 ([], 3)])
def test_one_hot_matches_torch(torch, values, num_classes):
    ours = F.one_hot(ember.tensor(values, dtype=ember.int64), num_classes)
    theirs = torch.nn.functional.one_hot(torch.tensor(values, dtype=torch.int64), num_classes)
    assert_close(ours, theirs)


@pytest.mark.parametrize("values, num_classes, dtype", [
    ([1, -1], -1, "int64"), ([1, 4], 3, "int64"), ([], -1, "int64"), ([1, 2], 3, "int32")])
def test_one_hot_errors_match_torch(torch, values, num_classes, dtype):
    assert_raises_like_torch(
        lambda: torch.nn.functional.one_hot(torch.tensor(values, dtype=getattr(torch, dtype)),
                                            num_classes),
        lambda: F.one_hot(ember.tensor(values, dtype=getattr(ember, dtype)), num_classes),
        RuntimeError)


BAG_INDICES = np.array([1, 2, 4, 5, 4, 3, 2, 9])
EMBEDDING_BAG_CASES = [
    ({}, np.array([0, 2, 2, 5])),
    ({"mode": "sum"}, np.array([0, 2, 2, 5])),
    ({"mode": "max"}, np.array([0, 2, 2, 5])),
    ({"mode": "mean", "padding_idx": 4}, np.array([0, 3, 5])),
    ({"mode": "sum", "include_last_offset": True}, np.array([0, 2, 5, 8])),
    ({"mode": "max"}, None),
]


@pytest.mark.parametrize("options, offsets", EMBEDDING_BAG_CASES, ids=str)
def test_embedding_bag_matches_torch_with_its_weights(torch, options, offsets):
    theirs = torch.nn.EmbeddingBag(10, 3, **options)
    ours = nn.EmbeddingBag(10, 3, **options)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    load_torch_state(ours, theirs)
    indices = BAG_INDICES.reshape(2, 4) if offsets is None else BAG_INDICES
    our_args = [ember.tensor(indices)] + ([] if offsets is None else [ember.tensor(offsets)])
    their_args = [torch.tensor(indices)] + ([] if offsets is None else [torch.tensor(offsets)])
    our_out = ours(*our_args)
    their_out = theirs(*their_args)
    assert_close(our_out.detach(), their_out.detach())
    weights = np.random.default_rng(3).standard_normal(tuple(their_out.shape)).astype(np.float32)
    (our_out * ember.tensor(weights)).sum().backward()
    (their_out * torch.tensor(weights)).sum().backward()
    assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-5, atol=1e-6)


def test_embedding_bag_per_sample_weights_match_torch(torch):
    weight = float_array((10, 3))
    sample_weights = float_array((8,), seed=4)
    offsets = np.array([0, 3])

    def ours(table, scale):
        return F.embedding_bag(ember.tensor(BAG_INDICES), table, ember.tensor(offsets),
                               mode="sum", per_sample_weights=scale)

    def theirs(table, scale):
        return torch.nn.functional.embedding_bag(torch.tensor(BAG_INDICES), table,
                                                 torch.tensor(offsets), mode="sum",
                                                 per_sample_weights=scale)

    compare_with_torch(torch, ours, theirs, [weight, sample_weights])
    gradcheck_arrays(ours, [weight, sample_weights])


def test_embedding_bag_errors_match_torch(torch):
    for call, error in [
            (lambda lib: lib.nn.functional.embedding_bag(lib.tensor([1, 2]), lib.zeros(4, 2)),
             ValueError),
            (lambda lib: lib.nn.functional.embedding_bag(lib.tensor([1, 2]), lib.zeros(4, 2),
                                                         lib.tensor([0]), mode="median"),
             ValueError),
            (lambda lib: lib.nn.functional.embedding_bag(
                lib.tensor([1, 2]), lib.zeros(4, 2), lib.tensor([0]),
                per_sample_weights=lib.ones(2)), NotImplementedError),
            (lambda lib: lib.nn.functional.embedding_bag(lib.tensor([1, 7]), lib.zeros(4, 2),
                                                         lib.tensor([0])), RuntimeError)]:
        assert_raises_like_torch(lambda: call(torch), lambda: call(ember), error)
