"""Tensor's methods and operators: one table, from method name to the function that implements it,
applied to ``Tensor`` in one loop (``ember/__init__.py`` imports this module right after the ops).

Most methods are the functional op of the same name (``x.sum(1)`` is ``ember.sum(x, 1)``); the
rest are defined here: in-place variants (through ``ember.autograd.views.apply_inplace``), dtype
conversions, random fills, ``new_*`` factories and the autograd entry points.
"""
import functools
import operator
import warnings

import numpy as np

from . import _device, _dtype, _factories, _random, _storage, _streams, ops, overrides, sparse
from ._dtype import (
    get_default_dtype, overflow_error, scalar_overflows, tensor_type_name, to_dtype, wrapped_int)
from ._layout import check_memory_format, preserve_format, suggest_memory_format
from .autograd import engine
from .autograd.function import NOT_IMPLEMENTED, _BackwardOutput
from .autograd.node import BatchedForward
from .autograd.views import apply_inplace, check_inplace, refuse_overlap, write
from .ops import array_api, decompositions, shape as _shape_ops, spectral
from .ops._broadcast import expanded_shape, mismatch_error
from .ops.elementwise.arithmetic import (_fusable, _scaled, fused_add_scaled, scalar_first,
                                         scalar_first_addc, scalar_first_overload,
                                         scalar_first_product)
from .tensor import _STATE as _TENSOR_STATE, Tensor, _to_array, legacy_new, warn_once



# ---- autograd --------------------------------------------------------------------------------
def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradient of this tensor into the leaves' ``.grad``."""
    engine.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph,
                    inputs=inputs)


def retain_grad(self):
    """Keep .grad for this non-leaf tensor after backward."""
    if not self._requires_grad:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if self.grad_fn is None or self._retains_grad:
        return
    self._retains_grad = True
    engine.retain_grad(self)


def register_hook(self, hook):
    """hook(grad) -> Tensor or None, run when this tensor's gradient is computed."""
    if not self._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    return engine.add_tensor_hook(self, hook)


def register_post_accumulate_grad_hook(self, hook):
    """hook(tensor) -> None, run after this leaf's ``.grad`` has been updated by backward."""
    if not self._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    return engine.add_post_accumulate_hook(self, hook)


# ---- layouts ----------------------------------------------------------------------------------
def to_dense(self, dtype=None, *, masked_grad=True):
    """A strided tensor is already dense: itself (or its conversion to ``dtype``)."""
    return self if dtype is None else to(self, dtype)


def sparse_dim(self):
    return 0


def dense_dim(self):
    return self._data.ndim


def _sparse_only(name, kind="sparse coordinate"):
    def method(self, *args, **kwargs):
        if name.startswith("_"):
            raise NotImplementedError(f"Could not run 'aten::{name}' with arguments from the "
                                      f"'CPU' backend: only sparse tensors have it")
        raise RuntimeError(f"{name} expected {kind} tensor layout but got Strided")
    method.__name__ = name
    method.__doc__ = f"Sparse tensors only (``{name}`` of a strided tensor raises, as PyTorch)."
    return method


# ---- dtype and device conversions -------------------------------------------------------------
def to(self, *args, **kwargs):
    """Convert dtype (``to(ember.float64)``, ``to(other)``); devices but cpu are refused."""
    target = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    device = kwargs.pop("device", None)
    memory_format = kwargs.pop("memory_format", preserve_format)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    if memory_format is not preserve_format:
        check_memory_format("to", memory_format)
        converted = to(self, *args, copy=copy, device=device, dtype=target)
        if converted is self and suggest_memory_format(self._data) is memory_format:
            return converted
        return ops.clone(converted, memory_format=memory_format)
    for arg in args:
        if isinstance(arg, Tensor):
            target = arg.dtype
        elif isinstance(arg, (str, _device.device)):
            device = arg
        else:
            target = arg
    _device.check_cpu(device, "Tensor.to")
    if target is None or to_dtype(target).numpy == self._data.dtype:
        return self.clone() if copy else self
    if self.is_sparse_csr:
        return sparse.csr_cast(self, to_dtype(target))
    return (sparse.cast if self.is_sparse else ops.cast)(self, to_dtype(target))


def _converter(target):
    def convert(self):
        return to(self, target)
    convert.__name__ = target.name
    convert.__doc__ = f"This tensor as ``{target!r}``."
    return convert


def type_(self, dtype=None, non_blocking=False):
    """The type name (``'ember.FloatTensor'``) or, given a dtype or a tensor type (``LongTensor``,
    ``'torch.LongTensor'``), a converted tensor."""
    if dtype is None:
        return tensor_type_name(self._data.dtype)
    if dtype is Tensor or dtype in ("torch.Tensor", "ember.Tensor"):
        # PyTorch's legacy spelling of "the default tensor type"
        return to(self, get_default_dtype())
    if isinstance(dtype, type) and not isinstance(dtype, _factories._TensorType):
        if dtype.__module__ in ("ember.cuda", "torch.cuda"):  # ember.cuda.FloatTensor and kin
            _factories.tensor_type_dtype(f"torch.cuda.{dtype.__name__}")  # raises: CPU only
        raise ValueError(f"invalid type: '{dtype.__name__}'")
    named = _factories.tensor_type_dtype(dtype)
    return to(self, dtype if named is None else named)


def new(self, *args, **kwargs):
    """The legacy constructor in this tensor's dtype: ``x.new(2, 3)`` (zeros), ``x.new(data)``."""
    return legacy_new(self.dtype, args, kwargs)


def type_as(self, other):
    return to(self, other.dtype)


# ---- in-place ops ----------------------------------------------------------------------------
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
    if (ufunc is np.true_divide and target_kind != "f") or target_kind == "b":
        return None
    if isinstance(array, np.ndarray):
        if (array.dtype.kind == "f" and target_kind != "f") or (
                array.dtype.kind == "c" and target_kind != "c"):
            return None
        try:
            if array.shape != target._data.shape and np.broadcast_shapes(
                    array.shape, target._data.shape) != target._data.shape:
                return None
        except ValueError:  # the general path raises PyTorch's error
            return None
    elif isinstance(array, float) and target_kind != "f":
        return None
    elif target_kind in "iu":
        array = wrapped_int(array, target._data.dtype)
    elif target._data.dtype.itemsize == 2 and ufunc in (np.multiply, np.true_divide):
        return None  # PyTorch multiplies float16 by a number in float32

    def apply(destination):
        ufunc(destination, array, out=destination, casting="unsafe")
    return apply


def add_(self, other, alpha=1):
    kind = type(alpha)
    if kind is not int and kind is not Tensor and (kind is not float
                                                   or self._data.dtype.kind in "biu"):
        _scaled(self, other, alpha, "add", check_only=True)  # PyTorch's checks of alpha
    try:
        if alpha != 1 and _fusable(self, other):
            return apply_inplace(self, "add_", lambda: ops.add(self, other, alpha=alpha),
                                 _fast_scaled_add(other, self, alpha), other)
        operand = other if alpha == 1 else other * alpha
    except RuntimeError:
        if scalar_first(other, alpha):  # PyTorch's deprecated add_(Number alpha, Tensor other)
            return add_(self, alpha, alpha=scalar_first_overload("add_", other))
        raise
    return apply_inplace(self, "add_", lambda: ops.add(self, operand),
                         _fast_binary(np.add, operand, self), operand)


def sub_(self, other, alpha=1):
    kind = type(alpha)
    if kind is not int and kind is not Tensor and (kind is not float
                                                   or self._data.dtype.kind in "biu"):
        _scaled(self, other, alpha, "sub", check_only=True)  # PyTorch's checks of alpha
    try:
        if alpha != 1 and _fusable(self, other):
            return apply_inplace(self, "sub_", lambda: ops.sub(self, other, alpha=alpha),
                                 _fast_scaled_add(other, self, -alpha), other)
        operand = other if alpha == 1 else other * alpha
    except RuntimeError:
        if scalar_first(other, alpha):  # PyTorch's deprecated sub_(Number alpha, Tensor other)
            return sub_(self, alpha, alpha=scalar_first_overload("sub_", other))
        raise
    return apply_inplace(self, "sub_", lambda: ops.sub(self, operand),
                         _fast_binary(np.subtract, operand, self), operand)


