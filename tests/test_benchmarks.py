"""The benchmarks cannot rot: every workload runs once at a tiny size, the worker speaks JSON and
the runner writes its report. No timing is asserted, only keys and finite, positive numbers."""

import gc
import importlib
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import profiling, report, runner, workloads

pytestmark = pytest.mark.timeout(120)

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
MEASUREMENT_KEYS = {"name", "unit", "median", "min", "iqr", "q1", "q3", "repeats", "number",
                    "params"}
# What each workload needs from the framework; ember's tests skip until all of it exists.
REQUIRED_API = {
    "common": ("tensor", "manual_seed", "no_grad", "nn.Sequential", "nn.Linear", "nn.ReLU",
               "nn.functional.cross_entropy", "optim.SGD"),
    "mlp_train": ("nn.BatchNorm1d", "nn.Dropout"),
    "mlp_eval": ("nn.BatchNorm1d", "nn.Dropout"),
    "cnn_train": ("nn.Conv2d", "nn.BatchNorm2d", "nn.MaxPool2d", "nn.Flatten", "nn.Dropout"),
    "cnn_eval": ("nn.Conv2d", "nn.BatchNorm2d", "nn.MaxPool2d", "nn.Flatten", "nn.Dropout"),
    "cnn_eval_onnxruntime": ("nn.Conv2d", "nn.BatchNorm2d", "nn.MaxPool2d", "nn.Flatten",
                             "nn.Dropout"),
    "gpt_train": ("nn.Embedding", "nn.LayerNorm", "nn.GELU", "nn.ModuleList",
                  "nn.functional.scaled_dot_product_attention", "nn.utils.clip_grad_norm_",
                  "optim.AdamW", "arange"),
    "gpt_generate": ("nn.Embedding", "nn.LayerNorm", "nn.GELU", "nn.ModuleList",
                     "nn.functional.scaled_dot_product_attention", "nn.functional.softmax",
                     "multinomial", "Generator", "cat"),
    "lstm_train": ("nn.Embedding", "nn.LSTM", "nn.Dropout", "nn.utils.clip_grad_norm_"),
    "rnn_seq": ("nn.LSTMCell", "nn.functional.mse_loss", "optim.Adam", "cat", "zeros"),
    "small_train": ("nn.Conv1d", "nn.Flatten", "optim.Adam"),
    "gcn_train": ("sparse_coo_tensor", "sparse.mm", "optim.Adam"),
    "op_overhead": (),
    "nograd_memory": (),
    "import_time": (),
    "scaling": ("nn.BatchNorm1d", "nn.Dropout"),
    "pinn_train": ("nn.Tanh", "optim.Adam", "autograd.grad"),
    "hvp": ("nn.Tanh", "autograd.grad"),
}
# What ember says while the double backward of an op a workload needs is not written yet.
NO_DOUBLE_BACKWARD = "double backward (create_graph=True) is not implemented"
TIMED_CASES = [
    (workload, variant)
    for workload in workloads.RUNNERS
    for variant in workloads.VARIANTS.get(workload, (None,))
]


@pytest.fixture(autouse=True, scope="module")
def restore_process_state():
    """framework_or_skip freezes the import heap and pins torch to one thread; undo both."""
    try:
        import torch
    except ImportError:
        torch = None
    threads = torch.get_num_threads() if torch is not None else None
    yield
    gc.unfreeze()
    if threads is not None:
        torch.set_num_threads(threads)


def framework_or_skip(name, workload):
    """The framework module, or a skip while torch is absent or ember's API is incomplete.

    As in the worker, the objects imports left are frozen out of the collector's way; torch
    runs on one thread, since OpenMP threads stall when other jobs share the cores.
    """
    if name == "torch":
        torch = pytest.importorskip("torch")
        torch.set_num_threads(1)
        gc.collect()
        gc.freeze()
        return torch
    missing = []
    try:
        module = importlib.import_module(name)
        for submodule in ("nn", "nn.functional", "optim"):
            importlib.import_module(f"{name}.{submodule}")
    except ImportError as error:
        pytest.skip(f"{name} does not import yet: {error}")
    for dotted in REQUIRED_API["common"] + REQUIRED_API[workload]:
        owner = module
        for part in dotted.split("."):
            owner = getattr(owner, part, None)
        if owner is None:
            missing.append(dotted)
    if missing:
        pytest.skip(f"{name} lacks {', '.join(missing)} for {workload}")
    gc.collect()
    gc.freeze()
    return module


