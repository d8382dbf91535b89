"""Settings read and written as module attributes (``ember.backends.cudnn.benchmark = True``),
checked on write as PyTorch checks them."""
import contextlib
import sys


class BoolFlag:
    """A bool setting of a module; anything but a bool is refused with PyTorch's message, which
    names its setter (``set_benchmark_cudnn expects a bool, but got int``)."""

    def __init__(self, default, setter_name):
        self.default = default
        self.setter_name = setter_name

    def __set_name__(self, owner, name):
        self.storage = "_flag_" + name

    def __get__(self, module, owner=None):
        if module is None:
            return self
        return module.__dict__.get(self.storage, self.default)

    def __set__(self, module, value):
        if not isinstance(value, bool):
            raise RuntimeError(f"{self.setter_name} expects a bool, but got "
                               f"{type(value).__name__}")
        module.__dict__[self.storage] = value


class Precision:
    """An ``fp32_precision`` setting (``torch.backends.cudnn.conv.fp32_precision``): one of
    ``allowed``; any other attribute is an AttributeError, as in PyTorch."""

    def __init__(self, default, allowed=("ieee", "tf32", "none")):
        object.__setattr__(self, "_value", default)
        object.__setattr__(self, "_allowed", allowed)

    def __getattr__(self, name):
        raise AttributeError("Unknown attribute " + name)

    def __setattr__(self, name, value):
        if name != "fp32_precision":
            raise AttributeError("Unknown attribute " + name)
        if value not in self._allowed:
            raise RuntimeError(f"Unknown precision: {value}")
        object.__setattr__(self, "_value", value)

    @property
    def fp32_precision(self):
        return self._value


def with_flags(module_name, flag_class):
    """Give the module ``module_name`` the flag descriptors of ``flag_class`` (a ModuleType
    subclass): PyTorch's ``torch.backends`` modules check what is assigned to them."""
    sys.modules[module_name].__class__ = flag_class


@contextlib.contextmanager
def set_temporarily(module, values):
    """Set the module's flags to ``values`` (None leaves one alone), restore them on exit."""
    saved = {name: getattr(module, name) for name, value in values.items() if value is not None}
    try:
        for name, value in values.items():
            if value is not None:
                setattr(module, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)

