"""Collective communication: the default process group and PyTorch's collective functions on
top of an engine (``_backend.Backend``): MPI (``_mpi.py``) or a one-process fallback.

mpi4py is imported only when the process was started by an MPI launcher (importing it initialises
MPI), so a script that calls ``init_process_group()`` runs unchanged with or without ``mpiexec``.
"""
import datetime
import importlib.util
import os
import pickle
import sys
import time
import warnings
import zlib

import numpy as np

from ..tensor import Tensor
from ._backend import (  # noqa: F401 (the package's public names)
    Backend, DistBackendError, DistError, ReduceOp, Request, SingleProcessBackend, _DoneRequest)
from ._mpi import MPIBackend  # noqa: F401

# Variables that MPICH's Hydra, PMIx launchers and Open MPI's mpirun set in every rank.
_LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE",
                       "OMPI_COMM_WORLD_RANK", "MPI_LOCALRANKID", "HYDRA_CONTROL_FD")

# How long a collective may wait for the other ranks. PyTorch's default is 30 minutes (10 for
# NCCL); ember takes NCCL's: long enough for a rank that evaluates or writes a checkpoint while
# the others wait, short enough that a stuck job frees its nodes.
default_pg_timeout = datetime.timedelta(minutes=10)

# After an uncaught exception, the other ranks usually meet the same failure at about the same
# moment (a mismatch; a timeout, which they learn of within the second a timed-out rank waits for
# their answers): give them this long to print theirs before the job is ended.
_ABORT_GRACE_SECONDS = 1.5


def launched_under_mpi():
    """True when an MPI launcher started this process (or mpi4py.MPI is already initialised)."""
    return "mpi4py.MPI" in sys.modules or any(name in os.environ for name in _LAUNCHER_VARIABLES)


# ---- the default process group ---------------------------------------------------------------
_backend = None
_previous_excepthook = None


def _abort_on_uncaught_exception(exception_type, exception, traceback):
    """Print the traceback, then end the whole job: the other ranks would wait forever."""
    _previous_excepthook(exception_type, exception, traceback)
    sys.stderr.flush()
    if _backend is not None:
        time.sleep(_ABORT_GRACE_SECONDS)
        _backend.abort(1)


def _timeout_seconds(timeout, operation):
    """A ``datetime.timedelta`` (PyTorch's type) as positive seconds."""
    if not isinstance(timeout, datetime.timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got "
                        f"{timeout}")
    seconds = timeout.total_seconds()
    if seconds <= 0:
        raise ValueError(f"{operation}: timeout must be positive, got {timeout}")
    return seconds


class ProcessGroup:
    """The default process group (``torch.distributed.ProcessGroup``), ember's only one: every
    rank of the job. ``group.WORLD`` is it while the job's group is initialised."""

    def rank(self):
        return get_rank()

    def size(self):
        return get_world_size()

    def name(self):
        return get_backend()

    def __repr__(self):
        return f"<ProcessGroup WORLD (ember, {get_backend()})>"


class group:
    """``torch.distributed.group``: ``WORLD`` is the default process group, None before
    ``init_process_group`` and after ``destroy_process_group``."""

    WORLD = None


class GroupMember(group):
    NON_GROUP_MEMBER = -100


