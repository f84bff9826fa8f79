"""OllamaProvider (real ``ollama`` client) against the fake Ollama over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from conductor_tui.providers.ollama import (
    ChatChunk,
    ChatUsage,
    LoadedModel,
    OllamaError,
    OllamaProvider,
    normalise_error,
)
from tests.fakes.ollama_server import FakeModel, FakeOllama, prompt_token_count, tokenize

MESSAGES = [{"role": "user", "content": "Summarise the plan in one line."}]


@pytest.fixture
async def provider(fake_ollama: FakeOllama):
    p = OllamaProvider(fake_ollama.url)
    yield p
    await p.aclose()


async def collect(stream) -> tuple[list[ChatChunk], list[ChatUsage], list]:
    items = [item async for item in stream]
    chunks = [i for i in items if isinstance(i, ChatChunk)]
    usages = [i for i in items if isinstance(i, ChatUsage)]
    return chunks, usages, items


async def expect_error(stream) -> tuple[OllamaError, list]:
    seen: list = []
    with pytest.raises(OllamaError) as info:
        async for item in stream:
            seen.append(item)
    return info.value, seen


# ---------------------------------------------------------------------------------------- status


async def test_status_reports_version_models_and_nothing_loaded(provider: OllamaProvider, fake_ollama):
    status = await provider.status()
    assert status.reachable is True
    assert status.error is None and status.fix is None
    assert status.version == "0.12.3"
    assert status.host == fake_ollama.url
    assert [m.name for m in status.models] == ["qwen3:1.7b", "llama3.2:3b", "gemma3:1b"]
    assert status.loaded == []


async def test_status_when_ollama_is_down_is_a_status_not_an_exception(closed_port: int):
    provider = OllamaProvider(f"http://127.0.0.1:{closed_port}", connect_timeout=1.0)
    status = await provider.status()
    await provider.aclose()
    assert status.reachable is False
    assert status.version is None and status.models == []
    assert status.error == f"Ollama is not running at 127.0.0.1:{closed_port} — start it with `ollama serve`"
    assert status.fix == "ollama serve"


async def test_status_after_the_server_stops_mid_session(fake_ollama: FakeOllama):
    provider = OllamaProvider(fake_ollama.url)
    assert (await provider.status()).reachable
    fake_ollama.stop()
    status = await provider.status()
    await provider.aclose()
    assert status.reachable is False
    assert "ollama serve" in (status.error or "")


async def test_default_host_comes_from_ollama_host(monkeypatch: pytest.MonkeyPatch, fake_ollama):
    assert OllamaProvider().host == "http://127.0.0.1:11434"
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{fake_ollama.port}")
    provider = OllamaProvider()
    assert provider.host == fake_ollama.url
    assert (await provider.status()).version == "0.12.3"
    await provider.aclose()


async def test_list_models_parses_tags(provider: OllamaProvider):
    models = {m.name: m for m in await provider.list_models()}
    llama = models["llama3.2:3b"]
    assert llama.size == 2_000_000_000
    assert llama.parameter_size == "3.2B"
    assert llama.quantization_level == "Q4_K_M"
    assert llama.family == "llama"
    assert len(llama.digest) == 64
    assert llama.modified_at == datetime(2025, 9, 1, 10, 0, tzinfo=UTC)


async def test_loaded_models_track_use_keep_alive_and_gpu_split(provider: OllamaProvider):
    await collect(provider.chat_stream("gemma3:1b", MESSAGES, keep_alive="10m"))
    await collect(provider.chat_stream("qwen3:1.7b", MESSAGES, keep_alive=-1, options={"num_ctx": 2048}))
    loaded = {m.name: m for m in await provider.loaded_models()}
    assert set(loaded) == {"gemma3:1b", "qwen3:1.7b"}
    gemma = loaded["gemma3:1b"]
    assert gemma.size == 815_000_000 and gemma.size_vram == 600_000_000
    assert gemma.vram_fraction == pytest.approx(600 / 815)
    assert gemma.cpu_fraction == pytest.approx(215 / 815)
    assert 590 <= gemma.seconds_to_unload() <= 600
    assert gemma.context_length == 4096
    qwen = loaded["qwen3:1.7b"]
    assert qwen.vram_fraction == 1.0 and qwen.cpu_fraction == 0.0
    assert qwen.seconds_to_unload() is None  # keep_alive < 0: forever
    assert qwen.context_length == 2048


async def test_keep_alive_zero_unloads_after_the_request(provider: OllamaProvider):
    await collect(provider.chat_stream("qwen3:1.7b", MESSAGES, keep_alive=0))
    assert await provider.loaded_models() == []


def test_loaded_model_arithmetic_without_a_server():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    m = LoadedModel("x", size=1000, size_vram=250, expires_at=now + timedelta(seconds=90))
    assert m.vram_fraction == 0.25 and m.cpu_fraction == 0.75
    assert m.seconds_to_unload(now) == 90
    assert m.seconds_to_unload(now.timestamp() + 100) == 0.0
    assert LoadedModel("y").vram_fraction == 0.0 and LoadedModel("y").seconds_to_unload() is None


async def test_show_returns_model_info_and_capabilities(provider: OllamaProvider):
    info = await provider.show("qwen3:1.7b")
    assert info["model_info"]["general.architecture"] == "qwen3"
    assert info["model_info"]["qwen3.context_length"] == 4096
    assert info["model_info"]["general.parameter_count"] == 1_700_000_000
    assert "thinking" in info["capabilities"] and "completion" in info["capabilities"]
    assert info["details"]["quantization_level"] == "Q4_K_M"
    assert "FROM qwen3:1.7b" in info["modelfile"]


async def test_show_unknown_model_is_model_missing(provider: OllamaProvider):
    with pytest.raises(OllamaError) as info:
        await provider.show("mistral:7b")
    assert info.value.kind == "model-missing"
    assert info.value.fix == "ollama pull mistral:7b"
    assert info.value.status == 404


# ---------------------------------------------------------------------------------------- streaming


async def test_stream_yields_chunks_in_order_then_exactly_one_usage(fake_ollama_factory):
    reply = "Plan: read the file, then summarise it.\nDone!"
    fake = fake_ollama_factory([FakeModel("m:1b", reply=reply, tokens_per_second=1000)])
    provider = OllamaProvider(fake.url)
    chunks, usages, items = await collect(provider.chat_stream("m:1b", MESSAGES))
    await provider.aclose()
    assert isinstance(items[-1], ChatUsage) and len(usages) == 1
    assert [c.text for c in chunks] == tokenize(reply)
    assert "".join(c.text for c in chunks) == reply
    usage = usages[0]
    record = fake.wait_for_outcome(timeout=30)
    assert record["outcome"] == "completed"
    metrics = record["metrics"]
    assert usage.model == "m:1b"
    assert usage.prompt_tokens == metrics["prompt_eval_count"] == prompt_token_count({"messages": MESSAGES})
    assert usage.output_tokens == metrics["eval_count"] == len(tokenize(reply))
    assert usage.total_duration_ns == metrics["total_duration"]
    assert usage.load_duration_ns == metrics["load_duration"]
    assert usage.prompt_eval_duration_ns == metrics["prompt_eval_duration"]
    assert usage.eval_duration_ns == metrics["eval_duration"]
    assert usage.done_reason == "stop"
    assert usage.total_tokens == usage.prompt_tokens + usage.output_tokens


async def test_tokens_per_second_match_the_pacing(fake_ollama_factory):
    reply = " ".join(f"w{i}" for i in range(40))  # 40 tokens
    fake = fake_ollama_factory([FakeModel("slow:1b", reply=reply, tokens_per_second=100.0)])
    provider = OllamaProvider(fake.url)
    started = time.monotonic()
    _, (usage,), _ = await collect(provider.chat_stream("slow:1b", MESSAGES))
    wall = time.monotonic() - started
    await provider.aclose()
    assert usage.output_tokens == 40
    assert usage.eval_duration_ns >= 0.4e9  # 40 tokens at 100 tok/s
    # the rate is the server's own count over its own eval time (a loaded box only makes it slower)
    assert usage.tokens_per_second == pytest.approx(40 / (usage.eval_duration_ns / 1e9))
    assert 0 < usage.tokens_per_second <= 100.0
    assert usage.total_duration_ns >= usage.eval_duration_ns + usage.prompt_eval_duration_ns
    assert wall * 1e9 >= usage.total_duration_ns * 0.95


async def test_speed_multiplier_scales_the_pacing(fake_ollama_factory):
    reply = " ".join(f"w{i}" for i in range(40))
    fake = fake_ollama_factory([FakeModel("m:1b", reply=reply, tokens_per_second=50.0)], speed=4.0)
    provider = OllamaProvider(fake.url)
    _, (usage,), _ = await collect(provider.chat_stream("m:1b", MESSAGES))
    await provider.aclose()
    assert 140.0 <= usage.tokens_per_second <= 200.0  # 50 tok/s x 4


async def test_load_time_is_paid_once(fake_ollama_factory):
    fake = fake_ollama_factory([FakeModel("big:7b", reply="ok", load_seconds=0.3)])
    provider = OllamaProvider(fake.url)
    _, (first,), _ = await collect(provider.chat_stream("big:7b", MESSAGES))
    _, (second,), _ = await collect(provider.chat_stream("big:7b", MESSAGES))
    await provider.aclose()
    assert first.load_duration_ns >= 0.3e9
    assert second.load_duration_ns < 0.1e9


async def test_thinking_streams_before_content(fake_ollama_factory):
    fake = fake_ollama_factory([FakeModel("qwen3:1.7b", reply="Yes.", thinking="Let me check.")])
    provider = OllamaProvider(fake.url)
    chunks, (usage,), _ = await collect(provider.chat_stream("qwen3:1.7b", MESSAGES, think=True))
    _, _, plain = await collect(provider.chat_stream("qwen3:1.7b", MESSAGES))
    await provider.aclose()
    assert "".join(c.thinking for c in chunks) == "Let me check."
    assert "".join(c.text for c in chunks) == "Yes."
    first_text = next(i for i, c in enumerate(chunks) if c.text)
    assert all(c.thinking for c in chunks[:first_text]) and not any(c.thinking for c in chunks[first_text:])
    assert usage.output_tokens == len(tokenize("Let me check.")) + len(tokenize("Yes."))
    assert all(not c.thinking for c in plain if isinstance(c, ChatChunk))


async def test_think_on_a_model_without_thinking_is_an_http_error(provider: OllamaProvider):
    error, _ = await expect_error(provider.chat_stream("llama3.2:3b", MESSAGES, think=True))
    assert error.kind == "http" and error.status == 400
    assert "does not support thinking" in str(error)


async def test_format_options_and_keep_alive_reach_the_server(fake_ollama_factory):
    answer = json.dumps({"verdict": "good", "score": 4})
    fake = fake_ollama_factory([FakeModel("m:1b", reply=lambda body: answer)])
    provider = OllamaProvider(fake.url)
    schema = {"type": "object", "properties": {"verdict": {"type": "string"}}}
    chunks, _, _ = await collect(
        provider.chat_stream(
            "m:1b", MESSAGES, format=schema, options={"temperature": 0.1, "num_ctx": 8192}, keep_alive="1m"
        )
    )
    await provider.aclose()
    assert json.loads("".join(c.text for c in chunks)) == {"verdict": "good", "score": 4}
    body = fake.generation_requests()[-1]["body"]
    assert body["format"] == schema
    assert body["options"] == {"temperature": 0.1, "num_ctx": 8192}
    assert body["keep_alive"] == "1m"
    assert body["stream"] is True
    assert body["messages"] == MESSAGES


async def test_num_predict_truncates_with_done_reason_length(fake_ollama_factory):
    fake = fake_ollama_factory([FakeModel("m:1b", reply="one two three four five six")])
    provider = OllamaProvider(fake.url)
    chunks, (usage,), _ = await collect(provider.chat_stream("m:1b", MESSAGES, options={"num_predict": 3}))
    await provider.aclose()
    assert "".join(c.text for c in chunks) == "one two three"
    assert usage.output_tokens == 3 and usage.done_reason == "length"


async def test_empty_reply_gives_usage_with_zero_output(fake_ollama_factory):
    fake = fake_ollama_factory([FakeModel("m:1b", reply="")])
    provider = OllamaProvider(fake.url)
    chunks, (usage,), _ = await collect(provider.chat_stream("m:1b", MESSAGES))
    await provider.aclose()
    assert chunks == []
    assert usage.output_tokens == 0 and usage.tokens_per_second == 0.0 and usage.prompt_tokens > 0


# ---------------------------------------------------------------------------------------- faults


async def test_unknown_model_is_model_missing_with_pull_fix(provider: OllamaProvider):
    error, seen = await expect_error(provider.chat_stream("qwen3:8b", MESSAGES))
    assert seen == []
    assert error.kind == "model-missing"
    assert error.fix == "ollama pull qwen3:8b"
    assert error.status == 404
    assert "ollama pull qwen3:8b" in str(error) and "\n" not in str(error)


async def test_not_found_fault_on_an_installed_model(provider: OllamaProvider, fake_ollama: FakeOllama):
    fake_ollama.fault("not-found", "qwen3:1.7b", times=1)
    error, _ = await expect_error(provider.chat_stream("qwen3:1.7b", MESSAGES))
    assert error.kind == "model-missing" and error.fix == "ollama pull qwen3:1.7b"
    _, usages, _ = await collect(provider.chat_stream("qwen3:1.7b", MESSAGES))  # times=1: next one works
    assert len(usages) == 1


async def test_server_error_before_the_stream(provider: OllamaProvider, fake_ollama: FakeOllama):
    fake_ollama.fault("server-error")
    error, seen = await expect_error(provider.chat_stream("qwen3:1.7b", MESSAGES))
    assert seen == []
    assert error.kind == "http" and error.status == 500
    assert "llama runner process has terminated" in str(error)


async def test_busy_is_its_own_kind(provider: OllamaProvider, fake_ollama: FakeOllama):
    fake_ollama.fault("busy", "qwen3:1.7b")
    error, _ = await expect_error(provider.chat_stream("qwen3:1.7b", MESSAGES))
    assert error.kind == "busy" and error.status == 503
    # other models are unaffected
    assert len((await collect(provider.chat_stream("gemma3:1b", MESSAGES)))[1]) == 1


async def test_error_line_mid_stream(fake_ollama_factory):
    fake = fake_ollama_factory([FakeModel("m:1b", reply="a b c d e f g h", tokens_per_second=1000)])
    fake.fault("error-midstream", after_tokens=3)
    provider = OllamaProvider(fake.url)
    error, seen = await expect_error(provider.chat_stream("m:1b", MESSAGES))
    await provider.aclose()
    assert [c.text for c in seen] == ["a", " b", " c"]
    assert error.kind == "stream"
    assert "unexpected EOF" in str(error)
    assert fake.wait_for_outcome(timeout=30)["outcome"] == "fault:error-midstream"


async def test_connection_cut_mid_stream(fake_ollama_factory):
    fake = fake_ollama_factory([FakeModel("m:1b", reply="a b c d e f g h", tokens_per_second=1000)])
    fake.fault("cut-midstream", after_tokens=2)
    provider = OllamaProvider(fake.url)
    error, seen = await expect_error(provider.chat_stream("m:1b", MESSAGES))
    assert [c.text for c in seen] == ["a", " b"]
    assert error.kind == "stream"
    assert "cut" in str(error)
    # the provider recovers: the next request opens a fresh connection
    fake.clear_faults()
    assert len((await collect(provider.chat_stream("m:1b", MESSAGES)))[1]) == 1
    await provider.aclose()


async def test_slow_first_token_with_a_short_timeout_is_a_timeout(fake_ollama: FakeOllama):
    fake_ollama.fault("slow-first-token", delay=10.0)
    provider = OllamaProvider(fake_ollama.url, timeout=0.3)
    started = time.monotonic()
    error, seen = await expect_error(provider.chat_stream("qwen3:1.7b", MESSAGES))
    elapsed = time.monotonic() - started
    await provider.aclose()
    assert seen == []
    assert error.kind == "timeout"
    assert elapsed < 5.0  # the 0.3 s timeout cut the 10 s wait short (margin for a loaded CI box)


async def test_slow_first_token_within_the_timeout_still_completes(fake_ollama: FakeOllama):
    fake_ollama.fault("slow-first-token", delay=0.2)
    provider = OllamaProvider(fake_ollama.url, timeout=5)
    _, (usage,), _ = await collect(provider.chat_stream("qwen3:1.7b", MESSAGES))
    await provider.aclose()
    assert usage.prompt_eval_duration_ns >= 0.2e9


async def test_connection_refused_while_streaming(closed_port: int):
    provider = OllamaProvider(f"127.0.0.1:{closed_port}")
    error, _ = await expect_error(provider.chat_stream("qwen3:1.7b", MESSAGES))
    await provider.aclose()
    assert error.kind == "unreachable"
    assert str(error) == f"Ollama is not running at 127.0.0.1:{closed_port} — start it with `ollama serve`"


def test_normalise_error_maps_every_client_failure():
    import httpx
    import ollama

    host = "http://127.0.0.1:11434"
    assert normalise_error(ollama.ResponseError("boom"), host=host).kind == "stream"
    assert normalise_error(ConnectionError("Failed to connect"), host=host).kind == "unreachable"
    assert normalise_error(httpx.ConnectError("refused"), host=host).kind == "unreachable"
    assert normalise_error(httpx.ConnectTimeout("slow"), host=host).kind == "unreachable"
    assert normalise_error(httpx.ReadTimeout("slow"), host=host).kind == "timeout"
    assert normalise_error(httpx.RemoteProtocolError("peer closed"), host=host).kind == "stream"
    assert normalise_error(json.JSONDecodeError("bad", "x", 0), host=host).kind == "stream"
    e = normalise_error(ollama.ResponseError('{"error":"nope"}', 502), host=host)
    assert (e.kind, e.status, str(e)) == ("http", 502, "Ollama returned HTTP 502: nope")


# ---------------------------------------------------------------------------------------- concurrency


async def _two_at_once(fake: FakeOllama, model: str) -> list[dict]:
    provider = OllamaProvider(fake.url)
    results = await asyncio.gather(
        collect(provider.chat_stream(model, MESSAGES)), collect(provider.chat_stream(model, MESSAGES))
    )
    await provider.aclose()
    assert all(len(r[1]) == 1 for r in results)

    def finished() -> bool:  # outcome and t_end are stamped just after the last chunk is written
        reqs = fake.generation_requests()
        return len(reqs) == 2 and all(r.get("outcome") == "completed" for r in reqs)

    assert await asyncio.to_thread(fake.wait_until, finished, 30.0), fake.generation_requests()
    return sorted(fake.generation_requests(), key=lambda r: r["t_slot"])


async def test_parallel_one_serialises_requests(fake_ollama_factory):
    reply = " ".join(["tok"] * 40)
    nominal = 40 / 200  # seconds of paced output per request
    fake = fake_ollama_factory([FakeModel("m:1b", reply=reply, tokens_per_second=200, parallel=1)])
    first, second = await _two_at_once(fake, "m:1b")
    # server-side timestamps only: the second arrived while the first was running …
    assert second["t_received"] < first["t_end"]
    assert second["t_slot"] >= first["t_end"] - 0.005  # … but waited for the slot
    d1 = first["t_end"] - first["t_slot"]
    d2 = second["t_end"] - second["t_slot"]
    assert min(d1, d2) >= nominal  # each one paced in full
    span = second["t_end"] - first["t_slot"]
    assert span >= d1 + d2 - 0.005  # one after the other: no overlap at all


async def test_parallel_two_overlaps_requests(fake_ollama_factory):
    reply = " ".join(["tok"] * 40)
    fake = fake_ollama_factory([FakeModel("m:1b", reply=reply, tokens_per_second=200, parallel=2)])
    first, second = await _two_at_once(fake, "m:1b")
    assert second["t_slot"] < first["t_end"]  # the second got a slot while the first ran
    d1 = first["t_end"] - first["t_slot"]
    d2 = second["t_end"] - second["t_slot"]
    span = max(first["t_end"], second["t_end"]) - first["t_slot"]
    assert span < d1 + d2  # they overlapped (serialised, span would be at least d1 + d2)


# ---------------------------------------------------------------------------------------- cancellation


async def test_cancelling_the_consumer_closes_the_connection(fake_ollama_factory):
    reply = " ".join(["word"] * 4000)  # 200 s at 20 tok/s: only a closed connection ends it early
    fake = fake_ollama_factory([FakeModel("m:1b", reply=reply, tokens_per_second=20)])
    provider = OllamaProvider(fake.url)
    first_chunk = asyncio.Event()

    async def consume():
        async for item in provider.chat_stream("m:1b", MESSAGES):
            if isinstance(item, ChatChunk):
                first_chunk.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_chunk.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    record = await asyncio.to_thread(fake.wait_for_outcome, -1, 30.0)
    await provider.aclose()
    assert record is not None and record["outcome"] == "client-disconnected"
    assert record["tokens_sent"] < 4000  # stopped early, whatever the machine's load


async def test_closing_the_stream_early_closes_the_connection(fake_ollama_factory):
    reply = " ".join(["word"] * 4000)
    fake = fake_ollama_factory([FakeModel("m:1b", reply=reply, tokens_per_second=20)])
    provider = OllamaProvider(fake.url)
    async with contextlib.aclosing(provider.chat_stream("m:1b", MESSAGES)) as stream:
        async for _ in stream:
            break
    record = await asyncio.to_thread(fake.wait_for_outcome, -1, 30.0)
    await provider.aclose()
    assert record is not None and record["outcome"] == "client-disconnected"
    assert record["tokens_sent"] < 4000


async def test_cancel_while_waiting_for_a_slot_frees_the_queue(fake_ollama_factory):
    fake = fake_ollama_factory([FakeModel("m:1b", reply=" ".join(["w"] * 100), tokens_per_second=50)])
    provider = OllamaProvider(fake.url)
    first = asyncio.create_task(collect(provider.chat_stream("m:1b", MESSAGES)))
    waiting = asyncio.create_task(collect(provider.chat_stream("m:1b", MESSAGES)))
    assert await asyncio.to_thread(fake.wait_until, lambda: len(fake.generation_requests()) == 2, 30.0)
    waiting.cancel()
    first.cancel()
    await asyncio.gather(first, waiting, return_exceptions=True)
    assert await asyncio.to_thread(
        fake.wait_until, lambda: all(r.get("outcome") for r in fake.generation_requests()), 30.0
    )
    assert {r["outcome"] for r in fake.generation_requests()} == {"client-disconnected"}
    await provider.aclose()


# ---------------------------------------------------------------------------------------- extras


async def test_load_and_unload(provider: OllamaProvider, fake_ollama: FakeOllama):
    await provider.load("llama3.2:3b", keep_alive="2m")
    (loaded,) = await provider.loaded_models()
    assert loaded.name == "llama3.2:3b" and 110 <= loaded.seconds_to_unload() <= 120
    await provider.unload("llama3.2:3b")
    assert await provider.loaded_models() == []
    with pytest.raises(OllamaError) as info:
        await provider.load("nope:1b")
    assert info.value.kind == "model-missing"


async def test_full_queue_is_busy(fake_ollama_factory):
    fake = fake_ollama_factory(
        [FakeModel("m:1b", reply=" ".join(["w"] * 200), tokens_per_second=100)], max_queue=1
    )
    provider = OllamaProvider(fake.url)
    results = await asyncio.gather(
        *(collect(provider.chat_stream("m:1b", MESSAGES)) for _ in range(3)), return_exceptions=True
    )
    await provider.aclose()
    errors = [r for r in results if isinstance(r, OllamaError)]
    assert len(errors) == 1 and errors[0].kind == "busy"
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 2


async def test_a_proxy_in_the_environment_is_not_used_for_local_ollama(
    provider: OllamaProvider, monkeypatch: pytest.MonkeyPatch, closed_port: int
):
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.delenv("no_proxy")
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{closed_port}")
    local = OllamaProvider(provider.host)
    status = await local.status()
    await local.aclose()
    assert status.reachable and status.error is None


async def test_a_burst_of_concurrent_requests_is_accepted_at_once(fake_ollama_factory):
    # regression: socketserver's default listen backlog (5) made the 6th+ connect wait ~1 s for a SYN retry
    fake = fake_ollama_factory([FakeModel("m:1b", reply="ok", parallel=16)])
    provider = OllamaProvider(fake.url)
    results = await asyncio.gather(*(collect(provider.chat_stream("m:1b", MESSAGES)) for _ in range(16)))
    await provider.aclose()
    assert all(len(usages) == 1 for _, usages, _ in results)
    arrivals = [r["t_received"] for r in fake.generation_requests()]
    assert max(arrivals) - min(arrivals) < 0.5


async def test_something_else_listening_is_reported_not_mistaken_for_a_missing_model():
    import http.server
    import threading

    class NotOllama(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(404)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"not found")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotOllama)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        provider = OllamaProvider(f"http://127.0.0.1:{server.server_address[1]}")
        status = await provider.status()
        await provider.aclose()
    finally:
        server.shutdown()
        server.server_close()
    assert status.reachable is True and status.version is None
    assert status.error == "Ollama returned HTTP 404: not found"
