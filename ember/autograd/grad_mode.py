"""Grad mode: whether ops record a graph, private to each thread and each asyncio task."""
import threading

from .._grad_state import GradState, _grad_state
from ._contextlib import DecoratorContextManager

__all__ = [
    "enable_grad",
    "enforce_grad_layout_policy",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "is_multithreading_enabled",
    "is_view_replay_enabled",
    "no_grad",
    "set_grad_enabled",
    "set_multithreading_enabled",
]


def is_grad_enabled():
    """Return True if grad mode is on in this thread / asyncio task."""
    return _grad_state.get().grad_enabled


def is_inference_mode_enabled():
    """Return True if inference mode is on in this thread / asyncio task."""
    return _grad_state.get().inference


class _GradModeSwitch(DecoratorContextManager):
    """Shared body of no_grad and enable_grad: set the grad flag on enter, restore on exit."""

    _grad_enabled = True

    def __new__(cls, function=None):
        # Bare use as a decorator (`@no_grad` without parentheses) passes the function here.
        if function is None:
            return super().__new__(cls)
        return cls()(function)

    def __init__(self, function=None):
        # A stack, so one instance can be entered again while already entered.
        self._previous_states = []

    def __enter__(self):
        previous_state = _grad_state.get()
        self._previous_states.append(previous_state)
        _grad_state.set(GradState(self._grad_enabled, previous_state.inference))

    def __exit__(self, exception_type, exception_value, traceback):
        _grad_state.set(self._previous_states.pop())

    def clone(self):
        return type(self)()


class no_grad(_GradModeSwitch):
    """Context manager and decorator that turns grad mode off, so no graph is recorded.

    Only entering it changes the state: a bare `no_grad()` statement does nothing.
    """

    _grad_enabled = False


class enable_grad(_GradModeSwitch):
    """Context manager and decorator that turns grad mode on, e.g. inside `no_grad`.

    Inside inference mode the grad flag turns on but inference mode stays, so nothing is recorded.
    """

    _grad_enabled = True


class set_grad_enabled(DecoratorContextManager):
    """Set grad mode to `mode` at once (a plain call works); as a context manager, restore on exit.

    The state restored on exit is the one from before construction.
    """

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(
                "set_grad_enabled(): argument 'enabled' (position 1) must be bool, "
                f"not {type(mode).__name__}"
            )
        self.mode = mode
        self._previous_state = _grad_state.get()
        _grad_state.set(GradState(mode, self._previous_state.inference))

    def __call__(self, function):
        # Construction already switched the mode; a decorator must leave the caller's state alone.
        _grad_state.set(self._previous_state)
        return super().__call__(function)

    def __enter__(self):
        _grad_state.set(GradState(self.mode, _grad_state.get().inference))

    def __exit__(self, exception_type, exception_value, traceback):
        _grad_state.set(self._previous_state)

    def clone(self):
        return type(self)(self.mode)

    def __repr__(self):
        return f"{type(self).__module__}.{type(self).__name__}(mode={self.mode})"


class inference_mode(DecoratorContextManager):
    """Inference mode, as context manager and decorator: grad off; enable_grad inside records nothing.

    `inference_mode(False)` turns both flags off, which re-enables grad even inside `no_grad`.
    """

    def __new__(cls, mode=True):
        # Bare `@inference_mode` (no parentheses) passes the decorated function as mode.
        if isinstance(mode, bool):
            return super().__new__(cls)
        if callable(mode):
            return cls()(mode)
        raise TypeError(
            f"inference_mode(): argument 'mode' must be bool, not {type(mode).__name__}; "
            "pass True or False, or decorate a function"
        )

    def __init__(self, mode=True):
        self.mode = mode
        self._previous_states = []

    def __enter__(self):
        self._previous_states.append(_grad_state.get())
        _grad_state.set(GradState(not self.mode, self.mode))

    def __exit__(self, exception_type, exception_value, traceback):
        _grad_state.set(self._previous_states.pop())

    def clone(self):
        return type(self)(self.mode)


# Whether the engine may run a backward's CPU work on its worker threads; ember's engine runs
# every backward in the caller's thread, so the flag is only recorded and reported.
_multithreading = [True]


def is_multithreading_enabled():
    return _multithreading[0]


class set_multithreading_enabled(DecoratorContextManager):
    """Set the engine's multithreading flag at once; as a context manager, restore it on exit
    (the state restored is the one from before construction)."""

    def __init__(self, mode):
        self.mode = mode
        self._previous = _multithreading[0]
        _multithreading[0] = mode

    def __call__(self, function):
        _multithreading[0] = self._previous  # a decorator leaves the caller's flag alone
        return super().__call__(function)

    def __enter__(self):
        _multithreading[0] = self.mode

    def __exit__(self, exception_type, exception_value, traceback):
        _multithreading[0] = self._previous

    def clone(self):
        return type(self)(self.mode)


def is_view_replay_enabled():
    """Whether views of views are rebuilt by replaying view ops (never here, as PyTorch's
    default)."""
    return False


# Whether the gradient layout contract is enforced, per thread (PyTorch's flag is thread-local).
_layout_policy = threading.local()


def is_grad_layout_enforcement_enabled():
    return getattr(_layout_policy, "enabled", True)


class enforce_grad_layout_policy(DecoratorContextManager):
    """Set whether accumulated gradients must follow the gradient layout contract (their
    parameter's strides), at once; as a context manager, restore on exit. Relaxing lets
    PyTorch keep a gradient's own layout where that saves a copy; ember's engine keeps the
    contract either way, which the relaxed policy allows."""

    def __init__(self, enable=True):
        self.mode = enable
        self._previous = is_grad_layout_enforcement_enabled()
        _layout_policy.enabled = enable

    def __call__(self, function):
        _layout_policy.enabled = self._previous  # a decorator leaves the caller's flag alone
        return super().__call__(function)

    def __enter__(self):
        pass

    def __exit__(self, exception_type, exception_value, traceback):
        _layout_policy.enabled = self._previous

    def clone(self):
        return type(self)(self.mode)
