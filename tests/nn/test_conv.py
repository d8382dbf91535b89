"""Convolutions: the conv kernels (F.conv*) and the Conv/ConvTranspose modules, against torch."""
import math
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck
from ember.ops import shape as shape_ops
from tests.conftest import assert_close, assert_raises_like_torch
from tests.nn.higher_order import assert_derivatives_match_torch, random_arrays

CONV_CASES = [
    # (functional name, input shape, weight shape, keyword arguments)
    ("conv1d", (2, 3, 9), (4, 3, 3), dict(stride=2, padding=1)),
    ("conv1d", (3, 10), (4, 3, 4), dict(padding="same", dilation=2)),
    ("conv2d", (2, 3, 7, 8), (4, 3, 3, 3), dict()),
    ("conv2d", (2, 4, 9, 8), (6, 2, 3, 2), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                                                groups=2)),
    ("conv2d", (2, 3, 8, 7), (6, 3, 2, 4), dict(padding="same")),
    ("conv2d", (2, 3, 8, 7), (5, 3, 3, 3), dict(padding="valid", stride=3)),
    ("conv2d", (3, 6, 6), (6, 1, 3, 3), dict(padding=1, groups=3)),
    ("conv3d", (2, 2, 5, 6, 4), (3, 2, 2, 3, 2), dict(stride=2, padding=1)),
    ("conv_transpose1d", (2, 4, 7), (4, 3, 3), dict(stride=2, padding=1)),
    ("conv_transpose2d", (2, 4, 5, 6), (4, 3, 3, 3), dict(stride=2, padding=1, output_padding=1,
                                                          groups=2)),
    ("conv_transpose2d", (2, 4, 5, 6), (4, 3, 3, 2), dict(stride=(3, 2), padding=(2, 0),
                                                          output_padding=(1, 0),
                                                          dilation=(2, 1))),
    ("conv_transpose2d", (4, 5, 6), (4, 2, 2, 2), dict(stride=2)),
    ("conv_transpose3d", (1, 2, 3, 4, 3), (2, 3, 2, 2, 3), dict(stride=(1, 2, 2), padding=1)),
]


def _bias_size(name, weight_shape, keywords):
    if name.startswith("conv_transpose"):
        return weight_shape[1] * keywords.get("groups", 1)
    return weight_shape[0]


def _pair(array, torch, requires_grad=True):
    return (ember.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


@pytest.mark.parametrize("name, input_shape, weight_shape, keywords", CONV_CASES)
def test_functional_matches_torch_float64(torch, name, input_shape, weight_shape, keywords):
    random = np.random.default_rng(1)
    x, tx = _pair(random.standard_normal(input_shape), torch)
    w, tw = _pair(random.standard_normal(weight_shape), torch)
    b, tb = _pair(random.standard_normal(_bias_size(name, weight_shape, keywords)), torch)
    output = getattr(F, name)(x, w, b, **keywords)
    expected = getattr(torch.nn.functional, name)(tx, tw, tb, **keywords)
    assert output.shape == tuple(expected.shape)
    np.testing.assert_allclose(output.detach().numpy(), expected.detach().numpy(), rtol=1e-10,
                               atol=1e-10)
    grad = random.standard_normal(tuple(expected.shape))
    output.backward(ember.tensor(grad))
    expected.backward(torch.tensor(grad))
    for mine, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-10,
                                   atol=1e-10)


@pytest.mark.parametrize("name, input_shape, weight_shape, keywords",
                         [case for case in CONV_CASES if case[0] != "conv3d"
                          and case[0] != "conv_transpose3d"])
def test_gradcheck(name, input_shape, weight_shape, keywords):
    random = np.random.default_rng(2)
    batched = len(input_shape) == len(weight_shape)
    small_input = (min(input_shape[0], 2),) + input_shape[1:] if batched else input_shape
    x = ember.tensor(random.standard_normal(small_input), requires_grad=True)
    w = ember.tensor(random.standard_normal(weight_shape), requires_grad=True)
    b = ember.tensor(random.standard_normal(_bias_size(name, weight_shape, keywords)),
                     requires_grad=True)
    function = getattr(F, name)
    assert gradcheck(lambda *args: function(*args, **keywords), (x, w, b))


