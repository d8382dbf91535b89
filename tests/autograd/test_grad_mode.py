"""Grad mode: nesting, restore on exceptions, threads, asyncio tasks, decorators, PyTorch parity."""

import asyncio
import contextlib
import inspect
import itertools
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ember.autograd._contextlib import DecoratorContextManager
from ember.autograd.grad_mode import (
    GradState,
    _grad_state,
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)

DEFAULT = GradState(True, False)


def state():
    """The state as the public API reports it, checked against the raw ContextVar."""
    public = (is_grad_enabled(), is_inference_mode_enabled())
    assert public == _grad_state.get()
    return public


@pytest.fixture(autouse=True)
def no_leaked_mode():
    """Every test starts in the default mode and must leave it there."""
    assert state() == DEFAULT
    yield
    leaked = _grad_state.get()
    _grad_state.set(DEFAULT)
    assert leaked == DEFAULT, f"test leaked grad state {leaked}"


# name -> (factory building the manager at enter time, state it sets given the previous state)
MODES = {
    "no_grad": (no_grad, lambda previous: (False, previous[1])),
    "enable_grad": (enable_grad, lambda previous: (True, previous[1])),
    "set_grad_enabled(True)": (
        lambda: set_grad_enabled(True),
        lambda previous: (True, previous[1]),
    ),
    "set_grad_enabled(False)": (
        lambda: set_grad_enabled(False),
        lambda previous: (False, previous[1]),
    ),
    "inference_mode()": (inference_mode, lambda previous: (False, True)),
    "inference_mode(False)": (lambda: inference_mode(False), lambda previous: (True, False)),
}


DECORATORS = {
    "@no_grad": (lambda: no_grad, (False, False)),
    "@no_grad()": (lambda: no_grad(), (False, False)),
    "@enable_grad": (lambda: enable_grad, (True, False)),
    "@enable_grad()": (lambda: enable_grad(), (True, False)),
    "@inference_mode": (lambda: inference_mode, (False, True)),
    "@inference_mode()": (lambda: inference_mode(), (False, True)),
    "@inference_mode(True)": (lambda: inference_mode(True), (False, True)),
    "@inference_mode(False)": (lambda: inference_mode(False), (True, False)),
    "@set_grad_enabled(False)": (lambda: set_grad_enabled(False), (False, False)),
    "@set_grad_enabled(True)": (lambda: set_grad_enabled(True), (True, False)),
}


# ---------------------------------------------------------------- state and nesting


def test_default_state():
    assert is_grad_enabled() is True
    assert is_inference_mode_enabled() is False
    assert _grad_state.get() == (True, False)


@pytest.mark.parametrize("names", list(itertools.product(MODES, repeat=3)), ids="/".join)
def test_nesting_every_combination_of_three(names):
    expected_stack = [DEFAULT]
    levels = []
    for name in names:
        factory, transition = MODES[name]
        level = contextlib.ExitStack()
        level.enter_context(factory())
        levels.append(level)
        expected_stack.append(transition(expected_stack[-1]))
        assert state() == expected_stack[-1]
    while levels:
        levels.pop().close()
        expected_stack.pop()
        assert state() == expected_stack[-1]
    assert state() == DEFAULT


@pytest.mark.parametrize("names", list(itertools.product(MODES, repeat=2)), ids="/".join)
def test_each_exit_restores_the_state_before_its_enter(names):
    outer_factory, outer_transition = MODES[names[0]]
    inner_factory, inner_transition = MODES[names[1]]
    with outer_factory():
        outer_state = outer_transition(DEFAULT)
        assert state() == outer_state
        with inner_factory():
            assert state() == inner_transition(outer_state)
        assert state() == outer_state
    assert state() == DEFAULT


def test_no_grad_inside_enable_grad_inside_no_grad():
    with no_grad():
        assert state() == (False, False)
        with enable_grad():
            assert state() == (True, False)
            with no_grad():
                assert state() == (False, False)
            assert state() == (True, False)
        assert state() == (False, False)
    assert state() == DEFAULT


def test_inference_mode_false_inside_no_grad_enables_grad():
    with no_grad():
        with inference_mode(False):
            assert state() == (True, False)
        assert state() == (False, False)


def test_inference_mode_false_inside_inference_mode_leaves_it():
    with inference_mode():
        with inference_mode(False):
            assert state() == (True, False)
        assert state() == (False, True)


