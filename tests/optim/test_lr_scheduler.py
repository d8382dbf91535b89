"""Learning-rate schedulers: every value against PyTorch, state_dict round trips, errors."""
import json
import math
import warnings

import numpy as np
import pytest

import ember
from ember import optim
from ember.optim import lr_scheduler
from tests.conftest import assert_raises_like_torch

STEPS = 30


def _scale(epoch):
    return 0.95 ** epoch


# name, scheduler kwargs, optimizer name, optimizer kwargs
CASES = [
    ("StepLR", {"step_size": 4, "gamma": 0.5}, "SGD", {}),
    ("MultiStepLR", {"milestones": [3, 7, 7, 20], "gamma": 0.3}, "SGD", {}),
    ("ExponentialLR", {"gamma": 0.9}, "Adam", {}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}, "SGD", {}),
    ("CosineAnnealingLR", {"T_max": 30}, "Adam", {}),
    ("LinearLR", {"start_factor": 0.2, "end_factor": 0.9, "total_iters": 8}, "SGD", {}),
    ("LinearLR", {}, "Adam", {}),
    ("LambdaLR", {"lr_lambda": _scale}, "SGD", {}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": STEPS}, "SGD", {"momentum": 0.9}),
    ("OneCycleLR", {"max_lr": [0.5, 0.2], "epochs": 3, "steps_per_epoch": 10,
                    "anneal_strategy": "linear", "three_phase": True}, "SGD", {"momentum": 0.9}),
    ("OneCycleLR", {"max_lr": 0.01, "total_steps": STEPS, "pct_start": 0.25,
                    "div_factor": 10.0, "final_div_factor": 100.0}, "Adam", {}),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": STEPS, "cycle_momentum": False}, "Adagrad", {}),
    ("ConstantLR", {"factor": 0.5, "total_iters": 4}, "SGD", {}),
    ("MultiplicativeLR", {"lr_lambda": lambda epoch: 0.97}, "SGD", {}),
    ("PolynomialLR", {"total_iters": 12, "power": 2.0}, "SGD", {}),
    ("CosineAnnealingWarmRestarts", {"T_0": 5, "T_mult": 2, "eta_min": 0.001}, "SGD", {}),
    ("CosineAnnealingWarmRestarts", {"T_0": 4}, "Adam", {}),
]


def _case_id(case):
    return case[0] + "-" + case[2] + "-" + "-".join(f"{key}" for key in case[1])


def _optimizer(library, module, name, options):
    first = library.zeros(2, requires_grad=True)
    second = library.zeros(3, requires_grad=True)
    groups = [{"params": [first]}, {"params": [second], "lr": 0.05}]
    return getattr(module, name)(groups, lr=0.1, **options)


def _trace(library, module, case, steps=STEPS):
    name, options, optimizer_name, optimizer_options = case
    opt = _optimizer(library, module.optim, optimizer_name, optimizer_options)
    scheduler = getattr(module.optim.lr_scheduler, name)(opt, **options)
    trace = [list(scheduler.get_last_lr())]
    momenta = [_momenta(opt)]
    for _ in range(steps):
        opt.step()
        scheduler.step()
        trace.append(list(scheduler.get_last_lr()))
        momenta.append(_momenta(opt))
        assert [group["lr"] for group in opt.param_groups] == trace[-1]
    return trace, momenta


def _momenta(opt):
    return [group.get("momentum", group.get("betas", (None,))[0]) for group in opt.param_groups]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_matches_torch(torch, case):
    expected, expected_momenta = _trace(torch, torch, case)
    actual, actual_momenta = _trace(ember, ember, case)
    np.testing.assert_allclose(actual, expected, rtol=1e-7, atol=0)
    if expected_momenta[0][0] is not None:
        np.testing.assert_allclose(actual_momenta, expected_momenta, rtol=1e-7, atol=0)


def _sequential(library):
    opt = _optimizer(library, library.optim, "SGD", {})
    schedulers = library.optim.lr_scheduler
    warmup = schedulers.LinearLR(opt, start_factor=0.1, total_iters=5)
    decay = schedulers.ExponentialLR(opt, gamma=0.8)
    cosine = schedulers.CosineAnnealingLR(opt, T_max=6)
    return opt, schedulers.SequentialLR(opt, [warmup, decay, cosine], milestones=[5, 12])


