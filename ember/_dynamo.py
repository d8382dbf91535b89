"""``torch._dynamo``'s corner that training scripts touch: ember compiles nothing, so its
``config`` only keeps what is set (PyTorch's defaults for the settings scripts read), and
``reset``, ``disable``, ``mark_dynamic`` and the graph markers change nothing."""
from . import _dynamo_config as config  # noqa: F401
from . import _dynamo_eval_frame as eval_frame  # noqa: F401
from ._dynamo_eval_frame import OptimizedModule  # noqa: F401
from .compiler import allow_in_graph, disable, is_compiling, reset  # noqa: F401

__all__ = ["OptimizedModule", "allow_in_graph", "assume_constant_result", "config", "disable",
           "disallow_in_graph", "eval_frame", "graph_break", "is_compiling", "mark_dynamic",
           "mark_static", "mark_static_address", "maybe_mark_dynamic", "reset"]


def mark_dynamic(tensor, index, *, min=None, max=None, specialize_on=None):
    """Nothing to mark: no graph is traced."""


def maybe_mark_dynamic(tensor, index):
    """Nothing to mark: no graph is traced."""


def mark_static(tensor, index=None):
    """Nothing to mark: no graph is traced."""


def mark_static_address(t, guard=False):
    """Nothing to mark: no graph is traced."""


def assume_constant_result(fn):
    """The function itself: with no tracing there is no result to fold into a graph."""
    return fn


def disallow_in_graph(function):
    return function


def graph_break(msg=""):
    """No graph to break."""
