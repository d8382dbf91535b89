"""``torch._inductor``: only its ``config``, which training scripts set (ember compiles
nothing, so no setting changes what it computes)."""
from . import _inductor_config as config  # noqa: F401

__all__ = ["config"]
