"""Recurrent layers (RNN, LSTM, GRU) and their single-step cells, as PyTorch defines them.

Each layer and direction projects the whole input sequence with one matmul, then runs the loop
over time steps inside one node (ember/nn/_kernels/recurrent.py); a cell's step, both
projections included, is one node too. Gates are PyTorch's (LSTM: i, f, g, o; GRU: r, z, n).
Padded (T, B, F) / (B, T, F), unbatched (T, F) and packed (nn.utils.rnn.PackedSequence) inputs
are accepted.
"""
import math
import numbers
import warnings

import numpy as np

from ... import _factories
from ... import ops
from ..._autocast_state import DEFAULT_DTYPES as DEFAULT_AUTOCAST_DTYPES, _autocast_state
from ..._dtype import bfloat16, cpp_type_name, float32, promote_types, scalar_type_name
from ...autograd import function as function_module
from ...autograd.function import grad_transform_within
from ...tensor import Tensor
from ...ops.elementwise.casting import autocast_op, cpu_autocast_off
from ...ops.shape import SplitWithSizes, Unbind
from .. import functional as F
from .. import init
from .._kernels import recurrent as _recurrent
from ..functional._conv import check_tensors
from ..parameter import Parameter
from .linear import check_size
from .module import Module, _optional_parameter
from .utils import _changed_options


def _steps(sequence, batch_sizes=None):
    """The time steps of a (T, B, G) sequence as T tensors (B, G), or of packed (N, G) rows as
    tensors (batch_sizes[t], G)."""
    count = sequence.shape[0] if batch_sizes is None else len(batch_sizes)
    if count == 1:
        return (ops.squeeze(sequence, 0) if batch_sizes is None else sequence,)
    return (Unbind if batch_sizes is None else SplitWithSizes).apply(sequence, 0, batch_sizes)


def _projected_lstm_step(input_projection, state, weight_hh, bias_hh, weight_hr):
    """One step of an LSTM with projections: the input projection is computed already, the new
    hidden state is projected by weight_hr (proj_size > 0)."""
    hidden, cell = _recurrent.Cell.apply(input_projection, state[0], state[1], None, weight_hh,
                                         None, bias_hh, "LSTM")
    return F.linear(hidden, weight_hr), cell


# PyTorch's names of its recurrent layers' kernels, which have no vmap batching rule
_ATEN_NAMES = {"LSTM": "lstm.input", "GRU": "gru.input", "RNN_TANH": "rnn_tanh.input",
               "RNN_RELU": "rnn_relu.input"}


def _refuse_where_torch_vmap_fails(kernel, input, groups, directions, gates, unbatchable,
                                   passes_under_grad=False):
    """PyTorch's vmap errors over its recurrent kernels, which ember batches: an ``unbatchable``
    kernel (aten::``kernel``) fails unless a grad transform runs inside the vmap; inside one, a
    step whose input side (input, w_ih, b_ih) is batched while its hidden side (the initial
    state, w_hh, b_hh) is not fails adding the former into the latter in place (the (B,
    ``gates``) buffer), unless the kernel ``passes_under_grad`` (oneDNN's LSTM). ``groups``:
    per layer and direction, (input-side weights, hidden-side tensors)."""
    batched_type = function_module._batched_tensor_type
    if batched_type is None:
        return
    tensors = [input] + [tensor for input_side, hidden_side in groups
                         for tensor in (*input_side, *hidden_side)]
    levels = [tensor._data.level for tensor in tensors if isinstance(tensor, batched_type)]
    if not levels:
        return
    level = max(levels)

    def batched(tensor):
        if not (isinstance(tensor, batched_type) and tensor._data.level == level):
            return False
        # a grad transform's variable for an unbatched input is broadcast along the level (a
        # batch stride of 0), where PyTorch's stays unbatched
        value = tensor._data.value._data
        return not (type(value) is np.ndarray and value.shape[0] > 1 and value.strides[0] == 0)

    if not grad_transform_within(level):
        if not unbatchable:
            return
        message = (f"Batching rule not implemented for aten::{kernel}. We could not generate a "
                   f"fallback.")
    else:
        if passes_under_grad or not _adds_batched_into_unbatched(batched, input, groups,
                                                                  directions):
            return
        shape = [input.shape[-2], gates]
        message = (f"output with shape {shape} doesn't match the broadcast shape "
                   f"{[_batch_size(tensors, level)] + shape}")
    error = RuntimeError(message)
    error.vmap_refusal = True  # raised as it is, not run once per sample
    raise error


