"""Kernels of the recurrent layers: one time step of each cell (LSTM, GRU, Elman RNN) written
once against an array namespace, a cell's step with its projections as one op (Cell), and the
whole recurrence of one layer and direction as one op. The LSTM step's arithmetic has optional
compiled kernels (ember._jit); its tanh stays NumPy's vectorised one.

Formulas: PyTorch's gate order, LSTM i, f, g, o and GRU r, z, n with n = tanh(x_n + r * h_n).
A step's ``forward`` and ``backward`` take ``xp``: NumPy on the first-order path, or ember's
array namespace under create_graph, where the activations are recomputed from the saved inputs
so the backward is recorded (the saved activations would be constants).
"""
import numpy as np

from ... import _halfcast, _jit
from ..._dtype import accumulation_dtype
from ...autograd.function import Op, linked_to_input
from ...ops.elementwise.exp_log import sigmoid_array
from ...ops.elementwise.extrema import relu
from .linear import _product, bias_gradient


def _sigmoid(xp, x):
    """Logistic function; on arrays in place on ``x`` (a fresh array), as 1 / (1 + e^-x), which
    overflows harmlessly to 0 (four times faster than the sign-split form)."""
    if xp is np:
        return sigmoid_array(x, out=x)
    return 0.5 * xp.tanh(0.5 * x) + 0.5


def _gate_slices(size, count):
    return [(Ellipsis, slice(index * size, (index + 1) * size)) for index in range(count)]


class LSTMStep:
    """h' = o * tanh(c'), c' = f * c + i * g from the gate pre-activations."""

    gates = 4

    @staticmethod
    def forward(xp, input_gates, hidden_gates, hidden, cell):
        """(new hidden, new cell, what the backward needs)."""
        size = cell.shape[-1]
        input_gate, forget_gate, cell_gate, output_gate = _gate_slices(size, 4)
        if xp is np:
            # sigmoid(x) = tanh(x / 2) / 2 + 1/2: the four gates in one tanh over the whole
            # contiguous block, in place, instead of three sigmoids and a tanh on strided slices.
            dtype = np.result_type(input_gates, hidden_gates)
            scale, offset = _lstm_constants(size, dtype)[:2]
            compiled = None
            if hidden_gates.dtype == input_gates.dtype:
                compiled = _compiled_for(_lstm_forward_kernel, input_gates, cell)
            if compiled is not None:
                activated = np.empty(input_gates.shape, dtype)
                _lstm_gates_kernel.compiled()(np.ascontiguousarray(input_gates),
                                              np.ascontiguousarray(hidden_gates), scale,
                                              activated)
            else:
                activated = np.add(input_gates, hidden_gates)
                activated *= scale
            np.tanh(activated, out=activated)
            if compiled is not None:
                new_cell = np.empty(cell.shape, cell.dtype)
                compiled(activated, np.ascontiguousarray(cell), scale, offset, new_cell)
            else:
                activated *= scale
                activated += offset
                new_cell = activated[forget_gate] * cell
                new_cell += activated[input_gate] * activated[cell_gate]
        else:
            gates = input_gates + hidden_gates
            activated = xp.concat([_sigmoid(xp, gates[..., :2 * size]),
                                   xp.tanh(gates[cell_gate]),
                                   _sigmoid(xp, gates[output_gate])], axis=-1)
            new_cell = activated[forget_gate] * cell + activated[input_gate] * activated[cell_gate]
        tanh_cell = xp.tanh(new_cell)
        return activated[output_gate] * tanh_cell, new_cell, (activated, tanh_cell)

    @staticmethod
    def backward(xp, grad_hidden, grad_cell, saved, hidden, cell):
        """(grad of the input gates, grad of the hidden gates, grad of the previous hidden
        through other paths than the hidden gates (None), grad of the previous cell)."""
        activated, tanh_cell = saved
        if xp is np:
            grad_gates, grad_previous_cell = _lstm_backward_arrays(grad_hidden, grad_cell,
                                                                   activated, tanh_cell, cell)
            return grad_gates, grad_gates, None, grad_previous_cell
        size = cell.shape[-1]
        input_gate, forget_gate, cell_gate, output_gate = [
            activated[key] for key in _gate_slices(size, 4)]
        total_cell = grad_cell
        if grad_hidden is not None:
            through_hidden = grad_hidden * output_gate * (1 - tanh_cell * tanh_cell)
            total_cell = through_hidden if total_cell is None else total_cell + through_hidden
            grad_output = grad_hidden * tanh_cell * output_gate * (1 - output_gate)
        else:
            grad_output = output_gate * 0
        grad_gates = xp.concat([total_cell * cell_gate * input_gate * (1 - input_gate),
                                total_cell * cell * forget_gate * (1 - forget_gate),
                                total_cell * input_gate * (1 - cell_gate * cell_gate),
                                grad_output], axis=-1)
        return grad_gates, grad_gates, None, total_cell * forget_gate


