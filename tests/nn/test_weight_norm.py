"""weight_norm and spectral_norm (PyTorch's hook-based forms) against PyTorch: parameter names,
values and gradients from the same weights, power iteration in training mode only, removal,
and errors."""
import warnings

import numpy as np
import pytest

import ember


def _copy_state(mine, theirs):
    mine.load_state_dict({key: ember.tensor(value.detach().numpy())
                          for key, value in theirs.state_dict().items()})


def _quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return function(*args, **kwargs)


@pytest.mark.parametrize("layer,args,dim,shape", [
    ("Linear", (3, 4), 0, (5, 3)), ("Conv2d", (2, 3, 3), 0, (2, 2, 5, 5)),
    ("Conv2d", (2, 3, 3), 1, (2, 2, 5, 5)), ("Linear", (3, 4), None, (5, 3)),
    ("ConvTranspose1d", (2, 3, 2), 0, (2, 2, 4))])
def test_weight_norm_matches_torch(torch, layer, args, dim, shape):
    modules = [_quiet(m.nn.utils.weight_norm, getattr(m.nn, layer)(*args), dim=dim)
               for m in (ember, torch)]
    mine, theirs = modules
    assert list(mine.state_dict()) == list(theirs.state_dict())
    _copy_state(mine, theirs)
    values = np.random.default_rng(0).standard_normal(shape).astype("float32")
    outputs = []
    for module, framework in ((mine, ember), (theirs, torch)):
        out = module(framework.tensor(values))
        (out * out).sum().backward()
        outputs.append([out.detach().numpy(), module.weight_g.grad.numpy(),
                        module.weight_v.grad.numpy()])
    for one, other in zip(*outputs):
        np.testing.assert_allclose(one, other, rtol=2e-5, atol=1e-5)
    for module, framework in ((mine, ember), (theirs, torch)):
        framework.nn.utils.remove_weight_norm(module)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    np.testing.assert_allclose(mine.weight.detach().numpy(), theirs.weight.detach().numpy(),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("layer,args,shape", [("Linear", (3, 4), (5, 3)),
                                              ("Conv2d", (2, 3, 3), (2, 2, 5, 5)),
                                              ("ConvTranspose2d", (2, 3, 3), (2, 2, 4, 4))])
def test_spectral_norm_matches_torch(torch, layer, args, shape):
    mine = ember.nn.utils.spectral_norm(getattr(ember.nn, layer)(*args), n_power_iterations=2)
    theirs = torch.nn.utils.spectral_norm(getattr(torch.nn, layer)(*args), n_power_iterations=2)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    _copy_state(mine, theirs)
    values = np.random.default_rng(1).standard_normal(shape).astype("float32")
    for training in (True, True, False):
        rows = []
        for module, framework in ((mine, ember), (theirs, torch)):
            module.train(training)
            module.zero_grad()
            out = module(framework.tensor(values))
            (out * out).sum().backward()
            rows.append([out.detach().numpy(), module.weight_orig.grad.numpy(),
                         module.weight_u.numpy(), module.weight_v.numpy()])
        for one, other in zip(*rows):
            np.testing.assert_allclose(one, other, rtol=2e-5, atol=1e-5)
    before = mine.weight_u.numpy().copy()
    mine.eval()
    mine(ember.tensor(values))
    np.testing.assert_array_equal(mine.weight_u.numpy(), before)
    for module, framework in ((mine, ember), (theirs, torch)):
        framework.nn.utils.remove_spectral_norm(module)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    np.testing.assert_allclose(mine.weight.detach().numpy(), theirs.weight.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_errors_match_torch(torch):
    for framework in (ember, torch):
        module = _quiet(framework.nn.utils.weight_norm, framework.nn.Linear(2, 2))
        with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
            _quiet(framework.nn.utils.weight_norm, module)
        with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
            framework.nn.utils.remove_spectral_norm(module)
        other = framework.nn.utils.spectral_norm(framework.nn.Linear(2, 2))
        with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
            framework.nn.utils.spectral_norm(other)
        with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
            framework.nn.utils.remove_weight_norm(other)
    with pytest.warns(FutureWarning, match="parametrizations.weight_norm"):
        ember.nn.utils.weight_norm(ember.nn.Linear(2, 2))
    for dim in (5, -3):
        messages = []
        for framework in (ember, torch):
            with pytest.raises(IndexError) as error:
                framework.nn.utils.parametrizations.weight_norm(framework.nn.Linear(2, 3),
                                                                dim=dim)
            messages.append(str(error.value))
        assert messages[0] == messages[1]


def test_weight_norm_deprecation_is_raised_from_one_place(torch):
    """PyTorch's warning points inside its weight_norm, so the default filter shows it once
    however many layers a program wraps (TCN's TemporalBlock wraps two)."""
    counts = []
    for framework in (ember, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            framework.nn.utils.weight_norm(framework.nn.Linear(2, 2))
            framework.nn.utils.weight_norm(framework.nn.Linear(2, 3))
        locations = {(warning.filename, warning.lineno) for warning in caught
                     if warning.category is FutureWarning}
        counts.append((len(caught), len(locations)))
    assert counts[0] == counts[1] == (2, 1)
