"""torch.nn.utils.stateless: call a module with some of its parameters and buffers replaced
(``_functional_call``, behind ``torch.func.functional_call``), and PyTorch's deprecated public
spelling of it."""
import warnings
from collections.abc import Sequence

from ..modules.module import Module
from ...tensor import Tensor

__all__ = ["functional_call"]

_MISSING = object()


def functional_call(module, parameters_and_buffers, args=None, kwargs=None, *, tie_weights=True,
                    strict=False):
    """Deprecated since PyTorch 2.0 (FutureWarning): ``torch.func.functional_call``."""
    warnings.warn("`torch.nn.utils.stateless.functional_call` is deprecated as of PyTorch 2.0 "
                  "and will be removed in a future version of PyTorch. Please use "
                  "`torch.func.functional_call` instead which is a drop-in replacement.",
                  FutureWarning, stacklevel=2)
    return _functional_call(module, parameters_and_buffers, args, kwargs,
                            tie_weights=tie_weights, strict=strict)


def _functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                     tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with the named tensors of ``parameter_and_buffer_dicts`` (a
    dict, or a sequence of dicts with distinct keys) in place of the module's own; the module is
    restored afterwards, even when the call raises. In-place changes to the given tensors (a
    BatchNorm's running statistics) stay with them. With ``tie_weights``, a value given for one
    of several tied names is used for all of them; ``strict`` requires exactly the module's
    parameters and buffers."""
    if isinstance(parameter_and_buffer_dicts, dict):
        replacements = parameter_and_buffer_dicts
    elif isinstance(parameter_and_buffer_dicts, Sequence):
        if not all(isinstance(item, dict) for item in parameter_and_buffer_dicts):
            raise ValueError("Expected all elements of parameter_and_buffer_dicts to be "
                             "dictionaries")
        counts = {}
        for item in parameter_and_buffer_dicts:
            for key in item:
                counts[key] = counts.get(key, 0) + 1
        repeated = [key for key, count in counts.items() if count > 1]
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of "
                             f"functional call is ambiguous")
        replacements = {key: value for item in parameter_and_buffer_dicts
                        for key, value in item.items()}
    else:
        raise ValueError(f"Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of "
                         f"dicts, but got {type(parameter_and_buffer_dicts)}")
    if kwargs is None:
        kwargs = {}
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    if tie_weights:
        replacements = _untied(module, replacements)
    if strict:
        _check_keys(module, replacements)
    originals = {}
    try:
        for name, value in replacements.items():
            originals[name] = _swap(module, name, value)
        return module(*args, **kwargs)
    finally:
        final = {}
        for name, value in reversed(list(originals.items())):
            final[name] = _swap(module, name, value)
        if isinstance(parameter_and_buffer_dicts, dict):
            # A tensor the call assigned anew (rather than changed in place) is handed back.
            for name in parameter_and_buffer_dicts:
                if name in final:
                    parameter_and_buffer_dicts[name] = final[name]


def _named_tensors(module):
    """Every parameter and buffer by name, tied ones under each of their names."""
    named = dict(module.named_parameters(remove_duplicate=False))
    named.update(module.named_buffers(remove_duplicate=False))
    return named


def _untied(module, replacements):
    """A value given for one of several tied names, given for all of them (PyTorch refuses
    different values for names that are tied)."""
    groups = {}
    for name, tensor in _named_tensors(module).items():
        groups.setdefault(id(tensor), []).append(name)
    tied = {}
    for names in groups.values():
        if len(names) > 1:
            for name in names:
                tied[name] = names
    result = dict(replacements)
    for name in replacements:
        names = tied.get(name)
        if names is None:
            continue
        given = {id(replacements[other]) for other in names if other in replacements}
        if len(given) > 1:
            raise ValueError(f"functional_call got multiple values for keys {sorted(names)}, "
                             f"which are tied. Consider using tie_weights=False")
        for other in names:
            result[other] = replacements[name]
    return result


def _check_keys(module, replacements):
    valid = set(_named_tensors(module))
    given = set(replacements)
    errors = []
    unexpected = sorted(given - valid)
    missing = sorted(valid - given)
    if unexpected:
        errors.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
    if missing:
        errors.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
    if errors:
        raise RuntimeError(f"Error(s) in reparametrizing for {module._get_name()}:\n\t"
                           + "\n\t".join(errors))


def _owner(module, name):
    """(submodule, attribute) for a dotted tensor name."""
    prefix, _, attribute = name.rpartition(".")
    if not prefix:
        return module, attribute
    owner = module
    for part in prefix.split("."):
        try:
            owner = getattr(owner, part)
        except AttributeError as error:
            raise AttributeError(f"{owner._get_name()} has no attribute `{part}`") from error
        if not isinstance(owner, Module):
            raise TypeError(f"submodule `{prefix}`: {owner} is not an instance of "
                            f"torch.nn.Module")
    return owner, attribute


def _swap(module, name, value):
    """Put ``value`` (a Tensor, None, or _MISSING to remove) at ``name``; return what was there.
    Parameters and buffers are replaced in their registries, so any tensor may stand in."""
    if value is not _MISSING and value is not None and not isinstance(value, Tensor):
        raise TypeError(f"{value} is not an instance of torch.Tensor")
    owner, attribute = _owner(module, name)
    for registry in (owner._parameters, owner._buffers):
        if attribute in registry:
            original = registry[attribute]
            if value is _MISSING:
                del registry[attribute]
            else:
                registry[attribute] = value
            return original
    original = getattr(owner, attribute, _MISSING)
    if original is not _MISSING and original is not None and not isinstance(original, Tensor):
        raise TypeError(f"attribute `{attribute}`: {original} is not an instance of "
                        f"torch.Tensor")
    if value is _MISSING:
        if hasattr(owner, attribute):
            delattr(owner, attribute)
    else:
        setattr(owner, attribute, value)
    return original
