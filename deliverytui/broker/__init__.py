"""The embedded Apache Kafka broker: one implementation for one node or N.

Modules, from the bottom up: ``paths`` (default directories), ``distribution`` (the jars),
``process`` (JVMs and pids), ``state`` (what the data dir records), ``properties``
(``server.properties``), ``security`` (``--security sasl``), ``startup`` (waiting for
nodes) and ``embedded`` (:class:`~deliverytui.broker.embedded.EmbeddedBroker`, the lifecycle).
Clients of the broker live in :mod:`deliverytui.kafka`; nothing there imports this package
except :func:`deliverytui.broker.state.resolve_bootstrap`.
"""

#: The values ``--security`` accepts; ``none`` is the plain broker. Here rather than in ``security``
#: so that the CLI's parser reads it without importing confluent_kafka.
SECURITY_MODES = ("none", "sasl")
