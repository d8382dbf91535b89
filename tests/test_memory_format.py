"""Memory formats (torch.memory_format) and the layout/pin_memory factory keywords, against
PyTorch: strides, is_contiguous, errors, and values and gradients unchanged by a layout."""
import numpy as np
import pytest

import ember
from ember import nn


def _same_strides(ember_tensor, torch_tensor):
    assert tuple(ember_tensor.shape) == tuple(torch_tensor.shape)
    assert ember_tensor.stride() == torch_tensor.stride()


def _error(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the type and text are what is compared
        return type(error), str(error)
    return None


@pytest.mark.parametrize("name", ["contiguous_format", "channels_last", "channels_last_3d",
                                  "preserve_format"])
def test_formats_print_pickle_and_compare_like_torch(name):
    import pickle
    value = getattr(ember, name)
    assert isinstance(value, ember.memory_format)
    assert repr(value) == f"ember.{name}"
    assert pickle.loads(pickle.dumps(value)) is value


def test_contiguous_and_is_contiguous_follow_torch(torch):
    values = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    pairs = [(ember.tensor(values), torch.tensor(values)),
             (ember.tensor(values).permute(0, 3, 1, 2), torch.tensor(values).permute(0, 3, 1, 2)),
             (ember.tensor(values)[:, :, ::2], torch.tensor(values)[:, :, ::2]),
             (ember.ones(1, 3, 1, 1), torch.ones(1, 3, 1, 1))]
    for mine, theirs in pairs:
        for name in ["contiguous_format", "channels_last"]:
            ours, reference = getattr(ember, name), getattr(torch, name)
            assert mine.is_contiguous(memory_format=ours) == \
                theirs.is_contiguous(memory_format=reference), name
            converted = mine.contiguous(memory_format=ours)
            _same_strides(converted, theirs.contiguous(memory_format=reference))
            np.testing.assert_array_equal(converted.numpy(), theirs.numpy())
            _same_strides(mine.clone(), theirs.clone())
            _same_strides(mine.clone(memory_format=ours), theirs.clone(memory_format=reference))
            _same_strides(ember.zeros_like(mine), torch.zeros_like(theirs))
            _same_strides(ember.empty_like(mine, memory_format=ours),
                          torch.empty_like(theirs, memory_format=reference))
            _same_strides(mine.to(memory_format=ours), theirs.to(memory_format=reference))
        assert mine.contiguous(memory_format=ember.channels_last).is_contiguous() == \
            theirs.contiguous(memory_format=torch.channels_last).is_contiguous()
    plain = ember.ones(2, 3)
    assert plain.is_contiguous(memory_format=ember.preserve_format)
    assert not plain.t().is_contiguous(memory_format=ember.preserve_format)
    assert plain.contiguous(memory_format=ember.preserve_format) is plain
    five = ember.zeros(2, 3, 4, 5, 6).contiguous(memory_format=ember.channels_last_3d)
    _same_strides(five, torch.zeros(2, 3, 4, 5, 6).contiguous(
        memory_format=torch.channels_last_3d))
    _same_strides(ember.empty(2, 3, 4, 5, memory_format=ember.channels_last),
                  torch.empty(2, 3, 4, 5, memory_format=torch.channels_last))


def test_like_factories_of_tensors_that_are_not_dense_follow_torch(torch):
    """empty_like of an expanded or sliced tensor: dense strides in the input's order, dims of
    stride 0 kept in place (PyTorch's infer_dense_strides)."""
    def views(library):
        return [library.zeros(1, 4).expand(3, 4),
                library.zeros(4, 1, 3).expand(4, 5, 3).permute(2, 1, 0),
                library.zeros(2, 1, 3).expand(2, 4, 3).transpose(0, 2),
                library.zeros(4, 6).t()[:, ::2],
                library.zeros(2, 3, 4, 5).permute(0, 2, 3, 1)[:, :, ::2]]

    for mine, theirs in zip(views(ember), views(torch)):
        _same_strides(ember.empty_like(mine), torch.empty_like(theirs))
        _same_strides(ember.rand_like(mine), torch.rand_like(theirs))


def test_memory_format_errors_match_torch(torch):
    cases = [
        (lambda m: m.ones(2, 3).contiguous(memory_format=m.channels_last)),
        (lambda m: m.ones(2, 3, 4, 5, 6).contiguous(memory_format=m.channels_last)),
        (lambda m: m.ones(2, 3).contiguous(memory_format=m.channels_last_3d)),
        (lambda m: m.ones(2, 3, 4, 5).permute(0, 2, 3, 1).contiguous(
            memory_format=m.preserve_format)),
        (lambda m: m.empty_like(m.ones(2, 3), memory_format=m.channels_last)),
        (lambda m: m.ones(2, 3).to(memory_format=m.channels_last)),
        (lambda m: m.empty(2, memory_format=m.preserve_format)),
    ]
    for case in cases:
        mine, theirs = _error(lambda: case(ember)), _error(lambda: case(torch))
        assert theirs is not None and mine == theirs, (mine, theirs)
    for case in [lambda m: m.empty(2, memory_format="x"), lambda m: m.zeros(2, layout="strided"),
                 lambda m: m.ones(2).contiguous(memory_format="x")]:
        mine, theirs = _error(lambda: case(ember)), _error(lambda: case(torch))
        assert mine[0] is theirs[0] is TypeError
        assert mine[1].replace("ember.", "torch.") == theirs[1]


def test_layout_and_pin_memory_keywords_are_accepted(torch):
    calls = [lambda m: m.zeros(2, 3, layout=m.strided, pin_memory=False),
             lambda m: m.ones(2, layout=m.strided), lambda m: m.empty(2, pin_memory=False),
             lambda m: m.rand(2, 3, layout=m.strided), lambda m: m.randn(2, layout=m.strided),
             lambda m: m.full((2,), 1.5, layout=m.strided, pin_memory=False),
             lambda m: m.arange(3, layout=m.strided, pin_memory=False),
             lambda m: m.linspace(0, 1, 4, layout=m.strided),
             lambda m: m.logspace(0, 1, 4, layout=m.strided), lambda m: m.eye(3, layout=m.strided),
             lambda m: m.randint(0, 4, (3,), layout=m.strided),
             lambda m: m.randperm(3, layout=m.strided),
             lambda m: m.zeros_like(m.ones(2), layout=m.strided, device="cpu"),
             lambda m: m.rand_like(m.ones(2), layout=m.strided, device="cpu"),
             lambda m: m.randint_like(m.ones(2), 3, requires_grad=False)]
    for call in calls:
        mine, theirs = call(ember), call(torch)
        assert tuple(mine.shape) == tuple(theirs.shape) and mine.dtype.name == \
            str(theirs.dtype).split(".")[1]
    with pytest.raises(RuntimeError, match="layout"):
        ember.zeros(2, layout=ember.sparse_coo)


def test_values_and_gradients_do_not_depend_on_the_layout():
    ember.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, padding=1)
    x = ember.randn(2, 3, 6, 7)
    expected = conv(x)
    x_last = x.contiguous(memory_format=ember.channels_last).requires_grad_(True)
    x_plain = x.clone().requires_grad_(True)
    conv_last = nn.Conv2d(3, 4, 3, padding=1)
    conv_last.load_state_dict(conv.state_dict())
    conv_last.to(memory_format=ember.channels_last)
    assert conv_last.weight.is_contiguous(memory_format=ember.channels_last)
    assert isinstance(conv_last.weight, nn.Parameter)
    assert conv_last.bias.is_contiguous()
    out_last = conv_last(x_last)
    np.testing.assert_allclose(out_last.detach().numpy(), expected.detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    (out_last * out_last).sum().backward()
    out_plain = conv(x_plain)
    (out_plain * out_plain).sum().backward()
    np.testing.assert_allclose(x_last.grad.numpy(), x_plain.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(conv_last.weight.grad.numpy(), conv.weight.grad.numpy(),
                               rtol=1e-4, atol=1e-4)


def test_contiguous_channels_last_gradient_is_identity():
    x = ember.randn(2, 3, 4, 5, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(
        lambda t: t.contiguous(memory_format=ember.channels_last) * 2.0, (x,))
    y = x.contiguous(memory_format=ember.channels_last)
    y.backward(ember.ones_like(y))
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3, 4, 5)))