def test_float32_stays_float32_and_no_bias():
    x = ember.randn(2, 3, 6, 6, requires_grad=True)
    w = ember.randn(4, 3, 3, 3, requires_grad=True)
    out = F.conv2d(x, w, padding=1)
    assert out.dtype == ember.float32 and out.shape == (2, 4, 6, 6)
    out.sum().backward()
    assert x.grad.dtype == ember.float32 and w.grad.dtype == ember.float32
    out = F.conv_transpose2d(x, ember.randn(3, 2, 3, 3), stride=2)
    assert out.dtype == ember.float32 and out.shape == (2, 2, 13, 13)


def test_only_requested_gradients_are_computed():
    x = ember.randn(2, 3, 5, 5)
    w = ember.randn(4, 3, 3, 3, requires_grad=True)
    F.conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == (4, 3, 3, 3)
    with ember.no_grad():
        out = F.conv2d(x, w)
    assert out.grad_fn is None and not out.requires_grad


def _load_from_torch(module, torch_module):
    module.load_state_dict({key: ember.tensor(value.detach().numpy())
                            for key, value in torch_module.state_dict().items()})


MODULE_CASES = [
    ("Conv1d", (3, 5, 3), dict(stride=2, padding=2), (4, 3, 11)),
    ("Conv2d", (3, 8, 3), dict(padding=1), (4, 3, 10, 10)),
    ("Conv2d", (4, 6, (3, 2)), dict(stride=2, dilation=2, groups=2, bias=False), (2, 4, 11, 9)),
    ("Conv2d", (3, 4, 3), dict(padding="same", dilation=(1, 2)), (2, 3, 7, 8)),
    ("Conv3d", (2, 3, 2), dict(padding=1), (2, 2, 4, 5, 3)),
    ("Conv2d", (3, 4, 3), dict(padding=(2, 1), padding_mode="reflect"), (2, 3, 6, 5)),
    ("Conv2d", (3, 4, 3), dict(padding=2, stride=2, padding_mode="replicate"), (2, 3, 6, 5)),
    ("Conv2d", (2, 4, 3), dict(padding=(1, 2), padding_mode="circular", groups=2), (2, 2, 4, 5)),
    ("Conv1d", (3, 4, 4), dict(padding="same", padding_mode="reflect"), (2, 3, 7)),
    ("Conv1d", (3, 4, 3), dict(padding=2, padding_mode="circular"), (3, 6)),
    ("ConvTranspose1d", (3, 4, 3), dict(stride=2, output_padding=1), (2, 3, 6)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, groups=2), (2, 4, 5, 5)),
    ("ConvTranspose2d", (3, 2, (2, 3)), dict(stride=(2, 3), dilation=(2, 1), bias=False),
     (2, 3, 4, 3)),
]


@pytest.mark.parametrize("name, arguments, keywords, input_shape", MODULE_CASES)
def test_module_matches_torch_float32(torch, name, arguments, keywords, input_shape):
    torch_module = getattr(torch.nn, name)(*arguments, **keywords)
    module = getattr(nn, name)(*arguments, **keywords)
    assert list(module.state_dict()) == list(torch_module.state_dict())
    assert repr(module) == repr(torch_module)
    _load_from_torch(module, torch_module)
    array = np.random.default_rng(3).standard_normal(input_shape).astype(np.float32)
    x, tx = _pair(array, torch)
    for training in (True, False):
        module.train(training)
        torch_module.train(training)
        module.zero_grad()
        torch_module.zero_grad()
        x.grad = None
        tx.grad = None
        output = module(x)
        expected = torch_module(tx)
        np.testing.assert_allclose(output.detach().numpy(), expected.detach().numpy(),
                                   rtol=1e-5, atol=1e-5)
        assert output.dtype == ember.float32
        grad = np.random.default_rng(4).standard_normal(tuple(expected.shape)).astype(np.float32)
        output.backward(ember.tensor(grad))
        expected.backward(torch.tensor(grad))
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-5)
        for (key, parameter), (_, torch_parameter) in zip(module.named_parameters(),
                                                          torch_module.named_parameters()):
            np.testing.assert_allclose(parameter.grad.numpy(), torch_parameter.grad.numpy(),
                                       rtol=1e-5, atol=1e-4, err_msg=key)


