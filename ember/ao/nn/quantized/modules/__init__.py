"""torch.ao.nn.quantized.modules: the packed weights of quantized linear layers."""
from . import linear  # noqa: F401
from .linear import LinearPackedParams  # noqa: F401
