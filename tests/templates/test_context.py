"""Context strategies: what a row receives, and the token accounting against "full"."""

from __future__ import annotations

from pathlib import Path

import pytest

from conductor_tui.core import context as c
from conductor_tui.core import templates as tpl
from conductor_tui.core.records import PlanRow, WorkflowPlan
from conductor_tui.engine.distill import find_distill_ensemble

PLAN_TEXT = "PLAN: " + "use a token bucket per API key; " * 40
PATTERNS_TEXT = "PATTERNS: " + "handlers are async functions in src/api; " * 60


@pytest.fixture
def project(tmp_path: Path) -> Path:
    p = tmp_path / "proj"
    (p / "src" / "api").mkdir(parents=True)
    (p / "src" / "api" / "limits.py").write_text("def limit(key):\n    return 10\n", encoding="utf-8")
    (p / "src" / "api" / "users.py").write_text("async def get_user(i):\n    ...\n" * 50, encoding="utf-8")
    return p


def deps() -> list[c.DependencyOutput]:
    return [c.DependencyOutput("patterns", PATTERNS_TEXT), c.DependencyOutput("plan", PLAN_TEXT, "the plan")]


def test_estimate_is_chars_over_four() -> None:
    assert c.estimate_tokens("") == 0
    assert c.estimate_tokens("abcd") == 1
    assert c.estimate_tokens("abcde") == 2
    assert c.estimate_tokens("x" * 4000) == 1000


def test_full_has_everything_and_saves_nothing(project: Path) -> None:
    res = c.build_context("Implement it", deps(), "full", files=["src/api/limits.py"], project=project)
    assert "PATTERNS:" in res.text and "PLAN:" in res.text and "def limit" in res.text
    assert res.tokens == res.full_tokens == c.estimate_tokens(res.text)
    assert res.saved_tokens == 0 and res.saved_percent == 0
    assert res.label() == f"full · ~{res.tokens:,} tok"
    assert all(p.included for p in res.parts)


def test_fresh_keeps_only_explicit_inputs(project: Path) -> None:
    res = c.build_context(
        "Implement it", deps(), "fresh", inputs=["plan"], files=["src/api/limits.py"], project=project
    )
    assert "PLAN:" in res.text and "PATTERNS:" not in res.text and "def limit" not in res.text
    full = c.build_context("Implement it", deps(), "full", files=["src/api/limits.py"], project=project)
    assert res.full_tokens == full.tokens
    assert res.saved_tokens == full.tokens - res.tokens > 0
    assert res.saved_percent == round(100 * res.saved_tokens / full.tokens)
    excluded = {p.name: p.note for p in res.parts if not p.included}
    assert excluded == {"patterns": "not an explicit input", "src/api/limits.py": "not used by fresh"}
    assert "saves ~" in res.label() and res.label().startswith("fresh · ~")


def test_scoped_reads_only_the_named_files(project: Path) -> None:
    res = c.build_context(
        "Implement it",
        deps(),
        c.ContextStrategy.SCOPED,
        inputs=["plan"],
        files=["src/api/limits.py"],
        project=project,
    )
    assert "def limit" in res.text and "get_user" not in res.text and "PATTERNS:" not in res.text
    assert "PLAN:" in res.text
    assert res.saved_tokens > 0 and res.problems == []
    globbed = c.build_context("x", [], "scoped", files=["src/api/*.py"], project=project)
    assert "def limit" in globbed.text and "get_user" in globbed.text


