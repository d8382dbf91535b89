"""Forward overhead of the ModeWarning checks (global module hooks), on the benchmark MLP
(784-512-512-10 with BatchNorm1d and Dropout, batch 128), in eval + no_grad and in train + grad.

Interleaved A/B in one process: each round times the model with the checks registered, as
shipped, and with their hook handles removed (no hooks at all); the overhead is the median over
rounds of the per-round ratio, which cancels most of the drift of a shared machine.

    PYTHONPATH=. python -m benchmarks.mode_checks [--rounds 30]
"""
import argparse
import contextlib
import statistics
import time

import ember
from ember import nn
from ember.training.mode_checks import register_mode_checks


@contextlib.contextmanager
def _checked():
    yield


@contextlib.contextmanager
def _unchecked():
    for handle in ember._mode_check_handles:
        handle.remove()
    try:
        yield
    finally:
        ember._mode_check_handles = register_mode_checks()


def _best_time(model, inputs, evaluation, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        if evaluation:
            with ember.no_grad():
                model(inputs)
        else:
            model(inputs)
        best = min(best, time.perf_counter() - start)
    return best


def measure(rounds=30, repeats=5):
    """{'eval+no_grad': (checked_us, unchecked_us, overhead_percent), 'train+grad': ...}."""
    ember.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(784, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(512, 10))
    inputs = ember.randn(128, 784)
    results = {}
    for name, evaluation in (("eval+no_grad", True), ("train+grad", False)):
        model.train(not evaluation)
        checked, unchecked, ratios = [], [], []
        for round_number in range(rounds):
            timings = {}
            # Alternate which variant goes first, so warm-up effects cancel out.
            order = (_checked, _unchecked)
            for variant in order if round_number % 2 == 0 else reversed(order):
                with variant():
                    timings[variant] = _best_time(model, inputs, evaluation, repeats)
            checked.append(timings[_checked])
            unchecked.append(timings[_unchecked])
            ratios.append(timings[_checked] / timings[_unchecked])
        results[name] = (1e6 * statistics.median(checked), 1e6 * statistics.median(unchecked),
                         100 * (statistics.median(ratios) - 1))
    return results


def hook_cost(rounds=30, calls=2000):
    """Microseconds the checks add to one top-level call of 8 Identity layers and a Dropout in eval
    under no_grad and in train with grad: the cost of the checks alone, without arithmetic."""
    layers = [nn.Identity() for _ in range(8)] + [nn.Dropout(0.5)]
    model = nn.Sequential(*layers)
    inputs = ember.zeros(1)
    results = {}
    for name, evaluation in (("eval+no_grad", True), ("train+grad", False)):
        model.train(not evaluation)
        differences = []
        for round_number in range(rounds):
            timings = {}
            order = (_checked, _unchecked)
            for variant in order if round_number % 2 == 0 else reversed(order):
                with variant(), ember.set_grad_enabled(not evaluation):
                    start = time.perf_counter()
                    for _ in range(calls):
                        model(inputs)
                    timings[variant] = (time.perf_counter() - start) / calls
            differences.append(timings[_checked] - timings[_unchecked])
        results[name] = 1e6 * statistics.median(differences)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    arguments = parser.parse_args()
    for name, (checked, unchecked, overhead) in measure(arguments.rounds).items():
        print(f"{name:13s} with checks {checked:8.1f} us   without {unchecked:8.1f} us   "
              f"overhead {overhead:+.2f}%")
    for name, microseconds in hook_cost(arguments.rounds).items():
        print(f"{name:13s} the checks alone: {microseconds:+.2f} us per top-level call "
              f"(9 no-op layers)")


if __name__ == "__main__":
    main()
