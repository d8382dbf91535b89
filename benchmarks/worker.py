"""One framework, one workload, one process: ``python -m benchmarks.worker --framework torch
--workload mlp_train --json``.

Prints a single JSON object (with --json) holding status ("ok" or "unavailable" with the error),
the measurements, this process's memory and its environment. Exit status 1 when unavailable.
"""

import argparse
import gc
import importlib
import json
import os
import sys
import time
import traceback

from benchmarks.environment import THREAD_VARIABLES

FRAMEWORKS = ("ember", "torch")


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__)
    parser.add_argument("--framework", choices=FRAMEWORKS, required=True)
    parser.add_argument("--workload", required=True)
    parser.add_argument("--variant", default=None, help="nograd_memory: grad or no_grad")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few repeats")
    parser.add_argument("--profile", action="store_true",
                        help="profile the workload's step with cProfile instead of timing it")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser.parse_args(argv)


def limit_threads(threads):
    """Must run before NumPy or torch is imported: BLAS pools read these once, at load."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)


def import_framework(name, threads):
    """The framework with nn, nn.functional and optim loaded where they exist; a workload that
    needs a missing piece fails on its own, so the others still run."""
    module = importlib.import_module(name)
    for submodule in ("nn", "nn.functional", "optim"):
        qualified = f"{name}.{submodule}"
        try:
            importlib.import_module(qualified)
        except ModuleNotFoundError as error:
            if error.name != qualified:
                raise
    if name == "torch":
        module.set_num_threads(threads)
    return module


def run(args):
    """Import, measure, describe; any exception becomes status 'unavailable' with its message."""
    # Imported here, after limit_threads: workloads loads NumPy, whose BLAS reads the variables.
    from benchmarks import environment, memory, workloads

    record = {
        "framework": args.framework,
        "workload": args.workload,
        "variant": args.variant,
        "quick": args.quick,
        "threads": args.threads,
        "profile": None,
        "status": "ok",
        "error": None,
        "results": [],
    }
    start = time.perf_counter()
    module = None
    try:
        if args.workload not in workloads.WORKLOAD_NAMES:
            raise ValueError(f"unknown workload {args.workload!r}; expected one of "
                             f"{', '.join(workloads.WORKLOAD_NAMES)}")
        if args.profile and args.workload not in workloads.PREPARERS:
            raise ValueError(f"--profile: {args.workload} has no step to profile; profiled "
                             f"workloads are {', '.join(workloads.PREPARERS)}")
        if args.workload == "import_time":
            record["results"] = workloads.run_import_time(args.framework, quick=args.quick)
        else:
            rss_before_import = memory.current_rss_mib()
            module = import_framework(args.framework, args.threads)
            # torch's import leaves some 10^5 Python objects that every full collection would
            # walk; freezing them keeps the timings about the workload, for both frameworks.
            gc.collect()
            gc.freeze()
            record["memory"] = {"rss_before_import_mib": rss_before_import,
                                "rss_after_import_mib": memory.current_rss_mib()}
            runner = workloads.RUNNERS[args.workload]
            variant = args.variant
            if variant is None and args.workload in workloads.VARIANTS:
                variant = workloads.VARIANTS[args.workload][0]
            record["variant"] = variant
            if args.profile:
                record["profile"] = profile(module, args.workload, args.quick)
            else:
                record["results"] = runner(module, quick=args.quick, variant=variant)
            record["memory"]["peak_rss_mib"] = memory.peak_rss_mib()
    except Exception as error:  # noqa: BLE001 - a framework's failure is reported, not raised
        record["status"] = "unavailable"
        record["error"] = f"{type(error).__name__}: {error}"
        record["traceback"] = traceback.format_exc()
    record["wall_seconds"] = time.perf_counter() - start
    try:
        record["environment"] = environment.describe(args.framework, module)
    except Exception as error:  # noqa: BLE001 - a missing threadpoolctl must not hide the timings
        record["environment"] = {"error": f"{type(error).__name__}: {error}"}
    return record


def profile(module, workload, quick):
    """cProfile of the workload's step (see benchmarks/profiling.py)."""
    from benchmarks import profiling, workloads  # after limit_threads, as in run()

    statement, namespace, _ = workloads.PREPARERS[workload](module, quick)
    mode = "quick" if quick else "full"
    executions = workloads.PROFILE_EXECUTIONS[mode]
    return profiling.profile_statement(statement, namespace,
                                       executions.get(workload, executions["default"]))


def format_text(record):
    lines = [f"{record['framework']} {record['workload']}: {record['status']}"]
    if record["error"]:
        lines.append("  " + record["error"])
    for result in record["results"]:
        lines.append(f"  {result['name']}: median {result['median']:.4g} {result['unit']} "
                     f"(min {result['min']:.4g}, IQR {result['iqr']:.3g}, "
                     f"{result['repeats']} repeats)")
    if record.get("profile"):
        lines.append(f"  {record['profile']['total_ms']:.4g} ms per execution under cProfile")
        for phase in record["profile"]["phases"]:
            lines.append(f"  phase {phase['phase']}: {phase['ms']:.4g} ms ({phase['share']:.0%})")
        for row in record["profile"]["functions"]:
            lines.append(f"  {row['own_ms']:8.3f} ms {row['share']:6.1%} {row['calls']:8.1f}x "
                         f"{row['function']}")
    return "\n".join(lines)


def main(argv=None):
    args = parse_arguments(argv)
    limit_threads(args.threads)
    record = run(args)
    if args.json:
        print(json.dumps(record))
    else:
        print(format_text(record))
    return 0 if record["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
