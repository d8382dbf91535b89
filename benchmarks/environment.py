"""What a worker ran on: machine, versions, the BLAS libraries loaded in its process, and how
much of the machine other processes took meanwhile."""

import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy since boot (/proc/stat), or None."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
    user, nice, system, _, _, irq, softirq, steal = (int(value) for value in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds():
    """CPU seconds of this process and its finished descendants (the workers)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class OtherProcesses:
    """Average number of CPUs that other processes kept busy while the block ran.

    Any other job sharing the cores disturbs the timings (OpenMP's barriers suffer most), so
    each timing records this share and the report flags the ones it touched. None where
    /proc/stat is missing or the block was too short for its 10 ms ticks.
    """

    shortest_seconds = 0.2

    def __enter__(self):
        self.start = (time.perf_counter(), _busy_cpu_seconds(), _own_cpu_seconds())
        self.cpus = None
        return self

    def __exit__(self, *exception):
        wall_start, busy_start, own_start = self.start
        busy_end = _busy_cpu_seconds()
        wall = time.perf_counter() - wall_start
        if busy_start is None or busy_end is None or wall < self.shortest_seconds:
            return False
        others = (busy_end - busy_start) - (_own_cpu_seconds() - own_start)
        self.cpus = max(0.0, others / wall)
        return False


class LoadAverages:
    """The machine's load averages (1, 5 and 15 minutes, os.getloadavg) at the start and end of
    a block and the highest 1-minute reading sampled in between (sample() before each worker).

    The load counts runnable processes, the benchmark's own included: on a 2-core machine a
    reading above ~2 means other jobs were queueing for the cores too.
    """

    def __enter__(self):
        self.start = _load_average()
        self.end = None
        self.highest = self.start[0] if self.start else None
        return self

    def sample(self):
        reading = _load_average()
        if reading is not None:
            self.highest = reading[0] if self.highest is None else max(self.highest, reading[0])

    def __exit__(self, *exception):
        self.end = _load_average()
        self.sample()
        return False

    def summary(self):
        return {"start": self.start, "end": self.end, "highest_1min": self.highest}


def _load_average():
    try:
        return list(os.getloadavg())
    except (OSError, AttributeError):
        return None


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, or platform's guess elsewhere."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas_libraries():
    """threadpoolctl's view of the loaded BLAS/OpenMP libraries (filepath shortened to a name)."""
    from threadpoolctl import threadpool_info

    libraries = []
    for entry in threadpool_info():
        libraries.append({
            "user_api": entry.get("user_api"),
            "internal_api": entry.get("internal_api"),
            "architecture": entry.get("architecture"),
            "num_threads": entry.get("num_threads"),
            "version": entry.get("version"),
            "threading_layer": entry.get("threading_layer"),
            "library": Path(entry.get("filepath") or "").name,
        })
    return libraries


def _torch_build(torch):
    """torch links MKL statically, so threadpoolctl misses it; its build summary names it."""
    wanted = ("Math Kernel Library", "CPU capability usage", "BLAS_INFO", "OpenMP")
    lines = []
    for line in torch.__config__.show().splitlines():
        line = line.strip().lstrip("- ").strip()
        if line.startswith("Build settings:"):
            settings = [item.strip() for item in line[len("Build settings:"):].split(",")]
            lines.extend(item for item in settings if item.startswith("BLAS_INFO"))
        elif any(word in line for word in wanted):
            lines.append(line)
    return {"num_threads": torch.get_num_threads(), "build": lines}


def framework_version(name, module):
    version = getattr(module, "__version__", None)
    if version is not None:
        return str(version)
    if name == "ember":
        return "git " + git_revision(Path(module.__path__[0]).parent)
    return "unknown"


def git_revision(directory):
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=directory,
            capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return completed.stdout.strip() or "uncommitted"


def describe(framework, module):
    """Everything RESULTS.md reports about one worker process; module is None if not imported."""
    import numpy

    info = {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "numpy": numpy.__version__,
        "framework": framework,
        "framework_version": None,
        "thread_variables": {name: os.environ.get(name) for name in THREAD_VARIABLES},
        "blas": blas_libraries(),
    }
    if module is not None:
        info["framework_version"] = framework_version(framework, module)
        if framework == "torch":
            info["torch"] = _torch_build(module)
        elif framework == "ember":
            info["ember"] = {"num_threads": module.get_num_threads(),
                             "native": list(module._native.loaded()),
                             "native_modules": len(module._native.MODULES)}
    return info
