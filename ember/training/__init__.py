"""Thin training helpers (a hand-written loop stays first-class): epoch, evaluate, fit, metrics,
scoped modes."""
from .loop import checkpoint_path, evaluate, fit, latest_checkpoint, train_one_epoch  # noqa: F401
from .metrics import Accuracy, RunningMean  # noqa: F401
from .modes import evaluating, mc_predict, training_mode  # noqa: F401
