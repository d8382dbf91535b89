"""Summary protos (scalars, histograms, images, text, hparams) built from NumPy values, in
torch.utils.tensorboard's layout so TensorBoard shows them the same way."""
import struct
import zlib

import numpy as np

from ...tensor import Tensor
from ...vision._optional import require
from ...vision.utils import make_grid
from ._tensorboard import (HistogramProto, HParamsPluginData, SessionEndInfo, SessionStartInfo,
                           Summary, SummaryMetadata, TensorProto, TensorShapeProto,
                           TextPluginData, api_pb2, hparams_metadata, struct_pb2)


def make_np(value):
    """An ember tensor, NumPy array or Python number as a NumPy array."""
    if isinstance(value, Tensor):
        return value.numpy(force=True)
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (int, float, np.number)):
        return np.array([value])
    raise NotImplementedError(f"Got {type(value)}, but expected an ember Tensor, a NumPy array "
                              f"or a number")


def scalar(name, value, new_style=False, double_precision=False):
    array = make_np(value).squeeze()
    if array.ndim != 0:
        raise ValueError(f"add_scalar: the value should contain one element, got "
                         f"{array.size} elements of {array.ndim} dimensions")
    number = float(array)
    if not new_style:
        return Summary(value=[Summary.Value(tag=name, simple_value=number)])
    tensor = (TensorProto(double_val=[number], dtype="DT_DOUBLE") if double_precision
              else TensorProto(float_val=[number], dtype="DT_FLOAT"))
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    return Summary(value=[Summary.Value(tag=name, tensor=tensor, metadata=metadata)])


def default_bins():
    """TensorFlow's histogram buckets: +-1e-12 growing by 10% up to 1e20, and 0."""
    positive = []
    value = 1e-12
    while value < 1e20:
        positive.append(value)
        value *= 1.1
    return [-edge for edge in reversed(positive)] + [0] + positive


def make_histogram(values, bins, max_bins=None):
    """A HistogramProto of the values: only the buckets between the first and the last
    non-empty one, plus an empty one on the left (TensorBoard reads right edges only)."""
    if values.size == 0:
        raise ValueError("The input has no element.")
    values = values.reshape(-1)
    counts, limits = np.histogram(values, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        step = len(counts) // max_bins
        if len(counts) % step:
            counts = np.pad(counts, (0, step - len(counts) % step))
        counts = counts.reshape(-1, step).sum(axis=-1)
        limits = np.concatenate([limits[:-1:step], limits[-1:]])
    nonzero = np.flatnonzero(counts)
    if nonzero.size == 0:
        raise ValueError("The histogram is empty: no value falls into the bins")
    start, end = int(nonzero[0]), int(nonzero[-1]) + 1
    counts = counts[start - 1:end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start:end + 1]
    return HistogramProto(min=values.min(), max=values.max(), num=len(values),
                          sum=values.sum(), sum_squares=values.dot(values),
                          bucket_limit=limits.tolist(), bucket=counts.tolist())


def histogram(name, values, bins, max_bins=None):
    histogram_proto = make_histogram(make_np(values).astype(float), bins, max_bins)
    return Summary(value=[Summary.Value(tag=name, histo=histogram_proto)])


def convert_to_hwc(array, dataformats):
    """An (H, W, 3 or 4) image from CHW/HWC/HW data, or a grid of 8 per row from NCHW data."""
    dataformats = dataformats.upper()
    if len(set(dataformats)) != len(dataformats) or len(dataformats) != array.ndim:
        raise ValueError(f"dataformats {dataformats!r} does not match an array of shape "
                         f"{array.shape}")
    if array.ndim == 4:
        batch = array.transpose([dataformats.find(axis) for axis in "NCHW"])
        grid = make_grid(Tensor._wrap(np.ascontiguousarray(batch)), nrow=8, padding=0)
        return grid.detach().numpy().transpose(1, 2, 0)
    if array.ndim == 3:
        image = array.transpose([dataformats.find(axis) for axis in "HWC"])
        return np.concatenate([image] * 3, axis=2) if image.shape[2] == 1 else image
    image = array.transpose([dataformats.find(axis) for axis in "HW"])
    return np.stack([image] * 3, axis=2)


def _png(image):
    """PNG bytes of a uint8 (H, W, 1/2/3/4) image: zlib-compressed rows, filter 0."""
    height, width, channels = image.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, -1)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows.tobytes())) + chunk(b"IEND", b""))


