"""The compiled (numba) kernels of the transformer path compute what their NumPy paths compute
(``_jit.disabled()``) and what torch computes: GELU, LayerNorm, causal attention, and the rows of
small softmax, log_softmax and cross-entropy inputs, values and
gradients, float32 and float64, odd shapes, non-contiguous inputs, non-finite values; second
derivatives (create_graph) still come from the NumPy formulas."""
import contextlib

import numpy as np
import pytest

import ember
from ember import _jit
from ember.autograd import gradgradcheck
from ember.nn import functional as F
from ember.nn._kernels import loss
from ember.ops import reduce

pytest.importorskip("numba")

DTYPES = [np.float32, np.float64]
PATHS = ["compiled", "numpy"]


def _path(name):
    return contextlib.nullcontext() if name == "compiled" else _jit.disabled()


def _close(dtype):
    """Between the two paths: a few ulp (sums may round in another order)."""
    return {"rtol": 2e-6, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-12,
                                                                        "atol": 1e-12}


def _torch_close(dtype):
    return {"rtol": 2e-5, "atol": 2e-5} if dtype == np.float32 else {"rtol": 1e-10,
                                                                        "atol": 1e-10}


def _arrays(shapes, dtype, seed=0, scale=1.0):
    random = np.random.default_rng(seed)
    return [(random.standard_normal(shape) * scale).astype(dtype) for shape in shapes]


def _run(fw, function, arrays, grad_output):
    """function's output and the gradients of every array (as leaves), as NumPy arrays."""
    leaves = [fw.tensor(array, requires_grad=True) for array in arrays]
    output = function(*leaves)
    output.backward(fw.tensor(grad_output))
    return [output.detach().numpy()] + [leaf.grad.numpy() for leaf in leaves]


def _both_paths(function, arrays, grad_output):
    results = {}
    for name in PATHS:
        with _path(name):
            results[name] = _run(ember, function, arrays, grad_output)
    return results["compiled"], results["numpy"]


