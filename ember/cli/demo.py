"""``ember demo``: train a small CNN on Digits, then measure why evaluation needs eval() and
no_grad().

Every number printed is measured in this run: accuracy evaluated correctly against one sample at
a time left in train mode, what each does to BatchNorm's running statistics, and the memory and
time of a forward pass with and without autograd recording.
"""
import importlib.util
import os
import time
import tracemalloc

import numpy as np

from .. import optim
from .._random import Generator, manual_seed
from ..autograd import graph_stats, saved_bytes
from ..autograd.grad_mode import enable_grad, no_grad
from ..data import DataLoader
from ..nn import CrossEntropyLoss
from ..serialization import save
from ..training import evaluate, fit
from .models import build_model, load_dataset

DEMO_EPOCHS = 8
DEMO_BATCH_SIZE = 32
DEMO_LR = 2e-3
CHECKPOINT_NAME = "demo.safetensors"
PLOT_NAME = "curves.png"


def _buffers(model):
    """A copy of every BatchNorm buffer (running statistics and batch counters)."""
    return {name: buffer.numpy().copy() for name, buffer in model.named_buffers()}


def _max_change(before, after):
    changes = [np.max(np.abs(after[name].astype(np.float64) - before[name]), initial=0.0)
               for name in before if before[name].dtype.kind == "f"]
    return float(max(changes, default=0.0))


def _batches_tracked(buffers):
    return sum(int(value) for name, value in buffers.items()
               if name.endswith("num_batches_tracked"))


def _stack(dataset):
    """The whole dataset as one input tensor and one label tensor."""
    return next(iter(DataLoader(dataset, batch_size=len(dataset))))


def _train_mode_one_at_a_time(model, inputs):
    """The common mistake: no eval(), no no_grad(), one sample per forward pass; the predictions."""
    model.train()
    return np.array([model(inputs[index:index + 1]).argmax(dim=1).item()
                     for index in range(inputs.shape[0])])


def _forward_cost(model, inputs, use_no_grad):
    """Peak and still-held traced memory, bytes saved for backward, best of 3 wall times."""
    model.eval()
    context = no_grad if use_no_grad else enable_grad
    saved_before = saved_bytes()
    tracemalloc.start()
    with context():
        output = model(inputs)
    saved = saved_bytes() - saved_before
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    nodes = graph_stats(output).nodes
    del output
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        with context():
            output = model(inputs)
        seconds.append(time.perf_counter() - start)
        del output
    return {"peak": peak, "held": held, "saved": saved, "nodes": nodes, "seconds": min(seconds)}


def _mebibytes(count):
    return f"{count / 2 ** 20:.2f} MiB"


def _plot(history, path):
    import matplotlib  # the optional demo extra, needed only here
    matplotlib.use("Agg")
    from matplotlib import pyplot  # after use("Agg"): no display is needed

    epochs = range(1, len(history["train_loss"]) + 1)
    figure, (loss_axes, accuracy_axes) = pyplot.subplots(1, 2, figsize=(10, 4))
    loss_axes.plot(epochs, history["train_loss"], marker="o", label="train")
    loss_axes.plot(epochs, history["val_loss"], marker="o", label="test")
    loss_axes.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    loss_axes.legend()
    accuracy_axes.plot(epochs, [100 * value for value in history["val_accuracy"]], marker="o",
                       color="tab:green")
    accuracy_axes.set(xlabel="epoch", ylabel="test accuracy (%)", title="Test accuracy")
    figure.suptitle("ember demo: CNN with BatchNorm and Dropout on Digits")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def missing_requirements():
    """What the demo needs and is not installed (checked before it starts, not after training)."""
    return [name for name in ("sklearn", "matplotlib") if importlib.util.find_spec(name) is None]


def run_demo(out_dir="demo-out", epochs=None, seed=0, progress_bars=True):
    """Train, measure, write ``demo.safetensors`` and ``curves.png`` into ``out_dir``."""
    epochs = DEMO_EPOCHS if epochs is None else epochs
    started = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    model, optimizer, test_set, test_loader, history = _train(epochs, seed, progress_bars)
    lesson = _measure_modes(model, test_set, test_loader)
    _report_modes(lesson)
    checkpoint = os.path.join(out_dir, CHECKPOINT_NAME)
    plot = os.path.join(out_dir, PLOT_NAME)
    save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epochs,
          "history": history, "config": {"model": "cnn", "model_options": {},
                                         "dataset": "digits", "optimizer": "adam", "lr": DEMO_LR,
                                         "batch_size": DEMO_BATCH_SIZE, "seed": seed}},
         checkpoint)
    _plot(history, plot)
    print(f"wrote {checkpoint} and {plot} in {time.perf_counter() - started:.1f} s")
    return {"history": history, **lesson}


