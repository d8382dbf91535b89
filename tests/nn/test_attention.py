"""scaled_dot_product_attention and MultiheadAttention against torch: values, weights, gradients,
masks, state_dict, init and errors."""
import math
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.autograd.gradcheck import gradcheck
from ember.nn import functional as F
from tests.conftest import assert_close, assert_raises_like_torch, float64_tensor


def _leaf_pair(torch, shape, seed, requires_grad=True):
    array = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return (torch.tensor(array, requires_grad=requires_grad),
            ember.tensor(array, requires_grad=requires_grad))


def _mask_pair(torch, array):
    return torch.tensor(array), ember.tensor(array)


def _backward_both(torch, torch_out, ember_out, seed=50):
    weights = np.random.default_rng(seed).standard_normal(tuple(torch_out.shape))
    weights = weights.astype(np.float32)
    (torch_out * torch.tensor(weights)).sum().backward()
    (ember_out * ember.tensor(weights)).sum().backward()


# ---- scaled_dot_product_attention ------------------------------------------------------------
def _sdpa_masks(length, source):
    random = np.random.default_rng(7)
    bool_mask = random.random((length, source)) > 0.3
    bool_mask[:, 0] = True
    return {
        "none": dict(),
        "bool": dict(attn_mask=bool_mask),
        "bool_batched": dict(attn_mask=random.random((2, 1, length, source)) > 0.5),
        "float": dict(attn_mask=random.standard_normal((length, source)).astype(np.float32)),
        "causal": dict(is_causal=True),
        "scale": dict(scale=0.3),
    }


@pytest.mark.parametrize("case", ["none", "bool", "bool_batched", "float", "causal", "scale"])
def test_sdpa_matches_torch(torch, case):
    length, source = 4, 6
    torch_q, ember_q = _leaf_pair(torch, (2, 3, length, 8), 1)
    torch_k, ember_k = _leaf_pair(torch, (2, 3, source, 8), 2)
    torch_v, ember_v = _leaf_pair(torch, (2, 3, source, 5), 3)
    kwargs = _sdpa_masks(length, source)[case]
    torch_kwargs = dict(kwargs)
    ember_kwargs = dict(kwargs)
    if "attn_mask" in kwargs:
        torch_kwargs["attn_mask"], ember_kwargs["attn_mask"] = _mask_pair(torch,
                                                                          kwargs["attn_mask"])
    torch_out = torch.nn.functional.scaled_dot_product_attention(torch_q, torch_k, torch_v,
                                                                 **torch_kwargs)
    ember_out = F.scaled_dot_product_attention(ember_q, ember_k, ember_v, **ember_kwargs)
    assert_close(ember_out, torch_out, atol=1e-5)
    _backward_both(torch, torch_out, ember_out)
    for torch_leaf, ember_leaf in ((torch_q, ember_q), (torch_k, ember_k), (torch_v, ember_v)):
        assert_close(ember_leaf.grad, torch_leaf.grad, rtol=1e-4, atol=1e-5)


