"""The ``eqlandscape`` command line."""

import sys

from eqlandscape.cli.app import app, main

__all__ = ["app", "main", "run"]


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