def test_enable_grad_inside_inference_mode_keeps_inference():
    with inference_mode():
        assert state() == (False, True)
        with enable_grad():
            assert is_grad_enabled() is True
            assert is_inference_mode_enabled() is True
        assert state() == (False, True)


def test_enable_grad_outside_inference_mode_leaves_inference_off():
    with no_grad():
        with enable_grad():
            assert state() == (True, False)


def test_no_grad_inside_inference_mode_keeps_inference():
    with inference_mode():
        with no_grad():
            assert state() == (False, True)
        assert state() == (False, True)


def test_one_instance_entered_twice_restores_each_level():
    # Beyond PyTorch (whose reused no_grad() instance leaves grad off after both exits).
    manager = no_grad()
    with enable_grad():
        with manager:
            with enable_grad():
                with manager:
                    assert state() == (False, False)
                assert state() == (True, False)
            assert state() == (False, False)
        assert state() == (True, False)


# ---------------------------------------------------------------- exceptions


@pytest.mark.parametrize("name", list(MODES))
def test_exception_inside_with_propagates_and_restores(name):
    factory, _ = MODES[name]
    with no_grad():
        with pytest.raises(KeyError, match="boom"):
            with factory():
                raise KeyError("boom")
        assert state() == (False, False)
    assert state() == DEFAULT


@pytest.mark.parametrize("name", list(DECORATORS))
def test_exception_inside_decorated_function_propagates_and_restores(name):
    make_decorator, _ = DECORATORS[name]

    @make_decorator()
    def fail():
        raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        fail()
    assert state() == DEFAULT
    with inference_mode():
        with pytest.raises(ValueError, match="inside"):
            fail()
        assert state() == (False, True)


def test_exit_does_not_swallow_base_exceptions():
    with pytest.raises(KeyboardInterrupt):
        with no_grad():
            raise KeyboardInterrupt
    assert state() == DEFAULT


# ---------------------------------------------------------------- construction versus enter


def test_bare_no_grad_statement_changes_nothing():
    no_grad()
    assert state() == DEFAULT
    enable_grad()
    inference_mode()
    inference_mode(False)
    assert state() == DEFAULT
    with no_grad():
        enable_grad()
        inference_mode(False)
        assert state() == (False, False)


def test_set_grad_enabled_as_a_plain_call():
    set_grad_enabled(False)
    assert state() == (False, False)
    set_grad_enabled(False)
    assert state() == (False, False)
    set_grad_enabled(True)
    assert state() == DEFAULT


def test_set_grad_enabled_plain_call_keeps_inference_mode():
    with inference_mode():
        set_grad_enabled(True)
        assert state() == (True, True)
    assert state() == DEFAULT


def test_set_grad_enabled_exit_restores_the_state_from_before_construction():
    manager = set_grad_enabled(False)
    assert state() == (False, False)
    with no_grad():
        pass
    with manager:
        assert state() == (False, False)
    assert state() == DEFAULT


def test_set_grad_enabled_enter_sets_the_mode_again():
    manager = set_grad_enabled(False)
    set_grad_enabled(True)
    with manager:
        assert state() == (False, False)
    assert state() == DEFAULT


@pytest.mark.parametrize("mode", [1, 0, None, "True", 1.0])
def test_set_grad_enabled_rejects_non_bool_without_changing_state(mode):
    type_name = type(mode).__name__
    # PyTorch's argument parser names the argument 'enabled'
    expected_message = (rf"^set_grad_enabled\(\): argument 'enabled' \(position 1\) must be "
                        rf"bool, not {type_name}$")
    with pytest.raises(TypeError, match=expected_message):
        set_grad_enabled(mode)
    assert state() == DEFAULT


def test_set_grad_enabled_used_bare_as_decorator_is_a_type_error():
    with pytest.raises(TypeError, match="must be bool, not function"):

        @set_grad_enabled
        def function():
            pass


@pytest.mark.parametrize("mode", [1, None, "yes"])
def test_inference_mode_rejects_non_bool_non_callable(mode):
    type_name = type(mode).__name__
    expected_message = rf"inference_mode\(\): argument 'mode' must be bool, not {type_name}"
    with pytest.raises(TypeError, match=expected_message):
        inference_mode(mode)
    assert state() == DEFAULT


