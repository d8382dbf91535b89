"""``ember train``: settings (from the command line, or from the checkpoint it resumes), every check
before any work, training with a checkpoint per epoch, and a resume command on Ctrl-C."""
import math
import os
import re
import reprlib
import shlex
import tempfile

from .. import optim
from .._random import Generator, manual_seed
from ..data import DataLoader
from ..nn import CrossEntropyLoss
from ..serialization import load
from ..training import checkpoint_path, fit, restore_training_state
from . import console, mpi
from .console import Interrupted, UsageError
from .models import DATASETS, MODELS, build_model, load_dataset

OPTIMIZERS = ("sgd", "adam", "adamw")
MAX_SEED = 2 ** 63 - 1  # leaves room for seed + rank and seed + epoch in 64 bits
DEFAULT_OUT = "runs"
# Every setting of a run, with its default. A checkpoint stores them all; resuming takes them from
# it, and all but `epochs` (how far to train) are fixed by it.
DEFAULTS = {"model": "cnn", "model_options": {}, "dataset": "digits", "optimizer": "adam",
            "lr": 1e-3, "weight_decay": 0.0, "batch_size": 64, "seed": 0, "nproc": 1,
            "epochs": 10}
OVERRIDABLE = ("epochs",)
_CHECKPOINT_NAME = re.compile(r"epoch-(\d+)\.safetensors")


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _count(value, minimum, maximum=None):
    return type(value) is int and value >= minimum and (maximum is None or value <= maximum)


_SETTING_CHECKS = {
    "model": lambda value: value in MODELS,
    "model_options": lambda value: True,  # checked by build_model
    "dataset": lambda value: value in DATASETS,
    "optimizer": lambda value: value in OPTIMIZERS,
    "lr": lambda value: _number(value) and value > 0,
    "weight_decay": lambda value: _number(value) and value >= 0,
    "batch_size": lambda value: _count(value, 1),
    "seed": lambda value: _count(value, 0, MAX_SEED),
    "nproc": lambda value: _count(value, 1),
    "epochs": lambda value: _count(value, 0),
}


def _flag(name):
    return "--" + name.replace("_", "-")


# ---- settings ----------------------------------------------------------------------------------

def _given(args):
    """The settings given on the command line (the parser's defaults are None)."""
    return {name: getattr(args, name) for name in DEFAULTS
            if getattr(args, name, None) is not None}


def _saved_settings(path, state):
    """The settings stored in an ``ember train`` checkpoint, checked like command-line input."""
    config = state.get("config") if isinstance(state, dict) else None
    if not isinstance(config, dict) or "epoch" not in state or "model" not in state:
        raise UsageError(f"'{path}' is not a checkpoint written by 'ember train'")
    # Checkpoints from before nproc and epochs were stored get the defaults for them.
    saved = {**DEFAULTS, **{name: config[name] for name in DEFAULTS if name in config}}
    bad = [f"{name} {reprlib.repr(saved[name])}" for name in DEFAULTS
           if not _SETTING_CHECKS[name](saved[name])]
    if not bad:
        try:
            build_model(saved["model"], saved["model_options"])
        except ValueError as error:
            bad.append(str(error))
    if type(state["epoch"]) is not int or state["epoch"] < 0:
        bad.append(f"epoch {reprlib.repr(state['epoch'])}")
    if bad:
        raise UsageError(f"'{path}' has invalid settings: {', '.join(bad)}")
    return saved


def _describe(settings):
    shown = [f"{name.replace('_', ' ')} {settings[name]}" for name in DEFAULTS
             if name not in ("model_options", "epochs")]
    if settings["model_options"]:
        shown.insert(1, f"options {settings['model_options']}")
    return ", ".join(shown)


