"""Kernels of the recurrent layers: one time step of each cell (LSTM, GRU, Elman RNN) written
once against an array namespace, the single-step ops of the cells, and the whole recurrence of
one layer and direction as one op.

Formulas: PyTorch's gate order, LSTM i, f, g, o and GRU r, z, n with n = tanh(x_n + r * h_n).
A step's ``forward`` and ``backward`` take ``xp``: NumPy on the first-order path, or ember's
array namespace under create_graph, where the activations are recomputed from the saved inputs
so the backward is recorded (the saved activations would be constants).
"""
import numpy as np

from ...autograd.function import Op


def _sigmoid(xp, x):
    """Logistic function; on arrays in place on ``x`` (a fresh array), as 1 / (1 + e^-x), which
    overflows harmlessly to 0 (four times faster than the sign-split form)."""
    if xp is np:
        with np.errstate(over="ignore"):
            # Not np.negative(x, out=x): NumPy 2.4 miscomputes it in place on strided float32.
            np.multiply(x, -1, out=x)
            np.exp(x, out=x)
            x += 1
            np.reciprocal(x, out=x)
        return x
    return 0.5 * xp.tanh(0.5 * x) + 0.5


def _gate_slices(size, count):
    return [(Ellipsis, slice(index * size, (index + 1) * size)) for index in range(count)]


class LSTMStep:
    """h' = o * tanh(c'), c' = f * c + i * g from the gate pre-activations."""

    gates = 4

    @staticmethod
    def forward(xp, input_gates, hidden_gates, hidden, cell):
        """(new hidden, new cell, what the backward needs)."""
        gates = input_gates + hidden_gates
        size = cell.shape[-1]
        input_gate, forget_gate, cell_gate, output_gate = _gate_slices(size, 4)
        if xp is np:
            activated = gates
            _sigmoid(np, activated[..., :2 * size])
            np.tanh(activated[cell_gate], out=activated[cell_gate])
            _sigmoid(np, activated[output_gate])
        else:
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


class GRUStep:
    """h' = n + z * (h - n), n = tanh(x_n + r * h_n); both gate arrays include their biases, so
    b_hn stays inside the reset product."""

    gates = 3

    @staticmethod
    def forward(xp, input_gates, hidden_gates, hidden, cell):
        size = hidden.shape[-1]
        reset_update = _sigmoid(xp, input_gates[..., :2 * size] + hidden_gates[..., :2 * size])
        hidden_new_part = hidden_gates[..., 2 * size:]
        new = xp.tanh(input_gates[..., 2 * size:] + reset_update[..., :size] * hidden_new_part)
        output = new + reset_update[..., size:] * (hidden - new)
        return output, None, (reset_update, new, hidden_new_part)

    @staticmethod
    def backward(xp, grad, grad_cell, saved, hidden, cell):
        reset_update, new, hidden_new_part = saved
        size = hidden.shape[-1]
        reset = reset_update[..., :size]
        update = reset_update[..., size:]
        grad_new = grad * (1 - update) * (1 - new * new)
        grad_reset = grad_new * hidden_new_part * reset * (1 - reset)
        grad_update = grad * (hidden - new) * update * (1 - update)
        grad_input_gates = xp.concat([grad_reset, grad_update, grad_new], axis=-1)
        grad_hidden_gates = xp.concat([grad_reset, grad_update, grad_new * reset], axis=-1)
        return grad_input_gates, grad_hidden_gates, grad * update, None


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
        output = total * (total > 0)
        return output, None, (output,)

    @staticmethod
    def backward(xp, grad, grad_cell, saved, hidden, cell):
        (output,) = saved
        grad_gates = grad * (output > 0)
        return grad_gates, grad_gates, None, None


STEPS = {"LSTM": LSTMStep, "GRU": GRUStep, "RNN_TANH": TanhStep, "RNN_RELU": ReLUStep}


def _two_gradients(first, second, needs_input_grad):
    """The gradients of the input and hidden gates, as separate arrays when both are the same
    array (the engine may accumulate into either in place)."""
    first = first if needs_input_grad[0] else None
    second = second if needs_input_grad[1] else None
    if first is not None and first is second and isinstance(first, np.ndarray):
        second = second.copy()
    return first, second


