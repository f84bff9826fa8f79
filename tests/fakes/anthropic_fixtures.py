"""Pytest fixtures around :class:`tests.fakes.anthropic_server.FakeAnthropic` (a pytest plugin)."""

from __future__ import annotations

import pytest

from tests.fakes.anthropic_server import FakeAnthropic


@pytest.fixture
def fake_anthropic():
    """A running FakeAnthropic; ``fake.url`` / ``fake.api_key`` for the client."""
    with FakeAnthropic() as fake:
        yield fake
