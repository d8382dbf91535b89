"""What every elementwise op shares: operands as Tensors or numbers, PyTorch's type promotion,
gradients unbroadcast and cast back, the binary and unary base classes, and the no-grad fast
path."""
import numpy as np

from ... import _halfcast, _threads
from ..._dtype import (
    _FROM_NUMPY, accumulation_dtype, from_numpy_dtype, get_default_dtype, is_floating, result_type,
    scalar_type_name, wrapped_int)
from ..._layout import LayoutStorage, pointwise_layout, unary_layout
from ...autograd.function import NOT_IMPLEMENTED, Op, _BackwardOutput
from ..._grad_state import _grad_state, fast_paths as _fast_paths
from ...tensor import Tensor, named_type
from .._broadcast import mismatch_error, unbroadcast

_PYTHON_NUMBERS = (int, float, bool)


def _promote(a, b, wrap=True):
    """Bring two operands (arrays or Python numbers) to PyTorch's result dtype.

    Python numbers stay Python numbers when NumPy's weak-scalar rule already gives PyTorch's
    answer, so ``float32 * 2.0`` stays float32 without a cast. A Python int with an integer
    tensor wraps into its dtype as in PyTorch, unless ``wrap`` is False (ops that compute in
    floating point, such as true division, take the int's value).
    """
    a_is_array = isinstance(a, np.ndarray)
    b_is_array = isinstance(b, np.ndarray)
    if a_is_array and b_is_array:
        if a.dtype == b.dtype:
            return a, b
    elif a_is_array and type(b) in (int, float):
        if a.dtype.kind == "f":
            return a, b
        if type(b) is int and a.dtype.kind in "iu":
            return a, (wrapped_int(b, a.dtype) if wrap else b)
    elif b_is_array and type(a) in (int, float):
        if b.dtype.kind == "f":
            return a, b
        if type(a) is int and b.dtype.kind in "iu":
            return (wrapped_int(a, b.dtype) if wrap else a), b
    target = _result_dtype(a, b).numpy
    return _cast(a, target), _cast(b, target)


def _promote_unrounded(a, b, wrap=True):
    """``_promote`` for mul and div: a Python number with a float16 or bfloat16 tensor stays
    unrounded, a float32 value, as PyTorch computes these two in float32 (its opmath; the result
    is rounded by ``_reduced_result``); add and sub round the number to the tensor's dtype
    first, as PyTorch does."""
    promoted_a, promoted_b = _promote(a, b, wrap)
    if type(a) in (int, float) and _is_reduced(promoted_b):
        return np.float32(a), promoted_b
    if type(b) in (int, float) and _is_reduced(promoted_a):
        return promoted_a, np.float32(b)
    return promoted_a, promoted_b


def _is_reduced(value):
    """Whether ``value`` is a float16 or bfloat16 (NumPy kind V) array."""
    return type(value) is np.ndarray and value.dtype.itemsize == 2 and value.dtype.kind in "fV"


def _reduced_result(result, a, b):
    """A mul or div result back in float16/bfloat16 where an operand was (see
    ``_promote_unrounded``)."""
    if result.dtype == np.float32:
        if _is_reduced(a):
            return _halfcast.astype(result, a.dtype)
        if _is_reduced(b):
            return _halfcast.astype(result, b.dtype)
    return result


def _result_dtype(*operands):
    tensors = []
    zero_dim = []
    numbers = []
    for operand in operands:
        if isinstance(operand, np.ndarray):
            (tensors if operand.ndim else zero_dim).append(_FROM_NUMPY[operand.dtype])
        elif operand is not None:
            numbers.append(operand)
    return result_type(tensors, zero_dim, numbers)


def _cast(value, numpy_dtype):
    if isinstance(value, np.ndarray):
        return value if value.dtype == numpy_dtype else value.astype(numpy_dtype)
    if isinstance(value, (bool, np.bool_)) and numpy_dtype.kind == "b":
        return np.bool_(value)
    return np.asarray(value, dtype=numpy_dtype)


def _to_operand(value, operation, name="other", position=2):
    if isinstance(value, Tensor):
        return value
    if isinstance(value, _PYTHON_NUMBERS):
        return value
    if isinstance(value, np.ndarray):
        return Tensor._wrap(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, complex):
        return value
    raise _not_tensor(operation, value, name, position)


