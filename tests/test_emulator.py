"""The local emulator end to end: ``minlambda serve`` / ``python -m minlambda`` /
``minlambda emulate`` as real servers, called over real HTTP, with minlambda's Python
runtime, the Rust ``echo`` example and the official client (awslambdaric) as runtimes."""

from __future__ import annotations

import base64
import json
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import rust_example

APP = """
import os

def handler(event, context):
    if event.get("exit"):
        os._exit(event["exit"])
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    if event.get("fail"):
        raise ValueError(event["fail"])
    if "big" in event:
        return {"size": len(event["big"])}
    if event.get("reply"):
        return "a" * event["reply"]
    cc = context.client_context
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "custom": cc.custom if cc else None,
        "pid": os.getpid(),
        "memory": context.memory_limit_in_mb,
        "name": context.function_name,
    }
"""

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
REPORT = re.compile(
    r"^REPORT RequestId: (?P<id>\S+)\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
    r"Memory Size: (?P<mem>\d+) MB\tMax Memory Used: (?P<used>\d+) MB\t"
    r"(?:Init Duration: (?P<init>\d+\.\d\d) ms\t)?(?P<status>Status: .*)?$",
    re.M,
)


def reports(log: str) -> list[re.Match[str]]:
    return list(REPORT.finditer(log))


def wait_for(predicate, timeout: float = 5) -> None:
    import time

    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def test_serve_answers_over_http_with_lambda_context_and_log_lines(serve) -> None:
    s = serve(APP, env={"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512"})
    status, headers, body = s.invoke(b'{"name": "Ada"}')
    assert status == 200
    assert headers["content-type"] == "application/json"
    out = json.loads(body)
    assert out["event"] == {"name": "Ada"}
    assert UUID.match(out["request_id"])
    assert headers["x-amzn-requestid"] == out["request_id"]
    assert out["arn"] == "arn:aws:lambda:us-east-1:012345678912:function:function"
    assert 290_000 < out["remaining_ms"] <= 300_000
    assert (out["memory"], out["name"]) == ("512", "function")
    assert "x-amz-function-error" not in headers

    status, _, body = s.invoke(b"[1, 2]")
    assert status == 200
    wait_for(lambda: len(reports(s.log())) == 2)
    log = s.log()
    rid = out["request_id"]
    assert f"START RequestId: {rid} Version: $LATEST\n" in log
    assert f"END RequestId: {rid}\n" in log
    first, second = reports(log)
    assert first["id"] == rid
    assert first["mem"] == "512"
    assert int(first["used"]) > 0, "Max Memory Used is measured from the runtime process"
    assert first["init"] is not None, "the first invocation reports its init"
    assert second["init"] is None


def test_function_error_is_200_with_x_amz_function_error(serve) -> None:
    s = serve(APP)
    status, headers, body = s.invoke(b'{"fail": "no good"}')
    assert status == 200
    assert headers["x-amz-function-error"] == "Unhandled"
    err = json.loads(body)
    assert (err["errorType"], err["errorMessage"]) == ("ValueError", "no good")


def test_client_context_and_trace_id_reach_the_function(serve) -> None:
    s = serve(APP)
    cc = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    status, _, body = s.invoke(b"{}", {"X-Amz-Client-Context": cc, "X-Amzn-Trace-Id": trace})
    assert status == 200
    out = json.loads(body)
    assert out["custom"] == {"k": "v"}
    assert out["trace"] == trace
    status, _, body = s.invoke(b"{}")
    assert (json.loads(body)["custom"], json.loads(body)["trace"]) == (None, None)
    status, _, body = s.invoke(b"{}", {"X-Amz-Client-Context": "%%%"})
    assert status == 400


def test_a_runtime_that_exits_is_502_and_the_next_invocation_inits_again(serve) -> None:
    s = serve(APP)
    _, _, body = s.invoke(b"{}")
    pid = json.loads(body)["pid"]
    status, headers, body = s.invoke(b'{"exit": 3}')
    assert status == 502
    err = json.loads(body)
    assert err["errorType"] == "Runtime.ExitError"
    assert err["errorMessage"].endswith("Runtime exited with error: exit status 3")
    assert headers["x-amz-function-error"] == "Unhandled"
    status, _, body = s.invoke(b"{}")
    assert status == 200
    assert json.loads(body)["pid"] != pid
    wait_for(lambda: len(reports(s.log())) == 3)
    inits = [m["init"] is not None for m in reports(s.log())]
    assert inits == [True, False, True]
    assert reports(s.log())[1]["status"] == "Status: error\tError Type: Runtime.ExitError"


def test_a_timeout_kills_the_runtime_and_the_next_invocation_restarts_it(serve) -> None:
    s = serve(APP, "--timeout", "1")
    _, _, body = s.invoke(b"{}")
    pid = json.loads(body)["pid"]
    status, headers, body = s.invoke(b'{"sleep": 30}')
    assert status == 200
    assert headers["x-amz-function-error"] == "Unhandled"
    err = json.loads(body)
    assert err["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(
        r"RequestId: \S+ Error: Task timed out after 1\.00 seconds", err["errorMessage"]
    )
    status, _, body = s.invoke(b"{}")
    assert status == 200
    new_pid = json.loads(body)["pid"]
    assert new_pid != pid
    if sys.platform == "linux":
        assert not Path(f"/proc/{pid}").exists(), "the timed-out runtime was killed"
    wait_for(lambda: len(reports(s.log())) == 3)
    assert reports(s.log())[1]["status"] == "Status: timeout"


