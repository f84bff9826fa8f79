"""FakeAnthropic speaks the Messages wire protocol: checked with the real client and raw HTTP."""

from __future__ import annotations

import json

import anthropic
import httpx2
import pytest

from tests.fakes.anthropic_server import Fault, Reply

MODEL = "claude-sonnet-4-6"
MSG = [{"role": "user", "content": "hello"}]
HEADERS = {"anthropic-version": "2023-06-01", "content-type": "application/json"}


def _client(fake, **kw):
    return anthropic.Anthropic(api_key=fake.api_key, base_url=fake.url, **kw)


def _sse_events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_non_streaming_text_message(fake_anthropic):
    fake_anthropic.script(Reply(text="Hi there", input_tokens=7, output_tokens=3))
    message = _client(fake_anthropic).messages.create(model=MODEL, max_tokens=50, messages=MSG)
    assert message.content[0].type == "text" and message.content[0].text == "Hi there"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (7, 3)


def test_streaming_event_order_with_ping_and_cumulative_usage(fake_anthropic):
    fake_anthropic.script(Reply(text="abcdefghij", chunk_chars=4, input_tokens=11, output_tokens=5))
    body = {"model": MODEL, "max_tokens": 50, "messages": MSG, "stream": True}
    response = httpx2.post(
        f"{fake_anthropic.url}/v1/messages",
        json=body,
        headers={**HEADERS, "x-api-key": fake_anthropic.api_key},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _sse_events(response.text)
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(name == data["type"] for name, data in events)
    assert "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta") == "abcdefghij"
    assert events[0][1]["message"]["usage"]["input_tokens"] == 11
    assert events[-2][1]["usage"]["output_tokens"] == 5  # cumulative total on message_delta


def test_forced_tool_streams_input_json_deltas(fake_anthropic):
    tool = {"name": "rec", "description": "d", "input_schema": {"type": "object"}}
    fake_anthropic.script(Reply(tool_input={"reflection": "ok", "score": "good"}, chunk_chars=5))
    with _client(fake_anthropic).messages.stream(
        model=MODEL, max_tokens=50, messages=MSG, tools=[tool], tool_choice={"type": "tool", "name": "rec"}
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    deltas = [e.delta.partial_json for e in events if e.type == "content_block_delta"]
    assert deltas[0] == ""  # like the real API
    assert json.loads("".join(deltas)) == {"reflection": "ok", "score": "good"}
    block = final.content[0]
    assert block.type == "tool_use" and block.name == "rec" and block.input["score"] == "good"
    assert final.stop_reason == "tool_use"


def test_output_config_format_answers_json_text(fake_anthropic):
    fake_anthropic.script(Reply(tool_input={"score": "acceptable"}))
    message = _client(fake_anthropic).messages.create(
        model=MODEL,
        max_tokens=50,
        messages=MSG,
        output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}},
    )
    assert json.loads(message.content[0].text) == {"score": "acceptable"}


def test_count_tokens(fake_anthropic):
    count = _client(fake_anthropic).messages.count_tokens(model=MODEL, messages=MSG)
    assert count.input_tokens >= 1


@pytest.mark.parametrize("auth", ["x-api-key", "bearer", "wrong", "none"])
def test_auth_accepts_x_api_key_or_bearer(fake_anthropic, auth):
    headers = dict(HEADERS)
    if auth == "x-api-key":
        headers["x-api-key"] = fake_anthropic.api_key
    elif auth == "bearer":
        headers["authorization"] = f"Bearer {fake_anthropic.api_key}"
    elif auth == "wrong":
        headers["x-api-key"] = "nope"
    body = {"model": MODEL, "max_tokens": 5, "messages": MSG}
    response = httpx2.post(f"{fake_anthropic.url}/v1/messages", json=body, headers=headers)
    expected = 200 if auth in ("x-api-key", "bearer") else 401
    assert response.status_code == expected
    if expected == 401:
        assert response.json()["error"]["type"] == "authentication_error"


def test_missing_version_header_is_a_400(fake_anthropic):
    response = httpx2.post(
        f"{fake_anthropic.url}/v1/messages",
        json={"model": MODEL},
        headers={"x-api-key": fake_anthropic.api_key},
    )
    assert response.status_code == 400


def test_fault_statuses_and_retry_after_headers(fake_anthropic):
    fake_anthropic.script(Fault(429, retry_after_ms=1500), Fault(529), Fault(500))
    body = {"model": MODEL, "max_tokens": 5, "messages": MSG}
    headers = {**HEADERS, "x-api-key": fake_anthropic.api_key}
    r429 = httpx2.post(f"{fake_anthropic.url}/v1/messages", json=body, headers=headers)
    assert r429.status_code == 429 and r429.headers["retry-after-ms"] == "1500"
    assert r429.headers["retry-after"] == "2" and r429.json()["error"]["type"] == "rate_limit_error"
    r529 = httpx2.post(f"{fake_anthropic.url}/v1/messages", json=body, headers=headers)
    assert r529.status_code == 529 and r529.json()["error"]["type"] == "overloaded_error"
    r500 = httpx2.post(f"{fake_anthropic.url}/v1/messages", json=body, headers=headers)
    assert r500.status_code == 500 and r500.json()["error"]["type"] == "api_error"


def test_error_event_mid_stream_raises_in_the_client(fake_anthropic):
    fake_anthropic.script(Reply(text="x" * 50, chunk_chars=5, error_after=2))
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        with _client(fake_anthropic).messages.stream(model=MODEL, max_tokens=50, messages=MSG) as stream:
            list(stream)


def test_cut_mid_stream_is_a_protocol_error_not_a_clean_end(fake_anthropic):
    fake_anthropic.script(Reply(text="x" * 50, chunk_chars=5, cut_after=2))
    with pytest.raises(httpx2.RemoteProtocolError):
        with _client(fake_anthropic).messages.stream(model=MODEL, max_tokens=50, messages=MSG) as stream:
            list(stream)


def test_requests_are_recorded(fake_anthropic):
    _client(fake_anthropic).messages.create(model=MODEL, max_tokens=5, messages=MSG, system="be brief")
    request = fake_anthropic.message_requests()[0]
    assert request.body["system"] == "be brief" and request.body["model"] == MODEL
    assert request.headers["anthropic-version"] and not request.streamed
    assert fake_anthropic.pending == 0
