//! The emulator over real sockets. Most tests play the runtime themselves on the Runtime
//! API (the spawned "runtime" is a `sleep` that never speaks), so every rule of the protocol
//! can be checked from both sides; others run small shell commands as runtimes that exit
//! or hang.
#![cfg(unix)]

use minlambda_emulator::{Config, Emulator, ShutdownHandle, MAX_PAYLOAD, MAX_RESPONSE};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const INVOKE: &str = "/2015-03-31/functions/function/invocations";
const NEXT: &str = "/2018-06-01/runtime/invocation/next";

struct Emu {
    emulator: Arc<Emulator>,
    shutdown: ShutdownHandle,
    serving: Option<thread::JoinHandle<()>>,
}

impl Emu {
    fn start(command: &[&str], timeout: f64) -> Emu {
        let mut c = Config::new(command.iter().map(Into::into).collect());
        c.listen = "127.0.0.1:0".parse().unwrap();
        c.timeout = Duration::from_secs_f64(timeout);
        c.memory_mb = 256;
        c.function_name = "fn-under-test".into();
        c.region = "eu-west-3".into();
        let emulator = Arc::new(Emulator::bind(c).unwrap());
        let shutdown = emulator.shutdown_handle();
        let e = Arc::clone(&emulator);
        let serving = Some(thread::spawn(move || e.serve().unwrap()));
        Emu {
            emulator,
            shutdown,
            serving,
        }
    }

    /// A stand-in runtime process, for tests that speak the Runtime API themselves.
    fn manual(timeout: f64) -> Emu {
        Emu::start(&["sleep", "60"], timeout)
    }

    fn addr(&self) -> SocketAddr {
        self.emulator.local_addr()
    }

    fn api(&self) -> SocketAddr {
        self.emulator.runtime_api_addr()
    }

    fn invoke(&self, body: &[u8]) -> Resp {
        request(self.addr(), "POST", INVOKE, &[], body)
    }

    /// Invokes on another thread.
    fn invoke_bg(&self, headers: &[(&str, &str)], body: &[u8]) -> thread::JoinHandle<Resp> {
        let addr = self.addr();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let body = body.to_vec();
        thread::spawn(move || {
            let h: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            request(addr, "POST", INVOKE, &h, &body)
        })
    }
}

impl Drop for Emu {
    fn drop(&mut self) {
        self.shutdown.shutdown();
        if let Some(t) = self.serving.take() {
            t.join().unwrap();
        }
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&self.body)))
    }
}

fn send_head(s: &mut TcpStream, method: &str, path: &str, headers: &[(&str, &str)]) {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
}

fn read_head(r: &mut impl BufRead) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            return (status, headers);
        }
        let (k, v) = l.split_once(':').unwrap();
        headers.push((k.to_ascii_lowercase(), v.trim().to_owned()));
    }
}

/// One chunk of a chunked body; `None` at the end (trailers are appended to `trailers`).
fn read_chunk(r: &mut impl BufRead, trailers: &mut Vec<(String, String)>) -> Option<Vec<u8>> {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let n = usize::from_str_radix(line.trim(), 16).unwrap();
    if n == 0 {
        let (_, t) = read_trailers(r);
        trailers.extend(t);
        return None;
    }
    let mut data = vec![0; n + 2];
    r.read_exact(&mut data).unwrap();
    data.truncate(n);
    Some(data)
}

fn read_trailers(r: &mut impl BufRead) -> ((), Vec<(String, String)>) {
    let mut out = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            return ((), out);
        }
        let (k, v) = l.split_once(':').unwrap();
        out.push((k.to_ascii_lowercase(), v.trim().to_owned()));
    }
}

fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    let len = body.len().to_string();
    let mut h = headers.to_vec();
    if method == "POST" && !headers.iter().any(|(k, _)| *k == "Transfer-Encoding") {
        h.push(("Content-Length", &len));
    }
    send_head(&mut s, method, path, &h);
    // The server may answer (413) without reading a large body: ignore a failed write.
    let _ = s.write_all(body);
    read_response(s)
}

