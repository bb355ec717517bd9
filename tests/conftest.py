from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from runtime_api import Event, RuntimeApi

REPO = Path(__file__).resolve().parent.parent
EVENTS = REPO.parent / "shared" / "events"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    api: RuntimeApi


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "_X_AMZN", "_HANDLER"))}
    env.update(extra)
    return env


@pytest.fixture
def run_function(tmp_path: Path):
    """Write ``code`` as app.py, serve ``events`` to ``python -m minlambda app.handler`` and
    wait for it to exit when the events run out."""

    def run(
        code: str,
        events: list[Event] | list[bytes],
        handler: str = "app.handler",
        env: dict[str, str] | None = None,
        timeout: float = 60,
        command: list[str] | None = None,
        **api_args,
    ) -> Run:
        (tmp_path / "app.py").write_text(textwrap.dedent(code))
        evs = [e if isinstance(e, Event) else Event(e) for e in events]
        api = RuntimeApi(evs, **api_args)
        with api:
            p = subprocess.run(
                command or [sys.executable, "-m", "minlambda", handler],
                cwd=tmp_path,
                env=clean_env(AWS_LAMBDA_RUNTIME_API=api.addr, **(env or {})),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        return Run(p.returncode, p.stdout, p.stderr, api)

    return run


@pytest.fixture
def start_function(tmp_path: Path):
    """Write ``code`` as app.py and start ``python -m minlambda app.handler`` against a
    stand-in that holds ``/next`` open when its events run out; the test drives both and
    the process is killed at the end if it still runs."""
    started: list[tuple[subprocess.Popen, RuntimeApi]] = []

    def start(
        code: str,
        events: list[Event] | None = None,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
    ) -> tuple[subprocess.Popen, RuntimeApi]:
        (tmp_path / "app.py").write_text(textwrap.dedent(code))
        api = RuntimeApi(events or [], hold=True)
        p = subprocess.Popen(
            command or [sys.executable, "-m", "minlambda", "app.handler"],
            cwd=tmp_path,
            env=clean_env(AWS_LAMBDA_RUNTIME_API=api.addr, **(env or {})),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append((p, api))
        return p, api

    yield start
    for p, api in started:
        if p.poll() is None:
            p.kill()
        p.communicate()
        api.close()
