"""``python -m brainoptim``: the command line (see :mod:`brainoptim.cli`)."""

import sys

from brainoptim.cli import main

if __name__ == "__main__":
    sys.exit(main())
