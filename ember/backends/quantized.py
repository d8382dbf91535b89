"""``torch.backends.quantized``: the quantized engine, settable among those PyTorch's x86 CPU
build supports. ember's quantized layers compute as the x86/fbgemm engine does whichever is
chosen (qnnpack's and onednn's roundings are not emulated)."""
import sys
import types

supported_engines = ["qnnpack", "onednn", "x86", "fbgemm"]


class _QuantizedModule(types.ModuleType):
    """Checks ``engine`` on assignment, as PyTorch's setter does."""

    def __setattr__(self, name, value):
        if name == "engine":
            if not isinstance(value, str):
                raise TypeError(f"engine must be a str, got {type(value).__name__}")
            if value == "none":
                raise RuntimeError("quantized engine NoQEngine is not supported")
            if value not in supported_engines:
                raise RuntimeError(f"{value} is not a valid value for quantized engine")
        super().__setattr__(name, value)


engine = "x86"
sys.modules[__name__].__class__ = _QuantizedModule
