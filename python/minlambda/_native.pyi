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