def test_reprs_use_torch_names_under_the_drop_in_import():
    import subprocess
    import sys
    program = ("import ember.compat as c; c.install(force=True); import torch; "
               "x = torch.ones(2, 3); "
               "print(x.dtype, x.shape, x.type(), x.layout, torch.channels_last, "
               "torch.FloatTensor); c.uninstall(); import ember; print(ember.float32)")
    output = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert output.stdout.split("\n")[:2] == [
        "torch.float32 torch.Size([2, 3]) torch.FloatTensor torch.strided torch.channels_last "
        "<class 'torch.FloatTensor'>", "ember.float32"], output.stderr


@pytest.mark.parametrize("make", [
    lambda fw: fw.ones(2, 3, 4), lambda fw: fw.ones(2, 3, 4).permute(2, 0, 1),
    lambda fw: fw.ones(2, 3, 4).transpose(0, 1), lambda fw: fw.ones(2, 1, 3),
    lambda fw: fw.ones(2, 3, 4, 5).to(memory_format=fw.channels_last),
    lambda fw: fw.ones(3, 1).t(), lambda fw: fw.ones(())])
def test_dim_order_like_pytorch(torch, make):
    assert make(ember).dim_order() == make(torch).dim_order()


_PERMUTATIONS = [(0, 2, 1, 3), (0, 2, 3, 1), (1, 2, 0, 3), (2, 0, 3, 1), (3, 2, 1, 0)]


