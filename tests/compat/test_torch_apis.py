"""PyTorch's device, backend, determinism and compiler APIs on a CPU-only build: ember answers
what torch 2.13 (CPU) answers, values and errors alike."""
import collections
import copy
import warnings

import numpy as np
import pytest

import ember


def _outcome(call, library):
    """What ``call(library)`` gives: ('value', value) or ('error', type, message)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ("value", call(library))
        except Exception as error:  # noqa: BLE001 (the outcome is what is compared)
            return ("error", type(error), str(error))


def _settings(library):
    backends = library.backends
    return {
        "cudnn": {name: getattr(backends.cudnn, name)
                  for name in ("enabled", "benchmark", "deterministic", "allow_tf32")},
        "mkldnn": {name: getattr(backends.mkldnn, name)
                   for name in ("enabled", "deterministic")},
        "deterministic": (library.are_deterministic_algorithms_enabled(),
                          library.is_deterministic_algorithms_warn_only_enabled()),
        "sdp": (backends.cuda.flash_sdp_enabled(), backends.cuda.mem_efficient_sdp_enabled(),
                backends.cuda.math_sdp_enabled()),
    }


def _restore(library, saved):
    for name, value in saved["cudnn"].items():
        setattr(library.backends.cudnn, name, value)
    for name, value in saved["mkldnn"].items():
        setattr(library.backends.mkldnn, name, value)
    library.use_deterministic_algorithms(saved["deterministic"][0],
                                         warn_only=saved["deterministic"][1])
    cuda = library.backends.cuda
    cuda.enable_flash_sdp(saved["sdp"][0])
    cuda.enable_mem_efficient_sdp(saved["sdp"][1])
    cuda.enable_math_sdp(saved["sdp"][2])


@pytest.fixture
def both(torch):
    """torch and ember, their global settings restored after the test."""
    saved = [(library, _settings(library)) for library in (torch, ember)]
    yield torch, ember
    for library, settings in saved:
        _restore(library, settings)


CALLS = {
    # accelerator
    "accelerator.is_available": lambda lib: lib.accelerator.is_available(),
    "accelerator.current_accelerator": lambda lib: lib.accelerator.current_accelerator(),
    "accelerator.current_accelerator(check)":
        lambda lib: lib.accelerator.current_accelerator(check_available=True),
    "accelerator.device_count": lambda lib: lib.accelerator.device_count(),
    "accelerator.current_device_index": lambda lib: lib.accelerator.current_device_index(),
    "accelerator.set_device_index": lambda lib: lib.accelerator.set_device_index(0),
    "accelerator.synchronize": lambda lib: lib.accelerator.synchronize(),
    "accelerator.memory_allocated": lambda lib: lib.accelerator.memory_allocated(),
    "accelerator.empty_cache": lambda lib: lib.accelerator.empty_cache(),
    "accelerator.device_index(None)":
        lambda lib: lib.accelerator.device_index(None).__enter__(),
    # cuda
    "cuda.is_available": lambda lib: lib.cuda.is_available(),
    "cuda.device_count": lambda lib: lib.cuda.device_count(),
    "cuda.is_initialized": lambda lib: lib.cuda.is_initialized(),
    "cuda.is_bf16_supported": lambda lib: lib.cuda.is_bf16_supported(),
    "cuda.get_arch_list": lambda lib: lib.cuda.get_arch_list(),
    "cuda.empty_cache": lambda lib: lib.cuda.empty_cache(),
    "cuda.memory_allocated": lambda lib: lib.cuda.memory_allocated(),
    "cuda.max_memory_allocated": lambda lib: lib.cuda.max_memory_allocated(),
    "cuda.memory_reserved": lambda lib: lib.cuda.memory_reserved(),
    "cuda.memory_stats": lambda lib: dict(lib.cuda.memory_stats()),
    "cuda.manual_seed_all": lambda lib: lib.cuda.manual_seed_all(1),
    # backends
    "cudnn defaults": lambda lib: _settings(lib)["cudnn"],
    "cudnn.is_available": lambda lib: lib.backends.cudnn.is_available(),
    "cudnn.version": lambda lib: lib.backends.cudnn.version(),
    "cudnn.benchmark = True": lambda lib: (setattr(lib.backends.cudnn, "benchmark", True),
                                           lib.backends.cudnn.benchmark),
    "cudnn.deterministic = True": lambda lib: (
        setattr(lib.backends.cudnn, "deterministic", True), lib.backends.cudnn.deterministic),
    "cudnn.benchmark = 1": lambda lib: setattr(lib.backends.cudnn, "benchmark", 1),
    "cudnn.enabled = 1": lambda lib: setattr(lib.backends.cudnn, "enabled", 1),
    "cudnn.deterministic = 1": lambda lib: setattr(lib.backends.cudnn, "deterministic", 1),
    "cudnn.allow_tf32 = 1": lambda lib: setattr(lib.backends.cudnn, "allow_tf32", 1),
    "cudnn.flags": lambda lib: _inside(lib.backends.cudnn.flags(enabled=False, benchmark=True),
                                       lambda: _settings(lib)["cudnn"]),
    "cudnn.conv.fp32_precision": lambda lib: lib.backends.cudnn.conv.fp32_precision,
    "cudnn.conv.unknown": lambda lib: lib.backends.cudnn.conv.unknown,
    "mkldnn defaults": lambda lib: _settings(lib)["mkldnn"],
    "mkldnn.enabled = 0": lambda lib: setattr(lib.backends.mkldnn, "enabled", 0),
    "mkldnn.flags": lambda lib: _inside(lib.backends.mkldnn.flags(enabled=False),
                                        lambda: _settings(lib)["mkldnn"]),
    "mps.is_available": lambda lib: lib.backends.mps.is_available(),
    "mps.is_built": lambda lib: lib.backends.mps.is_built(),
    "mps.is_macos13_or_newer": lambda lib: lib.backends.mps.is_macos13_or_newer(),
    "cuda.is_built": lambda lib: lib.backends.cuda.is_built(),
    "matmul.allow_tf32 default": lambda lib: lib.backends.cuda.matmul.allow_tf32,
    "matmul.allow_tf32 = 1": lambda lib: setattr(lib.backends.cuda.matmul, "allow_tf32", 1),
    "matmul.reduced precision": lambda lib: (
        lib.backends.cuda.matmul.allow_fp16_reduced_precision_reduction,
        lib.backends.cuda.matmul.allow_bf16_reduced_precision_reduction),
    "matmul.reduced precision = 1": lambda lib: setattr(
        lib.backends.cuda.matmul, "allow_fp16_reduced_precision_reduction", 1),
    "matmul.unknown": lambda lib: lib.backends.cuda.matmul.unknown,
    "matmul.unknown = 1": lambda lib: setattr(lib.backends.cuda.matmul, "unknown", 1),
    "matmul.fp32_precision = 'bad'": lambda lib: setattr(lib.backends.cuda.matmul,
                                                         "fp32_precision", "bad"),
    "sdp switches": lambda lib: (lib.backends.cuda.enable_flash_sdp(False),
                                 _settings(lib)["sdp"]),
    "opt_einsum.is_available": lambda lib: lib.backends.opt_einsum.is_available(),
    "opt_einsum.enabled": lambda lib: lib.backends.opt_einsum.enabled,
    "opt_einsum.strategy": lambda lib: lib.backends.opt_einsum.strategy,
    "opt_einsum.flags(strategy)": lambda lib: _inside(
        lib.backends.opt_einsum.flags(strategy="greedy"), lambda: None),
    # determinism
    "deterministic defaults": lambda lib: _settings(lib)["deterministic"],
    "use_deterministic_algorithms(True)": lambda lib: (
        lib.use_deterministic_algorithms(True), _settings(lib)["deterministic"],
        lib.get_deterministic_debug_mode()),
    "use_deterministic_algorithms(warn_only)": lambda lib: (
        lib.use_deterministic_algorithms(True, warn_only=True),
        _settings(lib)["deterministic"], lib.get_deterministic_debug_mode()),
    "use_deterministic_algorithms(1)": lambda lib: lib.use_deterministic_algorithms(1),
    "use_deterministic_algorithms(warn_only=1)":
        lambda lib: lib.use_deterministic_algorithms(True, warn_only=1),
    "set_deterministic_debug_mode('error')": lambda lib: (
        lib.set_deterministic_debug_mode("error"), _settings(lib)["deterministic"]),
    "set_deterministic_debug_mode(True)": lambda lib: (
        lib.set_deterministic_debug_mode(True), lib.get_deterministic_debug_mode()),
    "set_deterministic_debug_mode('bad')": lambda lib: lib.set_deterministic_debug_mode("bad"),
    "set_deterministic_debug_mode(5)": lambda lib: lib.set_deterministic_debug_mode(5),
    "set_deterministic_debug_mode(1.0)": lambda lib: lib.set_deterministic_debug_mode(1.0),
    # precision (read only: torch refuses reads after mixing its legacy and new setters)
    "get_float32_matmul_precision": lambda lib: lib.get_float32_matmul_precision(),
    "set_float32_matmul_precision(3)": lambda lib: lib.set_float32_matmul_precision(3),
    # compile
    "compile(function)": lambda lib: lib.compile(_double)(4),
    "compile(decorator)": lambda lib: lib.compile(mode="max-autotune")(_double)(4),
    "compile(None)(None)": lambda lib: lib.compile()(None),
    "compile(3)": lambda lib: lib.compile(3),
    "compile(mode and options)": lambda lib: lib.compile(len, mode="default", options={}),
    "compile(unknown keyword)": lambda lib: lib.compile(len, unknown=1),
    "compiler.is_compiling": lambda lib: lib.compiler.is_compiling(),
    "compiler.is_dynamo_compiling": lambda lib: lib.compiler.is_dynamo_compiling(),
    "compiler.is_exporting": lambda lib: lib.compiler.is_exporting(),
    "compiler.disable(function)": lambda lib: lib.compiler.disable(_double)(4),
    "compiler.reset": lambda lib: lib.compiler.reset(),
    "compiler.allow_in_graph": lambda lib: lib.compiler.allow_in_graph(_double) is _double,
    # jit
    "jit.is_scripting": lambda lib: lib.jit.is_scripting(),
    "jit.is_tracing": lambda lib: lib.jit.is_tracing(),
    "jit.annotate": lambda lib: lib.jit.annotate(int, 3),
    "jit.ignore": lambda lib: lib.jit.ignore(_double) is _double,
    "jit.unused": lambda lib: lib.jit.unused(_double) is _double,
    "jit.export": lambda lib: lib.jit.export(_double) is _double,
    # seeds and devices
    "manual_seed returns the default generator":
        lambda lib: lib.manual_seed(3) is lib.default_generator,
    "manual_seed().initial_seed": lambda lib: lib.manual_seed(3).initial_seed(),
    "get_default_device": lambda lib: str(lib.get_default_device()),
    "set_default_device('cpu')": lambda lib: (lib.set_default_device("cpu"),
                                              str(lib.get_default_device()),
                                              lib.set_default_device(None)),
    "set_default_device(3)": lambda lib: lib.set_default_device(3),
    "with device('cpu') as context": lambda lib: _inside(lib.device("cpu"), lambda: (
        str(lib.get_default_device()), lib.zeros(2).tolist())),
    "with device('cpu') returns itself": lambda lib: _entered(lib.device("cpu")),
    "backends.cuda.sdp_kernel enters as": lambda lib: _entered_value(
        lib.backends.cuda.sdp_kernel(enable_flash=False)),
    "is_storage": lambda lib: (lib.is_storage(lib.ones(1)),
                               lib.is_storage(lib.ones(1).untyped_storage())),
}


def _double(value):
    return 2 * value


def _entered_value(context):
    with context as entered:
        return entered


def _entered(context):
    with context as entered:
        return entered is context


def _inside(context, read):
    with context:
        return read()


@pytest.mark.parametrize("name", sorted(CALLS))
def test_like_torch(both, name):
    torch, _ = both
    theirs = _outcome(CALLS[name], torch)
    ours = _outcome(CALLS[name], ember)
    assert ours == theirs


def test_restored_after_flags_blocks(both):
    for library in both:
        before = _settings(library)
        with library.backends.cudnn.flags(enabled=False, benchmark=True, deterministic=True):
            assert library.backends.cudnn.deterministic is True
        assert _settings(library) == before


def test_matmul_precision_and_allow_tf32_are_one_setting():
    try:
        assert ember.get_float32_matmul_precision() == "highest"
        assert ember.backends.cuda.matmul.fp32_precision == "none"
        ember.set_float32_matmul_precision("high")
        assert ember.backends.cuda.matmul.allow_tf32 is True
        assert ember.backends.cuda.matmul.fp32_precision == "tf32"
        ember.backends.cuda.matmul.allow_tf32 = False
        assert ember.get_float32_matmul_precision() == "highest"
        assert ember.backends.cuda.matmul.fp32_precision == "ieee"
        with pytest.warns(UserWarning, match="no effect"):
            ember.set_float32_matmul_precision("fastest")
        assert ember.get_float32_matmul_precision() == "highest"
    finally:
        ember.backends.cuda.matmul.fp32_precision = "none"
    assert ember.get_float32_matmul_precision() == "highest"


def test_torch_matmul_precision_transitions_match(torch):
    """Each library in a fresh state: set_float32_matmul_precision then allow_tf32 reads."""
    for precision, allow_tf32 in (("medium", True), ("high", True), ("highest", False)):
        ember.set_float32_matmul_precision(precision)
        assert ember.backends.cuda.matmul.allow_tf32 is allow_tf32
    ember.backends.cuda.matmul.fp32_precision = "none"


def test_backends_reached_through_torch_names(ember_torch):
    torch = ember_torch
    torch.backends.cudnn.benchmark = True
    try:
        assert ember.backends.cudnn.benchmark is True
        torch.backends.cuda.matmul.allow_tf32 = True
        assert ember.get_float32_matmul_precision() == "high"
    finally:
        torch.backends.cudnn.benchmark = False
        torch.backends.cuda.matmul.fp32_precision = "none"
    assert torch.backends.cpu.get_cpu_capability() in ("AVX512", "AVX2", "DEFAULT")
    import torch.backends.cudnn as cudnn
    assert cudnn is torch.backends.cudnn


def _jit_warnings_a_script_sees(library):
    """The DeprecationWarnings that pass a script's default filters (shown only where raised
    from the script itself) when it scripts and traces."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("default", category=DeprecationWarning, module=__name__)
        model = library.nn.Linear(2, 2)
        library.jit.script(model)
        library.jit.trace(model, library.ones(1, 2))
    return [str(warning.message) for warning in caught]


