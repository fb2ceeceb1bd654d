"""The ``eqlandscape`` command line."""

import signal
import sys

from eqlandscape.cli.app import app, main

# modules whose commands register themselves on ``app``
from eqlandscape.cli import compare, dynamics, landscape, training  # noqa: F401  isort: skip

__all__ = ["app", "main", "run"]


def run() -> None:
    """Console-script entry point. Ctrl-C (SIGINT) interrupts the run even where the shell started
    it with SIGINT ignored (a background job), so that it exits with status 130 and keeps what had
    finished."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
