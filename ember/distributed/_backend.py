"""What a communication engine provides (``Backend``), its requests, and the one-process engine.

The MPI engine lives in ``_mpi.py``; another engine subclasses ``Backend`` and is passed to
``init_process_group``.
"""
import enum
import os


class ReduceOp(enum.Enum):
    """How ``all_reduce`` combines the ranks' values (``torch.distributed.ReduceOp``)."""

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4


# torch.distributed.ReduceOp.RedOpType, the type of ReduceOp.SUM etc. (type annotations name it)
ReduceOp.RedOpType = ReduceOp


class DistError(RuntimeError):
    """An error of the distributed package (``torch.distributed.DistError``)."""

    __module__ = "ember.distributed"


class DistBackendError(DistError):
    """The communication engine failed: a collective timed out or a rank left the job
    (``torch.distributed.DistBackendError``). The process group is unusable afterwards."""

    __module__ = "ember.distributed"


class Request:
    """A started non-blocking collective: ``wait()`` blocks until its result is in place."""

    def wait(self, timeout=None):
        """Block until finished; ``timeout`` (seconds) overrides the process group's limit."""
        raise NotImplementedError

    def test(self):
        """True when finished; also lets the engine progress the operation."""
        raise NotImplementedError


class Backend:
    """What a communication engine provides. Arrays are C-contiguous, writeable NumPy arrays.

    ``op`` is one of ``ReduceOp.SUM``, ``PRODUCT``, ``MIN``, ``MAX`` (AVG is SUM then a division,
    done by the caller). ``label`` names the caller's purpose in error messages (an engine may
    ignore it); ``tag`` is an integer every rank must pass equal (an engine that checks
    collectives across ranks compares it). ``timeout`` is the limit in seconds that
    ``init_process_group`` sets for each collective.
    """

    name = "base"
    rank = 0
    world_size = 1
    timeout = None

    def allreduce(self, array, op, label="", tag=0):
        """Combine ``array`` across ranks, in place."""
        self.iallreduce(array, op, label=label, tag=tag).wait()

    def iallreduce(self, array, op, label="", tag=0):
        """Start combining ``array`` in place; return a ``Request``."""
        raise NotImplementedError

    def broadcast(self, array, src, label=""):
        """Overwrite ``array`` on every rank with rank ``src``'s values."""
        raise NotImplementedError

    def allgather(self, array, label=""):
        """Return an array of shape ``(world_size,) + array.shape`` holding every rank's array."""
        raise NotImplementedError

    def barrier(self, timeout=None):
        raise NotImplementedError

    def isend(self, array, dst, tag=0):
        """Start sending ``array`` to rank ``dst``; return a ``Request``."""
        raise NotImplementedError(f"the {self.name} engine has no point-to-point messages")

    def irecv(self, array, src, tag=0):
        """Start receiving into ``array`` from rank ``src`` (any rank when None); return a
        ``Request`` whose ``source`` is the sender once it has finished."""
        raise NotImplementedError(f"the {self.name} engine has no point-to-point messages")

    def abort(self, code=1):
        """End every rank of the job (used when one rank fails, so the others never hang)."""
        os._exit(code)

    def close(self):
        pass


class _DoneRequest(Request):
    def wait(self, timeout=None):
        return None

    def test(self):
        return True


class SingleProcessBackend(Backend):
    """World size 1: every collective is the identity."""

    name = "single"

    def iallreduce(self, array, op, label="", tag=0):
        return _DoneRequest()

    def broadcast(self, array, src, label=""):
        pass

    def allgather(self, array, label=""):
        return array[None].copy()

    def barrier(self, timeout=None):
        pass
