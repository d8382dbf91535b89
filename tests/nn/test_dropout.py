"""Dropout family: statistics, exact scaling, channel masks, eval identity, errors, gradients."""
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F

CLASSES = [nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
           nn.FeatureAlphaDropout]
INPUT_SHAPES = {nn.Dropout: (64, 50), nn.Dropout1d: (16, 32, 20), nn.Dropout2d: (8, 32, 5, 5),
                nn.Dropout3d: (4, 32, 3, 3, 3), nn.AlphaDropout: (64, 50),
                nn.FeatureAlphaDropout: (8, 32, 5, 5)}


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_fraction_zeroed_and_exact_scaling(p):
    x = ember.rand(400, 250) + 0.5  # strictly positive, so zeros come only from the mask
    out = F.dropout(x, p, training=True).numpy()
    zeroed = out == 0
    assert abs(zeroed.mean() - p) < 0.01
    survivors = ~zeroed
    scale = np.float32(1) / np.float32(1 - p)
    np.testing.assert_array_equal(out[survivors], x.numpy()[survivors] * scale)


@pytest.mark.parametrize("cls, feature_shape", [
    (nn.Dropout1d, (6, 40, 7)), (nn.Dropout2d, (6, 40, 3, 4)), (nn.Dropout3d, (6, 40, 2, 2, 3))])
def test_channel_masks_are_constant_per_channel(cls, feature_shape):
    x = ember.rand(*feature_shape) + 1.0
    out = cls(p=0.5)(x).numpy()
    ratio = out / x.numpy()
    flattened = ratio.reshape(feature_shape[0], feature_shape[1], -1)
    np.testing.assert_allclose(flattened, flattened[..., :1].repeat(flattened.shape[2], axis=2),
                               rtol=1e-6)
    dropped = np.isclose(flattened[..., 0], ratio.min())
    assert 0.3 < dropped.mean() < 0.7


def test_feature_alpha_dropout_drops_whole_channels():
    x = ember.rand(6, 40, 3, 4) + 1.0
    out = nn.FeatureAlphaDropout(0.5)(x).numpy().reshape(6, 40, -1)
    alpha_prime = 1.7580993408473766
    a = 1 / np.sqrt((alpha_prime ** 2 * 0.5 + 1) * 0.5)
    kept = np.isclose(out, a * x.numpy().reshape(6, 40, -1) + alpha_prime * a * 0.5, atol=1e-5)
    dropped = np.isclose(out, -alpha_prime * a + alpha_prime * a * 0.5, atol=1e-6)
    assert np.all(kept | dropped)
    assert np.all(kept.all(axis=2) | dropped.all(axis=2))
    assert 0.3 < dropped.all(axis=2).mean() < 0.7


def test_unbatched_channel_dropout():
    x = ember.rand(30, 10) + 1.0
    out = nn.Dropout1d(0.5)(x).numpy()
    zero_rows = np.all(out == 0, axis=1)
    assert np.all(zero_rows | np.all(out != 0, axis=1)) and 0 < zero_rows.sum() < 30
    volume = ember.rand(30, 2, 2, 2) + 1.0
    out = nn.Dropout3d(0.5)(volume).numpy().reshape(30, -1)
    assert np.all(np.all(out == 0, axis=1) | np.all(out != 0, axis=1))


def test_dropout2d_on_3d_input_warns_and_drops_channels():
    x = ember.rand(5, 20, 6) + 1.0
    with pytest.warns(UserWarning, match="assuming that channel-wise 1D dropout"):
        out = nn.Dropout2d(0.5)(x).numpy()
    assert np.all(np.all(out == 0, axis=2) | np.all(out != 0, axis=2))
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        nn.Dropout2d(0.5)(ember.rand(4, 3))


@pytest.mark.parametrize("cls", CLASSES)
def test_eval_and_p_zero_return_the_input_itself(cls):
    x = ember.randn(*INPUT_SHAPES[cls])
    layer = cls(0.5).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert layer(x) is x
        assert cls(0.0)(x) is x


