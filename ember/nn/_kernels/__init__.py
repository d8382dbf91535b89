"""The Functions that only layers need, one file per family (activation, conv, dropout, linear,
loss, normalization, padding, pooling, recurrent, sampling, sparse), with their array helpers.

Each Function's forward and backward work on NumPy arrays; ember.nn.functional is their public,
argument-checking API, and ember.ops holds the tensor primitives they are composed with.
"""
