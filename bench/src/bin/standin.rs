//! A fast Lambda Runtime API stand-in that measures the runtime it serves.
//!
//! ```text
//! standin [OPTIONS] -- COMMAND [ARGS...]
//!   --name NAME        the runtime's name in the output (default: COMMAND)
//!   --event FILE       the event served on every /next (default: {})
//!   --event-name NAME  the event's name in the output (default: FILE's stem)
//!   -n N               invocations per run (default 1000)
//!   --runs K           runs, each a fresh process (default 1); one JSON line per run
//!   --verify MODE      json | bytes | none: the first and last replies must equal the event
//!                      (as JSON values, or byte for byte)
//!   --env K=V          extra environment for the runtime (repeatable)
//!   --cwd DIR          the runtime's working directory
//!   --timeout SECS     give up on a run after this long (default 300)
//!   --exec-only        no Runtime API: time COMMAND from spawn to exit (`python -c pass`)
//! ```
//!
//! Each run spawns COMMAND with `AWS_LAMBDA_RUNTIME_API` pointing at a fresh listener on
//! 127.0.0.1 and the usual Lambda environment, serves N copies of the event (keep-alive
//! HTTP/1.1, `Content-Length`, the `Lambda-Runtime-*` headers with a unique request id per
//! invocation and a far deadline), answers every `/response` and `/error` with 202, and checks
//! that every request id got exactly one reply. Connections are served one thread each, so
//! clients that open a connection per request (the 2020 crate) work too.
//!
//! Measurements, all of the child process, read from `/proc/<pid>` while the runtime is
//! blocked in a `/next` the stand-in has not answered yet, so nothing moves under the reading:
//!
//! - `first_next_ms`: spawn -> the first `/next` request; `cold_start_ms`: spawn -> the first
//!   reply fully received.
//! - `cpu_us_per_inv`: user + system CPU (`/proc/<pid>/stat`, all threads) spent between the
//!   first `/next` and the (N+1)-th `/next`, divided by N: the invocation loop alone, without
//!   process start and init. `init_cpu_ms` is the CPU spent before the first `/next`.
//! - `wall_us_per_inv`: the wall time over the same span, divided by N.
//! - `peak_rss_kb`: `VmHWM` from `/proc/<pid>/status`, the peak over the process's life.
//!
//! Then the stand-in closes the connection and the listener, so the runtime exits (or is
//! killed half a second later), and reaps it.

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `USER_HZ`: the unit of `/proc/<pid>/stat` times, fixed at 100 in Linux's ABI.
const CLK_TCK: f64 = 100.0;
const PREFIX: &str = "/2018-06-01/runtime/";
const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:bench";
const TRACE: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
const ACCEPTED: &[u8] =
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}";

#[derive(Clone, Copy, PartialEq)]
enum Verify {
    Json,
    Bytes,
    None,
}

struct Args {
    name: String,
    event: Option<PathBuf>,
    event_name: String,
    n: usize,
    runs: usize,
    verify: Verify,
    env: Vec<(String, String)>,
    cwd: Option<PathBuf>,
    timeout: Duration,
    exec_only: bool,
    command: Vec<String>,
}

const HELP: &str = "\
usage: standin [OPTIONS] -- COMMAND [ARGS...]
  --name NAME        the runtime's name in the output (default: COMMAND)
  --event FILE       the event served on every /next (default: {})
  --event-name NAME  the event's name in the output (default: FILE's stem)
  -n N               invocations per run (default 1000)
  --runs K           runs, each a fresh process (default 1); one JSON line per run
  --verify MODE      json | bytes | none: the first and last replies must equal the event
  --env K=V          extra environment for the runtime (repeatable)
  --cwd DIR          the runtime's working directory
  --timeout SECS     give up on a run after this long (default 300)
  --exec-only        no Runtime API: time COMMAND from spawn to exit
";

