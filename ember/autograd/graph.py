"""What a graph holds: the nodes behind a tensor and the bytes they keep for backward."""
from collections import namedtuple

from ..tensor import Tensor
from .node import Node, _saved_bytes

__all__ = ["GraphStats", "graph_stats", "saved_bytes"]


class GraphStats(namedtuple("GraphStats", ["nodes", "saved_bytes"])):
    """``nodes``: graph nodes (``grad_fn`` objects) behind a tensor, each counted once;
    ``saved_bytes``: bytes of the arrays those nodes still hold for backward."""

    __slots__ = ()


def graph_stats(tensor):
    """Count the nodes behind ``tensor`` and the bytes they saved for backward (0 and 0 for a
    tensor made under no_grad; the bytes drop to 0 once ``backward()`` has freed them)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"graph_stats(): expected a Tensor, got {type(tensor).__name__}")
    root = tensor.grad_fn
    if root is None:
        return GraphStats(0, 0)
    seen = {id(root)}
    stack = [root]
    nodes = 0
    total_bytes = 0
    while stack:
        node = stack.pop()
        nodes += 1
        if node.saved is not None:
            total_bytes += node._saved_nbytes
        for edge in getattr(node, "next_edges", None) or ():
            if edge is None:
                continue
            parent = edge[0]
            # Leaves appear in the edges as tensors; only nodes count here.
            if isinstance(parent, Node) and id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return GraphStats(nodes, total_bytes)


def saved_bytes():
    """Bytes of arrays saved for backward by every live graph in the process."""
    return _saved_bytes[0]