def test_jit_deprecation_is_hidden_from_scripts_like_torch(torch):
    # einops' layers scripted by a user: PyTorch's warning is not shown, ember's was
    assert _jit_warnings_a_script_sees(ember) == _jit_warnings_a_script_sees(torch) == []


def test_jit_passes_modules_and_functions_through():
    model = ember.nn.Linear(2, 3)
    with pytest.warns(DeprecationWarning, match="torch.jit.script"):
        assert ember.jit.script(model) is model
    with pytest.warns(DeprecationWarning, match="torch.jit.trace"):
        assert ember.jit.trace(model, ember.ones(1, 2)) is model



def test_script_module_subclasses_run_eagerly_like_torch(torch):
    """A PINN's ``class network(torch.jit.ScriptModule)`` with a plain forward, and the legacy
    ``@torch.jit.script_method``: modules like any other, same parameters and outputs."""
    def build(library):
        class Network(library.jit.ScriptModule):
            def __init__(self):
                super().__init__()
                self.hidden = library.nn.Linear(3, 4)

            def forward(self, x):
                return self.hidden(x).tanh()

        class Scripted(library.jit.ScriptModule):
            def __init__(self):
                super().__init__()
                self.out = library.nn.Linear(4, 1)

            with pytest.warns(DeprecationWarning, match="torch.jit.script_method"):
                @library.jit.script_method
                def forward(self, x):
                    return self.out(x).relu()
        return Network(), Scripted()
    ours, theirs = build(ember), build(torch)
    x = np.linspace(-1.0, 1.0, 6, dtype=np.float32).reshape(2, 3)
    for mine, reference in zip(ours, theirs):
        assert isinstance(mine, ember.jit.ScriptModule) and isinstance(mine, ember.nn.Module)
        assert list(mine.state_dict()) == list(reference.state_dict())
        mine.load_state_dict({key: ember.tensor(value.numpy())
                              for key, value in reference.state_dict().items()})
    hidden = ours[0](ember.tensor(x))
    np.testing.assert_allclose(hidden.detach().numpy(),
                               theirs[0](torch.tensor(x)).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours[1](hidden).detach().numpy(),
                               theirs[1](theirs[0](torch.tensor(x))).detach().numpy(), rtol=1e-6)


