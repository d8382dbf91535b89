"""The multi-tensor step (ember/optim/_foreach.py): the same values, bit for bit, as the
per-parameter loop (foreach=False), whatever mix of packed chunks, parameters on their own, steps
without some gradients, reloaded or copied state."""
import copy

import numpy as np
import pytest

import ember
from ember import optim
from ember.optim import _foreach

# Packed chunks (small shapes, more than CHUNK_ELEMENTS of them in all), a parameter on its own
# (SOLO_ELEMENTS and more), a 0-d and a one-element one.
SHAPES = [(3, 4), (130, 127), (5,), (), (1,), (64, 64), (200,), (127, 131), (4, 3, 2),
          (_foreach.SOLO_ELEMENTS + 3,)]
STEPS = 12



class FlatSGD(optim.SGD):
    """SGD through the flat step (ember's SGD keeps the per-parameter loop, which measured as
    fast): its momentum buffer, created inside the first _update, is state the plan must hand
    out after the update."""

    _foreach_update = True


CASES = [
    ("FlatSGD", {"lr": 0.1}),
    ("FlatSGD", {"lr": 0.1, "momentum": 0.9}),
    ("FlatSGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("FlatSGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.02, "amsgrad": True, "maximize": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.7, "weight_decay": 0.1, "maximize": True}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.3}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.2, "eps": 1e-6, "maximize": True}),
]


def _optimizer_class(name):
    return FlatSGD if name == "FlatSGD" else getattr(optim, name)


def _case_id(case):
    name, options = case
    return name + "-" + "-".join(f"{key}={value}" for key, value in options.items())


def _gradients(shapes, dtype, seed):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(shape).astype(dtype) for shape in shapes] for _ in range(STEPS)]


def _params(shapes, dtype, seed=0):
    rng = np.random.default_rng(100 + seed)
    return [ember.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
            for shape in shapes]


def _train(name, options, foreach, shapes=SHAPES, dtype=np.float32, missing=None, groups=None):
    """Params after STEPS steps; ``missing(step)`` names the parameter indices without a
    gradient at that step; ``groups`` splits the parameters into groups with extra options."""
    params = _params(shapes, dtype)
    spec = params if groups is None else [{"params": [params[index] for index in indices],
                                           **extra} for indices, extra in groups]
    opt = _optimizer_class(name)(spec, foreach=foreach, **options)
    for step, step_gradients in enumerate(_gradients(shapes, dtype, 1)):
        skipped = missing(step) if missing is not None else ()
        for index, (param, gradient) in enumerate(zip(params, step_gradients)):
            param.grad = None if index in skipped else ember.tensor(gradient)
        opt.step()
    return opt, params


def _assert_same(first, second):
    (first_opt, first_params), (second_opt, second_params) = first, second
    for param, other in zip(first_params, second_params):
        assert param.dtype == other.dtype
        np.testing.assert_array_equal(param.detach().numpy(), other.detach().numpy())
    first_state = first_opt.state_dict()
    second_state = second_opt.state_dict()
    for group, other_group in zip(first_state["param_groups"], second_state["param_groups"]):
        assert {**group, "foreach": None} == {**other_group, "foreach": None}
    assert list(first_state["state"]) == list(second_state["state"])
    for index, entry in first_state["state"].items():
        other_entry = second_state["state"][index]
        assert list(entry) == list(other_entry)  # PyTorch's key order
        for key, value in entry.items():
            assert value.dtype == other_entry[key].dtype
            assert value.shape == other_entry[key].shape
            np.testing.assert_array_equal(value.numpy(), other_entry[key].numpy())


@pytest.mark.parametrize("case", CASES, ids=_case_id)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flat_step_equals_the_per_parameter_loop(case, dtype):
    name, options = case
    flat = _train(name, options, None, dtype=dtype)
    assert len(flat[0]._foreach_plans) == 1  # the flat path did run
    _assert_same(flat, _train(name, options, False, dtype=dtype))


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_steps_where_some_parameters_get_no_gradient(case):
    name, options = case

    def missing(step):
        # Alternate full steps (flat) and partial ones (per parameter, state started late).
        return {0: (1, 4), 3: (2,), 4: (2, 7), 8: (9,)}.get(step, ())

    _assert_same(_train(name, options, None, missing=missing),
                 _train(name, options, False, missing=missing))


