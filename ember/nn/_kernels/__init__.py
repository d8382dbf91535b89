"""The Functions that only layers need, one file per family (activation, conv, dropout, linear,
loss, normalization, padding, pooling, recurrent, sampling, sparse), with their array helpers.

Each Function's forward and backward work on NumPy arrays; ember.nn.functional is their public,
argument-checking API, and ember.ops holds the tensor primitives they are composed with.
"""
import math

import numpy as np


def all_finite(*arrays):
    """No NaN or inf in any of ``arrays``: one reduction each (a finite sum that overflows
    answers False, which only sends a caller down its general path)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return all(math.isfinite(array.sum()) for array in arrays)
