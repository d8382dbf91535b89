"""torch's native-function spellings (``torch.embedding(weight, indices)``, ``torch.batch_norm``
with every argument, losses with an int reduction) and the ``*_copy`` forms, against PyTorch."""
import numpy as np
import pytest

import ember


def _env(fw):
    generator = np.random.default_rng(0)

    def array(*shape):
        return fw.tensor(generator.standard_normal(shape).astype(np.float32))
    names = {"x": (2, 3), "y": (2, 3), "w": (5, 3), "img": (2, 3, 4), "k": (4, 3, 2), "b": (4,),
             "h": (2, 4), "wih": (12, 3), "whh": (12, 4), "bi": (12,), "bh": (12,), "bw": (3,),
             "bb": (3,)}
    namespace = {name: array(*shape) for name, shape in names.items()}
    namespace.update(fw=fw, i=fw.tensor([[0, 4], [2, 2]]), t=fw.tensor([1.0, -1.0]),
                     rm=fw.zeros(3), rv=fw.ones(3))
    return namespace


EXPRESSIONS = [
    'fw.embedding(w, i)',
    'fw.embedding(w, i, 2)',
    'fw.batch_norm(img, bw, bb, rm.clone(), rv.clone(), True, 0.1, 1e-5, False)',
    'fw.batch_norm(img, None, None, rm, rv, False, 0.1, 1e-5, True)',
    'fw.instance_norm(img, None, None, None, None, True, 0.1, 1e-5, False)',
    'fw.kl_div(x.log_softmax(1), y.softmax(1))',
    'fw.kl_div(x, y, 2, log_target=True)',
    'fw.binary_cross_entropy_with_logits(x, y.sigmoid())',
    'fw.binary_cross_entropy_with_logits(x, y.sigmoid(), None, fw.ones(3), 0)',
    'fw.cosine_embedding_loss(x, y, t)',
    'fw.hinge_embedding_loss(x, y.sign())',
    'fw.margin_ranking_loss(x[0], y[0], fw.ones(3), 0.5, 2)',
    'fw.poisson_nll_loss(x, y.abs(), True, False, 1e-8, 1)',
    'fw.triplet_margin_loss(x, y, x * 2)',
    'fw.constant_pad_nd(x, [1, 2], 3.5)',
    'fw.convolution(img, k, b, [1], [1], [1], False, [0], 1)',
    'fw.convolution(img, k.transpose(0, 1).contiguous(), None, [2], [0], [1], True, [1], 1)',
    'fw.max_pool1d_with_indices(img, [2])[1]',
    'fw.fill(x, 2.5)',
    'fw.frobenius_norm(x, [1])',
    'fw.rnn_tanh_cell(x, h, wih[:4], whh[:4], bi[:4], bh[:4])',
    'fw.rnn_relu_cell(x, h, wih[:4], whh[:4])',
    'fw.lstm_cell(x, (h[:, :4], h[:, :4]), fw.cat([wih, wih[:4]]), fw.cat([whh, whh[:4]]))[1]',
    'fw.gru_cell(x, h, wih, whh, bi, bh)',
    'fw.view_copy(x, [3, 2])',
    'fw.permute_copy(x, [1, 0])',
    'fw.t_copy(x)',
    'fw.transpose_copy(img, 0, 2)',
    'fw.unsqueeze_copy(x, 1)',
    'fw.squeeze_copy(x[None])',
    'fw.expand_copy(x[0], [2, 3])',
    'fw.diagonal_copy(x)',
    'fw.select_copy(x, 1, 2)',
    'fw.slice_copy(x, 1, 0, 2)',
    'fw.narrow_copy(x, 1, 1, 2)',
    'fw.split_copy(x, 2, 1)[1]',
    'fw.unbind_copy(x)[1]',
    'fw.detach_copy(x)',
    'fw.alias_copy(x)',
    'fw.unfold_copy(x, 1, 2, 1)',
    'fw.split_with_sizes_copy(x, [1, 2], 1)[1]',
    'fw.feature_dropout(img, 0.0, True)',
    'fw.dropout_(x.clone(), 0.0, True)',
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_like_pytorch(torch, expression):
    expected = eval(expression, _env(torch))
    got = eval(expression, _env(ember))
    assert str(got.dtype).split(".")[1] == str(expected.dtype).split(".")[1]
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-5,
                               atol=1e-6)


def test_copy_forms_do_not_share_memory():
    x = ember.ones(2, 3)
    copied = ember.view_copy(x, [3, 2])
    copied.fill_(5.0)
    assert x.sum().item() == 6.0


