"""``grad``, ``grad_and_value``, ``vjp``, ``jvp``, ``jacrev``, ``jacfwd`` and ``hessian``: PyTorch's
function transforms on ember's reverse-mode engine.

Each transform differentiates with respect to fresh tensors standing for its inputs, so nested
transforms and closures see distinct variables, as with PyTorch's levels. Results keep a graph
(``create_graph``) only where one is needed: when grad mode is on and the function's graph reaches
a tensor that requires grad besides those fresh inputs (an enclosing transform's variable, a
parameter captured by the function).

Inside a batched ``vmap`` call the transforms work on the whole batch: every input is made
batched at every level in progress, so that differentiating the sum over the batch gives each
sample its own derivative (per-sample gradients).

Forward mode (``jvp``, ``jacfwd``) uses the double-vjp trick: for a dummy cotangent ``u``,
``grad(f, x, u)`` is ``J^T u``, linear in ``u``; its vjp along a tangent ``v`` is ``J v``. It
needs the function's ops to support create_graph, and costs one forward, one backward with graph,
and one backward of that backward per tangent. ``hessian`` is forward over reverse, as PyTorch's
(reverse over reverse gives other values where the derivatives of an op's backward disagree at a
kink, as the norm's at 0).
"""
import functools
import warnings
import weakref

import numpy as np

from .._random import default_generator, vmapping
from ..autograd.engine import grad as _autograd_grad
from ..autograd.engine import inside_transform
from ..autograd.forward_ad import check_dual
from ..autograd.function import Function, forward_mode
from ..autograd.functional import Alias, reaches_other_leaf
from ..autograd.grad_mode import inference_mode, is_grad_enabled
from ..ops.shape import stack
from ..tensor import Tensor
from . import _batching, _vmap
from ._batching import logical as _logical, physical as _physical
from ._pytree import tree_flatten, tree_map, tree_unflatten
from ._vmap import _RANDOM_ERROR

__all__ = ["grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp", "vjp"]

_JVP = "jvp(f, primals, tangents)"


# ---- arguments ---------------------------------------------------------------------------------
def _checked_argnums(argnums, count):
    """``argnums`` validated and made non-negative, with PyTorch's errors."""
    if not isinstance(argnums, (int, tuple)):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    numbers = (argnums,) if isinstance(argnums, int) else argnums
    checked = []
    for number in numbers:
        if not isinstance(number, int):
            raise RuntimeError(f"argnum must be int, got: {type(number)}")
        if not -count <= number < count:
            raise RuntimeError(f"Got argnum={number}, but only {count} positional inputs")
        checked.append(number % count)
    if isinstance(argnums, tuple):
        if not checked:
            raise RuntimeError("argnums must be non-empty")
        if len(set(checked)) != len(checked):
            raise RuntimeError(f"argnums elements must be unique, got {argnums}")
        return tuple(checked)
    return checked[0]


def _level_ids(levels):
    return [level.id for level in levels]


def _tensors(args):
    """The tensors among a call's arguments (pytrees included)."""
    return [value for value in tree_flatten(args)[0] if isinstance(value, Tensor)]


def _selected(args, argnums):
    return args[argnums] if isinstance(argnums, int) else tuple(args[i] for i in argnums)


def _replaced(args, argnums, values):
    args = list(args)
    if isinstance(argnums, int):
        args[argnums] = values
    else:
        for number, value in zip(argnums, values):
            args[number] = value
    return tuple(args)


# ---- fresh variables, batched at every level in progress -------------------------------------
class _Variables:
    """Fresh differentiable tensors standing for a pytree of inputs: ``leaves`` (plain, batched
    along the levels) for the engine, ``tree`` (as the function sees them) for the call."""

    def __init__(self, tree, levels):
        self.levels = levels
        flat, self.spec = tree_flatten(tree)
        self.leaves = []
        for value in flat:
            if not isinstance(value, Tensor):
                raise ValueError(f"Thing passed to transform API must be Tensor, got "
                                 f"{type(value)}")
            physical = _physical(value, levels)
            if physical.requires_grad:
                self.leaves.append(Alias.apply(physical))
            elif physical._is_inference:
                # A tensor made in inference mode cannot require grad; a plain one on its data can.
                self.leaves.append(Tensor._wrap(physical._data, True))
            else:
                self.leaves.append(physical.detach().requires_grad_(True))
        self.tree = tree_unflatten([_logical(leaf, levels) for leaf in self.leaves], self.spec)

    def gradients(self, grads):
        """Per-variable results of ``grad`` (None as zeros), as the function saw the inputs."""
        results = [Tensor._wrap(np.zeros_like(leaf._data)) if value is None else value
                   for value, leaf in zip(grads, self.leaves)]
        return tree_unflatten([_logical(value, self.levels) for value in results], self.spec)


