"""How to install an optional extra. ember is not on a package index, so the hint is an install
from the checkout (``pip install '.[vision]'``); the names are pyproject.toml's extras."""


def install_hint(extra):
    """The command that installs the ``extra`` of pyproject.toml, e.g. for an ImportError."""
    return f"pip install '.[{extra}]' in the ember checkout"
