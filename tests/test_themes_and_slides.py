"""Themes and slides (tui/slides_host.py) on a real group: ``--theme``, ``T`` cycling, ``S`` saving the screen.

The live view runs against the session broker with a real group's committed offsets; every theme
shows the same words (status is never colour alone), and the default rendering stays Textual's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deliverytui.cli import build_parser, viewer_config
from deliverytui.lag.observer import STATUS_EVENT_STYLES
from deliverytui.model.lag import LagStatus
from deliverytui.tui.app import DeliveryApp
from deliverytui.tui.rows import STATUS_STYLES
from deliverytui.tui.viewer_config import DEFAULT_THEME, THEME_NAMES
from tests.kafka_helpers import commit, create_topic, produce
from tests.tui_helpers import cell, wait_until

pytestmark = pytest.mark.kafka
STATUS_WORDS = {status.value for status in LagStatus}


def seeded_group(bootstrap: str, unique: str) -> tuple[str, str]:
    topic, group = f"slides-{unique}", f"slides-group-{unique}"
    create_topic(bootstrap, topic, 2)
    produce(bootstrap, topic, {0: 5, 1: 8})
    commit(bootstrap, group, {(topic, 0): 5, (topic, 1): 3})
    return topic, group


def live_view(bootstrap: str, group: str, *extra: str) -> DeliveryApp:
    args = build_parser().parse_args(["--bootstrap", bootstrap, "--group", group, "--refresh", "0.5", *extra])
    return DeliveryApp(viewer_config(args))


async def test_theme_option_and_T_cycle_every_theme_with_the_same_words(bootstrap: str, unique: str) -> None:
    topic, group = seeded_group(bootstrap, unique)
    app = live_view(bootstrap, group, "--theme", "ansi-light")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: cell(app, f"{topic}:1", "lag") == "5", timeout=60, what="the group's rows")
        assert app.theme == "ansi-light"
        seen = []
        for _ in THEME_NAMES:
            await pilot.press("T")
            await pilot.pause()
            seen.append(app.theme)
            # The same words under every theme: the status column says what the colour says.
            assert cell(app, f"{topic}:0", "status") in STATUS_WORDS
            assert cell(app, f"{topic}:1", "lag") == "5"
        # From the last theme T wraps to the first, then walks the list in order.
        assert seen == [*THEME_NAMES[THEME_NAMES.index("ansi-light") + 1 :], *THEME_NAMES[: THEME_NAMES.index("ansi-light") + 1]]
        app.theme = "colorblind-dark"
        await pilot.pause()
        assert app.current_theme.error == "#D55E00" and app.current_theme.success == "#009E73"  # Okabe-Ito


async def test_without_theme_the_default_rendering_is_textuals_own(bootstrap: str, unique: str) -> None:
    topic, group = seeded_group(bootstrap, unique)
    app = live_view(bootstrap, group)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: cell(app, f"{topic}:1", "lag") == "5", timeout=60, what="the group's rows")
        assert app.theme == DEFAULT_THEME == "textual-dark"
        # Both keys are in the help, the only place a presenter looks for them.
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "HelpScreen", timeout=10, what="the help")
        shown = app.export_screenshot().replace("&#160;", " ")  # what is on screen, as text
        assert "next colour theme" in shown and "SVG slide" in shown, shown
        await pilot.press("escape")


async def test_S_saves_the_current_screen_as_an_svg_slide(
    bootstrap: str, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic, group = seeded_group(bootstrap, unique)
    monkeypatch.chdir(tmp_path)
    app = live_view(bootstrap, group, "--theme", "colorblind-dark")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: cell(app, f"{topic}:1", "lag") == "5", timeout=60, what="the group's rows")
        await pilot.press("S")
        await wait_until(pilot, lambda: list(tmp_path.glob("deliverytui-*.svg")), timeout=30, what="the slide file")
    (slide,) = tmp_path.glob("deliverytui-*.svg")
    text = slide.read_text(encoding="utf-8").replace("&#160;", " ")
    assert slide.name.startswith("deliverytui-") and text.lstrip().startswith("<svg")
    assert group in text and topic in text  # the screen's own text, as on screen


def test_every_status_is_shown_as_its_word() -> None:
    # Each status's style is looked up by the word the cell shows, so no status is a colour alone.
    assert all(word and word.strip() for word in STATUS_WORDS)
    assert set(STATUS_STYLES) >= STATUS_WORDS
    assert set(STATUS_EVENT_STYLES) == STATUS_WORDS - {"-"}
