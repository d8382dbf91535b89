"""MPI faults under ``mpiexec``: uneven inputs and join(), a rank that skips a batch, models and
collectives that differ between ranks, a stuck rank, a rank that leaves early.

Every scenario must end by itself within seconds (the engine's checks, its 1 s timeout, a rank's
departure notice), never by the test's own subprocess timeout, which only guards against a hang.
The survivable scenarios share one launch (mpi_scripts/recoverable_faults.py, each rank reports
as JSON); those that end the job run one launch each (mpi_scripts/fatal_faults.py).
"""
import json
import os
import subprocess

import pytest

pytestmark = pytest.mark.mpi

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mpi_scripts")
HANG_GUARD_SECONDS = 60
TOLERANCE = 1e-6
MISMATCH = "Detected mismatch between collectives on ranks"


def _run(mpi_job, nproc, arguments):
    try:
        return mpi_job(nproc, arguments, timeout=HANG_GUARD_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the MPI job {arguments} hung until the test's own timeout")


@pytest.fixture(scope="module")
def reports(mpi_job, tmp_path_factory):
    out = tmp_path_factory.mktemp("faults")
    completed = _run(mpi_job, 2, [os.path.join(SCRIPTS, "recoverable_faults.py"), str(out)])
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return [json.loads((out / f"rank{rank}.json").read_text()) for rank in range(2)]


@pytest.mark.parametrize("divide", [True, False])
def test_join_with_uneven_batches_equals_the_single_process_replay(reports, divide):
    # Rank 0 has 2 batches, rank 1 has 4: after rank 0 joins, its zero gradients enter rank 1's
    # all-reduces, divided by the initial world size or by the ranks still training.
    for report in reports:
        assert report["join"][f"divide_{divide}_error"] < TOLERANCE
        assert report["join"][f"divide_{divide}_equal"]


def test_generic_join_syncs_buffers_and_the_final_model(reports):
    for report in reports:
        result = report["join_generic_and_buffers"]
        assert result["equal"] and result["disabled_equal"]
        assert result["batches_tracked"] == 4  # the model of the rank that finished last


def test_join_throw_on_early_termination_raises_on_every_rank(reports):
    joined, active = (report["join_throw"] for report in reports)
    assert joined["error"] == ["RuntimeError", "Rank 0 exhausted all inputs."]
    assert active["error"] == ["RuntimeError", "Detected at least one rank that exhausted "
                                               "inputs. Throwing across all ranks."]
    assert joined["steps_done"] == active["steps_done"] == 2


def test_a_rank_that_skips_a_batch(reports):
    for report in reports:
        assert report["skip_with_join"]["equal"]  # join() absorbs it
        error_type, message = report["skip_without_join"]["error"]  # without: an error, no hang
        assert error_type == "RuntimeError" and MISMATCH in message
        assert "rank 0 is running all_reduce(SUM) of float32 [32] (DistributedDataParallel " \
               "bucket 0)" in message
        assert "rank 1 is running all_reduce(SUM) of float64 [2] (all_reduce_metrics(correct, " \
               "count))" in message


@pytest.mark.parametrize("case, detail", [
    ("order", "rank 1 has parameter 'second.weight' float32 [4, 4] at position 0, where rank 0 "
              "has parameter 'first.weight' float32 [4, 4]"),
    ("shape", "rank 1 has parameter 'weight' float32 [5, 4] at position 0, where rank 0 has "
              "parameter 'weight' float32 [4, 4]"),
    ("buffers", "rank 1 has 0 buffers, while rank 0 has 3"),
    ("dtype", "rank 1 has parameter 'weight' float64 [2, 2] at position 0, where rank 0 has "
              "parameter 'weight' float32 [2, 2]"),
])
def test_mismatched_models_are_an_error_on_every_rank(reports, case, detail):
    for report in reports:
        error_type, message = report["mismatched_models"][case]
        assert error_type == "RuntimeError"
        assert message.startswith("DDP expects same model across all ranks, but ")
        assert detail in message
    assert all(report["mismatched_models"]["same"] is None for report in reports)


@pytest.mark.parametrize("case, detail", [
    ("size", "rank 0 is running all_reduce(SUM) of float32 [10], but rank 1 is running "
             "all_reduce(SUM) of float32 [12]"),
    ("dtype", "rank 0 is running all_reduce(SUM) of float32 [3], but rank 1 is running "
              "all_reduce(SUM) of float64 [3]"),
    ("broadcast_root", "rank 0 is running broadcast of float32 [2] from rank 0, but rank 1 is "
                       "running broadcast of float32 [2] from rank 1"),
    ("all_gather_shape", "rank 0 is running all_gather of float32 [2], but rank 1 is running "
                         "all_gather of float32 [3]"),
    ("metrics_keys", "(all_reduce_metrics(correct, loss)), but rank 1 is running all_reduce(SUM)"
                     " of float64 [2] (all_reduce_metrics(count, loss))"),
    ("kind", "rank 0 is running all_reduce(SUM) of float32 [1], but rank 1 is running barrier"),
    ("sync_batchnorm", "rank 0 is running all_reduce(SUM) of float64 [7] (SyncBatchNorm "
                       "statistics, 3 channels), but rank 1 is running all_reduce(SUM) of "
                       "float64 [9] (SyncBatchNorm statistics, 4 channels)"),
])
def test_mismatched_collectives_are_an_error_on_every_rank(reports, case, detail):
    for report in reports:
        error_type, message = report["collective_mismatch"][case]
        assert error_type == "RuntimeError" and message.startswith(MISMATCH)
        assert detail in message
        assert report["collective_mismatch"]["after"] == [3.0, 3.0]  # the group still works
        assert report["collective_mismatch"]["bool_or"] == [True, False]


def test_a_stuck_rank_times_out_on_every_waiting_rank_and_ends_the_job(mpi_job):
    # Three ranks: ranks 0 and 1 wait in the gradient all-reduce while rank 2 hangs in
    # __getitem__; both waiting ranks raise, naming the collective and rank 2.
    completed = _run(mpi_job, 3, [os.path.join(SCRIPTS, "fatal_faults.py"), "stuck_rank"])
    assert completed.returncode != 0
    assert "unreachable" not in completed.stdout
    # each rank's error as one whole line (the script writes it in one go: the tracebacks of
    # the ranks interleave on the shared pipe)
    errors = [line for line in completed.stderr.splitlines()
              if line.startswith("DistBackendError: ")]
    assert len(errors) == 2, completed.stderr
    assert any("timed out after 1 s; ranks that did not arrive: rank 2 " in line
               for line in errors)
    for rank in (0, 1):
        # The first rank past its deadline times out; the other may hear of it first.
        assert any(line.startswith(f"DistBackendError: rank {rank}: collective #4, "
                                   f"all_reduce(SUM) of float32 [26] (DistributedDataParallel "
                                   f"bucket 0), ") for line in errors)
    assert all("ranks that did not arrive: rank 2 (no answer: busy outside collectives, hung "
               "or exited). Waiting in it: ranks 0, 1." in line for line in errors)


def test_a_rank_that_leaves_early_fails_the_others_at_once(mpi_job):
    completed = _run(mpi_job, 2, [os.path.join(SCRIPTS, "fatal_faults.py"), "early_exit"])
    assert completed.returncode != 0
    assert "rank 1 leaves early" in completed.stdout
    assert ("DistBackendError: rank 0: collective #4, all_reduce(SUM) of float32 [26] "
            "(DistributedDataParallel bucket 0), cannot complete; ranks that did not arrive: "
            "rank 1 (left the process group after collective #3)") in completed.stderr
    assert "timed out" not in completed.stderr  # it did not wait for the timeout


def test_a_rank_that_never_starts_ends_the_job_at_the_timeout(mpi_job):
    # MPI's start-up blocks in C holding the GIL: faulthandler's watchdog reports where.
    completed = _run(mpi_job, 2, [os.path.join(SCRIPTS, "fatal_faults.py"), "late_init"])
    assert completed.returncode != 0
    assert "Timeout (0:00:01)!" in completed.stderr
    assert "in _start_mpi_waiting_for_every_rank\n" in completed.stderr
    assert "in init_process_group\n" in completed.stderr