def test_jit_save_and_load_keep_the_module_whole(tmp_path, torch):
    model = ember.nn.Sequential(ember.nn.Linear(2, 3), ember.nn.Tanh())
    with pytest.warns(DeprecationWarning):
        scripted = ember.jit.script(model)
    ember.jit.save(scripted, tmp_path / "model.pt")
    loaded = ember.jit.load(tmp_path / "model.pt")
    x = ember.ones(1, 2)
    assert ember.equal(loaded(x), model(x)) and type(loaded) is ember.nn.Sequential
    archive = tmp_path / "torchscript.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(archive))
    with pytest.raises(RuntimeError, match="torch.jit.load is not provided by ember for "
                                           "PyTorch's TorchScript archives"):
        ember.jit.load(archive)


class _Net(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = ember.nn.Linear(3, 4)

    def forward(self, x):
        return self.hidden(x).relu()


def test_scripted_and_traced_modules_save_themselves(tmp_path, torch):
    """d2l's ``net = torch.jit.script(net); net.save('my_mlp')``: the module keeps its class's
    names, state_dict keys and outputs, and gains ``save``, as PyTorch's scripted modules have."""
    x = ember.ones(2, 3)
    for make in (lambda model: ember.jit.script(model), lambda model: ember.jit.trace(model, x)):
        for model in (ember.nn.Sequential(ember.nn.Linear(3, 2), ember.nn.Tanh()), _Net()):
            with pytest.warns(DeprecationWarning):
                scripted = make(model)
            assert isinstance(scripted, type(model).__mro__[1]) and \
                type(scripted).__name__ == type(model).__mro__[1].__name__
            path = tmp_path / "my_mlp"
            scripted.save(path)
            loaded = ember.jit.load(path)
            assert ember.equal(loaded(x), scripted(x))
            assert list(loaded.state_dict()) == list(scripted.state_dict())
    theirs = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(3, 2)))
    assert callable(theirs.save) and list(theirs.state_dict()) == ["0.weight", "0.bias"]
    with pytest.warns(DeprecationWarning):
        function = ember.jit.script(ember.tanh)
    assert function is ember.tanh


def _compiled_pair(lib, **options):
    model = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.BatchNorm1d(3))
    model.eval()
    return model, lib.compile(model, **options)


def test_compile_wraps_a_module_as_torch_does():
    """torch.compile(module) is an OptimizedModule over the module: state_dict keys under
    ``_orig_mod.``, attributes and training mode read and written through to the module."""
    torch = pytest.importorskip("torch")
    _, theirs = _compiled_pair(torch, backend="eager")  # torch's wrapper, never called
    model, compiled = _compiled_pair(ember)
    assert type(compiled).__name__ == "OptimizedModule" and compiled._orig_mod is model
    assert list(compiled.state_dict()) == list(theirs.state_dict())
    assert list(compiled.state_dict())[0] == "_orig_mod.0.weight"
    assert [name for name, _ in compiled.named_modules()] == \
        [name for name, _ in theirs.named_modules()]
    assert repr(compiled) == repr(theirs)
    for pair in ((compiled, model), (theirs, theirs._orig_mod)):
        wrapper, original = pair
        assert wrapper.training is False
        wrapper.train()
        assert wrapper.training and original.training and original[1].training
        original.eval()
        assert not wrapper.training
        wrapper.note = 5  # set on the original module
        assert original.note == 5 and "note" not in wrapper.__dict__
        assert len(wrapper) == 2 and wrapper.__len__() == 2
        with pytest.raises(TypeError, match="not subscriptable"):
            wrapper[0]
        with pytest.raises(RuntimeError) as caught:
            wrapper.load_state_dict(original.state_dict())
        assert 'Missing key(s) in state_dict: "_orig_mod.0.weight"' in str(caught.value)
    x = ember.tensor(np.linspace(-1, 1, 8, dtype=np.float32).reshape(4, 2))
    assert ember.equal(compiled(x), model(x))
    compiled.train()
    out = compiled(x)
    assert model[1].num_batches_tracked.item() == 1  # batch statistics: training mode
    out.sum().backward()
    assert model[0].weight.grad is not None
    copied = copy.deepcopy(compiled)
    assert type(copied) is type(compiled) and copied._orig_mod is not model
    assert ember.equal(copied._orig_mod[0].weight, model[0].weight)
    compiled.load_state_dict(copied.state_dict())


def test_compile_of_functions_and_disabled_compiles():
    torch = pytest.importorskip("torch")
    model = ember.nn.Linear(2, 3)
    assert ember.compile(model, disable=True) is model
    assert type(torch.compile(torch.nn.Linear(2, 3), disable=True)) is torch.nn.Linear
    compiled = ember.compile(model, mode="reduce-overhead", fullgraph=True, dynamic=False)
    assert compiled._orig_mod is model
    with pytest.raises(RuntimeError, match="Unrecognized mode=fast"):
        ember.compile(model, mode="fast")

    def double(value):
        return value * 2
    for lib in (ember, torch):
        wrapped = lib.compile(double, backend="eager") if lib is torch else lib.compile(double)
        assert wrapped is not double and wrapped.__wrapped__ is double
        assert wrapped.__name__ == "double"
        assert lib.compile(double, disable=True) is double
    assert ember.compile(double)(4) == 8


def test_compiled_module_saves_and_loads_whole(tmp_path):
    model = ember.nn.Linear(2, 3)
    compiled = ember.compile(model)
    ember.save(compiled, tmp_path / "whole.pt")
    loaded = ember.load(tmp_path / "whole.pt", weights_only=False)
    assert type(loaded) is type(compiled)
    assert ember.equal(loaded._orig_mod.weight, model.weight)
    x = ember.ones(1, 2)
    assert ember.equal(loaded(x), model(x))


def test_compiled_module_locks_and_evaluates_the_original():
    model = ember.nn.Sequential(ember.nn.Linear(2, 2), ember.nn.Dropout(0.5))
    compiled = ember.compile(model)
    compiled.lock_mode(False)
    compiled.train()
    assert not model.training and not compiled.training and model[1].training
    with ember.training.evaluating(compiled):
        assert not model[1].training
    assert model[1].training


