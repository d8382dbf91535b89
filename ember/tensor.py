"""Tensor: a NumPy array plus autograd state (requires_grad, grad, grad_fn, version counter).

This file holds the state, conversions that need no op, and the version counter that in-place
changes bump. The methods and operators that run ops are bound from one table in
``ember/_tensor_methods.py``; the ops decide what is recorded.
"""
import warnings

import numpy as np

from . import _device
from ._layout import strided
from ._dtype import from_numpy_dtype, get_default_dtype, to_dtype
from ._tensor_str import format_tensor
from ._grad_state import _grad_state


class _VersionCounter:
    """Shared by a tensor, its views and ``detach()``: bumped by every in-place change."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class Size(tuple):
    """The shape of a tensor: a tuple that prints like ``ember.Size([2, 3])``."""

    def __repr__(self):
        return f"ember.Size({list(self)})"

    def numel(self):
        count = 1
        for size in self:
            count *= size
        return count


class Tensor:
    """An n-dimensional array that can record the operations that made it."""

    __slots__ = ("_data", "_requires_grad", "_grad", "grad_fn", "_output_nr", "_vc", "_hooks",
                 "_retains_grad", "_is_inference", "__weakref__")

    __array_priority__ = 1000  # NumPy defers `ndarray op Tensor` to our reflected operators
    is_sparse = False  # a class attribute: ember.sparse's subclass says True

    def __init__(self, data=None, requires_grad=False):
        """``Tensor(data)`` converts to the default float dtype, like ``torch.Tensor(data)``."""
        array = _to_array(() if data is None else data, get_default_dtype())
        _init(self, array)
        if requires_grad:
            self.requires_grad = True

    @staticmethod
    def _wrap(array, requires_grad=False):
        """Fast constructor around an existing array (no copy, no checks)."""
        tensor = object.__new__(Tensor)
        tensor._data = array
        tensor._requires_grad = requires_grad
        tensor._grad = None
        tensor.grad_fn = None
        tensor._output_nr = 0
        tensor._vc = None
        tensor._hooks = None
        tensor._retains_grad = False
        tensor._is_inference = False
        return tensor

    @staticmethod
    def _result(array):
        """A new result that records no history (comparisons, argmax, ...): like every tensor
        made inside inference_mode, it is an inference tensor there."""
        tensor = Tensor._wrap(array)
        if _grad_state.get().inference:
            tensor._is_inference = True
        return tensor

    # ---- metadata ----------------------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_normalize_dim(dim, self._data.ndim)]

    @property
    def dtype(self):
        return from_numpy_dtype(self._data.dtype)

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim  # PyTorch's alias

    @property
    def device(self):
        return _device.CPU

    @property
    def is_cuda(self):
        return False

    @property
    def layout(self):
        return strided

    def numel(self):
        return self._data.size

    nelement = numel  # PyTorch's alias

    def element_size(self):
        return self._data.itemsize

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return self._data.nbytes

    def stride(self, dim=None):
        strides = tuple(step // self._data.itemsize for step in self._data.strides)
        return strides if dim is None else strides[_normalize_dim(dim, self._data.ndim)]

    def is_contiguous(self):
        return self._data.flags.c_contiguous

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def data_ptr(self):
        return self._data.__array_interface__["data"][0]

    def is_inference(self):
        return self._is_inference

    # ---- autograd state ----------------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True):
        """Set requires_grad on a leaf; errors as PyTorch for non-leaves and non-float dtypes."""
        requires_grad = bool(requires_grad)
        if self.grad_fn is not None:
            if requires_grad:
                return self
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if requires_grad and self._is_inference and not _grad_state.get().inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside "
                               "InferenceMode is not allowed.")
        self._requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains_grad and self._grad is None:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its "
                ".grad attribute won't be populated during autograd.backward(). If you indeed "
                "want the .grad field to be populated for a non-leaf Tensor, use .retain_grad() "
                "on the non-leaf Tensor.", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise RuntimeError(f"assigned grad has data of a different size: expected "
                                   f"{list(self._data.shape)}, got {list(value._data.shape)}")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(f"assigned grad has data of a different type: expected "
                                   f"{self.dtype}, got {value.dtype}")
        self._grad = value

    @property
    def _version(self):
        if self._is_inference:
            raise RuntimeError("Inference tensors do not track version counter.")
        return 0 if self._vc is None else self._vc.value

    def _version_counter(self):
        counter = self._vc
        if counter is None:
            counter = self._vc = _VersionCounter()
        return counter

    @property
    def retains_grad(self):
        return self._retains_grad

    @property
    def data(self):
        """The same storage without history: in-place changes through it are not tracked."""
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._data = value._data

    def detach(self):
        """A new leaf sharing storage and version counter, with requires_grad=False."""
        out = Tensor._wrap(self._data)
        out._vc = self._version_counter() if not self._is_inference else None
        out._is_inference = self._is_inference
        return out

    def detach_(self):
        """Make this tensor a leaf that does not require grad, in place."""
        self.grad_fn = None
        self._output_nr = 0
        self._requires_grad = False
        return self

    # ---- conversions -------------------------------------------------------------------------
    def numpy(self, force=False):
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype) != self._data.dtype:
            return self._data.astype(dtype)
        if copy:
            return self._data.copy()
        return self._data

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               f"to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        return self._data.tolist()

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[index] for index in range(self._data.shape[0]))

    def __bool__(self):
        if self._data.size != 1:
            amount = "no values" if self._data.size == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of Tensor with {amount} is ambiguous")
        return bool(self._data.reshape(()))

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self.item())

    def __hash__(self):
        return id(self)

    def __contains__(self, element):
        return bool(np.any(self._data == np.asarray(element._data if isinstance(element, Tensor)
                                                      else element)))

    def __repr__(self):
        return format_tensor(self)

    def __format__(self, spec):
        if self._data.ndim == 0 and spec:
            return format(self.item(), spec)
        return repr(self)

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support "
                               "the deepcopy protocol at the moment.")
        out = type(self).__new__(type(self))
        _init(out, self._data.copy())
        out._requires_grad = self._requires_grad
        if self._grad is not None:
            out._grad = Tensor._wrap(self._grad._data.copy())
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol):
        """Pickled by value, as torch pickles tensors: the array (with its dtype) and
        requires_grad; the graph and ``.grad`` are not kept, subclasses (Parameter) stay theirs.
        For multiprocessing and copy; ember's loaders never unpickle."""
        if type(self) is Tensor:
            return (Tensor._wrap, (self._data, self._requires_grad))
        fresh = Tensor._wrap(self._data, self._requires_grad)
        slots = {name: getattr(fresh, name) for name in Tensor.__slots__ if name != "__weakref__"}
        return (object.__new__, (type(self),), (getattr(self, "__dict__", None) or None, slots))

    def cpu(self):
        return self

    def cuda(self, device=None, non_blocking=False):
        raise RuntimeError("Tensor.cuda: ember runs on the CPU only (ember.cuda.is_available() is "
                           "False); keep tensors on 'cpu'")

    def _bump_version(self):
        """Record an in-place change (views and detach() share the counter)."""
        if not self._is_inference:
            self._version_counter().value += 1

    # ---- CPU-only answers to device and memory queries ---------------------------------------
    @property
    def is_cpu(self):
        return True

    def get_device(self):
        return -1

    def is_complex(self):
        return False

    def is_signed(self):
        return self._data.dtype.kind in "if"

    def is_nonzero(self):
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous"
                               if self._data.size else
                               "Boolean value of Tensor with no values is ambiguous")
        return bool(self._data.reshape(-1)[0])

    def is_same_size(self, other):
        return self._data.shape == other._data.shape

    def share_memory_(self):
        return self

    def pin_memory(self):
        return self

    def is_pinned(self):
        return False

