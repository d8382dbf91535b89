"""Small datasets that ship with installed packages (no download)."""
from .digits import Digits  # noqa: F401
