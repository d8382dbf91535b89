"""Recording one run of a model: what ember.onnx.export translates.

Three sources of events, in the order they happen:

- every op, through the hook in ``Op.apply`` (``ember.autograd.function._tracer``);
- the public functions of ``ember.ops`` (and the factories), swapped for recording wrappers
  while the model runs: a result that no op produced (comparisons, argmax, the no-grad fast path
  of arithmetic on tensors that need no grad) becomes a "function" event;
- the recurrent layers (RNN, LSTM, GRU), which ONNX has as whole layers: their forward runs with
  recording paused and is one "module" event.

The model runs with grad enabled and its floating inputs requiring grad, so arithmetic takes the
recorded path of Op.apply, and a tensor changed in place takes the node of the op that changed it:
values are found by (grad_fn, output number), or by identity for tensors without a node.
"""
import contextlib
import inspect
import os
import sys
import threading
import types

import numpy as np

from .. import _factories, ops
from .._tensor_methods import binary_operator, numpy_names
from ..autograd import function as _function
from ..autograd import node as _node
from ..nn import RNNBase
from ..nn import functional as _functional
from ..tensor import Tensor

# Frames in these files are ember's own; an event's location is the first frame outside them.
_EMBER_DIRECTORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class Value:
    """One tensor of the recorded program.

    ``kind``: "input" (a graph input), "parameter" (a parameter or buffer of the model),
    "constant" (any other tensor the model used; ``array`` holds a copy, ``note`` names the
    public function that made it, if any), "output" (made by ``producer``, an (event, index)
    pair), "untraced" (made by something that was not recorded; ``note`` names it) or, after
    merging runs, "filled" (a constant of one value whose shape follows the dynamic axes).
    ``shape`` is a tuple of ints, and of ints and Dims after merging.
    """

    __slots__ = ("kind", "dtype", "shape", "array", "name", "producer", "fill", "note",
                 "__weakref__")

    def __init__(self, kind, dtype, shape, array=None, name=None):
        self.kind = kind
        self.dtype = dtype
        self.shape = shape
        self.array = array
        self.name = name
        self.producer = None
        self.fill = None
        self.note = None

    def __repr__(self):
        return f"Value({self.kind}, {self.dtype}, {self.shape})"


class Event:
    """One recorded call: an op (``target`` is its class), a public function or a layer
    (``target`` is the function or the module). ``args``/``kwargs`` hold Values
    where the call had tensors, Python values elsewhere; ``outputs`` one Value (or None) per
    result. ``frozen``: every tensor it read is a constant or a parameter (a folding candidate).
    """

    __slots__ = ("kind", "name", "target", "args", "kwargs", "outputs", "scope", "location",
                 "frozen", "index")

    def __init__(self, kind, name, target, args, kwargs, scope, location):
        self.kind = kind
        self.name = name
        self.target = target
        self.args = args
        self.kwargs = kwargs
        self.outputs = ()
        self.scope = scope
        self.location = location
        self.frozen = False
        self.index = None

    def where(self):
        """'in module 'encoder.0', called from model.py:12' (the parts that are known)."""
        parts = []
        if self.scope:
            parts.append(f"in module '{self.scope}'")
        if self.location:
            parts.append(f"called from {self.location}")
        return ", ".join(parts)

    def describe(self):
        where = self.where()
        return f"{self.name} ({where})" if where else self.name


def values_in(structure):
    """Every Value inside nested tuples, lists and dicts."""
    found = []
    stack = [structure]
    while stack:
        item = stack.pop()
        if isinstance(item, Value):
            found.append(item)
        elif isinstance(item, (tuple, list)):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
    return found


def flatten_tensors(structure):
    """The leaves of nested tuples, lists and dicts, in order (what a model returns)."""
    if isinstance(structure, (tuple, list)):
        return [leaf for item in structure for leaf in flatten_tensors(item)]
    if isinstance(structure, dict):
        return [leaf for item in structure.values() for leaf in flatten_tensors(item)]
    return [structure]


