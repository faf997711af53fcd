"""A loopback OpenAI-compatible chat-completions server: the honest double for every LLM call.

It is a real HTTP server on 127.0.0.1 (port 0, so tests never collide) that the real ``openai``
client and langchain's ``ChatOpenAI`` talk to over real sockets. Answers are scripted in a
queue (or computed by a responder when the queue is empty), every request is recorded, and
faults are injected as ordinary scripted answers:

    server.push(Reply.structured({"liked": [...], "disliked": []}))
    server.push(Reply.http_error(500), times=3)
    server.push(Reply.rate_limited(retry_after=1))
    server.push(Reply.hang(seconds=5))          # longer than the client's timeout
    server.push(Reply.invalid_json())           # the model's content is not JSON
    server.push(Reply.structured({"wrong": 1})) # valid JSON that violates the schema

``Reply.structured`` answers in whatever form the request asked for: a tool call when the
request carries ``tools`` (langchain's ``method="function_calling"``), otherwise JSON message
content (``response_format`` json_schema, langchain-openai 1.7's default method).

Servers in the wild differ in what structured output they accept; ``server.quirks`` makes the
loopback server behave like one of them (all off by default):

    server.quirks = Quirks(json_schema_status=400)  # refuses response_format json_schema
    server.quirks = Quirks(tools_status=400)        # has no tool support
    server.quirks = Quirks(fence=True, indent=2)    # answers pretty-printed JSON in ``` fences
    server.quirks = Quirks(ignore_schema=True)      # answers {} to a json_schema request
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

CHAT_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class Quirks:
    """How a real OpenAI-compatible server departs from OpenAI's API (each seen in the wild)."""

    json_schema_status: int | None = None  # HTTP status for ``response_format: json_schema``
    json_object_status: int | None = None  # HTTP status for ``response_format: json_object``
    tools_status: int | None = None  # HTTP status for any request that carries ``tools``
    fence: bool = False  # JSON content wrapped in a markdown ```json fence
    indent: int | None = None  # JSON content pretty-printed
    ignore_schema: bool = False  # a json_schema request gets ``{}`` (the schema was ignored)

    def refusal(self, body: dict[str, Any]) -> int | None:
        """The error status this server answers ``body`` with, if it refuses it."""
        kind = (body.get("response_format") or {}).get("type")
        if body.get("tools") and self.tools_status:
            return self.tools_status
        if kind == "json_schema" and self.json_schema_status:
            return self.json_schema_status
        if kind == "json_object" and self.json_object_status:
            return self.json_object_status
        return None

    def render(self, payload: Any) -> str:
        text = json.dumps(payload, indent=self.indent)
        return f"```json\n{text}\n```" if self.fence else text


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build it with the class methods, not by hand."""

    kind: str
    content: str | None = None
    payload: Any = None
    tool_name: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @classmethod
    def text(cls, content: str) -> Reply:
        """A plain assistant message."""
        return cls(kind="text", content=content)

    @classmethod
    def structured(cls, payload: Any) -> Reply:
        """``payload`` as JSON content, or as a tool call when the request offered tools."""
        return cls(kind="structured", payload=payload)

    @classmethod
    def tool_call(cls, name: str, arguments: Any) -> Reply:
        """A tool call to ``name`` with JSON ``arguments``, whatever the request asked for."""
        return cls(kind="tool_call", payload=arguments, tool_name=name)

    @classmethod
    def invalid_json(cls, content: str = '{"liked": [{"text": "teal palette",') -> Reply:
        """A 200 answer whose content (or tool arguments) is broken JSON."""
        return cls(kind="invalid_json", content=content)

    @classmethod
    def truncated(cls, content: str = '{"liked": [{"text": "the warm golden') -> Reply:
        """An answer cut off at the token limit (``finish_reason: length``)."""
        return cls(kind="truncated", content=content)

    @classmethod
    def http_error(cls, status: int = 500, message: str = "internal error") -> Reply:
        """An HTTP error with an OpenAI-style error body."""
        return cls(kind="error", status=status, content=message)

    @classmethod
    def rate_limited(cls, retry_after: float = 1.0) -> Reply:
        """HTTP 429 with a Retry-After header (seconds)."""
        return cls(
            kind="error",
            status=429,
            content="rate limited",
            headers={"Retry-After": f"{retry_after:g}"},
        )

    @classmethod
    def hang(cls, seconds: float = 30.0) -> Reply:
        """Hold the connection without answering for ``seconds`` (or until the server stops)."""
        return cls(kind="hang", seconds=seconds)

    @classmethod
    def garbage_body(cls, body: str = "<html>bad gateway</html>") -> Reply:
        """A 200 whose HTTP body is not JSON at all (a broken proxy)."""
        return cls(kind="garbage", content=body)


@dataclass
class RecordedRequest:
    """What the server received: enough to assert on retries, prompts and schemas."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received_at: float

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def last_user_text(self) -> str:
        """The text of the last user message (text parts joined for multimodal content)."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return _content_text(message.get("content"))
        return ""

    @property
    def all_text(self) -> str:
        return "\n".join(_content_text(m.get("content")) for m in self.messages)

    @property
    def uses_tools(self) -> bool:
        return bool(self.body.get("tools"))

    @property
    def response_format(self) -> dict[str, Any] | None:
        value = self.body.get("response_format")
        return value if isinstance(value, dict) else None

    @property
    def has_image(self) -> bool:
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, list) and any(
                isinstance(p, dict) and p.get("type") == "image_url" for p in content
            ):
                return True
        return False


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


Responder = Callable[[RecordedRequest], Reply]


class LoopbackLLMServer:
    """The server object tests talk to: script answers, read the request log, get the URL."""

    def __init__(self, model: str = "loopback-model") -> None:
        self.model = model
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[RecordedRequest] = []
        self.responder: Responder | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0
        self.quirks = Quirks()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> LoopbackLLMServer:
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackLLMServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """What ``openai.OpenAI(base_url=...)`` and ``ChatOpenAI(base_url=...)`` take."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting -------------------------------------------------------------------------
    def push(self, reply: Reply, times: int = 1) -> None:
        with self._lock:
            for _ in range(times):
                self._queue.append(reply)

    def script(self, *replies: Reply) -> None:
        for reply in replies:
            self.push(reply)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.responder = None

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # -- serving ---------------------------------------------------------------------------
    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.popleft()
            responder = self.responder
        if responder is not None:
            return responder(request)
        return Reply.http_error(500, "loopback server: no scripted answer left")

    def _completion(self, request: RecordedRequest, reply: Reply) -> dict[str, Any]:
        with self._lock:
            self._counter += 1
            number = self._counter
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        finish_reason = "stop"
        tools = request.body.get("tools") or []
        if reply.kind == "text":
            message["content"] = reply.content
        elif reply.kind == "truncated":
            message["content"] = reply.content
            finish_reason = "length"
        elif reply.kind == "invalid_json":
            if tools:
                message["tool_calls"] = [_tool_call(number, _tool_name(tools), reply.content)]
                finish_reason = "tool_calls"
            else:
                message["content"] = reply.content
        elif reply.kind == "tool_call":
            name = reply.tool_name or _tool_name(tools)
            message["tool_calls"] = [_tool_call(number, name, json.dumps(reply.payload))]
            finish_reason = "tool_calls"
        elif reply.kind == "structured":
            if tools:
                arguments = json.dumps(reply.payload)
                message["tool_calls"] = [_tool_call(number, _tool_name(tools), arguments)]
                finish_reason = "tool_calls"
            elif self.quirks.ignore_schema and _asks_json_schema(request.body):
                message["content"] = "{}"
            else:
                message["content"] = self.quirks.render(reply.payload)
        else:  # pragma: no cover - guarded by the handler
            raise ValueError(f"not a completion reply: {reply.kind}")
        prompt_tokens = max(1, len(request.all_text) // 4)
        return {
            "id": f"chatcmpl-loopback-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(request.body.get("model", self.model)),
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": 10,
                "total_tokens": prompt_tokens + 10,
            },
        }


