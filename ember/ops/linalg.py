"""Matrix products: matmul (1-D, 2-D, batched with broadcasting) and its named special cases."""
import functools
import math

import numpy as np

from .. import _halfcast, _threads
from .._dtype import (accumulation_dtype, complex_dtype, cpp_type_name, is_floating,
                      real_dtype, result_type, scalar_type_name)
from .._layout import contiguous_format, strided
from ..autograd.function import Op, forward_ad_unsupported, torch_named, without_double_backward
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor, _normalize_dim, warn_once
from ._broadcast import mismatch_error, unbroadcast
from ._return_types import _EigResult, _EighResult, _SignLogAbsDet
from .elementwise.arithmetic import scalar_first_product
from .elementwise.casting import autocast_op, computed_in_float32
from .elementwise.complex import conj_of
from .index import index_select, where
from .reduce import vector_norm
from .shape import broadcast_tensors, require_int, require_tensor, unsqueeze

__all__ = ["addbmm", "addmm", "addmv", "addr", "baddbmm", "bmm", "cdist", "chain_matmul",
           "cholesky", "cross", "det", "dist", "dot", "einsum", "ger", "inner", "inverse", "kron",
           "logdet", "matmul", "matrix_power", "mm", "mv", "outer", "slogdet", "tensordot", "vdot"]


class _LinAlgError(RuntimeError):
    """A matrix that a linear-algebra function cannot take (singular, not positive-definite):
    torch.linalg.LinAlgError, a RuntimeError named _LinAlgError as in PyTorch."""


LinAlgError = _LinAlgError


def matmul_arrays(a, b):
    """``np.matmul``, with float16 and bfloat16 multiplied in float32 (BLAS) and the result
    rounded once, as PyTorch's CPU kernels compute them (NumPy has no float16 BLAS and would
    sum in float16, slowly)."""
    work = accumulation_dtype(a.dtype)
    if work == a.dtype:
        if (b.ndim > 2 and a.ndim > 2 and b.strides[-2] == b.itemsize != b.strides[-1]
                and b.shape[-2] <= _TRANSPOSED_DEPTH and 8 * a.shape[-2] >= b.shape[-1]
                and b.dtype in _BLAS_FLOATS):
            # a batch of small transposed matrices (attention's q @ k^T, the backward's
            # grad @ v^T): OpenBLAS's per-matrix transposed kernels are slower than a copy plus
            # its plain ones ((128, 32, 16) @ (128, 16, 32) 184 -> 139 us), same float32 bits;
            # not for few rows against many columns, the copy's cost (decoding: one query
            # row against 512 keys, 11 -> 22 us)
            b = np.ascontiguousarray(b)
        return _threads.matmul(a, b)
    return _halfcast.astype(np.matmul(_halfcast.widened(a), _halfcast.widened(b)), a.dtype)


# Depths up to which that copy pays (at 64: (128, 8, 64) @ (128, 64, 8) 35 -> 171 us).
_TRANSPOSED_DEPTH = 32
_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _product_transposed(a, b, transpose_a, transpose_b):
    """op(a) @ op(b), op a transpose of the last two dims where asked: on arrays, the product of
    transposed views; on Tensors, one recorded MatMul node that transposes inside (no separate
    transpose nodes in a create_graph backward)."""
    if type(a) is np.ndarray:
        return matmul_arrays(a.mT if transpose_a else a, b.mT if transpose_b else b)
    return MatMul.apply(a, b, transpose_a, transpose_b)


# PyTorch's grad_fn names of matmul by operand dims (others: UnsafeViewBackward0).
_PRODUCT_NAMES = {(1, 1): "DotBackward0", (2, 1): "MvBackward0", (1, 2): "SqueezeBackward4",
                  (2, 2): "MmBackward0"}


class MatMul(Op):
    """op(a) @ op(b): ``transpose_a``/``transpose_b`` (for operands of at least 2 dims) transpose
    the last two dims first; matmul itself never sets them, the backward's products do."""

    differentiable_backward = True
    transposes = (False, False)

    @staticmethod
    def forward(ctx, a, b, transpose_a=False, transpose_b=False):
        needs = ctx.needs_input_grad
        ctx.save_for_backward(b if needs[0] else None, a if needs[1] else None)
        ctx.shapes = (a.shape, b.shape)
        if transpose_a or transpose_b:
            ctx.transposes = (transpose_a, transpose_b)
            a = a.mT if transpose_a else a
            b = b.mT if transpose_b else b
        return np.asarray(matmul_arrays(a, b))

    def name(self):
        """PyTorch's node for the operands' dims (matmul dispatches to dot, mv, mm, or a
        folded product it views back)."""
        if self._torch_name is not None:
            return self._torch_name
        dims = (len(self.shapes[0]), len(self.shapes[1]))
        return _PRODUCT_NAMES.get(dims, "UnsafeViewBackward0")

    @staticmethod
    def backward(ctx, grad):
        b, a = ctx.saved_tensors
        # complex operands: the gradients multiply by their conjugates (real ones pass as they are)
        a, b = conj_of(a), conj_of(b)
        a_shape, b_shape = ctx.shapes
        needs = ctx.needs_input_grad
        transpose_a, transpose_b = ctx.transposes
        if transpose_a or transpose_b:
            return _transposed_product_grads(grad, a, b, ctx.shapes, needs, transpose_a,
                                             transpose_b)
        # Promote 1-D operands to matrices as matmul does, then undo it on the gradients.
        a_vector = len(a_shape) == 1
        b_vector = len(b_shape) == 1
        a_matrix = (1,) + a_shape if a_vector else a_shape
        b_matrix = b_shape + (1,) if b_vector else b_shape
        if a_vector or b_vector:
            rows = 1 if a_vector else a_shape[-2]
            columns = 1 if b_vector else b_shape[-1]
            grad = grad.reshape(grad.shape[:grad.ndim - (not a_vector) - (not b_vector)]
                                + (rows, columns))
        grad_a = grad_b = None
        if needs[0]:
            b_view = b.reshape(b_matrix) if b_vector else b
            grad_a = unbroadcast(_product_transposed(grad, b_view, False, True), a_matrix)
            if a_vector:
                grad_a = grad_a.reshape(a_shape)
        if needs[1]:
            a_view = a.reshape(a_matrix) if a_vector else a
            grad_b = unbroadcast(_product_transposed(a_view, grad, True, False), b_matrix)
            if b_vector:
                grad_b = grad_b.reshape(b_shape)
        return grad_a, grad_b


def _transposed_product_grads(grad, a, b, shapes, needs, transpose_a, transpose_b):
    """The gradients of op(a) @ op(b) in the layouts of ``a`` and ``b`` themselves: each is again
    one product of transposed operands (with c = op(a) @ op(b): da = grad @ op(b)^T, or its
    transpose op(b) @ grad^T when a was transposed; likewise for b)."""
    grad_a = grad_b = None
    if needs[0]:
        if transpose_a:
            grad_a = _product_transposed(b, grad, transpose_b, True)
        else:
            grad_a = _product_transposed(grad, b, False, not transpose_b)
        grad_a = unbroadcast(grad_a, shapes[0])
    if needs[1]:
        if transpose_b:
            grad_b = _product_transposed(grad, a, True, transpose_a)
        else:
            grad_b = _product_transposed(a, grad, not transpose_a, False)
        grad_b = unbroadcast(grad_b, shapes[1])
    return grad_a, grad_b


def _addmv_dtype_error(matrix_dtype, vector_dtype):
    """A matrix times a vector of another dtype: PyTorch's mv is an addmv into a buffer of the
    vector's dtype, and its error lists the three."""
    vector_type = scalar_type_name(vector_dtype)
    return RuntimeError(f"addmv input tensors must have the same dtype, but got {vector_type}, "
                        f"{scalar_type_name(matrix_dtype)}, and {vector_type}")


