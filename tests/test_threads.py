"""ember's intra-op threads: ranges cut over worker threads compute exactly what one thread
computes, errors come back to the caller, and a forked child starts its own workers."""
import os
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest

import ember
from ember import _threads


def test_run_gives_every_range_to_one_thread(split_work):
    seen = []
    names = set()

    def record(start, stop):
        seen.append((start, stop))
        names.add(threading.current_thread().name)

    ranges = _threads.row_ranges(10, 3)
    assert ranges == [(0, 3), (3, 6), (6, 10)]
    for _ in range(20):
        _threads.run(record, ranges)
    assert sorted(seen) == sorted(ranges * 20)
    assert threading.current_thread().name in names


def test_an_error_in_a_range_reaches_the_caller(split_work):
    def fail_in_middle(start, stop):
        if start == 3:
            raise ValueError("range 3 failed")

    with pytest.raises(ValueError, match="range 3 failed"):
        _threads.run(fail_in_middle, _threads.row_ranges(9, 3))
    # the pool still serves the next call
    out = np.zeros(9)
    _threads.run(lambda start, stop: out.__setitem__(slice(start, stop), 1.0),
                 _threads.row_ranges(9, 3))
    assert out.sum() == 9


def test_work_inside_a_worker_runs_inline(split_work):
    counts = {}

    def outer(start, stop):
        time.sleep(0.05)  # long enough that the workers take ranges too
        name = threading.current_thread().name
        counts[name] = _threads.chunk_count(10 ** 9, 1, 10)
        # a nested call completes wherever it runs
        _threads.run(lambda inner_start, inner_stop: None, _threads.row_ranges(4, 2))

    _threads.run(outer, _threads.row_ranges(3, 3))
    workers = {name: count for name, count in counts.items() if name.startswith("ember-")}
    assert workers and set(workers.values()) == {1}


def test_one_thread_never_splits(monkeypatch):
    before = ember.get_num_threads()
    monkeypatch.setattr(_threads, "GEMM_GRAIN", 1)
    try:
        ember.set_num_threads(1)
        assert _threads.chunk_count(10 ** 9, 1) == 1
    finally:
        ember.set_num_threads(before)


def test_small_work_stays_on_the_calling_thread():
    assert _threads.chunk_count(100) == 1
    assert _threads.chunk_count(10 ** 9, rows=1) == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", [((1201, 50), (50, 60)), ((2, 37, 11), (2, 11, 6)),
                                    ((1500, 200), (200, 300)), ((700, 200), (200, 1000)),
                                    ((5, 3, 7), (5, 7, 4)), ((3, 8), (8, 2))])
def test_split_products_equal_one_blas_call(split_work, dtype, shapes, monkeypatch):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shapes[0]).astype(dtype)
    b = rng.standard_normal(shapes[1]).astype(dtype)
    bias = rng.standard_normal(shapes[1][-1]).astype(dtype)
    counts = []
    run = _threads.run
    monkeypatch.setattr(_threads, "run", lambda function, ranges: (counts.append(len(ranges)),
                                                                    run(function, ranges)))
    np.testing.assert_array_equal(_threads.matmul(a, b), np.matmul(a, b))
    # 2-D products split only in float32, while each range stays above OpenBLAS's
    # small-matrix limit, and where the BLAS kernels round row ranges as one call (probed)
    split = a.shape == (5, 3, 7) or (a.size > 50000 and dtype == np.float32
                                     and _threads._row_splits_exact())
    assert counts == ([3] if split else [])
    np.testing.assert_array_equal(_threads.matmul(a, b, bias), np.matmul(a, b) + bias)
    transposed = np.ascontiguousarray(np.swapaxes(b, -1, -2))
    np.testing.assert_array_equal(_threads.matmul(a, np.swapaxes(transposed, -1, -2)),
                                  np.matmul(a, b))


