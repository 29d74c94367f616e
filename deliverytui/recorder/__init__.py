"""The flight recorder (issue #16): every poll of a group, kept in a SQLite file for replay after an incident.

:mod:`.store` is the file format (deltas against the previous frame, periodic full keyframes);
:mod:`.session` turns polls into frames (the live view's ``--record`` and the headless ``record``);
:mod:`.alerts` runs the ``--alert`` hook. Nothing here imports Textual or :mod:`deliverytui.tui`.
"""
