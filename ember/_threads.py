"""ember's threads (PyTorch's ``set_num_threads``). By default ember computes on one thread and
lets BLAS use ``get_num_threads()`` threads, as before. With ``EMBER_INTRA_OP_THREADS=1`` in the
environment (or ``use_pool(True)``), large GEMMs and compiled kernels are instead cut into row
ranges that ember's own worker threads compute beside the caller, as PyTorch's at::parallel_for
does, while BLAS runs single-threaded (OpenBLAS's workers spin after every call and would fight
ember's). Alone, a split pass runs about twice as fast on two cores (np.exp over 4M floats 3.5
to 1.5 ms, a 2048x512x512 GEMM 11.5 to 5.7 ms); but on the 2-vCPU VMs this was measured on,
waking a sleeping worker costs about 0.3 ms, so whole training steps gained nothing over
OpenBLAS's spinning threads and medium products lost: hence off by default."""
import math
import os
import queue
import threading

import numpy as np

_state = {"threads": None, "limiter": None, "blas_owned": False,
          "pool": os.environ.get("EMBER_INTRA_OP_THREADS", "0").strip() == "1"}
_workers = []
_lock = threading.Lock()
_local = threading.local()
# Below about this many multiply-adds (or elements for a memory-bound pass) handing a range to a
# worker (~10-20 us: a queue put, a futex wake-up, a lock) costs more than it saves.
GEMM_GRAIN = 1 << 20
SMALL_GEMM = 10 ** 6
ELEMENT_GRAIN = 1 << 15


def set_num_threads(num_threads):
    """Use ``num_threads`` threads from now on: BLAS's, or ember's own with the pool on (BLAS
    then runs single-threaded inside them)."""
    if isinstance(num_threads, bool) or not isinstance(num_threads, int):
        raise RuntimeError(f"set_num_threads expects an int, but got "
                           f"{type(num_threads).__name__}")
    if num_threads <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    _state["threads"] = num_threads
    if _state["pool"]:
        _own_blas()
    else:
        _state["blas_owned"] = False
        # threadpoolctl (a dependency) loads on first use: its library scan costs milliseconds.
        from threadpoolctl import threadpool_limits
        _state["limiter"] = threadpool_limits(limits=num_threads, user_api="blas")


def use_pool(enabled):
    """Split large work over ember's own threads (True) or leave threading to BLAS (False, the
    default; see the module's docstring for why)."""
    _state["pool"] = bool(enabled)
    set_num_threads(get_num_threads())


def pool_enabled():
    """Whether large work is cut over ember's own threads (``use_pool``)."""
    return _state["pool"]


def get_num_threads():
    """The value last set, else the BLAS pool's size when ember first looked (which follows
    OMP_NUM_THREADS / OPENBLAS_NUM_THREADS), else the CPU count."""
    if _state["threads"] is None:
        _state["threads"] = _blas_threads()
    return _state["threads"]


def _blas_threads():
    # threadpoolctl (a dependency) loads on first use: its library scan costs milliseconds.
    from threadpoolctl import threadpool_info
    sizes = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return max(sizes) if sizes else _cpu_count()


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _own_blas():
    """Hold BLAS at one thread (ember threads around it), once."""
    if not _state["blas_owned"]:
        _state["blas_owned"] = True
        # threadpoolctl (a dependency) loads on first use: its library scan costs milliseconds.
        from threadpoolctl import threadpool_limits
        _state["limiter"] = threadpool_limits(limits=1, user_api="blas")


