"""torch.func.rearrange (einops patterns) against PyTorch's: shapes, values, views, errors."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck

PATTERNS = [
    ("b h w c -> b h w c", {}), ("b h w c -> (b h) w c", {}), ("b h w c -> h (b w) c", {}),
    ("b h w c -> b c h w", {}), ("b h w c -> b (c h w)", {}),
    ("b (h1 h) (w1 w) c -> (b h1 w1) h w c", {"h1": 2, "w1": 2}),
    ("b (h h1) (w w1) c -> b h w (c h1 w1)", {"h1": 2, "w1": 2}),
    ("... c -> c ...", {}), ("b ... -> (b ...)", {}), ("b ... c -> c ... b", {}), ("... -> ...", {}),
    ("b h w c -> b 1 h w c 1", {}), ("b h w c -> b () h (w 1) c", {}),
    ("b h w c -> b (h w) c", {"h": 4}), ("b h w c -> c w h b", {"b": 2}),
]


def _images(library):
    return library.arange(2 * 4 * 6 * 3, dtype=library.float64).reshape(2, 4, 6, 3)


@pytest.mark.parametrize("pattern, lengths", PATTERNS, ids=str)
def test_rearrange_matches_torch(torch, pattern, lengths):
    expected = torch.func.rearrange(_images(torch), pattern, **lengths)
    images = _images(ember)
    got = ember.func.rearrange(images, pattern, **lengths)
    assert tuple(got.shape) == tuple(expected.shape)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    assert got.is_contiguous() == expected.is_contiguous()
    leaf = images.clone().requires_grad_()
    assert gradcheck(lambda value: ember.func.rearrange(value, pattern, **lengths), (leaf,))


def test_rearrange_stacks_a_list_of_tensors_like_torch(torch):
    expected = torch.func.rearrange(list(_images(torch)), "n h w c -> h (n w) c")
    got = ember.func.rearrange(list(_images(ember)), "n h w c -> h (n w) c")
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


@pytest.mark.parametrize("pattern, lengths", [
    ("b h w c -> b h w", {}), ("b h w c -> b h w c d", {}), ("b h w -> b h w", {}),
    ("b h w c -> b h w c", {"d": 3}), ("b h w c", {}), ("b b w c -> b w c", {}),
    ("b h w c -> b h h", {}), ("b h w c -> (b ... h) w c", {}), ("(b ...) h w c -> b h w c", {}),
    ("b h w c -> b h 2 w c", {}), ("b h w c -> b h (w ()) c", {}), ("b (h w c -> b h w c", {}),
    ("b h w 2c -> b h w", {}), ("b ... ... -> b", {}), ("b h w c ... -> b h w c", {}),
    ("b (h1 h) w c -> b h1 h w c", {"h1": 3}), ("b h w c -> b (h w) c", {"h": 5}),
    ("(b h) w c x -> b h w c x", {}),
])
def test_rearrange_errors_match_torch(torch, pattern, lengths):
    """The same exception type (ValueError, or the DimensionBindError of sizes that do not
    fit); the same ValueError messages (a DimensionBindError's name PyTorch's internal dims)."""
    with pytest.raises(Exception) as expected:
        torch.func.rearrange(_images(torch), pattern, **lengths)
    with pytest.raises(Exception) as got:
        ember.func.rearrange(_images(ember), pattern, **lengths)
    assert type(got.value).__name__ == type(expected.value).__name__
    if isinstance(expected.value, ValueError):
        assert str(got.value) == str(expected.value)
