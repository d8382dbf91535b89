"""SVHN (Street View House Numbers) from the .mat files ``root/{train,test,extra}_32x32.mat``."""
import os

import numpy as np

from .._optional import pil_image, require
from .utils import DownloadError, check_integrity, download_url, verify_str_arg
from .vision import VisionDataset


class SVHN(VisionDataset):
    """SVHN, one of 'train', 'test', 'extra'; the digit 0 (labelled 10 in the files) is 0 here.
    ``data`` is a uint8 array (N, 3, 32, 32), ``labels`` an int64 array."""

    split_list = {
        "train": ["http://ufldl.stanford.edu/housenumbers/train_32x32.mat", "train_32x32.mat",
                  "e26dedcc434d2e4c54c9b2d4a06d8373"],
        "test": ["http://ufldl.stanford.edu/housenumbers/test_32x32.mat", "test_32x32.mat",
                 "eb5a983be6a315427106f1b164d9cef3"],
        "extra": ["http://ufldl.stanford.edu/housenumbers/extra_32x32.mat", "extra_32x32.mat",
                  "a93ce644f1a588dc4d68dda5feec44a7"],
    }

    def __init__(self, root, split="train", transform=None, target_transform=None,
                 download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", tuple(self.split_list))
        self.url, self.filename, self.file_md5 = self.split_list[split]
        self._download_or_find(download, self._check_integrity,
                               f"Dataset not found or corrupted: {self._path()}")
        scipy_io = require("scipy.io", "ember.vision.datasets.SVHN")
        loaded = scipy_io.loadmat(self._path())
        # The files hold X as (32, 32, 3, N) and y as (N, 1).
        self.data = np.transpose(loaded["X"], (3, 2, 0, 1))
        self.labels = loaded["y"].astype(np.int64).squeeze(axis=1)
        np.place(self.labels, self.labels == 10, 0)

    def _path(self):
        return os.path.join(self.root, self.filename)

    def __getitem__(self, index):
        image = pil_image().fromarray(np.transpose(self.data[index], (1, 2, 0)))
        return self._apply_transforms(image, int(self.labels[index]))

    def __len__(self):
        return len(self.data)

    def _check_integrity(self):
        return check_integrity(self._path(), self.file_md5)

    def download(self):
        try:
            download_url(self.url, self.root, self.filename, self.file_md5)
        except DownloadError as error:
            raise RuntimeError(f"SVHN: {error}") from None

    def extra_repr(self):
        return f"Split: {self.split}"
