"""Small HTTP servers on 127.0.0.1 that speak just enough OpenAI chat-completions and Telegram Bot API.

Each answers from a script of responses (the last one repeats) and records every request, so a
test can assert what the client sent. A scripted `hold` makes the handler wait until the test
ends (released at shutdown), which is how a slow provider is simulated without sleeps.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    hold: bool = False
    trickle: float = 0.0
    """Seconds between the bytes of the body: a server that answers, but too slowly to ever finish in time."""


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


class FakeServer:
    def __init__(self, script: list[Reply]) -> None:
        self.script = list(script)
        self.requests: list[Recorded] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(Recorded(self.path, dict(self.headers), body, time.monotonic()))
                    reply = server.script.pop(0) if len(server.script) > 1 else server.script[0]
                if reply.hold:
                    server.release.wait(30)
                payload = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if not reply.trickle:
                        self.wfile.write(payload)
                    for i in range(len(payload) if reply.trickle else 0):
                        self.wfile.write(payload[i:i + 1])
                        self.wfile.flush()
                        if server.release.wait(reply.trickle):
                            return
                except (BrokenPipeError, ConnectionResetError):
                    return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self.script = list(replies)


@contextmanager
def serve(script: list[Reply]) -> Iterator[FakeServer]:
    srv = FakeServer(script)
    thread = threading.Thread(target=srv.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.httpd.shutdown()
        srv.httpd.server_close()
        thread.join(5)


def chat(text: str, prompt_tokens: int = 100, completion_tokens: int = 40) -> Reply:
    return Reply(200, {"id": "x", "object": "chat.completion",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}})


def tg_ok(message_id: int = 1, chat_id: str = "42") -> Reply:
    return Reply(200, {"ok": True, "result": {"message_id": message_id, "chat": {"id": int(chat_id)}}})


def tg_429(retry_after: int = 1) -> Reply:
    return Reply(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                       "parameters": {"retry_after": retry_after}})
