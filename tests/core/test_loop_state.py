"""The loop's shared look-ups: a task type in either spelling finds the same profile,
authorisation and Claude debt; the routing-log scan skips what it cannot read."""

from __future__ import annotations

from pathlib import Path

from conductor_tui.core.history import build_history
from conductor_tui.core.loop.state import (
    authorization,
    claude_debt,
    profile_key,
    profile_of,
    routing_objects,
)
from conductor_tui.core.records import (
    Delegability,
    RoutingConfig,
    RoutingDecision,
    StandingAuthorization,
    TaskProfile,
    TaskProfiles,
)
from conductor_tui.core.store import ProjectStore


def test_profile_found_as_written_or_by_key() -> None:
    profiles = TaskProfiles(profiles={"cross-file-analysis": TaskProfile(ensemble="xfa")})
    assert profile_of(profiles, "Cross file analysis") is profiles.profiles["cross-file-analysis"]
    assert profile_of(profiles, "cross_file_analysis") is profiles.profiles["cross-file-analysis"]
    assert profile_of(profiles, "summarise") is None
    assert profile_of(profiles, None) is None
    assert profile_key(profiles, "Cross file analysis") == "cross-file-analysis"
    assert profile_key(profiles, "New Type") == "New Type"  # a new profile is stored as written


def test_authorization_in_either_spelling_and_only_for_its_ensemble() -> None:
    config = RoutingConfig(
        standing_authorizations=[StandingAuthorization(task_type="code-review", ensemble="reviewer")]
    )
    assert authorization(config, "Code review", "reviewer") is not None
    assert authorization(config, "code-review", "other") is None
    assert authorization(config, None, "reviewer") is None


def test_claude_debt_counts_both_spellings(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path)
    for task_type in ("Code review", "code-review", "code-review", "summarise"):
        store.append_routing(
            RoutingDecision(
                task_type=task_type,
                routed_to="claude",
                reason="no-ensemble",
                claude_tokens=10,
                delegability_category=Delegability.AGENT,
            )
        )
    hist = build_history(store)
    assert claude_debt(hist, "Code review") == 3  # its own line and the two under its key
    assert claude_debt(hist, "code-review") == 2  # the key does not gather other spellings
    assert claude_debt(hist, "summarise") == 1


def test_routing_objects_skips_unreadable_lines(tmp_path: Path) -> None:
    log = tmp_path / "routing.jsonl"
    log.write_bytes(b'{"id": "a", "x": 1}\nnot json a\n["a"]\n{"id": "b"}\n{"id": "a2"}\n')
    found = list(routing_objects(log, lambda raw: b'"a' in raw or b"a" in raw))
    assert [o["id"] for o in found] == ["a", "a2"]
    assert list(routing_objects(tmp_path / "missing.jsonl", lambda raw: True)) == []
