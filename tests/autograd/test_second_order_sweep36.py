"""Second and third derivatives against torch's in configurations an op sweep found differing:
each order is a weighted sum of the previous order's gradients differentiated again, and the
values, which results are None, requires_grad and whether each has a grad_fn must all match."""
import math

import numpy as np
import pytest

import ember
from tests.conftest import assert_same_outcome_as_torch


def _weights(shape, order):
    """A fixed, deterministic weighting of one order's gradients."""
    size = int(np.prod(shape))
    return np.cos(np.arange(size) * 0.7 + order).reshape(shape)


def _summary(gradient):
    if gradient is None:
        return None
    values = gradient.detach()
    try:
        values = values.numpy()
    except RuntimeError:  # torch's ZeroTensor
        values = values.numpy(force=True)
    return values.copy(), gradient.requires_grad, gradient.grad_fn is None


def _derivatives(framework, function, arrays, orders):
    """Each order's gradients (as _summary) with respect to every input."""
    inputs = [framework.tensor(array, requires_grad=True) for array in arrays]
    output = function(framework, *inputs)
    target = (output * framework.tensor(_weights(tuple(output.shape), 0))).sum()
    results = []
    for order in range(1, orders + 1):
        gradients = framework.autograd.grad(target, inputs, create_graph=order < orders,
                                            allow_unused=True)
        results.append([_summary(gradient) for gradient in gradients])
        recorded = [gradient for gradient in gradients
                    if gradient is not None and gradient.requires_grad]
        if not recorded:
            break
        target = sum((gradient * framework.tensor(_weights(tuple(gradient.shape), order))).sum()
                     for gradient in recorded)
    return results


def _assert_derivatives_match(torch, function, arrays, orders):
    ours = _derivatives(ember, function, arrays, orders)
    theirs = _derivatives(torch, function, arrays, orders)
    assert len(ours) == len(theirs)
    for order, (our_gradients, their_gradients) in enumerate(zip(ours, theirs), start=1):
        for index, (mine, expected) in enumerate(zip(our_gradients, their_gradients)):
            message = f"order {order}, input {index}"
            assert (mine is None) == (expected is None), message
            if mine is None:
                continue
            np.testing.assert_allclose(mine[0], expected[0], rtol=1e-7, atol=1e-12,
                                       err_msg=message)
            assert mine[1:] == expected[1:], f"{message}: (requires_grad, grad_fn is None)"


_STEPS = np.array([[0.0, 1.0, -1.0, 0.3, -0.2], [2.5, -0.7, 0.1, -1.9, 0.8]])

# relu's backward (threshold_backward) and the in-place leaky_relu_'s take the result, so a
# gradient made under create_graph depends on the output and its next gradient is recorded again.
ACTIVATION_CASES = {
    "relu": lambda fw, x: fw.nn.functional.relu(x),
    "relu_inplace": lambda fw, x: fw.nn.functional.relu(x * 1.5, inplace=True),
    "relu_module_inplace": lambda fw, x: fw.nn.ReLU(inplace=True)(x * 1.5),
    "leaky_relu_inplace": lambda fw, x: fw.nn.functional.leaky_relu(x * 1.5, 0.2, inplace=True),
    "rrelu_inplace_eval": lambda fw, x: fw.nn.functional.rrelu(x * 1.5, inplace=True),
    "leaky_relu": lambda fw, x: fw.nn.functional.leaky_relu(x, 0.2),
    "hardtanh_inplace": lambda fw, x: fw.nn.functional.hardtanh(x * 1.5, inplace=True),
    "relu_of_a_product": lambda fw, x: fw.nn.functional.relu(x * x - 0.5) * x,
    "rrelu_inplace_train": lambda fw, x: (fw.manual_seed(0), fw.nn.functional.rrelu(
        x * 1.5, training=True, inplace=True))[1],
    "rrelu_train": lambda fw, x: (fw.manual_seed(0), fw.nn.functional.rrelu(
        x * 1.5, training=True))[1],
}


@pytest.mark.parametrize("name", sorted(ACTIVATION_CASES))
def test_activation_third_derivatives_like_torch(torch, name):
    _assert_derivatives_match(torch, ACTIVATION_CASES[name], [_STEPS], orders=3)


