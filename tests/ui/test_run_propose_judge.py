"""Propose–judge runs in the run screen: proposals side by side, the judge's verdict,
the cost of every proposer plus the judge — against the fake Ollama (real HTTP)."""

from __future__ import annotations

import json

from conductor_tui.engine import loader
from conductor_tui.engine.events import AgentFinished, AgentStarted, RunFinished, RunStarted, TextDelta, Usage
from conductor_tui.engine.kit import install_starter_kit
from conductor_tui.ui.run_state import RunView
from conductor_tui.ui.screens.run import DELIVERABLE, RunScreen
from conductor_tui.ui.widgets.proposals import ProposalColumn
from tests.fakes.ollama_server import FakeModel
from tests.ui.conftest import drain, settle
from tests.ui.sample import make_project
from tests.ui.test_run_screen import routing_log

PLAN_A = "## Approach\nValidate in the handler.\n\n## Steps\n1. Add checks to `signup()`\n"
PLAN_B = (
    "## Approach\nA pydantic model at the boundary.\n\n## Steps\n1. `SignupIn` in `api/schemas.py`\n"
    "2. Use it in `routes.py`\n\n## Risks\n- clients sending extra fields\n"
)
PLAN_C = "## Approach\nRegex on the email.\n"
VERDICT = {
    "verdict": "pick",
    "picked": "Proposal 2",  # the judge names it by number; the view maps it to propose-llama
    "reasoning": "Proposal 2 names the files and the risk; 1 and 3 validate too little.",
    "result": PLAN_B,
}
TASK = "Plan the change: add input validation to the user sign-up endpoint."


def plan_review_models(verdict: dict | str = VERDICT) -> list[FakeModel]:
    return [
        FakeModel("qwen3:1.7b", reply=PLAN_A, tokens_per_second=4000, parallel=2),
        FakeModel("llama3.2:3b", reply=PLAN_B, tokens_per_second=4000, family="llama"),
        FakeModel("gemma3:1b", reply=PLAN_C, tokens_per_second=4000, family="gemma3"),
        FakeModel(
            "qwen3:4b",
            reply=verdict if isinstance(verdict, str) else json.dumps(verdict),
            tokens_per_second=4000,
        ),
    ]


async def test_plan_review_shows_proposals_and_the_judges_pick(project_dir, cockpit, fake_ollama_factory):
    make_project(project_dir)
    install_starter_kit(project_dir, ["plan-review"])
    fake = fake_ollama_factory(plan_review_models())
    app = cockpit(project_dir, ollama_host=fake.url, initial_mode="run")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        assert screen.start_run("plan-review", TASK, task_summary="sign-up validation")
        await drain(app)
        await pilot.pause()
        view = screen.view
        assert view.status == "completed"
        assert screen.shape.proposers == ["propose-qwen", "propose-llama", "propose-gemma"]
        # the judge read every proposal
        judge_request = [r for r in fake.generation_requests() if r["body"]["model"] == "qwen3:4b"][0]
        judge_input = json.dumps(judge_request["body"]["messages"])
        assert all(p.split("\n")[1] in judge_input for p in (PLAN_A, PLAN_B, PLAN_C))
        # one column per proposer with its model and text; only the picked one highlighted
        columns = {c.agent: c for c in screen.query(ProposalColumn)}
        assert list(columns) == screen.shape.proposers
        assert [n for n, c in columns.items() if c.has_class("picked")] == ["propose-llama"]
        head = str(columns["propose-llama"].query_one(".proposal-head").render())
        assert "★ picked" in head and "llama3.2:3b" in head
        assert "★" not in str(columns["propose-qwen"].query_one(".proposal-head").render())
        assert columns["propose-gemma"].region.width > 20  # side by side, not stacked
        assert len({c.region.x for c in columns.values()}) == 3
        verdict = str(screen.query_one("#verdict").render())
        assert "Verdict: picked B propose-llama" in verdict
        assert "names the files and the risk" in verdict
        # the cost: every proposer plus the judge, from Ollama's own counts
        cost = screen.pj_outcome.cost
        local = sum(view.agents[n].input_tokens + view.agents[n].output_tokens for n in view.order)
        assert cost.total_tokens == local == view.input_tokens + view.output_tokens > 0
        assert f"4 agents · {local:,} local tokens" in verdict
        assert cost.judge.total_tokens > 0 and len([p for p in cost.proposers if p.total_tokens]) == 3
        # the routing log keeps the verdict and the cost
        entry = next(d for d in routing_log(project_dir) if d.routed_to == "plan-review")
        pj = entry.propose_judge
        assert pj["picked"] == "propose-llama" and pj["verdict"] == "pick"
        assert pj["total_tokens"] == entry.total_tokens_local == local
        # d shows the judged result (not the judge's JSON); v goes back to the proposals
        await pilot.press("d")
        await pilot.pause()
        assert screen.selected == DELIVERABLE and screen._selected_text() == PLAN_B
        assert not screen.query_one(".run-proposals").display
        await pilot.press("v")
        await pilot.pause()
        assert screen.query_one(".run-proposals").display and not screen.query_one("#run-main").display


