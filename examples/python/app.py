"""A small Lambda function: run it locally with

cd examples/python && python -m minlambda serve app.handler
curl -d '{"name":"Ada"}' localhost:8080/2015-03-31/functions/function/invocations
"""


def handler(event, context):
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    return {
        "message": f"Hello, {name}!",
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
