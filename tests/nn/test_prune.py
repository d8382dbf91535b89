"""ember.nn.utils.prune against torch.nn.utils.prune: masks, the _orig/_mask layout, the
recomputing forward pre-hook, combined (container) pruning, global pruning, remove, errors."""
import importlib

import numpy as np
import pytest

import ember
from ember.nn.utils import prune
from tests.conftest import assert_close


@pytest.fixture
def torch(torch):
    """torch with torch.nn.utils.prune imported (torch does not import it itself)."""
    importlib.import_module("torch.nn.utils.prune")
    return torch


def _pair(torch, factory, seed=0):
    """The same layer in ember and torch with the same distinct-magnitude weights."""
    ours = factory(ember.nn)
    theirs = factory(torch.nn)
    rng = np.random.default_rng(seed)
    for (name, ours_param), (_, their_param) in zip(ours.named_parameters(),
                                                     theirs.named_parameters()):
        values = rng.standard_normal(tuple(ours_param.shape)).astype(np.float32)
        with ember.no_grad():
            ours_param.copy_(ember.tensor(values))
        with torch.no_grad():
            their_param.copy_(torch.tensor(values))
    return ours, theirs


def _state(module):
    return {name: value.detach().numpy() for name, value in module.state_dict().items()}


def test_l1_then_ln_structured_combine_masks_as_torch(torch):
    ours, theirs = _pair(torch, lambda nn: nn.Linear(6, 4))
    for module, library in ((ours, prune), (theirs, torch.nn.utils.prune)):
        library.l1_unstructured(module, name="weight", amount=0.3)
        library.ln_structured(module, name="weight", amount=0.25, n=2, dim=0)
    assert [name for name, _ in ours.named_parameters()] == \
        [name for name, _ in theirs.named_parameters()] == ["bias", "weight_orig"]
    assert sorted(_state(ours)) == sorted(_state(theirs))
    for name, value in _state(theirs).items():
        np.testing.assert_array_equal(_state(ours)[name], value)
    hooks = list(ours._forward_pre_hooks.values())
    assert len(hooks) == 1 and isinstance(hooks[0], prune.PruningContainer)
    assert [type(method).__name__ for method in hooks[0]] == ["L1Unstructured", "LnStructured"]
    x = np.random.default_rng(1).standard_normal((3, 6)).astype(np.float32)
    ours(ember.tensor(x)).sum().backward()
    theirs(torch.tensor(x)).sum().backward()
    assert_close(ours.weight_orig.grad, theirs.weight_orig.grad)
    assert ours.weight_orig.grad.numpy()[ours.weight_mask.numpy() == 0].max() == 0


def test_pre_hook_recomputes_the_pruned_weight_after_an_update(torch):
    ours, theirs = _pair(torch, lambda nn: nn.Conv2d(2, 3, 3), seed=2)
    prune.l1_unstructured(ours, "weight", amount=5)
    torch.nn.utils.prune.l1_unstructured(theirs, "weight", amount=5)
    with ember.no_grad():
        ours.weight_orig.mul_(2.0)
    with torch.no_grad():
        theirs.weight_orig.mul_(2.0)
    x = np.random.default_rng(3).standard_normal((1, 2, 5, 5)).astype(np.float32)
    assert_close(ours(ember.tensor(x)), theirs(torch.tensor(x)).detach())
    assert_close(ours.weight, theirs.weight.detach())


def test_global_unstructured_and_remove_match_torch(torch):
    pairs = [_pair(torch, lambda nn: nn.Conv2d(2, 4, 3), seed=4),
             _pair(torch, lambda nn: nn.Linear(6, 4), seed=5)]
    prune.l1_unstructured(pairs[1][0], "weight", amount=0.2)
    torch.nn.utils.prune.l1_unstructured(pairs[1][1], "weight", amount=0.2)
    prune.global_unstructured([(ours, "weight") for ours, _ in pairs],
                              pruning_method=prune.L1Unstructured, amount=0.4)
    torch.nn.utils.prune.global_unstructured([(theirs, "weight") for _, theirs in pairs],
                                             pruning_method=torch.nn.utils.prune.L1Unstructured,
                                             amount=0.4)
    for ours, theirs in pairs:
        np.testing.assert_array_equal(ours.weight_mask.numpy(), theirs.weight_mask.numpy())
        assert prune.is_pruned(ours)
        prune.remove(ours, "weight")
        torch.nn.utils.prune.remove(theirs, "weight")
        assert not prune.is_pruned(ours)
        assert sorted(_state(ours)) == sorted(_state(theirs)) == ["bias", "weight"]
        assert isinstance(ours.weight, ember.nn.Parameter)
        np.testing.assert_array_equal(ours.weight.detach().numpy(), theirs.weight.detach().numpy())


def test_custom_mask_identity_and_random_counts():
    layer = ember.nn.Linear(5, 4)
    prune.identity(layer, "bias")
    assert layer.bias_mask.sum().item() == 4
    mask = ember.tensor(np.eye(4, 5, dtype=np.float32))
    prune.custom_from_mask(layer, "weight", mask)
    np.testing.assert_array_equal(layer.weight.detach().numpy(),
                                  layer.weight_orig.detach().numpy() * np.eye(4, 5))
    prune.random_unstructured(layer, "weight", amount=2)
    assert layer.weight_mask.sum().item() == 2  # two of the four kept entries go
    conv = ember.nn.Conv2d(2, 6, 3)
    prune.random_structured(conv, "weight", amount=0.5, dim=0)
    kept_channels = conv.weight_mask.sum(dim=(1, 2, 3)).numpy()
    assert sorted(set(kept_channels.tolist())) == [0.0, 18.0] and (kept_channels > 0).sum() == 3


def test_prune_errors_match_torch(torch):
    def ours_layer():
        return ember.nn.Linear(3, 2)

    def their_layer():
        return torch.nn.Linear(3, 2)

    cases = [
        (lambda lib, layer: lib.l1_unstructured(layer, "weight", amount=1.5), ValueError),
        (lambda lib, layer: lib.l1_unstructured(layer, "weight", amount=-1), ValueError),
        (lambda lib, layer: lib.l1_unstructured(layer, "weight", amount="half"), TypeError),
        (lambda lib, layer: lib.l1_unstructured(layer, "weight", amount=7), ValueError),
        (lambda lib, layer: lib.ln_structured(layer, "bias", amount=1, n=1, dim=0), ValueError),
        (lambda lib, layer: lib.remove(layer, "weight"), ValueError),
    ]
    for call, error in cases:
        with pytest.raises(error) as their_error:
            call(torch.nn.utils.prune, their_layer())
        layer = ours_layer()
        with pytest.raises(their_error.type) as our_error:
            call(prune, layer)
        assert str(our_error.value).split(" of module")[0] == \
            str(their_error.value).split(" of module")[0].replace("torch.Size", "ember.Size")
        assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]


def test_random_unstructured_prunes_the_entries_torch_prunes(torch):
    """Same seed, same draw: the mask zeroes the entries with the largest uniform draws."""
    masks = []
    for library, framework in ((prune, ember), (torch.nn.utils.prune, torch)):
        framework.manual_seed(3)
        layer = framework.nn.Conv2d(1, 6, 3)
        library.random_unstructured(layer, name="weight", amount=0.3)
        library.random_unstructured(layer, name="bias", amount=2)
        masks.append((layer.weight_mask.numpy(), layer.bias_mask.numpy()))
    for ours, theirs in zip(*masks):
        np.testing.assert_array_equal(ours, theirs)
    assert masks[0][0].sum() == 54 - 16