# ---------------------------------------------------------------- decorators on functions



@pytest.mark.parametrize("name", list(DECORATORS))
def test_decorator_bare_and_called(name):
    make_decorator, inside = DECORATORS[name]
    # Decorate where the caller's grad flag is the opposite, so a wrong or missing switch shows.
    caller = (not inside[0], False)
    set_grad_enabled(caller[0])

    def report(value):
        """Report the state."""
        return value, state()

    decorated = make_decorator()(report)
    assert state() == caller, "decorating must not change the state"
    assert decorated(7) == (7, inside)
    assert state() == caller
    assert decorated.__name__ == "report"
    assert decorated.__doc__ == "Report the state."
    assert decorated.__wrapped__ is report
    set_grad_enabled(True)


@pytest.mark.parametrize("name", list(DECORATORS))
def test_decorated_function_inside_each_mode_restores_that_mode(name):
    make_decorator, inside = DECORATORS[name]
    decorated = make_decorator()(state)
    for outer_name, (factory, transition) in MODES.items():
        outer = transition(DEFAULT)
        # Inference decorators set both flags; grad decorators keep the caller's inference flag.
        expected_inside = inside if "inference_mode" in name else (inside[0], outer[1])
        with factory():
            assert decorated() == expected_inside, outer_name
            assert state() == outer, outer_name
        with inference_mode():
            with factory():
                outer_in_inference = transition((False, True))
                expected_inside = (
                    inside if "inference_mode" in name else (inside[0], outer_in_inference[1])
                )
                assert decorated() == expected_inside, outer_name
                assert state() == outer_in_inference, outer_name


def test_set_grad_enabled_decorator_leaves_caller_state():
    with no_grad():
        decorator = set_grad_enabled(True)
        assert state() == (True, False)

        @decorator
        def inside():
            return state()

        assert state() == (False, False)
        assert inside() == (True, False)
        assert state() == (False, False)
    assert inside() == (True, False)
    assert state() == DEFAULT


def test_decorated_enable_grad_inside_no_grad_block_restores_no_grad():
    @enable_grad
    def inside():
        return state()

    @no_grad
    def quiet():
        return state()

    with no_grad():
        assert inside() == (True, False)
        assert state() == (False, False)
        assert quiet() == (False, False)
        assert state() == (False, False)
    assert quiet() == (False, False)
    assert state() == DEFAULT


def test_one_decorator_instance_on_two_nested_functions():
    decorator = no_grad()

    @decorator
    def inner():
        return state()

    @decorator
    def outer():
        with enable_grad():
            seen_inner = inner()
            return seen_inner, state()

    assert outer() == ((False, False), (True, False))
    assert state() == DEFAULT


def test_recursion_toggling_inside():
    seen = []

    @no_grad
    def descend(depth):
        seen.append(("enter", depth, state()))
        if depth == 0:
            return 0
        with enable_grad():
            seen.append(("enable", depth, state()))
            result = descend(depth - 1)
            seen.append(("after call", depth, state()))
        seen.append(("leave", depth, state()))
        return result + 1

    assert descend(3) == 3
    assert state() == DEFAULT
    for label, _, observed in seen:
        expected = (True, False) if label in ("enable", "after call") else (False, False)
        assert observed == expected, (label, observed)


def test_recursion_alternating_decorators():
    @enable_grad
    def loud(depth):
        if depth == 0:
            return [state()]
        return [state()] + quiet(depth - 1) + [state()]

    @no_grad
    def quiet(depth):
        if depth == 0:
            return [state()]
        return [state()] + loud(depth - 1) + [state()]

    with inference_mode():
        observed = quiet(3)
        assert state() == (False, True)
    assert observed == [(False, True), (True, True), (False, True), (True, True),
                        (False, True), (True, True), (False, True)]


class Predictor:
    def __init__(self):
        self.scale = 3

    @no_grad
    def predict(self, value):
        return value * self.scale, state()

    @inference_mode
    def infer(self, value):
        return value + self.scale, state()

    @set_grad_enabled(False)
    def frozen(self):
        return state()

    @classmethod
    @no_grad()
    def build(cls):
        return cls(), state()

    @staticmethod
    @inference_mode(False)
    def helper():
        return state()


