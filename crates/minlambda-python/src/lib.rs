//! `minlambda._native`: the PyO3 layer between Python handlers and the Rust runtime core.
//!
//! It owns the GIL (released whenever the core waits on or writes to the socket), the
//! conversions (payload bytes in, response bytes out, with one copy into Python), and the
//! turning of exceptions into error reports. The wire belongs to the core; loading
//! handlers, JSON options, logging and the command line belong to the Python package.
#![forbid(unsafe_code)]

mod emulator;

use minlambda::{Context as CoreContext, Env, ErrorReport, Invocation, Reply, Runtime};
use pyo3::exceptions::{PyException, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::{PyByteArray, PyBytes, PyString};
use std::io;

mod json;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pyo3::create_exception!(
    _native,
    RuntimeApiError,
    PyRuntimeError,
    "The Runtime API cannot be used: the process should end."
);

/// How often a blocked wait wakes to run the program's signal handlers.
pub(crate) const SIGNAL_TICK: Duration = Duration::from_millis(50);

/// The request id of the invocation in progress, for log records.
static CURRENT: Mutex<String> = Mutex::new(String::new());

/// The invocation context handed to `handler(event, context)`, with the attributes and
/// method of the official client's `LambdaContext`.
#[pyclass(module = "minlambda._native", frozen)]
struct Context {
    #[pyo3(get)]
    aws_request_id: String,
    #[pyo3(get)]
    invoked_function_arn: String,
    #[pyo3(get)]
    deadline_ms: u64,
    #[pyo3(get)]
    tenant_id: Option<String>,
    #[pyo3(get)]
    xray_trace_id: Option<String>,
    #[pyo3(get)]
    identity: Option<Py<PyAny>>,
    #[pyo3(get)]
    client_context: Option<Py<PyAny>>,
}

#[pymethods]
impl Context {
    #[new]
    #[pyo3(signature = (aws_request_id = String::new(), invoked_function_arn = String::new(),
        deadline_ms = 0, tenant_id = None, xray_trace_id = None, identity = None,
        client_context = None))]
    fn new(
        aws_request_id: String,
        invoked_function_arn: String,
        deadline_ms: u64,
        tenant_id: Option<String>,
        xray_trace_id: Option<String>,
        identity: Option<Py<PyAny>>,
        client_context: Option<Py<PyAny>>,
    ) -> Self {
        Context {
            aws_request_id,
            invoked_function_arn,
            deadline_ms,
            tenant_id,
            xray_trace_id,
            identity,
            client_context,
        }
    }

    /// Milliseconds left before the deadline, never negative.
    fn get_remaining_time_in_millis(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.deadline_ms.saturating_sub(now)
    }

    #[getter]
    fn function_name(&self) -> &'static str {
        &Env::get().function_name
    }

    #[getter]
    fn function_version(&self) -> &'static str {
        &Env::get().function_version
    }

    /// A string, as in the official client (it is the environment variable's value).
    #[getter]
    fn memory_limit_in_mb(&self) -> String {
        Env::get().memory_size_mb.to_string()
    }

    #[getter]
    fn log_group_name(&self) -> &'static str {
        &Env::get().log_group_name
    }

    #[getter]
    fn log_stream_name(&self) -> &'static str {
        &Env::get().log_stream_name
    }

    fn __repr__(&self) -> String {
        format!(
            "Context(aws_request_id={:?}, invoked_function_arn={:?}, deadline_ms={})",
            self.aws_request_id, self.invoked_function_arn, self.deadline_ms
        )
    }
}

/// The Python callables the package hands over: JSON, error reports, context objects.
struct Hooks {
    handler: Py<PyAny>,
    raw: bool,
    with_context: bool,
    /// Encodes what the Rust encoder does not (see `json`): orjson, imported on first use.
    dumps: Py<PyAny>,
    on_error: Py<PyAny>,
    make_identity: Py<PyAny>,
    make_client_context: Py<PyAny>,
    environ: Py<PyAny>,
    keys: json::Keys,
}

/// A response body held without a copy where Python allows it.
enum Body {
    Bytes(PyBackedBytes),
    Str(PyBackedStr),
    Owned(Vec<u8>),
}

impl AsRef<[u8]> for Body {
    fn as_ref(&self) -> &[u8] {
        match self {
            Body::Bytes(b) => b,
            Body::Str(s) => s.as_bytes(),
            Body::Owned(v) => v,
        }
    }
}

