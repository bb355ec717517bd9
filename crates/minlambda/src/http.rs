//! The purpose-built HTTP/1.1 client: one keep-alive connection to the Runtime API.
//!
//! Every read is bounded (header lines, header count, body size) and EOF is always an
//! error, so a hostile or broken server can neither make us spin nor make us allocate
//! from a length it merely claims.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The longest header section accepted (status line and all headers).
pub const MAX_HEAD: usize = 64 * 1024;
/// The largest body accepted (Lambda's payloads are at most 6 MiB; leave room).
pub const MAX_BODY: usize = 32 * 1024 * 1024;
/// The most memory reserved up front for a body whose length the server claims.
const MAX_RESERVE: usize = 1024 * 1024;

/// A parsed HTTP response.
#[derive(Debug, Default)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, names lower-cased, in arrival order; empty values are dropped.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Whether the connection may be reused after this response.
    pub keep_alive: bool,
}

impl Response {
    /// The value of a header (case-insensitive name); an empty value counts as absent.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn eof(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("connection closed {what}"),
    )
}

/// Reads one CRLF- (or LF-) terminated line of at most `budget` bytes, without the ending.
/// Fails on EOF and on a line longer than the budget, which it decrements.
fn read_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, budget: &mut usize) -> io::Result<()> {
    buf.clear();
    loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            return Err(eof("inside the response head"));
        }
        let (take, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        if take > *budget {
            return Err(invalid("response head too large"));
        }
        *budget -= take;
        buf.extend_from_slice(&avail[..take]);
        r.consume(take);
        if done {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(());
        }
    }
}

/// Reads and parses one response (status line, headers, body) from `r`.
///
/// # Errors
/// Any malformed, oversized or truncated response.
pub fn read_response<R: BufRead>(r: &mut R) -> io::Result<Response> {
    let mut budget = MAX_HEAD;
    let mut line = Vec::with_capacity(256);
    read_line(r, &mut line, &mut budget)?;
    let (status, http10) = parse_status_line(&line)?;
    let mut resp = Response {
        status,
        headers: Vec::with_capacity(8),
        body: Vec::new(),
        keep_alive: !http10,
    };
    let mut length: Option<usize> = None;
    let mut chunked = false;
    loop {
        read_line(r, &mut line, &mut budget)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = parse_header(&line)?;
        if name.eq_ignore_ascii_case("content-length") {
            let n = parse_length(value)?;
            if length.is_some_and(|l| l != n) {
                return Err(invalid("conflicting Content-Length headers"));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let last = value.rsplit(',').next().unwrap_or("").trim();
            if !last.eq_ignore_ascii_case("chunked") {
                return Err(invalid(format!("unsupported Transfer-Encoding: {value}")));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("connection") {
            let v = value.to_ascii_lowercase();
            if v.contains("close") {
                resp.keep_alive = false;
            } else if v.contains("keep-alive") {
                resp.keep_alive = true;
            }
        }
        if !value.is_empty() {
            resp.headers
                .push((name.to_ascii_lowercase(), value.to_owned()));
        }
    }
    if status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(resp);
    }
    if chunked {
        // RFC 9112 6.3: chunked wins over Content-Length, and the connection must close.
        if length.is_some() {
            resp.keep_alive = false;
        }
        read_chunked(r, &mut resp.body)?;
    } else if let Some(n) = length {
        read_exact_body(r, n, &mut resp.body)?;
    } else {
        // No framing: the body runs to EOF, and the connection cannot be reused.
        resp.keep_alive = false;
        read_to_eof(r, &mut resp.body)?;
    }
    Ok(resp)
}

fn parse_status_line(line: &[u8]) -> io::Result<(u16, bool)> {
    let bad = || {
        invalid(format!(
            "bad status line: {:?}",
            String::from_utf8_lossy(line)
        ))
    };
    let rest = line.strip_prefix(b"HTTP/1.").ok_or_else(bad)?;
    let http10 = match rest.first() {
        Some(b'1') => false,
        Some(b'0') => true,
        _ => return Err(bad()),
    };
    let code = rest.get(1..5).ok_or_else(bad)?;
    if code[0] != b' ' || !code[1..].iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    if rest.get(5).is_some_and(|&b| b != b' ') {
        return Err(bad());
    }
    let status = code[1..]
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    if !(100..=599).contains(&status) {
        return Err(bad());
    }
    Ok((status, http10))
}

fn parse_header(line: &[u8]) -> io::Result<(&str, &str)> {
    let line = std::str::from_utf8(line).map_err(|_| invalid("header is not UTF-8"))?;
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| invalid(format!("bad header line: {line:?}")))?;
    if name.is_empty() || !name.bytes().all(is_token) {
        return Err(invalid(format!("bad header name: {name:?}")));
    }
    // RFC 9110 5.5: a bare CR or a NUL in a value is invalid (and dangerous downstream).
    if value.contains(['\r', '\0']) {
        return Err(invalid(format!("bad header value for {name}")));
    }
    Ok((name, value.trim_matches([' ', '\t'])))
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn parse_length(value: &str) -> io::Result<usize> {
    if value.is_empty() || value.len() > 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!("bad Content-Length: {value:?}")));
    }
    let n: usize = value
        .parse()
        .map_err(|_| invalid(format!("bad Content-Length: {value:?}")))?;
    if n > MAX_BODY {
        return Err(invalid(format!(
            "Content-Length {n} exceeds the {MAX_BODY}-byte limit"
        )));
    }
    Ok(n)
}

