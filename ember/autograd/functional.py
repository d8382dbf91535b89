"""Higher-level differentiation of whole functions (``torch.autograd.functional``): ``vjp``,
``jvp``, ``jacobian``, ``hessian``, ``vhp`` and ``hvp``, built on ``grad``.

Forward-mode products (``jvp``, ``hvp``, ``jacobian(strategy="forward-mode")``) use the double
backward trick, as PyTorch's ``autograd.functional`` does: the gradient of ``g . J`` with respect
to a dummy cotangent ``g`` is linear in ``g``, so differentiating it along ``v`` gives ``J v``.
That needs the function's ops to support ``create_graph``.

Jacobian rows come from one backward per output element, seeded with a one-hot cotangent (no
indexing op is added to the function's graph). ``vectorize=True`` is accepted and gives the same
values; ember computes the rows one backward at a time either way.
"""
import numpy as np

from ..ops.shape import stack
from ..tensor import Tensor
from .engine import grad as _grad
from .function import Op, forward_mode
from .grad_mode import enable_grad, is_grad_enabled, set_grad_enabled

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]

_STRATEGIES = ("forward-mode", "reverse-mode")


# ---- inputs and outputs as tuples ---------------------------------------------------------------
def _as_tuple(value, argument, function):
    """(whether ``value`` was a tuple, ``value`` as a tuple of Tensors); TypeError otherwise."""
    is_tuple = isinstance(value, tuple)
    values = value if is_tuple else (value,)
    for index, item in enumerate(values):
        if isinstance(item, Tensor):
            continue
        where = f"the value at index {index} has" if is_tuple else f"the given {argument} has"
        raise TypeError(f"The {argument} given to {function} must be either a Tensor or a tuple "
                        f"of Tensors but {where} type {type(item)}.")
    return is_tuple, values


def _untuple(result, keep):
    """Undo ``_as_tuple`` on a result: ``keep`` is one flag, or (outer, inner) for nested tuples."""
    if isinstance(keep, tuple):
        outer, inner = keep
        if not inner:
            result = tuple(item[0] for item in result)
        return result if outer else result[0]
    return result if keep else result[0]


class Alias(Op):
    """A new tensor on the same memory that stands for its input in a graph: differentiating
    with respect to the alias does not follow other uses of the input (a function that also
    captures its argument by closure). PyTorch uses ``view_as``; this identity's backward is
    itself differentiable to any order."""

    is_view = True
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        return x.view()

    @staticmethod
    def backward(ctx, grad):
        return grad


def _prepare(inputs, create_graph, need_graph):
    """Fresh tensors for the inputs, so that a function which also captures an input by closure
    is differentiated only through its argument: an alias when the caller's graph must reach
    the input, else a detached leaf."""
    prepared = []
    for value in inputs:
        if create_graph and value.requires_grad:
            prepared.append(Alias.apply(value))
        else:
            prepared.append(value.detach().requires_grad_(need_graph))
    return tuple(prepared)


def _finish(values, create_graph):
    """Results as the caller asked: detached unless ``create_graph`` (nested tuples kept)."""
    if create_graph:
        return values
    return tuple(value.detach() if isinstance(value, Tensor) else _finish(value, False)
                 for value in values)


def _validate_v(v, reference, is_reference_tuple):
    if len(v) != len(reference):
        if is_reference_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(reference)} but "
                               f"got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for index, (vector, value) in enumerate(zip(v, reference)):
        if vector.shape != value.shape:
            prefix = f"Entry {index} in " if is_reference_tuple else ""
            raise RuntimeError(f"{prefix}v has invalid size: should be {value.shape} but got "
                               f"{vector.shape}.")


def _vector(v, reference, is_reference_tuple, create_graph, function, what):
    """``v`` checked against ``reference`` (inputs or outputs), or None when it may be omitted."""
    if v is not None:
        _, v = _as_tuple(v, "v", function)
        v = _prepare(v, create_graph, need_graph=False)
        _validate_v(v, reference, is_reference_tuple)
        return v
    if len(reference) != 1 or reference[0].numel() != 1:
        raise RuntimeError(f"The vector v can only be None if {what} a single Tensor with a "
                           f"single element.")
    return None


