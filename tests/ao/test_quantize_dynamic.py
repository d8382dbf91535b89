"""Dynamic quantization: quantize_dynamic's swap, DynamicQuantizedLinear's arithmetic (by hand on
small cases, and bit for bit against PyTorch's fbgemm kernel), its repr, state_dict and
checkpoints, and the quantized tensors that hold its weights."""
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.ao.nn.quantized.dynamic.modules.linear import input_qparams, weight_qparams
from ember.ao.quantization import quantize_dynamic


def _linear(weight, bias=None):
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with ember.no_grad():
        layer.weight.copy_(ember.tensor(weight, dtype=ember.float32))
        if bias is not None:
            layer.bias.copy_(ember.tensor(bias, dtype=ember.float32))
    return layer


def _torch_repr(value):
    return repr(value).replace("ember.", "torch.")


# ---- the arithmetic, by hand ---------------------------------------------------------------------

def test_weight_scale_is_the_symmetric_range_over_127_5():
    weight = np.array([[0.5, -2.55], [1.0, 0.0]], np.float32)
    assert weight_qparams(weight) == np.float32(2.55) / np.float32(127.5)
    assert weight_qparams(np.zeros((2, 2), np.float32)) == np.finfo(np.float32).eps


def test_input_qparams_span_0_to_127():
    # [-1, 1.54]: scale 2.54 / 127 = 0.02, zero point 1 / 0.02 = 50.
    scale, zero_point = input_qparams(-1.0, 1.54)
    assert scale == np.float32(2.54 / 127) and zero_point == 50
    # All positive: the range is extended to 0, so the zero point is 0.
    assert input_qparams(1.0, 12.7) == (np.float32(0.1), 0)
    # All negative: zero point at the top.
    assert input_qparams(-12.7, -1.0)[1] == 127
    # All zero: scale 0.1 (PyTorch avoids an infinite reciprocal).
    assert input_qparams(0.0, 0.0) == (np.float32(0.1), 0)
    # Tiny ranges are cut off at 6.1e-5.
    assert input_qparams(0.0, 1e-9)[0] == np.float32(6.1e-5)


def test_forward_by_hand():
    # Weight scale 1.27 / 127.5; input in [0, 1.27]: scale 0.01, zero point 0.
    weight = np.array([[1.27, -0.635], [0.0, 0.127]], np.float32)
    layer = quantize_dynamic(nn.Sequential(_linear(weight, [0.5, -0.25])), {nn.Linear})[0]
    assert layer.weight().int_repr().tolist() == [[127, -64], [0, 13]]
    x = np.array([[1.27, 0.5]], np.float32)
    output = layer(ember.tensor(x)).numpy()
    x_scale = np.float32(0.01)
    w_scale = np.float32(1.27) / np.float32(127.5)
    accumulated = np.array([[127 * 127 + 50 * -64, 50 * 13]], np.float64)
    expected = (accumulated * np.float64(np.float32(x_scale * w_scale))
                + np.array([0.5, -0.25], np.float64)).astype(np.float32)
    assert np.array_equal(output, expected)


def test_all_zero_input_gives_the_bias():
    layer = quantize_dynamic(nn.Sequential(_linear(np.ones((3, 4)), [1.0, 2.0, 3.0])))[0]
    output = layer(ember.zeros(2, 5, 4))
    assert output.shape == (2, 5, 3) and output.dtype is ember.float32
    assert np.array_equal(output.numpy(), np.broadcast_to([1.0, 2.0, 3.0], (2, 5, 3)))


def test_forward_errors():
    layer = quantize_dynamic(nn.Sequential(nn.Linear(4, 3)))[0]
    with pytest.raises(RuntimeError, match="larger than or equal to 2"):
        layer(ember.zeros(4))
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        layer(ember.zeros(2, 4, dtype=ember.float64))
    with pytest.raises(RuntimeError, match="should be equal to K: 5"):
        layer(ember.zeros(2, 5))


# ---- the swap --------------------------------------------------------------------------------------

