"""Adamax, NAdam, RAdam, Adadelta, Rprop, ASGD: update rules, param groups and state_dict
against PyTorch."""
import numpy as np
import pytest

import ember
from ember import optim
from tests.conftest import (
    assert_float32_close, optimizer_case_id, optimizer_data, run_optimizer)

CASES = [
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adamax", {"lr": 0.02, "maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.2, "decoupled_weight_decay": True,
               "maximize": True}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.9), "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.2, "decoupled_weight_decay": True,
               "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.1}),
    ("Adadelta", {"maximize": True}),
    ("Rprop", {}),
    ("Rprop", {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2)}),
    ("Rprop", {"maximize": True}),
    ("ASGD", {}),
    ("ASGD", {"lr": 0.05, "lambd": 0.01, "alpha": 0.5, "t0": 5, "weight_decay": 0.1}),
    ("ASGD", {"lr": 0.02, "t0": 3, "maximize": True}),
]

GROUP_OVERRIDES = {
    "Adamax": {"lr": 0.003, "betas": (0.5, 0.9)},
    "NAdam": {"lr": 0.003, "momentum_decay": 0.02},
    "RAdam": {"lr": 0.003, "weight_decay": 0.05},
    "Adadelta": {"lr": 0.3, "rho": 0.5},
    # Rprop has no weight decay: PyTorch keeps the group's key but ignores it
    "Rprop": {"lr": 0.003, "etas": (0.4, 1.1), "weight_decay": 0.5},
    "ASGD": {"lr": 0.003, "t0": 4},
}


@pytest.mark.parametrize("case", CASES, ids=optimizer_case_id)
def test_matches_torch(torch, case):
    name, options = case
    initial, gradients = optimizer_data()
    _, expected = run_optimizer(torch, name, options, initial, gradients, skip=4)
    _, actual = run_optimizer(ember, name, options, initial, gradients, skip=4)
    assert_float32_close(actual, expected)


@pytest.mark.parametrize("name", sorted(GROUP_OVERRIDES))
def test_param_groups_and_state_dict_match_torch(torch, name):
    initial, gradients = optimizer_data(1)
    torch_opt, expected = run_optimizer(torch, name, {}, initial, gradients,
                                        GROUP_OVERRIDES[name])
    ember_opt, actual = run_optimizer(ember, name, {}, initial, gradients,
                                      GROUP_OVERRIDES[name])
    assert_float32_close(actual, expected)
    torch_state = torch_opt.state_dict()
    ember_state = ember_opt.state_dict()
    assert ember_state["param_groups"] == torch_state["param_groups"]
    assert sorted(ember_state["state"]) == sorted(torch_state["state"])
    for index, torch_entry in torch_state["state"].items():
        ember_entry = ember_state["state"][index]
        assert list(ember_entry) == list(torch_entry)
        for key, value in torch_entry.items():
            assert ember_entry[key].dtype == ember.float32
            np.testing.assert_allclose(ember_entry[key].numpy(), value.numpy(), rtol=1e-5,
                                       atol=1e-6)


@pytest.mark.parametrize("name", sorted(GROUP_OVERRIDES))
def test_state_dict_round_trip_continues_identically(name):
    initial, gradients = optimizer_data(2)
    straight, expected = run_optimizer(ember, name, {}, initial, gradients)
    first, middle = run_optimizer(ember, name, {}, initial, gradients[:10])
    saved = first.state_dict()
    _, resumed = run_optimizer(ember, name, {}, middle, gradients[10:], state=saved)
    for got, want in zip(resumed, expected):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name, options, message", [
    ("Adamax", {"lr": -1.0}, "Invalid learning rate: -1.0"),
    ("NAdam", {"betas": (0.9, 1.0)}, "Invalid beta parameter at index 1: 1.0"),
    ("NAdam", {"momentum_decay": -0.1}, "Invalid momentum_decay value: -0.1"),
    ("RAdam", {"eps": -1.0}, "Invalid epsilon value: -1.0"),
    ("Adadelta", {"rho": 1.5}, "Invalid rho value: 1.5"),
    ("Rprop", {"etas": (1.5, 2.0)}, "Invalid eta values: 1.5, 2.0"),
    ("ASGD", {"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
])
def test_invalid_options_raise_like_torch(torch, name, options, message):
    with pytest.raises(ValueError, match=message):
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **options)
    with pytest.raises(ValueError, match=message):
        getattr(optim, name)([ember.zeros(2, requires_grad=True)], **options)


def test_reprs_list_the_same_options_as_torch(torch):
    for name in GROUP_OVERRIDES:
        torch_opt = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)])
        ember_opt = getattr(optim, name)([ember.zeros(2, requires_grad=True)])
        assert repr(ember_opt) == repr(torch_opt)


# ---- LBFGS -----------------------------------------------------------------------------------
def _rosenbrock_run(library, dtype, steps=4, state=None, start=None, **options):
    initial = np.array([-1.5, 2.0, 0.5, -0.7]) if start is None else start
    param = library.tensor(initial.astype(dtype), requires_grad=True)
    opt = library.optim.LBFGS([param], **options)
    if state is not None:
        opt.load_state_dict(state)

    def closure():
        opt.zero_grad()
        loss = (100 * (param[1:] - param[:-1] ** 2) ** 2 + (1 - param[:-1]) ** 2).sum()
        loss.backward()
        return loss

    losses = [float(opt.step(closure).detach()) for _ in range(steps)]
    return opt, param, losses


