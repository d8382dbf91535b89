"""The workloads, each written once against a framework module `fw` (torch or ember).

Every run_* function returns a list of measurements: dicts with name, unit, median, min, iqr,
q1, q3, repeats, number (loop count per repeat) and params (the sizes used).
Inputs come from one seeded NumPy generator, so both frameworks see identical arrays.
"""

import contextlib
import gc
import importlib
import io
import os
import subprocess
import sys
import time
import warnings

import numpy as np

from benchmarks import memory
from benchmarks.environment import OtherProcesses
from benchmarks.timing import summarise, time_statement

SEED = 0
CLASSES = 10
IMAGE_SIZE = 28

WORKLOAD_NAMES = (
    "mlp_train",
    "mlp_eval",
    "cnn_train",
    "cnn_eval",
    "cnn_eval_onnxruntime",
    "small_train",
    "gcn_train",
    "op_overhead",
    "nograd_memory",
    "import_time",
    "scaling",
)
# Workloads measured once per variant, each variant in a fresh process.
VARIANTS = {"nograd_memory": ("grad", "no_grad")}
# Workloads that run only when these packages are installed (the runner leaves them out).
OPTIONAL_REQUIREMENTS = {"cnn_eval_onnxruntime": ("onnx", "onnxruntime"),
                         "gcn_train": ("scipy",)}
# The ONNX opset both exporters target in cnn_eval_onnxruntime.
ONNX_OPSET = 17

# Timing settings per worker process; the runner pools the repeats of several processes.
TIMING = {
    "full": {"repeats": 5, "warmup": 2, "min_repeat_seconds": 0.2},
    "quick": {"repeats": 3, "warmup": 1, "min_repeat_seconds": 0.0},
}
SCALING_TIMING = {
    "full": {"repeats": 5, "warmup": 1, "min_repeat_seconds": 0.05},
    "quick": {"repeats": 3, "warmup": 1, "min_repeat_seconds": 0.0},
}
OVERHEAD_TIMING = {
    "full": {"repeats": 5, "warmup": 100, "min_repeat_seconds": 0.2},
    "quick": {"repeats": 3, "warmup": 10, "min_repeat_seconds": 0.001},
}

SIZES = {
    "mlp_train": {"full": {"batch": 128, "width": 512}, "quick": {"batch": 8, "width": 16}},
    "mlp_eval": {"full": {"batch": 1024, "width": 512}, "quick": {"batch": 8, "width": 16}},
    "cnn_train": {
        "full": {"batch": 64, "channels": (32, 64), "hidden": 128},
        "quick": {"batch": 2, "channels": (2, 4), "hidden": 8},
    },
    "cnn_eval": {
        "full": {"batch": 256, "channels": (32, 64), "hidden": 128},
        "quick": {"batch": 2, "channels": (2, 4), "hidden": 8},
    },
    "small_train": {"full": {"batch": 32}, "quick": {"batch": 4}},
    "gcn_train": {
        "full": {"nodes": 20000, "edges": 200000, "features": 64, "hidden": 64},
        "quick": {"nodes": 50, "edges": 200, "features": 8, "hidden": 8},
    },
    "nograd_memory": {
        "full": {"depth": 16, "width": 1024, "batch": 512},
        "quick": {"depth": 2, "width": 256, "batch": 64},
    },
    "import_time": {"full": {"processes": 5}, "quick": {"processes": 1}},
    "scaling": {
        "full": {
            "batches": (32, 64, 128, 256, 512, 1024, 2048),
            "widths": (128, 256, 512, 1024, 2048),
            "base_batch": 128,
            "base_width": 512,
            "budget_seconds": 100.0,
        },
        "quick": {
            "batches": (4, 8),
            "widths": (8, 16),
            "base_batch": 4,
            "base_width": 8,
            "budget_seconds": 30.0,
        },
    },
}


def _mode(quick):
    return "quick" if quick else "full"


def _generator(offset=0):
    return np.random.default_rng(SEED + offset)


def _features(shape, offset=0):
    return _generator(offset).standard_normal(shape, dtype=np.float32)


