"""Vision functions and layers against PyTorch: pixel (un)shuffle and channel shuffle,
interpolate and the Upsample layers, grid_sample, affine_grid, deprecated upsample aliases."""
import contextlib

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradgradcheck
from tests.conftest import (
    assert_close, assert_layer_like_torch, assert_raises_like_torch, compare_with_torch,
    float_array, gradcheck_arrays)
from tests.nn.higher_order import assert_derivatives_match_torch, random_arrays


@pytest.mark.parametrize("shape, factor", [((2, 8, 3, 4), 2), ((9, 2, 2), 3), ((1, 2, 4, 3, 3), 1)])
def test_pixel_shuffle_and_unshuffle_match_torch(torch, shape, factor):
    array = float_array(shape)
    compare_with_torch(torch, nn.PixelShuffle(factor), torch.nn.PixelShuffle(factor), [array])
    shuffled = torch.nn.functional.pixel_shuffle(torch.tensor(array), factor).numpy()
    compare_with_torch(torch, nn.PixelUnshuffle(factor), torch.nn.PixelUnshuffle(factor),
                       [shuffled])


def test_pixel_shuffle_errors_match_torch(torch):
    for ours, theirs in [
            (lambda: F.pixel_shuffle(ember.zeros(1, 5, 2, 2), 2),
             lambda: torch.nn.functional.pixel_shuffle(torch.zeros(1, 5, 2, 2), 2)),
            (lambda: F.pixel_shuffle(ember.zeros(5, 2), 2),
             lambda: torch.nn.functional.pixel_shuffle(torch.zeros(5, 2), 2)),
            (lambda: F.pixel_unshuffle(ember.zeros(1, 1, 3, 4), 2),
             lambda: torch.nn.functional.pixel_unshuffle(torch.zeros(1, 1, 3, 4), 2))]:
        assert_raises_like_torch(theirs, ours, RuntimeError)


INTERPOLATE_CASES = [
    ((2, 3, 5), {"size": 8, "mode": "nearest"}),
    ((2, 3, 5), {"scale_factor": 2.5, "mode": "nearest"}),
    ((2, 3, 5, 4), {"size": (7, 3), "mode": "nearest"}),
    ((2, 3, 5, 4), {"scale_factor": (1.7, 2.2), "mode": "nearest-exact"}),
    ((2, 3, 5), {"size": 9, "mode": "linear"}),
    ((2, 3, 5), {"size": 9, "mode": "linear", "align_corners": True}),
    ((2, 3, 5, 4), {"size": (9, 7), "mode": "bilinear"}),
    ((2, 3, 5, 4), {"scale_factor": 1.5, "mode": "bilinear"}),
    ((2, 3, 5, 4), {"scale_factor": (0.6, 2.3), "mode": "bilinear", "align_corners": True}),
    ((2, 3, 5, 4), {"size": (3, 2), "mode": "bilinear"}),
    ((2, 3, 5, 4), {"size": (1, 3), "mode": "bilinear", "align_corners": True}),
    ((2, 3, 5, 4), {"scale_factor": 1.7, "mode": "bilinear", "recompute_scale_factor": True}),
    ((1, 2, 3, 4, 2), {"scale_factor": 2, "mode": "trilinear"}),
    ((2, 3, 8, 6), {"size": (3, 4), "mode": "area"}),
    # bicubic: four clamped taps with PyTorch's A = -0.75, up and down, both corner rules
    ((2, 3, 5, 4), {"scale_factor": 2, "mode": "bicubic"}),
    ((2, 3, 7, 9), {"size": (4, 13), "mode": "bicubic", "align_corners": True}),
    ((2, 3, 7, 9), {"scale_factor": (0.5, 1.7), "mode": "bicubic"}),
    ((1, 2, 3, 2), {"size": (1, 5), "mode": "bicubic", "align_corners": True}),
    ((2, 3, 5, 4), {"scale_factor": 2.6, "mode": "bicubic", "recompute_scale_factor": True}),
    # antialias: PIL's filters widened by the downscale factor, per axis, the last one first
    ((2, 3, 17, 13), {"size": (5, 4), "mode": "bilinear", "antialias": True}),
    ((2, 3, 17, 13), {"size": (40, 7), "mode": "bicubic", "antialias": True}),
    ((2, 3, 17, 13), {"scale_factor": 0.37, "mode": "bilinear", "antialias": True}),
    ((2, 3, 17, 13), {"scale_factor": (0.5, 2.3), "mode": "bicubic", "antialias": True}),
    ((2, 3, 17, 13), {"size": (6, 6), "mode": "bicubic", "align_corners": True,
                      "antialias": True}),
    ((2, 3, 17, 13), {"size": (17, 1), "mode": "bilinear", "antialias": True}),
    ((1, 2, 9, 9), {"scale_factor": 0.3, "mode": "bicubic", "recompute_scale_factor": True,
                    "antialias": True}),
]


