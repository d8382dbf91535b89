"""PyTorch's hook-based reparametrisations of a module's weight: ``weight_norm`` (w = g v/||v||)
and ``spectral_norm`` (w = W / sigma(W), sigma by power iteration in training mode only), with
their ``remove_*`` inverses. The parameters are renamed as PyTorch renames them (weight_g and
weight_v; weight_orig with buffers weight_u and weight_v), so checkpoints load either way."""
import warnings

import numpy as np

from ... import ops
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from .. import functional as F
from ..modules.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from ..parameter import Parameter, UninitializedParameter

__all__ = ["remove_spectral_norm", "remove_weight_norm", "spectral_norm", "weight_norm"]


def norm_except_dim(v, pow=2, dim=0):
    """The p-norm of ``v`` over every dim but ``dim``, shaped to broadcast against ``v``
    (``dim=-1``: the norm of all of ``v``)."""
    if dim == -1:
        return ops.norm(v, pow)
    axes = tuple(axis for axis in range(v.dim()) if axis != dim)
    return ops.vector_norm(v, pow, axes, keepdim=True)


class _WeightHook:
    """A forward pre-hook that recomputes ``module.<name>`` from its parametrisation."""

    kind = None

    def __init__(self, name):
        self.name = name

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))

    @classmethod
    def _register(cls, module, name, hook):
        for existing in module._forward_pre_hooks.values():
            if isinstance(existing, cls) and existing.name == name:
                raise RuntimeError(f"Cannot register two {cls.kind} hooks on the same "
                                   f"parameter {name}")
        weight = getattr(module, name)
        if isinstance(weight, UninitializedParameter):
            raise ValueError(f"The module passed to `{cls.kind}` can't have uninitialized "
                             f"parameters. Make sure to run the dummy forward before applying "
                             f"{cls.kind}")
        return weight

    @classmethod
    def _remove(cls, module, name):
        for key, hook in list(module._forward_pre_hooks.items()):
            if isinstance(hook, cls) and hook.name == name:
                with no_grad():
                    weight = hook.compute_weight(module, final=True)
                hook.drop(module)
                if name in module.__dict__:
                    delattr(module, name)
                module.register_parameter(name, Parameter(weight.detach()))
                del module._forward_pre_hooks[key]
                return module
        raise ValueError(f"{cls.kind} of '{name}' not found in {module}")


class WeightNorm(_WeightHook):
    kind = "weight_norm"

    def __init__(self, name, dim):
        super().__init__(name)
        self.dim = dim

    def compute_weight(self, module, final=False):
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / norm_except_dim(v, 2, self.dim))

    def drop(self, module):
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]


def weight_norm(module, name="weight", dim=0):
    """w = g v / ||v|| with the norm over every dim but ``dim`` (``dim=None``: all of them);
    ``name`` becomes the parameters ``name_g`` and ``name_v``."""
    warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                  "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=1)
    hook = WeightNorm(name, -1 if dim is None else dim)
    weight = WeightNorm._register(module, name, hook)
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, 2, hook.dim)
                                                     .detach()))
    module.register_parameter(name + "_v", Parameter(weight.detach()))
    setattr(module, name, hook.compute_weight(module))
    module.register_forward_pre_hook(hook)
    return module


def remove_weight_norm(module, name="weight"):
    """Fold g and v back into one parameter ``name``."""
    return WeightNorm._remove(module, name)


def power_iterations(count):
    """spectral_norm's n_power_iterations, checked as PyTorch checks it."""
    if count <= 0:
        raise ValueError(f"Expected n_power_iterations to be positive, but got "
                         f"n_power_iterations={count}")
    return count


class SpectralNorm(_WeightHook):
    kind = "spectral_norm"

    def __init__(self, name, n_power_iterations, dim, eps):
        super().__init__(name)
        self.n_power_iterations = power_iterations(n_power_iterations)
        self.dim = dim
        self.eps = eps

    def matrix(self, weight):
        """The weight as (size of ``dim``, everything else)."""
        if self.dim != 0:
            order = [self.dim] + [axis for axis in range(weight.dim()) if axis != self.dim]
            weight = weight.permute(*order)
        return weight.reshape(weight.shape[0], -1)

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, power_iteration=module.training))

    def compute_weight(self, module, power_iteration=False, final=False):
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        matrix = self.matrix(weight)
        if power_iteration:
            with no_grad():
                for _ in range(self.n_power_iterations):
                    v.copy_(F.normalize(ops.mv(matrix.t(), u), dim=0, eps=self.eps))
                    u.copy_(F.normalize(ops.mv(matrix, v), dim=0, eps=self.eps))
            # The buffers change in place at the next iteration: the graph keeps copies.
            u, v = u.clone(), v.clone()
        sigma = ops.dot(u, ops.mv(matrix, v))
        return weight / sigma

    def drop(self, module):
        for suffix in ("_u", "_v"):
            del module._buffers[self.name + suffix]
        del module._parameters[self.name + "_orig"]


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """w = W / sigma(W), sigma estimated by ``n_power_iterations`` steps of power iteration at
    every training-mode forward (eval reuses the stored vectors); ``dim`` defaults to 1 for
    transposed convolutions, else 0."""
    if dim is None:
        transposed = (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)
        dim = 1 if isinstance(module, transposed) else 0
    hook = SpectralNorm(name, n_power_iterations, dim, eps)
    weight = SpectralNorm._register(module, name, hook)
    with no_grad():
        matrix = hook.matrix(weight)
        height, width = matrix.shape
        u = F.normalize(Tensor._wrap(np.empty(height, dtype=weight._data.dtype)).normal_(0, 1),
                        dim=0, eps=eps)
        v = F.normalize(Tensor._wrap(np.empty(width, dtype=weight._data.dtype)).normal_(0, 1),
                        dim=0, eps=eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    setattr(module, name, weight.detach())
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module, name="weight"):
    """Keep W / sigma(W) (with the stored vectors) as the plain parameter ``name``."""
    return SpectralNorm._remove(module, name)
