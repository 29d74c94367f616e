"""The fleet collector in a child process, for the same reason as the group view's (:mod:`deliverytui.kafka.isolated`).

A fleet refresh sends DescribeConsumerGroups and ListConsumerGroupOffsets to every coordinator of
the cluster, exactly the coordinator-bound requests whose lost connection can make librdkafka abort
the whole process (librdkafka #4605, #3663): the fleet view must survive a broker restart as the
group view does. The child is the group view's own (it serves op ``fleet`` with a
:class:`~deliverytui.kafka.fleet_collector.FleetCollector`), so the protocol, the config on stdin
and the restart on the next refresh after a crash are shared, not copied.
"""

from __future__ import annotations

from deliverytui.kafka.fleet_collector import reading_from_wire
from deliverytui.kafka.isolated import IsolatedGroupInspector
from deliverytui.model.fleet import FleetReading


class IsolatedFleetCollector(IsolatedGroupInspector):
    """``read()`` and ``close()`` as :class:`FleetCollector`'s, answered by a child process.

    A child that dies mid-refresh raises :class:`~deliverytui.errors.ClusterUnreachableError` (the
    screen's banner and backoff), and the next ``read()`` starts a fresh one.
    """

    def read(self) -> FleetReading:
        return reading_from_wire(self._call({"op": "fleet"}))

    @property
    def child_pid(self) -> int | None:
        """The running child's pid (benchmarks/fleet.py reads its CPU and RSS), or None when none runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None
