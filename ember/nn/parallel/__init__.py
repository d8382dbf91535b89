"""``ember.nn.parallel.DistributedDataParallel``, which lives in ``ember.distributed``.

Resolved on first use, by name: ember.nn sits below ember.distributed in the layering, so nn never
imports the layer above it at import time.
"""
import importlib


def __getattr__(name):
    if name == "DistributedDataParallel":
        return importlib.import_module("ember.distributed.parallel").DistributedDataParallel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