def test_quantize_dynamic_copies_swaps_children_and_evals():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2, bias=False))
    quantized = quantize_dynamic(model, {nn.Linear}, dtype=ember.qint8)
    assert type(model[0]) is nn.Linear and model.training
    assert not quantized.training and list(quantized.parameters()) == []
    assert type(quantized[0]).__name__ == "Linear" and quantized[1].qconfig is None
    assert quantized[2].bias() is None
    # the model itself is never replaced, only its children
    assert type(quantize_dynamic(nn.Linear(3, 2))) is nn.Linear
    # by qualified name
    named = quantize_dynamic(model, {"0"})
    assert type(named[2]) is nn.Linear and type(named[0]) is not nn.Linear
    same = quantize_dynamic(model, {nn.Linear}, inplace=True)
    assert same is model and type(model[0]) is not nn.Linear


def test_attention_out_projection_is_not_quantized():
    model = nn.Sequential(nn.MultiheadAttention(4, 2))
    quantized = quantize_dynamic(model, {nn.Linear})
    assert type(quantized[0].out_proj) is type(model[0].out_proj)


def test_unsupported_layers_and_dtypes_are_refused():
    with pytest.raises(NotImplementedError, match="LSTM"):
        quantize_dynamic(nn.Sequential(nn.LSTM(3, 4)))
    with pytest.raises(NotImplementedError, match="qint8 only"):
        quantize_dynamic(nn.Sequential(nn.Linear(3, 4)), {nn.Linear}, dtype=ember.float16)


def test_repr_and_state_dict_keys():
    quantized = quantize_dynamic(nn.Sequential(nn.Linear(4, 3)), {nn.Linear})
    assert repr(quantized[0]) == ("DynamicQuantizedLinear(in_features=4, out_features=3, "
                                  "dtype=ember.qint8, qscheme=ember.per_tensor_affine)")
    state = quantized.state_dict()
    assert list(state) == ["0.scale", "0.zero_point", "0._packed_params.dtype",
                           "0._packed_params._packed_params"]
    assert state["0._packed_params.dtype"] is ember.qint8
    weight, bias = state["0._packed_params._packed_params"]
    assert weight.dtype is ember.qint8 and weight.q_zero_point() == 0 and bias.shape == (3,)


def test_checkpoint_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 2))
    quantized = quantize_dynamic(model, {nn.Linear})
    ember.save(quantized.state_dict(), tmp_path / "q.pt")
    ember.save(model.state_dict(), tmp_path / "f.pt")
    # int8 weights: well under half the float checkpoint
    assert (tmp_path / "q.pt").stat().st_size < (tmp_path / "f.pt").stat().st_size / 2
    other = quantize_dynamic(nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 2)))
    other.load_state_dict(ember.load(tmp_path / "q.pt"))
    x = ember.randn(5, 64)
    assert np.array_equal(other(x).numpy(), quantized(x).numpy())


def test_load_state_dict_validates_before_changing_anything():
    quantized = quantize_dynamic(nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)))
    before = quantized[0].weight()
    state = quantize_dynamic(nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))).state_dict()
    del state["1._packed_params.dtype"]
    with pytest.raises(RuntimeError, match="Missing key.*1._packed_params.dtype"):
        quantized.load_state_dict(state)
    assert quantized[0].weight() is before


def test_quantize_per_tensor():
    quantized = ember.quantize_per_tensor(ember.tensor([0.5, -1.0, 2.0, 30.0]), 0.1, 10,
                                          ember.quint8)
    assert quantized.int_repr().tolist() == [15, 0, 30, 255]
    assert quantized.dequantize().tolist() == pytest.approx([0.5, -1.0, 2.0, 24.5])
    assert quantized.q_scale() == 0.1 and quantized.q_zero_point() == 10
    assert quantized.qscheme() is ember.per_tensor_affine and quantized.shape == (4,)


def test_quantized_dtypes():
    assert repr(ember.qint8) == "ember.qint8" and ember.qint32.itemsize == 4
    assert not ember.qint8.is_floating_point and not ember.quint8.is_complex
    with pytest.raises(RuntimeError, match="isSignedType"):
        ember.qint8.is_signed
    with pytest.raises(NotImplementedError):
        ember.zeros(2, dtype=ember.qint8)


# ---- against PyTorch ---------------------------------------------------------------------------------

def _torch_quantized(torch, torch_linear):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(
            torch.nn.Sequential(torch_linear), {torch.nn.Linear}, dtype=torch.qint8)