def _not_tensor(operation, value, name="input", position=1):
    """PyTorch's TypeError for an argument that must be a Tensor."""
    kind = type(value)
    qualified = kind.__qualname__ if kind.__module__ == "builtins" else \
        f"{kind.__module__.partition('.')[0]}.{kind.__qualname__}"
    return TypeError(f"{operation}(): argument '{name}' (position {position}) must be Tensor, "
                     f"not {qualified}")


def _check_tensor_elements(items, argument, operation=None):
    """PyTorch's TypeError for a sequence argument (``argument``: its position or quoted name)
    with an element that is not a Tensor; ``operation`` starts the message where PyTorch's does."""
    for position, item in enumerate(items):
        if not isinstance(item, Tensor):
            start = f"{operation}(): " if operation else ""
            raise TypeError(f"{start}expected Tensor as element {position} in argument {argument}, "
                            f"but got {named_type(item)}")


def _not_implemented(kernel, dtype):
    """PyTorch's error for a dtype its CPU kernel does not cover ('"abs_cpu" not implemented
    for 'Bool''), raised before anything is computed."""
    return NotImplementedError(f'"{kernel}" not implemented for \'{scalar_type_name(dtype)}\'')


def _tensor_input(operation, input):
    """``input``'s array, or PyTorch's TypeError when it is not a Tensor."""
    if not isinstance(input, Tensor):
        raise _not_tensor(operation, input)
    return input._data


def _tensors_only(operation, input, other):
    """Ops that PyTorch defines for two tensors only (no number on either side)."""
    if not isinstance(input, Tensor):
        raise _not_tensor(operation, input)
    if not isinstance(other, Tensor):
        raise _not_tensor(operation, other, "other", 2)


def _unary(op, name):
    """The public function of a one-input op: PyTorch's TypeError for an input that is not a
    Tensor, then the op."""
    def function(input):
        if not isinstance(input, Tensor):
            raise _not_tensor(name, input)
        return op.apply(input)
    function.__name__ = function.__qualname__ = name
    function.__module__ = op.__module__
    return function


def _raw(value):
    return value._data if isinstance(value, Tensor) else value


def _operands(input, other, operation):
    """Both operands of a binary op as Tensors or numbers. A NumPy array operand makes the pair
    follow NumPy's promotion, as ``torch_tensor + ndarray`` does (NumPy computes it there)."""
    if type(input) is np.ndarray or type(other) is np.ndarray:
        arrays = [_raw(value) for value in (input, other) if not isinstance(value, _PYTHON_NUMBERS)]
        target = np.result_type(*arrays)
        if operation == "div" and target.kind in "biu":
            target = np.dtype(np.float64)  # NumPy's true division of integers
        input, other = [_numpy_cast(value, target, operation) for value in (input, other)]
    return _common_float(_to_operand(input, operation, "input", 1),
                         _to_operand(other, operation))


def _common_float(a, b):
    """Floating tensors of two dtypes, one of them needing grad, cast to their result dtype by
    the recorded cast: the op then saves its inputs themselves, not private promoted copies
    that a create_graph backward would see as constants."""
    if isinstance(a, Tensor) and isinstance(b, Tensor) and (a._requires_grad or b._requires_grad):
        a_dtype = a._data.dtype
        b_dtype = b._data.dtype
        if a_dtype != b_dtype and a_dtype.kind == "f" and b_dtype.kind == "f" and \
                not isinstance(b._data, LayoutStorage):  # a sparse operand promotes in its op
            target = _result_dtype(a._data, b._data)
            return a.to(target), b.to(target)
    return a, b


def _numpy_cast(value, target, operation):
    if isinstance(value, Tensor):
        if value._data.dtype == target:
            return value
        return value.to(from_numpy_dtype(target))  # TypeError for dtypes ember lacks
    if isinstance(value, np.ndarray) and value.dtype != target:
        return value.astype(target)
    return value


def _refuse_integral(a, b, kernel):
    """PyTorch's error for integer or bool operands (their promoted dtype) of ops that only
    have floating kernels."""
    dtype = _result_dtype(a, b).numpy
    if dtype.kind != "f":
        raise _not_implemented(kernel, dtype)


def _floating_pair(a, b):
    """Promote a binary op's operands, then lift integers to the default float dtype."""
    a, b = _promote(a, b, False)
    if type(a) is not np.ndarray or type(b) is not np.ndarray:  # a Python number stays one
        return (_floating(a) if type(a) is np.ndarray else float(a),
                _floating(b) if type(b) is np.ndarray else float(b))
    return _floating(a), _floating(b)


