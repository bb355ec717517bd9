"""Faults from the Runtime API side (issue 5), for the Python runtime and the Rust `echo`
example alike: each ends fast, in correct behaviour or a clean exit with one line on stderr
and status 1; never a hang, a spin, a panic, a traceback or memory taken on a server's word.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import clean_env, rust_example
from hostile import ACCEPTED, Act, Hostile, http, next_event


@pytest.fixture(params=["python", "rust"])
def runtime(request, tmp_path: Path):
    """The command of a runtime that echoes its event."""
    if request.param == "rust":
        return [str(rust_example("echo"))], tmp_path
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event\n")
    return [sys.executable, "-m", "minlambda", "app.handler"], tmp_path


def start(runtime, srv: Hostile) -> subprocess.Popen:
    cmd, cwd = runtime
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env=clean_env(AWS_LAMBDA_RUNTIME_API=srv.addr),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def run_script(runtime, script) -> tuple[int, str, Hostile]:
    srv = Hostile(script)
    try:
        p = start(runtime, srv)
        # wait4 gives the child's own peak RSS: the server's claims must not inflate it
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.01)
        else:
            p.kill()
            p.communicate()
            raise AssertionError("the runtime did not end within 10 s")
        p.returncode = os.waitstatus_to_exitcode(status)
        _, err = p.communicate()
        assert usage.ru_maxrss < 64 * 1024, f"peak RSS {usage.ru_maxrss} KiB"
        return p.returncode, err.decode(errors="replace"), srv
    finally:
        srv.close()


def assert_one_line(code: int, err: str, *want: str) -> None:
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("minlambda: "), err
    for w in want:
        assert w in lines[0], err
    for bad in ("Traceback", "panicked", "RUST_BACKTRACE"):
        assert bad not in err


FATAL = {
    "garbage status line": Act(b"garbage\r\n\r\n"),
    "truncated body": Act(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nLambda-Runtime-Aws-Request-Id: a\r\n\r\nabc",
        close=True,
    ),
    "EOF inside headers": Act(b"HTTP/1.1 200 OK\r\nContent-Len", close=True),
    "Content-Length 10^15": Act(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000\r\n"
        b"Lambda-Runtime-Aws-Request-Id: a\r\n\r\n" + b"x" * 4096
    ),
    "1 MiB header line": Act(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"),
    "closed after the request": None,
    "500 on /next": Act(http("500 Internal Server Error", b'{"errorMessage":"down"}')),
    "no request id": Act(http("200 OK", b"{}")),
}


@pytest.mark.parametrize("case", list(FATAL))
def test_unusable_next_ends_with_one_line(runtime, case):
    code, err, srv = run_script(runtime, lambda i, head: FATAL[case] if i == 0 else None)
    assert_one_line(code, err, "/next")
    assert len(srv.requests) == 1


def echo_script(events: list[bytes], reply: bytes = ACCEPTED, split: int = 0):
    def script(i: int, head: bytes) -> Act | None:
        if i >= 2 * len(events):
            return None
        if i % 2 == 0:
            return Act(next_event(events[i // 2], f"r{i // 2}"), split=split)
        return Act(reply, split=split)

    return script


def replies(srv: Hostile) -> list[tuple[bytes, bytes]]:
    return [(h.split(b"\r\n")[0], b) for h, b in srv.requests if h.startswith(b"POST")]


def test_one_byte_writes(runtime):
    events = [b'{"a":1}', json.dumps({"s": "x" * 3000}).encode()]
    code, err, srv = run_script(runtime, echo_script(events, split=1))
    assert_one_line(code, err)
    got = replies(srv)
    assert [json.loads(b) for _, b in got] == [json.loads(e) for e in events]
    assert got[0][0] == b"POST /2018-06-01/runtime/invocation/r0/response HTTP/1.1"


def test_chunked_with_extensions_and_trailers(runtime):
    body = b'7;ext="x"\r\n{"a": "\r\n5\r\nhello\r\n2;n=1\r\n"}\r\n0\r\nX-Trailer: t\r\n\r\n'
    head = (
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nLambda-Runtime-Aws-Request-Id: c1\r\n"
        "Lambda-Runtime-Deadline-Ms: 4102444800000\r\n\r\n"
    )
    script = {0: Act(head.encode() + body), 1: Act(ACCEPTED)}
    code, err, srv = run_script(runtime, lambda i, h: script.get(i))
    assert_one_line(code, err)
    assert [json.loads(b) for _, b in replies(srv)] == [{"a": "hello"}]


def test_http_1_0_reply_read_to_eof_then_a_new_connection(runtime):
    head = b"HTTP/1.0 200 OK\r\nLambda-Runtime-Aws-Request-Id: old\r\n\r\n"
    script = {0: Act(head + b'{"v": 1.0}', close=True), 1: Act(ACCEPTED)}
    code, err, srv = run_script(runtime, lambda i, h: script.get(i))
    assert_one_line(code, err)
    assert [json.loads(b) for _, b in replies(srv)] == [{"v": 1.0}]


def test_refused_replies_end_only_their_invocation(runtime):
    refusals = [
        http("413 Request Entity Too Large", b'{"errorType":"RequestEntityTooLarge"}'),
        http("400 Bad Request", b'{"errorType":"InvalidRequestID"}'),
        http("403 Forbidden", b'{"errorType":"InvalidStateTransition"}'),
        ACCEPTED,
    ]

    def script(i: int, head: bytes) -> Act | None:
        if i >= 8:
            return None
        return Act(next_event(b'{"n":%d}' % i, f"r{i}")) if i % 2 == 0 else Act(refusals[i // 2])

    code, err, srv = run_script(runtime, script)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 4, err
    assert "(413)" in lines[0] and "(400)" in lines[1] and "(403)" in lines[2]
    assert len(replies(srv)) == 4


def test_stalled_server_is_waited_for_without_spinning(runtime):
    srv = Hostile(lambda i, h: Act(stall=True))
    try:
        p = start(runtime, srv)
        time.sleep(0.5)
        before = cpu_ticks(p.pid)
        time.sleep(1.0)
        used = cpu_ticks(p.pid) - before
        assert p.poll() is None, "a stalled /next is a wait, not an error"
        assert used <= 5, f"{used} clock ticks of CPU in 1 s of waiting"
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=2)
    finally:
        srv.close()


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_request_ids_never_leave_their_path_segment(runtime):
    ids = ["../../x", "a/b?c=d#e", "100%25", "é ü", "..", "a\tb"]

    def script(i: int, head: bytes) -> Act | None:
        if i >= 2 * len(ids):
            return None
        if i % 2:
            return Act(ACCEPTED)
        rid = ids[i // 2]
        return Act(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nLambda-Runtime-Aws-Request-Id: "
            + rid.encode()
            + b"\r\n\r\n{}"
        )

    code, err, srv = run_script(runtime, script)
    assert_one_line(code, err)
    lines = [line for line, _ in replies(srv)]

    assert len(lines) == len(ids)
    for rid, line in zip(ids, lines, strict=True):
        target = line.decode("ascii").split(" ")[1]
        prefix, segment, suffix = target.rsplit("/", 2)
        assert prefix == "/2018-06-01/runtime/invocation", target
        assert suffix == "response"
        assert all(c.isalnum() or c in "-_%" for c in segment), target
        assert unquote(segment) == rid