def test_sdpa_fully_masked_rows_give_zeros_and_finite_gradients_as_torch(torch):
    torch_q, ember_q = _leaf_pair(torch, (2, 3, 4), 1)
    torch_k, ember_k = _leaf_pair(torch, (2, 5, 4), 2)
    torch_v, ember_v = _leaf_pair(torch, (2, 5, 6), 3)
    mask = np.ones((3, 5), dtype=bool)
    mask[1] = False
    torch_mask, ember_mask = _mask_pair(torch, mask)
    torch_out = torch.nn.functional.scaled_dot_product_attention(torch_q, torch_k, torch_v,
                                                                 attn_mask=torch_mask)
    ember_out = F.scaled_dot_product_attention(ember_q, ember_k, ember_v, attn_mask=ember_mask)
    assert_close(ember_out, torch_out, atol=1e-5)
    assert np.all(ember_out.detach().numpy()[:, 1] == 0)
    _backward_both(torch, torch_out, ember_out)
    for torch_leaf, ember_leaf in ((torch_q, ember_q), (torch_k, ember_k), (torch_v, ember_v)):
        assert np.isfinite(ember_leaf.grad.numpy()).all()
        assert_close(ember_leaf.grad, torch_leaf.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mask_kind", ["float_padding", "bool_padding", "float_dense"])
@pytest.mark.parametrize("shape", [(3, 4, 37, 16), (2, 2, 9, 8)])
def test_sdpa_masked_scores_in_the_compiled_rows_match_torch(torch, mask_kind, shape):
    # padding masks (some rows without any key) and a dense float mask on float32 scores large
    # enough for the compiled exp-and-sum rows: outputs and gradients as torch
    batch, heads, length, size = shape
    random = np.random.default_rng(length)
    torch_q, ember_q = _leaf_pair(torch, shape, 1)
    torch_k, ember_k = _leaf_pair(torch, shape, 2)
    torch_v, ember_v = _leaf_pair(torch, shape[:-1] + (size + 3,), 3)
    if mask_kind == "float_dense":
        mask = random.standard_normal((length, length)).astype(np.float32) * 3
    else:
        keep = np.arange(length) < random.integers(1, length + 1, (batch, 1, length, 1))
        keep[0, 0, 2] = False  # a query row without any key
        mask = keep if mask_kind == "bool_padding" else np.where(keep, 0, -np.inf).astype(
            np.float32)
    torch_mask, ember_mask = _mask_pair(torch, mask)
    torch_out = torch.nn.functional.scaled_dot_product_attention(torch_q, torch_k, torch_v,
                                                                 attn_mask=torch_mask)
    ember_out = F.scaled_dot_product_attention(ember_q, ember_k, ember_v, attn_mask=ember_mask)
    expected = torch_out.detach().numpy()
    finite = np.isfinite(expected)  # torch's float -inf row is NaN, its bool one 0
    np.testing.assert_array_equal(np.isfinite(ember_out.detach().numpy()), finite)
    np.testing.assert_allclose(ember_out.detach().numpy()[finite], expected[finite], atol=1e-5)
    if finite.all():
        _backward_both(torch, torch_out, ember_out)
        for torch_leaf, ember_leaf in ((torch_q, ember_q), (torch_k, ember_k),
                                       (torch_v, ember_v)):
            assert_close(ember_leaf.grad, torch_leaf.grad, rtol=1e-4, atol=1e-5)


def test_sdpa_grouped_query_attention_matches_torch(torch):
    torch_q, ember_q = _leaf_pair(torch, (2, 4, 3, 8), 1)
    torch_k, ember_k = _leaf_pair(torch, (2, 2, 5, 8), 2)
    torch_v, ember_v = _leaf_pair(torch, (2, 2, 5, 8), 3)
    torch_out = torch.nn.functional.scaled_dot_product_attention(torch_q, torch_k, torch_v,
                                                                 enable_gqa=True)
    ember_out = F.scaled_dot_product_attention(ember_q, ember_k, ember_v, enable_gqa=True)
    assert_close(ember_out, torch_out, atol=1e-5)
    _backward_both(torch, torch_out, ember_out)
    assert_close(ember_k.grad, torch_k.grad, rtol=1e-4, atol=1e-5)


def test_sdpa_mask_with_is_causal_is_an_error_where_torch_runs_its_math_kernel(torch):
    q = ember.zeros(2, 3, 4)
    mask = ember.ones(3, 3, dtype=ember.bool)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when "
                                           "is_causal=True"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=mask, is_causal=True)
    q4 = ember.zeros(1, 2, 3, 4)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set"):
        F.scaled_dot_product_attention(q4, q4, q4, attn_mask=mask, is_causal=True, dropout_p=0.5)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set"):
        F.scaled_dot_product_attention(q4, q4, q4, attn_mask=ember.zeros(3, 3, requires_grad=True),
                                       is_causal=True)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_mask_with_is_causal_applies_both_on_4d_inputs_like_torch(torch, kind):
    # 4-D inputs without dropout take PyTorch's CPU flash kernel, which adds the mask to the
    # causal one instead of refusing
    torch_q, ember_q = _leaf_pair(torch, (2, 2, 3, 4), 0)
    torch_k, ember_k = _leaf_pair(torch, (2, 2, 5, 4), 1)
    torch_v, ember_v = _leaf_pair(torch, (2, 2, 5, 4), 2)
    array = np.random.default_rng(3).standard_normal((2, 1, 3, 5)).astype(np.float32)
    torch_mask, ember_mask = _mask_pair(torch, array > -0.5 if kind == "bool" else array)
    torch_out = torch.nn.functional.scaled_dot_product_attention(
        torch_q, torch_k, torch_v, attn_mask=torch_mask, is_causal=True)
    ember_out = F.scaled_dot_product_attention(ember_q, ember_k, ember_v, attn_mask=ember_mask,
                                               is_causal=True)
    assert_close(ember_out, torch_out, atol=1e-6)
    _backward_both(torch, torch_out, ember_out)
    assert_close(ember_q.grad, torch_q.grad, rtol=1e-4, atol=1e-5)
    # key 0 is the only one both masks leave to a query whose bool mask removes keys 1 and 2
    q = ember.zeros(1, 1, 2, 1)
    v = ember.arange(3.0).reshape(1, 1, 3, 1)
    out = F.scaled_dot_product_attention(q, ember.zeros(1, 1, 3, 1), v, is_causal=True,
                                         attn_mask=ember.tensor([[True, True, True],
                                                                 [True, False, True]]))
    assert out.flatten().tolist() == [0.0, 0.0]


