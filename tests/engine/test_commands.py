"""``conductor-tui check`` / ``run`` / ``starter-kit`` through the real CLI entry point,
with OLLAMA_HOST pointed at the fake Ollama."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conductor_tui.cli import main
from conductor_tui.core.store import ProjectStore
from tests.engine.conftest import write_yaml
from tests.fakes.ollama_server import FakeModel

ROOT = Path(__file__).resolve().parents[2]


def add_ensemble(project: Path, name: str, agents: list[dict]) -> Path:
    return write_yaml(
        project / ".llm-orc/ensembles" / f"{name}.yaml",
        {"name": name, "description": f"{name} test", "agents": agents},
    )


def cli_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_check_json_reports_ollama_ensembles_and_discovery(project, fake_ollama, monkeypatch, capsys):
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    add_ensemble(project, "ok", [{"name": "a", "model": "qwen3:1.7b", "provider": "ollama"}])
    add_ensemble(project, "needs-pull", [{"name": "a", "model": "qwen3:4b", "provider": "ollama"}])
    add_ensemble(project, "no-profile", [{"name": "a", "model_profile": "ghost"}])
    (project / ".llm-orc/ensembles/broken.yaml").write_text("name: broken\nagents: [\n")
    fake_ollama.preload("qwen3:1.7b")
    code, data = cli_json(capsys, "check", "--project", str(project), "--json")
    assert code == 0
    o = data["ollama"]
    assert o["reachable"] is True and o["host"] == fake_ollama.url and o["version"]
    assert {m["name"] for m in o["models"]} == {"qwen3:1.7b", "llama3.2:3b", "gemma3:1b"}
    assert all({"size", "parameter_size", "quantization_level"} <= set(m) for m in o["models"])
    [loaded] = o["loaded"]
    assert loaded["name"] == "qwen3:1.7b" and loaded["vram_fraction"] == 1.0
    by_name = {e["name"]: e for e in data["ensembles"]}
    assert set(by_name) == {"ok", "needs-pull", "no-profile", "broken"}
    assert by_name["ok"]["runnable"] is True and by_name["ok"]["tier"] == "project"
    assert by_name["ok"]["path"].endswith(".llm-orc/ensembles/ok.yaml")
    assert by_name["needs-pull"]["runnable"] is False
    assert by_name["needs-pull"]["problems"][0]["fix"] == "ollama pull qwen3:4b"
    assert by_name["no-profile"]["problems"][0]["message"] == 'profile "ghost" not found (agent "a")'
    assert by_name["broken"]["problems"][0]["line"] == 3
    assert data["summary"] == "Discovery: 3 Ollama models available, 4 ensembles found (1 runnable)"
    assert data["task_profiles"]["count"] == 0


def test_check_text_when_ollama_is_down_says_so_and_exits_1(project, closed_port, monkeypatch, capsys):
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{closed_port}")
    add_ensemble(project, "ok", [{"name": "a", "model": "qwen3:1.7b", "provider": "ollama"}])
    ProjectStore(project).save_task_profiles(
        __import__("conductor_tui.core.records", fromlist=["TaskProfiles"]).TaskProfiles.from_mapping(
            {"extraction": {"phase": "calibrate", "ensemble": "ok"}}
        )
    )
    assert main(["check", "--project", str(project)]) == 1  # exit codes say what happened
    out = capsys.readouterr().out
    assert f"Ollama: not reachable at http://127.0.0.1:{closed_port}" in out
    assert "Discovery: 0 Ollama models available, 1 ensembles found (0 runnable)" in out
    assert "Loaded 1 task profiles from prior sessions" in out


def test_run_json_completes_records_and_exits_zero(project, fake_ollama, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    add_ensemble(
        project,
        "two-step",
        [
            {"name": "first", "model": "qwen3:1.7b", "provider": "ollama"},
            {"name": "second", "model": "llama3.2:3b", "provider": "ollama", "depends_on": ["first"]},
        ],
    )
    code, data = cli_json(capsys, "run", "two-step", "--project", str(project), "--input", "hello", "--json")
    assert code == 0 and data["status"] == "completed"
    assert data["deliverable"].startswith("llama3.2:3b answers:")
    assert set(data["agents"]) == {"first", "second"}
    for a in data["agents"].values():
        assert {"status", "input_tokens", "output_tokens", "duration_ms", "error"} <= set(a)
        assert a["status"] == "success" and a["output_tokens"] > 0 and a["error"] is None
    assert Path(data["artifact"]).is_file()
    [decision] = [d for d in ProjectStore(project).read_routing().records if d.is_decision]
    assert decision.id == data["routing_id"] and decision.total_tokens_local == data["total_tokens"]
    assert decision.status == "completed" and decision.ensemble == "two-step"


def test_run_text_streams_with_prefixes_and_failure_exit_code(project, fake_ollama, monkeypatch, capsys):
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    add_ensemble(
        project,
        "mixed",
        [
            {"name": "writer", "model": "qwen3:1.7b", "provider": "ollama"},
            {"name": "ghost", "model": "qwen3:32b", "provider": "ollama"},
        ],
    )
    code = main(["run", "mixed", "--project", str(project), "--input", "a\x1b[31mred"])
    out, err = capsys.readouterr()
    assert code == 1
    # Every line of live output starts with its agent's prefix. When ghost's failure is
    # reported (on stderr) while writer is mid-line, the printer ends the line and the rest
    # comes under a new prefix — whether that happens depends on which agent the engine
    # hears from first, so the text is checked with the prefixes taken off.
    live = [line for line in out.split("\n\nagent ")[0].splitlines() if line]
    assert live and all(line.startswith("[writer] ") for line in live), out
    assert "".join(line.removeprefix("[writer] ") for line in live) == "qwen3:1.7b answers: a\\x1b[31mred"
    assert "\x1b" not in out  # model output is shown as text, never as escape sequences
    assert "ghost failed (infrastructure)" in err and "ollama pull qwen3:32b" in err
    assert "Deliverable:" in out and "Artifact:" in out and "Local:" in out


def test_run_unknown_ensemble(project, capsys):
    add_ensemble(project, "summarize", [{"name": "a", "model": "m", "provider": "ollama"}])
    assert main(["run", "sumarize", "--project", str(project)]) == 2
    assert "did you mean summarize" in capsys.readouterr().err


def test_run_stdin_input(project, fake_ollama, monkeypatch, capsys):
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    add_ensemble(project, "one", [{"name": "a", "model": "qwen3:1.7b", "provider": "ollama"}])
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("from stdin"))
    code, data = cli_json(capsys, "run", "one", "--project", str(project), "--input", "-", "--json")
    assert code == 0 and "from stdin" in data["deliverable"]


def test_ctrl_c_cancels_cleanly_and_records_cancelled(project, fake_ollama_factory):
    fake = fake_ollama_factory([FakeModel("slow:1b", reply=" ".join(["tok"] * 8000), tokens_per_second=40)])
    add_ensemble(project, "long", [{"name": "a", "model": "slow:1b", "provider": "ollama"}])
    env = {**os.environ, "OLLAMA_HOST": fake.url, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "conductor_tui", "run", "long", "--project", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    try:
        assert fake.wait_until(
            lambda: any(r.get("tokens_sent", 0) >= 3 for r in fake.generation_requests()), 20
        )
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    assert b"Status: cancelled" in out
    [decision] = [d for d in ProjectStore(project).read_routing().records if d.is_decision]
    assert decision.status == "cancelled" and decision.tokens_saved == 0
    assert fake.wait_for_outcome(0, timeout=30)["outcome"] == "client-disconnected"


def test_starter_kit_command_refuses_to_overwrite_without_a_tty(project, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(""))
    assert main(["starter-kit", "--project", str(project), "write-changelog"]) == 0
    target = project / ".llm-orc/ensembles/write-changelog.yaml"
    target.write_text(target.read_text() + "# mine\n")
    assert main(["starter-kit", "--project", str(project), "write-changelog"]) == 1
    assert target.read_text().endswith("# mine\n")
    assert "kept yours" in capsys.readouterr().out
    assert main(["starter-kit", "--project", str(project), "write-changelog", "--yes"]) == 0
    assert not target.read_text().endswith("# mine\n")
    assert main(["starter-kit", "--project", str(project), "nonsense"]) == 2
    assert ProjectStore(project).load_config().starter_kit_offered is True


@pytest.mark.parametrize("argv", [["starter-kit", "--list"]])
def test_starter_kit_list(project, capsys, argv):
    assert main([*argv, "--project", str(project)]) == 0
    out = capsys.readouterr().out
    assert out.count("missing") == 5 + 2 and "fix-lint-violations" in out
    universal, extras = out.split("Optional workflow ensembles")
    assert universal.count("missing") == 5
    assert "plan-review" in extras and "distill-context" in extras


def test_starter_kit_command_installs_a_workflow_extra_by_name(project, capsys):
    assert main(["starter-kit", "--project", str(project), "plan-review"]) == 0
    out = capsys.readouterr().out
    assert "Installed 1 starter-kit ensemble(s): plan-review" in out and "ollama pull qwen3:4b" in out
    assert (project / ".llm-orc/ensembles/plan-review.yaml").is_file()
    assert not (project / ".llm-orc/ensembles/write-changelog.yaml").exists()
    assert main(["starter-kit", "--project", str(project), "--list"]) == 0
    listed = capsys.readouterr().out
    assert re.search(r"plan-review\s+planning\s+installed", listed)
    assert re.search(r"distill-context\s+summarization\s+missing", listed)


def test_run_async_passes_session_plan_and_row_to_the_routing_decision(project, fake_ollama):
    """The run path the handoff's headless runner reuses: host/profiles to the executor,
    task type, session, plan and row onto the routing decision; events to ``on_event``."""
    import asyncio

    from conductor_tui.commands.run import find_ensemble, run_async
    from conductor_tui.engine.events import AgentFinished

    add_ensemble(project, "one", [{"name": "a", "model": "qwen3:1.7b", "provider": "ollama"}])
    entry, catalog, error = find_ensemble(project, "one")
    assert entry is not None and error is None
    seen: list = []
    result, decision = asyncio.run(
        run_async(
            entry,
            project,
            "hello",
            task_type="summarization",
            session="sess-1",
            plan_id="plan-1",
            row_id="row-2",
            task_summary="say hello",
            host=fake_ollama.url,  # OLLAMA_HOST is not set: the host must reach the executor
            profiles=catalog.profiles,
            on_event=seen.append,
        )
    )
    assert result.status == "completed"
    assert any(isinstance(e, AgentFinished) and e.agent == "a" for e in seen)
    [stored] = [d for d in ProjectStore(project).read_routing().records if d.is_decision]
    assert stored.id == decision.id
    assert (stored.task_type, stored.session, stored.plan_id, stored.row_id) == (
        "summarization",
        "sess-1",
        "plan-1",
        "row-2",
    )
    assert stored.task_summary == "say hello" and stored.total_tokens_local == result.total_tokens
