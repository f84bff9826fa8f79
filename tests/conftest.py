"""Shared test set-up: every test runs with a clean environment.

No test may reach a real Ollama, the real Anthropic API, a proxy, or the user's
``~/.config``: the variables are cleared and XDG_CONFIG_HOME / HOME point at a
temporary directory.
"""

from __future__ import annotations

import pytest

_CLEARED = (
    "OLLAMA_HOST",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "LLM_ORC_LIBRARY_PATH",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    yield


pytest_plugins = ["tests.fakes.fixtures", "tests.fakes.anthropic_fixtures"]


def _steady_cursors(app) -> None:
    """Stop every text cursor blinking (it stays shown): a screenshot taken half a second
    later on a busy machine must not catch the blink's off phase."""
    from textual.widgets import Input, TextArea

    for screen in app.screen_stack:
        for widget in screen.query(Input):
            widget.cursor_blink = False
        for widget in screen.query(TextArea):
            widget.cursor_blink = False


def _refresh_pending(app) -> bool:
    """A layout, a repaint or a message is waiting on the active screen (a screen under a dialog
    is not refreshed until it is on top again, so it never counts)."""
    screen = app.screen
    return any(
        getattr(w, "_layout_required", False)
        or getattr(w, "_repaint_required", False)
        or w._message_queue.qsize() > 0  # e.g. the Layout message a widget just posted
        for w in [screen, *screen.walk_children(with_self=False)]
    )


async def _layout_settled(pilot) -> None:
    """Wait (a bounded number of event-loop turns, never a clock) until no widget has a layout or
    repaint waiting: a panel updated just before the screenshot is laid out to its new text. On a
    loaded machine the harness's own pauses could return between a widget's update and the layout
    it asked for."""
    for _ in range(200):
        if not _refresh_pending(pilot.app):
            break
        await pilot.pause()
    await pilot.pause()


@pytest.fixture
def snap_compare(snap_compare):
    """pytest-textual-snapshot's ``snap_compare`` with blinking cursors held steady before the
    screenshot — what the test drives and what it compares are unchanged."""
    import inspect

    def compare(app, *args, run_before=None, **kwargs):
        async def steady_run_before(pilot) -> None:
            if run_before is not None:
                result = run_before(pilot)
                if inspect.isawaitable(result):
                    await result
            await pilot.pause()
            _steady_cursors(pilot.app)
            await pilot.pause()
            await _layout_settled(pilot)

        return snap_compare(app, *args, run_before=steady_run_before, **kwargs)

    return compare
