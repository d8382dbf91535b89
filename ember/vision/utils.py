"""torchvision.utils: make_grid, save_image and draw_bounding_boxes on ember tensors."""
import math
import warnings

import numpy as np

from .._factories import from_numpy
from ..tensor import Tensor
from ._optional import pil_image, require
from .transforms import _functional_tensor as F_t

__all__ = ["draw_bounding_boxes", "make_grid", "save_image"]


def _as_array(value, name):
    if isinstance(value, Tensor):
        return value.numpy(force=True)
    if isinstance(value, (list, tuple)) and value and all(isinstance(item, Tensor)
                                                          for item in value):
        return np.stack([item.numpy(force=True) for item in value])
    raise TypeError(f"{name}: tensor should be an ember Tensor or a list of them, got "
                    f"{type(value).__name__}")


def _normalize_range(images, value_range):
    """Clamp to value_range (default: the images' min and max) and map it onto [0, 1]."""
    low, high = (float(images.min()), float(images.max())) if value_range is None \
        else value_range
    clamped = np.clip(images, low, high)
    return (clamped - images.dtype.type(low)) / images.dtype.type(max(high - low, 1e-5))


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0):
    """Tile a batch (B, C, H, W) (or a list of (C, H, W)) into one image, ``nrow`` per row,
    ``padding`` pixels of ``pad_value`` between and around the tiles."""
    images = _as_array(tensor, "make_grid")
    if images.ndim == 2:
        images = images[None]
    if images.ndim == 3:
        if images.shape[0] == 1:
            images = np.concatenate([images] * 3, axis=0)
        images = images[None]
    if images.ndim == 4 and images.shape[1] == 1:
        images = np.concatenate([images] * 3, axis=1)
    if normalize:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max "
                            "are numbers")
        if scale_each:
            images = np.stack([_normalize_range(image, value_range) for image in images])
        else:
            images = _normalize_range(images, value_range)
    if images.shape[0] == 1:
        return from_numpy(np.ascontiguousarray(images[0]))
    count, channels, height, width = images.shape
    columns = min(nrow, count)
    rows = int(math.ceil(float(count) / columns))
    # Each cell is the image with `padding` pad rows/columns before it; the grid gets one more
    # band of padding after the last row and column.
    cells = np.full((rows * columns, channels, height + padding, width + padding), pad_value,
                    dtype=images.dtype)
    cells[:count, :, padding:, padding:] = images
    grid = cells.reshape(rows, columns, channels, height + padding, width + padding)
    grid = grid.transpose(2, 0, 3, 1, 4).reshape(channels, rows * (height + padding),
                                                 columns * (width + padding))
    grid = np.pad(grid, ((0, 0), (0, padding), (0, padding)), constant_values=pad_value)
    return from_numpy(np.ascontiguousarray(grid))


def save_image(tensor, fp, format=None, **kwargs):
    """make_grid(tensor, **kwargs) written as an 8-bit image (values in [0, 1] -> [0, 255],
    rounded) to a path or file object."""
    images = pil_image()
    grid = make_grid(tensor, **kwargs).detach().numpy()
    scaled = np.clip(grid * grid.dtype.type(255) + grid.dtype.type(0.5), 0, 255)
    array = np.ascontiguousarray(scaled.transpose(1, 2, 0).astype(np.uint8))
    images.fromarray(array).save(fp, format=format)


def _generate_color_palette(num_objects):
    palette = np.array([2 ** 25 - 1, 2 ** 15 - 1, 2 ** 21 - 1])
    return [tuple(int(value) for value in (index * palette) % 255)
            for index in range(num_objects)]


def _parse_colors(colors, num_objects):
    if colors is None:
        colors = _generate_color_palette(num_objects)
    elif isinstance(colors, list):
        if len(colors) < num_objects:
            raise ValueError(f"Number of colors must be equal or larger than the number of "
                             f"objects, but got {len(colors)} < {num_objects}.")
    elif not isinstance(colors, (tuple, str)):
        raise ValueError(f"`colors` must be a tuple or a string, or a list thereof, but got "
                         f"{colors}.")
    elif isinstance(colors, tuple) and len(colors) != 3:
        raise ValueError(f"If passed as tuple, colors should be an RGB triplet, but got "
                         f"{colors}.")
    else:
        colors = [colors] * num_objects
    image_color = require("PIL.ImageColor", "ember.vision.utils.draw_bounding_boxes")
    return [image_color.getrgb(color) if isinstance(color, str) else tuple(color)
            for color in colors]


def draw_bounding_boxes(image, boxes, labels=None, colors=None, fill=False, width=1, font=None,
                        font_size=None):
    """Draw (xmin, ymin, xmax, ymax) boxes (and labels) on a uint8 or float (C, H, W) image
    with pillow's ImageDraw; returns a new tensor of the image's dtype."""
    if not isinstance(image, Tensor):
        raise TypeError(f"Tensor expected, got {type(image)}")
    array = image.numpy(force=True)
    if not (array.dtype == np.uint8 or array.dtype.kind == "f"):
        raise ValueError(f"The image dtype must be uint8 or float, got {image.dtype}")
    if array.ndim != 3:
        raise ValueError("Pass individual images, not batches")
    if array.shape[0] not in (1, 3):
        raise ValueError("Only grayscale and RGB images are supported")
    box_array = boxes.numpy(force=True) if isinstance(boxes, Tensor) else np.asarray(boxes)
    if (box_array[:, 0] > box_array[:, 2]).any() or (box_array[:, 1] > box_array[:, 3]).any():
        raise ValueError("Boxes need to be in (xmin, ymin, xmax, ymax) format. Use "
                         "ember.vision.ops.box_convert to convert them")
    num_boxes = box_array.shape[0]
    if num_boxes == 0:
        warnings.warn("boxes doesn't contain any box. No box was drawn", stacklevel=2)
        return image
    if labels is None:
        labels = [None] * num_boxes
    elif len(labels) != num_boxes:
        raise ValueError(f"Number of boxes ({num_boxes}) and labels ({len(labels)}) mismatch. "
                         f"Please specify labels for each box.")
    colors = _parse_colors(colors, num_boxes)
    image_font = require("PIL.ImageFont", "ember.vision.utils.draw_bounding_boxes")
    image_draw = require("PIL.ImageDraw", "ember.vision.utils.draw_bounding_boxes")
    if font is None:
        if font_size is not None:
            warnings.warn("Argument 'font_size' will be ignored since 'font' is not set.",
                          stacklevel=2)
        text_font = image_font.load_default()
    else:
        text_font = image_font.truetype(font=font, size=font_size or 10)
    if array.shape[0] == 1:
        array = np.tile(array, (3, 1, 1))
    original_dtype = array.dtype
    if original_dtype.kind == "f":
        array = F_t.convert_image_dtype(array, np.uint8)
    canvas = pil_image().fromarray(np.ascontiguousarray(array.transpose(1, 2, 0)))
    draw = image_draw.Draw(canvas, "RGBA") if fill else image_draw.Draw(canvas)
    for box, color, label in zip(box_array.astype(np.int64).tolist(), colors, labels):
        if fill:
            draw.rectangle(box, width=width, outline=color, fill=color + (100,))
        else:
            draw.rectangle(box, width=width, outline=color)
        if label is not None:
            margin = width + 1
            draw.text((box[0] + margin, box[1] + margin), label, fill=color, font=text_font)
    result = np.asarray(canvas).transpose(2, 0, 1)
    if original_dtype.kind == "f":
        result = F_t.convert_image_dtype(result, original_dtype)
    return from_numpy(np.ascontiguousarray(result))
