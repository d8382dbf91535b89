"""Nested Python containers of tensors ("pytrees"), as the function transforms see them: tuples,
lists, dicts, namedtuples, return types (``max(dim)``'s) and classes registered with
``register_pytree_node`` are nodes, everything else (None included) is a leaf.

PyTorch's own spelling of specs and node types (``TreeSpec(dict, keys, children)``,
``LeafSpec()``, ``SUPPORTED_NODES``, ``_get_node_type``), which libraries use to write their own
flatten (Lightning's combined loader), maps onto ember's."""
import collections
import dataclasses
import warnings
from collections import namedtuple
from typing import Any

PyTree = Any

# PyTorch's node types -> ember's kinds of node
_KINDS = {tuple: "tuple", list: "list", dict: "dict", namedtuple: "namedtuple"}
_TYPES = {kind: node_type for node_type, kind in _KINDS.items()}


class TreeSpec:
    """The structure of a pytree: the node type, what rebuilds it (dict keys, namedtuple class)
    and the children's specs; a leaf has no type."""

    __slots__ = ("kind", "context", "children", "num_leaves")

    def __init__(self, kind, context, children):
        self.kind = _KINDS.get(kind, kind)
        self.context = context
        self.children = tuple(children)
        self.num_leaves = 1 if kind is None else sum(child.num_leaves for child in children)

    def is_leaf(self):
        return self.kind is None

    @property
    def type(self):
        """PyTorch's node type (tuple, list, dict, collections.namedtuple); None for a leaf."""
        return _TYPES.get(self.kind, self.context if self.kind == "structseq" else None)

    @property
    def children_specs(self):
        return list(self.children)

    def __eq__(self, other):
        return isinstance(other, TreeSpec) and (self.kind, self.context, self.children) == \
            (other.kind, other.context, other.children)

    def __hash__(self):
        return hash((self.kind, self.context, self.children))

    def __repr__(self, indent=0):
        """PyTorch's TreeSpec repr (error messages quote it)."""
        if self.kind is None:
            return "*"
        if isinstance(self.kind, type):
            name, context = self.kind.__name__, self.context
        elif self.kind == "namedtuple":
            name, context = self.context.__name__, self.context
        elif self.kind == "structseq":
            name, context = self.context.__name__, None
        else:
            name, context = self.kind, list(self.context) if self.kind == "dict" else None
        children = ""
        if self.children:
            indent += 2
            children = self.children[0].__repr__(indent)
            children += "".join(",\n" + " " * indent + child.__repr__(indent)
                                for child in self.children[1:])
        return f"TreeSpec({name}, {context}, [{children}])"

    def pprint(self):
        """The structure with ``*`` for each leaf, as PyTorch's treespec_pprint."""
        return repr(tree_unflatten([_ASTERISK] * self.num_leaves, self))


class _Asterisk:
    def __repr__(self):
        return "*"


_ASTERISK = _Asterisk()


class LeafSpec(TreeSpec):
    """The spec of a leaf (``LeafSpec()``, which PyTorch 2.13 deprecates with a FutureWarning)."""

    __slots__ = ()

    def __init__(self):
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use `isinstance(treespec, "
                      "TreeSpec) and treespec.is_leaf()` instead.", FutureWarning, stacklevel=2)
        super().__init__(None, None, ())


LEAF = LeafSpec.__new__(LeafSpec)  # ember's own leaf spec, made without the warning
TreeSpec.__init__(LEAF, None, None, ())

NodeDef = namedtuple("NodeDef", ["type", "flatten_fn", "unflatten_fn", "flatten_with_keys_fn"],
                     defaults=[None])

# PyTorch's registry of container types: flatten_fn(node) -> (children, context) and
# unflatten_fn(children, context) -> node, in the contexts ember's specs keep
SUPPORTED_NODES = {
    tuple: NodeDef(tuple, lambda node: (list(node), None), lambda values, context: tuple(values)),
    list: NodeDef(list, lambda node: (list(node), None), lambda values, context: list(values)),
    dict: NodeDef(dict, lambda node: (list(node.values()), tuple(node)),
                  lambda values, context: dict(zip(context, values))),
    namedtuple: NodeDef(namedtuple, lambda node: (list(node), type(node)),
                        lambda values, context: context(*values)),
}


def _get_node_type(tree):
    """PyTorch's key into SUPPORTED_NODES: collections.namedtuple for a namedtuple, else the
    type."""
    if isinstance(tree, tuple) and hasattr(type(tree), "_fields"):
        return namedtuple
    return type(tree)


# classes made nodes by register_pytree_node -> (flatten_fn, unflatten_fn)
_REGISTERED = {}
_BUILT_IN_NODES = (tuple, list, dict, collections.OrderedDict, collections.defaultdict,
                   collections.deque)