@pytest.mark.parametrize("make", [
    *[lambda fw, p=p: fw.zeros(2, 3, 1, 4).permute(*p) for p in _PERMUTATIONS],
    *[lambda fw, p=p: fw.zeros(2, 3, 1, 4).permute(*p).contiguous().permute(*p)
      for p in _PERMUTATIONS],
    lambda fw: fw.zeros(3, 1).expand(3, 4), lambda fw: fw.zeros(1, 4).expand(3, 4),
    lambda fw: fw.zeros(1, 1, 1), lambda fw: fw.zeros(4, 6)[:, ::2],
    lambda fw: fw.zeros(2, 1, 4, 5).to(memory_format=fw.channels_last),
    lambda fw: fw.zeros(2, 3, 1, 1).to(memory_format=fw.channels_last),
    lambda fw: fw.zeros(3, 3)[:, :1].expand(3, 3)])
@pytest.mark.parametrize("check", [False, True, "both", "channels_last", "none", "bad"])
def test_dim_order_with_size_one_dims_and_its_ambiguity_check_like_pytorch(torch, make, check):
    """Size-1 dims and zero strides sort as PyTorch sorts them; ambiguity_check raises (True, or
    a list of formats of which not exactly one fits) with PyTorch's types and words."""
    def run(fw):
        argument = {"both": [fw.contiguous_format, fw.channels_last],
                    "channels_last": [fw.channels_last], "none": [],
                    "bad": "ILLEGAL"}.get(check, check)
        try:
            return make(fw).dim_order(ambiguity_check=argument)
        except (RuntimeError, TypeError) as error:
            return type(error).__name__, str(error)
    assert run(ember) == run(torch)


# ---- layouts of op results: PyTorch's strides for channels_last and row-major inputs -----------
def _input(library, shape, layout, seed, grad=True):
    """A float32 tensor of seeded values laid out as ``layout`` (None: row-major; "last":
    channels_last or channels_last_3d by rank)."""
    values = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    tensor = library.tensor(values)
    if layout == "last":
        tensor = tensor.contiguous(memory_format=library.channels_last if len(shape) == 4
                                   else library.channels_last_3d)
    return tensor.requires_grad_(grad)


def _compare_layouts(torch, call, specs, check_grads=True):
    """Run ``call(library, functional, *inputs)`` in ember and torch on the same inputs: values,
    the result's strides, and the strides of every input's .grad after one backward."""
    results = []
    for library, functional in ((ember, ember.nn.functional), (torch, torch.nn.functional)):
        inputs = [_input(library, shape, layout, seed) for seed, (shape, layout)
                  in enumerate(specs)]
        output = call(library, functional, *inputs)
        grads = []
        if output.requires_grad:
            weights = np.random.default_rng(9).standard_normal(tuple(output.shape))
            output.backward(library.tensor(weights.astype(np.float32)))
            grads = [tensor.grad for tensor in inputs]
        results.append((output, grads))
    (mine, my_grads), (theirs, their_grads) = results
    np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=1e-4,
                               atol=1e-4)
    assert mine.stride() == theirs.stride(), "result"
    if check_grads:
        for number, (my_grad, their_grad) in enumerate(zip(my_grads, their_grads)):
            assert (my_grad is None) == (their_grad is None), number
            if their_grad is not None:
                assert _strides_that_matter(my_grad) == _strides_that_matter(their_grad), \
                    f"grad of input {number}"
                np.testing.assert_allclose(my_grad.numpy(), their_grad.numpy(), rtol=1e-3,
                                           atol=1e-3)


