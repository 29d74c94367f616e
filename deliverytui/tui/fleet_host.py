"""The live view's side of the fleet: open it (``g``, Esc, or at start without ``--group``), and act on its choice.

Kept out of :mod:`deliverytui.tui.app` (at its size limit) as a mixin of :class:`DeliveryApp`, like
:mod:`~deliverytui.tui.share_host`. The fleet screen is installed once per session, so its tracker
keeps each group's history (status windows, time-lag samples, drain rates) across visits: leaving
for a group's view and coming back resumes it instead of starting every estimate over. While the
fleet is in front the group view does not poll (the group it would poll is hidden), and the fleet
polls only while it is in front.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from textual.app import SystemCommand
from textual.screen import Screen

from deliverytui.kafka.fleet_collector import share_readings
from deliverytui.kafka.isolated_fleet import IsolatedFleetCollector
from deliverytui.model.text import shown_name
from deliverytui.tui.screens.fleet import FleetScreen

#: The group view's actions that mean nothing while the fleet is in front (they would act on the hidden group).
#: ``lab`` too (the demo's ``d``): the lab pushed over the fleet would leave the fleet in front of the group its ``w`` opens.
_GROUP_VIEW_ACTIONS = frozenset(
    {"toggle_pause", "filter", "cycle_sort", "pick_group", "open_fleet", "reset_offsets", "delete_offsets", "lab"}
)
FLEET_SCREEN_NAME = "fleet"


class FleetViewHost:
    """Mixed into the app; ``fleet_screen`` is the session's fleet screen once opened."""

    fleet_screen: FleetScreen | None = None

    def make_fleet_collector(self, cancel: threading.Event) -> Any:
        """The fleet's Kafka client: in a child process, as the group view's (tests may override it)."""
        app: Any = self
        config = app.config
        return IsolatedFleetCollector(
            config.bootstrap, config.client_config, request_timeout=config.request_timeout, cancel_event=cancel
        )

    @property
    def fleet_in_front(self) -> bool:
        app: Any = self
        return self.fleet_screen is not None and self.fleet_screen in app.screen_stack

    def action_open_fleet(self) -> None:
        """Show every group (``g`` in the group view; at start when no ``--group`` was given)."""
        app: Any = self
        if self.fleet_in_front:
            return
        if self.fleet_screen is None:
            shares = getattr(self, "shares", None) if getattr(self, "WATCHES_SHARE_GROUPS", False) else None
            self.fleet_screen = FleetScreen(
                app.config.bootstrap,
                self.make_fleet_collector,
                refresh_seconds=app.config.refresh_seconds,
                max_backoff_seconds=app.config.max_backoff_seconds,
                list_share_groups=shares.list_share_groups if shares is not None else None,
                share_readings=share_readings,
                clock=app.clock,
            )
            app.install_screen(self.fleet_screen, name=FLEET_SCREEN_NAME)
        self.fleet_screen.can_go_back = bool(app.group)  # with no group chosen yet there is nothing behind it
        app.title = "deliverytui — fleet"
        app.push_screen(FLEET_SCREEN_NAME, callback=self.fleet_closed)

    def fleet_closed(self, group: str | None) -> None:
        """The fleet's answer: a group to open (Enter), or None (Esc: back to the group shown before)."""
        app: Any = self
        if app.closing:
            return
        # The cursor keys must move the partitions' cursor at once (found on the on-call journey: after
        # Enter from a fleet shown first, the event log had the focus and Down did nothing visible).
        app.query_one("#partitions").focus()
        if group is None or group == app.group:
            app.title = f"deliverytui — {shown_name(app.group)}"
            app.poll_now()  # the group view did not poll while hidden: bring it up to date at once
            return
        app.notify(f"opening {shown_name(group)}", timeout=2)
        app.switch_group(group)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        app: Any = self
        if action in _GROUP_VIEW_ACTIONS and self.fleet_screen is not None and app.screen is self.fleet_screen:
            return False
        return super().check_action(action, parameters)  # type: ignore[misc] - the next host's, then App's

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette offers the fleet from every view but the fleet itself."""
        yield from super().get_system_commands(screen)  # type: ignore[misc] - the next host's, then App's
        if not isinstance(screen, FleetScreen):
            yield SystemCommand("Fleet", "Every group of the cluster, worst first", self.action_open_fleet)

    def close_fleet(self) -> None:
        if self.fleet_screen is not None:
            self.fleet_screen.stop_polling()
