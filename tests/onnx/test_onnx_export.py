"""ember.onnx.export's API: arguments, files, names, modes, errors, the lazy import, and what
the recorder leaves behind."""
import io
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.onnx
from ember.autograd import function as autograd_function
from tests.onnx.conftest import floats, op_types, require_onnx


def small_model():
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(6, 3))


def _run(proto, feed):
    _, onnxruntime = require_onnx()
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, feed)


# ---- the lazy import -------------------------------------------------------------------------
def _python(code):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def test_importing_ember_and_ember_onnx_does_not_import_onnx():
    result = _python("""
        import sys
        import ember, ember.onnx
        print("onnx" in sys.modules, "onnxruntime" in sys.modules)
        """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_export_without_onnx_raises_one_line_naming_the_extra():
    result = _python("""
        import sys
        sys.modules["onnx"] = None  # as if the package were not installed
        import ember, ember.onnx
        try:
            ember.onnx.export(ember.nn.Linear(2, 2), (ember.zeros(1, 2),), None)
        except ImportError as error:
            print(error)
        """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("ember.onnx.export needs the onnx package: pip install "
                                     "'.[onnx]' in the ember checkout")


# ---- arguments and files ---------------------------------------------------------------------
def test_writes_a_path_or_a_file_and_returns_the_model(tmp_path):
    onnx, _ = require_onnx()
    model = small_model()
    x = floats(2, 4)
    path = tmp_path / "model.onnx"
    proto = ember.onnx.export(model, x, path)
    buffer = io.BytesIO()
    ember.onnx.export(model, (x,), buffer)
    assert onnx.load(str(path)) == proto
    assert onnx.load_from_string(buffer.getvalue()) == proto
    assert proto.producer_name == "ember"
    assert proto.opset_import[0].version == 20


def test_names_dynamic_axes_and_automatic_axis_names():
    require_onnx()
    proto = ember.onnx.export(small_model(), (floats(2, 4),), None, input_names=["features"],
                              output_names=["scores"], dynamic_axes={"features": [0],
                                                                     "scores": {0: "n"}})
    [graph_input] = proto.graph.input
    [graph_output] = proto.graph.output
    assert graph_input.name == "features"
    assert graph_output.name == "scores"
    assert [dim.dim_param or dim.dim_value
            for dim in graph_input.type.tensor_type.shape.dim] == ["features_dynamic_axes_1", 4]
    assert [dim.dim_param or dim.dim_value
            for dim in graph_output.type.tensor_type.shape.dim] == ["n", 3]


def test_keyword_arguments_and_a_trailing_dict():
    require_onnx()

    class Scaled(nn.Module):
        def forward(self, x, scale=None, offset=0.0):
            return x * scale + offset

    x, scale = floats(2, 3), floats(2, 3, seed=1)
    for proto in (ember.onnx.export(Scaled(), (x,), None, kwargs={"scale": scale}),
                  ember.onnx.export(Scaled(), (x, {"scale": scale, "offset": 1.0}), None)):
        assert [graph_input.name for graph_input in proto.graph.input] == ["input_0", "input_1"]
    [got] = _run(proto, {"input_0": x.numpy(), "input_1": scale.numpy()})
    np.testing.assert_allclose(got, (x * scale + 1.0).numpy(), atol=1e-6)


def test_bad_arguments_raise_value_error():
    require_onnx()
    model, x = small_model(), floats(2, 4)
    with pytest.raises(ValueError, match="opset_version must be an int from 13 to 20"):
        ember.onnx.export(model, (x,), None, opset_version=9)
    with pytest.raises(ValueError, match="dynamic_axes names 'y'"):
        ember.onnx.export(model, (x,), None, dynamic_axes={"y": [0]})
    with pytest.raises(ValueError, match="out of range"):
        ember.onnx.export(model, (x,), None, input_names=["x"], dynamic_axes={"x": [2]})
    with pytest.raises(ValueError, match="2 input names given for 1 inputs"):
        ember.onnx.export(model, (x,), None, input_names=["a", "b"])


def test_export_params_false_makes_the_parameters_inputs():
    require_onnx()
    model, x = small_model(), floats(2, 4)
    proto = ember.onnx.export(model, (x,), None, input_names=["x"], export_params=False)
    assert not proto.graph.initializer or all(
        initializer.name.startswith("onnx::") for initializer in proto.graph.initializer)
    names = [graph_input.name for graph_input in proto.graph.input]
    assert names[0] == "x" and "0.weight" in names and "1.running_var" in names
    state = dict(model.named_parameters()) | dict(model.named_buffers())
    feed = {name: state[name].detach().numpy() for name in names[1:]}
    with ember.evaluating(model):
        expected = model(x).numpy()
    [got] = _run(proto, {"x": x.numpy(), **feed})
    assert np.abs(got - expected).max() <= 1e-5


def test_keep_initializers_as_inputs():
    require_onnx()
    proto = ember.onnx.export(small_model(), (floats(2, 4),), None,
                              keep_initializers_as_inputs=True)
    initializers = {initializer.name for initializer in proto.graph.initializer}
    assert initializers and initializers <= {graph_input.name for graph_input in proto.graph.input}


# ---- modes -------------------------------------------------------------------------------------
def test_eval_export_puts_every_layer_mode_back():
    require_onnx()
    model = small_model()
    model[1].eval()  # a layer deliberately left in eval mode inside a training model
    modes = [module.training for module in model.modules()]
    proto = ember.onnx.export(model, (floats(2, 4),), None)
    assert [module.training for module in model.modules()] == modes
    assert "Dropout" not in op_types(proto)  # eval: dropout is off, BatchNorm is inference


def test_training_export_uses_batch_statistics_and_keeps_the_buffers():
    require_onnx()
    model = small_model()
    model[3].p = 0.0  # no dropout: the output is deterministic
    model.eval()
    buffers = {name: tensor.numpy().copy() for name, tensor in model.named_buffers()}
    x = floats(8, 4)
    proto = ember.onnx.export(model, (x,), None, training=ember.onnx.TrainingMode.TRAINING)
    assert not model.training
    for name, tensor in model.named_buffers():
        np.testing.assert_array_equal(tensor.numpy(), buffers[name])
    with ember.training_mode(model), ember.no_grad():
        expected = model(x).numpy()
    [got] = _run(proto, {"input_0": x.numpy()})
    assert np.abs(got - expected).max() <= 1e-5


def test_training_export_keeps_dropout():
    require_onnx()
    proto = ember.onnx.export(small_model(), (floats(8, 4),), None,
                              training=ember.onnx.TrainingMode.TRAINING)
    assert "Dropout" in op_types(proto)
    [got] = _run(proto, {"input_0": floats(8, 4).numpy()})
    assert got.shape == (8, 3)


def test_preserve_follows_the_model_mode():
    require_onnx()
    model = small_model().eval()
    proto = ember.onnx.export(model, (floats(8, 4),), None,
                              training=ember.onnx.TrainingMode.PRESERVE)
    assert "BatchNormalization" in op_types(proto)


# ---- errors ------------------------------------------------------------------------------------
def test_an_op_without_a_translation_names_it():
    require_onnx()
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveMaxPool2d((2, 3)))
    with pytest.raises(ember.onnx.UnsupportedOperatorError,
                       match=r"the operator 'GatherSpatialBackward0'/'GatherSpatial' is not "
                             r"supported by ember\.onnx\.export \(opset 17\): in module '1'"):
        ember.onnx.export(model, (floats(1, 1, 7, 7),), None, opset_version=17)
    assert issubclass(ember.onnx.UnsupportedOperatorError, RuntimeError)


def test_a_function_without_a_translation_is_named_when_its_result_varies():
    require_onnx()

    class Median(nn.Module):
        def forward(self, x):
            return x.median(1)[0] + x.mode(1)[0]
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="'median'|'mode'"):
        ember.onnx.export(Median(), (floats(2, 5),), None)


