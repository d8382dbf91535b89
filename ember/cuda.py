"""ember.cuda: the answers PyTorch's torch.cuda gives on a machine without a GPU, so scripts that
probe for one (``'cuda' if ember.cuda.is_available() else 'cpu'``) run unchanged."""


def is_available():
    return False


def device_count():
    return 0


def manual_seed(seed):
    """No GPU generators to seed: a no-op, as in PyTorch without CUDA."""


def manual_seed_all(seed):
    """No GPU generators to seed: a no-op, as in PyTorch without CUDA."""


def synchronize(device=None):
    raise RuntimeError("ember.cuda.synchronize: ember runs on the CPU only (no CUDA device)")


def current_device():
    raise RuntimeError("ember.cuda.current_device: ember runs on the CPU only (no CUDA device)")