def test_sdpa_mask_that_does_not_broadcast_raises_like_torch(torch):
    def call(fw):
        q = fw.zeros(2, 3, 4)
        return lambda: fw.nn.functional.scaled_dot_product_attention(
            q, q, q, attn_mask=fw.ones(4, 4, dtype=fw.bool))
    assert_raises_like_torch(call(torch), call(ember), RuntimeError, same_type=True)


@pytest.mark.parametrize("shapes", [
    ((2, 3, 4), (2, 5, 4), (2, 6, 4)), ((2, 3, 4), (2, 5, 3), (2, 5, 4)),
    ((2, 2, 3, 4), (2, 2, 5, 3), (2, 2, 5, 4)), ((2, 3, 4), (3, 5, 4), (3, 5, 4)),
    ((2, 2, 3, 4), (2, 3, 5, 4), (2, 3, 5, 4)), ((2, 2, 3, 4), (2, 2, 5, 4), (3, 2, 5, 4)),
    ((3, 4), (5, 4), (6, 4)), ((3, 4), (5, 3), (5, 4)), ((2, 3, 4), (5, 3), (5, 4)),
    ((3, 4), (2, 5, 3), (2, 5, 4)), ((3, 4), (5, 4), (2, 6, 4)), ((2, 3, 4), (2, 5, 4), (6, 4))])
@pytest.mark.parametrize("query_grad", [False, True])
def test_sdpa_shapes_that_do_not_fit_raise_torchs_math_kernel_error(torch, shapes, query_grad):
    # PyTorch's math kernel fails in its matmuls (query by key^T, then weights by value)
    def call(fw):
        q, k, v = (fw.zeros(*shape) for shape in shapes)
        q.requires_grad_(query_grad)
        return lambda: fw.nn.functional.scaled_dot_product_attention(q, k, v)
    assert_raises_like_torch(call(torch), call(ember), RuntimeError, same_type=True)


@pytest.mark.parametrize("dtypes", [("float32", "float64", "float32"),
                                    ("float16", "float32", "float32"),
                                    ("bfloat16", "bfloat16", "float64")])
def test_sdpa_dtype_mismatch_message_matches_torch(torch, dtypes):
    def call(fw):
        q, k, v = (fw.zeros(1, 2, 3, 4, dtype=getattr(fw, name)) for name in dtypes)
        return lambda: fw.nn.functional.scaled_dot_product_attention(q, k, v)
    with pytest.raises(RuntimeError) as expected:
        call(torch)()
    with pytest.raises(RuntimeError) as raised:
        call(ember)()
    assert str(raised.value) == str(expected.value)


def test_sdpa_float64_gradcheck():
    q = float64_tensor((2, 3, 4), seed=1)
    k = float64_tensor((2, 5, 4), seed=2)
    v = float64_tensor((2, 5, 3), seed=3)
    mask = float64_tensor((3, 5), seed=4)
    assert gradcheck(lambda q, k, v, mask: F.scaled_dot_product_attention(q, k, v, mask),
                     (q, k, v, mask))
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                     (q, k[:, :3], v[:, :3].detach().requires_grad_()))


def test_sdpa_dropout_keeps_the_expected_value():
    """Uniform weights 1/S over ones: each output is (kept count) / (S (1 - p)), mean 1."""
    p = 0.25
    q = ember.zeros(64, 16, 4)
    k = ember.zeros(64, 32, 4)
    v = ember.ones(64, 32, 1)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=p).numpy()
    assert abs(out.mean() - 1) < 0.01
    kept_counts = out * 32 * (1 - p)
    np.testing.assert_allclose(kept_counts, np.round(kept_counts), atol=1e-4)
    assert out.std() > 0.05


# ---- MultiheadAttention ----------------------------------------------------------------------
def _mha_pair(torch, *args, **kwargs):
    torch_module = torch.nn.MultiheadAttention(*args, **kwargs)
    ember_module = nn.MultiheadAttention(*args, **kwargs)
    ember_module.load_state_dict({name: ember.tensor(value.detach().numpy())
                                  for name, value in torch_module.state_dict().items()})
    return torch_module, ember_module


