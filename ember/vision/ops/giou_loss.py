"""torchvision.ops.generalized_box_iou_loss: 1 - GIoU of matched box pairs."""
from ..._factories import zeros_like
from ...ops import maximum, minimum
from .boxes import _tensor_boxes
from .focal_loss import _reduce

__all__ = ["generalized_box_iou_loss"]


def _upcast_non_float(boxes):
    """Integer boxes in float32 (the loss divides); floating ones as they are."""
    return boxes if boxes.is_floating_point() else boxes.float()


def _loss_inter_union(boxes1, boxes2):
    """Intersection and union of each pair (boxes1[i], boxes2[i]), (..., 4) each."""
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    left, top = maximum(x1, x1g), maximum(y1, y1g)
    right, bottom = minimum(x2, x2g), minimum(y2, y2g)
    intersection = zeros_like(x1)
    overlapping = (bottom > top) & (right > left)
    intersection[overlapping] = (right[overlapping] - left[overlapping]) * \
        (bottom[overlapping] - top[overlapping])
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - intersection
    return intersection, union


def generalized_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """1 - GIoU(boxes1[i], boxes2[i]) for matched pairs of (x1, y1, x2, y2) boxes: in [0, 2],
    with a gradient even where the boxes do not overlap (Rezatofighi et al.)."""
    boxes1 = _upcast_non_float(_tensor_boxes(boxes1, "generalized_box_iou_loss"))
    boxes2 = _upcast_non_float(_tensor_boxes(boxes2, "generalized_box_iou_loss"))
    intersection, union = _loss_inter_union(boxes1, boxes2)
    iou = intersection / (union + eps)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    enclosing = (maximum(x2, x2g) - minimum(x1, x1g)) * (maximum(y2, y2g) - minimum(y1, y1g))
    loss = 1 - (iou - (enclosing - union) / (enclosing + eps))
    return _reduce_loss(loss, reduction)


def _reduce_loss(loss, reduction):
    """A box loss reduced; the mean of no boxes is 0 (with a graph), not NaN."""
    if reduction == "mean":
        return loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()
    return _reduce(loss, reduction)