def test_scoped_file_problems_are_reported_not_raised(project: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("no", encoding="utf-8")
    res = c.build_context(
        "x", [], "scoped", files=["src/missing.py", "../secret.txt", "lib/*.py"], project=project
    )
    assert any("src/missing.py not found" in p for p in res.problems)
    assert any("outside the project" in p for p in res.problems)
    assert any("nothing matches lib/*.py" in p for p in res.problems)
    assert "no" not in res.text.split("\n")
    assert c.build_context("x", [], "scoped").problems == [
        "scoped context without files: only the task and explicit inputs are given"
    ]


def test_big_files_are_capped(project: Path) -> None:
    (project / "big.txt").write_text("y" * (c.MAX_FILE_CHARS + 500), encoding="utf-8")
    res = c.build_context("x", [], "scoped", files=["big.txt"], project=project)
    assert "500 more characters cut" in res.text and res.tokens < c.MAX_FILE_CHARS // 4 + 100


def test_distilled_is_two_steps(project: Path) -> None:
    first = c.build_context(
        "Implement it", deps(), "distilled", inputs=["plan"], distill_ensemble="my-distiller"
    )
    assert not first.ready and first.distill is not None
    req = first.distill
    assert req.ensemble == "my-distiller" and req.sources == ["patterns", "plan"]
    assert "PLAN:" in req.input_text and "PATTERNS:" in req.input_text and "Implement it" in req.input_text
    assert req.input_tokens == c.estimate_tokens(req.input_text)
    assert "summary pending" in first.label()
    summary = "- token bucket per key\n- handlers async in src/api"
    done = c.build_context(
        "Implement it", deps(), "distilled", inputs=["plan"], summary=summary, summary_tokens_spent=812
    )
    assert done.ready and summary in done.text and "PLAN:" not in done.text and "PATTERNS:" not in done.text
    assert done.saved_percent > 80
    assert done.to_json()["summary_tokens_spent"] == 812 and done.to_json()["estimate"] == "chars/4"
    # with nothing to distil there is nothing to run
    assert c.build_context("x", [], "distilled").ready


def test_unknown_strategy_and_inputs() -> None:
    with pytest.raises(ValueError, match="unknown context strategy"):
        c.build_context("x", [], "everything")
    res = c.build_context("x", deps(), "fresh", inputs=["nope"])
    assert res.problems == ['input "nope" is not among the dependencies (patterns, plan)']
    assert c.parse_strategy("Distill") == c.ContextStrategy.DISTILLED
    assert c.parse_strategy("clean") == c.ContextStrategy.FRESH
    assert c.parse_strategy(3) is None


def test_row_strategy_wins_over_phase() -> None:
    row = PlanRow(id="a", context_strategy="scoped", context_files=["a.py"])
    spec = c.context_spec_for(row, {"context": "fresh", "files": ["b.py"]})
    assert (spec.strategy, spec.files) == (c.ContextStrategy.SCOPED, ["a.py"])
    spec = c.context_spec_for(PlanRow(id="b"), {"context": "distilled", "distill_with": "d"})
    assert (spec.strategy, spec.distill_with) == (c.ContextStrategy.DISTILLED, "d")
    assert c.context_spec_for(PlanRow(id="c")).strategy == c.ContextStrategy.FULL


def test_row_context_over_a_template_plan(project: Path) -> None:
    plan = tpl.instantiate(tpl.get_template("feature-build", None), "Add rate limiting")
    outputs = {
        "patterns": PATTERNS_TEXT,
        "plan": PLAN_TEXT,
        "implement": "IMPL: " + "changed limits.py; " * 30,
    }
    # audit: fresh, explicit inputs plan + implement; verify rows' outputs missing → left out
    audit = c.row_context(plan, "audit", outputs, project=project)
    assert audit.strategy == c.ContextStrategy.FRESH
    assert "PLAN:" in audit.text and "IMPL:" in audit.text and "PATTERNS:" not in audit.text
    # "full" for the audit row would have accumulated every ancestor, patterns included
    assert audit.full_tokens > audit.tokens and audit.saved_tokens >= c.estimate_tokens(PATTERNS_TEXT)
    # implement: distilled → a request first
    impl = c.row_context(plan, "implement", outputs, project=project)
    assert impl.distill is not None and impl.distill.ensemble == "distill-context"
    assert impl.distill.sources == ["plan"]
    # plan: full → accumulates its ancestor (patterns)
    plan_row = c.row_context(plan, "plan", outputs, project=project)
    assert "PATTERNS:" in plan_row.text and plan_row.saved_tokens == 0
    assert c.ancestors(plan, "commit") == [
        "patterns",
        "plan",
        "implement",
        "verify.tests",
        "verify.lint",
        "audit",
        "changelog",
    ]


def test_ancestors_tolerate_unknown_ids() -> None:
    plan = WorkflowPlan(subtasks=[PlanRow(id="a", depends_on=["ghost"]), PlanRow(id="b", depends_on=["a"])])
    assert c.ancestors(plan, "b") == ["a"]
    assert c.ancestors(plan, "zzz") == []


async def test_distilled_end_to_end_through_the_engine(fake_ollama_factory) -> None:
    """The request names a real ensemble; the executor runs it on the fake Ollama; its
    deliverable becomes the summary the row receives."""
    from conductor_tui.engine.executor import Executor
    from conductor_tui.providers.ollama import OllamaProvider
    from tests.engine.conftest import profiles
    from tests.fakes.ollama_server import FakeModel

    def distil(body: dict) -> str:
        user = body["messages"][-1]["content"]
        assert "# Next step\nImplement it" in user and "PLAN:" in user
        return "## Decisions\n- token bucket per API key"

    fake = fake_ollama_factory([FakeModel("qwen3:1.7b", reply=distil, tokens_per_second=400)], speed=4)
    first = c.build_context("Implement it", deps(), "distilled")
    spec = find_distill_ensemble(first.distill.ensemble)
    assert spec.name == "distill-context" and spec.problems == []
    provider = OllamaProvider(fake.url, timeout=20)
    try:
        ex = Executor(
            provider,
            profiles=profiles(**{"starter-small": {"model": "qwen3:1.7b", "provider": "ollama"}}),
            write_artifacts=False,
        )
        run = await ex.run(spec, first.distill.input_text)
    finally:
        await provider.aclose()
    assert run.status == "completed"
    done = c.build_context(
        "Implement it", deps(), "distilled", summary=run.deliverable, summary_tokens_spent=run.total_tokens
    )
    assert "token bucket per API key" in done.text and "PLAN:" not in done.text
    assert done.saved_tokens > 0 and done.summary_tokens_spent == run.total_tokens > 0


def test_find_distill_ensemble_prefers_the_project_and_fails_clearly() -> None:
    from tests.engine.conftest import ensemble, llm

    own = ensemble([llm("mine")], name="distill-context")
    assert find_distill_ensemble("distill-context", {"distill-context": own}) is own
    with pytest.raises(LookupError, match='no summarising ensemble "other"'):
        find_distill_ensemble("other", {})
