"""``vmap``: map a function over a dimension of its inputs.

A call first runs the function once on the whole batch (ember/func/_batching.py). Where an op has
no batching rule, or the function reads values in a way no rule covers, vmap warns once naming
what it could not batch and runs the function once per sample instead, stacking the results:
always correct, slower by the batch size. ``randomness`` follows PyTorch: "error" refuses random
ops, "same" gives every sample the same draws, "different" independent ones (per sample).
"""
import contextlib
import functools
import warnings

import numpy as np

from .._random import batch_draws, default_generator, refusing_draws, vmapping
from .._tensor_methods import numpy_names
from ..autograd.engine import inside_transform
from ..autograd.function import BatchedForward
from ..autograd.views import apply_inplace
from .._dtype import bool_
from ..ops.index import getitem
from ..ops.shape import cat, stack
from ..tensor import Tensor
from . import _batching
from ._pytree import broadcast_prefix, tree_flatten, tree_unflatten

__all__ = ["vmap"]

_RANDOMNESS = ("error", "different", "same")
_RANDOM_ERROR = ("vmap: called random operation while in randomness error mode. Please either use "
                 "the 'same' or 'different' randomness flags on vmap or perform the randomness "
                 "operation out of vmap")
# Packages whose frames name what could not be batched (the op entry points and their kernels).
_OP_PACKAGES = ("ember.ops", "ember.nn.functional", "ember.nn._kernels", "ember.autograd",
                "ember._tensor_methods", "ember.tensor", "ember.linalg", "ember._factories")
_warned = set()


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """``func`` mapped over dimension ``in_dims`` of its inputs, results stacked along
    ``out_dims`` (``torch.func.vmap``). in_dims and out_dims are ints, None (not mapped) or
    pytrees of them matching the inputs and outputs; keyword arguments are never mapped."""
    if randomness not in _RANDOMNESS:
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        return _call(func, in_dims, out_dims, randomness, chunk_size, args, kwargs)
    return wrapped


def _name(func):
    if hasattr(func, "__name__"):
        return func.__name__
    if isinstance(func, functools.partial):
        return f"functools.partial({_name(func.func)}, ...)"
    return repr(func)


def _call(func, in_dims, out_dims, randomness, chunk_size, args, kwargs):
    name = _name(func)
    _check_out_dims(out_dims, name)
    size, flat_in_dims, flat_args, spec = _mapped_inputs(in_dims, args, name)
    if chunk_size is None or chunk_size >= size:
        return _run(func, size, flat_in_dims, flat_args, spec, out_dims, randomness, kwargs, name)
    state = default_generator._snapshot() if randomness == "same" else None
    results = []
    for start in range(0, size, chunk_size):
        length = min(chunk_size, size - start)
        chunk = [arg if in_dim is None else arg.narrow(in_dim, start, length)
                 for arg, in_dim in zip(flat_args, flat_in_dims)]
        if state is not None:
            default_generator._restore(state)
        results.append(_run(func, length, flat_in_dims, chunk, spec, out_dims, randomness,
                            kwargs, name))
    return _joined(results, out_dims, cat)


def _check_out_dims(out_dims, name):
    leaves = [out_dims] if isinstance(out_dims, int) else tree_flatten(out_dims)[0]
    for leaf in leaves:
        if leaf is not None and not isinstance(leaf, int):
            raise ValueError(f"vmap({name}, ..., out_dims={out_dims}): `out_dims` must be an int, "
                             f"None or a python collection of ints representing where in the "
                             f"outputs the vmapped dimension should appear.")


