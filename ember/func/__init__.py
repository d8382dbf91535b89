"""Function transforms (``torch.func``): ``grad``, ``grad_and_value``, ``vjp``, ``jvp``, ``jacrev``,
``jacfwd``, ``hessian``, ``linearize``, ``vmap``, ``functional_call`` and ``functionalize``,
composable with each other and with ember's autograd."""
from ._eager import (
    functionalize, grad, grad_and_value, hessian, jacfwd, jacrev, jvp, linearize, vjp)
from ._functional_call import functional_call, replace_all_batch_norm_modules_, stack_module_state
from ._batching import _batch_of
from ._rearrange import rearrange
from ._vmap import vmap

__all__ = ["debug_unwrap", "functional_call", "functionalize", "grad", "grad_and_value", "hessian", "jacfwd",
           "jacrev", "jvp", "linearize", "rearrange", "replace_all_batch_norm_modules_",
           "stack_module_state",
           "vjp", "vmap"]


def debug_unwrap(tensor, *, recurse=True):
    """The whole batch behind a tensor that vmap batched (batch dim first), through every
    level with ``recurse``, else one; any other tensor as it is. For debugging only."""
    while True:
        batch = _batch_of(tensor)
        if batch is None:
            return tensor
        tensor = batch.value
        if not recurse:
            return tensor
