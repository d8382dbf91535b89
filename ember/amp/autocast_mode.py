"""autocast (a context manager and decorator) and the functions that read and set its state per
device type, as PyTorch's torch.autocast and torch.{is,get,set}_autocast_* behave on a CPU-only
build."""
import functools
import warnings

from .. import cuda
from .._autocast_state import DEFAULT_DTYPES, _autocast_state
from .._device import device
from .._dtype import bfloat16, float16
from ..autograd._contextlib import DecoratorContextManager
from ..ops.elementwise.casting import autocast_argument

__all__ = [
    "autocast", "clear_autocast_cache", "custom_bwd", "custom_fwd", "get_autocast_cpu_dtype", "get_autocast_dtype",
    "get_autocast_gpu_dtype", "is_autocast_available", "is_autocast_cache_enabled",
    "is_autocast_cpu_enabled", "is_autocast_enabled", "set_autocast_cache_enabled",
    "set_autocast_dtype", "set_autocast_enabled", "set_autocast_cpu_enabled",
    "set_autocast_cpu_dtype", "set_autocast_gpu_dtype", "is_autocast_ipu_enabled",
    "is_autocast_xla_enabled", "get_autocast_ipu_dtype", "get_autocast_xla_dtype",
    "set_autocast_ipu_enabled", "set_autocast_xla_enabled", "set_autocast_ipu_dtype",
    "set_autocast_xla_dtype", "autocast_increment_nesting", "autocast_decrement_nesting",
]

_CPU_DTYPES = (bfloat16, float16)


def _device_type(device_type):
    """The device type named by ``device_type`` ('cpu', 'cuda:0', ...), checked as PyTorch
    checks device strings."""
    return device(device_type).type


def is_autocast_available(device_type):
    """Whether autocast has a dtype policy for ``device_type``."""
    return _device_type(device_type) in DEFAULT_DTYPES


def is_autocast_enabled(device_type=None):
    """Whether autocast is on for ``device_type`` (CUDA's, as in PyTorch, when not given)."""
    name = _device_type("cuda" if device_type is None else device_type)
    return name in _autocast_state.get().enabled


def get_autocast_dtype(device_type):
    """The dtype that autocast casts to on ``device_type``."""
    name = _device_type(device_type)
    if name not in DEFAULT_DTYPES:
        raise RuntimeError(f"get_autocast_dtype(): autocast is not available for device type "
                           f"'{name}'")
    return _autocast_state.get().dtypes.get(name, DEFAULT_DTYPES[name])


