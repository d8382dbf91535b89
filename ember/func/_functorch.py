"""``functorch``: the pre-2.0 package of function transforms, as PyTorch 2.13 still ships it.
Each transform is ``torch.func``'s under its old name, warning (FutureWarning) that it is
deprecated; ``make_functional``, ``make_functional_with_buffers`` and
``combine_state_for_ensemble`` turn modules into functions of their parameters (and buffers)."""
import copy
import warnings

from ..nn.modules.module import Module
from ..ops.shape import stack
from . import _eager, _vmap
from ._functional_call import functional_call

__all__ = ["FunctionalModule", "FunctionalModuleWithBuffers", "combine_state_for_ensemble",
           "functionalize", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp",
           "make_functional", "make_functional_with_buffers", "vjp", "vmap"]


def _deprecated(api, new_api=None):
    new_api = new_api or f"torch.func.{api}"
    warnings.warn(f"We've integrated functorch into PyTorch. As the final step of the "
                  f"integration, `functorch.{api}` is deprecated as of PyTorch 2.0 and will be "
                  f"deleted in a future version of PyTorch >= 2.3. Please use `{new_api}` "
                  f"instead; see the PyTorch 2.0 release notes and/or the `torch.func` migration "
                  f"guide for more details https://pytorch.org/docs/main/func.migrating.html",
                  FutureWarning, stacklevel=3)


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    _deprecated("vmap", "torch.vmap")
    return _vmap.vmap(func, in_dims, out_dims, randomness, chunk_size=chunk_size)


def grad(func, argnums=0, has_aux=False):
    _deprecated("grad")
    return _eager.grad(func, argnums, has_aux)


def grad_and_value(func, argnums=0, has_aux=False):
    _deprecated("grad_and_value")
    return _eager.grad_and_value(func, argnums, has_aux)


def vjp(func, *primals, has_aux=False):
    _deprecated("vjp")
    return _eager.vjp(func, *primals, has_aux=has_aux)


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    _deprecated("jvp")
    return _eager.jvp(func, primals, tangents, strict=strict, has_aux=has_aux)


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    _deprecated("jacrev")
    return _eager.jacrev(func, argnums, has_aux=has_aux, chunk_size=chunk_size)


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    _deprecated("jacfwd")
    return _eager.jacfwd(func, argnums, has_aux, randomness=randomness)


def hessian(func, argnums=0):
    _deprecated("hessian")
    return _eager.hessian(func, argnums=argnums)


def functionalize(func, *, remove="mutations"):
    _deprecated("functionalize")
    return _eager.functionalize(func, remove=remove)


class FunctionalModule(Module):
    """``fmodel(params, *args)``: the copied model run with ``params`` in place of its own (in
    the order of ``named_parameters()``)."""

    def __init__(self, stateless_model, param_names):
        super().__init__()
        self.stateless_model = stateless_model
        self.param_names = param_names

    def forward(self, params, *args, **kwargs):
        return functional_call(self.stateless_model, dict(zip(self.param_names, params)), args,
                               kwargs)


class FunctionalModuleWithBuffers(Module):
    """``fmodel(params, buffers, *args)``, as FunctionalModule with the buffers passed too."""

    def __init__(self, stateless_model, param_names, buffer_names):
        super().__init__()
        self.stateless_model = stateless_model
        self.param_names = param_names
        self.buffer_names = buffer_names

    def forward(self, params, buffers, *args, **kwargs):
        state = dict(zip(self.param_names, params))
        state.update(zip(self.buffer_names, buffers))
        return functional_call(self.stateless_model, state, args, kwargs)


def _copy_state(model, disable_autograd_tracking):
    model_copy = copy.deepcopy(model)
    named = list(model_copy.named_parameters())
    names = tuple(name for name, _ in named)
    params = tuple(param for _, param in named)
    if disable_autograd_tracking:
        for param in params:
            param.requires_grad_(False)
    return model_copy, names, params


def make_functional(model, disable_autograd_tracking=False):
    """(fmodel, params): ``fmodel(params, *args)`` runs a copy of ``model`` with ``params``,
    which start as that copy's parameters."""
    _deprecated("make_functional", "torch.func.functional_call")
    if any(True for _ in model.buffers()):
        raise RuntimeError("make_functional(model): `model` has buffers. Please use "
                           "make_functional_with_buffers(model) instead.")
    model_copy, names, params = _copy_state(model, disable_autograd_tracking)
    return FunctionalModule(model_copy, names), params


def make_functional_with_buffers(model, disable_autograd_tracking=False):
    """(fmodel, params, buffers): ``fmodel(params, buffers, *args)``, as make_functional."""
    _deprecated("make_functional_with_buffers", "torch.func.functional_call")
    return _with_buffers(model, disable_autograd_tracking)


def _with_buffers(model, disable_autograd_tracking=False):
    model_copy, names, params = _copy_state(model, disable_autograd_tracking)
    buffer_names = tuple(name for name, _ in model_copy.named_buffers())
    buffers = tuple(buffer for _, buffer in model_copy.named_buffers())
    return FunctionalModuleWithBuffers(model_copy, names, buffer_names), params, buffers


def combine_state_for_ensemble(models):
    """(fmodel, params, buffers) for ``vmap(fmodel)(params, buffers, x)``: each parameter and
    buffer of the same-class ``models`` stacked along a new first dim, detached."""
    _deprecated("combine_state_for_ensemble", "torch.func.stack_module_state")
    if len(models) == 0:
        raise RuntimeError("combine_state_for_ensemble: Expected at least one model, got 0.")
    if not (all(model.training for model in models) or
            not any(model.training for model in models)):
        raise RuntimeError("combine_state_for_ensemble: Expected all models to have the same "
                           "training/eval mode.")
    if not all(type(model) is type(models[0]) for model in models):
        raise RuntimeError("combine_state_for_ensemble: Expected all models to be of the same "
                           "class.")
    functions, params, buffers = zip(*[_with_buffers(model) for model in models])
    params = tuple(stack(shards).detach() for shards in zip(*params))
    buffers = tuple(stack(shards).detach() for shards in zip(*buffers))
    return functions[0], params, buffers