def _assert_non_finite_as_numpy_path_and_torch(torch, function, arrays, grad_output,
                                               rtol=2e-6, atol=1e-30):
    """Compiled path = NumPy path (a few ulp: ``rtol``, ``atol``) = torch, NaN and inf in the
    same places."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        compiled, numpy_path = _both_paths(function, arrays, grad_output)
        theirs = _run(torch, function, arrays, grad_output)
    for mine, numpy_value, their in zip(compiled, numpy_path, theirs):
        np.testing.assert_allclose(mine, numpy_value, rtol=rtol, atol=atol)
        np.testing.assert_allclose(mine, their, rtol=max(rtol, 2e-5), atol=atol)


def _assert_close(ours, theirs, tolerance):
    for mine, their in zip(ours, theirs):
        assert mine.dtype == their.dtype and mine.shape == their.shape
        np.testing.assert_allclose(mine, their, **tolerance)


# ---- GELU -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7,), (3, 65541), (2, 1, 5)])
def test_gelu_compiled_equals_numpy_path_and_torch(torch, dtype, shape):
    x, grad_output = _arrays([shape, shape], dtype, scale=3.0)
    compiled, numpy_path = _both_paths(F.gelu, [x], grad_output)
    if dtype == np.float32:  # the same float32 operations in the same order
        for mine, their in zip(compiled, numpy_path):
            np.testing.assert_array_equal(mine, their)
    _assert_close(compiled, numpy_path, _close(dtype))
    _assert_close(compiled, _run(torch, torch.nn.functional.gelu, [x], grad_output),
                  _torch_close(dtype))


def test_gelu_compiled_handles_non_finite_and_non_contiguous_input():
    values = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -100.0, 100.0, 5.7, -5.7],
                      np.float32)
    strided = np.repeat(values, 2)[::2]
    grad_output = np.linspace(-1, 1, values.size).astype(np.float32)
    with np.errstate(invalid="ignore"):
        compiled, numpy_path = _both_paths(F.gelu, [strided], grad_output)
    for mine, their in zip(compiled, numpy_path):
        np.testing.assert_array_equal(mine, their)


@pytest.mark.parametrize("path", PATHS)
def test_gelu_second_derivatives(path):
    x = ember.tensor(_arrays([(3, 4)], np.float64)[0], requires_grad=True)
    with _path(path):
        assert gradgradcheck(F.gelu, (x,))


# ---- LayerNorm --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, normalized, affine", [
    ((3, 5, 7), (7,), True), ((2, 3, 4), (3, 4), True), ((1, 129), (129,), True),
    ((64, 128), (128,), True), ((4, 6), (6,), False), ((0, 4), (4,), True)])
def test_layer_norm_compiled_equals_numpy_path_and_torch(torch, dtype, shape, normalized,
                                                         affine):
    arrays = _arrays([shape, normalized, normalized], dtype, scale=2.0)
    arrays[0] += 1.5  # a mean away from zero
    grad_output = _arrays([shape], dtype, seed=3)[0]

    def layer_norm(fw):
        def function(x, *affine_arrays):
            return fw.nn.functional.layer_norm(x, normalized, *affine_arrays, eps=1e-4)
        return function

    inputs = arrays if affine else arrays[:1]
    compiled, numpy_path = _both_paths(layer_norm(ember), inputs, grad_output)
    _assert_close(compiled, numpy_path, _close(dtype) if dtype == np.float64 else
                  {"rtol": 1e-5, "atol": 1e-5})
    _assert_close(compiled, _run(torch, layer_norm(torch), inputs, grad_output),
                  _torch_close(dtype))


def test_layer_norm_compiled_takes_non_contiguous_input():
    x = _arrays([(6, 10)], np.float32)[0]
    grad_output = _arrays([(3, 10)], np.float32, seed=1)[0]
    compiled, numpy_path = _both_paths(lambda t: F.layer_norm(t[::2], (10,)), [x], grad_output)
    _assert_close(compiled, numpy_path, {"rtol": 1e-5, "atol": 1e-5})


@pytest.mark.parametrize("path", PATHS)
def test_layer_norm_second_derivatives(path):
    arrays = _arrays([(3, 5), (5,), (5,)], np.float64)
    inputs = tuple(ember.tensor(array, requires_grad=True) for array in arrays)
    with _path(path):
        assert gradgradcheck(lambda x, w, b: F.layer_norm(x, (5,), w, b), inputs)


# ---- attention --------------------------------------------------------------------------------
ATTENTION_SHAPES = {
    "causal_square": ([(2, 3, 9, 5)] * 3, {"is_causal": True}),
    "causal_rectangular_wide": ([(2, 5, 4), (2, 7, 4), (2, 7, 3)], {"is_causal": True}),
    "causal_rectangular_tall": ([(2, 7, 4), (2, 5, 4), (2, 5, 3)], {"is_causal": True}),
    "plain_odd": ([(2, 3, 5, 3), (2, 3, 7, 3), (2, 3, 7, 6)], {"scale": 0.7}),
    "one_key": ([(3, 4, 2), (3, 1, 2), (3, 1, 5)], {"is_causal": True}),
}


def _attention(fw, keywords):
    def function(query, key, value):
        return fw.nn.functional.scaled_dot_product_attention(query, key, value, **keywords)
    return function


@pytest.fixture(params=["whole", "blocks"])
def query_blocks(request, monkeypatch):
    """Causal attention in blocks of 2 queries (these short sequences otherwise run whole) or
    whole; yields the mode and the list that records the blocked path's calls."""
    from ember.nn._kernels import attention
    calls = []
    if request.param == "blocks":
        monkeypatch.setattr(attention, "_BLOCK_ROWS", 2)
        monkeypatch.setattr(attention, "_BLOCKED_SCORES", 0)
        for name in ("_attend_blocks", "_attention_grads_blocks"):
            original = getattr(attention, name)

            def recorded(*arguments, _original=original, _name=name):
                calls.append(_name)
                return _original(*arguments)
            monkeypatch.setattr(attention, name, recorded)
    yield request.param, calls


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ATTENTION_SHAPES))
def test_attention_compiled_softmax_equals_numpy_path_and_torch(torch, dtype, name,
                                                                query_blocks):
    shapes, keywords = ATTENTION_SHAPES[name]
    arrays = _arrays(shapes, dtype, seed=len(name), scale=2.0)
    output_shape = shapes[0][:-1] + shapes[2][-1:]
    grad_output = _arrays([output_shape], dtype, seed=1)[0]
    compiled, numpy_path = _both_paths(_attention(ember, keywords), arrays, grad_output)
    _assert_close(compiled, numpy_path, _close(dtype))
    _assert_close(compiled, _run(torch, _attention(torch, keywords), arrays, grad_output),
                  _torch_close(dtype))
    mode, calls = query_blocks
    if mode == "blocks" and dtype == np.float32 and keywords.get("is_causal"):
        assert calls == ["_attend_blocks", "_attention_grads_blocks"]
    else:
        assert calls == []


