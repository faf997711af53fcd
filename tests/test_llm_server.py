"""The loopback LLM server, exercised through the real openai client and langchain's ChatOpenAI."""

from __future__ import annotations

import openai
import pydantic
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr

from tests.doubles.llm_server import LoopbackLLMServer, Quirks, Reply


class Colors(BaseModel):
    liked: list[str]
    disliked: list[str]


def _client(server: LoopbackLLMServer, **kwargs: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test-key", **kwargs)  # type: ignore[arg-type]


def _chat(server: LoopbackLLMServer, max_retries: int = 2) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=server.base_url,
        api_key=SecretStr("test-key"),
        model="loopback-model",
        use_responses_api=False,
        max_retries=max_retries,
    )


def test_plain_answer_and_request_log(llm_server: LoopbackLLMServer) -> None:
    llm_server.push(Reply.text("hello there"))
    answer = _client(llm_server).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == "hello there"
    (request,) = llm_server.chat_requests()
    assert request.last_user_text == "hi"
    assert request.headers["authorization"] == "Bearer test-key"


def test_langchain_default_structured_output_uses_json_schema(
    llm_server: LoopbackLLMServer,
) -> None:
    llm_server.push(Reply.structured({"liked": ["teal"], "disliked": ["clutter"]}))
    result = _chat(llm_server).with_structured_output(Colors).invoke("what colours?")
    assert result == Colors(liked=["teal"], disliked=["clutter"])
    (request,) = llm_server.chat_requests()
    assert request.response_format is not None
    assert request.response_format["type"] == "json_schema"
    assert not request.uses_tools


def test_langchain_function_calling_gets_a_tool_call(llm_server: LoopbackLLMServer) -> None:
    llm_server.push(Reply.structured({"liked": ["gold"], "disliked": []}))
    model = _chat(llm_server).with_structured_output(Colors, method="function_calling")
    assert model.invoke("what colours?") == Colors(liked=["gold"], disliked=[])
    (request,) = llm_server.chat_requests()
    assert request.uses_tools
    assert request.body["tools"][0]["function"]["name"] == "Colors"


def test_http_500_is_retried_a_bounded_number_of_times(llm_server: LoopbackLLMServer) -> None:
    llm_server.push(Reply.http_error(500), times=5)
    with pytest.raises(openai.InternalServerError):
        _client(llm_server, max_retries=2).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
    assert len(llm_server.chat_requests()) == 3


def test_429_with_retry_after_then_success(llm_server: LoopbackLLMServer) -> None:
    llm_server.script(Reply.rate_limited(retry_after=0.2), Reply.text("ok"))
    answer = _client(llm_server, max_retries=1).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == "ok"
    assert len(llm_server.chat_requests()) == 2


def test_hang_past_the_client_timeout(llm_server: LoopbackLLMServer) -> None:
    llm_server.push(Reply.hang(seconds=30))
    with pytest.raises(openai.APITimeoutError):
        _client(llm_server, max_retries=0, timeout=0.3).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
    assert len(llm_server.chat_requests()) == 1


def test_invalid_and_schema_violating_json_fail_parsing(llm_server: LoopbackLLMServer) -> None:
    structured = _chat(llm_server, max_retries=0).with_structured_output(Colors)
    llm_server.push(Reply.invalid_json())
    with pytest.raises((ValueError, pydantic.ValidationError)):
        structured.invoke("what colours?")
    llm_server.push(Reply.structured({"liked": "not a list"}))
    with pytest.raises(pydantic.ValidationError):
        structured.invoke("what colours?")


def test_empty_queue_uses_responder_then_errors(llm_server: LoopbackLLMServer) -> None:
    llm_server.responder = lambda request: Reply.text(request.last_user_text.upper())
    client = _client(llm_server, max_retries=0)
    answer = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "echo"}]
    )
    assert answer.choices[0].message.content == "ECHO"
    llm_server.responder = None
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])


def test_garbage_http_body_is_an_error(llm_server: LoopbackLLMServer) -> None:
    llm_server.push(Reply.garbage_body())
    with pytest.raises(Exception):  # noqa: B017 - openai surfaces it as a decode/API error
        _client(llm_server, max_retries=0).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )


# -- quirks of servers in the wild ---------------------------------------------------------------

_SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "Colors", "schema": Colors.model_json_schema()},
}
_TOOL = {"type": "function", "function": {"name": "Colors", "parameters": {"type": "object"}}}


@pytest.mark.parametrize("status", [400, 422])
def test_quirk_refuses_json_schema_but_answers_plain_requests(
    llm_server: LoopbackLLMServer, status: int
) -> None:
    llm_server.quirks = Quirks(json_schema_status=status)
    llm_server.push(Reply.structured({"liked": ["teal"], "disliked": []}))
    client = _client(llm_server, max_retries=0)
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            response_format=_SCHEMA_FORMAT,  # type: ignore[arg-type]
        )
    assert refused.value.status_code == status
    answer = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == '{"liked": ["teal"], "disliked": []}'
    assert len(llm_server.chat_requests()) == 2  # the refused one is recorded too


def test_quirk_no_tool_support(llm_server: LoopbackLLMServer) -> None:
    llm_server.quirks = Quirks(tools_status=400)
    with pytest.raises(openai.BadRequestError):
        _client(llm_server, max_retries=0).chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            tools=[_TOOL],  # type: ignore[list-item]
        )


def test_quirk_fenced_pretty_printed_json(llm_server: LoopbackLLMServer) -> None:
    llm_server.quirks = Quirks(fence=True, indent=2)
    llm_server.push(Reply.structured({"liked": ["teal"], "disliked": []}))
    answer = _client(llm_server).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    content = answer.choices[0].message.content or ""
    assert content.startswith("```json\n{\n  ") and content.endswith("\n```")


def test_quirk_ignores_the_schema_with_an_empty_object(llm_server: LoopbackLLMServer) -> None:
    llm_server.quirks = Quirks(ignore_schema=True)
    llm_server.push(Reply.structured({"liked": ["teal"], "disliked": []}))
    answer = _client(llm_server).chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        response_format=_SCHEMA_FORMAT,  # type: ignore[arg-type]
    )
    assert answer.choices[0].message.content == "{}"


def test_truncated_answer_reports_the_length_limit(llm_server: LoopbackLLMServer) -> None:
    llm_server.push(Reply.truncated())
    answer = _client(llm_server).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].finish_reason == "length"