def _addc_inplace(op):
    """``x.addcmul_`` / ``x.addcdiv_``, with PyTorch's deprecated scalar-first overload."""
    name = op.__name__ + "_"

    def method(self, tensor1, tensor2, *deprecated, value=1):
        if deprecated:
            value, tensor1, tensor2 = scalar_first_addc(name, tensor1, tensor2, deprecated)
        return apply_inplace(self, name, lambda: op(self, tensor1, tensor2, value=value))
    method.__name__ = name
    method.__doc__ = f"In-place ``{op.__name__}``."
    return method


def _product_inplace(op):
    """``x.addmm_`` and the other add* products, with PyTorch's deprecated factor-first
    overload ``x.addmm_(beta, [alpha,] mat1, mat2)``."""
    name = op.__name__ + "_"

    def method(self, first, second, *deprecated, beta=1, alpha=1):
        if deprecated:
            _, first, second, beta, alpha = scalar_first_product(name, self, first, second,
                                                                 deprecated)
        return apply_inplace(self, name, lambda: op(self, first, second, beta=beta, alpha=alpha))
    method.__name__ = name
    method.__doc__ = f"In-place ``{op.__name__}``."
    return method


def _fast_scaled_add(operand, target, alpha):
    """The ``out=`` form of add_(operand, alpha=alpha) on float32 (one rounding, as the
    out-of-place op), or None when the general path is needed."""
    if operand._requires_grad or not isinstance(alpha, (int, float)) or isinstance(alpha, bool):
        return None
    try:
        if operand._data.shape != target._data.shape and np.broadcast_shapes(
                operand._data.shape, target._data.shape) != target._data.shape:
            return None
    except ValueError:  # the general path raises PyTorch's error
        return None

    def apply(destination):
        fused_add_scaled(destination, operand._data, alpha, out=destination)
    return apply


def mul_(self, other):
    return apply_inplace(self, "mul_", lambda: ops.mul(self, other),
                         _fast_binary(np.multiply, other, self), other)


def div_(self, other, rounding_mode=None):
    if rounding_mode is not None:
        return apply_inplace(self, "div_", lambda: ops.div(self, other, rounding_mode), None,
                             other)
    return apply_inplace(self, "div_", lambda: ops.div(self, other),
                         _fast_binary(np.true_divide, other, self), other)


def _unary_inplace(op):
    """``x.op_()``: the functional op's result written back into x."""
    name = op.__name__ + "_"

    def method(self):
        return apply_inplace(self, name, lambda: op(self))
    method.__name__ = name
    method.__doc__ = f"In-place ``{op.__name__}``."
    return method


def _binary_inplace(op):
    """``x.op_(other)``: the functional op's result written back into x."""
    name = op.__name__ + "_"

    def method(self, other):
        return apply_inplace(self, name, lambda: op(self, other), None, other)
    method.__name__ = name
    method.__doc__ = f"In-place ``{op.__name__}``."
    return method


def _inplace_with_arguments(op):
    """``x.op_(*args, **kwargs)`` for ops whose extra arguments are not gradient sources."""
    name = op.__name__ + "_"

    def method(self, *args, **kwargs):
        return apply_inplace(self, name, lambda: op(self, *args, **kwargs))
    method.__name__ = name
    method.__doc__ = f"In-place ``{op.__name__}``."
    return method


def index_add_(self, dim, index, source, alpha=1):
    """In-place ``index_add``; with no graph to record, the slices go straight into storage."""
    fast = None
    if isinstance(source, Tensor):
        refuse_overlap(self, source)
        if isinstance(index, Tensor):
            refuse_overlap(self, index)
        if type(self._data) is np.ndarray and type(source._data) is np.ndarray:
            def fast(array):
                ops.index.index_add_into(array, self, dim, index, source, alpha)
    return apply_inplace(self, "index_add_", lambda: ops.index_add(self, dim, index, source, alpha),
                         fast, source)


def _refuse_float_bound(self, *bounds):
    """PyTorch's in-place clamp of an integral tensor by a float scalar, or of a bool one by an
    integer scalar: its error names the dtype's C++ type ('long int'), unlike other in-place
    casts ('Long')."""
    kind = self._data.dtype.kind
    if kind not in "biu":
        return
    if any(isinstance(bound, float) for bound in bounds):
        result = _dtype.scalar_type_name(_dtype.get_default_dtype().numpy)
    elif kind == "b" and any(isinstance(bound, int) and not isinstance(bound, bool)
                             for bound in bounds):
        result = "Long"
    else:
        return
    raise RuntimeError(f"result type {result} can't be cast to the desired output type "
                       f"{_dtype.cpp_type_name(self._data.dtype)}")


def clamp_(self, min=None, max=None):
    _refuse_float_bound(self, min, max)
    return apply_inplace(self, "clamp_", lambda: ops.clamp(self, min, max), None,
                         min if isinstance(min, Tensor) else max)


def clamp_min_(self, min):
    _refuse_float_bound(self, min)
    return apply_inplace(self, "clamp_min_", lambda: ops.clamp(self, min, None))


def clamp_max_(self, max):
    _refuse_float_bound(self, max)
    return apply_inplace(self, "clamp_max_", lambda: ops.clamp(self, None, max))


def subtract_(self, other, alpha=1):
    return sub_(self, other, alpha=alpha)


def divide_(self, other, rounding_mode=None):
    return apply_inplace(self, "divide_", lambda: ops.div(self, other, rounding_mode), None,
                         other)


def scatter_(self, dim, index, src=None, value=None, reduce=None):
    return apply_inplace(self, "scatter_", lambda: ops.scatter(self, dim, index, src, value,
                                                               reduce))


def index_put_(self, indices, values, accumulate=False):
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put_(): argument 'indices' (position 1) must be tuple of "
                        f"Tensors, not {type(indices).__name__}")
    return apply_inplace(self, "index_put_", lambda: ops.index_put(self, indices, values,
                                                                   accumulate))


def _check_inplace_broadcast(shape, other):
    """An in-place op's operand ``other`` must broadcast to ``shape``, as in PyTorch's
    TensorIterator: its mismatch message, or the output's when broadcasting would grow it."""
    error = mismatch_error(shape, other)
    if error is not None:
        raise error
    broadcast = list(np.broadcast_shapes(shape, other))
    if broadcast != list(shape):
        raise RuntimeError(f"output with shape {list(shape)} doesn't match the broadcast shape "
                           f"{broadcast}")


def masked_fill_(self, mask, value):
    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        return ops.masked_fill(self, mask, value)  # raises PyTorch's error before any write
    if mask._data.shape != self._data.shape:
        _check_inplace_broadcast(self._data.shape, mask._data.shape)

    def fast(array):
        fill = np.asarray(value._data if isinstance(value, Tensor) else value, dtype=array.dtype)
        np.copyto(array, fill, where=np.broadcast_to(mask._data, array.shape))
    return apply_inplace(self, "masked_fill_", lambda: ops.masked_fill(self, mask, value), fast,
                         value)


def zero_(self):
    return fill_(self, 0)


_FILL_VALUES = (Tensor, int, float, complex, np.number, np.bool_)


def fill_(self, value):
    if not isinstance(value, _FILL_VALUES):
        kind = type(value)
        name = kind.__qualname__ if kind.__module__ == "builtins" else \
            f"{kind.__module__}.{kind.__qualname__}"
        mismatch = f"      didn't match because some of the arguments have invalid types: (!{name}!)\n"
        raise TypeError(f"fill_() received an invalid combination of arguments - got ({name}), "
                        f"but expected one of:\n * (Tensor value)\n{mismatch} * (Number value)\n"
                        f"{mismatch}")
    if isinstance(value, Tensor) and value._data.ndim != 0:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value._data.ndim} dimensions.")
    fill = value.item() if isinstance(value, Tensor) else value
    if type(fill) in (int, float) and not isinstance(value, Tensor):
        dtype = self._data.dtype
        if scalar_overflows(fill, dtype):  # PyTorch's range check
            raise overflow_error(dtype)
        if type(fill) is int and dtype.kind in "iu":
            fill = value = wrapped_int(fill, dtype)  # uint8 takes -1 as 255
    return apply_inplace(self, "fill_", lambda: ops.fill_like(self, value),
                         lambda array: array.fill(fill))


