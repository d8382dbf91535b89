"""torchvision.ops.complete_box_iou_loss: 1 - CIoU of matched box pairs."""
import math

from ...autograd.grad_mode import no_grad
from ...ops import atan
from .boxes import _tensor_boxes
from .diou_loss import _diou_iou_loss
from .giou_loss import _reduce_loss, _upcast_non_float

__all__ = ["complete_box_iou_loss"]


def complete_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """The DIoU loss plus alpha * v, v the squared difference of the pairs' aspect angles
    (scaled by 4 / pi^2) and alpha its weight, held constant; the DIoU part takes the default
    eps whatever ``eps`` is, as torchvision's."""
    boxes1 = _upcast_non_float(_tensor_boxes(boxes1, "complete_box_iou_loss"))
    boxes2 = _upcast_non_float(_tensor_boxes(boxes2, "complete_box_iou_loss"))
    diou_loss, iou = _diou_iou_loss(boxes1, boxes2)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    v = (4 / (math.pi ** 2)) * (atan((x2g - x1g) / (y2g - y1g)) -
                                atan((x2 - x1) / (y2 - y1))).pow(2)
    with no_grad():
        alpha = v / (1 - iou + v + eps)
    return _reduce_loss(diou_loss + alpha * v, reduction)
