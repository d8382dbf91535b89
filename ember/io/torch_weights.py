"""PyTorch weights in ember and back: state_dict keys are identical by design, so only the tensors
change type. Files need nothing here (``ember.load`` reads ``safetensors.torch.save_file`` output);
these helpers convert in-memory state_dicts. torch is imported only by ``to_torch_state_dict``."""
import numpy as np

from ..tensor import Tensor


def load_torch_state_dict(torch_state_dict):
    """``{name: torch.Tensor}`` -> ``{name: ember.Tensor}``, copied, for ``load_state_dict``."""
    converted = {}
    for name, value in torch_state_dict.items():
        if not hasattr(value, "detach") or not hasattr(value, "numpy"):
            raise TypeError(f"load_torch_state_dict: entry '{name}' is a "
                            f"{type(value).__name__}, expected a torch.Tensor")
        converted[name] = Tensor._wrap(np.array(value.detach().cpu().numpy(), copy=True))
    return converted


def to_torch_state_dict(state_dict):
    """``{name: ember.Tensor}`` -> ``{name: torch.Tensor}``, copied, for torch's modules."""
    import torch  # optional: only this conversion needs it, and importing it is slow

    converted = {}
    for name, value in state_dict.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"to_torch_state_dict: entry '{name}' is a {type(value).__name__}, "
                            f"expected an ember.Tensor")
        converted[name] = torch.from_numpy(np.array(value._data, copy=True))
    return converted
