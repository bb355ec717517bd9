"""``python -m minlambda`` against a Runtime API stand-in: exact wire bodies and headers."""

from __future__ import annotations

import json

from runtime_api import Event

ECHO = """
def handler(event, context):
    return event
"""


def assert_clean_end(r) -> None:
    """The stand-in closed after the last event: one line on stderr, exit status 1."""
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("minlambda: "), r.stderr
    assert "Traceback" not in r.stderr


def test_echo_answers_every_invocation(run_function):
    events = [json.dumps({"n": i, "s": "é" * (i % 300)}).encode() for i in range(5000)]
    r = run_function(ECHO, events)
    assert_clean_end(r)
    replies = r.api.replies
    assert len(replies) == 5000
    assert len({x.path for x in replies}) == 5000
    for ev, rep in zip(events, replies, strict=True):
        assert rep.path.endswith("/response")
        assert json.loads(rep.body) == json.loads(ev)
        assert rep.headers["content-type"] == "application/json"
        assert rep.headers["content-length"] == str(len(rep.body))


def test_exception_is_the_invocation_error_and_the_loop_goes_on(run_function):
    code = """
    def handler(event, context):
        if event.get("fail"):
            raise ValueError("bad value: " + str(event["fail"]))
        return {"ok": True}
    """
    r = run_function(code, [b'{"fail": 1}', b'{"x": 1}'])
    assert_clean_end(r)
    err, ok = r.api.replies
    assert err.path.endswith("/error")
    assert err.headers["lambda-runtime-function-error-type"] == "Function.ValueError"
    body = err.json()
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad value: 1"
    assert any('app.py", line 4, in handler' in line for line in body["stackTrace"]), body
    assert ok.json() == {"ok": True}
    assert "[ERROR] ValueError: bad value: 1" in r.stdout


def test_unmarshal_and_marshal_errors(run_function):
    code = """
    def handler(event, context):
        return {1, 2}
    """
    r = run_function(code, [b"not json", b"{}"])
    assert_clean_end(r)
    un, mar = (x.json() for x in r.api.replies)
    assert un["errorType"] == "Runtime.UnmarshalError"
    assert un["errorMessage"].startswith("Unable to unmarshal input: ")
    assert mar["errorType"] == "Runtime.MarshalError"
    assert mar["errorMessage"].startswith("Unable to marshal response: ")
    assert (
        r.api.replies[0].headers["lambda-runtime-function-error-type"] == "Runtime.UnmarshalError"
    )


def test_context_attributes(run_function):
    code = """
    import os
    def handler(event, context):
        return {
            "id": context.aws_request_id,
            "arn": context.invoked_function_arn,
            "name": context.function_name,
            "version": context.function_version,
            "memory": context.memory_limit_in_mb,
            "group": context.log_group_name,
            "stream": context.log_stream_name,
            "tenant": context.tenant_id,
            "remaining": context.get_remaining_time_in_millis() > 10**9,
            "identity": context.identity and context.identity.cognito_identity_id,
            "client": context.client_context and context.client_context.client.app_title,
            "custom": context.client_context and context.client_context.custom,
            "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        }
    """
    full = {
        "Lambda-Runtime-Trace-Id": "Root=1-abc;Sampled=1",
        "Lambda-Runtime-Cognito-Identity": '{"cognitoIdentityId":"cid","cognitoIdentityPoolId":"pool"}',
        "Lambda-Runtime-Client-Context": '{"client":{"app_title":"t"},"custom":{"k":"v"},"env":{}}',
        "Lambda-Runtime-Aws-Tenant-Id": "tenant-1",
        "Lambda-Runtime-Invocation-Id": "inv-9",
    }
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
        "AWS_LAMBDA_LOG_STREAM_NAME": "stream",
    }
    r = run_function(code, [Event(b"{}", full, "req-1"), Event(b"{}", {}, "req-2")], env=env)
    assert_clean_end(r)
    first, second = r.api.replies
    assert first.json() == {
        "id": "req-1",
        "arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "name": "fn",
        "version": "$LATEST",
        "memory": "512",
        "group": "/aws/lambda/fn",
        "stream": "stream",
        "tenant": "tenant-1",
        "remaining": True,
        "identity": "cid",
        "client": "t",
        "custom": {"k": "v"},
        "trace": "Root=1-abc;Sampled=1",
    }
    assert first.headers["lambda-runtime-invocation-id"] == "inv-9"
    s = second.json()
    assert (s["id"], s["tenant"], s["identity"], s["client"], s["trace"]) == (
        "req-2",
        None,
        None,
        None,
        None,
    )
    assert "lambda-runtime-invocation-id" not in second.headers
