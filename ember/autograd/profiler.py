"""A CPU profiler of ember's ops (``torch.autograd.profiler``): while a profile is active, every
op's forward (``Op.apply``), every backward node (``autograd::engine::evaluate_function: ...``)
and every ``record_function`` block becomes a timed event; ``key_averages().table()`` prints
PyTorch's table (self and total CPU time per name). Nothing is wrapped while no profile runs, so
the profiler costs nothing otherwise."""
import enum
import functools
import json
import os
import threading
import time

from .. import _grad_state
from .function import Op
from .node import Node

__all__ = ["DeviceType", "EventList", "FunctionEvent", "FunctionEventAvg", "ProfilerActivity",
           "ProfilerState", "emit_itt", "emit_nvtx", "profile", "record_function"]


class ProfilerActivity(enum.Enum):
    """What torch.profiler records: ember computes, and records, on the CPU only."""

    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5


# c10's device types and the autograd profiler's states, as torch.autograd names them.
DeviceType = enum.IntEnum("DeviceType", [
    ("CPU", 0), ("CUDA", 1), ("MKLDNN", 2), ("OPENGL", 3), ("OPENCL", 4), ("IDEEP", 5),
    ("HIP", 6), ("FPGA", 7), ("MAIA", 8), ("XLA", 9), ("Vulkan", 10), ("Metal", 11), ("XPU", 12),
    ("MPS", 13), ("Meta", 14), ("HPU", 15), ("VE", 16), ("Lazy", 17), ("IPU", 18), ("MTIA", 19),
    ("PrivateUse1", 20)], module=__name__)
ProfilerState = enum.IntEnum("ProfilerState", [
    ("Disabled", 0), ("CPU", 1), ("CUDA", 2), ("NVTX", 3), ("ITT", 4), ("PRIVATEUSE1", 5),
    ("KINETO", 6), ("KINETO_GPU_FALLBACK", 7), ("KINETO_PRIVATEUSE1_FALLBACK", 8),
    ("KINETO_PRIVATEUSE1", 9)], module=__name__)
DeviceType.__str__ = ProfilerState.__str__ = enum.Enum.__str__  # "DeviceType.CPU", as PyTorch

_lock = threading.Lock()
_active = []  # the profiles recording now, innermost last
_originals = {}  # what the wrappers replaced: restored when the last profile stops
_stack = threading.local()  # per thread: the open events, innermost last


class FunctionEvent:
    """One timed call: ``name``, start and end in microseconds, its shapes, its children's
    time (for the self time)."""

    def __init__(self, name, start_us, thread, input_shapes):
        self.name = self.key = name
        self.start_us = start_us
        self.end_us = start_us
        self.thread = thread
        self.input_shapes = input_shapes
        self.children_us = 0.0
        self.is_top_level = True
        self.count = 1
        # bytes of the arrays the op returned (profile_memory), and with its children's
        self.self_cpu_memory_usage = 0
        self.cpu_memory_usage = 0

    @property
    def cpu_time_total(self):
        return self.end_us - self.start_us

    @property
    def self_cpu_time_total(self):
        return self.cpu_time_total - self.children_us

    cpu_time = cpu_time_total
    device_time_total = self_device_time_total = 0.0

    def __repr__(self):
        return (f"<FunctionEvent name={self.name} cpu_time={_format_us(self.cpu_time_total)} "
                f"self_cpu_time={_format_us(self.self_cpu_time_total)}>")


class FunctionEventAvg:
    """The events of one name (and shapes, when grouped by them), summed."""

    def __init__(self, key, input_shapes):
        self.key = key
        self.input_shapes = input_shapes
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.device_time_total = self.self_device_time_total = 0.0
        self.cpu_memory_usage = self.self_cpu_memory_usage = 0

    def add(self, event):
        self.count += event.count
        self.cpu_time_total += event.cpu_time_total
        self.self_cpu_time_total += event.self_cpu_time_total
        self.cpu_memory_usage += event.cpu_memory_usage
        self.self_cpu_memory_usage += event.self_cpu_memory_usage
        return self

    @property
    def cpu_time(self):
        return self.cpu_time_total / self.count if self.count else 0.0

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} self_cpu_time="
                f"{_format_us(self.self_cpu_time_total)} cpu_time={_format_us(self.cpu_time)} "
                f"count={self.count}>")