def chunk_count(work, grain=None, rows=None):
    """How many threads a pass of ``work`` units over ``rows`` independent rows should use."""
    if not _state["pool"]:
        return 1
    threads = _state["threads"] or get_num_threads()
    grain = ELEMENT_GRAIN if grain is None else grain
    if threads == 1 or work < 2 * grain or getattr(_local, "inside", False):
        return 1
    count = min(threads, work // grain)
    return count if rows is None else min(count, rows)


def row_ranges(rows, count):
    """``count`` contiguous (start, stop) ranges covering ``range(rows)``, sizes within one."""
    edges = [rows * index // count for index in range(count + 1)]
    return list(zip(edges[:-1], edges[1:]))


def run(function, ranges):
    """Call ``function(start, stop)`` for every range, the caller taking part; returns when all
    are done and re-raises the first exception a range raised."""
    if len(ranges) == 1:
        function(*ranges[0])
        return
    _own_blas()
    job = _Job(function, ranges)
    for worker in _pool(len(ranges) - 1):
        worker.put(job)
    job.work()
    job.finished.acquire()
    if job.error is not None:
        raise job.error


def split(rows, work, function, grain=None):
    """``function(start, stop)`` over ranges of ``rows`` independent rows whose pass costs
    ``work`` units (elements, or multiply-adds with GEMM_GRAIN): one call on the caller when
    the work is small, else ``run`` over ``chunk_count`` ranges."""
    if not _state["pool"]:  # the default: one call, without building a range list
        function(0, rows)
        return
    run(function, row_ranges(rows, chunk_count(work, grain, rows)))


def elementwise(function, out, *arrays):
    """``function(*arrays, out=out)`` for arrays of ``out``'s shape, cut into ranges of their
    flattened elements (of their first axis longer than one when one is not C-contiguous) over
    the threads when large; a pass with the same values whatever the cut. Returns ``out``."""
    if not _state["pool"]:  # the default: one call, without looking at the layouts
        function(*arrays, out=out)
        return out
    if all(array.flags.c_contiguous for array in (out,) + arrays):
        out_rows, rows = out.reshape(-1), [array.reshape(-1) for array in arrays]
    else:
        out_rows, rows = out, arrays
        while out_rows.ndim > 1 and out_rows.shape[0] == 1:
            out_rows, rows = out_rows[0], [array[0] for array in rows]
    length = out_rows.shape[0] if out_rows.ndim else 1
    if out_rows.ndim == 0 or chunk_count(out.size, rows=length) == 1:
        function(*arrays, out=out)
        return out

    def part(start, stop):
        function(*(array[start:stop] for array in rows), out=out_rows[start:stop])
    split(length, out.size, part)
    return out


def matmul(a, b, bias=None):
    """``np.matmul(a, b)`` (plus ``bias`` on every row, if given) for same-dtype arrays, its rows
    (float32) or its leading batch cut across ember's threads when the product is large; each
    range is the same BLAS call on fewer rows or items, so the result is bit-identical to one
    call."""
    if (a.size * b.shape[-1] < 2 * GEMM_GRAIN or not _state["pool"] or a.ndim < 2
            or b.ndim < 2 or a.dtype != b.dtype):
        # the common small product: no more than np.matmul's own cost
        return _product(a, b, bias)
    rows, depth = a.shape[-2], a.shape[-1]
    columns = b.shape[-1]
    batch = a.shape[:-2]
    count = chunk_count(rows * depth * columns * (np.prod(batch) if batch else 1), GEMM_GRAIN)
    if count == 1:
        return _product(a, b, bias)
    if a.ndim == 2:
        # OpenBLAS multiplies products of up to 1e6 multiply-adds with other kernels (its
        # small-matrix path), which round differently: every range stays above that. Its
        # float64 kernels' rounding depends on the row count at any size: those stay whole.
        count = min(count, rows // (SMALL_GEMM // max(depth * columns, 1) + 1))
        if count < 2 or a.dtype != np.float32 or not _row_splits_exact():
            return _product(a, b, bias)
        out = np.empty((rows, columns), a.dtype)
        run(lambda start, stop: _product(a[start:stop], b, bias, out[start:stop]),
            row_ranges(rows, count))
        return out
    if b.ndim != a.ndim or b.shape[:-2] != batch or batch[0] < count:
        return _product(a, b, bias)
    out = np.empty(batch + (rows, columns), a.dtype)
    run(lambda start, stop: _product(a[start:stop], b[start:stop], bias, out[start:stop]),
        row_ranges(batch[0], count))
    return out


def _row_splits_exact():
    """Whether this BLAS gives float32 products of row ranges bit for bit as one call does
    (OpenBLAS's SkylakeX kernels do; its Haswell kernels, as OPENBLAS_CORETYPE=Haswell picks on
    some AMD CPUs, round by row count): probed once, on products above the small-matrix
    limit."""
    exact = _state.get("row_splits_exact")
    if exact is None:
        rng = np.random.default_rng(0)
        exact = True
        for rows, depth, columns in ((1201, 50, 60), (700, 200, 300)):
            a = rng.standard_normal((rows, depth), dtype=np.float32)
            b = rng.standard_normal((depth, columns), dtype=np.float32)
            whole = np.matmul(a, b)
            for start, stop in row_ranges(rows, 3):
                if not np.array_equal(np.matmul(a[start:stop], b), whole[start:stop]):
                    exact = False
        _state["row_splits_exact"] = exact
    return exact


def _product(a, b, bias, out=None):
    if a.shape[-1] == 1 and a.ndim >= 2 and b.ndim >= 2:
        # a sum of one product: NumPy's matmul runs it in its own loop, not BLAS (3-4x slower
        # than the broadcast product, (64, 64, 1) @ (64, 1, 128) 0.50 -> 0.12 ms), and the
        # broadcast product rounds it the same
        out = np.multiply(a, b, out=out, order="C")
    else:
        out = np.matmul(a, b, out=out)
    if bias is not None:
        out += bias
    return out


def binary(ufunc, a, b, out=None):
    """``ufunc(a, b, out=out)`` on ember's threads when large: as ``elementwise`` when ``b`` is
    an array of a's shape and dtype, as ``broadcasting`` when it is a number or broadcasts."""
    if type(b) is np.ndarray and b.shape == a.shape and b.dtype == a.dtype:
        if out is None:  # the dtype of one element's result: a comparison gives bool
            out = np.empty(a.shape, ufunc(a.flat[:1], b.flat[:1]).dtype)
        return elementwise(ufunc, out, a, b)
    if out is None:
        return broadcasting(ufunc, a, b)
    return ufunc(a, b, out=out)


def broadcasting(function, *operands):
    """``function(*operands)`` for an elementwise, broadcasting ``function`` (np.where, a ufunc)
    of arrays and numbers, over ranges of the result's first axis on ember's threads when the
    result is large: operands spanning that axis are sliced, the others broadcast whole."""
    if not _state["pool"]:  # the default: one call, without working out the shape
        return function(*operands)
    shape = np.broadcast_shapes(*[np.shape(operand) for operand in operands])
    rows = shape[0] if shape else 1
    count = chunk_count(math.prod(shape), rows=rows)
    if count == 1:
        return function(*operands)
    ndim = len(shape)
    spans = [type(operand) is np.ndarray and operand.ndim == ndim and operand.shape[0] == rows
             for operand in operands]

    def part(start, stop):
        return [operand[start:stop] if spanning else operand
                for operand, spanning in zip(operands, spans)]

    out = np.empty(shape, np.asarray(function(*part(0, 1))).dtype)

    def compute(start, stop):
        out[start:stop] = function(*part(start, stop))

    run(compute, row_ranges(rows, count))
    return out


def pointwise(function, *arrays):
    """``function(*arrays)`` for an elementwise ``function`` of same-shape arrays that returns
    its result: as ``elementwise``, each range's result copied into one output."""
    first = arrays[0]
    if chunk_count(first.size) == 1 or any(type(array) is not np.ndarray
                                           or array.shape != first.shape for array in arrays):
        return function(*arrays)
    out = np.empty(first.shape, function(*[array.flat[:1] for array in arrays]).dtype)

    def into(*parts, out):
        out[...] = function(*parts)

    return elementwise(into, out, *arrays)


class _Job:
    """Ranges handed out one at a time to whoever asks next; the last to finish releases
    ``finished``."""

    def __init__(self, function, ranges):
        self.function = function
        self.ranges = ranges
        self.next = iter(range(len(ranges)))
        self.remaining = len(ranges)
        self.count_lock = threading.Lock()
        self.finished = threading.Lock()
        self.finished.acquire()
        self.error = None

    def work(self):
        # next() on a range iterator is atomic under the GIL: each index goes to one thread.
        for index in self.next:
            try:
                self.function(*self.ranges[index])
            except BaseException as error:  # noqa: BLE001 - re-raised in the caller
                if self.error is None:
                    self.error = error
            with self.count_lock:
                self.remaining -= 1
                done = self.remaining == 0
            if done:
                # a worker may hold this job a moment longer: not the arrays the ranges use
                self.function = None
                self.finished.release()


def _pool(size):
    """The first ``size`` worker queues, starting threads as needed."""
    if len(_workers) < size:
        with _lock:
            while len(_workers) < size:
                jobs = queue.SimpleQueue()
                thread = threading.Thread(target=_serve, args=(jobs,), daemon=True,
                                          name=f"ember-worker-{len(_workers)}")
                thread.start()
                _workers.append(jobs)
    return _workers[:size]


def _serve(jobs):
    _local.inside = True
    while True:
        jobs.get().work()


def _forget_workers():
    """A forked child has none of its parent's threads: start its own on first use."""
    _workers.clear()
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)
