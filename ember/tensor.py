"""Tensor: a NumPy array plus autograd state (requires_grad, grad, grad_fn, version counter).

Arithmetic and methods forward to the differentiable ops in ``ember.ops``; the ops decide what is
recorded, so this file only holds state, conversions and the in-place protocol.
"""
import builtins
import math
import warnings

import numpy as np

from . import _device, _dtype
from ._dtype import from_numpy_dtype, get_default_dtype, to_dtype
from .autograd.grad_mode import _grad_state


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


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
               "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


def _type_name(numpy_dtype):
    return "ember." + _TYPE_NAMES.get(np.dtype(numpy_dtype).name, "Tensor")


class Tensor:
    """An n-dimensional array that can record the operations that made it."""

    __slots__ = ("_data", "_requires_grad", "_grad", "grad_fn", "_output_nr", "_vc", "_hooks",
                 "_retains_grad", "_is_inference", "__weakref__")

    __array_priority__ = 1000  # NumPy defers `ndarray op Tensor` to our reflected operators

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
        if _grad_state.get()[1]:
            tensor._is_inference = True
        return tensor

    # ---- metadata ----------------------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_normalize_dim(dim, self._data.ndim, "size")]

    @property
    def dtype(self):
        return from_numpy_dtype(self._data.dtype)

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    def ndimension(self):
        return self._data.ndim

    @property
    def device(self):
        return _device.CPU

    @property
    def is_cuda(self):
        return False

    def numel(self):
        return self._data.size

    def nelement(self):
        return self._data.size

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
        return strides if dim is None else strides[_normalize_dim(dim, self._data.ndim, "stride")]

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
        if requires_grad and self._is_inference and not _grad_state.get()[1]:
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

    def retain_grad(self):
        """Keep .grad for this non-leaf tensor after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        self._retains_grad = True
        from .autograd.engine import _add_tensor_hook, _RetainGrad
        _add_tensor_hook(self, _RetainGrad(self))

    @property
    def retains_grad(self):
        return self._retains_grad

    def register_hook(self, hook):
        """hook(grad) -> Tensor or None, run when this tensor's gradient is computed."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from .autograd.engine import _add_tensor_hook
        return _add_tensor_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """hook(tensor) -> None, run after this leaf's ``.grad`` has been updated by backward."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        from .autograd.engine import _add_post_accumulate_hook
        return _add_post_accumulate_hook(self, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        from .autograd.engine import backward
        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph,
                 inputs=inputs)

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
        return _format_tensor(self)

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
        raise TypeError("ember tensors are not picklable: save them with ember.save (safetensors)")

    def type(self, dtype=None):
        if dtype is None:
            return _type_name(self._data.dtype)
        return self.to(dtype)

    def to(self, *args, **kwargs):
        """Convert dtype (``to(ember.float64)``, ``to(other)``); devices but cpu are refused."""
        target = kwargs.pop("dtype", None)
        copy = kwargs.pop("copy", False)
        device = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for arg in args:
            if isinstance(arg, Tensor):
                target = arg.dtype
            elif isinstance(arg, (str, _device.device)) and arg not in ("float32", "float64"):
                device = arg
            else:
                target = arg
        _device.check_cpu(device, "Tensor.to")
        if target is None or to_dtype(target).numpy == self._data.dtype:
            return self.clone() if copy else self
        return _ops.cast(self, to_dtype(target))

    def cpu(self):
        return self

    def cuda(self, device=None, non_blocking=False):
        raise RuntimeError("Tensor.cuda: ember runs on the CPU only (ember.cuda.is_available() is "
                           "False); keep tensors on 'cpu'")

    def float(self):
        return self.to(_dtype.float32)

    def double(self):
        return self.to(_dtype.float64)

    def half(self):
        return self.to(_dtype.float16)

    def long(self):
        return self.to(_dtype.int64)

    def int(self):
        return self.to(_dtype.int32)

    def bool(self):
        return self.to(_dtype.bool_)

    # ---- in-place protocol -------------------------------------------------------------------
    def _check_inplace(self):
        """Refuse in-place changes PyTorch refuses; return whether the change must be recorded."""
        grad_enabled, inference = _grad_state.get()
        if self._is_inference and not inference:
            raise RuntimeError("Inplace update to inference tensor outside InferenceMode is not "
                               "allowed.You can make a clone to get a normal tensor before doing "
                               "inplace update.")
        recording = grad_enabled and not inference
        if recording and self._requires_grad:
            if self.grad_fn is None:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
            if self.grad_fn._view_of is not None and self.grad_fn._views_leaf():
                raise RuntimeError("a view of a leaf Variable that requires grad is being used in "
                                   "an in-place operation.")
        return recording

    def _bump_version(self):
        if not self._is_inference:
            self._version_counter().value += 1

    def _write(self, array, operation):
        """Copy ``array`` into this tensor's storage (after shape and dtype checks)."""
        target = self._data
        if array.shape != target.shape:
            try:
                array = np.broadcast_to(array, target.shape)
            except ValueError:
                raise RuntimeError(f"{operation}: output with shape {list(target.shape)} doesn't "
                                   f"match the broadcast shape {list(array.shape)}") from None
        if array.dtype != target.dtype and array.dtype.kind == "f" and target.dtype.kind in "iub":
            raise RuntimeError(f"{operation}: result type {from_numpy_dtype(array.dtype)} can't "
                               f"be cast to the desired output type {self.dtype}")
        if not target.flags.writeable:
            raise RuntimeError(f"{operation}: unsupported operation: more than one element of the "
                               f"written-to tensor refers to a single memory location. Please "
                               f"clone() the tensor before performing the operation.")
        np.copyto(target, array, casting="unsafe")

    def _inplace(self, operation, compute, fast=None, operand=None):
        """Run ``compute()`` (an out-of-place op) and store its result in this tensor.

        ``fast(array)`` applies the change with a NumPy ``out=`` ufunc when nothing needs recording.
        """
        recording = self._check_inplace()
        operand_requires_grad = isinstance(operand, Tensor) and operand._requires_grad
        needs_graph = recording and (self._requires_grad or operand_requires_grad)
        if fast is not None and not needs_graph:
            if not self._data.flags.writeable:
                self._write(self._data, operation)  # raises the PyTorch error
            fast(self._data)
            self._bump_version()
            return self
        view_of = self.grad_fn._view_of if self.grad_fn is not None else None
        result = compute()
        node = result.grad_fn
        if node is not None and node.saved is not None:
            node._unshare_saved(self._data)  # backward needs this tensor as it was before
        self._write(result._data, operation)
        self._bump_version()
        if result.grad_fn is not None:
            self.grad_fn = result.grad_fn
            self._output_nr = result._output_nr
            self._requires_grad = True
            if node.saved is not None and self._data.dtype == result._data.dtype:
                node._rebind_saved_output(result._data, self)
            if view_of is not None:
                # This tensor is a view: its base's history must include the change (PyTorch
                # rebases the base onto a CopySlices node).
                result.grad_fn._view_of = view_of[:2] + (self._vc.value,)
                result.grad_fn._propagate_to_base(self)
        return self

    # ---- operators (see ember.ops for the ops themselves) ------------------------------------
    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __floordiv__(self, other):
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops.floor_divide(other, self)

    def __mod__(self, other):
        return _ops.remainder(self, other)

    def __rmod__(self, other):
        return _ops.remainder(other, self)

    def __pow__(self, exponent):
        return _ops.pow(self, exponent)

    def __rpow__(self, base):
        return _ops.pow(base, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __invert__(self):
        return _ops.logical_not(self) if self._data.dtype == np.bool_ else _ops.bitwise_not(self)

    def __and__(self, other):
        return _ops.bitwise_and(self, other)

    def __rand__(self, other):
        return _ops.bitwise_and(other, self)

    def __or__(self, other):
        return _ops.bitwise_or(self, other)

    def __ror__(self, other):
        return _ops.bitwise_or(other, self)

    def __xor__(self, other):
        return _ops.bitwise_xor(self, other)

    def __rxor__(self, other):
        return _ops.bitwise_xor(other, self)

    def __lshift__(self, other):
        return _ops.bitwise_left_shift(self, other)

    def __rshift__(self, other):
        return _ops.bitwise_right_shift(self, other)

    def __iand__(self, other):
        return self._inplace("bitwise_and_", lambda: _ops.bitwise_and(self, other))

    def __ior__(self, other):
        return self._inplace("bitwise_or_", lambda: _ops.bitwise_or(self, other))

    def __ixor__(self, other):
        return self._inplace("bitwise_xor_", lambda: _ops.bitwise_xor(self, other))

    def __eq__(self, other):
        return _ops.eq(self, other)

    def __ne__(self, other):
        return _ops.ne(self, other)

    def __lt__(self, other):
        return _ops.lt(self, other)

    def __le__(self, other):
        return _ops.le(self, other)

    def __gt__(self, other):
        return _ops.gt(self, other)

    def __ge__(self, other):
        return _ops.ge(self, other)

    def __getitem__(self, key):
        return _ops.getitem(self, key)

    def __setitem__(self, key, value):
        _ops.setitem(self, key, value)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    # ---- in-place methods --------------------------------------------------------------------
    def add_(self, other, alpha=1):
        operand = other if alpha == 1 else other * alpha
        return self._inplace("add_", lambda: _ops.add(self, operand),
                             _fast_binary(np.add, operand, self), operand)

    def sub_(self, other, alpha=1):
        operand = other if alpha == 1 else other * alpha
        return self._inplace("sub_", lambda: _ops.sub(self, operand),
                             _fast_binary(np.subtract, operand, self), operand)

    def mul_(self, other):
        return self._inplace("mul_", lambda: _ops.mul(self, other),
                             _fast_binary(np.multiply, other, self), other)

    def div_(self, other):
        return self._inplace("div_", lambda: _ops.div(self, other),
                             _fast_binary(np.true_divide, other, self), other)

    def pow_(self, exponent):
        return self._inplace("pow_", lambda: _ops.pow(self, exponent))

    def clamp_min_(self, min):
        return self._inplace("clamp_min_", lambda: _ops.clamp(self, min, None))

    def clamp_max_(self, max):
        return self._inplace("clamp_max_", lambda: _ops.clamp(self, None, max))

    def lerp_(self, end, weight):
        return self._inplace("lerp_", lambda: _ops.lerp(self, end, weight))

    def addcmul_(self, tensor1, tensor2, value=1):
        return self._inplace("addcmul_", lambda: _ops.addcmul(self, tensor1, tensor2, value=value))

    def addcdiv_(self, tensor1, tensor2, value=1):
        return self._inplace("addcdiv_", lambda: _ops.addcdiv(self, tensor1, tensor2, value=value))

    def scatter_(self, dim, index, src=None, value=None, reduce=None):
        return self._inplace("scatter_", lambda: _ops.scatter(self, dim, index, src, value,
                                                              reduce))

    def scatter_add_(self, dim, index, src):
        return self._inplace("scatter_add_", lambda: _ops.scatter_add(self, dim, index, src))

    def index_add_(self, dim, index, source, alpha=1):
        return self._inplace("index_add_", lambda: _ops.index_add(self, dim, index, source,
                                                                  alpha))

    def index_fill_(self, dim, index, value):
        return self._inplace("index_fill_", lambda: _ops.index_fill(self, dim, index, value))

    def _unary_inplace(name):
        def method(self):
            return self._inplace(name + "_", lambda: getattr(_ops, name)(self))
        method.__name__ = name + "_"
        method.__doc__ = f"In-place ``{name}``."
        return method

    neg_ = _unary_inplace("neg")
    exp_ = _unary_inplace("exp")
    sqrt_ = _unary_inplace("sqrt")
    relu_ = _unary_inplace("relu")
    sigmoid_ = _unary_inplace("sigmoid")
    tanh_ = _unary_inplace("tanh")
    abs_ = _unary_inplace("abs")
    square_ = _unary_inplace("square")
    log_ = _unary_inplace("log")
    log1p_ = _unary_inplace("log1p")
    log2_ = _unary_inplace("log2")
    log10_ = _unary_inplace("log10")
    expm1_ = _unary_inplace("expm1")
    exp2_ = _unary_inplace("exp2")
    rsqrt_ = _unary_inplace("rsqrt")
    reciprocal_ = _unary_inplace("reciprocal")
    sin_ = _unary_inplace("sin")
    cos_ = _unary_inplace("cos")
    tan_ = _unary_inplace("tan")
    erf_ = _unary_inplace("erf")
    sign_ = _unary_inplace("sign")
    floor_ = _unary_inplace("floor")
    ceil_ = _unary_inplace("ceil")
    trunc_ = _unary_inplace("trunc")
    frac_ = _unary_inplace("frac")
    absolute_ = _unary_inplace("abs")
    negative_ = _unary_inplace("neg")
    sgn_ = _unary_inplace("sgn")
    sinh_ = _unary_inplace("sinh")
    cosh_ = _unary_inplace("cosh")
    arcsin_ = asin_ = _unary_inplace("asin")
    arccos_ = acos_ = _unary_inplace("acos")
    arctan_ = atan_ = _unary_inplace("atan")
    arcsinh_ = asinh_ = _unary_inplace("asinh")
    arccosh_ = acosh_ = _unary_inplace("acosh")
    arctanh_ = atanh_ = _unary_inplace("atanh")
    deg2rad_ = _unary_inplace("deg2rad")
    erfc_ = _unary_inplace("erfc")
    erfinv_ = _unary_inplace("erfinv")
    rad2deg_ = _unary_inplace("rad2deg")
    del _unary_inplace

    def _binary_inplace(name):
        def method(self, other):
            return self._inplace(name + "_", lambda: getattr(_ops, name)(self, other), None, other)
        method.__name__ = name + "_"
        method.__doc__ = f"In-place ``{name}``."
        return method

    arctan2_ = atan2_ = _binary_inplace("atan2")
    hypot_ = _binary_inplace("hypot")
    xlogy_ = _binary_inplace("xlogy")
    floor_divide_ = _binary_inplace("floor_divide")
    eq_ = _binary_inplace("eq")
    ne_ = not_equal_ = _binary_inplace("ne")
    lt_ = less_ = _binary_inplace("lt")
    le_ = less_equal_ = _binary_inplace("le")
    gt_ = greater_ = _binary_inplace("gt")
    ge_ = greater_equal_ = _binary_inplace("ge")
    logical_and_ = _binary_inplace("logical_and")
    logical_or_ = _binary_inplace("logical_or")
    logical_xor_ = _binary_inplace("logical_xor")
    del _binary_inplace
    multiply_ = mul_  # PyTorch's aliases: the same method, with its no-graph fast path
    true_divide_ = div_

    def subtract_(self, other, alpha=1):
        return self.sub_(other, alpha=alpha)

    def divide_(self, other, rounding_mode=None):
        return self._inplace("divide_", lambda: _ops.div(self, other, rounding_mode), None, other)

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
        return self._inplace("scatter_reduce_", lambda: _ops.scatter_reduce(
            self, dim, index, src, reduce, include_self=include_self))

    def index_put_(self, indices, values, accumulate=False):
        return self._inplace("index_put_", lambda: _ops.index_put(self, indices, values,
                                                                  accumulate))

    def logical_not_(self):
        return self._inplace("logical_not_", lambda: _ops.logical_not(self))

    def logit_(self, eps=None):
        return self._inplace("logit_", lambda: _ops.logit(self, eps))

    def cumprod_(self, dim):
        return self._inplace("cumprod_", lambda: _ops.cumprod(self, dim))

    def swapaxes_(self, axis0, axis1):
        return self.transpose_(axis0, axis1)

    swapdims_ = swapaxes_

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

    def short(self):
        return self.to(_dtype.int16)

    def char(self):
        return self.to(_dtype.int8)

    def byte(self):
        return self.to(_dtype.uint8)

    def round_(self, decimals=0):
        return self._inplace("round_", lambda: _ops.round(self, decimals))

    def remainder_(self, other):
        return self._inplace("remainder_", lambda: _ops.remainder(self, other), None, other)

    def fmod_(self, other):
        return self._inplace("fmod_", lambda: _ops.fmod(self, other), None, other)

    def nan_to_num_(self, nan=0.0, posinf=None, neginf=None):
        return self._inplace("nan_to_num_", lambda: _ops.nan_to_num(self, nan, posinf, neginf))

    def tril_(self, diagonal=0):
        return self._inplace("tril_", lambda: _ops.tril(self, diagonal))

    def triu_(self, diagonal=0):
        return self._inplace("triu_", lambda: _ops.triu(self, diagonal))

    def cumsum_(self, dim):
        return self._inplace("cumsum_", lambda: _ops.cumsum(self, dim))

    def addmm_(self, mat1, mat2, *, beta=1, alpha=1):
        return self._inplace("addmm_", lambda: _ops.addmm(self, mat1, mat2, beta=beta,
                                                          alpha=alpha))

    def baddbmm_(self, batch1, batch2, *, beta=1, alpha=1):
        return self._inplace("baddbmm_", lambda: _ops.baddbmm(self, batch1, batch2, beta=beta,
                                                              alpha=alpha))

    def index_copy_(self, dim, index, source):
        return self._inplace("index_copy_", lambda: _ops.index_copy(self, dim, index, source))

    def masked_scatter_(self, mask, source):
        return self._inplace("masked_scatter_", lambda: _ops.masked_scatter(self, mask, source))

    def fill_diagonal_(self, fill_value, wrap=False):
        return self._inplace("fill_diagonal_", lambda: _ops.fill_diagonal(self, fill_value, wrap))

    def random_(self, from_=0, to=None, *, generator=None):
        """Whole numbers drawn uniformly from [from_, to - 1] (``random_(to)`` means [0, to))."""
        from ._random import numpy_generator
        if to is None and from_ != 0:
            from_, to = 0, from_
        if to is None:
            kind = self._data.dtype
            to = 2 ** (np.finfo(kind).nmant + 1) + 1 if kind.kind == "f" else (
                2 if kind == np.bool_ else np.iinfo(kind).max)
        if from_ >= to:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got "
                               f"from={from_} >= to={to}")
        values = numpy_generator(generator).integers(from_, to, self._data.shape)
        return self._init_fill(values, "random_")

    def exponential_(self, lambd=1.0, *, generator=None):
        from ._random import numpy_generator
        if lambd <= 0:
            raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
        values = numpy_generator(generator).exponential(1.0 / lambd, self._data.shape)
        return self._init_fill(values, "exponential_")

    def geometric_(self, p, *, generator=None):
        """Trials up to the first success (1, 2, ...), each succeeding with probability p."""
        from ._random import numpy_generator
        if not 0 < p < 1:
            raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
        values = numpy_generator(generator).geometric(p, self._data.shape)
        return self._init_fill(values, "geometric_")

    def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
        from ._random import numpy_generator
        if std <= 0:
            raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
        values = numpy_generator(generator).lognormal(mean, std, self._data.shape)
        return self._init_fill(values, "log_normal_")

    def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
        from ._random import numpy_generator
        if sigma <= 0:
            raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
        values = median + sigma * numpy_generator(generator).standard_cauchy(self._data.shape)
        return self._init_fill(values, "cauchy_")

    def apply_(self, callable):
        """Replace every element by ``callable(element)`` (a Python call per element, as in
        PyTorch; not recorded by autograd)."""
        if self._requires_grad:
            raise RuntimeError("apply_ is only implemented on CPU tensors that don't require "
                               "grad")
        flat = self._data.reshape(-1)
        values = np.array([callable(value) for value in flat.tolist()], dtype=self._data.dtype)
        return self._init_fill(values.reshape(self._data.shape), "apply_")

    def map_(self, other, callable):
        """Replace every element by ``callable(element, other's element)`` (broadcast other)."""
        if self._requires_grad:
            raise RuntimeError("map_ is only implemented on CPU tensors that don't require grad")
        paired = np.broadcast_to(other._data, self._data.shape).reshape(-1).tolist()
        values = [callable(a, b) for a, b in zip(self._data.reshape(-1).tolist(), paired)]
        return self._init_fill(np.array(values, dtype=self._data.dtype).reshape(
            self._data.shape), "map_")

    def _inplace_view(self, view):
        """Change this tensor's shape in place (``unsqueeze_``, ``t_``, ...): it becomes
        ``view`` of its former self, which its history then records."""
        recording = self._check_inplace()
        former = Tensor._wrap(self._data, self._requires_grad)
        if recording and self._requires_grad:
            former.grad_fn = self.grad_fn
            former._output_nr = self._output_nr
            former._vc = self._version_counter()
            former._is_inference = self._is_inference
            out = view(former)
            self.grad_fn = out.grad_fn
            self._output_nr = out._output_nr
        else:
            out = view(former)
        self._data = out._data
        return self

    def unsqueeze_(self, dim):
        return self._inplace_view(lambda tensor: _ops.unsqueeze(tensor, dim))

    def squeeze_(self, dim=None):
        return self._inplace_view(lambda tensor: _ops.squeeze(tensor, dim))

    def t_(self):
        return self._inplace_view(lambda tensor: _ops.t(tensor))

    def transpose_(self, dim0, dim1):
        return self._inplace_view(lambda tensor: _ops.transpose(tensor, dim0, dim1))

    def clamp_(self, min=None, max=None):
        return self._inplace("clamp_", lambda: _ops.clamp(self, min, max), None,
                             min if isinstance(min, Tensor) else max)

    clip_ = clamp_

    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        if isinstance(value, Tensor):
            if value._data.ndim != 0:
                raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                                   f"with {value._data.ndim} dimensions.")
        return self._inplace("fill_", lambda: _ops.fill_like(self, value),
                             lambda array: array.fill(value.item() if isinstance(value, Tensor)
                                                      else value))

    def copy_(self, source):
        """Copy ``source`` (broadcast, cast) into this tensor; differentiable w.r.t. source."""
        if not isinstance(source, Tensor):
            source = Tensor._wrap(np.asarray(source))
        return self._inplace("copy_", lambda: _ops.copy_into(self, source),
                             lambda array: self._write(source._data, "copy_"), source)

    def uniform_(self, a=0.0, b=1.0, generator=None):
        from ._random import numpy_generator
        values = numpy_generator(generator).uniform(a, b, self._data.shape)
        return self._init_fill(values, "uniform_")

    def normal_(self, mean=0.0, std=1.0, generator=None):
        from ._random import numpy_generator
        values = numpy_generator(generator).normal(mean, std, self._data.shape)
        return self._init_fill(values, "normal_")

    def bernoulli_(self, p=0.5, generator=None):
        from ._random import numpy_generator
        values = numpy_generator(generator).random(self._data.shape) < p
        return self._init_fill(values, "bernoulli_")

    def _init_fill(self, values, operation):
        self._check_inplace()
        self._write(np.asarray(values, dtype=self._data.dtype), operation)
        self._bump_version()
        return self