def test_methods_bind_self():
    predictor = Predictor()
    assert predictor.predict(2) == (6, (False, False))
    assert predictor.infer(2) == (5, (False, True))
    assert predictor.frozen() == (False, False)
    built, seen = Predictor.build()
    assert isinstance(built, Predictor)
    assert seen == (False, False)
    with no_grad():
        assert Predictor.helper() == (True, False)
        assert state() == (False, False)
    assert Predictor.predict.__name__ == "predict"
    assert state() == DEFAULT


@pytest.mark.parametrize(
    "make_decorator",
    [lambda: no_grad, lambda: no_grad(), lambda: enable_grad, lambda: enable_grad(),
     lambda: inference_mode, lambda: inference_mode(), lambda: inference_mode(False),
     lambda: set_grad_enabled(False)],
)
def test_decorating_a_class_raises(make_decorator):
    with pytest.raises(RuntimeError, match="cannot decorate a class"):

        @make_decorator()
        class Model:
            pass

    assert state() == DEFAULT


@pytest.mark.parametrize("value", [5, "text", None])
def test_decorating_a_non_callable_raises(value):
    with pytest.raises(TypeError, match="can decorate only"):
        no_grad()(value)


# ---------------------------------------------------------------- threads


def test_new_thread_starts_with_grad_enabled():
    seen = []
    with no_grad():
        thread = threading.Thread(target=lambda: seen.append(state()))
        thread.start()
        thread.join()
        assert state() == (False, False)
    with inference_mode():
        thread = threading.Thread(target=lambda: seen.append(state()))
        thread.start()
        thread.join()
    assert seen == [DEFAULT, DEFAULT]


def test_mode_set_in_a_thread_does_not_leak_to_main_thread():
    thread_switched = threading.Event()
    main_checked = threading.Event()
    seen_in_thread = []

    def worker():
        set_grad_enabled(False)
        with inference_mode():
            seen_in_thread.append(state())
            thread_switched.set()
            main_checked.wait(timeout=10)
            seen_in_thread.append(state())
        seen_in_thread.append(state())

    thread = threading.Thread(target=worker)
    thread.start()
    assert thread_switched.wait(timeout=10)
    seen_in_main = state()
    main_checked.set()
    thread.join()
    assert seen_in_main == DEFAULT
    assert seen_in_thread == [(False, True), (False, True), (False, False)]
    assert state() == DEFAULT


def test_main_thread_mode_is_not_seen_by_a_running_thread():
    main_switched = threading.Event()
    thread_checked = threading.Event()
    seen_in_thread = []

    def worker():
        main_switched.wait(timeout=10)
        seen_in_thread.append(state())
        thread_checked.set()

    thread = threading.Thread(target=worker)
    thread.start()
    with no_grad():
        main_switched.set()
        assert thread_checked.wait(timeout=10)
    thread.join()
    assert seen_in_thread == [DEFAULT]


# ---------------------------------------------------------------- asyncio


def test_two_tasks_interleaving_each_see_their_own_mode():
    log = []

    async def quiet_task():
        with no_grad():
            for step in range(4):
                log.append(("quiet", step, state()))
                await asyncio.sleep(0)
        log.append(("quiet", "after", state()))

    async def loud_task():
        for step in range(4):
            log.append(("loud", step, state()))
            await asyncio.sleep(0)

    async def main():
        await asyncio.gather(quiet_task(), loud_task())
        return state()

    assert asyncio.run(main()) == DEFAULT
    order = [entry[0] for entry in log]
    assert order[:4] == ["quiet", "loud", "quiet", "loud"], "tasks did not interleave"
    for task_name, step, observed in log:
        expected = (False, False) if task_name == "quiet" and step != "after" else DEFAULT
        assert observed == expected, (task_name, step, observed)


def test_decorated_async_def_holds_mode_across_awaits():
    log = []

    @inference_mode
    async def infer(value):
        for step in range(3):
            log.append(("infer", state()))
            await asyncio.sleep(0)
        return value * 2

    @no_grad
    async def quiet():
        log.append(("quiet", state()))
        await asyncio.sleep(0)
        log.append(("quiet", state()))

    async def loud():
        for step in range(3):
            log.append(("loud", state()))
            await asyncio.sleep(0)

    async def main():
        results = await asyncio.gather(infer(5), quiet(), loud())
        return results[0], state()

    assert inspect.iscoroutinefunction(infer)
    assert infer.__name__ == "infer"
    assert asyncio.run(main()) == (10, DEFAULT)
    expected = {"infer": (False, True), "quiet": (False, False), "loud": DEFAULT}
    assert [entry[0] for entry in log][:3] == ["infer", "quiet", "loud"]
    for name, observed in log:
        assert observed == expected[name], (name, observed)


