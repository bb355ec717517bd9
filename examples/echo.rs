//! Returns the event as it came: any JSON value in, the same value out.

fn main() {
    minlambda::run_ok(|event: serde_json::Value| event)
}