def _labels(batch, offset=0):
    return _generator(1000 + offset).integers(0, CLASSES, size=batch, dtype=np.int64)


def build_mlp(fw, in_features=IMAGE_SIZE * IMAGE_SIZE, width=512):
    """784-width-width-10 with BatchNorm1d, ReLU and Dropout(0.5) after each hidden Linear."""
    nn = fw.nn
    return nn.Sequential(
        nn.Linear(in_features, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(width, CLASSES),
    )


def build_cnn(fw, channels=(32, 64), hidden=128):
    """Two conv-BN-ReLU-pool blocks on 1x28x28, then a 128-unit classifier head."""
    nn = fw.nn
    first, second = channels
    pooled = IMAGE_SIZE // 4
    return nn.Sequential(
        nn.Conv2d(1, first, 3, padding=1), nn.BatchNorm2d(first), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(first, second, 3, padding=1), nn.BatchNorm2d(second), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(second * pooled * pooled, hidden), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(hidden, CLASSES),
    )


def build_small_mlp(fw, features=32, width=64):
    nn = fw.nn
    return nn.Sequential(
        nn.Linear(features, width), nn.ReLU(),
        nn.Linear(width, width), nn.ReLU(),
        nn.Linear(width, CLASSES),
    )


def build_small_conv1d(fw, length=64):
    nn = fw.nn
    remaining = length - 4 - 4
    return nn.Sequential(
        nn.Conv1d(1, 8, 5), nn.ReLU(),
        nn.Conv1d(8, 16, 5), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * remaining, CLASSES),
    )


def build_deep_mlp(fw, depth=16, width=1024):
    layers = []
    for _ in range(depth):
        layers.append(fw.nn.Linear(width, width))
        layers.append(fw.nn.ReLU())
    return fw.nn.Sequential(*layers)


def train_step(fw, model, optimizer, inputs, targets):
    """One optimiser step: zero_grad, forward, loss, backward, step."""
    optimizer.zero_grad()
    output = model(inputs)
    loss = fw.nn.functional.cross_entropy(output, targets)
    loss.backward()
    optimizer.step()
    return loss


def eval_step(fw, model, inputs):
    with fw.no_grad():
        return model(inputs)


def _measurement(name, unit, summary, **params):
    return {"name": name, "unit": unit, **summary, "params": params}


def _time_train(fw, model, optimizer, input_array, label_array, timing):
    model.train()
    inputs = fw.tensor(input_array)
    targets = fw.tensor(label_array)
    namespace = {
        "train_step": train_step, "fw": fw, "model": model, "optimizer": optimizer,
        "inputs": inputs, "targets": targets,
    }
    statement = "train_step(fw, model, optimizer, inputs, targets)"
    return time_statement(statement, namespace, scale=1e3, **timing)


def _time_eval(fw, model, input_array, timing):
    model.eval()
    namespace = {"eval_step": eval_step, "fw": fw, "model": model, "inputs": fw.tensor(input_array)}
    return time_statement("eval_step(fw, model, inputs)", namespace, scale=1e3, **timing)


def _sgd(fw, model):
    return fw.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def run_mlp_train(fw, quick=False, variant=None):
    sizes = SIZES["mlp_train"][_mode(quick)]
    fw.manual_seed(SEED)
    model = build_mlp(fw, width=sizes["width"])
    inputs = _features((sizes["batch"], IMAGE_SIZE * IMAGE_SIZE))
    summary = _time_train(fw, model, _sgd(fw, model), inputs, _labels(sizes["batch"]),
                          TIMING[_mode(quick)])
    return [_measurement("mlp_train", "ms", summary, **sizes)]


def run_mlp_eval(fw, quick=False, variant=None):
    sizes = SIZES["mlp_eval"][_mode(quick)]
    fw.manual_seed(SEED)
    model = build_mlp(fw, width=sizes["width"])
    inputs = _features((sizes["batch"], IMAGE_SIZE * IMAGE_SIZE))
    summary = _time_eval(fw, model, inputs, TIMING[_mode(quick)])
    return [_measurement("mlp_eval", "ms", summary, **sizes)]


