"""``torch.backends.cudnn`` without cuDNN: not available, with its flags settable and readable as
in PyTorch (scripts set ``benchmark`` and ``deterministic`` unconditionally)."""
import sys
import types

from ._flags import BoolFlag, Precision, set_temporarily, with_flags

benchmark_limit = None  # PyTorch's value without CUDA; assignable
conv = Precision("tf32")
rnn = Precision("tf32")


def is_available():
    return False


def version():
    return None


def is_acceptable(tensor):
    return False


def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False,
          allow_tf32=True):
    """Set the cuDNN flags inside a ``with`` block and restore them after it."""
    return set_temporarily(sys.modules[__name__], {
        "enabled": enabled, "benchmark": benchmark, "deterministic": deterministic,
        "allow_tf32": allow_tf32})


class _CudnnFlags(types.ModuleType):
    enabled = BoolFlag(True, "set_enabled_cudnn")
    benchmark = BoolFlag(False, "set_benchmark_cudnn")
    deterministic = BoolFlag(False, "set_deterministic_cudnn")
    allow_tf32 = BoolFlag(True, "set_allow_tf32_cublas")  # PyTorch's message says cublas too


fp32_precision = "none"
with_flags(__name__, _CudnnFlags)
