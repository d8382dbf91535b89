"""ember.cuda.amp: PyTorch's deprecated torch.cuda.amp spellings of ember.amp's autocast and
GradScaler for the 'cuda' device (float16 by default), with PyTorch's FutureWarning."""
from .._dtype import float16
from ..amp import autocast_mode
from ..amp.grad_scaler import device_spellings

__all__ = ["GradScaler", "autocast", "custom_bwd", "custom_fwd"]

autocast, GradScaler = device_spellings("cuda", float16, __name__)


def custom_fwd(fwd=None, *, cast_inputs=None):
    """``ember.amp.custom_fwd(..., device_type='cuda')``."""
    autocast_mode.deprecated_spelling(
        "cuda", "custom_fwd", "`torch.amp.custom_fwd(args..., device_type='cuda')`")
    return autocast_mode.custom_fwd(fwd, device_type="cuda", cast_inputs=cast_inputs)


def custom_bwd(bwd=None):
    """``ember.amp.custom_bwd(..., device_type='cuda')``."""
    autocast_mode.deprecated_spelling(
        "cuda", "custom_bwd", "`torch.amp.custom_bwd(args..., device_type='cuda')`")
    return autocast_mode.custom_bwd(bwd, device_type="cuda")