def test_linear_and_matmul_on_threads_match_one_thread(split_work):
    x = ember.randn(33, 7, 16, requires_grad=True)
    layer = ember.nn.Linear(16, 9)
    other = ember.randn(33, 16, 5, requires_grad=True)
    results = []
    for threads in (3, 1):
        ember.set_num_threads(threads)
        for tensor in (x, other, *layer.parameters()):
            tensor.grad = None
        out = layer(x).sum() + (x @ other).square().sum()
        out.backward()
        results.append([out.detach().numpy(), x.grad.numpy(), other.grad.numpy(),
                        layer.weight.grad.numpy()])
    for split, whole in zip(*results):
        np.testing.assert_array_equal(split, whole)


def test_a_forked_child_starts_its_own_workers(split_work):
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    script = (
        "import os, numpy as np, ember\n"
        "from ember import _threads\n"
        "_threads.GEMM_GRAIN = 1\n"
        "_threads.use_pool(True)\n"
        "ember.set_num_threads(2)\n"
        "a = np.ones((4, 64, 8), np.float32)\n"
        "b = a.transpose(0, 2, 1).copy()\n"
        "_threads.matmul(a, b)\n"
        "assert len(_threads._workers) == 1\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0 if (_threads.matmul(a, b) == 8).all() and _threads._workers else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "raise SystemExit(os.waitstatus_to_exitcode(status))\n")
    result = subprocess.run([sys.executable, "-c", script], timeout=60)
    assert result.returncode == 0


def _attention_results(query, key, value, **options):
    for tensor in (query, key, value):
        tensor.grad = None
    ember.manual_seed(7)  # the dropout mask
    out = ember.nn.functional.scaled_dot_product_attention(query, key, value, **options)
    (out * ember.linspace(-1, 1, out.shape[-1], dtype=out.dtype)).sum().backward()
    return [out.detach().numpy()] + [tensor.grad.numpy() for tensor in (query, key, value)]


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
@pytest.mark.parametrize("options", [
    {"is_causal": True}, {}, {"dropout_p": 0.3},
    {"attn_mask": "float"}, {"attn_mask": "bool_per_item"}, {"attn_mask": "bool_shared"}])
def test_attention_on_threads_matches_one_thread(split_work, dtype, options):
    ember.manual_seed(0)
    query, key, value = (ember.randn(5, 2, 7, 4, dtype=dtype, requires_grad=True)
                         for _ in range(3))
    options = dict(options)
    mask = options.get("attn_mask")
    if mask == "float":
        options["attn_mask"] = ember.randn(5, 1, 7, 7, dtype=dtype)
    elif mask == "bool_per_item":
        options["attn_mask"] = ember.rand(5, 2, 7, 7) > 0.3
    elif mask == "bool_shared":
        options["attn_mask"] = ember.rand(7, 7) > 0.3
    results = []
    for threads in (3, 1):
        ember.set_num_threads(threads)
        results.append(_attention_results(query, key, value, **options))
    for split, whole in zip(*results):
        np.testing.assert_array_equal(split, whole)


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
@pytest.mark.parametrize("layer", ["gelu", "gelu_tanh", "layer_norm", "layer_norm_plain"])
def test_activations_and_norms_on_threads_match_one_thread(split_work, dtype, layer):
    ember.manual_seed(0)
    x = ember.randn(7, 5, 6, dtype=dtype, requires_grad=True)
    modules = {"gelu": ember.nn.GELU(), "gelu_tanh": ember.nn.GELU(approximate="tanh"),
               "layer_norm": ember.nn.LayerNorm(6, dtype=dtype),
               "layer_norm_plain": ember.nn.LayerNorm([5, 6], elementwise_affine=False,
                                                      dtype=dtype)}
    module = modules[layer]
    for parameter in module.parameters():
        with ember.no_grad():
            parameter.copy_(ember.randn(parameter.shape, dtype=dtype))
    results = []
    for threads in (3, 1):
        ember.set_num_threads(threads)
        for tensor in (x, *module.parameters()):
            tensor.grad = None
        out = module(x)
        (out * ember.linspace(-2, 2, 6, dtype=dtype)).sum().backward()
        results.append([out.detach().numpy(), x.grad.numpy()]
                       + [parameter.grad.numpy() for parameter in module.parameters()])
    for split, whole in zip(*results):
        np.testing.assert_array_equal(split, whole)


def test_sums_and_accumulated_gradients_on_threads_match_one_thread(split_work):
    ember.manual_seed(0)
    x = ember.randn(6, 11, requires_grad=True)
    y = ember.randn(6, 11, requires_grad=True)
    results = []
    for threads in (3, 1):
        ember.set_num_threads(threads)
        x.grad = y.grad = None
        # x reaches the loss along three paths: its gradient is accumulated in place
        out = (x + y) * x + x.exp() + (x + 1).square()
        out.sum().backward()
        results.append([out.detach().numpy(), x.grad.numpy(), y.grad.numpy()])
    for split, whole in zip(*results):
        np.testing.assert_array_equal(split, whole)
    a = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(_threads.binary(np.add, a, a[::-1].copy()), a + a[::-1])
    np.testing.assert_array_equal(_threads.binary(np.add, a, a[:, ::-1]), a + a[:, ::-1])


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64, ember.float16])
@pytest.mark.parametrize("function", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [-1, 1, 0])
def test_softmax_on_threads_matches_one_thread(split_work, dtype, function, dim):
    ember.manual_seed(0)
    x = (ember.randn(5, 3, 7) * 4).to(dtype).requires_grad_()
    results = []
    for threads in (3, 1):
        ember.set_num_threads(threads)
        x.grad = None
        out = getattr(ember.nn.functional, function)(x, dim=dim)
        (out * ember.linspace(-1, 1, 7).to(dtype)).sum().backward()
        results.append([out.detach().numpy(), x.grad.numpy()])
    for split, whole in zip(*results):
        np.testing.assert_array_equal(split, whole)


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64, ember.bfloat16])
def test_arithmetic_on_threads_matches_one_thread(split_work, dtype):
    ember.manual_seed(0)
    x = ember.randn(4, 9).to(dtype).requires_grad_()
    y = ember.randn(4, 9).to(dtype).requires_grad_()
    results = []
    for threads in (3, 1):
        ember.set_num_threads(threads)
        x.grad = y.grad = None
        out = (x * y - y * 0.5) * 3.0 - x + y[0] * x[:, :1]
        out.sum().backward()
        with ember.no_grad():
            plain = (x * 2.5 - y) * y
            compared = x > y
        assert compared.dtype == ember.bool
        results.append([out.detach().float().numpy(), plain.float().numpy(), compared.numpy(),
                        x.grad.float().numpy(), y.grad.float().numpy()])
    for split, whole in zip(*results):
        np.testing.assert_array_equal(split, whole)
    a = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    assert _threads.binary(np.multiply, a, 2.0).dtype == np.float32
    scalar = np.float64(0.1)
    np.testing.assert_array_equal(_threads.binary(np.multiply, a, scalar), np.multiply(a, scalar))


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
@pytest.mark.parametrize("name", ["exp", "tanh", "sin", "log", "sqrt", "rsqrt", "erf",
                                  "log1p", "atan", "sigmoid"])
