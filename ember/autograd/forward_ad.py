"""``torch.autograd.forward_ad``: dual tensors and their tangents, on ember's reverse-mode engine.

ember has no per-op forward derivatives. A dual tensor is a tensor the graph records (it requires
grad inside ember); ``unpack_dual`` computes the tangent of its argument when asked, by the
double-vjp trick over the graph recorded since the level's ``make_dual`` calls: for a dummy
cotangent ``u``, ``grad(out, duals, u)`` is ``J^T u``, linear in ``u``, and its vjp along the
tangents is ``J @ tangents``. That costs a backward with graph and a backward of that backward
per ``unpack_dual`` call, and needs the ops on the way to support double backward (as
``ember.func.jvp``).

What differs from PyTorch, because the tangent is found through the reverse-mode graph:
a dual tensor and the results computed from it report ``requires_grad=True`` (PyTorch: False
unless something else requires grad), and results computed under ``no_grad`` or
``inference_mode`` carry no tangent (PyTorch's forward AD ignores ``no_grad``).
``unpack_dual``'s primal is detached when only duals are behind the tensor, so from there on
``requires_grad`` is as in PyTorch; a dual of a tensor that does not require grad stops requiring
it when its level exits. A custom Function's tangents come from its ``jvp`` (its node is
transposed through it, ``function._TransposedJvp``); without one, NotImplementedError as PyTorch.
"""
import weakref
from typing import NamedTuple, Optional

import numpy as np

from ..tensor import Tensor
from . import function as _function
from .engine import grad as _grad
from .functional import Alias
from .grad_mode import enable_grad, is_grad_enabled
from ._contextlib import DecoratorContextManager

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level", "make_dual",
           "unpack_dual"]

# -1 outside any level; PyTorch supports one level at a time, numbered 0.
_current_level = -1
# The current level's duals, in creation order: (dual, tangent). Cleared on exit.
_duals = []
# The tangents unpack_dual computed at the current level, by id of the tensor: (weak reference
# to it, its version then, tangent). PyTorch keeps a tensor's tangent with it, so unpacking it
# again gives the same tangent object. Cleared on exit.
_unpacked = {}


def enter_dual_level():
    """Enter a new forward AD level (returns its number); only one level may be open."""
    global _current_level
    if _current_level >= 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _current_level = 0
    _function._forward_ad_hook = _custom_jvp
    return _current_level


def exit_dual_level(*, level=None):
    """Exit the forward AD level: the tangents of its dual tensors are gone from then on."""
    global _current_level
    if level is None:
        level = _current_level
    if level != _current_level:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was "
                           "created. This is not supported.")
    if level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    for dual, _ in _duals:
        if dual.grad_fn is None:
            dual._requires_grad = False  # a dual of a constant becomes a plain tensor again
    _duals.clear()
    _unpacked.clear()
    _function._forward_ad_hook = None
    _current_level = level - 1


