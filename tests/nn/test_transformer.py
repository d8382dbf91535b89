"""nn.Transformer and its encoder/decoder (layers): state_dict keys and shapes, outputs in eval
and gradients in train (dropout 0) after loading torch's weights, masks and causal hints,
activations by name or callable, initialisation, warnings and errors, all against torch."""
import warnings

import numpy as np
import pytest

import ember
from tests.conftest import load_torch_state

D_MODEL, HEADS, FEEDFORWARD = 8, 2, 16


def _source(batch_first, length=5, batch=3, seed=0, dtype=np.float32):
    shape = (batch, length, D_MODEL) if batch_first else (length, batch, D_MODEL)
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _padding(batch=3, length=5):
    mask = np.zeros((batch, length), dtype=bool)
    mask[0, -2:] = True
    mask[2, -1] = True
    return mask


def _build(fw, kind, **options):
    options.setdefault("dropout", 0.0)
    nn = fw.nn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the nested-tensor warning, checked on its own below
        if kind == "encoder_layer":
            return nn.TransformerEncoderLayer(D_MODEL, HEADS, FEEDFORWARD, **options)
        if kind == "decoder_layer":
            return nn.TransformerDecoderLayer(D_MODEL, HEADS, FEEDFORWARD, **options)
        if kind == "encoder":
            return nn.TransformerEncoder(
                nn.TransformerEncoderLayer(D_MODEL, HEADS, FEEDFORWARD, **options), 2,
                nn.LayerNorm(D_MODEL))
        if kind == "decoder":
            return nn.TransformerDecoder(
                nn.TransformerDecoderLayer(D_MODEL, HEADS, FEEDFORWARD, **options), 2)
        return nn.Transformer(D_MODEL, HEADS, 2, 2, FEEDFORWARD, **options)


def _call(fw, kind, model, arrays, masks):
    tensors = [fw.tensor(array, requires_grad=True) for array in arrays]
    masks = {name: fw.tensor(value) for name, value in masks.items()}
    if kind in ("encoder_layer", "encoder"):
        return model(tensors[0], **masks), tensors
    return model(*tensors, **masks), tensors


def _pair(torch, kind, **options):
    theirs = _build(torch, kind, **options)
    ours = _build(ember, kind, **options)
    load_torch_state(ours, theirs)
    return ours, theirs


VARIANTS = [
    ("encoder_layer", {}, {}),
    ("encoder_layer", {"norm_first": True, "activation": "gelu"}, {}),
    ("encoder_layer", {"batch_first": True, "bias": False}, {"src_key_padding_mask": "padding"}),
    ("encoder", {}, {"mask": "causal"}),
    ("encoder", {"batch_first": True, "norm_first": True},
     {"mask": "causal", "is_causal": True, "src_key_padding_mask": "padding"}),
    ("decoder_layer", {}, {"tgt_mask": "causal", "tgt_is_causal": True}),
    ("decoder_layer", {"norm_first": True, "batch_first": True},
     {"memory_key_padding_mask": "padding"}),
    ("decoder", {}, {"tgt_mask": "causal"}),
    ("transformer", {}, {"tgt_mask": "causal", "src_key_padding_mask": "padding"}),
    ("transformer", {"batch_first": True, "norm_first": True, "activation": "gelu"},
     {"tgt_mask": "causal", "tgt_is_causal": True, "memory_key_padding_mask": "padding"}),
]


def _inputs(kind, batch_first, dtype=np.float32):
    first = _source(batch_first, 5, dtype=dtype)
    if kind in ("encoder_layer", "encoder"):
        return [first]
    if kind == "transformer":
        return [first, _source(batch_first, 4, seed=1, dtype=dtype)]
    return [_source(batch_first, 4, seed=1, dtype=dtype), first]  # tgt (length 4), memory


def _masks(fw, spec, target_length=4, source_length=5):
    masks = {}
    for name, value in spec.items():
        if value == "padding":
            masks[name] = _padding(length=source_length)
        elif value == "causal":
            length = source_length if name in ("mask", "src_mask") else target_length
            masks[name] = fw.nn.Transformer.generate_square_subsequent_mask(length).numpy()
        else:
            masks[name] = value
    return masks


