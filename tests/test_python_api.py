"""``minlambda.run`` / ``run_ok``: raw mode, JSON types, async handlers, BaseExceptions."""

from __future__ import annotations

import json
import sys

from runtime_api import Event
from test_runtime import assert_clean_end

RAW = """
import minlambda

def handler(event, context):
    kind = event[:1]
    if kind == b"b":
        return event
    if kind == b"a":
        return bytearray(event)
    if kind == b"m":
        return memoryview(event)
    if kind == b"s":
        return event.decode() + " " + context.aws_request_id
    return 42

if __name__ == "__main__":
    minlambda.run(handler, raw=True)
"""


def test_raw_mode_passes_bytes_both_ways(run_function):
    events = [b"bytes \x00\xff", b"array \x01", b"mem \x02", "s é".encode(), b"x", b"b{not json"]
    r = run_function(RAW, events, command=[sys.executable, "app.py"])
    assert_clean_end(r)
    b, a, m, s, bad, nj = r.api.replies
    assert (b.body, a.body, m.body) == (events[0], events[1], events[2])
    assert s.body == f"s é {s.path.split('/')[-2]}".encode()
    for rep in (b, a, m, s, nj):
        assert rep.path.endswith("/response")
        assert rep.headers["content-type"] == "application/octet-stream"
    assert bad.path.endswith("/error")
    body = bad.json()
    assert body["errorType"] == "Runtime.MarshalError"
    assert "bytes, bytearray, memoryview or str, not int" in body["errorMessage"]


def test_run_ok_calls_handler_with_the_event_only(run_function):
    code = """
    import minlambda

    def handler(*args):
        return {"args": len(args), "event": args[0]}

    minlambda.run_ok(handler)
    """
    r = run_function(code, [b'{"a": [1, 2]}', b'"s"'], command=[sys.executable, "app.py"])
    assert_clean_end(r)
    assert [x.json() for x in r.api.replies] == [
        {"args": 1, "event": {"a": [1, 2]}},
        {"args": 1, "event": "s"},
    ]


def test_run_ok_raw(run_function):
    code = """
    import minlambda
    minlambda.run_ok(lambda event: event[::-1], raw=True)
    """
    r = run_function(code, [b"abc", b""], command=[sys.executable, "app.py"])
    assert_clean_end(r)
    assert [x.body for x in r.api.replies] == [b"cba", b""]


def test_orjson_native_types_and_decimal(run_function):
    code = """
    import dataclasses, datetime, decimal, enum, uuid

    class Color(enum.Enum):
        RED = "red"

    @dataclasses.dataclass
    class Point:
        x: int
        y: float

    def handler(event, context):
        return {
            "point": Point(1, 2.5),
            "when": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc),
            "day": datetime.date(2024, 5, 6),
            "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
            "price": decimal.Decimal("1.10"),
            "color": Color.RED,
            1: "int key",
        }
    """
    r = run_function(code, [b"{}"])
    assert_clean_end(r)
    assert r.api.replies[0].json() == {
        "point": {"x": 1, "y": 2.5},
        "when": "2024-05-06T07:08:09+00:00",
        "day": "2024-05-06",
        "id": "12345678-1234-5678-1234-567812345678",
        "price": "1.10",
        "color": "red",
        "1": "int key",
    }


def test_async_handlers_share_one_event_loop(run_function):
    code = """
    import asyncio
    loops = []

    async def handler(event, context):
        await asyncio.sleep(0.001)
        loops.append(id(asyncio.get_running_loop()))
        if event.get("fail"):
            raise KeyError("missing")
        return {"loops": len(set(loops)), "calls": len(loops), "id": context.aws_request_id}
    """
    events = [Event(b"{}", request_id=f"r{i}") for i in range(3)]
    events.insert(1, Event(b'{"fail": true}', request_id="bad"))
    r = run_function(code, events)
    assert_clean_end(r)
    first, err, _, third = r.api.replies
    assert first.json() == {"loops": 1, "calls": 1, "id": "r0"}
    assert err.json()["errorType"] == "KeyError"
    assert err.json()["errorMessage"] == "'missing'"
    assert third.json() == {"loops": 1, "calls": 4, "id": "r2"}


def test_async_callable_object(run_function):
    code = """
    class Handler:
        async def __call__(self, event, context):
            return {"async": True}

    handler = Handler()
    """
    r = run_function(code, [b"{}"])
    assert_clean_end(r)
    assert r.api.replies[0].json() == {"async": True}


def test_system_exit_is_reported_then_ends_the_process(run_function):
    code = """
    import sys
    def handler(event, context):
        sys.exit(3)
    """
    r = run_function(code, [b"{}", b"{}"])
    assert r.returncode == 3, r.stderr
    (rep,) = r.api.replies
    assert rep.path.endswith("/error")
    assert rep.json()["errorType"] == "SystemExit"
    assert rep.json()["errorMessage"] == "3"
    assert "Traceback" not in r.stderr