_LSTM_CONSTANTS = {}


def _lstm_constants(size, dtype):
    """Per column of an LSTM's (i, f, g, o) block: the scale and offset that turn tanh into the
    sigmoid gates (1/2, 1/2) and leave the tanh gate (1, 0), w with d act / d x = (1 - a)(a + w)
    for both kinds (0 for a sigmoid gate, 1 for the tanh gate); and a 1 for the kernels."""
    key = (size, dtype)
    constants = _LSTM_CONSTANTS.get(key)
    if constants is None:
        scale = np.full(4 * size, 0.5, dtype)
        scale[2 * size:3 * size] = 1
        offset = np.full(4 * size, 0.5, dtype)
        offset[2 * size:3 * size] = 0
        tanh_columns = np.zeros(4 * size, dtype)
        tanh_columns[2 * size:3 * size] = 1
        constants = _LSTM_CONSTANTS[key] = (scale, offset, tanh_columns, np.ones(1, dtype))
    return constants


def _lstm_backward_arrays(grad_hidden, grad_cell, activated, tanh_cell, cell):
    """LSTMStep's backward on arrays, in few passes: the four gates' derivatives of the
    activations as one (1 - a)(a + w) over the whole block, times each gate's upstream factor."""
    size = cell.shape[-1]
    compiled = _compiled_for(_lstm_backward_kernel, activated, cell)
    if compiled is not None and tanh_cell.dtype == activated.dtype:
        grad_gates = np.empty(activated.shape, activated.dtype)
        grad_previous_cell = np.empty(cell.shape, cell.dtype)
        compiled(_contiguous_or_zeros(grad_hidden, cell), _contiguous_or_zeros(grad_cell, cell),
                 activated, tanh_cell, np.ascontiguousarray(cell), grad_gates,
                 grad_previous_cell, _lstm_constants(size, activated.dtype)[3])
        return grad_gates, grad_previous_cell
    input_gate, forget_gate, cell_gate, output_gate = [
        activated[key] for key in _gate_slices(size, 4)]
    derivative = np.subtract(1, activated)
    derivative *= activated + _lstm_constants(size, activated.dtype)[2]
    grad_gates = np.empty(activated.shape, np.result_type(activated, cell))
    if grad_hidden is not None:
        total_cell = tanh_cell * tanh_cell
        np.subtract(1, total_cell, out=total_cell)
        total_cell *= output_gate
        total_cell *= grad_hidden
        if grad_cell is not None:
            total_cell += grad_cell
        np.multiply(grad_hidden, tanh_cell, out=grad_gates[..., 3 * size:])
    else:
        total_cell = grad_cell
        grad_gates[..., 3 * size:] = 0
    np.multiply(total_cell, cell_gate, out=grad_gates[..., :size])
    np.multiply(total_cell, cell, out=grad_gates[..., size:2 * size])
    np.multiply(total_cell, input_gate, out=grad_gates[..., 2 * size:3 * size])
    grad_gates *= derivative
    return grad_gates, total_cell * forget_gate


def _compiled_for(kernel, activated, cell):
    """The kernel's compiled form when it applies: float32 or float64 2-D gates and cell of one
    dtype, and the kernel available (numba present, not switched off); else None."""
    dtype = activated.dtype
    if activated.ndim != 2 or cell.dtype != dtype or dtype not in _COMPILED_DTYPES:
        return None
    return kernel.compiled()


_COMPILED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _contiguous_or_zeros(grad, like):
    if grad is None:
        return np.zeros(like.shape, like.dtype)
    return np.ascontiguousarray(grad, like.dtype)


# The compiled LSTM kernels run the arithmetic of the NumPy path in one pass, in the same order
# of operations (so the same roundings); the transcendental tanh stays NumPy's vectorised one.
@_jit.kernel
def _lstm_gates_kernel(input_gates, hidden_gates, scale, activated):
    """The pre-activations summed and scaled for the one tanh: (x_i + x_h) * scale."""
    rows, columns = activated.shape
    for row in range(rows):
        for column in range(columns):
            activated[row, column] = ((input_gates[row, column] + hidden_gates[row, column])
                                      * scale[column])


@_jit.kernel
def _lstm_biased_gates_kernel(input_gates, hidden_gates, bias, scale, activated):
    """_lstm_gates_kernel with the hidden bias added to the hidden gates first (the rounding of
    ``hidden_gates += bias`` before the sum)."""
    rows, columns = activated.shape
    for row in range(rows):
        for column in range(columns):
            activated[row, column] = ((input_gates[row, column]
                                       + (hidden_gates[row, column] + bias[column]))
                                      * scale[column])