def copy_(self, source):
    """Copy ``source`` (broadcast, cast) into this tensor; differentiable w.r.t. source."""
    if not isinstance(source, Tensor):
        source = Tensor._wrap(np.asarray(source))
    if source._data.shape != self._data.shape:
        _check_inplace_broadcast(self._data.shape, source._data.shape)
    return apply_inplace(self, "copy_", lambda: ops.copy_into(self, source),
                         lambda array: write(self, source._data, cast=True), source)


def _inplace_view(self, view, overload=1):
    """Change this tensor's shape in place (``unsqueeze_``, ``t_``, ...): it becomes ``view`` of
    its former self, which its history then records. PyTorch numbers the in-place forms' nodes
    after the out-of-place ones: TransposeBackward1 for TransposeBackward0, SqueezeBackward3-5
    for 0-2 (``overload`` is that offset)."""
    recording = check_inplace(self)
    former = Tensor._wrap(self._data, self._requires_grad)
    if recording and self._requires_grad:
        former.grad_fn = self.grad_fn
        former._output_nr = self._output_nr
        former._vc = self._version_counter()
        former._is_inference = self._is_inference
        out = view(former)
        node = out.grad_fn
        if node is not None and node is not self.grad_fn:
            stem, _, number = node.name().rpartition("Backward")
            if number.isdigit():
                node._torch_name = f"{stem}Backward{int(number) + overload}"
        self.grad_fn = out.grad_fn
        self._output_nr = out._output_nr
    else:
        out = view(former)
    self._data = out._data
    return self


def unsqueeze_(self, dim):
    return _inplace_view(self, lambda tensor: ops.unsqueeze(tensor, dim))


def squeeze_(self, dim=None):
    return _inplace_view(self, lambda tensor: ops.squeeze(tensor, dim), overload=3)


def t_(self):
    return _inplace_view(self, ops.t)


def transpose_(self, dim0, dim1):
    return _inplace_view(self, lambda tensor: ops.transpose(tensor, dim0, dim1))


# ---- random fills (not recorded) -----------------------------------------------------------
def _fill_with(self, values, operation, drawn=False):
    """Write ``values`` in place; ``drawn`` values (made in draw order) go to the elements in
    memory order, as PyTorch's serial random kernels visit a non-contiguous tensor."""
    check_inplace(self)
    values = np.asarray(values, dtype=self._data.dtype)
    if drawn:
        values = _random.in_memory_order(self._data, values)
    write(self, values)
    self._bump_version()
    return self


def _check_continuous(self, kernel=None, distribution=None):
    """PyTorch's error for a continuous random fill of an integer or bool tensor: the kernel
    not implemented for that dtype, or (``distribution``) a RuntimeError."""
    if _dtype.is_floating(self._data.dtype):
        return
    name = _dtype.scalar_type_name(self._data.dtype)
    if distribution is None:
        raise NotImplementedError(f'"{kernel}" not implemented for \'{name}\'')
    raise RuntimeError(f"{distribution} distribution is a continuous probability distribution. "
                       f"dtype must be a floating point but you specified {name}")


def _batched_fill(self, draw):
    """A random fill of a tensor batched by ember.func.vmap(randomness="different"): every
    sample's values drawn at once (``draw(shape)``) and written in place; None elsewhere."""
    if type(self._data) is np.ndarray or self._data.dtype.kind == "c":
        return None
    drawn = _random.batched_draw(draw, self._data.shape)
    return None if drawn is None else BatchedForward.inplace(self, drawn)


def uniform_(self, a=0.0, b=1.0, generator=None):
    """Uniform on [a, b); a complex tensor's real and imaginary parts each (PyTorch fills its
    real view)."""
    if self._data.dtype.kind != "c":
        _check_continuous(self, "check_uniform_bounds")
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={a:g} > to={b:g}")
    filled = _batched_fill(self, lambda shape: _random.uniform(generator, shape,
                                                               self._data.dtype, a, b))
    if filled is not None:
        return filled
    values = _random.uniform(generator, _parts_shape(self), _draw_dtype(self), a, b)
    return _fill_with(self, _as_parts(self, values), "uniform_", drawn=True)


def normal_(self, mean=0.0, std=1.0, generator=None):
    """Normal values; a complex tensor's parts each with the mean and std / sqrt(2) (PyTorch
    fills its real view so)."""
    if self._data.dtype.kind == "c":
        values = _random.normal(generator, _parts_shape(self), _draw_dtype(self), mean,
                                std / np.sqrt(2))
        return _fill_with(self, _as_parts(self, values), "normal_", drawn=True)
    _check_continuous(self, "normal_kernel_cpu")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    filled = _batched_fill(self, lambda shape: _random.normal(generator, shape,
                                                              self._data.dtype, mean, std))
    if filled is not None:
        return filled
    values = _random.normal(generator, self._data.shape, self._data.dtype, mean, std,
                            contiguous=self.is_contiguous())
    return _fill_with(self, values, "normal_", drawn=True)


def _draw_dtype(tensor):
    """The floating dtype PyTorch draws a tensor's values in (a complex one's part type)."""
    dtype = tensor._data.dtype
    if dtype.kind == "c":
        return np.float32 if dtype == np.complex64 else np.float64
    return dtype if _dtype.is_floating(dtype) else np.dtype(np.float32)


def _parts_shape(tensor):
    """The shape of the draws that fill ``tensor``: one more dim of 2 for a complex one."""
    shape = tensor._data.shape
    return shape + (2,) if tensor._data.dtype.kind == "c" else shape


def _as_parts(tensor, values):
    """Draws of ``_parts_shape`` as the tensor's values (pairs as real and imaginary parts)."""
    if tensor._data.dtype.kind != "c":
        return values
    return values[..., 0] + 1j * values[..., 1]


def bernoulli_(self, p=0.5, generator=None):
    if isinstance(p, Tensor):
        if p._data.size and not ((p._data >= 0) & (p._data <= 1)).all():
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  "
                               "(Could this error message be improved?  If so, please report "
                               "an enhancement request to PyTorch.)")
    elif not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p:g}")
    values = (_random.bernoulli(generator, p._data, self._data.shape) if isinstance(p, Tensor)
              else _random.bernoulli(generator, float(p), self._data.shape))
    return _fill_with(self, values, "bernoulli_", drawn=True)


def random_(self, from_=0, to=None, *, generator=None):
    """Whole numbers drawn uniformly from [from_, to - 1] (``random_(to)`` means [0, to))."""
    if to is None and from_ != 0:
        from_, to = 0, from_
    if to is None:
        return _fill_with(self, _random.full_range(generator, self._data.shape,
                                                   self._data.dtype), "random_", drawn=True)
    if from_ >= to:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got "
                           f"from={from_} >= to={to}")
    values = _random.integers(generator, from_, to, self._data.shape)
    return _fill_with(self, values, "random_", drawn=True)


def exponential_(self, lambd=1.0, *, generator=None):
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    _check_continuous(self, distribution="Exponential")
    values = _random.exponential(generator, self._data.shape, lambd,
                                 wide=self._data.dtype == np.float64)
    return _fill_with(self, values, "exponential_", drawn=True)


