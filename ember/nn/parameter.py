"""Parameter and Buffer: Tensors that a Module registers (as learnable, or as state) when assigned
as an attribute; UninitializedParameter/UninitializedBuffer for the lazy layers."""
import numpy as np

from .._dtype import get_default_dtype
from ..overrides import _disabled_torch_function_impl
from ..tensor import Tensor, _init


def _storage(kind, data):
    """The array a Parameter or Buffer shares: ``data``'s, or an empty one for None."""
    if data is None:
        return np.empty((0,), dtype=get_default_dtype().numpy)
    if isinstance(data, Tensor):
        return data._data
    raise TypeError(f"{kind}: expected an ember.Tensor or None as data, got "
                    f"{type(data).__name__}")


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and shares the storage of the tensor it wraps."""

    __slots__ = ()
    _deepcopy_keeps_attributes = False
    # results of ops on parameters are plain tensors, also for a program's subclasses (PyTorch)
    __torch_function__ = _disabled_torch_function_impl

    def __init__(self, data=None, requires_grad=True):
        _init(self, _storage("Parameter", data))
        if requires_grad:
            self._require_grad_on_creation()
        if data is not None and data._on_meta:
            self._on_meta = True

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class _BufferMeta(type):
    """``isinstance(t, Buffer)`` holds for the tensors Buffer() made (PyTorch's _BufferMeta)."""

    def __instancecheck__(cls, instance):
        if cls is Buffer:
            return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)
        return super().__instancecheck__(instance)


class Buffer(Tensor, metaclass=_BufferMeta):
    """Marks a tensor that a Module registers as a buffer when assigned as an attribute (in its
    state_dict unless ``persistent=False``). As in PyTorch, Buffer(data) is a plain Tensor (a
    detached view of ``data``, sharing its storage) that carries the mark."""

    def __new__(cls, data=None, *, persistent=True):
        if not isinstance(data, Tensor):
            data = Tensor._wrap(_storage("Buffer", data))  # None: empty; else its TypeError
        marked = data.detach().requires_grad_(data.requires_grad)
        marked.persistent = persistent
        marked._is_buffer = True
        return marked


_UNINITIALIZED_SHAPE = (
    "Can't access the shape of an uninitialized parameter or buffer. This error usually happens "
    "in `load_state_dict` when trying to load an uninitialized parameter into an initialized one. "
    "Call `forward` to initialize the parameters before accessing their attributes.")


class UninitializedParameter(Parameter):
    """A Parameter whose shape is not known yet (the lazy modules' weights): it holds no values
    until ``materialize(shape)`` gives it one, and from then on it is a plain Parameter."""

    __slots__ = ()
    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        array = np.empty((0,), dtype=(dtype or get_default_dtype()).numpy)
        super().__init__(Tensor._wrap(array), requires_grad)

    def materialize(self, shape, device=None, dtype=None):
        """Give the parameter ``shape`` (zeros; the module's reset_parameters fills them)."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        target = self._data.dtype if dtype is None else dtype.numpy
        self._data = np.zeros(shape, dtype=target)
        self.__class__ = self.cls_to_become

    def __repr__(self):
        return "<UninitializedParameter>"

    @property
    def shape(self):
        raise RuntimeError(_UNINITIALIZED_SHAPE)


class UninitializedBuffer(Tensor):
    """A buffer whose shape is not known yet (the lazy norm layers' running statistics)."""

    __slots__ = ()
    cls_to_become = Tensor

    def __init__(self, requires_grad=False, device=None, dtype=None):
        _init(self, np.empty((0,), dtype=(dtype or get_default_dtype()).numpy))

    materialize = UninitializedParameter.materialize

    def __repr__(self):
        return "<UninitializedBuffer>"

    shape = UninitializedParameter.shape