def run_cnn_train(fw, quick=False, variant=None):
    sizes = SIZES["cnn_train"][_mode(quick)]
    fw.manual_seed(SEED)
    model = build_cnn(fw, sizes["channels"], sizes["hidden"])
    inputs = _features((sizes["batch"], 1, IMAGE_SIZE, IMAGE_SIZE))
    summary = _time_train(fw, model, _sgd(fw, model), inputs, _labels(sizes["batch"]),
                          TIMING[_mode(quick)])
    return [_measurement("cnn_train", "ms", summary, **sizes)]


def run_cnn_eval(fw, quick=False, variant=None):
    sizes = SIZES["cnn_eval"][_mode(quick)]
    fw.manual_seed(SEED)
    model = build_cnn(fw, sizes["channels"], sizes["hidden"])
    inputs = _features((sizes["batch"], 1, IMAGE_SIZE, IMAGE_SIZE))
    summary = _time_eval(fw, model, inputs, TIMING[_mode(quick)])
    return [_measurement("cnn_eval", "ms", summary, **sizes)]


def run_cnn_eval_onnxruntime(fw, quick=False, variant=None):
    """cnn_eval's model and input, exported by the framework's ONNX exporter (torch's TorchScript
    exporter, ember.onnx) and run by ONNX Runtime on the worker's threads: the deployment path
    next to the framework's own eval step. The exported output is checked against the
    framework's before timing."""
    onnxruntime = importlib.import_module("onnxruntime")
    exporter = importlib.import_module(f"{fw.__name__}.onnx")
    sizes = SIZES["cnn_eval"][_mode(quick)]
    fw.manual_seed(SEED)
    model = build_cnn(fw, sizes["channels"], sizes["hidden"])
    model.eval()
    input_array = _features((sizes["batch"], 1, IMAGE_SIZE, IMAGE_SIZE))
    inputs = fw.tensor(input_array)
    options = {"dynamo": False} if fw.__name__ == "torch" else {}
    exported = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch's TorchScript exporter
        exporter.export(model, (inputs,), exported, input_names=["x"],
                        opset_version=ONNX_OPSET, dynamic_axes={"x": {0: "batch"}}, **options)
    session_options = onnxruntime.SessionOptions()
    session_options.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    session_options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(exported.getvalue(), session_options,
                                           providers=["CPUExecutionProvider"])
    feed = {"x": input_array}
    expected = eval_step(fw, model, inputs).numpy()
    difference = float(np.abs(session.run(None, feed)[0] - expected).max())
    if difference > 1e-3:
        raise RuntimeError(f"cnn_eval_onnxruntime: ONNX Runtime's output differs from "
                           f"{fw.__name__}'s by {difference:g}")
    summary = time_statement("session.run(None, feed)", {"session": session, "feed": feed},
                             scale=1e3, **TIMING[_mode(quick)])
    return [_measurement("cnn_eval_onnxruntime", "ms", summary, **sizes, opset=ONNX_OPSET,
                         onnxruntime=onnxruntime.__version__)]


def run_small_train(fw, quick=False, variant=None):
    """Two small nets with Adam, where per-op overhead rather than BLAS dominates."""
    batch = SIZES["small_train"][_mode(quick)]["batch"]
    timing = TIMING[_mode(quick)]
    labels = _labels(batch)
    fw.manual_seed(SEED)
    mlp = build_small_mlp(fw)
    mlp_summary = _time_train(fw, mlp, fw.optim.Adam(mlp.parameters()),
                              _features((batch, 32)), labels, timing)
    conv = build_small_conv1d(fw)
    conv_summary = _time_train(fw, conv, fw.optim.Adam(conv.parameters()),
                               _features((batch, 1, 64), offset=1), labels, timing)
    return [
        _measurement("small_train/mlp", "ms", mlp_summary, batch=batch, features=32, width=64),
        _measurement("small_train/conv1d", "ms", conv_summary, batch=batch, length=64),
    ]


