"""NumPy's argument names that PyTorch's functions and methods accept: ``axis`` for ``dim``
and ``keepdims`` for ``keepdim`` (``torch.cat(xs, axis=1)``, ``x.sum(axis=0, keepdims=True)``)."""
import numpy as np
import pytest

import ember

EXPRESSIONS = [
    "x.sum(axis=1)", "fw.sum(x, axis=1, keepdims=True)", "x.mean(axis=0)", "fw.cat([x, x], axis=0)",
    "fw.stack([x, x], axis=1)", "x.max(axis=1)[0]", "x.argmax(axis=1)", "x.std(axis=0)",
    "x.softmax(axis=1)", "fw.softmax(x, axis=1)", "x.cumsum(axis=0)", "x.squeeze(axis=0)",
    "x.unsqueeze(axis=0)", "x.amax(axis=1)", "x.any(axis=1)", "x.prod(axis=0)",
    "x.logsumexp(axis=1)", "x.median(axis=0)[0]", "fw.concat([x, x], axis=1)",
    "x.gather(axis=1, index=fw.tensor([[0], [1]]))", "x.sort(axis=1)[0]", "x.topk(1, axis=1)[0]",
    "fw.unbind(x, axis=0)[0]", "x.split(split_size=1, dim=0)[0]", "x.var(axis=0)",
    # the submodules' functions too (a DEQ circuit's linalg.norm(W, ord=1, axis=0))
    "fw.linalg.norm(x, ord=1, axis=0)", "fw.linalg.norm(x, axis=1, keepdims=True)",
    "fw.linalg.vector_norm(x, axis=0)", "fw.linalg.matrix_norm(x, axis=(0, 1))",
    "fw.linalg.vecdot(x, x, axis=1)", "fw.special.logsumexp(x, axis=1)",
    "fw.special.log_softmax(x, axis=1)", "fw.fft.fft(x, axis=1).real",
]


def _evaluate(fw, expression):
    x = fw.tensor([[0.5, -1.5, 2.0], [1.0, 3.0, -0.5]])
    result = eval(expression)
    return str(result.dtype).split(".")[1], tuple(result.shape), result.numpy().tolist()


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_numpy_argument_names_like_pytorch(torch, expression):
    dtype, shape, values = _evaluate(ember, expression)
    expected_dtype, expected_shape, expected_values = _evaluate(torch, expression)
    assert (dtype, shape) == (expected_dtype, expected_shape)
    np.testing.assert_allclose(values, expected_values, rtol=1e-6)


def test_both_names_is_an_error():
    with pytest.raises(TypeError, match="multiple values for argument 'dim'"):
        ember.ones(2, 2).sum(dim=0, axis=1)


def test_names_without_an_alias_stay_errors():
    with pytest.raises(TypeError):
        ember.ones(2).flip(axis=0)  # flip takes dims: PyTorch has no alias there either
    np.testing.assert_array_equal(ember.ones(2, 2).sum(axis=0).numpy(), [2.0, 2.0])
