"""GradScaler: PyTorch's dynamic loss scaling. The loss is multiplied by a scale before backward;
gradients are divided by it before the step; a step whose gradients hold inf or NaN is skipped
and the scale backs off, and after ``growth_interval`` clean steps it grows."""
import collections
import enum
import warnings
from collections import abc

import numpy as np

from .. import cuda
from .._dtype import float16, float32, int32
from .._factories import full
from ..autograd.grad_mode import no_grad
from ..ops import isfinite
from ..tensor import Tensor
from .autocast_mode import DeviceAutocast, deprecated_spelling

__all__ = ["GradScaler", "OptState"]


class OptState(enum.Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _refresh_per_optimizer_state():
    return {"stage": OptState.READY, "found_inf_per_device": {}}


_FIX = ("This may indicate your script did not use scaler.scale(loss or outputs) earlier in the "
        "iteration.")


class GradScaler:
    """Scale losses, unscale gradients, skip steps with non-finite gradients and adapt the scale,
    as PyTorch's torch.amp.GradScaler. ``enabled=False`` makes every method a pass-through."""

    def __init__(self, device="cuda", init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = device
        self._enabled = enabled
        if device == "cuda" and enabled and not cuda.is_available():
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  "
                          "Disabling.", stacklevel=2)
            self._enabled = False
        if self._enabled:
            # AssertionError, PyTorch's type for these (its asserts); raised, so python -O keeps it.
            if not growth_factor > 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if not backoff_factor < 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
            self._init_scale = init_scale
            self._scale = None
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker = None
            self._per_optimizer_states = collections.defaultdict(_refresh_per_optimizer_state)

    def _check_scale_growth_tracker(self, function_name):
        if self._scale is None:
            raise AssertionError(f"Attempted {function_name} but _scale is None.  {_FIX}")
        if self._growth_tracker is None:
            raise AssertionError(f"Attempted {function_name} but _growth_tracker is None.  {_FIX}")
        return self._scale, self._growth_tracker

    def _lazy_init_scale_growth_tracker(self):
        self._scale = full((), self._init_scale, dtype=float32)
        self._growth_tracker = full((), self._init_growth_tracker, dtype=int32)

    def scale(self, outputs):
        """``outputs`` (a tensor, or lists, tuples and iterables of tensors) times the scale."""
        if not self._enabled:
            return outputs
        if self._scale is None:
            self._lazy_init_scale_growth_tracker()

        def apply_scale(value):
            if isinstance(value, Tensor):
                return value * self._scale
            if isinstance(value, abc.Iterable):
                scaled = map(apply_scale, value)
                if isinstance(value, (list, tuple)):
                    return type(value)(scaled)
                return scaled
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")

        return apply_scale(outputs)

    def _unscale_grads_(self, optimizer, inv_scale, found_inf, allow_fp16):
        """Multiply every gradient by ``inv_scale`` in place, setting ``found_inf`` to 1 where
        one holds inf or NaN; the found_inf per device ({} when no parameter has a gradient)."""
        gradients = []
        for group in optimizer.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if not allow_fp16 and param.grad.dtype == float16:
                    raise ValueError("Attempting to unscale FP16 gradients.")
                gradients.append(param.grad)
        if not gradients:
            return {}
        with no_grad():
            for gradient in gradients:
                if not bool(isfinite(gradient).all()):
                    found_inf.fill_(1.0)
                gradient.mul_(inv_scale)
        return {found_inf.device: found_inf}

    def unscale_(self, optimizer):
        """Divide ``optimizer``'s gradients by the scale in place (once per step, before it)."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        optimizer_state = self._per_optimizer_states[id(optimizer)]
        if optimizer_state["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the "
                               "last update().")
        if optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        # The reciprocal in float64, rounded to float32 once, as PyTorch computes it.
        inv_scale = float(np.float32(1.0 / np.float64(self._scale.item())))
        found_inf = full((), 0.0, dtype=float32)
        optimizer_state["found_inf_per_device"] = self._unscale_grads_(
            optimizer, inv_scale, found_inf, False)
        optimizer_state["stage"] = OptState.UNSCALED

    def _maybe_opt_step(self, optimizer, optimizer_state, *args, **kwargs):
        if not sum(value.item() for value in optimizer_state["found_inf_per_device"].values()):
            return optimizer.step(*args, **kwargs)
        return None

    def step(self, optimizer, *args, **kwargs):
        """Unscale (unless done) and ``optimizer.step()`` unless a gradient is inf or NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale_growth_tracker("step")
        optimizer_state = self._per_optimizer_states[id(optimizer)]
        if optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if optimizer_state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        if not optimizer_state["found_inf_per_device"]:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        result = self._maybe_opt_step(optimizer, optimizer_state, *args, **kwargs)
        optimizer_state["stage"] = OptState.STEPPED
        return result

    def update(self, new_scale=None):
        """Back the scale off if this iteration found inf/NaN, grow it after growth_interval
        clean iterations, or set it to ``new_scale``."""
        if not self._enabled:
            return
        scale, growth_tracker = self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, float):
                scale.fill_(new_scale)
            else:
                reason = ("new_scale should be a float or a 1-element torch.cuda.FloatTensor or "
                          "torch.FloatTensor with requires_grad=False.")
                if (not isinstance(new_scale, Tensor) or new_scale.device.type != self._device
                        or new_scale.numel() != 1 or new_scale.requires_grad):
                    raise AssertionError(reason)
                scale.copy_(new_scale.reshape(()))
        else:
            found_infs = [found_inf for state in self._per_optimizer_states.values()
                          for found_inf in state["found_inf_per_device"].values()]
            if not found_infs:
                raise AssertionError("No inf checks were recorded prior to update.")
            found_inf_combined = sum(found_inf.item() for found_inf in found_infs)
            self._update_scale(found_inf_combined)
        self._per_optimizer_states = collections.defaultdict(_refresh_per_optimizer_state)

    def _update_scale(self, found_inf):
        """PyTorch's _amp_update_scale_: products in float64, stored as float32."""
        current_scale = np.float64(self._scale.item())
        if found_inf:
            self._scale.fill_(float(np.float32(current_scale * self._backoff_factor)))
            self._growth_tracker.fill_(0)
            return
        successful = self._growth_tracker.item() + 1
        if successful == self._growth_interval:
            with np.errstate(over="ignore"):
                grown = np.float32(current_scale * self._growth_factor)
            if np.isfinite(grown):
                self._scale.fill_(float(grown))
            self._growth_tracker.fill_(0)
        else:
            self._growth_tracker.fill_(successful)

    def get_scale(self):
        """The current scale as a Python float (1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else self._scale.item()

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = new_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = new_factor

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = new_interval

    def _get_growth_tracker(self):
        if not self._enabled:
            return 0
        if self._growth_tracker is None:
            return self._init_growth_tracker
        return int(self._growth_tracker.item())

    def is_enabled(self):
        return self._enabled

    def state_dict(self):
        """scale, growth_factor, backoff_factor, growth_interval, _growth_tracker ({} when
        disabled), PyTorch's keys."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        # Every value is read before any is set: a missing key changes nothing.
        scale = state_dict["scale"]
        growth_factor = state_dict["growth_factor"]
        backoff_factor = state_dict["backoff_factor"]
        growth_interval = state_dict["growth_interval"]
        growth_tracker = state_dict["_growth_tracker"]
        self._init_scale = scale
        if self._scale is not None:
            self._scale.fill_(scale)
        self._growth_factor = growth_factor
        self._backoff_factor = backoff_factor
        self._growth_interval = growth_interval
        self._init_growth_tracker = growth_tracker
        if self._growth_tracker is not None:
            self._growth_tracker.fill_(growth_tracker)

    def _found_inf_per_device(self, optimizer):
        return self._per_optimizer_states[id(optimizer)]["found_inf_per_device"]


class DeviceGradScaler(GradScaler):
    """The base of torch.cuda.amp.GradScaler and torch.cpu.amp.GradScaler: ``GradScaler`` for
    the class's ``device_type``."""

    device_type = None

    def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        deprecated_spelling(self.device_type, "GradScaler")
        super().__init__(self.device_type, init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval,
                         enabled=enabled)


def device_spellings(device_type, default_dtype, module):
    """The autocast and GradScaler classes of ``torch.<device_type>.amp`` (in ``module``)."""
    autocast_class = type("autocast", (DeviceAutocast,), {
        "__module__": module, "__doc__": f"``ember.amp.autocast('{device_type}', ...)``.",
        "device_type": device_type, "default_dtype": default_dtype})
    scaler_class = type("GradScaler", (DeviceGradScaler,), {
        "__module__": module, "__doc__": f"``ember.amp.GradScaler('{device_type}', ...)``.",
        "device_type": device_type})
    return autocast_class, scaler_class
