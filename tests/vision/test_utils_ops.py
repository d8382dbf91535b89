"""ember.vision.utils (make_grid, save_image, draw_bounding_boxes) and ember.vision.ops (boxes)
against their definitions."""
import math

import numpy as np
import pytest

import ember
from ember.vision import ops, utils

PIL_Image = pytest.importorskip("PIL.Image")


def _grid_by_definition(images, nrow, padding, pad_value):
    """torchvision's make_grid written as its loop: tile k at row k // columns, column
    k % columns, offset by `padding` inside each (H + padding) x (W + padding) cell."""
    count, channels, height, width = images.shape
    columns = min(nrow, count)
    rows = int(math.ceil(count / columns))
    cell_height, cell_width = height + padding, width + padding
    grid = np.full((channels, rows * cell_height + padding, columns * cell_width + padding),
                   pad_value, dtype=images.dtype)
    for index in range(count):
        top = (index // columns) * cell_height + padding
        left = (index % columns) * cell_width + padding
        grid[:, top:top + height, left:left + width] = images[index]
    return grid


@pytest.mark.parametrize("count, nrow, padding", [(5, 2, 2), (8, 8, 0), (3, 4, 1), (7, 3, 3)])
def test_make_grid_matches_the_definition(count, nrow, padding):
    images = np.random.default_rng(count).random((count, 3, 4, 5), dtype=np.float32)
    grid = utils.make_grid(ember.from_numpy(images), nrow=nrow, padding=padding, pad_value=0.5)
    np.testing.assert_array_equal(grid.numpy(), _grid_by_definition(images, nrow, padding, 0.5))


def test_make_grid_inputs_and_normalize():
    images = np.random.default_rng(0).random((2, 1, 3, 3), dtype=np.float32) * 4 - 1
    grid = utils.make_grid([ember.from_numpy(image) for image in images], padding=0,
                           normalize=True).numpy()
    low, high = images.min(), images.max()
    expected = np.concatenate([(images[0] - low) / (high - low), (images[1] - low) / (high - low)],
                              axis=-1)
    np.testing.assert_allclose(grid, np.concatenate([expected] * 3), rtol=1e-6)
    each = utils.make_grid(ember.from_numpy(images), padding=0, normalize=True,
                           scale_each=True).numpy()
    assert each[0, :, :3].min() == 0 and each[0, :, 3:].max() == 1
    clipped = utils.make_grid(ember.from_numpy(images), padding=0, normalize=True,
                              value_range=(0.0, 2.0)).numpy()
    np.testing.assert_allclose(clipped[0, :, :3], np.clip(images[0, 0], 0, 2) / 2, rtol=1e-6)
    single = utils.make_grid(ember.from_numpy(images[0]))
    assert tuple(single.shape) == (3, 3, 3)
    with pytest.raises(TypeError, match="value_range has to be a tuple"):
        utils.make_grid(ember.from_numpy(images), normalize=True, value_range=[0, 1])


def test_save_image(tmp_path):
    images = np.random.default_rng(1).random((3, 3, 4, 4), dtype=np.float32)
    path = tmp_path / "grid.png"
    utils.save_image(ember.from_numpy(images), path, nrow=3, padding=1)
    saved = np.asarray(PIL_Image.open(path))
    grid = _grid_by_definition(images, 3, 1, 0.0)
    expected = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    np.testing.assert_array_equal(saved, expected)


def test_draw_bounding_boxes():
    image = ember.zeros(3, 12, 16, dtype=ember.uint8)
    boxes = ember.tensor([[1, 2, 6, 8], [8, 1, 14, 10]], dtype=ember.float32)
    drawn = utils.draw_bounding_boxes(image, boxes, colors=["red", (0, 255, 0)]).numpy()
    red = drawn[:, 2:9, 1:7]
    assert (red[:, 0, :] == np.array([255, 0, 0])[:, None]).all()  # top edge
    assert (red[:, :, 0] == np.array([255, 0, 0])[:, None]).all()  # left edge
    assert (red[:, 1:-1, 1:-1] == 0).all()                          # width 1: inside untouched
    assert (drawn[:, 1, 8:15] == np.array([0, 255, 0])[:, None]).all()
    filled = utils.draw_bounding_boxes(image, boxes[:1], colors="blue", fill=True).numpy()
    # fill alpha 100 over black: 100 / 255 of blue, as pillow composites it.
    assert filled[2, 5, 3] == round(255 * 100 / 255) and filled[2, 2, 1] == 255
    floats = utils.draw_bounding_boxes(ember.zeros(1, 12, 16), boxes[:1], colors="white")
    assert floats.dtype == ember.float32 and tuple(floats.shape) == (3, 12, 16)
    assert floats.numpy()[:, 2, 1:7].min() == 1.0
    with pytest.raises(ValueError, match="Boxes need to be in"):
        utils.draw_bounding_boxes(image, ember.tensor([[5.0, 0, 1, 3]]))
    with pytest.raises(ValueError, match="Pass individual images"):
        utils.draw_bounding_boxes(ember.zeros(1, 3, 4, 4, dtype=ember.uint8), boxes)


def _iou_by_definition(a, b):
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    intersection = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection
    return intersection / union


def _random_boxes(count, seed):
    random = np.random.default_rng(seed)
    corners = random.random((count, 2)) * 20
    sizes = random.random((count, 2)) * 10 + 1
    return np.concatenate([corners, corners + sizes], axis=1).astype(np.float32)


def test_box_iou_and_area():
    first, second = _random_boxes(5, 0), _random_boxes(4, 1)
    iou = ops.box_iou(ember.from_numpy(first), ember.from_numpy(second)).numpy()
    expected = [[_iou_by_definition(a, b) for b in second] for a in first]
    np.testing.assert_allclose(iou, expected, rtol=1e-5)
    np.testing.assert_allclose(ops.box_area(ember.from_numpy(first)).numpy(),
                               (first[:, 2] - first[:, 0]) * (first[:, 3] - first[:, 1]))
    xywh = ops.box_convert(ember.from_numpy(first), "xyxy", "xywh").numpy()
    np.testing.assert_allclose(xywh[:, 2:], first[:, 2:] - first[:, :2], rtol=1e-6)
    back = ops.box_convert(ops.box_convert(ember.from_numpy(first), "xyxy", "cxcywh"), "cxcywh",
                           "xyxy")
    np.testing.assert_allclose(back.numpy(), first, rtol=1e-5)


def _nms_by_definition(boxes, scores, threshold):
    order = sorted(range(len(boxes)), key=lambda index: -scores[index])
    keep = []
    for index in order:
        if all(_iou_by_definition(boxes[index], boxes[kept]) <= threshold for kept in keep):
            keep.append(index)
    return keep


@pytest.mark.parametrize("threshold", [0.1, 0.3, 0.7])
def test_nms_matches_greedy_suppression(threshold):
    boxes = _random_boxes(40, 2)
    scores = np.random.default_rng(3).random(40).astype(np.float32)
    keep = ops.nms(ember.from_numpy(boxes), ember.from_numpy(scores), threshold)
    assert keep.dtype == ember.int64
    assert keep.tolist() == _nms_by_definition(boxes, scores, threshold)


def test_batched_nms_keeps_categories_apart():
    boxes = ember.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10.0]])
    scores = ember.tensor([0.9, 0.8, 0.7])
    assert ops.batched_nms(boxes, scores, ember.tensor([0, 0, 1]), 0.5).tolist() == [0, 2]
    assert ops.nms(boxes, scores, 0.5).tolist() == [0]


def test_permute_like_torchvision(torchvision, torch):
    from torchvision.ops.misc import Permute as TorchvisionPermute

    array = np.random.default_rng(0).standard_normal((2, 3, 4, 5), dtype=np.float32)
    ours = ops.Permute([0, 2, 3, 1])(ember.from_numpy(array).requires_grad_())
    theirs = TorchvisionPermute([0, 2, 3, 1])(torch.from_numpy(array))
    assert ours.shape == tuple(theirs.shape) and ours.grad_fn is not None
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.numpy())
