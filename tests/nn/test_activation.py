"""Activations: one table drives forward/backward vs torch, float64 gradchecks, dtype, reprs,
extreme inputs; in-place forms, PReLU, RReLU, gumbel_softmax and errors against PyTorch."""
import math
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd.gradcheck import gradcheck
from ember.ops.elementwise.special import erf_array as erf
from tests.conftest import (
    assert_close, assert_layer_like_torch, assert_raises_like_torch,
    assert_same_outcome_as_torch, compare_with_torch, float_array, gradcheck_arrays, outcome)

SHAPES = [(4, 5), (2, 3, 4), (3, 0)]


class Activation:
    """One row of the table: ``call(fw, x)`` works with fw=ember and fw=torch alike; a row made
    from a layer (``layer(fw)``) also has its repr and its extreme inputs compared."""

    def __init__(self, name, call, shapes=SHAPES, gradcheck_shape=(3, 4), layer=None):
        self.name = name
        self.call = call
        self.shapes = shapes
        self.gradcheck_shape = gradcheck_shape
        self.layer = layer


def _layer(name, make):
    return Activation(name, lambda fw, x: make(fw)(x), layer=make)


def _composite(name, call):
    """Rows whose call reshapes its input: shapes that every one of them accepts."""
    return Activation(name, call, [(4, 6), (2, 4, 6)], (4, 6))


ACTIVATIONS = [
    _layer("relu", lambda fw: fw.nn.ReLU()),
    _layer("relu6", lambda fw: fw.nn.ReLU6()),
    _layer("leaky_relu", lambda fw: fw.nn.LeakyReLU()),
    _layer("leaky_relu_0.2", lambda fw: fw.nn.LeakyReLU(0.2)),
    _layer("leaky_relu_negative", lambda fw: fw.nn.LeakyReLU(-0.3)),
    _layer("elu", lambda fw: fw.nn.ELU()),
    _layer("elu_0.5", lambda fw: fw.nn.ELU(alpha=0.5)),
    _layer("selu", lambda fw: fw.nn.SELU()),
    _layer("gelu", lambda fw: fw.nn.GELU()),
    _layer("gelu_tanh", lambda fw: fw.nn.GELU("tanh")),
    _layer("silu", lambda fw: fw.nn.SiLU()),
    _layer("mish", lambda fw: fw.nn.Mish()),
    _layer("softplus", lambda fw: fw.nn.Softplus()),
    _layer("softplus_beta", lambda fw: fw.nn.Softplus(beta=2.0, threshold=3.0)),
    _layer("sigmoid", lambda fw: fw.nn.Sigmoid()),
    _layer("tanh", lambda fw: fw.nn.Tanh()),
    _layer("hardtanh", lambda fw: fw.nn.Hardtanh()),
    _layer("hardtanh_range", lambda fw: fw.nn.Hardtanh(-0.5, 2.0)),
    _layer("softmax", lambda fw: fw.nn.Softmax(dim=1)),
    _layer("softmax_last", lambda fw: fw.nn.Softmax(dim=-1)),
    _layer("log_softmax", lambda fw: fw.nn.LogSoftmax(dim=1)),
    _composite("logsigmoid", lambda fw, x: fw.nn.functional.logsigmoid(x)),
    _composite("logsigmoid_module", lambda fw, x: fw.nn.LogSigmoid()(x)),
    _composite("hardswish", lambda fw, x: fw.nn.Hardswish()(x)),
    _composite("hardsigmoid", lambda fw, x: fw.nn.Hardsigmoid()(x)),
    _composite("softsign", lambda fw, x: fw.nn.Softsign()(x)),
    _composite("tanhshrink", lambda fw, x: fw.nn.Tanhshrink()(x)),
    _composite("softmin", lambda fw, x: fw.nn.Softmin(1)(x)),
    _composite("softmin_last", lambda fw, x: fw.nn.functional.softmin(x, -1)),
    _composite("celu", lambda fw, x: fw.nn.CELU()(x)),
    _composite("celu_0.5", lambda fw, x: fw.nn.CELU(0.5)(x)),
    _composite("glu", lambda fw, x: fw.nn.GLU()(x)),
    _composite("glu_dim1", lambda fw, x: fw.nn.GLU(1)(x)),
    _composite("threshold", lambda fw, x: fw.nn.Threshold(0.5, -2.0)(x)),
    _composite("prelu_shared", lambda fw, x: fw.nn.functional.prelu(x, x.new_tensor([0.3]))),
    _composite("softmax2d", lambda fw, x: fw.nn.Softmax2d()(x.reshape(-1, 2, 3, 2))),
    _composite("hardshrink", lambda fw, x: fw.nn.Hardshrink(1.0)(x)),
    _composite("softshrink", lambda fw, x: fw.nn.Softshrink()(x)),
    _composite("channel_shuffle", lambda fw, x: fw.nn.ChannelShuffle(2)(x.reshape(2, 4, -1))),
]
LAYERS = [row for row in ACTIVATIONS if row.layer is not None]


