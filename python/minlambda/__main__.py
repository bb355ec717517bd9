"""``python -m minlambda [HANDLER]``: the runtime inside Lambda, a drop-in for the official
client's ``python -m awslambdaric HANDLER``; outside Lambda, and as ``minlambda
serve|invoke|emulate``, the local emulator's command line (``minlambda._cli``)."""

import os
import sys

SUBCOMMANDS = ("serve", "invoke", "emulate")


def main(argv: list[str] | None = None) -> None:
    """The command line: inside Lambda (``$AWS_LAMBDA_RUNTIME_API`` set) ``python -m
    minlambda [HANDLER]`` is the runtime; a subcommand, an option, or no Runtime API goes to
    the local tools in ``minlambda._cli`` (loaded only then: the runtime starts without
    argparse)."""
    args = sys.argv[1:] if argv is None else argv
    local = not os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if local or (args and (args[0] in SUBCOMMANDS or args[0].startswith("-"))):
        from minlambda._cli import cli

        raise SystemExit(cli(args))
    spec = args[0] if args else os.environ.get("_HANDLER", "")
    if not spec:
        sys.stderr.write("minlambda: no handler: pass module.function or set _HANDLER\n")
        raise SystemExit(2)
    run_runtime(spec)


def run_runtime(spec: str) -> None:
    """Load the handler (an init error goes to ``/runtime/init/error``) and serve it."""
    from minlambda import _native
    from minlambda._handler import InitError, load
    from minlambda._log import log_error, setup_output
    from minlambda._runtime import fail, run

    setup_output()
    try:
        handler = load(spec)
    except InitError as e:
        log_error(e.error_type, e.message, e.trace)
        try:
            _native.init_error(e.error_type, e.message, e.trace)
        except _native.RuntimeApiError as api:
            fail(str(api))
        raise SystemExit(1) from None
    run(handler)


if __name__ == "__main__":
    main()
