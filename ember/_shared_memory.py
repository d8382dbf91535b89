"""Arrays in shared memory, for ``Tensor.share_memory_()``: an anonymous memory file (memfd)
mapped MAP_SHARED, so processes forked afterwards write to the same pages, and processes being
spawned receive its file descriptor when a shared tensor is pickled into their arguments (as
PyTorch's file_descriptor strategy does). Nothing is named in the file system: the memory is
freed when the last mapping closes, so nothing can leak."""
import mmap
import multiprocessing.context
import os
import weakref

import numpy as np

__all__ = ["is_shared", "shared_copy"]

# id(mmap) -> (weak reference to the mmap, its file descriptor), for the mappings made here; the
# descriptor is closed with its mapping.
_SEGMENTS = {}


def _register(mapping, fd):
    key = id(mapping)
    _SEGMENTS[key] = (weakref.ref(mapping), fd)
    weakref.finalize(mapping, _forget, key, fd)


def _forget(key, fd):
    _SEGMENTS.pop(key, None)
    os.close(fd)


def _map(fd, nbytes):
    mapping = mmap.mmap(fd, max(nbytes, 1))
    _register(mapping, fd)
    return mapping


def _segment(array):
    """(mmap, fd) holding ``array``'s memory where it is one of these segments, else None."""
    root = array
    while isinstance(root, np.ndarray) and root.base is not None:
        root = root.base
    entry = _SEGMENTS.get(id(root)) if isinstance(root, mmap.mmap) else None
    if entry is None or entry[0]() is not root:
        return None
    return root, entry[1]


def is_shared(array):
    return isinstance(array, np.ndarray) and _segment(array) is not None


def shared_copy(array):
    """A copy of ``array`` (same shape, dtype and values, row-major) in a new shared segment."""
    fd = os.memfd_create("ember-shared-tensor", os.MFD_CLOEXEC)
    try:
        os.ftruncate(fd, max(array.nbytes, 1))
        mapping = _map(fd, array.nbytes)
    except BaseException:
        os.close(fd)
        raise
    copy = np.ndarray(array.shape, array.dtype, buffer=mapping)
    copy[...] = array
    return copy


class SharedArray:
    """A shared array in a pickle: while a process is being spawned, its segment's descriptor
    travels to the child, which maps the same memory; any other pickle stores the values."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __reduce_ex__(self, protocol):
        array = self.array
        found = _segment(array)
        if found is None or multiprocessing.context.get_spawning_popen() is None:
            return array.__reduce_ex__(protocol)
        from multiprocessing.reduction import DupFd  # only while spawning a process
        mapping, fd = found
        address = np.frombuffer(mapping, np.uint8).__array_interface__["data"][0]
        offset = array.__array_interface__["data"][0] - address
        return (_attach, (DupFd(fd), len(mapping), array.dtype, array.shape,
                          array.strides, offset))


def _attach(dup, nbytes, dtype, shape, strides, offset):
    """The array of a segment received from the parent (see ``SharedArray``)."""
    mapping = _map(dup.detach(), nbytes)
    return np.ndarray(shape, dtype, buffer=mapping, offset=offset, strides=strides)
