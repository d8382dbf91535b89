"""``python -m benchmarks``: run every workload for each framework in its own worker process,
then write RESULTS.md, scaling.png and results.json next to each other."""

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.environment import THREAD_VARIABLES, LoadAverages, OtherProcesses
from benchmarks.report import OTHERS_CPU_WARNING, write_report
from benchmarks.timing import summarise
from benchmarks.workloads import (
    OPTIONAL_REQUIREMENTS, PROFILED, SINGLE_THREAD_COUNT, VARIANTS, WORKLOAD_NAMES)

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = ("ember", "torch")
DEFAULT_OUT = Path("benchmarks") / "RESULTS.md"
WORKER_TIMEOUT_SECONDS = {"full": 300, "quick": 120}
# Worker processes per framework and workload, interleaved between the frameworks. Speed differs
# from one process to the next (page placement, neighbours on the machine), so repeats from
# several processes are pooled. import_time already starts its own fresh processes; scaling runs
# at reduced repeats; nograd_memory measures one forward per process.
ROUNDS = {
    "full": {"default": 3, "import_time": 1, "scaling": 1},
    "quick": {"default": 1},
}


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and few repeats (for tests; numbers mean nothing)")
    parser.add_argument("--only", nargs="+", choices=WORKLOAD_NAMES, metavar="NAME",
                        help="run only these workloads: " + ", ".join(WORKLOAD_NAMES))
    parser.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, default=list(FRAMEWORKS))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="markdown report; scaling.png and results.json go beside it")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="thread counts for BLAS/OpenMP and torch; every workload runs at "
                             "each (default 1 2), except "
                             + ", ".join(SINGLE_THREAD_COUNT) + " (at the highest)")
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="skip the cProfile pass over ember's steps ("
                             + ", ".join(PROFILED) + ")")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds before a worker is stopped and reported unavailable")
    args = parser.parse_args(argv)
    if min(args.threads) < 1:
        parser.error(f"--threads: thread counts must be at least 1, got {args.threads}")
    return args


def child_environment(threads):
    """The runner's environment with the thread variables set and the repository importable."""
    environment = dict(os.environ)
    for name in THREAD_VARIABLES:
        environment[name] = str(threads)
    existing = environment.get("PYTHONPATH")
    paths = [str(REPOSITORY_ROOT)] + ([existing] if existing else [])
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    return environment


def unavailable(framework, workload, variant, error, threads=None):
    return {"framework": framework, "workload": workload, "variant": variant, "threads": threads,
            "status": "unavailable", "error": error, "results": []}