def _checked_matmul(input, other):
    """matmul without autocast: the named special cases (mv, dot, ...) that PyTorch does not
    cast run through this."""
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"matmul(): argument 'other' must be Tensor, not "
                        f"{type(other if isinstance(input, Tensor) else input).__name__}")
    if input.layout is not strided or other.layout is not strided:
        return (input if input.layout is not strided else other)._product(input, other, "matmul")
    a = input._data
    b = other._data
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    if a.dtype != b.dtype:
        if a.ndim == 1 and b.ndim == 1:
            raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                               f"{scalar_type_name(a.dtype)} and {scalar_type_name(b.dtype)}")
        if b.ndim == 1:
            raise _addmv_dtype_error(a.dtype, b.dtype)
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{cpp_type_name(a.dtype)} != "
                           f"{cpp_type_name(b.dtype)}")
    if a.dtype == np.bool_:
        raise NotImplementedError("matmul: not implemented for 'Bool' tensors (PyTorch's CPU "
                                  "kernels have none)")
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != inner_b or (a.ndim > 2 or b.ndim > 2) and \
            mismatch_error(a.shape[:-2], b.shape[:-2]) is not None:
        raise matmul_shape_error(a.shape, b.shape, _folds(input, other))
    return MatMul.apply(input, other)


def matmul_shape_error(a, b, folds):
    """PyTorch's error for matmul operands of shapes ``a`` and ``b`` that do not fit, in the
    words of the kernel its matmul picks (ATen's _matmul_impl): dot, mv or mm for up to 2-D
    operands; with a batch, mm or mv on the larger operand folded into a matrix where ``folds``
    (see _folds), else bmm after broadcasting the batch dims."""
    if len(a) == 1 and len(b) == 1:
        return RuntimeError(f"inconsistent tensor size, expected tensor [{a[0]}] and src "
                            f"[{b[0]}] to have the same number of elements, but got {a[0]} and "
                            f"{b[0]} elements respectively")
    if len(a) <= 2 and len(b) <= 2:
        matrix = a if len(a) == 2 else (1, a[0])
        return _mm_or_mv_error(matrix, b)
    if folds:
        if len(a) >= len(b):
            folded, small = a, b
        else:  # the larger operand's transpose, times the smaller one's
            folded = b[:-2] + (b[-1], b[-2])
            small = (a[1], a[0]) if len(a) == 2 else a
        return _mm_or_mv_error((math.prod(folded[:-1]), folded[-1]), small)
    mismatch = mismatch_error(a[:-2], b[:-2])
    if mismatch is not None:
        return mismatch
    batch = math.prod(np.broadcast_shapes(a[:-2], b[:-2]))
    inner_b = b[0] if len(b) == 1 else b[-2]
    return RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                        f"[{batch}, {a[-1]}] but got: [{batch}, {inner_b}].")


def _mm_or_mv_error(matrix, right):
    if len(right) == 1:
        return RuntimeError(f"size mismatch, got input ({matrix[0]}), mat "
                            f"({matrix[0]}x{matrix[1]}), vec ({right[0]})")
    return RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({matrix[0]}x{matrix[1]} "
                        f"and {right[0]}x{right[1]})")


def _folds(input, other):
    """ATen's should_fold: whether matmul folds the batch of its larger operand (3-D or more)
    into the rows of one matrix, the other being 1-D or 2-D: when the smaller one requires grad,
    or when the fold is a view (the larger one's leading dims contiguous)."""
    larger_first = input._data.ndim >= other._data.ndim
    larger, smaller = (input, other) if larger_first else (other, input)
    if larger._data.ndim < 3 or smaller._data.ndim > 2:
        return False
    if smaller.requires_grad:
        return True
    if input._data.ndim == 2:
        return False
    if larger._data.size == 0:
        return True
    shape, strides = larger._data.shape, larger.stride()
    if not larger_first:  # the larger operand enters transposed
        shape = shape[:-2] + (shape[-1], shape[-2])
        strides = strides[:-2] + (strides[-1], strides[-2])
    return all(strides[i] == strides[i + 1] * shape[i + 1] for i in range(len(shape) - 2))


def _require_tensors(operation, *named):
    """PyTorch's TypeError for the first of the ``(name, value)`` arguments that is not a
    Tensor."""
    for position, (name, value) in enumerate(named, 1):
        require_tensor(value, operation, name, position)


@autocast_op("matmul")
def matmul(input, other):
    return _checked_matmul(input, other)


@autocast_op("mm")
def mm(input, mat2):
    _require_tensors("mm", ("input", input), ("mat2", mat2))
    if input.layout is not strided or mat2.layout is not strided:
        return (input if input.layout is not strided else mat2)._product(input, mat2, "mm")
    if input._data.ndim != 2 or mat2._data.ndim != 2:
        raise RuntimeError("self must be a matrix" if input._data.ndim != 2 else
                           "mat2 must be a matrix")
    return _checked_matmul(input, mat2)


@autocast_op("bmm")
def bmm(input, mat2):
    _require_tensors("bmm", ("input", input), ("mat2", mat2))
    if input._data.ndim != 3 or mat2._data.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor" if input._data.ndim != 3 else
                           "batch2 must be a 3D tensor")
    if input._data.shape[0] != mat2._data.shape[0] or \
            input._data.shape[2] != mat2._data.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input._data.shape[0]}, {input._data.shape[2]}] but got: "
                           f"[{mat2._data.shape[0]}, {mat2._data.shape[1]}].")
    if input._data.dtype != mat2._data.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(input._data.dtype)} but "
                           f"found {scalar_type_name(mat2._data.dtype)}")
    return torch_named(_checked_matmul(input, mat2), "BmmBackward0")


def mv(input, vec):
    _require_tensors("mv", ("input", input), ("vec", vec))
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError("vector + matrix @ vector expected, got "
                           f"{input._data.ndim}, {vec._data.ndim}")
    rows, columns = input._data.shape
    if columns != vec._data.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{columns}), vec "
                           f"({vec._data.shape[0]})")
    return _checked_matmul(input, vec)


def dot(input, other):
    _require_tensors("dot", ("input", input), ("other", other))
    if input._data.ndim != 1 or other._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input._data.ndim}D and "
                           f"{other._data.ndim}D tensors")
    return _checked_matmul(input, other)


def outer(input, vec2):
    _require_tensors("outer", ("input", input), ("vec2", vec2))
    for name, vector in (("self", input), ("vec2", vec2)):
        if vector._data.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got "
                               f"{vector._data.ndim}-D")
    return unsqueeze(input, 1) * unsqueeze(vec2, 0)


# ---- einsum and the contractions built on it -----------------------------------------------------
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# PyTorch's order of subscripts (an implicit output lists them so; sublists number them so)
_LETTERS_UPPER_FIRST = _LETTERS[26:] + _LETTERS[:26]


@functools.lru_cache(maxsize=256)  # an equation is checked once, not at every call
def _check_subscripts(equation, count):
    """PyTorch's scan of the operands' subscripts, character by character: letters, spaces, one
    ``...`` per operand, and commas for as many operands as were given."""
    inputs_text = equation.split("->", 1)[0]
    operand = 0
    ellipsis = False
    position = 0
    while position < len(inputs_text):
        character = inputs_text[position]
        if character == ".":
            if ellipsis:
                raise RuntimeError(f"einsum(): found '.' for operand {operand} for which an "
                                   f"ellipsis was already found")
            if inputs_text[position + 1:position + 3] != "..":
                raise RuntimeError(f"einsum(): found '.' for operand {operand} that is not part "
                                   f"of any ellipsis")
            ellipsis = True
            position += 2
        elif character == ",":
            operand += 1
            ellipsis = False
            if operand >= count:
                raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                                   "equation")
        elif character != " " and character not in _LETTERS:
            raise RuntimeError(f"einsum(): invalid subscript given at index {position} in the "
                               f"equation string, subscripts must be in [a-zA-Z]")
        position += 1
    if operand != count - 1:
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")


@functools.lru_cache(maxsize=256)
def _check_output(output_text, offset, expanded):
    """PyTorch's scan of the output subscripts (``offset``: where they start in the equation)."""
    ellipsis = False
    seen = set()
    position = 0
    while position < len(output_text):
        character = output_text[position]
        if character == ".":
            if ellipsis:
                raise RuntimeError("einsum(): found '.' for output but an ellipsis (...) was "
                                   "already found")
            if output_text[position + 1:position + 3] != "..":
                raise RuntimeError("einsum(): found '.' for output that is not part of any "
                                   "ellipsis (...)")
            ellipsis = True
            position += 2
        elif character != " ":
            if character not in _LETTERS:
                raise RuntimeError(f"einsum(): invalid subscript given at index "
                                   f"{offset + position} in the equation string, subscripts must "
                                   f"be in [a-zA-Z]")
            if character in seen:
                raise RuntimeError(f"einsum(): output subscript {character} appears more than "
                                   f"once in the output")
            if not any(character in subscript for subscript in expanded):
                raise RuntimeError(f"einsum(): output subscript {character} does not appear in "
                                   f"the equation for any input operand")
            seen.add(character)
        position += 1


