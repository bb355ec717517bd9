//! The Invoke API side: callers take turns in arrival order; each invocation is queued for
//! the runtime, waited for (noticing a runtime that exits and the timeout), and answered as
//! Lambda would, with its `START`, `END` and `REPORT` lines.

use crate::http::{self, BodyKind, BodyReader, Request, Whole};
use crate::{
    describe, error_body, error_json, kill, locked, payload_too_large, reply, serve_conn,
    skip_body, util, Current, End, Inner, InvokeRequest, InvokeResult, Phase, Piece, Proc,
    INVOKE_PATH, MAX_PAYLOAD, MAX_RESPONSE, TICK,
};
use std::io;
use std::io::BufReader;
use std::net::TcpStream;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, PoisonError};
use std::thread;
use std::time::Instant;

/// Where an invocation's answer goes: an HTTP connection, or memory.
pub(crate) trait Sink {
    fn full(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> io::Result<()>;
    fn start_stream(&mut self, headers: &[(&str, &str)]) -> io::Result<()>;
    fn chunk(&mut self, data: &[u8]) -> io::Result<()>;
    fn end_stream(&mut self, trailers: &[(&str, &str)]) -> io::Result<()>;
}

/// An answer kept in memory, for [`crate::Emulator::invoke`].
#[derive(Debug, Default)]
pub(crate) struct Collect {
    pub(crate) result: InvokeResult,
}

fn owned<'a>(headers: &'a [(&str, &str)]) -> impl Iterator<Item = (String, String)> + 'a {
    headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
}

impl Sink for Collect {
    fn full(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> io::Result<()> {
        self.result.status = status;
        self.result.headers.extend(owned(headers));
        self.result.body = body.to_vec();
        Ok(())
    }
    fn start_stream(&mut self, headers: &[(&str, &str)]) -> io::Result<()> {
        self.result.status = 200;
        self.result.headers.extend(owned(headers));
        Ok(())
    }
    fn chunk(&mut self, data: &[u8]) -> io::Result<()> {
        self.result.body.extend_from_slice(data);
        Ok(())
    }
    fn end_stream(&mut self, trailers: &[(&str, &str)]) -> io::Result<()> {
        self.result.headers.extend(owned(trailers));
        Ok(())
    }
}

struct HttpSink<'a> {
    w: &'a mut TcpStream,
    keep_alive: bool,
    chunked: bool,
}

impl Sink for HttpSink<'_> {
    fn full(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> io::Result<()> {
        http::write_response(self.w, status, headers, body, self.keep_alive)
    }
    fn start_stream(&mut self, headers: &[(&str, &str)]) -> io::Result<()> {
        if !self.chunked {
            self.keep_alive = false;
        }
        http::write_stream_head(self.w, 200, headers, self.chunked)
    }
    fn chunk(&mut self, data: &[u8]) -> io::Result<()> {
        http::write_chunk(self.w, data, self.chunked)
    }
    fn end_stream(&mut self, trailers: &[(&str, &str)]) -> io::Result<()> {
        if self.chunked {
            http::write_last_chunk(self.w, trailers)
        } else {
            Ok(())
        }
    }
}

/// Takes turns in arrival order; the turn passes on when dropped.
struct Turn<'a>(&'a Inner);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        locked(&self.0.turns).1 += 1;
        self.0.turn_cond.notify_all();
    }
}

