"""functional_call and stack_module_state against torch.func: replaced parameters and buffers,
the module restored afterwards (also after an exception), BatchNorm's running statistics, tied
weights, strict keys and the errors users see."""
import copy

import numpy as np
import pytest

import ember
from tests.conftest import assert_raises_like_torch, load_torch_state
from tests.func.helpers import assert_same_tree, inputs, tree_to_torch, twin_modules


def _mlp(fw):
    return fw.nn.Sequential(fw.nn.Linear(3, 4), fw.nn.Tanh(), fw.nn.Linear(4, 2))


def _state(ours):
    return {name: value.detach().numpy().copy() for name, value in ours.state_dict().items()}


def test_replaced_parameters_give_torch_values_and_the_module_is_restored(torch):
    ours, theirs = twin_modules(torch, _mlp)
    before = _state(ours)
    (weight,) = inputs(ember, (4, 3), dtype="float32")
    (x,) = inputs(ember, (5, 3), seed=1, dtype="float32")
    replacement = {"0.weight": weight}
    mine = ember.func.functional_call(ours, replacement, (x,))
    other = torch.func.functional_call(theirs, tree_to_torch(replacement, torch),
                                       (tree_to_torch(x, torch),))
    assert_same_tree(mine, other, rtol=1e-5, atol=1e-6)
    for name, value in _state(ours).items():
        np.testing.assert_array_equal(value, before[name])
    assert ours[0].weight is not weight and isinstance(ours[0].weight, ember.nn.Parameter)


def test_a_tuple_of_dicts_kwargs_and_a_single_argument(torch):
    ours, theirs = twin_modules(torch, lambda fw: fw.nn.Linear(3, 2))
    (weight, bias, x) = inputs(ember, (2, 3), (2,), (3,), dtype="float32")
    mine = ember.func.functional_call(ours, ({"weight": weight}, {"bias": bias}), x)
    other = torch.func.functional_call(
        theirs, ({"weight": tree_to_torch(weight, torch)}, {"bias": tree_to_torch(bias, torch)}),
        tree_to_torch(x, torch))
    assert_same_tree(mine, other, rtol=1e-5, atol=1e-6)
    keyword = ember.func.functional_call(ours, {}, kwargs={"input": x})
    assert_same_tree(keyword, theirs(tree_to_torch(x, torch)), rtol=1e-5, atol=1e-6)


def test_gradients_flow_to_the_replacements_not_to_the_module(torch):
    ours, _ = twin_modules(torch, _mlp)
    params = {name: value.detach().requires_grad_(True)
              for name, value in ours.named_parameters()}
    (x,) = inputs(ember, (5, 3), dtype="float32")
    ember.func.functional_call(ours, params, (x,)).sum().backward()
    assert all(value.grad is not None for value in params.values())
    assert all(parameter.grad is None for parameter in ours.parameters())


def test_the_module_is_restored_when_the_call_raises():
    module = ember.nn.Linear(3, 2)
    weight = module.weight
    with pytest.raises(RuntimeError):
        ember.func.functional_call(module, {"weight": ember.ones(2, 5)}, (ember.ones(3),))
    assert module.weight is weight
    with pytest.raises(TypeError):
        ember.func.functional_call(module, {"weight": ember.ones(2, 3), "bias": "zeros"},
                                   (ember.ones(3),))
    assert module.weight is weight and isinstance(module.bias, ember.nn.Parameter)


def test_batchnorm_buffers_given_are_updated_in_place_like_torch(torch):
    ours, theirs = twin_modules(torch, lambda fw: fw.nn.BatchNorm1d(3))
    before = _state(ours)
    (x,) = inputs(ember, (6, 3), dtype="float32")
    mine_buffers = {name: value.clone() for name, value in ours.named_buffers()}
    their_buffers = {name: value.clone() for name, value in theirs.named_buffers()}
    mine = ember.func.functional_call(ours, mine_buffers, (x,))
    other = torch.func.functional_call(theirs, their_buffers, (tree_to_torch(x, torch),))
    assert_same_tree(mine, other, rtol=1e-5, atol=1e-6)
    assert_same_tree(mine_buffers, their_buffers, rtol=1e-5, atol=1e-6)
    assert int(mine_buffers["num_batches_tracked"].item()) == 1
    for name, value in _state(ours).items():
        np.testing.assert_array_equal(value, before[name])