# ---- strict mode ------------------------------------------------------------------------------
def _check_requires_grad(values, kind, strict):
    """In strict mode, refuse values that do not depend on the inputs (PyTorch's messages)."""
    if not strict:
        return
    for index, value in enumerate(values):
        if value is None:
            raise RuntimeError(f"The output of the user-provided function is independent of "
                               f"input {index}. This is not allowed in strict mode.")
        if value.requires_grad:
            continue
        if kind == "hessian":
            raise RuntimeError(
                f"The hessian of the user-provided function with respect to input {index} is "
                f"independent of the input. This is not allowed in strict mode. You should "
                f"ensure that your function is thrice differentiable and that the hessian "
                f"depends on the inputs.")
        if kind == "jacobian":
            raise RuntimeError(
                f"While computing the hessian, found that the jacobian of the user-provided "
                f"function with respect to input {index} is independent of the input. This is "
                f"not allowed in strict mode. You should ensure that your function is twice "
                f"differentiable and that the jacobian depends on the inputs (this would be "
                f"violated by a linear function for example).")
        if kind == "grad_inputs":
            raise RuntimeError(
                f"The gradient with respect to input {index} is independent of the inputs of "
                f"the user-provided function. This is not allowed in strict mode.")
        raise RuntimeError(
            f"Output {index} of the user-provided function does not require gradients. The "
            f"outputs must be computed in a differentiable manner from the input when running "
            f"in strict mode.")


_INDEPENDENT = {
    "back": "The output of the user-provided function is independent of input {index}. This is "
            "not allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {index} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {index}. "
                   "This is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry "
                         "{index} in the grad_jacobian. This is not allowed in strict mode as it "
                         "prevents from using the double backward trick to replace forward mode "
                         "AD.",
}


def _fill_in_zeros(grads, references, strict, create_graph, stage):
    """Zeros (shaped like the references) where no gradient flowed; the strict-mode errors."""
    filled = []
    for index, value in enumerate(grads):
        if value is None:
            if strict:
                raise RuntimeError(_INDEPENDENT[stage].format(index=index))
            value = _zeros_like(references[index])
        elif strict and create_graph and not value.requires_grad:
            what = "hessian" if stage.startswith("double") else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of "
                               f"input {index}. This is not allowed in strict mode when "
                               f"create_graph=True.")
        filled.append(value)
    return tuple(filled)


def _zeros_like(value, requires_grad=False):
    return Tensor._wrap(np.zeros_like(value._data), requires_grad)


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """``grad`` over the outputs that require grad; None for inputs nothing reached."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    kept_outputs = []
    kept_grad_outputs = []
    for output, grad_output in zip(outputs, grad_outputs):
        if output is not None and output.requires_grad:
            kept_outputs.append(output)
            kept_grad_outputs.append(grad_output)
    if not kept_outputs:
        return (None,) * len(inputs)
    return _grad(kept_outputs, inputs, kept_grad_outputs, retain_graph=retain_graph,
                 create_graph=create_graph, allow_unused=True)


# ---- vector products ----------------------------------------------------------------------------
def _prepared_with_v(inputs, v, create_graph, function):
    """(whether inputs was a tuple, the prepared inputs, v checked against them)."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", function)
    inputs = _prepare(inputs, create_graph, need_graph=True)
    v = _vector(v, inputs, is_inputs_tuple, create_graph, function,
                "the input to the user-provided function is")
    return is_inputs_tuple, inputs, v


def _product(outputs, inputs, v, references, strict, create_graph, stage):
    """The last backward of each product (recorded only with ``create_graph``), zeros where
    nothing flowed."""
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        return _fill_in_zeros(grads, references, strict, create_graph, stage)


def _results(outputs, is_outputs_tuple, products, is_products_tuple, create_graph):
    return (_untuple(_finish(outputs, create_graph), is_outputs_tuple),
            _untuple(_finish(products, create_graph), is_products_tuple))