def _rows(rows):
    return [pytest.param(row, id=row.name) for row in rows]


def _inputs(shape, seed=0, scale=3.0):
    """Values spread over the interesting range, none within 1e-3 of the kinks at 0."""
    return float_array(shape, seed, -scale, scale).astype(np.float64)


@pytest.mark.parametrize("row, shape", [pytest.param(row, shape, id=f"{shape}-{row.name}")
                                        for row in ACTIVATIONS for shape in row.shapes])
def test_forward_backward_match_torch(torch, row, shape):
    compare_with_torch(torch, lambda x: row.call(ember, x), lambda x: row.call(torch, x),
                       [float_array(shape)])


@pytest.mark.parametrize("row", _rows(ACTIVATIONS))
def test_float64_gradcheck(row):
    x = ember.tensor(_inputs(row.gradcheck_shape, seed=2), dtype=ember.float64,
                     requires_grad=True)
    assert gradcheck(lambda value: row.call(ember, value), (x,))
    assert row.call(ember, x).dtype == ember.float64


@pytest.mark.parametrize("row", _rows(LAYERS))
def test_repr_matches_torch(torch, row):
    assert repr(row.layer(ember)) == repr(row.layer(torch))


@pytest.mark.parametrize("row", _rows(LAYERS))
def test_extreme_inputs_stay_finite_and_match_torch(torch, row):
    array = np.array([[-1e4, -100.0, -30.0, -1e-8, 1e-8, 30.0, 100.0, 1e4]], dtype=np.float32)
    ours = ember.tensor(array, requires_grad=True)
    theirs = torch.tensor(array, requires_grad=True)
    our_out = row.call(ember, ours)
    their_out = row.call(torch, theirs)
    assert_close(our_out, their_out, rtol=1e-5, atol=1e-6)
    our_out.sum().backward()
    their_out.sum().backward()
    assert_close(ours.grad, theirs.grad, rtol=1e-5, atol=1e-6)


INPLACE = [
    ("relu", lambda x: F.relu(x, inplace=True), lambda t, x: t.nn.functional.relu(x, True)),
    ("relu6", lambda x: F.relu6(x, inplace=True), lambda t, x: t.nn.functional.relu6(x, True)),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.1, True),
     lambda t, x: t.nn.functional.leaky_relu(x, 0.1, True)),
    ("elu", lambda x: F.elu(x, 1.0, True), lambda t, x: t.nn.functional.elu(x, 1.0, True)),
    ("selu", lambda x: F.selu(x, True), lambda t, x: t.nn.functional.selu(x, True)),
    ("hardtanh", lambda x: F.hardtanh(x, -1.0, 1.0, True),
     lambda t, x: t.nn.functional.hardtanh(x, -1.0, 1.0, True)),
]


@pytest.mark.parametrize("name, ours_inplace, theirs_inplace", INPLACE,
                         ids=[row[0] for row in INPLACE])
def test_inplace_variants_write_input_and_differentiate(torch, name, ours_inplace,
                                                        theirs_inplace):
    array = _inputs((3, 4), seed=5).astype(np.float32)
    leaf = ember.tensor(array, requires_grad=True)
    their_leaf = torch.tensor(array, requires_grad=True)
    hidden = leaf * 2
    their_hidden = their_leaf * 2
    result = ours_inplace(hidden)
    their_result = theirs_inplace(torch, their_hidden)
    assert result is hidden
    assert_close(hidden, their_hidden)
    result.sum().backward()
    their_result.sum().backward()
    assert_close(leaf.grad, their_leaf.grad)


CHANGED_AFTER = [
    ("leaky_relu", lambda f, x, inplace: f.leaky_relu(x, 0.1, inplace)),
    ("leaky_relu_negative_slope", lambda f, x, inplace: f.leaky_relu(x, -0.1, False)),
    ("elu", lambda f, x, inplace: f.elu(x, 1.0, inplace)),
    ("elu_negative_alpha", lambda f, x, inplace: f.elu(x, -0.5, False)),
    ("selu", lambda f, x, inplace: f.selu(x, inplace)),
    ("relu6", lambda f, x, inplace: f.relu6(x, inplace)),
    ("hardtanh", lambda f, x, inplace: f.hardtanh(x, -0.5, 0.5, inplace)),
    ("rrelu_eval", lambda f, x, inplace: f.rrelu(x, training=False, inplace=inplace)),
]


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("name, call", CHANGED_AFTER, ids=[row[0] for row in CHANGED_AFTER])
def test_output_changed_in_place_before_backward_like_torch(torch, name, call, inplace):
    """fast.ai's GeneralRelu does ``x = F.leaky_relu(x, leak); x -= sub``: PyTorch's out-of-place
    forms (and hardtanh_) save their input, so that works; its other in-place forms save the
    output and raise."""
    array = _inputs((3, 4), seed=7).astype(np.float32)
    outcomes = []
    for framework, functional in ((ember, F), (torch, torch.nn.functional)):
        leaf = framework.tensor(array, requires_grad=True)
        result = call(functional, leaf * 2, inplace)
        result.sub_(0.4).mul_(3)
        try:
            result.sum().backward()
        except RuntimeError as error:
            outcomes.append(("raised", "modified by an inplace operation" in str(error)))
        else:
            outcomes.append(("ok", leaf.grad.detach().numpy().copy()))
    (our_kind, ours), (their_kind, theirs) = outcomes
    assert our_kind == their_kind
    if our_kind == "ok":
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    else:
        assert ours and theirs


