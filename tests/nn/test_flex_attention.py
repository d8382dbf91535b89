"""torch.nn.attention.flex_attention against PyTorch's CPU build: outputs and logsumexp under
score_mods and mask_mods (captured tensors, combined masks, GQA, reduced and double precision,
rows with nothing visible), the BlockMask tables, the errors; a float64 gradcheck into a tensor
that a score_mod captures."""
import importlib
import math
import warnings

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from ember.nn.attention import flex_attention as flex
from tests.conftest import assert_close

B, H, L, E = 2, 4, 6, 8
DOCUMENTS = [0, 0, 0, 1, 1, 2]


def _module(library):
    """The flex_attention module of ``library`` (PyTorch does not import it with torch.nn)."""
    return importlib.import_module(f"{library.__name__}.nn.attention.flex_attention")


def _causal(b, h, q_idx, kv_idx):
    return q_idx >= kv_idx


def _sliding(b, h, q_idx, kv_idx):
    return q_idx - kv_idx <= 2


def _first_row_blind(b, h, q_idx, kv_idx):
    return q_idx > 0


def _cases(library):
    """Each case: (score_mod, mask_mod or None) written against ``library``."""
    slopes = library.exp2(-8.0 / H * library.arange(1, H + 1))
    bias = library.tensor(np.random.default_rng(3).normal(size=(H, L, L)).astype(np.float32))
    documents = library.tensor(DOCUMENTS)

    def alibi(score, b, h, q_idx, kv_idx):
        return score + slopes[h] * (kv_idx - q_idx)

    def softcap(score, b, h, q_idx, kv_idx):
        return 20.0 * library.tanh(score / 20.0)

    def relative_bias(score, b, h, q_idx, kv_idx):
        return score + bias[h, q_idx, kv_idx]

    def same_document(b, h, q_idx, kv_idx):
        return documents[q_idx] == documents[kv_idx]

    masks = _module(library)
    return {
        "plain": (None, None),
        "causal": (None, _causal),
        "alibi causal": (alibi, _causal),
        "softcap": (softcap, None),
        "bias, documents and window": (relative_bias,
                                       masks.and_masks(_causal, same_document, _sliding)),
        "window or documents": (None, masks.or_masks(_sliding, same_document)),
        "first row sees nothing": (alibi, _first_row_blind),
    }


def _inputs(library, dtype="float32", kv_heads=H):
    generator = np.random.default_rng(0)
    arrays = [generator.normal(size=(B, heads, L, E)).astype(np.float32)
              for heads in (H, kv_heads, kv_heads)]
    return [library.tensor(array).to(getattr(library, dtype)) for array in arrays]


def _attend(library, case, dtype="float32", kv_heads=H, **options):
    module = _module(library)
    score_mod, mask_mod = _cases(library)[case]
    block_mask = None
    if mask_mod is not None:
        block_mask = module.create_block_mask(mask_mod, B, H, L, L, device="cpu")
    query, key, value = _inputs(library, dtype, kv_heads)
    return module.flex_attention(query, key, value, score_mod=score_mod, block_mask=block_mask,
                                 return_aux=module.AuxRequest(lse=True), **options)


