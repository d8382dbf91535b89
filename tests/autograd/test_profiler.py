"""The op profiler (torch.autograd.profiler / torch.profiler): which events it records, their
nesting and times, the schedule against PyTorch's, traces on disk, and that nothing stays
wrapped once profiling stops."""
import json
import os
import re
import warnings

import pytest

import ember
from ember.autograd.function import Op
from ember.autograd.node import Node
from ember.profiler import ProfilerAction, profile, record_function, schedule


def _model():
    ember.manual_seed(0)
    return ember.nn.Sequential(ember.nn.Linear(4, 6), ember.nn.ReLU(), ember.nn.Linear(6, 2))


def test_records_ops_backward_nodes_and_blocks():
    model = _model()
    inputs = ember.randn(3, 4)
    with profile(record_shapes=True) as prof:
        with record_function("step"):
            model(inputs).sum().backward()
    counts = {event.key: event.count for event in prof.key_averages()}
    assert counts["step"] == 1
    assert counts["aten::addmm"] == 2 and counts["aten::relu"] == 1 and counts["aten::sum"] == 1
    assert counts["autograd::engine::evaluate_function: AddmmBackward0"] == 2
    assert counts["autograd::engine::evaluate_function: ReluBackward0"] == 1
    shapes = {str(event.input_shapes) for event in prof.key_averages(group_by_input_shape=True)
              if event.key == "aten::addmm"}
    assert shapes == {"[[3, 4], [6, 4], [6]]", "[[3, 6], [2, 6], [2]]"}


def test_self_time_excludes_children_and_totals_add_up():
    model = _model()
    with profile() as prof:
        with record_function("outer"):
            model(ember.randn(2, 4))
    events = {event.key: event for event in prof.key_averages()}
    outer = events["outer"]
    inner = sum(event.cpu_time_total for key, event in events.items() if key != "outer")
    assert outer.cpu_time_total >= inner > 0
    assert outer.self_cpu_time_total == pytest.approx(outer.cpu_time_total - inner, abs=1e-6)
    assert prof.key_averages().self_cpu_time_total == pytest.approx(outer.cpu_time_total,
                                                                     rel=1e-9)
    table = prof.key_averages().table(sort_by="cpu_time_total", row_limit=2)
    rows = [line for line in table.splitlines() if line.strip().startswith(("outer", "aten"))]
    assert rows[0].strip().startswith("outer") and len(rows) == 2
    assert "Self CPU time total" in table


def test_nothing_stays_wrapped_and_no_events_outside():
    apply, run_backward = Op.__dict__["apply"].__func__, Node._run_backward
    with profile() as prof:
        ember.ones(2).exp()
    assert Op.__dict__["apply"].__func__ is apply and Node._run_backward is run_backward
    before = len(prof.events())
    ember.ones(2).exp()
    with record_function("ignored"):
        pass
    assert len(prof.events()) == before


def test_record_function_as_decorator():
    @record_function("decorated")
    def double(x):
        return x * 2

    with profile() as prof:
        double(ember.ones(3))
    keys = [event.key for event in prof.events()]
    assert keys[:2] == ["decorated", "aten::mul"]


def test_schedule_matches_pytorch():
    torch = pytest.importorskip("torch")
    for options in [dict(wait=1, warmup=1, active=2), dict(wait=2, warmup=0, active=1, repeat=2),
                    dict(wait=0, warmup=2, active=3, repeat=1, skip_first=3)]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ours = schedule(**options)
            theirs = torch.profiler.schedule(**options)
        assert len(caught) == (2 if options["warmup"] == 0 else 0)  # "won't be using warmup"
        assert [ours(step).name for step in range(14)] == [theirs(step).name
                                                           for step in range(14)]


def test_schedule_saves_one_trace_per_cycle(tmp_path):
    model = _model()
    saved = []
    with profile(schedule=schedule(wait=1, warmup=1, active=2, repeat=2),
                 on_trace_ready=lambda prof: saved.append(len(prof.events()))) as prof:
        for _ in range(10):
            model(ember.randn(2, 4)).sum().backward()
            prof.step()
    assert len(saved) == 2 and all(count > 0 for count in saved)
    assert schedule(wait=1, warmup=1, active=2)(3) == ProfilerAction.RECORD_AND_SAVE


def test_traces_on_disk(tmp_path):
    model = _model()
    with profile(on_trace_ready=ember.profiler.tensorboard_trace_handler(str(tmp_path),
                                                                          "worker")) as prof:
        model(ember.randn(2, 4))
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 2 and names[1].startswith("worker.") and names[1].endswith(".json")
    events = json.loads(path.read_text())["traceEvents"]
    assert {event["name"] for event in events} >= {"aten::addmm", "aten::relu"}
    assert all(event["ph"] == "X" and event["dur"] >= 0 for event in events)


def test_autograd_profiler_spelling_and_unfinished_error():
    recording = ember.autograd.profiler.profile()
    with pytest.raises(RuntimeError, match="Profiler didn't finish running"):
        recording.key_averages()
    with recording:
        ember.ones(2) + 1
    assert recording.key_averages()[0].key == "aten::add"


def _memory_profile(lib):
    inputs = lib.ones(64, 32)
    weight = lib.ones(32, 16)
    with lib.profiler.profile(profile_memory=True) as prof:
        with lib.profiler.record_function("block"):
            product = inputs @ weight  # kept: ember counts allocations, not frees
            total = product.sum()
    averages = prof.key_averages()
    header = averages.table(sort_by="self_cpu_memory_usage", row_limit=3).splitlines()[1].split()
    by_key = {event.key: event for event in averages}
    return (sum(event.self_cpu_memory_usage for event in averages),
            by_key["block"].cpu_memory_usage, by_key["aten::sum"].self_cpu_memory_usage, header,
            total.item())


def test_profile_memory_counts_the_bytes_ops_allocate_like_torch():
    torch = pytest.importorskip("torch")
    ours = _memory_profile(ember)
    assert ours == _memory_profile(torch)
    assert ours[:3] == (64 * 16 * 4 + 4, 64 * 16 * 4 + 4, 4) and "CPU Mem" in " ".join(ours[3])


def _table_layouts(lib):
    """The summary table's layout for blocks that run no op (so that both frameworks record
    the same events): each line's length and its words, the timed numbers left out."""
    with lib.profiler.profile(record_shapes=True, profile_memory=True) as prof:
        for name in ("a_block_named_at_some_length", "short"):
            with lib.profiler.record_function(name):
                pass
    averages = prof.key_averages()
    tables = [averages.table(sort_by="cpu_time_total"),
              averages.table(sort_by="cpu_time_total", row_limit=0, header="HEADER"),
              averages.table(sort_by="cpu_time_total", max_name_column_width=12, time_unit="ms"),
              prof.key_averages(group_by_input_shape=True).table(top_level_events_only=True)]
    return [[(None if line.startswith("Self CPU time total") else len(line),
              re.sub(r"[0-9.]+(?=%|us|ms|s$|s )", "", line).split())
             for line in table.split("\n")] for table in tables]


def test_table_layout_as_torch():
    """Columns as wide as the widest name plus 4 (within max_name_column_width, a longer name
    cut to it with '...'), memory in PyTorch's B/KB/MB, time_unit, row_limit=0, header and
    top_level_events_only banners."""
    torch = pytest.importorskip("torch")
    assert _table_layouts(ember) == _table_layouts(torch)