def test_awaiting_a_decorated_coroutine_restores_the_caller():
    @no_grad
    async def quiet():
        await asyncio.sleep(0)
        return state()

    @enable_grad
    async def failing():
        await asyncio.sleep(0)
        raise LookupError("async failure")

    async def main():
        with inference_mode():
            inside = await quiet()
            after = state()
            with pytest.raises(LookupError):
                await failing()
            after_failure = state()
        return inside, after, after_failure

    assert asyncio.run(main()) == ((False, True), (False, True), (False, True))


def test_task_created_inside_a_mode_inherits_it_and_does_not_leak_back():
    async def child():
        inherited = state()
        set_grad_enabled(True)
        return inherited

    async def main():
        with no_grad():
            inherited = await asyncio.create_task(child())
            return inherited, state()

    assert asyncio.run(main()) == ((False, False), (False, False))


# ---------------------------------------------------------------- generators


def test_decorated_generator_holds_mode_at_every_step_and_restores_caller_at_yields():
    @no_grad
    def generate():
        for index in range(3):
            yield index, state()

    assert inspect.isgeneratorfunction(generate)
    assert generate.__name__ == "generate"
    generator = generate()
    assert state() == DEFAULT
    assert next(generator) == (0, (False, False))
    assert state() == DEFAULT
    with inference_mode():
        assert next(generator) == (1, (False, True))
        assert state() == (False, True)
    with enable_grad():
        assert next(generator) == (2, (False, False))
        assert state() == (True, False)
    with pytest.raises(StopIteration):
        next(generator)
    assert state() == DEFAULT


def test_decorated_generator_consumed_under_other_modes():
    @enable_grad
    def generate():
        yield state()
        yield state()

    with no_grad():
        assert list(generate()) == [(True, False), (True, False)]
        assert state() == (False, False)


def test_decorated_generator_send_and_return_value():
    @inference_mode
    def accumulate():
        total = 0
        while True:
            value = yield total, state()
            if value is None:
                return total
            total += value

    generator = accumulate()
    assert next(generator) == (0, (False, True))
    assert state() == DEFAULT
    assert generator.send(2) == (2, (False, True))
    assert generator.send(5) == (7, (False, True))
    with pytest.raises(StopIteration) as stop:
        generator.send(None)
    assert stop.value.value == 7
    assert state() == DEFAULT


def test_decorated_generator_return_value_through_yield_from():
    @no_grad
    def inner():
        yield 1
        return "done"

    def outer():
        result = yield from inner()
        yield result, state()

    assert list(outer()) == [1, ("done", DEFAULT)]


def test_decorated_generator_throw_caught_inside_runs_under_mode():
    @no_grad
    def resilient():
        while True:
            try:
                yield "value", state()
            except ValueError as error:
                yield "caught " + str(error), state()

    generator = resilient()
    assert next(generator) == ("value", (False, False))
    with inference_mode():
        assert generator.throw(ValueError("bad")) == ("caught bad", (False, True))
        assert state() == (False, True)
    assert state() == DEFAULT
    assert next(generator) == ("value", (False, False))
    generator.close()
    assert state() == DEFAULT


def test_decorated_generator_throw_uncaught_propagates_and_restores():
    @no_grad
    def fragile():
        yield 1
        yield 2

    generator = fragile()
    next(generator)
    with pytest.raises(KeyError, match="thrown"):
        generator.throw(KeyError("thrown"))
    assert state() == DEFAULT
    with pytest.raises(StopIteration):
        next(generator)


def test_decorated_generator_throw_then_return_gives_return_value():
    @no_grad
    def stoppable():
        try:
            yield 1
        except ValueError:
            return "stopped"

    generator = stoppable()
    next(generator)
    with pytest.raises(StopIteration) as stop:
        generator.throw(ValueError())
    assert stop.value.value == "stopped"
    assert state() == DEFAULT


