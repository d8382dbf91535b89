"""Module: registration, traversal, modes, hooks, dtype conversion, state_dict and its loading."""
import copy
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(ember.randn(3, 2))
        self.register_buffer("count", ember.zeros(1, dtype=ember.int64))
        self.register_buffer("scratch", ember.zeros(2), persistent=False)
        self.inner = nn.Linear(2, 2)

    def forward(self, x):
        return self.inner(x @ self.weight)


def _torch_net(torch):
    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(3, 2))
            self.register_buffer("count", torch.zeros(1, dtype=torch.int64))
            self.register_buffer("scratch", torch.zeros(2), persistent=False)
            self.inner = torch.nn.Linear(2, 2)

        def forward(self, x):
            return self.inner(x @ self.weight)
    return TorchNet()


# ---- registration ------------------------------------------------------------------------------
def test_attribute_assignment_registers_parameters_buffers_and_modules():
    net = Net()
    assert list(net._parameters) == ["weight"]
    assert list(net._buffers) == ["count", "scratch"]
    assert list(net._modules) == ["inner"]
    assert "weight" not in net.__dict__
    assert net.weight is net._parameters["weight"]
    assert isinstance(net.inner, nn.Linear)


def test_assignment_errors_match_pytorch():
    net = Net()
    with pytest.raises(TypeError, match=r"cannot assign 'int' as parameter 'weight' "
                                        r"\(ember.nn.Parameter or None expected\)"):
        net.weight = 3
    with pytest.raises(TypeError, match="cannot assign 'ember.FloatTensor' as parameter"):
        net.weight = ember.zeros(3, 2)
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'inner'"):
        net.inner = 1
    with pytest.raises(TypeError, match="cannot assign 'str' as buffer 'count'"):
        net.count = "x"

    class Early(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"cannot assign module before Module.__init__\(\) "
                                             r"call"):
        Early()

    class EarlyParameter(nn.Module):
        def __init__(self):
            self.weight = nn.Parameter(ember.zeros(1))

    with pytest.raises(AttributeError, match="cannot assign parameters before"):
        EarlyParameter()


def test_register_errors():
    net = Net()
    with pytest.raises(KeyError, match="attribute 'forward' already exists"):
        net.register_buffer("forward", ember.zeros(1))
    with pytest.raises(KeyError, match="name can.*t contain"):
        net.register_parameter("a.b", None)
    with pytest.raises(KeyError, match="empty string"):
        net.add_module("", nn.ReLU())
    with pytest.raises(TypeError, match="buffer name should be a string. Got int"):
        net.register_buffer(1, None)
    with pytest.raises(TypeError, match="is not a Module subclass"):
        net.add_module("x", 3)
    with pytest.raises(TypeError, match="object to parameter 'p'"):
        net.register_parameter("p", ember.zeros(1))


def test_reassignment_moves_between_registries_and_delattr():
    net = Net()
    net.weight = None
    assert net.weight is None and "weight" in net._parameters
    with pytest.raises(TypeError, match="as parameter 'weight'"):
        net.weight = nn.Linear(1, 1)  # a registered parameter name takes Parameters only
    del net.weight
    net.weight = nn.Linear(1, 1)
    assert "weight" not in net._parameters and "weight" in net._modules
    net.inner = None
    assert net.inner is None and list(net.children()) == [net.weight]
    del net.count
    assert "count" not in net._buffers
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'count'"):
        net.count
    net.plain = 5
    del net.plain
    assert not hasattr(net, "plain")


def test_parameter_basics():
    data = ember.randn(2, 3)
    parameter = nn.Parameter(data)
    assert parameter.requires_grad and parameter.is_leaf and parameter.grad_fn is None
    assert np.shares_memory(parameter.detach().numpy(), data.detach().numpy())
    assert repr(parameter).startswith("Parameter containing:\ntensor([[")
    assert not nn.Parameter(data, requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    assert type(parameter * 2) is ember.Tensor
    assert type(copy.deepcopy(parameter)) is nn.Parameter


def test_parameter_repr_matches_torch(torch):
    values = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    ours = repr(nn.Parameter(ember.tensor(values)))
    theirs = repr(torch.nn.Parameter(torch.tensor(values)))
    assert ours == theirs


# ---- traversal ---------------------------------------------------------------------------------
def test_named_members_dotted_shared_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), nn.Sequential(shared, nn.Linear(2, 1)))
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.1.weight", "2.1.bias"]
    all_names = [name for name, _ in model.named_parameters(remove_duplicate=False)]
    assert all_names == ["0.weight", "0.bias", "2.0.weight", "2.0.bias", "2.1.weight",
                         "2.1.bias"]
    assert [name for name, _ in model.named_modules()] == ["", "0", "1", "2", "2.1"]
    assert [name for name, _ in model.named_parameters(prefix="net")][0] == "net.0.weight"
    assert list(model.parameters(recurse=False)) == []
    assert len(list(model.modules())) == 5
    assert [name for name, _ in model.named_children()] == ["0", "1", "2"]