IMAGE = (2, 3, 6, 7)
VOLUME = (2, 3, 4, 5, 3)
# name, call(library, functional, *inputs), shapes of the inputs after the first
SPATIAL_OPS = [
    ("conv2d", lambda m, F, x, w: F.conv2d(x, w, padding=1), IMAGE, [(4, 3, 3, 3)]),
    ("conv2d_bias_stride_dilation", lambda m, F, x, w, b: F.conv2d(x, w, b, stride=2,
                                                                    dilation=2),
     (2, 3, 9, 9), [(4, 3, 3, 3), (4,)]),
    ("conv2d_groups", lambda m, F, x, w: F.conv2d(x, w, groups=3), (2, 6, 6, 6),
     [(9, 2, 3, 3)]),
    ("conv2d_1x1", lambda m, F, x, w: F.conv2d(x, w), IMAGE, [(5, 3, 1, 1)]),
    ("conv_transpose2d", lambda m, F, x, w: F.conv_transpose2d(x, w, stride=2, padding=1),
     IMAGE, [(3, 4, 3, 3)]),
    ("conv3d", lambda m, F, x, w: F.conv3d(x, w, padding=1), VOLUME, [(4, 3, 3, 3, 3)]),
    ("batch_norm_train", lambda m, F, x, w, b: F.batch_norm(x, None, None, w, b, training=True),
     IMAGE, [(3,), (3,)]),
    ("batch_norm_eval", lambda m, F, x, w, b: F.batch_norm(x, m.zeros(3), m.ones(3), w, b),
     IMAGE, [(3,), (3,)]),
    ("batch_norm_3d", lambda m, F, x: F.batch_norm(x, None, None, training=True), VOLUME, []),
    ("group_norm", lambda m, F, x, w, b: F.group_norm(x, 2, w, b), (2, 4, 5, 3),
     [(4,), (4,)]),
    ("instance_norm", lambda m, F, x: F.instance_norm(x), IMAGE, []),
    ("layer_norm", lambda m, F, x: F.layer_norm(x, (6, 7)), IMAGE, []),
    ("max_pool2d", lambda m, F, x: F.max_pool2d(x, 3, stride=2, padding=1), IMAGE, []),
    ("max_pool2d_indices", lambda m, F, x: F.max_pool2d(x, 2, return_indices=True)[1]
     .to(m.float32), IMAGE, []),
    ("max_pool3d", lambda m, F, x: F.max_pool3d(x, 2), VOLUME, []),
    ("avg_pool2d", lambda m, F, x: F.avg_pool2d(x, 3, stride=2, padding=1), IMAGE, []),
    ("avg_pool3d", lambda m, F, x: F.avg_pool3d(x, 2), VOLUME, []),
    ("adaptive_avg_pool2d", lambda m, F, x: F.adaptive_avg_pool2d(x, (3, 4)), IMAGE, []),
    ("adaptive_avg_pool2d_to_1", lambda m, F, x: F.adaptive_avg_pool2d(x, 1), IMAGE, []),
    ("adaptive_avg_pool3d_to_1", lambda m, F, x: F.adaptive_avg_pool3d(x, 1), VOLUME, []),
    ("adaptive_max_pool2d", lambda m, F, x: F.adaptive_max_pool2d(x, 3), IMAGE, []),
    ("adaptive_max_pool2d_indices", lambda m, F, x: F.adaptive_max_pool2d(
        x, 3, return_indices=True)[1].to(m.float32), IMAGE, []),
    ("interpolate_nearest", lambda m, F, x: F.interpolate(x, scale_factor=2), IMAGE, []),
    ("interpolate_nearest_exact", lambda m, F, x: F.interpolate(x, size=(9, 5),
                                                                mode="nearest-exact"),
     IMAGE, []),
    ("interpolate_bilinear", lambda m, F, x: F.interpolate(x, scale_factor=2, mode="bilinear"),
     IMAGE, []),
    ("interpolate_bilinear_corners", lambda m, F, x: F.interpolate(
        x, size=(8, 9), mode="bilinear", align_corners=True), IMAGE, []),
    ("interpolate_bicubic", lambda m, F, x: F.interpolate(x, scale_factor=2, mode="bicubic"),
     IMAGE, []),
    ("interpolate_area", lambda m, F, x: F.interpolate(x, size=(3, 4), mode="area"), IMAGE, []),
    ("interpolate_trilinear", lambda m, F, x: F.interpolate(x, scale_factor=2,
                                                            mode="trilinear"), VOLUME, []),
    ("pad_constant", lambda m, F, x: F.pad(x, (1, 2, 0, 1)), IMAGE, []),
    ("pad_reflect", lambda m, F, x: F.pad(x, (1, 2, 0, 1), mode="reflect"), IMAGE, []),
    ("pad_replicate", lambda m, F, x: F.pad(x, (1, 2, 0, 1), mode="replicate"), IMAGE, []),
    ("pixel_shuffle", lambda m, F, x: F.pixel_shuffle(x, 2), (2, 8, 3, 4), []),
    ("pixel_unshuffle", lambda m, F, x: F.pixel_unshuffle(x, 2), (2, 2, 4, 6), []),
    ("flip", lambda m, F, x: x.flip(3), IMAGE, []),
    ("flip_two_dims", lambda m, F, x: m.flip(x, (1, 2)), IMAGE, []),
    ("dropout_eval", lambda m, F, x: F.dropout(x, 0.5, training=False), IMAGE, []),
    ("cat_channels", lambda m, F, x, y: m.cat([x, y], 1), IMAGE, [(2, 2, 6, 7)]),
    ("cat_batch", lambda m, F, x, y: m.cat([x, y], 0), IMAGE, [(1, 3, 6, 7)]),
    ("clone", lambda m, F, x: x.clone(), IMAGE, []),
    ("contiguous", lambda m, F, x: x.contiguous(), IMAGE, []),
    ("to_float64", lambda m, F, x: x.to(m.float64), IMAGE, []),
    ("relu", lambda m, F, x: F.relu(x), IMAGE, []),
    ("sigmoid", lambda m, F, x: m.sigmoid(x), IMAGE, []),
    ("silu", lambda m, F, x: F.silu(x), IMAGE, []),
    ("gelu", lambda m, F, x: F.gelu(x), IMAGE, []),
    ("gelu_tanh", lambda m, F, x: F.gelu(x, approximate="tanh"), IMAGE, []),
    ("tanh", lambda m, F, x: m.tanh(x), IMAGE, []),
    ("leaky_relu", lambda m, F, x: F.leaky_relu(x, 0.1), IMAGE, []),
    ("hardswish", lambda m, F, x: F.hardswish(x), IMAGE, []),
    ("hardsigmoid", lambda m, F, x: F.hardsigmoid(x), IMAGE, []),
    ("relu6", lambda m, F, x: F.relu6(x), IMAGE, []),
    ("elu", lambda m, F, x: F.elu(x), IMAGE, []),
    ("mish", lambda m, F, x: F.mish(x), IMAGE, []),
    ("prelu", lambda m, F, x, w: F.prelu(x, w), IMAGE, [(3,)]),
    ("clamp", lambda m, F, x: x.clamp(-0.5, 0.5), IMAGE, []),
    ("exp", lambda m, F, x: x.exp(), IMAGE, []),
    ("neg", lambda m, F, x: -x, IMAGE, []),
    ("abs", lambda m, F, x: x.abs(), IMAGE, []),
    ("mul_number", lambda m, F, x: x * 2.0, IMAGE, []),
    ("add_number_first", lambda m, F, x: 1.0 + x, IMAGE, []),
    ("mul_bias", lambda m, F, x, b: x * b, IMAGE, [(1, 3, 1, 1)]),
    ("add_bias_first", lambda m, F, x, b: b + x, IMAGE, [(3, 1, 1)]),
    ("mul_squeeze_excite", lambda m, F, x, s: x * m.sigmoid(s), IMAGE, [(2, 3, 1, 1)]),
    ("where", lambda m, F, x, y: m.where(x > 0, x, y), IMAGE, [IMAGE]),
    ("in_place_add", lambda m, F, x: x.clone().add_(1.0), IMAGE, []),
    ("sum_keepdim", lambda m, F, x: x.sum(1, keepdim=True), IMAGE, []),
    ("mean", lambda m, F, x: x.mean(0), IMAGE, []),
    ("var_keepdim", lambda m, F, x: x.var(1, keepdim=True), IMAGE, []),
    ("amax", lambda m, F, x: x.amax(1), IMAGE, []),
    ("max_values", lambda m, F, x: x.max(1).values, IMAGE, []),
    ("softmax", lambda m, F, x: F.softmax(x, 1), IMAGE, []),
    ("log_softmax", lambda m, F, x: F.log_softmax(x, 3), IMAGE, []),
    ("cumsum", lambda m, F, x: x.cumsum(1), IMAGE, []),
    ("logsumexp", lambda m, F, x: x.logsumexp(1), IMAGE, []),
    ("vector_norm", lambda m, F, x: x.norm(dim=1), IMAGE, []),
    ("sort_values", lambda m, F, x: x.sort(1).values, IMAGE, []),
    ("argsort", lambda m, F, x: x.argsort(2, descending=True).to(m.float32), IMAGE, []),
    ("cummax_values", lambda m, F, x: x.cummax(1).values, IMAGE, []),
    ("bce_with_logits_none", lambda m, F, x, t: F.binary_cross_entropy_with_logits(
        x, t, reduction="none"), IMAGE, [IMAGE]),
]


