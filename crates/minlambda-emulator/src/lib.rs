//! A local AWS Lambda emulator: it runs a Lambda runtime (any program that speaks the
//! Runtime API: a Rust `bootstrap`, `python -m minlambda app.handler`, the official Python
//! client) as a child process, serves it the Runtime API on a loopback port handed over in
//! `AWS_LAMBDA_RUNTIME_API`, and serves callers the Invoke API,
//! `POST /2015-03-31/functions/function/invocations`, as AWS's Runtime Interface Emulator
//! (RIE) does, with Lambda's answers:
//!
//! - success: 200 and the function's bytes, with its content type;
//! - a function error: 200, `X-Amz-Function-Error: Unhandled` and the error JSON;
//! - an init error or a runtime that exits: 502 with the init error the runtime reported or
//!   `Runtime.ExitError`; the next invocation starts a fresh runtime;
//! - a timeout: 200, `X-Amz-Function-Error: Unhandled` and `Sandbox.Timedout`
//!   (`Task timed out after N.00 seconds`); the runtime is killed and restarted;
//! - a payload over 6 MiB: 413; a response over 6 MiB: `Function.ResponseSizeTooLarge`;
//! - response streaming (`Lambda-Runtime-Function-Response-Mode: streaming`) is forwarded
//!   to the caller chunk by chunk as it arrives (which RIE cannot do).
//!
//! One invocation runs at a time; concurrent callers wait their turn in arrival order. The
//! runtime starts on the first invocation (its init counts against the timeout, as in RIE).
//! Each invocation prints Lambda's `START`, `END` and `REPORT` lines on the emulator's
//! stderr (RIE prints them on stdout; stderr keeps a one-shot caller's stdout clean). The
//! runtime's own stdout and stderr pass through.
//!
//! ```no_run
//! use minlambda_emulator::{Config, Emulator};
//! let config = Config::new(vec!["./bootstrap".into()]);
//! let emulator = Emulator::bind(config)?;
//! println!("listening on {}", emulator.local_addr());
//! emulator.serve()?;
//! # Ok::<(), std::io::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod http;
mod invoke;
mod runtime_api;
mod util;

use http::{BodyReader, Request};
use invoke::{serve_invoke_conn, Collect};
use runtime_api::serve_runtime_conn;
use serde_json::json;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, BufReader, Write};
use std::net::{Shutdown as NetShutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// The largest payload a caller may send (Lambda's synchronous invocation limit).
pub const MAX_PAYLOAD: usize = 6 * 1024 * 1024;

/// The largest response or error a runtime may post (6 MiB + 100 bytes, as Lambda allows).
pub const MAX_RESPONSE: usize = MAX_PAYLOAD + 100;

/// The Invoke API path (any function name is accepted in place of `function`).
pub const INVOKE_PATH: &str = "/2015-03-31/functions/function/invocations";

const RUNTIME_PREFIX: &str = "/2018-06-01/runtime/";

/// How often waits wake to notice a runtime that exited or a caller that left.
const TICK: Duration = Duration::from_millis(20);

/// The emulator's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the Invoke API listens (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// Where the Runtime API listens (default `127.0.0.1:0`: a free loopback port).
    pub runtime_api_listen: SocketAddr,
    /// The runtime: program and arguments.
    pub command: Vec<OsString>,
    /// Extra environment for the runtime (over the emulator's own and Lambda's defaults).
    pub env: Vec<(OsString, OsString)>,
    /// The function timeout (default `$AWS_LAMBDA_FUNCTION_TIMEOUT` seconds, else 300 s).
    pub timeout: Duration,
    /// The memory size reported to the runtime and in `REPORT` lines (default
    /// `$AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, else 3008 MB, as RIE does).
    pub memory_mb: u32,
    /// The function name (default `$AWS_LAMBDA_FUNCTION_NAME`, else `function`).
    pub function_name: String,
    /// The region in the ARN and `AWS_REGION` (default `$AWS_REGION`, else
    /// `$AWS_DEFAULT_REGION`, else `us-east-1`).
    pub region: String,
    /// The handler, passed to the runtime as `_HANDLER` when set.
    pub handler: Option<String>,
    /// Print `START`, `END` and `REPORT` lines on stderr (default true).
    pub log_reports: bool,
    /// Send the runtime's stdout to the emulator's stderr (for a one-shot `invoke` whose
    /// stdout carries only the result; default false: stdout passes through).
    pub runtime_stdout_to_stderr: bool,
}