def _adds_batched_into_unbatched(batched, input, groups, directions):
    """Whether a layer's first step has a batched input side and an unbatched hidden side (a
    layer's input is batched where anything before it is)."""
    layer_input_batched = batched(input)
    for first in range(0, len(groups), directions):
        output_batched = False
        for input_side, hidden_side in groups[first:first + directions]:
            input_batched = layer_input_batched or any(map(batched, input_side))
            hidden_batched = any(map(batched, hidden_side))
            if input_batched and not hidden_batched:
                return True
            output_batched = output_batched or input_batched or hidden_batched
        layer_input_batched = output_batched
    return False


def _batch_size(tensors, level):
    """The size of vmap level ``level`` among ``tensors``."""
    for tensor in tensors:
        if isinstance(tensor, function_module._batched_tensor_type) and \
                tensor._data.level == level:
            return tensor._data.value.shape[0]


def _state_pair(hx, operation):
    """An LSTM's (h, c) pair: PyTorch indexes hx[0] and hx[1] (IndexError for one state) and
    refuses more than two."""
    if not isinstance(hx, (tuple, list)):
        if operation == "lstm_cell":
            raise TypeError(f"lstm_cell(): argument 'hx' (position 2) must be tuple of Tensors, "
                            f"not {type(hx).__name__}")
        if isinstance(hx, Tensor) and hx.shape[0] < 2:
            raise IndexError(f"index 1 is out of bounds for dimension 0 with size "
                             f"{hx.shape[0]}")
    elif len(hx) != 2:
        if len(hx) < 2:
            raise IndexError("tuple index out of range")
        raise RuntimeError(f"{operation} expects two hidden states")
    return hx[0], hx[1]


def _matmul_dtype_error(first, second, bias):
    """PyTorch's error for the first product of an operand with the weights in another dtype:
    addmm's with a bias, mm's without."""
    if bias:
        return RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                            f"{scalar_type_name(first)} and {scalar_type_name(second)}")
    return RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                        f"{cpp_type_name(first)} != {cpp_type_name(second)}")


def _check_state_dtype(module, state, weight_dtype):
    """A hidden state in another dtype than the weights fails in PyTorch's first product of it
    with the weights; an LSTM layer without projections on float32 input runs oneDNN, which
    refuses a float64 state first."""
    state_dtype = state._data.dtype
    if state_dtype == weight_dtype:
        return
    if isinstance(module, LSTM) and module.proj_size == 0 and weight_dtype == np.float32 \
            and state_dtype == np.float64:
        raise RuntimeError("get_mkldnn_dtype: unsupported data type")
    raise _matmul_dtype_error(state_dtype, weight_dtype, module.bias)


def _is_packed(input):
    if isinstance(input, Tensor):  # the common call: no import
        return False
    # imported here: nn.utils sits beside nn.modules and imports layers itself
    from ..utils.rnn import PackedSequence
    return isinstance(input, PackedSequence)


