"""Quantization configurations (torch.ao.quantization.QConfig): which observers, hence which
dtypes and schemes, a layer's activation and weight are quantized with. ember's observers are
descriptions only (the quantized layers compute their own parameters)."""
from collections import namedtuple

from ..._dtype import float16, per_tensor_affine, per_tensor_symmetric, qint8, quint8

__all__ = ["QConfig", "default_dynamic_qconfig", "float16_dynamic_qconfig"]


class QConfig(namedtuple("QConfig", ["activation", "weight"])):
    """(activation, weight): callables that make the observers of a layer's input and weight."""

    __slots__ = ()


class _ObserverSpec:
    """An observer's dtype and scheme, called to make "the observer" (itself), as PyTorch's
    ``Observer.with_args(...)`` partials are called."""

    def __init__(self, name, dtype, qscheme, is_dynamic=False):
        self.name = name
        self.dtype = dtype
        self.qscheme = qscheme
        self.is_dynamic = is_dynamic

    def __call__(self):
        return self

    def __repr__(self):
        return f"{self.name}(dtype={self.dtype!r}, qscheme={self.qscheme!r})"


default_dynamic_qconfig = QConfig(
    activation=_ObserverSpec("PlaceholderObserver", quint8, per_tensor_affine, is_dynamic=True),
    weight=_ObserverSpec("MinMaxObserver", qint8, per_tensor_symmetric))
float16_dynamic_qconfig = QConfig(
    activation=_ObserverSpec("PlaceholderObserver", float16, per_tensor_affine, is_dynamic=True),
    weight=_ObserverSpec("PlaceholderObserver", float16, per_tensor_affine))