def _mapped_inputs(in_dims, args, name):
    """(batch size, in_dim per flat argument, flat arguments, their spec), checked as PyTorch."""
    if not isinstance(in_dims, (int, tuple)):
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to "
                         f"be int or a (potentially nested) tuple matching the structure of "
                         f"inputs, got: {type(in_dims)}.")
    if not args:
        raise ValueError(f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add inputs, "
                         f"or you are trying to vmap over a function with no inputs. The latter "
                         f"is unsupported.")
    flat_args, spec = tree_flatten(args)
    flat_in_dims = broadcast_prefix(in_dims, spec)
    if flat_in_dims is None:
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not "
                         f"compatible with the structure of `inputs`. in_dims has structure "
                         f"{tree_flatten(in_dims)[1]} but inputs has structure {spec}.")
    for index, (arg, in_dim) in enumerate(zip(flat_args, flat_in_dims)):
        if in_dim is not None and not isinstance(in_dim, int):
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim="
                             f"{in_dim} for an input but in_dim must be either an integer "
                             f"dimension or None.")
        if in_dim is None:
            continue
        if not isinstance(arg, Tensor):
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim="
                             f"{in_dim} for an input but the input is of type {type(arg)}. We "
                             f"cannot vmap over non-Tensor arguments, please use None as the "
                             f"respective in_dim")
        ndim = arg.dim()
        if not -ndim <= in_dim < ndim:
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim="
                             f"{in_dim} for some input, but that input is a Tensor of "
                             f"dimensionality {ndim} so expected in_dim to satisfy -{ndim} <= "
                             f"in_dim < {ndim}.")
        flat_in_dims[index] = in_dim % ndim
    sizes = [arg.shape[in_dim] for arg, in_dim in zip(flat_args, flat_in_dims)
             if in_dim is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(size != sizes[0] for size in sizes):
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                         f"dimension, got sizes {sizes} for the mapped dimension")
    return sizes[0], flat_in_dims, flat_args, spec


def _run(func, size, flat_in_dims, flat_args, spec, out_dims, randomness, kwargs, name):
    """One batched call of ``func``, or one call per sample where that is not possible."""
    state = default_generator._snapshot()
    outer_reseed = default_generator._reseeded_in_vmap
    default_generator._reseeded_in_vmap = None
    reseed = None
    versions = _unmapped_versions(flat_args, flat_in_dims)
    reason = None
    draws = None
    try:
        with _batching.batching(size, randomness) as level, _batch_draws(randomness) as draws:
            inputs = [arg if in_dim is None else
                      _batching.wrap(arg if in_dim == 0 else arg.movedim(in_dim, 0), level.id)
                      for arg, in_dim in zip(flat_args, flat_in_dims)]
            with inside_transform(), refusing_draws(_refusal(randomness)), vmapping():
                outputs = func(*tree_unflatten(inputs, spec), **kwargs)
    except Exception as error:  # noqa: BLE001 - any failure of the batched try runs per sample
        if getattr(error, "vmap_refusal", False) or str(error) == _RANDOM_ERROR:
            raise
        _refuse_inplace_into_unbatched(error, size)
        _refuse_boolean_mask(error)
        reason = _reason(error)
        if randomness == "same" and reason in _RANDOM_FROM_TENSORS:
            raise RuntimeError("Vmap does not currently support same randomness with a batched "
                               "tensor input. Please file an issue with functorch") from None
        if reason in _DYNAMIC_SHAPE:
            raise RuntimeError(f"vmap: We do not support batching operators that can output "
                               f"dynamic shape. Attempted to vmap over {_DYNAMIC_SHAPE[reason]}. "
                               f"Please file an issue at https://github.com/pytorch/pytorch/"
                               f"issues if you need this feature.") from None
    finally:
        reseed = default_generator._reseeded_in_vmap
        default_generator._reseeded_in_vmap = outer_reseed if reseed is None else reseed
    if reseed is not None:
        state = reseed  # draws are looked for after the function's last manual_seed
    if default_generator._snapshot() != state:
        if randomness == "error":
            # PyTorch refuses the draw before it is made: the generator stays where it was
            default_generator._restore(state)
            raise RuntimeError(_RANDOM_ERROR)
        if reason is None and randomness == "different" and (draws is None or draws.unbatched):
            reason = "random operations with randomness='different'"
        if reason is not None:
            default_generator._restore(state)
    if reason is None:
        try:
            return _unbatched(outputs, out_dims, level, size, name)
        except _batching.Unbatchable as error:
            reason = error.what
    _check_unmapped_unchanged(versions, name)
    _warn_once(reason)
    return _per_sample(func, size, flat_in_dims, flat_args, spec, out_dims, randomness, kwargs,
                       name, versions)


def _batch_draws(randomness):
    """Under randomness="different", factories draw for the whole batch and a draw made for
    one sample only is noted (vmap then runs once per sample); nothing otherwise."""
    if randomness != "different":
        return contextlib.nullcontext()
    return batch_draws(_batching.batched_draw)


def _refusal(randomness):
    """What a draw from a given generator raises under ``randomness`` (None: it may draw)."""
    return _RANDOM_ERROR if randomness == "error" else None