impl Inner {
    fn take_turn(&self) -> Turn<'_> {
        let mut t = locked(&self.turns);
        let me = t.0;
        t.0 += 1;
        while t.1 != me {
            t = self
                .turn_cond
                .wait(t)
                .unwrap_or_else(PoisonError::into_inner);
        }
        Turn(self)
    }

    /// Runs one invocation, answering into `sink`; returns the request id and the REPORT
    /// line.
    pub(crate) fn invoke(&self, req: InvokeRequest, sink: &mut dyn Sink) -> (String, String) {
        let _turn = self.take_turn();
        let id = util::uuid_v4();
        let started = Instant::now();
        let timeout = self.config.timeout;
        let deadline = started + timeout;
        let deadline_ms = util::epoch_ms() + u64::try_from(timeout.as_millis()).unwrap_or(0);
        self.log(&format!("START RequestId: {id} Version: $LATEST"));

        let mut st = self.lock();
        let spawned = if self.is_shutdown() {
            Err(String::new())
        } else {
            self.ensure_runtime(&mut st)
        };
        let started_runtime = matches!(spawned, Ok(true));
        let mut end = match spawned {
            Err(_) if self.is_shutdown() => Some(End::Shutdown),
            Err(e) => Some(End::SpawnFailed(e)),
            Ok(_) => None,
        };
        if end.is_none() {
            st.current = Some(Current {
                id: id.clone(),
                req: Arc::new(req),
                deadline_ms,
                phase: Phase::Queued,
                delivered: None,
            });
            self.cond.notify_all();
        }
        let end = loop {
            if let Some(e) = end.take() {
                break e;
            }
            if let Some(cur) = &mut st.current {
                if matches!(cur.phase, Phase::Done(_)) {
                    let Phase::Done(e) = std::mem::replace(&mut cur.phase, Phase::Delivered) else {
                        unreachable!()
                    };
                    break e;
                }
            }
            if self.is_shutdown() {
                break End::Shutdown;
            }
            let replying = st
                .current
                .as_ref()
                .is_some_and(|c| matches!(c.phase, Phase::Replying));
            if let Some(status) = st.proc.as_mut().and_then(Proc::exit_status) {
                // A reply being read will finish (or fail) on its own.
                if !replying {
                    break End::Exited(describe(status));
                }
            }
            let now = Instant::now();
            if now >= deadline {
                break End::Timeout;
            }
            st = self.wait(st, TICK.min(deadline - now));
        };

        // The measures, while the runtime is still there.
        let delivered = st.current.as_ref().and_then(|c| c.delivered);
        let init = st.proc.as_ref().filter(|_| started_runtime).map(|p| {
            p.ready
                .unwrap_or_else(Instant::now)
                .saturating_duration_since(p.spawned)
        });
        if let Some(p) = st.proc.as_mut() {
            if let Some(kb) = util::peak_rss_kb(p.child.id()) {
                st.peak_kb = kb;
            }
        }
        let fatal = matches!(
            end,
            End::InitError(_) | End::Exited(_) | End::Timeout | End::Shutdown
        );
        if fatal {
            kill(&mut st);
        }
        st.current = None;
        st.finished.push_back(id.clone());
        if st.finished.len() > 256 {
            st.finished.pop_front();
        }
        self.cond.notify_all();
        let peak_kb = st.peak_kb;
        drop(st);

        let (status, error_type) = self.answer(&id, end, deadline, sink);
        let ended = Instant::now();
        let duration = ended.saturating_duration_since(delivered.unwrap_or(started));
        let ms = duration.as_secs_f64() * 1000.0;
        let mut report = format!(
            "REPORT RequestId: {id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
            (ms.ceil() as u64).max(1),
            self.config.memory_mb,
            peak_kb.div_ceil(1024),
        );
        if let Some(init) = init {
            report.push_str(&format!(
                "Init Duration: {:.2} ms\t",
                init.as_secs_f64() * 1000.0
            ));
        }
        match (status, error_type) {
            (Outcome::Timeout, _) => report.push_str("Status: timeout"),
            (Outcome::Error, Some(t)) => {
                report.push_str(&format!("Status: error\tError Type: {t}"))
            }
            _ => {}
        }
        self.log(&format!("END RequestId: {id}"));
        self.log(&report);
        (id, report)
    }

    /// Answers the caller; returns how it went, and the error type of a runtime failure.
    fn answer(
        &self,
        id: &str,
        end: End,
        deadline: Instant,
        sink: &mut dyn Sink,
    ) -> (Outcome, Option<String>) {
        let json_ct = ("Content-Type", "application/json");
        let rid = ("X-Amzn-RequestId", id);
        let version = ("X-Amz-Executed-Version", "$LATEST");
        let unhandled = ("X-Amz-Function-Error", "Unhandled");
        let fail = |sink: &mut dyn Sink, status: u16, body: &[u8]| {
            let _ = sink.full(status, &[json_ct, rid, version, unhandled], body);
        };
        let sandbox = |error_type: &str, message: &str| {
            error_json(error_type, &format!("RequestId: {id} Error: {message}"))
        };
        match end {
            End::Response(body, ct) => {
                let _ = sink.full(200, &[("Content-Type", &ct), rid, version], &body);
                (Outcome::Ok, None)
            }
            End::FunctionError(body) => {
                fail(sink, 200, &body);
                (Outcome::Ok, None)
            }
            End::TooLarge(size) => {
                let msg = format!("Response payload size ({size} bytes) exceeded maximum allowed payload size ({MAX_RESPONSE} bytes).");
                fail(
                    sink,
                    200,
                    &error_json("Function.ResponseSizeTooLarge", &msg),
                );
                (Outcome::Ok, None)
            }
            End::InitError(body) => {
                let t = error_type_of(&body);
                fail(sink, 502, &body);
                (Outcome::Error, Some(t))
            }
            End::Exited(how) => {
                let msg = format!("Runtime exited with error: {how}");
                fail(sink, 502, &sandbox("Runtime.ExitError", &msg));
                (Outcome::Error, Some("Runtime.ExitError".into()))
            }
            End::SpawnFailed(msg) => {
                fail(sink, 502, &sandbox("Runtime.InvalidEntrypoint", &msg));
                (Outcome::Error, Some("Runtime.InvalidEntrypoint".into()))
            }
            End::Timeout => {
                fail(sink, 200, &self.timeout_body(id));
                (Outcome::Timeout, None)
            }
            End::Shutdown => {
                let body = error_json("ServiceException", "the emulator is shutting down");
                let _ = sink.full(503, &[json_ct, rid], &body);
                (Outcome::Error, Some("ServiceException".into()))
            }
            End::Stream(ct, rx) => self.forward(id, &ct, &rx, deadline, sink),
        }
    }

    fn timeout_body(&self, id: &str) -> Vec<u8> {
        let secs = self.config.timeout.as_secs_f64();
        error_json(
            "Sandbox.Timedout",
            &format!("RequestId: {id} Error: Task timed out after {secs:.2} seconds"),
        )
    }

    /// Forwards a streamed response as it arrives. A failure before the first byte is
    /// answered as any other; after it, in the trailers.
    fn forward(
        &self,
        id: &str,
        ct: &str,
        rx: &Receiver<Piece>,
        deadline: Instant,
        sink: &mut dyn Sink,
    ) -> (Outcome, Option<String>) {
        let next = || {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(p) => Some(p),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => Some(Piece::Broken),
            }
        };
        let first = match next() {
            Some(Piece::Data(d)) => d,
            Some(Piece::End(trailers)) => {
                let end = match stream_error(&trailers) {
                    Some(body) => End::FunctionError(body),
                    None => End::Response(Vec::new(), ct.to_owned()),
                };
                return self.answer(id, end, deadline, sink);
            }
            failed => {
                let end = self.stream_failed(failed.is_none());
                return self.answer(id, end, deadline, sink);
            }
        };
        let headers = [
            ("Content-Type", ct),
            ("X-Amzn-RequestId", id),
            ("X-Amz-Executed-Version", "$LATEST"),
        ];
        // A caller that leaves is no longer written to; the stream is still drained.
        let mut ok = sink.start_stream(&headers).is_ok() && sink.chunk(&first).is_ok();
        loop {
            match next() {
                Some(Piece::Data(d)) => ok = ok && sink.chunk(&d).is_ok(),
                Some(Piece::End(trailers)) => {
                    let mut t: Vec<(&str, &str)> = trailers
                        .iter()
                        .filter(|(k, _)| k.starts_with("lambda-runtime-function-error-"))
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    if let Some(&(_, kind)) = t.iter().find(|(k, _)| k.ends_with("-type")) {
                        t.push(("X-Amz-Function-Error", kind));
                    }
                    if ok {
                        let _ = sink.end_stream(&t);
                    }
                    return (Outcome::Ok, None);
                }
                failed => {
                    let (outcome, kind) = match self.stream_failed(failed.is_none()) {
                        End::Timeout => (Outcome::Timeout, "Sandbox.Timedout"),
                        _ => (Outcome::Error, "Runtime.ExitError"),
                    };
                    if ok {
                        let _ = sink.end_stream(&[
                            ("Lambda-Runtime-Function-Error-Type", kind),
                            ("X-Amz-Function-Error", kind),
                        ]);
                    }
                    return (
                        outcome,
                        (outcome == Outcome::Error).then(|| kind.to_owned()),
                    );
                }
            }
        }
    }

    /// A stream that timed out or broke (its connection failed: the runtime is dying): the
    /// runtime is killed.
    fn stream_failed(&self, timed_out: bool) -> End {
        let mut st = self.lock();
        let how = st.proc.as_mut().and_then(Proc::exit_status).map(describe);
        kill(&mut st);
        drop(st);
        self.cond.notify_all();
        if timed_out {
            End::Timeout
        } else {
            End::Exited(how.unwrap_or_else(|| "the response stream broke".into()))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Error,
    Timeout,
}

fn error_type_of(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("errorType")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "Runtime.Unknown".into())
}

