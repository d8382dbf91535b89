"""RNN, LSTM and GRU layers as ONNX's RNN, LSTM and GRU ops, one per layer.

ONNX orders the gates differently: LSTM i, o, f, c where PyTorch has i, f, g, o, and GRU z, r, h
where PyTorch has r, z, n; GRU's reset gate multiplies (W_hn h + b_hn), ONNX's
linear_before_reset=1.
"""
import numpy as np

from ..errors import UnsupportedOperatorError
from . import is_value, rule
from .layers import _parameter_array

# For each ONNX gate, the PyTorch gate block it takes.
_GATE_ORDER = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2), "RNN_TANH": (0,), "RNN_RELU": (0,)}
_ONNX_OP = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


def _reordered(g, value, order, size):
    """The rows of a gate-stacked weight or bias in ONNX's gate order: an array when the value
    is a constant of the graph, else a graph name."""
    array = _parameter_array(g, value)
    if array is not None:
        return np.concatenate([array[block * size:(block + 1) * size] for block in order])
    name = g.name_of(value)
    pieces = [g.op("Slice", name, g.int64s([block * size]), g.int64s([(block + 1) * size]),
                   g.int64s([0])) for block in order]
    return g.op("Concat", *pieces, axis=0)


def _stacked(g, parts):
    """One tensor [directions, ...] from each direction's pieces, concatenated along rows."""
    if all(isinstance(piece, np.ndarray) for pieces in parts for piece in pieces):
        return g.initializer(np.stack([np.concatenate(pieces) for pieces in parts]))
    directions = []
    for pieces in parts:
        names = [g.constant(piece) if isinstance(piece, np.ndarray) else piece
                 for piece in pieces]
        joined = names[0] if len(names) == 1 else g.op("Concat", *names, axis=0)
        directions.append(g.unsqueeze(joined, [0]))
    return directions[0] if len(directions) == 1 else g.op("Concat", *directions, axis=0)


def _initial(g, state, layer, directions, batched):
    """Rows [layer * D, (layer + 1) * D) of an initial state (L * D, B, H), or '' when none."""
    if state is None:
        return ""
    name = g.name_of(state)
    if not batched:
        name = g.unsqueeze(name, [1])
    return g.op("Slice", name, g.int64s([layer * directions]),
                g.int64s([(layer + 1) * directions]), g.int64s([0]))


def _layer_weights(g, module, layer, directions):
    """ONNX's W, R and B of one layer: every direction's weights, gates in ONNX's order."""
    suffixes = ["", "_reverse"][:directions]
    order = _GATE_ORDER[module.mode]

    def stacked(*kinds):
        return _stacked(g, [[_reordered(g, g.parameter(getattr(module, f"{kind}_l{layer}"
                                                                        f"{suffix}")),
                                        order, module.hidden_size) for kind in kinds]
                            for suffix in suffixes])
    bias = stacked("bias_ih", "bias_hh") if module.bias else ""
    return stacked("weight_ih"), stacked("weight_hh"), bias


def _check(g, module, input):
    """UnsupportedOperatorError for what ONNX's recurrent ops do not have."""
    problem = None
    if not is_value(input):
        problem = "packed sequences are not translated"
    elif module.proj_size > 0:
        problem = "ONNX's LSTM has no projection (proj_size)"
    elif module.training and module.dropout > 0 and module.num_layers > 1:
        problem = "dropout between layers in training mode"
    if problem:
        raise UnsupportedOperatorError(f"'{type(module).__name__}'", g.opset, problem)


@rule("module", "LSTM", "GRU", "RNN")
def recurrent(g, event):
    module = event.target
    mode = module.mode
    input = event.args[0]
    hx = event.args[1] if len(event.args) > 1 else event.kwargs.get("hx")
    _check(g, module, input)
    lstm = mode == "LSTM"
    hidden_state, cell_state = (hx if hx is not None else (None, None)) if lstm else (hx, None)
    batched = len(input.shape) == 3
    x = g.name_of(input)
    if not batched:
        x = g.unsqueeze(x, [1])
    elif module.batch_first:
        x = g.op("Transpose", x, perm=[1, 0, 2])
    directions = 2 if module.bidirectional else 1
    attributes = {"hidden_size": module.hidden_size,
                  "direction": "bidirectional" if directions == 2 else "forward"}
    if mode == "GRU":
        attributes["linear_before_reset"] = 1
    if _ONNX_OP[mode] == "RNN":
        attributes["activations"] = ["Tanh" if mode == "RNN_TANH" else "Relu"] * directions
    final_hidden, final_cell = [], []
    for layer in range(module.num_layers):
        w, r, b = _layer_weights(g, module, layer, directions)
        inputs = [x, w, r, b, "", _initial(g, hidden_state, layer, directions, batched)]
        if lstm:
            inputs.append(_initial(g, cell_state, layer, directions, batched))
        results = g.op(_ONNX_OP[mode], *inputs, outputs=3 if lstm else 2, **attributes)
        # Y is (T, D, B, H): to (T, B, D * H) for the next layer and the output.
        x = g.op("Reshape", g.op("Transpose", results[0], perm=[0, 2, 1, 3]),
                 g.int64s([0, 0, -1]))
        final_hidden.append(results[1])
        if lstm:
            final_cell.append(results[2])
    output = x
    if not batched:
        output = g.squeeze(output, [1])
    elif module.batch_first:
        output = g.op("Transpose", output, perm=[1, 0, 2])
    names = [output]
    for states in ([final_hidden, final_cell] if lstm else [final_hidden]):
        state = states[0] if len(states) == 1 else g.op("Concat", *states, axis=0)
        names.append(state if batched else g.squeeze(state, [1]))
    return names