def _unmapped_versions(flat_args, flat_in_dims):
    """(tensor, version) of the inputs not mapped over."""
    return [(arg, arg._version) for arg, in_dim in zip(flat_args, flat_in_dims)
            if in_dim is None and isinstance(arg, Tensor)]


def _check_unmapped_unchanged(versions, name):
    """Calls once per sample must not change an input that is not mapped over: PyTorch writes
    it once (its value unbatched) or raises (its value batched), never once per sample."""
    for tensor, version in versions:
        if tensor._version != version:
            raise RuntimeError(f"vmap({name}, ...): an input that is not mapped over (in_dims "
                               f"None) was changed in place by a function that vmap runs once "
                               f"per sample (an op has no batching rule), so it would be "
                               f"changed once per sample. Please use out-of-place operators, "
                               f"or map over that input.")


# Ops whose output shape depends on the values: PyTorch refuses them (one call per sample would
# give differently shaped results, or equal ones by chance).
_DYNAMIC_SHAPE = {"ember.ops.index.nonzero": "aten::nonzero",
                  "ember.ops.reduce.unique": "aten::_unique2",
                  "ember.ops.reduce.unique_consecutive": "aten::unique_consecutive"}
# Random ops drawing from the values of a tensor (probabilities, means): a batched one cannot
# share one draw across the batch, so PyTorch refuses randomness="same" there.
_RANDOM_FROM_TENSORS = ("ember._factories.bernoulli", "ember._factories.multinomial",
                        "ember._factories.normal", "ember._factories.poisson",
                        "ember._tensor_methods.bernoulli")
_APPLY_INPLACE = apply_inplace.__code__
_GETITEM = getitem.__code__
# PyTorch's refusal names these in-place ops (it batches them through its fallback) ...
_ATEN_NAMED = ("clamp_", "addcmul_", "addcdiv_", "lerp_", "pow_", "scatter_", "scatter_add_")
# ... and these by their own name; add_ fails its shape check first, others say "arithmetic".
_OP_NAMED = ("index_put_", "index_add_", "index_fill_", "index_copy_", "fill_")


def _refuse_inplace_into_unbatched(error, size):
    """PyTorch's error when the batched try failed writing a batched value in place into a tensor
    vmap does not map over (made inside the function, or an input with in_dims None): one call
    per sample would write it once per sample."""
    if not isinstance(error, (BatchedForward, _batching.Unbatchable)):
        return
    traceback = error.__traceback__
    while traceback is not None and traceback.tb_frame.f_code is not _APPLY_INPLACE:
        traceback = traceback.tb_next
    if traceback is None:
        return
    variables = traceback.tb_frame.f_locals
    tensor, operation = variables["tensor"], variables["operation"]
    if type(tensor._data) is _batching.BatchedArray:
        return
    if operation == "add_":
        operand = variables["operand"]
        shape = tuple(tensor.shape)
        if isinstance(operand, Tensor):
            shape = tuple(np.broadcast_shapes(shape, tuple(operand.shape)))
        raise RuntimeError(f"output with shape {list(tensor.shape)} doesn't match the broadcast "
                           f"shape {[size, *shape]}")
    where = "in a vmap"
    if operation in _ATEN_NAMED:
        operation = f"aten::{operation}"
        where = f"at level {len(_batching.active_levels()) + 1}"
    elif operation not in _OP_NAMED:
        operation = "inplace arithmetic"
    raise RuntimeError(f"vmap: {operation}(self, *extra_args) is not possible because there "
                       f"exists a Tensor `other` in extra_args that has more elements than "
                       f"`self`. This happened due to `other` being vmapped over but `self` not "
                       f"being vmapped over {where}. Please try to use out-of-place operators "
                       f"instead of {operation}. If said operator is being called inside the "
                       f"PyTorch framework, please file a bug report instead.")


def _refuse_boolean_mask(error):
    """PyTorch's error for indexing with a batched boolean mask (each sample would select its
    own number of elements)."""
    traceback = error.__traceback__
    while traceback is not None and traceback.tb_frame.f_code is not _GETITEM:
        traceback = traceback.tb_next
    if traceback is None:
        return
    key = traceback.tb_frame.f_locals["key"]
    for item in key if isinstance(key, tuple) else (key,):
        if isinstance(item, _batching.BatchedTensor) and item.dtype == bool_:
            raise RuntimeError("vmap: We do not support batching operators that can support "
                               "dynamic shape. Attempting to batch over indexing with a boolean "
                               "mask.") from None


