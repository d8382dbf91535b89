"""Algorithms on top of the collectives (``torch.distributed.algorithms``)."""
from .join import Join, JoinHook, Joinable  # noqa: F401
