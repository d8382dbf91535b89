"""Tensor: a NumPy array plus autograd state (requires_grad, grad, grad_fn, version counter).

This file holds the state, conversions that need no op, and the version counter that in-place
changes bump. The methods and operators that run ops are bound from one table in
``ember/_tensor_methods.py``; the ops decide what is recorded.
"""
import copy
import operator
import os
import sys
import warnings
import weakref

import numpy as np

from . import _device, _random, _shared_memory
from . import _dtype
from ._dtype import (cpp_type_name, from_numpy_dtype, get_default_dtype, is_differentiable,
                     is_floating, repr_prefix, scalar_type_name, to_dtype)
from ._layout import check_memory_format, contiguous_format, has_memory_format, strided
from ._layout import dim_order as _layout_dim_order
from ._tensor_str import format_tensor
from ._grad_state import _grad_state


class _VersionCounter:
    """Shared by a tensor, its views and ``detach()``: bumped by every in-place change."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class ViewCreation:
    """How a view of a tensor that requires grad was made without being recorded (in no_grad or
    inference_mode): PyTorch's non-default CreationMeta. Such a view requires grad, is a leaf,
    and passes no gradient on (unless ``requires_grad_()`` makes it accumulate its own); changing
    it in place with grad mode on, or using it after its storage changed, is refused."""

    __slots__ = ("mode", "counter", "version", "accumulates")

    def __init__(self, mode, counter):
        self.mode = mode  # "no_grad" or "inference"
        self.counter = counter
        self.version = counter.value
        self.accumulates = False

    def leaf_edge(self):
        """Whether a recorded op may send gradient to the view (as to a leaf); PyTorch's error
        when the storage changed in place since the view was made."""
        if self.counter.value != self.version:
            raise RuntimeError(self.error(None, "its base or another view of its base has been"))
        return self.accumulates

    def error(self, view, modified):
        """PyTorch's message for changing the view (``view``, None for the view itself) or its
        base in place, with ``modified`` saying which."""
        node = None if view is None else view.grad_fn
        if node is None:
            prefix = "A view was created in"
        else:
            prefix = (f"Output {view._output_nr} of {node.name().removesuffix('Backward0')} is "
                      f"a view of a view which was created in")
        if self.mode == "inference":
            return (f"{prefix} inference mode and {modified} modified inplace in normal mode. "
                    f"{_CLARIFY.format(block='inference_mode')}")
        return (f"{prefix} no_grad mode and {modified} modified inplace with grad mode enabled. "
                f"{_CLARIFY.format(block='no_grad')}")


_CLARIFY = ("Given that this use case is ambiguous and error-prone, it is forbidden. You can "
            "clarify your code by moving both the view and the inplace either both inside the "
            "{block} block (if you don't want the inplace to be tracked) or both outside (if you "
            "want the inplace to be tracked).")


def _alias(array):
    """A new array object over the same memory: an op that saves it for backward tells it apart
    from the original (``x * x.detach()`` must not differentiate through the second factor)."""
    return array.view() if type(array) is np.ndarray else array


def mark_unrecorded_view(view, counter, inference):
    """``view`` was made, unrecorded, of a tensor that requires grad: like PyTorch's, it requires
    grad itself (a leaf that passes no gradient on) when its dtype can."""
    if is_differentiable(view._data.dtype):
        view._requires_grad = True
        view._view_creation = ViewCreation("inference" if inference else "no_grad", counter)


class Size(tuple):
    """The shape of a tensor: a tuple that prints like ``ember.Size([2, 3])``; slices, sums
    with tuples and repetitions are Sizes too, as PyTorch's (``x.shape[1:]`` prints as one)."""

    def __new__(cls, sizes=()):
        items = tuple(sizes)
        for item in items:
            if type(item) is not int:
                return tuple.__new__(cls, _size_items(items))
        return tuple.__new__(cls, items)

    def __repr__(self):
        return f"{repr_prefix()}.Size({list(self)})"

    def __getitem__(self, index):
        item = tuple.__getitem__(self, index)
        return _size(item) if isinstance(index, slice) else item

    def __add__(self, other):
        if not isinstance(other, tuple):
            raise TypeError(f"can only concatenate tuple (not {type(other).__name__}) to "
                            f"{repr_prefix()}.Size")
        return _size(tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return _size(tuple.__add__(other, self))

    def __mul__(self, count):
        return _size(tuple.__mul__(self, count))

    __rmul__ = __mul__

    def numel(self):
        count = 1
        for size in self:
            count *= size
        return count


def _size(shape):
    """A Size of a tuple of ints known valid (a NumPy shape), without Size()'s checks."""
    return tuple.__new__(Size, shape)


def _size_items(items):
    """Size()'s items as PyTorch takes them: ints, NumPy integers (kept), bools and
    one-element integer tensors (as ints); anything else is its TypeError."""
    converted = []
    for index, item in enumerate(items):
        if isinstance(item, (int, np.integer)):
            converted.append(int(item) if isinstance(item, bool) else item)
            continue
        if isinstance(item, Tensor) and item._data.size == 1 and item._data.dtype.kind in "iub":
            converted.append(int(item._data.reshape(-1)[0]))
            continue
        kind = type(item)
        name = kind.__name__
        if kind.__module__ != "builtins" and not kind.__flags__ & _HEAP_TYPE:
            name = f"{kind.__module__}.{name}"  # a C type's tp_name carries its module
        raise TypeError(f"{repr_prefix()}.Size() takes an iterable of 'int' (item {index} is "
                        f"'{name}')")
    return converted


_HEAP_TYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class defined in Python


# PyTorch's words for an integer or bool tensor asked to require grad, by the way it is asked
# (requires_grad_() has its own, in the method)
_SETTER_DTYPE_ERROR = "only Tensors of floating point and complex dtype can require gradients"
_CREATION_DTYPE_ERROR = "Only Tensors of floating point and complex dtype can require gradients"


_warned_once = set()


_PACKAGE_DIRECTORY = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_at_caller(message, category=UserWarning):
    """Warn at the first frame outside ember, as PyTorch's warnings from C++ point at the Python
    line that called in, however many ember frames a path goes through."""
    frame = sys._getframe(1)
    level = 2  # warnings.warn's count: 1 is this function, 2 its caller
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIRECTORY):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)


