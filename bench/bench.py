"""Runs the benchmark matrix with the stand-in and writes one JSON line per measurement.

Called by `bench/run` once the binaries and the venv are built; stdlib only. Each runtime is
measured on each event in one long run (CPU and wall time per invocation, peak RSS), then cold
start is measured in ROUNDS rounds of short runs (one invocation each), the runtimes
interleaved so that they share the machine's noise, with `python -c pass` and
`python -S -c pass` timed spawn to exit in the same rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
PEERS = BENCH / "peers" / "target" / "release"
VENV_PY = BENCH / ".venv" / "bin" / "python"
FUNCTIONS = BENCH / "functions"

# name, command, verify mode, extra env, N for the small events at scale 1, N for the 4 MB event
RUNTIMES = [
    ("bare", [str(TARGET / "release" / "bare")], "bytes", {}, 30_000, 60),
    ("echo", [str(TARGET / "release" / "examples" / "echo")], "json", {}, 30_000, 6),
    ("minlambda 0.2.0", [str(PEERS / "minlambda020_echo")], "json", {}, 6_000, 6),
    ("lambda_runtime", [str(PEERS / "lambda_runtime_echo")], "json", {}, 12_000, 6),
    (
        "python -m minlambda",
        [str(VENV_PY), "-m", "minlambda", "echo.handler"],
        "json",
        {},
        30_000,
        6,
    ),
    ("python -m minlambda raw", [str(VENV_PY), "raw_echo.py"], "bytes", {}, 30_000, 60),
    ("awslambdaric", [str(VENV_PY), "-m", "awslambdaric", "echo.handler"], "json", {}, 3_000, 6),
    (
        "awslambdaric python3.12",
        [str(VENV_PY), "-m", "awslambdaric", "echo.handler"],
        "json",
        {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"},
        1_200,
        6,
    ),
]
BASELINES = [
    ("python -c pass", [str(VENV_PY), "-c", "pass"]),
    ("python -S -c pass", [str(VENV_PY), "-S", "-c", "pass"]),
]


def events(shared: Path) -> list[tuple[str, Path]]:
    return [
        ("tiny", BENCH / "events" / "tiny.json"),
        ("apigw", BENCH / "events" / "apigw-http-v2.json"),
        ("4 MB", large_event(shared)),
    ]


def large_event(path: Path) -> Path:
    """The 4 MB sample; where it is missing, one of the same shape is made in the venv."""
    if path.exists():
        return path
    made = BENCH / ".venv" / "large-4mb.json"
    if not made.exists():
        records = [
            {
                "id": i,
                "name": f"item-{i:06d}",
                "price": (i * 7919 % 100_000) / 100,
                "tags": ["a", "bé", "c"],
                "active": i % 2 == 0,
                "nested": {"x": i * 1.5, "y": None, "note": "lorem ipsum dolor sit amet ✓"},
            }
            for i in range(28_000)
        ]
        text = json.dumps({"records": records}, separators=(",", ":"), ensure_ascii=False)
        made.write_text(text, encoding="utf-8")
    return made


def standin(args: list[str], log) -> list[dict]:
    cmd = [str(TARGET / "release" / "standin"), *args]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True, check=False)
    out = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    if not out:
        out = [
            {"failure": f"standin exited {proc.returncode} with no output", "all_answered": False}
        ]
    return out


def runtime_args(name: str, command: list[str], verify: str, env: dict, n: int, event: Path):
    args = ["--name", name, "-n", str(n), "--event", str(event), "--verify", verify]
    args += ["--cwd", str(FUNCTIONS), "--env", "_HANDLER=echo.handler"]
    args += ["--env", f"LAMBDA_TASK_ROOT={FUNCTIONS}"]
    for k, v in env.items():
        args += ["--env", f"{k}={v}"]
    return [*args, "--", *command]


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def cmd(*c: str) -> str:
        try:
            return subprocess.run(
                c, capture_output=True, text=True, check=False, cwd=ROOT
            ).stdout.strip()
        except OSError:
            return ""

    dirty = cmd("git", "status", "--porcelain", "--untracked-files=no")
    return {
        "kind": "machine",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        "rustc": cmd("rustc", "--version"),
        "python": cmd(str(VENV_PY), "-c", "import sys; print(sys.version.split()[0])"),
        "awslambdaric": cmd(
            str(VENV_PY), "-c", "import importlib.metadata as m; print(m.version('awslambdaric'))"
        ),
        "lambda_runtime": lock_version(BENCH / "peers" / "Cargo.lock", "lambda_runtime"),
        "commit": cmd("git", "rev-parse", "--short", "HEAD")
        + (" (with local changes)" if dirty else ""),
    }


def lock_version(lock: Path, name: str) -> str:
    try:
        lines = lock.read_text().splitlines()
    except OSError:
        return ""
    for i, line in enumerate(lines):
        if line == f'name = "{name}"' and i + 1 < len(lines):
            return lines[i + 1].split('"')[1]
    return ""


def sizes() -> list[dict]:
    files = [
        ("echo", TARGET / "release" / "examples" / "echo"),
        ("hello", TARGET / "release" / "examples" / "hello"),
        ("bare", TARGET / "release" / "bare"),
        ("minlambda 0.2.0 echo", PEERS / "minlambda020_echo"),
        ("lambda_runtime echo", PEERS / "lambda_runtime_echo"),
        ("lambda_runtime hello", PEERS / "lambda_runtime_hello"),
    ]
    out = []
    for name, path in files:
        if not path.exists():
            continue
        # The release profiles already strip symbols; strip a copy anyway, to be sure.
        copy = BENCH / ".venv" / f"stripped-{path.name}"
        size = path.stat().st_size
        if (
            subprocess.run(
                ["strip", "-o", str(copy), str(path)], capture_output=True, check=False
            ).returncode
            == 0
        ):
            size = copy.stat().st_size
            copy.unlink()
        out.append({"kind": "size", "binary": name, "bytes": size})
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scale", type=float, default=1.0, help="multiply every N by this")
    p.add_argument("--rounds", type=int, default=20, help="cold-start rounds")
    p.add_argument("--repeats", type=int, default=5, help="runs per runtime and event")
    p.add_argument("--large", type=Path, required=True, help="the 4 MB event")
    p.add_argument("--out", type=Path, required=True, help="where to write the JSON lines")
    p.add_argument("--log", type=Path, required=True, help="the runtimes' stderr")
    p.add_argument("--only", default="", help="comma-separated runtime names to run")
    a = p.parse_args()
    only = {s.strip() for s in a.only.split(",") if s.strip()}
    runtimes = [r for r in RUNTIMES if not only or r[0] in only]

    results = [machine(), *sizes()]
    with a.log.open("w") as log:
        # `repeats` rounds, the runtimes interleaved so that they share the machine's noise.
        plan = [(e, p) for _ in range(a.repeats) for e, p in events(a.large)]
        for event, path in plan:
            for name, command, verify, env, n_small, n_large in runtimes:
                n = max(1, round((n_large if event == "4 MB" else n_small) * a.scale))
                t = time.monotonic()
                for r in standin(runtime_args(name, command, verify, env, n, path), log):
                    r.update(kind="loop", event=event, runtime=name)
                    results.append(r)
                    status = "ok" if r.get("all_answered") else "NOT ALL ANSWERED"
                    cpu = r.get("cpu_us_per_inv", float("nan"))
                    print(
                        f"  {event:5} {name:24} n={n:<6} {cpu:>10} us cpu/inv  {status}"
                        f"  ({time.monotonic() - t:.1f} s)",
                        file=sys.stderr,
                    )
        tiny = BENCH / "events" / "tiny.json"
        print(f"  cold start: {a.rounds} rounds", file=sys.stderr)
        for _ in range(a.rounds):
            for name, command, verify, env, _n, _l in runtimes:
                for r in standin(runtime_args(name, command, verify, env, 1, tiny), log):
                    r.update(kind="cold", runtime=name)
                    results.append(r)
            for name, command in BASELINES:
                for r in standin(["--exec-only", "--name", name, "--", *command], log):
                    r.update(kind="exec")
                    results.append(r)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with a.out.open("w") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
