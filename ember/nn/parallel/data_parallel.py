"""``nn.DataParallel``: PyTorch's one-process replication of a module over GPUs. Without GPUs,
PyTorch's DataParallel calls the wrapped module unchanged, and so does ember's, so programs that
wrap their model run as written (their state_dict keys carry the ``module.`` prefix)."""
from ..modules.module import Module

__all__ = ["DataParallel", "data_parallel"]


class DataParallel(Module):
    """Wraps ``module``; ``device_ids`` is empty, as PyTorch's on a machine without GPUs."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = []

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0,
                  module_kwargs=None):
    """The functional form: ``module(*inputs, **module_kwargs)`` on the CPU."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    return module(*inputs, **(module_kwargs or {}))
