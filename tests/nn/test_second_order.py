"""Second derivatives of nn.functional: a float64 gradgradcheck of every differentiable function
(the op-table harness, one Case per function or variant), and second derivatives equal to
torch's for representative layers, float32 and float64."""
import numpy as np
import pytest

import ember
from ember.nn._kernels import activation, attention, dropout, loss, normalization, sparse
from tests.ops.op_table import Case, CaseChecks, OpTable, skip_while_another_family_waits

OPS_MODULES = (activation, attention, dropout, loss, normalization, sparse)

ACTIVATION_SHAPES = [((),), ((5,),), ((2, 3, 4),), ((0, 3),)]


def _activation(name, call, domain="nonzero", shapes=ACTIVATION_SHAPES, **options):
    return Case(name, lambda fw, x: call(fw.nn.functional, x), shapes, domain, **options)


CASES = [
    _activation("hardtanh", lambda F, x: F.hardtanh(x, -0.7, 0.8)),
    _activation("relu6", lambda F, x: F.relu6(x * 4)),
    _activation("leaky_relu", lambda F, x: F.leaky_relu(x, 0.2)),
    _activation("leaky_relu_negative", lambda F, x: F.leaky_relu(x, -0.3)),
    _activation("elu", lambda F, x: F.elu(x, 0.7)),
    _activation("elu_negative_alpha", lambda F, x: F.elu(x, -0.5)),
    _activation("selu", lambda F, x: F.selu(x)),
    _activation("celu", lambda F, x: F.celu(x, 1.3)),
    _activation("gelu", lambda F, x: F.gelu(x), "real"),
    _activation("gelu_tanh", lambda F, x: F.gelu(x, approximate="tanh"), "real"),
    _activation("silu", lambda F, x: F.silu(x), "real"),
    _activation("mish", lambda F, x: F.mish(x), "real"),
    _activation("softplus", lambda F, x: F.softplus(x), "real"),
    _activation("softplus_beta_threshold", lambda F, x: F.softplus(x, 2.0, 1.5)),
    _activation("logsigmoid", lambda F, x: F.logsigmoid(x), "real"),
    # PyTorch has no derivative of hardsigmoid's backward (see DOUBLE_BACKWARD_RAISES)
    _activation("hardsigmoid", lambda F, x: F.hardsigmoid(x * 2), check_gradgrad=False),
    _activation("hardswish", lambda F, x: F.hardswish(x * 2)),
    _activation("threshold", lambda F, x: F.threshold(x, 0.1, -2.0)),
    _activation("prelu", lambda F, x: F.prelu(x, x.new_tensor([0.25]))),
    _activation("softsign", lambda F, x: F.softsign(x)),
    _activation("tanhshrink", lambda F, x: F.tanhshrink(x), "real"),
    _activation("hardshrink", lambda F, x: F.hardshrink(x * 2)),
    _activation("softshrink", lambda F, x: F.softshrink(x * 2)),
    Case("glu", lambda fw, x: fw.nn.functional.glu(x, -1), [((4, 6),), ((2, 3, 4),)]),
    Case("rrelu_eval", lambda fw, x: fw.nn.functional.rrelu(x), [((2, 3, 4),)], "nonzero"),
]

NORMALIZATION_CASES = [
    Case("layer_norm", lambda fw, x, w, b: fw.nn.functional.layer_norm(x, tuple(w.shape), w, b),
         [((3, 4), (4,), (4,)), ((2, 3, 4), (3, 4), (3, 4))]),
    Case("layer_norm_plain", lambda fw, x: fw.nn.functional.layer_norm(x, (4,)),
         [((3, 4),), ((0, 4),)]),
    Case("batch_norm_train", lambda fw, x, w, b: fw.nn.functional.batch_norm(
        x, None, None, w, b, training=True), [((4, 3), (3,), (3,)), ((2, 3, 4), (3,), (3,))]),
    Case("batch_norm_eval", lambda fw, x, w, b: fw.nn.functional.batch_norm(
        x, x.new_tensor([0.1, -0.2, 0.3]), x.new_tensor([1.5, 0.5, 2.0]), w, b, training=False),
         [((4, 3), (3,), (3,)), ((2, 3, 4), (3,), (3,))]),
    Case("group_norm", lambda fw, x, w, b: fw.nn.functional.group_norm(x, 2, w, b),
         [((2, 4, 3), (4,), (4,))]),
    Case("instance_norm", lambda fw, x: fw.nn.functional.instance_norm(x), [((2, 3, 4),)]),
    Case("local_response_norm", lambda fw, x: fw.nn.functional.local_response_norm(x, 2),
         [((2, 4, 3),)]),
    Case("normalize", lambda fw, x: fw.nn.functional.normalize(x, dim=1), [((3, 4),)]),
]


def _loss(name, call, shapes, domain="real"):
    return Case(name, lambda fw, *inputs: call(fw, fw.nn.functional, *inputs), shapes, domain)


