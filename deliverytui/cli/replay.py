"""``deliverytui replay FILE.db``: open a flight recording on the live view's screen (read-only)."""

from __future__ import annotations

import argparse
import sys

from deliverytui.model.text import visible


def run(args: argparse.Namespace) -> int:
    """Open the recording first (a missing file, not a recording, a newer format: one line, before Textual)."""
    from deliverytui.recorder.store import RecordingReader

    reader = RecordingReader(args.file)
    try:
        # The replay reads every frame once before the screen opens (outages, event lines, dedup counters).
        print(f"deliverytui: reading {len(reader.instants()):,} frame(s) of {visible(args.file)}…", file=sys.stderr)
        from deliverytui.tui.replay_app import ReplayApp  # Textual is imported only here
        from deliverytui.tui.replay_source import ReplaySource

        source = ReplaySource(reader)
    except BaseException:
        reader.close()
        raise
    ReplayApp(source, args.file).run()  # the app closes the reader when it unmounts
    return 0