def _split_flags(masks):
    flags = {name: value for name, value in masks.items() if isinstance(value, bool)}
    arrays = {name: value for name, value in masks.items() if not isinstance(value, bool)}
    return arrays, flags


@pytest.mark.parametrize("kind, options, mask_spec", VARIANTS)
def test_state_dict_keys_and_shapes_match_torch(torch, kind, options, mask_spec):
    ours, theirs = _build(ember, kind, **options), _build(torch, kind, **options)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (_, mine), (_, their) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert tuple(mine.shape) == tuple(their.shape)


@pytest.mark.parametrize("kind, options, mask_spec", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eval_outputs_and_train_gradients_match_torch(torch, kind, options, mask_spec, dtype):
    ours, theirs = _pair(torch, kind, **options)
    if dtype == np.float64:
        ours, theirs = ours.double(), theirs.double()
    arrays = _inputs(kind, options.get("batch_first", False), dtype)
    masks, flags = _split_flags(_masks(torch, mask_spec))
    for mode in ("eval", "train"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        our_output, our_inputs = _call(ember, kind, ours, arrays, {**masks})
        their_output, their_inputs = _call(torch, kind, theirs, arrays, {**masks})
        # flags (is_causal hints) go in as keywords next to the masks
        if flags:
            our_output, our_inputs = _call_with_flags(ember, kind, ours, arrays, masks, flags)
            their_output, their_inputs = _call_with_flags(torch, kind, theirs, arrays, masks,
                                                          flags)
        tolerance = 1e-5 if dtype == np.float32 else 1e-10
        np.testing.assert_allclose(our_output.detach().numpy(), their_output.detach().numpy(),
                                   rtol=tolerance, atol=tolerance)
    weights = np.random.default_rng(3).standard_normal(tuple(their_output.shape)).astype(dtype)
    (our_output * ember.tensor(weights)).sum().backward()
    (their_output * torch.tensor(weights)).sum().backward()
    tolerance = 2e-4 if dtype == np.float32 else 1e-9
    for (name, mine), (_, their) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(mine.grad.numpy(), their.grad.numpy(), rtol=tolerance,
                                   atol=tolerance, err_msg=name)
    for mine, their in zip(our_inputs, their_inputs):
        np.testing.assert_allclose(mine.grad.numpy(), their.grad.numpy(), rtol=tolerance,
                                   atol=tolerance)


def _call_with_flags(fw, kind, model, arrays, masks, flags):
    tensors = [fw.tensor(array, requires_grad=True) for array in arrays]
    keywords = {name: fw.tensor(value) for name, value in masks.items()}
    keywords.update(flags)
    if kind in ("encoder_layer", "encoder"):
        return model(tensors[0], **keywords), tensors
    return model(*tensors, **keywords), tensors


def test_callable_activation_and_unbatched_input_match_torch(torch):
    ours, theirs = _pair(torch, "encoder_layer", activation=None)
    ours.activation = ember.nn.functional.silu
    theirs.activation = torch.nn.functional.silu
    ours_module, theirs_module = _pair(torch, "encoder_layer")
    ours_module.activation = ember.nn.SiLU()
    theirs_module.activation = torch.nn.SiLU()
    source = _source(False)[:, 0]  # (S, E): unbatched
    for mine, their in ((ours, theirs), (ours_module, theirs_module)):
        mine.eval()
        their.eval()
        np.testing.assert_allclose(mine(ember.tensor(source)).detach().numpy(),
                                   their(torch.tensor(source)).detach().numpy(), rtol=1e-5,
                                   atol=1e-5)


def test_generate_square_subsequent_mask_matches_torch(torch):
    for size, dtype in ((1, None), (4, None), (3, "float64")):
        ours = ember.nn.Transformer.generate_square_subsequent_mask(
            size, dtype=None if dtype is None else getattr(ember, dtype))
        theirs = torch.nn.Transformer.generate_square_subsequent_mask(
            size, dtype=None if dtype is None else getattr(torch, dtype))
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_transformer_initialisation_is_xavier_uniform_for_matrices():
    ember.manual_seed(0)
    model = ember.nn.Transformer(64, 4, 1, 1, 128, dropout=0.0)
    for name, parameter in model.named_parameters():
        values = parameter.detach().numpy()
        if values.ndim > 1:
            fan_out, fan_in = values.shape[0], values.shape[1]
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            assert np.abs(values).max() <= bound, name
            assert abs(values.std() - bound / np.sqrt(3.0)) < 0.1 * bound, name
        elif name.endswith("norm1.weight") or name.endswith("norm.weight"):
            np.testing.assert_array_equal(values, 1.0)
        elif "bias" in name and "self_attn" in name:
            np.testing.assert_array_equal(values, 0.0)


def test_encoder_layer_initialisation_matches_torch_statistics(torch):
    ours, theirs = _build(ember, "encoder_layer"), _build(torch, "encoder_layer")
    for (name, mine), (_, their) in zip(ours.named_parameters(), theirs.named_parameters()):
        mine, their = mine.detach().numpy(), their.detach().numpy()
        largest = np.abs(their).max()
        assert abs(np.abs(mine).max() - largest) <= 0.25 * largest + 1e-6, name


@pytest.mark.parametrize("options", [{}, {"batch_first": True}, {"batch_first": True,
                                                                  "norm_first": True},
                                     {"batch_first": True, "activation": ember.nn.functional.silu},
                                     {"batch_first": True, "nhead": 1}])
def test_nested_tensor_warning_as_torch(torch, options):
    def build(fw):
        settings = dict(options)
        if "activation" in settings:
            settings["activation"] = fw.nn.functional.silu
        heads = settings.pop("nhead", HEADS)
        layer = fw.nn.TransformerEncoderLayer(D_MODEL, heads, FEEDFORWARD, **settings)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            encoder = fw.nn.TransformerEncoder(layer, 2)
        return [str(warning.message) for warning in caught], encoder.use_nested_tensor

    assert build(ember) == build(torch)


def test_errors_match_torch(torch):
    for fw in (torch, ember):
        with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
            fw.nn.TransformerEncoderLayer(D_MODEL, HEADS, activation="tanh")
    for fw in (torch, ember):
        model = _build(fw, "transformer")
        with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
            model(fw.zeros(5, 3, D_MODEL), fw.zeros(4, 2, D_MODEL))
        with pytest.raises(RuntimeError, match="the feature number of src and tgt"):
            model(fw.zeros(5, 3, D_MODEL), fw.zeros(4, 3, D_MODEL + 1))


def test_enable_nested_tensor_false_is_accepted_and_computes_the_same(torch):
    layer = _build(ember, "encoder_layer", batch_first=True)
    encoder = ember.nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
    assert encoder.use_nested_tensor is False
    source = ember.tensor(_source(True))
    encoder.eval()
    layer.eval()
    np.testing.assert_allclose(encoder(source).detach().numpy(), layer(source).detach().numpy(),
                               rtol=1e-6)


@pytest.mark.parametrize("case", ["no_grad", "frozen", "float_mask", "not_left_aligned",
                                  "mask_check_off", "grad", "train"])
def test_encoder_inference_zeroes_padded_positions_like_torch(torch, case):
    """PyTorch's encoder runs inference with a padding mask on a nested tensor and pads its
    result with zeros before the final norm; a padding mask that is not only trailing, grad
    with trainable weights, or training take the ordinary path."""
    ours, theirs = _pair(torch, "encoder", batch_first=True)
    if case == "mask_check_off":
        ours.mask_check = theirs.mask_check = False
    padding = _padding()
    if case == "not_left_aligned":
        padding[1, 1] = True
    outputs = []
    for fw, model in ((ember, ours), (torch, theirs)):
        model.train(case == "train")
        if case == "frozen":
            model.requires_grad_(False)
        mask = fw.tensor(np.where(padding, -np.inf, 0.0).astype(np.float32)) \
            if case == "float_mask" else fw.tensor(padding)
        with fw.set_grad_enabled(case in ("frozen", "grad", "train")):
            outputs.append(model(fw.tensor(_source(True)), src_key_padding_mask=mask))
    np.testing.assert_allclose(outputs[0].detach().numpy(), outputs[1].detach().numpy(),
                               rtol=1e-5, atol=1e-5)