def test_cuda_queries_that_need_a_device_raise():
    for name in ("get_device_name", "get_device_capability", "get_device_properties",
                 "synchronize", "current_device"):
        with pytest.raises(RuntimeError, match="CPU only"):
            getattr(ember.cuda, name)()
    with pytest.raises(RuntimeError, match="CPU only"):
        ember.set_default_device("cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        with ember.device("mps"):
            pass


def test_meta_device_block_then_to_empty_and_init_as_pytorch():
    """nanochat's construction: modules built under ``with torch.device('meta')`` (whose
    initialisation draws nothing from the CPU generator), ``to_empty(device='cpu')``, then
    the script's own init: the same weights as PyTorch, and the stream after it the same."""
    torch = pytest.importorskip("torch")

    def build(framework):
        framework.manual_seed(3)
        with framework.device("meta"):
            model = framework.nn.Sequential(framework.nn.Linear(4, 5), framework.nn.Linear(5, 2))
        model.to_empty(device="cpu")
        for layer in model:
            framework.nn.init.normal_(layer.weight, std=0.5)
            framework.nn.init.zeros_(layer.bias)
        return model, framework.rand(3)

    ours, our_next = build(ember)
    theirs, their_next = build(torch)
    for mine, reference in zip(ours.state_dict().values(), theirs.state_dict().values()):
        np.testing.assert_array_equal(mine.numpy(), reference.numpy())
    np.testing.assert_array_equal(our_next.numpy(), their_next.numpy())
    assert str(next(ours.parameters()).device) == "cpu"


def _built_in_a_meta_block(framework):
    """What transformers reads while building a model under ``with device('meta')``: the
    device of a fresh tensor and the default device (it skips the init then), of layers'
    parameters and buffers, and after the block, ``empty_like(..., device='cpu')`` and to_empty."""
    seen = []
    with framework.device("meta"):
        seen.append((str(framework.tensor([]).device), str(framework.get_default_device())))
        linear = framework.nn.Linear(3, 2)
        layers = (linear, framework.nn.Embedding(5, 4), framework.nn.LayerNorm(4))
        seen.append([str(parameter.device) for layer in layers for parameter in layer.parameters()])
        made = framework.zeros(2, device=linear.weight.device)
        buffer = framework.nn.Buffer(framework.arange(4), persistent=False)
        seen.append((str(made.device), made.is_meta, str(buffer.device)))
    seen.append((str(framework.get_default_device()), str(framework.zeros(1).device),
                 str(linear.weight.device), linear.weight.is_meta,
                 str(framework.empty_like(linear.weight, device="cpu").device)))
    linear.to_empty(device="cpu")
    seen.append((str(linear.weight.device), linear.weight.is_meta))
    return seen


def test_meta_block_tensors_report_the_meta_device_as_torch(torch):
    """transformers builds every from_pretrained model in a meta block and initialises only
    what is still on the meta device afterwards (non-persistent buffers such as RoPE's
    inv_freq and BERT's position_ids were left zero when ember's tensors said 'cpu')."""
    assert _built_in_a_meta_block(ember) == _built_in_a_meta_block(torch)
    with pytest.raises(RuntimeError, match="ember runs on the CPU only, got device 'meta'"):
        ember.zeros(1, device="meta")


def test_compiler_settings_that_scripts_write(ember_torch):
    """llm.c's and gpt-fast's settings: torch._inductor.config and torch._dynamo.config take
    them (ember compiles nothing), and the dynamo helpers change nothing."""
    import importlib
    inductor_config = importlib.import_module("torch._inductor.config")
    inductor_config.coordinate_descent_tuning = True
    assert ember_torch._inductor.config.coordinate_descent_tuning is True
    assert ember_torch._dynamo.config.cache_size_limit == 8  # PyTorch's default
    ember_torch._dynamo.config.cache_size_limit = 64
    assert ember_torch._dynamo.config.cache_size_limit == 64
    ember_torch._dynamo.config.cache_size_limit = 8
    inductor_config.coordinate_descent_tuning = False
    ember_torch._dynamo.reset()
    x = ember_torch.ones(3, 2)
    ember_torch._dynamo.mark_dynamic(x, 0)
    layer = ember_torch.compile(ember_torch.nn.Linear(2, 1))
    assert tuple(layer(x).shape) == (3, 1)
    with pytest.raises(ModuleNotFoundError, match="torch._functorch is not provided"):
        importlib.import_module("torch._functorch")


_LION_SCRIPT = '''
import numpy as np
import torch
from torch.optim.optimizer import Optimizer, ParamsT, _use_grad_for_differentiable, _get_value
from torch.optim.optimizer import _default_to_fused_or_foreach
from torch.nn.common_types import _size_2_t
from torch.nn.modules.transformer import _get_clones
from torch.nn.modules.module import _addindent
from torch.utils._pytree import tree_map, tree_flatten, tree_unflatten
from torch.types import Number


class Lion(Optimizer):
    def __init__(self, params: ParamsT, lr: float = 1e-4, betas=(0.9, 0.99), weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay,
                                      differentiable=False))

    @_use_grad_for_differentiable
    def step(self, closure=None):
        assert not torch.is_grad_enabled()
        for group in self.param_groups:
            print(_default_to_fused_or_foreach(group["params"], False),
                  _default_to_fused_or_foreach([], False),
                  _default_to_fused_or_foreach([], True, True))
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                    state["step"] = torch.tensor(0.0)
                state["step"] += 1
                exp_avg = state["exp_avg"]
                beta1, beta2 = group["betas"]
                p.mul_(1 - group["lr"] * group["weight_decay"])
                update = exp_avg * beta1 + p.grad * (1 - beta1)
                p.add_(torch.sign(update), alpha=-group["lr"])
                exp_avg.mul_(beta2).add_(p.grad, alpha=1 - beta2)
                assert _get_value(state["step"]) >= 1


class Block(torch.nn.Module):
    def __init__(self, kernel: _size_2_t = 3):
        super().__init__()
        self.layers = _get_clones(torch.nn.Linear(4, 4), 2)

    def forward(self, x):
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return x


torch.manual_seed(0)
model = Block()
with torch.no_grad():
    for index, p in enumerate(model.parameters()):
        p.copy_(torch.tensor(np.random.default_rng(index).standard_normal(tuple(p.shape)),
                             dtype=torch.float32))
torch.nn.init._no_grad_trunc_normal_(torch.empty(3), 0.0, 1.0, -2.0, 2.0)
optimizer = Lion(model.parameters(), lr=0.01, weight_decay=0.1)
x = torch.tensor(np.linspace(-1, 1, 20, dtype=np.float32).reshape(5, 4))
for _ in range(5):
    loss = model(x).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    print(f"{loss.item():.6f}")
leaves, spec = tree_flatten({"a": [1, 2], "b": (3,)})
print(tree_unflatten([leaf * 10 for leaf in leaves], spec),
      tree_map(lambda a, b: a + b, [1, 2], [3, 4]))
print(_addindent("a\\nb", 2).replace("\\n", "|"), isinstance(3, Number.__args__))
'''


def test_a_custom_optimizer_written_on_torchs_private_helpers(tmp_path, torch):
    """A Lion optimizer and a block written the way code copied from PyTorch's sources is:
    ember runs it and prints what PyTorch prints."""
    _prints_what_torch_prints(tmp_path / "lion.py", _LION_SCRIPT)


def _prints_what_torch_prints(script, text):
    """Write ``text`` to ``script``, run it under ember (``ember run``) and under torch: both
    succeed and print the same."""
    import subprocess
    import sys
    from tests.compat.conftest import run_ember
    script.write_text(text)
    ours = run_ember(script)
    assert ours.returncode == 0, ours.stderr
    theirs = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=120)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.stdout == theirs.stdout


def test_return_types_are_reachable_for_isinstance_checks(ember_torch):
    values = ember_torch.tensor([[1.0, 3.0], [2.0, 0.0]])
    assert isinstance(values.max(0), ember_torch.return_types.max)
    assert isinstance(ember_torch.sort(values), ember_torch.return_types.sort)
    assert ember_torch.return_types.topk.__name__ == "topk"


def _private_extension_probes(torch):
    """What torchmetrics' Metric.__init__, tensor subclasses and older tracing checks ask of
    torch._C."""
    torch._C._log_api_usage_once("torchmetrics.metric.Accuracy")

    class Plain(torch.Tensor):
        __torch_function__ = torch._C._disabled_torch_function_impl

    tensor = torch.ones(2, 3)
    subclassed = tensor.as_subclass(Plain)
    before = torch.is_grad_enabled()
    torch._C._set_grad_enabled(False)
    disabled = (torch.is_grad_enabled(), torch._C.is_grad_enabled())
    torch._C._set_grad_enabled(before)
    parsed = [torch._C._nn._parse_to(*args, **kwargs) for args, kwargs in (
        ((), {}), (("cpu",), {}), ((torch.float64,), {}), (("cpu", torch.float16), {}),
        ((torch.ones(2, dtype=torch.int32),), {}), ((torch.float32, True), {}),
        ((), {"device": "cpu", "dtype": torch.float64, "non_blocking": True}),
        ((torch.device("cpu"),), {"memory_format": torch.channels_last}))]
    return ([tuple(map(str, result)) for result in parsed],
            isinstance(torch.Tensor, torch._C._TensorMeta),
            torch._C._get_tracing_state(), isinstance(tensor, torch._C.TensorBase),
            isinstance(tensor, torch._C._TensorBase), torch._C.TensorBase in type(tensor).__mro__,
            isinstance(torch.Generator(), torch._C.Generator), type(subclassed + 1).__name__,
            disabled, torch.is_grad_enabled() == before)


def test_private_extension_names_that_libraries_call(torch, ember_torch):
    assert _private_extension_probes(ember_torch) == _private_extension_probes(torch)
    with pytest.raises(AttributeError, match=r"torch._C._no_such_name is not provided by ember"):
        ember_torch._C._no_such_name