def geometric_(self, p, *, generator=None):
    """Trials up to the first success (1, 2, ...), each succeeding with probability p."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    values = _random.geometric(generator, self._data.shape, p)
    return _fill_with(self, values, "geometric_", drawn=True)


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    if std <= 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    _check_continuous(self, "log_normal_cpu")
    values = _random.log_normal(generator, self._data.shape, mean, std)
    return _fill_with(self, values, "log_normal_", drawn=True)


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    if sigma <= 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    _check_continuous(self, distribution="Cauchy")
    values = _random.cauchy(generator, self._data.shape, median, sigma)
    return _fill_with(self, values, "cauchy_", drawn=True)


def apply_(self, callable):
    """Replace every element by ``callable(element)`` (a Python call per element, as in PyTorch;
    not recorded by autograd)."""
    if self._requires_grad:
        raise RuntimeError("apply_ is only implemented on CPU tensors that don't require grad")
    flat = self._data.reshape(-1)
    values = np.array([callable(value) for value in flat.tolist()], dtype=self._data.dtype)
    return _fill_with(self, values.reshape(self._data.shape), "apply_")


def map_(self, other, callable):
    """Replace every element by ``callable(element, other's element)`` (broadcast other)."""
    if self._requires_grad:
        raise RuntimeError("map_ is only implemented on CPU tensors that don't require grad")
    paired = np.broadcast_to(other._data, self._data.shape).reshape(-1).tolist()
    values = [callable(a, b) for a, b in zip(self._data.reshape(-1).tolist(), paired)]
    return _fill_with(self, np.array(values, dtype=self._data.dtype).reshape(self._data.shape),
                      "map_")


def map2_(self, x, y, callable):
    """Replace every element by ``callable(element, x's element, y's element)`` (x and y
    broadcast; a Python call per element, not recorded)."""
    if self._requires_grad:
        raise RuntimeError("Can't call map2_() on Variable that requires grad. Use "
                           "var.detach().map2_() instead.")
    shape = self._data.shape
    firsts = np.broadcast_to(x._data, shape).reshape(-1).tolist()
    seconds = np.broadcast_to(y._data, shape).reshape(-1).tolist()
    values = [callable(value, first, second)
              for value, first, second in zip(self._data.reshape(-1).tolist(), firsts, seconds)]
    return _fill_with(self, np.array(values, dtype=self._data.dtype).reshape(shape), "map2_")


_REINFORCE_REMOVED = """reinforce() was removed.
Use torch.distributions instead.
See https://pytorch.org/docs/main/distributions.html

Instead of:

probs = policy_network(state)
action = probs.multinomial()
next_state, reward = env.step(action)
action.reinforce(reward)
action.backward()

Use:

probs = policy_network(state)
# NOTE: categorical is equivalent to what used to be called multinomial
m = torch.distributions.Categorical(probs)
action = m.sample()
next_state, reward = env.step(action)
loss = -m.log_prob(action) * reward
loss.backward()
"""


def reinforce(self, reward):
    raise RuntimeError(_REINFORCE_REMOVED)


def module_load(self, other, assign=False):
    """What ``load_state_dict`` stores for this parameter or buffer when modules swap their
    tensors: ``other`` itself (``assign``) or this tensor with ``other`` copied in, detached."""
    if assign:
        return other.detach()
    return self.copy_(other).detach()


def sparse_mask(self, mask):
    """This dense tensor's values at the sparse ``mask``'s indices, as a coalesced sparse
    tensor of this tensor's size (differentiable in this tensor)."""
    coalesced = mask.coalesce()
    indices = coalesced.indices()
    values = ops.getitem(self, tuple(indices.unbind(0)))
    return sparse.sparse_coo_tensor(indices, values, tuple(self.shape), is_coalesced=True)


def smm(self, mat):
    raise RuntimeError("tensor.sspaddmm(...) can only be called on sparse tensors")


# ---- other methods ------------------------------------------------------------------------
def where(self, condition, other):
    return ops.where(condition, self, other)


def view_as(self, other):
    return ops.view(self, other._data.shape)


def tile(self, *sizes, dims=None):
    """``x.tile(2, 1)`` as well as ``x.tile((2, 1))``: the method takes its sizes one by one,
    as PyTorch's does (``torch.tile`` takes one sequence)."""
    return ops.tile(self, _shape_ops._sizes_argument(sizes, dims, "tile", "dims"))


def squeeze(self, *dims, dim=None):
    """``x.squeeze(0, 2)`` as well as ``x.squeeze((0, 2))`` and ``x.squeeze(dim=0)``: the method
    takes dims one by one, as PyTorch's does (``torch.squeeze`` takes one dim or a tuple)."""
    if dims:
        if dim is not None:
            raise TypeError("squeeze() got multiple values for argument 'dim'")
        dim = dims[0] if len(dims) == 1 else dims
    return ops.squeeze(self, dim)


def _check_subclass(cls):
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError("Creating a Tensor subclass from a class that does not inherit from "
                        "Tensor is not possible. Make sure your class inherits from Tensor.")


def as_subclass(self, cls):
    """This tensor as an instance of ``cls`` (a Tensor subclass): the same memory and version
    counter, attached to the graph through an alias when it requires grad (PyTorch's)."""
    _check_subclass(cls)
    with overrides.DisableTorchFunction():
        alias = ops.index.getitem(self, Ellipsis)
    return _retyped(alias, cls)


def _make_subclass(cls, data, require_grad=False, **_):
    """A leaf of type ``cls`` over ``data``'s memory (not its history), requiring grad as
    asked: how PyTorch's Parameter-like subclasses build themselves."""
    _check_subclass(cls)
    leaf = data.detach()
    if require_grad:
        leaf.requires_grad_(True)
    return _retyped(leaf, cls)


def _retyped(tensor, cls):
    """``tensor`` (a fresh result) made an instance of ``cls``: its class changed in place,
    or, where ``cls`` adds slots of its own, a new instance given its state."""
    if type(tensor) is cls:
        return tensor
    try:
        tensor.__class__ = cls
        return tensor
    except TypeError:
        instance = object.__new__(cls)
        for name in _TENSOR_STATE:
            setattr(instance, name, getattr(tensor, name))
        instance.__dict__.update(tensor.__dict__)
        return instance


def reshape_as(self, other):
    return ops.reshape(self, other._data.shape)


def _new_factory(fill):
    """``x.new_zeros(2, 3)``, ``x.new_ones((2, 3))``, ``x.new_empty(size=(2, 3))``: in this
    tensor's dtype unless given (``new_empty`` gives zeros)."""
    def make(self, *size, dtype=None, device=None, requires_grad=False, **kwargs):
        name = f"new_{'empty' if fill is None else ('zeros', 'ones')[fill]}"
        size = _factories._varargs_size(name, size, _factories._keyword_size(name, kwargs))
        target = self._data.dtype if dtype is None else to_dtype(dtype).numpy
        array = np.zeros(size, target) if fill is None else np.full(size, fill, target)
        out = Tensor._wrap(array)
        return out._require_grad_on_creation() if requires_grad else out
    return make


def resize_(self, *sizes, memory_format=None):
    """Give this tensor ``sizes``, contiguous, over its storage from its offset: the values
    there are kept (a prefix of the storage when it shrinks); growing past the storage moves
    the tensor to new memory that holds the old values first and zeros after them (PyTorch
    leaves that part uninitialised, and views of the old storage see the new memory; here
    they keep the old one)."""
    shape = _factories._varargs_size("resize_", sizes, None)
    if self._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    for size in shape:
        if size < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {size}: "
                               f"{list(shape)}")
    check_inplace(self)
    count = int(np.prod(shape))
    root = self._data
    while isinstance(root.base, np.ndarray):
        root = root.base
    start = storage_offset(self) if root.flags.c_contiguous else 0
    flat = root.reshape(-1) if root.flags.c_contiguous else self._data.reshape(-1)
    if start + count <= flat.size:
        self._data = flat[start:start + count].reshape(shape)
    else:
        grown = np.zeros(count, self._data.dtype)
        kept = flat[start:]
        grown[:kept.size] = kept
        self._data = grown.reshape(shape)
    self._bump_version()
    return self


def resize_as_(self, the_template, memory_format=None):
    """``resize_`` to ``the_template``'s shape."""
    return resize_(self, the_template.shape, memory_format=memory_format)


def resize(self, *sizes):
    """PyTorch's deprecated out-of-place resize: the tensor reshaped (contiguous) to ``sizes``,
    which must hold as many elements (PyTorch multiplies the arguments as given, so a single
    tuple never matches)."""
    warnings.warn("non-inplace resize is deprecated", UserWarning, stacklevel=2)
    return _autograd_resize(self, sizes)


def resize_as(self, tensor):
    """``resize`` to ``tensor``'s shape (deprecated as ``resize``)."""
    warnings.warn("non-inplace resize_as is deprecated", UserWarning, stacklevel=2)
    return _autograd_resize(self, tuple(tensor.shape))