@pytest.mark.parametrize("layout", [None, "last"])
@pytest.mark.parametrize("name, call, shape, others", SPATIAL_OPS,
                         ids=[case[0] for case in SPATIAL_OPS])
def test_op_results_and_gradients_have_torch_strides(torch, layout, name, call, shape, others):
    """The first input row-major or channels_last, the others row-major: the result's strides
    and every input's .grad strides as PyTorch's, values unchanged."""
    _compare_layouts(torch, call, [(shape, layout)] + [(other, None) for other in others])


# (first, second) layouts of a binary op: the first non-row-major operand decides, broadcast
# dims tell nothing, a same-shape row-major operand wins over a later channels_last one.
BINARY_LAYOUTS = [
    ((IMAGE, "last"), (IMAGE, None)), ((IMAGE, None), (IMAGE, "last")),
    ((IMAGE, "last"), (IMAGE, "last")), ((IMAGE, "last"), ((3, 1, 1), None)),
    (((1, 3, 1, 1), None), (IMAGE, "last")), (((2, 3, 1, 1), None), (IMAGE, "last")),
    (((3, 6, 7), None), (IMAGE, "last")), (((7,), None), (IMAGE, "last")),
    (((), None), (IMAGE, "last")), (((1, 1, 1, 1), None), (IMAGE, "last")),
    (((2, 1, 6, 7), None), (IMAGE, "last")), (((1, 3, 6, 7), None), (IMAGE, "last")),
    (((2, 3, 6, 1), None), (IMAGE, "last")), (((2, 3, 1, 1), "last"), (IMAGE, None)),
    (((1, 3, 6, 7), "last"), (IMAGE, None)), ((VOLUME, None), (VOLUME, "last")),
    ((VOLUME, "last"), ((3, 1, 1, 1), None)),
]


