"""Layers and functional calls on bfloat16 tensors (a model cast with .to(torch.bfloat16), no
autocast) against PyTorch: losses, attention, dropout, pooling, sampling keep the dtype and
agree to bfloat16 rounding, forward and backward."""
import numpy as np
import pytest

import ember

IMAGES = np.linspace(-2, 2, 2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)


def _calls(lib):
    F = lib.nn.functional
    bf = lib.bfloat16
    labels = lib.tensor([0, 1])
    return {
        "cross_entropy": lambda x: F.cross_entropy(x.flatten(1)[:, :5], labels),
        "cross_entropy smoothing": lambda x: F.cross_entropy(x.flatten(1)[:, :5], labels,
                                                             label_smoothing=0.1),
        "cross_entropy probabilities": lambda x: F.cross_entropy(
            x.flatten(1)[:, :5], lib.softmax(x.flatten(1)[:, 5:10].detach().float(), -1).to(bf)),
        "cross_entropy 2d": lambda x: F.cross_entropy(x, lib.zeros(2, 4, 4, dtype=lib.long)),
        "nll_loss": lambda x: F.nll_loss(x.flatten(1)[:, :5], labels),
        "binary_cross_entropy": lambda x: F.binary_cross_entropy(
            lib.sigmoid(x), lib.sigmoid(x.flip(0)).detach()),
        "binary_cross_entropy_with_logits": lambda x: F.binary_cross_entropy_with_logits(
            x, lib.sigmoid(x.flip(0)).detach()),
        "mse_loss": lambda x: F.mse_loss(x, x.flip(0).detach()),
        "huber_loss": lambda x: F.huber_loss(x, x.flip(0).detach()),
        "smooth_l1_loss": lambda x: F.smooth_l1_loss(x, x.flip(0).detach()),
        "triplet_margin_loss": lambda x: F.triplet_margin_loss(x.flatten(1), x.flip(0).flatten(1),
                                                               x.flatten(1) * 0.5),
        "scaled_dot_product_attention mask": lambda x: F.scaled_dot_product_attention(
            x, x, x, attn_mask=lib.tensor(IMAGES[0, 0]).to(bf)),
        "dropout p=0": lambda x: F.dropout(x, 0.0, training=True),
        "max_pool2d padded": lambda x: F.max_pool2d(x, 3, 1, 1),
        "grid_sample": lambda x: F.grid_sample(
            x, F.affine_grid(lib.tensor([[[0.9, 0.1, 0.0], [0.0, 1.1, 0.1]]] * 2).to(bf),
                             (2, 3, 4, 4), align_corners=False), align_corners=False),
    }


@pytest.mark.parametrize("name", sorted(_calls(ember)))
def test_bfloat16_calls_match_torch(torch, name):
    results = []
    for lib in (ember, torch):
        x = lib.tensor(IMAGES).to(lib.bfloat16).requires_grad_()
        out = _calls(lib)[name](x)
        out.float().sum().backward()
        results.append((out, x.grad))
    (ours, our_grad), (theirs, their_grad) = results
    assert ours.dtype == ember.bfloat16 and our_grad.dtype == ember.bfloat16
    for mine, reference in ((ours, theirs), (our_grad, their_grad)):
        np.testing.assert_allclose(mine.detach().float().numpy(),
                                   reference.detach().float().numpy(), rtol=2e-2, atol=2e-2)


def test_a_bfloat16_model_trains_as_torch(torch):
    losses = []
    for lib in (ember, torch):
        lib.manual_seed(0)
        model = lib.nn.Sequential(lib.nn.Linear(6, 8), lib.nn.LayerNorm(8), lib.nn.GELU(),
                                  lib.nn.Linear(8, 3))
        with lib.no_grad():
            for index, parameter in enumerate(model.parameters()):
                values = np.cos(np.arange(parameter.numel()) + index).reshape(parameter.shape)
                parameter.copy_(lib.tensor(values.astype(np.float32) * 0.5))
        model = model.to(lib.bfloat16)
        optimizer = lib.optim.SGD(model.parameters(), lr=0.1)
        inputs = lib.tensor(IMAGES.reshape(16, 6)).to(lib.bfloat16)
        targets = lib.tensor(np.arange(16) % 3)
        run = []
        for _ in range(3):
            loss = lib.nn.functional.cross_entropy(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            run.append(loss.float().item())
        losses.append(run)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-2)
