"""The fused kernels of the transformer path equal their unfused composites (ember's own ops) and
torch: attention (masks, causal, odd shapes, broadcast batch dims, dropout from a seeded
generator), LayerNorm, GELU (evaluated in slices), cross_entropy over a large vocabulary and the
embedding's weight gradient; float32 and float64 values and gradients, and float16 outputs."""
import numpy as np
import pytest

import ember
from ember import ops
from ember._random import numpy_generator
from ember.nn import functional as F
from ember.nn._kernels import activation as activation_kernels

DTYPES = [np.float32, np.float64]


def _tolerance(dtype):
    return (2e-5, 2e-5) if dtype == np.float32 else (1e-10, 1e-10)


def _arrays(shapes, dtype, seed=0):
    random = np.random.default_rng(seed)
    return [random.standard_normal(shape).astype(dtype) for shape in shapes]


def _leaves(fw, arrays):
    return [fw.tensor(array, requires_grad=True) for array in arrays]


def _gradients(output, leaves, weights, fw):
    grads = fw.autograd.grad((output * fw.tensor(weights)).sum(), leaves, allow_unused=True,
                             retain_graph=True)
    return [None if grad is None else grad.detach().numpy() for grad in grads]


def _assert_all_close(ours, theirs, dtype):
    rtol, atol = _tolerance(dtype)
    for mine, their in zip(ours, theirs):
        if their is None:
            assert mine is None or not np.any(mine)
            continue
        np.testing.assert_allclose(mine, their, rtol=rtol, atol=atol)


# ---- attention --------------------------------------------------------------------------------
def _blocked_rows(target_length, source_length):
    keep = np.random.default_rng(4).random((target_length, source_length)) > 0.4
    keep[1] = False  # a query that sees no key: zero output, zero gradients (PyTorch)
    keep[0, 0] = True
    return keep


ATTENTION = {
    # name: (query, key, value shapes, keyword arguments (arrays become tensors))
    "plain_odd": ([(2, 3, 5, 3), (2, 3, 7, 3), (2, 3, 7, 6)], {}),
    "unbatched": ([(5, 4), (6, 4), (6, 2)], {}),
    "causal_square": ([(2, 2, 6, 4)] * 3, {"is_causal": True}),
    "causal_rectangular": ([(2, 5, 4), (2, 7, 4), (2, 7, 3)], {"is_causal": True}),
    "bool_mask_empty_row": ([(2, 5, 4), (2, 7, 4), (2, 7, 3)], {"attn_mask": "bool"}),
    "bool_mask_batched": ([(2, 2, 5, 4), (2, 2, 7, 4), (2, 2, 7, 3)], {"attn_mask": "bool4"}),
    "float_mask_grad": ([(2, 5, 4), (2, 7, 4), (2, 7, 3)], {"attn_mask": "float"}),
    "broadcast_batch": ([(2, 3, 5, 4), (1, 3, 7, 4), (2, 1, 7, 3)], {"scale": 0.4}),
    "gqa": ([(1, 4, 5, 4), (1, 2, 6, 4), (1, 2, 6, 3)], {"enable_gqa": True}),
}


def _attention_arguments(fw, name, dtype):
    shapes, keywords = ATTENTION[name]
    leaves = _leaves(fw, _arrays(shapes, dtype, seed=len(name)))
    keywords = dict(keywords)
    mask = keywords.get("attn_mask")
    length, source = shapes[0][-2], shapes[1][-2]
    if mask == "bool":
        keywords["attn_mask"] = fw.tensor(_blocked_rows(length, source))
    elif mask == "bool4":
        keep = np.random.default_rng(6).random((2, 1, length, source)) > 0.5
        keep[..., 0] = True
        keywords["attn_mask"] = fw.tensor(keep)
    elif mask == "float":
        keywords["attn_mask"] = fw.tensor(_arrays([(length, source)], dtype, seed=9)[0],
                                          requires_grad=True)
        leaves.append(keywords["attn_mask"])
    return leaves, keywords


