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
