"""ember.cuda: the answers PyTorch's torch.cuda gives on a machine without a GPU, so scripts that
probe for one (``'cuda' if ember.cuda.is_available() else 'cpu'``) or report its memory run
unchanged; what needs a device raises."""
import collections


def is_available():
    return False


def device_count():
    return 0


def is_initialized():
    return False


def is_bf16_supported(including_emulation=True):
    return False


def get_arch_list():
    return []


def manual_seed(seed):
    """No GPU generators to seed: a no-op, as in PyTorch without CUDA."""


def manual_seed_all(seed):
    """No GPU generators to seed: a no-op, as in PyTorch without CUDA."""


def seed():
    """No GPU generators to seed: a no-op, as in PyTorch without CUDA."""


def seed_all():
    """No GPU generators to seed: a no-op, as in PyTorch without CUDA."""


def empty_cache():
    """Nothing is cached without CUDA: a no-op, as in PyTorch."""


def memory_stats(device=None):
    return collections.OrderedDict()


def memory_allocated(device=None):
    return 0


def max_memory_allocated(device=None):
    return 0


def memory_reserved(device=None):
    return 0


def max_memory_reserved(device=None):
    return 0


def reset_peak_memory_stats(device=None):
    """No peaks to reset without CUDA."""


def _no_device(name):
    raise RuntimeError(f"ember.cuda.{name}: ember runs on the CPU only (no CUDA device)")


def synchronize(device=None):
    _no_device("synchronize")


def current_device():
    _no_device("current_device")


def set_device(device):
    _no_device("set_device")


def get_device_name(device=None):
    _no_device("get_device_name")


def get_device_capability(device=None):
    _no_device("get_device_capability")


def get_device_properties(device=None):
    _no_device("get_device_properties")


def init():
    _no_device("init")