def _asks_json_schema(body: dict[str, Any]) -> bool:
    return (body.get("response_format") or {}).get("type") == "json_schema"


def _tool_name(tools: list[dict[str, Any]]) -> str:
    if not tools:
        return "answer"
    return str(tools[0].get("function", {}).get("name", "answer"))


def _tool_call(number: int, name: str, arguments: str | None) -> dict[str, Any]:
    return {
        "id": f"call_loopback_{number}",
        "type": "function",
        "function": {"name": name, "arguments": arguments or ""},
    }


def _make_handler(server: LoopbackLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the per-request stderr log."""

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(obj).encode(), headers)

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._send_json(200, {"object": "list", "data": [{"id": server.model}]})
            else:
                self._send_json(404, {"error": {"message": "not found", "type": "not_found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._send_json(400, {"error": {"message": "request body is not JSON"}})
                return
            request = RecordedRequest(
                method="POST",
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                received_at=time.monotonic(),
            )
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                return
            if body.get("stream"):
                self._send_json(400, {"error": {"message": "the loopback server does not stream"}})
                return
            refused = server.quirks.refusal(body)
            if refused is not None:  # recorded, but the scripted answer stays queued
                with server._lock:
                    server.requests.append(request)
                message = "this server does not support that request format"
                self._send_json(refused, {"error": {"message": message, "type": "invalid_request"}})
                return
            reply = server._next_reply(request)
            if reply.kind == "hang":
                server._stopping.wait(reply.seconds)
                # The client gave up long ago; answer anyway so the thread ends cleanly.
                self._send_json(504, {"error": {"message": "hung on purpose"}})
                return
            if reply.kind == "error":
                error = {"message": reply.content, "type": "server_error", "code": reply.status}
                self._send_json(reply.status, {"error": error}, reply.headers)
                return
            if reply.kind == "garbage":
                self._send(200, (reply.content or "").encode())
                return
            self._send_json(200, server._completion(request, reply))

    return Handler


@pytest.fixture()
def llm_server() -> Iterator[LoopbackLLMServer]:
    """A fresh loopback OpenAI-compatible server for one test, stopped afterwards."""
    with LoopbackLLMServer() as server:
        yield server