def test_decorated_generator_close_runs_cleanup_under_mode():
    cleanup_states = []

    @inference_mode
    def with_cleanup():
        try:
            yield 1
            yield 2
        finally:
            cleanup_states.append(state())

    generator = with_cleanup()
    next(generator)
    with no_grad():
        generator.close()
        assert state() == (False, False)
    assert cleanup_states == [(False, True)]
    with pytest.raises(StopIteration):
        next(generator)
    not_started = with_cleanup()
    not_started.close()
    assert state() == DEFAULT


def test_decorated_generator_ignoring_close_raises_runtime_error():
    @no_grad
    def stubborn():
        try:
            yield 1
        except GeneratorExit:
            yield "ignored close"

    generator = stubborn()
    next(generator)
    with pytest.raises(RuntimeError, match="ignored GeneratorExit"):
        generator.close()
    assert state() == DEFAULT


def test_decorated_generator_exception_inside_restores():
    @no_grad
    def broken():
        yield 1
        raise ArithmeticError("inside generator")

    generator = broken()
    next(generator)
    with pytest.raises(ArithmeticError):
        next(generator)
    assert state() == DEFAULT


def test_decorated_generator_mode_is_entered_afresh_at_each_step():
    # PyTorch semantics: a change the generator makes before a yield does not survive the yield.
    @no_grad
    def switching():
        set_grad_enabled(True)
        yield state()
        yield state()

    generator = switching()
    assert next(generator) == (True, False)
    assert state() == DEFAULT
    assert next(generator) == (False, False)
    generator.close()


def test_decorated_generator_method():
    class Source:
        def __init__(self, items):
            self.items = items

        @no_grad()
        def stream(self):
            for item in self.items:
                yield item, state()

    assert list(Source("ab").stream()) == [("a", (False, False)), ("b", (False, False))]


# ---------------------------------------------------------------- async generators


def test_decorated_async_generator_steps():
    cleanup_states = []

    @no_grad
    async def produce():
        try:
            total = 0
            while True:
                value = yield total, state()
                await asyncio.sleep(0)
                if value is not None:
                    total += value
        finally:
            cleanup_states.append(state())

    async def main():
        assert inspect.isasyncgenfunction(produce)
        generator = produce()
        seen = [await generator.__anext__(), state()]
        with inference_mode():
            seen += [await generator.asend(3), state()]
        seen += [await generator.asend(4), state()]
        with enable_grad():
            await generator.aclose()
            seen.append(state())
        return seen

    assert asyncio.run(main()) == [
        (0, (False, False)), DEFAULT,
        (3, (False, True)), (False, True),
        (7, (False, False)), DEFAULT,
        (True, False),
    ]
    assert cleanup_states == [(False, False)]


def test_decorated_async_generator_async_for_and_athrow():
    @inference_mode
    async def produce():
        for index in range(2):
            try:
                yield index, state()
            except ValueError:
                yield "caught", state()

    async def main():
        collected = [item async for item in produce()]
        generator = produce()
        first = await generator.__anext__()
        caught = await generator.athrow(ValueError())
        after = state()
        with pytest.raises(KeyError):
            await generator.athrow(KeyError())
        return collected, first, caught, after, state()

    collected, first, caught, after, final = asyncio.run(main())
    assert collected == [(0, (False, True)), (1, (False, True))]
    assert first == (0, (False, True))
    assert caught == ("caught", (False, True))
    assert after == DEFAULT
    assert final == DEFAULT


def test_decorated_async_generators_in_concurrent_tasks():
    log = []

    @no_grad
    async def quiet_numbers():
        for index in range(3):
            await asyncio.sleep(0)
            log.append(("quiet", state()))
            yield index

    @enable_grad
    async def loud_numbers():
        for index in range(3):
            await asyncio.sleep(0)
            log.append(("loud", state()))
            yield index

    async def consume(generator, name):
        async for _ in generator:
            log.append((name + " consumer", state()))

    async def main():
        with inference_mode():
            await asyncio.gather(consume(quiet_numbers(), "quiet"), consume(loud_numbers(), "loud"))
            return state()

    assert asyncio.run(main()) == (False, True)
    expected = {"quiet": (False, True), "loud": (True, True),
                "quiet consumer": (False, True), "loud consumer": (False, True)}
    for name, observed in log:
        assert observed == expected[name], (name, observed)


# ---------------------------------------------------------------- the base class is general


class _Recorder:
    def __init__(self):
        self.active = False


