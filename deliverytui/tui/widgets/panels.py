"""Small read-only panels: header, connection banner, members, event log, dedup, lag sparklines."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime

from rich.table import Table
from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Label, RichLog, Static

from deliverytui.lag.drain import format_duration
from deliverytui.model import GroupSnapshot
from deliverytui.model.text import shown_name, visible
from deliverytui.tui.widgets.lag_spark import LagSpark


class GroupHeader(Static):
    """Cluster, group, state, protocol, coordinator, members, total lag, status and age of the data."""

    DEFAULT_CSS = """
    GroupHeader { height: 2; padding: 0 1; background: $panel; }
    """

    _shown_text: Text | None = None
    #: The flight recorder is writing (``--record``): the header shows "● REC".
    recording = False

    def show_update(
        self, bootstrap: str, group: str, update, *, stale: bool, paused: bool, now: datetime | None,
        mode: str | None = None,
    ) -> None:
        """The header for a :class:`~deliverytui.tui.fetch.ViewUpdate` (None: no snapshot yet), as the live view
        and its replay both show it."""
        self.show(
            bootstrap, group, update.snapshot if update else None, stale=stale, paused=paused,
            group_status=update.group_status if update else None, now=now,
            total_lag=update.total_lag if update else None, replication=update.replication if update else None,
            drain=update.group_drain if update else None, mode=mode,
        )

    def show(
        self,
        bootstrap: str,
        group: str,
        snapshot: GroupSnapshot | None,
        *,
        stale: bool,
        paused: bool,
        group_status: str | None = None,
        now: datetime | None = None,
        total_lag: int | None = None,
        replication: tuple[str, str] | None = None,
        drain=None,
        mode: str | None = None,
    ) -> None:
        """``total_lag``: the snapshot's, when the caller already summed it (5,000 rows).

        ``mode``: a word shown first in reverse video (``REPLAY of FILE``), so a recording is never taken for live.

        ``replication``: ``(text, style)`` summary on a multi-node cluster (leaders, ISRs), else None.
        ``drain``: the group's :class:`~deliverytui.lag.drain.DrainEstimate` (``None`` until two samples).
        """
        line1 = Text()
        if mode:
            line1.append(f" {mode} ", "bold reverse blue")
            line1.append(" ")
        line1.append("deliverytui ", "bold")
        line1.append(f"cluster {bootstrap}  ", "")
        line1.append("group ", "dim")
        line1.append(shown_name(group), "bold cyan")  # the exact id may be long, or hold control characters
        if paused:
            line1.append("  PAUSED", "bold reverse yellow")
        if stale:
            line1.append("  STALE", "bold reverse red")
        if self.recording:
            line1.append("  ● REC", "bold red")
        line2 = Text()
        if snapshot is None:
            line2.append("waiting for the first snapshot…", "dim")
        else:
            age = ((now or datetime.now(UTC)) - snapshot.taken_at).total_seconds()
            coordinator = f"{snapshot.coordinator.host}:{snapshot.coordinator.port}" if snapshot.coordinator else "-"
            parts = [
                ("state ", snapshot.state),
                ("protocol ", snapshot.protocol),
                ("coordinator ", coordinator),
                ("members ", str(len(snapshot.members))),
                ("partitions ", str(len(snapshot.partitions))),
                ("total lag ", f"{snapshot.total_lag if total_lag is None else total_lag:,}"),
            ]
            if group_status:
                parts.append(("status ", group_status))
            parts.append(("drain ", drain_phrase(drain)))
            parts.append(("data age ", f"{max(0.0, age):.0f}s"))
            for label, value in parts:
                line2.append(label, "dim")
                style = "bold"
                if label == "status " and value != "OK":
                    style = "bold red"
                elif label == "drain ":
                    style = drain_style(drain)
                line2.append(value + "  ", style)
            if replication is not None:
                line2.append("replication ", "dim")
                line2.append(replication[0] + "  ", replication[1])
        text = Text("\n").join([line1, line2])
        if text != self._shown_text:
            self._shown_text = text
            self.update(text, layout=False)  # a fixed height: no layout pass every second


def drain_phrase(drain) -> str:
    """``caught up`` / ``ETA 42 s`` / ``falling behind +12.0/s``; ``measuring…`` before two samples."""
    if drain is None:
        return "measuring…"
    if drain.lag > 0 and drain.eta_s is not None:
        return "ETA <1 s" if drain.eta_s < 1 else f"ETA {format_duration(drain.eta_s)}"
    return drain.describe()


def drain_style(drain) -> str:
    if drain is None:
        return "dim"
    return "bold red" if drain.falling_behind else "bold"


class ConnectionBanner(Static):
    """A visible warning while the cluster cannot be read; hidden otherwise."""

    DEFAULT_CSS = """
    ConnectionBanner { height: auto; padding: 0 1; background: $error; color: $text; display: none; }
    ConnectionBanner.-visible { display: block; }
    """

    def show_problem(self, text: str) -> None:
        self.update(Text(visible(text), style="bold"))  # visible(): errors may quote a broker's or a store's text
        self.add_class("-visible")

    def clear_problem(self) -> None:
        self.remove_class("-visible")


class MembersPanel(Static):
    """Member → partitions, client id, host."""

    _shown_key: object = ()

    def show(self, snapshot: GroupSnapshot | None) -> None:
        # Unchanged membership (the usual poll) skips the update and the layout pass it costs.
        key = None if snapshot is None else (snapshot.state, snapshot.members)
        if key == self._shown_key:
            return
        self._shown_key = key
        if snapshot is None:
            self.update(Text("members: -", style="dim"))
            return
        if not snapshot.members:
            self.update(Text(f"no active members ({snapshot.state})", style="dim"))
            return
        table = Table(box=None, show_header=True, header_style="bold", expand=True, pad_edge=False)
        table.add_column("client / host", ratio=2, overflow="ellipsis", no_wrap=True)
        table.add_column("partitions", ratio=3, overflow="fold")
        for member in snapshot.members:
            by_topic: dict[str, list[int]] = {}
            for tp in member.assignment:
                by_topic.setdefault(tp.topic, []).append(tp.partition)
            assigned = "; ".join(f"{t}:{','.join(map(str, ps))}" for t, ps in sorted(by_topic.items())) or "-"
            table.add_row(Text(f"{member.client_id}@{member.host}"), Text(assigned))  # Text: names are not markup
        self.update(table)


#: How many folded event lines the log keeps expandable (each holds up to every partition of a group).
FOLDED_REMEMBERED = 20


class EventLog(RichLog):
    """Timestamped events: rebalances, resets seen, status changes, connection loss and recovery."""

    DEFAULT_CSS = """
    EventLog { height: 8; border-top: solid $primary; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(max_lines=500, wrap=False, markup=False, **kwargs)
        self.entries: list[str] = []  # plain text, newest last (tests and the headless log read it)
        #: ``(text, style)`` of the lines added since the flight recorder last took them (at most 500).
        self.unrecorded: list[tuple[str, str]] = []
        self._folded: deque[tuple[str, tuple[str, ...]]] = deque(maxlen=FOLDED_REMEMBERED)
        self.clock = lambda: datetime.now(UTC)

    def add(self, text: str, style: str = "", at: datetime | None = None, details: tuple[str, ...] = ()) -> None:
        """Log ``text``; ``details`` (a folded flood's partitions) are kept for :meth:`folded` to expand."""
        stamp = (at or self.clock()).astimezone().strftime("%H:%M:%S")
        text = visible(text)  # lines from the model are visible already; error texts quoted here may not be
        self.entries.append(f"{stamp} {text}")
        del self.entries[:-500]
        self.unrecorded.append((text, style))
        del self.unrecorded[:-500]
        line = Text(f"{stamp} ", style="dim")
        line.append(text, style)
        if details:
            self._folded.append((f"{stamp} {text}", tuple(visible(key) for key in details)))
            line.append("  (e: all)", "dim")
        self.write(line)

    def folded(self) -> list[tuple[str, tuple[str, ...]]]:
        """The folded lines still remembered (newest last), each with every partition it stands for."""
        return list(self._folded)


class DedupPanel(Static):
    """Live dedup hits/misses/hit rate, or one line saying how to enable it."""

    def show_disabled(self) -> None:
        self.update(Text("dedup: not watched — start with --dedup redis://… | postgresql://… | sqlite:///path", style="dim"))

    def show_text(self, text: Text | str) -> None:
        self.update(text)

    def show_data(self, data, rates, key_rate: float | None) -> None:
        """Render a DedupPanelData with rates over the last minute (``rates`` may be None early on)."""
        text = Text()
        text.append(f"{data.store} ({data.backend})\n", "dim")
        if data.estimated:
            text.append("ESTIMATES ", "bold reverse yellow")
            text.append(data.note + "\n", "yellow")
        counters = data.counters
        if counters is not None:
            for label, value in (("hits", counters.hits), ("misses", counters.misses), ("retakes", counters.retakes),
                                 ("in progress", counters.in_progress), ("errors", counters.errors)):
                text.append(f"{label} ", "dim")
                text.append(f"{value:,}  ", "bold red" if label == "errors" and value else "bold")
            text.append("\n")
            if rates is None:
                text.append("last minute: measuring…\n", "dim")
            else:
                ratio = "-" if rates.hit_ratio is None else f"{rates.hit_ratio:.1%}"
                text.append("last minute ", "dim")
                text.append(f"{rates.hits_per_s:.1f} hits/s  {rates.misses_per_s:.1f} misses/s  hit rate {ratio}\n", "bold")
        if data.keys is not None:
            text.append("keys held ", "dim")
            text.append(f"{'' if data.keys.exact else '≈'}{data.keys.count:,}\n", "bold")
        if data.sample is not None:
            sample = data.sample
            text.append("keys ", "dim")
            text.append(f"{'' if sample.complete else '≈'}{sample.estimated_keys:,} under {sample.prefix!r}", "bold")
            if key_rate is not None:
                text.append(f"  ≈{key_rate:+.1f} keys/s (new deliveries, estimated)", "yellow")
            text.append("\n")
        self.update(text)


class LagSparklines(Vertical):
    """A lag sparkline for the whole group and one for the selected partition (:class:`LagSpark`:
    scaled from zero with a floor, blank without data, so its height is a lag, not a shape)."""

    DEFAULT_CSS = """
    LagSparklines { height: auto; }
    LagSparklines LagSpark { height: 2; margin-bottom: 1; }
    LagSparklines Label { color: $text-muted; width: 1fr; height: 1; }
    """

    def compose(self):
        yield Label("group lag", id="group-spark-label")
        yield LagSpark(id="group-spark")
        yield Label("selected partition lag", id="partition-spark-label")
        yield LagSpark(id="partition-spark")

    def show_update(self, update, key: str | None) -> None:
        """The group's lag and that of partition ``key`` (the selected one) in a :class:`~deliverytui.tui.fetch.ViewUpdate`."""
        self.show(
            list(update.group_lag_series), f"group lag (now {update.total_lag:,})",
            list(update.partition_lag_series.get(key, ())) if key else [], f"lag of {key}" if key else "selected partition lag",
        )

    def show(self, group_series: list[float], group_label: str, part_series: list[float], part_label: str) -> None:
        if not self.children:
            return  # being torn down (a snapshot may arrive while the app unmounts its widgets)
        for spark_id, series in (("#group-spark", group_series), ("#partition-spark", part_series)):
            self.query_one(spark_id, LagSpark).data = series
        if not group_series:
            group_label = f"{group_label}: no data yet"
        if not part_series:
            part_label = f"{part_label}: no data" + (" yet" if group_series else "")
        for label_id, text in (("#group-spark-label", group_label), ("#partition-spark-label", part_label)):
            label = self.query_one(label_id, Label)
            if getattr(label, "_shown_text", None) != text:
                label._shown_text = text  # type: ignore[attr-defined]
                label.update(text, layout=False)  # one line of a fixed width (see DEFAULT_CSS)


class SelectedPartitionPanel(Static):
    """The highlighted partition in words: committed vs position, and what the gap means after a crash."""

    _shown_text: Text | None = None

    def update(self, content="", *, layout: bool = True) -> None:  # type: ignore[override]
        """Skip an update that would show the same text (most polls, for a quiet partition)."""
        if isinstance(content, Text) and content == self._shown_text:
            return
        self._shown_text = content if isinstance(content, Text) else None
        super().update(content, layout=layout)

    def show_update(self, key: str | None, update) -> None:
        """The selected partition as the latest :class:`~deliverytui.tui.fetch.ViewUpdate` has it.

        The exact time lag and the drain were computed for the partition selected when the poll ran;
        after a cursor move they show from the next poll. The estimate is in every row, so it shows at once.
        """
        row = update.partition_rows.get(key) if key else None
        view = update.rows.get(key) if key else None
        exact = update.selected_time_lag
        drain = update.selected_drain
        self.show(
            key, row, update.lag_partitions.get(key) if key else None, update.positions.get(key) if key else None,
            update.positions_note, exact[1] if exact and exact[0] == key else None,
            estimated_time_lag=view.time_lag if view is not None and view.time_lag >= 0 else None,
            drain=drain[1] if drain and drain[0] == key else None, drain_known=bool(drain and drain[0] == key),
        )

    def show(
        self, key: str | None, row, lag_info, position, positions_note: str, time_lag: float | None = None, *,
        estimated_time_lag: float | None = None, drain=None, drain_known: bool = False,
    ) -> None:
        if key is None or row is None:
            self.update(Text(positions_note or "select a partition", style="dim"))
            return
        text = Text()
        text.append(f"{key}\n", "bold")
        text.append("committed ", "dim")
        text.append(f"{row.committed_offset if row.committed_offset is not None else '-'}")
        text.append("  log-end ", "dim")
        text.append(f"{row.log_end_offset if row.log_end_offset is not None else '-'}")
        text.append("  lag ", "dim")
        text.append(f"{row.lag if row.lag is not None else '-'}\n")
        if lag_info is not None:
            text.append("status ", "dim")
            text.append(f"{lag_info.status.value}", "bold")
            text.append(f"  (window {lag_info.window_entries} commits)\n", "dim")
        if time_lag is not None or estimated_time_lag is not None:
            # Exact: the timestamp of the record at the committed offset. Estimate: the log end's history
            # (what the table's "Time lag~" column shows), side by side so they can be compared.
            text.append("time lag ", "dim")
            text.append("-" if time_lag is None else f"{time_lag:.1f}s", "bold")
            text.append(" exact, ", "dim")
            text.append("-" if estimated_time_lag is None else f"~{estimated_time_lag:.1f}s", "bold")
            text.append(" est.\n", "dim")
        if drain_known:
            text.append("drain ", "dim")
            text.append(drain_phrase(drain), drain_style(drain))
            if drain is not None:
                text.append(
                    f"\nconsume {drain.consume_rate:,.1f}/s  produce {drain.produce_rate:,.1f}/s ({drain.window_s:.0f}s)", "dim",
                )
            text.append("\n")
        if position is not None and position.position is not None:
            gap = position.gap
            style = {"PROCESSED_NOT_COMMITTED": "bold yellow", "COMMITTED_NOT_PROCESSED": "bold red"}.get(gap.kind.name, "green")
            text.append("position ", "dim")
            text.append(f"{position.position}", style)
            text.append(f"  reported by {position.client_id}{' (stale)' if position.stale else ''}\n", "dim")
            if row.log_end_offset is not None and position.position > row.log_end_offset:
                text.append(f"(reported after the log end {row.log_end_offset} was read: the table shows it clamped, marked *)\n", "dim")
            if position.committed is not None and position.committed != row.committed_offset:
                # The gap below compares the report with the commit its reporter saw at that instant,
                # not with the committed offset above, which was read at another moment.
                text.append(f"the report saw committed {position.committed}; the group has committed "
                            f"{row.committed_offset if row.committed_offset is not None else '-'} since\n", "dim")
            if position.verified is False:
                style = "dim italic"
            text.append(position.describe_gap(), style)
        else:
            text.append(positions_note or "no position published for this partition", "dim")
        self.update(text)