# The variables of transforms that have decided whether their results keep a graph: an
# enclosing transform's results need none for them (PyTorch's inner levels are gone by then).
_retired = weakref.WeakValueDictionary()


def _needs_graph(roots, variables, grad_enabled):
    """Whether results must carry a graph: grad mode was on where the transform was called
    (``grad_enabled``) and the roots' graph reaches a tensor that requires grad other than the
    transform's own variables and those of transforms nested in it. ``variables`` retire."""
    for leaf in variables:
        _retired[id(leaf)] = leaf
    if not grad_enabled:
        return False
    return reaches_other_leaf(roots, lambda tensor: _retired.get(id(tensor)) is tensor)


def _detached(tree, keep):
    """Results as returned: tensors detached unless they must keep their graph."""
    if keep:
        return tree
    return tree_map(lambda value: value.detach() if isinstance(value, Tensor) else value, tree)


def _aux(aux):
    """The aux output as the caller sees it: PyTorch unwraps it to the caller's level, so each
    tensor keeps its graph only where that reaches a tensor requiring grad besides the
    transforms' variables, whatever the main output needs."""
    flat, spec = tree_flatten(aux)
    for value in flat:
        if not isinstance(value, Tensor):
            raise RuntimeError(f"Expected tensors, got unsupported type {type(value)}")
    if not is_grad_enabled():
        return _detached(aux, False)
    levels = _batching.active_levels()
    kept = []
    for value in flat:
        keep_value = reaches_other_leaf([_physical(value, levels)],
                                        lambda tensor: _retired.get(id(tensor)) is tensor)
        kept.append(value if keep_value else value.detach())
    return tree_unflatten(kept, spec)


def _gradients(outputs, leaves, grad_outputs, create_graph, retain_graph=None):
    """d(outputs)/d(leaves) seeded with ``grad_outputs``: None where nothing flowed."""
    pairs = [(output, seed) for output, seed in zip(outputs, grad_outputs) if output.requires_grad]
    if not pairs:
        return [None] * len(leaves)
    return list(_autograd_grad([output for output, _ in pairs], leaves,
                               [seed for _, seed in pairs], retain_graph=retain_graph,
                               create_graph=create_graph, allow_unused=True))


def _split_aux(output, has_aux, api):
    """(output, aux) of a function called with ``has_aux`` (aux None without)."""
    if not has_aux:
        return output, None
    if not (isinstance(output, tuple) and len(output) == 2):
        raise RuntimeError(f"{api}: output of function f should be a tuple: (output, aux) if "
                           f"has_aux is True")
    return output


def _ones(tensor):
    return Tensor._wrap(np.ones_like(tensor._data))


def _recording():
    """Grad mode on and inference mode off for a transform's own differentiation: PyTorch's
    transforms give their derivatives under no_grad and inference_mode alike."""
    return inference_mode(False)


# ---- grad ---------------------------------------------------------------------------------------
def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning (gradient of ``func`` with respect to the arguments ``argnums``,
    the value of ``func``); with ``has_aux`` func returns (output, aux) and the value is
    (output, aux). ``func`` must return a scalar Tensor."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        levels = _batching.active_levels()
        grad_enabled = is_grad_enabled()
        with _recording():
            numbers = _checked_argnums(argnums, len(args))
            variables = _Variables(_selected(args, numbers), levels)
            call_args = _replaced(args, numbers, variables.tree)
            with inside_transform(_tensors(call_args), _level_ids(levels), reverse=True):
                result = func(*call_args, **kwargs)
            output, aux = _split_aux(result, has_aux, "grad_and_value(f)(*args)")
            if not isinstance(output, Tensor):
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"Tensor, got {type(output)}")
            if output.dim() != 0:
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"scalar Tensor, got tensor with {output.dim()} dims. Maybe "
                                   f"you wanted to use the vjp or jacrev APIs instead?")
            if output.dtype.is_complex:
                # PyTorch's implicit seed of autograd.grad refuses it
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs "
                                   f"but got {output.dtype}")
            physical = _physical(output, levels)
            create_graph = _needs_graph([physical], variables.leaves, grad_enabled)
            grads = _gradients([physical], variables.leaves, [_ones(physical)], create_graph)
        gradient = variables.gradients(grads)
        value = _detached(output, create_graph)
        if has_aux:
            return gradient, (value, _aux(aux))
        return gradient, value
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """A function returning the gradient of the scalar ``func`` with respect to the arguments
    ``argnums`` (pytrees of tensors allowed); with ``has_aux``, (gradient, aux)."""
    with_value = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        gradient, value = with_value(*args, **kwargs)
        if has_aux:
            return gradient, value[1]
        return gradient
    return wrapper