class LSTMCell(Op):
    """One LSTM step as a node: (input_gates, hidden_gates, cell) -> (hidden, new cell)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, input_gates, hidden_gates, cell):
        hidden, new_cell, saved = LSTMStep.forward(np, input_gates, hidden_gates, None, cell)
        ctx.save_for_backward(input_gates, hidden_gates, cell, *saved)
        return hidden, new_cell

    @staticmethod
    def backward(ctx, grad_hidden, grad_cell):
        xp = ctx.xp
        input_gates, hidden_gates, cell, *saved = ctx.saved_tensors
        if xp is not np:
            saved = LSTMStep.forward(xp, input_gates, hidden_gates, None, cell)[2]
        grad_gates, _, _, grad_previous_cell = LSTMStep.backward(xp, grad_hidden, grad_cell,
                                                                 saved, None, cell)
        grad_input, grad_hidden_gates = _two_gradients(grad_gates, grad_gates,
                                                        ctx.needs_input_grad)
        return (grad_input, grad_hidden_gates,
                grad_previous_cell if ctx.needs_input_grad[2] else None)


class GRUCell(Op):
    """One GRU step as a node: (input_gates, hidden_gates, hidden) -> new hidden."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, input_gates, hidden_gates, hidden):
        output, _, saved = GRUStep.forward(np, input_gates, hidden_gates, hidden, None)
        ctx.save_for_backward(input_gates, hidden_gates, hidden, *saved)
        return output

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        input_gates, hidden_gates, hidden, *saved = ctx.saved_tensors
        if xp is not np:
            saved = GRUStep.forward(xp, input_gates, hidden_gates, hidden, None)[2]
        grad_input, grad_hidden_gates, grad_previous, _ = GRUStep.backward(xp, grad, None, saved,
                                                                           hidden, None)
        grad_input, grad_hidden_gates = _two_gradients(grad_input, grad_hidden_gates,
                                                       ctx.needs_input_grad)
        return grad_input, grad_hidden_gates, grad_previous if ctx.needs_input_grad[2] else None


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


class Recurrence(Op):
    """One layer and direction of an RNN, LSTM or GRU over a whole sequence, as one node:
    (projections, hidden, cell, weight_hh, bias_hh) -> (outputs, last hidden, last cell), where
    ``projections`` is the input already multiplied by W_ih (+ b_ih): (T, B, G) padded, or
    packed (N, G) rows with ``batch_sizes``. The loop over time runs inside the op: no node per
    step, and the hidden weight's gradient is one GEMM over all steps.

    In a packed batch only the first batch_sizes[t] sequences take step t; the others keep their
    state (finished, or not started yet when ``reverse``)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, projections, hidden, cell, weight_hh, bias_hh, mode, batch_sizes, reverse):
        dtype = projections.dtype
        inputs = (projections, hidden, cell, weight_hh, bias_hh)
        if dtype == np.float16:  # computed in float32, as PyTorch accumulates float16
            projections, hidden, cell, weight_hh, bias_hh = [
                None if array is None else array.astype(np.float32) for array in inputs]
        step = STEPS[mode]
        keys = _step_keys(projections.shape, batch_sizes)
        outputs = np.empty(projections.shape[:-1] + hidden.shape[-1:], projections.dtype)
        recording = ctx._recording
        per_step = [None] * len(keys)
        # OpenBLAS multiplies by a transposed view markedly slower than by a contiguous copy
        # when the batch is small: (20, 200) @ (200, 800), one thread: 111 -> 68 us.
        transposed_weight = np.ascontiguousarray(weight_hh.T)
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
        return tuple(result.astype(dtype) for result in results) if dtype == np.float16 \
            else results

    @staticmethod
    def backward(ctx, grad_outputs, grad_hidden, grad_cell=None):
        xp = ctx.xp
        mode, batch_sizes, reverse, dtype = ctx.options
        projections, hidden, cell, weight_hh, bias_hh, per_step = ctx.saved_tensors
        if xp is np and dtype == np.float16:
            projections, hidden, cell, weight_hh, grad_outputs, grad_hidden, grad_cell = [
                None if array is None else array.astype(np.float32) for array in
                (projections, hidden, cell, weight_hh, grad_outputs, grad_hidden, grad_cell)]
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


class SplitSteps(Op):
    """Splits ``x`` along ``axis`` into consecutive pieces of the given ``sizes`` (or drops the
    axis, one piece per index, when ``sizes`` is None), as one node: its backward stacks every
    piece's gradient into a single array, where slicing piece by piece would allocate a
    full-size gradient per piece (memory and time quadratic in the sequence length)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, axis, sizes):
        ctx.shape = x.shape
        ctx.dtype = x.dtype
        ctx.axis = axis
        ctx.stacked = sizes is None
        prefix = (slice(None),) * axis
        if sizes is None:
            keys = [prefix + (index,) for index in range(x.shape[axis])]
        else:
            ends = np.cumsum(sizes)
            keys = [prefix + (slice(int(end - size), int(end)),)
                    for size, end in zip(sizes, ends)]
        pieces = tuple(x[key] for key in keys)
        ctx.piece_shapes = [piece.shape for piece in pieces]
        return pieces

    @staticmethod
    def backward(ctx, *grad_pieces):
        xp = ctx.xp
        pieces = []
        for piece, shape in zip(grad_pieces, ctx.piece_shapes):
            pieces.append(xp.asarray(np.zeros(shape, ctx.dtype)) if piece is None else piece)
        if ctx.stacked:
            return xp.stack(pieces, axis=ctx.axis), None, None
        return xp.concat(pieces, axis=ctx.axis), None, None