LBFGS_CASES = [
    {"max_iter": 5}, {"lr": 0.1, "max_iter": 6, "history_size": 3},
    {"line_search_fn": "strong_wolfe", "max_iter": 5},
    {"line_search_fn": "strong_wolfe", "history_size": 2, "max_iter": 8},
]


@pytest.mark.parametrize("options", LBFGS_CASES, ids=str)
def test_lbfgs_follows_torch_exactly_in_float64(torch, options):
    ours, our_param, our_losses = _rosenbrock_run(ember, np.float64, **options)
    theirs, their_param, their_losses = _rosenbrock_run(torch, np.float64, **options)
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-12)
    np.testing.assert_allclose(our_param.detach().numpy(), their_param.detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    our_state = ours.state[our_param]
    their_state = theirs.state[their_param]
    assert (our_state["n_iter"], our_state["func_evals"]) == (their_state["n_iter"],
                                                               their_state["func_evals"])
    assert sorted(our_state) == sorted(their_state)
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]


def test_lbfgs_matches_torch_in_float32_away_from_the_noise_floor(torch):
    options = {"lr": 0.1, "max_iter": 6, "history_size": 3}
    _, our_param, our_losses = _rosenbrock_run(ember, np.float32, **options)
    _, their_param, their_losses = _rosenbrock_run(torch, np.float32, **options)
    assert our_param.dtype == ember.float32
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-5)
    np.testing.assert_allclose(our_param.detach().numpy(), their_param.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_lbfgs_float32_steps_are_fused_multiply_adds_as_torchs(torch):
    # PyTorch moves the parameters and builds the direction with add_(alpha=...), a fused
    # multiply-add: rounding the product first put the second evaluation an ulp off already,
    # and the strong-Wolfe search then took three iterations more to converge
    def trace(library):
        param = library.tensor([1.5, -0.5], requires_grad=True)
        opt = library.optim.LBFGS([param], max_iter=50, line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-9, tolerance_change=1e-12)
        seen = []

        def closure():
            opt.zero_grad()
            loss = (1 - param[0]) ** 2 + 100 * (param[1] - param[0] ** 2) ** 2
            loss.backward()
            seen.append(param.detach().numpy().tolist() + [loss.item()])
            return loss

        opt.step(closure)
        return seen, opt.state[param]["n_iter"]

    assert trace(ember) == trace(torch)


def test_lbfgs_state_dict_round_trip_continues_identically():
    options = {"line_search_fn": "strong_wolfe", "history_size": 3, "max_iter": 4}
    _, straight_param, straight_losses = _rosenbrock_run(ember, np.float64, steps=4, **options)
    first, middle_param, first_losses = _rosenbrock_run(ember, np.float64, steps=2, **options)
    _, resumed_param, resumed_losses = _rosenbrock_run(
        ember, np.float64, steps=2, state=first.state_dict(),
        start=middle_param.detach().numpy(), **options)
    assert first_losses + resumed_losses == straight_losses
    np.testing.assert_array_equal(resumed_param.detach().numpy(),
                                  straight_param.detach().numpy())


def test_lbfgs_rejects_parameter_groups_and_bad_options_like_torch(torch):
    for library in (torch, ember):
        first = library.zeros(2, requires_grad=True)
        second = library.zeros(2, requires_grad=True)
        with pytest.raises(ValueError, match="doesn't support per-parameter options"):
            library.optim.LBFGS([{"params": [first]}, {"params": [second]}])
        with pytest.raises(ValueError, match="Invalid learning rate: -1"):
            library.optim.LBFGS([first], lr=-1)


# ---- rounding: PyTorch's fused multiply-adds -------------------------------------------------
def _states_after_steps(library, name, options, steps=4):
    """The parameter and every state array of ``name`` after ``steps`` steps of fixed float32
    gradients spanning several magnitudes."""
    generator = np.random.RandomState(0)
    start = generator.randn(4099).astype(np.float32)
    gradients = [(generator.randn(4099) * 10.0 ** generator.randint(-3, 1, 4099))
                 .astype(np.float32) for _ in range(steps)]
    param = library.nn.Parameter(library.tensor(start))
    optimizer = getattr(library.optim, name)([param], **options)
    for gradient in gradients:
        param.grad = library.tensor(gradient)
        optimizer.step()
    state = optimizer.state[param]
    arrays = {key: value.numpy() for key, value in state.items()
              if key != "step" and value.dim() == 1}
    return param.detach().numpy(), arrays


@pytest.mark.parametrize("name, options, moments_only", [
    ("Adam", {}, True), ("AdamW", {"amsgrad": True}, True), ("NAdam", {}, True),
    ("RAdam", {}, True), ("RMSprop", {"centered": True}, True), ("Adagrad", {}, True),
    ("Adamax", {}, False), ("ASGD", {"t0": 2}, False)])
def test_running_averages_round_as_torchs_fused_multiply_adds(torch, name, options,
                                                               moments_only):
    # lerp_ and addcmul_ (and add_ with alpha) are one-rounding multiply-adds in PyTorch;
    # rounding the product first moved a tenth of the averages by an ulp from the second step.
    # The parameters themselves also pass through PyTorch's sqrt (MKL's, not correctly rounded
    # on every CPU), so only optimizers without one are compared to the bit there.
    our_param, ours = _states_after_steps(ember, name, options)
    their_param, theirs = _states_after_steps(torch, name, options)
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)
    if not moments_only:
        np.testing.assert_array_equal(our_param, their_param)