def test_sequential_matches_torch(torch):
    traces = []
    for library in (torch, ember):
        opt, scheduler = _sequential(library)
        trace = [list(scheduler.get_last_lr())]
        for _ in range(STEPS):
            opt.step()
            scheduler.step()
            trace.append(list(scheduler.get_last_lr()))
        traces.append(trace)
    np.testing.assert_allclose(traces[1], traces[0], rtol=1e-7, atol=0)


METRICS = [1.0, 0.9, 0.9, 0.95, 0.91, 0.9, 0.9, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5, 0.6, 0.7, 0.49999,
           0.5, 0.5, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]


@pytest.mark.parametrize("options", [
    {"patience": 2},
    {"patience": 1, "factor": 0.5, "cooldown": 2, "min_lr": 0.01},
    {"patience": 0, "threshold": 0.1, "threshold_mode": "abs", "min_lr": [0.02, 0.0]},
    {"mode": "max", "patience": 1, "factor": 0.3},
    {"mode": "max", "threshold_mode": "abs", "patience": 2, "eps": 0.05},
])
def test_reduce_on_plateau_matches_torch(torch, options):
    traces = []
    for library in (torch, ember):
        opt = _optimizer(library, library.optim, "SGD", {})
        scheduler = library.optim.lr_scheduler.ReduceLROnPlateau(opt, **options)
        trace = []
        for metric in METRICS:
            opt.step()
            scheduler.step(metric)
            trace.append(list(scheduler.get_last_lr()))
        traces.append((trace, scheduler.num_bad_epochs, scheduler.cooldown_counter,
                       scheduler.best))
    np.testing.assert_allclose(traces[1][0], traces[0][0], rtol=1e-7, atol=0)
    assert traces[1][1:] == traces[0][1:]


def _json(value):
    return json.loads(json.dumps(value))


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_state_dict_round_trip_through_json(case):
    name, options, optimizer_name, optimizer_options = case
    opt = _optimizer(ember, optim, optimizer_name, optimizer_options)
    scheduler = getattr(lr_scheduler, name)(opt, **options)
    for _ in range(11):
        opt.step()
        scheduler.step()
    scheduler_state = _json(scheduler.state_dict())
    optimizer_state = opt.state_dict()
    assert "optimizer" not in scheduler_state
    # PyTorch's documented order: build the scheduler, then load the optimizer, then the scheduler.
    resumed_opt = _optimizer(ember, optim, optimizer_name, optimizer_options)
    resumed = getattr(lr_scheduler, name)(resumed_opt, **options)
    resumed_opt.load_state_dict(optimizer_state)
    resumed.load_state_dict(scheduler_state)
    for _ in range(STEPS - 11):
        opt.step()
        scheduler.step()
        resumed_opt.step()
        resumed.step()
        assert resumed.get_last_lr() == scheduler.get_last_lr()
        assert _momenta(resumed_opt) == _momenta(opt)


def test_sequential_and_plateau_state_dicts_round_trip():
    opt, scheduler = _sequential(ember)
    for _ in range(8):
        opt.step()
        scheduler.step()
    state = _json(scheduler.state_dict())
    resumed_opt, resumed = _sequential(ember)
    resumed_opt.load_state_dict(opt.state_dict())
    resumed.load_state_dict(state)
    for _ in range(10):
        opt.step()
        scheduler.step()
        resumed_opt.step()
        resumed.step()
        assert resumed.get_last_lr() == scheduler.get_last_lr()

    opt = _optimizer(ember, optim, "SGD", {})
    plateau = lr_scheduler.ReduceLROnPlateau(opt, patience=1)
    for metric in METRICS[:9]:
        plateau.step(metric)
    state = plateau.state_dict()
    assert state["best"] == 0.5 and "optimizer" not in state
    other = lr_scheduler.ReduceLROnPlateau(_optimizer(ember, optim, "SGD", {}), patience=1)
    other.load_state_dict(_json(state))
    assert other.best == plateau.best and other.num_bad_epochs == plateau.num_bad_epochs


