"""Single ops side by side: each op of a table at training sizes, timed in a PyTorch worker and an
ember worker (one thread each, thread CPU time, the best of three repeats), reported as the ratio
ember/PyTorch, worst first. It finds the ops where a program spends many times PyTorch's time;
the workloads in RESULTS.md measure whole training steps.

    python -m benchmarks.op_sweep --out benchmarks/OP_SWEEP.md [--quick]
"""
import argparse
import json
import os
import subprocess
import sys
import time
import timeit
import warnings

import numpy as np

from benchmarks.environment import blas_libraries, cpu_model

# Ops whose ratio is listed; "bw_" entries time forward and backward together.
QUICK = ("sort", "gather", "softmax", "bw_embedding")


def _operations(fw):
    """The table: name -> callable, on inputs made here from one NumPy seed."""
    F = fw.nn.functional
    random = np.random.default_rng(0)

    def tensor(array, grad=False):
        value = fw.tensor(np.asarray(array))
        return value.requires_grad_(True) if grad else value

    x = tensor(random.standard_normal((64, 256)).astype(np.float32))
    xg = tensor(random.standard_normal((64, 256)).astype(np.float32), True)
    big = tensor(random.standard_normal((256, 1024)).astype(np.float32))
    bigg = tensor(random.standard_normal((256, 1024)).astype(np.float32), True)
    image = tensor(random.standard_normal((8, 16, 32, 32)).astype(np.float32))
    imageg = tensor(random.standard_normal((8, 16, 32, 32)).astype(np.float32), True)
    activation = tensor(random.standard_normal((32, 64, 16, 16)).astype(np.float32))
    activationg = tensor(random.standard_normal((32, 64, 16, 16)).astype(np.float32), True)
    sequence = tensor(random.standard_normal((16, 50, 32)).astype(np.float32))
    index = tensor(random.integers(0, 256, (64, 256)))
    rows = tensor(random.integers(0, 64, (1000,)))
    labels = tensor(random.integers(0, 1000, (256,)))
    tokens = tensor(random.integers(0, 5000, (16, 128)))
    grid = tensor(random.uniform(-1, 1, (8, 24, 24, 2)).astype(np.float32))
    weight = tensor(random.standard_normal((16, 16, 3, 3)).astype(np.float32))
    fw.manual_seed(0)
    embedding = fw.nn.Embedding(5000, 256)
    lstm = fw.nn.LSTM(32, 64, batch_first=True)

    def backward(make):
        def run():
            out = make()
            out.backward(fw.ones_like(out))
        return run

    return {
        "sort": lambda: x.sort(dim=1), "topk": lambda: x.topk(10, dim=1),
        "cumsum": lambda: x.cumsum(1), "cummax": lambda: x.cummax(1),
        "gather": lambda: x.gather(1, index),
        "scatter_add": lambda: fw.zeros(64, 256).scatter_add(1, index, x),
        "index_rows": lambda: x[rows], "softmax": lambda: x.softmax(1),
        "log_softmax (256, 1000)": lambda: big[:, :1000].log_softmax(1),
        "cross_entropy (256, 1000)": lambda: F.cross_entropy(big[:, :1000], labels),
        "clamp": lambda: x.clamp(-1, 1), "relu (32, 64, 16, 16)": lambda: F.relu(activation),
        "leaky_relu": lambda: F.leaky_relu(activation, 0.1), "elu": lambda: F.elu(activation),
        "hardswish": lambda: F.hardswish(activation), "gelu": lambda: F.gelu(activation),
        "sigmoid": lambda: big.sigmoid(), "tanh": lambda: big.tanh(), "sign": lambda: big.sign(),
        "erfinv": lambda: x.tanh().erfinv(), "lgamma": lambda: x.abs().lgamma(),
        "lerp": lambda: big.lerp(big, 0.3), "addcmul": lambda: big.addcmul(big, big, value=0.5),
        "sum": lambda: big.sum(), "sum over the last dim": lambda: big.sum(1),
        "norm": lambda: big.norm(), "layer_norm": lambda: F.layer_norm(big, (1024,)),
        "smooth_l1_loss": lambda: F.smooth_l1_loss(big, big * 0.5),
        "cosine_similarity pairwise": lambda: F.cosine_similarity(
            x[:, None, :32], x[None, :, :32], dim=-1),
        "embedding_bag": lambda: F.embedding_bag(rows, big[:100], tensor(np.arange(0, 1000, 10))),
        "pad reflect": lambda: F.pad(image, (2, 2, 2, 2), mode="reflect"),
        "grid_sample": lambda: F.grid_sample(image, grid, align_corners=False),
        "interpolate bilinear": lambda: F.interpolate(image, scale_factor=2, mode="bilinear"),
        "conv2d": lambda: F.conv2d(image, weight, padding=1),
        "max_pool2d": lambda: F.max_pool2d(image, 2), "lstm (no grad)": lambda: lstm(sequence),
        "randn": lambda: fw.randn(256, 1024), "cat": lambda: fw.cat([big, big], -1),
        "bw_gather": backward(lambda: xg.gather(1, index)),
        "bw_cumsum": backward(lambda: xg.cumsum(1)),
        "bw_index_rows": backward(lambda: bigg[labels % 256]),
        "bw_embedding": backward(lambda: embedding(tokens)),
        "bw_softmax": backward(lambda: xg.softmax(1)),
        "bw_cross_entropy": backward(lambda: F.cross_entropy(bigg[:, :1000], labels)),
        "bw_leaky_relu": backward(lambda: F.leaky_relu(activationg, 0.1)),
        "bw_elu": backward(lambda: F.elu(activationg)),
        "bw_norm": backward(lambda: bigg.norm()),
        "bw_smooth_l1_loss": backward(lambda: F.smooth_l1_loss(bigg, big)),
        "bw_grid_sample": backward(lambda: F.grid_sample(imageg, grid, align_corners=False)),
        "bw_pad reflect": backward(lambda: F.pad(imageg, (2, 2, 2, 2), mode="reflect")),
        "bw_max_pool2d": backward(lambda: F.max_pool2d(imageg, 2)),
    }


