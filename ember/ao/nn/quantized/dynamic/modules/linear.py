"""The dynamically quantized Linear layer (torch.ao.nn.quantized.dynamic.Linear) and its
arithmetic, bit for bit that of PyTorch's fbgemm kernel on x86 CPUs (``linear_dynamic`` with
``reduce_range``): qint8 weights quantized symmetrically per tensor, each input quantized to
7-bit unsigned integers with a scale and zero point chosen from its min and max, an exact
integer product, then one float32 rounding of ``acc * (input_scale * weight_scale) + bias``."""
import numpy as np

from ......_dtype import float16, float32, per_tensor_affine, qint8
from ......_quantized import QuantizedTensor, quantize_array
from ......nn.modules.linear import Linear as FloatLinear
from ......nn.modules.module import Module
from ......tensor import Tensor
from ....quantized.modules.linear import LinearPackedParams

__all__ = ["Linear"]

# ChooseQuantizationParams' smallest scale (float16's smallest normal number, as a float32).
_SMALL_SCALE = np.float32(6.1e-5)
# uint8 halved by reduce_range (fbgemm's 8-bit products must not saturate 16-bit sums).
_INPUT_QMIN = 0
_INPUT_QMAX = 127


def weight_qparams(weight):
    """The scale of a float32 weight under MinMaxObserver(qint8, per_tensor_symmetric), as a
    float32: ``max(|min|, |max|) / 127.5``, at least float32's eps; the zero point is 0."""
    largest = np.float32(max(-weight.min(initial=0), weight.max(initial=0)))
    scale = largest / np.float32(127.5)
    return max(scale, np.finfo(np.float32).eps)


def input_qparams(lowest, highest):
    """(scale as a float32, zero point) of an input whose values span [lowest, highest]:
    PyTorch's ChooseQuantizationParams over [0, 127] (QuantUtils.h), its double arithmetic
    included, so that zero points rounded at a tie fall as PyTorch's do."""
    lowest = min(np.float32(lowest), np.float32(0))
    highest = max(np.float32(highest), np.float32(0))
    span = _INPUT_QMAX - _INPUT_QMIN
    scale = (float(highest) - float(lowest)) / span
    with np.errstate(over="ignore", divide="ignore"):
        if np.float32(scale) == 0 or np.isinf(np.float32(1) / np.float32(scale)):
            scale = 0.1
    if scale < float(_SMALL_SCALE):
        original = np.float32(scale)
        scale = float(_SMALL_SCALE)
        if lowest == 0:
            highest = _SMALL_SCALE * np.float32(span)
        elif highest == 0:
            lowest = -_SMALL_SCALE * np.float32(span)
        else:
            amplifier = _SMALL_SCALE / original
            lowest = np.float32(lowest * amplifier)
            highest = np.float32(highest * amplifier)
    from_lowest = _INPUT_QMIN - float(lowest) / scale
    from_highest = _INPUT_QMAX - float(highest) / scale
    lowest_error = abs(_INPUT_QMIN) - abs(float(lowest) / scale)
    highest_error = abs(_INPUT_QMAX) - abs(float(highest) / scale)
    initial = from_lowest if lowest_error < highest_error else from_highest
    if initial < _INPUT_QMIN:
        zero_point = _INPUT_QMIN
    elif initial > _INPUT_QMAX:
        zero_point = _INPUT_QMAX
    else:
        zero_point = int(np.rint(initial))
    return np.float32(scale), zero_point


def linear_dynamic(input, weight, bias):
    """float32 ``input`` (..., in_features) through a qint8 ``weight`` (a QuantizedTensor with
    zero point 0) and a float32 ``bias`` array or None, as PyTorch's fbgemm kernel computes it."""
    rows = input.reshape(-1, input.shape[-1])
    if rows.size:
        scale, zero_point = input_qparams(rows.min(), rows.max())
    else:
        scale, zero_point = input_qparams(0.0, 0.0)
    inverse = np.float32(1) / scale
    # fbgemm's vector path rounds fma(x, 1/scale, zero_point) to float32 once (its "legacy"
    # order: the zero point added before rounding to an integer); the product of two float32s
    # is exact in float64.
    shifted = (rows.astype(np.float64) * np.float64(inverse) + zero_point).astype(np.float32)
    quantized = np.clip(np.rint(shifted), 0, 255)
    # Integer sums are exact in float64 (each term is at most 255 * 128), so BLAS computes them.
    accumulated = (quantized.astype(np.float64) - zero_point) @ \
        weight._integers.astype(np.float64).T
    accumulated = accumulated.astype(np.float32)  # fbgemm converts the int32 sums to float32
    multiplier = np.float32(scale * np.float32(weight.q_scale()))
    if bias is None:
        output = accumulated * multiplier
    else:  # one fused multiply-add, rounded once to float32
        output = (accumulated.astype(np.float64) * np.float64(multiplier)
                  + bias.astype(np.float64)).astype(np.float32)
    return output.reshape(input.shape[:-1] + (weight.shape[0],))