def _unfused_attention(query, key, value, attn_mask=None, is_causal=False, scale=None,
                       enable_gqa=False, keep=None, dropout_p=0.0):
    """The attention written with ember's primitive ops (the reference of the fused node)."""
    if enable_gqa:
        key = ops.repeat_interleave(key, query.shape[-3] // key.shape[-3], -3)
        value = ops.repeat_interleave(value, query.shape[-3] // value.shape[-3], -3)
    scale = 1.0 / np.sqrt(query.shape[-1]) if scale is None else scale
    scores = ops.matmul(query, ops.transpose(key, -2, -1)) * scale
    length, source = scores.shape[-2], scores.shape[-1]
    if is_causal:
        attn_mask = ember.tensor(np.tril(np.ones((length, source), dtype=bool)))
    if attn_mask is not None and attn_mask.dtype == ember.bool:
        blocked = ~attn_mask
        empty = ember.tensor(np.all(blocked.numpy(), axis=-1, keepdims=True))
        scores = ops.masked_fill(scores, blocked | empty, float("-inf"))
        weights = ops.masked_fill(ops.softmax(ops.masked_fill(scores, empty, 0.0), -1),
                                  empty | blocked, 0.0)
    else:
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = ops.softmax(scores, -1)
    if keep is not None:
        keep = keep.astype(weights.detach().numpy().dtype)
        weights = weights * ember.tensor(keep) / (1 - dropout_p)
    return ops.matmul(weights, value)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ATTENTION))
