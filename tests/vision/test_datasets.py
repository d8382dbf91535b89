"""ember.vision.datasets on small files in the real formats, written here: idx-ubyte, CIFAR
pickle batches, SVHN .mat, image folders; downloads from file:// mirrors and offline errors."""
import gzip
import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

import ember
from ember.vision import datasets, transforms

PIL_Image = pytest.importorskip("PIL.Image")


def _md5(path):
    return hashlib.md5(open(path, "rb").read()).hexdigest()


def _write_idx(path, array):
    """The idx format: magic (0, 0, type 0x08 = ubyte, dims), big-endian int32 sizes, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">i4").tobytes()
    with open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


def _mnist_files(folder, prefix_train="train", prefix_test="t10k", count=5):
    random = np.random.default_rng(0)
    os.makedirs(folder, exist_ok=True)
    arrays = {}
    for prefix in (prefix_train, prefix_test):
        images = random.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = random.integers(0, 10, count, dtype=np.uint8)
        _write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte"), images)
        _write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte"), labels)
        arrays[prefix] = (images, labels)
    return arrays


@pytest.mark.parametrize("cls", [datasets.MNIST, datasets.FashionMNIST, datasets.KMNIST])
def test_mnist_family_reads_idx_files(tmp_path, cls):
    arrays = _mnist_files(tmp_path / cls.__name__ / "raw")
    for train, prefix in ((True, "train"), (False, "t10k")):
        dataset = cls(tmp_path, train=train)
        images, labels = arrays[prefix]
        assert len(dataset) == 5
        assert dataset.data.dtype == ember.uint8 and dataset.targets.dtype == ember.int64
        image, target = dataset[3]
        assert image.mode == "L" and image.size == (28, 28)
        np.testing.assert_array_equal(np.asarray(image), images[3])
        assert target == int(labels[3]) and isinstance(target, int)
    tensor, _ = cls(tmp_path, transform=transforms.ToTensor())[0]
    np.testing.assert_allclose(tensor.numpy()[0], arrays["train"][0][0] / np.float32(255))


def test_emnist_split_files_and_classes(tmp_path):
    arrays = _mnist_files(tmp_path / "EMNIST" / "raw", "emnist-letters-train",
                          "emnist-letters-test")
    dataset = datasets.EMNIST(tmp_path, split="letters", train=False)
    np.testing.assert_array_equal(np.asarray(dataset[1][0]), arrays["emnist-letters-test"][0][1])
    assert dataset.classes[:3] == ["N/A", "a", "b"]
    assert len(datasets.EMNIST.classes_split_dict["balanced"]) == 47
    with pytest.raises(ValueError, match="Unknown value 'bogus' for argument split"):
        datasets.EMNIST(tmp_path, split="bogus")


def test_mnist_missing_files_and_offline_download(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.MNIST(tmp_path)
    # Port 9 (discard) on the loopback refuses at once: an offline machine in miniature.
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(RuntimeError) as error:
        datasets.MNIST(tmp_path, download=True)
    message = str(error.value)
    assert "\n" not in message
    assert "train-images-idx3-ubyte.gz" in message
    assert str(tmp_path / "MNIST" / "raw") in message
    assert error.value.__context__ is None or error.value.__suppress_context__


def test_mnist_download_from_a_mirror_checks_md5_and_unpacks(tmp_path, monkeypatch):
    source = tmp_path / "mirror"
    arrays = _mnist_files(source)
    resources = []
    for name in sorted(os.listdir(source)):
        with open(source / name, "rb") as raw, gzip.open(source / (name + ".gz"), "wb") as gz:
            gz.write(raw.read())
        resources.append((name + ".gz", _md5(source / (name + ".gz"))))
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:9/",
                                                    source.as_uri() + "/"])
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    dataset = datasets.MNIST(tmp_path / "root", download=True)
    np.testing.assert_array_equal(dataset.data.numpy(), arrays["train"][0])
    monkeypatch.setattr(datasets.MNIST, "resources", [(resources[0][0], "0" * 32)])
    os.remove(tmp_path / "root" / "MNIST" / "raw" / resources[0][0][:-3])
    with pytest.raises(RuntimeError, match=f"could not download {resources[0][0]} from any "
                                           f"mirror .*MD5 mismatch"):
        datasets.MNIST(tmp_path / "root", download=True)


# ---- CIFAR ---------------------------------------------------------------------------------------

class _Python2StylePickler(pickle.Pickler):
    """Pickles ndarrays as the CIFAR files do (written by Python 2's numpy):
    numpy.core.multiarray._reconstruct + ndarray.__setstate__ with the raw bytes as a str."""

    def reducer_override(self, value):
        if isinstance(value, np.ndarray):
            state = (1, value.shape, value.dtype, False, value.tobytes().decode("latin1"))
            return np.ndarray.__reduce__(value)[0], (np.ndarray, (0,), "b"), state
        return NotImplemented


def _pickle_batch(path, entry, legacy_module_name=True):
    buffer = io.BytesIO()
    _Python2StylePickler(buffer, protocol=2).dump(entry)
    data = buffer.getvalue()
    if legacy_module_name:
        data = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    with open(path, "wb") as file:
        file.write(data)


def _cifar_files(root, cls, count=4):
    folder = root / cls.base_folder
    folder.mkdir(parents=True)
    random = np.random.default_rng(1)
    label_key = "labels" if cls is datasets.CIFAR10 else "fine_labels"
    batches = {}
    for index, (name, _) in enumerate(cls.train_list + cls.test_list):
        data = random.integers(0, 256, (count, 3072), dtype=np.uint8)
        labels = random.integers(0, 10, count).tolist()
        entry = {"batch_label": f"batch {index}", label_key: labels, "data": data,
                 "filenames": [f"{i}.png" for i in range(count)]}
        _pickle_batch(folder / name, entry, legacy_module_name=index % 2 == 0)
        batches[name] = (data, labels)
    names = [f"class{i}" for i in range(10 if cls is datasets.CIFAR10 else 100)]
    _pickle_batch(folder / cls.meta["filename"], {cls.meta["key"]: names})
    return batches, names


def _patch_md5s(monkeypatch, cls, root):
    folder = root / cls.base_folder
    monkeypatch.setattr(cls, "train_list", [[name, _md5(folder / name)]
                                            for name, _ in cls.train_list])
    monkeypatch.setattr(cls, "test_list", [[name, _md5(folder / name)]
                                           for name, _ in cls.test_list])
    monkeypatch.setattr(cls, "meta", dict(cls.meta, md5=_md5(folder / cls.meta["filename"])))


@pytest.mark.parametrize("cls", [datasets.CIFAR10, datasets.CIFAR100])
def test_cifar_reads_pickle_batches(tmp_path, monkeypatch, cls):
    batches, names = _cifar_files(tmp_path, cls)
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        cls(tmp_path)  # the real checksums do not match the small files
    _patch_md5s(monkeypatch, cls, tmp_path)
    train = cls(tmp_path, train=True)
    expected = np.concatenate([batches[name][0] for name, _ in cls.train_list])
    expected = expected.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(train.data, expected)
    assert train.targets == sum((batches[name][1] for name, _ in cls.train_list), [])
    assert train.classes == names and train.class_to_idx["class3"] == 3
    image, target = train[len(train) - 1]
    assert image.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(image), expected[-1])
    test = cls(tmp_path, train=False)
    assert len(test) == 4 and test.targets == batches[cls.test_list[0][0]][1]


def test_cifar_reader_refuses_other_globals(tmp_path):
    class Exploit:
        def __reduce__(self):
            return os.system, ("echo should-not-run",)

    path = tmp_path / "data_batch_1"
    with open(path, "wb") as file:
        pickle.dump({"data": Exploit()}, file, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refused to load global"):
        datasets.cifar.load_pickle(path)
    with open(path, "wb") as file:
        pickle.dump({"data": np.array([object()], dtype=object)}, file, protocol=2)
    with pytest.raises(pickle.UnpicklingError):
        datasets.cifar.load_pickle(path)


def test_cifar_download_from_a_file_url(tmp_path, monkeypatch):
    _cifar_files(tmp_path / "build", datasets.CIFAR10)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "build" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    _patch_md5s(monkeypatch, datasets.CIFAR10, tmp_path / "build")
    monkeypatch.setattr(datasets.CIFAR10, "url", archive.as_uri())
    monkeypatch.setattr(datasets.CIFAR10, "tgz_md5", _md5(archive))
    dataset = datasets.CIFAR10(tmp_path / "root", download=True)
    assert len(dataset) == 20
    monkeypatch.setattr(datasets.CIFAR10, "url", "http://127.0.0.1:9/cifar-10-python.tar.gz")
    with pytest.raises(RuntimeError, match=r"could not download cifar-10-python\.tar\.gz .* put "
                                           r"it at .*fresh"):
        datasets.CIFAR10(tmp_path / "fresh", download=True)


# ---- SVHN, folders, FakeData ------------------------------------------------------------------

def test_svhn_reads_mat_files(tmp_path, monkeypatch):
    scipy_io = pytest.importorskip("scipy.io")
    random = np.random.default_rng(2)
    images = random.integers(0, 256, (32, 32, 3, 6), dtype=np.uint8)
    labels = np.array([[10], [1], [2], [10], [9], [3]], dtype=np.uint8)
    scipy_io.savemat(tmp_path / "test_32x32.mat", {"X": images, "y": labels})
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.SVHN(tmp_path, split="test")
    split_list = dict(datasets.SVHN.split_list)
    split_list["test"] = split_list["test"][:2] + [_md5(tmp_path / "test_32x32.mat")]
    monkeypatch.setattr(datasets.SVHN, "split_list", split_list)
    dataset = datasets.SVHN(tmp_path, split="test")
    assert dataset.labels.tolist() == [0, 1, 2, 0, 9, 3]
    image, target = dataset[4]
    np.testing.assert_array_equal(np.asarray(image), images[:, :, :, 4])
    assert target == 9 and dataset.data.shape == (6, 3, 32, 32)


def _image_tree(root):
    random = np.random.default_rng(3)
    written = {}
    for name, files in (("cat", ["b.png", "a.png", "notes.txt"]), ("dog", ["c.jpg"]),
                        ("emu", ["sub/d.bmp"])):
        for file_name in files:
            path = root / name / file_name
            path.parent.mkdir(parents=True, exist_ok=True)
            if file_name.endswith(".txt"):
                path.write_text("not an image")
                continue
            array = random.integers(0, 256, (5, 6, 3), dtype=np.uint8)
            PIL_Image.fromarray(array).save(path)
            written[str(path)] = array
    return written


def test_image_folder(tmp_path):
    written = _image_tree(tmp_path)
    dataset = datasets.ImageFolder(tmp_path, transform=transforms.ToTensor())
    assert dataset.classes == ["cat", "dog", "emu"]
    assert [(os.path.relpath(path, tmp_path), target) for path, target in dataset.samples] == [
        ("cat/a.png", 0), ("cat/b.png", 0), ("dog/c.jpg", 1), ("emu/sub/d.bmp", 2)]
    assert dataset.targets == [0, 0, 1, 2] and dataset.imgs is dataset.samples
    tensor, target = dataset[0]
    np.testing.assert_allclose(tensor.numpy(), written[str(tmp_path / "cat" / "a.png")]
                               .transpose(2, 0, 1) / np.float32(255))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes empty"):
        datasets.ImageFolder(tmp_path)
    assert len(datasets.ImageFolder(tmp_path, allow_empty=True)) == 4


def test_dataset_folder_with_a_custom_loader(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.txt").write_text(name * 3)
    dataset = datasets.DatasetFolder(tmp_path, loader=lambda path: open(path).read(),
                                     extensions=(".txt",))
    assert [dataset[index] for index in range(2)] == [("aaa", 0), ("bbb", 1)]
    with pytest.raises(ValueError, match="Both extensions and is_valid_file"):
        datasets.DatasetFolder(tmp_path, loader=open)


def test_fakedata_is_deterministic_per_index_and_keeps_the_global_stream():
    dataset = datasets.FakeData(size=3, image_size=(3, 6, 5), num_classes=4, random_offset=7)
    ember.manual_seed(123)
    expected_next = ember.rand(3).numpy()
    ember.manual_seed(123)
    first_image, first_target = dataset[1]
    again_image, again_target = dataset[1]
    assert np.array_equal(ember.rand(3).numpy(), expected_next)
    assert first_image.size == (5, 6) and first_image.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(first_image), np.asarray(again_image))
    assert first_target == again_target and isinstance(first_target, int)
    # Sample i is the draw after manual_seed(i + random_offset): randn(image_size), then randint.
    ember.manual_seed(1 + 7)
    noise = ember.randn(3, 6, 5).numpy()
    assert first_target == ember.randint(0, 4, (1,)).item()
    wrapped = np.mod(np.trunc(noise * np.float32(255)), 256).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(first_image), wrapped.transpose(1, 2, 0))
    with pytest.raises(IndexError):
        dataset[3]
    assert len(datasets.FakeData(size=9)) == 9
