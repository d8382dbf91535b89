"""Thin training helpers (a hand-written loop stays first-class): epoch, evaluate, fit, metrics,
scoped modes."""
from .loop import (  # noqa: F401
    checkpoint_path, evaluate, fit, latest_checkpoint, restore_training_state, train_one_epoch)
from .metrics import Accuracy, RunningMean  # noqa: F401
from .modes import evaluating, mc_predict, training_mode  # noqa: F401