def test_data_computed_outside_ember_ops_is_refused():
    require_onnx()

    class Sneaky(nn.Module):
        def forward(self, x):
            # NumPy sees the values: the mask is a constant of the run
            mask = ember.tensor((x.detach().numpy() > 0).astype(np.float32))
            return x * mask
    with pytest.raises(ember.onnx.OnnxExporterError,
                       match="a tensor argument of tensor .* computed outside ember's ops"):
        ember.onnx.export(Sneaky(), (floats(2, 5),), None)


def test_sizes_that_do_not_follow_the_dynamic_axes_are_explained():
    require_onnx()

    class Halves(nn.Module):
        def forward(self, x):
            return x[: x.shape[0] // 2]
    with pytest.raises(ember.onnx.OnnxExporterError, match=r"is 3 in the example but 2 with "
                                                           r"batch=5.*batch // 2"):
        ember.onnx.export(Halves(), (floats(6, 3),), None, input_names=["x"],
                          dynamic_axes={"x": {0: "batch"}})


def test_an_export_that_fails_leaves_nothing_installed():
    require_onnx()
    equal = ember.ops.eq
    method = ember.Tensor.__eq__
    with pytest.raises(ember.onnx.UnsupportedOperatorError):
        ember.onnx.export(nn.AdaptiveMaxPool2d((2, 3)), (floats(1, 1, 7, 7),), None)
    assert autograd_function._tracer is None
    assert ember.ops.eq is equal and ember.Tensor.__eq__ is method
    assert not ember.onnx.is_in_onnx_export()


# ---- what the recorder sees ------------------------------------------------------------------
def test_is_in_onnx_export_is_true_while_the_model_runs():
    require_onnx()
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(ember.onnx.is_in_onnx_export())
            return x + 1
    ember.onnx.export(Probe(), (floats(2, 2),), None)
    assert seen and all(seen)
    assert not ember.onnx.is_in_onnx_export()


def test_a_custom_function_exports_as_the_ops_its_forward_runs():
    require_onnx()

    class ScaledTanh(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return ember.tanh(x) * 3

        @staticmethod
        def backward(ctx, grad):
            raise NotImplementedError

    class Model(nn.Module):
        def forward(self, x):
            return ScaledTanh.apply(x) + 1
    x = floats(2, 3)
    proto = ember.onnx.export(Model(), (x,), None)
    assert op_types(proto) == ["Tanh", "Mul", "Add"]
    [got] = _run(proto, {"input_0": x.numpy()})
    np.testing.assert_allclose(got, np.tanh(x.numpy()) * 3 + 1, atol=1e-6)


def test_constant_folding_computes_what_depends_only_on_constants():
    require_onnx()

    class Folded(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(floats(3, 3))

        def forward(self, x):
            return x @ (self.weight.t() * 2).exp()
    x = floats(2, 3)
    folded = ember.onnx.export(Folded(), (x,), None)
    unfolded = ember.onnx.export(Folded(), (x,), None, do_constant_folding=False)
    assert op_types(folded) == ["MatMul"]
    assert op_types(unfolded) == ["Transpose", "Mul", "Exp", "MatMul"]
    assert np.abs(_run(folded, {"input_0": x.numpy()})[0]
                  - _run(unfolded, {"input_0": x.numpy()})[0]).max() <= 1e-6


def test_the_random_state_moves_as_for_one_forward():
    require_onnx()
    model = small_model()
    x = floats(8, 4)
    ember.manual_seed(5)
    with ember.training_mode(model), ember.no_grad():
        model(x)
    after_forward = ember.rand(3).numpy()
    ember.manual_seed(5)
    ember.onnx.export(model, (x,), None, training=ember.onnx.TrainingMode.TRAINING,
                      input_names=["x"], dynamic_axes={"x": [0]})
    np.testing.assert_array_equal(ember.rand(3).numpy(), after_forward)


@pytest.mark.parametrize("mode", [ember.no_grad, ember.inference_mode])
def test_export_under_no_grad_or_inference_mode_records_the_same(mode):
    require_onnx()

    class InPlace(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 4)

        def forward(self, x):
            y = self.linear(x)
            y += 1  # in place: recorded because export runs with grad on
            return y.relu_() * (x > 0).float()
    model, x = InPlace(), floats(2, 4)
    with mode():
        proto = ember.onnx.export(model, (x,), None)
    assert op_types(proto) == ["Gemm", "Add", "Relu", "Greater", "Cast", "Mul"]
