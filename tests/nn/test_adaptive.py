"""AdaptiveLogSoftmaxWithLoss against PyTorch: structure, state_dict, outputs, loss, gradients,
log_prob, predict and errors."""
import numpy as np
import pytest

import ember
from tests.conftest import assert_close, assert_layer_like_torch, load_torch_state

EXPRESSIONS = ["AdaptiveLogSoftmaxWithLoss(8, 20, [4, 10, 15], div_value=2.0, head_bias=True)",
               "AdaptiveLogSoftmaxWithLoss(6, 10, [3])"]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_structure_and_state_dict_match_torch(torch, expression):
    assert_layer_like_torch(torch, expression)


def _pair(torch, expression):
    theirs = eval("torch.nn." + expression)
    ours = eval("ember.nn." + expression)
    load_torch_state(ours, theirs)
    return ours, theirs


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_forward_loss_and_gradients_match_torch(torch, expression):
    ours, theirs = _pair(torch, expression)
    features = ours.in_features
    rng = np.random.default_rng(0)
    values = rng.standard_normal((12, features)).astype(np.float32)
    targets = rng.integers(0, ours.n_classes, 12)
    results = []
    for framework, layer in ((ember, ours), (torch, theirs)):
        x = framework.tensor(values, requires_grad=True)
        out = layer(x, framework.tensor(targets))
        out.loss.backward()
        single = layer(x[0].detach(), framework.tensor(targets[0]))
        results.append((out.output, out.loss, x.grad, *[p.grad for p in layer.parameters()],
                        single.output, single.loss, layer.log_prob(x), layer.predict(x)))
    for mine, reference in zip(*results):
        assert_close(mine, reference, rtol=1e-5, atol=1e-6)


def test_predict_with_rare_classes_winning_matches_torch(torch):
    ours, theirs = _pair(torch, EXPRESSIONS[0])
    with torch.no_grad():
        theirs.head.bias[4:] += 5.0  # the clusters' head entries win for most rows
    load_torch_state(ours, theirs)
    values = np.random.default_rng(1).standard_normal((16, 8)).astype(np.float32)
    assert_close(ours.predict(ember.tensor(values)), theirs.predict(torch.tensor(values)))


@pytest.mark.parametrize("call", [
    "layer(zeros(2, 8), tensor([0, 20]))", "layer(zeros(2, 8), tensor([-1, 0]))",
    "layer(zeros(3, 8), tensor([0, 2]))", "layer(zeros(2, 8), tensor([[0, 2]]))",
    "layer(zeros(2, 8), tensor(1))", "nn.AdaptiveLogSoftmaxWithLoss(8, 20, [4, 4])",
    "nn.AdaptiveLogSoftmaxWithLoss(8, 20, [])", "nn.AdaptiveLogSoftmaxWithLoss(8, 20, [4, 20])"])
def test_errors_match_torch(torch, call):
    def run(framework):
        layer = framework.nn.AdaptiveLogSoftmaxWithLoss(8, 20, [4, 10, 15])
        return eval(call, {"layer": layer, "zeros": framework.zeros, "tensor": framework.tensor,
                           "nn": framework.nn})
    with pytest.raises(Exception) as theirs:
        run(torch)
    with pytest.raises(theirs.type) as ours:
        run(ember)
    assert str(ours.value) == str(theirs.value).replace("torch.Size", "ember.Size")


def test_log_prob_of_one_row_is_refused_like_torch(torch):
    for framework in (torch, ember):
        with pytest.raises(IndexError, match="Dimension out of range"):
            framework.nn.AdaptiveLogSoftmaxWithLoss(8, 20, [4]).log_prob(framework.zeros(8))