def check_measurements(measurements, expected_names):
    assert [measurement["name"] for measurement in measurements] == expected_names
    for measurement in measurements:
        assert MEASUREMENT_KEYS <= set(measurement)
        assert measurement["unit"] in {"ms", "us", "s", "MiB"}
        assert measurement["repeats"] >= 1
        assert measurement["number"] >= 1
        for key in ("median", "min", "iqr", "q1", "q3"):
            assert math.isfinite(measurement[key])
            assert measurement[key] >= 0
        if measurement["unit"] != "MiB":  # RSS growth of a tiny forward can round to 0 pages
            assert measurement["median"] > 0
            assert measurement["min"] > 0
            others_cpu = measurement["others_cpu"]  # None when too short to tell
            assert others_cpu is None or (math.isfinite(others_cpu) and others_cpu >= 0)
        assert measurement["min"] <= measurement["median"]


def expected_names(workload, variant):
    if workload == "small_train":
        return ["small_train/mlp", "small_train/conv1d"]
    if workload == "op_overhead":
        return ["op_overhead/add", "op_overhead/add_graph", "op_overhead/linear"]
    if workload == "nograd_memory":
        return [f"nograd_memory/{variant}"]
    if workload == "scaling":
        sizes = workloads.SIZES["scaling"]["quick"]
        return ([f"scaling/batch/{size}" for size in sizes["batches"]]
                + [f"scaling/width/{size}" for size in sizes["widths"]])
    if workload in ("gpt_train", "lstm_train", "rnn_seq"):
        return [workload, f"{workload}/memory"]
    return [workload]


@pytest.mark.parametrize("framework", ["ember", "torch"])
@pytest.mark.parametrize(("workload", "variant"), TIMED_CASES)
def test_workload_runs_once_at_tiny_size(framework, workload, variant):
    for package in workloads.OPTIONAL_REQUIREMENTS.get(workload, ()):
        pytest.importorskip(package)
    module = framework_or_skip(framework, workload)
    try:
        measurements = workloads.RUNNERS[workload](module, quick=True, variant=variant)
    except RuntimeError as error:
        if framework == "ember" and NO_DOUBLE_BACKWARD in str(error):
            pytest.skip(f"ember: {error}")
        raise
    check_measurements(measurements, expected_names(workload, variant))


@pytest.mark.parametrize("framework", ["ember", "torch"])
def test_import_time_runs_fresh_processes(framework):
    framework_or_skip(framework, "import_time")
    measurements = workloads.run_import_time(framework, quick=True)
    check_measurements(measurements, ["import_time"])


def run_worker(*arguments):
    command = [sys.executable, "-m", "benchmarks.worker", "--json", "--quick", *arguments]
    completed = subprocess.run(command, cwd=REPOSITORY_ROOT, capture_output=True, text=True,
                               timeout=100, check=False)
    return completed.returncode, json.loads(completed.stdout.strip().splitlines()[-1])


def test_worker_prints_one_json_record_with_its_environment():
    framework_or_skip("torch", "mlp_train")
    returncode, record = run_worker("--framework", "torch", "--workload", "mlp_train")
    assert returncode == 0
    assert record["status"] == "ok"
    check_measurements(record["results"], ["mlp_train"])
    assert record["memory"]["peak_rss_mib"] > 0
    environment = record["environment"]
    assert environment["thread_variables"] == {"OMP_NUM_THREADS": "2",
                                               "OPENBLAS_NUM_THREADS": "2",
                                               "MKL_NUM_THREADS": "2"}
    assert environment["torch"]["num_threads"] == 2
    assert environment["blas"], "threadpoolctl found no BLAS in the worker"
    for library in environment["blas"]:
        assert {"internal_api", "architecture", "num_threads"} <= set(library)


def test_worker_reports_a_failure_as_unavailable():
    returncode, record = run_worker("--framework", "torch", "--workload", "no_such_workload")
    assert returncode == 1
    assert record["status"] == "unavailable"
    assert "no_such_workload" in record["error"]


def test_runner_writes_results_plot_and_json(tmp_path):
    # ember alone keeps this quick (no torch import per worker); the worker test covers torch.
    out = tmp_path / "RESULTS.md"
    arguments = ["--quick", "--only", "mlp_eval", "scaling", "--frameworks", "ember"]
    assert runner.main(arguments + ["--out", str(out)]) == 0
    text = out.read_text()
    for heading in ("## Machine and software", "## Targets", "## Results", "## Scaling",
                    "## Profiles", "### `mlp_eval`", report.COMMENTARY_HEADING):
        assert heading in text
    assert "- Load average (1 / 5 / 15 min" in text
    assert "| mlp_eval at 1 thread |" in text and "| mlp_eval at 2 threads |" in text
    # The BLAS pool of a worker at each thread count, as threadpoolctl saw it.
    assert "| ember | 1 | blas |" in text and "| ember | 2 | blas |" in text
    assert (tmp_path / "scaling.png").stat().st_size > 0
    run = json.loads((tmp_path / "results.json").read_text())
    # Every workload at 1 and 2 threads except scaling (at the highest count only).
    assert [(record["framework"], record["workload"], record["threads"])
            for record in run["records"]] == [
        ("ember", "mlp_eval", 1), ("ember", "mlp_eval", 2), ("ember", "scaling", 2)]
    for record in run["records"]:
        assert record["status"] == "ok" or record["error"]
    [profile] = run["profiles"]
    assert (profile["workload"], profile["threads"], profile["status"]) == ("mlp_eval", 1, "ok")
    assert len(run["load_average"]["start"]) == 3