_GATE_COUNTS = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RNNBase(Module):
    """Shared parameters, checks and the layer/direction/time loop of RNN, LSTM and GRU."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        for name, size in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(size, int) or isinstance(size, bool):
                raise TypeError(f"{name} should be of type int, got: {type(size).__name__}")
            if size <= 0:
                raise ValueError(f"{name} must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATE_COUNTS:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        gate_size = _GATE_COUNTS[mode] * hidden_size
        real_hidden_size = proj_size if proj_size > 0 else hidden_size

        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input_size = (input_size if layer == 0
                                    else real_hidden_size * num_directions)
                shapes = [(gate_size, layer_input_size), (gate_size, real_hidden_size)]
                names = ["weight_ih_l{}{}", "weight_hh_l{}{}"]
                if bias:
                    shapes += [(gate_size,), (gate_size,)]
                    names += ["bias_ih_l{}{}", "bias_hh_l{}{}"]
                if proj_size > 0:
                    shapes.append((proj_size, hidden_size))
                    names.append("weight_hr_l{}{}")
                suffix = "_reverse" if direction == 1 else ""
                names = [name.format(layer, suffix) for name in names]
                for name, shape in zip(names, shapes):
                    setattr(self, name, Parameter(_factories.empty(shape, dtype=dtype)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def flatten_parameters(self):
        """A no-op (PyTorch compacts cuDNN weights here); kept so model code runs unchanged."""

    @property
    def _flat_weights(self):
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + _changed_options(self, (
            ("proj_size", 0), ("num_layers", 1), ("bias", True), ("batch_first", False),
            ("dropout", 0), ("bidirectional", False)))

    # ---- checks ------------------------------------------------------------------------------
    def _check_tensors(self, input, *states):
        """PyTorch's RNN forward reads ``.dim()`` of its input and states: AttributeError."""
        if isinstance(input, Tensor) and all(state is None or isinstance(state, Tensor)
                                             for state in states):
            return
        check_tensors(type(self).__name__, AttributeError, input=input,
                      **{f"hx[{index}]": state for index, state in enumerate(states)
                         if state is not None})

    def _check_input_dim(self, input):
        if input.dim() not in (2, 3):
            # PyTorch's RNN says "4D tensor instead", LSTM and GRU "4D instead"
            got = f"{input.dim()}D tensor" if type(self).__name__ == "RNN" else f"{input.dim()}D"
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got {got} "
                             f"instead")

    def _check_input(self, input, weight_dtype=None):
        """Checks a (T, B, F) input (against ``weight_dtype`` where autocast casts the
        weights)."""
        if weight_dtype is None:
            weight_dtype = self.weight_ih_l0.dtype
        if input.dtype != weight_dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype "
                             f"({weight_dtype}). Convert input: input.to({weight_dtype}), or "
                             f"convert model: model.to({input.dtype})")
        if input.shape[0] == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")

    def _expected_hidden_size(self, batch_size):
        num_directions = 2 if self.bidirectional else 1
        size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * num_directions, batch_size, size)

    def _check_hidden_size(self, hidden, expected, message="Expected hidden size {}, got {}",
                           weight_dtype=None):
        if tuple(hidden.shape) != expected:
            raise RuntimeError(message.format(expected, list(hidden.shape)))
        if weight_dtype is None or hidden.dtype != weight_dtype:
            _check_state_dtype(self, hidden, self.weight_ih_l0._data.dtype)

    # ---- the recurrence ----------------------------------------------------------------------
    def _run(self, input, initial_states, batch_sizes=None, weight_dtype=None):
        """input (T, B, input_size), or packed rows (N, input_size) with their ``batch_sizes``;
        initial_states: one state per layer and direction (a tensor, or an (h, c) pair for
        LSTM). Returns the last layer's output (same layout) and the final states;
        ``weight_dtype``: the weights are cast to it first (autocast)."""
        lstm = self.mode == "LSTM"
        num_directions = 2 if self.bidirectional else 1
        if batch_sizes is None:
            states = [state for pair in initial_states
                      for state in (pair if lstm else (pair,))]
            gates = (4 if lstm else 1) * self.hidden_size
            groups = []
            for index, names in enumerate(self._all_weights):
                input_side = [getattr(self, name) for name in names if "_ih_" in name]
                hidden_side = [getattr(self, name) for name in names if "_hh_" in name]
                groups.append((input_side, [states[index * (2 if lstm else 1)]] + hidden_side))
            # PyTorch runs a float32 LSTM without projections through oneDNN, which adds nothing
            # in place
            one_dnn = lstm and self.proj_size == 0 and input.dtype == float32
            _refuse_where_torch_vmap_fails(_ATEN_NAMES[self.mode], input, groups, num_directions,
                                           gates, True, passes_under_grad=one_dnn)
        layer_input = input
        final_states = []
        for layer in range(self.num_layers):
            direction_outputs = []
            for direction in range(num_directions):
                index = layer * num_directions + direction
                weights = [getattr(self, name) for name in self._all_weights[index]]
                if weight_dtype is not None:
                    weights = [weight.to(weight_dtype) for weight in weights]
                weight_ih, weight_hh = weights[0], weights[1]
                bias_ih, bias_hh = (weights[2], weights[3]) if self.bias else (None, None)
                # one matmul projects every time step of the input
                projections = F.linear(layer_input, weight_ih, bias_ih)
                state = initial_states[index]
                if self.proj_size > 0:
                    output, state = self._run_steps(projections, state, weight_hh, bias_hh,
                                                    weights[-1], batch_sizes, direction == 1)
                else:
                    hidden, cell = state if lstm else (state, None)
                    results = _recurrent.Recurrence.apply(projections, hidden, cell, weight_hh,
                                                          bias_hh, self.mode, batch_sizes,
                                                          direction == 1)
                    output = results[0]
                    state = tuple(results[1:]) if lstm else results[1]
                direction_outputs.append(output)
                final_states.append(state)
            if num_directions == 1:
                layer_input = direction_outputs[0]
            else:
                layer_input = ops.cat(direction_outputs, -1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        return layer_input, final_states

    @staticmethod
    def _run_steps(projections, state, weight_hh, bias_hh, weight_hr, batch_sizes, reverse):
        """An LSTM with projections (proj_size > 0) over the sequence, one node per step."""
        projections = _steps(projections, batch_sizes)
        full_batch = None if batch_sizes is None else batch_sizes[0]
        times = range(len(projections))
        hiddens = [None] * len(projections)
        for time in (reversed(times) if reverse else times):
            running = full_batch if batch_sizes is None else batch_sizes[time]
            if running == full_batch:
                state = _projected_lstm_step(projections[time], state, weight_hh, bias_hh,
                                             weight_hr)
                hiddens[time] = state[0]
                continue
            # packed input: only the first ``running`` sequences take this step; the others
            # keep their state (finished, or not started when reversed)
            new = _projected_lstm_step(projections[time],
                                       (state[0][:running], state[1][:running]), weight_hh,
                                       bias_hh, weight_hr)
            state = (ops.cat([new[0], state[0][running:]], 0),
                     ops.cat([new[1], state[1][running:]], 0))
            hiddens[time] = new[0]
        output = ops.stack(hiddens, 0) if batch_sizes is None else ops.cat(hiddens, 0)
        return output, state

    def _packed_forward(self, packed, hx):
        """Forward of a PackedSequence: returns (PackedSequence output, final state(s))."""
        data, batch_sizes, sorted_indices, unsorted_indices = packed
        if data.dim() != 2:
            raise RuntimeError(f"input must have 2 dimensions, got {data.dim()}")
        if data.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {data.shape[-1]}")
        weight_dtype = self.weight_ih_l0.dtype
        if data.dtype != weight_dtype:
            raise ValueError(f"RNN input dtype ({data.dtype}) does not match weight dtype "
                             f"({weight_dtype}). Convert input: input.to({weight_dtype}), or "
                             f"convert model: model.to({data.dtype})")
        sizes = [int(size) for size in np.asarray(batch_sizes._data)]
        expected = self._expected_hidden_size(sizes[0])
        lstm = self.mode == "LSTM"
        expected_cell = expected[:2] + (self.hidden_size,)
        if hx is None:
            hidden = _factories.zeros(expected, dtype=data.dtype)
            cell = _factories.zeros(expected_cell, dtype=data.dtype)
        else:
            hidden, cell = _state_pair(hx, "lstm") if lstm else (hx, None)
            self._check_tensors(data, hidden, cell)
            if sorted_indices is not None:
                # states arrive in the batch's order; the packed rows are by decreasing length
                hidden = ops.index_select(hidden, 1, sorted_indices)
                if lstm:
                    cell = ops.index_select(cell, 1, sorted_indices)
            if lstm:
                self._check_hidden_size(hidden, expected, "Expected hidden[0] size {}, got {}")
                self._check_hidden_size(cell, expected_cell, "Expected hidden[1] size {}, got {}")
            else:
                self._check_hidden_size(hidden, expected)
        if lstm:
            states = [(hidden[index], cell[index]) for index in range(expected[0])]
        else:
            states = [hidden[index] for index in range(expected[0])]
        output, final_states = self._run(data, states, sizes)
        output = type(packed)(output, batch_sizes, sorted_indices, unsorted_indices)

        def restore_order(states):
            stacked = ops.stack(states, 0)
            if unsorted_indices is None:
                return stacked
            return ops.index_select(stacked, 1, unsorted_indices)

        if lstm:
            return output, (restore_order([state[0] for state in final_states]),
                            restore_order([state[1] for state in final_states]))
        return output, restore_order(final_states)

    def _sequence_forward(self, input, hx, compute_dtype=None):
        """Shared forward of RNN and GRU (hx is one tensor); ``compute_dtype``: the dtype
        autocast runs the weights in (GRU), else None."""
        if _is_packed(input):
            return self._packed_forward(input, hx)
        self._check_tensors(input, hx)
        self._check_input_dim(input)
        batched = input.dim() == 3
        if hx is not None:
            if batched and hx.dim() != 3:
                raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got "
                                   f"{hx.dim()}-D tensor")
            if not batched and hx.dim() != 2:
                raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got "
                                   f"{hx.dim()}-D tensor")
        input, hx = self._batch_major(input, hx, batched)
        self._check_input(input, compute_dtype)
        batch_size = input.shape[1]
        expected = self._expected_hidden_size(batch_size)
        if hx is None:
            hx = _factories.zeros(expected, dtype=input.dtype)
        else:
            self._check_hidden_size(hx, expected, weight_dtype=compute_dtype)
        output, final_states = self._run(input, [hx[index] for index in range(expected[0])],
                                         weight_dtype=compute_dtype)
        return self._restore_layout(output, batched), self._final(final_states, batched)

    def _batch_major(self, input, hx, batched):
        """(T, B, F) input and (L*D, B, H) states from any accepted layout."""
        if not batched:
            input = ops.unsqueeze(input, 1)
            if hx is not None:
                hx = ops.unsqueeze(hx, 1)
        elif self.batch_first:
            input = ops.transpose(input, 0, 1)
        return input, hx

    def _restore_layout(self, output, batched):
        if not batched:
            return ops.squeeze(output, 1)
        if self.batch_first:
            return ops.transpose(output, 0, 1)
        return output

    @staticmethod
    def _final(states, batched):
        stacked = ops.stack(states, 0)
        return stacked if batched else ops.squeeze(stacked, 1)


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh) (or relu)."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             f"or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input, hx=None):
        """Returns ``(output, h_n)``."""
        compute_dtype = _autocast_dtype("RNN", input, hx)
        if compute_dtype is None:
            return self._sequence_forward(input, hx)
        with cpu_autocast_off():
            return self._sequence_forward(input.to(compute_dtype),
                                          None if hx is None else hx.to(compute_dtype),
                                          compute_dtype)