class _Tied:
    """Two bias-free linear layers sharing one weight."""

    @staticmethod
    def build(fw):
        class Tied(fw.nn.Module):
            def __init__(self):
                super().__init__()
                self.first = fw.nn.Linear(2, 2, bias=False)
                self.second = fw.nn.Linear(2, 2, bias=False)
                self.second.weight = self.first.weight

            def forward(self, x):
                return self.second(self.first(x))
        return Tied()


@pytest.mark.parametrize("tie_weights", [True, False])
def test_tied_weights_follow_tie_weights_like_torch(torch, tie_weights):
    ours, theirs = twin_modules(torch, _Tied.build)
    weight = ember.tensor([[2.0, 0.0], [1.0, 1.0]])
    (x,) = inputs(ember, (2,), dtype="float32")
    mine = ember.func.functional_call(ours, {"first.weight": weight}, (x,),
                                      tie_weights=tie_weights)
    other = torch.func.functional_call(theirs, {"first.weight": tree_to_torch(weight, torch)},
                                       (tree_to_torch(x, torch),), tie_weights=tie_weights)
    assert_same_tree(mine, other, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", ["strict", "repeated", "not_dict", "not_dicts", "tied"])
def test_errors_match_torch(torch, bad):
    def call(fw):
        module = _Tied.build(fw) if bad == "tied" else fw.nn.Linear(2, 2)
        x = fw.ones(2)
        call = fw.func.functional_call
        if bad == "strict":
            return lambda: call(module, {"weight": fw.ones(2, 2), "extra": fw.ones(1)}, (x,),
                                strict=True)
        if bad == "repeated":
            return lambda: call(module, ({"weight": fw.ones(2, 2)}, {"weight": fw.ones(2, 2)}),
                                (x,))
        if bad == "not_dict":
            return lambda: call(module, 3, (x,))
        if bad == "not_dicts":
            return lambda: call(module, [3], (x,))
        return lambda: call(module, {"first.weight": fw.eye(2), "second.weight": fw.ones(2, 2)},
                            (x,))
    assert_raises_like_torch(call(torch), call(ember), same_type=True)


def test_a_name_the_module_lacks_is_set_for_the_call_and_removed_after():
    module = ember.nn.Linear(2, 2)
    seen = []
    module.register_forward_hook(lambda layer, args, output: seen.append(layer.scale.item()))
    ember.func.functional_call(module, {"scale": ember.tensor(3.0)}, (ember.ones(2),))
    assert seen == [3.0] and not hasattr(module, "scale")


def test_stack_module_state_and_vmap_ensemble_like_torch(torch):
    torch.manual_seed(0)
    theirs = [torch.nn.Linear(3, 2) for _ in range(4)]
    ours = [ember.nn.Linear(3, 2) for _ in range(4)]
    for mine, other in zip(ours, theirs):
        load_torch_state(mine, other)
    (x,) = inputs(ember, (5, 3), dtype="float32")

    def run(fw, models, data):
        params, buffers = fw.func.stack_module_state(models)
        assert all(value.requires_grad and value.is_leaf for value in params.values())

        def call(parameters, buffers_, batch):
            return fw.func.functional_call(models[0], (parameters, buffers_), (batch,))
        return fw.func.vmap(call, in_dims=(0, 0, None))(params, buffers, data)
    assert_same_tree(run(ember, ours, x), run(torch, theirs, tree_to_torch(x, torch)),
                     rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", ["empty", "modes", "classes", "requires_grad"])
def test_stack_module_state_errors_match_torch(torch, bad):
    def call(fw):
        frozen = fw.nn.Linear(2, 2)
        frozen.bias.requires_grad_(False)
        models = {"empty": [], "modes": [fw.nn.Linear(2, 2), fw.nn.Linear(2, 2).eval()],
                  "classes": [fw.nn.Linear(2, 2), fw.nn.Tanh()],
                  "requires_grad": [fw.nn.Linear(2, 2), frozen]}[bad]
        return lambda: fw.func.stack_module_state(models)
    assert_raises_like_torch(call(torch), call(ember), same_type=True)


def test_ensemble_over_a_base_model_moved_to_meta_like_torch(torch):
    # PyTorch's model-ensembling recipe: the stacked states are called through a copy of one
    # model moved to 'meta', which keeps only the structure (shapes and dtypes).
    torch.manual_seed(0)
    theirs = [torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4).eval(),
                                  torch.nn.Linear(4, 2)) for _ in range(3)]
    ours = [ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.BatchNorm1d(4).eval(),
                                ember.nn.Linear(4, 2)) for _ in range(3)]
    for mine, other in zip(ours, theirs):
        load_torch_state(mine, other)
    (x,) = inputs(ember, (5, 3), dtype="float32")

    def run(fw, models, data):
        params, buffers = fw.func.stack_module_state(models)
        base = copy.deepcopy(models[0]).to("meta")

        def call(parameters, buffers_, batch):
            return fw.func.functional_call(base, (parameters, buffers_), (batch,))
        return fw.func.vmap(call, in_dims=(0, 0, None))(params, buffers, data)
    assert_same_tree(run(ember, ours, x), run(torch, theirs, tree_to_torch(x, torch)),
                     rtol=1e-5, atol=1e-6)