def _called(func, inputs, create_graph, strict, function):
    """(whether inputs was a tuple, the prepared inputs, whether the outputs are a tuple, the
    outputs) of ``func`` at fresh inputs."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", function)
    inputs = _prepare(inputs, create_graph, need_graph=True)
    is_outputs_tuple, outputs = _as_tuple(
        func(*inputs), "outputs of the user-provided function", function)
    _check_requires_grad(outputs, "outputs", strict)
    return is_inputs_tuple, inputs, is_outputs_tuple, outputs


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product at ``inputs``."""
    with enable_grad():
        is_inputs_tuple, inputs, is_outputs_tuple, outputs = _called(
            func, inputs, create_graph, strict, "vjp")
        v = _vector(v, outputs, is_outputs_tuple, create_graph, "vjp",
                    "the user-provided function returns")
    products = _product(outputs, inputs, v, inputs, strict, create_graph, "back")
    return _results(outputs, is_outputs_tuple, products, is_inputs_tuple, create_graph)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product, by the double backward trick."""
    with enable_grad():
        is_inputs_tuple, inputs, v = _prepared_with_v(inputs, v, create_graph, "jvp")
        is_outputs_tuple, outputs = _as_tuple(
            func(*inputs), "outputs of the user-provided function", "jvp")
        _check_requires_grad(outputs, "outputs", strict)
        # The backward is linear in these cotangents, so their value (zero) never matters.
        cotangents = tuple(_zeros_like(output, requires_grad=True) for output in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, cotangents, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
    products = _product(grad_inputs, cotangents, v, outputs, strict, create_graph, "back_trick")
    return _results(outputs, is_outputs_tuple, products, is_outputs_tuple, create_graph)


def _scalar_output(func, inputs, strict, function):
    """func(*inputs), checked to be one Tensor with one element (hessian, vhp, hvp)."""
    output = func(*inputs)
    is_tuple, outputs = _as_tuple(output, "outputs of the user-provided function", function)
    _check_requires_grad(outputs, "outputs", strict)
    if is_tuple or not isinstance(outputs[0], Tensor):
        raise RuntimeError(f"The function given to {function} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {function} should "
                           f"contain a single element")
    return outputs


def _gradient(func, inputs, strict, function):
    """(the scalar output, its gradient with a graph), for vhp and hvp."""
    outputs = _scalar_output(func, inputs, strict, function)
    gradient = _autograd_grad(outputs, inputs, create_graph=True)
    _check_requires_grad(gradient, "jacobian", strict)
    return outputs, gradient


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar function."""
    with enable_grad():
        is_inputs_tuple, inputs, v = _prepared_with_v(inputs, v, create_graph, "vhp")
        outputs, gradient = _gradient(func, inputs, strict, "vhp")
    products = _product(gradient, inputs, v, inputs, strict, create_graph, "double_back")
    return _results(outputs, False, products, is_inputs_tuple, create_graph)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar function, by the double backward trick (``vhp`` gives
    the same values with one backward less when the Hessian is symmetric)."""
    with enable_grad():
        is_inputs_tuple, inputs, v = _prepared_with_v(inputs, v, create_graph, "hvp")
        outputs, gradient = _gradient(func, inputs, strict, "hvp")
        grad_gradient = tuple(_zeros_like(value, requires_grad=True) for value in inputs)
        double_back = _autograd_grad(gradient, inputs, grad_gradient, create_graph=True)
        _check_requires_grad(gradient, "hessian", strict)
    products = _product(double_back, grad_gradient, v, inputs, strict, create_graph,
                        "double_back_trick")
    return _results(outputs, False, products, is_inputs_tuple, create_graph)


# ---- Jacobians and Hessians ---------------------------------------------------------------------
def _one_hot(like, position):
    """A cotangent or tangent shaped like ``like`` with a single 1 at flat ``position``."""
    array = np.zeros(like._data.size, like._data.dtype)
    array[position] = 1
    return Tensor._wrap(array.reshape(like._data.shape))


def _assemble(rows, leading_shape, trailing_shape, create_graph):
    """Stack per-element results (at least one) into one tensor of shape leading + trailing;
    recorded when ``create_graph``, on plain arrays otherwise."""
    shape = tuple(leading_shape) + tuple(trailing_shape)
    if create_graph and any(row.requires_grad for row in rows):
        return stack(rows).reshape(shape)
    return Tensor._wrap(np.stack([row._data for row in rows]).reshape(shape))


def _checked_row(grads, inputs, out_index, strict, create_graph):
    """One Jacobian row per input (zeros where nothing flowed), with PyTorch's strict errors."""
    row = []
    for in_index, (value, reference) in enumerate(zip(grads, inputs)):
        if value is None:
            if strict:
                raise RuntimeError(f"Output {out_index} of the user-provided function is "
                                   f"independent of input {in_index}. This is not allowed in "
                                   f"strict mode.")
            value = _zeros_like(reference)
        elif strict and create_graph and not value.requires_grad:
            raise RuntimeError(f"The jacobian of the user-provided function is independent of "
                               f"input {out_index}. This is not allowed in strict mode when "
                               f"create_graph=True.")
        row.append(value)
    return row


def _jacobian_reverse(outputs, inputs, create_graph, strict):
    """J[i][j] of output i with respect to input j, one backward per output element."""
    result = []
    for out_index, output in enumerate(outputs):
        columns = [[] for _ in inputs]
        for position in range(output.numel()):
            grads = _autograd_grad((output,), inputs, (_one_hot(output, position),),
                                   create_graph=create_graph, retain_graph=True)
            row = _checked_row(grads, inputs, out_index, strict, create_graph)
            for column, value in zip(columns, row):
                column.append(value)
        result.append(tuple(
            _assemble(column, output.shape, reference.shape, create_graph)
            if column else _zeros_block(output, reference)
            for column, reference in zip(columns, inputs)))
    return tuple(result)


