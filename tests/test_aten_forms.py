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
