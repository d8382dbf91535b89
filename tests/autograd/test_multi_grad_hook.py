"""register_multi_grad_hook against torch.autograd.graph's: mode 'all' and 'any'."""
import numpy as np
import pytest

import ember


def _values(log):
    converted = []
    for tag, value in log:
        if isinstance(value, list):
            value = [None if item is None else item.numpy().tolist() for item in value]
        else:
            value = value.numpy().tolist()
        converted.append((tag, value))
    return converted


def _program(framework):
    register = framework.autograd.graph.register_multi_grad_hook
    a = framework.tensor([1.0, 2.0], requires_grad=True)
    b = framework.tensor([3.0, 4.0], requires_grad=True)
    c = framework.tensor([5.0, 6.0], requires_grad=True)
    log = []
    handle = register((a, b, c), lambda grads: log.append(("all", grads)))
    (a * b).sum().backward()
    (a * 2).sum().backward()
    handle.remove()
    (a * b).sum().backward()
    handle = register((a, b), lambda grad: log.append(("any", grad)), mode="any")
    (a * b).sum().backward()
    framework.autograd.grad((a * b).sum(), (a,))
    handle.remove()
    x = a * 1
    y = b * 1
    register((x, y), lambda grads: log.append(("non-leaf", grads)))
    (x * y * 3).sum().backward()
    with pytest.raises(ValueError) as info:
        register((a,), print, mode="some")
    return _values(log), str(info.value)


def test_all_and_any(torch):
    expected = _program(torch)
    result = _program(ember)
    assert result == expected
    assert [tag for tag, _ in result[0]] == ["all", "all", "any", "any", "non-leaf"]
    np.testing.assert_equal(result[0][1][1], [[2.0, 2.0], None, None])
