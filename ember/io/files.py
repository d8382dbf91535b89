"""The file-system side of checkpoints: atomic writes through symlinks that keep the file's mode,
clean up after writers killed mid-save, and refuse anything that is not a regular file; binary
file objects (``open(..., 'rb')``, ``io.BytesIO``) as torch.save/torch.load take them.

Every error is a ``CheckpointError`` that names the user's path, never the hidden temporary file.
"""
import contextlib
import io
import os
import pickle
import platform
import re
import secrets
import stat
import zlib
from typing import Any, NamedTuple

WRITE_CHUNK_BYTES = 16 * 1024 * 1024
MAX_DIMENSIONS = 64  # NumPy's limit
MAX_ARRAY_BYTES = 2 ** 63 - 1  # NumPy's: the product of the non-zero sizes times the itemsize
_TEMPORARY_PREFIX_BYTES = 150  # keeps the temporary name under NAME_MAX (255) for long names
# .NAME.HOST-PID.TOKEN.tmp: see _temporary_prefix.
_TEMPORARY_NAME = re.compile(r"\..+\.([0-9a-f]{8})-(\d+)\.[0-9a-f]{8}\.tmp")
_FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket"))


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be written or read: a missing, non-regular, unwritable, truncated,
    corrupt or foreign file."""


class MissingCheckpointError(CheckpointError, FileNotFoundError):
    """A checkpoint path where there is no file: also a ``FileNotFoundError``, what torch.load
    raises, so a script's ``except FileNotFoundError`` (start fresh when nothing to resume)
    catches it."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A pickle in a torch.save file that asks for more than data (a global outside the allowed
    list, an instruction that builds arbitrary objects). Also a ``pickle.UnpicklingError``, the
    type torch.load raises for the same files with ``weights_only=True``."""


class Corrupt(Exception):
    """Raised inside the readers; the loader turns it into a CheckpointError naming the file."""


class Unsafe(Corrupt):
    """Raised inside the readers for a refused pickle; becomes an UnsafeCheckpointError."""


def is_path(target):
    return isinstance(target, (str, bytes, os.PathLike))


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

class SaveTarget(NamedTuple):
    """Where a save to the user's path lands: the final file with symlinks resolved, and the mode
    to keep (None for a new file). Made by ``save_target``, which checks it before anything runs."""

    display: str
    path: str
    mode: int | None


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
    return file.write(chunk)


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


def write_file_object(file, data, operation):
    """Write ``data`` to a binary file object and flush it (as torch.save does); OSError becomes
    a CheckpointError naming the file."""
    view = memoryview(data)
    try:
        for start in range(0, len(view), WRITE_CHUNK_BYTES):
            chunk = view[start:start + WRITE_CHUNK_BYTES]
            while len(chunk):
                written = write_chunk(file, chunk)
                # Raw files may write part of a chunk; buffered ones and BytesIO write it all.
                chunk = chunk[written:] if isinstance(written, int) and written > 0 else chunk[:0]
        if hasattr(file, "flush"):
            file.flush()
    except OSError as error:
        raise CheckpointError(f"{operation}: cannot write {describe(file)}: "
                              f"{error.strerror or error}") from None


def short(value, limit=80):
    """A repr for messages, cut at ``limit`` characters (values come from untrusted files)."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"<deeply nested {type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def describe(target):
    """How messages name a path or file object: 'model.pt', or <BytesIO>."""
    if is_path(target):
        return f"'{os.fsdecode(os.fspath(target))}'"
    name = getattr(target, "name", None)
    if isinstance(name, (str, bytes)):
        return f"'{os.fsdecode(name)}'"
    return f"<{type(target).__name__}>"


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


class Source(NamedTuple):
    """A checkpoint being read, path or file object alike: ``size`` bytes from ``start`` of
    ``file``, read with ``seek`` and ``readinto``; ``path`` is None for a file object."""

    file: Any
    start: int
    size: int
    display: str
    path: str | None

    def seek(self, position):
        self.file.seek(self.start + position)

    def readinto(self, view):
        if hasattr(self.file, "readinto"):
            return self.file.readinto(view)
        chunk = self.file.read(len(view))
        if not isinstance(chunk, (bytes, bytearray)):
            raise TypeError(f"read() of {type(self.file).__name__} returned "
                            f"{type(chunk).__name__}, expected bytes (open the file with 'rb')")
        count = min(len(chunk), len(view))
        view[:count] = chunk[:count]
        return count

    def read_at(self, position, count):
        """``count`` bytes at ``position``, or Truncated."""
        buffer = bytearray(count)
        self.seek(position)
        read_into(self, memoryview(buffer))
        return bytes(buffer)


@contextlib.contextmanager
def open_source(target, operation):
    """``with open_source(path_or_file, operation) as source``: a regular file opened by path, or
    a seekable binary file object read from its current position (as torch.load reads it)."""
    if is_path(target):
        display = check_path(target, operation)
        with open_regular(display, operation) as (file, size):
            yield Source(file, 0, size, f"'{display}'", display)
        return
    _check_seekable(target, operation)
    if isinstance(target, io.TextIOBase) or isinstance(target.read(0), str):
        raise TypeError(f"{operation}: {describe(target)} is opened in text mode; "
                        f"open it with 'rb'")
    start = target.tell()
    end = target.seek(0, os.SEEK_END)
    target.seek(start)
    yield Source(target, start, end - start, describe(target), None)


def _check_seekable(file, operation):
    """torch.load's check and message: the file object must have a working seek and tell."""
    try:
        file.seek(file.tell())
    except (io.UnsupportedOperation, AttributeError) as error:
        raise type(error)(f"{error}. You can only {operation} from a file that is seekable. "
                          f"Please pre-load the data into a buffer like io.BytesIO and try to "
                          f"load from it instead.") from None


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
        raise MissingCheckpointError(f"{operation}: no such file: '{display}'") from None
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
