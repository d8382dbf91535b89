"""``torch._C``: the few names of PyTorch's private extension module that libraries call
unconditionally (torchmetrics' and torchvision's usage logging, tensor subclasses opting out of
``__torch_function__``, grad-mode and tracing probes). Any other ``torch._C`` name is refused."""
from .. import overrides
from .._grad_state import GradState, _grad_state
from .._random import Generator
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor

__all__ = ["Generator", "TensorBase", "is_grad_enabled"]

# torch._C.TensorBase (formerly _TensorBase) is the base class of torch.Tensor
TensorBase = Tensor
_TensorBase = Tensor
_disabled_torch_function_impl = overrides._disabled_torch_function_impl


def _log_api_usage_once(event):
    """PyTorch's usage logging (off unless a logger is registered): nothing to record."""


def _get_tracing_state():
    """None: no TorchScript trace is ever being recorded."""
    return None


def _set_grad_enabled(mode):
    """Turn grad mode on or off in this thread (``torch.set_grad_enabled(mode)`` as a call)."""
    _grad_state.set(GradState(bool(mode), _grad_state.get().inference))
