"""The live view's side of share groups: find out that the watched group is one, open its screen, close it.

Kept out of :mod:`deliverytui.tui.app` (at its size limit) as a mixin of :class:`DeliveryApp`. The
app owns one :class:`~deliverytui.kafka.share_collector.ShareGroupCollector` for the session (one
Java admin helper, started on the first share-group question and stopped on quit); the
:class:`~deliverytui.tui.screens.share_group.ShareGroupScreen` only borrows it.

How a share group is recognised: the consumer-group collector answers :class:`UnknownGroupError`
for it (ListConsumerGroups and DescribeConsumerGroups do not see share groups), and the poll worker
then asks the share collector whether a share group has that id. A group picked in the picker goes
the same way, so there is one path whether the id came from ``--group`` or from ``g``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from textual.app import SystemCommand
from textual.screen import Screen

from deliverytui.model import GroupListing
from deliverytui.model.text import shown_name
from deliverytui.tui.messages import ShareGroupFound
from deliverytui.tui.screens.share_group import ShareGroupScreen

if TYPE_CHECKING:
    from deliverytui.kafka.share_collector import ShareGroupCollector

#: App actions of the consumer-group view that mean nothing on a share group (they would act on the
#: hidden consumer-group table); the share screen's own bindings cover the rest.
_CONSUMER_GROUP_ONLY_ACTIONS = frozenset(
    {"filter", "cycle_sort", "reset_offsets", "delete_offsets", "toggle_pause", "inspect_record", "skip_record"}
)


class ShareViewHost:
    """Mixed into the app: ``shares`` is the session's collector, ``share_screen`` the open share view or None."""

    #: False where every watched group is a consumer group (the lab): no Java helper is ever started.
    WATCHES_SHARE_GROUPS = True
    shares: ShareGroupCollector
    share_screen: ShareGroupScreen | None = None

    def share_group_found(self, group: str) -> bool:
        """Called by the poll worker when no consumer group ``group`` exists: True (and the app is told)
        when a share group has that id."""
        app: Any = self
        if not self.WATCHES_SHARE_GROUPS or app.closing or not self.shares.is_share_group(group):
            return False
        app.post_message(ShareGroupFound(group))
        return True

    def unknown_group_text(self, text: str) -> str:
        """The consumer-group collector's "no such group", plus why share groups could not be asked, if so."""
        reason = self.shares.last_error if self.WATCHES_SHARE_GROUPS else None
        return f"{text} (whether it is a share group could not be checked: {reason})" if reason else text

    def on_share_group_found(self, message: ShareGroupFound) -> None:
        app: Any = self
        if app.closing or message.group != app.group or self.share_screen is not None:
            return
        self.open_share_view(message.group)

    def open_share_view(self, group: str) -> None:
        """Show share group ``group``'s view over the consumer-group view (the lab's ``w`` on the queue
        row opens it directly: it knows the group's type)."""
        app: Any = self
        app._banner.clear_problem()
        app._event_log.add(f"{shown_name(group)} is a share group: showing the share-group view", "bold")
        self.share_screen = ShareGroupScreen(app.config, group, self.shares, clock=app.clock)
        app.push_screen(self.share_screen)

    def close_share_view(self) -> None:
        """Leave the share view (switching to another group): its polls stop, the collector stays for the session."""
        screen, self.share_screen = self.share_screen, None
        if screen is None:
            return
        screen.stop_polling()
        app: Any = self
        if screen in app.screen_stack:
            while app.screen is not screen:
                app.pop_screen()
            app.pop_screen()

    def with_share_groups(self, listed: list[GroupListing]) -> list[GroupListing]:
        """The picker's list: consumer and classic groups plus the share groups (type ``share``), by id.

        Without a working helper (no Java, a cluster without share groups) the others are still listed."""
        if not self.WATCHES_SHARE_GROUPS:
            return listed
        try:
            shared = self.shares.list_share_groups()
        except Exception:  # noqa: BLE001 - listing the other groups is still worth it
            return listed
        share_ids = {listing.group_id for listing in shared}  # listed once, as what it is, whatever librdkafka saw
        return sorted([*(g for g in listed if g.group_id not in share_ids), *shared], key=lambda listing: listing.group_id)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.share_screen is not None and action in _CONSUMER_GROUP_ONLY_ACTIONS:
            return False
        return super().check_action(action, parameters)  # type: ignore[misc] - App's, next in the MRO

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette: the share view's own actions over it, the consumer-group view's otherwise."""
        app: Any = self
        yield from super().get_system_commands(screen)  # type: ignore[misc] - App's, next in the MRO
        if isinstance(screen, ShareGroupScreen):
            yield SystemCommand("Help", "Keys, start offset and share lag", screen.action_help)
            yield SystemCommand("Pause / resume", "Freeze or resume refreshing", screen.action_toggle_pause)
            yield SystemCommand("Switch group", "Pick another group (consumer, classic or share)", app.action_pick_group)
            return
        yield SystemCommand("Help", "Keys and colours", app.action_help)
        yield SystemCommand("Pause / resume", "Freeze or resume refreshing", app.action_toggle_pause)
        yield SystemCommand("Filter by topic", "Show only partitions of matching topics", app.action_filter)
        yield SystemCommand("Sort", "Sort by lag, by partition or by estimated time lag", app.action_cycle_sort)
        yield SystemCommand("Switch group", "Pick another group (consumer, classic or share)", app.action_pick_group)
        yield SystemCommand("Reset offsets", "Dry-run first; needs --allow-writes", app.action_reset_offsets)
        yield SystemCommand("Delete offsets", "Drop a topic's committed offsets; needs --allow-writes", app.action_delete_offsets)

    def close_shares(self) -> None:
        if self.share_screen is not None:
            self.share_screen.stop_polling()
        self.shares.close()