def test_a_module_moved_to_meta_keeps_shapes_and_dtypes_but_no_memory():
    model = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.BatchNorm1d(4))
    weight = model[0].weight
    moved = model.to("meta", ember.float64)
    assert moved is model and model[0].weight is weight
    shapes = {name: (tuple(value.shape), value.dtype) for name, value in model.state_dict().items()}
    assert shapes["0.weight"] == ((4, 3), ember.float64)
    assert shapes["1.num_batches_tracked"] == ((), ember.int64)
    assert all(value._data.strides == (0,) * value.dim() for value in model.state_dict().values())


def test_replace_all_batch_norm_modules_drops_running_statistics_like_torch(torch):
    def run(fw):
        model = fw.nn.Sequential(fw.nn.Linear(3, 4), fw.nn.BatchNorm1d(4),
                                 fw.nn.Sequential(fw.nn.BatchNorm1d(4, affine=False)))
        assert fw.func.replace_all_batch_norm_modules_(model) is model
        norms = [model[1], model[2][0]]
        states = [(norm.running_mean, norm.running_var, norm.num_batches_tracked,
                   norm.track_running_stats) for norm in norms]
        return states, sorted(model.state_dict())
    ours, theirs = run(ember), run(torch)
    assert ours == theirs == ([(None, None, None, False)] * 2,
                              ["0.bias", "0.weight", "1.bias", "1.weight"])


def test_vmap_over_a_model_without_running_statistics_like_torch(torch):
    ours, theirs = twin_modules(torch, lambda fw: fw.nn.Sequential(fw.nn.Linear(3, 4),
                                                                   fw.nn.BatchNorm1d(4)))
    (x,) = inputs(ember, (2, 5, 3), dtype="float32")

    def run(fw, model, data):
        fw.func.replace_all_batch_norm_modules_(model)
        params = {name: value.detach() for name, value in model.named_parameters()}
        return fw.func.vmap(lambda batch: fw.func.functional_call(model, params, (batch,)))(data)
    assert_same_tree(run(ember, ours, x), run(torch, theirs, tree_to_torch(x, torch)),
                     rtol=1e-5, atol=1e-6)


