"""nn's top-level call hook (ember's own, behind the ModeWarning checks): it runs once after
each outermost module call that returned, whichever path the calls take (with or without
module hooks), and the count of calls in progress survives a failed call."""
import threading

import pytest

import ember
from ember import nn
from ember.nn.modules.module import _call_depth, register_top_level_call_hook


class Failing(nn.Module):
    def forward(self, x):
        raise ValueError("failing forward")


@pytest.fixture
def seen():
    calls = []
    handle = register_top_level_call_hook(lambda module: calls.append(module))
    yield calls
    handle.remove()


def test_runs_once_per_outermost_call(seen):
    model = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.ReLU(), nn.Linear(4, 2)))
    model(ember.zeros(2, 3))
    model[0](ember.zeros(2, 3))
    assert seen == [model, model[0]]


def test_module_hooks_path_counts_too(seen):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    inner_outputs = []
    handle = model[0].register_forward_hook(lambda module, args, output:
                                            inner_outputs.append(output))
    try:
        model(ember.zeros(2, 3))
        model[0](ember.zeros(2, 3))
    finally:
        handle.remove()
    assert len(inner_outputs) == 2
    assert seen == [model, model[0]]


def test_failed_call_runs_no_hook_and_restores_the_count(seen):
    model = nn.Sequential(nn.Linear(3, 3), Failing())
    with pytest.raises(ValueError, match="failing forward"):
        model(ember.zeros(1, 3))
    assert _call_depth.depth == 0
    assert seen == []
    model[0](ember.zeros(1, 3))
    assert seen == [model[0]]


def test_the_count_is_per_thread(seen):
    started, release = threading.Event(), threading.Event()

    class Waiting(nn.Module):
        def forward(self, x):
            started.set()
            release.wait(10)
            return x

    outer = nn.Sequential(Waiting())
    worker = threading.Thread(target=outer, args=(ember.zeros(1),))
    worker.start()
    started.wait(10)
    other = nn.ReLU()
    other(ember.zeros(1))  # top-level on this thread while outer is in progress on the other
    release.set()
    worker.join(10)
    assert seen == [other, outer]


def test_removed_hook_no_longer_runs():
    calls = []
    handle = register_top_level_call_hook(lambda module: calls.append(module))
    handle.remove()
    nn.ReLU()(ember.zeros(1))
    assert calls == []


def test_nested_calls_leave_the_count_to_the_outermost(seen):
    # only the outermost call counts itself: nested calls without hooks just run forward, a
    # nested call that fails and is caught inside leaves the count as it was
    depths = []

    class Probe(nn.Module):
        def forward(self, x):
            depths.append(_call_depth.depth)
            return x

    class Catching(nn.Module):
        def __init__(self):
            super().__init__()
            self.failing = Failing()
            self.probe = Probe()

        def forward(self, x):
            with pytest.raises(ValueError):
                self.failing(x)
            return self.probe(self.probe(x))

    model = Catching()
    model(ember.zeros(1))
    model.probe(ember.zeros(1))
    assert depths == [1, 1, 1]
    assert seen == [model, model.probe] and _call_depth.depth == 0