# ---- vjp ----------------------------------------------------------------------------------------
def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn[, aux]): ``vjp_fn(cotangents)`` returns the vector-Jacobian
    products with respect to every primal, as a tuple shaped like ``primals``."""
    return _vjp(func, primals, None, has_aux)


def _vjp(func, primals, argnums, has_aux):
    levels = _batching.active_levels()
    grad_enabled = is_grad_enabled()
    with _recording():
        differentiated = primals if argnums is None else _selected(primals, argnums)
        variables = _Variables(differentiated, levels)
        call_args = variables.tree if argnums is None else \
            _replaced(primals, argnums, variables.tree)
        with inside_transform(_tensors(call_args), _level_ids(levels), reverse=True):
            result = func(*call_args)
        outputs, aux = _split_aux(result, has_aux, "vjp(f, *primals)")
        flat_outputs, output_spec = tree_flatten(outputs)
        _check_tensor_outputs(flat_outputs, "vjp(f, *primals)")
        for output in flat_outputs:
            if output.dtype.is_floating_point or output.dtype.is_complex:
                continue
            raise RuntimeError(f"vjp(f, ...): All outputs of f must be floating-point or complex "
                               f"Tensors, got Tensor with dtype {output.dtype}")
        physical = [_physical(output, levels) for output in flat_outputs]
        keep = _needs_graph(physical, variables.leaves, grad_enabled)

    def vjp_fn(cotangents, retain_graph=True, create_graph=None):
        if create_graph is None:
            create_graph = keep
        flat_cotangents, cotangent_spec = tree_flatten(cotangents)
        if cotangent_spec != output_spec:
            raise RuntimeError(f"Expected pytree structure of cotangents to be the same as pytree "
                               f"structure of outputs to the function. cotangents: "
                               f"{cotangent_spec.pprint()}, primal output: "
                               f"{output_spec.pprint()}")
        for cotangent in flat_cotangents:
            if not isinstance(cotangent, Tensor) and cotangent is not None:
                raise TypeError(f"gradients can be either Tensors or None, but got "
                                f"{type(cotangent).__name__}")
        extra = [level for level in _batching.active_levels() if level not in levels]
        if extra and any(_batching.level_of(cotangent) in {level.id for level in extra}
                         for cotangent in flat_cotangents):
            return _outer_batched_vjp(physical, variables, flat_cotangents, levels, extra, keep,
                                      retain_graph)
        seeds = [_physical(cotangent, levels) for cotangent in flat_cotangents]
        with _recording():
            grads = _gradients(physical, variables.leaves, seeds, create_graph, retain_graph)
        return variables.gradients(grads)

    results = _detached(outputs, keep)
    if has_aux:
        return results, vjp_fn, _aux(aux)
    return results, vjp_fn


def _outer_batched_vjp(physical, variables, cotangents, levels, extra, keep, retain_graph):
    """vjp_fn's results for cotangents batched by vmaps entered after the vjp (``extra`` levels,
    as in vmap(vjp_fn)(basis)): the cotangents' extra batch dims go in front of the vjp's own
    physical dims and stay batched at the extra levels, so the recorded backward (Tensors, through
    the batching rules) runs once on the whole batch; the results are moved back behind the
    vjp's levels. The backward's graph is dropped where the results need none."""
    everything = tuple(levels) + tuple(extra)
    inner = tuple(range(len(levels), len(everything)))
    front = tuple(range(len(extra)))
    seeds = [_logical(_physical(cotangent, everything).movedim(inner, front), extra)
             for cotangent in cotangents]
    with _recording():
        grads = _gradients(physical, variables.leaves, seeds, True, retain_graph)
    results = []
    for value, leaf in zip(grads, variables.leaves):
        if value is None:
            value = _logical(Tensor._wrap(np.zeros_like(leaf._data)), levels)
        else:
            if not keep:
                value = value.detach()
            value = _logical(_physical(value, extra).movedim(front, inner), everything)
        results.append(value)
    return tree_unflatten(results, variables.spec)


def _check_tensor_outputs(flat_outputs, api):
    if not flat_outputs or (len(flat_outputs) == 1 and flat_outputs[0] is None):
        raise RuntimeError(f"{api}: Expected f to be a function that has non-empty output (got "
                           f"output = {flat_outputs})")
    for output in flat_outputs:
        if not isinstance(output, Tensor):
            raise RuntimeError(f"{api}: expected f(*primals) to return only tensors, got "
                               f"unsupported type {type(output)}")


# ---- jvp ----------------------------------------------------------------------------------------
def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), J @ tangents[, aux]): the Jacobian-vector product (forward mode), by the
    double-vjp trick."""
    return _jvp(func, primals, tangents, None, strict, has_aux)


