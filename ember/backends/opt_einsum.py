"""``torch.backends.opt_einsum``: whether the opt_einsum package is there (ember's einsum is
NumPy's, which orders contractions with its own optimiser). ``enabled`` and ``strategy`` are
plain attributes, as they are in PyTorch; ``flags()`` checks what it sets, as PyTorch's does."""
import contextlib
import importlib
import importlib.util
import sys

_STRATEGIES = ("auto", "greedy", "optimal")


def is_available():
    return importlib.util.find_spec("opt_einsum") is not None


def get_opt_einsum():
    """The opt_einsum package if it is installed, else None."""
    return importlib.import_module("opt_einsum") if is_available() else None


enabled = is_available()
strategy = "auto" if enabled else None


def _check(new_enabled, new_strategy):
    if new_enabled and not is_available():
        raise ValueError(f"opt_einsum is not available, so setting `enabled` to {new_enabled} "
                         f"will not reap the benefits of calculating an optimal path for "
                         f"einsum. torch.einsum will fall back to contracting from left to "
                         f"right. To enable this optimal path calculation, please install "
                         f"opt-einsum.")
    if new_strategy is None:
        return
    if not is_available():
        raise ValueError(f"opt_einsum is not available, so setting `strategy` to {new_strategy} "
                         f"will not be meaningful. torch.einsum will bypass path calculation "
                         f"and simply contract from left to right. Please install opt_einsum "
                         f"or unset `strategy`.")
    if not (enabled if new_enabled is None else new_enabled):
        raise ValueError(f"opt_einsum is not enabled, so setting a `strategy` to {new_strategy} "
                         f"will not be meaningful. torch.einsum will bypass path calculation "
                         f"and simply contract from left to right. Please set `enabled` to "
                         f"`True` as well or unset `strategy`.")
    if new_strategy not in _STRATEGIES:
        raise ValueError(f"`strategy` must be one of the following: [auto, greedy, optimal] but "
                         f"is {new_strategy}")


@contextlib.contextmanager
def flags(enabled=None, strategy=None):
    """Set ``enabled`` and ``strategy`` inside a ``with`` block and restore them after it."""
    module = sys.modules[__name__]
    _check(enabled, strategy)
    saved = (module.enabled, module.strategy)
    if enabled is not None:
        module.enabled = enabled
    if strategy is not None:
        module.strategy = strategy
    try:
        yield
    finally:
        module.enabled, module.strategy = saved
