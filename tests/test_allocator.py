"""ember's malloc thresholds (ember/_allocator.py): the memory of three freed 8 MB (or 28 MB)
arrays is reused by the next three without page faults once ember is imported; the user's
settings win."""
import os
import platform
import subprocess
import sys

import pytest

from ember import _allocator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Faults in the third cycle of three 8 MB arrays made, filled and freed. glibc's own rule has
# raised its trim threshold to 16 MB after the first cycle: the 24 MB freed at the heap's top go
# back to the system and are faulted in again (~5,900 pages). ember's 256 MB keeps them.
SCRIPT = """
import resource, sys
import numpy as np
if sys.argv[1] == "ember":
    import ember
def cycle():
    arrays = [np.empty(int(sys.argv[2]), np.float32) for _ in range(3)]
    for array in arrays:
        array.fill(1.0)
cycle()
cycle()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
cycle()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

glibc_only = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="mallopt thresholds are glibc's")


def _third_cycle_faults(importing, elements=2_000_000, **environment):
    env = {key: value for key, value in os.environ.items()
           if key not in _allocator._USER_SETTINGS and key != "EMBER_MALLOC_THRESHOLDS"}
    # 4 KiB pages, so that the count does not depend on transparent huge pages
    env.update(environment, PYTHONPATH=ROOT, NUMPY_MADVISE_HUGEPAGE="0")
    completed = subprocess.run([sys.executable, "-c", SCRIPT, importing, str(elements)], env=env,
                               capture_output=True, text=True, timeout=120, check=True)
    return int(completed.stdout.split()[-1])


@glibc_only
def test_importing_ember_keeps_freed_arrays_for_reuse():
    assert _third_cycle_faults("numpy") > 4000, "the baseline no longer trims: the test shows nothing"
    assert _third_cycle_faults("ember") < 100


@glibc_only
def test_freed_arrays_beyond_the_adaptive_trim_ceiling_are_kept_too():
    """Three 28 MB arrays (a large vocabulary's logits and their gradients) free 84 MB at the
    heap's top: more than the 64 MB that glibc's adaptive rule reaches, less than ember's."""
    assert _third_cycle_faults("numpy", 7_000_000) > 15000
    assert _third_cycle_faults("numpy", 7_000_000, MALLOC_MMAP_THRESHOLD_="33554432",
                               MALLOC_TRIM_THRESHOLD_="67108864") > 15000
    assert _third_cycle_faults("ember", 7_000_000) < 100


@glibc_only
@pytest.mark.parametrize("setting", [{"EMBER_MALLOC_THRESHOLDS": "0"},
                                     {"MALLOC_TOP_PAD_": "0"}], ids=["switched-off", "user's"])
def test_switch_and_user_settings_leave_malloc_alone(setting):
    assert _third_cycle_faults("ember", **setting) > 4000


def test_set_thresholds_answers_false_when_switched_off_or_set_by_the_user():
    assert _allocator.set_thresholds({"EMBER_MALLOC_THRESHOLDS": "0"}) is False
    assert _allocator.set_thresholds({"MALLOC_TRIM_THRESHOLD_": "1"}) is False