@pytest.mark.parametrize("operation", ["add", "mul", "sub", "div", "maximum", "atan2"])
@pytest.mark.parametrize("specs", BINARY_LAYOUTS)
def test_binary_ops_follow_torch_tensor_iterator_layouts(torch, operation, specs):
    _compare_layouts(torch, lambda m, F, a, b: getattr(m, operation)(a, b), list(specs))


def test_binary_ops_without_grad_follow_torch_layouts(torch):
    """The no-grad fast path and the comparisons, which record nothing."""
    for specs in BINARY_LAYOUTS:
        mine = [_input(ember, shape, layout, seed, False)
                for seed, (shape, layout) in enumerate(specs)]
        theirs = [_input(torch, shape, layout, seed, False)
                  for seed, (shape, layout) in enumerate(specs)]
        for call in (lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a > b):
            _same_strides(call(*mine), call(*theirs))


@pytest.mark.parametrize("name, call, shape, others", [
    case for case in SPATIAL_OPS if case[0].startswith("conv")])
def test_convolution_with_channels_last_weight_follows_torch(torch, name, call, shape, others):
    """A channels_last weight makes the result channels_last too (PyTorch's oneDNN rule)."""
    _compare_layouts(torch, call, [(shape, None), (others[0], "last")] +
                     [(other, None) for other in others[1:]])


