"""The exporter's exceptions and warning (torch.onnx.errors' names)."""


class OnnxExporterWarning(UserWarning):
    """Something in the model was exported in a way that may not be what was meant."""


class OnnxExporterError(RuntimeError):
    """The model cannot be exported as it is."""


class UnsupportedOperatorError(OnnxExporterError):
    """An op the model runs has no ONNX translation (at this opset)."""

    def __init__(self, name, opset, detail=""):
        self.name = name
        self.opset = opset
        self.detail = detail
        message = f"the operator {name} is not supported by ember.onnx.export (opset {opset})"
        super().__init__(message + (f": {detail}" if detail else ""))
