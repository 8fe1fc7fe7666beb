"""`python -m pycls_like ARGS` runs the `pycls-like` command (for environments without the script)."""

import sys

from pycls_like.cli import main

if __name__ == "__main__":
    sys.exit(main())