def test_inplace_on_leaf_requiring_grad_raises():
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        F.relu6(ember.randn(3, requires_grad=True), inplace=True)


def test_float32_stays_float32():
    x = ember.randn(4, 4)
    for row in LAYERS:
        assert row.call(ember, x).dtype == ember.float32


def test_integer_input_is_refused():
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        F.gelu(ember.tensor([1, 2]))


def test_functional_arguments():
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(ember.randn(2), approximate="fast")
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(ember.randn(2), 1.0, -1.0)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        out = F.softmax(ember.randn(2, 3))
    np.testing.assert_allclose(out.numpy().sum(axis=1), 1, rtol=1e-6)
    with pytest.warns(UserWarning, match="Implicit dimension choice for log_softmax"):
        assert F.log_softmax(ember.randn(3)).shape == (3,)


def test_erf_accuracy():
    values = np.linspace(-7, 7, 2801)
    reference = np.array([math.erf(value) for value in values])
    np.testing.assert_allclose(erf(values), reference, rtol=0, atol=1e-14)
    single = erf(values.astype(np.float32))
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, reference, rtol=0, atol=2e-7)


def test_piecewise_edges_take_torchs_gradient(torch):
    edges = np.array([-3.0, 3.0, 0.0, 0.5, -0.5], dtype=np.float32)
    for ours, theirs in [(F.hardswish, torch.nn.functional.hardswish),
                         (F.hardsigmoid, torch.nn.functional.hardsigmoid),
                         (lambda x: F.threshold(x, 0.5, 1.0),
                          lambda x: torch.nn.functional.threshold(x, 0.5, 1.0)),
                         (F.celu, torch.nn.functional.celu),
                         (F.softshrink, torch.nn.functional.softshrink),
                         (F.hardshrink, torch.nn.functional.hardshrink)]:
        compare_with_torch(torch, ours, theirs, [edges])


@pytest.mark.parametrize("name", ["hardshrink", "softshrink"])
def test_shrinks_pass_nan_and_keep_signed_zeros_like_torch(torch, name):
    values = np.array([np.nan, -np.inf, -1.0, -0.5, -0.2, -0.0, 0.2, 0.5, 1.0, np.inf],
                      dtype=np.float32)
    results = []
    for fw in (torch, ember):
        x = fw.tensor(values, requires_grad=True)
        out = getattr(fw.nn.functional, name)(x, 0.5)
        out.sum().backward()
        results.append((out.detach().numpy(), x.grad.numpy()))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))
    for dtype in ("int64", "bool"):
        assert_raises_like_torch(
            lambda: getattr(torch.nn.functional, name)(torch.zeros(2, dtype=getattr(torch, dtype))),
            lambda: getattr(F, name)(ember.zeros(2, dtype=getattr(ember, dtype))),
            NotImplementedError)
    assert_raises_like_torch(lambda: torch.nn.functional.softshrink(torch.zeros(2).double(), -1),
                             lambda: F.softshrink(ember.zeros(2).double(), -1), RuntimeError)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", ["hardtanh", "relu6", "hardsigmoid", "hardswish", "leaky_relu",
                                  "elu", "celu", "hardshrink", "softshrink"])
def test_half_precision_activations_keep_dtype_and_round_once_like_torch(torch, name, dtype):
    values = np.array([-4.0, -1.5, -0.3, 0.3, 2.0, 5.0], dtype=np.float32)
    results = []
    for fw in (torch, ember):
        out = getattr(fw.nn.functional, name)(fw.tensor(values).to(getattr(fw, dtype)))
        assert str(out.dtype) == f"{fw.__name__}.{dtype}"
        results.append(out.float().numpy())
    np.testing.assert_array_equal(results[1], results[0])


def test_hardtanh_of_unsigned_input_with_negative_limits_raises_like_torch(torch):
    assert_raises_like_torch(
        lambda: torch.nn.functional.hardtanh(torch.zeros(2, dtype=torch.uint8)),
        lambda: F.hardtanh(ember.zeros(2, dtype=ember.uint8)), RuntimeError)
    np.testing.assert_array_equal(F.relu6(ember.tensor([0, 9], dtype=ember.uint8)).numpy(),
                                  [0, 6])


def test_logsigmoid_is_stable_at_large_magnitudes(torch):
    values = np.array([-200.0, -30.0, 30.0, 200.0], dtype=np.float32)
    compare_with_torch(torch, F.logsigmoid, torch.nn.functional.logsigmoid, [values])


