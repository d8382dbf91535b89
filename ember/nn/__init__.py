"""Neural-network building blocks: Parameter, Module, layers, containers, init and functional."""
from .parameter import Parameter  # noqa: F401
from .modules import Module  # noqa: F401

# ---- conv, pooling, normalization, losses (nn part 2) ----

from . import functional, init  # noqa: F401,E402
