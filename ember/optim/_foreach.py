"""The multi-tensor step (PyTorch's ``foreach`` idea): the small parameters of a group updated
together through a few NumPy operations instead of a dozen small ones each.

The update's cost per parameter is one NumPy call per pass, about a microsecond, whatever the
size: for biases and norm weights that is nearly all of it. So parameters under
``SOLO_ELEMENTS`` are packed into "chunks" of up to ``CHUNK_ELEMENTS`` elements (every pass over
a chunk finds it in cache): their optimizer state lives in one flat buffer per chunk and state
key, each parameter's state tensors are views into it (``optimizer.state`` and ``state_dict``
look as with the per-parameter loop), and a step gathers the chunk's gradients and parameters
into one array each, runs the optimizer's own elementwise ``_update`` on them and copies the
parameters back. A larger parameter is a chunk of its own, updated in place as before. The
operations are elementwise, so every value is the one the per-parameter loop computes, bit for
bit.

A plan is rebuilt (state copied into new buffers, the state tensors pointed at them) whenever the
state is no longer the plan's: after ``load_state_dict``, or after per-parameter steps.
"""
import numpy as np

from .. import _jit, _threads
from ..ops.elementwise.arithmetic import _scaled_add_float32, fused_add_scaled
from ..tensor import Tensor

__all__ = ["FlatPlan", "dense_gradients"]

# A parameter this large is updated on its own: packing it would only add the copies.
SOLO_ELEMENTS = 1 << 14
# Elements per packed chunk: the update's five or so arrays of a chunk stay within cache.
CHUNK_ELEMENTS = 1 << 15


class _Chunk:
    """The parameters ``indices`` of a plan, their ``offsets`` in the chunk's flat arrays and
    the chunk's flat state (the dict given to ``_update``)."""

    __slots__ = ("indices", "offsets", "state", "known", "data", "gradient", "pieces")

    def __init__(self, indices, offsets):
        self.indices = indices
        self.offsets = offsets
        self.state = {}
        self.known = {}  # key -> the flat state tensor whose views the parameters hold
        self.data = None  # the gathered parameters and gradients of a packed chunk
        self.gradient = None
        self.pieces = ()  # views of ``data`` shaped like each parameter

    def pack(self, shapes, dtype):
        """Allocate the gather buffers of a chunk of several parameters."""
        self.data = np.empty(self.offsets[-1], dtype)
        self.gradient = np.empty(self.offsets[-1], dtype)
        self.pieces = tuple(self.data[begin:end].reshape(shapes[index]) for index, begin, end
                            in zip(self.indices, self.offsets, self.offsets[1:]))


