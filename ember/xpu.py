"""torch.xpu on a machine without an Intel GPU: the answers PyTorch gives there, which are
torch.cuda's without a GPU (no device, nothing to seed)."""
from .cuda import device_count, is_available, is_initialized, manual_seed, manual_seed_all

__all__ = ["device_count", "is_available", "is_initialized", "manual_seed", "manual_seed_all"]
