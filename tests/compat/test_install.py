"""ember.compat.install()/uninstall(): torch names resolve to ember's objects, what ember lacks
is refused with the torch name in the message, and sys.modules comes back exactly."""
import importlib
import sys

import pytest

import ember
import ember.compat


def _torch_entries():
    return {name: module for name, module in sys.modules.items()
            if name.partition(".")[0] in ("torch", "torchvision")}


def test_names_resolve_to_embers_objects(ember_torch):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.nn.modules.activation import MultiheadAttention
    from torch.utils.data import DataLoader
    from torch.utils.data.sampler import RandomSampler

    assert torch.Tensor is ember.Tensor
    assert nn.Linear is ember.nn.Linear
    assert F.relu is ember.nn.functional.relu
    assert MultiheadAttention is ember.nn.MultiheadAttention
    assert DataLoader is ember.data.DataLoader
    assert RandomSampler is ember.data.RandomSampler
    assert torch.utils.data.TensorDataset is ember.data.TensorDataset
    assert torch.optim.lr_scheduler.StepLR is ember.optim.lr_scheduler.StepLR
    # A submodule is reachable as an attribute without its own import, as in torch.
    assert torch.nn.utils.clip_grad_norm_ is ember.nn.utils.clip_grad_norm_
    assert torch.zeros(2).tolist() == [0.0, 0.0]


def test_functorch_resolves_to_embers_function_transforms(ember_torch):
    """Older programs import the functorch package that PyTorch still ships beside torch.func."""
    import functorch
    from functorch import make_functional, vmap
    from ember.func import _functorch
    assert vmap is _functorch.vmap and make_functional is _functorch.make_functional
    assert functorch.__version__.startswith("2.13.0")
    with pytest.warns(FutureWarning, match="`functorch.grad` is deprecated"):
        gradient = functorch.grad(lambda x: (x * x).sum())(ember.ones(2))
    assert gradient.tolist() == [2.0, 2.0]


def test_version_compares_like_torchs(ember_torch):
    import torch
    assert torch.__version__.startswith("2.13.0")
    assert torch.__version__ >= (2, 1)
    assert torch.__version__ >= "2.2"  # 13 > 2 numerically, not as text
    assert torch.__version__ < "2.14"
    assert torch.version.cuda is None
    assert ember.__version__ != torch.__version__


def test_missing_attribute_names_the_torch_api(ember_torch):
    import torch
    with pytest.raises(AttributeError, match=r"^module 'torch' has no attribute 'no_such_api' "
                                             r"\(torch.no_such_api is not provided by ember\)$"):
        torch.no_such_api
    with pytest.raises(AttributeError, match=r"torch.nn.NoSuchLayer is not provided by ember"):
        torch.nn.NoSuchLayer
    with pytest.raises(ImportError, match=r"torch.nn.NoSuchLayer is not provided by ember"):
        from torch.nn import NoSuchLayer  # noqa: F401
    assert not hasattr(torch, "no_such_api")


def test_missing_module_names_the_torch_module(ember_torch):
    with pytest.raises(ModuleNotFoundError, match=r"^torch.no_such_module is not provided by "
                                                  r"ember$"):
        importlib.import_module("torch.no_such_module.deeper")
    # torch's private modules and ember's own packages are not stand-ins for torch's.
    for name in ("torch._C._nn", "torch._functorch", "torch.io", "torch.training",
                 "torch.nn._kernels", "torch.utils.data.datasets"):
        with pytest.raises(ModuleNotFoundError, match="is not provided by ember"):
            importlib.import_module(name)
    import torch  # torch.ops holds custom ops' namespaces, not ember's op package (ember.ops)
    with pytest.raises(AttributeError, match=r"torch.ops.aten is not provided by ember"):
        torch.ops.aten.add


def test_setting_a_torch_attribute_sets_embers(ember_torch):
    import torch
    sentinel = object()
    torch._compat_probe = sentinel
    assert ember._compat_probe is sentinel
    del torch._compat_probe
    assert not hasattr(ember, "_compat_probe")


