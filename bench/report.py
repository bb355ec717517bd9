"""Turns the benchmark's JSON lines into markdown: the tables, then the targets of issues 6 and 2
as ratios measured in the same run. Stdlib only.

    python3 bench/report.py bench/results/latest.jsonl [--readme bench/README.md]

With --readme, the report also replaces what lies between the `<!-- results -->` and
`<!-- /results -->` markers of that file.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

EVENTS = ["tiny", "apigw", "4 MB"]
PY = "python -m minlambda"
RIC = ["awslambdaric", "awslambdaric python3.12"]
DESCRIPTIONS = {
    "bare": "the least a client can do: two HTTP exchanges on one connection, no parsing (`bench/src/bin/bare.rs`)",
    "echo": "Rust, this crate: `examples/echo.rs`",
    "minlambda 0.2.0": "Rust, the 2020 crate from crates.io, echo of `serde_json::Value`",
    "lambda_runtime": "Rust, the official client from crates.io, echo of `serde_json::Value`",
    PY: "Python, this package: `python -m minlambda echo.handler` (JSON in Rust)",
    "python -m minlambda raw": "Python, this package: `minlambda.run(handler, raw=True)`, bytes in and out",
    "awslambdaric": "Python, the official client from PyPI: `python -m awslambdaric echo.handler`",
    "awslambdaric python3.12": "the same with `AWS_EXECUTION_ENV=AWS_Lambda_python3.12`, as the managed runtime runs it (polls `/next` on a thread)",
}


def merge(runs: list[dict]) -> dict:
    """One runtime on one event over several runs: the least CPU and wall time (what the other
    work on the machine adds is noise, and it only ever adds), the median peak RSS, and
    answered only if every run was."""
    out = dict(runs[0])
    out["runs"] = len(runs)
    for key, pick in (
        ("cpu_us_per_inv", min),
        ("sys_us_per_inv", min),
        ("wall_us_per_inv", min),
        ("peak_rss_kb", statistics.median),
    ):
        vals = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
        out[key] = pick(vals) if vals and len(vals) == len(runs) else math.nan
    cpus = [r["cpu_us_per_inv"] for r in runs if r.get("cpu_us_per_inv")]
    out["cpu_spread"] = max(cpus) / min(cpus) - 1 if cpus else math.nan
    out["all_answered"] = all(r.get("all_answered") for r in runs)
    if any(r.get("verified") is not None for r in runs):
        out["verified"] = all(r.get("verified") is not False for r in runs)
    out["answered"] = min(r.get("answered", 0) for r in runs)
    return out


class Results:
    def __init__(self, rows: list[dict]):
        self.machine = next((r for r in rows if r.get("kind") == "machine"), {})
        self.sizes = {r["binary"]: r["bytes"] for r in rows if r.get("kind") == "size"}
        groups: dict[tuple[str, str], list[dict]] = {}
        for r in rows:
            if r.get("kind") == "loop":
                groups.setdefault((r["runtime"], r["event"]), []).append(r)
        self.loops = {k: merge(v) for k, v in groups.items()}
        self.runtimes = list(dict.fromkeys(r["runtime"] for r in rows if r.get("kind") == "loop"))
        self.cold: dict[str, list[dict]] = {}
        for r in rows:
            if r.get("kind") == "cold":
                self.cold.setdefault(r["runtime"], []).append(r)
        self.exec: dict[str, list[float]] = {}
        for r in rows:
            if r.get("kind") == "exec" and r.get("exit_ok"):
                self.exec.setdefault(r["runtime"], []).append(r["exit_ms"])

    def loop(self, runtime: str, event: str, key: str) -> float:
        r = self.loops.get((runtime, event))
        v = r.get(key) if r else None
        return float(v) if isinstance(v, (int, float)) else math.nan

    def ok(self, runtime: str, event: str) -> bool:
        r = self.loops.get((runtime, event), {})
        return bool(r.get("all_answered")) and r.get("verified") is not False

    def cold_median(self, runtime: str, key: str) -> float:
        vals = [
            r[key]
            for r in self.cold.get(runtime, [])
            if r.get("all_answered") and isinstance(r.get(key), (int, float))
        ]
        return statistics.median(vals) if vals else math.nan

    def exec_median(self, name: str) -> float:
        vals = self.exec.get(name, [])
        return statistics.median(vals) if vals else math.nan

    def best_ric(self, value) -> tuple[float, str]:
        """The more favourable of awslambdaric's two modes for a metric (lower is better)."""
        cands = [(value(r), r) for r in RIC if r in self.runtimes]
        cands = [c for c in cands if not math.isnan(c[0])]
        return min(cands) if cands else (math.nan, "awslambdaric")


