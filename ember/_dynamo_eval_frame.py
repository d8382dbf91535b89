"""``torch._dynamo.eval_frame``: OptimizedModule, what ``torch.compile(module)`` returns. ember
runs the compiled module's calls eagerly, but the wrapper is PyTorch's: its state_dict keys carry
the ``_orig_mod.`` prefix, ``model._orig_mod`` unwraps it, and isinstance checks such as
accelerate's ``is_compiled_module`` see a compiled module."""
import warnings

from .nn.modules import module as _module

__all__ = ["OptimizedModule"]


def wrap_module(model):
    """``model`` in an OptimizedModule where it is an nn.Module, else None."""
    return OptimizedModule(model) if isinstance(model, _module.Module) else None


class OptimizedModule(_module.Module):
    """A module registered as the child ``_orig_mod``: attribute reads and writes, ``training``
    and calls go to it, parameters and buffers are its own under the ``_orig_mod.`` prefix."""

    # names kept on the wrapper; any other attribute set on it is set on the original module
    _opt_mod_attributes = frozenset({"_orig_mod", "dynamo_ctx", "forward", "_forward",
                                     "__dict__", "_super_module_initialized"})

    def __init__(self, mod, dynamo_ctx=None):
        # attribute access goes through _orig_mod, so it exists before Module.__init__ runs
        object.__setattr__(self, "_orig_mod", mod)
        object.__setattr__(self, "_super_module_initialized", False)
        super().__init__()
        self._super_module_initialized = True
        del self.__dict__["_orig_mod"]
        self._modules["_orig_mod"] = mod
        self.dynamo_ctx = dynamo_ctx

    def forward(self, *args, **kwargs):
        """The original module's call, its hooks included."""
        return self._orig_mod(*args, **kwargs)

    def __call__(self, *args, **kwargs):
        if _module._global_hooks_in_use:
            warnings.warn("Using `torch.compile(module)` when there are global hooks on modules "
                          "(e.g., from `register_module_forward_hook`); this will cause the "
                          "hooks to fire an extra time for the `OptimizedModule` created by "
                          "`torch.compile(module)`. If this causes undesired behavior, please "
                          "try using `module.compile()`, or use the per-module hooks instead",
                          stacklevel=2)
        return super().__call__(*args, **kwargs)

    @property
    def training(self):
        return self._orig_mod.training

    @training.setter
    def training(self, value):
        # Module.__init__'s default is not the original's mode: only later writes go through
        if self.__dict__["_super_module_initialized"]:
            self._orig_mod.training = value

    def lock_mode(self, training):
        """The original module's mode pinned (the wrapper has no mode of its own)."""
        self._orig_mod.lock_mode(training)
        return self

    def __len__(self):
        if hasattr(type(self._orig_mod), "__len__"):
            return len(self._orig_mod)
        raise TypeError(f"{type(self._orig_mod).__name__} does not support len()")

    def __getattr__(self, name):
        original = self.__dict__.get("_modules", {}).get("_orig_mod")
        if original is None:  # not yet (or no longer) wrapping a module
            raise AttributeError(f"'OptimizedModule' object has no attribute '{name}'")
        return original if name == "_orig_mod" else getattr(original, name)

    def __setattr__(self, name, value):
        if hasattr(type(self), name) or name in OptimizedModule._opt_mod_attributes:
            return super().__setattr__(name, value)
        return setattr(self._orig_mod, name, value)

    def __delattr__(self, name):
        if hasattr(type(self), name) or name in OptimizedModule._opt_mod_attributes:
            return super().__delattr__(name)
        return delattr(self._orig_mod, name)

    def __reduce__(self):
        # copies and pickles wrap a copy of the original anew
        return (type(self), (self._orig_mod, self.dynamo_ctx))

    def __dir__(self):
        names = self._orig_mod.__dir__()
        return names + [name for name in super().__dir__() if name not in names]
