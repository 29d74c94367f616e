"""``python -m deliverytui.demo.consumer ...``: what the supervisor and the benchmarks start.

Guarded, because tools that walk the package (the import-hygiene test) import this module too.
"""

from __future__ import annotations

from deliverytui.demo.consumer.command import main

if __name__ == "__main__":
    raise SystemExit(main())
