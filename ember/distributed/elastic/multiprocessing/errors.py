"""``torch.distributed.elastic.multiprocessing.errors``: ``@record`` on a script's entry point
(as torchrun-launched recipes write it). When torchrun's ``TORCHELASTIC_ERROR_FILE`` is set, an
uncaught exception is written there as JSON before it propagates, as PyTorch does, so that the
launcher can report which worker failed and why."""
import functools
import json
import os
import time
import traceback

__all__ = ["record"]


def _write_error_file(error):
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path:
        return
    message = {"message": {"message": f"{type(error).__name__}: {error}",
                           "extraInfo": {"py_callstack": traceback.format_exc(),
                                         "timestamp": str(int(time.time()))}}}
    with open(path, "w") as file:
        json.dump(message, file)


def record(fn, error_handler=None):
    """``fn`` with its uncaught exceptions written to the error file, then re-raised."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SystemExit:
            raise
        except Exception as error:
            _write_error_file(error)
            raise
    return wrapper