def test_attention_in_default_blocks_of_a_long_sequence(torch):
    # 130 queries: 4 blocks of 32 or 33, the last ones seeing every key
    shapes = [(2, 8, 130, 8)] * 2 + [(2, 8, 130, 5)]
    arrays = _arrays(shapes, np.float32, seed=11, scale=2.0)
    grad_output = _arrays([(2, 8, 130, 5)], np.float32, seed=12)[0]
    function = _attention(ember, {"is_causal": True})
    compiled, numpy_path = _both_paths(function, arrays, grad_output)
    # Over 130 queries the two paths' sums round apart by more than a few ulp: each is held to
    # the float64 result instead, within 1e-6 of the largest value.
    exact = _run(ember, function, [array.astype(np.float64) for array in arrays],
                 grad_output.astype(np.float64))
    for ours in (compiled, numpy_path):
        for mine, reference in zip(ours, exact):
            np.testing.assert_allclose(mine, reference, rtol=0,
                                       atol=1e-6 * np.abs(reference).max())
    _assert_close(compiled, _run(torch, _attention(torch, {"is_causal": True}), arrays,
                                 grad_output), _torch_close(np.float32))


def test_attention_compiled_softmax_on_strided_heads_and_large_scores(torch, query_blocks):
    # heads split from one (batch, length, 3 * channels) projection, as transformers do
    projection = _arrays([(2, 6, 3 * 8)], np.float32, scale=6.0)[0]
    grad_output = _arrays([(2, 2, 6, 4)], np.float32, seed=2)[0]

    def attention(fw):
        def function(packed):
            query, key, value = [part.reshape(2, 6, 2, 4).transpose(1, 2)
                                 for part in packed.split(8, dim=2)]
            return fw.nn.functional.scaled_dot_product_attention(query, key, value,
                                                                 is_causal=True)
        return function

    compiled, numpy_path = _both_paths(attention(ember), [projection], grad_output)
    _assert_close(compiled, numpy_path, {"rtol": 1e-5, "atol": 1e-5})
    _assert_close(compiled, _run(torch, attention(torch), [projection], grad_output),
                  _torch_close(np.float32))
    mode, calls = query_blocks
    assert len(calls) == (2 if mode == "blocks" else 0)


def test_attention_compiled_softmax_with_dropout_equals_numpy_path():
    shapes = [(2, 3, 6, 4), (2, 3, 6, 4), (2, 3, 6, 3)]
    arrays = _arrays(shapes, np.float32)
    grad_output = _arrays([(2, 3, 6, 3)], np.float32, seed=4)[0]
    results = []
    for name in PATHS:
        ember.manual_seed(7)
        with _path(name):
            results.append(_run(ember, _attention(ember, {"is_causal": True, "dropout_p": 0.3}),
                                arrays, grad_output))
    _assert_close(results[0], results[1], _close(np.float32))


@pytest.mark.parametrize("values", [[np.inf, 0.0, 1.0], [np.nan, 0.0, 1.0],
                                    [-np.inf, 2.0, 1.0], [-200.0, 100.0, 0.0]])
