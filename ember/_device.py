"""ember.device: where a tensor lives. ember computes on the CPU only; other device types are
accepted here (so scripts can name them) and refused by ``Tensor.to``/``Module.to``."""
import re
import threading

_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
                 "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                 "privateuseone")
_DEVICE_STRING = re.compile(r"([a-z]+)(?::(\d+))?$")


class device:
    """A device type and optional index: ``device('cpu')``, ``device('cuda:1')``,
    ``device('cuda', 1)``."""

    __slots__ = ("_type", "_index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            self._type, self._index = type._type, type._index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            raise RuntimeError("Cannot access accelerator device when none is available.")
        if not isinstance(type, str):
            raise TypeError(f"device() received an invalid combination of arguments - got "
                            f"({type.__class__.__name__}), expected (str type, int index) or "
                            f"(device)")
        match = _DEVICE_STRING.match(type)
        if match is None:
            raise RuntimeError(f"Invalid device string: '{type}'")
        name, text_index = match.groups()
        if name not in _DEVICE_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start "
                               f"of device string: {type}")
        if text_index is not None:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was "
                                   f"passed explicitly: {type}")
            index = int(text_index)
        if index is not None and (not isinstance(index, int) or index < 0):
            raise RuntimeError(f"Device index must not be negative, got {index}")
        self._type = name
        self._index = index

    @property
    def type(self):
        return self._type

    @property
    def index(self):
        return self._index

    def __str__(self):
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self):
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __eq__(self, other):
        # As in PyTorch, a device never equals a string (device('cpu') == 'cpu' is False):
        # scripts that compare so take PyTorch's branch.
        if not isinstance(other, device):
            return NotImplemented
        return self._type == other._type and self._index == other._index

    def __hash__(self):
        return hash((self._type, self._index))

    def __reduce__(self):
        return (device, (self._type, self._index))

    def __enter__(self):
        """``with torch.device('cpu'):`` makes it the factories' default for the block, as
        ``set_default_device`` does. ``with torch.device('meta'):`` builds a module's structure
        to be filled later (``to_empty`` then an init): ember makes its tensors on the CPU but
        leaves the default generator's stream as it was, since meta tensors draw nothing; the
        factories' tensors report the meta device (``in_meta_block``) until ``to_empty``.
        Other devices are refused as ``set_default_device`` refuses them."""
        if self._type == "meta":
            global meta_blocks_open
            _meta_blocks.saved.append(_meta_block_hooks[0]())
            meta_blocks_open += 1
            return self
        check_cpu(self, f"with device('{self}')")
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if self._type == "meta":
            global meta_blocks_open
            _meta_block_hooks[1](_meta_blocks.saved.pop())
            meta_blocks_open -= 1
        return None


CPU = device("cpu")
META = device("meta")
# ``with device('meta')`` blocks open in any thread: factories look further only when nonzero.
meta_blocks_open = 0


class _MetaBlocks(threading.local):
    """Per thread, the random state saved by each open ``with device('meta')`` block."""

    def __init__(self):
        self.saved = []


_meta_blocks = _MetaBlocks()
# (save, restore) of the calling thread's default generator; ember._random, which sits beside
# this module and imports it, installs the real pair.
_meta_block_hooks = [lambda: None, lambda state: None]


class CudaUnavailableError(RuntimeError, AssertionError):
    """Raised where CUDA is asked for. CPU-only PyTorch raises AssertionError there ("Torch not
    compiled with CUDA enabled"), which scripts catch; ember's errors were RuntimeErrors."""


def in_meta_block():
    """Whether the calling thread is inside ``with device('meta')``."""
    return meta_blocks_open > 0 and bool(_meta_blocks.saved)


def check_cpu(target, operation):
    """Refuse any device but the CPU, naming the operation (``Tensor.to``, ``Module.to``, ...);
    inside a meta block the meta device is accepted (its tensors are the CPU's)."""
    if target is None:
        return
    if not isinstance(target, device):
        target = device(target)
    if target.type != "cpu" and not (target.type == "meta" and in_meta_block()):
        error = CudaUnavailableError if target.type == "cuda" else RuntimeError
        raise error(f"{operation}: ember runs on the CPU only, got device '{target}' "
                    f"(ember.cuda.is_available() is False)")


def get_default_device():
    """The device factories use when none is given: the CPU, or meta inside a meta block."""
    return META if in_meta_block() else CPU


def set_default_device(device):
    """Set the default device of factories: None or the CPU (the only one ember has)."""
    if device is not None:
        check_cpu(device, "set_default_device")
