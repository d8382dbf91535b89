"""torch.mps on a machine without Apple's GPU: the answers PyTorch gives there."""

__all__ = ["device_count", "empty_cache", "is_available", "manual_seed", "seed", "synchronize"]


def is_available():
    return False


def device_count():
    return 0


def manual_seed(seed):
    """No MPS generator to seed: a no-op, as in PyTorch without MPS."""


def seed():
    """No MPS generator to seed: a no-op, as in PyTorch without MPS."""


def empty_cache():
    raise RuntimeError("ember.mps: ember runs on the CPU only (no MPS device)")


def synchronize():
    raise RuntimeError("ember.mps: ember runs on the CPU only (no MPS device)")
