"""Builds the compiled autograd core for the source in this tree (see ember._native):
``python -m ember._native_build``. Modules already built for their current source are skipped;
without Cython or a C compiler it says so and exits 0, and ember runs its Python source."""
import argparse
import os
import sys
import tempfile
import time

from . import _native

# Every variable a Python object, as in the interpreter (no C types inferred), and functions
# that behave as Python functions (introspection, binding as methods).
_DIRECTIVES = {"language_level": 3, "binding": True, "infer_types": False}


def _build(names, work, jobs):
    """Compiles ``names`` in the scratch directory ``work``; returns {name: built file}."""
    # build-time tools, installed with the native extra only (main() checks for them)
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension  # (likewise)
    extensions = [Extension(name, [_native.source_path(name)], extra_compile_args=["-O2", "-g0"])
                  for name in names]
    modules = cythonize(extensions, build_dir=os.path.join(work, "c"), quiet=True,
                        compiler_directives=_DIRECTIVES, nthreads=0)
    distribution = Distribution({"ext_modules": modules, "script_name": "ember._native_build"})
    distribution.verbose = 0
    command = distribution.get_command_obj("build_ext")
    command.build_lib = os.path.join(work, "lib")
    command.build_temp = os.path.join(work, "temp")
    command.parallel = jobs
    distribution.run_command("build_ext")
    return {name: command.get_ext_fullpath(name) for name in names}


def _install(name, built, digest):
    """Moves the build of ``name`` into place atomically (an import never sees half a file)."""
    os.makedirs(_native.BUILD_DIR, exist_ok=True)
    target = os.path.join(_native.BUILD_DIR, f"{name}.{digest}{_native._SUFFIX}")
    handle, partial = tempfile.mkstemp(dir=_native.BUILD_DIR, prefix=".partial-")
    try:
        with os.fdopen(handle, "wb") as out, open(built, "rb") as source:
            out.write(source.read())
        os.chmod(partial, 0o755)
        os.replace(partial, target)
    except BaseException:
        os.unlink(partial)
        raise
    return target


def _prune(digests):
    """Removes builds of modules no longer compiled and of older sources."""
    current = {f"{name}.{digest}{_native._SUFFIX}" for name, digest in digests.items()}
    if os.path.isdir(_native.BUILD_DIR):
        for entry in os.listdir(_native.BUILD_DIR):
            if entry.startswith("ember.") and entry not in current:
                os.unlink(os.path.join(_native.BUILD_DIR, entry))


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m ember._native_build",
        description="Compile ember's autograd core (Cython) for the source in this tree.")
    parser.add_argument("--force", action="store_true", help="rebuild what is up to date")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="modules compiled at once")
    args = parser.parse_args(argv)
    digests = {name: _native.digest(name) for name in _native.MODULES}
    wanted = [name for name in _native.MODULES
              if args.force or not os.path.exists(_native.built_path(name))]
    _prune(digests)
    if not wanted:
        print("ember: native build up to date")
        return 0
    try:  # build-time tools: without them ember runs its Python source
        import Cython  # noqa: F401
        import setuptools  # noqa: F401
    except ImportError as error:
        print(f"ember: native build skipped ({error.name} is not installed); ember runs its "
              "Python source", file=sys.stderr)
        return 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ember-native-") as work:
        try:
            built = _build(wanted, work, max(1, args.jobs))
        except Exception as error:  # no C compiler, or it failed: the Python source runs
            print(f"ember: native build failed ({type(error).__name__}: {error}); ember runs "
                  "its Python source", file=sys.stderr)
            return 0
        for name in wanted:
            _install(name, built[name], digests[name])
    print(f"ember: built {', '.join(wanted)} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
