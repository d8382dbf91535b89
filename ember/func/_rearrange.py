"""``torch.func.rearrange``: einops-style reordering of a tensor's dims by a pattern such as
``"b (h1 h) w c -> (b h1) h w c"``, as one reshape, one permute and one reshape."""
import math
import re

from ..ops.shape import stack
from ..tensor import Tensor

__all__ = ["rearrange"]

# The ellipsis as PyTorch names it in errors (one character, as einops does).
_ELLIPSIS = "\u2026"


class DimensionBindError(Exception):
    """A pattern's dims whose sizes cannot be bound to the tensor's (PyTorch's functorch.dim
    error of the same name)."""


def _parse_side(text):
    """A side of a pattern as its groups: each a list of axis names (``_ELLIPSIS`` for
    ``...`` in parentheses), a lone name a group of one, ``1`` or ``()`` an empty group (a dim
    of size 1), a lone ``...`` the string ``_ELLIPSIS`` (one group per dim it covers); its set
    of names; and whether it has an ellipsis inside parentheses."""
    groups = []
    group = None
    ellipsis_in_group = False
    for token in re.findall(r"\(|\)|[^\s()]+", text):
        if token == "(":
            if group is not None:
                raise ValueError("Axis composition is one-level (brackets inside brackets not "
                                 "allowed)")
            group = []
            continue
        if token == ")":
            if group is None:
                raise ValueError(f"Imbalanced parentheses in expression: '{text}'")
            groups.append(group)
            group = None
            continue
        if token == "...":
            name = _ELLIPSIS
            ellipsis_in_group = ellipsis_in_group or group is not None
        elif "." in token:
            raise ValueError(f"Expression may contain dots only inside ellipsis (...); only one "
                             f"ellipsis for tensor ")
        elif token.isdigit():
            if int(token) != 1:
                raise ValueError("rearrange only supports unnamed axes of size 1")
            name = None
        elif token.isidentifier():
            name = token
        else:
            raise ValueError(f"Invalid axis identifier: {token}\nnot a valid python identifier")
        if group is not None:
            if name is not None:
                group.append(name)
        elif name == _ELLIPSIS:
            groups.append(_ELLIPSIS)
        else:
            groups.append([] if name is None else [name])
    if group is not None:
        raise ValueError(f"Imbalanced parentheses in expression: '{text}'")
    names = [name for group in groups for name in group]
    for name in names:
        if names.count(name) > 1:
            if name == _ELLIPSIS:
                raise ValueError("Expression may contain dots only inside ellipsis (...); only "
                                 "one ellipsis for tensor ")
            raise ValueError(f"Indexing expression contains duplicate dimension '{name}'")
    return groups, set(names), ellipsis_in_group


def _bind(groups, shape, sizes):
    """Sizes of the left side's axes, from the tensor's ``shape`` and the given ``sizes``;
    the ellipsis binds to the dims it covers, named ``…0``, ``…1``, ..."""
    extra = len(shape) - len(groups)
    elementary = []
    dim = 0
    for group in groups:
        if group == _ELLIPSIS:
            for index in range(extra + 1):
                name = f"{_ELLIPSIS}{index}"
                sizes[name] = shape[dim]
                elementary.append(name)
                dim += 1
            continue
        length = shape[dim]
        dim += 1
        unknown = [name for name in group if name not in sizes]
        known = math.prod(sizes[name] for name in group if name in sizes)
        if len(unknown) > 1:
            raise DimensionBindError(f"cannot infer the sizes of two dimensions at once "
                                     f"{unknown[0]} and {unknown[1]}")
        if unknown:
            if known == 0 or length % known:
                pack = tuple(sizes[name] if name in sizes else "?" for name in group)
                raise DimensionBindError(f"inferred dimension does not evenly fit into larger "
                                         f"dimension: {length} vs {pack}")
            sizes[unknown[0]] = length // known
        elif known != length:
            raise DimensionBindError(f"Dimension sizes to do not match ({length} != {known}) when "
                                     f"matching dimension pack {tuple(group)}")
        elementary.extend(group)
    return elementary


def _expanded(groups, ellipsis_names):
    """The side's groups with the ellipsis replaced by the dims it bound: a group each where it
    stands alone, merged into the group that holds it in parentheses."""
    expanded = []
    for group in groups:
        if group == _ELLIPSIS:
            expanded.extend([name] for name in ellipsis_names)
        else:
            expanded.append([item for name in group
                             for item in (ellipsis_names if name == _ELLIPSIS else [name])])
    return expanded


def rearrange(tensor, pattern, **axes_lengths):
    """``tensor`` (or a sequence of tensors, stacked along a new first dim) with its dims
    reordered, split and merged as ``pattern`` says; sizes that the pattern leaves ambiguous
    come from ``axes_lengths``. A view where the reshapes allow one."""
    if pattern.count("->") != 1:
        raise ValueError("Pattern must contain a single '->' separator")
    left_text, right_text = pattern.split("->")
    left, left_names, left_nested = _parse_side(left_text)
    right, right_names, _ = _parse_side(right_text)
    if _ELLIPSIS in right_names and _ELLIPSIS not in left_names:
        raise ValueError(f"Ellipsis found in right side, but not left side of a pattern "
                         f"{pattern}")
    if left_nested:
        raise ValueError(f"Ellipsis is parenthesis in the left side is not allowed: {pattern}")
    one_sided = left_names ^ right_names
    if one_sided:
        raise ValueError(f"Identifiers only on one side of rearrange expression (should be on "
                         f"both): {one_sided}")
    unknown = set(axes_lengths) - left_names
    if unknown:
        raise ValueError(f"Identifiers not found in rearrange expression: {unknown}")
    if not isinstance(tensor, Tensor):
        tensor = stack(list(tensor))
    shape = tuple(tensor.shape)
    if _ELLIPSIS in left_names:
        if len(shape) < len(left) - 1:
            raise ValueError(f"Number of dimensions in pattern ({len(left) - 1}) must be at most "
                             f"the number of dimensions in the tensor ({len(shape)})")
    elif len(shape) != len(left):
        raise ValueError(f"Number of dimensions in pattern ({len(left)}) must be equal to the "
                         f"number of dimensions in the tensor ({len(shape)})")
    sizes = dict(axes_lengths)
    elementary = _bind(left, shape, sizes)
    ellipsis_names = [name for name in elementary if name.startswith(_ELLIPSIS)]
    order = [name for group in _expanded(right, ellipsis_names) for name in group]
    result = tensor
    elementary_shape = tuple(sizes[name] for name in elementary)
    if elementary_shape != shape:
        result = result.reshape(elementary_shape)
    permutation = [elementary.index(name) for name in order]
    if permutation != sorted(permutation):
        result = result.permute(permutation)
    final_shape = tuple(math.prod(sizes[name] for name in group)
                        for group in _expanded(right, ellipsis_names))
    if final_shape != tuple(result.shape):
        result = result.reshape(final_shape)
    return result
