"""Where a workload's step spends its time: cProfile over a few executions after warm-up.

Own time (pstats' tottime) per function, the top rows, and the cumulative time of the phases of a
training step (the `_phase_*` functions of workloads.py). NumPy's ufuncs and matmul do not appear
as calls of their own: their time is counted in the Python function that called them.
cProfile adds a cost to every Python call, so Python-heavy code looks slower than it is.
"""

import cProfile
import pstats
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
TOP_FUNCTIONS = 15
PHASE_PREFIX = "_phase_"
WARMUP_EXECUTIONS = 2


def function_label(filename, line, name):
    """`ember/ops/shape.py:120(view)` for code in the repository or a package, the name for
    built-ins (`<built-in method numpy...>`)."""
    if filename == "~" or filename.startswith("<"):
        return name
    path = Path(filename)
    try:
        shown = path.resolve().relative_to(REPOSITORY_ROOT).as_posix()
    except ValueError:
        parts = path.parts
        shown = (Path(*parts[parts.index("site-packages") + 1:]).as_posix()
                 if "site-packages" in parts else path.name)
    return f"{shown}:{line}({name})"


def profile_statement(statement, namespace, executions, top=TOP_FUNCTIONS):
    """Profile `executions` runs of statement (after warm-up); times are per execution."""
    code = compile(statement, "<step>", "exec")
    for _ in range(WARMUP_EXECUTIONS):
        exec(code, namespace)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(executions):
        exec(code, namespace)
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    total = sum(own for _, _, own, _, _ in stats.values())
    ordered = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)
    functions = []
    for (filename, line, name), (_, calls, own, _, _) in ordered[:top]:
        functions.append({"function": function_label(filename, line, name),
                          "calls": calls / executions,
                          "own_ms": own / executions * 1e3,
                          "share": own / total if total else 0.0})
    phases = []
    for (filename, line, name), (_, _, _, cumulative, _) in stats.items():
        if name.startswith(PHASE_PREFIX) and Path(filename).name == "workloads.py":
            phases.append({"phase": name[len(PHASE_PREFIX):].replace("_", " "), "line": line,
                           "ms": cumulative / executions * 1e3,
                           "share": cumulative / total if total else 0.0})
    phases.sort(key=lambda phase: phase["line"])
    return {"executions": executions, "total_ms": total / executions * 1e3,
            "functions": functions, "phases": phases}
