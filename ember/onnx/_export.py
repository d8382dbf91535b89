"""ember.onnx.export: run the model under the recorder (several times when axes are dynamic),
merge the runs, translate the events the outputs depend on, check and write the model."""
import contextlib
import io
import os
import warnings

import numpy as np
import onnx
from onnx import helper

from .. import __version__, _random
from ..autograd import inference_mode
from ..nn import Module
from ..tensor import Tensor
from ..training import evaluating, training_mode
from . import _rules
from ._graph import Graph, onnx_type
from ._merge import Merger, aligned, check_supported, live_events
from ._symbolic import Axes, Dim, Unknown
from ._trace import Recorder, flatten_tensors, recording, values_in
from .errors import OnnxExporterError, OnnxExporterWarning, UnsupportedOperatorError

MIN_OPSET = 13
MAX_OPSET = 20
DEFAULT_OPSET = 20


def export(model, args, f, kwargs, export_params, verbose, training, input_names, output_names,
           opset_version, do_constant_folding, dynamic_axes, keep_initializers_as_inputs,
           training_modes):
    opset = DEFAULT_OPSET if opset_version is None else opset_version
    if isinstance(opset, bool) or not isinstance(opset, int) or not \
            MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"ember.onnx.export: opset_version must be an int from {MIN_OPSET} to "
                         f"{MAX_OPSET}, got {opset_version!r}")
    positional, keywords = _arguments(args, kwargs)
    tensors = [leaf for leaf in flatten_tensors((positional, keywords))
               if isinstance(leaf, Tensor)]
    input_names = _names(input_names, len(tensors), "input")
    outputs_named = list(output_names or [])
    axes_by_name = _dynamic_axes(dynamic_axes, input_names, outputs_named)
    symbols, sizes = _symbols(axes_by_name, input_names, tensors)
    axes = Axes(sizes)
    train = _train_flag(model, training, training_modes)
    # Recorded with grad on (and inference mode off), whatever the caller's modes: see _trace.
    with _modes(model, training, training_modes), inference_mode(False):
        runs = _run(model, positional, keywords, tensors, input_names, axes, axes_by_name)
        proto = _build(runs, axes, symbols, input_names, outputs_named, axes_by_name, opset,
                       export_params and not train, do_constant_folding and not train,
                       export_params, keep_initializers_as_inputs)
    if verbose:
        print(helper.printable_graph(proto.graph))
    if f is not None:
        _write(proto, f)
    return proto


# ---- arguments -------------------------------------------------------------------------------
def _arguments(args, kwargs):
    """(positional, keyword) arguments: a lone tensor is a 1-tuple, and a trailing dict of a
    tuple is the keyword arguments (torch.onnx's older convention)."""
    if isinstance(args, Tensor):
        args = (args,)
    elif isinstance(args, list):
        args = tuple(args)
    elif not isinstance(args, tuple):
        raise TypeError(f"ember.onnx.export: args must be a tuple of the model's arguments or "
                        f"a Tensor, got {type(args).__name__}")
    keywords = dict(kwargs or {})
    if args and isinstance(args[-1], dict) and kwargs is None:
        keywords = dict(args[-1])
        args = args[:-1]
    return args, keywords


def _names(given, count, prefix):
    given = list(given or [])
    if len(given) > count:
        raise ValueError(f"ember.onnx.export: {len(given)} {prefix} names given for {count} "
                         f"{prefix}s")
    return given + [f"{prefix}_{index}" for index in range(len(given), count)]


def _dynamic_axes(dynamic_axes, input_names, output_names):
    """{tensor name: {axis: axis name}}; a list of axes gets torch's automatic names."""
    result = {}
    valid = set(input_names) | set(output_names)
    for key, value in (dynamic_axes or {}).items():
        if key not in valid:
            raise ValueError(f"ember.onnx.export: dynamic_axes names {key!r}, which is neither "
                             f"an input name {input_names} nor an output name {output_names}")
        if isinstance(value, dict):
            axes = {int(axis): str(name) for axis, name in value.items()}
        else:
            axes = {}
            for number, axis in enumerate(value):
                if isinstance(axis, bool) or not isinstance(axis, int):
                    raise ValueError("The type of axis index is expected to be an integer")
                axes.setdefault(axis, f"{key}_dynamic_axes_{number + 1}")
        result[key] = axes
    return result