def _tensor_list(flat, argname):
    if not flat:
        raise RuntimeError(f"{_JVP}: Expected {argname} to contain at least one Tensor.")
    for value in flat:
        if not isinstance(value, Tensor):
            raise RuntimeError(f"{_JVP}: Expected {argname} to only contain Tensors, got "
                               f"{type(value)}")


def _applied_function_check(variables, check):
    """The check of each custom Function that the user's function applies under a forward-mode
    transform: under jacfwd (``check``, its vmap) PyTorch needs every such Function's vmap
    support, and one given a tensor with a tangent (one that depends on the transform's
    ``variables``) runs through its jvp."""
    ids = {id(variable) for variable in variables}

    def not_a_variable(tensor):
        return id(tensor) not in ids

    def applied(function, args):
        if function._runs_in_transforms or function.setup_context is Function.setup_context:
            return  # ember's own, or refused where it runs (PyTorch's setup_context error)
        if check is not True:
            check(function)
        tensors = [arg for arg in args if isinstance(arg, Tensor) and arg.requires_grad]
        if not tensors or not reaches_other_leaf(tensors, not_a_variable):
            return
        if function.jvp is Function.jvp:
            Function.jvp(None)  # PyTorch's NotImplementedError for a Function without jvp
    return applied


class _Linearization:
    """The outputs of ``func`` at fresh variables for ``differentiated`` and the transposed
    Jacobian applied to dummy cotangents, from which any number of Jacobian-vector products
    follow (one backward of the backward each)."""

    def __init__(self, func, primals, differentiated, argnums, has_aux, levels, check=True):
        self.levels = levels
        with _recording():
            self.variables = _Variables(differentiated, levels)
            call_args = self.variables.tree if argnums is None else \
                _replaced(primals, argnums, self.variables.tree)
            applied_check = _applied_function_check(self.variables.leaves, check)
            with inside_transform(_tensors(call_args), _level_ids(levels)), \
                    forward_mode(applied_check, on_apply=True):
                result = func(*call_args)
            outputs, self.aux = _split_aux(result, has_aux, _JVP)
            self.flat_outputs, self.output_spec = tree_flatten(outputs)
            _check_tensor_outputs(self.flat_outputs, _JVP)
            physical = [_physical(output, levels) for output in self.flat_outputs]
            self.physical = physical
            self.cotangents = [Tensor._wrap(np.zeros_like(output._data), True)
                               for output in physical]
            with forward_mode(check):  # custom Functions' tangents through their jvp
                self.transposed = _gradients(physical, self.variables.leaves, self.cotangents,
                                             create_graph=True, retain_graph=True)

    def product(self, flat_tangents, create_graph, strict):
        """J @ tangents as flat physical tensors, one per output (zeros where independent)."""
        pairs = [(value, _physical(tangent, self.levels))
                 for value, tangent in zip(self.transposed, flat_tangents)
                 if value is not None and value.requires_grad]
        products = [None] * len(self.physical)
        wanted = [index for index, output in enumerate(self.physical) if output.requires_grad]
        if pairs and wanted:
            with _recording():
                results = _autograd_grad([value for value, _ in pairs],
                                         [self.cotangents[index] for index in wanted],
                                         [tangent for _, tangent in pairs], retain_graph=True,
                                         create_graph=create_graph, allow_unused=True)
            for index, result in zip(wanted, results):
                products[index] = result
        for index, result in enumerate(products):
            if result is None:
                if strict:
                    raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f "
                                       "is independent of the inputs. This is not allowed with "
                                       "strict=True.")
                products[index] = Tensor._wrap(np.zeros_like(self.physical[index]._data))
        return products

    def needs_graph(self, flat_tangents):
        tangents = [tangent for tangent in flat_tangents if isinstance(tangent, Tensor)]
        grad_enabled = is_grad_enabled()
        return _needs_graph(self.physical + tangents, self.variables.leaves + self.cotangents,
                            grad_enabled) or \
            (grad_enabled and any(tangent.requires_grad for tangent in tangents))


