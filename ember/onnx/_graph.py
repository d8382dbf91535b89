"""Building the ONNX graph: nodes, initializers, the names of recorded Values, and sizes that
follow the dynamic axes computed from the inputs' shapes at run time."""
import numpy as np
import onnx
from onnx import helper, numpy_helper

from ._symbolic import Dim, Unknown, concrete
from .errors import OnnxExporterError, UnsupportedOperatorError

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


def onnx_type(dtype):
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


class Graph:
    """Nodes and initializers under construction, and what each recorded Value is called.

    ``symbols`` maps each dynamic axis' name to (graph input name, axis); ``parameters_as_inputs``
    makes parameters graph inputs (export_params=False) instead of initializers.
    """

    def __init__(self, opset, symbols, example_sizes, parameters_as_inputs, parameters):
        self.opset = opset
        self.symbols = symbols
        self.example_sizes = example_sizes
        self.parameters_as_inputs = parameters_as_inputs
        self._parameters = parameters
        self.nodes = []
        self.initializers = []
        self.inputs = []
        self.parameter_inputs = []
        self.scope = ""
        self._names = {}
        self._taken = set()
        self._dim_cache = {}
        self._constant_cache = {}

    # ---- names ---------------------------------------------------------------------------------
    def fresh(self, base):
        """A name not used yet, ``base`` itself when free (else base_1, base_2, ...)."""
        name = base
        number = 0
        while name in self._taken:
            number += 1
            name = f"{base}_{number}"
        self._taken.add(name)
        return name

    def parameter(self, tensor):
        """The Value of one of the model's parameters or buffers."""
        return self._parameters[id(tensor)]

    def bind(self, value, name):
        self._names[id(value)] = name

    def name_of(self, value):
        """The graph's name for a recorded Value (an initializer or input is made on first use)."""
        name = self._names.get(id(value))
        if name is not None:
            return name
        if value.kind == "parameter":
            if self.parameters_as_inputs:
                name = self.fresh(value.name)
                self.parameter_inputs.append(helper.make_tensor_value_info(
                    name, onnx_type(value.dtype), list(value.shape)))
            else:
                name = self.initializer(value.array, value.name)
        elif value.kind == "constant":
            name = self.initializer(value.array)
        elif value.kind == "filled":
            name = self.filled(value.shape, value.fill, value.dtype)
        elif value.kind == "untraced":
            raise UnsupportedOperatorError(
                f"'{value.note}'", self.opset,
                "a tensor the model used was made by an operation that was not recorded (an "
                "in-place change of a view, or a tensor built from another one's data)")
        else:
            raise OnnxExporterError(f"ember.onnx.export: internal error, {value!r} has no name")
        self._names[id(value)] = name
        return name

    # ---- nodes and constants -------------------------------------------------------------------
    def op(self, op_type, *inputs, outputs=1, **attributes):
        """Add a node; returns its output name (or a list of ``outputs`` names). An input ''
        is a missing optional input; attributes that are None are left out."""
        inputs = list(inputs)
        while inputs and inputs[-1] == "":
            inputs.pop()
        node_name = self.fresh(f"{self.scope}/{op_type}")
        names = [self.fresh(f"{node_name}_output_{number}") for number in range(outputs)]
        attributes = {key: value for key, value in attributes.items() if value is not None}
        self.nodes.append(helper.make_node(op_type, inputs, names, name=node_name,
                                           **attributes))
        return names[0] if outputs == 1 else names

    def initializer(self, array, name=None):
        array = np.array(array, order="C", copy=None)  # keeps 0-d arrays 0-d
        name = self.fresh(name or f"onnx::Constant_{len(self.initializers)}")
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def constant(self, array):
        """A (deduplicated) initializer for a small constant array."""
        array = np.asarray(array)
        key = (array.dtype.str, array.shape, array.tobytes())
        name = self._constant_cache.get(key)
        if name is None:
            name = self.initializer(array)
            self._constant_cache[key] = name
        return name

    def scalar(self, number, dtype):
        return self.constant(np.asarray(number, dtype=dtype))

    def int64s(self, values):
        return self.constant(np.asarray(values, dtype=np.int64).reshape(-1))

    def cast(self, name, source_dtype, target_dtype):
        if np.dtype(source_dtype) == np.dtype(target_dtype):
            return name
        return self.op("Cast", name, to=onnx_type(target_dtype))

    def operand(self, item, dtype):
        """A Value, a Python number or a size as a tensor of ``dtype``."""
        if item is None:
            return ""
        if isinstance(item, (Dim, Unknown)):
            return self.size_as(item, dtype)
        if hasattr(item, "kind"):
            return self.cast(self.name_of(item), item.dtype, dtype)
        return self.scalar(item, dtype)

    def filled(self, shape, fill, dtype):
        return self.op("ConstantOfShape", self.dims(shape),
                       value=numpy_helper.from_array(np.asarray([fill], dtype=dtype)))

    # ---- opset-dependent forms -----------------------------------------------------------------
    def unsqueeze(self, name, axes):
        return self.op("Unsqueeze", name, self.int64s(axes))

    def squeeze(self, name, axes):
        return self.op("Squeeze", name, self.int64s(axes))

    def reduce(self, op_type, name, axes, keepdims):
        """A Reduce* node over ``axes`` (all axes when None)."""
        if axes is not None and len(axes) == 0:
            return self.op("Identity", name)
        # ReduceSum takes its axes as an input from opset 13, the other Reduce ops from 18.
        inputs_axes = self.opset >= 18 or op_type == "ReduceSum"
        if axes is None:
            return self.op(op_type, name, keepdims=int(keepdims))
        if inputs_axes:
            return self.op(op_type, name, self.int64s(axes), keepdims=int(keepdims))
        return self.op(op_type, name, axes=list(axes), keepdims=int(keepdims))

    # ---- sizes that follow the dynamic axes ----------------------------------------------------
    def dims(self, sizes):
        """A 1-D int64 tensor holding ``sizes`` (ints and Dims): a constant when all are ints,
        else computed from the graph inputs' shapes."""
        pieces = []
        constant_run = []
        for size in sizes:
            if isinstance(size, Unknown):
                raise size.error()
            if isinstance(size, Dim):
                if constant_run:
                    pieces.append(self.int64s(constant_run))
                    constant_run = []
                pieces.append(self.dim(size))
            else:
                constant_run.append(int(size))
        if not pieces:
            return self.int64s(constant_run)
        if constant_run:
            pieces.append(self.int64s(constant_run))
        if len(pieces) == 1:
            return pieces[0]
        return self.op("Concat", *pieces, axis=0)

    def dim(self, size):
        """A 1-D int64 tensor [size] for a Dim."""
        name = self._dim_cache.get(size)
        if name is not None:
            return name
        total = None
        for monomial, coefficient in sorted(size.terms.items()):
            term = None
            for symbol in monomial:
                factor = self._symbol(symbol)
                term = factor if term is None else self.op("Mul", term, factor)
            if term is None:
                term = self.int64s([coefficient])
            elif coefficient != 1:
                term = self.op("Mul", term, self.int64s([coefficient]))
            total = term if total is None else self.op("Add", total, term)
        self._dim_cache[size] = total
        return total

    def _symbol(self, symbol):
        key = ("symbol", symbol)
        name = self._dim_cache.get(key)
        if name is None:
            input_name, axis = self.symbols[symbol]
            if self.opset >= 15:
                name = self.op("Shape", input_name, start=axis, end=axis + 1)
            else:
                name = self.op("Gather", self.op("Shape", input_name), self.int64s([axis]),
                               axis=0)
            self._dim_cache[key] = name
        return name

    def example(self, size):
        """The value a size (an int, Dim or Unknown) had in the example run."""
        return concrete(size, self.example_sizes)

    def size_as(self, size, dtype):
        """A 0-d tensor of ``dtype`` holding a size (an int or a Dim)."""
        if isinstance(size, Unknown):
            raise size.error()
        if not isinstance(size, Dim):
            return self.scalar(size, dtype)
        return self.cast(self.squeeze(self.dim(size), [0]), np.int64, dtype)

    # ---- finishing -----------------------------------------------------------------------------
    def rename_output(self, old, new):
        """Give the node output ``old`` the name ``new`` (a graph output's name)."""
        for node in self.nodes:
            for position, name in enumerate(node.output):
                if name == old:
                    node.output[position] = new
            for position, name in enumerate(node.input):
                if name == old:
                    node.input[position] = new
        self._taken.add(new)

    def produced_here(self, name):
        return any(name in node.output for node in self.nodes)

    def prune(self, outputs):
        """Drop nodes and initializers no graph output depends on."""
        needed = set(outputs)
        kept = []
        for node in reversed(self.nodes):
            if any(name in needed for name in node.output):
                kept.append(node)
                needed.update(name for name in node.input if name)
                for attribute in node.attribute:
                    if attribute.type == onnx.AttributeProto.GRAPH:
                        raise OnnxExporterError("ember.onnx.export: internal error, subgraphs "
                                                "are not expected")
        self.nodes = list(reversed(kept))
        self.initializers = [tensor for tensor in self.initializers if tensor.name in needed]
        self.parameter_inputs = [info for info in self.parameter_inputs if info.name in needed]
