"""LayerNorm and GroupNorm against torch (train and eval alike), gradchecks, errors."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck
from tests.conftest import (
    assert_close, assert_raises_like_torch, compare_with_torch, float_array, gradcheck_arrays,
    load_torch_state)

MODULE_CASES = [
    ("LayerNorm", (6,), dict(), (4, 5, 6)),
    ("LayerNorm", ((5, 6),), dict(eps=1e-3), (4, 5, 6)),
    ("LayerNorm", (6,), dict(bias=False), (3, 6)),
    ("LayerNorm", (6,), dict(elementwise_affine=False), (2, 3, 6)),
    ("GroupNorm", (3, 6), dict(), (4, 6, 5, 3)),
    ("GroupNorm", (1, 6), dict(eps=1e-3), (4, 6, 5)),
    ("GroupNorm", (6, 6), dict(affine=False), (4, 6, 3)),
    ("GroupNorm", (2, 4), dict(bias=False), (3, 4, 2, 2, 3)),
]


@pytest.mark.parametrize("name, arguments, keywords, shape", MODULE_CASES)
def test_module_matches_torch_float32(torch, name, arguments, keywords, shape):
    module = getattr(nn, name)(*arguments, **keywords)
    torch_module = getattr(torch.nn, name)(*arguments, **keywords)
    assert repr(module) == repr(torch_module)
    assert list(module.state_dict()) == list(torch_module.state_dict())
    with torch.no_grad():
        for parameter in torch_module.parameters():
            parameter.uniform_(-1.5, 1.5)
    module.load_state_dict({key: ember.tensor(value.numpy())
                            for key, value in torch_module.state_dict().items()})
    random = np.random.default_rng(1)
    for training in (True, False):
        module.train(training)
        torch_module.train(training)
        array = (random.standard_normal(shape) * 3 + 2).astype(np.float32)
        x = ember.tensor(array, requires_grad=True)
        tx = torch.tensor(array, requires_grad=True)
        module.zero_grad()
        torch_module.zero_grad()
        output = module(x)
        expected = torch_module(tx)
        assert output.dtype == ember.float32
        np.testing.assert_allclose(output.detach().numpy(), expected.detach().numpy(), rtol=1e-5,
                                   atol=1e-5)
        grad = random.standard_normal(shape).astype(np.float32)
        output.backward(ember.tensor(grad))
        expected.backward(torch.tensor(grad))
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
        for (key, parameter), (_, torch_parameter) in zip(module.named_parameters(),
                                                          torch_module.named_parameters()):
            np.testing.assert_allclose(parameter.grad.numpy(), torch_parameter.grad.numpy(),
                                       rtol=1e-4, atol=1e-4, err_msg=key)


def test_default_parameters():
    layer = nn.LayerNorm((2, 3))
    assert layer.weight.shape == (2, 3) and np.all(layer.weight.detach().numpy() == 1)
    assert np.all(layer.bias.detach().numpy() == 0)
    group = nn.GroupNorm(2, 4)
    assert np.all(group.weight.detach().numpy() == 1) and np.all(group.bias.detach().numpy() == 0)


@pytest.mark.parametrize("function, shape", [
    (lambda x, w, b: F.layer_norm(x, (4,), w[:4], b[:4]), (3, 2, 4)),
    (lambda x, w, b: F.layer_norm(x, (2, 4), w.reshape(2, 4), b.reshape(2, 4), eps=1e-3),
     (3, 2, 4)),
    (lambda x, w, b: F.group_norm(x, 2, w[:4], b[:4]), (3, 4, 3)),
    (lambda x, w, b: F.group_norm(x, 4, w[:4], b[:4]), (2, 4, 2, 2)),
])
def test_gradcheck(function, shape):
    random = np.random.default_rng(2)
    x = ember.tensor(random.standard_normal(shape), requires_grad=True)
    weight = ember.tensor(random.standard_normal(8), requires_grad=True)
    bias = ember.tensor(random.standard_normal(8), requires_grad=True)
    assert gradcheck(function, (x, weight, bias))


def test_functional_matches_torch_float64(torch):
    array = np.random.default_rng(3).standard_normal((3, 4, 5))
    x = ember.tensor(array, requires_grad=True)
    tx = torch.tensor(array, requires_grad=True)
    for ours, theirs in ((F.layer_norm(x, (4, 5)), torch.nn.functional.layer_norm(tx, (4, 5))),
                         (F.group_norm(x, 2), torch.nn.functional.group_norm(tx, 2))):
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12,
                                   atol=1e-12)
        (ours * ours * ours).sum().backward()
        (theirs * theirs * theirs).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_errors(torch):
    with pytest.raises(ValueError, match=r"num_channels \(4\) must be divisible by num_groups "
                                         r"\(3\)"):
        nn.GroupNorm(3, 4)
    with pytest.raises(ValueError):
        torch.nn.GroupNorm(3, 4)
    array = np.zeros((2, 3), np.float32)
    for call in (lambda F, x: F.layer_norm(x, (4,)), lambda F, x: F.group_norm(x, 2)):
        with pytest.raises(RuntimeError) as expected:
            call(torch.nn.functional, torch.tensor(array))
        with pytest.raises(RuntimeError) as raised:
            call(F, ember.tensor(array))
        assert str(raised.value) == str(expected.value)


@pytest.mark.parametrize("p, dim", [(2.0, 1), (1.0, 0), (3.0, -1)])
def test_normalize_matches_torch(torch, p, dim):
    arrays = [float_array((4, 5))]
    arrays[0][2] = 0
    compare_with_torch(torch, lambda x: F.normalize(x, p, dim),
             lambda x: torch.nn.functional.normalize(x, p, dim), arrays)
    gradcheck_arrays(lambda x: F.normalize(x, p, dim), [float_array((4, 5), seed=4)])


@pytest.mark.parametrize("name, shape", [("InstanceNorm1d", (3, 4, 6)), ("InstanceNorm1d", (4, 6)),
                                         ("InstanceNorm2d", (2, 4, 3, 5)),
                                         ("InstanceNorm3d", (2, 4, 2, 3, 2))])
@pytest.mark.parametrize("options", [{}, {"affine": True},
                                     {"affine": True, "track_running_stats": True},
                                     {"track_running_stats": True, "momentum": None}], ids=str)
def test_instance_norm_matches_torch_in_train_and_eval(torch, name, shape, options):
    theirs = getattr(torch.nn, name)(4, **options)
    if options.get("affine"):
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 1.5)
            theirs.bias.uniform_(-0.5, 0.5)
    ours = getattr(nn, name)(4, **options)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    load_torch_state(ours, theirs)
    for step in range(2):
        array = float_array(shape, seed=step)
        our_input = ember.tensor(array, requires_grad=True)
        their_input = torch.tensor(array, requires_grad=True)
        our_out = ours(our_input)
        their_out = theirs(their_input)
        assert_close(our_out.detach(), their_out.detach(), rtol=1e-5, atol=1e-5)
        weights = np.random.default_rng(step).standard_normal(shape).astype(np.float32)
        (our_out * ember.tensor(weights)).sum().backward()
        (their_out * torch.tensor(weights)).sum().backward()
        assert_close(our_input.grad, their_input.grad, rtol=1e-4, atol=1e-5)
        if options.get("affine"):
            assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-4, atol=1e-5)
            assert_close(ours.bias.grad, theirs.bias.grad, rtol=1e-4, atol=1e-5)
    for key, value in theirs.state_dict().items():
        assert_close(ours.state_dict()[key], value, rtol=1e-5, atol=1e-6)
    ours.eval()
    theirs.eval()
    array = float_array(shape, seed=5)
    assert_close(ours(ember.tensor(array)), theirs(torch.tensor(array)).detach(), rtol=1e-5,
                 atol=1e-5)


def test_instance_norm_gradcheck():
    weight = float_array((3,), seed=1, low=0.5, high=1.5)
    bias = float_array((3,), seed=2)
    gradcheck_arrays(lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
               [float_array((2, 3, 5)), weight, bias])


def test_instance_norm_errors_match_torch(torch):
    for ours, theirs, error in [
            (lambda: nn.InstanceNorm2d(3)(ember.zeros(2, 3, 1, 1)),
             lambda: torch.nn.InstanceNorm2d(3)(torch.zeros(2, 3, 1, 1)), ValueError),
            (lambda: nn.InstanceNorm1d(3)(ember.zeros(2, 3, 4, 4)),
             lambda: torch.nn.InstanceNorm1d(3)(torch.zeros(2, 3, 4, 4)), ValueError),
            (lambda: nn.InstanceNorm1d(3, affine=True)(ember.zeros(2, 4, 4)),
             lambda: torch.nn.InstanceNorm1d(3, affine=True)(torch.zeros(2, 4, 4)), ValueError)]:
        assert_raises_like_torch(theirs, ours, error)


@pytest.mark.parametrize("shape, size", [((2, 5, 6), 3), ((2, 6, 3, 4), 2), ((1, 4, 2, 3, 2), 5)])
def test_local_response_norm_matches_torch(torch, shape, size):
    array = float_array(shape)
    options = {"alpha": 0.1, "beta": 0.6, "k": 1.5}
    compare_with_torch(torch, nn.LocalResponseNorm(size, **options),
             torch.nn.LocalResponseNorm(size, **options), [array])
    gradcheck_arrays(lambda x: F.local_response_norm(x, size, **options), [array])
    assert repr(nn.LocalResponseNorm(size)) == repr(torch.nn.LocalResponseNorm(size))
    with pytest.raises(ValueError) as their_error:
        torch.nn.functional.local_response_norm(torch.zeros(2, 3), 2)
    with pytest.raises(ValueError) as our_error:
        F.local_response_norm(ember.zeros(2, 3), 2)
    assert str(our_error.value) == str(their_error.value)


def test_layer_norm_bfloat16_computes_in_float32_as_torch(torch):
    """bfloat16 layer_norm (a bfloat16 transformer under autocast's output): float32 inside,
    rounded once; gradients within two bfloat16 steps of PyTorch's (its backward rounds
    intermediates differently)."""
    generator = np.random.default_rng(3)
    data = generator.normal(size=(3, 8)).astype(np.float32)
    weight = generator.normal(size=8).astype(np.float32)
    results = []
    for framework in (ember, torch):
        x = framework.tensor(data).to(framework.bfloat16).requires_grad_()
        w = framework.tensor(weight).to(framework.bfloat16).requires_grad_()
        output = framework.nn.functional.layer_norm(x, (8,), w, w * 0.5)
        (output.float() * framework.arange(24.0).reshape(3, 8)).sum().backward()
        assert str(output.dtype).endswith("bfloat16") and str(x.grad.dtype).endswith("bfloat16")
        results.append([value.detach().float() for value in (output, x.grad, w.grad)])
    assert_close(results[0][0], results[1][0], rtol=0, atol=0)
    for actual, expected in zip(results[0][1:], results[1][1:]):
        assert_close(actual, expected, rtol=2 ** -6, atol=2 ** -6)


MIXED_DTYPE_CASES = {
    # (input dtype, weight, bias, running statistics): PyTorch's CPU kernels take parameters of
    # the input's dtype, or float32 ones with a half-precision input.
    "batch_norm float64 input, float32 weight": lambda fw, F: F.batch_norm(
        _mixed(fw, "float64", 4, 3, 2), None, None, _mixed(fw, "float32", 3), training=True),
    "batch_norm float32 input, float64 running": lambda fw, F: F.batch_norm(
        _mixed(fw, "float32", 4, 3), _mixed(fw, "float64", 3), _mixed(fw, "float64", 3)),
    "batch_norm float16 input, float32 weight, float16 bias": lambda fw, F: F.batch_norm(
        _mixed(fw, "float16", 4, 3), None, None, _mixed(fw, "float32", 3),
        _mixed(fw, "float16", 3), training=True),
    "batch_norm float32 input and weight, float64 bias": lambda fw, F: F.batch_norm(
        _mixed(fw, "float32", 4, 3), None, None, _mixed(fw, "float32", 3),
        _mixed(fw, "float64", 3), training=True),
    "layer_norm float64 input, float32 weight": lambda fw, F: F.layer_norm(
        _mixed(fw, "float64", 4, 3), (3,), _mixed(fw, "float32", 3)),
    "group_norm float32 input, float64 weight": lambda fw, F: F.group_norm(
        _mixed(fw, "float32", 4, 3, 2), 3, _mixed(fw, "float64", 3), _mixed(fw, "float32", 3)),
    "instance_norm float64 input, float32 weight": lambda fw, F: F.instance_norm(
        _mixed(fw, "float64", 4, 3, 2), weight=_mixed(fw, "float32", 3)),
}


def _mixed(fw, dtype, *shape):
    return fw.tensor(np.linspace(0.5, 1.5, int(np.prod(shape))).reshape(shape),
                     dtype=getattr(fw, dtype))


@pytest.mark.parametrize("case", list(MIXED_DTYPE_CASES))
def test_normalization_with_parameters_of_another_dtype_raises_like_torch(torch, case):
    call = MIXED_DTYPE_CASES[case]
    assert_raises_like_torch(lambda: call(torch, torch.nn.functional), lambda: call(ember, F),
                             RuntimeError, same_type=True)


def test_half_precision_group_norm_with_float32_parameters_keeps_its_dtype(torch):
    results = []
    for fw in (torch, ember):
        output = fw.nn.functional.group_norm(
            _mixed(fw, "float16", 2, 4, 3), 2, _mixed(fw, "float32", 4), _mixed(fw, "float32", 4))
        assert str(output.dtype).endswith("float16")
        results.append(output.float())
    assert_close(results[1], results[0], rtol=2 ** -9, atol=2 ** -9)


def test_batch_norm_bfloat16_like_torch_under_cpu_autocast(torch):
    """A CNN under CPU autocast hands batch_norm a bfloat16 input and float32 parameters:
    float32 inside, rounded once; the running statistics stay float32."""
    data = np.random.default_rng(4).normal(size=(4, 3, 2, 2)).astype(np.float32)
    results = []
    for fw in (torch, ember):
        layer = fw.nn.BatchNorm2d(3)
        layer.weight.data.copy_(fw.tensor([0.5, 1.0, 2.0]))
        x = fw.tensor(data).to(fw.bfloat16).requires_grad_()
        output = layer(x)
        (output.float() * fw.arange(48.0).reshape(4, 3, 2, 2)).sum().backward()
        assert str(output.dtype).endswith("bfloat16") and str(x.grad.dtype).endswith("bfloat16")
        layer.eval()
        evaluated = layer(x)
        results.append([value.detach().float() for value in (
            output, evaluated, layer.running_mean, layer.running_var, x.grad, layer.weight.grad)])
    for actual, expected in zip(results[1], results[0]):
        assert_close(actual, expected, rtol=2 ** -6, atol=2 ** -6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, normalized", [((1, 1, 128), 1), ((1, 8, 128), 1), ((3, 5, 7), 1),
                                               ((2, 4, 6, 10), 2), ((5,), 1), ((0, 4), 1)])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm_without_a_graph_equals_the_recorded_node_and_torch(torch, dtype, shape,
                                                                      normalized, affine):
    # under no_grad (or without inputs that need grad) layer_norm skips its node: bit for bit
    # the recorded forward; inference mode and a strided input keep or match it
    rng = np.random.default_rng(len(shape))
    normalized_shape = shape[len(shape) - normalized:]
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    parameters = [rng.standard_normal(normalized_shape).astype(dtype) for _ in range(2)]
    if affine == "weight":
        parameters[1] = None
    elif affine == "none":
        parameters = [None, None]
    leaves = [None if array is None else ember.tensor(array, requires_grad=True)
              for array in [x] + parameters]
    recorded = F.layer_norm(leaves[0], normalized_shape, *leaves[1:], eps=1e-3)
    assert recorded.grad_fn is not None
    with ember.no_grad():
        plain = F.layer_norm(leaves[0], normalized_shape, *leaves[1:], eps=1e-3)
        module = nn.LayerNorm(normalized_shape, eps=1e-3, elementwise_affine=affine != "none",
                              bias=affine == "both", dtype=getattr(ember, dtype.__name__))
        if affine != "none":
            module.weight.copy_(leaves[1])
        if affine == "both":
            module.bias.copy_(leaves[2])
        from_module = module(leaves[0])
    with ember.inference_mode():
        inferred = F.layer_norm(leaves[0], normalized_shape, *leaves[1:], eps=1e-3)
    strided = F.layer_norm(ember.tensor(np.asfortranarray(x)), normalized_shape,
                           *[None if leaf is None else leaf.detach() for leaf in leaves[1:]],
                           eps=1e-3)
    for out in (plain, from_module, inferred, strided):
        np.testing.assert_array_equal(out.detach().numpy(), recorded.detach().numpy())
        assert out.dtype == recorded.dtype and out.shape == recorded.shape
    assert plain.grad_fn is None and not plain.requires_grad and not plain.is_inference()
    expected = torch.nn.functional.layer_norm(
        torch.tensor(x), normalized_shape,
        *[None if array is None else torch.tensor(array) for array in parameters], eps=1e-3)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(plain.numpy(), expected.numpy(), rtol=tolerance, atol=tolerance)


def test_layer_norm_without_a_graph_keeps_the_profiler():
    x = ember.randn(2, 3, 4)
    with ember.no_grad(), ember.profiler.profile() as profiled:
        F.layer_norm(x, (4,), ember.ones(4), ember.zeros(4))
    assert profiled.key_averages()  # the profiler still sees the op


CHECK_ORDER_CASES = [
    ("layer_norm", "int64", (4,), [(5,)]), ("layer_norm", "int64", (3,), [(4,)]),
    ("layer_norm", "float32", (4,), [(5,)]), ("layer_norm", "float32", (3,), [(3,), (2,)]),
    ("layer_norm", "float32", (4,), [(4,), (2,)]), ("layer_norm", "int64", (3,), [(3,)]),
    ("layer_norm", "int64", (3,), []), ("layer_norm", "float32", (3,), [(3,), (3,), "float64"]),
    ("layer_norm", "float32", (4,), [(4,), "float64"]), ("layer_norm", "float32", (4,), [(5,)]),
    ("layer_norm", "float16", (3,), [(4,)]), ("layer_norm", "float16", (4,), [(4,)]),
    ("rms_norm", "int64", (4,), []), ("rms_norm", "float32", (4,), [(5,)]),
    ("rms_norm", "int64", (3,), [(4,)]), ("rms_norm", "int64", (3,), [(3,)]),
]


@pytest.mark.parametrize("name, dtype, normalized_shape, parameters", CHECK_ORDER_CASES)
@pytest.mark.parametrize("grad", [False, True])
def test_norm_checks_run_in_torchs_order(torch, name, dtype, normalized_shape, parameters, grad):
    # PyTorch checks the weight and bias shapes, then the input's, then the dtypes
    def call(library):
        parameter_dtype = library.float64 if parameters[-1:] == ["float64"] else library.float32
        tensors = [library.ones(shape, dtype=parameter_dtype) for shape in parameters
                   if shape != "float64"]
        x = library.ones(2, 3, dtype=getattr(library, dtype))
        with library.set_grad_enabled(grad):
            return getattr(library.nn.functional, name)(x, normalized_shape, *tensors)

    assert_raises_like_torch(lambda: call(torch), lambda: call(ember), same_type=True)
