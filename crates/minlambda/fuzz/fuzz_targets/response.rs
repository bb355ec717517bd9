//! Arbitrary bytes as a server's reply, through `http::read_response`, read twice: from one
//! buffer, and in pieces of sizes drawn from the input behind a `BufReader` of a drawn
//! capacity. Both reads must agree exactly (result, headers, body, bytes left unread), the
//! parse must stay within its documented memory bounds, and an accepted body must be
//! exactly what the head's framing says it is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minlambda_fuzz::{
    line, metered, read_response, reference_chunked, rest, split_reader, Response, MAX_BODY,
    MAX_HEAD, MAX_RESERVE,
};
use std::io::{self, BufReader};

fn parse(r: &mut impl io::BufRead) -> (Result<Response, (io::ErrorKind, String)>, Vec<u8>) {
    let resp = read_response(r).map_err(|e| (e.kind(), e.to_string()));
    (resp, rest(r))
}

fn same(a: &Response, b: &Response) -> bool {
    (a.status, &a.headers, &a.body, a.keep_alive) == (b.status, &b.headers, &b.body, b.keep_alive)
}

fuzz_target!(|data: &[u8]| {
    let ((whole, left), peak) = metered(|| parse(&mut BufReader::new(data)));
    // Claimed lengths reserve at most MAX_RESERVE; everything else grows with what arrived.
    let bound = MAX_RESERVE + 64 * 1024 + 8 * data.len();
    assert!(
        peak <= bound,
        "{peak} bytes allocated at once for {} bytes",
        data.len()
    );

    let ((split, split_left), peak) = metered(|| parse(&mut split_reader(data)));
    assert!(peak <= bound + 64 * 1024, "{peak} bytes allocated (split)");
    match (&whole, &split) {
        (Ok(a), Ok(b)) => assert!(same(a, b), "split read differs:\n{a:?}\n{b:?}"),
        (Err(a), Err(b)) => assert_eq!(a, b, "split read fails differently"),
        _ => panic!("split read disagrees: {whole:?} vs {split:?}"),
    }
    assert_eq!(
        left, split_left,
        "split read consumed a different number of bytes"
    );

    let Ok(resp) = whole else { return };
    check(data, &resp, &left);
});

/// An accepted response: checks it against the raw bytes.
fn check(data: &[u8], resp: &Response, left: &[u8]) {
    assert!((100..=599).contains(&resp.status));
    assert!(resp.body.len() <= MAX_BODY);
    let head: usize = resp.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(head <= MAX_HEAD);
    for (k, v) in &resp.headers {
        assert!(
            !k.is_empty() && !k.bytes().any(|b| b.is_ascii_uppercase()),
            "{k:?}"
        );
        assert!(!v.is_empty() && v.trim_matches([' ', '\t']) == v, "{v:?}");
        assert!(!v.contains(['\r', '\n', '\0']), "{v:?}");
    }

    // Where the head ends, found independently: the first empty line.
    let (_, mut pos) = line(data, 0).expect("an accepted response has a status line");
    loop {
        let (l, next) = line(data, pos).expect("an accepted response has an empty line");
        pos = next;
        if l.is_empty() {
            break;
        }
    }
    let body_data = &data[pos..];
    let consumed = data.len() - left.len();

    let te = resp.header("transfer-encoding").is_some();
    let cl = resp.header("content-length");
    if resp.status < 200 || resp.status == 204 || resp.status == 304 {
        assert!(resp.body.is_empty());
        assert_eq!(consumed, pos);
    } else if te {
        let (body, used) = reference_chunked(body_data).expect("the reference decoder agrees");
        assert_eq!(resp.body, body, "chunked body differs from the reference");
        assert_eq!(consumed, pos + used);
        if cl.is_some() {
            assert!(!resp.keep_alive, "chunked + Content-Length must close");
        }
    } else if let Some(cl) = cl {
        let n: usize = cl.parse().expect("an accepted Content-Length is a number");
        assert_eq!(resp.body, body_data[..n]);
        assert_eq!(consumed, pos + n);
    } else {
        assert_eq!(resp.body, body_data, "a body without framing runs to EOF");
        assert!(left.is_empty() && !resp.keep_alive);
    }
}