def _inputs(rng, kind, shape):
    if kind == "normal":
        return rng.standard_normal(shape) * 10 ** rng.uniform(-6, 3) + rng.uniform(-3, 3)
    if kind == "integers":  # exact ties in the input quantization
        return rng.integers(-20, 20, size=shape).astype(float)
    if kind == "eighths":
        return rng.integers(0, 255, size=shape) / 8.0
    if kind == "zeros":
        return np.zeros(shape)
    if kind == "positive":
        return np.abs(rng.standard_normal(shape))
    return -np.abs(rng.standard_normal(shape)) * 1e-7  # tiny negative: the scale cut-off


@pytest.mark.parametrize("seed", range(12))
def test_bit_exact_with_torch(torch, seed):
    rng = np.random.default_rng(seed)
    kinds = ("normal", "integers", "eighths", "zeros", "positive", "tiny")
    for case in range(15):
        in_features = int(rng.integers(1, 200))
        out_features = int(rng.integers(1, 50))
        shape = [int(size) for size in rng.integers(1, 5, size=rng.integers(1, 4))]
        shape.append(in_features)
        bias = bool(rng.random() < 0.7)
        torch_linear = torch.nn.Linear(in_features, out_features, bias=bias)
        if case % 5 == 4:
            with torch.no_grad():
                torch_linear.weight.mul_(float(rng.choice([1e-6, 1e3, 0.0])))
        x = _inputs(rng, kinds[case % len(kinds)], shape).astype(np.float32)
        torch_model = _torch_quantized(torch, torch_linear)
        with torch.no_grad():
            expected = torch_model(torch.from_numpy(x)).numpy()
        weight = torch_linear.weight.detach().numpy()
        ember_bias = torch_linear.bias.detach().numpy() if bias else None
        model = quantize_dynamic(nn.Sequential(_linear(weight, ember_bias)), {nn.Linear})
        torch_weight = torch_model[0].weight()
        assert model[0].weight().q_scale() == torch_weight.q_scale()
        assert np.array_equal(model[0].weight().int_repr().numpy(),
                              torch_weight.int_repr().numpy())
        output = model(ember.tensor(x)).numpy()
        assert output.dtype == expected.dtype and output.shape == expected.shape
        assert np.array_equal(output.view(np.uint32), expected.view(np.uint32)), case


def test_repr_and_state_dict_match_torch(torch):
    torch_linear = torch.nn.Linear(4, 3)
    torch_model = _torch_quantized(torch, torch_linear)
    model = quantize_dynamic(nn.Sequential(_linear(torch_linear.weight.detach().numpy(),
                                                   torch_linear.bias.detach().numpy())))
    assert _torch_repr(model) == repr(torch_model)
    assert _torch_repr(model[0].weight()) == repr(torch_model[0].weight())
    ember_state = model.state_dict()
    torch_state = torch_model.state_dict()
    assert list(ember_state) == list(torch_state)
    assert _torch_repr(ember_state["0._packed_params.dtype"]) == \
        repr(torch_state["0._packed_params.dtype"])
    for key in ("0.scale", "0.zero_point"):
        assert ember_state[key].item() == torch_state[key].item()
        assert _torch_repr(ember_state[key].dtype) == repr(torch_state[key].dtype)


def test_quantize_per_tensor_matches_torch(torch):
    rng = np.random.default_rng(3)
    values = (rng.standard_normal(200) * 5).astype(np.float32)
    values[:8] = [0.05, 0.15, -0.25, 0.35, 12.75, -12.85, 1e9, -1e9]
    for dtype, scale, zero_point in (("quint8", 0.1, 10), ("qint8", 0.05, -3),
                                     ("qint32", 0.001, 7)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = torch.quantize_per_tensor(torch.from_numpy(values), scale, zero_point,
                                                 getattr(torch, dtype))
        got = ember.quantize_per_tensor(ember.tensor(values), scale, zero_point,
                                        getattr(ember, dtype))
        assert np.array_equal(got.int_repr().numpy(), expected.int_repr().numpy()), dtype
        assert np.array_equal(got.dequantize().numpy(), expected.dequantize().numpy()), dtype
        assert _torch_repr(got) == repr(expected)
