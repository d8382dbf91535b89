"""``map_location`` as torch.load takes it, on a build that has only the CPU.

Every storage in a checkpoint is tagged with the device it was saved from ('cpu', 'cuda:0', ...).
``map_location`` renames those tags: a device or string sends every storage there, a dict renames
tags one by one, a callable gets each storage (on the CPU) with its tag and returns a storage or
None (None: the default for that tag). A storage that ends on anything but the CPU is an error,
with torch's advice to pass ``map_location='cpu'``.
"""
import re

from .._device import CPU, device as ember_device

_TAG = re.compile(r"([a-z_][a-z0-9_]*)(?::[0-9]+)?")
_DEVICES_ELSEWHERE = ("cuda", "mps", "xpu", "hpu", "mtia", "privateuseone", "meta")


class UnknownLocation(RuntimeError):
    """A location tag that names no device (torch: "don't know how to restore")."""

    def __init__(self, tag):
        super().__init__(f"don't know how to restore data location of a storage (tagged with "
                         f"{tag!r})")
        self.tag = tag


class Storage:
    """One loaded storage, what a ``map_location`` callable receives: its bytes on the CPU, as
    torch hands over an UntypedStorage (``len`` counts bytes); ``storage.cpu()`` is itself,
    ``storage.cuda()`` fails as on a CPU-only build."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array  # one-dimensional, of the tensors' dtype

    @property
    def device(self):
        return CPU

    @property
    def is_cuda(self):
        return False

    def cpu(self):
        return self

    def cuda(self, device=None, non_blocking=False):
        raise RuntimeError(_unavailable_message("cuda"))

    def nbytes(self):
        return self.array.nbytes

    def size(self):
        return self.array.nbytes

    def __len__(self):
        return self.array.nbytes

    def element_size(self):
        return 1

    def __repr__(self):
        return f"ember.io.Storage(nbytes={self.array.nbytes}, device='cpu')"


def restorer(map_location):
    """``restore(storage, tag) -> Storage`` for ``map_location`` (checked here, before any data
    is read): the storage, or RuntimeError where it would have to leave the CPU."""
    if map_location is None:
        return _default_restore
    if isinstance(map_location, dict):
        mapping = dict(map_location)
        return lambda storage, tag: _default_restore(storage, _tag(mapping.get(tag, tag)))
    if isinstance(map_location, (str, bytes, ember_device)) or _is_device_like(map_location):
        target = _tag(map_location)
        return lambda storage, tag: _default_restore(storage, target)
    if not callable(map_location):
        raise TypeError(f"map_location should be a str, a device, a dict or a callable "
                        f"(storage, location) -> storage, got {type(map_location).__name__}")

    def restore(storage, tag):
        result = map_location(storage, tag)
        if result is None:
            return _default_restore(storage, tag)
        if not isinstance(result, Storage):
            raise TypeError(f"map_location must return a storage or None, got "
                            f"{type(result).__name__}")
        return result

    return restore


def _is_device_like(value):
    """A torch.device from a real torch: a device type and str() of the form 'cuda:1'."""
    return isinstance(getattr(value, "type", None), str) and not callable(value)


def _tag(location):
    if isinstance(location, bytes):
        return location.decode("ascii", "replace")
    if isinstance(location, (str, ember_device)) or _is_device_like(location):
        return str(location)
    raise TypeError(f"map_location maps to {location!r}; expected a device string such as "
                    f"'cpu' or a device")


def _default_restore(storage, tag):
    match = _TAG.fullmatch(tag)
    if match is not None and match.group(1) == "cpu":
        return storage
    if match is not None and match.group(1) in _DEVICES_ELSEWHERE:
        raise RuntimeError(_unavailable_message(match.group(1)))
    raise UnknownLocation(tag)


def _unavailable_message(device_type):
    advice = ("please use ember.load with map_location=ember.device('cpu') to map your storages "
              "to the CPU.")
    if device_type == "cuda":
        return (f"Attempting to deserialize object on a CUDA device but "
                f"ember.cuda.is_available() is False. If you are running on a CPU-only machine, "
                f"{advice}")
    return (f"Attempting to deserialize object on a {device_type.upper()} device, which ember "
            f"does not have (it computes on the CPU only): {advice}")


def restore_array(restore, array, tag):
    """Pass one array through ``restore`` as a Storage; the data it ends with, same size."""
    result = restore(Storage(array), tag)
    if result.array.nbytes != array.nbytes:
        raise RuntimeError(f"map_location returned a storage of {result.array.nbytes} bytes "
                           f"for one of {array.nbytes} bytes")
    return result.array.view(array.dtype)
