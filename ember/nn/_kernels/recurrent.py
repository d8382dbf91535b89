"""Kernels of the recurrent layers: the LSTM and GRU cells after their matmuls, fused, and the
split of a projected sequence into its time steps.

The fused cells are one node per step instead of about ten (speed), and save only the activated
gates and the cell/hidden state (memory grows with the sequence length). Formulas: PyTorch's
gate order, LSTM i, f, g, o and GRU r, z, n with n = tanh(x_n + r * h_n).
"""
import numpy as np

from ...autograd.function import Op


def _sigmoid(x):
    # Split by sign so exp never overflows: sigmoid(x) = e^x / (1 + e^x) for x < 0.
    exp_neg_abs = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + exp_neg_abs), exp_neg_abs / (1 + exp_neg_abs))
    return out.astype(x.dtype, copy=False)


def _two_gradients(grad, needs_input_grad):
    """The same gradient for two inputs, as separate arrays when both need it."""
    first = grad if needs_input_grad[0] else None
    second = None
    if needs_input_grad[1]:
        second = grad.copy() if first is not None else grad
    return first, second


class LSTMCell(Op):
    """(input_gates + hidden_gates, cell) -> (hidden, new cell), gates i, f, g, o."""

    @staticmethod
    def forward(ctx, input_gates, hidden_gates, cell):
        gates = input_gates + hidden_gates
        size = cell.shape[-1]
        activated = np.empty_like(gates)
        activated[..., :2 * size] = _sigmoid(gates[..., :2 * size])
        activated[..., 2 * size:3 * size] = np.tanh(gates[..., 2 * size:3 * size])
        activated[..., 3 * size:] = _sigmoid(gates[..., 3 * size:])
        input_gate = activated[..., :size]
        forget_gate = activated[..., size:2 * size]
        cell_gate = activated[..., 2 * size:3 * size]
        output_gate = activated[..., 3 * size:]
        new_cell = forget_gate * cell + input_gate * cell_gate
        tanh_cell = np.tanh(new_cell)
        hidden = output_gate * tanh_cell
        ctx.save_for_backward(activated, cell, tanh_cell)
        return hidden, new_cell

    @staticmethod
    def backward(ctx, grad_hidden, grad_cell):
        activated, cell, tanh_cell = ctx.saved_tensors
        size = cell.shape[-1]
        input_gate = activated[..., :size]
        forget_gate = activated[..., size:2 * size]
        cell_gate = activated[..., 2 * size:3 * size]
        output_gate = activated[..., 3 * size:]
        grad_gates = np.zeros_like(activated)
        total_cell = np.zeros_like(cell) if grad_cell is None else grad_cell.copy()
        if grad_hidden is not None:
            total_cell += grad_hidden * output_gate * (1 - tanh_cell * tanh_cell)
            grad_gates[..., 3 * size:] = grad_hidden * tanh_cell * output_gate * (1 - output_gate)
        grad_gates[..., :size] = total_cell * cell_gate * input_gate * (1 - input_gate)
        grad_gates[..., size:2 * size] = total_cell * cell * forget_gate * (1 - forget_gate)
        grad_gates[..., 2 * size:3 * size] = total_cell * input_gate * (1 - cell_gate * cell_gate)
        grad_input, grad_hidden_gates = _two_gradients(grad_gates, ctx.needs_input_grad)
        grad_previous_cell = total_cell * forget_gate if ctx.needs_input_grad[2] else None
        return grad_input, grad_hidden_gates, grad_previous_cell


class GRUCell(Op):
    """(input_gates, hidden_gates, hidden) -> new hidden, gates r, z, n; both gate arrays
    include their biases, so n = tanh(x_n + r * h_n) keeps b_hn inside the reset product."""

    @staticmethod
    def forward(ctx, input_gates, hidden_gates, hidden):
        size = hidden.shape[-1]
        activated = np.empty_like(input_gates)
        activated[..., :2 * size] = _sigmoid(input_gates[..., :2 * size]
                                             + hidden_gates[..., :2 * size])
        reset = activated[..., :size]
        update = activated[..., size:2 * size]
        activated[..., 2 * size:] = np.tanh(input_gates[..., 2 * size:]
                                            + reset * hidden_gates[..., 2 * size:])
        new = activated[..., 2 * size:]
        ctx.save_for_backward(activated, hidden_gates, hidden)
        return new + update * (hidden - new)

    @staticmethod
    def backward(ctx, grad):
        activated, hidden_gates, hidden = ctx.saved_tensors
        size = hidden.shape[-1]
        reset = activated[..., :size]
        update = activated[..., size:2 * size]
        new = activated[..., 2 * size:]
        grad_new = grad * (1 - update) * (1 - new * new)
        grad_input = np.empty_like(activated)
        grad_input[..., :size] = (grad_new * hidden_gates[..., 2 * size:]
                                  * reset * (1 - reset))
        grad_input[..., size:2 * size] = grad * (hidden - new) * update * (1 - update)
        grad_input[..., 2 * size:] = grad_new
        grad_hidden_gates = None
        if ctx.needs_input_grad[1]:
            grad_hidden_gates = grad_input.copy()
            grad_hidden_gates[..., 2 * size:] *= reset
        grad_previous = grad * update if ctx.needs_input_grad[2] else None
        return (grad_input if ctx.needs_input_grad[0] else None), grad_hidden_gates, \
            grad_previous


class SplitSteps(Op):
    """Splits ``x`` along ``axis`` into consecutive pieces of the given ``sizes`` (or drops the
    axis, one piece per index, when ``sizes`` is None), as one node: its backward writes every
    piece's gradient into a single array, where slicing piece by piece would allocate a
    full-size gradient per piece (memory and time quadratic in the sequence length)."""

    @staticmethod
    def forward(ctx, x, axis, sizes):
        ctx.shape = x.shape
        ctx.dtype = x.dtype
        prefix = (slice(None),) * axis
        if sizes is None:
            ctx.keys = [prefix + (index,) for index in range(x.shape[axis])]
        else:
            ends = np.cumsum(sizes)
            ctx.keys = [prefix + (slice(int(end - size), int(end)),)
                        for size, end in zip(sizes, ends)]
        return tuple(x[key] for key in ctx.keys)

    @staticmethod
    def backward(ctx, *grad_pieces):
        grad = np.zeros(ctx.shape, dtype=ctx.dtype)
        for key, piece in zip(ctx.keys, grad_pieces):
            if piece is not None:
                grad[key] = piece
        return grad, None, None