@pytest.mark.parametrize("shape, options", INTERPOLATE_CASES, ids=str)
def test_interpolate_matches_torch(torch, shape, options):
    array = float_array(shape)
    # bicubic's negative lobes cancel, and its float32 taps are summed in another order
    atol = 1e-5 if options["mode"] == "bicubic" else 1e-6
    compare_with_torch(torch, lambda x: F.interpolate(x, **options),
             lambda x: torch.nn.functional.interpolate(x, **options), [array], atol=atol)
    gradcheck_arrays(lambda x: F.interpolate(x, **options), [array])


@pytest.mark.parametrize("options", [
    {"scale_factor": 2, "mode": "bilinear", "align_corners": True},
    {"size": (5, 9), "mode": "bicubic"}, {"scale_factor": (2, 1.5, 3), "mode": "trilinear"}],
    ids=str)
def test_interpolate_of_channels_last_matches_torch_in_values_and_layout(torch, options):
    """The interpolation matrices run over a channels_last input's memory as it lies: the
    output keeps PyTorch's channels_last strides, and values and gradients are PyTorch's."""
    shape = (2, 5, 4, 6, 3) if options["mode"] == "trilinear" else (2, 5, 4, 6)
    array = float_array(shape)
    results = []
    for library in (ember, torch):
        fmt = library.channels_last_3d if len(shape) == 5 else library.channels_last
        leaf = library.tensor(array).contiguous(memory_format=fmt).requires_grad_(True)
        out = library.nn.functional.interpolate(leaf, **options)
        out.backward(library.tensor(float_array(tuple(out.shape), seed=4)))
        results.append((out, leaf.grad))
    (ours, our_grad), (theirs, their_grad) = results
    assert ours.stride() == theirs.stride()
    assert our_grad.stride() == their_grad.stride()
    atol = 1e-5 if options["mode"] == "bicubic" else 2e-6
    assert_close(ours, theirs, atol=atol)
    assert_close(our_grad, their_grad, atol=atol)


def test_interpolation_matrices_are_kept_read_only():
    """A resampling reuses its interpolation matrix (built once per size and options); the kept
    matrix cannot be written through."""
    from ember.nn._kernels.sampling import linear_matrix
    first = linear_matrix(4, 8, 2.0, False, np.dtype(np.float32))
    assert linear_matrix(4, 8, 2.0, False, np.dtype(np.float32)) is first
    assert not first.flags.writeable
    np.testing.assert_allclose(first.sum(axis=1), 1, rtol=1e-6)


@pytest.mark.parametrize("expression", [
    "Upsample(scale_factor=2)", "Upsample(size=(7, 9), mode='bilinear')",
    "Upsample(scale_factor=(2, 3), mode='bilinear', align_corners=True)",
    "UpsamplingNearest2d(scale_factor=2)", "UpsamplingBilinear2d(size=(6, 5))",
    "Upsample(scale_factor=1.5, mode='bicubic')"])
