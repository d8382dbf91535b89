"""Helpers that custom layers import from ``torch.nn.modules.utils``: argument expansion
(``_pair(3)`` is ``(3, 3)``) and stripping a wrapper's prefix from a state_dict; and ember's own
helpers for the layer families (constants by class keyword, the options part of a repr)."""
import collections.abc
import itertools

__all__ = ["consume_prefix_in_state_dict_if_present", "factory_kwargs"]

_FACTORY_KEYS = frozenset(("device", "dtype", "memory_format"))


def factory_kwargs(kwargs):
    """The factory arguments (device, dtype, memory_format) of a layer's keyword arguments,
    those nested under ``factory_kwargs`` merged in; TypeError for any other name."""
    if kwargs is None:
        return {}
    if not (set(kwargs) <= _FACTORY_KEYS | {"factory_kwargs"}):
        raise TypeError(f"unexpected kwargs {set(kwargs) - _FACTORY_KEYS - {'factory_kwargs'}}")
    simple = {key: kwargs[key] for key in kwargs if key != "factory_kwargs"}
    nested = kwargs.get("factory_kwargs") or {}
    if not set(nested) <= _FACTORY_KEYS:
        raise TypeError(f"unexpected kwargs in factory_kwargs: {set(nested) - _FACTORY_KEYS}")
    repeated = set(simple) & set(nested)
    if repeated:
        raise TypeError(f"{sorted(repeated)} specified twice, in **kwargs and in factory_kwargs")
    return {**simple, **nested}


def _ntuple(count, name="parse"):
    """A function that makes ``count`` copies of a single value and passes iterables through."""
    def parse(value):
        if isinstance(value, collections.abc.Iterable):
            return tuple(value)
        return tuple(itertools.repeat(value, count))
    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _reverse_repeat_tuple(values, count):
    """Reverse ``values`` and repeat each ``count`` times: a layer's padding as F.pad takes it."""
    return tuple(value for value in reversed(values) for _ in range(count))


def consume_prefix_in_state_dict_if_present(state_dict, prefix):
    """Strip ``prefix`` (``"module."`` from a DistributedDataParallel model) from the keys of
    ``state_dict`` and of its ``_metadata``, in place."""
    for key in list(state_dict.keys()):
        if key.startswith(prefix):
            state_dict[key[len(prefix):]] = state_dict.pop(key)
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:
        for key in list(metadata.keys()):
            if len(key) == 0:
                continue
            if key == prefix.replace(".", "") or key.startswith(prefix):
                metadata[key[len(prefix):]] = metadata.pop(key)


class _Family:
    """Base of a family of layers that differ only in constants, given as class keywords:
    ``class MaxPool2d(_MaxPoolNd, functional=F.max_pool2d)``. Each keyword sets the class
    attribute of its name with a leading underscore, which the family declares; a function is
    kept as a staticmethod, so ``type(self)._functional`` is the plain function."""

    _functional = None  # the family member's function in F, for the family's forward

    def __init_subclass__(cls, **constants):
        super().__init_subclass__()
        for name, value in constants.items():
            attribute = "_" + name
            if not hasattr(cls, attribute):
                raise TypeError(f"{cls.__name__}: {cls.__mro__[1].__name__} takes no class "
                                f"keyword {name!r}")
            setattr(cls, attribute, staticmethod(value) if callable(value) else value)


def _changed_options(module, defaults, show=str):
    """", name=value" for each of ``module``'s options that differs from its default, in the
    order of the (name, default) pairs: the optional part of the extra_repr of PyTorch's layers.
    A None or bool default is compared by identity (``bias=1`` is not True), others by value."""
    text = ""
    for name, default in defaults:
        value = getattr(module, name)
        if default is None or isinstance(default, bool):
            changed = value is not default
        else:
            changed = value != default
        if changed:
            text += f", {name}={show(value)}"
    return text