def test_depthwise_convolution_strides_follow_torch(torch):
    """The weight's .grad of a depthwise convolution is the one known difference: PyTorch's
    comes out channels_last, which the contract keeps for a weight with a dim of size 1."""
    _compare_layouts(torch, lambda m, F, x, w: F.conv2d(x, w, groups=4, padding=1),
                     [((2, 4, 6, 6), "last"), ((4, 1, 3, 3), None)], check_grads=False)


def test_seeded_random_fill_after_a_convolution_gives_torch_values(torch):
    """A mask drawn in memory order after a channels_last convolution (DropBlock, dropout)."""
    def run(library):
        library.manual_seed(0)
        x = library.randn(2, 3, 8, 8).to(memory_format=library.channels_last)
        y = library.nn.Conv2d(3, 4, 3)(x)
        library.manual_seed(0)
        mask = library.empty_like(y).bernoulli_(0.5)
        dropped = library.nn.functional.dropout(library.relu(y), 0.3, training=True)
        return y, mask, dropped

    (my_y, my_mask, my_dropped), (their_y, their_mask, their_dropped) = run(ember), run(torch)
    _same_strides(my_y, their_y)
    _same_strides(my_dropped, their_dropped)
    np.testing.assert_array_equal(my_mask.numpy(), their_mask.numpy())
    np.testing.assert_array_equal(my_dropped.detach().numpy() == 0,
                                  their_dropped.detach().numpy() == 0)


def test_channels_last_survives_a_network_without_torch():
    """conv -> batch_norm -> relu -> pool -> add keep channels_last, so view() refuses as
    PyTorch's does, and the input's and weight's .grad are channels_last as they are."""
    ember.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.MaxPool2d(2)).to(memory_format=ember.channels_last)
    x = ember.randn(2, 3, 8, 8).contiguous(memory_format=ember.channels_last)
    x.requires_grad_(True)
    hidden = model(x)
    output = hidden + nn.functional.interpolate(hidden, scale_factor=1.0)
    assert output.is_contiguous(memory_format=ember.channels_last)
    assert not output.is_contiguous()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        output.view(2, -1)
    output.sum().backward()
    assert x.grad.is_contiguous(memory_format=ember.channels_last)
    assert model[0].weight.grad.stride() == model[0].weight.stride()
    plain = ember.randn(2, 3, 8, 8)
    assert model[0](plain).is_contiguous(memory_format=ember.channels_last)  # from the weight
    assert nn.functional.relu(plain).is_contiguous()


def _strides_that_matter(tensor):
    """A gradient's strides except those of dims of size 1, which address nothing (PyTorch's
    kernels leave them as they happen to be: a 1x1 convolution's weight grad is (3, 1, 3, 3)
    for a channels_last input where the leaf is (3, 1, 1, 1), the same memory)."""
    return tuple(stride if size != 1 else None
                 for size, stride in zip(tensor.shape, tensor.stride()))


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (2, 3, 1, 5), (1, 3, 4, 4)])
@pytest.mark.parametrize("layout", ["channels_last", "permuted"])
def test_pointwise_results_of_dense_operands_keep_torchs_strides(torch, shape, layout):
    """Pointwise ops whose operands share one dense layout return it (NumPy's own order, kept
    without recomputing TensorIterator's strides when no dim has size 1), as PyTorch's do."""
    array = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    strides = []
    for library in (ember, torch):
        x = library.tensor(array)
        x = (x.contiguous(memory_format=library.channels_last) if layout == "channels_last"
             else x.permute(2, 0, 3, 1).contiguous().permute(1, 3, 0, 2))
        x.requires_grad_(True)
        y = x * 2.0
        results = [y, x + x, library.relu(x), library.sigmoid(y), y.relu_(), x > 0]
        strides.append([result.stride() for result in results])
    assert strides[0] == strides[1]
