"""One program from several runs of the model: the first run's events, with every size that
changed with the dynamic axes as a Dim, and every constant checked to be the same in all runs."""
import numpy as np

from ._trace import Value, values_in
from .errors import OnnxExporterError, UnsupportedOperatorError


VARIES = ("was computed outside ember's ops and changes with the inputs' values (or the "
          "dynamic axes' sizes), so it cannot be a constant of the graph")
# What the runs after the first one change (see ember/onnx/_export.py).
OTHER_RUN = "in another run of the model (dynamic axes moved, or inputs reversed)"


def live_events(recorder):
    """The events that the outputs depend on, in recorded order."""
    needed = set()
    stack = [value for value in recorder.outputs if value is not None]
    seen = set()
    while stack:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if value.kind != "output":
            continue
        event = value.producer[0]
        if event.index in needed:
            continue
        needed.add(event.index)
        stack.extend(values_in((event.args, event.kwargs)))
    return [event for event in recorder.events if event.index in needed]


def aligned(runs):
    """Whether every run recorded the same calls with the same kinds of arguments."""
    first = runs[0]
    for run in runs[1:]:
        if len(run.events) != len(first.events) or len(run.outputs) != len(first.outputs):
            return False
        for event, other in zip(first.events, run.events):
            if event.name != other.name or event.kind != other.kind or len(event.outputs) != len(
                    other.outputs):
                return False
    return True


