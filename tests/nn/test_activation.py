"""Activations: one table drives forward/backward vs torch, float64 gradchecks, dtype, inplace."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd.gradcheck import gradcheck
from ember.ops.elementwise.special import erf_array as erf
from tests.conftest import assert_close

# name, ember module factory, torch module factory (given torch), functional (ember)
ACTIVATIONS = [
    ("relu", lambda: nn.ReLU(), lambda t: t.nn.ReLU()),
    ("relu6", lambda: nn.ReLU6(), lambda t: t.nn.ReLU6()),
    ("leaky_relu", lambda: nn.LeakyReLU(), lambda t: t.nn.LeakyReLU()),
    ("leaky_relu_0.2", lambda: nn.LeakyReLU(0.2), lambda t: t.nn.LeakyReLU(0.2)),
    ("leaky_relu_negative", lambda: nn.LeakyReLU(-0.3), lambda t: t.nn.LeakyReLU(-0.3)),
    ("elu", lambda: nn.ELU(), lambda t: t.nn.ELU()),
    ("elu_0.5", lambda: nn.ELU(alpha=0.5), lambda t: t.nn.ELU(alpha=0.5)),
    ("selu", lambda: nn.SELU(), lambda t: t.nn.SELU()),
    ("gelu", lambda: nn.GELU(), lambda t: t.nn.GELU()),
    ("gelu_tanh", lambda: nn.GELU("tanh"), lambda t: t.nn.GELU("tanh")),
    ("silu", lambda: nn.SiLU(), lambda t: t.nn.SiLU()),
    ("mish", lambda: nn.Mish(), lambda t: t.nn.Mish()),
    ("softplus", lambda: nn.Softplus(), lambda t: t.nn.Softplus()),
    ("softplus_beta", lambda: nn.Softplus(beta=2.0, threshold=3.0),
     lambda t: t.nn.Softplus(beta=2.0, threshold=3.0)),
    ("sigmoid", lambda: nn.Sigmoid(), lambda t: t.nn.Sigmoid()),
    ("tanh", lambda: nn.Tanh(), lambda t: t.nn.Tanh()),
    ("hardtanh", lambda: nn.Hardtanh(), lambda t: t.nn.Hardtanh()),
    ("hardtanh_range", lambda: nn.Hardtanh(-0.5, 2.0), lambda t: t.nn.Hardtanh(-0.5, 2.0)),
    ("softmax", lambda: nn.Softmax(dim=1), lambda t: t.nn.Softmax(dim=1)),
    ("softmax_last", lambda: nn.Softmax(dim=-1), lambda t: t.nn.Softmax(dim=-1)),
    ("log_softmax", lambda: nn.LogSoftmax(dim=1), lambda t: t.nn.LogSoftmax(dim=1)),
]
IDS = [row[0] for row in ACTIVATIONS]
SHAPES = [(4, 5), (2, 3, 4), (3, 0)]


def _inputs(shape, seed=0, scale=3.0):
    """Values spread over the interesting range, including exact kinks at 0 avoided."""
    values = np.random.default_rng(seed).uniform(-scale, scale, size=shape)
    values[np.abs(values) < 1e-3] = 0.5
    return values


@pytest.mark.parametrize("name, make, make_torch", ACTIVATIONS, ids=IDS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_forward_backward_match_torch(torch, name, make, make_torch, shape):
    array = _inputs(shape).astype(np.float32)
    ours = ember.tensor(array, requires_grad=True)
    theirs = torch.tensor(array, requires_grad=True)
    our_out = make()(ours)
    their_out = make_torch(torch)(theirs)
    assert_close(our_out, their_out, rtol=1e-5, atol=1e-6)
    weights = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    (our_out * ember.tensor(weights)).sum().backward()
    (their_out * torch.tensor(weights)).sum().backward()
    assert_close(ours.grad, theirs.grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name, make, make_torch", ACTIVATIONS, ids=IDS)
def test_float64_gradcheck(name, make, make_torch):
    array = _inputs((3, 4), seed=2)
    x = ember.tensor(array, dtype=ember.float64, requires_grad=True)
    assert gradcheck(make(), (x,))
    with_result = make()(x)
    assert with_result.dtype == ember.float64


@pytest.mark.parametrize("name, make, make_torch", ACTIVATIONS, ids=IDS)
def test_repr_matches_torch(torch, name, make, make_torch):
    assert repr(make()) == repr(make_torch(torch))


@pytest.mark.parametrize("name, make, make_torch", ACTIVATIONS, ids=IDS)
def test_extreme_inputs_stay_finite_and_match_torch(torch, name, make, make_torch):
    array = np.array([[-1e4, -100.0, -30.0, -1e-8, 1e-8, 30.0, 100.0, 1e4]], dtype=np.float32)
    ours = ember.tensor(array, requires_grad=True)
    theirs = torch.tensor(array, requires_grad=True)
    our_out = make()(ours)
    their_out = make_torch(torch)(theirs)
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


def test_inplace_on_leaf_requiring_grad_raises():
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        F.relu6(ember.randn(3, requires_grad=True), inplace=True)


def test_float32_stays_float32():
    x = ember.randn(4, 4)
    for _, make, _ in ACTIVATIONS:
        assert make()(x).dtype == ember.float32


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