def _autograd_resize(self, sizes):
    count = functools.reduce(operator.mul, sizes) if sizes else 1
    if count != self.numel():
        shown = "x".join(str(size) for size in sizes)
        held = "x".join(str(size) for size in self.shape)
        raise RuntimeError(f"requested resize to {shown} ({count} elements in total), but the "
                           f"given tensor has a size of {held} ({self.numel()} elements). "
                           f"autograd's resize can only change the shape of a given tensor, "
                           f"while preserving the number of elements. ")
    result = ops.reshape(ops.contiguous(self), tuple(sizes))
    if result.grad_fn is not None:
        result.grad_fn._torch_name = "ResizeBackward"
    return result


def _volatile(self):
    warnings.warn("volatile was removed (Variable.volatile is always False)", UserWarning,
                  stacklevel=2)
    return False


def _set_volatile(self, value):
    warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` "
                  "instead.", UserWarning, stacklevel=2)


def conj_physical_(self):
    """The complex conjugate written back in place; a real tensor is left as it is."""
    if self._data.dtype.kind != "c":
        return self
    return apply_inplace(self, "conj_physical_", lambda: ops.conj_physical(self))


def _grad_dtype(self):
    """The dtype of this tensor's gradients: its own (ember keeps no other)."""
    return self.dtype


def _not_compiled_with(name, message):
    def method(self, *args, **kwargs):
        raise AssertionError(message)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``Tensor.{name}()``: refused, as by PyTorch's CPU build."
    return method


def _ipu(self, *args, **kwargs):
    raise RuntimeError("PyTorch is not linked with support for ipu devices")


def record_stream(self, stream):
    """CPU tensors have no streams to record: PyTorch's CPU build has no kernel for it."""
    if not isinstance(stream, _streams.Stream):
        raise RuntimeError("unknown parameter type")
    raise NotImplementedError("Could not run 'aten::record_stream' with arguments from the "
                              "'CPU' backend. This could be because the operator doesn't exist "
                              "for this backend (record_stream is for CUDA tensors).")


_SET_SIGNATURES = (" * ()\n * (torch.Storage source)\n * (torch.Storage source, int storage_offset, "
                   "tuple of ints size, tuple of ints stride = None)\n * (Tensor source)\n * "
                   "(Tensor source, int storage_offset, tuple of ints size, tuple of ints stride "
                   "= None)\n")


def set_(self, source=None, storage_offset=None, size=None, stride=None):
    """Make this tensor look at ``source``'s memory (a tensor's, or a storage's), with its
    geometry or the one given; no source: an empty tensor. Not differentiable (PyTorch records
    a node whose backward raises)."""
    given = [value for value in (source, storage_offset, size, stride) if value is not None]
    is_tensor = isinstance(source, Tensor)
    if (given and not (is_tensor or _storage.is_storage(source))) or \
            (storage_offset is not None) != (size is not None) or \
            (stride is not None and size is None):
        names = ", ".join(_set_argument_name(value) for value in given)
        raise TypeError(f"set_() received an invalid combination of arguments - got ({names}), "
                        f"but expected one of:\n{_SET_SIGNATURES}")
    numpy_dtype = self._data.dtype
    if is_tensor and source._data.dtype != numpy_dtype:
        raise RuntimeError(f"Could not set tensor of type {_dtype.cpp_type_name(source._data.dtype)} "
                           f"to a tensor of type {_dtype.cpp_type_name(numpy_dtype)}")
    if isinstance(source, _storage.TypedStorage) and source.dtype.numpy != numpy_dtype:
        raise RuntimeError(f"Expected a Storage of type {_dtype.cpp_type_name(numpy_dtype)} or "
                           f"an UntypedStorage, but got type {source.dtype._scalar_type} for "
                           f"argument 1 'storage'")
    if size is not None:
        shape = _factories._sequence_size("set_", size, 3)
        strides = _row_major_strides(shape) if stride is None else \
            tuple(_factories._sequence_size("set_", stride, 4, "stride"))
        memory = source.untyped_storage() if is_tensor else source
        array = _storage.elements(memory, numpy_dtype, storage_offset, shape, strides,
                                  stride is not None)
    elif source is None:
        array = np.empty(0, numpy_dtype)
    elif is_tensor:
        array = source._data.view()
    else:
        count = source._root.nbytes // numpy_dtype.itemsize
        array = _storage.elements(source, numpy_dtype, 0, (count,), (1,))
    recording = check_inplace(self)
    if recording and (self._requires_grad or (is_tensor and source._requires_grad)):
        edges = tuple(_set_edge(tensor) for tensor in (self, source)
                      if isinstance(tensor, Tensor) and tensor._requires_grad)
        linked = _BackwardOutput.link(self, edges, NOT_IMPLEMENTED,
                                      (RuntimeError, "derivative for set_ is not implemented"))
        self.grad_fn = linked.grad_fn
        self._output_nr = 0
        self._requires_grad = True
    self._data = array
    self._bump_version()
    return self


def _set_argument_name(value):
    if isinstance(value, (Tensor, _storage.UntypedStorage, _storage.TypedStorage)):
        return "Tensor" if isinstance(value, Tensor) else \
            f"torch.storage.{type(value).__name__}"
    return type(value).__name__


def _row_major_strides(shape):
    strides, step = [], 1
    for length in reversed(shape):
        strides.append(step)
        step *= max(length, 1)
    return tuple(reversed(strides))


def _set_edge(tensor):
    return (tensor.grad_fn, tensor._output_nr) if tensor.grad_fn is not None else (tensor, 0)


def new_empty_strided(self, size, stride, dtype=None, device=None, requires_grad=False,
                      layout=None, pin_memory=False):
    """``empty_strided`` in this tensor's dtype unless given."""
    target = self.dtype if dtype is None else dtype
    return _factories.empty_strided(size, stride, dtype=target, layout=layout, device=device,
                                    requires_grad=requires_grad, pin_memory=pin_memory)


def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
    target = self.dtype if dtype is None else to_dtype(dtype)
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    # PyTorch's fill: its overflow check, integers wrapped (uint8 takes -1 as 255)
    out = Tensor._wrap(_factories._fill_array(tuple(size), value, target))
    return out._require_grad_on_creation() if requires_grad else out


def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    target = self._data.dtype if dtype is None else to_dtype(dtype).numpy
    out = Tensor._wrap(np.array(_to_array(data), dtype=target, copy=True))
    return out._require_grad_on_creation() if requires_grad else out


def _reversed_operands(op):
    """``other op self`` for the reflected operators of non-commutative ops."""
    def method(self, other):
        return op(other, self)
    method.__name__ = op.__name__
    return method


def __rtruediv__(self, other):
    """``other / self`` for a number ``other``: PyTorch's reciprocal(self) * other (its rounding,
    and a backward that keeps the reciprocal, not self)."""
    return ops.mul(ops.reciprocal(self), other)


def binary_operator(op):
    """A binary operator: an operand the op refuses with TypeError (a string, a list, None)
    gives NotImplemented, as PyTorch's operators do, so Python tries the other operand and then
    raises its own error (``unsupported operand type(s) for +: 'Tensor' and 'str'``); for ==
    and != it compares identities (t == None is False). ``__wrapped__`` is the op (ember.onnx
    wraps that)."""
    def method(self, other):
        try:
            return op(self, other)
        except TypeError:
            return NotImplemented
    method.__name__ = op.__name__
    method.__wrapped__ = op
    method.returns_not_implemented = True
    return method


def __invert__(self):
    if self._data.dtype == np.bool_:
        return ops.logical_not(self)
    if self._data.dtype.kind not in "iu":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return ops.bitwise_not(self)


def __pos__(self):
    return self


def __setitem__(self, key, value):
    ops.setitem(self, key, value)


def __array_namespace__(self, api_version=None):
    """ember's array-API namespace: what an op's backward uses under create_graph."""
    return array_api


def __dlpack__(self, *args, **kwargs):
    """A DLPack capsule of this tensor's memory (the consumer shares it); PyTorch refuses a
    tensor that requires grad."""
    if self._requires_grad:
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    return self._data.__dlpack__(*args, **kwargs)


def __dlpack_device__(self):
    return (1, 0)  # kDLCPU, device 0


def _transposed(self):
    ndim = self._data.ndim
    if ndim == 0:
        warn_once("Tensor.T is deprecated on 0-D tensors. This function is the identity in these "
                  "cases.")
    elif ndim != 2:
        warn_once("The use of `x.T` on tensors of dimension other than 2 to reverse their shape "
                  "is deprecated and it will throw an error in a future release. Consider "
                  "`x.mT` to transpose batches of matrices or `x.permute(*torch.arange(x.ndim - "
                  "1, -1, -1))` to reverse the dimensions of a tensor.")
    return ops.permute(self, tuple(reversed(range(ndim))))


def _check_matrices(self, name):
    if self._data.ndim == 1:
        raise RuntimeError(f"tensor.{name} is only supported on matrices or batches of matrices. "
                           f"Got 1-D tensor.")


def _matrix_transposed(self):
    _check_matrices(self, "mT")
    if self._data.ndim == 0:
        return ops.transpose(self, 0, 0)  # PyTorch's mT of a 0-d tensor: itself, as a view
    return ops.transpose(self, -2, -1)


def _conjugate_transposed(self):
    _check_matrices(self, "mH")
    if self._data.ndim == 0:
        return ops.conj(ops.transpose(self, 0, 0))
    return ops.conj(ops.transpose(self, -2, -1))


def _conjugate_all_transposed(self):
    if self._data.ndim not in (0, 2):
        hint = ". For batches of matrices, consider using tensor.mH" if self._data.ndim > 2 else "."
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got "
                           f"{self._data.ndim}-D tensor{hint}")
    return ops.conj(_transposed(self))


