"""ember.vision.models: torchvision's parameter counts and state_dict keys, default init, and
equal eval-mode outputs with the same architecture written in torch, loaded with ember's weights."""
import numpy as np
import pytest

import ember
from ember.io import to_torch_state_dict
from ember.vision import models
from ember.vision.models._api import MODEL_WEIGHTS

# torchvision's documented parameter counts (ImageNet heads, 1000 classes).
DOCUMENTED_PARAMETERS = {
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "vgg11": 132_863_336, "vgg11_bn": 132_868_840, "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992, "mobilenet_v2": 3_504_872, "alexnet": 61_100_840,
    "squeezenet1_1": 1_235_496,
}

# A few keys and shapes of torchvision's state_dicts, one per distinctive part of each model.
DOCUMENTED_KEYS = {
    "resnet18": {"conv1.weight": (64, 3, 7, 7), "layer1.0.bn2.running_var": (64,),
                 "layer2.0.downsample.0.weight": (128, 64, 1, 1),
                 "layer4.1.conv2.weight": (512, 512, 3, 3), "fc.weight": (1000, 512)},
    "resnet34": {"layer3.5.conv2.weight": (256, 256, 3, 3), "fc.bias": (1000,)},
    "resnet50": {"layer1.0.conv3.weight": (256, 64, 1, 1),
                 "layer4.2.bn3.num_batches_tracked": (), "fc.weight": (1000, 2048)},
    "vgg11": {"features.0.weight": (64, 3, 3, 3), "features.18.weight": (512, 512, 3, 3),
              "classifier.0.weight": (4096, 25088), "classifier.6.weight": (1000, 4096)},
    "vgg11_bn": {"features.1.running_mean": (64,), "features.26.weight": (512,)},
    "vgg16": {"features.28.weight": (512, 512, 3, 3), "classifier.3.weight": (4096, 4096)},
    "vgg16_bn": {"features.41.weight": (512,), "features.40.weight": (512, 512, 3, 3)},
    "mobilenet_v2": {"features.0.0.weight": (32, 3, 3, 3), "features.1.conv.0.0.weight":
                     (32, 1, 3, 3), "features.1.conv.1.weight": (16, 32, 1, 1),
                     "features.2.conv.0.0.weight": (96, 16, 1, 1),
                     "features.17.conv.3.running_var": (320,),
                     "features.18.0.weight": (1280, 320, 1, 1),
                     "classifier.1.weight": (1000, 1280)},
    "alexnet": {"features.0.weight": (64, 3, 11, 11), "features.10.weight": (256, 256, 3, 3),
                "classifier.1.weight": (4096, 9216), "classifier.6.weight": (1000, 4096)},
    "squeezenet1_1": {"features.0.weight": (64, 3, 3, 3),
                      "features.3.expand3x3.weight": (64, 16, 3, 3),
                      "features.12.squeeze.weight": (64, 512, 1, 1),
                      "classifier.1.weight": (1000, 512, 1, 1)},
}


@pytest.mark.parametrize("name", sorted(DOCUMENTED_PARAMETERS))
def test_parameter_count_and_keys(name, without_random_init):
    model = getattr(models, name)()
    assert sum(parameter.numel() for parameter in model.parameters()) == \
        DOCUMENTED_PARAMETERS[name]
    state_dict = model.state_dict()
    for key, shape in DOCUMENTED_KEYS[name].items():
        assert tuple(state_dict[key].shape) == shape, key


def test_resnet_default_init():
    model = models.resnet18(num_classes=10, zero_init_residual=True)
    conv = model.layer3[0].conv1.weight.detach().numpy()
    fan_out = conv.shape[0] * conv.shape[2] * conv.shape[3]
    # kaiming_normal_(mode="fan_out", nonlinearity="relu"): std = sqrt(2 / fan_out).
    assert abs(conv.std() / np.sqrt(2.0 / fan_out) - 1) < 0.05
    assert abs(conv.mean()) < 0.01
    assert np.all(model.layer1[0].bn1.weight.detach().numpy() == 1)
    assert np.all(model.layer1[0].bn1.bias.detach().numpy() == 0)
    assert np.all(model.layer1[0].bn2.weight.detach().numpy() == 0)  # zero_init_residual
    assert np.all(models.resnet18().layer1[0].bn2.weight.detach().numpy() == 1)