async def test_a_synthesis_and_a_judge_without_json(project_dir, cockpit, fake_ollama_factory):
    make_project(project_dir)
    install_starter_kit(project_dir, ["plan-review"])
    synthesis = {
        "verdict": "synthesis",
        "picked": "propose-qwen",
        "reasoning": "A is closest; B adds the schema.",
        "result": "## Merged plan",
    }
    fake = fake_ollama_factory(plan_review_models(synthesis))
    app = cockpit(project_dir, ollama_host=fake.url, initial_mode="run")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        screen.start_run("plan-review", TASK)
        await drain(app)
        await pilot.pause()
        verdict = str(screen.query_one("#verdict").render())
        assert "synthesised a new answer (built mostly on propose-qwen)" in verdict
        assert not [c for c in screen.query(ProposalColumn) if c.has_class("picked")]
        head = str(screen.query_one("#proposal-0 .proposal-head").render())
        assert "synthesis built on it" in head
        # a judge that answers in prose: no verdict, the text is kept and said to be so
        fake.remove_model("qwen3:4b")
        fake.add_model(FakeModel("qwen3:4b", reply="I like B best, honestly.", tokens_per_second=4000))
        screen.start_run("plan-review", TASK)
        await drain(app)
        await pilot.pause()
        verdict = str(screen.query_one("#verdict").render())
        assert "no clear verdict" in verdict and "not JSON" in verdict


CLAUDE_JUDGED = """
name: pair-claude
description: Two local proposers, Claude judges
conductor:
  pattern: propose-judge
  judge: claude
agents:
  - name: one
    model: qwen3:1.7b
    provider: ollama
  - name: two
    model: gemma3:1b
    provider: ollama
"""


async def test_claude_judge_without_a_key_keeps_the_proposals(project_dir, cockpit, fake_ollama_factory):
    make_project(project_dir)
    (project_dir / ".llm-orc" / "ensembles" / "pair-claude.yaml").write_text(CLAUDE_JUDGED.lstrip())
    fake = fake_ollama_factory(plan_review_models())
    app = cockpit(project_dir, ollama_host=fake.url, initial_mode="run")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        screen.start_run("pair-claude", TASK)
        await drain(app)
        await pilot.pause()
        assert screen.view.status == "completed" and screen.shape.claude_judge
        verdict = str(screen.query_one("#verdict").render())
        assert "Claude judge needs ANTHROPIC_API_KEY" in verdict
        assert "2 agents ·" in verdict  # two local proposers; no judge tokens
        bodies = [c.text for c in screen.query(ProposalColumn)]
        assert "Validate in the handler" in bodies[0] and "Regex on the email" in bodies[1]


