"""The ``minlambda`` command line: ``invoke`` (result on stdout, REPORT on stderr, exit
status), ``--help``, and errors on one clear line."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import clean_env

APP = """
import sys

def handler(event, context):
    print("a line from the function")
    if event.get("fail"):
        raise ValueError("bad input")
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    return {"hello": event.get("name", "world"), "request_id": context.aws_request_id}
"""


def minlambda(
    tmp_path: Path, *args: str, stdin: str | None = None, code: str | None = APP
) -> subprocess.CompletedProcess[str]:
    if code is not None:
        (tmp_path / "app.py").write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, "-m", "minlambda", *args],
        cwd=tmp_path,
        env=clean_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line_error(p: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert p.returncode == 2, p.stderr
    assert p.stdout == ""
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("minlambda: ")
    for f in fragments:
        assert f in lines[0]


def test_invoke_prints_the_result_on_stdout_and_the_report_on_stderr(tmp_path: Path) -> None:
    p = minlambda(tmp_path, "invoke", "app.handler", "--event", '{"name": "Ada"}')
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["hello"] == "Ada"
    assert p.stdout.count("\n") == 1, "stdout holds only the result"
    rid = out["request_id"]
    assert f"START RequestId: {rid} Version: $LATEST" in p.stderr
    assert f"END RequestId: {rid}" in p.stderr
    assert re.search(
        rf"^REPORT RequestId: {rid}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 3008 MB\tMax Memory Used: \d+ MB\tInit Duration: [\d.]+ ms\t$",
        p.stderr,
        re.M,
    )
    assert "a line from the function" in p.stderr, "the function's own output goes to stderr"


def test_invoke_exits_non_zero_on_a_function_error(tmp_path: Path) -> None:
    p = minlambda(tmp_path, "invoke", "app.handler", "--event", '{"fail": true}')
    assert p.returncode == 1
    err = json.loads(p.stdout)
    assert (err["errorType"], err["errorMessage"]) == ("ValueError", "bad input")


def test_invoke_reads_the_event_from_a_file_or_stdin(tmp_path: Path) -> None:
    (tmp_path / "event.json").write_text('{"name": "file"}')
    p = minlambda(tmp_path, "invoke", "app.handler", "--event-file", "event.json")
    assert json.loads(p.stdout)["hello"] == "file"
    p = minlambda(tmp_path, "invoke", "app.handler", "-", stdin='{"name": "stdin"}')
    assert json.loads(p.stdout)["hello"] == "stdin"
    # The handler from $_HANDLER, the event {} by default.
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    p = subprocess.run(
        [sys.executable, "-m", "minlambda", "invoke"],
        cwd=tmp_path,
        env=clean_env(_HANDLER="app.handler"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(p.stdout)["hello"] == "world"


def test_invoke_timeout_is_a_function_error(tmp_path: Path) -> None:
    p = minlambda(tmp_path, "invoke", "app.handler", "--timeout", "0.5", "--event", '{"sleep": 30}')
    assert p.returncode == 1
    err = json.loads(p.stdout)
    assert err["errorType"] == "Sandbox.Timedout"
    assert err["errorMessage"].endswith("Task timed out after 0.50 seconds")
    assert "Status: timeout" in p.stderr


def test_invoke_init_error(tmp_path: Path) -> None:
    p = minlambda(tmp_path, "invoke", "app.handler", code="def other(e, c):\n    pass\n")
    assert p.returncode == 1
    assert json.loads(p.stdout)["errorType"] == "Runtime.HandlerNotFound"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["invoke", "app.handler", "--event", "{bad"], ["bad event JSON"]),
        (["invoke", "app.handler", "--event-file", "missing.json"], ["cannot read the event"]),
        (["invoke", "nope.handler"], ["no module named 'nope'"]),
        (["invoke", "handler"], ["bad handler 'handler'"]),
        (["serve", "missing.handler"], ["no module named 'missing'"]),
        (["serve"], ["no handler"]),
        (["serve", "app.handler", "--listen", "nowhere"], ["bad address"]),
        (["serve", "app.handler", "--timeout", "-1"], ["bad timeout"]),
        (["serve", "app.handler", "--bogus"], ["unrecognized arguments: --bogus"]),
        (["emulate", "--listen", "127.0.0.1:0"], ["no command given"]),
        (["emulate", "--listen", "127.0.0.1:0", "--", "/no/such/bootstrap"], ["command not found"]),
        (["--bogus"], ["unknown option --bogus"]),
    ],
)
def test_errors_are_one_clear_line(tmp_path: Path, args: list[str], fragments: list[str]) -> None:
    one_line_error(minlambda(tmp_path, *args), *fragments)


def test_a_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = minlambda(tmp_path, "serve", "app.handler", "--listen", f"127.0.0.1:{port}")
    one_line_error(p, f"127.0.0.1:{port}", "address already in use")


@pytest.mark.parametrize("command", [[], ["serve"], ["invoke"], ["emulate"]])
def test_help(tmp_path: Path, command: list[str]) -> None:
    p = minlambda(tmp_path, *command, "--help")
    assert p.returncode == 0
    assert p.stdout.startswith("usage: minlambda")
    if command == ["emulate"]:
        assert "-- COMMAND [ARGS...]" in p.stdout


def test_the_console_script_is_the_same_command(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "minlambda"
    if not script.exists():
        pytest.skip("the minlambda console script is not installed next to this Python")
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    p = subprocess.run(
        [str(script), "invoke", "app.handler", "--event", '{"name": "script"}'],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["hello"] == "script"
