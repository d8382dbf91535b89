"""Small streaming metrics: ``update`` per batch, ``compute`` at the end, ``reset`` to reuse."""
import numpy as np

from ..tensor import Tensor


def _array(value):
    return value._data if isinstance(value, Tensor) else np.asarray(value)


class RunningMean:
    """The (weighted) mean of the values seen so far, e.g. a per-sample loss over batches."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.total = 0.0
        self.weight = 0.0

    def update(self, value, weight=1):
        """Add ``value`` (a number or one-element tensor) counted ``weight`` times."""
        if weight < 0:
            raise ValueError(f"RunningMean.update: weight must be non-negative, got {weight}")
        self.total += float(_array(value)) * weight
        self.weight += weight

    def compute(self):
        """The mean so far; NaN before any update."""
        return self.total / self.weight if self.weight else float("nan")


class Accuracy:
    """Fraction of correct predictions from class scores ``(N, C, ...)`` or labels ``(N, ...)``."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.correct = 0
        self.count = 0

    def update(self, predictions, targets):
        predictions = _array(predictions)
        targets = _array(targets)
        if predictions.ndim == targets.ndim + 1:
            predictions = predictions.argmax(axis=1)
        if predictions.shape != targets.shape:
            raise ValueError(f"Accuracy.update: predictions of shape {tuple(predictions.shape)} "
                             f"do not match targets of shape {tuple(targets.shape)} (expected "
                             f"labels of the same shape, or scores with one extra class dim 1)")
        self.correct += int(np.count_nonzero(predictions == targets))
        self.count += targets.size

    def compute(self):
        """Correct / seen; NaN before any update."""
        return self.correct / self.count if self.count else float("nan")
