"""Pooling: max/avg/adaptive kernels and modules against torch, indices, gradchecks, errors."""
import contextlib

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck
from ember.ops import shape as shape_ops
from tests.conftest import (
    assert_close, assert_raises_like_torch, assert_same_outcome_as_torch, compare_with_torch,
    float_array, gradcheck_arrays)
from tests.nn.higher_order import assert_derivatives_match_torch, random_arrays

POOL_CASES = [
    # (functional name, input shape, keyword arguments)
    ("max_pool1d", (2, 3, 11), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("max_pool1d", (3, 12), dict(kernel_size=4, dilation=2)),
    ("max_pool2d", (2, 3, 8, 8), dict(kernel_size=2)),
    ("max_pool2d", (2, 3, 9, 7), dict(kernel_size=(2, 3))),  # tiles, leaving a border
    ("max_pool1d", (2, 3, 11), dict(kernel_size=2)),
    ("max_pool2d", (2, 3, 8, 9), dict(kernel_size=3, stride=1)),
    ("max_pool2d", (2, 3, 9, 8), dict(kernel_size=(3, 2), stride=2, padding=1, dilation=(1, 2),
                                      ceil_mode=True)),
    ("max_pool2d", (3, 7, 9), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("avg_pool1d", (2, 3, 10), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                    count_include_pad=False)),
    ("avg_pool1d", (2, 3, 10), dict(kernel_size=4)),
    ("avg_pool2d", (2, 3, 8, 9), dict(kernel_size=2)),
    # windows tiling the input (stride = kernel, no padding): the gradient is one broadcast
    ("avg_pool2d", (2, 3, 8, 8), dict(kernel_size=4)),
    ("avg_pool2d", (2, 3, 6, 7), dict(kernel_size=(3, 2), count_include_pad=False)),
    ("avg_pool2d", (2, 3, 4, 4), dict(kernel_size=1)),
    ("avg_pool3d", (2, 2, 4, 6, 4), dict(kernel_size=2, divisor_override=3)),
    ("avg_pool2d", (2, 3, 8, 9), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("avg_pool2d", (2, 3, 8, 9), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                      count_include_pad=False)),
    ("avg_pool2d", (3, 8, 9), dict(kernel_size=(3, 2), stride=(1, 2), padding=1,
                                   divisor_override=5)),
    ("adaptive_avg_pool1d", (2, 3, 10), dict(output_size=4)),
    ("adaptive_avg_pool2d", (2, 3, 10, 7), dict(output_size=(4, 3))),
    ("adaptive_avg_pool2d", (2, 3, 10, 7), dict(output_size=(None, 3))),
    ("adaptive_avg_pool2d", (3, 10, 7), dict(output_size=1)),
    ("adaptive_max_pool2d", (2, 3, 10, 7), dict(output_size=(4, 3))),
    ("adaptive_max_pool2d", (3, 5, 7), dict(output_size=(8, 9))),
]


def _call(function, x, keywords, with_indices):
    if with_indices:
        return function(x, return_indices=True, **keywords)
    return function(x, **keywords), None


@pytest.mark.parametrize("rounded", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("name, shape, keywords, with_indices",
                         [case + (False,) for case in POOL_CASES]
                         + [case + (True,) for case in POOL_CASES if "max" in case[0]])
def test_functional_matches_torch_float64(torch, name, shape, keywords, rounded, with_indices):
    array = np.random.default_rng(1).standard_normal(shape)
    if rounded:
        array = np.round(array)  # many ties: the first maximum must win, as in PyTorch
    x = ember.tensor(array, requires_grad=True)
    tx = torch.tensor(array, requires_grad=True)
    output, indices = _call(getattr(F, name), x, keywords, with_indices)
    expected, expected_indices = _call(getattr(torch.nn.functional, name), tx, keywords,
                                       with_indices)
    assert output.shape == tuple(expected.shape)
    np.testing.assert_allclose(output.detach().numpy(), expected.detach().numpy(), rtol=1e-12,
                               atol=1e-12)
    if with_indices:
        assert indices.dtype == ember.int64
        np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
    grad = np.random.default_rng(2).standard_normal(tuple(expected.shape))
    output.backward(ember.tensor(grad))
    expected.backward(torch.tensor(grad))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, shape, keywords", POOL_CASES)
def test_gradcheck(name, shape, keywords):
    x = ember.tensor(np.random.default_rng(3).standard_normal(shape), requires_grad=True)
    function = getattr(F, name)
    assert gradcheck(lambda value: function(value, **keywords), (x,))


def test_float32_stays_float32():
    x = ember.randn(2, 3, 8, 8, requires_grad=True)
    for output in (F.max_pool2d(x, 2), F.avg_pool2d(x, 3, 1, 1), F.avg_pool2d(x, 2),
                   F.adaptive_avg_pool2d(x, 3), F.adaptive_avg_pool2d(x, 1),
                   F.adaptive_max_pool2d(x, 3), F.max_pool1d(x[0], 2)):
        assert output.dtype == ember.float32
        output.sum().backward()
        assert x.grad.dtype == ember.float32


@pytest.mark.parametrize("kernel_size, stride", [(2, 2), (3, 1)])
def test_max_pool_propagates_nan(torch, kernel_size, stride):
    array = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6) % 7
    array[0, 0, 1, 0] = np.nan
    array[0, 0, 2, 3] = np.nan
    array[0, 0, 3, 3] = np.nan
    output, indices = F.max_pool2d(ember.tensor(array), kernel_size, stride, return_indices=True)
    expected, expected_indices = torch.nn.functional.max_pool2d(
        torch.tensor(array), kernel_size, stride, return_indices=True)
    np.testing.assert_array_equal(output.numpy(), expected.numpy())
    np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
    x = ember.tensor(array, requires_grad=True)
    tx = torch.tensor(array, requires_grad=True)
    F.max_pool2d(x, kernel_size, stride).sum().backward()
    torch.nn.functional.max_pool2d(tx, kernel_size, stride).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("path", ["compiled", "numpy"])
@pytest.mark.parametrize("kernel_size, stride", [(2, 2), (3, 1)])
def test_max_pool_non_finite_gradient_reaches_only_the_maximum(torch, kernel_size, stride, path):
    # a window's NaN or inf gradient lands on its maximum; every other element gets exactly 0
    array = (np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6) * 5) % 11
    x = ember.tensor(array, requires_grad=True)
    tx = torch.tensor(array, requires_grad=True)
    expected_output = torch.nn.functional.max_pool2d(tx, kernel_size, stride)
    grad = np.linspace(-3, 3, expected_output.numel(), dtype=np.float32).reshape(
        expected_output.shape)
    grad.reshape(-1)[::3] = np.nan
    grad.reshape(-1)[1::5] = -np.inf
    expected_output.backward(torch.tensor(grad))
    with ember._jit.disabled() if path == "numpy" else contextlib.nullcontext():
        F.max_pool2d(x, kernel_size, stride).backward(ember.tensor(grad))
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    assert not np.signbit(x.grad.numpy()[tx.grad.numpy() == 0]).any()