def test_relu_gradient_under_create_graph_stays_differentiable(torch):
    for framework in (ember, torch):
        x = framework.tensor(_STEPS, requires_grad=True)
        (first,) = framework.autograd.grad(framework.relu(x).sum(), x, create_graph=True)
        (second,) = framework.autograd.grad(first.sum(), x, create_graph=True)
        assert second.requires_grad
        (third,) = framework.autograd.grad(second.sum(), x)
        assert not third.detach().numpy(force=True).any()


_ENTROPY_INPUTS = np.array([0.0, 0.5, 1.0, 2.0, -1.0, math.inf])


def test_entr_derivatives_at_zero_and_below_like_torch(torch):
    # PyTorch's gradient is -(1 + log x) everywhere: inf at 0, NaN below 0
    _assert_derivatives_match(torch, lambda fw, x: fw.special.entr(x), [_ENTROPY_INPUTS],
                              orders=3)


def test_entr_gradient_and_dtype_like_torch(torch):
    for dtype in ("float32", "float64"):
        data = _ENTROPY_INPUTS.astype(dtype)
        ours = ember.tensor(data, requires_grad=True)
        theirs = torch.tensor(data, requires_grad=True)
        ember.special.entr(ours).sum().backward()
        torch.special.entr(theirs).sum().backward()
        assert ours.grad.dtype == getattr(ember, dtype)
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6)
        assert ember.special.entr(ours).grad_fn.name() == "SpecialEntrBackward0"


# beta == 0 ignores the input's values, yet PyTorch's gradient for it is grad * beta: zeros
BETA_ZERO_CASES = {
    "addmm": (lambda fw, i, a, b: fw.addmm(i, a, b, beta=0), [(3, 4), (3, 2), (2, 4)]),
    "addmm_broadcast": (lambda fw, i, a, b: fw.addmm(i, a, b, beta=0), [(4,), (3, 2), (2, 4)]),
    "baddbmm": (lambda fw, i, a, b: fw.baddbmm(i, a, b, beta=0, alpha=2),
                [(2, 3, 4), (2, 3, 2), (2, 2, 4)]),
    "addbmm": (lambda fw, i, a, b: fw.addbmm(i, a, b, beta=0), [(3, 4), (2, 3, 2), (2, 2, 4)]),
    "addmv": (lambda fw, i, a, b: fw.addmv(i, a, b, beta=0), [(3,), (3, 2), (2,)]),
    "addr": (lambda fw, i, a, b: fw.addr(i, a, b, beta=0), [(3, 2), (3,), (2,)]),
}


@pytest.mark.parametrize("name", sorted(BETA_ZERO_CASES))
def test_beta_zero_input_gradient_is_zeros_like_torch(torch, name):
    function, shapes = BETA_ZERO_CASES[name]
    random = np.random.default_rng(0)
    arrays = [random.standard_normal(shape) for shape in shapes]
    arrays[0][..., 0] = math.nan  # ignored by the value, not by the gradient's shape
    _assert_derivatives_match(torch, function, arrays, orders=2)


@pytest.mark.parametrize("shape", [(2, 3), (3,), (2, 3, 4), (2, 3, 4, 2), (2, 3, 2, 2, 2)])
@pytest.mark.parametrize("loss", ["nll_loss", "cross_entropy"])
def test_class_weight_requiring_grad_refused_with_torchs_kernel_name(torch, shape, loss):
    # PyTorch's nll_loss_nd runs 3-D and larger inputs through nll_loss2d
    target_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    data = np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape)

    def call(fw):
        weight = fw.tensor(np.array([0.5, 1.0, 2.0]), requires_grad=True)
        target = fw.tensor(np.zeros(target_shape, np.int64))
        return getattr(fw.nn.functional, loss)(fw.tensor(data), target, weight=weight)

    assert_same_outcome_as_torch(torch, call)


def _complex(fw, real, imag):
    return fw.complex(real, imag)