class dual_level(DecoratorContextManager):
    """Context manager (and decorator) in which dual tensors are made and unpacked."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, exc_type, exc_value, traceback):
        exit_dual_level()

    def clone(self):
        return dual_level()


class UnpackedDualTensor(NamedTuple):
    """What ``unpack_dual`` returns: the primal and its tangent (None where it has none)."""

    primal: Tensor
    tangent: Optional[Tensor]


def check_dual(primal, tangent):
    """PyTorch's checks of a primal and the tangent paired with it (also ``func.jvp``'s)."""
    for name, value in (("primal", primal), ("tangent", tangent)):
        if not value.is_floating_point() and not value.is_complex():
            raise ValueError(f"Expected {name} to be floating point or complex, but got: "
                             f"{value.dtype}")
    if tangent.shape != primal.shape:
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than "
                           f"that of the original Tensor, this is not supported. Tensor is of "
                           f"size {list(primal.shape)} while the given forward gradient is of "
                           f"size {list(tangent.shape)}.")


def make_dual(tensor, tangent, *, level=None):
    """A new tensor on ``tensor``'s memory whose tangent is ``tangent`` at the forward AD level;
    differentiable with respect to ``tensor`` (an alias of it when it requires grad)."""
    if level is None:
        level = _current_level
    if level < 0:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, "
                           "make sure to enter_dual_level() first.")
    if not isinstance(tensor, Tensor) or not isinstance(tangent, Tensor):
        wrong = tangent if isinstance(tensor, Tensor) else tensor
        raise TypeError(f"make_dual(): argument must be Tensor, not {type(wrong).__name__}")
    check_dual(tensor, tangent)
    if level != _current_level:
        raise RuntimeError("Invalid level given to _make_dual")
    if _dual_entry(tensor) is not None or _reached_duals(tensor)[0]:
        raise RuntimeError(f"Making a dual Tensor based on a Tensor that already has a forward "
                           f"gradient at the same level {level} is not supported.")
    if tangent.stride() != tensor.stride():
        # PyTorch keeps a tangent laid out as its primal: another layout is copied into one
        tangent = tangent.new_empty_strided(tensor.shape, tensor.stride()).copy_(tangent)
    if tensor.requires_grad:
        with enable_grad():
            dual = Alias.apply(tensor)
    else:
        dual = tensor.detach().requires_grad_(True)
    _duals.append((dual, tangent))
    return dual


def _dual_entry(tensor):
    for entry in _duals:
        if entry[0] is tensor:
            return entry
    return None


def unpack_dual(tensor, *, level=None):
    """(primal, tangent) of ``tensor`` at the forward AD level: the tangent is None where
    ``tensor`` depends on no dual tensor of the level, or outside any level."""
    if level is None:
        level = _current_level
    if level < 0:
        return UnpackedDualTensor(tensor, None)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"unpack_dual(): argument 'tensor' must be Tensor, not "
                        f"{type(tensor).__name__}")
    entry = _dual_entry(tensor)
    reached, reaches_other = ([entry], tensor.grad_fn is not None) if entry is not None else \
        _reached_duals(tensor)
    if reached and level != _current_level:
        raise RuntimeError("Invalid level given to _fw_primal")
    if not reached:
        return UnpackedDualTensor(_primal(tensor, reaches_other), None)
    if entry is not None:
        return UnpackedDualTensor(_primal(tensor, reaches_other), entry[1])
    tangents = [tangent for _, tangent in reached]
    keep = is_grad_enabled() and (
        reaches_other or any(tangent.requires_grad for tangent in tangents))
    key = id(tensor)
    cached = _unpacked.get(key)
    if cached is not None and cached[0]() is tensor and cached[1] == tensor._version:
        return UnpackedDualTensor(_primal(tensor, keep), cached[2])
    tangent = _tangent(tensor, reached, keep)
    _unpacked[key] = (weakref.ref(tensor, lambda _, key=key: _unpacked.pop(key, None)),
                      tensor._version, tangent)
    return UnpackedDualTensor(_primal(tensor, keep), tangent)


def _primal(tensor, differentiable):
    """``tensor``'s value without its tangent: still recorded where something besides the duals
    needs its gradient, else detached."""
    if differentiable:
        with enable_grad():
            return Alias.apply(tensor)
    return tensor.detach()


def _reached_duals(tensor):
    """The level's (dual, tangent) pairs behind ``tensor``'s graph, and whether the graph also
    reaches a tensor requiring grad that is not a dual of the level."""
    if not tensor.requires_grad:
        return [], False
    leaves = {}
    outputs = {}
    for entry in _duals:
        dual = entry[0]
        if dual.grad_fn is None:
            leaves[id(dual)] = entry
        else:
            outputs[(id(dual.grad_fn), dual._output_nr)] = entry
    found = {}
    reaches_other = False
    seen = set()
    stack = [(tensor, 0) if tensor.grad_fn is None else (tensor.grad_fn, tensor._output_nr)]
    while stack:
        target, number = stack.pop()
        if isinstance(target, Tensor):
            entry = leaves.get(id(target))
            if entry is None:
                reaches_other = True
            else:
                found[id(entry[0])] = entry
            continue
        entry = outputs.get((id(target), number))
        if entry is not None:
            found[id(entry[0])] = entry  # an alias of a primal that requires grad: go on to it
        if id(target) in seen:
            continue
        seen.add(id(target))
        for edge in target.next_edges:
            if edge is not None:
                stack.append(edge)
    ordered = [entry for entry in _duals if id(entry[0]) in found]
    return ordered, reaches_other


def _custom_jvp(ctx, args, results):
    """After a custom Function with ``jvp`` and no ``backward`` ran on tensors that carry
    tangents: its outputs' tangents from ``jvp(ctx, *input_tangents)`` (zeros for inputs without
    one, as PyTorch gives), its outputs made duals of the level."""
    tangents = []
    carried = False
    for arg in args:
        if isinstance(arg, Tensor):
            tangent = unpack_dual(arg).tangent
            if tangent is None:
                tangent = Tensor._wrap(np.zeros_like(arg._data))
            else:
                carried = True
            tangents.append(tangent)
        else:
            tangents.append(None)
    if not carried:
        return
    with enable_grad():
        output_tangents = _function.call_jvp(ctx, tangents)
    for result, tangent in zip(results, output_tangents):
        if tangent is None or not result.requires_grad:
            continue
        check_dual(result, tangent)
        result.grad_fn = None  # a dual of its own: nothing differentiates through the node
        _duals.append((result, tangent))


def _tangent(tensor, reached, keep):
    """J @ tangents of ``tensor`` with respect to the ``reached`` duals, by the double-vjp trick;
    recorded when ``keep``."""
    duals = [dual for dual, _ in reached]
    with enable_grad():
        cotangent = Tensor._wrap(np.zeros_like(tensor._data), True)
        with _function.forward_mode():
            transposed = _grad([tensor], duals, [cotangent], retain_graph=True,
                               create_graph=True, allow_unused=True)
        pairs = [(value, tangent) for value, (_, tangent) in zip(transposed, reached)
                 if value is not None and value.requires_grad]
        if not pairs:
            return Tensor._wrap(np.zeros_like(tensor._data))
        (product,) = _grad([value for value, _ in pairs], [cotangent],
                           [tangent for _, tangent in pairs], retain_graph=keep,
                           create_graph=keep, allow_unused=True)
    if product is None:
        return Tensor._wrap(np.zeros_like(tensor._data))
    return product