impl Config {
    /// The defaults, from the environment where Lambda has a variable for it.
    #[must_use]
    pub fn new(command: Vec<OsString>) -> Config {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            runtime_api_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            command,
            env: Vec::new(),
            timeout: var("AWS_LAMBDA_FUNCTION_TIMEOUT")
                .and_then(|t| parse_seconds(&t))
                .unwrap_or(Duration::from_secs(300)),
            memory_mb: var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
                .and_then(|m| m.parse().ok())
                .unwrap_or(3008),
            function_name: var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "function".into()),
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".into()),
            handler: None,
            log_reports: true,
            runtime_stdout_to_stderr: false,
        }
    }
}

/// Parses a timeout in seconds (`3`, `0.5`); `None` unless positive and finite.
#[must_use]
pub fn parse_seconds(s: &str) -> Option<Duration> {
    let secs: f64 = s.trim().parse().ok()?;
    (secs.is_finite() && secs > 0.0 && secs < 1e9).then(|| Duration::from_secs_f64(secs))
}

/// Parses a listen address: `HOST:PORT` (a name is resolved), `[::1]:PORT`, or a bare
/// `PORT` (on 127.0.0.1).
pub fn parse_listen(s: &str) -> io::Result<SocketAddr> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad address {s:?}: expected HOST:PORT"),
        )
    };
    s.to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)
}

/// What one invocation answered, for a caller in the same process.
#[derive(Debug, Clone, Default)]
pub struct InvokeResult {
    /// The HTTP status the Invoke API would send.
    pub status: u16,
    /// The response headers (and trailers of a streamed response).
    pub headers: Vec<(String, String)>,
    /// The response body (a streamed response, whole).
    pub body: Vec<u8>,
    /// The invocation's request id (empty if it never started).
    pub request_id: String,
    /// The `REPORT` line (empty if it never started).
    pub report: String,
}

impl InvokeResult {
    /// A header's value (`name` case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the function failed (an error status or `X-Amz-Function-Error`).
    #[must_use]
    pub fn is_error(&self) -> bool {
        self.status != 200 || self.header("X-Amz-Function-Error").is_some()
    }
}

/// The emulator: both listeners are bound; the runtime starts on the first invocation.
/// Dropping it shuts it down and kills the runtime.
#[derive(Debug)]
pub struct Emulator {
    inner: Arc<Inner>,
    listener: TcpListener,
    addr: SocketAddr,
}

/// Ends an emulator's `serve` from another thread, and kills its runtime.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    inner: Arc<Inner>,
    addr: SocketAddr,
}

impl ShutdownHandle {
    /// Stops serving: `serve` returns, waiting and later callers get 503, the runtime is
    /// killed.
    pub fn shutdown(&self) {
        if self.inner.shutdown.swap(true, Ordering::SeqCst) {
            return;
        }
        {
            let mut st = self.inner.lock();
            kill(&mut st);
        }
        self.inner.cond.notify_all();
        self.inner.turn_cond.notify_all();
        // Wake the blocked accept loops.
        drop(TcpStream::connect_timeout(&wake_addr(self.addr), TICK * 10));
        drop(TcpStream::connect_timeout(
            &wake_addr(self.inner.api_addr),
            TICK * 10,
        ));
    }
}

fn wake_addr(mut a: SocketAddr) -> SocketAddr {
    if a.ip().is_unspecified() {
        a.set_ip(if a.is_ipv4() {
            [127, 0, 0, 1].into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    a
}

fn bind_error(what: &str, addr: SocketAddr, e: &io::Error) -> io::Error {
    let why = match e.kind() {
        io::ErrorKind::AddrInUse => "address already in use".to_owned(),
        io::ErrorKind::AddrNotAvailable => "address not available".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    };
    io::Error::new(e.kind(), format!("cannot listen on {addr} ({what}): {why}"))
}

impl Emulator {
    /// Checks the command and binds both ports, so that a missing program or a port in use
    /// fails here, at once, with one clear message.
    pub fn bind(config: Config) -> io::Result<Emulator> {
        let program = config.command.first().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no runtime command given")
        })?;
        if util::which(program).is_none() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("command not found: {}", program.to_string_lossy()),
            ));
        }
        let listener = TcpListener::bind(config.listen)
            .map_err(|e| bind_error("Invoke API", config.listen, &e))?;
        let api = TcpListener::bind(config.runtime_api_listen)
            .map_err(|e| bind_error("Runtime API", config.runtime_api_listen, &e))?;
        let addr = listener.local_addr()?;
        let api_addr = wake_addr(api.local_addr()?);
        let inner = Arc::new(Inner {
            config,
            api_addr,
            state: Mutex::new(State::default()),
            cond: Condvar::new(),
            turns: Mutex::new((0, 0)),
            turn_cond: Condvar::new(),
            shutdown: AtomicBool::new(false),
        });
        let api_inner = Arc::clone(&inner);
        thread::Builder::new()
            .name("runtime-api".into())
            .spawn(move || accept_loop(&api_inner, &api, serve_runtime_conn))?;
        Ok(Emulator {
            inner,
            listener,
            addr,
        })
    }

    /// The Invoke API's address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Runtime API's address, as handed to the runtime.
    #[must_use]
    pub fn runtime_api_addr(&self) -> SocketAddr {
        self.inner.api_addr
    }

    /// The Invoke API's URL.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}{INVOKE_PATH}", self.addr)
    }

    /// A handle that ends [`Emulator::serve`] from another thread.
    #[must_use]
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            inner: Arc::clone(&self.inner),
            addr: self.addr,
        }
    }

    /// Serves the Invoke API until [`ShutdownHandle::shutdown`]; a thread per connection.
    pub fn serve(&self) -> io::Result<()> {
        accept_loop(&self.inner, &self.listener, serve_invoke_conn);
        Ok(())
    }

    /// Runs one invocation in this process, as a caller of the Invoke API would, with the
    /// caller's headers (`Content-Type`, `X-Amzn-Trace-Id`, `X-Amz-Client-Context`).
    pub fn invoke(&self, payload: &[u8], headers: &[(&str, &str)]) -> InvokeResult {
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_empty())
                .map(|(_, v)| (*v).to_owned())
        };
        let mut sink = Collect::default();
        if payload.len() > MAX_PAYLOAD {
            sink.result.status = 413;
            sink.result.body = payload_too_large();
            return sink.result;
        }
        let req = match InvokeRequest::new(
            payload.to_vec(),
            get("content-type"),
            get("x-amzn-trace-id"),
            get("x-amz-client-context").as_deref(),
        ) {
            Ok(r) => r,
            Err(body) => {
                sink.result.status = 400;
                sink.result.body = body;
                return sink.result;
            }
        };
        let (id, report) = self.inner.invoke(req, &mut sink);
        sink.result.request_id = id;
        sink.result.report = report;
        sink.result
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown_handle().shutdown();
    }
}

fn accept_loop(inner: &Arc<Inner>, listener: &TcpListener, serve: fn(&Arc<Inner>, TcpStream)) {
    for conn in listener.incoming() {
        if inner.shutdown.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = conn else {
            thread::sleep(TICK);
            continue;
        };
        let inner = Arc::clone(inner);
        let spawned = thread::Builder::new().spawn(move || {
            let _ = stream.set_nodelay(true);
            serve(&inner, stream);
        });
        if spawned.is_err() {
            thread::sleep(TICK);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The state both APIs share: the runtime process and the invocation in progress. The Invoke
// API side is in `invoke`, the Runtime API side in `runtime_api`.

/// Everything the threads share.
#[derive(Debug)]
struct Inner {
    config: Config,
    api_addr: SocketAddr,
    state: Mutex<State>,
    cond: Condvar,
    /// (next ticket, ticket being served): callers take turns in arrival order.
    turns: Mutex<(u64, u64)>,
    turn_cond: Condvar,
    shutdown: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    proc: Option<Proc>,
    /// Bumped whenever a runtime starts or is killed: a `/next` waiting from an older
    /// generation belongs to a dead runtime and must not take an invocation.
    generation: u64,
    current: Option<Current>,
    /// Ids of recent finished invocations: a reply to one of them is a second reply (403).
    finished: VecDeque<String>,
    /// The last peak memory read from a runtime, in kB.
    peak_kb: u64,
}

#[derive(Debug)]
struct Proc {
    child: Child,
    spawned: Instant,
    /// When the runtime first asked for an invocation: the end of its init.
    ready: Option<Instant>,
    exited: Option<ExitStatus>,
}

impl Proc {
    fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }
}

#[derive(Debug)]
struct Current {
    id: String,
    req: Arc<InvokeRequest>,
    deadline_ms: u64,
    phase: Phase,
    delivered: Option<Instant>,
}

#[derive(Debug)]
enum Phase {
    /// Waiting for the runtime's `/next`.
    Queued,
    /// Handed to the runtime; no reply yet.
    Delivered,
    /// A reply is being received.
    Replying,
    /// Answered.
    Done(End),
}

/// How an invocation ended.
#[derive(Debug)]
enum End {
    Response(Vec<u8>, String),
    Stream(String, Receiver<Piece>),
    FunctionError(Vec<u8>),
    TooLarge(u64),
    InitError(Vec<u8>),
    Exited(String),
    Timeout,
    SpawnFailed(String),
    Shutdown,
}

/// A piece of a streamed response, from the runtime's connection to the caller.
#[derive(Debug)]
enum Piece {
    Data(Vec<u8>),
    /// The end, with the trailers.
    End(Vec<(String, String)>),
    /// The runtime's connection failed mid-stream.
    Broken,
}

#[derive(Debug)]
struct InvokeRequest {
    payload: Vec<u8>,
    content_type: String,
    trace_id: Option<String>,
    client_context: Option<String>,
}

impl InvokeRequest {
    /// Validates the caller's input; `Err` holds the body of a 400.
    fn new(
        payload: Vec<u8>,
        content_type: Option<String>,
        trace_id: Option<String>,
        client_context_b64: Option<&str>,
    ) -> Result<Self, Vec<u8>> {
        let client_context = match client_context_b64 {
            None => None,
            Some(b64) => {
                let parsed = util::base64_decode(b64.trim())
                    .and_then(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
                    .filter(serde_json::Value::is_object);
                let Some(v) = parsed else {
                    return Err(error_json(
                        "InvalidRequestContentException",
                        "Client context must be a valid Base64-encoded JSON object.",
                    ));
                };
                Some(v.to_string())
            }
        };
        Ok(InvokeRequest {
            // Lambda hands a function `{}` when it is invoked without a payload.
            payload: if payload.is_empty() {
                b"{}".to_vec()
            } else {
                payload
            },
            // curl's `-d` default says nothing about the payload: Lambda's is JSON.
            content_type: content_type
                .filter(|t| !t.starts_with("application/x-www-form-urlencoded"))
                .unwrap_or_else(|| "application/json".into()),
            trace_id,
            client_context,
        })
    }
}

fn error_json(error_type: &str, message: &str) -> Vec<u8> {
    json!({"errorMessage": message, "errorType": error_type})
        .to_string()
        .into_bytes()
}

fn payload_too_large() -> Vec<u8> {
    error_json(
        "RequestEntityTooLarge",
        &format!(
            "Request must be smaller than {MAX_PAYLOAD} bytes for the InvokeFunction operation"
        ),
    )
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Kills and reaps the runtime, if any.
fn kill(st: &mut State) {
    if let Some(mut p) = st.proc.take() {
        if p.exit_status().is_none() {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        st.generation += 1;
    }
}

/// Go's rendering of an exit status, which Lambda's messages use.
fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            let name = match sig {
                1 => "hangup",
                2 => "interrupt",
                3 => "quit",
                4 => "illegal instruction",
                6 => "aborted",
                7 => "bus error",
                8 => "floating point exception",
                9 => "killed",
                11 => "segmentation fault",
                13 => "broken pipe",
                15 => "terminated",
                _ => return format!("signal: {sig}"),
            };
            return format!("signal: {name}");
        }
    }
    status.to_string()
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        locked(&self.state)
    }

    fn wait<'a>(&'a self, st: MutexGuard<'a, State>, timeout: Duration) -> MutexGuard<'a, State> {
        self.cond
            .wait_timeout(st, timeout)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    fn log(&self, line: &str) {
        if self.config.log_reports {
            let mut err = io::stderr().lock();
            let _ = err.write_all(format!("{line}\n").as_bytes());
            let _ = err.flush();
        }
    }

    /// Starts a runtime unless a live one exists; `Ok(true)` if one was started.
    fn ensure_runtime(&self, st: &mut State) -> Result<bool, String> {
        if let Some(p) = &mut st.proc {
            if p.exit_status().is_none() {
                return Ok(false);
            }
            st.proc = None;
            st.generation += 1;
        }
        let c = &self.config;
        let mut cmd = Command::new(&c.command[0]);
        cmd.args(&c.command[1..]).stdin(Stdio::null());
        cmd.env_remove("_X_AMZN_TRACE_ID");
        let unset = |k: &str| std::env::var_os(k).map_or(true, |v| v.is_empty());
        if unset("AWS_REGION") {
            cmd.env("AWS_REGION", &c.region);
        }
        if unset("AWS_DEFAULT_REGION") {
            cmd.env("AWS_DEFAULT_REGION", &c.region);
        }
        if unset("LAMBDA_TASK_ROOT") {
            if let Ok(cwd) = std::env::current_dir() {
                cmd.env("LAMBDA_TASK_ROOT", cwd);
            }
        }
        if let Some(h) = &c.handler {
            cmd.env("_HANDLER", h);
        }
        cmd.env("AWS_LAMBDA_FUNCTION_NAME", &c.function_name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", c.memory_mb.to_string())
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", c.function_name),
            )
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("{}/[$LATEST]{}", util::utc_date(), util::random_hex()),
            )
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .envs(c.env.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", self.api_addr.to_string());
        if c.runtime_stdout_to_stderr {
            if let Some(out) = stderr_stdio() {
                cmd.stdout(out);
            }
        }
        let child = cmd.spawn().map_err(|e| {
            format!(
                "cannot start {}: {e}",
                c.command[0].to_string_lossy().into_owned()
            )
        })?;
        st.generation += 1;
        st.proc = Some(Proc {
            child,
            spawned: Instant::now(),
            ready: None,
            exited: None,
        });
        Ok(true)
    }
}

/// An error report as posted: kept if it is JSON, else made JSON from the error type.
fn error_body(body: &[u8], error_type: Option<&str>) -> Vec<u8> {
    if serde_json::from_slice::<serde_json::Value>(body).is_ok() {
        return body.to_vec();
    }
    json!({
        "errorMessage": String::from_utf8_lossy(body),
        "errorType": error_type.unwrap_or("Runtime.Unknown"),
    })
    .to_string()
    .into_bytes()
}

#[cfg(unix)]
fn stderr_stdio() -> Option<Stdio> {
    use std::os::fd::AsFd;
    io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .map(Stdio::from)
}

#[cfg(not(unix))]
fn stderr_stdio() -> Option<Stdio> {
    None
}

// ---------------------------------------------------------------------------------------
// Connections

/// Serves one connection: requests in turn until the peer closes or asks to.
fn serve_conn(
    inner: &Arc<Inner>,
    stream: TcpStream,
    route: fn(&Arc<Inner>, Request, &mut BufReader<TcpStream>, &mut TcpStream) -> io::Result<bool>,
) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut r = BufReader::new(read_half);
    let mut w = stream;
    loop {
        let req = match http::read_request(&mut r) {
            Ok(Some(req)) => req,
            Ok(None) => break,
            Err(e) => {
                if e.kind() == io::ErrorKind::InvalidData {
                    let body = error_json("InvalidRequest", &e.to_string());
                    let _ = http::write_response(
                        &mut w,
                        400,
                        &[("Content-Type", "application/json")],
                        &body,
                        false,
                    );
                }
                break;
            }
        };
        let keep = req.keep_alive;
        match route(inner, req, &mut r, &mut w) {
            Ok(true) if keep && !inner.is_shutdown() => {}
            _ => break,
        }
    }
    let _ = w.shutdown(NetShutdown::Both);
}

/// Answers with a JSON body; `Ok(keep_alive)`.
fn reply(w: &mut TcpStream, status: u16, body: &[u8], keep: bool) -> io::Result<bool> {
    http::write_response(
        w,
        status,
        &[("Content-Type", "application/json")],
        body,
        keep,
    )?;
    Ok(keep)
}

/// Reads and drops a request's body before an early answer; `false` if it cannot be kept.
fn skip_body(req: &Request, r: &mut BufReader<TcpStream>) -> bool {
    !req.expect_continue && BodyReader::new(req.body).drain(r).unwrap_or(false)
}
