"""ember.cuda: the answers PyTorch's torch.cuda gives on a machine without a GPU, so scripts that
probe for one (``'cuda' if ember.cuda.is_available() else 'cpu'``) or report its memory run
unchanged; what needs a device raises."""
import collections
import warnings

from .._device import CudaUnavailableError


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
    raise CudaUnavailableError(f"ember.cuda.{name}: ember runs on the CPU only (no CUDA device)")


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


class OutOfMemoryError(RuntimeError):
    """PyTorch's out-of-memory error (``torch.OutOfMemoryError``, also ``torch.cuda``'s): scripts
    name it in ``except`` clauses; ember raises it nowhere."""


def initial_seed():
    _no_device("initial_seed")


def get_rng_state(device="cuda"):
    _no_device("get_rng_state")


def get_rng_state_all():
    """The states of the GPU generators: none without CUDA (PyTorch's answer too)."""
    return []


def set_rng_state(new_state, device="cuda"):
    """No GPU generator to set: a no-op, as PyTorch queues it until CUDA starts."""


def set_rng_state_all(new_states):
    """No GPU generators to set: a no-op, as in PyTorch without CUDA."""


def memory_cached(device=None):
    warnings.warn("torch.cuda.memory_cached has been renamed to torch.cuda.memory_reserved",
                  FutureWarning, stacklevel=2)
    return memory_reserved(device)


def max_memory_cached(device=None):
    warnings.warn("torch.cuda.max_memory_cached has been renamed to "
                  "torch.cuda.max_memory_reserved", FutureWarning, stacklevel=2)
    return max_memory_reserved(device)


def reset_max_memory_allocated(device=None):
    """No peaks to reset without CUDA."""


def reset_max_memory_cached(device=None):
    """No peaks to reset without CUDA."""


def mem_get_info(device=None):
    _no_device("mem_get_info")


def ipc_collect():
    _no_device("ipc_collect")


def set_per_process_memory_fraction(fraction, device=None):
    _no_device("set_per_process_memory_fraction")


def utilization(device=None):
    _no_device("utilization")


def current_stream(device=None):
    _no_device("current_stream")


def default_stream(device=None):
    _no_device("default_stream")


class Stream:
    """A CUDA stream: none can be made without a device."""

    def __new__(cls, *args, **kwargs):
        _no_device("Stream")


class Event:
    """A CUDA event: none can be made without a device."""

    def __new__(cls, *args, **kwargs):
        _no_device("Event")


class graph:
    """``with torch.cuda.graph(cuda_graph)``: capture needs a device."""

    def __init__(self, cuda_graph, pool=None, stream=None, capture_error_mode="global"):
        _no_device("graph")


def is_current_stream_capturing():
    _no_device("is_current_stream_capturing")


# one generator per CUDA device: none
default_generators = ()


class CUDAGraph:
    """A captured CUDA graph: on a build without CUDA only the name exists (transformers
    annotates with it), and making one raises PyTorch's RuntimeError."""

    def __new__(cls, *args, **kwargs):
        raise RuntimeError(f"Tried to instantiate dummy base class {cls.__name__}")


class device:
    """``with torch.cuda.device(index)``: made freely, entered only with a device; None or a
    negative index selects nothing, as in PyTorch."""

    def __init__(self, device):
        self.index = device if device is None or isinstance(device, int) else \
            getattr(device, "index", device)

    def __enter__(self):
        if self.index is not None and not (isinstance(self.index, int) and self.index < 0):
            _no_device("device")

    def __exit__(self, *exc):
        return False


class StreamContext:
    """``with torch.cuda.stream(s)``: a None stream selects nothing, as in PyTorch."""

    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        if self.stream is not None:
            _no_device("stream")

    def __exit__(self, *exc):
        return False


def stream(stream):
    """The StreamContext of ``stream``."""
    return StreamContext(stream)


from . import nvtx  # noqa: E402,F401  (torch.cuda.nvtx: markers that need CUDA)


class _UnavailableTensorType(type):
    """``torch.cuda.FloatTensor`` and its kin where CUDA is missing: calling one raises PyTorch's
    TypeError (scripts that build CUDA tensors unconditionally stop as they do on CPU PyTorch);
    no tensor is an instance."""

    def __call__(cls, *args, **kwargs):
        raise TypeError(f"type torch.cuda.{cls.__name__} not available. Torch not compiled with "
                        f"CUDA enabled.")

    def __instancecheck__(cls, instance):
        return False


for _name in ("FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "ByteTensor",
              "CharTensor", "ShortTensor", "IntTensor", "LongTensor", "BoolTensor"):
    globals()[_name] = _UnavailableTensorType(_name, (), {"__module__": __name__})
del _name
