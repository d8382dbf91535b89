"""torchvision.ops: box utilities (NumPy) and the blocks the models share."""
from .boxes import batched_nms, box_area, box_convert, box_iou, nms  # noqa: F401
from .misc import Conv2dNormActivation  # noqa: F401

__all__ = ["Conv2dNormActivation", "batched_nms", "box_area", "box_convert", "box_iou", "nms"]