class GRU(RNNBase):
    """Gated recurrent unit: r, z gates and n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx=None):
        """Returns ``(output, h_n)``."""
        return self._autocast_forward(input, hx, _autocast_dtype("GRU", input, hx))

    forward.autocast_op = "gru"

    @autocast_op("gru")
    def _autocast_forward(self, input, hx, compute_dtype):
        if compute_dtype is not None:
            input = input.to(compute_dtype)
            hx = None if hx is None else hx.to(compute_dtype)
        return self._sequence_forward(input, hx, compute_dtype)


class LSTM(RNNBase):
    """Long short-term memory with gates i, f, g, o; returns ``output, (h_n, c_n)``.

    With ``proj_size > 0`` each hidden state is projected: h = W_hr (o * tanh(c))."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def forward(self, input, hx=None):
        compute_dtype = _autocast_dtype("LSTM", input, hx)
        if compute_dtype is None:
            return self._lstm_forward(input, hx)
        if hx is not None and isinstance(hx, (tuple, list)):
            hx = tuple(state.to(compute_dtype) if isinstance(state, Tensor) else state
                       for state in hx)
        with cpu_autocast_off():
            return self._lstm_forward(input.to(compute_dtype), hx, compute_dtype)

    def _lstm_forward(self, input, hx, compute_dtype=None):
        if _is_packed(input):
            return self._packed_forward(input, hx)
        self._check_tensors(input)
        self._check_input_dim(input)
        batched = input.dim() == 3
        if hx is not None:
            hidden, cell = _state_pair(hx, "lstm")
            self._check_tensors(hidden, cell)
            if batched and (hidden.dim() != 3 or cell.dim() != 3):
                raise RuntimeError(f"For batched 3-D input, hx and cx should also be 3-D but "
                                   f"got ({hidden.dim()}-D, {cell.dim()}-D) tensors")
            if not batched and (hidden.dim() != 2 or cell.dim() != 2):
                raise RuntimeError(f"For unbatched 2-D input, hx and cx should also be 2-D but "
                                   f"got ({hidden.dim()}-D, {cell.dim()}-D) tensors")
            input, hidden = self._batch_major(input, hidden, batched)
            cell = ops.unsqueeze(cell, 1) if not batched else cell
        else:
            input, _ = self._batch_major(input, None, batched)
        self._check_input(input, compute_dtype)
        expected = self._expected_hidden_size(input.shape[1])
        expected_cell = expected[:2] + (self.hidden_size,)
        if hx is None:
            hidden = _factories.zeros(expected, dtype=input.dtype)
            cell = _factories.zeros(expected_cell, dtype=input.dtype)
        else:
            self._check_hidden_size(hidden, expected, "Expected hidden[0] size {}, got {}",
                                    compute_dtype)
            self._check_hidden_size(cell, expected_cell, "Expected hidden[1] size {}, got {}",
                                    compute_dtype)
        states = [(hidden[index], cell[index]) for index in range(expected[0])]
        output, final_states = self._run(input, states, weight_dtype=compute_dtype)
        final_hidden = self._final([state[0] for state in final_states], batched)
        final_cell = self._final([state[1] for state in final_states], batched)
        return self._restore_layout(output, batched), (final_hidden, final_cell)


