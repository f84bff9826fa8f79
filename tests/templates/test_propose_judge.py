"""Propose–judge: detection, tolerant verdicts, cost; plan-review loads and runs for real
(the engine's loader and executor, the official ollama client, the fake Ollama over HTTP)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conductor_tui.core import propose_judge as pj
from conductor_tui.engine.artifacts import read_execution
from conductor_tui.engine.events import AgentFinished, AgentStarted, RunFinished
from conductor_tui.engine.executor import Executor
from conductor_tui.engine.loader import check_runnable, load_catalog, load_ensemble_file, load_profiles
from conductor_tui.providers.ollama import OllamaProvider
from tests.engine.conftest import ensemble, llm
from tests.fakes.ollama_server import FakeModel

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / "ensembles"
PLAN_REVIEW = KIT / "workflows" / "plan-review.yaml"
PROPOSERS = ["propose-qwen", "propose-llama", "propose-gemma"]

# --------------------------------------------------------------------------- detection


def test_plan_review_is_detected_by_its_marker() -> None:
    spec = load_ensemble_file(PLAN_REVIEW)
    shape = pj.detect_propose_judge(spec)
    assert shape is not None and shape.explicit and shape.problems == []
    assert (shape.judge, shape.proposers) == ("judge", PROPOSERS)
    judge = spec.agent("judge")
    assert isinstance(judge.ollama_format, dict) and judge.ollama_format["required"] == [
        "verdict",
        "picked",
        "reasoning",
        "result",
    ]
    assert spec.agent("judge").depends_on == PROPOSERS
    assert all(not spec.agent(n).depends_on for n in PROPOSERS)  # same input: the task


def test_proposer_profiles_are_three_small_models_of_different_families() -> None:
    import yaml

    prof = {
        p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in (KIT / "profiles").glob("plan-review-*.yaml")
    }
    spec = load_ensemble_file(PLAN_REVIEW)
    models = [prof[spec.agent(n).model_profile]["model"] for n in PROPOSERS]
    assert len({m.split(":")[0].rstrip("0123456789.") for m in models}) == 3  # qwen, llama, gemma
    for model in [*models, prof["plan-review-judge"]["model"]]:
        size = float(model.split(":")[1].rstrip("b"))
        assert size <= 7
    assert all(p["provider"] == "ollama" and p["name"] == stem for stem, p in prof.items())


def test_detected_by_shape_without_a_marker() -> None:
    spec = ensemble(
        [
            llm("a"),
            llm("b", "llama3.2:3b"),
            {"name": "prep", "script": "echo hi"},
            llm("judge", depends_on=["a", "b"]),
        ]
    )
    shape = pj.detect_propose_judge(spec)
    assert shape is not None and not shape.explicit
    assert (shape.judge, shape.proposers) == ("judge", ["a", "b"])


@pytest.mark.parametrize(
    "agents",
    [
        [llm("a"), llm("b", depends_on=["a"])],  # a chain
        [llm("a"), llm("judge", depends_on=["a"])],  # one proposer
        [
            {"name": "s", "script": "echo x"},
            llm("a"),
            llm("b", depends_on=["s"]),
            llm("j", depends_on=["a", "b"]),
        ],
        [
            {"name": "s", "script": "echo x"},
            {"name": "t", "script": "echo y"},
            llm("j", depends_on=["s", "t"]),
        ],
    ],
    ids=["chain", "one-proposer", "different-inputs", "script-proposers"],
)
def test_not_propose_judge(agents) -> None:
    assert pj.detect_propose_judge(ensemble(agents)) is None


def test_marker_problems_are_reported() -> None:
    spec = ensemble([llm("a"), llm("b"), llm("j", depends_on=["a"])])
    spec.raw["conductor"] = {"pattern": "propose-judge", "judge": "j", "proposers": ["a", "b", "c"]}
    shape = pj.detect_propose_judge(spec)
    messages = [p.message for p in shape.problems]
    assert any('"c" is not an agent' in m for m in messages)
    assert any('does not depend on proposer "b"' in m for m in messages)
    spec.raw["conductor"] = {"pattern": "Propose Judge", "judge": "nobody"}
    assert "is not an agent" in pj.detect_propose_judge(spec).problems[0].message
    spec.raw["conductor"] = {"pattern": "something-else"}
    assert pj.detect_propose_judge(spec) is None  # and the shape does not match either


# --------------------------------------------------------------------------- verdicts


def test_verdict_plain_json() -> None:
    v = pj.parse_verdict(
        json.dumps(
            {"verdict": "pick", "picked": "propose-llama", "reasoning": "most concrete", "result": "1. do"}
        ),
        PROPOSERS,
    )
    assert (v.verdict, v.picked, v.reasoning, v.result, v.parsed, v.problems) == (
        "pick",
        "propose-llama",
        "most concrete",
        "1. do",
        True,
        [],
    )
    assert v.summary() == "picked propose-llama"


@pytest.mark.parametrize(
    ("text", "verdict", "picked"),
    [
        (
            '```json\n{"verdict": "synthesis", "picked": "propose-qwen", "reasoning": "r", "result": "x"}\n```',
            "synthesis",
            "propose-qwen",
        ),
        (
            'Here is my verdict:\n{"Decision": "Synthesize", "Rationale": "r", "Final Plan": "x"}\nThanks!',
            "synthesis",
            None,
        ),
        ('{"choice": "picked", "winner": "Proposal B", "why": "r", "plan": "x"}', "pick", "propose-llama"),
        ('{"verdict": "pick", "picked": "3", "reasoning": "r", "result": "x"}', "pick", "propose-gemma"),
        (
            '{"verdict": "pick", "picked": "Agent propose_qwen (Plan Review Qwen)", "reasoning": "r", "result": "x"}',
            "pick",
            "propose-qwen",
        ),
        ('{"picked": "propose-gemma", "reasoning": "r", "result": "x"}', "pick", "propose-gemma"),
        (
            '{"verdict": "merge the best", "picked": ["propose-llama", "propose-qwen"], "result": {"steps": [1, 2]}}',
            "synthesis",
            "propose-llama",
        ),
    ],
    ids=[
        "fenced",
        "prose-and-synonyms",
        "letter",
        "number",
        "agent-heading",
        "no-verdict-key",
        "list-and-object",
    ],
)
def test_verdict_is_read_tolerantly(text: str, verdict: str, picked: str | None) -> None:
    v = pj.parse_verdict(text, PROPOSERS)
    assert v.parsed and v.verdict == verdict and v.picked == picked
    assert v.result


def test_verdict_problems_and_prose_fallback() -> None:
    v = pj.parse_verdict('{"verdict": "pick", "picked": "gpt-9", "reasoning": "r", "result": "x"}', PROPOSERS)
    assert v.verdict == "pick" and any("not one of the proposers" in p for p in v.problems)
    v = pj.parse_verdict('{"verdict": "maybe", "reasoning": "r", "result": "x"}', PROPOSERS)
    assert v.verdict is None and any("neither pick nor synthesis" in p for p in v.problems)
    prose = pj.parse_verdict("I pick propose-llama. Its steps are concrete.\n1. Add a bucket", PROPOSERS)
    assert not prose.parsed and prose.verdict == "pick" and prose.picked == "propose-llama"
    assert prose.result.startswith("I pick") and prose.summary() == "picked propose-llama"
    empty = pj.parse_verdict("", PROPOSERS)
    assert empty.verdict is None and empty.summary() == "no clear verdict"
    # a JSON object that is not a verdict is skipped
    v = pj.parse_verdict('{"note": 1} then {"verdict": "synthesis", "result": "x"}', PROPOSERS)
    assert v.verdict == "synthesis" and v.summary() == "synthesised"


# --------------------------------------------------------------------------- cost


def test_cost_multiplier_for_the_plan_screen() -> None:
    cm = pj.cost_multiplier(load_ensemble_file(PLAN_REVIEW))
    assert (cm.factor, cm.llm_calls, cm.proposers, cm.judge, cm.warn) == (4.0, 4, 3, True, True)
    assert cm.message().startswith("3 proposers + judge ≈ 4× the tokens of one agent")
    single = pj.cost_multiplier(ensemble([llm("a"), {"name": "s", "script": "echo", "depends_on": ["a"]}]))
    assert (single.factor, single.warn, single.message()) == (1.0, False, "one LLM call")
    chain = pj.cost_multiplier(ensemble([llm("a"), llm("b", depends_on=["a"])]))
    assert chain.factor == 2 and chain.warn and chain.message() == "2 LLM agents ≈ 2× the tokens of one agent"
    fan = pj.cost_multiplier(load_ensemble_file(KIT / "fix-lint-violations.yaml"))
    assert fan.fan_out and fan.warn and "fan-out" in fan.message()
    scripts = pj.cost_multiplier(ensemble([{"name": "s", "script": "echo"}]))
    assert scripts.factor == 0 and not scripts.warn


def test_cost_from_a_plain_mapping_and_fan_out_instances() -> None:
    shape = pj.ProposeJudgeShape("e", "judge", ["a", "b"], False)
    usage = {
        "a": {"input_tokens": 100, "output_tokens": 300, "model": "qwen3:1.7b"},
        "b": {
            "instances": [
                {"usage": {"input_tokens": 50, "output_tokens": 150}},
                {"input_tokens": 50, "output_tokens": 150},
            ]
        },
        "judge": {"input_tokens": 900, "output_tokens": 200},
        "prep": {"input_tokens": 0, "output_tokens": 10},
    }
    cost = pj.propose_judge_cost(shape, usage)
    assert [p.total_tokens for p in cost.proposers] == [400, 400]
    assert cost.judge.total_tokens == 1100 and cost.other_tokens == 10
    assert cost.total_tokens == 400 + 400 + 1100 + 10
    assert cost.multiplier == round((800 + 1100) / 400, 2)
    assert "2 proposers 800 (a 400 + b 400) + judge 1,100" in cost.line()
    missing = pj.propose_judge_cost(shape, {"a": {"input_tokens": 1, "output_tokens": 1}})
    assert not missing.proposers[1].ran and not missing.judge.ran and missing.total_tokens == 2


# --------------------------------------------------------------------------- a real run


def judge_reply(body: dict) -> str:
    """The judge model: check what it was sent, answer with valid JSON."""
    assert body.get("format", {}).get("type") == "object", "the judge must ask for structured JSON"
    user = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    seen = [name for name in PROPOSERS if f"Agent {name}" in user]
    return json.dumps(
        {
            "verdict": "pick",
            "picked": "propose-llama",
            "reasoning": f"compared {', '.join(seen)}; the llama plan names the files and the risks",
            "result": "## Steps\n1. Add a token bucket in src/api/limits.py",
        }
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with plan-review and its profiles installed as a user would (llm-orc layout)."""
    proj = tmp_path / "proj"
    (proj / ".llm-orc" / "ensembles").mkdir(parents=True)
    (proj / ".llm-orc" / "profiles").mkdir()
    shutil.copy(PLAN_REVIEW, proj / ".llm-orc" / "ensembles" / "plan-review.yaml")
    for p in (KIT / "profiles").glob("plan-review-*.yaml"):
        shutil.copy(p, proj / ".llm-orc" / "profiles" / p.name)
    return proj