def _init(tensor, array):
    tensor._data = array
    tensor._requires_grad = False
    tensor._grad = None
    tensor.grad_fn = None
    tensor._output_nr = 0
    tensor._vc = None
    tensor._hooks = None
    tensor._retains_grad = False
    tensor._is_inference = bool(_grad_state.get().inference)


def _normalize_dim(dim, ndim):
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-rank}, "
                         f"{rank - 1}], but got {dim})")
    return dim % rank


def _to_array(data, dtype=None):
    """Convert Python data, arrays or tensors to an ndarray with PyTorch's dtype inference."""
    if isinstance(data, Tensor):
        if data.is_sparse:
            raise NotImplementedError("tensor(): ember does not copy a sparse tensor into a new "
                                      "one; use .clone() (or .to_dense() for a dense copy)")
        array = data._data
    elif isinstance(data, np.ndarray):
        array = data
    elif isinstance(data, np.generic):
        array = np.asarray(data)
    else:
        array = _from_python(data)
    if dtype is not None:
        numpy_dtype = to_dtype(dtype).numpy
        if array.dtype != numpy_dtype:
            array = array.astype(numpy_dtype)
    else:
        from_numpy_dtype(array.dtype)  # raises for unsupported types
    return array


def _from_python(data):
    """Infer float (default dtype) / int64 / bool from nested Python sequences."""
    if isinstance(data, (list, tuple)):
        flat = _flatten_python(data)
        if any(isinstance(item, Tensor) for item in flat):
            data = _replace_tensors(data)
    array = np.array(data)
    kind = array.dtype.kind
    if kind == "f":
        return array.astype(get_default_dtype().numpy, copy=False)
    if kind in "iu":
        return array.astype(np.int64, copy=False)
    if kind == "b":
        return array
    if kind == "O" or kind == "U" or kind == "S":
        raise TypeError(f"Could not infer dtype of {type(data).__name__}"
                        if kind != "O" else "tensor(): expected a sequence of numbers with a "
                                            "regular shape")
    if kind == "c":
        raise TypeError("ember does not support complex tensors")
    return array


def _flatten_python(data):
    stack = [data]
    flat = []
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        else:
            flat.append(item)
    return flat


def _replace_tensors(data):
    if isinstance(data, (list, tuple)):
        return [_replace_tensors(item) for item in data]
    if isinstance(data, Tensor):
        return data._data.tolist() if data._data.ndim else data.item()
    return data