def _grad_for(grad, shape, dtype):
    """Undo broadcasting and return the gradient in the input's (NumPy) dtype: the real part
    of a complex gradient for a real input (PyTorch's rule)."""
    grad = unbroadcast(grad, shape)
    if type(grad) is np.ndarray:
        if grad.dtype == dtype:
            return grad
        if grad.dtype.kind == "c" and dtype is not None and dtype.kind != "c":
            grad = grad.real
        return grad.astype(dtype)
    xp = grad.__array_namespace__()
    if isinstance(grad, Tensor):
        if grad.is_complex() and dtype is not None and dtype.kind != "c":
            grad = xp.real(grad)
    elif grad.dtype.kind == "c" and dtype is not None and dtype.kind != "c":
        grad = grad.real  # a NumPy scalar
    return xp.astype(grad, dtype, copy=False)


def _log(xp, value):
    """log of a backward operand: through ``xp`` for an array or Tensor, a plain float for a
    Python number (a weak scalar, so float32 gradients stay float32)."""
    if isinstance(value, _PYTHON_NUMBERS):
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.log(value))
    return xp.log(value)


def _shape_dtype(value):
    if isinstance(value, np.ndarray):
        return value.shape, value.dtype
    return (), None


def _shape_error(error, *operands):
    """PyTorch's RuntimeError for operands whose shapes do not broadcast (NumPy raises
    ValueError); any other ValueError is returned unchanged."""
    shapes = [np.shape(_raw(operand)) for operand in operands if operand is not None]
    for first in range(len(shapes)):
        for second in range(first + 1, len(shapes)):
            mismatch = mismatch_error(shapes[first], shapes[second])
            if mismatch is not None:
                return mismatch
    return error


class _Binary(Op):
    """Remembers operand shapes and dtypes so backward can unbroadcast and cast."""

    output_layout = staticmethod(pointwise_layout)

    @staticmethod
    def _remember(ctx, a, b):
        ctx.a_meta = (a.shape, a.dtype) if type(a) is np.ndarray else ((), None)
        ctx.b_meta = (b.shape, b.dtype) if type(b) is np.ndarray else ((), None)


