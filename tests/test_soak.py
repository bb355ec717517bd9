"""Nothing lost, nothing leaked (issue 5): 100,000 invocations through the emulator's
Invoke API, mixing successes, exceptions and 1 MB events. Every one is answered exactly
once, in order, and neither the runtime's nor the emulator's peak RSS grows by more than
2 MiB between invocation 2,000 and invocation 100,000."""

from __future__ import annotations

import http.client
import json
import os
from pathlib import Path

N = int(os.environ.get("MINLAMBDA_SOAK", "100000"))
WARM = 2000

APP = """
calls = 0

def handler(event, context):
    global calls
    calls += 1
    if event["i"] % 10 == 3:
        raise ValueError(f"call {calls} for {event['i']}")
    return {"i": event["i"], "calls": calls, "size": len(event.get("pad", ""))}
"""


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for {pid}")


def children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def test_soak_every_invocation_answered_once_and_no_growth(serve):
    s = serve(APP)
    conn = http.client.HTTPConnection(s.host, s.port, timeout=60)
    pad = "x" * (1 << 20)
    peaks: dict[str, tuple[int, int]] = {}
    for i in range(N):
        event = {"i": i, "pad": pad} if i % 500 == 7 else {"i": i}
        conn.request("POST", s.path, body=json.dumps(event).encode())
        r = conn.getresponse()
        body = r.read()
        assert r.status == 200, (i, r.status, body[:200])
        if i % 10 == 3:
            assert r.getheader("X-Amz-Function-Error") == "Unhandled", i
            err = json.loads(body)
            assert err["errorType"] == "ValueError"
            assert err["errorMessage"] == f"call {i + 1} for {i}"
        else:
            assert r.getheader("X-Amz-Function-Error") is None, (i, body[:200])
            got = json.loads(body)
            assert got == {"i": i, "calls": i + 1, "size": len(event.get("pad", ""))}
        if i + 1 in (WARM, N):
            (runtime,) = children(s.proc.pid)
            peaks[str(i + 1)] = (peak_rss_kib(runtime), peak_rss_kib(s.proc.pid))
    conn.close()
    print(f"peak RSS (runtime, emulator) KiB: {peaks}")
    (rt_warm, emu_warm), (rt_end, emu_end) = peaks[str(WARM)], peaks[str(N)]
    assert rt_end - rt_warm <= 2048, peaks
    assert emu_end - emu_warm <= 2048, peaks
    starts = sum(line.startswith("START ") for line in s.lines)
    reports = sum(line.startswith("REPORT ") for line in s.lines)
    assert s.stop() in (0, -15)
    assert starts == reports == N
