"""torch.xpu on a machine without an Intel GPU: the answers PyTorch gives there."""

__all__ = ["device_count", "is_available", "is_initialized", "manual_seed", "manual_seed_all"]


def is_available():
    return False


def device_count():
    return 0


def is_initialized():
    return False


def manual_seed(seed):
    """No XPU generator to seed: a no-op, as in PyTorch without XPU."""


def manual_seed_all(seed):
    """No XPU generators to seed: a no-op, as in PyTorch without XPU."""