fn read_response(s: TcpStream) -> Resp {
    let mut r = BufReader::new(s);
    let (status, mut headers) = read_head(&mut r);
    let mut body = Vec::new();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v == "chunked")
    {
        let mut trailers = Vec::new();
        while let Some(c) = read_chunk(&mut r, &mut trailers) {
            body.extend(c);
        }
        headers.extend(trailers);
    } else {
        r.read_to_end(&mut body).unwrap();
    }
    Resp {
        status,
        headers,
        body,
    }
}

/// The runtime's side, played by the test.
fn next(api: SocketAddr) -> Resp {
    request(api, "GET", NEXT, &[], b"")
}

fn post(api: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    request(
        api,
        "POST",
        &format!("/2018-06-01/runtime/{path}"),
        headers,
        body,
    )
}

fn id_of(r: &Resp) -> String {
    r.header("lambda-runtime-aws-request-id")
        .unwrap()
        .to_owned()
}

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("minlambda-emu-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

fn lines(p: &PathBuf) -> usize {
    std::fs::read_to_string(p).map_or(0, |s| s.lines().count())
}

#[test]
fn success_carries_context_and_content_type() {
    let emu = Emu::manual(30.0);
    let cc = "eyJjdXN0b20iOnsiYSI6MX19"; // {"custom":{"a":1}}
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let caller = emu.invoke_bg(
        &[
            ("X-Amz-Client-Context", cc),
            ("X-Amzn-Trace-Id", trace),
            ("Content-Type", "application/json"),
        ],
        br#"{"x":1}"#,
    );
    let inv = next(emu.api());
    assert_eq!(inv.status, 200);
    assert_eq!(inv.body, br#"{"x":1}"#);
    let id = id_of(&inv);
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4", "a v4 uuid: {id}");
    assert_eq!(
        inv.header("lambda-runtime-invoked-function-arn"),
        Some("arn:aws:lambda:eu-west-3:012345678912:function:fn-under-test")
    );
    assert_eq!(inv.header("lambda-runtime-trace-id"), Some(trace));
    let ctx: Value =
        serde_json::from_str(inv.header("lambda-runtime-client-context").unwrap()).unwrap();
    assert_eq!(ctx["custom"]["a"], 1);
    assert_eq!(inv.header("content-type"), Some("application/json"));
    let deadline: u64 = inv
        .header("lambda-runtime-deadline-ms")
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        deadline > now + 25_000 && deadline <= now + 30_000,
        "{deadline} vs {now}"
    );

    let r = post(
        emu.api(),
        &format!("invocation/{id}/response"),
        &[("Content-Type", "text/plain")],
        b"hello",
    );
    assert_eq!(
        (r.status, r.json()),
        (202, serde_json::json!({"status": "OK"}))
    );
    let out = caller.join().unwrap();
    assert_eq!(out.status, 200);
    assert_eq!(out.body, b"hello");
    assert_eq!(out.header("content-type"), Some("text/plain"));
    assert_eq!(out.header("x-amzn-requestid"), Some(id.as_str()));
    assert_eq!(out.header("x-amz-function-error"), None);
}

#[test]
fn bad_client_context_is_400() {
    let emu = Emu::manual(5.0);
    let r = request(
        emu.addr(),
        "POST",
        INVOKE,
        &[("X-Amz-Client-Context", "not base64!")],
        b"{}",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errorType"], "InvalidRequestContentException");
}

#[test]
fn replies_are_checked_wrong_id_400_second_reply_403() {
    let emu = Emu::manual(30.0);
    let caller = emu.invoke_bg(&[], b"{}");
    let inv = next(emu.api());
    let id = id_of(&inv);

    let r = post(emu.api(), "invocation/not-the-id/response", &[], b"{}");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errorType"], "InvalidRequestID");
    let r = post(
        emu.api(),
        &format!("invocation/{id}/response"),
        &[("Lambda-Runtime-Function-Response-Mode", "sideways")],
        b"{}",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errorType"], "InvalidFunctionResponseMode");

    // Not JSON: the error is made JSON from the header.
    let r = post(
        emu.api(),
        &format!("invocation/{id}/error"),
        &[("Lambda-Runtime-Function-Error-Type", "Function.Oops")],
        b"it broke",
    );
    assert_eq!(r.status, 202);
    let out = caller.join().unwrap();
    assert_eq!(out.status, 200);
    assert_eq!(out.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(
        out.json(),
        serde_json::json!({"errorMessage": "it broke", "errorType": "Function.Oops"})
    );

    for what in ["response", "error"] {
        let r = post(emu.api(), &format!("invocation/{id}/{what}"), &[], b"{}");
        assert_eq!(r.status, 403, "second {what}");
        assert_eq!(r.json()["errorType"], "InvalidStateTransition");
    }
    let r = post(emu.api(), "init/error", &[], b"{}");
    assert_eq!(r.status, 403, "init/error after init");
}

#[test]
fn error_json_passes_through() {
    let emu = Emu::manual(30.0);
    let caller = emu.invoke_bg(&[], b"{}");
    let id = id_of(&next(emu.api()));
    let report = br#"{"errorMessage":"bad","errorType":"ValueError","stackTrace":["a"]}"#;
    let r = post(
        emu.api(),
        &format!("invocation/{id}/error"),
        &[("Lambda-Runtime-Function-Error-Type", "Function.ValueError")],
        report,
    );
    assert_eq!(r.status, 202);
    let out = caller.join().unwrap();
    assert_eq!((out.status, out.body.as_slice()), (200, &report[..]));
    assert_eq!(out.header("x-amz-function-error"), Some("Unhandled"));
}

#[test]
fn oversized_reply_is_413_and_the_runtime_goes_on() {
    let emu = Emu::manual(30.0);
    let caller = emu.invoke_bg(&[], b"{}");
    let id = id_of(&next(emu.api()));
    let big = vec![b'x'; MAX_RESPONSE + 1];
    let r = post(emu.api(), &format!("invocation/{id}/response"), &[], &big);
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["errorType"], "RequestEntityTooLarge");
    let out = caller.join().unwrap();
    assert_eq!(out.status, 200);
    assert_eq!(out.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(out.json()["errorType"], "Function.ResponseSizeTooLarge");

    // At the limit is fine, and the same runtime serves the next invocation.
    let caller = emu.invoke_bg(&[], b"{}");
    let id = id_of(&next(emu.api()));
    let max = vec![b'y'; MAX_RESPONSE];
    let r = post(emu.api(), &format!("invocation/{id}/response"), &[], &max);
    assert_eq!(r.status, 202);
    assert_eq!(caller.join().unwrap().body.len(), MAX_RESPONSE);
}

#[test]
fn oversized_payload_is_413() {
    let emu = Emu::manual(30.0);
    let big = vec![b'1'; MAX_PAYLOAD + 1];
    let r = emu.invoke(&big);
    assert_eq!(r.status, 413);
    assert_eq!(
        r.json(),
        serde_json::json!({
            "errorType": "RequestEntityTooLarge",
            "errorMessage": "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
        })
    );
    // Chunked, so the size is only known while reading.
    let mut s = TcpStream::connect(emu.addr()).unwrap();
    send_head(&mut s, "POST", INVOKE, &[("Transfer-Encoding", "chunked")]);
    let chunk = vec![b'2'; 1 << 20];
    for _ in 0..7 {
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .is_err()
            || s.write_all(&chunk).is_err()
            || s.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n");
    assert_eq!(read_response(s).status, 413);
    // An exact 6 MiB payload is delivered.
    let caller = emu.invoke_bg(&[], &vec![b'3'; MAX_PAYLOAD]);
    let inv = next(emu.api());
    assert_eq!(inv.body.len(), MAX_PAYLOAD);
    post(
        emu.api(),
        &format!("invocation/{}/response", id_of(&inv)),
        &[],
        b"1",
    );
    assert_eq!(caller.join().unwrap().status, 200);
}

#[test]
fn init_error_is_502_and_the_next_invocation_inits_again() {
    let emu = Emu::manual(30.0);
    let caller = emu.invoke_bg(&[], b"{}");
    // The caller is waiting once the runtime is spawned; post the init error then.
    let err = br#"{"errorMessage":"no module","errorType":"Runtime.ImportModuleError"}"#;
    let deadline = Instant::now() + Duration::from_secs(10);
    let r = loop {
        let r = post(
            emu.api(),
            "init/error",
            &[(
                "Lambda-Runtime-Function-Error-Type",
                "Runtime.ImportModuleError",
            )],
            err,
        );
        if r.status == 202 || Instant::now() > deadline {
            break r;
        }
        thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(r.status, 202);
    let out = caller.join().unwrap();
    assert_eq!(out.status, 502);
    assert_eq!(out.body, err);

    // A fresh runtime: init/error is allowed again until its first /next.
    let caller = emu.invoke_bg(&[], b"{}");
    let inv = next(emu.api());
    post(
        emu.api(),
        &format!("invocation/{}/response", id_of(&inv)),
        &[],
        b"\"ok\"",
    );
    let out = caller.join().unwrap();
    assert_eq!((out.status, out.body.as_slice()), (200, &b"\"ok\""[..]));
}

#[test]
fn a_runtime_that_exits_is_502_and_restarted() {
    let starts = tmp("exits");
    let script = format!("echo start >> {}; exit 3", starts.display());
    let emu = Emu::start(&["sh", "-c", &script], 10.0);
    for n in 1..=2 {
        let out = emu.invoke(b"{}");
        assert_eq!(out.status, 502);
        let v = out.json();
        assert_eq!(v["errorType"], "Runtime.ExitError");
        let msg = v["errorMessage"].as_str().unwrap();
        assert!(msg.starts_with("RequestId: "), "{msg}");
        assert!(
            msg.ends_with("Error: Runtime exited with error: exit status 3"),
            "{msg}"
        );
        assert_eq!(lines(&starts), n, "a fresh runtime for each invocation");
    }
    let _ = std::fs::remove_file(starts);
}

#[test]
fn a_timeout_kills_and_restarts_the_runtime() {
    let starts = tmp("timeout");
    let script = format!("echo start >> {}; exec sleep 30", starts.display());
    let emu = Emu::start(&["sh", "-c", &script], 0.3);
    for n in 1..=2 {
        let t = Instant::now();
        let out = emu.invoke(b"{}");
        assert!(t.elapsed() < Duration::from_secs(5));
        assert_eq!(out.status, 200);
        assert_eq!(out.header("x-amz-function-error"), Some("Unhandled"));
        let v = out.json();
        assert_eq!(v["errorType"], "Sandbox.Timedout");
        let msg = v["errorMessage"].as_str().unwrap();
        assert!(
            msg.ends_with("Error: Task timed out after 0.30 seconds"),
            "{msg}"
        );
        assert_eq!(lines(&starts), n);
    }
    let _ = std::fs::remove_file(starts);
}

#[test]
fn in_process_invoke_reports() {
    let mut c = Config::new(vec!["sh".into(), "-c".into(), "exit 4".into()]);
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.memory_mb = 512;
    let emu = Emulator::bind(c).unwrap();
    let out = emu.invoke(b"{}", &[]);
    assert_eq!(out.status, 502);
    assert!(out.is_error());
    assert!(out
        .report
        .starts_with(&format!("REPORT RequestId: {}\tDuration: ", out.request_id)));
    assert!(out
        .report
        .contains("\tMemory Size: 512 MB\tMax Memory Used: "));
    assert!(out.report.contains("\tInit Duration: "));
    assert!(out
        .report
        .ends_with("Status: error\tError Type: Runtime.ExitError"));
}

#[test]
fn missing_command_and_taken_port_fail_at_bind() {
    let e = Emulator::bind(Config::new(vec!["/no/such/runtime".into()])).unwrap_err();
    assert!(e.to_string().contains("command not found"), "{e}");
    let emu = Emu::manual(1.0);
    let mut c = Config::new(vec!["sleep".into(), "1".into()]);
    c.listen = emu.addr();
    let e = Emulator::bind(c).unwrap_err();
    assert!(e.to_string().contains("address already in use"), "{e}");
}

fn stream_reply(api: SocketAddr, id: &str) -> (TcpStream, BufReader<TcpStream>) {
    let mut s = TcpStream::connect(api).unwrap();
    send_head(
        &mut s,
        "POST",
        &format!("/2018-06-01/runtime/invocation/{id}/response"),
        &[
            ("Content-Type", "text/event-stream"),
            ("Lambda-Runtime-Function-Response-Mode", "streaming"),
            ("Transfer-Encoding", "chunked"),
            (
                "Trailer",
                "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
            ),
        ],
    );
    let r = BufReader::new(s.try_clone().unwrap());
    (s, r)
}

#[test]
fn a_streamed_response_reaches_the_caller_as_it_is_written() {
    let emu = Emu::manual(30.0);
    let mut caller = TcpStream::connect(emu.addr()).unwrap();
    send_head(&mut caller, "POST", INVOKE, &[("Content-Length", "2")]);
    caller.write_all(b"{}").unwrap();
    let id = id_of(&next(emu.api()));
    let (mut rt, mut rt_in) = stream_reply(emu.api(), &id);

    rt.write_all(b"6\r\nhello \r\n").unwrap();
    let mut got = BufReader::new(caller);
    let (status, headers) = read_head(&mut got);
    assert_eq!(status, 200);
    assert!(headers.contains(&("content-type".into(), "text/event-stream".into())));
    let mut trailers = Vec::new();
    // The first chunk arrives while the runtime is still writing.
    assert_eq!(read_chunk(&mut got, &mut trailers).unwrap(), b"hello ");
    rt.write_all(b"5\r\nworld\r\n0\r\n\r\n").unwrap();
    assert_eq!(read_chunk(&mut got, &mut trailers).unwrap(), b"world");
    assert!(read_chunk(&mut got, &mut trailers).is_none());
    let (status, _) = read_head(&mut rt_in);
    assert_eq!(status, 202);
}

#[test]
fn a_stream_error_before_the_first_byte_is_a_function_error() {
    let emu = Emu::manual(30.0);
    let caller = emu.invoke_bg(&[], b"{}");
    let id = id_of(&next(emu.api()));
    let (mut rt, mut rt_in) = stream_reply(emu.api(), &id);
    // base64 of {"errorMessage":"x","errorType":"E"}
    let body = "eyJlcnJvck1lc3NhZ2UiOiJ4IiwiZXJyb3JUeXBlIjoiRSJ9";
    rt.write_all(
        format!(
            "0\r\nLambda-Runtime-Function-Error-Type: Function.E\r\nLambda-Runtime-Function-Error-Body: {body}\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(read_head(&mut rt_in).0, 202);
    let out = caller.join().unwrap();
    assert_eq!(out.status, 200);
    assert_eq!(out.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(
        out.json(),
        serde_json::json!({"errorMessage": "x", "errorType": "E"})
    );
}

#[test]
fn a_stream_error_after_data_goes_in_trailers() {
    let emu = Emu::manual(30.0);
    let caller = emu.invoke_bg(&[], b"{}");
    let id = id_of(&next(emu.api()));
    let (mut rt, _rt_in) = stream_reply(emu.api(), &id);
    rt.write_all(b"3\r\nabc\r\n0\r\nLambda-Runtime-Function-Error-Type: Function.Late\r\n\r\n")
        .unwrap();
    let out = caller.join().unwrap();
    assert_eq!((out.status, out.body.as_slice()), (200, &b"abc"[..]));
    assert_eq!(
        out.header("lambda-runtime-function-error-type"),
        Some("Function.Late")
    );
}

#[test]
fn concurrent_callers_queue_and_none_is_lost() {
    let emu = Emu::manual(30.0);
    let api = emu.api();
    let runtime = thread::spawn(move || {
        let mut seen = Vec::new();
        while seen.len() < 40 {
            let inv = next(api);
            let id = id_of(&inv);
            seen.push(id.clone());
            // Echo the payload back.
            post(api, &format!("invocation/{id}/response"), &[], &inv.body);
        }
        seen
    });
    let (tx, rx) = mpsc::channel();
    let callers: Vec<_> = (0..40)
        .map(|i| {
            let addr = emu.addr();
            let tx = tx.clone();
            thread::spawn(move || {
                let body = format!("{{\"caller\":{i}}}");
                let r = request(addr, "POST", INVOKE, &[], body.as_bytes());
                assert_eq!(r.status, 200);
                assert_eq!(r.body, body.as_bytes(), "each caller gets its own answer");
                tx.send(r.header("x-amzn-requestid").unwrap().to_owned())
                    .unwrap();
            })
        })
        .collect();
    for c in callers {
        c.join().unwrap();
    }
    drop(tx);
    let mut answered: Vec<String> = rx.iter().collect();
    let mut seen = runtime.join().unwrap();
    answered.sort();
    seen.sort();
    assert_eq!(answered.len(), 40);
    assert_eq!(
        answered, seen,
        "every invocation reached the runtime exactly once"
    );
}

#[test]
fn next_before_replying_is_403_and_unknown_routes_404() {
    let emu = Emu::manual(30.0);
    let caller = emu.invoke_bg(&[], b"{}");
    let id = id_of(&next(emu.api()));
    let r = next(emu.api());
    assert_eq!(r.status, 403);
    post(emu.api(), &format!("invocation/{id}/response"), &[], b"{}");
    assert_eq!(caller.join().unwrap().status, 200);
    assert_eq!(request(emu.api(), "GET", "/nope", &[], b"").status, 404);
    assert_eq!(request(emu.addr(), "GET", "/nope", &[], b"").status, 404);
    assert_eq!(request(emu.addr(), "GET", INVOKE, &[], b"").status, 405);
}

#[test]
fn keep_alive_serves_several_invocations_on_one_connection() {
    let emu = Emu::manual(30.0);
    let api = emu.api();
    let runtime = thread::spawn(move || {
        for _ in 0..3 {
            let inv = next(api);
            post(
                api,
                &format!("invocation/{}/response", id_of(&inv)),
                &[],
                &inv.body,
            );
        }
    });
    let s = TcpStream::connect(emu.addr()).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    for i in 0..3 {
        let body = format!("[{i}]");
        let head = format!(
            "POST {INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        w.write_all(head.as_bytes()).unwrap();
        let (status, headers) = read_head(&mut r);
        assert_eq!(status, 200);
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .unwrap()
            .1
            .parse()
            .unwrap();
        let mut got = vec![0; len];
        r.read_exact(&mut got).unwrap();
        assert_eq!(got, body.as_bytes());
    }
    runtime.join().unwrap();
}

#[test]
fn malformed_requests_are_400_and_close() {
    let emu = Emu::manual(5.0);
    for addr in [emu.addr(), emu.api()] {
        for raw in [
            &b"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"[..],
            b"GARBAGE\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: \x01\r\n\r\n",
        ] {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(raw).unwrap();
            let r = read_response(s);
            assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(raw));
            assert_eq!(r.header("connection"), Some("close"));
        }
        // A head over 64 KiB.
        let mut s = TcpStream::connect(addr).unwrap();
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(70 * 1024, b'a');
        let _ = s.write_all(&big);
        assert_eq!(read_response(s).status, 400);
    }
}

#[test]
fn the_binary_fails_in_one_line() {
    let bin = env!("CARGO_BIN_EXE_minlambda-emulator");
    let run = |args: &[&str]| std::process::Command::new(bin).args(args).output().unwrap();
    let out = run(&["--listen", "127.0.0.1:0", "--", "/no/such/bootstrap"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("minlambda-emulator: command not found: /no/such/bootstrap"));
    for bad in [
        &["--timeout", "0", "--", "sh"][..],
        &["--listen", "x"],
        &[],
        &["--what"],
    ] {
        let out = run(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert_eq!(String::from_utf8(out.stderr).unwrap().lines().count(), 1);
    }
    let out = run(&["--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("usage: minlambda-emulator"));
}
