"""Output as Lambda expects it: unbuffered lines, and log records that carry the request id
(text by default, JSON lines when ``AWS_LAMBDA_LOG_FORMAT=JSON``)."""

import os
import sys
import time

from minlambda._native import current_request_id

JSON_FORMAT = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"


def setup_output() -> None:
    """Make stdout and stderr write each line as it is printed, and give ``logging`` (when
    the program uses it: it is not imported here otherwise, to keep start-up short) a handler
    whose records carry the request id."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)
    if "logging" in sys.modules:
        from minlambda._logging import setup_logging

        setup_logging()


def _timestamp(created: float) -> str:
    ms = int(created * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{ms:03d}Z"


def log_error(error_type: str, message: str, trace: list[str]) -> None:
    """Log an invocation's error as the official client does: ``[ERROR] Type: message``
    and the traceback, or one JSON line with ``AWS_LAMBDA_LOG_FORMAT=JSON``."""
    if JSON_FORMAT:
        import json

        line = json.dumps(
            {
                "timestamp": _timestamp(time.time()),
                "level": "ERROR",
                "message": message,
                "errorType": error_type,
                "errorMessage": message,
                "stackTrace": trace,
                "requestId": current_request_id(),
            }
        )
    else:
        tb = "".join(trace)
        line = f"[ERROR] {error_type}: {message}"
        if tb:
            line += f"\nTraceback (most recent call last):\n{tb.rstrip()}"
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
