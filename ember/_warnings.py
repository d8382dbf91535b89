"""ModeWarning and the switch for the mode-misuse checks, at the bottom layer so that Module and
Optimizer can call into them; the checks themselves live in ``ember.training.modes``."""
import contextvars
import os
import sys
import threading
import warnings

__all__ = ["ModeWarning", "set_mode_checks"]


class ModeWarning(UserWarning):
    """A train/eval mode that is most likely a mistake (e.g. evaluating without ``eval()``)."""


class _CallState(threading.local):
    # True while no Module.__call__ is in progress on this thread: the next call is top-level.
    outermost = True


_call_state = _CallState()

# Depth of the deliberate mode tools (evaluating, training_mode, mc_dropout, update_bn) entered
# in this thread / asyncio task: the checks stay silent inside them.
_deliberate_depth = contextvars.ContextVar("_deliberate_depth", default=0)

_checks_enabled = True

# Registered by ember.training.modes: forward_check(module) after every top-level module call.
_forward_check = None


def set_mode_checks(enabled):
    """Turn the ModeWarning checks on or off for the whole process (they are on by default)."""
    global _checks_enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"set_mode_checks(): expected a bool, got {type(enabled).__name__}")
    _checks_enabled = enabled


def mode_checks_active():
    """Whether a check should run now: switched on and outside every deliberate mode tool."""
    return _checks_enabled and _deliberate_depth.get() == 0


class deliberate:
    """Marks a block as deliberate mode handling, so the mode checks stay silent in it."""

    __slots__ = ()

    def __enter__(self):
        _deliberate_depth.set(_deliberate_depth.get() + 1)
        return self

    def __exit__(self, exception_type, exception_value, traceback):
        _deliberate_depth.set(_deliberate_depth.get() - 1)
        return False


_PACKAGE_PREFIX = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message):
    """Issue a ModeWarning pointing at the first caller outside the ember package."""
    frame = sys._getframe(1)
    level = 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_PREFIX):
        frame = frame.f_back
        level += 1
    warnings.warn(message, ModeWarning, stacklevel=level)


def outermost_call(module, args, kwargs):
    """Run a top-level ``module(*args, **kwargs)`` (nested calls take the plain path), then the
    forward check."""
    state = _call_state
    state.outermost = False
    try:
        output = module(*args, **kwargs)
    finally:
        state.outermost = True
    check = _forward_check
    if check is not None and _checks_enabled and _deliberate_depth.get() == 0:
        check(module)
    return output
