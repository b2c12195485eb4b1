"""`python -m personalize_tools.localdeploy --help`."""

from __future__ import annotations

import sys

from personalize_tools.localdeploy.cli import main

if __name__ == "__main__":
    sys.exit(main())
