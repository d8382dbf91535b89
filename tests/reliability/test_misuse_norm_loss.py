"""Misuse of normalisation layers, losses, activations, attention, embedding and dropout side by
side with PyTorch: the same exception type (and message where PyTorch's says what went wrong),
and no buffer of a layer changed by a call that failed."""
import numpy as np
import pytest

import ember


def _long(fw, *shape):
    return fw.ones(*shape, dtype=fw.long)


def _batch_norm_layer(fw, **options):
    fw.manual_seed(0)
    layer = fw.nn.BatchNorm1d(3, **options)
    with fw.no_grad():
        layer.running_mean.copy_(fw.tensor([0.5, -0.5, 1.0]))
        layer.running_var.copy_(fw.tensor([2.0, 0.5, 1.5]))
    return layer


# name -> (make the layer or None, call(fw, layer), whether the message must equal torch's)
LAYER_CASES = {
    "batch_norm integer input": (_batch_norm_layer, lambda fw, m: m(_long(fw, 4, 3)), True),
    "batch_norm negative eps": (lambda fw: _batch_norm_layer(fw, eps=-1.0),
                                lambda fw, m: m(fw.randn(4, 3)), True),
    "batch_norm zero eps": (lambda fw: _batch_norm_layer(fw, eps=0.0),
                            lambda fw, m: m(fw.randn(4, 3)), True),
    "batch_norm wrong channels": (_batch_norm_layer, lambda fw, m: m(fw.randn(4, 5)), False),
    "batch_norm one value per channel": (_batch_norm_layer, lambda fw, m: m(fw.randn(1, 3)),
                                         True),
    "batch_norm wrong rank": (_batch_norm_layer, lambda fw, m: m(fw.randn(4, 3, 2, 2)), True),
    "batch_norm momentum None integer input": (
        lambda fw: _batch_norm_layer(fw, momentum=None), lambda fw, m: m(_long(fw, 4, 3)), True),
    "instance_norm integer input": (
        lambda fw: fw.nn.InstanceNorm1d(3, track_running_stats=True),
        lambda fw, m: m(_long(fw, 2, 3, 4)), True),
}

FUNCTION_CASES = {
    "cross_entropy integer logits": (lambda fw: fw.nn.functional.cross_entropy(
        _long(fw, 2, 3), fw.tensor([0, 1])), True),
    "nll_loss integer input": (lambda fw: fw.nn.functional.nll_loss(
        _long(fw, 2, 3), fw.tensor([0, 1])), True),
    "cross_entropy target out of range": (lambda fw: fw.nn.functional.cross_entropy(
        fw.randn(2, 3), fw.tensor([0, 5])), True),
    "cross_entropy float target for indices": (lambda fw: fw.nn.functional.cross_entropy(
        fw.randn(2, 3), fw.tensor([0.0, 1.0])), True),
    "cross_entropy label_smoothing above 1": (lambda fw: fw.nn.functional.cross_entropy(
        fw.randn(2, 3), fw.tensor([0, 1]), label_smoothing=1.5), True),
    "binary_cross_entropy target 2": (lambda fw: fw.nn.functional.binary_cross_entropy(
        fw.tensor([0.5, 0.2]), fw.tensor([2.0, 0.0])), True),
    "binary_cross_entropy input above 1": (lambda fw: fw.nn.functional.binary_cross_entropy(
        fw.tensor([0.5, 1.2]), fw.tensor([1.0, 0.0])), True),
    "binary_cross_entropy weight shape": (lambda fw: fw.nn.functional.binary_cross_entropy(
        fw.rand(4, 3), fw.rand(4, 3), weight=fw.rand(2)), False),
    "binary_cross_entropy integer input": (lambda fw: fw.nn.functional.binary_cross_entropy(
        _long(fw, 2), _long(fw, 2)), True),
    "bce_with_logits pos_weight shape": (
        lambda fw: fw.nn.functional.binary_cross_entropy_with_logits(
            fw.randn(4, 3), fw.rand(4, 3), pos_weight=fw.ones(2)), True),
    "bce_with_logits target shape": (
        lambda fw: fw.nn.functional.binary_cross_entropy_with_logits(
            fw.randn(4, 3), fw.rand(4, 2)), False),
    "mse_loss integer input": (lambda fw: fw.nn.functional.mse_loss(
        _long(fw, 2, 3), _long(fw, 2, 3)), True),
    "smooth_l1_loss integer input": (lambda fw: fw.nn.functional.smooth_l1_loss(
        _long(fw, 2, 3), _long(fw, 2, 3)), True),
    "huber_loss integer input": (lambda fw: fw.nn.functional.huber_loss(
        _long(fw, 2, 3), _long(fw, 2, 3)), True),
    "kl_div integer input": (lambda fw: fw.nn.functional.kl_div(
        _long(fw, 2, 3), _long(fw, 2, 3), reduction="batchmean"), True),
    "layer_norm integer input": (lambda fw: fw.nn.functional.layer_norm(
        _long(fw, 2, 3), (3,)), True),
    "layer_norm wrong shape": (lambda fw: fw.nn.functional.layer_norm(
        fw.randn(2, 3), (4,)), True),
    "group_norm integer input": (lambda fw: fw.nn.functional.group_norm(
        _long(fw, 2, 4, 3), 2), True),
    "group_norm groups do not divide": (lambda fw: fw.nn.functional.group_norm(
        fw.randn(2, 3, 4), 2), True),
    "batch_norm eval without buffers": (lambda fw: fw.nn.functional.batch_norm(
        fw.randn(2, 3), None, None), True),
    "batch_norm negative eps in eval": (lambda fw: fw.nn.functional.batch_norm(
        fw.randn(4, 3), fw.zeros(3), fw.ones(3), eps=-1.0), True),
    "gelu integer input": (lambda fw: fw.nn.functional.gelu(_long(fw, 2)), True),
    "silu integer input": (lambda fw: fw.nn.functional.silu(_long(fw, 2)), True),
    "elu integer input": (lambda fw: fw.nn.functional.elu(_long(fw, 2)), True),
    "softplus integer input": (lambda fw: fw.nn.functional.softplus(_long(fw, 2)), True),
    "leaky_relu integer input": (lambda fw: fw.nn.functional.leaky_relu(_long(fw, 2)), True),
    "mish integer input": (lambda fw: fw.nn.functional.mish(_long(fw, 2)), True),
    "hardswish integer input": (lambda fw: fw.nn.functional.hardswish(_long(fw, 2)), True),
    "hardsigmoid integer input": (lambda fw: fw.nn.functional.hardsigmoid(_long(fw, 2)), True),
    "logsigmoid integer input": (lambda fw: fw.nn.functional.logsigmoid(_long(fw, 2)), True),
    "dropout integer input": (lambda fw: fw.nn.functional.dropout(_long(fw, 2, 3), 0.5), True),
    "dropout probability above 1": (lambda fw: fw.nn.functional.dropout(fw.randn(2), 1.5), True),
    "sdpa one-dimensional inputs": (
        lambda fw: fw.nn.functional.scaled_dot_product_attention(
            fw.randn(3), fw.randn(3), fw.randn(3)), True),
    "sdpa mask dtype": (lambda fw: fw.nn.functional.scaled_dot_product_attention(
        fw.randn(1, 2, 3, 4), fw.randn(1, 2, 3, 4), fw.randn(1, 2, 3, 4),
        attn_mask=fw.zeros(3, 3, dtype=fw.long)), False),
    "sdpa causal with mask": (lambda fw: fw.nn.functional.scaled_dot_product_attention(
        fw.randn(1, 3, 4), fw.randn(1, 3, 4), fw.randn(1, 3, 4),
        attn_mask=fw.ones(3, 3, dtype=fw.bool), is_causal=True), False),
    "multihead_attention embedding size": (lambda fw: fw.nn.MultiheadAttention(8, 2)(
        fw.randn(3, 2, 6), fw.randn(3, 2, 6), fw.randn(3, 2, 6)), True),
    "embedding float indices": (lambda fw: fw.nn.functional.embedding(
        fw.tensor([0.0]), fw.randn(3, 2)), False),
    "embedding index out of range": (lambda fw: fw.nn.functional.embedding(
        fw.tensor([3]), fw.randn(3, 2)), True),
    "transformer layer activation": (lambda fw: fw.nn.TransformerEncoderLayer(
        8, 2, activation="tanh"), True),
}


