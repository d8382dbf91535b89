"""Optional compiled kernels (the ``jit`` extra, numba) for memory-bound loops that NumPy runs as
many passes. numba is imported on a kernel's first call, never by ``import ember``; without numba,
or with ``EMBER_JIT=0`` in the environment, or inside ``disabled()``, every kernel answers None
and its caller runs the NumPy path, which computes the same values."""
import contextlib
import os
import threading

from ember._threads import _state as _threads_state

_state = {"numba": None, "tried": False, "forced_off": 0}
# Parallel kernels loop with ``_jit.prange``: numba.prange once numba is loaded (numba reads the
# global when it compiles), plain range before, so kernel modules never import numba themselves.
prange = range
_lock = threading.Lock()


def _numba():
    """The numba module, or None when it is absent, refused by EMBER_JIT=0 or fails to load."""
    if not _state["tried"]:
        with _lock:
            if not _state["tried"]:
                if os.environ.get("EMBER_JIT", "1").strip() != "0":
                    try:
                        # numba is an optional extra and costs ~0.3 s to import: loaded on first use.
                        import numba
                    except ImportError:
                        numba = None
                    _state["numba"] = numba
                    if numba is not None:
                        globals()["prange"] = numba.prange
                _state["tried"] = True
    return _state["numba"]


def available():
    """True when compiled kernels run now (numba present, not switched off)."""
    return _state["forced_off"] == 0 and _numba() is not None


@contextlib.contextmanager
def disabled():
    """Run the NumPy paths inside the block (used by tests that compare the two)."""
    with _lock:
        _state["forced_off"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["forced_off"] -= 1


class kernel:
    """Decorator: ``fn`` written in numba's nopython subset; ``.compiled()`` is the dispatcher
    (compiled per signature on first call, cached on disk across runs) or None."""

    def __init__(self, fn=None, *, parallel=False):
        self._fn = fn
        self._parallel = parallel
        self._dispatcher = None

    def __call__(self, fn):
        # ``@kernel(parallel=True)``: the decorator was called with options first.
        return type(self)(fn, parallel=self._parallel)

    def compiled(self):
        if _state["forced_off"]:
            return None
        if self._dispatcher is None:
            numba = _numba()
            if numba is None:
                return None
            # error_model "numpy": a division by zero gives inf/nan as in NumPy, not Python's
            # ZeroDivisionError check, which also keeps LLVM from vectorising the loop.
            options = {"nogil": True, "parallel": self._parallel, "error_model": "numpy"}
            try:
                self._dispatcher = numba.njit(self._fn, cache=True, **options)
            except RuntimeError:
                # no writable cache location for this file: compile per process instead.
                self._dispatcher = numba.njit(self._fn, **options)
        if self._parallel:
            _match_threads(self._dispatcher)
        return self._dispatcher


def _match_threads(dispatcher):
    """Parallel kernels use the thread count given to ``ember.set_num_threads`` (else numba's
    default, NUMBA_NUM_THREADS or the CPU count)."""
    numba = _state["numba"]
    wanted = _threads_state["threads"]
    if wanted is not None:
        wanted = min(wanted, numba.config.NUMBA_NUM_THREADS)
        if numba.get_num_threads() != wanted:
            numba.set_num_threads(wanted)
