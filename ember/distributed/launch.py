"""Start N copies of a Python module under ``mpiexec`` and wait for them (what
``ember train --nproc N`` uses; the command line itself lives in ember/cli)."""
import os
import shutil
import signal
import subprocess
import sys

from .._extras import install_hint


def find_mpiexec():
    """The ``mpiexec`` beside this Python (the ``mpich`` wheel's), else the one on PATH, or None."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("mpiexec")


def mpi_command(nproc, arguments, module):
    """``mpiexec -n N python -m mpi4py -m module arguments...``; mpi4py's runner makes a rank that
    raises abort the whole job instead of leaving the others waiting."""
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise RuntimeError(f"no mpiexec found for {nproc} processes; install the MPI extra "
                           f"(`{install_hint('mpi')}`) or put the site's mpiexec on PATH")
    return [mpiexec, "-n", str(nproc), sys.executable, "-m", "mpi4py", "-m", module, *arguments]


def run(nproc, arguments, module):
    """Run ``python -m module arguments`` on ``nproc`` MPI ranks; returns mpiexec's exit status.

    mpiexec runs in its own session and Ctrl-C (or SIGTERM) here is passed on to it exactly once:
    MPICH's mpiexec answers a second SIGINT by tearing the job down with a page of diagnostics.
    """
    process = subprocess.Popen(mpi_command(nproc, arguments, module), start_new_session=True)
    forwarded = set()

    def forward(number, frame=None):
        if number not in forwarded:
            forwarded.add(number)
            process.send_signal(number)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:
                forward(signal.SIGINT)
    finally:
        signal.signal(signal.SIGTERM, previous)
