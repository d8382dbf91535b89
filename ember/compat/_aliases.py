"""The ``torch`` (and ``torchvision``) module tree as thin aliases of ember's modules.

``torch.X`` is ``ember.X`` unless ``TABLE`` says otherwise; each alias is a module object of its
own whose attributes are looked up in its ember module(s), so that a name ember lacks fails with
an error naming the torch API rather than an AttributeError deep inside a script.
"""
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
import weakref

from .. import overrides
from .._dtype import dtype as _Dtype
from .version import TORCH_VERSION

TOP_LEVEL = ("torch", "torchvision", "functorch")

# torch's module name -> the ember modules that provide it: submodules resolve under the first,
# attributes are looked up in each in turn. The longest entry that is the name or a package
# above it applies; below it, names map one to one (``torch.utils.data.sampler`` is
# ``ember.data.sampler``).
TABLE = {
    "torch": ("ember",),
    "torch.version": ("ember.compat.version",),
    "torch.torch_version": ("ember.compat.version",),
    "torch.random": ("ember._random",),
    "torch.utils.data": ("ember.data",),
    # torch's private collate module, imported by scripts for default_collate.
    "torch.utils.data._utils": ("ember.data._collate",),
    "torch.utils.data._utils.collate": ("ember.data._collate",),
    "torch.utils.data.distributed": ("ember.distributed.sampler",),
    "torch.utils.hooks": ("ember._hooks",),
    # torch's helpers of the distributions (broadcast_all, probs_to_logits, lazy_property, ...).
    "torch.distributions.utils": ("ember.distributions.distribution",),
    "torch.nn.modules.activation": ("ember.nn.modules.activation", "ember.nn.modules.attention"),
    "torch.nn.modules.batchnorm": ("ember.nn.modules.batchnorm",
                                   "ember.distributed.sync_batchnorm"),
    "torch.nn.modules.channelshuffle": ("ember.nn.modules.pixelshuffle",),
    "torch.nn.modules.instancenorm": ("ember.nn.modules.normalization",),
    "torch.nn.modules.rnn": ("ember.nn.modules.rnn", "ember.nn.utils.rnn"),
    "torch.optim.adamw": ("ember.optim.adam",),
    "torch.nn.parallel.distributed": ("ember.distributed.parallel",),
    # the module behind torch.distributed's collectives, which scripts import from directly
    "torch.distributed.distributed_c10d": ("ember.distributed.comm",),
    # PyTorch's sharding APIs: their names, over nothing that shards
    "torch.distributed.tensor": ("ember.distributed._sharding",),
    "torch.distributed.tensor.placement_types": ("ember.distributed._sharding",),
    "torch.distributed.tensor._utils": ("ember.distributed._sharding",),
    "torch.distributed.device_mesh": ("ember.distributed._sharding",),
    "torch.distributed._functional_collectives": ("ember.distributed._sharding",),
    "torch.distributed.fsdp": ("ember.distributed._sharding",),
    "torch.distributed._composable": ("ember.distributed._sharding",),
    "torch.distributed._composable.fsdp": ("ember.distributed._sharding",),
    "torch.cuda.amp.autocast_mode": ("ember.cuda.amp",),
    "torch.cuda.amp.grad_scaler": ("ember.cuda.amp",),
    "torch.cpu.amp.autocast_mode": ("ember.cpu.amp",),
    "torch.cpu.amp.grad_scaler": ("ember.cpu.amp",),
    "torchvision": ("ember.vision",),
    # the pre-2.0 package of function transforms that PyTorch still ships beside torch.func
    "functorch": ("ember.func._functorch",),
    "torch.storage": ("ember._storage",),
    "torch.nn.utils.spectral_norm": ("ember.nn.utils.weight_norm",),
    # torch.functional: einsum, norm, split, stft, unique... (ember's top-level functions)
    "torch.functional": ("ember",),
    # torch's older spellings of torch.ao's quantization and quantized layers.
    "torch.quantization": ("ember.ao.quantization",),
    "torch.nn.quantized": ("ember.ao.nn.quantized",),
    # torch's pytree helpers (tree_map, tree_flatten), which user code imports
    "torch.utils._pytree": ("ember.func._pytree",),
    # the private compiler modules whose settings scripts write (ember compiles nothing)
    "torch._dynamo": ("ember._dynamo",),
    "torch._dynamo.config": ("ember._dynamo_config",),
    "torch._dynamo.eval_frame": ("ember._dynamo_eval_frame",),
    "torch._dynamo._trace_wrapped_higher_order_op": ("ember._dynamo_trace_wrapped",),
    "torch._inductor": ("ember._inductor",),
    "torch._inductor.config": ("ember._inductor_config",),
    # torch's private helpers that programs import (_flatten_dense_tensors for all-reduce)
    "torch._utils": ("ember._utils",),
    "torch.__future__": ("ember.__future__",),
    "torch.__config__": ("ember.__config__",),
    # custom ops' namespaces (ember.ops is ember's own op package)
    "torch.ops": ("ember._torch_ops",),
    # typing's names (List, Tuple, Dict, Optional) as TorchScript code imports them
    "torch.jit.annotations": ("typing",),
    # the handful of private extension names that libraries call unconditionally
    "torch._C": ("ember.compat._torch_c",),
}