def test_attention_compiled_softmax_non_finite_scores_as_numpy_path(values):
    # query (1, 1) against three keys: the scores are the key values themselves
    query = np.ones((1, 1), np.float32)
    key = np.array(values, np.float32)[:, None]
    value = np.arange(6, dtype=np.float32).reshape(3, 2)
    grad_output = np.ones((1, 2), np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        compiled, numpy_path = _both_paths(_attention(ember, {"scale": 1.0}), [query, key, value],
                                           grad_output)
    for mine, their in zip(compiled, numpy_path):
        np.testing.assert_allclose(mine, their, rtol=2e-6, atol=1e-30)


def test_attention_exponential_kernel_within_two_ulp_of_exp_and_masks_to_zero():
    from ember.nn._kernels import attention
    kernel = attention._exp_shifted_rows.compiled()
    random = np.random.default_rng(7)
    # 40 keys (not a whole number of 16-float vectors), shifted scores over float32's range
    scores = (random.uniform(-90.0, 89.0, (1, 40, 40))).astype(np.float32)
    scores[0, 0, :6] = [np.nan, -np.inf, np.inf, 0.0, -87.0, 88.5]
    rows = scores.copy()
    with np.errstate(invalid="ignore"):
        kernel(rows, True, np.zeros((1, 40), np.float32), 0, np.float32(1.0))
    exact = np.exp(scores.astype(np.float64))
    visible = np.tril(np.ones((40, 40), bool))[None]
    normal = visible & (exact >= np.finfo(np.float32).tiny) & (exact <= np.finfo(np.float32).max)
    ulp = np.spacing(exact[normal].astype(np.float32)).astype(np.float64)
    assert np.abs(rows[normal] - exact[normal]).max() / ulp.max() <= 2.0
    assert (np.abs(rows[normal] - exact[normal]) <= 2 * ulp).all()
    assert (rows[~visible] == 0).all()  # keys the causal mask removes
    assert (rows[visible & (exact < np.finfo(np.float32).tiny)] == 0).all()
    assert np.isnan(rows[0, 0, 0]) and rows[0, 0, 0] != 0
    row = scores[0, 1].copy()
    rows = scores.copy()
    kernel(rows, False, np.zeros((1, 40), np.float32), 0, np.float32(1.0))
    assert rows[0, 1, 2] == np.float32(np.exp(np.float64(row[2]))) or \
        abs(rows[0, 1, 2] - np.exp(np.float64(row[2]))) <= 2 * np.spacing(rows[0, 1, 2])
    assert rows[0, 0, 2] == np.inf and rows[0, 0, 1] == 0


@pytest.mark.parametrize("path", PATHS)
def test_attention_second_derivatives(path):
    arrays = _arrays([(1, 4, 3), (1, 4, 3), (1, 4, 2)], np.float32)
    inputs = tuple(ember.tensor(array.astype(np.float64), requires_grad=True)
                   for array in arrays)
    with _path(path):
        assert gradgradcheck(_attention(ember, {"is_causal": True}), inputs)


@pytest.mark.parametrize("where", ["value", "grad_output"])
def test_attention_blocks_keep_the_whole_products_nan_from_masked_infinities(torch, where,
                                                                              query_blocks):
    # an inf value at the last key, or an inf output gradient at the first query, meets zero
    # weights of masked positions: NaN in PyTorch's whole product, so in ember's too
    shapes = [(2, 3, 8, 4)] * 3
    arrays = _arrays(shapes, np.float32, seed=5)
    grad_output = _arrays([(2, 3, 8, 4)], np.float32, seed=6)[0]
    if where == "value":
        arrays[2][..., -1, :] = np.inf
    else:
        grad_output[..., 0, :] = np.inf
    keywords = {"is_causal": True}
    with np.errstate(invalid="ignore"):
        ours = _run(ember, _attention(ember, keywords), arrays, grad_output)
        theirs = _run(torch, _attention(torch, keywords), arrays, grad_output)
    for mine, their in zip(ours, theirs):
        np.testing.assert_array_equal(np.isnan(mine), np.isnan(their))
    # the non-finite array sends the calls that read it down the whole path
    mode, calls = query_blocks
    if mode == "blocks":
        assert calls == ([] if where == "value" else ["_attend_blocks"])


# ---- cross entropy over small (N, C) inputs ---------------------------------------------------
def _cross_entropy(target, **options):
    def compute(logits):
        fw = ember if isinstance(logits, ember.Tensor) else __import__("torch")
        return fw.nn.functional.cross_entropy(logits, fw.tensor(target), **options)
    return compute


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(7, 5), (1, 3), (33, 129)])
def test_cross_entropy_rows_compiled_as_numpy_path_and_torch(torch, monkeypatch, dtype, reduction,
                                                             shape):
    (logits,) = _arrays([shape], dtype, scale=4.0)
    logits[0, -1] = 60.0  # the shift by the row maximum matters
    monkeypatch.setattr(loss, "_COMPILED_ELEMENTS", logits.size)  # the row kernels run
    target = np.random.default_rng(1).integers(0, shape[1], shape[0])
    grad_output = (np.array(1.7, dtype) if reduction != "none"
                   else _arrays([shape[:1]], dtype, seed=2)[0])
    compute = _cross_entropy(target, reduction=reduction)
    compiled, numpy_path = _both_paths(compute, [logits], grad_output)
    _assert_close(compiled, numpy_path, _close(dtype))
    _assert_close(compiled, _run(torch, compute, [logits], grad_output), _torch_close(dtype))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(256, 1000), (7, 5000), (40, 130)])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_wide_float32_rows_near_numpy_path_and_torch(torch, reduction, shape,
                                                                    smoothing):
    # past the scalar kernels' size: the vectorised float32 row kernels (exp within 2 ulp)
    (logits,) = _arrays([shape], np.float32, scale=3.0)
    logits[0, 3] = 40.0
    if shape[0] == 40:  # strided rows: the kernels take a contiguous copy
        logits = np.concatenate([logits, logits], axis=1)[:, :shape[1]]
    assert loss._wide_rows(logits)
    target = np.random.default_rng(1).integers(0, shape[1], shape[0])
    grad_output = (np.array(1.7, np.float32) if reduction != "none"
                   else _arrays([shape[:1]], np.float32, seed=2)[0])
    compute = _cross_entropy(target, reduction=reduction, label_smoothing=smoothing)
    compiled, numpy_path = _both_paths(compute, [logits], grad_output)
    close = {"rtol": 1e-5, "atol": 1e-5} if reduction == "sum" else _torch_close(np.float32)
    _assert_close(compiled, numpy_path, close)
    _assert_close(compiled, _run(torch, compute, [logits], grad_output), close)


