"""torch.utils.benchmark's Timer and Measurement: a statement timed in blocks of runs, with
PyTorch's block sizing, statistics (median, IQR) and printed summary."""
import sys
import textwrap
import timeit as _timeit

import numpy as np

from .._threads import get_num_threads, set_num_threads

__all__ = ["Measurement", "TaskSpec", "Timer"]

# PyTorch's thresholds of iqr / median for its "environmental influence" warnings.
_IQR_WARN_THRESHOLD = 0.1
_IQR_GROSS_WARN_THRESHOLD = 0.25
# PyTorch's floor on the confidence interval (seconds) and cap of significant_figures.
_MIN_CONFIDENCE_INTERVAL = 25e-9
_MAX_SIGNIFICANT_FIGURES = 4


class TaskSpec:
    """What was timed: the statement, its setup and the labels that name it."""

    def __init__(self, stmt, setup, global_setup="", label=None, sub_label=None,
                 description=None, env=None, num_threads=1):
        self.stmt = stmt
        self.setup = setup
        self.global_setup = global_setup
        self.label = label
        self.sub_label = sub_label
        self.description = description
        self.env = env
        self.num_threads = num_threads

    @property
    def title(self):
        """The label (with its sub-label), else the one-line statement."""
        suffix = f": {self.sub_label}" if self.sub_label else ""
        if self.label is not None:
            return self.label + suffix
        if "\n" not in self.stmt:
            return self.stmt + suffix
        inner = f" ({self.sub_label})" if self.sub_label else ""
        return f"stmt:{inner}\n{textwrap.indent(self.stmt, '  ')}"

    def setup_str(self):
        if self.setup == "pass" or not self.setup:
            return ""
        if "\n" in self.setup:
            return f"setup:\n{textwrap.indent(self.setup, '  ')}"
        return f"setup: {self.setup}"

    def summarize(self):
        sections = [self.title, self.description or "", self.setup_str()]
        return "\n".join(f"{section}\n" if "\n" in section else section
                         for section in sections if section)


