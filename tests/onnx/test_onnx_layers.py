"""Every covered layer and op: exported with a dynamic batch (example batch 2), checked by
onnx.checker, run in ONNX Runtime at batch 2 and 5 and compared with ember's eval output."""
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
import ember.onnx
from tests.onnx.conftest import floats, integers, op_types


def one(*shape):
    """make_inputs for a single float input of shape (batch, *shape)."""
    return lambda batch: [floats(batch, *shape, seed=batch)]


LAYERS = [
    ("linear", lambda: nn.Linear(6, 4), one(6), "Gemm"),
    ("linear_no_bias", lambda: nn.Linear(6, 4, bias=False), one(6), "Gemm"),
    ("linear_3d", lambda: nn.Linear(6, 4, bias=False), one(3, 6), "MatMul"),
    ("conv1d", lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), one(3, 11), "Conv"),
    ("conv2d", lambda: nn.Conv2d(4, 6, 3, padding="same", dilation=2, groups=2), one(4, 9, 9),
     "Conv"),
    ("conv_transpose2d", lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1,
                                                    output_padding=1), one(3, 5, 5),
     "ConvTranspose"),
    ("max_pool2d", lambda: nn.MaxPool2d(3, stride=2, padding=1), one(2, 9, 9), "MaxPool"),
    ("max_pool2d_ceil", lambda: nn.MaxPool2d(3, stride=2, ceil_mode=True), one(2, 8, 8),
     "MaxPool"),
    ("max_pool2d_ceil_last_window_dropped", lambda: nn.MaxPool2d(2, stride=3, padding=1,
                                                                 ceil_mode=True),
     one(2, 8, 8), "Slice"),
    ("max_pool1d", lambda: nn.MaxPool1d(2), one(3, 9), "MaxPool"),
    ("avg_pool2d", lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True,
                                        count_include_pad=False), one(2, 8, 8), "AveragePool"),
    ("avg_pool2d_padding_counted", lambda: nn.AvgPool2d(3, stride=2, padding=1),
     one(2, 7, 7), "AveragePool"),
    ("avg_pool2d_padding_counted_ceil", lambda: nn.AvgPool2d(2, stride=3, padding=1,
                                                             ceil_mode=True),
     one(2, 8, 8), "Slice"),
    ("avg_pool2d_divisor", lambda: nn.AvgPool2d(2, divisor_override=3), one(2, 6, 6),
     "AveragePool"),
    ("avg_pool1d", lambda: nn.AvgPool1d(3, stride=1, padding=1), one(3, 7), "AveragePool"),
    ("adaptive_avg_pool2d_global", lambda: nn.AdaptiveAvgPool2d(1), one(3, 5, 5),
     "GlobalAveragePool"),
    ("adaptive_avg_pool2d_tiles", lambda: nn.AdaptiveAvgPool2d((2, 3)), one(3, 4, 6),
     "AveragePool"),
    ("adaptive_avg_pool2d_uneven", lambda: nn.AdaptiveAvgPool2d((3, 2)), one(3, 5, 7),
     "MatMul"),
    ("adaptive_avg_pool1d", lambda: nn.AdaptiveAvgPool1d(1), one(3, 5), "GlobalAveragePool"),
    ("adaptive_max_pool2d", lambda: nn.AdaptiveMaxPool2d(1), one(3, 5, 5), "GlobalMaxPool"),
    ("batch_norm1d", lambda: _trained_batch_norm(nn.BatchNorm1d(5)), one(5),
     "BatchNormalization"),
    ("batch_norm2d", lambda: _trained_batch_norm(nn.BatchNorm2d(3)), one(3, 4, 4),
     "BatchNormalization"),
    ("batch_norm2d_no_affine", lambda: _trained_batch_norm(nn.BatchNorm2d(3, affine=False)),
     one(3, 4, 4), "BatchNormalization"),
    ("layer_norm", lambda: _randomized(nn.LayerNorm((3, 4))), one(2, 3, 4),
     "LayerNormalization"),
    ("group_norm", lambda: _randomized(nn.GroupNorm(2, 4)), one(4, 3, 3),
     "LayerNormalization"),
    ("embedding", lambda: nn.Embedding(10, 4, padding_idx=0),
     lambda batch: [integers(10, batch, 7, seed=batch)], "Gather"),
    ("dropout", lambda: nn.Dropout(0.5), one(6), "Identity"),
    ("flatten", lambda: nn.Flatten(), one(2, 3, 4), "Reshape"),
    ("unflatten", lambda: nn.Unflatten(1, (2, 3)), one(6), "Reshape"),
    ("relu", lambda: nn.ReLU(), one(7), "Relu"),
    ("relu_inplace", lambda: nn.Sequential(nn.Linear(7, 7), nn.ReLU(inplace=True)), one(7),
     "Relu"),
    ("relu6", lambda: nn.ReLU6(), one(7), "Clip"),
    ("gelu", lambda: nn.GELU(), one(7), "Gelu"),
    ("gelu_tanh", lambda: nn.GELU("tanh"), one(7), "Gelu"),
    ("sigmoid", lambda: nn.Sigmoid(), one(7), "Sigmoid"),
    ("tanh", lambda: nn.Tanh(), one(7), "Tanh"),
    ("leaky_relu", lambda: nn.LeakyReLU(0.2), one(7), "LeakyRelu"),
    ("elu", lambda: nn.ELU(0.7), one(7), "Elu"),
    ("selu", lambda: nn.SELU(), one(7), "Selu"),
    ("celu", lambda: nn.CELU(1.3), one(7), "Celu"),
    ("silu", lambda: nn.SiLU(), one(7), "Sigmoid"),
    ("mish", lambda: nn.Mish(), one(7), "Mish"),
    ("softplus", lambda: nn.Softplus(beta=2.0), one(7), "Softplus"),
    ("hardswish", lambda: nn.Hardswish(), one(7), "HardSwish"),
    ("hardsigmoid", lambda: nn.Hardsigmoid(), one(7), "HardSigmoid"),
    ("hardtanh", lambda: nn.Hardtanh(-0.5, 0.5), one(7), "Clip"),
    ("log_sigmoid", lambda: nn.LogSigmoid(), one(7), "Softplus"),
    ("softsign", lambda: nn.Softsign(), one(7), "Div"),
    ("threshold", lambda: nn.Threshold(0.1, 20.0), one(7), "Where"),
    ("hardshrink", lambda: nn.Hardshrink(0.3), one(7), "Shrink"),
    ("softshrink", lambda: nn.Softshrink(0.3), one(7), "Shrink"),
    ("softmax", lambda: nn.Softmax(dim=1), one(7, 3), "Softmax"),
    ("log_softmax", lambda: nn.LogSoftmax(dim=-1), one(7, 3), "LogSoftmax"),
    ("lstm", lambda: nn.LSTM(4, 5, num_layers=2, batch_first=True), one(6, 4), "LSTM"),
    ("lstm_bidirectional", lambda: nn.LSTM(4, 5, bidirectional=True), one(6, 4), "LSTM"),
    ("gru", lambda: nn.GRU(4, 5, batch_first=True, bidirectional=True), one(6, 4), "GRU"),
    ("gru_two_layers", lambda: nn.GRU(4, 5, num_layers=2, bias=False), one(6, 4), "GRU"),
    ("rnn_relu", lambda: nn.RNN(4, 5, nonlinearity="relu", batch_first=True), one(6, 4),
     "RNN"),
]


