"""ember.cpu: PyTorch's torch.cpu answers (the CPU is always there, one device, nothing to wait
for). Its ``amp`` holds the deprecated torch.cpu.amp spellings."""

__all__ = ["current_device", "device_count", "is_available", "is_initialized", "set_device",
           "synchronize"]


def is_available():
    return True


def is_initialized():
    return True


def device_count():
    return 1


def current_device():
    return "cpu"


def set_device(device):
    """One CPU device: nothing to select, as in PyTorch."""


def synchronize(device=None):
    """CPU ops finish before they return: nothing to wait for."""