@_jit.kernel
def _lstm_forward_kernel(activated, cell, scale, offset, new_cell):
    """tanh values -> gate activations (t * scale + offset) in place, and the new cell."""
    rows, size = cell.shape
    for row in range(rows):
        for column in range(4 * size):
            activated[row, column] = activated[row, column] * scale[column] + offset[column]
        for column in range(size):
            new_cell[row, column] = (activated[row, size + column] * cell[row, column]
                                     + activated[row, column] * activated[row, 2 * size + column])


@_jit.kernel
def _lstm_backward_kernel(grad_hidden, grad_cell, activated, tanh_cell, cell, grad_gates,
                          grad_previous_cell, ones):
    """_lstm_backward_arrays in one pass (grad_hidden and grad_cell given, zeros for none);
    ``ones[0]`` is 1 in the arrays' dtype (an integer 1 would promote float32 to float64)."""
    rows, size = cell.shape
    one = ones[0]
    for row in range(rows):
        for column in range(size):
            input_gate = activated[row, column]
            forget_gate = activated[row, size + column]
            cell_gate = activated[row, 2 * size + column]
            output_gate = activated[row, 3 * size + column]
            tanh_value = tanh_cell[row, column]
            total_cell = ((one - tanh_value * tanh_value) * output_gate * grad_hidden[row, column]
                          + grad_cell[row, column])
            grad_gates[row, column] = (total_cell * cell_gate) * ((one - input_gate) * input_gate)
            grad_gates[row, size + column] = ((total_cell * cell[row, column])
                                              * ((one - forget_gate) * forget_gate))
            grad_gates[row, 2 * size + column] = ((total_cell * input_gate)
                                                  * ((one - cell_gate) * (cell_gate + one)))
            grad_gates[row, 3 * size + column] = ((grad_hidden[row, column] * tanh_value)
                                                  * ((one - output_gate) * output_gate))
            grad_previous_cell[row, column] = total_cell * forget_gate


class GRUStep:
    """h' = n + z * (h - n), n = tanh(x_n + r * h_n); both gate arrays include their biases, so
    b_hn stays inside the reset product."""

    gates = 3

    @staticmethod
    def forward(xp, input_gates, hidden_gates, hidden, cell):
        size = hidden.shape[-1]
        reset_update = _sigmoid(xp, input_gates[..., :2 * size] + hidden_gates[..., :2 * size])
        hidden_new_part = hidden_gates[..., 2 * size:]
        compiled = None
        if xp is np:
            compiled = _compiled_for(_gru_new_gate_kernel, reset_update, hidden)
            if not (input_gates.dtype == hidden_gates.dtype == hidden.dtype
                    and input_gates.ndim == 2):
                compiled = None
        if compiled is not None:
            # the NumPy passes' arithmetic in two compiled passes around NumPy's tanh
            new = np.empty(hidden.shape, hidden.dtype)
            compiled(input_gates, reset_update, hidden_new_part, new)
            np.tanh(new, out=new)
            output = np.empty_like(new)
            _gru_output_kernel.compiled()(new, reset_update, hidden, output)
            return output, None, (reset_update, new, hidden_new_part)
        new = xp.tanh(input_gates[..., 2 * size:] + reset_update[..., :size] * hidden_new_part)
        output = new + reset_update[..., size:] * (hidden - new)
        return output, None, (reset_update, new, hidden_new_part)

    @staticmethod
    def backward(xp, grad, grad_cell, saved, hidden, cell):
        reset_update, new, hidden_new_part = saved
        if xp is np:
            grads = _gru_backward_arrays(grad, reset_update, new, hidden_new_part, hidden)
            if grads is not None:
                return grads
        size = hidden.shape[-1]
        reset = reset_update[..., :size]
        update = reset_update[..., size:]
        grad_new = grad * (1 - update) * (1 - new * new)
        grad_reset = grad_new * hidden_new_part * reset * (1 - reset)
        grad_update = grad * (hidden - new) * update * (1 - update)
        grad_input_gates = xp.concat([grad_reset, grad_update, grad_new], axis=-1)
        grad_hidden_gates = xp.concat([grad_reset, grad_update, grad_new * reset], axis=-1)
        return grad_input_gates, grad_hidden_gates, grad * update, None


@_jit.kernel
def _gru_new_gate_kernel(input_gates, reset_update, hidden_new_part, out):
    """x_n + r * h_n (the new gate's pre-activation) of a GRU step."""
    rows, size = out.shape
    for row in range(rows):
        for column in range(size):
            out[row, column] = (input_gates[row, 2 * size + column]
                                + reset_update[row, column] * hidden_new_part[row, column])


@_jit.kernel
def _gru_output_kernel(new, reset_update, hidden, out):
    """n + z * (h - n): a GRU step's output."""
    rows, size = out.shape
    for row in range(rows):
        for column in range(size):
            new_value = new[row, column]
            out[row, column] = new_value + reset_update[row, size + column] * (
                hidden[row, column] - new_value)


