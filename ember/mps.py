"""torch.mps on a machine without Apple's GPU: the answers PyTorch gives there."""

from .cuda import device_count, is_available, manual_seed, seed  # no device, nothing to seed

__all__ = ["device_count", "empty_cache", "is_available", "manual_seed", "seed", "synchronize"]


def empty_cache():
    raise RuntimeError("ember.mps: ember runs on the CPU only (no MPS device)")


def synchronize():
    raise RuntimeError("ember.mps: ember runs on the CPU only (no MPS device)")