def _key(tensor):
    node = tensor.grad_fn
    if node is not None:
        return (id(node), tensor._output_nr)
    return id(tensor)


def _location():
    """'file:line' of the innermost frame outside ember (the model's code)."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_EMBER_DIRECTORY):
            return f"{os.path.basename(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return None


_FROZEN_KINDS = ("constant", "parameter")


class Recorder:
    """The events of one run of the model, and the Values they connect."""

    def __init__(self, parameters, module_names, has_rule, intercept):
        self.thread = threading.get_ident()
        self.events = []
        self.inputs = []
        self.outputs = []
        self._has_rule = has_rule
        self._intercept = intercept
        self._module_names = module_names
        self._by_key = {}
        self._by_array = {}
        self._alive = []
        self._paused = 0
        self._calls = []
        self._scope = []
        self._layers = []
        # Nodes numbered below this existed before the run: their tensors are constants.
        self._first_node = next(_node._sequence)
        self.parameters = {}
        for name, tensor in parameters:
            value = Value("parameter", tensor._data.dtype, tensor._data.shape, tensor._data, name)
            self._remember(tensor, value)
            self.parameters[id(tensor)] = value

    # ---- values --------------------------------------------------------------------------------
    def _remember(self, tensor, value):
        self._by_key[_key(tensor)] = value
        self._by_array[id(tensor._data)] = tensor
        self._alive.append(tensor)
        if tensor.grad_fn is not None:
            self._alive.append(tensor.grad_fn)

    def add_input(self, tensor, name):
        value = Value("input", tensor._data.dtype, tensor._data.shape, name=name)
        self._remember(tensor, value)
        self.inputs.append(value)
        return value

    def finish(self, output):
        """Note the model's outputs and let the run's tensors go (the events keep what the
        translation needs: Values, constants' copies)."""
        self.outputs = [self.value_of(leaf) if isinstance(leaf, Tensor) else None
                        for leaf in flatten_tensors(output)]
        self._by_key.clear()
        self._by_array.clear()
        self._alive.clear()

    def knows(self, tensor):
        return _key(tensor) in self._by_key

    def value_of(self, tensor):
        """The Value of ``tensor``: recorded, or a constant (a copy of it now), or "untraced"
        when an op that was not recorded made it during the run."""
        value = self._by_key.get(_key(tensor))
        if value is not None:
            return value
        array = tensor._data
        node = tensor.grad_fn
        if node is not None and node._sequence_nr >= self._first_node:
            value = Value("untraced", array.dtype, array.shape)
            value.note = node.name()
        else:
            value = self._constant(array)
        self._remember(tensor, value)
        return value

    def _constant(self, array):
        value = Value("constant", array.dtype, array.shape, np.array(array, copy=True))
        value.note = self._calls[-1] if self._calls else None
        return value

    def spec(self, item):
        """An argument as the events keep it: Values for tensors (and for arrays that are a
        recorded tensor's data), NumPy scalars as Python numbers, containers converted inside."""
        if isinstance(item, Tensor):
            return self.value_of(item)
        if isinstance(item, np.ndarray):
            tensor = self._by_array.get(id(item))
            if tensor is not None and tensor._data is item:
                return self.value_of(tensor)
            return self._constant(item)
        if isinstance(item, tuple):
            elements = [self.spec(element) for element in item]
            # A NamedTuple (a convolution's Geometry) keeps its type and field names.
            return type(item)(*elements) if hasattr(item, "_fields") else tuple(elements)
        if isinstance(item, list):
            return [self.spec(element) for element in item]
        if isinstance(item, dict):
            return {name: self.spec(element) for name, element in item.items()}
        if isinstance(item, np.bool_):
            return bool(item)
        if isinstance(item, np.integer):
            return int(item)
        if isinstance(item, np.floating):
            return float(item)
        return item

    # ---- events --------------------------------------------------------------------------------
    def _record(self, kind, name, target, args, kwargs, results, skip=()):
        event = Event(kind, name, target, args, kwargs, self._scope[-1] if self._scope else "",
                      _location())
        event.index = len(self.events)
        inputs = values_in((args, kwargs))
        event.frozen = all(value.kind in _FROZEN_KINDS or value.kind == "output"
                           and value.producer[0].frozen for value in inputs)
        outputs = []
        for number, tensor in enumerate(results):
            if not isinstance(tensor, Tensor) or number in skip:
                outputs.append(None)
                continue
            array = tensor._data
            value = Value("output", array.dtype, array.shape)
            value.producer = (event, number)
            if event.frozen or kind == "function":
                # what folding (or a function without a rule) turns into a constant
                value.array = np.array(array, copy=True)
            self._remember(tensor, value)
            outputs.append(value)
        event.outputs = tuple(outputs)
        self.events.append(event)
        return event

    def _active(self):
        return not self._paused and threading.get_ident() == self.thread

    def on_op(self, cls, ctx, args, results):
        """The hook Op.apply calls after every op."""
        if not self._active():
            return
        if cls._tensor_level and not self._has_rule("op", cls.__name__):
            # A custom Function without a translation is the ops its forward ran: its outputs
            # are those ops' results, re-wrapped.
            for result in results:
                inner = self._by_array.get(id(result._data))
                if inner is not None and inner is not result:
                    self._by_key[_key(result)] = self.value_of(inner)
                    self._alive.append(result)
                    if result.grad_fn is not None:
                        self._alive.append(result.grad_fn)
            if all(self.knows(result) for result in results):
                return
        self._record("op", cls.__name__, cls, tuple(self.spec(arg) for arg in args), {}, results)

    def call_function(self, name, original, args, kwargs):
        """Run a public function; its results that no recorded op made become one event. A
        function whose rule claims the call is one event with its inner ops unrecorded. A
        function event's kwargs are all its arguments, by parameter name."""
        if not self._active():
            return original(*args, **kwargs)
        claims = self._intercept(name)
        if claims is not None:
            arguments = _bound(original, args, kwargs)
            if claims(name, arguments):
                specs = self.spec(arguments)
                self._paused += 1
                try:
                    result = original(*args, **kwargs)
                finally:
                    self._paused -= 1
                self._record("function", name, original, (), specs, flatten_tensors(result))
                return result
        self._calls.append(name)
        try:
            result = original(*args, **kwargs)
        finally:
            self._calls.pop()
        leaves = flatten_tensors(result)
        if all(not isinstance(leaf, Tensor) or self.knows(leaf) for leaf in leaves):
            return result
        known = {number for number, leaf in enumerate(leaves)
                 if isinstance(leaf, Tensor) and self.knows(leaf)}
        self._record("function", name, original, (), self.spec(_bound(original, args, kwargs)),
                     leaves, skip=known)
        return result

    # ---- layers ---------------------------------------------------------------------------------
    def enter_module(self, module, args, kwargs):
        if threading.get_ident() != self.thread:
            return None
        self._scope.append(self._module_names.get(id(module), ""))
        if isinstance(module, RNNBase) and not self._paused:
            self._layers.append((self.spec(args), self.spec(kwargs)))
            self._paused += 1
        else:
            self._layers.append(None)
        return None

    def exit_module(self, module, args, kwargs, output):
        if threading.get_ident() != self.thread:
            return None
        self._scope.pop()
        layer = self._layers.pop()
        if layer is not None:
            self._paused -= 1
            self._record("module", type(module).__name__, module, layer[0], layer[1],
                         flatten_tensors(output))
        return None


@contextlib.contextmanager
def recording(recorder, model_modules):
    """Install ``recorder``: the Op.apply hook, the function wrappers and the layer hooks."""
    if _function._tracer is not None:
        raise RuntimeError("ember.onnx.export: another export is already tracing in this "
                           "process; exports run one at a time")
    handles = []
    patched = []
    try:
        _patch_functions(recorder, patched)
        for module in model_modules:
            # after the model's own pre-hooks: a layer recorded whole sees its final arguments
            handles.append(module.register_forward_pre_hook(recorder.enter_module,
                                                            with_kwargs=True))
            handles.append(module.register_forward_hook(recorder.exit_module, with_kwargs=True))
        _function._tracer = recorder.on_op
        yield recorder
    finally:
        _function._tracer = None
        for handle in handles:
            handle.remove()
        for owner, attribute, original in reversed(patched):
            if isinstance(owner, dict):
                owner[attribute] = original
            else:
                setattr(owner, attribute, original)


def is_tracing():
    """True while ember.onnx.export runs a model."""
    return _function._tracer is not None


# Private names routed too: nn.functional's mask conversion (torch's F._canonical_mask), which
# builds its result from the mask's data.
_ROUTED_PRIVATE = ("_canonical_mask",)


def _routed_functions():
    """id -> (name, function) for every public function whose results may bypass Op.apply:
    ember.ops (comparisons, argmax, the arithmetic fast path, ...), the factories and
    nn.functional."""
    functions = {}
    for namespace in (_factories, ops, _functional):
        for name in dir(namespace):
            item = getattr(namespace, name)
            if (name.startswith("_") and name not in _ROUTED_PRIVATE
                    or not isinstance(item, types.FunctionType)
                    or not item.__module__.startswith("ember.")):
                continue
            functions.setdefault(id(item), (name, item))
    return functions


def _patch_functions(recorder, patched):
    """Swap every reference to a routed function in ember's modules, and in the classes they
    define (plain attributes and staticmethods, e.g. a layer's ``_functional``), for a recording
    wrapper; appends (owner, attribute, original) to ``patched`` for each, to put back."""
    functions = _routed_functions()
    wrappers = {identity: _wrapper(recorder, name, original)
                for identity, (name, original) in functions.items()}

    def replacement(item):
        target = item.__func__ if isinstance(item, staticmethod) else item
        renamed = getattr(target, "accepts_numpy_names", False)  # numpy_names' front
        operator = getattr(target, "returns_not_implemented", False) is True  # binary_operator
        if renamed or operator:
            target = target.__wrapped__
        wrapper = wrappers.get(id(target))
        if wrapper is None or functions[id(target)][1] is not target:
            return None
        if renamed:
            wrapper = numpy_names(wrapper)
        if operator:
            wrapper = binary_operator(wrapper)
        return staticmethod(wrapper) if isinstance(item, staticmethod) else wrapper

    classes = {id(Tensor): Tensor}
    for module_name, module in list(sys.modules.items()):
        if module is None or not (module_name == "ember" or module_name.startswith("ember.")):
            continue
        if module_name.startswith("ember.onnx"):
            continue
        namespace = vars(module)
        for attribute, item in list(namespace.items()):
            if isinstance(item, type) and item.__module__.startswith("ember."):
                classes[id(item)] = item
                continue
            new = replacement(item)
            if new is not None:
                patched.append((namespace, attribute, item))
                namespace[attribute] = new
    for owner in classes.values():
        for attribute, item in list(vars(owner).items()):
            new = replacement(item)
            if new is not None:
                patched.append((owner, attribute, item))
                setattr(owner, attribute, new)


def _bound(function, args, kwargs):
    """The call's arguments by parameter name, defaults included."""
    bound = inspect.signature(function).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def _wrapper(recorder, name, original):
    def recorded(*args, **kwargs):
        return recorder.call_function(name, original, args, kwargs)
    recorded.__name__ = original.__name__
    recorded.__qualname__ = original.__qualname__
    recorded.__doc__ = original.__doc__
    recorded.__wrapped__ = original
    return recorded