def _trained_batch_norm(layer):
    """A BatchNorm whose running statistics and affine parameters are not the defaults."""
    with ember.no_grad():
        layer.running_mean.copy_(floats(layer.num_features, seed=1) * 0.5)
        layer.running_var.copy_(floats(layer.num_features, seed=2).abs() + 0.5)
        if layer.affine:
            layer.weight.copy_(floats(layer.num_features, seed=3))
            layer.bias.copy_(floats(layer.num_features, seed=4))
    return layer


def _randomized(layer):
    with ember.no_grad():
        for number, parameter in enumerate(layer.parameters()):
            parameter.copy_(floats(*parameter.shape, seed=10 + number))
    return layer


@pytest.mark.parametrize("name, build, make_inputs, op_type", LAYERS,
                         ids=[layer[0] for layer in LAYERS])
def test_layer_matches_onnx_runtime(exporter, name, build, make_inputs, op_type):
    proto = exporter.check(build(), make_inputs)
    assert op_type in op_types(proto)


class Functional(nn.Module):
    """Wraps a function of the inputs as a model."""

    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, *inputs):
        return self.function(*inputs)


FUNCTIONS = [
    ("view_batch", lambda x: x.view(x.size(0), -1), one(2, 3)),
    ("reshape_batch_from_shape", lambda x: x.reshape(x.shape[0], 3, 2) * 2, one(6)),
    ("reshape_rows", lambda x: x.reshape(-1, 2).sum(1), one(6)),
    ("permute_transpose", lambda x: x.permute(2, 0, 1).transpose(0, 1).contiguous(),
     one(3, 4)),
    ("cat_stack", lambda x: ember.stack([ember.cat([x, x * 2], 1), x.exp().repeat(1, 2)], 2),
     one(3)),
    ("slicing", lambda x: x[:, 1:, ::2][..., -1] + x[:, 0, None, 1], one(3, 5)),
    ("flip", lambda x: x.flip(1) * 2 - x.flip((0, 1)), one(5)),
    ("chunk_split", lambda x: x.chunk(2, -1)[1] * x.split([1, 3], -1)[0], one(4)),
    ("unbind", lambda x: x.unbind(1)[2] * x.unbind(2)[0].sum(-1, keepdim=True), one(3, 4)),
    ("index_select", lambda x: x[:, ember.tensor([2, 0, 2])], one(4)),
    ("expand", lambda x: x.unsqueeze(1).expand(-1, 3, -1) + x.mean(), one(4)),
    ("arithmetic", lambda x: (x * 3 - 1) / (x.abs() + 1) + x ** 2 - 2 ** x, one(5)),
    ("unary_math", lambda x: x.exp().log1p() + x.sin() * x.cos() + x.abs().sqrt().rsqrt(),
     one(5)),
    ("reciprocal", lambda x: 2 / (x.abs() + 1) + (x * x + 1).reciprocal(), one(5)),
    ("clamp_where", lambda x: ember.where(x > 0, x.clamp(max=0.5), x.clamp(-0.2, 0.2)),
     one(5)),
    ("comparisons_as_floats", lambda x: (x > 0).float() * 2.0 + (x <= -0.5).float()
     + (x != x).float(), one(5)),
    ("logic", lambda x: ((x > 0) & ~(x > 1)) | (x < -1), one(5)),
    ("reductions", lambda x: ember.cat([x.sum(1), x.mean(1), x.amax(1), x.amin(1),
                                       x.var(1), x.std(1, unbiased=False),
                                       x.logsumexp(1), x.prod(1)], 0), one(4)),
    ("max_with_indices", lambda x: x.max(1), one(4)),
    ("argmax", lambda x: x.argmax(-1, keepdim=True) + x.argmin(0, keepdim=True)
     + x.argmax(), one(4)),
    ("sort_topk", lambda x: x.sort(-1, descending=True)[0] + x.topk(4)[0], one(4)),
    ("cumsum", lambda x: x.cumsum(1), one(4)),
    ("tril", lambda x: x.tril(-1) + x.triu(1), one(4, 4)),
    ("matmul", lambda x: x @ x.transpose(1, 2), one(3, 4)),
    ("pad", lambda x: F.pad(x, (1, 2, 0, 1)) + F.pad(x, (1, 2, 0, 1), mode="reflect")
     + F.pad(x, (1, 2, 0, 1), mode="replicate") + F.pad(x, (1, 2, 0, 1), mode="circular")
     + F.pad(x, (-1, 4, 2, -1), value=0.5), one(2, 4, 4)),
    ("all_any_isnan", lambda x: ((x > 0).all(1), (x > 0).any(), x.isnan().any(1, keepdim=True),
                                 x.isfinite()), one(3, 5)),
    ("floor_ceil_round", lambda x: (x * 3).floor() + (x * 3).ceil() + (x * 3).round()
     + (x * 3).trunc() + x.remainder(0.3), one(5)),
    ("integer_ops", lambda x: (x // 3) + x % 3 - (x * 2).sign(), lambda batch: [
        integers(20, batch, 5, seed=batch) - 10]),
    ("softmax_functional", lambda x: F.softmax(x, 1) + F.log_softmax(x, 1), one(5)),
    ("arange", lambda x: x + ember.arange(x.shape[1]).float(), one(5)),
    ("zeros_from_batch", lambda x: ember.cat([x, ember.zeros(x.shape[0], 2)], 1), one(3)),
]


