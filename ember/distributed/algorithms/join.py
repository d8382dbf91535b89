"""The Join context manager: training on uneven inputs (``torch.distributed.algorithms.join``).

A rank that runs out of inputs leaves the ``with`` body and "joins": inside ``__exit__`` it keeps
shadowing, once per iteration of the ranks still training, the collectives they issue (each
``Joinable``'s ``main_hook``), until every rank has joined; then every ``post_hook`` runs (DDP
makes the models equal again). Each iteration of a rank still training starts with
``Join.notify_join_context(joinable)``: an all-reduce of 1 that the joined ranks match with 0,
so everyone knows how many ranks are still training.
"""
import abc
import collections
import warnings

import numpy as np

from ...tensor import Tensor
from .. import comm

__all__ = ["JoinHook", "Joinable", "Join"]

# After this many shadowed iterations a joined rank warns that the inputs are very uneven.
_SKEW_WARNING_ITERATIONS = 1000


class JoinHook:
    """What a joined rank does for one ``Joinable``: ``main_hook`` once per iteration of the ranks
    still training, ``post_hook`` once all have joined."""

    def main_hook(self):
        """Shadow the collectives of one training iteration (forward, backward, step)."""

    def post_hook(self, is_last_joiner):
        """Run after every rank has joined; ``is_last_joiner`` is True on the ranks that joined
        last."""


_JoinConfig = collections.namedtuple(
    "_JoinConfig", ["enable", "throw_on_early_termination", "is_first_joinable"])
_DISABLED = _JoinConfig(enable=False, throw_on_early_termination=False, is_first_joinable=False)


class Joinable(abc.ABC):
    """A class that can take part in ``Join``: it provides ``join_hook``, ``join_device`` and
    ``join_process_group``, and calls ``Join.notify_join_context(self)`` before the collectives
    of each iteration."""

    @abc.abstractmethod
    def __init__(self):
        super().__init__()
        self._join_config = _DISABLED

    @abc.abstractmethod
    def join_hook(self, **kwargs):
        """The ``JoinHook`` for this object; ``kwargs`` are those given to ``Join``."""

    @property
    @abc.abstractmethod
    def join_device(self):
        """The device of the join context's own collectives."""

    @property
    @abc.abstractmethod
    def join_process_group(self):
        """The process group of the join context's own collectives."""


def _all_reduce_scalar(value, process_group, async_op=False):
    """All-reduce a one-element float32 tensor holding ``value``; returns (tensor, work)."""
    tensor = Tensor._wrap(np.full(1, value, dtype=np.float32))
    work = comm.all_reduce(tensor, group=process_group, async_op=async_op)
    return tensor, work


class Join:
    """Context manager for ranks with different numbers of inputs (``torch.distributed.
    algorithms.Join``).

    ``joinables`` take part, their hooks run in the given order; ``enable=False`` turns the
    context into a no-op (for inputs known to be even); with ``throw_on_early_termination``
    every rank raises as soon as one rank runs out of inputs. Extra keyword arguments go to
    every ``join_hook``.
    """

    def __init__(self, joinables, enable=True, throw_on_early_termination=False, **kwargs):
        if len(joinables) == 0:
            raise ValueError("The join context manager requires at least one joinable")
        self._joinables = joinables
        self._join_hooks = [joinable.join_hook(**kwargs) for joinable in self._joinables]
        self._enable = enable
        self._throw_on_early_termination = throw_on_early_termination
        self._set_joinable_configs()
        self._extract_dist_info()

    def _set_joinable_configs(self):
        for index, joinable in enumerate(self._joinables):
            joinable._join_config = _JoinConfig(
                enable=self._enable, throw_on_early_termination=self._throw_on_early_termination,
                is_first_joinable=index == 0)

    def _extract_dist_info(self):
        process_group = None
        device = None
        for joinable in self._joinables:
            if process_group is None:
                process_group = joinable.join_process_group
            elif process_group != joinable.join_process_group:
                raise ValueError("Using join context manager with multiple process groups")
            if device is None:
                device = joinable.join_device
        self._process_group = process_group
        self._rank = comm.get_rank(process_group)
        self._device = device

    def __enter__(self):
        return None

    def __exit__(self, exception_type, exception, traceback):
        """Shadow the other ranks' iterations until every rank has joined, then run the post
        hooks. An exception from the body propagates at once."""
        try:
            if not self._enable or exception_type is not None:
                return None
            is_last_joiner = True
            iteration = 0
            while self._get_num_nonjoined_procs() > 0:
                if iteration == _SKEW_WARNING_ITERATIONS:
                    warnings.warn(f"Detected uneven input skew of greater than "
                                  f"{_SKEW_WARNING_ITERATIONS}. This means that rank "
                                  f"{self._rank} has at least {_SKEW_WARNING_ITERATIONS} fewer "
                                  f"inputs than other currently-active ranks. This level of "
                                  f"skew could lead to performance degradation during training.",
                                  stacklevel=2)
                if self._throw_on_early_termination:
                    self._notify_procs_to_terminate()
                for join_hook in self._join_hooks:
                    join_hook.main_hook()
                is_last_joiner = False
                iteration += 1
            for join_hook in self._join_hooks:
                join_hook.post_hook(is_last_joiner)
            return None
        finally:
            # Outside the context the joinables' iterations are plain again (PyTorch keeps them
            # notifying, which costs a collective per iteration and hangs a lone forward).
            for joinable in self._joinables:
                joinable._join_config = _DISABLED

    def _get_num_nonjoined_procs(self):
        """Match the notifying all-reduce of the ranks still training; how many they are."""
        count, _ = _all_reduce_scalar(0.0, self._process_group)
        return int(count._data[0])

    def _notify_procs_to_terminate(self):
        _all_reduce_scalar(1.0, self._process_group)
        raise RuntimeError(f"Rank {self._rank} exhausted all inputs.")

    @staticmethod
    def notify_join_context(joinable):
        """Tell the join context that this rank has not joined (call before an iteration's
        collectives). Returns the work handle of that all-reduce, whose result is the number of
        ranks still training, for the first joinable of an enabled context; else None. With
        ``throw_on_early_termination``, raises on every rank once one rank has joined."""
        if not hasattr(joinable, "_join_config"):
            raise AssertionError(f"Check that the {type(joinable)} constructor calls the "
                               f"``Joinable`` constructor")
        join_config = joinable._join_config
        if not join_config.is_first_joinable or not join_config.enable:
            return None
        process_group = joinable.join_process_group
        _, work = _all_reduce_scalar(1.0, process_group, async_op=True)
        if join_config.throw_on_early_termination:
            should_throw, _ = _all_reduce_scalar(0.0, process_group)
            if should_throw._data[0]:
                raise RuntimeError("Detected at least one rank that exhausted inputs. Throwing "
                                   "across all ranks.")
        return work
