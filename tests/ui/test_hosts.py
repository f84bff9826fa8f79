"""The cockpit with hosts besides the default Ollama: the Models screen lists each one (models, or
the error and the fix), the header counts them, and the ensembles on a down host are not runnable.
Real ``openai`` client against the fake OpenAI-compatible server; a closed port for the down host."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from tests.engine.conftest import write_yaml
from tests.fakes.gpu import FakeGpuProbe
from tests.ui.review_support import SIZE, empty_app, settle


def add_hosts(project: Path, up_url: str, down_url: str) -> None:
    llm_orc = project / ".llm-orc"
    write_yaml(
        llm_orc / "profiles/vllm.yaml",
        {"name": "vllm", "model": "smollm2", "provider": "openai-compatible", "base_url": up_url},
    )
    write_yaml(
        llm_orc / "profiles/llama.yaml",
        {"name": "llama", "model": "m", "provider": "llama-server", "base_url": down_url},
    )
    for name, prof in (("on-vllm", "vllm"), ("on-llama", "llama")):
        write_yaml(
            llm_orc / f"ensembles/{name}.yaml",
            {"name": name, "description": "d", "agents": [{"name": "a", "model_profile": prof}]},
        )


async def test_models_screen_and_header_show_every_host(tmp_path, fake_openai, closed_port):
    app, project = empty_app(tmp_path, "models", gpu=FakeGpuProbe.none())
    down = f"http://127.0.0.1:{closed_port}/v1"
    add_hosts(project, fake_openai.url, down)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        box = screen.query_one("#md-hosts", Static)
        assert box.display
        text = str(box.render())
        assert (
            f"openai-compatible {fake_openai.url}" in text
            and "2 model(s): Qwen/Qwen2.5-1.5B-Instruct, smollm2" in text
        )
        assert (
            f"llama-server {down}" in text
            and "not reachable" in text
            and "Fix: start it: llama-server" in text
        )
        assert "profiles: vllm" in text and "profiles: llama" in text
        header = str(app.screen.query_one("#sb-ollama", Static).render())
        assert "hosts 1/2 up" in header and f"127.0.0.1:{closed_port} ✗" in header
        app.refresh_catalog()
        await settle(pilot)
        assert app.catalog.get("on-vllm").runnable
        on_llama = app.catalog.get("on-llama")
        assert not on_llama.runnable and "not reachable" in on_llama.problems[0]


async def test_without_other_hosts_nothing_changes(tmp_path):
    app, _ = empty_app(tmp_path, "models", gpu=FakeGpuProbe.none())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not app.screen.query_one("#md-hosts", Static).display
        assert "hosts" not in str(app.screen.query_one("#sb-ollama", Static).render())