def image(tag, values, rescale=1, dataformats="NCHW"):
    """An image summary: uint8 data as is, float data in [0, 1] scaled by 255, clipped."""
    array = convert_to_hwc(make_np(values), dataformats)
    scale = 1 if array.dtype == np.uint8 else 255
    array = (array.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    height, width, channels = array.shape
    if rescale != 1:
        pil_image = require("PIL.Image", "SummaryWriter.add_image(rescale != 1)")
        resized = pil_image.fromarray(array).resize((int(width * rescale),
                                                     int(height * rescale)),
                                                    pil_image.Resampling.LANCZOS)
        array = np.asarray(resized).reshape(int(height * rescale), int(width * rescale), -1)
    encoded = Summary.Image(height=height, width=width, colorspace=channels,
                            encoded_image_string=_png(np.ascontiguousarray(array)))
    return Summary(value=[Summary.Value(tag=tag, image=encoded)])


def text(tag, text_string):
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name="text", content=TextPluginData(version=0).SerializeToString()))
    tensor = TensorProto(dtype="DT_STRING", string_val=[text_string.encode("utf_8")],
                         tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=metadata,
                                        tensor=tensor)])


def _hparams_summary(tag, **content):
    plugin_data = HParamsPluginData(version=hparams_metadata.PLUGIN_DATA_VERSION, **content)
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name=hparams_metadata.PLUGIN_NAME, content=plugin_data.SerializeToString()))
    return Summary(value=[Summary.Value(tag=tag, metadata=metadata)])


def _hparam_value(value):
    """(field of SessionStartInfo.hparams, DataType name) for a bool, number, string or
    one-element tensor."""
    if isinstance(value, bool):
        return "bool_value", value, "DATA_TYPE_BOOL"
    if isinstance(value, (int, float)):
        return "number_value", value, "DATA_TYPE_FLOAT64"
    if isinstance(value, str):
        return "string_value", value, "DATA_TYPE_STRING"
    if isinstance(value, Tensor):
        return "number_value", float(make_np(value).reshape(-1)[0]), "DATA_TYPE_FLOAT64"
    raise ValueError("value should be one of int, float, str, bool, or ember.Tensor")


def hparams(hparam_dict, metric_dict, hparam_domain_discrete=None):
    """The experiment, session-start and session-end summaries of the hparams plugin."""
    if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
        raise TypeError("hparam_dict and metric_dict should be dictionary.")
    hparam_domain_discrete = hparam_domain_discrete or {}
    if not isinstance(hparam_domain_discrete, dict):
        raise TypeError("parameter: hparam_domain_discrete should be a dictionary, nothing "
                        "logged.")
    for name, domain in hparam_domain_discrete.items():
        if name not in hparam_dict or not isinstance(domain, list) or not all(
                isinstance(item, type(hparam_dict[name])) for item in domain):
            raise TypeError(f"parameter: hparam_domain_discrete[{name}] should be a list of "
                            f"same type as hparam_dict[{name}].")
    session_start = SessionStartInfo()
    infos = []
    for name, value in hparam_dict.items():
        if value is None:
            continue
        field, value, data_type = _hparam_value(value)
        setattr(session_start.hparams[name], field, value)
        domain = None
        if name in hparam_domain_discrete:
            domain = struct_pb2.ListValue(values=[struct_pb2.Value(**{field: item})
                                                  for item in hparam_domain_discrete[name]])
        infos.append(api_pb2.HParamInfo(name=name, type=api_pb2.DataType.Value(data_type),
                                        domain_discrete=domain))
    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=name)) for name in metric_dict]
    experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics)
    session_end = SessionEndInfo(status=api_pb2.Status.Value("STATUS_SUCCESS"))
    return (_hparams_summary(hparams_metadata.EXPERIMENT_TAG, experiment=experiment),
            _hparams_summary(hparams_metadata.SESSION_START_INFO_TAG,
                             session_start_info=session_start),
            _hparams_summary(hparams_metadata.SESSION_END_INFO_TAG,
                             session_end_info=session_end))
