//! The chunked body decoder, `http::read_chunked`, two ways per input:
//!
//! 1. the raw bytes as a chunked body, read in drawn pieces: the result must match a
//!    reference decoder written independently (same body, same bytes consumed; when the
//!    input is too short to hit the line budget, the same verdict too);
//! 2. the bytes as a script that builds a *valid* encoding (chunk sizes, size spellings,
//!    extensions, trailers, then the next response on the connection): it must decode to
//!    exactly the chunks' bytes and stop exactly where the encoding ends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minlambda_fuzz::{
    metered, read_chunked, reference_chunked, rest, split_reader, MAX_BODY, MAX_HEAD, MAX_RESERVE,
};
use std::io::BufRead;

fn decode(r: &mut impl BufRead) -> (Option<Vec<u8>>, Vec<u8>) {
    let mut body = Vec::new();
    let ok = read_chunked(r, &mut body).is_ok();
    (ok.then_some(body), rest(r))
}

fuzz_target!(|data: &[u8]| {
    raw(data);
    built(data);
});

fn raw(data: &[u8]) {
    let ((got, left), peak) = metered(|| decode(&mut split_reader(data)));
    let bound = MAX_RESERVE + 128 * 1024 + 8 * data.len();
    assert!(
        peak <= bound,
        "{peak} bytes allocated at once for {} bytes",
        data.len()
    );
    let want = reference_chunked(data);
    match (&got, &want) {
        (Some(body), Some((ref_body, used))) => {
            assert!(body.len() <= MAX_BODY);
            assert_eq!(body, ref_body, "body differs from the reference decoder");
            assert_eq!(
                data.len() - left.len(),
                *used,
                "consumed a different length"
            );
        }
        (Some(body), None) => panic!("accepted what the reference rejects: {body:?}"),
        // Only the line budget (MAX_HEAD per chunk line and for all trailers) can make the
        // decoder refuse what the reference accepts.
        (None, Some(_)) => assert!(data.len() > MAX_HEAD, "rejected a valid encoding"),
        (None, None) => {}
    }
}

const EXTENSIONS: &[&str] = &[
    "",
    ";a",
    ";a=b",
    "; name=\"quoted; value\"",
    ";x=1;y=2",
    " ;bws=1",
    ";\t",
];
const TRAILERS: &[&str] = &[
    "Lambda-Runtime-Function-Error-Type: Function.X",
    "X-Empty:",
    "x-long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "T:v",
    "Server-Timing: total;dur=12.5",
];

/// Builds a valid chunked encoding from `data` and checks that it decodes to the chunks.
fn built(data: &[u8]) {
    let mut script = data.iter().copied();
    let mut next = || script.next().unwrap_or(0);
    let mut wire = Vec::new();
    let mut want = Vec::new();
    let eol =
        |w: &mut Vec<u8>, lf_only: bool| w.extend_from_slice(if lf_only { b"\n" } else { b"\r\n" });
    loop {
        let op = next();
        if op == 0 || want.len() > 1 << 14 {
            break;
        }
        let len = (usize::from(op & 0x3f) + 1) * [1, 1, 3, 16][usize::from(next() >> 6)];
        let fill = next();
        let chunk: Vec<u8> = (0..len).map(|i| fill.wrapping_add(i as u8)).collect();
        let style = next();
        let size = match style & 3 {
            0 => format!("{len:x}"),
            1 => format!("{len:X}"),
            2 => format!("{len:08x}"),
            _ => format!("\t{len:x} "),
        };
        wire.extend_from_slice(size.as_bytes());
        wire.extend_from_slice(EXTENSIONS[usize::from(style >> 2) % EXTENSIONS.len()].as_bytes());
        eol(&mut wire, op & 0x40 != 0);
        wire.extend_from_slice(&chunk);
        eol(&mut wire, op & 0x80 != 0);
        want.extend_from_slice(&chunk);
    }
    let last = next();
    wire.extend_from_slice(["0", "000", "0;end=1"][usize::from(last % 3)].as_bytes());
    eol(&mut wire, last & 0x10 != 0);
    for i in 0..usize::from(last >> 6) {
        wire.extend_from_slice(TRAILERS[(usize::from(next()) + i) % TRAILERS.len()].as_bytes());
        eol(&mut wire, next() & 1 != 0);
    }
    eol(&mut wire, last & 0x20 != 0);
    let end = wire.len();
    // The next response on the same connection must be left alone.
    wire.extend_from_slice(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");

    let ((got, left), peak) = metered(|| decode(&mut split_reader(&wire)));
    assert!(
        peak <= MAX_RESERVE + 128 * 1024 + 8 * wire.len(),
        "{peak} bytes allocated at once"
    );
    let body = got.unwrap_or_else(|| {
        panic!(
            "a valid encoding was refused: {:?}",
            String::from_utf8_lossy(&wire)
        )
    });
    assert_eq!(body, want, "decoded body differs from the chunks");
    assert_eq!(left, &wire[end..], "read past the end of the encoding");
    assert_eq!(reference_chunked(&wire), Some((want, end)));
}