class Linear(Module):
    """A Linear layer with a qint8 weight whose input is quantized per call; created from a
    float ``nn.Linear`` by ``from_float`` (what ``quantize_dynamic`` does). float32 in and out,
    no autograd."""

    _version = 4

    def __init__(self, in_features, out_features, bias_=True, dtype=qint8):
        super().__init__()
        if dtype is not qint8:
            raise NotImplementedError(f"ember's dynamically quantized Linear supports qint8 "
                                      f"weights only, got {dtype!r} (float16 is not provided)")
        self.in_features = in_features
        self.out_features = out_features
        weight = QuantizedTensor(np.zeros((out_features, in_features), np.int8), 1.0, 0, qint8)
        bias = Tensor._wrap(np.zeros(out_features, np.float32)) if bias_ else None
        self._packed_params = LinearPackedParams(dtype)
        self._packed_params.set_weight_bias(weight, bias)
        self.scale = 1.0
        self.zero_point = 0
        self.version = 4

    def _get_name(self):
        return "DynamicQuantizedLinear"

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"dtype={self._packed_params.dtype!r}, qscheme={per_tensor_affine!r}")

    def __repr__(self):
        # PyTorch hides the packed parameters child from the repr.
        return f"{self._get_name()}({self.extra_repr()})"

    def weight(self):
        return self._packed_params._weight_bias()[0]

    def bias(self):
        return self._packed_params._weight_bias()[1]

    def set_weight_bias(self, weight, bias):
        self._packed_params.set_weight_bias(weight, bias)

    def _weight_bias(self):
        return self._packed_params._weight_bias()

    def forward(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"DynamicQuantizedLinear: expected a Tensor, got "
                            f"{type(x).__name__}")
        if x.dtype is not float32:
            raise RuntimeError(f"expected scalar type Float but found {x.dtype._scalar_type}")
        if x.ndim < 2:
            raise RuntimeError("The dimension of input tensor should be larger than or equal "
                               "to 2")
        weight, bias = self._weight_bias()
        if x.shape[-1] != weight.shape[1]:
            raise RuntimeError(f"The number of rows in the packB should be equal to K: "
                               f"{x.shape[-1]}")
        bias_values = None if bias is None else bias._data
        return Tensor._wrap(linear_dynamic(x._data, weight, bias_values))

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "scale"] = Tensor._wrap(np.array(self.scale, np.float32))
        destination[prefix + "zero_point"] = Tensor._wrap(np.array(self.zero_point, np.int64))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # scale and zero_point are the output's quantization parameters, which a dynamically
        # quantized layer (float output) never uses: PyTorch reads and drops them too.
        for name in ("scale", "zero_point"):
            if prefix + name in state_dict:
                state_dict.pop(prefix + name)
            elif strict:
                missing_keys.append(prefix + name)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """A quantized copy of a float ``nn.Linear`` (the exact type), as quantize_dynamic
        swaps it in: its weight quantized to qint8, its bias kept as it is."""
        if type(mod) is not FloatLinear:
            raise AssertionError(f"nn.quantized.dynamic.Linear.from_float only works for "
                                 f"Linear, got {type(mod).__name__}")
        qconfig = getattr(mod, "qconfig", None)
        dtype = qint8 if qconfig is None or qconfig.weight is None else qconfig.weight().dtype
        if dtype is float16:
            raise NotImplementedError("ember's dynamically quantized Linear supports qint8 "
                                      "weights only (float16 is not provided)")
        if dtype is not qint8:
            raise AssertionError(f"The only supported dtypes for dynamic quantized linear are "
                                 f"qint8 and float16, got: {dtype!r}")
        weight = np.asarray(mod.weight._data, np.float32)
        scale = weight_qparams(weight)
        integers = quantize_array(weight, scale, 0, qint8)
        qlinear = cls(mod.in_features, mod.out_features, dtype=dtype)
        qlinear.set_weight_bias(QuantizedTensor(integers, float(scale), 0, qint8), mod.bias)
        return qlinear
