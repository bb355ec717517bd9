//! The runtime against a real Runtime API stand-in on loopback.

mod server;

use minlambda::{Context, ErrorReport, Outcome, Reply, Runtime};
use server::{accepted, next, serve_events, status, Server, Step};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::Command;

fn echo_bytes(body: &[u8], _: &Context) -> Reply<Vec<u8>> {
    Reply::Ok(body.to_vec(), "application/json")
}

#[test]
fn echoes_over_one_keep_alive_connection() {
    let events: Vec<Vec<u8>> = (0..50)
        .map(|i| format!("{{\"n\":{i}}}").into_bytes())
        .collect();
    let srv = serve_events(events.clone());
    let err = Runtime::new(&srv.addr).serve(echo_bytes);
    assert!(err.to_string().contains("GET /next"), "{err}");
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 101, "50 pairs, then a /next that got no answer");
    assert_eq!(reqs[100].path, "/2018-06-01/runtime/invocation/next");
    for (i, pair) in reqs[..100].chunks(2).enumerate() {
        assert_eq!(
            (pair[0].method.as_str(), pair[0].path.as_str()),
            ("GET", "/2018-06-01/runtime/invocation/next")
        );
        assert_eq!(pair[1].method, "POST");
        assert_eq!(
            pair[1].path,
            format!("/2018-06-01/runtime/invocation/id-{i}/response")
        );
        assert_eq!(pair[1].body, events[i]);
        assert_eq!(pair[1].header("content-type"), Some("application/json"));
        assert_eq!(
            pair[1].header("content-length"),
            Some(&*events[i].len().to_string())
        );
        assert_eq!(pair[1].header("transfer-encoding"), None);
        assert_eq!(pair[1].header("lambda-runtime-invocation-id"), None);
        assert_eq!(pair[1].conn, 0, "every request on the first connection");
    }
}

#[test]
fn context_comes_from_headers_case_insensitively() {
    let extra = "lambda-runtime-trace-id: Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1\r\n\
                 LAMBDA-RUNTIME-CLIENT-CONTEXT: {\"custom\":{\"k\":\"v\"}}\r\n\
                 Lambda-Runtime-Cognito-Identity: {\"cognitoIdentityId\":\"i\",\"cognitoIdentityPoolId\":\"p\"}\r\n\
                 Lambda-Runtime-Aws-Tenant-Id: tenant-7\r\n\
                 Lambda-Runtime-Invocation-Id: inv-1\r\n";
    let srv = Server::start(move |i, _| match i {
        0 => Some(Step::Reply(next("abc", b"{}", extra))),
        1 => Some(Step::Reply(accepted())),
        2 => Some(Step::Reply(next(
            "def",
            b"{}",
            "Lambda-Runtime-Trace-Id:\r\nLambda-Runtime-Aws-Tenant-Id: \r\n",
        ))),
        3 => Some(Step::Reply(accepted())),
        _ => None,
    });
    let mut seen = Vec::new();
    Runtime::new(&srv.addr).serve(|_, ctx| {
        seen.push(ctx.clone());
        Reply::Ok(b"null".to_vec(), "application/json")
    });
    let reqs = srv.requests();
    let c = &seen[0];
    assert_eq!(c.request_id, "abc");
    assert_eq!(c.deadline_ms, 4_102_444_800_000);
    assert_eq!(
        c.invoked_function_arn,
        "arn:aws:lambda:us-east-1:123456789012:function:f"
    );
    assert_eq!(
        c.xray_trace_id.as_deref(),
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
    );
    assert_eq!(
        c.client_context.as_deref(),
        Some("{\"custom\":{\"k\":\"v\"}}")
    );
    assert_eq!(
        c.identity.as_deref(),
        Some("{\"cognitoIdentityId\":\"i\",\"cognitoIdentityPoolId\":\"p\"}")
    );
    assert_eq!(c.tenant_id.as_deref(), Some("tenant-7"));
    assert_eq!(c.invocation_id.as_deref(), Some("inv-1"));
    assert_eq!(c.content_type.as_deref(), Some("application/json"));
    assert!(c.remaining_time().as_secs() > 1_000_000);
    assert_eq!(
        reqs[1].header("Lambda-Runtime-Invocation-Id"),
        Some("inv-1")
    );
    // Empty headers are absent, and nothing leaks from one invocation to the next.
    assert_eq!(
        (
            seen[1].xray_trace_id.as_deref(),
            seen[1].tenant_id.as_deref()
        ),
        (None, None)
    );
    assert_eq!(seen[1].invocation_id, None);
    assert_eq!(reqs[3].header("Lambda-Runtime-Invocation-Id"), None);
}