def test_attention_matches_torch_and_the_unfused_composite(torch, name, dtype):
    ours, our_keywords = _attention_arguments(ember, name, dtype)
    theirs, their_keywords = _attention_arguments(torch, name, dtype)
    fused = F.scaled_dot_product_attention(*ours[:3], **our_keywords)
    expected = torch.nn.functional.scaled_dot_product_attention(*theirs[:3], **their_keywords)
    assert fused.dtype == ember.from_numpy(np.zeros(0, dtype)).dtype
    weights = _arrays([tuple(expected.shape)], dtype, seed=11)[0]
    _assert_all_close([fused.detach().numpy()], [expected.detach().numpy()], dtype)
    _assert_all_close(_gradients(fused, ours, weights, ember),
                      _gradients(expected, theirs, weights, torch), dtype)
    ours_again, keywords_again = _attention_arguments(ember, name, dtype)
    unfused = _unfused_attention(*ours_again[:3], **keywords_again)
    _assert_all_close([fused.detach().numpy()], [unfused.detach().numpy()], dtype)
    _assert_all_close(_gradients(fused, ours, weights, ember),
                      _gradients(unfused, ours_again, weights, ember), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_dropout_uses_the_seeded_generator_and_equals_the_unfused_form(dtype):
    shapes = [(2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 3)]
    arrays = _arrays(shapes, dtype)
    ember.manual_seed(12)
    first = F.scaled_dot_product_attention(*_leaves(ember, arrays), dropout_p=0.4)
    ember.manual_seed(12)
    leaves = _leaves(ember, arrays)
    fused = F.scaled_dot_product_attention(*leaves, dropout_p=0.4, is_causal=True)
    ember.manual_seed(12)
    again = F.scaled_dot_product_attention(*_leaves(ember, arrays), dropout_p=0.4)
    np.testing.assert_array_equal(first.detach().numpy(), again.detach().numpy())
    ember.manual_seed(12)
    keep = ember.empty(2, 3, 5, 6).bernoulli_(0.6).numpy().astype(bool)
    reference_leaves = _leaves(ember, arrays)
    unfused = _unfused_attention(*reference_leaves, is_causal=True, keep=keep, dropout_p=0.4)
    weights = _arrays([(2, 3, 5, 3)], dtype, seed=3)[0]
    _assert_all_close([fused.detach().numpy()], [unfused.detach().numpy()], dtype)
    _assert_all_close(_gradients(fused, leaves, weights, ember),
                      _gradients(unfused, reference_leaves, weights, ember), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_results_survive_later_calls_that_reuse_its_scratch(torch, dtype):
    # A float mask of the scores' full shape: its gradient would alias the scratch grad_scores.
    shapes = [(2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 3), (2, 3, 5, 7)]
    arrays = _arrays(shapes, dtype, seed=21)
    ours, theirs = _leaves(ember, arrays), _leaves(torch, arrays)
    fused = F.scaled_dot_product_attention(*ours[:3], attn_mask=ours[3])
    fused.backward(ember.tensor(_arrays([(2, 3, 5, 3)], dtype, seed=22)[0]))
    kept = [fused.detach().numpy().copy()] + [leaf.grad.numpy().copy() for leaf in ours]
    for seed in (23, 24):  # later calls of the same and of another shape
        others = _leaves(ember, _arrays(shapes, dtype, seed=seed))
        again = F.scaled_dot_product_attention(*others[:3], attn_mask=others[3], is_causal=False)
        again.sum().backward()
        smaller = _leaves(ember, _arrays([(1, 2, 3), (1, 4, 3), (1, 4, 2)], dtype, seed=seed))
        F.scaled_dot_product_attention(*smaller, is_causal=True).sum().backward()
    now = [fused.detach().numpy()] + [leaf.grad.numpy() for leaf in ours]
    for before, after in zip(kept, now):
        np.testing.assert_array_equal(before, after)
    expected = torch.nn.functional.scaled_dot_product_attention(*theirs[:3], attn_mask=theirs[3])
    expected.backward(torch.tensor(_arrays([(2, 3, 5, 3)], dtype, seed=22)[0]))
    _assert_all_close(now, [expected.detach().numpy()] + [leaf.grad.numpy() for leaf in theirs],
                      dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_mask_shared_by_two_calls_gets_both_gradients(torch, dtype):
    shapes = [(2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 3), (2, 3, 5, 7)]
    arrays = _arrays(shapes, dtype, seed=31)

    def run(fw, leaves):
        mask = leaves[3] * 2.0  # an inner node: its two gradients meet in the engine
        first = fw.nn.functional.scaled_dot_product_attention(*leaves[:3], attn_mask=mask)
        second = fw.nn.functional.scaled_dot_product_attention(leaves[0], leaves[1],
                                                               leaves[2] * 3.0, attn_mask=mask)
        return first * second

    ours, theirs = _leaves(ember, arrays), _leaves(torch, arrays)
    weights = _arrays([(2, 3, 5, 3)], dtype, seed=32)[0]
    fused, expected = run(ember, ours), run(torch, theirs)
    _assert_all_close([fused.detach().numpy()], [expected.detach().numpy()], dtype)
    _assert_all_close(_gradients(fused, ours, weights, ember),
                      _gradients(expected, theirs, weights, torch), dtype)


def test_attention_float16_matches_torch(torch):
    arrays = _arrays([(2, 2, 5, 8), (2, 2, 6, 8), (2, 2, 6, 4)], np.float16)
    ours = F.scaled_dot_product_attention(*[ember.tensor(a) for a in arrays], is_causal=True)
    theirs = torch.nn.functional.scaled_dot_product_attention(
        *[torch.tensor(a) for a in arrays], is_causal=True)
    assert ours.dtype == ember.float16
    np.testing.assert_allclose(ours.numpy().astype(np.float32),
                               theirs.numpy().astype(np.float32), rtol=2e-3, atol=2e-3)


# ---- layer norm, GELU, cross entropy, embedding -----------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, normalized", [((3, 5, 7), (7,)), ((2, 3, 4), (3, 4)),
                                               ((1, 129), (129,))])
def test_layer_norm_matches_torch_and_the_unfused_composite(torch, dtype, shape, normalized):
    arrays = _arrays([shape, normalized, normalized], dtype)
    ours, theirs = _leaves(ember, arrays), _leaves(torch, arrays)
    fused = F.layer_norm(ours[0], normalized, ours[1], ours[2], eps=1e-4)
    expected = torch.nn.functional.layer_norm(theirs[0], normalized, theirs[1], theirs[2],
                                              eps=1e-4)
    weights = _arrays([shape], dtype, seed=5)[0]
    _assert_all_close([fused.detach().numpy()], [expected.detach().numpy()], dtype)
    _assert_all_close(_gradients(fused, ours, weights, ember),
                      _gradients(expected, theirs, weights, torch), dtype)
    reference = _leaves(ember, arrays)
    axes = tuple(range(len(shape) - len(normalized), len(shape)))
    centered = reference[0] - reference[0].mean(axes, keepdim=True)
    variance = (centered * centered).mean(axes, keepdim=True)
    unfused = centered / ops.sqrt(variance + 1e-4) * reference[1] + reference[2]
    _assert_all_close([fused.detach().numpy()], [unfused.detach().numpy()], dtype)
    _assert_all_close(_gradients(fused, ours, weights, ember),
                      _gradients(unfused, reference, weights, ember), dtype)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu_in_slices_matches_torch_and_one_pass(torch, dtype, approximate):
    size = 3 * activation_kernels._CHUNK + 17  # several slices and a short last one
    array = _arrays([(size,)], dtype)[0] * 3
    ours, theirs = _leaves(ember, [array]), _leaves(torch, [array])
    fused = F.gelu(ours[0], approximate=approximate)
    expected = torch.nn.functional.gelu(theirs[0], approximate=approximate)
    weights = _arrays([(size,)], dtype, seed=2)[0]
    _assert_all_close([fused.detach().numpy()], [expected.detach().numpy()], dtype)
    _assert_all_close(_gradients(fused, ours, weights, ember),
                      _gradients(expected, theirs, weights, torch), dtype)
    if approximate == "none":
        reference = _leaves(ember, [array])[0]
        unfused = reference * 0.5 * (1 + ops.erf(reference * 0.5 ** 0.5))
        _assert_all_close([fused.detach().numpy()], [unfused.detach().numpy()], dtype)
        _assert_all_close(_gradients(fused, ours, weights, ember),
                          _gradients(unfused, [reference], weights, ember), dtype)


def test_float32_gelu_slices_equal_one_slice(monkeypatch):
    values = _arrays([(3, 2 * activation_kernels._CHUNK + 5)], np.float32)[0] * 3
    grad = _arrays([values.shape], np.float32, seed=1)[0]
    sliced = (activation_kernels._gelu_float32(values),
              activation_kernels._gelu_backward_float32(grad, values))
    monkeypatch.setattr(activation_kernels, "_CHUNK", values.size)
    whole = (activation_kernels._gelu_float32(values),
             activation_kernels._gelu_backward_float32(grad, values))
    for mine, one in zip(sliced, whole):
        assert mine.dtype == np.float32 and mine.shape == values.shape
        np.testing.assert_array_equal(mine, one)


def test_float32_normal_cdf_fit_is_within_a_few_ulp(torch):
    values = np.linspace(-9, 9, 200001).astype(np.float32)
    exact = torch.special.ndtr(torch.tensor(values, dtype=torch.float64)).numpy()
    buffers = [np.empty_like(values) for _ in range(3)]
    assert np.abs(activation_kernels._normal_cdf_float32(values, *buffers) - exact).max() < 3e-7


def test_float32_erf_fit_is_within_a_few_ulp(torch):
    values = np.linspace(-6, 6, 200001).astype(np.float32)
    exact = torch.erf(torch.tensor(values, dtype=torch.float64)).numpy()
    assert np.abs(activation_kernels._erf_float32(values) - exact).max() < 5e-7


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.1, "ignore_index": 3},
                                     {"weight": True, "reduction": "sum"},
                                     {"reduction": "none", "label_smoothing": 0.2}])
def test_cross_entropy_large_vocabulary_matches_torch_and_log_softmax_nll(torch, dtype,
                                                                         options):
    rows, classes = 37, 5003
    logits = _arrays([(rows, classes)], dtype)[0] * 4
    target = np.random.default_rng(1).integers(0, classes, rows)
    target[:4] = 3
    class_weight = np.random.default_rng(2).uniform(0.5, 2.0, classes).astype(dtype)

    def run(fw, leaves):
        keywords = dict(options)
        if keywords.pop("weight", False):
            keywords["weight"] = fw.tensor(class_weight)
        return fw.nn.functional.cross_entropy(leaves[0], fw.tensor(target), **keywords)

    ours, theirs, reference = (_leaves(ember, [logits]), _leaves(torch, [logits]),
                               _leaves(ember, [logits]))
    fused, expected = run(ember, ours), run(torch, theirs)
    weights = np.asarray(_arrays([tuple(expected.shape)], dtype, seed=4)[0])
    _assert_all_close([fused.detach().numpy()], [expected.detach().numpy()], dtype)
    _assert_all_close(_gradients(fused, ours, weights, ember),
                      _gradients(expected, theirs, weights, torch), dtype)
    keywords = dict(options)
    if keywords.pop("weight", False):
        keywords["weight"] = ember.tensor(class_weight)
    if not keywords.get("label_smoothing"):
        unfused = F.nll_loss(ops.log_softmax(reference[0], 1), ember.tensor(target), **keywords)
        _assert_all_close([fused.detach().numpy()], [unfused.detach().numpy()], dtype)
        _assert_all_close(_gradients(fused, ours, weights, ember),
                          _gradients(unfused, reference, weights, ember), dtype)


