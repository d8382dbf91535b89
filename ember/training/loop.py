"""Thin training helpers: one epoch, evaluation (eval mode + no_grad), and ``fit`` with checkpoints.

They are the loop a user would write by hand; nothing here is needed to train a model.
"""
import os
import re

from .. import _random
from ..io import CheckpointError
from ..serialization import load, save
from ..tensor import Tensor
from .metrics import Accuracy, RunningMean
from .modes import evaluating, training_mode

_CHECKPOINT_NAME = re.compile(r"^epoch-(\d+)\.safetensors$")


def _progress_bar(iterable, enabled, description, total=None):
    """``iterable`` wrapped in a tqdm bar when enabled and tqdm is installed, else unchanged."""
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm  # optional (the demo extra): bars are a nicety
    except ImportError:
        return iterable
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            total = None
    return tqdm(iterable, total=total, desc=description, leave=False, dynamic_ncols=True)


def _batch_size(targets):
    shape = getattr(targets, "shape", None)
    return shape[0] if shape else 1


def train_one_epoch(model, loader, loss_fn, optimizer, scheduler=None, progress=False):
    """Train ``model`` for one pass over ``loader`` of ``(inputs, targets)``; returns the mean loss.

    ``loss_fn`` must return the batch mean; the result is weighted by batch size (a per-sample
    mean). ``scheduler``, if given, steps after every batch (per-iteration schedules such as
    OneCycleLR); for per-epoch schedules call ``scheduler.step()`` yourself or use ``fit``.
    The epoch runs in train mode; afterwards every submodule has its previous mode back.
    """
    mean_loss = RunningMean()
    batches = _progress_bar(loader, progress, "train")
    with training_mode(model):
        for inputs, targets in batches:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            mean_loss.update(loss.item(), _batch_size(targets))
            if batches is not loader:
                batches.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    return mean_loss.compute()


def evaluate(model, loader, loss_fn=None, metrics=None, progress=False):
    """Evaluate in eval mode under no_grad; returns ``{"loss": ..., metric name: value, ...}``.

    ``metrics`` maps names to objects with ``update(outputs, targets)``/``compute()``/``reset()``;
    None means ``{"accuracy": Accuracy()}`` (pass ``{}`` for none). Afterwards every submodule is
    back in the mode it had before, and no buffer was touched by the forward passes.
    """
    metrics = {"accuracy": Accuracy()} if metrics is None else dict(metrics)
    for metric in metrics.values():
        metric.reset()
    mean_loss = RunningMean()
    with evaluating(model):
        for inputs, targets in _progress_bar(loader, progress, "eval"):
            outputs = model(inputs)
            if loss_fn is not None:
                mean_loss.update(loss_fn(outputs, targets).item(), _batch_size(targets))
            for metric in metrics.values():
                metric.update(outputs, targets)
    results = {}
    if loss_fn is not None:
        results["loss"] = mean_loss.compute()
    for name, metric in metrics.items():
        results[name] = metric.compute()
    return results


# ---- fit: epochs, scheduler, checkpoints, resume -----------------------------------------------

def _loader_generators(loader):
    """The distinct ember Generators a loader (or its samplers) draw from, in a fixed order."""
    candidates = [getattr(loader, "generator", None)]
    sampler = getattr(loader, "sampler", None)
    candidates.append(getattr(sampler, "generator", None))
    batch_sampler = getattr(loader, "batch_sampler", None)
    candidates.append(getattr(getattr(batch_sampler, "sampler", None), "generator", None))
    found = []
    for generator in candidates:
        if isinstance(generator, _random.Generator) and all(generator is not g for g in found):
            found.append(generator)
    return found


def _is_plateau_scheduler(scheduler):
    return type(scheduler).__name__ == "ReduceLROnPlateau"


def checkpoint_path(checkpoint_dir, epoch):
    """Where ``fit`` writes the checkpoint after ``epoch`` (1-based) epochs."""
    return os.path.join(os.fspath(checkpoint_dir), f"epoch-{epoch:03d}.safetensors")


def latest_checkpoint(checkpoint_dir):
    """The checkpoint of the highest epoch in ``checkpoint_dir``, or None when there is none."""
    best = None
    for name in os.listdir(checkpoint_dir):
        match = _CHECKPOINT_NAME.match(name)
        if match and (best is None or int(match.group(1)) > best[0]):
            best = (int(match.group(1)), name)
    return None if best is None else os.path.join(os.fspath(checkpoint_dir), best[1])


