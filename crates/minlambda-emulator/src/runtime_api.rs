//! The Runtime API side, as Lambda enforces it: `/next` hands over the queued invocation;
//! a reply must name it (400 otherwise), comes once (403 for a second), and fits in
//! [`MAX_RESPONSE`] (413); `/init/error` is for init only; a streamed response is passed to
//! the waiting caller piece by piece.

use crate::http::{self, BodyReader, Request, Whole};
use crate::{
    error_body, error_json, reply, serve_conn, skip_body, End, Inner, Phase, Piece, State,
    MAX_RESPONSE, RUNTIME_PREFIX, TICK,
};
use std::io::{self, BufReader};
use std::net::TcpStream;
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;
use std::time::Instant;

pub(crate) fn serve_runtime_conn(inner: &Arc<Inner>, stream: TcpStream) {
    serve_conn(inner, stream, route_runtime);
}

/// Why a reply for a request id is refused.
fn check_reply(st: &State, id: &str) -> Result<(), (u16, Vec<u8>)> {
    let invalid = || {
        (
            400,
            error_json("InvalidRequestID", &format!("Invalid request ID: {id}")),
        )
    };
    let twice = || {
        (
            403,
            error_json(
                "InvalidStateTransition",
                &format!("Invalid state transition: invocation {id} was already answered"),
            ),
        )
    };
    match &st.current {
        Some(c) if c.id == id => match c.phase {
            Phase::Delivered => Ok(()),
            Phase::Queued => Err(invalid()),
            Phase::Replying | Phase::Done(_) => Err(twice()),
        },
        _ if st.finished.iter().any(|f| f == id) => Err(twice()),
        _ => Err(invalid()),
    }
}

fn route_runtime(
    inner: &Arc<Inner>,
    req: Request,
    r: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
) -> io::Result<bool> {
    let path = req.target.split('?').next().unwrap_or_default().to_owned();
    let route = path.strip_prefix(RUNTIME_PREFIX).unwrap_or("");
    match (req.method.as_str(), route) {
        ("GET", "invocation/next") => next(inner, w),
        ("POST", "init/error") => init_error(inner, &req, r, w),
        ("POST", rest) if rest.starts_with("invocation/") => {
            let rest = &rest["invocation/".len()..];
            match rest.rsplit_once('/') {
                Some((id, "response")) if !id.is_empty() && !id.contains('/') => {
                    response(inner, &req, id, r, w)
                }
                Some((id, "error")) if !id.is_empty() && !id.contains('/') => {
                    error(inner, &req, id, r, w)
                }
                _ => not_found(&req, &path, r, w),
            }
        }
        _ => not_found(&req, &path, r, w),
    }
}

fn not_found(
    req: &Request,
    path: &str,
    r: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
) -> io::Result<bool> {
    let keep = skip_body(req, r);
    let msg = format!("no route for {} {path}", req.method);
    reply(w, 404, &error_json("NotFound", &msg), keep)
}