@pytest.mark.parametrize("name", ["sigmoid", "silu", "softplus", "mish"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logistic_family_keeps_relative_accuracy_and_non_finite_values(torch, name, dtype):
    # tiny outputs far left are compared relatively (atol 0); inf and NaN pass as in PyTorch
    values = np.array([-1e4, -800.0, -100.0, -87.0, -30.0, -1.0, 0.0, 2.5, 30.0, 100.0, np.inf,
                       -np.inf, np.nan], dtype=dtype)
    grad = np.linspace(0.5, 1.5, values.size).astype(dtype)
    ours = ember.tensor(values, requires_grad=True)
    theirs = torch.tensor(values, requires_grad=True)
    with np.errstate(invalid="ignore"):  # inf * 0 inside, NaN as in PyTorch
        our_out = getattr(F, name)(ours)
        our_out.backward(ember.tensor(grad))
    their_out = getattr(torch.nn.functional, name)(theirs)
    their_out.backward(torch.tensor(grad))
    tolerance = 2e-6 if dtype == np.float32 else 1e-13
    for mine, their in ((our_out, their_out), (ours.grad, theirs.grad)):
        np.testing.assert_allclose(mine.detach().numpy(), their.detach().numpy(),
                                   rtol=tolerance, atol=0)


@pytest.mark.parametrize("inplace_name", ["hardswish", "hardsigmoid", "celu"])
def test_inplace_forms_match_out_of_place(inplace_name):
    array = float_array((3, 4))
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
    # celu_ differentiates from its output (as PyTorch's): float32 rounding apart
    np.testing.assert_allclose(leaf.grad.numpy(), expected_grad, rtol=1e-6)


@pytest.mark.parametrize("num_parameters, shape", [(1, (4, 3)), (3, (2, 3, 5)), (3, (2, 3, 2, 2))])
def test_prelu_module_matches_torch_with_its_weights(torch, num_parameters, shape):
    theirs = torch.nn.PReLU(num_parameters, init=0.1)
    with torch.no_grad():
        theirs.weight.uniform_(-0.5, 0.5)
    ours = nn.PReLU(num_parameters, init=0.1)
    ours.load_state_dict({key: ember.tensor(value.numpy())
                          for key, value in theirs.state_dict().items()})
    array = float_array(shape)
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
    gradcheck_arrays(lambda x, w: F.prelu(x, w),
                     [float_array((2, 3, 4)), float_array((3,), seed=2)])


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
        assert_raises_like_torch(theirs, ours, error)


MODULE_REPRS = [
    "Hardswish()", "Hardsigmoid()", "LogSigmoid()", "Softsign()", "Tanhshrink()", "Softmin(1)",
    "Softmin()", "Softmax2d()", "CELU()", "CELU(0.5, True)", "GLU()", "GLU(1)",
    "Threshold(0.1, 20)", "Threshold(0.1, 20.0, True)", "Hardshrink()", "Softshrink(0.3)",
]


@pytest.mark.parametrize("expression", MODULE_REPRS)
def test_module_reprs_match_torch(torch, expression):
    assert_layer_like_torch(torch, expression)


def test_rrelu_evaluation_matches_torch(torch):
    ours = nn.RReLU(0.1, 0.3).eval()
    theirs = torch.nn.RReLU(0.1, 0.3).eval()
    compare_with_torch(torch, ours, theirs, [float_array((4, 5))])
    assert repr(ours) == repr(theirs)
    assert repr(nn.RReLU(inplace=True)) == repr(torch.nn.RReLU(inplace=True))


def test_rrelu_training_draws_slopes_in_range_and_differentiates_through_them():
    ember.manual_seed(123)  # not 0: _array draws from the same PCG64 stream with seed 0
    array = float_array((50, 40))
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


def test_gumbel_softmax_eps_is_deprecated_like_torch(torch):
    """Any eps but the default warns, at the caller, that it has no effect."""
    seen = []
    for library in (ember, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            library.nn.functional.gumbel_softmax(library.zeros(2, 3), eps=0.1)
            library.nn.functional.gumbel_softmax(library.zeros(2, 3), eps=1e-10)
        seen.append([(str(warning.message), warning.filename) for warning in caught])
    assert seen[0] == seen[1] == [("`eps` parameter is deprecated and has no effect.", __file__)]


@pytest.mark.parametrize("name, arguments", [
    ("relu_", ()), ("elu_", (0.5,)), ("selu_", ()), ("celu_", (0.7,)), ("leaky_relu_", (0.2,)),
    ("hardtanh_", (-0.5, 0.5)), ("threshold_", (0.1, -3.0)), ("rrelu_", (0.1, 0.3))])
def test_inplace_functional_forms_match_torch(torch, name, arguments):
    array = float_array((3, 4))
    ours = ember.tensor(array)
    theirs = torch.tensor(array)
    result = getattr(F, name)(ours, *arguments)
    getattr(torch.nn.functional, name)(theirs, *arguments)
    assert result is ours
    assert_close(ours, theirs)


@pytest.mark.parametrize("name, exact", [("softplus", True), ("hardsigmoid", True),
                                         ("logsigmoid", False)])
def test_half_precision_gradients_are_computed_in_float32_as_torch(torch, name, exact):
    # PyTorch's opmath: float16 formulas in float32, rounded once (softplus's exp would
    # overflow float16 above 11, and hardsigmoid's 1/6 round twice)
    values = np.concatenate([np.linspace(-4, 4, 301), [12.0, 15.0, 19.5, 30.0, -30.0, 100.0]])
    values = values.astype(np.float16)
    grad = np.linspace(0.5, 1.5, values.size).astype(np.float16)
    ours = ember.tensor(values, requires_grad=True)
    theirs = torch.tensor(values, requires_grad=True)
    getattr(F, name)(ours).backward(ember.tensor(grad))
    getattr(torch.nn.functional, name)(theirs).backward(torch.tensor(grad))
    assert ours.grad.dtype == ember.float16
    mine, their = ours.grad.numpy().astype(np.float64), theirs.grad.numpy().astype(np.float64)
    if exact:
        np.testing.assert_array_equal(mine, their)
    else:  # one float16 ulp (exp rounds differently)
        np.testing.assert_allclose(mine, their, rtol=1e-3, atol=1e-7)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name, options", [
    ("silu", {}), ("mish", {}), ("softplus", {}), ("leaky_relu", {"negative_slope": 0.01}),
    ("celu", {"alpha": 0.7}), ("hardswish", {}), ("hardsigmoid", {}), ("relu6", {}),
    ("tanh", {}), ("tanhshrink", {})])
def test_half_activations_round_once_like_pytorch(torch, dtype, name, options):
    """float16/bfloat16 activations and their gradients computed in float32 and rounded once
    (PyTorch's opmath): all but a rare element (exp rounding differently) equal to PyTorch's;
    rounded step by step, 10-60% of them were an ulp off."""
    generator = np.random.default_rng(0)
    x = generator.standard_normal(2000).astype(np.float32) * 3
    grad = generator.standard_normal(2000).astype(np.float32)
    results = []
    for fw in (torch, ember):
        tensor = fw.tensor(x).to(getattr(fw, dtype)).requires_grad_()
        function = getattr(fw.nn.functional, name, None) or getattr(fw, name)
        out = function(tensor, **options)
        out.backward(fw.tensor(grad).to(getattr(fw, dtype)))
        results.append((out.detach().float().numpy(), tensor.grad.float().numpy()))
    for got, expected in zip(results[1], results[0]):
        assert np.mean(got != expected) < 0.002
        np.testing.assert_allclose(got, expected, rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("size", [3, 64])
@pytest.mark.parametrize("name", ["threshold", "abs", "relu"])
def test_nan_inputs_keep_torchs_values_and_gradients(name, size):
    # threshold keeps a NaN (x <= threshold is false) and passes its gradient; abs's gradient at
    # NaN is grad * sgn(NaN) = 0; relu passes the gradient of a NaN output (threshold_backward)
    torch = pytest.importorskip("torch")
    x = np.full(size, np.nan, np.float32)
    x[:3] = [1.0, -1.0, 0.0]
    x[-1] = np.nan
    grad = np.linspace(0.5, 1.5, size).astype(np.float32)
    results = []
    for fw in (torch, ember):
        op = {"threshold": lambda t: fw.nn.functional.threshold(t, 0.5, -2.0),
              "abs": lambda t: fw.abs(t), "relu": lambda t: fw.relu(t)}[name]
        leaf = fw.tensor(x, requires_grad=True)
        out = op(leaf)
        out.backward(fw.tensor(grad))
        results.append((out.detach().numpy(), leaf.grad.numpy()))
    (expected_out, expected_grad), (out, got_grad) = results
    np.testing.assert_array_equal(out, expected_out)
    np.testing.assert_array_equal(got_grad, expected_grad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("shape", [(), (1,), (1, 1, 512), (1, 128, 512), (3, 0), (7, 5)])
def test_gelu_without_a_graph_equals_the_recorded_node_and_torch(torch, dtype, approximate,
                                                                 shape):
    # under no_grad (or for an input that needs no grad) F.gelu skips its node: bit for bit the
    # recorded forward, special values included; a strided input matches it too
    x = (np.random.default_rng(len(shape)).standard_normal(shape) * 4).astype(dtype)
    if x.size >= 6:
        x.reshape(-1)[:6] = [np.inf, -np.inf, np.nan, 0.0, -0.0, 40.0]
    leaf = ember.tensor(x, requires_grad=True)
    recorded = F.gelu(leaf, approximate=approximate)
    assert recorded.grad_fn is not None
    with ember.no_grad():
        plain = F.gelu(leaf, approximate=approximate)
        from_module = nn.GELU(approximate)(leaf)
    frozen = F.gelu(ember.tensor(x), approximate=approximate)
    outputs = [plain, from_module, frozen]
    if x.ndim == 2:
        outputs.append(F.gelu(ember.tensor(np.asfortranarray(x)), approximate=approximate))
    for out in outputs:
        np.testing.assert_array_equal(out.detach().numpy(), recorded.detach().numpy())
        assert out.dtype == recorded.dtype and out.shape == recorded.shape
    assert plain.grad_fn is None and not plain.requires_grad
    expected = torch.nn.functional.gelu(torch.tensor(x), approximate=approximate).numpy()
    assert plain.shape == expected.shape
    # (PyTorch's vectorised erf gives NaN at +inf, its scalar tail inf: finite inputs compared;
    # both float32 GELUs lie up to 1.2e-6 from the exact value near |x| = 4)
    finite = np.isfinite(x)
    tolerance = 2.5e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(plain.numpy()[finite], expected[finite], rtol=tolerance,
                               atol=tolerance)
    assert np.isnan(plain.numpy()[np.isnan(x)]).all()


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("shape", [(), (7, 5), (2, 3, 129), (4, 64, 256)])
@pytest.mark.parametrize("strided", [False, True])
def test_gelu_tanh_gradient_matches_torch(torch, dtype, shape, strided):
    # the in-place derivative of the tanh GELU against torch's, special values included, for a
    # transposed input and a broadcast upstream gradient (sum's backward)
    random = np.random.default_rng(sum(shape))
    x = (random.standard_normal(shape) * 4).astype(dtype)
    if x.size >= 6:
        x.reshape(-1)[:6] = [np.inf, -np.inf, 0.0, -0.0, 40.0, -9.0]
    upstream = random.standard_normal(shape).astype(dtype)
    grads = []
    for fw in (ember, torch):
        leaf = fw.tensor(x, requires_grad=True)
        source = leaf.transpose(0, 1) if strided and x.ndim >= 2 else leaf
        out = fw.nn.functional.gelu(source, approximate="tanh")
        (out.sum() if strided else (out * fw.tensor(upstream)).sum()).backward()
        grads.append(leaf.grad.numpy())
    tolerance = {"float32": 1e-5, "float64": 1e-12, "float16": 2e-3}[dtype]
    assert grads[0].dtype == grads[1].dtype
    np.testing.assert_allclose(grads[0], grads[1], rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_of_a_zero_dim_tensor_keeps_its_shape_as_torch(torch, dtype, approximate):
    # ember's float32 kernel had returned shape [1] for a 0-d input, and its backward then failed
    results = []
    for library in (torch, ember):
        x = library.tensor(1.5, dtype=getattr(library, dtype), requires_grad=True)
        output = library.nn.functional.gelu(x, approximate=approximate)
        output.backward()
        results.append((output.detach().numpy(), x.grad.numpy()))
    for theirs, mine in zip(*results):
        assert mine.shape == theirs.shape == ()
        np.testing.assert_allclose(mine, theirs, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, dim", [((1, 65), -1), ((3, 4, 5), 1), ((3, 4, 5), 0), ((7,), 0),
                                        ((4, 700), -1), ((2, 0), -1), ((1, 1, 65), 2)])
def test_softmax_without_a_graph_equals_the_recorded_node_and_torch(torch, dtype, name, shape,
                                                                    dim):
    # under no_grad (or for an input that needs no grad) softmax skips its node: bit for bit
    # the recorded forward, NaN and inf rows included; strided inputs and dtype= keep the node
    x = (np.random.default_rng(len(shape)).standard_normal(shape) * 5).astype(dtype)
    if x.size > 10:
        x.reshape(-1)[:3] = [np.inf, np.nan, -np.inf]
    leaf = ember.tensor(x, requires_grad=True)
    function = getattr(F, name)
    recorded = function(leaf, dim=dim)
    assert recorded.grad_fn is not None
    with ember.no_grad():
        plain = function(leaf, dim=dim)
        strided = function(ember.tensor(np.asfortranarray(x)), dim=dim)
        widened = function(leaf, dim=dim, dtype=ember.float64)
    frozen = getattr(ember, name)(ember.tensor(x), dim)
    for out in (plain, strided, frozen):
        np.testing.assert_array_equal(out.detach().numpy(), recorded.detach().numpy())
        assert out.dtype == recorded.dtype and out.stride() == recorded.stride()
    assert plain.grad_fn is None and not plain.requires_grad and widened.dtype == ember.float64
    expected = getattr(torch.nn.functional, name)(torch.tensor(x), dim=dim).numpy()
    tolerance = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(plain.numpy(), expected, rtol=tolerance * 5, atol=tolerance)
    with ember.no_grad():
        assert_raises_like_torch(lambda: getattr(torch, name)(torch.tensor(x), len(shape)),
                                 lambda: getattr(ember, name)(ember.tensor(x), len(shape)),
                                 same_type=True)


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "float16"])
@pytest.mark.parametrize("shape, dim, channels_last", [
    ((4, 6), -1, False), ((2, 4, 4, 2), 1, True), ((2, 4, 4, 2), -1, True), ((3, 8, 5), 1, False),
    ((6,), 0, False)])
def test_glu_is_one_node_with_torchs_values_and_layout(torch, dtype, shape, dim, channels_last):
    """F.glu records one GluBackward0 node over its input (as PyTorch's), with PyTorch's output
    strides; half-precision values and gradients are PyTorch's bit for bit (the gate rounded to
    the dtype before the backward's products, as its glu_backward)."""
    array = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    grad = np.random.default_rng(1).standard_normal(
        shape[:dim % len(shape)] + (shape[dim] // 2,) + shape[dim % len(shape) + 1:]
    ).astype(np.float32)
    results = []
    for library in (ember, torch):
        x = library.tensor(array).to(getattr(library, dtype))
        if channels_last:
            x = x.contiguous(memory_format=library.channels_last)
        x.requires_grad_(True)
        out = library.nn.functional.glu(x, dim)
        out.backward(library.tensor(grad).to(out.dtype))
        results.append((out, x.grad))
    (ours, our_grad), (theirs, their_grad) = results
    assert ours.stride() == theirs.stride()
    assert ours.grad_fn.name() == "GluBackward0" and len(ours.grad_fn.next_functions) == 1
    exact = dtype in ("bfloat16", "float16")
    tolerance = 0 if exact else 2e-7
    assert_close(ours.float(), theirs.float(), rtol=tolerance, atol=tolerance)
    assert_close(our_grad.float(), their_grad.float(), rtol=tolerance, atol=tolerance)


def test_glu_refuses_integers_as_torch(torch):
    assert_raises_like_torch(lambda: F.glu(ember.arange(4)),
                             lambda: torch.nn.functional.glu(torch.arange(4)))


@pytest.mark.parametrize("name", ["leaky_relu", "elu", "silu", "selu"])
def test_broadcast_gradient_gives_the_contiguous_gradients_values(torch, name):
    """A gradient that arrives broadcast (sum's backward) gives the same input gradient as the
    same values laid out row-major, and PyTorch's."""
    array = float_array((64, 40))
    grads = []
    for make_grad in ("sum", "ones"):
        x = ember.tensor(array, requires_grad=True)
        out = getattr(F, name)(x)
        if make_grad == "sum":
            out.sum().backward()
        else:
            out.backward(ember.ones(64, 40))
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    theirs = torch.tensor(array, requires_grad=True)
    getattr(torch.nn.functional, name)(theirs).sum().backward()
    np.testing.assert_allclose(grads[0], theirs.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("call", [
    lambda fw: fw.nn.functional.glu(fw.ones(3, 4), dim=3),
    lambda fw: fw.nn.functional.glu(fw.ones(3, 4), dim=-3),
    lambda fw: fw.nn.functional.gumbel_softmax(fw.ones(2, 3, dtype=fw.int64)),
    lambda fw: fw.nn.functional.gumbel_softmax(fw.ones(2, 3, dtype=fw.bool)),
    lambda fw: fw.nn.functional.gumbel_softmax(fw.ones(2, 3, dtype=fw.complex64))])
def test_glu_dim_and_gumbel_softmax_dtype_errors_match_torch(torch, call):
    assert_raises_like_torch(lambda: call(torch), lambda: call(ember), same_type=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(5,), (3, 17), (2, 33, 17), (4, 8, 9, 9)])
@pytest.mark.parametrize("bounds, inplace", [((0.0, 6.0), False), ((0.0, 6.0), True),
                                             ((-1.0, 1.0), False), ((-0.3, 0.7), True)])
def test_hardtanh_values_and_gradients_equal_torchs_exactly(torch, dtype, shape, bounds,
                                                            inplace):
    """hardtanh and relu6 (the one-pass float32 kernel from 256 elements, NumPy's passes below
    it and in float64): the clamp bit for bit, NaN kept, the gradient passed strictly inside
    the edges only. PyTorch's vectorised loop zeroes a NaN's gradient, its scalar tail passes
    it: a NaN goes only at index 0 of 32 or more elements, in the vectorised part."""
    low, high = bounds
    values = float_array(shape, low=-8.0, high=8.0).astype(dtype)
    flat = values.reshape(-1)
    edges = [np.nan, low, high, -0.0, 0.0, np.inf, -np.inf, np.nextafter(low, high, dtype=dtype),
             np.nextafter(high, low, dtype=dtype)]
    if flat.size < 32:
        edges = edges[1:]
    count = min(len(edges), flat.size)
    flat[:count] = edges[:count]
    grad = float_array(shape, low=0.5, high=1.5).astype(dtype)
    results = []
    for fw in (torch, ember):
        leaf = fw.tensor(values, requires_grad=True)
        out = fw.nn.functional.hardtanh(leaf * 1, low, high, inplace)
        out.backward(fw.tensor(grad))
        results.append((out.detach().numpy(), leaf.grad.numpy()))
    (expected_out, expected_grad), (out, got_grad) = results
    assert out.dtype == expected_out.dtype and got_grad.dtype == expected_grad.dtype
    np.testing.assert_array_equal(out, expected_out)
    np.testing.assert_array_equal(np.signbit(out), np.signbit(expected_out))
    np.testing.assert_array_equal(got_grad, expected_grad)


def test_hardtanh_second_derivative_and_gradcheck_match_torch(torch):
    values = float_array((20, 20), low=-2.0, high=2.0)
    results = []
    for fw in (torch, ember):
        leaf = fw.tensor(values, requires_grad=True)
        (first,) = fw.autograd.grad((fw.nn.functional.hardtanh(leaf) * leaf).sum(), leaf,
                                    create_graph=True)
        (second,) = fw.autograd.grad(first.sum(), leaf)
        results.append((first.detach().numpy(), second.numpy()))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_array_equal(ours, theirs)
    leaf = ember.tensor(float_array((17, 19), low=-2.0, high=2.0).astype(np.float64),
                        requires_grad=True)
    assert gradcheck(lambda x: F.hardtanh(x, -0.9, 1.1), (leaf,))


IN_PLACE_NODE_CALLS = {
    "elu_": lambda F, x: F.elu(x, inplace=True),
    "selu_": lambda F, x: F.selu(x, inplace=True),
    "celu_": lambda F, x: F.celu_(x),
    "leaky_relu_": lambda F, x: F.leaky_relu(x, 0.1, inplace=True),
    "threshold_": lambda F, x: F.threshold_(x, 0.1, 2.0),
    "threshold_inplace": lambda F, x: F.threshold(x, 0.1, 2.0, inplace=True),
    "rrelu": lambda F, x: F.rrelu(x),
    "rrelu_training": lambda F, x: F.rrelu(x, training=True),
    "rrelu_": lambda F, x: F.rrelu_(x),
    "rrelu_training_inplace": lambda F, x: F.rrelu(x, training=True, inplace=True),
    "elu": lambda F, x: F.elu(x),
    "leaky_relu": lambda F, x: F.leaky_relu(x, 0.1),
}


@pytest.mark.parametrize("name", list(IN_PLACE_NODE_CALLS))
def test_activation_nodes_are_named_like_torch(torch, name):
    """PyTorch's in-place elu_, selu_, celu_, leaky_relu_, threshold_ and rrelu_ have nodes of
    their own (…Backward1, saving the result); rrelu's node is RreluWithNoiseBackward0."""
    def node(fw):
        x = fw.tensor(np.linspace(-2.0, 2.0, 6), requires_grad=True)
        return IN_PLACE_NODE_CALLS[name](fw.nn.functional, x * 1).grad_fn.name()
    assert node(ember) == node(torch)


@pytest.mark.parametrize("alpha", [1.3, 0.5])
def test_celu_inplace_saves_its_output_like_torch(torch, alpha):
    """PyTorch's celu_ saves its result: derivatives of three orders from it are torch's, and
    changing the result in place afterwards makes backward refuse, as torch's does."""
    from tests.nn.higher_order import assert_derivatives_match_torch
    assert_derivatives_match_torch(
        torch, lambda fw, x: fw.nn.functional.celu(x * 1, alpha, inplace=True),
        [np.linspace(-2.0, 2.0, 9)], orders=3, rtol=1e-12, atol=1e-12)
    for fw in (torch, ember):
        x = fw.tensor(np.linspace(-2.0, 2.0, 6), requires_grad=True)
        result = fw.nn.functional.celu(x * 1, alpha, inplace=True)
        result.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            result.sum().backward()


@pytest.mark.parametrize("call", [
    lambda fw: fw.nn.functional.softmax(fw.ones(3, 2), dim=0, dtype=fw.long),
    lambda fw: fw.nn.functional.softmax(fw.ones(3, 2), dim=1, dtype=fw.bool),
    lambda fw: fw.nn.functional.log_softmax(fw.ones(3, 2), dim=0, dtype=fw.int32),
    lambda fw: fw.nn.functional.softmin(fw.ones(3, 2), dim=1, dtype=fw.long),
    lambda fw: fw.nn.functional.rrelu(fw.ones(3), lower=0.5, upper=0.1, training=True),
    lambda fw: fw.nn.functional.rrelu(fw.ones(3), lower=0.5, upper=0.1, training=False),
    lambda fw: fw.nn.functional.threshold(fw.ones(3), 0.5),
    lambda fw: fw.cdist(fw.ones(2, 3), fw.ones(2, 3), p=-1),
    lambda fw: fw.nn.functional.embedding_bag(fw.tensor([[0, 1], [1, 2]]), fw.zeros(3, 2),
                                               fw.tensor([0])),
    lambda fw: fw.nn.MultiheadAttention(4, 2, kdim=3)(fw.zeros(3, 2, 4), fw.zeros(5, 2, 4),
                                                      fw.zeros(5, 2, 4)),
    lambda fw: fw.nn.MultiheadAttention(4, 2, vdim=5)(fw.zeros(3, 2, 4), fw.zeros(5, 2, 4),
                                                      fw.zeros(5, 2, 4)),
    lambda fw: fw.nn.TransformerEncoder(fw.nn.TransformerEncoderLayer(4, 2), num_layers=0)(
        fw.zeros(3, 2, 4))])
def test_functional_misuse_raises_torchs_error(torch, call):
    assert outcome(call, torch)[0] == "raised"
    assert_same_outcome_as_torch(torch, call)