def test_unary_ops_on_threads_match_one_thread(split_work, dtype, name):
    ember.manual_seed(0)
    x = ember.randn(5, 7, dtype=dtype)
    x[0, :2] = ember.tensor([0.0, -1.0], dtype=dtype)  # log/sqrt edges: inf/nan, quietly
    x.requires_grad_()
    results = []
    for threads in (3, 1):
        ember.set_num_threads(threads)
        x.grad = None
        with warnings.catch_warnings(record=True) as shown:
            warnings.simplefilter("always")
            out = getattr(ember, name)(x)
            out.backward(ember.linspace(-1, 1, 35, dtype=dtype).reshape(5, 7))
        # the quiet ops stay quiet in the worker threads too (NumPy's error state is per thread)
        assert [str(warning.message) for warning in shown] == []
        results.append([out.detach().numpy(), x.grad.numpy()])
    for split, whole in zip(*results):
        np.testing.assert_array_equal(split, whole)


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop", "Adagrad"])
def test_optimizer_steps_on_threads_match_one_thread(split_work, name):
    results = []
    # the model is small: its products stay whole, the optimizer's chunks are what splits
    for threads in (3, 1):
        ember.set_num_threads(threads)
        ember.manual_seed(0)
        model = ember.nn.Sequential(ember.nn.Linear(6, 40), ember.nn.Tanh(),
                                    ember.nn.Linear(40, 3))
        optimizer = getattr(ember.optim, name)(model.parameters(), lr=0.05)
        data = ember.randn(9, 6)
        for _ in range(3):
            optimizer.zero_grad()
            model(data).square().mean().backward()
            optimizer.step()
        results.append([parameter.detach().numpy().copy() for parameter in model.parameters()])
    for split, whole in zip(*results):
        np.testing.assert_array_equal(split, whole)