def run_gcn_train(fw, quick=False, variant=None):
    """A 2-layer graph convolution (sparse normalised adjacency @ dense features) trained with
    Adam: the sparse @ dense products and their gradients dominate."""
    sizes = SIZES["gcn_train"][_mode(quick)]
    nodes = sizes["nodes"]
    edges = _generator(2).integers(0, nodes, size=(2, sizes["edges"]))
    rows = np.concatenate([edges[0], edges[1], np.arange(nodes)])
    columns = np.concatenate([edges[1], edges[0], np.arange(nodes)])
    degree = np.bincount(rows, minlength=nodes).astype(np.float32)
    weights = (degree[rows] ** -0.5) * (degree[columns] ** -0.5)
    adjacency = fw.sparse_coo_tensor(fw.tensor(np.stack([rows, columns])), fw.tensor(weights),
                                     (nodes, nodes)).coalesce()
    fw.manual_seed(SEED)
    first = fw.nn.Linear(sizes["features"], sizes["hidden"])
    second = fw.nn.Linear(sizes["hidden"], CLASSES)
    optimizer = fw.optim.Adam(list(first.parameters()) + list(second.parameters()), lr=0.01)
    namespace = {"fw": fw, "adjacency": adjacency, "first": first, "second": second,
                 "optimizer": optimizer, "labels": fw.tensor(_labels(nodes)),
                 "features": fw.tensor(_features((nodes, sizes["features"])))}
    statement = ("optimizer.zero_grad(); "
                 "hidden = fw.relu(fw.sparse.mm(adjacency, first(features))); "
                 "loss = fw.nn.functional.cross_entropy(fw.sparse.mm(adjacency, second(hidden)), "
                 "labels); loss.backward(); optimizer.step()")
    summary = time_statement(statement, namespace, scale=1e3, **TIMING[_mode(quick)])
    return [_measurement("gcn_train", "ms", summary, **sizes)]


def run_op_overhead(fw, quick=False, variant=None):
    """Microseconds per call of tiny ops, where the framework's Python overhead is all there is."""
    timing = OVERHEAD_TIMING[_mode(quick)]
    left = fw.tensor(_features(4))
    right = fw.tensor(_features(4, offset=1))
    recorded = fw.tensor(_features(4), requires_grad=True)
    fw.manual_seed(SEED)
    linear = fw.nn.Linear(32, 32)
    row = fw.tensor(_features((1, 32), offset=2))
    plain = time_statement("left + right", {"left": left, "right": right}, scale=1e6, **timing)
    graph = time_statement("recorded + right", {"recorded": recorded, "right": right},
                           scale=1e6, **timing)
    forward = time_statement("linear(row)", {"linear": linear, "row": row}, scale=1e6, **timing)
    return [
        _measurement("op_overhead/add", "us", plain, shape=[4], graph=False),
        _measurement("op_overhead/add_graph", "us", graph, shape=[4], graph=True),
        _measurement("op_overhead/linear", "us", forward, shape=[1, 32], graph=True),
    ]


