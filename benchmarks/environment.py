"""What a worker ran on: machine, versions, and the BLAS libraries loaded in its process."""

import os
import platform
import subprocess
import sys
from pathlib import Path

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


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
    return info