# A real operand that division or pow promotes to complex must stay in the graph of the
# gradients made under create_graph (z / |z| is the complex abs's own gradient).
COMPLEX_CASES = {
    "abs": (lambda fw, a, b: fw.abs(_complex(fw, a, b)), 2),
    "abs_squared": (lambda fw, a, b: fw.abs(_complex(fw, a, b)) ** 2, 2),
    "sgn": (lambda fw, a, b: fw.view_as_real(fw.sgn(_complex(fw, a, b))), 2),
    "angle": (lambda fw, a, b: fw.angle(_complex(fw, a, b)), 2),
    "vector_norm": (lambda fw, a, b: fw.linalg.vector_norm(_complex(fw, a, b), dim=1), 2),
    "fft_magnitude": (lambda fw, a, b: fw.abs(fw.fft.fft(_complex(fw, a, b))), 2),
    "divided_by_real": (lambda fw, a, b, c: fw.view_as_real(_complex(fw, a, b) / c), 3),
    "real_divided_by_complex": (lambda fw, a, b, c: fw.view_as_real(c / _complex(fw, a, b)), 3),
    "divided_by_its_abs": (lambda fw, a, b: fw.view_as_real(
        _complex(fw, a, b) / fw.abs(_complex(fw, a, b))), 2),
    "power_real_exponent": (lambda fw, a, b, c: fw.view_as_real(_complex(fw, a, b) ** c), 3),
    "power_of_real_base": (lambda fw, a, b, c: fw.view_as_real(
        (c - 1.0) ** _complex(fw, a, b)), 3),
}


@pytest.mark.parametrize("name", sorted(COMPLEX_CASES))
def test_complex_third_derivatives_like_torch(torch, name):
    function, count = COMPLEX_CASES[name]
    random = np.random.default_rng(1)
    arrays = [random.standard_normal((2, 3)) for _ in range(count)]
    _assert_derivatives_match(torch, function, arrays, orders=3)


@pytest.mark.parametrize("which", ["ldl_factor", "ldl_solve"])
def test_ldl_backward_refusal_names_the_aten_op_like_torch(torch, which):
    data = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])

    def call(fw):
        matrix = fw.tensor(data, requires_grad=which == "ldl_factor")
        factor, pivots = fw.linalg.ldl_factor(matrix)
        if which == "ldl_solve":
            right = fw.tensor(np.ones((3, 1)), requires_grad=True)
            factor = fw.linalg.ldl_solve(factor, pivots, right)
        return fw.autograd.grad(factor.sum(), matrix if which == "ldl_factor" else right)

    assert_same_outcome_as_torch(torch, call)


# A convolution is linear in its weight: the weight's second derivative does not vary with any
# input, so PyTorch (whose double backward is a composition of plain convolutions) leaves it
# unrecorded, and a third derivative has nothing left to differentiate.
CONVOLUTION_CASES = {
    "conv1d": (lambda fw, x, w, b: fw.nn.functional.conv1d(x, w, b, stride=2, padding=1),
               [(2, 4, 5), (6, 4, 2), (6,)]),
    "conv2d_groups_dilation": (lambda fw, x, w, b: fw.nn.functional.conv2d(
        x, w, b, padding=1, dilation=2, groups=2), [(2, 4, 5, 4), (6, 2, 2, 2), (6,)]),
    "conv3d_same": (lambda fw, x, w: fw.nn.functional.conv3d(x, w, padding="same"),
                    [(1, 2, 3, 4, 3), (3, 2, 3, 3, 3)]),
    "conv_transpose2d": (lambda fw, x, w, b: fw.nn.functional.conv_transpose2d(
        x, w, b, stride=2, output_padding=1, groups=2), [(2, 4, 3, 3), (4, 3, 2, 2), (6,)]),
    "conv_of_its_square": (lambda fw, x, w: fw.nn.functional.conv1d(x, w) ** 2,
                           [(2, 3, 5), (4, 3, 2)]),
}


@pytest.mark.parametrize("orders", [3, 4])
@pytest.mark.parametrize("name", sorted(CONVOLUTION_CASES))
def test_convolution_higher_derivatives_like_torch(torch, name, orders):
    function, shapes = CONVOLUTION_CASES[name]
    random = np.random.default_rng(2)
    arrays = [random.standard_normal(shape) for shape in shapes]
    _assert_derivatives_match(torch, function, arrays, orders=orders)


def _relu_rnn(fw, input, packed):
    """A fixed-weight Elman RNN with relu, over a padded batch or a packed one: its outputs and
    last hidden state."""
    rnn = fw.nn.RNN(3, 4, nonlinearity="relu", bidirectional=packed).double()
    with fw.no_grad():
        for index, parameter in enumerate(rnn.parameters()):
            values = np.cos(np.arange(parameter.numel()) * 0.37 + index) * 0.5
            parameter.copy_(fw.tensor(values.reshape(tuple(parameter.shape))))
    if packed:
        input = fw.nn.utils.rnn.pack_padded_sequence(input, fw.tensor(np.array([5, 3])))
    output, last = rnn(input)
    if packed:
        output = fw.nn.utils.rnn.pad_packed_sequence(output)[0]
    return fw.cat([output.reshape(-1), last.reshape(-1)])


