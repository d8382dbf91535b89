"""Compiled builds of the autograd core (Cython, from the unchanged Python source): the per-op
and per-node bookkeeping of Op.apply, Node and the engine's sweep runs about 20% faster. A build
is used only when it was made from the exact source in the tree (its file name carries the
source's digest), so an edited module runs as Python until ``python -m ember._native_build``
builds it again. EMBER_NATIVE=0 turns the builds off."""
import hashlib
import importlib.machinery
import importlib.util
import os
import sys

# Modules compiled. Their source must stay plain Python whose meaning does not change when
# compiled: compiled functions have no frame (warnings' stacklevels, frame walks) and are not
# types.FunctionType, which ember's own wrappers of public functions (overrides, ONNX export)
# look for, so a module defining public functions of ember's namespaces stays out.
MODULES = ("ember.autograd.node", "ember.autograd.function", "ember.autograd.engine")
# Bumped when the build's recipe (compiler directives) changes, so older builds go unused.
RECIPE = "1"

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
BUILD_DIR = os.path.join(_PACKAGE, "_native")
_SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def source_path(name):
    """The Python source of module ``name`` (one of MODULES)."""
    return os.path.join(_PACKAGE, *name.split(".")[1:]) + ".py"


def digest(name):
    """Digest of the module's source and the build recipe: part of its build's file name."""
    with open(source_path(name), "rb") as source:
        content = source.read()
    return hashlib.blake2b(content + RECIPE.encode(), digest_size=8).hexdigest()


def built_path(name):
    """Where the build of module ``name`` for its current source is (or would be)."""
    return os.path.join(BUILD_DIR, f"{name}.{digest(name)}{_SUFFIX}")


def enabled():
    """False where EMBER_NATIVE is 0 (or off/false/no): the Python source runs."""
    return os.environ.get("EMBER_NATIVE", "1").strip().lower() not in ("0", "off", "false", "no")


def loaded():
    """The names of the modules this process runs from a build."""
    return tuple(name for name in MODULES
                 if name in sys.modules and not sys.modules[name].__file__.endswith(".py"))


class _BuildFinder:
    """Finds the build of a compiled module where one exists for its current source."""

    def find_spec(self, name, path=None, target=None):
        if name not in MODULES:
            return None
        try:
            built = built_path(name)
        except OSError:
            return None
        if not os.path.exists(built):
            return None
        loader = importlib.machinery.ExtensionFileLoader(name, built)
        return importlib.util.spec_from_file_location(name, built, loader=loader)


_finder = _BuildFinder()


def install():
    """Puts the finder ahead of the default ones (before any compiled module is imported)."""
    if enabled() and _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
