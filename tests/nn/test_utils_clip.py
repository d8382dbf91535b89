"""ember.nn.utils: gradient clipping and parameter/vector conversion, against PyTorch."""
import math

import numpy as np
import pytest

import ember
from ember.nn.utils import (
    clip_grad_norm_, clip_grad_value_, get_total_norm, parameters_to_vector,
    vector_to_parameters)

SHAPES = [(4, 3), (7,), (), (2, 2, 2)]


def _params(library, scale, with_missing_grad=True, seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for index, shape in enumerate(SHAPES):
        param = library.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
        if not (with_missing_grad and index == 1):
            param.grad = library.tensor((rng.standard_normal(shape) * scale).astype(np.float32))
        params.append(param)
    return params


def _grads(params):
    return [None if param.grad is None else param.grad.numpy().copy() for param in params]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, "inf", 0.5])
@pytest.mark.parametrize("max_norm, scale", [(1.0, 1.0), (100.0, 1.0), (0.5, 10.0)])
def test_clip_grad_norm_matches_torch(torch, norm_type, max_norm, scale):
    torch_params = _params(torch, scale)
    ember_params = _params(ember, scale)
    expected = torch.nn.utils.clip_grad_norm_(torch_params, max_norm, norm_type=norm_type)
    actual = clip_grad_norm_(ember_params, max_norm, norm_type=norm_type)
    assert isinstance(actual, ember.Tensor)
    assert actual.dtype == ember.float32 and actual.shape == ()
    np.testing.assert_allclose(actual.numpy(), expected.numpy(), rtol=1e-5)
    for got, want in zip(_grads(ember_params), _grads(torch_params)):
        if want is None:
            assert got is None
        else:
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_clipped_norm_is_at_most_max_norm():
    params = _params(ember, 10.0, with_missing_grad=False)
    total = clip_grad_norm_(params, 2.0)
    assert float(total) > 2.0
    after = float(get_total_norm([param.grad for param in params]))
    assert after == pytest.approx(2.0, rel=1e-5)


def test_small_norm_leaves_gradients_unchanged():
    params = _params(ember, 0.01, with_missing_grad=False)
    before = _grads(params)
    clip_grad_norm_(params, 10.0)
    for got, want in zip(_grads(params), before):
        np.testing.assert_array_equal(got, want)


def test_single_tensor_and_generator_inputs():
    param = ember.tensor([3.0, 4.0], requires_grad=True)
    param.grad = ember.tensor([3.0, 4.0])
    total = clip_grad_norm_(param, 1.0)
    assert float(total) == pytest.approx(5.0)
    np.testing.assert_allclose(param.grad.numpy(), [0.6, 0.8], rtol=1e-5)
    with pytest.warns(UserWarning, match="empty generator"):
        total = clip_grad_norm_((p for p in []), 1.0)
    assert float(total) == 0.0


def test_non_finite_norm(torch):
    param = ember.tensor([1.0, 2.0], requires_grad=True)
    param.grad = ember.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        clip_grad_norm_([param], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(param.grad.numpy(), [float("inf"), 1.0])
    total = clip_grad_norm_([param], 1.0)
    torch_param = torch.tensor([1.0, 2.0], requires_grad=True)
    torch_param.grad = torch.tensor([float("inf"), 1.0])
    torch_total = torch.nn.utils.clip_grad_norm_([torch_param], 1.0)
    assert math.isinf(float(total)) and math.isinf(float(torch_total))
    np.testing.assert_array_equal(param.grad.numpy(), torch_param.grad.numpy())


def test_float64_gradients_keep_their_dtype():
    param = ember.tensor([3.0, 4.0], dtype=ember.float64, requires_grad=True)
    param.grad = ember.tensor([3.0, 4.0], dtype=ember.float64)
    total = clip_grad_norm_([param], 1.0)
    assert total.dtype == ember.float64
    assert param.grad.dtype == ember.float64


def test_clip_grad_value_matches_torch(torch):
    torch_params = _params(torch, 3.0)
    ember_params = _params(ember, 3.0)
    torch.nn.utils.clip_grad_value_(torch_params, 1.5)
    assert clip_grad_value_(ember_params, 1.5) is None
    for got, want in zip(_grads(ember_params), _grads(torch_params)):
        if want is None:
            assert got is None
        else:
            np.testing.assert_array_equal(got, want)
            assert np.abs(got).max() <= 1.5


def test_parameters_to_vector_and_back(torch):
    torch_params = _params(torch, 1.0)
    ember_params = _params(ember, 1.0)
    vector = parameters_to_vector(ember_params)
    expected = torch.nn.utils.parameters_to_vector(torch_params).detach().numpy()
    np.testing.assert_array_equal(vector.detach().numpy(), expected)
    assert vector.shape == (sum(int(np.prod(shape)) for shape in SHAPES),)
    new_values = ember.arange(vector.shape[0], dtype=ember.float32)
    vector_to_parameters(new_values, ember_params)
    offset = 0
    for param, shape in zip(ember_params, SHAPES):
        size = int(np.prod(shape))
        assert param.shape == shape
        np.testing.assert_array_equal(param.detach().numpy().reshape(-1),
                                      np.arange(offset, offset + size, dtype=np.float32))
        assert param.requires_grad
        offset += size


def test_parameters_to_vector_is_differentiable():
    params = [ember.tensor([1.0, 2.0], requires_grad=True), ember.tensor(3.0, requires_grad=True)]
    vector = parameters_to_vector(params)
    (vector * ember.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(params[0].grad.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(params[1].grad.numpy(), 3.0)


def test_vector_to_parameters_needs_a_tensor():
    with pytest.raises(TypeError, match="expected ember.Tensor"):
        vector_to_parameters([1.0, 2.0], [ember.zeros(2, requires_grad=True)])


def test_parameters_to_vector_gradcheck():
    from tests.conftest import float64_tensor
    params = (float64_tensor((2, 3), seed=1), float64_tensor((4,), seed=2))
    assert ember.autograd.gradcheck(lambda first, second: parameters_to_vector([first, second]),
                                    params)


def test_clip_within_max_norm_keeps_values_and_moves_versions_as_torch(torch):
    """A total norm below max_norm scales by exactly 1: values unchanged, versions bumped."""
    for library in (ember, torch):
        params = _params(library, 0.01)
        before = [param.grad.clone() for param in params if param.grad is not None]
        versions = [param.grad._version for param in params if param.grad is not None]
        clip = clip_grad_norm_ if library is ember else torch.nn.utils.clip_grad_norm_
        clip(params, 1e3)
        after = [param.grad for param in params if param.grad is not None]
        for old, new in zip(before, after):
            np.testing.assert_array_equal(new.detach().numpy(), old.detach().numpy())
        assert [grad._version for grad in after] == [version + 1 for version in versions]


def test_norm_of_no_gradients_is_a_zero_of_the_default_dtype_like_torch(torch):
    results = []
    for fw in (torch, ember):
        previous = fw.get_default_dtype()
        fw.set_default_dtype(fw.float64)
        try:
            norm = fw.nn.utils.clip_grad_norm_([fw.tensor([1.0], requires_grad=True)], 1.0)
        finally:
            fw.set_default_dtype(previous)
        results.append((float(norm), str(norm.dtype).split(".")[-1]))
    assert results[1] == results[0] == (0.0, "float64")