def _lightning_probes(torch, path):
    """What PyTorch Lightning reads of torch while it imports and sets up a Trainer (through
    attributes: an import statement would bind whichever torch is installed)."""
    pytree = torch.utils._pytree

    def flatten(tree):  # Lightning's own flatten over torch's node registry
        node_type = pytree._get_node_type(tree)
        if node_type not in pytree.SUPPORTED_NODES:
            return [tree], pytree.LeafSpec()
        children, context = pytree.SUPPORTED_NODES[node_type].flatten_fn(tree)
        leaves, specs = [], []
        for child in children:
            child_leaves, child_spec = flatten(child)
            leaves += child_leaves
            specs.append(child_spec)
        return leaves, pytree.TreeSpec(node_type, context, specs)

    Pair = collections.namedtuple("Pair", ["x", "y"])
    tree = {"a": [1, (2, 3)], "b": Pair(4, [5])}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        leaves, spec = flatten(tree)
    leaf_warnings = {(warning.category, str(warning.message)) for warning in caught}
    rebuilt = pytree.tree_unflatten([leaf * 10 for leaf in leaves], spec)
    with torch.autograd.profiler.emit_nvtx(enabled=False), \
            torch.autograd.profiler.emit_itt():
        nvtx_off = True
    try:
        with torch.autograd.profiler.emit_nvtx():
            nvtx_on = "entered"
    except AssertionError as error:
        nvtx_on = str(error)
    reader = torch.PyTorchFileReader(str(path))
    records = sorted(reader.get_all_records())
    storage = reader.get_storage_from_record("data/0", 4, torch.float32)
    return (leaves, rebuilt, spec.num_leaves, leaf_warnings, nvtx_off, nvtx_on,
            torch.profiler.kineto_available(), torch.distributed.is_torchelastic_launched(),
            "data.pkl" in records, reader.has_record("data/0"), tuple(storage.shape),
            torch.tensor([]).set_(storage.untyped_storage()).tolist(),
            isinstance(torch.nn.Linear(1, 1), (torch.ScriptModule, torch.fx.GraphModule,
                                               torch._dynamo.OptimizedModule)),
            issubclass(torch.fx.GraphModule, torch.nn.Module),
            issubclass(torch.ScriptModule, torch.nn.Module),
            torch.distributed.constants.default_pg_timeout is not None)


@pytest.fixture
def torch_checkpoint(torch, tmp_path):
    """A file PyTorch wrote (before torch's names resolve to ember)."""
    path = tmp_path / "checkpoint.pt"
    torch.save({"w": torch.arange(4.0)}, path)
    return path


def test_what_lightning_reads_of_torch(torch, torch_checkpoint, ember_torch):
    assert _lightning_probes(ember_torch, torch_checkpoint) == \
        _lightning_probes(torch, torch_checkpoint)


_FX_WRAP_SCRIPT = """
import torch
import torch.fx


def rotate(x):
    return x.flip(-1)


print(torch.fx.wrap(rotate) is rotate, torch.fx.wrap("rotate"))
for bad in (3, None):
    try:
        torch.fx.wrap(bad)
    except Exception as error:
        print(type(error).__name__, error)


def inside():
    return torch.fx.wrap(rotate)


try:
    inside()
except Exception as error:
    print(type(error).__name__, error)
"""


def test_fx_wrap_at_import_time_like_torch(tmp_path, torch):
    # timm decorates its layers' helpers with @torch.fx.wrap when it is imported
    _prints_what_torch_prints(tmp_path / "fx_wrap.py", _FX_WRAP_SCRIPT)


_SCALAR_SCRIPT = """
import math, torch, warnings
x = torch.ones(2, requires_grad=True)
y = (x * 2).sum()
print(y.item(), int(y), f"{y:.1f}", float(y.detach()))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with torch.no_grad():
        print(float(y), complex(y))
    with torch.inference_mode():
        print(float(y))
    optimizer = torch.optim.LBFGS([x], max_iter=2)
    print(optimizer.step(lambda: (x - 3).pow(2).sum().backward() or (x - 3).pow(2).sum()).item())
print("warnings without grad mode:", len(caught))
print(float(y), math.exp(y), complex(y), float(y * 3))
"""


def test_float_of_a_tensor_that_requires_grad_warns_once_as_torch(tmp_path, torch):
    """float() (and complex(), math.exp) of a tensor that requires grad: PyTorch's UserWarning,
    once a process, only while grad mode is on (LBFGS's float() of its closure's loss under
    no_grad is silent); item(), int() and formatting stay silent."""
    import subprocess
    import sys

    from tests.compat.conftest import run_ember
    script = tmp_path / "scalars.py"
    script.write_text(_SCALAR_SCRIPT)
    theirs = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=120)
    mine = run_ember(str(script), module_runner=True)
    assert mine.stdout == theirs.stdout

    def warning_lines(stderr):
        return [line.split(": ", 1)[1] for line in stderr.splitlines() if "Warning: " in line]

    assert warning_lines(mine.stderr) == warning_lines(theirs.stderr)
    assert len(warning_lines(mine.stderr)) == 1


def test_record_decorates_a_torchrun_entry_point(ember_torch, tmp_path, monkeypatch):
    """``@record`` from torch.distributed.elastic (torchrun recipes): the call passes through;
    an uncaught error is written to TORCHELASTIC_ERROR_FILE and raised."""
    import importlib
    errors = importlib.import_module("torch.distributed.elastic.multiprocessing.errors")

    @errors.record
    def main(value):
        if value < 0:
            raise ValueError("negative")
        return value * 2
    assert main(3) == 6 and main.__name__ == "main"
    error_file = tmp_path / "error.json"
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(error_file))
    with pytest.raises(ValueError, match="negative"):
        main(-1)
    import json
    written = json.loads(error_file.read_text())
    assert written["message"]["message"] == "ValueError: negative"


def test_compiled_module_checks_see_a_compiled_module(ember_torch):
    """accelerate's and transformers' is_compiled_module: isinstance with
    torch._dynamo.eval_frame.OptimizedModule, then ``model._orig_mod`` to unwrap."""
    from torch._dynamo.eval_frame import OptimizedModule
    model = ember_torch.nn.Linear(2, 2)
    compiled = ember_torch.compile(model)
    assert isinstance(compiled, OptimizedModule) and not isinstance(model, OptimizedModule)
    assert compiled._orig_mod is model
    assert OptimizedModule is ember_torch._dynamo.eval_frame.OptimizedModule


def _plain(value):
    """A result as plain data to compare across libraries: a tensor as (dtype, shape, values),
    a library's repr with its name as torch's, sequences item by item."""
    if isinstance(value, (tuple, list)):
        return type(value).__name__, [_plain(item) for item in value]
    if hasattr(value, "tolist") and hasattr(value, "dtype") and hasattr(value, "shape"):
        return (str(value.dtype).split(".")[-1], tuple(value.shape),
                np.round(np.asarray(value.detach().tolist(), dtype=complex), 4).tolist())
    if isinstance(value, (bool, int, float, str, type(None))):
        return value.replace("ember", "torch") if isinstance(value, str) else value
    return repr(value).replace("ember", "torch")


def _first_line(outcome):
    """The outcome with an error's message cut to its first sentence."""
    if outcome[0] == "value":
        return outcome
    return outcome[:2] + (outcome[2].split("\n")[0].split(". ")[0],)


def _grid(lib):
    return lib.arange(24.0).reshape(2, 3, 4)


