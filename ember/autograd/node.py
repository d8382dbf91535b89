"""Node: one recorded op of the graph, and the ``ctx`` its forward and backward receive.

A node knows where its input gradients go (``next_edges``), what it saved for backward, and the
version of everything it saved, so that backward refuses values changed in place since.
"""
import itertools
import threading
import weakref

import numpy as np

from .._dtype import _repr_prefix, tensor_type_name
from .._hooks import RemovableHandle
from .anomaly_mode import is_anomaly_enabled
from ..tensor import Tensor


class BatchedForward(Exception):
    """Raised when an op's forward touches the data of a value batched by ``ember.func.vmap``
    (its array is a stand-in that knows only the per-sample shape and dtype): ``Op.apply`` then
    returns ``dispatch(op_class, args)``, which ember.func sets to run the op's batching rule;
    an in-place op writing a batched result calls ``inplace(tensor, result)``, likewise set."""

    dispatch = None
    inplace = None


# Creation order of nodes: every consumer of a node is created after it (the engine's heap key).
_sequence = itertools.count()
# Bytes of arrays currently saved for backward by live nodes (ember.autograd.saved_bytes()).
_saved_bytes = [0]
ndarray = np.ndarray


class _SavedTensorsHooks(threading.local):
    """This thread's ``saved_tensors_hooks`` (ember.autograd.graph)."""

    stack = ()  # (pack_hook, unpack_hook) pairs, innermost last
    disabled = None  # the error message while disable_saved_tensors_hooks is active
    inplace = False  # an in-place op is being computed: its node is packed after its fix-ups


saved_tensors_hooks_state = _SavedTensorsHooks()


class _PackedItem:
    """A saved item as a pack hook returned it, and whether backward wants it as an array."""

    __slots__ = ("packed", "as_array")

    def __init__(self, packed, as_array):
        self.packed = packed
        self.as_array = as_array


class _Packed:
    """``_saved_checks`` of a node whose saved items were packed: truthy, so ``saved_tensors``
    takes its checked branch and unpacks there; empty, as PyTorch checks no versions then."""

    __slots__ = ()

    def __bool__(self):
        return True

    def __iter__(self):
        return iter(())


_PACKED = _Packed()


def next_positions(order, count):
    """The input positions a node's ``_next_order`` names (a tuple, or a slice of the inputs)."""
    return range(count)[order] if type(order) is slice else order


