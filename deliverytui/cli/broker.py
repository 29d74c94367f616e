"""``deliverytui broker ACTION``: the embedded Apache Kafka broker, one node or N (:mod:`deliverytui.broker`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deliverytui.cli.output import print_json, progress
from deliverytui.errors import ExitCode, UsageError, UserFacingError

#: The actions of ``broker`` (its positional argument).
ACTIONS = ("start", "stop", "status", "info", "fetch", "kill", "restart")


def _broker_dir(args: argparse.Namespace) -> Path:
    """``--data-dir``, else the default single broker's dir, or the default cluster's for a cluster action."""
    from deliverytui.broker.paths import default_cluster_dir, default_data_dir
    from deliverytui.broker.state import STATE_FILE, is_cluster_dir

    if args.data_dir:
        return Path(args.data_dir)
    if (args.nodes or 1) > 1 or args.node is not None:
        return default_cluster_dir()
    single = default_data_dir()
    if args.action in ("status", "stop", "info") and not (single / STATE_FILE).exists() and is_cluster_dir(default_cluster_dir()):
        return default_cluster_dir()
    return single


def run(args: argparse.Namespace) -> int:
    """``broker ACTION``: one embedded broker of one node or N (see :mod:`deliverytui.broker.embedded`)."""
    from deliverytui.broker.distribution import resolve_distribution
    from deliverytui.broker.embedded import MAX_NODES, EmbeddedBroker
    from deliverytui.broker.state import is_cluster_dir

    if args.nodes is not None and not 1 <= args.nodes <= MAX_NODES:
        raise UsageError(f"--nodes must be between 1 and {MAX_NODES}, got {args.nodes}")
    if args.action in ("kill", "restart") and args.node is None:
        raise UsageError(f"'broker {args.action}' needs --node N (a node of a cluster started with --nodes)")
    if args.node is not None and args.action not in ("kill", "restart"):
        raise UsageError(f"--node applies to 'broker kill' and 'broker restart', not to 'broker {args.action}'")
    data_dir = _broker_dir(args)
    if args.action == "fetch":
        from deliverytui.broker.admin_helper import build_admin_helper
        from deliverytui.broker.probe_jar import build_probe_jar

        dist = resolve_distribution(progress=progress)
        helper = build_admin_helper(dist, progress=progress)
        probe_jar = build_probe_jar(dist, progress=progress)
        if args.json:
            print_json({"kafka_version": dist.kafka_version, "libs_dir": str(dist.libs_dir), "source": dist.source,
                        "admin_helper": str(helper), "probe_jar": str(probe_jar)})
        else:
            print(f"Apache Kafka {dist.kafka_version} jars ready in {dist.libs_dir} ({dist.source}); "
                  f"Java admin helper ready in {helper.parent}; JVM consumers' probe jar: {probe_jar}")
        return 0
    broker = EmbeddedBroker(data_dir)
    cluster = is_cluster_dir(data_dir) or (args.action == "start" and (args.nodes or 1) > 1 and broker.node_count == 0)
    if cluster and args.port is not None:
        raise UsageError("--port applies to a single-node broker; a cluster's nodes take free ports, recorded in cluster.json")
    if args.action == "start":
        info, started = broker.start(args.nodes, port=args.port, progress=progress, security=args.security)
        if args.json:
            print_json({**info.to_json(), "started": started})
        elif "node_count" in info.extra:
            if started:
                print(
                    f"Apache Kafka {info.kafka_version}: {info.extra['node_count']}-node cluster running at {info.bootstrap} "
                    f"(replication factor {info.extra['replication_factor']}, min.insync.replicas "
                    f"{info.extra['min_insync_replicas']}, data dir {info.data_dir})"
                )
            else:
                print(f"the {info.extra['node_count']}-node cluster is already running at {info.bootstrap} (data dir {info.data_dir}); reusing it")
        elif started:
            print(f"Apache Kafka {info.kafka_version} started at {info.bootstrap} (pid {info.pid}, data dir {info.data_dir})")
        else:
            print(f"Apache Kafka is already running at {info.bootstrap} (pid {info.pid}, data dir {info.data_dir}); reusing it")
        if not args.json:
            for user, path in (info.extra.get("client_configs") or {}).items():  # --security sasl
                print(f"  SASL principal {user}: --config {path}")
        return 0
    if args.action == "stop":
        stopped = broker.stop()
        what = ("the cluster", "no node was running") if cluster else ("the broker", "no broker was running")
        if args.json:
            print_json({"stopped": stopped, "data_dir": str(broker.data_dir)})
        else:
            print(f"stopped {what[0]} in {broker.data_dir}" if stopped else f"{what[1]} in {broker.data_dir}")
        return 0
    if args.action == "kill":
        broker.check_node(args.node)
        killed = broker.kill(args.node)
        if args.json:
            print_json({"node": args.node, "killed": killed, "data_dir": str(broker.data_dir)})
        else:
            print(f"killed node {args.node} (SIGKILL)" if killed else f"node {args.node} was not running")
        return 0
    if args.action == "restart":
        broker.check_node(args.node)
        result = broker.restart(args.node, progress=progress)
        if args.json:
            print_json({**result, "data_dir": str(broker.data_dir)})
        else:
            print(f"node {args.node} {'restarted' if result['was_running'] else 'started'} at {result['bootstrap']} (pid {result['pid']})"
                  + ("; back in the ISR of every partition it replicates" if result["in_sync"] else ""))
        if not result["in_sync"]:
            lagging = result["out_of_sync_partitions"]
            print(f"deliverytui: warning: node {args.node} answers but is not yet in the ISR of {len(lagging)} partition(s), "
                  f"e.g. {', '.join(lagging[:3])}", file=sys.stderr)
        return 0
    info = broker.info()
    if args.action == "status":
        return _broker_status(args, broker, info)
    # info
    if info is None:
        what = "cluster" if cluster else "broker"
        hint = " --nodes 3" if cluster else ""
        raise UserFacingError(
            f"no embedded {what} was ever started in {broker.data_dir}; run 'deliverytui broker start{hint}'",
            exit_code=ExitCode.BROKER_NOT_RUNNING,
        )
    if args.json:
        print_json(info.to_json())
        return 0
    for key, value in info.to_json().items():
        if key == "nodes":
            for node in value:
                state = f"pid {node['pid']}" if node["running"] else "down"
                print(f"{'node ' + str(node['id']):>14}: {node['bootstrap']} ({state}, {node['data_dir']})")
        elif isinstance(value, dict):  # client_configs of a secured broker: one line each
            for sub_key, sub_value in value.items():
                print(f"{sub_key + ' config':>14}: {sub_value}")
        elif isinstance(value, list):  # authorizer_logs of a secured cluster: one line per node
            for i, item in enumerate(value):
                print(f"{key if i == 0 else '':>14}: {item}")
        else:
            print(f"{key:>14}: {value}")
    return 0


def _broker_status(args: argparse.Namespace, broker, info) -> int:
    """``broker status``: 0 when every node runs, BROKER_NOT_RUNNING when none does, NODES_DOWN in between."""
    running = bool(info and info.running)
    nodes = info.extra.get("node_count") if info else None
    if args.json:
        print_json(info.to_json() if info else {"running": False, "data_dir": str(broker.data_dir)})
    elif running and nodes is not None:
        missing = [str(n["id"]) for n in info.extra["nodes"] if not n["running"]]
        down = f"; node(s) {', '.join(missing)} down" if missing else ""
        print(
            f"running at {info.bootstrap} ({info.extra['nodes_running']}/{nodes} nodes{down}, "
            f"Kafka {info.kafka_version}, data dir {info.data_dir})"
        )
    elif running:
        print(f"running at {info.bootstrap} (pid {info.pid}, Kafka {info.kafka_version}, data dir {info.data_dir})")
    else:
        print(f"not running (data dir {broker.data_dir})")
    if not running:
        return ExitCode.BROKER_NOT_RUNNING
    return ExitCode.OK if nodes is None or info.extra["nodes_running"] == nodes else ExitCode.NODES_DOWN



def probe_jar(args: argparse.Namespace) -> int:
    """``probe-jar``: the path of the JVM consumers' probe jar (built with Maven first if needed), alone on stdout,
    so ``java -cp "$(deliverytui probe-jar):..."`` works; progress goes to stderr."""
    from deliverytui.broker.probe_jar import INTERCEPTOR_CLASS, build_probe_jar

    jar = build_probe_jar(progress=progress)
    if args.json:
        print_json({"jar": str(jar), "interceptor_class": INTERCEPTOR_CLASS})
    else:
        print(jar)
    return 0