class FlatPlan:
    """One parameter group's flat state: chunks, the step counts, and what each parameter's
    state must still hold for the plan to be valid."""

    def __init__(self, group, params, dtype):
        self.group = group
        self.params = tuple(params)
        self.shapes = tuple(param._data.shape for param in params)
        self.dtype = dtype
        self.steps = None  # each parameter's 'step' is a 0-d view of this array
        self.chunks = _split(self.shapes)
        for chunk in self.chunks:
            if len(chunk.indices) > 1:
                chunk.pack(self.shapes, dtype)
        self.param_states = [{} for _ in params]
        # Per parameter: the state dict it must have in ``optimizer.state`` (None: no entry)
        # and the (key, tensor, array) entries that dict must still hold.
        self.expected = [None for _ in params]
        self.entries = [() for _ in params]

    # ---- building ----------------------------------------------------------------------------
    @classmethod
    def build(cls, optimizer, group, options, state):
        """A plan for ``group`` (every parameter with a dense gradient of the parameters' one
        dtype, see ``dense_gradients``), or None when its state cannot be made flat: a partly
        started group, step counts that differ, state that is not shaped like the parameters."""
        params = group["params"]
        dtype = params[0]._data.dtype
        param_states = [state.get(param) for param in params]
        if not any(param_states):
            plan = cls(group, params, dtype)
            for chunk in plan.chunks:
                optimizer._init_state(chunk.state, np.empty(chunk.offsets[-1], dtype), options)
            if not plan._adopt_fresh():
                return None
        elif all(param_states) and _flat_states(params, param_states, dtype):
            plan = cls(group, params, dtype)
            plan._adopt_existing(param_states)
        else:
            return None
        plan._distribute(state)
        return plan

    def _adopt_fresh(self):
        """After ``_init_state`` on the chunks: one array of step counts (the chunks' 'step'
        tensors become views of it); False if the fresh state is not flat."""
        for chunk in self.chunks:
            for key, value in chunk.state.items():
                if not _flat_value(key, value, (chunk.offsets[-1],), self.dtype):
                    return False
        first = self.chunks[0].state.get("step")
        if first is not None:
            self.steps = np.full(len(self.params), first._data, dtype=first._data.dtype)
            for chunk in self.chunks:
                chunk.state["step"] = Tensor._wrap(self.steps[chunk.indices[0], ...])
        return True

    def _adopt_existing(self, param_states):
        """Copy the per-parameter state (checked by ``_flat_states``) into flat buffers."""
        keys = list(param_states[0])
        if "step" in keys:
            self.steps = np.array([param_state["step"]._data for param_state in param_states])
        for chunk in self.chunks:
            for key in keys:
                if key == "step":
                    flat = self.steps[chunk.indices[0], ...]
                else:
                    flat = np.concatenate([param_states[index][key]._data
                                           for index in chunk.indices], axis=None)
                chunk.state[key] = Tensor._wrap(flat)
        # The parameters' own dicts and tensors are kept (their tensors pointed at the buffers
        # by _distribute), so that references taken earlier stay live.
        self.param_states = param_states

    def _distribute(self, state):
        """Point every parameter's state tensors at views of the chunks' flat state (tensors
        that ``_update`` created, as SGD's first momentum buffer, included) and enter each
        non-empty parameter state in ``state``."""
        for chunk in self.chunks:
            for key, flat in chunk.state.items():
                if chunk.known.get(key) is flat:
                    continue
                chunk.known[key] = flat
                offsets = chunk.offsets
                for position, index in enumerate(chunk.indices):
                    if key == "step":
                        view = self.steps[index, ...]
                    else:
                        view = flat._data[offsets[position]:offsets[position + 1]]
                        view = view.reshape(self.shapes[index])
                    param_state = self.param_states[index]
                    tensor = param_state.get(key)
                    if tensor is None:
                        tensor = param_state[key] = Tensor._wrap(view)
                    else:
                        tensor._data = view
        for index, (param, param_state) in enumerate(zip(self.params, self.param_states)):
            if param_state:
                state[param] = param_state
                self.expected[index] = param_state
                self.entries[index] = tuple((key, tensor, tensor._data)
                                            for key, tensor in param_state.items())

    # ---- stepping ----------------------------------------------------------------------------
    def gradients(self, group, state):
        """The gradient arrays of the group if the plan still holds for it and its state, else
        None (the plan must be rebuilt, or the group take the per-parameter loop)."""
        params = group["params"]
        if group is not self.group or len(params) != len(self.params):
            return None
        gradients = []
        dtype = self.dtype
        for param, planned, shape, expected, entries in zip(
                params, self.params, self.shapes, self.expected, self.entries):
            grad = param._grad
            if param is not planned or grad is None:
                return None
            array = grad._data
            data = param._data
            if (type(array) is not np.ndarray or array.shape != shape or data.shape != shape
                    or array.dtype != dtype or data.dtype != dtype):
                return None
            gradients.append(array)
            current = state.get(param)
            if expected is None:
                if current:
                    return None
                continue
            if current is not expected or len(current) != len(entries):
                return None
            for key, tensor, state_array in entries:
                if current.get(key) is not tensor or tensor._data is not state_array:
                    return None
        return gradients

    def steps_agree(self):
        """Every parameter at the same step count (per-parameter steps may have moved some)."""
        if self.steps is None:
            return True
        counts = self.steps.tolist()
        return counts.count(counts[0]) == len(counts)

    def step(self, optimizer, gradients, options, weight_decay, decoupled, maximize):
        """One update of every parameter, chunk by chunk, through ``optimizer._update``; the
        chunks are independent, so large groups spread them over ember's threads."""
        if self.steps is not None:
            self.steps += 1
        params = self.params
        chunks = self.chunks

        def update(first, last):
            for chunk in chunks[first:last]:
                _update_chunk(chunk, params, optimizer, gradients, options, weight_decay,
                              decoupled, maximize)

        total = sum(chunk_elements(chunk, self.shapes) for chunk in chunks)
        _threads.run(update, _threads.row_ranges(
            len(chunks), _threads.chunk_count(total, rows=len(chunks))))
        for param in params:
            param._bump_version()
        if any(len(chunk.state) != len(chunk.known) for chunk in chunks):
            self._distribute(optimizer.state)  # after all chunks: state keeps parameter order


# Elements per slice of add_scaled_'s float64 scratch, small enough to stay in cache between
# its three passes.
_SCALED_ADD_SLICE = 16384


def add_scaled_(target, values, scale):
    """target += scale * values with one rounding, as PyTorch's add_(values, alpha=scale) on the
    CPU (a fused multiply-add): float32 through float64, where the product is exact. Rounding
    the product first moves a few percent of the elements by an ulp per step, which lr=5 SGD
    (the transformer tutorial's) amplifies. In place; returns ``target``."""
    if type(target) is not np.ndarray:  # a NumPy scalar (the negated 0-d gradient)
        target = np.array(target)
    if target.dtype != np.float32:
        target += values * target.dtype.type(scale)
        return target
    if target.flags.c_contiguous and values.flags.c_contiguous and \
            values.dtype == np.float32 and values.shape == target.shape:
        if _scaled_add_float32.compiled() is not None:  # one pass, the values of the slices
            return fused_add_scaled(target, values, scale, out=target)
        flat_target = target.reshape(-1)
        flat_values = values.reshape(-1)
        for start in range(0, flat_target.size, _SCALED_ADD_SLICE):  # float64 kept in cache
            stop = min(start + _SCALED_ADD_SLICE, flat_target.size)
            fused_add_scaled(flat_target[start:stop], flat_values[start:stop], scale,
                             out=flat_target[start:stop])
        return target
    target[...] = fused_add_scaled(target, values, scale)
    return target