def run_nograd_memory(fw, quick=False, variant="grad"):
    """Peak RSS growth of ONE forward of a deep MLP, output kept alive as before backward.

    The baseline is taken after the weights and input exist and after a batch-1 forward has run,
    so one-time initialisation (kernels, thread pools) is not counted but the real forward's
    buffers are. The high-water mark is reset just before the forward where Linux allows it,
    and glibc's mmap threshold is pinned so that RSS tracks live buffers (see memory.py).
    """
    if variant not in VARIANTS["nograd_memory"]:
        raise ValueError(f"nograd_memory: expected variant in {VARIANTS['nograd_memory']}, "
                         f"got {variant!r}")
    sizes = SIZES["nograd_memory"][_mode(quick)]
    pinned = memory.pin_mmap_threshold()
    fw.manual_seed(SEED)
    model = build_deep_mlp(fw, sizes["depth"], sizes["width"])
    input_array = _features((sizes["batch"], sizes["width"]))
    inputs = fw.tensor(input_array)
    warmup_inputs = fw.tensor(input_array[:1])

    def grad_context():
        return contextlib.nullcontext() if variant == "grad" else fw.no_grad()

    with grad_context():
        warmup_output = model(warmup_inputs)
    del warmup_output
    gc.collect()
    peak_before = memory.peak_rss_mib()
    was_reset = memory.reset_peak()
    baseline = memory.current_rss_mib()
    with grad_context():
        output = model(inputs)
    peak_after = memory.peak_rss_mib()
    if was_reset and baseline is not None:
        growth = peak_after - baseline
        method = "VmHWM after a reset (/proc/self/clear_refs) minus VmRSS at the baseline"
    else:
        growth = peak_after - peak_before
        method = "increase of the peak RSS (a lower bound: the peak could not be reset)"
    if pinned:
        method += ", with glibc's mmap threshold pinned at 128 KiB (mallopt)"
    del output
    weights_mib = sizes["depth"] * (sizes["width"] + 1) * sizes["width"] * 4 / 2**20
    activation_mib = sizes["batch"] * sizes["width"] * 4 / 2**20
    return [_measurement(
        f"nograd_memory/{variant}", "MiB", summarise([growth]), **sizes,
        baseline_rss_mib=baseline, weights_mib=weights_mib, activation_mib=activation_mib,
        method=method)]


def run_import_time(framework, quick=False, variant=None):
    """Wall time of whole fresh processes that only import the framework.

    A first process, untimed, warms the file cache and checks that the import really provides
    the API the benchmarks use (an empty namespace package would otherwise import in no time).
    """
    processes = SIZES["import_time"][_mode(quick)]["processes"]
    check = (f"import {framework}, {framework}.nn, {framework}.nn.functional, "
             f"{framework}.optim; {framework}.tensor; {framework}.no_grad; "
             f"{framework}.nn.Linear; {framework}.nn.functional.cross_entropy; "
             f"{framework}.optim.SGD")
    checked = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    if checked.returncode != 0:
        last_line = (checked.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"import_time: `{check}` failed: {last_line}")
    command = [sys.executable, "-c", f"import {framework}"]
    seconds = []
    with OtherProcesses() as others:
        for _ in range(processes):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            seconds.append(time.perf_counter() - start)
    summary = {**summarise(seconds), "others_cpu": others.cpus}
    return [_measurement("import_time", "s", summary, command=" ".join(command[1:]))]


def run_scaling(fw, quick=False, variant=None):
    """mlp_train ms per step against batch size (fixed width) and width (fixed batch).

    Points run from small to large; once the time budget is spent the rest are skipped.
    """
    sizes = SIZES["scaling"][_mode(quick)]
    timing = SCALING_TIMING[_mode(quick)]
    points = [("batch", batch, batch, sizes["base_width"]) for batch in sizes["batches"]]
    points += [("width", width, sizes["base_batch"], width) for width in sizes["widths"]]
    start = time.perf_counter()
    measurements = []
    for axis, size, batch, width in points:
        if time.perf_counter() - start > sizes["budget_seconds"]:
            break
        fw.manual_seed(SEED)
        model = build_mlp(fw, width=width)
        inputs = _features((batch, IMAGE_SIZE * IMAGE_SIZE))
        summary = _time_train(fw, model, _sgd(fw, model), inputs, _labels(batch), timing)
        measurements.append(_measurement(f"scaling/{axis}/{size}", "ms", summary,
                                         axis=axis, size=size, batch=batch, width=width))
        del model
        gc.collect()
    return measurements


RUNNERS = {
    "mlp_train": run_mlp_train,
    "mlp_eval": run_mlp_eval,
    "cnn_train": run_cnn_train,
    "cnn_eval": run_cnn_eval,
    "cnn_eval_onnxruntime": run_cnn_eval_onnxruntime,
    "small_train": run_small_train,
    "gcn_train": run_gcn_train,
    "op_overhead": run_op_overhead,
    "nograd_memory": run_nograd_memory,
    "scaling": run_scaling,
}
