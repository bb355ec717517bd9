"""minlambda: a minimal, fast AWS Lambda runtime for Python on a Rust core.

``run(handler)`` serves ``handler(event, context)``; ``run_ok(handler)`` serves
``handler(event)``. Both take ``raw=True`` to hand the handler the payload as ``bytes``.
Importing this package is cheap: JSON and the handler machinery load only when a runtime
starts.
"""

from minlambda._native import Context, RuntimeApiError
from minlambda._runtime import run, run_ok

__all__ = ["Context", "RuntimeApiError", "run", "run_ok"]
__version__ = "0.3.0"