def test_nn_utils_stateless_functional_call_is_the_deprecated_spelling_like_torch(torch):
    ours, theirs = twin_modules(torch, _mlp)
    (x,) = inputs(ember, (4, 3), dtype="float32")

    def run(fw, model, data):
        replaced = {"0.weight": fw.ones(4, 3)}
        with pytest.warns(FutureWarning, match="torch.func.functional_call"):
            return fw.nn.utils.stateless.functional_call(model, replaced, (data,))
    assert_same_tree(run(ember, ours, x), run(torch, theirs, tree_to_torch(x, torch)),
                     rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("use", ["module", "functional_call_captured", "buffers_as_argument",
                                 "nested_argument_of_inner_only", "jvp", "eval", "untracked"])
def test_batch_norm_counting_a_captured_buffer_is_refused_in_grad_transforms_like_torch(
        torch, use):
    """PyTorch refuses an in-place change of a tensor the function captured inside grad-type
    transforms: a training BatchNorm's num_batches_tracked unless every transform in progress
    was given it; buffers given as arguments are updated; eval and untracked layers pass."""
    def run(fw):
        x = fw.tensor(np.linspace(-1.0, 1.0, 12).reshape(4, 3))
        layer = fw.nn.BatchNorm1d(3, track_running_stats=use != "untracked").double()
        if use == "eval":
            layer.eval()
        params = dict(layer.named_parameters())
        buffers = dict(layer.named_buffers())
        call = fw.func.functional_call

        def attempt():
            if use in ("module", "eval", "untracked"):
                return fw.func.grad(lambda a: layer(a).sum())(x)
            if use == "functional_call_captured":
                return fw.func.grad(lambda p, a: call(layer, (p, buffers), (a,)).sum())(params, x)
            if use == "buffers_as_argument":
                return fw.func.grad(lambda p, b, a: call(layer, (p, b), (a,)).pow(2).sum())(
                    params, buffers, x)
            if use == "nested_argument_of_inner_only":
                return fw.func.grad(lambda p: fw.func.grad(
                    lambda q, b: call(layer, (q, b), (x,)).pow(2).sum())(p, buffers)[
                    "weight"].sum())(params)
            return fw.func.jvp(lambda a: layer(a), (x,), (x,))
        try:
            result = ("ok", attempt())
        except RuntimeError as error:
            result = ("error", str(error))
        return result, {name: value.detach().clone() for name, value in buffers.items()}
    (ours, our_buffers), (theirs, their_buffers) = run(ember), run(torch)
    assert ours[0] == theirs[0]
    if theirs[0] == "error":
        assert ours[1] == theirs[1]
    else:
        assert_same_tree(ours[1], theirs[1])
    assert_same_tree(our_buffers, their_buffers)


def test_functorch_spellings_match_torchs_functorch(torch):
    """Older programs' ``import functorch``: make_functional, make_functional_with_buffers and
    combine_state_for_ensemble with grad/vmap give functorch's values, and every API warns as
    functorch does (the gather of a 0-d index under vmap is Nystrom's row selection)."""
    functorch = pytest.importorskip("functorch")
    from ember.func import _functorch

    def run(fw, library):
        torch_like = fw
        x, y = inputs(torch_like, (5, 3), (5, 2), dtype="float32")
        model = _mlp(torch_like)
        batch_norm = torch_like.nn.Sequential(torch_like.nn.Linear(3, 4),
                                              torch_like.nn.BatchNorm1d(4)).eval()
        with pytest.warns(FutureWarning, match="`functorch.make_functional` is deprecated"):
            fmodel, params = library.make_functional(model)
        with pytest.warns(FutureWarning, match="`functorch.grad` is deprecated"):
            grads = library.grad(lambda p: ((fmodel(p, x) - y) ** 2).mean())(params)
        with pytest.warns(FutureWarning, match="make_functional_with_buffers"):
            fbn, bn_params, bn_buffers = library.make_functional_with_buffers(batch_norm)
        with pytest.warns(FutureWarning, match="combine_state_for_ensemble"):
            fens, ens_params, ens_buffers = library.combine_state_for_ensemble(
                [_mlp(torch_like) for _ in range(3)])
        with pytest.warns(FutureWarning, match="`functorch.vmap` is deprecated"):
            ensemble = library.vmap(fens, (0, 0, None))(ens_params, ens_buffers, x)
            rows = library.vmap(lambda i: y.reshape(-1).gather(0, i))(
                torch_like.tensor([3, 0, 7]))
        flags = torch_like.tensor([len(list(fmodel.parameters())), params[0].requires_grad,
                                   ens_params[0].requires_grad, len(bn_buffers)])
        return (params, grads, fbn(bn_params, bn_buffers, x), ensemble,
                rows, flags)

    torch.manual_seed(0)
    theirs = run(torch, functorch)
    ember.manual_seed(0)
    ours = run(ember, _functorch)
    assert_same_tree(ours, theirs, rtol=1e-5, atol=1e-6)
