"""``torch.ops``: the namespaces of the custom ops made with ``torch.library.custom_op``
(``torch.ops.mylib.numpy_sin``)."""
from .library import namespace


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(f"module 'torch.ops' has no attribute '{name}'")
    return namespace(name)
