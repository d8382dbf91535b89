"""``torch.futures``: a value that becomes available later (``Future``), callbacks chained on it
(``then``, ``add_done_callback``), and the gathering of several (``collect_all``,
``wait_all``). ``torch.jit.fork`` returns one already completed."""
import threading

__all__ = ["Future", "collect_all", "wait_all"]

_PENDING = object()


class Future:
    """A result set once (``set_result`` or ``set_exception``); ``wait`` blocks until then."""

    def __init__(self, *, devices=None):
        self._result = _PENDING
        self._exception = None
        self._callbacks = []
        self._lock = threading.Lock()
        self._completed = threading.Event()

    def __class_getitem__(cls, item):
        return cls  # ``Future[Tensor]`` in annotations, as PyTorch's generic class allows

    def done(self):
        return self._completed.is_set()

    def _complete(self, result, exception):
        with self._lock:
            if self._completed.is_set():
                raise RuntimeError("Attempting to mark a completed Future as complete again. "
                                   "Note that a Future can only be marked completed once.")
            self._result, self._exception = result, exception
            self._completed.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)

    def set_result(self, result):
        self._complete(result, None)

    def set_exception(self, result):
        if not isinstance(result, BaseException):
            raise TypeError(f"{result} is of type {type(result)}, not an Exception.")
        self._complete(None, result)

    def wait(self):
        """The result, once set (an exception set instead is raised)."""
        self._completed.wait()
        return self.value()

    def value(self):
        if self._exception is not None:
            raise self._exception
        return self._result

    def add_done_callback(self, callback):
        """Run ``callback(self)`` when the result is set (at once if it is)."""
        with self._lock:
            if not self._completed.is_set():
                self._callbacks.append(callback)
                return
        callback(self)

    def then(self, callback):
        """A Future of ``callback(self)``, set when this one completes."""
        chained = Future()

        def run(done):
            try:
                chained.set_result(callback(done))
            except Exception as error:  # noqa: BLE001 (the chained future carries it)
                chained.set_exception(error)
        self.add_done_callback(run)
        return chained


def collect_all(futures):
    """A Future of the list of ``futures``, set once all of them are."""
    gathered = Future()
    remaining = [len(futures)]
    lock = threading.Lock()

    def one_done(_):
        with lock:
            remaining[0] -= 1
            finished = remaining[0] == 0
        if finished:
            gathered.set_result(list(futures))
    if not futures:
        gathered.set_result([])
    for future in futures:
        future.add_done_callback(one_done)
    return gathered


def wait_all(futures):
    """The results of ``futures``, waiting for each."""
    return [future.wait() for future in futures]
