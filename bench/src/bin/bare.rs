//! The least a Lambda runtime client can do, the floor of the benchmark: one connection, and per
//! invocation two HTTP exchanges on it: `GET /next`, then `POST /response` with the event's
//! bytes as they came. No parsing beyond finding the end of the headers, `Content-Length` and
//! the request id.
//!
//! It exits 0 when the Runtime API closes the connection between invocations, 1 on anything
//! else.

use std::io::{self, Read, Write};
use std::net::TcpStream;

/// A connection and what has been read from it but not used yet.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    filled: usize,
}

/// Where one response lies in `Conn::buf`.
struct Response {
    header_end: usize,
    end: usize,
}

impl Conn {
    /// Reads one response; `None` if the connection ends before its first byte.
    fn read_response(&mut self) -> io::Result<Option<Response>> {
        let header_end = loop {
            if let Some(i) = find(&self.buf[..self.filled], b"\r\n\r\n") {
                break i + 4;
            }
            if self.fill()? == 0 {
                return if self.filled == 0 {
                    Ok(None)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
        };
        let length: usize = header(&self.buf[..header_end], b"content-length")
            .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
            .unwrap_or(0);
        let end = header_end + length;
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        while self.filled < end {
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(Some(Response { header_end, end }))
    }

    fn fill(&mut self) -> io::Result<usize> {
        if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = self.stream.read(&mut self.buf[self.filled..])?;
        self.filled += n;
        Ok(n)
    }

    /// Drops a used response from the front of the buffer.
    fn consume(&mut self, end: usize) {
        self.buf.copy_within(end..self.filled, 0);
        self.filled -= end;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The value of a header, found by a case-insensitive match on its name.
fn header<'a>(head: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    head.split(|&b| b == b'\n').find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':')?;
        line[..colon]
            .eq_ignore_ascii_case(name)
            .then(|| trim(&line[colon + 1..]))
    })
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn main() {
    if let Err(e) = serve() {
        eprintln!("bare: {e}");
        std::process::exit(1);
    }
}

fn serve() -> io::Result<()> {
    let addr = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(|_| {
        io::Error::new(io::ErrorKind::NotFound, "AWS_LAMBDA_RUNTIME_API is not set")
    })?;
    let stream = TcpStream::connect(&addr)?;
    stream.set_nodelay(true)?;
    let mut conn = Conn {
        stream,
        buf: vec![0; 1 << 16],
        filled: 0,
    };
    let next = format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let mut out = Vec::with_capacity(1 << 16);
    loop {
        conn.stream.write_all(next.as_bytes())?;
        let Some(resp) = conn.read_response()? else {
            return Ok(());
        };
        let head = &conn.buf[..resp.header_end];
        let id = header(head, b"lambda-runtime-aws-request-id")
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no request id"))?;
        let body = &conn.buf[resp.header_end..resp.end];
        out.clear();
        out.extend_from_slice(b"POST /2018-06-01/runtime/invocation/");
        out.extend_from_slice(id);
        write!(
            out,
            "/response HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        if body.len() <= 1 << 14 {
            out.extend_from_slice(body);
            conn.stream.write_all(&out)?;
        } else {
            conn.stream.write_all(&out)?;
            conn.stream.write_all(body)?;
        }
        conn.consume(resp.end);
        let accepted = conn
            .read_response()?
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        conn.consume(accepted.end);
    }
}