def _train(epochs, seed, progress_bars):
    """The demo's CNN trained on Digits: (model, optimizer, test set, test loader, history)."""
    train_set = load_dataset("digits", train=True)
    test_set = load_dataset("digits", train=False)
    manual_seed(seed)
    model = build_model("cnn")
    optimizer = optim.Adam(model.parameters(), lr=DEMO_LR)
    train_loader = DataLoader(train_set, batch_size=DEMO_BATCH_SIZE, shuffle=True,
                              generator=Generator().manual_seed(seed))
    test_loader = DataLoader(test_set, batch_size=128)
    print(f"ember demo: CNN (2 x Conv-BatchNorm-ReLU, MaxPool, Linear-ReLU-Dropout-Linear) on "
          f"Digits: {len(train_set)} train / {len(test_set)} test images (validation = the test "
          f"set), {epochs} epochs, seed {seed}")
    history = fit(model, train_loader, test_loader, CrossEntropyLoss(), optimizer, epochs,
                  progress=True, progress_bars=progress_bars)
    return model, optimizer, test_set, test_loader, history


def _measure_modes(model, test_set, test_loader):
    """Evaluate correctly, then in train mode one image at a time (twice), and the cost of a
    forward with and without grad; the trained BatchNorm statistics are restored afterwards."""
    inputs, labels = _stack(test_set)
    labels = labels.numpy()
    before = _buffers(model)
    correct = evaluate(model, test_loader, CrossEntropyLoss())
    after_correct = _buffers(model)
    trained_state = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    first_predictions = _train_mode_one_at_a_time(model, inputs)
    after_wrong = _buffers(model)
    second_predictions = _train_mode_one_at_a_time(model, inputs)
    model.load_state_dict(trained_state)
    return {
        "accuracy": correct["accuracy"],
        "train_mode_accuracy": float(np.mean(first_predictions == labels)),
        "train_mode_again": float(np.mean(second_predictions == labels)),
        "train_mode_disagreements": int(np.count_nonzero(first_predictions
                                                         != second_predictions)),
        "test_count": len(labels),
        "buffer_change_correct": _max_change(before, after_correct),
        "buffer_change_train_mode": _max_change(after_correct, after_wrong),
        "batches_tracked_correct": _batches_tracked(after_correct) - _batches_tracked(before),
        "batches_tracked_train_mode": (_batches_tracked(after_wrong)
                                       - _batches_tracked(after_correct)),
        "with_grad": _forward_cost(model, inputs, use_no_grad=False),
        "without_grad": _forward_cost(model, inputs, use_no_grad=True),
    }


def _report_modes(lesson):
    """Print the four points of the lesson from ``_measure_modes``' figures."""
    print()
    print("1) Test accuracy")
    print(f"   model.eval() + no_grad(), batches of 128:        "
          f"{100 * lesson['accuracy']:6.2f}%")
    print(f"   left in train mode, one image per forward pass:  "
          f"{100 * lesson['train_mode_accuracy']:6.2f}%  (again: "
          f"{100 * lesson['train_mode_again']:.2f}%, {lesson['train_mode_disagreements']} of "
          f"{lesson['test_count']} predictions changed)")
    print("   In train mode BatchNorm normalises each image with its own mean and variance "
          "instead of the training set's, and Dropout zeroes random units: the answer depends "
          "on the batch and on chance.")
    print("2) BatchNorm running statistics")
    print(f"   after the correct evaluation:    max |change| = "
          f"{lesson['buffer_change_correct']:.3g}, num_batches_tracked "
          f"+{lesson['batches_tracked_correct']}")
    print(f"   after the train-mode evaluation: max |change| = "
          f"{lesson['buffer_change_train_mode']:.3g}, num_batches_tracked "
          f"+{lesson['batches_tracked_train_mode']} (the model now carries test-set statistics; "
          f"the demo restores the trained ones)")
    with_grad, without_grad = lesson["with_grad"], lesson["without_grad"]
    print(f"3) One forward pass over the {lesson['test_count']} test images in eval mode")
    for label, cost in (("grad enabled, output kept:", with_grad),
                        ("under no_grad():", without_grad)):
        print(f"   {label:<27} peak {_mebibytes(cost['peak'])}, held afterwards "
              f"{_mebibytes(cost['held'])}, {1000 * cost['seconds']:.1f} ms")
    print(f"   saved for backward (ember.autograd.saved_bytes; an array saved by two nodes counts "
          f"twice): {_mebibytes(with_grad['saved'])} with grad, "
          f"{_mebibytes(without_grad['saved'])} under no_grad()")
    print(f"   graph behind the output (ember.autograd.graph_stats): {with_grad['nodes']} nodes "
          f"with grad, {without_grad['nodes']} under no_grad()")
    print("4) Why both: eval() changes what the layers compute (BatchNorm uses its running "
          "statistics, Dropout is off); no_grad() changes what autograd records (no graph, no "
          "saved activations). Neither does the other's job.")