def _gru_backward_arrays(grad, reset_update, new, hidden_new_part, hidden):
    """GRUStep.backward on float32/float64 arrays of one dtype in one compiled pass (NumPy's
    path makes a dozen temporaries per step: 2 x 50 steps of (32, 128) 9.2 -> 1.6 ms); None
    where it does not apply."""
    compiled = _compiled_for(_gru_backward_kernel, reset_update, hidden)
    if compiled is None or not (grad.dtype == new.dtype == hidden_new_part.dtype
                                == hidden.dtype) or grad.shape != hidden.shape:
        return None
    grad_input_gates = np.empty(hidden.shape[:-1] + (3 * hidden.shape[-1],), hidden.dtype)
    grad_hidden_gates = np.empty_like(grad_input_gates)
    grad_previous = np.empty(hidden.shape, hidden.dtype)
    compiled(grad, reset_update, new, hidden_new_part, hidden, grad_input_gates,
             grad_hidden_gates, grad_previous, _lstm_constants(1, hidden.dtype)[3])
    return grad_input_gates, grad_hidden_gates, grad_previous, None


@_jit.kernel
def _gru_backward_kernel(grad, reset_update, new, hidden_new_part, hidden, grad_input_gates,
                         grad_hidden_gates, grad_previous, ones):
    """The arithmetic of GRUStep.backward's NumPy path, each product in the same order (so
    the same roundings); ``ones[0]`` is 1 in the arrays' dtype."""
    rows, size = hidden.shape
    one = ones[0]
    for row in range(rows):
        for column in range(size):
            upstream = grad[row, column]
            reset = reset_update[row, column]
            update = reset_update[row, size + column]
            new_value = new[row, column]
            grad_new = (upstream * (one - update)) * (one - new_value * new_value)
            grad_reset = ((grad_new * hidden_new_part[row, column]) * reset) * (one - reset)
            grad_update = (((upstream * (hidden[row, column] - new_value)) * update)
                           * (one - update))
            grad_input_gates[row, column] = grad_reset
            grad_input_gates[row, size + column] = grad_update
            grad_input_gates[row, 2 * size + column] = grad_new
            grad_hidden_gates[row, column] = grad_reset
            grad_hidden_gates[row, size + column] = grad_update
            grad_hidden_gates[row, 2 * size + column] = grad_new * reset
            grad_previous[row, column] = upstream * update


class TanhStep:
    """Elman RNN: h' = tanh(x + h_gates)."""

    gates = 1

    @staticmethod
    def forward(xp, input_gates, hidden_gates, hidden, cell):
        output = xp.tanh(input_gates + hidden_gates)
        return output, None, (output,)

    @staticmethod
    def backward(xp, grad, grad_cell, saved, hidden, cell):
        (output,) = saved
        grad_gates = grad * (1 - output * output)
        return grad_gates, grad_gates, None, None


class ReLUStep:
    """Elman RNN: h' = relu(x + h_gates)."""

    gates = 1

    @staticmethod
    def forward(xp, input_gates, hidden_gates, hidden, cell):
        total = input_gates + hidden_gates
        if xp is not np:
            # recorded (create_graph): relu's node, whose backward stays linked to its output at
            # every order, as PyTorch's threshold_backward
            output = relu(total)
            return output, None, (output,)
        # a maximum, not total * (total > 0): negative gates give +0.0 as PyTorch's relu, not -0.0
        output = xp.maximum(total, 0.0)
        return output, None, (output,)

    @staticmethod
    def backward(xp, grad, grad_cell, saved, hidden, cell):
        (output,) = saved
        grad_gates = grad * (output > 0)
        if xp is not np and output.grad_fn is not None:
            # PyTorch's relu backward (threshold_backward) takes the step's output: the gates'
            # gradient depends on it with derivative 0, so a further grad reaches the input and
            # the biases as zeros, not None
            grad_gates = linked_to_input(grad_gates, (output.grad_fn, output._output_nr), None)
        return grad_gates, grad_gates, None, None


STEPS = {"LSTM": LSTMStep, "GRU": GRUStep, "RNN_TANH": TanhStep, "RNN_RELU": ReLUStep}


def _project(x, weight, bias):
    """x @ weight.T + bias: float16 and bfloat16 multiplied and summed in float32, rounded once
    (as F.linear); x is cast to the weight's dtype first (its state under autocast); no weight:
    x is the projection already."""
    if weight is None:
        return x
    if x.dtype != weight.dtype:
        x = x.astype(weight.dtype)
    if weight.dtype not in _COMPILED_DTYPES and accumulation_dtype(weight.dtype) != weight.dtype:
        out = np.matmul(_halfcast.widened(x), _halfcast.widened(weight).T)
        if bias is not None:
            out += _halfcast.widened(bias)
        return _halfcast.astype(out, weight.dtype)
    if weight.shape[1] == 1:
        # one input feature (a time series): the outer product, three times faster than the GEMM
        # NumPy runs for it, and the same values (a single product per element)
        out = np.multiply(x, weight.T)
    else:
        out = np.matmul(x, weight.T)
    if bias is not None:
        out += bias
    return out