@pytest.fixture
def fake(fake_ollama_factory):
    return fake_ollama_factory(
        [
            FakeModel("qwen3:1.7b", reply="QWEN plan: one middleware.", tokens_per_second=400, parallel=2),
            FakeModel(
                "llama3.2:3b",
                reply="LLAMA plan: bucket in src/api/limits.py; risk: clock skew.",
                tokens_per_second=400,
                family="llama",
            ),
            FakeModel("gemma3:1b", reply="GEMMA plan: use nginx.", tokens_per_second=400, family="gemma3"),
            FakeModel("qwen3:4b", reply=judge_reply, tokens_per_second=400, parameter_size="4B"),
        ],
        speed=4,
    )


def test_plan_review_loads_through_the_engine_without_problems(project: Path, fake) -> None:
    catalog = load_catalog(project)
    entry = catalog.get("plan-review")
    assert entry is not None and entry.tier == "project" and entry.problems == []
    assert catalog.profiles.problems == []
    problems = check_runnable(entry.spec, list(fake.models), catalog.profiles, project=project)
    assert problems == []


async def test_plan_review_runs_against_fake_ollama(project: Path, fake) -> None:
    spec = load_catalog(project).get("plan-review").spec
    shape = pj.detect_propose_judge(spec)
    events: list = []
    provider = OllamaProvider(fake.url, timeout=20)
    try:
        ex = Executor(provider, project=project, profiles=load_profiles(project))
        result = await ex.run(spec, "Add rate limiting to the public API", on_event=events.append)
    finally:
        await provider.aclose()
    assert result.status == "completed", result.error
    # the proposers start before the judge, which waits for all three
    starts = [e.agent for e in events if isinstance(e, AgentStarted)]
    assert starts[-1] == "judge" and set(starts[:3]) == set(PROPOSERS)
    judge_start = next(e.t for e in events if isinstance(e, AgentStarted) and e.agent == "judge")
    assert all(e.t <= judge_start for e in events if isinstance(e, AgentFinished) and e.agent in PROPOSERS)
    # each proposer ran on its own family's model
    models = {e.agent: e.usage.model for e in events if isinstance(e, AgentFinished)}
    assert models == {
        "propose-qwen": "qwen3:1.7b",
        "propose-llama": "llama3.2:3b",
        "propose-gemma": "gemma3:1b",
        "judge": "qwen3:4b",
    }

    out = pj.outcome(shape, result)
    assert [p.agent for p in out.proposals] == PROPOSERS
    assert [p.picked for p in out.proposals] == [False, True, False]
    assert out.proposals[1].text.startswith("LLAMA plan") and out.proposals[1].status == "success"
    v = out.verdict
    assert v is not None and v.parsed and v.problems == []
    assert (v.verdict, v.picked) == ("pick", "propose-llama")
    assert "propose-qwen, propose-llama, propose-gemma" in v.reasoning  # the judge saw every proposal
    assert v.result.startswith("## Steps")

    # cost: every proposer plus the judge, equal to the run's own total
    cost = out.cost
    assert all(p.total_tokens > 0 for p in cost.proposers) and cost.judge.total_tokens > 0
    assert cost.total_tokens == result.total_tokens
    assert cost.judge.input_tokens > max(p.input_tokens for p in cost.proposers)  # it reads them all
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.total_tokens == cost.total_tokens

    # the same cost from the llm-orc-shaped artifact on disk
    assert result.artifact is not None
    execution = read_execution(result.artifact)
    assert pj.propose_judge_cost(shape, execution).total_tokens == cost.total_tokens