def test_mobilenet_and_squeezenet_default_init():
    mobilenet = models.mobilenet_v2()
    linear = mobilenet.classifier[1].weight.detach().numpy()
    assert abs(linear.std() - 0.01) < 0.0005
    assert np.all(mobilenet.classifier[1].bias.detach().numpy() == 0)
    squeezenet = models.squeezenet1_1()
    final = squeezenet.classifier[1].weight.detach().numpy()
    assert abs(final.std() - 0.01) < 0.001
    squeeze = squeezenet.features[3].squeeze.weight.detach().numpy()
    # kaiming_uniform_ defaults (a=0, fan_in, leaky_relu): bound = sqrt(6 / fan_in).
    assert squeeze.max() <= np.sqrt(6.0 / 64) and squeeze.max() > 0.9 * np.sqrt(6.0 / 64)
    assert np.all(squeezenet.features[3].squeeze.bias.detach().numpy() == 0)


def test_weights_from_a_local_safetensors_file(tmp_path):
    source = models.squeezenet1_1(num_classes=5)
    path = tmp_path / "squeezenet1_1.safetensors"
    ember.save(source.state_dict(), path)
    loaded = models.squeezenet1_1(num_classes=5, weights=path)
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key].numpy(), value.numpy())


def test_pretrained_without_a_file_is_a_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match="pretrained=True needs torchvision's weights"):
        models.resnet18(pretrained=True)
    with pytest.raises(FileNotFoundError, match="'IMAGENET2K_V9' is not a file"):
        models.resnet18(weights="IMAGENET2K_V9")
    # torchvision's entries (or their names) are downloads, which ember does not make
    for weights in (models.ResNet18_Weights.DEFAULT, "IMAGENET1K_V1",
                    "ResNet18_Weights.IMAGENET1K_V1"):
        with pytest.raises(RuntimeError, match=r"weights=ResNet18_Weights.IMAGENET1K_V1 are "
                                               r"torchvision's download \(https://download"):
            models.resnet18(weights=weights)
    with pytest.raises(TypeError, match="expected ResNet18_Weights but received VGG16_Weights"):
        models.resnet18(weights=models.VGG16_Weights.DEFAULT)


def _describe(weights_enum, get_weight):
    """What a weights enum tells: entries, DEFAULT, url, counts, preset transform settings."""
    entries = []
    for entry in weights_enum:
        preset = entry.transforms()
        entries.append((repr(entry), entry.url, entry.meta["num_params"], entry.meta["min_size"],
                        preset.crop_size, preset.resize_size, preset.mean, preset.std,
                        preset.interpolation.value, preset.antialias))
    return (entries, weights_enum.DEFAULT.name, repr(weights_enum.verify("DEFAULT")),
            repr(get_weight(f"{weights_enum.__name__}.{weights_enum.DEFAULT.name}")))


@pytest.mark.parametrize("name", sorted(MODEL_WEIGHTS))
def test_weight_enums_like_torchvision(torchvision, name):
    # torchmetrics imports torchvision.models.VGG16_Weights when torchvision is installed
    theirs = torchvision.models.get_model_weights(name)
    ours = models.get_model_weights(name)
    assert ours.__name__ == theirs.__name__ and getattr(models, ours.__name__) is ours
    assert _describe(ours, models.get_weight) == _describe(theirs, torchvision.models.get_weight)