class EventList(list):
    """A list of events with PyTorch's ``table``, ``key_averages``, ``total_average`` and
    ``export_chrome_trace``."""

    def __init__(self, events=(), with_shapes=False, profile_memory=False):
        super().__init__(events)
        self._with_shapes = with_shapes
        self._profile_memory = profile_memory

    @property
    def self_cpu_time_total(self):
        return sum(event.self_cpu_time_total for event in self)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        groups = {}
        for event in self:
            shapes = str(event.input_shapes) if group_by_input_shape else None
            key = (event.key, shapes)
            if key not in groups:
                groups[key] = FunctionEventAvg(event.key, event.input_shapes
                                               if group_by_input_shape else None)
            groups[key].add(event)
        return EventList(groups.values(), with_shapes=group_by_input_shape,
                         profile_memory=self._profile_memory)

    def total_average(self):
        total = FunctionEventAvg("Total", None)
        for event in self:
            total.add(event)
        return total

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False, time_unit=None):
        return _table(self, sort_by, row_limit, max_name_column_width, max_shapes_column_width,
                      header, top_level_events_only, time_unit)

    def export_chrome_trace(self, path):
        _export_chrome_trace(self, path)


class profile:
    """``torch.autograd.profiler.profile``: times ember's ops inside the ``with`` block."""

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False,
                 with_flops=False, profile_memory=False, with_stack=False, with_modules=False,
                 use_kineto=False, use_cpu=True, experimental_config=None, acc_events=False,
                 custom_trace_id_callback=None):
        self.enabled = enabled
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.entered = False
        self.function_events = None
        self._events = []

    def __enter__(self):
        if not self.enabled:
            return self
        if self.entered:
            raise RuntimeError("Profiler context manager is not reentrant")
        self.entered = True
        self._start()
        return self

    def __exit__(self, *exc_info):
        if self.enabled:
            self._stop()
        return False

    def _start(self):
        self._events = []
        self.function_events = None
        with _lock:
            if not _active:
                _install()
            _active.append(self)

    def _stop(self):
        with _lock:
            if self in _active:
                _active.remove(self)
            if not _active:
                _uninstall()
        self.function_events = EventList(sorted(self._events, key=lambda e: e.start_us),
                                         with_shapes=self.record_shapes,
                                         profile_memory=self.profile_memory)

    def _check_finished(self):
        if self.function_events is None:
            raise RuntimeError("Profiler didn't finish running")

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        self._check_finished()
        return self.function_events.key_averages(group_by_input_shape, group_by_stack_n)

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False, time_unit=None):
        self._check_finished()
        return self.function_events.table(sort_by, row_limit, max_src_column_width,
                                          max_name_column_width, max_shapes_column_width,
                                          header, top_level_events_only, time_unit)

    def total_average(self):
        self._check_finished()
        return self.function_events.total_average()

    @property
    def self_cpu_time_total(self):
        self._check_finished()
        return self.function_events.self_cpu_time_total

    def export_chrome_trace(self, path):
        self._check_finished()
        _export_chrome_trace(self.function_events, path)

    def __str__(self):
        self._check_finished()
        return self.table()


class record_function:
    """A named block in the profile (a context manager, or a decorator of a function)."""

    def __init__(self, name, args=None):
        self.name = name
        self.args = args
        self._event = None

    def __enter__(self):
        if _active:
            self._event = _open(self.name, None)
        return self

    def __exit__(self, *exc_info):
        if self._event is not None:
            _close(self._event)
            self._event = None
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with record_function(self.name, self.args):
                return function(*args, **kwargs)

        return wrapper