def _fast_binary(ufunc, operand, target):
    """An ``out=`` version of an in-place binary op when the operand is a plain number or a
    tensor whose dtype the target can hold; None when the general path is needed."""
    if isinstance(operand, Tensor):
        if operand._requires_grad:
            return None
        array = operand._data
    elif isinstance(operand, (int, float)) and not isinstance(operand, bool):
        array = operand
    else:
        return None
    target_kind = target._data.dtype.kind
    if ufunc is np.true_divide and target_kind != "f":
        return None
    if isinstance(array, np.ndarray):
        if array.dtype.kind == "f" and target_kind != "f":
            return None
        try:
            if np.broadcast_shapes(array.shape, target._data.shape) != target._data.shape:
                return None
        except ValueError:  # the general path raises PyTorch's error
            return None
    elif isinstance(array, float) and target_kind != "f":
        return None

    def apply(destination):
        ufunc(destination, array, out=destination, casting="unsafe")
    return apply


def _init(tensor, array):
    tensor._data = array
    tensor._requires_grad = False
    tensor._grad = None
    tensor.grad_fn = None
    tensor._output_nr = 0
    tensor._vc = None
    tensor._hooks = None
    tensor._retains_grad = False
    tensor._is_inference = bool(_grad_state.get()[1])


def _normalize_dim(dim, ndim, operation="dim"):
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-rank}, "
                         f"{rank - 1}], but got {dim})")
    return dim % rank


