"""Allow ``python -m deliverytui``."""

from deliverytui.cli import run

run()
