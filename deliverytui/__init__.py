"""deliverytui: see how a Kafka consumer group really delivers.

The package is layered so that data flows one way: cluster and stores are read by
collectors (``deliverytui.kafka``, ``deliverytui.dedup``), which return immutable
snapshots (``deliverytui.model``), which screens (``deliverytui.tui``) render.
Only ``deliverytui.tui`` and ``deliverytui.cli`` may import Textual.
"""

__version__ = "0.1.0"
