"""``torch.multiprocessing``: Python's multiprocessing (tensors are pickled with their arrays,
except those moved to shared memory by ``share_memory_()``, whose memory a process being spawned
maps too; see ember._shared_memory) and ``spawn`` / ``start_processes``, which run
``fn(index, *args)`` in new processes and re-raise a failure in the parent, as PyTorch's do."""
import multiprocessing
import multiprocessing.connection
from multiprocessing import *  # noqa: F401,F403  (PyTorch re-exports the whole module)
import traceback

__all__ = list(multiprocessing.__all__) + [
    "ProcessContext", "ProcessException", "ProcessExitedException", "ProcessRaisedException",
    "get_all_sharing_strategies", "get_sharing_strategy", "set_sharing_strategy", "spawn",
    "start_processes"]

_SHARING_STRATEGIES = {"file_descriptor", "file_system"}
_sharing = ["file_descriptor"]


def get_all_sharing_strategies():
    return set(_SHARING_STRATEGIES)


def get_sharing_strategy():
    return _sharing[0]


def set_sharing_strategy(new_strategy):
    """Accepted for compatibility: ember shares memory through file descriptors either way."""
    if new_strategy not in _SHARING_STRATEGIES:
        raise AssertionError(f"invalid sharing strategy {new_strategy!r}")
    _sharing[0] = new_strategy


class ProcessException(Exception):
    def __init__(self, msg, error_index, pid):
        super().__init__(msg)
        self.msg = msg
        self.error_index = error_index
        self.pid = pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid)


class ProcessRaisedException(ProcessException):
    """A spawned process raised: its traceback is in the message."""


class ProcessExitedException(ProcessException):
    """A spawned process ended with a nonzero exit code (or a signal) without raising."""

    def __init__(self, msg, error_index, error_pid, exit_code, signal_name=None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code = exit_code
        self.signal_name = signal_name

    def __reduce__(self):
        return (type(self), (self.msg, self.error_index, self.pid, self.exit_code,
                             self.signal_name))


def _wrap(fn, index, args, error_queue):
    try:
        fn(index, *args)
    except KeyboardInterrupt:
        pass  # the parent is told by the exit code
    except Exception:
        error_queue.put(traceback.format_exc())
        raise SystemExit(1)


class ProcessContext:
    """The started processes; ``join()`` waits for them (True once all have ended) and raises
    the first failure, ending the others."""

    def __init__(self, processes, error_queues):
        self.processes = processes
        self.error_queues = error_queues

    def pids(self):
        return [process.pid for process in self.processes]

    def join(self, timeout=None):
        running = [process.sentinel for process in self.processes if process.exitcode is None]
        if running:
            multiprocessing.connection.wait(running, timeout=timeout)
        # one reading of the exit codes: a process may end while they are looked at
        codes = [process.exitcode for process in self.processes]
        failed = next((index for index, code in enumerate(codes)
                       if code is not None and code != 0), None)
        if failed is None:
            if None in codes:
                return False
            for process in self.processes:
                process.join()
            return True
        for process in self.processes:
            if process.is_alive():
                process.terminate()
            process.join()
        process = self.processes[failed]
        queue = self.error_queues[failed]
        if not queue.empty():
            message = (f"\n\n-- Process {failed} terminated with the following error:\n"
                       f"{queue.get()}")
            raise ProcessRaisedException(message, failed, process.pid)
        code = codes[failed]
        if code < 0:
            import signal  # only to name the signal of a crashed child
            name = signal.Signals(-code).name
            raise ProcessExitedException(f"process {failed} terminated with signal {name}",
                                         failed, process.pid, code, name)
        raise ProcessExitedException(f"process {failed} terminated with exit code {code}",
                                     failed, process.pid, code)


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Run ``fn(i, *args)`` for i in range(nprocs), each in its own process."""
    context = multiprocessing.get_context(start_method)
    processes = []
    error_queues = []
    for index in range(nprocs):
        error_queue = context.SimpleQueue()
        process = context.Process(target=_wrap, args=(fn, index, args, error_queue),
                                  daemon=daemon)
        process.start()
        processes.append(process)
        error_queues.append(error_queue)
    running = ProcessContext(processes, error_queues)
    if not join:
        return running
    while not running.join():
        pass
    return None


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """``start_processes`` with the "spawn" start method (PyTorch's spawn)."""
    return start_processes(fn, args, nprocs, join, daemon, start_method)