@pytest.mark.parametrize("case", CASES[1::2], ids=_case_id)
def test_a_parameter_that_never_gets_a_gradient(case):
    name, options = case
    flat = _train(name, options, None, missing=lambda step: (3,))
    _assert_same(flat, _train(name, options, False, missing=lambda step: (3,)))
    state = flat[0].state_dict()["state"]
    assert 3 not in state or float(state[3]["step"]) == 0  # Adagrad starts state up front


@pytest.mark.parametrize("name", ["FlatSGD", "Adam", "AdamW"])
def test_param_groups_with_different_options(name):
    base = dict(CASES[[case[0] for case in CASES].index(name)][1])
    groups = [([0, 2, 4, 6], {"lr": 0.003}),
              ([1, 3, 5], {"weight_decay": 0.2, "maximize": True}),
              ([7, 8, 9], {"lr": 0.2} if name == "FlatSGD" else {"amsgrad": True})]
    if name == "FlatSGD":
        base["momentum"] = 0.9
    flat = _train(name, base, None, groups=groups, missing=lambda step: (5,) if step == 2 else ())
    # Adam's parameter 5 lags a step behind the rest of its group from then on: that group
    # keeps the per-parameter loop (one bias correction per step count).
    assert len(flat[0]._foreach_plans) == (3 if name == "FlatSGD" else 2)
    _assert_same(flat, _train(name, base, False, groups=groups,
                              missing=lambda step: (5,) if step == 2 else ()))


def test_mixed_dtypes_take_the_per_parameter_loop():
    params = [ember.ones(3, requires_grad=True),
              ember.ones(2, dtype=ember.float64, requires_grad=True)]
    opt = optim.Adam(params, lr=0.1)
    for param in params:
        param.grad = ember.ones_like(param)
    opt.step()
    assert opt._foreach_plans == {}
    assert params[0].dtype == ember.float32
    assert opt.state[params[0]]["exp_avg"].dtype == ember.float32
    np.testing.assert_allclose(params[1].detach().numpy(), [0.9, 0.9])


def test_state_tensors_stay_live_views():
    """A state tensor taken earlier is the one the flat steps keep updating, also when the plan
    is built from per-parameter state (after a step without some gradients)."""
    results = []
    for foreach in (None, False):
        params = _params(SHAPES[:4], np.float32)
        opt = FlatSGD(params, lr=0.1, momentum=0.9, foreach=foreach)
        params[0].grad = ember.ones_like(params[0])
        opt.step()  # only params[0] has a gradient: per parameter
        held = opt.state[params[0]]["momentum_buffer"]
        for step in range(3):
            for param in params:
                param.grad = ember.full(tuple(param.shape), float(step))
            opt.step()  # per parameter (a partly started group), then flat
        assert opt.state[params[0]]["momentum_buffer"] is held
        assert bool(opt._foreach_plans) == (foreach is None)
        results.append((opt, params))
        # 1 * 0.9**3 + 0 * 0.9**2 + 1 * 0.9 + 2
        np.testing.assert_allclose(held.numpy(), np.full((3, 4), 0.9 ** 3 + 0.9 + 2), rtol=1e-6)
    _assert_same(*results)


def test_state_dict_round_trip_then_flat_steps_continue_identically():
    name, options = "Adam", {"lr": 0.01, "amsgrad": True}
    original = _train(name, options, None)
    saved = original[0].state_dict()
    for foreach in (None, False):
        params = [ember.tensor(param.detach().numpy().copy(), requires_grad=True)
                  for param in original[1]]
        resumed = optim.Adam(params, foreach=foreach, **options)
        resumed.load_state_dict(saved)
        for param, gradient in zip(params, _gradients(SHAPES, np.float32, 7)[0]):
            param.grad = ember.tensor(gradient)
        resumed.step()
        if foreach is None:
            flat = (resumed, params)
            assert resumed._foreach_plans
        else:
            _assert_same(flat, (resumed, params))
    assert float(saved["state"][0]["step"]) == STEPS  # loading copied, it did not share


