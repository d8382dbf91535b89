"""ember.cpu.amp: PyTorch's deprecated torch.cpu.amp spellings of ember.amp's autocast and
GradScaler for the 'cpu' device (bfloat16 by default), with PyTorch's FutureWarning."""
from .._dtype import bfloat16
from ..amp.grad_scaler import device_spellings

__all__ = ["GradScaler", "autocast"]

autocast, GradScaler = device_spellings("cpu", bfloat16, __name__)
