"""``torch.version`` and ``torch.__version__`` under ember: the PyTorch release whose semantics
ember follows, marked as ember's (``2.13.0+ember``), and no CUDA, ROCm or XPU toolkit."""
import re

__all__ = ["TorchVersion", "__version__", "cuda", "debug", "git_version", "hip", "rocm", "xpu"]

_RELEASE = re.compile(r"v?(\d+(?:\.\d+)*)")


def _release(value):
    """The release numbers of a version given as text, a tuple of numbers or a packaging
    Version; None when it is none of those."""
    if isinstance(value, str):
        match = _RELEASE.match(value.strip())
        return None if match is None else tuple(int(part) for part in match.group(1).split("."))
    release = getattr(value, "release", None)  # packaging.version.Version
    if release is not None:
        return tuple(release)
    if isinstance(value, (tuple, list)) and all(isinstance(part, int) for part in value):
        return tuple(value)
    return None


def _padded(numbers, length):
    return numbers + (0,) * (length - len(numbers))


class TorchVersion(str):
    """A version string that compares by release numbers with strings, tuples and packaging
    Versions (``torch.__version__ >= (2, 1)``, ``>= "2.2"``), as torch's does; text that is no
    version compares as a string."""

    __slots__ = ()

    def _compare(self, other, method):
        mine = _release(str(self))
        theirs = _release(other)
        if mine is None or theirs is None:
            return getattr(str, method)(self, other)
        length = max(len(mine), len(theirs))
        return getattr(_padded(mine, length), method)(_padded(theirs, length))

    def __eq__(self, other):
        return self._compare(other, "__eq__")

    def __ne__(self, other):
        return not self.__eq__(other)

    def __lt__(self, other):
        return self._compare(other, "__lt__")

    def __le__(self, other):
        return self._compare(other, "__le__")

    def __gt__(self, other):
        return self._compare(other, "__gt__")

    def __ge__(self, other):
        return self._compare(other, "__ge__")

    __hash__ = str.__hash__


TORCH_VERSION = TorchVersion("2.13.0+ember")
__version__ = TORCH_VERSION
debug = False
cuda = None
git_version = "ember"
hip = None
rocm = None
xpu = None