def _identity(self):
    """Conjugates are materialised: a tensor is always its own resolved view."""
    return self


def _false(self):
    return False


def storage_offset(self):
    """Elements between the start of the base array and this view's first element."""
    base = self._data
    while isinstance(base.base, np.ndarray):
        base = base.base
    start = self._data.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return start // self._data.itemsize


def bernoulli(self, p=None, *, generator=None):
    """0/1 draws with probability ``p`` (else this tensor's values) of a 1."""
    if p is None:
        return _factories.bernoulli(self, generator=generator)
    return _factories.bernoulli(self, p, generator=generator)


def multinomial(self, num_samples=_factories.NO_SAMPLE_COUNT, replacement=False, *,
                generator=None):
    return _factories.multinomial(self, num_samples, replacement, generator=generator)


def polygamma(self, n):
    """The n-th derivative of digamma: ``x.polygamma(n)`` is ``ember.polygamma(n, x)``."""
    return ops.polygamma(n, self)


def polygamma_(self, n):
    """In-place ``polygamma``."""
    return apply_inplace(self, "polygamma_", lambda: ops.polygamma(n, self))


def split(self, split_size, dim=0):
    """Tensor.split's own argument name (``torch.split`` calls it split_size_or_sections)."""
    return ops.split(self, split_size, dim)


def hardshrink(self, lambd=0.5):
    from .nn import functional  # an nn.functional activation that PyTorch binds as a method
    return functional.hardshrink(self, lambd)


def prelu(self, weight):
    from .nn import functional  # an nn.functional activation that PyTorch binds as a method
    return functional.prelu(self, weight)


def split_with_sizes(self, split_sizes, dim=0):
    return ops.split(self, list(split_sizes), dim)


# Same-named functional ops: ``x.name(*args)`` is ``ember.name(x, *args)``.
_FUNCTIONAL = (
    # arithmetic and unary math
    ops.abs, ops.absolute, ops.add, ops.sub, ops.mul, ops.div, ops.true_divide, ops.floor_divide,
    ops.remainder, ops.fmod, ops.pow, ops.float_power, ops.neg, ops.negative, ops.reciprocal,
    ops.exp, ops.exp2, ops.expm1, ops.log, ops.log1p, ops.log2, ops.log10, ops.sqrt, ops.rsqrt,
    ops.square, ops.sin, ops.cos, ops.tan, ops.sinh, ops.cosh, ops.tanh, ops.asin, ops.acos,
    ops.atan, ops.arcsin, ops.arccos, ops.arctan, ops.asinh, ops.acosh, ops.atanh, ops.arcsinh,
    ops.arccosh, ops.arctanh, ops.atan2, ops.arctan2, ops.hypot, ops.logaddexp, ops.logaddexp2,
    ops.sigmoid, ops.relu, ops.erf, ops.erfc, ops.erfinv, ops.logit, ops.xlogy, ops.sinc,
    ops.lgamma, ops.digamma, ops.mvlgamma, ops.i0, ops.nextafter, ops.igamma, ops.igammac,
    ops.sign, ops.sgn, ops.angle, ops.signbit, ops.copysign, ops.heaviside, ops.frac, ops.floor, ops.ceil,
    ops.round, ops.trunc, ops.clamp, ops.clip, ops.clamp_min, ops.clamp_max, ops.lerp,
    ops.maximum, ops.minimum, ops.fmax, ops.fmin, ops.deg2rad, ops.rad2deg, ops.nan_to_num,
    ops.addcmul, ops.addcdiv, ops.ldexp, ops.frexp, ops.gcd, ops.lcm, ops.clone,
    ops.nonzero_static, ops.narrow_copy,
    # comparison, logical and bitwise
    ops.eq, ops.ne, ops.lt, ops.le, ops.gt, ops.ge, ops.greater, ops.greater_equal, ops.less,
    ops.less_equal, ops.not_equal, ops.equal, ops.allclose, ops.isclose, ops.isnan, ops.isinf,
    ops.isfinite, ops.isposinf, ops.isneginf, ops.isreal, ops.logical_and, ops.logical_or,
    ops.logical_xor, ops.logical_not, ops.bitwise_not, ops.bitwise_and, ops.bitwise_or,
    ops.bitwise_xor, ops.bitwise_left_shift, ops.bitwise_right_shift,
    # reductions, scans, sorting and statistics
    ops.sum, ops.nansum, ops.mean, ops.nanmean, ops.var, ops.std, ops.prod, ops.max, ops.min,
    ops.amax, ops.amin, ops.aminmax, ops.argmax, ops.argmin, ops.all, ops.any, ops.count_nonzero,
    ops.hash_tensor,
    ops.logsumexp, ops.softmax, ops.log_softmax, ops.cumsum, ops.cumprod, ops.cummax,
    ops.cummin, ops.logcumsumexp, ops.norm, ops.dist, ops.median, ops.nanmedian, ops.mode,
    ops.quantile, ops.nanquantile, ops.renorm, ops.kthvalue, ops.sort, ops.argsort, ops.msort, ops.topk, ops.unique,
    ops.unique_consecutive, ops.histc, ops.histogram, ops.bincount, ops.cov, ops.corrcoef,
    # shape and views
    ops.reshape, ops.view, ops.flatten, ops.unflatten, ops.ravel, ops.squeeze, ops.unsqueeze,
    ops.permute, ops.transpose, ops.swapaxes, ops.swapdims, ops.movedim, ops.moveaxis, ops.t,
    ops.expand, ops.expand_as, ops.broadcast_to, ops.repeat, ops.tile, ops.repeat_interleave,
    ops.contiguous, ops.flip, ops.fliplr, ops.flipud, ops.roll, ops.rot90, ops.narrow,
    ops.select, ops.unbind, ops.split, ops.chunk, ops.tensor_split, ops.hsplit, ops.vsplit,
    ops.dsplit, ops.unfold, ops.diag, ops.diagonal, ops.diag_embed, ops.trace, ops.tril,
    ops.triu, ops.diff, ops.sum_to_size, ops.as_strided, ops.as_strided_, ops.slice_scatter,
    ops.select_scatter, ops.diagonal_scatter,
    # indexing and scatter
    ops.gather, ops.take, ops.take_along_dim, ops.index_select, ops.masked_fill,
    ops.masked_select, ops.masked_scatter, ops.nonzero, ops.argwhere, ops.scatter,
    ops.scatter_add, ops.scatter_reduce, ops.index_add, ops.index_copy, ops.index_fill,
    ops.index_put, ops.isin, ops.index_reduce, ops.put,
    # linear algebra
    ops.matmul, ops.mm, ops.bmm, ops.mv, ops.dot, ops.vdot, ops.inner, ops.outer, ops.ger,
    ops.cross, ops.kron, ops.tensordot, ops.addmm, ops.addmv, ops.addr, ops.addbmm,
    ops.baddbmm, ops.matrix_power, ops.inverse, ops.det, ops.slogdet, ops.logdet, ops.cholesky,
)