#[test]
fn handler_errors_panics_and_bad_json_are_invocation_errors() {
    let events = [
        &b"{\"n\":1}"[..],
        b"{\"n\":-1}",
        b"{\"n\":0}",
        b"not json",
        b"{\"n\":2}",
        b"{\"n\":3}",
    ];
    let srv = serve_events(events.iter().map(|e| e.to_vec()).collect());
    #[derive(serde::Deserialize)]
    struct Ev {
        n: i64,
    }
    // A map with non-string keys cannot be JSON: empty it is `{}`, with an entry it fails.
    Runtime::new(&srv.addr).serve_json(|ev: Ev, _| match ev.n {
        -1 => Err(String::from("negative")),
        0 => panic!("zero!"),
        n => Ok(BTreeMap::from_iter((n == 3).then_some((vec![1u8], 1)))),
    });
    let reqs = srv.requests();
    let replies: Vec<_> = reqs.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(replies.len(), 6);
    assert!(replies[0].path.ends_with("/id-0/response"));
    assert_eq!(replies[0].body, b"{}");
    let check = |r: &server::Req, id: &str, ty: &str, header: &str, msg: &str| {
        assert!(r.path.ends_with(&format!("/{id}/error")), "{}", r.path);
        assert_eq!(r.header("Lambda-Runtime-Function-Error-Type"), Some(header));
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v = r.json();
        assert_eq!(v["errorType"], ty);
        assert!(v["errorMessage"].as_str().unwrap().contains(msg), "{v}");
        assert!(v["stackTrace"].is_array());
    };
    check(replies[1], "id-1", "String", "Function.String", "negative");
    check(replies[2], "id-2", "Panic", "Function.Panic", "zero!");
    check(
        replies[3],
        "id-3",
        "Runtime.UnmarshalError",
        "Runtime.UnmarshalError",
        "Unable to unmarshal",
    );
    assert!(replies[4].path.ends_with("/id-4/response"));
    check(
        replies[5],
        "id-5",
        "Runtime.MarshalError",
        "Runtime.MarshalError",
        "Unable to marshal",
    );
}

#[test]
fn refused_replies_end_only_that_invocation() {
    let srv = Server::start(|i, _| {
        Some(Step::Reply(match i {
            0 => next("big", b"{}", ""),
            1 => status(413, "RequestEntityTooLarge"),
            2 => next("gone", b"{}", ""),
            3 => status(400, "InvalidRequestID"),
            4 => next("ok", b"{}", ""),
            5 => accepted(),
            6 => next("fatal", b"{}", ""),
            7 => status(500, "ServiceException"),
            _ => return None,
        }))
    });
    let err = Runtime::new(&srv.addr).serve(echo_bytes);
    let reqs = srv.requests();
    assert_eq!(
        reqs.len(),
        8,
        "the loop went on after 413 and 400, and stopped at 500"
    );
    assert!(reqs[5].path.ends_with("/ok/response"));
    assert!(err.to_string().contains("500"), "{err}");
}

