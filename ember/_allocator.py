"""glibc's malloc thresholds at the ceiling of glibc's own adaptive rule, so that the large
temporaries of one step are reused by the next instead of being returned to the system and
faulted back in, page by page (Linux with glibc only; ``EMBER_MALLOC_THRESHOLDS=0`` leaves
malloc as it is, and so does a user's ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``,
``MALLOC_TOP_PAD_``, ``MALLOC_MMAP_MAX_`` or ``GLIBC_TUNABLES``).

glibc serves blocks above M_MMAP_THRESHOLD (128 KiB at start) from fresh mappings and gives the
top of its heap back once more than M_TRIM_THRESHOLD is free there. Each time a mapped block is
freed, it raises the first to that block's size and the second to twice that, up to 32 MiB and
64 MiB (mallopt(3), "M_MMAP_THRESHOLD"). A training step's arrays come and go in a pattern that
keeps the heap top oscillating above the current trim threshold: gpt_train faulted ~12,000 pages
back in every step (15% of its time), cnn_train ~4,700. Starting at 32 MiB removes those faults
and leaves peak memory as it was. The trim threshold goes past the rule's 64 MiB, to 256 MiB:
a large vocabulary's logits and their gradients (lstm_train's 700 x 10,000) free more than
64 MiB at the heap's top, and about half of its processes faulted ~3,300 pages back in every
step (8% of its time); with 256 MiB none did.
"""
import ctypes
import os
import sys

# mallopt(3) parameter numbers (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 8 * MMAP_THRESHOLD
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
                  "MALLOC_MMAP_MAX_", "GLIBC_TUNABLES")


def set_thresholds(environ=os.environ):
    """Set both thresholds unless switched off or set by the user; True when they were set."""
    if environ.get("EMBER_MALLOC_THRESHOLDS", "1").strip() == "0":
        return False
    if not sys.platform.startswith("linux") or any(name in environ for name in _USER_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc only: musl's mallopt does nothing
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
