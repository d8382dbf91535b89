"""Tensor layouts (PyTorch's ``torch.layout``): ``strided`` for NumPy-backed tensors and
``sparse_coo``, whose tensors hold a storage object in place of the NumPy array."""

__all__ = ["layout", "sparse_coo", "strided"]


class layout:
    """How a tensor's elements are stored; compared by identity, printed as ``ember.<name>``."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"ember.{self.name}"

    def __reduce__(self):
        return self.name


strided = layout("strided")
sparse_coo = layout("sparse_coo")


class LayoutStorage:
    """Base of the storages that stand in a tensor's ``_data`` for layouts other than strided.
    They carry the metadata that Tensor reads (shape, dtype, ndim, size, itemsize, nbytes) and
    name the Tensor subclass that holds them; NumPy refuses them, so a dense op given one fails
    (``ember.autograd.function.Op`` then names the op)."""

    __slots__ = ()
    tensor_type = None
    layout = None

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise TypeError(f"numpy.{ufunc.__name__} got a {self.layout.name} tensor's storage: this "
                        f"operation does not support {self.layout.name} tensors; convert with "
                        f".to_dense() first")

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"can't convert {self.layout.name} layout tensor to numpy. Use "
                        f"Tensor.to_dense() first.")

    def __array_function__(self, function, types, args, kwargs):
        raise TypeError(f"numpy.{function.__name__} got a {self.layout.name} tensor's storage: "
                        f"this operation does not support {self.layout.name} tensors; convert "
                        f"with .to_dense() first")
