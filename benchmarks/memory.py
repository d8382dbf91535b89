"""Resident memory of this process from /proc/self/status, with getrusage where that is missing."""

import ctypes
import ctypes.util
import resource

_KIB_PER_MIB = 1024.0
_M_MMAP_THRESHOLD = -3  # mallopt parameter number, from glibc's malloc.h
_GLIBC_DEFAULT_MMAP_THRESHOLD = 128 * 1024


def _status_kib(field):
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def current_rss_mib():
    """Resident set size now, in MiB (None where /proc is unavailable)."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib / _KIB_PER_MIB


def peak_rss_mib():
    """High-water mark of the resident set size, in MiB."""
    kib = _status_kib("VmHWM")
    if kib is None:
        # ru_maxrss is in KiB on Linux.
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / _KIB_PER_MIB


def reset_peak():
    """Set the high-water mark back to the current RSS (Linux >= 4.0); True when it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def pin_mmap_threshold():
    """Serve every block >= 128 KiB with its own mmap and unmap it on free (glibc only).

    glibc starts at this threshold but raises it after large frees, after which big buffers
    come from the heap and their freed pages may linger; which blocks then stay resident varies
    from one run to the next. Pinned, RSS follows the live buffers. True when it took effect.
    """
    library = ctypes.util.find_library("c")
    if library is None:
        return False
    try:
        libc = ctypes.CDLL(library)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return mallopt(_M_MMAP_THRESHOLD, _GLIBC_DEFAULT_MMAP_THRESHOLD) == 1


def trim_heap():
    """Give the free parts of glibc's heap back to the system (malloc_trim), so that freed
    blocks reused by the next allocations show up in RSS again. True when it ran."""
    library = ctypes.util.find_library("c")
    if library is None:
        return False
    try:
        malloc_trim = ctypes.CDLL(library).malloc_trim
    except (OSError, AttributeError):
        return False
    malloc_trim(0)
    return True