def _training_state(model, optimizer, scheduler, train_loader, epoch, history, config):
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "epoch": epoch,
        "rng": {"default": _random.get_rng_state(),
                "train_loader": [generator.get_state()
                                 for generator in _loader_generators(train_loader)]},
        "history": history,
        "config": config,
    }


def restore_training_state(path, model, optimizer, scheduler=None, train_loader=None):
    """Load a checkpoint written by ``fit(checkpoint_dir=...)`` into a run's objects; returns
    ``(epoch, history)``.

    Everything is checked, and on any problem every object is put back as it was: CheckpointError
    for a file that is not a sound training checkpoint or does not fit the model and optimizer,
    ValueError for a run set up differently (scheduler, loader generators).
    """
    display = os.fspath(path)
    state = load(path)
    required = ("model", "optimizer", "scheduler", "epoch", "rng", "history")
    missing = [key for key in required if not (isinstance(state, dict) and key in state)]
    if missing:
        raise CheckpointError(f"fit: '{display}' is not a training checkpoint (missing "
                              f"{', '.join(missing)}); write one with fit(checkpoint_dir=...)")
    problems = _training_state_problems(state, optimizer, scheduler)
    if problems:
        raise CheckpointError(f"fit: '{display}' is not a valid training checkpoint: "
                              + "; ".join(problems))
    generators = _loader_generators(train_loader)
    if len(generators) != len(state["rng"]["train_loader"]):
        raise ValueError(f"fit: the checkpoint has {len(state['rng']['train_loader'])} data "
                         f"loader generator state(s), the train loader has {len(generators)}")
    if (scheduler is None) != (state["scheduler"] is None):
        raise ValueError("fit: resume with a scheduler exactly when the checkpoint has one")
    before = _RunState(model, optimizer, scheduler, generators)
    try:
        _RunState.apply(model, optimizer, scheduler, generators, state["model"],
                        state["optimizer"], state["scheduler"], state["rng"])
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RuntimeError,
            OverflowError) as error:
        before.restore()
        raise CheckpointError(f"fit: '{display}' does not fit this training run: "
                              f"{error}") from None
    return state["epoch"], state["history"]


