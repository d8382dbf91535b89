"""ember.cuda.amp: PyTorch's deprecated torch.cuda.amp spellings of ember.amp's autocast and
GradScaler for the 'cuda' device (float16 by default), with PyTorch's FutureWarning."""
from .._dtype import float16
from ..amp.grad_scaler import device_spellings

__all__ = ["GradScaler", "autocast"]

autocast, GradScaler = device_spellings("cuda", float16, __name__)
