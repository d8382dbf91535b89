"""``torch.accelerator`` on a machine without one (ember computes on the CPU): nothing is
available, and every question about a current accelerator device is PyTorch's RuntimeError."""
import warnings

__all__ = ["current_accelerator", "current_device_idx", "current_device_index",
           "current_stream", "device_count", "device_index", "empty_cache",
           "get_device_capability", "is_available", "max_memory_allocated",
           "max_memory_reserved", "memory_allocated", "memory_reserved", "memory_stats",
           "reset_accumulated_memory_stats", "reset_peak_memory_stats", "set_device_idx",
           "set_device_index", "set_stream", "synchronize"]

_NONE = "Cannot access accelerator device when none is available."


def is_available():
    return False


def device_count():
    return 0


def current_accelerator(check_available=False):
    """The accelerator's device type, or None: there is none."""
    return None


def current_device_index():
    raise RuntimeError(_NONE)


def set_device_index(device):
    raise RuntimeError(_NONE)


def current_device_idx():
    """Deprecated name of ``current_device_index``."""
    warnings.warn("Use `current_device_index` instead.", FutureWarning, stacklevel=2)
    return current_device_index()


def set_device_idx(device):
    """Deprecated name of ``set_device_index``."""
    warnings.warn("Use `set_device_index` instead.", FutureWarning, stacklevel=2)
    return set_device_index(device)


def get_device_capability(device=None):
    raise RuntimeError(_NONE)


def current_stream(device=None):
    raise RuntimeError(_NONE)


def set_stream(stream):
    raise RuntimeError(_NONE)


def synchronize(device=None):
    raise RuntimeError(_NONE)


def empty_cache():
    raise RuntimeError(_NONE)


def memory_stats(device_index=None):
    raise RuntimeError(_NONE)


def memory_allocated(device_index=None):
    raise RuntimeError(_NONE)


def max_memory_allocated(device_index=None):
    raise RuntimeError(_NONE)


def memory_reserved(device_index=None):
    raise RuntimeError(_NONE)


def max_memory_reserved(device_index=None):
    raise RuntimeError(_NONE)


def reset_accumulated_memory_stats(device_index=None):
    raise RuntimeError(_NONE)


def reset_peak_memory_stats(device_index=None):
    raise RuntimeError(_NONE)


class device_index:
    """``with device_index(i):``: None switches nothing; any index needs an accelerator."""

    def __init__(self, device):
        self.index = device

    def __enter__(self):
        if self.index is not None:
            raise RuntimeError(_NONE)

    def __exit__(self, *exc_info):
        return False
