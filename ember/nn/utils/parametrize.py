"""Parametrizations (PyTorch's torch.nn.utils.parametrize): ``module.weight`` computed on access
as ``p(original)`` from a stored ``original`` tensor, e.g. to keep a weight symmetric,
orthogonal or normalised while the optimizer updates ``original``.

The module's class becomes a subclass ``Parametrized<Class>`` with a property per parametrized
name; the originals live in ``module.parametrizations[name]`` (state_dict keys
``parametrizations.<name>.original``, or ``original0``, ``original1``... when the
parametrization's right_inverse returns several tensors)."""
import contextlib

from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from ..modules.container import ModuleDict, ModuleList
from ..parameter import Parameter

__all__ = ["ParametrizationList", "cached", "is_parametrized", "register_parametrization",
           "remove_parametrizations", "transfer_parametrizations_and_params",
           "type_before_parametrizations"]

_cache = {"enabled": 0, "values": {}}


@contextlib.contextmanager
def cached():
    """Inside the block each parametrized tensor is computed once and reused."""
    _cache["enabled"] += 1
    try:
        yield
    finally:
        _cache["enabled"] -= 1
        if not _cache["enabled"]:
            _cache["values"].clear()


def _register(module, name, tensor):
    """A Parameter is registered as a parameter, any other tensor as a buffer."""
    if isinstance(tensor, Parameter):
        module.register_parameter(name, tensor)
    else:
        module.register_buffer(name, tensor)


class ParametrizationList(ModuleList):
    """The chain of parametrizations of one tensor, holding its original(s)."""

    def __init__(self, modules, original, unsafe=False):
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        original_dtype = original.dtype
        original_shape = original.shape
        new = original
        with no_grad():
            for parametrization in reversed(self):
                if hasattr(parametrization, "right_inverse"):
                    try:
                        new = parametrization.right_inverse(new)
                    except NotImplementedError:
                        pass  # as PyTorch: a right_inverse that cannot be is the identity
        if not isinstance(new, (Tensor, tuple, list)):
            raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of tensors "
                             f"(list, tuple...). Got {type(new).__name__}")
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if original.dtype != new.dtype:
                raise ValueError(f"When `right_inverse` outputs one tensor, it may not change "
                                 f"the dtype.\noriginal.dtype: {original.dtype}\n"
                                 f"right_inverse(original).dtype: {new.dtype}")
            with no_grad():
                # The original object is kept (an optimizer may hold it); its values change.
                original._data = new._data.copy() if new is not original else original._data
            _register(self, "original", original)
        else:
            for index, tensor in enumerate(new):
                if isinstance(original, Parameter):
                    tensor = Parameter(tensor.detach(), original.requires_grad)
                _register(self, f"original{index}", tensor)
        if not unsafe:
            _check_unchanged(self(), original_dtype, original_shape)

    def right_inverse(self, value):
        """Assigning to the parametrized name: the originals take right_inverse(value), which
        every parametrization in the chain must then define."""
        with no_grad():
            for parametrization in reversed(self):
                if not hasattr(parametrization, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(parametrization).__name__} does "
                                       f"not implement right_inverse.")
                value = parametrization.right_inverse(value)
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(f"`right_inverse` should return a tensor. Got "
                                     f"{type(value).__name__}")
                if value.dtype != self.original.dtype:
                    raise ValueError(f"The tensor returned by `right_inverse` has dtype "
                                     f"{value.dtype} while `original` has dtype "
                                     f"{self.original.dtype}")
                self.original.copy_(value)
            else:
                for index, tensor in enumerate(value):
                    getattr(self, f"original{index}").copy_(tensor)

    def forward(self):
        if self.is_tensor:
            result = self[0](self.original)
        else:
            result = self[0](*(getattr(self, f"original{index}")
                               for index in range(self.ntensors)))
        for parametrization in list(self)[1:]:
            result = parametrization(result)
        return result


def _check_unchanged(computed, dtype, shape):
    """A first parametrization maps the original's space to itself (PyTorch's messages)."""
    if not isinstance(computed, Tensor):
        raise ValueError(f"A parametrization must return a tensor. Got "
                         f"{type(computed).__name__}.")
    if computed.dtype != dtype:
        raise ValueError(f"Registering a parametrization may not change the dtype of the tensor, "
                         f"unless `unsafe` flag is enabled.\nunparametrized dtype: {dtype}\n"
                         f"parametrized dtype: {computed.dtype}")
    if computed.shape != shape:
        raise ValueError(f"Registering a parametrization may not change the shape of the tensor, "
                         f"unless `unsafe` flag is enabled.\nunparametrized shape: {shape}\n"
                         f"parametrized shape: {computed.shape}")


