"""Start N copies of a command under ``mpiexec`` (what ``ember train --nproc N`` does)."""
import os
import shutil
import subprocess
import sys

from .comm import launched_under_mpi


def find_mpiexec():
    """The ``mpiexec`` beside this Python (the ``mpich`` wheel's), else the one on PATH, or None."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("mpiexec")


def mpi_command(nproc, arguments, module="ember.cli"):
    """``mpiexec -n N python -m mpi4py -m module arguments...``; mpi4py's runner makes a rank that
    raises abort the whole job instead of leaving the others waiting."""
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise RuntimeError(f"--nproc {nproc}: no mpiexec found; install the MPI extra "
                           f"(`pip install 'ember[mpi]'`) or put the site's mpiexec on PATH")
    return [mpiexec, "-n", str(nproc), sys.executable, "-m", "mpi4py", "-m", module,
            *arguments]


def relaunch(nproc, arguments, module="ember.cli"):
    """Run ``module`` with ``arguments`` on ``nproc`` ranks and return its exit status.

    Returns None when there is nothing to do: one process asked for, or already inside an MPI job
    (the re-launched ranks see the launcher's variables and carry on as ranks).
    """
    if nproc is None or nproc <= 1 or launched_under_mpi():
        return None
    return subprocess.call(mpi_command(nproc, arguments, module))


def requested_nproc(arguments):
    """The N of ``--nproc N`` / ``--nproc=N`` in ``arguments`` (None when absent or not a number;
    the command's own parser reports bad values)."""
    for index, argument in enumerate(arguments):
        text = None
        if argument == "--nproc" and index + 1 < len(arguments):
            text = arguments[index + 1]
        elif argument.startswith("--nproc="):
            text = argument[len("--nproc="):]
        if text is not None:
            try:
                return int(text)
            except ValueError:
                return None
    return None


def relaunch_for_nproc(arguments, module="ember.cli"):
    """``ember ... --nproc N``: outside MPI, run the same command line on N ranks and return its
    exit status; inside the job (or for N <= 1) return None and let the command run here."""
    return relaunch(requested_nproc(arguments), list(arguments), module)



def distributed_training(model, train_set, batch_size, nproc, seed, usage_error=ValueError):
    """Inside the MPI job of ``ember train --nproc N``: join it, make ``model`` data-parallel and
    shard the training set. Returns ``(ddp_model, train_loader, is_main_process)``.

    BatchNorm layers become SyncBatchNorm (sharing their parameters, so an optimizer built on
    ``model.parameters()`` still holds them), so training matches one process on the global batch
    of ``batch_size``; each rank loads ``batch_size // N`` samples of its DistributedSampler shard.
    """
    from .._random import manual_seed
    from ..data import DataLoader
    from .comm import get_rank, get_world_size, init_process_group, is_main_process
    from .parallel import DistributedDataParallel
    from .sampler import DistributedSampler
    from .sync_batchnorm import SyncBatchNorm

    init_process_group("mpi")
    world_size = get_world_size()
    if world_size != nproc:
        raise usage_error(f"--nproc {nproc}, but this job has {world_size} process(es); start it "
                          f"as `ember train ... --nproc {nproc}` or under `mpiexec -n {nproc}`")
    if batch_size % world_size:
        raise usage_error(f"--batch-size {batch_size} must be divisible by --nproc {nproc} (it "
                          f"is the global batch, split among the ranks)")
    model = DistributedDataParallel(SyncBatchNorm.convert_sync_batchnorm(model))
    sampler = DistributedSampler(train_set, shuffle=True, seed=seed)
    loader = DataLoader(train_set, batch_size=batch_size // world_size, sampler=sampler)
    if get_rank() > 0:
        manual_seed(seed + get_rank())  # different dropout masks on different shards
    return model, loader, is_main_process()
