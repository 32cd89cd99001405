"""``python -m reconcilekit``: the same command line as the ``reconcilekit`` script."""

from __future__ import annotations

import sys

from reconcilekit.cli import main

if __name__ == "__main__":
    sys.exit(main())
