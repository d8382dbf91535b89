"""``torch._C``: the few names of PyTorch's private extension module that libraries call
unconditionally (torchmetrics' and torchvision's usage logging, tensor subclasses opting out of
``__torch_function__``, grad-mode and tracing probes). Any other ``torch._C`` name is refused."""
import types

from .. import _device, _dtype, overrides
from .._grad_state import GradState, _grad_state
from .._random import Generator
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor

__all__ = ["Generator", "TensorBase", "is_grad_enabled"]

# torch._C.TensorBase (formerly _TensorBase) is the base class of torch.Tensor
TensorBase = Tensor
_TensorBase = Tensor
_disabled_torch_function_impl = overrides._disabled_torch_function_impl
# the metaclass of torch.Tensor (annotations and checks name it)
_TensorMeta = type(Tensor)


def _parse_to(*args, non_blocking=False, copy=False, memory_format=None, **kwargs):
    """``Tensor.to``'s arguments as (device, dtype, non_blocking, memory_format), each None
    where not given (Lightning's and other modules' ``to`` overrides parse them so)."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    if kwargs:
        raise TypeError(f"to() received an invalid combination of arguments: {sorted(kwargs)}")
    positional = list(args)
    if positional and isinstance(positional[0], Tensor):
        source = positional.pop(0)
        device, dtype = source.device, source.dtype
    elif positional and isinstance(positional[0], _dtype.dtype):
        dtype = positional.pop(0)
    elif positional:
        device = positional.pop(0)
        if positional and isinstance(positional[0], _dtype.dtype):
            dtype = positional.pop(0)
    if positional:
        non_blocking = positional.pop(0)
    if device is not None:
        device = _device.device(device)
    return device, dtype, bool(non_blocking), memory_format


# torch._C._nn: the one helper of the private functional namespace that modules call
_nn = types.SimpleNamespace(_parse_to=_parse_to)


def _log_api_usage_once(event):
    """PyTorch's usage logging (off unless a logger is registered): nothing to record."""


def _get_tracing_state():
    """None: no TorchScript trace is ever being recorded."""
    return None


def _set_grad_enabled(mode):
    """Turn grad mode on or off in this thread (``torch.set_grad_enabled(mode)`` as a call)."""
    _grad_state.set(GradState(bool(mode), _grad_state.get().inference))
