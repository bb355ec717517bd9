//! `minlambda-emulator [--listen HOST:PORT] [--timeout S] -- COMMAND [ARGS...]`: runs any
//! Lambda runtime under the local emulator.
#![forbid(unsafe_code)]

use minlambda_emulator::{parse_listen, parse_seconds, Config, Emulator};
use std::ffi::OsString;
use std::process::ExitCode;

const USAGE: &str = "\
usage: minlambda-emulator [--listen HOST:PORT] [--timeout S] [--memory MB]
                          [--function-name NAME] -- COMMAND [ARGS...]

Runs COMMAND (any Lambda runtime: a Rust bootstrap, python -m awslambdaric ...) under a
local Lambda emulator. The runtime gets the Runtime API in $AWS_LAMBDA_RUNTIME_API; callers
invoke it with POST http://HOST:PORT/2015-03-31/functions/function/invocations.

options:
  --listen HOST:PORT     where the Invoke API listens (default 127.0.0.1:8080)
  --timeout S            the function timeout in seconds
                         (default $AWS_LAMBDA_FUNCTION_TIMEOUT, else 300)
  --memory MB            the memory size reported (default
                         $AWS_LAMBDA_FUNCTION_MEMORY_SIZE, else 3008)
  --function-name NAME   the function name (default $AWS_LAMBDA_FUNCTION_NAME, else function)
  -h, --help             show this help
";

fn fail(msg: &str) -> ExitCode {
    eprintln!("minlambda-emulator: {msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let mut config = Config::new(Vec::new());
    let mut command: Vec<OsString> = Vec::new();
    while let Some(arg) = args.next() {
        let Some(flag) = arg.to_str().map(str::to_owned) else {
            return fail(&format!("bad argument: {}", arg.to_string_lossy()));
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (flag.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, ExitCode> {
            inline
                .clone()
                .or_else(|| args.next().and_then(|v| v.into_string().ok()))
                .ok_or_else(|| fail(&format!("{name} needs {what}")))
        };
        match name.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--" => {
                command.extend(args.by_ref());
                break;
            }
            "--listen" => match value("HOST:PORT").map(|v| parse_listen(&v)) {
                Ok(Ok(a)) => config.listen = a,
                Ok(Err(e)) => return fail(&e.to_string()),
                Err(code) => return code,
            },
            "--timeout" => match value("seconds") {
                Ok(v) => match parse_seconds(&v) {
                    Some(t) => config.timeout = t,
                    None => return fail(&format!("bad timeout {v:?}: expected seconds > 0")),
                },
                Err(code) => return code,
            },
            "--memory" => match value("MB") {
                Ok(v) => match v.parse() {
                    Ok(m) if m > 0 => config.memory_mb = m,
                    _ => return fail(&format!("bad memory size {v:?}: expected MB")),
                },
                Err(code) => return code,
            },
            "--function-name" => match value("a name") {
                Ok(v) if !v.is_empty() && !v.contains('/') => config.function_name = v,
                Ok(v) => return fail(&format!("bad function name {v:?}")),
                Err(code) => return code,
            },
            _ if name.starts_with('-') => {
                return fail(&format!("unknown option {name} (see --help)"));
            }
            _ => {
                command.push(arg);
                command.extend(args.by_ref());
                break;
            }
        }
    }
    if command.is_empty() {
        return fail("no command given: minlambda-emulator [OPTIONS] -- COMMAND [ARGS...]");
    }
    config.command = command;
    let shown = config
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let emulator = match Emulator::bind(config) {
        Ok(e) => e,
        Err(e) => return fail(&e.to_string()),
    };
    eprintln!("minlambda-emulator: serving {shown} on {}", emulator.url());
    match emulator.serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}