# ---- recording --------------------------------------------------------------------------------
class emit_nvtx:
    """NVTX ranges for NVIDIA's profilers: a CUDA feature, so entering it enabled raises as
    PyTorch's CPU build does."""

    def __init__(self, enabled=True, record_shapes=False):
        self.enabled = enabled
        self.record_shapes = record_shapes

    def __enter__(self):
        if self.enabled:
            raise AssertionError("Torch not compiled with CUDA enabled")
        return self

    def __exit__(self, *exc_info):
        return False


class emit_itt:
    """Intel ITT ranges for VTune: no ITT here, so the block runs unannotated."""

    def __init__(self, enabled=True, record_shapes=False):
        self.enabled = enabled
        self.record_shapes = record_shapes

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


def _now_us():
    return time.perf_counter_ns() / 1000.0


def _open(name, shapes):
    stack = getattr(_stack, "events", None)
    if stack is None:
        stack = _stack.events = []
    event = FunctionEvent(name, _now_us(), threading.get_ident(), shapes)
    event.is_top_level = not stack
    stack.append(event)
    return event


def _close(event):
    event.end_us = _now_us()
    stack = _stack.events
    if stack and stack[-1] is event:
        stack.pop()
    if stack:
        stack[-1].children_us += event.cpu_time_total
        stack[-1].cpu_memory_usage += event.cpu_memory_usage
    for active in list(_active):
        active._events.append(event)


def _op_name(cls, ctx):
    """PyTorch's spelling where the op knows it (``AddmmBackward0`` -> ``aten::addmm``), else
    the op class's name in lower case."""
    torch_name = getattr(ctx, "_torch_name", None) if ctx is not None else None
    name = torch_name.rpartition("::")[2] if torch_name else cls.__name__
    for suffix in ("Backward0", "Backward1", "Backward2", "Backward3", "Backward4"):
        if name.endswith(suffix):
            name = name[:-len(suffix)]
            break
    return "aten::" + name.lower()


def _shapes(args):
    shapes = []
    for arg in args:
        shape = getattr(arg, "shape", None)
        shapes.append(list(shape) if shape is not None and not isinstance(arg, type) else [])
    return shapes


def _output_bytes(result):
    """Bytes of the arrays an op returned that own their memory (views allocate nothing)."""
    total = 0
    for item in result if isinstance(result, tuple) else (result,):
        array = getattr(item, "_data", None)
        if getattr(array, "base", 0) is None:
            total += array.nbytes
    return total


def _install():
    apply = Op.__dict__["apply"].__func__
    run_backward = Node._run_backward
    _originals["apply"] = apply
    _originals["run_backward"] = run_backward

    def timed_apply(cls, *args):
        record_shapes = any(active.record_shapes for active in _active)
        event = _open(cls.__name__, _shapes(args) if record_shapes else None)
        result = None
        try:
            result = apply(cls, *args)
            return result
        finally:
            first = result[0] if isinstance(result, tuple) and result else result
            event.name = event.key = _op_name(cls, getattr(first, "grad_fn", None))
            if result is not None and any(active.profile_memory for active in _active):
                allocated = _output_bytes(result)
                event.self_cpu_memory_usage = allocated
                event.cpu_memory_usage += allocated
            _close(event)

    def timed_run_backward(node, grad_outputs, create_graph):
        event = _open(f"autograd::engine::evaluate_function: {node.name()}", None)
        try:
            return run_backward(node, grad_outputs, create_graph)
        finally:
            _close(event)

    Op.apply = classmethod(timed_apply)
    Node._run_backward = timed_run_backward
    _grad_state.fast_paths[0] = False


def _uninstall():
    if "apply" in _originals:
        Op.apply = classmethod(_originals.pop("apply"))
        Node._run_backward = _originals.pop("run_backward")
        _grad_state.fast_paths[0] = True


# ---- output -----------------------------------------------------------------------------------
def _format_us(value, time_unit=None):
    """A time in microseconds as PyTorch's table shows it: in the unit asked for, else in the
    largest of s, ms and us that is reached."""
    if time_unit == "s" or time_unit is None and value >= 1e6:
        return f"{value / 1e6:.3f}s"
    if time_unit == "ms" or time_unit is None and value >= 1e3:
        return f"{value / 1e3:.3f}ms"
    return f"{value:.3f}us"


