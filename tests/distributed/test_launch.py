"""The --nproc re-launch: parsing, the mpiexec command line, nothing to do for one process."""
import sys

import pytest

from ember.distributed import launch


@pytest.mark.parametrize("arguments,expected", [
    (["train", "--nproc", "3"], 3), (["train", "--nproc=2", "--epochs", "1"], 2),
    (["train"], None), (["train", "--nproc", "x"], None), (["train", "--nproc"], None)])
def test_requested_nproc(arguments, expected):
    assert launch.requested_nproc(arguments) == expected


def test_nothing_to_relaunch_for_one_process_or_inside_a_job(monkeypatch):
    assert launch.relaunch_for_nproc(["train"]) is None
    assert launch.relaunch_for_nproc(["train", "--nproc", "1"]) is None
    monkeypatch.setenv("PMI_RANK", "1")
    assert launch.relaunch_for_nproc(["train", "--nproc", "2"]) is None


def test_mpi_command_runs_the_module_under_mpi4py(monkeypatch):
    monkeypatch.setattr(launch, "find_mpiexec", lambda: "/opt/mpi/bin/mpiexec")
    assert launch.mpi_command(4, ["train", "--nproc", "4"]) == [
        "/opt/mpi/bin/mpiexec", "-n", "4", sys.executable, "-m", "mpi4py", "-m", "ember.cli",
        "train", "--nproc", "4"]
    monkeypatch.setattr(launch, "find_mpiexec", lambda: None)
    with pytest.raises(RuntimeError, match="no mpiexec found"):
        launch.mpi_command(2, ["train"])
