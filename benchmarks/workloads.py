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

from benchmarks import higher_order, memory, models
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
    "gpt_train",
    "gpt_generate",
    "lstm_train",
    "rnn_seq",
    "small_train",
    "gcn_train",
    "op_overhead",
    "nograd_memory",
    "import_time",
    "scaling",
    "pinn_train",
    "hvp",
)
# Workloads measured once per variant, each variant in a fresh process.
VARIANTS = {"nograd_memory": ("grad", "no_grad")}
# Workloads that run only when these packages are installed (the runner leaves them out).
OPTIONAL_REQUIREMENTS = {"cnn_eval_onnxruntime": ("onnx", "onnxruntime"),
                         "gcn_train": ("scipy",)}
# The ONNX opset both exporters target in cnn_eval_onnxruntime.
ONNX_OPSET = 17
# Measured at one thread count only (the highest asked for): threads do not change what they
# measure (memory, imports), or the run would grow too long (scaling).
SINGLE_THREAD_COUNT = ("nograd_memory", "import_time", "scaling")
# Workloads whose ember step is profiled (cProfile, own time per function) in a worker of its own.
PROFILED = ("mlp_eval", "cnn_train", "cnn_eval", "gpt_train", "gpt_generate", "lstm_train",
            "rnn_seq")