# Public names that real programs reach and PyTorch 2.13's CPU build answers without a device.
SPELLINGS = {
    "Stream()": lambda lib: lib.Stream(),
    "Stream attributes": lambda lib: (lib.Stream().stream_id, lib.Stream().device_index,
                                      lib.Stream().device_type, lib.Stream("cpu").device,
                                      lib.Stream().query(), lib.Stream().synchronize()),
    "Stream(meta)": lambda lib: (lib.Stream(device="meta"), lib.Stream(device="meta").device_type),
    "Stream equality": lambda lib: (lib.Stream() == lib.Stream(), lib.Stream() == 1,
                                    hash(lib.Stream()) == hash(lib.Stream())),
    "Stream context": lambda lib: lib.Stream().__enter__(),
    "Stream(cuda)": lambda lib: lib.Stream(device="cuda"),
    "Stream(mps)": lambda lib: lib.Stream(device="mps"),
    "Stream(0)": lambda lib: lib.Stream(0),
    "Stream(priority)": lambda lib: lib.Stream(priority="a"),
    "Stream.record_event": lambda lib: lib.Stream().record_event(),
    "Stream.wait_stream": lambda lib: lib.Stream().wait_stream(lib.Stream()),
    "Stream.wait_event": lambda lib: lib.Stream().wait_event(lib.Event()),
    "Stream.native_handle": lambda lib: lib.Stream().native_handle,
    "Event()": lambda lib: (lib.Event(), lib.Event(enable_timing=True), lib.Event().query(),
                            lib.Event().device, lib.Event().synchronize(), lib.Event().wait()),
    "Event.record": lambda lib: lib.Event().record(),
    "Event.elapsed_time": lambda lib: lib.Event().elapsed_time(lib.Event()),
    "Event.elapsed_time(timing)": lambda lib: lib.Event(enable_timing=True).elapsed_time(
        lib.Event(enable_timing=True)),
    "Event(cuda)": lambda lib: lib.Event(device="cuda"),
    "Event(enable_timing=1)": lambda lib: lib.Event(enable_timing=1),
    "Event.ipc_handle": lambda lib: lib.Event().ipc_handle(),
    "SymInt isinstance": lambda lib: (isinstance(3, lib.SymInt), isinstance(3.0, lib.SymFloat),
                                      isinstance(True, lib.SymBool)),
    "AcceleratorError": lambda lib: issubclass(lib.AcceleratorError, RuntimeError),
    "build flags": lambda lib: (lib.has_lapack, lib.has_mkl, lib.has_openmp, lib.has_spectral,
                                lib.compiled_with_cxx11_abi(), lib.is_vulkan_available(),
                                lib.init_num_threads(), lib.is_distributed(lib.ones(2)),
                                lib.legacy_contiguous_format),
    "sym_sqrt": lambda lib: (lib.sym_sqrt(2), lib.sym_sqrt(4)),
    "set_anomaly_enabled": lambda lib: (lib.set_anomaly_enabled(True, False),
                                        lib.is_anomaly_enabled(),
                                        lib.is_anomaly_check_nan_enabled(),
                                        lib.set_anomaly_enabled(False),
                                        lib.is_anomaly_enabled(),
                                        lib.is_anomaly_check_nan_enabled()),
    "empty_permuted": lambda lib: (lib.empty_permuted((2, 3, 4), (2, 0, 1)).stride(),
                                   lib.empty_permuted((2, 3), (1, 0), dtype=lib.int64).dtype,
                                   lib.empty_permuted((2, 3), (1, 0),
                                                      requires_grad=True).requires_grad),
    "empty_permuted(duplicate)": lambda lib: lib.empty_permuted((2, 3), (0, 0)),
    "empty_permuted(length)": lambda lib: lib.empty_permuted((2, 3), (0, 1, 2)),
    "empty_permuted(range)": lambda lib: lib.empty_permuted((2, 3), (1, -1)),
    "norm_except_dim": lambda lib: [lib.norm_except_dim(_grid(lib), 2, dim) for dim in
                                    (0, 1, 2, -2, -1)] + [lib.norm_except_dim(_grid(lib), 3, 1),
                                                          lib.norm_except_dim(_grid(lib))],
    "norm_except_dim(pow)": lambda lib: lib.norm_except_dim(_grid(lib), 2.0, 1),
    "norm_except_dim(dim)": lambda lib: lib.norm_except_dim(_grid(lib), 2, 3),
    "as_strided_copy": lambda lib: lib.as_strided_copy(lib.arange(6.0), (2, 2), (1, 2)),
    "as_strided_scatter": lambda lib: (
        lib.as_strided_scatter(lib.zeros(6), lib.ones(2, 2), (2, 2), (1, 2)),
        lib.arange(6.0).as_strided_scatter(lib.ones(2, 2), (2, 2), (1, 2), 1),
        lib.as_strided_scatter(lib.zeros(3, 2).t(), lib.arange(4.0).reshape(2, 2), (2, 2),
                               (1, 2)),
        lib.as_strided_scatter(lib.zeros(2, 3), lib.ones(3), (3,), (2,), 0)),
    "as_strided_scatter(size)": lambda lib: lib.as_strided_scatter(lib.zeros(6), lib.ones(2, 3),
                                                                   (2, 2), (1, 2)),
    "resize_as_": lambda lib: (lib.resize_as_(lib.arange(6.0), lib.ones(2, 3)).shape,),
    "conj_physical_": lambda lib: (lib.conj_physical_(lib.tensor([1 + 2j])),
                                   lib.tensor([1 - 1j]).conj_physical_(),
                                   lib.ones(2).conj_physical_()),
    "i0_": lambda lib: lib.i0_(lib.tensor([0.0, 1.0, 2.5])),
    "unsafe_split_with_sizes": lambda lib: (
        lib.unsafe_split_with_sizes(lib.arange(5), [2, 3]),
        lib.arange(6).reshape(2, 3).unsafe_split_with_sizes([1, 2], 1)),
    "resize": lambda lib: (lib.arange(6.0).resize(2, 3), lib.arange(6.0).resize_as(lib.ones(3, 2)),
                           lib.arange(6.0).reshape(2, 3).t().resize(6)),
    "resize(tuple)": lambda lib: lib.arange(6.0).resize((3, 2)),
    "resize(count)": lambda lib: lib.arange(6.0).resize(7),
    "resize_as(count)": lambda lib: lib.ones(2).resize_as(lib.ones(3)),
    "resize grad_fn": lambda lib: lib.arange(6.0, requires_grad=True).resize(2, 3).grad_fn.name(),
    "volatile": lambda lib: lib.ones(2).volatile,
    "record_stream(Stream)": lambda lib: lib.ones(2).record_stream(lib.Stream()),
    "record_stream(int)": lambda lib: lib.ones(2).record_stream(1),
    "storage_type": lambda lib: [lib.ones(2, dtype=dtype).storage_type().__name__ for dtype in
                                 (lib.float32, lib.int64, lib.bool, lib.float16, lib.uint8)],
    "legacy storages": lambda lib: (lib.FloatStorage([1, 2, 3]), lib.FloatStorage(),
                                    lib.LongStorage.dtype, lib.DoubleStorage(3).fill_(2).tolist(),
                                    lib.Storage.__name__, len(lib.IntStorage(4)),
                                    isinstance(lib.ones(2).storage(), lib.FloatStorage),
                                    isinstance(lib.ones(2).storage(), lib.LongStorage),
                                    isinstance(lib.ByteStorage(1), lib.TypedStorage)),
    "ormqr": lambda lib: _ormqr(lib),
    "while_loop": lambda lib: lib.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1, x * 2),
                                             (lib.tensor(0), lib.ones(2))),
    "fork and wait": lambda lib: (lib.wait(lib.fork(lambda x: x + 1, lib.ones(2))),
                                  lib.jit.wait(lib.jit.fork(lambda x: x * 3, lib.ones(1))),
                                  lib.jit.fork(len, [1]).done()),
    "to_dlpack": lambda lib: lib.from_dlpack(lib.to_dlpack(lib.arange(3.0))),
    "conv_tbc": lambda lib: lib.conv_tbc(lib.arange(30.0).reshape(5, 2, 3) / 10,
                                         lib.arange(36.0).reshape(3, 3, 4) / 20, lib.ones(4), 1),
    "native_channel_shuffle": lambda lib: lib.native_channel_shuffle(
        lib.arange(8.0).reshape(1, 4, 2), 2),
    "copies": lambda lib: (lib.view_as_real_copy(lib.tensor([1 + 2j, 3 - 1j])),
                           lib.view_as_complex_copy(lib.tensor([[1.0, 2.0]])),
                           lib.values_copy(lib.tensor([[0.0, 2.0], [3.0, 0.0]])
                                           .to_sparse_csr()),
                           lib.crow_indices_copy(lib.tensor([[0.0, 2.0], [3.0, 0.0]])
                                                 .to_sparse_csr()),
                           lib.col_indices_copy(lib.tensor([[0.0, 2.0], [3.0, 0.0]])
                                                .to_sparse_csr())),
    "values_copy(coo)": lambda lib: lib.values_copy(lib.tensor([[0.0, 2.0]]).to_sparse()),
    "indices_copy(coo)": lambda lib: lib.indices_copy(lib.tensor([[0.0, 2.0]]).to_sparse()),
    "grad_dtype": lambda lib: (lib.ones(2).grad_dtype, lib.ones(2, dtype=lib.int64).grad_dtype),
    "xpu()": lambda lib: lib.ones(2).xpu(),
    "mtia()": lambda lib: lib.ones(2).mtia(),
    "ipu()": lambda lib: lib.ones(2).ipu(),
    "autograd enums": lambda lib: (lib.autograd.ProfilerActivity is lib.profiler.ProfilerActivity,
                                   sorted((name, int(item)) for name, item in
                                          lib.autograd.DeviceType.__members__.items()),
                                   sorted((name, int(item)) for name, item in
                                          lib.autograd.ProfilerState.__members__.items())),
    "map2_": lambda lib: _map2(lib),
    "map2_(requires_grad)": lambda lib: lib.ones(2, requires_grad=True).map2_(
        lib.ones(2), lib.ones(2), lambda *values: 1.0),
    "reinforce": lambda lib: lib.ones(2).reinforce(1),
    "module_load": lambda lib: _module_load(lib),
    "sparse_mask": lambda lib: _sparse_facts(lib.arange(4.0).reshape(2, 2).sparse_mask(
        lib.tensor([[0.0, 1.0], [2.0, 0.0]]).to_sparse())),
    "smm": lambda lib: _sparse_facts(lib.tensor([[1.0, 0.0], [2.0, 3.0]]).to_sparse().smm(
        lib.arange(6.0).reshape(2, 3))),
    "smm(dense)": lambda lib: lib.ones(2, 2).smm(lib.ones(2, 2)),
    "layouts": lambda lib: (lib.sparse_csc, lib.sparse_bsr, lib.sparse_bsc, lib.jagged,
                            lib.sparse_csc is lib.sparse_csr),
    "Tag": lambda lib: (str(lib.Tag.core), int(lib.Tag.pt2_compliant_tag),
                        sorted((name, int(tag)) for name, tag in lib.Tag.__members__.items())),
    "deprecated autocast setters": lambda lib: _autocast_spellings(lib),
    "set_autocast_cpu_enabled(1)": lambda lib: lib.set_autocast_cpu_enabled(1),
}