def test_lambda_state_dict_leaves_functions_out():
    opt = _optimizer(ember, optim, "SGD", {})

    class Schedule:
        def __init__(self):
            self.factor = 0.5

        def __call__(self, epoch):
            return self.factor ** epoch

    scheduler = lr_scheduler.LambdaLR(opt, [lambda epoch: 1.0, Schedule()])
    state = scheduler.state_dict()
    assert state["lr_lambdas"] == [None, {"factor": 0.5}]
    json.dumps(state)


def test_initial_lr_and_first_step():
    opt = _optimizer(ember, optim, "SGD", {})
    scheduler = lr_scheduler.StepLR(opt, step_size=2)
    assert [group["initial_lr"] for group in opt.param_groups] == [0.1, 0.05]
    assert scheduler.last_epoch == 0
    assert scheduler.base_lrs == [0.1, 0.05]


def test_warns_when_stepped_before_optimizer():
    opt = _optimizer(ember, optim, "SGD", {})
    scheduler = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        scheduler.step()
    opt = _optimizer(ember, optim, "SGD", {})
    scheduler = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scheduler.step()


def test_resuming_without_initial_lr_raises(torch):
    messages = []
    for library in (ember, torch):
        opt = _optimizer(library, library.optim, "SGD", {})
        with pytest.raises(KeyError, match="initial_lr") as raised:
            library.optim.lr_scheduler.StepLR(opt, step_size=2, last_epoch=3)
        messages.append(str(raised.value))
    assert messages[0] == messages[1]


def test_closed_form_with_epoch_argument():
    opt = _optimizer(ember, optim, "SGD", {})
    scheduler = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    opt.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        scheduler.step(5)
    assert math.isclose(scheduler.get_last_lr()[0], 0.05 * (1 + math.cos(math.pi / 2)) + 0.0)


@pytest.mark.parametrize("make, error, message", [
    (lambda opt: lr_scheduler.StepLR(object(), 2), TypeError, "object is not an Optimizer"),
    (lambda opt: lr_scheduler.LinearLR(opt, start_factor=0), ValueError,
     "Starting multiplicative factor"),
    (lambda opt: lr_scheduler.LinearLR(opt, end_factor=2), ValueError,
     "Ending multiplicative factor"),
    (lambda opt: lr_scheduler.LambdaLR(opt, [_scale]), ValueError, "Expected 2 lr_lambdas"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, 0.1), ValueError, "You must define either"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, 0.1, total_steps=0), ValueError,
     "Expected positive integer total_steps"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, 0.1, total_steps=5, pct_start=1), ValueError,
     "pct_start"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, 0.1, total_steps=5, anneal_strategy="x"),
     ValueError, "anneal_strategy"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, [0.1], total_steps=5), ValueError,
     "max_lr must have the same length"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, factor=1.0), ValueError,
     "Factor should be < 1.0."),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, mode="up"), ValueError, "mode up is unknown"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1]), ValueError,
     "expected 2 min_lrs, got 1"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [], []), ValueError, "at least one scheduler"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2)], [3]), ValueError,
     "one more than the number of milestone points"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.ReduceLROnPlateau(opt)], []),
     ValueError, "does not support `ReduceLROnPlateau`"),
])
def test_errors(make, error, message):
    opt = _optimizer(ember, optim, "SGD", {})
    with pytest.raises(error, match=message):
        make(opt)


