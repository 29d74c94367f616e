"""The teaching lab: task-events producer, one demo consumer per delivery semantic, ledger, auditor.

Not built yet (issue: demo lab).
"""