def resolve_settings(args):
    """``(settings, resumed epoch or None, note)``: the command line over the defaults, or, with
    ``--resume``, the checkpoint's settings, where the command line may change only ``--epochs``
    (every other difference is listed in one error)."""
    given = _given(args)
    if args.resume is None:
        return {**DEFAULTS, **given}, None, None
    state = load(args.resume)
    saved = _saved_settings(args.resume, state)
    different = [f"{_flag(name)} {given[name]} (checkpoint: {saved[name]})" for name in given
                 if name not in OVERRIDABLE and given[name] != saved[name]]
    if different:
        raise UsageError(f"cannot resume '{args.resume}' with different settings: "
                         f"{'; '.join(different)}; the checkpoint fixes them, leave them out")
    settings = {**saved, **{name: given[name] for name in OVERRIDABLE if name in given}}
    epoch = state["epoch"]
    if epoch > settings["epochs"]:
        raise UsageError(f"'{args.resume}' is after epoch {epoch}, beyond the requested "
                         f"{settings['epochs']} epochs")
    overridden = [f"{_flag(name)} {settings[name]} (checkpoint: {saved[name]})"
                  for name in OVERRIDABLE if settings[name] != saved[name]]
    note = (f"resuming '{args.resume}' after epoch {epoch} of {settings['epochs']} with its "
            f"settings: {_describe(settings)}"
            + (f"; changed: {', '.join(overridden)}" if overridden else ""))
    return settings, epoch, note


