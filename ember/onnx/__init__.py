"""Export to ONNX (torch.onnx's API; the ``onnx`` extra): ``ember.onnx.export(model, args, f)``.

The exporter records what ember runs for the example arguments (every op, the functions whose
results bypass the autograd graph, and RNN/LSTM/GRU layers whole) and translates it to ONNX
operators. ``import ember.onnx`` is cheap: the ``onnx`` package is imported by ``export``.
"""
import enum
import importlib

from .._extras import install_hint
from .errors import OnnxExporterError, OnnxExporterWarning, UnsupportedOperatorError  # noqa: F401

__all__ = ["export", "is_in_onnx_export", "TrainingMode", "OperatorExportTypes",
           "OnnxExporterError", "OnnxExporterWarning", "UnsupportedOperatorError"]


class TrainingMode(enum.IntEnum):
    """Which mode the layers run in while exported (torch.onnx.TrainingMode)."""

    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


class OperatorExportTypes(enum.IntEnum):
    """How ops are exported (torch.onnx.OperatorExportTypes); ember exports plain ONNX ops."""

    ONNX = 0
    ONNX_ATEN = 1
    ONNX_ATEN_FALLBACK = 2
    ONNX_FALLTHROUGH = 3


def is_in_onnx_export():
    """True while ember.onnx.export is running a model (torch.onnx.is_in_onnx_export)."""
    from ._trace import is_tracing  # _trace imports ember.nn: loaded on first use
    return is_tracing()


def export(model, args=(), f=None, *, kwargs=None, export_params=True, verbose=False,
           training=TrainingMode.EVAL, input_names=None, output_names=None,
           operator_export_type=OperatorExportTypes.ONNX, opset_version=None,
           do_constant_folding=True, dynamic_axes=None, keep_initializers_as_inputs=None,
           custom_opsets=None, export_modules_as_functions=False, autograd_inlining=True,
           dynamo=False):
    """Export ``model`` run on ``args`` to ONNX, written to ``f`` (a path or a binary file)
    when given; returns the ``onnx.ModelProto``.

    torch.onnx.export's arguments (those of its TorchScript exporter): ``training`` picks the
    layers' mode (``TrainingMode.EVAL`` by default: BatchNorm uses its running statistics,
    Dropout is off; every layer's own mode is put back afterwards), ``dynamic_axes`` names the
    input and output axes whose size may change (``{"x": {0: "batch"}}``), ``opset_version``
    is 13 to 20 (default 20), ``do_constant_folding`` computes what depends only on constants.
    ``dynamo`` is accepted and ignored (ember always records the run).
    """
    if operator_export_type != OperatorExportTypes.ONNX:
        raise ValueError("ember.onnx.export: only OperatorExportTypes.ONNX is supported")
    if custom_opsets:
        raise ValueError("ember.onnx.export: custom_opsets are not supported (ember exports "
                         "only default-domain ONNX ops)")
    if export_modules_as_functions:
        raise ValueError("ember.onnx.export: export_modules_as_functions is not supported")
    exporter = _exporter()
    return exporter.export(model, args, f, kwargs, export_params, verbose, training,
                           input_names, output_names, opset_version, do_constant_folding,
                           dynamic_axes, keep_initializers_as_inputs, TrainingMode)


def _exporter():
    """ember.onnx._export, which needs the onnx package (the ``onnx`` extra)."""
    try:
        # onnx.helper, not onnx: a folder named onnx on sys.path (tests/onnx) imports as an
        # empty namespace package.
        importlib.import_module("onnx.helper")
    except ImportError:
        raise ImportError(f"ember.onnx.export needs the onnx package: "
                          f"{install_hint('onnx')}") from None
    return importlib.import_module("ember.onnx._export")