def _symbols(axes_by_name, input_names, tensors):
    """(symbol -> (input name, axis) where its size is read, symbol -> the example's size)."""
    sources = {}
    sizes = {}
    for name, tensor in zip(input_names, tensors):
        rank = tensor._data.ndim
        for axis, symbol in axes_by_name.get(name, {}).items():
            if not -rank <= axis < rank:
                raise ValueError(f"ember.onnx.export: dynamic axis {axis} of input {name!r} is "
                                 f"out of range for its {rank} dimensions")
            axis %= rank
            size = tensor._data.shape[axis]
            if symbol in sizes and sizes[symbol] != size:
                raise ValueError(f"ember.onnx.export: dynamic axis {symbol!r} is "
                                 f"{sizes[symbol]} in one input and {size} in input {name!r}")
            sources.setdefault(symbol, (name, axis))
            sizes[symbol] = size
    return sources, sizes


def _train_flag(model, training, modes):
    if training == modes.EVAL:
        return False
    if training == modes.TRAINING:
        return True
    if training == modes.PRESERVE:
        return bool(getattr(model, "training", False))
    raise ValueError(f"ember.onnx.export: training must be a TrainingMode, got {training!r}")


def _modes(model, training, modes):
    """The export's mode for the model's layers (PRESERVE leaves each layer's own), each
    layer's own mode put back afterwards."""
    if not isinstance(model, Module) or training == modes.PRESERVE:
        return contextlib.nullcontext()
    return training_mode(model) if training == modes.TRAINING else evaluating(model)


# ---- the runs --------------------------------------------------------------------------------
def _variant(array, axis_sizes, reverse):
    """The example input resized on its dynamic axes (repeating its entries) and, for the
    runs that check the constants, reversed along every axis."""
    for axis, size in axis_sizes.items():
        array = np.take(array, np.arange(size) % array.shape[axis], axis=axis)
    if reverse and array.ndim:
        array = np.flip(array, tuple(range(array.ndim)))
    return np.ascontiguousarray(array)


def _rebuild(structure, replacements):
    """``structure`` with its tensors replaced, in order, by ``replacements``."""
    iterator = iter(replacements)

    def visit(item):
        if isinstance(item, Tensor):
            return next(iterator)
        if isinstance(item, tuple):
            return tuple(visit(element) for element in item)
        if isinstance(item, list):
            return [visit(element) for element in item]
        if isinstance(item, dict):
            return {key: visit(element) for key, element in item.items()}
        return item
    return visit(structure)


def _run(model, positional, keywords, tensors, input_names, axes, axes_by_name):
    """The recorders of the runs: the example first, then the runs that move the dynamic axes
    (or, without any, one run on reversed inputs that checks the constants)."""
    parameters = _parameters(model)
    module_names = {id(module): name for name, module in model.named_modules()} if isinstance(
        model, Module) else {}
    modules = [module for module in model.modules()] if isinstance(model, Module) else []
    buffers = [(tensor, tensor._data.copy()) for tensor in model.buffers()] if isinstance(
        model, Module) else []
    start_state = _random.get_rng_state()
    runs_sizes = axes.runs if axes.names else [axes.base, axes.base]
    dynamic = bool(axes.names)
    recorders = []
    state_after_example = None
    for number, run_sizes in enumerate(runs_sizes):
        _random.set_rng_state(start_state)
        copies = _run_inputs(tensors, input_names, axes_by_name, run_sizes if number else None)
        recorder = Recorder(parameters, module_names, _rules.has_rule, _rules.intercept)
        for name, copy in zip(input_names, copies):
            recorder.add_input(copy, name)
        try:
            with recording(recorder, modules):
                output = model(*_rebuild(positional, copies[:_count(positional)]),
                               **_rebuild(keywords, copies[_count(positional):]))
        except Exception as error:
            if number == 0:
                raise
            if dynamic:
                sizes = ", ".join(f"{name}={size}" for name, size in run_sizes.items())
                raise OnnxExporterError(
                    f"ember.onnx.export: the model failed when run with the dynamic axes at "
                    f"{sizes} (export runs it with each dynamic axis moved by one and two to "
                    f"find which sizes follow it): {type(error).__name__}: {error}") from error
            warnings.warn(f"ember.onnx.export: the check run on reversed inputs failed "
                          f"({type(error).__name__}: {error}); constants computed outside "
                          f"ember's ops were not checked", OnnxExporterWarning, stacklevel=4)
            break
        finally:
            for tensor, saved in buffers:
                np.copyto(tensor._data, saved)
        recorder.finish(output)
        del output
        if all(value is None for value in recorder.outputs):
            raise OnnxExporterError("ember.onnx.export: the model returned no tensor")
        recorders.append(recorder)
        if number == 0:
            state_after_example = _random.get_rng_state()
    _random.set_rng_state(state_after_example)
    return recorders