def test_conv_transpose_output_size(torch):
    module = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    torch_module = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    _load_from_torch(module, torch_module)
    array = np.random.default_rng(5).standard_normal((1, 3, 4, 4)).astype(np.float32)
    output = module(ember.tensor(array), output_size=[1, 2, 8, 8])
    expected = torch_module(torch.tensor(array), output_size=[1, 2, 8, 8])
    assert output.shape == (1, 2, 8, 8)
    np.testing.assert_allclose(output.detach().numpy(), expected.detach().numpy(), rtol=1e-5,
                               atol=1e-5)
    with pytest.raises(ValueError, match=r"requested an output size of \(20, 20\), but valid "
                                         r"sizes range from \[7, 7\] to \[8, 8\]"):
        module(ember.tensor(array), output_size=(20, 20))


@pytest.mark.parametrize("name, arguments", [("Conv2d", (16, 8, 3)), ("Conv1d", (6, 12, 5)),
                                             ("ConvTranspose2d", (8, 16, 3))])
def test_default_initialisation_statistics(name, arguments):
    module = getattr(nn, name)(*arguments)
    weight = module.weight.detach().numpy()
    fan_in = weight.shape[1] * math.prod(weight.shape[2:])
    # kaiming_uniform_(a=sqrt(5)): bound = sqrt(6 / ((1 + 5) * fan_in)) = 1 / sqrt(fan_in).
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(weight).max() <= bound
    assert abs(weight.std() - bound / math.sqrt(3)) < 0.1 * bound
    bias = module.bias.detach().numpy()
    assert np.abs(bias).max() <= bound and bias.std() > 0.2 * bound


def test_errors_match_torch(torch):
    x = ember.randn(1, 2, 5, 5)
    with pytest.raises(RuntimeError, match=r"Given groups=1, weight of size \[4, 3, 3, 3\], "
                                           r"expected input\[1, 2, 5, 5\] to have 3 channels, "
                                           r"but got 2 channels instead"):
        F.conv2d(x, ember.randn(4, 3, 3, 3))
    with pytest.raises(RuntimeError):
        torch.nn.functional.conv2d(torch.randn(1, 2, 5, 5), torch.randn(4, 3, 3, 3))
    with pytest.raises(RuntimeError, match="Expected 3D \\(unbatched\\) or 4D \\(batched\\) "
                                           "input to conv2d, but got input of size: \\[2, 5\\]"):
        F.conv2d(ember.randn(2, 5), ember.randn(4, 3, 3, 3))
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        F.conv2d(ember.randn(1, 3, 2, 2), ember.randn(4, 3, 3, 3))
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided"):
        F.conv2d(ember.randn(1, 3, 5, 5), ember.randn(4, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride "
                                           "or dilation"):
        F.conv_transpose2d(ember.randn(1, 3, 5, 5), ember.randn(3, 4, 3, 3), output_padding=1)
    with pytest.raises(RuntimeError, match="Given transposed=1, weight of size \\[3, 4, 3, 3\\]"
                                           ", expected input\\[1, 2, 5, 5\\] to have 3 channels"):
        F.conv_transpose2d(x, ember.randn(3, 4, 3, 3))
    for bad, message in [(dict(groups=0), "groups must be a positive integer"),
                         (dict(groups=2), "in_channels must be divisible by groups"),
                         (dict(stride=2, padding="same"),
                          "padding='same' is not supported for strided convolutions"),
                         (dict(padding="full"), "Invalid padding string 'full'")]:
        with pytest.raises(ValueError, match=message):
            nn.Conv2d(3, 4, 3, **bad)
        with pytest.raises(ValueError, match=message):
            torch.nn.Conv2d(3, 4, 3, **bad)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for '
                                         'ConvTranspose2d'):
        nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding "
                                           "input dimension"):
        nn.Conv2d(2, 3, 3, padding=2, padding_mode="reflect")(ember.randn(1, 2, 2, 2))


