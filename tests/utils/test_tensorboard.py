"""ember.utils.tensorboard: events read back with tensorboard's EventAccumulator equal what was
logged."""
import importlib
import io
import os

import numpy as np
import pytest

import ember

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402

from ember.utils.tensorboard import SummaryWriter, log_epoch  # noqa: E402


def _read(log_dir):
    accumulator = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "histograms": 0,
                                                                "images": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def test_scalars_and_context_manager(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        for step in range(5):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
        writer.add_scalar("tensor_value", ember.tensor(2.5), 7, walltime=123.0)
        writer.add_scalar("numpy_value", np.float32(0.25), 8)
    events = _read(tmp_path)
    assert [(event.step, event.value) for event in events.Scalars("loss")] == [
        (step, pytest.approx(1.0 / (step + 1))) for step in range(5)]
    (event,) = events.Scalars("tensor_value")
    assert (event.step, event.value, event.wall_time) == (7, 2.5, 123.0)
    assert events.Scalars("numpy_value")[0].value == 0.25
    with pytest.raises(ValueError, match="one element"):
        SummaryWriter(tmp_path / "other").add_scalar("bad", ember.ones(2))


def test_add_scalars_writes_one_run_per_tag(tmp_path):
    writer = SummaryWriter(tmp_path)
    for step in range(3):
        writer.add_scalars("run/loss", {"train": step * 1.0, "val": step * 2.0}, step)
    writer.close()
    for tag, factor in (("train", 1.0), ("val", 2.0)):
        events = _read(tmp_path / f"run_loss_{tag}")
        assert [event.value for event in events.Scalars("run/loss")] == [
            step * factor for step in range(3)]


def test_histogram(tmp_path):
    values = np.random.default_rng(0).normal(size=1000).astype(np.float32)
    with SummaryWriter(tmp_path) as writer:
        writer.add_histogram("weights", ember.from_numpy(values), 3)
        writer.add_histogram("fixed_bins", values, 4, bins=np.linspace(-4, 4, 9))
    events = _read(tmp_path)
    (event,) = events.Histograms("weights")
    histogram = event.histogram_value
    assert event.step == 3
    assert histogram.num == 1000 and sum(histogram.bucket) == 1000
    assert histogram.min == pytest.approx(float(values.min()))
    assert histogram.max == pytest.approx(float(values.max()))
    assert histogram.sum == pytest.approx(float(values.astype(float).sum()))
    assert histogram.sum_squares == pytest.approx(float((values.astype(float) ** 2).sum()))
    fixed = events.Histograms("fixed_bins")[0].histogram_value
    counts, edges = np.histogram(values.astype(float), bins=np.linspace(-4, 4, 9))
    nonzero = np.flatnonzero(counts)
    assert fixed.bucket_limit == edges[nonzero[0]:nonzero[-1] + 2].tolist()
    expected_counts = counts[nonzero[0] - 1:nonzero[-1] + 1] if nonzero[0] > 0 else \
        np.concatenate([[0], counts[:nonzero[-1] + 1]])
    assert fixed.bucket == expected_counts.tolist()


def test_images_round_trip_as_png(tmp_path):
    PIL_Image = pytest.importorskip("PIL.Image")
    image = np.random.default_rng(1).integers(0, 256, (3, 5, 7), dtype=np.uint8)
    floats = np.random.default_rng(2).random((2, 3, 4, 6)).astype(np.float32)
    with SummaryWriter(tmp_path) as writer:
        writer.add_image("uint8", ember.from_numpy(image), 1)
        writer.add_image("hw", image[0], 2, dataformats="HW")
        writer.add_images("batch", ember.from_numpy(floats), 3)
    events = _read(tmp_path)
    decoded = events.Images("uint8")[0]
    assert (decoded.height, decoded.width, decoded.step) == (5, 7, 1)
    png = np.asarray(PIL_Image.open(io.BytesIO(decoded.encoded_image_string)))
    np.testing.assert_array_equal(png, image.transpose(1, 2, 0))
    gray = np.asarray(PIL_Image.open(io.BytesIO(events.Images("hw")[0].encoded_image_string)))
    np.testing.assert_array_equal(gray, np.stack([image[0]] * 3, axis=2))
    grid = np.asarray(PIL_Image.open(io.BytesIO(events.Images("batch")[0].encoded_image_string)))
    expected = (floats * 255).clip(0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(grid, np.concatenate([expected[0], expected[1]], axis=1))


def test_text(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_text("notes", "accuracy **97%**", 5)
    (event,) = _read(tmp_path).Tensors("notes/text_summary")
    assert event.step == 5
    assert event.tensor_proto.string_val == [b"accuracy **97%**"]


def test_hparams(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_hparams({"lr": 0.1, "optimizer": "sgd", "nesterov": True, "unused": None},
                           {"hparam/accuracy": 0.75}, run_name="trial")
    run = tmp_path / "trial"
    events = _read(run)
    assert events.Scalars("hparam/accuracy")[0].value == 0.75
    content = events.SummaryMetadata("_hparams_/session_start_info").plugin_data.content
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    assert start.hparams["lr"].number_value == 0.1
    assert start.hparams["optimizer"].string_value == "sgd"
    assert start.hparams["nesterov"].bool_value is True
    assert "unused" not in start.hparams
    content = events.SummaryMetadata("_hparams_/experiment").plugin_data.content
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content).experiment
    assert [info.name for info in experiment.hparam_infos] == ["lr", "optimizer", "nesterov"]
    assert [info.name.tag for info in experiment.metric_infos] == ["hparam/accuracy"]
    with pytest.raises(TypeError, match="should be dictionary"):
        writer.add_hparams([("lr", 0.1)], {})


def test_add_graph_says_why_it_is_missing(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        with pytest.raises(NotImplementedError, match="add_text"):
            writer.add_graph(ember.nn.Linear(2, 2), ember.zeros(1, 2))


def test_flush_close_and_reopen(tmp_path):
    writer = SummaryWriter(tmp_path, flush_secs=3600)
    writer.add_scalar("x", 1.0, 0)
    writer.flush()
    assert [event.value for event in _read(tmp_path).Scalars("x")] == [1.0]
    writer.close()
    writer.add_scalar("x", 2.0, 1)  # a closed writer reopens a new event file, as torch's
    writer.close()
    assert len(os.listdir(tmp_path)) == 2
    assert sorted(event.value for event in _read(tmp_path).Scalars("x")) == [1.0, 2.0]


def test_log_epoch(tmp_path):
    model = ember.nn.Sequential(ember.nn.Conv2d(1, 2, 3), ember.nn.BatchNorm2d(2))
    optimizer = ember.optim.SGD(model.parameters(), lr=0.05)
    with ember.no_grad():
        model[1].running_mean.copy_(ember.tensor([0.5, -1.0]))
    with SummaryWriter(tmp_path) as writer:
        log_epoch(writer, 2, {"train_loss": 0.4, "val_accuracy": 0.9}, model, optimizer)
    events = _read(tmp_path)
    assert events.Scalars("train_loss")[0].value == pytest.approx(0.4)
    assert (events.Scalars("lr/group0")[0].step, events.Scalars("lr/group0")[0].value) == \
        (2, pytest.approx(0.05))
    histogram = events.Histograms("bn/1/running_mean")[0].histogram_value
    assert (histogram.min, histogram.max, histogram.num) == (-1.0, 0.5, 2)


def test_missing_tensorboard_is_one_line(without_tensorboard):
    with pytest.raises(ImportError) as error:
        importlib.import_module("ember.utils.tensorboard")
    assert str(error.value) == ("ember.utils.tensorboard needs tensorboard: pip install "
                                "'.[tensorboard]' in the ember checkout")