def _set_world(process_group):
    # a function of its own: the collectives' ``group`` argument hides the class
    group.WORLD = process_group


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       **unused):
    """Join the job's process group: MPI under ``mpiexec``, else a world of one process.

    ``backend`` is ``"mpi"``, ``"gloo"`` or None (all the same here), or a ``Backend`` instance
    for another engine.
    ``timeout`` (a ``datetime.timedelta``, default ``default_pg_timeout``, 10 minutes) bounds
    every collective: past it, the ranks waiting raise ``DistBackendError`` naming the
    collective and the ranks that did not arrive, and the job ends.
    """
    global _backend, _previous_excepthook
    if _backend is not None:
        raise ValueError("trying to initialize the default process group twice!")
    seconds = _timeout_seconds(default_pg_timeout if timeout is None else timeout,
                               "init_process_group")
    if isinstance(backend, Backend):
        engine = backend
        engine.timeout = seconds
    elif backend is None or (isinstance(backend, str) and backend.lower() in ("mpi", "gloo")):
        engine = MPIBackend(seconds) if launched_under_mpi() else SingleProcessBackend()
        if isinstance(backend, str) and backend.lower() == "gloo":
            # PyTorch's CPU backend: the same collectives, so scripts written for it run here
            # (one process, or MPI's ranks), and get_backend() answers what they asked for.
            engine.name = "gloo"
    else:
        raise ValueError(f"init_process_group: backend {backend!r} is not available in ember; "
                         f"use 'mpi' (the world is a single process when not started by mpiexec) "
                         f"or pass a Backend instance")
    problems = []
    if world_size not in (-1, None) and world_size != engine.world_size:
        problems.append(f"world_size={world_size} but the launcher started "
                        f"{engine.world_size} process(es)")
    if rank not in (-1, None) and rank != engine.rank:
        problems.append(f"rank={rank} but this process is rank {engine.rank}")
    if problems:
        engine.close()
        raise ValueError("init_process_group: " + "; ".join(problems))
    _backend = engine
    _set_world(ProcessGroup())
    if engine.world_size > 1 and _previous_excepthook is None:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught_exception


def destroy_process_group(group=None):
    """Leave the process group; ``init_process_group`` may be called again afterwards."""
    global _backend, _previous_excepthook
    engine = _require_backend("destroy_process_group")
    _backend = None
    _set_world(None)
    if _previous_excepthook is not None:
        sys.excepthook = _previous_excepthook
        _previous_excepthook = None
    engine.close()


def is_available():
    """The package works everywhere (a single process without MPI)."""
    return True


def is_torchelastic_launched():
    """Whether torchrun (torch.distributed.elastic) started this process: it sets
    TORCHELASTIC_RUN_ID."""
    return os.getenv("TORCHELASTIC_RUN_ID") is not None


def is_mpi_available():
    """Whether mpi4py can be imported (checked without importing it)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_initialized():
    return _backend is not None


def is_main_process():
    """True on rank 0, and in a script that never joined a process group: the process that
    prints progress and writes checkpoints."""
    return _backend is None or _backend.rank == 0


def get_backend(group=None):
    return _require_backend("get_backend").name


def _require_backend(operation, group=None):
    if group is not None and not isinstance(group, ProcessGroup):
        raise ValueError(f"{operation}: ember has only the default process group; pass "
                         f"group=None")
    if _backend is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    return _backend


def get_rank(group=None):
    return _require_backend("get_rank", group).rank


def get_world_size(group=None):
    return _require_backend("get_world_size", group).world_size


def barrier(group=None, async_op=False, device_ids=None, timeout=None):
    """Wait until every rank has called ``barrier``; ``timeout`` (a ``datetime.timedelta``)
    overrides the process group's limit for this call."""
    engine = _require_backend("barrier", group)
    seconds = None if timeout is None else _timeout_seconds(timeout, "barrier")
    engine.barrier(timeout=seconds)
    return Work(_DoneRequest(), None) if async_op else None


class Work:
    """Handle of an ``async_op=True`` collective (``torch.distributed.Work``)."""

    def __init__(self, request, finish, tensors=()):
        self._request = request
        self._finish = finish
        self._tensors = list(tensors)

    def wait(self, timeout=None):
        """Block until done; ``timeout`` (a ``datetime.timedelta``) overrides the limit."""
        if self._finish is not None:
            seconds = None if timeout is None else _timeout_seconds(timeout, "Work.wait")
            self._request.wait(seconds)
            finish, self._finish = self._finish, None
            finish()
        return True

    def result(self):
        """The output tensors, once finished (waits for them)."""
        self.wait()
        return self._tensors

    def is_completed(self):
        if self._finish is not None and self._request.test():
            self.wait()  # finished: put the result in place now
        return self._finish is None


