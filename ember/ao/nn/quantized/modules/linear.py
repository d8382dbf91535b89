"""The packed (quantized weight, float bias) pair of a quantized linear layer, saved in
state_dict as PyTorch saves it: ``<prefix>dtype`` and ``<prefix>_packed_params``, the pair."""
from ....._dtype import qint8
from ....._quantized import QuantizedTensor
from .....nn.modules.module import Module
from .....tensor import Tensor

__all__ = ["LinearPackedParams"]


class LinearPackedParams(Module):
    """Holds a quantized linear layer's weight (a qint8 QuantizedTensor) and bias (a float
    tensor or None); neither is a parameter or buffer, as in PyTorch."""

    _version = 3

    def __init__(self, dtype=qint8):
        super().__init__()
        self.dtype = dtype
        self._weight_bias_pair = (None, None)

    def set_weight_bias(self, weight, bias):
        self._weight_bias_pair = (weight, bias)

    def _weight_bias(self):
        return self._weight_bias_pair

    def forward(self, x):
        return x

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "dtype"] = self.dtype
        destination[prefix + "_packed_params"] = self._weight_bias()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        known = {prefix + "dtype", prefix + "_packed_params"}
        missing = [key for key in sorted(known) if key not in state_dict]
        if strict:
            missing_keys.extend(missing)
            unexpected_keys.extend(key for key in state_dict
                                   if key.startswith(prefix) and key not in known)
        if missing:
            return
        dtype = state_dict[prefix + "dtype"]
        pair = state_dict[prefix + "_packed_params"]
        if dtype is not self.dtype or not _valid_pair(pair, dtype):
            error_msgs.append(f'While copying "{prefix}_packed_params", expected a (weight, bias) '
                              f'pair of a {self.dtype!r} quantized linear layer, got {dtype!r} '
                              f'and {type(pair).__name__}')
            return
        pending = getattr(error_msgs, "pending", None)
        if pending is None:
            self.set_weight_bias(*pair)
        else:  # applied with the other copies, once the whole state_dict is known valid
            pending.append((self, lambda new_pair: self.set_weight_bias(*new_pair), None, pair,
                            False))

    def __repr__(self):
        return repr(self._weight_bias())


def _valid_pair(pair, dtype):
    if not isinstance(pair, tuple) or len(pair) != 2:
        return False
    weight, bias = pair
    return (isinstance(weight, QuantizedTensor) and weight.dtype is dtype and weight.ndim == 2
            and (bias is None or isinstance(bias, Tensor) and bias.shape == weight.shape[:1]))