@pytest.mark.parametrize("packed", [False, True])
def test_relu_rnn_third_derivatives_like_torch(torch, packed):
    random = np.random.default_rng(4)
    arrays = [random.standard_normal((5, 2, 3))]
    _assert_derivatives_match(torch, lambda fw, x: _relu_rnn(fw, x, packed), arrays, orders=3)


@pytest.mark.parametrize("shapes", [[(3, 2), (4, 2)], [(2, 3, 2), (2, 4, 2)]])
def test_cdist_p0_gradients_are_zeros_and_refuse_a_second_order_like_torch(torch, shapes):
    # PyTorch's _cdist_backward gives zeros for p = 0, and has no derivative of its own
    random = np.random.default_rng(5)
    arrays = [random.standard_normal(shape) for shape in shapes]
    arrays[1][..., 0, :] = arrays[0][..., 0, :]  # a distance of 0 too

    def call(fw):
        first, second = [fw.tensor(array, requires_grad=True) for array in arrays]
        gradients = fw.autograd.grad(fw.cdist(first, second, 0.0).sum(), (first, second),
                                     create_graph=True)
        assert all(gradient.requires_grad for gradient in gradients)
        assert not any(gradient.detach().numpy().any() for gradient in gradients)
        return fw.autograd.grad(sum(gradient.sum() for gradient in gradients), first)

    assert_same_outcome_as_torch(torch, call)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("form", ["leaky_relu", "rrelu_eval", "leaky_relu_zero_slope"])
def test_in_place_leaky_relu_backward_with_a_negative_slope_raises_like_torch(
        torch, form, create_graph):
    data = np.array([-1.0, 0.5, 2.0, -0.25])

    def call(fw):
        x = fw.tensor(data, requires_grad=True)
        if form == "leaky_relu":
            y = fw.nn.functional.leaky_relu(x * 1.0, -0.1, inplace=True)
        elif form == "rrelu_eval":
            y = fw.nn.functional.rrelu(x * 1.0, -0.3, -0.1, training=False, inplace=True)
        else:
            y = fw.nn.functional.leaky_relu(x * 1.0, 0.0, inplace=True)
        (gradient,) = fw.autograd.grad((y * y).sum(), x, create_graph=create_graph)
        assert gradient.requires_grad == create_graph
        return gradient.detach()

    assert_same_outcome_as_torch(torch, call)


@pytest.mark.parametrize("reduction", ["none", "sum", "batchmean"])
def test_kl_div_target_at_zero_and_below_like_torch(torch, reduction):
    # PyTorch computes xlogy(t, t) - t * input: NaN below 0, and xlogy's target gradient (t / t)
    # is NaN at t = 0
    arrays = [np.array([[0.3, -0.2, 0.1, 0.7]]), np.array([[0.0, 0.5, -0.5, 2.0]])]
    _assert_derivatives_match(
        torch, lambda fw, x, t: fw.nn.functional.kl_div(x, t, reduction=reduction), arrays,
        orders=3)


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("dtype", ["bfloat16", "float32", "float16", "int64", "bool"])
def test_rrelu_training_dtypes_like_torch(torch, dtype, inplace):
    # the slope multiplies in the compute type (float32 for bfloat16), the saved noise is
    # rounded; float16 and non-floating inputs have no training kernel
    data = np.array([-1.5, 0.5, -0.25, 2.0, -3.0, -0.7, -2.2])

    def call(fw):
        fw.manual_seed(0)
        floating = dtype in ("bfloat16", "float32")
        x = fw.tensor(data).to(getattr(fw, dtype)).requires_grad_(floating)
        y = fw.nn.functional.rrelu(x * 1 if floating else x, training=True, inplace=inplace)
        (gradient,) = fw.autograd.grad(y.sum(), x)
        return y.detach().float(), gradient.float()

    ours, theirs = (_rrelu_outcome(call, framework) for framework in (ember, torch))
    assert ours == theirs


def _rrelu_outcome(call, framework):
    try:
        output, gradient = call(framework)
    except Exception as error:
        return type(error).__name__, str(error)
    return output.tolist(), gradient.tolist()