class Node:
    """A recorded op: graph links, saved values and the ctx API (``save_for_backward``, ...).

    Each entry of ``_saved_checks`` is a saved check ``(index, counter, version, owner,
    output_nr)``: saved item ``index`` must still be at ``version`` of the version ``counter``
    when backward unpacks it; ``owner`` is the input Tensor the item came from, or None for this
    node's own output ``output_nr`` (None, not the node: a node holding itself would be a
    reference cycle, and its graph would wait for the garbage collector). Plain tuples, unpacked by name where read: a namedtuple costs
    about 300 ns to build, on every recorded op.
    """

    __slots__ = ("next_edges", "needs_input_grad", "_sequence_nr", "_recording", "_num_outputs",
                 "__dict__", "__weakref__")
    # Rarely written per-node state: class-level defaults keep node creation cheap.
    saved = None
    _saved_checks = ()
    _saved_unmatched = ()  # saved arrays that may be outputs: tied to them once outputs exist
    _saved_nbytes = 0
    _released = False
    _inputs = None
    # True once any hook below is registered: the engine's one check per node it runs.
    _hooked = False
    _tensor_hooks = None  # output_nr -> {handle id: hook} (Tensor.register_hook on an output)
    _retained = None  # output_nr -> the retain_grad() accumulator of that output
    _pre_hooks = None  # {handle id: hook(grad_outputs)} (register_prehook)
    _post_hooks = None  # {handle id: hook(grad_inputs, grad_outputs)} (register_hook)
    _non_differentiable = None
    _view_of = None  # on the node of a view: (base, chain, version), see ember.autograd.views
    _unpack_as_tensors = False  # set while backward runs under create_graph
    # PyTorch's name for the node (printed in grad_fn=<...>) where ember's op class differs;
    # set on a class, or on one node by ``torch_named`` where it depends on the call.
    _torch_name = None
    # The edges ``next_functions`` shows, by index, where PyTorch's node lists its inputs in
    # another order or without the op's options (None: every edge, in argument order).
    _next_order = None
    # PyTorch's names of the saved items, by position in ``saved`` (Tanh: ("result",)), which
    # grad_fn._saved_<name> returns; None: the node shows none.
    _saved_names = None
    multiple_views = False  # True on the nodes of ops returning several views (split, unbind)

    # ---- ctx API -----------------------------------------------------------------------------
    def save_for_backward(self, *items):
        """Keep arrays (or Tensors) for backward; in-place changes to saved inputs or outputs
        are detected when backward unpacks them. When nothing is recorded this does nothing."""
        if not self._recording:
            return
        checks = []
        unmatched = None
        nbytes = 0
        inputs = self._inputs
        index = -1
        for item in items:
            index += 1
            if item is None:
                continue
            if isinstance(item, ndarray):
                nbytes += item.nbytes
                for source in inputs:
                    if isinstance(source, Tensor) and source._data is item:
                        break
                else:
                    # not an input: an output (tied to it once outputs exist) or private
                    if unmatched is None:
                        unmatched = [index]
                    else:
                        unmatched.append(index)
                    continue
            elif isinstance(item, Tensor):
                nbytes += item._data.nbytes
                source = item
            else:
                continue
            if source._is_inference:
                raise RuntimeError(
                    "Inference tensors cannot be saved for backward. Please do not use Tensors "
                    "created in inference mode in computation tracked by autograd. To work "
                    "around this, you can make a clone to get a normal tensor and use it in "
                    "autograd, or use `torch.no_grad()` instead of `torch.inference_mode()`.")
            counter = source._vc
            if counter is None:
                counter = source._version_counter()
            checks.append((index, counter, counter.value, source, 0))
        self.saved = items
        self._saved_checks = checks
        if unmatched is not None:
            self._saved_unmatched = unmatched
        self._saved_nbytes = nbytes
        _saved_bytes[0] += nbytes

    @property
    def saved_tensors(self):
        """The saved items, after checking none was modified in place since it was saved. Under
        create_graph they come back as Tensors that carry their history."""
        if self._released:
            raise RuntimeError(SECOND_BACKWARD)
        checks = self._saved_checks
        if checks:
            if checks is _PACKED:
                return self._unpacked()
            self._check_versions()
        if self.saved is None:
            return ()
        if self._unpack_as_tensors:
            return self._saved_with_history()
        return self.saved

    def mark_non_differentiable(self, *outputs):
        self._non_differentiable = {id(output) for output in outputs}

    # ---- node API ----------------------------------------------------------------------------
    def __getattr__(self, name):
        # Only reached for what the instance and its class lack: PyTorch's grad_fn._saved_self,
        # _saved_result, ... (an input as the tensor itself, an output rebuilt with this node
        # as its grad_fn, None where the item was not needed).
        names = self._saved_names
        if names is not None and name.startswith("_saved_") and name[7:] in names:
            if self._released:
                raise RuntimeError(SECOND_BACKWARD)
            items = self._saved_with_history() if self.saved is not None else ()
            index = names.index(name[7:])
            return items[index] if index < len(items) else None
        raise AttributeError(f"'{self.name()}' object has no attribute '{name}'")

    def name(self):
        name = self._torch_name
        return name if name is not None else type(self).__name__ + "Backward0"

    @property
    def next_functions(self):
        """((node, output_nr), ...) as in PyTorch: a leaf appears as its AccumulateGrad node,
        which this node then keeps (as PyTorch's edges keep theirs)."""
        functions = self.__dict__.get("_next_functions")
        if functions is None:
            edges = self.next_edges
            if self._next_order is not None:
                edges = [edges[index] for index in next_positions(self._next_order, len(edges))]
            functions = self.__dict__["_next_functions"] = tuple(
                (None, 0) if edge is None else
                (AccumulateGrad.of(edge[0]), 0) if isinstance(edge[0], Tensor) else edge
                for edge in edges)
        return functions

    @property
    def metadata(self):
        """A dict kept with the node for the user's own annotations."""
        metadata = self.__dict__.get("_metadata")
        if metadata is None:
            metadata = self.__dict__["_metadata"] = {}
        return metadata

    def register_prehook(self, hook):
        """Run ``hook(grad_outputs)`` before this node's backward; a tuple it returns replaces
        the gradients of the node's outputs."""
        return self._add_hook("_pre_hooks", hook)

    def register_hook(self, hook):
        """Run ``hook(grad_inputs, grad_outputs)`` after this node's backward; a tuple it returns
        replaces the gradients it computed for its inputs."""
        return self._add_hook("_post_hooks", hook)

    def _add_hook(self, kind, hook):
        hooks = getattr(self, kind)
        if hooks is None:
            hooks = {}
            setattr(self, kind, hooks)
        self._hooked = True
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def __repr__(self):
        return f"<{self.name().rpartition('::')[2]} object at {id(self):#x}>"

    # ---- saved values ------------------------------------------------------------------------
    def _match_saved_outputs(self, results):
        """Tie saved arrays that are outputs of this node to the outputs' version counters
        (arrays that are neither inputs nor outputs are private to the node: no check)."""
        saved = self.saved
        checks = self._saved_checks
        for index in self._saved_unmatched:
            item = saved[index]
            for number, tensor in enumerate(results):
                if tensor._data is item:
                    counter = tensor._version_counter()
                    checks.append((index, counter, counter.value, None, number))
                    break
        self._saved_unmatched = ()

    def _pack_saved(self, outputs):
        """Replace the saved items by what this thread's innermost pack hook makes of them: an
        input as the input tensor, an output as the output tensor, other arrays wrapped."""
        stack = saved_tensors_hooks_state.stack
        if not stack or self.saved is None:
            return
        pack_hook, unpack_hook = stack[-1]
        sources = {}
        for index, _, _, owner, output_nr in self._saved_checks:
            sources[index] = owner if isinstance(owner, Tensor) else outputs[output_nr]
        packed = []
        for index, item in enumerate(self.saved):
            if isinstance(item, Tensor):
                packed.append(_PackedItem(pack_hook(item), False))
            elif isinstance(item, ndarray):
                source = sources.get(index)
                tensor = source if source is not None else Tensor._wrap(item)
                packed.append(_PackedItem(pack_hook(tensor), True))
            else:
                packed.append(item)
        self.saved = tuple(packed)
        self._saved_checks = _PACKED
        self.__dict__["_unpack_hook"] = unpack_hook

    def _unpacked(self):
        """The saved items back from the unpack hook: Tensors under create_graph, else in the
        form backward saved them."""
        unpack_hook = self.__dict__["_unpack_hook"]
        items = []
        for item in self.saved:
            if type(item) is _PackedItem:
                value = unpack_hook(item.packed)
                if not isinstance(value, Tensor):
                    raise TypeError(f"Output of saved tensor unpack_hook expected to be a Tensor "
                                    f"but got result of type {type(value).__name__}")
                item = value._data if item.as_array and not self._unpack_as_tensors else value
            items.append(item)
        return tuple(items)

    def _check_versions(self):
        for index, counter, version, owner, output_nr in self._saved_checks:
            if counter.value == version:
                continue
            if isinstance(owner, Tensor):  # a saved input: its grad_fn as it is now
                grad_fn, output_nr = owner.grad_fn, owner._output_nr
            else:
                grad_fn = self
            item = self.saved[index]
            array = item._data if isinstance(item, Tensor) else item
            description = f"[{tensor_type_name(array.dtype)} {list(array.shape)}]"
            if grad_fn is not None:
                # PyTorch names the op without "Backward", and without the 0 of its first
                # overload: "Exp" for ExpBackward0, "Elu1" for EluBackward1
                operation = grad_fn.name().removesuffix("Backward0").replace("Backward", "", 1)
                description += f", which is output {output_nr} of {operation},"
            hint = ("the backtrace further above shows the operation that failed to compute its "
                    "gradient. The variable in question was changed in there or anywhere later. "
                    "Good luck!" if is_anomaly_enabled() else
                    f"enable anomaly detection to find the operation that failed to compute its "
                    f"gradient, with {_repr_prefix[0]}.autograd.set_detect_anomaly(True, "
                    f"check_nan=False).")
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: {description} is at version {counter.value}; expected "
                f"version {version} instead. Hint: {hint}")

    def _saved_with_history(self):
        """The saved items as Tensors for a differentiable backward: inputs are the input
        tensors themselves, outputs come back with this node as grad_fn (PyTorch rebuilds a saved
        output the same way, so the node does not hold its own output alive), and private arrays
        are constants."""
        items = list(self.saved)
        for index, counter, _, owner, output_nr in self._saved_checks:
            if isinstance(owner, Tensor):
                items[index] = owner
                continue
            item = items[index]
            output = Tensor._wrap(item._data if isinstance(item, Tensor) else item,
                                  requires_grad=True)
            output.grad_fn = self
            output._output_nr = output_nr
            output._vc = counter
            items[index] = output
        # What no check replaced: private arrays, constants under create_graph.
        return tuple([Tensor._wrap(item) if isinstance(item, np.ndarray) else item
                      for item in items])

    def _release(self):
        """Drop saved values after backward (retain_graph=False)."""
        if self.saved is not None:
            _saved_bytes[0] -= self._saved_nbytes
            self._saved_nbytes = 0
            self.saved = None
            self._saved_checks = ()
            self._released = True

    def __del__(self):
        if self.saved is not None:
            _saved_bytes[0] -= self._saved_nbytes

    # ---- backward ----------------------------------------------------------------------------
    def _run_backward(self, grad_outputs, create_graph):
        """Input gradients, one per edge (None where not needed): arrays, or Tensors that carry
        their own history under ``create_graph``."""
        if self._released:
            raise RuntimeError(SECOND_BACKWARD)
        # Saved values are checked for in-place changes where backward unpacks them
        # (saved_tensors), as in PyTorch.
        if create_graph:
            result = self._backward_with_history(grad_outputs)
        else:
            result = self.backward(self, *grad_outputs)
        if type(result) is not tuple:
            result = (result,)
        count = len(self.next_edges)
        if len(result) != count:
            # PyTorch lets a backward return extra Nones beyond its inputs, not extra gradients
            if len(result) > count and all(grad is None for grad in result[count:]):
                return result[:count]
            if len(result) > count or any(self.needs_input_grad[len(result):]):
                raise RuntimeError(f"function {self.name()} returned an incorrect number of "
                                   f"gradients (expected {count}, got {len(result)})")
            result = result + (None,) * (count - len(result))
        return result

    def _backward_with_history(self, grad_outputs):
        """Backward under create_graph; nodes whose backward is written for arrays only say so."""
        raise RuntimeError(f"{self.name()}: double backward (create_graph=True) is not "
                           f"implemented for this operation")


SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward.")


class AccumulateGrad:
    """What PyTorch's ``next_functions`` shows for a leaf: the node that accumulates into its
    ``.grad``, with the leaf as ``variable``. One per leaf while any is referenced (the same
    object from every consumer), made on demand: ember's graph links leaves directly."""

    __slots__ = ("variable", "_metadata", "__weakref__")
    next_functions = ()
    _live = weakref.WeakValueDictionary()  # id(leaf) -> its node (which keeps the leaf alive)

    def __init__(self, variable):
        self.variable = variable
        self._metadata = None

    @classmethod
    def of(cls, leaf):
        node = cls._live.get(id(leaf))
        if node is None or node.variable is not leaf:
            node = cls._live[id(leaf)] = cls(leaf)
        return node

    def name(self):
        return "torch::autograd::AccumulateGrad"

    @property
    def metadata(self):
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"