def _jacobian_vectorized_graph(outputs, inputs):
    """``_jacobian_reverse`` under create_graph with vectorize=True, shaped as PyTorch's batched
    backward leaves it: the rows of all outputs stacked per input, so when any output reaches an
    input, every block of that input is cut from one recorded tensor (zeros included)."""
    rows = [[] for _ in inputs]
    for output in outputs:
        for position in range(output.numel()):
            grads = _autograd_grad((output,), inputs, (_one_hot(output, position),),
                                   create_graph=True, retain_graph=True)
            for column, value, reference in zip(rows, grads, inputs):
                column.append(_zeros_like(reference) if value is None else value)
    result = [[None] * len(inputs) for _ in outputs]
    for in_index, (column, reference) in enumerate(zip(rows, inputs)):
        stacked = _assemble(column, (len(column),), reference.shape, True) if column else None
        offset = 0
        for out_index, output in enumerate(outputs):
            size = output.numel()
            shape = tuple(output.shape) + tuple(reference.shape)
            if stacked is None or not size:
                result[out_index][in_index] = _zeros_block(output, reference)
            else:
                result[out_index][in_index] = stacked.narrow(0, offset, size).reshape(shape)
            offset += size
    return tuple(tuple(row) for row in result)


def _reaches_beyond(outputs, inputs):
    """Whether the outputs' graph reaches a tensor that requires grad besides ``inputs``."""
    own = {id(value) for value in inputs}
    return reaches_other_leaf(outputs, lambda tensor: id(tensor) in own)


def reaches_other_leaf(roots, own):
    """Whether the graph behind ``roots`` reaches a tensor that requires grad (a leaf, or a root
    without a node) for which ``own(tensor)`` is False: a graph that results must keep."""
    stack = []
    for root in roots:
        if root.grad_fn is not None:
            stack.append(root.grad_fn)
        elif root.requires_grad and not own(root):
            return True
    seen = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for edge in node.next_edges:
            if edge is None:
                continue
            target = edge[0]
            if isinstance(target, Tensor):
                if not own(target):
                    return True
            elif target is not None:
                stack.append(target)
    return False


def _zeros_block(output, reference):
    return Tensor._wrap(np.zeros(tuple(output.shape) + tuple(reference.shape),
                                 reference._data.dtype))