def test_upsample_modules_match_torch(torch, expression):
    ours = eval("nn." + expression)
    theirs = eval("torch.nn." + expression)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    compare_with_torch(torch, ours, theirs, [float_array((2, 3, 4, 3))])


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.nn.functional.interpolate(x, size=4, scale_factor=2),
    lambda lib, x: lib.nn.functional.interpolate(x),
    lambda lib, x: lib.nn.functional.interpolate(x, size=(4, 5, 6)),
    lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=(2, 3, 4)),
    lambda lib, x: lib.nn.functional.interpolate(x, size=4, align_corners=True),
    lambda lib, x: lib.nn.functional.interpolate(x, size=4, recompute_scale_factor=True),
    lambda lib, x: lib.nn.functional.interpolate(x, size=4, mode="linear"),
    lambda lib, x: lib.nn.functional.interpolate(x, size=4, mode="cubic"),
    lambda lib, x: lib.nn.functional.interpolate(x[0], size=4, mode="bicubic"),
    lambda lib, x: lib.nn.functional.interpolate(x[None], size=4, mode="bicubic"),
    lambda lib, x: lib.nn.functional.interpolate(x, size=2, mode="nearest", antialias=True),
    lambda lib, x: lib.nn.functional.interpolate(x[0], size=2, mode="linear", antialias=True),
    lambda lib, x: lib.nn.functional.interpolate(x.to(lib.bfloat16), size=2, mode="bilinear",
                                                 antialias=True),
])
def test_interpolate_errors_match_torch(torch, call):
    array = np.zeros((1, 2, 4, 5), dtype=np.float32)
    assert_raises_like_torch(lambda: call(torch, torch.tensor(array)),
                             lambda: call(ember, ember.tensor(array)),
                             (ValueError, NotImplementedError), same_type=True)


@pytest.mark.parametrize("shape, mode", [((1, 1, 4), "nearest"), ((1, 1, 4), "linear"),
                                         ((1, 1, 4, 4), "nearest"), ((1, 1, 4, 4), "bilinear"),
                                         ((1, 1, 4, 4, 4), "nearest")])
