"""F.unfold/F.fold and the Unfold/Fold layers against PyTorch."""
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from tests.conftest import (
    assert_raises_like_torch, compare_with_torch, float_array, gradcheck_arrays)


FOLD_CASES = [
    ((2, 3, 5, 6), {"kernel_size": 2}),
    ((3, 5, 6), {"kernel_size": (2, 3), "padding": 1, "stride": 2, "dilation": (1, 2)}),
    ((2, 2, 7, 7), {"kernel_size": 3, "padding": (1, 0), "stride": (2, 1)}),
]


@pytest.mark.parametrize("shape, options", FOLD_CASES, ids=str)
def test_unfold_and_fold_match_torch(torch, shape, options):
    array = float_array(shape)
    compare_with_torch(torch, nn.Unfold(**options), torch.nn.Unfold(**options), [array])
    gradcheck_arrays(lambda x: F.unfold(x, **options), [array])
    columns = torch.nn.functional.unfold(torch.tensor(array), **options).numpy()
    compare_with_torch(torch, nn.Fold(shape[-2:], **options), torch.nn.Fold(shape[-2:], **options),
             [columns])
    gradcheck_arrays(lambda x: F.fold(x, shape[-2:], **options), [columns])
    assert repr(nn.Fold(shape[-2:], **options)) == repr(torch.nn.Fold(shape[-2:], **options))
    assert repr(nn.Unfold(**options)) == repr(torch.nn.Unfold(**options))


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.functional.unfold(lib.zeros(1, 1, 2, 2), 3),
    lambda lib: lib.nn.functional.fold(lib.zeros(2, 12, 10), (4, 5), 2),
    lambda lib: lib.nn.functional.fold(lib.zeros(2, 10, 12), (4, 5), 2),
    lambda lib: lib.nn.functional.fold(lib.zeros(2, 2, 12, 12), (4, 5), 2),
])
def test_unfold_and_fold_errors_match_torch(torch, call):
    assert_raises_like_torch(lambda: call(torch), lambda: call(ember), RuntimeError)