#[test]
fn next_failures_are_protocol_errors() {
    for (reply, want) in [
        (status(500, "ServiceException"), "500"),
        (status(403, "InvalidStateTransition"), "403"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".to_vec(),
            "Request-Id",
        ),
    ] {
        let srv = Server::start(move |i, _| (i == 0).then(|| Step::Reply(reply.clone())));
        let err = Runtime::new(&srv.addr).next_invocation().unwrap_err();
        assert!(err.to_string().contains(want), "{err}");
        srv.requests();
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let err = Runtime::new(&addr).next_invocation().unwrap_err();
    assert!(err.to_string().contains("cannot connect"), "{err}");
}

/// One `/next` reply in many shapes: each must decode to the same event, or fail cleanly.
#[test]
fn hostile_and_unusual_next_replies() {
    let head = "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r\r\n";
    let good: Vec<Vec<u8>> = vec![
        format!("{head}Transfer-Encoding: chunked\r\n\r\n3;ext=1;q=\"x\"\r\n{{\"a\r\n4\r\n\":1}}\r\n0\r\nX-Trailer: t\r\n\r\n").into_bytes(),
        format!("{head}Content-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{{\"a\":1}}\r\n0\r\n\r\n").into_bytes(),
        b"HTTP/1.0 200 OK\r\nLambda-Runtime-Aws-Request-Id: r\r\n\r\n{\"a\":1}".to_vec(),
        format!("{head}content-length:7\r\n\r\n{{\"a\":1}}").into_bytes(),
        b"HTTP/1.1 200 OK\nLambda-Runtime-Aws-Request-Id: r\nContent-Length: 7\n\n{\"a\":1}".to_vec(),
    ];
    for reply in good {
        let text = String::from_utf8_lossy(&reply).into_owned();
        let close = reply.starts_with(b"HTTP/1.0");
        let srv = Server::start(move |i, _| {
            (i == 0).then(|| {
                if close {
                    Step::ReplyClose(reply.clone())
                } else {
                    Step::Trickle(reply.clone())
                }
            })
        });
        let inv = Runtime::new(&srv.addr)
            .next_invocation()
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(
            (inv.body.as_slice(), inv.context.request_id.as_str()),
            (&b"{\"a\":1}"[..], "r"),
            "{text:?}"
        );
        srv.requests();
    }
    let bad: Vec<(Vec<u8>, &str)> = vec![
        (b"SSH-2.0-OpenSSH\r\n\r\n".to_vec(), "bad status line"),
        (
            b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r\r\nContent-Len".to_vec(),
            "closed inside the response head",
        ),
        (
            format!("{head}Content-Length: 100\r\n\r\n{{\"a\"").into_bytes(),
            "closed inside the response body",
        ),
        (
            format!("{head}Content-Length: 1000000000000000\r\n\r\n").into_bytes(),
            "Content-Length",
        ),
        (
            format!("{head}Transfer-Encoding: chunked\r\n\r\nffffffff\r\nab").into_bytes(),
            "too large",
        ),
        (
            format!("{head}Transfer-Encoding: chunked\r\n\r\n3\r\nabc").into_bytes(),
            "closed",
        ),
        (
            [format!("{head}X-Big: ").into_bytes(), vec![b'a'; 1 << 20]].concat(),
            "head too large",
        ),
    ];
    for (reply, want) in bad {
        let text = String::from_utf8_lossy(&reply[..reply.len().min(80)]).into_owned();
        let srv = Server::start(move |i, _| (i == 0).then(|| Step::ReplyClose(reply.clone())));
        let err = Runtime::new(&srv.addr).next_invocation().unwrap_err();
        assert!(err.to_string().contains(want), "{text:?}: {err}");
        srv.requests();
    }
}

#[test]
fn request_ids_never_leave_their_segment() {
    let ids = [
        "../../init/error",
        "a/b",
        "a?b=c",
        "a#b",
        "%2e%2e",
        "..",
        "é-ü",
    ];
    let srv = Server::start(move |i, _| {
        let id = ids.get(i / 2)?;
        Some(Step::Reply(if i % 2 == 0 {
            next(id, b"1", "")
        } else {
            accepted()
        }))
    });
    Runtime::new(&srv.addr).serve(echo_bytes);
    let posts: Vec<_> = srv
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), ids.len());
    for (r, id) in posts.iter().zip(ids) {
        let seg = r
            .path
            .strip_prefix("/2018-06-01/runtime/invocation/")
            .and_then(|p| p.strip_suffix("/response"))
            .unwrap_or_else(|| panic!("{}", r.path));
        assert!(
            seg.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_%".contains(&b)),
            "{seg}"
        );
        let decoded: Vec<u8> = {
            let mut out = Vec::new();
            let b = seg.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    out.push(u8::from_str_radix(&seg[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            out
        };
        assert_eq!(decoded, id.as_bytes());
    }
}

#[test]
fn reconnects_once_after_an_idle_close() {
    let srv = Server::start(|i, _| {
        Some(match i {
            0 => Step::Reply(next("a", b"1", "")),
            // Accept, then drop the connection: the next /next must come on a new one.
            1 => Step::ReplyClose(accepted()),
            2 => Step::Reply(next("b", b"2", "")),
            3 => Step::Reply(accepted()),
            _ => return None,
        })
    });
    Runtime::new(&srv.addr).serve(echo_bytes);
    let reqs = srv.requests();
    assert_eq!(
        reqs.iter().map(|r| r.conn).collect::<Vec<_>>(),
        [0, 0, 1, 1, 1]
    );
    assert!(reqs[3].path.ends_with("/b/response"));
}

#[test]
fn init_error_and_streaming_wire_format() {
    let srv = Server::start(|i, _| {
        (i < 3).then(|| {
            Step::Reply(if i == 1 {
                next("s", b"{}", "Lambda-Runtime-Invocation-Id: v\r\n")
            } else {
                accepted()
            })
        })
    });
    let mut rt = Runtime::new(&srv.addr);
    let report = ErrorReport {
        error_type: "Runtime.ImportModuleError".into(),
        message: "Unable to import module 'app'".into(),
        stack_trace: vec!["line 1".into()],
    };
    assert_eq!(rt.init_error(&report).unwrap(), Outcome::Accepted);
    let inv = rt.next_invocation().unwrap();
    let out = rt
        .respond_streaming(&inv.context, "text/plain", |w| {
            w.write_all(b"hello ").unwrap();
            w.write_all(b"world").unwrap();
            Err(ErrorReport::new("Function.Oops", "late"))
        })
        .unwrap();
    assert_eq!(out, Outcome::Accepted);
    drop(rt);
    let reqs = srv.requests();
    assert_eq!(reqs[0].path, "/2018-06-01/runtime/init/error");
    assert_eq!(
        reqs[0].header("Lambda-Runtime-Function-Error-Type"),
        Some("Runtime.ImportModuleError")
    );
    assert_eq!(reqs[0].json()["stackTrace"][0], "line 1");
    let s = &reqs[2];
    assert_eq!(s.body, b"hello world");
    assert_eq!(s.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(
        s.header("Lambda-Runtime-Function-Response-Mode"),
        Some("streaming")
    );
    assert_eq!(s.header("Lambda-Runtime-Invocation-Id"), Some("v"));
    assert_eq!(
        s.header("trailer:Lambda-Runtime-Function-Error-Type"),
        Some("Function.Oops")
    );
    let body = s
        .header("trailer:Lambda-Runtime-Function-Error-Body")
        .unwrap();
    assert_eq!(body, "eyJlcnJvck1lc3NhZ2UiOiJsYXRlIiwiZXJyb3JUeXBlIjoiRnVuY3Rpb24uT29wcyIsInN0YWNrVHJhY2UiOltdfQ==");
}

fn run_example(name: &str, api: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(server::example(name));
    cmd.env_remove("AWS_LAMBDA_RUNTIME_API");
    if let Some(api) = api {
        cmd.env("AWS_LAMBDA_RUNTIME_API", api);
    }
    cmd.output().expect("the example is built by cargo test")
}

fn assert_clean_exit(out: &std::process::Output, want: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("minlambda: ") && stderr.contains(want),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn examples_answer_then_exit_cleanly_on_protocol_failure() {
    let srv = Server::start(|i, _| {
        Some(Step::Reply(match i {
            0 => next("a", b"{\"name\":\"x\"}", ""),
            1 => accepted(),
            2 => next("b", b"[1, 2.5, \"three\"]", ""),
            3 => accepted(),
            4 => b"garbage\r\n\r\n".to_vec(),
            _ => return None,
        }))
    });
    let out = run_example("echo", Some(&srv.addr));
    assert_clean_exit(&out, "bad status line");
    let reqs = srv.requests();
    assert_eq!(reqs[1].body, b"{\"name\":\"x\"}");
    assert_eq!(reqs[3].json(), serde_json::json!([1, 2.5, "three"]));

    for host in ["localhost", "[::1]"] {
        let bind = if host == "localhost" {
            "127.0.0.1:0"
        } else {
            "[::1]:0"
        };
        let Ok(l) = std::net::TcpListener::bind(bind) else {
            continue;
        };
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut r = std::io::BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            std::io::BufRead::read_line(&mut r, &mut line).unwrap();
            s.write_all(&status(500, "ServiceException")).unwrap();
            line
        });
        let out = run_example("hello", Some(&format!("{host}:{port}")));
        assert_clean_exit(&out, "500");
        assert!(t
            .join()
            .unwrap()
            .starts_with("GET /2018-06-01/runtime/invocation/next "));
    }
}

#[test]
fn examples_exit_cleanly_without_a_runtime_api() {
    assert_clean_exit(&run_example("echo", None), "AWS_LAMBDA_RUNTIME_API");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    assert_clean_exit(&run_example("echo", Some(&addr)), "cannot connect");
    assert_clean_exit(
        &run_example("echo", Some("no-such-host.invalid:9001")),
        "cannot connect",
    );
}

#[test]
fn hello_and_tokio_examples() {
    let srv = serve_events(vec![b"{\"name\":\"world\"}".to_vec(), b"{}".to_vec()]);
    assert_clean_exit(&run_example("hello", Some(&srv.addr)), "GET /next");
    let reqs = srv.requests();
    assert_eq!(reqs[1].json(), "Hello, world!");
    assert_eq!(reqs[3].json()["errorType"], "Runtime.UnmarshalError");

    let srv = serve_events(vec![b"{\"k\":1}".to_vec()]);
    run_example("tokio", Some(&srv.addr));
    let reqs = srv.requests();
    assert_eq!(
        reqs[1].json(),
        serde_json::json!({"event": {"k": 1}, "requestId": "id-0"})
    );
}