def _project_recorded(xp, x, weight, bias):
    """_project under create_graph, on Tensors."""
    if weight is None:
        return x
    if x.dtype != weight.dtype:
        x = xp.astype(x, weight.dtype)
    out = xp.matmul(x, weight.T)
    return out if bias is None else out + bias


def _projection_gradients(xp, grad_gates, x, weight, needs_x, needs_weight, needs_bias):
    """(grad of x, of the weight, of the bias) of ``x @ weight.T + bias`` from the gates'
    gradient; no weight: the gradient of x is the gates' own."""
    if weight is None:
        return grad_gates if needs_x else None, None, None
    grad_x = grad_weight = grad_bias = None
    if needs_x:
        grad_x = _product(xp, grad_gates, weight)
    if needs_weight:
        if x.dtype != weight.dtype:
            x = x.astype(weight.dtype) if xp is np else xp.astype(x, weight.dtype)
        grad_weight = _product(xp, grad_gates.T, x)
    if needs_bias:
        grad_bias = bias_gradient(xp, grad_gates)
    return grad_x, grad_weight, grad_bias


class Cell(Op):
    """One step of an LSTM, GRU or Elman RNN cell with both of its projections as one node:
    (input, hidden, cell, weight_ih, weight_hh, bias_ih, bias_hh, mode) -> new hidden, and
    the new cell for an LSTM. Without ``weight_ih`` the input is its projection already (an
    LSTM with projections projects the whole sequence at once).

    It saves its inputs and the step's activations only; under create_graph the activations are
    recomputed from the inputs so that the backward is recorded."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, input, hidden, cell, weight_ih, weight_hh, bias_ih, bias_hh, mode):
        step = STEPS[mode]
        input_gates = _project(input, weight_ih, bias_ih)
        hidden_gates = _project(hidden, weight_hh, bias_hh)
        new_hidden, new_cell, saved = step.forward(np, input_gates, hidden_gates, hidden, cell)
        ctx.mode = mode
        ctx.save_for_backward(input, hidden, cell, weight_ih, weight_hh, bias_ih, bias_hh, *saved)
        if cell is None:
            return new_hidden
        return new_hidden, new_cell

    @staticmethod
    def backward(ctx, grad_hidden, grad_cell=None):
        xp = ctx.xp
        input, hidden, cell, weight_ih, weight_hh, bias_ih, bias_hh, *saved = ctx.saved_tensors
        step = STEPS[ctx.mode]
        if xp is not np:
            saved = step.forward(xp, _project_recorded(xp, input, weight_ih, bias_ih),
                                 _project_recorded(xp, hidden, weight_hh, bias_hh), hidden,
                                 cell)[2]
        grad_input_gates, grad_hidden_gates, through_hidden, grad_previous_cell = step.backward(
            xp, grad_hidden, grad_cell, saved, hidden, cell)
        needs = ctx.needs_input_grad
        grad_input, grad_weight_ih, grad_bias_ih = _projection_gradients(
            xp, grad_input_gates, input, weight_ih, needs[0], needs[3], needs[5])
        same_bias_grad = (grad_input_gates is grad_hidden_gates and grad_bias_ih is not None
                          and needs[6] and xp is np)
        grad_previous, grad_weight_hh, grad_bias_hh = _projection_gradients(
            xp, grad_hidden_gates, hidden, weight_hh, needs[1], needs[4],
            needs[6] and not same_bias_grad)
        if same_bias_grad:
            # both biases add to the same gates (LSTM, Elman): one sum, and a copy because the
            # engine may accumulate into either gradient in place
            grad_bias_hh = grad_bias_ih.copy()
        if through_hidden is not None and grad_previous is not None:
            grad_previous = grad_previous + through_hidden
        grads = (grad_input, grad_previous, grad_previous_cell if needs[2] else None,
                 grad_weight_ih, grad_weight_hh, grad_bias_ih, grad_bias_hh)
        if xp is np and hidden.dtype != weight_hh.dtype:
            # under autocast the state keeps its dtype while the projections are cast
            inputs = (input, hidden, cell, weight_ih, weight_hh, bias_ih, bias_hh)
            grads = tuple(None if grad is None else grad.astype(array.dtype, copy=False)
                          for grad, array in zip(grads, inputs))
        return grads + (None,)


def _step_keys(shape, batch_sizes):
    """(key into the projected sequence, running batch) of each time step: index t of a padded
    (T, B, G) sequence, or the rows of step t of packed (N, G) rows."""
    if batch_sizes is None:
        return [(time, shape[1]) for time in range(shape[0])]
    keys = []
    start = 0
    for running in batch_sizes:
        keys.append((slice(start, start + running), running))
        start += running
    return keys


_COPY_STEPS = 16  # from this many time steps on, the hidden weight is transposed once


class Recurrence(Op):
    """One layer and direction of an RNN, LSTM or GRU over a whole sequence, as one node:
    (projections, hidden, cell, weight_hh, bias_hh) -> (outputs, last hidden, last cell), where
    ``projections`` is the input already multiplied by W_ih (+ b_ih): (T, B, G) padded, or
    packed (N, G) rows with ``batch_sizes``. The loop over time runs inside the op: no node per
    step, and the hidden weight's gradient is one GEMM over all steps.

    In a packed batch only the first batch_sizes[t] sequences take step t; the others keep their
    state (finished, or not started yet when ``reverse``)."""

    _torch_name = "StackBackward0"

    differentiable_backward = True

    @staticmethod
    def forward(ctx, projections, hidden, cell, weight_hh, bias_hh, mode, batch_sizes, reverse):
        dtype = projections.dtype
        inputs = (projections, hidden, cell, weight_hh, bias_hh)
        if dtype == np.float16:  # computed in float32, as PyTorch accumulates float16
            projections, hidden, cell, weight_hh, bias_hh = [
                None if array is None else array.astype(np.float32) for array in inputs]
        recording = ctx._recording
        if mode == "LSTM" and batch_sizes is None and _lstm_sequence_applies(*inputs):
            outputs, hidden, cell, sequence = _lstm_sequence(*inputs, reverse, recording)
            ctx.options = (mode, batch_sizes, reverse, dtype)
            ctx.save_for_backward(*inputs, sequence)
            return outputs, hidden, cell
        step = STEPS[mode]
        keys = _step_keys(projections.shape, batch_sizes)
        outputs = np.empty(projections.shape[:-1] + hidden.shape[-1:], projections.dtype)
        per_step = [None] * len(keys)
        # OpenBLAS multiplies by a transposed view up to 25% slower than by a contiguous copy
        # when the batch is small ((32, 256) @ (256, 1024): 219 against 175 us), but the copy
        # costs one to two such steps (330 us): worth it over a sequence, not for the single
        # steps of a decoder loop.
        transposed_weight = (np.ascontiguousarray(weight_hh.T) if len(keys) >= _COPY_STEPS
                             else weight_hh.T)
        for time in (reversed(range(len(keys))) if reverse else range(len(keys))):
            key, running = keys[time]
            previous = (hidden[:running], None if cell is None else cell[:running])
            hidden_gates = np.matmul(previous[0], transposed_weight)
            if bias_hh is not None:
                hidden_gates += bias_hh
            new_hidden, new_cell, saved = step.forward(np, projections[key], hidden_gates,
                                                       *previous)
            outputs[key] = new_hidden
            if recording:
                per_step[time] = (previous, saved)
            hidden = _carry(np, new_hidden, hidden, running)
            if cell is not None:
                cell = _carry(np, new_cell, cell, running)
        ctx.options = (mode, batch_sizes, reverse, dtype)
        ctx.save_for_backward(*inputs, per_step)
        results = (outputs, hidden) if cell is None else (outputs, hidden, cell)
        # float16 ran in float32, and a bfloat16 step's activations come back in float32: the
        # states in the input's dtype, as PyTorch returns them
        return tuple([result if result.dtype == dtype else result.astype(dtype)
                      for result in results])

    @staticmethod
    def backward(ctx, grad_outputs, grad_hidden, grad_cell=None):
        xp = ctx.xp
        mode, batch_sizes, reverse, dtype = ctx.options
        projections, hidden, cell, weight_hh, bias_hh, per_step = ctx.saved_tensors
        if xp is np and dtype == np.float16:
            projections, hidden, cell, weight_hh, grad_outputs, grad_hidden, grad_cell = [
                None if array is None else array.astype(np.float32) for array in
                (projections, hidden, cell, weight_hh, grad_outputs, grad_hidden, grad_cell)]
        if xp is np and type(per_step) is _LSTMSequence:
            return _lstm_sequence_backward(ctx.needs_input_grad, per_step, reverse, hidden,
                                           cell, weight_hh, grad_outputs, grad_hidden,
                                           grad_cell)
        step = STEPS[mode]
        keys = _step_keys(projections.shape, batch_sizes)
        if xp is not np:
            per_step = _recompute(xp, step, keys, projections, hidden, cell, weight_hh, bias_hh,
                                  reverse)
        work_dtype = projections.dtype if xp is np else dtype  # float32 for float16 arrays
        if grad_hidden is None:
            grad_hidden = xp.asarray(np.zeros(hidden.shape, work_dtype))
        if grad_cell is None and cell is not None:
            grad_cell = xp.asarray(np.zeros(cell.shape, work_dtype))
        grad_gates_input = [None] * len(keys)
        grad_gates_hidden = [None] * len(keys)
        for time in (range(len(keys)) if reverse else reversed(range(len(keys)))):
            key, running = keys[time]
            previous, saved = per_step[time]
            step_grad = grad_hidden[:running]
            if grad_outputs is not None:
                step_grad = step_grad + grad_outputs[key]
            step_grad_cell = None if grad_cell is None else grad_cell[:running]
            gates_input, gates_hidden, through_hidden, previous_cell = step.backward(
                xp, step_grad, step_grad_cell, saved, *previous)
            previous_hidden = xp.matmul(gates_hidden, weight_hh)
            if through_hidden is not None:
                previous_hidden = previous_hidden + through_hidden
            grad_hidden = _carry(xp, previous_hidden, grad_hidden, running)
            if previous_cell is not None:
                grad_cell = _carry(xp, previous_cell, grad_cell, running)
            grad_gates_input[time] = gates_input
            grad_gates_hidden[time] = gates_hidden
        grads = _weight_gradients(xp, ctx.needs_input_grad, grad_gates_input, grad_gates_hidden,
                                  [previous[0] for previous, _ in per_step], batch_sizes)
        grads = (grads[0], grad_hidden if ctx.needs_input_grad[1] else None,
                 grad_cell if ctx.needs_input_grad[2] else None) + grads[1:]
        if xp is np and dtype == np.float16:
            grads = tuple(None if grad is None else grad.astype(dtype) for grad in grads)
        return grads + (None, None, None)


class _LSTMSequence:
    """What an LSTM layer's backward needs of a padded sequence run by ``_lstm_sequence``, one
    (T, B, ...) array of each: the hidden states, cells, gate activations and tanh(cell)."""

    __slots__ = ("hiddens", "cells", "activated", "tanh_cells")

    def __init__(self, hiddens, cells, activated, tanh_cells):
        self.hiddens, self.cells = hiddens, cells
        self.activated, self.tanh_cells = activated, tanh_cells


def _lstm_sequence_applies(projections, hidden, cell, weight_hh, bias_hh):
    """Whether ``_lstm_sequence`` runs this padded LSTM layer: float32 or float64 throughout,
    at least one step and one sequence, and the compiled kernels available."""
    dtype = projections.dtype
    if (dtype not in _COMPILED_DTYPES or projections.ndim != 3 or not projections.size
            or hidden.ndim != 2 or hidden.dtype != dtype or cell.dtype != dtype
            or weight_hh.dtype != dtype or (bias_hh is not None and bias_hh.dtype != dtype)):
        return False
    return _lstm_forward_kernel.compiled() is not None


def _lstm_sequence(projections, hidden, cell, weight_hh, bias_hh, reverse, recording):
    """Recurrence.forward for a padded LSTM layer on the compiled kernels, with the per-step
    values written into whole-sequence buffers: a step is its GEMM, two kernels and two tanh
    passes, with the NumPy path's operations in its order (the same values).
    (outputs, last hidden, last cell, an _LSTMSequence when recording else None)."""
    steps, batch, gates = projections.shape
    size = gates // 4
    dtype = projections.dtype
    scale, offset = _lstm_constants(size, dtype)[:2]
    biased = bias_hh is not None
    gates_kernel = (_lstm_biased_gates_kernel if biased else _lstm_gates_kernel).compiled()
    cell_kernel = _lstm_forward_kernel.compiled()
    projections = np.ascontiguousarray(projections)
    # see Recurrence.forward: a contiguous transposed weight pays off over a sequence
    weight = np.ascontiguousarray(weight_hh.T) if steps >= _COPY_STEPS else weight_hh.T
    hiddens = np.empty((steps, batch, size), dtype)
    # without a backward to feed, one step's buffers serve every step (two cells, alternately)
    kept = steps if recording else 1
    activated = np.empty((kept, batch, gates), dtype)
    tanh_cells = np.empty((kept, batch, size), dtype)
    cells = np.empty((steps if recording else 2, batch, size), dtype)
    hidden_gates = np.empty((batch, gates), dtype)
    output_gate = slice(3 * size, None)
    state, previous_cell = hidden, np.ascontiguousarray(cell)
    for number, time in enumerate(range(steps - 1, -1, -1) if reverse else range(steps)):
        slot = time if recording else 0
        step_activated = activated[slot]
        np.matmul(state, weight, out=hidden_gates)
        if biased:
            gates_kernel(projections[time], hidden_gates, bias_hh, scale, step_activated)
        else:
            gates_kernel(projections[time], hidden_gates, scale, step_activated)
        np.tanh(step_activated, out=step_activated)
        new_cell = cells[time if recording else number % 2]
        cell_kernel(step_activated, previous_cell, scale, offset, new_cell)
        tanh_cell = tanh_cells[slot]
        np.tanh(new_cell, out=tanh_cell)
        state = hiddens[time]
        np.multiply(step_activated[:, output_gate], tanh_cell, out=state)
        previous_cell = new_cell
    if not recording:
        return hiddens, state.copy(), previous_cell.copy(), None
    # the saved buffers stay private: the outputs and last states are copies
    return (hiddens.copy(), state.copy(), previous_cell.copy(),
            _LSTMSequence(hiddens, cells, activated, tanh_cells))


def _lstm_sequence_backward(needs, sequence, reverse, hidden, cell, weight_hh, grad_outputs,
                            grad_hidden, grad_cell):
    """Recurrence.backward for a layer ``_lstm_sequence`` ran: the per-step gate gradients
    written into one (T, B, 4H) buffer, which is also the projections' gradient, and the weight
    and bias gradients from it as the general path computes them (the same values)."""
    hiddens, cells = sequence.hiddens, sequence.cells
    activated, tanh_cells = sequence.activated, sequence.tanh_cells
    steps, batch, size = hiddens.shape
    dtype = hiddens.dtype
    kernel = _lstm_backward_kernel.compiled()
    ones = _lstm_constants(size, dtype)[3]
    grad_gates = np.empty(activated.shape, dtype)
    state_grad = _contiguous_or_zeros(grad_hidden, hidden)
    cell_grad = _contiguous_or_zeros(grad_cell, cell)
    step_grad = np.empty((batch, size), dtype)
    cell = np.ascontiguousarray(cell)
    # backward runs the steps in the opposite order of the forward's
    for time in range(steps) if reverse else range(steps - 1, -1, -1):
        previous_time = time + 1 if reverse else time - 1
        previous_cell = cell if previous_time in (-1, steps) else cells[previous_time]
        if grad_outputs is not None:
            np.add(state_grad, grad_outputs[time], out=step_grad)
            total = step_grad
        else:
            total = state_grad
        new_cell_grad = np.empty((batch, size), dtype)
        kernel(total, cell_grad, activated[time], tanh_cells[time], previous_cell,
               grad_gates[time], new_cell_grad, ones)
        state_grad = np.matmul(grad_gates[time], weight_hh)
        cell_grad = new_cell_grad
    rows = grad_gates.reshape(steps * batch, 4 * size)
    grad_weight = grad_bias = None
    if needs[3]:
        if reverse:  # step t followed step t + 1
            previous = np.concatenate([hiddens[1:], hidden[None]]).reshape(steps * batch, size)
        else:
            previous = np.concatenate([hidden[None], hiddens[:-1]]).reshape(steps * batch, size)
        grad_weight = np.matmul(rows.T, previous)
    if needs[4]:
        grad_bias = np.sum(rows, axis=0)
    return (grad_gates if needs[0] else None, state_grad if needs[1] else None,
            cell_grad if needs[2] else None, grad_weight, grad_bias, None, None, None)


def _carry(xp, new, state, running):
    """The state after a step that only the first ``running`` rows took."""
    if running == state.shape[0]:
        return new
    if xp is np:
        state = state.copy()
        state[:running] = new
        return state
    return xp.concat([new, state[running:]], axis=0)


def _recompute(xp, step, keys, projections, hidden, cell, weight_hh, bias_hh, reverse):
    """The forward's per-step values again, recorded, from the inputs (create_graph)."""
    per_step = [None] * len(keys)
    for time in (reversed(range(len(keys))) if reverse else range(len(keys))):
        key, running = keys[time]
        previous = (hidden[:running], None if cell is None else cell[:running])
        hidden_gates = xp.matmul(previous[0], weight_hh.T)
        if bias_hh is not None:
            hidden_gates = hidden_gates + bias_hh
        new_hidden, new_cell, saved = step.forward(xp, projections[key], hidden_gates,
                                                   *previous)
        per_step[time] = (previous, saved)
        hidden = _carry(xp, new_hidden, hidden, running)
        if cell is not None:
            cell = _carry(xp, new_cell, cell, running)
    return per_step


def _weight_gradients(xp, needs_input_grad, grad_gates_input, grad_gates_hidden, previous,
                      batch_sizes):
    """(grad of the projections, of weight_hh, of bias_hh): the per-step gate gradients in
    sequence order, and one GEMM of all hidden-gate gradients with the previous hiddens."""
    grad_projections = grad_weight = grad_bias = None
    if needs_input_grad[0]:
        grad_projections = (xp.stack(grad_gates_input, axis=0) if batch_sizes is None
                            else xp.concat(grad_gates_input, axis=0))
    if needs_input_grad[3] or needs_input_grad[4]:
        rows = xp.concat(grad_gates_hidden, axis=0)
        if needs_input_grad[3]:
            grad_weight = xp.matmul(rows.T, xp.concat(previous, axis=0))
        if needs_input_grad[4]:
            grad_bias = xp.sum(rows, axis=0)
    return grad_projections, grad_weight, grad_bias