def _time(function):
    """Microseconds per call: the best of three repeats of about 50 ms each (thread time)."""
    function()
    once = min(timeit.repeat(function, number=1, repeat=3, timer=time.thread_time))
    number = max(1, min(200, int(0.05 / max(once, 1e-6))))
    return min(timeit.repeat(function, number=number, repeat=3, timer=time.thread_time)) \
        / number * 1e6


def worker(framework, names):
    """Time the ops in this process; one JSON object of name -> microseconds (or an error)."""
    warnings.simplefilter("ignore")
    if framework == "torch":
        import torch as fw  # benchmarks import the framework they measure in the worker
        fw.set_num_threads(1)
    else:
        import ember as fw  # (the same: imported only in the ember worker)
    operations = _operations(fw)
    results = {}
    for name in names or operations:
        try:
            results[name] = _time(operations[name])
        except Exception as error:  # an op the framework lacks is reported, not fatal
            results[name] = f"{type(error).__name__}: {str(error)[:60]}"
    print(json.dumps(results))


def _run_worker(framework, names):
    environment = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                       MKL_NUM_THREADS="1")
    command = [sys.executable, "-m", "benchmarks.op_sweep", "--worker", framework, *names]
    completed = subprocess.run(command, capture_output=True, text=True, env=environment,
                               check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def report(torch_times, ember_times):
    """The markdown table, worst ratio first; ops either framework lacks are listed apart."""
    rows, missing = [], []
    for name, theirs in torch_times.items():
        ours = ember_times.get(name)
        if isinstance(theirs, str) or isinstance(ours, str) or ours is None:
            missing.append(f"- {name}: PyTorch {theirs}; ember {ours}")
            continue
        rows.append((ours / theirs, name, theirs, ours))
    lines = ["| op | PyTorch (us) | ember (us) | ember/PyTorch |", "|---|---|---|---|"]
    lines += [f"| {name} | {theirs:.1f} | {ours:.1f} | {ratio:.2f} |"
              for ratio, name, theirs, ours in sorted(rows, reverse=True)]
    return "\n".join(lines + ([""] + missing if missing else []))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the markdown report here (else print it)")
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--worker", choices=("torch", "ember"), help=argparse.SUPPRESS)
    parser.add_argument("names", nargs="*", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.worker:
        worker(arguments.worker, arguments.names)
        return 0
    names = list(QUICK) if arguments.quick else []
    theirs, ours = _run_worker("torch", names), _run_worker("ember", names)
    blas = ", ".join(sorted({f"{entry['internal_api']} {entry['architecture']} "
                             f"({entry['library']})" for entry in blas_libraries()
                             if entry["user_api"] == "blas"}))
    text = (f"# Single ops, ember/PyTorch at one thread\n\nGenerated by `python -m "
            f"benchmarks.op_sweep` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
            f"CPU: {cpu_model()}; BLAS here: {blas} (NumPy's, which ember uses; PyTorch computes "
            f"with its own MKL). Workers at one thread (OMP/OPENBLAS/MKL_NUM_THREADS=1, "
            f"torch.set_num_threads(1)).\n\n{__doc__.split(chr(10) + chr(10))[0]}\n\n"
            f"{report(theirs, ours)}\n")
    if arguments.out:
        with open(arguments.out, "w") as handle:
            handle.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