def _classes(fw, *rows):
    return fw.tensor(list(rows))


def _class_weights(x):
    """Class weights as a constant (PyTorch gives them no gradient)."""
    return x.new_tensor([0.5, 2.0, 1.0, 1.5])


def _probabilities(x):
    """Values in (0.14, 0.86) from the 'unit' domain."""
    return x * 0.4 + 0.5


LOSS_CASES = [
    _loss("cross_entropy", lambda fw, F, x: F.cross_entropy(x, _classes(fw, 0, 2, 1)),
          [((3, 4),)]),
    _loss("cross_entropy_options", lambda fw, F, x: F.cross_entropy(
        x, _classes(fw, 0, 2, -100, 3), _class_weights(x), label_smoothing=0.2), [((4, 4),)]),
    _loss("cross_entropy_none_spatial", lambda fw, F, x: F.cross_entropy(
        x, fw.tensor([[0, 2], [1, 1]]), reduction="none", label_smoothing=0.1),
        [((2, 3, 2),)]),
    _loss("cross_entropy_sum_unbatched", lambda fw, F, x: F.cross_entropy(
        x, fw.tensor(2), reduction="sum"), [((4,),)]),
    _loss("cross_entropy_probabilities", lambda fw, F, x, t: F.cross_entropy(
        x, t.abs(), label_smoothing=0.3), [((3, 4), (3, 4))]),
    _loss("nll_loss", lambda fw, F, x: F.nll_loss(x, _classes(fw, 1, 0, 3), _class_weights(x)),
          [((3, 4),)]),
    # PyTorch refuses a weight (and pos_weight) that requires grad: constants here
    _loss("binary_cross_entropy", lambda fw, F, x, t: F.binary_cross_entropy(
        _probabilities(x), _probabilities(t), _class_weights(x)), [((3, 4), (3, 4))], "unit"),
    _loss("binary_cross_entropy_with_logits", lambda fw, F, x, t:
          F.binary_cross_entropy_with_logits(x, t, _class_weights(x)[:1].expand(3, 1),
                                             pos_weight=_class_weights(x)),
          [((3, 4), (3, 4))], ("real", "unit")),
    _loss("mse_loss", lambda fw, F, x, t: F.mse_loss(x, t), [((3, 4), (3, 4))]),
    _loss("l1_loss", lambda fw, F, x, t: F.l1_loss(x, t), [((3, 4), (3, 4))], "nonzero"),
    _loss("smooth_l1_loss", lambda fw, F, x, t: F.smooth_l1_loss(x, t, beta=0.5),
          [((3, 4), (3, 4))]),
    _loss("huber_loss", lambda fw, F, x, t: F.huber_loss(x, t, delta=0.7), [((3, 4), (3, 4))]),
    _loss("kl_div", lambda fw, F, x, t: F.kl_div(x, t, reduction="batchmean"),
          [((3, 4), (3, 4))], ("real", "positive")),
    _loss("kl_div_log_target", lambda fw, F, x, t: F.kl_div(
        x, t, reduction="sum", log_target=True), [((3, 4), (3, 4))]),
    _loss("soft_margin_loss", lambda fw, F, x: F.soft_margin_loss(
        x, fw.tensor([1.0, -1.0, 1.0], dtype=x.dtype)), [((3,),)]),
    _loss("poisson_nll_loss", lambda fw, F, x, t: F.poisson_nll_loss(x, t),
          [((3, 4), (3, 4))], ("real", "positive")),
    _loss("gaussian_nll_loss", lambda fw, F, x, t, v: F.gaussian_nll_loss(x, t, v),
          [((3, 4), (3, 4), (3, 4))], ("real", "real", "positive")),
    _loss("multilabel_soft_margin_loss", lambda fw, F, x, t: F.multilabel_soft_margin_loss(
        x, t), [((3, 4), (3, 4))], ("real", "unit")),
    _loss("cosine_embedding_loss", lambda fw, F, a, b: F.cosine_embedding_loss(
        a, b, fw.tensor([1.0, -1.0, 1.0], dtype=a.dtype)), [((3, 4), (3, 4))]),
    _loss("triplet_margin_loss", lambda fw, F, a, p, n: F.triplet_margin_loss(a, p, n),
          [((3, 4), (3, 4), (3, 4))]),
]



def _seeded(fw, seed=3):
    fw.manual_seed(seed)
    return fw.nn.functional


def _bool_mask(fw, target_length, source_length):
    """A bool mask (True takes part) with one query row that sees no key."""
    keep = np.random.default_rng(5).random((target_length, source_length)) > 0.3
    keep[0] = False
    keep[1, 0] = True
    return fw.tensor(keep)


ATTENTION_SHAPES = [((2, 3, 4), (2, 5, 4), (2, 5, 3)), ((1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 2))]

