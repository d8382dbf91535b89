"""``python -m ember.run script.py [args...]``: ``ember run`` where the console script is not on
the path (see ``ember/cli/run.py``)."""
import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