MHA_CASES = {
    "self": dict(),
    "self_no_weights": dict(call=dict(need_weights=False)),
    "per_head_weights": dict(call=dict(average_attn_weights=False)),
    "key_padding_bool": dict(key_padding="bool"),
    "key_padding_float": dict(key_padding="float", call=dict(need_weights=False)),
    "attn_mask_bool_2d": dict(attn_mask="bool2d"),
    "attn_mask_float_3d": dict(attn_mask="float3d", call=dict(average_attn_weights=False)),
    "masks_together": dict(key_padding="bool", attn_mask="bool2d",
                           call=dict(need_weights=False)),
    "causal_hint": dict(attn_mask="causal", call=dict(is_causal=True, need_weights=False)),
    "causal_hint_weights": dict(attn_mask="causal", call=dict(is_causal=True)),
    "causal_hint_padding": dict(attn_mask="causal", key_padding="bool",
                                call=dict(is_causal=True, need_weights=False)),
    "cross_kdim_vdim": dict(module=dict(kdim=3, vdim=5), cross=True),
    "cross_same_dims": dict(cross=True, call=dict(need_weights=False)),
    "key_is_value": dict(key_is_value=True),
    "batch_first": dict(module=dict(batch_first=True), key_padding="bool"),
    "batch_first_cross": dict(module=dict(batch_first=True, kdim=3, vdim=5), cross=True,
                              call=dict(need_weights=False)),
    "unbatched": dict(batched=False, attn_mask="bool2d"),
    "unbatched_cross": dict(batched=False, cross=True, module=dict(kdim=3, vdim=5),
                            key_padding="bool", call=dict(need_weights=False)),
    "no_bias": dict(module=dict(bias=False)),
    "bias_kv_zero_attn": dict(module=dict(add_bias_kv=True, add_zero_attn=True),
                              key_padding="bool", attn_mask="float2d"),
    "dropout_eval": dict(module=dict(dropout=0.5), eval=True),
}


def _mha_masks(case, batch, length, source, heads, batched):
    random = np.random.default_rng(11)
    masks = {}
    if case.get("key_padding") == "bool":
        padding = random.random((batch, source)) > 0.6
        padding[:, 0] = False
        masks["key_padding_mask"] = padding if batched else padding[0]
    elif case.get("key_padding") == "float":
        masks["key_padding_mask"] = random.standard_normal((batch, source)).astype(np.float32)
    if case.get("attn_mask") == "bool2d":
        mask = random.random((length, source)) > 0.6
        mask[:, 0] = False
        masks["attn_mask"] = mask
    elif case.get("attn_mask") == "float2d":
        masks["attn_mask"] = random.standard_normal((length, source)).astype(np.float32)
    elif case.get("attn_mask") == "float3d":
        masks["attn_mask"] = random.standard_normal((batch * heads, length, source)).astype(
            np.float32)
    elif case.get("attn_mask") == "causal":
        masks["attn_mask"] = np.triu(np.ones((length, source), dtype=bool), 1)
    return masks


