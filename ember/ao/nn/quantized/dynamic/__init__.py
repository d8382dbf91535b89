"""torch.ao.nn.quantized.dynamic: layers with quantized weights whose inputs are quantized on
the fly (dynamic quantization)."""
from . import modules  # noqa: F401
from .modules import Linear  # noqa: F401