/// `GET /next`: waits for an invocation and hands it over.
fn next(inner: &Arc<Inner>, w: &mut TcpStream) -> io::Result<bool> {
    let mut st = inner.lock();
    // A `/next` that comes while no runtime runs belongs to the next one started.
    let mut generation = st.proc.is_some().then_some(st.generation);
    if let Some(p) = &mut st.proc {
        p.ready.get_or_insert_with(Instant::now);
    }
    if let Some(c) = &st.current {
        if matches!(c.phase, Phase::Delivered | Phase::Replying) {
            let body = error_json(
                "InvalidStateTransition",
                &format!(
                    "Invalid state transition: invocation {} has not been answered",
                    c.id
                ),
            );
            drop(st);
            return reply(w, 403, &body, true);
        }
    }
    let mut since_check = Instant::now();
    let (id, req, deadline_ms) = loop {
        if inner.is_shutdown() || generation.is_some_and(|g| g != st.generation) {
            return Ok(false);
        }
        if generation.is_none() && st.proc.is_some() {
            generation = Some(st.generation);
        }
        if let Some(p) = &mut st.proc {
            p.ready.get_or_insert_with(Instant::now);
        }
        if let Some(c) = &mut st.current {
            if matches!(c.phase, Phase::Queued) {
                c.phase = Phase::Delivered;
                c.delivered = Some(Instant::now());
                break (c.id.clone(), Arc::clone(&c.req), c.deadline_ms);
            }
        }
        st = inner.wait(st, TICK * 5);
        if since_check.elapsed() >= TICK * 5 {
            since_check = Instant::now();
            if peer_closed(w) {
                return Ok(false);
            }
        }
    };
    drop(st);
    let arn = format!(
        "arn:aws:lambda:{}:012345678912:function:{}",
        inner.config.region, inner.config.function_name
    );
    let deadline = deadline_ms.to_string();
    let mut headers = vec![
        ("Content-Type", req.content_type.as_str()),
        ("Lambda-Runtime-Aws-Request-Id", id.as_str()),
        ("Lambda-Runtime-Deadline-Ms", deadline.as_str()),
        ("Lambda-Runtime-Invoked-Function-Arn", arn.as_str()),
    ];
    if let Some(t) = &req.trace_id {
        headers.push(("Lambda-Runtime-Trace-Id", t));
    }
    if let Some(c) = &req.client_context {
        headers.push(("Lambda-Runtime-Client-Context", c));
    }
    if let Err(e) = http::write_response(w, 200, &headers, &req.payload, true) {
        // Not handed over after all: let another `/next` take it.
        let mut st = inner.lock();
        if let Some(c) = &mut st.current {
            if c.id == id && matches!(c.phase, Phase::Delivered) {
                c.phase = Phase::Queued;
                c.delivered = None;
            }
        }
        drop(st);
        inner.cond.notify_all();
        return Err(e);
    }
    Ok(true)
}

/// Whether the peer has closed the connection (a runtime that died while waiting).
fn peer_closed(s: &TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return false;
    }
    let closed = matches!(s.peek(&mut [0u8; 1]), Ok(0));
    let _ = s.set_nonblocking(false);
    closed
}

/// Sets the current invocation's end, if it is still `id`'s.
fn finish(inner: &Inner, id: &str, end: End) {
    let mut st = inner.lock();
    if let Some(c) = &mut st.current {
        if c.id == id {
            c.phase = Phase::Done(end);
        }
    }
    drop(st);
    inner.cond.notify_all();
}

/// Puts a reply that failed to arrive back: the invocation waits for another.
fn unreply(inner: &Inner, id: &str) {
    let mut st = inner.lock();
    if let Some(c) = &mut st.current {
        if c.id == id && matches!(c.phase, Phase::Replying) {
            c.phase = Phase::Delivered;
        }
    }
    drop(st);
    inner.cond.notify_all();
}

