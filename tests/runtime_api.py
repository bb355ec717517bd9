"""A Runtime API stand-in for the tests: real sockets, keep-alive HTTP/1.1, a script of
events, and a record of every request. When the events run out it closes, which ends the
runtime under test (exit status 1, one line on stderr)."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Event:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


Reply = tuple[int, bytes]


def _accepted() -> Reply:
    return 202, b'{"status":"OK"}'


class RuntimeApi:
    """Serves ``events`` in order. ``on_reply(request)`` may return another (status, body)
    for a reply; ``hold=True`` keeps /next waiting when the events run out, instead of
    closing, until ``add`` or ``close``."""

    def __init__(
        self,
        events: list[Event] | None = None,
        on_reply: Callable[[Request], Reply | None] | None = None,
        hold: bool = False,
    ) -> None:
        self.events = list(events or [])
        self.on_reply = on_reply
        self.hold = hold
        self.requests: list[Request] = []
        self._cv = threading.Condition()
        self._closed = False
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.addr = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def replies(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST"]

    def wait_replies(self, n: int, timeout: float = 10) -> list[Request]:
        """Wait until ``n`` replies have arrived; fails the test after ``timeout`` s."""
        with self._cv:
            if not self._cv.wait_for(lambda: len(self.replies) >= n, timeout):
                raise AssertionError(f"{len(self.replies)} replies after {timeout} s, not {n}")
            return self.replies

    def add(self, event: Event) -> None:
        with self._cv:
            self.events.append(event)
            self._cv.notify_all()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        for c in [self._sock, *self._conns]:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def __enter__(self) -> RuntimeApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        f = conn.makefile("rb")
        try:
            while True:
                req = _read_request(f)
                if req is None:
                    return
                with self._cv:
                    self.requests.append(req)
                    self._cv.notify_all()
                reply = self._answer(req)
                if reply is None:
                    return
                status, body, headers = reply
                head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n"
                head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                conn.sendall(head.encode() + b"\r\n" + body)
        except OSError:
            return
        finally:
            conn.close()

    def _answer(self, req: Request) -> tuple[int, bytes, dict[str, str]] | None:
        if req.method == "GET" and req.path.endswith("/runtime/invocation/next"):
            with self._cv:
                while not self.events and self.hold and not self._closed:
                    self._cv.wait()
                if not self.events or self._closed:
                    return None
                ev = self.events.pop(0)
            headers = {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": ev.request_id,
                "Lambda-Runtime-Deadline-Ms": "4102444800000",
                "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
                **ev.headers,
            }
            return 200, ev.body, headers
        status, body = (self.on_reply and self.on_reply(req)) or _accepted()
        return status, body, {"Content-Type": "application/json"}


def _read_request(f: Any) -> Request | None:
    line = f.readline()
    if not line:
        return None
    method, path, _ = line.decode().split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        h = f.readline().decode()
        if h in ("\r\n", "\n", ""):
            break
        k, _, v = h.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = f.read(int(headers.get("content-length", "0")))
    return Request(method, path, headers, body)