@pytest.mark.parametrize("name", list(MHA_CASES))
def test_multihead_attention_matches_torch(torch, name):
    case = MHA_CASES[name]
    embed_dim, heads, batch = 8, 2, 3
    length = 4
    source = 5 if case.get("cross") else length
    module_kwargs = case.get("module", {})
    batched = case.get("batched", True)
    batch_first = module_kwargs.get("batch_first", False)
    torch_module, ember_module = _mha_pair(torch, embed_dim, heads, **module_kwargs)
    if case.get("eval"):
        torch_module.eval()
        ember_module.eval()

    def shape(sequence, features):
        if not batched:
            return (sequence, features)
        return (batch, sequence, features) if batch_first else (sequence, batch, features)

    torch_q, ember_q = _leaf_pair(torch, shape(length, embed_dim), 1)
    leaves = [(torch_q, ember_q)]
    if case.get("cross"):
        torch_k, ember_k = _leaf_pair(torch, shape(source, module_kwargs.get("kdim", embed_dim)),
                                      2)
        torch_v, ember_v = _leaf_pair(torch, shape(source, module_kwargs.get("vdim", embed_dim)),
                                      3)
        leaves += [(torch_k, ember_k), (torch_v, ember_v)]
    elif case.get("key_is_value"):
        torch_k, ember_k = _leaf_pair(torch, shape(source, embed_dim), 2)
        torch_v, ember_v = torch_k, ember_k
        leaves.append((torch_k, ember_k))
    else:
        torch_k = torch_v = torch_q
        ember_k = ember_v = ember_q
    masks = _mha_masks(case, batch, length, source, heads, batched)
    torch_masks = {key: torch.tensor(value) for key, value in masks.items()}
    ember_masks = {key: ember.tensor(value) for key, value in masks.items()}
    call = case.get("call", {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch_out, torch_weights = torch_module(torch_q, torch_k, torch_v, **torch_masks, **call)
        ember_out, ember_weights = ember_module(ember_q, ember_k, ember_v, **ember_masks, **call)
    assert_close(ember_out, torch_out, atol=1e-5)
    if torch_weights is None:
        assert ember_weights is None
    else:
        assert_close(ember_weights, torch_weights, atol=1e-6)
    _backward_both(torch, torch_out, ember_out)
    for torch_leaf, ember_leaf in leaves:
        assert_close(ember_leaf.grad, torch_leaf.grad, rtol=1e-4, atol=1e-5)
    torch_parameters = dict(torch_module.named_parameters())
    for parameter_name, parameter in ember_module.named_parameters():
        assert_close(parameter.grad, torch_parameters[parameter_name].grad, rtol=1e-4,
                     atol=1e-5)


def test_attention_weights_gradient_matches_torch(torch):
    torch_module, ember_module = _mha_pair(torch, 6, 3)
    torch_q, ember_q = _leaf_pair(torch, (4, 2, 6), 1)
    _, torch_weights = torch_module(torch_q, torch_q, torch_q, average_attn_weights=False)
    _, ember_weights = ember_module(ember_q, ember_q, ember_q, average_attn_weights=False)
    assert tuple(ember_weights.shape) == (2, 3, 4, 4)
    _backward_both(torch, torch_weights, ember_weights)
    assert_close(ember_q.grad, torch_q.grad, rtol=1e-4, atol=1e-5)
    assert_close(ember_module.in_proj_weight.grad, torch_module.in_proj_weight.grad, rtol=1e-4,
                 atol=1e-5)


def test_fully_padded_sequence_is_nan_with_weights_and_zero_without_as_torch(torch):
    torch_module, ember_module = _mha_pair(torch, 4, 2)
    torch_x, ember_x = _leaf_pair(torch, (3, 2, 4), 1, requires_grad=False)
    padding = np.zeros((2, 3), dtype=bool)
    padding[1] = True
    for need_weights in (True, False):
        torch_out, _ = torch_module(torch_x, torch_x, torch_x, need_weights=need_weights,
                                    key_padding_mask=torch.tensor(padding))
        ember_out, _ = ember_module(ember_x, ember_x, ember_x, need_weights=need_weights,
                                    key_padding_mask=ember.tensor(padding))
        assert_close(ember_out, torch_out, atol=1e-5)
        assert np.isnan(ember_out.detach().numpy()[:, 1]).all() == need_weights


@pytest.mark.parametrize("kwargs", [
    {}, dict(kdim=3, vdim=5), dict(bias=False), dict(add_bias_kv=True), dict(batch_first=True)])
def test_state_dict_keys_shapes_and_repr_match_torch(torch, kwargs):
    torch_module = torch.nn.MultiheadAttention(8, 2, **kwargs)
    ember_module = nn.MultiheadAttention(8, 2, **kwargs)
    torch_state = torch_module.state_dict()
    ember_state = ember_module.state_dict()
    assert list(ember_state) == list(torch_state)
    for key in torch_state:
        assert tuple(ember_state[key].shape) == tuple(torch_state[key].shape)
    assert repr(ember_module) == repr(torch_module)
    assert (ember_module.in_proj_weight is None) == (torch_module.in_proj_weight is None)
    assert ember_module.head_dim == torch_module.head_dim
    assert ember_module._qkv_same_embed_dim == torch_module._qkv_same_embed_dim


def test_default_init_matches_torch_rules():
    embed_dim = 64
    module = nn.MultiheadAttention(embed_dim, 4, add_bias_kv=True)
    in_proj = module.in_proj_weight.detach().numpy()
    xavier_bound = math.sqrt(6.0 / (embed_dim + 3 * embed_dim))
    assert np.abs(in_proj).max() <= xavier_bound
    assert np.abs(in_proj).max() > 0.95 * xavier_bound
    assert abs(in_proj.std() - xavier_bound / math.sqrt(3)) < 0.05 * xavier_bound
    assert np.all(module.in_proj_bias.detach().numpy() == 0)
    assert np.all(module.out_proj.bias.detach().numpy() == 0)
    out_proj = module.out_proj.weight.detach().numpy()
    linear_bound = 1 / math.sqrt(embed_dim)
    assert np.abs(out_proj).max() <= linear_bound
    assert np.abs(out_proj).max() > 0.95 * linear_bound
    bias_k = module.bias_k.detach().numpy()
    assert 0.5 < bias_k.std() / math.sqrt(2.0 / (2 * embed_dim)) < 1.5
    separate = nn.MultiheadAttention(embed_dim, 4, kdim=32)
    bound = math.sqrt(6.0 / (embed_dim + 32))
    assert np.abs(separate.k_proj_weight.detach().numpy()).max() <= bound


def test_dropout_in_training_drops_attention_weights():
    p = 0.5
    module = nn.MultiheadAttention(8, 2, dropout=p)
    x = ember.randn(6, 4, 8)
    module.eval()
    _, eval_weights = module(x, x, x, average_attn_weights=False)
    module.train()
    _, train_weights = module(x, x, x, average_attn_weights=False)
    eval_weights = eval_weights.detach().numpy()
    train_weights = train_weights.detach().numpy()
    dropped = train_weights == 0
    assert 0.4 < dropped.mean() < 0.6
    np.testing.assert_allclose(train_weights[~dropped], eval_weights[~dropped] / (1 - p),
                               rtol=1e-5)


def test_multihead_attention_forward_float64_gradcheck():
    embed_dim, heads = 4, 2
    query = float64_tensor((3, 2, embed_dim), seed=1)
    key = float64_tensor((5, 2, embed_dim), seed=2)
    value = float64_tensor((5, 2, embed_dim), seed=3)
    in_proj_weight = float64_tensor((3 * embed_dim, embed_dim), seed=4)
    in_proj_bias = float64_tensor((3 * embed_dim,), seed=5)
    out_weight = float64_tensor((embed_dim, embed_dim), seed=6)
    out_bias = float64_tensor((embed_dim,), seed=7)
    padding = ember.tensor(np.array([[False] * 4 + [True], [False] * 5]))

    def run(query, key, value, in_proj_weight, in_proj_bias, out_weight, out_bias):
        return F.multi_head_attention_forward(
            query, key, value, embed_dim, heads, in_proj_weight, in_proj_bias, None, None,
            False, 0.0, out_weight, out_bias, key_padding_mask=padding,
            average_attn_weights=False)

    assert gradcheck(run, (query, key, value, in_proj_weight, in_proj_bias, out_weight,
                           out_bias))


def _errors(call):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except Exception as error:  # noqa: BLE001 - the type and text are what is compared
        return type(error).__name__, str(error).replace("torch.Size", "Size").replace(
            "ember.Size", "Size")
    return None


@pytest.mark.parametrize("index", range(10))
def test_forward_errors_match_torch(torch, index):
    def inputs(library):
        x = library.zeros(3, 2, 4)
        cases = [
            ((x, x, x), dict(is_causal=True)),
            ((x, x, x), dict(attn_mask=library.zeros(2, 2))),
            ((x, x, x), dict(attn_mask=library.zeros(2, 2, 2))),
            ((x, x, x), dict(attn_mask=library.zeros(2, 2, 2, 2))),
            ((x, x[0], x), {}),
            ((x, x, x), dict(key_padding_mask=library.zeros(2, 3, dtype=library.int64))),
            ((x, x, x), dict(key_padding_mask=library.zeros(2, 4, dtype=library.bool))),
            ((x, x, x), dict(key_padding_mask=library.zeros(3, 3, dtype=library.bool),
                             need_weights=False)),
            ((x[0], x[0], x[0]), dict(attn_mask=library.zeros(3, 3, 3))),
            ((library.zeros(1, 3, 2, 4),) * 3, {}),
        ]
        return cases[index]

    torch_args, torch_kwargs = inputs(torch)
    ember_args, ember_kwargs = inputs(ember)
    expected = _errors(lambda: torch.nn.MultiheadAttention(4, 2)(*torch_args, **torch_kwargs))
    assert expected is not None
    assert _errors(lambda: nn.MultiheadAttention(4, 2)(*ember_args, **ember_kwargs)) == expected


@pytest.mark.parametrize("args", [(5, 2), (0, 2), (4, 0)])
def test_constructor_errors_match_torch(torch, args):
    expected = _errors(lambda: torch.nn.MultiheadAttention(*args))
    assert expected is not None
    assert _errors(lambda: nn.MultiheadAttention(*args)) == expected


def test_mismatched_mask_types_warn_as_torch():
    module = nn.MultiheadAttention(4, 2)
    x = ember.zeros(3, 2, 4)
    with pytest.warns(UserWarning, match="Support for mismatched key_padding_mask and attn_mask "
                                         "is deprecated"):
        module(x, x, x, key_padding_mask=ember.zeros(2, 3, dtype=ember.bool),
               attn_mask=ember.zeros(3, 3))


@pytest.mark.parametrize("need_weights", [True, False])
def test_eval_without_grad_matches_torch_fast_path(torch, need_weights):
    """torch takes its fused inference path here (eval, no grad, batch_first self-attention)."""
    torch_module, ember_module = _mha_pair(torch, 8, 2, batch_first=True)
    torch_module.eval()
    ember_module.eval()
    array = np.random.default_rng(3).standard_normal((3, 4, 8)).astype(np.float32)
    padding = np.zeros((3, 4), dtype=bool)
    padding[0, 2:] = True
    with torch.no_grad(), ember.no_grad():
        torch_x = torch.tensor(array)
        ember_x = ember.tensor(array)
        torch_out, torch_weights = torch_module(torch_x, torch_x, torch_x,
                                                key_padding_mask=torch.tensor(padding),
                                                need_weights=need_weights)
        ember_out, ember_weights = ember_module(ember_x, ember_x, ember_x,
                                                key_padding_mask=ember.tensor(padding),
                                                need_weights=need_weights)
    assert_close(ember_out, torch_out, atol=1e-5)
    if need_weights:
        assert_close(ember_weights, torch_weights, atol=1e-6)
    else:
        assert ember_weights is None and torch_weights is None


SDPA_LAYOUTS = [
    ("contiguous", None, {}), ("heads_last", (0, 2, 1, 3), {}),
    ("heads_last_causal", (0, 2, 1, 3), {"is_causal": True}),
    ("contiguous_float_mask", None, {"attn_mask": "float"}),
    ("heads_last_dropout", (0, 2, 1, 3), {"dropout_p": 0.5}),
]


@pytest.mark.parametrize("name, order, options", SDPA_LAYOUTS, ids=[row[0] for row in SDPA_LAYOUTS])
def test_sdpa_output_layout_follows_query_like_torch(torch, name, order, options):
    """PyTorch's CPU kernel returns its output laid out as the query (heads-last for the usual
    ``view(N, L, H, E).transpose(1, 2)``, row-major for a contiguous query, row-major with
    dropout): ``out.view(N * H, L, E)`` works exactly where it does in PyTorch."""
    shape = (2, 3, 4, 8)
    data = np.random.default_rng(1).standard_normal((3,) + shape).astype(np.float32)
    strides = []
    for library in (torch, ember):
        tensors = []
        for array in data:
            if order is None:
                tensors.append(library.tensor(array))
            else:
                tensors.append(library.tensor(np.ascontiguousarray(array.transpose(order)))
                               .permute(*order))
        extra = dict(options)
        if extra.get("attn_mask") == "float":
            extra["attn_mask"] = library.tensor(np.linspace(-1, 1, 20, dtype=np.float32)
                                                .reshape(4, 5)[:, :4])
        output = library.nn.functional.scaled_dot_product_attention(*tensors, **extra)
        strides.append((output.stride(), output.is_contiguous()))
    assert strides[1] == strides[0]


def _sdpa_inputs(library, dtype, shape, source, heads_last, requires_grad=False):
    """query, key and value tensors of ``library``; with ``heads_last`` the heads' strided views
    of one (N, L, 3 H E) projection, as a GPT block splits them."""
    rng = np.random.default_rng(sum(shape) + source)
    *batch, length, size = shape
    if not heads_last:
        return [library.tensor(rng.standard_normal(tuple(batch) + (rows, size)).astype(dtype),
                               requires_grad=requires_grad) for rows in (length, source, source)]
    samples, heads = batch
    projection = library.tensor(
        rng.standard_normal((samples, length, 3 * heads * size)).astype(dtype),
        requires_grad=requires_grad)
    return [part.view(samples, length, heads, size).transpose(1, 2)
            for part in projection.split(heads * size, dim=2)]


UNTRACKED_SDPA = [
    ((1, 4, 1, 32), 1, True), ((1, 4, 8, 32), 8, True), ((1, 4, 32, 32), 32, True),
    ((1, 4, 128, 32), 128, True), ((2, 3, 5, 7), 5, False), ((3, 6, 4), 9, False),
    ((4, 3), 2, False), ((2, 2, 9, 4), 3, False), ((1, 1, 1, 5), 0, False),
    ((1, 2, 0, 4), 3, False), ((1, 1, 0, 2), 0, False),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, source, heads_last", UNTRACKED_SDPA)
@pytest.mark.parametrize("options", [{"is_causal": True}, {}, {"scale": 0.3}])
def test_sdpa_without_a_graph_equals_the_recorded_node_and_torch(torch, dtype, shape, source,
                                                                 heads_last, options):
    # under no_grad (or without inputs that need grad) scaled_dot_product_attention skips its
    # node: bit for bit the recorded forward's output, in the same memory layout
    leaves = _sdpa_inputs(ember, dtype, shape, source, heads_last, requires_grad=True)
    recorded = F.scaled_dot_product_attention(*leaves, **options)
    assert recorded.grad_fn is not None
    with ember.no_grad():
        plain = F.scaled_dot_product_attention(*leaves, **options)
    constants = _sdpa_inputs(ember, dtype, shape, source, heads_last)
    frozen = F.scaled_dot_product_attention(*constants, **options)
    with ember.inference_mode():
        inferred = F.scaled_dot_product_attention(*leaves, **options)
    for out in (plain, frozen, inferred):
        np.testing.assert_array_equal(out.detach().numpy(), recorded.detach().numpy())
        assert out.stride() == recorded.stride() and out.dtype == recorded.dtype
    assert plain.grad_fn is None and not plain.requires_grad and frozen.grad_fn is None
    assert inferred.is_inference() and not plain.is_inference()
    with torch.no_grad():
        expected = torch.nn.functional.scaled_dot_product_attention(
            *_sdpa_inputs(torch, dtype, shape, source, heads_last), **options)
    tolerance = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(plain.numpy(), expected.numpy(), rtol=tolerance * 10,
                               atol=tolerance)
    if plain.numel():  # (ember's empty tensors report zero strides)
        assert plain.stride() == expected.stride()


@pytest.mark.parametrize("options", [{"attn_mask": "bool"}, {"attn_mask": "float"},
                                     {"dropout_p": 1.0}, {"enable_gqa": True}])
def test_sdpa_without_a_graph_keeps_the_node_for_masks_dropout_and_gqa(torch, options):
    options = dict(options)
    mask = options.get("attn_mask")
    if mask == "bool":
        options["attn_mask"] = np.tril(np.ones((6, 6), bool))
    elif mask == "float":
        options["attn_mask"] = np.linspace(-1, 1, 36, dtype=np.float32).reshape(6, 6)
    results = []
    for library in (ember, torch):
        keywords = {name: library.tensor(value) if isinstance(value, np.ndarray) else value
                    for name, value in options.items()}
        with library.no_grad():
            if library is torch and "dropout_p" in options:
                library.manual_seed(0)
            results.append(library.nn.functional.scaled_dot_product_attention(
                *_sdpa_inputs(library, np.float32, (2, 4, 6, 8), 6, True), **keywords).numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-6)


def test_sdpa_without_a_graph_raises_as_torch(torch):
    # the skipped node's checks: each bad call still gets the recorded path's error, of torch's
    # type
    good = np.zeros((1, 2, 3, 4), np.float32)
    calls = [
        (good, good.astype(np.float64), good),
        (good, np.zeros((1, 2, 3, 5), np.float32), good),
        (np.zeros(4, np.float32),) * 3,
        (good.astype(np.int64),) * 3,
    ]
    for arrays in calls:
        errors = []
        for library, grad in ((torch, False), (ember, False), (ember, True)):
            tensors = [library.tensor(array, requires_grad=grad and array.dtype.kind == "f")
                       for array in arrays]
            with pytest.raises(Exception) as error, library.set_grad_enabled(grad):
                library.nn.functional.scaled_dot_product_attention(*tensors, is_causal=True)
            errors.append(error)
        assert errors[0].type is errors[1].type is errors[2].type
        assert str(errors[1].value) == str(errors[2].value)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("length, source", [(1, 0), (0, 3), (0, 0)])
@pytest.mark.parametrize("is_causal", [False, True])
def test_sdpa_without_queries_or_keys_matches_torch(torch, dtype, length, source, is_causal):
    # no key gives zeros (ember's causal mask had indexed key 0), no query an empty output (the
    # compiled softmax had reshaped zero rows)
    results = []
    for library in (torch, ember):
        tensors = [library.ones(1, 2, rows, 3, dtype=getattr(library, dtype),
                                requires_grad=True) for rows in (length, source, source)]
        output = library.nn.functional.scaled_dot_product_attention(*tensors,
                                                                    is_causal=is_causal)
        output.sum().backward()
        results.append([output.detach().numpy()] + [tensor.grad.numpy() for tensor in tensors])
    for theirs, mine in zip(*results):
        assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("mask_dtype", ["float64", "int64", "float16"])
def test_sdpa_mask_of_another_dtype_names_the_cpp_types_like_torch(torch, mask_dtype):
    """The attn_mask dtype error prints PyTorch's C++ type names (double, float, long int)."""
    def call(fw):
        query = fw.ones(1, 2, 3)
        mask = fw.zeros(2, 2, dtype=getattr(fw, mask_dtype))
        return lambda: fw.nn.functional.scaled_dot_product_attention(query, query, query,
                                                                     attn_mask=mask)
    assert_raises_like_torch(call(torch), call(ember), RuntimeError)
