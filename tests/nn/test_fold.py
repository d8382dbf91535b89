"""F.unfold/F.fold and the Unfold/Fold layers against PyTorch."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradgradcheck
from tests.conftest import (
    assert_raises_like_torch, compare_with_torch, float_array, gradcheck_arrays)
from tests.nn.higher_order import assert_derivatives_match_torch, random_arrays


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


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.functional.unfold(lib.zeros(5, 10), ...),
    lambda lib: lib.nn.functional.fold(lib.zeros(5, 10), ..., 2),
    lambda lib: lib.nn.functional.unfold(lib.zeros(1, 1, 4, 4), 2, stride=...),
    lambda lib: lib.nn.functional.unfold(lib.zeros(1, 1, 4, 4), 2.0),
    lambda lib: lib.nn.Unfold(kernel_size=..., dilation=..., padding=..., stride=...)(
        lib.ones(5, 10)),
])
def test_unfold_and_fold_refuse_non_int_sizes_first_like_torch(torch, call):
    """PyTorch's docstring example (``kernel_size=...``): its argument parser's TypeError comes
    before any check of the input's dims."""
    with pytest.raises(TypeError):
        call(torch)
    with pytest.raises(TypeError, match="must be an int or a tuple of ints"):
        call(ember)


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.functional.unfold(lib.zeros(1, 1, 4, 4), (2, 2, 2)),
    lambda lib: lib.nn.functional.fold(lib.zeros(1, 4, 9), (4, 4, 1), 2),
])
def test_unfold_and_fold_refuse_sizes_of_three_like_torch(torch, call):
    with pytest.raises(RuntimeError) as expected:
        call(torch)
    with pytest.raises(RuntimeError) as got:
        call(ember)
    assert str(got.value).endswith(str(expected.value))


@pytest.mark.parametrize("shape, options", [case for case in FOLD_CASES if len(case[0]) == 4],
                         ids=str)
def test_unfold_and_fold_third_derivatives_match_torch(torch, shape, options):
    """Unfold and Fold are each other's gradient: every order is differentiable."""
    assert_derivatives_match_torch(torch, lambda fw, x: fw.nn.functional.unfold(x, **options),
                                   random_arrays([shape]), orders=3)
    columns = torch.nn.functional.unfold(torch.zeros(shape, dtype=torch.float64),
                                         **options).shape
    assert_derivatives_match_torch(
        torch, lambda fw, x: fw.nn.functional.fold(x, shape[-2:], **options),
        random_arrays([tuple(columns)]), orders=3)


def test_unfold_and_fold_gradgradcheck():
    x = ember.tensor(np.random.default_rng(8).standard_normal((1, 2, 4, 5)), requires_grad=True)
    assert gradgradcheck(lambda x: F.unfold(x, 2, padding=1, stride=2), (x,))
    columns = ember.tensor(np.random.default_rng(9).standard_normal((1, 8, 9)),
                           requires_grad=True)
    assert gradgradcheck(lambda x: F.fold(x, (4, 5), 2, padding=1, stride=2), (columns,))


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "float16", "bfloat16"])
@pytest.mark.parametrize("name", ["unfold", "fold"])
def test_fold_and_unfold_dtypes_like_torch(torch, name, dtype):
    """im2col and col2im take floating point, complex and bool tensors; integers are refused by
    PyTorch's kernels (NotImplementedError naming im2col_out_cpu / col2im_out_cpu)."""
    def call(fw):
        def run():
            functional = fw.nn.functional
            if name == "unfold":
                return functional.unfold(fw.ones(1, 1, 4, 4).to(getattr(fw, dtype)), 2)
            return functional.fold(fw.ones(1, 4, 4).to(getattr(fw, dtype)), (3, 3), 2)
        return run
    try:
        expected = call(torch)()
    except NotImplementedError:
        assert_raises_like_torch(call(torch), call(ember), NotImplementedError)
        return
    ours = call(ember)()
    np.testing.assert_array_equal(ours.float().numpy(), expected.float().numpy())


def test_unfold_of_a_5d_input_is_refused_like_torch(torch):
    def call(fw):
        return lambda: fw.nn.functional.unfold(fw.ones(1, 1, 3, 3, 3), 2)
    assert_raises_like_torch(call(torch), call(ember), RuntimeError)