async def test_claude_judge_picks_through_the_anthropic_protocol(
    project_dir, cockpit, fake_ollama_factory, fake_anthropic
):
    from conductor_tui.providers.anthropic import ClaudeProvider

    make_project(project_dir)
    (project_dir / ".llm-orc" / "ensembles" / "pair-claude.yaml").write_text(CLAUDE_JUDGED.lstrip())
    fake = fake_ollama_factory(plan_review_models())
    fake_anthropic.script(
        {"verdict": "pick", "picked": "two", "reasoning": "Shorter and enough.", "result": PLAN_C}
    )
    app = cockpit(project_dir, ollama_host=fake.url, initial_mode="run")
    app.services.claude = ClaudeProvider(api_key=fake_anthropic.api_key, base_url=fake_anthropic.url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        screen.start_run("pair-claude", TASK)
        await drain(app)
        await pilot.pause()
        await drain(app)
        await pilot.pause()
        verdict = str(screen.query_one("#verdict").render())
        assert "Verdict: picked B two" in verdict and "Shorter and enough." in verdict
        assert "+ Claude judge" in verdict
        assert [c.agent for c in screen.query(ProposalColumn) if c.has_class("picked")] == ["two"]
        # the routing-log entry was written after the verdict: it has Claude's pick and tokens
        entry = next(d for d in routing_log(project_dir) if d.routed_to == "pair-claude")
        pj = entry.propose_judge
        assert pj["picked"] == "two" and pj["judge"] == "claude" and pj["claude_judge_tokens"] > 0
        assert pj["total_tokens"] == entry.total_tokens_local + pj["claude_judge_tokens"]


# --------------------------------------------------------------------------- snapshot


def recorded_plan_review() -> list:
    models = {"propose-qwen": "qwen3:1.7b", "propose-llama": "llama3.2:3b", "propose-gemma": "gemma3:1b"}
    texts = {"propose-qwen": PLAN_A, "propose-llama": PLAN_B, "propose-gemma": PLAN_C}
    usage = {"propose-qwen": (96, 41), "propose-llama": (96, 88), "propose-gemma": (95, 22)}
    events: list = [RunStarted("run-pj", 0.0, "plan-review", [*models, "judge"], TASK)]
    for i, (name, model) in enumerate(models.items()):
        events.append(AgentStarted("run-pj", 0.01 * i, name, "llm", model))
        events += [
            TextDelta("run-pj", 0.1 + j / 100, name, w + " ") for j, w in enumerate(texts[name].split(" "))
        ]
        inp, out = usage[name]
        events.append(
            AgentFinished("run-pj", 1.0 + i / 10, name, texts[name], Usage(inp, out, 900, model, 60.0))
        )
    judge = json.dumps(VERDICT)
    events += [
        AgentStarted("run-pj", 1.3, "judge", "llm", "qwen3:4b"),
        TextDelta("run-pj", 1.4, "judge", judge),
        AgentFinished("run-pj", 2.9, "judge", judge, Usage(512, 130, 1500, "qwen3:4b", 86.7)),
        RunFinished("run-pj", 2.95, "completed", judge, 799, 281, 2950),
    ]
    return events


def test_snapshot_proposals_with_a_verdict(snap_compare, project_dir, cockpit, fake_ollama):
    make_project(project_dir)
    install_starter_kit(project_dir, ["plan-review"])
    app = cockpit(project_dir, ollama_host=fake_ollama.url, initial_mode="run")

    async def before(pilot):
        await settle(pilot, app)
        screen = app.screen
        spec = loader.load_catalog(project_dir).get("plan-review").spec
        screen.context = {"ensemble": "plan-review", "task_summary": "sign-up validation"}
        screen.show_view(RunView.from_spec(spec, TASK))
        await pilot.pause()
        for event in recorded_plan_review():
            screen.on_engine_event(event)
        await screen._flush()
        if screen._stream is not None:
            await screen._stream.stop()
            screen._stream = None
        screen._render_all()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 36), run_before=before)


def test_snapshot_proposals_streaming(snap_compare, project_dir, cockpit, fake_ollama):
    """Mid-run: A and C done, B still streaming, the judge waiting for it."""
    make_project(project_dir)
    install_starter_kit(project_dir, ["plan-review"])
    app = cockpit(project_dir, ollama_host=fake_ollama.url, initial_mode="run")
    events = recorded_plan_review()
    cut = next(i for i, e in enumerate(events) if isinstance(e, AgentFinished) and e.agent == "propose-llama")
    partial = [e for e in events[: cut - 12]] + [
        e for e in events[cut:] if isinstance(e, AgentFinished) and e.agent == "propose-gemma"
    ]

    async def before(pilot):
        await settle(pilot, app)
        screen = app.screen
        spec = loader.load_catalog(project_dir).get("plan-review").spec
        screen.context = {"ensemble": "plan-review", "task_summary": "sign-up validation"}
        screen.show_view(RunView.from_spec(spec, TASK))
        await pilot.pause()
        for event in partial:
            screen.on_engine_event(event)
        await screen._flush()
        if screen._stream is not None:
            await screen._stream.stop()
            screen._stream = None
        screen._render_all()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 36), run_before=before)
