"""``torch.profiler``: the CPU profiler of ``ember.autograd.profiler`` with PyTorch's front end
(activities, a wait/warmup/active ``schedule``, ``step()``, ``on_trace_ready`` handlers such as
``tensorboard_trace_handler``). ember computes on the CPU only: other activities record
nothing."""
import enum
import os
import socket
import time

from .autograd import kineto_available  # noqa: F401
from .autograd.profiler import (  # noqa: F401
    EventList, ProfilerActivity, profile as _autograd_profile, record_function)

__all__ = ["ProfilerAction", "ProfilerActivity", "kineto_available", "profile", "record_function",
           "schedule", "supported_activities", "tensorboard_trace_handler"]


class ProfilerAction(enum.Enum):
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3
    DEVICE_STOPPED = 4


def supported_activities():
    return {ProfilerActivity.CPU}


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """PyTorch's step -> action schedule: skip ``skip_first`` steps, then cycles of ``wait``
    idle, ``warmup`` and ``active`` recorded steps (the last one saving), ``repeat`` times (0:
    forever)."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError("Invalid profiler schedule arguments")
    if warmup == 0:
        import warnings  # only for this advice
        warnings.warn("Profiler won't be using warmup, this can skew profiler results",
                      stacklevel=2)

    def action(step):
        if step < 0:
            raise AssertionError("step must be non-negative")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait and step < wait:
            return ProfilerAction.NONE
        cycle = wait + warmup + active
        if repeat > 0 and step // cycle >= repeat:
            return ProfilerAction.NONE
        position = step % cycle
        if position < wait:
            return ProfilerAction.NONE
        if position < wait + warmup:
            return ProfilerAction.WARMUP
        return (ProfilerAction.RECORD if position < cycle - 1
                else ProfilerAction.RECORD_AND_SAVE)

    return action


def _always_record(step):
    return ProfilerAction.RECORD


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False):
    """An ``on_trace_ready`` handler writing each trace as Chrome JSON into ``dir_name``, named
    as PyTorch names them (worker name, then a millisecond time stamp)."""
    def handler(prof):
        os.makedirs(dir_name, exist_ok=True)
        worker = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        name = f"{worker}.{time.time_ns() // 1_000_000}.pt.trace.json"
        if use_gzip:
            name += ".gz"
        prof.export_chrome_trace(os.path.join(dir_name, name))

    return handler


class profile:
    """``torch.profiler.profile``: records while the schedule says so (always, without one) and
    hands each finished recording to ``on_trace_ready``."""

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None,
                 record_shapes=False, profile_memory=False, with_stack=False, with_flops=False,
                 with_modules=False, experimental_config=None, execution_trace_observer=None,
                 acc_events=False, use_cuda=None, custom_trace_id_callback=None):
        self.activities = set(activities) if activities is not None else supported_activities()
        self.schedule = schedule if schedule is not None else _always_record
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.step_num = 0
        self.profiler = None  # the recording of the current (or last) cycle
        self._recording = None
        self._events = EventList()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()
        return False

    def start(self):
        self._act(ProfilerAction.NONE, self.schedule(self.step_num))

    def stop(self):
        if self._recording is not None:
            self._finish(save=True)

    def step(self):
        """Mark the end of a step: the schedule may start, keep, or save a recording."""
        previous = self.schedule(self.step_num)
        self.step_num += 1
        self._act(previous, self.schedule(self.step_num))

    def _act(self, previous, current):
        if previous == ProfilerAction.RECORD_AND_SAVE and self._recording is not None:
            self._finish(save=True)
        if current in (ProfilerAction.WARMUP, ProfilerAction.RECORD,
                       ProfilerAction.RECORD_AND_SAVE) and self._recording is None:
            self._recording = _autograd_profile(record_shapes=self.record_shapes,
                                                profile_memory=self.profile_memory)
            self._recording._start()
        elif current == ProfilerAction.NONE and self._recording is not None:
            self._finish(save=False)

    def _finish(self, save):
        recording, self._recording = self._recording, None
        recording._stop()
        self.profiler = recording
        if save and self.on_trace_ready is not None:
            self.on_trace_ready(self)

    def _finished(self):
        if self.profiler is None:
            raise AssertionError("profiler has not recorded anything yet")
        return self.profiler

    def events(self):
        return self._finished().function_events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        return self._finished().key_averages(group_by_input_shape, group_by_stack_n)

    def export_chrome_trace(self, path):
        return self._finished().export_chrome_trace(path)

    def export_stacks(self, path, metric="self_cpu_time_total"):
        with open(path, "w"):
            pass  # ember records no stacks: an empty file, as PyTorch writes without with_stack
