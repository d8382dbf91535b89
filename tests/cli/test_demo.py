"""`ember demo` end to end with its real settings: accuracy, the printed comparisons, the files."""
import re

import pytest

import ember
from ember.cli.main import main

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("safetensors")


def _number(pattern, text):
    match = re.search(pattern, text)
    assert match, pattern
    return float(match.group(1))


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo-out"
    assert main(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out

    accuracy = _number(r"model\.eval\(\) \+ no_grad\(\), batches of 128: +([\d.]+)%", printed)
    assert accuracy >= 95.0
    train_mode = _number(r"left in train mode, one image per forward pass: +([\d.]+)%", printed)
    assert 0.0 <= train_mode <= 100.0
    assert re.search(r"\d+ of \d+ predictions changed", printed)
    assert re.search(r"after the correct evaluation: +max \|change\| = 0, "
                     r"num_batches_tracked \+0\n", printed)
    assert _number(r"after the train-mode evaluation: max \|change\| = ([\d.e-]+)", printed) > 0
    # Two BatchNorm layers, each counting one batch per test image.
    tracked = _number(r"after the train-mode evaluation: .*num_batches_tracked \+(\d+)", printed)
    grad_saved = _number(r"saved for backward .*: ([\d.]+) MiB with grad", printed)
    assert grad_saved > 0
    assert re.search(r"saved for backward .*: [\d.]+ MiB with grad, 0\.00 MiB under no_grad\(\)",
                     printed)
    assert "4) Why both:" in printed
    assert len(re.findall(r"^epoch \d+/\d+  train loss [\d.]+  val loss [\d.]+  "
                          r"val accuracy [\d.]+$", printed, flags=re.M)) >= 1

    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    state = ember.load(out / "demo.safetensors")
    assert tracked == 2 * len(ember.data.datasets.Digits(train=False))
    assert state["config"]["model"] == "cnn"
    # The saved checkpoint is the evaluated model: `ember eval` reproduces the printed accuracy.
    assert main(["eval", str(out / "demo.safetensors"), "--json"]) == 0
    report = capsys.readouterr().out
    assert _number(r'"accuracy": ([\d.]+)', report) * 100 == pytest.approx(accuracy, abs=0.005)
