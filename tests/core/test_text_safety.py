"""One sanitizer for untrusted text: an injection corpus through safe_text, the CLI verbs,
the report, check, and the cockpit's rendered frames — 0 escapes reach the terminal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conductor_tui import cli
from conductor_tui.core.records import PlanRow, RoutingDecision, WorkflowPlan
from conductor_tui.core.store import ProjectStore
from conductor_tui.core.text import has_unsafe, safe_line, safe_text
from conductor_tui.handoff import protocol

# What a hostile model, file or name could carry.
CORPUS = [
    "\x1b]0;PWNED-TITLE\x07",  # OSC: retitle the terminal (BEL-terminated)
    "\x1b]2;PWNED\x1b\\",  # OSC with ST
    "\x1b[2J\x1b[H",  # CSI: wipe the screen, home
    "\x9b2J",  # 8-bit CSI
    "\x9d0;PWNED\x9c",  # 8-bit OSC / ST
    "\x1bP+q544e\x1b\\",  # DCS query
    "\x1b]52;c;cHduZWQ=\x07",  # OSC 52: write the clipboard
    "\x1b]8;;http://evil.example\x07click\x1b]8;;\x07",  # hyperlink
    "\x07\x08\x0b\x0c\r\x00\x7f",  # BEL, BS, VT, FF, CR, NUL, DEL
    "abc\u202eevil\u2066",  # bidi override / isolate
    "\x1bc",  # RIS: full reset
]

# Raw controls that must never appear in output (ESC, C1, BEL, NUL, CR, bidi).
_RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def escapes(text: str) -> int:
    return len(_RAW.findall(text))


def test_safe_text_neutralises_the_whole_corpus_and_keeps_unicode() -> None:
    for sample in CORPUS:
        out = safe_text(sample)
        assert escapes(out) == 0, repr(out)
        assert not has_unsafe(out)
    assert safe_text("Zusammenfassung — 要約 ✓ 🎉\n\tnext") == "Zusammenfassung — 要約 ✓ 🎉\n\tnext"
    assert safe_text("\x1b[2J") == "\\x1b[2J"  # visible, not silently dropped
    assert safe_line("a\nb\tc") == "a\\x0ab\\x09c"
    assert safe_text(None) == "" and safe_text(42) == "42"
    assert safe_text("[bold]x[/bold]") == "[bold]x[/bold]"  # markup is not its business


def test_run_command_uses_the_one_sanitizer() -> None:
    from conductor_tui.commands import run

    assert run.safe_text is safe_text


@pytest.fixture
def project(tmp_path: Path) -> Path:
    p = tmp_path / "proj"
    (p / ".llm-orc" / "evaluations").mkdir(parents=True)
    return p


def _hostile(i: int) -> str:
    return f"row {i} " + CORPUS[i % len(CORPUS)]


def test_cli_plan_show_list_and_request_result_print_no_escapes(project: Path, capsys) -> None:
    plan = WorkflowPlan(
        meta_task="meta " + "".join(CORPUS),
        subtasks=[
            PlanRow(
                id=f"r{i}", description=_hostile(i), task_type="t", handler="h" + CORPUS[i], note=CORPUS[-i]
            )
            for i in range(len(CORPUS))
        ],
    )
    written = protocol.submit_plan(project, plan, session="s")
    assert cli.main(["plan", "show", written.id, "--project", str(project)]) == 0
    assert cli.main(["plan", "list", "--project", str(project)]) == 0
    request = protocol.request_run(project, "echo", "in")
    protocol.post_result(project, request.id, "claimed", by="cockpit")
    protocol.post_result(project, request.id, "completed", by="cockpit", output="".join(CORPUS))
    assert cli.main(["request-result", request.id, "--project", str(project)]) == 0
    failed = protocol.request_run(project, "echo", "in")
    protocol.post_result(project, failed.id, "failed", by="cockpit", error="".join(CORPUS))
    assert cli.main(["request-result", failed.id, "--project", str(project)]) == 4
    captured = capsys.readouterr()
    assert "PWNED-TITLE" in captured.out  # the text is shown ...
    assert escapes(captured.out) == 0 and escapes(captured.err) == 0  # ... its controls are not


def test_cli_json_output_carries_controls_only_as_json_escapes(project: Path, capsys) -> None:
    request = protocol.request_run(project, "echo", "in")
    protocol.post_result(project, request.id, "completed", by="cockpit", output=CORPUS[0])
    assert cli.main(["request-result", request.id, "--project", str(project), "--json"]) == 0
    out = capsys.readouterr().out
    assert escapes(out) == 0
    assert json.loads(out)["output"] == CORPUS[0]  # the data itself is intact


def test_report_task_types_print_no_escapes(project: Path, capsys) -> None:
    store = ProjectStore(project)
    for i, sample in enumerate(CORPUS):
        store.append_routing(
            RoutingDecision(
                task_type="tt" + sample,
                routed_to="ens" + sample,
                ensemble="ens" + sample,
                total_tokens_local=i + 1,
            )
        )
    assert cli.main(["report", "--project", str(project)]) == 0
    out = capsys.readouterr().out
    assert "tt" in out and escapes(out) == 0


def test_check_model_and_ensemble_names_print_no_escapes(
    project: Path, fake_ollama, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    ens = project / ".llm-orc" / "ensembles"
    ens.mkdir(parents=True)
    (ens / "evil.yaml").write_text(
        "name: evil\ndescription: d\nagents:\n  - name: a\n    model: "
        + json.dumps("m\x1b]0;PWNED\x07:1b")
        + "\n"
    )
    cli.main(["check", "--project", str(project)])
    out = capsys.readouterr().out
    assert "evil" in out and escapes(out) == 0


async def test_cockpit_frames_carry_no_control_characters_from_plan_rows(tmp_path: Path, fake_ollama) -> None:
    """The real cockpit, a plan full of escapes: the bytes Textual would write to the
    terminal for the whole screen contain none of them (its own styling escapes aside)."""
    from conductor_tui.ui.app import make_app
    from conductor_tui.ui.terminal_safety import ControlCharFilter
    from tests.fakes.gpu import FakeGpuProbe
    from tests.ui.conftest import settle
    from tests.ui.sample import make_project

    plan = WorkflowPlan(
        id="plan-x",
        meta_task="meta \x1b]0;PWNED-TITLE\x07",
        subtasks=[
            PlanRow(id=f"r{i}", description=_hostile(i), task_type="t" + CORPUS[i])
            for i in range(len(CORPUS))
        ],
    )
    project = make_project(tmp_path / "p", plan=plan)
    app = make_app(project, ollama_host=fake_ollama.url, gpu_probe=FakeGpuProbe(), poll_interval=0)
    assert any(isinstance(f, ControlCharFilter) for f in app._filters)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot, app)
        update = app.screen._compositor.render_update(full=True)
        raw = update.render_segments(app.console)
    assert "PWNED-TITLE" in raw or "row 1" in raw  # the rows are on screen
    assert "\x1b]" not in raw  # no OSC (title, clipboard, hyperlink)
    assert "\x1b[2J" not in raw and "\x1bc" not in raw and "\x1bP" not in raw
    assert not re.search("[\x00-\x08\x0b-\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", raw)
