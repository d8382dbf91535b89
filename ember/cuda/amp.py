"""ember.cuda.amp: PyTorch's deprecated torch.cuda.amp spellings of ember.amp's autocast and
GradScaler for the 'cuda' device, with PyTorch's FutureWarning."""
import warnings

from ..amp import GradScaler as _GradScaler
from ..amp import autocast as _autocast
from .._dtype import float16

__all__ = ["GradScaler", "autocast"]


def _deprecated(name):
    warnings.warn(f"`torch.cuda.amp.{name}(args...)` is deprecated. Please use "
                  f"`torch.amp.{name}('cuda', args...)` instead.", FutureWarning, stacklevel=3)


class autocast(_autocast):
    """``ember.amp.autocast('cuda', ...)``."""

    def __init__(self, enabled=True, dtype=float16, cache_enabled=True):
        _deprecated("autocast")
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)

    def clone(self):
        return _autocast(self.device, self.fast_dtype, self._enabled, self._cache_enabled)


class GradScaler(_GradScaler):
    """``ember.amp.GradScaler('cuda', ...)``."""

    def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        _deprecated("GradScaler")
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval,
                         enabled=enabled)