@pytest.mark.parametrize("row", [[np.inf, 0.0, 1.0], [np.nan, 0.0, 1.0], [-np.inf, 2.0, 1.0],
                                 [-np.inf, -np.inf, -np.inf], [-200.0, 100.0, 0.0]])
def test_cross_entropy_wide_rows_non_finite_logits_as_numpy_path_and_torch(torch, row):
    logits = np.tile(np.array([row, [0.5, -0.5, 2.0]], np.float32), (1, 1500))
    target = np.array([1, 2])
    compute = _cross_entropy(target, reduction="none")
    grad_output = np.array([1.0, -2.0], np.float32)
    _assert_non_finite_as_numpy_path_and_torch(torch, compute, [logits], grad_output, 2e-5, 1e-7)


def test_cross_entropy_rows_compiled_on_a_transposed_input(torch):
    logits = _arrays([(6, 9)], np.float32)[0].T  # (9, 6), not contiguous
    target = np.arange(9) % 6
    compute = _cross_entropy(target)
    grad_output = np.array(1.0, np.float32)
    compiled, numpy_path = _both_paths(compute, [logits], grad_output)
    _assert_close(compiled, numpy_path, _close(np.float32))
    _assert_close(compiled, _run(torch, compute, [logits], grad_output),
                  _torch_close(np.float32))


@pytest.mark.parametrize("row", [[np.inf, 0.0, 1.0], [0.0, np.inf, np.inf], [np.nan, 0.0, 1.0],
                                 [0.0, np.nan, 1.0], [-np.inf, 2.0, 1.0],
                                 [-np.inf, -np.inf, -np.inf], [-200.0, 100.0, 0.0]])
def test_cross_entropy_rows_compiled_non_finite_logits_as_numpy_path_and_torch(torch, row):
    logits = np.array([row, [0.5, -0.5, 2.0]], np.float32)
    target = np.array([1, 2])
    compute = _cross_entropy(target, reduction="none")
    grad_output = np.array([1.0, -2.0], np.float32)
    _assert_non_finite_as_numpy_path_and_torch(torch, compute, [logits], grad_output)


@pytest.mark.parametrize("path", PATHS)
def test_cross_entropy_rows_second_derivatives(path):
    logits = ember.tensor(_arrays([(4, 3)], np.float64)[0], requires_grad=True)
    with _path(path):
        assert gradgradcheck(_cross_entropy(np.array([2, 0, 1, 1])), (logits,))


