"""ONNX export checks: export, check the model, run it in ONNX Runtime at several batch sizes and
compare with ember's eval-mode outputs. Skipped when onnx or onnxruntime is not installed."""
import sys

import numpy as np
import pytest

import ember

TOLERANCE = 1e-5  # max abs difference, float32


def floats(*shape, seed=0):
    return ember.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def integers(high, *shape, seed=0):
    return ember.tensor(np.random.default_rng(seed).integers(0, high, shape))


def _leaves(output):
    if isinstance(output, (tuple, list)):
        return [leaf for item in output for leaf in _leaves(item)]
    return [output] if output is not None else []


class Exporter:
    """``check(model, make_inputs)``: export ``model`` run on ``make_inputs(batches[0])`` with
    the batch axis (``axis``) of every input dynamic, then compare ONNX Runtime with ember in
    eval mode for every batch size; returns the ModelProto."""

    def __init__(self, onnx, onnxruntime):
        self.onnx = onnx
        self.onnxruntime = onnxruntime

    def session(self, proto):
        return self.onnxruntime.InferenceSession(proto.SerializeToString(),
                                                 providers=["CPUExecutionProvider"])

    def check(self, model, make_inputs, batches=(2, 5), axis=0, dynamic=True,
              tolerance=TOLERANCE, **options):
        inputs = make_inputs(batches[0])
        names = [f"x{number}" for number in range(len(inputs))]
        dynamic_axes = {name: {axis: "batch"} for name in names} if dynamic else None
        was_training = [module.training for module in model.modules()]
        proto = ember.onnx.export(model, tuple(inputs), None, input_names=names,
                                  dynamic_axes=dynamic_axes, **options)
        assert [module.training for module in model.modules()] == was_training
        self.onnx.checker.check_model(proto, full_check=True)
        session = self.session(proto)
        for batch in batches if dynamic else batches[:1]:
            batch_inputs = inputs if batch == batches[0] else make_inputs(batch)
            with ember.evaluating(model):
                expected = _leaves(model(*batch_inputs))
            got = session.run(None, {name: tensor.numpy()
                                     for name, tensor in zip(names, batch_inputs)})
            assert len(got) == len(expected)
            for actual, wanted in zip(got, expected):
                wanted = wanted.numpy()
                assert actual.shape == wanted.shape, (batch, actual.shape, wanted.shape)
                assert actual.dtype == wanted.dtype
                if wanted.dtype.kind == "f":
                    assert np.abs(actual - wanted).max(initial=0) <= tolerance, batch
                else:
                    np.testing.assert_array_equal(actual, wanted)
        return proto


def require_onnx():
    """(onnx, onnxruntime), or a skip. onnx.checker, not onnx: without the package, this
    folder (on sys.path as tests/onnx) would import as an empty namespace package."""
    checker = pytest.importorskip("onnx.checker")
    onnxruntime = pytest.importorskip("onnxruntime")
    return sys.modules[checker.__name__.rpartition(".")[0]], onnxruntime


@pytest.fixture
def exporter():
    return Exporter(*require_onnx())


def op_types(proto):
    return [node.op_type for node in proto.graph.node]