def _expand_equation(equation, shapes):
    """The equation with ``...`` spelled out as letters and the output made explicit (implicit
    output: the ellipsis dims, then the letters used once, in alphabetical order)."""
    _check_subscripts(equation, len(shapes))
    raw_output = equation.partition("->")[2]
    offset = equation.find("->") + 2
    equation = equation.replace(" ", "")
    inputs_text, arrow, output = equation.partition("->")
    subscripts = inputs_text.split(",")
    if len(subscripts) != len(shapes):
        relation = "more" if len(shapes) > len(subscripts) else "fewer"
        raise RuntimeError(f"einsum(): {relation} operands were provided than specified in the "
                           f"equation")
    used = set(equation) - set(".,->")
    spare = [letter for letter in _LETTERS if letter not in used]
    ellipsis_rank = 0
    for subscript, shape in zip(subscripts, shapes):
        if "..." in subscript:
            ellipsis_rank = max(ellipsis_rank, len(shape) - (len(subscript) - 3))
    ellipsis_letters = "".join(spare[:ellipsis_rank])
    expanded = []
    for subscript, shape in zip(subscripts, shapes):
        if "..." in subscript:
            letters = len(subscript) - 3
            if letters > len(shape):
                raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                                   f"({letters}) is more than the number of dimensions "
                                   f"({len(shape)}) for operand {len(expanded)}")
            rank = len(shape) - letters
            subscript = subscript.replace("...", ellipsis_letters[ellipsis_rank - rank:])
        elif len(subscript) != len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                               f"({len(subscript)}) does not match the number of dimensions "
                               f"({len(shape)}) for operand {len(expanded)} and no ellipsis was "
                               f"given")
        expanded.append(subscript)
    if arrow:
        _check_output(raw_output, offset, tuple(expanded))
        output = output.replace("...", ellipsis_letters)
    else:
        counts = {}
        for letter in "".join(expanded):
            counts[letter] = counts.get(letter, 0) + 1
        once = sorted((letter for letter, count in counts.items()
                       if count == 1 and letter not in ellipsis_letters),
                      key=_LETTERS_UPPER_FIRST.index)
        output = ellipsis_letters + "".join(once)
    sizes = {}
    for operand, (subscript, shape) in enumerate(zip(expanded, shapes)):
        for position, (letter, size) in enumerate(zip(subscript, shape)):
            earlier = subscript.find(letter)
            if earlier < position and shape[earlier] != size:
                raise RuntimeError(f"einsum(): subscript {letter} is repeated for operand "
                                   f"{operand} but the sizes don't match, {size} != "
                                   f"{shape[earlier]}")
            if sizes.get(letter, size) != size and 1 not in (size, sizes[letter]):
                if letter in ellipsis_letters:
                    raise RuntimeError(f"einsum(): dimension {position} "
                                       f"covered by ellipsis in operand {operand}has size {size} "
                                       f"which does not broadcast with previously seen ellipsis "
                                       f"with size {sizes[letter]} for the respective dimension")
                raise RuntimeError(f"einsum(): subscript {letter} has size {size} for operand "
                                   f"{operand} which does not broadcast with previously seen "
                                   f"size {sizes[letter]}")
            sizes[letter] = max(sizes.get(letter, size), size)
    return expanded, output, sizes


class Einsum(Op):
    """np.einsum forward; each operand's gradient is the einsum of the output gradient with the
    other operands, summed over the ellipsis dims it broadcast from size 1, broadcast over
    letters only that operand has and put onto its diagonal (an einsum with identity matrices)
    when a letter repeats (``ii``)."""

    _next_order = slice(2, None)  # the operands, not the subscripts
    differentiable_backward = True

    @staticmethod
    def forward(ctx, subscripts, output, *operands):
        ctx.subscripts_output = (subscripts, output)
        ctx.dtype = operands[0].dtype
        needs = ctx.needs_input_grad[2:]
        # An operand is needed for the other operands' gradients only.
        ctx.save_for_backward(*[operand if any(needs[:position] + needs[position + 1:]) else None
                                for position, operand in enumerate(operands)])
        ctx.shapes = [operand.shape for operand in operands]
        equation = ",".join(subscripts) + "->" + output
        # NumPy's optimised contraction of bfloat16 operands returns float32: round back
        result = np.asarray(np.einsum(equation, *operands, optimize=len(operands) > 1)).astype(
            ctx.dtype, copy=False)
        if len(operands) == 2 and result.ndim > 1:
            result = _in_pair_layout(result, subscripts, output, operands)
        return result

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        subscripts, output = ctx.subscripts_output
        operands = [conj_of(operand) for operand in ctx.saved_tensors]
        grads = [None, None]
        for position, subscript in enumerate(subscripts):
            if not ctx.needs_input_grad[2 + position]:
                grads.append(None)
                continue
            shape = ctx.shapes[position]
            others = [(other_subscript, operands[other]) for other, other_subscript
                      in enumerate(subscripts) if other != position]
            unique = "".join(dict.fromkeys(subscript))
            available = set(output).union(*[set(other) for other, _ in others])
            present = "".join(letter for letter in unique if letter in available)
            sizes = dict(zip(subscript, shape))
            equation = ",".join([output] + [other for other, _ in others]) + "->" + present
            partial = xp.einsum(equation, grad, *[operand for _, operand in others],
                                optimize=len(others) > 0)
            # an ellipsis dim of size 1 here that the other operands broadcast: summed back
            broadcast = tuple(axis for axis, letter in enumerate(present)
                              if sizes[letter] == 1 and partial.shape[axis] != 1)
            if broadcast:
                partial = xp.sum(partial, axis=broadcast, keepdims=True)
            kept_shape = tuple(sizes[letter] if letter in present else 1 for letter in unique)
            partial = xp.broadcast_to(partial.reshape(kept_shape),
                                      tuple(sizes[letter] for letter in unique))
            if len(unique) != len(subscript):
                partial = _onto_diagonals(xp, partial, subscript, unique, sizes, ctx.dtype)
            grads.append(partial)
        return tuple(grads)


def _in_pair_layout(result, subscripts, output, operands):
    """The result of a two-operand contraction in PyTorch's memory order, which a later ``view``
    or a dropout mask (drawn in memory order) depends on: PyTorch contracts with one bmm, whose
    rows are the letters both operands keep (batch), then the left's, then the right's, each in
    output order; it puts the right's first when they all come before the left's in the output
    (so ``ij,jk->ki`` is contiguous), except when a letter is summed on one side only or a size
    is 1 (measured against PyTorch 2.13: it then keeps the left's first)."""
    left, right = subscripts
    sizes = {}
    for subscript, operand in zip(subscripts, operands):
        sizes.update(zip(subscript, operand.shape))
    in_left = {letter for letter, size in zip(left, operands[0].shape) if size > 1}
    in_right = {letter for letter, size in zip(right, operands[1].shape) if size > 1}
    if not any(letter not in output and letter in in_left and letter in in_right
               for letter in in_left):
        return result  # no bmm: PyTorch multiplies elementwise
    both = [letter for letter in output if letter in in_left and letter in in_right]
    left_only = [letter for letter in output if letter in in_left and letter not in in_right]
    right_only = [letter for letter in output if letter not in in_left]
    position = {letter: index for index, letter in enumerate(output)}
    one_sided_sum = any(letter not in output and (letter in in_left) != (letter in in_right)
                        for letter in sizes)
    has_unit = 1 in sizes.values()
    if (left_only and right_only and not one_sided_sum and not has_unit
            and max(map(position.get, right_only)) < min(map(position.get, left_only))):
        order = both + right_only + left_only
    else:
        order = both + left_only + right_only
    axes = [position[letter] for letter in order]
    laid_out = np.ascontiguousarray(result.transpose(axes))
    return laid_out.transpose(np.argsort(axes))