# The code of every numpy_names front (one code object, shared by its closures).
_NUMPY_NAMES_FRONT = numpy_names(lambda dim: dim).__code__


def _reason(error):
    """What could not be batched: the rule-less op, or the op entry point (the outermost frame
    of the innermost run of frames in ember's op packages) where the data was read."""
    if isinstance(error, _batching.Unbatchable):
        return error.what
    frames = []
    traceback = error.__traceback__
    while traceback is not None:
        frames.append(traceback.tb_frame)
        traceback = traceback.tb_next
    found = None
    for frame in reversed(frames):
        if frame.f_code is _NUMPY_NAMES_FRONT:
            continue  # the argument-renaming front of a public op, not the op itself
        module = frame.f_globals.get("__name__", "")
        if module.startswith(_OP_PACKAGES):
            found = f"{module}.{frame.f_code.co_qualname}"
        elif found is not None:
            break
    if found is None:
        return f"{type(error).__name__}: {error}"
    return found


def _warn_once(reason):
    if reason in _warned:
        return
    _warned.add(reason)
    warnings.warn(f"vmap: there is no batching rule for {reason}; running the function once per "
                  f"sample instead (correct, but slower by the batch size)", UserWarning,
                  stacklevel=5)


def _per_sample(func, size, flat_in_dims, flat_args, spec, out_dims, randomness, kwargs, name,
                versions):
    state = default_generator._snapshot()
    results = []
    for position in range(size):
        if randomness == "same":
            default_generator._restore(state)
        sample = [arg if in_dim is None else arg.select(in_dim, position)
                  for arg, in_dim in zip(flat_args, flat_in_dims)]
        with inside_transform(), refusing_draws(_refusal(randomness)), vmapping():
            results.append(func(*tree_unflatten(sample, spec), **kwargs))
        _check_unmapped_unchanged(versions, name)
    if randomness == "error" and default_generator._snapshot() != state:
        default_generator._restore(state)
        raise RuntimeError(_RANDOM_ERROR)
    for result in results:
        _flat_outputs(result, out_dims, name)
    return _joined(results, out_dims, stack)


def _flat_outputs(outputs, out_dims, name):
    """(flat outputs, out_dim per output, spec), checked as PyTorch checks them."""
    flat, spec = tree_flatten(outputs)
    if isinstance(outputs, Tensor):
        if isinstance(out_dims, int) or out_dims is None:
            flat_out_dims = [out_dims]
        elif isinstance(out_dims, tuple) and len(out_dims) == 1:
            flat_out_dims = list(out_dims)
        else:
            flat_out_dims = None
    else:
        flat_out_dims = broadcast_prefix(out_dims, spec)
    if flat_out_dims is None:
        raise ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not "
                         f"compatible with the structure of `outputs`. out_dims has structure "
                         f"{tree_flatten(out_dims)[1]} but outputs has structure {spec}.")
    for output, out_dim in zip(flat, flat_out_dims):
        if out_dim is not None and not isinstance(output, Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type "
                             f"{type(output)}. Did you mean to set out_dims= to None for output?")
    return flat, flat_out_dims, spec


def _unbatched(outputs, out_dims, level, size, name):
    """The outputs of a batched call with the batch dimension at out_dims."""
    flat, flat_out_dims, spec = _flat_outputs(outputs, out_dims, name)
    results = []
    for output, out_dim in zip(flat, flat_out_dims):
        value, batched = _batching.unwrap(output, level.id)
        if out_dim is None:
            if batched:
                raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor "
                                 f"when out_dim is None")
            results.append(output)
            continue
        if not batched:
            value = _batching.broadcast_batch(output, size)
        ndim = value.dim()
        if not -ndim <= out_dim < ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, "
                             f"{ndim - 1}], but got {out_dim})")
        results.append(value.movedim(0, out_dim) if out_dim % ndim else value)
    return tree_unflatten(results, spec)


def _joined(results, out_dims, join):
    """Per-sample (stack) or per-chunk (cat) results joined along their out_dims."""
    flat_results = []
    for result in results:
        flat, flat_out_dims, spec = _flat_outputs(result, out_dims, "")
        flat_results.append(flat)
    joined = []
    for position, out_dim in enumerate(flat_out_dims):
        pieces = [flat[position] for flat in flat_results]
        joined.append(pieces[0] if out_dim is None else join(pieces, dim=out_dim))
    return tree_unflatten(joined, spec)
