"""Box operations (torchvision.ops.boxes): boxes are (x1, y1, x2, y2), x2 >= x1. Areas, IoUs and
conversions are ember ops (a box loss trains through them); nms works on NumPy copies."""
import numpy as np

import math

from ..._dtype import float32, float64, int32, int64
from ..._factories import from_numpy, zeros
from ...autograd.grad_mode import no_grad
from ...ops import any as any_of, atan, maximum, minimum, stack
from ...tensor import Tensor

__all__ = ["batched_nms", "box_area", "box_convert", "box_iou", "clip_boxes_to_image",
           "complete_box_iou", "distance_box_iou", "generalized_box_iou", "masks_to_boxes", "nms",
           "remove_small_boxes"]


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
    """(N, M) intersection over union of NumPy boxes, for nms; integer boxes in float32."""
    if boxes1.dtype.kind != "f":
        boxes1 = boxes1.astype(np.float32)
        boxes2 = boxes2.astype(np.float32)
    top_left = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    sizes = np.clip(bottom_right - top_left, 0, None)
    intersection = sizes[..., 0] * sizes[..., 1]
    union = _area(boxes1)[:, None] + _area(boxes2)[None, :] - intersection
    return intersection / union


def _tensor_boxes(value, name):
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}: expected an ember Tensor, got {type(value).__name__}")
    return value


def _upcast(boxes):
    """torchvision's guard against overflow in the products: half types to float32, small
    integers to int32."""
    if boxes.is_floating_point():
        return boxes if boxes.dtype in (float32, float64) else boxes.float()
    return boxes if boxes.dtype in (int32, int64) else boxes.int()


def box_area(boxes):
    """Area of each (x1, y1, x2, y2) box; differentiable, as torchvision's."""
    boxes = _upcast(_tensor_boxes(boxes, "box_area"))
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _box_inter_union(boxes1, boxes2):
    area1 = box_area(boxes1)
    area2 = box_area(boxes2)
    top_left = maximum(boxes1[:, None, :2], boxes2[:, :2])
    bottom_right = minimum(boxes1[:, None, 2:], boxes2[:, 2:])
    sizes = _upcast(bottom_right - top_left).clamp(min=0)
    intersection = sizes[:, :, 0] * sizes[:, :, 1]
    return intersection, area1[:, None] + area2 - intersection


def box_iou(boxes1, boxes2):
    """Pairwise IoU: (N, M) for boxes1 (N, 4) and boxes2 (M, 4); differentiable."""
    intersection, union = _box_inter_union(_tensor_boxes(boxes1, "box_iou"),
                                           _tensor_boxes(boxes2, "box_iou"))
    return intersection / union


def generalized_box_iou(boxes1, boxes2):
    """Pairwise generalized IoU (Rezatofighi et al.): IoU minus the share of the smallest
    enclosing box that the union leaves empty; in [-1, 1], differentiable (DETR's matcher and
    loss)."""
    boxes1 = _tensor_boxes(boxes1, "generalized_box_iou")
    boxes2 = _tensor_boxes(boxes2, "generalized_box_iou")
    intersection, union = _box_inter_union(boxes1, boxes2)
    iou = intersection / union
    top_left = minimum(boxes1[:, None, :2], boxes2[:, :2])
    bottom_right = maximum(boxes1[:, None, 2:], boxes2[:, 2:])
    sizes = _upcast(bottom_right - top_left).clamp(min=0)
    enclosing = sizes[:, :, 0] * sizes[:, :, 1]
    return iou - (enclosing - union) / enclosing


def _box_diou_iou(boxes1, boxes2, eps):
    """Pairwise (DIoU, IoU): IoU less the squared distance of the centres over the squared
    diagonal of the smallest enclosing box (Zheng et al., Distance-IoU loss)."""
    iou = box_iou(boxes1, boxes2)
    top_left = minimum(boxes1[..., None, :2], boxes2[..., None, :, :2])
    bottom_right = maximum(boxes1[..., None, 2:], boxes2[..., None, :, 2:])
    sizes = _upcast(bottom_right - top_left).clamp(min=0)
    diagonal_squared = (sizes[..., 0] ** 2) + (sizes[..., 1] ** 2) + eps
    x_p = (boxes1[..., 0] + boxes1[..., 2]) / 2
    y_p = (boxes1[..., 1] + boxes1[..., 3]) / 2
    x_g = (boxes2[..., 0] + boxes2[..., 2]) / 2
    y_g = (boxes2[..., 1] + boxes2[..., 3]) / 2
    centres_squared = (_upcast(x_p[..., None] - x_g[..., None, :]) ** 2) + \
        (_upcast(y_p[..., None] - y_g[..., None, :]) ** 2)
    return iou - centres_squared / diagonal_squared, iou