def _run_inputs(tensors, input_names, axes_by_name, run_sizes):
    """Leaf copies of the inputs (floating ones requiring grad, so arithmetic is recorded);
    given ``run_sizes``, resized to them on the dynamic axes and reversed."""
    copies = []
    for name, tensor in zip(input_names, tensors):
        array = tensor._data
        if run_sizes is not None:
            moved = {axis % array.ndim: run_sizes[symbol]
                     for axis, symbol in axes_by_name.get(name, {}).items()}
            array = _variant(array, moved, True)
        copy = Tensor._wrap(np.array(array, copy=True))
        if copy._data.dtype.kind == "f":
            copy.requires_grad_(True)
        copies.append(copy)
    return copies


def _count(positional):
    return len([leaf for leaf in flatten_tensors(positional) if isinstance(leaf, Tensor)])


def _parameters(model):
    """(name, tensor) for the model's parameters and buffers, each once, in state_dict order."""
    if not isinstance(model, Module):
        return []
    seen = set()
    found = []
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        if tensor is not None and id(tensor) not in seen:
            seen.add(id(tensor))
            found.append((name, tensor))
    return found


# ---- the graph -------------------------------------------------------------------------------
def _build(runs, axes, symbols, input_names, output_names, axes_by_name, opset,
           fold_parameters, fold, export_params, keep_initializers_as_inputs):
    first = runs[0]
    events = _merged_events(runs, axes, opset, fold, fold_parameters)
    graph = Graph(opset, symbols, axes.base, not export_params, first.parameters)
    inputs = []
    for value, name in zip(first.inputs, input_names):
        graph.bind(value, graph.fresh(name))
        dims = [_dim_label(size, axis, axes_by_name.get(name, {})) for axis, size in
                enumerate(value.shape)]
        inputs.append(helper.make_tensor_value_info(name, onnx_type(value.dtype), dims))
    for event in events:
        _translate(graph, event, _foldable(event, fold, fold_parameters))
    graph.scope = ""
    outputs = _outputs(graph, first.outputs, output_names, axes_by_name)
    graph.prune([info.name for info in outputs])
    graph_inputs = inputs + graph.parameter_inputs
    if keep_initializers_as_inputs:
        graph_inputs += [helper.make_tensor_value_info(tensor.name, tensor.data_type,
                                                       list(tensor.dims))
                         for tensor in graph.initializers]
    proto_graph = helper.make_graph(graph.nodes, "main_graph", graph_inputs, outputs,
                                    graph.initializers)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(proto_graph, opset_imports=opsets, producer_name="ember",
                              producer_version=__version__)
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as error:
        raise OnnxExporterError(f"ember.onnx.export: the ONNX checker rejected the exported "
                                f"model: {error}") from error
    return proto