# ember modules that are not the torch module of the same name (or not torch's at all): under a
# torch name they are "not provided", never a silent stand-in.
EMBER_ONLY = frozenset({
    "torch.cli", "torch.compat", "torch.data", "torch.datasets", "torch.io", "torch.run", "torch.serialization.checkpoint", "torch.tensor", "torch.training",
    "torch.utils.data.datasets", "torch.vision",
})

# Attributes that the alias itself holds (where torch's value is not ember's).
OWN_ATTRIBUTES = {
    "torch": {"__version__": TORCH_VERSION},
    "torch.version": {"__version__": TORCH_VERSION},
    "functorch": {"__version__": TORCH_VERSION},
}


def not_provided(torch_name):
    """The words every refusal ends with."""
    return f"{torch_name} is not provided by ember"


def ember_names(torch_name):
    """The ember modules behind the torch module ``torch_name`` (the first provides its
    submodules), or () where ember provides none."""
    if torch_name in EMBER_ONLY or any(torch_name.startswith(name + ".") for name in EMBER_ONLY):
        return ()
    key = torch_name
    while key not in TABLE:
        if "." not in key:
            return ()
        key = key.rpartition(".")[0]
    rest = torch_name[len(key):]
    private = [part for part in rest.split(".") if part.startswith("_")]
    if private:  # torch's private modules (torch._C, torch._dynamo, ...) are not ember's
        return ()
    if rest:
        return (TABLE[key][0] + rest,)
    return TABLE[key]


_CACHED_KINDS = (types.FunctionType, types.BuiltinFunctionType, type, _Dtype)


# Every alias module made, for _forget_everywhere (gone ones drop out).
_ALIASES = weakref.WeakSet()


def _forget_everywhere(name):
    """Every alias module's copy of ``name`` dropped: ember's function of that name was just
    replaced (the __torch_function__ protocol wraps ember's functions in dispatchers)."""
    for module in list(_ALIASES):
        module._forget(name)


overrides.replaced_hooks.append(_forget_everywhere)


def _ember_module_exists(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # a parent is a module, not a package (ember.cuda.amp, ...)
        return False


class TorchModule(types.ModuleType):
    """A torch module's name over ember modules: attributes are read from (and written to)
    them; a module-valued attribute is the torch alias of that module."""

    def __init__(self, name, targets):
        super().__init__(name)
        object.__setattr__(self, "_ember_targets", targets)
        object.__setattr__(self, "_cached", set())
        _ALIASES.add(self)
        for attribute, value in OWN_ATTRIBUTES.get(name, {}).items():
            object.__setattr__(self, attribute, value)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            if name == "__all__":
                return _public_names(self._ember_targets)
            for target in self._ember_targets:
                if name in ("__file__", "__doc__") and hasattr(target, name):
                    return getattr(target, name)
            if f"{self.__name__}.{name}" in TABLE:  # torch.__config__, torch.__future__
                return self._submodule(name, f"{self.__name__}.{name}")
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        torch_name = f"{self.__name__}.{name}"
        for target in self._ember_targets:
            try:
                value = getattr(target, name)
            except AttributeError:
                continue
            if isinstance(value, types.ModuleType) and value.__name__.startswith("ember"):
                return self._submodule(name, torch_name)
            if isinstance(value, _CACHED_KINDS):
                # functions, classes and dtypes are kept on the alias: the next torch.cat or
                # F.relu is a plain attribute read (this lookup costs ~0.9 us); an assignment
                # or deletion through the alias drops the copy
                object.__setattr__(self, name, value)
                self._cached.add(name)
            return value
        if ember_names(torch_name) and _ember_module_exists(ember_names(torch_name)[0]):
            return self._submodule(name, torch_name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r} "
                             f"({not_provided(torch_name)})")

    def _submodule(self, name, torch_name):
        try:
            return importlib.import_module(torch_name)
        except ModuleNotFoundError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r} "
                                 f"({not_provided(torch_name)})") from None

    def __setattr__(self, name, value):
        # The import system's bookkeeping (dunders, submodules bound on their parent) stays on
        # the alias; everything else (torch.backends.cudnn.benchmark = True) is ember's setting.
        if isinstance(value, TorchModule):
            # A submodule whose name the package also binds to something else (the function
            # torch.autograd.gradcheck beside the module torch.autograd.gradcheck) stays that
            # something, as in torch, which imports such submodules before binding the name.
            if not any(not isinstance(getattr(target, name, value), types.ModuleType)
                       for target in self._ember_targets):
                object.__setattr__(self, name, value)
            return
        if name.startswith("__") and name.endswith("__"):
            object.__setattr__(self, name, value)
            return
        self._forget(name)
        setattr(self._ember_targets[0], name, value)

    def __delattr__(self, name):
        if name in self._cached:
            self._forget(name)
        elif name in self.__dict__:
            object.__delattr__(self, name)
            return
        delattr(self._ember_targets[0], name)

    def _forget(self, name):
        """Drop the alias's copy of an ember attribute (see __getattr__)."""
        if name in self._cached:
            self._cached.discard(name)
            object.__delattr__(self, name)

    def __dir__(self):
        names = set(self.__dict__)
        for target in self._ember_targets:
            names.update(dir(target))
        return sorted(names)

    def __repr__(self):
        return f"<module {self.__name__!r} (ember: {self._ember_targets[0].__name__})>"


