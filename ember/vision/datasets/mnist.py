"""MNIST, FashionMNIST, KMNIST and EMNIST from the idx-ubyte files in ``root/<Class>/raw``."""
import os
import shutil
import string

import numpy as np

from ..._factories import from_numpy
from .._optional import pil_image
from .utils import (DownloadError, check_integrity, download_and_extract_archive,
                    extract_archive, verify_str_arg)
from .vision import VisionDataset

# idx type codes -> big-endian NumPy dtypes (Lush's libidx format, as torchvision reads it).
_IDX_DTYPES = {8: np.dtype(np.uint8), 9: np.dtype(np.int8), 11: np.dtype(">i2"),
               12: np.dtype(">i4"), 13: np.dtype(">f4"), 14: np.dtype(">f8")}


def read_sn3_pascalvincent_tensor(path, strict=True):
    """An idx file as an array: 4-byte magic (0, 0, type code, number of dims), one big-endian
    int32 per dimension, then the data."""
    with open(path, "rb") as file:
        data = file.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path} is not an idx file (bad magic number)")
    type_code, dims = data[2], data[3]
    if type_code not in _IDX_DTYPES or not 1 <= dims <= 3:
        raise ValueError(f"{path}: unsupported idx type code {type_code} or {dims} dimensions")
    shape = tuple(int(value) for value in np.frombuffer(data, ">i4", count=dims, offset=4))
    parsed = np.frombuffer(data, _IDX_DTYPES[type_code], offset=4 * (dims + 1))
    if strict and parsed.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, found {parsed.size} values")
    return parsed[:int(np.prod(shape))].reshape(shape).astype(
        _IDX_DTYPES[type_code].newbyteorder("="))


def read_label_file(path):
    labels = read_sn3_pascalvincent_tensor(path, strict=False)
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"{path}: expected a 1-D uint8 label file, got {labels.ndim}-D "
                         f"{labels.dtype}")
    return labels.astype(np.int64)


def read_image_file(path):
    images = read_sn3_pascalvincent_tensor(path, strict=False)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"{path}: expected a 3-D uint8 image file, got {images.ndim}-D "
                         f"{images.dtype}")
    return images


class MNIST(VisionDataset):
    """MNIST: ``root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``; ``data`` is a
    uint8 tensor (N, 28, 28), ``targets`` an int64 tensor; samples are (PIL image 'L', int)."""

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    resources = [("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                 ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                 ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        self._download_or_find(download, self._check_exists,
                               f"Dataset not found in {self.raw_folder}")
        data, targets = self._load_data()
        self.data = from_numpy(np.ascontiguousarray(data))
        self.targets = from_numpy(targets)

    @property
    def raw_folder(self):
        return os.path.join(self.root, self.__class__.__name__, "raw")

    @property
    def processed_folder(self):
        return os.path.join(self.root, self.__class__.__name__, "processed")

    @property
    def class_to_idx(self):
        return {name: index for index, name in enumerate(self.classes)}

    def _split_files(self):
        prefix = "train" if self.train else "t10k"
        return (os.path.join(self.raw_folder, f"{prefix}-images-idx3-ubyte"),
                os.path.join(self.raw_folder, f"{prefix}-labels-idx1-ubyte"))

    def _load_data(self):
        images_file, labels_file = self._split_files()
        return read_image_file(images_file), read_label_file(labels_file)

    def _check_exists(self):
        return all(check_integrity(os.path.join(self.raw_folder, os.path.splitext(name)[0]))
                   for name, _ in self.resources)

    def download(self):
        """Fetch and unpack every missing file, trying each mirror in turn."""
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        for filename, md5 in self.resources:
            failures = []
            for mirror in self.mirrors:
                try:
                    download_and_extract_archive(f"{mirror}{filename}", self.raw_folder,
                                                 filename=filename, md5=md5)
                    break
                except DownloadError as error:
                    failures.append(f"{error.url}: {error.reason}")
            else:
                raise RuntimeError(
                    f"{self.__class__.__name__}: could not download {filename} from any mirror "
                    f"({'; '.join(failures)}); download it yourself and put it (or "
                    f"{os.path.splitext(filename)[0]}) in {self.raw_folder}")

    def __getitem__(self, index):
        image = pil_image().fromarray(self.data[index].numpy())
        return self._apply_transforms(image, int(self.targets[index]))

    def __len__(self):
        return len(self.data)

    def extra_repr(self):
        return f"Split: {'Train' if self.train is True else 'Test'}"


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando), in ``root/FashionMNIST/raw``."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                 ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
                 ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                 ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


class KMNIST(MNIST):
    """Kuzushiji-MNIST, in ``root/KMNIST/raw``."""

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
                 ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
                 ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
                 ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134")]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]


class EMNIST(MNIST):
    """EMNIST, one of six splits: ``root/EMNIST/raw/emnist-<split>-{train,test}-...-ubyte``."""

    url = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
    md5 = "58c8d27c78d21e728a6bc7b3cc06412e"
    splits = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
    # Letters whose upper and lower case look alike are merged in bymerge and balanced.
    _merged_classes = {"c", "i", "j", "k", "l", "m", "o", "p", "s", "u", "v", "w", "x", "y", "z"}
    _all_classes = set(string.digits + string.ascii_letters)
    classes_split_dict = {
        "byclass": sorted(_all_classes),
        "bymerge": sorted(_all_classes - _merged_classes),
        "balanced": sorted(_all_classes - _merged_classes),
        "letters": ["N/A"] + list(string.ascii_lowercase),
        "digits": list(string.digits),
        "mnist": list(string.digits),
    }

    def __init__(self, root, split, **kwargs):
        self.split = verify_str_arg(split, "split", self.splits)
        super().__init__(root, **kwargs)
        self.classes = self.classes_split_dict[self.split]

    def _split_files(self):
        prefix = f"emnist-{self.split}-{'train' if self.train else 'test'}"
        return (os.path.join(self.raw_folder, f"{prefix}-images-idx3-ubyte"),
                os.path.join(self.raw_folder, f"{prefix}-labels-idx1-ubyte"))

    def _check_exists(self):
        return all(check_integrity(path) for path in self._split_files())

    def download(self):
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        try:
            download_and_extract_archive(self.url, self.raw_folder, md5=self.md5)
        except DownloadError as error:
            raise RuntimeError(f"EMNIST: {error}; the unpacked emnist-*-ubyte files go in "
                               f"{self.raw_folder}") from None
        gzip_folder = os.path.join(self.raw_folder, "gzip")
        for name in os.listdir(gzip_folder):
            if name.endswith(".gz"):
                extract_archive(os.path.join(gzip_folder, name), self.raw_folder)
        shutil.rmtree(gzip_folder)
