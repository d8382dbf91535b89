"""Memory formats (torch.memory_format) and the layout/pin_memory factory keywords, against
PyTorch: strides, is_contiguous, errors, and values and gradients unchanged by a layout."""
import numpy as np
import pytest

import ember
from ember import nn


def _same_strides(ember_tensor, torch_tensor):
    assert tuple(ember_tensor.shape) == tuple(torch_tensor.shape)
    assert ember_tensor.stride() == torch_tensor.stride()


def _error(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the type and text are what is compared
        return type(error), str(error)
    return None


@pytest.mark.parametrize("name", ["contiguous_format", "channels_last", "channels_last_3d",
                                  "preserve_format"])
def test_formats_print_pickle_and_compare_like_torch(name):
    import pickle
    value = getattr(ember, name)
    assert isinstance(value, ember.memory_format)
    assert repr(value) == f"ember.{name}"
    assert pickle.loads(pickle.dumps(value)) is value


def test_contiguous_and_is_contiguous_follow_torch(torch):
    values = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    pairs = [(ember.tensor(values), torch.tensor(values)),
             (ember.tensor(values).permute(0, 3, 1, 2), torch.tensor(values).permute(0, 3, 1, 2)),
             (ember.tensor(values)[:, :, ::2], torch.tensor(values)[:, :, ::2]),
             (ember.ones(1, 3, 1, 1), torch.ones(1, 3, 1, 1))]
    for mine, theirs in pairs:
        for name in ["contiguous_format", "channels_last"]:
            ours, reference = getattr(ember, name), getattr(torch, name)
            assert mine.is_contiguous(memory_format=ours) == \
                theirs.is_contiguous(memory_format=reference), name
            converted = mine.contiguous(memory_format=ours)
            _same_strides(converted, theirs.contiguous(memory_format=reference))
            np.testing.assert_array_equal(converted.numpy(), theirs.numpy())
            _same_strides(mine.clone(), theirs.clone())
            _same_strides(mine.clone(memory_format=ours), theirs.clone(memory_format=reference))
            _same_strides(ember.zeros_like(mine), torch.zeros_like(theirs))
            _same_strides(ember.empty_like(mine, memory_format=ours),
                          torch.empty_like(theirs, memory_format=reference))
            _same_strides(mine.to(memory_format=ours), theirs.to(memory_format=reference))
        assert mine.contiguous(memory_format=ember.channels_last).is_contiguous() == \
            theirs.contiguous(memory_format=torch.channels_last).is_contiguous()
    plain = ember.ones(2, 3)
    assert plain.is_contiguous(memory_format=ember.preserve_format)
    assert not plain.t().is_contiguous(memory_format=ember.preserve_format)
    assert plain.contiguous(memory_format=ember.preserve_format) is plain
    five = ember.zeros(2, 3, 4, 5, 6).contiguous(memory_format=ember.channels_last_3d)
    _same_strides(five, torch.zeros(2, 3, 4, 5, 6).contiguous(
        memory_format=torch.channels_last_3d))
    _same_strides(ember.empty(2, 3, 4, 5, memory_format=ember.channels_last),
                  torch.empty(2, 3, 4, 5, memory_format=torch.channels_last))


def test_like_factories_of_tensors_that_are_not_dense_follow_torch(torch):
    """empty_like of an expanded or sliced tensor: dense strides in the input's order, dims of
    stride 0 kept in place (PyTorch's infer_dense_strides)."""
    def views(library):
        return [library.zeros(1, 4).expand(3, 4),
                library.zeros(4, 1, 3).expand(4, 5, 3).permute(2, 1, 0),
                library.zeros(2, 1, 3).expand(2, 4, 3).transpose(0, 2),
                library.zeros(4, 6).t()[:, ::2],
                library.zeros(2, 3, 4, 5).permute(0, 2, 3, 1)[:, :, ::2]]

    for mine, theirs in zip(views(ember), views(torch)):
        _same_strides(ember.empty_like(mine), torch.empty_like(theirs))
        _same_strides(ember.rand_like(mine), torch.rand_like(theirs))


def test_memory_format_errors_match_torch(torch):
    cases = [
        (lambda m: m.ones(2, 3).contiguous(memory_format=m.channels_last)),
        (lambda m: m.ones(2, 3, 4, 5, 6).contiguous(memory_format=m.channels_last)),
        (lambda m: m.ones(2, 3).contiguous(memory_format=m.channels_last_3d)),
        (lambda m: m.ones(2, 3, 4, 5).permute(0, 2, 3, 1).contiguous(
            memory_format=m.preserve_format)),
        (lambda m: m.empty_like(m.ones(2, 3), memory_format=m.channels_last)),
        (lambda m: m.ones(2, 3).to(memory_format=m.channels_last)),
        (lambda m: m.empty(2, memory_format=m.preserve_format)),
    ]
    for case in cases:
        mine, theirs = _error(lambda: case(ember)), _error(lambda: case(torch))
        assert theirs is not None and mine == theirs, (mine, theirs)
    for case in [lambda m: m.empty(2, memory_format="x"), lambda m: m.zeros(2, layout="strided"),
                 lambda m: m.ones(2).contiguous(memory_format="x")]:
        mine, theirs = _error(lambda: case(ember)), _error(lambda: case(torch))
        assert mine[0] is theirs[0] is TypeError
        assert mine[1].replace("ember.", "torch.") == theirs[1]


def test_layout_and_pin_memory_keywords_are_accepted(torch):
    calls = [lambda m: m.zeros(2, 3, layout=m.strided, pin_memory=False),
             lambda m: m.ones(2, layout=m.strided), lambda m: m.empty(2, pin_memory=False),
             lambda m: m.rand(2, 3, layout=m.strided), lambda m: m.randn(2, layout=m.strided),
             lambda m: m.full((2,), 1.5, layout=m.strided, pin_memory=False),
             lambda m: m.arange(3, layout=m.strided, pin_memory=False),
             lambda m: m.linspace(0, 1, 4, layout=m.strided),
             lambda m: m.logspace(0, 1, 4, layout=m.strided), lambda m: m.eye(3, layout=m.strided),
             lambda m: m.randint(0, 4, (3,), layout=m.strided),
             lambda m: m.randperm(3, layout=m.strided),
             lambda m: m.zeros_like(m.ones(2), layout=m.strided, device="cpu"),
             lambda m: m.rand_like(m.ones(2), layout=m.strided, device="cpu"),
             lambda m: m.randint_like(m.ones(2), 3, requires_grad=False)]
    for call in calls:
        mine, theirs = call(ember), call(torch)
        assert tuple(mine.shape) == tuple(theirs.shape) and mine.dtype.name == \
            str(theirs.dtype).split(".")[1]
    with pytest.raises(RuntimeError, match="layout"):
        ember.zeros(2, layout=ember.sparse_coo)


def test_values_and_gradients_do_not_depend_on_the_layout():
    ember.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, padding=1)
    x = ember.randn(2, 3, 6, 7)
    expected = conv(x)
    x_last = x.contiguous(memory_format=ember.channels_last).requires_grad_(True)
    x_plain = x.clone().requires_grad_(True)
    conv_last = nn.Conv2d(3, 4, 3, padding=1)
    conv_last.load_state_dict(conv.state_dict())
    conv_last.to(memory_format=ember.channels_last)
    assert conv_last.weight.is_contiguous(memory_format=ember.channels_last)
    assert isinstance(conv_last.weight, nn.Parameter)
    assert conv_last.bias.is_contiguous()
    out_last = conv_last(x_last)
    np.testing.assert_allclose(out_last.detach().numpy(), expected.detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    (out_last * out_last).sum().backward()
    out_plain = conv(x_plain)
    (out_plain * out_plain).sum().backward()
    np.testing.assert_allclose(x_last.grad.numpy(), x_plain.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(conv_last.weight.grad.numpy(), conv.weight.grad.numpy(),
                               rtol=1e-4, atol=1e-4)


def test_contiguous_channels_last_gradient_is_identity():
    x = ember.randn(2, 3, 4, 5, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(
        lambda t: t.contiguous(memory_format=ember.channels_last) * 2.0, (x,))
    y = x.contiguous(memory_format=ember.channels_last)
    y.backward(ember.ones_like(y))
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3, 4, 5)))


def test_reprs_use_torch_names_under_the_drop_in_import():
    import subprocess
    import sys
    program = ("import ember.compat as c; c.install(force=True); import torch; "
               "x = torch.ones(2, 3); "
               "print(x.dtype, x.shape, x.type(), x.layout, torch.channels_last, "
               "torch.FloatTensor); c.uninstall(); import ember; print(ember.float32)")
    output = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert output.stdout.split("\n")[:2] == [
        "torch.float32 torch.Size([2, 3]) torch.FloatTensor torch.strided torch.channels_last "
        "<class 'torch.FloatTensor'>", "ember.float32"], output.stderr


@pytest.mark.parametrize("make", [
    lambda fw: fw.ones(2, 3, 4), lambda fw: fw.ones(2, 3, 4).permute(2, 0, 1),
    lambda fw: fw.ones(2, 3, 4).transpose(0, 1), lambda fw: fw.ones(2, 1, 3),
    lambda fw: fw.ones(2, 3, 4, 5).to(memory_format=fw.channels_last),
    lambda fw: fw.ones(3, 1).t(), lambda fw: fw.ones(())])
def test_dim_order_like_pytorch(torch, make):
    assert make(ember).dim_order() == make(torch).dim_order()
