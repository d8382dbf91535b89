"""``functional_call``: call a module with some of its parameters and buffers replaced, and
``stack_module_state`` for ensembles (one vmapped call over the stacked states of many models)."""
from ..nn.utils.stateless import _functional_call
from ..ops.shape import stack

__all__ = ["functional_call", "stack_module_state"]


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with the named tensors of ``parameter_and_buffer_dicts`` (a
    dict, or a sequence of dicts with distinct keys) in place of the module's own; the module is
    restored afterwards, even when the call raises (``torch.nn.utils.stateless``'s)."""
    return _functional_call(module, parameter_and_buffer_dicts, args, kwargs,
                            tie_weights=tie_weights, strict=strict)


def stack_module_state(models):
    """(params, buffers): each model's parameters and buffers stacked along a new first dim, by
    name, as new leaves (parameters require grad when all the models' do) for ``vmap``."""
    if len(models) == 0:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(model.training for model in models) or
            not any(model.training for model in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same "
                           "training/eval mode.")
    kind = type(models[0])
    if not all(type(model) is kind for model in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    every_params = [dict(model.named_parameters()) for model in models]
    every_buffers = [dict(model.named_buffers()) for model in models]
    params = {name: _stacked_leaf([values[name] for values in every_params])
              for name in every_params[0]}
    buffers = {name: _stacked_leaf([values[name] for values in every_buffers])
               for name in every_buffers[0]}
    return params, buffers


def _stacked_leaf(tensors):
    requires_grad = all(tensor.requires_grad for tensor in tensors)
    return stack([tensor.detach() for tensor in tensors]).requires_grad_(requires_grad)