fn read_exact_body<R: Read>(r: &mut R, n: usize, body: &mut Vec<u8>) -> io::Result<()> {
    body.reserve(n.min(MAX_RESERVE));
    let start = body.len();
    let got = r.take(n as u64).read_to_end(body)?;
    if got < n {
        body.truncate(start);
        return Err(eof("inside the response body"));
    }
    Ok(())
}

fn read_to_eof<R: Read>(r: &mut R, body: &mut Vec<u8>) -> io::Result<()> {
    let got = r.take(MAX_BODY as u64 + 1).read_to_end(body)?;
    if got > MAX_BODY {
        return Err(invalid("response body too large"));
    }
    Ok(())
}

/// Decodes a chunked body (extensions ignored, trailers read and dropped) into `body`.
///
/// # Errors
/// A malformed or truncated chunk, or a body over [`MAX_BODY`].
pub fn read_chunked<R: BufRead>(r: &mut R, body: &mut Vec<u8>) -> io::Result<()> {
    let mut line = Vec::with_capacity(32);
    let mut budget = MAX_HEAD;
    loop {
        read_line(r, &mut line, &mut budget)?;
        let size = line.split(|&b| b == b';').next().unwrap_or(&[]);
        let size = std::str::from_utf8(size)
            .ok()
            .map(|s| s.trim_matches([' ', '\t']))
            .filter(|s| !s.is_empty() && s.len() <= 8 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|s| usize::from_str_radix(s, 16).ok())
            .ok_or_else(|| {
                invalid(format!(
                    "bad chunk size: {:?}",
                    String::from_utf8_lossy(&line)
                ))
            })?;
        if size == 0 {
            break;
        }
        if body.len() + size > MAX_BODY {
            return Err(invalid("response body too large"));
        }
        read_exact_body(r, size, body)?;
        read_line(r, &mut line, &mut budget)?;
        if !line.is_empty() {
            return Err(invalid("chunk not followed by CRLF"));
        }
        budget = MAX_HEAD;
    }
    // Trailers, up to the empty line.
    loop {
        read_line(r, &mut line, &mut budget)?;
        if line.is_empty() {
            return Ok(());
        }
        parse_header(&line)?;
    }
}

/// Appends `s` to `out` as a header value, with any control character replaced by a space
/// so that no value can end its header line or start another.
pub fn push_header_value(out: &mut Vec<u8>, s: &str) {
    out.extend(
        s.bytes()
            .map(|b| if b < 0x20 || b == 0x7f { b' ' } else { b }),
    );
}

/// Called when a blocking read is interrupted (a signal, or a poll tick); an error ends the
/// read with that error.
pub type Hook = Arc<Mutex<Box<dyn FnMut() -> io::Result<()> + Send>>>;

