"""Tests of ember.ops.elementwise, one module per family."""
from ember.ops.elementwise import (
    arithmetic, bitwise, casting, comparison, exp_log, extrema, gamma, rounding, special,
    trigonometric)

# The op table's OPS_MODULES of every elementwise test module: a case mixes ops of several
# elementwise families, and none of their double backwards may be skipped as another family's.
ELEMENTWISE_MODULES = (arithmetic, bitwise, casting, comparison, exp_log, extrema, gamma,
                       rounding, special, trigonometric)
