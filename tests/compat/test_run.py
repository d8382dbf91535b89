"""``ember run`` and ``python -m ember.run``: the script runs as ``python script.py`` runs it,
with torch resolved to ember; its errors look like Python's, ember's own are one line."""
import subprocess
import sys
import textwrap

import pytest

from .conftest import run_ember

PROBE = textwrap.dedent("""
    import os, pickle, sys
    import torch
    import torch.nn as nn
    import ember

    class Box:
        pass

    print("argv", sys.argv)
    print("name", __name__)
    print("file", __file__)
    print("path0", sys.path[0])
    print("main", sys.modules["__main__"].__dict__ is globals())
    print("ember", torch.Tensor is ember.Tensor and nn.Linear is ember.nn.Linear)
    print("pickle", type(pickle.loads(pickle.dumps(Box()))).__name__)
    if "--fail" in sys.argv:
        def inner():
            raise ValueError("boom from the script")
        inner()
    if "--exit" in sys.argv:
        sys.exit(int(sys.argv[-1]))
""")


@pytest.fixture
def probe(tmp_path):
    folder = tmp_path / "scripts"
    folder.mkdir()
    path = folder / "probe.py"
    path.write_text(PROBE)
    return path


def _lines(stdout):
    return dict(line.split(" ", 1) for line in stdout.splitlines())


@pytest.mark.parametrize("module_runner", [False, True], ids=["ember run", "python -m ember.run"])
def test_the_script_sees_what_python_gives_it(probe, tmp_path, module_runner):
    result = run_ember("scripts/probe.py", "a", "--lr", "0.1", cwd=tmp_path,
                       module_runner=module_runner)
    assert result.returncode == 0, result.stderr
    seen = _lines(result.stdout)
    assert seen["argv"] == repr(["scripts/probe.py", "a", "--lr", "0.1"])
    assert seen["name"] == "__main__"
    assert seen["file"] == str(probe)
    assert seen["path0"] == str(probe.parent)
    assert seen["main"] == "True"
    assert seen["ember"] == "True"
    assert seen["pickle"] == "Box"


def test_options_after_the_script_are_the_scripts(probe):
    result = run_ember(probe, "--help", "--out", "x")
    assert result.returncode == 0, result.stderr
    assert _lines(result.stdout)["argv"] == repr([str(probe), "--help", "--out", "x"])


def test_a_script_exception_prints_pythons_traceback_and_exits_1(probe, tmp_path):
    result = run_ember(probe, "--fail")
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):\n")
    assert result.stderr.endswith("ValueError: boom from the script\n")
    assert "ember/cli" not in result.stderr and "runpy" not in result.stderr
    # Exactly what `python script.py` prints, frame for frame.
    script = tmp_path / "fails.py"
    script.write_text("def inner(values):\n    return values[3]\n\n\ninner([1, 2])\n")
    result = run_ember(script)
    python = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (python.returncode, python.stderr)


def test_sys_exit_status_is_the_scripts(probe):
    assert run_ember(probe, "--exit", "3").returncode == 3
    assert run_ember(probe, "--exit", "0").returncode == 0


def test_a_syntax_error_is_reported_as_python_does(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("x = (\n")
    result = run_ember(script)
    python = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr == python.stderr


@pytest.mark.parametrize("arguments, message", [
    (["no_such_script.py"], "ember: error: run: can't open file 'no_such_script.py': no such "
                            "file"),
    ([], "ember: error: run: a script to run is required (see 'ember run --help')"),
    (["-m"], "ember: error: run: -m needs a module name (see 'ember run --help')"),
    (["-m", "no_such_module_here"], "ember: error: run: no module named 'no_such_module_here'"),
])
def test_embers_own_errors_are_one_line(tmp_path, arguments, message):
    result = run_ember(*arguments, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == message + "\n"


def test_dash_m_runs_a_module(probe, tmp_path):
    result = run_ember("-m", "probe", "x", "--y", cwd=probe.parent)
    assert result.returncode == 0, result.stderr
    seen = _lines(result.stdout)
    assert seen["argv"] == repr([str(probe), "x", "--y"])
    assert seen["name"] == "__main__"
    assert seen["path0"] == str(probe.parent)


SPAWNING = textwrap.dedent("""
    import multiprocessing as mp
    import torch

    def child(queue, tensor):
        import ember
        import torch
        queue.put((torch.Tensor is ember.Tensor, type(tensor) is ember.Tensor,
                   float((tensor * 2).sum())))

    if __name__ == "__main__":
        context = mp.get_context("spawn")
        queue = context.Queue()
        process = context.Process(target=child, args=(queue, torch.arange(4.0)))
        process.start()
        print(queue.get(timeout=60))
        process.join()
        print("exit", process.exitcode)
""")


def test_spawned_children_resolve_torch_to_ember(tmp_path):
    """A child started by the spawn method (pytorch/examples' mnist_hogwild) is a fresh
    interpreter: it too imports ember as torch, so the tensors it is sent unpickle there."""
    path = tmp_path / "spawning.py"
    path.write_text(SPAWNING)
    result = run_ember(path, cwd=tmp_path, module_runner=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["(True, True, 12.0)", "exit 0"]
