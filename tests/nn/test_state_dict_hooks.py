"""Module's state_dict and load_state_dict hooks: the calls PyTorch makes (order, arguments,
what hooks may change), and the uses they exist for: renaming keys of old checkpoints, clearing
expected missing keys, editing a saved state dict."""
import numpy as np
import pytest

import ember


def _hook_log(library):
    log = []

    class Net(library.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = library.nn.Linear(2, 2)
            self.b = library.nn.Sequential(library.nn.Linear(2, 3), library.nn.Linear(3, 1))

    net = Net()
    for name, module in net.named_modules():
        module.register_state_dict_pre_hook(
            lambda mod, prefix, keep_vars, name=name: log.append(("pre", name, prefix, keep_vars)))
        module.register_state_dict_post_hook(
            lambda mod, sd, prefix, meta, name=name: log.append(("post", name, prefix, len(sd),
                                                                 dict(meta))))
        module.register_load_state_dict_pre_hook(
            lambda mod, sd, prefix, meta, strict, missing, unexpected, errors, name=name:
            log.append(("load_pre", name, prefix, strict,
                        sorted(key for key in sd if key.startswith(prefix)))))
        module.register_load_state_dict_post_hook(
            lambda mod, keys, name=name: log.append(("load_post", name, list(keys.missing_keys),
                                                     list(keys.unexpected_keys))))
    state = net.state_dict(keep_vars=True)
    net.load_state_dict(dict(state))
    partial = dict(state)
    del partial["b.0.bias"]
    partial["extra"] = state["a.bias"]
    result = net.load_state_dict(partial, strict=False)
    log.append(("result", sorted(result.missing_keys), sorted(result.unexpected_keys)))
    return log


def test_hook_calls_match_torch():
    torch = pytest.importorskip("torch")
    assert _hook_log(ember) == _hook_log(torch)


def test_pre_hook_renames_an_old_checkpoint_key():
    layer = ember.nn.Linear(2, 2)

    def upgrade(state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
        if prefix + "w" in state_dict:
            state_dict[prefix + "weight"] = state_dict.pop(prefix + "w")

    layer._register_load_state_dict_pre_hook(upgrade)
    layer.load_state_dict({"w": ember.full((2, 2), 3.0), "bias": ember.zeros(2)})
    np.testing.assert_array_equal(layer.weight.detach().numpy(), np.full((2, 2), 3.0))


def test_post_hook_may_clear_missing_keys_and_sees_loaded_values():
    model = ember.nn.Sequential(ember.nn.Linear(2, 2), ember.nn.Linear(2, 2))
    seen = []

    def tie(module, keys):
        seen.append(float(module[0].weight.sum()))
        keys.missing_keys[:] = [key for key in keys.missing_keys if not key.startswith("1.")]

    handle = model.register_load_state_dict_post_hook(tie)
    state = {"0.weight": ember.ones(2, 2), "0.bias": ember.zeros(2)}
    model.load_state_dict(state)  # strict, yet the hook excused layer 1's keys
    assert seen == [4.0]
    handle.remove()
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "1.weight"'):
        model.load_state_dict(state)
    with pytest.raises(AssertionError, match="not expected to return new values"):
        model.register_load_state_dict_post_hook(lambda module, keys: keys)
        model.load_state_dict(model.state_dict())


def test_state_dict_post_hooks_edit_or_replace():
    layer = ember.nn.Linear(2, 2)
    handle = layer.register_state_dict_post_hook(
        lambda module, state, prefix, meta: state.pop(prefix + "bias"))
    with pytest.raises(RuntimeError, match="state_dict post-hook must return None"):
        layer.state_dict()
    handle.remove()
    layer.register_state_dict_post_hook(
        lambda module, state, prefix, meta: state.__delitem__(prefix + "bias"))
    assert list(layer.state_dict()) == ["weight"]
    layer._register_state_dict_hook(lambda module, state, prefix, meta: {"only": 1})
    assert layer.state_dict() == {"only": 1}