@pytest.mark.parametrize("case", sorted(_cases(ember)))
def test_flex_attention_matches_torch(torch, case):
    ours, our_aux = _attend(ember, case)
    theirs, their_aux = _attend(torch, case)
    assert ours.dtype == ember.float32 and our_aux.max_scores is None
    assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    assert_close(our_aux.lse, their_aux.lse, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype, tolerance", [("bfloat16", 1e-2), ("float64", 1e-12)])
def test_flex_attention_precisions_match_torch(torch, dtype, tolerance):
    ours, our_aux = _attend(ember, "alibi causal", dtype)
    theirs, their_aux = _attend(torch, "alibi causal", dtype)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch", "ember")
    assert str(our_aux.lse.dtype) == str(their_aux.lse.dtype).replace("torch", "ember")
    assert_close(ours.double(), theirs.double(), rtol=tolerance, atol=tolerance)


def test_flex_attention_grouped_query_heads_and_scale_match_torch(torch):
    ours = _attend(ember, "causal", kv_heads=2, enable_gqa=True, scale=0.3)[0]
    theirs = _attend(torch, "causal", kv_heads=2, enable_gqa=True, scale=0.3)[0]
    assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_a_row_with_no_visible_key_gives_zeros_and_an_infinite_lse():
    output, aux = _attend(ember, "first row sees nothing")
    assert np.all(output._data[:, :, 0] == 0)
    assert np.all(aux.lse._data[:, :, 0] == -np.inf)
    assert np.all(np.isfinite(output._data))


def test_deprecated_return_lse_gives_the_pair_with_a_warning(torch):
    results = []
    for library in (ember, torch):
        query, key, value = _inputs(library)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            output, lse = _module(library).flex_attention(
                query, key, value, return_lse=True)
        assert any(issubclass(w.category, FutureWarning) for w in caught)
        results.append((output, lse))
    assert_close(results[0][1], results[1][1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("block_size, separate", [(128, True), (2, True), (2, False), ((2, 4), True)])
def test_block_mask_tables_match_torch(torch, block_size, separate):
    masks = []
    for library in (ember, torch):
        module = _module(library)
        documents = library.tensor([0, 0, 0, 1, 1, 1, 1, 2])

        def document_causal(b, h, q_idx, kv_idx):
            return (documents[q_idx] == documents[kv_idx]) & (q_idx >= kv_idx)
        masks.append(module.create_block_mask(document_causal, 1, 2, 8, 8, device="cpu",
                                              BLOCK_SIZE=block_size,
                                              separate_full_blocks=separate))
    ours, theirs = masks
    for name in ("kv_num_blocks", "kv_indices", "full_kv_num_blocks", "full_kv_indices",
                 "q_num_blocks", "q_indices", "full_q_num_blocks", "full_q_indices"):
        mine, reference = getattr(ours, name), getattr(theirs, name)
        assert (mine is None) == (reference is None), name
        if mine is not None:
            assert mine.dtype == ember.int32, name
            np.testing.assert_array_equal(mine._data, reference.numpy(), err_msg=name)
    assert ours.shape == theirs.shape and ours.BLOCK_SIZE == theirs.BLOCK_SIZE
    assert math.isclose(ours.sparsity(), theirs.sparsity())
    np.testing.assert_array_equal(ours.to_dense()._data, theirs.to_dense().numpy())
    assert repr(ours) == repr(theirs).replace("torch", "ember")


def test_block_mask_pictures_match_torch(torch):
    texts = []
    for library in (ember, torch):
        module = _module(library)
        block_mask = module.create_block_mask(_sliding, 2, 3, 64, 64, device="cpu", BLOCK_SIZE=8)
        texts.append((str(block_mask), block_mask.to_string(grid_size=4, limit=2),
                      block_mask.to_string(grid_size=-1, limit=1)))
    assert texts[0] == texts[1]


def test_adjusted_block_mask_matches_torch(torch):
    masks = []
    for library in (ember, torch):
        module = _module(library)
        block_mask = module.create_block_mask(_causal, 1, 1, 8, 8, device="cpu", BLOCK_SIZE=2)
        masks.append(block_mask._adjust(5, 7))
    ours, theirs = masks
    assert ours.shape == theirs.shape
    for name in ("kv_num_blocks", "kv_indices", "full_kv_num_blocks", "full_kv_indices",
                 "q_num_blocks", "q_indices"):
        np.testing.assert_array_equal(getattr(ours, name)._data, getattr(theirs, name).numpy(),
                                      err_msg=name)


def test_create_block_mask_compile_flag_is_deprecated_as_in_torch(torch):
    messages = []
    for library in (ember, torch):
        # raised as an error, so that PyTorch stops before it compiles anything
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            with pytest.raises(DeprecationWarning) as caught:
                _module(library).create_block_mask(_causal, 1, 1, 4, 4, device="cpu",
                                                   _compile=True)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]


def test_create_mask_matches_torch(torch):
    for mod in (_sliding, lambda score, b, h, q_idx, kv_idx: score - (q_idx < kv_idx) * math.inf):
        ours = flex.create_mask(mod, 1, 2, 5, 7)
        theirs = _module(torch).create_mask(mod, 1, 2, 5, 7, device="cpu")
        assert ours.dtype == ember.bool and tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_array_equal(ours._data, theirs.numpy())


def _error(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 (the error is what is compared)
        return type(error), str(error)
    return None


@pytest.mark.parametrize("problem", ["requires_grad", "heads", "max_scores", "short mask",
                                     "long mask", "backend", "not 4-d"])
def test_flex_attention_errors_match_torch(torch, problem):
    outcomes = []
    for library in (ember, torch):
        module = _module(library)
        query, key, value = _inputs(library)
        arguments = {}
        if problem == "requires_grad":
            value.requires_grad_()
        elif problem == "heads":
            key, value = key[:, :2], value[:, :2]
        elif problem == "max_scores":
            arguments["return_aux"] = module.AuxRequest(max_scores=True)
        elif problem in ("short mask", "long mask"):
            length = 4 if problem == "short mask" else 8
            arguments["block_mask"] = module.create_block_mask(_causal, 1, 1, length, length,
                                                               device="cpu")
        elif problem == "backend":
            arguments["kernel_options"] = {"BACKEND": "FAST"}
        else:
            query, key, value = query[0], key[0], value[0]
        outcomes.append(_error(lambda: module.flex_attention(query, key, value, **arguments)))
    assert outcomes[0] is not None and outcomes[0] == outcomes[1]


def test_gradient_into_a_captured_bias_gradchecks():
    generator = np.random.default_rng(5)
    query, key, value = (ember.tensor(generator.normal(size=(1, 2, 3, 4)))
                         for _ in range(3))
    bias = ember.tensor(generator.normal(size=(2, 3, 3)), requires_grad=True)

    def attend(bias):
        def relative_bias(score, b, h, q_idx, kv_idx):
            return score + bias[h, q_idx, kv_idx]
        mask = flex.create_block_mask(_causal, None, None, 3, 3)
        return flex.flex_attention(query, key, value, score_mod=relative_bias, block_mask=mask)
    assert gradcheck(attend, (bias,))


def test_captured_bias_gradient_matches_torch(torch):
    grads = []
    for library in (ember, torch):
        query, key, value = _inputs(library)
        bias = library.tensor(np.linspace(-1, 1, H * L * L).reshape(H, L, L).astype(np.float32),
                              requires_grad=True)

        def relative_bias(score, b, h, q_idx, kv_idx):
            return score + bias[h, q_idx, kv_idx]
        output = _module(library).flex_attention(
            query, key, value, score_mod=relative_bias)
        output.pow(2).sum().backward()
        grads.append(bias.grad)
    assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-5)
