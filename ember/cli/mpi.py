"""``ember train --nproc N``: check that MPI is there, start the job, and inside it make the model
data-parallel and shard the data.

The command line is parsed and checked by the first process, outside MPI; only then does it start
itself on N ranks, which parse the same arguments and train.
"""
from .. import distributed
from .._extras import install_hint
from .._random import manual_seed
from ..data import DataLoader
from ..distributed import launch
from ..distributed.parallel import DistributedDataParallel
from ..distributed.sync_batchnorm import SyncBatchNorm
from .console import UsageError

MODULE = "ember.cli"


def inside_job():
    """True in the ranks that mpiexec started (and in any process an MPI launcher started)."""
    return distributed.launched_under_mpi()


def check_can_launch(nproc):
    """UsageError unless this machine can start ``nproc`` MPI ranks."""
    problems = []
    if launch.find_mpiexec() is None:
        problems.append("no mpiexec was found")
    if not distributed.is_mpi_available():
        problems.append("mpi4py is not installed")
    if problems:
        raise UsageError(f"--nproc {nproc} needs MPI, but {' and '.join(problems)}; install "
                         f"the MPI extra ({install_hint('mpi')}) or drop --nproc")


def start_job(nproc, arguments):
    """Run this command line on ``nproc`` ranks; the ranks report, this returns their status."""
    return launch.run(nproc, arguments, MODULE)


def join_job(nproc):
    """Join the process group: the job's under mpiexec, a world of one in the first process (which
    builds the same objects to check a resume before starting the job). Returns the rank."""
    distributed.init_process_group("mpi")
    world_size = distributed.get_world_size()
    if inside_job() and world_size != nproc:
        raise UsageError(f"--nproc {nproc}, but this job has {world_size} process(es); start it "
                         f"as `ember train ... --nproc {nproc}` or under `mpiexec -n {nproc}`")
    return distributed.get_rank()


def leave_job():
    if distributed.is_initialized():
        distributed.destroy_process_group()


def data_parallel(model, train_set, batch_size, nproc, seed, rank):
    """The model and train loader of one of ``nproc`` ranks; ``batch_size`` is the global batch.

    BatchNorm layers become SyncBatchNorm (sharing their parameters, so an optimizer built on
    ``model.parameters()`` still holds them), so training matches one process on the global batch
    of ``batch_size``; each rank loads ``batch_size // N`` samples of its DistributedSampler shard.
    """
    model = DistributedDataParallel(SyncBatchNorm.convert_sync_batchnorm(model))
    sampler = distributed.DistributedSampler(train_set, num_replicas=nproc, rank=rank,
                                             shuffle=True, seed=seed)
    loader = DataLoader(train_set, batch_size=batch_size // nproc, sampler=sampler)
    if rank > 0:
        manual_seed(seed + rank)  # different dropout masks on different shards
    return model, loader
