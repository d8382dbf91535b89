"""torchvision.ops: box utilities and box losses, and the blocks the models share."""
from .boxes import (  # noqa: F401
    batched_nms, box_area, box_convert, box_iou, clip_boxes_to_image, complete_box_iou,
    distance_box_iou, generalized_box_iou, masks_to_boxes, nms, remove_small_boxes)
from .ciou_loss import complete_box_iou_loss  # noqa: F401
from .diou_loss import distance_box_iou_loss  # noqa: F401
from .drop_block import DropBlock2d, DropBlock3d, drop_block2d, drop_block3d  # noqa: F401
from .focal_loss import sigmoid_focal_loss  # noqa: F401
from .giou_loss import generalized_box_iou_loss  # noqa: F401
from .misc import (  # noqa: F401
    MLP, Conv2dNormActivation, FrozenBatchNorm2d, Permute, SqueezeExcitation)
from .stochastic_depth import StochasticDepth, stochastic_depth  # noqa: F401

__all__ = ["MLP", "Conv2dNormActivation", "DropBlock2d", "DropBlock3d", "FrozenBatchNorm2d",
           "Permute", "SqueezeExcitation", "StochasticDepth", "batched_nms", "box_area",
           "box_convert", "box_iou", "clip_boxes_to_image", "complete_box_iou",
           "complete_box_iou_loss", "distance_box_iou", "distance_box_iou_loss", "drop_block2d", "drop_block3d",
           "generalized_box_iou", "generalized_box_iou_loss", "masks_to_boxes", "nms",
           "remove_small_boxes", "sigmoid_focal_loss", "stochastic_depth"]
