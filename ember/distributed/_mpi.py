"""The MPI engine (mpi4py): every collective is checked across ranks and bounded in time.

A collective has two phases, on two private duplicates of ``COMM_WORLD``. First each rank adds a
signature of what it is about to do (operation, dtype, shape, root) to a small non-blocking
all-gather; the data phase starts only once every rank's signature matches, so a size or dtype
mismatch is a clear error on every rank instead of a truncated message, a silently partial sum or
an MPICH abort. Data phases start in program order on every rank, which lets the checks run ahead
(DistributedDataParallel's buckets still overlap backward).

Every wait polls MPI's non-blocking requests against a deadline. When it passes, the ranks that
are waiting tell each other where they are, on a third communicator, and each raises
``DistBackendError`` naming the collective and the ranks that did not arrive; the process group is
unusable afterwards and the job is aborted when the process exits. A rank that leaves (destroy
or exit) tells the others, so a rank waiting for it fails at once instead of at the deadline.
"""
import atexit
import collections
import faulthandler
import functools
import sys
import time

import numpy as np

from .._extras import install_hint
from ._backend import Backend, DistBackendError, ReduceOp, Request

# While other ranks have yet to arrive, busy-poll this long (as a blocking MPI wait does), then
# sleep between polls: quick collectives keep their latency, a long wait for a straggler leaves
# the core to the ranks still computing. Once every rank has arrived, the transfer is polled
# without sleeping (each step of a large transfer needs this rank's progress).
_SPIN_SECONDS = 0.02
_SLEEP_SECONDS = 0.001
# How often a rank busy in a transfer looks for other ranks' notices.
_NOTICE_SECONDS = 0.01
# After a timeout, how long a rank waits for the others to say where they are.
_ANSWER_SECONDS = 1.0
# How long a leaving rank tries to deliver its notices.
_LEAVE_SECONDS = 0.2

ALL_REDUCE, BROADCAST, ALL_GATHER, BARRIER = 1, 2, 3, 4
_KIND_NAMES = {ALL_REDUCE: "all_reduce", BROADCAST: "broadcast", ALL_GATHER: "all_gather",
               BARRIER: "barrier"}

# A signature (int64): the fields every rank must agree on, then a label for messages only.
_KIND, _OP, _DTYPE, _ROOT, _TAG, _NDIM, _NUMEL, _DIMS = range(8)
_MAX_DIMS = 8
_COMPARED = _DIMS + _MAX_DIMS
_LABEL_BYTES = 64
_SIGNATURE_SIZE = _COMPARED + _LABEL_BYTES // 8

# A notice on the third communicator: its kind, a collective number, the phase, a signature.
_WAITING, _TIMED_OUT, _LEFT = 1, 2, 3
_NOTICE_KIND, _NOTICE_NUMBER, _NOTICE_PHASE, _NOTICE_SIGNATURE = range(4)
_NOTICE_SIZE = _NOTICE_SIGNATURE + _SIGNATURE_SIZE
_NOTICE_TAG = 1
_CHECK_PHASE, _DATA_PHASE = 0, 1


@functools.lru_cache(maxsize=1024)
def _label_words(label):
    """A label as the int64 words that end a signature (cached: labels repeat every step)."""
    encoded = label.encode("utf-8")[:_LABEL_BYTES].ljust(_LABEL_BYTES, b"\0")
    return np.frombuffer(encoded, dtype=np.int64)


@functools.lru_cache(maxsize=64)
def _dtype_code(dtype):
    return int.from_bytes(dtype.str.encode("ascii")[:8], "little")


def _signature(kind, array=None, op=None, root=-1, tag=0, label=""):
    """What this rank is about to do, as the int64 row that every rank all-gathers."""
    signature = np.zeros(_SIGNATURE_SIZE, dtype=np.int64)
    signature[_KIND] = kind
    signature[_OP] = -1 if op is None else op.value
    signature[_ROOT] = root
    signature[_TAG] = tag
    if array is not None:
        signature[_DTYPE] = _dtype_code(array.dtype)
        signature[_NDIM] = array.ndim
        signature[_NUMEL] = array.size
        dims = array.shape[:_MAX_DIMS]
        signature[_DIMS:_DIMS + len(dims)] = dims
    if label:
        signature[_COMPARED:] = _label_words(label)
    return signature