def _format_share(value, total):
    if total == 0:
        return "NaN"
    return f"{value * 100.0 / total:.2f}%"


_SORT_KEYS = {"cpu_time_total", "self_cpu_time_total", "cpu_time", "count",
              "self_cpu_memory_usage", "cpu_memory_usage", "device_time_total",
              "self_device_time_total", "cuda_time_total", "self_cuda_time_total"}


def _format_memory(nbytes):
    """PyTorch's spelling of a byte count in the profiler's table."""
    for unit, size in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if abs(nbytes) >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{nbytes} B"


def _table(events, sort_by, row_limit, name_width, shapes_width, header, top_level_only,
           time_unit):
    """PyTorch's summary table: columns sized to the widest name and input shapes of all the
    events (plus 4, within the given maxima), values right-aligned, two spaces apart."""
    if len(events) == 0:
        return ""
    rows = list(events)
    if sort_by is not None:
        if sort_by not in _SORT_KEYS:
            raise AttributeError(f"'{type(rows[0]).__name__}' object has no attribute "
                                 f"'{sort_by}'")
        rows.sort(key=lambda event: getattr(event, sort_by, 0.0), reverse=True)
    with_shapes = getattr(events, "_with_shapes", False) and any(
        event.input_shapes for event in rows)
    with_memory = getattr(events, "_profile_memory", False)
    name_column = max(len(str(event.key)) for event in rows) + 4
    if name_width is not None:
        name_column = min(name_column, name_width)
    titles = ["Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"]
    if with_memory:
        titles += ["CPU Mem", "Self CPU Mem"]
    columns = [("Name", name_column)] + [(title, 12) for title in titles + ["# of Calls"]]
    if with_shapes:
        shapes_column = max(len(_shapes_text(event)) for event in rows) + 4
        if shapes_width is not None:
            shapes_column = min(shapes_column, shapes_width)
        columns.append(("Input Shapes", shapes_column))

    def line(cells):
        return "".join(str(cell).rjust(size) + "  " for cell, (_, size) in zip(cells, columns))
    rule = "".join("-" * size + "  " for _, size in columns)
    total_self = sum(event.self_cpu_time_total for event in events)
    lines = []
    if header is not None:
        lines += ["=" * (len(rule) - 2), header]
    if top_level_only:
        lines += ["=" * (len(rule) - 2), "This report only display top-level ops statistics"]
    lines += [rule, line(title for title, _ in columns), rule]
    shown = 0
    for event in rows:
        if shown == row_limit:
            break
        if top_level_only and not getattr(event, "is_top_level", True):
            continue
        shown += 1
        name = str(event.key)
        if name_width is not None and len(name) >= name_width - 3:
            name = name[:name_width - 3] + "..."
        cells = [name, _format_share(event.self_cpu_time_total, total_self),
                 _format_us(event.self_cpu_time_total, time_unit),
                 _format_share(event.cpu_time_total, total_self),
                 _format_us(event.cpu_time_total, time_unit),
                 _format_us(event.cpu_time, time_unit)]
        if with_memory:
            cells += [_format_memory(event.cpu_memory_usage),
                      _format_memory(event.self_cpu_memory_usage)]
        cells.append(event.count)
        if with_shapes:
            cells.append(_shapes_text(event)[:columns[-1][1]])
        lines.append(line(cells))
    lines += [rule, f"Self CPU time total: {_format_us(total_self, time_unit)}", ""]
    return "\n".join(lines)


def _shapes_text(event):
    return str(event.input_shapes if event.input_shapes is not None else [])


def _export_chrome_trace(events, path):
    """The events as Chrome's trace format (chrome://tracing, Perfetto), written atomically."""
    trace = {"traceEvents": [
        {"name": event.name, "ph": "X", "ts": event.start_us, "dur": event.cpu_time_total,
         "pid": os.getpid(), "tid": event.thread, "cat": "cpu_op",
         "args": {} if event.input_shapes is None else {"Input Dims": event.input_shapes}}
        for event in events if isinstance(event, FunctionEvent)]}
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w") as handle:
            json.dump(trace, handle)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