def _jvp(func, primals, tangents, argnums, strict, has_aux):
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{_JVP}: Expected primals to be a tuple. E.g. it should be valid to "
                           f"call f(*primals).")
    differentiated = primals if argnums is None else _selected(primals, argnums)
    flat_primals, primals_spec = tree_flatten(differentiated)
    flat_tangents, tangents_spec = tree_flatten(tangents)
    if primals_spec != tangents_spec:
        raise RuntimeError(f"{_JVP}: Expected primals and tangents to have the same python "
                           f"structure. For example, if primals is a tuple of 3 tensors, tangents "
                           f"also must be. Got primals with structure {primals_spec} and tangents "
                           f"with structure {tangents_spec}")
    _tensor_list(flat_primals, "primals")
    _tensor_list(flat_tangents, "tangents")
    _check_duals(flat_primals, flat_tangents)
    linear = _Linearization(func, primals, differentiated, argnums, has_aux,
                            _batching.active_levels())
    keep = linear.needs_graph(flat_tangents)
    products = linear.product(flat_tangents, keep, strict)
    outputs = tree_unflatten(_detached(linear.flat_outputs, keep), linear.output_spec)
    results = tree_unflatten([_logical(value, linear.levels) for value in products],
                             linear.output_spec)
    if has_aux:
        return outputs, results, _aux(linear.aux)
    return outputs, results


def _check_duals(flat_primals, flat_tangents):
    for primal, tangent in zip(flat_primals, flat_tangents):
        check_dual(primal, tangent)


# ---- Jacobians -----------------------------------------------------------------------------------
def _basis(position, sizes, references):
    """The one-hot vector ``position`` of the concatenated flat ``references``, split per
    reference and shaped like each (zeros elsewhere)."""
    pieces = []
    offset = 0
    for size, reference in zip(sizes, references):
        array = np.zeros(reference._data.shape, reference._data.dtype)
        if offset <= position < offset + size:
            array.reshape(-1)[position - offset] = 1
        pieces.append(Tensor._wrap(array))
        offset += size
    return pieces


def _stacked(pieces, plain):
    """Per-element results stacked along a new first dim: on the arrays when ``plain`` (nothing
    to record, nothing batched), else with the differentiable op."""
    if plain:
        return Tensor._wrap(np.stack([piece._data for piece in pieces]))
    return stack(pieces)


def _block(stacked, offset, size, shape, plain):
    """Rows [offset, offset + size) of ``stacked`` reshaped to ``shape``."""
    if plain:
        return Tensor._wrap(stacked._data[offset:offset + size].reshape(shape))
    return stacked.narrow(0, offset, size).reshape(shape)