@pytest.mark.parametrize("dtype", DTYPES + [np.float16])
@pytest.mark.parametrize("options", [{}, {"padding_idx": 2}, {"scale_grad_by_freq": True}])
def test_embedding_weight_gradient_matches_torch(torch, dtype, options):
    indices = np.random.default_rng(0).integers(0, 9, (6, 11))
    weight = _arrays([(9, 5)], dtype)[0]
    ours, theirs = _leaves(ember, [weight]), _leaves(torch, [weight])
    output = F.embedding(ember.tensor(indices), ours[0], **options)
    expected = torch.nn.functional.embedding(torch.tensor(indices), theirs[0], **options)
    assert output.dtype == ember.from_numpy(np.zeros(0, dtype)).dtype
    weights = _arrays([(6, 11, 5)], dtype, seed=1)[0]
    rtol = 1e-2 if dtype == np.float16 else _tolerance(dtype)[0]
    np.testing.assert_allclose(_gradients(output, ours, weights, ember)[0].astype(np.float64),
                               _gradients(expected, theirs, weights, torch)[0].astype(
                                   np.float64), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("call", [
    lambda fw, x: fw.nn.functional.gelu(x),
    lambda fw, x: fw.nn.functional.silu(x),
    lambda fw, x: fw.nn.functional.softplus(x),
    lambda fw, x: fw.nn.functional.elu(x),
    lambda fw, x: fw.nn.functional.layer_norm(x, (6,)),
    lambda fw, x: fw.nn.functional.group_norm(x.reshape(2, 4, 3), 2),
    lambda fw, x: fw.nn.functional.batch_norm(x, None, None, training=True),
    lambda fw, x: fw.nn.functional.cross_entropy(x, fw.tensor([0, 5, 2, 1])),
    lambda fw, x: fw.nn.functional.binary_cross_entropy_with_logits(x, x.sigmoid()),
    lambda fw, x: fw.nn.functional.mse_loss(x, x * 0.5),
    lambda fw, x: fw.nn.functional.hardtanh(x),
    lambda fw, x: fw.nn.functional.leaky_relu(x, 0.1),
    lambda fw, x: fw.nn.functional.selu(x),
    lambda fw, x: fw.nn.functional.gelu(x, approximate="tanh"),
    lambda fw, x: fw.nn.functional.mish(x),
    lambda fw, x: fw.nn.functional.logsigmoid(x),
    lambda fw, x: fw.nn.functional.hardswish(x),
    lambda fw, x: fw.nn.functional.threshold(x, 0.1, 2.0),
    lambda fw, x: fw.nn.functional.nll_loss(x, fw.tensor([0, 1, 5, 2])),
    lambda fw, x: fw.nn.functional.cross_entropy(x, fw.tensor([0, 1, 5, 2]),
                                                 label_smoothing=0.1),
    lambda fw, x: fw.nn.functional.binary_cross_entropy(x.sigmoid(), x.sigmoid() * 0.5),
    lambda fw, x: fw.nn.functional.smooth_l1_loss(x, x * 0.3),
    lambda fw, x: fw.nn.functional.huber_loss(x, x * 0.3),
    lambda fw, x: fw.nn.functional.kl_div(x, x.sigmoid(), reduction="batchmean"),
    lambda fw, x: fw.nn.functional.layer_norm(x, (6,), x[0] * 2, x[1]),
    lambda fw, x: fw.nn.functional.instance_norm(x.reshape(2, 2, 6)),
    lambda fw, x: fw.nn.functional.embedding_bag(fw.tensor([0, 2, 1, 3]), x, fw.tensor([0, 2])),
])
def test_float16_outputs_match_torch(torch, call):
    array = _arrays([(4, 6)], np.float16)[0]
    ours = call(ember, ember.tensor(array))
    theirs = call(torch, torch.tensor(array))
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.detach().numpy().astype(np.float32),
                               theirs.detach().numpy().astype(np.float32), rtol=5e-3,
                               atol=5e-3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, options", [((37, 11), {}), ((9, 6, 5), {"reduction": "none"}),
                                            ((13, 7), {"label_smoothing": 0.3})])