METHODS = {function.__name__: function for function in _FUNCTIONAL}
METHODS.update({
    # methods that take sizes or dims one by one where the function takes one sequence
    "tile": tile, "squeeze": squeeze,
    # names whose function is shared with another name (the table above keys by __name__)
    "absolute": ops.absolute, "negative": ops.negative, "clip": ops.clip,
    "arcsin": ops.arcsin, "arccos": ops.arccos, "arctan": ops.arctan, "arcsinh": ops.arcsinh,
    "arccosh": ops.arccosh, "arctanh": ops.arctanh, "arctan2": ops.arctan2,
    "greater": ops.greater, "greater_equal": ops.greater_equal, "less": ops.less,
    "less_equal": ops.less_equal, "not_equal": ops.not_equal, "true_divide": ops.true_divide,
    "swapaxes": ops.swapaxes, "swapdims": ops.swapdims, "moveaxis": ops.moveaxis,
    "ger": ops.ger, "multiply": ops.mul, "subtract": ops.sub, "divide": ops.div,
    # autograd
    "backward": backward, "retain_grad": retain_grad, "register_hook": register_hook,
    "register_post_accumulate_grad_hook": register_post_accumulate_grad_hook,
    "__array_namespace__": __array_namespace__, "__dlpack__": __dlpack__,
    "__dlpack_device__": __dlpack_device__,
    # conversions
    "to": to, "type": type_, "type_as": type_as, "new": new,
    "float": _converter(_dtype.float32), "double": _converter(_dtype.float64),
    "half": _converter(_dtype.float16), "bfloat16": _converter(_dtype.bfloat16),
    "cfloat": _converter(_dtype.complex64), "cdouble": _converter(_dtype.complex128),
    "chalf": _converter(_dtype.complex32),
    "long": _converter(_dtype.int64),
    "int": _converter(_dtype.int32), "short": _converter(_dtype.int16),
    "char": _converter(_dtype.int8), "byte": _converter(_dtype.uint8),
    "bool": _converter(_dtype.bool_),
    # layouts (sparse tensors define their own)
    "to_sparse": sparse.to_sparse_layout, "to_sparse_coo": sparse.to_sparse,
    "to_sparse_csr": sparse.to_sparse_csr, "to_dense": to_dense,
    "coalesce": _sparse_only("coalesce"), "is_coalesced": _sparse_only("is_coalesced"),
    "indices": _sparse_only("indices"), "values": _sparse_only("values", "sparse"),
    "_indices": _sparse_only("_indices"), "_values": _sparse_only("_values"),
    "crow_indices": _sparse_only("crow_indices", "sparse row compressed"),
    "col_indices": _sparse_only("col_indices", "sparse row compressed"),
    "_nnz": _sparse_only("_nnz"), "sparse_dim": sparse_dim, "dense_dim": dense_dim,
    # other methods
    "where": where, "view_as": view_as, "reshape_as": reshape_as, "as_subclass": as_subclass,
    "new_zeros": _new_factory(0), "new_ones": _new_factory(1), "new_empty": _new_factory(None),
    "new_full": new_full, "new_tensor": new_tensor, "new_empty_strided": new_empty_strided,
    "resize_": resize_, "resize_as_": resize_as_, "set_": set_, "resize": resize,
    "resize_as": resize_as, "volatile": property(_volatile, _set_volatile),
    "record_stream": record_stream, "conj_physical_": conj_physical_,
    "grad_dtype": property(_grad_dtype), "ormqr": decompositions.ormqr, "map2_": map2_,
    "reinforce": reinforce, "module_load": module_load, "sparse_mask": sparse_mask, "smm": smm,
    "xpu": _not_compiled_with("xpu", "Torch not compiled with XPU enabled"),
    "mtia": _not_compiled_with("mtia", "Torch not compiled with MTIA enabled"), "ipu": _ipu, "storage_type": _storage.storage_type,
    "unsafe_split_with_sizes": split_with_sizes, "as_strided_scatter": ops.as_strided_scatter,
    "T": property(_transposed), "mT": property(_matrix_transposed),
    "H": property(_conjugate_all_transposed), "mH": property(_conjugate_transposed),
    "adjoint": _conjugate_transposed, "conj": ops.conj, "conj_physical": ops.conj_physical,
    "resolve_conj": _identity, "resolve_neg": _identity, "real": property(ops.real),
    "imag": property(ops.imag), "is_conj": _false, "is_neg": _false, "positive": ops.positive,
    "storage_offset": storage_offset, "bernoulli": bernoulli, "multinomial": multinomial,
    "stft": spectral.stft, "istft": spectral.istft,
    "polygamma": polygamma, "polygamma_": polygamma_,
    "split_with_sizes": split_with_sizes, "unsafe_split": ops.split, "split": split,
    "hardshrink": hardshrink, "prelu": prelu,
    "untyped_storage": _storage.untyped_storage, "storage": _storage.typed_storage,
    "unsafe_chunk": ops.chunk, "fix": ops.trunc, "diagflat": ops.diagflat,
    "svd": decompositions.svd_legacy, "qr": decompositions.qr_legacy,
    "symeig": decompositions.symeig_removed, "eig": decompositions.eig_removed,
    "solve": decompositions.solve_removed, "lstsq": decompositions.lstsq_removed,
    "geqrf": decompositions.geqrf, "orgqr": decompositions.householder_product,
    "pinverse": decompositions.pinverse, "matrix_exp": decompositions.matrix_exp,
    "cholesky_solve": decompositions.cholesky_solve,
    "cholesky_inverse": decompositions.cholesky_inverse,
    "triangular_solve": decompositions.triangular_solve, "lu": decompositions.lu_legacy,
    "lu_solve": decompositions.lu_solve_legacy,
    # operators; + and * commute exactly in IEEE arithmetic, so the reflected forms are the same
    "__add__": binary_operator(ops.add), "__radd__": binary_operator(ops.add),
    "__mul__": binary_operator(ops.mul), "__rmul__": binary_operator(ops.mul),
    "__sub__": binary_operator(ops.sub), "__rsub__": binary_operator(_reversed_operands(ops.sub)),
    "__truediv__": binary_operator(ops.div), "__rtruediv__": binary_operator(__rtruediv__),
    "__floordiv__": binary_operator(ops.floor_divide),
    "__rfloordiv__": binary_operator(_reversed_operands(ops.floor_divide)),
    "__mod__": binary_operator(ops.remainder),
    "__rmod__": binary_operator(_reversed_operands(ops.remainder)),
    "__pow__": binary_operator(ops.pow), "__rpow__": binary_operator(_reversed_operands(ops.pow)),
    "__matmul__": binary_operator(ops.matmul),
    "__rmatmul__": binary_operator(_reversed_operands(ops.matmul)),
    "__neg__": ops.neg, "__pos__": __pos__, "__abs__": ops.abs, "__invert__": __invert__,
    "__and__": binary_operator(ops.bitwise_and),
    "__rand__": binary_operator(_reversed_operands(ops.bitwise_and)),
    "__or__": binary_operator(ops.bitwise_or),
    "__ror__": binary_operator(_reversed_operands(ops.bitwise_or)),
    "__xor__": binary_operator(ops.bitwise_xor),
    "__rxor__": binary_operator(_reversed_operands(ops.bitwise_xor)),
    "__lshift__": binary_operator(ops.bitwise_left_shift),
    "__rshift__": binary_operator(ops.bitwise_right_shift),
    "__eq__": binary_operator(ops.eq), "__ne__": binary_operator(ops.ne),
    "__lt__": binary_operator(ops.lt), "__le__": binary_operator(ops.le),
    "__gt__": binary_operator(ops.gt), "__ge__": binary_operator(ops.ge),
    "__getitem__": ops.getitem, "__setitem__": __setitem__,
    "__iadd__": binary_operator(add_), "__isub__": binary_operator(sub_),
    "__imul__": binary_operator(mul_), "__itruediv__": binary_operator(div_),
    "__iand__": _binary_inplace(ops.bitwise_and), "__ior__": _binary_inplace(ops.bitwise_or),
    "__ixor__": _binary_inplace(ops.bitwise_xor),
    # in-place ops
    "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_, "subtract_": subtract_,
    "divide_": divide_, "multiply_": mul_, "true_divide_": div_, "clamp_": clamp_,
    "clip_": clamp_, "clamp_min_": clamp_min_, "clamp_max_": clamp_max_, "scatter_": scatter_,
    "index_put_": index_put_, "masked_fill_": masked_fill_, "zero_": zero_, "fill_": fill_,
    "copy_": copy_, "index_add_": index_add_, "unsqueeze_": unsqueeze_, "squeeze_": squeeze_, "t_": t_,
    "transpose_": transpose_, "swapaxes_": transpose_, "swapdims_": transpose_,
    "uniform_": uniform_, "normal_": normal_, "bernoulli_": bernoulli_, "random_": random_,
    "exponential_": exponential_, "geometric_": geometric_, "log_normal_": log_normal_,
    "cauchy_": cauchy_, "apply_": apply_, "map_": map_,
})
for _op in (ops.neg, ops.exp, ops.sqrt, ops.relu, ops.sigmoid, ops.tanh, ops.abs, ops.square,
            ops.log, ops.log1p, ops.log2, ops.log10, ops.expm1, ops.exp2, ops.rsqrt,
            ops.reciprocal, ops.sin, ops.cos, ops.tan, ops.erf, ops.sign, ops.floor, ops.ceil,
            ops.trunc, ops.frac, ops.sgn, ops.sinh, ops.cosh, ops.asin, ops.acos, ops.atan,
            ops.asinh, ops.acosh, ops.atanh, ops.deg2rad, ops.erfc, ops.erfinv, ops.rad2deg,
            ops.logical_not, ops.bitwise_not, ops.sinc, ops.lgamma, ops.digamma, ops.i0):
    METHODS[_op.__name__ + "_"] = _unary_inplace(_op)
