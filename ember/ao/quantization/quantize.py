"""``quantize_dynamic``: a model whose chosen layers are replaced by dynamically quantized ones
(PyTorch's eager-mode flow: copy, eval(), attach each module's qconfig, swap the children)."""
import copy

from ..._dtype import float16, qint8, quint4x2, quint8
from ...nn.modules.linear import Linear
from ...nn.modules.rnn import GRU, LSTM, GRUCell, LSTMCell, RNNCell
from ..nn.quantized import dynamic as nnqd
from .qconfig import QConfig, default_dynamic_qconfig

__all__ = ["get_default_dynamic_quant_module_mappings", "propagate_qconfig_",
           "quantize_dynamic"]

# The float layers PyTorch quantizes dynamically by default; ember has quantized versions of
# those in the mapping below and refuses the rest rather than leave them float silently.
_DEFAULT_DYNAMIC_TYPES = (Linear, LSTM, GRU, LSTMCell, RNNCell, GRUCell)


def get_default_dynamic_quant_module_mappings():
    """float layer type -> its dynamically quantized type."""
    return {Linear: nnqd.Linear}


def propagate_qconfig_(module, qconfig_dict=None):
    """Set ``qconfig`` on ``module`` and every submodule: the entry for its qualified name,
    else for its type, else its parent's, as PyTorch does."""
    qconfig_dict = {} if qconfig_dict is None else qconfig_dict
    stack = [(module, "", None)]
    while stack:
        current, name, parent_qconfig = stack.pop()
        qconfig = qconfig_dict.get(type(current), parent_qconfig)
        qconfig = qconfig_dict.get(name, qconfig)
        qconfig = getattr(current, "qconfig", qconfig)  # one set by the user stays
        current.qconfig = qconfig
        prefix = name + "." if name else ""
        children = list(current.named_children())
        stack.extend((child, prefix + child_name, qconfig)
                     for child_name, child in reversed(children))


def _convert(module, mapping):
    """Swap, bottom up, every child whose qconfig is set and whose type has a quantized
    version; a layer PyTorch would quantize but ember cannot is an error."""
    stack = [(module, False)]
    while stack:
        current, children_done = stack.pop()
        if not children_done:
            stack.append((current, True))
            stack.extend((child, False) for child in current.children())
            continue
        for name, child in list(current.named_children()):
            if getattr(child, "qconfig", None) is None:
                continue
            quantized_type = mapping.get(type(child))
            if quantized_type is not None:
                swapped = quantized_type.from_float(child)
                for hook in child._forward_pre_hooks.values():
                    swapped.register_forward_pre_hook(hook)
                for hook in child._forward_hooks.values():
                    swapped.register_forward_hook(hook)
                setattr(current, name, swapped)
            elif type(child) in _DEFAULT_DYNAMIC_TYPES:
                raise NotImplementedError(f"quantize_dynamic: ember quantizes Linear layers "
                                          f"only; a dynamically quantized {type(child).__name__} "
                                          f"is not provided (leave it out of qconfig_spec)")


def quantize_dynamic(model, qconfig_spec=None, dtype=qint8, mapping=None, inplace=False):
    """A copy of ``model`` (``model`` itself if ``inplace``), in eval mode, whose submodules of
    the types (or qualified names) in ``qconfig_spec`` are replaced by their dynamically
    quantized versions: weights stored as qint8, inputs quantized on each call.

    ``qconfig_spec`` is a set of types and names (quantized with ``dtype``) or a dict of them
    to QConfigs; by default every Linear, LSTM, GRU and RNN cell. The model itself is never
    replaced, only its children, as in PyTorch.
    """
    if qconfig_spec is None:
        if dtype is qint8:
            qconfig_spec = dict.fromkeys(_DEFAULT_DYNAMIC_TYPES, default_dynamic_qconfig)
        elif dtype in (float16, quint8, quint4x2):
            raise NotImplementedError(f"quantize_dynamic: ember quantizes with qint8 only, "
                                      f"got dtype={dtype!r}")
        else:
            raise ValueError(f"Don't know how to quantize with default settings for {dtype}. "
                             f"Provide full qconfig please")
    elif isinstance(qconfig_spec, set):
        if dtype is qint8:
            default_qconfig = default_dynamic_qconfig
        elif dtype in (float16, quint8, quint4x2):
            raise NotImplementedError(f"quantize_dynamic: ember quantizes with qint8 only, "
                                      f"got dtype={dtype!r}")
        else:
            raise RuntimeError("Unknown dtype specified for quantize_dynamic: ", str(dtype))
        qconfig_spec = dict.fromkeys(qconfig_spec, default_qconfig)
    for qconfig in qconfig_spec.values():
        if qconfig is not None and not isinstance(qconfig, QConfig):
            raise TypeError(f"quantize_dynamic: qconfig_spec's values must be QConfigs, got "
                            f"{type(qconfig).__name__}")
    if mapping is None:
        mapping = get_default_dynamic_quant_module_mappings()
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    propagate_qconfig_(model, qconfig_spec)
    _convert(model, mapping)
    return model