def _onto_diagonals(xp, values, subscript, unique, sizes, dtype):
    """``values`` (indexed by ``unique``) as an array indexed by ``subscript``, whose repeated
    letters are diagonals: an einsum with an identity matrix per repeat."""
    spare = iter(letter for letter in _LETTERS if letter not in subscript)
    seen = set()
    target = ""
    pairs = []
    for letter in subscript:
        if letter in seen:
            fresh = next(spare)
            pairs.append(letter + fresh)
            target += fresh
        else:
            seen.add(letter)
            target += letter
    identities = [xp.asarray(np.eye(sizes[pair[0]], dtype=dtype)) for pair in pairs]
    return xp.einsum(",".join([unique] + pairs) + "->" + target, values, *identities)


def _sublist_equation(arguments):
    """PyTorch's other einsum form, ``einsum(a, [0, 1], b, [1, 2], [0, 2])``: each operand
    followed by its subscripts as ints in [0, 52) or Ellipsis, then optionally the output's;
    as (equation, operands)."""
    def letters(sublist):
        text = ""
        for subscript in sublist:
            if subscript is Ellipsis:
                text += "..."
            elif 0 <= subscript < 52:
                text += _LETTERS_UPPER_FIRST[subscript]
            else:
                raise ValueError("einsum(): subscript in subscript list is not within the "
                                 "valid range [0, 52)")
        return text

    equation = ",".join(letters(sublist) for sublist in arguments[1::2])
    if len(arguments) % 2 == 1:
        return equation + "->" + letters(arguments[-1]), arguments[:-1:2]
    return equation, arguments[::2]


def _einsum_promoted(operands, subscripts, output):
    """Operands of several dtypes: PyTorch contracts a letter summed across operands with bmm,
    which refuses mixed dtypes (naming the first operand's); products alone (outer, elementwise)
    promote as multiplication does."""
    first = operands[0]._data.dtype
    for letter in set("".join(subscripts)) - set(output):
        if sum(letter in subscript for subscript in subscripts) > 1:
            other = next(operand._data.dtype for operand in operands
                         if operand._data.dtype != first)
            raise RuntimeError(f"expected scalar type {scalar_type_name(first)} but found "
                               f"{scalar_type_name(other)}")
    # every operand is first viewed with all the equation's dims: none counts as 0-d
    dtype = result_type([operand.dtype for operand in operands])
    return tuple(operand.to(dtype) for operand in operands)


def einsum(*arguments):
    """Einstein summation over the operands (``einsum('ij,jk->ik', a, b)``, or the sublist
    form ``einsum(a, [0, 1], b, [1, 2])``), differentiable."""
    if len(arguments) < 2:
        raise ValueError("einsum(): must specify the equation string and at least one operand, "
                         "or at least one operand and its subscripts list")
    if isinstance(arguments[0], Tensor):
        equation, operands = _sublist_equation(arguments)
    else:
        equation, operands = arguments[0], arguments[1:]
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): argument 'equation' (position 1) must be str, not "
                        f"{type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for operand in operands:
        if not isinstance(operand, Tensor):
            raise TypeError(f"einsum(): operands must be Tensors, got {type(operand).__name__}")
    subscripts, output, _ = _expand_equation(equation, [operand._data.shape
                                                        for operand in operands])
    dtypes = {operand._data.dtype for operand in operands}
    if len(dtypes) > 1:
        operands = _einsum_promoted(operands, subscripts, output)
        dtypes = {operands[0]._data.dtype}
    if dtypes == {np.dtype(np.bool_)} and len(operands) > 1:
        raise NotImplementedError("einsum(): not implemented for 'Bool' operands (PyTorch's CPU "
                                  "kernels have none)")
    return Einsum.apply(tuple(subscripts), output, *operands)


def tensordot(a, b, dims=2):
    """Contract the last ``dims`` dims of ``a`` with the first of ``b`` (or the listed pairs)."""
    _require_tensors("tensordot", ("a", a), ("b", b))
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a._data.ndim, b._data.ndim):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got "
                               f"dims={dims}")
        dims_a = list(range(-dims, 0))  # PyTorch counts them from the end
        dims_b = list(range(dims))
    else:
        dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError("both inputs should have same dtype")
    given_a, given_b = list(dims_a), list(dims_b)  # PyTorch's message shows them as given
    dims_a = [dim % a._data.ndim for dim in dims_a]
    dims_b = [dim % b._data.ndim for dim in dims_b]
    letters = iter(_LETTERS)
    subscript_a = [next(letters) for _ in range(a._data.ndim)]
    subscript_b = [next(letters) for _ in range(b._data.ndim)]
    for dim_a, dim_b, shown_a, shown_b in zip(dims_a, dims_b, given_a, given_b):
        if a._data.shape[dim_a] != b._data.shape[dim_b]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a._data.shape[dim_a]} in dim {shown_a} and second has size "
                               f"{b._data.shape[dim_b]} in dim {shown_b}")
        subscript_b[dim_b] = subscript_a[dim_a]
    output = [letter for position, letter in enumerate(subscript_a) if position not in dims_a]
    output += [letter for position, letter in enumerate(subscript_b) if position not in dims_b]
    equation = f"{''.join(subscript_a)},{''.join(subscript_b)}->{''.join(output)}"
    return einsum(equation, a, b)