class _RunState:
    """A copy of everything a resume overwrites, to put back when the resume fails half-way."""

    def __init__(self, model, optimizer, scheduler, generators):
        self.objects = (model, optimizer, scheduler, generators)
        self.model = {name: tensor.clone() for name, tensor in model.state_dict().items()}
        self.optimizer = optimizer.state_dict()  # load_state_dict replaces, never mutates, it
        self.scheduler = None if scheduler is None else dict(scheduler.state_dict())
        self.rng = {"default": _random.get_rng_state(),
                    "train_loader": [generator.get_state() for generator in generators]}

    def restore(self):
        self.apply(*self.objects, self.model, self.optimizer, self.scheduler, self.rng)

    @staticmethod
    def apply(model, optimizer, scheduler, generators, model_state, optimizer_state,
              scheduler_state, rng):
        model.load_state_dict(model_state)
        optimizer.load_state_dict(optimizer_state)
        if scheduler is not None:
            scheduler.load_state_dict(scheduler_state)
        _random.set_rng_state(rng["default"])
        for generator, generator_state in zip(generators, rng["train_loader"]):
            generator.set_state(generator_state)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind(value):
    """What a setting holds, for comparing a saved value with the live one."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return type(value).__name__
    if _is_number(value):
        return "number"
    if isinstance(value, (list, tuple)):
        return ("sequence", tuple(_kind(item) for item in value))
    return "other"


def _same_kinds(live, saved, where):
    """Problems where ``saved`` holds another kind of value than ``live`` under the same key."""
    if not isinstance(saved, dict):
        return [f"{where} is a {type(saved).__name__}, not a dict"]
    return [f"{where}[{key!r}] is {saved[key]!r}, expected a value like {value!r}"
            for key, value in live.items()
            if key in saved and _kind(value) != "other" and _kind(saved[key]) != _kind(value)]


def _training_state_problems(state, optimizer, scheduler):
    """What makes ``state`` unusable for a resume, checked before anything is loaded."""
    problems = []
    epoch = state["epoch"]
    if not (type(epoch) is int and epoch >= 0):
        problems.append(f"epoch is {epoch!r}, not a non-negative integer")
        epoch = None
    history = state["history"]
    if not isinstance(history, dict) or not isinstance(history.get("train_loss"), list):
        problems.append("history is not a dict with a 'train_loss' list")
    else:
        for name, values in history.items():
            if not (isinstance(values, list) and all(_is_number(value) for value in values)):
                problems.append(f"history[{name!r}] is not a list of numbers")
            elif epoch is not None and len(values) != epoch:
                problems.append(f"history[{name!r}] has {len(values)} entries for {epoch} "
                                f"epochs")
    rng = state["rng"]
    if not (isinstance(rng, dict) and isinstance(rng.get("default"), Tensor)
            and isinstance(rng.get("train_loader"), list)):
        problems.append("rng is not a dict of generator states")
    saved_optimizer = state["optimizer"]
    if not (isinstance(saved_optimizer, dict) and isinstance(saved_optimizer.get("param_groups"),
                                                              list)):
        problems.append("optimizer has no param_groups list")
    else:
        for index, (live, saved) in enumerate(zip(optimizer.param_groups,
                                                  saved_optimizer["param_groups"])):
            live = {key: value for key, value in live.items() if key != "params"}
            problems += _same_kinds(live, saved, f"optimizer param_groups[{index}]")
    if scheduler is not None and state["scheduler"] is not None:
        problems += _same_kinds(scheduler.state_dict(), state["scheduler"], "scheduler")
    return problems


def _resume(resume, model, optimizer, scheduler, train_loader, epochs):
    """(epoch, history) of the checkpoint ``resume`` (a file, or a folder's latest), with the
    model, optimizer, scheduler and loader state restored from it."""
    if os.path.isdir(resume):
        directory = resume
        resume = latest_checkpoint(directory)
        if resume is None:
            raise CheckpointError(f"fit: no epoch-NNN.safetensors checkpoint in "
                                  f"'{os.fspath(directory)}' to resume from")
    start_epoch, history = restore_training_state(resume, model, optimizer, scheduler,
                                                  train_loader)
    if start_epoch > epochs:
        raise ValueError(f"fit: the checkpoint is after epoch {start_epoch}, beyond the "
                         f"requested {epochs} epochs")
    return start_epoch, history


def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, scheduler=None,
        checkpoint_dir=None, resume=None, progress=True, seed=None, config=None,
        progress_bars=None, on_epoch_end=None):
    """Train for ``epochs`` epochs; returns the history (per-epoch train loss, validation results).

    ``scheduler`` steps once per epoch (``ReduceLROnPlateau`` gets the validation loss).
    ``checkpoint_dir``: after each epoch, write model, optimizer, scheduler, epoch, RNG states and
    history (plus the JSON-able ``config``) to ``epoch-NNN.safetensors``. ``resume``: such a file,
    or a directory (its latest one); training continues bit-identically to an uninterrupted run.
    ``seed`` seeds the default generator first (ignored when resuming: the RNG state is restored).
    ``progress`` prints a line per epoch and draws tqdm bars; ``progress_bars=False`` keeps the
    lines without the bars (for logs), None follows ``progress``. ``on_epoch_end(epoch, metrics)``
    runs after each epoch (``epoch`` counts from 1) with its ``train_loss`` and ``val_*`` values.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
    if seed is not None:
        _random.manual_seed(seed)
    history = {"train_loss": []}
    start_epoch = 0
    if resume is not None:
        start_epoch, history = _resume(resume, model, optimizer, scheduler, train_loader, epochs)
    if checkpoint_dir is not None:
        os.makedirs(checkpoint_dir, exist_ok=True)
    for epoch in range(start_epoch, epochs):
        set_epoch = getattr(getattr(train_loader, "sampler", None), "set_epoch", None)
        if set_epoch is not None:
            set_epoch(epoch)  # a DistributedSampler reshuffles per epoch, the same on every rank
        train_loss = train_one_epoch(model, train_loader, loss_fn, optimizer,
                                     progress=progress if progress_bars is None else progress_bars)
        history["train_loss"].append(train_loss)
        line = f"epoch {epoch + 1}/{epochs}  train loss {train_loss:.4f}"
        results = {}
        if val_loader is not None:
            results = evaluate(model, val_loader, loss_fn)
            for name, value in results.items():
                history.setdefault("val_" + name, []).append(value)
            line += "".join(f"  val {name} {value:.4f}" for name, value in results.items())
        if scheduler is not None:
            if _is_plateau_scheduler(scheduler):
                scheduler.step(results["loss"] if "loss" in results else train_loss)
            else:
                scheduler.step()
        if checkpoint_dir is not None:
            save(_training_state(model, optimizer, scheduler, train_loader, epoch + 1, history,
                                 config), checkpoint_path(checkpoint_dir, epoch + 1))
        if progress:
            print(line, flush=True)
        if on_epoch_end is not None:
            metrics = {"train_loss": train_loss}
            metrics.update({"val_" + name: value for name, value in results.items()})
            on_epoch_end(epoch + 1, metrics)
    return history
