"""torch's module paths, as scripts import them, resolve to ember's objects under ember run."""
import importlib
import importlib.util
import os
import pkgutil

import pytest

import ember
import ember.compat
from ember.compat._aliases import TABLE

# torch module -> names that scripts import from it.
PATHS = {
    "torch.nn.modules.activation": ["ReLU", "GELU", "Softmax", "MultiheadAttention"],
    "torch.nn.modules.linear": ["Linear", "Identity", "Bilinear"],
    "torch.nn.modules.conv": ["Conv1d", "Conv2d", "ConvTranspose2d"],
    "torch.nn.modules.batchnorm": ["BatchNorm1d", "BatchNorm2d", "SyncBatchNorm"],
    "torch.nn.modules.dropout": ["Dropout", "Dropout2d"],
    "torch.nn.modules.container": ["Sequential", "ModuleList", "ModuleDict"],
    "torch.nn.modules.module": ["Module"],
    "torch.nn.modules.loss": ["CrossEntropyLoss", "MSELoss", "NLLLoss"],
    "torch.nn.modules.normalization": ["LayerNorm", "GroupNorm"],
    "torch.nn.modules.instancenorm": ["InstanceNorm2d"],
    "torch.nn.modules.pooling": ["MaxPool2d", "AdaptiveAvgPool2d"],
    "torch.nn.modules.rnn": ["LSTM", "GRU", "RNNBase", "PackedSequence"],
    "torch.nn.modules.sparse": ["Embedding", "EmbeddingBag"],
    "torch.nn.modules.flatten": ["Flatten", "Unflatten"],
    "torch.nn.modules.utils": ["_pair", "_single", "_triple",
                               "consume_prefix_in_state_dict_if_present"],
    "torch.nn.parameter": ["Parameter"],
    "torch.nn.utils": ["clip_grad_norm_", "parameters_to_vector"],
    "torch.nn.utils.rnn": ["pack_padded_sequence", "pad_packed_sequence", "pad_sequence"],
    "torch.nn.utils.clip_grad": ["clip_grad_norm_", "clip_grad_value_"],
    "torch.nn.init": ["xavier_uniform_", "kaiming_normal_", "zeros_"],
    "torch.nn.functional": ["relu", "cross_entropy", "softmax", "scaled_dot_product_attention"],
    "torch.utils.data": ["DataLoader", "Dataset", "TensorDataset", "random_split"],
    "torch.utils.data.dataloader": ["DataLoader", "default_collate"],
    "torch.utils.data.dataset": ["Dataset", "Subset", "ConcatDataset"],
    "torch.utils.data.sampler": ["Sampler", "RandomSampler", "BatchSampler"],
    "torch.utils.data.distributed": ["DistributedSampler"],
    "torch.optim": ["SGD", "Adam", "AdamW"],
    "torch.optim.optimizer": ["Optimizer"],
    "torch.optim.lr_scheduler": ["StepLR", "LambdaLR", "CosineAnnealingLR"],
    "torch.optim.adamw": ["AdamW"],
    "torch": ["vmap", "manual_seed", "no_grad", "is_anomaly_enabled"],
    "torch.autograd": ["Function", "grad", "Variable", "detect_anomaly", "set_detect_anomaly"],
    "torch.autograd.function": ["Function"],
    "torch.autograd.functional": ["jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"],
    "torch.autograd.variable": ["Variable"],
    "torch.autograd.anomaly_mode": ["detect_anomaly", "set_detect_anomaly"],
    "torch.func": ["vmap", "grad", "grad_and_value", "jacrev", "jacfwd", "functional_call"],
    "torch.amp.autocast_mode": ["autocast"],
    "torch.amp.grad_scaler": ["GradScaler"],
    "torch.cuda.amp.autocast_mode": ["autocast"],
    "torch.cuda.amp.grad_scaler": ["GradScaler"],
    "torch.cpu.amp.autocast_mode": ["autocast"],
    "torch.cpu.amp.grad_scaler": ["GradScaler"],
    "torch.utils.data._utils.collate": ["default_collate", "default_convert"],
    "torch.nn.parallel.distributed": ["DistributedDataParallel"],
    "torch.autograd.grad_mode": ["no_grad", "enable_grad", "set_grad_enabled"],
    "torch.serialization": ["save", "load", "add_safe_globals"],
    "torch.testing": ["assert_close", "make_tensor"],
    "torch.utils.hooks": ["RemovableHandle"],
    "torch.utils.tensorboard": ["SummaryWriter"],
    "torch.distributed": ["init_process_group", "all_reduce"],
    "torch.random": ["manual_seed", "get_rng_state"],
    "torch.cuda": ["is_available", "device_count"],
    "torch.linalg": ["norm"],
    "torch.nn.parallel": ["DistributedDataParallel"],
    "torch.distributions": ["Normal", "Categorical", "MultivariateNormal", "kl_divergence",
                            "constraints"],
    "torch.distributions.normal": ["Normal"],
    "torch.distributions.categorical": ["Categorical"],
    "torch.distributions.kl": ["kl_divergence", "register_kl"],
    "torch.distributions.constraints": ["positive", "simplex", "Constraint"],
    "torch.distributions.utils": ["broadcast_all", "probs_to_logits", "lazy_property"],
    "torch.special": ["expit", "logit", "ndtr", "log_ndtr", "xlog1py", "entr"],
    "torch.utils.checkpoint": ["checkpoint", "checkpoint_sequential"],
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_torch_path_imports(ember_torch, path):
    module = importlib.import_module(path)
    for name in PATHS[path]:
        value = getattr(module, name)
        assert value is not None, f"{path}.{name}"
    # `from <path> import names` works too, and gives the same objects.
    namespace = {}
    exec(f"from {path} import {', '.join(PATHS[path])}", namespace)
    assert all(namespace[name] is getattr(module, name) for name in PATHS[path])


def test_the_same_class_under_every_path(ember_torch):
    import torch
    assert torch.nn.modules.linear.Linear is torch.nn.Linear is ember.nn.Linear
    assert torch.utils.data.dataloader.DataLoader is ember.data.DataLoader
    assert torch.nn.modules.rnn.PackedSequence is ember.nn.utils.rnn.PackedSequence


def test_modules_ember_lacks_are_refused_by_name(ember_torch):
    for path in ("torch.fx.graph_module", "torch.export", "torch.package"):
        with pytest.raises(ModuleNotFoundError, match=f"^{path} is not provided by ember$"):
            importlib.import_module(path)


def test_hub_model_zoo_functional_and_spectral_norm_paths(ember_torch):
    assert importlib.import_module("torch.hub").load_state_dict_from_url is \
        importlib.import_module("torch.utils.model_zoo").load_url
    assert importlib.import_module("torch.functional").einsum is ember.einsum
    assert importlib.import_module("torch.nn.utils.spectral_norm").spectral_norm is \
        ember.nn.utils.spectral_norm
    assert ember_torch.hub.load is ember.hub.load
    assert importlib.import_module("torch._utils")._flatten_dense_tensors is \
        ember._utils._flatten_dense_tensors
    assert importlib.import_module("torch.futures").Future is ember.futures.Future


def test_paths_match_torchs_objects(torch):
    """The names listed above exist at the same paths in torch itself (the table is torch's
    layout, not ember's)."""
    for path, names in PATHS.items():
        module = importlib.import_module(path)
        for name in names:
            assert hasattr(module, name), f"{path}.{name} is not in torch"


def _public_torch_modules():
    """Every public module path in the installed torch's tree (read from its files, nothing
    imported), four levels deep."""
    spec = importlib.util.find_spec("torch")
    pending = [(os.path.dirname(spec.origin), "torch")]
    names = ["torch"]
    while pending:
        folder, package = pending.pop()
        for info in pkgutil.iter_modules([folder]):
            if info.name.startswith("_"):
                continue
            name = f"{package}.{info.name}"
            names.append(name)
            if info.ispkg and name.count(".") < 4:
                pending.append((os.path.join(folder, info.name), name))
    return sorted(names)


def test_every_torch_path_imports_or_is_refused_by_name(torch):
    """No torch module path fails inside ember (a missing ember module behind a provided torch
    name, a broken submodule mapping): each imports, or is refused naming it (or the package
    above it that ember lacks)."""
    names = _public_torch_modules()
    ember.compat.install(force=True)
    try:
        failures = []
        imported = 0
        for name in names:
            try:
                importlib.import_module(name)
                imported += 1
            except ModuleNotFoundError as error:
                refused = str(error).removesuffix(" is not provided by ember")
                if not (name + ".").startswith(refused + "."):  # the path or a package above
                    failures.append(f"{name}: {error!r}")
            except Exception as error:  # any other error is the failure this test reports
                failures.append(f"{name}: {error!r}")
    finally:
        ember.compat.uninstall()
    assert not failures
    assert imported >= len(PATHS)


def test_ember_modules_resolve_under_torchs_name(torch):
    """Each public ember module whose path is also torch's is what that torch path imports
    (unless the table of aliases maps that path on purpose)."""
    torch_names = set(_public_torch_modules())
    ember_modules = [info.name for info in pkgutil.walk_packages(ember.__path__, "ember.")
                     if not any(part.startswith("_") for part in info.name.split("."))]
    twins = {"torch" + name[len("ember"):]: name for name in ember_modules
             if "torch" + name[len("ember"):] in torch_names - set(TABLE)}
    assert {"torch.func", "torch.autograd.functional", "torch.nn.modules.transformer"} <= set(twins)
    ember.compat.install(force=True)
    try:
        for torch_name, ember_name in twins.items():
            module = importlib.import_module(torch_name)
            targets = [target.__name__ for target in module._ember_targets]
            assert ember_name in targets, f"{torch_name} resolves to {targets}"
    finally:
        ember.compat.uninstall()


def test_a_submodule_does_not_shadow_the_function_of_its_name(ember_torch):
    """As in torch: importing torch.autograd.gradcheck (the module) leaves
    torch.autograd.gradcheck the function that the package binds."""
    import importlib
    module = importlib.import_module("torch.autograd.gradcheck")
    function = ember_torch.autograd.gradcheck
    assert callable(function) and function is not module and module.gradcheck is function
    assert function(lambda t: t * 2, ember_torch.ones(2, dtype=ember_torch.float64,
                                                      requires_grad=True))


def test_classes_report_the_torch_module_they_are_imported_from(torch):
    """d2l's ``scheduler.__module__ == lr_scheduler.__name__`` tells a built-in scheduler from
    its own, and tutorials print ``type(x)``: both as in PyTorch while the shim is installed,
    and ember's own names again after it."""
    def observed(library, lr_scheduler):
        optimizer = library.optim.SGD([library.nn.Parameter(library.ones(1))], lr=0.1)
        scheduler = lr_scheduler.MultiStepLR(optimizer, milestones=[1])
        return (scheduler.__module__ == lr_scheduler.__name__, str(type(library.ones(1))),
                str(type(library.ones(1).shape)), lr_scheduler.MultiStepLR.__module__)

    from torch.optim import lr_scheduler as theirs
    expected = observed(torch, theirs)
    ember.compat.install(force=True)
    try:
        import torch as shimmed
        from torch.optim import lr_scheduler
        assert observed(shimmed, lr_scheduler) == expected
    finally:
        ember.compat.uninstall()
    assert ember.optim.lr_scheduler.MultiStepLR.__module__ == "ember.optim.lr_scheduler"
    assert ember.Tensor.__module__ == "ember.tensor"


def test_jit_annotations_are_typings_names(torch, ember_torch):
    # timm's densenet and torchvision's ops: from torch.jit.annotations import List, Tuple
    names = ("Any", "Dict", "List", "Optional", "Tuple", "Union")
    ours = importlib.import_module("torch.jit.annotations")
    assert [getattr(ours, name) for name in names] == \
        [getattr(torch.jit.annotations, name) for name in names]


def test_config_describes_the_build_in_torchs_layout(torch, ember_torch):
    # PyTorch Geometric: NO_MKL = 'USE_MKL=OFF' in torch.__config__.show()
    ours = ember_torch.__config__
    assert ours is importlib.import_module("torch.__config__")
    for library in (torch, ember_torch):
        shown, parallel = library.__config__.show(), library.__config__.parallel_info()
        assert shown.startswith("PyTorch built with:\n") and "Build settings: " in shown
        assert parallel.startswith("ATen/Parallel:\n")
        assert f"at::get_num_threads() : {library.get_num_threads()}\n" in parallel
        mkl = "USE_MKL=ON" if library.backends.mkl.is_available() else "USE_MKL=OFF"
        assert mkl in shown and "USE_CUDA=0" in shown