@autocast_op("addmm")
@computed_in_float32
def addmm(input, mat1, mat2, *deprecated, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2); with beta == 0 the input is ignored (NaN too)."""
    if deprecated:  # PyTorch's addmm(beta, input, [alpha,] mat1, mat2) and its method form
        input, mat1, mat2, beta, alpha = scalar_first_product(
            "addmm", input, mat1, mat2, deprecated)
    _require_tensors("addmm", ("input", input), ("mat1", mat1), ("mat2", mat2))
    for name, matrix in (("mat1", mat1), ("mat2", mat2)):
        if matrix._data.ndim != 2:
            raise RuntimeError(f"{name} must be a matrix, got {matrix._data.ndim}-D tensor")
    if mat1._data.shape[1] != mat2._data.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                           f"({mat1._data.shape[0]}x{mat1._data.shape[1]} and "
                           f"{mat2._data.shape[0]}x{mat2._data.shape[1]})")
    product = mm(mat1, mat2)
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return torch_named(_ignoring(input, product), "AddmmBackward0")
    scaled = input if beta == 1 else input * beta
    try:
        np.broadcast_to(np.empty(input._data.shape, np.bool_), product._data.shape)
    except ValueError:
        raise RuntimeError(f"The expanded size of the tensor ({product._data.shape[-1]}) must "
                           f"match the existing size ({input._data.shape[-1]}) at non-singleton "
                           f"dimension 1.  Target sizes: {list(product._data.shape)}.  Tensor "
                           f"sizes: {list(input._data.shape)}") from None
    return torch_named(scaled + product, "AddmmBackward0")


def kron(input, other):
    """The Kronecker product: every element of ``input`` times a block of ``other``."""
    _require_tensors("kron", ("input", input), ("other", other))
    rank = max(input._data.ndim, other._data.ndim)
    shape_a = (1,) * (rank - input._data.ndim) + input._data.shape
    shape_b = (1,) * (rank - other._data.ndim) + other._data.shape
    interleaved_a = [size for pair in zip(shape_a, (1,) * rank) for size in pair]
    interleaved_b = [size for pair in zip((1,) * rank, shape_b) for size in pair]
    product = input.reshape(interleaved_a) * other.reshape(interleaved_b)
    return product.reshape([a * b for a, b in zip(shape_a, shape_b)])


def _ignoring(input, product):
    """``product``, for beta == 0, which ignores the input (NaN included). An input that requires
    grad still gets PyTorch's gradient, grad * beta (zeros, not None), from a where that never
    picks it."""
    if (not input.requires_grad or not is_grad_enabled() or input._data.dtype != product._data.dtype
            or np.broadcast_shapes(input._data.shape, product._data.shape) != product._data.shape):
        return product
    return where(Tensor._wrap(np.zeros((), np.bool_)), input, product)


def _scaled_sum(input, product, beta, alpha):
    """beta * input + alpha * product, the add* ops' rule: with beta == 0 the input is ignored
    (NaN included), and factors of 1 cost no multiplication."""
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return _ignoring(input, product)
    return (input if beta == 1 else input * beta) + product


@autocast_op("baddbmm")
@computed_in_float32
def baddbmm(input, batch1, batch2, *deprecated, beta=1, alpha=1):
    """beta * input + alpha * (batch1 @ batch2), batched; with beta == 0 the input is ignored."""
    if deprecated:  # PyTorch's baddbmm(beta, input, [alpha,] batch1, batch2) and its method form
        input, batch1, batch2, beta, alpha = scalar_first_product(
            "baddbmm", input, batch1, batch2, deprecated)
    _require_tensors("baddbmm", ("input", input), ("batch1", batch1), ("batch2", batch2))
    product = bmm(batch1, batch2)
    return _scaled_sum(input, product, beta, alpha)


def inner(input, other):
    """Sum over the last dims of both (a plain product when either is 0-d)."""
    _require_tensors("inner", ("input", input), ("other", other))
    if input._data.ndim == 0 or other._data.ndim == 0:
        return input * other
    if input._data.shape[-1] != other._data.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got "
                           f"shapes {list(input._data.shape)} and {list(other._data.shape)}")
    return tensordot(input, other, dims=([-1], [-1]))


def vdot(input, other):
    """sum(conj(input) * other) of two 1-D tensors."""
    _require_tensors("vdot", ("input", input), ("other", other))
    return dot(conj_of(input), other)


def cross(input, other, dim=None):
    """The 3-vector cross product along ``dim`` (the first dim of size 3 when None)."""
    _require_tensors("cross", ("input", input), ("other", other))
    if input._data.ndim != other._data.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    if dim is not None:
        # PyTorch's order: the dim's range and both lengths (the dim as given), then the dtypes
        axis = _normalize_dim(dim, input._data.ndim)
        if input._data.shape[axis] != 3 or other._data.shape[axis] != 3:
            raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                               f"{input._data.shape[axis]} and {other._data.shape[axis]}")
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(input._data.dtype)} but "
                           f"found {scalar_type_name(other._data.dtype)}")
    input, other = broadcast_tensors(input, other)
    if dim is None:
        sizes = input._data.shape
        dim = next((axis for axis, size in enumerate(sizes) if size == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    if input._data.shape[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input._data.shape[dim]} and {other._data.shape[dim]}")
    following = Tensor._wrap(np.array([1, 2, 0]))
    preceding = Tensor._wrap(np.array([2, 0, 1]))
    return (index_select(input, dim, following) * index_select(other, dim, preceding)
            - index_select(input, dim, preceding) * index_select(other, dim, following))


def dist(input, other, p=2):
    return torch_named(vector_norm(input - other, p), "DistBackward0")


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


class EuclideanDistance(Op):
    """PyTorch's _euclidean_dist, the matrix-product form of cdist with p = 2 (its default
    beyond 25 rows): ||a||^2 - 2 a.b + ||b||^2 as one product of [-2a, ||a||^2, 1] and
    [b, 1, ||b||^2], clamped at 0 before the square root, as PyTorch computes it. Backward is
    PyTorch's _euclidean_dist_backward (0 where a distance is 0), written against ``ctx.xp``."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x1, x2):
        x1_norm = np.sum(x1 * x1, axis=-1, keepdims=True)
        x2_norm = np.sum(x2 * x2, axis=-1, keepdims=True)
        x1_ones = np.ones_like(x1_norm)
        x2_ones = np.ones_like(x2_norm)
        left = np.concatenate([x1 * -2, x1_norm, x1_ones], axis=-1)
        right = np.concatenate([x2, x2_ones, x2_norm], axis=-1)
        result = np.matmul(left, np.swapaxes(right, -1, -2))
        np.maximum(result, 0, out=result)
        np.sqrt(result, out=result)
        ctx.save_for_backward(x1, x2, result)
        return result

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        x1, x2, result = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            # the subgradient 0 at distance 0, as PyTorch's masked_fill
            ratio = xp.where(result == 0, 0.0, grad / result)
        grad_x1 = grad_x2 = None
        if ctx.needs_input_grad[0]:
            grad_x1 = unbroadcast(x1 * xp.sum(ratio, axis=-1, keepdims=True)
                                  - xp.matmul(ratio, x2), tuple(x1.shape))
        if ctx.needs_input_grad[1]:
            grad_x2 = unbroadcast(x2 * xp.expand_dims(xp.sum(ratio, axis=-2), -1)
                                  - xp.matmul(xp.matrix_transpose(ratio), x1), tuple(x2.shape))
        return grad_x1, grad_x2


@autocast_op("cdist")
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The ``p``-norm distance between every row of ``x1`` and every row of ``x2`` (batched).
    For p = 2 beyond 25 rows (or with ``compute_mode='use_mm_for_euclid_dist'``) it is computed
    by a matrix product, as PyTorch does: fast, and PyTorch's values."""
    _require_tensors("cdist", ("x1", x1), ("x2", x2))
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if "bfloat16" in (x1._data.dtype.name, x2._data.dtype.name):
        raise NotImplementedError("\"cdist\" not implemented for 'BFloat16'")
    if x1._data.dtype == np.float16 or x2._data.dtype == np.float16:
        raise NotImplementedError("\"cdist\" not implemented for 'Half'")
    if x1._data.ndim < 2 or x2._data.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1._data.ndim}D")
    if x1._data.shape[-1] != x2._data.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1._data.shape[-1]} X2: {x2._data.shape[-1]}")
    for name, tensor in (("X1", x1), ("X2", x2)):
        if not is_floating(tensor._data.dtype):
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{scalar_type_name(tensor._data.dtype)}")
    if x1._data.dtype != x2._data.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(x1._data.dtype)} but found "
                           f"{scalar_type_name(x2._data.dtype)}")
    rows = (x1._data.shape[-2], x2._data.shape[-2])
    if p == 2 and (
            compute_mode == "use_mm_for_euclid_dist"
            or (compute_mode == _CDIST_MODES[0] and max(rows) > 25)):
        return torch_named(EuclideanDistance.apply(x1, x2), "ViewBackward0")
    difference = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    distances = vector_norm(difference, p, dim=-1)
    if p == 0 and difference.requires_grad and is_grad_enabled():
        # vector_norm's gradient for p = 0 is none, PyTorch's _cdist_backward's zeros: a where
        # that never picks the difference (so NaN stays out) adds them
        never = Tensor._wrap(np.zeros((), np.bool_))
        distances = distances + where(never, difference, 0.0).sum(-1)
    distances = without_double_backward(distances, NotImplementedError,
                                        "the derivative for '_cdist_backward' is not implemented.",
                                        forward_ad_unsupported("_cdist_forward"))
    return torch_named(distances, "CdistBackward0")


# ---- inverse, determinant, solve ---------------------------------------------------------------
# PyTorch's CPU kernels of these ops refuse float16 and bfloat16 (RuntimeError); others have
# none for them (NotImplementedError, _KERNEL_NAMES).
_LOW_PRECISION_CHECKED = ("linalg.inv", "linalg.slogdet")


# the ops whose gradients take the conjugate transpose: complex matrices are theirs too
_COMPLEX_SQUARE = ("linalg.inv", "linalg.det", "linalg.solve", "linalg.matrix_exp", "linalg.eigh",
                   "linalg.cholesky", "cholesky", "linalg.eig", "linalg.eigvals", "linalg.cond")


# The CPU kernel that refuses float16 and bfloat16 (and, for eigh and solve_triangular,
# integer and bool) inputs, named in PyTorch's NotImplementedError.
_KERNEL_NAMES = {"linalg.det": "lu_cpu", "linalg.solve": "lu_cpu",
                 "linalg.cholesky": "cholesky_cpu", "cholesky": "cholesky_cpu",
                 "linalg.eigh": "linalg_eigh_cpu", "linalg.eig": "linalg_eig_out_cpu",
                 "linalg.eigvals": "linalg_eig_out_cpu",
                 "linalg.solve_triangular": "triangular_solve_cpu"}
_KERNEL_CHECKS_INTEGERS = ("linalg.eigh", "linalg.solve_triangular")


