"""RMSNorm and F.rms_norm against PyTorch: values, gradients, half precision, eps=None, errors,
the module's parameters and repr; a float64 gradcheck."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck
from tests.conftest import assert_close, float64_tensor

SHAPES = [((2, 3, 4), (4,)), ((2, 3, 4), (3, 4)), ((5,), [5])]


@pytest.mark.parametrize("shape, normalized_shape", SHAPES)
@pytest.mark.parametrize("eps", [None, 1e-3])
@pytest.mark.parametrize("with_weight", [True, False])
def test_rms_norm_matches_torch(torch, shape, normalized_shape, eps, with_weight):
    generator = np.random.default_rng(0)
    data = generator.normal(size=shape).astype(np.float32)
    weight = generator.normal(size=tuple(normalized_shape)).astype(np.float32)
    results = []
    for framework, functional in ((ember, F), (torch, torch.nn.functional)):
        x = framework.tensor(data, requires_grad=True)
        w = framework.tensor(weight, requires_grad=True) if with_weight else None
        output = functional.rms_norm(x, normalized_shape, w, eps)
        (output * framework.arange(output.numel()).reshape(output.shape)).sum().backward()
        results.append((output, x.grad, None if w is None else w.grad))
    for actual, expected in zip(*results):
        if expected is not None:
            assert_close(actual, expected.detach(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_rms_norm_low_and_double_precision(torch, dtype):
    data = np.random.default_rng(1).normal(size=(3, 8)).astype(np.float32)
    actual = F.rms_norm(ember.tensor(data).to(getattr(ember, dtype)), (8,))
    expected = torch.nn.functional.rms_norm(torch.tensor(data).to(getattr(torch, dtype)), (8,))
    assert str(actual.dtype).split(".")[-1] == dtype
    assert_close(actual.float(), expected.float(), rtol=1e-6, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Mismatch dtype between input and weight")
@pytest.mark.parametrize("input_dtype, weight_dtype", [("bfloat16", "float32"),
                                                       ("bfloat16", "bfloat16"),
                                                       ("float16", "float16"),
                                                       ("float16", "float32"),
                                                       ("float32", "float64"),
                                                       ("bfloat16", "float16")])
def test_rms_norm_output_keeps_the_input_dtype(torch, input_dtype, weight_dtype):
    """PyTorch scales by the weight before rounding once to the input's dtype: a float32
    weight on bfloat16 activations (an nn.RMSNorm under autocast) gives bfloat16."""
    generator = np.random.default_rng(2)
    data = generator.normal(size=(3, 8)).astype(np.float32)
    weight = generator.normal(size=(8,)).astype(np.float32)
    outputs = []
    for framework in (ember, torch):
        x = framework.tensor(data).to(getattr(framework, input_dtype))
        w = framework.tensor(weight).to(getattr(framework, weight_dtype))
        outputs.append(framework.nn.functional.rms_norm(x, (8,), w, 1e-5))
    actual, expected = outputs
    assert str(actual.dtype) == str(expected.dtype).replace("torch", "ember")
    # float32 results to a last-bit difference in the sum of squares; rounded ones exactly
    assert_close(actual.double(), expected.double(), rtol=1e-6 if input_dtype == "float32" else 0,
                 atol=0)
    with ember.autocast("cpu", dtype=ember.bfloat16):
        hidden = ember.nn.Linear(8, 8)(ember.tensor(data))
        assert ember.nn.RMSNorm(8)(hidden).dtype == ember.bfloat16


def test_rms_norm_errors_match_torch(torch):
    cases = [lambda fw: fw.nn.functional.rms_norm(fw.ones(2, 3), (4,)),
             lambda fw: fw.nn.functional.rms_norm(fw.ones(2, 3), (2, 4)),
             lambda fw: fw.nn.functional.rms_norm(fw.ones(2, 4), (4,), weight=fw.ones(3)),
             lambda fw: fw.nn.functional.rms_norm(fw.ones(2, 4).long(), (4,)),
             lambda fw: fw.nn.functional.rms_norm(fw.ones(2, 4), ()),
             lambda fw: fw.nn.functional.rms_norm(fw.ones(2, 4), 4),
             lambda fw: fw.nn.functional.layer_norm(fw.ones(2, 4), 4),
             lambda fw: fw.nn.functional.layer_norm(fw.ones(2, 4), ())]
    for case in cases:
        with pytest.raises(Exception) as expected:
            case(torch)
        with pytest.raises(type(expected.value)) as actual:
            case(ember)
        assert str(actual.value) == str(expected.value)


def test_rms_norm_module_matches_torch(torch):
    for arguments in [((4,), {}), ([2, 4], {"eps": 1e-6}), (4, {"elementwise_affine": False})]:
        ours = ember.nn.RMSNorm(arguments[0], **arguments[1])
        theirs = torch.nn.RMSNorm(arguments[0], **arguments[1])
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        for name, value in theirs.state_dict().items():
            assert_close(ours.state_dict()[name], value)
    data = np.random.default_rng(2).normal(size=(3, 2, 4)).astype(np.float32)
    module = ember.nn.RMSNorm([2, 4], eps=1e-6)
    reference = torch.nn.RMSNorm([2, 4], eps=1e-6)
    assert_close(module(ember.tensor(data)), reference(torch.tensor(data)).detach())


def test_rms_norm_gradcheck():
    x = float64_tensor((2, 3, 4))
    weight = float64_tensor((3, 4), seed=1)
    assert gradcheck(lambda a, b: F.rms_norm(a, (3, 4), b, 1e-5), (x, weight))


@pytest.mark.parametrize("with_weight", [True, False])
def test_fused_rms_norm_grads_of_grads_and_node_as_pytorch(torch, with_weight):
    """The fused float32/float64 RMSNorm node: values, grads and grads of grads (create_graph)
    equal PyTorch's composite, whose last node (MulBackward0) it is named after."""
    generator = np.random.default_rng(3)
    data = generator.normal(size=(2, 3, 4))
    weight = generator.normal(size=(3, 4))
    results = []
    for framework in (ember, torch):
        x = framework.tensor(data, requires_grad=True)
        w = framework.tensor(weight, requires_grad=True) if with_weight else None
        y = framework.nn.functional.rms_norm(x, (3, 4), w, 1e-5)
        assert y.grad_fn.name() == "MulBackward0"
        inputs = (x, w) if with_weight else (x,)
        grads = framework.autograd.grad((y * y.detach().cos()).sum(), inputs, create_graph=True)
        sum(g.square().sum() for g in grads).backward()
        results.append([y.detach().numpy()] + [g.detach().numpy() for g in grads]
                       + [t.grad.numpy() for t in inputs])
    for actual, expected in zip(*results):
        np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-12)
