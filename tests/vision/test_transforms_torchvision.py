"""ember.vision.transforms against torchvision 0.28 itself: the same images and seeds give the
same pixels (uint8 equal, float32 equal or within 1e-6) and leave both generators at the same
state. Skipped where torch or torchvision is missing."""
import random

import numpy as np
import pytest

import ember
from ember.vision import transforms as T
from ember.vision.transforms import functional as F

torch = pytest.importorskip("torch")
PIL_Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def tv(torchvision):
    import torchvision.transforms as tv_transforms
    return tv_transforms


def _images(seed=0, shape=(2, 3, 19, 23)):
    """(uint8, float32) batched images."""
    generator = np.random.default_rng(seed)
    return (generator.integers(0, 256, shape, dtype=np.uint8),
            generator.random(shape, dtype=np.float32))


def _as_array(image):
    if isinstance(image, (ember.Tensor, torch.Tensor)):
        return image.numpy()
    return np.asarray(image)


def _assert_same(ours, theirs):
    if isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs)
        for mine, other in zip(ours, theirs):
            _assert_same(mine, other)
        return
    if not isinstance(theirs, torch.Tensor):
        assert ours.mode == theirs.mode and ours.size == theirs.size
    ours, theirs = _as_array(ours), _as_array(theirs)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    if ours.dtype.kind == "f":
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    else:
        np.testing.assert_array_equal(ours, theirs)


def _inputs(array):
    """The same image as an ember tensor and a torch tensor."""
    return ember.from_numpy(array.copy()), torch.from_numpy(array.copy())


# ---- functional ---------------------------------------------------------------------------------

_CORNERS = [[0, 0], [22, 0], [22, 18], [0, 18]]
_MOVED = [[3, 1], [20, 2], [21, 17], [1, 14]]

# name, call(F, image) for ember's and torchvision's functional modules alike, dtypes
_FUNCTIONAL = [
    ("affine", lambda f: lambda x: f.affine(x, 30.0, [2, -3], 1.2, [10.0, 5.0]), "uf"),
    ("affine_bilinear_fill", lambda f: lambda x: f.affine(
        x, -17.5, [1, 0], 0.8, [0.0, 12.0], f.InterpolationMode.BILINEAR, fill=[0.25, 0.5, 1.0],
        center=[3, 4]), "uf"),
    ("rotate_expand", lambda f: lambda x: f.rotate(
        x, 33.0, f.InterpolationMode.BILINEAR, expand=True, fill=[0.5]), "uf"),
    ("perspective", lambda f: lambda x: f.perspective(x, _CORNERS, _MOVED), "uf"),
    ("perspective_nearest", lambda f: lambda x: f.perspective(
        x, _CORNERS, _MOVED, f.InterpolationMode.NEAREST, fill=[9.0, 8.0, 7.0]), "uf"),
    ("gaussian_blur_3", lambda f: lambda x: f.gaussian_blur(x, 3), "uf"),
    ("gaussian_blur_5x3", lambda f: lambda x: f.gaussian_blur(x, [5, 3], [1.5, 0.7]), "uf"),
    ("gaussian_blur_9", lambda f: lambda x: f.gaussian_blur(x, 9, 2.0), "uf"),
    ("invert", lambda f: f.invert, "uf"),
    ("posterize_0", lambda f: lambda x: f.posterize(x, 0), "u"),
    ("posterize_3", lambda f: lambda x: f.posterize(x, 3), "u"),
    ("solarize", lambda f: lambda x: f.solarize(
        x, 0.5 if getattr(x, "is_floating_point", lambda: False)() else 128), "uf"),
    ("adjust_sharpness_0", lambda f: lambda x: f.adjust_sharpness(x, 0.0), "uf"),
    ("adjust_sharpness_2", lambda f: lambda x: f.adjust_sharpness(x, 2.0), "uf"),
    ("autocontrast", lambda f: f.autocontrast, "uf"),
    ("equalize", lambda f: f.equalize, "u"),
    ("adjust_gamma", lambda f: lambda x: f.adjust_gamma(x, 0.7, 1.1), "uf"),
    ("five_crop", lambda f: lambda x: f.five_crop(x, (5, 7)), "uf"),
    ("ten_crop", lambda f: lambda x: f.ten_crop(x, 6, vertical_flip=True), "uf"),
]


