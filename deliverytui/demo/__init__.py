"""The teaching lab: one real consumer process per delivery semantic, crashes on demand, and an audit.

``semantics`` (the seven consumers and their crash points), ``consumer`` (the process),
``supervisor`` (start/kill/crash/restart/replay), ``ledger`` (ground truth of sends,
effects and crashes), ``auditor`` (lost/duplicate/unexpected), ``producer_loop`` and
``task_api`` (the Task API producer), ``headless`` (one crash experiment without a
screen). Nothing here imports Textual; the lab's screen lives in ``deliverytui.tui``.
"""
