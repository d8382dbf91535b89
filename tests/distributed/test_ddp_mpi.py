"""Multi-rank behaviour under mpiexec (2 and 3 ranks): DDP equals single-process training on the
global batch, SyncBatchNorm equals BatchNorm on it, no_sync, samplers, and no hang on failure.

All scenarios run in one launch per world size (tests/distributed/scripts/ddp_scenarios.py);
these tests assert on the figures it reports. Skipped when mpiexec or mpi4py is missing.
"""
import json
import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.mpi

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts")
TOLERANCE = 1e-5  # relative to each tensor's largest value, float32 throughout


@pytest.fixture(scope="module", params=[2, 3], ids=["2ranks", "3ranks"])
def results(request, tmp_path_factory, mpi_job):
    output = tmp_path_factory.mktemp(f"mpi{request.param}") / "results.json"
    completed = mpi_job(request.param, ["-m", "mpi4py",
                                        os.path.join(SCRIPTS, "ddp_scenarios.py"), str(output)],
                        timeout=180)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    with open(output) as handle:
        report = json.load(handle)
    assert report["world_size"] == request.param
    return report


def test_collectives_across_ranks(results):
    assert results["collectives"]["failures"] == []


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("variant", ["buckets", "one_bucket", "no_overlap"])
def test_ddp_equals_single_process_training_on_the_global_batch(results, optimizer, variant):
    assert results["training"][f"{optimizer}_{variant}"] < TOLERANCE


def test_small_bucket_cap_makes_several_buckets(results):
    training = results["training"]
    assert training["sgd_buckets_buckets"] == 4  # one per parameter at a 200-byte cap
    assert training["sgd_one_bucket_buckets"] == 1


@pytest.mark.parametrize("model", ["mlp", "cnn"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_sync_batchnorm_equals_batchnorm_on_the_global_batch(results, model, optimizer):
    assert results["sync_batchnorm"][f"{model}_{optimizer}"] < TOLERANCE
    assert results["sync_batchnorm"][f"{model}_{optimizer}_running_stats"] < TOLERANCE


def test_plain_batchnorm_under_ddp_keeps_per_rank_statistics(results):
    local = results["local_batchnorm"]
    assert local["versus_local"] < TOLERANCE  # each rank: the statistics of its own shard
    assert local["versus_global"] > 1e-2  # ... which are not the global batch's
    assert local["synced_versus_global"] < TOLERANCE
    assert local["converted_shares_buffers"]


def test_no_sync_accumulation_equals_one_step_on_the_accumulated_batch(results):
    assert results["no_sync"]["error"] < TOLERANCE
    assert results["no_sync"]["local_grads_differ"]


def test_tied_unused_and_frozen_parameters(results):
    shapes = results["graph_shapes"]
    assert shapes["error_used_find_unused_False"] < TOLERANCE
    assert shapes["error_all_find_unused_True"] < TOLERANCE
    # Without find_unused_parameters an unused parameter gets a zero gradient (so weight decay
    # moves it); with it, the gradient stays None as in single-process training.
    assert shapes["unused_grad_find_unused_False"] == 0.0
    assert shapes["error_all_find_unused_False"] > TOLERANCE
    assert shapes["unused_grad_find_unused_True"] is None


def test_sampler_shards_from_the_process_group(results):
    padded, dropped = results["sampler"]["padded"], results["sampler"]["drop_last"]
    assert padded["covers"] and padded["sizes_equal"] and padded["epochs_differ"]
    assert not padded["disjoint"]  # 2N + 1 samples: padding repeats the start
    world_size = results["world_size"]
    assert dropped["disjoint"] and dropped["sizes_equal"] and dropped["epochs_differ"]
    assert dropped["drop_last_count"] == 2 * world_size


def test_evaluation_totals_equal_single_process_metrics(results):
    evaluation = results["evaluation"]
    assert evaluation["count_equal"] and evaluation["correct_equal"]
    assert evaluation["loss_error"] < 1e-6


@pytest.mark.parametrize("runner", [[], ["-m", "mpi4py"]], ids=["ember_hook", "mpi4py_runner"])
def test_a_rank_that_raises_ends_the_whole_job(runner, mpi_job):
    start = time.monotonic()
    try:
        completed = mpi_job(2, [*runner, os.path.join(SCRIPTS, "raise_on_one_rank.py")],
                            timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the job hung after one rank raised")
    elapsed = time.monotonic() - start
    assert completed.returncode != 0
    assert "deliberate failure on the last rank" in completed.stderr
    assert "unreachable" not in completed.stdout
    assert elapsed < 30


@pytest.mark.usefixtures("mpi_job")  # skips without MPI
def test_ember_train_nproc_trains_on_two_ranks_and_rank_zero_checkpoints(tmp_path,
                                                                        mpi_environment):
    pytest.importorskip("sklearn")
    out = tmp_path / "run"
    command = [sys.executable, "-m", "ember.cli", "train", "--model", "mlp", "--epochs", "1",
               "--batch-size", "64", "--nproc", "2", "--quiet", "--out", str(out)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120,
                               env=mpi_environment, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.count("final test accuracy") == 1  # rank 0 alone prints
    assert sorted(path.name for path in out.iterdir()) == ["epoch-001.safetensors"]
    evaluated = subprocess.run([sys.executable, "-m", "ember.cli", "eval",
                                str(out / "epoch-001.safetensors"), "--json"],
                               capture_output=True, text=True, timeout=120, env=mpi_environment,
                               cwd=ROOT)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    accuracy = json.loads(evaluated.stdout)["accuracy"]
    assert f"{100 * accuracy:.2f}%" in completed.stdout
