"""default_collate / default_convert: turn a list of samples into a batch, as PyTorch does.

Tensors and NumPy arrays are stacked, Python floats become float64 and ints int64 tensors,
strings stay lists, and tuples, lists and dicts are collated element by element.
"""
import collections.abc
import copy
import re

import numpy as np

from .. import _factories, ops
from .._dtype import float64
from ..tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_STRING_OR_OBJECT = re.compile("[SaUO]")

_ERROR_FORMAT = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                 "lists; found {}")


def _collate_tensors(batch):
    first = batch[0]
    shape = first._data.shape
    dtype = first._data.dtype
    if all(isinstance(item, Tensor) and item._data.shape == shape and item._data.dtype == dtype
           and not item._requires_grad for item in batch):
        return Tensor._wrap(np.stack([item._data for item in batch]))
    return ops.stack(list(batch))


def _rebuild_mapping(template, values):
    """The dict ``values`` in a container of ``template``'s type (a copy of a mutable one), or
    the plain dict when that type cannot be built from it (PyTorch's rule)."""
    try:
        if isinstance(template, collections.abc.MutableMapping):
            clone = copy.copy(template)
            clone.update(values)
            return clone
        return type(template)(values)
    except TypeError:
        return values


def _rebuild_sequence(template, items):
    """The list ``items`` in a sequence of ``template``'s type (a copy of a mutable one), or the
    plain list when that type cannot be built from it."""
    try:
        if isinstance(template, collections.abc.MutableSequence):
            clone = copy.copy(template)
            for position, item in enumerate(items):
                clone[position] = item
            return clone
        return type(template)(items)
    except TypeError:
        return items


def default_collate(batch):
    """Collate a list of samples into a batch (see the module docstring for the rules)."""
    first = batch[0]
    first_type = type(first)
    if isinstance(first, Tensor):
        return _collate_tensors(batch)
    if isinstance(first, np.ndarray):
        if _STRING_OR_OBJECT.search(first.dtype.str) is not None:
            raise TypeError(_ERROR_FORMAT.format(first.dtype))
        return _collate_tensors([_factories.as_tensor(np.asarray(item)) for item in batch])
    if isinstance(first, (np.bool_, np.number)):
        return _factories.as_tensor(np.asarray(batch))
    if isinstance(first, float):
        return _factories.tensor(batch, dtype=float64)
    if isinstance(first, int):
        return _factories.tensor(batch)
    if isinstance(first, (str, bytes)):
        return batch
    if isinstance(first, collections.abc.Mapping):
        return _rebuild_mapping(first, {key: default_collate([sample[key] for sample in batch])
                                        for key in first})
    if isinstance(first, tuple) and hasattr(first, "_fields"):
        return first_type(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(first, collections.abc.Sequence):
        size = len(first)
        if not all(len(sample) == size for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))  # tuples, as PyTorch (strings stay tuples)
        if isinstance(first, tuple):
            return [default_collate(samples) for samples in transposed]
        return _rebuild_sequence(first, [default_collate(samples) for samples in transposed])
    raise TypeError(_ERROR_FORMAT.format(first_type))


def default_convert(data):
    """Convert NumPy arrays and scalars inside ``data`` to tensors (used without batching)."""
    data_type = type(data)
    if isinstance(data, Tensor):
        return data
    if data_type.__module__ == "numpy" and data_type.__name__ not in ("str_", "string_"):
        if isinstance(data, np.ndarray) and _STRING_OR_OBJECT.search(data.dtype.str) is not None:
            return data
        return _factories.as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return data_type(*(default_convert(item) for item in data))
    if isinstance(data, tuple):
        return [default_convert(item) for item in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(item) for item in data])
    return data

