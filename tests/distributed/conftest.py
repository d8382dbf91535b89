"""A pretend two-rank world in one process, for DDP and SyncBatchNorm's multi-rank code paths."""
import numpy as np
import pytest

import ember.distributed as dist
from ember.distributed import ReduceOp
from ember.distributed.comm import _DoneRequest


class MirrorBackend(dist.Backend):
    """Two ranks holding identical values: SUM doubles, MAX/MIN/broadcast change nothing.

    The global batch is then the local batch twice. Records each all-reduce with a snapshot
    taken by ``observe`` (if set) at the moment it starts.
    """

    name = "mirror"
    rank = 0
    world_size = 2

    def __init__(self):
        self.allreduces = []
        self.observe = None

    def iallreduce(self, array, op, label="", tag=0):
        self.allreduces.append((array.size, self.observe() if self.observe else None))
        if op is ReduceOp.SUM:
            array *= 2
        elif op is ReduceOp.PRODUCT:
            array *= array
        return _DoneRequest()

    def broadcast(self, array, src, label=""):
        pass

    def allgather(self, array, label=""):
        return np.stack([array, array])

    def barrier(self, timeout=None):
        pass


@pytest.fixture
def mirror_world():
    backend = MirrorBackend()
    dist.init_process_group(backend)
    yield backend
    dist.destroy_process_group()


@pytest.fixture
def single_world():
    dist.init_process_group()
    yield
    dist.destroy_process_group()