def test_named_buffers_include_non_persistent():
    net = Net()
    assert [name for name, _ in net.named_buffers()] == ["count", "scratch"]
    assert "scratch" not in net.state_dict()


def test_get_submodule_parameter_buffer():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(Net()))
    assert model.get_submodule("1.0.inner") is model[1][0].inner
    assert model.get_parameter("1.0.inner.bias") is model[1][0].inner.bias
    assert model.get_buffer("1.0.count") is model[1][0].count
    with pytest.raises(AttributeError, match="Linear has no attribute `foo`"):
        model.get_submodule("0.foo")
    with pytest.raises(AttributeError, match="`weight` is not an nn.Module"):
        model.get_submodule("0.weight")
    with pytest.raises(AttributeError, match="`training` is not an nn.Parameter"):
        model.get_parameter("0.training")
    assert model.get_submodule("") is model


# ---- modes -------------------------------------------------------------------------------------
def test_train_eval_recurse_and_return_self():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), nn.ReLU()))
    assert model.eval() is model
    assert not any(module.training for module in model.modules())
    assert model.train() is model
    assert all(module.training for module in model.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        model.train(1)
    model.eval()
    model.append(nn.Dropout())  # a child added later keeps its own (fresh: training) flag
    assert model[2].training and not model[0].training


def test_train_goes_through_an_overridden_setattr_and_children_of_a_leaf():
    """train() sets 'training' directly only where __setattr__ is Module's own."""
    seen = []

    class Recording(nn.Module):
        def __setattr__(self, name, value):
            seen.append((name, value))
            super().__setattr__(name, value)

    model = nn.Sequential(Recording(), nn.ReLU())
    seen.clear()
    model.eval()
    assert seen == [("training", False)]
    assert not model[0].training and not model[1].training
    assert list(nn.ReLU().children()) == []
    assert list(model.children()) == [model[0], model[1]]


def test_lock_mode_pins_module_but_children_follow():
    inner = nn.Dropout()
    block = nn.Sequential(inner)
    model = nn.Sequential(block)
    assert block.lock_mode(False) is block
    model.train()
    assert model.training and not block.training and inner.training
    model.eval()
    assert not inner.training
    block.unlock_mode()
    model.train()
    assert block.training
    assert "_mode_lock" not in "".join(model.state_dict())


def test_zero_grad_requires_grad_apply():
    model = nn.Linear(3, 2)
    model(ember.randn(4, 3)).sum().backward()
    model.zero_grad(set_to_none=False)
    assert np.all(model.weight.grad.detach().numpy() == 0) and not model.weight.grad.requires_grad
    model.zero_grad()
    assert model.weight.grad is None and model.bias.grad is None
    assert model.requires_grad_(False) is model
    assert not any(parameter.requires_grad for parameter in model.parameters())
    visited = []
    outer = nn.Sequential(nn.ReLU(), nn.Sequential(nn.Tanh()))
    assert outer.apply(lambda module: visited.append(type(module).__name__)) is outer
    assert visited == ["ReLU", "Tanh", "Sequential", "Sequential"]


def test_to_double_keeps_parameter_identity_and_integer_buffers():
    net = Net()
    weight = net.weight
    net(ember.randn(4, 3)).sum().backward()
    assert net.double() is net
    assert net.weight is weight and net.weight.dtype == ember.float64
    assert net.weight.grad.dtype == ember.float64
    assert net.count.dtype == ember.int64 and net.scratch.dtype == ember.float64
    net.to(ember.float32)
    assert net.inner.weight.dtype == ember.float32
    net.to(dtype=ember.float64).float()
    assert net.inner.bias.dtype == ember.float32
    with pytest.raises(TypeError, match="only accepts floating point"):
        net.to(ember.int64)
    assert net.cpu() is net and net.to("cpu") is net


def test_to_meta_then_load_and_to_empty_as_torch(torch):
    """The model-ensembling tutorial's ``copy.deepcopy(model).to('meta')``: the parameters and
    buffers report the meta device and print without values; loading a state_dict without
    ``assign`` is PyTorch's warned no-op; ``to_empty`` gives them writable memory again."""
    def run(framework):
        seen = []
        model = framework.nn.Sequential(framework.nn.Linear(3, 2), framework.nn.BatchNorm1d(2))
        model[0].weight.grad = framework.ones(2, 3)
        assert model.to("meta") is model
        seen.append([(str(tensor.device), tensor.is_meta) for tensor in
                     (*model.parameters(), *model.buffers(), model[0].weight.grad)])
        seen.append([repr(tensor).replace(framework.__name__, "torch")
                     for tensor in (model[0].weight, model[1].num_batches_tracked)])
        source = framework.nn.Sequential(framework.nn.Linear(3, 2), framework.nn.BatchNorm1d(2))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_state_dict(source.state_dict())
        seen.append([str(warning.message) for warning in caught])
        seen.append(str(model[0].bias.device))
        model.to_empty(device="cpu")
        with framework.no_grad():
            model[0].weight.fill_(0.5)
            model[1].running_var.fill_(2.0)
        seen.append((str(model[0].weight.device), model[0].weight.is_meta,
                     model[0].weight.sum().item(), model[1].running_var.sum().item()))
        return seen
    assert run(ember) == run(torch)


# ---- hooks -------------------------------------------------------------------------------------
def test_forward_hooks_and_handles():
    model = nn.Linear(2, 2)
    calls = []
    pre = model.register_forward_pre_hook(lambda module, args: (args[0] * 0,))
    post = model.register_forward_hook(lambda module, args, output: calls.append(output) or
                                       output + 1)
    out = model(ember.randn(3, 2))
    expected = model.bias.detach().numpy() + 1
    np.testing.assert_allclose(out.detach().numpy(), np.broadcast_to(expected, (3, 2)))
    assert len(calls) == 1
    pre.remove()
    post.remove()
    x = ember.randn(3, 2)
    np.testing.assert_allclose(model(x).detach().numpy(), nn.functional.linear(
        x, model.weight, model.bias).detach().numpy())
    with model.register_forward_hook(lambda m, a, k, o: o * 2, with_kwargs=True):
        assert model(x).shape == (3, 2)
    assert not model._forward_hooks


# ---- global hooks: each scenario runs on ember and on torch and logs what the hooks saw ----------
def _labels(model):
    """Module -> its dotted name ('' for the model), to log hook calls without the objects."""
    names = {id(module): name for name, module in model.named_modules()}
    return lambda module: names[id(module)]


def _removing(handles, action):
    """Run ``action`` with the hook ``handles`` registered, and remove them whatever happens."""
    try:
        return action()
    finally:
        for handle in handles:
            handle.remove()


def _global_hook_order(lib):
    hooks = lib.nn.modules.module
    model = lib.nn.Sequential(lib.nn.Identity(), lib.nn.Identity())
    label = _labels(model)
    events = []
    handles = [
        hooks.register_module_forward_pre_hook(
            lambda module, args: events.append(("global pre", label(module)))),
        hooks.register_module_forward_hook(
            lambda module, args, output: events.append(("global post", label(module)))),
        model[0].register_forward_pre_hook(
            lambda module, args: events.append(("pre", label(module)))),
        model[0].register_forward_hook(
            lambda module, args, output: events.append(("post", label(module)))),
    ]
    _removing(handles, lambda: model(lib.ones(2)))
    model(lib.ones(2))  # nothing left registered: no events
    return events


def test_global_hooks_run_for_every_call_before_the_modules_own_like_torch(torch):
    events = _global_hook_order(ember)
    assert events == _global_hook_order(torch)
    assert events == [("global pre", ""), ("global pre", "0"), ("pre", "0"), ("global post", "0"),
                      ("post", "0"), ("global pre", "1"), ("global post", "1"),
                      ("global post", "")]


def _global_hook_rewrites(lib):
    class Scaled(lib.nn.Module):
        def forward(self, inputs, scale=1.0):
            return inputs * scale

    hooks = lib.nn.modules.module
    model = Scaled()
    seen_kwargs = []

    def with_kwargs(module, args, kwargs, output):
        seen_kwargs.append(dict(kwargs))
        return output * kwargs["scale"]

    handles = [
        hooks.register_module_forward_pre_hook(lambda module, args: args[0] + 1),  # not a tuple
        hooks.register_module_forward_hook(with_kwargs, with_kwargs=True),
        hooks.register_module_forward_hook(lambda module, args, output: output + 100),
        model.register_forward_hook(lambda module, args, output: -output),
    ]
    output = _removing(handles, lambda: model(lib.tensor([1.0, 2.0]), scale=3.0))
    return output.tolist(), seen_kwargs


def test_global_hooks_replace_args_and_output_and_see_kwargs_like_torch(torch):
    result = _global_hook_rewrites(ember)
    assert result == _global_hook_rewrites(torch)
    assert result == ([-118.0, -127.0], [{"scale": 3.0}])  # -(((x + 1) * 3) * 3 + 100)


class _Failure(Exception):
    pass


def _always_called_hooks(lib, failing):
    """Which forward hooks run when ``failing`` ('forward', 'pre-hook' or 'hook') raises."""
    class Model(lib.nn.Module):
        def forward(self, inputs):
            if failing == "forward":
                raise _Failure("forward failed")
            return inputs * 2

    def fail_in_hook(module, args, output):
        raise _Failure("hook failed")

    hooks = lib.nn.modules.module
    model = Model()
    events = []

    def logger(name):
        return lambda module, args, output: events.append((name, output is None))

    handles = [hooks.register_module_forward_hook(logger("global always 1"), always_call=True),
               hooks.register_module_forward_hook(logger("global"))]
    if failing == "hook":
        handles.append(hooks.register_module_forward_hook(fail_in_hook))
    handles += [hooks.register_module_forward_hook(logger("global always 2"), always_call=True),
                model.register_forward_hook(logger("module always"), always_call=True),
                model.register_forward_hook(logger("module"))]
    if failing == "pre-hook":
        handles.append(model.register_forward_pre_hook(lambda module, args: 1 / 0))
    with pytest.raises(ZeroDivisionError if failing == "pre-hook" else _Failure):
        _removing(handles, lambda: model(lib.ones(2)))
    return events


@pytest.mark.parametrize("failing", ["forward", "pre-hook", "hook"])
def test_always_called_hooks_run_once_when_a_call_raises_like_torch(torch, failing):
    events = _always_called_hooks(ember, failing)
    assert events == _always_called_hooks(torch, failing)
    if failing == "hook":  # the first two ran before the failure, with the output
        assert events == [("global always 1", False), ("global", False),
                          ("global always 2", False), ("module always", False)]
    else:  # no output: only the always-called hooks run, global ones first
        assert events == [("global always 1", True), ("global always 2", True),
                          ("module always", True)]


def _failing_always_called_hook(lib):
    class Model(lib.nn.Module):
        def forward(self, inputs):
            raise _Failure("forward failed")

    def broken(module, args, output):
        raise KeyError("broken hook")

    hooks = lib.nn.modules.module
    model = Model()
    handles = [hooks.register_module_forward_hook(broken, always_call=True),
               model.register_forward_hook(broken, always_call=True)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(_Failure, match="forward failed"):
            _removing(handles, lambda: model(lib.ones(2)))
    return [(warning.category, str(warning.message)) for warning in caught]


def test_an_always_called_hook_that_raises_after_a_failure_is_only_warned_about_like_torch(torch):
    caught = _failing_always_called_hook(ember)
    assert caught == _failing_always_called_hook(torch)
    assert len(caught) == 2 and caught[0][1].startswith("global module forward hook with")


def _always_called_hook_events_on_an_interrupt(lib):
    class Interrupted(lib.nn.Module):
        def forward(self, inputs):
            raise KeyboardInterrupt

    events = []
    handle = lib.nn.modules.module.register_module_forward_hook(
        lambda module, args, output: events.append(output), always_call=True)
    try:
        with pytest.raises(KeyboardInterrupt):
            Interrupted()(lib.ones(1))
    finally:
        handle.remove()
    return events


def test_always_called_hooks_skip_an_interrupt_like_torch(torch):
    # PyTorch runs them on an Exception only; the mode checks no longer need otherwise (nn
    # counts the calls in progress itself)
    assert _always_called_hook_events_on_an_interrupt(ember) == []
    assert _always_called_hook_events_on_an_interrupt(torch) == []


def _zero_grad_keeping_tensors(lib, owner):
    model = lib.nn.Module()
    model.weight = lib.nn.Parameter(lib.tensor([1.0, -2.0]))
    model.bias = lib.nn.Parameter(lib.tensor([0.5]))
    optimizer = lib.optim.SGD(model.parameters(), lr=0.1)
    ((model.weight * model.weight).sum() + model.bias.sum()).backward(create_graph=True)
    weight_grad = model.weight.grad
    recorded = weight_grad.grad_fn is not None
    (model if owner == "module" else optimizer).zero_grad(set_to_none=False)
    return (recorded, model.weight.grad is weight_grad, weight_grad.grad_fn is None,
            weight_grad.requires_grad, weight_grad.tolist(), model.bias.grad.tolist())


@pytest.mark.parametrize("owner", ["module", "optimizer"])
def test_zero_grad_without_none_detaches_and_zeroes_in_place_like_torch(torch, owner):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: create_graph=True makes a reference cycle
        result = _zero_grad_keeping_tensors(ember, owner)
        assert result == _zero_grad_keeping_tensors(torch, owner)
    assert result == (True, True, True, False, [0.0, 0.0], [0.0])


# ---- state_dict ------------------------------------------------------------------------------
def test_state_dict_keys_order_values_match_torch(torch):
    ours = nn.Sequential(Net(), nn.ReLU(), nn.Sequential(nn.Linear(2, 3), nn.Dropout()))
    theirs = torch.nn.Sequential(_torch_net(torch), torch.nn.ReLU(),
                                 torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Dropout()))
    our_state = ours.state_dict()
    their_state = theirs.state_dict()
    assert list(our_state) == list(their_state)
    assert [tuple(value.shape) for value in our_state.values()] == \
        [tuple(value.shape) for value in their_state.values()]
    assert list(our_state._metadata) == list(their_state._metadata)
    assert our_state["0.count"].dtype == ember.int64
    assert our_state["0.weight"].grad_fn is None and not our_state["0.weight"].requires_grad
    assert np.shares_memory(our_state["0.weight"].detach().numpy(), ours[0].weight.detach().numpy())
    assert ours.state_dict(keep_vars=True)["0.weight"] is ours[0].weight


def test_load_torch_weights_gives_same_outputs(torch):
    ours = Net()
    theirs = _torch_net(torch)
    result = ours.load_state_dict({key: ember.tensor(value.detach().numpy())
                                   for key, value in theirs.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(ember.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_load_copies_into_existing_storage_and_casts():
    model = nn.Linear(3, 2)
    weight = model.weight
    storage = weight._data
    values = np.arange(6, dtype=np.float64).reshape(2, 3)
    model.load_state_dict({"weight": values, "bias": ember.tensor([1, 2])})
    assert model.weight is weight and model.weight._data is storage
    assert model.weight.dtype == ember.float32
    np.testing.assert_array_equal(model.weight.detach().numpy(), values.astype(np.float32))
    np.testing.assert_array_equal(model.bias.detach().numpy(), [1.0, 2.0])
    assert model.weight.requires_grad and model.weight.is_leaf


def test_load_assign_replaces_parameters():
    model = nn.Linear(3, 2)
    new_weight = ember.ones(2, 3, dtype=ember.float64)
    model.load_state_dict({"weight": new_weight, "bias": ember.zeros(2)}, assign=True)
    assert isinstance(model.weight, nn.Parameter) and model.weight.dtype == ember.float64
    assert np.shares_memory(model.weight.detach().numpy(), new_weight.detach().numpy())


def test_failed_load_lists_every_problem_and_changes_nothing():
    model = nn.Sequential(nn.Linear(3, 3), Net())
    before = {key: value.detach().numpy().copy() for key, value in model.state_dict().items()}
    bad = {key: ember.full(value.shape, 7.0) for key, value in model.state_dict().items()}
    bad["0.weight"] = ember.zeros(2, 3)
    bad["1.inner.bias"] = ember.zeros(5)
    del bad["1.count"]
    bad["1.extra"] = ember.zeros(1)
    bad["2.weight"] = ember.zeros(1)
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(bad)
    message = str(error.value)
    assert message == (
        "Error(s) in loading state_dict for Sequential:\n"
        "\tMissing key(s) in state_dict: \"1.count\". \n"
        "\tUnexpected key(s) in state_dict: \"2.weight\", \"1.extra\". \n"
        "\tsize mismatch for 0.weight: copying a param with shape ember.Size([2, 3]) from "
        "checkpoint, the shape in current model is ember.Size([3, 3]).\n"
        "\tsize mismatch for 1.inner.bias: copying a param with shape ember.Size([5]) from "
        "checkpoint, the shape in current model is ember.Size([2]).")
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.detach().numpy(), before[key])
    with pytest.raises(RuntimeError, match="size mismatch for 0.weight"):
        model.load_state_dict(bad, strict=False)  # shape mismatches raise even when not strict
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.detach().numpy(), before[key])


def test_error_message_matches_torch_format(torch):
    ours = nn.Linear(3, 3)
    theirs = torch.nn.Linear(3, 3)
    state = {"weight": np.zeros((2, 3), np.float32), "extra": np.zeros(1, np.float32)}
    with pytest.raises(RuntimeError) as our_error:
        ours.load_state_dict(state)
    with pytest.raises(RuntimeError) as their_error:
        theirs.load_state_dict({key: torch.tensor(value) for key, value in state.items()})
    assert str(our_error.value) == str(their_error.value).replace("torch.Size", "ember.Size")


def test_load_non_strict_returns_incompatible_keys():
    model = nn.Linear(2, 2)
    result = model.load_state_dict({"weight": ember.ones(2, 2), "other": ember.ones(1)},
                                   strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    assert np.all(model.weight.detach().numpy() == 1)
    assert repr(result) == "_IncompatibleKeys(missing_keys=['bias'], unexpected_keys=['other'])"
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        model.load_state_dict([1, 2])
    with pytest.raises(RuntimeError, match="expected ember.Tensor or Tensor-like object"):
        model.load_state_dict({"weight": 1.0, "bias": ember.zeros(2)})


def test_load_from_state_dict_override_sees_version():
    class Versioned(nn.Module):
        _version = 2

        def __init__(self):
            super().__init__()
            self.register_buffer("counter", ember.tensor(5))

        def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                                  missing_keys, unexpected_keys, error_msgs):
            version = local_metadata.get("version", None)
            if (version is None or version < 2) and prefix + "counter" not in state_dict:
                state_dict[prefix + "counter"] = ember.tensor(0)
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                          missing_keys, unexpected_keys, error_msgs)

    model = nn.Sequential(Versioned())
    saved = model.state_dict()
    assert saved._metadata["0"] == {"version": 2}
    model.load_state_dict({})  # no metadata: an old checkpoint, the counter is filled with 0
    assert model[0].counter.item() == 0
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "0.counter"'):
        current = model.state_dict()
        del current["0.counter"]
        model.load_state_dict(current)  # metadata says version 2: nothing to fill


def test_state_dict_round_trip_is_identity():
    model = nn.Sequential(nn.Linear(3, 4), nn.Embedding(5, 2), Net())
    other = nn.Sequential(nn.Linear(3, 4), nn.Embedding(5, 2), Net())
    other.load_state_dict(model.state_dict())
    for (key, ours), (_, theirs) in zip(model.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy(), err_msg=key)


# ---- repr and copy -----------------------------------------------------------------------------
def test_repr_matches_torch(torch):
    ours = nn.Sequential(nn.Linear(3, 4, bias=False), nn.ReLU(inplace=True),
                         nn.Sequential(nn.Dropout(0.25), nn.GELU(approximate="tanh")),
                         nn.Flatten(), nn.Embedding(7, 3, padding_idx=2), nn.LeakyReLU(0.2),
                         nn.ModuleList([nn.Tanh(), nn.Tanh(), nn.Softmax(dim=1)]),
                         nn.ModuleDict({"a": nn.Identity()}))
    theirs = torch.nn.Sequential(
        torch.nn.Linear(3, 4, bias=False), torch.nn.ReLU(inplace=True),
        torch.nn.Sequential(torch.nn.Dropout(0.25), torch.nn.GELU(approximate="tanh")),
        torch.nn.Flatten(), torch.nn.Embedding(7, 3, padding_idx=2), torch.nn.LeakyReLU(0.2),
        torch.nn.ModuleList([torch.nn.Tanh(), torch.nn.Tanh(), torch.nn.Softmax(dim=1)]),
        torch.nn.ModuleDict({"a": torch.nn.Identity()}))
    assert repr(ours) == repr(theirs)


def test_repr_keeps_blank_lines_of_a_nested_extra_repr_empty_like_torch(torch):
    """An extra_repr with a trailing newline (MAML-Pytorch's Learner) nested in another module:
    PyTorch indents only the non-blank lines."""
    def build(library):
        class Learner(library.nn.Module):
            def extra_repr(self):
                return "conv2d:(ch_in:1, ch_out:16)\nrelu:(True,)\n"

        class Meta(library.nn.Module):
            def __init__(self):
                super().__init__()
                self.net = Learner()
                self.net.vars = library.nn.ParameterList([library.nn.Parameter(library.zeros(2))])
        return repr(Meta())
    assert build(ember) == build(torch).replace("torch.", "ember.")


def test_deepcopy_gives_independent_module():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
    clone = copy.deepcopy(model)
    assert clone[0].weight is not model[0].weight
    np.testing.assert_array_equal(clone[0].weight.detach().numpy(),
                                  model[0].weight.detach().numpy())
    clone[0].weight.data.fill_(0)
    assert not np.all(model[0].weight.detach().numpy() == 0)
    assert isinstance(clone[0].weight, nn.Parameter)


def test_forward_not_implemented():
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        nn.Module()(1)


# ---- properties ------------------------------------------------------------------------------
hypothesis = pytest.importorskip("hypothesis")
strategies = hypothesis.strategies


def _random_model(widths, bias, seed):
    ember.manual_seed(seed)
    layers = []
    for in_features, out_features in zip(widths, widths[1:]):
        layers += [nn.Linear(in_features, out_features, bias=bias), nn.Dropout(0.1)]
    return nn.Sequential(nn.Sequential(*layers), nn.Embedding(3, widths[-1]))


@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(widths=strategies.lists(strategies.integers(1, 6), min_size=2, max_size=4),
                  bias=strategies.booleans())
def test_property_state_dict_round_trip_is_identity(widths, bias):
    source = _random_model(widths, bias, seed=1)
    target = _random_model(widths, bias, seed=2)
    identities = [id(parameter) for parameter in target.parameters()]
    assert target.load_state_dict(source.state_dict()) == ([], [])
    assert [id(parameter) for parameter in target.parameters()] == identities
    for (name, ours), (_, theirs) in zip(source.state_dict().items(),
                                         target.state_dict().items()):
        assert ours.numpy().tobytes() == theirs.numpy().tobytes(), name


@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(widths=strategies.lists(strategies.integers(1, 6), min_size=2, max_size=4),
                  bad_key=strategies.integers(0, 100))
def test_property_failed_load_changes_nothing(widths, bad_key):
    model = _random_model(widths, True, seed=3)
    before = {key: value.numpy().copy() for key, value in model.state_dict().items()}
    state = {key: ember.zeros(*value.shape) for key, value in model.state_dict().items()}
    keys = list(state)
    broken = keys[bad_key % len(keys)]
    state[broken] = ember.zeros(*(size + 1 for size in state[broken].shape))
    with pytest.raises(RuntimeError, match=f"size mismatch for {broken}:"):
        model.load_state_dict(state)
    for key, value in model.state_dict().items():
        assert value.numpy().tobytes() == before[key].tobytes(), key


def test_buffer_assignment_registers_as_torch(torch):
    keys = []
    for module in (ember, torch):
        layer = module.nn.Linear(2, 2)
        layer.stat = module.nn.Buffer(module.ones(2), persistent=False)
        layer.count = module.nn.Buffer(module.zeros(1))
        keys.append((list(layer.state_dict()), [name for name, _ in layer.named_buffers()],
                     layer.stat.numpy().tolist()))
        layer.count = module.ones(1) * 3
        assert layer.count.numpy().tolist() == [3.0]
        assert isinstance(module.nn.Buffer(module.ones(1)), module.nn.Buffer)
    assert keys[0] == keys[1]


def test_extra_state_round_trip_like_pytorch(torch):
    def build(fw):
        class WithExtra(fw.nn.Module):
            def __init__(self):
                super().__init__()
                self.layer = fw.nn.Linear(1, 1)
                self.steps = 5

            def get_extra_state(self):
                return {"steps": self.steps}

            def set_extra_state(self, state):
                self.steps = state["steps"]
        return WithExtra

    for fw in (torch, ember):
        cls = build(fw)
        state = cls().state_dict()
        assert list(state) == ["_extra_state", "layer.weight", "layer.bias"]
        fresh = cls()
        fresh.steps = 0
        fresh.load_state_dict(state)
        assert fresh.steps == 5
        del state["_extra_state"]
        with pytest.raises(RuntimeError, match='Missing key.*"_extra_state"'):
            fresh.load_state_dict(state)
        plain = fw.nn.Linear(1, 1)
        keys = plain.load_state_dict({"weight": fw.ones(1, 1), "bias": fw.ones(1),
                                      "_extra_state": 1}, strict=False)
        assert keys.unexpected_keys == ["_extra_state"]


def test_set_submodule_and_conversions(torch):
    for fw in (torch, ember):
        model = fw.nn.Sequential(fw.nn.Linear(2, 2))
        model.set_submodule("0", fw.nn.ReLU())
        model.set_submodule("1", fw.nn.Tanh())
        assert [type(module).__name__ for module in model] == ["ReLU", "Tanh"]
        with pytest.raises(AttributeError, match="has no attribute `x`"):
            model.set_submodule("x.y", fw.nn.ReLU())
        layer = fw.nn.Linear(2, 2)
        assert layer.compile() is None and layer.share_memory() is layer
        assert layer.type(fw.float64).weight.dtype == fw.float64
        assert layer.bfloat16().bias.dtype == fw.bfloat16


def _global_backward_and_registration_hooks(lib):
    """Global full backward (pre-)hooks run ahead of a module's own; registration hooks see and
    may replace every parameter, buffer and child module registered."""
    hooks = lib.nn.modules.module
    events = []
    registered = []

    def replace_parameter(module, name, value):
        registered.append(("parameter", type(module).__name__, name))
        return lib.nn.Parameter(lib.full_like(value, 0.5)) if name == "weight" else None

    handles = [
        hooks.register_module_parameter_registration_hook(replace_parameter),
        hooks.register_module_buffer_registration_hook(
            lambda module, name, value: registered.append(("buffer", name))),
        hooks.register_module_module_registration_hook(
            lambda module, name, value: registered.append(("module", name))),
    ]
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.BatchNorm1d(3))
    model.extra = lib.nn.Identity()
    model.eval()
    for handle in handles:
        handle.remove()
    lib.nn.Linear(1, 1)  # nothing registered any more
    own = model[0].register_full_backward_hook(
        lambda module, grad_input, grad_output: events.append(("own", grad_input[0].sum().item())))
    handles = [
        hooks.register_module_full_backward_pre_hook(
            lambda module, grad_output: (grad_output[0] * 2,)
            if isinstance(module, lib.nn.Linear) else None),
        hooks.register_module_full_backward_hook(
            lambda module, grad_input, grad_output: events.append(
                (type(module).__name__, [None if g is None else g.sum().item()
                                         for g in grad_output]))),
    ]
    x = lib.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    _removing(handles + [own], lambda: (model(x) * lib.tensor([1.0, 2.0, 3.0])).sum().backward())
    plain = lib.nn.Linear(2, 2)
    dicts = [len(getattr(plain, name)) for name in
             ("_backward_hooks", "_backward_pre_hooks", "_state_dict_hooks",
              "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
              "_load_state_dict_post_hooks")]
    return (events, registered, model[0].weight.tolist(), x.grad.tolist(), dicts,
            plain._is_full_backward_hook)


