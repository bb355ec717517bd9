//! `minlambda._native.Emulator`: the local emulator (crates/minlambda-emulator), behind
//! `python -m minlambda serve|invoke|emulate`. Blocking calls release the GIL and wake
//! every [`SIGNAL_TICK`] to run the program's signal handlers: a handler that raises
//! (Ctrl-C) shuts the emulator down, which kills the runtime, and the exception propagates.

use minlambda_emulator::{parse_listen, Config, Emulator as Core};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::collections::HashMap;
use std::ffi::OsString;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use crate::SIGNAL_TICK;

/// `(status, headers, body, report_line)`.
type Invoked<'py> = (u16, Vec<(String, String)>, Bound<'py, PyBytes>, String);

/// A local Lambda emulator running `command` as the runtime. Both ports are bound when it
/// is made; the runtime starts on the first invocation.
#[pyclass(module = "minlambda._native", name = "Emulator", frozen)]
pub struct Emulator {
    core: Arc<Core>,
}

#[pymethods]
impl Emulator {
    #[new]
    #[pyo3(signature = (command, *, listen = "127.0.0.1:8080", timeout = None, memory_mb = None,
        env = None, handler = None, runtime_stdout_to_stderr = false, log_reports = true))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        command: Vec<OsString>,
        listen: &str,
        timeout: Option<f64>,
        memory_mb: Option<u32>,
        env: Option<HashMap<String, String>>,
        handler: Option<String>,
        runtime_stdout_to_stderr: bool,
        log_reports: bool,
    ) -> PyResult<Self> {
        let mut config = Config::new(command);
        config.listen = parse_listen(listen).map_err(|e| PyValueError::new_err(e.to_string()))?;
        if let Some(t) = timeout {
            if !(t.is_finite() && t > 0.0 && t < 1e9) {
                return Err(PyValueError::new_err(format!(
                    "bad timeout {t}: expected seconds > 0"
                )));
            }
            config.timeout = Duration::from_secs_f64(t);
        }
        if let Some(m) = memory_mb {
            config.memory_mb = m;
        }
        config.env = env
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        config.handler = handler;
        config.runtime_stdout_to_stderr = runtime_stdout_to_stderr;
        config.log_reports = log_reports;
        let core = Core::bind(config).map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(Emulator {
            core: Arc::new(core),
        })
    }

    /// The Invoke API's address, `host:port`.
    #[getter]
    fn address(&self) -> String {
        self.core.local_addr().to_string()
    }

    /// The Invoke API's URL.
    #[getter]
    fn url(&self) -> String {
        self.core.url()
    }

    /// Serves the Invoke API until a signal handler raises (or `close()`).
    fn serve(&self, py: Python<'_>) -> PyResult<()> {
        let core = Arc::clone(&self.core);
        blocking(py, &self.core, move || core.serve())?
            .map_err(|e| PyOSError::new_err(e.to_string()))
    }

    /// Runs one invocation: `(status, headers, body, report_line)`.
    #[pyo3(signature = (payload, headers = None))]
    fn invoke<'py>(
        &self,
        py: Python<'py>,
        payload: Vec<u8>,
        headers: Option<Vec<(String, String)>>,
    ) -> PyResult<Invoked<'py>> {
        let core = Arc::clone(&self.core);
        let headers = headers.unwrap_or_default();
        let out = blocking(py, &self.core, move || {
            let h: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            core.invoke(&payload, &h)
        })?;
        Ok((
            out.status,
            out.headers,
            PyBytes::new(py, &out.body),
            out.report,
        ))
    }

    /// Stops serving and kills the runtime.
    fn close(&self) {
        self.core.shutdown_handle().shutdown();
    }
}

/// Runs `f` on a thread while this one waits with the GIL released, waking to run signal
/// handlers; if one raises, the emulator is shut down (ending `f`) and the error returned.
fn blocking<T: Send + 'static>(
    py: Python<'_>,
    core: &Core,
    f: impl FnOnce() -> T + Send + 'static,
) -> PyResult<T> {
    let done = Arc::new((Mutex::new(false), Condvar::new()));
    let flag = Arc::clone(&done);
    let handle = std::thread::spawn(move || {
        let out = f();
        *flag.0.lock().unwrap_or_else(PoisonError::into_inner) = true;
        flag.1.notify_all();
        out
    });
    loop {
        let finished = py.detach(|| {
            let guard = done.0.lock().unwrap_or_else(PoisonError::into_inner);
            let (guard, _) = done
                .1
                .wait_timeout_while(guard, SIGNAL_TICK, |d| !*d)
                .unwrap_or_else(PoisonError::into_inner);
            *guard
        });
        if finished {
            break;
        }
        if let Err(e) = py.check_signals() {
            core.shutdown_handle().shutdown();
            py.detach(|| drop(handle.join()));
            return Err(e);
        }
    }
    handle
        .join()
        .map_err(|_| PyOSError::new_err("the emulator's thread panicked"))
}