class Merger:
    """Merges the runs' shapes, literals and constants into the first run's events."""

    def __init__(self, runs, axes, opset, volatile):
        self.runs = runs
        self.axes = axes
        self.opset = opset
        self.volatile = volatile  # (kind, name) -> argument positions whose constants may vary

    def merge(self, events):
        first = self.runs[0]
        for position, value in enumerate(first.inputs):
            self._shape(value, [run.inputs[position] for run in self.runs],
                        f"input {position}")
        for event in events:
            others = [run.events[event.index] for run in self.runs]
            volatile = self.volatile(event.kind, event.name)
            event.args = tuple(
                self._site([other.args[position] for other in others], event, volatile
                           and position in volatile)
                for position in range(len(event.args)))
            event.kwargs = {name: self._site([other.kwargs[name] for other in others], event,
                                             False)
                            for name in event.kwargs}
            for position, value in enumerate(event.outputs):
                if value is None:
                    continue
                counterparts = [other.outputs[position] for other in others]
                if any(counterpart is None for counterpart in counterparts):
                    raise self._mismatch(event)
                self._shape(value, counterparts, f"output {position} of {event.describe()}")
                if value.array is not None and event.kind == "function":
                    self._same_arrays(value, counterparts, event)
        for position, value in enumerate(first.outputs):
            if value is not None and value.kind == "constant":
                self._constant(value, [run.outputs[position] for run in self.runs],
                               f"output {position}", False)

    def _mismatch(self, event):
        return OnnxExporterError(
            f"ember.onnx.export: the model ran differently {OTHER_RUN} at {event.describe()}; "
            f"its control flow must not depend on the inputs' sizes or values")

    def _shape(self, value, counterparts, what):
        shapes = [counterpart.shape for counterpart in counterparts]
        if any(len(shape) != len(shapes[0]) for shape in shapes):
            raise OnnxExporterError(
                f"ember.onnx.export: the rank of {what} changes with the dynamic axes "
                f"({', '.join(str(list(shape)) for shape in shapes)}); a size-1 dimension may "
                f"have been squeezed: export with a larger example size")
        value.shape = tuple(self.axes.fit([shape[axis] for shape in shapes],
                                          f"dimension {axis} of {what}")
                            for axis in range(len(shapes[0])))

    def _same_arrays(self, value, counterparts, event):
        """A function without a translation becomes its first run's result: only when that
        result is the same in every run, or one value in a shape that follows the dynamic axes
        (else the function is unsupported for this model)."""
        arrays = [counterpart.array for counterpart in counterparts]
        if all(_equal(arrays[0], array) for array in arrays[1:]):
            return
        fill = _common_fill(arrays)
        if fill is None:
            value.note = "varies"
        else:
            value.fill = fill

    def _site(self, items, event, volatile):
        first = items[0]
        if isinstance(first, Value):
            if not all(isinstance(item, Value) for item in items):
                raise self._mismatch(event)
            if first.kind == "constant":
                self._constant(first, items, f"a tensor argument of {event.describe()}",
                               volatile)
            elif any(item.kind != first.kind for item in items):
                raise self._mismatch(event)
            return first
        if isinstance(first, (tuple, list)):
            if any(type(item) is not type(first) or len(item) != len(first) for item in items):
                raise self._mismatch(event)
            merged = [self._site([item[index] for item in items], event, volatile)
                      for index in range(len(first))]
            return type(first)(*merged) if hasattr(first, "_fields") else type(first)(merged)
        if isinstance(first, dict):
            return {name: self._site([item[name] for item in items], event, volatile)
                    for name in first}
        if isinstance(first, slice):
            if not all(isinstance(item, slice) for item in items):
                raise self._mismatch(event)
            return slice(*(self._site([getattr(item, part) for item in items], event, volatile)
                           for part in ("start", "stop", "step")))
        if isinstance(first, int) and not isinstance(first, bool):
            if not all(isinstance(item, int) and not isinstance(item, bool) for item in items):
                raise self._mismatch(event)
            return self.axes.fit(items, f"an integer argument of {event.describe()}")
        if volatile:
            return first
        if not all(_same_literal(first, item) for item in items):
            raise OnnxExporterError(
                f"ember.onnx.export: an argument of {event.describe()} is {first!r} in the "
                f"example but {next(item for item in items if not _same_literal(first, item))!r} "
                f"{OTHER_RUN}; it cannot be a constant of the graph")
        return first

    def _constant(self, value, items, what, volatile):
        arrays = [item.array for item in items]
        if all(_equal(arrays[0], array) for array in arrays[1:]) or volatile:
            return
        fill = _common_fill(arrays)
        if fill is not None:
            value.kind = "filled"
            value.fill = fill
            value.shape = tuple(self.axes.fit([array.shape[axis] for array in arrays],
                                              f"dimension {axis} of {what}")
                                for axis in range(arrays[0].ndim))
            return
        if value.note is not None:
            raise UnsupportedOperatorError(f"'{value.note}'", self.opset, VARIES)
        raise OnnxExporterError(f"ember.onnx.export: {what} {VARIES}; compute it with ember ops "
                                f"from the inputs")


def _common_fill(arrays):
    """The one value every element of every array has (arrays of one rank), else None."""
    first = arrays[0]
    if any(array.ndim != first.ndim or array.dtype != first.dtype or not array.size
           for array in arrays):
        return None
    fill = first.reshape(-1)[0]
    if all((array == fill).all() for array in arrays):
        return fill
    return None


def _equal(first, second):
    if first.shape != second.shape or first.dtype != second.dtype:
        return False
    return bool(np.array_equal(first, second, equal_nan=first.dtype.kind in "fc"))


def _same_literal(first, second):
    if type(first) is not type(second):
        return False
    if isinstance(first, float) and np.isnan(first):
        return np.isnan(second)
    return first == second


def check_supported(event, opset, has_rule):
    """UnsupportedOperatorError for an event with no translation whose result cannot stand in
    as a constant (a function's result can when the runs agree on it: check after merging)."""
    if has_rule(event.kind, event.name):
        return
    if event.kind == "function" and all(
            value is None or value.note != "varies" for value in event.outputs):
        return
    if event.kind == "function":
        raise UnsupportedOperatorError(f"'{event.name}'", opset,
                                       f"its result {VARIES} ({event.where()})")
    label = f"'{event.name}'" if event.kind != "op" else f"'{event.name}Backward0'/'{event.name}'"
    raise UnsupportedOperatorError(label, opset, event.where())