def check_output_folder(out, option="--out"):
    """Create ``out`` (given as ``option``) if needed and prove it writable now, not after an
    epoch of training."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"{option} '{out}' is a file, not a folder")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create the output folder '{out}': {error.strerror}") from None
    try:
        descriptor, probe = tempfile.mkstemp(prefix=".ember-write-check-", dir=out)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        raise UsageError(f"cannot write to the output folder '{out}': {error.strerror}") from None


# ---- the run -----------------------------------------------------------------------------------

def build_optimizer(name, parameters, lr, weight_decay):
    if name == "sgd":
        return optim.SGD(parameters, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    return optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)


class _Run:
    """The objects of one training run (on one rank), built in the order that fixes its RNG use."""

    def __init__(self, settings, rank):
        self.train_set = load_dataset(settings["dataset"], train=True)
        self.test_set = load_dataset(settings["dataset"], train=False)
        manual_seed(settings["seed"])
        self.model = build_model(settings["model"], settings["model_options"])
        self.optimizer = build_optimizer(settings["optimizer"], self.model.parameters(),
                                         settings["lr"], settings["weight_decay"])
        # The shuffle order has its own stream, so it does not depend on how many numbers
        # initialisation drew; fit() checkpoints and restores it with the default generator.
        self.train_loader = DataLoader(self.train_set, batch_size=settings["batch_size"],
                                       shuffle=True,
                                       generator=Generator().manual_seed(settings["seed"]))
        if settings["nproc"] > 1:
            self.model, self.train_loader = mpi.data_parallel(
                self.model, self.train_set, settings["batch_size"], settings["nproc"],
                settings["seed"], rank)
        self.test_loader = DataLoader(self.test_set, batch_size=256)

    def check_resume(self, path):
        """Load the checkpoint into this run now, so a mismatch stops before any training."""
        try:
            restore_training_state(path, self.model, self.optimizer, None, self.train_loader)
        except ValueError as error:  # a run set up differently from the checkpoint's
            raise UsageError(f"cannot resume '{path}': {error}") from None


def _checkpoint_files(out):
    """``{(epoch, name): (inode, mtime, size)}`` of the epoch checkpoints in ``out``."""
    files = {}
    for entry in os.scandir(out):
        match = _CHECKPOINT_NAME.fullmatch(entry.name)
        if match:
            status = entry.stat()
            files[int(match.group(1)), entry.name] = (status.st_ino, status.st_mtime_ns,
                                                      status.st_size)
    return files


def _interrupted(out, before, resume):
    """The Ctrl-C message: the newest checkpoint this run wrote (or resumed from), and how to go on
    from it (the checkpoint holds every setting, the number of epochs included)."""
    written = [name for name, status in _checkpoint_files(out).items()
               if before.get(name) != status]
    last = os.path.join(out, max(written)[1]) if written else resume
    if last is None:
        return Interrupted(f"interrupted before the first checkpoint; nothing was saved in "
                           f"'{out}'")
    return Interrupted(f"interrupted; the last checkpoint is '{last}'; resume with: "
                       f"ember train --resume {shlex.quote(last)}")


def run_train(args):
    """The ``train`` command. Everything the user can get wrong is checked before training (and,
    for ``--nproc``, before the job starts); the ranks then repeat the same checks."""
    settings, resumed_epoch, note = resolve_settings(args)
    out = args.out or ((os.path.dirname(args.resume) or ".") if args.resume else DEFAULT_OUT)
    check_output_folder(out)
    if args.tensorboard is not None:
        _tensorboard()
        check_output_folder(args.tensorboard, "--tensorboard")
    nproc = settings["nproc"]
    if settings["batch_size"] % nproc:
        raise UsageError(f"--batch-size {settings['batch_size']} must be divisible by --nproc "
                         f"{nproc} (it is the global batch, split among the ranks)")
    if settings["epochs"] == 0:
        console.say("nothing to train: --epochs 0; no checkpoint written")
        return 0
    if resumed_epoch == settings["epochs"]:
        console.say(f"nothing to train: '{args.resume}' is already at epoch {resumed_epoch} of "
                    f"{resumed_epoch} (give --epochs N to train further); no checkpoint written")
        return 0
    starting_job = nproc > 1 and not mpi.inside_job()
    if starting_job:
        mpi.check_can_launch(nproc)
    rank = mpi.join_job(nproc) if nproc > 1 or mpi.inside_job() else 0
    try:
        run = _Run(settings, rank)
        if args.resume is not None:
            run.check_resume(args.resume)
    finally:
        if starting_job:
            mpi.leave_job()
    if starting_job:
        return mpi.start_job(nproc, args.argv)
    if note and not args.quiet:
        console.say(note)
    return _train(args, settings, run, out)


def _tensorboard():
    """``(SummaryWriter, log_epoch)`` of ember.utils.tensorboard, or a UsageError naming the
    extra when tensorboard is missing."""
    try:
        # tensorboard is an optional extra, imported only when --tensorboard is given.
        from ..utils.tensorboard import SummaryWriter, log_epoch
    except ImportError as error:
        raise UsageError(f"--tensorboard: {error}") from None
    return SummaryWriter, log_epoch


def _train(args, settings, run, out):
    epochs = settings["epochs"]
    before = _checkpoint_files(out)
    writer = None
    if args.tensorboard is not None and console.rank() == 0:
        summary_writer, log_epoch = _tensorboard()
        writer = summary_writer(args.tensorboard)

    def on_epoch_end(epoch, metrics):
        if writer is not None:
            log_epoch(writer, epoch, metrics, run.model, run.optimizer)
            writer.flush()  # an interrupted run keeps the epochs it finished
    try:
        history = fit(run.model, run.train_loader, run.test_loader, CrossEntropyLoss(),
                      run.optimizer, epochs,
                      checkpoint_dir=out if console.rank() == 0 else None, resume=args.resume,
                      progress=not args.quiet and console.rank() == 0,
                      progress_bars=console.progress_bars(),
                      config={name: settings[name] for name in DEFAULTS},
                      on_epoch_end=on_epoch_end)
    except KeyboardInterrupt:
        raise _interrupted(out, before, args.resume) from None
    finally:
        if writer is not None:
            writer.close()
    accuracy = history["val_accuracy"][-1]
    console.say(f"final test accuracy {100 * accuracy:.2f}% after {epochs} epochs; checkpoints "
                f"in '{out}' (last: {checkpoint_path(out, epochs)})")
    return 0
