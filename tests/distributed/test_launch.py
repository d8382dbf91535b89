"""The mpiexec launcher: its command line, the job's exit status, and Ctrl-C passed on once."""
import os
import signal
import sys
import textwrap
import threading

import pytest

from ember.distributed import launch

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and scripts")


def test_mpi_command_runs_the_module_under_mpi4py(monkeypatch):
    monkeypatch.setattr(launch, "find_mpiexec", lambda: "/opt/mpi/bin/mpiexec")
    assert launch.mpi_command(4, ["train", "--nproc", "4"], "ember.cli") == [
        "/opt/mpi/bin/mpiexec", "-n", "4", sys.executable, "-m", "mpi4py", "-m", "ember.cli",
        "train", "--nproc", "4"]
    monkeypatch.setattr(launch, "find_mpiexec", lambda: None)
    with pytest.raises(RuntimeError, match="no mpiexec found"):
        launch.mpi_command(2, ["train"], "ember.cli")


def _fake_mpiexec(tmp_path, body):
    """An executable standing in for mpiexec: a Python script with ``body``."""
    script = tmp_path / "mpiexec"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    script.chmod(0o755)
    return str(script)


def test_run_returns_the_jobs_exit_status(tmp_path, monkeypatch):
    record = tmp_path / "arguments"
    fake = _fake_mpiexec(tmp_path, f"""
        import sys
        open({str(record)!r}, "w").write(" ".join(sys.argv[1:]))
        sys.exit(3)
    """)
    monkeypatch.setattr(launch, "find_mpiexec", lambda: fake)
    assert launch.run(2, ["train", "--epochs", "1"], "ember.cli") == 3
    assert record.read_text() == (f"-n 2 {sys.executable} -m mpi4py -m ember.cli train "
                                  f"--epochs 1")


def test_ctrl_c_reaches_the_job_exactly_once(tmp_path, monkeypatch):
    """MPICH's mpiexec tears the job down noisily on a second SIGINT: two Ctrl-C here, one there."""
    record = tmp_path / "interrupts"
    ready = tmp_path / "ready"
    fake = _fake_mpiexec(tmp_path, f"""
        import signal, sys, time
        received = []
        signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
        open({str(ready)!r}, "w").close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not received:
            time.sleep(0.01)
        time.sleep(0.5)  # time for a second, unwanted SIGINT to arrive
        open({str(record)!r}, "w").write(str(len(received)))
        sys.exit(130)
    """)
    monkeypatch.setattr(launch, "find_mpiexec", lambda: fake)

    def interrupt_twice():
        while not ready.exists():
            threading.Event().wait(0.01)
        for _ in range(2):
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C in the terminal does to us
            threading.Event().wait(0.1)

    interrupter = threading.Thread(target=interrupt_twice)
    interrupter.start()
    try:
        assert launch.run(2, ["train"], "ember.cli") == 130
    finally:
        interrupter.join()
    assert record.read_text() == "1"
