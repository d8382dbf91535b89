"""``torch.__future__``: opt-in behaviours of nn.Module conversions. With overwriting on,
``module.float()``/``to()`` give the module new Parameter objects; with swapping on, each
parameter keeps its Python object but swaps in the converted tensor whole
(``torch.utils.swap_tensors``), and ``load_state_dict`` loads through ``Tensor.module_load``
and a swap."""

__all__ = ["get_overwrite_module_params_on_conversion", "get_swap_module_params_on_conversion",
           "set_overwrite_module_params_on_conversion", "set_swap_module_params_on_conversion"]

_flags = {"overwrite": False, "swap": False}


def set_overwrite_module_params_on_conversion(value):
    _flags["overwrite"] = value


def get_overwrite_module_params_on_conversion():
    return _flags["overwrite"]


def set_swap_module_params_on_conversion(value):
    _flags["swap"] = value


def get_swap_module_params_on_conversion():
    return _flags["swap"]
