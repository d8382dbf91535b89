"""Data-parallel training over MPI: collectives (checked across ranks, with a timeout),
DistributedDataParallel (with join() for uneven inputs), DistributedSampler, SyncBatchNorm.
Without ``mpiexec`` the world is one process, so the same script runs anywhere."""
from . import algorithms  # noqa: F401
from .comm import (  # noqa: F401
    Backend, DistBackendError, DistError, GroupMember, MPIBackend, P2POp, ProcessGroup, ReduceOp,
    Request, SingleProcessBackend, Work, all_gather, all_gather_into_tensor, all_gather_object,
    all_gather_single, all_reduce, all_reduce_metrics, all_to_all, all_to_all_single, barrier,
    batch_isend_irecv, broadcast, broadcast_object_list, default_pg_timeout,
    destroy_process_group, gather, gather_object, get_backend, get_global_rank, get_group_rank,
    get_node_local_rank, get_process_group_ranks, get_rank, get_world_size, group,
    init_process_group, irecv, is_available, is_backend_available, is_gloo_available,
    is_initialized, is_main_process, is_mpi_available, is_nccl_available, is_torchelastic_launched,
    is_ucc_available, is_xccl_available, isend, launched_under_mpi, monitored_barrier, new_group,
    recv, recv_object_list, reduce, reduce_scatter, reduce_scatter_single, reduce_scatter_tensor,
    scatter, scatter_object_list, send, send_object_list)
from .parallel import DistributedDataParallel  # noqa: F401
from .sampler import DistributedSampler, UnpaddedDistributedSampler  # noqa: F401
from .sync_batchnorm import SyncBatchNorm  # noqa: F401
