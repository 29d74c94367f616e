"""Allow ``python -m deliverytui``."""

import gc

# The command line's modules load with the collector paused (it would find nothing to free among
# them, see deliverytui.cli.forked.collector_paused); run() starts with it on again.
gc.disable()
from deliverytui.cli import run  # noqa: E402

gc.freeze()
gc.enable()
run()
