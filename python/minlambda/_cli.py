"""The command line outside Lambda: ``minlambda serve|invoke|emulate``, and
``python -m minlambda [HANDLER]`` when ``AWS_LAMBDA_RUNTIME_API`` is not set (= ``serve``).

The function runs as it would in Lambda: ``python -m minlambda HANDLER`` is started as the
runtime under the local emulator (``minlambda._native.Emulator``, the Rust crate
``minlambda-emulator``), and the two talk over real loopback HTTP. Loaded only when needed,
so the runtime's own start-up inside Lambda does not pay for argparse.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import NoReturn

SUBCOMMANDS = ("serve", "invoke", "emulate")

USAGE = """\
usage: minlambda serve [HANDLER] [--listen HOST:PORT] [--timeout S]
       minlambda invoke [HANDLER] (--event JSON | --event-file PATH | -) [--timeout S]
       minlambda emulate [--listen HOST:PORT] [--timeout S] -- COMMAND [ARGS...]
       python -m minlambda [HANDLER]

Run and test AWS Lambda functions locally, no Docker needed. HANDLER is module.function
(default: $_HANDLER), found from the working directory.

  serve     serve the Python function HANDLER on the Invoke API (default 127.0.0.1:8080):
              curl -d '{"name":"x"}' localhost:8080/2015-03-31/functions/function/invocations
  invoke    run one invocation: the result on stdout, the REPORT line on stderr, exit
            status 1 if the function failed
  emulate   run any runtime (a Rust bootstrap, python -m awslambdaric app.handler) under
            the emulator

With $AWS_LAMBDA_RUNTIME_API set (inside Lambda), `python -m minlambda HANDLER` is the
runtime itself; without it, it does what `serve` does.

Run `minlambda COMMAND --help` for a command's options.
"""

INVOKE_PATH = "/2015-03-31/functions/function/invocations"


class _Parser(argparse.ArgumentParser):
    """argparse, with errors on one line."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see `{self.prog} --help`)")


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"minlambda: {message}\n")
    raise SystemExit(2)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _common(p: argparse.ArgumentParser, listen: bool = True) -> None:
    if listen:
        p.add_argument(
            "--listen",
            metavar="HOST:PORT",
            default="127.0.0.1:8080",
            help="where the Invoke API listens (default 127.0.0.1:8080)",
        )
    p.add_argument(
        "--timeout",
        metavar="S",
        type=float,
        default=None,
        help="the function timeout in seconds (default $AWS_LAMBDA_FUNCTION_TIMEOUT, else 300)",
    )


def _parsers() -> dict[str, argparse.ArgumentParser]:
    serve = _Parser(
        prog="minlambda serve",
        description="Serve a Python function on the Lambda Invoke API, as AWS's Runtime "
        "Interface Emulator does: POST http://HOST:PORT" + INVOKE_PATH,
    )
    serve.add_argument("handler", nargs="?", metavar="HANDLER", help="module.function")
    _common(serve)

    invoke = _Parser(
        prog="minlambda invoke",
        description="Run one invocation of a Python function: the result on stdout, "
        "the START/END/REPORT lines and the function's output on stderr; exit status 1 "
        "if the function failed.",
    )
    invoke.add_argument(
        "args",
        nargs="*",
        metavar="HANDLER | -",
        help="module.function; `-` reads the event from stdin",
    )
    invoke.add_argument("--event", metavar="JSON", help="the event, as JSON text")
    invoke.add_argument("--event-file", metavar="PATH", help="read the event from a file")
    _common(invoke, listen=False)

    emulate = _Parser(
        prog="minlambda emulate",
        usage="minlambda emulate [--listen HOST:PORT] [--timeout S] -- COMMAND [ARGS...]",
        description="Run any Lambda runtime under the local emulator: COMMAND gets the "
        "Runtime API in $AWS_LAMBDA_RUNTIME_API; callers POST http://HOST:PORT" + INVOKE_PATH,
    )
    _common(emulate)
    return {"serve": serve, "invoke": invoke, "emulate": emulate}