def _check_square(input, operation, argument="A"):
    """PyTorch's checks of a square-matrix op's input, in its order: (eig's and solve's dtype
    first), at least 2 dims, square, then the dtype as ``operation``'s kernel refuses it."""
    require_tensor(input, operation.replace(".", "_"), argument)
    data = input._data
    type_name = input.dtype._scalar_type
    floating = is_floating(data.dtype) or data.dtype.kind == "c"
    if not floating and operation in ("linalg.eig", "linalg.eigvals"):
        raise RuntimeError(f"Unknown Complex ScalarType for {type_name}")
    if not floating and operation == "linalg.solve":
        raise RuntimeError(f"{operation}: Expected a floating point or complex tensor as input. "
                           f"Got {type_name}")
    if data.ndim < 2:
        raise RuntimeError(f"{operation}: The input tensor A must have at least 2 dimensions.")
    if data.shape[-1] != data.shape[-2]:
        raise RuntimeError(f"{operation}: A must be batches of square matrices, but they are "
                           f"{data.shape[-2]} by {data.shape[-1]} matrices")
    low_precision = floating and data.dtype.kind != "c" and data.dtype.itemsize == 2
    if low_precision and operation in _LOW_PRECISION_CHECKED:
        raise RuntimeError(f"{operation}: Low precision dtypes not supported. Got {type_name}")
    if operation in _KERNEL_NAMES and (low_precision or (
            not floating and operation in _KERNEL_CHECKS_INTEGERS)):
        raise NotImplementedError(f'"{_KERNEL_NAMES[operation]}" not implemented for '
                                  f"'{type_name}'")
    if not floating:
        raise RuntimeError(f"{operation}: Expected a floating point or complex tensor as input. "
                           f"Got {type_name}")
    if low_precision:
        # (PyTorch's matrix_exp computes them in that precision and gives NaN for moderate
        # inputs)
        raise NotImplementedError(f"{operation}: ember does not compute '{type_name}' matrices; "
                                  f"convert them to float32 first")
    if data.dtype.kind == "c" and operation not in _COMPLEX_SQUARE:
        raise NotImplementedError(f"{operation}: ember does not support complex matrices")


def _lu_arrays(a):
    """LAPACK getrf on a batch: the packed LU (L's unit diagonal implied), the 1-based int32
    row swaps and the LAPACK info (the first zero pivot, 1-based; 0 when none). A loop over
    the columns (the factorization is sequential), vectorised over rows and the batch."""
    rows, columns = a.shape[-2:]
    batch = a.shape[:-2]
    # (the batch size spelled out: -1 cannot be inferred for empty matrices)
    lu = a.reshape((math.prod(batch), rows, columns)).copy()
    count = min(rows, columns)
    pivots = np.zeros((lu.shape[0], count), np.int32)
    info = np.zeros(lu.shape[0], np.int32)
    every = np.arange(lu.shape[0])
    for column in range(count):
        chosen = column + np.argmax(np.abs(lu[:, column:, column]), axis=-1)  # first largest
        pivots[:, column] = chosen + 1
        row = lu[every, column].copy()
        lu[every, column] = lu[every, chosen]
        lu[every, chosen] = row
        pivot = lu[:, column, column]
        nonzero = pivot != 0
        info = np.where((info == 0) & ~nonzero, column + 1, info).astype(np.int32)
        safe = np.where(nonzero, pivot, 1)[:, None]
        lu[:, column + 1:, column] = np.where(nonzero[:, None],
                                              lu[:, column + 1:, column] / safe,
                                              lu[:, column + 1:, column])
        lu[:, column + 1:, column + 1:] -= \
            lu[:, column + 1:, column, None] * lu[:, column, None, column + 1:]
    return (lu.reshape(a.shape), pivots.reshape(batch + (count,)), info.reshape(batch))


def singular_inverse_error(operation, info, size):
    """PyTorch's LinAlgError for a singular matrix to invert: getrf's first zero pivot (1-based)
    of the first failing matrix, and that matrix's place in a batch (``size`` when rounding
    left the pivot that LAPACK found zero nonzero here)."""
    failed = np.flatnonzero(info.reshape(-1))
    first = int(failed[0]) if failed.size else 0
    batch = f"(Batch element {first}): " if info.ndim else ""
    element = int(info.reshape(-1)[first]) if info.size else 0
    element = element or size
    return LinAlgError(f"{operation}: {batch}The diagonal element {element} is zero, the "
                       f"inversion could not be completed because the input matrix is singular.")


class Inverse(Op):
    _torch_name = "LinalgInvExBackward0"
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        try:
            out = np.linalg.inv(x)
        except np.linalg.LinAlgError:
            raise singular_inverse_error("linalg.inv", _lu_arrays(x)[2], x.shape[-1]) from None
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        inverse_t = conj_of(out).mT  # A^-H (A^-T for real matrices)
        return -(inverse_t @ grad @ inverse_t)


class Det(Op):
    """det(A); its gradient is the transposed adjugate, taken from the SVD so that singular
    matrices (where A^-1 does not exist) still get it."""

    _torch_name = "LinalgDetBackward0"
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        with np.errstate(invalid="ignore"):  # NaN in, NaN out, quietly (PyTorch)
            out = np.asarray(np.linalg.det(x))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        xp = ctx.xp
        if xp is not np:
            return xp.expand_dims(grad, (-2, -1)) * conj_of(_adjugate_t_recorded(xp, x, out))
        u, singular, vh = np.linalg.svd(x)
        ones = np.ones(singular.shape[:-1] + (1,), dtype=singular.dtype)
        before = np.cumprod(np.concatenate([ones, singular[..., :-1]], -1), -1)
        after = np.flip(np.cumprod(np.flip(np.concatenate([singular[..., 1:], ones], -1), -1),
                                   -1), -1)
        others = before * after  # the product of all singular values but the i-th
        sign = np.linalg.det(u) * np.linalg.det(vh)
        # det(A) A^-T is conj(U) diag(others) conj(V^H) sign; the gradient takes its conjugate
        adjugate_t = (u * others[..., None, :]) @ vh * np.conj(sign)[..., None, None]
        return (grad[..., None, None] * adjugate_t).astype(x.dtype, copy=False)


def _adjugate_t_recorded(xp, x, det):
    """The transposed adjugate of ``x`` as recorded ops: det(A) A^-T, or, when some matrix of
    the batch is (numerically) singular, the Faddeev-LeVerrier recurrence, a polynomial in A
    that needs no inverse (the SVD formula of first order has no recorded SVD to build on)."""
    array = x._data
    size = array.shape[-1]
    if array.size:
        singular_values = np.linalg.svd(array, compute_uv=False)
        tolerance = size * np.finfo(array.dtype).eps
        near_singular = singular_values[..., -1] <= tolerance * singular_values[..., 0]
        if not near_singular.any():
            return xp.expand_dims(det, (-2, -1)) * xp.matrix_transpose(xp.linalg.inv(x))
    # M_1 = I; c_(n-k) = -tr(A M_k) / k; M_(k+1) = A M_k + c_(n-k) I; adj(A) = (-1)^(n+1) M_n.
    identity = xp.asarray(np.eye(size, dtype=array.dtype))
    adjugate = identity
    product = x
    for step in range(1, size):
        coefficient = xp.sum(product * identity, axis=(-2, -1), keepdims=True) * (-1.0 / step)
        adjugate = product + coefficient * identity
        product = x @ adjugate
    if size == 1:
        adjugate = xp.broadcast_to(identity, array.shape)
    return xp.matrix_transpose(adjugate) * (-1.0) ** (size + 1)


class Solve(Op):
    """X with A X = B, B given as columns (..., n, k); the batch dims broadcast."""

    _torch_name = "LinalgSolveExBackward0"
    differentiable_backward = True

    @staticmethod
    def forward(ctx, a, b, vector):
        ctx.vector = vector
        ctx.shapes = (a.shape, b.shape)
        columns = b[..., None] if vector else b
        try:
            out = np.linalg.solve(a, columns)
        except np.linalg.LinAlgError:
            raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is "
                               "singular.") from None
        out = out[..., 0] if vector else out
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        xp = ctx.xp
        a_shape, b_shape = ctx.shapes
        if ctx.vector:
            grad = xp.expand_dims(grad, -1)
            out = xp.expand_dims(out, -1)
        grad_columns = xp.linalg.solve(conj_of(a).mT, grad)
        grad_a = None
        if ctx.needs_input_grad[0]:
            grad_a = unbroadcast(-(grad_columns @ conj_of(out).mT), a_shape)
        grad_b = None
        if ctx.needs_input_grad[1]:
            grad_b = grad_columns.reshape(grad_columns.shape[:-1]) if ctx.vector else grad_columns
            grad_b = unbroadcast(grad_b, b_shape)
        return grad_a, grad_b, None