def _raised(call):
    with pytest.raises(Exception) as error:
        call()
    return error


def _assert_same_error(theirs, ours, same_message):
    builtin = next(base for base in theirs.type.__mro__ if base.__module__ == "builtins")
    assert issubclass(ours.type, builtin), \
        f"ember raised {ours.type.__name__}: {ours.value}; torch raised " \
        f"{theirs.type.__name__}: {theirs.value}"
    if same_message:
        assert str(ours.value) == str(theirs.value).replace("torch.Size", "ember.Size")


def _buffers(module):
    return {name: buffer.numpy().copy() for name, buffer in module.named_buffers()}


@pytest.mark.parametrize("name", sorted(LAYER_CASES))
def test_layer_misuse_raises_like_torch_and_changes_no_buffer(torch, name):
    make, call, same_message = LAYER_CASES[name]
    their_layer, our_layer = make(torch), make(ember)
    before = _buffers(our_layer)
    theirs = _raised(lambda: call(torch, their_layer))
    ours = _raised(lambda: call(ember, our_layer))
    _assert_same_error(theirs, ours, same_message)
    after = _buffers(our_layer)
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)


@pytest.mark.parametrize("name", sorted(FUNCTION_CASES))
def test_function_misuse_raises_like_torch(torch, name):
    call, same_message = FUNCTION_CASES[name]
    _assert_same_error(_raised(lambda: call(torch)), _raised(lambda: call(ember)),
                       same_message)


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 5)])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_empty_batch_matches_torch_output_and_buffers(torch, shape, momentum):
    their_layer = _batch_norm_layer(torch, momentum=momentum)
    our_layer = _batch_norm_layer(ember, momentum=momentum)
    theirs = their_layer(torch.ones(*shape))
    ours = our_layer(ember.ones(*shape))
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.requires_grad == theirs.requires_grad
    for name, buffer in their_layer.named_buffers():
        np.testing.assert_array_equal(dict(our_layer.named_buffers())[name].numpy(),
                                      buffer.numpy(), err_msg=name)
    # the next real batch continues from the same state as PyTorch's
    batch = np.random.default_rng(0).standard_normal((4,) + shape[1:]).astype(np.float32)
    np.testing.assert_allclose(our_layer(ember.tensor(batch)).detach().numpy(),
                               their_layer(torch.tensor(batch)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    for name, buffer in their_layer.named_buffers():
        np.testing.assert_allclose(dict(our_layer.named_buffers())[name].numpy(),
                                   buffer.numpy(), rtol=1e-6, err_msg=name)
