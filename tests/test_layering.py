"""The data path reads one way: tensor -> autograd -> io -> ops -> nn -> optim -> data ->
serialization -> training -> distributed -> cli. A package imports only from packages at or below
its level; imports inside functions count too. io (checkpoint files: tensors and JSON) needs
nothing above autograd; serialization (``ember.save``/``ember.load``) adds the nn.Parameter class
to it. ``ember/__init__.py`` (the public surface) and ``ember/utils`` (an alias package) are
exempt; benchmarks are not part of the package."""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "ember"

LEVELS = {
    "_dtype": 0, "_random": 0, "_warnings": 0, "_hooks": 0, "_device": 0, "cuda": 0, "_threads": 0, "linalg": 3,
    "tensor": 1, "_tensor_str": 1,
    "autograd": 2,
    "io": 2.5,
    "ops": 3, "_factories": 3, "_tensor_methods": 3,
    "nn": 4,
    "optim": 5,
    "data": 6, "datasets": 6,
    "serialization": 7,
    "training": 8,
    "distributed": 9,
    "cli": 10, "__main__": 10,
    # Ecosystem packages, above data/nn and below training (which may use them); tensorboard
    # shares vision's make_grid. ember/utils/tensorboard is a package of its own inside the
    # exempt alias package ember/utils.
    "vision": 7.5, "utils.tensorboard": 7.5,
    # ONNX export records runs of models (training's mode tools) and sits below the CLI.
    "onnx": 8.5,
}
EXEMPT = {"__init__", "utils"}
# Deliberate upward edges, each for a stated reason; nothing else may point upward.
ALLOWED = {
    # The grad-mode state (a ContextVar) is read by Tensor's in-place checks; grad_mode imports
    # nothing above the standard library and ember.autograd._contextlib.
    ("ember.tensor", "ember.autograd.grad_mode", "module"),
}


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path, name=None):
    """(imported module, line, 'module' or 'function') for every import in the file."""
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
                if child.level:
                    base = package.split(".")
                    base = base[:len(base) - (child.level - 1)]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module
                if child.module is None:  # from . import a, b: each name may be a module
                    for alias in child.names:
                        found.append((f"{module}.{alias.name}", child.lineno, scope))
                else:
                    found.append((module, child.lineno, scope))
            visit(child, child_scope)

    visit(tree, "module")
    return [(module, line, scope) for module, line, scope in found
            if module == "ember" or module.startswith("ember.")]


def _root_level():
    """The level of ``import ember``: the highest package its __init__ imports."""
    levels = [LEVELS.get(_component(module), 0)
              for module, _, _ in _imports(PACKAGE / "__init__.py")]
    return max(levels, default=0)


def _component(module):
    parts = module.split(".")
    if parts[1:3] == ["utils", "tensorboard"]:
        return "utils.tensorboard"  # a real package inside the exempt alias package
    return parts[1] if len(parts) > 1 else "__init__"


def _files():
    return sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


def test_every_module_has_a_level():
    unknown = sorted({_component(_module_name(path)) for path in _files()}
                     - set(LEVELS) - EXEMPT)
    assert not unknown, f"give these top-level modules a level in LEVELS: {unknown}"


def _layered_files():
    """Every module with a level; exempt and unassigned ones are covered by the test above."""
    return [path for path in _files() if _component(_module_name(path)) in LEVELS]


@pytest.mark.parametrize("path", _layered_files(),
                         ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_point_down(path):
    name = _module_name(path)
    source = _component(name)
    violations = []
    for module, line, scope in _imports(path):
        target = _component(module)
        if target == "__init__":
            # `import ember` pulls in the whole public surface: only modules at or above every
            # package that ember/__init__.py imports may do it.
            if LEVELS[source] < _root_level():
                violations.append(f"line {line}: imports the top-level package ({module!r}) at "
                                  f"{scope} scope")
            continue
        if target == "utils":
            violations.append(f"line {line}: imports the alias package {module!r}")
            continue
        if target not in LEVELS:
            continue  # reported by test_every_module_has_a_level
        if LEVELS[target] <= LEVELS[source]:
            continue
        if any(name == allowed_source and (module == allowed_target
                                           or module.startswith(allowed_target + "."))
               and scope == allowed_scope for allowed_source, allowed_target, allowed_scope
               in ALLOWED):
            continue
        violations.append(f"line {line}: {source} (level {LEVELS[source]}) imports {module} "
                          f"(level {LEVELS[target]}) at {scope} scope")
    assert not violations, f"{name}:\n" + "\n".join(violations)


def test_the_checker_sees_relative_and_lazy_imports(tmp_path):
    """The parser itself: relative imports resolve and imports inside functions are found."""
    sample = tmp_path / "sample.py"
    sample.write_text("from . import ops\nfrom ..autograd import engine\n\n\n"
                      "def f():\n    from ..ops.reduce import sum\n")
    imports = {(module, scope) for module, _, scope in _imports(sample, "ember.nn.sample")}
    assert imports == {("ember.nn.ops", "module"), ("ember.autograd", "module"),
                       ("ember.ops.reduce", "function")}