def _check_chained(parametrization, current, tensor_name):
    """A parametrization chained after others maps ``module.<tensor_name>``'s space to itself,
    and so does its right_inverse where it has one (PyTorch's messages)."""
    after = parametrization(current)
    if not isinstance(after, Tensor):
        raise ValueError(f"A parametrization must return a tensor. Got {type(after).__name__}.")
    if after.dtype != current.dtype:
        raise ValueError(f"Registering a parametrization may not change the dtype of the tensor, "
                         f"unless the `unsafe` flag is enabled.\n"
                         f"module.{tensor_name}.dtype: {current.dtype}\n"
                         f"parametrization(module.{tensor_name}).dtype: {after.dtype}")
    if after.shape != current.shape:
        raise ValueError(f"Registering a parametrization may not change the shape of the tensor, "
                         f"unless the `unsafe` flag is enabled.\n"
                         f"module.{tensor_name}.shape: {current.shape}\n"
                         f"parametrization(module.{tensor_name}).shape: {after.shape}")
    if not hasattr(parametrization, "right_inverse"):
        return
    try:
        inverse = parametrization.right_inverse(after)
    except NotImplementedError:
        return
    if not isinstance(inverse, Tensor):
        raise ValueError(f"parametrization.right_inverse must return a tensor. Got: "
                         f"{type(inverse).__name__}")
    if inverse.dtype != current.dtype:
        raise ValueError(f"The tensor returned by parametrization.right_inverse must have the "
                         f"same dtype as module.{tensor_name}, unless the `unsafe` flag is "
                         f"enabled.\nmodule.{tensor_name}.dtype: {current.dtype}\n"
                         f"returned dtype: {inverse.dtype}")
    if inverse.shape != current.shape:
        raise ValueError(f"The tensor returned by parametrization.right_inverse must have the "
                         f"same shape as module.{tensor_name}, unless the `unsafe` flag is "
                         f"enabled.\nmodule.{tensor_name}.shape: {current.shape}\n"
                         f"returned shape: {inverse.shape}")


def _inject_class(module):
    """Give ``module`` its own subclass, where the parametrized properties live."""
    base = type(module)
    module.__class__ = type(f"Parametrized{base.__name__}", (base,), {
        "__module__": base.__module__, "_parametrized_base": base})


def _inject_property(module, name):
    def get_parametrized(self):
        chain = self.parametrizations[name]
        if _cache["enabled"]:
            key = (id(self), name)
            if key not in _cache["values"]:
                _cache["values"][key] = chain()
            return _cache["values"][key]
        return chain()

    def set_original(self, value):
        self.parametrizations[name].right_inverse(value)
    setattr(type(module), name, property(get_parametrized, set_original))


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """From now on ``module.<tensor_name>`` is ``parametrization(original)`` (chained after
    earlier parametrizations of the same name)."""
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        chain = module.parametrizations[tensor_name]
        if not unsafe:
            _check_chained(parametrization, getattr(module, tensor_name), tensor_name)
        chain.append(parametrization)
        chain.unsafe |= unsafe
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a "
                         f"parametrized element with name '{tensor_name}'")
    original = getattr(module, tensor_name)
    chain = ParametrizationList([parametrization], original, unsafe=unsafe)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        _inject_class(module)
        module.parametrizations = ModuleDict()
    _inject_property(module, tensor_name)
    module.parametrizations[tensor_name] = chain
    return module


def is_parametrized(module, tensor_name=None):
    """Whether ``module`` has any parametrization (of ``tensor_name``, when given)."""
    chains = module.__dict__.get("_modules", {}).get("parametrizations")
    if chains is None or not isinstance(chains, ModuleDict):
        return False
    return len(chains) > 0 if tensor_name is None else tensor_name in chains


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undo the parametrizations of ``tensor_name``: it becomes a plain tensor again, holding
    its parametrized value (``leave_parametrized``) or its original."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    chain = module.parametrizations[tensor_name]
    if chain.is_tensor:
        original = chain.original
        if leave_parametrized:
            with no_grad():
                value = getattr(module, tensor_name)
                original._data = value._data.copy()
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor "
                             "that is parametrized in terms of a sequence of tensors.")
        with no_grad():
            value = getattr(module, tensor_name)
        original = Parameter(value.detach(), value.requires_grad) if \
            isinstance(chain.original0, Parameter) else value.detach()
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    _register(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = type(module)._parametrized_base
    return module


def transfer_parametrizations_and_params(from_module, to_module, tensor_name=None):
    """Register ``from_module``'s parametrizations (of ``tensor_name``, or all) on
    ``to_module`` too, sharing their original tensors; a tensor ``to_module`` lacks is made a
    Parameter of the parametrized value first. Returns ``to_module``."""
    if not is_parametrized(from_module):
        return to_module
    names = list(from_module.parametrizations) if tensor_name is None else [tensor_name]
    for name in names:
        if not hasattr(to_module, name):
            setattr(to_module, name, Parameter(getattr(from_module, name)))
        source = from_module.parametrizations[name]
        for parametrization in source:
            register_parametrization(to_module, name, parametrization)
        target = to_module.parametrizations[name]
        if hasattr(source, "original"):
            target.original = source.original
            continue
        index = 0
        while hasattr(source, f"original{index}"):
            setattr(target, f"original{index}", getattr(source, f"original{index}"))
            index += 1
    return to_module


def type_before_parametrizations(module):
    """The module's class before parametrizations were registered."""
    return getattr(type(module), "_parametrized_base", type(module))

