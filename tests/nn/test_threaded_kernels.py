"""CNN and recurrent-model kernels cut over ember's threads (convolution, im2col/col2im, pooling,
BatchNorm, ReLU, cross-entropy, dropout) compute exactly what one thread computes: values and
gradients, float32 and float64, odd batch sizes, with and without the compiled kernels."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import _jit, _threads
from ember.nn._kernels import conv

DTYPES = [np.float32, np.float64]


@pytest.fixture(params=["compiled", "numpy"])
def kernels(request):
    """Each case with the compiled kernels (where numba is installed) and with NumPy's."""
    if request.param == "compiled":
        pytest.importorskip("numba")
        yield
    else:
        with _jit.disabled():
            yield


@pytest.fixture
def split_count(split_work, monkeypatch):
    """Counts the calls of _threads.run given more than one range (so a case proves it split)."""
    calls = []
    run = _threads.run

    def counting_run(function, ranges):
        if len(ranges) > 1:
            calls.append(len(ranges))
        run(function, ranges)

    monkeypatch.setattr(_threads, "run", counting_run)
    return calls


def _results(compute, inputs, seed=3):
    """compute(*leaves)'s output and the leaves' gradients under a fixed random cotangent."""
    leaves = [ember.tensor(array, requires_grad=True) for array in inputs]
    output = compute(*leaves)
    cotangent = np.random.default_rng(seed).standard_normal(output.shape)
    output.backward(ember.tensor(cotangent.astype(inputs[0].dtype)))
    return [output.detach().numpy()] + [leaf.grad.numpy() for leaf in leaves]


def _assert_same_on_one_thread(split_count, compute, inputs, splits=True):
    """The split computation (3 threads, every pass cut) equals one thread's bit for bit, and
    did split (where ``splits``)."""
    ember.manual_seed(11)
    split = _results(compute, inputs)
    assert bool(split_count) or not splits, "nothing was cut into ranges"
    ember.set_num_threads(1)
    ember.manual_seed(11)
    whole = _results(compute, inputs)
    for split_array, whole_array in zip(split, whole):
        assert split_array.dtype == whole_array.dtype
        np.testing.assert_array_equal(split_array, whole_array)


def _arrays(dtype, *shapes, seed=0):
    random = np.random.default_rng(seed)
    return [random.standard_normal(shape).astype(dtype) for shape in shapes]


