"""`ember train --nproc N` before the job starts: argparse parses --nproc, and every check (MPI
present, batch size, output folder, a resumed checkpoint) runs in the first process."""
import os

import pytest

import ember
from ember.cli import mpi, train
from ember.cli.main import main
from ember.distributed import launch
from ember.serialization import save
from ember.training.loop import _training_state

pytest.importorskip("sklearn")


def _run(capsys, *argv):
    status = main([str(argument) for argument in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def started(monkeypatch):
    """Records the jobs the CLI would start instead of starting them."""
    jobs = []

    def start_job(nproc, arguments):
        jobs.append((nproc, arguments))
        return 0

    monkeypatch.setattr(mpi, "start_job", start_job)
    monkeypatch.setattr(mpi, "check_can_launch", lambda nproc: None)
    return jobs


def test_the_job_starts_after_the_checks_with_the_same_arguments(tmp_path, capsys, started):
    argv = ["train", "--model", "mlp", "--epochs", "1", "--nproc", "2", "--out", tmp_path / "run"]
    status, out, err = _run(capsys, *argv)
    assert (status, out, err) == (0, "", "")
    assert started == [(2, [str(argument) for argument in argv])]
    assert os.listdir(tmp_path / "run") == []  # checked writable, nothing written


@pytest.mark.parametrize("argv, message", [
    (["--nproc", "0"], "argument --nproc: expected a positive integer, got '0'"),
    (["--nproc", "x"], "argument --nproc: expected a positive integer, got 'x'"),
    (["--nproc", "2", "--batch-size", "63"], "--batch-size 63 must be divisible by --nproc 2"),
])
def test_bad_nproc_settings_never_start_a_job(tmp_path, capsys, started, argv, message):
    status, out, err = _run(capsys, "train", "--out", tmp_path, *argv)
    assert status == 2 and out == "" and started == []
    assert err.count("\n") == 1 and message in err


def test_without_mpiexec_nproc_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(launch, "find_mpiexec", lambda: None)
    status, out, err = _run(capsys, "train", "--nproc", "2", "--out", tmp_path)
    assert status == 2 and out == ""
    assert err == ("ember: error: --nproc 2 needs MPI, but no mpiexec was found; install the MPI "
                   "extra (pip install '.[mpi]' in the ember checkout) or drop --nproc\n")


@pytest.mark.parametrize("command", ["demo", "eval", "inspect"])
def test_other_commands_reject_nproc(tmp_path, capsys, command):
    checkpoint = tmp_path / "w.safetensors"
    ember.save({"w": ember.ones(1)}, checkpoint)
    argv = [command] if command == "demo" else [command, checkpoint]
    status, out, err = _run(capsys, *argv, "--nproc", "2")
    assert status == 2 and out == ""
    assert err == (f"ember: error: unrecognized arguments: --nproc 2 (see 'ember {command} "
                   f"--help')\n")


def test_help_after_nproc_is_help(capsys, started):
    status, out, err = _run(capsys, "train", "--nproc", "2", "--help")
    assert status == 0 and err == "" and started == []
    assert "--nproc N" in out and "(default: 1;" in out


def test_a_resume_that_does_not_fit_is_caught_before_the_job(tmp_path, capsys, started):
    out = tmp_path / "run"
    assert _run(capsys, "train", "--model", "mlp", "--epochs", "1", "--quiet", "--out", out)[0] == 0
    status, printed, err = _run(capsys, "train", "--resume", out, "--nproc", "2")
    assert status == 2 and started == []
    assert "--nproc 2 (checkpoint: 1)" in err


def test_resuming_a_data_parallel_run_starts_a_job_of_its_size(tmp_path, capsys, started,
                                                               monkeypatch):
    """The first process builds the job's objects in a world of one to check the checkpoint."""

    out = tmp_path / "run"
    os.makedirs(out)
    settings = {**train.DEFAULTS, "model": "mlp", "nproc": 2, "epochs": 3}
    mpi.join_job(2)
    try:
        run = train._Run(settings, rank=0)
    finally:
        mpi.leave_job()
    save(_training_state(run.model, run.optimizer, None, run.train_loader, 1,
                         {"train_loss": [1.0], "val_loss": [1.0], "val_accuracy": [0.5]},
                         settings), out / "epoch-001.safetensors")
    status, printed, err = _run(capsys, "train", "--resume", out)
    assert (status, err) == (0, "")
    assert started == [(2, ["train", "--resume", str(out)])]