def spread(loop: dict) -> str:
    text = f"{loop['runs']} x {loop.get('n', 0):,}"
    if loop["runs"] > 1 and not math.isnan(loop["cpu_spread"]):
        text += f", +{loop['cpu_spread'] * 100:.0f}%"
    return text


def num(v: float, digits: int = 1) -> str:
    if math.isnan(v):
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def render(res: Results) -> str:
    m = res.machine
    out: list[str] = []
    w = out.append
    w(
        f"Run {m.get('date', '?')} at commit {m.get('commit', '?')} on {m.get('cores', '?')} cores "
        f"({m.get('cpu', '?')}, Linux {m.get('kernel', '?')}), load average {' '.join(m.get('loadavg', []))} at the start; "
        f"{m.get('rustc', '')}, Python {m.get('python', '?')}, awslambdaric {m.get('awslambdaric', '?')}, "
        f"lambda_runtime {m.get('lambda_runtime', '?')}."
    )
    w("")
    w("Runtimes:")
    w("")
    for r in res.runtimes:
        w(f"- `{r}`: {DESCRIPTIONS.get(r, '')}")
    w("")

    def table(title: str, note: str, key: str, scale: float = 1.0, digits: int = 1) -> None:
        w(f"**{title}**{note}")
        w("")
        w("| runtime | " + " | ".join(EVENTS) + " |")
        w("|---|" + "---:|" * len(EVENTS))
        for r in res.runtimes:
            cells = []
            for e in EVENTS:
                v = res.loop(r, e, key) * scale
                cell = num(v, digits)
                if (r, e) in res.loops and not res.ok(r, e):
                    cell += " ✗"
                cells.append(cell)
            w(f"| {r} | " + " | ".join(cells) + " |")
        w("")

    table(
        "CPU time per invocation, µs",
        " (user + system of the runtime's process, start-up excluded)",
        "cpu_us_per_inv",
    )
    w(
        "The kernel counts CPU time in 10 ms ticks: a cell's resolution is 10 ms / N "
        "(0.3 µs at 30,000 invocations; N below)."
    )
    w("")
    table("Wall time per invocation, µs", "", "wall_us_per_inv")
    table("Peak RSS, MiB", "", "peak_rss_kb", 1 / 1024)

    w(
        "**Runs x invocations**: the tables above show the least CPU and wall time of the runs and "
        "the median peak RSS; the percentage is how much the most CPU exceeds the least, a measure "
        "of the noise; in every run each "
        "invocation was answered exactly once and the first and last replies equal the event, "
        "unless marked ✗"
    )
    w("")
    w("| runtime | " + " | ".join(EVENTS) + " |")
    w("|---|" + "---:|" * len(EVENTS))
    for r in res.runtimes:
        w(
            f"| {r} | "
            + " | ".join(spread(res.loops[(r, e)]) if (r, e) in res.loops else "" for e in EVENTS)
            + " |"
        )
    w("")

    rounds = max((len(v) for v in res.cold.values()), default=0)
    w(f"**Cold start, ms** (median of {rounds} runs, tiny event)")
    w("")
    w("| runtime | spawn → first `/next` | spawn → first reply posted |")
    w("|---|---:|---:|")
    for r in res.runtimes:
        w(
            f"| {r} | {num(res.cold_median(r, 'first_next_ms'), 2)} | {num(res.cold_median(r, 'cold_start_ms'), 2)} |"
        )
    for name in res.exec:
        w(f"| `{name}` (spawn → exit) | | {num(res.exec_median(name), 2)} |")
    w("")

    if res.sizes:
        w("**Stripped size, KiB**")
        w("")
        w("| binary | size |")
        w("|---|---:|")
        for name, size in res.sizes.items():
            w(f"| {name} | {size / 1024:,.0f} |")
        w("")

    w("**Targets** (ratios measured in this run; goals, not tests)")
    w("")
    w("| target | measured | goal | |")
    w("|---|---:|---:|---|")
    for name, value, goal, met, fmt in targets(res):
        mark = "n/a" if math.isnan(value) else ("met" if met else "**not met**") if goal else ""
        w(f"| {name} | {fmt(value)} | {goal} | {mark} |")
    w("")
    return "\n".join(out)


