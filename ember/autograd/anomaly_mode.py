"""Anomaly detection (PyTorch's ``torch.autograd.detect_anomaly``): while it is on, a backward
function that returns NaN stops the backward pass with an error naming it. The mode is
process-wide, as in PyTorch."""
import warnings

from ._contextlib import DecoratorContextManager

__all__ = ["detect_anomaly", "is_anomaly_check_nan_enabled", "is_anomaly_enabled",
           "set_detect_anomaly"]

_state = {"enabled": False, "check_nan": True}


def is_anomaly_enabled():
    """Whether anomaly detection is on."""
    return _state["enabled"]


def is_anomaly_check_nan_enabled():
    """Whether anomaly detection checks backward outputs for NaN."""
    return _state["check_nan"]


def _set(enabled, check_nan):
    _state["enabled"] = enabled
    _state["check_nan"] = check_nan


class detect_anomaly(DecoratorContextManager):
    """Context manager and decorator that turns anomaly detection on (warning that it is slow)."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        self._previous = []
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", UserWarning, stacklevel=2)

    def __enter__(self):
        self._previous.append((is_anomaly_enabled(), is_anomaly_check_nan_enabled()))
        _set(True, self.check_nan)

    def __exit__(self, exception_type, exception_value, traceback):
        _set(*self._previous.pop())
        return False

    def clone(self):
        clone = object.__new__(type(self))
        clone.check_nan = self.check_nan
        clone._previous = []
        return clone


class set_detect_anomaly(DecoratorContextManager):
    """Set anomaly detection at once (a plain call works); as a context manager, restore the
    state from before construction on exit."""

    def __init__(self, mode, check_nan=True):
        self._previous = (is_anomaly_enabled(), is_anomaly_check_nan_enabled())
        self.mode = mode
        self.check_nan = check_nan
        _set(mode, check_nan)

    def __enter__(self):
        """The mode was set on construction."""

    def __exit__(self, exception_type, exception_value, traceback):
        _set(*self._previous)
        return False

    def clone(self):
        return type(self)(self.mode, self.check_nan)
