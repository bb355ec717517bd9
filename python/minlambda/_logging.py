"""``logging`` in Lambda's formats; imported only by programs that use ``logging``."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

from minlambda._log import JSON_FORMAT, _timestamp
from minlambda._native import current_request_id


class TextFormatter(logging.Formatter):
    """``[LEVEL]\\t<timestamp>\\t<request id>\\t<message>``, the official client's format."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        rid = current_request_id()
        return f"[{record.levelname}]\t{_timestamp(record.created)}\t{rid}\t{message}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: timestamp, level, message, logger, requestId."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "timestamp": _timestamp(record.created),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        rid = current_request_id()
        if rid:
            out["requestId"] = rid
        if record.exc_info and record.exc_info[0] is not None:
            out["errorType"] = record.exc_info[0].__name__
            out["errorMessage"] = str(record.exc_info[1])
            out["stackTrace"] = self.formatException(record.exc_info).splitlines()
        return json.dumps(out, default=str)


LEVELS = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}


def setup_logging() -> None:
    """Replace the root logger's handlers with one in Lambda's format, at
    ``AWS_LAMBDA_LOG_LEVEL`` when it is set."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if JSON_FORMAT else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = LEVELS.get(level, level)
    if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        root.setLevel(level)