CONVOLUTIONS = [
    # (function, input shape, weight shape, keywords)
    ("conv1d", (5, 3, 11), (4, 3, 3), {"padding": 1}),
    ("conv1d", (1, 1, 9), (2, 1, 2), {"stride": 2, "dilation": 2}),
    ("conv2d", (5, 3, 9, 8), (4, 3, 3, 2), {"padding": (1, 2), "stride": (2, 1)}),
    ("conv2d", (4, 4, 7, 7), (6, 2, 3, 3), {"groups": 2, "dilation": 2, "padding": 2}),
    ("conv2d", (1, 1, 6, 5), (3, 1, 3, 3), {}),
    ("conv2d", (7, 2, 6, 6), (3, 2, 2, 2), {"padding": "same"}),
    ("conv3d", (4, 2, 5, 4, 5), (3, 2, 2, 3, 2), {"padding": 1, "stride": (1, 2, 1)}),
    ("conv_transpose2d", (5, 4, 5, 6), (4, 3, 3, 3), {"stride": 2, "padding": 1,
                                                      "output_padding": 1}),
    ("conv_transpose1d", (5, 4, 7), (4, 2, 3), {"groups": 2, "dilation": 2}),
    # depthwise (one input channel per group): the compiled direct kernels at unit stride
    ("conv2d", (5, 4, 7, 6), (8, 1, 3, 3), {"groups": 4, "padding": 1}),
    ("conv_transpose2d", (5, 4, 6, 5), (4, 1, 3, 2), {"groups": 4, "padding": (1, 0)}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gemm_path", ["per_item", "channel_major"])
@pytest.mark.parametrize("name,input_shape,weight_shape,keywords", CONVOLUTIONS)
def test_convolution_on_threads_matches_one_thread(split_count, kernels, monkeypatch, dtype,
                                                   gemm_path, name, input_shape, weight_shape,
                                                   keywords):
    if gemm_path == "channel_major":
        # the large-problem GEMMs over channel-major columns, one batch item per chunk
        monkeypatch.setattr(conv, "_THREADED_GEMM_SIZE", 0)
        monkeypatch.setattr(conv, "_BATCHED_WEIGHT_GRAD_LIMIT", 0)
        monkeypatch.setattr(conv, "_LARGE_CHUNK_BYTES", 1)
    out_channels = weight_shape[1] if name.startswith("conv_transpose") else weight_shape[0]
    out_channels *= keywords.get("groups", 1) if name.startswith("conv_transpose") else 1
    inputs = _arrays(dtype, input_shape, weight_shape, (out_channels,))
    function = getattr(F, name)
    # one item in one chunk: nothing to cut on the channel-major path
    splits = input_shape[0] > 1 or gemm_path == "per_item"
    _assert_same_on_one_thread(
        split_count, lambda x, w, b: function(x, w, b, **keywords), inputs, splits)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fold_and_unfold_on_threads_match_one_thread(split_count, kernels, dtype):
    (image,) = _arrays(dtype, (5, 3, 7, 6))
    options = {"kernel_size": (3, 2), "dilation": (1, 2), "padding": 1, "stride": (2, 1)}
    _assert_same_on_one_thread(
        split_count, lambda x: F.fold(F.unfold(x, **options), (7, 6), **options), [image])


POOLINGS = [
    ("max_pool2d", (5, 3, 9, 8), {"kernel_size": 2}),
    ("max_pool2d", (4, 1, 9, 7), {"kernel_size": 3, "stride": 2, "padding": 1,
                                  "ceil_mode": True}),
    ("max_pool2d", (1, 5, 8, 8), {"kernel_size": (2, 1), "stride": (2, 2)}),
    ("max_pool2d", (3, 2, 9, 9), {"kernel_size": 3, "stride": 2, "dilation": 2}),
    ("max_pool1d", (5, 3, 11), {"kernel_size": 3, "stride": 2, "ceil_mode": True}),
    ("max_pool3d", (4, 2, 5, 6, 5), {"kernel_size": 2, "padding": 1}),
    ("avg_pool2d", (5, 3, 9, 8), {"kernel_size": 3, "stride": 2, "padding": 1}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("name,input_shape,keywords", POOLINGS)
def test_pooling_on_threads_matches_one_thread(split_count, kernels, dtype, ties, name,
                                               input_shape, keywords):
    (image,) = _arrays(dtype, input_shape)
    if ties:  # after ReLU many window elements tie: the first maximum takes the gradient
        image = np.maximum(np.round(image), 0)
    function = getattr(F, name)
    _assert_same_on_one_thread(split_count, lambda x: function(x, **keywords), [image])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 3, 7, 6), (1, 4, 5, 3), (7, 1, 9), (4, 3, 2, 3, 2),
                                   (9, 37), (130, 300)])
def test_batch_norm_on_threads_matches_one_thread(split_count, kernels, dtype, training, shape):
    channels = shape[1]
    image, weight, bias, mean, variance = _arrays(dtype, shape, (channels,), (channels,),
                                                  (channels,), (channels,))
    variance = np.abs(variance) + 0.5
    running = []

    def normalize(x, w, b):
        running_mean, running_var = ember.tensor(mean), ember.tensor(variance)
        running.append((running_mean, running_var))
        return F.batch_norm(x, running_mean, running_var, w, b, training=training,
                            momentum=0.3, eps=1e-3)

    # the compiled passes are cut; NumPy's are whole-array reductions and stay on the caller
    _assert_same_on_one_thread(split_count, normalize, [image, weight, bias], _jit.available())
    (split_mean, split_var), (whole_mean, whole_var) = running
    np.testing.assert_array_equal(split_mean.numpy(), whole_mean.numpy())
    np.testing.assert_array_equal(split_var.numpy(), whole_var.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3, 7), (11,), (3, 1)])
def test_relu_on_threads_matches_one_thread(split_count, dtype, shape):
    (values,) = _arrays(dtype, shape)
    values[..., 0] = 0.0  # the gradient at 0 is 0
    _assert_same_on_one_thread(split_count, lambda x: F.relu(x) * 1.5, [values])



@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.2, "ignore_index": 2},
                                     {"weight": True, "reduction": "sum"}, {"probabilities": True},
                                     {"spatial": True, "reduction": "none"}])
def test_cross_entropy_on_threads_matches_one_thread(split_count, monkeypatch, dtype, options):
    from ember.nn._kernels import loss
    monkeypatch.setattr(loss, "_SLICE_ELEMENTS", 1)  # one row per slice: every run is cut
    monkeypatch.setattr(loss, "_COMPILED_ELEMENTS", 0)  # the sliced path, not the row kernels
    monkeypatch.setattr(loss, "_wide_rows", lambda input: False)  # (nor the vectorised ones)
    options = dict(options)
    shape = (7, 5, 3) if options.pop("spatial", False) else (7, 5)
    random = np.random.default_rng(4)
    (logits,) = _arrays(dtype, shape)
    logits[1, 3] = 40.0  # a large logit: the shift by the row maximum matters
    if options.pop("probabilities", False):
        target = ember.tensor(random.dirichlet(np.ones(5), size=7).astype(dtype))
    else:
        target = ember.tensor(random.integers(0, 5, size=(shape[0],) + shape[2:]))
    if options.pop("weight", False):
        options["weight"] = ember.tensor(random.uniform(0.5, 2, size=5).astype(dtype))
    _assert_same_on_one_thread(split_count, lambda x: F.cross_entropy(x, target, **options),
                               [logits])
