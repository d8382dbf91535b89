"""torch.utils.tensorboard on ember: SummaryWriter writing event files with the tensorboard
package's own writer and protos (the ``tensorboard`` extra), plus ``log_epoch`` for training
loops."""
from .writer import FileWriter, SummaryWriter, log_epoch  # noqa: F401

__all__ = ["FileWriter", "SummaryWriter", "log_epoch"]