def warn_once(message, stacklevel=2):
    """A UserWarning shown once a process, as PyTorch's TORCH_WARN_ONCE (its deprecations)."""
    if message not in _warned_once:
        _warned_once.add(message)
        warnings.warn(message, UserWarning, stacklevel=stacklevel + 1)


# PyTorch's warning, once a process, when float() or complex() reads a tensor that requires
# grad while grad mode is on (item() and int() do not warn; LBFGS's float(closure()) under
# no_grad does not either)
_SCALAR_CONVERSION = ("Converting a tensor with requires_grad=True to a scalar may lead to "
                      "unexpected behavior.\nConsider using tensor.detach() first.")


class Tensor:
    """An n-dimensional array that can record the operations that made it."""

    # __dict__: programs hang their own attributes on tensors and parameters (``p.org``, a flag
    # for weight decay), as PyTorch allows; it is made on the first such assignment.
    __slots__ = ("_data", "_requires_grad", "_grad", "grad_fn", "_output_nr", "_vc", "_hooks",
                 "_retains_grad", "_is_inference", "__weakref__", "__dict__")
    # deepcopy carries those attributes (PyTorch's Parameter copy leaves them behind)
    _deepcopy_keeps_attributes = True

    __array_priority__ = 1000  # NumPy defers `ndarray op Tensor` to our reflected operators
    # A ViewCreation on views made unrecorded of a tensor that requires grad (set in __dict__).
    _view_creation = None
    # True on ember's own classes, False on a program's subclasses: set on each class when it
    # is made (the drop-in import later renames ember's classes' __module__ to torch's)
    _ember_own = True
    is_sparse = False  # a class attribute: ember.sparse's subclass says True
    # True (in __dict__) on a tensor made by a factory in a ``with device('meta')`` block: it
    # reports the meta device, as PyTorch's would, until Module.to_empty.
    _on_meta = False

    def __new__(cls, *args, **kwargs):
        """PyTorch's legacy constructor: ``Tensor(*sizes)`` (zeros here, where PyTorch leaves
        the memory uninitialised), ``Tensor(data)`` (the default dtype), ``Tensor(tensor)`` (an
        alias of it); only ``device=`` is accepted as a keyword. Subclasses (Parameter) build
        themselves in ``__init__``."""
        if cls is not Tensor:
            instance = object.__new__(cls)
            if args and _builds_in_new(cls):
                # a program's subclass (``super().__new__(cls, elem)``): built here, as
                # PyTorch's constructor builds it, whatever its own __init__ then does
                _init(instance, legacy_new(None, args, kwargs)._data)
            return instance
        return legacy_new(None, args, kwargs)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._ember_own = cls.__module__.split(".")[0] == "ember"
        if not cls._ember_own and _program_subclass_hook is not None:
            _program_subclass_hook(cls)

    def __init__(self, *args, **kwargs):
        if not hasattr(self, "_data"):  # a subclass that does not build itself
            _init(self, legacy_new(None, args, kwargs)._data)

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
        return _size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return _size(self._data.shape)
        if not self._data.ndim:
            _no_dimensions(dim)
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
        return _device.META if self._on_meta else _device.CPU

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
        if not self._data.size and not any(strides):
            strides = _empty_strides(self._data.shape)
        if dim is None:
            return strides
        if not self._data.ndim:
            _no_dimensions(dim)
        return strides[_normalize_dim(dim, self._data.ndim)]

    def is_contiguous(self, memory_format=contiguous_format):
        if memory_format is contiguous_format:
            return self._data.flags.c_contiguous
        return has_memory_format(self._data, check_memory_format("is_contiguous", memory_format))

    def is_floating_point(self):
        return is_floating(self._data.dtype)

    def data_ptr(self):
        return self._data.__array_interface__["data"][0]

    const_data_ptr = data_ptr

    def dim_order(self, *, ambiguity_check=False):
        """The dims from outermost to innermost in memory, as PyTorch orders them; see
        ``_layout.dim_order`` for ``ambiguity_check``."""
        return _layout_dim_order(self._data, ambiguity_check)

    def is_inference(self):
        return self._is_inference

    # ---- autograd state ----------------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value, _dtype_error=_SETTER_DTYPE_ERROR)

    def _require_grad_on_creation(self):
        """``requires_grad=True`` given to a factory or a Parameter: PyTorch's words there."""
        return self.requires_grad_(True, _dtype_error=_CREATION_DTYPE_ERROR)

    def requires_grad_(self, requires_grad=True, *, _dtype_error=None):
        """Set requires_grad on a leaf; errors as PyTorch for non-leaves and non-float dtypes
        (whose words depend on the way in: this method, the attribute, or a factory)."""
        if type(requires_grad) is not bool:
            raise TypeError(f"requires_grad_(): argument 'requires_grad' (position 1) must be "
                            f"bool, not {named_type(requires_grad)}")
        if self.grad_fn is not None:
            if requires_grad:
                return self
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        creation = self._view_creation
        if creation is not None:
            # PyTorch sets the view's own flag: it still requires grad through its base, and
            # with the flag it accumulates a gradient of its own.
            creation.accumulates = requires_grad
            return self
        if requires_grad and not is_differentiable(self._data.dtype):
            raise RuntimeError(_dtype_error or "only Tensors of floating point dtype can require "
                                               "gradients")
        if requires_grad and self._is_inference and not _grad_state.get().inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside "
                               "InferenceMode is not allowed.")
        self._requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def volatile(self):
        """Always False: PyTorch 0.3's flag, replaced by no_grad (reading it warns, as there)."""
        warnings.warn("volatile was removed (Variable.volatile is always False)", UserWarning,
                      stacklevel=2)
        return False

    @volatile.setter
    def volatile(self, value):
        warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` "
                      "instead.", UserWarning, stacklevel=2)

    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains_grad and self._grad is None:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its "
                ".grad attribute won't be populated during autograd.backward(). If you indeed "
                "want the .grad field to be populated for a non-leaf Tensor, use .retain_grad() "
                "on the non-leaf Tensor. If you access the non-leaf Tensor by mistake, make sure "
                "you access the leaf Tensor instead. See github.com/pytorch/pytorch/pull/30531 "
                "for more information.", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise RuntimeError(f"attempting to assign a gradient of size "
                                   f"'{list(value._data.shape)}' to a tensor of size "
                                   f"'{list(self._data.shape)}'. Please ensure that the gradient "
                                   f"and the tensor are the same size")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype "
                    f"'{cpp_type_name(value._data.dtype)}' to a tensor with grad_dtype "
                    f"'{scalar_type_name(self._data.dtype)}'. The gradient must match the "
                    f"tensor's grad_dtype (defaults to the tensor's dtype). You can set the "
                    f"tensor's grad_dtype attribute with a specific dtype, or None to allow any "
                    f"dtype. Set grad_dtype with caution. Diverging the dtypes of a tensor and "
                    f"its gradient may break downstream systems that assume they match.")
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
        return Tensor._wrap(_alias(self._data))

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got "
                            f"{type(value).__name__}")
        self._data = value._data

    def detach(self):
        """A new leaf sharing storage and version counter, with requires_grad=False."""
        out = Tensor._wrap(_alias(self._data))
        out._vc = self._version_counter() if not self._is_inference else None
        out._is_inference = self._is_inference
        if self._on_meta:
            out._on_meta = True
        return out

    def detach_(self):
        """Make this tensor a leaf that does not require grad, in place."""
        if self._view_creation is not None or \
                self.grad_fn is not None and self.grad_fn._view_of is not None:
            raise RuntimeError(
                "Can't detach views in-place. Use detach() instead. If you are using "
                "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set "
                "as True, gradients are views of DDP buckets, and hence detach_() cannot be "
                "called on these gradients. To fix this error, please refer to the "
                "Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution.")
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
        if self._requires_grad:
            self.numpy()  # raises PyTorch's error: NumPy takes the data through numpy()
        if dtype is not None and np.dtype(dtype) != self._data.dtype:
            return self._data.astype(dtype)
        if copy:
            return self._data.copy()
        return self._data

    def __array_wrap__(self, array, context=None, return_scalar=False):
        """A NumPy ufunc applied to a tensor (``np.sqrt(loss)``) gives a tensor, as in PyTorch,
        which also turns a bool result into uint8."""
        if array.dtype == np.bool_:
            array = array.astype(np.uint8)
        return Tensor._result(np.asarray(array))

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

    def _python_scalar(self):
        """The one element for float()/int(): PyTorch's ValueError for any other count (item()
        raises RuntimeError)."""
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.item()

    def __float__(self):
        if (self._requires_grad and _SCALAR_CONVERSION not in _warned_once
                and _grad_state.get().grad_enabled):
            warn_once(_SCALAR_CONVERSION)
        return float(self._python_scalar())

    def __complex__(self):
        if (self._requires_grad and _SCALAR_CONVERSION not in _warned_once
                and _grad_state.get().grad_enabled):
            warn_once(_SCALAR_CONVERSION)
        return complex(self._python_scalar())

    def __int__(self):
        return int(self._python_scalar())

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
        # PyTorch: a plain 0-dim tensor formats as its number (f"{loss}" prints 0.6931...);
        # anything else formats as its repr, and refuses a format spec.
        if self._data.ndim == 0 and type(self) is Tensor:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string passed to {type(self).__name__}."
                            f"__format__")
        return repr(self)

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support "
                               "the deepcopy protocol at the moment.  If you were attempting to "
                               "deepcopy a module, this may be because of a "
                               "torch.nn.utils.weight_norm usage, see "
                               "https://github.com/pytorch/pytorch/pull/103001")
        out = type(self).__new__(type(self))
        _init(out, self._data.copy())
        out._requires_grad = self._requires_grad
        if self._grad is not None:
            out._grad = Tensor._wrap(self._grad._data.copy())
        memo[id(self)] = out
        if self.__dict__ and self._deepcopy_keeps_attributes:
            out.__dict__.update(copy.deepcopy(_user_attributes(self), memo))
        return out

    def __reduce_ex__(self, protocol):
        """Pickled by value, as torch pickles tensors: the array (with its dtype) and
        requires_grad; the graph and ``.grad`` are not kept, subclasses (Parameter) stay theirs.
        For multiprocessing and copy; ember's loaders never unpickle."""
        data = self._data
        if type(data) is np.ndarray and _shared_memory.is_shared(data):
            data = _shared_memory.SharedArray(data)  # the same memory in a spawned process
        if type(self) is Tensor:
            return (Tensor._wrap, (data, self._requires_grad),
                    _user_attributes(self) or None)
        fresh = Tensor._wrap(self._data, self._requires_grad)
        slots = {name: getattr(fresh, name) for name in _STATE}
        slots["_data"] = data
        return (object.__new__, (type(self),), (_user_attributes(self) or None, slots))

    def cpu(self):
        return self

    def cuda(self, device=None, non_blocking=False):
        raise _device.CudaUnavailableError("Tensor.cuda: ember runs on the CPU only "
                                           "(ember.cuda.is_available() is False); keep tensors "
                                           "on 'cpu'")

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
        return self._data.dtype.kind == "c"

    def is_signed(self):
        return self._data.dtype.kind in "if" or is_floating(self._data.dtype)

    def is_nonzero(self):
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous"
                               if self._data.size else
                               "Boolean value of Tensor with no values is ambiguous")
        return bool(self._data.reshape(-1)[0])

    def is_same_size(self, other):
        return self._data.shape == other._data.shape

    def share_memory_(self):
        """Move the values into shared memory (in place; a no-op when already there): processes
        forked afterwards, and processes spawned with this tensor among their arguments, then
        read and write the same memory, as in PyTorch's Hogwild training."""
        data = self._data
        if type(data) is np.ndarray and not _shared_memory.is_shared(data):
            self._data = _shared_memory.shared_copy(data)
        return self

    def pin_memory(self):
        return self

    def is_pinned(self):
        return False

    def is_shared(self):
        """Whether the values are in shared memory (see ``share_memory_``)."""
        return type(self._data) is np.ndarray and _shared_memory.is_shared(self._data)

    def is_distributed(self):
        return False

    def is_set_to(self, tensor):
        """Whether both tensors view the same memory with the same sizes and strides."""
        mine, theirs = self._data, tensor._data
        if not (isinstance(mine, np.ndarray) and isinstance(theirs, np.ndarray)):
            return mine is theirs  # sparse storages
        return (mine.__array_interface__["data"][0] == theirs.__array_interface__["data"][0]
                and mine.shape == theirs.shape and mine.strides == theirs.strides
                and mine.dtype == theirs.dtype)

    @property
    def output_nr(self):
        """Which output of its grad_fn this tensor is (0 for leaves)."""
        return self._output_nr

    # Backends and layouts a CPU tensor is not on (libraries branch on these properties).
    is_mps = is_quantized = is_nested = is_mkldnn = is_sparse_csr = property(lambda self: False)

    @property
    def is_meta(self):
        return self._on_meta
    is_xla = is_xpu = is_ipu = is_vulkan = is_maia = is_mtia = property(lambda self: False)


def legacy_new(dtype, args, kwargs, name="new"):
    """``torch.Tensor(...)``, ``torch.FloatTensor(...)`` and ``x.new(...)``: sizes (zeros), data
    (converted to ``dtype``, the default dtype when None) or a tensor (an alias: it must already
    have ``dtype``, unless that is None)."""
    unexpected = sorted(set(kwargs) - {"device"})
    if unexpected:
        raise TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"({_described(args, kwargs)}), but expected one of:\n"
                        f" * (*, torch.device device = None)\n * (torch.Storage storage)\n"
                        f" * (Tensor other)\n * (tuple of ints size, *, torch.device device = "
                        f"None)\n * (object data, *, torch.device device = None)\n")
    device = kwargs.get("device")
    if device is not None and _device.device(device).type != "cpu":
        raise RuntimeError(f"legacy constructor expects device type: cpu but device type: "
                           f"{_device.device(device).type} was passed")
    target = get_default_dtype() if dtype is None else dtype
    if not args:
        return Tensor._result(np.zeros((0,), dtype=target.numpy))
    first = args[0]
    if len(args) == 1 and isinstance(first, Tensor):
        if dtype is not None and first._data.dtype != dtype.numpy:
            raise TypeError(f"expected {_options(dtype)} (got {_options(first.dtype)})")
        return first.view_as(first)
    if len(args) == 1 and not isinstance(first, Size) and integer_size(first) is None:
        if isinstance(first, (str, bytes)):
            raise TypeError(f"{name}(): invalid data type '{type(first).__name__}'")
        if not _is_sequence(first):
            raise TypeError(f"{name}(): data must be a sequence (got {type(first).__name__})")
        if type(first) is np.ndarray:
            check_numpy_strides(first)
        return Tensor._result(_to_array(first, target))
    sizes = tuple(first) if len(args) == 1 and isinstance(first, Size) else args
    shape = size_entries(name, sizes)
    if any(size < 0 for size in shape):
        negative = next(size for size in shape if size < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {negative}: "
                           f"{shape}")
    return Tensor._result(np.zeros(tuple(shape), dtype=target.numpy))


def check_numpy_strides(array):
    """PyTorch refuses NumPy arrays with a negative stride (``a[::-1]``) in from_numpy, tensor
    and as_tensor alike."""
    if any(stride < 0 for stride in array.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors "
                         "with negative strides are not currently supported. (You can probably "
                         "work around this by making a copy of your array  with array.copy().) ")


def named_type(value):
    """A value's type as PyTorch's argument errors name it (``float``, ``numpy.ndarray``)."""
    if isinstance(value, Tensor):
        return "Tensor"
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def integer_size(value):
    """``value`` as an int where PyTorch takes one (int, NumPy int, one-element integer tensor;
    never a bool), else None."""
    if type(value) is int:
        return value
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, Tensor) and value._data.size == 1 and value._data.dtype.kind in "iu":
        return int(value._data.reshape(()).item())
    return None


def size_entries(name, sizes):
    """``sizes`` as a list of ints, or PyTorch's TypeError naming ``name`` and the bad entry."""
    shape = []
    for position, value in enumerate(sizes, start=1):
        entry = integer_size(value)
        if entry is None:
            raise TypeError(f"{name}(): argument 'size' failed to unpack the object at pos "
                            f"{position} with error \"type must be tuple of ints,but got "
                            f"{named_type(value)}\"")
        shape.append(entry)
    return shape


def _described(args, kwargs):
    """How PyTorch's argument errors list what they got: ``list, requires_grad=bool``."""
    return ", ".join([type(arg).__name__ for arg in args] +
                     [f"{key}={type(value).__name__}" for key, value in kwargs.items()])


def _options(dtype):
    """The TensorOptions text of PyTorch's legacy-constructor dtype error."""
    return (f"TensorOptions(dtype={dtype._cpp_type}, device=cpu, layout=Strided, "
            f"requires_grad=false (default), pinned_memory=false (default), "
            f"memory_format=(nullopt))")


def _user_attributes(tensor):
    """The attributes a program hung on ``tensor`` (its ``__dict__`` less ember's view state)."""
    attributes = tensor.__dict__
    if "_view_creation" in attributes:
        attributes = {key: value for key, value in attributes.items()
                      if key != "_view_creation"}
    return attributes


def _empty_strides(shape):
    """PyTorch's strides of a new empty tensor: row-major, each size counted as at least 1
    (NumPy gives such an array zero strides)."""
    strides, step = [], 1
    for length in reversed(shape):
        strides.append(step)
        step *= max(length, 1)
    return tuple(reversed(strides))


_STATE = tuple(name for name in Tensor.__slots__ if name not in ("__weakref__", "__dict__"))


# Called with each Tensor subclass a program defines (ember.overrides sets it).
_program_subclass_hook = None


def set_program_subclass_hook(hook):
    """Have ``hook(cls)`` called for each Tensor subclass a program defines from now on."""
    global _program_subclass_hook
    _program_subclass_hook = hook


def _builds_in_new(cls):
    """Whether ``Tensor.__new__`` builds instances of ``cls`` from its arguments: a program's
    subclass of Tensor itself (ember's own, Parameter and the like, build in ``__init__``)."""
    for base in cls.__mro__:
        if base.__dict__.get("_ember_own"):
            return base is Tensor
    return False


def _init(tensor, array):
    """Give ``tensor`` (a subclass's instance, or a copy's) the state of a new result around
    ``array``: ``Tensor._wrap`` is the one list of that state, kept inline there for speed."""
    fresh = Tensor._result(array)
    for name in _STATE:
        setattr(tensor, name, getattr(fresh, name))


def _no_dimensions(dim):
    """size(dim) and stride(dim) of a 0-d tensor: PyTorch's IndexError (after its int check)."""
    index = operator.index(dim)
    raise IndexError(f"Dimension specified as {index} but tensor has no dimensions")


def _normalize_dim(dim, ndim):
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-rank}, "
                         f"{rank - 1}], but got {dim})")
    return dim % rank


def _to_array(data, dtype=None):
    """Convert Python data, arrays or tensors to an ndarray with PyTorch's dtype inference
    (``torch.tensor``'s): floats are the default dtype, ints int64, NumPy values keep theirs."""
    if isinstance(data, Tensor):
        if data.is_sparse:
            raise NotImplementedError("tensor(): ember does not copy a sparse tensor into a new "
                                      "one; use .clone() (or .to_dense() for a dense copy)")
        array = data._data
    elif isinstance(data, np.ndarray):
        array = data
        from_numpy_dtype(array.dtype)  # raises PyTorch's TypeError for unsupported types
    elif isinstance(data, np.generic):
        array = np.asarray(data)
        from_numpy_dtype(array.dtype)
    else:
        return _from_python(data, None if dtype is None else to_dtype(dtype))
    if dtype is not None:
        numpy_dtype = to_dtype(dtype).numpy
        if array.dtype != numpy_dtype:
            array = array.astype(numpy_dtype)
    else:
        from_numpy_dtype(array.dtype)  # raises for unsupported types
    return array


# Containers that torch.tensor reads as a dimension (tensors inside them are read too, but only
# where a dimension is expected; where a number is expected they must hold one element).
_SEQUENCES = (list, tuple, range, bytearray, np.ndarray)
_PYTHON_NUMBERS = (bool, int, float)


def _is_sequence(item):
    """Whether torch.tensor reads ``item`` as a dimension: what Python's sequence protocol
    accepts (a deque, array.array, memoryview, UserList or any class with ``__len__`` and
    ``__getitem__``, as well as lists and tuples), but not a mapping, a string or a tensor."""
    if isinstance(item, _SEQUENCES):
        return True
    if isinstance(item, (str, bytes, dict, Tensor, np.generic)):
        return False
    kind = type(item)
    return hasattr(kind, "__getitem__") and hasattr(kind, "__len__")


def _from_python(data, dtype=None):
    """An ndarray from Python numbers in nested sequences, as torch.tensor builds one: the dtype
    inferred from every element (or ``dtype``, an ember dtype, converting each element), the
    shape from the first elements, and PyTorch's exception types and messages for the rest."""
    if isinstance(data, (str, bytes)):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    if not _is_sequence(data):
        target = _infer_dtype(data) if dtype is None else dtype
        return _store([data], target).reshape(())
    array = _regular_numbers(data, dtype)
    if array is not None:
        return array
    shape = _first_sizes(data)
    target = _infer_dtype(data) if dtype is None else dtype
    leaves = []
    _collect(data, shape, leaves)
    if not leaves:
        return np.zeros(shape, dtype=target.numpy)
    if any(isinstance(leaf, np.ndarray) for leaf in leaves):  # tensors where a dimension is
        return np.concatenate([_store(leaf if isinstance(leaf, np.ndarray) else [leaf], target)
                               for leaf in leaves]).reshape(shape)
    return _store(leaves, target).reshape(shape)


def _regular_numbers(data, dtype):
    """The fast path: nested lists and tuples of plain bools, ints and floats of a regular
    shape, converted by NumPy in one call; None when anything else is in there (the general
    path then applies PyTorch's rules and messages)."""
    level = [data]
    found = set()
    while level:
        kinds = set()
        for sequence in level:
            kinds.update(map(type, sequence))
        if kinds and kinds <= {list, tuple}:
            level = [item for sequence in level for item in sequence]
            continue
        found = kinds
        break
    if not found or not found <= set(_PYTHON_NUMBERS) or dtype is _dtype.uint64:
        return None
    source = np.float64 if float in found else np.int64 if int in found else np.bool_
    try:
        array = np.array(data, dtype=source)
    except (ValueError, OverflowError):  # ragged, or an int beyond int64: the general path
        return None
    if dtype is None:
        dtype = get_default_dtype() if float in found else (
            _dtype.int64 if int in found else _dtype.bool_)
    return _cast_checked(array, dtype)


def _cast_checked(array, target):
    """``array`` (bool, int64 or float64) as ``target``, refusing what PyTorch refuses: a value
    outside an integer type's range (floats are truncated; unsigned types take negative ints
    down to -max, wrapped modulo 2**bits)."""
    if array.dtype == target.numpy:  # ints as int64 (a label batch): nothing to check
        return array
    if target.numpy.kind in "iu" and array.dtype.kind in "if" and array.size:
        limits = np.iinfo(target.numpy)
        if array.dtype.kind == "f":
            inside = (array >= limits.min) & (array <= limits.max)
        elif limits.min == 0:
            inside = (array >= -int(limits.max)) & (array <= limits.max)
        else:
            inside = (array >= limits.min) & (array <= limits.max)
        if not inside.all():
            raise RuntimeError(f"value cannot be converted to type {target.name} without "
                               f"overflow")
        if array.dtype.kind == "f":
            array = array.astype(np.int64)
    with np.errstate(over="ignore"):  # a float beyond float32's range is inf, as in PyTorch
        return array.astype(target.numpy, copy=False)


def _first_sizes(data):
    """The shape that the first element of each level gives (PyTorch's compute_sizes, which
    takes a 0-d array met there for a sequence and fails on its length)."""
    shape = []
    item = data
    while _is_sequence(item):
        if isinstance(item, np.ndarray) and item.ndim == 0:
            raise TypeError("len() of unsized object")
        if len(shape) == 32:
            raise ValueError("too many dimensions: the data is nested more than 32 deep")
        shape.append(len(item))
        if len(item) == 0:
            break
        item = item[0]
        if isinstance(item, (str, np.str_)):
            raise ValueError(f"too many dimensions '{type(item).__name__}'")
    return tuple(shape)


_LIST_OF_ARRAYS = ("Creating a tensor from a list of numpy.ndarrays is extremely slow. Please "
                   "consider converting the list to a single numpy.ndarray with numpy.array() "
                   "before converting to a tensor.")


def _collect(data, shape, leaves):
    """Depth-first through the sequences, checking each length against ``shape``: the numbers
    in order, and the values of a tensor that stands where a dimension is expected."""
    stack = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, np.ndarray) and _LIST_OF_ARRAYS not in _warned_once:
            _warned_once.add(_LIST_OF_ARRAYS)  # PyTorch's, once, for an array at any depth
            warn_at_caller(_LIST_OF_ARRAYS)
        if depth == len(shape):
            leaves.append(item[()] if isinstance(item, np.ndarray) else item)
            continue
        if isinstance(item, Tensor):
            if item._data.shape != shape[depth:]:
                raise ValueError(f"expected sequence of length {shape[depth]} at dim {depth} "
                                 f"(got {item._data.shape[0] if item._data.ndim else 0})")
            leaves.append(item._data.reshape(-1))
            continue
        if not _is_sequence(item):
            raise TypeError("not a sequence")
        if len(item) != shape[depth]:
            raise ValueError(f"expected sequence of length {shape[depth]} at dim {depth} (got "
                             f"{len(item)})")
        stack.extend((element, depth + 1) for element in reversed(list(item)))


def _infer_dtype(data):
    """torch.tensor's dtype of ``data``: the promotion of every element's (bool, int64 for
    ints, the default dtype for floats, a NumPy value's or tensor's own)."""
    result = None
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            found = from_numpy_dtype(item._data.dtype)
        elif isinstance(item, np.ndarray):
            found = from_numpy_dtype(item.dtype)
        elif isinstance(item, (list, tuple, range, bytearray)):
            stack.extend(item)
            continue
        elif isinstance(item, (str, bytes, np.str_)):
            raise TypeError(f"new(): invalid data type '{type(item).__name__}'")
        elif isinstance(item, np.generic):
            found = from_numpy_dtype(item.dtype)
        elif isinstance(item, bool):
            found = _dtype.bool_
        elif isinstance(item, int):
            found = _dtype.int64
        elif isinstance(item, float):
            found = get_default_dtype()
        elif isinstance(item, complex):
            found = _dtype.default_complex()
        elif _is_sequence(item):
            stack.extend(item)
            continue
        else:
            raise RuntimeError(f"Could not infer dtype of {type(item).__name__}")
        result = found if result is None else _dtype.promote_types(result, found)
    return get_default_dtype() if result is None else result


def _store(values, target):
    """Python or NumPy numbers (or one-element tensors) converted to ``target`` as PyTorch
    stores them; an ndarray (a tensor's values) is cast as it is."""
    if isinstance(values, np.ndarray):
        return values.astype(target.numpy)
    if target is _dtype.uint64:  # ints up to 2**64 - 1, beyond int64 (NumPy's default)
        return np.array([_number(value, target) for value in values], dtype=np.uint64)
    return _cast_checked(np.array([_number(value, target) for value in values]), target)


def _number(value, target):
    """One element as the Python number that ``target`` stores, or PyTorch's error."""
    if isinstance(value, Tensor):
        if value._data.size != 1:
            if target.numpy.kind in "iub":
                raise TypeError("only integer tensors of a single element can be converted to "
                                "an index")
            raise ValueError("only one element tensors can be converted to Python scalars")
        if target.numpy.kind in "iu" and value._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        value = value._data.reshape(()).item()
    elif isinstance(value, np.generic):
        value = value.item()
    if target is _dtype.uint64:
        return _unsigned_64(value)
    if target.numpy.kind in "iu":
        if not isinstance(value, (int, float)):
            raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an "
                            f"integer")
    elif target.numpy.kind == "c":
        if not isinstance(value, (int, float, complex)):
            raise TypeError(f"must be real number, not {type(value).__name__}")
    elif not isinstance(value, (int, float)):
        raise TypeError(f"must be real number, not {type(value).__name__}")
    if isinstance(value, int) and not -2 ** 63 <= value < 2 ** 63:
        if target.numpy.kind in "iub":
            raise ValueError("Overflow when unpacking long long")
        return float(value)
    return value


def _unsigned_64(value):
    """A Python int as uint64 reads it (PyTorch unpacks it as an unsigned long long)."""
    if not isinstance(value, int):
        raise TypeError("an integer is required")
    if value < 0:
        raise OverflowError("can't convert negative int to unsigned")
    if value >= 2 ** 64:
        raise OverflowError("int too big to convert")
    return value


_random._state_tensor = Tensor._wrap


def swap_tensors(t1, t2):
    """Swap everything two tensors hold, their type and attributes included, so each Python
    object now is the other tensor (``module._apply`` with swapping does this)."""
    for name, tensor in (("t1", t1), ("t2", t2)):
        if not isinstance(tensor, Tensor):
            raise AttributeError(f"'{type(tensor).__name__}' object has no attribute "
                                 f"'_use_count'")
        if weakref.getweakrefcount(tensor):
            raise RuntimeError(f"Cannot swap {name} because it has weakref associated with it")
    first_type, second_type = type(t1), type(t2)
    first_dict, second_dict = getattr(t1, "__dict__", {}), getattr(t2, "__dict__", {})
    states = [[getattr(tensor, name) for name in _STATE] for tensor in (t1, t2)]
    t1.__class__, t2.__class__ = second_type, first_type
    for tensor, state, attributes in ((t1, states[1], second_dict), (t2, states[0], first_dict)):
        for name, value in zip(_STATE, state):
            object.__setattr__(tensor, name, value)
        tensor.__dict__ = dict(attributes)
