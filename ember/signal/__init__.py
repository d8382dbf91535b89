"""``torch.signal``: signal-processing helpers; today the window functions of ``windows``."""
from . import windows

__all__ = ["windows"]