fn usage(msg: &str) -> ! {
    eprint!("standin: {msg}\n{HELP}");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        name: String::new(),
        event: None,
        event_name: String::new(),
        n: 1000,
        runs: 1,
        verify: Verify::None,
        env: Vec::new(),
        cwd: None,
        timeout: Duration::from_secs(300),
        exec_only: false,
        command: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--name" => args.name = value(),
            "--event" => args.event = Some(PathBuf::from(value())),
            "--event-name" => args.event_name = value(),
            "-n" => {
                args.n = value()
                    .parse()
                    .unwrap_or_else(|_| usage("-n: not a number"))
            }
            "--runs" => {
                args.runs = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--runs: not a number"))
            }
            "--verify" => {
                args.verify = match value().as_str() {
                    "json" => Verify::Json,
                    "bytes" => Verify::Bytes,
                    "none" => Verify::None,
                    _ => usage("--verify: json, bytes or none"),
                }
            }
            "--env" => {
                let kv = value();
                let (k, v) = kv.split_once('=').unwrap_or_else(|| usage("--env: K=V"));
                args.env.push((k.to_string(), v.to_string()));
            }
            "--cwd" => args.cwd = Some(PathBuf::from(value())),
            "--timeout" => {
                let secs: f64 = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--timeout: seconds"));
                args.timeout = Duration::from_secs_f64(secs);
            }
            "--exec-only" => args.exec_only = true,
            "-h" | "--help" => {
                print!("{HELP}");
                std::process::exit(0)
            }
            "--" => {
                args.command = it.by_ref().collect();
                break;
            }
            _ => usage(&format!("unknown option {a}")),
        }
    }
    if args.command.is_empty() {
        usage("no command");
    }
    if args.name.is_empty() {
        args.name.clone_from(&args.command[0]);
    }
    if args.event_name.is_empty() {
        args.event_name = match &args.event {
            Some(p) => p
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into()),
            None => "{}".into(),
        };
    }
    args
}