# Profiled executions of the step after two warm-up ones.
PROFILE_EXECUTIONS = {"full": {"default": 10, "gpt_generate": 2}, "quick": {"default": 1}}

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
    "gpt_train": {
        "full": {"batch": 16, "block_size": 128, "embedding_size": 128, "heads": 4, "layers": 4,
                 "vocabulary": 65},
        "quick": {"batch": 2, "block_size": 8, "embedding_size": 16, "heads": 2, "layers": 1,
                  "vocabulary": 65},
    },
    "gpt_generate": {
        "full": {"block_size": 128, "embedding_size": 128, "heads": 4, "layers": 4,
                 "vocabulary": 65, "new_tokens": 200},
        "quick": {"block_size": 8, "embedding_size": 16, "heads": 2, "layers": 1,
                  "vocabulary": 65, "new_tokens": 4},
    },
    "lstm_train": {
        "full": {"vocabulary": 10000, "embedding_size": 200, "hidden_size": 200, "layers": 2,
                 "bptt": 35, "batch": 20, "dropout": 0.2},
        "quick": {"vocabulary": 50, "embedding_size": 8, "hidden_size": 8, "layers": 2,
                  "bptt": 5, "batch": 2, "dropout": 0.2},
    },
    "rnn_seq": {
        "full": {"batch": 97, "steps": 100, "hidden_size": 51},
        "quick": {"batch": 2, "steps": 5, "hidden_size": 4},
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
    "pinn_train": {"full": {"points": 128}, "quick": {"points": 8}},
    "hvp": {"full": {"batch": 64}, "quick": {"batch": 4}},
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


# The phases of a training step are functions of their own so that a profile can say what each
# costs (their cumulative time); the call adds well under a microsecond.
def _phase_zero_grad(optimizer):
    optimizer.zero_grad()


def _phase_forward(loss_function, fw, model, batch):
    return loss_function(fw, model, batch)


def _phase_backward(loss):
    loss.backward()


def _phase_clip(fw, model, max_norm):
    fw.nn.utils.clip_grad_norm_(model.parameters(), max_norm)


def _phase_optimizer_step(optimizer):
    optimizer.step()


def training_step(fw, model, optimizer, loss_function, batch, max_norm=None):
    """One optimiser step: zero_grad, forward and loss, backward, clipping if asked, step."""
    _phase_zero_grad(optimizer)
    loss = _phase_forward(loss_function, fw, model, batch)
    _phase_backward(loss)
    if max_norm is not None:
        _phase_clip(fw, model, max_norm)
    _phase_optimizer_step(optimizer)
    return loss


def classification_loss(fw, model, batch):
    inputs, targets = batch
    return fw.nn.functional.cross_entropy(model(inputs), targets)


def train_step(fw, model, optimizer, inputs, targets):
    """One optimiser step of a classifier: zero_grad, forward, loss, backward, step."""
    return training_step(fw, model, optimizer, classification_loss, (inputs, targets))


def eval_step(fw, model, inputs):
    with fw.no_grad():
        return model(inputs)


def _measurement(name, unit, summary, **params):
    return {"name": name, "unit": unit, **summary, "params": params}


def _train_case(fw, model, optimizer, input_array, label_array):
    """The statement and namespace of a classifier's training step (timed or profiled)."""
    model.train()
    namespace = {
        "train_step": train_step, "fw": fw, "model": model, "optimizer": optimizer,
        "inputs": fw.tensor(input_array), "targets": fw.tensor(label_array),
    }
    return "train_step(fw, model, optimizer, inputs, targets)", namespace


def _eval_case(fw, model, input_array):
    model.eval()
    namespace = {"eval_step": eval_step, "fw": fw, "model": model, "inputs": fw.tensor(input_array)}
    return "eval_step(fw, model, inputs)", namespace


def _time_train(fw, model, optimizer, input_array, label_array, timing):
    statement, namespace = _train_case(fw, model, optimizer, input_array, label_array)
    return time_statement(statement, namespace, scale=1e3, **timing)


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


def prepare_mlp_eval(fw, quick=False):
    sizes = SIZES["mlp_eval"][_mode(quick)]
    fw.manual_seed(SEED)
    model = build_mlp(fw, width=sizes["width"])
    inputs = _features((sizes["batch"], IMAGE_SIZE * IMAGE_SIZE))
    return (*_eval_case(fw, model, inputs), sizes)


def prepare_cnn_train(fw, quick=False):
    sizes = SIZES["cnn_train"][_mode(quick)]
    fw.manual_seed(SEED)
    model = build_cnn(fw, sizes["channels"], sizes["hidden"])
    inputs = _features((sizes["batch"], 1, IMAGE_SIZE, IMAGE_SIZE))
    return (*_train_case(fw, model, _sgd(fw, model), inputs, _labels(sizes["batch"])), sizes)


def prepare_cnn_eval(fw, quick=False):
    sizes = SIZES["cnn_eval"][_mode(quick)]
    fw.manual_seed(SEED)
    model = build_cnn(fw, sizes["channels"], sizes["hidden"])
    inputs = _features((sizes["batch"], 1, IMAGE_SIZE, IMAGE_SIZE))
    return (*_eval_case(fw, model, inputs), sizes)


def gpt_loss(fw, model, batch):
    tokens, targets = batch
    logits = model(tokens)
    return fw.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def _gpt_model(fw, sizes):
    model = models.build_gpt(fw, sizes["vocabulary"], sizes["block_size"],
                             sizes["embedding_size"], sizes["heads"], sizes["layers"])
    return models.load_seeded_weights(fw, model, SEED)


def prepare_gpt_train(fw, quick=False):
    """A GPT training step: AdamW (weight decay on matrices only), clipping at norm 1."""
    sizes = SIZES["gpt_train"][_mode(quick)]
    model = _gpt_model(fw, sizes)
    model.train()
    optimizer = fw.optim.AdamW(models.gpt_parameter_groups(model, weight_decay=0.1), lr=3e-4,
                               betas=(0.9, 0.95))
    tokens = _generator(2).integers(0, sizes["vocabulary"],
                                    size=(sizes["batch"], sizes["block_size"] + 1))
    batch = (fw.tensor(tokens[:, :-1]), fw.tensor(tokens[:, 1:]))
    namespace = {"training_step": training_step, "fw": fw, "model": model,
                 "optimizer": optimizer, "gpt_loss": gpt_loss, "batch": batch}
    statement = "training_step(fw, model, optimizer, gpt_loss, batch, max_norm=1.0)"
    return statement, namespace, sizes


def generate(fw, model, start, new_tokens, generator):
    with fw.no_grad():
        return model.generate(start, new_tokens, generator)


def prepare_gpt_generate(fw, quick=False):
    """Sampling one sequence token by token in eval mode under no_grad, with a seeded generator."""
    sizes = SIZES["gpt_generate"][_mode(quick)]
    model = _gpt_model(fw, sizes)
    model.eval()
    generator = fw.Generator().manual_seed(SEED)
    namespace = {"generate": generate, "fw": fw, "model": model, "generator": generator,
                 "start": fw.zeros((1, 1), dtype=fw.long), "new_tokens": sizes["new_tokens"]}
    return "generate(fw, model, start, new_tokens, generator)", namespace, sizes


def detached(hidden):
    """The hidden state carried to the next batch, cut from the previous batch's graph."""
    return tuple(state.detach() for state in hidden)


def language_model_loss(fw, model, batch):
    """Cross-entropy of the next word; the hidden state goes on from the previous call."""
    output, batch["hidden"] = model(batch["tokens"], detached(batch["hidden"]))
    return fw.nn.functional.cross_entropy(output, batch["targets"])


def prepare_lstm_train(fw, quick=False):
    """The word language model of PyTorch's examples: SGD at lr 20, clipping at norm 0.25."""
    sizes = SIZES["lstm_train"][_mode(quick)]
    model = models.build_lstm_language_model(fw, sizes["vocabulary"], sizes["embedding_size"],
                                             sizes["hidden_size"], sizes["layers"],
                                             sizes["dropout"])
    models.load_seeded_weights(fw, model, SEED)
    model.train()
    fw.manual_seed(SEED)
    optimizer = fw.optim.SGD(model.parameters(), lr=20.0)
    tokens = _generator(3).integers(0, sizes["vocabulary"],
                                    size=(sizes["bptt"] + 1, sizes["batch"]))
    hidden_shape = (sizes["layers"], sizes["batch"], sizes["hidden_size"])
    batch = {"tokens": fw.tensor(tokens[:-1]), "targets": fw.tensor(tokens[1:].reshape(-1)),
             "hidden": (fw.zeros(hidden_shape), fw.zeros(hidden_shape))}
    namespace = {"training_step": training_step, "fw": fw, "model": model,
                 "optimizer": optimizer, "language_model_loss": language_model_loss,
                 "batch": batch}
    statement = "training_step(fw, model, optimizer, language_model_loss, batch, max_norm=0.25)"
    return statement, namespace, sizes


def sequence_loss(fw, model, batch):
    inputs, targets = batch
    return fw.nn.functional.mse_loss(model(inputs), targets)


def prepare_rnn_seq(fw, quick=False):
    """Next-value prediction on sine waves, two LSTMCells stepped by hand, Adam."""
    sizes = SIZES["rnn_seq"][_mode(quick)]
    model = models.load_seeded_weights(fw, models.build_sine_lstm(fw, sizes["hidden_size"]),
                                       SEED)
    model.train()
    optimizer = fw.optim.Adam(model.parameters(), lr=0.01)
    period = 20
    shifts = _generator(4).integers(-4 * period, 4 * period, size=(sizes["batch"], 1))
    waves = np.sin((np.arange(sizes["steps"] + 1) + shifts) / period).astype(np.float32)
    batch = (fw.tensor(waves[:, :-1]), fw.tensor(waves[:, 1:]))
    namespace = {"training_step": training_step, "fw": fw, "model": model,
                 "optimizer": optimizer, "sequence_loss": sequence_loss, "batch": batch}
    return "training_step(fw, model, optimizer, sequence_loss, batch)", namespace, sizes


def step_memory(statement, namespace):
    """Peak RSS growth (MiB) of one more execution of a warmed-up step, and its result.

    Run after the timings, which it would slow: glibc's mmap threshold is pinned and the free
    heap returned to the system first, so that RSS follows the step's live buffers (memory.py).
    """
    memory.pin_mmap_threshold()
    gc.collect()
    memory.trim_heap()
    was_reset = memory.reset_peak()
    baseline = memory.current_rss_mib()
    peak_before = memory.peak_rss_mib()
    # The step is an expression (a call) written in this module; eval returns its value.
    result = eval(compile(statement, "<step>", "eval"), namespace)
    if was_reset and baseline is not None:
        return memory.peak_rss_mib() - baseline, result
    return memory.peak_rss_mib() - peak_before, result


def _timed(name, prepare, fw, quick, unit_label=None):
    statement, namespace, sizes = prepare(fw, quick)
    summary = time_statement(statement, namespace, scale=1e3, **TIMING[_mode(quick)])
    measurement = _measurement(name, "ms", summary, **sizes)
    if unit_label is not None:
        measurement["unit_label"] = unit_label
    return measurement, statement, namespace, sizes


def _timed_training(name, prepare, fw, quick):
    """The step's time and its peak memory growth; a non-finite loss makes the run invalid."""
    measurement, statement, namespace, sizes = _timed(name, prepare, fw, quick)
    growth, loss = step_memory(statement, namespace)
    loss = float(loss.detach())
    if not np.isfinite(loss):
        raise FloatingPointError(f"{name}: the loss is {loss} after the timed steps")
    memory_measurement = _measurement(f"{name}/memory", "MiB", summarise([growth]), **sizes,
                                      method="VmHWM after a reset minus VmRSS before one step")
    return [measurement, memory_measurement]


def run_mlp_eval(fw, quick=False, variant=None):
    return [_timed("mlp_eval", prepare_mlp_eval, fw, quick)[0]]


def run_cnn_train(fw, quick=False, variant=None):
    return [_timed("cnn_train", prepare_cnn_train, fw, quick)[0]]


def run_cnn_eval(fw, quick=False, variant=None):
    return [_timed("cnn_eval", prepare_cnn_eval, fw, quick)[0]]


def run_gpt_train(fw, quick=False, variant=None):
    return _timed_training("gpt_train", prepare_gpt_train, fw, quick)


def run_gpt_generate(fw, quick=False, variant=None):
    new_tokens = SIZES["gpt_generate"][_mode(quick)]["new_tokens"]
    label = f"ms per {new_tokens} tokens"
    return [_timed("gpt_generate", prepare_gpt_generate, fw, quick, unit_label=label)[0]]


def run_lstm_train(fw, quick=False, variant=None):
    return _timed_training("lstm_train", prepare_lstm_train, fw, quick)


def run_rnn_seq(fw, quick=False, variant=None):
    return _timed_training("rnn_seq", prepare_rnn_seq, fw, quick)


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
    It may write bytecode even where PYTHONDONTWRITEBYTECODE is set: an installed package has
    its .pyc files (pip compiles them), so the timed imports read bytecode for both frameworks
    instead of timing the compilation of a source checkout.
    """
    processes = SIZES["import_time"][_mode(quick)]["processes"]
    check = (f"import {framework}, {framework}.nn, {framework}.nn.functional, "
             f"{framework}.optim; {framework}.tensor; {framework}.no_grad; "
             f"{framework}.nn.Linear; {framework}.nn.functional.cross_entropy; "
             f"{framework}.optim.SGD")
    environment = {name: value for name, value in os.environ.items()
                   if name != "PYTHONDONTWRITEBYTECODE"}
    checked = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                             env=environment)
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


def run_pinn_train(fw, quick=False, variant=None):
    """One Adam step of a physics-informed tanh MLP (2 x 20): u_xx through two create_graph
    differentiations, then backward through them."""
    sizes = SIZES["pinn_train"][_mode(quick)]
    fw.manual_seed(SEED)
    model = higher_order.build_pinn(fw)
    x, boundary, forcing = higher_order.pinn_problem(fw, sizes["points"])
    namespace = {"step": higher_order.pinn_step, "fw": fw, "model": model,
                 "optimizer": fw.optim.Adam(model.parameters(), lr=1e-3), "x": x,
                 "boundary": boundary, "forcing": forcing}
    summary = time_statement("step(fw, model, optimizer, x, boundary, forcing)", namespace,
                             scale=1e3, **TIMING[_mode(quick)])
    return [_measurement("pinn_train", "ms", summary, width=higher_order.PINN_WIDTH, **sizes)]


def run_hvp(fw, quick=False, variant=None):
    """One Hessian-vector product over the ~100k parameters of a tanh MLP (cross entropy)."""
    sizes = SIZES["hvp"][_mode(quick)]
    fw.manual_seed(SEED)
    model = higher_order.build_hvp_mlp(fw)
    inputs = fw.tensor(_features((sizes["batch"], higher_order.HVP_LAYERS[0])))
    targets = fw.tensor(_labels(sizes["batch"]))
    vectors = [fw.tensor(_features(tuple(parameter.shape), offset=index + 1))
               for index, parameter in enumerate(model.parameters())]
    namespace = {"product": higher_order.hessian_vector_product, "fw": fw, "model": model,
                 "inputs": inputs, "targets": targets, "vectors": vectors}
    summary = time_statement("product(fw, model, inputs, targets, vectors)", namespace,
                             scale=1e3, **TIMING[_mode(quick)])
    parameters = sum(parameter.numel() for parameter in model.parameters())
    return [_measurement("hvp", "ms", summary, parameters=parameters, **sizes)]


RUNNERS = {
    "mlp_train": run_mlp_train,
    "mlp_eval": run_mlp_eval,
    "cnn_train": run_cnn_train,
    "cnn_eval": run_cnn_eval,
    "cnn_eval_onnxruntime": run_cnn_eval_onnxruntime,
    "gpt_train": run_gpt_train,
    "gpt_generate": run_gpt_generate,
    "lstm_train": run_lstm_train,
    "rnn_seq": run_rnn_seq,
    "small_train": run_small_train,
    "gcn_train": run_gcn_train,
    "op_overhead": run_op_overhead,
    "nograd_memory": run_nograd_memory,
    "scaling": run_scaling,
    "pinn_train": run_pinn_train,
    "hvp": run_hvp,
}

# The step of each profiled workload: prepare(fw, quick) -> (statement, namespace, sizes).
PREPARERS = {
    "mlp_eval": prepare_mlp_eval,
    "cnn_train": prepare_cnn_train,
    "cnn_eval": prepare_cnn_eval,
    "gpt_train": prepare_gpt_train,
    "gpt_generate": prepare_gpt_generate,
    "lstm_train": prepare_lstm_train,
    "rnn_seq": prepare_rnn_seq,
}
