"""Distances (F.cosine_similarity, F.pairwise_distance and their layers) against PyTorch."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from tests.conftest import (
    assert_layer_like_torch, assert_raises_like_torch, compare_with_torch, float_array,
    gradcheck_arrays)


@pytest.mark.parametrize("shapes, dim", [(((4, 5), (4, 5)), 1), (((4, 5), (5,)), -1),
                                         (((2, 3, 4), (2, 3, 4)), 0),
                                         # pairwise (normalised before broadcasting), and
                                         # broadcast along dim (normalised after)
                                         (((6, 1, 4), (1, 5, 4)), -1), (((3, 1, 4), (5, 1)), 1),
                                         (((6, 1), (6, 7)), 1), (((5,), (5,)), 0)])
def test_cosine_similarity_matches_torch(torch, shapes, dim):
    arrays = [float_array(shape, seed=index) for index, shape in enumerate(shapes)]
    compare_with_torch(torch, lambda a, b: nn.CosineSimilarity(dim)(a, b),
             lambda a, b: torch.nn.CosineSimilarity(dim)(a, b), arrays)
    gradcheck_arrays(lambda a, b: F.cosine_similarity(a, b, dim), arrays)


def test_cosine_similarity_of_a_zero_vector_matches_torch(torch):
    arrays = [float_array((3, 4)), float_array((3, 4), seed=1)]
    arrays[0][1] = 0
    compare_with_torch(torch, F.cosine_similarity, torch.nn.functional.cosine_similarity, arrays)


@pytest.mark.parametrize("p, keepdim", [(2.0, False), (1.0, True), (3.0, False),
                                        (float("inf"), False)])
def test_pairwise_distance_matches_torch(torch, p, keepdim):
    arrays = [float_array((4, 5)), float_array((4, 5), seed=1)]
    compare_with_torch(torch, lambda a, b: nn.PairwiseDistance(p, keepdim=keepdim)(a, b),
             lambda a, b: torch.nn.PairwiseDistance(p, keepdim=keepdim)(a, b), arrays)
    if p != float("inf"):
        gradcheck_arrays(lambda a, b: F.pairwise_distance(a, b, p), arrays)


def test_distance_shape_errors_match_torch(torch):
    assert_raises_like_torch(
        lambda: torch.nn.functional.cosine_similarity(torch.zeros(3, 4), torch.zeros(3, 5)),
        lambda: F.cosine_similarity(ember.zeros(3, 4), ember.zeros(3, 5)), RuntimeError)


@pytest.mark.parametrize("expression", ["CosineSimilarity()", "PairwiseDistance()"])
def test_module_reprs_match_torch(torch, expression):
    assert_layer_like_torch(torch, expression)


@pytest.mark.parametrize("p", [2.0, 1.0, 0.0, 3.0, float("inf")])
def test_pdist_matches_torch(torch, p):
    values = np.random.default_rng(0).standard_normal((5, 3))
    values[3] = values[1]  # a zero distance: its gradient is 0, as in PyTorch
    results = []
    for module in (ember, torch):
        x = module.tensor(values, requires_grad=True)
        distances = module.nn.functional.pdist(x, p)
        (distances * module.arange(10, dtype=module.float64)).sum().backward()
        results.append((distances.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-10, atol=1e-12)
    assert tuple(ember.nn.functional.pdist(ember.ones(1, 3)).shape) == (0,)
    for bad in [ember.ones(3), ember.ones(2, 3, 4)]:
        with pytest.raises(RuntimeError, match="pdist only supports 2D tensors"):
            ember.nn.functional.pdist(bad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_euclidean_pdist_kernel_and_composite_match_torch(torch, dtype):
    """pdist(x, 2) by the compiled pair kernels (equal rows included: distance 0, gradient 0)
    and by the composite of gathers and a norm: torch's values, gradient and node name, its
    double-backward refusal, and a float64 gradcheck."""
    import contextlib

    from ember import _jit
    rng = np.random.default_rng(16)
    array = rng.standard_normal((9, 6)).astype(dtype)
    array[4] = array[1]
    leaf = torch.tensor(array, requires_grad=True)
    theirs = torch.nn.functional.pdist(leaf)
    weights = rng.standard_normal(tuple(theirs.shape)).astype(dtype)
    (theirs * torch.tensor(weights)).sum().backward()
    tolerance = 1e-6 if dtype == np.float32 else 1e-13
    for disabled in (False, True):
        ours_leaf = ember.tensor(array, requires_grad=True)
        with _jit.disabled() if disabled else contextlib.nullcontext():
            ours = F.pdist(ours_leaf)
            (ours * ember.tensor(weights)).sum().backward()
        assert ours.grad_fn.name() == theirs.grad_fn.name()
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(),
                                   rtol=tolerance, atol=tolerance)
        np.testing.assert_allclose(ours_leaf.grad.numpy(), leaf.grad.numpy(), rtol=tolerance,
                                   atol=tolerance)
    x = ember.tensor(array.astype(np.float64)[:5] + np.arange(5)[:, None], requires_grad=True)
    assert ember.autograd.gradcheck(lambda value: F.pdist(value), (x,))
    (first,) = ember.autograd.grad(F.pdist(x).sum(), x, create_graph=True)
    with pytest.raises(NotImplementedError, match="_pdist_backward"):
        ember.autograd.grad(first.sum(), x)


DISTANCE_DTYPE_ERRORS = {
    "cosine_similarity_int64": lambda fw: fw.nn.functional.cosine_similarity(
        fw.ones(2, 3, dtype=fw.int64), fw.ones(2, 3, dtype=fw.int64)),
    "cosine_similarity_bool": lambda fw: fw.nn.functional.cosine_similarity(
        fw.ones(2, 3, dtype=fw.bool), fw.ones(2, 3, dtype=fw.bool)),
    "cosine_similarity_complex": lambda fw: fw.nn.functional.cosine_similarity(
        fw.ones(2, 3, dtype=fw.complex64), fw.ones(2, 3, dtype=fw.complex64)),
    "pdist_int64": lambda fw: fw.nn.functional.pdist(fw.ones(2, 3, dtype=fw.int64)),
    "pdist_bool": lambda fw: fw.nn.functional.pdist(fw.ones(2, 3, dtype=fw.bool)),
    "pdist_complex": lambda fw: fw.nn.functional.pdist(fw.ones(2, 3, dtype=fw.complex64)),
    "pdist_half": lambda fw: fw.nn.functional.pdist(fw.ones(2, 3).half()),
    "pdist_bfloat16": lambda fw: fw.nn.functional.pdist(fw.ones(2, 3).bfloat16()),
    "cdist_half": lambda fw: fw.cdist(fw.ones(2, 3).half(), fw.ones(2, 3).half()),
}


@pytest.mark.parametrize("name", list(DISTANCE_DTYPE_ERRORS))
def test_distance_dtype_errors_match_torch(torch, name):
    call = DISTANCE_DTYPE_ERRORS[name]
    assert_raises_like_torch(lambda: call(torch), lambda: call(ember), same_type=True)


def test_cosine_similarity_promotes_integer_and_float_inputs_like_torch(torch):
    values = np.arange(6.0).reshape(2, 3) - 2
    ours = F.cosine_similarity(ember.tensor(values.astype(np.int64)),
                               ember.tensor(values[::-1].astype(np.float32)))
    theirs = torch.nn.functional.cosine_similarity(torch.tensor(values.astype(np.int64)),
                                                   torch.tensor(values[::-1].astype(np.float32)))
    assert ours.dtype == ember.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
