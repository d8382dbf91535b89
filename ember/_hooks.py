"""``RemovableHandle``: what every ``register_*_hook`` returns (tensors, nodes, modules, optimizers).

Hooks live in dicts keyed by the handle's id (insertion order is run order); a handle may also be
listed in sets of ids that mark how its hook is called (e.g. ``with_kwargs``).
"""
import itertools

__all__ = ["RemovableHandle"]


class RemovableHandle:
    """``remove()`` (or leaving a ``with`` block) unregisters the hook from every dict and set."""

    _next_id = itertools.count()

    def __init__(self, *hook_dicts):
        self.hook_dicts = hook_dicts
        self.id = next(RemovableHandle._next_id)

    def remove(self):
        for hooks in self.hook_dicts:
            if isinstance(hooks, set):
                hooks.discard(self.id)
            else:
                hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()


def add_hook(hooks, hook, prepend=False):
    """Register ``hook`` in the ordered dict ``hooks`` (first, with ``prepend``); its handle."""
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle
