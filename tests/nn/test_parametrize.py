"""nn.utils.parametrize and parametrizations against PyTorch: class, repr and state_dict keys,
values and gradients from the same originals, assignment through right_inverse, caching,
removal, and errors."""
import numpy as np
import pytest

import ember


def _symmetric(module):
    class Symmetric(module.nn.Module):
        def forward(self, X):  # noqa: N803 (PyTorch's tutorial name)
            return X.triu() + X.triu(1).transpose(-1, -2)

        def right_inverse(self, A):  # noqa: N803
            return A.triu()
    return Symmetric()


def _copy(mine, theirs):
    mine.load_state_dict({key: ember.tensor(value.detach().numpy())
                          for key, value in theirs.state_dict().items()})


def test_register_parametrization_matches_torch(torch):
    layers = []
    for module in (ember, torch):
        layer = module.nn.Linear(3, 3)
        module.nn.utils.parametrize.register_parametrization(layer, "weight", _symmetric(module))
        layers.append(layer)
    mine, theirs = layers
    assert repr(mine) == repr(theirs) and type(mine).__name__ == "ParametrizedLinear"
    assert list(mine.state_dict()) == list(theirs.state_dict())
    _copy(mine, theirs)
    values = np.random.default_rng(0).standard_normal((4, 3)).astype("float32")
    grads = []
    for layer, module in ((mine, ember), (theirs, torch)):
        out = layer(module.tensor(values))
        (out ** 2).sum().backward()
        grads.append((out.detach().numpy(), layer.parametrizations.weight.original.grad.numpy(),
                      layer.weight.detach().numpy()))
    for one, other in zip(*grads):
        np.testing.assert_allclose(one, other, rtol=1e-5, atol=1e-6)
    target = np.arange(9, dtype="float32").reshape(3, 3)
    for layer, module in ((mine, ember), (theirs, torch)):
        original = layer.parametrizations.weight.original
        layer.weight = module.tensor(target)
        assert layer.parametrizations.weight.original is original
    np.testing.assert_array_equal(mine.parametrizations.weight.original.detach().numpy(),
                                  theirs.parametrizations.weight.original.detach().numpy())
    with ember.nn.utils.parametrize.cached():
        assert mine.weight is mine.weight
    assert mine.weight is not mine.weight
    for layer, module in ((mine, ember), (theirs, torch)):
        module.nn.utils.parametrize.remove_parametrizations(layer, "weight")
    assert type(mine) is ember.nn.Linear and list(mine.state_dict()) == ["bias", "weight"]
    np.testing.assert_array_equal(mine.weight.detach().numpy(),
                                  theirs.weight.detach().numpy())


def test_parametrize_errors_match_torch(torch):
    for module in (ember, torch):
        layer = module.nn.Linear(3, 3)
        P = module.nn.utils.parametrize
        with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
            P.register_parametrization(layer, "nothing", _symmetric(module))
        with pytest.raises(ValueError, match="does not have a parametrization on weight"):
            P.remove_parametrizations(layer, "weight")

        class Shrink(module.nn.Module):
            def forward(self, X):  # noqa: N803
                return X[:2]
        with pytest.raises(ValueError, match="may not change the shape"):
            P.register_parametrization(layer, "weight", Shrink())
        assert not P.is_parametrized(layer)


def _consistency_errors(module):
    """The message of each refused registration: a first parametrization that changes the
    shape or the dtype, a chained one that does, and a chained one whose right_inverse does."""
    P = module.nn.utils.parametrize

    class Shrink(module.nn.Module):
        def forward(self, X):  # noqa: N803
            return X[:2]

    class ToDouble(module.nn.Module):
        def forward(self, X):  # noqa: N803
            return X.double()

    class ShrinkingInverse(module.nn.Module):
        def forward(self, X):  # noqa: N803
            return X

        def right_inverse(self, A):  # noqa: N803
            return A[:, :1]
    messages = []
    for first in (Shrink, ToDouble):
        with pytest.raises(ValueError) as raised:
            P.register_parametrization(module.nn.Linear(3, 3), "weight", first())
        messages.append(str(raised.value))
    for second in (Shrink, ToDouble, ShrinkingInverse):
        layer = module.nn.Linear(3, 3)
        P.register_parametrization(layer, "weight", _symmetric(module))
        with pytest.raises(ValueError) as raised:
            P.register_parametrization(layer, "weight", second())
        messages.append(str(raised.value))
        assert len(layer.parametrizations.weight) == 1
    return messages


def test_consistency_errors_match_torch(torch):
    """PyTorch's separate dtype and shape messages, the shapes as Size reprs."""
    expected = [message.replace("torch.", "ember.") for message in _consistency_errors(torch)]
    assert _consistency_errors(ember) == expected


def test_assignment_needs_every_right_inverse_like_torch(torch):
    """Assigning to a parametrized tensor runs the chain's right_inverse backwards; a
    parametrization without one is an error (the originals are left as they were), and
    right_inverse may not change the dtype."""
    for module in (ember, torch):
        P = module.nn.utils.parametrize

        class Double(module.nn.Module):
            def forward(self, X):  # noqa: N803
                return 2 * X

        class ToDoubleLater(module.nn.Module):
            calls = 0

            def forward(self, X):  # noqa: N803
                return X

            def right_inverse(self, A):  # noqa: N803
                self.calls += 1
                return A if self.calls == 1 else A.double()  # registration, then assignment
        layer = module.nn.Linear(3, 3)
        P.register_parametrization(layer, "weight", _symmetric(module))
        before = layer.parametrizations.weight.original.detach().clone()
        P.register_parametrization(layer, "weight", Double())
        with pytest.raises(RuntimeError, match="parametrization Double does not implement "
                                               "right_inverse."):
            layer.weight = module.eye(3)
        assert layer.parametrizations.weight.original.detach().numpy().tolist() == \
            before.numpy().tolist()
        other = module.nn.Linear(2, 2)
        P.register_parametrization(other, "weight", ToDoubleLater())
        with pytest.raises(ValueError, match="The tensor returned by `right_inverse` has dtype "
                                             r"\w+.float64 while `original` has dtype "):
            other.weight = module.eye(2)


def test_new_weight_norm_matches_torch(torch):
    layers = [m.nn.utils.parametrizations.weight_norm(m.nn.Conv2d(2, 3, 3), dim=0)
              for m in (ember, torch)]
    mine, theirs = layers
    assert list(mine.state_dict()) == list(theirs.state_dict())
    np.testing.assert_allclose(mine.parametrizations.weight.original0.detach().numpy().shape,
                               (3, 1, 1, 1))
    _copy(mine, theirs)
    values = np.random.default_rng(1).standard_normal((2, 2, 5, 5)).astype("float32")
    rows = []
    for layer, module in ((mine, ember), (theirs, torch)):
        out = layer(module.tensor(values))
        (out ** 2).sum().backward()
        chain = layer.parametrizations.weight
        rows.append((out.detach().numpy(), chain.original0.grad.numpy(),
                     chain.original1.grad.numpy()))
    for one, other in zip(*rows):
        np.testing.assert_allclose(one, other, rtol=2e-5, atol=1e-5)


@pytest.mark.parametrize("layer,args,shape", [("Linear", (3, 4), (5, 3)),
                                              ("ConvTranspose2d", (2, 3, 3), (1, 2, 4, 4))])
def test_new_spectral_norm_matches_torch(torch, layer, args, shape):
    layers = [m.nn.utils.parametrizations.spectral_norm(getattr(m.nn, layer)(*args))
              for m in (ember, torch)]
    mine, theirs = layers
    assert list(mine.state_dict()) == list(theirs.state_dict())
    _copy(mine, theirs)
    values = np.random.default_rng(2).standard_normal(shape).astype("float32")
    for training in (True, True, False):
        rows = []
        for model, module in ((mine, ember), (theirs, torch)):
            model.train(training)
            model.zero_grad()
            out = model(module.tensor(values))
            (out ** 2).sum().backward()
            chain = model.parametrizations.weight
            rows.append((out.detach().numpy(), chain.original.grad.numpy(),
                         chain[0]._u.numpy(), chain[0]._v.numpy()))
        for one, other in zip(*rows):
            np.testing.assert_allclose(one, other, rtol=2e-5, atol=1e-5)


# ---- orthogonal -------------------------------------------------------------------------------
ORTHOGONAL_CASES = [(shape, orthogonal_map, trivialization)
                    for shape in [(4, 4), (5, 3), (3, 5), (2, 4, 3)]
                    for orthogonal_map in ["matrix_exp", "cayley", "householder"]
                    for trivialization in [True, False]]


def _holder(module, array):
    """A module whose parameter ``weight`` is ``array`` (a matrix or a batch of them)."""
    holder = module.nn.Module()
    holder.weight = module.nn.Parameter(module.tensor(array))
    return holder


def _orthogonal_pair(torch, shape, orthogonal_map, trivialization, dtype=np.float64):
    array = np.random.default_rng(5).standard_normal(shape).astype(dtype)
    pair = []
    for module in (ember, torch):
        holder = _holder(module, array.copy())
        module.nn.utils.parametrizations.orthogonal(holder, orthogonal_map=orthogonal_map,
                                                    use_trivialization=trivialization)
        pair.append(holder)
    return pair


@pytest.mark.parametrize("shape, orthogonal_map, trivialization", ORTHOGONAL_CASES)
def test_orthogonal_values_and_gradients_match_torch(torch, shape, orthogonal_map,
                                                     trivialization):
    ours, theirs = _orthogonal_pair(torch, shape, orthogonal_map, trivialization)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if shape[-2] == shape[-1] or not trivialization:  # else base has random extra columns
        _copy_close(ours.state_dict(), theirs.state_dict())
    _copy(ours, theirs)
    # Move the original away from right_inverse's point so that every map does real work.
    step = np.random.default_rng(6).standard_normal(shape) * 0.3
    with torch.no_grad():
        theirs.parametrizations.weight.original.add_(torch.tensor(step))
    with ember.no_grad():
        ours.parametrizations.weight.original.add_(ember.tensor(step))
    weights = np.random.default_rng(7).standard_normal(shape)
    (ours.weight * ember.tensor(weights)).sum().backward()
    (theirs.weight * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.parametrizations.weight.original.grad.numpy(),
                               theirs.parametrizations.weight.original.grad.numpy(),
                               rtol=1e-9, atol=1e-11)