def inverse(input):
    _check_square(input, "linalg.inv")
    return Inverse.apply(input)


def det(input):
    _check_square(input, "linalg.det")
    return Det.apply(input)


def solve(A, B, *, left=True):
    """X with A X = B (B a vector when it has A's shape without the last dim); with
    ``left=False`` X A = B, solved as A^T X^T = B^T (B must be a matrix there)."""
    _check_square(A, "linalg.solve")
    require_tensor(B, "linalg_solve", "B", 2)
    vector = B._data.ndim == 1 or B._data.shape == A._data.shape[:-1]
    if left:
        return solve_columns(A, B, vector)
    if vector:
        size = A._data.shape[-1]
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation XA = "
                           f"B ({size}x{size} and {B._data.shape[-1]}x1)")
    return solve_columns(A.mT, B.mT, False).mT


def solve_columns(A, B, vector):
    """solve with B's layout given: a batch of vectors or of (n, k) column blocks."""
    if B._data.dtype != A._data.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found "
                           f"A of type {A.dtype._scalar_type} and B of type "
                           f"{B.dtype._scalar_type} instead")
    if B._data.shape[-1 if vector else -2] != A._data.shape[-1]:
        # (a vector B printed as the column it stands for)
        rows, columns = (B._data.shape[-1], 1) if vector else B._data.shape[-2:]
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = "
                           f"B ({A._data.shape[-2]}x{A._data.shape[-1]} and {rows}x{columns})")
    # PyTorch broadcasts B's batch dims against A's, B's named first
    mismatch = mismatch_error(B._data.shape[:-1 if vector else -2], A._data.shape[:-2])
    if mismatch is not None:
        raise mismatch
    return Solve.apply(A, B, vector)


def addmv(input, mat, vec, *deprecated, beta=1, alpha=1):
    """beta * input + alpha * (mat @ vec)."""
    if deprecated:  # PyTorch's addmv(beta, input, [alpha,] mat, vec) and its method form
        input, mat, vec, beta, alpha = scalar_first_product(
            "addmv", input, mat, vec, deprecated)
    product = mv(mat, vec)
    return _scaled_sum(input, product, beta, alpha)


def addr(input, vec1, vec2, *deprecated, beta=1, alpha=1):
    """beta * input + alpha * outer(vec1, vec2)."""
    if deprecated:  # PyTorch's addr(beta, input, [alpha,] vec1, vec2) and its method form
        input, vec1, vec2, beta, alpha = scalar_first_product(
            "addr", input, vec1, vec2, deprecated)
    product = outer(vec1, vec2)
    return _scaled_sum(input, product, beta, alpha)


@autocast_op("addbmm")
@computed_in_float32
def addbmm(input, batch1, batch2, *deprecated, beta=1, alpha=1):
    """beta * input + alpha * (the sum over the batch of batch1[i] @ batch2[i])."""
    if deprecated:  # PyTorch's addbmm(beta, input, [alpha,] batch1, batch2) and its method form
        input, batch1, batch2, beta, alpha = scalar_first_product(
            "addbmm", input, batch1, batch2, deprecated)
    product = einsum("bij,bjk->ik", batch1, batch2)
    return _scaled_sum(input, product, beta, alpha)


def matrix_power(input, n):
    """A^n by repeated squaring (n < 0 through the inverse)."""
    require_tensor(input, "linalg_matrix_power", "A")
    n = require_int(n, "linalg_matrix_power", "n", 2)
    shape = input._data.shape
    if len(shape) < 2:
        raise RuntimeError("linalg.matrix_power: The input tensor A must have at least 2 "
                           "dimensions.")
    if shape[-1] != shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but "
                           f"they are {shape[-2]} by {shape[-1]} matrices")
    if n == 0:
        eye = np.broadcast_to(np.eye(input._data.shape[-1], dtype=input._data.dtype),
                              input._data.shape)
        if input.requires_grad:
            # PyTorch copies I into a clone of A: the result is in A's graph (zero gradient)
            return input.clone(memory_format=contiguous_format).copy_(Tensor._wrap(eye))
        return Tensor._result(eye.copy())
    if n == 1:
        return input.clone()
    base = inverse(input) if n < 0 else input
    remaining = n if n > 0 else -n
    result = None
    while remaining:
        if remaining & 1:
            result = base if result is None else matmul(result, base)
        remaining >>= 1
        if remaining:
            base = matmul(base, base)
    return result


def multi_dot(tensors):
    """The product of a chain of matrices (the first and last may be vectors), left to right."""
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    last = len(tensors) - 1
    for position, tensor in enumerate(tensors):
        require_tensor(tensor, "multi_dot", f"tensors[{position}]")
        ndim = tensor._data.ndim
        if position in (0, last) and ndim not in (1, 2):
            which = "first" if position == 0 else "last"
            raise RuntimeError(f"multi_dot(): the {which} tensor must be 1D or 2D but got "
                               f"{ndim}D")
        if 0 < position < last and ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {position} must be 2D but got {ndim}D")
        if tensor._data.dtype != tensors[0]._data.dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but tensor "
                               f"0 is {cpp_type_name(tensors[0]._data.dtype)} and tensor "
                               f"{position} {cpp_type_name(tensor._data.dtype)}")
    for position in range(last):
        left, right = tensors[position]._data.shape, tensors[position + 1]._data.shape
        if left[-1] != right[0]:
            raise RuntimeError(f"multi_dot(): tensors {position} and {position + 1} with shapes "
                               f"{list(left)} and {list(right)} cannot be multiplied")
    result = tensors[0]
    for tensor in tensors[1:]:
        result = matmul(result, tensor)
    return result


def chain_matmul(*matrices):
    warn_once("torch.chain_matmul is deprecated and will be removed in a future PyTorch "
              "release. Use torch.linalg.multi_dot instead, which accepts a list of two or more "
              "tensors rather than multiple parameters.")
    return multi_dot(matrices) if len(matrices) > 1 else matrices[0]


class LogAbsDet(Op):
    _torch_name = "LinalgSlogdetBackward0"

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        sign, logabsdet = np.linalg.slogdet(x)
        ctx.save_for_backward(x)
        # The sign requires grad too (PyTorch's), but gets no gradient.
        return np.asarray(sign, dtype=x.dtype), np.asarray(logabsdet, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad_sign, grad_logabsdet):
        if grad_logabsdet is None:
            return None
        (x,) = ctx.saved_tensors
        xp = ctx.xp
        return xp.expand_dims(grad_logabsdet, (-2, -1)) * xp.matrix_transpose(xp.linalg.inv(x))


def slogdet(input):
    """The sign and the log of the absolute value of the determinant (stable for large ones)."""
    _check_square(input, "linalg.slogdet")
    sign, logabsdet = LogAbsDet.apply(input)
    return _SignLogAbsDet((sign, logabsdet))


def logdet(input):
    """log(det(A)): NaN for a negative determinant, -inf for a zero one."""
    sign, logabsdet = slogdet(input)
    return logabsdet + sign.log()  # log of the sign: 0 for +1, NaN for -1, -inf for 0


class Cholesky(Op):
    """L with A = L L^H; the gradient is made Hermitian, since only A's lower triangle is
    read."""

    _torch_name = "LinalgCholeskyExBackward0"
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, upper, operation):
        try:
            lower = np.linalg.cholesky(x)
        except np.linalg.LinAlgError:
            lower = None
        if lower is None or not np.isfinite(lower).all():
            raise _not_positive_definite(x, operation)
        ctx.upper = upper
        ctx.dtype = x.dtype
        # + 0.0: a copy whose conjugated zero imaginary parts are +0.0, as PyTorch's U
        out = _adjoint(lower) + 0.0 if upper else lower
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        xp = ctx.xp
        lower = _adjoint(out) if ctx.upper else out
        if ctx.upper:
            grad = _adjoint(grad)
        # Murray (2016): Phi(L^H gL) (lower triangle, halved diagonal), then L^-H (.) L^-1.
        size = lower.shape[-1]
        halved_lower = np.tril(np.ones((size, size), dtype=real_dtype(ctx.dtype)), -1) + \
            np.eye(size, dtype=real_dtype(ctx.dtype)) * 0.5
        inner_product = (_adjoint(lower) @ xp.tril(grad)) * halved_lower
        inverse_lower = xp.linalg.inv(lower)
        middle = _adjoint(inverse_lower) @ inner_product @ inverse_lower
        gradient = (middle + _adjoint(middle)) * 0.5
        if ctx.dtype.kind == "c":
            # PyTorch keeps the imaginary part of Phi's diagonal (a direction no Hermitian
            # input can move in), which the Hermitian part above drops
            phase = xp.imag(inner_product) * np.eye(size, dtype=real_dtype(ctx.dtype)) * 1j
            gradient = gradient + _adjoint(inverse_lower) @ phase @ inverse_lower
        return gradient, None, None