fn api_error(e: &minlambda::Error) -> PyErr {
    RuntimeApiError::new_err(e.to_string())
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Serves `handler` until the Runtime API fails (raises `RuntimeApiError`), a signal
/// handler raises, or the handler raises a `BaseException` that is not an `Exception`
/// (`SystemExit`, `KeyboardInterrupt`): that one is reported as the invocation's error
/// first, then raised again.
#[pyfunction]
#[pyo3(signature = (handler, *, raw, with_context, dumps, on_error, make_identity,
    make_client_context))]
#[allow(clippy::too_many_arguments)]
fn serve(
    py: Python<'_>,
    handler: Py<PyAny>,
    raw: bool,
    with_context: bool,
    dumps: Py<PyAny>,
    on_error: Py<PyAny>,
    make_identity: Py<PyAny>,
    make_client_context: Py<PyAny>,
) -> PyResult<()> {
    let hooks = Hooks {
        handler,
        raw,
        with_context,
        dumps,
        on_error,
        make_identity,
        make_client_context,
        environ: py.import("os")?.getattr("environ")?.unbind(),
        keys: json::Keys::default(),
    };
    let mut rt = Runtime::from_env().map_err(|e| api_error(&e))?;
    let raised: Arc<Mutex<Option<PyErr>>> = Arc::default();
    let slot = Arc::clone(&raised);
    rt.set_interrupt_hook(
        SIGNAL_TICK,
        Box::new(move || {
            Python::attach(|py| py.check_signals()).map_err(|e| {
                *locked(&slot) = Some(e);
                io::Error::new(io::ErrorKind::Interrupted, "a signal handler raised")
            })
        }),
    );
    let mut traced = false;
    loop {
        let inv = match py.detach(|| rt.next_invocation()) {
            Ok(inv) => inv,
            Err(e) => return Err(locked(&raised).take().unwrap_or_else(|| api_error(&e))),
        };
        let (reply, fatal) = invoke(py, &hooks, &inv, &mut traced);
        drop(inv.body);
        let sent = py.detach(|| rt.reply(&inv.context, &reply));
        drop(reply);
        if let Some(e) = fatal {
            return Err(e);
        }
        if let Err(e) = sent {
            return Err(locked(&raised).take().unwrap_or_else(|| api_error(&e)));
        }
    }
}

/// Runs one invocation with the GIL held: returns the reply, and the exception to raise
/// after replying when the handler raised a `BaseException` that is not an `Exception`.
fn invoke(
    py: Python<'_>,
    h: &Hooks,
    inv: &Invocation,
    traced: &mut bool,
) -> (Reply<Body>, Option<PyErr>) {
    let ctx = &inv.context;
    locked(&CURRENT).clone_from(&ctx.request_id);
    if let Err(e) = set_trace_id(py, h, ctx, traced) {
        return (report(py, h, &e, None), None);
    }
    let event = if h.raw {
        PyBytes::new(py, &inv.body).into_any()
    } else {
        match json::loads(py, &inv.body, &h.keys) {
            Ok(ev) => ev,
            Err(msg) => {
                let e = PyValueError::new_err(msg);
                return (report(py, h, &e, Some("Runtime.UnmarshalError")), None);
            }
        }
    };
    let result = if h.with_context {
        match context(py, h, ctx) {
            Ok(c) => h.handler.bind(py).call1((event, c)),
            Err(e) => Err(e),
        }
    } else {
        h.handler.bind(py).call1((event,))
    };
    let out = match result {
        Ok(out) => out,
        Err(e) => {
            let fatal = !e.is_instance_of::<PyException>(py);
            let reply = report(py, h, &e, None);
            return (reply, fatal.then_some(e));
        }
    };
    let body = if h.raw {
        raw_body(&out)
    } else {
        let mut buf = Vec::with_capacity(256);
        match json::dumps(&out, &mut buf) {
            Ok(()) => Ok(Body::Owned(buf)),
            Err(json::Unsupported) => h
                .dumps
                .bind(py)
                .call1((out,))
                .and_then(|b| b.extract::<PyBackedBytes>().map_err(PyErr::from))
                .map(Body::Bytes),
        }
    };
    match body {
        Ok(b) => (Reply::Ok(b, content_type(h.raw)), None),
        Err(e) => (report(py, h, &e, Some("Runtime.MarshalError")), None),
    }
}