class switched_on(DecoratorContextManager):
    """A toy mode on a plain attribute, like a future `evaluating(model)`."""

    def __init__(self, recorder):
        self.recorder = recorder
        self.previous = None

    def __enter__(self):
        self.previous = self.recorder.active
        self.recorder.active = True

    def __exit__(self, exception_type, exception_value, traceback):
        self.recorder.active = self.previous

    def clone(self):
        return switched_on(self.recorder)


def test_base_class_serves_other_modes():
    recorder = _Recorder()

    @switched_on(recorder)
    def check(depth):
        if depth:
            recorder.active = False
            inner = check(depth - 1)
            return [recorder.active] + inner
        return [recorder.active]

    assert check(2) == [False, False, True]
    assert recorder.active is False

    @switched_on(recorder)
    def steps():
        yield recorder.active
        yield recorder.active

    generator = steps()
    assert next(generator) is True
    assert recorder.active is False
    assert next(generator) is True


def test_base_class_requires_clone_enter_and_exit():
    class incomplete(DecoratorContextManager):
        def __enter__(self):
            pass

        def __exit__(self, *exception_info):
            pass

    with pytest.raises(TypeError, match="clone"):
        incomplete()


# ---------------------------------------------------------------- properties


ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("enter"), st.sampled_from(sorted(MODES))),
        st.tuples(st.just("exit"), st.none()),
        st.tuples(st.just("call"), st.booleans()),
    ),
    max_size=20,
)


@settings(max_examples=200, deadline=None)
@given(actions=ACTIONS)
def test_random_sequences_follow_the_mode_rules(actions):
    expected_stack = [DEFAULT]
    levels = []
    try:
        for kind, argument in actions:
            if kind == "enter":
                factory, transition = MODES[argument]
                level = contextlib.ExitStack()
                level.enter_context(factory())
                levels.append(level)
                expected_stack.append(transition(expected_stack[-1]))
            elif kind == "exit" and levels:
                levels.pop().close()
                expected_stack.pop()
            elif kind == "call":
                set_grad_enabled(argument)
                expected_stack[-1] = (argument, expected_stack[-1][1])
            assert state() == expected_stack[-1]
        while levels:
            levels.pop().close()
            expected_stack.pop()
            assert state() == expected_stack[-1]
    finally:
        while levels:
            levels.pop().close()
        set_grad_enabled(True)


# ---------------------------------------------------------------- parity with PyTorch


def _torch_modes(torch):
    return {
        "no_grad": torch.no_grad,
        "enable_grad": torch.enable_grad,
        "set_grad_enabled(True)": lambda: torch.set_grad_enabled(True),
        "set_grad_enabled(False)": lambda: torch.set_grad_enabled(False),
        "inference_mode()": torch.inference_mode,
        "inference_mode(False)": lambda: torch.inference_mode(False),
    }


def _run_sequence(actions, modes, set_mode, read_state):
    """Apply enter/exit/call actions, returning the state after each one (then unwind)."""
    observed = []
    exits = []
    initial_grad = read_state()[0]
    try:
        for kind, argument in actions:
            if kind == "enter":
                inner = contextlib.ExitStack()
                inner.enter_context(modes[argument]())
                exits.append(inner)
            elif kind == "exit" and exits:
                exits.pop().close()
            elif kind == "call":
                set_mode(argument)
            observed.append(read_state())
        while exits:
            exits.pop().close()
            observed.append(read_state())
    finally:
        while exits:
            exits.pop().close()
        set_mode(initial_grad)
    return observed


def _compare_with_torch(actions):
    torch = pytest.importorskip("torch")
    ember_modes = {name: factory for name, (factory, _) in MODES.items()}
    ember_seen = _run_sequence(actions, ember_modes, set_grad_enabled, state)
    torch_seen = _run_sequence(
        actions,
        _torch_modes(torch),
        torch.set_grad_enabled,
        lambda: (torch.is_grad_enabled(), torch.is_inference_mode_enabled()),
    )
    assert ember_seen == torch_seen


