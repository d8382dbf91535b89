"""``ember.nn.parallel``: DataParallel, and the home of ``DistributedDataParallel`` under
PyTorch's name.

The class lives in ember.distributed, the layer above nn, and nn never imports it:
ember/__init__.py attaches it here (and ``SyncBatchNorm`` to ember.nn) once both layers exist.
"""
from .data_parallel import DataParallel, data_parallel  # noqa: F401
