"""``python -m ember``: the ``ember`` command."""
import sys

from .cli.main import main

sys.exit(main())
