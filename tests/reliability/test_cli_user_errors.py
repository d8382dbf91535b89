"""The `ember` command as a careless user meets it, in real processes: every mistake is one line
`ember: error: ...` on stderr, exit status 2, no traceback, and nothing done before it; plus the
promises around it (help, version, Ctrl-C, broken pipes, progress bars, one message per MPI job).

The error cases run as concurrent processes, started once for the module.
"""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios

import pytest

import ember
from ember.cli.main import main
from ember.distributed import is_mpi_available
from ember.distributed.launch import find_mpiexec

pytest.importorskip("sklearn")
pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX processes and signals")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 120


def _environment(**extra):
    environment = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1", **extra}
    environment.pop("COLUMNS", None)
    return environment


def _start(argv, python=sys.executable, environment=None, **options):
    return subprocess.Popen([python, "-m", "ember", *map(str, argv)], cwd=ROOT,
                            env=environment or _environment(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **options)


def _ember(*argv, **options):
    process = _start(argv, **options)
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    return process.returncode, stdout, stderr


def _python_without_mpiexec(folder):
    """An interpreter that sees ember's packages but has no mpiexec beside it or on PATH."""
    import site
    venv = folder / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(os.path.realpath(sys.executable))
    packages = os.pathsep.join([ROOT, *site.getsitepackages()])
    return str(venv / "bin" / "python"), _environment(PYTHONPATH=packages, PATH="/usr/bin:/bin")


def _unwritable_folder(folder):
    """An existing folder this process cannot write to, or None."""
    if os.geteuid() != 0:
        locked = folder / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        return locked
    for candidate in ("/sys", "/proc"):  # root can write everywhere else
        try:
            tempfile.mkstemp(dir=candidate)
        except OSError:
            return candidate
    return None


def _resume_variants(folder, checkpoint):
    """Copies of a real `ember train` checkpoint, each broken in one way a file can be."""
    def variant(name, change):
        state = ember.load(checkpoint)
        change(state)
        path = folder / f"{name}.safetensors"
        ember.save(state, path)
        return path

    return {
        "wrong shapes": variant("shapes", lambda state: state["model"].update(
            {"1.weight": ember.zeros(3, 3)})),
        "epoch a string": variant("epoch", lambda state: state.update(epoch="1")),
        "empty param_groups": variant("groups", lambda state: state["optimizer"].update(
            param_groups=[])),
        "lr a string": variant("lr", lambda state: state["optimizer"]["param_groups"][0].update(
            lr="fast")),
        "bad history": variant("history", lambda state: state.update(
            history={"train_loss": "low"})),
        "unknown model": variant("model", lambda state: state["config"].update(model="resnet")),
        "missing rng": variant("rng", lambda state: state.pop("rng")),
    }


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    run = folder / "run"
    assert main(["train", "--model", "mlp", "--epochs", "1", "--quiet", "--out", str(run)]) == 0
    checkpoint = run / "epoch-001.safetensors"
    bad_options = folder / "options.safetensors"
    state = ember.load(checkpoint)
    state["config"]["model_options"] = {"hidden": -5}
    ember.save(state, bad_options)
    huge_options = folder / "huge.safetensors"
    state["config"]["model_options"] = {"hidden": 10 ** 12}
    ember.save(state, huge_options)
    flat = folder / "flat.safetensors"
    ember.save({"w": ember.ones(2)}, flat)
    corrupt = folder / "corrupt.safetensors"
    corrupt.write_bytes(checkpoint.read_bytes()[:-7])
    fifo = folder / "fifo"
    os.mkfifo(fifo)
    (folder / "a_file").write_text("x")
    (folder / "empty").mkdir()
    return {"folder": folder, "run": run, "checkpoint": checkpoint, "bad_options": bad_options,
            "huge_options": huge_options, "flat": flat, "corrupt": corrupt, "fifo": fifo,
            "resume": _resume_variants(folder, checkpoint)}


def _issue_cases(workspace):
    """The mistakes reported against the command, run as real processes: label -> (argv, the
    message the error line must contain, options for _start)."""
    folder, checkpoint, resume = workspace["folder"], workspace["checkpoint"], workspace["resume"]
    out = folder / "never-written"
    python, environment = _python_without_mpiexec(folder)
    cases = {
        "--nproc without MPI": (["train", "--nproc", "2", "--out", out],
                                "--nproc 2 needs MPI, but no mpiexec was found",
                                {"python": python, "environment": environment}),
        "demo --nproc": (["demo", "--nproc", "2"], "unrecognized arguments: --nproc 2 (see "
                                                   "'ember demo --help')", {}),
        "inspect --nproc": (["inspect", checkpoint, "--nproc", "2"],
                            "unrecognized arguments: --nproc 2", {}),
        "seed 2**64": (["train", "--seed", "18446744073709551616", "--out", out],
                       "argument --seed: expected an integer seed from 0 to", {}),
        "eval hidden -5": (["eval", workspace["bad_options"]],
                           "option hidden=-5: expected an integer from 1 to", {}),
    }
    for label, expected in (("wrong shapes", "does not fit this training run"),
                            ("epoch a string", "has invalid settings: epoch '1'"),
                            ("empty param_groups", "different number of parameter groups"),
                            ("bad history", "history is not a dict with a 'train_loss' list")):
        cases[f"resume: {label}"] = (["train", "--resume", resume[label], "--epochs", "2",
                                      "--out", out], expected, {})
    unwritable = _unwritable_folder(folder)
    if unwritable is not None:
        cases["train into an unwritable folder"] = (["train", "--out", unwritable],
                                                    "cannot write to the output folder", {})
        cases["demo into an unwritable folder"] = (["demo", "--out", unwritable],
                                                   "cannot write to the output folder", {})
    return cases


ISSUE_CASES = ["--nproc without MPI", "demo --nproc", "inspect --nproc", "seed 2**64",
               "eval hidden -5", "resume: wrong shapes", "resume: epoch a string",
               "resume: empty param_groups", "resume: bad history",
               "train into an unwritable folder", "demo into an unwritable folder"]


@pytest.fixture(scope="module")
def results(workspace):
    """Every case of _issue_cases, run as concurrent processes."""
    cases = _issue_cases(workspace)
    processes = {label: _start(argv, **options) for label, (argv, _, options) in cases.items()}
    finished = {}
    for label, process in processes.items():
        stdout, stderr = process.communicate(timeout=TIMEOUT)
        finished[label] = (process.returncode, stdout, stderr, cases[label][1])
    return finished


def _assert_one_error_line(status, stdout, stderr, message):
    assert "Traceback" not in stderr
    assert status == 2, stderr
    assert stdout == ""  # nothing trained, evaluated or printed before the error
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ember: error: "), stderr
    assert message in lines[0]
    assert ".tmp" not in lines[0]


@pytest.mark.parametrize("label", ISSUE_CASES)
def test_reported_mistakes_are_one_line_and_exit_2(results, label):
    if label not in results:
        pytest.skip("no unwritable folder on this machine")
    _assert_one_error_line(*results[label])


def test_failed_runs_wrote_nothing(results, workspace):
    assert os.listdir(workspace["folder"] / "never-written") == []
    assert sorted(os.listdir(workspace["run"])) == ["epoch-001.safetensors"]


def _more_cases(workspace):
    """More mistakes, checked in this process (main() returns the status; a traceback would be
    an exception here): label -> (argv, message)."""
    folder, checkpoint, resume = workspace["folder"], workspace["checkpoint"], workspace["resume"]
    out = folder / "never-written"
    return {
        "negative seed": (["demo", "--seed", "-1"], "argument --seed"),
        "output is a file": (["train", "--out", folder / "a_file"], "is a file, not a folder"),
        "output under a file": (["train", "--out", folder / "a_file" / "sub"],
                                "cannot create the output folder"),
        "eval hidden 10**12": (["eval", workspace["huge_options"]], "option hidden="),
        "eval flat state_dict": (["eval", workspace["flat"]], "has no model configuration"),
        "eval truncated": (["eval", workspace["corrupt"]], "is not a valid checkpoint"),
        "inspect a FIFO": (["inspect", workspace["fifo"]], "is a FIFO, not a regular file"),
        "eval a device": (["eval", "/dev/null"], "is a character device"),
        "resume a folder without checkpoints": (["train", "--resume", folder / "empty"],
                                                "without epoch-NNN.safetensors checkpoints"),
        "resume a flat state_dict": (["train", "--resume", workspace["flat"], "--out", out],
                                     "is not a checkpoint written by 'ember train'"),
        "resume with other settings": (
            ["train", "--resume", checkpoint, "--lr", "0.5", "--model", "cnn", "--seed", "0",
             "--out", out],
            "with different settings: --model cnn (checkpoint: mlp); --lr 0.5 (checkpoint: "
            "0.001)"),
        "resume beyond --epochs": (["train", "--resume", checkpoint, "--epochs", "0", "--out",
                                    out], "is after epoch 1, beyond the requested 0 epochs"),
        "resume: lr a string": (["train", "--resume", resume["lr a string"], "--epochs", "2", "--out", out],
                                "param_groups[0]['lr'] is 'fast'"),
        "resume: unknown model": (["train", "--resume", resume["unknown model"], "--epochs", "2", "--out", out],
                                  "has invalid settings: model 'resnet'"),
        "resume: missing rng": (["train", "--resume", resume["missing rng"], "--epochs", "2", "--out", out],
                                "not a training checkpoint (missing rng)"),
    }


MORE_CASES = ["negative seed", "output is a file", "output under a file", "eval hidden 10**12",
              "eval flat state_dict", "eval truncated", "inspect a FIFO", "eval a device",
              "resume a folder without checkpoints", "resume a flat state_dict",
              "resume with other settings", "resume beyond --epochs", "resume: lr a string",
              "resume: unknown model", "resume: missing rng"]


@pytest.mark.timeout(60)  # opening the FIFO would block
@pytest.mark.parametrize("label", MORE_CASES)
def test_more_mistakes_are_one_line_and_exit_2(workspace, capsys, label):
    argv, message = _more_cases(workspace)[label]
    status = main([str(argument) for argument in argv])
    captured = capsys.readouterr()
    _assert_one_error_line(status, captured.out, captured.err, message)
    assert os.listdir(workspace["folder"] / "never-written") == []


# ---- what the command promises besides errors --------------------------------------------------

def test_bare_ember_prints_help():
    status, stdout, stderr = _ember()
    assert (status, stderr) == (0, "")
    assert stdout.startswith("usage: ember ") and "demo" in stdout and "inspect" in stdout


def test_version():
    assert _ember("--version") == (0, f"ember {ember.__version__}\n", "")


def test_help_shows_defaults():
    status, stdout, stderr = _ember("train", "--help")
    assert (status, stderr) == (0, "")
    for default in ("(default: cnn;", "(default: 10;", "(default: 64;", "(default: adam;",
                    "(default: 0.001;", "(default: 0;", "(default: 1;", "(default: runs;"):
        assert default in " ".join(stdout.split()), default
    assert "(default: 256)" in _ember("eval", "--help")[1]


def test_nproc_help_is_help():
    status, stdout, stderr = _ember("train", "--nproc", "2", "--help")
    assert (status, stderr) == (0, "") and "--nproc N" in stdout


def test_epochs_0_says_what_it_did(tmp_path):
    status, stdout, stderr = _ember("train", "--epochs", "0", "--out", tmp_path / "run")
    assert (status, stderr) == (0, "")
    assert stdout == "nothing to train: --epochs 0; no checkpoint written\n"
    assert os.listdir(tmp_path / "run") == []


def test_resume_of_a_finished_run_says_so(workspace):
    status, stdout, stderr = _ember("train", "--resume", workspace["run"])
    assert (status, stderr) == (0, "")
    assert stdout == (f"nothing to train: '{workspace['checkpoint']}' is already at epoch 1 of 1 "
                      f"(give --epochs N to train further); no checkpoint written\n")


def test_broken_pipe_is_quiet(tmp_path):
    """`ember inspect ckpt | head -2` with more output than a pipe buffer holds."""
    path = tmp_path / "many.safetensors"
    ember.save({f"layer.{index}.weight": ember.zeros(0) for index in range(4000)}, path)
    process = _start(["inspect", path])
    head = [process.stdout.readline() for _ in range(2)]
    process.stdout.close()  # what head does after two lines
    stderr = process.stderr.read()
    process.wait(timeout=TIMEOUT)
    assert head[0].startswith(f"{path}: 4000 tensors")
    assert stderr == ""
    assert process.returncode == 141  # as if SIGPIPE had ended it, like `cat`


def test_unprintable_names_are_escaped_not_fatal(tmp_path):
    path = tmp_path / "surrogate.safetensors"
    ember.save({"key\udc80": "value\ud800", "w": ember.ones(1)}, path)
    status, stdout, stderr = _ember("inspect", path,
                                    environment=_environment(PYTHONIOENCODING="utf-8"))
    assert (status, stderr) == (0, "")
    assert "key\\udc80" in stdout


def test_ctrl_c_names_the_last_checkpoint_and_the_resume_command(tmp_path):
    out = tmp_path / "run"
    process = _start(["train", "--model", "mlp", "--epochs", "1000", "--out", out])
    first = process.stdout.readline()
    assert first.startswith("epoch 1/1000 ")
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    match = re.fullmatch(r"ember: interrupted; the last checkpoint is '(.*)'; resume with: "
                         r"ember train --resume (\S+)\n", stderr)
    assert match, stderr
    last = match.group(1)
    assert match.group(2) == last and os.path.dirname(last) == str(out)
    epochs_done = max(int(line.split()[1].split("/")[0])
                      for line in (first + stdout).splitlines() if line.startswith("epoch "))
    assert os.path.basename(last) == f"epoch-{epochs_done:03d}.safetensors"
    # The printed command works (here with --epochs, the one setting a resume may change).
    status, stdout, stderr = _ember("train", "--resume", last, "--epochs", epochs_done + 1)
    assert (status, stderr) == (0, "")
    assert f"changed: --epochs {epochs_done + 1} (checkpoint: 1000)" in stdout
    assert f"epoch {epochs_done + 1}/{epochs_done + 1} " in stdout


def _tqdm_bar(text):
    return re.search(r"\d+%\|", text) is not None or "it/s" in text


def test_progress_bars_only_on_a_terminal(tmp_path):
    """Piped: epoch lines, no bars. On a terminal (a pseudo-terminal 100 columns wide): bars."""
    pytest.importorskip("tqdm")
    status, stdout, stderr = _ember("train", "--model", "mlp", "--epochs", "1", "--out",
                                    tmp_path / "piped")
    assert status == 0
    assert stdout.startswith("epoch 1/1 ") and not _tqdm_bar(stdout + stderr)
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "ember", "train", "--model", "mlp",
                                "--epochs", "1", "--out", str(tmp_path / "terminal")],
                               cwd=ROOT, env=_environment(), stdout=terminal, stderr=terminal)
    os.close(terminal)
    shown = b""
    while True:
        ready, _, _ = select.select([controller], [], [], TIMEOUT)
        try:
            chunk = os.read(controller, 65536) if ready else b""
        except OSError:  # the terminal closed when the process ended
            chunk = b""
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert process.wait(timeout=TIMEOUT) == 0
    assert _tqdm_bar(shown.decode("utf-8", "replace"))


@pytest.mark.mpi
@pytest.mark.skipif(find_mpiexec() is None or not is_mpi_available(), reason="needs MPI")
def test_an_error_in_an_mpi_job_is_printed_once(tmp_path):
    command = [find_mpiexec(), "-n", "2", sys.executable, "-m", "mpi4py", "-m", "ember.cli",
               "train", "--nproc", "3", "--batch-size", "66", "--out", str(tmp_path)]
    completed = subprocess.run(command, cwd=ROOT, env=_environment(), capture_output=True,
                               text=True, timeout=TIMEOUT, start_new_session=True)
    assert completed.returncode == 2
    assert completed.stderr == ("ember: error: --nproc 3, but this job has 2 process(es); start "
                                "it as `ember train ... --nproc 3` or under `mpiexec -n 3`\n")
    assert completed.stdout == ""