# ---- softmax / log_softmax over the last axis of small inputs --------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(5,), (7, 9), (2, 3, 17), (1, 1)])
def test_softmax_rows_compiled_equals_numpy_path_and_torch(torch, dtype, name, shape):
    x, grad_output = _arrays([shape, shape], dtype, scale=3.0)
    x.reshape(-1)[0] = 50.0  # the shift by the row maximum matters
    assert reduce._compiled_rows_kernels(x) is not None

    def compute(tensor):
        return getattr(ember if isinstance(tensor, ember.Tensor) else torch, name)(tensor, -1)
    compiled, numpy_path = _both_paths(compute, [x], grad_output)
    _assert_close(compiled, numpy_path, _close(dtype))
    _assert_close(compiled, _run(torch, compute, [x], grad_output), _torch_close(dtype))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(3, 1025), (2, 3, 700), (1, 4099), (40, 31)])
def test_softmax_rows_vectorised_float32_near_numpy_path_and_torch(torch, name, shape):
    # above the small-input size, float32 rows take the vectorised kernels (exp within 2 ulp)
    x, grad_output = _arrays([shape, shape], np.float32, scale=4.0)
    x.reshape(-1)[::37] = 60.0
    assert reduce._compiled_rows_kernels(x)[0] is reduce._softmax_rows_float32.compiled()

    def compute(tensor):
        return getattr(ember if isinstance(tensor, ember.Tensor) else torch, name)(tensor, -1)
    compiled, numpy_path = _both_paths(compute, [x], grad_output)
    _assert_close(compiled, numpy_path, {"rtol": 1e-5, "atol": 4e-6})
    _assert_close(compiled, _run(torch, compute, [x], grad_output), _torch_close(np.float32))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("columns", [3, 1500])
