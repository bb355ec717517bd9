"""Finding the handler named by ``module.function``, as the official client does, with its
init error types."""

import importlib
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class InitError(Exception):
    """A failure before the first invocation, reported to ``/runtime/init/error``."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


def load(spec: str) -> "Callable[..., Any]":
    """The callable named by ``spec``: ``module.function``, ``pkg.module.function`` or
    ``dir/module.function``, found from ``$LAMBDA_TASK_ROOT`` and the working directory."""
    for root in (os.getcwd(), os.environ.get("LAMBDA_TASK_ROOT")):
        if root and root not in sys.path:
            sys.path.insert(0, root)
    modname, _, fname = spec.rpartition(".")
    if not modname or not fname:
        raise InitError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{spec}': expected module.function (e.g. app.handler)",
        )
    modname = modname.replace("/", ".")
    if modname.split(".")[0] in sys.builtin_module_names:
        raise InitError(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {modname} as a handler module",
        )
    try:
        module = importlib.import_module(modname)
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {(e.text or "").strip()}\n']
        raise InitError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {e}", trace
        ) from None
    except ImportError as e:
        raise InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{modname}': {e}"
        ) from None
    except Exception as e:  # the module raised: the official client's ImportModuleError
        import traceback

        trace = traceback.format_list(traceback.extract_tb(e.__traceback__))
        raise InitError(
            "Runtime.ImportModuleError",
            f"Unable to import module '{modname}': {type(e).__name__}: {e}",
            trace,
        ) from None
    handler = getattr(module, fname, None)
    if handler is None:
        raise InitError(
            "Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'"
        )
    if not callable(handler):
        raise InitError(
            "Runtime.HandlerNotFound",
            f"Handler '{fname}' on module '{modname}' is not callable",
        )
    return handler
