"""ember.nn.init: gains, fans, distribution statistics, generators, errors, no graph recorded."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn import init
from tests.conftest import assert_raises_like_torch


@pytest.mark.parametrize("nonlinearity, param", [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_matches_torch(torch, nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param))


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 5, 5), (6, 2, 7)])
def test_fans_match_torch(torch, shape):
    assert init._calculate_fan_in_and_fan_out(ember.empty(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def test_fan_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(ember.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(ember.empty(3, 3), mode="fan_avg")


def _values(tensor):
    return tensor.detach().numpy().astype(np.float64)


def test_kaiming_uniform_bound_and_variance():
    weight = ember.empty(256, 64, 3, 3)
    fan_in = 64 * 9
    init.kaiming_uniform_(weight, nonlinearity="relu")
    bound = math.sqrt(2.0) * math.sqrt(3.0 / fan_in)
    values = _values(weight)
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    assert values.var() == pytest.approx(2.0 / fan_in, rel=0.02)
    init.kaiming_uniform_(weight, mode="fan_out", nonlinearity="relu")
    assert _values(weight).var() == pytest.approx(2.0 / (256 * 9), rel=0.02)


def test_kaiming_normal_and_xavier_statistics():
    weight = ember.empty(300, 200)
    init.kaiming_normal_(weight, a=0.1, nonlinearity="leaky_relu")
    assert _values(weight).std() == pytest.approx(
        math.sqrt(2.0 / (1 + 0.01)) / math.sqrt(200), rel=0.02)
    init.xavier_uniform_(weight, gain=2.0)
    bound = 2.0 * math.sqrt(6.0 / 500)
    assert np.abs(_values(weight)).max() <= bound
    assert _values(weight).var() == pytest.approx(4.0 * 2.0 / 500, rel=0.02)
    init.xavier_normal_(weight)
    assert _values(weight).std() == pytest.approx(math.sqrt(2.0 / 500), rel=0.02)


def test_uniform_normal_constant_ones_zeros_eye():
    tensor = ember.empty(200, 200)
    init.uniform_(tensor, -2.0, 3.0)
    values = _values(tensor)
    assert values.min() >= -2.0 and values.max() < 3.0 and values.mean() == pytest.approx(0.5,
                                                                                         abs=0.02)
    init.normal_(tensor, 1.0, 0.5)
    assert _values(tensor).mean() == pytest.approx(1.0, abs=0.01)
    assert _values(tensor).std() == pytest.approx(0.5, rel=0.01)
    assert np.all(_values(init.constant_(tensor, 0.25)) == 0.25)
    assert np.all(_values(init.ones_(tensor)) == 1) and np.all(_values(init.zeros_(tensor)) == 0)
    np.testing.assert_array_equal(_values(init.eye_(ember.empty(3, 4))), np.eye(3, 4))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(ember.empty(2, 2, 2))


def test_trunc_normal_within_bounds_with_truncated_moments():
    tensor = ember.empty(400, 250)
    init.trunc_normal_(tensor, mean=0.5, std=1.0, a=-0.5, b=2.0)
    values = _values(tensor)
    assert values.min() >= -0.5 and values.max() <= 2.0
    # moments of N(0.5, 1) truncated to [-1, 1.5] standard units
    alpha, beta = -1.0, 1.5
    density = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    mass = 0.5 * (math.erf(beta / math.sqrt(2)) - math.erf(alpha / math.sqrt(2)))
    mean = 0.5 + (density(alpha) - density(beta)) / mass
    variance = 1 + (alpha * density(alpha) - beta * density(beta)) / mass - \
        ((density(alpha) - density(beta)) / mass) ** 2
    assert values.mean() == pytest.approx(mean, abs=0.01)
    assert values.var() == pytest.approx(variance, rel=0.02)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 2, 3)])
def test_orthogonal(shape):
    tensor = ember.empty(*shape)
    init.orthogonal_(tensor, gain=2.0)
    matrix = _values(tensor).reshape(shape[0], -1)
    rows, columns = matrix.shape
    gram = matrix.T @ matrix if rows >= columns else matrix @ matrix.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(rows, columns)), atol=1e-5)
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
        init.orthogonal_(ember.empty(3))


def test_generator_and_no_graph():
    first = init.normal_(ember.empty(5, 5), generator=ember.Generator().manual_seed(1))
    second = init.normal_(ember.empty(5, 5), generator=ember.Generator().manual_seed(1))
    np.testing.assert_array_equal(_values(first), _values(second))
    parameter = nn.Parameter(ember.empty(4, 4))
    result = init.kaiming_uniform_(parameter, a=math.sqrt(5))
    assert result is parameter and parameter.is_leaf and parameter.grad_fn is None
    assert parameter.dtype == ember.float32
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_normal_(ember.empty(0, 3))


def test_dirac_matches_torch(torch):
    for shape, groups in [((4, 2, 3, 3), 1), ((4, 2, 3, 3), 2), ((3, 5, 4), 1),
                          ((6, 2, 3, 3, 3), 3)]:
        mine = ember.nn.init.dirac_(ember.empty(*shape), groups=groups)
        theirs = torch.nn.init.dirac_(torch.empty(*shape), groups=groups)
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    for call in [lambda m: m.nn.init.dirac_(m.empty(3, 3)),
                 lambda m: m.nn.init.dirac_(m.empty(3, 2, 3), groups=2),
                 lambda m: m.nn.init.sparse_(m.empty(3, 2, 3), 0.5)]:
        assert_raises_like_torch(lambda: call(torch), lambda: call(ember), ValueError)


def test_sparse_zeroes_the_same_count_per_column():
    weight = ember.nn.init.sparse_(ember.empty(10, 6), 0.35, std=0.5)
    zeros_per_column = (weight.numpy() == 0).sum(axis=0)
    assert zeros_per_column.tolist() == [4] * 6
    nonzero = weight.numpy()[weight.numpy() != 0]
    assert 0.2 < nonzero.std() < 1.0


def test_deprecated_names_warn_as_torch(torch):
    for name in ["uniform", "normal", "constant", "xavier_uniform", "xavier_normal",
                 "kaiming_uniform", "kaiming_normal", "orthogonal", "dirac", "eye", "sparse"]:
        args = {"constant": (0.5,), "sparse": (0.1,)}.get(name, ())
        shape = (4, 2, 3) if name == "dirac" else (3, 4)
        caught = []
        for module in (ember, torch):
            with pytest.warns(FutureWarning) as record:
                getattr(module.nn.init, name)(module.empty(*shape), *args)
            caught.append(str(record[0].message))
        assert caught[0] == caught[1]


@pytest.mark.parametrize("call", [
    lambda fw, t: fw.nn.init.normal_(t), lambda fw, t: fw.nn.init.uniform_(t),
    lambda fw, t: fw.nn.init.trunc_normal_(t), lambda fw, t: fw.nn.init.xavier_uniform_(t),
    lambda fw, t: fw.nn.init.kaiming_normal_(t), lambda fw, t: fw.nn.init.orthogonal_(t),
    lambda fw, t: t.normal_(), lambda fw, t: t.uniform_(), lambda fw, t: t.log_normal_(),
    lambda fw, t: t.exponential_()])
def test_continuous_random_fills_of_integer_tensors_raise_like_torch(torch, call):
    assert_raises_like_torch(lambda: call(torch, torch.zeros(3, 3, dtype=torch.int64)),
                             lambda: call(ember, ember.zeros(3, 3, dtype=ember.int64)),
                             same_type=True)