SPARSE_DROPOUT_ATTENTION_CASES = [
    Case("dropout", lambda fw, x: _seeded(fw).dropout(x, 0.4), [((3, 4),), ((0, 2),)]),
    Case("dropout2d", lambda fw, x: _seeded(fw).dropout2d(x, 0.5), [((2, 3, 2, 2),)]),
    Case("alpha_dropout", lambda fw, x: _seeded(fw).alpha_dropout(x, 0.3, training=True),
         [((3, 4),)]),
    Case("embedding", lambda fw, w: fw.nn.functional.embedding(
        fw.tensor([[0, 2], [2, 1]]), w, padding_idx=1), [((3, 4),)]),
    # PyTorch's derivative of the scaled gradient picks rows unscaled (test_sparse.py checks it)
    Case("embedding_scaled", lambda fw, w: fw.nn.functional.embedding(
        fw.tensor([0, 2, 2, 2]), w, scale_grad_by_freq=True), [((3, 4),)], check_gradgrad=False),
    # PyTorch has no derivative of embedding_bag's backward (see DOUBLE_BACKWARD_RAISES)
    Case("embedding_bag", lambda fw, w: fw.nn.functional.embedding_bag(
        fw.tensor([0, 2, 1, 2]), w, fw.tensor([0, 1])), [((3, 4),)], check_gradgrad=False),
    Case("sdpa", lambda fw, q, k, v: fw.nn.functional.scaled_dot_product_attention(q, k, v),
         ATTENTION_SHAPES),
    Case("sdpa_causal", lambda fw, q, k, v: fw.nn.functional.scaled_dot_product_attention(
        q, k, v, is_causal=True, scale=0.7), ATTENTION_SHAPES),
    Case("sdpa_float_mask", lambda fw, q, k, v, m: fw.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=m), [((2, 3, 4), (2, 5, 4), (2, 5, 3), (3, 5))]),
    Case("sdpa_bool_mask", lambda fw, q, k, v: fw.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=_bool_mask(fw, 3, 5)), ATTENTION_SHAPES[:1]),
    Case("sdpa_dropout", lambda fw, q, k, v: _seeded(fw).scaled_dot_product_attention(
        q, k, v, dropout_p=0.3), ATTENTION_SHAPES[:1]),
]

CASES += NORMALIZATION_CASES + LOSS_CASES + SPARSE_DROPOUT_ATTENTION_CASES


class TestGradgradcheck(OpTable):
    """float64 gradgradcheck of every case (skipped while a primitive of another family that a
    composite uses has no differentiable backward yet)."""

    test_gradgradcheck_float64 = CaseChecks.test_gradgradcheck_float64


# ---- second derivatives against torch ---------------------------------------------------------
def _second_order_cases():
    def gelu(fw, x):
        return fw.nn.functional.gelu(x[0])

    def layer_norm(fw, x):
        return fw.nn.functional.layer_norm(x[0], (5,), x[1], x[2])

    def batch_norm(fw, x):
        return fw.nn.functional.batch_norm(x[0], None, None, x[1], x[2], training=True)

    def cross_entropy(fw, x):
        return fw.nn.functional.cross_entropy(x[0], fw.tensor([1, 0, 4, 2]),
                                              label_smoothing=0.1)

    def mse(fw, x):
        return fw.nn.functional.mse_loss(x[0], x[1])

    def bce_with_logits(fw, x):
        target = fw.tensor(np.linspace(0.1, 0.9, 20).reshape(4, 5).astype(_dtype_of(x[0])))
        weight = fw.tensor(np.linspace(0.5, 1.5, 5).astype(_dtype_of(x[0])))
        return fw.nn.functional.binary_cross_entropy_with_logits(x[0], target, weight,
                                                                 pos_weight=weight * 2,
                                                                 reduction="sum")

    def softplus(fw, x):
        return fw.nn.functional.softplus(x[0], beta=1.5)

    def attention(fw, x):
        return fw.nn.functional.scaled_dot_product_attention(x[0], x[1], x[2], is_causal=True)

    matrix, vector = (4, 5), (5,)
    return {
        "gelu": (gelu, [matrix]),
        "layer_norm": (layer_norm, [matrix, vector, vector]),
        "batch_norm_train": (batch_norm, [matrix, vector, vector]),
        "cross_entropy": (cross_entropy, [matrix]),
        "mse_loss": (mse, [matrix, matrix]),
        "binary_cross_entropy_with_logits": (bce_with_logits, [matrix]),
        "softplus": (softplus, [matrix]),
        "scaled_dot_product_attention": (attention, [(2, 2, 5, 4), (2, 2, 6, 4), (2, 2, 6, 3)]),
    }


def _dtype_of(tensor):
    return np.float64 if "64" in str(tensor.dtype) else np.float32


SECOND_ORDER = _second_order_cases()


