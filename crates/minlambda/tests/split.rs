//! However a valid response is split into reads, it decodes identically: every split into
//! two and three reads, 1-byte reads, and random splits over several `BufReader` capacities
//! in memory; then the same responses over a real loopback socket, written in pieces with
//! a flush each, read by the real `http::Client`. Also the regression tests for what the
//! fuzz targets (crates/minlambda/fuzz) found.

use minlambda::http::{read_response, Client, Response};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A valid response and what it must decode to.
struct Case {
    name: &'static str,
    wire: Vec<u8>,
    status: u16,
    body: Vec<u8>,
    keep_alive: bool,
    headers: &'static [(&'static str, &'static str)],
}

/// What follows a keep-alive response on the connection; it must be left intact.
const NEXT: &[u8] = b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok";

fn cases() -> Vec<Case> {
    let big: Vec<u8> = (0..3000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut big_chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for part in [&big[..1], &big[1..1000], &big[1000..1001], &big[1001..]] {
        big_chunked.extend_from_slice(format!("{:X};n={}\r\n", part.len(), part.len()).as_bytes());
        big_chunked.extend_from_slice(part);
        big_chunked.extend_from_slice(b"\r\n");
    }
    big_chunked.extend_from_slice(b"0\r\nX-Trailer: t\r\n\r\n");
    let mut big_length =
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", big.len()).into_bytes();
    big_length.extend_from_slice(&big);

    vec![
        Case {
            name: "content-length",
            wire: b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                    Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n\
                    Lambda-Runtime-Deadline-Ms: 1542409706888\r\n\
                    Content-Length: 12\r\n\r\n{\"name\":\"x\"}"
                .to_vec(),
            status: 200,
            body: b"{\"name\":\"x\"}".to_vec(),
            keep_alive: true,
            headers: &[
                ("content-type", "application/json"),
                (
                    "lambda-runtime-aws-request-id",
                    "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
                ),
                ("lambda-runtime-deadline-ms", "1542409706888"),
                ("content-length", "12"),
            ],
        },
        Case {
            name: "chunked with extensions and trailers",
            wire: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n\
                    5;ext=1\r\nhello\r\n1; q=\"a;b\"\r\n \r\n00000005\r\nworld\r\n\
                    a\nlf-only..!\n0;last\r\nT: v\r\nX-Empty:\r\n\r\n"
                .to_vec(),
            status: 200,
            body: b"hello worldlf-only..!".to_vec(),
            keep_alive: true,
            headers: &[("transfer-encoding", "chunked"), ("x-a", "b")],
        },
        Case {
            name: "chunked and content-length: chunked wins, then close",
            wire: b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n\
                    3\r\nabc\r\n0\r\n\r\n"
                .to_vec(),
            status: 200,
            body: b"abc".to_vec(),
            keep_alive: false,
            headers: &[("content-length", "99"), ("transfer-encoding", "chunked")],
        },
        Case {
            name: "HTTP/1.0 read to EOF",
            wire: b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nbody until the connection closes"
                .to_vec(),
            status: 200,
            body: b"body until the connection closes".to_vec(),
            keep_alive: false,
            headers: &[("server", "old")],
        },
        Case {
            name: "HTTP/1.1 without framing reads to EOF",
            wire: b"HTTP/1.1 500 Oops\nConnection: close\n\n{\"errorMessage\":\"x\"}".to_vec(),
            status: 500,
            body: b"{\"errorMessage\":\"x\"}".to_vec(),
            keep_alive: false,
            headers: &[("connection", "close")],
        },
        Case {
            name: "204 has no body",
            wire: b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
            status: 204,
            body: Vec::new(),
            keep_alive: true,
            headers: &[],
        },
        Case {
            name: "empty content-length body",
            wire: b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n".to_vec(),
            status: 202,
            body: Vec::new(),
            keep_alive: true,
            headers: &[("content-length", "0")],
        },
        Case {
            name: "3000-byte content-length body",
            wire: big_length,
            status: 200,
            body: big.clone(),
            keep_alive: true,
            headers: &[("content-length", "3000")],
        },
        Case {
            name: "3000-byte chunked body",
            wire: big_chunked,
            status: 200,
            body: big,
            keep_alive: true,
            headers: &[("transfer-encoding", "chunked")],
        },
    ]
}

impl Case {
    /// The bytes on the connection: the response, then `NEXT` if the connection stays open.
    fn stream(&self) -> Vec<u8> {
        let mut s = self.wire.clone();
        if self.keep_alive {
            s.extend_from_slice(NEXT);
        }
        s
    }

    fn check(&self, r: &Response, how: &dyn Fn() -> String) {
        assert_eq!(r.status, self.status, "{}: status, {}", self.name, how());
        assert!(r.body == self.body, "{}: body, {}", self.name, how());
        assert_eq!(
            r.keep_alive,
            self.keep_alive,
            "{}: keep-alive, {}",
            self.name,
            how()
        );
        let want: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(r.headers, want, "{}: headers, {}", self.name, how());
    }
}

/// Hands out its bytes in reads that end at the given cut points (and never cross one).
struct Cuts<'a> {
    data: &'a [u8],
    pos: usize,
    cuts: &'a [usize],
}

impl Read for Cuts<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cuts.first().is_some_and(|&c| c <= self.pos) {
            self.cuts = &self.cuts[1..];
        }
        let end = self
            .cuts
            .first()
            .map_or(self.data.len(), |&c| c.min(self.data.len()));
        let n = (end - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Parses `case` from its stream read at `cuts` through a `BufReader` of `cap` bytes, then
/// checks that exactly the response was consumed.
fn parse_split(case: &Case, cuts: &[usize], cap: usize) {
    let data = case.stream();
    let how = || format!("read at {cuts:?} through a {cap}-byte buffer");
    let mut r = BufReader::with_capacity(
        cap,
        Cuts {
            data: &data,
            pos: 0,
            cuts,
        },
    );
    let resp = read_response(&mut r).unwrap_or_else(|e| panic!("{}: {e}, {}", case.name, how()));
    case.check(&resp, &how);
    if case.keep_alive {
        let next =
            read_response(&mut r).unwrap_or_else(|e| panic!("{}: next: {e}, {}", case.name, how()));
        assert_eq!(
            (next.status, next.body.as_slice()),
            (202, &b"ok"[..]),
            "{}: {}",
            case.name,
            how()
        );
    }
    assert!(
        r.fill_buf().unwrap().is_empty(),
        "{}: bytes left, {}",
        case.name,
        how()
    );
}

/// xorshift64*: deterministic, so a failure names a split that can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }

    /// Sorted cut points in `1..len`, pieces of at most `max` bytes.
    fn cuts(&mut self, len: usize, max: usize) -> Vec<usize> {
        let mut cuts = Vec::new();
        let mut at = 0;
        loop {
            at += 1 + self.below(max);
            if at >= len {
                return cuts;
            }
            cuts.push(at);
        }
    }
}

#[test]
fn every_split_in_two_or_three_reads_decodes_identically() {
    for case in cases() {
        let len = case.stream().len();
        for i in 0..=len {
            parse_split(&case, &[i], 64 * 1024);
            parse_split(&case, &[i], 3);
        }
        if len <= 300 {
            for i in 1..len {
                for j in i + 1..len {
                    parse_split(&case, &[i, j], 64 * 1024);
                }
            }
        }
    }
}

#[test]
fn one_byte_reads_and_random_splits_decode_identically() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in cases() {
        let len = case.stream().len();
        let ones: Vec<usize> = (1..len).collect();
        for cap in [1, 2, 64 * 1024] {
            parse_split(&case, &ones, cap);
        }
        for round in 0..200 {
            let cuts = rng.cuts(len, [1, 3, 16, 200, len][round % 5]);
            let cap = [1, 2, 5, 16, 64, 64 * 1024][rng.below(6)];
            parse_split(&case, &cuts, cap);
        }
    }
}

