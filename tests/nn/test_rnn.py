"""RNN, LSTM, GRU and their cells against torch: state_dict, outputs, final states, gradients."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from ember import _jit, nn
from ember.autograd.gradcheck import gradcheck, gradgradcheck
from ember.nn._kernels import recurrent
from ember.nn._kernels.recurrent import STEPS, Recurrence
from ember.ops import index as index_ops
from ember.ops import shape as shape_ops
from tests.conftest import assert_close, assert_raises_like_torch, float64_tensor
from tests.nn.higher_order import assert_derivatives_match_torch, random_arrays

LAYERS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
CELLS = {"RNNCell": nn.RNNCell, "LSTMCell": nn.LSTMCell, "GRUCell": nn.GRUCell}


def _load_torch_weights(ember_module, torch_module):
    state = {name: ember.tensor(value.detach().numpy())
             for name, value in torch_module.state_dict().items()}
    ember_module.load_state_dict(state)


def _pair(torch, name, *args, **kwargs):
    torch_module = getattr(torch.nn, name)(*args, **kwargs)
    ember_module = getattr(nn, name)(*args, **kwargs)
    _load_torch_weights(ember_module, torch_module)
    return torch_module, ember_module


def _leaves(torch, shape, seed):
    array = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return (torch.tensor(array, requires_grad=True),
            ember.tensor(array, requires_grad=True))


def _flatten_results(result):
    """output, h_n / output, (h_n, c_n) / h / (h, c) as a flat list."""
    flat = []
    for item in result if isinstance(result, tuple) else (result,):
        flat.extend(item if isinstance(item, tuple) else (item,))
    return flat


def _compare_forward_backward(torch, torch_module, ember_module, torch_args, ember_args,
                              torch_leaves, ember_leaves):
    torch_results = _flatten_results(torch_module(*torch_args))
    ember_results = _flatten_results(ember_module(*ember_args))
    assert len(torch_results) == len(ember_results)
    torch_loss = 0
    ember_loss = 0
    for index, (torch_result, ember_result) in enumerate(zip(torch_results, ember_results)):
        assert_close(ember_result, torch_result, rtol=1e-5, atol=1e-5)
        weights = np.random.default_rng(100 + index).standard_normal(
            tuple(torch_result.shape)).astype(np.float32)
        torch_loss = torch_loss + (torch_result * torch.tensor(weights)).sum()
        ember_loss = ember_loss + (ember_result * ember.tensor(weights)).sum()
    torch_loss.backward()
    ember_loss.backward()
    for torch_leaf, ember_leaf in zip(torch_leaves, ember_leaves):
        assert_close(ember_leaf.grad, torch_leaf.grad, rtol=1e-4, atol=1e-5)
    torch_parameters = dict(torch_module.named_parameters())
    for name, parameter in ember_module.named_parameters():
        assert_close(parameter.grad, torch_parameters[name].grad, rtol=1e-4, atol=1e-5)


LAYER_CONFIGS = [
    dict(kwargs={}, batched=True, initial=False),
    dict(kwargs={}, batched=True, initial=True),
    dict(kwargs=dict(num_layers=2, bidirectional=True), batched=True, initial=True),
    dict(kwargs=dict(num_layers=2, batch_first=True), batched=True, initial=False),
    dict(kwargs=dict(bidirectional=True, batch_first=True, bias=False), batched=True,
         initial=True),
    dict(kwargs=dict(num_layers=2, dropout=0.0), batched=False, initial=True),
    dict(kwargs=dict(bidirectional=True), batched=False, initial=False),
]
MODES = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {})]


@pytest.fixture(params=["compiled", "numpy"])
def kernels(request):
    """Runs a test with the optional compiled kernels (when numba is present) and without."""
    if request.param == "compiled":
        yield
        return
    with _jit.disabled():
        yield


@pytest.mark.parametrize("name, mode_kwargs", MODES, ids=["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("config", LAYER_CONFIGS, ids=range(len(LAYER_CONFIGS)))
def test_layer_matches_torch(torch, kernels, name, mode_kwargs, config):
    input_size, hidden_size, length, batch = 3, 4, 5, 2
    kwargs = dict(config["kwargs"], **mode_kwargs)
    torch_module, ember_module = _pair(torch, name, input_size, hidden_size, **kwargs)
    torch_module.train()
    ember_module.train()
    num_states = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    if not config["batched"]:
        input_shape = (length, input_size)
        state_shape = (num_states, hidden_size)
    elif kwargs.get("batch_first"):
        input_shape = (batch, length, input_size)
        state_shape = (num_states, batch, hidden_size)
    else:
        input_shape = (length, batch, input_size)
        state_shape = (num_states, batch, hidden_size)
    torch_x, ember_x = _leaves(torch, input_shape, 1)
    torch_leaves, ember_leaves = [torch_x], [ember_x]
    torch_args, ember_args = [torch_x], [ember_x]
    if config["initial"]:
        torch_h, ember_h = _leaves(torch, state_shape, 2)
        torch_leaves.append(torch_h)
        ember_leaves.append(ember_h)
        if name == "LSTM":
            torch_c, ember_c = _leaves(torch, state_shape, 3)
            torch_leaves.append(torch_c)
            ember_leaves.append(ember_c)
            torch_args.append((torch_h, torch_c))
            ember_args.append((ember_h, ember_c))
        else:
            torch_args.append(torch_h)
            ember_args.append(ember_h)
    _compare_forward_backward(torch, torch_module, ember_module, torch_args, ember_args,
                              torch_leaves, ember_leaves)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("initial", [True, False])
def test_cell_matches_torch(torch, kernels, name, batched, initial):
    input_size, hidden_size, batch = 3, 4, 2
    torch_module, ember_module = _pair(torch, name, input_size, hidden_size)
    torch_x, ember_x = _leaves(torch, (batch, input_size) if batched else (input_size,), 1)
    state_shape = (batch, hidden_size) if batched else (hidden_size,)
    torch_leaves, ember_leaves = [torch_x], [ember_x]
    torch_args, ember_args = [torch_x], [ember_x]
    if initial:
        torch_h, ember_h = _leaves(torch, state_shape, 2)
        torch_leaves.append(torch_h)
        ember_leaves.append(ember_h)
        if name == "LSTMCell":
            torch_c, ember_c = _leaves(torch, state_shape, 3)
            torch_leaves.append(torch_c)
            ember_leaves.append(ember_c)
            torch_args.append((torch_h, torch_c))
            ember_args.append((ember_h, ember_c))
        else:
            torch_args.append(torch_h)
            ember_args.append(ember_h)
    _compare_forward_backward(torch, torch_module, ember_module, torch_args, ember_args,
                              torch_leaves, ember_leaves)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstm_cell_odd_shapes_and_strided_states_match_torch(torch, kernels, dtype):
    """One input feature (the outer-product projection), odd sizes, states that are strided
    views, the cell state unused by the loss in one step and the hidden state in another."""
    torch_module = torch.nn.LSTMCell(1, 5, dtype=getattr(torch, dtype))
    ember_module = nn.LSTMCell(1, 5, dtype=getattr(ember, dtype))
    _load_torch_weights(ember_module, torch_module)
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(shape).astype(dtype) for shape in ((3, 1), (5, 3), (5, 3))]
    torch_leaves = [torch.tensor(array, requires_grad=True) for array in arrays]
    ember_leaves = [ember.tensor(array, requires_grad=True) for array in arrays]
    results = []
    for library, (x, hidden, cell), module in ((torch, torch_leaves, torch_module),
                                              (ember, ember_leaves, ember_module)):
        first_hidden, first_cell = module(x, (hidden.t(), cell.t()))
        second_hidden, second_cell = module(x * 2, (first_hidden, first_cell))
        loss = (first_cell * 3).sum() + (second_hidden ** 2).sum()
        loss.backward()
        results.append([first_hidden, first_cell, second_hidden, second_cell])
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    for ember_value, torch_value in zip(results[1], results[0]):
        assert_close(ember_value, torch_value, rtol=tolerance, atol=tolerance)
    for ember_leaf, torch_leaf in zip(ember_leaves, torch_leaves):
        assert_close(ember_leaf.grad, torch_leaf.grad, rtol=10 * tolerance, atol=tolerance)
    torch_parameters = dict(torch_module.named_parameters())
    for name, parameter in ember_module.named_parameters():
        assert_close(parameter.grad, torch_parameters[name].grad, rtol=10 * tolerance,
                     atol=tolerance)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("given", ["both", "hidden", "cell"])
def test_lstm_step_compiled_equals_numpy(dtype, given):
    """The compiled LSTM step kernels compute the NumPy path's values (same operations in the
    same order), for a strided cell state and a missing gradient."""
    if not _jit.available():
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(3)
    input_gates, hidden_gates = rng.standard_normal((2, 7, 20)).astype(dtype) * 3
    cell = rng.standard_normal((5, 7)).astype(dtype).T
    grad_hidden = rng.standard_normal((7, 5)).astype(dtype) if given != "cell" else None
    grad_cell = rng.standard_normal((7, 5)).astype(dtype) if given != "hidden" else None

    def run():
        new_hidden, new_cell, saved = STEPS["LSTM"].forward(np, input_gates, hidden_gates, None,
                                                            cell)
        grads = STEPS["LSTM"].backward(np, grad_hidden, grad_cell, saved, None, cell)
        return [new_hidden, new_cell, *saved, grads[0], grads[3]]

    compiled = run()
    with _jit.disabled():
        reference = run()
    tolerance = 1e-6 if dtype == np.float32 else 1e-12
    for value, expected in zip(compiled, reference):
        assert value.dtype == dtype
        np.testing.assert_allclose(value, expected, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 5), (1, 1), (33, 17)])
def test_gru_step_compiled_equals_numpy_bit_for_bit(dtype, shape):
    """The compiled GRU step passes repeat the NumPy path's products in their order: the same
    bits, with the hidden gates' new part a strided column slice and a strided state."""
    if not _jit.available():
        pytest.skip("numba is not installed")
    batch, size = shape
    rng = np.random.default_rng(size)
    input_gates, hidden_gates = rng.standard_normal((2, batch, 3 * size)).astype(dtype) * 3
    hidden = rng.standard_normal((size, batch)).astype(dtype).T
    grad = rng.standard_normal((batch, size)).astype(dtype)

    output, _, saved = STEPS["GRU"].forward(np, input_gates, hidden_gates, hidden, None)
    # the forward's compiled passes around tanh, against the NumPy formula on its sigmoids
    reset_update, new, _ = saved
    new_reference = np.tanh(input_gates[:, 2 * size:]
                            + reset_update[:, :size] * hidden_gates[:, 2 * size:])
    output_reference = new_reference + reset_update[:, size:] * (hidden - new_reference)

    def run():
        return STEPS["GRU"].backward(np, grad, None, saved, hidden, None)[:3]

    compiled = [new, output, *run()]
    with _jit.disabled():
        reference = [new_reference, output_reference, *run()]
    for value, expected in zip(compiled, reference):
        assert value.dtype == dtype and value.shape == expected.shape
        np.testing.assert_array_equal(value, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias, bidirectional, used", [
    (True, False, "all"), (False, True, "all"), (True, True, "states"), (True, False, "output"),
])
def test_lstm_sequence_path_equals_step_path(monkeypatch, dtype, bias, bidirectional, used):
    """A padded LSTM layer run on whole-sequence buffers (recurrent._lstm_sequence) gives the
    per-step loop's outputs, states and gradients bit for bit, with and without grad."""
    if not _jit.available():
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(5)
    layer = nn.LSTM(3, 5, num_layers=2, bias=bias, bidirectional=bidirectional).to(
        ember.float64 if dtype == np.float64 else ember.float32)
    x_array = rng.standard_normal((18, 4, 3)).astype(dtype)
    states = rng.standard_normal((2, 2 * (2 if bidirectional else 1), 4, 5)).astype(dtype)

    def run():
        x = ember.tensor(x_array, requires_grad=True)
        h0, c0 = (ember.tensor(state, requires_grad=True) for state in states)
        output, (hidden, cell) = layer(x, (h0, c0))
        loss = {"all": output.sin().sum() + (hidden * cell).sum(), "states": hidden.sum()
                + cell.tanh().sum(), "output": (output * output).sum()}[used]
        loss.backward()
        with ember.no_grad():
            again = layer(x, (h0, c0))
        values = [output, hidden, cell, x.grad, h0.grad, c0.grad, again[0], *again[1]]
        values += [parameter.grad for parameter in layer.parameters()]
        layer.zero_grad()
        return [value.detach().numpy().copy() for value in values]

    calls = []
    sequence = recurrent._lstm_sequence
    monkeypatch.setattr(recurrent, "_lstm_sequence",
                        lambda *arguments: calls.append(1) or sequence(*arguments))
    fast = run()
    assert calls  # the whole-sequence path ran
    monkeypatch.setattr(recurrent, "_lstm_sequence_applies", lambda *arguments: False)
    stepped = run()
    for value, expected in zip(fast, stepped):
        assert value.dtype == dtype
        np.testing.assert_array_equal(value, expected)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_under_autocast_match_torch(torch, name):
    """Under CPU autocast the cells project in bfloat16 and keep the state's dtype: PyTorch's
    output dtypes, and its values to bfloat16's precision."""
    torch_module, ember_module = _pair(torch, name, 3, 4)
    torch_x, ember_x = _leaves(torch, (2, 3), 1)
    outputs = []
    for library, module, x in ((torch, torch_module, torch_x), (ember, ember_module, ember_x)):
        with library.autocast("cpu"):
            result = module(x)
        outputs.append(result[0] if name == "LSTMCell" else result)
        outputs[-1].float().sum().backward()
    expected, actual = outputs
    assert str(actual.dtype) == str(expected.dtype).replace("torch.", "ember.")
    assert_close(actual.float(), expected.float(), rtol=1.6e-2, atol=1.6e-2)
    assert_close(ember_x.grad, torch_x.grad, rtol=3e-2, atol=3e-2)