MODULE_CASES = [
    ("MaxPool1d", (3,), dict(stride=2, padding=1), (2, 4, 9)),
    ("MaxPool2d", (2,), dict(), (2, 4, 8, 8)),
    ("MaxPool2d", (3,), dict(stride=2, padding=1, dilation=1, ceil_mode=True), (2, 4, 9, 8)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1, count_include_pad=False), (2, 4, 9)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True), (2, 4, 9, 8)),
    ("AvgPool2d", (2,), dict(divisor_override=3), (2, 4, 8, 8)),
    ("AdaptiveAvgPool1d", (4,), dict(), (2, 4, 9)),
    ("AdaptiveAvgPool2d", ((3, None),), dict(), (2, 4, 9, 8)),
    ("AdaptiveMaxPool2d", ((3, 5),), dict(), (2, 4, 9, 8)),
]


@pytest.mark.parametrize("name, arguments, keywords, shape", MODULE_CASES)
def test_module_matches_torch_float32(torch, name, arguments, keywords, shape):
    module = getattr(nn, name)(*arguments, **keywords)
    torch_module = getattr(torch.nn, name)(*arguments, **keywords)
    assert repr(module) == repr(torch_module)
    assert list(module.state_dict()) == [] == list(torch_module.state_dict())
    array = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    for training in (True, False):
        module.train(training)
        torch_module.train(training)
        x = ember.tensor(array, requires_grad=True)
        tx = torch.tensor(array, requires_grad=True)
        output = module(x)
        expected = torch_module(tx)
        np.testing.assert_allclose(output.detach().numpy(), expected.detach().numpy(),
                                   rtol=1e-5, atol=1e-6)
        output.sum().backward()
        expected.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_return_indices_modules(torch):
    array = np.random.default_rng(5).standard_normal((2, 3, 6, 7)).astype(np.float32)
    for name, arguments in (("MaxPool2d", (3, 2, 1)), ("AdaptiveMaxPool2d", ((4, 3),))):
        output, indices = getattr(nn, name)(*arguments, return_indices=True)(
            ember.tensor(array))
        expected, expected_indices = getattr(torch.nn, name)(*arguments, return_indices=True)(
            torch.tensor(array))
        np.testing.assert_array_equal(output.numpy(), expected.numpy())
        np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())


@pytest.mark.parametrize("call", [
    lambda F, x: F.max_pool2d(x, 3, padding=2),
    lambda F, x: F.avg_pool2d(x, 3, padding=2),
    lambda F, x: F.max_pool2d(x[0, 0], 3),
    lambda F, x: F.max_pool2d(x[:, :, :2, :2], 3),
    lambda F, x: F.max_pool1d(x, 3),
    lambda F, x: F.max_pool2d(x, 2, stride=0),
    lambda F, x: F.adaptive_avg_pool2d(x[0, 0], 3),
])
def test_errors_match_torch(torch, call):
    array = np.random.default_rng(6).standard_normal((1, 2, 5, 5)).astype(np.float32)
    with pytest.raises(RuntimeError) as expected:
        call(torch.nn.functional, torch.tensor(array))
    with pytest.raises(RuntimeError) as raised:
        call(F, ember.tensor(array))
    assert str(raised.value) == str(expected.value)