def add_product_(target, left, right):
    """target += left * right with one rounding, as PyTorch's addcmul_ on the CPU (a fused
    multiply-add of its float32 ``value * tensor1`` and ``tensor2``): float32 through float64,
    where the product is exact. In place; returns ``target``."""
    if target.dtype != np.float32:
        target += left * right
        return target
    if target.flags.c_contiguous and left.flags.c_contiguous and right.flags.c_contiguous and \
            left.dtype == right.dtype == np.float32 and left.shape == right.shape == target.shape:
        compiled = _add_product_float32.compiled()
        if compiled is not None:  # one pass, the same values as below
            compiled(target.reshape(-1), left.reshape(-1), right.reshape(-1))
            return target
    wide = np.multiply(left, right, dtype=np.float64)
    wide += target
    target[...] = wide
    return target


@_jit.kernel
def _add_product_float32(target, left, right):
    # the float32 product is exact in float64; summed and rounded there, then to float32
    for index in range(target.shape[0]):
        target[index] = target[index] + np.float64(left[index]) * np.float64(right[index])


def chunk_elements(chunk, shapes):
    """How many elements a chunk updates."""
    if chunk.data is not None:
        return chunk.data.size
    return int(np.prod(shapes[chunk.indices[0]]))


def _update_chunk(chunk, params, optimizer, gradients, options, weight_decay, decoupled,
                  maximize):
    """One chunk's update: gather (a packed chunk), decay, ``optimizer._update``, scatter."""
    indices = chunk.indices
    flat_data = chunk.data
    if flat_data is None:
        data = params[indices[0]]._data
        # A strided parameter's reshape is a copy: the update goes back through copyto.
        copied = not data.flags.c_contiguous
        flat_data = data.reshape(-1)
        flat_gradient = gradients[indices[0]].reshape(-1)
        if maximize:
            flat_gradient = -flat_gradient
    else:
        np.concatenate([params[index]._data for index in indices], axis=None, out=flat_data)
        flat_gradient = np.concatenate([gradients[index] for index in indices], axis=None,
                                       out=chunk.gradient)
        if maximize:
            np.negative(flat_gradient, out=flat_gradient)
    if weight_decay != 0:
        if decoupled:
            flat_data *= 1 - options.lr * weight_decay
        else:
            flat_gradient = add_scaled_(flat_gradient.copy(), flat_data, weight_decay)
    optimizer._update(flat_data, flat_gradient, chunk.state, options)
    if chunk.data is not None:
        for index, piece in zip(indices, chunk.pieces):
            np.copyto(params[index]._data, piece)
    elif copied:
        np.copyto(data, flat_data.reshape(data.shape))


def dense_gradients(params):
    """Each parameter's gradient array when all are dense arrays of the parameters' one floating
    dtype and no parameter is listed twice, else None."""
    if not params or len({id(param) for param in params}) != len(params):
        return None
    dtype = params[0]._data.dtype
    if dtype.kind not in "fc":
        return None
    gradients = []
    for param in params:
        grad = param._grad
        if grad is None:
            return None
        array = grad._data
        data = param._data
        if (type(array) is not np.ndarray or array.shape != data.shape or array.dtype != dtype
                or data.dtype != dtype):
            return None
        gradients.append(array)
    return gradients


def _flat_states(params, param_states, dtype):
    """Whether existing per-parameter states can move into flat buffers: the same keys in each,
    arrays shaped like their parameter and of its dtype, one 'step' count of one dtype."""
    keys = list(param_states[0])
    for param, param_state in zip(params, param_states):
        if list(param_state) != keys:
            return False
        for key, value in param_state.items():
            if not _flat_value(key, value, param._data.shape, dtype):
                return False
    if "step" in keys:
        first = param_states[0]["step"]._data
        for param_state in param_states:
            step = param_state["step"]._data
            if step.dtype != first.dtype or step != first:
                return False
    return True


def _flat_value(key, value, shape, dtype):
    """A state value the flat layout can hold: a 0-d 'step' tensor, or a tensor of ``shape``
    and ``dtype``."""
    if not isinstance(value, Tensor):
        return False
    if key == "step":
        return value._data.ndim == 0
    return value._data.shape == shape and value._data.dtype == dtype


def _split(shapes):
    """Chunks: each parameter of SOLO_ELEMENTS or more alone, the others packed in order into
    chunks of up to CHUNK_ELEMENTS elements."""
    chunks = []
    indices = []
    offsets = [0]
    for index, shape in enumerate(shapes):
        size = 1
        for dimension in shape:
            size *= dimension
        if size >= SOLO_ELEMENTS:
            chunks.append(_Chunk([index], [0, size]))
            continue
        if indices and offsets[-1] + size > CHUNK_ELEMENTS:
            chunks.append(_Chunk(indices, offsets))
            indices = []
            offsets = [0]
        indices.append(index)
        offsets.append(offsets[-1] + size)
    if indices:
        chunks.append(_Chunk(indices, offsets))
    return chunks
