"""The Ollama and OpenAI-compatible adapters share one error type and the wording of the
failures both protocols have (a cut connection, a malformed response)."""

from __future__ import annotations

import httpx

from conductor_tui.providers.errors import ProviderError, cut_mid_response, malformed_response
from conductor_tui.providers.ollama import OllamaError, normalise_error
from conductor_tui.providers.openai_compat import OpenAICompatError, OpenAICompatProvider


def test_both_adapters_raise_one_catchable_error_type() -> None:
    ollama_err = normalise_error(httpx.RemoteProtocolError("peer closed"), host="127.0.0.1:11434")
    openai_err = OpenAICompatProvider("http://127.0.0.1:8080/v1").normalise_error(ValueError("no json"))
    for err in (ollama_err, openai_err):
        assert isinstance(err, ProviderError)
        assert err.kind == "stream"
        assert str(err) == err.message
    assert isinstance(ollama_err, OllamaError) and not isinstance(ollama_err, OpenAICompatError)
    assert isinstance(openai_err, OpenAICompatError) and not isinstance(openai_err, OllamaError)


def test_a_cut_connection_reads_the_same_from_either_server() -> None:
    err = normalise_error(httpx.ReadError("connection reset"), host="http://127.0.0.1:11434", model="m")
    assert err.message == cut_mid_response("Ollama", "127.0.0.1:11434", "connection reset")
    assert (
        err.message == "The connection to Ollama at 127.0.0.1:11434 was cut mid-response (connection reset)"
    )
    assert err.model == "m"


def test_a_malformed_response_names_the_server_and_the_parse_error() -> None:
    provider = OpenAICompatProvider("http://127.0.0.1:8080/v1", provider="llama-server")
    err = provider.normalise_error(KeyError("choices"), model="m")
    assert err.message == malformed_response("llama-server", "127.0.0.1:8080/v1", KeyError("choices"))
    assert err.message == "llama-server at 127.0.0.1:8080/v1 sent a malformed response (KeyError: 'choices')"
    ollama_err = normalise_error(ValueError("Expecting value\nline 2"), host="127.0.0.1:11434")
    assert (
        ollama_err.message
        == "Ollama at 127.0.0.1:11434 sent a malformed response (ValueError: Expecting value)"
    )
