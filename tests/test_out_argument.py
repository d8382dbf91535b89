"""PyTorch's out= of top-level functions: values written into the given tensor (resized, with
the deprecation warning when it held elements), named result tuples, casting rules, the
refusal with inputs that require grad."""
import warnings

import numpy as np
import pytest

import ember


def _calls(library):
    a = library.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    b = library.ones(3, 2)
    return {
        "matmul": lambda out: library.matmul(a, b, out=out),
        "mul": lambda out: library.mul(a, a, out=out),
        "add_alpha": lambda out: library.add(a, a, alpha=2, out=out),
        "cat": lambda out: library.cat([a, a], out=out),
        "sum_dim": lambda out: library.sum(a, 1, out=out),
        "exp": lambda out: library.exp(a, out=out),
        "clamp": lambda out: library.clamp(a, 1, 4, out=out),
        "softmax": lambda out: library.softmax(a, 1, out=out),
        "where": lambda out: library.where(a > 2, a, -a, out=out),
    }


@pytest.mark.parametrize("name", sorted(_calls(ember)))
def test_values_and_resizing_match_torch(torch, name):
    results = []
    for library in (torch, ember):
        out = library.empty(5)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            returned = _calls(library)[name](out)
        assert returned is out
        results.append((out.numpy().copy(), tuple(out.shape), len(caught)))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-6)
    assert results[1][1:] == results[0][1:]


def test_named_tuples_casts_and_autograd_refusal_match_torch(torch):
    for library in (torch, ember):
        a = library.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
        values, indices = library.empty(0), library.empty(0, dtype=library.long)
        returned = library.max(a, 1, out=(values, indices))
        assert returned[0] is values and returned.indices is indices
        assert values.tolist() == [3.0, 5.0] and indices.tolist() == [0, 1]
        as_double = library.empty(2, dtype=library.float64)
        library.sum(a, 1, out=as_double)
        assert as_double.tolist() == [6.0, 9.0]
        with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                               "output type Long"):
            library.mul(a, a, out=library.empty(2, 3, dtype=library.long))
        leaf = library.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="mul\\(\\): functions with out=... arguments "
                                               "don't support automatic differentiation"):
            library.mul(leaf, leaf, out=library.empty(2))
        with library.no_grad():
            assert library.mul(leaf, leaf, out=library.empty(2)).tolist() == [1.0, 1.0]


def test_special_functions_take_out(torch):
    for library in (torch, ember):
        x = library.tensor([0.3, 1.5, -2.0])
        out = library.empty(3)
        assert library.special.ndtr(x, out=out) is out
        np.testing.assert_allclose(out.numpy(), torch.special.ndtr(torch.tensor(
            [0.3, 1.5, -2.0])).numpy(), rtol=1e-6)
        library.special.gammaln(x.abs(), out=out)
        np.testing.assert_allclose(out.numpy(), np.array([1.0957979, -0.1207822, 0.0]),
                                   atol=1e-6)
        with pytest.raises(TypeError):
            library.special.softmax(x, 0, out=out)