def test_attention_of_one_sequence_splits_its_heads(split_work):
    ember.manual_seed(0)
    query, key, value = (ember.randn(1, 4, 6, 3, requires_grad=True) for _ in range(3))
    mask = ember.rand(1, 4, 6, 6) > 0.2
    results = []
    for threads in (3, 1):
        ember.set_num_threads(threads)
        results.append(_attention_results(query, key, value, attn_mask=mask))
        results.append(_attention_results(query, key, value, is_causal=True))
    for split, whole in zip(results[0] + results[1], results[2] + results[3]):
        np.testing.assert_array_equal(split, whole)


def test_callers_on_several_threads_share_the_pool(split_work):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1500, 40)).astype(np.float32)
    b = rng.standard_normal((40, 60)).astype(np.float32)
    expected = np.matmul(a, b)
    failures = []

    def multiply_repeatedly():
        for _ in range(30):
            if not np.array_equal(_threads.matmul(a, b), expected):
                failures.append("differs")

    callers = [threading.Thread(target=multiply_repeatedly) for _ in range(3)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=60)
    assert not any(caller.is_alive() for caller in callers) and failures == []


def test_masked_fill_and_where_on_threads_match_one_thread(split_work):
    ember.manual_seed(0)
    scores = ember.randn(5, 2, 6, 6, requires_grad=True)
    other = ember.randn(6, requires_grad=True)
    causal = ember.tril(ember.ones(6, 6)).view(1, 1, 6, 6)
    results = []
    for threads in (3, 1):
        ember.set_num_threads(threads)
        scores.grad = other.grad = None
        filled = scores.masked_fill(causal == 0, float("-inf")).softmax(-1)
        chosen = ember.where(scores > 0, scores, other)
        (filled.square().sum() + chosen.sum()).backward()
        results.append([filled.detach().numpy(), chosen.detach().numpy(), scores.grad.numpy(),
                        other.grad.numpy()])
    for split, whole in zip(*results):
        np.testing.assert_array_equal(split, whole)
    condition = np.arange(12).reshape(3, 4) % 3 == 0
    np.testing.assert_array_equal(_threads.broadcasting(np.where, condition, 1.5, np.arange(4.0)),
                                  np.where(condition, 1.5, np.arange(4.0)))


def test_the_pool_is_off_by_default_and_blas_keeps_its_threads():
    script = ("import numpy as np, ember\n"
              "from ember import _threads\n"
              "from threadpoolctl import threadpool_info\n"
              "ember.set_num_threads(2)\n"
              "a = np.ones((3000, 500), np.float32)\n"
              "_threads.matmul(a, a.T)\n"
              "assert _threads.chunk_count(10 ** 9) == 1\n"
              "blas = [pool['num_threads'] for pool in threadpool_info()\n"
              "        if pool['user_api'] == 'blas']\n"
              "assert max(blas) == 2, blas\n")
    environment = {key: value for key, value in os.environ.items()
                   if key != "EMBER_INTRA_OP_THREADS"}
    result = subprocess.run([sys.executable, "-c", script], env=environment, timeout=120)
    assert result.returncode == 0