def _second_derivatives(fw, function, arrays, seed):
    """d/d inputs of <grad f(x) . v> with v random: a Hessian-vector product per input."""
    leaves = [fw.tensor(array, requires_grad=True) for array in arrays]
    output = function(fw, leaves)
    random = np.random.default_rng(seed)
    weight = fw.tensor(random.standard_normal(tuple(output.shape)).astype(arrays[0].dtype))
    grads = fw.autograd.grad((output * weight).sum(), leaves, create_graph=True)
    directions = [fw.tensor(random.standard_normal(array.shape).astype(array.dtype))
                  for array in arrays]
    total = sum((grad * direction).sum() for grad, direction in zip(grads, directions))
    second = fw.autograd.grad(total, leaves, allow_unused=True)
    return ([grad.detach().numpy() for grad in grads],
            [None if grad is None else grad.numpy() for grad in second])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_derivatives_match_torch(torch, request, name, dtype):
    function, shapes = SECOND_ORDER[name]
    random = np.random.default_rng(len(name))
    arrays = [random.standard_normal(shape).astype(dtype) for shape in shapes]
    try:
        ours = _second_derivatives(ember, function, arrays, 1)
    except RuntimeError as error:
        skip_while_another_family_waits(error, request.module)
        raise
    theirs = _second_derivatives(torch, function, arrays, 1)
    tolerance = 2e-4 if dtype == np.float32 else 1e-9
    for mine, their in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        if their is None:
            assert mine is None or not np.any(mine)
            continue
        np.testing.assert_allclose(mine, their, rtol=tolerance, atol=tolerance)


PIECEWISE_LINEAR = {
    "relu": lambda fw, x: fw.relu(x),
    "relu_": lambda fw, x: (x * 1).relu_(),
    "relu6": lambda fw, x: fw.nn.functional.relu6(x * 4),
    "hardtanh": lambda fw, x: fw.nn.functional.hardtanh(x),
    "leaky_relu": lambda fw, x: fw.nn.functional.leaky_relu(x, 0.1),
    "threshold": lambda fw, x: fw.nn.functional.threshold(x, 0.1, 2.0),
    "max_pool2d": lambda fw, x: fw.nn.functional.max_pool2d(x, 2),
    "avg_pool2d": lambda fw, x: fw.nn.functional.avg_pool2d(x, 2),
    "hardshrink": lambda fw, x: fw.nn.functional.hardshrink(x, 0.3),
    "softshrink": lambda fw, x: fw.nn.functional.softshrink(x, 0.3),
    "prelu": lambda fw, x: fw.nn.functional.prelu(x, fw.tensor([0.25, 0.1], dtype=x.dtype)),
    "rrelu_training": lambda fw, x: fw.nn.functional.rrelu(x, 0.1, 0.1, training=True),
    "adaptive_avg_pool2d": lambda fw, x: fw.nn.functional.adaptive_avg_pool2d(x, 3),
    "adaptive_avg_pool1d": lambda fw, x: fw.nn.functional.adaptive_avg_pool1d(x[0], 2),
    "adaptive_max_pool2d": lambda fw, x: fw.nn.functional.adaptive_max_pool2d(x, 3),
    "interpolate_area": lambda fw, x: fw.nn.functional.interpolate(x, size=3, mode="area"),
    "pad_reflect": lambda fw, x: fw.nn.functional.pad(x, (1, 2, 1, 0), mode="reflect"),
    "pad_replicate": lambda fw, x: fw.nn.functional.pad(x, (1, 2, 1, 0), mode="replicate"),
    "nll_loss": lambda fw, x: fw.nn.functional.nll_loss(
        x.reshape(4, 8), fw.tensor([0, 3, -100, 2]), weight=fw.arange(8, dtype=x.dtype)),
    "nll_loss_2d": lambda fw, x: fw.nn.functional.nll_loss(
        x, fw.tensor([[[0, 1, 1, 0]] * 4]), reduction="none"),
}


LINKED_FIRST_GRADIENT = {
    "multi_margin_loss": lambda fw, x: fw.nn.functional.multi_margin_loss(
        x.reshape(4, 8), fw.tensor([0, 3, 7, 2])),
    "multilabel_margin_loss": lambda fw, x: fw.nn.functional.multilabel_margin_loss(
        x.reshape(4, 8), fw.tensor([[1, 2, -1] + [0] * 5] * 4)),
    "grid_sample": lambda fw, x: fw.nn.functional.grid_sample(
        x, fw.full((1, 2, 2, 2), 0.3, dtype=x.dtype), align_corners=False).sum(),
    "norm_1": lambda fw, x: x.norm(1),
    "dist_1": lambda fw, x: fw.dist(x, x.detach() * 0.5, 1),
}