def _to_array(data, dtype=None):
    """Convert Python data, arrays or tensors to an ndarray with PyTorch's dtype inference."""
    if isinstance(data, Tensor):
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


# ---- printing, in PyTorch's format -------------------------------------------------------------
def _format_tensor(tensor):
    array = tensor._data
    prefix = "tensor("
    body = _format_array(array, len(prefix))
    suffixes = []
    default = get_default_dtype().numpy
    if array.dtype not in (default, np.int64, np.bool_) or \
            array.size == 0 and array.dtype != default:
        suffixes.append(f"dtype={from_numpy_dtype(array.dtype)!r}")
    if array.size == 0 and array.ndim != 1:
        suffixes.insert(0, f"size={tuple(array.shape)}")
    if tensor.grad_fn is not None:
        suffixes.append(f"grad_fn=<{tensor.grad_fn.name().rpartition('::')[2]}>")
    elif tensor._requires_grad:
        suffixes.append("requires_grad=True")
    return prefix + body + "".join(", " + suffix for suffix in suffixes) + ")"


_LINE_WIDTH = 80
_THRESHOLD = 1000
_EDGE_ITEMS = 3


def _format_array(array, indent):
    """PyTorch's layout: one formatter (width) for all printed values, a fixed number of
    elements per line, and ``...`` for the middle of long dimensions."""
    if array.size == 0:
        return "[]"
    summarize = array.size > _THRESHOLD
    formatter = _Formatter(_summary_values(array) if summarize else array.reshape(-1))
    return _format_nested(array, indent, summarize, formatter)


