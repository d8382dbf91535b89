"""Every batching rule against torch.func.vmap: the op runs once on the whole batch (no per-sample
fallback) and gives torch's values, with the mapped dimension in several places, unbatched
operands of other ranks, and gradients through the batched call."""
import warnings

import numpy as np
import pytest

import ember
from ember.func import _vmap as vmap_module
from ember.ops.elementwise.trigonometric import TanhBackward, TanhBackwardOut
from ember.ops.linalg import MatMul
from tests.func.helpers import assert_same_tree, inputs, tree_to_torch

def _classes(values):
    """Class indices 0, 1, 2 from values in (-1, 1), per element."""
    return (values > 0).long() + (values > 0.5).long()


# name, function of (fw, *operands), operand shapes (the batch of 3 is dim 0 of each mapped one),
# in_dims.
RULES = [
    ("add_broadcast", lambda fw, a, b: a + b, [(3, 4), (2, 4)], (0, None)),
    ("add_lower_rank", lambda fw, a, b: a + b, [(3,), (2, 4)], (0, None)),
    ("sub_both", lambda fw, a, b: a - b, [(3, 2, 1), (3, 4)], (0, 0)),
    ("mul_scalar", lambda fw, a: a * 2.5, [(3, 4)], 0),
    ("div_functional", lambda fw, a, b: fw.div(a, b), [(3, 4), (4,)], (0, None)),
    ("pow", lambda fw, a: (a * a + 1) ** 1.5, [(3, 4)], 0),
    ("maximum", lambda fw, a, b: fw.maximum(a, b), [(3, 4), (3, 4)], (0, 0)),
    ("atan2", lambda fw, a, b: fw.atan2(a, b), [(3, 4), (4,)], (0, None)),
    ("unary_math", lambda fw, a: a.exp() + a.sin() + a.tanh() + a.abs().sqrt() + a.neg(),
     [(3, 2, 2)], 0),
    ("activations", lambda fw, a: fw.nn.functional.relu(a) + fw.nn.functional.gelu(a)
     + fw.nn.functional.silu(a) + fw.nn.functional.softplus(a) + a.sigmoid()
     + fw.nn.functional.leaky_relu(a, 0.1) + fw.nn.functional.elu(a), [(3, 5)], 0),
    ("shrinks", lambda fw, a: fw.nn.functional.hardshrink(a, 0.4)
     + fw.nn.functional.softshrink(a, 0.3), [(3, 5)], 0),
    ("clamp", lambda fw, a: a.clamp(-0.5, 0.25), [(3, 4)], 0),
    ("where", lambda fw, a, b: fw.where(b > 0, a, b), [(3, 4), (4,)], (0, None)),
    ("comparison", lambda fw, a, b: (a > b).to(a.dtype) + (a <= 0).to(a.dtype),
     [(3, 4), (4,)], (0, None)),
    ("cast", lambda fw, a: a.float().double(), [(3, 4)], 0),
    ("sum_all", lambda fw, a: a.sum(), [(3, 2, 4)], 0),
    ("sum_dims", lambda fw, a: a.sum((0, -1), keepdim=True), [(3, 2, 4)], 0),
    ("mean_var", lambda fw, a: a.mean(1) + a.var(0).sum(), [(3, 2, 4)], 0),
    ("amax", lambda fw, a: a.amax(-1), [(3, 2, 4)], 0),
    ("median_all", lambda fw, a: a.median() * 2, [(3, 2, 5)], 0),
    ("median_all_moved", lambda fw, a: fw.median(a), [(4, 3)], 1),
    ("logsumexp", lambda fw, a: a.logsumexp(0), [(3, 2, 4)], 0),
    ("softmax", lambda fw, a: a.softmax(-1) + a.log_softmax(0), [(3, 2, 4)], 0),
    ("cumsum", lambda fw, a: a.cumsum(1) + a.cumprod(0), [(3, 2, 4)], 0),
    ("prod", lambda fw, a: a.prod(1) + a.prod(), [(3, 2, 4)], 0),
    ("norm", lambda fw, a: fw.linalg.vector_norm(a, dim=1), [(3, 2, 4)], 0),
    ("reshape_view", lambda fw, a: a.reshape(4, 2) + a.view(-1).view(4, 2), [(3, 2, 4)], 0),
    ("unsqueeze_squeeze", lambda fw, a: a.unsqueeze(0).unsqueeze(-1).squeeze(), [(3, 2, 4)],
     0),
    ("permute_transpose", lambda fw, a: a.permute(2, 0, 1) + a.transpose(0, 2).transpose(1, 2),
     [(3, 2, 4, 5)], 0),
    ("flatten_movedim", lambda fw, a: a.flatten() + a.movedim(0, 1).flatten(), [(3, 2, 2)], 0),
    ("expand", lambda fw, a: a.expand(2, 3, 4), [(3, 4)], 0),
    ("repeat", lambda fw, a: a.repeat(2, 1, 2), [(3, 4)], 0),
    ("cat_mixed", lambda fw, a, b: fw.cat([a, b, a], dim=-1), [(3, 2, 3), (2, 4)], (0, None)),
    ("stack_mixed", lambda fw, a, b: fw.stack([b, a], dim=1), [(3, 4), (4,)], (0, None)),
    ("flip_roll", lambda fw, a: a.flip(0) + a.roll(1, 1), [(3, 2, 4)], 0),
    ("tril", lambda fw, a: a.tril() + a.triu(1), [(3, 4, 4)], 0),
    ("diagonal", lambda fw, a: a.diagonal(0, 0, 1), [(3, 4, 4)], 0),
    ("basic_index", lambda fw, a: a[1] + a[:, 1:3].sum(-1) + a[..., 0] + a[None, :, 2][0],
     [(3, 4, 4)], 0),
    ("advanced_index", lambda fw, a: a[fw.tensor([2, 0, 1])] + a[:, fw.tensor([1, 1, 3])].T,
     [(3, 4, 4)], 0),
    ("matmul_matrix_vector", lambda fw, a, b: a @ b, [(3, 2, 4), (4,)], (0, None)),
    ("matmul_vector_matrix", lambda fw, a, b: a @ b, [(3, 4), (4, 5)], (0, None)),
    ("matmul_vectors", lambda fw, a, b: a @ b, [(3, 4), (3, 4)], (0, 0)),
    ("matmul_unbatched_left", lambda fw, a, b: b @ a, [(3, 4, 2), (5, 4)], (0, None)),
    ("matmul_stacks", lambda fw, a, b: a @ b, [(3, 1, 2, 4), (5, 4, 2)], (0, None)),
    ("matmul_vector_stack", lambda fw, a, b: a @ b, [(3, 4), (2, 4, 5)], (0, None)),
    ("linear_shared", lambda fw, a, w, b: fw.nn.functional.linear(a, w, b),
     [(3, 2, 4), (5, 4), (5,)], (0, None, None)),
    ("linear_batched_weight", lambda fw, a, w, b: fw.nn.functional.linear(a, w, b),
     [(2, 4), (3, 5, 4), (3, 5)], (None, 0, 0)),
    ("linear_vector", lambda fw, a, w: fw.nn.functional.linear(a, w), [(3, 4), (5, 4)],
     (0, None)),
    ("conv2d", lambda fw, a, w, b: fw.nn.functional.conv2d(a, w, b, padding=1, stride=(1, 2)),
     [(3, 2, 4, 5, 5), (6, 4, 3, 3), (6,)], (0, None, None)),
    ("conv1d_one_sample", lambda fw, a, w: fw.nn.functional.conv1d(a, w, groups=2),
     [(3, 4, 7), (6, 2, 3)], (0, None)),
    ("conv_transpose2d", lambda fw, a, w: fw.nn.functional.conv_transpose2d(a, w, stride=2),
     [(3, 2, 4, 3, 3), (4, 2, 2, 2)], (0, None)),
    ("pooling", lambda fw, a: fw.nn.functional.max_pool2d(a, 2) + fw.nn.functional.avg_pool2d(
        a, 3, padding=1, stride=2), [(3, 2, 3, 4, 4)], 0),
    ("max_pool_indices", lambda fw, a: fw.nn.functional.max_pool1d(a, 2, return_indices=True),
     [(3, 2, 3, 6)], 0),
    ("layer_and_group_norm", lambda fw, a, w: fw.nn.functional.layer_norm(a, (5,), w)
     + fw.nn.functional.group_norm(a.transpose(1, 2), 1).transpose(1, 2),
     [(3, 2, 4, 5), (5,)], (0, None)),
    ("batch_norm_eval", lambda fw, a, mean, var: fw.nn.functional.batch_norm(
        a, mean, var * var + 0.5, training=False), [(3, 2, 4, 5), (4,), (4,)], (0, None, None)),
    ("pad", lambda fw, a: fw.nn.functional.pad(a, (1, 2, 0, 1)) + fw.nn.functional.pad(
        a, (2, 1, 1, 0), mode="reflect"), [(3, 2, 3, 4)], 0),
    ("einsum", lambda fw, a, b: fw.einsum("bij,jk->bik", a, b) + fw.einsum("...ij->...ji", a)
     + fw.einsum("bii->bi", a).unsqueeze(-1), [(3, 2, 4, 4), (4, 4)], (0, None)),
    ("einsum_both_batched", lambda fw, a, b: fw.einsum("ij,kj->ik", a, b), [(3, 2, 4), (3, 5, 4)],
     (0, 0)),
    ("gather_index_put", lambda fw, a, b: a.gather(1, fw.tensor([[0, 3], [1, 1]]))
     + fw.zeros(2, 4, dtype=b.dtype).index_put((fw.tensor([0, 1]), fw.tensor([2, 0])), b)[:, :2]
     + fw.zeros(4, dtype=a.dtype).index_put((fw.tensor([1, 3]),), a[0, :2])[None, 1:3],
     [(3, 2, 4), (3, 2)], (0, 0)),
    ("max_min_dim", lambda fw, a: a.max(1).values + a.min(-1, keepdim=True).values.sum(-1)
     + (a.max(1).indices + a.argmax(-1) + a.argmin(1) - a.argmin(keepdim=True)[0]).to(a.dtype)
     + a.argmax().to(a.dtype), [(3, 2, 4)], 0),
    ("binary_cross_entropy", lambda fw, a, t: fw.nn.functional.binary_cross_entropy(
        a.sigmoid(), t.sigmoid(), reduction="none")
     + fw.nn.functional.binary_cross_entropy_with_logits(a, t.sigmoid(), pos_weight=t[0].exp())
     + fw.nn.functional.binary_cross_entropy_with_logits(a, t.sigmoid(), reduction="sum"),
     [(3, 2, 4), (2, 4)], (0, None)),
    ("masks", lambda fw, a, b: (((a > 0) & (b < 0.5)) | ~(a > b) ^ (a < -0.5)).to(a.dtype)
     + ((a / (a > 0).to(a.dtype)).isnan() | (a.exp() * 1e308).isinf()).to(a.dtype)
     + (a.log().isfinite() & (a < 0).logical_not()).to(a.dtype), [(3, 2, 4), (4,)], (0, None)),
    ("sort_topk", lambda fw, a: a.sort(-1).values + a.sort(0, descending=True).indices
     + a.argsort(1) + fw.cat([a.topk(2).values, a.topk(2, largest=False).indices], -1),
     [(3, 2, 4)], 0),
    ("split_chunk_unbind", lambda fw, a: fw.cat(a.split([1, 3], dim=1), 1)
     + fw.cat(a.chunk(2, -1), -1) + fw.stack(a.unbind(0)), [(3, 2, 4)], 0),
    ("where_masked_fill", lambda fw, a, b: fw.where(a > 0, a, b).masked_fill(b < 0, -1.0),
     [(3, 2, 4), (4,)], (0, None)),
    ("contiguous", lambda fw, a: a.transpose(0, 1).contiguous(), [(3, 2, 4)], 0),
    ("layer_norm_batched_affine", lambda fw, a, w, b: fw.nn.functional.layer_norm(a, (4,), w, b),
     [(2, 4), (3, 4), (3, 4)], (None, 0, 0)),
    ("group_norm_batched_affine", lambda fw, a, w, b: fw.nn.functional.group_norm(a, 2, w, b),
     [(3, 2, 4, 3, 2), (3, 4), (3, 4)], (0, 0, 0)),
    ("batch_norm_eval_batched", lambda fw, a, w, mean: fw.nn.functional.batch_norm(
        a, mean, mean * mean + 0.5, w, mean, training=False), [(2, 4, 5), (3, 4), (3, 4)],
     (None, 0, 0)),
    ("batch_norm_batch_statistics", lambda fw, a, w: fw.nn.functional.batch_norm(
        a, None, None, w, None, training=True), [(3, 2, 4, 5), (4,)], (0, None)),
    ("embedding_shared_table", lambda fw, a, w: fw.nn.functional.embedding(
        (a > 0).long() * 2 + (a > 0.5).long(), w), [(3, 2, 4), (4, 5)], (0, None)),
    ("embedding_batched_table", lambda fw, a, w: fw.nn.functional.embedding(
        (a > 0).long() * 2 + (a > 0.5).long(), w, padding_idx=1), [(3, 2, 4), (3, 4, 5)],
     (0, 0)),
    ("embedding_batched_table_only", lambda fw, a, w: fw.nn.functional.embedding(
        (a > 0).long(), w), [(2, 4), (3, 4, 5)], (None, 0)),
    ("attention", lambda fw, q, k, v: fw.nn.functional.scaled_dot_product_attention(q, k, v),
     [(3, 2, 4, 5), (4, 5), (3, 4, 6)], (0, None, 0)),
    ("attention_masks", lambda fw, q, k, mask: fw.nn.functional.scaled_dot_product_attention(
        q, k, k, attn_mask=mask) + fw.nn.functional.scaled_dot_product_attention(
        q, k, k, is_causal=True), [(3, 4, 5), (3, 4, 5), (3, 4, 4)], (0, 0, 0)),
    ("linalg_solve_inv_det", lambda fw, a, b: fw.linalg.solve(a + 3 * fw.eye(4, dtype=a.dtype), b)
     + fw.linalg.inv(a + 3 * fw.eye(4, dtype=a.dtype)).sum(-1)
     + fw.linalg.det(a + 2 * fw.eye(4, dtype=a.dtype)).unsqueeze(-1), [(3, 4, 4), (4,)],
     (0, None)),
    ("linalg_solve_shared_matrix", lambda fw, a, b: fw.linalg.solve(
        a + 3 * fw.eye(4, dtype=a.dtype), b), [(4, 4), (3, 4, 2)], (None, 0)),
    ("linalg_cholesky_slogdet", lambda fw, a: fw.linalg.cholesky(
        a @ a.mT + 4 * fw.eye(4, dtype=a.dtype)).sum(-1) + fw.linalg.slogdet(
        a + 2 * fw.eye(4, dtype=a.dtype))[1].unsqueeze(-1) + fw.logdet(
        a @ a.mT + fw.eye(4, dtype=a.dtype)).unsqueeze(-1), [(3, 4, 4)], 0),
    ("linalg_triangular_solves", lambda fw, a, b: fw.linalg.solve_triangular(
        a.tril() + 3 * fw.eye(4, dtype=a.dtype), b, upper=False) + fw.cholesky_solve(
        b, fw.linalg.cholesky(a @ a.mT + 4 * fw.eye(4, dtype=a.dtype))), [(3, 4, 4), (4, 2)],
     (0, None)),
    ("linalg_decompositions", lambda fw, a: fw.linalg.svdvals(a).sum()
     + fw.linalg.eigvalsh(a + a.mT).sum() + fw.linalg.qr(a).R.abs().sum()
     + fw.linalg.pinv(a).sum() + fw.linalg.matrix_exp(a * 0.1).sum(), [(3, 4, 4)], 0),
    ("scatter_family_batched_index", lambda fw, a, b: a.scatter(0, _classes(b), b)
     + a.scatter_add(1, _classes(b), b) + a.scatter_reduce(0, _classes(b), b, "amax")
     + a.scatter_reduce(0, _classes(b), b, "mean", include_self=False) + a.gather(0, _classes(b))
     .sum(0), [(3, 4, 5), (3, 2, 5)], (0, 0)),
    ("scatter_shared_operands", lambda fw, a, b: fw.zeros(4, 5, dtype=a.dtype).scatter_add(
        0, _classes(a), a) + b.scatter(1, _classes(a), 2.5) + b.scatter(0, fw.tensor(
        [[0, 3, 1, 2, 0]]), a[:1]), [(3, 2, 5), (4, 5)], (0, None)),
    ("index_add_copy_fill", lambda fw, a, b: a.index_add(0, fw.tensor([0, 2]), b, alpha=2.0)
     + a.index_copy(0, fw.tensor([1, 3]), b) + a.index_fill(1, fw.tensor([0, 4]), -1.0)
     + b.sum() * 0, [(3, 4, 5), (2, 5)], (0, None)),
    ("index_ops_per_sample_index", lambda fw, a, b: a.index_add(0, _classes(b[:, 0]), b,
                                                                 alpha=2.0)
     + a.index_copy(0, b[:, 0].argsort()[:2], b) + a.index_fill(1, b[0].argsort()[:3], -1.0),
     [(3, 4, 5), (3, 2, 5)], (0, 0)),
    ("one_hot", lambda fw, a: fw.nn.functional.one_hot(_classes(a), 3).to(a.dtype) * a[..., None],
     [(3, 2, 4)], 0),
    ("linalg_lstsq_rank", lambda fw, a, b: fw.linalg.lstsq(a, b).solution.sum(-1)
     + fw.linalg.matrix_rank(a).to(a.dtype).unsqueeze(-1), [(3, 5, 4), (3, 5, 2)], (0, 0)),
    ("fft_transforms", lambda fw, a: fw.fft.fft(a).abs() + fw.fft.ifft(a, dim=0).real
     + fw.fft.irfft(fw.fft.rfft(a), n=5) + fw.fft.fft2(a, norm="ortho").imag,
     [(3, 2, 5)], 0),
]