fn accepted(w: &mut TcpStream) -> io::Result<bool> {
    reply(w, 202, br#"{"status":"OK"}"#, true)
}

fn too_large(w: &mut TcpStream, keep: bool) -> io::Result<bool> {
    let msg = format!("Exceeded maximum allowed payload size ({MAX_RESPONSE} bytes).");
    reply(w, 413, &error_json("RequestEntityTooLarge", &msg), keep)
}

/// Claims the reply for `id` (or answers the refusal); `Ok(None)` when claimed.
fn claim(
    inner: &Inner,
    req: &Request,
    id: &str,
    r: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
) -> io::Result<Option<bool>> {
    let mut st = inner.lock();
    if let Err((status, body)) = check_reply(&st, id) {
        drop(st);
        let keep = skip_body(req, r);
        return reply(w, status, &body, keep).map(Some);
    }
    if let Some(c) = &mut st.current {
        c.phase = Phase::Replying;
    }
    drop(st);
    if req.expect_continue {
        http::write_continue(w)?;
    }
    Ok(None)
}

/// Reads a reply's body, up to [`MAX_RESPONSE`]; on a failed read, the claim is undone.
fn reply_body(
    inner: &Inner,
    req: &Request,
    id: &str,
    r: &mut BufReader<TcpStream>,
) -> io::Result<Whole> {
    let body = BodyReader::new(req.body).read_all(r, MAX_RESPONSE);
    if body.is_err() {
        unreply(inner, id);
    }
    body
}

/// Reads a claimed reply's body and ends the invocation with `end(body)`, or as too large
/// past [`MAX_RESPONSE`]; then answers the runtime.
fn settle(
    inner: &Arc<Inner>,
    req: &Request,
    id: &str,
    r: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
    end: impl FnOnce(Vec<u8>) -> End,
) -> io::Result<bool> {
    match reply_body(inner, req, id, r)? {
        Whole::Body(body) => {
            finish(inner, id, end(body));
            accepted(w)
        }
        Whole::TooLarge(size, drained) => {
            finish(inner, id, End::TooLarge(size));
            too_large(w, drained)
        }
    }
}

/// `POST /invocation/{id}/response`.
fn response(
    inner: &Arc<Inner>,
    req: &Request,
    id: &str,
    r: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
) -> io::Result<bool> {
    let mode = req.header("lambda-runtime-function-response-mode");
    if mode.is_some_and(|m| !m.eq_ignore_ascii_case("streaming")) {
        let keep = skip_body(req, r);
        let msg = format!(
            "Invalid function response mode: {}",
            mode.unwrap_or_default()
        );
        return reply(
            w,
            400,
            &error_json("InvalidFunctionResponseMode", &msg),
            keep,
        );
    }
    if let Some(keep) = claim(inner, req, id, r, w)? {
        return Ok(keep);
    }
    let ct = req
        .header("content-type")
        .unwrap_or("application/json")
        .to_owned();
    if mode.is_some() {
        return stream(inner, req, id, ct, r, w);
    }
    settle(inner, req, id, r, w, |body| End::Response(body, ct))
}

/// A streamed response: each piece goes to the caller as it arrives.
fn stream(
    inner: &Arc<Inner>,
    req: &Request,
    id: &str,
    ct: String,
    r: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
) -> io::Result<bool> {
    let (tx, rx): (SyncSender<Piece>, _) = mpsc::sync_channel(16);
    finish(inner, id, End::Stream(ct, rx));
    let mut body = BodyReader::new(req.body);
    let mut listening = true;
    loop {
        match body.piece(r, 64 * 1024) {
            Ok(Some(data)) => {
                listening = listening && tx.send(Piece::Data(data)).is_ok();
            }
            Ok(None) => {
                let _ = tx.send(Piece::End(std::mem::take(&mut body.trailers)));
                return accepted(w);
            }
            Err(e) => {
                let _ = tx.send(Piece::Broken);
                return Err(e);
            }
        }
    }
}

/// `POST /invocation/{id}/error`.
fn error(
    inner: &Arc<Inner>,
    req: &Request,
    id: &str,
    r: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
) -> io::Result<bool> {
    if let Some(keep) = claim(inner, req, id, r, w)? {
        return Ok(keep);
    }
    let kind = req.header("lambda-runtime-function-error-type");
    settle(inner, req, id, r, w, |body| {
        End::FunctionError(error_body(&body, kind))
    })
}

/// `POST /init/error`: allowed before the runtime's first `/next`.
fn init_error(
    inner: &Arc<Inner>,
    req: &Request,
    r: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
) -> io::Result<bool> {
    let id = {
        let st = inner.lock();
        let initializing = st.proc.as_ref().is_some_and(|p| p.ready.is_none());
        match &st.current {
            Some(c) if initializing && matches!(c.phase, Phase::Queued) => Some(c.id.clone()),
            _ => None,
        }
    };
    let Some(id) = id else {
        let keep = skip_body(req, r);
        let body = error_json(
            "InvalidStateTransition",
            "Invalid state transition: init/error after init",
        );
        return reply(w, 403, &body, keep);
    };
    if req.expect_continue {
        http::write_continue(w)?;
    }
    let kind = req.header("lambda-runtime-function-error-type");
    match BodyReader::new(req.body).read_all(r, MAX_RESPONSE)? {
        Whole::Body(body) => {
            finish(inner, &id, End::InitError(error_body(&body, kind)));
            accepted(w)
        }
        Whole::TooLarge(_, drained) => {
            let body = error_json(kind.unwrap_or("Runtime.Unknown"), "init error too large");
            finish(inner, &id, End::InitError(body));
            too_large(w, drained)
        }
    }
}
