"""The runtime as a process: threads and signal handlers run while it waits, output is
unbuffered, logging carries the request id, and init failures reach /runtime/init/error."""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
import time

import pytest
from runtime_api import Event
from test_runtime import assert_clean_end


def read_line(stream, timeout: float = 5) -> str:
    """The next line of a child's pipe, or a failure after ``timeout`` s."""
    out: list[str] = []
    t = threading.Thread(target=lambda: out.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout)
    assert out, f"no line within {timeout} s"
    return out[0]


def test_threads_run_while_the_runtime_waits(start_function):
    code = """
    import threading, time
    ticks = []

    def tick():
        while True:
            ticks.append(time.monotonic())
            time.sleep(0.005)

    threading.Thread(target=tick, daemon=True).start()

    def handler(event, context):
        return {"ticks": len(ticks)}
    """
    _, api = start_function(code, [Event(b"{}")])
    before = api.wait_replies(1)[0].json()["ticks"]
    time.sleep(0.5)  # the runtime is blocked in /next: the GIL must be free
    api.add(Event(b"{}"))
    after = api.wait_replies(2)[1].json()["ticks"]
    assert after - before >= 25, (before, after)


def test_sigterm_handler_runs_while_waiting(start_function):
    code = """
    import signal, sys

    def bye(signum, frame):
        print("graceful shutdown", signum)
        sys.exit(0)

    signal.signal(signal.SIGTERM, bye)

    def handler(event, context):
        return event
    """
    p, api = start_function(code, [Event(b"{}")])
    api.wait_replies(1)
    time.sleep(0.1)
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=5)
    assert time.monotonic() - t0 < 1
    assert p.returncode == 0, err
    assert f"graceful shutdown {int(signal.SIGTERM)}" in out
    assert err == ""


def test_sigint_without_a_handler_ends_with_one_line(start_function):
    p, api = start_function("def handler(event, context):\n    return event\n")
    api.wait_replies(0)
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=5)
    assert p.returncode == 130
    assert err == "minlambda: interrupted\n"


def test_print_reaches_stdout_at_once(start_function):
    code = """
    def handler(event, context):
        print("from the handler", event["n"])
        return {}
    """
    p, api = start_function(code, [Event(b'{"n": 1}')])
    api.wait_replies(1)
    assert read_line(p.stdout) == "from the handler 1\n"
    api.add(Event(b'{"n": 2}'))
    assert read_line(p.stdout) == "from the handler 2\n"


LOGGING = """
import logging
logger = logging.getLogger("app")

def handler(event, context):
    logger.warning("warned %s", event["n"])
    logging.debug("debugged")
    try:
        1 / 0
    except ZeroDivisionError:
        logger.exception("failed")
    return {}
"""

TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def test_logging_text_format_carries_the_request_id(run_function):
    r = run_function(LOGGING, [Event(b'{"n": 7}', request_id="req-text")])
    assert_clean_end(r)
    lines = r.stdout.splitlines()
    assert re.fullmatch(rf"\[WARNING\]\t{TIMESTAMP}\treq-text\twarned 7", lines[0]), lines
    assert re.fullmatch(rf"\[ERROR\]\t{TIMESTAMP}\treq-text\tfailed", lines[1]), lines
    assert lines[2] == "Traceback (most recent call last):"
    assert lines[-1] == "ZeroDivisionError: division by zero"
    assert "debugged" not in r.stdout


def test_logging_json_format_and_level(run_function):
    env = {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}
    r = run_function(LOGGING, [Event(b'{"n": 8}', request_id="req-json")], env=env)
    assert_clean_end(r)
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(x["level"], x["message"]) for x in records] == [
        ("WARNING", "warned 8"),
        ("DEBUG", "debugged"),
        ("ERROR", "failed"),
    ]
    for x in records:
        assert x["requestId"] == "req-json"
        assert re.fullmatch(TIMESTAMP, x["timestamp"])
    assert records[2]["errorType"] == "ZeroDivisionError"
    assert records[2]["stackTrace"][-1] == "ZeroDivisionError: division by zero"


def test_error_log_line_in_json_format(run_function):
    code = "def handler(event, context):\n    raise ValueError('nope')\n"
    r = run_function(
        code, [Event(b"{}", request_id="req-err")], env={"AWS_LAMBDA_LOG_FORMAT": "JSON"}
    )
    assert_clean_end(r)
    (rec,) = [json.loads(line) for line in r.stdout.splitlines()]
    assert (rec["level"], rec["errorType"], rec["errorMessage"], rec["requestId"]) == (
        "ERROR",
        "ValueError",
        "nope",
        "req-err",
    )


@pytest.mark.parametrize(
    ("code", "handler", "error_type", "message"),
    [
        ("", "missing.handler", "Runtime.ImportModuleError",
         "Unable to import module 'missing': No module named 'missing'"),
        ("import nowhere_to_be_found\n", "app.handler", "Runtime.ImportModuleError",
         "Unable to import module 'app': No module named 'nowhere_to_be_found'"),
        ("raise RuntimeError('config missing')\n", "app.handler", "Runtime.ImportModuleError",
         "Unable to import module 'app': RuntimeError: config missing"),
        ("def handler(:\n", "app.handler", "Runtime.UserCodeSyntaxError", None),
        ("x = 1\n", "app.handler", "Runtime.HandlerNotFound",
         "Handler 'handler' missing on module 'app'"),
        ("handler = 1\n", "app.handler", "Runtime.HandlerNotFound",
         "Handler 'handler' on module 'app' is not callable"),
        ("", "nodot", "Runtime.MalformedHandlerName",
         "Bad handler 'nodot': expected module.function (e.g. app.handler)"),
        ("", "sys.exit", "Runtime.BuiltInModuleConflict",
         "Cannot use built-in module sys as a handler module"),
    ],
)  # fmt: skip
def test_init_errors(run_function, code, handler, error_type, message):
    r = run_function(code, [b"{}"], handler=handler)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    (req,) = r.api.requests
    assert req.method == "POST" and req.path == "/2018-06-01/runtime/init/error"
    assert req.headers["lambda-runtime-function-error-type"] == error_type
    body = req.json()
    assert body["errorType"] == error_type
    if message is None:
        assert body["errorMessage"].startswith("Syntax error in module 'app': ")
        assert body["stackTrace"] and "app.py" in body["stackTrace"][0]
    else:
        assert body["errorMessage"] == message
    assert r.stdout.startswith(f"[ERROR] {error_type}: ")


def test_handler_paths_and_task_root(run_function, tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "sub" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "sub" / "mod.py").write_text("def h(e, c):\n    return 'dotted'\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "fn.py").write_text("def h(e, c):\n    return 'slashed'\n")
    root = tmp_path / "task"
    root.mkdir()
    (root / "rooted.py").write_text("def h(e, c):\n    return 'task root'\n")
    for handler, want in (("pkg.sub.mod.h", "dotted"), ("src/fn.h", "slashed")):
        r = run_function("", [b"{}"], handler=handler)
        assert_clean_end(r)
        assert r.api.replies[0].json() == want
    r = run_function("", [b"{}"], handler="rooted.h", env={"LAMBDA_TASK_ROOT": str(root)})
    assert_clean_end(r)
    assert r.api.replies[0].json() == "task root"


def test_handler_from_the_environment(run_function):
    r = run_function(
        "def handler(e, c):\n    return 'env'\n",
        [b"{}"],
        command=[sys.executable, "-m", "minlambda"],
        env={"_HANDLER": "app.handler"},
    )
    assert_clean_end(r)
    assert r.api.replies[0].json() == "env"
