"""Margin, embedding and likelihood losses against PyTorch: values for every reduction, every
input gradient, float64 gradchecks, module reprs and state_dicts, errors."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd.gradcheck import gradcheck
from tests.conftest import assert_close

REDUCTIONS = ["mean", "sum", "none"]


def _uniform(shape, seed, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)


def _signs(shape, seed):
    return np.where(np.random.default_rng(seed).random(shape) < 0.5, -1.0, 1.0).astype(np.float32)


# name -> (module name, module kwargs, [(array, differentiable)] factory)
CASES = {
    "margin_ranking": ("MarginRankingLoss", {}, lambda: [
        (_uniform((6,), 0), True), (_uniform((6,), 1), True), (_signs((6,), 2), False)]),
    "margin_ranking_margin": ("MarginRankingLoss", {"margin": 0.5}, lambda: [
        (_uniform((6,), 0), True), (_uniform((6,), 1), True), (_signs((6,), 2), False)]),
    "soft_margin": ("SoftMarginLoss", {}, lambda: [
        (_uniform((4, 5), 0), True), (_signs((4, 5), 1), False)]),
    "cosine_embedding": ("CosineEmbeddingLoss", {}, lambda: [
        (_uniform((5, 4), 0), True), (_uniform((5, 4), 1), True), (_signs((5,), 2), False)]),
    "cosine_embedding_margin": ("CosineEmbeddingLoss", {"margin": 0.2}, lambda: [
        (_uniform((5, 4), 0), True), (_uniform((5, 4), 1), True), (_signs((5,), 2), False)]),
    "cosine_embedding_0d": ("CosineEmbeddingLoss", {"margin": -0.5}, lambda: [
        (_uniform((4,), 0), True), (_uniform((4,), 1), True),
        (np.array(-1.0, dtype=np.float32), False)]),
    "hinge_embedding": ("HingeEmbeddingLoss", {}, lambda: [
        (_uniform((4, 5), 0), True), (_signs((4, 5), 1), False)]),
    "hinge_embedding_margin": ("HingeEmbeddingLoss", {"margin": 2.5}, lambda: [
        (_uniform((4, 5), 0), True), (_signs((4, 5), 1), False)]),
    "poisson_log": ("PoissonNLLLoss", {}, lambda: [
        (_uniform((4, 5), 0), True), (_uniform((4, 5), 1, 0.0, 4.0), False)]),
    "poisson_rate_full": ("PoissonNLLLoss", {"log_input": False, "full": True}, lambda: [
        (_uniform((4, 5), 0, 0.1, 3.0), True), (_uniform((4, 5), 1, 0.0, 4.0), False)]),
    "poisson_log_full": ("PoissonNLLLoss", {"full": True, "eps": 1e-4}, lambda: [
        (_uniform((4, 5), 0), True), (_uniform((4, 5), 1, 0.0, 4.0), False)]),
    "gaussian": ("GaussianNLLLoss", {}, lambda: [
        (_uniform((4, 3), 0), True), (_uniform((4, 3), 1), False),
        (_uniform((4, 3), 2, 0.1, 2.0), True)]),
    "gaussian_full_missing_dim": ("GaussianNLLLoss", {"full": True}, lambda: [
        (_uniform((4, 3), 0), True), (_uniform((4, 3), 1), True),
        (_uniform((4,), 2, 0.1, 2.0), True)]),
    "gaussian_heteroscedastic_clamped": ("GaussianNLLLoss", {"eps": 0.3}, lambda: [
        (_uniform((4, 3), 0), True), (_uniform((4, 3), 1), False),
        (_uniform((4, 1), 2, 0.0, 1.0), True)]),
    "triplet": ("TripletMarginLoss", {}, lambda: [
        (_uniform((5, 4), 0), True), (_uniform((5, 4), 1), True), (_uniform((5, 4), 2), True)]),
    "triplet_swap_p1": ("TripletMarginLoss", {"margin": 2.0, "p": 1.0, "swap": True}, lambda: [
        (_uniform((5, 4), 0), True), (_uniform((5, 4), 1), True), (_uniform((5, 4), 2), True)]),
    "multi_margin": ("MultiMarginLoss", {}, lambda: [
        (_uniform((5, 4), 0), True), (np.array([0, 3, 1, 1, 2]), False)]),
    "multi_margin_p2": ("MultiMarginLoss", {"p": 2, "margin": 0.7}, lambda: [
        (_uniform((5, 4), 0), True), (np.array([0, 3, 1, 1, 2]), False)]),
    "multi_margin_unbatched": ("MultiMarginLoss", {}, lambda: [
        (_uniform((4,), 0), True), (np.array(2), False)]),
    "multilabel_margin": ("MultiLabelMarginLoss", {}, lambda: [
        (_uniform((3, 4), 0), True), (np.array([[1, -1, 0, 0], [3, 2, -1, 1], [0, 1, 2, 3]]),
                                      False)]),
    "multilabel_margin_unbatched": ("MultiLabelMarginLoss", {}, lambda: [
        (_uniform((4,), 0), True), (np.array([2, 0, -1, 3]), False)]),
    "triplet_with_distance": ("TripletMarginWithDistanceLoss", {"swap": True}, lambda: [
        (_uniform((5, 4), 0), True), (_uniform((5, 4), 1), True), (_uniform((5, 4), 2), True)]),
    "multilabel_soft_margin": ("MultiLabelSoftMarginLoss", {}, lambda: [
        (_uniform((4, 5), 0), True),
        ((np.random.default_rng(1).random((4, 5)) < 0.5).astype(np.float32), False)]),
}


def _run(library, module_name, kwargs, arrays, reduction, weight=None):
    if weight is not None:
        kwargs = dict(kwargs, weight=library.tensor(weight))
    module = getattr(library.nn, module_name)(reduction=reduction, **kwargs)
    inputs = [library.tensor(array, requires_grad=differentiable)
              for array, differentiable in arrays]
    if module_name == "TripletMarginWithDistanceLoss":
        module = getattr(library.nn, module_name)(
            distance_function=library.nn.PairwiseDistance(p=1.0), reduction=reduction, **kwargs)
    out = module(*inputs)
    return module, inputs, out


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_matches_torch(torch, case, reduction):
    module_name, kwargs, make = CASES[case]
    arrays = make()
    _, ours, our_out = _run(ember, module_name, kwargs, arrays, reduction)
    _, theirs, their_out = _run(torch, module_name, kwargs, arrays, reduction)
    assert_close(our_out.detach(), their_out.detach(), rtol=1e-5, atol=1e-6)
    weights = np.random.default_rng(9).standard_normal(tuple(their_out.shape)).astype(np.float32)
    (our_out * ember.tensor(weights)).sum().backward()
    (their_out * torch.tensor(weights)).sum().backward()
    for our_input, their_input, (_, differentiable) in zip(ours, theirs, arrays):
        if differentiable:
            assert_close(our_input.grad, their_input.grad, rtol=1e-5, atol=1e-5)


# The clamped-variance case is left out: PyTorch's clamp deliberately keeps var's gradient, so it
# is not the finite-difference derivative there (the torch comparison covers it).
@pytest.mark.parametrize("case", sorted(name for name in CASES if "clamped" not in name))
def test_loss_gradcheck(case):
    module_name, kwargs, make = CASES[case]
    arrays = make()
    module = getattr(nn, module_name)(reduction="sum", **kwargs)
    inputs = [ember.tensor(array.astype(np.float64) if differentiable else array,
                           requires_grad=differentiable) for array, differentiable in arrays]
    assert gradcheck(lambda *values: module(*values), inputs)


def test_multilabel_soft_margin_weight_is_a_buffer_like_torch(torch):
    weight = _uniform((5,), 3, 0.5, 2.0)
    arrays = CASES["multilabel_soft_margin"][2]()
    ours, our_inputs, our_out = _run(ember, "MultiLabelSoftMarginLoss", {}, arrays, "mean",
                                     weight)
    theirs, their_inputs, their_out = _run(torch, "MultiLabelSoftMarginLoss", {}, arrays, "mean",
                                           weight)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert_close(our_out.detach(), their_out.detach())
    our_out.backward()
    their_out.backward()
    assert_close(our_inputs[0].grad, their_inputs[0].grad)


def test_gaussian_nll_accepts_a_float_variance(torch):
    arrays = [_uniform((4, 3), 0), _uniform((4, 3), 1)]
    ours = F.gaussian_nll_loss(ember.tensor(arrays[0]), ember.tensor(arrays[1]), 0.5)
    theirs = torch.nn.functional.gaussian_nll_loss(torch.tensor(arrays[0]),
                                                   torch.tensor(arrays[1]), 0.5)
    assert_close(ours, theirs)


@pytest.mark.parametrize("expression", [
    "MarginRankingLoss()", "MarginRankingLoss(margin=0.5)", "SoftMarginLoss()",
    "CosineEmbeddingLoss()", "HingeEmbeddingLoss()", "PoissonNLLLoss()", "GaussianNLLLoss()",
    "TripletMarginLoss()", "MultiLabelSoftMarginLoss()", "MultiMarginLoss(p=2, margin=0.5)",
    "MultiLabelMarginLoss()", "TripletMarginWithDistanceLoss()"])
def test_loss_module_reprs_and_state_dicts_match_torch(torch, expression):
    ours = eval("nn." + expression)
    theirs = eval("torch.nn." + expression)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.reduction == theirs.reduction


@pytest.mark.parametrize("make, error", [
    (lambda lib, fn: fn.gaussian_nll_loss(lib.zeros(4, 3), lib.zeros(4, 3), lib.zeros(3)),
     ValueError),
    (lambda lib, fn: fn.gaussian_nll_loss(lib.zeros(4, 3), lib.zeros(4, 3), -lib.ones(4, 3)),
     ValueError),
    (lambda lib, fn: fn.margin_ranking_loss(lib.zeros(3), lib.zeros(3), lib.zeros(1, 3)),
     RuntimeError),
    (lambda lib, fn: fn.cosine_embedding_loss(lib.zeros(3, 2), lib.zeros(3, 2), lib.zeros(3, 1)),
     RuntimeError),
    (lambda lib, fn: fn.cosine_embedding_loss(lib.zeros(3), lib.zeros(3), lib.zeros(3)),
     RuntimeError),
    (lambda lib, fn: fn.triplet_margin_loss(lib.zeros(3, 2), lib.zeros(3, 2), lib.zeros(3, 2),
                                            margin=0.0), ValueError),
    (lambda lib, fn: fn.soft_margin_loss(lib.zeros(3), lib.zeros(3), reduction="average"),
     ValueError),
    (lambda lib, fn: fn.poisson_nll_loss(lib.zeros(3), lib.zeros(3), reduction="average"),
     ValueError),
    (lambda lib, fn: lib.nn.TripletMarginLoss(margin=-1.0), ValueError),
    (lambda lib, fn: lib.nn.MultiMarginLoss(p=3), ValueError),
    (lambda lib, fn: fn.multi_margin_loss(lib.zeros(3, 4), lib.tensor([0, 1, 4])), RuntimeError),
    (lambda lib, fn: fn.multi_margin_loss(lib.zeros(3, 4), lib.tensor([0, 1])), RuntimeError),
    (lambda lib, fn: fn.multilabel_margin_loss(lib.zeros(2, 4), lib.tensor([[1, -1, 0, 0]])),
     RuntimeError),
    (lambda lib, fn: fn.multilabel_margin_loss(lib.zeros(2, 4),
                                               lib.tensor([[1, 5, 0, 0], [1, 1, 1, 1]])),
     RuntimeError),
    (lambda lib, fn: lib.nn.TripletMarginWithDistanceLoss(margin=0), ValueError),
    (lambda lib, fn: fn.triplet_margin_with_distance_loss(lib.zeros(2, 3), lib.zeros(2, 3),
                                                          lib.zeros(2, 3), margin=0), ValueError),
])
def test_loss_errors_match_torch(torch, make, error):
    with pytest.raises(error) as their_error:
        make(torch, torch.nn.functional)
    with pytest.raises(error) as our_error:
        make(ember, ember.nn.functional)
    assert str(our_error.value) == str(their_error.value).replace("torch.Size", "ember.Size")


@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_weight_matches_torch(torch, p):
    weight = _uniform((4,), 3, 0.5, 2.0)
    arrays = [(_uniform((5, 4), 0), True), (np.array([0, 3, 1, 1, 2]), False)]
    ours, our_inputs, our_out = _run(ember, "MultiMarginLoss", {"p": p}, arrays, "sum", weight)
    theirs, their_inputs, their_out = _run(torch, "MultiMarginLoss", {"p": p}, arrays, "sum",
                                           weight)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert_close(our_out.detach(), their_out.detach())
    our_out.backward()
    their_out.backward()
    assert_close(our_inputs[0].grad, their_inputs[0].grad)