/// A socket whose reads, when a hook is set, wake on signals and every tick to call it.
struct Conn {
    stream: TcpStream,
    hook: Option<Hook>,
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.stream.read(buf) {
                Err(e) if is_wakeup(&e) => match &self.hook {
                    Some(hook) => (hook.lock().unwrap_or_else(PoisonError::into_inner))()?,
                    None if e.kind() == io::ErrorKind::Interrupted => {}
                    None => return Err(e),
                },
                r => return r,
            }
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

fn is_wakeup(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One persistent connection to a `host:port`, opened lazily and reopened once when a
/// reused connection turns out to be dead.
pub struct Client {
    addr: String,
    host: String,
    conn: Option<BufReader<Conn>>,
    head: Vec<u8>,
    hook: Option<(Duration, Hook)>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.stream.fmt(f)
    }
}

/// Bodies at most this long are copied behind the request head and sent in one write.
const COALESCE: usize = 16 * 1024;

impl Client {
    /// A client for `addr` (`host:port`, `localhost:port` or `[::1]:port`); nothing is
    /// opened until the first request.
    #[must_use]
    pub fn new(addr: &str) -> Self {
        Client {
            addr: addr.to_owned(),
            host: addr.to_owned(),
            conn: None,
            head: Vec::with_capacity(512),
            hook: None,
        }
    }

    /// Makes blocking reads wake on signals and at least every `tick` to call `hook`.
    pub fn set_interrupt_hook(&mut self, tick: Duration, hook: Hook) {
        self.hook = Some((tick, hook));
        self.conn = None;
    }

    fn connect(&self) -> io::Result<BufReader<Conn>> {
        let stream = TcpStream::connect(self.addr.as_str()).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot connect to {}: {e}", self.addr))
        })?;
        stream.set_nodelay(true)?;
        if let Some((tick, _)) = &self.hook {
            stream.set_read_timeout(Some(*tick))?;
        }
        let hook = self.hook.as_ref().map(|(_, h)| Arc::clone(h));
        Ok(BufReader::with_capacity(64 * 1024, Conn { stream, hook }))
    }

    /// Sends a request with a `Content-Length` body (or none for `GET`) and reads the reply.
    ///
    /// `headers` values are sanitised; names must be static tokens.
    ///
    /// # Errors
    /// Connection failures (after one retry on a reused connection) and bad responses.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> io::Result<Response> {
        self.head.clear();
        let h = &mut self.head;
        h.extend_from_slice(method.as_bytes());
        h.push(b' ');
        h.extend_from_slice(path.as_bytes());
        h.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        h.extend_from_slice(self.host.as_bytes());
        h.extend_from_slice(b"\r\n");
        for (name, value) in headers {
            h.extend_from_slice(name.as_bytes());
            h.extend_from_slice(b": ");
            push_header_value(h, value);
            h.extend_from_slice(b"\r\n");
        }
        let mut tail: &[u8] = &[];
        if let Some(body) = body {
            h.extend_from_slice(b"Content-Length: ");
            h.extend_from_slice(body.len().to_string().as_bytes());
            h.extend_from_slice(b"\r\n\r\n");
            if body.len() <= COALESCE {
                h.extend_from_slice(body);
            } else {
                tail = body;
            }
        } else {
            h.extend_from_slice(b"\r\n");
        }
        self.exchange(tail)
    }

    /// Sends a request whose body is written in HTTP/1.1 chunks by `write_body` (through a
    /// [`ChunkedWriter`]), then reads the reply. Trailers set on the writer are sent after
    /// the last chunk. No retry: a body already streamed cannot be replayed.
    ///
    /// # Errors
    /// Connection failures, errors from `write_body`, and bad responses.
    pub fn request_chunked<F>(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        write_body: F,
    ) -> io::Result<Response>
    where
        F: FnOnce(&mut ChunkedWriter<'_>) -> io::Result<()>,
    {
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(format!("{method} {path} HTTP/1.1\r\nHost: ").as_bytes());
        head.extend_from_slice(self.host.as_bytes());
        head.extend_from_slice(b"\r\nTransfer-Encoding: chunked\r\n");
        for (name, value) in headers {
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            push_header_value(&mut head, value);
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.connect()?,
        };
        let stream = conn.get_mut();
        stream.write_all(&head)?;
        let mut w = ChunkedWriter {
            out: stream as &mut dyn Write,
            trailers: Vec::new(),
        };
        write_body(&mut w)?;
        w.finish()?;
        let resp = read_response(&mut conn)?;
        if resp.keep_alive {
            self.conn = Some(conn);
        }
        Ok(resp)
    }

    fn exchange(&mut self, tail: &[u8]) -> io::Result<Response> {
        fn send(w: &mut Conn, head: &[u8], tail: &[u8]) -> io::Result<()> {
            w.write_all(head)?;
            if !tail.is_empty() {
                w.write_all(tail)?;
            }
            Ok(())
        }
        let reused = self.conn.is_some();
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.connect()?,
        };
        // Retry only when a reused connection failed before any byte of the answer came
        // back: the server closed it while idle. Any later failure is not retried.
        let first = send(conn.get_mut(), &self.head, tail)
            .and_then(|()| conn.fill_buf().map(<[u8]>::is_empty));
        match first {
            Ok(false) => {}
            Ok(true) if !reused => return Err(eof("before the response")),
            Err(e) if !reused || !is_stale(&e) => return Err(e),
            Ok(true) | Err(_) => {
                conn = self.connect()?;
                send(conn.get_mut(), &self.head, tail)?;
            }
        }
        let resp = read_response(&mut conn)?;
        if resp.keep_alive {
            self.conn = Some(conn);
        }
        Ok(resp)
    }
}