async def test_a_failed_proposer_leaves_the_judge_with_the_others(project: Path, fake) -> None:
    fake.fault("server-error", model="gemma3:1b")
    spec = load_catalog(project).get("plan-review").spec
    shape = pj.detect_propose_judge(spec)
    provider = OllamaProvider(fake.url, timeout=20)
    try:
        result = await Executor(
            provider, project=project, profiles=load_profiles(project), write_artifacts=False
        ).run(spec, "Plan it")
    finally:
        await provider.aclose()
    out = pj.outcome(shape, result)
    assert result.status == "failed"  # one agent failed (llm-orc semantics)
    assert out.proposals[2].status == "failed" and not out.cost.proposers[2].total_tokens
    assert out.verdict is not None and out.verdict.picked == "propose-llama"
    assert "propose-gemma" not in out.verdict.reasoning


# --------------------------------------------------------------------------- a Claude judge

CLAUDE_JUDGED = """\
name: plan-claude-judged
description: two local proposers, Claude judges
conductor: {pattern: propose-judge, judge: claude}
agents:
  - {name: propose-qwen, model: "qwen3:1.7b", provider: ollama}
  - {name: propose-llama, model: "llama3.2:3b", provider: ollama}
"""


def test_claude_judge_marker_and_cost_multiplier(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text(CLAUDE_JUDGED, encoding="utf-8")
    spec = load_ensemble_file(path)
    assert spec.problems == []
    shape = pj.detect_propose_judge(spec)
    assert shape.claude_judge and shape.proposers == ["propose-qwen", "propose-llama"]
    assert shape.agents == ["propose-qwen", "propose-llama"]
    cm = pj.cost_multiplier(spec)
    assert (cm.factor, cm.claude_judge) == (3.0, True)
    assert (
        cm.message()
        == "2 proposers + Claude judge ≈ 3× the tokens of one agent (the judge's tokens are Claude's)"
    )


async def test_local_proposers_with_a_claude_judge(tmp_path: Path, fake, fake_anthropic) -> None:
    import asyncio

    from conductor_tui.providers.anthropic import ClaudeProvider

    path = tmp_path / "e.yaml"
    path.write_text(CLAUDE_JUDGED, encoding="utf-8")
    spec = load_ensemble_file(path)
    shape = pj.detect_propose_judge(spec)
    provider = OllamaProvider(fake.url, timeout=20)
    try:
        result = await Executor(provider, write_artifacts=False).run(spec, "Add rate limiting")
    finally:
        await provider.aclose()
    assert result.status == "completed"
    fake_anthropic.script(
        {
            "verdict": "synthesis",
            "picked": "propose-llama",
            "reasoning": "llama names files; qwen is simpler",
            "result": "merged",
        }
    )
    claude = ClaudeProvider(api_key=fake_anthropic.api_key, base_url=fake_anthropic.url, timeout=10)
    try:
        judged = await asyncio.to_thread(pj.judge_with_claude, claude, shape, "Add rate limiting", result)
    finally:
        claude.close()
    assert (judged.verdict.verdict, judged.verdict.picked, judged.verdict.result) == (
        "synthesis",
        "propose-llama",
        "merged",
    )
    body = fake_anthropic.message_requests()[-1].body
    assert body["tool_choice"] == {"type": "tool", "name": "record_verdict"}
    prompt = body["messages"][0]["content"]
    assert (
        '<proposal agent="propose-qwen">\nQWEN plan' in prompt
        and '<proposal agent="propose-llama">' in prompt
    )
    out = pj.outcome(shape, result, judged)
    assert [p.picked for p in out.proposals] == [False, True]
    assert (
        out.cost.judge.name == "claude"
        and out.cost.judge.total_tokens == judged.usage.input_tokens + judged.usage.output_tokens > 0
    )
    assert out.cost.proposer_tokens == result.total_tokens
    # without the judgement yet: proposals shown, no verdict, judge not counted
    pending = pj.outcome(shape, result)
    assert pending.verdict is None and not pending.cost.judge.ran


def test_claude_judge_needs_a_proposal() -> None:
    shape = pj.ProposeJudgeShape("e", "claude", ["a", "b"], True)
    with pytest.raises(ValueError, match="nothing to judge"):
        pj.judge_with_claude(object(), shape, "t", {"agents": {"a": {"status": "failed"}}})


def test_claude_judge_uses_the_providers_public_stream_tool() -> None:
    """``judge_with_claude`` relies only on the provider's public API (``stream_tool``)."""
    calls: list[tuple] = []

    class PublicOnly:
        model = "claude-test"
        max_tokens_judge = 777

        def stream_tool(self, tool, system, prompt, max_tokens, *, on_progress=None):
            calls.append((tool["name"], max_tokens))
            data = {"verdict": "pick", "picked": "b", "reasoning": "b is right", "result": "B"}
            return json.dumps(data), {"input_tokens": 10, "output_tokens": 5}, data

    shape = pj.ProposeJudgeShape("e", "claude", ["a", "b"], True)
    run = {
        "agents": {"a": {"status": "success", "response": "A"}, "b": {"status": "success", "response": "B"}}
    }
    judged = pj.judge_with_claude(PublicOnly(), shape, "t", run)
    assert (judged.verdict.verdict, judged.verdict.picked, judged.model) == ("pick", "b", "claude-test")
    assert calls == [("record_verdict", 777)]