PARITY_TABLE = [
    [("enter", "no_grad"), ("enter", "enable_grad"), ("exit", None), ("exit", None)],
    [("enter", "inference_mode()"), ("enter", "enable_grad"), ("enter", "no_grad"), ("exit", None)],
    [("enter", "no_grad"), ("enter", "inference_mode(False)"),
     ("enter", "set_grad_enabled(False)")],
    [("enter", "inference_mode()"), ("enter", "inference_mode(False)"),
     ("enter", "inference_mode()")],
    [("enter", "inference_mode()"), ("call", True), ("enter", "no_grad"), ("exit", None),
     ("exit", None)],
    [("call", False), ("enter", "enable_grad"), ("call", False), ("exit", None), ("call", True)],
    [("enter", "set_grad_enabled(False)"), ("enter", "inference_mode()"), ("call", True),
     ("enter", "inference_mode(False)"), ("exit", None), ("exit", None), ("exit", None)],
]


@pytest.mark.parametrize("actions", PARITY_TABLE)
def test_mode_table_matches_torch(actions):
    _compare_with_torch(actions)


@settings(max_examples=150, deadline=None)
@given(actions=ACTIONS)
def test_random_mode_sequences_match_torch(actions):
    _compare_with_torch(actions)


@pytest.mark.parametrize(
    "name",
    ["no_grad", "enable_grad", "inference_mode()", "inference_mode(False)",
     "set_grad_enabled(False)"],
)
def test_decorated_generator_steps_match_torch(name):
    torch = pytest.importorskip("torch")

    def run(decorator, modes, read_state):
        @decorator
        def generate():
            seen = [read_state()]
            received = yield read_state()
            seen.append(("received", received, read_state()))
            modes["enable_grad"]().__enter__()  # left entered: the next step must re-enter the mode
            yield read_state()
            try:
                yield read_state()
            except ValueError:
                seen.append(("caught", read_state()))
            yield read_state()
            return seen

        observed = []
        generator = generate()
        with modes["no_grad"]():
            observed.append(next(generator))
            observed.append(read_state())
        observed.append(generator.send("hello"))
        with modes["inference_mode()"]():
            observed.append(next(generator))
            observed.append(read_state())
        observed.append(generator.throw(ValueError()))
        try:
            next(generator)
        except StopIteration as stop:
            observed.append(stop.value)
        observed.append(read_state())
        return observed

    ember_modes = {key: factory for key, (factory, _) in MODES.items()}
    torch_modes = _torch_modes(torch)
    # Building set_grad_enabled(False) switches the mode; decorating with it switches it back.
    ember_seen = run(ember_modes[name](), ember_modes, state)
    torch_seen = run(
        torch_modes[name](),
        torch_modes,
        lambda: (torch.is_grad_enabled(), torch.is_inference_mode_enabled()),
    )
    torch.set_grad_enabled(True)
    set_grad_enabled(True)
    assert ember_seen == torch_seen


def test_set_grad_enabled_repr_names_its_mode_like_torch(torch):
    """PyTorch's docstring example prints the object that a plain call returns."""
    import ember

    for mode in (False, True):
        expected = repr(torch.set_grad_enabled(mode))
        got = repr(ember.set_grad_enabled(mode))
        assert got.replace("ember.", "torch.") == expected
    torch.set_grad_enabled(True)


def test_enforce_grad_layout_policy_docstring_example_like_torch(torch):
    """PyTorch's example: a permuted leaf's gradient under the relaxed policy; the flag is set
    at construction and restored on exit (or, as a decorator, left alone)."""
    import numpy as np

    import ember
    from ember.autograd.grad_mode import is_grad_layout_enforcement_enabled

    def gradient(library):
        p = library.ones(2, 3, 4).permute(2, 0, 1).requires_grad_()
        with library.autograd.enforce_grad_layout_policy(False):
            (p * 2).sum().backward()
        return p.grad.numpy(), p.grad.shape

    ours, theirs = gradient(ember), gradient(torch)
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert tuple(ours[1]) == tuple(theirs[1])
    assert is_grad_layout_enforcement_enabled()
    policy = ember.autograd.enforce_grad_layout_policy(False)
    assert not is_grad_layout_enforcement_enabled()
    with policy:
        assert not is_grad_layout_enforcement_enabled()
    assert is_grad_layout_enforcement_enabled()

    @ember.autograd.enforce_grad_layout_policy(False)
    def relaxed():
        return is_grad_layout_enforcement_enabled()

    assert is_grad_layout_enforcement_enabled() and relaxed() is False
    assert is_grad_layout_enforcement_enabled()
