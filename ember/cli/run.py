"""``ember run script.py [args...]`` (and ``python -m ember.run``): a PyTorch script run
unchanged on ember, with ``import torch`` resolved to ember in this process.

The script sees what ``python script.py`` gives it (``sys.argv``, ``__main__``, ``__file__``,
``sys.path[0]``); ``-m module`` runs a module as ``python -m`` does. ember's own errors (no such
script) are one line and exit 2; the script's exceptions print their usual traceback and exit 1.
"""
import builtins
import importlib.machinery
import importlib.util
import os
import runpy
import sys
import types
from multiprocessing import spawn

from .. import compat
from .console import UsageError

# Frames of this runner (and of runpy, frozen or not) above the script's own.
_SKIPPED_FRAMES = (__file__, runpy.__file__, "<frozen runpy>")


def add_parser(commands):
    """The ``run`` subcommand of the ``ember`` parser."""
    run = commands.add_parser(
        "run", help="run a PyTorch script on ember: 'import torch' resolves to ember",
        description="Run a PyTorch script unchanged on ember, as 'python script.py args...' "
                    "would run it, with 'import torch' (and torchvision) resolved to ember in "
                    "this process. '-m module' runs a module as 'python -m' does.")
    run.add_argument("-m", dest="module", nargs="...", default=None, metavar="MODULE ARGS",
                     help="run a library module as a script, with the arguments that follow")
    run.add_argument("script", nargs="?", default=None, help="the script to run")
    run.add_argument("script_args", nargs="...", metavar="ARGS", help="the script's arguments")
    run.set_defaults(handler=run_command)
    return run


def run_command(args):
    """The handler of ``ember run``: the script's exit status."""
    if args.module is not None:
        if not args.module:
            raise UsageError("run: -m needs a module name (see 'ember run --help')")
        return run_module(args.module[0], args.module[1:])
    if args.script is None:
        raise UsageError("run: a script to run is required (see 'ember run --help')")
    return run_script(args.script, args.script_args)


def run_script(path, arguments):
    """Run the file ``path`` as ``__main__`` with ``sys.argv = [path, *arguments]``."""
    if not os.path.exists(path):
        raise UsageError(f"run: can't open file {path!r}: no such file")
    absolute = os.path.abspath(path)
    if not os.path.isfile(path):  # a directory or zip file with a __main__.py
        _prepare([path, *arguments], absolute)
        return _guarded(lambda: runpy.run_path(path, run_name="__main__"))
    try:
        with open(absolute, "rb") as source_file:
            source = source_file.read()
    except OSError as error:
        raise UsageError(f"run: can't open file {path!r}: {error.strerror}") from None
    module = types.ModuleType("__main__")
    module.__file__ = absolute
    module.__builtins__ = builtins
    module.__loader__ = importlib.machinery.SourceFileLoader("__main__", absolute)
    module.__cached__ = None

    def execute():
        code = compile(source, absolute, "exec", dont_inherit=True)
        sys.modules["__main__"] = module
        exec(code, module.__dict__)  # noqa: S102 (running the user's script is the point)
    _prepare([path, *arguments], os.path.dirname(absolute))
    return _guarded(execute)


def run_module(name, arguments):
    """Run the module ``name`` as ``python -m name arguments...`` does."""
    _prepare([name, *arguments], os.getcwd())
    try:
        found = importlib.util.find_spec(name) is not None
    except ImportError:
        found = False
    if not found:
        raise UsageError(f"run: no module named {name!r}")
    return _guarded(lambda: runpy.run_module(name, run_name="__main__", alter_sys=True))


def _prepare(argv, path_entry):
    """torch resolved to ember, and argv and sys.path[0] as Python sets them for a script."""
    compat.install(force=True)
    _spawned_children_on_ember()
    sys.argv = list(argv)
    if sys.path:
        sys.path[0] = path_entry
    else:
        sys.path.insert(0, path_entry)


def _spawned_children_on_ember():
    """Processes started by multiprocessing's spawn method (pytorch/examples' mnist_hogwild sets
    it; torch.multiprocessing.spawn uses it) are fresh interpreters: their command line installs
    the same torch alias before the child unpickles anything or re-imports the main script."""
    original = spawn.get_command_line
    if getattr(original, "installs_ember", False):
        return
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    preamble = (f"import sys; sys.path.insert(0, {root!r}); import ember.compat; "
                f"ember.compat.install(force=True); sys.path.remove({root!r}); ")

    def get_command_line(**keywords):
        line = original(**keywords)
        if "-c" in line:
            position = line.index("-c") + 1
            line[position] = preamble + line[position]
        return line
    get_command_line.installs_ember = True
    spawn.get_command_line = get_command_line


def _guarded(execute):
    """Run ``execute``: an exception ends in Python's traceback (this runner's frames left out)
    and status 1, as ``python script.py`` ends."""
    try:
        execute()
    except SystemExit:
        raise
    except KeyboardInterrupt as interrupt:
        _print_exception(interrupt)
        return 130
    except BaseException as error:  # noqa: BLE001 (the script's exceptions, shown as Python does)
        _print_exception(error)
        return 1
    return 0


def _print_exception(error):
    frames = error.__traceback__
    while frames is not None and frames.tb_frame.f_code.co_filename in _SKIPPED_FRAMES:
        frames = frames.tb_next
    sys.stdout.flush()
    # Python's hook prints the exception's own __traceback__, so it is cut there too.
    sys.excepthook(type(error), error.with_traceback(frames), frames)
    sys.stderr.flush()
