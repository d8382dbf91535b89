"""CIFAR-10 and CIFAR-100 from the python-version batches in ``root/cifar-10-batches-py`` and
``root/cifar-100-python``, read with a restricted unpickler.

Each batch is a pickle (written by Python 2) of a dict of str keys, lists of ints and str, and one
uint8 NumPy array (``data``, N x 3072). Arrays are pickled as
``numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), 'b')`` followed by
``ndarray.__setstate__((version, shape, dtype, fortran, raw bytes))``, and the dtype as
``numpy.dtype('u1', False, True)`` plus ``dtype.__setstate__``. The unpickler resolves exactly
these three globals (``numpy._core.multiarray._reconstruct`` too, numpy 2's name) and refuses
every other one, so a file can only build plain containers, strings, numbers and arrays:

- ``numpy.ndarray`` resolves to a marker that is not callable: only ``_reconstruct`` accepts it,
  so ndarray's constructor (which takes a buffer, offset and strides) is unreachable;
- ``_reconstruct`` builds an empty ndarray (never a subclass) of a dtype checked as below;
- ``numpy.dtype`` builds a dtype from a type string and refuses object dtypes.

``__setstate__`` then only fills the array from the pickle's bytes (numpy checks their size). An
object array could only hold what this same unpickler builds, and the loaded tree is checked
to contain no object arrays at all.
"""
import io
import os
import pickle

import numpy as np

from .._optional import pil_image
from .utils import DownloadError, check_integrity, download_and_extract_archive
from .vision import VisionDataset


class _NdarrayMarker:
    """What ``numpy.ndarray`` resolves to in a CIFAR pickle: the subtype argument of
    ``_reconstruct``, nothing else (no __dict__, so a pickle cannot set attributes on it)."""

    __slots__ = ()

    def __reduce__(self):
        raise pickle.PicklingError("the ndarray marker of the CIFAR reader is not picklable")


_NDARRAY = _NdarrayMarker()


def _plain_dtype(spec, align=False, copy=False):
    if not isinstance(spec, (str, bytes)):
        raise pickle.UnpicklingError(f"CIFAR batch: dtype from {type(spec).__name__} refused")
    dtype = np.dtype(spec.decode("latin1") if isinstance(spec, bytes) else spec, bool(align),
                     bool(copy))
    if dtype.hasobject:
        raise pickle.UnpicklingError(f"CIFAR batch: object dtype {dtype} refused")
    return dtype


def _reconstruct(subtype, shape, dtype_spec):
    if subtype is not _NDARRAY:
        raise pickle.UnpicklingError("CIFAR batch: only plain numpy.ndarray may be rebuilt")
    return np.ndarray(tuple(int(size) for size in shape), dtype=_plain_dtype(dtype_spec))


_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _plain_dtype,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"CIFAR batch: refused to load global '{module}.{name}' (only plain containers "
                f"and numpy arrays are allowed)") from None


def _check_plain(value):
    if isinstance(value, np.ndarray) and value.dtype.hasobject:
        raise pickle.UnpicklingError("CIFAR batch: object arrays are refused")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key)
            _check_plain(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_plain(item)


def load_pickle(path):
    """A CIFAR pickle (Python 2 str decoded as latin-1, as torchvision does), restricted to
    plain containers and numpy arrays."""
    with open(path, "rb") as file:
        entry = _RestrictedUnpickler(io.BytesIO(file.read()), encoding="latin1").load()
    _check_plain(entry)
    return entry


class CIFAR10(VisionDataset):
    """CIFAR-10: ``data`` is a uint8 array (N, 32, 32, 3), ``targets`` a list of ints; samples
    are (PIL RGB image, int)."""

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [["data_batch_1", "c99cafc152244af753f735de768cd75f"],
                  ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
                  ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
                  ["data_batch_4", "634d18415352ddfa80567beed471001a"],
                  ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"]]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {"filename": "batches.meta", "key": "label_names",
            "md5": "5ff9c542aee3614f3951f8cda6e48888"}

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        self._download_or_find(download, self._check_integrity,
                               f"Dataset not found or corrupted in "
                               f"{os.path.join(self.root, self.base_folder)}")
        data = []
        self.targets = []
        for file_name, _ in (self.train_list if self.train else self.test_list):
            entry = load_pickle(os.path.join(self.root, self.base_folder, file_name))
            data.append(entry["data"])
            self.targets.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])
        self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))
        self._load_meta()

    def _load_meta(self):
        path = os.path.join(self.root, self.base_folder, self.meta["filename"])
        if not check_integrity(path, self.meta["md5"]):
            raise RuntimeError("Dataset metadata file not found or corrupted. You can use "
                               "download=True to download it")
        self.classes = load_pickle(path)[self.meta["key"]]
        self.class_to_idx = {name: index for index, name in enumerate(self.classes)}

    def __getitem__(self, index):
        image = pil_image().fromarray(self.data[index])
        return self._apply_transforms(image, self.targets[index])

    def __len__(self):
        return len(self.data)

    def _check_integrity(self):
        return all(check_integrity(os.path.join(self.root, self.base_folder, name), md5)
                   for name, md5 in self.train_list + self.test_list)

    def download(self):
        if self._check_integrity():
            print("Files already downloaded and verified")
            return
        try:
            download_and_extract_archive(self.url, self.root, filename=self.filename,
                                         md5=self.tgz_md5)
        except DownloadError as error:
            raise RuntimeError(f"{self.__class__.__name__}: {error} (it unpacks to "
                               f"{os.path.join(self.root, self.base_folder)})") from None

    def extra_repr(self):
        return f"Split: {'Train' if self.train is True else 'Test'}"


class CIFAR100(CIFAR10):
    """CIFAR-100 with its 100 fine labels."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta = {"filename": "meta", "key": "fine_label_names",
            "md5": "7973b15100ade9c7d40fb424638fde48"}
