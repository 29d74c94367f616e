"""Which cluster an address leads to: its KRaft cluster id (the flight recorder's recording identity).

A recording says which cluster it describes, so that a recorder pointed at another cluster (a
bootstrap address reused, a DNS name moved) is not appended to it. DescribeCluster is a metadata
request, answered by any broker (not coordinator-bound, so safe in the calling process; see
:mod:`deliverytui.kafka.isolated` for the requests that are not).
"""

from __future__ import annotations

from collections.abc import Mapping

from deliverytui.errors import ClusterUnreachableError, one_line
from deliverytui.kafka.admin import admin_client
from deliverytui.kafka.client_config import client_config
from deliverytui.model.text import visible


def read_cluster_id(bootstrap: str, file_config: Mapping[str, str] | None = None, *, timeout: float = 10.0) -> str:
    """The cluster id the brokers at ``bootstrap`` report; ClusterUnreachableError when none answers in time."""
    admin = admin_client(client_config(bootstrap, file_config, **{"socket.connection.setup.timeout.ms": int(timeout * 1000)}))
    try:
        answer = admin.describe_cluster(request_timeout=timeout).result(timeout=timeout + 1)
    except Exception as exc:  # noqa: BLE001 - any failure is "cannot tell which cluster this is"
        error = exc.args[0] if exc.args else None
        reason = error.str() if hasattr(error, "str") else one_line(exc, first_line=True)
        raise ClusterUnreachableError(
            f"cannot reach Kafka at {bootstrap} to read its cluster id (a recording names its cluster): {reason}; "
            "check --bootstrap and that the cluster is up"
        ) from None
    return visible(str(answer.cluster_id))  # a broker says what it likes: it reaches messages and headers
