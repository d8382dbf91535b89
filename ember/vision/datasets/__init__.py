"""torchvision.datasets: the standard files read from ``root`` in torchvision's layout."""
from .cifar import CIFAR10, CIFAR100  # noqa: F401
from .fakedata import FakeData  # noqa: F401
from .folder import DatasetFolder, ImageFolder  # noqa: F401
from .mnist import EMNIST, KMNIST, MNIST, FashionMNIST  # noqa: F401
from .svhn import SVHN  # noqa: F401
from .vision import StandardTransform, VisionDataset  # noqa: F401

__all__ = ["CIFAR10", "CIFAR100", "DatasetFolder", "EMNIST", "FakeData", "FashionMNIST",
           "ImageFolder", "KMNIST", "MNIST", "SVHN", "StandardTransform", "VisionDataset"]