for _op in (ops.atan2, ops.hypot, ops.xlogy, ops.floor_divide, ops.eq, ops.ne, ops.lt, ops.le,
            ops.gt, ops.ge, ops.logical_and, ops.logical_or, ops.logical_xor, ops.remainder,
            ops.fmod, ops.pow, ops.float_power, ops.copysign, ops.heaviside, ops.ldexp, ops.gcd,
            ops.lcm, ops.nextafter, ops.bitwise_and, ops.bitwise_or, ops.bitwise_xor,
            ops.bitwise_left_shift, ops.bitwise_right_shift, ops.igamma, ops.igammac):
    METHODS[_op.__name__ + "_"] = _binary_inplace(_op)
for _op in (ops.lerp, ops.scatter_add, ops.index_fill,
            ops.scatter_reduce, ops.logit, ops.cumprod, ops.cumsum, ops.round, ops.nan_to_num,
            ops.tril, ops.triu, ops.index_copy, ops.masked_scatter, ops.fill_diagonal,
            ops.mvlgamma, ops.index_reduce, ops.put, ops.renorm):
    METHODS[_op.__name__ + "_"] = _inplace_with_arguments(_op)
_masked_scatter_ = METHODS["masked_scatter_"]
_float_power_ = METHODS["float_power_"]


def float_power_(self, exponent):
    """In place, PyTorch refuses a base not already of float_power's double result type."""
    complex_ = self._data.dtype.kind == "c" or (
        exponent._data.dtype.kind == "c" if isinstance(exponent, Tensor)
        else isinstance(exponent, complex))
    wide = np.dtype(np.complex128 if complex_ else np.float64)
    if self._data.dtype != wide:
        raise RuntimeError(f"the base given to float_power_ has dtype "
                           f"{_dtype.scalar_type_name(self._data.dtype)} but the operation's "
                           f"result requires dtype {_dtype.scalar_type_name(wide)}")
    return _float_power_(self, exponent)


METHODS["float_power_"] = float_power_


def masked_scatter_(self, mask, source):
    """In place, PyTorch expands the mask to the input's shape (expand's errors) rather than
    broadcasting the two."""
    if (isinstance(mask, Tensor) and mask._data.dtype == np.bool_ and isinstance(source, Tensor)
            and source._data.dtype == self._data.dtype and mask._data.shape != self._data.shape):
        if mask._data.ndim > self._data.ndim:  # an internal tensor: its C++ type name
            raise RuntimeError(f"expand(CPUBoolType{{{list(mask._data.shape)}}}, "
                               f"size={list(self._data.shape)}): the number of sizes provided "
                               f"({self._data.ndim}) must be greater or equal to the number of "
                               f"dimensions in the tensor ({mask._data.ndim})")
        expanded_shape(mask._data, tuple(self._data.shape))
    return _masked_scatter_(self, mask, source)


METHODS["masked_scatter_"] = masked_scatter_
for _op in (ops.addmm, ops.baddbmm, ops.addmv, ops.addr, ops.addbmm):
    METHODS[_op.__name__ + "_"] = _product_inplace(_op)
METHODS["addcmul_"] = _addc_inplace(ops.addcmul)
METHODS["addcdiv_"] = _addc_inplace(ops.addcdiv)
METHODS.update({
    # PyTorch's aliases of in-place methods
    "absolute_": METHODS["abs_"], "negative_": METHODS["neg_"],
    "arcsin_": METHODS["asin_"], "arccos_": METHODS["acos_"], "arctan_": METHODS["atan_"],
    "arcsinh_": METHODS["asinh_"], "arccosh_": METHODS["acosh_"],
    "arctanh_": METHODS["atanh_"], "arctan2_": METHODS["atan2_"],
    "not_equal_": METHODS["ne_"], "less_": METHODS["lt_"], "less_equal_": METHODS["le_"],
    "greater_": METHODS["gt_"], "greater_equal_": METHODS["ge_"], "fix_": METHODS["trunc_"],
})
# Private entry points of the in-place protocol used by ops and layers.
METHODS.update({"_inplace": apply_inplace, "_write": lambda self, array: write(self, array)})

# PyTorch's argument parser takes NumPy's names for two arguments of its native functions.
_NUMPY_NAMES = {"axis": "dim", "keepdims": "keepdim"}


def numpy_names(function):
    """``function`` also taking ``axis=`` for ``dim=`` and ``keepdims=`` for ``keepdim=``
    (``x.sum(axis=1)``), as PyTorch's functions and methods do; unchanged where it has neither
    argument. The renaming costs one dict check on calls with keywords."""
    inner = function
    while hasattr(inner, "__wrapped__"):  # behind a decorator (autocast_op)
        inner = inner.__wrapped__
    code = getattr(inner, "__code__", None)
    if code is None:
        return function
    names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    if ("dim" not in names and "keepdim" not in names) or "axis" in names:
        return function

    @functools.wraps(function)
    def call(*args, **kwargs):
        if kwargs and ("axis" in kwargs or "keepdims" in kwargs):
            for alias, name in _NUMPY_NAMES.items():
                if alias in kwargs:
                    if name in kwargs:
                        raise TypeError(f"{function.__name__}() got multiple values for "
                                        f"argument '{name}'")
                    kwargs[name] = kwargs.pop(alias)
        return function(*args, **kwargs)
    call.accepts_numpy_names = True
    return call


def _keeps_program_subclass(method):
    """A method that PyTorch never dispatches to ``__torch_function__`` but whose result still
    takes the type of a program's subclass (``x.new_zeros``, ``x.unflatten``)."""
    @functools.wraps(method)
    def keeping(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        kind = type(self)
        if not kind._ember_own and isinstance(result, Tensor) and type(result) is not kind:
            result = _retyped(result, kind)
        return result
    return keeping


for _name in ("new", "new_zeros", "new_ones", "new_empty", "new_full", "new_tensor",
              "new_empty_strided", "unflatten"):
    METHODS[_name] = _keeps_program_subclass(METHODS[_name])
for _name, _method in METHODS.items():
    setattr(Tensor, _name, numpy_names(_method))
del _name, _method, _op
# The __torch_function__ protocol (ember.overrides): Tensor's default implementation.
Tensor._make_subclass = staticmethod(_make_subclass)
Tensor.__torch_function__ = classmethod(overrides._default_torch_function)
