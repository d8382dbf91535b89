"""How the ``ember`` command talks to its user: a user error is one line on stderr and exit status
2; under ``--nproc`` the job says it once (rank 0) and ends every rank without MPI's diagnostics."""
import os
import sys
import time

USAGE_ERROR = 2
INTERRUPTED = 130
BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `cat big | head`
# How long a rank other than 0 waits before ending the job, so that rank 0, failing too, has
# printed the error: with 1 s, and once with 3 s, a loaded 2-core machine aborted rank 0 before
# its error reached the terminal.
_ABORT_DELAY_SECONDS = 5.0
# How long rank 0 waits after printing before it ends the job: the launcher forwards each rank's
# output through a pipe, and an abort can end the launcher before it has passed the line on.
_FORWARD_DELAY_SECONDS = 0.5

# The rank variables that MPICH's Hydra, PMIx launchers and Open MPI's mpirun set in every rank.
_RANK_VARIABLES = ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK")


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""


class Interrupted(Exception):
    """Ctrl-C during training, with the message that says how to resume."""


def _mpi():
    """mpi4py.MPI when this process already initialised MPI, else None (importing it would)."""
    return sys.modules.get("mpi4py.MPI")


def rank():
    """This process's rank in an MPI job (0 outside one)."""
    mpi = _mpi()
    if mpi is not None:
        return mpi.COMM_WORLD.Get_rank()
    for name in _RANK_VARIABLES:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def say(line, file=None):
    """Print ``line`` from rank 0 only, so a job of N ranks says it once (in one write, so that
    another rank's abort cannot cut it short)."""
    if rank() == 0:
        stream = file or sys.stdout
        stream.write(line + "\n")
        stream.flush()


def report(message):
    """``ember: message`` on stderr as one line (rank 0 only)."""
    say("ember: " + " ".join(str(message).split()), file=sys.stderr)


def finish(status):
    """Return ``status``; inside an MPI job of several ranks that failed, end every rank now.

    The other ranks may be waiting in a collective; MPI_Abort ends them, and its own diagnostic
    (plus the one mpi4py's runner adds for a non-zero exit) would repeat the error once per rank,
    so stderr is silenced first. Rank 0 aborts once the launcher has had a moment to pass its
    output on; the others give it time to print when it failed too.
    """
    mpi = _mpi()
    if status and mpi is not None and mpi.COMM_WORLD.Get_size() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(_ABORT_DELAY_SECONDS if rank() > 0 else _FORWARD_DELAY_SECONDS)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())
        mpi.COMM_WORLD.Abort(status)
    return status


def progress_bars():
    """Bars only on a terminal: redirected to a file or a pipe they are noise."""
    return all(getattr(stream, "isatty", lambda: False)() for stream in (sys.stdout, sys.stderr))


def printable_output():
    """Text that the terminal's encoding cannot show (a lone surrogate from a file name or a
    checkpoint) is printed escaped instead of raising UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def silence_stdout():
    """After a broken pipe (``ember inspect ckpt | head -2``): nothing more to say, and the final
    flush at exit must not raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # stdout is not a file descriptor (e.g. captured in-process)
    finally:
        os.close(devnull)