def _random_pool_configuration(random, spatial_dims):
    kernel = tuple(int(k) for k in random.integers(1, 5, spatial_dims))
    stride = tuple(int(s) for s in random.integers(1, 4, spatial_dims))
    dilation = tuple(int(d) for d in random.integers(1, 3, spatial_dims))
    padding = tuple(int(random.integers(0, (d * (k - 1) + 1) // 2 + 1))
                    for k, d in zip(kernel, dilation))
    size = tuple(int(s) for s in random.integers(1, 12, spatial_dims))
    return kernel, stride, dilation, padding, size, bool(random.integers(0, 2))


@pytest.mark.parametrize("spatial_dims", [1, 2])
def test_random_configurations_match_torch(torch, spatial_dims):
    """Seeded random kernel/stride/padding/dilation/ceil_mode/size combinations: the same output
    shape, values, indices and gradients as torch, or the same error type and message."""
    random = np.random.default_rng(11 + spatial_dims)
    for _ in range(60):
        kernel, stride, dilation, padding, size, ceil_mode = _random_pool_configuration(
            random, spatial_dims)
        array = np.round(random.standard_normal((2, 3) + size) * 2)  # ties included
        with_indices = bool(random.integers(0, 2))
        max_name = f"max_pool{spatial_dims}d"
        avg_name = f"avg_pool{spatial_dims}d"
        calls = [(max_name, dict(kernel_size=kernel, stride=stride, padding=padding,
                                 dilation=dilation, ceil_mode=ceil_mode,
                                 return_indices=with_indices)),
                 (avg_name, dict(kernel_size=kernel, stride=stride,
                                 padding=tuple(min(p, k // 2) for p, k in zip(padding, kernel)),
                                 ceil_mode=ceil_mode,
                                 count_include_pad=bool(random.integers(0, 2))))]
        for name, keywords in calls:
            x = ember.tensor(array, requires_grad=True)
            tx = torch.tensor(array, requires_grad=True)
            try:
                expected = getattr(torch.nn.functional, name)(tx, **keywords)
            except RuntimeError as error:
                with pytest.raises(RuntimeError) as raised:
                    getattr(F, name)(x, **keywords)
                assert str(raised.value) == str(error), (name, keywords, size)
                continue
            output = getattr(F, name)(x, **keywords)
            values = expected[0] if isinstance(expected, tuple) else expected
            # A window lying wholly in the padding gives -inf; PyTorch then reports an index
            # outside the input (and scatters its gradient there): nothing to compare.
            comparable = not np.isinf(values.detach().numpy()).any()
            if isinstance(expected, tuple):
                if comparable:
                    np.testing.assert_array_equal(output[1].numpy(), expected[1].numpy(),
                                                  err_msg=f"{keywords} {size}")
                output, expected = output[0], expected[0]
            assert output.shape == tuple(expected.shape), (name, keywords, size)
            np.testing.assert_allclose(output.detach().numpy(), expected.detach().numpy(),
                                       rtol=1e-12, atol=1e-12)
            if not comparable:
                continue
            grad = random.standard_normal(tuple(expected.shape))
            output.backward(ember.tensor(grad))
            expected.backward(torch.tensor(grad))
            np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12,
                                       err_msg=f"{name} {keywords} {size}")


@pytest.mark.parametrize("expression, shape", [
    ("LPPool1d(2, 3)", (2, 3, 8)), ("LPPool1d(3.0, 2, stride=1)", (2, 3, 7)),
    ("LPPool2d(2, 2)", (2, 3, 4, 6)), ("LPPool2d(1.5, (2, 3), stride=1, ceil_mode=True)",
                                       (1, 2, 5, 6))])
def test_lp_pool_matches_torch(torch, expression, shape):
    ours = eval("nn." + expression)
    theirs = eval("torch.nn." + expression)
    assert repr(ours) == repr(theirs)
    array = np.abs(float_array(shape)) + 0.1
    compare_with_torch(torch, ours, theirs, [array], rtol=1e-5, atol=1e-5)
    gradcheck_arrays(ours, [array])


# ---- higher-order derivatives (create_graph) -------------------------------------------------
# Max pooling's gradient is a scatter by the argmax (its own gradient the gather); average
# pooling's its transpose (whose gradient is average pooling). An unbatched input goes through
# unsqueeze/squeeze, whose double backward is the shape ops' own.
HIGHER_ORDER_CASES = [
    pytest.param(*case, marks=pytest.mark.skipif(
        len(case[1]) != (3 if "1d" in case[0] else 4) and "adaptive_avg" not in case[0]
        and not shape_ops.Reshape.differentiable_backward,
        reason="an unbatched input needs reshape's double backward"))
    for case in POOL_CASES]


@pytest.mark.parametrize("rounded", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("name, shape, keywords", HIGHER_ORDER_CASES)
def test_third_derivatives_match_torch_float64(torch, name, shape, keywords, rounded):
    array = np.random.default_rng(2).standard_normal(shape)
    if rounded:
        array = np.round(array)
    assert_derivatives_match_torch(
        torch, lambda fw, x: getattr(fw.nn.functional, name)(x, **keywords), [array], orders=3)


@pytest.mark.parametrize("name, shape, keywords", [case for case in HIGHER_ORDER_CASES
                                                   if "max_pool" in case.values[0]])
def test_third_derivatives_with_indices_match_torch(torch, name, shape, keywords):
    assert_derivatives_match_torch(
        torch, lambda fw, x: getattr(fw.nn.functional, name)(x, return_indices=True,
                                                             **keywords)[0],
        random_arrays([shape], seed=3), orders=3)


@pytest.mark.parametrize("name, shape, keywords", HIGHER_ORDER_CASES[2::3])
def test_second_derivatives_match_torch_float32(torch, name, shape, keywords):
    assert_derivatives_match_torch(
        torch, lambda fw, x: getattr(fw.nn.functional, name)(x, **keywords),
        random_arrays([shape], np.float32, seed=4), orders=2, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, keywords", [
    ("max_pool2d", dict(kernel_size=2)),
    ("max_pool3d", dict(kernel_size=2, stride=1)),
    ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ("avg_pool3d", dict(kernel_size=2)),
    ("adaptive_max_pool2d", dict(output_size=(2, 3))),
    ("adaptive_avg_pool3d", dict(output_size=2)),
])
def test_gradgradcheck(name, keywords):
    dims = 3 if "3d" in name else 2
    x = ember.tensor(np.random.default_rng(5).permutation(2 * 4 ** dims).reshape(
        (1, 2) + (4,) * dims) / 7.0, requires_grad=True)  # distinct values: no argmax ties
    assert gradgradcheck(lambda x: getattr(F, name)(x, **keywords), (x,))


# ---- 3-D adaptive max pooling and power-average pooling ---------------------------------------
@pytest.mark.parametrize("output_size", [(2, 3, 4), (1, 1, 1), (5, 6, 7), (3, None, 2), 2])
@pytest.mark.parametrize("batched", [True, False])
def test_adaptive_max_pool3d_matches_torch(torch, output_size, batched):
    shape = (2, 3, 5, 6, 7) if batched else (3, 5, 6, 7)
    values = np.random.default_rng(11).standard_normal(shape).astype(np.float32)
    results = []
    for framework in (ember, torch):
        x = framework.tensor(values, requires_grad=True)
        out, indices = framework.nn.functional.adaptive_max_pool3d(x, output_size, True)
        layer = framework.nn.AdaptiveMaxPool3d(output_size)(x)
        (out * out).sum().backward()
        results.append((out, indices, layer, x.grad))
    for ours, theirs in zip(*results):
        assert_close(ours, theirs)


@pytest.mark.parametrize("arguments", [(2, 2), (1.5, (2, 3, 2), (1, 2, 1)), (3, 2, None, True)])
def test_lp_pool3d_matches_torch(torch, arguments):
    values = np.abs(np.random.default_rng(12).standard_normal((2, 3, 5, 6, 7))) + 0.1
    values = values.astype(np.float32)
    results = []
    for framework in (ember, torch):
        x = framework.tensor(values, requires_grad=True)
        out = framework.nn.functional.lp_pool3d(x, *arguments)
        layer = framework.nn.LPPool3d(*arguments)
        out.sum().backward()
        results.append((out, layer(x), x.grad, repr(layer)))
    (*ours, our_repr), (*theirs, their_repr) = results
    for our_value, their_value in zip(ours, theirs):
        assert_close(our_value, their_value, rtol=1e-5, atol=1e-5)
    assert our_repr == their_repr


def test_pool3d_gradcheck():
    x = ember.tensor(np.random.default_rng(13).uniform(0.5, 2, (1, 2, 3, 4, 3)),
                     requires_grad=True)
    assert gradcheck(lambda x: ember.nn.functional.adaptive_max_pool3d(x, (2, 2, 2)), [x])
    assert gradcheck(lambda x: ember.nn.functional.lp_pool3d(x, 2, (2, 2, 2), 1), [x])


# ---- fractional max pooling -------------------------------------------------------------------
FRACTIONAL_CASES = [
    (2, (2, 3, 7, 9), (2, 2), {"output_size": (4, 5)}),
    (2, (3, 10, 11), (3, 2), {"output_size": (5, 8)}),  # unbatched
    (2, (2, 2, 7, 9), (2, 3), {"output_size": (6, 1)}),  # the largest output the pool allows
    (2, (1, 2, 8, 6), 2, {"output_ratio": (0.5, 0.7)}),
    (2, (2, 1, 5, 5), 2, {"output_size": 1}),
    (3, (2, 3, 6, 7, 8), (2, 3, 2), {"output_size": (3, 4, 5)}),
    (3, (3, 5, 5, 5), 2, {"output_ratio": 0.5}),  # unbatched
]


def _fractional_inputs(shape, spatial_dims, dtype, seed=0):
    random = np.random.default_rng(seed)
    array = random.standard_normal(shape).astype(dtype)
    array.reshape(-1)[::7] = np.round(array.reshape(-1)[::7])  # ties: the first maximum wins
    batch = shape[0] if len(shape) == spatial_dims + 2 else 1
    channels = shape[-spatial_dims - 1]
    samples = random.uniform(size=(batch, channels, spatial_dims)).astype(dtype)
    return array, samples


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("spatial_dims, shape, kernel_size, options", FRACTIONAL_CASES)
def test_fractional_max_pool_matches_torch(torch, dtype, spatial_dims, shape, kernel_size,
                                           options):
    array, samples = _fractional_inputs(shape, spatial_dims, dtype)
    name = f"fractional_max_pool{spatial_dims}d"
    ours = ember.tensor(array, requires_grad=True)
    theirs = torch.tensor(array, requires_grad=True)
    our_output, our_indices = getattr(F, name)(
        ours, kernel_size, return_indices=True, _random_samples=ember.tensor(samples), **options)
    their_output, their_indices = getattr(torch.nn.functional, name)(
        theirs, kernel_size, return_indices=True, _random_samples=torch.tensor(samples),
        **options)
    assert_close(our_output, their_output, rtol=0, atol=0)
    assert_close(our_indices, their_indices)
    weights = np.random.default_rng(1).standard_normal(tuple(their_output.shape)).astype(dtype)
    (our_output * ember.tensor(weights)).sum().backward()
    (their_output * torch.tensor(weights)).sum().backward()
    assert_close(ours.grad, theirs.grad)


def test_fractional_max_pool_nan_wins_like_torch(torch):
    array, samples = _fractional_inputs((1, 2, 6, 6), 2, "float32")
    array[0, 0, 1, 1] = array[0, 0, 2, 2] = array[0, 1, 4, 0] = np.nan
    ours = F.fractional_max_pool2d(ember.tensor(array), 3, output_size=3, return_indices=True,
                                   _random_samples=ember.tensor(samples))
    theirs = torch.nn.functional.fractional_max_pool2d(
        torch.tensor(array), 3, output_size=3, return_indices=True,
        _random_samples=torch.tensor(samples))
    assert_close(ours[0], theirs[0], rtol=0, atol=0)
    assert_close(ours[1], theirs[1])


def test_fractional_max_pool_float64_gradcheck():
    samples = ember.tensor([[[0.3, 0.7], [0.9, 0.1]]], dtype=ember.float64)
    for function, size in ((F.fractional_max_pool2d, (1, 2, 6, 5)),
                           (F.fractional_max_pool3d, (1, 2, 4, 5, 4))):
        draws = samples if function is F.fractional_max_pool2d else \
            ember.tensor([[[0.3, 0.7, 0.5], [0.9, 0.1, 0.2]]], dtype=ember.float64)
        assert ember.autograd.gradcheck(
            lambda input: function(input, 2, output_size=3, _random_samples=draws),
            (ember.tensor(np.random.default_rng(2).permutation(np.prod(size)).reshape(size)
                          / 10.0, dtype=ember.float64, requires_grad=True),))


def test_fractional_max_pool_modules_match_torch(torch):
    array, samples = _fractional_inputs((2, 3, 9, 8), 2, "float32")
    ours = nn.FractionalMaxPool2d((3, 2), output_ratio=(0.5, 0.6), return_indices=True,
                                  _random_samples=ember.tensor(samples))
    theirs = torch.nn.FractionalMaxPool2d((3, 2), output_ratio=(0.5, 0.6), return_indices=True,
                                          _random_samples=torch.tensor(samples))
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["_random_samples"]
    assert (ours.kernel_size, ours.output_size, ours.output_ratio) == \
        (theirs.kernel_size, theirs.output_size, theirs.output_ratio)
    for mine, their in zip(ours(ember.tensor(array)), theirs(torch.tensor(array))):
        assert_close(mine, their)
    cube = nn.FractionalMaxPool3d(2, output_size=(2, 3, 2))
    assert cube.output_size == torch.nn.FractionalMaxPool3d(2, output_size=(2, 3, 2)).output_size
    assert list(cube.state_dict()) == []
    # Without samples the windows are drawn from ember's generator: a valid pooling, seeded.
    ember.manual_seed(0)
    first = cube(ember.tensor(_fractional_inputs((2, 3, 5, 6, 5), 3, "float32")[0]))
    ember.manual_seed(0)
    second = cube(ember.tensor(_fractional_inputs((2, 3, 5, 6, 5), 3, "float32")[0]))
    assert tuple(first.shape) == (2, 3, 2, 3, 2)
    assert_close(first, second)


@pytest.mark.parametrize("call", [
    "fractional_max_pool2d(x, 2, output_size=(7, 9), _random_samples=s)",
    "fractional_max_pool2d(x, 3, output_size=(6, 5), _random_samples=s)",
    "fractional_max_pool2d(x, 2, output_size=(4, 5), _random_samples=lib.rand(2, 3, 3))",
    "fractional_max_pool2d(x, 2, output_size=(4, 5), _random_samples=lib.rand(1, 3, 2))",
    "fractional_max_pool2d(x, 2, output_size=(4, 5), _random_samples=lib.rand(2, 2, 2))",
    "fractional_max_pool2d(x, 2, output_size=(4, 5), _random_samples=lib.rand(2, 3))",
    "fractional_max_pool2d(x, 2, output_size=(4, 5), _random_samples=s.double())",
    "fractional_max_pool2d(x[0, 0], 2, output_size=(4, 5), _random_samples=s)",
    "fractional_max_pool2d(x[None], 2, output_size=(4, 5))",
    "fractional_max_pool2d(x, (2, 3, 3), output_size=(4, 5), _random_samples=s)",
    "fractional_max_pool2d(x, 2, output_size=(4, 5, 6), _random_samples=s)",
    "fractional_max_pool2d(x, 2, output_size=(4, -1), _random_samples=s)",
    "fractional_max_pool2d(x.int(), 2, output_size=(4, 5), _random_samples=s.int())",
    "fractional_max_pool2d(x[:, :, :0], 2, output_size=(4, 5), _random_samples=s)",
    "fractional_max_pool2d(x, 2)",
    "fractional_max_pool2d(x, 2, output_ratio=[0.5, 0.6, 0.7], _random_samples=s)",
    "fractional_max_pool3d(x[None], 2, output_size=(1, 2, 9))",
    "fractional_max_pool3d(x[None], 2, output_size=(1, 2, 3), _random_samples=lib.rand(1, 2, 5))",
    "fractional_max_pool3d(x[None], 2, output_size=(1, 2, 3), _random_samples=s)",
    "fractional_max_pool3d(x[0], 2, output_size=(1, 2, 3), _random_samples=s)",
])
def test_fractional_max_pool_errors_match_torch(torch, call):
    def run(lib):
        functional = lib.nn.functional
        x = lib.ones(2, 3, 7, 9)
        s = lib.rand(2, 3, 2)
        return eval("functional." + call, {"functional": functional, "x": x, "s": s,
                                           "lib": lib})
    assert_raises_like_torch(lambda: run(torch), lambda: run(ember), same_type=True)


@pytest.mark.parametrize("arguments", [
    {"kernel_size": 2}, {"kernel_size": 2, "output_size": 3, "output_ratio": 0.5},
    {"kernel_size": 2, "output_ratio": 1.0}, {"kernel_size": 2, "output_ratio": (0.5, 0.0)}])
def test_fractional_max_pool_module_errors_match_torch(torch, arguments):
    assert_raises_like_torch(lambda: torch.nn.FractionalMaxPool2d(**arguments),
                             lambda: nn.FractionalMaxPool2d(**arguments), ValueError)
    assert_raises_like_torch(lambda: torch.nn.FractionalMaxPool3d(0, output_ratio=0.5),
                             lambda: nn.FractionalMaxPool3d(0, output_ratio=0.5), ValueError)


@pytest.mark.parametrize("call", [
    lambda F, lib: F.max_pool1d(lib.ones(1, 1, 4), 0),
    lambda F, lib: F.max_pool2d(lib.ones(1, 1, 4, 4), 0),
    lambda F, lib: F.avg_pool1d(lib.ones(1, 1, 4), 0),
])
def test_zero_kernel_errors_match_torch(torch, call):
    """max_pool1d names the kernel, the others a zero stride (the kernel's default), as
    PyTorch's checks run in different orders."""
    messages = []
    for library in (ember, torch):
        with pytest.raises(RuntimeError) as error:
            call(library.nn.functional, library)
        messages.append(str(error.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("options", [
    {"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": (2, 3), "stride": (1, 2), "dilation": (2, 1), "padding": (1, 1)},
    {"kernel_size": 2, "ceil_mode": True}])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool2d_indices_compiled_and_numpy_paths_match_torch(torch, options, dtype):
    """The compiled window argmax (first maximum, last NaN) and flat indices, and the NumPy
    passes per kernel offset: torch's values, indices (ties and NaN here) and gradient."""
    from ember import _jit
    rng = np.random.default_rng(13)
    array = rng.integers(-2, 3, (2, 3, 7, 9)).astype(dtype)
    array[0, 1, 2, 3] = array[1, 2, 5, 5] = array[1, 2, 5, 6] = np.nan
    theirs_leaf = torch.tensor(array, requires_grad=True)
    values, indices = torch.nn.functional.max_pool2d(theirs_leaf, return_indices=True, **options)
    weights = rng.standard_normal(tuple(values.shape)).astype(dtype)
    (values * torch.tensor(weights)).sum().backward()
    for disabled in (False, True):
        leaf = ember.tensor(array, requires_grad=True)
        with _jit.disabled() if disabled else contextlib.nullcontext():
            ours, our_indices = F.max_pool2d(leaf, return_indices=True, **options)
            (ours * ember.tensor(weights)).sum().backward()
        np.testing.assert_array_equal(ours.detach().numpy(), values.detach().numpy())
        np.testing.assert_array_equal(our_indices.numpy(), indices.numpy())
        # overlapping windows add their gradients in another order
        np.testing.assert_allclose(leaf.grad.numpy(), theirs_leaf.grad.numpy(), rtol=1e-6,
                                   atol=1e-6)


@pytest.mark.parametrize("output_size", [7, (3, 5), (9, 4), 1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adaptive_max_pool2d_compiled_and_numpy_paths_match_torch(torch, output_size, dtype):
    """The compiled window scan and NumPy's gathered windows: torch's values, indices (first
    maximum among ties, last NaN among NaNs) and gradient."""
    from ember import _jit
    rng = np.random.default_rng(14)
    array = rng.integers(-2, 3, (2, 3, 9, 11)).astype(dtype)
    array[0, 0, 1:4, 2:5] = np.nan
    array[1, 2, 0, 0] = array[1, 2, 8, 10] = np.nan
    theirs_leaf = torch.tensor(array, requires_grad=True)
    values, indices = torch.nn.functional.adaptive_max_pool2d(theirs_leaf, output_size, True)
    weights = rng.standard_normal(tuple(values.shape)).astype(dtype)
    (values * torch.tensor(weights)).sum().backward()
    for disabled in (False, True):
        leaf = ember.tensor(array, requires_grad=True)
        with _jit.disabled() if disabled else contextlib.nullcontext():
            ours, our_indices = F.adaptive_max_pool2d(leaf, output_size, True)
            (ours * ember.tensor(weights)).sum().backward()
        np.testing.assert_array_equal(ours.detach().numpy(), values.detach().numpy())
        np.testing.assert_array_equal(our_indices.numpy(), indices.numpy())
        np.testing.assert_allclose(leaf.grad.numpy(), theirs_leaf.grad.numpy(), rtol=1e-6,
                                   atol=1e-6)


ADAPTIVE_AVERAGE_CASES = [
    # (functional name, input shape, output size): global ones run as a mean over the spatial
    # dims, the others as per-dim averaging matrices; 1-D pools as 2-D (PyTorch's squeeze)
    ("adaptive_avg_pool2d", (3, 4, 5, 6), 1),
    ("adaptive_avg_pool2d", (4, 5, 6), (1, 1)),
    ("adaptive_avg_pool2d", (3, 4, 5, 6), (1, None)),
    ("adaptive_avg_pool2d", (3, 4, 5, 6), (2, 3)),
    ("adaptive_avg_pool3d", (2, 3, 4, 5, 3), 1),
    ("adaptive_avg_pool3d", (2, 3, 4, 5, 3), (1, 2, 2)),
    ("adaptive_avg_pool1d", (3, 4, 7), 1),
    ("adaptive_avg_pool1d", (4, 7), 3),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name, shape, output_size", ADAPTIVE_AVERAGE_CASES)
def test_adaptive_average_pooling_values_gradients_and_nodes_match_torch(torch, name, shape,
                                                                          output_size, dtype):
    values = np.random.default_rng(8).standard_normal(shape).astype(dtype)
    results = []
    for framework in (ember, torch):
        x = framework.tensor(values, requires_grad=True)
        output = getattr(framework.nn.functional, name)(x, output_size)
        cotangent = np.random.default_rng(9).standard_normal(tuple(output.shape)).astype(dtype)
        output.backward(framework.tensor(cotangent))
        results.append((output.grad_fn.name(), output.detach().numpy(), x.grad.numpy()))
    (name_mine, *mine), (name_theirs, *theirs) = results
    assert name_mine == name_theirs
    tolerance = 1e-6 if dtype == np.float32 else 1e-12
    for ours, reference in zip(mine, theirs):
        assert ours.dtype == dtype and ours.shape == reference.shape
        np.testing.assert_allclose(ours, reference, rtol=tolerance, atol=tolerance)


def test_global_adaptive_average_pooling_gradcheck():
    x = ember.tensor(np.random.default_rng(10).standard_normal((2, 3, 4, 3)), requires_grad=True)
    assert gradcheck(lambda x: F.adaptive_avg_pool2d(x, 1), (x,))
    assert gradgradcheck(lambda x: F.adaptive_avg_pool2d(x, 1) ** 2, (x,))


def _pooling_error_cases():
    """(name, call) pairs: empty non-batch dims, dtypes the kernels lack, zero dilation,
    negative padding and adaptive output sizes, for every max, average and adaptive pooling."""
    cases = []
    for dims in (1, 2, 3):
        spatial = (4,) * dims
        for kind in ("max", "avg"):
            name = f"{kind}_pool{dims}d"
            shapes = [(1, 0) + spatial, (0,) + spatial, (2, 3, 0) + spatial[1:],
                      (0, 2) + spatial]
            for shape in shapes:
                cases.append((f"{name}{shape}", name, shape, {}, None))
                cases.append((f"{name}{shape}_negative_padding", name, shape, {"padding": -1},
                              None))
            for dtype in ("int64", "bool", "float16"):
                cases.append((f"{name}_{dtype}", name, (1, 1) + spatial, {}, dtype))
            if kind == "max":
                cases.append((f"{name}_zero_dilation", name, (1, 1) + spatial, {"dilation": 0},
                              None))
                cases.append((f"{name}_bool_indices", name, (1, 1) + spatial,
                              {"return_indices": True}, "bool"))
            adaptive = f"adaptive_{kind}_pool{dims}d"
            for shape in shapes + [(3, 0) + spatial[1:]]:
                cases.append((f"{adaptive}{shape}", adaptive, shape, {}, None))
                cases.append((f"{adaptive}{shape}_negative", adaptive, shape, {"size": -2},
                              None))
            for dtype in ("int64", "bool"):
                cases.append((f"{adaptive}_{dtype}", adaptive, (1, 1) + spatial, {}, dtype))
            cases.append((f"{adaptive}_negative", adaptive, (1, 1) + spatial, {"size": -1},
                          None))
    return cases


@pytest.mark.parametrize("case", _pooling_error_cases(), ids=lambda case: case[0])
def test_pooling_input_checks_match_torch(torch, case):
    """PyTorch's order and words: max_pool1d refuses empty dims first, the others after their
    argument checks (3-D pooling naming 'non-batch dimension 0' whichever is empty); adaptive
    max pooling checks empty dims before the output size; each kernel's own name in dtype
    refusals (max_pool1d_impl, avg_pool3d_out_frame, adaptive_max_pool2d for 1-D, ...)."""
    _, name, shape, options, dtype = case
    options = dict(options)
    size = options.pop("size", 2)

    def call(fw):
        def run():
            x = fw.ones(shape) if dtype is None else fw.ones(shape).to(getattr(fw, dtype))
            return getattr(fw.nn.functional, name)(x, size, **options)
        return run
    try:
        expected = call(torch)()
    except Exception:  # noqa: BLE001 - torch's error decides what ember must raise
        assert_raises_like_torch(call(torch), call(ember), same_type=True)
        return
    expected = expected[0] if isinstance(expected, tuple) else expected
    ours = call(ember)()
    ours = ours[0] if isinstance(ours, tuple) else ours
    assert tuple(ours.shape) == tuple(expected.shape)


@pytest.mark.parametrize("name, shape, kernel_size", [
    ("max_pool1d", (4, 6, 58), 58),  # max over time: one window per row
    ("max_pool1d", (3, 5, 107), 9),  # windows of 9 leaving a border of 8
    ("max_pool2d", (2, 4, 16, 16), 8),
    ("max_pool2d", (2, 3, 19, 21), (2, 9)),
    ("max_pool3d", (1, 2, 3, 5, 17), (1, 2, 8)),
])
@pytest.mark.parametrize("kind", ["normal", "relu", "rounded", "nan"])
def test_max_pool_wide_tiling_windows_match_torch_exactly(torch, name, shape, kernel_size, kind):
    """Windows of 8 or more columns tiling the input (one window at a time in the compiled
    kernel): output and gradient equal to PyTorch's, ties (after ReLU, rounded values) on the
    first maximum, NaN windows; -0 gradients give +0 as PyTorch's. (Not compared: the sign of
    a zero maximum among -0 and +0 ties, and of zeros around NaN windows, where ember's
    forward and PyTorch's differ.)"""
    random = np.random.default_rng(5)
    array = random.standard_normal(shape).astype(np.float32)
    if kind == "relu":
        array = np.maximum(array, 0)
    elif kind == "rounded":
        array = np.round(array)
    elif kind == "nan":
        array.reshape(-1)[::7] = np.nan
    results = []
    for fw in (torch, ember):
        x = fw.tensor(array, requires_grad=True)
        output = getattr(fw.nn.functional, name)(x, kernel_size)
        grad = np.linspace(-2, 2, output.numel(), dtype=np.float32).reshape(tuple(output.shape))
        grad.reshape(-1)[::5] = -0.0
        output.backward(fw.tensor(grad))
        results.append((output.detach().numpy(), x.grad.numpy()))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_array_equal(ours, theirs)
        if kind in ("normal", "relu"):
            np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))


@pytest.mark.parametrize("name, shape, kernel_size", [
    ("max_pool1d", (2, 3, 1024), 1024),  # global max pooling over points
    ("max_pool1d", (2, 3, 600), 256),  # two windows and a border
    ("max_pool2d", (1, 2, 4, 300), (2, 300)),
])
@pytest.mark.parametrize("kind", ["rounded", "nan"])
def test_max_pool_long_windows_keep_torchs_first_maximum(torch, name, shape, kernel_size, kind):
    """Windows of 256 or more columns (the compiled forward): PyTorch's rule, NaN wins and of
    tied maxima the first is kept, so a zero maximum has the sign of the window's first zero
    (NumPy's maximum keeps the second); gradients equal to PyTorch's."""
    random = np.random.default_rng(9)
    # maxima of 0 in every window, its zeros -0 or +0 at random
    magnitudes = np.round(np.abs(random.standard_normal(shape)))
    signs = np.where(random.random(shape) < 0.5, -1.0, 1.0)
    array = np.where(magnitudes == 0, np.copysign(0.0, signs), -magnitudes).astype(np.float32)
    if kind == "nan":
        array.reshape(-1)[5] = np.nan  # one window's maximum
    results = []
    for fw in (torch, ember):
        x = fw.tensor(array, requires_grad=True)
        output = getattr(fw.nn.functional, name)(x, kernel_size)
        output.backward(fw.ones_like(output))
        results.append((output.detach().numpy(), x.grad.numpy()))
    (expected, expected_grad), (output, grad) = results
    assert (expected == 0).any()
    np.testing.assert_array_equal(output, expected)
    np.testing.assert_array_equal(np.signbit(output), np.signbit(expected))
    np.testing.assert_array_equal(grad, expected_grad)


@pytest.mark.parametrize("name", ["adaptive_avg_pool1d", "adaptive_max_pool1d",
                                  "adaptive_avg_pool2d", "adaptive_max_pool2d",
                                  "adaptive_avg_pool3d", "adaptive_max_pool3d"])
@pytest.mark.parametrize("output_size", ["ok", "int", "nones", "long", "short", "mixed"])
def test_adaptive_pooling_ranks_and_output_sizes_err_as_torch(torch, name, output_size):
    # PyTorch's Python layer (Nones filled from the input, which needs more dims), its argument
    # parser (1-D sizes) and its kernels (output size length, then rank) in their order
    spatial = int(name[-2])
    size = {"ok": (2,) * spatial, "int": 2, "nones": (None,) * spatial,
            "long": (2,) * (spatial + 1), "short": (2,), "mixed": (None, 2)}[output_size]
    for dims in range(1, spatial + 4):
        assert_same_outcome_as_torch(
            torch, lambda fw: getattr(fw.nn.functional, name)(fw.zeros(*[4] * dims), size))