def test_cross_entropy_in_row_slices_equals_one_slice_and_torch(torch, monkeypatch, dtype, shape,
                                                                options):
    from ember.nn._kernels import loss as loss_kernels
    logits = _arrays([shape], dtype, seed=7)[0] * 4
    logits[2] -= 30  # a row far below the others
    target = np.random.default_rng(8).integers(0, shape[1], (shape[0],) + shape[2:])

    def run(fw):
        leaf = fw.tensor(logits, requires_grad=True)
        loss = fw.nn.functional.cross_entropy(leaf, fw.tensor(target), **options)
        weights = np.asarray(_arrays([tuple(loss.shape)], dtype, seed=9)[0])
        (loss * fw.tensor(weights)).sum().backward()
        return [loss.detach().numpy(), leaf.grad.numpy()]

    whole = run(ember)
    # two rows per slice and a short last slice
    monkeypatch.setattr(loss_kernels, "_SLICE_ELEMENTS", 2 * int(np.prod(shape[1:])) + 1)
    sliced = run(ember)
    for mine, one in zip(sliced, whole):
        np.testing.assert_array_equal(mine, one)
    _assert_all_close(sliced, run(torch), dtype)


def test_attention_dropout_of_one_drops_every_weight(torch):
    arrays = _arrays([(2, 3, 4), (2, 5, 4), (2, 5, 3)], np.float32, seed=41)
    leaves = _leaves(ember, arrays)
    output = F.scaled_dot_product_attention(*leaves, dropout_p=1.0)
    output.sum().backward()
    theirs = _leaves(torch, arrays)
    expected = torch.nn.functional.scaled_dot_product_attention(*theirs, dropout_p=1.0)
    expected.sum().backward()
    np.testing.assert_array_equal(output.detach().numpy(), expected.detach().numpy())
    for mine, their in zip(leaves, theirs):
        np.testing.assert_array_equal(mine.grad.numpy(), their.grad.numpy())


@pytest.mark.parametrize("dropout_p", [1.5, -0.1, float("nan")])
def test_attention_dropout_out_of_range_raises_torchs_type(dropout_p, torch):
    query = np.random.default_rng(0).standard_normal((1, 2, 3, 4)).astype(np.float32)
    for framework in (torch, ember):
        tensor = framework.tensor(query)
        with pytest.raises(RuntimeError):
            framework.nn.functional.scaled_dot_product_attention(tensor, tensor, tensor,
                                                                 dropout_p=dropout_p)