def _contiguous_buffer(tensor, operation):
    """The array to hand to the engine: the tensor's own storage when contiguous."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{operation}: expected a Tensor, got {type(tensor).__name__}")
    array = tensor._data
    if not array.flags.writeable:
        raise RuntimeError(f"{operation}: the tensor's storage is read-only (an expanded view?); "
                           f"clone() it first")
    if array.flags.c_contiguous:
        return array
    return np.ascontiguousarray(array)


def _finish_in_place(tensor, buffer, divisor):
    if divisor is not None:
        np.divide(buffer, divisor, out=buffer, casting="unsafe")
    if buffer is not tensor._data:
        np.copyto(tensor._data, buffer)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` across ranks in place; every rank gets the result (dtype kept)."""
    engine = _require_backend("all_reduce", group)
    if not isinstance(op, ReduceOp):
        raise TypeError(f"all_reduce: op must be a ReduceOp, got {type(op).__name__}")
    buffer = _contiguous_buffer(tensor, "all_reduce")
    divisor = None
    if op is ReduceOp.AVG:
        if buffer.dtype.kind not in "fc":
            raise RuntimeError(f"all_reduce: ReduceOp.AVG needs a floating-point tensor, got "
                               f"{tensor.dtype}")
        op = ReduceOp.SUM
        divisor = engine.world_size
    tensor._bump_version()
    reduced = buffer
    if buffer.dtype == np.bool_:
        # MPI has no arithmetic on booleans: as PyTorch's backends do, SUM and MAX are a
        # logical or, PRODUCT and MIN a logical and, on the same bytes seen as uint8.
        reduced = buffer.view(np.uint8)
        op = ReduceOp.MAX if op in (ReduceOp.SUM, ReduceOp.MAX) else ReduceOp.MIN
    request = engine.iallreduce(reduced, op)
    work = Work(request, lambda: _finish_in_place(tensor, buffer, divisor), [tensor])
    if async_op:
        return work
    work.wait()
    return None


def broadcast(tensor, src, group=None, async_op=False):
    """Overwrite ``tensor`` on every rank with rank ``src``'s values."""
    engine = _require_backend("broadcast", group)
    if not isinstance(src, int) or not 0 <= src < engine.world_size:
        raise RuntimeError(f"broadcast: invalid root rank: {src} (world size "
                           f"{engine.world_size})")
    buffer = _contiguous_buffer(tensor, "broadcast")
    engine.broadcast(buffer, src)
    tensor._bump_version()
    _finish_in_place(tensor, buffer, None)
    return Work(_DoneRequest(), None) if async_op else None


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill ``tensor_list[r]`` with rank r's ``tensor`` on every rank."""
    engine = _require_backend("all_gather", group)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"all_gather: expected a Tensor, got {type(tensor).__name__}")
    problems = []
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != engine.world_size:
        length = len(tensor_list) if isinstance(tensor_list, (list, tuple)) else "no list"
        problems.append(f"tensor_list must hold world_size={engine.world_size} tensors, got "
                        f"{length}")
    else:
        for index, output in enumerate(tensor_list):
            if not isinstance(output, Tensor) or output._data.shape != tensor._data.shape:
                shape = list(output._data.shape) if isinstance(output, Tensor) else None
                problems.append(f"tensor_list[{index}] must be a Tensor of shape "
                                f"{list(tensor._data.shape)}, got {shape}")
    if problems:
        raise RuntimeError("all_gather: " + "; ".join(problems))
    gathered = engine.allgather(np.ascontiguousarray(tensor._data))
    for output, array in zip(tensor_list, gathered):
        output._write(array)
        output._bump_version()
    return Work(_DoneRequest(), None) if async_op else None


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """``output_tensor`` (world_size times ``input_tensor`` along dim 0, or stacked) filled
    with every rank's ``input_tensor`` in rank order (PyTorch deprecates the name for
    all_gather_single)."""
    warnings.warn("`torch.distributed.all_gather_into_tensor` is deprecated. Please use "
                  "`torch.distributed.all_gather_single` instead.", FutureWarning, stacklevel=2)
    engine = _require_backend("all_gather_into_tensor", group)
    shape = input_tensor._data.shape
    stacked = (engine.world_size, *shape)
    concatenated = (engine.world_size * shape[0], *shape[1:]) if shape else stacked
    if output_tensor._data.shape not in (stacked, concatenated):
        raise RuntimeError(f"all_gather_into_tensor: output_tensor must have shape "
                           f"{list(concatenated)}, got {list(output_tensor._data.shape)}")
    gathered = engine.allgather(np.ascontiguousarray(input_tensor._data))
    output_tensor._write(np.stack(gathered).reshape(output_tensor._data.shape))
    output_tensor._bump_version()
    return Work(_DoneRequest(), None) if async_op else None


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None,
                      group=None, async_op=False):
    """Rank r's slice j of ``input`` lands in slice r of rank j's ``output`` (along dim 0);
    in a one-process world that is a copy."""
    engine = _require_backend("all_to_all_single", group)
    if engine.world_size != 1:
        raise NotImplementedError("all_to_all_single: ember's MPI engine has no all-to-all; "
                                  "it runs in a one-process world only")
    if output._data.shape != input._data.shape:
        raise RuntimeError(f"all_to_all_single: output shape {list(output._data.shape)} differs "
                           f"from input shape {list(input._data.shape)}")
    output._write(input._data)
    output._bump_version()
    return Work(_DoneRequest(), None) if async_op else None


