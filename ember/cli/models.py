"""The models and datasets that ``ember train``, ``ember eval`` and ``ember demo`` build by name,
for 8x8 one-channel images.

Checkpoints store the model's name and options, so ``ember eval`` rebuilds the same architecture;
the options are checked first, because a checkpoint is input like any other.
"""
import math

from .. import nn
from ..data.datasets import Digits
from .console import UsageError

IMAGE_SIZE = 8
NUM_CLASSES = 10
DATASETS = ("digits",)
_MAX_WIDTH = 2 ** 16  # far beyond these models, and small enough to allocate


def mlp(hidden=128, dropout=0.2):
    """Flatten, one hidden ReLU layer with dropout, 10 logits."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(IMAGE_SIZE * IMAGE_SIZE, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, NUM_CLASSES))


def cnn(channels=16, hidden=64, dropout=0.25):
    """Two 3x3 conv + BatchNorm + ReLU blocks, a 2x2 max pool, a hidden layer with dropout."""
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(),
        nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.BatchNorm2d(2 * channels), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * channels * (IMAGE_SIZE // 2) ** 2, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, NUM_CLASSES))


MODELS = {"mlp": mlp, "cnn": cnn}


def _width(value):
    return type(value) is int and 1 <= value <= _MAX_WIDTH


def _probability(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and 0 <= value < 1)


_OPTION_CHECKS = {"hidden": (_width, f"an integer from 1 to {_MAX_WIDTH}"),
                  "channels": (_width, f"an integer from 1 to {_MAX_WIDTH}"),
                  "dropout": (_probability, "a number in [0, 1)")}
_OPTIONS = {"mlp": ("hidden", "dropout"), "cnn": ("channels", "hidden", "dropout")}


def build_model(name, options=None):
    """A fresh model ``name`` (one of MODELS) with its ``options`` dict (defaults for those left
    out); a bad name or option is a ValueError naming it."""
    if not isinstance(name, str) or name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(sorted(MODELS))}")
    options = {} if options is None else options
    if not isinstance(options, dict) or not all(isinstance(key, str) for key in options):
        raise ValueError(f"model {name!r}: options must be a dict of names to values, got "
                         f"{options!r}")
    problems = []
    for option, value in options.items():
        if option not in _OPTIONS[name]:
            problems.append(f"unknown option {option!r} (it takes {', '.join(_OPTIONS[name])})")
            continue
        check, expected = _OPTION_CHECKS[option]
        if not check(value):
            problems.append(f"option {option}={value!r}: expected {expected}")
    if problems:
        raise ValueError(f"model {name!r}: " + "; ".join(problems))
    return MODELS[name](**options)


def load_dataset(name, train):
    """The named dataset's train or test split (scikit-learn is needed for Digits)."""
    if name not in DATASETS:
        raise UsageError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    try:
        return Digits(train=train)
    except ImportError as error:
        raise UsageError(str(error)) from None
