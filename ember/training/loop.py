"""Thin training helpers: one epoch, evaluation (eval mode + no_grad), and ``fit`` with checkpoints.

They are the loop a user would write by hand; nothing here is needed to train a model.
"""
import os
import re

from .. import _random
from ..io import CheckpointError
from ..serialization import load, save
from .metrics import Accuracy, RunningMean
from .modes import evaluating, training_mode

_CHECKPOINT_NAME = re.compile(r"^epoch-(\d+)\.safetensors$")


def _progress_bar(iterable, enabled, description, total=None):
    """``iterable`` wrapped in a tqdm bar when enabled and tqdm is installed, else unchanged."""
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
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


def _restore_training_state(path, model, optimizer, scheduler, train_loader):
    state = load(path)
    required = ("model", "optimizer", "scheduler", "epoch", "rng", "history")
    missing = [key for key in required if not (isinstance(state, dict) and key in state)]
    if missing:
        raise CheckpointError(f"fit: '{os.fspath(path)}' is not a training checkpoint (missing "
                              f"{', '.join(missing)}); write one with fit(checkpoint_dir=...)")
    generators = _loader_generators(train_loader)
    if len(generators) != len(state["rng"]["train_loader"]):
        raise ValueError(f"fit: the checkpoint has {len(state['rng']['train_loader'])} data "
                         f"loader generator state(s), the train loader has {len(generators)}")
    if (scheduler is None) != (state["scheduler"] is None):
        raise ValueError("fit: resume with a scheduler exactly when the checkpoint has one")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    _random.set_rng_state(state["rng"]["default"])
    for generator, generator_state in zip(generators, state["rng"]["train_loader"]):
        generator.set_state(generator_state)
    return state["epoch"], state["history"]


def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, scheduler=None,
        checkpoint_dir=None, resume=None, progress=True, seed=None, config=None):
    """Train for ``epochs`` epochs; returns the history (per-epoch train loss, validation results).

    ``scheduler`` steps once per epoch (``ReduceLROnPlateau`` gets the validation loss).
    ``checkpoint_dir``: after each epoch, write model, optimizer, scheduler, epoch, RNG states and
    history (plus the JSON-able ``config``) to ``epoch-NNN.safetensors``. ``resume``: such a file,
    or a directory (its latest one); training continues bit-identically to an uninterrupted run.
    ``seed`` seeds the default generator first (ignored when resuming: the RNG state is restored).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
    if seed is not None:
        _random.manual_seed(seed)
    history = {"train_loss": []}
    start_epoch = 0
    if resume is not None:
        if os.path.isdir(resume):
            directory = resume
            resume = latest_checkpoint(directory)
            if resume is None:
                raise CheckpointError(f"fit: no epoch-NNN.safetensors checkpoint in "
                                      f"'{os.fspath(directory)}' to resume from")
        start_epoch, history = _restore_training_state(resume, model, optimizer, scheduler,
                                                       train_loader)
        if start_epoch > epochs:
            raise ValueError(f"fit: the checkpoint is after epoch {start_epoch}, beyond the "
                             f"requested {epochs} epochs")
    if checkpoint_dir is not None:
        os.makedirs(checkpoint_dir, exist_ok=True)
    for epoch in range(start_epoch, epochs):
        set_epoch = getattr(getattr(train_loader, "sampler", None), "set_epoch", None)
        if set_epoch is not None:
            set_epoch(epoch)  # a DistributedSampler reshuffles per epoch, the same on every rank
        train_loss = train_one_epoch(model, train_loader, loss_fn, optimizer, progress=progress)
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
    return history