def test_cells_are_differentiable():
    x = ember.randn(2, 3, dtype=ember.float64, requires_grad=True)
    h = ember.randn(2, 4, dtype=ember.float64, requires_grad=True)
    w_ih = ember.randn(12, 3, dtype=ember.float64, requires_grad=True)
    w_hh = ember.randn(12, 4, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda *a: ember.gru_cell(*a), (x, h, w_ih, w_hh))


def _norm_env(fw):
    namespace = _env(fw)
    generator = np.random.default_rng(1)
    for name, shape in {"z": (2, 3, 4, 5), "lw": (5,), "lb": (5,), "gw": (3,), "gb": (3,),
                        "table": (10, 3)}.items():
        namespace[name] = fw.tensor(generator.standard_normal(shape).astype(np.float32))
    namespace.update(bag=fw.tensor([1, 2, 4, 5, 4]), starts=fw.tensor([0, 2, 2]),
                     logits=fw.tensor(generator.standard_normal((5, 2, 4)).astype(np.float32)),
                     grid=fw.tensor(generator.uniform(-1, 1, (2, 2, 3, 2)).astype(np.float32)),
                     theta=fw.tensor(generator.standard_normal((2, 2, 3)).astype(np.float32)))
    return namespace


# Native functions returning several tensors (the statistics beside the output), and the
# top-level spellings with ATen's int codes: every tensor of the result against PyTorch.
TUPLE_EXPRESSIONS = [
    'fw.native_layer_norm(z, [5], lw, lb, 1e-5)',
    'fw.native_layer_norm(z, [4, 5], None, None, 1e-3)',
    'fw.native_batch_norm(z, gw, gb, rm, rv, True, 0.1, 1e-5) + (rm, rv)',
    'fw.native_batch_norm(z, None, None, rm, rv, False, 0.1, 1e-5)',
    'fw.native_batch_norm(z, None, None, None, None, True, 0.1, 1e-5)',
    'fw.native_group_norm(z, gw, gb, 2, 3, 20, 1, 1e-5)',
    'fw.native_group_norm(z.reshape(2, 6, 2, 5), None, None, 2, 6, 10, 3, 1e-5)',
    'fw.native_dropout(z, 0.5, False)',
    'fw.batch_norm_update_stats(z, rm, rv, 0.1) + (rm, rv)',
    'fw.batch_norm_update_stats(z, None, None, 0.1)',
    '(fw.ctc_loss(logits.log_softmax(2), fw.tensor([[1, 2], [1, 1]]), [5, 5], [2, 2]),)',
    '(fw.ctc_loss(logits.log_softmax(2), fw.tensor([[1, 2], [1, 1]]), fw.tensor([5, 4]), '
    'fw.tensor([2, 1]), 0, 1),)',
    'fw.embedding_bag(table, bag, starts, False, 0)',
    'fw.embedding_bag(table, bag, starts, False, 1)',
    'fw.embedding_bag(table, bag, starts, False, 2)',
    'fw.embedding_bag(table, bag, starts, False, 0, False, fw.arange(5.0))',
    '(fw.embedding_renorm_(table.clone(), fw.tensor([1, 2, 2]), 1.0, 2.0),)',
    '(fw.grid_sampler(z[:, :, :3], grid, 0, 0, False), fw.grid_sampler(z[:, :, :3], grid, 1, 1, '
    'True), fw.grid_sampler_2d(z[:, :, :3], grid, 2, 2, False))',
    '(fw.affine_grid_generator(theta, [2, 1, 3, 4], False), '
    'fw.affine_grid_generator(theta, (2, 1, 2, 2), True))',
]


@pytest.mark.parametrize("expression", TUPLE_EXPRESSIONS)
def test_tuples_like_pytorch(torch, expression):
    expected = eval(expression, _norm_env(torch))
    got = eval(expression, _norm_env(ember))
    assert type(got) is tuple and len(got) == len(expected)
    for mine, theirs in zip(got, expected):
        assert str(mine.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
        assert tuple(mine.shape) == tuple(theirs.shape)
        np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=1e-4,
                                   atol=1e-5)


def test_native_dropout_draws_as_pytorch(torch):
    outputs = []
    for library in (ember, torch):
        library.manual_seed(0)
        x = library.arange(1.0, 13.0).reshape(3, 4).requires_grad_()
        output, mask = library.native_dropout(x, 0.3, True)
        output.sum().backward()
        outputs.append((output.detach().numpy(), mask.numpy(), x.grad.numpy()))
    for mine, theirs in zip(*outputs):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6)


