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


# In-place and alpha mistakes whose error (or result) ember gave differently from PyTorch 2.13
PROMOTION_MISUSES = {
    "add_ complex into float": lambda fw: fw.ones(3).add_(fw.ones(3, dtype=fw.complex64)),
    "sub_ long by a float alpha": lambda fw: fw.ones(3, dtype=fw.long).sub_(1, alpha=0.5),
    "add_ long by a float alpha": lambda fw: fw.ones(3, dtype=fw.long).add_(
        fw.ones(3, dtype=fw.long), alpha=0.5),
    "add with a bool alpha": lambda fw: fw.add(fw.ones(3), fw.ones(3), alpha=True),
    "sub with a bool alpha": lambda fw: fw.sub(fw.ones(3), 1, alpha=False),
    "add_ with a bool alpha": lambda fw: fw.ones(3).add_(fw.ones(3), alpha=True),
    "add bools with a bool alpha": lambda fw: fw.add(fw.ones(3, dtype=fw.bool),
                                                     fw.ones(3, dtype=fw.bool), alpha=True),
    "add with a complex alpha": lambda fw: fw.add(fw.ones(3), 1, alpha=1j),
    "add complex with a complex alpha": lambda fw: fw.add(fw.ones(3, dtype=fw.complex64),
                                                          fw.ones(3), alpha=2j),
    "float_power_ of float32": lambda fw: fw.ones(3).float_power_(2),
    "float_power_ of long": lambda fw: fw.ones(3, dtype=fw.long).float_power_(2),
    "float_power_ of float64": lambda fw: fw.full((3,), 3.0, dtype=fw.float64).float_power_(2),
    "copy_ of a smaller shape": lambda fw: fw.ones(3).copy_(fw.ones(2)),
    "copy_ of a larger shape": lambda fw: fw.ones(3).copy_(fw.ones(2, 3)),
    "copy_ of rows that do not fit": lambda fw: fw.ones(2, 3).copy_(fw.ones(4, 3)),
    "linspace of bool": lambda fw: fw.linspace(0, 1, 3, dtype=fw.bool),
    "logspace of bool": lambda fw: fw.logspace(0, 1, 3, dtype=fw.bool),
}


@pytest.mark.parametrize("name", sorted(PROMOTION_MISUSES))
def test_promotion_misuse_like_torch(torch, name):
    mistake = PROMOTION_MISUSES[name]
    try:
        expected = mistake(torch)
    except (RuntimeError, NotImplementedError) as error:
        with pytest.raises(type(error)) as ours:
            mistake(ember)
        assert str(ours.value) == str(error)
        return
    result = mistake(ember)
    assert str(result.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    np.testing.assert_allclose(result.numpy(), expected.numpy())
