"""``python -m mstock_sandbox``: run the sandbox from the command line."""

import sys

from .cli import main

sys.exit(main())