def test_an_init_error_is_502_and_init_runs_again(serve) -> None:
    s = serve("raise RuntimeError('cannot start')\n")
    for _ in range(2):
        status, _, body = s.invoke(b"{}")
        assert status == 502
        err = json.loads(body)
        assert err["errorType"] == "Runtime.ImportModuleError"
        assert "cannot start" in err["errorMessage"]
    wait_for(lambda: len(reports(s.log())) == 2)
    assert all(m["init"] is not None for m in reports(s.log()))


def test_payloads_over_6_mib_are_413(serve) -> None:
    s = serve(APP)
    status, _, body = s.invoke(b"1" * (6 * 1024 * 1024 + 1))
    assert status == 413
    assert json.loads(body) == {
        "errorType": "RequestEntityTooLarge",
        "errorMessage": "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
    }
    # Exactly 6 MiB goes through.
    big = json.dumps({"big": "a" * (6 * 1024 * 1024 - 11)}).encode()
    assert len(big) == 6 * 1024 * 1024
    status, _, body = s.invoke(big, timeout=60)
    assert (status, json.loads(body)) == (200, {"size": 6 * 1024 * 1024 - 11})
    # A reply over the limit is the function's error, as in Lambda.
    status, headers, body = s.invoke(json.dumps({"reply": 7 * 1024 * 1024}), timeout=60)
    assert (status, headers["x-amz-function-error"]) == (200, "Unhandled")
    assert json.loads(body)["errorType"] == "Function.ResponseSizeTooLarge"


def test_a_burst_of_concurrent_callers_is_queued_and_each_answered_once(serve) -> None:
    s = serve(APP)

    def call(i: int) -> tuple[int, dict]:
        status, _, body = s.invoke(json.dumps({"caller": i}).encode(), timeout=60)
        return status, json.loads(body)

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(call, range(50)))
    assert [st for st, _ in results] == [200] * 50
    assert [out["event"] for _, out in results] == [{"caller": i} for i in range(50)]
    ids = {out["request_id"] for _, out in results}
    assert len(ids) == 50
    assert len({out["pid"] for _, out in results}) == 1, "one runtime served them all"
    wait_for(lambda: len(reports(s.log())) == 50)
    assert {m["id"] for m in reports(s.log())} == ids


def test_python_m_minlambda_without_a_runtime_api_serves(serve, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event\n")
    s = serve(None, "app.handler", "--listen", "127.0.0.1:0")
    assert s.lines[0].startswith("minlambda: serving app.handler on http://127.0.0.1:")
    assert s.invoke(b'{"a": 1}')[2] == b'{"a":1}'


def echo_example() -> Path:
    return rust_example("echo")


def test_emulate_runs_the_rust_echo_example(serve) -> None:
    s = serve(None, "emulate", "--listen", "127.0.0.1:0", "--", str(echo_example()))
    status, headers, body = s.invoke(b'{"hello": ["world", 1]}')
    assert status == 200
    assert json.loads(body) == {"hello": ["world", 1]}
    status, headers, body = s.invoke(b"not json")
    assert headers["x-amz-function-error"] == "Unhandled"
    assert json.loads(body)["errorType"] == "Runtime.UnmarshalError"


AWSLAMBDARIC_APP = """
def handler(event, context):
    if event.get("fail"):
        raise KeyError("missing")
    cc = context.client_context
    return {"event": event, "request_id": context.aws_request_id,
            "custom": cc.custom if cc else None}
"""


def test_emulate_runs_the_official_python_client(serve, tmp_path: Path) -> None:
    pytest.importorskip("awslambdaric")
    (tmp_path / "app.py").write_text(AWSLAMBDARIC_APP)
    s = serve(
        None,
        "emulate",
        "--listen",
        "127.0.0.1:0",
        "--",
        sys.executable,
        "-m",
        "awslambdaric",
        "app.handler",
    )
    cc = base64.b64encode(b'{"custom": {"from": "caller"}}').decode()
    # curl's default Content-Type is fine: the event still arrives as JSON.
    status, headers, body = s.invoke(
        b'{"a": 1}',
        {"X-Amz-Client-Context": cc, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200, body
    out = json.loads(body)
    assert out["event"] == {"a": 1}
    assert out["request_id"] == headers["x-amzn-requestid"]
    assert out["custom"] == {"from": "caller"}
    status, headers, body = s.invoke(b'{"fail": true}')
    assert (status, headers["x-amz-function-error"]) == (200, "Unhandled")
    assert json.loads(body)["errorType"] == "KeyError"


def test_stopping_the_server_stops_the_runtime(serve) -> None:
    s = serve(APP)
    pid = json.loads(s.invoke(b"{}")[2])["pid"]
    assert s.stop() == 0
    if sys.platform == "linux":
        assert not Path(f"/proc/{pid}").exists()