def test_keyboard_interrupt_and_base_exception_end_with_one_line(run_function):
    for exc, code in (("KeyboardInterrupt", 130), ("BaseException", 1)):
        app = f"""
        def handler(event, context):
            raise {exc}("stop here")
        """
        r = run_function(app, [b"{}", b"{}"])
        assert r.returncode == code, r.stderr
        (rep,) = r.api.replies
        assert rep.json()["errorType"] == exc
        assert rep.json()["errorMessage"] == "stop here"
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("minlambda: "), r.stderr


def test_recursion_and_generators(run_function):
    code = """
    def handler(event, context):
        if event == "deep":
            def f(n):
                return f(n + 1)
            return f(0)
        return (i for i in range(3))
    """
    r = run_function(code, [b'"deep"', b'"gen"', b'"deep"'])
    assert_clean_end(r)
    deep, gen, again = (x.json() for x in r.api.replies)
    assert deep["errorType"] == "RecursionError"
    assert gen["errorType"] == "Runtime.MarshalError"
    assert again["errorType"] == "RecursionError"
    assert json.dumps(deep)


def test_json_edge_cases_both_ways(run_function):
    code = """
    import collections, math

    def handler(event, context):
        kind = event["kind"]
        if kind == "echo":
            return event
        if kind == "floats":
            return [0.1, 1e300, -0.0, 2.5e-300, math.nan, math.inf, 10**18, -(2**63), 2**64 - 1]
        if kind == "ordered":
            return collections.OrderedDict(b=1, a=2)
        if kind == "bigint":
            return 2**64
        if kind == "surrogate":
            return "\\ud800"
        if kind == "cycle":
            a = []
            a.append(a)
            return a
        if kind == "deep":
            x = []
            for _ in range(200):
                x = [x]
            return {"deep": x, "t": (1, "two", None, True)}
    """
    text = 'é\u2028\u0000"\\\\/\ud83d\ude00'
    events = [
        json.dumps({"kind": "echo", "s": text, "n": [1, -2, 3.5, None, False, 2**63]}).encode(),
        b'{"kind": "floats"}',
        b'{"kind": "ordered"}',
        b'{"kind": "bigint"}',
        b'{"kind": "surrogate"}',
        b'{"kind": "cycle"}',
        b'{"kind": "deep"}',
        b'{"kind": "echo", "bad": "\xff"}',
        b'{"kind": "echo"} trailing',
        b"",
    ]
    r = run_function(code, events)
    assert_clean_end(r)
    rep = r.api.replies
    assert rep[0].json() == json.loads(events[0])
    assert rep[1].json() == [0.1, 1e300, -0.0, 2.5e-300, None, None, 10**18, -(2**63), 2**64 - 1]
    assert rep[2].body == b'{"b":1,"a":2}'
    for i in (3, 4, 5):
        assert rep[i].json()["errorType"] == "Runtime.MarshalError", rep[i].body
    deep = rep[6].json()
    assert deep["t"] == [1, "two", None, True]
    for i in (7, 8, 9):
        assert rep[i].json()["errorType"] == "Runtime.UnmarshalError", rep[i].body
        assert rep[i].json()["errorMessage"].startswith("Unable to unmarshal input: ")


def test_big_events_oversized_results_megabyte_prints_and_threads(run_function):
    code = """
    import sys, threading, time

    def handler(event, context):
        kind = event["kind"]
        if kind == "big":
            return {"len": len(event["data"])}
        if kind == "huge result":
            return "x" * (7 << 20)
        if kind == "print":
            sys.stdout.write("y" * (5 << 20) + "\\n")
            return "printed"
        if kind == "thread":
            threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
            return threading.active_count()
    """

    def lambda_limit(req):
        if len(req.body) > 6 << 20:
            return 413, b'{"errorMessage":"too large","errorType":"RequestEntityTooLarge"}'
        return None

    events = [
        json.dumps({"kind": "big", "data": "z" * 6_000_000}).encode(),
        b'{"kind": "huge result"}',
        b'{"kind": "print"}',
        b'{"kind": "thread"}',
        b'{"kind": "thread"}',
    ]
    r = run_function(code, events, on_reply=lambda_limit)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and "was refused (413)" in lines[0], r.stderr
    big, huge, printed, t1, t2 = r.api.replies
    assert big.json() == {"len": 6_000_000}
    assert len(huge.body) == (7 << 20) + 2
    assert printed.json() == "printed"
    assert "y" * (5 << 20) in r.stdout
    assert t2.json() == t1.json() + 1


def test_gc_state_is_the_programs_own_around_large_events(run_function):
    code = """
    import gc

    def handler(event, context):
        enabled = gc.isenabled()
        if event.get("disable"):
            gc.disable()
        return {"enabled": enabled, "keys": sorted(event)}
    """
    big = json.dumps({"pad": "p" * (1 << 20), "disable": False}).encode()
    events = [big, b'{"disable": true}', big]
    r = run_function(code, events)
    assert_clean_end(r)
    assert [x.json()["enabled"] for x in r.api.replies] == [True, True, False]
    assert r.api.replies[0].json()["keys"] == ["disable", "pad"]
