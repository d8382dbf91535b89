"""nn breadth: extra activations, distances, one_hot, pixel shuffle, padding, interpolation and
instance norm against PyTorch (values, every gradient, reprs, state_dict keys, errors)."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd.gradcheck import gradcheck
from tests.conftest import assert_close


def _array(shape, seed=0, low=-3.0, high=3.0):
    values = np.random.default_rng(seed).uniform(low, high, size=shape)
    values[np.abs(values) < 1e-3] = 0.5
    return values.astype(np.float32)


def _compare(torch, ember_fn, torch_fn, arrays, rtol=1e-5, atol=1e-6, grads=True):
    """Run both libraries on the same float arrays; compare outputs and every input gradient."""
    ours = [ember.tensor(array, requires_grad=grads) for array in arrays]
    theirs = [torch.tensor(array, requires_grad=grads) for array in arrays]
    our_out = ember_fn(*ours)
    their_out = torch_fn(*theirs)
    assert_close(our_out.detach(), their_out.detach(), rtol=rtol, atol=atol)
    if not grads:
        return ours, theirs
    weights = np.random.default_rng(7).standard_normal(tuple(their_out.shape)).astype(np.float32)
    (our_out * ember.tensor(weights)).sum().backward()
    (their_out * torch.tensor(weights)).sum().backward()
    for our_input, their_input in zip(ours, theirs):
        assert_close(our_input.grad, their_input.grad, rtol=rtol, atol=atol * 10)
    return ours, theirs


def _gradcheck(fn, arrays):
    inputs = [ember.tensor(array.astype(np.float64), requires_grad=True) for array in arrays]
    assert gradcheck(fn, inputs)


# ---- activations -----------------------------------------------------------------------------
# name, ember callable, torch callable (given torch), shape
ACTIVATIONS = [
    ("logsigmoid", lambda x: F.logsigmoid(x), lambda t, x: t.nn.functional.logsigmoid(x)),
    ("logsigmoid_module", lambda x: nn.LogSigmoid()(x), lambda t, x: t.nn.LogSigmoid()(x)),
    ("hardswish", lambda x: nn.Hardswish()(x), lambda t, x: t.nn.Hardswish()(x)),
    ("hardsigmoid", lambda x: nn.Hardsigmoid()(x), lambda t, x: t.nn.Hardsigmoid()(x)),
    ("softsign", lambda x: nn.Softsign()(x), lambda t, x: t.nn.Softsign()(x)),
    ("tanhshrink", lambda x: nn.Tanhshrink()(x), lambda t, x: t.nn.Tanhshrink()(x)),
    ("softmin", lambda x: nn.Softmin(1)(x), lambda t, x: t.nn.Softmin(1)(x)),
    ("softmin_last", lambda x: F.softmin(x, -1), lambda t, x: t.nn.functional.softmin(x, -1)),
    ("celu", lambda x: nn.CELU()(x), lambda t, x: t.nn.CELU()(x)),
    ("celu_0.5", lambda x: nn.CELU(0.5)(x), lambda t, x: t.nn.CELU(0.5)(x)),
    ("glu", lambda x: nn.GLU()(x), lambda t, x: t.nn.GLU()(x)),
    ("glu_dim1", lambda x: nn.GLU(1)(x), lambda t, x: t.nn.GLU(1)(x)),
    ("threshold", lambda x: nn.Threshold(0.5, -2.0)(x), lambda t, x: t.nn.Threshold(0.5, -2.0)(x)),
    ("prelu_shared", lambda x: F.prelu(x, ember.tensor([0.3])),
     lambda t, x: t.nn.functional.prelu(x, t.tensor([0.3]))),
    ("softmax2d", lambda x: nn.Softmax2d()(x.reshape(-1, 2, 3, 2)),
     lambda t, x: t.nn.Softmax2d()(x.reshape(-1, 2, 3, 2))),
    ("hardshrink", lambda x: nn.Hardshrink(1.0)(x), lambda t, x: t.nn.Hardshrink(1.0)(x)),
    ("softshrink", lambda x: nn.Softshrink()(x), lambda t, x: t.nn.Softshrink()(x)),
    ("channel_shuffle", lambda x: nn.ChannelShuffle(2)(x.reshape(2, 4, -1)),
     lambda t, x: t.nn.ChannelShuffle(2)(x.reshape(2, 4, -1))),
]


@pytest.mark.parametrize("name, ours, theirs", ACTIVATIONS, ids=[row[0] for row in ACTIVATIONS])
@pytest.mark.parametrize("shape", [(4, 6), (2, 4, 6)], ids=str)
def test_activation_matches_torch(torch, name, ours, theirs, shape):
    _compare(torch, ours, lambda x: theirs(torch, x), [_array(shape)])


@pytest.mark.parametrize("name, ours, theirs", ACTIVATIONS, ids=[row[0] for row in ACTIVATIONS])
def test_activation_gradcheck(name, ours, theirs):
    _gradcheck(ours, [_array((4, 6), seed=3)])


def test_piecewise_edges_take_torchs_gradient(torch):
    edges = np.array([-3.0, 3.0, 0.0, 0.5, -0.5], dtype=np.float32)
    for ours, theirs in [(F.hardswish, torch.nn.functional.hardswish),
                         (F.hardsigmoid, torch.nn.functional.hardsigmoid),
                         (lambda x: F.threshold(x, 0.5, 1.0),
                          lambda x: torch.nn.functional.threshold(x, 0.5, 1.0)),
                         (F.celu, torch.nn.functional.celu),
                         (F.softshrink, torch.nn.functional.softshrink),
                         (F.hardshrink, torch.nn.functional.hardshrink)]:
        _compare(torch, ours, theirs, [edges])


def test_logsigmoid_is_stable_at_large_magnitudes(torch):
    values = np.array([-200.0, -30.0, 30.0, 200.0], dtype=np.float32)
    _compare(torch, F.logsigmoid, torch.nn.functional.logsigmoid, [values])


@pytest.mark.parametrize("inplace_name", ["hardswish", "hardsigmoid", "celu"])
def test_inplace_forms_match_out_of_place(inplace_name):
    array = _array((3, 4))
    function = getattr(F, inplace_name)
    leaf = ember.tensor(array, requires_grad=True)
    expected = function(leaf * 1)
    expected.sum().backward()
    expected_grad = leaf.grad.numpy().copy()
    leaf.grad = None
    hidden = leaf * 1
    result = function(hidden, inplace=True)
    assert result is hidden
    result.sum().backward()
    np.testing.assert_allclose(result.detach().numpy(), expected.detach().numpy())
    np.testing.assert_allclose(leaf.grad.numpy(), expected_grad)


@pytest.mark.parametrize("num_parameters, shape", [(1, (4, 3)), (3, (2, 3, 5)), (3, (2, 3, 2, 2))])
def test_prelu_module_matches_torch_with_its_weights(torch, num_parameters, shape):
    theirs = torch.nn.PReLU(num_parameters, init=0.1)
    with torch.no_grad():
        theirs.weight.uniform_(-0.5, 0.5)
    ours = nn.PReLU(num_parameters, init=0.1)
    ours.load_state_dict({key: ember.tensor(value.numpy())
                          for key, value in theirs.state_dict().items()})
    array = _array(shape)
    our_input = ember.tensor(array, requires_grad=True)
    their_input = torch.tensor(array, requires_grad=True)
    ours(our_input).pow(2).sum().backward()
    theirs(their_input).pow(2).sum().backward()
    assert_close(ours(our_input).detach(), theirs(their_input).detach())
    assert_close(our_input.grad, their_input.grad)
    assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-5, atol=1e-5)


def test_prelu_default_init_repr_and_state_dict(torch):
    assert repr(nn.PReLU()) == repr(torch.nn.PReLU())
    assert repr(nn.PReLU(4)) == repr(torch.nn.PReLU(4))
    ours = nn.PReLU(4).state_dict()
    theirs = torch.nn.PReLU(4).state_dict()
    assert list(ours) == list(theirs)
    np.testing.assert_array_equal(ours["weight"].numpy(), theirs["weight"].numpy())
    _gradcheck(lambda x, w: F.prelu(x, w), [_array((2, 3, 4)), _array((3,), seed=2)])


def test_activation_errors_match_torch(torch):
    for ours, theirs, error in [
            (lambda: F.glu(ember.zeros(2, 3), 1),
             lambda: torch.nn.functional.glu(torch.zeros(2, 3), 1), RuntimeError),
            (lambda: F.prelu(ember.zeros(2, 3), ember.zeros(2)),
             lambda: torch.nn.functional.prelu(torch.zeros(2, 3), torch.zeros(2)), RuntimeError),
            (lambda: nn.Softmax2d()(ember.zeros(2, 3)),
             lambda: torch.nn.Softmax2d()(torch.zeros(2, 3)), ValueError),
            (lambda: F.softshrink(ember.zeros(3), -1),
             lambda: torch.nn.functional.softshrink(torch.zeros(3), -1), RuntimeError),
            (lambda: F.channel_shuffle(ember.zeros(1, 5, 2, 2), 2),
             lambda: torch.nn.functional.channel_shuffle(torch.zeros(1, 5, 2, 2), 2),
             RuntimeError),
            (lambda: F.channel_shuffle(ember.zeros(5), 2),
             lambda: torch.nn.functional.channel_shuffle(torch.zeros(5), 2), RuntimeError)]:
        with pytest.raises(error) as their_error:
            theirs()
        with pytest.raises(error) as our_error:
            ours()
        assert str(our_error.value) == str(their_error.value)


MODULE_REPRS = [
    "Hardswish()", "Hardsigmoid()", "LogSigmoid()", "Softsign()", "Tanhshrink()", "Softmin(1)",
    "Softmin()", "Softmax2d()", "CELU()", "CELU(0.5, True)", "GLU()", "GLU(1)",
    "Threshold(0.1, 20)", "Threshold(0.1, 20.0, True)", "PixelShuffle(2)", "PixelUnshuffle(3)",
    "CosineSimilarity()", "PairwiseDistance()", "Hardshrink()", "Softshrink(0.3)",
    "ChannelShuffle(3)",
]


@pytest.mark.parametrize("expression", MODULE_REPRS)
def test_module_reprs_match_torch(torch, expression):
    ours = eval("nn." + expression)
    theirs = eval("torch.nn." + expression)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())


# ---- distances -------------------------------------------------------------------------------
@pytest.mark.parametrize("shapes, dim", [(((4, 5), (4, 5)), 1), (((4, 5), (5,)), -1),
                                         (((2, 3, 4), (2, 3, 4)), 0)])
def test_cosine_similarity_matches_torch(torch, shapes, dim):
    arrays = [_array(shape, seed=index) for index, shape in enumerate(shapes)]
    _compare(torch, lambda a, b: nn.CosineSimilarity(dim)(a, b),
             lambda a, b: torch.nn.CosineSimilarity(dim)(a, b), arrays)
    _gradcheck(lambda a, b: F.cosine_similarity(a, b, dim), arrays)


def test_cosine_similarity_of_a_zero_vector_matches_torch(torch):
    arrays = [_array((3, 4)), _array((3, 4), seed=1)]
    arrays[0][1] = 0
    _compare(torch, F.cosine_similarity, torch.nn.functional.cosine_similarity, arrays)


@pytest.mark.parametrize("p, keepdim", [(2.0, False), (1.0, True), (3.0, False),
                                        (float("inf"), False)])
def test_pairwise_distance_matches_torch(torch, p, keepdim):
    arrays = [_array((4, 5)), _array((4, 5), seed=1)]
    _compare(torch, lambda a, b: nn.PairwiseDistance(p, keepdim=keepdim)(a, b),
             lambda a, b: torch.nn.PairwiseDistance(p, keepdim=keepdim)(a, b), arrays)
    if p != float("inf"):
        _gradcheck(lambda a, b: F.pairwise_distance(a, b, p), arrays)


@pytest.mark.parametrize("p, dim", [(2.0, 1), (1.0, 0), (3.0, -1)])
def test_normalize_matches_torch(torch, p, dim):
    arrays = [_array((4, 5))]
    arrays[0][2] = 0
    _compare(torch, lambda x: F.normalize(x, p, dim),
             lambda x: torch.nn.functional.normalize(x, p, dim), arrays)
    _gradcheck(lambda x: F.normalize(x, p, dim), [_array((4, 5), seed=4)])


def test_distance_shape_errors_match_torch(torch):
    with pytest.raises(RuntimeError) as their_error:
        torch.nn.functional.cosine_similarity(torch.zeros(3, 4), torch.zeros(3, 5))
    with pytest.raises(RuntimeError) as our_error:
        F.cosine_similarity(ember.zeros(3, 4), ember.zeros(3, 5))
    assert str(our_error.value) == str(their_error.value)


# ---- one_hot and pixel shuffle ---------------------------------------------------------------
@pytest.mark.parametrize("values, num_classes", [([1, 0, 3], -1), ([[1, 2], [0, 0]], 5),
                                                 ([], 3)])
def test_one_hot_matches_torch(torch, values, num_classes):
    ours = F.one_hot(ember.tensor(values, dtype=ember.int64), num_classes)
    theirs = torch.nn.functional.one_hot(torch.tensor(values, dtype=torch.int64), num_classes)
    assert_close(ours, theirs)


@pytest.mark.parametrize("values, num_classes, dtype", [
    ([1, -1], -1, "int64"), ([1, 4], 3, "int64"), ([], -1, "int64"), ([1, 2], 3, "int32")])
def test_one_hot_errors_match_torch(torch, values, num_classes, dtype):
    with pytest.raises(RuntimeError) as their_error:
        torch.nn.functional.one_hot(torch.tensor(values, dtype=getattr(torch, dtype)),
                                    num_classes)
    with pytest.raises(RuntimeError) as our_error:
        F.one_hot(ember.tensor(values, dtype=getattr(ember, dtype)), num_classes)
    assert str(our_error.value) == str(their_error.value)


@pytest.mark.parametrize("shape, factor", [((2, 8, 3, 4), 2), ((9, 2, 2), 3), ((1, 2, 4, 3, 3), 1)])
def test_pixel_shuffle_and_unshuffle_match_torch(torch, shape, factor):
    array = _array(shape)
    _compare(torch, nn.PixelShuffle(factor), torch.nn.PixelShuffle(factor), [array])
    shuffled = torch.nn.functional.pixel_shuffle(torch.tensor(array), factor).numpy()
    _compare(torch, nn.PixelUnshuffle(factor), torch.nn.PixelUnshuffle(factor), [shuffled])


def test_pixel_shuffle_errors_match_torch(torch):
    for ours, theirs in [
            (lambda: F.pixel_shuffle(ember.zeros(1, 5, 2, 2), 2),
             lambda: torch.nn.functional.pixel_shuffle(torch.zeros(1, 5, 2, 2), 2)),
            (lambda: F.pixel_shuffle(ember.zeros(5, 2), 2),
             lambda: torch.nn.functional.pixel_shuffle(torch.zeros(5, 2), 2)),
            (lambda: F.pixel_unshuffle(ember.zeros(1, 1, 3, 4), 2),
             lambda: torch.nn.functional.pixel_unshuffle(torch.zeros(1, 1, 3, 4), 2))]:
        with pytest.raises(RuntimeError) as their_error:
            theirs()
        with pytest.raises(RuntimeError) as our_error:
            ours()
        assert str(our_error.value) == str(their_error.value)


# ---- padding ---------------------------------------------------------------------------------
PAD_CASES = [
    ("constant", (1, 2), (2, 3, 4)), ("constant", (-1, 2, 0, 3), (2, 3, 4, 5)),
    ("constant", (1, 1, 1, 1, 1, 1), (3, 4, 5)), ("reflect", (2, 1), (2, 3, 4)),
    ("reflect", (-1, 3), (2, 5)), ("reflect", (1, 2, 2, 1), (2, 3, 4, 5)),
    ("replicate", (3, 1), (2, 3, 4)), ("replicate", (1, 2, 0, -1), (2, 3, 4, 5)),
    ("circular", (2, 1), (2, 3, 4)), ("circular", (-1, 3, 1, 1), (2, 3, 4, 5)),
]


@pytest.mark.parametrize("mode, padding, shape", PAD_CASES)
def test_pad_matches_torch(torch, mode, padding, shape):
    array = _array(shape)
    _compare(torch, lambda x: F.pad(x, padding, mode),
             lambda x: torch.nn.functional.pad(x, padding, mode), [array])
    _gradcheck(lambda x: F.pad(x, padding, mode), [array])


def test_constant_pad_value_and_integer_input_match_torch(torch):
    _compare(torch, lambda x: F.pad(x, (1, 2, 2, 0), value=-1.5),
             lambda x: torch.nn.functional.pad(x, (1, 2, 2, 0), value=-1.5), [_array((2, 3))])
    ours = F.pad(ember.arange(5).reshape(1, 5), (1, 1), value=2.7)
    theirs = torch.nn.functional.pad(torch.arange(5).reshape(1, 5), (1, 1), value=2.7)
    assert_close(ours, theirs)


def test_pad_returns_a_copy_when_nothing_is_padded():
    source = ember.ones(2, 3)
    padded = F.pad(source, (0, 0))
    padded[0, 0] = 5.0
    assert source[0, 0].item() == 1.0


PAD_MODULES = [
    "ZeroPad1d(1)", "ZeroPad2d(2)", "ZeroPad2d((1, 2, 3, 4))", "ConstantPad1d(2, 3.5)",
    "ConstantPad2d((1, 0, 2, 1), -1.0)", "ConstantPad3d(1, 2.0)", "ReflectionPad1d(2)",
    "ReflectionPad2d((1, 2, 2, 1))", "ReplicationPad1d((1, 2))", "ReplicationPad2d(1)",
    "CircularPad1d(1)", "CircularPad2d((1, 2, 0, 1))", "ZeroPad3d(1)",
    "ReflectionPad3d((1, 0, 2, 1, 1, 1))", "ReplicationPad3d(2)", "CircularPad3d(1)",
]


@pytest.mark.parametrize("expression", PAD_MODULES)
def test_pad_modules_match_torch(torch, expression):
    ours = eval("nn." + expression)
    theirs = eval("torch.nn." + expression)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    kind = expression.split("(")[0][-2:]
    shape = {"1d": (2, 3, 5), "2d": (2, 3, 4, 5), "3d": (2, 2, 4, 5, 3)}[kind]
    _compare(torch, ours, theirs, [_array(shape)])


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.nn.functional.pad(x, (1, 2, 3)),
    lambda lib, x: lib.nn.functional.pad(x, (1,) * 10),
    lambda lib, x: lib.nn.functional.pad(x, (1, 1), mode="reflect"),
    lambda lib, x: lib.nn.functional.pad(x[0], (5, 1), mode="reflect"),
    lambda lib, x: lib.nn.functional.pad(x, (1, 1, 4, 1), mode="reflect"),
    lambda lib, x: lib.nn.functional.pad(x[0], (1, 1), mode="reflect", value=1.0),
    lambda lib, x: lib.nn.functional.pad(x[0], (6, 1), mode="circular"),
    lambda lib, x: lib.nn.functional.pad(x[0], (1, 1), mode="mirror"),
    lambda lib, x: lib.nn.functional.pad(x, (1, 1, 0, -5)),
])
def test_pad_errors_match_torch(torch, call):
    array = np.zeros((1, 2, 4, 5), dtype=np.float32)
    with pytest.raises((RuntimeError, NotImplementedError)) as their_error:
        call(torch, torch.tensor(array))
    with pytest.raises(their_error.type) as our_error:
        call(ember, ember.tensor(array))
    assert str(our_error.value) == str(their_error.value)


# ---- interpolation ---------------------------------------------------------------------------
INTERPOLATE_CASES = [
    ((2, 3, 5), {"size": 8, "mode": "nearest"}),
    ((2, 3, 5), {"scale_factor": 2.5, "mode": "nearest"}),
    ((2, 3, 5, 4), {"size": (7, 3), "mode": "nearest"}),
    ((2, 3, 5, 4), {"scale_factor": (1.7, 2.2), "mode": "nearest-exact"}),
    ((2, 3, 5), {"size": 9, "mode": "linear"}),
    ((2, 3, 5), {"size": 9, "mode": "linear", "align_corners": True}),
    ((2, 3, 5, 4), {"size": (9, 7), "mode": "bilinear"}),
    ((2, 3, 5, 4), {"scale_factor": 1.5, "mode": "bilinear"}),
    ((2, 3, 5, 4), {"scale_factor": (0.6, 2.3), "mode": "bilinear", "align_corners": True}),
    ((2, 3, 5, 4), {"size": (3, 2), "mode": "bilinear"}),
    ((2, 3, 5, 4), {"size": (1, 3), "mode": "bilinear", "align_corners": True}),
    ((2, 3, 5, 4), {"scale_factor": 1.7, "mode": "bilinear", "recompute_scale_factor": True}),
    ((1, 2, 3, 4, 2), {"scale_factor": 2, "mode": "trilinear"}),
    ((2, 3, 8, 6), {"size": (3, 4), "mode": "area"}),
]


@pytest.mark.parametrize("shape, options", INTERPOLATE_CASES, ids=str)
def test_interpolate_matches_torch(torch, shape, options):
    array = _array(shape)
    _compare(torch, lambda x: F.interpolate(x, **options),
             lambda x: torch.nn.functional.interpolate(x, **options), [array])
    _gradcheck(lambda x: F.interpolate(x, **options), [array])


@pytest.mark.parametrize("expression", [
    "Upsample(scale_factor=2)", "Upsample(size=(7, 9), mode='bilinear')",
    "Upsample(scale_factor=(2, 3), mode='bilinear', align_corners=True)",
    "UpsamplingNearest2d(scale_factor=2)", "UpsamplingBilinear2d(size=(6, 5))"])
def test_upsample_modules_match_torch(torch, expression):
    ours = eval("nn." + expression)
    theirs = eval("torch.nn." + expression)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    _compare(torch, ours, theirs, [_array((2, 3, 4, 3))])


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.nn.functional.interpolate(x, size=4, scale_factor=2),
    lambda lib, x: lib.nn.functional.interpolate(x),
    lambda lib, x: lib.nn.functional.interpolate(x, size=(4, 5, 6)),
    lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=(2, 3, 4)),
    lambda lib, x: lib.nn.functional.interpolate(x, size=4, align_corners=True),
    lambda lib, x: lib.nn.functional.interpolate(x, size=4, recompute_scale_factor=True),
    lambda lib, x: lib.nn.functional.interpolate(x, size=4, mode="linear"),
    lambda lib, x: lib.nn.functional.interpolate(x, size=4, mode="cubic"),
])
def test_interpolate_errors_match_torch(torch, call):
    array = np.zeros((1, 2, 4, 5), dtype=np.float32)
    with pytest.raises((ValueError, NotImplementedError)) as their_error:
        call(torch, torch.tensor(array))
    with pytest.raises(their_error.type) as our_error:
        call(ember, ember.tensor(array))
    assert str(our_error.value) == str(their_error.value)


# ---- instance norm ---------------------------------------------------------------------------
def _load_from_torch(ours, theirs):
    ours.load_state_dict({key: ember.tensor(value.numpy())
                          for key, value in theirs.state_dict().items()})


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
    _load_from_torch(ours, theirs)
    for step in range(2):
        array = _array(shape, seed=step)
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
    array = _array(shape, seed=5)
    assert_close(ours(ember.tensor(array)), theirs(torch.tensor(array)).detach(), rtol=1e-5,
                 atol=1e-5)


def test_instance_norm_gradcheck():
    weight = _array((3,), seed=1, low=0.5, high=1.5)
    bias = _array((3,), seed=2)
    _gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
               [_array((2, 3, 5)), weight, bias])


def test_instance_norm_errors_match_torch(torch):
    for ours, theirs, error in [
            (lambda: nn.InstanceNorm2d(3)(ember.zeros(2, 3, 1, 1)),
             lambda: torch.nn.InstanceNorm2d(3)(torch.zeros(2, 3, 1, 1)), ValueError),
            (lambda: nn.InstanceNorm1d(3)(ember.zeros(2, 3, 4, 4)),
             lambda: torch.nn.InstanceNorm1d(3)(torch.zeros(2, 3, 4, 4)), ValueError),
            (lambda: nn.InstanceNorm1d(3, affine=True)(ember.zeros(2, 4, 4)),
             lambda: torch.nn.InstanceNorm1d(3, affine=True)(torch.zeros(2, 4, 4)), ValueError)]:
        with pytest.raises(error) as their_error:
            theirs()
        with pytest.raises(error) as our_error:
            ours()
        assert str(our_error.value) == str(their_error.value).replace("torch.Size", "ember.Size")


# ---- unfold and fold -------------------------------------------------------------------------
FOLD_CASES = [
    ((2, 3, 5, 6), {"kernel_size": 2}),
    ((3, 5, 6), {"kernel_size": (2, 3), "padding": 1, "stride": 2, "dilation": (1, 2)}),
    ((2, 2, 7, 7), {"kernel_size": 3, "padding": (1, 0), "stride": (2, 1)}),
]


@pytest.mark.parametrize("shape, options", FOLD_CASES, ids=str)
def test_unfold_and_fold_match_torch(torch, shape, options):
    array = _array(shape)
    _compare(torch, nn.Unfold(**options), torch.nn.Unfold(**options), [array])
    _gradcheck(lambda x: F.unfold(x, **options), [array])
    columns = torch.nn.functional.unfold(torch.tensor(array), **options).numpy()
    _compare(torch, nn.Fold(shape[-2:], **options), torch.nn.Fold(shape[-2:], **options),
             [columns])
    _gradcheck(lambda x: F.fold(x, shape[-2:], **options), [columns])
    assert repr(nn.Fold(shape[-2:], **options)) == repr(torch.nn.Fold(shape[-2:], **options))
    assert repr(nn.Unfold(**options)) == repr(torch.nn.Unfold(**options))


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.functional.unfold(lib.zeros(1, 1, 2, 2), 3),
    lambda lib: lib.nn.functional.fold(lib.zeros(2, 12, 10), (4, 5), 2),
    lambda lib: lib.nn.functional.fold(lib.zeros(2, 10, 12), (4, 5), 2),
    lambda lib: lib.nn.functional.fold(lib.zeros(2, 2, 12, 12), (4, 5), 2),
])
def test_unfold_and_fold_errors_match_torch(torch, call):
    with pytest.raises(RuntimeError) as their_error:
        call(torch)
    with pytest.raises(RuntimeError) as our_error:
        call(ember)
    assert str(our_error.value) == str(their_error.value)


# ---- grid_sample and affine_grid -------------------------------------------------------------
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_matches_torch(torch, mode, padding_mode, align_corners):
    image = _array((2, 3, 5, 6))
    grid = _array((2, 4, 7, 2), seed=1, low=-1.3, high=1.3)

    def ours(x, g):
        return F.grid_sample(x, g, mode, padding_mode, align_corners)

    def theirs(x, g):
        return torch.nn.functional.grid_sample(x, g, mode, padding_mode, align_corners)

    _compare(torch, ours, theirs, [image, grid], rtol=1e-5, atol=1e-6)
    if mode == "bilinear":
        _gradcheck(ours, [image, grid])


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_torch_and_feeds_grid_sample(torch, align_corners):
    theta = _array((2, 2, 3), seed=2, low=-1.0, high=1.0)
    _compare(torch, lambda t: F.affine_grid(t, (2, 3, 4, 5), align_corners),
             lambda t: torch.nn.functional.affine_grid(t, (2, 3, 4, 5), align_corners), [theta])
    image = _array((2, 3, 6, 6), seed=3)

    def ours(t, x):
        return F.grid_sample(x, F.affine_grid(t, (2, 3, 4, 5), align_corners),
                             align_corners=align_corners)

    def theirs(t, x):
        grid = torch.nn.functional.affine_grid(t, (2, 3, 4, 5), align_corners)
        return torch.nn.functional.grid_sample(x, grid, align_corners=align_corners)

    _compare(torch, ours, theirs, [theta, image], rtol=1e-5, atol=1e-6)


def test_grid_sample_errors_and_warning_match_torch(torch):
    for call in [lambda lib: lib.nn.functional.grid_sample(lib.zeros(1, 1, 2, 2),
                                                            lib.zeros(1, 2, 2, 2), mode="area"),
                 lambda lib: lib.nn.functional.grid_sample(lib.zeros(1, 1, 2, 2),
                                                            lib.zeros(1, 2, 2, 2),
                                                            padding_mode="wrap"),
                 lambda lib: lib.nn.functional.affine_grid(lib.zeros(1, 3, 3), (1, 1, 2, 2),
                                                           False)]:
        with pytest.raises(ValueError) as their_error:
            call(torch)
        with pytest.raises(ValueError) as our_error:
            call(ember)
        assert str(our_error.value) == str(their_error.value).replace("torch.Size", "ember.Size")
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(ember.zeros(1, 1, 2, 2), ember.zeros(1, 2, 2, 2))


# ---- local response norm and RReLU -----------------------------------------------------------
@pytest.mark.parametrize("shape, size", [((2, 5, 6), 3), ((2, 6, 3, 4), 2), ((1, 4, 2, 3, 2), 5)])
def test_local_response_norm_matches_torch(torch, shape, size):
    array = _array(shape)
    options = {"alpha": 0.1, "beta": 0.6, "k": 1.5}
    _compare(torch, nn.LocalResponseNorm(size, **options),
             torch.nn.LocalResponseNorm(size, **options), [array])
    _gradcheck(lambda x: F.local_response_norm(x, size, **options), [array])
    assert repr(nn.LocalResponseNorm(size)) == repr(torch.nn.LocalResponseNorm(size))
    with pytest.raises(ValueError) as their_error:
        torch.nn.functional.local_response_norm(torch.zeros(2, 3), 2)
    with pytest.raises(ValueError) as our_error:
        F.local_response_norm(ember.zeros(2, 3), 2)
    assert str(our_error.value) == str(their_error.value)


def test_rrelu_evaluation_matches_torch(torch):
    ours = nn.RReLU(0.1, 0.3).eval()
    theirs = torch.nn.RReLU(0.1, 0.3).eval()
    _compare(torch, ours, theirs, [_array((4, 5))])
    assert repr(ours) == repr(theirs)
    assert repr(nn.RReLU(inplace=True)) == repr(torch.nn.RReLU(inplace=True))


def test_rrelu_training_draws_slopes_in_range_and_differentiates_through_them():
    ember.manual_seed(123)  # not 0: _array draws from the same PCG64 stream with seed 0
    array = _array((50, 40))
    leaf = ember.tensor(array, requires_grad=True)
    out = nn.RReLU(0.1, 0.3)(leaf)
    out.sum().backward()
    result = out.detach().numpy()
    negative = array <= 0
    np.testing.assert_array_equal(result[~negative], array[~negative])
    slopes = result[negative] / array[negative]
    assert slopes.min() >= 0.1 - 1e-6 and slopes.max() <= 0.3 + 1e-6
    assert slopes.std() > 0.03
    np.testing.assert_allclose(leaf.grad.numpy()[negative], slopes, rtol=1e-5)
    np.testing.assert_array_equal(leaf.grad.numpy()[~negative], 1.0)


# ---- EmbeddingBag ----------------------------------------------------------------------------
BAG_INDICES = np.array([1, 2, 4, 5, 4, 3, 2, 9])
EMBEDDING_BAG_CASES = [
    ({}, np.array([0, 2, 2, 5])),
    ({"mode": "sum"}, np.array([0, 2, 2, 5])),
    ({"mode": "max"}, np.array([0, 2, 2, 5])),
    ({"mode": "mean", "padding_idx": 4}, np.array([0, 3, 5])),
    ({"mode": "sum", "include_last_offset": True}, np.array([0, 2, 5, 8])),
    ({"mode": "max"}, None),
]


@pytest.mark.parametrize("options, offsets", EMBEDDING_BAG_CASES, ids=str)
def test_embedding_bag_matches_torch_with_its_weights(torch, options, offsets):
    theirs = torch.nn.EmbeddingBag(10, 3, **options)
    ours = nn.EmbeddingBag(10, 3, **options)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _load_from_torch(ours, theirs)
    indices = BAG_INDICES.reshape(2, 4) if offsets is None else BAG_INDICES
    our_args = [ember.tensor(indices)] + ([] if offsets is None else [ember.tensor(offsets)])
    their_args = [torch.tensor(indices)] + ([] if offsets is None else [torch.tensor(offsets)])
    our_out = ours(*our_args)
    their_out = theirs(*their_args)
    assert_close(our_out.detach(), their_out.detach())
    weights = np.random.default_rng(3).standard_normal(tuple(their_out.shape)).astype(np.float32)
    (our_out * ember.tensor(weights)).sum().backward()
    (their_out * torch.tensor(weights)).sum().backward()
    assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-5, atol=1e-6)


def test_embedding_bag_per_sample_weights_match_torch(torch):
    weight = _array((10, 3))
    sample_weights = _array((8,), seed=4)
    offsets = np.array([0, 3])

    def ours(table, scale):
        return F.embedding_bag(ember.tensor(BAG_INDICES), table, ember.tensor(offsets),
                               mode="sum", per_sample_weights=scale)

    def theirs(table, scale):
        return torch.nn.functional.embedding_bag(torch.tensor(BAG_INDICES), table,
                                                 torch.tensor(offsets), mode="sum",
                                                 per_sample_weights=scale)

    _compare(torch, ours, theirs, [weight, sample_weights])
    _gradcheck(ours, [weight, sample_weights])


def test_embedding_bag_errors_match_torch(torch):
    for call, error in [
            (lambda lib: lib.nn.functional.embedding_bag(lib.tensor([1, 2]), lib.zeros(4, 2)),
             ValueError),
            (lambda lib: lib.nn.functional.embedding_bag(lib.tensor([1, 2]), lib.zeros(4, 2),
                                                         lib.tensor([0]), mode="median"),
             ValueError),
            (lambda lib: lib.nn.functional.embedding_bag(
                lib.tensor([1, 2]), lib.zeros(4, 2), lib.tensor([0]),
                per_sample_weights=lib.ones(2)), NotImplementedError),
            (lambda lib: lib.nn.functional.embedding_bag(lib.tensor([1, 7]), lib.zeros(4, 2),
                                                         lib.tensor([0])), RuntimeError)]:
        with pytest.raises(error) as their_error:
            call(torch)
        with pytest.raises(error) as our_error:
            call(ember)
        assert str(our_error.value) == str(their_error.value)


# ---- LP pooling and gumbel_softmax -----------------------------------------------------------
@pytest.mark.parametrize("expression, shape", [
    ("LPPool1d(2, 3)", (2, 3, 8)), ("LPPool1d(3.0, 2, stride=1)", (2, 3, 7)),
    ("LPPool2d(2, 2)", (2, 3, 4, 6)), ("LPPool2d(1.5, (2, 3), stride=1, ceil_mode=True)",
                                       (1, 2, 5, 6))])
def test_lp_pool_matches_torch(torch, expression, shape):
    ours = eval("nn." + expression)
    theirs = eval("torch.nn." + expression)
    assert repr(ours) == repr(theirs)
    array = np.abs(_array(shape)) + 0.1
    _compare(torch, ours, theirs, [array], rtol=1e-5, atol=1e-5)
    _gradcheck(ours, [array])


def test_gumbel_softmax_samples_and_straight_through_gradient():
    ember.manual_seed(5)
    logits = ember.tensor(np.log(np.array([[0.7, 0.2, 0.1]] * 4000, dtype=np.float32)),
                          requires_grad=True)
    soft = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.detach().numpy().sum(axis=1), 1.0, rtol=1e-5)
    hard = F.gumbel_softmax(logits, hard=True)
    values = hard.detach().numpy()
    assert set(np.unique(values)) == {0.0, 1.0}
    np.testing.assert_array_equal(values.sum(axis=1), 1.0)
    # The argmax of logits + Gumbel noise is a sample of softmax(logits).
    np.testing.assert_allclose(values.mean(axis=0), [0.7, 0.2, 0.1], atol=0.03)
    (hard * ember.tensor(np.arange(3, dtype=np.float32))).sum().backward()
    assert np.all(np.isfinite(logits.grad.numpy()))
    assert np.abs(logits.grad.numpy()).sum() > 0


# ---- in-place forms and deprecated aliases ---------------------------------------------------
@pytest.mark.parametrize("name, arguments", [
    ("relu_", ()), ("elu_", (0.5,)), ("selu_", ()), ("celu_", (0.7,)), ("leaky_relu_", (0.2,)),
    ("hardtanh_", (-0.5, 0.5)), ("threshold_", (0.1, -3.0)), ("rrelu_", (0.1, 0.3))])
def test_inplace_functional_forms_match_torch(torch, name, arguments):
    array = _array((3, 4))
    ours = ember.tensor(array)
    theirs = torch.tensor(array)
    result = getattr(F, name)(ours, *arguments)
    getattr(torch.nn.functional, name)(theirs, *arguments)
    assert result is ours
    assert_close(ours, theirs)


@pytest.mark.parametrize("name, options", [
    ("upsample", {"scale_factor": 2, "mode": "bilinear", "align_corners": False}),
    ("upsample_nearest", {"size": (5, 3)}), ("upsample_bilinear", {"scale_factor": 1.5})])
def test_deprecated_upsample_aliases_warn_and_match_torch(torch, name, options):
    array = _array((1, 2, 3, 4))
    with pytest.warns(UserWarning, match="is deprecated"):
        ours = getattr(F, name)(ember.tensor(array), **options)
    with pytest.warns(UserWarning, match="is deprecated"):
        theirs = getattr(torch.nn.functional, name)(torch.tensor(array), **options)
    assert_close(ours, theirs)