def test_cell_options_match_torch(torch):
    torch_module, ember_module = _pair(torch, "RNNCell", 3, 4, bias=False, nonlinearity="relu")
    torch_x, ember_x = _leaves(torch, (2, 3), 1)
    _compare_forward_backward(torch, torch_module, ember_module, [torch_x], [ember_x],
                              [torch_x], [ember_x])
    for name in ("LSTMCell", "GRUCell"):
        torch_module, ember_module = _pair(torch, name, 3, 4, bias=False)
        torch_x, ember_x = _leaves(torch, (2, 3), 1)
        _compare_forward_backward(torch, torch_module, ember_module, [torch_x], [ember_x],
                                  [torch_x], [ember_x])


@pytest.mark.parametrize("layer_name, cell_name", [("LSTM", "LSTMCell"), ("GRU", "GRUCell"),
                                                   ("RNN", "RNNCell")])
def test_a_sequence_loop_of_cells_matches_the_layer(layer_name, cell_name):
    """A cell stepped over time (one node per step) equals the one-layer recurrence (one node
    for the sequence) with the same weights, in values and in every gradient."""
    layer = getattr(nn, layer_name)(3, 4, dtype=ember.float64)
    cell = getattr(nn, cell_name)(3, 4, dtype=ember.float64)
    cell.load_state_dict({name[:-3]: value for name, value in layer.state_dict().items()})
    x = float64_tensor((6, 2, 3), seed=4)
    output, final = layer(x)
    lstm = layer_name == "LSTM"
    state = (ember.zeros(2, 4, dtype=ember.float64),) * (2 if lstm else 1)
    outputs = []
    for step in range(6):
        state = cell(x[step], state) if lstm else (cell(x[step], state[0]),)
        outputs.append(state[0])
    assert_close(ember.stack(outputs), output, rtol=1e-12, atol=1e-12)
    for mine, expected in zip(state, final if lstm else (final,)):
        assert_close(mine, expected[0], rtol=1e-12, atol=1e-12)
    weights = ember.tensor(np.random.default_rng(5).standard_normal((6, 2, 4)))
    layer_grads = ember.autograd.grad((output * weights).sum(), [x] + list(layer.parameters()))
    cell_grads = ember.autograd.grad((ember.stack(outputs) * weights).sum(),
                                     [x] + list(cell.parameters()))
    for mine, expected in zip(layer_grads, cell_grads):
        assert_close(mine, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("kwargs", [{}, dict(num_layers=2, bidirectional=True, bias=False)],
                         ids=["default", "deep"])
def test_state_dict_keys_shapes_and_repr_match_torch(torch, name, kwargs):
    if name.endswith("Cell"):
        kwargs = dict(bias=False) if kwargs else {}
    torch_module = getattr(torch.nn, name)(5, 7, **kwargs)
    ember_module = getattr(nn, name)(5, 7, **kwargs)
    torch_state = torch_module.state_dict()
    ember_state = ember_module.state_dict()
    assert list(ember_state) == list(torch_state)
    for key in torch_state:
        assert tuple(ember_state[key].shape) == tuple(torch_state[key].shape)
        assert ember_state[key].dtype == ember.float32
    assert [name for name, _ in ember_module.named_parameters()] == \
        [name for name, _ in torch_module.named_parameters()]
    assert repr(ember_module) == repr(torch_module)


@pytest.mark.parametrize("kwargs", [
    dict(nonlinearity="relu", num_layers=3, bias=False, batch_first=True, dropout=0.25,
         bidirectional=True),
    dict(num_layers=2, dropout=0.5),
])
def test_repr_with_options_matches_torch(torch, kwargs):
    assert repr(nn.RNN(2, 3, **kwargs)) == repr(torch.nn.RNN(2, 3, **kwargs))
    kwargs.pop("nonlinearity", None)
    assert repr(nn.LSTM(2, 3, **kwargs)) == repr(torch.nn.LSTM(2, 3, **kwargs))
    assert repr(nn.GRU(2, 3, **kwargs)) == repr(torch.nn.GRU(2, 3, **kwargs))
    assert repr(nn.RNNCell(2, 3, False, "relu")) == repr(torch.nn.RNNCell(2, 3, False, "relu"))


def test_positional_nonlinearity_and_all_weights():
    module = nn.RNN(2, 3, 2, "relu", False)
    assert module.nonlinearity == "relu" and module.num_layers == 2 and module.bias is False
    assert [[tuple(weight.shape) for weight in weights] for weights in module.all_weights] == \
        [[(3, 2), (3, 3)], [(3, 3), (3, 3)]]
    module.flatten_parameters()


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
def test_default_init_is_uniform_within_one_over_sqrt_hidden(name):
    hidden_size = 16
    module = getattr(nn, name)(32, hidden_size)
    bound = 1 / math.sqrt(hidden_size)
    values = np.concatenate([parameter.detach().numpy().ravel()
                             for parameter in module.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    # uniform on [-b, b]: mean 0, std b / sqrt(3); spread reaches both ends
    assert abs(values.mean()) < 0.05 * bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert values.min() < -0.95 * bound and values.max() > 0.95 * bound


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_float64_gradcheck(name):
    module = getattr(nn, name)(2, 3, num_layers=2, bidirectional=True, dtype=ember.float64)
    x = float64_tensor((3, 2, 2), seed=1)
    hidden = float64_tensor((4, 2, 3), seed=2)
    if name == "LSTM":
        cell = float64_tensor((4, 2, 3), seed=3)

        def run(x, hidden, cell):
            output, (final_hidden, final_cell) = module(x, (hidden, cell))
            return output, final_hidden, final_cell

        assert gradcheck(run, (x, hidden, cell))
    else:
        assert gradcheck(lambda x, hidden: module(x, hidden), (x, hidden))


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_float64_gradcheck(name):
    module = getattr(nn, name)(2, 3, dtype=ember.float64)
    x = float64_tensor((2, 2), seed=1)
    hidden = float64_tensor((2, 3), seed=2)
    if name == "LSTMCell":
        cell = float64_tensor((2, 3), seed=3)
        assert gradcheck(lambda x, hidden, cell: module(x, (hidden, cell)), (x, hidden, cell))
    else:
        assert gradcheck(module, (x, hidden))


def test_float64_gradcheck_of_parameters():
    """Parameter gradients, through a float64 module whose weights are the checked inputs."""
    module = nn.GRU(2, 3, dtype=ember.float64)
    names = [name for name, _ in module.named_parameters()]
    x = float64_tensor((3, 2, 2), seed=1)

    def run(*weights):
        for name, weight in zip(names, weights):
            module._parameters[name] = weight
        output, final_hidden = module(x)
        return output

    weights = [float64_tensor(tuple(parameter.shape), seed=index + 5)
               for index, (_, parameter) in enumerate(module.named_parameters())]
    assert gradcheck(run, tuple(weights))


def test_dropout_between_layers_matches_torch_in_eval_mode(torch):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch_module, ember_module = _pair(torch, "LSTM", 3, 4, num_layers=3, dropout=0.5)
    torch_module.eval()
    ember_module.eval()
    torch_x, ember_x = _leaves(torch, (4, 2, 3), 1)
    _compare_forward_backward(torch, torch_module, ember_module, [torch_x], [ember_x],
                              [torch_x], [ember_x])


def test_dropout_between_layers_in_training_has_the_right_statistics():
    """Layer 2 of a relu RNN with identity input weights and no recurrence outputs
    relu(dropout(layer 1)): zeros at rate p, survivors scaled by 1 / (1 - p)."""
    p = 0.3
    size = 64
    module = nn.RNN(size, size, num_layers=2, nonlinearity="relu", bias=False, dropout=p)
    with ember.no_grad():
        for layer in range(2):
            getattr(module, f"weight_ih_l{layer}").copy_(ember.eye(size))
            getattr(module, f"weight_hh_l{layer}").zero_()
    x = ember.rand(20, 8, size) + 0.5
    output, _ = module(x)
    out = output.detach().numpy()
    zero_fraction = (out == 0).mean()
    assert abs(zero_fraction - p) < 0.02
    survivors = out != 0
    np.testing.assert_allclose(out[survivors], x.numpy()[survivors] / (1 - p), rtol=1e-5)
    module.eval()
    assert_close(module(x)[0], x)
    # the last layer's output is never dropped
    single = nn.RNN(size, size, nonlinearity="relu", bias=False)
    single.load_state_dict({"weight_ih_l0": ember.eye(size),
                            "weight_hh_l0": ember.zeros(size, size)})
    assert_close(single(x)[0], x)


def test_no_graph_under_no_grad():
    module = nn.LSTM(3, 4, num_layers=2)
    with ember.no_grad():
        output, (hidden, cell) = module(ember.randn(5, 2, 3))
    assert not output.requires_grad and output.grad_fn is None
    assert not hidden.requires_grad and not cell.requires_grad


def test_only_the_final_state_backpropagates(torch):
    """Unused outputs leave gaps in the per-step gradients."""
    torch_module, ember_module = _pair(torch, "GRU", 3, 4, num_layers=2)
    torch_x, ember_x = _leaves(torch, (5, 2, 3), 1)
    torch_module(torch_x)[1].sum().backward()
    ember_module(ember_x)[1].sum().backward()
    assert_close(ember_x.grad, torch_x.grad, rtol=1e-4, atol=1e-5)


def _errors(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the type and text are what is compared
        return type(error).__name__, str(error)
    return None


@pytest.mark.parametrize("case", [
    ("LSTM", (3, 4), lambda zeros: (zeros(2, 5, 3), (zeros(1, 5, 4), zeros(2, 5, 4)))),
    ("LSTM", (3, 4), lambda zeros: (zeros(2, 5, 3), (zeros(1, 5, 4), zeros(5, 4)))),
    ("LSTM", (3, 4), lambda zeros: (zeros(2, 3), (zeros(1, 1, 4), zeros(1, 1, 4)))),
    ("LSTM", (3, 4), lambda zeros: (zeros(5),)),
    ("LSTM", (3, 4), lambda zeros: (zeros(2, 5, 7),)),
    ("GRU", (3, 4), lambda zeros: (zeros(2, 5, 3), zeros(1, 4, 4))),
    ("GRU", (3, 4), lambda zeros: (zeros(2, 5, 3), zeros(5, 4))),
    ("GRU", (3, 4), lambda zeros: (zeros(2, 3), zeros(1, 1, 4))),
    ("GRU", (3, 4), lambda zeros: (zeros(0, 5, 3),)),
    ("RNN", (3, 4), lambda zeros: (zeros(2, 2, 2, 3),)),
    ("LSTMCell", (3, 4), lambda zeros: (zeros(2, 5),)),
    ("LSTMCell", (3, 4), lambda zeros: (zeros(2, 3), (zeros(2, 5), zeros(2, 4)))),
    ("LSTMCell", (3, 4), lambda zeros: (zeros(2, 3), (zeros(3, 4), zeros(3, 4)))),
    ("LSTMCell", (3, 4), lambda zeros: (zeros(2, 3), (zeros(2, 4), zeros(2, 5)))),
    ("LSTMCell", (3, 4), lambda zeros: (zeros(2, 2, 3),)),
    ("GRUCell", (3, 4), lambda zeros: (zeros(2, 3), zeros(2, 5))),
    ("GRUCell", (3, 4), lambda zeros: (zeros(2, 2, 3),)),
    ("GRUCell", (3, 4), lambda zeros: (zeros(3), zeros(2, 2, 4))),
    ("RNNCell", (3, 4), lambda zeros: (zeros(2, 3), zeros(3, 4))),
], ids=range(19))
def test_forward_errors_match_torch(torch, case):
    name, args, make_inputs = case
    torch_module = getattr(torch.nn, name)(*args)
    ember_module = getattr(nn, name)(*args)
    expected = _errors(lambda: torch_module(*make_inputs(torch.zeros)))
    assert expected is not None
    assert _errors(lambda: ember_module(*make_inputs(ember.zeros))) == expected


@pytest.mark.parametrize("args, kwargs", [
    ((3, 4), dict(dropout=2)),
    ((3, 4), dict(dropout="0.5")),
    ((3, 4), dict(num_layers=0)),
    ((3, 0), {}),
    ((3, 4.0), {}),
    ((3, 4), dict(nonlinearity="gelu")),
    ((3, 4), dict(proj_size=2)),
])
def test_constructor_errors_match_torch(torch, args, kwargs):
    expected = _errors(lambda: torch.nn.RNN(*args, **kwargs))
    assert expected is not None
    assert _errors(lambda: nn.RNN(*args, **kwargs)) == expected


def test_input_dtype_must_match_the_weights_as_torch(torch):
    expected = _errors(lambda: torch.nn.GRU(3, 4)(torch.zeros(2, 1, 3, dtype=torch.float64)))
    error = _errors(lambda: nn.GRU(3, 4)(ember.zeros(2, 1, 3, dtype=ember.float64)))
    assert error == (expected[0], expected[1].replace("torch.", "ember."))


def test_dropout_with_one_layer_warns_as_torch(torch):
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.5)


@pytest.mark.parametrize("kwargs, batched, initial", [
    (dict(proj_size=2), True, True),
    (dict(proj_size=3, num_layers=2, bidirectional=True, batch_first=True), True, True),
    (dict(proj_size=2, num_layers=2, bias=False), False, False),
])
@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
def test_lstm_with_projections_matches_torch(torch, kwargs, batched, initial):
    input_size, hidden_size, proj_size, length, batch = 3, 5, kwargs["proj_size"], 4, 2
    torch_module, ember_module = _pair(torch, "LSTM", input_size, hidden_size, **kwargs)
    assert list(ember_module.state_dict()) == list(torch_module.state_dict())
    assert repr(ember_module) == repr(torch_module)
    num_states = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    if kwargs.get("batch_first"):
        input_shape = (batch, length, input_size)
    else:
        input_shape = (length, batch, input_size) if batched else (length, input_size)
    batch_dims = (batch,) if batched else ()
    torch_x, ember_x = _leaves(torch, input_shape, 1)
    torch_leaves, ember_leaves = [torch_x], [ember_x]
    torch_args, ember_args = [torch_x], [ember_x]
    if initial:
        torch_h, ember_h = _leaves(torch, (num_states,) + batch_dims + (proj_size,), 2)
        torch_c, ember_c = _leaves(torch, (num_states,) + batch_dims + (hidden_size,), 3)
        torch_leaves += [torch_h, torch_c]
        ember_leaves += [ember_h, ember_c]
        torch_args.append((torch_h, torch_c))
        ember_args.append((ember_h, ember_c))
    _compare_forward_backward(torch, torch_module, ember_module, torch_args, ember_args,
                              torch_leaves, ember_leaves)


def test_lstm_projection_state_errors_match_torch(torch):
    torch_module = torch.nn.LSTM(3, 5, proj_size=2)
    ember_module = nn.LSTM(3, 5, proj_size=2)
    for hidden_size, cell_size in ((5, 5), (2, 2)):
        def call(library, module):
            zeros = library.zeros
            return lambda: module(zeros(4, 2, 3), (zeros(1, 2, hidden_size),
                                                   zeros(1, 2, cell_size)))
        expected = _errors(call(torch, torch_module))
        assert expected is not None
        assert _errors(call(ember, ember_module)) == expected
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size should be a positive integer or zero"):
        nn.LSTM(3, 4, proj_size=-1)


def _cell_arguments(mode, projected=False):
    """Float64 arguments of recurrent.Cell: batch 2, input 3, hidden 2 (or an input that is its
    projection already, without weight_ih and bias_ih)."""
    size = 2 * STEPS[mode].gates
    input = float64_tensor((2, size) if projected else (2, 3), low=-2, high=2, seed=1)
    hidden = float64_tensor((2, 2), seed=2)
    cell = float64_tensor((2, 2), seed=3) if mode == "LSTM" else None
    weight_ih = None if projected else float64_tensor((size, 3), seed=4)
    bias_ih = None if projected else float64_tensor((size,), seed=5)
    weight_hh = float64_tensor((size, 2), seed=6)
    bias_hh = float64_tensor((size,), seed=7)
    tensors = [tensor for tensor in (input, hidden, cell, weight_ih, weight_hh, bias_ih, bias_hh)
               if tensor is not None]

    def run(*tensors):
        values = iter(tensors)
        input, hidden = next(values), next(values)
        cell = next(values) if mode == "LSTM" else None
        weight_ih = None if projected else next(values)
        weight_hh = next(values)
        bias_ih = None if projected else next(values)
        return recurrent.Cell.apply(input, hidden, cell, weight_ih, weight_hh, bias_ih,
                                    next(values), mode)

    return run, tuple(tensors)


@pytest.mark.parametrize("projected", [False, True], ids=["weights", "projected"])
@pytest.mark.parametrize("mode", sorted(STEPS))
def test_cell_kernel_float64_gradcheck(mode, projected):
    """The fused cell node (both projections and the step), every output used, or only one of
    the LSTM's."""
    run, tensors = _cell_arguments(mode, projected)
    assert gradcheck(run, tensors)
    if mode == "LSTM":
        assert gradcheck(lambda *args: run(*args)[0], tensors)
        assert gradcheck(lambda *args: run(*args)[1], tensors)


def test_fused_cells_are_stable_for_large_gates(torch):
    torch_module, ember_module = _pair(torch, "LSTM", 3, 4)
    torch_module.weight_ih_l0.data.mul_(200)
    ember_module.weight_ih_l0.data.mul_(200)
    torch_x, ember_x = _leaves(torch, (3, 2, 3), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _compare_forward_backward(torch, torch_module, ember_module, [torch_x], [ember_x],
                                  [torch_x], [ember_x])


@settings(max_examples=15, deadline=None)
@given(name=st.sampled_from(["RNN", "LSTM", "GRU"]), num_layers=st.integers(1, 2),
       bidirectional=st.booleans(), batch_first=st.booleans(), length=st.integers(1, 4),
       batch=st.integers(1, 3), input_size=st.integers(1, 3), hidden_size=st.integers(1, 3),
       packed=st.booleans(), seed=st.integers(0, 1000))
def test_random_configurations_match_torch(name, num_layers, bidirectional, batch_first, length,
                                           batch, input_size, hidden_size, packed, seed):
    torch = pytest.importorskip("torch")
    from ember.nn.utils import rnn as rnn_utils
    kwargs = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    torch_module, ember_module = _pair(torch, name, input_size, hidden_size, **kwargs)
    shape = (batch, length, input_size) if batch_first else (length, batch, input_size)
    torch_x, ember_x = _leaves(torch, shape, seed)
    torch_input, ember_input = torch_x, ember_x
    if packed:
        lengths = np.random.default_rng(seed).integers(1, length + 1, size=batch).tolist()
        torch_input = torch.nn.utils.rnn.pack_padded_sequence(torch_x, lengths, batch_first,
                                                              enforce_sorted=False)
        ember_input = rnn_utils.pack_padded_sequence(ember_x, lengths, batch_first,
                                                     enforce_sorted=False)
    torch_output, torch_final = torch_module(torch_input)
    ember_output, ember_final = ember_module(ember_input)
    if packed:
        torch_output = torch_output.data
        ember_output = ember_output.data
    torch_results = [torch_output] + (list(torch_final) if name == "LSTM" else [torch_final])
    ember_results = [ember_output] + (list(ember_final) if name == "LSTM" else [ember_final])
    for torch_result, ember_result in zip(torch_results, ember_results):
        assert_close(ember_result, torch_result, atol=1e-5)
    sum(result.sum() for result in torch_results).backward()
    sum(result.sum() for result in ember_results).backward()
    assert_close(ember_x.grad, torch_x.grad, rtol=1e-4, atol=1e-5)


def test_hidden_size_one_matches_torch(torch):
    """One unit per gate: the gate slices are single strided columns (NumPy 2.4 miscomputes an
    in-place negative on those, which the fused sigmoid avoids)."""
    for name in ["LSTM", "GRU"]:
        torch_module, ember_module = _pair(torch, name, 2, 1)
        torch_x, ember_x = _leaves(torch, (4, 3, 2), 6)
        _compare_forward_backward(torch, torch_module, ember_module, [torch_x], [ember_x],
                                  [torch_x], [ember_x])


def test_float16_matches_torch(torch):
    torch_module, ember_module = _pair(torch, "LSTM", 3, 5, num_layers=2)
    torch_module.half()
    ember_module.half()
    array = np.random.default_rng(7).standard_normal((4, 2, 3)).astype(np.float16)
    output, (hidden, cell) = ember_module(ember.tensor(array))
    expected, (expected_hidden, expected_cell) = torch_module(torch.tensor(array))
    assert output.dtype == ember.float16
    for mine, theirs in ((output, expected), (hidden, expected_hidden), (cell, expected_cell)):
        assert_close(mine, theirs, rtol=5e-3, atol=5e-3)


# ---- higher-order derivatives (create_graph) -------------------------------------------------
def _double_module(fw, name, *args, **kwargs):
    """A float64 layer with weights from a seeded generator (the same in both frameworks)."""
    module = getattr(fw.nn, name)(*args, **kwargs).double()
    random = np.random.default_rng(8)
    with fw.no_grad():
        for parameter in module.parameters():
            parameter.copy_(fw.tensor(random.uniform(-0.6, 0.6, tuple(parameter.shape))))
    return module


@pytest.mark.parametrize("name, kwargs", [("LSTM", {}), ("GRU", {}), ("RNN", {}),
                                          ("RNN", {"nonlinearity": "relu"}),
                                          ("LSTM", {"bias": False})], ids=str)
def test_layer_second_derivatives_match_torch(torch, name, kwargs):
    """Second derivatives of a two-layer recurrence with respect to its input (through both
    layers' recurrences and projections)."""
    def run(fw, x):
        return _double_module(fw, name, 3, 4, num_layers=2, **kwargs)(x)[0]

    assert_derivatives_match_torch(torch, run, random_arrays([(5, 2, 3)], seed=9), orders=2)


@pytest.mark.parametrize("name", ["LSTMCell", "GRUCell"])
def test_cell_second_derivatives_match_torch(torch, name):
    def run(fw, x, hidden, cell=None):
        module = _double_module(fw, name, 3, 4)
        return module(x, (hidden, cell))[0] if name == "LSTMCell" else module(x, hidden)

    shapes = [(2, 3), (2, 4)] + ([(2, 4)] if name == "LSTMCell" else [])
    assert_derivatives_match_torch(torch, run, random_arrays(shapes, seed=10), orders=2)


def _gradient_penalty_step(fw, array):
    """A WGAN-GP critic step on sequences: the critic's weight gradients of
    score + (|d score / d x|^2 - 1)^2, through the LSTM's double backward."""
    critic = _double_module(fw, "LSTM", 3, 4, num_layers=2)
    head = _double_module(fw, "Linear", 4, 1)
    x = fw.tensor(array, requires_grad=True)
    score = head(critic(x)[0]).sum()
    (grad_x,) = fw.autograd.grad(score, x, create_graph=True)
    penalty = ((grad_x * grad_x).sum() - 1) ** 2
    (score + 10 * penalty).backward()
    return [parameter.grad.numpy() for parameter in
            list(critic.parameters()) + list(head.parameters())]


def test_gradient_penalty_through_lstm_matches_torch(torch):
    array = np.random.default_rng(11).standard_normal((6, 2, 3))
    for ours, theirs in zip(_gradient_penalty_step(ember, array),
                            _gradient_penalty_step(torch, array)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)


def _relu_penalty_grads(fw, name, array, hidden_array):
    """Every input's and parameter's gradient (None where none) of a penalty on d out / d x
    through a relu Elman layer or cell."""
    kwargs = {"num_layers": 2, "bidirectional": True} if name == "RNN" else {}
    module = _double_module(fw, name, 3, 4, nonlinearity="relu", **kwargs)
    x = fw.tensor(array, requires_grad=True)
    hidden = fw.tensor(hidden_array, requires_grad=True)
    output = module(x, hidden)
    output = output[0] if name == "RNN" else output
    (grad_x,) = fw.autograd.grad(output.sum(), x, create_graph=True)
    (grad_x ** 2).sum().backward()
    return [None if tensor.grad is None else tensor.grad.numpy()
            for tensor in [x, hidden] + list(module.parameters())]


@pytest.mark.parametrize("name, shapes", [("RNN", [(5, 2, 3), (4, 2, 4)]),
                                          ("RNNCell", [(2, 3), (2, 4)])])
def test_relu_recurrence_penalty_reaches_input_and_biases_as_zeros_as_torch(torch, name, shapes):
    """PyTorch's relu backward keeps the relu's output, so the penalty's gradient reaches the
    input, the initial state and the biases as zeros (ember gave None)."""
    arrays = random_arrays(shapes, seed=12)
    ours = _relu_penalty_grads(ember, name, *arrays)
    theirs = _relu_penalty_grads(torch, name, *arrays)
    assert [grad is None for grad in ours] == [grad is None for grad in theirs]
    for mine, expected in zip(ours, theirs):
        if expected is not None:
            np.testing.assert_allclose(mine, expected, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH"])
@pytest.mark.parametrize("batch_sizes, reverse",
                         [(None, False), (None, True), ((3, 2, 2, 1), False), ((3, 2, 2, 1), True)],
                         ids=["padded", "reversed", "packed", "packed-reversed"])
def test_recurrence_gradgradcheck(mode, batch_sizes, reverse):
    size = 2 * STEPS[mode].gates
    rows = sum(batch_sizes) if batch_sizes else None
    projections = float64_tensor((rows, size) if rows else (3, 2, size), seed=12)
    batch = batch_sizes[0] if batch_sizes else 2
    hidden = float64_tensor((batch, 2), seed=13)
    cell = float64_tensor((batch, 2), seed=14) if mode == "LSTM" else None
    weight = float64_tensor((size, 2), seed=15)
    bias = float64_tensor((size,), seed=16)

    def run(projections, hidden, weight, bias, *cell):
        return Recurrence.apply(projections, hidden, cell[0] if cell else None, weight, bias,
                                mode, batch_sizes, reverse)

    inputs = (projections, hidden, weight, bias) + ((cell,) if cell is not None else ())
    assert gradgradcheck(run, inputs)


@pytest.mark.parametrize("projected", [False, True], ids=["weights", "projected"])
@pytest.mark.parametrize("mode", sorted(STEPS))
def test_cell_kernel_gradgradcheck(mode, projected):
    run, tensors = _cell_arguments(mode, projected)
    assert gradgradcheck(run, tensors)


# Bidirectional layers concatenate, batch_first transposes, given states are indexed per layer,
# packing gathers rows: these need the shape and index ops' own double backward.
_SHAPE_OPS_DIFFERENTIABLE = all(
    getattr(op, "differentiable_backward", False) for op in (
        shape_ops.Reshape, shape_ops.Permute, shape_ops.Cat, shape_ops.Stack,
        index_ops.BasicIndex, index_ops.AdvancedIndex))


@pytest.mark.skipif(not _SHAPE_OPS_DIFFERENTIABLE,
                    reason="needs the double backward of the shape and index ops")
@pytest.mark.parametrize("name", ["LSTM", "GRU"])
@pytest.mark.parametrize("config", ["bidirectional", "batch_first", "initial", "packed"])
def test_layer_configurations_second_derivatives_match_torch(torch, name, config):
    lstm = name == "LSTM"

    def run(fw, x, hidden, cell):
        module = _double_module(fw, name, 3, 4, num_layers=2, bidirectional=True,
                                batch_first=config == "batch_first")
        if config == "packed":
            packed = fw.nn.utils.rnn.pack_padded_sequence(x, [5, 3], enforce_sorted=False)
            return module(packed)[0].data
        state = None
        if config == "initial":
            state = (hidden, cell) if lstm else hidden
        return module(x, state)[0]

    arrays = random_arrays([(5, 2, 3), (4, 2, 4), (4, 2, 4)], seed=17)
    assert_derivatives_match_torch(torch, run, arrays, orders=2)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("autocast", [False, True])
def test_cell_input_dtype_other_than_the_weights_fails_as_torch(torch, name, autocast):
    """A float64 input to float32 weights: PyTorch's linear refuses it, under autocast too
    (float64 is not cast)."""
    def call(library):
        module = getattr(library.nn, name)(3, 4)
        x = library.zeros(2, 3, dtype=library.float64)
        if not autocast:
            return lambda: module(x)

        def run():
            with library.autocast("cpu"):
                module(x)
        return run

    expected = _errors(call(torch))
    assert expected is not None
    assert _errors(call(ember)) == expected


def test_relu_rnn_gives_positive_zeros_as_torch(torch):
    """relu(negative gates) is +0.0 in PyTorch (a printed hidden state shows 0., not -0.)."""
    rng = np.random.default_rng(3)
    inputs = rng.standard_normal((4, 2, 3))
    for build in (lambda library: library.nn.RNNCell(3, 5, nonlinearity="relu"),
                  lambda library: library.nn.RNN(3, 5, nonlinearity="relu", num_layers=2)):
        outputs = []
        for library in (torch, ember):
            library.manual_seed(0)
            module = build(library).double()
            value = module(library.tensor(inputs[0] if isinstance(
                module, library.nn.RNNCell) else inputs))
            value = value[0] if isinstance(value, tuple) else value
            outputs.append(value.detach().numpy())
        np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-12)
        assert (outputs[1] == 0).any()
        np.testing.assert_array_equal(np.signbit(outputs[1]), np.signbit(outputs[0]))


def _per_sample_recurrent_gradients(fw, kind, dtype, state, ensemble):
    """vmap of grad with respect to a recurrent layer's or cell's parameters: per-sample
    gradients (shared parameters, ``in_dims`` None) or an ensemble's (stacked, ``in_dims`` 0),
    with no initial state, a captured unbatched one or one mapped with the input."""
    fw.manual_seed(0)
    cell = kind.endswith("Cell")
    module = getattr(fw.nn, kind)(3, 4, **({} if cell else {"batch_first": True})).to(dtype)
    params = {name: value.detach() for name, value in module.named_parameters()}
    if ensemble:
        params = {name: value.expand(3, *value.shape).clone() for name, value in params.items()}
    x = (fw.randn(3, 2, 3) if cell else fw.randn(3, 2, 5, 3)).to(dtype)
    state_shape = (2, 4) if cell else (1, 2, 4)
    states = fw.randn((3,) + state_shape).to(dtype)
    lstm = kind.startswith("LSTM")

    def loss(weights, sample, state_sample):
        if state == "captured":
            state_sample = fw.zeros(state_shape, dtype=dtype)
        arguments = (sample,) if state is None else (
            sample, (state_sample, state_sample) if lstm else state_sample)
        out = fw.func.functional_call(module, weights, arguments)
        return (out[0] if isinstance(out, tuple) else out).sum()
    in_dims = (0 if ensemble else None, 0, 0)
    return lambda: fw.func.vmap(fw.func.grad(loss), in_dims=in_dims)(params, x, states)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("state, ensemble", [(None, False), ("captured", False),
                                             ("mapped", False), (None, True)])
def test_vmap_of_grad_over_parameters_runs_or_fails_as_torch(kind, dtype, state, ensemble):
    """PyTorch adds each step's batched input projection in place into the hidden state's
    projection: per-sample gradients with no batched state fail (a float32 LSTM layer runs
    through oneDNN and passes), an ensemble's batched weights pass. ember had run float64
    LSTMs and refused ensembles of every kind."""
    torch = pytest.importorskip("torch")
    theirs = _per_sample_recurrent_gradients(torch, kind, getattr(torch, dtype), state, ensemble)
    ours = _per_sample_recurrent_gradients(ember, kind, getattr(ember, dtype), state, ensemble)
    try:
        expected = theirs()
    except RuntimeError as error:
        with pytest.raises(RuntimeError) as raised:
            ours()
        assert str(raised.value) == str(error)
        return
    got = ours()
    tolerance = 1e-5 if dtype == "float32" else 1e-10
    for name, value in expected.items():
        np.testing.assert_allclose(got[name].numpy(), value.numpy(), rtol=tolerance,
                                   atol=tolerance, err_msg=name)


STATE_DTYPE_CALLS = {
    "rnn": lambda fw, x, h: fw.nn.RNN(3, 4)(x[None], h[None]),
    "rnn_half_state": lambda fw, x, h: fw.nn.RNN(3, 4)(x[None], h[None].half()),
    "rnn_no_bias": lambda fw, x, h: fw.nn.RNN(3, 4, bias=False)(x[None], h[None]),
    "gru_two_layers": lambda fw, x, h: fw.nn.GRU(3, 4, num_layers=2)(x[None], fw.cat([h[None]] * 2)),
    "lstm_onednn": lambda fw, x, h: fw.nn.LSTM(3, 4)(x[None], (h[None], h[None].float())),
    "lstm_onednn_cell_state": lambda fw, x, h: fw.nn.LSTM(3, 4)(x[None], (h[None].float(),
                                                                          h[None])),
    "lstm_projection": lambda fw, x, h: fw.nn.LSTM(3, 4, proj_size=2)(
        x[None], (h[None, :, :2], h[None].float())),
    "lstm_float64": lambda fw, x, h: fw.nn.LSTM(3, 4).double()(x[None].double(),
                                                               (h[None].float(), h[None])),
    "rnn_cell": lambda fw, x, h: fw.nn.RNNCell(3, 4)(x, h),
    "rnn_cell_unbatched": lambda fw, x, h: fw.nn.RNNCell(3, 4)(x[0], h[0]),
    "rnn_cell_no_bias_input": lambda fw, x, h: fw.nn.RNNCell(3, 4, bias=False)(x.double(),
                                                                               h.float()),
    "gru_cell_no_bias": lambda fw, x, h: fw.nn.GRUCell(3, 4, bias=False)(x, h),
    "lstm_cell": lambda fw, x, h: fw.nn.LSTMCell(3, 4)(x, (h, h.float())),
}


@pytest.mark.parametrize("name", list(STATE_DTYPE_CALLS))
def test_state_of_another_dtype_raises_like_torch(torch, name):
    """A hidden state whose dtype is not the weights' fails where PyTorch's first product with
    the weights fails: addmm's message with a bias, mm's without, oneDNN's for an LSTM layer on
    float32 input without projections."""

    def call(fw):
        x = fw.tensor(np.linspace(-1.0, 1.0, 6).reshape(2, 3).astype(np.float32))
        h = fw.zeros(2, 4, dtype=fw.float64)
        return lambda: STATE_DTYPE_CALLS[name](fw, x, h)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_raises_like_torch(call(torch), call(ember), RuntimeError, same_type=True)


def test_lstm_cell_promotes_a_cell_state_of_another_dtype_like_torch(torch):
    """PyTorch's LSTMCell takes c (hx[1]) in another dtype than the weights: both new states
    come out in the promoted dtype."""
    results = []
    theirs = torch.nn.LSTMCell(3, 4)
    ours = nn.LSTMCell(3, 4)
    ours.load_state_dict({key: ember.tensor(value.detach().numpy())
                          for key, value in theirs.state_dict().items()})
    for fw, module in ((torch, theirs), (ember, ours)):
        x = fw.tensor(np.linspace(-1.0, 1.0, 6).reshape(2, 3).astype(np.float32))
        cell = fw.tensor(np.linspace(-1.0, 2.0, 8).reshape(2, 4))
        hidden, new_cell = module(x, (cell.float(), cell))
        assert str(hidden.dtype).endswith("float64") and str(new_cell.dtype).endswith("float64")
        results.append((hidden.detach().numpy(), new_cell.detach().numpy()))
    for mine, expected in zip(results[1], results[0]):
        np.testing.assert_allclose(mine, expected, rtol=1e-6, atol=1e-6)