fn main() -> ExitCode {
    let args = parse_args();
    let event: Arc<Vec<u8>> = Arc::new(match &args.event {
        Some(p) => fs::read(p).unwrap_or_else(|e| usage(&format!("{}: {e}", p.display()))),
        None => b"{}".to_vec(),
    });
    let mut ok = true;
    for _ in 0..args.runs {
        let line = if args.exec_only {
            exec_only(&args)
        } else {
            match measure(&args, &event) {
                Ok(m) => {
                    ok &= m.all_answered && m.verified != Some(false);
                    m.to_json(&args)
                }
                Err(e) => {
                    ok = false;
                    serde_json::json!({
                        "runtime": args.name, "event": args.event_name, "n": args.n,
                        "all_answered": false, "failure": e.to_string(),
                    })
                }
            }
        };
        println!("{line}");
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Spawn -> exit of a command that serves nothing (`python -c pass`).
fn exec_only(args: &Args) -> serde_json::Value {
    let mut cmd = Command::new(&args.command[0]);
    cmd.args(&args.command[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd.envs(args.env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &args.cwd {
        cmd.current_dir(dir);
    }
    let t0 = Instant::now();
    let status = cmd.spawn().and_then(|mut c| c.wait());
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    serde_json::json!({
        "runtime": args.name, "event": "-", "exit_ms": round3(ms),
        "exit_ok": status.map(|s| s.success()).unwrap_or(false),
    })
}

/// What one run measured.
struct Measurement {
    first_next_ms: f64,
    cold_start_ms: f64,
    init_cpu_ms: f64,
    cpu_us_per_inv: f64,
    sys_us_per_inv: f64,
    wall_us_per_inv: f64,
    peak_rss_kb: u64,
    answered: usize,
    errors: usize,
    stray: usize,
    all_answered: bool,
    verified: Option<bool>,
    exit: String,
}

impl Measurement {
    fn to_json(&self, args: &Args) -> serde_json::Value {
        serde_json::json!({
            "runtime": args.name, "event": args.event_name, "n": args.n,
            "cpu_us_per_inv": round3(self.cpu_us_per_inv),
            "sys_us_per_inv": round3(self.sys_us_per_inv),
            "wall_us_per_inv": round3(self.wall_us_per_inv),
            "cold_start_ms": round3(self.cold_start_ms),
            "first_next_ms": round3(self.first_next_ms),
            "init_cpu_ms": round3(self.init_cpu_ms),
            "peak_rss_kb": self.peak_rss_kb,
            "all_answered": self.all_answered,
            "answered": self.answered, "errors": self.errors, "stray_replies": self.stray,
            "verified": self.verified, "exit": self.exit,
        })
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A reading of the child's `/proc` files.
#[derive(Clone, Copy)]
struct Reading {
    at: Instant,
    cpu_ticks: u64,
    sys_ticks: u64,
    rss_kb: u64,
}

fn read_proc(pid: u32) -> Reading {
    let at = Instant::now();
    let ticks = fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the command name, which is in parentheses and may hold spaces:
            // state(3) ... utime(14) stime(15) cutime(16) cstime(17).
            let rest = &s[s.rfind(')')? + 1..];
            let f: Vec<u64> = rest
                .split_whitespace()
                .skip(11)
                .take(4)
                .filter_map(|x| x.parse().ok())
                .collect();
            (f.len() == 4).then(|| (f.iter().sum(), f[1] + f[3]))
        });
    let (cpu_ticks, sys_ticks) = ticks.unwrap_or((0, 0));
    let rss_kb = fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        });
    Reading {
        at,
        cpu_ticks,
        sys_ticks,
        rss_kb: rss_kb.unwrap_or(0),
    }
}

/// The state that the connections share.
struct State {
    pid: u32,
    t0: Instant,
    n: usize,
    served: usize,
    replies: Vec<u8>,
    errors: usize,
    stray: usize,
    first_next: Option<Reading>,
    first_reply: Option<Instant>,
    end: Option<Reading>,
    verified: Option<bool>,
}

struct Server {
    state: Mutex<State>,
    event: Arc<Vec<u8>>,
    verify: Verify,
    /// The per-run part of the request ids.
    nonce: u32,
    deadline_ms: u128,
    done: Mutex<mpsc::Sender<()>>,
    stop: AtomicBool,
}

impl Server {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn measure(args: &Args, event: &Arc<Vec<u8>>) -> io::Result<Measurement> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (done_tx, done_rx) = mpsc::channel();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let server = Arc::new(Server {
        state: Mutex::new(State {
            pid: 0,
            t0: Instant::now(),
            n: args.n,
            served: 0,
            replies: vec![0; args.n],
            errors: 0,
            stray: 0,
            first_next: None,
            first_reply: None,
            end: None,
            verified: None,
        }),
        event: Arc::clone(event),
        verify: args.verify,
        nonce: now.subsec_nanos() ^ (std::process::id() << 8),
        deadline_ms: now.as_millis() + 3_600_000,
        done: Mutex::new(done_tx),
        stop: AtomicBool::new(false),
    });
    let acceptor = {
        let server = Arc::clone(&server);
        thread::spawn(move || {
            for conn in listener.incoming() {
                if server.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let server = Arc::clone(&server);
                thread::spawn(move || {
                    let _ = serve_connection(conn, &server);
                });
            }
        })
    };

    let mut cmd = Command::new(&args.command[0]);
    cmd.args(&args.command[1..])
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/01/01/[$LATEST]00000000000000000000000000000000",
        )
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("TZ", ":UTC")
        .envs(args.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        // The runtime's own output goes to our stderr; our stdout holds the measurements.
        .stdout(Stdio::from(io::stderr()))
        .stderr(Stdio::from(io::stderr()));
    if let Some(dir) = &args.cwd {
        cmd.current_dir(dir);
    }
    let mut child = {
        // Held across the spawn so that no connection reads the state before pid is set.
        let mut st = server.lock();
        st.t0 = Instant::now();
        let child = cmd.spawn();
        match child {
            Ok(c) => {
                st.pid = c.id();
                c
            }
            Err(e) => {
                drop(st);
                stop_acceptor(&server, addr, acceptor);
                return Err(io::Error::new(
                    e.kind(),
                    format!("{}: {e}", args.command[0]),
                ));
            }
        }
    };

    let started = Instant::now();
    let mut exit = String::new();
    loop {
        match done_rx.recv_timeout(Duration::from_millis(20)) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                if let Some(status) = child.try_wait()? {
                    exit = format!("exited early: {status}");
                    break;
                }
                if started.elapsed() > args.timeout {
                    exit = "timed out".into();
                    break;
                }
            }
        }
    }
    stop_acceptor(&server, addr, acceptor);
    let status = reap(&mut child);
    if exit.is_empty() {
        exit = status;
    }

    let st = server.lock();
    let answered = st.replies.iter().filter(|&&c| c == 1).count();
    let ms = |t: Option<Instant>| t.map_or(f64::NAN, |t| (t - st.t0).as_secs_f64() * 1e3);
    let per_inv = |ticks: u64| ticks as f64 / CLK_TCK * 1e6 / st.n.max(1) as f64;
    let (cpu_us_per_inv, sys_us_per_inv, wall_us_per_inv, peak_rss_kb) =
        match (st.first_next, st.end) {
            (Some(a), Some(b)) => (
                per_inv(b.cpu_ticks.saturating_sub(a.cpu_ticks)),
                per_inv(b.sys_ticks.saturating_sub(a.sys_ticks)),
                (b.at - a.at).as_secs_f64() * 1e6 / st.n.max(1) as f64,
                b.rss_kb,
            ),
            _ => (f64::NAN, f64::NAN, f64::NAN, 0),
        };
    Ok(Measurement {
        first_next_ms: ms(st.first_next.map(|r| r.at)),
        cold_start_ms: ms(st.first_reply),
        init_cpu_ms: st
            .first_next
            .map_or(f64::NAN, |r| r.cpu_ticks as f64 * 1e3 / CLK_TCK),
        cpu_us_per_inv,
        sys_us_per_inv,
        wall_us_per_inv,
        peak_rss_kb,
        answered,
        errors: st.errors,
        stray: st.stray,
        all_answered: st.end.is_some() && answered == st.n && st.errors == 0 && st.stray == 0,
        verified: st.verified,
        exit,
    })
}

fn stop_acceptor(server: &Server, addr: SocketAddr, acceptor: thread::JoinHandle<()>) {
    server.stop.store(true, Ordering::SeqCst);
    // Wake the acceptor up; it sees `stop` and drops the listener.
    let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    let _ = acceptor.join();
}

/// Waits half a second for the runtime to exit on its own, then kills it.
fn reap(child: &mut Child) -> String {
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(500) {
        match child.try_wait() {
            Ok(Some(status)) => return status.to_string(),
            Ok(None) => thread::sleep(Duration::from_millis(2)),
            Err(e) => return e.to_string(),
        }
    }
    let _ = child.kill();
    match child.wait() {
        Ok(_) => "killed after the last invocation".into(),
        Err(e) => e.to_string(),
    }
}

/// One request, as much of it as the stand-in needs.
struct Request {
    method: String,
    path: String,
    close: bool,
}

fn serve_connection(conn: TcpStream, server: &Server) -> io::Result<()> {
    conn.set_nodelay(true)?;
    let mut reader = BufReader::with_capacity(1 << 16, conn.try_clone()?);
    let mut writer = conn;
    let mut body = Vec::new();
    let mut out = Vec::with_capacity(1024);
    let small = server.event.len() <= 1 << 14;
    while let Some(req) = read_request(&mut reader, &mut writer, &mut body)? {
        if req.method == "GET" && req.path == "/2018-06-01/runtime/invocation/next" {
            let i = {
                let mut st = server.lock();
                if st.first_next.is_none() {
                    st.first_next = Some(read_proc(st.pid));
                }
                if st.served == st.n {
                    if st.end.is_none() {
                        st.end = Some(read_proc(st.pid));
                        // New connections are turned away from now on.
                        server.stop.store(true, Ordering::SeqCst);
                        let _ = server.done.lock().map(|tx| tx.send(()));
                    }
                    // Closing the connection tells the runtime to stop.
                    return Ok(());
                }
                st.served += 1;
                st.served - 1
            };
            out.clear();
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                 Lambda-Runtime-Aws-Request-Id: {}\r\n\
                 Lambda-Runtime-Deadline-Ms: {}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: {ARN}\r\n\
                 Lambda-Runtime-Trace-Id: {TRACE}\r\n\
                 Content-Length: {}\r\n\r\n",
                request_id(server.nonce, i),
                server.deadline_ms,
                server.event.len()
            )?;
            if small {
                out.extend_from_slice(&server.event);
                writer.write_all(&out)?;
            } else {
                writer.write_all(&out)?;
                writer.write_all(&server.event)?;
            }
        } else if req.method == "POST" {
            let Some(rest) = req.path.strip_prefix(PREFIX) else {
                writer.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?;
                continue;
            };
            let reply = rest.strip_prefix("invocation/").and_then(|r| {
                r.strip_suffix("/response")
                    .map(|id| (id, true))
                    .or_else(|| r.strip_suffix("/error").map(|id| (id, false)))
            });
            let index = reply.and_then(|(id, _)| parse_request_id(server.nonce, id));
            let check = {
                let mut st = server.lock();
                if st.end.is_some() {
                    // What a runtime posts once it has been told to stop (the 2020 crate
                    // reports the closed connection as an init error) is not a reply.
                    return Ok(());
                }
                if st.first_reply.is_none() {
                    st.first_reply = Some(Instant::now());
                }
                match (reply, index) {
                    (Some((_, true)), Some(i)) if i < st.n => {
                        st.replies[i] = st.replies[i].saturating_add(1);
                        st.replies[i] == 1 && (i == 0 || i + 1 == st.n)
                    }
                    (Some((_, false)), Some(i)) if i < st.n => {
                        st.errors += 1;
                        false
                    }
                    _ => {
                        // An init error, or a reply for an id that was never handed out.
                        st.stray += 1;
                        false
                    }
                }
            };
            if check && server.verify != Verify::None {
                let same = match server.verify {
                    Verify::Bytes => body == *server.event,
                    _ => json_equal(&body, &server.event),
                };
                let mut st = server.lock();
                st.verified = Some(st.verified.unwrap_or(true) && same);
            }
            writer.write_all(ACCEPTED)?;
        } else {
            writer.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?;
        }
        if req.close {
            return Ok(());
        }
    }
    Ok(())
}

