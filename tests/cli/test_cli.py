"""The ember command: train then eval, inspect, resume through the CLI, and every error path."""
import json
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import ember
from ember.cli.main import main

pytest.importorskip("sklearn")
pytest.importorskip("safetensors")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(capsys, *argv):
    status = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _python_m_ember(*argv):
    return subprocess.run([sys.executable, "-m", "ember", *map(str, argv)], cwd=REPO,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": REPO})


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One small `ember train` run shared by the eval/inspect tests."""
    out = tmp_path_factory.mktemp("run")
    status = main(["train", "--model", "mlp", "--epochs", "2", "--batch-size", "64", "--lr",
                   "0.01", "--seed", "3", "--out", str(out), "--quiet"])
    assert status == 0
    return out


def test_train_writes_a_checkpoint_per_epoch(trained_run):
    assert sorted(os.listdir(trained_run)) == ["epoch-001.safetensors", "epoch-002.safetensors"]
    state = ember.load(trained_run / "epoch-002.safetensors")
    assert state["epoch"] == 2
    assert state["config"] == {"model": "mlp", "model_options": {}, "dataset": "digits",
                               "optimizer": "adam", "lr": 0.01, "weight_decay": 0.0,
                               "batch_size": 64, "seed": 3, "nproc": 1, "epochs": 2}
    assert state["history"]["val_accuracy"][-1] > 0.85


def test_eval_json_rebuilds_the_model_from_the_checkpoint(trained_run, capsys):
    path = trained_run / "epoch-002.safetensors"
    status, out, err = _run(capsys, "eval", path, "--json")
    assert status == 0 and err == ""
    report = json.loads(out)
    history = ember.load(path)["history"]
    assert report["model"] == "mlp" and report["dataset"] == "digits" and report["epoch"] == 2
    assert report["samples"] == len(ember.data.datasets.Digits(train=False))
    # Same weights, same test set, eval mode: exactly the accuracy fit() measured after epoch 2.
    assert report["accuracy"] == history["val_accuracy"][-1]
    assert report["loss"] == pytest.approx(history["val_loss"][-1], rel=1e-6)


def test_eval_human_readable(trained_run, capsys):
    status, out, _ = _run(capsys, "eval", trained_run / "epoch-001.safetensors")
    assert status == 0
    lines = out.strip().splitlines()
    assert "model mlp" in lines[0] and lines[1].startswith("loss ") and "accuracy" in lines[1]


def test_inspect_lists_tensors_and_metadata(trained_run, capsys):
    path = trained_run / "epoch-002.safetensors"
    status, out, _ = _run(capsys, "inspect", path)
    assert status == 0
    state = ember.load(path)
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()
            if line.startswith("  model.")}
    assert set(rows) == {f"model.{name}" for name in state["model"]}
    for name, tensor in state["model"].items():
        assert rows[f"model.{name}"][0] == "F32"
        assert " ".join(rows[f"model.{name}"][1:]) == str(list(tensor.shape))
    metadata = json.loads(out[out.index("metadata:") + len("metadata:"):])
    assert metadata["config"]["model"] == "mlp" and metadata["epoch"] == 2
    assert metadata["model"] == f"<{len(state['model'])} tensors, listed above>"


def test_inspect_flat_state_dict(tmp_path, capsys):
    ember.save({"layer.10.w": ember.zeros(2, 3, dtype=ember.float64), "layer.9.w": ember.ones(1),
                "layer.2.w": ember.tensor([1, 2])}, tmp_path / "sd.safetensors")
    status, out, _ = _run(capsys, "inspect", tmp_path / "sd.safetensors")
    assert status == 0
    rows = [line.split() for line in out.splitlines() if line.startswith("  layer.")]
    assert rows == [["layer.2.w", "I64", "[2]"], ["layer.9.w", "F32", "[1]"],
                    ["layer.10.w", "F64", "[2,", "3]"]]  # numbers sort as numbers
    assert "metadata: none (a flat state_dict)" in out


def _inspected_rows(out):
    """{name: (dtype, shape text)} of the tensor table that ``ember inspect`` printed."""
    lines = out.splitlines()
    table = lines[2:lines.index(next(line for line in lines if line.startswith("metadata")))]
    return {line.split()[0]: (line.split()[1], " ".join(line.split()[2:])) for line in table}


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_inspect_torch_save_files(tmp_path, capsys, torch, zip_format):
    codes = {torch.float32: "F32", torch.int64: "I64", torch.bfloat16: "BF16"}
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    weights = model.state_dict()
    checkpoint = {"model": weights, "epoch": 3, "half": torch.ones(2, dtype=torch.bfloat16)}
    path = tmp_path / "checkpoint.pt"
    torch.save(checkpoint, path, _use_new_zipfile_serialization=zip_format)
    status, out, err = _run(capsys, "inspect", path)
    assert (status, err) == (0, "")
    format_name = "zip" if zip_format else "legacy"
    elements = sum(tensor.numel() for tensor in weights.values()) + 2
    assert out.splitlines()[0] == (f"{path} (torch.save {format_name} format): 8 tensors, "
                                   f"{elements} elements, {os.path.getsize(path)} bytes")
    expected = {f"model.{name}": (codes[tensor.dtype], str(list(tensor.shape)))
                for name, tensor in weights.items()}
    expected["half"] = ("BF16", "[2]")
    assert _inspected_rows(out) == expected
    metadata = json.loads(out[out.index("metadata:") + len("metadata:"):])
    assert metadata == {"model": "<7 tensors, listed above>", "epoch": 3,
                        "half": "<tensor bfloat16 [2]>"}
    flat = tmp_path / "flat.pt"
    torch.save(weights, flat, _use_new_zipfile_serialization=zip_format)
    status, out, _ = _run(capsys, "inspect", flat)
    assert status == 0 and "metadata: none (a flat state_dict)" in out
    assert _inspected_rows(out) == {name: (codes[tensor.dtype], str(list(tensor.shape)))
                                    for name, tensor in weights.items()}


def _malicious_pickle(marker):
    """A pickle that runs a shell command when unpickled (it would create ``marker``)."""
    command = f"touch {marker}".encode()
    return (b"\x80\x02cposix\nsystem\nq\x00X" + len(command).to_bytes(4, "little") + command
            + b"q\x01\x85q\x02Rq\x03.")


def test_inspect_refuses_malicious_pickles(tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = _malicious_pickle(marker)
    archive = tmp_path / "zip.pt"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as writer:
        writer.writestr("archive/data.pkl", evil)
        writer.writestr("archive/version", "3\n")
    legacy = tmp_path / "legacy.pt"
    # torch.save's pre-1.6 layout: magic number, protocol version, system info, then the object.
    legacy.write_bytes(pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2)
                       + pickle.dumps(1001, protocol=2)
                       + pickle.dumps({"protocol_version": 1001, "little_endian": True,
                                       "type_sizes": {"short": 2, "int": 4, "long": 4}},
                                      protocol=2)
                       + evil)
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(evil)
    for path, reason in ((archive, "posix.system"), (legacy, "posix.system"),
                         (plain, "which ember never loads")):
        status, out, err = _run(capsys, "inspect", path)
        assert (status, out) == (2, ""), path
        assert err.count("\n") == 1 and err.startswith("ember: error: ember.load: "), err
        assert reason in err, err
    assert not marker.exists()


def test_cli_resume_is_bit_identical(tmp_path, capsys):
    common = ["--model", "cnn", "--batch-size", "128", "--optimizer", "adamw", "--lr", "0.005",
              "--weight-decay", "0.01", "--seed", "7", "--quiet"]
    assert _run(capsys, "train", *common, "--epochs", "4", "--out", tmp_path / "straight")[0] == 0
    assert _run(capsys, "train", *common, "--epochs", "2", "--out", tmp_path / "split")[0] == 0
    status, _, err = _run(capsys, "train", *common, "--epochs", "4", "--out", tmp_path / "split",
                          "--resume", tmp_path / "split" / "epoch-002.safetensors")
    assert status == 0, err
    straight = ember.load(tmp_path / "straight" / "epoch-004.safetensors")
    split = ember.load(tmp_path / "split" / "epoch-004.safetensors")
    assert list(straight["model"]) == list(split["model"])
    for name in straight["model"]:
        assert np.array_equal(straight["model"][name].numpy(), split["model"][name].numpy()), name
    assert straight["history"] == split["history"]
    assert ember.equal(straight["rng"]["default"], split["rng"]["default"])


def test_resume_takes_settings_from_the_checkpoint_and_a_folder_means_its_latest(tmp_path,
                                                                                 capsys):
    out = tmp_path / "run"
    assert _run(capsys, "train", "--model", "mlp", "--optimizer", "sgd", "--lr", "0.05",
                "--batch-size", "128", "--seed", "5", "--epochs", "2", "--quiet", "--out",
                out)[0] == 0
    # No settings but --epochs: the rest, and the output folder, come from the checkpoint.
    status, printed, err = _run(capsys, "train", "--resume", out, "--epochs", "3")
    assert (status, err) == (0, "")
    assert printed.splitlines()[0] == (
        f"resuming '{out / 'epoch-002.safetensors'}' after epoch 2 of 3 with its settings: model "
        f"mlp, dataset digits, optimizer sgd, lr 0.05, weight decay 0.0, batch size 128, seed 5, "
        f"nproc 1; changed: --epochs 3 (checkpoint: 2)")
    state = ember.load(out / "epoch-003.safetensors")
    assert state["epoch"] == 3 and state["config"]["epochs"] == 3
    assert state["config"]["optimizer"] == "sgd" and state["config"]["batch_size"] == 128
    # Settings equal to the checkpoint's may be repeated.
    status, _, err = _run(capsys, "train", "--resume", out, "--model", "mlp", "--lr", "0.05",
                          "--epochs", "4", "--quiet")
    assert (status, err) == (0, "")
    assert sorted(os.listdir(out)) == [f"epoch-00{epoch}.safetensors" for epoch in (1, 2, 3, 4)]


# ---- errors: one line on stderr, exit status 2, no traceback -----------------------------------

def _corrupt_file(tmp_path):
    path = tmp_path / "corrupt.safetensors"
    ember.save({"model": {"w": ember.ones(4)}, "config": {"model": "mlp"}}, path)
    data = bytearray(path.read_bytes())
    data[-2] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def _error_cases(tmp_path, trained_run):
    flat = tmp_path / "flat.safetensors"
    ember.save({"w": ember.ones(2)}, flat)
    wrong_model = tmp_path / "wrong.safetensors"
    ember.save({"model": {"w": ember.ones(2)}, "config": {"model": "cnn"}}, wrong_model)
    unknown_model = tmp_path / "unknown.safetensors"
    ember.save({"model": {}, "config": {"model": "resnet"}}, unknown_model)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    corrupt = _corrupt_file(tmp_path)
    checkpoint = trained_run / "epoch-002.safetensors"
    return {
        "unknown command": (["frobnicate"], "invalid choice: 'frobnicate'"),
        "negative epochs": (["train", "--epochs", "-3"], "--epochs: expected a non-negative"),
        "non-numeric lr": (["train", "--lr", "abc"], "--lr: expected a positive number, got 'abc'"),
        "zero lr": (["train", "--lr", "0"], "--lr: expected a positive number"),
        "nan lr": (["train", "--lr", "nan"], "--lr: expected a positive number"),
        "negative weight decay": (["train", "--weight-decay", "-1"], "non-negative number"),
        "zero batch size": (["train", "--batch-size", "0"], "--batch-size: expected a positive"),
        "unknown model": (["train", "--model", "resnet"], "invalid choice: 'resnet'"),
        "unknown optimizer": (["train", "--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
        "unknown dataset": (["train", "--dataset", "mnist"], "invalid choice: 'mnist'"),
        "missing checkpoint": (["eval", tmp_path / "nope.safetensors"], "no such file"),
        "directory checkpoint": (["inspect", tmp_path], "is a directory"),
        "corrupt eval": (["eval", corrupt], "is not a valid checkpoint: checksum mismatch"),
        "corrupt inspect": (["inspect", corrupt], "is not a valid checkpoint"),
        "not a checkpoint": (["eval", blocker], "is not a valid checkpoint"),
        "no config": (["eval", flat], "has no model configuration"),
        "weights do not fit": (["eval", wrong_model], "the weights do not fit model 'cnn'"),
        "unknown model in file": (["eval", unknown_model], "unknown model 'resnet'"),
        "corrupt resume": (["train", "--resume", corrupt, "--out", tmp_path / "r"],
                           "not a valid checkpoint"),
        "resume with other settings": (["train", "--model", "mlp", "--resume", checkpoint,
                                        "--lr", "0.5", "--seed", "3", "--batch-size", "64",
                                        "--out", tmp_path / "r"],
                                       "--lr 0.5 (checkpoint: 0.01)"),
        "resume past the end": (["train", "--model", "mlp", "--resume", checkpoint, "--lr",
                                 "0.01", "--seed", "3", "--batch-size", "64", "--epochs", "1",
                                 "--out", tmp_path / "r", "--quiet"], "beyond the requested 1"),
        "output is a file": (["train", "--epochs", "1", "--out", blocker / "sub"],
                             "cannot create the output folder"),
    }


def test_error_paths(tmp_path, trained_run, capsys):
    for label, (argv, message) in _error_cases(tmp_path, trained_run).items():
        status, out, err = _run(capsys, *argv)
        assert status == 2, label
        assert out == "", label
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("ember: error: "), (label, err)
        assert message in lines[0], (label, lines[0])


def test_errors_from_a_real_process(tmp_path):
    for argv, message in ((["train", "--epochs", "-1"], "--epochs"),
                          (["eval", _corrupt_file(tmp_path)], "checksum mismatch")):
        result = _python_m_ember(*argv)
        assert result.returncode == 2
        assert result.stdout == ""
        assert "Traceback" not in result.stderr
        assert result.stderr.count("\n") == 1 and message in result.stderr


def test_help_exits_zero():
    result = _python_m_ember("train", "--help")
    assert result.returncode == 0 and "--resume" in result.stdout


# ---- --tensorboard -----------------------------------------------------------------------------

def test_train_tensorboard_logs_what_training_measured(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    # tensorboard is an optional extra: the test skips above when it is missing.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    out = tmp_path / "run"
    log_dir = tmp_path / "tb"
    status, printed, err = _run(capsys, "train", "--model", "cnn", "--epochs", "2",
                                "--batch-size", "128", "--lr", "0.005", "--seed", "2",
                                "--out", out, "--tensorboard", log_dir)
    assert (status, err) == (0, "")
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    state = ember.load(out / "epoch-002.safetensors")
    history = state["history"]
    assert sorted(events.Tags()["scalars"]) == ["lr/group0", "train_loss", "val_accuracy",
                                                "val_loss"]
    for name in ("train_loss", "val_loss", "val_accuracy"):
        logged = [(event.step, event.value) for event in events.Scalars(name)]
        # simple_value is a float32
        assert logged == [(1, np.float32(history[name][0])), (2, np.float32(history[name][1]))]
    epoch_lines = [line for line in printed.splitlines() if line.startswith("epoch ")]
    assert epoch_lines[1].split()[4] == f"{events.Scalars('train_loss')[1].value:.4f}"
    assert [(event.step, event.value) for event in events.Scalars("lr/group0")] == [
        (1, np.float32(0.005)), (2, np.float32(0.005))]
    batch_norms = {name: value.numpy() for name, value in state["model"].items()
                   if name.endswith(("running_mean", "running_var"))}
    assert sorted(batch_norms) == ["1.running_mean", "1.running_var", "4.running_mean",
                                   "4.running_var"]
    assert sorted(events.Tags()["histograms"]) == sorted(f"bn/{name.replace('.', '/')}"
                                                         for name in batch_norms)
    for name, values in batch_norms.items():
        final = events.Histograms(f"bn/{name.replace('.', '/')}")[-1]
        histogram = final.histogram_value
        assert final.step == 2
        assert (histogram.min, histogram.max, histogram.num) == (
            values.min(), values.max(), values.size)
        assert histogram.sum == pytest.approx(float(values.sum()), rel=1e-6)


def test_train_tensorboard_without_the_package_is_one_line(tmp_path, capsys,
                                                            without_tensorboard):
    status, out, err = _run(capsys, "train", "--model", "mlp", "--epochs", "1", "--out",
                            tmp_path / "run", "--tensorboard", tmp_path / "tb")
    assert (status, out) == (2, "")
    assert err == ("ember: error: --tensorboard: ember.utils.tensorboard needs tensorboard: "
                   "pip install '.[tensorboard]' in the ember checkout\n")
    assert os.listdir(tmp_path / "run") == [] and not (tmp_path / "tb").exists()
