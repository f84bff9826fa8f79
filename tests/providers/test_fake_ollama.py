"""The fake Ollama itself: raw wire format (no client in between), CLI, helpers."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import httpx
import pytest

from tests.fakes.ollama_server import (
    FakeModel,
    FakeOllama,
    parse_keep_alive,
    prompt_token_count,
    tokenize,
)


def _lines(raw: bytes) -> list[bytes]:
    assert raw.endswith(b"\n"), "every NDJSON object ends with a newline"
    lines = raw[:-1].split(b"\n")
    assert all(line.strip() for line in lines), "no blank lines in NDJSON"
    return lines


@pytest.mark.parametrize("path", ["/api/chat", "/api/generate"])
def test_raw_stream_is_well_formed_ndjson(fake_ollama: FakeOllama, path: str):
    body: dict = {"model": "qwen3:1.7b"}  # no "stream" key: streaming is the default
    if path == "/api/chat":
        body["messages"] = [{"role": "user", "content": "two words"}]
    else:
        body["prompt"] = "two words"
    with httpx.Client(base_url=fake_ollama.url, timeout=5) as client:
        with client.stream("POST", path, json=body) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/x-ndjson"
            assert response.headers["transfer-encoding"] == "chunked"
            raw = b"".join(response.iter_raw())
    objects = [json.loads(line) for line in _lines(raw)]
    assert len(objects) >= 2
    assert [o["done"] for o in objects] == [False] * (len(objects) - 1) + [True]
    key = "message" if path == "/api/chat" else "response"
    pieces = [o[key]["content"] if key == "message" else o[key] for o in objects]
    assert "".join(pieces) == "qwen3:1.7b answers: two words"
    final = objects[-1]
    assert final["done_reason"] == "stop"
    for metric in (
        "total_duration",
        "load_duration",
        "prompt_eval_count",
        "prompt_eval_duration",
        "eval_count",
        "eval_duration",
    ):
        assert isinstance(final[metric], int) and final[metric] > 0, metric
    assert final["eval_count"] == len(objects) - 1
    assert final["prompt_eval_count"] == prompt_token_count(body)
    assert final["total_duration"] >= final["eval_duration"] + final["prompt_eval_duration"]
    assert all(o["model"] == "qwen3:1.7b" and o["created_at"] for o in objects)
    if path == "/api/generate":
        assert isinstance(final["context"], list)


def test_stream_false_returns_one_object(fake_ollama: FakeOllama):
    body = {"model": "llama3.2:3b", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    response = httpx.post(f"{fake_ollama.url}/api/chat", json=body, timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    obj = response.json()
    assert obj["done"] is True and obj["message"]["content"] == "llama3.2:3b answers: hi"
    assert obj["eval_count"] == len(tokenize("llama3.2:3b answers: hi"))


def test_error_line_mid_stream_is_the_last_line(fake_ollama: FakeOllama):
    fake_ollama.fault("error-midstream", after_tokens=2)
    body = {"model": "qwen3:1.7b", "prompt": "a b c d"}
    with httpx.Client(base_url=fake_ollama.url, timeout=5) as client:
        with client.stream("POST", "/api/generate", json=body) as response:
            raw = b"".join(response.iter_raw())
    objects = [json.loads(line) for line in _lines(raw)]
    assert len(objects) == 3
    assert set(objects[-1]) == {"error"}


def test_unknown_model_and_errors_match_ollama(fake_ollama: FakeOllama):
    r = httpx.post(f"{fake_ollama.url}/api/chat", json={"model": "x:1b", "messages": []}, timeout=5)
    assert (r.status_code, r.json()) == (404, {"error": "model 'x:1b' not found"})
    r = httpx.post(f"{fake_ollama.url}/api/show", json={"model": "x:1b"}, timeout=5)
    assert r.status_code == 404
    r = httpx.post(f"{fake_ollama.url}/api/chat", content=b"{not json", timeout=5)
    assert r.status_code == 400 and "error" in r.json()
    fake_ollama.fault("busy", times=1)
    r = httpx.post(f"{fake_ollama.url}/api/generate", json={"model": "gemma3:1b", "prompt": "x"}, timeout=5)
    assert r.status_code == 503
    assert fake_ollama.faults == []  # times=1 consumed


def test_root_version_and_empty_request_loads_the_model(fake_ollama: FakeOllama):
    with urllib.request.urlopen(fake_ollama.url + "/", timeout=5) as r:
        assert r.read() == b"Ollama is running"
    with urllib.request.urlopen(fake_ollama.url + "/api/version", timeout=5) as r:
        assert json.loads(r.read()) == {"version": "0.12.3"}
    r = httpx.post(f"{fake_ollama.url}/api/generate", json={"model": "gemma3:1b", "stream": False}, timeout=5)
    assert r.json()["done_reason"] == "load"
    assert "gemma3:1b" in fake_ollama.loaded
    body = {"model": "gemma3:1b", "keep_alive": 0, "stream": False}
    r = httpx.post(f"{fake_ollama.url}/api/generate", json=body, timeout=5)
    assert r.json()["done_reason"] == "unload"
    assert "gemma3:1b" not in fake_ollama.loaded
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(fake_ollama.url + "/api/nothing", timeout=5)


def test_requests_are_recorded(fake_ollama: FakeOllama):
    httpx.get(f"{fake_ollama.url}/api/tags", timeout=5)
    httpx.post(f"{fake_ollama.url}/api/show", json={"model": "qwen3:1.7b"}, timeout=5)
    assert [(r["method"], r["path"]) for r in fake_ollama.requests] == [
        ("GET", "/api/tags"),
        ("POST", "/api/show"),
    ]
    assert fake_ollama.requests[1]["body"] == {"model": "qwen3:1.7b"}


def test_add_and_remove_models(fake_ollama: FakeOllama):
    fake_ollama.add_model(FakeModel("phi4:14b", parameter_size="14B", family="phi3"))
    fake_ollama.remove_model("gemma3:1b")
    names = [m["name"] for m in httpx.get(f"{fake_ollama.url}/api/tags", timeout=5).json()["models"]]
    assert names == ["qwen3:1.7b", "llama3.2:3b", "phi4:14b"]


def test_unknown_fault_kind_is_rejected(fake_ollama: FakeOllama):
    with pytest.raises(ValueError, match="unknown fault kind"):
        fake_ollama.fault("explode")


def test_tokenize_round_trips_and_is_deterministic():
    for text in ["", "  ", "Hello, world!\n", '{"a": [1, 2]}', "naïve café — ok\n\n  end  "]:
        assert "".join(tokenize(text)) == text
    assert tokenize("Hello, world!") == ["Hello", ",", " world", "!"]


def test_parse_keep_alive():
    assert parse_keep_alive(None) == 300
    assert parse_keep_alive("5m") == 300
    assert parse_keep_alive("1h30m") == 5400
    assert parse_keep_alive(30) == 30
    assert parse_keep_alive("0") == 0
    assert parse_keep_alive(-1) is None and parse_keep_alive("-1m") is None
    with pytest.raises(ValueError):
        parse_keep_alive("soon")


def test_cli_serves_until_interrupted(closed_port: int):
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.ollama_server", "--port", str(closed_port), "--speed", "5"]
        + ["--model", "qwen3:1.7b:200:2", "--model", "llama3.2:3b:90"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert f"127.0.0.1:{closed_port}" in line
        tags = httpx.get(f"http://127.0.0.1:{closed_port}/api/tags", timeout=5).json()
        assert [m["name"] for m in tags["models"]] == ["qwen3:1.7b", "llama3.2:3b"]
    finally:
        proc.send_signal(2)  # SIGINT = Ctrl-C
        try:
            code = proc.wait(timeout=60)  # generous: a loaded 2-core CI box can be slow to reap it
        except subprocess.TimeoutExpired:
            proc.kill()
            code = f"still running 60 s after SIGINT; stderr: {proc.communicate()[1]!r}"
        assert code == 0
    assert proc.stderr.read() == ""
