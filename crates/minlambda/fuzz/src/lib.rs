//! Helpers shared by the fuzz targets: a reader that hands out its bytes in pieces of
//! varying sizes (as a socket does), an allocation meter, and a reference chunked decoder
//! written independently of `minlambda::http` to check it against.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicUsize, Ordering};

pub use minlambda::http::{read_chunked, read_response, Response, MAX_BODY, MAX_HEAD};

/// `http::MAX_RESERVE` (private): the most reserved up front for a length the server claims.
pub const MAX_RESERVE: usize = 1024 * 1024;

/// The system allocator, counting live bytes and their peak.
pub struct Meter;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; only counters are added.
unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static METER: Meter = Meter;

/// Runs `f` and returns its result with the peak number of bytes it had allocated at once
/// (beyond what was live when it started).
pub fn metered<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

/// A small deterministic PRNG (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    /// A generator seeded from `data` (FNV-1a), so that each input has its own splits.
    pub fn from_bytes(data: &[u8]) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in data {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h | 1)
    }

    pub fn draw(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `1..=max`.
    pub fn upto(&mut self, max: usize) -> usize {
        1 + (self.draw() % max as u64) as usize
    }
}

/// A reader that returns at most one piece of a pre-drawn size per `read`, like a socket
/// that receives the bytes in several segments.
pub struct Pieces<'a> {
    data: &'a [u8],
    rng: Rng,
    max_piece: usize,
}

impl<'a> Pieces<'a> {
    pub fn new(data: &'a [u8], rng: Rng, max_piece: usize) -> Self {
        Pieces {
            data,
            rng,
            max_piece: max_piece.max(1),
        }
    }
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self
            .rng
            .upto(self.max_piece)
            .min(buf.len())
            .min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// `data` behind a `BufReader` whose capacity and read sizes are drawn from `data` itself.
pub fn split_reader(data: &[u8]) -> BufReader<Pieces<'_>> {
    let mut rng = Rng::from_bytes(data);
    let cap = [1, 2, 3, 5, 8, 16, 100, 64 * 1024][(rng.draw() % 8) as usize];
    let max_piece = [1, 2, 7, 64, 4096][(rng.draw() % 5) as usize];
    BufReader::with_capacity(cap, Pieces::new(data, rng, max_piece))
}

/// What is left in a reader: its buffer and everything not read yet.
pub fn rest<R: BufRead>(r: &mut R) -> Vec<u8> {
    let mut v = Vec::new();
    r.read_to_end(&mut v).expect("in-memory reads cannot fail");
    v
}

/// One line of `s` from `pos`: its text without the LF (and one CR before it), and the
/// position after it; `None` if there is no LF.
pub fn line(s: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let end = pos + s.get(pos..)?.iter().position(|&b| b == b'\n')?;
    let text = &s[pos..end];
    Some((text.strip_suffix(b"\r").unwrap_or(text), end + 1))
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `l` is a header (or trailer) line the parser accepts: UTF-8, `name:value`, the
/// name a non-empty token, no CR or NUL in the value.
pub fn is_header_line(l: &[u8]) -> bool {
    let Ok(l) = std::str::from_utf8(l) else {
        return false;
    };
    l.split_once(':').is_some_and(|(name, value)| {
        !name.is_empty() && name.bytes().all(is_token) && !value.contains(['\r', '\0'])
    })
}

/// The reference chunked decoder, over a whole slice, with no line-length budget: the
/// body and the number of bytes the encoding took, or `None` if it is malformed or
/// truncated. A chunk size is 1 to 8 hex digits with optional spaces and tabs around
/// them, then optional `;extensions`; each line ends in LF or CRLF.
pub fn reference_chunked(s: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let (l, next) = line(s, pos)?;
        let size = l.split(|&b| b == b';').next().unwrap_or(&[]);
        let ws = |b: &u8| *b == b' ' || *b == b'\t';
        let start = size.iter().position(|b| !ws(b)).unwrap_or(size.len());
        let end = size.iter().rposition(|b| !ws(b)).map_or(start, |i| i + 1);
        let digits = &size[start..end];
        if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let n = digits.iter().fold(0usize, |acc, &d| {
            acc * 16 + (d as char).to_digit(16).unwrap() as usize
        });
        pos = next;
        if n == 0 {
            break;
        }
        if body.len() + n > MAX_BODY || pos + n > s.len() {
            return None;
        }
        body.extend_from_slice(&s[pos..pos + n]);
        let (l, next) = line(s, pos + n)?;
        if !l.is_empty() {
            return None;
        }
        pos = next;
    }
    loop {
        let (l, next) = line(s, pos)?;
        pos = next;
        if l.is_empty() {
            return Some((body, pos));
        }
        if !is_header_line(l) {
            return None;
        }
    }
}
