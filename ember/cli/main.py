"""The ``ember`` command: ``demo``, ``train``, ``eval``, ``inspect`` and ``run``.

Bad input ends with one line ``ember: error: ...`` on stderr and exit status 2, before any work
starts and never with a traceback; under ``--nproc`` the job says it once.
"""
import argparse
import math
import os
import sys

from .. import __version__
from .._extras import install_hint
from ..io import CheckpointError
from ..training import latest_checkpoint
from . import console
from .console import Interrupted, UsageError
from .demo import DEMO_EPOCHS, missing_requirements, run_demo
from .evaluate import run_eval, run_inspect
from .models import DATASETS, MODELS
from .run import add_parser as add_run_parser
from .train import DEFAULT_OUT, DEFAULTS, MAX_SEED, OPTIMIZERS, check_output_folder, run_train


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


# ---- argument types ----------------------------------------------------------------------------

def _integer(text, minimum, what, maximum=None):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def non_negative_int(text):
    return _integer(text, 0, "a non-negative integer")


def positive_int(text):
    return _integer(text, 1, "a positive integer")


def _number(text, allow_zero):
    what = "a non-negative number" if allow_zero else "a positive number"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_float(text):
    return _number(text, allow_zero=False)


def non_negative_float(text):
    return _number(text, allow_zero=True)


def seed_value(text):
    return _integer(text, 0, f"an integer seed from 0 to {MAX_SEED}", MAX_SEED)


def checkpoint_file(text):
    """A checkpoint file, or a folder of ``epoch-NNN.safetensors`` files (its latest epoch)."""
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"no such file: '{text}'")
    if os.path.isdir(text):
        latest = latest_checkpoint(text)
        if latest is None:
            raise argparse.ArgumentTypeError(f"'{text}' is a directory without "
                                             f"epoch-NNN.safetensors checkpoints")
        return latest
    return text


# ---- the parser --------------------------------------------------------------------------------

def _setting(parser, name, help_text, **options):
    """A train setting: None unless given, so that ``--resume`` can tell what was given."""
    default = DEFAULTS[name]
    parser.add_argument("--" + name.replace("_", "-"), default=None,
                        help=f"{help_text} (default: {default}; with --resume: the checkpoint's)",
                        **options)


def build_parser():
    parser = _Parser(prog="ember", description="ember: PyTorch's semantics on NumPy.")
    parser.add_argument("--version", action="version", version=f"ember {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo", help="train a small CNN on Digits and show why eval() and no_grad() matter")
    demo.add_argument("--out", default="demo-out", help="output folder (default: demo-out)")
    demo.add_argument("--epochs", type=positive_int, default=None,
                      help=f"training epochs (default: {DEMO_EPOCHS})")
    demo.add_argument("--seed", type=seed_value, default=0, help="random seed (default: 0)")
    demo.set_defaults(handler=_run_demo)

    train = commands.add_parser("train", help="train a model, checkpointing every epoch")
    _setting(train, "model", "architecture", choices=sorted(MODELS))
    _setting(train, "dataset", "dataset", choices=DATASETS)
    train.add_argument("--epochs", type=non_negative_int, default=None,
                       help=f"train until this many epochs are done (default: "
                            f"{DEFAULTS['epochs']}; with --resume: the checkpoint's target)")
    _setting(train, "batch_size", "global batch size", type=positive_int)
    _setting(train, "optimizer", "optimizer", choices=OPTIMIZERS)
    _setting(train, "lr", "learning rate", type=positive_float)
    _setting(train, "weight_decay", "weight decay", type=non_negative_float)
    _setting(train, "seed", "random seed", type=seed_value)
    _setting(train, "nproc", "data-parallel training on N MPI ranks, the batch split among them "
                             "(starts itself under mpiexec; needs the mpi extra)",
             type=positive_int, metavar="N")
    train.add_argument("--out", default=None,
                       help=f"checkpoint folder (default: {DEFAULT_OUT}; with --resume: the "
                            f"checkpoint's folder)")
    train.add_argument("--resume", type=checkpoint_file, default=None, metavar="CHECKPOINT",
                       help="continue from a checkpoint written by 'ember train', or from the "
                            "latest epoch in a folder of them; its settings are used")
    train.add_argument("--tensorboard", default=None, metavar="DIR",
                       help="log each epoch's train loss, test loss and accuracy, learning rate "
                            "and BatchNorm running statistics to DIR for TensorBoard (needs the "
                            "tensorboard extra)")
    train.add_argument("--quiet", action="store_true", help="no progress bars or epoch lines")
    train.set_defaults(handler=run_train)

    evaluate = commands.add_parser("eval", help="evaluate a checkpoint on its test set")
    evaluate.add_argument("checkpoint", type=checkpoint_file,
                          help="a checkpoint, or a folder of them (its latest epoch)")
    evaluate.add_argument("--dataset", choices=DATASETS, default=None,
                          help="dataset (default: the one the checkpoint was trained on)")
    evaluate.add_argument("--batch-size", type=positive_int, default=256,
                          help="batch size (default: 256)")
    evaluate.add_argument("--json", action="store_true", help="print the results as JSON")
    evaluate.set_defaults(handler=run_eval)

    inspect = commands.add_parser("inspect", help="list a checkpoint's tensors and metadata")
    inspect.add_argument("checkpoint", type=checkpoint_file,
                         help="a checkpoint (ember's, any safetensors file, or a torch.save file, "
                              "whose pickle is read without running code), or a folder of them "
                              "(its latest epoch)")
    inspect.set_defaults(handler=run_inspect)

    add_run_parser(commands)
    return parser


def _run_demo(args):
    missing = missing_requirements()
    if missing:
        raise UsageError(f"ember demo needs {' and '.join(missing)}: "
                         f"{install_hint('demo')}")
    check_output_folder(args.out)
    run_demo(out_dir=args.out, epochs=args.epochs, seed=args.seed,
             progress_bars=console.progress_bars())


def main(argv=None):
    """Entry point of the ``ember`` console script and ``python -m ember``; returns the status."""
    arguments = sys.argv[1:] if argv is None else [str(argument) for argument in argv]
    console.printable_output()
    try:
        parser = build_parser()
        if not arguments:
            parser.print_help()
            return 0
        try:
            args, unknown = parser.parse_known_args(arguments)
        except SystemExit as exit:  # --help and --version print, then exit
            return exit.code or 0
        if unknown:
            raise UsageError(f"unrecognized arguments: {' '.join(unknown)} (see 'ember "
                             f"{args.command} --help')")
        args.argv = arguments
        status = args.handler(args) or 0
        sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
        return status
    except (UsageError, CheckpointError) as error:
        console.report(f"error: {error}")
        return console.finish(console.USAGE_ERROR)
    except Interrupted as interrupted:
        console.report(interrupted)
        return console.finish(console.INTERRUPTED)
    except KeyboardInterrupt:
        console.report("interrupted")
        return console.finish(console.INTERRUPTED)
    except BrokenPipeError:
        console.silence_stdout()
        return console.BROKEN_PIPE