def test_softmax_rows_compiled_non_finite_as_numpy_path_and_torch(torch, name, columns):
    rows = np.array([[np.inf, 0.0, 1.0], [np.nan, 0.0, 1.0], [0.0, np.nan, 1.0],
                     [-np.inf, 2.0, 1.0], [-np.inf, -np.inf, -np.inf], [-200.0, 100.0, 0.0]],
                    np.float32)
    rows = np.tile(rows, (1, columns // 3))  # 1500 columns: the vectorised float32 kernels
    grad_output = np.linspace(-1, 1, rows.size).astype(np.float32).reshape(rows.shape)

    def compute(tensor):
        return getattr(ember if isinstance(tensor, ember.Tensor) else torch, name)(tensor, -1)
    # (wide rows: sums of 1500 terms in another order, and exp's 2 ulp; gradients that cancel
    # to 1e-4 of their O(1) terms keep those sums' absolute error)
    _assert_non_finite_as_numpy_path_and_torch(
        torch, compute, [rows], grad_output, *((2e-6, 1e-30) if columns == 3 else (2e-5, 1e-7)))


def test_softmax_rows_take_the_numpy_path_off_the_last_axis_or_not_contiguous(torch):
    x = _arrays([(6, 5)], np.float32)[0]
    for tensor, dim in ((ember.tensor(x), 0), (ember.tensor(x).t(), -1)):
        mine = ember.softmax(tensor, dim).numpy()
        theirs = torch.softmax(torch.tensor(tensor.numpy()), dim).numpy()
        np.testing.assert_allclose(mine, theirs, **_torch_close(np.float32))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_rows_second_derivatives(path, name):
    x = ember.tensor(_arrays([(3, 4)], np.float64)[0], requires_grad=True)
    with _path(path):
        assert gradgradcheck(lambda tensor: getattr(ember, name)(tensor, -1), (x,))


# ---- sigmoid and SiLU (float32, one compiled pass) ---------------------------------------------
@pytest.mark.parametrize("name", ["sigmoid", "silu"])
@pytest.mark.parametrize("shape", [(7,), (3, 700), (2, 1, 300)])
def test_sigmoid_and_silu_compiled_within_ulps_of_numpy_path_and_torch(torch, name, shape):
    x, grad_output = _arrays([shape, shape], np.float32, scale=6.0)
    x.reshape(-1)[:5] = [0.0, 100.0, -100.0, 88.5, -88.5]
    compiled, numpy_path = _both_paths(getattr(F, name), [x], grad_output)
    _assert_close(compiled, numpy_path, {"rtol": 1e-6, "atol": 2e-6})
    _assert_close(compiled, _run(torch, getattr(torch.nn.functional, name), [x], grad_output),
                  _torch_close(np.float32))


@pytest.mark.parametrize("name", ["sigmoid", "silu"])
def test_sigmoid_and_silu_compiled_keep_non_finite_values_as_torch(torch, name):
    x = np.tile(np.array([np.nan, np.inf, -np.inf, 0.0, 1.0], np.float32), 100)
    with np.errstate(invalid="ignore"):
        compiled, numpy_path = _both_paths(getattr(F, name), [x], np.ones_like(x))
        expected = _run(torch, getattr(torch.nn.functional, name), [x], np.ones_like(x))
    for mine, their, torchs in zip(compiled, numpy_path, expected):
        np.testing.assert_array_equal(np.isnan(mine), np.isnan(torchs))
        np.testing.assert_allclose(mine, torchs, rtol=1e-6, atol=0)
        np.testing.assert_allclose(mine, their, rtol=1e-6, atol=0)


def test_sigmoid_in_place_on_recurrent_gates_matches_torch_gru(torch):
    # GRU's gates go through the compiled sigmoid in place (batch 8, hidden 64: 1024 gates)
    random = np.random.default_rng(11)
    x = random.standard_normal((5, 8, 16)).astype(np.float32)
    ember.manual_seed(0)
    layer = ember.nn.GRU(16, 64)
    reference = torch.nn.GRU(16, 64)
    reference.load_state_dict({key: torch.tensor(value.detach().numpy())
                               for key, value in layer.state_dict().items()})
    output, _ = layer(ember.tensor(x))
    expected, _ = reference(torch.tensor(x))
    np.testing.assert_allclose(output.detach().numpy(), expected.detach().numpy(),
                               rtol=2e-5, atol=2e-6)


# ---- leaky_relu (float32, one compiled pass) -----------------------------------------------------
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("slope", [0.01, 0.2, -0.5, 1.7])
def test_leaky_relu_bit_equal_to_torch_on_both_paths(torch, path, slope):
    x = np.array([np.nan, -0.0, 0.0, -1, 1, np.inf, -np.inf, 1e-40, -1e-40] * 40, np.float32)
    grad = np.linspace(-3, 3, x.size).astype(np.float32)
    with _path(path):
        mine = ember.tensor(x, requires_grad=True)
        out = F.leaky_relu(mine, slope)
        out.backward(ember.tensor(grad))
    theirs = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.leaky_relu(theirs, slope)
    expected.backward(torch.tensor(grad))
    np.testing.assert_array_equal(out.detach().numpy().view(np.int32),
                                  expected.detach().numpy().view(np.int32))
    np.testing.assert_array_equal(mine.grad.numpy().view(np.int32),
                                  theirs.grad.numpy().view(np.int32))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", ["hardswish", "hardsigmoid"])
def test_hard_activations_equal_torch_on_both_paths(torch, path, name):
    # edges, NaN (hardswish's gradient takes its middle formula there, as PyTorch's) and
    # infinities, gradients bit for bit
    x = np.array([np.nan, -0.0, 0.0, -3, 3, -2.9999, 2.9999, 3.0001, -3.0001, np.inf, -np.inf,
                  1e-40] * 30, np.float32)
    grad = np.linspace(-1, 1, x.size).astype(np.float32)
    with _path(path):
        mine = ember.tensor(x, requires_grad=True)
        out = getattr(F, name)(mine)
        out.backward(ember.tensor(grad))
    theirs = torch.tensor(x, requires_grad=True)
    expected = getattr(torch.nn.functional, name)(theirs)
    expected.backward(torch.tensor(grad))
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    np.testing.assert_array_equal(mine.grad.numpy().view(np.int32),
                                  theirs.grad.numpy().view(np.int32))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name, options", [("elu", {"alpha": 1.3}), ("selu", {}), ("elu", {})])
def test_elu_gradient_compiled_within_ulps_of_numpy_path_and_torch(torch, path, name, options):
    x = np.concatenate([np.array([np.nan, -0.0, 0.0, -88.0, -100.0, -1e-30, np.inf, -np.inf],
                                 np.float32), _arrays([(3000,)], np.float32, scale=4.0)[0]])
    grad = _arrays([x.shape], np.float32, seed=1)[0]
    with _path(path):
        mine = ember.tensor(x, requires_grad=True)
        getattr(F, name)(mine, **options).backward(ember.tensor(grad))
    theirs = torch.tensor(x, requires_grad=True)
    getattr(torch.nn.functional, name)(theirs, **options).backward(torch.tensor(grad))
    np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-6, atol=1e-30)
