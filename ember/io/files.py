"""The file-system side of checkpoints: atomic writes through symlinks that keep the file's mode,
clean up after writers killed mid-save, and refuse anything that is not a regular file.

Every error is a ``CheckpointError`` that names the user's path, never the hidden temporary file.
"""
import contextlib
import os
import platform
import re
import secrets
import stat
import zlib

WRITE_CHUNK_BYTES = 16 * 1024 * 1024
_TEMPORARY_PREFIX_BYTES = 150  # keeps the temporary name under NAME_MAX (255) for long names
# .NAME.HOST-PID.TOKEN.tmp: see _temporary_prefix.
_TEMPORARY_NAME = re.compile(r"\..+\.([0-9a-f]{8})-(\d+)\.[0-9a-f]{8}\.tmp")
_FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket"))


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be written or read: a missing, non-regular, unwritable, truncated,
    corrupt or foreign file."""


def check_path(path, operation):
    """``path`` as a str (bytes decoded the way the OS does), or TypeError."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{operation}: expected a file path (str or os.PathLike), "
                        f"got {type(path).__name__}")
    return os.fsdecode(os.fspath(path))


def _require_regular(status, display, operation):
    if stat.S_ISREG(status.st_mode):
        return
    kind = next((name for test, name in _FILE_KINDS if test(status.st_mode)), "not a file")
    raise CheckpointError(f"{operation}: '{display}' is {kind}, not a regular file")


# ---- writing -----------------------------------------------------------------------------------

class SaveTarget:
    """Where a save to the user's path lands: the final file with symlinks resolved, and the mode
    to keep (None for a new file). Made by ``save_target``, which checks it before anything runs."""

    __slots__ = ("display", "path", "mode")

    def __init__(self, display, path, mode):
        self.display = display
        self.path = path
        self.mode = mode


def save_target(display, operation):
    """Resolve ``display`` for writing; refuses directories, FIFOs, devices, read-only files and
    missing folders with a CheckpointError before any file is opened."""
    path = os.path.realpath(display)
    try:
        status = os.stat(path)
    except FileNotFoundError:
        status = None
    except OSError as error:
        raise CheckpointError(f"{operation}: cannot write '{display}': {error.strerror}") from None
    if status is not None:
        _require_regular(status, display, operation)
        if not os.access(path, os.W_OK):
            raise CheckpointError(f"{operation}: cannot write '{display}': the file is read-only")
        return SaveTarget(display, path, stat.S_IMODE(status.st_mode))
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        # The folder as the user wrote it, unless a symlink led elsewhere.
        named = os.path.dirname(display) or "."
        shown = directory if os.path.isdir(named) else named
        raise CheckpointError(f"{operation}: cannot write '{display}': the folder '{shown}' "
                              f"does not exist")
    return SaveTarget(display, path, None)


def write_chunk(file, chunk):
    """One write call; a seam for the crash-during-save tests."""
    file.write(chunk)


def _host():
    """This machine, as 8 hex digits: a writer on another machine that shares the folder must
    not be mistaken for a dead local process."""
    return f"{zlib.crc32(platform.node().encode('utf-8', 'surrogateescape')):08x}"


def _temporary_prefix(path):
    """``.NAME.HOST-``, the start of ``path``'s temporary names (the pid and a token follow)."""
    base = os.fsdecode(os.fsencode(os.path.basename(path))[:_TEMPORARY_PREFIX_BYTES])
    return f".{base}.{_host()}-"


def _process_exists(pid):
    try:
        os.kill(pid, 0)  # signal 0 only checks that the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True  # e.g. EPERM: it exists, owned by someone else
    return True


def _remove_stale_temporaries(directory):
    """Delete the temporary files of earlier saves into ``directory`` whose writer (the pid in
    the name, on this host) no longer runs: what a kill -9 during a save leaves behind. Any
    target's, not only this one's: ``fit`` writes a new file name every epoch."""
    if os.name != "posix":
        return  # os.kill(pid, 0) is not a harmless probe on Windows
    try:
        names = os.listdir(directory)
    except OSError:
        return
    host = _host()
    for name in names:
        match = _TEMPORARY_NAME.fullmatch(name)
        if match is None or match.group(1) != host:
            continue
        pid = int(match.group(2))
        if pid == os.getpid() or _process_exists(pid):
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass  # removed by a concurrent save, or not ours to remove


def write_atomic(target, data, operation):
    """Write ``data`` to a temporary file beside ``target.path``, fsync, rename it over the target,
    fsync the folder: a crash at any moment leaves the old file or the new one."""
    directory = os.path.dirname(target.path)
    _remove_stale_temporaries(directory)
    temporary = os.path.join(directory, f"{_temporary_prefix(target.path)}{os.getpid()}."
                                        f"{secrets.token_hex(4)}.tmp")
    # Mode 0o666 lets the umask decide a new file's permissions, as a plain open() would.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(temporary, flags, 0o666 if target.mode is None else 0o600)
    except OSError as error:
        raise CheckpointError(f"{operation}: cannot write '{target.display}': "
                              f"{error.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as file:
            if target.mode is not None and hasattr(os, "fchmod"):
                os.fchmod(file.fileno(), target.mode)
            view = memoryview(data)
            for start in range(0, len(view), WRITE_CHUNK_BYTES):
                write_chunk(file, view[start:start + WRITE_CHUNK_BYTES])
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target.path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise CheckpointError(f"{operation}: cannot write '{target.display}': "
                                  f"{error.strerror or error}") from None
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    """Make the rename durable; best effort (Windows and some file systems cannot do it)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


# ---- reading -----------------------------------------------------------------------------------

class Truncated(Exception):
    """The file shrank while it was being read."""


@contextlib.contextmanager
def open_regular(display, operation):
    """``with open_regular(path, operation) as (file, size)``: a regular file opened for reading,
    or CheckpointError. Checked before opening (opening a FIFO blocks) and again after it."""
    try:
        _require_regular(os.stat(display), display, operation)
        flags = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                 | getattr(os, "O_BINARY", 0))
        descriptor = os.open(display, flags)
    except FileNotFoundError:
        raise CheckpointError(f"{operation}: no such file: '{display}'") from None
    except OSError as error:
        raise CheckpointError(f"{operation}: cannot read '{display}': {error.strerror}") from None
    with os.fdopen(descriptor, "rb", buffering=0) as file:
        status = os.fstat(descriptor)
        _require_regular(status, display, operation)  # replaced between the stat and the open
        yield file, status.st_size


def read_into(file, view):
    """Fill ``view`` from ``file``, or raise Truncated."""
    filled = 0
    while filled < len(view):
        count = file.readinto(view[filled:])
        if not count:
            raise Truncated()
        filled += count
