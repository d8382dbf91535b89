"""torchvision.ops.distance_box_iou_loss: 1 - DIoU of matched box pairs."""
from .boxes import _tensor_boxes
from .giou_loss import _loss_inter_union, _reduce_loss, _upcast_non_float

__all__ = ["distance_box_iou_loss"]


def _diou_iou_loss(boxes1, boxes2, eps=1e-7):
    """(1 - IoU + centre distance^2 / enclosing diagonal^2, IoU) of each matched pair."""
    intersection, union = _loss_inter_union(boxes1, boxes2)
    iou = intersection / (union + eps)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    diagonal_squared = ((x2.maximum(x2g) - x1.minimum(x1g)) ** 2) + \
        ((y2.maximum(y2g) - y1.minimum(y1g)) ** 2) + eps
    centres_squared = (((x2 + x1) / 2 - (x1g + x2g) / 2) ** 2) + \
        (((y2 + y1) / 2 - (y1g + y2g) / 2) ** 2)
    return 1 - iou + centres_squared / diagonal_squared, iou


def distance_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """1 - DIoU(boxes1[i], boxes2[i]) for matched (x1, y1, x2, y2) pairs (Zheng et al.): it
    also pulls the centres together where the boxes do not overlap."""
    boxes1 = _upcast_non_float(_tensor_boxes(boxes1, "distance_box_iou_loss"))
    boxes2 = _upcast_non_float(_tensor_boxes(boxes2, "distance_box_iou_loss"))
    return _reduce_loss(_diou_iou_loss(boxes1, boxes2, eps)[0], reduction)