def _first_failing_minor(matrix):
    """LAPACK potrf's info: the order of the first leading minor whose factorization meets a
    diagonal that is not positive (or NaN); 0 when there is none."""
    for order in range(1, matrix.shape[-1] + 1):
        try:
            lower = np.linalg.cholesky(matrix[:order, :order])
        except np.linalg.LinAlgError:
            return order
        if not np.isfinite(lower).all():
            return order
    return 0


def _not_positive_definite(x, operation):
    """PyTorch's error for the first matrix of the batch that has no Cholesky factor."""
    batch = x.shape[:-2]
    for index in np.ndindex(*batch):
        order = _first_failing_minor(x[index])
        if order:
            where = f"(Batch element {np.ravel_multi_index(index, batch)}): " if batch else ""
            return LinAlgError(f"{operation}: {where}The factorization could not be completed "
                               f"because the input is not positive-definite (the leading minor "
                               f"of order {order} is not positive-definite).")
    return LinAlgError(f"{operation}: The factorization could not be completed because the "
                       f"input is not positive-definite.")


def _adjoint(matrices):
    """The conjugate transpose (the transpose of real matrices), of arrays or Tensors."""
    return conj_of(matrices).mT


def linalg_cholesky(input, *, upper=False):
    """torch.linalg.cholesky: L with A = L L^H (or U with A = U^H U)."""
    _check_square(input, "linalg.cholesky")
    return Cholesky.apply(input, upper, "linalg.cholesky")


def cholesky(input, upper=False):
    """The deprecated torch.cholesky (and Tensor.cholesky): linalg.cholesky with ``upper``
    positional and errors under its own name; PyTorch warns once a process."""
    warn_once("torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed "
              "in a future PyTorch release.\nL = torch.cholesky(A)\nshould be replaced with\n"
              "L = torch.linalg.cholesky(A)\nand\nU = torch.cholesky(A, upper=True)\nshould be "
              "replaced with\nU = torch.linalg.cholesky(A).mH\nThis transform will produce "
              "equivalent results for all valid (symmetric positive definite) inputs.")
    _check_square(input, "cholesky")
    return Cholesky.apply(input, upper, "cholesky")


ger = outer


class Eigh(Op):
    """Eigenvalues (ascending, real) and eigenvectors of symmetric or Hermitian matrices (from
    the lower triangle). Backward: V (diag(gL) + skew(V^H gV) / (L_j - L_i)) V^H, as PyTorch,
    the skew-Hermitian part's imaginary diagonal (a phase of each vector) dropped."""

    _torch_name = "LinalgEighBackward0"
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, lower):
        values, vectors = np.linalg.eigh(x, UPLO="L" if lower else "U")
        ctx.save_for_backward(values, vectors)
        ctx.dtype = x.dtype
        return values, vectors

    @staticmethod
    def backward(ctx, grad_values, grad_vectors):
        values, vectors = ctx.saved_tensors
        xp = ctx.xp
        complex_input = ctx.dtype.kind == "c"
        identity = np.eye(values.shape[-1], dtype=real_dtype(ctx.dtype))
        adjoint = conj_of(vectors).mT if complex_input else vectors.mT
        inner_product = None
        if grad_vectors is not None:
            projected = adjoint @ grad_vectors
            if complex_input:
                _check_phase_invariant(projected, "linalg_eigh_backward")
            projected_adjoint = conj_of(projected).mT if complex_input else projected.mT
            # L_j - L_i off the diagonal; 1 on it, where the skew part is 0 (imaginary for
            # complex vectors, whose phase the loss must not depend on: dropped).
            gaps = xp.expand_dims(values, -2) - xp.expand_dims(values, -1) + identity
            inner_product = (projected - projected_adjoint) * 0.5 / gaps
            if complex_input:
                inner_product = inner_product * (1 - identity)
        if grad_values is not None:
            on_diagonal = xp.expand_dims(grad_values, -2) * identity
            inner_product = on_diagonal if inner_product is None else \
                inner_product + on_diagonal
        if complex_input and xp is not np and not inner_product.is_complex():
            # eigenvalue gradients alone are real: recorded matmuls take one dtype
            inner_product = xp.astype(inner_product, ctx.dtype, copy=False)
        return vectors @ inner_product @ adjoint, None


def _check_phase_invariant(projected, operation):
    """PyTorch's refusal of a loss that depends on the phases of complex eigenvectors: the
    imaginary diagonal of V^H gV (``projected``) must be zero, to within 1e-2."""
    data = projected._data if isinstance(projected, Tensor) else projected
    imaginary = np.imag(np.diagonal(data, axis1=-2, axis2=-1))
    if not np.allclose(imaginary, 0, rtol=1e-2, atol=1e-2):
        raise RuntimeError(f"{operation}: The eigenvectors in the complex case are specified up "
                           f"to multiplication by e^{{i phi}}. The specified loss function "
                           f"depends on this quantity, so it is ill-defined.")


def eigh(input, UPLO="L"):
    _check_square(input, "linalg.eigh")
    if not isinstance(UPLO, str) or UPLO.upper() not in ("L", "U"):  # either case, as PyTorch
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    values, vectors = Eigh.apply(input, UPLO.upper() == "L")
    return _EighResult((values, vectors))


def eigvalsh(input, UPLO="L"):
    return eigh(input, UPLO)[0]


class Eig(Op):
    """Eigenvalues and unit-norm eigenvectors of general square matrices, always complex.
    Backward (PyTorch's linalg_eig_backward): with M = V^H gV projected as M - V^H V
    Re(diag(M)), gA = V^-H (M / conj(L_j - L_i), its diagonal replaced by gL where given) V^H,
    or V^-H diag(gL) V^H for eigenvalues alone; the real part for a real input. Written
    against ``ctx.xp``, so it is differentiable again (create_graph)."""

    _torch_name = "LinalgEigBackward0"
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        values, vectors = np.linalg.eig(x)
        target = complex_dtype(x.dtype)
        values, vectors = values.astype(target), vectors.astype(target)
        ctx.save_for_backward(values, vectors)
        ctx.dtype = x.dtype
        return values, vectors

    @staticmethod
    def backward(ctx, grad_values, grad_vectors):
        values, vectors = ctx.saved_tensors
        xp = ctx.xp
        vectors_h = conj_of(vectors).mT
        if grad_vectors is None:
            grad = xp.linalg.solve(vectors_h, xp.expand_dims(grad_values, -1) * vectors_h)
        else:
            projected = vectors_h @ grad_vectors
            _check_phase_invariant(projected, "linalg_eig_backward")
            diagonal = xp.real(xp.diagonal(projected, 0, -2, -1))
            projected = projected - vectors_h @ (vectors * xp.expand_dims(diagonal, -2))
            identity = np.eye(values.shape[-1], dtype=real_dtype(ctx.dtype))
            conjugates = conj_of(values)
            # conj(L_j - L_i) off the diagonal; 1 on it
            gaps = xp.expand_dims(conjugates, -2) - xp.expand_dims(conjugates, -1) + identity
            inner = projected / gaps
            if grad_values is not None:
                inner = inner * (1 - identity) + xp.expand_dims(grad_values, -2) * identity
            grad = xp.linalg.solve(vectors_h, inner @ vectors_h)
        if ctx.dtype.kind != "c":
            grad = xp.real(grad)
        return xp.astype(grad, ctx.dtype, copy=False)


def eig(input):
    """(eigenvalues, eigenvectors) of square matrices, complex even for a real input."""
    _check_square(input, "linalg.eig")
    values, vectors = Eig.apply(input)
    return _EigResult((values, vectors))


def eigvals(input):
    """The eigenvalues of square matrices, complex."""
    _check_square(input, "linalg.eigvals")
    return Eig.apply(input)[0]
