"""Forward overhead of the ModeWarning checks in Module.__call__, on the benchmark MLP
(784-512-512-10 with BatchNorm1d and Dropout, batch 128), in eval + no_grad and in train + grad.

Interleaved A/B in one process: each round times the model with ``Module.__call__`` as shipped
and with the same method minus the top-level check; the overhead is the median over rounds of the
per-round ratio, which cancels most of the drift of a shared machine.

    PYTHONPATH=. python -m benchmarks.mode_checks [--rounds 30]
"""
import argparse
import statistics
import time

import ember
from ember import nn
from ember.nn.modules.module import Module


def _unchecked_call(self, *args, **kwargs):
    if self._forward_pre_hooks or self._forward_hooks:
        return self._call_with_hooks(args, kwargs)
    return self.forward(*args, **kwargs)


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
    checked_call = Module.__call__
    results = {}
    try:
        for name, evaluation in (("eval+no_grad", True), ("train+grad", False)):
            model.train(not evaluation)
            checked, unchecked, ratios = [], [], []
            for round_number in range(rounds):
                timings = {}
                # Alternate which variant goes first, so warm-up effects cancel out.
                order = (checked_call, _unchecked_call)
                for call in order if round_number % 2 == 0 else reversed(order):
                    Module.__call__ = call
                    timings[call] = _best_time(model, inputs, evaluation, repeats)
                with_checks = timings[checked_call]
                without_checks = timings[_unchecked_call]
                checked.append(with_checks)
                unchecked.append(without_checks)
                ratios.append(with_checks / without_checks)
            results[name] = (1e6 * statistics.median(checked), 1e6 * statistics.median(unchecked),
                             100 * (statistics.median(ratios) - 1))
    finally:
        Module.__call__ = checked_call
    return results


def hook_cost(rounds=30, calls=2000):
    """Microseconds the checks add to one top-level call of 8 Identity layers and a Dropout in eval
    under no_grad and in train with grad: the cost of the checks alone, without arithmetic."""
    layers = [nn.Identity() for _ in range(8)] + [nn.Dropout(0.5)]
    model = nn.Sequential(*layers)
    inputs = ember.zeros(1)
    checked_call = Module.__call__
    results = {}
    try:
        for name, evaluation in (("eval+no_grad", True), ("train+grad", False)):
            model.train(not evaluation)
            differences = []
            for round_number in range(rounds):
                timings = {}
                order = (checked_call, _unchecked_call)
                for call in order if round_number % 2 == 0 else reversed(order):
                    Module.__call__ = call
                    with ember.set_grad_enabled(not evaluation):
                        start = time.perf_counter()
                        for _ in range(calls):
                            model(inputs)
                        timings[call] = (time.perf_counter() - start) / calls
                differences.append(timings[checked_call] - timings[_unchecked_call])
            results[name] = 1e6 * statistics.median(differences)
    finally:
        Module.__call__ = checked_call
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
