"""``deliverytui --group G``: launch the live view (Textual is imported only when it starts)."""

from __future__ import annotations

import argparse

from deliverytui.cli.connection import resolve_connection
from deliverytui.cli.store_options import store_url
from deliverytui.errors import UsageError


def cluster_named(args: argparse.Namespace) -> bool:
    """Whether a cluster was given some way (flag, config, environment, a running embedded broker):
    bare ``deliverytui`` then opens the fleet of that cluster; without one, ``main`` prints the help."""
    import os

    from deliverytui.broker.state import running_bootstrap

    return bool(args.bootstrap or args.config or os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or running_bootstrap())


def run(args: argparse.Namespace) -> int:
    """``deliverytui --group G`` (the group's live view) or ``deliverytui`` with a cluster (the fleet of every group)."""
    config = viewer_config(args)  # a bad --config is one line before Textual is even imported
    from deliverytui.tui.app import DeliveryApp  # Textual is imported only here

    if config.client_config:
        from deliverytui.kafka.group_inspector import GroupInspector

        # A config librdkafka rejects (unknown key, bad value) is one line before the screen opens
        # (the app itself would show it as a banner, for a config that breaks later).
        GroupInspector(config.bootstrap, config.client_config, request_timeout=config.request_timeout)
    if config.record_path:
        from deliverytui.cli.record import check_live_recording

        if not config.group:
            raise UsageError("--record needs --group: a recording is of one group")
        check_live_recording(config.record_path, config.group, config.bootstrap, config.client_config,
                             config.refresh_seconds, config.request_timeout)
    DeliveryApp(config).run()
    return 0


def viewer_config(args: argparse.Namespace):
    """The live view's ViewerConfig for ``deliverytui --group G ...`` (tests build the app from it)."""
    from deliverytui.tui.viewer_config import ViewerConfig

    connection = resolve_connection(args)
    return ViewerConfig(
        bootstrap=connection.bootstrap,
        group=args.group or "",  # "": no group yet, the app opens the fleet
        client_config=connection.config or {},
        refresh_seconds=args.refresh,  # at least MIN_REFRESH_SECONDS: the parser's type checks it
        request_timeout=connection.timeout,
        dedup_url=store_url(args.dedup, args.dedup_file, "dedup"),
        dedup_prefix=args.dedup_prefix,
        allow_writes=args.allow_writes,
        probe_topic=args.probe_topic,
        record_path=args.record,
        theme=args.theme,
    )