@pytest.mark.parametrize("name, function, shapes, in_dims", RULES,
                         ids=[rule[0] for rule in RULES])
def test_rule_batches_the_op_and_matches_torch(torch, name, function, shapes, in_dims):
    values = inputs(ember, *shapes)
    vmap_module._warned.clear()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="vmap: there is no batching rule")
        ours = ember.func.vmap(lambda *args: function(ember, *args), in_dims=in_dims)(*values)
    theirs = torch.func.vmap(lambda *args: function(torch, *args), in_dims=in_dims)(
        *tree_to_torch(values, torch))
    assert_same_tree(ours, theirs, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["add_broadcast", "unary_math", "softmax", "sum_dims",
                                  "cat_mixed", "basic_index", "matmul_vector_stack",
                                  "linear_batched_weight", "permute_transpose",
                                  "split_chunk_unbind", "where_masked_fill", "einsum",
                                  "gather_index_put", "max_min_dim", "binary_cross_entropy",
                                  "sort_topk",
                                  "einsum_both_batched",
                                  "layer_norm_batched_affine", "group_norm_batched_affine",
                                  "batch_norm_batch_statistics", "attention",
                                  "attention_masks", "linalg_solve_inv_det",
                                  "linalg_cholesky_slogdet", "linalg_triangular_solves",
                                  "fft_transforms", "scatter_family_batched_index",
                                  "scatter_shared_operands", "index_add_copy_fill",
                                  "index_ops_per_sample_index"])
