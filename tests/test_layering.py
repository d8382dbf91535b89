"""The data path reads one way, file by file. ``ORDER`` below is the one statement of the layers:
a module may import only modules at or below its own place in it, whether the import stands at
the top of the file, inside a function, or is an ``importlib.import_module`` call. The few
upward edges that remain are listed in ``ALLOWED``, each with its reason; the import cycles that
remain are listed in ``KNOWN_CYCLES``; every import inside a function says why in a comment.
``ember/__init__.py`` (the public surface) and the aliases ``ember.utils``/``ember.utils.data`` are
exempt (``ember.utils.tensorboard`` is real code and has its place);
benchmarks are not part of the package."""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "ember"

# Lowest first; the names on one line share a place. A module's place is that of the longest
# name that is it or a package above it.
ORDER = [
    # the finder of the compiled autograd core, installed first by ember/__init__.py, and its build
    ("ember._native",),
    ("ember._native_build",),
    ("ember._dtype", "ember.futures", "ember.__future__", "ember._extras", "ember._layout", "ember._random", "ember._hooks", "ember._device",
     "ember.cuda", "ember.cpu", "ember.mps", "ember.xpu", "ember._allocator", "ember._numpy_errors", "ember.multiprocessing", "ember._shared_memory", "ember._threads", "ember.__config__", "ember._jit", "ember._halfcast", "ember._grad_state", "ember._autocast_state"),
    # settings and answers of PyTorch's device and compiler APIs, depending on nothing above.
    ("ember.accelerator", "ember.backends", "ember.compiler", "ember.fx", "ember.jit", "ember.random",
     "ember._dynamo_config", "ember._inductor", "ember._inductor_config"),
    # torch.utils.benchmark's timer: the standard library's timeit and the thread setting.
    ("ember.utils.benchmark",),
    # torch.Stream and torch.Event: the CPU's stream, over devices only.
    ("ember._streams",),
    ("ember._tensor_str",),
    ("ember.autograd._contextlib",),
    ("ember.autograd.grad_mode", "ember.autograd.anomaly_mode"),
    ("ember.tensor",),
    # torch.overrides: the __torch_function__ protocol over Tensor (it wraps the public modules
    # found in sys.modules, importing none).
    ("ember.overrides",),
    # torch._dynamo's getitem mode, a TorchFunctionMode.
    ("ember._dynamo_trace_wrapped",),
    # autograd: the node (saved values) < views and in-place < Op/Function < the engine <
    # what is built on the engine.
    ("ember.autograd.node",),
    ("ember.autograd.views",),
    ("ember.autograd.function",),
    ("ember.autograd.engine",),
    ("ember.autograd.graph", "ember.autograd.gradcheck"),
    ("ember.autograd",),
    # torch.profiler's front end over autograd's op profiler.
    ("ember.profiler",),
    # torch.library's custom ops (autograd Functions made from user functions) and torch.ops.
    ("ember.library",),
    ("ember._torch_ops",),
    # quantized tensors (integers, scale, zero point): plain values that checkpoints store.
    ("ember._quantized",),
    # checkpoint files: tensors and JSON, nothing above autograd.
    ("ember.io",),
    # ops: _broadcast < elementwise (_operands < arithmetic < the other families) < index <
    # shape < reduce < linalg; then what is built on the ops.
    ("ember.ops._broadcast", "ember.ops._return_types", "ember.ops._select"),
    ("ember.ops.elementwise._operands",),
    ("ember.ops.elementwise.complex",),
    ("ember.ops.elementwise.arithmetic",),
    ("ember.ops.elementwise",),
    ("ember.ops.index",),
    ("ember.ops.shape",),
    ("ember.ops.reduce",),
    ("ember.ops.linalg",),
    ("ember.ops.decompositions", "ember.ops.spectral"),
    ("ember.ops.array_api",),
    ("ember.ops",),
    # sparse COO tensors: a Tensor subclass with its own ops, built on the ops.
    ("ember.sparse",),
    ("ember._storage",),
    ("ember._factories", "ember.linalg", "ember.fft", "ember._tensor_methods", "ember.types",
     "ember.return_types"),
    # autograd.functional stacks and reshapes Jacobian rows with the ops.
    ("ember.autograd.functional",),
    # forward AD's dual tensors: tangents by the double-vjp trick over functional's Alias.
    ("ember.autograd.forward_ad",),
    ("ember.testing",),
    # autocast's switches and GradScaler, then torch.cuda.amp's and torch.cpu.amp's spellings.
    ("ember.amp",),
    ("ember.cuda.amp", "ember.cpu.amp"),
    # nn: parameters and init < kernels < functional < layers < utilities over layers.
    ("ember.nn.parameter", "ember.nn.init"),
    ("ember.nn._kernels.winograd",),
    ("ember.nn._kernels.conv", "ember.nn._kernels.padding"),
    ("ember.nn._kernels",),
    ("ember.nn.functional._reduction",),
    ("ember.nn.functional",),
    ("ember.nn.modules._backward_hooks",),
    ("ember.nn.modules.module",),
    ("ember.nn.modules",),
    ("ember.nn.utils", "ember.nn.parallel"),
    ("ember.nn",),
    # torch._dynamo: OptimizedModule, the nn.Module that torch.compile wraps a module in.
    ("ember._dynamo", "ember._dynamo_eval_frame"),
    # torch.ao: dynamically quantized layers and quantize_dynamic, over nn's layers.
    ("ember.ao",),
    # torch's top-level spellings of tensor methods and nn.functional ops.
    ("ember._toplevel", "ember._aten", "ember._foreach_ops", "ember._out", "ember._lowrank",
     "ember.utils.dlpack", "ember._utils"),
    # torch.special and torch.distributions, compositions of the ops (and nn.functional's
    # softplus and binary_cross_entropy_with_logits); activation checkpointing, over nn's
    # containers and mode tools; the flop counter, over the ops and nn's kernels and hooks.
    ("ember.special",),
    # torch.signal's windows and torch.quasirandom's Sobol sequences, over factories and ops.
    ("ember.signal", "ember.quasirandom"),
    ("ember.distributions",),
    ("ember.utils.checkpoint", "ember.utils.flop_counter"),
    # function transforms: functional_call swaps module tensors, vmap batches the nn kernels.
    ("ember.func",),
    ("ember.optim",),
    ("ember.data", "ember.datasets"),
    # ember.save/ember.load: io plus the nn.Parameter class.
    ("ember.serialization",),
    # torch.hub and torch.utils.model_zoo: checkpoints fetched into a cache, read by ember.load.
    ("ember.hub", "ember.utils.model_zoo"),
    # ecosystem packages, each an optional extra.
    ("ember.vision",),
    ("ember.utils.tensorboard",),
    ("ember.training",),
    ("ember.distributed",),
    # ONNX export traces models and training-mode tools; an optional extra.
    ("ember.onnx",),
    # the drop-in import of torch, then the command line (``ember run``, ``python -m ember.run``).
    ("ember.compat",),
    ("ember.cli", "ember.__main__", "ember.run"),
]
# Deliberate upward edges: (importing module, imported module or package, scope), with reasons.
ALLOWED = {
    # Tensor.hardshrink and Tensor.prelu are nn.functional's activations, methods in PyTorch.
    ("ember._tensor_methods", "ember.nn", "function"),
    # torch.jit.save/load of an eager module are ember.save/load of it whole.
    ("ember.jit", "ember.serialization", "function"),
    ("ember.jit", "ember.io.files", "function"),
    # torch.jit.script/trace give an nn.Module the save(f) method of PyTorch's scripted modules.
    ("ember.jit", "ember.nn", "function"),
    # torch.compile wraps an nn.Module in torch._dynamo's OptimizedModule.
    ("ember.compiler", "ember._dynamo_eval_frame", "function"),
    # torch.fx.GraphModule is an nn.Module class, made on first use.
    ("ember.fx", "ember.nn", "function"),
    # gradcheck(check_forward_ad=True) makes dual tensors; forward AD stands on autograd.functional.
    ("ember.autograd.gradcheck", "ember.autograd.forward_ad", "function"),
    # nn.utils imports layers itself, so the recurrent layers reach PackedSequence lazily.
    ("ember.nn.modules.rnn", "ember.nn.utils.rnn", "function"),
}
# Strongly connected groups of modules that import each other at module scope (a package's
# __init__ counts as imported with any of its modules): none, and none may appear.
KNOWN_CYCLES = []


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _files():
    return sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


