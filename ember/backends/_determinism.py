"""``torch.use_deterministic_algorithms`` and its debug mode. Every ember kernel is
deterministic (NumPy on the CPU, fixed reduction orders), so the setting is recorded and read
back as in PyTorch and changes no result."""

_MODES = {"default": 0, "warn": 1, "error": 2}
_state = {"enabled": False, "warn_only": False}


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Ask for deterministic algorithms (``warn_only``: warn instead of raising where an op has
    none; ember's ops all are)."""
    for name, value, position in (("mode", mode, " (position 1)"), ("warn_only", warn_only, "")):
        if not isinstance(value, bool):
            # PyTorch's words, which name its internal setter.
            raise TypeError(f"_set_deterministic_algorithms(): argument '{name}'{position} must "
                            f"be bool, not {type(value).__name__}")
    _state["enabled"] = mode
    _state["warn_only"] = warn_only


def are_deterministic_algorithms_enabled():
    return _state["enabled"]


def is_deterministic_algorithms_warn_only_enabled():
    return _state["warn_only"]


def set_deterministic_debug_mode(debug_mode):
    """0/'default': off, 1/'warn': deterministic with warnings, 2/'error': deterministic."""
    if isinstance(debug_mode, str):
        if debug_mode not in _MODES:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, "
                               f"`error`, but got {debug_mode}")
        debug_mode = _MODES[debug_mode]
    elif not isinstance(debug_mode, int):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got "
                           f"{debug_mode}")
    _state["enabled"] = debug_mode != 0
    _state["warn_only"] = debug_mode == 1


def get_deterministic_debug_mode():
    if not _state["enabled"]:
        return 0
    return 1 if _state["warn_only"] else 2
