"""The compiled CNN kernels (the jit extra: col2im, max pooling's backward, BatchNorm's passes)
equal the NumPy paths they replace (``_jit.disabled()``) and torch: values and gradients,
float32 and float64, odd shapes, stride/padding/dilation/groups, ceil_mode, non-contiguous
inputs, and gradients of gradients (create_graph, where the NumPy ops run)."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import _jit
from ember.autograd import gradgradcheck

DTYPES = [np.float32, np.float64]
TORCH_TOLERANCE = {np.float32: (1e-4, 1e-5), np.float64: (1e-10, 1e-10)}
# col2im and max pooling add the same terms in the same order on both paths; BatchNorm's sums
# accumulate in another order (float64 accumulators against NumPy's float32 row sums).
PATH_TOLERANCE = {np.float32: (1e-5, 1e-6), np.float64: (1e-12, 1e-12)}


@pytest.fixture
def compiled():
    pytest.importorskip("numba")
    assert _jit.available()


def _input(shape, dtype, seed, contiguous=True, rounded=False):
    """A standard normal array; rounded for ties (max pooling's first maximum), or a
    non-contiguous view (every other element of a wider last axis)."""
    random = np.random.default_rng(seed)
    wide = shape[:-1] + (2 * shape[-1],)
    array = random.standard_normal(wide if not contiguous else shape)
    if rounded:
        array = np.round(array)
    array = array.astype(dtype)
    return array if contiguous else array[..., ::2]


def _ember_run(call, arrays, grad_seed=7):
    """call(*tensors)'s output and every input's gradient under a random cotangent."""
    leaves = [ember.tensor(array, requires_grad=True) for array in arrays]
    output = call(ember, *leaves)
    cotangent = np.random.default_rng(grad_seed).standard_normal(output.shape).astype(
        arrays[0].dtype)
    output.backward(ember.tensor(cotangent))
    return [output.detach().numpy()] + [leaf.grad.numpy() for leaf in leaves], cotangent


def _torch_run(torch, call, arrays, cotangent):
    leaves = [torch.tensor(np.ascontiguousarray(array), requires_grad=True) for array in arrays]
    output = call(torch, *leaves)
    output.backward(torch.tensor(cotangent))
    return [output.detach().numpy()] + [leaf.grad.numpy() for leaf in leaves]


def _check(torch, call, arrays, dtype):
    """Compiled path == NumPy path (tight) == torch (float tolerance), values and gradients."""
    results, cotangent = _ember_run(call, arrays)
    with _jit.disabled():
        reference, _ = _ember_run(call, arrays)
    rtol, atol = PATH_TOLERANCE[dtype]
    for mine, numpy_path in zip(results, reference):
        assert mine.dtype == numpy_path.dtype == dtype
        np.testing.assert_allclose(mine, numpy_path, rtol=rtol, atol=atol)
    rtol, atol = TORCH_TOLERANCE[dtype]
    for mine, theirs in zip(results, _torch_run(torch, call, arrays, cotangent)):
        np.testing.assert_allclose(mine, theirs, rtol=rtol, atol=atol)


CONV_CASES = [
    # (functional name, input shape, weight shape, keyword arguments)
    ("conv1d", (3, 4, 11), (5, 4, 3), dict(stride=2, padding=2, dilation=2)),
    ("conv2d", (2, 3, 9, 7), (4, 3, 3, 3), dict(padding=1)),
    ("conv2d", (3, 4, 10, 9), (6, 2, 3, 2), dict(stride=(2, 1), padding=(1, 2),
                                                 dilation=(2, 1), groups=2)),
    ("conv2d", (2, 3, 8, 7), (6, 3, 2, 4), dict(padding="same")),
    ("conv3d", (2, 2, 5, 6, 4), (3, 2, 2, 3, 2), dict(stride=2, padding=1)),
    ("conv_transpose2d", (2, 4, 5, 6), (4, 3, 3, 2), dict(stride=2, padding=1,
                                                          output_padding=1)),
    # stride 1 (col2im's unconditional row loop): padding past the kernel's reach, so some
    # taps' rows lie partly or wholly outside the image
    ("conv2d", (2, 3, 6, 5), (4, 3, 2, 3), dict(padding=(3, 4), dilation=(1, 2))),
    ("conv1d", (2, 3, 9), (2, 3, 4), dict(padding=5)),
    ("conv_transpose2d", (2, 4, 5, 6), (4, 3, 3, 2), dict(padding=(0, 1), dilation=(2, 1))),
]


@pytest.mark.parametrize("contiguous", [True, False], ids=["contiguous", "strided"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name, input_shape, weight_shape, keywords", CONV_CASES)
def test_convolution_col2im(torch, compiled, name, input_shape, weight_shape, keywords, dtype,
                            contiguous):
    arrays = [_input(input_shape, dtype, 1, contiguous), _input(weight_shape, dtype, 2),
              _input(weight_shape[:1] if "transpose" not in name else
                     (weight_shape[1],), dtype, 3)]
    _check(torch, lambda fw, x, w, b: getattr(fw.nn.functional, name)(x, w, b, **keywords),
           arrays, dtype)


DEPTHWISE_CASES = [
    # one input channel per group: the compiled direct kernels
    ("conv2d", (2, 4, 9, 7), (4, 1, 3, 3), dict(padding=1, groups=4)),
    ("conv2d", (2, 4, 7, 9), (8, 1, 3, 3), dict(padding=(3, 2), dilation=(1, 2), groups=4)),
    ("conv2d", (2, 3, 6, 5), (6, 1, 1, 1), dict(padding=1, groups=3)),
    ("conv2d", (2, 4, 8, 7), (4, 1, 2, 4), dict(padding="same", groups=4)),
    ("conv2d", (2, 4, 9, 7), (8, 1, 3, 2), dict(stride=(2, 1), padding=(1, 2), groups=4)),
    ("conv2d", (2, 3, 10, 11), (3, 1, 3, 3), dict(stride=2, padding=1, groups=3)),
    ("conv2d", (2, 2, 9, 9), (4, 1, 2, 3), dict(stride=3, dilation=2, groups=2)),
    ("conv1d", (2, 3, 12), (3, 1, 4), dict(padding=2, dilation=3, groups=3)),
    ("conv3d", (2, 2, 5, 6, 4), (4, 1, 2, 3, 2), dict(padding=(0, 1, 2), groups=2)),
    ("conv3d", (2, 2, 5, 6, 4), (2, 1, 2, 3, 2), dict(stride=(2, 1, 2), padding=1, groups=2)),
    ("conv_transpose2d", (2, 3, 5, 6), (3, 2, 3, 3), dict(padding=1, groups=3)),
    ("conv_transpose2d", (2, 3, 5, 6), (3, 1, 3, 3), dict(stride=2, padding=1, output_padding=1,
                                                          groups=3)),
    ("conv_transpose1d", (2, 2, 7), (2, 2, 3), dict(stride=3, padding=4, dilation=2,
                                                    groups=2)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("contiguous", [True, False], ids=["contiguous", "strided"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name, input_shape, weight_shape, keywords", DEPTHWISE_CASES)
def test_depthwise_convolution(torch, compiled, name, input_shape, weight_shape, keywords,
                               dtype, contiguous):
    """The direct kernels sum in another order than the GEMMs: compiled and NumPy paths are
    compared at torch's tolerance."""
    arrays = [_input(input_shape, dtype, 1, contiguous), _input(weight_shape, dtype, 2)]

    def call(fw, x, w):
        return getattr(fw.nn.functional, name)(x, w, **keywords)
    results, cotangent = _ember_run(call, arrays)
    with _jit.disabled():
        reference, _ = _ember_run(call, arrays)
    rtol, atol = TORCH_TOLERANCE[dtype]
    for mine, numpy_path, theirs in zip(results, reference,
                                        _torch_run(torch, call, arrays, cotangent)):
        assert mine.dtype == dtype
        np.testing.assert_allclose(mine, numpy_path, rtol=rtol, atol=atol)
        np.testing.assert_allclose(mine, theirs, rtol=rtol, atol=atol)


def test_depthwise_weight_grad_ignores_what_no_output_reads(torch, compiled):
    """An infinite input where no output of a tap reads it leaves that tap's gradient finite,
    as in torch (the kernel computes products in the padding's columns, then drops them)."""
    x = _input((1, 2, 5, 6), np.float32, 4)
    x[0, 0, :, -1] = np.inf
    x[0, 1, 1, :] = np.inf
    arrays = [x, _input((2, 1, 3, 3), np.float32, 5)]

    def call(fw, x, w):
        return fw.nn.functional.conv2d(x, w, stride=(2, 1), groups=2)
    results, cotangent = _ember_run(call, arrays)
    theirs = _torch_run(torch, call, arrays, cotangent)
    assert np.isfinite(theirs[2][0, 0, :, 0]).all() and np.isfinite(theirs[2][1, 0, 0]).all()
    np.testing.assert_allclose(results[2], theirs[2], rtol=1e-4, atol=1e-5)


def test_depthwise_empty_batch_matches_torch(torch, compiled):
    arrays = [np.zeros((0, 3, 5, 4), np.float32), _input((6, 1, 3, 3), np.float32, 8)]

    def call(fw, x, w):
        return fw.nn.functional.conv2d(x, w, padding=1, groups=3)
    leaves = [ember.tensor(array, requires_grad=True) for array in arrays]
    output = call(ember, *leaves)
    expected = call(torch, *[torch.tensor(array) for array in arrays])
    assert output.shape == tuple(expected.shape) and output.stride() == expected.stride()
    output.sum().backward()
    np.testing.assert_array_equal(leaves[1].grad.numpy(), np.zeros((6, 1, 3, 3), np.float32))


def test_depthwise_gradgradcheck(compiled):
    leaves = [ember.tensor(_input((2, 3, 5, 4), np.float64, 6), requires_grad=True),
              ember.tensor(_input((6, 1, 3, 2), np.float64, 7), requires_grad=True)]
    assert gradgradcheck(lambda x, w: F.conv2d(x, w, padding=(1, 2), groups=3), leaves)
    assert gradgradcheck(lambda x, w: F.conv2d(x, w, stride=2, groups=3), leaves)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_fold_and_unfold(torch, compiled, dtype):
    arrays = [_input((2, 3, 7, 8), dtype, 1)]
    _check(torch, lambda fw, x: fw.nn.functional.unfold(x, (2, 3), dilation=(1, 2), padding=1,
                                                        stride=2), arrays, dtype)
    arrays = [_input((2, 3 * 6, 9), dtype, 1)]
    _check(torch, lambda fw, x: fw.nn.functional.fold(x, (5, 6), (2, 3), padding=1, stride=2),
           arrays, dtype)


POOL_CASES = [
    ("max_pool1d", (2, 3, 11), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("max_pool2d", (3, 4, 9, 7), dict(kernel_size=2)),  # windows tile, a row and column left
    ("max_pool2d", (2, 3, 9, 7), dict(kernel_size=2, ceil_mode=True)),  # tiles past the edge
    ("max_pool1d", (2, 3, 11), dict(kernel_size=3)),
    ("max_pool3d", (2, 2, 5, 6, 7), dict(kernel_size=2)),
    ("max_pool2d", (2, 3, 9, 8), dict(kernel_size=(3, 2), stride=2, padding=1, dilation=(1, 2),
                                      ceil_mode=True)),
    ("max_pool2d", (2, 3, 8, 9), dict(kernel_size=3, stride=1)),  # overlapping windows
    ("max_pool2d", (3, 7, 9), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("max_pool3d", (2, 2, 5, 6, 7), dict(kernel_size=(2, 3, 2), stride=(1, 2, 2),
                                         padding=(1, 1, 0))),
    ("avg_pool2d", (2, 3, 8, 9), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                      count_include_pad=False)),
    ("avg_pool1d", (2, 3, 10), dict(kernel_size=4, stride=3)),
]


@pytest.mark.parametrize("contiguous", [True, False], ids=["contiguous", "strided"])
@pytest.mark.parametrize("rounded", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name, shape, keywords", POOL_CASES)
def test_pooling(torch, compiled, name, shape, keywords, dtype, rounded, contiguous):
    arrays = [_input(shape, dtype, 4, contiguous, rounded)]
    _check(torch, lambda fw, x: getattr(fw.nn.functional, name)(x, **keywords), arrays, dtype)


def test_max_pool_with_nan_takes_the_numpy_path(torch, compiled):
    array = _input((2, 3, 6, 6), np.float64, 5)
    array[0, 1, 2, 3] = np.nan
    _check(torch, lambda fw, x: fw.nn.functional.max_pool2d(x, 2), [array], np.float64)


BATCH_NORM_SHAPES = [(7, 5), (6, 3, 11), (4, 5, 7, 9), (3, 2, 3, 4, 5)]


@pytest.mark.parametrize("contiguous", [True, False], ids=["contiguous", "strided"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("shape", BATCH_NORM_SHAPES, ids=str)
def test_batch_norm_training(torch, compiled, shape, dtype, affine, contiguous):
    channels = shape[1]
    arrays = [_input(shape, dtype, 6, contiguous) * 3 + 1]
    if affine:
        arrays += [_input((channels,), dtype, 7), _input((channels,), dtype, 8)]
    running = {}

    def call(fw, x, weight=None, bias=None):
        means = fw.tensor(np.linspace(-1, 1, channels).astype(dtype))
        variances = fw.tensor(np.linspace(0.5, 2, channels).astype(dtype))
        output = fw.nn.functional.batch_norm(x, means, variances, weight, bias, training=True,
                                             momentum=0.3, eps=1e-4)
        running.setdefault(fw.__name__, []).append((means.numpy(), variances.numpy()))
        return output
    _check(torch, call, arrays, dtype)
    (compiled_stats, numpy_stats), torch_stats = running["ember"], running["torch"][0]
    rtol, atol = PATH_TOLERANCE[dtype]
    for mine, numpy_path, theirs in zip(compiled_stats, numpy_stats, torch_stats):
        np.testing.assert_allclose(mine, numpy_path, rtol=rtol, atol=atol)
        np.testing.assert_allclose(mine, theirs, *TORCH_TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("shape", BATCH_NORM_SHAPES, ids=str)
def test_batch_norm_eval(torch, compiled, shape, dtype):
    channels = shape[1]
    arrays = [_input(shape, dtype, 6, contiguous=False), _input((channels,), dtype, 7),
              _input((channels,), dtype, 8)]

    def call(fw, x, weight, bias):
        means = fw.tensor(np.linspace(-1, 1, channels).astype(dtype))
        variances = fw.tensor(np.linspace(0.5, 2, channels).astype(dtype))
        return fw.nn.functional.batch_norm(x, means, variances, weight, bias, training=False,
                                           eps=1e-4)
    _check(torch, call, arrays, dtype)


def _small_cnn(x, weight, scale, shift):
    """conv -> batch norm (training) -> ReLU -> max pool: every compiled kernel on one path."""
    hidden = F.conv2d(x, weight, padding=1)
    hidden = F.batch_norm(hidden, None, None, scale, shift, training=True)
    return F.max_pool2d(F.relu(hidden), 2, ceil_mode=True)


def test_gradients_of_gradients_match_numpy_path(compiled):
    arrays = [_input((2, 2, 5, 5), np.float64, 9), _input((3, 2, 3, 3), np.float64, 10),
              _input((3,), np.float64, 11), _input((3,), np.float64, 12)]

    def second_order():
        leaves = [ember.tensor(array, requires_grad=True) for array in arrays]
        output = _small_cnn(*leaves)
        grads = ember.autograd.grad((output * output).sum(), leaves, create_graph=True)
        total = sum((grad * grad).sum() for grad in grads)
        return [grad.numpy() for grad in ember.autograd.grad(total, leaves)]

    results = second_order()
    with _jit.disabled():
        reference = second_order()
    for mine, numpy_path in zip(results, reference):
        np.testing.assert_allclose(mine, numpy_path, rtol=1e-10, atol=1e-10)


def test_gradgradcheck_through_compiled_first_order(compiled):
    arrays = [_input((2, 2, 4, 4), np.float64, 13), _input((2, 2, 3, 3), np.float64, 14),
              _input((2,), np.float64, 15), _input((2,), np.float64, 16)]
    leaves = [ember.tensor(array, requires_grad=True) for array in arrays]
    assert gradgradcheck(_small_cnn, leaves)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("kernel_size, stride, padding, dilation", [
    ((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    ((2, 3), (1, 1), ((3, 0), (4, 2)), (1, 2)),
    ((1, 4), (1, 1), ((0, 0), (6, 5)), (1, 1)),
    ((3, 2), (2, 3), ((1, 2), (2, 1)), (2, 1)),
])
def test_compiled_col2im_adds_as_the_numpy_loop(compiled, dtype, kernel_size, stride, padding,
                                               dilation):
    """col2im's compiled kernel (its stride-1 rows without bounds tests included) equals the
    NumPy loop over kernel offsets bit for bit: the same terms added in the same order."""
    from ember.nn._kernels import conv
    shape = (3, 4, 7, 6)
    out_size = tuple((size + before + after - gap * (kernel - 1) - 1) // step + 1
                     for size, (before, after), gap, kernel, step
                     in zip(shape[2:], padding, dilation, kernel_size, stride))
    columns = _input(shape[:2] + kernel_size + out_size, dtype, 5)
    arguments = (columns, shape, kernel_size, stride, padding, dilation, out_size)
    compiled_image = conv._col2im(*arguments)
    with _jit.disabled():
        numpy_image = conv._col2im(*arguments)
    np.testing.assert_array_equal(compiled_image, numpy_image)
