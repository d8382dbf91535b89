"""Linear, Bilinear, Identity, Flatten/Unflatten and Embedding: torch parity, gradients, init."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd.gradcheck import gradcheck, gradgradcheck
from tests.conftest import assert_close, assert_raises_like_torch, float64_tensor
from tests.nn.higher_order import assert_derivatives_match_torch, random_arrays


def _load_from_torch(ours, theirs):
    ours.load_state_dict({key: value.detach().numpy() for key, value in
                          theirs.state_dict().items()})


def _pair(torch, array, requires_grad=True):
    ours = ember.tensor(array, requires_grad=requires_grad)
    theirs = torch.tensor(array, requires_grad=requires_grad)
    return ours, theirs


def _check_module(torch, ours, theirs, *arrays, rtol=1e-5, atol=1e-5, training=True):
    """Same outputs and the same gradients for every input and parameter."""
    _load_from_torch(ours, theirs)
    ours.train(training)
    theirs.train(training)
    our_inputs, their_inputs = zip(*[_pair(torch, array) for array in arrays])
    our_out = ours(*our_inputs)
    their_out = theirs(*their_inputs)
    assert_close(our_out, their_out, rtol=rtol, atol=atol)
    weights = np.random.default_rng(3).standard_normal(tuple(their_out.shape)).astype(np.float32)
    (our_out * ember.tensor(weights)).sum().backward()
    (their_out * torch.tensor(weights)).sum().backward()
    for our_input, their_input in zip(our_inputs, their_inputs):
        assert_close(our_input.grad, their_input.grad, rtol=rtol, atol=atol)
    their_parameters = dict(theirs.named_parameters())
    for name, parameter in ours.named_parameters():
        assert_close(parameter.grad, their_parameters[name].grad, rtol=rtol, atol=atol)


def _random(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("shape, in_features, out_features, bias", [
    ((5, 4), 4, 3, True), ((4,), 4, 2, True), ((2, 3, 4), 4, 6, False), ((0, 4), 4, 3, True),
    ((8, 784), 784, 16, True)])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_linear_matches_torch(torch, shape, in_features, out_features, bias, training):
    ours = nn.Linear(in_features, out_features, bias=bias)
    theirs = torch.nn.Linear(in_features, out_features, bias=bias)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _check_module(torch, ours, theirs, _random(shape), rtol=1e-4, training=training)
    assert ours(ember.randn(*shape)).dtype == ember.float32


def test_linear_float64_gradcheck():
    x = float64_tensor((3, 4))
    weight = float64_tensor((2, 4), seed=1)
    bias = float64_tensor((2,), seed=2)
    assert gradcheck(F.linear, (x, weight, bias))
    assert gradcheck(F.linear, (float64_tensor((2, 3, 4), seed=4), weight, None))


def test_linear_saves_only_what_backward_needs():
    weight = nn.Parameter(ember.randn(3, 4))
    frozen_input = ember.randn(5, 4)
    out = F.linear(frozen_input, weight)
    x_saved, weight_saved = out.grad_fn.saved
    assert x_saved is frozen_input._data and weight_saved is None
    with ember.no_grad():
        assert F.linear(frozen_input, weight).grad_fn is None


def test_linear_errors_match_torch(torch):
    ours = nn.Linear(4, 3)
    with pytest.raises(RuntimeError) as our_error:
        ours(ember.randn(2, 5))
    with pytest.raises(RuntimeError) as their_error:
        torch.nn.Linear(4, 3)(torch.randn(2, 5))
    assert str(our_error.value) == str(their_error.value)
    with pytest.raises(RuntimeError, match="must have the same dtype"):
        ours(ember.randn(2, 4, dtype=ember.float64))


@pytest.mark.parametrize("dtypes", [("float64", "float32", None), ("float16", "float32", None),
                                    ("float64", "float32", "float64"),
                                    ("float32", "float64", "float64"),
                                    ("float32", "float32", "float16"),
                                    ("bfloat16", "bfloat16", "float32")])
@pytest.mark.parametrize("shape", [(2, 3), (4, 2, 3), (3,)])
def test_linear_dtype_mismatch_messages_like_torch(torch, dtypes, shape):
    """PyTorch's words: mm's 'expected m1 and m2 ...' without a bias; with one addmm's, the
    bias against the weight first ('self and mat2'), then the input ('mat1 and mat2')."""
    def call(fw):
        input_dtype, weight_dtype, bias_dtype = (None if name is None else getattr(fw, name)
                                                 for name in dtypes)
        bias = None if bias_dtype is None else fw.ones(4, dtype=bias_dtype)
        return lambda: fw.nn.functional.linear(fw.ones(shape, dtype=input_dtype),
                                               fw.ones(4, 3, dtype=weight_dtype), bias)
    assert_raises_like_torch(call(torch), call(ember), RuntimeError)


def test_linear_default_init_statistics():
    fan_in = 400
    layer = nn.Linear(fan_in, 300)
    weight = layer.weight.detach().numpy()
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(weight).max() <= bound
    assert np.abs(weight).max() > 0.99 * bound
    assert abs(weight.var() - 1 / (3 * fan_in)) < 0.03 / (3 * fan_in)
    assert abs(weight.mean()) < 0.01 * bound
    bias = layer.bias.detach().numpy()
    assert np.abs(bias).max() <= bound and bias.std() > 0.4 * bound
    ember.manual_seed(3)
    again = nn.Linear(fan_in, 300)
    ember.manual_seed(3)
    np.testing.assert_array_equal(again.weight.detach().numpy(),
                                  nn.Linear(fan_in, 300).weight.detach().numpy())


def test_linear_dtype_float64():
    layer = nn.Linear(3, 2, dtype=ember.float64)
    assert layer.weight.dtype == ember.float64
    assert layer(ember.randn(4, 3, dtype=ember.float64)).dtype == ember.float64


@pytest.mark.parametrize("batch_shape, bias", [((5,), True), ((2, 3), False), ((), True)])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_bilinear_matches_torch(torch, batch_shape, bias, training):
    ours = nn.Bilinear(3, 4, 2, bias=bias)
    theirs = torch.nn.Bilinear(3, 4, 2, bias=bias)
    assert repr(ours) == repr(theirs)
    _check_module(torch, ours, theirs, _random(batch_shape + (3,)),
                  _random(batch_shape + (4,), seed=1), rtol=1e-4, training=training)
    bound = 1 / math.sqrt(3)
    assert np.abs(ours.weight.detach().numpy()).max() <= bound


def test_bilinear_gradcheck_and_errors():
    inputs = (float64_tensor((3, 2)), float64_tensor((3, 4), seed=1),
              float64_tensor((5, 2, 4), seed=2), float64_tensor((5,), seed=3))
    assert gradcheck(F.bilinear, inputs)
    with pytest.raises(RuntimeError, match="input1 size does not match weight size"):
        F.bilinear(ember.randn(3, 3), ember.randn(3, 4), ember.randn(5, 2, 4))


def test_identity_flatten_unflatten(torch):
    x = ember.randn(2, 3, 4, 5)
    assert nn.Identity(7, key="ignored")(x) is x
    array = _random((2, 3, 4, 5))
    for args in [(), (0,), (1, 2), (2, -1)]:
        assert_close(nn.Flatten(*args)(ember.tensor(array)), torch.nn.Flatten(*args)(
            torch.tensor(array)))
        assert repr(nn.Flatten(*args)) == repr(torch.nn.Flatten(*args))
    unflatten = nn.Unflatten(1, (2, 6))
    assert unflatten(ember.randn(4, 12)).shape == (4, 2, 6)
    assert repr(unflatten) == repr(torch.nn.Unflatten(1, (2, 6)))
    with pytest.raises(TypeError, match="unflattened_size must be tuple of ints"):
        nn.Unflatten(1, (2, 1.5))
    x = ember.randn(2, 3, 4, requires_grad=True)
    nn.Flatten()(x).sum().backward()
    assert np.all(x.grad.numpy() == 1)


@pytest.mark.parametrize("kwargs", [{}, {"padding_idx": 1}, {"padding_idx": -2},
                                    {"scale_grad_by_freq": True, "padding_idx": 0}])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_embedding_matches_torch(torch, kwargs, training):
    ours = nn.Embedding(6, 3, **kwargs).train(training)
    theirs = torch.nn.Embedding(6, 3, **kwargs).train(training)
    assert repr(ours) == repr(theirs)
    _load_from_torch(ours, theirs)
    indices = np.array([[0, 1, 4], [1, 1, 4]])
    our_out = ours(ember.tensor(indices))
    their_out = theirs(torch.tensor(indices))
    assert_close(our_out, their_out)
    weights = _random(our_out.shape)
    (our_out * ember.tensor(weights)).sum().backward()
    (their_out * torch.tensor(weights)).sum().backward()
    assert_close(ours.weight.grad, theirs.weight.grad)


def test_embedding_padding_row_zero_and_without_gradient():
    layer = nn.Embedding(10, 4, padding_idx=3)
    weights = layer.weight.detach().numpy()
    assert np.all(weights[3] == 0)
    rows = np.delete(weights, 3, axis=0)
    assert abs(rows.std() - 1) < 0.35 and abs(rows.mean()) < 0.5  # N(0, 1) init
    out = layer(ember.tensor([3, 3, 1]))
    out.sum().backward()
    assert np.all(layer.weight.grad.numpy()[3] == 0)
    assert np.all(layer.weight.grad.numpy()[1] == 1)


def test_embedding_max_norm_renormalises_used_rows(torch):
    ours = nn.Embedding(5, 3, max_norm=1.0)
    theirs = torch.nn.Embedding(5, 3, max_norm=1.0)
    _load_from_torch(ours, theirs)
    indices = np.array([0, 2, 2])
    assert_close(ours(ember.tensor(indices)), theirs(torch.tensor(indices)), atol=1e-6)
    assert_close(ours.weight, theirs.weight, atol=1e-6)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0])
def test_embedding_max_norm_rows_bit_equal_to_torch(torch, norm_type):
    """The renormalised rows as PyTorch's kernel computes them (the norm in the weight's dtype,
    the scale in float64, then rounded): equal rows of 3.0 gave 0.70710683 instead of
    0.70710677."""
    rows = np.full((4, 2), 3.0, np.float32)
    rows[1] = [0.1, -5.0]
    rows[2] = np.random.default_rng(8).standard_normal(2).astype(np.float32) * 4
    indices = [1, 1, 0, 2]
    weights = []
    for framework in (ember, torch):
        weight = framework.tensor(rows.copy())
        framework.nn.functional.embedding(framework.tensor(indices), weight, max_norm=1.0,
                                          norm_type=norm_type)
        weights.append(weight.numpy())
    if norm_type == 3.0:  # a general p-norm's float32 power sum may differ in its last bit
        np.testing.assert_allclose(weights[0], weights[1], rtol=1e-6)
    else:
        np.testing.assert_array_equal(weights[0], weights[1])


def test_embedding_errors_and_from_pretrained():
    layer = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match="index out of range in self"):
        layer(ember.tensor([4]))
    with pytest.raises(RuntimeError, match="indices"):
        layer(ember.tensor([1.0]))
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(4, 2, padding_idx=4)
    pretrained = nn.Embedding.from_pretrained(ember.ones(3, 2))
    assert not pretrained.weight.requires_grad and pretrained.num_embeddings == 3
    assert nn.Embedding.from_pretrained(ember.ones(3, 2), freeze=False).weight.requires_grad


@pytest.mark.parametrize("freeze", [True, False])
def test_embedding_bag_from_pretrained_matches_torch(torch, freeze):
    table = np.arange(12.0, dtype=np.float32).reshape(6, 2)
    indices, offsets = np.array([1, 2, 4, 5, 0]), np.array([0, 2, 3])
    results = []
    for fw in (torch, ember):
        bag = fw.nn.EmbeddingBag.from_pretrained(fw.tensor(table), freeze=freeze, mode="sum",
                                                 padding_idx=2)
        assert bag.weight.requires_grad is not freeze
        assert bag.padding_idx == 2 and bag.mode == "sum"
        results.append(bag(fw.tensor(indices), fw.tensor(offsets)).detach().numpy())
    np.testing.assert_array_equal(results[1], results[0])
    with pytest.raises(AssertionError, match="expected to be 2-dimensional"):
        nn.EmbeddingBag.from_pretrained(ember.ones(3))


# ---- higher-order derivatives (create_graph) -------------------------------------------------
@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("shapes", [[(5, 3), (4, 3), (4,)], [(2, 5, 3), (4, 3), (4,)],
                                    [(3,), (4, 3)], [(0, 3), (4, 3), (4,)]], ids=str)
def test_linear_second_derivatives_match_torch(torch, shapes, dtype, tolerance):
    assert_derivatives_match_torch(torch, lambda fw, *args: fw.nn.functional.linear(*args),
                                   random_arrays(shapes, dtype), orders=2, rtol=tolerance,
                                   atol=tolerance)


def test_linear_gradgradcheck():
    inputs = (float64_tensor((3, 4)), float64_tensor((2, 4), seed=1), float64_tensor((2,), seed=2))
    assert gradgradcheck(F.linear, inputs)
    assert gradgradcheck(lambda x, w: F.linear(x, w), inputs[:2])


def _maml_outer_gradients(fw, arrays, lr=0.1):
    """MAML: one inner SGD step on a two-layer MLP (squared hidden units) with create_graph,
    then the outer loss's gradient with respect to the initial weights: second derivatives of
    linear."""
    w1, b1, w2, b2, x, target = [fw.tensor(array, requires_grad=index < 4)
                                 for index, array in enumerate(arrays)]

    def loss(weights):
        hidden = fw.nn.functional.linear(x, weights[0], weights[1])
        error = fw.nn.functional.linear(hidden * hidden, weights[2], weights[3]) - target
        return (error * error).sum()

    initial = [w1, b1, w2, b2]
    grads = fw.autograd.grad(loss(initial), initial, create_graph=True)
    adapted = [weight - lr * grad for weight, grad in zip(initial, grads)]
    return [grad.numpy() for grad in fw.autograd.grad(loss(adapted), initial)]


def test_maml_outer_gradients_match_torch(torch):
    random = np.random.default_rng(4)
    arrays = [random.standard_normal(shape) * 0.5 for shape in
              [(5, 3), (5,), (2, 5), (2,), (7, 3), (7, 2)]]
    for ours, theirs in zip(_maml_outer_gradients(ember, arrays),
                            _maml_outer_gradients(torch, arrays)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


# ---- float16 and empty features --------------------------------------------------------------
def test_linear_float16_matches_torch(torch):
    random = np.random.default_rng(5)
    arrays = [random.standard_normal(shape).astype(np.float16) for shape in
              [(6, 40), (7, 40), (7,)]]
    ours = [ember.tensor(array, requires_grad=True) for array in arrays]
    theirs = [torch.tensor(array, requires_grad=True) for array in arrays]
    output = F.linear(*ours)
    expected = torch.nn.functional.linear(*theirs)
    assert output.dtype == ember.float16
    assert_close(output, expected, rtol=2e-3, atol=1e-2)
    output.sum().backward()
    expected.sum().backward()
    for mine, other in zip(ours, theirs):
        assert mine.grad.dtype == ember.float16
        assert_close(mine.grad, other.grad, rtol=2e-3, atol=1e-2)


@pytest.mark.parametrize("in_features, out_features, shape", [(0, 3, (2, 0)), (3, 0, (2, 3)),
                                                              (3, 4, (0, 3)), (3, 4, (2, 0, 3))])
def test_linear_with_empty_dimensions_matches_torch(torch, in_features, out_features, shape):
    theirs = torch.nn.Linear(in_features, out_features)
    ours = nn.Linear(in_features, out_features)
    _load_from_torch(ours, theirs)
    x, tx = _pair(torch, np.ones(shape, np.float32))
    output = ours(x)
    expected = theirs(tx)
    assert_close(output, expected)
    output.sum().backward()
    expected.sum().backward()
    assert_close(x.grad, tx.grad)
    assert_close(ours.weight.grad, theirs.weight.grad)
    assert_close(ours.bias.grad, theirs.bias.grad)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_records_torchs_node(torch, mode):
    """One EmbeddingBagBackward0 in the repr, whatever ember composes the bag reduction of;
    the values match."""
    outputs = []
    for fw in (torch, ember):
        fw.manual_seed(0)
        bag = fw.nn.EmbeddingBag(6, 3, mode=mode)
        out = bag(fw.tensor([1, 2, 3, 4, 5]), fw.tensor([0, 2, 2]))
        outputs.append((out.grad_fn.name(), out.detach().numpy()))
    assert outputs[0][0] == outputs[1][0]
    np.testing.assert_allclose(outputs[1][1], outputs[0][1], rtol=1e-6)


@pytest.mark.parametrize("make", [
    lambda fw: fw.nn.Embedding(3, 2, padding_idx=3),
    lambda fw: fw.nn.Embedding(3, 2, padding_idx=-4),
    lambda fw: fw.nn.Embedding(3, 2, _weight=fw.ones(2, 2)),
    lambda fw: fw.nn.Embedding.from_pretrained(fw.ones(3)),
    lambda fw: fw.nn.functional.embedding(fw.tensor([1]), fw.ones(3, 2), padding_idx=5),
])
def test_embedding_argument_errors_are_torchs_assertion_errors(torch, make):
    messages = []
    for fw in (ember, torch):
        with pytest.raises(AssertionError) as error:
            make(fw)
        messages.append(str(error.value))
    assert messages[0] == messages[1]


def test_embedding_weight_must_be_a_matrix_as_in_torch(torch):
    messages = []
    for fw in (ember, torch):
        with pytest.raises(RuntimeError) as error:
            fw.nn.functional.embedding(fw.tensor([1]), fw.ones(5))
        messages.append(str(error.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5,), (3, 5), (2, 4, 5), (2, 1, 4, 5)])
def test_linear_without_a_graph_equals_the_recorded_node_and_torch(torch, dtype, shape):
    # under no_grad (and with frozen weights) F.linear skips its node: the same product, bit for
    # bit, as the recorded forward; inference mode and strided inputs keep the node's path
    rng = np.random.default_rng(0)
    x, weight, bias = (rng.standard_normal(size).astype(dtype) for size in (shape, (7, 5), (7,)))
    mine = [ember.tensor(array, requires_grad=True) for array in (x, weight, bias)]
    recorded = F.linear(*mine)
    assert recorded.grad_fn is not None
    with ember.no_grad():
        plain = F.linear(*mine)
    frozen = F.linear(*[tensor.detach() for tensor in mine])
    with ember.inference_mode():
        inferred = F.linear(*mine)
    strided = F.linear(ember.tensor(np.asfortranarray(x)) if x.ndim > 1 else mine[0].detach(),
                       *mine[1:])
    expected = torch.nn.functional.linear(*(torch.tensor(array) for array in (x, weight, bias)))
    for out in (plain, frozen, inferred, strided):
        np.testing.assert_array_equal(out.detach().numpy(), recorded.detach().numpy())
    assert plain.grad_fn is None and frozen.grad_fn is None and not plain.requires_grad
    assert inferred.is_inference() and not plain.is_inference()
    assert plain.dtype == recorded.dtype and plain.shape == recorded.shape
    np.testing.assert_allclose(plain.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    with ember.no_grad(), ember.profiler.profile() as profiled:
        F.linear(*mine)  # the profiler still sees the op
    assert [event.key for event in profiled.key_averages()] == ["aten::linear"]
    with ember.no_grad(), pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be"):
        F.linear(mine[0], ember.ones(7, 4))
    with ember.no_grad(), pytest.raises(RuntimeError, match="expected m1 and m2 to have the same"):
        F.linear(mine[0].double() if dtype == np.float32 else mine[0].float(), mine[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int64, np.int32])
@pytest.mark.parametrize("indices", [[[3]], [[1, 2, 64, 0]], [[5, 5], [0, 7]], 7, []])
def test_embedding_without_a_graph_equals_the_recorded_node_and_torch(torch, dtype, index_dtype,
                                                                      indices):
    # under no_grad (or with a frozen table) F.embedding skips its node: the same rows, bit for
    # bit; a strided table, inference mode, max_norm and bad indices keep the node's behaviour
    table = np.random.default_rng(0).standard_normal((65, 16)).astype(dtype)
    index = np.array(indices, dtype=index_dtype)
    weight = ember.tensor(table, requires_grad=True)
    recorded = F.embedding(ember.tensor(index), weight)
    assert recorded.grad_fn is not None
    with ember.no_grad():
        plain = F.embedding(ember.tensor(index), weight)
        from_module = nn.Embedding.from_pretrained(weight.detach())(ember.tensor(index))
        strided = F.embedding(ember.tensor(index),
                              ember.tensor(np.asfortranarray(table)))
    with ember.inference_mode():
        inferred = F.embedding(ember.tensor(index), weight)
    for out in (plain, from_module, strided, inferred):
        np.testing.assert_array_equal(out.detach().numpy(), recorded.detach().numpy())
        assert out.dtype == recorded.dtype and out.shape == recorded.shape
        assert out.is_contiguous()
    assert plain.grad_fn is None and not plain.requires_grad
    expected = torch.nn.functional.embedding(torch.tensor(index).long(), torch.tensor(table))
    np.testing.assert_array_equal(plain.numpy(), expected.numpy())
    with ember.no_grad():
        for bad in (np.array([65]), np.array([-1])):
            assert_raises_like_torch(
                lambda: torch.nn.functional.embedding(torch.tensor(bad), torch.tensor(table)),
                lambda: F.embedding(ember.tensor(bad), weight), same_type=True)


def test_bilinear_batch_mismatch_names_the_dim_like_torch(torch):
    def call(fw):
        return lambda: fw.nn.functional.bilinear(fw.ones(2, 5, 3), fw.ones(2, 4, 4),
                                                 fw.ones(5, 3, 4))
    assert_raises_like_torch(call(torch), call(ember), RuntimeError)


@pytest.mark.parametrize("input_shape, transposed", [
    ((4, 3), False), ((3,), False), ((2, 4, 3), False), ((2, 4, 3), True), ((2, 2, 4, 3), False),
    ((2, 2, 4, 3), True)])
@pytest.mark.parametrize("bias_size", [3, 5])
def test_a_bias_of_the_wrong_length_raises_torchs_error(torch, input_shape, transposed,
                                                        bias_size):
    # addmm's expand of the bias where PyTorch flattens the input to rows, the broadcasting
    # add's message where it adds the bias to matmul's result
    def call(fw):
        if transposed:
            x = fw.zeros(input_shape[1], input_shape[0], *input_shape[2:]).transpose(0, 1)
        else:
            x = fw.zeros(*input_shape)
        return lambda: fw.nn.functional.linear(x, fw.ones(4, 3), fw.ones(bias_size))
    assert_raises_like_torch(call(torch), call(ember), RuntimeError, same_type=True)


@pytest.mark.parametrize("dtypes", [("float32", "float64", "float32", "float32"),
                                    ("float32", "float32", "float64", None),
                                    ("float32", "float32", "float32", "float64"),
                                    ("float32", "int64", "float32", None),
                                    ("float64", "float16", "float64", "float64")])
def test_bilinear_refuses_mixed_dtypes_like_torch(torch, dtypes):
    """PyTorch's bilinear checks its operands share one dtype before any shape, and names each
    one's C++ type (bias only when given); a batch mismatch beside it is not reported."""
    def call(fw):
        first, second, weight, bias = (None if name is None else getattr(fw, name)
                                       for name in dtypes)
        return lambda: fw.nn.functional.bilinear(
            fw.ones(2, 3, dtype=first), fw.ones(1, 3, dtype=second), fw.ones(2, 3, 3, dtype=weight),
            None if bias is None else fw.ones(2, dtype=bias))
    assert_raises_like_torch(call(torch), call(ember), RuntimeError)
