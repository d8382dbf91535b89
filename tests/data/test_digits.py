"""ember.datasets.Digits: sizes, the fixed stratified split, items, the missing-extra error."""
import sys

import numpy as np
import pytest

import ember
from ember.data.datasets import digits as digits_module
from ember.datasets import Digits


@pytest.fixture(scope="module")
def splits():
    pytest.importorskip("sklearn")
    return Digits(train=True), Digits(train=False)


def test_sizes_add_up(splits):
    train, test = splits
    assert len(train) + len(test) == 1797
    assert len(test) == pytest.approx(0.2 * 1797, abs=10)
    assert train.data.shape == (len(train), 8, 8) and train.data.dtype == ember.uint8
    assert train.targets.shape == (len(train),) and train.targets.dtype == ember.int64


def test_split_is_disjoint_and_covers_everything(splits):
    from sklearn.datasets import load_digits
    full = load_digits()
    train, test = splits
    train_indices, test_indices = digits_module._split(full.target)
    assert np.intersect1d(train_indices, test_indices).size == 0
    assert sorted(np.concatenate([train_indices, test_indices]).tolist()) == list(range(1797))
    combined = np.concatenate([train.data.numpy(), test.data.numpy()]).reshape(1797, 64)
    expected = full.images.astype(np.uint8).reshape(1797, 64)
    as_rows = lambda array: sorted(map(bytes, array))  # noqa: E731
    assert as_rows(combined) == as_rows(expected)


def test_split_is_stratified_and_fixed(splits):
    train, test = splits
    train_counts = np.bincount(train.targets.numpy(), minlength=10)
    test_counts = np.bincount(test.targets.numpy(), minlength=10)
    for train_count, test_count in zip(train_counts, test_counts):
        assert test_count == round(0.2 * (train_count + test_count))
    again = Digits(train=False)
    np.testing.assert_array_equal(again.targets.numpy(), test.targets.numpy())
    np.testing.assert_array_equal(again.data.numpy(), test.data.numpy())


def test_items(splits):
    train, _ = splits
    image, label = train[5]
    assert isinstance(image, ember.Tensor)
    assert image.shape == (1, 8, 8) and image.dtype == ember.float32
    assert isinstance(label, int) and 0 <= label <= 9
    assert label == int(train.targets[5])
    np.testing.assert_allclose(image.numpy()[0], train.data.numpy()[5] / 16.0)
    values = np.stack([train[index][0].numpy() for index in range(len(train))])
    assert values.min() == 0.0 and values.max() == 1.0
    image.mul_(0)
    assert float(train[5][0].sum()) > 0
    assert train.classes[label].startswith(str(label))
    assert len(train.classes) == 10


def test_transforms():
    pytest.importorskip("sklearn")
    dataset = Digits(train=False, transform=lambda image: image.reshape(-1),
                     target_transform=lambda label: label + 100)
    image, label = dataset[0]
    assert image.shape == (64,) and label >= 100


def test_batches_through_a_loader(splits):
    _, test = splits
    images, labels = next(iter(ember.data.DataLoader(test, batch_size=32)))
    assert images.shape == (32, 1, 8, 8) and images.dtype == ember.float32
    assert labels.dtype == ember.int64


def test_missing_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setattr(digits_module, "_cache", {})
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError,
                       match=r"pip install '\.\[demo\]' in the ember checkout") as error:
        Digits()
    assert "ember.datasets.Digits needs scikit-learn" in str(error.value)
