"""torchvision.ops: box utilities and box losses, and the blocks the models share."""
from .boxes import (  # noqa: F401
    batched_nms, box_area, box_convert, box_iou, clip_boxes_to_image, generalized_box_iou, nms,
    remove_small_boxes)
from .focal_loss import sigmoid_focal_loss  # noqa: F401
from .giou_loss import generalized_box_iou_loss  # noqa: F401
from .misc import Conv2dNormActivation  # noqa: F401

__all__ = ["Conv2dNormActivation", "batched_nms", "box_area", "box_convert", "box_iou",
           "clip_boxes_to_image", "generalized_box_iou", "generalized_box_iou_loss", "nms",
           "remove_small_boxes", "sigmoid_focal_loss"]