def describe(signature):
    """``all_reduce(SUM) of float32 [10] (label)`` for a signature row."""
    kind = int(signature[_KIND])
    text = _KIND_NAMES.get(kind, f"collective kind {kind}")
    if signature[_OP] >= 0:
        text += f"({ReduceOp(int(signature[_OP])).name})"
    if signature[_DTYPE]:
        code = int(signature[_DTYPE]).to_bytes(8, "little").rstrip(b"\0").decode("ascii")
        ndim = int(signature[_NDIM])
        shape = [int(size) for size in signature[_DIMS:_DIMS + ndim]]
        if ndim > _MAX_DIMS:
            shape = f"({ndim} dimensions, {int(signature[_NUMEL])} elements)"
        text += f" of {np.dtype(code).name} {shape}"
    if signature[_ROOT] >= 0:
        text += f" from rank {int(signature[_ROOT])}"
    label = signature[_COMPARED:].tobytes().rstrip(b"\0").decode("utf-8", errors="ignore")
    if label:
        text += f" ({label})"
    return text


def _rank_list(ranks):
    ranks = sorted(ranks)
    return ("rank " if len(ranks) == 1 else "ranks ") + ", ".join(str(rank) for rank in ranks)


def _mismatch_message(rows, number):
    """Which ranks run which collective, grouped, for a failed signature check."""
    groups = {}
    for rank, row in enumerate(rows):
        groups.setdefault(row[:_COMPARED].tobytes(), []).append(rank)
    parts = []
    for ranks in groups.values():
        verb = "is" if len(ranks) == 1 else "are"
        parts.append(f"{_rank_list(ranks)} {verb} running {describe(rows[ranks[0]])}")
    return (f"Detected mismatch between collectives on ranks (collective #{number}): "
            + ", but ".join(parts) + ". Every rank must call the same collectives in the same "
            "order, with the same shapes and dtypes.")


def _start_mpi_waiting_for_every_rank(timeout):
    """Initialise MPI and make the engine's four communicators (collectives, their checks,
    notices, point-to-point messages); returns (MPI, communicators).

    MPI_Init and Dup block, in C and holding the GIL, until every rank has called them, so no
    Python thread can end the wait. faulthandler's watchdog runs without the GIL: if a rank
    never comes, after ``timeout`` seconds it prints where this rank waits (this function) and
    exits, and the launcher ends the job. (It replaces any dump_traceback_later of the caller.)
    """
    faulthandler.dump_traceback_later(timeout, exit=True)
    try:
        from mpi4py import MPI  # importing it initialises MPI: only once asked to
        world = MPI.COMM_WORLD
        return MPI, [world.Dup() for _ in range(4)]
    finally:
        faulthandler.cancel_dump_traceback_later()


class _Collective(Request):
    """One collective of the MPI engine: the check of its signature, then its data phase."""

    __slots__ = ("engine", "number", "signature", "gathered", "check", "start_data", "data",
                 "buffers", "deadline", "limit", "finished", "error")

    def __init__(self, engine, number, signature, start_data, buffers, limit):
        self.engine = engine
        self.number = number
        self.signature = signature
        self.gathered = np.empty((engine.world_size, _SIGNATURE_SIZE), dtype=np.int64)
        self.check = engine._check_comm.Iallgather(signature, self.gathered)
        self.start_data = start_data  # starts the data phase; None for a barrier
        self.data = None
        self.buffers = buffers  # kept alive while MPI reads and writes them
        self.limit = limit
        self.deadline = time.monotonic() + limit
        self.finished = False
        self.error = None

    def test(self):
        return self.engine._progress(self)

    def wait(self, timeout=None):
        self.engine._complete(self, timeout)


