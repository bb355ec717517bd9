"""A scripted Runtime API that misbehaves on purpose: each request gets whatever raw bytes
the test says, split into writes as it says, and the connection may then be closed or
left stalled. Real sockets, so the runtime's own HTTP client is what gets tested."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Act:
    """What to do with one request: send ``data`` in writes of ``split`` bytes (all at once
    when 0), then close the connection (``close``) or keep it, or stall forever (``stall``)."""

    data: bytes = b""
    split: int = 0
    close: bool = False
    stall: bool = False


def http(status: str, body: bytes = b"", headers: str = "", length: bool = True) -> bytes:
    head = f"HTTP/1.1 {status}\r\n{headers}"
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def next_event(body: bytes, rid: str = "req-1", extra: str = "") -> bytes:
    headers = (
        f"Lambda-Runtime-Aws-Request-Id: {rid}\r\nLambda-Runtime-Deadline-Ms: 4102444800000\r\n"
        f"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:1:function:f\r\n{extra}"
    )
    return http("200 OK", body, headers)


ACCEPTED = http("202 Accepted", b'{"status":"OK"}')


class Hostile:
    """Serves ``script(i, head)`` for the i-th request (counted over all connections);
    ``None`` closes the connection. Records each request's head and body."""

    def __init__(self, script: Callable[[int, bytes], Act | None]) -> None:
        self.script = script
        self.requests: list[tuple[bytes, bytes]] = []
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.addr = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        for c in [self._sock, *self._conns]:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v)
                while len(buf) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                body, buf = buf[:length], buf[length:]
                with self._lock:
                    i = len(self.requests)
                    self.requests.append((head, body))
                act = self.script(i, head)
                if act is None:
                    return
                step = act.split or max(len(act.data), 1)
                for k in range(0, len(act.data), step):
                    conn.sendall(act.data[k : k + step])
                    if act.split:
                        time.sleep(0.0005)
                if act.stall:
                    time.sleep(3600)
                if act.close:
                    return
        except OSError:
            return
        finally:
            conn.close()
