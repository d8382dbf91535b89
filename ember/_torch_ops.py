"""``torch.ops``: the namespaces of the custom ops made with ``torch.library.custom_op``
(``torch.ops.mylib.numpy_sin``)."""
from .library import namespace, registered_namespaces


def __getattr__(name):
    if name not in registered_namespaces():
        raise AttributeError(f"torch.ops.{name} is not provided by ember (it has only the "
                             f"namespaces of custom ops made by torch.library.custom_op)")
    return namespace(name)