@pytest.mark.parametrize("name", list(LINKED_FIRST_GRADIENT))
def test_first_gradient_requires_grad_like_torch(torch, name):
    """Under create_graph PyTorch's gradients of these ops require grad (differentiating them
    again raises or gives an undefined zero there, so only the first gradient is compared)."""
    data = np.linspace(-1.0, 1.0, 32).reshape(1, 2, 4, 4)
    results = []
    for fw in (torch, ember):
        x = fw.tensor(data, requires_grad=True)
        (first,) = fw.autograd.grad(LINKED_FIRST_GRADIENT[name](fw, x), x, create_graph=True)
        assert first.requires_grad
        results.append(first.detach().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12)


@pytest.mark.parametrize("name", list(PIECEWISE_LINEAR))
def test_gradient_of_a_piecewise_linear_op_stays_in_the_graph_like_torch(torch, name):
    """PyTorch's backward of these ops keeps their input: the gradient made with create_graph
    requires grad, and its own gradient is zeros (not 'does not require grad')."""
    data = np.linspace(-1.0, 1.0, 32).reshape(1, 2, 4, 4)
    results = []
    for fw in (torch, ember):
        x = fw.tensor(data, requires_grad=True)
        (first,) = fw.autograd.grad(PIECEWISE_LINEAR[name](fw, x).sum(), x, create_graph=True)
        assert first.requires_grad
        (second,) = fw.autograd.grad((first * first).sum(), x)
        results.append((first.detach().numpy(), second.numpy()))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_array_equal(ours, theirs)


FUSED_BACKWARD = {
    "conv1d": lambda fw, x, w, b: fw.nn.functional.conv1d(x, w.reshape(3, 2, 1), b[:3]),
    "conv_transpose1d": lambda fw, x, w, b: fw.nn.functional.conv_transpose1d(
        x, w.reshape(2, 3, 1), b[:3], stride=2),
    "batch_norm_train": lambda fw, x, w, b: fw.nn.functional.batch_norm(
        x, None, None, w[:2], b[:2], training=True),
    "batch_norm_eval": lambda fw, x, w, b: fw.nn.functional.batch_norm(
        x, fw.zeros(2, dtype=x.dtype), fw.ones(2, dtype=x.dtype), w[:2], b[:2], training=False),
    "layer_norm": lambda fw, x, w, b: fw.nn.functional.layer_norm(x, (4,), w[:4], b[:4]),
}


@pytest.mark.parametrize("name", list(FUSED_BACKWARD))
def test_fused_backward_gradients_all_require_grad_like_torch(torch, name):
    """PyTorch's convolution and normalisation backwards are one node: under create_graph even
    the bias gradient (grad_output summed) requires grad, and its own gradient is None."""
    random = np.random.default_rng(1)
    arrays = [random.standard_normal((3, 2, 4)), random.standard_normal(6),
              random.standard_normal(6)]
    results = []
    for fw in (torch, ember):
        leaves = [fw.tensor(array, requires_grad=True) for array in arrays]
        output = FUSED_BACKWARD[name](fw, *leaves)
        weight = fw.tensor(np.cos(np.arange(output.numel())).reshape(tuple(output.shape)))
        grads = fw.autograd.grad((output * weight).sum(), leaves, create_graph=True)
        again = fw.autograd.grad(grads[2].sum(), leaves, allow_unused=True)
        results.append(([grad.requires_grad for grad in grads], again,
                         [grad.detach().numpy() for grad in grads]))
        leaves[2].grad = None
        (output * weight).sum().backward(create_graph=True)
        assert leaves[2].grad.grad_fn is not None
    (theirs_need, theirs_again, theirs), (ours_need, ours_again, ours) = results
    assert ours_need == theirs_need == [True, True, True]
    assert ours_again == theirs_again == (None, None, None)
    for mine, expected in zip(ours, theirs):
        np.testing.assert_allclose(mine, expected, rtol=1e-12, atol=1e-12)


def _ctc(fw, x):
    targets = fw.tensor(np.array([[1, 2, 2], [1, 3, 0]]))
    lengths = fw.tensor(np.array([5, 4])), fw.tensor(np.array([3, 2]))
    return fw.nn.functional.ctc_loss(x.reshape(5, 2, 4).log_softmax(2), targets, *lengths)