def test_global_backward_and_registration_hooks_like_torch(torch):
    ours = _global_backward_and_registration_hooks(ember)
    theirs = _global_backward_and_registration_hooks(torch)
    assert ours[1:3] == theirs[1:3] and ours[4:] == theirs[4:]
    np.testing.assert_allclose(ours[3], theirs[3], rtol=1e-6)
    assert [event[0] for event in ours[0]] == [event[0] for event in theirs[0]]
    for our_event, their_event in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(np.array(our_event[1], dtype=float),
                                   np.array(their_event[1], dtype=float), rtol=1e-6)


def test_load_state_dict_of_a_non_tensor_value_says_what_torch_says(torch):
    messages = []
    for library in (ember, torch):
        layer = library.nn.Linear(2, 2)
        with pytest.raises(RuntimeError) as error:
            layer.load_state_dict({"weight": [[1.0, 2.0], [3.0, 4.0]],
                                   "bias": library.ones(2)})
        messages.append(str(error.value).replace("ember.Tensor", "torch.Tensor"))
    assert messages[0] == messages[1]


def test_buffer_is_a_marked_plain_tensor_as_in_torch(torch):
    """nn.Buffer(t) is a plain Tensor sharing t's storage; only marked tensors are Buffers."""
    seen = []
    for module in (ember, torch):
        data = module.ones(3, requires_grad=True)
        buffer = module.nn.Buffer(data, persistent=False)
        with module.no_grad():
            buffer[0] = 5.0
        layer = module.nn.Linear(2, 2)
        layer.stat = buffer
        seen.append((type(buffer) is module.Tensor, isinstance(buffer, module.nn.Buffer),
                     isinstance(data, module.nn.Buffer), buffer.requires_grad, buffer.is_leaf,
                     buffer.persistent, data.tolist(), type(layer.stat) is module.Tensor,
                     list(layer.state_dict()), tuple(module.nn.Buffer().shape)))
    assert seen[0] == seen[1]
    assert seen[0][:3] == (True, True, False)
