"""Data-parallel training over MPI: collectives (checked across ranks, with a timeout),
DistributedDataParallel (with join() for uneven inputs), DistributedSampler, SyncBatchNorm.
Without ``mpiexec`` the world is one process, so the same script runs anywhere."""
from . import algorithms  # noqa: F401
from .comm import (  # noqa: F401
    Backend, DistBackendError, DistError, GroupMember, MPIBackend, ProcessGroup, ReduceOp, Request,
    SingleProcessBackend, Work, all_gather, all_gather_into_tensor, all_gather_object, all_reduce,
    all_reduce_metrics, all_to_all_single, barrier, broadcast, broadcast_object_list,
    default_pg_timeout, destroy_process_group, get_backend, get_process_group_ranks, get_rank,
    get_world_size, group, init_process_group, is_available, is_initialized, is_main_process,
    is_mpi_available, is_torchelastic_launched,
    launched_under_mpi)
from .parallel import DistributedDataParallel  # noqa: F401
from .sampler import DistributedSampler, UnpaddedDistributedSampler  # noqa: F401
from .sync_batchnorm import SyncBatchNorm  # noqa: F401