@pytest.mark.parametrize("name, function, make_inputs", FUNCTIONS,
                         ids=[function[0] for function in FUNCTIONS])
def test_function_matches_onnx_runtime(exporter, name, function, make_inputs):
    exporter.check(Functional(function), make_inputs)


@pytest.mark.parametrize("opset", [13, 14, 17, 18])
def test_older_opsets_spell_out_newer_ops(exporter, opset):
    model = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.LayerNorm(8), nn.Hardswish(),
                          nn.Mish(), nn.Unflatten(1, (2, 4)), nn.GroupNorm(2, 2))
    proto = exporter.check(model, one(6), opset_version=opset)
    assert proto.opset_import[0].version == opset
    assert ("Gelu" in op_types(proto)) == (opset >= 20)
    assert ("LayerNormalization" in op_types(proto)) == (opset >= 17)


class Attention(nn.Module):
    """MultiheadAttention over (batch, time, features), with or without the weights."""

    def __init__(self, need_weights):
        super().__init__()
        self.attention = nn.MultiheadAttention(8, 2, batch_first=True)
        self.need_weights = need_weights

    def forward(self, x, mask=None):
        output, weights = self.attention(x, x, x, key_padding_mask=mask,
                                         need_weights=self.need_weights)
        return output if weights is None else (output, weights)