def test_gradients_flow_through_the_batched_call_like_torch(torch, name):
    _, function, shapes, in_dims = next(rule for rule in RULES if rule[0] == name)
    results = []
    for fw in (ember, torch):
        values = inputs(fw, *shapes, requires_grad=True)
        out = fw.func.vmap(lambda *args: function(fw, *args), in_dims=in_dims)(*values)
        weights = fw.tensor(np.random.default_rng(1).standard_normal(tuple(out.shape)))
        results.append(fw.autograd.grad((out * weights).sum(), values))
    assert_same_tree(*results, rtol=1e-6, atol=1e-9)


def test_median_of_all_elements_per_sample_with_nans_and_gradients_like_torch(torch):
    def run(fw):
        (values,) = inputs(fw, (3, 2, 4), requires_grad=True)
        marked = values * 1
        marked = fw.where(fw.tensor([[[False] * 4] * 2, [[True, False, False, False]] * 2,
                                     [[True] * 4] * 2]), float("nan"), marked)
        medians = fw.func.vmap(lambda a: fw.stack([a.median(), fw.nanmedian(a)]))(marked)
        return medians, fw.autograd.grad(fw.nan_to_num(medians).sum(), values)
    assert_same_tree(run(ember), run(torch))


def test_nested_levels_batch_an_op_with_operands_from_both_levels(torch):
    def run(fw):
        x, y = inputs(fw, (2, 3, 4), (3, 4))

        def inner(row, column):
            return (row * column).softmax(-1) @ column
        return fw.func.vmap(fw.func.vmap(inner, in_dims=(0, 0)), in_dims=(0, None))(x, y)
    vmap_module._warned.clear()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="vmap: there is no batching rule")
        ours = run(ember)
    assert_same_tree(ours, run(torch))


