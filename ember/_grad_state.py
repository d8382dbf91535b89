"""The grad mode's state: per thread and per asyncio task, read by every op (``ember.autograd.
grad_mode`` holds the switches). Below ``ember.tensor``, which reads the inference flag."""
import contextvars
from collections import namedtuple


class GradState(namedtuple("GradState", ["grad_enabled", "inference"])):
    """The grad mode of a thread or task: ops record a graph when grad_enabled and not inference."""

    __slots__ = ()


# Read by the autograd core on every op. A ContextVar, so a new thread starts from the default and
# every asyncio task works on its own copy.
_grad_state = contextvars.ContextVar("_grad_state", default=GradState(True, False))

# Whether ops may skip Op.apply for work nothing records (no-grad float arithmetic): cleared
# while ember.autograd.profiler records, so that every op appears among its events.
fast_paths = [True]
