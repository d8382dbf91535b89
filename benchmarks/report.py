"""RESULTS.md, scaling.png and results.json from the records the workers returned."""

import json
import math
from pathlib import Path

from benchmarks.workloads import SINGLE_THREAD_COUNT

COMMENTARY_HEADING = "## Profile commentary"
COMMENTARY_PLACEHOLDER = ("_Not written yet: where ember's time goes in each missed target. "
                          "This section is kept when the benchmarks are rerun._")

# (target, measurement names whose worst ember/PyTorch ratio counts, highest ratio allowed, what)
# A target is checked at every thread count its workload ran at.
TARGETS = (
    ("mlp_train", ("mlp_train",), 1.0, "time"),
    ("mlp_eval", ("mlp_eval",), 1.0, "time"),
    ("small_train", ("small_train/mlp", "small_train/conv1d"), 0.8, "time"),
    ("op_overhead without graph", ("op_overhead/add",), 1.5, "time"),
    ("op_overhead with graph", ("op_overhead/add_graph",), 2.0, "time"),
    ("cnn_train", ("cnn_train",), 1.5, "time"),
    ("cnn_eval", ("cnn_eval",), 1.0, "time"),
    ("gpt_train", ("gpt_train",), 1.0, "time"),
    ("gpt_train peak memory of a step", ("gpt_train/memory",), 1.1, "memory"),
    ("gpt_generate", ("gpt_generate",), 1.0, "time"),
    ("lstm_train", ("lstm_train",), 1.0, "time"),
    ("rnn_seq", ("rnn_seq",), 0.8, "time"),
    ("nograd_memory: no_grad peak", ("nograd_memory/no_grad",), 1.0, "memory"),
    ("nograd_memory: grad peak", ("nograd_memory/grad",), 1.1, "memory"),
    ("import_time", ("import_time",), 0.25, "time"),
    ("pinn_train (at 1 thread)", ("pinn_train",), 0.8, "time"),
    ("hvp", ("hvp",), 1.5, "time"),
)
# A worker during which other processes kept more CPUs than this busy is flagged as disturbed.
OTHERS_CPU_WARNING = 0.2
# A measurement whose IQR exceeds this fraction of its median is flagged as noisy.
NOISE_FRACTION = 0.25
TIME_UNITS = {"ms", "us", "s"}
UNIT_LABELS = {"ms": "ms per step", "us": "µs per call", "MiB": "MiB peak growth", "s": "s"}
FRAMEWORK_LABELS = {"ember": "ember", "torch": "PyTorch"}


def _percent(value):
    return f"{value:.1f}%" if value < 1 else f"{value:.0f}%"


def _number(value):
    if value is None or not math.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 0.01 or magnitude == 0:
        return f"{value:.2f}"
    return f"{value:.3g}"


def thread_counts(run):
    """The thread counts of the run, as a list (older runs stored one number)."""
    threads = run.get("threads", 1)
    return list(threads) if isinstance(threads, (list, tuple)) else [threads]


def _threads_label(count):
    return f"{count} thread" + ("s" if count != 1 else "")


def collect(records, default_threads=None):
    """{(measurement name, threads): {framework: measurement + the worker's memory}} in run
    order; a record without its thread count gets default_threads."""
    table = {}
    for record in records:
        threads = record.get("threads", default_threads)
        for result in record.get("results", []):
            entry = dict(result)
            entry["worker_memory"] = record.get("memory", {})
            table.setdefault((result["name"], threads), {})[record["framework"]] = entry
    return table


def _run_table(run):
    return collect(run["records"], max(thread_counts(run)))


def is_noisy(measurement):
    return measurement["iqr"] > NOISE_FRACTION * measurement["median"]


def _busy(others_cpu):
    return others_cpu is not None and others_cpu > OTHERS_CPU_WARNING


def _disturbed(entry):
    """Other processes took CPU while this was timed (memory is not affected by them)."""
    return entry["unit"] in TIME_UNITS and _busy(entry.get("others_cpu"))


def min_ratio(table, key):
    """ember's fastest repeat over PyTorch's: the least disturbed view on a shared machine."""
    frameworks = table.get(key, {})
    if "ember" not in frameworks or "torch" not in frameworks:
        return None
    if frameworks["torch"]["min"] <= 0:
        return None
    return frameworks["ember"]["min"] / frameworks["torch"]["min"]