def test_writes_to_the_state_are_seen():
    """Replacing a state tensor or its data, or loading a state_dict, rebuilds the plan."""
    params = _params(SHAPES[:3], np.float32)
    reference_params = _params(SHAPES[:3], np.float32)
    opt = FlatSGD(params, lr=0.1, momentum=0.9)
    reference = FlatSGD(reference_params, lr=0.1, momentum=0.9, foreach=False)

    def step():
        for param, other in zip(params, reference_params):
            param.grad = ember.ones_like(param)
            other.grad = ember.ones_like(other)
        opt.step()
        reference.step()

    step()
    step()
    for optimizer, param in ((opt, params[1]), (reference, reference_params[1])):
        optimizer.state[param]["momentum_buffer"] = ember.full(tuple(param.shape), 5.0)
    step()
    for optimizer, param in ((opt, params[2]), (reference, reference_params[2])):
        optimizer.state[param]["momentum_buffer"].data = ember.full(tuple(param.shape), -2.0)
    step()
    for optimizer, param in ((opt, params[0]), (reference, reference_params[0])):
        optimizer.state[param]["momentum_buffer"].mul_(3.0)  # in place: the view itself
    step()
    _assert_same((opt, params), (reference, reference_params))


def test_a_step_count_changed_by_hand_takes_the_per_parameter_loop():
    params = _params(SHAPES[:3], np.float32)
    reference_params = _params(SHAPES[:3], np.float32)
    opt = optim.Adam(params, lr=0.1)
    reference = optim.Adam(reference_params, lr=0.1, foreach=False)
    for count in range(3):
        for optimizer, group in ((opt, params), (reference, reference_params)):
            for param in group:
                param.grad = ember.ones_like(param)
            if count == 2:
                optimizer.state[group[1]]["step"].fill_(7.0)
            optimizer.step()
    _assert_same((opt, params), (reference, reference_params))
    assert float(opt.state[params[1]]["step"]) == 8.0


def test_deep_copy_and_pickle_rebuild_their_own_plan():
    import pickle
    name, options = "Adam", {"lr": 0.01}
    original = _train(name, options, None)
    clone = copy.deepcopy(original)
    restored = pickle.loads(pickle.dumps(original))
    assert clone[0]._foreach_plans == {} and restored[0]._foreach_plans == {}
    for opt, params in (original, clone, restored):
        for param, gradient in zip(params, _gradients(SHAPES, np.float32, 9)[0]):
            param.grad = ember.tensor(gradient)
        opt.step()
    _assert_same(original, clone)
    _assert_same(original, restored)


def test_a_non_contiguous_parameter():
    shapes = [(3, 4), (6, 5), (_foreach.SOLO_ELEMENTS, 2)]
    results = []
    for foreach in (None, False):
        params = _params(shapes, np.float32)
        for index in (1, 2):
            transposed = np.ascontiguousarray(params[index].detach().numpy().T)
            params[index].data = ember.tensor(transposed).t()
            assert not params[index]._data.flags.c_contiguous
        opt = optim.AdamW(params, lr=0.1, foreach=foreach)
        for step_gradients in _gradients(shapes, np.float32, 3)[:3]:
            for param, gradient in zip(params, step_gradients):
                param.grad = ember.tensor(gradient)
            opt.step()
        results.append((opt, params))
    _assert_same(*results)


def test_duplicate_parameters_take_the_per_parameter_loop():
    param = ember.ones(3, requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        opt = FlatSGD([param, param], lr=0.1)
    param.grad = ember.ones(3)
    opt.step()
    assert opt._foreach_plans == {}
    np.testing.assert_allclose(param.detach().numpy(), np.full(3, 0.8), rtol=1e-6)


def test_flat_step_matches_torch(torch):
    """Several chunks of float32 parameters against torch's own Adam, AdamW, RMSprop, Adagrad."""
    for name, options in (CASES[5], CASES[8], CASES[10], CASES[11]):
        opt, params = _train(name, options, None)
        torch_params = [torch.tensor(param, requires_grad=True)
                        for param in (array.detach().numpy() for array in _params(SHAPES,
                                                                                   np.float32))]
        torch_opt = getattr(torch.optim, name)(torch_params, **options)
        for step_gradients in _gradients(SHAPES, np.float32, 1):
            for param, gradient in zip(torch_params, step_gradients):
                param.grad = torch.tensor(gradient)
            torch_opt.step()
        for param, torch_param in zip(params, torch_params):
            np.testing.assert_allclose(param.detach().numpy(), torch_param.detach().numpy(),
                                       rtol=1e-5, atol=1e-6)