def test_image_classification_preset_like_torchvision(torchvision, torch):
    # a float image: torchvision resizes uint8 tensors with its own rounding (docs/vision.md)
    image = np.random.default_rng(0).random((3, 40, 50), dtype=np.float32)
    ours = models.ResNet50_Weights.DEFAULT.transforms()
    theirs = torchvision.models.ResNet50_Weights.DEFAULT.transforms()
    ours.crop_size, ours.resize_size = [24], [30]
    theirs.crop_size, theirs.resize_size = [24], [30]
    expected = theirs(torch.from_numpy(image)).numpy()
    result = ours(ember.from_numpy(image)).numpy()
    assert result.dtype == expected.dtype and result.shape == expected.shape == (3, 24, 24)
    np.testing.assert_allclose(result, expected, atol=1e-5)


# ---- the same architectures written in torch -------------------------------------------------

def _torch_resnet18(torch, num_classes):
    tnn = torch.nn

    class Block(tnn.Module):
        def __init__(self, inplanes, planes, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.relu = tnn.ReLU()
            self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or inplanes != planes:
                self.downsample = tnn.Sequential(tnn.Conv2d(inplanes, planes, 1, stride,
                                                            bias=False), tnn.BatchNorm2d(planes))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            return self.relu(out + identity)

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = tnn.BatchNorm2d(64)
            self.relu = tnn.ReLU()
            self.maxpool = tnn.MaxPool2d(3, 2, 1)
            widths = [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]
            for index, (inplanes, planes, stride) in enumerate(widths):
                setattr(self, f"layer{index + 1}", tnn.Sequential(
                    Block(inplanes, planes, stride), Block(planes, planes, 1)))
            self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
            self.fc = tnn.Linear(512, num_classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return Net()


def _torch_conv_bn(torch, inp, oup, kernel, stride, groups):
    tnn = torch.nn
    return tnn.Sequential(tnn.Conv2d(inp, oup, kernel, stride, (kernel - 1) // 2, groups=groups,
                                     bias=False), tnn.BatchNorm2d(oup), tnn.ReLU6())


def _torch_mobilenet_v2(torch, num_classes):
    tnn = torch.nn

    class Inverted(tnn.Module):
        def __init__(self, inp, oup, stride, expand):
            super().__init__()
            hidden = int(round(inp * expand))
            self.use_res_connect = stride == 1 and inp == oup
            layers = [] if expand == 1 else [_torch_conv_bn(torch, inp, hidden, 1, 1, 1)]
            layers += [_torch_conv_bn(torch, hidden, hidden, 3, stride, hidden),
                       tnn.Conv2d(hidden, oup, 1, 1, 0, bias=False), tnn.BatchNorm2d(oup)]
            self.conv = tnn.Sequential(*layers)

        def forward(self, x):
            return x + self.conv(x) if self.use_res_connect else self.conv(x)

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            features = [_torch_conv_bn(torch, 3, 32, 3, 2, 1)]
            channels = 32
            for expand, out, repeats, stride in [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2],
                                                 [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2],
                                                 [6, 320, 1, 1]]:
                for index in range(repeats):
                    features.append(Inverted(channels, out, stride if index == 0 else 1, expand))
                    channels = out
            features.append(_torch_conv_bn(torch, channels, 1280, 1, 1, 1))
            self.features = tnn.Sequential(*features)
            self.classifier = tnn.Sequential(tnn.Dropout(0.2), tnn.Linear(1280, num_classes))

        def forward(self, x):
            x = torch.nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
            return self.classifier(torch.flatten(x, 1))

    return Net()


def _torch_vgg11_bn(torch, num_classes):
    tnn = torch.nn

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            layers = []
            channels = 3
            for value in [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]:
                if value == "M":
                    layers.append(tnn.MaxPool2d(2, 2))
                else:
                    layers += [tnn.Conv2d(channels, value, 3, padding=1), tnn.BatchNorm2d(value),
                               tnn.ReLU()]
                    channels = value
            self.features = tnn.Sequential(*layers)
            self.avgpool = tnn.AdaptiveAvgPool2d((7, 7))
            self.classifier = tnn.Sequential(
                tnn.Linear(25088, 4096), tnn.ReLU(), tnn.Dropout(), tnn.Linear(4096, 4096),
                tnn.ReLU(), tnn.Dropout(), tnn.Linear(4096, num_classes))

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    return Net()


def _torch_squeezenet1_1(torch, num_classes):
    tnn = torch.nn

    class Fire(tnn.Module):
        def __init__(self, inplanes, squeeze, expand1, expand3):
            super().__init__()
            self.squeeze = tnn.Conv2d(inplanes, squeeze, 1)
            self.expand1x1 = tnn.Conv2d(squeeze, expand1, 1)
            self.expand3x3 = tnn.Conv2d(squeeze, expand3, 3, padding=1)

        def forward(self, x):
            x = torch.relu(self.squeeze(x))
            return torch.cat([torch.relu(self.expand1x1(x)), torch.relu(self.expand3x3(x))], 1)

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(
                tnn.Conv2d(3, 64, 3, 2), tnn.ReLU(), tnn.MaxPool2d(3, 2, ceil_mode=True),
                Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), tnn.MaxPool2d(3, 2, ceil_mode=True),
                Fire(128, 32, 128, 128), Fire(256, 32, 128, 128),
                tnn.MaxPool2d(3, 2, ceil_mode=True), Fire(256, 48, 192, 192),
                Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256))
            self.classifier = tnn.Sequential(tnn.Dropout(), tnn.Conv2d(512, num_classes, 1),
                                             tnn.ReLU(), tnn.AdaptiveAvgPool2d((1, 1)))

        def forward(self, x):
            return torch.flatten(self.classifier(self.features(x)), 1)

    return Net()


