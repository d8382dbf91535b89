"""Losses against torch: every option, reductions, gradients of input and target, errors; the
table of margin, embedding and likelihood losses (values for every reduction, every input
gradient, float64 gradchecks), module reprs and state_dicts."""
import contextlib
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember import _jit
from ember.nn._kernels import loss as loss_kernels
from ember.autograd import gradcheck
from tests.conftest import assert_close, assert_raises_like_torch

REDUCTIONS = ["none", "mean", "sum"]


def _compare(torch, name, arrays, grads=(0,), tolerance=1e-10, **keywords):
    """Run F.<name> on ember and torch copies of ``arrays``; compare values and gradients."""
    ours = [ember.tensor(array, requires_grad=index in grads) for index, array in
            enumerate(arrays)]
    theirs = [torch.tensor(array, requires_grad=index in grads) for index, array in
              enumerate(arrays)]
    our_keywords = {key: ember.tensor(value) if isinstance(value, np.ndarray) else value
                    for key, value in keywords.items()}
    their_keywords = {key: torch.tensor(value) if isinstance(value, np.ndarray) else value
                      for key, value in keywords.items()}
    output = getattr(F, name)(*ours, **our_keywords)
    expected = getattr(torch.nn.functional, name)(*theirs, **their_keywords)
    assert output.shape == tuple(expected.shape)
    assert output.dtype.numpy == expected.detach().numpy().dtype
    np.testing.assert_allclose(output.detach().numpy(), expected.detach().numpy(),
                               rtol=tolerance, atol=tolerance)
    grad = np.random.default_rng(0).standard_normal(tuple(expected.shape)).astype(
        expected.detach().numpy().dtype)
    output.backward(ember.tensor(grad))
    expected.backward(torch.tensor(grad))
    for index in grads:
        np.testing.assert_allclose(ours[index].grad.numpy(), theirs[index].grad.numpy(),
                                   rtol=tolerance, atol=tolerance)


def _probabilities(random, shape, axis=1):
    values = random.random(shape)
    return values / values.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_matches_torch(torch, reduction, smoothing, weighted):
    random = np.random.default_rng(1)
    weight = random.random(5) + 0.5 if weighted else None
    logits = random.standard_normal((6, 5))
    indices = random.integers(0, 5, 6)
    indices[2] = -100
    options = dict(reduction=reduction, label_smoothing=smoothing, weight=weight)
    _compare(torch, "cross_entropy", [logits, indices], **options)
    _compare(torch, "cross_entropy", [logits, _probabilities(random, (6, 5))], grads=(0, 1),
             **options)
    spatial = random.standard_normal((3, 5, 4, 2))
    spatial_indices = random.integers(0, 5, (3, 4, 2))
    _compare(torch, "cross_entropy", [spatial, spatial_indices], ignore_index=3, **options)
    spatial_indices[0, 1, 1] = -100
    _compare(torch, "cross_entropy", [spatial, spatial_indices], **options)
    _compare(torch, "cross_entropy", [spatial, random.random((3, 5, 4, 2))], grads=(0, 1),
             **options)
    _compare(torch, "cross_entropy", [logits[0], np.array(3)], **options)
    _compare(torch, "cross_entropy", [logits[0], _probabilities(random, (5,), 0)], **options)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch(torch, reduction):
    random = np.random.default_rng(2)
    log_probabilities = np.log(_probabilities(random, (6, 5)))
    target = random.integers(0, 5, 6)
    target[0] = 1
    _compare(torch, "nll_loss", [log_probabilities, target], reduction=reduction)
    _compare(torch, "nll_loss", [log_probabilities, target], reduction=reduction,
             weight=random.random(5), ignore_index=1)
    _compare(torch, "nll_loss", [random.standard_normal((2, 5, 3, 2)),
                                 random.integers(0, 5, (2, 3, 2))], reduction=reduction)