def get_process_group_ranks(group):
    """The global ranks in ``group``: ember's one group holds them all."""
    return list(range(_require_backend("get_process_group_ranks").world_size))


def _object_bytes(obj):
    return np.frombuffer(pickle.dumps(obj), dtype=np.uint8)


def all_gather_object(object_list, obj, group=None):
    """Fill ``object_list[r]`` with rank r's picklable ``obj`` on every rank."""
    engine = _require_backend("all_gather_object", group)
    payload = _object_bytes(obj)
    sizes = [int(size[0]) for size in
             engine.allgather(np.array([payload.size], dtype=np.int64))]
    padded = np.zeros(max(sizes), dtype=np.uint8)
    padded[:payload.size] = payload
    gathered = engine.allgather(padded)
    for rank, (array, size) in enumerate(zip(gathered, sizes)):
        object_list[rank] = pickle.loads(array[:size].tobytes())


def broadcast_object_list(object_list, src=0, group=None, device=None, group_src=None):
    """Replace the items of ``object_list`` on every rank with rank ``src``'s (picklable)."""
    engine = _require_backend("broadcast_object_list", group)
    source = src if group_src is None else group_src
    if not isinstance(source, int) or not 0 <= source < engine.world_size:
        raise RuntimeError(f"broadcast_object_list: invalid root rank: {source} (world size "
                           f"{engine.world_size})")
    payload = _object_bytes(list(object_list)) if engine.rank == source else None
    size = np.array([0 if payload is None else payload.size], dtype=np.int64)
    engine.broadcast(size, source)
    buffer = payload if payload is not None else np.zeros(int(size[0]), dtype=np.uint8)
    buffer = np.ascontiguousarray(buffer).copy()
    engine.broadcast(buffer, source)
    object_list[:] = pickle.loads(buffer.tobytes())


def all_reduce_metrics(metrics, group=None):
    """Sum a dict of numbers (counts, summed losses) across ranks; returns a new dict of floats.

    Evaluation over a sharded dataset calls it on its totals (e.g. ``{"correct": c, "count": n,
    "loss_sum": s}``) before dividing, so the metrics equal the single-process ones. Every rank
    must pass the same keys (a difference is an error on every rank).
    """
    engine = _require_backend("all_reduce_metrics", group)
    names = sorted(metrics)
    values = np.array([float(metrics[name]) for name in names], dtype=np.float64)
    engine.allreduce(values, ReduceOp.SUM, label=f"all_reduce_metrics({', '.join(names)})",
                     tag=zlib.crc32("\0".join(names).encode("utf-8")))
    return {name: float(value) for name, value in zip(names, values)}


def _default_backend():
    """The engine in use, or None (DistributedDataParallel and SyncBatchNorm read it)."""
    return _backend