def set_autocast_enabled(device_type, enabled=None):
    """Turn autocast on or off for ``device_type``; ``set_autocast_enabled(enabled)`` is CUDA's."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    if not isinstance(enabled, bool):
        raise TypeError(f"set_autocast_enabled(): argument 'enabled' (position 2) must be bool, "
                        f"not {type(enabled).__name__}")
    name = _device_type(device_type)
    state = _autocast_state.get()
    enabled_types = state.enabled | {name} if enabled else state.enabled - {name}
    _autocast_state.set(state._replace(enabled=frozenset(enabled_types)))


def set_autocast_dtype(device_type, dtype):
    name = _device_type(device_type)
    state = _autocast_state.get()
    _autocast_state.set(state._replace(dtypes={**state.dtypes, name: dtype}))


def is_autocast_cache_enabled():
    return _autocast_state.get().cache_enabled


def set_autocast_cache_enabled(enabled):
    _autocast_state.set(_autocast_state.get()._replace(cache_enabled=enabled))


def clear_autocast_cache():
    """Nothing is cached: ember casts weights afresh in every op (the values are the same)."""


def _deprecated(old, new):
    warnings.warn(f"{old} is deprecated. Please use {new} instead.", DeprecationWarning,
                  stacklevel=3)


def is_autocast_cpu_enabled():
    _deprecated("torch.is_autocast_cpu_enabled()", "torch.is_autocast_enabled('cpu')")
    return is_autocast_enabled("cpu")


def get_autocast_cpu_dtype():
    _deprecated("torch.get_autocast_cpu_dtype()", "torch.get_autocast_dtype('cpu')")
    return get_autocast_dtype("cpu")


def get_autocast_gpu_dtype():
    _deprecated("torch.get_autocast_gpu_dtype()", "torch.get_autocast_dtype('cuda')")
    return get_autocast_dtype("cuda")


def _deprecated_setter(device_type, kind):
    """PyTorch's deprecated ``torch.set_autocast_<device>_enabled(enabled)`` (``kind``
    'enabled') or ``..._dtype(dtype)``: the device-taking setter, with its warning."""
    alias = "gpu" if device_type == "cuda" else device_type

    def setter(value):
        argument = "enabled" if kind == "enabled" else "dtype"
        _deprecated(f"torch.set_autocast_{alias}_{kind}({argument})",
                    f"torch.set_autocast_{kind}('{device_type}', {argument})")
        if kind == "enabled":
            if not isinstance(value, bool):
                raise TypeError(f"enabled must be a bool (got {type(value).__name__})")
            set_autocast_enabled(device_type, value)
        else:
            set_autocast_dtype(device_type, value)
    setter.__name__ = setter.__qualname__ = f"set_autocast_{alias}_{kind}"
    return setter


def _deprecated_getter(device_type, kind):
    def getter():
        if kind == "enabled":
            _deprecated(f"torch.is_autocast_{device_type}_enabled()",
                        f"torch.is_autocast_enabled('{device_type}')")
            return is_autocast_enabled(device_type)
        _deprecated(f"torch.get_autocast_{device_type}_dtype()",
                    f"torch.get_autocast_dtype('{device_type}')")
        return get_autocast_dtype(device_type)
    getter.__name__ = getter.__qualname__ = (f"is_autocast_{device_type}_enabled"
                                             if kind == "enabled" else
                                             f"get_autocast_{device_type}_dtype")
    return getter


set_autocast_cpu_enabled = _deprecated_setter("cpu", "enabled")
set_autocast_cpu_dtype = _deprecated_setter("cpu", "dtype")
set_autocast_gpu_dtype = _deprecated_setter("cuda", "dtype")
set_autocast_ipu_enabled = _deprecated_setter("ipu", "enabled")
set_autocast_xla_enabled = _deprecated_setter("xla", "enabled")
set_autocast_ipu_dtype = _deprecated_setter("ipu", "dtype")
set_autocast_xla_dtype = _deprecated_setter("xla", "dtype")
is_autocast_ipu_enabled = _deprecated_getter("ipu", "enabled")
is_autocast_xla_enabled = _deprecated_getter("xla", "enabled")
get_autocast_ipu_dtype = _deprecated_getter("ipu", "dtype")
get_autocast_xla_dtype = _deprecated_getter("xla", "dtype")

# The nesting depth of autocast regions that PyTorch's C++ keeps (autocast's cache is cleared
# when it returns to 0); ember's autocast does not use it, the counter is only kept.
_nesting = [0]


def autocast_increment_nesting():
    _nesting[0] += 1
    return _nesting[0]


def autocast_decrement_nesting():
    _nesting[0] -= 1
    return _nesting[0]


class autocast(DecoratorContextManager):
    """Run the ops of PyTorch's autocast lists in ``dtype`` (bfloat16 by default on the CPU):
    matmul, linear, conv... cast their floating inputs down, losses and other precision-sensitive
    ops cast them up to float32, everything else runs in the dtype it is given. 'cuda' is
    disabled with PyTorch's warning (no CUDA here); so is a CPU dtype other than bfloat16 or
    float16."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        _check_device_type(device_type)
        self.device = _device_type(device_type)
        self.fast_dtype = get_autocast_dtype(self.device) if dtype is None else dtype
        if cache_enabled is None:
            cache_enabled = is_autocast_cache_enabled()
        self._cache_enabled = cache_enabled
        if self.device == "cuda" and enabled and not cuda.is_available():
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.",
                          stacklevel=2)
            enabled = False
        if self.device == "cpu" and enabled and self.fast_dtype not in _CPU_DTYPES:
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling "
                          "autocast.\nCPU Autocast only supports dtypes of torch.bfloat16, "
                          "torch.float16 currently.", stacklevel=2)
            enabled = False
        self._enabled = enabled
        # A stack, so one instance can be entered again while already entered.
        self._previous_states = []

    def __enter__(self):
        if not isinstance(self._enabled, bool):
            raise TypeError(f"set_autocast_enabled(): argument 'enabled' (position 2) must be "
                            f"bool, not {type(self._enabled).__name__}")
        previous_state = _autocast_state.get()
        self._previous_states.append(previous_state)
        set_autocast_enabled(self.device, self._enabled)
        set_autocast_dtype(self.device, self.fast_dtype)
        set_autocast_cache_enabled(self._cache_enabled)
        return self

    def __exit__(self, exception_type, exception_value, traceback):
        _autocast_state.set(self._previous_states.pop())
        return False

    def clone(self):
        return autocast(self.device, self.fast_dtype, self._enabled, self._cache_enabled)


def _check_device_type(device_type):
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")


def _cast_nested(value, dtype):
    """``value`` with its floating tensors (float64 excepted), in lists, tuples and dicts too,
    cast to ``dtype``."""
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_nested(item, dtype) for item in value)
    if isinstance(value, dict):
        return {key: _cast_nested(item, dtype) for key, item in value.items()}
    return autocast_argument(value, dtype)


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorate a custom Function's ``forward``: with ``cast_inputs``, where autocast is on for
    ``device_type`` the floating tensor arguments are cast to it and forward runs with autocast
    off; ``custom_bwd`` runs backward under the autocast state that forward saw."""
    _check_device_type(device_type)
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def forward_under_autocast(*args, **kwargs):
        ctx = args[0]
        ctx._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            ctx._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        ctx._fwd_used_autocast = False
        if not is_autocast_enabled(device_type):
            return fwd(*args, **kwargs)
        with autocast(device_type, enabled=False):
            return fwd(*_cast_nested(args, cast_inputs), **_cast_nested(kwargs, cast_inputs))

    return forward_under_autocast


def custom_bwd(bwd=None, *, device_type):
    """Decorate a custom Function's ``backward`` (see ``custom_fwd``)."""
    _check_device_type(device_type)
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def backward_under_autocast(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type, enabled=ctx._fwd_used_autocast, dtype=ctx._dtype):
            return bwd(*args, **kwargs)

    return backward_under_autocast


def deprecated_spelling(device_type, name, replacement=None):
    """torch.cuda.amp's and torch.cpu.amp's FutureWarning for their spelling of ``name``."""
    if replacement is None:
        replacement = f"`torch.amp.{name}('{device_type}', args...)`"
    warnings.warn(f"`torch.{device_type}.amp.{name}(args...)` is deprecated. Please use "
                  f"{replacement} instead.", FutureWarning, stacklevel=3)


class DeviceAutocast(autocast):
    """The base of torch.cuda.amp.autocast and torch.cpu.amp.autocast: ``autocast`` for the
    class's ``device_type``, ``dtype`` defaulting to the class's ``default_dtype``."""

    device_type = None
    default_dtype = None

    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        deprecated_spelling(self.device_type, "autocast")
        super().__init__(self.device_type, dtype=self.default_dtype if dtype is None else dtype,
                         enabled=enabled, cache_enabled=cache_enabled)

    def clone(self):
        return autocast(self.device, self.fast_dtype, self._enabled, self._cache_enabled)
