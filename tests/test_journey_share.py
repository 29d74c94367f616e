"""Journey: a person watches a share group in a real terminal (tmux), as they would on call.

``deliverytui --group <share group>`` in a tmux pane, on a share group Kafka's own console share
consumer runs: the share view appears (its header says share group, the consumer's client id owns
the partitions); ``?`` opens the help with the start offset and share lag lines and Esc closes it;
``g`` opens the picker, which lists the share group with its type; a classic group is picked and its
view appears; ``g`` again and the share group is picked back; ``q`` quits. Then the same command
again, the same view, ``q``. After each quit the Java admin helper the view started is gone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from deliverytui.broker.admin_helper import MAIN_CLASS
from deliverytui.broker.distribution import KafkaDistribution
from tests.helpers import REPO_ROOT, run_cli, wait_for
from tests.kafka_helpers import commit, create_topic, produce
from tests.process_tree import cmdline, descendants
from tests.share_helpers import console_share_consumer, set_group_config, wait_for_members

pytestmark = pytest.mark.kafka


def pane(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


def keys(session: str, *names: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", session, *names], check=True)


def alive(session: str) -> bool:
    return subprocess.run(["tmux", "has-session", "-t", session], capture_output=True).returncode == 0


def helper_pids(session: str) -> list[int]:
    """The Java admin helpers below the pane's process (the deliverytui the person started)."""
    found = subprocess.run(["tmux", "display", "-p", "-t", session, "#{pane_pid}"], capture_output=True, text=True)
    if found.returncode != 0 or not found.stdout.strip():
        return []
    return [pid for pid in descendants(int(found.stdout)) if MAIN_CLASS in cmdline(pid)]


def start(session: str, bootstrap: str, group: str, out: Path) -> None:
    """The sleep lets tmux size the pane (200x50) before the app reads its size, as in test_hostile_names.
    The exit status goes to ``out / "rc"``: a quit is exit 0 (an unhandled error in the app exits 1). Textual
    draws on stderr, so that stays the pane's."""
    (out / "rc").unlink(missing_ok=True)  # each run writes its own
    command = (
        f"sleep 1; cd {REPO_ROOT} && {sys.executable} -m deliverytui --group {group} "
        f"--bootstrap {bootstrap} --refresh 0.5 --timeout 10; echo $? > {out / 'rc'}"
    )
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "50", "-e", f"PYTHONPATH={REPO_ROOT}", command],
        check=True,
    )


def sees_share_view(session: str, group: str, client: str) -> None:
    wait_for(lambda: f"share group {group}" in pane(session) and "Share lag" in pane(session), 120, "the share view")
    wait_for(lambda: client in pane(session) and "type share" in pane(session), 60, "the owner's client id and the type")
    assert "Start offset" in pane(session) and "Status" in pane(session)


def quits(session: str, helpers: list[int], out: Path) -> None:
    keys(session, "q")
    wait_for(lambda: not alive(session), 30, "deliverytui to exit on q")
    wait_for(lambda: not any(MAIN_CLASS in cmdline(pid) for pid in helpers), 15, "the Java admin helper to exit")
    assert (out / "rc").read_text().strip() == "0"


def picker_row(bootstrap: str, group: str) -> int:
    """Where the picker lists ``group``: it sorts every group by id, as ``groups --json`` lists them (a full
    session's broker holds other tests' groups, some named to sort first)."""
    listed = run_cli("groups", "--bootstrap", bootstrap, "--json")
    assert listed.returncode == 0, listed.stderr
    return sorted(g["group"] for g in json.loads(listed.stdout)).index(group)


def test_journey_share_group_in_a_terminal(
    bootstrap: str, kafka_distribution: KafkaDistribution, unique: str, tmp_path: Path
) -> None:
    classic, share = f"0000-classic-{unique}", f"0001-share-{unique}"
    topic, client = f"journey-share-{unique}", f"journey-{unique}"
    create_topic(bootstrap, topic, 2)
    produce(bootstrap, topic, {0: 5, 1: 5})
    commit(bootstrap, classic, {(topic, 0): 2, (topic, 1): 5})
    set_group_config(kafka_distribution, bootstrap, share, share_auto_offset_reset="earliest")
    session = f"journey-share-{uuid.uuid4().hex[:8]}"
    with console_share_consumer(kafka_distribution, bootstrap, topic, share, client_id=client):
        wait_for_members(kafka_distribution, bootstrap, share, 1)
        try:
            start(session, bootstrap, share, tmp_path)
            sees_share_view(session, share, client)
            helpers = helper_pids(session)
            assert len(helpers) == 1, f"one Java admin helper for the session: {helpers}"

            keys(session, "?")
            wait_for(lambda: "Keys (share group)" in pane(session), 30, "the help")
            text = pane(session)
            assert "share-partition start offset" in text and "not acknowledged yet" in text
            keys(session, "Escape")
            wait_for(lambda: "Keys (share group)" not in pane(session), 30, "the help to close")

            keys(session, "G")
            wait_for(lambda: "Switch group" in pane(session) and classic in pane(session), 60, "the picker")
            keys(session, "Home", *["Down"] * picker_row(bootstrap, classic), "Enter")
            wait_for(lambda: "Committed" in pane(session) and f"group {classic}" in pane(session), 60, "the classic group")
            assert "share group" not in pane(session).splitlines()[0]

            keys(session, "G")
            wait_for(lambda: "Switch group" in pane(session) and share in pane(session), 60, "the picker again")
            keys(session, "Home", *["Down"] * picker_row(bootstrap, share), "Enter")
            sees_share_view(session, share, client)
            assert helper_pids(session) == helpers, "switching kept the session's one helper"
            quits(session, helpers, tmp_path)

            start(session, bootstrap, share, tmp_path)
            sees_share_view(session, share, client)
            helpers = helper_pids(session)
            assert len(helpers) == 1
            quits(session, helpers, tmp_path)
        finally:
            if alive(session):
                print(pane(session))
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