fn content_type(raw: bool) -> &'static str {
    if raw {
        "application/octet-stream"
    } else {
        "application/json"
    }
}

/// A raw handler's result: `bytes` and `str` without a copy, `bytearray` and `memoryview`
/// copied once, anything else a `TypeError`.
fn raw_body(out: &Bound<'_, PyAny>) -> PyResult<Body> {
    if let Ok(b) = out.cast::<PyBytes>() {
        return Ok(Body::Bytes(b.clone().into()));
    }
    if let Ok(s) = out.cast::<PyString>() {
        return Ok(Body::Str(s.clone().try_into()?));
    }
    if let Ok(b) = out.cast::<PyByteArray>() {
        return Ok(Body::Owned(b.to_vec()));
    }
    if let Ok(v) = out.call_method0("tobytes") {
        if let Ok(b) = v.extract::<PyBackedBytes>() {
            return Ok(Body::Bytes(b));
        }
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "a raw handler must return bytes, bytearray, memoryview or str, not {}",
        out.get_type().name()?
    )))
}

fn context<'py>(py: Python<'py>, h: &Hooks, ctx: &CoreContext) -> PyResult<Bound<'py, Context>> {
    let build = |hook: &Py<PyAny>, raw: &Option<String>| -> PyResult<Option<Py<PyAny>>> {
        raw.as_deref()
            .map(|s| hook.bind(py).call1((s,)).map(Bound::unbind))
            .transpose()
    };
    Bound::new(
        py,
        Context {
            aws_request_id: ctx.request_id.clone(),
            invoked_function_arn: ctx.invoked_function_arn.clone(),
            deadline_ms: ctx.deadline_ms,
            tenant_id: ctx.tenant_id.clone(),
            xray_trace_id: ctx.xray_trace_id.clone(),
            identity: build(&h.make_identity, &ctx.identity)?,
            client_context: build(&h.make_client_context, &ctx.client_context)?,
        },
    )
}

/// Sets `_X_AMZN_TRACE_ID` for this invocation, or removes it when the header is absent.
fn set_trace_id(py: Python<'_>, h: &Hooks, ctx: &CoreContext, traced: &mut bool) -> PyResult<()> {
    let environ = h.environ.bind(py);
    match &ctx.xray_trace_id {
        Some(id) => {
            environ.set_item("_X_AMZN_TRACE_ID", id)?;
            *traced = true;
        }
        None if *traced => {
            environ.del_item("_X_AMZN_TRACE_ID")?;
            *traced = false;
        }
        None => {}
    }
    Ok(())
}

/// The error report for an exception, from the package's `on_error(exc, error_type)`,
/// which returns `(errorType, errorMessage, stackTrace)` and logs the error.
fn report(py: Python<'_>, h: &Hooks, e: &PyErr, error_type: Option<&str>) -> Reply<Body> {
    let made = h
        .on_error
        .bind(py)
        .call1((e.clone_ref(py).into_value(py), error_type))
        .and_then(|r| r.extract::<(String, String, Vec<String>)>());
    Reply::Err(match made {
        Ok((error_type, message, stack_trace)) => ErrorReport {
            error_type,
            message,
            stack_trace,
        },
        Err(_) => ErrorReport::new(error_type.unwrap_or("Runtime.Unknown"), e.to_string()),
    })
}

/// Posts an initialisation error to `/runtime/init/error`.
#[pyfunction]
fn init_error(
    py: Python<'_>,
    error_type: String,
    message: String,
    stack_trace: Vec<String>,
) -> PyResult<()> {
    let report = ErrorReport {
        error_type,
        message,
        stack_trace,
    };
    py.detach(|| {
        let mut rt = Runtime::from_env()?;
        rt.init_error(&report).map(drop)
    })
    .map_err(|e| api_error(&e))
}

/// The request id of the invocation in progress ("" before the first).
#[pyfunction]
fn current_request_id() -> String {
    locked(&CURRENT).clone()
}

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Context>()?;
    m.add_class::<emulator::Emulator>()?;
    m.add_function(wrap_pyfunction!(serve, m)?)?;
    m.add_function(wrap_pyfunction!(init_error, m)?)?;
    m.add_function(wrap_pyfunction!(current_request_id, m)?)?;
    m.add("RuntimeApiError", m.py().get_type::<RuntimeApiError>())?;
    Ok(())
}
