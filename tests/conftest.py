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
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")


def rust_example(name: str) -> Path:
    """A Rust example built by `cargo test` (bash scripts/test runs it before pytest)."""
    exe = TARGET / "debug" / "examples" / name
    if not exe.exists():
        pytest.fail(f"the Rust example {name} is not built ({exe}): run `cargo test` first")
    return exe


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


# --- The local emulator: `minlambda serve` / `minlambda emulate` as a real server ---------


class Served:
    """A ``minlambda serve|emulate`` process and its Invoke API, over real HTTP."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        import threading

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "minlambda", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: list[str] = []
        first = self.proc.stderr.readline().decode()
        self.lines.append(first)
        if " on http://" not in first:
            self.proc.kill()
            rest = self.proc.communicate(timeout=10)[1].decode()
            raise RuntimeError(f"the server did not start: {first}{rest}")
        self.url = first.rsplit(" on ", 1)[1].strip()
        host_port = self.url.split("/")[2]
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)
        self.path = "/" + self.url.split("/", 3)[3]
        self.out: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        # the function's own output must be drained too, or a chatty function blocks
        threading.Thread(target=self._read_out, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.decode(errors="replace"))

    def _read_out(self) -> None:
        for line in self.proc.stdout:
            self.out.append(line.decode(errors="replace"))

    def invoke(
        self, body: bytes | str = b"{}", headers: dict[str, str] | None = None, timeout: float = 30
    ):
        """POST to the Invoke API: ``(status, headers, body)``; headers with lower-case
        names."""
        import http.client

        if isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request("POST", self.path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def log(self) -> str:
        return "".join(self.lines)

    def stop(self) -> int:
        self.proc.terminate()
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(timeout=5)
        return code


@pytest.fixture
def serve(tmp_path: Path):
    """``serve(code, *args)``: writes ``code`` as app.py and runs ``minlambda serve
    app.handler --listen 127.0.0.1:0 ARGS...``; ``serve(None, "emulate", ...)`` runs the
    arguments as given."""
    started: list[Served] = []

    def start(code: str | None, *args: str, env: dict[str, str] | None = None) -> Served:
        if code is not None:
            (tmp_path / "app.py").write_text(textwrap.dedent(code))
            args = ("serve", "app.handler", "--listen", "127.0.0.1:0", *args)
        s = Served(list(args), tmp_path, clean_env(**(env or {})))
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