def _jacobian_forward(func, inputs, vectorize, keep_graph=False):
    """J[i][j] by forward-mode products (double backward trick), one per input element; with
    ``keep_graph`` the Jacobian keeps its graph whenever grad mode is on (as PyTorch's
    forward-over-reverse Hessian, whose inner gradient has a graph of its own)."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    if not vectorize:
        # PyTorch's message, missing space included.
        raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse "
                                  "Hessian isonly implemented for `vectorize=True`.")
    # PyTorch's forward mode keeps the graph of inputs that require grad: the Jacobian is then
    # differentiable with respect to them (no create_graph needed), and of whatever else the
    # outputs depend on that requires grad (a captured parameter, an inner create_graph).
    keep = is_grad_enabled() and any(value.requires_grad for value in inputs)
    with enable_grad():
        inputs = _prepare(inputs, keep, need_graph=True)
        is_outputs_tuple, outputs = _as_tuple(
            func(*inputs), "outputs of the user-provided function", "jacobian")
        keep = keep or (is_grad_enabled() and (keep_graph or _reaches_beyond(outputs, inputs)))
        differentiable = [output for output in outputs if output.requires_grad]
        cotangents = tuple(_zeros_like(output, requires_grad=True) for output in differentiable)
        with forward_mode():  # custom Functions' tangents through their jvp
            grad_inputs = _autograd_grad(tuple(differentiable), inputs, cotangents,
                                         create_graph=True)
    # One column of products per output over the elements of all inputs, as PyTorch's batched
    # tangents give it; each output's blocks are then cut from it (so they keep a graph alike).
    columns = [[] for _ in outputs]
    for reference, grad_input in zip(inputs, grad_inputs):
        for position in range(reference.numel()):
            if grad_input is None or not grad_input.requires_grad:
                products = (None,) * len(cotangents)
            else:
                with set_grad_enabled(keep):
                    products = _grad((grad_input,), cotangents,
                                     (_one_hot(reference, position),), retain_graph=True,
                                     create_graph=keep, allow_unused=True)
            products = iter(products)
            for column, output in zip(columns, outputs):
                value = next(products) if output.requires_grad else None
                column.append(_zeros_like(output) if value is None else value)
    result = [[None] * len(inputs) for _ in outputs]
    for out_index, (column, output) in enumerate(zip(columns, outputs)):
        stacked = _assemble(column, (len(column),), output.shape, keep) if column else None
        offset = 0
        for in_index, reference in enumerate(inputs):
            size = reference.numel()
            shape = tuple(output.shape) + tuple(reference.shape)
            if stacked is not None and stacked.requires_grad:
                block = stacked.narrow(0, offset, size).movedim(0, -1).reshape(shape)
            else:
                part = np.zeros((0,) + tuple(output.shape), output._data.dtype) \
                    if stacked is None else stacked._data[offset:offset + size]
                # Made contiguous before the reshape: np.ascontiguousarray turns 0-d into 1-d.
                block = Tensor._wrap(np.ascontiguousarray(np.moveaxis(part, 0, -1)).reshape(
                    shape))
            result[out_index][in_index] = block
            offset += size
    # Lists, not tuples, as PyTorch's forward-mode jacobian returns them.
    return _untuple(result, (is_outputs_tuple, is_inputs_tuple))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: a Tensor of shape output.shape + input.shape, or
    (nested) tuples of them for tuple inputs or outputs, as ``torch.autograd.functional``."""
    if strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                             'Hint: If your function has more outputs than inputs, "forward-mode" '
                             'tends to be more performant. Otherwise, prefer to use '
                             '"reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                'torch.autograd.functional.jacobian: `create_graph=True` and '
                '`strategy="forward-mode"` are not supported together (yet). Please either set '
                '`create_graph=False` or `strategy="reverse-mode"`.')
        if strict:
            raise RuntimeError(
                'torch.autograd.functional.jacobian: `strict=True` and '
                '`strategy="forward-mode"` are not supported together (yet). Please either set '
                '`strict=False` or `strategy="reverse-mode"`.')
        return _jacobian_forward(func, inputs, vectorize)
    with enable_grad():
        is_inputs_tuple, inputs, is_outputs_tuple, outputs = _called(
            func, inputs, create_graph, strict, "jacobian")
        if vectorize and strict:
            raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and "
                               "`vectorized=True` are not supported together. Please either set "
                               "`strict=False` or `vectorize=False`.")
        _refuse_empty_outputs(outputs, vectorize)
        if vectorize and create_graph:
            result = _jacobian_vectorized_graph(outputs, inputs)
        else:
            result = _jacobian_reverse(outputs, inputs, create_graph, strict and not vectorize)
        result = _finish(result, create_graph)
    return _untuple(result, (is_outputs_tuple, is_inputs_tuple))


def _refuse_empty_outputs(outputs, vectorize):
    """PyTorch's reverse-mode jacobian fails on outputs without elements: it stacks no rows for
    such an output, and the vectorized one indexes a basis with no rows when all are empty."""
    sizes = [output.numel() for output in outputs]
    if vectorize:
        if not any(sizes):
            raise IndexError("index 0 is out of bounds for dimension 0 with size 0")
    elif not all(sizes):
        raise RuntimeError("stack expects a non-empty TensorList")


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar function: input.shape + input.shape, or a tuple of tuples of
    blocks H[i][j] for tuple inputs. The inner Jacobian is always reverse mode."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def gradient(*values):
        # The inner Jacobian of a one-element output is its gradient, seeded with a cotangent of
        # ones (PyTorch squeezes the output instead; no shape op enters the recorded graph here).
        with enable_grad():
            outputs = _scalar_output(func, values, strict, "hessian")
            grads = _autograd_grad(outputs, values, (_ones_like(outputs[0]),),
                                   create_graph=True, retain_graph=True)
            # PyTorch's inner Jacobian is not strict: zeros, then the "jacobian" check below.
            row = tuple(_checked_row(grads, values, 0, False, True))
        _check_requires_grad(row, "jacobian", strict)
        return row

    if outer_jacobian_strategy == "forward-mode" and not (create_graph or strict):
        result = _jacobian_forward(gradient, inputs, vectorize, keep_graph=True)
    else:  # (jacobian refuses forward mode with create_graph or strict)
        result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict,
                          vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _untuple(result, (is_inputs_tuple, is_inputs_tuple))


def _ones_like(value):
    return Tensor._wrap(np.ones_like(value._data))
