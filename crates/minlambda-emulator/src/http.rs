//! The server side of HTTP/1.1, as much as the two APIs need: request heads (bounded),
//! bodies with `Content-Length` or chunked (read piece by piece, never allocating beyond
//! what the caller allows), responses with `Content-Length` or chunked with trailers.

use std::io::{self, BufRead, Read, Write};

/// The most a request head (request line and headers, or trailers) may take.
pub const MAX_HEAD: usize = 64 * 1024;

/// A body larger than this is not drained for keep-alive: the connection is closed instead.
pub const MAX_DRAIN: u64 = 64 * 1024 * 1024;

/// A request head.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    pub target: String,
    /// Names in lower case, in order.
    pub headers: Vec<(String, String)>,
    pub http11: bool,
    pub keep_alive: bool,
    pub body: BodyKind,
    pub expect_continue: bool,
}

/// How a request's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Empty,
    Length(u64),
    Chunked,
}

impl Request {
    /// The first non-empty value of a header (`name` in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

pub fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads one line (up to LF) within `budget` bytes, without its line ending.
/// `Ok(None)` at EOF before any byte.
fn read_line<R: BufRead>(r: &mut R, budget: &mut usize) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let limit = u64::try_from(*budget).unwrap_or(u64::MAX);
    let n = r.by_ref().take(limit).read_until(b'\n', &mut line)?;
    *budget -= n;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if *budget == 0 {
            invalid("request head too large")
        } else {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in a request head",
            )
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

/// Reads header lines up to the empty line.
fn read_fields<R: BufRead>(r: &mut R, budget: &mut usize) -> io::Result<Vec<(String, String)>> {
    let mut fields = Vec::new();
    loop {
        let line = read_line(r, budget)?.ok_or_else(|| {
            io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed in headers")
        })?;
        if line.is_empty() {
            return Ok(fields);
        }
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(invalid("obsolete header line folding"));
        }
        let text = std::str::from_utf8(&line).map_err(|_| invalid("header is not UTF-8"))?;
        let (name, value) = text
            .split_once(':')
            .ok_or_else(|| invalid(format!("malformed header line: {text:?}")))?;
        if name.is_empty() || !name.bytes().all(is_token) {
            return Err(invalid(format!("malformed header name: {name:?}")));
        }
        let value = value.trim_matches([' ', '\t']);
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(invalid("control character in a header value"));
        }
        fields.push((name.to_ascii_lowercase(), value.to_owned()));
    }
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Reads a request head. `Ok(None)` when the peer closed the connection between requests.
/// A malformed head is an `InvalidData` error (answer 400 and close).
pub fn read_request<R: BufRead>(r: &mut R) -> io::Result<Option<Request>> {
    let mut budget = MAX_HEAD;
    // RFC 9112 2.2: ignore empty lines before the request line.
    let line = loop {
        match read_line(r, &mut budget)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let text = std::str::from_utf8(&line).map_err(|_| invalid("request line is not UTF-8"))?;
    let mut parts = text.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(format!("malformed request line: {text:?}")));
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(invalid(format!("unsupported HTTP version: {version:?}"))),
    };
    if method.is_empty() || !method.bytes().all(is_token) || !target.starts_with('/') {
        return Err(invalid(format!("malformed request line: {text:?}")));
    }
    let headers = read_fields(r, &mut budget)?;
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut connection = String::new();
    let mut expect_continue = false;
    for (name, value) in &headers {
        match name.as_str() {
            "content-length" => {
                let n = value
                    .parse::<u64>()
                    .ok()
                    .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| invalid(format!("bad Content-Length: {value:?}")))?;
                if length.is_some_and(|m| m != n) {
                    return Err(invalid("conflicting Content-Length headers"));
                }
                length = Some(n);
            }
            "transfer-encoding" => {
                if !value.eq_ignore_ascii_case("chunked") || chunked {
                    return Err(invalid(format!("unsupported Transfer-Encoding: {value}")));
                }
                chunked = true;
            }
            "connection" => {
                connection.push(',');
                connection.push_str(&value.to_ascii_lowercase());
            }
            "expect" => expect_continue = value.eq_ignore_ascii_case("100-continue"),
            _ => {}
        }
    }
    if chunked && length.is_some() {
        return Err(invalid("both Content-Length and Transfer-Encoding"));
    }
    let has = |tok: &str| connection.split(',').any(|t| t.trim() == tok);
    let keep_alive = if http11 {
        !has("close")
    } else {
        has("keep-alive")
    };
    let body = match (chunked, length) {
        (true, _) => BodyKind::Chunked,
        (false, Some(n)) if n > 0 => BodyKind::Length(n),
        _ => BodyKind::Empty,
    };
    Ok(Some(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        http11,
        keep_alive,
        body,
        expect_continue: expect_continue && body != BodyKind::Empty,
    }))
}