def _merged_events(runs, axes, opset, fold, fold_parameters):
    """The events the outputs depend on, merged over the runs, each with a translation (or a
    result that can stand in as a constant)."""
    events = live_events(runs[0])
    for event in events:
        if event.kind != "function" and not _foldable(event, fold, fold_parameters, False):
            check_supported(event, opset, _rules.has_rule)
    if len(runs) > 1:
        if not aligned(runs):
            if axes.names:
                raise OnnxExporterError(
                    "ember.onnx.export: the model ran differently when its dynamic axes changed "
                    "size; its control flow must not depend on their sizes")
            warnings.warn("ember.onnx.export: the model ran differently on reversed inputs (its "
                          "control flow depends on the inputs' values); the example's path is "
                          "exported", OnnxExporterWarning, stacklevel=5)
        else:
            Merger(runs, axes, opset, _rules.volatile).merge(events)
    for event in events:
        if not _foldable(event, fold, fold_parameters):
            check_supported(event, opset, _rules.has_rule)
    return events


def _translate(graph, event, folded):
    """Bind the event's outputs to graph names: constants when ``folded``, else its rule's
    nodes (or, for a function without one, the result that stands in as a constant)."""
    graph.scope = "/" + event.scope.replace(".", "/") if event.scope else ""
    translate = _rules.lookup(event.kind, event.name)
    if folded or translate is None:
        for value in event.outputs:
            if value is not None:
                graph.bind(value, graph.filled(value.shape, value.fill, value.dtype)
                           if value.fill is not None else graph.initializer(value.array))
        return
    try:
        names = translate(graph, event)
    except UnsupportedOperatorError as error:
        where = event.where()
        raise UnsupportedOperatorError(error.name, error.opset, f"{error.detail} ({where})"
                                       if where else error.detail) from None
    if isinstance(names, str):
        names = [names]
    for value, name in zip(event.outputs, names):
        if value is not None and name is not None:
            graph.bind(value, name)


def _foldable(event, fold, fold_parameters, merged=True):
    """Whether the event's outputs become constants: it reads only constants (and parameters,
    when those are constants of the graph), with sizes that do not follow the dynamic axes
    (known once the runs are ``merged``)."""
    if not event.frozen:
        return False
    inputs = values_in((event.args, event.kwargs))
    if inputs and not fold:
        return False
    if any(value.kind == "parameter" for value in inputs) and not fold_parameters:
        return False
    if not merged:
        return True
    if _has_symbolic((event.args, event.kwargs)):
        return False
    return all(value is None or all(isinstance(size, int) for size in value.shape)
               for value in event.outputs)


def _has_symbolic(structure):
    if isinstance(structure, (Dim, Unknown)):
        return True
    if isinstance(structure, (tuple, list)):
        return any(_has_symbolic(item) for item in structure)
    if isinstance(structure, dict):
        return any(_has_symbolic(item) for item in structure.values())
    if isinstance(structure, slice):
        return _has_symbolic((structure.start, structure.stop, structure.step))
    return False


def _dim_label(size, axis, named):
    """An ONNX dim: the dynamic axis' name, else an int, else the size's formula."""
    if axis in named:
        return named[axis]
    if isinstance(size, int):
        return size
    return str(size) if isinstance(size, Dim) else None


def _outputs(graph, values, output_names, axes_by_name):
    names = _names(output_names, len([value for value in values if value is not None]),
                   "output")
    infos = []
    used = set()
    for value, name in zip([value for value in values if value is not None], names):
        internal = graph.name_of(value)
        if internal in used or not graph.produced_here(internal):
            graph.nodes.append(helper.make_node("Identity", [internal], [name],
                                                name=graph.fresh(f"/Identity_{name}")))
        else:
            graph.rename_output(internal, name)
            graph.bind(value, name)
        used.add(name)
        used.add(internal)
        dims = [_dim_label(size, axis, axes_by_name.get(name, {}))
                for axis, size in enumerate(value.shape)]
        infos.append(helper.make_tensor_value_info(name, onnx_type(value.dtype), dims))
    return infos


def _write(proto, f):
    if isinstance(f, (str, os.PathLike)):
        onnx.save_model(proto, os.fspath(f))
    elif isinstance(f, io.IOBase) or hasattr(f, "write"):
        f.write(proto.SerializeToString())
    else:
        raise TypeError(f"ember.onnx.export: f must be a path or a writable file, got "
                        f"{type(f).__name__}")