MODULES = {_module_name(path): path for path in _files()}


def _resolve(package, level, module):
    base = package.split(".")
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _imports(path, name=None):
    """(imported module, line, 'module' or 'function') for every import of an ember module in
    the file, ``importlib.import_module("...")`` calls included."""
    name = name or _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []

    def visit(node, scope):
        for child in ast.iter_child_nodes(node):
            child_scope = "function" if isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) else scope
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append((alias.name, child.lineno, scope))
            elif isinstance(child, ast.ImportFrom):
                module = _resolve(package, child.level, child.module) if child.level \
                    else child.module
                for alias in child.names:
                    # ``from a import b``: b may be a module of package a.
                    candidate = f"{module}.{alias.name}"
                    found.append((candidate if candidate in MODULES else module, child.lineno,
                                  scope))
            elif isinstance(child, ast.Call) and _is_import_module(child):
                target = child.args[0].value
                if target.startswith("."):
                    level = len(target) - len(target.lstrip("."))
                    target = _resolve(package, level, target.lstrip(".") or None)
                found.append((target, child.lineno, scope))
            visit(child, child_scope)

    visit(tree, "module")
    return [(module, line, scope) for module, line, scope in found
            if module == "ember" or module.startswith("ember.")]


def _is_import_module(call):
    function = call.func
    named = (isinstance(function, ast.Attribute) and function.attr == "import_module") or \
        (isinstance(function, ast.Name) and function.id in ("import_module", "__import__"))
    return named and call.args and isinstance(call.args[0], ast.Constant) and \
        isinstance(call.args[0].value, str)