def _last_json_line(text):
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def run_worker(framework, workload, variant, *, quick, threads, timeout, profile=False):
    """One worker process; a crash, a timeout or unreadable output becomes 'unavailable'."""
    command = [sys.executable, "-m", "benchmarks.worker", "--framework", framework,
               "--workload", workload, "--threads", str(threads), "--json"]
    if variant is not None:
        command += ["--variant", variant]
    if quick:
        command.append("--quick")
    if profile:
        command.append("--profile")
    environment = child_environment(threads)
    if profile:  # cProfile cannot see compiled functions: profile the Python source
        environment["EMBER_NATIVE"] = "0"
    try:
        completed = subprocess.run(command, cwd=REPOSITORY_ROOT, env=environment,
                                   capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return unavailable(framework, workload, variant, f"timed out after {timeout:.0f} s",
                           threads)
    record = _last_json_line(completed.stdout)
    if record is None:
        stderr_lines = completed.stderr.strip().splitlines() or ["no output"]
        return unavailable(framework, workload, variant,
                           f"worker exited with status {completed.returncode}: {stderr_lines[-1]}",
                           threads)
    return record


def _median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def merge_rounds(round_records):
    """One record whose measurements pool the repeat values of every round's process."""
    merged = dict(round_records[0])
    merged["rounds"] = len(round_records)
    merged["wall_seconds"] = sum(record["wall_seconds"] for record in round_records)
    results = []
    for position, first in enumerate(merged["results"]):
        same = [record["results"][position] for record in round_records]
        values = [value for measurement in same for value in measurement["values"]]
        pooled = {**first, **summarise(values, first["number"])}
        pooled["round_medians"] = [measurement["median"] for measurement in same]
        shares = [measurement["others_cpu"] for measurement in same
                  if measurement.get("others_cpu") is not None]
        pooled["others_cpu"] = max(shares) if shares else None
        results.append(pooled)
    merged["results"] = results
    memories = [record["memory"] for record in round_records if record.get("memory")]
    if memories:
        merged["memory"] = {key: _median([memory[key] for memory in memories])
                            for key in memories[0] if memories[0][key] is not None}
    return merged


def measure_variant(workload, variant, frameworks, missing, *, rounds, quick, threads,
                    timeout, loads):
    """One record per framework: its rounds' processes pooled, or the first failure."""
    succeeded = {framework: [] for framework in frameworks}
    failed = {}
    for round_index in range(rounds):
        # Alternate who goes first, so a drift in the machine's load hits both alike.
        order = frameworks if round_index % 2 == 0 else frameworks[::-1]
        for framework in order:
            if framework in missing or framework in failed:
                continue
            loads.sample()
            worker_start = time.perf_counter()
            record = run_worker(framework, workload, variant, quick=quick, threads=threads,
                                timeout=timeout)
            if record["status"] == "ok":
                succeeded[framework].append(record)
                outcome = "ok"
            else:
                failed[framework] = record
                outcome = "unavailable: " + record["error"]
            label = (f"{framework} {workload}" + (f" ({variant})" if variant else "")
                     + f" at {threads} thread{'s' if threads > 1 else ''}")
            shares = [result["others_cpu"] for result in record["results"]
                      if result.get("others_cpu") is not None]
            disturbed = ""
            if shares and max(shares) > OTHERS_CPU_WARNING:
                disturbed = f", other processes busy on up to {max(shares):.1f} CPUs"
            progress(f"{label} round {round_index + 1}/{rounds}: {outcome} "
                     f"[{time.perf_counter() - worker_start:.1f} s{disturbed}]")
    records = []
    for framework in frameworks:
        if framework in missing:
            records.append(unavailable(framework, workload, variant, missing[framework],
                                       threads))
            progress(f"{framework} {workload}: skipped, {missing[framework]}")
        elif framework in failed:
            records.append(failed[framework])
        else:
            records.append(merge_rounds(succeeded[framework]))
    return records


def profile_workloads(workloads, *, quick, threads, timeout, loads):
    """One worker per profiled workload: cProfile of ember's step (benchmarks/profiling.py)."""
    profiles = []
    for workload in workloads:
        if workload not in PROFILED:
            continue
        loads.sample()
        worker_start = time.perf_counter()
        record = run_worker("ember", workload, None, quick=quick, threads=threads,
                            timeout=timeout, profile=True)
        outcome = "ok" if record["status"] == "ok" else "unavailable: " + record["error"]
        progress(f"ember {workload} profile at {threads} thread{'s' if threads > 1 else ''}: "
                 f"{outcome} [{time.perf_counter() - worker_start:.1f} s]")
        profiles.append(record)
    return profiles


def installed_version(distribution):
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def requirements_met(workload):
    """Whether an optional workload's packages are installed (says so when they are not)."""
    missing = [package for package in OPTIONAL_REQUIREMENTS.get(workload, ())
               if importlib.util.find_spec(package) is None]
    if missing:
        progress(f"{workload}: left out, {' and '.join(missing)} not installed")
    return not missing


def progress(message):
    print(message, file=sys.stderr, flush=True)


def main(argv=None):
    args = parse_arguments(argv)
    args.threads = sorted(set(args.threads))
    mode = "quick" if args.quick else "full"
    timeout = args.timeout or WORKER_TIMEOUT_SECONDS[mode]
    workloads = [name for name in WORKLOAD_NAMES
                 if (args.only is None or name in args.only) and requirements_met(name)]
    frameworks = [name for name in FRAMEWORKS if name in args.frameworks]
    missing = {}
    if "torch" in frameworks and importlib.util.find_spec("torch") is None:
        missing["torch"] = "torch is not installed"

    started = datetime.datetime.now(datetime.timezone.utc)
    start = time.perf_counter()
    records = []
    profiles = []
    with OtherProcesses() as others, LoadAverages() as loads:
        for workload in workloads:
            counts = [max(args.threads)] if workload in SINGLE_THREAD_COUNT else args.threads
            for threads in counts:
                for variant in VARIANTS.get(workload, (None,)):
                    records += measure_variant(
                        workload, variant, frameworks, missing,
                        rounds=ROUNDS[mode].get(workload, ROUNDS[mode]["default"]),
                        quick=args.quick, threads=threads, timeout=timeout, loads=loads)
        if args.profile and "ember" in frameworks:
            profiles = profile_workloads(workloads, quick=args.quick, threads=min(args.threads),
                                         timeout=timeout, loads=loads)

    run = {
        "rounds": {workload: ROUNDS[mode].get(workload, ROUNDS[mode]["default"])
                   for workload in workloads},
        "command": "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started_utc": started.strftime("%Y-%m-%d %H:%M UTC"),
        "total_seconds": time.perf_counter() - start,
        "quick": args.quick,
        "threads": args.threads,
        "load_average": loads.summary(),
        "frameworks": frameworks,
        "workloads": workloads,
        "torch_distribution": installed_version("torch"),
        "others_cpu": others.cpus,
        "records": records,
        "profiles": profiles,
    }
    paths = write_report(run, args.out)
    progress(f"wrote {', '.join(str(path) for path in paths)} in {run['total_seconds']:.0f} s")
    return 0