def distance_box_iou(boxes1, boxes2, eps=1e-7):
    """Pairwise distance IoU, (N, M); differentiable."""
    boxes1 = _upcast(_tensor_boxes(boxes1, "distance_box_iou"))
    boxes2 = _upcast(_tensor_boxes(boxes2, "distance_box_iou"))
    return _box_diou_iou(boxes1, boxes2, eps)[0]


def complete_box_iou(boxes1, boxes2, eps=1e-7):
    """Pairwise complete IoU, (N, M): DIoU less alpha * v, v the squared difference of the
    aspect angles (scaled by 4 / pi^2) and alpha a constant weight (no gradient)."""
    boxes1 = _upcast(_tensor_boxes(boxes1, "complete_box_iou"))
    boxes2 = _upcast(_tensor_boxes(boxes2, "complete_box_iou"))
    diou, iou = _box_diou_iou(boxes1, boxes2, eps)
    w_pred = boxes1[..., None, 2] - boxes1[..., None, 0]
    h_pred = boxes1[..., None, 3] - boxes1[..., None, 1]
    w_gt = boxes2[..., None, :, 2] - boxes2[..., None, :, 0]
    h_gt = boxes2[..., None, :, 3] - boxes2[..., None, :, 1]
    v = (4 / (math.pi ** 2)) * (atan(w_pred / h_pred) - atan(w_gt / h_gt)).pow(2)
    with no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou - alpha * v


def masks_to_boxes(masks):
    """The (x1, y1, x2, y2) float boxes around the nonzero pixels of (N, H, W) masks (zeros
    for an empty mask)."""
    masks = _tensor_boxes(masks, "masks_to_boxes")
    if masks.numel() == 0:
        return zeros((0, 4), dtype=float32)
    _, height, width = masks.shape
    nonzero = masks.bool()
    rows = any_of(nonzero, dim=2)
    columns = any_of(nonzero, dim=1)
    empty = ~any_of(rows, dim=1)
    rows, columns = rows.float(), columns.float()
    y1 = rows.argmax(dim=1)
    x1 = columns.argmax(dim=1)
    y2 = (height - 1) - rows.flip(dims=[1]).argmax(dim=1)
    x2 = (width - 1) - columns.flip(dims=[1]).argmax(dim=1)
    boxes = stack([x1, y1, x2, y2], dim=1).float()
    boxes[empty] = 0
    return boxes


def box_convert(boxes, in_fmt, out_fmt):
    """Convert between 'xyxy', 'xywh' (corner + size) and 'cxcywh' (centre + size), over the
    last dim; differentiable."""
    formats = ("xyxy", "xywh", "cxcywh")
    if in_fmt not in formats or out_fmt not in formats:
        raise ValueError("Unsupported Bounding Box Conversions for given in_fmt and out_fmt")
    boxes = _tensor_boxes(boxes, "box_convert")
    if in_fmt == out_fmt:
        return boxes.clone()
    if in_fmt == "xywh":
        x, y, width, height = boxes.unbind(-1)
        boxes = stack([x, y, x + width, y + height], dim=-1)
    elif in_fmt == "cxcywh":
        center_x, center_y, width, height = boxes.unbind(-1)
        boxes = stack([center_x - 0.5 * width, center_y - 0.5 * height,
                       center_x + 0.5 * width, center_y + 0.5 * height], dim=-1)
    if out_fmt == "xyxy":
        return boxes
    x1, y1, x2, y2 = boxes.unbind(-1)
    if out_fmt == "xywh":
        return stack([x1, y1, x2 - x1, y2 - y1], dim=-1)
    return stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], dim=-1)


def clip_boxes_to_image(boxes, size):
    """Boxes (..., 4) clamped into an image of ``size`` (height, width)."""
    boxes = _tensor_boxes(boxes, "clip_boxes_to_image")
    height, width = size
    boxes_x = boxes[..., 0::2].clamp(min=0, max=width)
    boxes_y = boxes[..., 1::2].clamp(min=0, max=height)
    return stack((boxes_x, boxes_y), dim=boxes.dim()).reshape(boxes.shape)


def remove_small_boxes(boxes, min_size):
    """Indices of the boxes whose width and height are both at least ``min_size``."""
    boxes = _tensor_boxes(boxes, "remove_small_boxes")
    widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return ((widths >= min_size) & (heights >= min_size)).nonzero().reshape(-1)


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