def test_functions_read_once_still_follow_assignments_through_torch(ember_torch):
    # the alias keeps functions, classes and dtypes it has read (a plain attribute read next
    # time); patching through torch (mock.patch, monkeypatch) still reaches ember and the alias
    import torch
    import torch.nn.functional as F
    original = F.relu
    assert original is ember.nn.functional.relu and F.relu is original
    assert torch.float32 is ember.float32 and torch.nn.Linear is ember.nn.Linear

    def patched(input, inplace=False):
        return input

    F.relu = patched
    try:
        assert ember.nn.functional.relu is patched and F.relu is patched
        assert F.relu(ember.tensor([-1.0])).item() == -1.0
    finally:
        F.relu = original
    assert ember.nn.functional.relu is original and F.relu is original
    torch.cat_probe = torch.cat
    assert ember.cat_probe is ember.cat
    del torch.cat_probe
    assert not hasattr(ember, "cat_probe") and not hasattr(torch, "cat_probe")


def test_a_subclass_defined_after_torch_functions_were_read_still_dispatches(ember_torch):
    # defining a __torch_function__ subclass wraps ember's functions in dispatchers: the
    # aliases drop what they kept, so torch.cat read earlier dispatches now (and not after)
    import torch
    from ember import overrides
    plain_cat = torch.cat
    seen = []

    class Logged(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            seen.append(func.__name__)
            return super().__torch_function__(func, types, args, kwargs or {})

    try:
        marked = torch.ones(2).as_subclass(Logged)
        joined = torch.cat([marked, marked])
        assert type(joined) is Logged and "cat" in seen
        assert torch.cat is not plain_cat and torch.cat is ember.cat
    finally:
        overrides._deactivate()
    assert torch.cat is plain_cat and ember.cat is plain_cat


def test_star_import_gives_the_public_names(ember_torch):
    namespace = {}
    exec("from torch.nn import *", namespace)
    assert namespace["Linear"] is ember.nn.Linear
    assert "np" not in namespace


def test_uninstall_restores_sys_modules_exactly():
    before = _torch_entries()
    meta_path = list(sys.meta_path)
    ember.compat.install(force=True)
    assert ember.compat.is_installed()
    import torch  # noqa: F401
    import torch.nn.functional  # noqa: F401
    import torchvision  # noqa: F401
    assert sys.modules["torch"].Tensor is ember.Tensor
    ember.compat.uninstall()
    assert not ember.compat.is_installed()
    after = _torch_entries()
    assert after.keys() == before.keys()
    assert all(after[name] is before[name] for name in before)
    assert sys.meta_path == meta_path
    ember.compat.uninstall()  # a second uninstall does nothing
    assert _torch_entries().keys() == before.keys()


def test_install_twice_is_one_install():
    ember.compat.install(force=True)
    try:
        finders = len(sys.meta_path)
        ember.compat.install(force=True)
        assert len(sys.meta_path) == finders
    finally:
        ember.compat.uninstall()


def test_a_real_torch_is_not_shadowed_unless_forced(tmp_path, monkeypatch):
    """A torch on the path (a stand-in package here, so the test needs no PyTorch) makes
    install() refuse, naming force=True."""
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text("REAL = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    saved = _torch_entries()
    for name in saved:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(RuntimeError, match=r"a real torch is importable .*install\(force=True\)"):
        ember.compat.install()
    assert not ember.compat.is_installed()
    ember.compat.install(force=True)
    try:
        import torch
        assert torch.Tensor is ember.Tensor
    finally:
        ember.compat.uninstall()
    import torch
    assert torch.REAL
    monkeypatch.delitem(sys.modules, "torch")


def test_install_without_torch_needs_no_force(monkeypatch):
    monkeypatch.setattr(ember.compat, "_real_module", lambda name: None)
    ember.compat.install()
    try:
        import torch
        assert torch.nn.Module is ember.nn.Module
    finally:
        ember.compat.uninstall()