@pytest.mark.parametrize("transposed", [False, True], ids=["conv2d", "conv_transpose2d"])
def test_random_configurations_match_torch(torch, transposed):
    """Seeded random kernel/stride/padding/dilation/groups/size combinations: the same output and
    gradients as torch, or the same error type and message."""
    random = np.random.default_rng(21 + transposed)
    for _ in range(40):
        kernel = tuple(int(k) for k in random.integers(1, 5, 2))
        stride = tuple(int(s) for s in random.integers(1, 4, 2))
        dilation = tuple(int(d) for d in random.integers(1, 3, 2))
        groups = int(random.choice([1, 2]))
        in_channels = 2 * int(random.integers(1, 3))
        out_channels = 2 * int(random.integers(1, 3))
        size = tuple(int(s) for s in random.integers(1, 10, 2))
        padding = tuple(int(p) for p in random.integers(0, 3, 2))
        if transposed:
            name = "conv_transpose2d"
            weight_shape = (in_channels, out_channels // groups) + kernel
            output_padding = tuple(int(random.integers(0, max(s, d)))
                                   for s, d in zip(stride, dilation))
            keywords = dict(stride=stride, padding=padding, output_padding=output_padding,
                            dilation=dilation, groups=groups)
        else:
            name = "conv2d"
            weight_shape = (out_channels, in_channels // groups) + kernel
            if random.random() < 0.3:
                padding = "same" if stride == (1, 1) else "valid"
            keywords = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        x, tx = _pair(random.standard_normal((2, in_channels) + size), torch)
        w, tw = _pair(random.standard_normal(weight_shape), torch)
        try:
            expected = getattr(torch.nn.functional, name)(tx, tw, **keywords)
        except RuntimeError as error:
            with pytest.raises(RuntimeError) as raised:
                getattr(F, name)(x, w, **keywords)
            assert str(raised.value) == str(error), (keywords, size)
            continue
        output = getattr(F, name)(x, w, **keywords)
        assert output.shape == tuple(expected.shape), (keywords, size)
        np.testing.assert_allclose(output.detach().numpy(), expected.detach().numpy(),
                                   rtol=1e-10, atol=1e-10)
        grad = random.standard_normal(tuple(expected.shape))
        output.backward(ember.tensor(grad))
        expected.backward(torch.tensor(grad))
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("limit", [0, 1 << 30], ids=["single-gemm", "batched-gemm"])
def test_both_weight_gradient_strategies(torch, monkeypatch, limit):
    """grad_weight takes one 2-D GEMM for large problems and a batched GEMM for small ones."""
    from ember.nn._kernels import conv as conv_ops
    monkeypatch.setattr(conv_ops, "_BATCHED_WEIGHT_GRAD_LIMIT", limit)
    random = np.random.default_rng(31)
    for name, input_shape, weight_shape, keywords in CONV_CASES:
        x, tx = _pair(random.standard_normal(input_shape), torch)
        w, tw = _pair(random.standard_normal(weight_shape), torch)
        getattr(F, name)(x, w, **keywords).sum().backward()
        getattr(torch.nn.functional, name)(tx, tw, **keywords).sum().backward()
        np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("call", [
    lambda F, lib: F.conv2d(lib.randn(1, 3, 5, 5), lib.randn(4, 3, 3, 3, dtype=lib.float64)),
    lambda F, lib: F.conv2d(lib.randn(1, 3, 5, 5), lib.randn(4, 3, 3, 3), lib.randn(3)),
    lambda F, lib: F.conv2d(lib.randn(1, 3, 5, 5), lib.randn(4, 3, 3, 3), stride=0),
    lambda F, lib: F.conv2d(lib.randn(1, 3, 5, 5), lib.randn(4, 3, 3, 3), padding=-1),
    lambda F, lib: F.conv2d(lib.randn(1, 3, 5, 5), lib.randn(4, 3, 3, 3), dilation=0),
    lambda F, lib: F.conv2d(lib.randn(1, 3, 5, 5), lib.randn(4, 3, 3, 3), padding="foo"),
    lambda F, lib: F.conv2d(lib.randn(1, 4, 5, 5), lib.randn(3, 2, 3, 3), groups=2),
    lambda F, lib: F.conv2d(lib.randn(1, 4, 5, 5), lib.randn(1, 2, 3, 3), groups=2),
    lambda F, lib: F.conv1d(lib.randn(3, 4, 6), lib.randn(3, 1, 3), groups=4),
    lambda F, lib: F.conv2d(lib.randn(1, 3, 5, 5), lib.randn(4, 3, 3, 3), stride=(1, 1, 1)),
    lambda F, lib: F.conv_transpose2d(lib.randn(1, 3, 5, 5), lib.randn(3, 4, 3, 3), groups=2),
    lambda F, lib: F.conv_transpose2d(lib.randn(1, 3, 5, 5), lib.randn(3, 4, 3, 3),
                                      stride=2, output_padding=2),
    lambda F, lib: F.conv1d(lib.randn(1, 3, 5, 5), lib.randn(4, 3, 3)),
])
def test_functional_error_messages_match_torch(torch, call):
    with pytest.raises(RuntimeError) as expected:
        call(torch.nn.functional, torch)
    with pytest.raises(RuntimeError) as raised:
        call(F, ember)
    assert str(raised.value) == str(expected.value)


@pytest.mark.parametrize("name, input_shape, weight_shape", [
    ("conv_transpose1d", (1, 3, 5), (3, 4, 3)), ("conv_transpose2d", (1, 3, 5, 5), (3, 4, 3, 3)),
    ("conv_transpose3d", (1, 3, 4, 4, 4), (3, 4, 3, 3, 3))])
def test_output_padding_message_matches_torch(torch, name, input_shape, weight_shape):
    with pytest.raises(RuntimeError) as expected:
        getattr(torch.nn.functional, name)(torch.randn(*input_shape), torch.randn(*weight_shape),
                                           stride=2, output_padding=2)
    with pytest.raises(RuntimeError) as raised:
        getattr(F, name)(ember.randn(*input_shape), ember.randn(*weight_shape), stride=2,
                         output_padding=2)
    assert str(raised.value) == str(expected.value)


# ---- higher-order derivatives (create_graph) -------------------------------------------------
# An unbatched input goes through unsqueeze/squeeze, whose double backward is the shape ops' own.
HIGHER_ORDER_CASES = [
    pytest.param(*case, marks=pytest.mark.skipif(
        len(case[1]) != len(case[2]) and not shape_ops.Reshape.differentiable_backward,
        reason="an unbatched input needs reshape's double backward"))
    for case in CONV_CASES]


def _conv_arrays(name, input_shape, weight_shape, keywords, dtype, seed):
    return random_arrays([input_shape, weight_shape,
                          (_bias_size(name, weight_shape, keywords),)], dtype, seed)


@pytest.mark.parametrize("name, input_shape, weight_shape, keywords", HIGHER_ORDER_CASES)
def test_third_derivatives_match_torch_float64(torch, name, input_shape, weight_shape,
                                               keywords):
    """Convolution's gradients are convolutions again: every order is differentiable."""
    arrays = _conv_arrays(name, input_shape, weight_shape, keywords, np.float64, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's note on padding='same' with even kernels
        assert_derivatives_match_torch(
            torch, lambda fw, *args: getattr(fw.nn.functional, name)(*args, **keywords),
            arrays, orders=3)


@pytest.mark.parametrize("name, input_shape, weight_shape, keywords",
                         HIGHER_ORDER_CASES[::2])
def test_second_derivatives_match_torch_float32(torch, name, input_shape, weight_shape,
                                                keywords):
    arrays = _conv_arrays(name, input_shape, weight_shape, keywords, np.float32, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_derivatives_match_torch(
            torch, lambda fw, *args: getattr(fw.nn.functional, name)(*args, **keywords),
            arrays, orders=2, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name, input_shape, weight_shape, keywords",
                         [CONV_CASES[0], CONV_CASES[3], CONV_CASES[7], CONV_CASES[8]])
def test_gradgradcheck(name, input_shape, weight_shape, keywords):
    arrays = _conv_arrays(name, (1,) + input_shape[1:], weight_shape, keywords, np.float64, 5)
    inputs = [ember.tensor(array, requires_grad=True) for array in arrays]
    function = getattr(F, name)
    assert gradgradcheck(lambda *args: function(*args, **keywords), inputs)


def test_gradgradcheck_empty_batch():
    x = ember.zeros(0, 2, 5, 5, dtype=ember.float64, requires_grad=True)
    w = ember.tensor(np.random.default_rng(6).standard_normal((3, 2, 3, 3)), requires_grad=True)
    assert gradgradcheck(lambda x, w: F.conv2d(x, w, padding=1), (x, w))


def test_double_backward_records_convolutions():
    """The input gradient of a convolution is a transposed convolution, its weight gradient a
    convolution of input and grad, each a node of its own."""
    x = ember.randn(2, 3, 6, 6, requires_grad=True)
    w = ember.randn(4, 3, 3, 3, requires_grad=True)
    grad_x, grad_w = ember.autograd.grad(F.conv2d(x, w).sum(), (x, w), create_graph=True)
    assert type(grad_x.grad_fn).__name__ == "ConvTransposeNd"
    assert type(grad_w.grad_fn).__name__ == "ConvWeightGrad"


@pytest.mark.parametrize("layer, shape", [("Conv2d", (1, 2, 5, 5)), ("ConvTranspose2d", (1, 2, 3, 3)),
                                          ("ConvTranspose1d", (1, 2, 4))])
def test_grad_fn_names_like_torch(torch, layer, shape):
    """PyTorch records every convolution, transposed or not, as ConvolutionBackward0 (printed
    in d2l's transposed-convolution outputs)."""
    names = []
    for library in (torch, ember):
        module = getattr(library.nn, layer)(2, 3, kernel_size=2, stride=2)
        output = module(library.ones(*shape))
        names.append((output.grad_fn.name(), repr(output).split("grad_fn=")[1]))
    assert names[0] == names[1]


# ---- float16 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name, input_shape, weight_shape, keywords", CONV_CASES[:9:2])
def test_float16_matches_torch(torch, name, input_shape, weight_shape, keywords):
    """float16 convolutions on CPU, as PyTorch computes them (float32 accumulation)."""
    arrays = _conv_arrays(name, input_shape, weight_shape, keywords, np.float16, 7)
    ours = [ember.tensor(array, requires_grad=True) for array in arrays]
    theirs = [torch.tensor(array, requires_grad=True) for array in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        output = getattr(F, name)(*ours, **keywords)
        expected = getattr(torch.nn.functional, name)(*theirs, **keywords)
    assert output.dtype == ember.float16
    assert_close(output, expected, rtol=2e-3, atol=2e-2)
    grad = np.cos(np.arange(expected.numel())).reshape(tuple(expected.shape)).astype(np.float16)
    output.backward(ember.tensor(grad))
    expected.backward(torch.tensor(grad))
    for mine, theirs_input in zip(ours, theirs):
        assert mine.grad.dtype == ember.float16
        assert_close(mine.grad, theirs_input.grad, rtol=2e-3, atol=5e-2)


_CONVOLUTIONS = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                 "conv_transpose3d"]


@pytest.mark.parametrize("operation, weight_dims, options", [
    (operation, weight_dims, options) for operation in _CONVOLUTIONS for weight_dims in range(2, 7)
    for options in ({}, {"stride": 2}, {"groups": 0})
    if weight_dims != int(operation[-2]) + 2 or options == {"groups": 0}])
@pytest.mark.parametrize("batched", [False, True])
def test_a_weight_of_another_rank_raises_torchs_error(torch, operation, weight_dims, options,
                                                      batched):
    # PyTorch's convolution takes its rank from the weight: the stride list fails to match it,
    # or (one spatial dim) the input's rank does.
    spatial = int(operation[-2])

    def call(fw):
        x = fw.zeros(*([2] if batched else []), 4, *[6] * spatial)
        w = fw.zeros(4, 4, *[2] * (weight_dims - 2))
        return lambda: getattr(fw.nn.functional, operation)(x, w, **options)
    assert_raises_like_torch(call(torch), call(ember), RuntimeError, same_type=True)