def test_a_zero_dim_sample_of_another_dtype_falls_back_to_keep_torchs_promotion(torch):
    """A 0-dim float64 sample times a float32 vector is float32 in PyTorch; a float64 batch of
    them would promote to float64, so the rule refuses and vmap runs per sample."""
    def run(fw):
        x = fw.tensor([1.5, 2.5], dtype=fw.float64)
        y = fw.tensor([1.0, 2.0, 3.0])
        return fw.func.vmap(lambda a: a * y)(x)
    with pytest.warns(UserWarning, match="no batching rule"):
        ours = run(ember)
    assert_same_tree(ours, run(torch))


@pytest.mark.parametrize("transpose_a, transpose_b", [(True, False), (False, True), (True, True)])
def test_transposed_matmul_of_a_create_graph_backward_batches(torch, transpose_a, transpose_b):
    # Only backward formulas set MatMul's transpose flags; each case computes x^T @ b^T.
    a, b = inputs(ember, (3, 4, 2), (5, 4))
    vmap_module._warned.clear()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="vmap: there is no batching rule")
        ours = ember.func.vmap(lambda x: MatMul.apply(
            x if transpose_a else x.mT, b if transpose_b else b.mT, transpose_a,
            transpose_b))(a)
    torch_a, torch_b = tree_to_torch((a, b), torch)
    theirs = torch.func.vmap(lambda x: x.mT @ torch_b.mT)(torch_a)
    assert_same_tree(ours, theirs, rtol=1e-6, atol=1e-9)


def test_tanh_backward_nodes_batch(torch):
    # The nodes a create_graph backward of tanh records, under vmap as one call on the batch.
    grad_output, grad, out = inputs(ember, (3, 4), (4,), (3, 4))
    vmap_module._warned.clear()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="vmap: there is no batching rule")
        ours = ember.func.vmap(lambda g, o: (TanhBackward.apply(g, o),
                                             TanhBackwardOut.apply(g, grad, o)))(grad_output, out)
    torch_grad_output, torch_grad, torch_out = tree_to_torch((grad_output, grad, out), torch)
    theirs = torch.func.vmap(lambda g, o: (g * (1 - o * o), g * torch_grad * o * -2.0))(
        torch_grad_output, torch_out)
    assert_same_tree(ours, theirs, rtol=1e-6, atol=1e-9)
