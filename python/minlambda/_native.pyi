"""Type stub of ``minlambda._native``, the PyO3 module built from crates/minlambda-python."""

from collections.abc import Callable
from typing import Any

class RuntimeApiError(RuntimeError):
    """The Runtime API cannot be used: the process should end."""

class Context:
    """The invocation context, with the attributes of the official client's LambdaContext."""

    @property
    def aws_request_id(self) -> str: ...
    @property
    def invoked_function_arn(self) -> str: ...
    @property
    def deadline_ms(self) -> int: ...
    @property
    def tenant_id(self) -> str | None: ...
    @property
    def xray_trace_id(self) -> str | None: ...
    @property
    def identity(self) -> Any | None: ...
    @property
    def client_context(self) -> Any | None: ...
    @property
    def function_name(self) -> str: ...
    @property
    def function_version(self) -> str: ...
    @property
    def memory_limit_in_mb(self) -> str: ...
    @property
    def log_group_name(self) -> str: ...
    @property
    def log_stream_name(self) -> str: ...
    def __init__(
        self,
        aws_request_id: str = "",
        invoked_function_arn: str = "",
        deadline_ms: int = 0,
        tenant_id: str | None = None,
        xray_trace_id: str | None = None,
        identity: Any | None = None,
        client_context: Any | None = None,
    ) -> None: ...
    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the deadline, never negative."""

def serve(
    handler: Callable[..., Any],
    *,
    raw: bool,
    with_context: bool,
    dumps: Callable[[Any], bytes],
    on_error: Callable[[BaseException, str | None], tuple[str, str, list[str]]],
    make_identity: Callable[[str], Any],
    make_client_context: Callable[[str], Any],
) -> None:
    """Serve ``handler`` until the Runtime API fails or a BaseException escapes."""

def init_error(error_type: str, message: str, stack_trace: list[str]) -> None:
    """Post an initialisation error to /runtime/init/error."""

def current_request_id() -> str:
    """The request id of the invocation in progress ("" before the first)."""

class Emulator:
    """A local Lambda emulator running ``command`` as the runtime (crates/minlambda-emulator).

    Both ports are bound on construction (``OSError`` if one is taken, or if the command is
    not found; ``ValueError`` for a bad ``listen`` or ``timeout``); the runtime starts on
    the first invocation. ``timeout`` defaults to ``$AWS_LAMBDA_FUNCTION_TIMEOUT`` else
    300 s, ``memory_mb`` to ``$AWS_LAMBDA_FUNCTION_MEMORY_SIZE`` else 3008.
    """

    def __init__(
        self,
        command: list[str],
        *,
        listen: str = "127.0.0.1:8080",
        timeout: float | None = None,
        memory_mb: int | None = None,
        env: dict[str, str] | None = None,
        handler: str | None = None,
        runtime_stdout_to_stderr: bool = False,
        log_reports: bool = True,
    ) -> None: ...
    @property
    def address(self) -> str:
        """The Invoke API's ``host:port``."""
    @property
    def url(self) -> str:
        """The Invoke API's URL."""
    def serve(self) -> None:
        """Serve the Invoke API until a signal handler raises (Ctrl-C) or ``close()``."""
    def invoke(
        self, payload: bytes, headers: list[tuple[str, str]] | None = None
    ) -> tuple[int, list[tuple[str, str]], bytes, str]:
        """One invocation: ``(status, headers, body, report_line)``."""
    def close(self) -> None:
        """Stop serving and kill the runtime."""