fn is_stale(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

/// Writes an HTTP/1.1 chunked body: each non-empty `write` is one chunk; trailers added
/// with [`ChunkedWriter::trailer`] follow the final zero-length chunk.
pub struct ChunkedWriter<'a> {
    out: &'a mut dyn Write,
    trailers: Vec<u8>,
}

impl ChunkedWriter<'_> {
    /// Sets a trailer to send after the last chunk (the value is sanitised).
    pub fn trailer(&mut self, name: &str, value: &str) {
        self.trailers.extend_from_slice(name.as_bytes());
        self.trailers.extend_from_slice(b": ");
        push_header_value(&mut self.trailers, value);
        self.trailers.extend_from_slice(b"\r\n");
    }

    fn finish(self) -> io::Result<()> {
        let mut end = Vec::with_capacity(5 + self.trailers.len());
        end.extend_from_slice(b"0\r\n");
        end.extend_from_slice(&self.trailers);
        end.extend_from_slice(b"\r\n");
        self.out.write_all(&end)?;
        self.out.flush()
    }
}

impl Write for ChunkedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.out
            .write_all(format!("{:x}\r\n", buf.len()).as_bytes())?;
        self.out.write_all(buf)?;
        self.out.write_all(b"\r\n")?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> io::Result<Response> {
        read_response(&mut io::BufReader::new(raw))
    }

    #[test]
    fn content_length_and_headers() {
        let r =
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\nX-Empty:\r\n\r\nhi").unwrap();
        assert_eq!(
            (r.status, r.body.as_slice(), r.keep_alive),
            (200, &b"hi"[..], true)
        );
        assert_eq!(r.header("x-a"), Some("b"));
        assert_eq!(r.header("X-EMPTY"), None);
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let r = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nhi\r\n3\r\n!!!\r\n0\r\nT: v\r\n\r\n").unwrap();
        assert_eq!(r.body, b"hi!!!");
    }

    #[test]
    fn rejects_hostile_heads() {
        for raw in [
            &b"garbage\r\n\r\n"[..],
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nX-A",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            assert!(parse(raw).is_err(), "{:?}", String::from_utf8_lossy(raw));
        }
        let mut big = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        big.resize(MAX_HEAD + 10, b'a');
        assert_eq!(parse(&big).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn http10_reads_to_eof_and_closes() {
        let r = parse(b"HTTP/1.0 200 OK\r\n\r\nbody").unwrap();
        assert_eq!((r.body.as_slice(), r.keep_alive), (&b"body"[..], false));
    }

    #[test]
    fn header_values_cannot_inject() {
        let mut v = Vec::new();
        push_header_value(&mut v, "a\r\nX-Evil: 1");
        assert_eq!(v, b"a  X-Evil: 1");
    }
}
