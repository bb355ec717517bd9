//! JSON between the wire and Python objects, in Rust, so that a function's start-up does not
//! pay for importing orjson (about 15-30 ms, longer than the interpreter's own start).
//!
//! Decoding builds Python objects straight from the payload bytes (no intermediate tree).
//! Encoding covers the JSON-shaped types exactly (`dict` with `str` keys, `list`, `tuple`,
//! `str`, `int`, `float`, `bool`, `None`); any other object (a dataclass, a datetime, a
//! subclass, a non-`str` key, an int beyond 64 bits, ...) returns [`Unsupported`] and the
//! caller hands the whole result to orjson instead, so such results keep orjson's semantics.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyModule, PyString, PyTuple};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

/// Deeper results than this go to orjson, which reports its own recursion limit, so a
/// self-referencing list cannot overflow the stack here.
const MAX_DEPTH: usize = 255;

/// Object keys kept across invocations: a function's events repeat their keys, and a cached
/// key is neither allocated again nor hashed again (a `str` keeps its hash). Bounded: short
/// keys only, and no new entries once full.
#[derive(Default)]
pub struct Keys(RefCell<HashMap<Box<str>, Py<PyString>>>);

const MAX_KEYS: usize = 4096;
const MAX_KEY_LEN: usize = 64;

impl Keys {
    fn get<'py>(&self, py: Python<'py>, key: &str) -> Bound<'py, PyString> {
        if key.len() > MAX_KEY_LEN {
            return PyString::new(py, key);
        }
        let mut keys = self.0.borrow_mut();
        if let Some(cached) = keys.get(key) {
            return cached.bind(py).clone();
        }
        let fresh = PyString::new(py, key);
        if keys.len() < MAX_KEYS {
            keys.insert(key.into(), fresh.clone().unbind());
        }
        fresh
    }
}

/// Decodes a JSON payload into Python objects; the message of the error says where it
/// failed, as `json.loads` does.
pub fn loads<'py>(
    py: Python<'py>,
    payload: &[u8],
    keys: &Keys,
) -> Result<Bound<'py, PyAny>, String> {
    let _paused = (payload.len() >= GC_PAUSE_MIN)
        .then(|| GcPause::new(py))
        .flatten();
    let mut de = serde_json::Deserializer::from_slice(payload);
    let value = Seed(py, keys)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    value.map_err(|e| e.to_string())
}

/// Payloads at least this large are decoded with the cyclic garbage collector paused: every
/// object being built is reachable, so the collections that their allocation would trigger
/// only cost time (about a tenth of decoding the 4 MB sample event).
const GC_PAUSE_MIN: usize = 64 * 1024;

/// `gc.disable()` until dropped, when the collector was enabled.
struct GcPause<'py>(Bound<'py, PyModule>);

impl<'py> GcPause<'py> {
    fn new(py: Python<'py>) -> Option<Self> {
        let gc = py.import("gc").ok()?;
        let enabled = gc.call_method0("isenabled").ok()?.is_truthy().ok()?;
        // Lazily: a GcPause made and dropped here would enable the collector.
        (enabled && gc.call_method0("disable").is_ok()).then(|| GcPause(gc))
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        // Enabling cannot fail short of a broken interpreter; nothing to report it to here.
        let _ = self.0.call_method0("enable");
    }
}

/// The object cannot be encoded here: let orjson encode it.
#[derive(Debug)]
pub struct Unsupported;

/// Encodes a JSON-shaped result into `out`.
pub fn dumps(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> Result<(), Unsupported> {
    write(obj, out, 0)
}

fn write(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> Result<(), Unsupported> {
    if depth > MAX_DEPTH {
        return Err(Unsupported);
    }
    if obj.is_none() {
        out.extend_from_slice(b"null");
    } else if let Ok(s) = obj.cast_exact::<PyString>() {
        write_str(s, out)?;
    } else if let Ok(d) = obj.cast_exact::<PyDict>() {
        out.push(b'{');
        for (i, (k, v)) in d.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(k.cast_exact::<PyString>().map_err(|_| Unsupported)?, out)?;
            out.push(b':');
            write(&v, out, depth + 1)?;
        }
        out.push(b'}');
    } else if let Ok(l) = obj.cast_exact::<PyList>() {
        write_seq(l.iter(), out, depth)?;
    } else if let Ok(t) = obj.cast_exact::<PyTuple>() {
        write_seq(t.iter(), out, depth)?;
    } else if let Ok(b) = obj.cast_exact::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if obj.is_exact_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            out.extend_from_slice(i.to_string().as_bytes());
        } else {
            let u = obj.extract::<u64>().map_err(|_| Unsupported)?;
            out.extend_from_slice(u.to_string().as_bytes());
        }
    } else if let Ok(f) = obj.cast_exact::<PyFloat>() {
        let f = f.value();
        if f.is_finite() {
            serde_json::to_writer(&mut *out, &f).map_err(|_| Unsupported)?;
        } else {
            out.extend_from_slice(b"null"); // as orjson and JavaScript do
        }
    } else {
        return Err(Unsupported);
    }
    Ok(())
}

fn write_seq<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), Unsupported> {
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(&item, out, depth + 1)?;
    }
    out.push(b']');
    Ok(())
}

/// A `str` with JSON escapes; one with lone surrogates is not UTF-8, and orjson rejects it.
fn write_str(s: &Bound<'_, PyString>, out: &mut Vec<u8>) -> Result<(), Unsupported> {
    let s = s.to_cow().map_err(|_| Unsupported)?;
    serde_json::to_writer(&mut *out, &*s).map_err(|_| Unsupported)
}

/// Deserialises one JSON value into a Python object.
#[derive(Clone, Copy)]
struct Seed<'py, 'k>(Python<'py>, &'k Keys);

/// Deserialises an object key, through the cache.
struct Key<'py, 'k>(Python<'py>, &'k Keys);

impl<'de, 'py> DeserializeSeed<'de> for Key<'py, '_> {
    type Value = Bound<'py, PyString>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 'py> Visitor<'de> for Key<'py, '_> {
    type Value = Bound<'py, PyString>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.1.get(self.0, v))
    }
}

impl<'de, 'py> DeserializeSeed<'de> for Seed<'py, '_> {
    type Value = Bound<'py, PyAny>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

fn py_err<E: de::Error>(e: &PyErr) -> E {
    E::custom(e)
}

impl<'de, 'py> Visitor<'de> for Seed<'py, '_> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(PyBool::new(self.0, v).to_owned().into_any())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        let Ok(i) = v.into_pyobject(self.0);
        Ok(i.into_any())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        let Ok(i) = v.into_pyobject(self.0);
        Ok(i.into_any())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(PyFloat::new(self.0, v).into_any())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PyString::new(self.0, v).into_any())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.0.None().into_bound(self.0))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let list = PyList::empty(self.0);
        while let Some(item) = seq.next_element_seed(self)? {
            list.append(item).map_err(|e| py_err(&e))?;
        }
        Ok(list.into_any())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let dict = PyDict::new(self.0);
        while let Some(key) = map.next_key_seed(Key(self.0, self.1))? {
            let value = map.next_value_seed(self)?;
            dict.set_item(key, value).map_err(|e| py_err(&e))?;
        }
        Ok(dict.into_any())
    }
}
