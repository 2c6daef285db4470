"""python -m cli: operators and tenants drive the platform from a terminal."""

import sys

from cli.main import main

if __name__ == "__main__":
    sys.exit(main())
