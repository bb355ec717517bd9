//! A scripted Runtime API stand-in on loopback, std only: each request that arrives is
//! recorded and answered by the next step of a script; when the script runs out, the
//! server closes everything, which ends any runtime talking to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Which accepted connection (0, 1, ...) carried it.
    pub conn: usize,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// What the server does with a request.
pub enum Step {
    /// Write these bytes as the reply, keep the connection.
    Reply(Vec<u8>),
    /// Write these bytes one at a time, with a flush each, keep the connection.
    Trickle(Vec<u8>),
    /// Write these bytes, then close the connection.
    ReplyClose(Vec<u8>),
    /// Close the connection without a reply.
    Close,
}

pub struct Server {
    pub addr: String,
    handle: Option<JoinHandle<Vec<Req>>>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Starts a server on 127.0.0.1 that answers request `i` with `script(i, &req)`, or
    /// stops when it returns `None`.
    pub fn start<F>(mut script: F) -> Server
    where
        F: FnMut(usize, &Req) -> Option<Step> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut conn_no = 0;
            'accept: loop {
                let Ok((stream, _)) = listener.accept() else {
                    break;
                };
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                stream
                    .set_read_timeout(Some(Duration::from_secs(20)))
                    .unwrap();
                let mut w = stream.try_clone().unwrap();
                let mut r = BufReader::new(stream);
                loop {
                    let Some(mut req) = read_request(&mut r) else {
                        conn_no += 1;
                        continue 'accept;
                    };
                    req.conn = conn_no;
                    let step = script(seen.len(), &req);
                    seen.push(req);
                    match step {
                        None => break 'accept,
                        Some(Step::Reply(b)) => {
                            let _ = w.write_all(&b);
                        }
                        Some(Step::Trickle(b)) => {
                            for byte in b {
                                let _ = w.write_all(&[byte]);
                                let _ = w.flush();
                            }
                        }
                        Some(Step::ReplyClose(b)) => {
                            let _ = w.write_all(&b);
                            let _ = w.shutdown(std::net::Shutdown::Both);
                            conn_no += 1;
                            continue 'accept;
                        }
                        Some(Step::Close) => {
                            let _ = w.shutdown(std::net::Shutdown::Both);
                            conn_no += 1;
                            continue 'accept;
                        }
                    }
                }
            }
            seen
        });
        Server {
            addr,
            handle: Some(handle),
            stop,
        }
    }

    /// Stops the server once the runtime has let go of its connection (or the script has
    /// ended); returns every request seen.
    pub fn requests(mut self) -> Vec<Req> {
        let handle = self.handle.take().unwrap();
        self.stop.store(true, Ordering::SeqCst);
        while !handle.is_finished() {
            // Wake a server blocked in accept(); one blocked on a live connection waits for
            // it to close (or its 20 s read timeout).
            let _ = TcpStream::connect(&self.addr);
            std::thread::sleep(Duration::from_millis(5));
        }
        handle.join().unwrap()
    }
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Req> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.push((k.to_owned(), v.trim().to_owned()));
    }
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if get("transfer-encoding").is_some() {
        loop {
            line.clear();
            r.read_line(&mut line).ok()?;
            let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
            if size == 0 {
                // Trailers become headers named "trailer:<name>".
                loop {
                    line.clear();
                    r.read_line(&mut line).ok()?;
                    let l = line.trim_end();
                    if l.is_empty() {
                        break;
                    }
                    let (k, v) = l.split_once(':')?;
                    headers.push((format!("trailer:{k}"), v.trim().to_owned()));
                }
                break;
            }
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk).ok()?;
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = get("content-length") {
        body = vec![0; n.parse().ok()?];
        r.read_exact(&mut body).ok()?;
    }
    Some(Req {
        method,
        path,
        headers,
        body,
        conn: 0,
    })
}

/// A `/next` reply for request `id` with `body` and extra header lines.
pub fn next(id: &str, body: &[u8], extra: &str) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
         Lambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: 4102444800000\r\n\
         Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:f\r\n\
         {extra}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// The Runtime API's 202.
pub fn accepted() -> Vec<u8> {
    let body = "{\"status\":\"OK\"}";
    format!(
        "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// An error status with the API's error body.
pub fn status(code: u16, error_type: &str) -> Vec<u8> {
    let body = format!("{{\"errorMessage\":\"no\",\"errorType\":\"{error_type}\"}}");
    format!(
        "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A server that serves `events` in order (ids `id-0`, `id-1`, ...), accepts every reply,
/// and stops after the last reply.
pub fn serve_events(events: Vec<Vec<u8>>) -> Server {
    let n = events.len();
    Server::start(move |i, _| {
        if i >= 2 * n {
            return None;
        }
        Some(Step::Reply(if i % 2 == 0 {
            next(&format!("id-{}", i / 2), &events[i / 2], "")
        } else {
            accepted()
        }))
    })
}

/// The path of a built example of this package (cargo test builds them).
pub fn example(name: &str) -> std::path::PathBuf {
    let mut p = std::env::current_exe().unwrap();
    p.pop();
    if p.ends_with("deps") {
        p.pop();
    }
    p.join("examples").join(name)
}
