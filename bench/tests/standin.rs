//! The stand-in serves the bare client: every invocation answered once, the replies equal to
//! the event, and the measurements present.

use std::process::Command;

#[test]
fn standin_serves_the_bare_client() {
    let event = std::env::temp_dir().join(format!("minlambda-bench-{}.json", std::process::id()));
    std::fs::write(&event, br#"{"name":"minlambda"}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_standin"))
        .args([
            "--name", "bare", "-n", "200", "--runs", "2", "--verify", "bytes", "--event",
        ])
        .arg(&event)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_bare"))
        .output()
        .unwrap();
    std::fs::remove_file(&event).unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for m in lines {
        assert_eq!(m["all_answered"], true, "{m}");
        assert_eq!(m["answered"], 200, "{m}");
        assert_eq!(m["verified"], true, "{m}");
        assert_eq!(m["exit"], "exit status: 0", "{m}");
        assert!(m["first_next_ms"].as_f64().unwrap() <= m["cold_start_ms"].as_f64().unwrap());
        assert!(m["peak_rss_kb"].as_u64().unwrap() > 0, "{m}");
    }
}

#[test]
fn exec_only_times_a_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_standin"))
        .args(["--exec-only", "--name", "true", "--", "true"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["exit_ok"], true, "{m}");
}
