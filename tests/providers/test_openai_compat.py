"""The OpenAI-compatible provider: the real ``openai`` client against the fake server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from conductor_tui.providers.ollama import ChatChunk
from conductor_tui.providers.openai_compat import OpenAICompatError, OpenAICompatProvider, OpenAIUsage
from tests.fakes.openai_server import FakeOpenAIModel

MSGS = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "name three prime numbers"}]


async def collect(provider, model="smollm2", **kw):
    chunks, usage = [], None
    async with contextlib.aclosing(provider.chat_stream(model, MSGS, **kw)) as stream:
        async for item in stream:
            if isinstance(item, ChatChunk):
                chunks.append(item)
            else:
                usage = item
    return chunks, usage


async def test_streams_token_by_token_with_server_usage(fake_openai):
    async with OpenAICompatProvider(fake_openai.url) as p:
        chunks, usage = await collect(p)
    text = "".join(c.text for c in chunks)
    assert text == "smollm2 answers: name three prime numbers"
    assert len(chunks) == 7  # one delta per token, the empty role delta is not yielded
    assert isinstance(usage, OpenAIUsage)
    assert usage.usage_source == "server"
    assert usage.output_tokens == 7
    assert usage.prompt_tokens > 0
    assert usage.done_reason == "stop"
    assert usage.time_to_first_token_ns > 0 and usage.eval_duration_ns > 0
    assert 0 < usage.tokens_per_second
    req = fake_openai.chat_requests()[-1]
    assert req["body"]["stream"] is True
    assert req["body"]["stream_options"] == {"include_usage": True}
    assert req["outcome"] == "completed"


async def test_options_map_to_chat_completion_parameters(fake_openai):
    async with OpenAICompatProvider(fake_openai.url) as p:
        chunks, usage = await collect(
            p, options={"num_predict": 3, "temperature": 0.2, "top_k": 20, "num_ctx": 8192}, format="json"
        )
    body = fake_openai.chat_requests()[-1]["body"]
    assert body["max_tokens"] == 3 and body["temperature"] == 0.2
    assert body["top_k"] == 20  # extra body field for vLLM / llama.cpp
    assert "num_ctx" not in body  # a server setting here, not a request field
    assert body["response_format"] == {"type": "json_object"}
    assert usage.output_tokens == 3 and usage.done_reason == "length"
    assert len(chunks) == 3


async def test_api_key_from_profile_variable_is_sent_as_bearer(fake_openai_factory):
    server = fake_openai_factory(api_key="sk-test-123")
    async with OpenAICompatProvider(server.url, api_key="sk-test-123", api_key_env="MY_KEY") as p:
        _, usage = await collect(p)
        assert usage.output_tokens > 0
    assert server.chat_requests()[-1]["auth"] == "Bearer sk-test-123"
    async with OpenAICompatProvider(server.url, api_key=None, api_key_env="MY_KEY") as p:
        with pytest.raises(OpenAICompatError) as ei:
            await collect(p)
    assert ei.value.kind == "auth" and ei.value.fix == "export MY_KEY=<key>"
    assert "sk-test" not in str(ei.value)


async def test_list_models_and_status(fake_openai, closed_port):
    async with OpenAICompatProvider(fake_openai.url) as p:
        assert await p.list_models() == ["Qwen/Qwen2.5-1.5B-Instruct", "smollm2"]
        st = await p.status()
    assert st.reachable and st.models == ["Qwen/Qwen2.5-1.5B-Instruct", "smollm2"] and st.error is None
    async with OpenAICompatProvider(
        f"http://127.0.0.1:{closed_port}/v1", provider="llama-server", connect_timeout=1
    ) as p:
        st = await p.status()
    assert not st.reachable and st.kind == "unreachable"
    assert f"127.0.0.1:{closed_port}/v1" in st.error
    assert "llama-server" in st.fix


async def test_server_down_is_unreachable(closed_port):
    async with OpenAICompatProvider(f"http://127.0.0.1:{closed_port}/v1", max_retries=0) as p:
        with pytest.raises(OpenAICompatError) as ei:
            await collect(p)
    assert ei.value.kind == "unreachable"
    assert "not reachable" in str(ei.value) and ei.value.fix


async def test_unknown_model_is_model_missing(fake_openai):
    async with OpenAICompatProvider(fake_openai.url) as p:
        with pytest.raises(OpenAICompatError) as ei:
            await collect(p, model="no-such-model")
    assert ei.value.kind == "model-missing" and ei.value.status == 404
    assert "no-such-model" in str(ei.value) and "/models" in ei.value.fix


async def test_500_before_the_stream_is_http_error_after_retries(fake_openai):
    fake_openai.fault("server-error")
    async with OpenAICompatProvider(fake_openai.url, max_retries=1) as p:
        with pytest.raises(OpenAICompatError) as ei:
            await collect(p)
    assert ei.value.kind == "http" and ei.value.status == 500
    assert len(fake_openai.chat_requests()) == 2  # the client retried once, as configured


async def test_503_is_busy(fake_openai):
    fake_openai.fault("busy")
    async with OpenAICompatProvider(fake_openai.url, max_retries=0) as p:
        with pytest.raises(OpenAICompatError) as ei:
            await collect(p)
    assert ei.value.kind == "busy"


async def test_error_mid_stream_keeps_the_text_so_far(fake_openai):
    fake_openai.fault("error-midstream", after_tokens=2)
    got: list[str] = []
    async with OpenAICompatProvider(fake_openai.url) as p:
        with pytest.raises(OpenAICompatError) as ei:
            async for item in p.chat_stream("smollm2", MSGS):
                got.append(item.text)
    assert ei.value.kind == "stream" and "mid-stream" in str(ei.value)
    assert "model runner crashed" in str(ei.value)
    assert len(got) == 2


async def test_cut_connection_mid_stream(fake_openai):
    fake_openai.fault("cut-midstream", after_tokens=3)
    async with OpenAICompatProvider(fake_openai.url) as p:
        with pytest.raises(OpenAICompatError) as ei:
            await collect(p)
    assert ei.value.kind == "stream" and "cut" in str(ei.value)


async def test_server_that_never_answers_times_out(fake_openai):
    fake_openai.fault("slow-first-token", delay=30)
    async with OpenAICompatProvider(fake_openai.url, timeout=0.5, max_retries=0) as p:
        with pytest.raises(OpenAICompatError) as ei:
            await collect(p)
    assert ei.value.kind == "timeout"
    assert fake_openai.wait_for_outcome(-1, timeout=10)["outcome"] == "client-disconnected"


async def test_cancelling_closes_the_stream_and_the_server_sees_it(fake_openai_factory):
    server = fake_openai_factory([FakeOpenAIModel("slow", reply="word " * 10000, tokens_per_second=50)])
    started = asyncio.Event()

    async def consume(p):
        async for _item in p.chat_stream("slow", MSGS):
            started.set()

    async with OpenAICompatProvider(server.url) as p:
        task = asyncio.create_task(consume(p))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    rec = server.wait_for_outcome(-1, timeout=10)
    assert rec["outcome"] == "client-disconnected"


async def test_reasoning_content_streams_as_thinking(fake_openai_factory):
    server = fake_openai_factory([FakeOpenAIModel("r1", reply="42", reasoning="let me think")])
    async with OpenAICompatProvider(server.url) as p:
        chunks, usage = await collect(p, model="r1")
    assert "".join(c.thinking for c in chunks) == "let me think"
    assert "".join(c.text for c in chunks) == "42"


async def test_llama_cpp_timings_are_used_when_sent(fake_openai_factory):
    server = fake_openai_factory(llama_timings=True)
    async with OpenAICompatProvider(server.url) as p:
        _, usage = await collect(p)
    assert usage.server_timings and usage.server_timings["predicted_n"] == usage.output_tokens
    assert usage.eval_duration_ns == int(usage.server_timings["predicted_ms"] * 1e6)


def test_openai_is_not_imported_by_the_core_or_the_engine():
    import subprocess
    import sys

    code = (
        "import sys, conductor_tui.core, conductor_tui.engine.executor, conductor_tui.engine.loader, "
        "conductor_tui.providers.openai_compat; "
        "print('openai' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_a_server_that_ignores_include_usage_gets_estimated_counts(fake_openai_factory):
    server = fake_openai_factory(send_usage=False)  # as llama-cpp-python's server does
    async with OpenAICompatProvider(server.url) as p:
        chunks, usage = await collect(p)
    assert usage.usage_source == "estimated"
    assert usage.output_tokens == len(chunks) == 7  # one chunk per token
    assert usage.prompt_tokens == (len("be brief") // 4 + 4) + (len("name three prime numbers") // 4 + 4)