/// A loopback server that answers each request with the next scripted response, written
/// in the given pieces with a flush (and, if `pause`, a short sleep) after each; it closes
/// the connection after a response that does not keep it alive. Returns, per response,
/// which accepted connection carried it.
fn serve(
    script: Vec<(Vec<u8>, Vec<usize>, bool)>,
    pause: bool,
) -> (String, JoinHandle<Vec<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = thread::spawn(move || {
        let mut conns = Vec::new();
        let mut script = script.into_iter().peekable();
        let mut conn_no = 0;
        while script.peek().is_some() {
            let (stream, _) = listener.accept().unwrap();
            stream.set_nodelay(true).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut w = stream;
            for (wire, cuts, keep_alive) in script.by_ref() {
                read_request_head(&mut r);
                conns.push(conn_no);
                let mut at = 0;
                for end in cuts.iter().copied().chain([wire.len()]) {
                    w.write_all(&wire[at..end]).unwrap();
                    w.flush().unwrap();
                    if pause {
                        thread::sleep(Duration::from_micros(50));
                    }
                    at = end;
                }
                if !keep_alive {
                    w.shutdown(Shutdown::Both).unwrap();
                    break;
                }
            }
            conn_no += 1;
        }
        conns
    });
    (addr, handle)
}

fn read_request_head(r: &mut BufReader<TcpStream>) {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "the client closed the connection"
        );
        if line == "\r\n" {
            return;
        }
    }
}