@pytest.mark.parametrize("name, make, dtypes", _FUNCTIONAL, ids=[row[0] for row in _FUNCTIONAL])
@pytest.mark.parametrize("dtype", ["u", "f"])
def test_functional_tensors_match_torchvision(tv, name, make, dtypes, dtype):
    if dtype not in dtypes:
        pytest.skip(f"torchvision's {name} takes uint8 only")
    uint8, float32 = _images()
    ours, theirs = _inputs(uint8 if dtype == "u" else float32)
    _assert_same(make(F)(ours), make(tv.functional)(theirs))


@pytest.mark.parametrize("name, make, dtypes", _FUNCTIONAL, ids=[row[0] for row in _FUNCTIONAL])
def test_functional_pil_matches_torchvision(tv, name, make, dtypes):
    uint8, _ = _images()
    picture = PIL_Image.fromarray(uint8[0].transpose(1, 2, 0))
    try:
        theirs = make(tv.functional)(picture)
    except ValueError as error:  # pillow's own refusal (posterize to 0 bits)
        with pytest.raises(ValueError, match=str(error)):
            make(F)(picture)
        return
    _assert_same(make(F)(picture), theirs)


def test_equalize_edge_histograms_match_torchvision(tv):
    few_levels = (_images()[0] // 40).astype(np.uint8)
    nearly_constant = np.full((3, 5, 5), 7, np.uint8)
    nearly_constant[0, 0, 0] = 9
    for array in (few_levels, nearly_constant, np.zeros((1, 4, 4), np.uint8)):
        ours, theirs = _inputs(array)
        _assert_same(F.equalize(ours), tv.functional.equalize(theirs))
        _assert_same(F.autocontrast(ours), tv.functional.autocontrast(theirs))


@pytest.mark.parametrize("kernel_size, sigma", [(3, 0.1), (5, 0.8), (7, 3.3), (11, 1.7),
                                                ([13, 5], [4.0, 0.6])])
def test_gaussian_blur_uint8_equal(tv, kernel_size, sigma):
    uint8, _ = _images(seed=3, shape=(3, 24, 26))
    ours, theirs = _inputs(uint8)
    _assert_same(F.gaussian_blur(ours, kernel_size, sigma),
                 tv.functional.gaussian_blur(theirs, kernel_size, sigma))


def test_elastic_transform_matches_torchvision(tv):
    _, float32 = _images()
    displacement = np.random.default_rng(5).uniform(-0.1, 0.1, (1, 19, 23, 2)).astype(np.float32)
    for array in _images():
        ours, theirs = _inputs(array)
        for mode in ("bilinear", "nearest"):
            _assert_same(
                F.elastic_transform(ours, ember.from_numpy(displacement),
                                    F.InterpolationMode(mode), fill=[0.5]),
                tv.functional.elastic_transform(theirs, torch.from_numpy(displacement),
                                                tv.InterpolationMode(mode), fill=[0.5]))


# ---- random transforms: same seed, same draws, same images --------------------------------------

def _same_seeded(make, inputs, seeds=range(4)):
    """make(T)(image) after seeding ember (and Python's random) equals make(torchvision's T)
    after the same seeds, and both generators end at the same state."""
    tv_transforms = pytest.importorskip("torchvision.transforms")
    for seed in seeds:
        for ours_input, theirs_input in inputs:
            ember.manual_seed(seed)
            random.seed(seed)
            ours = make(T)(ours_input)
            ours_next = ember.rand(1).item()
            torch.manual_seed(seed)
            random.seed(seed)
            theirs = make(tv_transforms)(theirs_input)
            _assert_same(ours, theirs)
            assert ours_next == torch.rand(1).item()


def _all_inputs(seed=0, shape=(3, 19, 23)):
    uint8, float32 = _images(seed, shape)
    picture = PIL_Image.fromarray(uint8.transpose(1, 2, 0))
    return [_inputs(uint8), _inputs(float32), (picture, picture)]


_RANDOM = [
    ("RandomGrayscale", lambda t: t.RandomGrayscale(0.5)),
    ("GaussianBlur", lambda t: t.GaussianBlur(5, (0.1, 2.0))),
    ("GaussianBlur_fixed", lambda t: t.GaussianBlur((3, 7), 1.3)),
    ("RandomAffine", lambda t: t.RandomAffine(25, translate=(0.1, 0.2), scale=(0.8, 1.2),
                                              shear=(-5, 5, -3, 3))),
    ("RandomAffine_bilinear", lambda t: t.RandomAffine(
        (-10, 40), shear=8, interpolation=t.InterpolationMode.BILINEAR, fill=(10, 20, 30),
        center=(4, 5))),
    ("RandomPerspective", lambda t: t.RandomPerspective(0.6, p=0.7)),
    ("RandomInvert", lambda t: t.RandomInvert()),
    ("RandomSolarize", lambda t: t.RandomSolarize(0.6)),
    ("RandomAdjustSharpness", lambda t: t.RandomAdjustSharpness(1.8)),
    ("RandomAutocontrast", lambda t: t.RandomAutocontrast()),
    ("RandomChoice", lambda t: t.RandomChoice([t.RandomInvert(1.0), t.GaussianBlur(3),
                                               t.RandomAffine(30)], p=[0.2, 0.3, 0.5])),
    ("RandomOrder", lambda t: t.RandomOrder([t.RandomAffine(20), t.RandomInvert(),
                                             t.GaussianBlur(3)])),
    ("FiveCrop", lambda t: t.FiveCrop(6)),
    ("TenCrop", lambda t: t.TenCrop((5, 8))),
    ("ElasticTransform", lambda t: t.ElasticTransform(alpha=20.0, sigma=2.0)),
    ("RandomHorizontalFlip", lambda t: t.RandomHorizontalFlip()),
    ("RandomApply", lambda t: t.RandomApply([t.RandomInvert(1.0)], p=0.6)),
    ("RandomVerticalFlip", lambda t: t.RandomVerticalFlip()),
    ("RandomRotation", lambda t: t.RandomRotation(30)),
    ("RandomRotation_expand", lambda t: t.RandomRotation(
        (-10, 50), interpolation=t.InterpolationMode.BILINEAR, expand=True, fill=5)),
    ("RandomCrop", lambda t: t.RandomCrop(10, padding=3, padding_mode="reflect")),
    ("ColorJitter", lambda t: t.ColorJitter(0.4, 0.4, 0.4, 0.1)),
]


@pytest.mark.parametrize("name, make", _RANDOM, ids=[row[0] for row in _RANDOM])
def test_random_transforms_match_torchvision(tv, name, make):
    _same_seeded(make, _all_inputs())


def test_random_resized_crop_and_erasing_draw_like_torchvision(tv):
    """The windows are torchvision's; the pixels are compared on PIL images (tensor resize is
    torch's generic float path, see docs/vision.md)."""
    uint8, float32 = _images(shape=(3, 19, 23))
    picture = PIL_Image.fromarray(uint8.transpose(1, 2, 0))
    _same_seeded(lambda t: t.RandomResizedCrop(12, scale=(0.2, 0.9)), [(picture, picture)])
    _same_seeded(lambda t: t.RandomErasing(p=0.8, value="random"), [_inputs(float32)])
    _same_seeded(lambda t: t.RandomErasing(p=0.8, value=(0.1, 0.2, 0.3)), [_inputs(float32)])


def test_uint8_only_random_transforms_match_torchvision(tv):
    uint8, _ = _images(shape=(3, 19, 23))
    picture = PIL_Image.fromarray(uint8.transpose(1, 2, 0))
    inputs = [_inputs(uint8), (picture, picture)]
    _same_seeded(lambda t: t.RandomPosterize(2, p=0.7), inputs)
    _same_seeded(lambda t: t.RandomEqualize(), inputs)


@pytest.mark.parametrize("policy", ["IMAGENET", "CIFAR10", "SVHN"])
def test_auto_augment_matches_torchvision(tv, policy):
    uint8, _ = _images(seed=1, shape=(3, 24, 20))
    picture = PIL_Image.fromarray(uint8.transpose(1, 2, 0))
    inputs = [_inputs(uint8), (picture, picture)]
    _same_seeded(lambda t: t.AutoAugment(getattr(t.AutoAugmentPolicy, policy), fill=[40, 50, 60]),
                 inputs, seeds=range(12))


def test_rand_augment_and_trivial_augment_match_torchvision(tv):
    uint8, _ = _images(seed=2, shape=(2, 3, 24, 20))
    picture = PIL_Image.fromarray(uint8[0].transpose(1, 2, 0))
    inputs = [_inputs(uint8), (picture, picture)]
    _same_seeded(lambda t: t.RandAugment(num_ops=3, magnitude=12), inputs, seeds=range(10))
    _same_seeded(lambda t: t.RandAugment(interpolation=t.InterpolationMode.BILINEAR, fill=7),
                 inputs, seeds=range(4))
    _same_seeded(lambda t: t.TrivialAugmentWide(), inputs, seeds=range(12))


def test_augmix_matches_torchvision(tv):
    uint8, _ = _images(seed=4, shape=(3, 24, 20))
    picture = PIL_Image.fromarray(uint8.transpose(1, 2, 0))
    inputs = [_inputs(uint8), (picture, picture)]
    _same_seeded(lambda t: t.AugMix(), inputs, seeds=range(6))
    _same_seeded(lambda t: t.AugMix(severity=5, mixture_width=2, chain_depth=2, alpha=0.5,
                                    all_ops=False), inputs, seeds=range(3))


def test_linear_transformation_matches_torchvision(tv):
    _, float32 = _images(shape=(2, 2, 3))
    matrix = np.random.default_rng(1).standard_normal((12, 12)).astype(np.float32)
    mean = np.random.default_rng(2).random(12, dtype=np.float32)
    ours = T.LinearTransformation(ember.from_numpy(matrix), ember.from_numpy(mean))
    theirs = tv.LinearTransformation(torch.from_numpy(matrix), torch.from_numpy(mean))
    np.testing.assert_allclose(ours(ember.from_numpy(float32)).numpy(),
                               theirs(torch.from_numpy(float32)).numpy(), rtol=1e-5, atol=1e-5)


_REPRS = [
    lambda t: t.RandomGrayscale(),
    lambda t: t.GaussianBlur(5, sigma=(0.2, 1.0)),
    lambda t: t.RandomAffine(10),
    lambda t: t.RandomAffine((-5, 5), translate=(0.1, 0.1), scale=(0.9, 1.1), shear=3,
                             interpolation=t.InterpolationMode.BILINEAR, fill=1, center=(1, 2)),
    lambda t: t.RandomPerspective(),
    lambda t: t.RandomInvert(0.3),
    lambda t: t.RandomPosterize(4),
    lambda t: t.RandomSolarize(100, 0.2),
    lambda t: t.RandomAdjustSharpness(2),
    lambda t: t.RandomAutocontrast(),
    lambda t: t.RandomEqualize(),
    lambda t: t.FiveCrop(4),
    lambda t: t.TenCrop([4, 5], True),
    lambda t: t.ElasticTransform(),
    lambda t: t.RandomChoice([t.RandomInvert()], p=[1.0]),
    lambda t: t.RandomOrder([t.RandomInvert(), t.RandomEqualize()]),
    lambda t: t.AutoAugment(),
    lambda t: t.RandAugment(),
    lambda t: t.TrivialAugmentWide(),
    lambda t: t.AugMix(),
]


@pytest.mark.parametrize("index", range(len(_REPRS)))
def test_reprs_match_torchvision(tv, index):
    assert repr(_REPRS[index](T)) == repr(_REPRS[index](tv))


_ERRORS = [
    lambda t: t.GaussianBlur(4),
    lambda t: t.GaussianBlur(3, sigma=(2.0, 1.0)),
    lambda t: t.GaussianBlur(3, sigma=-1),
    lambda t: t.GaussianBlur(3, sigma=(1, 2, 3)),
    lambda t: t.RandomAffine(-3),
    lambda t: t.RandomAffine(3, translate=(0.5, 1.5)),
    lambda t: t.RandomAffine(3, scale=(0.0, 1.0)),
    lambda t: t.RandomAffine(3, shear=(1, 2, 3)),
    lambda t: t.RandomAffine(3, center=(1,)),
    lambda t: t.ElasticTransform(alpha=5),
    lambda t: t.ElasticTransform(sigma=(1.0, 2.0, 3.0)),
    lambda t: t.ElasticTransform(fill="black"),
    lambda t: t.RandomChoice(t.RandomInvert()),
    lambda t: t.RandomChoice([t.RandomInvert()], p=0.5),
    lambda t: t.AugMix(severity=11),
    lambda t: t.FiveCrop((1, 2, 3)),
    lambda t: t.functional.gaussian_blur(_TENSORS[t.__name__], 4),
    lambda t: t.functional.gaussian_blur(_TENSORS[t.__name__], 3, 0.0),
    lambda t: t.functional.gaussian_blur(_TENSORS[t.__name__], 3.0),
    lambda t: t.functional.posterize(_TENSORS[t.__name__], 9),
    lambda t: t.functional.posterize(_TENSORS[t.__name__].float(), 3),
    lambda t: t.functional.solarize(_TENSORS[t.__name__], 300),
    lambda t: t.functional.invert(_TENSORS[t.__name__][:2]),
    lambda t: t.functional.equalize(_TENSORS[t.__name__][None, None]),
    lambda t: t.functional.five_crop(_TENSORS[t.__name__], 9),
    lambda t: t.functional.affine(_TENSORS[t.__name__], 1.0, [1], 1.0, 0.0),
    lambda t: t.functional.affine(_TENSORS[t.__name__], 1.0, [1, 1], 0.0, 0.0),
    lambda t: t.functional.affine(_TENSORS[t.__name__], 1.0, [1, 1], 1.0, [1.0, 2.0, 3.0]),
    lambda t: t.functional.affine(_TENSORS[t.__name__], 1.0, [1, 1], 1.0, 0.0, fill=[1, 2]),
    lambda t: t.functional.affine(_TENSORS[t.__name__], 1.0, [1, 1], 1.0, 0.0,
                                  interpolation=t.InterpolationMode.BICUBIC),
    lambda t: t.functional.perspective(_TENSORS[t.__name__], [[0, 0]] * 3, [[0, 0]] * 4),
]

_TENSORS = {"ember.vision.transforms": ember.zeros(3, 6, 6, dtype=ember.uint8),
            "torchvision.transforms": torch.zeros(3, 6, 6, dtype=torch.uint8)}


@pytest.mark.parametrize("index", range(len(_ERRORS)))
def test_errors_match_torchvision(tv, index):
    with pytest.raises(Exception) as theirs:
        _ERRORS[index](tv)
    with pytest.raises(type(theirs.value)) as ours:
        _ERRORS[index](T)
    assert str(ours.value) == str(theirs.value)