def register_pytree_node(cls, flatten_fn, unflatten_fn, *, serialized_type_name=None,
                         to_dumpable_context=None, from_dumpable_context=None,
                         flatten_with_keys_fn=None):
    """Make instances of exactly ``cls`` nodes: ``flatten_fn(node)`` gives (children, context),
    ``unflatten_fn(children, context)`` rebuilds one. The serialization and key-path arguments
    are taken for PyTorch's signature; ember neither exports specs nor walks key paths."""
    if cls in _REGISTERED or cls in _BUILT_IN_NODES:
        raise ValueError(f"{cls} is already registered as pytree node.")
    _REGISTERED[cls] = (flatten_fn, unflatten_fn)


@dataclasses.dataclass(frozen=True)
class MappingKey:
    """The key path entry of a mapping's child (``flatten_with_keys_fn`` results hold them)."""
    key: object

    def __str__(self):
        return f"[{self.key!r}]"

    def get(self, mapping):
        return mapping[self.key]


def _dict_flatten_with_keys(mapping):
    """A dict's children with their MappingKeys, and its keys as the context."""
    keys = list(mapping)
    return [(MappingKey(key), mapping[key]) for key in keys], keys


def _node(tree):
    """(kind, context, children) for a container node, or None for a leaf."""
    registered = _REGISTERED.get(type(tree))
    if registered is not None:
        children, context = registered[0](tree)
        return type(tree), context, tuple(children)
    if isinstance(tree, tuple):
        if hasattr(type(tree), "_fields"):
            return "namedtuple", type(tree), tuple(tree)
        if hasattr(type(tree), "_field_names"):  # ember.return_types, PyTorch's structseqs
            return "structseq", type(tree), tuple(tree)
        return "tuple", None, tree
    if isinstance(tree, list):
        return "list", None, tree
    if isinstance(tree, dict):
        return "dict", tuple(tree), tuple(tree.values())
    return None


def tree_flatten(tree, is_leaf=None):
    """(leaves in depth-first order, spec); ``is_leaf(node)`` True stops the descent there."""
    leaves = []
    spec = _flatten_into(tree, leaves, is_leaf)
    return leaves, spec


def _flatten_into(tree, leaves, is_leaf=None):
    node = None if is_leaf is not None and is_leaf(tree) else _node(tree)
    if node is None:
        leaves.append(tree)
        return LEAF
    kind, context, children = node
    return TreeSpec(kind, context, [_flatten_into(child, leaves, is_leaf)
                                    for child in children])


def tree_unflatten(leaves, spec):
    """Rebuild the pytree of ``spec`` around ``leaves``."""
    iterator = iter(leaves)
    tree = _build(iterator, spec)
    return tree


def _build(iterator, spec):
    if spec.kind is None:
        return next(iterator)
    children = [_build(iterator, child) for child in spec.children]
    if isinstance(spec.kind, type):
        return _REGISTERED[spec.kind][1](children, spec.context)
    if spec.kind == "tuple":
        return tuple(children)
    if spec.kind == "list":
        return children
    if spec.kind == "dict":
        return dict(zip(spec.context, children))
    if spec.kind == "structseq":
        return spec.context(children)
    return spec.context(*children)


def tree_map(function, tree, *rests, is_leaf=None):
    """``function`` applied to every leaf of ``tree`` (and the matching leaves of ``rests``,
    which have the same structure), in a tree of the same structure."""
    leaves, spec = tree_flatten(tree, is_leaf)
    others = [tree_flatten(rest, is_leaf)[0] for rest in rests]
    return tree_unflatten([function(*values) for values in zip(leaves, *others)], spec)


def tree_leaves(tree, is_leaf=None):
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree, is_leaf=None):
    return tree_flatten(tree, is_leaf)[1]


def broadcast_prefix(prefix, spec):
    """The leaves of ``prefix`` repeated over the subtrees of ``spec`` they stand for (in_dims
    and out_dims are such prefixes), or None when ``prefix`` is not a prefix of ``spec``."""
    result = []
    if _broadcast_into(prefix, spec, result):
        return result
    return None


def _broadcast_into(prefix, spec, result):
    node = _node(prefix)
    if node is None:
        result.extend([prefix] * spec.num_leaves)
        return True
    kind, context, children = node
    if kind != spec.kind or len(children) != len(spec.children):
        return False
    if kind == "dict" and set(context) != set(spec.context):
        return False
    if kind == "dict":
        by_key = dict(zip(context, children))
        children = [by_key[key] for key in spec.context]
    return all(_broadcast_into(child, child_spec, result)
               for child, child_spec in zip(children, spec.children))
