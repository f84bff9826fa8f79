"""Fixtures for the cockpit's tests: a fixed project under $HOME, an app factory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.worker import WorkerState

from conductor_tui.providers.ollama import OllamaStatus
from conductor_tui.ui.app import ConductorApp, make_app
from tests.fakes.gpu import FakeGpuProbe
from tests.ui.sample import fixed_clock, make_project, mixed_plan

DOWN = OllamaStatus(
    reachable=False,
    host="http://127.0.0.1:11434",
    error="connection refused",
    fix="start it with `ollama serve`",
)


@pytest.fixture
def project_dir() -> Path:
    """An empty folder named promotion-service under the (temporary) home: a stable display name."""
    path = Path.home() / "promotion-service"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def plan_project(project_dir: Path) -> Path:
    return make_project(project_dir, plan=mixed_plan())


@pytest.fixture
def cockpit() -> Callable[..., ConductorApp]:
    """``cockpit(project, ollama_host=..., **services)`` → a deterministic app (no polling)."""

    def build(project: Path, **options) -> ConductorApp:
        options.setdefault("gpu_probe", FakeGpuProbe())
        options.setdefault("clock", fixed_clock)
        options.setdefault("poll_interval", 0)
        options.setdefault("rng", lambda: 0.99)
        options.setdefault("ollama_host", "http://127.0.0.1:9")
        return make_app(project, **options)

    return build


async def settle(pilot, app: ConductorApp, *, poll: bool = True, status=None) -> None:
    """Poll once (or set ``status``), then wait for every worker and a refresh."""
    if status is not None:
        app.ollama_status = status
        app.gpu_samples = await app._gpu_samples()
        app.refresh_catalog()
    elif poll:
        await app.poll_once()
    await drain(app)
    await pilot.pause()
    await drain(app)
    await pilot.pause()


async def _drain_workers(app: ConductorApp, *, timeout: float = 60.0) -> None:
    """Wait for every worker (including ones they start); cancelled ones are fine."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        pending = [w for w in app.workers if not w.is_finished]
        if not pending:
            return
        started = [w for w in pending if w.state != WorkerState.PENDING]
        if started:
            await asyncio.gather(*(w.wait() for w in started), return_exceptions=True)
        else:
            await asyncio.sleep(0.005)  # a worker is queued but not started yet
    raise AssertionError(f"workers still running: {[w.name for w in app.workers if not w.is_finished]}")


async def drain(app: ConductorApp, *, timeout: float = 60.0) -> None:
    """Wait for every worker (including ones they start; cancelled ones are fine), then for
    the Run screen's last flush of their output: no Markdown is still mounting its blocks
    when the test ends and the app closes."""
    await _drain_workers(app, timeout=timeout)
    for stack in app._screen_stacks.values():
        for screen in stack:
            flush = getattr(screen, "_flush", None)
            if flush is not None and screen.is_attached:
                await flush()


async def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


@pytest.fixture(autouse=True)
def _record_notifications(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every notification an app posts (``posted(app)``): a toast expires after its timeout,
    and a loaded machine can take longer than that to settle before the test looks."""
    from types import SimpleNamespace

    from textual.app import App

    notify, clear = App.notify, App.clear_notifications

    def recording_notify(self, message, *, title="", severity="information", timeout=None, markup=True):
        self.__dict__.setdefault("_posted_notifications", []).append(
            SimpleNamespace(message=message, title=title, severity=severity, timeout=timeout)
        )
        return notify(self, message, title=title, severity=severity, timeout=timeout, markup=markup)

    def recording_clear(self) -> None:
        self.__dict__["_posted_notifications"] = []
        clear(self)

    monkeypatch.setattr(App, "notify", recording_notify)
    monkeypatch.setattr(App, "clear_notifications", recording_clear)


def posted(app) -> list:
    """Every notification ``app`` posted since it started (or since ``clear_notifications``)."""
    return list(app.__dict__.get("_posted_notifications", []))