DOUBLE_BACKWARD_RAISES = {
    "hardsigmoid": lambda fw, x: fw.nn.functional.hardsigmoid(x * 4),
    "multi_margin_loss": lambda fw, x: fw.nn.functional.multi_margin_loss(
        x.reshape(5, 8), fw.tensor([0, 3, 7, 2, 1]), p=2),
    "multilabel_margin_loss": lambda fw, x: fw.nn.functional.multilabel_margin_loss(
        x.reshape(5, 8), fw.tensor([[1, 2, -1] + [0] * 5] * 5)),
    "ctc_loss": _ctc,
    "sdpa_flash_gqa": lambda fw, x: fw.nn.functional.scaled_dot_product_attention(
        x[:24].reshape(1, 2, 3, 4), x[:12].reshape(1, 1, 3, 4), x[12:24].reshape(1, 1, 3, 4),
        enable_gqa=True),
    "sdpa_flash": lambda fw, x: fw.nn.functional.scaled_dot_product_attention(
        x.reshape(1, 2, 5, 4), x.reshape(1, 2, 5, 4) * 0.5, x.reshape(1, 2, 5, 4) ** 2,
        is_causal=True),
    # squared: embedding_bag's weight gradient depends on grad_output only
    "embedding_bag_mean": lambda fw, x: fw.nn.functional.embedding_bag(
        fw.tensor([0, 2, 9, 2, 4]), x.reshape(10, 4), fw.tensor([0, 2])) ** 2,
    "embedding_bag_max": lambda fw, x: fw.nn.functional.embedding_bag(
        fw.tensor([[0, 2], [9, 4]]), x.reshape(10, 4), mode="max") ** 2,
    "embedding_bag_per_sample_weights": lambda fw, x: fw.nn.functional.embedding_bag(
        fw.tensor([0, 2, 1, 2, 4]), fw.tensor(np.arange(20.0).reshape(5, 4) / 7), fw.tensor([0, 2]),
        mode="sum", per_sample_weights=x[:5]) ** 2,
    "multihead_attention_no_weights": lambda fw, x: fw.nn.functional.multi_head_attention_forward(
        x.reshape(5, 2, 4), x.reshape(5, 2, 4), x.reshape(5, 2, 4), 4, 2,
        fw.eye(12, 4, dtype=x.dtype), None, None, None, False, 0.0,
        fw.eye(4, dtype=x.dtype), None, need_weights=False)[0],
}


@pytest.mark.parametrize("name", list(DOUBLE_BACKWARD_RAISES))
def test_double_backward_raises_like_torch(torch, name):
    """Where PyTorch's backward has no derivative, the first gradient under create_graph is
    PyTorch's and requires grad; differentiating it raises PyTorch's error."""
    data = np.linspace(-1.0, 1.0, 40)
    results = []
    for fw in (torch, ember):
        x = fw.tensor(data, requires_grad=True)
        output = DOUBLE_BACKWARD_RAISES[name](fw, x)
        weight = fw.tensor(np.cos(np.arange(output.numel())).reshape(tuple(output.shape)))
        (first,) = fw.autograd.grad((output * weight).sum(), x, create_graph=True)
        assert first.requires_grad
        with pytest.raises(RuntimeError) as error:
            fw.autograd.grad((first * first).sum(), x)
        results.append((first.detach().numpy(), str(error.value)))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-10, atol=1e-12)
    assert results[1][1] == results[0][1]


AT_KINKS = {
    "elu": lambda F, x: F.elu(x, 0.8),
    "elu_negative_alpha": lambda F, x: F.elu(x, -0.5),
    "selu": lambda F, x: F.selu(x),
    "celu": lambda F, x: F.celu(x, 1.3),
    "silu": lambda F, x: F.silu(x),
    "mish": lambda F, x: F.mish(x),
    "softplus": lambda F, x: F.softplus(x),
    "softplus_at_threshold": lambda F, x: F.softplus(x, beta=2.0, threshold=1.0),
    "logsigmoid": lambda F, x: F.logsigmoid(x),
    "bce_with_logits": lambda F, x: F.binary_cross_entropy_with_logits(
        x, x.detach() * 0 + 0.3, reduction="none"),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(AT_KINKS))
def test_second_derivative_at_zero_and_thresholds_matches_torch(torch, name, dtype):
    """At x = 0 (and beta x = threshold) PyTorch's double backwards mask strictly (x < 0,
    beta x < threshold) and its sigmoid has slope 1/4 at 0: ember's second derivatives there."""
    data = np.array([-2.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0], dtype=dtype)
    results = []
    for fw in (torch, ember):
        x = fw.tensor(data, requires_grad=True)
        (first,) = fw.autograd.grad(AT_KINKS[name](fw.nn.functional, x).sum(), x,
                                    create_graph=True)
        (second,) = fw.autograd.grad(first.sum(), x)
        results.append((first.detach().numpy(), second.numpy()))
    tolerance = 1e-6 if dtype == np.float32 else 1e-12
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("loss", ["huber_loss", "smooth_l1_loss"])
def test_robust_loss_gradient_under_create_graph_matches_torch(torch, loss, reduction):
    """Huber's and smooth L1's recorded first gradient (and a gradient penalty's input
    gradient) beyond delta/beta are torch's to float64 precision: delta stays float64."""
    data = np.array([[-2.0, -0.3, 0.5], [2.0, 0.9, -0.69]])
    results = []
    for fw in (torch, ember):
        x = fw.tensor(data, requires_grad=True)
        function = getattr(fw.nn.functional, loss)
        option = {"delta": 0.7} if loss == "huber_loss" else {"beta": 0.7}
        output = function(x, fw.zeros_like(x), reduction=reduction, **option)
        (first,) = fw.autograd.grad(output.sum(), x, create_graph=True)
        penalty = ((first.norm(2, dim=1) - 1) ** 2).mean()
        (second,) = fw.autograd.grad(penalty, x)
        results.append((first.detach().numpy(), second.numpy()))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("mode", ["mean", "max", "sum"])
