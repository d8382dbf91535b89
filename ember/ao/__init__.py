"""torch.ao: quantization (``ember.ao.quantization.quantize_dynamic``) and the quantized layers
it swaps in (``ember.ao.nn.quantized``)."""
from . import nn, quantization  # noqa: F401