def select_unit(seconds):
    """(unit, seconds per unit) that puts a time in [1, 1000) units."""
    exponent = int(np.floor(np.log10(seconds) // 3)) if seconds > 0 else -4
    unit = {-3: "ns", -2: "us", -1: "ms"}.get(exponent, "s")
    return unit, {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


class Measurement:
    """Times of ``number_per_run`` runs each (``raw_times``); ``times`` are per run."""

    def __init__(self, number_per_run, raw_times, task_spec, metadata=None):
        self.number_per_run = number_per_run
        self.raw_times = list(raw_times)
        self.task_spec = task_spec
        self.metadata = metadata
        sorted_times = np.sort(np.asarray(self.times, np.float64))
        self._median = float(np.quantile(sorted_times, 0.5))
        self._mean = float(sorted_times.mean())
        self._p25 = float(np.quantile(sorted_times, 0.25))
        self._p75 = float(np.quantile(sorted_times, 0.75))

    def __getattr__(self, name):
        # stmt, label, sub_label, description, num_threads, env, ... are the task's
        if name != "task_spec" and "task_spec" in self.__dict__:
            return getattr(self.task_spec, name)
        raise AttributeError(f"'Measurement' object has no attribute {name!r}")

    @property
    def times(self):
        return [time / self.number_per_run for time in self.raw_times]

    @property
    def median(self):
        return self._median

    @property
    def mean(self):
        return self._mean

    @property
    def iqr(self):
        return self._p75 - self._p25

    @property
    def title(self):
        return self.task_spec.title

    @property
    def env(self):
        """The task's env as given (None when unset), as PyTorch's Measurement shows it."""
        return self.task_spec.env

    @property
    def as_row_name(self):
        return self.sub_label or self.stmt or "[Unknown]"

    @property
    def significant_figures(self):
        """Digits the interquartile spread supports: log10(median / 90% interval of the
        middle half's mean), between 1 and 4 (PyTorch's rough estimate, for Compare)."""
        times = sorted(self.times)
        count = len(times)
        middle = np.asarray(times[count // 4:int(np.ceil(3 * count / 4))], np.float64)
        interval = max(1.645 * float(middle.std()) / np.sqrt(len(middle)),
                       _MIN_CONFIDENCE_INTERVAL)
        figures = int(np.floor(np.log10(self._median / interval)))
        return min(max(figures, 1), _MAX_SIGNIFICANT_FIGURES)

    def meets_confidence(self, threshold=_IQR_WARN_THRESHOLD):
        return self.iqr / self.median < threshold

    @property
    def _warnings(self):
        if not self.raw_times:
            return []
        relative = self.iqr / self.median * 100
        if not self.meets_confidence(_IQR_GROSS_WARN_THRESHOLD):
            message = "This suggests significant environmental influence."
        elif not self.meets_confidence(_IQR_WARN_THRESHOLD):
            message = "This could indicate system fluctuation."
        else:
            return []
        return [f"  WARNING: Interquartile range is {relative:.1f}% of the median "
                f"measurement.\n           {message}"]

    @property
    def has_warnings(self):
        return bool(self._warnings)

    def __repr__(self):
        count = len(self.raw_times)
        unit, scale = select_unit(self._median)
        lines = [object.__repr__(self), self.task_spec.summarize(),
                 f"  {'Median: ' if count > 1 else ''}{self._median / scale:.2f} {unit}"]
        if count >= 4:
            lines.append(f"  IQR:    {self.iqr / scale:.2f} {unit} ({self._p25 / scale:.2f} to "
                         f"{self._p75 / scale:.2f})")
        threads = self.task_spec.num_threads
        lines.append(f"  {count} measurement{'s' if count > 1 else ''}, {self.number_per_run} "
                     f"runs {'per measurement,' if count > 1 else ','} {threads} "
                     f"thread{'s' if threads > 1 else ''}")
        lines.extend(self._warnings)
        return "\n".join(line for line in "\n".join(lines).strip().splitlines())


def _framework():
    """What a timed statement may call ``torch`` without importing it: the module
    ``import torch`` gives the program (ember's drop-in), else ember itself."""
    drop_in = sys.modules.get("torch")
    if drop_in is not None and getattr(drop_in, "_ember_targets", None) is not None:
        return drop_in
    return sys.modules[__name__.partition(".")[0]]


class Timer:
    """Times ``stmt`` after ``setup`` in ``globals`` with ``num_threads`` threads, as
    torch.utils.benchmark.Timer (Python statements only)."""

    def __init__(self, stmt="pass", setup="pass", global_setup="", timer=_timeit.default_timer,
                 globals=None, label=None, sub_label=None, description=None, env=None,
                 num_threads=1, language="python"):
        if language not in ("python", "py"):
            raise NotImplementedError("ember's Timer times Python statements only")
        if not isinstance(stmt, str) or not isinstance(setup, str):
            raise ValueError("Currently only a `str` stmt is supported.")
        self._globals = dict(globals or {})
        self._globals.setdefault("torch", _framework())  # PyTorch's convenience
        self._timer = _timeit.Timer(stmt=stmt, setup=setup, timer=timer, globals=self._globals)
        self._task_spec = TaskSpec(stmt=stmt, setup=setup, global_setup=global_setup,
                                   label=label, sub_label=sub_label, description=description,
                                   env=env, num_threads=num_threads)

    def _timeit(self, number):
        return self._timer.timeit(number=max(int(number), 0))

    def _with_threads(self, function):
        previous = get_num_threads()
        set_num_threads(self._task_spec.num_threads)
        try:
            return function()
        finally:
            set_num_threads(previous)

    def timeit(self, number=1000000):
        """One measurement of ``number`` runs, after a warm-up of number // 100 (at least 2)."""
        def measure():
            self._timeit(max(number // 100, 2))
            return Measurement(number, [self._timeit(number)], self._task_spec)
        return self._with_threads(measure)

    def _estimate_block_size(self, min_run_time):
        """Runs per block: grown tenfold until the timer's overhead is negligible."""
        overhead = float(np.median([self._timeit(0) for _ in range(5)]))
        number = 1
        while True:
            taken = self._timeit(number)
            if overhead / taken <= 1e-4 and taken >= min_run_time / 1000:
                break
            if taken > min_run_time or number * 10 > 2147483647:
                break
            number *= 10
        return number

    def _measurement_loop(self, number, stop, min_run_time, max_run_time=None, callback=None):
        total = 0.0
        times = []
        can_stop = False
        while total < min_run_time or not can_stop:
            spent = self._timeit(number)
            times.append(spent)
            total += spent
            if callback:
                callback(number, spent)
            can_stop = stop(times)
            if max_run_time and total > max_run_time:
                break
        return times

    def blocked_autorange(self, callback=None, min_run_time=0.2):
        """Blocks of runs until ``min_run_time`` seconds are spent (at least one block)."""
        def measure():
            number = self._estimate_block_size(min_run_time)
            times = self._measurement_loop(number, lambda times: True, min_run_time,
                                           callback=callback)
            return Measurement(number, times, self._task_spec)
        return self._with_threads(measure)

    def adaptive_autorange(self, threshold=0.1, *, min_run_time=0.01, max_run_time=10.0,
                           callback=None):
        """Blocks of runs until iqr / median is under ``threshold`` (with at least 4 blocks
        and ``min_run_time`` seconds) or ``max_run_time`` seconds are spent."""
        def stop(times):
            if len(times) <= 3:
                return False
            return Measurement(number, times, self._task_spec).meets_confidence(threshold)

        def measure():
            nonlocal number
            number = self._estimate_block_size(0.05)
            times = self._measurement_loop(number, stop, min_run_time, max_run_time, callback)
            return Measurement(number, times, self._task_spec)
        number = 1
        return self._with_threads(measure)