def _error_if_complex(name, values, is_input):
    """PyTorch's jacrev and jacfwd take real tensors only, as every argument and every output."""
    for index, value in enumerate(tree_flatten(values)[0]):
        if isinstance(value, Tensor) and value.dtype.is_complex:
            kind = "inputs" if is_input else "outputs"
            raise RuntimeError(f"{name}: Expected all {kind} to be real but received complex "
                               f"tensor at flattened input idx: {index}")


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """A function returning the Jacobian of ``func`` with respect to the arguments ``argnums``,
    by reverse mode: every output element's vjp, batched in backwards of ``chunk_size`` rows
    (or as many as fit 2**26 basis elements) where nothing else is batched. Blocks have shape output.shape + input.shape,
    nested as the outputs, then as the differentiated arguments."""
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args):
        _error_if_complex("jacrev", args, True)
        numbers = _checked_argnums(argnums, len(args))
        results = _vjp(func, args, numbers, has_aux)
        output, vjp_fn = results[0], results[1]
        flat_outputs, output_spec = tree_flatten(output)
        _error_if_complex("jacrev", flat_outputs, False)
        flat_primals, primals_spec = tree_flatten(_selected(args, numbers))
        sizes = [value.numel() for value in flat_outputs]
        total = sum(sizes)
        plain = not _batching.active_levels() and not any(
            value.requires_grad for value in flat_outputs)
        rows = [[] for _ in flat_primals]
        every_stacked = _one_batched_call(
            lambda *basis: tree_flatten(vjp_fn(tree_unflatten(list(basis), output_spec)))[0],
            sizes, flat_outputs, chunk_size) if plain else None
        if every_stacked is None:
            for position in range(total):
                basis = tree_unflatten(_basis(position, sizes, flat_outputs), output_spec)
                for row, value in zip(rows, tree_flatten(vjp_fn(basis))[0]):
                    row.append(value)
        blocks = [[None] * len(flat_primals) for _ in flat_outputs]
        for index, (row, primal) in enumerate(zip(rows, flat_primals)):
            if every_stacked is not None:
                stacked = every_stacked[index]
            else:
                stacked = _stacked(row, plain) if total else None
            offset = 0
            for number, (output, size) in enumerate(zip(flat_outputs, sizes)):
                shape = tuple(output.shape) + tuple(primal.shape)
                blocks[number][index] = _block(stacked, offset, size, shape, plain) if size else \
                    Tensor._wrap(np.zeros(shape, primal._data.dtype))
                offset += size
        jacobian = tree_unflatten([tree_unflatten(per_primal, primals_spec)
                                   for per_primal in blocks], output_spec)
        if has_aux:
            return jacobian, results[2]
        return jacobian
    return wrapper


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """A function returning the Jacobian of ``func`` with respect to the arguments ``argnums``,
    by forward mode (the double-vjp trick): one Jacobian-vector product per input element."""
    @functools.wraps(func)
    def wrapper(*args):
        _error_if_complex("jacfwd", args, True)
        numbers = _checked_argnums(argnums, len(args))
        if randomness not in ("error", "different", "same"):  # checked at the call, as PyTorch
            raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', "
                               f"or 'same'. Got {randomness}")
        primals = _selected(args, numbers)
        flat_primals, primals_spec = tree_flatten(primals)
        tensors = [value for value in flat_primals if isinstance(value, Tensor)]
        _check_duals(tensors, tensors)
        levels = _batching.active_levels()
        state = default_generator._snapshot()
        with vmapping():  # PyTorch's jacfwd is a vmap of jvp
            linear = _Linearization(func, args, primals, numbers, has_aux, levels,
                                    _batching.check_vmappable)
        if randomness == "error" and default_generator._snapshot() != state:
            default_generator._restore(state)  # PyTorch refuses the draw before it is made
            raise RuntimeError(_RANDOM_ERROR)
        _error_if_complex("jacfwd", linear.flat_outputs, False)
        keep = linear.needs_graph([])
        plain = not levels and not keep
        sizes = [value.numel() for value in flat_primals]
        columns = [[] for _ in linear.physical]
        every_stacked = _one_batched_call(
            lambda *tangents: linear.product(list(tangents), True, False), sizes,
            flat_primals) if plain else None
        if every_stacked is None:
            for position in range(sum(sizes)):
                products = linear.product(_basis(position, sizes, flat_primals), keep, False)
                for column, value in zip(columns, products):
                    column.append(value)
        per_output = []
        for index, (column, output, physical) in enumerate(zip(columns, linear.flat_outputs,
                                                               linear.physical)):
            # Stacked along the input elements, which then move behind the output's dims.
            if every_stacked is not None:
                stacked = every_stacked[index]
            else:
                stacked = _stacked(column, plain) if column else None
            blocks = []
            offset = 0
            for primal, size in zip(flat_primals, sizes):
                shape = tuple(physical.shape) + tuple(primal.shape)
                if not size:
                    block = Tensor._wrap(np.zeros(shape, physical._data.dtype))
                elif plain:
                    part = np.moveaxis(stacked._data[offset:offset + size], 0, -1)
                    block = Tensor._wrap(np.ascontiguousarray(part).reshape(shape))
                else:
                    block = stacked.narrow(0, offset, size).movedim(0, -1).reshape(shape)
                blocks.append(_logical(block, levels))
                offset += size
            per_output.append(tree_unflatten(blocks, primals_spec))
        jacobian = tree_unflatten(per_output, linear.output_spec)
        if has_aux:
            return jacobian, _aux(linear.aux)
        return jacobian
    return wrapper


