"""Optimizers given sparse gradients, against PyTorch: SGD and Adagrad update from them,
SparseAdam (dense parameters, sparse gradients only), the other optimizers and weight decay
refuse them with PyTorch's errors, gradient clipping refuses them; and a word2vec skip-gram
with negative sampling (two sparse Embeddings, SparseAdam) trained like PyTorch's."""
import warnings

import numpy as np
import pytest

import ember
from tests.conftest import assert_close, assert_raises_like_torch

pytest.importorskip("scipy")

START = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
# Sparse gradients of each step: duplicated indices, an index seen twice, then an empty one.
STEPS = [([[1, 3, 1]], [[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]]),
         ([[0, 3]], [[1.0, -2.0], [0.5, 0.5]]),
         ([[4, 4]], [[-1.0, 3.0], [0.25, -0.5]]),
         ([[]], np.zeros((0, 2)))]


@pytest.fixture(autouse=True)
def _quiet_torch():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse invariant checks")
        yield


def _train(library, name, options, steps=STEPS):
    parameter = library.nn.Parameter(library.tensor(START.copy()))
    optimizer = getattr(library.optim, name)([parameter], **options)
    for indices, values in steps:
        parameter.grad = library.sparse_coo_tensor(
            library.tensor(indices, dtype=library.int64),
            library.tensor(np.asarray(values, dtype=np.float32)), (5, 2))
        optimizer.step()
    return parameter, optimizer


@pytest.mark.parametrize("name, options", [
    ("SGD", {"lr": 0.1}), ("SGD", {"lr": 0.1, "maximize": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}), ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.1, "initial_accumulator_value": 0.2, "maximize": True}),
    ("SparseAdam", {"lr": 0.1}),
    ("SparseAdam", {"lr": 0.1, "betas": (0.5, 0.9), "eps": 1e-3, "maximize": True})])
def test_sparse_gradient_updates_match_torch(torch, name, options):
    ours, our_optimizer = _train(ember, name, options)
    theirs, their_optimizer = _train(torch, name, options)
    assert_close(ours, theirs.detach())
    our_state = our_optimizer.state[ours]
    their_state = their_optimizer.state[theirs]
    assert list(our_state) == list(their_state)
    for key, value in their_state.items():
        if key == "step" and name == "SparseAdam":
            assert our_state[key] == value == len(STEPS)  # a Python int, as PyTorch's
        elif value.is_sparse:  # SGD's momentum buffer: the same sparse tensor, coalesced here
            assert our_state[key].is_sparse
            assert_close(our_state[key].to_dense(), value.to_dense())
        else:
            assert_close(our_state[key], value)


def test_sgd_dense_momentum_buffer_takes_a_sparse_gradient(torch):
    for library in (ember, torch):
        parameter = library.nn.Parameter(library.tensor(START.copy()))
        optimizer = library.optim.SGD([parameter], lr=0.1, momentum=0.9)
        parameter.grad = library.ones(5, 2)
        optimizer.step()
        parameter.grad = library.sparse_coo_tensor(library.tensor([[1, 1]]),
                                                   library.tensor([[1.0, 2.0], [3.0, 4.0]]), (5, 2))
        optimizer.step()
        if library is ember:
            ours = parameter
        else:
            assert_close(ours, parameter.detach())


@pytest.mark.parametrize("name, options", [
    ("Adam", {}), ("AdamW", {}), ("Adamax", {}), ("NAdam", {}), ("RAdam", {}), ("RMSprop", {}),
    ("Adadelta", {}), ("Rprop", {}), ("ASGD", {}), ("Adafactor", {}),
    ("SGD", {"weight_decay": 0.1}), ("Adagrad", {"weight_decay": 0.1})])
def test_sparse_gradients_refused_like_torch(torch, name, options):
    assert_raises_like_torch(lambda: _train(torch, name, options),
                             lambda: _train(ember, name, options), RuntimeError)


def test_refusal_leaves_every_parameter_unchanged():
    first = ember.nn.Parameter(ember.ones(2))
    second = ember.nn.Parameter(ember.ones(5, 2))
    first.grad = ember.ones(2)
    second.grad = ember.sparse_coo_tensor([[1]], [[1.0, 1.0]], (5, 2))
    with pytest.raises(RuntimeError, match="Adam does not support sparse gradients"):
        ember.optim.Adam([first, second]).step()
    assert first.tolist() == [1.0, 1.0]


def test_sparse_adam_refuses_dense_gradients_and_bad_options_like_torch(torch):
    def dense_step(library):
        parameter = library.nn.Parameter(library.ones(3))
        parameter.grad = library.ones(3)
        library.optim.SparseAdam([parameter]).step()
    assert_raises_like_torch(lambda: dense_step(torch), lambda: dense_step(ember), RuntimeError)
    for options in ({"lr": 0}, {"lr": -1.0}, {"eps": 0.0}, {"betas": (1.0, 0.9)},
                    {"betas": (0.9, -0.1)}):
        assert_raises_like_torch(
            lambda: torch.optim.SparseAdam([torch.nn.Parameter(torch.ones(2))], **options),
            lambda: ember.optim.SparseAdam([ember.nn.Parameter(ember.ones(2))], **options),
            ValueError)
    sparse = ember.sparse_coo_tensor([[0]], [1.0], (2,), requires_grad=True)
    with pytest.raises(ValueError, match=r"Sparse params at indices \[\[0, 0\]\]"):
        ember.optim.SparseAdam([sparse])


def test_sparse_adam_defaults_and_state_dict_like_torch(torch):
    ours = ember.optim.SparseAdam([ember.nn.Parameter(ember.ones(2))])
    theirs = torch.optim.SparseAdam([torch.nn.Parameter(torch.ones(2))])
    assert ours.defaults == theirs.defaults
    assert ours.state_dict() == theirs.state_dict()