def _public_names(targets):
    """``from torch import *``: each target's ``__all__``, else its public non-module names."""
    names = []
    for target in targets:
        listed = getattr(target, "__all__", None)
        if listed is None:
            listed = [name for name, value in vars(target).items()
                      if not name.startswith("_") and not isinstance(value, types.ModuleType)]
        names.extend(name for name in listed if name not in names)
    return names


# ember modules whose classes torch defines in another module than the one-to-one name.
CLASS_MODULES = {"ember.tensor": "torch"}

# each class renamed while the finder is installed -> the ``__module__`` it had before
_renamed_classes = {}


def _rename_classes(ember_module, torch_name):
    """The classes defined in ``ember_module`` report the torch module they are imported from
    (``type(scheduler).__module__ == lr_scheduler.__name__``, ``<class 'torch.Tensor'>``) until
    ``restore_class_modules()``."""
    for value in list(vars(ember_module).values()):
        if isinstance(value, type) and value.__module__ == ember_module.__name__ \
                and value not in _renamed_classes:
            _renamed_classes[value] = value.__module__
            value.__module__ = torch_name


def restore_class_modules():
    for cls, module in _renamed_classes.items():
        cls.__module__ = module
    _renamed_classes.clear()


class _Loader(importlib.abc.Loader):
    def __init__(self, ember_modules):
        self.ember_modules = ember_modules

    def create_module(self, spec):
        targets = tuple(importlib.import_module(name) for name in self.ember_modules)
        if spec.name == "torch":
            for ember_name, torch_name in CLASS_MODULES.items():
                _rename_classes(importlib.import_module(ember_name), torch_name)
        if len(targets) == 1 and targets[0].__name__ == "ember" + spec.name[len("torch"):]:
            _rename_classes(targets[0], spec.name)
        return TorchModule(spec.name, targets)

    def exec_module(self, module):
        """Nothing to run: the ember modules were imported by ``create_module``."""


class TorchFinder(importlib.abc.MetaPathFinder):
    """Resolves ``torch``, ``torch.*``, ``torchvision`` and ``torchvision.*`` to ember; a torch
    module ember lacks is a ModuleNotFoundError that says so (never a fall-through to a real
    torch behind it)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] not in TOP_LEVEL:
            return None
        names = ember_names(fullname)
        if not names or not _ember_module_exists(names[0]):
            # Without a name, the import system lets this error through ``from torch.nn import
            # Missing`` too (it would swallow one naming the module and say only "cannot
            # import name").
            raise ModuleNotFoundError(not_provided(fullname))
        return importlib.machinery.ModuleSpec(fullname, _Loader(names), is_package=True)

    def invalidate_caches(self):
        """No caches: every lookup asks ember's modules."""


def is_alias_name(name):
    """Whether ``name`` is in the module tree that the finder owns."""
    return name.partition(".")[0] in TOP_LEVEL


def loaded_alias_names():
    return [name for name in list(sys.modules) if is_alias_name(name)]