def test_cross_entropy_float32_and_all_ignored(torch):
    random = np.random.default_rng(3)
    logits = (random.standard_normal((64, 10)) * 4).astype(np.float32)
    _compare(torch, "cross_entropy", [logits, random.integers(0, 10, 64)], tolerance=1e-6)
    everything_ignored = F.cross_entropy(ember.tensor(logits[:3]), ember.tensor([-100] * 3))
    assert np.isnan(everything_ignored.item())
    large = np.array([[1000.0, -1000.0, 0.0]], np.float32)
    _compare(torch, "cross_entropy", [large, np.array([1])], tolerance=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_match_torch(torch, reduction):
    random = np.random.default_rng(4)
    prediction = random.standard_normal((4, 3))
    target = random.standard_normal((4, 3))
    target[0, 0] = prediction[0, 0]  # a zero difference: the gradient of |d| there is 0
    pair = [prediction, target]
    _compare(torch, "mse_loss", pair, grads=(0, 1), reduction=reduction)
    _compare(torch, "l1_loss", pair, grads=(0, 1), reduction=reduction)
    _compare(torch, "smooth_l1_loss", pair, grads=(0, 1), reduction=reduction, beta=0.7)
    _compare(torch, "smooth_l1_loss", pair, grads=(0, 1), reduction=reduction, beta=0.0)
    _compare(torch, "huber_loss", pair, grads=(0, 1), reduction=reduction, delta=0.7)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropies_match_torch(torch, reduction):
    random = np.random.default_rng(5)
    probabilities = random.random((4, 3))
    probabilities[0, 0] = 0.0  # log clamped at -100, as in PyTorch
    probabilities[0, 1] = 1.0
    target = random.random((4, 3))
    _compare(torch, "binary_cross_entropy", [probabilities, target], grads=(0,),
             reduction=reduction, weight=random.random(3), tolerance=1e-8)
    _compare(torch, "binary_cross_entropy", [probabilities[1:], target[1:]], grads=(0, 1),
             reduction=reduction)
    logits = random.standard_normal((4, 3)) * 5
    logits[0, 0] = 0.0
    logits[1, 1] = 80.0
    logits[2, 2] = -80.0
    _compare(torch, "binary_cross_entropy_with_logits", [logits, target], grads=(0, 1),
             reduction=reduction, weight=random.random(3))
    _compare(torch, "binary_cross_entropy_with_logits", [logits, target], grads=(0, 1),
             reduction=reduction, pos_weight=random.random(3) * 3)


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
def test_kl_div_matches_torch(torch, reduction):
    random = np.random.default_rng(6)
    log_input = np.log(_probabilities(random, (4, 5)))
    target = _probabilities(random, (4, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _compare(torch, "kl_div", [log_input, target], grads=(0, 1), reduction=reduction)
        _compare(torch, "kl_div", [log_input, np.log(target)], grads=(0, 1),
                 reduction=reduction, log_target=True)
        with_zero = target.copy()
        with_zero[0, 0] = 0.0  # 0 log 0 = 0
        _compare(torch, "kl_div", [log_input, with_zero], grads=(0,), reduction=reduction)


def test_kl_div_mean_warns_like_torch(torch):
    x = np.log(_probabilities(np.random.default_rng(7), (2, 3)))
    with pytest.warns(UserWarning) as ours:
        F.kl_div(ember.tensor(x), ember.tensor(np.exp(x)))
    with pytest.warns(UserWarning) as theirs:
        torch.nn.functional.kl_div(torch.tensor(x), torch.tensor(np.exp(x)))
    assert str(ours[0].message) == str(theirs[0].message)


GRADCHECK_CASES = [
    ("cross_entropy", lambda random: random.integers(0, 4, (3,)),
     dict(weight=ember.tensor([0.5, 1.0, 2.0, 1.5], dtype=ember.float64), label_smoothing=0.1)),
    ("cross_entropy", lambda random: random.integers(0, 4, (3, 2)),
     dict(reduction="sum", ignore_index=1)),
    ("cross_entropy", lambda random: random.random((3, 4)), dict(label_smoothing=0.3)),
    ("nll_loss", lambda random: random.integers(0, 4, (3,)), dict(reduction="none")),
    ("binary_cross_entropy_with_logits", lambda random: random.random((3, 4)),
     dict(pos_weight=ember.tensor([1.0, 2.0, 0.5, 3.0], dtype=ember.float64))),
]


@pytest.mark.parametrize("name, make_target, keywords", GRADCHECK_CASES)
def test_gradcheck(name, make_target, keywords):
    random = np.random.default_rng(8)
    target_array = make_target(random)
    shape = (3, 4) + (target_array.shape[1:] if target_array.dtype.kind == "i" else ())
    if target_array.dtype.kind == "f":
        shape = target_array.shape
    x = ember.tensor(random.standard_normal(shape), requires_grad=True)
    target = ember.tensor(target_array)
    function = getattr(F, name)
    assert gradcheck(lambda value: function(value, target, **keywords), (x,))


def test_gradcheck_targets_and_bce():
    random = np.random.default_rng(9)
    x = ember.tensor(random.standard_normal((3, 4)), requires_grad=True)
    probabilities = ember.tensor(random.uniform(0.1, 0.9, (3, 4)), requires_grad=True)
    target = ember.tensor(random.random((3, 4)), requires_grad=True)
    assert gradcheck(lambda a, t: F.cross_entropy(a, t, label_smoothing=0.2), (x, target))
    assert gradcheck(lambda a, t: F.binary_cross_entropy_with_logits(a, t), (x, target))
    assert gradcheck(lambda p, t: F.binary_cross_entropy(p, t), (probabilities, target))


MODULE_CASES = [
    ("CrossEntropyLoss", dict(label_smoothing=0.1), "indices"),
    ("CrossEntropyLoss", dict(weight=True, ignore_index=2, reduction="sum"), "indices"),
    ("NLLLoss", dict(weight=True), "indices"),
    ("MSELoss", dict(), "values"),
    ("L1Loss", dict(reduction="sum"), "values"),
    ("SmoothL1Loss", dict(beta=0.5), "values"),
    ("HuberLoss", dict(delta=0.5), "values"),
    ("BCELoss", dict(weight=True), "probabilities"),
    ("BCEWithLogitsLoss", dict(pos_weight=True), "probabilities"),
    ("KLDivLoss", dict(reduction="batchmean"), "probabilities"),
]


@pytest.mark.parametrize("name, keywords, target_kind", MODULE_CASES)
def test_modules_match_torch_float32(torch, name, keywords, target_kind):
    random = np.random.default_rng(10)
    classes = 4
    our_keywords = dict(keywords)
    their_keywords = dict(keywords)
    for key in ("weight", "pos_weight"):
        if keywords.get(key):
            array = (random.random(classes) + 0.5).astype(np.float32)
            our_keywords[key] = ember.tensor(array)
            their_keywords[key] = torch.tensor(array)
    module = getattr(nn, name)(**our_keywords)
    torch_module = getattr(torch.nn, name)(**their_keywords)
    assert repr(module) == repr(torch_module)
    assert list(module.state_dict()) == list(torch_module.state_dict())
    assert module.reduction == torch_module.reduction
    prediction = random.standard_normal((5, classes)).astype(np.float32)
    if name == "BCELoss":
        prediction = random.uniform(0.05, 0.95, (5, classes)).astype(np.float32)
    if target_kind == "indices":
        target_array = random.integers(0, classes, 5)
    elif target_kind == "probabilities":
        target_array = random.random((5, classes)).astype(np.float32)
    else:
        target_array = random.standard_normal((5, classes)).astype(np.float32)
    x = ember.tensor(prediction, requires_grad=True)
    tx = torch.tensor(prediction, requires_grad=True)
    output = module(x, ember.tensor(target_array))
    expected = torch_module(tx, torch.tensor(target_array))
    assert output.dtype == ember.float32
    np.testing.assert_allclose(output.detach().numpy(), expected.detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    output.backward()
    expected.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_legacy_size_average_and_reduce(torch):
    with pytest.warns(UserWarning):
        module = nn.MSELoss(size_average=False)
    assert module.reduction == "sum"
    with pytest.warns(UserWarning):
        assert nn.L1Loss(reduce=False).reduction == "none"



def test_legacy_reduction_warning_points_inside_the_loss(torch):
    """PyTorch warns from its loss constructor or loss function, so under the default filter
    three size_average=False losses made on three lines (LSTNet's main.py) warn once; a
    different message or a different loss function warns again."""
    def program(framework):
        a, b = framework.ones(3), framework.zeros(3)
        framework.nn.L1Loss(size_average=False)
        framework.nn.MSELoss(size_average=False)
        framework.nn.L1Loss(size_average=False)
        framework.nn.L1Loss(reduce=False)
        framework.nn.functional.l1_loss(a, b, size_average=False)
        framework.nn.functional.l1_loss(a, b, size_average=False)
        framework.nn.functional.mse_loss(a, b, size_average=False)
        framework.nn.functional.smooth_l1_loss(a, b, size_average=False)

    messages = []
    for framework in (ember, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            program(framework)
        messages.append([str(warning.message) for warning in caught])
    assert messages[0] == messages[1]
    assert len(messages[0]) == 5

@pytest.mark.parametrize("call, error", [
    (lambda F, lib: F.cross_entropy(lib.zeros(3, 5), lib.tensor([0, 5, 1])), IndexError),
    (lambda F, lib: F.cross_entropy(lib.zeros(3, 5), lib.tensor([0, -1, 1])), IndexError),
    (lambda F, lib: F.nll_loss(lib.zeros(3, 5), lib.tensor([0, 7, 1])), IndexError),
    (lambda F, lib: F.cross_entropy(lib.zeros(3, 5), lib.tensor([0, 1])), ValueError),
    (lambda F, lib: F.cross_entropy(lib.zeros(3, 5), lib.tensor([0, 1, 1]), reduction="avg"),
     ValueError),
    (lambda F, lib: F.mse_loss(lib.zeros(3), lib.zeros(3), reduction="avg"), ValueError),
    (lambda F, lib: F.cross_entropy(lib.zeros(3, 5), lib.zeros(3, 5), ignore_index=1),
     RuntimeError),
    (lambda F, lib: F.cross_entropy(lib.zeros(3, 5), lib.tensor([0, 1, 1]), label_smoothing=2.0),
     RuntimeError),
    (lambda F, lib: F.cross_entropy(lib.zeros(3, 5), lib.tensor([0, 1, 1]), weight=lib.ones(4)),
     RuntimeError),
    (lambda F, lib: F.cross_entropy(lib.zeros(2, 5, 3), lib.zeros(2, 4, dtype=lib.int64)),
     RuntimeError),
    (lambda F, lib: F.nll_loss(lib.zeros(3, 5), lib.zeros(3)), RuntimeError),
    # class indices are int64 (or uint8 for (N, C) inputs), as PyTorch's kernels take them
    (lambda F, lib: F.cross_entropy(lib.zeros(3, 5), lib.zeros(3, dtype=lib.int32)),
     RuntimeError),
    (lambda F, lib: F.nll_loss(lib.zeros(2, 5, 4), lib.zeros(2, 4, dtype=lib.int16)),
     RuntimeError),
    (lambda F, lib: F.cross_entropy(lib.zeros(2, 5, 4), lib.zeros(2, 4, dtype=lib.uint8)),
     RuntimeError),
    (lambda F, lib: F.binary_cross_entropy(lib.tensor([0.5, 2.0]), lib.tensor([0.0, 1.0])),
     RuntimeError),
    (lambda F, lib: F.smooth_l1_loss(lib.zeros(3), lib.zeros(3), beta=-1.0), RuntimeError),
    (lambda F, lib: F.huber_loss(lib.zeros(3), lib.zeros(3), delta=0.0), RuntimeError),
])
def test_errors_match_torch(torch, call, error):
    with pytest.raises(error) as expected:
        call(torch.nn.functional, torch)
    with pytest.raises(error) as raised:
        call(F, ember)
    assert str(raised.value) == str(expected.value)


def test_uint8_class_indices_of_a_batch_match_torch(torch):
    logits = np.linspace(-1.0, 1.0, 15).reshape(3, 5).astype(np.float32)
    for function in ("cross_entropy", "nll_loss"):
        expected = getattr(torch.nn.functional, function)(
            torch.tensor(logits), torch.tensor([4, 0, 2], dtype=torch.uint8))
        actual = getattr(F, function)(ember.tensor(logits),
                                      ember.tensor([4, 0, 2], dtype=ember.uint8))
        assert_close(actual, expected)


def test_shape_mismatch_messages(torch):
    with pytest.raises(ValueError, match=r"Using a target size \(ember.Size\(\[1, 2\]\)\) that is "
                                         r"different to the input size \(ember.Size\(\[2\]\)\)"):
        F.binary_cross_entropy(ember.tensor([0.5, 0.2]), ember.tensor([[0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"Target size \(ember.Size\(\[1, 2\]\)\) must be the "
                                         r"same as input size \(ember.Size\(\[2\]\)\)"):
        F.binary_cross_entropy_with_logits(ember.tensor([0.5, 0.2]), ember.tensor([[0.0, 1.0]]))
    with pytest.warns(UserWarning, match="This will likely lead to incorrect results due to "
                                         "broadcasting"):
        F.mse_loss(ember.tensor([0.5, 0.2]), ember.tensor([[0.0, 1.0], [1.0, 1.0]]))



@pytest.mark.parametrize("call", [
    lambda F, fw: F.kl_div(fw.zeros(2, 3), fw.ones(2, 3)),
    lambda F, fw: F.mse_loss(fw.zeros(2, 3), fw.ones(3)),
    lambda F, fw: F.l1_loss(fw.zeros(2, 3), fw.ones(3)),
    lambda F, fw: F.smooth_l1_loss(fw.zeros(2, 3), fw.ones(3)),
    lambda F, fw: F.huber_loss(fw.zeros(2, 3), fw.ones(3))],
    ids=["kl_div_mean", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
def test_loss_warnings_point_at_the_caller_like_torch(torch, call):
    """PyTorch's warnings name the line that called the loss (the default filter shows one per
    line), not a frame inside the framework."""
    seen = []
    for functional, library in ((F, ember), (torch.nn.functional, torch)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call(functional, library)
        seen.append([(str(warning.message).replace("torch.Size", "ember.Size"),
                      warning.filename) for warning in caught])
    assert len(seen[1]) == 1 and seen[1][0][1] == __file__
    assert seen[0] == seen[1]

# ---- the loss table: name -> (layer, its keyword arguments, [(array, differentiable)]) -----
def _uniform(shape, seed, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)


def _signs(shape, seed):
    return np.where(np.random.default_rng(seed).random(shape) < 0.5, -1.0, 1.0).astype(np.float32)


LOSSES = {
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
@pytest.mark.parametrize("case", sorted(LOSSES))
def test_loss_matches_torch(torch, case, reduction):
    module_name, kwargs, make = LOSSES[case]
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
@pytest.mark.parametrize("case", sorted(name for name in LOSSES if "clamped" not in name))
def test_loss_gradcheck(case):
    module_name, kwargs, make = LOSSES[case]
    arrays = make()
    module = getattr(nn, module_name)(reduction="sum", **kwargs)
    inputs = [ember.tensor(array.astype(np.float64) if differentiable else array,
                           requires_grad=differentiable) for array, differentiable in arrays]
    assert gradcheck(lambda *values: module(*values), inputs)


def test_multilabel_soft_margin_weight_is_a_buffer_like_torch(torch):
    _check_weighted(torch, "MultiLabelSoftMarginLoss", {}, LOSSES["multilabel_soft_margin"][2](),
                    "mean", _uniform((5,), 3, 0.5, 2.0))


def _check_weighted(torch, module_name, kwargs, arrays, reduction, weight):
    """The loss with a class ``weight`` (a buffer, as in PyTorch) equals torch's, as does the
    gradient of its first input."""
    ours, our_inputs, our_out = _run(ember, module_name, kwargs, arrays, reduction, weight)
    theirs, their_inputs, their_out = _run(torch, module_name, kwargs, arrays, reduction, weight)
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
    assert_raises_like_torch(lambda: make(torch, torch.nn.functional),
                             lambda: make(ember, ember.nn.functional), error)


@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_weight_matches_torch(torch, p):
    arrays = [(_uniform((5, 4), 0), True), (np.array([0, 3, 1, 1, 2]), False)]
    _check_weighted(torch, "MultiMarginLoss", {"p": p}, arrays, "sum", _uniform((4,), 3, 0.5, 2.0))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("name, keywords", [("nll_loss", {}), ("cross_entropy", {}),
                                            ("cross_entropy", {"label_smoothing": 0.1})])
def test_ignored_samples_get_zero_gradient_even_from_a_nan_gradient(torch, name, keywords,
                                                                    reduction):
    logits = np.array([[-3.0, -1.0, -0.5, 0.0], [0.5, 1.0, 3.0, 3.0], [0.1, 0.2, 0.3, 0.4]],
                      np.float32)
    target = np.array([1, -100, 3])
    results = []
    for lib in (torch, ember):
        leaf = lib.tensor(logits, requires_grad=True)
        loss = getattr(lib.nn.functional, name)(leaf, lib.tensor(target), reduction=reduction,
                                                **keywords)
        grad = (np.array([np.nan, np.inf, 1.5], np.float32) if reduction == "none"
                else np.float32(np.nan))
        loss.backward(lib.tensor(grad))
        results.append(leaf.grad.detach().numpy())
    np.testing.assert_array_equal(np.isnan(results[1]), np.isnan(results[0]))
    np.testing.assert_allclose(np.nan_to_num(results[1]), np.nan_to_num(results[0]), rtol=1e-6)
    assert (results[1][1] == 0).all()  # the ignored sample


@pytest.mark.parametrize("options", [{}, {"weight": True}, {"label_smoothing": 0.1},
                                     {"probabilities": True}, {"reduction": "none"}])
@pytest.mark.parametrize("path", ["compiled", "numpy"])
def test_cross_entropy_keeps_its_digits_next_to_large_logits(torch, options, path):
    # log p = (x - max) - log(sum exp(x - max)), in PyTorch's order: adding max and the log
    # first rounded the log away (1e8 and 1e8 gave a loss of 0 instead of log 2)
    options = dict(options)
    logits = np.array([[1e8, 1e8, 0.0], [50.0, 40.0, 10.0], [1e4, 1e4 - 1, 3.0]], np.float32)
    target = np.array([0, 1, 0])
    if options.pop("probabilities", False):
        target = np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]], np.float32)
    if options.pop("weight", False):
        options["weight"] = np.array([0.5, 2.0, 1.0], np.float32)
    ours_input = ember.tensor(logits, requires_grad=True)
    theirs_input = torch.tensor(logits, requires_grad=True)
    our_options = {key: ember.tensor(value) if isinstance(value, np.ndarray) else value
                   for key, value in options.items()}
    their_options = {key: torch.tensor(value) if isinstance(value, np.ndarray) else value
                     for key, value in options.items()}
    with (_jit.disabled() if path == "numpy" else contextlib.nullcontext()):
        ours = F.cross_entropy(ours_input, ember.tensor(target), **our_options)
        ours.sum().backward()
    theirs = torch.nn.functional.cross_entropy(theirs_input, torch.tensor(target),
                                               **their_options)
    theirs.sum().backward()
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6,
                               atol=1e-6)
    np.testing.assert_allclose(ours_input.grad.numpy(), theirs_input.grad.numpy(), rtol=1e-6,
                               atol=1e-7)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_weight_like_pytorch(torch, name, reduction):
    """mse and l1 take a weighted mean by the total weight, huber by the element count."""
    generator = np.random.default_rng(3)
    x, y, weight = (generator.standard_normal((2, 3)).astype(np.float32) for _ in range(3))
    weight = np.abs(weight)
    expected = getattr(torch.nn.functional, name)(
        torch.tensor(x, requires_grad=True), torch.tensor(y), weight=torch.tensor(weight),
        reduction=reduction)
    x_ember = ember.tensor(x, requires_grad=True)
    got = getattr(F, name)(x_ember, ember.tensor(y), weight=ember.tensor(weight),
                           reduction=reduction)
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_elementwise_weight_must_match_input(torch, name):
    for fw in (torch, ember):
        with pytest.raises(ValueError, match="Weights and input must have the same size"):
            getattr(fw.nn.functional, name)(fw.ones(2, 3), fw.zeros(2, 3), weight=fw.ones(3))


def _ctc_case(seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((12, 4, 6)).astype(np.float32)
    targets = rng.integers(1, 6, (4, 5))
    targets[1, 1] = targets[1, 0]  # a repeated label needs a blank between its two copies
    return logits, targets, [12, 9, 7, 12], [5, 3, 2, 0]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ctc_loss_values_and_gradients_match_torch(torch, reduction):
    logits, targets, input_lengths, target_lengths = _ctc_case()
    results = []
    for library in (ember, torch):
        leaf = library.tensor(logits, requires_grad=True)
        log_probs = leaf.log_softmax(2)
        log_probs.retain_grad()
        loss = library.nn.functional.ctc_loss(log_probs, library.tensor(targets),
                                              input_lengths, tuple(target_lengths),
                                              blank=0, reduction=reduction)
        loss.sum().backward()
        results.append((loss.detach().numpy(), leaf.grad.numpy(), log_probs.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ctc_loss_compiled_and_numpy_recursions_match_torch(torch, dtype):
    """The alpha and beta recursions compiled (NumPy's logaddexp step by step) and as NumPy
    passes per step: torch's losses (an impossible alignment included) and gradients."""
    logits, targets, _, target_lengths = _ctc_case(seed=2)
    logits = logits.astype(dtype)
    input_lengths = [12, 9, 1, 12]
    leaf = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.ctc_loss(leaf.log_softmax(2), torch.tensor(targets),
                                        input_lengths, target_lengths, reduction="none")
    loss.sum().backward()
    expected = [loss.detach().numpy(), leaf.grad.numpy()]
    for disabled in (False, True):
        ours_leaf = ember.tensor(logits, requires_grad=True)
        with _jit.disabled() if disabled else contextlib.nullcontext():
            ours = F.ctc_loss(ours_leaf.log_softmax(2), ember.tensor(targets), input_lengths,
                              target_lengths, reduction="none")
            ours.sum().backward()
        assert ours.dtype == ours_leaf.dtype
        tolerance = 1e-5 if dtype == np.float32 else 1e-10
        for got, wanted in zip([ours.detach().numpy(), ours_leaf.grad.numpy()], expected):
            np.testing.assert_allclose(got, wanted, rtol=tolerance, atol=tolerance)


def test_ctc_loss_concatenated_targets_unbatched_and_zero_infinity_match_torch(torch):
    logits, targets, input_lengths, target_lengths = _ctc_case(seed=1)
    input_lengths = [12, 9, 1, 12]  # sample 2 cannot fit its two labels: infinite loss
    target_lengths = [5, 3, 2, 1]
    flat = np.concatenate([row[:length] for row, length in zip(targets, target_lengths)])
    for zero_infinity in (False, True):
        results = []
        for library in (ember, torch):
            leaf = library.tensor(logits, requires_grad=True)
            loss_module = library.nn.CTCLoss(blank=0, reduction="none",
                                             zero_infinity=zero_infinity)
            loss = loss_module(leaf.log_softmax(2), library.tensor(flat),
                               library.tensor(input_lengths), library.tensor(target_lengths))
            single = library.nn.functional.ctc_loss(leaf[:, 0].log_softmax(1),
                                                    library.tensor(targets[0]),
                                                    library.tensor(12), library.tensor(5))
            if zero_infinity:
                loss.sum().backward()
            results.append((loss.detach().numpy(), single.detach().numpy(),
                            leaf.grad.numpy() if zero_infinity else np.zeros(1)))
        for ours, theirs in zip(*results):
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert results[0][0][2] == 0 and np.all(results[0][2][:, 2] == 0)


def test_ctc_loss_errors_match_torch(torch):
    logits, targets, _, _ = _ctc_case()
    for lengths, error in ((([13, 9, 7, 12], [5, 3, 2, 0]), RuntimeError),
                           (([12, 9, 7], [5, 3, 2, 0]), RuntimeError),
                           (([12, 9, 7, 12], [6, 3, 2, 0]), RuntimeError),
                           (([12, 9, 7, 12], 5), TypeError)):
        with pytest.raises(error):
            torch.nn.functional.ctc_loss(torch.tensor(logits).log_softmax(2),
                                         torch.tensor(targets), *lengths)
        with pytest.raises(error):
            F.ctc_loss(ember.tensor(logits).log_softmax(2), ember.tensor(targets), *lengths)


@pytest.mark.parametrize("targets, input_lengths, target_lengths", [
    ([[1, 1], [1, 2]], [5, 5], [3, 2]),
    ([[1, 1, 1], [1, 2, 1]], [6, 5], [3, 2]),
    ([1, 1, 1, 2], [5, 5], [3, 2]),
])
def test_ctc_loss_argument_messages_match_torch(torch, targets, input_lengths, target_lengths):
    """Padded targets too short, input lengths past the steps, concatenated targets of another
    total length: PyTorch's messages, naming ctc_loss_allocate_outputs."""
    log_probs = np.log(np.full((5, 2, 3), 1 / 3))
    messages = []
    for library, functional in ((torch, torch.nn.functional), (ember, F)):
        with pytest.raises(RuntimeError) as error:
            functional.ctc_loss(library.tensor(log_probs), library.tensor(targets),
                                library.tensor(input_lengths), library.tensor(target_lengths))
        messages.append(str(error.value))
    assert messages[0] == messages[1]


def test_ctc_loss_gradcheck_through_log_softmax():
    logits, targets, input_lengths, target_lengths = _ctc_case(seed=2)
    leaf = ember.tensor(logits[:6, :2].astype(np.float64), requires_grad=True)
    assert gradcheck(lambda x: F.ctc_loss(x.log_softmax(2), ember.tensor(targets[:2, :3]),
                                          (6, 5), (3, 2)), (leaf,))


# ---- nll_loss / cross_entropy reductions: PyTorch's cascaded sums ---------------------------
def _nll_case(seed):
    rng = np.random.default_rng(seed)
    samples, classes = int(rng.integers(1, 3000)), int(rng.integers(2, 30))
    dtype = np.float32 if seed % 4 else np.float64
    logits = (rng.standard_normal((samples, classes)) * 3).astype(dtype)
    log_probabilities = logits - np.log(np.exp(logits).sum(1, keepdims=True)).astype(dtype)
    target = rng.integers(0, classes, samples)
    weight = rng.random(classes).astype(dtype) if seed % 3 == 1 else None
    ignore_index = -100
    if seed % 5 == 2:
        target[rng.random(samples) < 0.25] = -100
    elif seed % 7 == 3:
        ignore_index = 1
    return log_probabilities, target, weight, ignore_index


@pytest.mark.parametrize("seed", range(24))
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_nll_reductions_are_bit_equal_to_torch(torch, seed, reduction):
    """Given the same log-probabilities, the mean and sum are PyTorch's to the last bit: its
    nll_loss sums in the input's dtype by cascaded partial sums, not in float64."""
    log_probabilities, target, weight, ignore_index = _nll_case(seed)
    outputs = []
    for library in (ember, torch):
        outputs.append(library.nn.functional.nll_loss(
            library.tensor(log_probabilities), library.tensor(target),
            weight=None if weight is None else library.tensor(weight), reduction=reduction,
            ignore_index=ignore_index).numpy())
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert outputs[0].dtype == log_probabilities.dtype


def test_nll_cascade_sums_sixteen_samples_a_level():
    """The order of the sum: sample 0 alone, then sequential runs of 16 samples added up level
    by level (here a float32 value a float64 sum would round differently)."""
    values = np.float32([1e8] + [1.0] * 16 + [3.0] * 5)
    log_probabilities = -values.reshape(-1, 1)
    target = np.zeros(len(values), np.int64)
    run = np.float32(0)
    for value in [1.0] * 16:
        run = np.float32(run + np.float32(value))
    total = np.float32(np.float32(0) + np.float32(5 * 3.0))  # level 0: the 5 unflushed samples
    total = np.float32(total + run)  # level 1: the flushed run of 16
    total = np.float32(total + np.float32(1e8))  # the top level: sample 0
    result = F.nll_loss(ember.tensor(log_probabilities), ember.tensor(target), reduction="sum")
    assert result.item() == total == np.float32(1e8 + 31)
    with _jit.disabled():  # the kernel's plain Python form: the same sum
        assert F.nll_loss(ember.tensor(log_probabilities), ember.tensor(target),
                          reduction="sum").item() == total
    mean = F.nll_loss(ember.tensor(log_probabilities), ember.tensor(target))
    assert mean.item() == np.float32(total / np.float32(len(values)))


@pytest.mark.parametrize("seed", range(12))
def test_plain_cross_entropy_kernel_is_the_general_path_bit_for_bit(seed, monkeypatch):
    """The one-kernel cross_entropy of small logits and class indices (the default options)
    gives the general path's loss and gradients to the last bit; an ignored target falls
    through to that path."""
    rng = np.random.default_rng(seed)
    samples, classes = int(rng.integers(1, 200)), int(rng.integers(1, 20))
    dtype = np.float32 if seed % 2 else np.float64
    logits = (rng.standard_normal((samples, classes)) * (1, 10, 100)[seed % 3]).astype(dtype)
    target = rng.integers(0, classes, samples)
    if seed % 4 == 3:
        target[0] = 3 if classes > 3 else -100  # the ignore_index below, or the default one
    options = {"reduction": ("mean", "sum")[seed % 2 == 0 and seed % 3 == 0]}
    if seed % 4 == 3 and classes > 3:
        options["ignore_index"] = 3
    results = []
    taken = []
    plain_forward = loss_kernels._plain_forward

    def spied(*arguments):
        result = plain_forward(*arguments)
        taken.append(result is not None)
        return result

    for path in ("kernel", "general"):
        monkeypatch.setattr(loss_kernels, "_plain_forward",
                            spied if path == "kernel" else lambda *arguments: None)
        leaf = ember.tensor(logits, requires_grad=True)
        loss = F.cross_entropy(leaf, ember.tensor(target), **options)
        (grad,) = ember.autograd.grad(loss, leaf, retain_graph=True)
        (graph_grad,) = ember.autograd.grad(loss, leaf, create_graph=True)
        (second,) = ember.autograd.grad(graph_grad.sum() + loss, leaf)
        results.append((loss.detach().numpy(), grad.numpy(), second.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)
        assert ours.dtype == dtype
    if _jit.available():
        assert taken == [seed % 4 != 3]  # the kernel ran, but for the ignored target


def test_weighted_cross_entropy_rounds_each_sample_as_torch(torch):
    """A weighted sample's loss is its -log p rounded, times the weight, rounded (PyTorch's
    nll_loss of the log_softmax), not w * log_total - w * (x - shift)."""
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((40, 6)).astype(np.float32)
    target = rng.integers(0, 6, 40)
    weight = rng.random(6).astype(np.float32)
    plain = F.cross_entropy(ember.tensor(logits), ember.tensor(target), reduction="none")
    weighted = F.cross_entropy(ember.tensor(logits), ember.tensor(target),
                               weight=ember.tensor(weight), reduction="none")
    np.testing.assert_array_equal(weighted.numpy(), plain.numpy() * weight[target])
    theirs = torch.nn.functional.cross_entropy(
        torch.tensor(logits), torch.tensor(target), weight=torch.tensor(weight),
        reduction="none").numpy()
    assert_close(weighted.numpy(), theirs, 1e-6)


# ---- linear_cross_entropy (PyTorch 2.13) -----------------------------------------------------
def test_linear_cross_entropy_module_matches_torch(torch):
    for library in (ember, torch):
        library.manual_seed(0)
    ours = nn.LinearCrossEntropyLoss(8, 5, bias=True)
    theirs = torch.nn.LinearCrossEntropyLoss(8, 5, bias=True)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    np.testing.assert_array_equal(ours.linear.weight.detach().numpy(),
                                  theirs.linear.weight.detach().numpy())
    values = np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32)
    target = np.array([0, 4, 2, 2, 1, 3])
    x_ours, x_theirs = ember.tensor(values, requires_grad=True), torch.tensor(values,
                                                                         requires_grad=True)
    loss_ours, loss_theirs = ours(x_ours, ember.tensor(target)), theirs(x_theirs,
                                                                        torch.tensor(target))
    assert loss_ours.item() == loss_theirs.item()
    loss_ours.backward()
    loss_theirs.backward()
    assert_close(x_ours.grad.numpy(), x_theirs.grad.numpy(), 1e-6)
    assert_close(ours.linear.weight.grad.numpy(), theirs.linear.weight.grad.numpy(), 1e-6)


@pytest.mark.parametrize("keywords", [
    {"out_features": (4,), "reduction": "none", "label_smoothing": 0.1},
    {"out_features": (2, 3), "bias": True, "reduction": "sum"},
    {"ignore_index": 1, "reduction": "mean"},
])
def test_linear_cross_entropy_k_dimensional_and_options(torch, keywords):
    outputs = []
    for library in (ember, torch):
        library.manual_seed(1)
        module = library.nn.LinearCrossEntropyLoss(8, 3, **keywords)
        inputs = library.tensor(np.linspace(-1, 1, 48, dtype=np.float32).reshape(6, 8))
        shape = (6,) + keywords.get("out_features", ())
        target = library.tensor(np.arange(np.prod(shape)).reshape(shape) % 3)
        outputs.append(module(inputs, target).detach().numpy())
    assert_close(outputs[0], outputs[1], 1e-6)


def test_linear_cross_entropy_errors_and_option_checks(torch):
    inputs = np.zeros((6, 8), np.float32)
    weight = np.zeros((5, 8), np.float32)
    target = np.zeros(6, np.int64)
    calls = [
        lambda L: L.nn.functional.linear_cross_entropy(L.tensor(inputs), L.tensor(weight[:, :3]),
                                                       L.tensor(target)),
        lambda L: L.nn.functional.linear_cross_entropy(L.tensor(inputs[0, 0]), L.tensor(weight),
                                                       L.tensor(target)),
        lambda L: L.nn.functional.linear_cross_entropy(
            L.tensor(inputs[0]), L.tensor(weight.reshape(5, 1, 8)), L.tensor(target[0])),
        lambda L: L.nn.functional.linear_cross_entropy(
            L.tensor(inputs), L.tensor(weight), L.tensor(target),
            linear_bias=L.tensor(np.zeros(4, np.float32))),
        lambda L: L.nn.LinearCrossEntropyOptions(acc_policy="fast"),
        lambda L: L.nn.LinearCrossEntropyOptions(chunking_method="aspect_ratio:0"),
        lambda L: L.nn.LinearCrossEntropyOptions(batch_chunk_size=0),
        lambda L: L.nn.functional.linear_cross_entropy(
            L.tensor(inputs), L.tensor(weight), L.tensor(target),
            options=L.nn.LinearCrossEntropyOptions(batch_chunk_size=3,
                                                   chunking_method="aspect_ratio")),
        lambda L: L.nn.LinearCrossEntropyLoss(8, 5, weight=L.ones(3)),
        lambda L: L.nn.LinearCrossEntropyLoss(8, 5, label_smoothing=1.5),
    ]
    for call in calls:
        assert_raises_like_torch(lambda: call(torch), lambda: call(ember), same_type=True)
    for library in (ember, torch):
        with pytest.warns(UserWarning, match="``options`` ignored"):
            library.nn.functional.linear_cross_entropy(
                library.tensor(inputs), library.tensor(weight), library.tensor(target),
                label_smoothing=0.1, options=library.nn.LinearCrossEntropyOptions())
    options = nn.LinearCrossEntropyOptions()._adjust(
        num_batches=1000, in_features=64, num_classes=5000, dtype=ember.float32,
        device=ember.device("cpu"))
    theirs = torch.nn.LinearCrossEntropyOptions()._adjust(
        num_batches=1000, in_features=64, num_classes=5000, dtype=torch.float32,
        device=torch.device("cpu"))
    assert (options.batch_chunk_size, options.acc_policy, options.chunking_method) == (
        theirs.batch_chunk_size, theirs.acc_policy, theirs.chunking_method)


UNDIFFERENTIABLE_WEIGHTS = {
    "nll_loss": lambda fw, x, t, w: fw.nn.functional.nll_loss(x, t.argmax(1), weight=w),
    "cross_entropy": lambda fw, x, t, w: fw.nn.functional.cross_entropy(
        x, t.argmax(1), weight=w, label_smoothing=0.1),
    "binary_cross_entropy": lambda fw, x, t, w: fw.nn.functional.binary_cross_entropy(
        x.sigmoid(), t, weight=w),
    "bce_with_logits_weight": lambda fw, x, t, w: fw.nn.functional.binary_cross_entropy_with_logits(
        x, t, weight=w),
    "bce_with_logits_pos_weight": lambda fw, x, t, w:
        fw.nn.functional.binary_cross_entropy_with_logits(x, t, pos_weight=w),
    "multi_margin_loss": lambda fw, x, t, w: fw.nn.functional.multi_margin_loss(
        x, t.argmax(1), weight=w),
}


@pytest.mark.parametrize("name", list(UNDIFFERENTIABLE_WEIGHTS))
def test_weight_that_requires_grad_is_refused_like_torch(torch, name):
    """PyTorch's kernels have no derivative for these weights: under grad mode a weight that
    requires grad raises its RuntimeError; under no_grad, or detached, the loss is computed."""
    random = np.random.default_rng(0)
    arrays = (random.standard_normal((3, 4)), random.uniform(size=(3, 4)), random.uniform(size=4))

    def call(fw, requires_grad=True):
        x, target, weight = (fw.tensor(array) for array in arrays)
        return UNDIFFERENTIABLE_WEIGHTS[name](fw, x, target, weight.requires_grad_(requires_grad))

    assert_raises_like_torch(lambda: call(torch), lambda: call(ember), RuntimeError,
                             same_type=True)
    with torch.no_grad(), ember.no_grad():
        assert_close(call(ember).numpy(), call(torch).numpy(), rtol=1e-12)
    assert_close(call(ember, False).numpy(), call(torch, False).numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape, reduction, smoothing", [((3, 4), "mean", 0.0),
                                                         ((4,), "sum", 0.2),
                                                         ((2, 4, 3), "none", 0.1)])
def test_cross_entropy_probabilities_differentiates_a_weight_like_torch(torch, shape, reduction,
                                                                         smoothing):
    """With class-probability targets PyTorch's cross_entropy differentiates the class weight:
    its gradient, and second derivatives through it, are torch's."""
    random = np.random.default_rng(0)
    arrays = (random.standard_normal(shape), random.uniform(size=shape), random.uniform(size=4))
    results = []
    for fw in (torch, ember):
        x, target, weight = (fw.tensor(array, requires_grad=True) for array in arrays)
        probabilities = target.softmax(1 if len(shape) > 1 else 0)
        loss = fw.nn.functional.cross_entropy(x, probabilities, weight=weight,
                                              label_smoothing=smoothing, reduction=reduction)
        cotangent = fw.tensor(np.cos(np.arange(loss.numel())).reshape(tuple(loss.shape)))
        grads = fw.autograd.grad((loss * cotangent).sum(), (x, target, weight),
                                 create_graph=True)
        second = fw.autograd.grad(sum((grad ** 2).sum() for grad in grads), (x, target, weight))
        results.append([loss.detach().numpy()] + [grad.detach().numpy() for grad in grads]
                       + [grad.numpy() for grad in second])
    for ours, theirs in zip(results[1], results[0]):
        assert_close(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("call", [
    lambda F, lib: F.nll_loss(lib.zeros(4, 5), lib.tensor(1)),
    lambda F, lib: F.cross_entropy(lib.zeros(4, 5), lib.tensor([1, 2])),
    lambda F, lib: F.nll_loss(lib.zeros(4, 5), lib.tensor([1, 2, 3, 0]),
                              weight=lib.ones(5, dtype=lib.float64)),
    lambda F, lib: F.cross_entropy(lib.zeros(4, 5, dtype=lib.float64), lib.tensor([1, 2, 3, 0]),
                                   weight=lib.ones(5)),
])
def test_classification_argument_errors_match_torch(torch, call):
    """A 0-d target of a batch (batch size 0 in PyTorch's words); a class weight of another
    dtype than the input (PyTorch's kernel refuses it)."""
    outcomes = []
    for library, functional in ((ember, F), (torch, torch.nn.functional)):
        with pytest.raises(Exception) as error:
            call(functional, library)
        outcomes.append((type(error.value), str(error.value)))
    assert outcomes[0] == outcomes[1]


def test_class_probabilities_take_a_weight_of_another_dtype_as_torch(torch):
    logits = np.linspace(-1, 1, 20).reshape(4, 5).astype(np.float32)
    values = []
    for library, functional in ((ember, F), (torch, torch.nn.functional)):
        probabilities = library.tensor(logits[::-1].copy()).softmax(1)
        values.append(functional.cross_entropy(library.tensor(logits), probabilities,
                                               weight=library.ones(5, dtype=library.float64)))
    np.testing.assert_allclose(values[0].item(), values[1].item(), rtol=1e-6)


@pytest.mark.parametrize("options", [{}, {"ignore_index": 2}, {"label_smoothing": 0.1},
                                     {"weight": True, "reduction": "sum"},
                                     {"reduction": "none"}])
def test_spatial_cross_entropy_compiled_and_numpy_paths_match_torch(torch, options):
    """(N, C, H, W) float32 logits: the log-sum-exp over classes by the compiled plane kernel
    (exp_float32, within 2 ulp of NumPy's exp) and the targets' logits by flat positions, or
    NumPy's passes: torch's loss and gradient, NaN and infinite logits included."""
    rng = np.random.default_rng(17)
    logits = rng.standard_normal((3, 5, 4, 6)).astype(np.float32) * 4
    logits[1, :, 2, 3] = np.inf
    logits[2, 1, 0, 0] = np.nan
    target = rng.integers(0, 5, (3, 4, 6))
    options = dict(options)
    if options.pop("weight", False):
        options["weight"] = rng.uniform(0.5, 2, 5).astype(np.float32)
    their_options = {key: torch.tensor(value) if key == "weight" else value
                     for key, value in options.items()}
    our_options = {key: ember.tensor(value) if key == "weight" else value
                   for key, value in options.items()}
    leaf = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(leaf, torch.tensor(target), **their_options)
    loss.sum().backward()
    for disabled in (False, True):
        ours_leaf = ember.tensor(logits, requires_grad=True)
        with _jit.disabled() if disabled else contextlib.nullcontext():
            ours = F.cross_entropy(ours_leaf, ember.tensor(target), **our_options)
            ours.sum().backward()
        np.testing.assert_allclose(ours.detach().numpy(), loss.detach().numpy(), rtol=2e-6,
                                   atol=1e-6)
        np.testing.assert_allclose(ours_leaf.grad.numpy(), leaf.grad.numpy(), rtol=2e-6,
                                   atol=5e-7)


@pytest.mark.parametrize("path", ["compiled", "numpy"])
@pytest.mark.parametrize("name, bound", [("smooth_l1_loss", 1.0), ("smooth_l1_loss", 0.3),
                                         ("huber_loss", 1.0), ("huber_loss", 2.5)])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_smooth_l1_and_huber_one_node_match_torch(torch, path, name, bound, reduction):
    # one node with PyTorch's formulas in its kernels' order: values and gradients within an
    # ulp (PyTorch's last partial vector of a loop uses its scalar order), the same node name;
    # both paths give the same bits
    random = np.random.default_rng(4)
    x = (random.standard_normal(1000) * 3).astype(np.float32)
    t = random.standard_normal(1000).astype(np.float32)
    x[:3], t[2] = [np.nan, 0.0, 1.0], 1.0
    grad = np.linspace(-1, 1, 1000).astype(np.float32) if reduction == "none" else None
    option = {"delta" if name == "huber_loss" else "beta": bound}
    results = []
    for active in ("compiled", "numpy"):
        with (contextlib.nullcontext() if active == "compiled" else ember._jit.disabled()):
            mine, target = ember.tensor(x, requires_grad=True), ember.tensor(t, requires_grad=True)
            loss = getattr(F, name)(mine, target, reduction=reduction, **option)
            loss.backward(None if grad is None else ember.tensor(grad))
            results.append((loss.detach().numpy(), mine.grad.numpy(), target.grad.numpy()))
    for compiled, numpy_path in zip(*results):
        np.testing.assert_array_equal(compiled, numpy_path)
    theirs, their_target = torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)
    expected = getattr(torch.nn.functional, name)(theirs, their_target, reduction=reduction,
                                                  **option)
    expected.backward(None if grad is None else torch.tensor(grad))
    assert loss.grad_fn.name() == expected.grad_fn.name()
    ours = results[0 if path == "compiled" else 1]
    for mine_value, their_value in zip(ours, (expected.detach().numpy(), theirs.grad.numpy(),
                                              their_target.grad.numpy())):
        np.testing.assert_allclose(mine_value, their_value, rtol=3e-7, atol=1e-12)


LOSS_INPUT_ERRORS = {
    "multi_margin_integer_input": lambda fw, F: F.multi_margin_loss(
        fw.ones(2, 3, dtype=fw.int64), fw.ones(2)),
    "multi_margin_weight_size": lambda fw, F: F.multi_margin_loss(
        fw.ones(2, 3, dtype=fw.int64), fw.ones(2, dtype=fw.int64), weight=fw.ones(4)),
    "multi_margin_float_target": lambda fw, F: F.multi_margin_loss(fw.ones(2, 3),
                                                                   fw.tensor([5.0, 0.0])),
    "multi_margin_weight_rank": lambda fw, F: F.multi_margin_loss(
        fw.ones(2, 3), fw.tensor([1, 0]), weight=fw.ones(1, 3)),
    "multi_margin_empty_classes": lambda fw, F: F.multi_margin_loss(fw.ones(2, 0),
                                                                    fw.tensor([1, 0])),
    "multi_margin_weight_dtype": lambda fw, F: F.multi_margin_loss(
        fw.ones(2, 3), fw.tensor([1, 0]), weight=fw.ones(3, dtype=fw.float64)),
    "multi_margin_half": lambda fw, F: F.multi_margin_loss(fw.ones(2, 3).half(),
                                                           fw.tensor([1, 0])),
    "multi_margin_3d": lambda fw, F: F.multi_margin_loss(fw.ones(2, 3, 4),
                                                         fw.zeros(2, 5, dtype=fw.int64)),
    "multilabel_margin_integer_input": lambda fw, F: F.multilabel_margin_loss(
        fw.ones(2, 3, dtype=fw.int64), fw.ones(2, 3, dtype=fw.int64)),
    "multilabel_margin_bfloat16": lambda fw, F: F.multilabel_margin_loss(
        fw.ones(2, 3).bfloat16(), fw.ones(2, 3, dtype=fw.int64)),
    "multilabel_margin_int32_target": lambda fw, F: F.multilabel_margin_loss(
        fw.ones(2, 3), fw.ones(2, 3, dtype=fw.int32)),
    "multilabel_margin_float_target": lambda fw, F: F.multilabel_margin_loss(
        fw.ones(2, 3), fw.ones(2, 3)),
    "multilabel_margin_3d": lambda fw, F: F.multilabel_margin_loss(
        fw.ones(2, 3, 4), fw.ones(2, 3, 4, dtype=fw.int64)),
    "ctc_half": lambda fw, F: F.ctc_loss(fw.ones(5, 2, 4).half(), fw.tensor([[1, 2], [1, 1]]),
                                         fw.tensor([5, 5]), fw.tensor([2, 2])),
    "ctc_integer": lambda fw, F: F.ctc_loss(fw.ones(5, 2, 4, dtype=fw.int64),
                                            fw.tensor([[1, 2], [1, 1]]), fw.tensor([5, 5]),
                                            fw.tensor([2, 2])),
    "nll_scalar": lambda fw, F: F.nll_loss(fw.ones(()), fw.tensor(0)),
    "cross_entropy_scalar_long_target": lambda fw, F: F.cross_entropy(fw.ones(()), fw.tensor(0)),
    "cross_entropy_scalar_float_target": lambda fw, F: F.cross_entropy(fw.ones(()),
                                                                       fw.tensor(0.5)),
    "cross_entropy_scalar_vector_target": lambda fw, F: F.cross_entropy(
        fw.ones(()), fw.ones(2, dtype=fw.int64)),
}


@pytest.mark.parametrize("name", list(LOSS_INPUT_ERRORS))
def test_loss_input_errors_match_torch(torch, name):
    """PyTorch's order: the margin losses' shape checks, then their kernels' dtypes (float32 or
    float64 input, int64 target, a weight of the input's dtype); ctc's kernel dtypes; a 0-D
    input to nll_loss and cross_entropy."""
    call = LOSS_INPUT_ERRORS[name]
    assert_raises_like_torch(lambda: call(torch, torch.nn.functional), lambda: call(ember, F),
                             same_type=True)


@pytest.mark.parametrize("name", ["huber_loss", "soft_margin_loss",
                                  "binary_cross_entropy_with_logits"])
@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float64", "float32")])
def test_mixed_dtype_losses_take_torchs_result_dtype(torch, name, dtypes):
    """huber and soft margin losses come out in the input's dtype, binary cross entropy with
    logits in the target's (PyTorch's kernels write into those); gradients equal torch's where
    its backward runs (its huber_loss backward refuses mixed dtypes; ember's computes it)."""
    values = np.linspace(-2.0, 2.0, 6).reshape(2, 3), np.linspace(0.0, 1.0, 6).reshape(2, 3)
    results = []
    for fw in (torch, ember):
        function = getattr(fw.nn.functional, name)
        x = fw.tensor(values[0]).to(getattr(fw, dtypes[0])).requires_grad_()
        loss = function(x, fw.tensor(values[1]).to(getattr(fw, dtypes[1])), reduction="none")
        try:
            loss.sum().backward()
            gradient = x.grad.numpy()
        except RuntimeError:
            gradient = None
        results.append((str(loss.dtype).split(".")[1], loss.detach().numpy(), gradient))
    (their_dtype, theirs, their_grad), (our_dtype, ours, our_grad) = results
    assert our_dtype == their_dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    if their_grad is not None:
        np.testing.assert_allclose(our_grad, their_grad, rtol=1e-6, atol=1e-7)


def _integer_loss_call(fw, name, dtype, reduction, margin):
    values = fw.tensor([1, 2, 3, 0], dtype=getattr(fw, dtype))
    signs = fw.tensor([1, -1, 1, -1] if dtype != "bool" else [1, 0, 1, 0], dtype=getattr(fw, dtype))
    others = fw.tensor([3, 1, 0, 2], dtype=getattr(fw, dtype))
    function = getattr(fw.nn.functional, name)
    if name == "margin_ranking_loss":
        return function(values, others, signs, margin=margin, reduction=reduction)
    if name == "hinge_embedding_loss":
        return function(values, signs, margin=margin, reduction=reduction)
    return function(values, signs, reduction=reduction)


@pytest.mark.parametrize("name, margin", [("hinge_embedding_loss", 1.0),
                                          ("hinge_embedding_loss", 1.5),
                                          ("hinge_embedding_loss", -0.5),
                                          ("margin_ranking_loss", 0.0),
                                          ("margin_ranking_loss", 1.5),
                                          ("soft_margin_loss", None),
                                          ("binary_cross_entropy_with_logits", None)])
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_losses_of_integer_and_bool_inputs_behave_as_torchs(torch, name, margin, dtype,
                                                             reduction):
    # PyTorch's ATen composites: hinge fills the margin into the input's dtype (truncated,
    # range-checked) and stays integral; margin ranking adds a double margin (a float loss);
    # soft margin computes in place in the input's dtype; BCE with logits takes log_sigmoid first
    try:
        expected = _integer_loss_call(torch, name, dtype, reduction, margin)
    except Exception as error:
        with pytest.raises(type(error)) as raised:
            _integer_loss_call(ember, name, dtype, reduction, margin)
        assert str(raised.value) == str(error)
        return
    result = _integer_loss_call(ember, name, dtype, reduction, margin)
    assert str(result.dtype).split(".")[1] == str(expected.dtype).split(".")[1]
    np.testing.assert_allclose(result.numpy(), expected.numpy(), rtol=1e-6)


def test_multilabel_margin_loss_checks_the_target_range_before_the_dtypes(torch):
    for fw_input, fw_target in [([[1, 2, 3]], [[3, 1, 0]]), ([[1.0, 2.0, 3.0]], [[3.0, 1.0, 0.0]])]:
        calls = [lambda fw=fw: fw.nn.functional.multilabel_margin_loss(
            fw.tensor(fw_input), fw.tensor(fw_target)) for fw in (torch, ember)]
        with pytest.raises(RuntimeError, match="argument #2 'target' is out of range"):
            calls[0]()
        with pytest.raises(RuntimeError, match="argument #2 'target' is out of range"):
            calls[1]()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_soft_margin_loss_node_and_target_refusal_like_torch(torch, reduction):
    """PyTorch's soft_margin_loss is one node (SoftMarginLossBackward0 in every reduction) with no
    derivative for the target: a target requiring grad is refused under grad mode, accepted
    under no_grad."""
    def call(fw, target_requires_grad):
        x = fw.tensor(np.linspace(-1.0, 1.0, 6), requires_grad=True)
        target = fw.tensor(np.array([1.0, -1.0, 1.0, 1.0, -1.0, 1.0]),
                           requires_grad=target_requires_grad)
        return fw.nn.functional.soft_margin_loss(x, target, reduction=reduction)
    assert call(ember, False).grad_fn.name() == call(torch, False).grad_fn.name()
    with pytest.raises(RuntimeError) as theirs:
        call(torch, True)
    with pytest.raises(RuntimeError) as ours:
        call(ember, True)
    assert str(ours.value) == str(theirs.value)
    with ember.no_grad():
        assert not call(ember, True).requires_grad