class RNNCellBase(Module):
    """Parameters, init, repr and input checks shared by the single-step cells."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        check_size(type(self).__name__, "input_size", input_size)
        check_size(type(self).__name__, "hidden_size", hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gate_size = num_chunks * hidden_size
        self.weight_ih = Parameter(_factories.empty((gate_size, input_size), dtype=dtype))
        self.weight_hh = Parameter(_factories.empty((gate_size, hidden_size), dtype=dtype))
        _optional_parameter(self, "bias_ih", bias, (gate_size,), dtype)
        _optional_parameter(self, "bias_hh", bias, (gate_size,), dtype)
        self.reset_parameters()

    reset_parameters = RNNBase.reset_parameters

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            text += f", bias={self.bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            text += f", nonlinearity={self.nonlinearity}"
        return text

    def _check_dims(self, input, hiddens):
        """Validates dims (1-D unbatched or 2-D); returns whether the input is batched."""
        name = type(self).__name__
        check_tensors(name, AttributeError, input=input,
                      **{label: hidden for label, hidden in hiddens if hidden is not None})
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D "
                             f"instead")
        for label, hidden in hiddens:
            if hidden is not None and hidden.dim() not in (1, 2):
                raise ValueError(f"{name}: Expected {label} to be 1D or 2D, got "
                                 f"{hidden.dim()}D instead")
        return input.dim() == 2

    def _check_sizes(self, input, hiddens, weight_dtype):
        """Sizes of a batched input and its states, then the input's dtype against the weights'
        (``weight_dtype``: after autocast's casts) and the states', in PyTorch's order."""
        rows, features = input._data.shape
        if features != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {features} "
                               f"expected {self.input_size}")
        for label, hidden in hiddens:
            shape = hidden._data.shape
            if shape != (rows, self.hidden_size):
                if shape[0] != rows:
                    raise RuntimeError(f"Input batch size {rows} doesn't match hidden{label} "
                                       f"batch size {shape[0]}")
                if shape[1] != self.hidden_size:
                    raise RuntimeError(f"hidden{label} has inconsistent hidden_size: got "
                                       f"{shape[1]}, expected {self.hidden_size}")
        if input._data.dtype != weight_dtype:
            raise _matmul_dtype_error(input._data.dtype, weight_dtype, self.bias)
        # an LSTM cell's c (hx[1]) of another dtype is promoted (PyTorch computes)
        _check_state_dtype(self, hiddens[0][1], weight_dtype)

    def _cell(self, mode, input, hidden, cell=None):
        """One step of the cell (mode: a key of recurrent.STEPS) as one node; ``hidden`` and
        ``cell`` are None for zeros. Returns the new hidden state, or (hidden, cell) for LSTM."""
        lstm = mode == "LSTM"
        batched = True
        if not _plain_batched(input, hidden, cell, lstm):
            states = [("hx[0]", hidden), ("hx[1]", cell)] if lstm else [("hidden", hidden)]
            batched = self._check_dims(input, states)
            if not batched:
                input = ops.unsqueeze(input, 0)
                hidden = None if hidden is None else ops.unsqueeze(hidden, 0)
                cell = None if cell is None else ops.unsqueeze(cell, 0)
        if hidden is None:
            hidden = _factories.zeros((input.shape[0], self.hidden_size), dtype=input.dtype)
        if lstm and cell is None:
            cell = _factories.zeros((input.shape[0], self.hidden_size), dtype=input.dtype)
        weights = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        compute_dtype = _autocast_dtype(_CELL_MODES.get(mode, "RNN"), input,
                                        (hidden, cell) if lstm else hidden)
        if compute_dtype is not None:
            input, hidden = input.to(compute_dtype), hidden.to(compute_dtype)
            cell = None if cell is None else cell.to(compute_dtype)
            weights = [None if weight is None else weight.to(compute_dtype)
                       for weight in weights]
        self._check_sizes(input, [("0", hidden), ("1", cell)] if lstm else [("0", hidden)],
                          weights[0]._data.dtype)
        weight_ih, weight_hh, bias_ih, bias_hh = weights
        groups = [((weight_ih, bias_ih), (hidden, weight_hh, bias_hh))]
        _refuse_where_torch_vmap_fails("lstm_cell", input, groups, 1,
                                       (4 if lstm else 1) * self.hidden_size, lstm)
        result = _recurrent.Cell.apply(input, hidden, cell, *weights, mode)
        if batched:
            return result
        if lstm:
            return ops.squeeze(result[0], 0), ops.squeeze(result[1], 0)
        return ops.squeeze(result, 0)