def targets(res: Results):
    x = lambda v: "n/a" if math.isnan(v) else f"{v:.2f}x"  # noqa: E731
    ms = lambda v: "n/a" if math.isnan(v) else f"{v:.2f} ms"  # noqa: E731
    kib = lambda v: "n/a" if math.isnan(v) else f"{v / 1024:,.0f} KiB"  # noqa: E731
    cpu = lambda r, e: res.loop(r, e, "cpu_us_per_inv")  # noqa: E731
    t = []
    for e in EVENTS:
        v = cpu(PY, e) / cpu("echo", e)
        t.append((f"Python echo CPU/inv ÷ Rust `echo`'s ({e})", v, "≤ 1.3x", v <= 1.3, x))
    for e in EVENTS:
        ric, which = res.best_ric(lambda r, e=e: cpu(r, e))
        v = ric / cpu(PY, e)
        t.append((f"`{which}` CPU/inv ÷ Python echo's ({e})", v, "≥ 3x", v >= 3, x))
    ric, which = res.best_ric(lambda r: res.cold_median(r, "cold_start_ms"))
    v = res.cold_median(PY, "cold_start_ms") / ric
    t.append((f"Python cold start ÷ `{which}`'s", v, "≤ 0.6x", v <= 0.6, x))
    base = res.exec_median("python -c pass")
    v = res.cold_median(PY, "cold_start_ms") - base
    t.append(("Python cold start minus `python -c pass`", v, "≤ 5 ms", v <= 5, ms))
    for e in EVENTS:
        ric, which = res.best_ric(lambda r, e=e: res.loop(r, e, "peak_rss_kb"))
        v = res.loop(PY, e, "peak_rss_kb") / ric
        t.append((f"Python peak RSS ÷ `{which}`'s ({e})", v, "≤ 1x", v <= 1, x))
    ric, which = res.best_ric(lambda r: res.loop(r, "4 MB", "wall_us_per_inv"))
    v = res.loop(PY, "4 MB", "wall_us_per_inv") / ric
    t.append((f"Python 4 MB echo wall time ÷ `{which}`'s", v, "≤ 0.5x", v <= 0.5, x))
    for peer in ("minlambda 0.2.0", "lambda_runtime"):
        for e in EVENTS:
            v = cpu("echo", e) / cpu(peer, e)
            t.append((f"Rust `echo` CPU/inv ÷ {peer}'s ({e})", v, "≤ 1x", v <= 1, x))
    v = res.cold_median("echo", "first_next_ms")
    t.append(("Rust `echo` spawn → first `/next`", v, "< 2 ms", v < 2, ms))
    echo, lr = res.sizes.get("echo", math.nan), res.sizes.get("lambda_runtime hello", math.nan)
    v = echo / lr
    t.append(("Rust `echo` stripped size ÷ lambda_runtime hello's", v, "≤ 0.33x", v <= 1 / 3, x))
    # Issue 2.
    r = res.loops.get(("echo", "tiny"), {})
    n = r.get("n", 0)
    v = float(r.get("answered", math.nan))
    t.append(
        (
            f"Issue 2: `echo` answers every one of {r.get('runs', 0)} x {n:,} tiny invocations",
            v,
            f"{n:,}",
            res.ok("echo", "tiny") and v == n,
            lambda v: num(v, 0),
        )
    )
    v = cpu("echo", "tiny") / cpu("bare", "tiny")
    t.append(("Issue 2: `echo` CPU/inv ÷ the bare client's (tiny)", v, "≤ 1.25x", v <= 1.25, x))
    v = echo
    t.append(("Issue 2: `echo` stripped size", v, "", True, kib))
    return t


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("results", type=Path)
    p.add_argument("--readme", type=Path, help="replace the results section of this file")
    p.add_argument("--command", default="bench/run", help="the command shown in the README")
    a = p.parse_args()
    rows = [json.loads(line) for line in a.results.read_text().splitlines() if line.strip()]
    text = render(Results(rows))
    print(text)
    if a.readme:
        doc = a.readme.read_text()
        start, end = "<!-- results -->", "<!-- /results -->"
        if start in doc and end in doc:
            head, rest = doc.split(start, 1)
            _, tail = rest.split(end, 1)
            section = f"{start}\nMade by `{a.command}`.\n\n{text}\n{end}"
            a.readme.write_text(head + section + tail)
        else:
            print(f"report: no {start} ... {end} section in {a.readme}", file=sys.stderr)


if __name__ == "__main__":
    main()