/// The error in a stream's trailers, as JSON.
fn stream_error(trailers: &[(String, String)]) -> Option<Vec<u8>> {
    let get = |name: &str| {
        trailers
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let kind = get("lambda-runtime-function-error-type");
    let body = get("lambda-runtime-function-error-body").and_then(util::base64_decode);
    if kind.is_none() && body.is_none() {
        return None;
    }
    Some(error_body(&body.unwrap_or_default(), kind))
}

pub(crate) fn serve_invoke_conn(inner: &Arc<Inner>, stream: TcpStream) {
    serve_conn(inner, stream, route_invoke);
}

fn route_invoke(
    inner: &Arc<Inner>,
    req: Request,
    r: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
) -> io::Result<bool> {
    let path = req.target.split('?').next().unwrap_or_default();
    let is_invoke = path
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .is_some_and(|name| !name.is_empty() && !name.contains('/'));
    if !is_invoke {
        let keep = skip_body(&req, r);
        let msg = format!(
            "no route for {} {path}: invoke with POST {INVOKE_PATH}",
            req.method
        );
        return reply(w, 404, &error_json("ResourceNotFoundException", &msg), keep);
    }
    if req.method != "POST" {
        let keep = skip_body(&req, r);
        let msg = format!("{} is not allowed: use POST", req.method);
        return reply(w, 405, &error_json("MethodNotAllowed", &msg), keep);
    }
    if let BodyKind::Length(n) = req.body {
        if n > MAX_PAYLOAD as u64 {
            let keep = skip_body(&req, r);
            return reply(w, 413, &payload_too_large(), keep);
        }
    }
    if req.expect_continue {
        http::write_continue(w)?;
    }
    let payload = match BodyReader::new(req.body).read_all(r, MAX_PAYLOAD)? {
        Whole::Body(b) => b,
        Whole::TooLarge(_, drained) => return reply(w, 413, &payload_too_large(), drained),
    };
    let invocation = InvokeRequest::new(
        payload,
        req.header("content-type").map(str::to_owned),
        req.header("x-amzn-trace-id").map(str::to_owned),
        req.header("x-amz-client-context"),
    );
    let invocation = match invocation {
        Ok(i) => i,
        Err(body) => return reply(w, 400, &body, true),
    };
    match req.header("x-amz-invocation-type") {
        Some("Event") => {
            let inner = Arc::clone(inner);
            thread::spawn(move || inner.invoke(invocation, &mut Collect::default()));
            http::write_response(w, 202, &[], b"", true)?;
            return Ok(true);
        }
        Some("DryRun") => {
            http::write_response(w, 204, &[], b"", true)?;
            return Ok(true);
        }
        _ => {}
    }
    let mut sink = HttpSink {
        w,
        keep_alive: req.keep_alive,
        chunked: req.http11,
    };
    inner.invoke(invocation, &mut sink);
    Ok(sink.keep_alive)
}
