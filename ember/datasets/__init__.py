"""Alias of ``ember.data.datasets``."""
from ..data.datasets import Digits  # noqa: F401
