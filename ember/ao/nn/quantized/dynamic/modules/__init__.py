"""torch.ao.nn.quantized.dynamic.modules: the dynamically quantized layers."""
from . import linear  # noqa: F401
from .linear import Linear  # noqa: F401