def _format_nested(array, indent, summarize, formatter):
    if array.ndim == 0:
        return formatter.format(array.item())
    if array.ndim == 1:
        element_length = formatter.width + 2
        per_line = builtins.max(1, (_LINE_WIDTH - indent) // element_length)
        if summarize and array.shape[0] > 2 * _EDGE_ITEMS:
            items = ([formatter.format(value) for value in array[:_EDGE_ITEMS].tolist()] + [" ..."]
                     + [formatter.format(value) for value in array[-_EDGE_ITEMS:].tolist()])
        else:
            items = [formatter.format(value) for value in array.tolist()]
        lines = [", ".join(items[start:start + per_line])
                 for start in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    if summarize and array.shape[0] > 2 * _EDGE_ITEMS:
        rows = ([_format_nested(array[row], indent + 1, summarize, formatter)
                 for row in range(_EDGE_ITEMS)] + ["..."]
                + [_format_nested(array[row], indent + 1, summarize, formatter)
                   for row in range(array.shape[0] - _EDGE_ITEMS, array.shape[0])])
    else:
        rows = [_format_nested(array[row], indent + 1, summarize, formatter)
                for row in range(array.shape[0])]
    return "[" + ("," + "\n" * (array.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _summary_values(array):
    """The values that a summarized print shows (the first and last items of every dim)."""
    if array.ndim == 0:
        return array.reshape(1)
    if array.shape[0] > 2 * _EDGE_ITEMS:
        pieces = [array[:_EDGE_ITEMS], array[-_EDGE_ITEMS:]]
    else:
        pieces = [array]
    if array.ndim == 1:
        return np.concatenate([piece.reshape(-1) for piece in pieces])
    return np.concatenate([_summary_values(row) for piece in pieces for row in piece])


class _Formatter:
    """PyTorch's float printing: integral values as ``1.``, else 4 decimals, scientific when the
    nonzero finite magnitudes span more than 1000x or leave [1e-4, 1e8]; all padded to one width."""

    def __init__(self, values):
        self.kind = values.dtype.kind
        self.mode = "integral"  # also when there is no nonzero finite value: zeros print as 0.
        self.width = 1
        if self.kind != "f":
            for value in values.tolist():
                self.width = builtins.max(self.width, len(str(value)))
            return
        finite = values[np.isfinite(values) & (values != 0)].astype(np.float64)
        if finite.size == 0:
            return
        magnitudes = np.abs(finite)
        largest = float(magnitudes.max())
        smallest = float(magnitudes.min())
        if bool(np.all(finite == np.ceil(finite))):
            if largest / smallest > 1000.0 or largest > 1.0e8:
                self.mode = "scientific"
                texts = [f"{value:.4e}" for value in finite.tolist()]
            else:
                self.mode = "integral"
                texts = [f"{value:.0f}." for value in finite.tolist()]
        elif largest / smallest > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4:
            self.mode = "scientific"
            texts = [f"{value:.4e}" for value in finite.tolist()]
        else:
            self.mode = "plain"
            texts = [f"{value:.4f}" for value in finite.tolist()]
        self.width = builtins.max(len(text) for text in texts)

    def format(self, value):
        if self.kind != "f":
            text = str(value)
        elif self.mode == "scientific":
            text = f"{value:.4e}"
        elif self.mode == "integral":
            text = f"{value:.0f}"
            if not (math.isinf(value) or math.isnan(value)):
                text += "."
        else:
            text = f"{value:.4f}"
        return " " * (self.width - len(text)) + text


from . import ops as _ops  # noqa: E402  (ops import Tensor from this module)


def _attach_methods():
    """Functional ops double as methods: ``x.sum(1)`` is ``ember.sum(x, 1)``."""
    for name in ("abs", "exp", "log", "log1p", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid",
                 "relu", "neg", "negative", "sign", "square", "clamp", "clip", "reciprocal",
                 "floor", "ceil", "round", "trunc", "isnan", "isinf", "isfinite",
                 "sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin",
                 "prod", "logsumexp", "softmax", "log_softmax", "all", "any", "cumsum",
                 "count_nonzero", "reshape", "view", "flatten", "unflatten", "squeeze",
                 "unsqueeze", "permute", "transpose", "swapaxes", "movedim", "t", "expand",
                 "expand_as", "repeat", "split", "chunk", "contiguous", "flip", "matmul", "mm",
                 "bmm", "mv", "dot", "outer", "masked_fill", "gather", "index_select",
                 "take_along_dim", "nonzero", "pow", "add", "sub", "mul", "div", "true_divide",
                 "floor_divide", "remainder", "maximum", "minimum", "eq", "ne", "lt", "le", "gt",
                 "ge", "greater", "greater_equal", "less", "less_equal", "not_equal",
                 "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_not",
                 "equal", "allclose", "isclose", "clone",
                 "exp2", "log2", "log10", "sinh", "cosh", "tan", "asin", "acos", "atan",
                 "arcsin", "arccos", "arctan", "atan2", "arctan2", "hypot", "logaddexp", "lerp",
                 "erf", "clamp_min", "clamp_max", "sort", "argsort", "topk", "median", "cumprod",
                 "nansum", "norm", "unique", "tril", "triu", "diag", "trace", "roll", "tile",
                 "broadcast_to", "narrow", "unbind", "repeat_interleave", "diff", "scatter",
                 "scatter_add", "index_add", "index_fill", "addcmul", "addcdiv", "addmm", "kron",
                 "tensordot", "absolute", "acosh", "aminmax", "arccosh", "arcsinh", "arctanh",
                 "argwhere", "asinh", "atanh", "baddbmm", "bincount", "cross", "cummax", "cummin",
                 "deg2rad", "diagonal", "dist", "expm1", "fliplr", "flipud", "fmod", "frac",
                 "inner", "isin", "kthvalue", "logit", "masked_select", "moveaxis", "msort",
                 "nan_to_num", "nanmean", "quantile", "rad2deg", "ravel", "rot90", "select",
                 "sgn", "signbit", "swapdims", "take", "tensor_split", "vdot", "unfold",
                 "index_copy", "masked_scatter", "inverse", "det", "xlogy", "logaddexp2",
                 "fmax", "fmin", "heaviside", "logcumsumexp", "nanmedian", "hsplit", "vsplit",
                 "dsplit", "sum_to_size", "erfc", "erfinv", "mode", "index_put",
                 "scatter_reduce", "isposinf", "isneginf", "isreal", "float_power", "copysign",
                 "diag_embed", "addmv", "addr", "addbmm", "matrix_power", "histc", "cov",
                 "corrcoef", "unique_consecutive", "bitwise_and", "bitwise_or", "bitwise_xor",
                 "bitwise_left_shift", "bitwise_right_shift", "gcd", "lcm", "ldexp", "frexp",
                 "slogdet", "logdet", "cholesky", "sinc", "ger"):
        setattr(Tensor, name, getattr(_ops, name))
    # The hottest operators are the functional ops themselves (one call fewer per op); addition
    # and multiplication commute exactly in IEEE arithmetic, so the reflected forms are the same.
    Tensor.__add__ = Tensor.__radd__ = _ops.add
    Tensor.__mul__ = Tensor.__rmul__ = _ops.mul
    Tensor.__sub__ = _ops.sub
    Tensor.__truediv__ = _ops.div
    Tensor.multiply = _ops.mul
    Tensor.subtract = _ops.sub
    Tensor.divide = _ops.div


_attach_methods()


def _where_method(self, condition, other):
    return _ops.where(condition, self, other)


def _masked_fill_(self, mask, value):
    return self._inplace("masked_fill_", lambda: _ops.masked_fill(self, mask, value),
                         lambda array: np.copyto(array, np.asarray(
                             value._data if isinstance(value, Tensor) else value,
                             dtype=array.dtype), where=np.broadcast_to(mask._data, array.shape)),
                         value)


def _view_as(self, other):
    return _ops.view(self, other._data.shape)


def _reshape_as(self, other):
    return _ops.reshape(self, other._data.shape)


def _type_as(self, other):
    return self.to(other.dtype)


def _new_factory(fill):
    def make(self, *size, dtype=None, device=None, requires_grad=False):
        shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        target = self._data.dtype if dtype is None else to_dtype(dtype).numpy
        array = np.empty(shape, target) if fill is None else np.full(shape, fill, target)
        out = Tensor._wrap(array)
        return out.requires_grad_(True) if requires_grad else out
    return make


def _new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
    target = self._data.dtype if dtype is None else to_dtype(dtype).numpy
    out = Tensor._wrap(np.full(tuple(size), fill_value, target))
    return out.requires_grad_(True) if requires_grad else out


def _new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    target = self._data.dtype if dtype is None else to_dtype(dtype).numpy
    out = Tensor._wrap(np.array(_to_array(data), dtype=target, copy=True))
    return out.requires_grad_(True) if requires_grad else out


Tensor.where = _where_method
Tensor.masked_fill_ = _masked_fill_
Tensor.view_as = _view_as
Tensor.reshape_as = _reshape_as
Tensor.type_as = _type_as
Tensor.new_zeros = _new_factory(0)
Tensor.new_ones = _new_factory(1)
Tensor.new_empty = _new_factory(None)
Tensor.new_full = _new_full
Tensor.new_tensor = _new_tensor
Tensor.T = property(lambda self: _ops.permute(self, tuple(reversed(range(self._data.ndim)))))
Tensor.mT = property(lambda self: _ops.transpose(self, -2, -1))
