"""The layer classes of ember.nn."""
from .module import Module  # noqa: F401

# ---- conv, pooling, normalization, losses (nn part 2) ----
