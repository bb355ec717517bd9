"""The benchmark's Python function: the event back as it came.

`python -m minlambda echo.handler` and `python -m awslambdaric echo.handler` both serve it."""


def handler(event, context):
    return event
