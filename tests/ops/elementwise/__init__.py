"""Tests of ember.ops.elementwise, one module per family."""