def _randomise(model, seed):
    """Random weights and BatchNorm running statistics, fast (float32 straight from NumPy), so
    eval mode exercises every buffer."""
    random = np.random.default_rng(seed)
    with ember.no_grad():
        for name, value in model.state_dict(keep_vars=True).items():
            if name.endswith("num_batches_tracked"):
                continue
            array = random.standard_normal(tuple(value.shape), dtype=np.float32)
            if name.endswith("running_var"):
                array = np.abs(array) + np.float32(0.5)
            elif len(value.shape) > 1:
                fan_in = int(np.prod(value.shape[1:]))
                array *= np.float32(np.sqrt(2.0 / fan_in))
            value.copy_(ember.from_numpy(array))


TORCH_ARCHITECTURES = {
    "resnet18": (_torch_resnet18, 64), "mobilenet_v2": (_torch_mobilenet_v2, 64),
    "vgg11_bn": (_torch_vgg11_bn, 32), "squeezenet1_1": (_torch_squeezenet1_1, 64),
}


@pytest.mark.parametrize("name", sorted(TORCH_ARCHITECTURES))
def test_eval_outputs_equal_torch(name, torch, without_random_init):
    build_torch, image_size = TORCH_ARCHITECTURES[name]
    model = getattr(models, name)(num_classes=7)
    _randomise(model, seed=1)
    reference = build_torch(torch, 7)
    reference.load_state_dict(to_torch_state_dict(model.state_dict()), strict=True)
    assert list(reference.state_dict()) == list(model.state_dict())
    images = np.random.default_rng(2).standard_normal((2, 3, image_size, image_size),
                                                      dtype=np.float32)
    model.eval()
    reference.eval()
    with ember.no_grad():
        output = model(ember.from_numpy(images)).numpy()
    with torch.no_grad():
        expected = reference(torch.from_numpy(images)).numpy()
    scale = np.abs(expected).max()
    np.testing.assert_allclose(output / scale, expected / scale, atol=2e-5)


def test_weights_converted_with_safetensors_torch(torch, tmp_path, without_random_init):
    """The documented conversion: torchvision's state_dict saved by safetensors.torch."""
    safetensors_torch = pytest.importorskip("safetensors.torch")
    reference = _torch_squeezenet1_1(torch, 1000)
    path = tmp_path / "squeezenet1_1.safetensors"
    safetensors_torch.save_file(reference.state_dict(), str(path))
    model = models.squeezenet1_1(weights=str(path))
    for key, value in reference.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), value.numpy())