def test_worker_profiles_a_step():
    returncode, record = run_worker("--framework", "ember", "--workload", "gpt_train",
                                    "--profile", "--threads", "1")
    assert returncode == 0, record.get("traceback")
    profile = record["profile"]
    assert record["results"] == []
    assert len(profile["functions"]) == profiling.TOP_FUNCTIONS
    own_times = [row["own_ms"] for row in profile["functions"]]
    assert own_times == sorted(own_times, reverse=True)
    assert 0 < sum(row["share"] for row in profile["functions"]) <= 1 + 1e-9
    assert [phase["phase"] for phase in profile["phases"]] == [
        "zero grad", "forward", "backward", "clip", "optimizer step"]
    assert all(0 < phase["ms"] <= profile["total_ms"] for phase in profile["phases"])


def test_worker_refuses_to_profile_a_workload_without_a_step():
    returncode, record = run_worker("--framework", "ember", "--workload", "import_time",
                                    "--profile")
    assert returncode == 1
    assert "has no step to profile" in record["error"]


def test_function_labels_are_short():
    inside = str(REPOSITORY_ROOT / "ember" / "optim" / "adam.py")
    assert profiling.function_label(inside, 30, "_update") == "ember/optim/adam.py:30(_update)"
    package = "/venv/lib/python3.11/site-packages/numpy/_core/numeric.py"
    assert profiling.function_label(package, 400, "full_like") == (
        "numpy/_core/numeric.py:400(full_like)")
    assert profiling.function_label("~", 0, "<built-in method math.sqrt>") == (
        "<built-in method math.sqrt>")


@pytest.mark.parametrize("workload", ["gpt_train", "lstm_train", "rnn_seq"])
def test_both_frameworks_start_from_the_same_weights_and_batches(torch, workload):
    """Identical seeded weights and inputs: the first losses agree (dropout off in eval)."""
    losses = []
    for module in (torch, ember_or_skip(workload)):
        _, namespace, _ = workloads.PREPARERS[workload](module, quick=True)
        loss_function = {"gpt_train": workloads.gpt_loss,
                         "lstm_train": workloads.language_model_loss,
                         "rnn_seq": workloads.sequence_loss}[workload]
        namespace["model"].eval()
        with module.no_grad():
            losses.append(float(loss_function(module, namespace["model"], namespace["batch"])))
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)


def ember_or_skip(workload):
    module = framework_or_skip("ember", workload)
    gc.unfreeze()
    return module


def synthetic_measurement(name, median, **params):
    return {"name": name, "unit": "ms", "median": median, "min": median, "iqr": 0.0,
            "q1": median, "q3": median, "repeats": 5, "number": 1, "params": params}


def synthetic_record(framework, workload, measurements):
    return {"framework": framework, "workload": workload, "variant": None, "status": "ok",
            "error": None, "results": measurements,
            "memory": {"peak_rss_mib": 100.0, "rss_after_import_mib": 60.0}}


def synthetic_run(ember_median, torch_median, with_scaling=False):
    records = [
        synthetic_record(framework, "mlp_train",
                         [synthetic_measurement("mlp_train", median, batch=128, width=512)])
        for framework, median in (("ember", ember_median), ("torch", torch_median))
    ]
    if with_scaling:
        for framework, factor in (("ember", 1.3), ("torch", 1.0)):
            points = [synthetic_measurement(f"scaling/{axis}/{size}", factor * size / 32,
                                            axis=axis, size=size, batch=size, width=size)
                      for axis in ("batch", "width") for size in (32, 64, 128)]
            records.append(synthetic_record(framework, "scaling", points))
    workloads = ["mlp_train", "scaling"] if with_scaling else ["mlp_train"]
    return {"command": "python -m benchmarks", "started_utc": "2000-01-01 00:00 UTC",
            "total_seconds": 1.0, "quick": False, "threads": 2, "frameworks": ["ember", "torch"],
            "workloads": workloads, "torch_distribution": None, "records": records}


def test_report_plots_the_scaling_ratio(tmp_path):
    paths = report.write_report(synthetic_run(13.7, 10.0, with_scaling=True),
                                tmp_path / "RESULTS.md")
    assert tmp_path / "scaling.png" in paths
    assert (tmp_path / "scaling.png").stat().st_size > 0
    assert "| batch | 64 | 64 | 64 | 2.60 | 2.00 | 1.30 |" in (tmp_path / "RESULTS.md").read_text()