# The most elements of the one-hot basis one batched call takes (256 MiB of float32): larger
# Jacobians take their rows or columns in chunks of that size, one backward each.
_BATCHED_BASIS_LIMIT = 1 << 26


def _one_batched_call(function, sizes, references, chunk_size=None):
    """``function`` of every one-hot basis vector of the concatenated flat ``references``,
    through a vmap over the recorded ops (PyTorch vmaps its vjp and jvp the same way): the plain
    Jacobian's rows or columns stacked along a new first dim, from one backward per chunk of
    basis vectors where a loop would run one per element. None where there is one element or
    where an op has no batching rule (the caller loops)."""
    count = sum(sizes)
    if count < 2:
        return None
    chunk = max(1, _BATCHED_BASIS_LIMIT // count)
    if chunk_size is not None:
        chunk = min(chunk, chunk_size)
    pieces = []
    for first in range(0, count, chunk):
        last = min(first + chunk, count)
        basis = []
        offset = 0
        for size, reference in zip(sizes, references):
            rows = np.zeros((last - first, size), reference._data.dtype)
            for row in range(max(first, offset), min(last, offset + size)):
                rows[row - first, row - offset] = 1
            basis.append(Tensor._wrap(rows.reshape((last - first,) + tuple(reference._data.shape))))
            offset += size
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", UserWarning)  # the per-sample fallback: loop
                results = _vmap.vmap(lambda *values: tuple(function(*values)))(*basis)
        except UserWarning:
            return None
        pieces.append([value._data for value in results])
    return [Tensor._wrap(parts[0] if len(parts) == 1 else np.concatenate(parts))
            for parts in zip(*pieces)]


def hessian(func, argnums=0):
    """A function returning the Hessian of ``func`` with respect to the arguments ``argnums``:
    PyTorch's forward over reverse, jacfwd(jacrev(func)), whose values at kinks and zeros
    (a norm at 0, prelu at 0) are forward mode's. Custom Functions need vmap support."""
    jacobian = jacfwd(jacrev(func, argnums), argnums)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return jacobian(*args, **kwargs)
    return wrapper


def linearize(func, *primals):
    """(func(*primals), jvp_fn): ``jvp_fn(*tangents)`` gives J @ tangents at the primals, as
    often as needed, from one recorded linearization (PyTorch's ``torch.func.linearize``)."""
    output = func(*primals)
    flat_primals, primals_spec = tree_flatten(primals)
    linear = _Linearization(func, primals, primals, None, False, _batching.active_levels())

    def jvp_fn(*tangents):
        flat_tangents, tangents_spec = tree_flatten(tangents)
        if tangents_spec != primals_spec:
            raise RuntimeError(f"Expected the tangents {tangents_spec} to have the same argspec "
                               f"as the primals {primals_spec}")
        for index, (tangent, primal) in enumerate(zip(flat_tangents, flat_primals)):
            for what, theirs, expected in (("shape", tangent.shape, primal.shape),
                                           ("dtype", tangent.dtype, primal.dtype)):
                if theirs != expected:
                    raise RuntimeError(f"tangent:{index} with {what} {theirs} in flattened "
                                       f"pytree doesn't match the {what} {expected} of the "
                                       f"corresponding primal.")
        products = linear.product(flat_tangents, linear.needs_graph(flat_tangents), False)
        return tree_unflatten([_logical(value, linear.levels) for value in products],
                              linear.output_spec)
    return output, jvp_fn


def functionalize(func, *, remove="mutations"):
    """``func`` itself, for PyTorch's ``torch.func.functionalize``: that transform rewrites
    in-place and view ops for graph capture and gives the same values and input mutations
    eagerly, which is all ember runs."""
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(
            f"functionalize(f, remove='mutations'): received invalid argument for "
            f"remove={remove}. Valid options are:\n     remove='mutations': all inplace and out= "
            f"operators will be removed from the program, and replaced with their out-of-place "
            f"equivalents.\n     remove='mutations_and_views': In addition to the above, all "
            f"aliasing operators {{view}} will be replaced with their non-aliasing counterparts, "
            f"{{view}}_copy.\n")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper
