//! A minimal, fast, spec-complete AWS Lambda runtime.
//!
//! ```no_run
//! minlambda::run_ok(|name: String| format!("Hello, {name}!"))
//! ```
//!
//! [`run`] and [`run_ok`] keep the 2020 crate's API; [`run_with_context`] also hands the
//! handler the invocation's [`Context`]; [`Runtime`] is the byte-level API that bindings
//! drive. Everything speaks the Lambda Runtime API over one keep-alive HTTP/1.1 connection
//! ([`http`]). Only protocol failures end the process, with one line on stderr.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::pedantic)]
#![allow(clippy::missing_errors_doc, clippy::module_name_repetitions)]

pub mod http;

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::borrow::Cow;
use std::fmt::{self, Display, Write as _};
use std::io::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PREFIX: &str = "/2018-06-01/runtime";

/// A protocol failure: the Runtime API cannot be used, and the process should end.
#[derive(Debug)]
pub struct Error(String);

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl Error {
    fn io(what: &str, e: &io::Error) -> Self {
        Error(format!("{what}: {e}"))
    }
}

/// The function's configuration, read once from the environment.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub function_version: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB (0 when unset or not a number).
    pub memory_size_mb: u32,
    /// `AWS_LAMBDA_LOG_GROUP_NAME`.
    pub log_group_name: String,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`.
    pub log_stream_name: String,
}

impl Env {
    /// The process-wide configuration, read from the environment on first use.
    pub fn get() -> &'static Env {
        static ENV: OnceLock<Env> = OnceLock::new();
        ENV.get_or_init(|| {
            let var = |k: &str| std::env::var(k).unwrap_or_default();
            Env {
                function_name: var("AWS_LAMBDA_FUNCTION_NAME"),
                function_version: var("AWS_LAMBDA_FUNCTION_VERSION"),
                memory_size_mb: var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").parse().unwrap_or(0),
                log_group_name: var("AWS_LAMBDA_LOG_GROUP_NAME"),
                log_stream_name: var("AWS_LAMBDA_LOG_STREAM_NAME"),
            }
        })
    }
}

/// What Lambda says about one invocation, from the headers of `/next`.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// `Lambda-Runtime-Deadline-Ms`: the deadline in Unix epoch milliseconds (0 if absent).
    pub deadline_ms: u64,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub invoked_function_arn: String,
    /// `Lambda-Runtime-Trace-Id`, the X-Ray tracing header.
    pub xray_trace_id: Option<String>,
    /// `Lambda-Runtime-Client-Context`, JSON as sent.
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity`, JSON as sent.
    pub identity: Option<String>,
    /// `Lambda-Runtime-Aws-Tenant-Id`.
    pub tenant_id: Option<String>,
    /// `Lambda-Runtime-Invocation-Id`, echoed on the reply when present.
    pub invocation_id: Option<String>,
    /// The event's `Content-Type`.
    pub content_type: Option<String>,
}

impl Context {
    fn from_response(resp: &mut http::Response) -> Self {
        let mut ctx = Context::default();
        for (name, value) in resp.headers.drain(..) {
            let Some(key) = name.strip_prefix("lambda-runtime-") else {
                if name == "content-type" {
                    ctx.content_type = Some(value);
                }
                continue;
            };
            match key {
                "aws-request-id" => ctx.request_id = value,
                "deadline-ms" => ctx.deadline_ms = value.parse().unwrap_or(0),
                "invoked-function-arn" => ctx.invoked_function_arn = value,
                "trace-id" => ctx.xray_trace_id = Some(value),
                "client-context" => ctx.client_context = Some(value),
                "cognito-identity" => ctx.identity = Some(value),
                "aws-tenant-id" => ctx.tenant_id = Some(value),
                "invocation-id" => ctx.invocation_id = Some(value),
                _ => {}
            }
        }
        ctx
    }

    /// Time left before the deadline (zero once it has passed).
    #[must_use]
    pub fn remaining_time(&self) -> Duration {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Duration::from_millis(self.deadline_ms).saturating_sub(now)
    }

    /// The function's configuration from the environment (name, version, memory, logs).
    #[must_use]
    pub fn env(&self) -> &'static Env {
        Env::get()
    }
}

/// An error report, as posted to `/error` and `/init/error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReport {
    /// `errorType`: a short, stable name (`ValueError`, `Runtime.UnmarshalError`).
    pub error_type: String,
    /// `errorMessage`.
    pub message: String,
    /// `stackTrace`, one line per frame.
    pub stack_trace: Vec<String>,
}

impl ErrorReport {
    /// A report with no stack trace.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorReport {
            error_type: error_type.into(),
            message: message.into(),
            stack_trace: Vec::new(),
        }
    }

    /// The report as JSON.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "errorMessage": self.message,
            "errorType": self.error_type,
            "stackTrace": self.stack_trace,
        }))
        .unwrap_or_default()
    }

    /// The `Lambda-Runtime-Function-Error-Type` header for this report: the type itself when
    /// it already reads `Runtime.X` or `Function.X`, `Function.X` for a plain identifier, and
    /// `Runtime.Unknown` for anything else (what Lambda would make of it).
    #[must_use]
    pub fn header_type(&self) -> Cow<'_, str> {
        let t = self.error_type.as_str();
        let ident = |s: &str| {
            s.as_bytes().first().is_some_and(u8::is_ascii_uppercase)
                && s.bytes().all(|b| b.is_ascii_alphabetic())
        };
        match t.split_once('.') {
            Some(("Runtime" | "Function", rest)) if ident(rest) => Cow::Borrowed(t),
            None if ident(t) => Cow::Owned(format!("Function.{t}")),
            _ => Cow::Borrowed("Runtime.Unknown"),
        }
    }
}

/// What a handler gives back for one invocation.
#[derive(Debug)]
pub enum Reply<B> {
    /// A response body and its content type.
    Ok(B, &'static str),
    /// An error report.
    Err(ErrorReport),
}

/// How the Runtime API took a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 202: accepted.
    Accepted,
    /// A 4xx: this invocation's reply was refused (e.g. 413 for an oversized response);
    /// the loop goes on.
    Rejected(u16, String),
}

/// One invocation: the event's bytes and its context.
#[derive(Debug)]
pub struct Invocation {
    /// The raw event.
    pub body: Vec<u8>,
    /// The invocation's context.
    pub context: Context,
}

/// Called when a wait on the Runtime API is interrupted by a signal or a poll tick; an
/// error ends the wait with that error.
pub type InterruptHook = Box<dyn FnMut() -> io::Result<()> + Send>;

/// The byte-level Runtime API client.
#[derive(Debug)]
pub struct Runtime {
    client: http::Client,
}

impl Runtime {
    /// A client for the Runtime API at `addr` (`host:port`).
    #[must_use]
    pub fn new(addr: &str) -> Self {
        Runtime {
            client: http::Client::new(addr),
        }
    }

    /// A client for `$AWS_LAMBDA_RUNTIME_API`.
    pub fn from_env() -> Result<Self, Error> {
        match std::env::var("AWS_LAMBDA_RUNTIME_API") {
            Ok(addr) if !addr.is_empty() => Ok(Runtime::new(&addr)),
            _ => Err(Error("AWS_LAMBDA_RUNTIME_API is not set".into())),
        }
    }

    /// Makes every blocking read wake at least every `tick` (and on signals) to call `hook`,
    /// so that a binding can run its signal handlers while it waits for the next event.
    pub fn set_interrupt_hook(&mut self, tick: Duration, hook: InterruptHook) {
        self.client
            .set_interrupt_hook(tick, Arc::new(Mutex::new(hook)));
    }

    /// Waits for the next invocation.
    pub fn next_invocation(&mut self) -> Result<Invocation, Error> {
        let what = "GET /next";
        let mut resp = self
            .client
            .request("GET", "/2018-06-01/runtime/invocation/next", &[], None)
            .map_err(|e| Error::io(what, &e))?;
        if resp.status != 200 {
            return Err(refused(what, &resp));
        }
        let context = Context::from_response(&mut resp);
        if context.request_id.is_empty() {
            return Err(Error(format!(
                "{what}: the reply has no Lambda-Runtime-Aws-Request-Id"
            )));
        }
        Ok(Invocation {
            body: resp.body,
            context,
        })
    }

    /// Posts an invocation's response.
    pub fn respond(
        &mut self,
        ctx: &Context,
        body: &[u8],
        content_type: &str,
    ) -> Result<Outcome, Error> {
        let path = invocation_path(&ctx.request_id, "response");
        let mut headers = vec![("Content-Type", content_type)];
        if let Some(id) = &ctx.invocation_id {
            headers.push(("Lambda-Runtime-Invocation-Id", id));
        }
        let resp = self.client.request("POST", &path, &headers, Some(body));
        outcome("POST /response", resp)
    }

    /// Streams an invocation's response: `write` sends the body in HTTP/1.1 chunks; an
    /// `Err(report)` from it after the first byte is sent in the error trailers.
    pub fn respond_streaming<F>(
        &mut self,
        ctx: &Context,
        content_type: &str,
        write: F,
    ) -> Result<Outcome, Error>
    where
        F: FnOnce(&mut dyn Write) -> Result<(), ErrorReport>,
    {
        let path = invocation_path(&ctx.request_id, "response");
        let mut headers = vec![
            ("Content-Type", content_type),
            ("Lambda-Runtime-Function-Response-Mode", "streaming"),
            (
                "Trailer",
                "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
            ),
        ];
        if let Some(id) = &ctx.invocation_id {
            headers.push(("Lambda-Runtime-Invocation-Id", id));
        }
        let resp = self.client.request_chunked("POST", &path, &headers, |w| {
            if let Err(report) = write(w) {
                w.trailer("Lambda-Runtime-Function-Error-Type", &report.header_type());
                w.trailer(
                    "Lambda-Runtime-Function-Error-Body",
                    &base64(&report.to_json()),
                );
            }
            Ok(())
        });
        outcome("POST /response (streaming)", resp)
    }

    /// Posts an invocation's error report.
    pub fn report_error(&mut self, ctx: &Context, report: &ErrorReport) -> Result<Outcome, Error> {
        let path = invocation_path(&ctx.request_id, "error");
        let body = report.to_json();
        let kind = report.header_type();
        let mut headers = vec![
            ("Content-Type", "application/json"),
            ("Lambda-Runtime-Function-Error-Type", &*kind),
        ];
        if let Some(id) = &ctx.invocation_id {
            headers.push(("Lambda-Runtime-Invocation-Id", id));
        }
        let resp = self.client.request("POST", &path, &headers, Some(&body));
        outcome("POST /error", resp)
    }

    /// Posts an initialisation error; the process should exit afterwards.
    pub fn init_error(&mut self, report: &ErrorReport) -> Result<Outcome, Error> {
        let body = report.to_json();
        let kind = report.header_type();
        let headers = [
            ("Content-Type", "application/json"),
            ("Lambda-Runtime-Function-Error-Type", &*kind),
        ];
        let resp = self.client.request(
            "POST",
            "/2018-06-01/runtime/init/error",
            &headers,
            Some(&body),
        );
        outcome("POST /init/error", resp)
    }

    /// Runs the invocation loop with a byte-level handler until the Runtime API fails;
    /// returns that failure. A refused reply (4xx) is logged and the loop goes on.
    pub fn serve<F, B>(&mut self, mut handler: F) -> Error
    where
        F: FnMut(&[u8], &Context) -> Reply<B>,
        B: AsRef<[u8]>,
    {
        loop {
            let inv = match self.next_invocation() {
                Ok(inv) => inv,
                Err(e) => return e,
            };
            let reply = catch_unwind(AssertUnwindSafe(|| handler(&inv.body, &inv.context)))
                .unwrap_or_else(|p| Reply::Err(panic_report(&*p)));
            drop(inv.body);
            if let Err(e) = self.reply(&inv.context, &reply) {
                return e;
            }
        }
    }

    /// Sends a handler's reply: the response, or the error report. A refused reply (4xx,
    /// e.g. 413 for an oversized response) ends only this invocation: it is logged to stderr
    /// and `Ok` is returned; anything else that fails is a protocol failure.
    pub fn reply<B: AsRef<[u8]>>(&mut self, ctx: &Context, reply: &Reply<B>) -> Result<(), Error> {
        let sent = match reply {
            Reply::Ok(body, ct) => self.respond(ctx, body.as_ref(), ct),
            Reply::Err(report) => self.report_error(ctx, report),
        };
        if let Outcome::Rejected(status, msg) = sent? {
            log(&format!(
                "the reply for {} was refused ({status}): {msg}",
                ctx.request_id
            ));
        }
        Ok(())
    }
}

impl Runtime {
    /// Runs the invocation loop with a JSON handler until the Runtime API fails: the event
    /// is decoded into `A` (`Runtime.UnmarshalError` if it cannot be), an `Ok(B)` encoded
    /// as the response (`Runtime.MarshalError` if it cannot be), an `Err(E)` reported with
    /// `errorType` = `E`'s short type name and `errorMessage` = its `Display`; a panic is
    /// reported as `Panic`.
    pub fn serve_json<F, A, B, E>(&mut self, mut handler: F) -> Error
    where
        F: FnMut(A, &Context) -> Result<B, E>,
        A: DeserializeOwned,
        B: Serialize,
        E: Display,
    {
        self.serve(|body, ctx| {
            let event: A = match serde_json::from_slice(body) {
                Ok(ev) => ev,
                Err(e) => {
                    return Reply::Err(ErrorReport::new(
                        "Runtime.UnmarshalError",
                        format!("Unable to unmarshal input: {e}"),
                    ))
                }
            };
            match handler(event, ctx) {
                Ok(out) => match serde_json::to_vec(&out) {
                    Ok(json) => Reply::Ok(json, "application/json"),
                    Err(e) => Reply::Err(ErrorReport::new(
                        "Runtime.MarshalError",
                        format!("Unable to marshal response: {e}"),
                    )),
                },
                Err(err) => Reply::Err(ErrorReport::new(short_type_name::<E>(), err.to_string())),
            }
        })
    }
}

fn refused(what: &str, resp: &http::Response) -> Error {
    Error(format!(
        "{what}: the Runtime API answered {}: {}",
        resp.status,
        String::from_utf8_lossy(&resp.body[..resp.body.len().min(512)])
    ))
}

fn outcome(what: &str, resp: io::Result<http::Response>) -> Result<Outcome, Error> {
    let resp = resp.map_err(|e| Error::io(what, &e))?;
    match resp.status {
        200..=299 => Ok(Outcome::Accepted),
        400..=499 => Ok(Outcome::Rejected(
            resp.status,
            String::from_utf8_lossy(&resp.body[..resp.body.len().min(512)]).into_owned(),
        )),
        _ => Err(refused(what, &resp)),
    }
}

/// `/2018-06-01/runtime/invocation/{id}/{what}`, the id percent-encoded so that it can
/// never leave its path segment (only `A-Za-z0-9-_` pass as they are; `.` is encoded too,
/// so `..` cannot be a segment).
fn invocation_path(id: &str, what: &str) -> String {
    let mut p = String::with_capacity(PREFIX.len() + id.len() + 24);
    p.push_str(PREFIX);
    p.push_str("/invocation/");
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            p.push(char::from(b));
        } else {
            let _ = write!(p, "%{b:02X}");
        }
    }
    p.push('/');
    p.push_str(what);
    p
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(T[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Writes one line to stderr, prefixed `minlambda: `; never panics.
fn log(msg: &str) {
    let _ = writeln!(io::stderr().lock(), "minlambda: {msg}");
}

fn panic_report(payload: &(dyn std::any::Any + Send)) -> ErrorReport {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the handler panicked".to_owned());
    ErrorReport::new("Panic", msg)
}

/// The short name of a type: `alloc::string::String` -> `String`, `&str` -> `str`.
fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    let base = base.rsplit("::").next().unwrap_or(base);
    base.trim_start_matches(['&', '*', ' '])
        .trim_start_matches("mut ")
}

/// Ends the process after a protocol failure: one line on stderr, exit status 1.
pub fn exit_with(e: &Error) -> ! {
    log(&e.to_string());
    std::process::exit(1)
}

/// Serves a JSON handler that also receives the [`Context`]: see [`Runtime::serve_json`].
/// Never returns; a protocol failure ends the process with one line on stderr and exit
/// status 1.
pub fn run_with_context<F, A, B, E>(handler: F) -> !
where
    F: FnMut(A, &Context) -> Result<B, E>,
    A: DeserializeOwned,
    B: Serialize,
    E: Display,
{
    let mut rt = Runtime::from_env().unwrap_or_else(|e| exit_with(&e));
    exit_with(&rt.serve_json(handler))
}

/// Serves a JSON handler that may fail (the 2020 API): see [`run_with_context`].
pub fn run<F, A, B, E>(mut handler: F) -> !
where
    F: FnMut(A) -> Result<B, E>,
    A: DeserializeOwned,
    B: Serialize,
    E: Display,
{
    run_with_context(move |event, _: &Context| handler(event))
}

/// Serves a JSON handler that cannot fail (the 2020 API): see [`run_with_context`].
pub fn run_ok<F, A, B>(mut handler: F) -> !
where
    F: FnMut(A) -> B,
    A: DeserializeOwned,
    B: Serialize,
{
    run_with_context(move |event, _: &Context| Ok::<B, std::convert::Infallible>(handler(event)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_stay_in_their_segment() {
        for id in ["../x", "a/b", "a?b", "a#b", "a%b", "a\r\nX: y", "é", ".."] {
            let p = invocation_path(id, "response");
            let seg = &p[PREFIX.len() + "/invocation/".len()..p.len() - "/response".len()];
            assert!(
                seg.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_%".contains(&b)),
                "{p}"
            );
        }
        assert_eq!(
            invocation_path("8476a536-e9f4-11e8-9739-2dfe598c3fcd", "error"),
            "/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/error"
        );
    }

    #[test]
    fn short_names() {
        assert_eq!(short_type_name::<String>(), "String");
        assert_eq!(short_type_name::<&str>(), "str");
        assert_eq!(short_type_name::<io::Error>(), "Error");
        assert_eq!(short_type_name::<Result<u8, String>>(), "Result");
    }

    #[test]
    fn header_types() {
        let t = |s: &str| ErrorReport::new(s, "").header_type().into_owned();
        assert_eq!(t("Runtime.UnmarshalError"), "Runtime.UnmarshalError");
        assert_eq!(t("ValueError"), "Function.ValueError");
        assert_eq!(t("str"), "Runtime.Unknown");
        assert_eq!(t("Foo.Bar"), "Runtime.Unknown");
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }
}
