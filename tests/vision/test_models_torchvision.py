"""ember.vision.models against torchvision 0.28 itself: the same state_dict keys, shapes and order
and parameter counts; the same weights after the same seed; the same outputs, gradients and
BatchNorm statistics with torchvision's weights loaded, in eval and in train mode (dropout and
stochastic depth drawn from equal seeds). Skipped where torch or torchvision is missing."""
import copy

import numpy as np
import pytest

import ember
from ember.io import load_torch_state_dict
from ember.vision import models

torch = pytest.importorskip("torch")

# Every builder checked here for structure; the largest are built on torch's meta device.
BUILDERS = [
    "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d",
    "wide_resnet50_2", "wide_resnet101_2", "vgg13", "vgg13_bn", "vgg19", "vgg19_bn",
    "squeezenet1_0", "densenet121", "densenet161", "densenet169", "densenet201",
    "mobilenet_v3_small", "mobilenet_v3_large", *[f"efficientnet_b{index}" for index in range(8)],
    "efficientnet_v2_s", "efficientnet_v2_m",
    "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
    "convnext_tiny", "convnext_small", "convnext_base", "vit_b_16", "vit_b_32", "googlenet",
    "inception_v3", "regnet_y_400mf", "regnet_y_800mf", "regnet_y_1_6gf", "regnet_y_3_2gf",
    "regnet_y_8gf", "regnet_x_400mf", "regnet_x_800mf", "regnet_x_1_6gf", "regnet_x_3_2gf",
    "regnet_x_8gf",
]  # convnext_large, vit_l/h and the largest RegNets (54M to 645M parameters, seconds to build)
# differ from these only in numbers



def _resnext(library):
    """ResNeXt's grouped bottlenecks (resnext50_32x4d's settings), one block per stage."""
    return library.ResNet(library.resnet.Bottleneck, [1, 1, 1, 1], groups=32, width_per_group=4,
                          num_classes=10)


def _densenet(library):
    """DenseNet's dense blocks and transitions, two layers a block, with dropout."""
    return library.DenseNet(growth_rate=8, block_config=(2, 2, 2, 2), num_init_features=16,
                            drop_rate=0.2, num_classes=10)


def _efficientnet(library):
    """EfficientNetV2's fused stages (with and without expansion), then B0's MBConv stages
    (squeeze-excitation, 3x3 and 5x5); residual branches dropped with probability up to 0.5."""
    conf = library.efficientnet.MBConvConfig
    fused = library.efficientnet.FusedMBConvConfig
    setting = [fused(1, 3, 1, 32, 32, 1), fused(4, 3, 2, 32, 16, 2), conf(6, 5, 2, 16, 24, 2),
               conf(6, 3, 1, 24, 24, 2)]
    return library.EfficientNet(setting, dropout=0.3, stochastic_depth_prob=0.5, num_classes=10)


def _convnext(library):
    """Two ConvNeXt stages (one downsampling), branches dropped with probability up to 0.5 and
    scaled by 0.5 so that they count."""
    conf = library.convnext.CNBlockConfig
    return library.ConvNeXt([conf(16, 32, 1), conf(32, None, 2)], stochastic_depth_prob=0.5,
                            layer_scale=0.5, num_classes=10)


def _vit(library):
    """A two-layer ViT on 32x32 images in 8x8 patches, with dropout and attention dropout."""
    return library.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                                     hidden_dim=16, mlp_dim=32, dropout=0.1,
                                     attention_dropout=0.1, num_classes=10)


def _googlenet(library):
    """GoogLeNet with its auxiliary classifiers and transform_input."""
    return library.googlenet(num_classes=10, aux_logits=True, transform_input=True,
                             init_weights=True)


def _inception_v3(library):
    """Inception v3 with its auxiliary classifier, at its smallest input (75x75)."""
    return library.inception_v3(num_classes=10, init_weights=True)


# A small member of each family (built by name with num_classes=10, or by a function of the
# models module), and the image side for the forward and backward checks.
CASES = {
    "squeezenet1_0": 64, "resnext": (_resnext, 64), "densenet": (_densenet, 64),
    "mobilenet_v3_small": 64, "efficientnet": (_efficientnet, 64), "shufflenet_v2_x0_5": 64,
    "convnext": (_convnext, 32), "vit": (_vit, 32), "googlenet": (_googlenet, 64),
    "inception_v3": (_inception_v3, 75), "regnet_y_400mf": 64,
}


def _build(library, name):
    spec = CASES[name]
    if isinstance(spec, tuple):
        return spec[0](library)
    return getattr(library, name)(num_classes=10)


def _side(name):
    spec = CASES[name]
    return spec[1] if isinstance(spec, tuple) else spec


@pytest.fixture(scope="module")
def tvm(torchvision):
    return torchvision.models


def _shapes(state_dict):
    return [(key, tuple(value.shape)) for key, value in state_dict.items()]


@pytest.mark.parametrize("name", BUILDERS)
def test_state_dict_layout_like_torchvision(name, tvm, without_random_init):
    # RegNet's builders read their width rule's tensors, which the meta device cannot
    with torch.device("cpu" if name.startswith("regnet") else "meta"):
        reference = getattr(tvm, name)()
    model = getattr(models, name)()
    assert _shapes(model.state_dict()) == _shapes(reference.state_dict())
    assert sum(parameter.numel() for parameter in model.parameters()) == \
        sum(parameter.numel() for parameter in reference.parameters())