def ratio(table, key):
    frameworks = table.get(key, {})
    if "ember" not in frameworks or "torch" not in frameworks:
        return None
    denominator = frameworks["torch"]["median"]
    if denominator <= 0:
        return None
    return frameworks["ember"]["median"] / denominator


def _unavailable_reasons(records, workload_names):
    reasons = []
    for record in records:
        if record["status"] != "ok" and record["workload"] in workload_names:
            reason = f"{FRAMEWORK_LABELS[record['framework']]}: {record['error']}"
            if reason not in reasons:
                reasons.append(reason)
    return reasons


def target_rows(run):
    """(target, ratio or None, limit, status text) for each target in TARGETS and thread count;
    the target's name says the thread count when the run had several."""
    table = _run_table(run)
    several = len(thread_counts(run)) > 1
    rows = []
    for target, names, limit, kind in TARGETS:
        workload = names[0].split("/")[0]
        if workload not in run["workloads"]:
            continue
        counts = sorted({threads for name, threads in table if name in names})
        for threads in counts or [max(thread_counts(run))]:
            label = f"{target} at {_threads_label(threads)}" if several else target
            keys = [(name, threads) for name in names]
            rows.append((label, *_target_status(run, table, keys, workload, limit, kind)))
    return rows


def _target_status(run, table, keys, workload, limit, kind):
    """(worst ratio or None, limit, status) of one target at one thread count."""
    ratios = [ratio(table, key) for key in keys]
    if any(value is None for value in ratios):
        reasons = _unavailable_reasons(run["records"], {workload}) or ["no ember/PyTorch pair"]
        return None, limit, "unavailable: " + "; ".join(reasons)
    worst = max(ratios)
    if worst <= limit:
        status = "met"
    else:
        over = (worst / limit - 1) * 100
        cut = (1 - limit / worst) * 100
        noun = "time" if kind == "time" else "peak memory"
        status = (f"**missed** by {_percent(over)} ({_number(worst)} > {limit:g}): ember "
                  f"must cut its {noun} by {_percent(cut)}")
    if len(keys) > 1:
        parts = ", ".join(f"{name.split('/')[1]} {_number(value)}"
                          for (name, _), value in zip(keys, ratios))
        status += f" (worst of {parts})"
    entries = [entry for key in keys for entry in table[key].values()]
    if any(_disturbed(entry) for entry in entries):
        busiest = max(entry["others_cpu"] for entry in entries if _disturbed(entry))
        fastest = max(min_ratio(table, key) for key in keys)
        status += (f" (disturbed: other processes kept up to {busiest:.1f} CPUs busy; "
                   f"ratio of the fastest repeats {_number(fastest)}; rerun on a quiet "
                   "machine)")
    elif any(is_noisy(entry) for entry in entries):
        status += " (noisy: rerun on a quiet machine before trusting it)"
    return worst, limit, status


def _first_environment(records, framework, threads=None):
    """The environment of framework's first worker (at that thread count, if given)."""
    records = [record for record in records if record["framework"] == framework
               and (threads is None or record.get("threads") == threads)]
    for record in records:
        environment = record.get("environment", {})
        if environment.get("blas") and record.get("memory"):
            return environment
    for record in records:
        if "cpu_model" in record.get("environment", {}):
            return record["environment"]
    return None