def _place(module):
    """The index in ORDER of the longest name that is ``module`` or a package above it."""
    best = None
    for index, names in enumerate(ORDER):
        for name in names:
            if module == name or module.startswith(name + "."):
                if best is None or len(name) > best[0]:
                    best = (len(name), index)
    return None if best is None else best[1]


ALIASES = ("ember.utils", "ember.utils.data")


def _exempt(name):
    return name == "ember" or name in ALIASES


def _layered():
    return [path for path in _files() if not _exempt(_module_name(path))]


def _surface_place():
    """The place of ``import ember``: the highest of the modules ember/__init__.py imports."""
    return max(_place(module) for module, _, _ in _imports(PACKAGE / "__init__.py")
               if module != "ember" and not _exempt(module))


def test_every_module_has_a_place():
    unplaced = sorted(name for name in MODULES if not _exempt(name) and _place(name) is None)
    assert not unplaced, f"give these modules a place in ORDER: {unplaced}"


@pytest.mark.parametrize("path", _layered(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_point_down(path):
    name = _module_name(path)
    place = _place(name)
    violations = []
    for module, line, scope in _imports(path):
        if module == "ember":
            # `import ember` pulls in the whole public surface: only modules at or above
            # everything that ember/__init__.py imports may do it.
            if place < _surface_place():
                violations.append(f"line {line}: imports the whole public surface ('ember')")
            continue
        if module in ALIASES:
            violations.append(f"line {line}: imports the alias package {module!r}")
            continue
        target = _place(module)
        if target is None or target <= place:
            continue
        if any(name == source and (module == allowed or module.startswith(allowed + "."))
               and scope == allowed_scope for source, allowed, allowed_scope in ALLOWED):
            continue
        violations.append(f"line {line}: {name} (place {place}) imports {module} (place "
                          f"{target}) at {scope} scope")
    assert not violations, f"{name}:\n" + "\n".join(violations)


@pytest.mark.parametrize("path", _layered(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_function_scope_imports_say_why(path):
    """An import inside a function has a comment, on its line or just above, saying why it
    cannot be at the top of the file."""
    name = _module_name(path)
    lines = path.read_text().splitlines()
    tree = ast.parse("\n".join(lines))
    unexplained = []
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                here = lines[node.lineno - 1]
                above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
                if "#" not in here and not above.startswith("#"):
                    unexplained.append(f"line {node.lineno}: {here.strip()}")
    assert not unexplained, f"{name}: say why these cannot be at the top:\n" + \
        "\n".join(unexplained)


def _module_scope_graph():
    """Module-scope import edges between ember modules, with the packages that an import
    initialises (those above the target that are not above the importer)."""
    edges = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for module, _, scope in _imports(path):
            if scope != "module":
                continue
            while module not in MODULES and "." in module:
                module = module.rpartition(".")[0]
            parts = module.split(".")
            for length in range(2, len(parts) + 1):
                target = ".".join(parts[:length])
                if target in MODULES and target != name and not name.startswith(target + "."):
                    edges[name].add(target)
    return edges


def _cycles(edges):
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index = {}
    low = {}
    on_stack = set()
    stack = []
    components = []
    counter = [0]
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return components


def test_import_cycles_are_the_known_ones():
    found = _cycles(_module_scope_graph())
    unknown = [sorted(cycle) for cycle in found if cycle not in KNOWN_CYCLES]
    gone = [sorted(cycle) for cycle in KNOWN_CYCLES if cycle not in found]
    assert not unknown, f"new import cycles: {unknown}"
    assert not gone, f"these cycles changed or are gone: update KNOWN_CYCLES: {gone}"


def test_the_checker_sees_relative_lazy_and_importlib_imports(tmp_path):
    """The parser itself: relative imports resolve, imports inside functions and importlib
    calls are found."""
    sample = tmp_path / "sample.py"
    sample.write_text("import importlib\nfrom .. import ops\nfrom ..autograd import engine\n\n\n"
                      "def f():\n    from ..ops.reduce import sum\n"
                      "    return importlib.import_module('ember.distributed.sampler')\n")
    imports = {(module, scope) for module, _, scope in _imports(sample, "ember.nn.sample")}
    assert imports == {("ember.ops", "module"), ("ember.autograd.engine", "module"),
                       ("ember.ops.reduce", "function"), ("ember.distributed.sampler", "function")}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
