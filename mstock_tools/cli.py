"""Console entry point ``mstock-openalgo`` (same CLI as ``python -m broker.mstock``)."""

from __future__ import annotations

import sys

from broker.mstock.cli import main as plugin_main


def main() -> None:
    sys.exit(plugin_main())


if __name__ == "__main__":
    main()