fn json_equal(a: &[u8], b: &[u8]) -> bool {
    match (
        serde_json::from_slice::<serde_json::Value>(a),
        serde_json::from_slice::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn request_id(nonce: u32, i: usize) -> String {
    format!("{nonce:08x}-0000-4000-8000-{i:012x}")
}

fn parse_request_id(nonce: u32, id: &str) -> Option<usize> {
    let (head, index) = id.rsplit_once('-')?;
    let expect = request_id(nonce, 0);
    (head == &expect[..expect.len() - 13]).then(|| usize::from_str_radix(index, 16).ok())?
}

/// Reads one request: its line, its headers, its body (with `Content-Length` or chunked) into
/// `body`. `None` at a clean end of the connection.
fn read_request(
    r: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
    body: &mut Vec<u8>,
) -> io::Result<Option<Request>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_ascii_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut length = 0usize;
    let mut chunked = false;
    let mut close = false;
    let mut expect = false;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value
                .parse()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "content-length"))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        } else if name.eq_ignore_ascii_case("expect") {
            expect = value.eq_ignore_ascii_case("100-continue");
        }
    }
    if expect {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    body.clear();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size = line.trim_end().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size.trim(), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "chunk size"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    line.clear();
                    if r.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            read_exactly(r, body, size)?;
            let mut crlf = [0; 2];
            r.read_exact(&mut crlf)?;
        }
    } else {
        read_exactly(r, body, length)?;
    }
    Ok(Some(Request {
        method,
        path,
        close,
    }))
}

fn read_exactly(r: &mut BufReader<TcpStream>, body: &mut Vec<u8>, n: usize) -> io::Result<()> {
    let got = r.by_ref().take(n as u64).read_to_end(body)?;
    if got < n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_round_trip() {
        let id = request_id(0xdead_beef, 12345);
        assert_eq!(id.len(), 36);
        assert_eq!(parse_request_id(0xdead_beef, &id), Some(12345));
        assert_eq!(parse_request_id(0xdead_beee, &id), None);
        assert_eq!(parse_request_id(0xdead_beef, "x"), None);
    }

    #[test]
    fn json_equality_ignores_layout() {
        assert!(json_equal(
            br#"{"a": [1, 2.5], "b": null}"#,
            br#"{"b":null,"a":[1,2.5]}"#
        ));
        assert!(!json_equal(br#"{"a": 1}"#, br#"{"a": 2}"#));
    }
}
