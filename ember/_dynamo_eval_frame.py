"""``torch._dynamo.eval_frame``: the class of a compiled module, for the isinstance checks that
libraries make (``is_compiled_module``). ember's ``torch.compile`` returns the module itself, so
no module is ever an OptimizedModule and those checks take their uncompiled branch."""

__all__ = ["OptimizedModule"]


class OptimizedModule:
    """What PyTorch's torch.compile wraps a module in; ember never makes one."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("OptimizedModule: ember's torch.compile returns the module itself "
                           "and makes no OptimizedModule")
