"""torch.ao.nn.quantized: the packed weights of quantized linear layers and the dynamically
quantized layers (``dynamic``)."""
from . import dynamic, modules  # noqa: F401
from .modules.linear import LinearPackedParams  # noqa: F401
