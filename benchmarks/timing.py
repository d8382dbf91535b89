"""Timing in the manner of timeit: warm-up, a calibrated loop count, then repeats summarised."""

import gc
import statistics
import timeit

from benchmarks.environment import OtherProcesses


def summarise(values, number=1):
    """Median, min and interquartile range of the repeat values (any unit), which are kept so
    that runs in several processes can be pooled; number is the loop count behind each value."""
    ordered = sorted(values)
    if len(ordered) >= 2:
        first_quartile, _, third_quartile = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        first_quartile = third_quartile = ordered[0]
    return {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "iqr": third_quartile - first_quartile,
        "q1": first_quartile,
        "q3": third_quartile,
        "repeats": len(ordered),
        "number": number,
        "values": list(values),
    }


def _calibrate(timer, min_repeat_seconds):
    """Smallest loop count whose run lasts at least min_repeat_seconds (these runs also warm up)."""
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= min_repeat_seconds:
            return number
        estimate = int(number * min_repeat_seconds / max(elapsed, 1e-9) * 1.1) + 1
        number = min(max(estimate, number * 2), number * 10)


def time_statement(statement, namespace, *, repeats, warmup, min_repeat_seconds, scale):
    """Time per execution of `statement` in `namespace`, multiplied by `scale` (1e3 for ms).

    The statement is compiled into timeit's loop, so no extra Python call is timed.
    The garbage collector stays enabled: collecting a framework's graph is part of its cost.
    """
    timer = timeit.Timer(statement, setup="gc.enable()", globals={"gc": gc, **namespace})
    if warmup:
        timer.timeit(warmup)
    number = _calibrate(timer, min_repeat_seconds)
    gc.collect()
    with OtherProcesses() as others:
        per_call = [timer.timeit(number) / number * scale for _ in range(repeats)]
    return {**summarise(per_call, number), "others_cpu": others.cpus}