def test_one_cycle_needs_momentum_when_cycling():
    opt = optim.Adagrad([ember.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        lr_scheduler.OneCycleLR(opt, 0.1, total_steps=5)


def test_one_cycle_refuses_to_step_past_the_end():
    opt = optim.SGD([ember.zeros(2, requires_grad=True)], momentum=0.9)
    scheduler = lr_scheduler.OneCycleLR(opt, 0.1, total_steps=3)
    opt.step()
    for _ in range(3):
        scheduler.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        scheduler.step()


def test_chained_matches_torch(torch):
    traces = []
    for library in (torch, ember):
        opt = _optimizer(library, library.optim, "SGD", {})
        schedulers = library.optim.lr_scheduler
        chained = schedulers.ChainedScheduler([
            schedulers.ConstantLR(opt, factor=0.2, total_iters=3),
            schedulers.ExponentialLR(opt, gamma=0.9)])
        trace = [list(chained.get_last_lr())]
        for _ in range(STEPS):
            opt.step()
            chained.step()
            trace.append(list(chained.get_last_lr()))
        traces.append(trace)
    np.testing.assert_allclose(traces[1], traces[0], rtol=1e-7, atol=0)


def test_warm_restarts_with_fractional_epochs_match_torch(torch):
    traces = []
    for library in (torch, ember):
        opt = _optimizer(library, library.optim, "SGD", {})
        scheduler = library.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2)
        trace = []
        for epoch in np.arange(0, 20, 0.25).tolist():
            opt.step()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scheduler.step(epoch)
            trace.append(list(scheduler.get_last_lr()))
        traces.append(trace)
    np.testing.assert_allclose(traces[1], traces[0], rtol=1e-7, atol=0)


@pytest.mark.parametrize("options", [
    {"mode": "triangular", "step_size_up": 3},
    {"mode": "triangular2", "step_size_up": 2, "step_size_down": 4},
    {"mode": "exp_range", "gamma": 0.9, "step_size_up": 3},
    {"scale_fn": lambda x: 0.5 ** x, "scale_mode": "iterations", "step_size_up": 2},
    {"mode": "triangular", "step_size_up": 3, "cycle_momentum": False}])
@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam"])
def test_cyclic_lr_matches_torch(torch, options, optimizer_name):
    schedules = []
    for module in (ember, torch):
        parameter = module.nn.Parameter(module.zeros(2))
        extra = {"momentum": 0.9} if optimizer_name == "SGD" else {}
        optimizer = getattr(module.optim, optimizer_name)([parameter], lr=0.1, **extra)
        scheduler = module.optim.lr_scheduler.CyclicLR(optimizer, base_lr=0.01, max_lr=0.1,
                                                       **options)
        trace = []
        for _ in range(14):
            optimizer.step()
            scheduler.step()
            group = optimizer.param_groups[0]
            momentum = group["betas"][0] if optimizer_name == "Adam" else group["momentum"]
            trace.append((scheduler.get_last_lr()[0], momentum))
        schedules.append(trace)
    np.testing.assert_allclose(np.array(schedules[0]), np.array(schedules[1]), rtol=1e-12)


def test_cyclic_lr_errors_and_state_match_torch(torch):
    for module in (ember, torch):
        parameter = module.nn.Parameter(module.zeros(2))
        with pytest.raises(ValueError, match="cycle_momentum"):
            module.optim.lr_scheduler.CyclicLR(module.optim.Adagrad([parameter]), 0.01, 0.1)
        with pytest.raises(ValueError, match="mode is invalid"):
            module.optim.lr_scheduler.CyclicLR(module.optim.SGD([parameter], lr=0.1), 0.01, 0.1,
                                               mode="x")
    parameter = ember.nn.Parameter(ember.zeros(2))
    optimizer = ember.optim.SGD([parameter], lr=0.1, momentum=0.9)
    scheduler = ember.optim.lr_scheduler.CyclicLR(optimizer, 0.01, 0.1, step_size_up=2,
                                                  scale_fn=lambda x: 1.0)
    state = scheduler.state_dict()
    assert state["_scale_fn_custom"] is None and state["total_size"] == 4.0


def test_cyclic_lr_state_dict_keeps_a_callable_scale_fn_like_torch(torch):
    # PyTorch saves a callable object's __dict__ under _scale_fn_custom and restores it on load
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, x):
            return self.rate ** x

    states = []
    for module in (ember, torch):
        parameter = module.nn.Parameter(module.zeros(2))
        optimizer = module.optim.SGD([parameter], lr=0.1, momentum=0.9)
        scheduler = module.optim.lr_scheduler.CyclicLR(optimizer, 0.01, 0.1, step_size_up=2,
                                                       scale_fn=Decay(0.5))
        state = scheduler.state_dict()
        states.append({key: state[key] for key in ("_scale_fn_custom", "total_size")})
        assert "_scale_fn_ref" not in state
        fresh = module.optim.lr_scheduler.CyclicLR(optimizer, 0.01, 0.1, step_size_up=2,
                                                   scale_fn=Decay(0.9))
        fresh.load_state_dict(state)
        assert fresh._scale_fn_custom.rate == 0.5
    assert states[0] == states[1] == {"_scale_fn_custom": {"rate": 0.5}, "total_size": 4.0}