def test_interpolate_to_nothing_says_what_torch_says(torch, shape, mode):
    """The sizes labelled (D, H, W) as PyTorch prints them."""
    messages = []
    for library in (ember, torch):
        with pytest.raises(RuntimeError) as error:
            library.nn.functional.interpolate(library.ones(*shape), scale_factor=0.1, mode=mode)
        messages.append(str(error.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_matches_torch(torch, mode, padding_mode, align_corners):
    image = float_array((2, 3, 5, 6))
    grid = float_array((2, 4, 7, 2), seed=1, low=-1.3, high=1.3)

    def ours(x, g):
        return F.grid_sample(x, g, mode, padding_mode, align_corners)

    def theirs(x, g):
        return torch.nn.functional.grid_sample(x, g, mode, padding_mode, align_corners)

    compare_with_torch(torch, ours, theirs, [image, grid], rtol=1e-5, atol=1e-6)
    if mode != "nearest":
        gradcheck_arrays(ours, [image, grid])


@pytest.mark.parametrize("mode, padding_mode, shape", [
    ("bilinear", "zeros", (2, 3, 5, 6)), ("nearest", "border", (2, 3, 5, 6)),
    ("bicubic", "reflection", (2, 3, 5, 6)), ("bilinear", "reflection", (2, 3, 4, 5, 6))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grid_sample_compiled_and_numpy_paths_match_torch(torch, mode, padding_mode, shape,
                                                          dtype):
    """The compiled tap kernels (the taps summed per output; the input's gradient added tap
    after tap) and the NumPy gathers and scatters: torch's values and both gradients."""
    from ember import _jit
    rng = np.random.default_rng(8)
    image = rng.standard_normal(shape).astype(dtype)
    spatial = len(shape) - 2
    grid = rng.uniform(-1.2, 1.2, (2, 4, 7, 3)[:spatial + 1] + (spatial,)).astype(dtype)
    weights = rng.standard_normal((2, shape[1]) + grid.shape[1:-1]).astype(dtype)
    leaves = [torch.tensor(image, requires_grad=True), torch.tensor(grid, requires_grad=True)]
    out = torch.nn.functional.grid_sample(*leaves, mode, padding_mode, False)
    (out * torch.tensor(weights)).sum().backward()
    expected = [out.detach().numpy()] + [leaf.grad.numpy() for leaf in leaves]
    tolerance = 2e-5 if dtype == np.float32 else 1e-12
    for disabled in (False, True):
        ours = [ember.tensor(image, requires_grad=True), ember.tensor(grid, requires_grad=True)]
        with _jit.disabled() if disabled else contextlib.nullcontext():
            result = F.grid_sample(*ours, mode, padding_mode, False)
            (result * ember.tensor(weights)).sum().backward()
        assert result.dtype == ours[0].dtype
        for got, wanted in zip([result.detach().numpy()] + [leaf.grad.numpy() for leaf in ours],
                               expected):
            np.testing.assert_allclose(got, wanted, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_volumetric_grid_sample_matches_torch(torch, mode, padding_mode, align_corners):
    image = float_array((2, 3, 4, 5, 6))
    grid = float_array((2, 3, 2, 4, 3), seed=1, low=-1.3, high=1.3)

    def ours(x, g):
        return F.grid_sample(x, g, mode, padding_mode, align_corners)

    def theirs(x, g):
        return torch.nn.functional.grid_sample(x, g, mode, padding_mode, align_corners)

    compare_with_torch(torch, ours, theirs, [image, grid], rtol=1e-5, atol=1e-6)
    if mode == "bilinear":
        gradcheck_arrays(ours, [image[:1, :2, :3, :3, :4], grid[:1, :2, :1, :2]])


@pytest.mark.parametrize("align_corners", [False, True])
def test_3d_affine_grid_matches_torch_and_feeds_grid_sample(torch, align_corners):
    theta = float_array((2, 3, 4), seed=2, low=-1.0, high=1.0)
    size = (2, 3, 3, 4, 5)
    compare_with_torch(torch, lambda t: F.affine_grid(t, size, align_corners),
                       lambda t: torch.nn.functional.affine_grid(t, size, align_corners), [theta])
    image = float_array((2, 3, 4, 4, 3), seed=3)

    def ours(t, x):
        return F.grid_sample(x, F.affine_grid(t, size, align_corners),
                             align_corners=align_corners)

    def theirs(t, x):
        grid = torch.nn.functional.affine_grid(t, size, align_corners)
        return torch.nn.functional.grid_sample(x, grid, align_corners=align_corners)

    compare_with_torch(torch, ours, theirs, [theta, image], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_torch_and_feeds_grid_sample(torch, align_corners):
    theta = float_array((2, 2, 3), seed=2, low=-1.0, high=1.0)
    compare_with_torch(torch, lambda t: F.affine_grid(t, (2, 3, 4, 5), align_corners),
             lambda t: torch.nn.functional.affine_grid(t, (2, 3, 4, 5), align_corners), [theta])
    image = float_array((2, 3, 6, 6), seed=3)

    def ours(t, x):
        return F.grid_sample(x, F.affine_grid(t, (2, 3, 4, 5), align_corners),
                             align_corners=align_corners)

    def theirs(t, x):
        grid = torch.nn.functional.affine_grid(t, (2, 3, 4, 5), align_corners)
        return torch.nn.functional.grid_sample(x, grid, align_corners=align_corners)

    compare_with_torch(torch, ours, theirs, [theta, image], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_base_coordinates_are_torchs_bit_for_bit(torch, align_corners):
    # Sample points that land on pixel centres must land there in both (grid_sample's grid
    # gradient jumps at whole pixels), so the identity grid must be identical, not merely close.
    size = (1, 1, 28, 100)
    ours = F.affine_grid(ember.eye(2, 3)[None], size, align_corners).numpy()
    theirs = torch.nn.functional.affine_grid(torch.eye(2, 3)[None], size, align_corners)
    np.testing.assert_array_equal(ours, theirs.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_grid_sample_gradient_on_pixel_centres_takes_torchs_cell(torch, dtype):
    """An identity affine grid puts points on pixel centres, where the bilinear gradient depends
    on which side of the centre the rounded coordinate falls: PyTorch's 2-D CPU kernel rounds
    (x + 1) * W / 2 - 1/2 once (a fused multiply-add), and the grid's gradient follows it."""
    rng = np.random.default_rng(0)
    image = rng.standard_normal((2, 3, 28, 40)).astype(dtype)
    weights = rng.standard_normal((2, 3, 28, 40)).astype(dtype)
    theta = np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]], dtype=dtype), (2, 1, 1))
    grads = []
    for framework in (ember, torch):
        matrix = framework.tensor(theta, requires_grad=True)
        grid = framework.nn.functional.affine_grid(matrix, (2, 3, 28, 40), align_corners=False)
        out = framework.nn.functional.grid_sample(framework.tensor(image), grid,
                                                  align_corners=False)
        (out * framework.tensor(weights)).sum().backward()
        grads.append(matrix.grad.numpy())
    tolerance = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(grads[0], grads[1], rtol=tolerance, atol=tolerance)


def test_grid_sample_errors_and_warning_match_torch(torch):
    for call in [lambda lib: lib.nn.functional.grid_sample(lib.zeros(1, 1, 2, 2),
                                                            lib.zeros(1, 2, 2, 2), mode="area"),
                 lambda lib: lib.nn.functional.grid_sample(lib.zeros(1, 1, 2, 2),
                                                            lib.zeros(1, 2, 2, 2),
                                                            padding_mode="wrap"),
                 lambda lib: lib.nn.functional.affine_grid(lib.zeros(1, 3, 3), (1, 1, 2, 2),
                                                           False)]:
        with pytest.raises(ValueError) as their_error:
            call(torch)
        with pytest.raises(ValueError) as our_error:
            call(ember)
        assert str(our_error.value) == str(their_error.value).replace("torch.Size", "ember.Size")
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(ember.zeros(1, 1, 2, 2), ember.zeros(1, 2, 2, 2))
    with pytest.warns(UserWarning, match="changed for unit-size grids"):
        F.affine_grid(ember.eye(3, 4)[None], (1, 1, 1, 2, 3), align_corners=True)


@pytest.mark.parametrize("input_shape, grid_shape, mode", [
    ((1, 1, 2, 2, 2), (1, 2, 2, 2, 3), "bicubic"), ((1, 1, 2, 2, 2), (1, 2, 2, 2), "bilinear"),
    ((1, 1, 2, 2), (1, 2, 2, 3), "bilinear"), ((1, 1, 2, 2, 2), (2, 2, 2, 2, 3), "bilinear"),
    ((1, 1, 2), (1, 2, 2), "bilinear"), ((1, 1, 2, 2, 2, 2), (1, 2, 2, 2, 2, 4), "nearest"),
    ((1, 1, 0, 2, 2), (1, 2, 2, 2, 3), "bilinear")])
def test_grid_sample_shape_errors_match_torch(torch, input_shape, grid_shape, mode):
    def call(lib):
        return lib.nn.functional.grid_sample(lib.zeros(input_shape), lib.zeros(grid_shape),
                                             mode=mode, align_corners=False)

    assert_raises_like_torch(lambda: call(torch), lambda: call(ember), RuntimeError)


@pytest.mark.parametrize("theta_shape, size", [
    ((1, 2, 3), (1, 1, 2, 2, 2)), ((1, 3, 4), (1, 1, 2, 2)), ((1, 3, 4), (1, 1, 2, 2, 2, 2)),
    ((1, 3, 4), (1, 1, 0, 2, 2)), ((1, 2, 3), (1, 1, 2))])
def test_affine_grid_errors_match_torch(torch, theta_shape, size):
    def call(lib):
        return lib.nn.functional.affine_grid(lib.zeros(theta_shape), size, align_corners=False)

    assert_raises_like_torch(lambda: call(torch), lambda: call(ember), (ValueError,
                                                                       NotImplementedError),
                             same_type=True)


def test_affine_grid_saves_nothing_so_its_grid_is_backpropagated_twice(torch):
    # PyTorch's AffineGridGenerator keeps no tensors: a grid made once may feed several
    # backward passes (grads w.r.t. theta each time) without retain_graph
    theta = ember.tensor([[[0.9, -0.2, 0.1], [0.3, 1.1, -0.2]]], requires_grad=True)
    image = ember.tensor(float_array((1, 2, 4, 5)))
    grid = F.affine_grid(theta, (1, 2, 3, 4), align_corners=False)
    assert grid.grad_fn.name() == "AffineGridGeneratorBackward0"
    first, = ember.autograd.grad(grid.sum(), theta)
    second, = ember.autograd.grad(F.grid_sample(image, grid, align_corners=False).sum(), theta)
    their_theta = torch.tensor(theta.detach().numpy(), requires_grad=True)
    their_grid = torch.nn.functional.affine_grid(their_theta, (1, 2, 3, 4), align_corners=False)
    np.testing.assert_allclose(first.numpy(), torch.autograd.grad(their_grid.sum(),
                                                                  their_theta)[0].numpy())
    their_sample = torch.nn.functional.grid_sample(torch.tensor(image.numpy()), their_grid,
                                                   align_corners=False)
    np.testing.assert_allclose(second.numpy(), torch.autograd.grad(their_sample.sum(),
                                                                   their_theta)[0].numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size, align_corners", [((2, 3, 3, 4), False), ((1, 2, 2, 3, 4), True)])
def test_affine_grid_gradcheck_and_gradgradcheck(size, align_corners):
    rows = len(size) - 2
    theta = ember.tensor(np.random.default_rng(0).standard_normal((size[0], rows, rows + 1)),
                         dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda t: F.affine_grid(t, size, align_corners), (theta,))
    assert ember.autograd.gradgradcheck(lambda t: F.affine_grid(t, size, align_corners) ** 2,
                                        (theta,))


def test_affine_grid_batch_mismatch_matches_torch(torch):
    def call(lib):
        return lib.nn.functional.affine_grid(lib.zeros(2, 2, 3), (3, 1, 4, 5), align_corners=False)

    assert_raises_like_torch(lambda: call(torch), lambda: call(ember), RuntimeError)


@pytest.mark.parametrize("name, options", [
    ("upsample", {"scale_factor": 2, "mode": "bilinear", "align_corners": False}),
    ("upsample_nearest", {"size": (5, 3)}), ("upsample_bilinear", {"scale_factor": 1.5})])
def test_deprecated_upsample_aliases_warn_and_match_torch(torch, name, options):
    array = float_array((1, 2, 3, 4))
    with pytest.warns(UserWarning, match="is deprecated"):
        ours = getattr(F, name)(ember.tensor(array), **options)
    with pytest.warns(UserWarning, match="is deprecated"):
        theirs = getattr(torch.nn.functional, name)(torch.tensor(array), **options)
    assert_close(ours, theirs)


@pytest.mark.parametrize("expression",
                         ["PixelShuffle(2)", "PixelUnshuffle(3)", "ChannelShuffle(3)"])
def test_module_reprs_match_torch(torch, expression):
    assert_layer_like_torch(torch, expression)


# ---- higher-order derivatives (create_graph) -------------------------------------------------
@pytest.mark.parametrize("shape, options", INTERPOLATE_CASES, ids=str)
def test_interpolate_third_derivatives_match_torch(torch, shape, options):
    """interpolate (and area, as adaptive averaging) maps each axis by an index or a matrix; the
    gradients of those maps are maps again."""
    assert_derivatives_match_torch(
        torch, lambda fw, x: fw.nn.functional.interpolate(x, **options),
        random_arrays([shape]), orders=3)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_second_derivatives_match_torch(torch, mode, padding_mode, align_corners):
    image, grid = random_arrays([(2, 3, 5, 6), (2, 4, 7, 2)], seed=5)
    assert_derivatives_match_torch(
        torch, lambda fw, x, g: fw.nn.functional.grid_sample(x, g * 0.65, mode, padding_mode,
                                                             align_corners),
        [image, grid], orders=2)


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_volumetric_grid_sample_second_derivatives_match_torch(torch, padding_mode):
    image, grid = random_arrays([(1, 2, 3, 4, 5), (1, 2, 3, 2, 3)], seed=6)
    assert_derivatives_match_torch(
        torch, lambda fw, x, g: fw.nn.functional.grid_sample(x, g * 0.65, "bilinear",
                                                             padding_mode, True),
        [image, grid], orders=2)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_gradgradcheck(mode, padding_mode):
    image = ember.tensor(float_array((1, 2, 4, 5)).astype(np.float64), requires_grad=True)
    grid = ember.tensor(float_array((1, 3, 2, 2), seed=1, low=-1.2, high=1.2)
                        .astype(np.float64), requires_grad=True)
    assert gradgradcheck(lambda x, g: F.grid_sample(x, g, mode, padding_mode, False),
                         (image, grid))


def test_antialiased_interpolate_is_named_and_keeps_a_same_size_input(torch):
    array = float_array((1, 2, 6, 5))
    for mode, name in (("bilinear", "UpsampleBilinear2DAaBackward0"),
                       ("bicubic", "UpsampleBicubic2DAaBackward0")):
        x = ember.tensor(array, requires_grad=True)
        assert F.interpolate(x, size=(3, 3), mode=mode, antialias=True).grad_fn.name() == name
        same = F.interpolate(x, size=(6, 5), mode=mode, antialias=True)
        assert_close(same.detach(), array)


def test_interpolate_gradgradcheck():
    x = ember.tensor(float_array((1, 2, 3, 4)).astype(np.float64), requires_grad=True)
    assert gradgradcheck(lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear"), (x,))
    assert gradgradcheck(lambda x: F.interpolate(x, size=(4, 3), mode="area"), (x,))



@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "bilinear", "bicubic"])
def test_interpolate_bfloat16_forward_and_backward_match_torch(torch, mode):
    # bfloat16 is what autocast hands an Upsample on the CPU; nearest's backward sums the
    # gradients of the copies in float32 and rounds once, as PyTorch does.
    array = (float_array((1, 2, 5, 6)) * 4).astype(np.float32)
    weights = float_array((1, 2, 10, 12), seed=5)
    results = []
    for library in (ember, torch):
        x = library.tensor(array).to(library.bfloat16).requires_grad_()
        out = library.nn.functional.interpolate(x, scale_factor=2, mode=mode)
        (out.float() * library.tensor(weights)).sum().backward()
        assert out.dtype == library.bfloat16 and x.grad.dtype == library.bfloat16
        results.append((out.detach().float().numpy(), x.grad.float().numpy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])

@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_interpolate_half_precision_weights_in_float32_as_torch(torch, mode):
    array = float_array((1, 2, 5, 6)).astype(np.float16)
    ours = F.interpolate(ember.tensor(array), scale_factor=2.3, mode=mode)
    theirs = torch.nn.functional.interpolate(torch.tensor(array), scale_factor=2.3, mode=mode)
    assert ours.dtype == ember.float16
    # within a float16 ulp (the taps are summed in another order); with the weights and the
    # products in float16 bicubic was up to ten ulp off
    np.testing.assert_allclose(ours.numpy().astype(np.float64),
                               theirs.numpy().astype(np.float64), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("size", [(19, 23), (50, 80), (37, 26), (11, 53)])
@pytest.mark.parametrize("mode, options", [
    ("nearest", {}), ("nearest-exact", {}),
    ("bilinear", {"align_corners": False}), ("bilinear", {"align_corners": True}),
    ("bilinear", {"antialias": True}), ("bicubic", {"antialias": True})])
def test_uint8_images_resize_as_torch(torch, size, mode, options):
    """PyTorch's uint8 kernels: nearest and plain bilinear bit for bit; the antialiased ones
    within one grey level (PIL's fixed-point passes; a few pixels round the other way)."""
    image = np.random.default_rng(0).integers(0, 256, (2, 3, 37, 53), dtype=np.uint8)
    expected = torch.nn.functional.interpolate(torch.tensor(image), size=size, mode=mode,
                                               **options).numpy()
    got = ember.nn.functional.interpolate(ember.tensor(image), size=size, mode=mode,
                                          **options).numpy()
    assert got.dtype == np.uint8
    difference = np.abs(got.astype(int) - expected)
    if options.get("antialias"):
        assert difference.max() <= 1 and (difference > 0).mean() < 0.01
    else:
        assert difference.max() == 0


def test_uint8_resizing_without_torch():
    """A constant image stays constant; a horizontal ramp stays monotone; unsupported bicubic
    without antialias says so."""
    flat = ember.full((1, 1, 9, 13), 77, dtype=ember.uint8)
    for mode, options in [("bilinear", {}), ("bilinear", {"antialias": True}),
                          ("bicubic", {"antialias": True})]:
        out = ember.nn.functional.interpolate(flat, size=(4, 29), mode=mode, **options)
        assert out.dtype == ember.uint8 and (out.numpy() == 77).all()
    ramp = ember.tensor(np.tile(np.arange(0, 250, 10, dtype=np.uint8), (1, 1, 5, 1)))
    out = ember.nn.functional.interpolate(ramp, size=(5, 11), mode="bilinear", antialias=True)
    assert (np.diff(out.numpy().astype(int), axis=-1) >= 0).all()
    with pytest.raises(NotImplementedError, match="bicubic resizing of uint8 images"):
        ember.nn.functional.interpolate(flat, size=(4, 5), mode="bicubic")


@pytest.mark.parametrize("dtype", ["int64", "bool"])
@pytest.mark.parametrize("mode, shape", [
    ("linear", (1, 1, 4)), ("bilinear", (1, 3, 4, 4)), ("bicubic", (1, 1, 4, 4)),
    ("trilinear", (1, 1, 4, 4, 4)), ("nearest", (1, 1, 4)), ("nearest", (2, 3, 4, 4)),
    ("nearest", (1, 1, 4, 4, 4)), ("nearest-exact", (1, 1, 4, 4)), ("area", (1, 1, 4)),
    ("area", (1, 1, 4, 4, 4))])
def test_interpolate_refuses_integers_naming_torchs_kernel(torch, mode, shape, dtype):
    """2-D bilinear and nearest name PyTorch's channels-last kernels, area its adaptive
    pooling, the others the kernel computing their interpolation weights."""
    def call(fw):
        return lambda: fw.nn.functional.interpolate(fw.ones(shape).to(getattr(fw, dtype)),
                                                    scale_factor=2, mode=mode)
    assert_raises_like_torch(call(torch), call(ember), NotImplementedError)


@pytest.mark.parametrize("grid_dtype, input_dtype", [("float64", "float32"),
                                                     ("float32", "float64"),
                                                     ("float16", "float32")])
def test_grid_sample_dtype_mismatch_message_like_torch(torch, grid_dtype, input_dtype):
    def call(fw):
        return lambda: fw.nn.functional.grid_sample(
            fw.ones(1, 1, 4, 4).to(getattr(fw, input_dtype)),
            fw.zeros(1, 2, 2, 2).to(getattr(fw, grid_dtype)), align_corners=False)
    assert_raises_like_torch(call(torch), call(ember), RuntimeError)