def test_embedding_bag_gradient_of_a_linear_loss_has_no_graph_like_torch(torch, mode):
    """The weight gradient of embedding_bag depends on grad_output only: with a loss linear in
    the bags it does not require grad (PyTorch's), so nothing is there to differentiate."""
    results = []
    for fw in (torch, ember):
        weight = fw.tensor(np.linspace(-1.0, 1.0, 24).reshape(6, 4), requires_grad=True)
        bags = fw.nn.functional.embedding_bag(fw.tensor([0, 2, 5, 2, 1]), weight,
                                              fw.tensor([0, 2]), mode=mode)
        coefficients = fw.tensor(np.cos(np.arange(8.0)).reshape(2, 4))
        (gradient,) = fw.autograd.grad((bags * coefficients).sum(), weight, create_graph=True)
        results.append((gradient.requires_grad, gradient.detach().numpy()))
    (their_flag, theirs), (our_flag, ours) = results
    assert our_flag == their_flag is False
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("differentiated", ["both", "weight", "per_sample_weights"])
def test_embedding_bag_weight_and_per_sample_weights_double_backward_raises_like_torch(
        torch, differentiated):
    """With the weight and per_sample_weights both requiring grad, differentiating their
    gradients raises PyTorch's error: per_sample_weights' RuntimeError whenever its gradient is
    differentiated, the weight gradient's NotImplementedError when only that one is."""
    results = []
    for fw in (torch, ember):
        weight = fw.tensor(np.arange(18.0).reshape(6, 3) / 7, requires_grad=True)
        weights = fw.tensor(np.linspace(0.1, 0.6, 6), requires_grad=True)
        bags = fw.nn.functional.embedding_bag(fw.tensor([1, 2, 1, 0, 5, 3]), weight,
                                              fw.tensor([0, 3]), mode="sum",
                                              per_sample_weights=weights)
        weight_grad, weights_grad = fw.autograd.grad((bags ** 2).sum(), (weight, weights),
                                                     create_graph=True)
        total = {"both": (weight_grad ** 2).sum() + (weights_grad ** 2).sum(),
                 "weight": (weight_grad ** 2).sum(),
                 "per_sample_weights": (weights_grad ** 2).sum()}[differentiated]
        with pytest.raises(Exception) as error:
            fw.autograd.grad(total, (weight, weights), allow_unused=True)
        results.append((type(error.value), str(error.value), weight_grad.detach().numpy(),
                        weights_grad.detach().numpy()))
    assert results[1][:2] == results[0][:2]
    for mine, expected in zip(results[1][2:], results[0][2:]):
        np.testing.assert_allclose(mine, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shared", [True, False])
def test_prelu_second_derivatives_at_zero_match_torch(torch, shared):
    """prelu's backward is one node in PyTorch whose own derivatives take x >= 0 as positive:
    at x = 0 the input gradient's derivative in grad_output is 1 and in the weight 0 (while
    the gradient itself is weight * grad_output), zeros (not None) where nothing flows."""
    data = np.array([[0.0, -1.0, 2.0], [0.0, -0.5, 1.5], [-2.0, 0.0, 0.25], [0.5, -3.0, 0.0]])
    results = []
    for fw in (torch, ember):
        x = fw.tensor(data, requires_grad=True)
        weight = fw.tensor([0.25] if shared else [0.25, -0.5, 1.5], dtype=fw.float64,
                           requires_grad=True)
        seed = fw.tensor(np.arange(1.0, 13.0).reshape(4, 3), requires_grad=True)
        output = fw.nn.functional.prelu(x, weight)
        grad_x, grad_weight = fw.autograd.grad(output, (x, weight), seed, create_graph=True)
        coefficients = fw.tensor(np.cos(np.arange(12.0)).reshape(4, 3))
        values = [output.grad_fn.name(), grad_x.grad_fn.name()]
        for target in ((grad_x * coefficients).sum(), (grad_weight ** 2).sum(),
                       (grad_x * grad_x).sum() + 3 * grad_weight.sum()):
            values.append([value.detach().numpy() for value in fw.autograd.grad(
                target, (x, weight, seed), retain_graph=True)])
        results.append(values)
    theirs, ours = results
    assert ours[:2] == theirs[:2]
    for mine, expected in zip(ours[2:], theirs[2:]):
        for mine_value, expected_value in zip(mine, expected):
            np.testing.assert_allclose(mine_value, expected_value, rtol=1e-12, atol=1e-12)


def test_prelu_refuses_mixed_dtypes_like_torch(torch):
    from tests.conftest import assert_raises_like_torch
    assert_raises_like_torch(
        lambda: torch.nn.functional.prelu(torch.ones(2, 3, dtype=torch.float64), torch.ones(1)),
        lambda: ember.nn.functional.prelu(ember.ones(2, 3, dtype=ember.float64), ember.ones(1)),
        RuntimeError, same_type=True)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
def test_grid_sample_second_derivatives_like_torch(torch, mode):
    """grid_sample's backward is one node in PyTorch: the input's gradient has no derivative
    in the input (None), and the grid's gradient is the only path back to it."""
    random = np.random.default_rng(0)
    arrays = [random.standard_normal((1, 2, 3, 4)), random.uniform(-1, 1, (1, 2, 3, 2))]
    results = []
    for fw in (torch, ember):
        x, grid = (fw.tensor(array, requires_grad=True) for array in arrays)
        output = fw.nn.functional.grid_sample(x, grid, mode=mode, align_corners=False)
        weight = fw.tensor(np.cos(np.arange(output.numel())).reshape(tuple(output.shape)))
        grad_x, grad_grid = fw.autograd.grad((output * weight).sum(), (x, grid),
                                             create_graph=True)
        of_grad_x = fw.autograd.grad(grad_x.sum(), x, retain_graph=True, allow_unused=True)[0]
        second = fw.autograd.grad((grad_x * grad_x).sum() + (grad_grid * grad_grid).sum(), x,
                                  allow_unused=True, retain_graph=True)[0]
        # nearest: zeros (not None), the grid being an input of PyTorch's one backward node
        in_grid = fw.autograd.grad((grad_x * grad_x).sum(), grid, allow_unused=True)[0]
        results.append([grad_x.detach().numpy(), grad_grid.detach().numpy(),
                        None if in_grid is None else in_grid.numpy(), of_grad_x,
                        None if second is None else second.numpy()])
    (*theirs, their_of_x, their_second), (*ours, our_of_x, our_second) = results
    for mine, expected in zip(ours, theirs):
        assert (mine is None) == (expected is None)
        if expected is not None:
            np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)
    assert our_of_x is None and their_of_x is None
    assert (our_second is None) == (their_second is None)
    if their_second is not None:
        np.testing.assert_allclose(our_second, their_second, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss", ["linear", "squared"])
@pytest.mark.parametrize("leaves", ["all", "weight_and_bias", "input_and_weight"])
@pytest.mark.parametrize("pad", [0, 1])
def test_conv_tbc_second_derivatives_like_torch(torch, loss, leaves, pad):
    """PyTorch's conv_tbc backward is made of differentiable ops, not one node: under
    create_graph the bias gradient depends on grad_output alone (no graph for a linear loss),
    the weight's on the input and grad_output, the input's on the weight and grad_output;
    every second derivative equals torch's (or is None / raises where torch's is / does)."""
    random = np.random.default_rng(5)
    arrays = [random.standard_normal((5, 2, 3)), random.standard_normal((3, 3, 4)),
              random.standard_normal(4)]
    needs = {"all": (True, True, True), "weight_and_bias": (False, True, True),
             "input_and_weight": (True, True, False)}[leaves]
    results = []
    for fw in (torch, ember):
        tensors = [fw.tensor(array, requires_grad=need) for array, need in zip(arrays, needs)]
        output = fw.nn.functional.conv_tbc(*tensors, pad)
        weights = fw.tensor(np.cos(np.arange(output.numel())).reshape(tuple(output.shape)))
        value = (output * weights).sum() if loss == "linear" else (output ** 2 * weights).sum()
        leaves_used = [tensor for tensor in tensors if tensor.requires_grad]
        grads = fw.autograd.grad(value, leaves_used, create_graph=True)
        outcome = [output.grad_fn.name(), [grad.requires_grad for grad in grads],
                   [grad.detach().numpy() for grad in grads]]
        for grad in grads:
            try:
                again = fw.autograd.grad((grad * grad.detach().cos()).sum(), leaves_used,
                                         allow_unused=True, retain_graph=True)
                outcome.append([None if item is None else item.numpy() for item in again])
            except RuntimeError as error:
                outcome.append(str(error))
        results.append(outcome)
    theirs, ours = results
    assert ours[:2] == theirs[:2]
    for mine, expected in zip(ours[2:], theirs[2:]):
        if isinstance(expected, str) or expected is None:
            assert mine == expected
            continue
        for our_array, their_array in zip(mine, expected):
            if their_array is None:
                assert our_array is None
            else:
                np.testing.assert_allclose(our_array, their_array, rtol=1e-10, atol=1e-12)


def test_conv_tbc_gradgradcheck():
    random = np.random.default_rng(6)
    tensors = [ember.tensor(random.standard_normal(shape), requires_grad=True)
               for shape in ((4, 2, 3), (2, 3, 2), (2,))]
    assert ember.autograd.gradgradcheck(
        lambda x, w, b: ember.nn.functional.conv_tbc(x, w, b, 1), tensors)
