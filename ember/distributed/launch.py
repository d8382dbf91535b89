"""Start N copies of a command under ``mpiexec`` (what ``ember train --nproc N`` does)."""
import os
import shutil
import subprocess
import sys

from .comm import launched_under_mpi


def find_mpiexec():
    """The ``mpiexec`` next to this Python (the ``mpich`` wheel's), else the one on PATH, else None."""
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


def strip_nproc(arguments):
    """``arguments`` without ``--nproc N`` / ``--nproc=N``."""
    kept = []
    skip = False
    for argument in arguments:
        if skip:
            skip = False
        elif argument == "--nproc":
            skip = True
        elif not argument.startswith("--nproc="):
            kept.append(argument)
    return kept