def _copy_close(ours, theirs):
    assert list(ours) == list(theirs)
    for key in (key for key in theirs if key.startswith("parametrizations.")):
        np.testing.assert_allclose(ours[key].numpy(), theirs[key].numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=key)


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
def test_orthogonal_weight_is_orthogonal_in_float32_like_torch(torch, orthogonal_map):
    ours, theirs = _orthogonal_pair(torch, (6, 4), orthogonal_map, True, np.float32)
    weight = ours.weight
    assert weight.dtype == ember.float32
    np.testing.assert_allclose((weight.mT @ weight).detach().numpy(), np.eye(4), atol=1e-5)
    np.testing.assert_allclose(weight.detach().numpy(), theirs.weight.detach().numpy(),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
def test_orthogonal_float64_gradcheck(orthogonal_map):
    for trivialization in (True, False):
        holder = _holder(ember, np.random.default_rng(8).standard_normal((4, 3)))
        ember.nn.utils.parametrizations.orthogonal(holder, orthogonal_map=orthogonal_map,
                                                   use_trivialization=trivialization)
        chain = holder.parametrizations.weight
        start = chain.original.detach() + 0.2
        assert ember.autograd.gradcheck(lambda original: chain[0](original),
                                        (start.requires_grad_(True),))


def test_orthogonal_assignment_and_defaults_match_torch(torch):
    array = np.random.default_rng(9).standard_normal((5, 5))
    new_value = np.linalg.qr(np.random.default_rng(10).standard_normal((5, 5)))[0]
    for trivialization in (True, False):
        pair = []
        for module in (ember, torch):
            layer = module.nn.Linear(5, 5, dtype=module.float64)
            with module.no_grad():
                layer.weight.copy_(module.tensor(array))
            module.nn.utils.parametrizations.orthogonal(layer, orthogonal_map="householder",
                                                        use_trivialization=trivialization)
            layer.weight = module.tensor(new_value)
            pair.append(layer)
        ours, theirs = pair
        _copy_close(ours.state_dict(), theirs.state_dict())
        np.testing.assert_allclose(ours.weight.detach().numpy(), new_value, atol=1e-12)
    ours = ember.nn.utils.parametrizations.orthogonal(ember.nn.Linear(3, 5))
    theirs = torch.nn.utils.parametrizations.orthogonal(torch.nn.Linear(3, 5))
    assert ours.parametrizations.weight[0].orthogonal_map == \
        theirs.parametrizations.weight[0].orthogonal_map.name == "householder"
    assert repr(ours).replace("ember", "torch") == repr(theirs)


def test_orthogonal_errors_match_torch(torch):
    from tests.conftest import assert_raises_like_torch
    for module_name, kwargs, error in [
            ("Linear", {"orthogonal_map": "qr"}, ValueError),
            ("Linear", {"name": "missing"}, ValueError)]:
        assert_raises_like_torch(
            lambda: torch.nn.utils.parametrizations.orthogonal(
                getattr(torch.nn, module_name)(3, 3), **kwargs),
            lambda: ember.nn.utils.parametrizations.orthogonal(
                getattr(ember.nn, module_name)(3, 3), **kwargs), error)
    assert_raises_like_torch(
        lambda: torch.nn.utils.parametrizations.orthogonal(torch.nn.Linear(3, 3), "bias"),
        lambda: ember.nn.utils.parametrizations.orthogonal(ember.nn.Linear(3, 3), "bias"),
        ValueError)
    for orthogonal_map in ("matrix_exp", "cayley"):
        pair = [module.nn.utils.parametrizations.orthogonal(
            module.nn.Linear(3, 3), orthogonal_map=orthogonal_map, use_trivialization=False)
            for module in (ember, torch)]

        def assign(layer, module):
            layer.weight = module.eye(3)
        assert_raises_like_torch(lambda: assign(pair[1], torch), lambda: assign(pair[0], ember),
                                 NotImplementedError)
    pair = [module.nn.utils.parametrizations.orthogonal(module.nn.Linear(3, 3))
            for module in (ember, torch)]

    def assign_wrong_shape(layer, module):
        layer.weight = module.zeros(2, 3)
    assert_raises_like_torch(lambda: assign_wrong_shape(pair[1], torch),
                             lambda: assign_wrong_shape(pair[0], ember), ValueError)


def _transferred(library):
    """A symmetric-weight parametrization and a two-original one moved to fresh modules."""
    nn = library.nn
    parametrize = nn.utils.parametrize

    class Symmetric(nn.Module):
        def forward(self, value):
            return value.triu() + value.triu(1).transpose(0, 1)

    class Sum(nn.Module):
        def forward(self, first, second):
            return first + second

        def right_inverse(self, value):
            return value / 2, value / 2

    library.manual_seed(0)
    source = nn.Linear(3, 3)
    parametrize.register_parametrization(source, "weight", Symmetric())
    parametrize.register_parametrization(source, "bias", Sum())
    target = nn.Linear(3, 3)
    returned = parametrize.transfer_parametrizations_and_params(source, target)
    partial = parametrize.transfer_parametrizations_and_params(source, nn.Linear(3, 3), "bias")
    fresh = parametrize.transfer_parametrizations_and_params(source, nn.Identity(), "weight")
    unchanged = parametrize.transfer_parametrizations_and_params(nn.Linear(2, 2), target)
    return (returned is target and unchanged is target,
            {key: value.detach().numpy() for key, value in target.state_dict().items()},
            target.weight.detach().numpy(), sorted(partial.parametrizations),
            sorted(fresh.state_dict()), fresh.weight.detach().numpy(),
            target.parametrizations.weight.original is source.parametrizations.weight.original)


def test_transfer_parametrizations_and_params_like_torch(torch):
    ours, theirs = _transferred(ember), _transferred(torch)
    assert ours[0] and theirs[0]
    assert sorted(ours[1]) == sorted(theirs[1])
    for key in theirs[1]:
        np.testing.assert_allclose(ours[1][key], theirs[1][key], rtol=1e-6)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-6)
    assert ours[3:5] == theirs[3:5]
    np.testing.assert_allclose(ours[5], theirs[5], rtol=1e-6)
    assert ours[6] and theirs[6]