def cli(args: list[str]) -> int:
    """Runs the command line; returns the exit status."""
    if not args or args[0] not in SUBCOMMANDS:
        if args and args[0] in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        if args and args[0].startswith("-") and args[0] not in ("--listen", "--timeout"):
            _fail(f"unknown option {args[0]} (see `minlambda --help`)")
        args = ["serve", *args]
    name, rest = args[0], args[1:]
    parser = _parsers()[name]
    if name == "emulate":
        command: list[str] = []
        if "--" in rest:
            i = rest.index("--")
            rest, command = rest[:i], rest[i + 1 :]
        ns = parser.parse_args(rest)
        if not command:
            _fail("no command given: minlambda emulate [OPTIONS] -- COMMAND [ARGS...]")
        return _emulate(ns, command)
    ns = parser.parse_args(rest)
    return _serve(ns) if name == "serve" else _invoke(ns)


def _handler(spec: str | None) -> str:
    """The handler to run, checked as far as can be without importing the user's code."""
    import importlib.util

    spec = spec or os.environ.get("_HANDLER", "")
    if not spec:
        _fail("no handler: pass module.function (e.g. app.handler) or set _HANDLER")
    modname, _, fname = spec.rpartition(".")
    if not modname or not fname:
        _fail(f"bad handler {spec!r}: expected module.function (e.g. app.handler)")
    top = modname.replace("/", ".").split(".")[0]
    roots = [r for r in (os.environ.get("LAMBDA_TASK_ROOT"), os.getcwd()) if r]
    sys.path[:0] = roots
    try:
        found = importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        found = False
    finally:
        del sys.path[: len(roots)]
    if not found:
        _fail(f"handler {spec}: no module named {top!r} in {roots[0]}")
    return spec


def _emulator(command: list[str], listen: str, timeout: float | None, **kw: object):
    from minlambda._native import Emulator

    try:
        return Emulator(command, listen=listen, timeout=timeout, **kw)
    except (OSError, ValueError) as e:
        _fail(str(e))


def _run(emulator, what: str) -> int:
    sys.stderr.write(f"minlambda: serving {what} on {emulator.url}\n")
    sys.stderr.flush()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        emulator.serve()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.close()
    return 0


def _runtime(spec: str) -> list[str]:
    return [sys.executable, "-m", "minlambda", spec]


def _serve(ns: argparse.Namespace) -> int:
    spec = _handler(ns.handler)
    return _run(_emulator(_runtime(spec), ns.listen, ns.timeout, handler=spec), spec)


def _emulate(ns: argparse.Namespace, command: list[str]) -> int:
    return _run(_emulator(command, ns.listen, ns.timeout), " ".join(command))


def _event(ns: argparse.Namespace) -> tuple[str | None, bytes]:
    """The handler argument and the event's bytes, checked to be JSON."""
    import json

    handlers = [a for a in ns.args if a != "-"]
    stdin = len(handlers) != len(ns.args)
    if len(handlers) > 1:
        _fail(f"one handler at most, not {' '.join(handlers)}")
    sources = sum(x for x in (ns.event is not None, ns.event_file is not None, stdin))
    if sources > 1:
        _fail("give the event one way: --event JSON, --event-file PATH or - (stdin)")
    if ns.event is not None:
        raw = ns.event.encode()
    elif ns.event_file is not None:
        try:
            with open(ns.event_file, "rb") as f:
                raw = f.read()
        except OSError as e:
            _fail(f"cannot read the event: {e.strerror}: {ns.event_file}")
    elif stdin:
        raw = sys.stdin.buffer.read()
    else:
        raw = b"{}"
    try:
        json.loads(raw)
    except ValueError as e:
        _fail(f"bad event JSON: {e}")
    return (handlers[0] if handlers else None), raw


def _invoke(ns: argparse.Namespace) -> int:
    spec, event = _event(ns)
    spec = _handler(spec)
    emulator = _emulator(
        _runtime(spec),
        "127.0.0.1:0",
        ns.timeout,
        handler=spec,
        runtime_stdout_to_stderr=True,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        status, headers, body, _report = emulator.invoke(
            event, [("Content-Type", "application/json")]
        )
    except KeyboardInterrupt:
        return 130
    finally:
        emulator.close()
    out = sys.stdout.buffer
    out.write(body)
    if not body.endswith(b"\n"):
        out.write(b"\n")
    out.flush()
    failed = status != 200 or any(k.lower() == "x-amz-function-error" for k, _ in headers)
    return 1 if failed else 0
