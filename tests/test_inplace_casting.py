"""In-place ops and copy_ across dtypes, as PyTorch: copy_ casts anything (floats truncate),
arithmetic in place refuses a result of a higher category (float into integer or bool, integer
into bool) with PyTorch's message."""
import numpy as np
import pytest

import ember

CASES = [
    ("int64", lambda t, m: t.copy_(m.tensor([1.7, -2.5]))),
    ("bool", lambda t, m: t.copy_(m.tensor([0.5, 0.0]))),
    ("uint8", lambda t, m: t.copy_(m.tensor([3, 300]))),
    ("int64", lambda t, m: t.add_(1.5)),
    ("int64", lambda t, m: t.mul_(m.tensor([1.5, 2.0]))),
    ("int64", lambda t, m: t.div_(2)),
    ("bool", lambda t, m: t.add_(1)),
    ("bool", lambda t, m: t.add_(True)),
    ("bool", lambda t, m: t.mul_(m.tensor([2, 3]))),
    ("uint8", lambda t, m: t.add_(m.tensor([True, False]))),
    ("int32", lambda t, m: t.sub_(m.tensor([1, 2]))),
    ("float32", lambda t, m: t.add_(m.tensor([1, 2]))),
]


@pytest.mark.parametrize("dtype,call", CASES)
def test_in_place_casting_matches_torch(torch, dtype, call):
    outcomes = []
    for module in (ember, torch):
        target = module.tensor([1, 0], dtype=getattr(module, dtype))
        try:
            call(target, module)
        except RuntimeError as error:
            outcomes.append(("error", str(error).split(": ", 1)[-1]))
        else:
            outcomes.append(("value", target.numpy().tolist()))
    assert outcomes[0] == outcomes[1]


def test_copy_into_a_leaf_under_no_grad_casts():
    weights = ember.zeros(3, dtype=ember.int64)
    with ember.no_grad():
        weights.copy_(ember.tensor([0.9, 1.1, -1.9]))
    np.testing.assert_array_equal(weights.numpy(), [0, 1, -1])