/// Reads a body piece by piece.
#[derive(Debug)]
pub struct BodyReader {
    chunked: bool,
    /// Bytes left: of the body (`Content-Length`) or of the current chunk.
    remaining: u64,
    started: bool,
    done: bool,
    /// The trailers of a chunked body, once it has been read to the end.
    pub trailers: Vec<(String, String)>,
}

/// What [`BodyReader::read_all`] found.
#[derive(Debug)]
pub enum Whole {
    Body(Vec<u8>),
    /// Over the limit: the number of bytes seen so far (at least limit + 1), and whether
    /// the rest was drained (the connection can be kept).
    TooLarge(u64, bool),
}

impl BodyReader {
    pub fn new(kind: BodyKind) -> Self {
        BodyReader {
            chunked: kind == BodyKind::Chunked,
            remaining: match kind {
                BodyKind::Length(n) => n,
                _ => 0,
            },
            started: false,
            done: kind == BodyKind::Empty,
            trailers: Vec::new(),
        }
    }

    /// The next piece of the body, at most `max` bytes (one chunk at most), or `None` at
    /// the end. An early EOF is an error.
    pub fn piece<R: BufRead>(&mut self, r: &mut R, max: usize) -> io::Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        if self.chunked && self.remaining == 0 {
            if self.started {
                let mut budget = 2;
                match read_line(r, &mut budget)? {
                    Some(l) if l.is_empty() => {}
                    _ => return Err(invalid("chunk not followed by CRLF")),
                }
            }
            self.started = true;
            let mut budget = 4096;
            let line = read_line(r, &mut budget)?.ok_or_else(|| {
                io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed in a chunk")
            })?;
            let size = line.split(|&b| b == b';').next().unwrap_or_default();
            let size = std::str::from_utf8(size)
                .unwrap_or("")
                .trim_matches([' ', '\t']);
            if size.is_empty() || size.len() > 15 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid(format!("bad chunk size: {size:?}")));
            }
            let size = u64::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
            if size == 0 {
                let mut budget = MAX_HEAD;
                self.trailers = read_fields(r, &mut budget)?;
                self.done = true;
                return Ok(None);
            }
            self.remaining = size;
        }
        let want = self
            .remaining
            .min(u64::try_from(max.max(1)).unwrap_or(u64::MAX));
        let mut buf = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
        r.by_ref().take(want).read_to_end(&mut buf)?;
        if (buf.len() as u64) < want {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in a body",
            ));
        }
        self.remaining -= want;
        if !self.chunked && self.remaining == 0 {
            self.done = true;
        }
        Ok(Some(buf))
    }

    /// Reads the rest of the body into memory, up to `limit` bytes. Past the limit, the rest
    /// is read and dropped (up to [`MAX_DRAIN`]).
    pub fn read_all<R: BufRead>(&mut self, r: &mut R, limit: usize) -> io::Result<Whole> {
        if !self.chunked && self.remaining > limit as u64 {
            let seen = self.remaining;
            return Ok(Whole::TooLarge(seen, self.drain(r)?));
        }
        let mut body = Vec::new();
        while let Some(p) = self.piece(r, 64 * 1024)? {
            if body.len() + p.len() > limit {
                let seen = (body.len() + p.len()) as u64;
                return Ok(Whole::TooLarge(seen, self.drain(r)?));
            }
            body.extend_from_slice(&p);
        }
        Ok(Whole::Body(body))
    }

    /// Reads and drops the rest of the body; `false` if it was too large to drain (the
    /// connection must be closed).
    pub fn drain<R: BufRead>(&mut self, r: &mut R) -> io::Result<bool> {
        let mut seen = 0u64;
        if !self.chunked && self.remaining > MAX_DRAIN {
            return Ok(false);
        }
        while let Some(p) = self.piece(r, 64 * 1024)? {
            seen += p.len() as u64;
            if seen > MAX_DRAIN {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The reason phrase of a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

fn head(status: u16, headers: &[(&str, &str)], keep_alive: bool) -> Vec<u8> {
    let mut h = format!("HTTP/1.1 {status} {}\r\n", reason(status)).into_bytes();
    for (k, v) in headers {
        // Values come from parsed headers or from this crate; drop any line break anyway.
        let v: String = v.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        h.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if !keep_alive {
        h.extend_from_slice(b"Connection: close\r\n");
    }
    h
}

/// Writes a response with a `Content-Length` body.
pub fn write_response<W: Write>(
    w: &mut W,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    keep_alive: bool,
) -> io::Result<()> {
    let mut h = head(status, headers, keep_alive);
    h.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    if body.len() <= 16 * 1024 {
        h.extend_from_slice(body);
        w.write_all(&h)?;
    } else {
        w.write_all(&h)?;
        w.write_all(body)?;
    }
    w.flush()
}

/// Writes `100 Continue`.
pub fn write_continue<W: Write>(w: &mut W) -> io::Result<()> {
    w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    w.flush()
}

/// Writes the head of a response whose body follows in chunks (or, for an HTTP/1.0 peer,
/// unframed until the connection closes).
pub fn write_stream_head<W: Write>(
    w: &mut W,
    status: u16,
    headers: &[(&str, &str)],
    chunked: bool,
) -> io::Result<()> {
    let mut h = head(status, headers, chunked);
    if chunked {
        h.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    h.extend_from_slice(b"\r\n");
    w.write_all(&h)?;
    w.flush()
}

/// Writes one chunk (nothing for empty data: an empty chunk would end the body).
pub fn write_chunk<W: Write>(w: &mut W, data: &[u8], chunked: bool) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    if chunked {
        let mut c = format!("{:x}\r\n", data.len()).into_bytes();
        c.extend_from_slice(data);
        c.extend_from_slice(b"\r\n");
        w.write_all(&c)?;
    } else {
        w.write_all(data)?;
    }
    w.flush()
}

/// Ends a chunked body with the zero chunk and trailers.
pub fn write_last_chunk<W: Write>(w: &mut W, trailers: &[(&str, &str)]) -> io::Result<()> {
    let mut c = b"0\r\n".to_vec();
    for (k, v) in trailers {
        let v: String = v.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        c.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    c.extend_from_slice(b"\r\n");
    w.write_all(&c)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(raw: &[u8]) -> io::Result<Option<Request>> {
        read_request(&mut &raw[..])
    }

    #[test]
    fn parses_heads() {
        let r = req(b"\r\nPOST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nX-E:\r\n\r\nabc")
            .unwrap()
            .unwrap();
        assert_eq!((r.method.as_str(), r.target.as_str()), ("POST", "/a"));
        assert_eq!(r.body, BodyKind::Length(3));
        assert!(r.keep_alive);
        assert_eq!(r.header("host"), Some("x"));
        assert_eq!(r.header("x-e"), None);
        let r = req(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!r.keep_alive);
        let r = req(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!r.keep_alive);
        assert!(req(b"").unwrap().is_none());
    }

    #[test]
    fn refuses_bad_heads() {
        for raw in [
            &b"GET / HTTP/2\r\n\r\n"[..],
            b"GET /\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: b",
        ] {
            assert!(req(raw).is_err(), "{:?}", String::from_utf8_lossy(raw));
        }
        let mut big = b"GET / HTTP/1.1\r\nA: ".to_vec();
        big.resize(MAX_HEAD + 10, b'a');
        let e = req(&big).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn reads_chunked_bodies_with_trailers() {
        let raw = b"3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\nrest";
        let mut r = &raw[..];
        let mut b = BodyReader::new(BodyKind::Chunked);
        assert_eq!(b.piece(&mut r, 2).unwrap().unwrap(), b"ab");
        assert_eq!(b.piece(&mut r, 2).unwrap().unwrap(), b"c");
        assert_eq!(b.piece(&mut r, 9).unwrap().unwrap(), b"de");
        assert!(b.piece(&mut r, 9).unwrap().is_none());
        assert_eq!(b.trailers, vec![("t".to_owned(), "v".to_owned())]);
        assert_eq!(r, b"rest");
    }

    #[test]
    fn limits_bodies_without_allocating_them() {
        let mut r = &b""[..];
        let mut b = BodyReader::new(BodyKind::Length(u64::MAX / 2));
        assert!(matches!(
            b.read_all(&mut r, 10).unwrap(),
            Whole::TooLarge(_, false)
        ));
        let raw = b"5\r\nabcde\r\n5\r\nfghij\r\n0\r\n\r\n";
        let mut r = &raw[..];
        let mut b = BodyReader::new(BodyKind::Chunked);
        assert!(matches!(
            b.read_all(&mut r, 7).unwrap(),
            Whole::TooLarge(10, true)
        ));
        let mut r = &b"ab"[..];
        let mut b = BodyReader::new(BodyKind::Length(3));
        assert!(b.read_all(&mut r, 10).is_err());
        let mut r = &b"zz\r\n"[..];
        assert!(BodyReader::new(BodyKind::Chunked).piece(&mut r, 9).is_err());
    }
}
