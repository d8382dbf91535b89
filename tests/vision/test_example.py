"""examples/cifar_resnet.py runs end to end on small images: FakeData and an ImageFolder."""
import importlib.util
import pathlib

import numpy as np
import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "cifar_resnet.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("cifar_resnet_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fakedata_run(capsys):
    pytest.importorskip("PIL.Image")
    accuracy = _load_example().main(["--steps", "3", "--batch-size", "8", "--image-size", "16"])
    output = capsys.readouterr().out
    assert output.count("loss") == 3 and "eval accuracy" in output
    assert 0.0 <= accuracy <= 1.0


def test_image_folder_run(tmp_path, capsys):
    PIL_Image = pytest.importorskip("PIL.Image")
    random = np.random.default_rng(0)
    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        for index in range(4):
            array = random.integers(0, 256, (20, 24, 3), dtype=np.uint8)
            PIL_Image.fromarray(array).save(tmp_path / name / f"{index}.png")
    accuracy = _load_example().main(["--data", str(tmp_path), "--steps", "2", "--batch-size",
                                     "4", "--image-size", "16"])
    assert "eval accuracy" in capsys.readouterr().out
    assert accuracy * 8 == round(accuracy * 8)  # a count out of the 8 images
