"""Box operations in NumPy (torchvision.ops.boxes): boxes are (x1, y1, x2, y2), x2 >= x1."""
import numpy as np

from ..._factories import from_numpy
from ...tensor import Tensor

__all__ = ["batched_nms", "box_area", "box_convert", "box_iou", "nms"]


def _array(value, name):
    if isinstance(value, Tensor):
        return value.numpy(force=True)
    raise TypeError(f"{name}: expected an ember Tensor, got {type(value).__name__}")


def _boxes(value, name):
    boxes = _array(value, name)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name}: boxes must have shape (N, 4), got {tuple(boxes.shape)}")
    return boxes


def _area(boxes):
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _iou(boxes1, boxes2):
    """(N, M) intersection over union; integer boxes are computed in float32."""
    if boxes1.dtype.kind != "f":
        boxes1 = boxes1.astype(np.float32)
        boxes2 = boxes2.astype(np.float32)
    top_left = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    sizes = np.clip(bottom_right - top_left, 0, None)
    intersection = sizes[..., 0] * sizes[..., 1]
    union = _area(boxes1)[:, None] + _area(boxes2)[None, :] - intersection
    return intersection / union


def box_area(boxes):
    """Area of each box."""
    return from_numpy(np.ascontiguousarray(_area(_boxes(boxes, "box_area"))))


def box_iou(boxes1, boxes2):
    """Pairwise IoU: (N, M) for boxes1 (N, 4) and boxes2 (M, 4)."""
    return from_numpy(_iou(_boxes(boxes1, "box_iou"), _boxes(boxes2, "box_iou")))


def box_convert(boxes, in_fmt, out_fmt):
    """Convert between 'xyxy', 'xywh' (corner + size) and 'cxcywh' (centre + size)."""
    formats = ("xyxy", "xywh", "cxcywh")
    if in_fmt not in formats or out_fmt not in formats:
        raise ValueError("Unsupported Bounding Box Conversions for given in_fmt and out_fmt")
    array = _boxes(boxes, "box_convert")
    first, second = array[:, :2], array[:, 2:]
    if in_fmt == "xywh":
        second = first + second
    elif in_fmt == "cxcywh":
        first, second = first - second / 2, first + second / 2
    if out_fmt == "xywh":
        second = second - first
    elif out_fmt == "cxcywh":
        first, second = (first + second) / 2, second - first
    return from_numpy(np.ascontiguousarray(np.concatenate([first, second], axis=1)))


def _greedy_keep(iou, order, iou_threshold):
    """Walk boxes by decreasing score; keep one unless a kept box overlaps it above the
    threshold. One Python step per kept box, each suppressing a whole row at once."""
    suppressed = np.zeros(len(order), dtype=bool)
    keep = []
    for rank, index in enumerate(order):
        if suppressed[rank]:
            continue
        keep.append(index)
        suppressed[rank + 1:] |= iou[index, order[rank + 1:]] > iou_threshold
    return np.asarray(keep, dtype=np.int64)


def nms(boxes, scores, iou_threshold):
    """Indices (int64, by decreasing score) of the boxes kept by non-maximum suppression:
    a box is dropped when its IoU with a higher-scoring kept box is > iou_threshold."""
    box_array = _boxes(boxes, "nms")
    score_array = _array(scores, "nms")
    if score_array.shape != (box_array.shape[0],):
        raise ValueError(f"nms: scores must have shape ({box_array.shape[0]},), got "
                         f"{tuple(score_array.shape)}")
    order = np.argsort(-score_array, kind="stable")
    return from_numpy(_greedy_keep(_iou(box_array, box_array), order, iou_threshold))


def batched_nms(boxes, scores, idxs, iou_threshold):
    """nms within each category ``idxs``: boxes of different categories never suppress each
    other (each category is shifted apart by more than the largest coordinate)."""
    box_array = _boxes(boxes, "batched_nms")
    if box_array.shape[0] == 0:
        return from_numpy(np.zeros(0, dtype=np.int64))
    categories = _array(idxs, "batched_nms").astype(box_array.dtype)
    offsets = categories * (box_array.max() + 1)
    shifted = box_array + offsets[:, None]
    return nms(from_numpy(np.ascontiguousarray(shifted)), scores, iou_threshold)