#[test]
fn split_responses_decode_identically_over_a_real_socket() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for (pause, one_byte) in [(true, true), (false, false), (true, false)] {
        let cases = cases();
        let script: Vec<(Vec<u8>, Vec<usize>, bool)> = cases
            .iter()
            .map(|c| {
                let len = c.wire.len();
                let cuts = if one_byte && len < 1000 {
                    (1..len).collect()
                } else {
                    let max = [1, 7, 100][rng.below(3)];
                    rng.cuts(len, max)
                };
                (c.wire.clone(), cuts, c.keep_alive)
            })
            .collect();
        let (addr, server) = serve(script, pause);
        let mut client = Client::new(&addr);
        let mut want_conns = Vec::new();
        let mut conn = 0;
        for case in &cases {
            let resp = client
                .request("GET", "/split", &[], None)
                .unwrap_or_else(|e| panic!("{}: {e}", case.name));
            case.check(&resp, &|| {
                format!("over a socket, pause={pause}, one_byte={one_byte}")
            });
            want_conns.push(conn);
            if !case.keep_alive {
                conn += 1;
            }
        }
        let conns = server.join().unwrap();
        assert_eq!(
            conns, want_conns,
            "keep-alive responses reuse the connection"
        );
    }
}

/// Found by the `response` fuzz target: a bare CR inside a header value (here in
/// `Connection`) was kept in the value; RFC 9110 5.5 says to reject it, as a NUL.
#[test]
fn bare_cr_or_nul_in_a_header_value_is_rejected() {
    for raw in [
        &b"HTTP/1.1 413 Payload Too Large\r\nConnection: ,lose\re\nContent-Length: 0\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-A: a\r\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: id\0x\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: v\rw\r\n\r\n",
    ] {
        let err = read_response(&mut &raw[..]).unwrap_err();
        assert_eq!(
            err.kind(),
            io::ErrorKind::InvalidData,
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
    // A CR that ends the line is still the line's ending.
    let ok = read_response(&mut &b"HTTP/1.1 200 OK\r\nX-A: a \r\nContent-Length: 0\r\n\r\n"[..])
        .unwrap();
    assert_eq!(ok.header("x-a"), Some("a"));
}
