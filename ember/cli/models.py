"""The models that ``ember train`` and ``ember demo`` build, by name, for 8x8 one-channel images.

Checkpoints store the name and options, so ``ember eval`` rebuilds the same architecture.
"""
from .. import nn

IMAGE_SIZE = 8
NUM_CLASSES = 10


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


def build_model(name, **options):
    """A fresh model ``name`` (one of MODELS) with its options (defaults when omitted)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(sorted(MODELS))}")
    return MODELS[name](**options)