def test_old_base_class_name_subclassed_like_torch(torch):
    # Custom schedulers written before PyTorch 2.0 subclass ``_LRScheduler``
    def run(library):
        class Halving(library.optim.lr_scheduler._LRScheduler):
            def get_lr(self):
                return [group["lr"] * 0.5 for group in self.optimizer.param_groups]

        optimizer = library.optim.SGD([library.zeros(2, requires_grad=True)], lr=1.0)
        scheduler = Halving(optimizer)
        rates = []
        for _ in range(3):
            optimizer.step()
            scheduler.step()
            rates.append(scheduler.get_last_lr()[0])
        assert isinstance(scheduler, library.optim.lr_scheduler.LRScheduler)
        return rates, sorted(scheduler.state_dict())

    assert run(ember) == run(torch)


@pytest.mark.parametrize("order", ["Ss", "oSs", "Sos", "oSTs", "SoTs", "STos", "oSss", "oSos"])
def test_step_before_optimizer_warning_counts_steps_from_the_first_scheduler(torch, order):
    """PyTorch wraps optimizer.step when the optimizer's first scheduler is built: an optimizer
    step taken before ('o' before 'S') does not silence the 'before optimizer.step()' warning;
    a second scheduler ('T') does not reset the count."""
    def warnings_of(library):
        parameter = library.nn.Parameter(library.ones(2))
        optimizer = library.optim.SGD([parameter], lr=0.1)
        scheduler = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for action in order:
                if action == "o":
                    optimizer.step()
                elif action == "S":
                    scheduler = library.optim.lr_scheduler.StepLR(optimizer, 1)
                elif action == "T":
                    library.optim.lr_scheduler.ExponentialLR(optimizer, 0.9)
                else:
                    scheduler.step()
        return [str(warning.message) for warning in caught]

    assert warnings_of(ember) == warnings_of(torch)


SCHEDULER_MAKERS = {
    "StepLR": lambda library, optimizer: library.optim.lr_scheduler.StepLR(optimizer, 1, 0.5),
    "MultiStepLR": lambda library, optimizer: library.optim.lr_scheduler.MultiStepLR(
        optimizer, [1, 2], 0.5),
    "CosineAnnealingLR": lambda library, optimizer: library.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, 4),
    "CyclicLR": lambda library, optimizer: library.optim.lr_scheduler.CyclicLR(
        optimizer, 0.01, 0.1, cycle_momentum=False),
}


@pytest.mark.parametrize("source, target", [("StepLR", "MultiStepLR"),
                                            ("CosineAnnealingLR", "MultiStepLR"),
                                            ("StepLR", "CyclicLR"), ("MultiStepLR", "CyclicLR")])
def test_loading_another_schedulers_state_goes_as_in_torch(torch, source, target):
    """PyTorch's load_state_dict updates the attributes it is given (MultiStepLR takes a StepLR's
    state and keeps its milestones); CyclicLR pops '_scale_fn_custom', a KeyError where absent."""
    def load(library):
        optimizer = library.optim.SGD([library.nn.Parameter(library.ones(2))], lr=0.1)
        scheduler = SCHEDULER_MAKERS[source](library, optimizer)
        optimizer.step()
        scheduler.step()
        other_optimizer = library.optim.SGD([library.nn.Parameter(library.ones(2))], lr=0.1)
        other = SCHEDULER_MAKERS[target](library, other_optimizer)
        other.load_state_dict(scheduler.state_dict())
        other_optimizer.step()
        other.step()
        return other_optimizer.param_groups[0]["lr"], other.last_epoch

    try:
        expected = load(torch)
    except KeyError:
        assert_raises_like_torch(lambda: load(torch), lambda: load(ember), KeyError)
        return
    assert load(ember) == pytest.approx(expected, rel=1e-12)


def test_add_param_group_of_a_non_dict_names_the_type_as_torch(torch):
    assert_raises_like_torch(
        lambda: torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1).add_param_group([1]),
        lambda: ember.optim.SGD([ember.nn.Parameter(ember.ones(1))], lr=0.1).add_param_group([1]),
        TypeError, same_type=True)
