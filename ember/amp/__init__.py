"""ember.amp: PyTorch's automatic mixed precision on the CPU. ``autocast`` runs the ops of
PyTorch's CPU autocast lists in bfloat16 (or float16) and the precision-sensitive ones in float32;
``GradScaler`` scales losses and unscales gradients, skipping steps with inf/NaN gradients.
'cuda' autocast and scalers are disabled with PyTorch's warning, as on a machine without CUDA."""
from .autocast_mode import (
    autocast, clear_autocast_cache, custom_bwd, custom_fwd, get_autocast_cpu_dtype,
    get_autocast_dtype, get_autocast_gpu_dtype, is_autocast_available, is_autocast_cache_enabled,
    is_autocast_cpu_enabled, is_autocast_enabled, set_autocast_cache_enabled,
    set_autocast_dtype, set_autocast_enabled)
from .grad_scaler import GradScaler, OptState

__all__ = ["GradScaler", "autocast", "custom_bwd", "custom_fwd", "is_autocast_available"]
