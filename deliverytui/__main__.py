"""Allow ``python -m deliverytui``."""

from deliverytui.cli import main

raise SystemExit(main())
