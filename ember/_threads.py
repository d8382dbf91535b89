"""set_num_threads/get_num_threads: the BLAS thread pool NumPy computes with (threadpoolctl, when
importable, is loaded only on first use to keep ``import ember`` fast)."""
import os

_state = {"threads": None, "limiter": None}


def set_num_threads(num_threads):
    """Use ``num_threads`` BLAS threads from now on (recorded even without threadpoolctl)."""
    if isinstance(num_threads, bool) or not isinstance(num_threads, int):
        raise RuntimeError(f"set_num_threads expects an int, but got "
                           f"{type(num_threads).__name__}")
    if num_threads <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    _state["threads"] = num_threads
    try:
        # threadpoolctl is optional (the test and bench extras): imported only when it is used.
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    _state["limiter"] = threadpool_limits(limits=num_threads, user_api="blas")


def get_num_threads():
    """The value last set, else the BLAS pool's size (else the CPU count)."""
    if _state["threads"] is not None:
        return _state["threads"]
    try:
        # threadpoolctl is optional (the test and bench extras): imported only when it is used.
        from threadpoolctl import threadpool_info
    except ImportError:
        return os.cpu_count() or 1
    sizes = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return max(sizes) if sizes else (os.cpu_count() or 1)
