"""Tests of ember.ops, one module per file of the package, driven by op_table."""
