"""The data layers never import Textual: only deliverytui.tui (and the CLI when it starts the app) may."""

from __future__ import annotations

import subprocess
import sys

NON_UI_PACKAGES = ["deliverytui.kafka", "deliverytui.dedup", "deliverytui.demo", "deliverytui.model"]

PROBE = """
import importlib, pkgutil, sys
roots = {roots!r}
for root in roots:
    package = importlib.import_module(root)
    for info in pkgutil.walk_packages(package.__path__, prefix=root + "."):
        importlib.import_module(info.name)
import deliverytui.cli, deliverytui.errors, deliverytui.cli.output
loaded = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
print("LOADED:" + ",".join(loaded))
"""


def test_non_ui_packages_never_import_textual() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(roots=NON_UI_PACKAGES)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "LOADED:", result.stdout