def test_report_says_by_how_much_a_target_is_missed():
    [(target, ratio, limit, status)] = report.target_rows(synthetic_run(13.7, 10.0))
    assert (target, limit) == ("mlp_train", 1.0)
    assert ratio == pytest.approx(1.37)
    assert "missed** by 37%" in status
    assert "by 27%" in status
    [(_, _, _, status)] = report.target_rows(synthetic_run(9.0, 10.0))
    assert status == "met"


def test_rerun_keeps_the_profile_commentary(tmp_path):
    out = tmp_path / "RESULTS.md"
    report.write_report(synthetic_run(13.7, 10.0), out)
    written = out.read_text()
    assert report.COMMENTARY_PLACEHOLDER in written
    out.write_text(written.replace(report.COMMENTARY_PLACEHOLDER, "BatchNorm is the hot spot."))
    report.write_report(synthetic_run(12.0, 10.0), out)
    rewritten = out.read_text()
    assert "BatchNorm is the hot spot." in rewritten
    assert report.COMMENTARY_PLACEHOLDER not in rewritten
    assert "missed** by 20%" in rewritten


def test_targets_are_checked_at_each_thread_count():
    run = synthetic_run(9.0, 10.0)
    two_threads = synthetic_run(12.5, 10.0)
    for record in run["records"]:
        record["threads"] = 1
    for record in two_threads["records"]:
        record["threads"] = 2
    run["records"] += two_threads["records"]
    run["threads"] = [1, 2]
    rows = report.target_rows(run)
    assert [(target, limit) for target, _, limit, _ in rows] == [
        ("mlp_train at 1 thread", 1.0), ("mlp_train at 2 threads", 1.0)]
    assert rows[0][1] == pytest.approx(0.9) and rows[0][3] == "met"
    assert rows[1][1] == pytest.approx(1.25) and "missed** by 25%" in rows[1][3]
    text = report.render_markdown(run, "scaling.png")
    assert "| `mlp_train` | 1 | ms per step | 9.00 (9.00, 0.00) | 10.0 (10.0, 0.00) | 0.90 |" in text
    assert "| `mlp_train` | 2 | ms per step | 12.5 (12.5, 0.00) | 10.0 (10.0, 0.00) | 1.25 |" in text


def test_report_renders_profiles_and_generation_rate():
    run = synthetic_run(13.7, 10.0)
    for framework, median in (("ember", 400.0), ("torch", 200.0)):
        measurement = synthetic_measurement("gpt_generate", median, new_tokens=200)
        measurement["unit_label"] = "ms per 200 tokens"
        run["records"].append(synthetic_record(framework, "gpt_generate", [measurement]))
    run["workloads"].append("gpt_generate")
    profile = {"executions": 10, "total_ms": 50.0,
               "phases": [{"phase": "forward", "line": 1, "ms": 20.0, "share": 0.4},
                          {"phase": "optimizer step", "line": 2, "ms": 5.0, "share": 0.1}],
               "functions": [{"function": "ember/optim/adam.py:30(_update)", "calls": 54.0,
                              "own_ms": 4.0, "share": 0.08}]}
    run["profiles"] = [{"framework": "ember", "workload": "gpt_train", "threads": 1,
                        "status": "ok", "error": None, "profile": profile},
                       {"framework": "ember", "workload": "rnn_seq", "threads": 1,
                        "status": "unavailable", "error": "ValueError: no", "profile": None}]
    text = report.render_markdown(run, "scaling.png")
    assert "| `gpt_generate` | 2 | ms per 200 tokens | 400 (400, 0.00) |" in text
    assert "`gpt_generate` in tokens per second: 2 threads: ember 500, PyTorch 1000." in text
    assert "### `gpt_train`" in text
    assert "1 thread, 10 profiled steps, 50.0 ms per step under the profiler." in text
    assert "Phases: forward 20.0 ms (40%), optimizer step 5.00 ms (10%)." in text
    assert "| `ember/optim/adam.py:30(_update)` | 54.0 | 4.00 | 8% |" in text
    assert "### `rnn_seq`\n\nUnavailable: ValueError: no" in text


def test_op_sweep_runs_its_quick_ops_and_reports_the_worst_ratio_first():
    import ember
    from benchmarks import op_sweep

    operations = op_sweep._operations(ember)
    for name in op_sweep.QUICK:
        operations[name]()  # each runs on ember
    text = op_sweep.report({"a": 10.0, "b": 2.0, "c": 5.0}, {"a": 5.0, "b": 6.0, "c": "Err"})
    lines = text.splitlines()
    assert lines[2] == "| b | 2.0 | 6.0 | 3.00 |" and lines[3] == "| a | 10.0 | 5.0 | 0.50 |"
    assert lines[-1] == "- c: PyTorch 5.0; ember Err"
