"""The invocation loop's Python side: handler adaptation, JSON, error reports, logging."""

import sys

from minlambda import _native
from minlambda._log import log_error, setup_output

# typing, and `from __future__ import annotations`, cost start-up time: type checkers
# alone import these, and annotations naming them are strings.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    Handler = Callable[..., Any]


def run(handler: "Handler", *, raw: bool = False) -> "NoReturn":
    """Serve ``handler(event, context)`` until the Runtime API goes away."""
    _serve(handler, raw=raw, with_context=True)


def run_ok(handler: "Handler", *, raw: bool = False) -> "NoReturn":
    """Serve ``handler(event)`` until the Runtime API goes away."""
    _serve(handler, raw=raw, with_context=False)


def _serve(handler: "Handler", *, raw: bool, with_context: bool) -> "NoReturn":
    setup_output()
    try:
        _native.serve(
            _sync(handler),
            raw=raw,
            with_context=with_context,
            dumps=_orjson_dumps,
            on_error=error_report,
            make_identity=_identity,
            make_client_context=_client_context,
        )
    except _native.RuntimeApiError as e:
        fail(str(e))
    except KeyboardInterrupt:
        sys.stderr.write("minlambda: interrupted\n")
        raise SystemExit(130) from None
    except SystemExit:
        raise
    except BaseException as e:  # a handler's BaseException, already reported, or a signal's
        fail(f"the function raised {type(e).__name__}: {e}")
    raise AssertionError("unreachable: serve() only returns by raising")


def fail(message: str) -> "NoReturn":
    """End the process after a protocol failure: one line on stderr, exit status 1."""
    sys.stderr.write(f"minlambda: {message}\n")
    sys.stderr.flush()
    raise SystemExit(1)


def _orjson_dumps(obj: "Any") -> bytes:
    """Encodes what the native encoder leaves to orjson (dataclasses, datetimes, numpy,
    subclasses, non-str keys, ...); orjson is imported on the first such result only,
    keeping it off the start-up path."""
    import orjson

    option = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
    return orjson.dumps(obj, default=_default, option=option)


def _default(obj: "Any") -> "Any":
    """What orjson does not encode natively but the official client's encoder does."""
    import decimal

    if isinstance(obj, decimal.Decimal):
        return str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _sync(handler: "Handler") -> "Handler":
    """An ``async def`` handler becomes a plain one that runs each call to completion on one
    event loop kept for the life of the process."""
    if not _is_async(handler):
        return handler
    import asyncio

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def run_async(*args: "Any") -> "Any":
        return loop.run_until_complete(handler(*args))

    return run_async


CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect (~10 ms)


def _is_async(fn: "Any") -> bool:
    """``inspect.iscoroutinefunction`` for functions, methods, partials and objects with
    an ``async def __call__``."""
    while True:
        if hasattr(fn, "func"):  # functools.partial
            fn = fn.func
        elif hasattr(fn, "__func__"):  # bound method
            fn = fn.__func__
        else:
            break
    code = getattr(fn, "__code__", None)
    if code is None:
        call = next(
            (c.__dict__["__call__"] for c in type(fn).__mro__ if "__call__" in c.__dict__), None
        )
        code = getattr(call, "__code__", None)
    return bool(code is not None and code.co_flags & CO_COROUTINE)


def error_report(exc: BaseException, error_type: str | None = None) -> tuple[str, str, list[str]]:
    """``(errorType, errorMessage, stackTrace)`` for an exception, as the official client
    formats them, and the error logged. ``error_type`` overrides the class name (with the
    official client's message prefixes for the runtime's own errors)."""
    import traceback

    message = str(exc)
    if error_type == "Runtime.UnmarshalError":
        message = f"Unable to unmarshal input: {message}"
    elif error_type == "Runtime.MarshalError":
        message = f"Unable to marshal response: {message}"
    name = error_type or type(exc).__name__
    trace = traceback.format_list(traceback.extract_tb(exc.__traceback__))
    log_error(name, message, trace)
    return name, message, trace


class _Object:
    def __init__(self, **fields: "Any") -> None:
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({inner})"


class CognitoIdentity(_Object):
    """``context.identity``: the Amazon Cognito identity of a mobile SDK caller."""

    cognito_identity_id: str | None
    cognito_identity_pool_id: str | None


class Client(_Object):
    """``context.client_context.client``."""


class ClientContext(_Object):
    """``context.client_context``: what a mobile SDK caller sent."""


def _identity(raw: str) -> CognitoIdentity:
    import json

    d = json.loads(raw) if raw else {}
    return CognitoIdentity(
        cognito_identity_id=d.get("cognitoIdentityId"),
        cognito_identity_pool_id=d.get("cognitoIdentityPoolId"),
    )


def _client_context(raw: str) -> ClientContext:
    import json

    d = json.loads(raw) if raw else {}
    client = d.get("client")
    if client is not None:
        client = Client(
            installation_id=client.get("installation_id"),
            app_title=client.get("app_title"),
            app_version_name=client.get("app_version_name"),
            app_version_code=client.get("app_version_code"),
            app_package_name=client.get("app_package_name"),
        )
    return ClientContext(client=client, custom=d.get("custom"), env=d.get("env"))