@pytest.mark.parametrize("cls", CLASSES)
def test_p_one_gives_zeros_and_bad_p_raises(cls):
    x = ember.randn(*INPUT_SHAPES[cls], requires_grad=True)
    out = cls(1.0)(x)
    assert np.all(out.detach().numpy() == 0) and out.shape == x.shape
    out.sum().backward()
    assert np.all(x.grad.numpy() == 0)
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=f"dropout probability has to be between 0 and 1, "
                                             f"but got {p}"):
            cls(p)


def test_functional_p_checked_and_defaults():
    x = ember.randn(10, 10)
    with pytest.raises(ValueError, match="but got 2"):
        F.dropout(x, 2)
    assert F.dropout(x, 0.5) is not x  # training=True by default, as in PyTorch
    assert F.alpha_dropout(x, 0.5) is x  # training=False by default
    assert F.feature_alpha_dropout(x, 0.5) is x
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        F.dropout1d(ember.randn(2, 3, 4, 5))


def test_gradient_is_the_scaled_mask():
    x = ember.randn(50, 40, requires_grad=True)
    out = F.dropout(x, 0.3)
    (saved,) = out.grad_fn.saved
    assert saved.dtype == np.float32 and saved.shape == (50, 40)
    out.sum().backward()
    expected = (out.detach().numpy() != 0) / np.float32(0.7)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)
    assert x.grad.dtype == ember.float32 and out.dtype == ember.float32


def test_channel_dropout_saves_only_the_channel_mask():
    x = ember.randn(4, 8, 5, 5, requires_grad=True)
    out = nn.Dropout2d(0.5)(x)
    (saved,) = out.grad_fn.saved
    assert saved.shape == (4, 8, 1, 1)
    out.sum().backward()
    assert x.grad.shape == x.shape


def test_generator_makes_masks_reproducible():
    x = ember.ones(20, 20)
    first = F.dropout(x, 0.5, generator=ember.Generator().manual_seed(7)).numpy()
    second = F.dropout(x, 0.5, generator=ember.Generator().manual_seed(7)).numpy()
    np.testing.assert_array_equal(first, second)
    ember.manual_seed(11)
    third = nn.Dropout()(x).numpy()
    ember.manual_seed(11)
    np.testing.assert_array_equal(third, nn.Dropout()(x).numpy())
    assert not np.array_equal(first, third)


def test_inplace_dropout_writes_input():
    leaf = ember.ones(30, 30, requires_grad=True)
    hidden = leaf * 1
    out = F.dropout(hidden, 0.5, inplace=True)
    assert out is hidden
    out.sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), hidden.detach().numpy())


def test_alpha_dropout_keeps_mean_and_variance(torch):
    x = ember.randn(2000, 500)
    out = F.alpha_dropout(x, 0.3, training=True).numpy()
    assert abs(out.mean()) < 0.01 and abs(out.std() - 1) < 0.01
    # dropped units all take the same value a * (-alpha') + alpha' * a * p
    alpha_prime = 1.7580993408473766
    a = 1 / np.sqrt((alpha_prime ** 2 * 0.3 + 1) * 0.7)
    dropped_value = -alpha_prime * a + alpha_prime * a * 0.3
    assert abs(np.isclose(out, dropped_value, atol=1e-6).mean() - 0.3) < 0.01
    kept_value = alpha_prime * a * 0.3
    ours = np.unique(F.alpha_dropout(ember.zeros(100, 100), 0.3, training=True).numpy())
    theirs = np.unique(torch.nn.functional.alpha_dropout(torch.zeros(100, 100), 0.3,
                                                         training=True).numpy())
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    np.testing.assert_allclose(ours, sorted([dropped_value, kept_value]), rtol=1e-6)


def test_repr_matches_torch(torch):
    for cls in CLASSES:
        theirs = getattr(torch.nn, cls.__name__)
        assert repr(cls(0.25)) == repr(theirs(0.25))
        assert repr(cls(0.5, inplace=True)) == repr(theirs(0.5, inplace=True))


def test_no_grad_does_not_change_dropout_behaviour():
    layer = nn.Dropout(0.5)
    x = ember.ones(100, 100)
    with ember.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deliberate: ember warns about train mode under no_grad
        out = layer(x)
    assert 0.4 < (out.numpy() == 0).mean() < 0.6 and out.grad_fn is None
    layer.eval()
    with ember.no_grad():
        assert layer(x) is x