ERRORS = [
    'fw.native_layer_norm(z, [4], None, None, 1e-5)',
    'fw.native_group_norm(z, None, None, 2, 3, 20, 4, 1e-5)',
    'fw.native_norm(z)',
    'fw.batch_norm_stats(z, 1e-5)',
    'fw.batch_norm_elemt(z, gw, gb, gw, gb, 1e-5)',
    'fw.batch_norm_gather_stats(z, gw[None], gb[None], rm, rv, 0.1, 1e-5, 40)',
    'fw.batch_norm_gather_stats_with_counts(z, gw[None], gb[None], rm, rv, 0.1, 1e-5, gw[:1])',
    'fw.batch_norm_backward_reduce(z, z, gw, gb, gw, True, True, True)',
    'fw.batch_norm_backward_elemt(z, z, gw, gb, gw, gw, gb, fw.tensor([40]))',
    'fw.grid_sampler_3d(z[:, :, :3], grid, 0, 0, False)',
]


@pytest.mark.parametrize("expression", ERRORS)
def test_errors_like_pytorch(torch, expression):
    with pytest.raises(Exception) as theirs:
        eval(expression, _norm_env(torch))
    with pytest.raises(Exception) as mine:
        eval(expression, _norm_env(ember))
    assert type(mine.value) is type(theirs.value)
    assert str(mine.value).split(". ")[0] == str(theirs.value).split(". ")[0]


def test_native_norms_are_differentiable():
    generator = np.random.default_rng(2)
    z = ember.tensor(generator.standard_normal((2, 3, 4)), requires_grad=True)
    weight = ember.tensor(generator.standard_normal(4), requires_grad=True)
    channels = ember.tensor(generator.standard_normal(3), requires_grad=True)
    assert ember.autograd.gradcheck(
        lambda x, w: ember.native_layer_norm(x, [4], w, None, 1e-5)[0], (z, weight))
    assert ember.autograd.gradcheck(
        lambda x, w: ember.native_group_norm(x, w, None, 2, 3, 4, 3, 1e-5)[0], (z, channels))
    assert ember.autograd.gradcheck(
        lambda x, w: ember.native_batch_norm(x, w, None, None, None, True, 0.1, 1e-5)[0],
        (z, channels))
    statistics = ember.native_layer_norm(z, [4], weight, None, 1e-5)[1:]
    assert not any(tensor.requires_grad for tensor in statistics)


def _recurrent_run(fw, kind, packed=False, bidirectional=False, projected=False,
                   batch_first=False):
    """torch.lstm/gru/rnn_* on flat float64 weights: outputs, input and weight gradients."""
    generator = np.random.default_rng(0)
    gates = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}[kind]
    hidden, features, layers = 4, 3, 2
    state_size = 2 if projected else hidden
    directions = 2 if bidirectional else 1
    params = []
    for layer in range(layers):
        for _ in range(directions):
            width = features if layer == 0 else state_size * directions
            shapes = [(gates * hidden, width), (gates * hidden, state_size), (gates * hidden,),
                      (gates * hidden,)] + ([(state_size, hidden)] if projected else [])
            params += [fw.tensor(generator.standard_normal(shape), requires_grad=True)
                       for shape in shapes]
    h = fw.tensor(generator.standard_normal((layers * directions, 2, state_size)))
    c = fw.tensor(generator.standard_normal((layers * directions, 2, hidden)))
    hx = [h, c] if kind == "lstm" else h
    function = getattr(fw, kind)
    if packed:
        x = fw.tensor(generator.standard_normal((7, features)), requires_grad=True)
        out = function(x, fw.tensor([2, 2, 2, 1]), hx, params, True, layers, 0.0, False,
                       bidirectional)
    else:
        shape = (2, 5, features) if batch_first else (5, 2, features)
        x = fw.tensor(generator.standard_normal(shape), requires_grad=True)
        out = function(x, hx, params, True, layers, 0.0, True, bidirectional, batch_first)
    sum(tensor.sum() for tensor in out).backward()
    return [tensor.detach().numpy() for tensor in out] + [x.grad.numpy(), params[1].grad.numpy()]


@pytest.mark.parametrize("kind, options", [
    ("lstm", {}), ("lstm", {"packed": True}), ("lstm", {"bidirectional": True}),
    ("lstm", {"projected": True}), ("gru", {"batch_first": True}), ("gru", {"packed": True}),
    ("rnn_tanh", {"bidirectional": True}), ("rnn_relu", {"packed": True})])
def test_recurrent_functions_like_pytorch(torch, kind, options):
    ours, theirs = _recurrent_run(ember, kind, **options), _recurrent_run(torch, kind, **options)
    assert len(ours) == len(theirs)
    for mine, expected in zip(ours, theirs):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)