class _Message(Request):
    """A point-to-point send or receive: polled against the process group's time limit, as the
    collectives are (without their cross-rank checks, which need every rank)."""

    def __init__(self, engine, request, status, buffer, what):
        self.engine = engine
        self.request = request
        self.status = status
        self.buffer = buffer  # kept alive while MPI reads or writes it
        self.what = what
        self.source = None
        self.deadline = time.monotonic() + engine.timeout

    def test(self):
        if self.request is None:
            return True
        done = self.request.Test(self.status) if self.status is not None else \
            self.request.Test()
        if done:
            if self.status is not None:
                self.source = self.status.Get_source()
            self.request = self.buffer = None
        return done

    def wait(self, timeout=None):
        now = time.monotonic()
        deadline = self.deadline if timeout is None else now + timeout
        spin_until = now + _SPIN_SECONDS
        while not self.test():
            now = time.monotonic()
            if now >= deadline:
                limit = self.engine.timeout if timeout is None else timeout
                self.engine._fail(f"{self.what} timed out after {limit:g} s: the other rank "
                                  f"never matched it. The limit is "
                                  f"init_process_group(timeout=datetime.timedelta(...)).")
            if now >= spin_until:
                time.sleep(_SLEEP_SECONDS)


class MPIBackend(Backend):
    """MPI through mpi4py, on private duplicates of ``COMM_WORLD``; ``timeout`` in seconds."""

    name = "mpi"

    def __init__(self, timeout=600.0):
        try:
            self._mpi, communicators = _start_mpi_waiting_for_every_rank(timeout)
        except ImportError as error:
            raise RuntimeError("init_process_group: this process was started by an MPI launcher "
                               "but mpi4py is not importable; install it with "
                               f"`{install_hint('mpi')}` (or `pip install mpi4py` built "
                               f"against the site MPI)") from error
        self._comm, self._check_comm, self._notice_comm, self._p2p_comm = communicators
        self.rank = self._comm.Get_rank()
        self.world_size = self._comm.Get_size()
        self.timeout = timeout
        mpi = self._mpi
        self._ops = {ReduceOp.SUM: mpi.SUM, ReduceOp.PRODUCT: mpi.PROD, ReduceOp.MIN: mpi.MIN,
                     ReduceOp.MAX: mpi.MAX}
        self._count = 0
        self._unchecked = collections.deque()  # started, data phase not begun, in program order
        # Data phases under way: held here until done, since MPI writes into their buffers even
        # when the caller has dropped the request (an async_op work nobody waits for).
        self._in_flight = []
        self._notices = {}  # rank -> the last notice it sent
        self._sends = []
        self._failure = None
        self._closed = False
        atexit.register(self._at_exit)

    # ---- the collectives ---------------------------------------------------------------------
    def iallreduce(self, array, op, label="", tag=0):
        comm = self._comm
        mpi_op = self._ops[op]
        in_place = self._mpi.IN_PLACE
        return self._start(ALL_REDUCE, array, lambda: comm.Iallreduce(in_place, array, mpi_op),
                           op=op, tag=tag, label=label, buffers=(array,))

    def broadcast(self, array, src, label=""):
        comm = self._comm
        self._start(BROADCAST, array, lambda: comm.Ibcast(array, root=src), root=src,
                    label=label, buffers=(array,)).wait()

    def allgather(self, array, label=""):
        comm = self._comm
        gathered = np.empty((self.world_size,) + array.shape, dtype=array.dtype)
        self._start(ALL_GATHER, array, lambda: comm.Iallgather(array, gathered), label=label,
                    buffers=(array, gathered)).wait()
        return gathered

    def barrier(self, timeout=None):
        # Every rank's signature arriving is the barrier: no data phase.
        self._start(BARRIER, None, None, timeout=timeout).wait()

    def isend(self, array, dst, tag=0):
        self._require_usable("send")
        request = self._p2p_comm.Isend(array, dest=dst, tag=tag)
        return _Message(self, request, None, array, f"send to rank {dst}")

    def irecv(self, array, src, tag=0):
        self._require_usable("recv")
        status = self._mpi.Status()
        source = self._mpi.ANY_SOURCE if src is None else src
        request = self._p2p_comm.Irecv(array, source=source, tag=tag)
        return _Message(self, request, status, array,
                        "recv from any rank" if src is None else f"recv from rank {src}")

    def _require_usable(self, operation):
        if self._failure is not None:
            raise DistBackendError(f"{operation}: the process group is unusable after an "
                                   f"earlier failure: {self._failure}")

    def abort(self, code=1):
        self._mpi.COMM_WORLD.Abort(code)

    def close(self):
        if self._failure is not None:
            return  # pending requests never finish: the job is aborted at exit instead
        self._leave()
        self._closed = True
        atexit.unregister(self._at_exit)
        for comm in (self._comm, self._check_comm, self._notice_comm, self._p2p_comm):
            comm.Free()

    # ---- scheduling and waiting --------------------------------------------------------------
    def _start(self, kind, array, start_data, op=None, root=-1, tag=0, label="", buffers=(),
               timeout=None):
        if self._failure is not None:
            raise DistBackendError(f"{_KIND_NAMES[kind]}: the process group is unusable after "
                                   f"an earlier failure: {self._failure}")
        self._count += 1
        self._in_flight = [started for started in self._in_flight
                           if not self._data_finished(started)]
        limit = self.timeout if timeout is None else timeout
        collective = _Collective(self, self._count, _signature(kind, array, op, root, tag, label),
                                 start_data, buffers, limit)
        self._unchecked.append(collective)
        return collective

    def _progress(self, collective):
        """Start the data phase of each collective whose check is done, in order; True once
        ``collective`` has finished."""
        if collective.error is not None:
            raise collective.error
        if collective.finished:
            return True
        queue = self._unchecked
        while queue and queue[0].check.Test():
            self._begin_data(queue.popleft())
        return self._data_finished(collective)

    @staticmethod
    def _data_finished(collective):
        if collective.data is not None and collective.data.Test():
            collective.data = None
            collective.buffers = None
            collective.finished = True
        return collective.finished

    def _begin_data(self, collective):
        rows = collective.gathered
        compared = rows[:, :_COMPARED]
        if not (compared == compared[0]).all():
            # Every rank gathered the same rows, so every rank raises here and none starts the
            # data phase: the communicators stay consistent.
            collective.error = RuntimeError(_mismatch_message(rows, collective.number))
            collective.buffers = None
            raise collective.error
        start_data = collective.start_data
        collective.start_data = None
        if start_data is None:
            collective.finished = True
        else:
            collective.data = start_data()
            self._in_flight.append(collective)

    def _complete(self, collective, timeout=None):
        if self._progress(collective):
            return
        now = time.monotonic()
        limit = collective.limit if timeout is None else timeout
        deadline = collective.deadline if timeout is None else now + timeout
        spin_until = now + _SPIN_SECONDS
        notices_at = now + _NOTICE_SECONDS
        while not self._progress(collective):
            now = time.monotonic()
            if now >= deadline:
                self._time_out(collective, limit)
            arriving = self._unchecked and self._unchecked[0].number <= collective.number
            if arriving and now >= spin_until:
                self._read_notices(collective)
                time.sleep(_SLEEP_SECONDS)
            elif now >= notices_at:
                self._read_notices(collective)
                notices_at = now + _NOTICE_SECONDS

    def _stuck(self, collective):
        """The collective that actually holds ``collective`` back, and its phase."""
        if self._unchecked and self._unchecked[0].number <= collective.number:
            return self._unchecked[0], _CHECK_PHASE
        return collective, _DATA_PHASE

    # ---- failures ----------------------------------------------------------------------------
    def _fail(self, message):
        self._failure = DistBackendError(message)
        raise self._failure

    def _time_out(self, collective, limit):
        stuck, phase = self._stuck(collective)
        notices = self._exchange(_TIMED_OUT, stuck, phase)
        self._fail(self._timeout_message(stuck, phase, notices, f"timed out after {limit:g} s")
                   + " The limit is init_process_group(timeout=datetime.timedelta(...)).")

    def _read_notices(self, collective):
        """While waiting: act on what other ranks said (a timeout elsewhere, a rank that left)."""
        self._receive_notices()
        if not self._notices:
            return
        stuck, phase = self._stuck(collective)
        timed_out = [rank for rank, notice in self._notices.items()
                     if notice[_NOTICE_KIND] != _LEFT]
        if timed_out:
            notices = self._exchange(_WAITING, stuck, phase)
            self._fail(self._timeout_message(
                stuck, phase, notices,
                f"cannot complete: {_rank_list(timed_out)} gave up waiting"))
        departed = [rank for rank, notice in self._notices.items()
                    if notice[_NOTICE_KIND] == _LEFT and notice[_NOTICE_NUMBER] < stuck.number]
        if departed:
            self._fail(self._timeout_message(stuck, phase, dict(self._notices),
                                             "cannot complete"))

    def _timeout_message(self, stuck, phase, notices, what):
        waiting = [self.rank]
        missing = []
        for rank in range(self.world_size):
            notice = notices.get(rank)
            if rank == self.rank:
                continue
            if notice is None:
                missing.append(f"rank {rank} (no answer: busy outside collectives, hung or "
                               f"exited)")
            elif notice[_NOTICE_KIND] == _LEFT:
                missing.append(f"rank {rank} (left the process group after collective "
                               f"#{notice[_NOTICE_NUMBER]})")
            elif notice[_NOTICE_NUMBER] == stuck.number:
                waiting.append(rank)
            else:
                missing.append(f"rank {rank} (waiting in collective #{notice[_NOTICE_NUMBER]}: "
                               f"{describe(notice[_NOTICE_SIGNATURE:])})")
        text = (f"rank {self.rank}: collective #{stuck.number}, {describe(stuck.signature)}, "
                f"{what}; ")
        if phase == _DATA_PHASE and not missing:
            text += "every rank had arrived but the transfer did not finish (a rank died?)"
        elif not missing:
            text += "every rank arrived, but only after the limit"
        else:
            text += "ranks that did not arrive: " + "; ".join(missing)
        return text + f". Waiting in it: {_rank_list(waiting)}."

    # ---- notices -----------------------------------------------------------------------------
    def _send_notices(self, kind, number, phase, signature):
        notice = np.zeros(_NOTICE_SIZE, dtype=np.int64)
        notice[_NOTICE_KIND] = kind
        notice[_NOTICE_NUMBER] = number
        notice[_NOTICE_PHASE] = phase
        if signature is not None:
            notice[_NOTICE_SIGNATURE:] = signature
        for rank in range(self.world_size):
            if rank != self.rank:
                try:
                    self._sends.append((self._notice_comm.Isend(notice, dest=rank,
                                                                tag=_NOTICE_TAG), notice))
                except self._mpi.Exception:
                    pass  # that rank is gone; it cannot be waiting for anything

    def _receive_notices(self):
        status = self._mpi.Status()
        while self._notice_comm.Iprobe(source=self._mpi.ANY_SOURCE, tag=_NOTICE_TAG,
                                       status=status):
            notice = np.empty(_NOTICE_SIZE, dtype=np.int64)
            source = status.Get_source()
            self._notice_comm.Recv(notice, source=source, tag=_NOTICE_TAG)
            self._notices[source] = notice

    def _exchange(self, kind, stuck, phase):
        """Tell every rank where this one waits; collect where the others are (briefly)."""
        self._send_notices(kind, stuck.number, phase, stuck.signature)
        end = time.monotonic() + _ANSWER_SECONDS
        while len(self._notices) < self.world_size - 1 and time.monotonic() < end:
            self._receive_notices()
            time.sleep(_SLEEP_SECONDS)
        return dict(self._notices)

    def _leave(self):
        """Tell every rank that this one will run no more collectives."""
        self._send_notices(_LEFT, self._count, 0, None)
        end = time.monotonic() + _LEAVE_SECONDS
        requests = [request for request, _ in self._sends]
        while not self._mpi.Request.Testall(requests) and time.monotonic() < end:
            time.sleep(_SLEEP_SECONDS)

    def _at_exit(self):
        if self._failure is not None:
            # Collectives left pending would make MPI_Finalize wait forever, and the ranks that
            # never arrived must end too.
            sys.stdout.flush()
            sys.stderr.flush()
            self.abort(1)
        elif not self._closed:
            self._leave()