def test_lbfgs_takes_a_sparse_gradient_as_its_dense_form(torch):
    results = []
    for library in (ember, torch):
        weight = library.nn.Parameter(library.tensor(START.copy()))
        optimizer = library.optim.LBFGS([weight], lr=0.5, max_iter=3)

        def closure():
            optimizer.zero_grad()
            loss = library.nn.functional.embedding(library.tensor([1, 3, 1]), weight,
                                                   sparse=True).pow(2).sum()
            loss.backward()
            return loss
        optimizer.step(closure)
        results.append(weight.detach().numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-6)


def test_gradient_clipping_refuses_sparse_gradients_like_torch(torch):
    def clip(library, function):
        embedding = library.nn.Embedding(4, 2, sparse=True)
        embedding(library.tensor([1, 1, 3])).sum().backward()
        getattr(library.nn.utils, function)(embedding.parameters(), 1.0)
    for function, operator in (("clip_grad_norm_", "linalg_vector_norm"),
                               ("clip_grad_value_", "clamp")):
        with pytest.raises(NotImplementedError, match=f"aten::{operator}"):
            clip(torch, function)
        with pytest.raises(NotImplementedError, match=f"aten::{operator}"):
            clip(ember, function)


def test_clip_grads_with_norm_scales_a_sparse_gradient(torch):
    for library in (ember, torch):
        embedding = library.nn.Embedding(4, 2, sparse=True)
        embedding(library.tensor([1, 1, 3])).sum().backward()
        library.nn.utils.clip_grads_with_norm_(embedding.parameters(), 1.0, library.tensor(4.0))
        grad = embedding.weight.grad
        if library is ember:
            ours = grad
        else:
            assert_close(ours._values(), grad._values())
            assert_close(ours._indices(), grad._indices())


# ---- word2vec: skip-gram with negative sampling ------------------------------------------------
VOCABULARY, DIMENSION, BATCH, NEGATIVES = 30, 8, 16, 4


class SkipGram:
    """Center and context embeddings (both sparse); the loss is the negative log-likelihood of
    the true (center, context) pairs against sampled negatives."""

    def __init__(self, library, center_weight, context_weight):
        self.library = library
        self.center = library.nn.Embedding(VOCABULARY, DIMENSION, sparse=True)
        self.context = library.nn.Embedding(VOCABULARY, DIMENSION, sparse=True)
        with library.no_grad():
            self.center.weight.copy_(library.tensor(center_weight))
            self.context.weight.copy_(library.tensor(context_weight))

    def parameters(self):
        return [self.center.weight, self.context.weight]

    def loss(self, centers, contexts, negatives):
        functional = self.library.nn.functional
        center = self.center(centers)  # (batch, dim)
        positive = (center * self.context(contexts)).sum(-1)
        negative = self.library.bmm(self.context(negatives), center.unsqueeze(-1)).squeeze(-1)
        return -(functional.logsigmoid(positive) + functional.logsigmoid(-negative).sum(-1)).mean()


def _batches(steps):
    random = np.random.default_rng(7)
    for _ in range(steps):
        centers = random.integers(0, VOCABULARY, BATCH)
        contexts = (centers + random.integers(1, 3, BATCH)) % VOCABULARY
        negatives = random.integers(0, VOCABULARY, (BATCH, NEGATIVES))
        yield centers, contexts, negatives


def _word2vec_losses(library, steps=20):
    random = np.random.default_rng(3)
    center_weight = random.standard_normal((VOCABULARY, DIMENSION)).astype(np.float32) * 0.5
    context_weight = random.standard_normal((VOCABULARY, DIMENSION)).astype(np.float32) * 0.5
    model = SkipGram(library, center_weight, context_weight)
    optimizer = library.optim.SparseAdam(model.parameters(), lr=0.05)
    losses = []
    for centers, contexts, negatives in _batches(steps):
        optimizer.zero_grad()
        loss = model.loss(library.tensor(centers), library.tensor(contexts),
                          library.tensor(negatives))
        loss.backward()
        assert model.center.weight.grad.is_sparse
        optimizer.step()
        losses.append(loss.item())
    return np.array(losses), [weight.detach().numpy().copy() for weight in model.parameters()]


def test_word2vec_skip_gram_with_sparse_adam_matches_torch(torch):
    our_losses, our_weights = _word2vec_losses(ember)
    their_losses, their_weights = _word2vec_losses(torch)
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-5, atol=1e-6)
    assert their_losses[-1] < their_losses[0]  # it trains
    for ours, theirs in zip(our_weights, their_weights):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_sgd_state_dict_with_a_sparse_momentum_buffer_round_trips_like_torch(torch):
    import copy
    results = []
    for library in (ember, torch):
        embedding = library.nn.Embedding(5, 2, sparse=True)
        with library.no_grad():
            embedding.weight.copy_(library.tensor(START.copy()))
        optimizer = library.optim.SGD(embedding.parameters(), lr=0.1, momentum=0.9)
        embedding(library.tensor([1, 3])).sum().backward()
        optimizer.step()
        restored = library.optim.SGD(embedding.parameters(), lr=0.1, momentum=0.9)
        restored.load_state_dict(copy.deepcopy(optimizer.state_dict()))
        buffer = restored.state[embedding.weight]["momentum_buffer"]
        assert buffer.is_sparse
        restored.zero_grad()
        embedding(library.tensor([3, 4])).sum().backward()
        restored.step()
        results.append((embedding.weight.detach().numpy().copy(),
                        restored.state[embedding.weight]["momentum_buffer"].to_dense().numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
