//! The 2020 crate, `minlambda` 0.2.0: any JSON value in, the same value out.

fn main() {
    minlambda020::run_ok(|event: serde_json::Value| event)
}
