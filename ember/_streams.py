"""``torch.Stream`` and ``torch.Event`` on a CPU-only build: the CPU's one stream, which is always
done, and events that the CPU backend cannot record (PyTorch 2.13 answers the same)."""
from . import _dtype
from ._device import device as _device

__all__ = ["Event", "Stream"]

# c10::DeviceType codes of the device types a stream or event can name without an accelerator.
_DEVICE_TYPE_CODES = {"cpu": 0, "meta": 14}
_NO_EVENTS = "cpu backend doesn't support events."


def _device_of(owner, device):
    """The device a stream or event is made on: the CPU unless ``device`` names another type
    that this build has (only 'meta'); an index needs an accelerator."""
    if device is None:
        return _device("cpu")
    if isinstance(device, int) and not isinstance(device, bool):
        raise RuntimeError("Cannot access accelerator device when none is available.")
    parsed = _device(device)
    if parsed.type not in _DEVICE_TYPE_CODES:
        raise RuntimeError(f"PyTorch is not linked with support for {parsed.type} devices")
    return _device(parsed.type)


class Stream:
    """An in-order queue of work on a device; the CPU's runs everything at once, so it is
    always complete and synchronising does nothing."""

    def __init__(self, device=None, *, priority=0):
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise TypeError(f"Stream(): argument 'priority' must be int, not "
                            f"{type(priority).__name__}")
        self.device = _device_of("Stream", device)
        self.stream_id = 0
        self.device_index = -1
        self.device_type = _DEVICE_TYPE_CODES[self.device.type]

    def query(self):
        return True

    def synchronize(self):
        return None

    def wait_event(self, event):
        return None

    def wait_stream(self, stream):
        raise RuntimeError(_NO_EVENTS)

    def record_event(self, event=None):
        raise RuntimeError(_NO_EVENTS)

    @property
    def native_handle(self):
        raise RuntimeError("Backend doesn't support getting stream native handle.")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return None

    def __eq__(self, other):
        return isinstance(other, Stream) and (other.device, other.stream_id) == \
            (self.device, self.stream_id)

    def __hash__(self):
        return hash((self.device.type, self.stream_id))

    def __repr__(self):
        return (f"{_dtype.repr_prefix()}.Stream device_type={self.device.type}, "
                f"device_index={self.device_index}, stream_id={self.stream_id}")


class Event:
    """A marker in a stream; the CPU backend cannot record one, so an event stays unrecorded
    (complete when queried)."""

    def __init__(self, device=None, *, enable_timing=False, blocking=False, interprocess=False):
        for name, value in (("enable_timing", enable_timing), ("blocking", blocking),
                            ("interprocess", interprocess)):
            if not isinstance(value, bool):
                raise TypeError(f"Event(): argument '{name}' must be bool, not "
                                f"{type(value).__name__}")
        self.device = _device_of("Event", device)
        self.event_id = 0
        self.device_index = -1
        self.device_type = _DEVICE_TYPE_CODES[self.device.type]
        self.event_flag = int(enable_timing)

    def query(self):
        return True

    def record(self, stream=None):
        raise RuntimeError(_NO_EVENTS)

    def wait(self, stream=None):
        return None

    def synchronize(self):
        return None

    def elapsed_time(self, end_event):
        if not (self.event_flag and end_event.event_flag):
            raise ValueError("Both events must be created with argument 'enable_timing=True'.")
        raise ValueError("Both events must be recorded before calculating elapsed time.")

    def ipc_handle(self):
        raise NotImplementedError("torch.Event ipc is not supported yet, please open an issue if "
                                  "you need this!")

    def __repr__(self):
        return (f"{_dtype.repr_prefix()}.Event device_type={self.device.type}, "
                f"device_index={self.device_index}, event_flag={self.event_flag}, "
                f"event_id={self.event_id}")