def _machine_section(run):
    environments = {framework: _first_environment(run["records"], framework)
                    for framework in run["frameworks"]}
    known = [environment for environment in environments.values() if environment]
    lines = ["## Machine and software", ""]
    if not known:
        return lines + ["No worker reported its environment.", ""]
    first = known[0]
    ember_version = (environments.get("ember") or {}).get("framework_version")
    torch_version = (environments.get("torch") or {}).get("framework_version")
    torch_version = torch_version or run.get("torch_distribution") or "not installed"
    lines += [
        f"- CPU: {first['cpu_model']} ({first['logical_cpus']} logical CPUs)",
        f"- OS: {first['platform']}",
        f"- Python {first['python']}, NumPy {first['numpy']}, PyTorch {torch_version}, "
        f"ember {ember_version or 'unavailable'}",
        "- Threads: every workload at " + " and ".join(str(count) for count in thread_counts(run))
        + " threads, " + ", ".join(f"{name}" for name in first["thread_variables"])
        + " and torch.set_num_threads set to the count in each worker"
        + _single_count_note(run),
    ]
    lines += _load_lines(run.get("load_average"))
    if run.get("others_cpu") is not None:
        timed = [result for record in run["records"] for result in record.get("results", [])
                 if result["unit"] in TIME_UNITS]
        disturbed = [result for result in timed if _disturbed(result)]
        line = (f"- Other processes kept {run['others_cpu']:.2f} CPUs busy on average during "
                f"the run (from /proc/stat, less the benchmark's own CPU time)")
        if disturbed:
            line += (f"; **{len(disturbed)} of {len(timed)} timings shared the "
                     f"machine with them** (over {OTHERS_CPU_WARNING} CPUs; marked ‡ below) and "
                     "should be rerun on a quiet machine")
        lines.append(line)
    lines += [
        "",
        "BLAS and OpenMP libraries loaded in each worker (threadpoolctl's `threadpool_info()`):",
        "",
        "| worker | threads asked | user_api | internal_api | architecture | num_threads | version "
        "| library |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for framework in run["frameworks"]:
        for threads in thread_counts(run):
            environment = _first_environment(run["records"], framework, threads)
            if not environment:
                continue
            for library in environment["blas"]:
                cells = [FRAMEWORK_LABELS[framework], threads, library["user_api"],
                         library["internal_api"], library["architecture"] or "-",
                         library["num_threads"], library["version"] or "-",
                         f"`{library['library']}`"]
                lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    ember_counts = [(threads, (_first_environment(run["records"], "ember", threads) or {})
                     .get("ember")) for threads in thread_counts(run)]
    ember_counts = ", ".join(f"{entry['num_threads']} at {_threads_label(threads)}"
                             for threads, entry in ember_counts if entry)
    if ember_counts:
        lines += ["", "ember threads through BLAS unless EMBER_INTRA_OP_THREADS=1 switches on "
                      "its own pool (ember/_threads.py; BLAS then reads 1 thread); "
                      f"ember.get_num_threads(): {ember_counts}."]
    ember_environment = (environments.get("ember") or {}).get("ember") or {}
    if "native" in ember_environment:
        compiled = len(ember_environment["native"])
        lines += ["", f"ember's compiled autograd core (ember/_native.py): {compiled} of "
                      f"{ember_environment['native_modules']} modules ran from their Cython "
                      "build" + ("." if compiled else " (none built: the Python source ran).")]
    torch_build = (environments.get("torch") or {}).get("torch")
    if torch_build:
        reported = [(threads, (_first_environment(run["records"], "torch", threads) or {})
                     .get("torch")) for threads in thread_counts(run)]
        counts = ", ".join(f"{build['num_threads']} at {_threads_label(threads)}"
                           for threads, build in reported if build)
        lines += ["", "In the PyTorch worker OpenBLAS is NumPy's, loaded to make the inputs; torch "
                      "computes with MKL, which it links statically, so threadpoolctl does not "
                      f"see it. Its build reports (torch.get_num_threads(): "
                      f"{counts or torch_build['num_threads']}):", ""]
        lines += [f"- {line}" for line in torch_build["build"]]
    return lines + [""]


def _single_count_note(run):
    single = [name for name in SINGLE_THREAD_COUNT if name in run["workloads"]]
    if len(thread_counts(run)) < 2 or not single:
        return ""
    return f" ({', '.join(single)} at {max(thread_counts(run))} only)"


def _load_lines(load_average):
    if not load_average or not load_average.get("start"):
        return []

    def triple(values):
        return " / ".join(f"{value:.2f}" for value in values)

    line = f"- Load average (1 / 5 / 15 min, `os.getloadavg`): {triple(load_average['start'])} "
    line += "at the start"
    if load_average.get("end"):
        line += f", {triple(load_average['end'])} at the end"
    if load_average.get("highest_1min") is not None:
        line += f", highest 1-minute reading before a worker {load_average['highest_1min']:.2f}"
    return [line + " (it counts the benchmark's own process)"]


def _cell(entry):
    if entry is None:
        return "n/a"
    mark = (" †" if is_noisy(entry) else "") + (" ‡" if _disturbed(entry) else "")
    return f"{_number(entry['median'])} ({_number(entry['min'])}, {_number(entry['iqr'])}){mark}"


def _memory_cell(entry):
    if entry is None:
        return "n/a"
    worker_memory = entry.get("worker_memory") or {}
    peak = worker_memory.get("peak_rss_mib")
    after_import = worker_memory.get("rss_after_import_mib")
    if peak is None:
        return "n/a"
    if after_import is None:
        return _number(peak)
    return f"{_number(peak)} (+{_number(peak - after_import)})"


def _unit_label(entry):
    return entry.get("unit_label") or UNIT_LABELS.get(entry["unit"], entry["unit"])


def _results_section(run):
    table = _run_table(run)
    lines = [
        "## Results",
        "",
        "Median (min, IQR) of each framework over the pooled repeats of its worker processes; "
        "ratio = ember median / PyTorch median, lower is better; the ratio of the minimums is "
        "the view least disturbed by other jobs. † marks an IQR above "
        f"{NOISE_FRACTION:.0%} of the median, ‡ a measurement during which other processes "
        f"kept over {OTHERS_CPU_WARNING} CPUs busy: rerun either before trusting the ratio. "
        "Peak RSS is the worker process's high-water mark in MiB (median over its processes), "
        "with its growth over the RSS right after importing the framework in brackets.",
        "",
        "| workload | threads | unit | ember | PyTorch | ember/PyTorch | ratio of mins | "
        "ember peak RSS | PyTorch peak RSS |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, frameworks in table.items():
        name, threads = key
        if name.startswith("scaling/"):
            continue
        value = ratio(table, key)
        fastest = min_ratio(table, key)
        cells = [f"`{name}`", str(threads), _unit_label(next(iter(frameworks.values()))),
                 _cell(frameworks.get("ember")),
                 _cell(frameworks.get("torch")), _number(value), _number(fastest),
                 _memory_cell(frameworks.get("ember")), _memory_cell(frameworks.get("torch"))]
        lines.append("| " + " | ".join(cells) + " |")
    lines += _generation_lines(table)
    lines += _step_memory_lines(table)
    unavailable = [record for record in run["records"] if record["status"] != "ok"]
    if unavailable:
        lines += ["", "Unavailable:", ""]
        for record in unavailable:
            variant = f" ({record['variant']})" if record.get("variant") else ""
            threads = (f" at {_threads_label(record['threads'])}"
                       if record.get("threads") is not None else "")
            lines.append(f"- {FRAMEWORK_LABELS[record['framework']]} `{record['workload']}`"
                         f"{variant}{threads}: unavailable: {record['error']}")
    return lines + [""]


def _generation_lines(table):
    """gpt_generate as tokens per second (higher is better), from the medians above."""
    parts = []
    for (name, threads), frameworks in table.items():
        if name != "gpt_generate":
            continue
        rates = []
        for framework in ("ember", "torch"):
            entry = frameworks.get(framework)
            if entry is not None and entry["median"] > 0:
                tokens = entry["params"]["new_tokens"]
                rates.append(f"{FRAMEWORK_LABELS[framework]} "
                             f"{_number(tokens / entry['median'] * 1e3)}")
        if rates:
            parts.append(f"{_threads_label(threads)}: " + ", ".join(rates))
    if not parts:
        return []
    return ["", "`gpt_generate` in tokens per second: " + "; ".join(parts) + "."]


def _step_memory_lines(table):
    names = sorted({name for name, _ in table if name.endswith("/memory")})
    if not names:
        return []
    return ["", ", ".join(f"`{name}`" for name in names) + ": growth of the resident set "
            "during one more training step after the timed ones (VmHWM after a reset minus VmRSS "
            "just before), with glibc's mmap threshold pinned at 128 KiB and its free heap "
            "trimmed first, so that RSS follows the step's live buffers: activations, "
            "gradients and temporaries; the weights and optimizer state exist already."]


def _by_name(table):
    """{measurement name: {framework: entry}} for names measured at one thread count."""
    return {name: frameworks for (name, _), frameworks in table.items()}


def _memory_section(run):
    if "nograd_memory" not in run["workloads"]:
        return []
    table = _by_name(_run_table(run))
    lines = ["## nograd_memory", ""]
    example = next(iter(table.get("nograd_memory/grad", {}).values()), None)
    if example is not None:
        params = example["params"]
        lines += [
            f"One forward of a {params['depth']}-layer Linear({params['width']}, "
            f"{params['width']})+ReLU MLP at batch {params['batch']}, output kept alive, in a "
            f"fresh process per measurement (median of "
            f"{run.get('rounds', {}).get('nograd_memory', 1)} processes). Growth = "
            f"{params['method']}. The weights ({_number(params['weights_mib'])} MiB) and the "
            f"input exist before the baseline, and a batch-1 forward has run, so lazy "
            f"initialisation is not counted; BLAS workspace for the full-size GEMMs is, for "
            f"both frameworks alike. One activation is {_number(params['activation_mib'])} MiB.",
            "",
        ]
    lines += ["| framework | grad (MiB) | no_grad (MiB) | grad / no_grad |", "|---|---|---|---|"]
    for framework in run["frameworks"]:
        grad = table.get("nograd_memory/grad", {}).get(framework)
        no_grad = table.get("nograd_memory/no_grad", {}).get(framework)
        grad_value = grad["median"] if grad else None
        no_grad_value = no_grad["median"] if no_grad else None
        quotient = None
        if grad_value is not None and no_grad_value:
            quotient = grad_value / no_grad_value
        lines.append(f"| {FRAMEWORK_LABELS[framework]} | {_number(grad_value)} | "
                     f"{_number(no_grad_value)} | {_number(quotient)} |")
    return lines + [""]


def scaling_series(run):
    """{axis: {framework: [(size, median ms)]}} for the scaling workload."""
    series = {"batch": {}, "width": {}}
    for record in run["records"]:
        for result in record.get("results", []):
            if result["name"].startswith("scaling/"):
                params = result["params"]
                points = series[params["axis"]].setdefault(record["framework"], [])
                points.append((params["size"], result["median"]))
    return series


def _scaling_section(run, plot_name):
    if "scaling" not in run["workloads"]:
        return []
    table = _by_name(_run_table(run))
    lines = [
        "## Scaling",
        "",
        "`mlp_train` against batch size (width fixed) and hidden width (batch fixed), "
        "at fewer repeats, one worker process per framework (‡: other processes were busy "
        "while that point was timed).",
        "",
        f"![ember/PyTorch ratio against problem size]({plot_name})",
        "",
        "| axis | size | batch | width | ember ms | PyTorch ms | ember/PyTorch |",
        "|---|---|---|---|---|---|---|",
    ]

    def cell(entry):
        if entry is None:
            return "n/a"
        return _number(entry["median"]) + (" ‡" if _disturbed(entry) else "")

    for name, frameworks in table.items():
        if not name.startswith("scaling/"):
            continue
        params = next(iter(frameworks.values()))["params"]
        ember = frameworks.get("ember")
        torch = frameworks.get("torch")
        value = ratio(table, name)
        lines.append(f"| {params['axis']} | {params['size']} | {params['batch']} | "
                     f"{params['width']} | {cell(ember)} | {cell(torch)} | {_number(value)} |")
    return lines + [""]


def existing_commentary(path):
    """The profile commentary already in RESULTS.md, so a rerun does not erase it."""
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    start = text.find(COMMENTARY_HEADING)
    if start < 0:
        return None
    body = text[start + len(COMMENTARY_HEADING):]
    end = body.find("\n## ")
    body = body if end < 0 else body[:end]
    return body.strip() or None


def _profile_section(run):
    profiles = [record for record in run.get("profiles", []) if record["workload"]]
    if not profiles:
        return []
    lines = [
        "## Profiles",
        "",
        "ember's step under cProfile, one worker per workload after two warm-up steps: own time "
        "per function (pstats' tottime), top 15, per step. NumPy's ufuncs and matmul are not "
        "calls of their own: their time counts in the Python function that called them "
        "(`_matmul_arrays` holds the GEMMs). cProfile charges every Python call, so "
        "Python-heavy code looks slower than it is and the shares are what to read. The "
        "profiled workers run ember's Python source (EMBER_NATIVE=0), so that the autograd "
        "core's functions, compiled in the timed runs, appear by name. Phases: "
        "cumulative time of the parts of a training step.",
        "",
    ]
    for record in profiles:
        heading = f"### `{record['workload']}`"
        if record["status"] != "ok":
            lines += [heading, "", f"Unavailable: {record['error']}", ""]
            continue
        profile = record["profile"]
        lines += [heading, "",
                  f"{_threads_label(record['threads'])}, {profile['executions']} profiled "
                  f"steps, {_number(profile['total_ms'])} ms per step under the profiler.", ""]
        if profile["phases"]:
            lines += ["Phases: " + ", ".join(
                f"{phase['phase']} {_number(phase['ms'])} ms ({_percent(phase['share'] * 100)})"
                for phase in profile["phases"]) + ".", ""]
        lines += ["| function | calls per step | own ms per step | share |", "|---|---|---|---|"]
        for row in profile["functions"]:
            lines.append(f"| `{row['function']}` | {_number(row['calls'])} | "
                         f"{_number(row['own_ms'])} | {_percent(row['share'] * 100)} |")
        lines.append("")
    return lines


def render_markdown(run, plot_name, commentary=None):
    rounds = run.get("rounds", {})
    process_counts = ", ".join(f"{workload} {count}" for workload, count in rounds.items())
    mode = ("**Quick mode: tiny sizes and few repeats; these numbers say nothing about speed.**"
            if run["quick"] else
            "Timings are medians of at least 5 timed repeats per process, after warm-up, pooled "
            f"over several processes per framework ({process_counts}), the frameworks taking "
            "turns. import_time times 5 fresh interpreters inside its one worker.")
    lines = [
        "# ember against PyTorch",
        "",
        f"Generated by `{run['command'].strip()}` on {run['started_utc']} "
        f"in {run['total_seconds']:.0f} s. {mode} Every framework runs each workload in its "
        "own worker process (`python -m benchmarks.worker`) on identical NumPy-generated inputs "
        "(the sequence models also from identical seeded weights).",
        "",
    ]
    lines += _machine_section(run)
    rows = target_rows(run)
    if rows:
        lines += ["## Targets", "", "| target | ember/PyTorch | limit | status |",
                  "|---|---|---|---|"]
        for target, value, limit, status in rows:
            lines.append(f"| {target} | {'n/a' if value is None else _number(value)} | "
                         f"<= {limit:g} | {status} |")
        lines.append("")
    lines += _results_section(run)
    lines += _memory_section(run)
    lines += _scaling_section(run, plot_name)
    lines += _profile_section(run)
    lines += [COMMENTARY_HEADING, "", commentary or COMMENTARY_PLACEHOLDER, ""]
    return "\n".join(lines)


def plot_scaling(run, path):
    """ms per step (top) and the ember/PyTorch ratio (bottom) against batch size and width."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    from matplotlib import pyplot

    series = scaling_series(run)
    figure, axes = pyplot.subplots(2, 2, figsize=(10, 7), sharex="col")
    disturbed = [result for record in run["records"] for result in record.get("results", [])
                 if result["name"].startswith("scaling/") and _disturbed(result)]
    if disturbed:
        figure.suptitle(f"{len(disturbed)} points disturbed by other processes (‡ in "
                        "RESULTS.md); rerun on a quiet machine", color="tab:red")
    for column, axis_name in enumerate(("batch", "width")):
        timing_axes = axes[0][column]
        ratio_axes = axes[1][column]
        by_framework = series[axis_name]
        for framework, points in sorted(by_framework.items()):
            sizes, medians = zip(*points)
            timing_axes.plot(sizes, medians, marker="o", label=FRAMEWORK_LABELS[framework])
        timing_axes.set_xscale("log", base=2)
        timing_axes.set_yscale("log")
        timing_axes.set_ylabel("ms per step")
        timing_axes.set_title(f"mlp_train against {axis_name}")
        timing_axes.grid(True, which="both", alpha=0.3)
        if by_framework:
            timing_axes.legend()
        ember = dict(by_framework.get("ember", []))
        torch = dict(by_framework.get("torch", []))
        common = sorted(set(ember) & set(torch))
        ratios = [ember[size] / torch[size] for size in common]
        if common:
            ratio_axes.plot(common, ratios, marker="o", color="tab:red", label="ember / PyTorch")
        else:
            ratio_axes.text(0.5, 0.5, "ratio unavailable", ha="center", va="center",
                            transform=ratio_axes.transAxes)
        ratio_axes.axhline(1.0, color="gray", linestyle="--", label="mlp_train target (1.0)")
        ratio_axes.set_ylim(0, max([1.2] + [value * 1.1 for value in ratios]))
        ratio_axes.set_xscale("log", base=2)
        sizes = sorted({size for points in by_framework.values() for size, _ in points})
        if sizes:
            ratio_axes.set_xticks(sizes, [str(size) for size in sizes])
        timing_axes.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        timing_axes.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        timing_axes.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ratio_axes.set_xlabel("batch size" if axis_name == "batch" else "hidden width")
        ratio_axes.set_ylabel("ember / PyTorch")
        ratio_axes.grid(True, which="both", alpha=0.3)
        ratio_axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def write_report(run, out_path):
    """Write the markdown report, the PNG and the raw JSON; returns their paths."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    plot_path = out_path.with_name("scaling.png")
    json_path = out_path.with_name("results.json")
    commentary = existing_commentary(out_path)
    written = [out_path]
    if "scaling" in run["workloads"]:
        plot_scaling(run, plot_path)
        written.append(plot_path)
    out_path.write_text(render_markdown(run, plot_path.name, commentary))
    json_path.write_text(json.dumps(run, indent=1) + "\n")
    written.append(json_path)
    return written
