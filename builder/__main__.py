"""`python -m builder`: see builder.cli.main."""

import sys

from builder.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
