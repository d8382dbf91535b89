"""ember.vision.transforms: against their definitions (formulas, pillow, NumPy, torch's own
interpolate/grid_sample where torchvision calls them), random ones with fixed seeds."""
import colorsys
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember.vision import transforms as T
from ember.vision.transforms import InterpolationMode
from ember.vision.transforms import functional as F

PIL_Image = pytest.importorskip("PIL.Image")


def _uint8_image(shape=(3, 9, 11), seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _float_image(shape=(3, 9, 11), seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def _pil(array_chw):
    return PIL_Image.fromarray(np.ascontiguousarray(array_chw.transpose(1, 2, 0)))


def _tensor(array):
    return ember.from_numpy(np.ascontiguousarray(array))


def _hwc(image):
    return np.asarray(image)


# ---- conversions -------------------------------------------------------------------------------

def test_to_tensor_and_pil_to_tensor():
    image = _uint8_image()
    tensor = T.ToTensor()(_pil(image))
    assert tensor.dtype == ember.float32
    np.testing.assert_array_equal(tensor.numpy(), image.astype(np.float32) / np.float32(255))
    raw = T.PILToTensor()(_pil(image))
    assert raw.dtype == ember.uint8
    np.testing.assert_array_equal(raw.numpy(), image)
    gray = PIL_Image.fromarray(image[0]).convert("1")
    np.testing.assert_array_equal(T.ToTensor()(gray).numpy()[0],
                                  (np.asarray(gray) * 255).astype(np.float32) / 255)
    floats = np.random.default_rng(1).random((4, 5, 2)).astype(np.float64)
    np.testing.assert_array_equal(T.ToTensor()(floats).numpy(), floats.transpose(2, 0, 1))
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()(ember.zeros(3, 2, 2))
    with pytest.raises(ValueError, match="pic should be 2/3 dimensional. Got 4 dimensions."):
        T.ToTensor()(np.zeros((1, 2, 3, 4)))


def test_to_pil_image_modes_and_round_trip():
    image = _uint8_image()
    assert T.ToPILImage()(_tensor(image)).mode == "RGB"
    np.testing.assert_array_equal(_hwc(T.ToPILImage()(_tensor(image))), image.transpose(1, 2, 0))
    floats = _float_image((1, 4, 5))
    gray = T.ToPILImage()(_tensor(floats))
    assert gray.mode == "L"
    np.testing.assert_array_equal(_hwc(gray), np.trunc(floats[0] * 255).astype(np.uint8))
    assert T.ToPILImage()(np.zeros((3, 4, 4), np.uint8)).mode == "RGBA"
    assert T.ToPILImage()(np.zeros((3, 4), np.int32)).mode == "I"
    with pytest.raises(ValueError, match="Only modes"):
        T.ToPILImage(mode="L")(np.zeros((3, 4, 3), np.uint8))


def test_convert_image_dtype_definition(torch):
    image = _uint8_image()
    to_float = T.ConvertImageDtype(ember.float32)(_tensor(image))
    np.testing.assert_array_equal(to_float.numpy(), image.astype(np.float32) / np.float32(255))
    floats = np.array([[[0.0, 0.5, 0.999, 1.0]]], dtype=np.float32)
    # x * (255 + 1 - 0.001) truncated: 1.0 maps to 255, not 256.
    assert F.convert_image_dtype(_tensor(floats), ember.uint8).numpy().tolist() == \
        [[[0, 127, 255, 255]]]
    widened = F.convert_image_dtype(_tensor(image), ember.int32).numpy()
    np.testing.assert_array_equal(widened, image.astype(np.int32) * (2 ** 31 // 256))
    narrowed = F.convert_image_dtype(_tensor(widened + 5), ember.uint8).numpy()
    np.testing.assert_array_equal(narrowed, image)
    with pytest.raises(RuntimeError, match="cannot be performed safely"):
        F.convert_image_dtype(_tensor(floats), ember.int32)


def test_normalize():
    image = _float_image()
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    output = T.Normalize(mean, std)(_tensor(image)).numpy()
    expected = (image - np.float32(mean)[:, None, None]) / np.float32(std)[:, None, None]
    np.testing.assert_allclose(output, expected, rtol=1e-6)
    tensor = _tensor(image.copy())
    assert F.normalize(tensor, mean, std, inplace=True) is tensor
    with pytest.raises(TypeError, match="Input tensor should be a float tensor"):
        F.normalize(_tensor(_uint8_image()), mean, std)
    with pytest.raises(ValueError, match="std evaluated to zero"):
        F.normalize(_tensor(image), mean, (1.0, 0.0, 1.0))
    with pytest.raises(TypeError, match="Tensor Image"):
        F.normalize(_pil(_uint8_image()), mean, std)


# ---- resize ----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("size", [(4, 5), (13, 17), (9, 6)])
def test_tensor_resize_equals_torch_interpolate(torch, mode, antialias, size):
    image = _float_image((2, 3, 9, 11))
    output = F.resize(_tensor(image), list(size), InterpolationMode(mode),
                      antialias=antialias).numpy()
    expected = torch.nn.functional.interpolate(torch.from_numpy(image), size=size, mode=mode,
                                               align_corners=False, antialias=antialias)
    np.testing.assert_allclose(output, expected.numpy(), atol=2e-6)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_tensor_resize_nearest_equals_torch(torch, mode):
    image = _uint8_image((3, 9, 11))
    output = F.resize(_tensor(image), [5, 17], InterpolationMode(mode)).numpy()
    expected = torch.nn.functional.interpolate(torch.from_numpy(image)[None].float(),
                                               size=(5, 17), mode=mode)[0]
    np.testing.assert_array_equal(output, expected.numpy().astype(np.uint8))


def test_uint8_tensor_resize_rounds_the_float_result(torch):
    image = _uint8_image((3, 12, 10))
    output = T.Resize((5, 4))(_tensor(image)).numpy()
    expected = torch.nn.functional.interpolate(torch.from_numpy(image)[None].float(), (5, 4),
                                               mode="bilinear", antialias=True)[0]
    assert output.dtype == np.uint8
    np.testing.assert_array_equal(output, expected.round().numpy().astype(np.uint8))


def test_resize_pil_is_pillow_and_sizes():
    image = _pil(_uint8_image((3, 10, 16)))
    assert T.Resize(5)(image).size == (8, 5)  # shorter edge 10 -> 5, longer 16 -> 8
    assert T.Resize(5, max_size=7)(image).size == (7, 4)
    np.testing.assert_array_equal(_hwc(T.Resize((4, 6), InterpolationMode.BICUBIC)(image)),
                                  _hwc(image.resize((6, 4), PIL_Image.Resampling.BICUBIC)))
    assert T.Resize((10, 16))(image) is image
    numpy_image = _uint8_image((10, 16, 3))
    np.testing.assert_array_equal(
        T.Resize(5)(numpy_image),
        T.Resize(5)(_tensor(numpy_image.transpose(2, 0, 1))).numpy().transpose(1, 2, 0))
    with pytest.raises(ValueError, match="max_size = 5 must be strictly greater"):
        T.Resize(5, max_size=5)(image)
    with pytest.raises(TypeError, match="Size should be int or sequence"):
        T.Resize(2.5)


# ---- geometry ----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_pad_tensor_pil_and_numpy_agree_with_np_pad(mode):
    image = _uint8_image((3, 5, 6))
    padding = (1, 2, 3, 4)  # left, top, right, bottom
    expected = np.pad(image, ((0, 0), (2, 4), (1, 3)), mode=mode,
                      **({"constant_values": 7} if mode == "constant" else {}))
    np.testing.assert_array_equal(T.Pad(padding, fill=7, padding_mode=mode)(_tensor(image))
                                  .numpy(), expected)
    np.testing.assert_array_equal(_hwc(T.Pad(padding, 7, mode)(_pil(image))),
                                  expected.transpose(1, 2, 0))
    np.testing.assert_array_equal(T.Pad(padding, 7, mode)(image.transpose(1, 2, 0)),
                                  expected.transpose(1, 2, 0))


def test_pad_arguments():
    image = _tensor(_uint8_image((1, 3, 3)))
    assert tuple(F.pad(image, 2).shape) == (1, 7, 7)
    assert tuple(F.pad(image, [1, 2]).shape) == (1, 7, 5)
    assert tuple(F.pad(image, [-1, 0, 0, 0]).shape) == (1, 3, 2)
    with pytest.raises(ValueError, match="1, 2, or 4 element tuple, not a 3 element tuple"):
        T.Pad((1, 2, 3))
    with pytest.raises(ValueError, match="Padding mode should be either"):
        T.Pad(1, padding_mode="wrap")


def test_crop_and_center_crop():
    image = _uint8_image((3, 8, 10))
    np.testing.assert_array_equal(F.crop(_tensor(image), 1, 2, 4, 5).numpy(),
                                  image[:, 1:5, 2:7])
    outside = F.crop(_tensor(image), -1, 8, 3, 4).numpy()  # zeros outside, like PIL's crop
    np.testing.assert_array_equal(outside, _hwc(_pil(image).crop((8, -1, 12, 2)))
                                  .transpose(2, 0, 1))
    centered = T.CenterCrop((4, 5))(_tensor(image)).numpy()
    np.testing.assert_array_equal(centered, image[:, 2:6, 2:7])  # round((8-4)/2), round(2.5)
    np.testing.assert_array_equal(_hwc(T.CenterCrop((4, 5))(_pil(image))),
                                  centered.transpose(1, 2, 0))
    bigger = T.CenterCrop(11)(_tensor(image)).numpy()
    expected = np.pad(image, ((0, 0), (1, 2), (0, 1)))  # pad (11-8)//2 top, rest bottom
    np.testing.assert_array_equal(bigger, expected)


def test_flips():
    image = _uint8_image()
    np.testing.assert_array_equal(F.hflip(_tensor(image)).numpy(), image[:, :, ::-1])
    np.testing.assert_array_equal(F.vflip(_tensor(image)).numpy(), image[:, ::-1, :])
    np.testing.assert_array_equal(_hwc(F.hflip(_pil(image))), image[:, :, ::-1].transpose(1, 2, 0))
    np.testing.assert_array_equal(F.vflip(image.transpose(1, 2, 0)),
                                  image[:, ::-1].transpose(1, 2, 0))


@pytest.mark.parametrize("size", [(3, 7, 7), (3, 6, 6)])
def test_rotate_by_quarter_turns_is_rot90(size):
    image = _uint8_image(size)
    for angle, turns in ((90, 1), (180, 2), (-90, 3)):
        expected = np.rot90(image, turns, axes=(1, 2))
        np.testing.assert_array_equal(F.rotate(_tensor(image), angle).numpy(), expected)
        np.testing.assert_array_equal(_hwc(F.rotate(_pil(image), angle)),
                                      expected.transpose(1, 2, 0))


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_tensor_rotate_equals_torchvisions_grid_sample_recipe(torch, interpolation):
    """torchvision's rotate: inverse affine matrix, pixel-centre base grid scaled by half the
    size, grid_sample(zeros, align_corners=False), fill blended through a ones mask."""
    image = _float_image((3, 8, 10))
    angle, fill = 33.0, [0.25, 0.5, 0.75]
    output = F.rotate(_tensor(image), angle, InterpolationMode(interpolation), fill=fill).numpy()
    radians = np.radians(-angle)
    matrix = torch.tensor([[np.cos(radians), np.sin(radians), 0.0],
                           [-np.sin(radians), np.cos(radians), 0.0]], dtype=torch.float32)
    height, width = 8, 10
    xs = torch.linspace(-width * 0.5 + 0.5, width * 0.5 - 0.5, width)
    ys = torch.linspace(-height * 0.5 + 0.5, height * 0.5 - 0.5, height)
    base = torch.stack([xs[None, :].expand(height, width), ys[:, None].expand(height, width),
                        torch.ones(height, width)], dim=-1)
    grid = (base.reshape(1, -1, 3) @ (matrix.T / torch.tensor([0.5 * width, 0.5 * height])))
    with_mask = torch.cat([torch.from_numpy(image), torch.ones(1, height, width)])[None]
    sampled = torch.nn.functional.grid_sample(with_mask, grid.reshape(1, height, width, 2),
                                              mode=interpolation, padding_mode="zeros",
                                              align_corners=False)[0]
    mask, values = sampled[-1:], sampled[:-1]
    fill_image = torch.tensor(fill).reshape(3, 1, 1).expand_as(values)
    if interpolation == "nearest":
        expected = torch.where(mask.expand_as(values) < 0.5, fill_image, values)
    else:
        expected = values * mask + (1.0 - mask) * fill_image
    np.testing.assert_allclose(output, expected.numpy(), atol=1e-5)


def test_rotate_expand_grows_the_canvas():
    image = _uint8_image((1, 6, 10))
    assert tuple(F.rotate(_tensor(image), 90, expand=True).shape) == (1, 10, 6)
    assert F.rotate(_pil(image[0:1].repeat(3, 0)), 90, expand=True).size == (6, 10)
    assert tuple(F.rotate(_tensor(image), 45, expand=True).shape) == (1, 12, 12)


# ---- colour ----------------------------------------------------------------------------------

def test_brightness_contrast_saturation_are_blends():
    image = _float_image((3, 6, 7))
    gray = (np.float32(0.2989) * image[0] + np.float32(0.587) * image[1]
            + np.float32(0.114) * image[2])
    np.testing.assert_allclose(F.rgb_to_grayscale(_tensor(image)).numpy()[0], gray, rtol=1e-6)
    np.testing.assert_allclose(F.adjust_brightness(_tensor(image), 1.3).numpy(),
                               np.clip(image * np.float32(1.3), 0, 1), rtol=1e-6)
    np.testing.assert_allclose(F.adjust_contrast(_tensor(image), 0.6).numpy(),
                               np.clip(0.6 * image + 0.4 * gray.mean(), 0, 1), atol=1e-6)
    np.testing.assert_allclose(F.adjust_saturation(_tensor(image), 1.7).numpy(),
                               np.clip(1.7 * image - 0.7 * gray, 0, 1), atol=1e-6)
    uint8 = _uint8_image((3, 6, 7))
    expected = np.trunc(np.clip(np.float32(0.5) * uint8.astype(np.float32), 0, 255))
    np.testing.assert_array_equal(F.adjust_brightness(_tensor(uint8), 0.5).numpy(), expected)
    # pillow's ImageEnhance on PIL images; the tensor path rounds down, pillow to nearest.
    pil_result = _hwc(F.adjust_brightness(_pil(uint8), 0.5)).transpose(2, 0, 1).astype(int)
    assert np.abs(pil_result - expected).max() <= 1


def test_adjust_hue_is_an_hsv_rotation():
    image = _float_image((3, 4, 5))
    output = F.adjust_hue(_tensor(image), 0.2).numpy()
    expected = np.empty_like(image)
    for row in range(4):
        for column in range(5):
            hue, saturation, value = colorsys.rgb_to_hsv(*image[:, row, column])
            expected[:, row, column] = colorsys.hsv_to_rgb((hue + 0.2) % 1.0, saturation, value)
    np.testing.assert_allclose(output, expected, atol=1e-5)
    with pytest.raises(ValueError, match=r"hue_factor \(0.7\) is not in \[-0.5, 0.5\]"):
        F.adjust_hue(_tensor(image), 0.7)
    gray = PIL_Image.fromarray(_uint8_image((4, 5)))
    assert F.adjust_hue(gray, 0.3) is gray


def test_grayscale():
    image = _uint8_image((3, 5, 6))
    three = T.Grayscale(3)(_tensor(image)).numpy()
    expected = np.trunc(np.float32(0.2989) * image[0] + np.float32(0.587) * image[1]
                        + np.float32(0.114) * image[2])
    np.testing.assert_array_equal(three, np.stack([expected] * 3).astype(np.uint8))
    assert T.Grayscale()(_pil(image)).mode == "L"
    np.testing.assert_array_equal(_hwc(T.Grayscale(3)(_pil(image)))[..., 0],
                                  _hwc(_pil(image).convert("L")))


# ---- random transforms with fixed seeds ------------------------------------------------------

def _same_draws(seed, transform, image, expected_function):
    """transform(image) after manual_seed(seed) equals expected_function(image) after the
    same seed: the definition written out with the draws torchvision makes, in order."""
    ember.manual_seed(seed)
    output = transform(image)
    ember.manual_seed(seed)
    expected = expected_function(image)
    if isinstance(output, ember.Tensor):
        np.testing.assert_array_equal(output.numpy(), expected.numpy())
    else:
        np.testing.assert_array_equal(_hwc(output), _hwc(expected))


@pytest.mark.parametrize("seed", range(3))
def test_random_crop(seed):
    image = _uint8_image((3, 7, 9))

    def definition(img):
        padded = F.pad(img, 2, 0, "reflect")
        top = ember.randint(0, 11 - 4 + 1, size=(1,)).item()
        left = ember.randint(0, 13 - 5 + 1, size=(1,)).item()
        return F.crop(padded, top, left, 4, 5)

    transform = T.RandomCrop((4, 5), padding=2, padding_mode="reflect")
    _same_draws(seed, transform, _tensor(image), definition)
    _same_draws(seed, transform, _pil(image), definition)
    ember.manual_seed(seed)
    from_pil = _hwc(transform(_pil(image)))
    ember.manual_seed(seed)
    np.testing.assert_array_equal(from_pil, transform(_tensor(image)).numpy().transpose(1, 2, 0))
    grown = T.RandomCrop(10, pad_if_needed=True)(_tensor(image))
    assert tuple(grown.shape) == (3, 10, 10)
    with pytest.raises(ValueError, match=r"Required crop size \(8, 8\) is larger"):
        T.RandomCrop(8)(_tensor(image))


@pytest.mark.parametrize("seed", range(4))
def test_random_flips(seed):
    image = _tensor(_uint8_image())
    _same_draws(seed, T.RandomHorizontalFlip(0.5), image,
                lambda img: F.hflip(img) if ember.rand(1).item() < 0.5 else img)
    _same_draws(seed, T.RandomVerticalFlip(0.5), image,
                lambda img: F.vflip(img) if ember.rand(1).item() < 0.5 else img)


def test_random_resized_crop_draws_and_bounds():
    image = _tensor(_uint8_image((3, 20, 30)))
    for seed in range(5):
        ember.manual_seed(seed)
        top, left, height, width = T.RandomResizedCrop.get_params(image, (0.3, 0.9), (0.5, 2.0))
        assert 0 <= top and top + height <= 20 and 0 <= left and left + width <= 30
        assert 0.3 * 600 - 30 <= height * width <= 0.9 * 600 + 30
        _same_draws(seed, T.RandomResizedCrop(8, scale=(0.3, 0.9), ratio=(0.5, 2.0)), image,
                    lambda img: F.resized_crop(img, top, left, height, width, [8, 8]))
    # No try fits: the fallback is the central crop of the closest allowed ratio.
    assert T.RandomResizedCrop.get_params(image, (2.0, 3.0), (1.0, 1.0)) == (0, 5, 20, 20)


def test_random_rotation_and_apply():
    image = _tensor(_float_image((3, 8, 8)))

    def rotation(img):
        angle = ember.empty(1).uniform_(-30.0, 30.0).item()
        return F.rotate(img, angle, fill=[0.0, 0.0, 0.0])

    _same_draws(5, T.RandomRotation(30), image, rotation)

    def apply(img):
        return img if 0.5 < ember.rand(1).item() else F.hflip(F.vflip(img))

    for seed in range(3):
        _same_draws(seed, T.RandomApply([T.RandomVerticalFlip(1.0), T.RandomHorizontalFlip(1.0)]),
                    image, apply)


def test_color_jitter_order_and_factors():
    image = _tensor(_float_image((3, 6, 6)))

    def definition(img):
        order = ember.randperm(4).tolist()
        brightness = ember.empty(1).uniform_(0.5, 1.5).item()
        contrast = ember.empty(1).uniform_(0.8, 1.2).item()
        hue = ember.empty(1).uniform_(-0.1, 0.1).item()
        steps = {0: lambda x: F.adjust_brightness(x, brightness),
                 1: lambda x: F.adjust_contrast(x, contrast), 2: lambda x: x,
                 3: lambda x: F.adjust_hue(x, hue)}
        for index in order:
            img = steps[index](img)
        return img

    for seed in range(3):
        _same_draws(seed, T.ColorJitter(brightness=0.5, contrast=0.2, hue=0.1), image,
                    definition)
    assert T.ColorJitter(saturation=(1.0, 1.0)).saturation is None
    with pytest.raises(ValueError, match="hue values should be between"):
        T.ColorJitter(hue=0.6)


def test_random_erasing():
    image = _float_image((3, 10, 12))
    for seed in range(4):
        ember.manual_seed(seed)
        output = T.RandomErasing(p=1.0, value=(0.1, 0.2, 0.3))(_tensor(image)).numpy()
        ember.manual_seed(seed)
        assert ember.rand(1).item() < 1.0
        top, left, height, width, _ = T.RandomErasing.get_params(
            _tensor(image), (0.02, 0.33), (0.3, 3.3), [0.1, 0.2, 0.3])
        expected = image.copy()
        expected[:, top:top + height, left:left + width] = \
            np.float32([0.1, 0.2, 0.3])[:, None, None]
        np.testing.assert_array_equal(output, expected)
    ember.manual_seed(0)
    random_fill = T.RandomErasing(p=1.0, value="random")(_tensor(image)).numpy()
    assert (random_fill != image).any() and (random_fill == image).any()
    unchanged = _tensor(image)
    assert T.RandomErasing(p=0.0)(unchanged) is unchanged
    with pytest.raises(ValueError, match="If value is str, it should be 'random'"):
        T.RandomErasing(value="noise")
    with pytest.raises(TypeError, match="Tensor Image"):
        T.RandomErasing()(_pil(_uint8_image()))


def test_compose_lambda_and_repr():
    pipeline = T.Compose([T.CenterCrop(4), T.ToTensor(), T.Lambda(lambda x: x * 2)])
    output = pipeline(_pil(_uint8_image((3, 6, 6))))
    np.testing.assert_allclose(output.numpy(),
                               _uint8_image((3, 6, 6))[:, 1:5, 1:5] / np.float32(255) * 2)
    assert "CenterCrop(size=(4, 4))" in repr(pipeline)
    with pytest.raises(TypeError, match="Argument lambd should be callable, got 'int'"):
        T.Lambda(3)


def test_imports_stay_lazy():
    code = ("import sys, ember, ember.vision, ember.vision.datasets, ember.vision.models, "
            "ember.vision.transforms, ember.vision.utils\n"
            "print(sorted(m for m in ('PIL', 'scipy', 'tensorboard') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_missing_pillow_is_one_line(monkeypatch, tmp_path):
    for name in [name for name in sys.modules if name == "PIL" or name.startswith("PIL.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "PIL", None)
    (tmp_path / "cats").mkdir()
    from ember.vision import datasets
    with pytest.raises(ImportError) as error:
        datasets.ImageFolder(tmp_path)
    assert str(error.value) == ("ember.vision.datasets.ImageFolder needs pillow: pip install "
                                "'.[vision]' in the ember checkout")


# ---- augmentation ops: definitions that need nothing but ember ----------------------------------

def test_invert_posterize_solarize_definitions():
    image = _uint8_image((2, 3, 5, 6))
    inverted = F.invert(_tensor(image)).numpy()
    np.testing.assert_array_equal(inverted, 255 - image)
    np.testing.assert_array_equal(F.invert(F.invert(_tensor(image))).numpy(), image)
    floats = _float_image()
    np.testing.assert_array_equal(F.invert(_tensor(floats)).numpy(), np.float32(1) - floats)
    for bits in range(9):
        posterized = F.posterize(_tensor(image), bits).numpy()
        np.testing.assert_array_equal(posterized, (image >> (8 - bits)) << (8 - bits)
                                      if bits else np.zeros_like(image))
    solarized = F.solarize(_tensor(image), 100).numpy()
    np.testing.assert_array_equal(solarized, np.where(image >= 100, 255 - image, image))
    np.testing.assert_array_equal(F.solarize(_tensor(image), 256 - 1).numpy(),
                                  np.where(image == 255, 0, image))
    np.testing.assert_array_equal(_hwc(F.invert(_pil(image[0]))), 255 - _hwc(_pil(image[0])))
    with pytest.raises(ValueError, match="The number if bits should be between 0 and 8. Got 9"):
        F.posterize(_tensor(image), 9)
    with pytest.raises(TypeError, match="Only torch.uint8 image tensors are supported, but found "
                                        "torch.float32"):
        F.posterize(_tensor(floats), 2)
    with pytest.raises(TypeError, match="Threshold should be less than bound of img."):
        F.solarize(_tensor(floats), 1.5)
    with pytest.raises(TypeError, match=r"permitted channel values are \[1, 3\], but found 4"):
        F.invert(_tensor(_uint8_image((4, 3, 3))))


def test_autocontrast_and_equalize_definitions():
    image = np.array([[[10, 20], [30, 40]], [[5, 5], [5, 5]], [[0, 9], [200, 255]]],
                     dtype=np.uint8)
    stretched = F.autocontrast(_tensor(image)).numpy()
    scale = np.float32(1) / np.float32(30) * np.float32(255)
    np.testing.assert_array_equal(stretched[0], np.trunc((image[0] - np.float32(10)) * scale))
    assert stretched[0].min() == 0 and stretched[0].max() == 255
    np.testing.assert_array_equal(stretched[1], image[1])  # a constant channel stays
    # Four levels of 256 pixels: step (1024 - 256) // 255 = 3, and level k maps to
    # (pixels below it + step // 2) // step: 0, 257 // 3, 513 // 3, 769 // 3 clamped.
    levels = np.repeat(np.array([3, 50, 51, 200], np.uint8), 256).reshape(1, 32, 32)
    assert np.unique(F.equalize(_tensor(levels)).numpy()).tolist() == [0, 85, 171, 255]
    # Fewer than 256 pixels outside the top level: step 0 leaves the channel unchanged.
    np.testing.assert_array_equal(F.equalize(_tensor(image)).numpy(), image)
    batch = _uint8_image((2, 3, 16, 20))
    equalized = F.equalize(_tensor(batch)).numpy()
    for index in range(2):
        np.testing.assert_array_equal(equalized[index], F.equalize(_tensor(batch[index])).numpy())
    with pytest.raises(TypeError, match="should have 3 or 4 dimensions, but found 5"):
        F.equalize(_tensor(batch[None]))


def test_gaussian_kernel_and_blur():
    from ember.vision.transforms import _functional_tensor as F_t
    for size, sigma in ((3, 0.8), (7, 2.0), (41, 5.0)):
        kernel = F_t.gaussian_kernel1d(size, sigma, np.dtype(np.float32))
        assert kernel.dtype == np.float32
        assert abs(float(kernel.sum(dtype=np.float64)) - 1.0) < 1e-6
        np.testing.assert_allclose(kernel, kernel[::-1], rtol=1e-6)
        x = np.arange(size) - (size - 1) / 2
        expected = np.exp(-x ** 2 / (2 * sigma ** 2))
        np.testing.assert_allclose(kernel, expected / expected.sum(), rtol=1e-5)
    constant = np.full((3, 9, 11), 0.25, np.float32)
    np.testing.assert_allclose(F.gaussian_blur(_tensor(constant), 5, 1.5).numpy(), constant,
                               rtol=1e-6)
    image = _float_image((1, 5, 7))
    blurred = F.gaussian_blur(_tensor(image), [3, 1], [0.9, 1.0]).numpy()
    kernel = F_t.gaussian_kernel1d(3, 0.9, np.dtype(np.float32))
    padded = np.pad(image, ((0, 0), (0, 0), (1, 1)), mode="reflect")
    expected = sum(kernel[tap] * padded[..., tap:tap + 7] for tap in range(3))
    np.testing.assert_allclose(blurred, expected, rtol=1e-6)
    uint8 = _uint8_image((3, 8, 8))
    assert F.gaussian_blur(_tensor(uint8), 3).dtype == ember.uint8
    assert F.gaussian_blur(_pil(uint8), 3).mode == "RGB"
    with pytest.raises(ValueError, match=r"kernel_size should have odd and positive integers. "
                                         r"Got \[4, 4\]"):
        F.gaussian_blur(_tensor(image), 4)
    with pytest.raises(ValueError, match="sigma should have positive values"):
        F.gaussian_blur(_tensor(image), 3, 0.0)


def test_adjust_sharpness_and_gamma():
    image = _float_image((3, 6, 7))
    np.testing.assert_array_equal(F.adjust_sharpness(_tensor(image), 1.0).numpy(), image)
    smoothed = F.adjust_sharpness(_tensor(image), 0.0).numpy()
    kernel = np.ones((3, 3), np.float32)
    kernel[1, 1] = 5
    inner = sum(kernel[r, c] * image[:, r:r + 4, c:c + 5] for r in range(3) for c in range(3)) / 13
    np.testing.assert_allclose(smoothed[:, 1:-1, 1:-1], inner, rtol=1e-5)
    np.testing.assert_array_equal(smoothed[:, 0], image[:, 0])  # the border is kept
    tiny = _float_image((3, 2, 5))  # two rows: nothing inside the border to smooth
    np.testing.assert_array_equal(F.adjust_sharpness(_tensor(tiny), 3.0).numpy(), tiny)
    np.testing.assert_allclose(F.adjust_gamma(_tensor(image), 2.0, 0.5).numpy(),
                               0.5 * image ** 2, rtol=1e-6)
    uint8 = _uint8_image((3, 4, 4))
    np.testing.assert_array_equal(F.adjust_gamma(_tensor(uint8), 1.0).numpy(), uint8)
    with pytest.raises(ValueError, match=r"sharpness_factor \(-1\) is not non-negative."):
        F.adjust_sharpness(_tensor(image), -1)


def test_affine_identity_and_known_moves():
    image = _uint8_image((2, 3, 7, 9))
    identity = F.affine(_tensor(image), 0.0, [0, 0], 1.0, [0.0, 0.0]).numpy()
    np.testing.assert_array_equal(identity, image)
    np.testing.assert_array_equal(_hwc(F.affine(_pil(image[0]), 0.0, [0, 0], 1.0, 0.0)),
                                  _hwc(_pil(image[0])))
    moved = F.affine(_tensor(image), 0.0, [2, 1], 1.0, 0.0, fill=[7.0]).numpy()
    expected = np.full_like(image, 7)
    expected[..., 1:, 2:] = image[..., :-1, :-2]
    np.testing.assert_array_equal(moved, expected)
    turned = F.affine(_tensor(image[..., :7, :7]), -90.0, [0, 0], 1.0, 0.0).numpy()
    np.testing.assert_array_equal(turned, np.rot90(image[..., :7, :7], 1, axes=(-2, -1)))
    with pytest.raises(ValueError, match="Argument scale should be positive"):
        F.affine(_tensor(image), 0.0, [0, 0], 0.0, 0.0)
    with pytest.raises(ValueError, match="Interpolation mode 'bicubic' is unsupported"):
        F.affine(_tensor(image), 0.0, [0, 0], 1.0, 0.0, InterpolationMode.BICUBIC)


def test_perspective_and_elastic_identities():
    image = _float_image((3, 8, 10))
    corners = [[0, 0], [9, 0], [9, 7], [0, 7]]
    np.testing.assert_allclose(F.perspective(_tensor(image), corners, corners).numpy(), image,
                               atol=1e-6)
    shifted = [[x + 1, y] for x, y in corners]
    moved = F.perspective(_tensor(image), corners, shifted, InterpolationMode.NEAREST).numpy()
    np.testing.assert_array_equal(moved[..., 1:], image[..., :-1])
    assert (moved[..., 0] == 0).all()
    zero = ember.zeros(1, 8, 10, 2)
    np.testing.assert_allclose(F.elastic_transform(_tensor(image), zero).numpy(), image,
                               atol=1e-6)
    with pytest.raises(ValueError, match="Argument displacement shape should be"):
        F.elastic_transform(_tensor(image), ember.zeros(1, 8, 9, 2))
    with pytest.raises(TypeError, match="Argument displacement should be a Tensor"):
        F.elastic_transform(_tensor(image), np.zeros((1, 8, 10, 2)))


def test_five_and_ten_crop():
    image = _uint8_image((3, 8, 10))
    crops = T.FiveCrop((3, 4))(_tensor(image))
    expected = [image[:, :3, :4], image[:, :3, 6:], image[:, 5:, :4], image[:, 5:, 6:],
                image[:, 2:5, 3:7]]
    for crop, window in zip(crops, expected):
        np.testing.assert_array_equal(crop.numpy(), window)
    ten = T.TenCrop((3, 4))(_tensor(image))
    assert len(ten) == 10
    np.testing.assert_array_equal(ten[5].numpy(), image[:, :3, ::-1][:, :, :4])
    assert [crop.size for crop in T.FiveCrop(4)(_pil(image))] == [(4, 4)] * 5
    with pytest.raises(ValueError, match=r"Requested crop size \(9, 9\) is bigger than input "
                                         r"size \(8, 10\)"):
        F.five_crop(_tensor(image), 9)


def test_random_ops_draw_like_torchvision():
    """Each p-gated op draws one uniform and applies its op when the draw is below p."""
    image = _tensor(_uint8_image((3, 8, 8)))
    for seed in range(6):
        ember.manual_seed(seed)
        draw = ember.rand(1).item()
        for transform, function in ((T.RandomInvert(0.5), F.invert),
                                    (T.RandomPosterize(3, 0.5), lambda x: F.posterize(x, 3)),
                                    (T.RandomSolarize(90, 0.5), lambda x: F.solarize(x, 90)),
                                    (T.RandomEqualize(0.5), F.equalize),
                                    (T.RandomAutocontrast(0.5), F.autocontrast),
                                    (T.RandomGrayscale(0.5), lambda x: F.rgb_to_grayscale(x, 3))):
            ember.manual_seed(seed)
            output = transform(image).numpy()
            expected = function(image).numpy() if draw < 0.5 else image.numpy()
            np.testing.assert_array_equal(output, expected)
    assert repr(T.RandomPosterize(4)) == "RandomPosterize(bits=4,p=0.5)"


def test_random_affine_draws_in_torchvisions_order():
    image = _tensor(_uint8_image((3, 9, 11)))
    transform = T.RandomAffine(20, translate=(0.2, 0.1), scale=(0.9, 1.1), shear=(-4, 4, -2, 2))

    def definition(img):
        angle = ember.empty(1).uniform_(-20.0, 20.0).item()
        translate_x = int(round(ember.empty(1).uniform_(-0.2 * 11, 0.2 * 11).item()))
        translate_y = int(round(ember.empty(1).uniform_(-0.1 * 9, 0.1 * 9).item()))
        scale = ember.empty(1).uniform_(0.9, 1.1).item()
        shear_x = ember.empty(1).uniform_(-4.0, 4.0).item()
        shear_y = ember.empty(1).uniform_(-2.0, 2.0).item()
        return F.affine(img, angle, [translate_x, translate_y], scale, [shear_x, shear_y],
                        fill=[0.0, 0.0, 0.0])

    for seed in range(3):
        _same_draws(seed, transform, image, definition)
    with pytest.raises(ValueError, match="translation values should be between 0 and 1"):
        T.RandomAffine(0, translate=(0.5, 2.0))


def test_random_perspective_endpoints_stay_in_their_corners():
    for seed in range(5):
        ember.manual_seed(seed)
        start, end = T.RandomPerspective.get_params(20, 10, 0.5)
        assert start == [[0, 0], [19, 0], [19, 9], [0, 9]]
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = end
        assert 0 <= x0 <= 5 and 0 <= y0 <= 2 and 14 <= x1 <= 19 and 0 <= y1 <= 2
        assert 14 <= x2 <= 19 and 7 <= y2 <= 9 and 0 <= x3 <= 5 and 7 <= y3 <= 9


def test_random_choice_and_order_use_pythons_random():
    import random
    calls = []
    transforms = [T.Lambda(lambda x, k=k: calls.append(k) or x) for k in range(3)]
    random.seed(3)
    T.RandomOrder(transforms)(0)
    random.seed(3)
    order = [0, 1, 2]
    random.shuffle(order)
    assert calls == order
    calls.clear()
    random.seed(5)
    T.RandomChoice(transforms, p=[0.0, 0.0, 1.0])(0)
    assert calls == [2]
    with pytest.raises(TypeError, match="Argument transforms should be a sequence"):
        T.RandomOrder(T.RandomInvert())


def test_linear_transformation_whitens():
    data = _float_image((3, 2, 2))
    matrix = np.eye(12, dtype=np.float32) * 2
    mean = np.full(12, 0.5, np.float32)
    output = T.LinearTransformation(ember.from_numpy(matrix), ember.from_numpy(mean))(
        _tensor(data))
    np.testing.assert_allclose(output.numpy(), (data - 0.5) * 2, rtol=1e-6)
    with pytest.raises(ValueError, match="transformation_matrix should be square"):
        T.LinearTransformation(ember.zeros(3, 4), ember.zeros(3))


def test_auto_augment_family_keeps_shape_and_dtype():
    image = _tensor(_uint8_image((3, 16, 16)))
    for transform in (T.AutoAugment(T.AutoAugmentPolicy.CIFAR10), T.RandAugment(),
                      T.TrivialAugmentWide(), T.AugMix()):
        for seed in range(3):
            ember.manual_seed(seed)
            output = transform(image)
            assert output.dtype == ember.uint8 and tuple(output.shape) == (3, 16, 16)
            ember.manual_seed(seed)
            np.testing.assert_array_equal(transform(image).numpy(), output.numpy())
    picture = T.TrivialAugmentWide()(_pil(_uint8_image((3, 16, 16))))
    assert picture.mode == "RGB" and picture.size == (16, 16)
    # The ImageNet policy's first sub-policy posterizes to 8 bits (a no-op), then rotates.
    from ember.vision.transforms.autoaugment import _apply_op
    np.testing.assert_array_equal(_apply_op(image, "Posterize", 8.0, InterpolationMode.NEAREST,
                                            None).numpy(), image.numpy())
    with pytest.raises(ValueError, match="The provided operator Blur is not recognized."):
        _apply_op(image, "Blur", 0.0, InterpolationMode.NEAREST, None)
    with pytest.raises(ValueError, match=r"The severity must be between \[1, 10\]"):
        T.AugMix(severity=0)