class _OfOperands(_Binary):
    """out = function(a, b) on the operands after ``promote`` (by default to their result dtype,
    integers lifted to floating point), both saved for backward: atan2, xlogy, maximum, ..."""

    promote = staticmethod(_floating_pair)
    differentiable_backward = True

    @classmethod
    def forward(cls, ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = cls.promote(a, b)
        ctx.save_for_backward(a, b)
        return cls.function(a, b)


def recorded_without_derivative(results, operation, *inputs):
    """``results`` (a Tensor or a tuple of them) recorded as PyTorch records an op it has no
    derivative for: its NotImplemented node over the ``inputs`` that require grad, whose
    backward raises PyTorch's error naming ``operation`` (``aten::heaviside``, ...); as they
    are when none requires grad or grad mode is off."""
    return recorded_refusing(results, NOT_IMPLEMENTED,
                             (RuntimeError, f"derivative for {operation} is not implemented"),
                             *inputs)


def recorded_refusing(results, node_name, error, *inputs):
    """``results`` recorded under a node named ``node_name`` whose backward raises ``error``
    (exception type, message), where one of the ``inputs`` requires grad and grad mode is on."""
    edges = tuple((tensor.grad_fn, tensor._output_nr) if tensor.grad_fn is not None
                  else (tensor, 0) for tensor in inputs
                  if isinstance(tensor, Tensor) and tensor._requires_grad)
    if not edges or not _grad_state.get()[0]:
        return results

    def linked(result):
        return _BackwardOutput.link(result, edges, node_name, error)
    if isinstance(results, Tensor):
        return linked(results)
    return tuple(linked(result) for result in results)


def _binary_math(cls, input, other, operation, number_input=True, numbers_alone=False):
    """``cls`` on two operands, with PyTorch's TypeErrors: ``number_input`` says whether the
    first may be a Python number, ``numbers_alone`` whether both may."""
    if not isinstance(input, Tensor) and (not number_input or not numbers_alone
                                          and not isinstance(other, Tensor)):
        raise _not_tensor(operation, input)
    try:
        return cls.apply(*_operands(input, other, operation))
    except ValueError as error:
        raise _shape_error(error, input, other) from None


# Binary ops that PyTorch computes in float32 for a float16 tensor and a Python number.
_OPMATH_UFUNCS = (np.multiply, np.true_divide)


def _plain_binary(ufunc, a, b):
    """The no-grad fast path of binary ops (arithmetic and comparisons): when nothing is to be
    recorded and the operands are float tensors of one dtype, or a float tensor and a Python
    number, the ufunc straight on the arrays, skipping Function bookkeeping. None when it does
    not apply, and inside inference_mode, where the op's own path marks inference tensors."""
    grad_enabled, inference = _grad_state.get()
    if inference or not _fast_paths[0]:
        return None
    if isinstance(a, Tensor):
        if a._requires_grad and grad_enabled:
            return None
        x = a._data
    elif type(a) is float or type(a) is int:
        x = a
    else:
        return None
    if isinstance(b, Tensor):
        if b._requires_grad and grad_enabled:
            return None
        y = b._data
    elif type(b) is float or type(b) is int:
        y = b
    else:
        return None
    if type(x) is np.ndarray:
        if x.dtype.kind != "f" or type(y) is np.ndarray and y.dtype != x.dtype:
            return None
        if type(y) is not np.ndarray and ufunc in _OPMATH_UFUNCS and x.dtype.itemsize == 2:
            return None  # float16 times a number: in float32 (``_promote_unrounded``)
    elif type(y) is not np.ndarray or y.dtype.kind != "f":
        return None
    elif ufunc in _OPMATH_UFUNCS and y.dtype.itemsize == 2:
        return None
    try:
        if type(x) is np.ndarray and x.dtype.itemsize > 2:
            result = (_threads.binary(ufunc, x, y) if x.size >= _threads.ELEMENT_GRAIN
                      else ufunc(x, y))
        elif (x.dtype if type(x) is np.ndarray else y.dtype).itemsize == 2:
            result = _halfcast.binary(ufunc, x, y)
            if result is None:
                result = ufunc(x, y)
        else:  # a number and a float32/float64 array
            result = ufunc(x, y)
    except TypeError:
        return None  # a sparse tensor's storage: the op's own path names the op in its error
    if type(result) is not np.ndarray:  # ufuncs return NumPy scalars for 0-d operands
        result = np.array(result)
    if (type(x) is np.ndarray and not x.flags.c_contiguous) or \
            (type(y) is np.ndarray and not y.flags.c_contiguous):
        result = pointwise_layout(result, (x, y))  # (row-major operands: nothing to lay out)
    return Tensor._wrap(result)


def _unrecorded_binary(ufunc, name, doc, check_operand=None, number_input=False,
                       number_other=True, ordering=False):
    """A binary op that never records a node (comparisons, logical and bitwise ops): the no-grad
    fast path where it applies, else ``ufunc`` on both operands promoted to PyTorch's result
    dtype. ``check_operand(array, name)`` refuses dtypes the op lacks; such ops skip the fast
    path, which would compute on floats. ``number_input``/``number_other``: whether PyTorch
    takes a Python number on that side (else TypeError)."""
    def operation(input, other):
        if not isinstance(input, Tensor) and (not number_input or not isinstance(other, Tensor)):
            raise _not_tensor(name, input)
        if not number_other and not isinstance(other, Tensor):
            raise _not_tensor(name, other, "other", 2)
        try:
            if check_operand is None:
                out = _plain_binary(ufunc, input, other)
                if out is not None:
                    return out
            a = _to_operand(input, name, "input", 1)
            b = _to_operand(other, name)
            a, b = _promote(_raw(a), _raw(b))
            if check_operand is not None:
                check_operand(np.result_type(a, b), name)
            if ordering and np.result_type(a, b).kind == "c":  # (complex skips the fast path)
                raise _not_implemented(f"{name}_cpu", np.result_type(a, b))
            return Tensor._result(pointwise_layout(np.asarray(ufunc(a, b)), (a, b)))
        except ValueError as error:
            raise _shape_error(error, input, other) from None
    operation.__name__ = name
    operation.__doc__ = doc
    return operation


def _widened(x):
    """float16 and bfloat16 computed in float32, as PyTorch's CPU kernels do: formulas of several
    steps then round once, at the end (the caller casts back)."""
    work = accumulation_dtype(x.dtype)
    return x if work == x.dtype else _halfcast.astype(x, work)


def _floating(x):
    """Unary math on integer tensors computes in the default float dtype (PyTorch)."""
    if not is_floating(x.dtype) and x.dtype.kind != "c":
        return x.astype(get_default_dtype().numpy)
    return x


class _OfInput(Op):
    """y = function(x), backward ``gradient(xp, grad, x)`` from the saved input, written against
    the array namespace ``xp`` (NumPy, or ember's under create_graph: the backward is
    differentiable). ``quiet`` ops return inf/nan at the edges of their domain without NumPy
    warnings, as PyTorch does (opt-in: np.errstate costs about a microsecond). Large arrays
    are computed in ranges over ember's threads."""

    output_layout = staticmethod(pointwise_layout)
    _saved_names = ("self",)

    quiet = False
    differentiable_backward = True

    @classmethod
    def forward(cls, ctx, x):
        ctx.save_for_backward(x)
        return _apply_unary(cls, _floating(x))

    @classmethod
    def backward(cls, ctx, grad):
        (x,) = ctx.saved_tensors
        return _apply_gradient(cls, ctx.xp, grad, x)


class _OfInputAnd(Op):
    """y = function(x, argument) with an argument that is not differentiable (logit's eps,
    polygamma's n, mvlgamma's p), backward ``gradient(xp, grad, x, argument)`` from the saved
    input, written against ``xp`` as _OfInput's."""

    output_layout = staticmethod(unary_layout)

    differentiable_backward = True

    @classmethod
    def forward(cls, ctx, x, argument):
        x = _floating(x)
        ctx.argument = argument
        ctx.save_for_backward(x)
        return cls.function(x, argument)

    @classmethod
    def backward(cls, ctx, grad):
        (x,) = ctx.saved_tensors
        return cls.gradient(ctx.xp, grad, x, ctx.argument), None


def _call(function, *arguments):
    return function(*arguments)


# ``_call`` without NumPy's divide and invalid warnings. np.errstate as a decorator sets NumPy's
# per-context error state around each call (thread-safe, reentrant) without building a context
# manager: ~0.4 us less than a ``with np.errstate(...)`` block, on every quiet op.
_quietly = np.errstate(divide="ignore", invalid="ignore")(_call)


def _apply_unary(cls, x):
    """``cls.function(x)``: quietly where the op is quiet, on ember's threads when x is large."""
    if type(x) is np.ndarray and x.size >= _threads.ELEMENT_GRAIN:
        return _threads.pointwise(_quiet(cls, cls.function), x)
    if cls.quiet:
        return _quietly(cls.function, x)
    return cls.function(x)


def _apply_gradient(cls, xp, grad, value):
    """``cls.gradient(xp, grad, value)`` (value: the saved input or output), as _apply_unary.
    For complex values it is conj(gradient(conj(grad))), grad times the conjugate derivative:
    PyTorch's convention for holomorphic functions (every gradient here is linear in grad)."""
    if xp is np:
        if value.dtype.kind == "c":
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.conj(cls.gradient(np, np.conj(grad), value))
    elif value.is_complex():
        return xp.conj(cls.gradient(xp, xp.conj(grad), value))
    if xp is np and grad.size >= _threads.ELEMENT_GRAIN:
        return _threads.pointwise(_quiet(cls, lambda g, v: cls.gradient(np, g, v)), grad, value)
    if cls.quiet:
        return _quietly(cls.gradient, xp, grad, value)
    return cls.gradient(xp, grad, value)


def _quiet(cls, function):
    """``function``, under np.errstate of its own where ``cls`` is quiet (NumPy's error state
    is per thread: a worker does not see the caller's)."""
    if not cls.quiet:
        return function

    def quietly(*arrays):
        return _quietly(function, *arrays)
    return quietly


class _OfOutput(Op):
    """y = function(x), backward ``gradient(xp, grad, y)`` from the saved output: kept instead of
    the input where the derivative is cheaper from y (exp, tanh, sqrt)."""

    output_layout = staticmethod(pointwise_layout)
    _saved_names = ("result",)

    quiet = False
    differentiable_backward = True

    @classmethod
    def forward(cls, ctx, x):
        out = _apply_unary(cls, _floating(x))
        if type(out) is not np.ndarray:  # a ufunc's NumPy scalar for a 0-d input
            out = np.asarray(out)
        ctx.save_for_backward(out)  # the output itself, so create_graph differentiates it
        return out

    @classmethod
    def backward(cls, ctx, grad):
        (out,) = ctx.saved_tensors
        return _apply_gradient(cls, ctx.xp, grad, out)