@pytest.mark.parametrize("name", sorted(CASES))
def test_default_init_like_torchvision(name, tvm):
    torch.manual_seed(0)
    reference = _build(tvm, name)
    ember.manual_seed(0)
    model = _build(models, name)
    expected = reference.state_dict()
    result = model.state_dict()
    assert list(result) == list(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(result[key].numpy(), value.numpy(), err_msg=key)


def _assert_close(result, expected, exact, what):
    """``result`` (ember, float32) within 2e-5 of ``exact`` (torch in float64) relative to its
    largest value, or within ten times torch's own float32 error: in train mode BatchNorm's statistics over a few
    values per channel amplify rounding far past 1e-5, differently for each summation order,
    while a wrong layer would be off by the order of the values themselves."""
    scale = max(float(np.abs(exact).max()), 1e-12)
    error = float(np.abs(result.astype(np.float64) - exact).max()) / scale
    reference_error = float(np.abs(expected.astype(np.float64) - exact).max()) / scale
    assert error <= max(10.0 * reference_error, 2e-5), \
        f"{what}: error {error:.3g} of the largest value, torch's float32 {reference_error:.3g}"


def _run(model, images, loss_weights, library):
    """The output, the input's gradient, the parameters' gradients and the buffers after one
    forward and backward pass of ``sum(output * loss_weights)``, as float64 arrays."""
    images = images.clone().requires_grad_()
    library.manual_seed(5)
    output = model(images)
    # GoogLeNet and Inception v3 return their auxiliary logits in training, in a named tuple
    outputs = output._asdict() if isinstance(output, tuple) else {"output": output}
    sum(value * loss_weights for value in outputs.values()).sum().backward()
    arrays = {name: value.detach().numpy() for name, value in outputs.items()}
    arrays["input gradient"] = images.grad.numpy()
    # (auxiliary classifiers get no gradient in eval mode)
    arrays.update({key: parameter.grad.numpy() for key, parameter in model.named_parameters()
                   if parameter.grad is not None})
    arrays.update({key: buffer.numpy() for key, buffer in model.named_buffers()})
    return arrays


# Inception v3's auxiliary classifier needs a 17x17 grid (about 300x300 images): eval mode only.
# GoogLeNet's eval mode is its train mode's path without the auxiliary classifiers.
FORWARD = [(name, training) for name in sorted(CASES) for training in (False, True)
           if (name, training) not in {("inception_v3", True), ("googlenet", False)}]


@pytest.mark.parametrize("name, training", FORWARD,
                         ids=[f"{name}-{'train' if training else 'eval'}"
                              for name, training in FORWARD])
def test_forward_and_gradients_like_torchvision(name, training, tvm, without_random_init):
    side = _side(name)
    torch.manual_seed(0)
    reference = _build(tvm, name)
    model = _build(models, name)
    with torch.no_grad():
        # He-scaled weights keep activations near 1 (Inception's N(0, 0.1) init makes them 1e8,
        # where float32 gradients cancel); 1-d parameters leave their zeros and ones
        for parameter in reference.parameters():
            if parameter.dim() > 1:
                fan_in = parameter[0].numel()
                parameter.normal_(0.0, (2.0 / fan_in) ** 0.5)
            else:
                parameter.add_(torch.randn_like(parameter) * 0.1)
    model.load_state_dict(load_torch_state_dict(reference.state_dict()))
    reference.train(training)
    model.train(training)
    generator = np.random.default_rng(1)
    images = generator.standard_normal((2, 3, side, side), dtype=np.float32)
    loss_weights = generator.standard_normal((2, 10), dtype=np.float32)
    expected = _run(copy.deepcopy(reference), torch.from_numpy(images),
                    torch.from_numpy(loss_weights), torch)
    # torch in float64 is the reference; its float32 run measures how far rounding carries (in
    # Inception v3's input gradient torch's own float32 error is 8e-4, ember's 7e-7)
    exact = _run(reference.double(), torch.from_numpy(images).double(),
                 torch.from_numpy(loss_weights).double(), torch)
    result = _run(model, ember.from_numpy(images), ember.from_numpy(loss_weights), ember)
    assert list(result) == list(expected)
    for key, value in result.items():
        assert value.dtype == expected[key].dtype and value.shape == expected[key].shape, key
        _assert_close(value, expected[key], exact[key], key)


def test_model_registry_like_torchvision(tvm):
    names = models.list_models()
    assert names == sorted(names) and set(names) <= set(tvm.list_models())
    assert set(BUILDERS) <= set(names)
    assert models.list_models(module=models) == names
    for include, exclude in [("resnet*", None), (["vgg1?", "densenet*"], "*_bn"),
                             ("*", ["efficientnet_b[2-7]", "vit*"]), (None, "*net*")]:
        expected = tvm.list_models(module=tvm, include=include, exclude=exclude)
        assert models.list_models(include=include, exclude=exclude) == \
            [name for name in expected if name in names]
    assert models.get_model_builder("ResNet18") is models.resnet18
    model = models.get_model("squeezenet1_0", num_classes=3, dropout=0.0)
    assert isinstance(model, models.SqueezeNet) and model.classifier[1].out_channels == 3
    for library in (models, tvm):
        with pytest.raises(ValueError, match="^Unknown model no_such_net$"):
            library.get_model("No_Such_Net")


def test_builders_fix_their_settings_like_torchvision(tvm):
    for library in (models, tvm):
        with pytest.raises(ValueError, match="^The parameter 'groups' expected value 32 but "
                                             "got 8 instead.$"):
            library.resnext50_32x4d(groups=8)
        with pytest.raises(ValueError, match="^Unsupported SqueezeNet version 2_0: 1_0 or 1_1 "
                                             "expected$"):
            library.SqueezeNet("2_0")
        with pytest.warns(FutureWarning, match="default weight initialization of GoogleNet"):
            library.googlenet(num_classes=2)
