"""``functional_call``: call a module with some of its parameters and buffers replaced, and
``stack_module_state`` for ensembles (one vmapped call over the stacked states of many models)."""
from ..nn.modules.batchnorm import _BatchNorm
from ..nn.utils.stateless import _functional_call
from ..ops.shape import stack

__all__ = ["functional_call", "replace_all_batch_norm_modules_", "stack_module_state"]


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with the named tensors of ``parameter_and_buffer_dicts`` (a
    dict, or a sequence of dicts with distinct keys) in place of the module's own; the module is
    restored afterwards, even when the call raises (see ``nn.utils.stateless``)."""
    return _functional_call(module, parameter_and_buffer_dicts, args, kwargs,
                            tie_weights=tie_weights, strict=strict)


def stack_module_state(models):
    """(params, buffers): each model's parameters and buffers stacked along a new first dim, by
    name, as new leaves that require grad as the models' tensors do (alike, or an error)."""
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
    params = {name: _stacked_leaf([values[name] for values in every_params], name)
              for name in every_params[0]}
    buffers = {name: _stacked_leaf([values[name] for values in every_buffers], name)
               for name in every_buffers[0]}
    return params, buffers


def _stacked_leaf(tensors, name):
    flags = {tensor.requires_grad for tensor in tensors}
    if len(flags) > 1:
        raise RuntimeError(f"Expected {name} from each model to have the same .requires_grad")
    return stack([tensor.detach() for tensor in tensors]).requires_grad_(flags.pop())


def replace_all_batch_norm_modules_(root):
    """Make every batch norm in ``root`` (itself included) stop tracking running statistics, in
    place, so that vmap and function transforms do not update shared buffers; returns root."""
    for module in root.modules():
        if isinstance(module, _BatchNorm) and module.track_running_stats:
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None
            module.track_running_stats = False
    return root
