"""The starter kit: it loads (here and in llm-orc's format), installs safely, and its
scripts and ensembles work end to end against the fake Ollama."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conductor_tui.core.spec import KEYS_BY_KIND, PROFILE_KEYS
from conductor_tui.core.store import ProjectStore
from conductor_tui.engine import loader
from conductor_tui.engine.executor import Executor
from conductor_tui.engine.kit import KIT_NAMES, install_starter_kit, kit_dir, kit_ensemble, kit_files
from conductor_tui.providers.ollama import OllamaProvider
from tests.fakes.ollama_server import FakeModel

KIT = kit_dir()
SCRIPTS = KIT / "scripts" / "starter-kit"


def test_the_five_ensembles_load_with_small_model_profiles():
    assert sorted(p.stem for p in KIT.glob("*.yaml")) == sorted(KIT_NAMES)
    kit_profiles = loader.ProfileSet()
    for p in (KIT / "profiles").glob("*.yaml"):
        doc = loader.read_yaml(p).data
        kit_profiles.profiles[doc["name"]] = loader.Profile.from_mapping(doc["name"], doc, p)
    for name in KIT_NAMES:
        spec = kit_ensemble(name)
        assert spec.name == name and spec.description and spec.problems == []
        kinds = {a.kind for a in spec.agents}
        assert kinds <= {"llm", "script"} and "llm" in kinds
        for agent in spec.agents:
            if agent.kind == "llm":
                prof = kit_profiles.get(agent.model_profile)
                assert prof is not None and prof.provider == "ollama"
                size = float(re.search(r":(\d+(?:\.\d+)?)b$", prof.model).group(1))
                assert size <= 7  # small models only
    for prof in kit_profiles.profiles.values():
        assert set(prof.raw) <= PROFILE_KEYS


def test_install_is_idempotent_and_never_overwrites_without_asking(project: Path):
    first = install_starter_kit(project)
    assert first.ok and first.unchanged == [] and len(first.written) == len(kit_files(KIT_NAMES, project))
    llm_orc = project / ".llm-orc"
    assert (llm_orc / "ensembles/write-commit-message.yaml").is_file()
    assert (llm_orc / "profiles/starter-small.yaml").is_file()
    assert (llm_orc / "scripts/starter-kit/_kit.py").is_file()
    cfg = ProjectStore(project).load_config()
    assert cfg.starter_kit_offered is True
    version = cfg.version

    second = install_starter_kit(project)
    assert second.written == [] and second.kept == [] and len(second.unchanged) == len(first.written)
    assert ProjectStore(project).load_config().version == version  # no new version for nothing

    mine = llm_orc / "ensembles/write-changelog.yaml"
    mine.write_text(mine.read_text() + "# my tweak\n")
    asked: list[Path] = []
    third = install_starter_kit(project, ["write-changelog"], confirm=lambda p: asked.append(p) or False)
    assert asked == [mine] and third.kept == [mine] and not third.ok
    assert mine.read_text().endswith("# my tweak\n")

    fourth = install_starter_kit(project, ["write-changelog"], overwrite=True)
    assert fourth.overwritten == [mine]
    assert mine.read_bytes() == (KIT / "write-changelog.yaml").read_bytes()
    assert (mine.parent / "write-changelog.yaml.bak").read_text().endswith("# my tweak\n")


def test_installed_kit_is_found_and_runnable(project: Path):
    install_starter_kit(project, ["write-commit-message", "fix-lint-violations"])
    cat = loader.load_catalog(project)
    assert {e.name for e in cat.entries.values() if e.tier == "project"} == {
        "write-commit-message",
        "fix-lint-violations",
    }
    for name in ("write-commit-message", "fix-lint-violations"):
        spec = cat.get(name).spec
        probs = loader.check_runnable(spec, ["qwen3:1.7b", "qwen3:4b"], cat.profiles, project=project)
        assert probs == []
        missing = loader.check_runnable(spec, ["gemma3:1b"], cat.profiles, project=project)
        assert any(p.fix == "ollama pull qwen3:1.7b" for p in missing)


def run_script(name: str, request: dict, cwd: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / name)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_collect_files_outlines_python(tmp_path: Path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/handlers.py").write_text(
        "import os\nfrom typing import Any\n\n@register\nclass PromotionHandler(Base):\n"
        "    async def handle(self, event: dict, *, dry: bool = False) -> Any:\n        return None\n"
    )
    out = run_script("collect_files.py", {"input": "pkg/*.py", "parameters": {}}, tmp_path)
    [item] = out["data"]
    assert item["path"] == "pkg/handlers.py" and item["language"] == "python"
    assert "@register class PromotionHandler(Base)" in item["outline"]["definitions"]
    assert (
        "    async def PromotionHandler.handle(self, event: dict, *, dry: bool=False) -> Any"
        in item["outline"]["definitions"]
    )
    assert run_script("collect_files.py", {"input": "nope/*.py"}, tmp_path)["success"] is False


def test_parse_violations_reads_lint_output_and_source(tmp_path: Path):
    (tmp_path / "app.py").write_text("import os\nx = 1\ndef f():\n    y = 2\n    return 1\n")
    lint = "app.py:1:8: F401 [*] `os` imported but unused\napp.py:4:5: F841 Local variable `y` is assigned to but never used\nFound 2 errors."
    out = run_script("parse_violations.py", {"input": lint}, tmp_path)
    first, second = out["data"]
    assert (first["path"], first["line"], first["rule"]) == ("app.py", 1, "F401")
    assert second["source_line"] == "    y = 2" and ">     y = 2" in second["context"]


def test_tidy_commit_shapes_the_message(tmp_path: Path):
    reply = "<think>hmm</think>\n```\nCommit message: feat(engine): stream every token to the cockpit.\nBody: This wires the executor to the UI so each delta shows up as soon as Ollama sends it, which keeps long runs observable.\n```"
    out = run_script(
        "tidy_commit.py",
        {
            "agent_name": "t",
            "input_data": "",
            "dependencies": {"draft-message": {"response": reply, "status": "success"}},
        },
        tmp_path,
    )
    msg = out["data"]
    subject, blank, *body = msg.splitlines()
    assert subject == "feat(engine): stream every token to the cockpit" and blank == ""
    assert body and all(len(line) <= 72 for line in body)


def test_format_fixes_checks_each_fix_against_the_file(tmp_path: Path):
    (tmp_path / "app.py").write_text("import os\nx = 1\n")
    fixes = [
        json.dumps(
            {"path": "app.py", "line": 1, "original": "import os", "fixed": "", "explanation": "unused"}
        ),
        json.dumps({"path": "app.py", "line": 2, "original": "x = 2", "fixed": "x = 3"}),
    ]
    out = run_script(
        "format_fixes.py",
        {"agent_name": "r", "input_data": "", "dependencies": {"fix": {"response": json.dumps(fixes)}}},
        tmp_path,
    )
    assert [f["check"] for f in out["fixes"]] == ["matches", "original differs from the file"]
    assert "- import os\n+ (delete this line)\n" in out["data"] and "- x = 2\n+ x = 3" in out["data"]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@e",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@e",
            "PATH": "/usr/bin:/bin:/usr/local/bin",
            "HOME": str(cwd),
        },
    )


async def test_write_commit_message_end_to_end(project: Path, fake_ollama_factory):
    git(project, "init", "-q")
    (project / "README.md").write_text("demo\n")
    git(project, "add", "README.md")
    git(project, "commit", "-qm", "feat: start")
    (project / "feature.py").write_text("def feature():\n    return 42\n")
    git(project, "add", "feature.py")
    install_starter_kit(project, ["write-commit-message"], mark_offered=False)

    def reply(body: dict) -> str:
        user = body["messages"][-1]["content"]
        assert (
            "feature.py" in user and "feat: start" in user
        )  # the staged diff and the conventions reached the model
        return "```\nfeat: add feature() returning 42.\n\nAdds a helper that returns the answer.\n```"

    fake = fake_ollama_factory([FakeModel("qwen3:1.7b", reply=reply, tokens_per_second=500)], speed=5)
    provider = OllamaProvider(fake.url)
    try:
        spec = loader.load_catalog(project).get("write-commit-message").spec
        result = await Executor(provider, project=project).run(spec, "")
    finally:
        await provider.aclose()
    assert result.status == "completed", {n: r.error for n, r in result.agents.items()}
    assert (
        result.deliverable == "feat: add feature() returning 42\n\nAdds a helper that returns the answer.\n"
    )


async def test_fix_lint_violations_end_to_end(project: Path, fake_ollama_factory):
    (project / "app.py").write_text("import os\nimport sys\nprint(sys.argv)\n")
    install_starter_kit(project, ["fix-lint-violations"], mark_offered=False)

    def reply(body: dict) -> str:
        item = json.loads(body["messages"][-1]["content"].split("Item content:\n", 1)[1])
        assert "format" not in body  # no format key: the kit loads in llm-orc 0.19 and 0.25
        fix = {
            "path": item["path"],
            "line": item["line"],
            "original": item["source_line"],
            "fixed": "",
            "explanation": "remove unused import",
        }
        return "Here is the fix:\n```json\n" + json.dumps(fix) + "\n```"  # small models add chatter

    fake = fake_ollama_factory(
        [FakeModel("qwen3:1.7b", reply=reply, tokens_per_second=500, parallel=2)], speed=5
    )
    provider = OllamaProvider(fake.url)
    try:
        spec = loader.load_catalog(project).get("fix-lint-violations").spec
        result = await Executor(provider, project=project).run(
            spec, "app.py:1:8: F401 [*] `os` imported but unused\n"
        )
    finally:
        await provider.aclose()
    assert result.status == "completed", {n: r.error for n, r in result.agents.items()}
    assert result.deliverable == "app.py:1 — remove unused import\n- import os\n+ (delete this line)\n"
    assert len(result.agents["fix-violation"].instances) == 1


@pytest.mark.parametrize("name", KIT_NAMES)
def test_kit_agents_use_only_keys_llm_orc_accepts(name: str):
    for agent in kit_ensemble(name).agents:
        assert set(agent.raw) <= KEYS_BY_KIND[agent.kind]


def test_workflow_extras_install_only_when_named(project: Path):
    from conductor_tui.engine.kit import WORKFLOW_NAMES, KitError, expand_names

    assert expand_names(None) == list(KIT_NAMES)  # the default stays the five universal ones
    assert expand_names(["workflows"]) == list(WORKFLOW_NAMES)
    with pytest.raises(KitError, match="extras: plan-review, distill-context"):
        expand_names(["plan-reveiw"])
    default = install_starter_kit(project)
    assert not (project / ".llm-orc/ensembles/plan-review.yaml").exists()
    assert not any("plan-review" in str(p) for p in default.written)

    result = install_starter_kit(project, ["plan-review"])
    llm_orc = project / ".llm-orc"
    assert result.ok and result.ensembles == ["plan-review"]
    assert (llm_orc / "ensembles/plan-review.yaml").read_bytes() == (
        KIT / "workflows/plan-review.yaml"
    ).read_bytes()
    for who in ("qwen", "llama", "gemma", "judge"):
        assert (llm_orc / f"profiles/plan-review-{who}.yaml").is_file()
    assert set(result.models) == {"qwen3:1.7b", "llama3.2:3b", "gemma3:1b", "qwen3:4b"}
    # installed, it loads from the project without problems (profiles resolved there)
    catalog = loader.load_catalog(project)
    entry = catalog.get("plan-review")
    assert entry is not None and entry.tier == "project" and entry.spec.problems == []

    both = install_starter_kit(project, ["workflows"])
    assert both.ensembles == ["plan-review", "distill-context"]
    assert (llm_orc / "ensembles/distill-context.yaml").is_file()
    assert (llm_orc / "ensembles/plan-review.yaml") in both.unchanged
    assert catalog_entry_ok(project, "distill-context")


def catalog_entry_ok(project: Path, name: str) -> bool:
    entry = loader.load_catalog(project).get(name)
    return entry is not None and entry.spec is not None and entry.spec.problems == []
