"""Whole models: a CNN, an LSTM classifier and a small transformer, exported with a dynamic batch
and compared with ember in ONNX Runtime."""
import numpy as np

import ember
import ember.nn as nn
import ember.onnx
from tests.onnx.conftest import floats, integers, op_types


def build_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10))


class LSTMClassifier(nn.Module):
    def __init__(self, vocabulary=30, width=16, classes=4):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, width)
        self.lstm = nn.LSTM(width, width, num_layers=2, batch_first=True, dropout=0.2)
        self.head = nn.Linear(width, classes)

    def forward(self, tokens):
        output, (hidden, _) = self.lstm(self.embedding(tokens))
        return self.head(output[:, -1]) + self.head(hidden[-1])


class TransformerBlock(nn.Module):
    """Pre-norm encoder layer: self-attention and a GELU feed-forward, each with a residual."""

    def __init__(self, width, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attention = nn.MultiheadAttention(width, heads, dropout=0.1, batch_first=True)
        self.norm2 = nn.LayerNorm(width)
        self.feed_forward = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Dropout(0.1),
                                          nn.Linear(hidden, width))

    def forward(self, x, padding_mask):
        normed = self.norm1(x)
        attended, _ = self.attention(normed, normed, normed, key_padding_mask=padding_mask,
                                     need_weights=False)
        x = x + attended
        return x + self.feed_forward(self.norm2(x))


class SmallTransformer(nn.Module):
    """Token and position embeddings, two encoder blocks, mean pooling over the unmasked
    positions, a classifier head."""

    def __init__(self, vocabulary=50, width=16, heads=4, length=12, classes=3):
        super().__init__()
        self.tokens = nn.Embedding(vocabulary, width)
        self.positions = nn.Embedding(length, width)
        self.blocks = nn.ModuleList([TransformerBlock(width, heads, 2 * width)
                                     for _ in range(2)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, classes)

    def forward(self, tokens, padding_mask):
        positions = ember.arange(tokens.shape[1])
        x = self.tokens(tokens) + self.positions(positions)
        for block in self.blocks:
            x = block(x, padding_mask)
        keep = (~padding_mask).float().unsqueeze(-1)
        pooled = (self.norm(x) * keep).sum(1) / keep.sum(1)
        return self.head(pooled).log_softmax(-1)


def _tokens_and_mask(batch, length=10):
    tokens = integers(50, batch, length, seed=batch)
    lengths = np.random.default_rng(batch).integers(3, length + 1, batch)
    mask = ember.tensor(np.arange(length)[None, :] >= lengths[:, None])
    return [tokens, mask]


def test_cnn(exporter):
    model = build_cnn()
    model(floats(4, 1, 28, 28))  # training-mode forward: BatchNorm statistics move
    proto = exporter.check(model, lambda batch: [floats(batch, 1, 28, 28, seed=batch)])
    assert op_types(proto) == ["Conv", "BatchNormalization", "Relu", "MaxPool", "Conv",
                               "BatchNormalization", "Relu", "MaxPool", "Reshape", "Gemm",
                               "Relu", "Gemm"]
    assert model.training  # the mode export switched to eval is back


def test_lstm_classifier(exporter):
    proto = exporter.check(LSTMClassifier(), lambda batch: [integers(30, batch, 9, seed=batch)])
    assert op_types(proto).count("LSTM") == 2


def test_small_transformer(exporter):
    model = SmallTransformer()
    proto = exporter.check(model, _tokens_and_mask)
    assert "LayerNormalization" in op_types(proto)
    assert "Softmax" in op_types(proto)


def test_small_transformer_with_dynamic_sequence_length(exporter):
    model = SmallTransformer()
    proto = ember.onnx.export(model, tuple(_tokens_and_mask(2)), None,
                              input_names=["tokens", "mask"],
                              dynamic_axes={"tokens": {0: "batch", 1: "time"},
                                            "mask": {0: "batch", 1: "time"}})
    session = exporter.session(proto)
    for batch, length in ((2, 10), (3, 7), (6, 12)):
        tokens, mask = _tokens_and_mask(batch, length)
        with ember.evaluating(model):
            expected = model(tokens, mask).numpy()
        got = session.run(None, {"tokens": tokens.numpy(), "mask": mask.numpy()})[0]
        assert np.abs(got - expected).max() <= 1e-5