def _padding_mask(batch):
    mask = floats(batch, 6, seed=batch) > 0.8
    mask[:, 0] = False
    return mask


@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention(exporter, need_weights):
    exporter.check(Attention(need_weights), lambda batch: [floats(batch, 6, 8, seed=batch)])


@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_with_a_padding_mask_input(exporter, need_weights):
    exporter.check(Attention(need_weights),
                   lambda batch: [floats(batch, 6, 8, seed=batch), _padding_mask(batch)])


def test_multihead_attention_with_other_key_and_value_sizes(exporter):
    attention = nn.MultiheadAttention(8, 4, kdim=5, vdim=3)
    model = Functional(lambda query, key, value: attention(query, key, value)[0])
    model.attention = attention
    exporter.check(model, lambda batch: [floats(4, batch, 8, seed=batch),
                                         floats(6, batch, 5, seed=batch + 1),
                                         floats(6, batch, 3, seed=batch + 2)], axis=1)


@pytest.mark.parametrize("causal", [True, False])
def test_scaled_dot_product_attention(exporter, causal):
    def attend(query, key, value, mask):
        if causal:
            return F.scaled_dot_product_attention(query, key, value, is_causal=True)
        return F.scaled_dot_product_attention(query, key, value, attn_mask=mask, scale=0.3)

    def make_inputs(batch):
        mask = floats(batch, 1, 5, 7, seed=batch) > -0.5
        return [floats(batch, 2, 5, 4, seed=batch), floats(batch, 2, 7, 4, seed=batch + 1),
                floats(batch, 2, 7, 4, seed=batch + 2), mask]
    proto = exporter.check(Functional(attend), make_inputs)
    assert "Softmax" in op_types(proto)


def test_lstm_with_dynamic_batch_and_sequence_length(exporter):
    lstm = nn.LSTM(4, 5, batch_first=True)
    model = Functional(lambda x: lstm(x))
    model.lstm = lstm
    proto = ember.onnx.export(model, (floats(2, 6, 4),), None, input_names=["x"],
                              output_names=["y", "h", "c"],
                              dynamic_axes={"x": {0: "batch", 1: "time"},
                                            "y": {0: "batch", 1: "time"}})
    session = exporter.session(proto)
    for batch, time in ((2, 6), (5, 3), (1, 9)):
        x = floats(batch, time, 4, seed=batch + time)
        with ember.evaluating(model):
            expected = [tensor.numpy() for tensor in (model(x)[0],) + model(x)[1]]
        for got, wanted in zip(session.run(None, {"x": x.numpy()}), expected):
            assert abs(got - wanted).max() <= 1e-5
    output = proto.graph.output[0].type.tensor_type.shape.dim
    assert [dim.dim_param or dim.dim_value for dim in output] == ["batch", "time", 5]


@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU])
def test_recurrent_layers_with_initial_states(exporter, kind):
    layer = kind(3, 4, num_layers=2, bidirectional=True)
    lstm = kind is nn.LSTM

    def run(x, hidden, cell):
        return layer(x, (hidden, cell) if lstm else hidden)
    model = Functional(run)
    model.layer = layer
    exporter.check(model, lambda batch: [floats(5, batch, 3, seed=batch),
                                         floats(4, batch, 4, seed=batch + 1),
                                         floats(4, batch, 4, seed=batch + 2)], axis=1)