def _autocast_spellings(lib):
    answers = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lib.set_autocast_cpu_enabled(True)
        answers.append(lib.is_autocast_cpu_enabled())
        lib.set_autocast_cpu_enabled(False)
        lib.set_autocast_cpu_dtype(lib.float16)
        answers.append(lib.get_autocast_cpu_dtype())
        lib.set_autocast_cpu_dtype(lib.bfloat16)
        lib.set_autocast_gpu_dtype(lib.bfloat16)
        answers.append(lib.get_autocast_gpu_dtype())
        lib.set_autocast_gpu_dtype(lib.float16)
        answers += [lib.autocast_increment_nesting(), lib.autocast_increment_nesting(),
                    lib.autocast_decrement_nesting(), lib.autocast_decrement_nesting()]
        answers += [lib.is_autocast_ipu_enabled(), lib.is_autocast_xla_enabled(),
                    lib.get_autocast_ipu_dtype(), lib.get_autocast_xla_dtype()]
        lib.set_autocast_ipu_enabled(True)
        answers.append(lib.is_autocast_ipu_enabled())
        lib.set_autocast_ipu_enabled(False)
        lib.set_autocast_xla_dtype(lib.float16)
        answers.append(lib.get_autocast_xla_dtype())
        lib.set_autocast_xla_dtype(lib.bfloat16)
    answers.append([str(warning.message).split(" (Triggered")[0] for warning in caught])
    return answers


def _map2(lib):
    x = lib.zeros(2, 2)
    result = x.map2_(lib.ones(1, 2), lib.arange(2.0), lambda s, u, v: s + u * 10 + v)
    return result is x, x


def _module_load(lib):
    x, other = lib.zeros(2), lib.ones(2)
    copied = x.module_load(other)
    assigned = lib.zeros(2).module_load(other, assign=True)
    return (x, copied, copied.data_ptr() == x.data_ptr(), assigned.data_ptr() == other.data_ptr(),
            copied.requires_grad)


def _sparse_facts(tensor):
    return (str(tensor.layout).split(".")[-1], tensor.is_coalesced(), tensor.to_dense(),
            tensor._nnz())


def _ormqr(lib):
    generator = np.random.default_rng(6)
    tall, wide = generator.standard_normal((4, 3)), generator.standard_normal((3, 5))
    other = lib.tensor(generator.standard_normal((4, 2)))
    results = []
    for matrix in (tall, wide):
        reflectors, tau = lib.geqrf(lib.tensor(matrix))
        rows = matrix.shape[0]
        other = lib.tensor(generator.standard_normal((rows, 2)))
        results += [lib.ormqr(reflectors, tau, other),
                    lib.ormqr(reflectors, tau, other, transpose=True),
                    reflectors.ormqr(tau, other.T, left=False),
                    lib.ormqr(reflectors, tau, other.T, False, True)]
    return results


def test_from_file_like_torch(torch, tmp_path):
    path = tmp_path / "values.bin"
    np.arange(6, dtype=np.float32).tofile(path)
    for library in (ember, torch):
        assert library.from_file(str(path), size=6).tolist() == list(range(6))
        assert library.from_file(str(path), False, 4).tolist() == [0.0, 1.0, 2.0, 3.0]
        assert library.from_file(str(path), size=3, dtype=library.int32).dtype == library.int32
        assert tuple(library.from_file(str(path)).shape) == (0,)
        with pytest.raises(RuntimeError, match="is smaller than the required mapping size <40>"):
            library.from_file(str(path), size=10)
    shared = ember.from_file(str(path), True, 6)
    shared[0] = 100.0
    assert np.fromfile(path, dtype=np.float32)[0] == 100.0


def test_ormqr_is_differentiable():
    generator = np.random.default_rng(7)
    reflectors, tau = ember.geqrf(ember.tensor(generator.standard_normal((4, 3))))
    inputs = (reflectors.detach().requires_grad_(), tau.detach().requires_grad_(),
              ember.tensor(generator.standard_normal((4, 2)), requires_grad=True))
    assert ember.autograd.gradcheck(lambda a, t, c: ember.ormqr(a, t, c, True, True), inputs)


@pytest.mark.parametrize("name", sorted(SPELLINGS))
def test_spellings_like_torch(torch, name):
    theirs = _first_line(_outcome(lambda lib: _plain(SPELLINGS[name](lib)), torch))
    ours = _first_line(_outcome(lambda lib: _plain(SPELLINGS[name](lib)), ember))
    assert ours == theirs


def test_resize_and_as_strided_scatter_gradients(torch):
    """resize's gradient is the output's reshaped back; as_strided_scatter's is the output's
    outside the region for ``input`` and the region's for ``src`` (float64, vs PyTorch)."""
    rng = np.random.default_rng(0)
    base, source = rng.standard_normal(6), rng.standard_normal((2, 2))
    weights = rng.standard_normal(6)
    grads = []
    for library in (ember, torch):
        x = library.tensor(base, requires_grad=True)
        y = library.tensor(source, requires_grad=True)
        out = library.as_strided_scatter(x * 1, y, (2, 2), (1, 2), 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (out * library.tensor(weights)).resize(2, 3).sum().backward()
        grads.append((x.grad.numpy(), y.grad.numpy()))
    # src's gradient as PyTorch's; input's is the output's outside the region (PyTorch 2.13
    # gives the region's instead, which fails its own gradcheck), checked by gradcheck below.
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-12)
    region = np.zeros(6, bool)
    region[1:5] = True
    np.testing.assert_allclose(grads[0][0], np.where(region, 0.0, weights), rtol=1e-12)
    inputs = (ember.tensor(base, requires_grad=True), ember.tensor(source, requires_grad=True))
    assert ember.autograd.gradcheck(
        lambda a, b: ember.as_strided_scatter(a, b, (2, 2), (1, 2), 1), inputs)


def test_lobpcg_finds_pytorchs_eigenpairs(torch):
    """The same eigenvalues and (up to sign) B-orthonormal eigenvectors as torch.lobpcg, and
    the eigenvalues' gradient."""
    generator = np.random.default_rng(8)
    square = generator.standard_normal((12, 12))
    matrix = square @ square.T + np.eye(12)
    weights = generator.standard_normal((12, 12))
    metric = weights @ weights.T / 12 + np.eye(12)
    for options in ({"k": 2}, {"k": 2, "largest": False}, {"k": 3, "B": metric}):
        results = []
        for library in (ember, torch):
            A = library.tensor(matrix, requires_grad=True)
            given = {key: library.tensor(value) if isinstance(value, np.ndarray) else value
                     for key, value in options.items()}
            torch.manual_seed(0)
            values, vectors = library.lobpcg(A, **given)
            if "B" in options:  # PyTorch has no backward for the generalized problem
                with pytest.raises(ValueError, match="does not support backward with B != I"):
                    values.sum().backward()
                gradient = None
            else:
                values.sum().backward()
                gradient = A.grad.numpy()
            results.append((values.detach().numpy(), vectors.detach().numpy(), gradient))
        (ours, our_vectors, our_grad), (theirs, their_vectors, their_grad) = results
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
        overlap = our_vectors.T @ (metric if "B" in options else np.eye(12)) @ their_vectors
        np.testing.assert_allclose(np.abs(np.diag(overlap)), 1.0, rtol=1e-5)
        if our_grad is not None:
            np.testing.assert_allclose(our_grad, their_grad, atol=1e-5)
    with pytest.raises(ValueError, match="smaller than 3 x the number of requested eigenpairs"):
        ember.lobpcg(ember.tensor(matrix), k=5)