def _plain_batched(input, hidden, cell, lstm):
    """True for the common call: 2-D tensors given for the input and every state (the checks
    of ``_check_dims`` pass without running)."""
    if type(input) is not Tensor or input._data.ndim != 2:
        return False
    if type(hidden) is not Tensor or hidden._data.ndim != 2:
        return False
    return not lstm or (type(cell) is Tensor and cell._data.ndim == 2)


_CELL_MODES = {"LSTM": "LSTMCell", "GRU": "GRUCell"}


def _autocast_dtype(kind, input, hx):
    """The dtype a recurrent layer (``kind``: RNN, LSTM, GRU or a cell) runs in under CPU
    autocast, or None (no autocast, a packed input, a state that is no float).

    PyTorch computes the projections with autocast's linear (in the autocast dtype) and updates
    the state in the state's own dtype (hx's, else the input's), so the result is their
    promotion where the state enters the update: the GRU, GRU and LSTM cells (the LSTM's cell
    state c). An Elman RNN's state passes through the projection only: the autocast dtype. The
    LSTM module runs oneDNN's LSTM for float32 and bfloat16 inputs, all in the autocast dtype."""
    if not _autocasting() or not isinstance(input, Tensor) or not input.is_floating_point():
        return None
    target = _autocast_state.get().dtypes.get("cpu", DEFAULT_AUTOCAST_DTYPES["cpu"])
    if input._data.dtype == np.float64:  # autocast leaves it, the projection's weights not
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got Double and "
                           f"{scalar_type_name(target.numpy)}")
    if kind in ("RNN", "RNNCell") or (kind == "LSTM" and input.dtype in (float32, bfloat16)):
        return target
    state = hx
    if isinstance(hx, (tuple, list)):
        state = hx[1] if len(hx) > 1 else None  # (h, c): the cell state
    if not isinstance(state, Tensor):
        state = input
    if not state.is_floating_point():
        return None
    return promote_types(target, state.dtype)


