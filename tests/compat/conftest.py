"""Fixtures of the drop-in tests: ``torch`` resolved to ember for one test, and scripts run
through ``ember run`` in a subprocess."""
import os
import subprocess
import sys

import pytest

import ember.compat

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def ember_torch():
    """``import torch`` resolves to ember during the test (a real torch is hidden, and comes
    back afterwards exactly as it was)."""
    ember.compat.install(force=True)
    try:
        yield __import__("torch")
    finally:
        ember.compat.uninstall()


def run_ember(*arguments, cwd=None, timeout=120, module_runner=False):
    """``ember run ARGS`` (or ``python -m ember.run ARGS``) in a subprocess with this checkout
    first on the path."""
    runner = ["-m", "ember.run"] if module_runner else ["-m", "ember", "run"]
    environment = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        environment[name] = "1"
    return subprocess.run([sys.executable, *runner, *map(str, arguments)], cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=timeout, env=environment)