def test_futures_like_torch(torch):
    for library in (ember, torch):
        Future = library.futures.Future
        assert library.jit.Future is Future and Future[int] is not None
        first = Future()
        assert not first.done()
        chained = first.then(lambda done: done.value() * 2)
        seen = []
        first.add_done_callback(lambda done: seen.append(done.value()))
        first.set_result(5)
        assert (first.done(), first.wait(), chained.wait(), seen) == (True, 5, 10, [5])
        with pytest.raises(RuntimeError, match="mark a completed Future as complete again"):
            first.set_result(6)
        failed = Future()
        failed.set_exception(ValueError("broken"))
        with pytest.raises(ValueError, match="broken"):
            failed.wait()
        assert failed.then(lambda done: done.value()).done()
        gathered = library.futures.collect_all([first, chained]).wait()
        assert [future.value() for future in gathered] == [5, 10]
        assert library.futures.wait_all([first, chained]) == [5, 10]
        forked = library.jit.fork(lambda x: x + 1, 2)
        assert forked.done() and library.jit.wait(forked) == 3


def test_private_utils_that_programs_import_like_torch(torch):
    """torch._utils' flattening of gradients for a collective and its device-index helper."""
    import torch._utils as theirs_utils
    from ember import _utils as ours_utils
    for library, helpers in ((ember, ours_utils), (torch, theirs_utils)):
        a = library.ones(2, 2, requires_grad=True)
        b = library.arange(3.0)
        flat = helpers._flatten_dense_tensors([a * 2, b])
        assert flat.tolist() == [2.0] * 4 + [0.0, 1.0, 2.0] and flat.requires_grad
        single = helpers._flatten_dense_tensors([b])
        assert single.data_ptr() == b.data_ptr() and tuple(single.shape) == (3,)
        pieces = helpers._unflatten_dense_tensors(flat.detach(), [a, b])
        assert type(pieces) is tuple and [tuple(piece.shape) for piece in pieces] == [(2, 2), (3,)]
        assert pieces[0].data_ptr() == flat.data_ptr()
        assert helpers._get_device_index("cpu", allow_cpu=True) == -1
        assert helpers._get_device_index(3) == 3
        with pytest.raises(ValueError, match="Expected a non cpu device, but got: cpu"):
            helpers._get_device_index("cpu")
        with pytest.raises(ValueError, match="with a specified index or an integer, but got:None"):
            helpers._get_device_index(None)
        with pytest.warns(UserWarning, match="torch._utils.is_compiling` is deprecated"):
            assert helpers.is_compiling() is False


class _Pair:
    def __init__(self, first, second):
        self.first, self.second = first, second


def test_pytree_nodes_registered_as_transformers_registers_model_outputs(torch):
    """transformers registers each ModelOutput class with register_pytree_node (flatten_with_keys
    from the private _dict_flatten_with_keys) at import; flattening then walks into them."""
    import torch.utils._pytree as theirs
    from ember.func import _pytree as ours
    for pytree in (ours, theirs):
        kind = type("Pair", (_Pair,), {})
        pytree.register_pytree_node(kind, lambda pair: ([pair.first, pair.second], "ctx"),
                                    lambda values, context: kind(*values),
                                    serialized_type_name="tests.Pair",
                                    flatten_with_keys_fn=pytree._dict_flatten_with_keys)
        leaves, spec = pytree.tree_flatten([kind(1, (2, 3)), 4])
        assert leaves == [1, 2, 3, 4] and spec.num_leaves == 4
        rebuilt = pytree.tree_unflatten([5, 6, 7, 8], spec)
        assert type(rebuilt[0]) is kind and (rebuilt[0].first, rebuilt[0].second) == (5, (6, 7))
        assert pytree.tree_map(lambda leaf: leaf * 10, kind(1, 2)).second == 20
        with pytest.raises(ValueError, match="is already registered as pytree node"):
            pytree.register_pytree_node(kind, None, None)
        with pytest.raises(ValueError, match="is already registered as pytree node"):
            pytree.register_pytree_node(tuple, None, None)
        keyed, context = pytree._dict_flatten_with_keys({"a": 1, "b": 2})
        assert [(str(key), value) for key, value in keyed] == [("['a']", 1), ("['b']", 2)]
        assert list(context) == ["a", "b"] and keyed[1][0].get({"b": 7}) == 7


def test_getitem_to_index_mode_indexes_with_tensors_as_torch(torch):
    """transformers' masking_utils imports TransformGetItemToIndex at module level and enters it
    around vmap-built masks: indexing by ints and 0-d tensors, with values as without it."""
    from torch._dynamo._trace_wrapped_higher_order_op import TransformGetItemToIndex as Theirs
    from ember._dynamo_trace_wrapped import TransformGetItemToIndex as Ours
    try:
        for library, mode in ((ember, Ours), (torch, Theirs)):
            table = library.arange(12).reshape(3, 4)
            with mode():
                picked = table[library.tensor(2), 1]
                row = table[1]
                sliced = table[:, 1]
            assert (picked.item(), picked.dim(), row.tolist(), sliced.tolist()) == \
                (9, 0, [4, 5, 6, 7], [1, 5, 9])
    finally:
        ember.overrides._deactivate()  # a mode turns the protocol on for the process


def test_compiler_markers_that_transformers_applies(ember_torch):
    """A decorator transformers applies at import, and a marker for static cache tensors."""
    function = ember_torch._dynamo.assume_constant_result(len)
    assert function is len
    assert ember_torch._dynamo.mark_static_address(ember_torch.zeros(2)) is None
    assert ember_torch.nn.modules.module._EXTRA_STATE_KEY_SUFFIX == "_extra_state"


def test_sharding_placements_are_torchs_values(torch):
    """transformers builds placements at import (its tensor-parallel styles): the same values,
    reprs, tests and chunk arithmetic as torch's."""
    from torch.distributed.tensor import placement_types as theirs
    from ember.distributed import _sharding as ours
    for library in (ours, theirs):
        shard, replicate, partial, strided = (library.Shard, library.Replicate, library.Partial,
                                              library._StridedShard)
        values = [shard(1), replicate(), partial(), partial("max"), strided(0, split_factor=2)]
        assert [repr(value) for value in values] == ["Shard(dim=1)", "Replicate()", "Partial(sum)",
                                                     "Partial(max)", "_StridedShard(dim=0, sf=2)"]
        assert [str(value) for value in values] == ["S(1)", "R", "P(sum)", "P(max)", "_S(0, 2)"]
        assert (shard(0) == shard(0), shard(0) == shard(1), hash(shard(2)) == hash(shard(2)),
                shard(0) == strided(0, split_factor=2)) == (True, False, True, False)
        assert [value.is_shard() for value in values] == [True, False, False, False, False]
        assert (shard(1).is_shard(1), shard(1).is_shard(0), replicate().is_replicate(),
                partial("max").is_partial("max"), partial().is_partial("max")) == \
            (True, False, True, True, False)
        assert [shard.local_shard_size_and_offset(*case)
                for case in ((10, 3, 2), (10, 3, 0), (2, 4, 3), (5, 4, 3), (5, 4, 2))] == \
            [(2, 8), (4, 0), (0, 2), (0, 5), (1, 4)]


def test_sharding_names_import_where_distributed_is_available(ember_torch):
    """The imports transformers makes at module level when torch.distributed.is_available();
    nothing sharded can be made in ember."""
    from torch.distributed import all_gather_into_tensor, all_to_all_single  # noqa: F401
    from torch.distributed.tensor import DTensor, Partial, Replicate, Shard, distribute_tensor  # noqa: F401
    from torch.distributed.tensor.placement_types import _StridedShard  # noqa: F401
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset  # noqa: F401
    from torch.distributed.device_mesh import DeviceMesh
    from torch.distributed._functional_collectives import wait_tensor
    from torch.distributed._composable.fsdp import fully_shard  # noqa: F401
    from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy
    assert ember_torch.distributed.is_available()
    assert issubclass(DTensor, ember_torch.Tensor) and not isinstance(ember_torch.ones(1), DTensor)
    tensor = ember_torch.ones(2)
    assert wait_tensor(tensor) is tensor
    assert MixedPrecisionPolicy().param_dtype is None and CPUOffloadPolicy().pin_memory
    for make in (lambda: distribute_tensor(tensor), lambda: DeviceMesh("cpu", [0]),
                 lambda: DTensor()):
        with pytest.raises(NotImplementedError, match="ember has no sharded tensors"):
            make()
