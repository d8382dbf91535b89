"""``ember demo``: train a small CNN on Digits, then measure why evaluation needs eval() AND no_grad().

Every number printed is measured in this run: accuracy evaluated correctly against one sample at
a time left in train mode, what each does to BatchNorm's running statistics, and the memory and
time of a forward pass with and without autograd recording.
"""
import os
import time
import tracemalloc

import numpy as np

DEMO_EPOCHS = 12
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
    return sum(int(value) for name, value in buffers.items() if name.endswith("num_batches_tracked"))


def _stack(dataset):
    """The whole dataset as one input tensor and one label tensor."""
    from ..data import DataLoader
    return next(iter(DataLoader(dataset, batch_size=len(dataset))))


def _train_mode_one_at_a_time_accuracy(model, inputs, labels):
    """The common mistake: no eval(), no no_grad(), one sample per forward pass."""
    model.train()
    correct = 0
    for index in range(inputs.shape[0]):
        output = model(inputs[index:index + 1])
        correct += int(output.argmax(dim=1).item() == labels[index].item())
    return correct / inputs.shape[0]


def _forward_cost(model, inputs, use_no_grad):
    """Peak traced memory (bytes), bytes saved for backward, and the best of 3 wall times."""
    import ember
    from ..autograd import function

    model.eval()
    context = ember.no_grad if use_no_grad else ember.enable_grad
    saved_before = function._saved_bytes[0]
    tracemalloc.start()
    with context():
        output = model(inputs)
    saved = function._saved_bytes[0] - saved_before
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del output
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        with context():
            output = model(inputs)
        seconds.append(time.perf_counter() - start)
        del output
    return peak, saved, min(seconds)


def _mebibytes(count):
    return f"{count / 2 ** 20:.2f} MiB"


def _plot(history, path):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

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


def run_demo(out_dir="demo-out", epochs=None, seed=0):
    """Train, measure, write ``demo.safetensors`` and ``curves.png`` into ``out_dir``."""
    import ember
    from ..data import DataLoader
    from ..io.checkpoint import save
    from ..nn import CrossEntropyLoss
    from ..training import evaluate, fit
    from .main import load_dataset
    from .models import build_model

    epochs = DEMO_EPOCHS if epochs is None else epochs
    started = time.perf_counter()
    train_set = load_dataset("digits", train=True)
    test_set = load_dataset("digits", train=False)
    os.makedirs(out_dir, exist_ok=True)

    ember.manual_seed(seed)
    model = build_model("cnn")
    optimizer = ember.optim.Adam(model.parameters(), lr=DEMO_LR)
    loss_fn = CrossEntropyLoss()
    train_loader = DataLoader(train_set, batch_size=DEMO_BATCH_SIZE, shuffle=True,
                              generator=ember.Generator().manual_seed(seed))
    test_loader = DataLoader(test_set, batch_size=128)
    print(f"ember demo: CNN (2 x Conv-BatchNorm-ReLU, MaxPool, Linear-ReLU-Dropout-Linear) on "
          f"Digits: {len(train_set)} train / {len(test_set)} test images, {epochs} epochs, "
          f"seed {seed}")
    history = fit(model, train_loader, test_loader, loss_fn, optimizer, epochs, progress=True)

    inputs, labels = _stack(test_set)
    before = _buffers(model)
    correct = evaluate(model, test_loader, loss_fn)
    after_correct = _buffers(model)
    trained_state = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    wrong_accuracy = _train_mode_one_at_a_time_accuracy(model, inputs, labels)
    after_wrong = _buffers(model)
    corrupted_statistics = evaluate(model, test_loader, loss_fn)
    model.load_state_dict(trained_state)

    print()
    print("1) Test accuracy")
    print(f"   model.eval() + no_grad(), batches of 128:        {100 * correct['accuracy']:6.2f}%")
    print(f"   left in train mode, one image per forward pass:  {100 * wrong_accuracy:6.2f}%")
    print("   (in train mode BatchNorm normalises each image with its own mean and variance, "
          "and Dropout zeroes units)")
    print("2) BatchNorm running statistics")
    print(f"   after the correct evaluation:    max |change| = "
          f"{_max_change(before, after_correct):.3g}, num_batches_tracked "
          f"+{_batches_tracked(after_correct) - _batches_tracked(before)}")
    print(f"   after the train-mode evaluation: max |change| = "
          f"{_max_change(after_correct, after_wrong):.3g}, num_batches_tracked "
          f"+{_batches_tracked(after_wrong) - _batches_tracked(after_correct)}")
    print(f"   a correct evaluation with those overwritten statistics scores "
          f"{100 * corrupted_statistics['accuracy']:.2f}% (the trained ones were restored)")

    grad_peak, grad_saved, grad_seconds = _forward_cost(model, inputs, use_no_grad=False)
    free_peak, free_saved, free_seconds = _forward_cost(model, inputs, use_no_grad=True)
    print(f"3) One forward pass over the {inputs.shape[0]} test images in eval mode")
    print(f"   grad enabled, output kept: peak {_mebibytes(grad_peak)}, "
          f"{_mebibytes(grad_saved)} held for backward, {1000 * grad_seconds:.1f} ms")
    print(f"   under no_grad():           peak {_mebibytes(free_peak)}, "
          f"{_mebibytes(free_saved)} held for backward, {1000 * free_seconds:.1f} ms")
    print("4) Why both: eval() changes what the layers compute (BatchNorm uses its running "
          "statistics, Dropout is off); no_grad() changes what autograd records (no graph, no "
          "saved activations). Neither does the other's job.")

    checkpoint = os.path.join(out_dir, CHECKPOINT_NAME)
    plot = os.path.join(out_dir, PLOT_NAME)
    save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epochs,
          "history": history, "config": {"model": "cnn", "model_options": {},
                                         "dataset": "digits", "optimizer": "adam", "lr": DEMO_LR,
                                         "batch_size": DEMO_BATCH_SIZE, "seed": seed}},
         checkpoint)
    _plot(history, plot)
    print(f"wrote {checkpoint} and {plot} in {time.perf_counter() - started:.1f} s")
    return {"history": history, "accuracy": correct["accuracy"],
            "train_mode_accuracy": wrong_accuracy,
            "buffer_change_correct": _max_change(before, after_correct),
            "buffer_change_train_mode": _max_change(after_correct, after_wrong),
            "peak_bytes": (grad_peak, free_peak), "saved_bytes": (grad_saved, free_saved)}
