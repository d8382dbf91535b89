"""set_printoptions against PyTorch: the printed text of tensors under each option and
profile, and that every call resets sci_mode."""
import numpy as np
import pytest

import ember

ARRAYS = [
    np.array([1.123456, -2.5, 3.0], dtype=np.float32),
    np.array([1e-5, 1.0, 2.0], dtype=np.float32),
    np.array([1.0, 2.0, 3000.0], dtype=np.float64),
    np.arange(12, dtype=np.int64),
    np.linspace(-1, 1, 30, dtype=np.float32).reshape(5, 6),
    np.float32(3.14159265),
    np.zeros(3, dtype=np.float32),
    np.array([np.inf, -1.5, np.nan], dtype=np.float32),
]
OPTIONS = [
    dict(precision=2),
    dict(precision=6),
    dict(threshold=5),
    dict(threshold=5, edgeitems=1),
    dict(linewidth=30),
    dict(sci_mode=True),
    dict(sci_mode=False),
    dict(profile="short"),
    dict(profile="full"),
    dict(profile="short", precision=3),
]


@pytest.fixture
def restore(torch):
    yield
    for framework in (ember, torch):
        framework.set_printoptions(profile="default")


@pytest.mark.parametrize("options", OPTIONS, ids=lambda options: repr(options))
def test_printed_text_matches_torch(torch, restore, options):
    for framework in (ember, torch):
        framework.set_printoptions(**options)
    for array in ARRAYS:
        expected = repr(torch.tensor(array)).replace("torch.", "")
        assert repr(ember.tensor(array)).replace("ember.", "") == expected


def test_every_call_resets_sci_mode_and_options_read_back(torch, restore):
    ember.set_printoptions(sci_mode=True, precision=3)
    ember.set_printoptions(linewidth=100)
    assert ember.get_printoptions() == {"precision": 3, "threshold": 1000, "edgeitems": 3,
                                        "linewidth": 100, "sci_mode": None}
    assert repr(ember.tensor([1.5, 2.25])) == "tensor([1.500, 2.250])"
    ember.set_printoptions(profile="default")
    assert repr(ember.tensor([1.5, 2.25])) == "tensor([1.5000, 2.2500])"
