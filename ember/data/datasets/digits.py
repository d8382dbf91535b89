"""Digits: the 8x8 handwritten digits scikit-learn ships (1,797 images, 10 classes), no download."""
import numpy as np

from ..._extras import install_hint
from ...tensor import Tensor
from ..dataset import Dataset

__all__ = ["Digits"]

_TEST_FRACTION = 0.2
_cache = {}


def _load():
    """(images uint8 (N, 8, 8) with values 0..16, labels int64 (N,)), read once per process."""
    if "arrays" not in _cache:
        try:
            # scikit-learn is optional (the demo extra) and slow to import: only when needed.
            from sklearn.datasets import load_digits
        except ImportError as error:
            raise ModuleNotFoundError(
                f"ember.datasets.Digits needs scikit-learn: {install_hint('demo')}",
                name="sklearn") from error
        bunch = load_digits()
        images = np.asarray(bunch.images).astype(np.uint8)
        labels = np.asarray(bunch.target).astype(np.int64)
        _cache["arrays"] = (images, labels)
    return _cache["arrays"]


def _split(labels):
    """A fixed stratified split: per class, the 20% with the smallest hash key go to the test set.

    The key is a multiplicative hash of the sample index, so the split depends on no random
    stream and no library version.
    """
    keys = (np.arange(labels.shape[0], dtype=np.uint64) * np.uint64(2654435761)
            + np.uint64(12345)) % np.uint64(2 ** 32)
    is_test = np.zeros(labels.shape[0], dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        test_count = int(round(members.shape[0] * _TEST_FRACTION))
        order = np.argsort(keys[members], kind="stable")
        is_test[members[order[:test_count]]] = True
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


class Digits(Dataset):
    """8x8 digit images: items are ``(image, label)``, image a float32 (1, 8, 8) tensor in [0, 1].

    ``train=True`` gives the fixed 80% per-class training split, ``train=False`` the other 20%.
    ``data`` holds the raw uint8 images (values 0..16), ``targets`` the int64 labels.
    """

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root=None, train=True, transform=None, target_transform=None):
        self.root = root
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        images, labels = _load()
        train_indices, test_indices = _split(labels)
        indices = train_indices if train else test_indices
        self.data = Tensor._wrap(images[indices])
        self.targets = Tensor._wrap(labels[indices])
        self._images = (images[indices].astype(np.float32) / np.float32(16.0))[:, None]
        self._labels = labels[indices].tolist()

    def __len__(self):
        return len(self._labels)

    def __getitem__(self, index):
        image = Tensor._wrap(self._images[index].copy())
        label = self._labels[index]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    @property
    def class_to_idx(self):
        return {name: index for index, name in enumerate(self.classes)}

    def __repr__(self):
        split = "Train" if self.train else "Test"
        return f"Dataset Digits\n    Number of datapoints: {len(self)}\n    Split: {split}"