def _autocasting():
    return "cpu" in _autocast_state.get().enabled


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        if self.nonlinearity == "tanh":
            return self._cell("RNN_TANH", input, hx)
        if self.nonlinearity == "relu":
            return self._cell("RNN_RELU", input, hx)
        self._check_dims(input, [("hidden", hx)])
        raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n)."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, dtype=dtype)

    def forward(self, input, hx=None):
        return self._cell("GRU", input, hx)


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o); returns ``(h', c')``."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, dtype=dtype)

    def forward(self, input, hx=None):
        if hx is None:
            return self._cell("LSTM", input, None, None)
        hidden, cell = _state_pair(hx, "lstm_cell")
        return self._cell("LSTM", input, hidden, cell)


_LAYERS = {"LSTM": LSTM, "GRU": GRU, "RNN_TANH": RNN, "RNN_RELU": RNN}


def run_on_weights(mode, input, hx, params, has_biases, num_layers, dropout, train,
                   bidirectional, batch_first=False, batch_sizes=None):
    """torch.lstm / gru / rnn_tanh / rnn_relu: the layer run on the flat weight list ``params``
    (w_ih, w_hh[, b_ih, b_hh][, w_hr] per layer and direction) without making parameters.
    ``batch_sizes`` given: ``input`` is a packed sequence's data. Returns the output and the
    final state(s) (``(h, c)`` for LSTM)."""
    directions = 2 if bidirectional else 1
    params = list(params)
    per_direction = len(params) // (num_layers * directions)
    projected = mode == "LSTM" and per_direction == (5 if has_biases else 3)
    layer = object.__new__(_LAYERS[mode])
    Module.__init__(layer)
    layer.mode = mode
    layer.nonlinearity = "relu" if mode == "RNN_RELU" else "tanh"
    layer.hidden_size = params[0].shape[0] // _GATE_COUNTS[mode]
    layer.input_size = params[0].shape[1]
    layer.num_layers = num_layers
    layer.bias = has_biases
    layer.batch_first = batch_first
    layer.dropout = float(dropout)
    layer.bidirectional = bidirectional
    layer.proj_size = params[per_direction - 1].shape[0] if projected else 0
    layer.training = train
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if has_biases else []) + \
        (["weight_hr"] if projected else [])
    layer._flat_weights_names = []
    layer._all_weights = []
    for index in range(num_layers * directions):
        suffix = f"_l{index // directions}" + ("_reverse" if index % directions else "")
        group = [name + suffix for name in names]
        for name, weight in zip(group, params[index * per_direction:]):
            object.__setattr__(layer, name, weight)
        layer._flat_weights_names.extend(group)
        layer._all_weights.append(group)
    if batch_sizes is not None:
        from ..utils.rnn import PackedSequence  # nn.utils imports the layers (see _is_packed)
        output, state = layer._packed_forward(PackedSequence(input, batch_sizes, None, None), hx)
        return output.data, state
    if mode == "LSTM":
        return layer._lstm_forward(input, hx)
    return layer._sequence_forward(input, hx)
